
/*
 * ngx_bar_hls_module media core: audio that browsers play.
 *
 * Browsers play AAC from HLS, not what many cameras send (G.711 A-law
 * and mu-law, Opus in TS, ...).  A bh_audio_t decodes whatever the
 * camera sends with libavcodec, resamples it with libswresample and
 * encodes AAC-LC with libavcodec's native "aac" encoder, on the camera's
 * timeline.  AAC from the camera does not come here: it is copied.
 */


#ifndef _BH_AUDIO_H_INCLUDED_
#define _BH_AUDIO_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "bh_media.h"


/*
 * Timestamps.  Output timestamps count samples from an anchor, the
 * first input timestamp: sample-accurate, no rounding that adds up.
 * Each decoded frame's timestamp is compared with where the count says
 * it belongs:
 *
 *   within BH_AUDIO_SLACK (30 ms)      the count is kept (jitter of the
 *                                      camera's clock, RTCP corrections)
 *   late by up to BH_AUDIO_MAX_FILL    the gap is filled with silence
 *   (500 ms)                           (lost packets)
 *   early by up to BH_AUDIO_MAX_FILL   the part already played is cut
 *   anything further, either way       a new anchor at the frame's own
 *                                      timestamp (the camera restarted
 *                                      its clock); the segmenter deals
 *                                      with that jump as with video's
 *
 * so the output never strays more than BH_AUDIO_SLACK from the camera's
 * own timestamps, which it shares with the video: the drift between
 * audio and video stays under 30 ms however long the stream runs.  A
 * reconnect starts a new bh_audio_t, anchored on the new session's
 * first timestamp.  The packets that come out are stamped, as libavcodec
 * does, with the encoder's priming delay (1024 samples) subtracted: a
 * decoder's output lines up with the input without an edit list.
 */

#define BH_AUDIO_SLACK          (30 * 1000)         /* usec */
#define BH_AUDIO_MAX_FILL       (500 * 1000)        /* usec */

/* what a hostile camera may send at the most */
#define BH_AUDIO_MAX_PACKET     65536               /* bytes */
#define BH_AUDIO_MAX_CHANNELS   8
#define BH_AUDIO_MIN_RATE       4000
#define BH_AUDIO_MAX_RATE       192000


typedef struct bh_audio_s  bh_audio_t;

typedef struct {
    int64_t             packets;        /* given to bh_audio_write() */
    int64_t             errors;         /* refused by the decoder */
    int64_t             frames;         /* AAC packets out */
    int64_t             samples;        /* decoded, at the input rate */
    int64_t             filled;         /* silent samples, output rate */
    int64_t             dropped;        /* input samples cut or refused */
    int64_t             anchors;        /* new anchors after the first */
} bh_audio_stats_t;


struct AVCodecParameters;
struct AVPacket;

/* each AAC packet; the packet is the transcoder's, valid for the call */
typedef bh_status_t (*bh_audio_handler_pt)(void *data,
    struct AVPacket *pkt);


/*
 * in: the camera's stream, its packets' time base and the stream index
 * given to the AAC packets.  BH_UNSUPPORTED: nothing here decodes it.
 */
bh_status_t bh_audio_create(bh_audio_t **audio,
    const struct AVCodecParameters *in, int tb_num, int tb_den,
    int stream_index, char *err, size_t errlen);

/*
 * What comes out: AAC-LC with its AudioSpecificConfig in extradata, at
 * the output rate, in a time base of 1 / sample_rate.
 */
const struct AVCodecParameters *bh_audio_params(bh_audio_t *a);

/*
 * Decodes pkt and hands every AAC packet ready to handler.  Garbage
 * is counted in the stats and skipped; only running out of memory or
 * the handler's own error stop it.
 */
bh_status_t bh_audio_write(bh_audio_t *a, const struct AVPacket *pkt,
    bh_audio_handler_pt handler, void *data);

/* the end of the stream: what is left, padded with silence */
bh_status_t bh_audio_flush(bh_audio_t *a, bh_audio_handler_pt handler,
    void *data);

const bh_audio_stats_t *bh_audio_stats(bh_audio_t *a);

void bh_audio_destroy(bh_audio_t *a);


#endif /* _BH_AUDIO_H_INCLUDED_ */
