
/*
 * ngx_bar_hls_module media core: the segmenter's insides, shared by
 * bh_segmenter.c (what goes into which part and segment), bh_parts.c
 * (where parts and segments end, the bounds), bh_timeline.c (timestamps)
 * and bh_mux.c (libavformat's muxers).
 */


#ifndef _BH_SEGMENTER_H_INCLUDED_
#define _BH_SEGMENTER_H_INCLUDED_


#include <libavformat/avformat.h>

#include "bh_media.h"
#include "bh_codec.h"


/* bounds on what a camera can make us hold */

#define BH_MAX_FRAME            (8 * 1024 * 1024)   /* one picture */
#define BH_MAX_PIECES           4096        /* packets merged into one */
#define BH_MAX_PART_BYTES       (16 * 1024 * 1024)
#define BH_MAX_PART_SAMPLES     4096        /* video and audio */
#define BH_MAX_AUDIO_PACKET     (64 * 1024)
#define BH_MAX_UNTIMED          16          /* frames before a timestamp */
#define BH_RATE_BURST           4           /* seconds of max_bitrate */
#define BH_SPEED_WINDOW         (10 * BH_USEC)  /* of arrival */
#define BH_SPEED_MAX            10          /* media x real time, either way */


typedef struct {
    int                 index;          /* input stream index, -1: none */
    AVRational          in_tb;
    AVRational          out_tb;
    AVStream           *st;             /* output stream */
    int64_t             offset;         /* out_tb, added to rescaled dts */
    int64_t             last_dts;       /* out_tb, AV_NOPTS_VALUE: none */
    int64_t             last_in_dts;    /* in_tb */
    int64_t             step;           /* out_tb, usual packet duration */
    int64_t             delta;          /* out_tb, the last DTS step */
    int64_t             in_step;        /* in_tb, likewise */
    unsigned            anchored:1;
    unsigned            jumped:1;       /* re-anchored after a jump */
} bh_track_t;


struct bh_segmenter_s {
    bh_segmenter_conf_t     conf;
    bh_chunk_handler_pt     handler;
    void                   *data;

    const bh_video_codec_t *codec;
    AVFormatContext        *oc;
    AVCodecParameters      *vpar;
    AVCodecParameters      *apar;

    bh_track_t              video;
    bh_track_t              audio;

    /* the muxer's output: the init segment, then one part at a time */
    uint8_t                *out;
    size_t                  out_len;
    size_t                  out_cap;
    int                     out_failed;

    AVPacket               *pending;        /* video, waits for duration */
    AVPacket               *audio_held;     /* MPEG-TS: the newest audio */
    unsigned                pending_pieces;

    AVPacket               *untimed[BH_MAX_UNTIMED];
    int64_t                 untimed_wallclock[BH_MAX_UNTIMED];
    unsigned                nuntimed;
    size_t                  untimed_bytes;

    /* max_bitrate, a token bucket in bytes */
    int64_t                 tokens;
    int64_t                 tokens_time;    /* wallclock, usec */

    unsigned                header:1;
    unsigned                part_open:1;
    unsigned                part_independent:1;
    unsigned                part_segment_start:1;
    unsigned                part_carried:1;   /* open, nothing in it yet */
    unsigned                resync:1;       /* dropping until a keyframe */
    unsigned                discontinuity:1;/* on the next part */
    unsigned                part_discontinuity:1;

    int64_t                 part_start;     /* usec, output timeline */
    int64_t                 part_end;       /* of what it holds */
    int64_t                 part_wallclock;
    size_t                  part_bytes;     /* muxed into the open part */
    unsigned                part_samples;
    unsigned                part_frames;    /* video samples of them */
    unsigned                part_audio;     /* audio samples of them */

    /* how fast media time goes by as the camera's frames arrive */
    int64_t                 speed_arrival;  /* usec, window start */
    int64_t                 speed_media;

    /* the wall clock of the media clock's zero, for PROGRAM-DATE-TIME */
    int64_t                 clock;          /* usec */
    int64_t                 clock_target;   /* the earliest arrival's */
    int64_t                 clock_media;    /* media usec, last frame */
    int64_t                 clock_window;   /* media usec, window start */
    int64_t                 clock_min;      /* the window's earliest */
    unsigned                clock_set:1;
    unsigned                segment_parts;  /* parts of the open segment */
    int64_t                 segment_start;  /* usec */
    int64_t                 origin;         /* usec, first video dts */
    int64_t                 frame_usec;     /* the camera's frame duration */
};


/* bh_segmenter.c */

bh_status_t bh_write_video_timed(bh_segmenter_t *sg, AVPacket *pkt,
    int64_t wallclock, char *err, size_t errlen);


/* bh_parts.c */

bh_status_t bh_limit(bh_segmenter_t *sg, char *err, size_t errlen,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
bh_status_t bh_speed(bh_segmenter_t *sg, int64_t media, int64_t arrival,
    char *err, size_t errlen);
bh_status_t bh_cut(bh_segmenter_t *sg, AVPacket *pkt, int key, int64_t now,
    int64_t wallclock, char *err, size_t errlen);
bh_status_t bh_emit_part(bh_segmenter_t *sg, int64_t end);
bh_status_t bh_mux_held_audio(bh_segmenter_t *sg);


/* bh_frames.c */

int bh_over_rate(bh_segmenter_t *sg, int size, int64_t wallclock);
bh_status_t bh_hold_untimed(bh_segmenter_t *sg, AVPacket *pkt, bh_au_t au,
    int64_t wallclock);
bh_status_t bh_release_untimed(bh_segmenter_t *sg, AVPacket *timed,
    int continues, char *err, size_t errlen);
void bh_drop_untimed(bh_segmenter_t *sg);
bh_status_t bh_append(AVPacket *p, const AVPacket *pkt);
bh_status_t bh_new_parameter_sets(bh_segmenter_t *sg, AVPacket *key);


/* bh_timeline.c */

int64_t bh_track_map(bh_track_t *t, AVPacket *pkt, int64_t *origin);
int64_t bh_clock(bh_segmenter_t *sg, int64_t media, int64_t arrival);
int64_t bh_usec(int64_t ts, AVRational tb);


/* bh_mux.c */

bh_status_t bh_mux_header(bh_segmenter_t *sg, AVPacket *key, char *err,
    size_t errlen);
bh_status_t bh_mux_packet(bh_segmenter_t *sg, bh_track_t *t, AVPacket *pkt,
    char *err, size_t errlen);
bh_status_t bh_mux_part(bh_segmenter_t *sg, bh_chunk_t *chunk);
void bh_mux_close(bh_segmenter_t *sg);
void bh_mux_error(char *err, size_t errlen, const char *what, int rc);


#endif /* _BH_SEGMENTER_H_INCLUDED_ */
