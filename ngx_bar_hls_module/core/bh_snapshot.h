
/*
 * ngx_bar_hls_module media core: snapshots, JPEG pictures of a camera's
 * keyframes.
 *
 * bh_jpeg_*: one keyframe decoded with libavcodec (H.264, H.265, any
 * decoder libavcodec has), scaled with libswscale and encoded with the
 * mjpeg encoder, in full size and in the widths of BH_SNAPSHOT_WIDTHS
 * that are narrower than the picture.
 *
 * bh_snapper_*: a thread that does that off the event loop, at most once
 * per interval and only while someone wants pictures: the camera's owner
 * offers the parts that start with a keyframe as it publishes them (an
 * fMP4 part with its init segment, or an MPEG-TS part), and the thread
 * demuxes the keyframe from a copy.  Nothing is copied, nor any thread
 * started, while nobody wants pictures.
 */


#ifndef _BH_SNAPSHOT_H_INCLUDED_
#define _BH_SNAPSHOT_H_INCLUDED_


#include "bh_media.h"
#include "bh_store.h"


#define BH_SNAPSHOT_ALL         ((1u << BH_SNAPSHOT_SIZES) - 1)

/* bounds: what the decoder takes, and the widest picture made */
#define BH_SNAPSHOT_MAX_PIXELS  (7680 * 4320)
#define BH_SNAPSHOT_MAX_WIDTH   3840


/* the pictures of one keyframe (malloc()ed) */

typedef struct {
    bh_picture_t        pictures[BH_SNAPSHOT_SIZES];
    int64_t             time;           /* the keyframe's, usec (epoch) */
} bh_snapshot_t;


struct AVCodecParameters;
struct AVPacket;


typedef struct bh_jpeg_s  bh_jpeg_t;

/*
 * The first video keyframe of a file in memory (an fMP4 init segment and
 * part, or MPEG-TS), with its stream's parameters.  BH_NOTFOUND: none.
 */
bh_status_t bh_jpeg_demux(const uint8_t *data, size_t len,
    struct AVCodecParameters *par, struct AVPacket *pkt);

/* NULL: no decoder for the codec, or no memory */
bh_jpeg_t *bh_jpeg_create(const struct AVCodecParameters *par);

/*
 * Decodes the keyframe pkt and makes the pictures of mask (bit i: size
 * i); a width not narrower than the picture is not made, the full
 * picture is instead.  BH_INVALID: pkt does not decode.
 */
bh_status_t bh_jpeg_make(bh_jpeg_t *j, const struct AVPacket *pkt,
    unsigned mask, bh_snapshot_t *out, char *err, size_t errlen);

void bh_jpeg_destroy(bh_jpeg_t *j);

void bh_snapshot_free(bh_snapshot_t *snap);

/* the size index of "width=N" (0 for no arguments), -1: not allowed */
int bh_snapshot_index(const char *args, size_t len);

/* the width of size index i, 0 for the full picture */
uint32_t bh_snapshot_width(int i);


typedef struct bh_snapper_s  bh_snapper_t;

/* called from the snapper's thread; the receiver owns snap's pictures */
typedef void (*bh_snapshot_handler_pt)(void *data, bh_snapshot_t *snap);

bh_snapper_t *bh_snapper_create(int64_t interval,
    bh_snapshot_handler_pt handler, void *data);

/*
 * A part that starts with a keyframe, of the sizes in mask (0: none is
 * wanted, and the offer costs nothing), taken if the last one was taken
 * an interval ago (an eighth less, for keyframes that come a little
 * early) and the thread is idle.  init: the fMP4 init segment
 * (NULL for MPEG-TS).  wallclock: the part's, usec since the epoch.
 */
void bh_snapper_offer(bh_snapper_t *sn, unsigned mask, const uint8_t *init,
    size_t init_len, const uint8_t *part, size_t part_len, int64_t wallclock);

/* waits until what was offered is made (tests) */
void bh_snapper_drain(bh_snapper_t *sn);

/* pictures made, parts that gave none */
uint64_t bh_snapper_made(bh_snapper_t *sn, uint64_t *failed);

/* stops and joins its thread */
void bh_snapper_destroy(bh_snapper_t *sn);


#endif /* _BH_SNAPSHOT_H_INCLUDED_ */
