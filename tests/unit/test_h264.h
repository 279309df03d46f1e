
/*
 * Unit tests of the segmenter fed made-up H.264: what test_holes.c and
 * test_ts_audio.c share (each is a program of its own).
 */


#ifndef _TEST_H264_H_INCLUDED_
#define _TEST_H264_H_INCLUDED_


#include <string.h>

#include <libavformat/avformat.h>


/* SPS and PPS of a 320x240 stream made by x264 */

static const uint8_t  test_sps[] = {
    0x67, 0x64, 0x00, 0x0d, 0xac, 0xb2, 0x02, 0x83, 0xf6, 0x02, 0x20, 0x00,
    0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x06, 0x41, 0xe2, 0x85, 0x49
};

static const uint8_t  test_pps[] = { 0x68, 0xeb, 0xc3, 0xcb, 0x22, 0xc0 };


/* H.264 codec parameters with the SPS and PPS above in Annex B */

static inline AVCodecParameters *
test_h264_par(void)
{
    size_t              n;
    uint8_t            *p;
    AVCodecParameters  *par;

    par = avcodec_parameters_alloc();
    if (par == NULL) {
        return NULL;
    }

    n = 8 + sizeof(test_sps) + sizeof(test_pps);

    p = av_mallocz(n + AV_INPUT_BUFFER_PADDING_SIZE);
    if (p == NULL) {
        avcodec_parameters_free(&par);
        return NULL;
    }

    memcpy(p, "\0\0\0\1", 4);
    memcpy(p + 4, test_sps, sizeof(test_sps));
    memcpy(p + 4 + sizeof(test_sps), "\0\0\0\1", 4);
    memcpy(p + 8 + sizeof(test_sps), test_pps, sizeof(test_pps));

    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = AV_CODEC_ID_H264;
    par->extradata = p;
    par->extradata_size = (int) n;

    return par;
}


#endif /* _TEST_H264_H_INCLUDED_ */
