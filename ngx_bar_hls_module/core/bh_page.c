
/*
 * ngx_bar_hls_module media core: the pages, filled in.
 *
 * The templates (bh_page_html.c) name their values {{key}}; each value
 * is written escaped for HTML text and attributes, but for the state's
 * label, made here of digits and fixed words.  Camera names are
 * [A-Za-z0-9_-] already; the title and the player script's URL come
 * from the configuration and may hold anything.
 */


#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bh_page_int.h"


#define BH_PAGE_DEFAULT_TITLE   "Live cameras"
#define BH_PAGE_CONNECTING      15      /* sec: then "offline since" */
#define BH_PAGE_LABEL_LEN       160


typedef struct {
    char               *buf;
    size_t              len;
    size_t              n;              /* written, or that would be */
} bh_out_t;


typedef struct {
    const char         *key;
    const char         *value;
    size_t              len;
    unsigned            raw:1;          /* already HTML */
} bh_var_t;


static void bh_out(bh_out_t *o, const char *s, size_t len);
static void bh_out_html(bh_out_t *o, const char *s, size_t len);
static void bh_out_json(bh_out_t *o, const char *s, size_t len);
static void bh_template(bh_out_t *o, const char *tpl, const bh_var_t *vars,
    size_t nvars);
static size_t bh_label(const bh_page_camera_t *cam, int64_t now, char *buf,
    size_t len);
static size_t bh_camera_vars(const bh_page_camera_t *cam,
    const bh_page_conf_t *conf, int64_t now, bh_var_t *vars, char *label,
    char (*size)[12]);


int
bh_page_live(bh_state_t state)
{
    return state == BH_STATE_STREAMING || state == BH_STATE_LIMITED;
}


size_t
bh_page_overview(char *buf, size_t len, const bh_page_conf_t *conf,
    const bh_page_camera_t *cams, size_t n)
{
    char       label[BH_PAGE_LABEL_LEN], size[2][12];
    size_t     i, nvars;
    int64_t    now;
    bh_out_t   o;
    bh_var_t   vars[8];

    o.buf = buf;
    o.len = len;
    o.n = 0;

    now = conf->now ? conf->now : bh_wallclock() / BH_USEC;

    nvars = bh_camera_vars(NULL, conf, now, vars, label, size);
    bh_template(&o, bh_page_overview_head, vars, nvars);

    for (i = 0; i < n; i++) {
        nvars = bh_camera_vars(&cams[i], conf, now, vars, label, size);
        bh_template(&o, bh_page_overview_card, vars, nvars);
    }

    bh_out(&o, bh_page_overview_tail, strlen(bh_page_overview_tail));

    return o.n;
}


size_t
bh_page_player(char *buf, size_t len, const bh_page_conf_t *conf,
    const bh_page_camera_t *cam)
{
    char       label[BH_PAGE_LABEL_LEN], size[2][12];
    size_t     nvars;
    bh_out_t   o;
    bh_var_t   vars[8];

    o.buf = buf;
    o.len = len;
    o.n = 0;

    nvars = bh_camera_vars(cam, conf,
                           conf->now ? conf->now : bh_wallclock() / BH_USEC,
                           vars, label, size);
    bh_template(&o, bh_page_player_html, vars, nvars);

    return o.n;
}


size_t
bh_page_json(char *buf, size_t len, const bh_page_camera_t *cams, size_t n,
    int64_t now)
{
    char       num[160];
    size_t     i;
    bh_out_t   o;

    o.buf = buf;
    o.len = len;
    o.n = 0;

    snprintf(num, sizeof(num), "{\"now\": %" PRId64 ", \"cameras\": [",
             now / 1000);
    bh_out(&o, num, strlen(num));

    for (i = 0; i < n; i++) {
        bh_out(&o, i ? ", {\"name\": \"" : "{\"name\": \"",
               i ? sizeof(", {\"name\": \"") - 1 : sizeof("{\"name\": \"") - 1);
        bh_out_json(&o, cams[i].name, cams[i].name_len);

        snprintf(num, sizeof(num), "\", \"state\": \"%s\", \"live\": %s, "
                 "\"since\": %" PRId64 ", \"offline_since\": %" PRId64 ", "
                 "\"newest\": %" PRId64 ", \"width\": %" PRIu32 ", "
                 "\"height\": %" PRIu32 "}",
                 bh_state_text(cams[i].state),
                 bh_page_live(cams[i].state) ? "true" : "false",
                 cams[i].since, cams[i].offline_since, cams[i].newest,
                 cams[i].width, cams[i].height);
        bh_out(&o, num, strlen(num));
    }

    bh_out(&o, "]}\n", sizeof("]}\n") - 1);

    return o.n;
}


/* the values of a page about cam (NULL: the overview's own) */

static size_t
bh_camera_vars(const bh_page_camera_t *cam, const bh_page_conf_t *conf,
    int64_t now, bh_var_t *vars, char *label, char (*size)[12])
{
    size_t       n;
    uint32_t     width, height;
    const char  *js;

    n = 0;

    vars[n].key = "title";
    vars[n].raw = 0;

    if (conf->title != NULL && conf->title_len > 0) {
        vars[n].value = conf->title;
        vars[n++].len = conf->title_len;

    } else {
        vars[n].value = BH_PAGE_DEFAULT_TITLE;
        vars[n++].len = sizeof(BH_PAGE_DEFAULT_TITLE) - 1;
    }

    js = (conf->player_js != NULL) ? conf->player_js : "";

    vars[n].key = "js";
    vars[n].value = js;
    vars[n].len = (conf->player_js != NULL) ? conf->player_js_len : 0;
    vars[n++].raw = 0;

    if (cam == NULL) {
        return n;
    }

    vars[n].key = "name";
    vars[n].value = cam->name;
    vars[n].len = cam->name_len;
    vars[n++].raw = 0;

    vars[n].key = "live";
    vars[n].value = bh_page_live(cam->state) ? "1" : "0";
    vars[n].len = 1;
    vars[n++].raw = 0;

    vars[n].key = "label";
    vars[n].value = label;
    vars[n].len = bh_label(cam, now, label, BH_PAGE_LABEL_LEN);
    vars[n++].raw = 1;

    /* the picture's shape until it loads: 16:9 before the camera says */

    width = (cam->width > 0 && cam->height > 0) ? cam->width : 16;
    height = (cam->width > 0 && cam->height > 0) ? cam->height : 9;

    vars[n].key = "width";
    vars[n].value = size[0];
    vars[n].len = (size_t) snprintf(size[0], 12, "%" PRIu32, width);
    vars[n++].raw = 0;

    vars[n].key = "height";
    vars[n].value = size[1];
    vars[n].len = (size_t) snprintf(size[1], 12, "%" PRIu32, height);
    vars[n++].raw = 0;

    return n;
}


/* "live", "connecting" or "offline since <time>" */

static size_t
bh_label(const bh_page_camera_t *cam, int64_t now, char *buf, size_t len)
{
    int        n;
    time_t     t;
    struct tm  tm;

    if (bh_page_live(cam->state)) {
        return (size_t) snprintf(buf, len, "live");
    }

    if (cam->state == BH_STATE_CONNECTING
        && now - cam->offline_since < BH_PAGE_CONNECTING)
    {
        return (size_t) snprintf(buf, len, "connecting");
    }

    t = (time_t) cam->offline_since;

    if (gmtime_r(&t, &tm) == NULL) {
        return (size_t) snprintf(buf, len, "offline");
    }

    n = snprintf(buf, len, "offline since <time datetime=\""
                 "%04d-%02d-%02dT%02d:%02d:%02dZ\">%02d:%02d UTC</time>",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, tm.tm_hour, tm.tm_min);

    return (n > 0 && (size_t) n < len) ? (size_t) n : 0;
}


static void
bh_template(bh_out_t *o, const char *tpl, const bh_var_t *vars,
    size_t nvars)
{
    size_t       i, klen;
    const char  *p, *end;

    for ( ;; ) {
        p = strstr(tpl, "{{");

        if (p == NULL) {
            bh_out(o, tpl, strlen(tpl));
            return;
        }

        bh_out(o, tpl, p - tpl);

        end = strstr(p + 2, "}}");

        if (end == NULL) {
            bh_out(o, p, strlen(p));
            return;
        }

        klen = end - (p + 2);

        for (i = 0; i < nvars; i++) {
            if (strlen(vars[i].key) == klen
                && memcmp(vars[i].key, p + 2, klen) == 0)
            {
                break;
            }
        }

        /* a key this page has no value for stays empty */

        if (i < nvars) {
            if (vars[i].raw) {
                bh_out(o, vars[i].value, vars[i].len);

            } else {
                bh_out_html(o, vars[i].value, vars[i].len);
            }
        }

        tpl = end + 2;
    }
}


static void
bh_out(bh_out_t *o, const char *s, size_t len)
{
    size_t  room;

    if (o->buf != NULL && o->n < o->len) {
        room = o->len - o->n;
        memcpy(o->buf + o->n, s, len < room ? len : room);
    }

    o->n += len;
}


/* for text and for attributes in double or single quotes */

static void
bh_out_html(bh_out_t *o, const char *s, size_t len)
{
    size_t       i, from;
    const char  *e;

    for (i = 0, from = 0; i < len; i++) {

        switch (s[i]) {

        case '&':
            e = "&amp;";
            break;

        case '<':
            e = "&lt;";
            break;

        case '>':
            e = "&gt;";
            break;

        case '"':
            e = "&quot;";
            break;

        case '\'':
            e = "&#39;";
            break;

        default:
            continue;
        }

        bh_out(o, s + from, i - from);
        bh_out(o, e, strlen(e));
        from = i + 1;
    }

    bh_out(o, s + from, len - from);
}


/* a JSON string's content: quotes, backslashes, controls, "</" */

static void
bh_out_json(bh_out_t *o, const char *s, size_t len)
{
    char           esc[8];
    size_t         i, from;
    unsigned char  c;

    for (i = 0, from = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>') {
            continue;
        }

        bh_out(o, s + from, i - from);
        snprintf(esc, sizeof(esc), "\\u%04x", c);
        bh_out(o, esc, 6);
        from = i + 1;
    }

    bh_out(o, s + from, len - from);
}
