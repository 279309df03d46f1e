
/*
 * ngx_bar_hls_module media core: the camera's audio in the pull thread,
 * copied or transcoded as audio= says (bh_pull_audio.c).
 */


#ifndef _BH_PULL_AUDIO_H_INCLUDED_
#define _BH_PULL_AUDIO_H_INCLUDED_


#include <libavformat/avformat.h>

#include "bh_media.h"
#include "bh_audio.h"


typedef struct {
    bh_audio_t                 *audio;  /* transcoder, NULL: copied */
    int                         index;  /* input stream, -1: none */
    const AVCodecParameters    *par;    /* what the segmenter gets */
    AVRational                  tb;

    /* for the transcoder's packets, during bh_pull_audio_write() */
    bh_segmenter_t             *sg;
    int64_t                     wallclock;
    char                       *err;
    size_t                      errlen;
} bh_pull_audio_t;


/*
 * Chooses for the camera's audio stream as (NULL: none): pa->index -1
 * when it is dropped, and msg says why, or what is transcoded.
 */
bh_status_t bh_pull_audio_open(bh_pull_audio_t *pa, bh_audio_mode_t mode,
    AVStream *as, char *msg, size_t msglen);

bh_status_t bh_pull_audio_write(bh_pull_audio_t *pa, bh_segmenter_t *sg,
    AVPacket *pkt, int64_t wallclock, char *err, size_t errlen);

/* sg: where what the encoder still holds goes (NULL: nowhere) */
void bh_pull_audio_close(bh_pull_audio_t *pa, bh_segmenter_t *sg);


#endif /* _BH_PULL_AUDIO_H_INCLUDED_ */
