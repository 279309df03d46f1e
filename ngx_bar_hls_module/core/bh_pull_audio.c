
/*
 * ngx_bar_hls_module media core: the camera's audio in the pull thread.
 *
 * audio=auto copies AAC and transcodes anything else to AAC-LC
 * (bh_audio.c), audio=copy copies AAC and drops the rest, audio=aac
 * transcodes everything, audio=off drops it.  What cannot be carried or
 * transcoded is dropped, and the camera streams its video alone.
 */


#include <libavformat/avformat.h>

#include "bh_pull_audio.h"


static bh_status_t bh_pull_audio_packet(void *data, AVPacket *pkt);


bh_status_t
bh_pull_audio_open(bh_pull_audio_t *pa, bh_audio_mode_t mode, AVStream *as,
    char *msg, size_t msglen)
{
    int                       aac;
    char                      err[128];
    bh_status_t               st;
    const AVCodecParameters  *par;

    pa->audio = NULL;
    pa->index = -1;
    pa->par = NULL;
    msg[0] = '\0';

    if (as == NULL || mode == BH_AUDIO_OFF) {
        return BH_OK;
    }

    par = as->codecpar;
    aac = (par->codec_id == AV_CODEC_ID_AAC);

    if (aac && mode != BH_AUDIO_AAC) {
        pa->index = as->index;
        pa->par = par;
        pa->tb = as->time_base;
        return BH_OK;
    }

    if (mode == BH_AUDIO_COPY) {
        snprintf(msg, msglen, "audio %s is not AAC and audio=copy: "
                 "streaming video only", avcodec_get_name(par->codec_id));
        return BH_OK;
    }

    err[0] = '\0';

    st = bh_audio_create(&pa->audio, par, as->time_base.num,
                         as->time_base.den, as->index, err, sizeof(err));

    if (st == BH_NOMEM) {
        return st;
    }

    if (st != BH_OK) {
        snprintf(msg, msglen, "audio %s cannot be transcoded (%s): "
                 "streaming video only", avcodec_get_name(par->codec_id),
                 err);
        return BH_OK;
    }

    pa->index = as->index;
    pa->par = bh_audio_params(pa->audio);
    pa->tb = (AVRational) { 1, pa->par->sample_rate };

    snprintf(msg, msglen, "audio %s %d Hz, %d channel(s), transcoded to "
             "AAC-LC %d Hz", avcodec_get_name(par->codec_id),
             par->sample_rate, par->ch_layout.nb_channels,
             pa->par->sample_rate);

    return BH_OK;
}


/* a packet of the audio stream: to the segmenter, transcoded or not */

bh_status_t
bh_pull_audio_write(bh_pull_audio_t *pa, bh_segmenter_t *sg, AVPacket *pkt,
    int64_t wallclock, char *err, size_t errlen)
{
    if (pa->audio == NULL) {
        return bh_segmenter_write(sg, pkt, wallclock, err, errlen);
    }

    pa->sg = sg;
    pa->wallclock = wallclock;
    pa->err = err;
    pa->errlen = errlen;

    return bh_audio_write(pa->audio, pkt, bh_pull_audio_packet, pa);
}


static bh_status_t
bh_pull_audio_packet(void *data, AVPacket *pkt)
{
    bh_pull_audio_t  *pa = data;

    return bh_segmenter_write(pa->sg, pkt, pa->wallclock, pa->err,
                              pa->errlen);
}


/* the end of the session: what the encoder still holds */

void
bh_pull_audio_close(bh_pull_audio_t *pa, bh_segmenter_t *sg)
{
    char  err[128];

    if (pa->audio == NULL) {
        return;
    }

    if (sg != NULL) {
        pa->sg = sg;
        pa->wallclock = bh_wallclock();
        pa->err = err;
        pa->errlen = sizeof(err);

        (void) bh_audio_flush(pa->audio, bh_pull_audio_packet, pa);
    }

    bh_audio_destroy(pa->audio);
    pa->audio = NULL;
}
