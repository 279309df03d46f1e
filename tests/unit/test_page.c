
/*
 * Unit tests of the pages (TAP, run by prove): core/bh_page.c fills the
 * templates of bh_page_html.c.  Values from the configuration are
 * escaped wherever they land, no placeholder is left, a buffer too small
 * gets what fits and not a byte more (AddressSanitizer watches), and
 * the state reads as a person would say it.
 */


#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bh_media.h"
#include "bh_page.h"
#include "tap.h"


static char *render_overview(const bh_page_conf_t *conf,
    const bh_page_camera_t *cams, size_t n, size_t *len);
static void cameras(bh_page_camera_t *cams, int64_t now);
static void test_overview(void);
static void test_player(void);
static void test_json(void);
static void test_small(void);


int
main(int argc, char **argv)
{
    test_overview();
    test_player();
    test_json();
    test_small();

    return tap_done();
}


static void
cameras(bh_page_camera_t *cams, int64_t now)
{
    memset(cams, 0, 3 * sizeof(bh_page_camera_t));

    cams[0].name = "ale";
    cams[0].name_len = 3;
    cams[0].state = BH_STATE_STREAMING;
    cams[0].since = now - 100;
    cams[0].offline_since = now - 200;
    cams[0].newest = now * 1000 - 50;
    cams[0].width = 640;
    cams[0].height = 360;

    cams[1].name = "door-2";
    cams[1].name_len = 6;
    cams[1].state = BH_STATE_BACKOFF;
    cams[1].since = now - 3;
    cams[1].offline_since = 1796163000;     /* 2026-12-01 22:10:00 UTC */

    cams[2].name = "new_one";
    cams[2].name_len = 7;
    cams[2].state = BH_STATE_CONNECTING;
    cams[2].since = now - 1;
    cams[2].offline_since = now - 2;
}


static char *
render_overview(const bh_page_conf_t *conf, const bh_page_camera_t *cams,
    size_t n, size_t *len)
{
    char    *buf;
    size_t   need, got;

    need = bh_page_overview(NULL, 0, conf, cams, n);

    buf = malloc(need + 1);
    if (buf == NULL) {
        return NULL;
    }

    got = bh_page_overview(buf, need, conf, cams, n);
    buf[need] = '\0';

    ok(got == need, "overview: %zu bytes measured, %zu written", need, got);

    *len = need;

    return buf;
}


static void
test_overview(void)
{
    char              *html;
    size_t             len;
    int64_t            now;
    bh_page_conf_t     conf;
    bh_page_camera_t   cams[3];

    now = bh_wallclock() / BH_USEC;
    cameras(cams, now);

    memset(&conf, 0, sizeof(conf));
    conf.title = "Bars <b>&amp; \"lines\"</b> 'tonight'";
    conf.title_len = strlen(conf.title);

    html = render_overview(&conf, cams, 3, &len);
    if (html == NULL) {
        ok(0, "overview: rendered");
        return;
    }

    ok(strncmp(html, "<!doctype html>\n", 16) == 0, "overview: a document");
    ok(strstr(html, "</html>\n") == html + len - 8, "overview: a whole one");
    ok(strstr(html, "{{") == NULL && strstr(html, "}}") == NULL,
       "overview: no placeholder left");
    ok(strstr(html, "<title>Bars &lt;b&gt;&amp;amp; &quot;lines&quot;"
                    "&lt;/b&gt; &#39;tonight&#39;</title>") != NULL,
       "overview: the title escaped");
    ok(strstr(html, "<b>") == NULL, "overview: no markup of the title");
    ok(strstr(html, "href=\"ale/\"") && strstr(html, "href=\"door-2/\"")
       && strstr(html, "href=\"new_one/\""),
       "overview: a link to every camera's page");
    ok(strstr(html, "src=\"ale/snapshot.jpg?width=640\"") != NULL,
       "overview: a camera's snapshot");
    ok(strstr(html, "aspect-ratio:640/360") != NULL
       && strstr(html, "aspect-ratio:16/9") != NULL,
       "overview: the camera's shape, 16:9 when unknown");
    ok(strstr(html, "data-cam=\"ale\" data-live=\"1\"") != NULL
       && strstr(html, "data-cam=\"door-2\" data-live=\"0\"") != NULL,
       "overview: live and offline cameras marked");
    ok(strstr(html, "<span class=\"state\">live</span>") != NULL,
       "overview: \"live\"");
    ok(strstr(html, "<span class=\"state\">offline since <time datetime=\""
                    "2026-12-01T22:10:00Z\">22:10 UTC</time></span>") != NULL,
       "overview: \"offline since\" the time it was last seen");
    ok(strstr(html, "<span class=\"state\">connecting</span>") != NULL,
       "overview: a camera just started is \"connecting\"");
    ok(strstr(html, "http://") == NULL && strstr(html, "https://") == NULL
       && strstr(html, "//fonts") == NULL,
       "overview: nothing from another site");
    free(html);

    conf.title = NULL;
    conf.title_len = 0;

    html = render_overview(&conf, cams, 0, &len);
    ok(html != NULL && strstr(html, "<title>Live cameras</title>") != NULL
       && strstr(html, "class=\"cam\"") == NULL,
       "overview: the default title, no camera");
    free(html);

    /* an offline camera of yesterday says its day too (in the page) */

    cams[1].offline_since = now - 3;
    cams[2].offline_since = now - 60;

    html = render_overview(&conf, cams, 3, &len);
    ok(html != NULL && strstr(html, "connecting</span>") == NULL,
       "overview: connecting for a minute is offline");
    free(html);
}


static void
test_player(void)
{
    char              *html;
    size_t             need;
    int64_t            now;
    bh_page_conf_t     conf;
    bh_page_camera_t   cams[3];

    now = bh_wallclock() / BH_USEC;
    cameras(cams, now);

    memset(&conf, 0, sizeof(conf));
    conf.player_js = "https://cdn.example/hls.js@1/hls.min.js?a=1&b=\"x\"";
    conf.player_js_len = strlen(conf.player_js);

    need = bh_page_player(NULL, 0, &conf, &cams[0]);
    html = malloc(need + 1);

    if (html == NULL) {
        ok(0, "player: rendered");
        return;
    }

    ok(bh_page_player(html, need, &conf, &cams[0]) == need,
       "player: %zu bytes", need);
    html[need] = '\0';

    ok(strstr(html, "{{") == NULL, "player: no placeholder left");
    ok(strstr(html, "data-player-js=\"https://cdn.example/hls.js@1/"
                    "hls.min.js?a=1&amp;b=&quot;x&quot;\"") != NULL,
       "player: the script's URL escaped in its attribute");
    ok(strstr(html, "<script src=") == NULL,
       "player: the script is loaded only if needed");
    ok(strstr(html, "data-cam=\"ale\"") != NULL
       && strstr(html, "<title>ale &middot; Live cameras</title>") != NULL,
       "player: the camera's");
    ok(strstr(html, "hls.loadSource(\"master.m3u8\")") != NULL
       && strstr(html, "video.src = \"master.m3u8\"") != NULL,
       "player: plays the multivariant playlist, native or with hls.js");
    ok(strstr(html, "poster=\"snapshot.jpg?width=640\"") != NULL,
       "player: the snapshot as the poster");
    ok(strstr(html, "href=\"../\"") != NULL, "player: back to the overview");
    free(html);

    conf.player_js = NULL;
    conf.player_js_len = 0;

    need = bh_page_player(NULL, 0, &conf, &cams[1]);
    html = malloc(need + 1);

    if (html != NULL) {
        (void) bh_page_player(html, need, &conf, &cams[1]);
        html[need] = '\0';
    }

    ok(html != NULL && strstr(html, "data-player-js=\"\"") != NULL
       && strstr(html, "data-live=\"0\"") != NULL,
       "player: no script configured, an offline camera");
    free(html);
}


static void
test_json(void)
{
    char              *json;
    size_t             need;
    bh_page_camera_t   cams[3];

    cameras(cams, 1796163600);
    cams[2].name = "a\"b</x>";
    cams[2].name_len = strlen(cams[2].name);

    need = bh_page_json(NULL, 0, cams, 3, INT64_C(1796163600123456));
    json = malloc(need + 1);

    if (json == NULL) {
        ok(0, "json: rendered");
        return;
    }

    ok(bh_page_json(json, need, cams, 3, INT64_C(1796163600123456)) == need,
       "json: %zu bytes", need);
    json[need] = '\0';

    ok(strstr(json, "{\"now\": 1796163600123, \"cameras\": [{\"name\": "
                    "\"ale\", \"state\": \"streaming\", \"live\": true, "
                    "\"since\": 1796163500, \"offline_since\": 1796163400, "
                    "\"newest\": 1796163599950, \"width\": 640, "
                    "\"height\": 360}, ") == json,
       "json: the first camera: %.200s", json);
    ok(strstr(json, "\"name\": \"door-2\", \"state\": \"backoff\", "
                    "\"live\": false") != NULL, "json: an offline camera");
    ok(strstr(json, "\"a\\u0022b\\u003c/x\\u003e\"") != NULL,
       "json: a name escaped (%s)", strstr(json, "\"a\\") ? "" : json);
    ok(strcmp(json + need - 3, "]}\n") == 0, "json: the end");
    free(json);
}


/* a buffer too small takes what fits, and the length is still told */

static void
test_small(void)
{
    char              *full, *part;
    size_t             need, cut, i, bad;
    int64_t            now;
    bh_page_conf_t     conf;
    bh_page_camera_t   cams[3];

    now = bh_wallclock() / BH_USEC;
    cameras(cams, now);
    memset(&conf, 0, sizeof(conf));

    need = bh_page_overview(NULL, 0, &conf, cams, 3);
    full = malloc(need);
    bad = 0;

    if (full == NULL) {
        ok(0, "small: rendered");
        return;
    }

    (void) bh_page_overview(full, need, &conf, cams, 3);

    for (cut = 0; cut < need; cut += 97) {
        part = malloc(cut ? cut : 1);

        if (part == NULL || bh_page_overview(part, cut, &conf, cams, 3)
                            != need)
        {
            bad++;

        } else {
            for (i = 0; i < cut; i++) {
                if (part[i] != full[i]) {
                    bad++;
                    break;
                }
            }
        }

        free(part);
    }

    ok(bad == 0, "small: every cut buffer holds the page's start (%zu bad)",
       bad);
    free(full);
}
