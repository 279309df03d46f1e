
/*
 * ngx_bar_hls_module media core: HLS media playlist writer.
 */


#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bh_media.h"


typedef struct {
    char    *buf;
    size_t   len;
    size_t   pos;
    int      overflow;
} bh_writer_t;


static void bh_printf(bh_writer_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bh_print_pdt(bh_writer_t *w, int64_t wallclock);
static int64_t bh_target_duration(const bh_playlist_t *pl);


size_t
bh_playlist_size(const bh_playlist_t *pl)
{
    size_t  per;

    per = 220 + strlen(pl->segment_prefix) + strlen(pl->segment_ext)
          + strlen(pl->init_prefix) + strlen(pl->init_ext);

    return 256 + pl->nsegments * per;
}


size_t
bh_playlist_write(const bh_playlist_t *pl, char *buf, size_t len)
{
    size_t                  i;
    bh_writer_t             w;
    bh_playlist_segment_t  *s;

    w.buf = buf;
    w.len = len;
    w.pos = 0;
    w.overflow = 0;

    bh_printf(&w, "#EXTM3U\n"
                  "#EXT-X-VERSION:7\n"
                  "#EXT-X-TARGETDURATION:%" PRId64 "\n"
                  "#EXT-X-MEDIA-SEQUENCE:%" PRIu64 "\n",
              bh_target_duration(pl),
              pl->nsegments ? pl->segments[0].msn : 0);

    if (pl->discontinuity_sequence) {
        bh_printf(&w, "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRIu64 "\n",
                  pl->discontinuity_sequence);
    }

    bh_printf(&w, "#EXT-X-INDEPENDENT-SEGMENTS\n");

    for (i = 0; i < pl->nsegments; i++) {
        s = &pl->segments[i];

        if (s->discontinuity && i > 0) {
            bh_printf(&w, "#EXT-X-DISCONTINUITY\n");
        }

        if (i == 0 || s->init_version != pl->segments[i - 1].init_version) {
            bh_printf(&w, "#EXT-X-MAP:URI=\"%s%" PRIu32 "%s\"\n",
                      pl->init_prefix, s->init_version, pl->init_ext);
        }

        bh_print_pdt(&w, s->wallclock);

        bh_printf(&w, "#EXTINF:%" PRId64 ".%03" PRId64 ",\n%s%" PRIu64 "%s\n",
                  s->duration / BH_USEC, s->duration % BH_USEC / 1000,
                  pl->segment_prefix, s->msn, pl->segment_ext);
    }

    if (w.overflow) {
        return 0;
    }

    return w.pos;
}


static int64_t
bh_target_duration(const bh_playlist_t *pl)
{
    size_t   i;
    int64_t  target, d;

    /* EXTINF rounded to the nearest integer must not exceed the target */

    target = (pl->target + BH_USEC / 2) / BH_USEC;

    for (i = 0; i < pl->nsegments; i++) {
        d = (pl->segments[i].duration + BH_USEC / 2) / BH_USEC;

        if (d > target) {
            target = d;
        }
    }

    return target > 0 ? target : 1;
}


static void
bh_print_pdt(bh_writer_t *w, int64_t wallclock)
{
    time_t     sec;
    struct tm  tm;

    sec = (time_t) (wallclock / BH_USEC);
    gmtime_r(&sec, &tm);

    bh_printf(w, "#EXT-X-PROGRAM-DATE-TIME:%04d-%02d-%02dT%02d:%02d:%02d"
                 ".%03dZ\n",
              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
              tm.tm_hour, tm.tm_min, tm.tm_sec,
              (int) (wallclock % BH_USEC / 1000));
}


static void
bh_printf(bh_writer_t *w, const char *fmt, ...)
{
    int      n;
    va_list  args;

    if (w->overflow) {
        return;
    }

    va_start(args, fmt);
    n = vsnprintf(w->buf + w->pos, w->len - w->pos, fmt, args);
    va_end(args);

    if (n < 0 || (size_t) n >= w->len - w->pos) {
        w->overflow = 1;
        return;
    }

    w->pos += n;
}
