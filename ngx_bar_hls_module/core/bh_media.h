
/*
 * ngx_bar_hls_module media core.
 *
 * Everything in core/ is free of nginx types: it pulls RTSP with
 * libavformat, cuts the stream into fMP4 parts and segments and writes
 * HLS playlists.  The nginx glue (ngx_http_bar_hls_*.c) owns threads,
 * shared memory and HTTP; tests/unit/test_core.c exercises this API alone.
 */


#ifndef _BH_MEDIA_H_INCLUDED_
#define _BH_MEDIA_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <time.h>


typedef enum {
    BH_OK = 0,
    BH_ERROR,               /* unspecified failure */
    BH_NOMEM,               /* allocation failed */
    BH_INVALID,             /* malformed input or argument */
    BH_UNSUPPORTED,         /* codec or stream layout we cannot carry */
    BH_NOSPACE,             /* output buffer too small */
    BH_AUTH,                /* camera rejected the credentials */
    BH_NETWORK,             /* connect/refused/unreachable */
    BH_TIMEDOUT,            /* no data within the read timeout */
    BH_EOF,                 /* camera closed the stream */
    BH_PROTOCOL,            /* not RTSP or garbage on the wire */
    BH_STOPPED,             /* stop requested */
    BH_LIMIT,               /* the camera went past a bound */
    BH_AGAIN,               /* not yet: wait for the stream to change */
    BH_NOTFOUND             /* gone, or never */
} bh_status_t;


const char *bh_status_text(bh_status_t status);


typedef enum {
    BH_FORMAT_FMP4 = 0,
    BH_FORMAT_MPEGTS
} bh_format_t;


#define BH_USEC                ((int64_t) 1000000)

/* a segment starts at a keyframe: one without for this long is cut off */
#define BH_MAX_SEGMENT_PARTS   512


/* chunks the segmenter produces */

typedef enum {
    BH_CHUNK_INIT = 0,      /* ftyp+moov */
    BH_CHUNK_PART           /* moof+mdat */
} bh_chunk_type_t;


typedef struct {
    bh_chunk_type_t     type;
    uint8_t            *data;           /* malloc()ed; receiver frees */
    size_t              size;

    /* BH_CHUNK_PART */
    int64_t             duration;       /* usec */
    int64_t             start;          /* usec on the output timeline */
    int64_t             wallclock;      /* usec since the epoch (PDT) */
    int64_t             bytes_in;       /* from the camera, cumulative */
    uint32_t            frames;         /* video samples in it */
    unsigned            segment_start:1;/* first part of a new segment */
    unsigned            independent:1;  /* starts with a keyframe */
    unsigned            discontinuity:1;/* media before it was dropped */

    /* BH_CHUNK_INIT (empty for MPEG-TS): what the stream carries */
    char                codecs[64];     /* RFC 6381, "avc1.64001f,mp4a.40.2" */
    int                 width;
    int                 height;
} bh_chunk_t;


typedef void (*bh_chunk_handler_pt)(void *data, bh_chunk_t *chunk);


/* segmenter: AVPackets in, fMP4 init segment and parts out */

typedef struct bh_segmenter_s  bh_segmenter_t;

typedef struct {
    bh_format_t         format;
    int64_t             segment;        /* target segment duration, usec */
    int64_t             part;           /* target part duration, usec */
    int64_t             max_bitrate;    /* bits/s, 0: no limit */
} bh_segmenter_conf_t;


struct AVCodecParameters;
struct AVPacket;

bh_segmenter_t *bh_segmenter_create(const bh_segmenter_conf_t *conf,
    bh_chunk_handler_pt handler, void *data);

/*
 * Declares the streams: video (H.264 or H.265, required) and audio (AAC
 * or NULL),
 * with the time bases their packets use.  Packets of other stream indexes
 * are ignored.  BH_UNSUPPORTED: a codec we cannot carry (err says which).
 */
bh_status_t bh_segmenter_open(bh_segmenter_t *sg,
    const struct AVCodecParameters *video, int video_index, int video_tb_num,
    int video_tb_den, const struct AVCodecParameters *audio, int audio_index,
    int audio_tb_num, int audio_tb_den, char *err, size_t errlen);

/*
 * The camera's frame rate, if the demuxer knows it: the duration given to
 * frames that come before any timestamp (1/25 s otherwise).
 */
void bh_segmenter_frame_rate(bh_segmenter_t *sg, int num, int den);

/*
 * wallclock: when the packet reached us, usec since the epoch.
 * BH_LIMIT: the camera went past a bound (err says which); the stream
 * resumes by itself at the next keyframe, after a discontinuity.
 */
bh_status_t bh_segmenter_write(bh_segmenter_t *sg, struct AVPacket *pkt,
    int64_t wallclock, char *err, size_t errlen);

/* emits the part in progress, if any */
bh_status_t bh_segmenter_flush(bh_segmenter_t *sg);

void bh_segmenter_destroy(bh_segmenter_t *sg);


/* playlist writer */

typedef struct {
    uint64_t            number;         /* part-<number>.m4s */
    int64_t             duration;       /* usec */
    unsigned            independent:1;
} bh_playlist_part_t;


typedef struct {
    uint64_t            msn;
    int64_t             duration;       /* usec */
    int64_t             wallclock;      /* usec since the epoch */
    uint32_t            init_id;        /* EXT-X-MAP: init-<id>.mp4 */
    unsigned            discontinuity:1;

    bh_playlist_part_t *parts;          /* listed as EXT-X-PART if set */
    size_t              nparts;
} bh_playlist_segment_t;


typedef struct {
    bh_format_t         format;
    int64_t             target;         /* at least this, usec */
    int64_t             part_target;    /* usec; 0: no Low-Latency HLS */
    uint64_t            discontinuity_sequence;
    uint64_t            hint;           /* the next part's number */

    bh_playlist_segment_t  *segments;   /* complete, oldest first */
    size_t              nsegments;

    bh_playlist_segment_t  *open;       /* in progress: parts only */

    unsigned            skip:1;         /* delta update (EXT-X-SKIP) */
} bh_playlist_t;


/* the multivariant playlist: one variant, the media playlist */

typedef struct {
    uint64_t            bandwidth;      /* bits/s, peak segment */
    uint64_t            average;        /* bits/s */
    const char         *codecs;
    uint32_t            width;
    uint32_t            height;
    uint32_t            frame_rate;     /* frames per 1000 s */
} bh_variant_t;


/* returns the length written, or 0 when the buffer is too small */
size_t bh_playlist_write(const bh_playlist_t *pl, char *buf, size_t len);

/* an upper bound on bh_playlist_write()'s output */
size_t bh_playlist_size(const bh_playlist_t *pl);

/* segments a delta update leaves out (CAN-SKIP-UNTIL), 0 if none */
size_t bh_playlist_skippable(const bh_playlist_t *pl);

/* TARGETDURATION, seconds: at least target, and the longest segment */
int64_t bh_playlist_target(const bh_playlist_t *pl);

/* the multivariant playlist; the length written, or 0 */
size_t bh_playlist_multivariant(const bh_variant_t *v, char *buf,
    size_t len);


/* request paths and query arguments */

#define BH_MAX_MSN          ((uint64_t) 1 << 53)
#define BH_MAX_PART         9999    /* _HLS_part */


typedef enum {
    BH_URI_PLAYLIST = 0,
    BH_URI_MULTIVARIANT,
    BH_URI_INIT,
    BH_URI_SEGMENT,
    BH_URI_PART,
    BH_URI_SNAPSHOT
} bh_uri_type_t;


typedef struct {
    const char         *camera;
    size_t              camera_len;
    bh_uri_type_t       type;
    bh_format_t         format;         /* SEGMENT, PART */
    uint64_t            msn;            /* SEGMENT */
    uint64_t            part;           /* PART: the stream's part number */
    uint32_t            init_id;        /* INIT, unless current */
    unsigned            current:1;      /* init.mp4 */
    unsigned            size:4;         /* SNAPSHOT: bh_snapshot_index() */
} bh_uri_t;


typedef struct {
    uint64_t            msn;
    uint32_t            part;
    unsigned            has_msn:1;
    unsigned            has_part:1;
    unsigned            skip:2;         /* 1: YES, 2: v2 */
} bh_query_t;


/* "<cam>/<file>" */
bh_status_t bh_uri_parse(const char *path, size_t len, bh_uri_t *u);

/* the query string, without '?' */
bh_status_t bh_query_parse(const char *args, size_t len, bh_query_t *q);


/* RTSP pull: runs in its own thread, reports through callbacks */

typedef enum {
    BH_STATE_CONNECTING = 0,
    BH_STATE_STREAMING,
    BH_STATE_BACKOFF,
    BH_STATE_ERROR,
    BH_STATE_LIMITED        /* streaming, but dropping media over a bound */
} bh_state_t;


const char *bh_state_text(bh_state_t state);


typedef struct {
    bh_state_t          state;
    bh_status_t         status;         /* why, for BACKOFF and ERROR */
    char                message[256];   /* redacted, human readable */
    int64_t             retry_in;       /* usec, for BACKOFF */
    int64_t             bytes_in;
} bh_event_t;


typedef struct bh_pull_s  bh_pull_t;

typedef void (*bh_event_handler_pt)(void *data, bh_event_t *ev);
typedef void (*bh_log_handler_pt)(void *data, int level, const char *msg);


/* audio=: what to do with the camera's audio */

typedef enum {
    BH_AUDIO_AUTO = 0,      /* AAC copied, anything else to AAC */
    BH_AUDIO_COPY,          /* AAC copied, anything else dropped */
    BH_AUDIO_AAC,           /* everything to AAC-LC, AAC too */
    BH_AUDIO_OFF            /* video only */
} bh_audio_mode_t;


typedef struct {
    const char         *url;            /* may carry user:password@ */
    int                 tcp;            /* RTSP interleaved over TCP */
    bh_audio_mode_t     audio;
    int64_t             timeout;        /* usec without data = stall */
    int64_t             backoff_min;    /* usec */
    int64_t             backoff_max;    /* usec */
    bh_segmenter_conf_t segmenter;

    bh_chunk_handler_pt on_chunk;
    bh_event_handler_pt on_event;
    bh_log_handler_pt   on_log;         /* libav messages, redacted */
    void               *data;
} bh_pull_conf_t;


bh_pull_t *bh_pull_create(const bh_pull_conf_t *conf);

/* the thread body: returns after bh_pull_stop() */
void bh_pull_run(bh_pull_t *pull);

/* any thread; makes every blocking call in bh_pull_run() return */
void bh_pull_stop(bh_pull_t *pull);

void bh_pull_destroy(bh_pull_t *pull);

/* installs the av_log callback that routes messages to on_log */
void bh_log_init(int level);


/* utilities */

/*
 * copies url to buf with any user:password@ replaced by "***@" and the
 * password replaced by "***" wherever else it appears; buf needs room for
 * 3 x strlen(url) + 8
 */
size_t bh_redact_url(const char *url, char *buf, size_t len);

/* the password of url's userinfo into buf ("" if none, or too long) */
void bh_url_password(const char *url, char *buf, size_t len);

/*
 * copies text to buf with the userinfo of every "scheme://user:pass@"
 * replaced by "***", and every occurrence of secret (when not NULL or
 * empty) by "***"; always NUL-terminates, truncating if needed
 */
void bh_redact_text(const char *text, const char *secret, char *buf,
    size_t len);

uint32_t bh_crc32(const void *data, size_t len);   /* IEEE 802.3 */

int64_t bh_wallclock(void);             /* usec since the epoch */
int64_t bh_monotonic(void);             /* usec, monotonic */

int bh_valid_name(const char *name, size_t len);


#endif /* _BH_MEDIA_H_INCLUDED_ */
