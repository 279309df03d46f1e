
/*
 * ngx_bar_hls_module media core: HLS media playlist writer, classic and
 * Low-Latency (RFC 8216bis: EXT-X-PART, EXT-X-PRELOAD-HINT, blocking
 * reload and delta updates).
 *
 * URIs are relative: init-<id>.mp4, seg-<msn>.<ext>, part-<n>.<ext> (parts
 * numbered for the whole stream, not within their segment).
 */


#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bh_media.h"


#define BH_SKIP_TARGETS     6       /* CAN-SKIP-UNTIL, in target durations */


typedef struct {
    char    *buf;
    size_t   len;
    size_t   pos;
    int      overflow;
} bh_writer_t;


static void bh_printf(bh_writer_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bh_print_pdt(bh_writer_t *w, int64_t wallclock);
static void bh_print_parts(bh_writer_t *w, const bh_playlist_t *pl,
    const bh_playlist_segment_t *s);


/* seconds and milliseconds, rounded to the millisecond */
#define bh_sec(usec)   ((usec) + 500) / 1000000, ((usec) + 500) % 1000000 / 1000

/*
 * A part's, down to the millisecond: the segmenter may let a part run
 * past PART-TARGET by less than one (a camera's clock is not exact), and
 * its DURATION must not say more than PART-TARGET.
 */
#define bh_sec_floor(usec)   (usec) / 1000000, (usec) % 1000000 / 1000


size_t
bh_playlist_size(const bh_playlist_t *pl)
{
    size_t  i, n;

    n = 512 + pl->nsegments * 256;

    for (i = 0; i < pl->nsegments; i++) {
        n += pl->segments[i].nparts * 96;
    }

    if (pl->open != NULL) {
        n += 256 + pl->open->nparts * 96;
    }

    return n;
}


size_t
bh_playlist_skippable(const bh_playlist_t *pl)
{
    size_t   i;
    int64_t  rest, until;

    if (pl->part_target == 0) {
        return 0;
    }

    /* keep at least CAN-SKIP-UNTIL of media after the skipped segments */

    until = bh_playlist_target(pl) * BH_USEC * BH_SKIP_TARGETS;
    rest = 0;

    for (i = 0; i < pl->nsegments; i++) {
        rest += pl->segments[i].duration;
    }

    for (i = 0; i < pl->nsegments; i++) {
        if (rest - pl->segments[i].duration < until) {
            break;
        }

        rest -= pl->segments[i].duration;
    }

    return i;
}


size_t
bh_playlist_write(const bh_playlist_t *pl, char *buf, size_t len)
{
    size_t                        i, skipped;
    int64_t                       target;
    const char                   *ext;
    bh_writer_t                   w;
    const bh_playlist_segment_t  *s, *prev;

    w.buf = buf;
    w.len = len;
    w.pos = 0;
    w.overflow = 0;

    ext = (pl->format == BH_FORMAT_FMP4) ? "m4s" : "ts";
    target = bh_playlist_target(pl);

    bh_printf(&w, "#EXTM3U\n"
                  "#EXT-X-VERSION:%d\n"
                  "#EXT-X-TARGETDURATION:%" PRId64 "\n",
              pl->part_target ? 9 : (pl->format == BH_FORMAT_FMP4 ? 7 : 3),
              target);

    if (pl->part_target) {
        bh_printf(&w, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
                      "PART-HOLD-BACK=%" PRId64 ".%03" PRId64 ","
                      "CAN-SKIP-UNTIL=%" PRId64 ".000\n"
                      "#EXT-X-PART-INF:PART-TARGET=%" PRId64 ".%03" PRId64
                      "\n",
                  bh_sec(3 * pl->part_target), target * BH_SKIP_TARGETS,
                  bh_sec(pl->part_target));
    }

    bh_printf(&w, "#EXT-X-MEDIA-SEQUENCE:%" PRIu64 "\n",
              pl->nsegments ? pl->segments[0].msn
                            : (pl->open ? pl->open->msn : 0));

    if (pl->discontinuity_sequence) {
        bh_printf(&w, "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRIu64 "\n",
                  pl->discontinuity_sequence);
    }

    bh_printf(&w, "#EXT-X-INDEPENDENT-SEGMENTS\n");

    skipped = pl->skip ? bh_playlist_skippable(pl) : 0;

    if (skipped) {
        bh_printf(&w, "#EXT-X-SKIP:SKIPPED-SEGMENTS=%zu\n", skipped);
    }

    prev = NULL;

    for (i = skipped; i <= pl->nsegments; i++) {

        if (i == pl->nsegments) {
            s = pl->open;

            if (s == NULL) {
                break;
            }

        } else {
            s = &pl->segments[i];
        }

        if (s->discontinuity && i > 0) {
            bh_printf(&w, "#EXT-X-DISCONTINUITY\n");
        }

        if (pl->format == BH_FORMAT_FMP4
            && (prev == NULL || s->init_id != prev->init_id))
        {
            bh_printf(&w, "#EXT-X-MAP:URI=\"init-%08" PRIx32 ".mp4\"\n",
                      s->init_id);
        }

        bh_print_pdt(&w, s->wallclock);
        bh_print_parts(&w, pl, s);

        if (s != pl->open) {
            bh_printf(&w, "#EXTINF:%" PRId64 ".%03" PRId64 ",\n"
                          "seg-%" PRIu64 ".%s\n",
                      bh_sec(s->duration), s->msn, ext);
        }

        prev = s;
    }

    if (pl->part_target) {

        /* the part that comes next, whichever segment it begins or ends */

        bh_printf(&w, "#EXT-X-PRELOAD-HINT:TYPE=PART,"
                      "URI=\"part-%" PRIu64 ".%s\"\n", pl->hint, ext);
    }

    if (w.overflow) {
        return 0;
    }

    return w.pos;
}


static void
bh_print_parts(bh_writer_t *w, const bh_playlist_t *pl,
    const bh_playlist_segment_t *s)
{
    size_t       i;
    const char  *ext;

    if (pl->part_target == 0 || s->parts == NULL) {
        return;
    }

    ext = (pl->format == BH_FORMAT_FMP4) ? "m4s" : "ts";

    for (i = 0; i < s->nparts; i++) {
        bh_printf(w, "#EXT-X-PART:DURATION=%" PRId64 ".%03" PRId64 ","
                     "URI=\"part-%" PRIu64 ".%s\"%s\n",
                  bh_sec_floor(s->parts[i].duration), s->parts[i].number,
                  ext,
                  s->parts[i].independent ? ",INDEPENDENT=YES" : "");
    }
}


int64_t
bh_playlist_target(const bh_playlist_t *pl)
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


size_t
bh_playlist_multivariant(const bh_variant_t *v, char *buf, size_t len)
{
    bh_writer_t  w;

    w.buf = buf;
    w.len = len;
    w.pos = 0;
    w.overflow = 0;

    bh_printf(&w, "#EXTM3U\n"
                  "#EXT-X-VERSION:7\n"
                  "#EXT-X-INDEPENDENT-SEGMENTS\n"
                  "#EXT-X-STREAM-INF:BANDWIDTH=%" PRIu64
                  ",AVERAGE-BANDWIDTH=%" PRIu64 ",CODECS=\"%s\"",
              v->bandwidth, v->average, v->codecs);

    if (v->width && v->height) {
        bh_printf(&w, ",RESOLUTION=%" PRIu32 "x%" PRIu32, v->width,
                  v->height);
    }

    if (v->frame_rate) {
        bh_printf(&w, ",FRAME-RATE=%" PRIu32 ".%03" PRIu32,
                  v->frame_rate / 1000, v->frame_rate % 1000);
    }

    bh_printf(&w, "\nindex.m3u8\n");

    return w.overflow ? 0 : w.pos;
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
