
/*
 * ngx_bar_hls_module media core: a keyframe to JPEG pictures.
 *
 * The decoder is libavcodec's for the camera's codec, single-threaded
 * (one picture, no frame threads to fill), bounded in pixels; each
 * keyframe is sent alone and drained, then the decoder is flushed for
 * the next one.  libswscale makes the full-range 4:2:0 of JPEG (as
 * yuv420p with a full colour range, not the deprecated yuvj420p), in
 * each size asked for; an encoder is kept per size and opened
 * again when the picture's size changes.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "bh_snapshot.h"


#define BH_JPEG_QUALITY     5       /* mjpeg qscale: 2 best, 31 worst */
#define BH_DEMUX_PACKETS    4096    /* read at most, for a keyframe */
#define BH_DEMUX_BUFFER     4096


typedef struct {
    const uint8_t      *data;
    size_t              len;
    size_t              pos;
} bh_mem_t;


struct bh_jpeg_s {
    AVCodecContext     *dec;
    AVFrame            *frame;
    AVFrame            *scaled;
    struct SwsContext  *sws;
    AVCodecContext     *enc[BH_SNAPSHOT_SIZES];
    AVPacket           *in;
    AVPacket           *out;
    int64_t             pts;            /* the encoders want them rising */
};


static const uint32_t  bh_widths[BH_SNAPSHOT_NWIDTHS] = BH_SNAPSHOT_WIDTHS;


static int bh_mem_read(void *opaque, uint8_t *buf, int size);
static int64_t bh_mem_seek(void *opaque, int64_t offset, int whence);
static bh_status_t bh_jpeg_decode(bh_jpeg_t *j, const AVPacket *pkt,
    char *err, size_t errlen);
static bh_status_t bh_jpeg_encode(bh_jpeg_t *j, int i, uint32_t width,
    uint32_t height, bh_picture_t *pic, char *err, size_t errlen);


bh_jpeg_t *
bh_jpeg_create(const AVCodecParameters *par)
{
    bh_jpeg_t      *j;
    const AVCodec  *codec;

    codec = avcodec_find_decoder(par->codec_id);
    if (codec == NULL) {
        return NULL;
    }

    j = calloc(1, sizeof(bh_jpeg_t));
    if (j == NULL) {
        return NULL;
    }

    j->dec = avcodec_alloc_context3(codec);
    j->frame = av_frame_alloc();
    j->scaled = av_frame_alloc();
    j->in = av_packet_alloc();
    j->out = av_packet_alloc();

    if (j->dec == NULL || j->frame == NULL || j->scaled == NULL
        || j->in == NULL || j->out == NULL
        || avcodec_parameters_to_context(j->dec, par) < 0)
    {
        bh_jpeg_destroy(j);
        return NULL;
    }

    j->dec->thread_count = 1;
    j->dec->max_pixels = BH_SNAPSHOT_MAX_PIXELS;

    if (avcodec_open2(j->dec, codec, NULL) < 0) {
        bh_jpeg_destroy(j);
        return NULL;
    }

    return j;
}


void
bh_jpeg_destroy(bh_jpeg_t *j)
{
    int  i;

    if (j == NULL) {
        return;
    }

    for (i = 0; i < BH_SNAPSHOT_SIZES; i++) {
        avcodec_free_context(&j->enc[i]);
    }

    avcodec_free_context(&j->dec);
    av_frame_free(&j->frame);
    av_frame_free(&j->scaled);
    av_packet_free(&j->in);
    av_packet_free(&j->out);
    sws_freeContext(j->sws);
    free(j);
}


bh_status_t
bh_jpeg_make(bh_jpeg_t *j, const AVPacket *pkt, unsigned mask,
    bh_snapshot_t *out, char *err, size_t errlen)
{
    int          i;
    uint32_t     sw, sh, w, h;
    bh_status_t  st;

    memset(out, 0, sizeof(bh_snapshot_t));

    st = bh_jpeg_decode(j, pkt, err, errlen);
    if (st != BH_OK) {
        return st;
    }

    sw = (uint32_t) j->frame->width;
    sh = (uint32_t) j->frame->height;

    /* what is not narrower than the picture is the full picture */

    for (i = 1; i < BH_SNAPSHOT_SIZES; i++) {
        if ((mask & (1u << i)) && bh_widths[i - 1] >= sw) {
            mask = (mask & ~(1u << i)) | 1;
        }
    }

    for (i = 0; i < BH_SNAPSHOT_SIZES && st == BH_OK; i++) {
        if (!(mask & (1u << i))) {
            continue;
        }

        w = (i == 0) ? sw : bh_widths[i - 1];

        if (w > BH_SNAPSHOT_MAX_WIDTH) {
            w = BH_SNAPSHOT_MAX_WIDTH;
        }

        /* the picture's shape, in even numbers for 4:2:0 */

        h = (uint32_t) (((uint64_t) sh * w + sw / 2) / sw);
        w = (w + 1) & ~1u;
        h = (h + 1) & ~1u;

        if (h < 2) {
            h = 2;
        }

        st = bh_jpeg_encode(j, i, w, h, &out->pictures[i], err, errlen);
    }

    if (st != BH_OK) {
        bh_snapshot_free(out);
    }

    return st;
}


static bh_status_t
bh_jpeg_decode(bh_jpeg_t *j, const AVPacket *pkt, char *err, size_t errlen)
{
    int  rc, got;

    got = 0;

    /*
     * An edit list may mark a stream's first keyframe to be discarded
     * (B-frames before the presentation starts): its picture is still
     * what the camera saw.
     */

    rc = av_packet_ref(j->in, pkt);

    if (rc >= 0) {
        j->in->flags &= ~AV_PKT_FLAG_DISCARD;
        rc = avcodec_send_packet(j->dec, j->in);
        av_packet_unref(j->in);
    }

    if (rc >= 0) {
        (void) avcodec_send_packet(j->dec, NULL);

        for ( ;; ) {
            rc = avcodec_receive_frame(j->dec, got ? j->scaled : j->frame);

            if (rc < 0) {
                break;
            }

            /* one picture went in: anything else is not ours */

            got = 1;
            av_frame_unref(j->scaled);
        }
    }

    /* ready for the next keyframe */

    avcodec_flush_buffers(j->dec);

    if (!got || j->frame->width <= 0 || j->frame->height <= 0) {
        snprintf(err, errlen, "the keyframe does not decode");
        av_frame_unref(j->frame);
        return BH_INVALID;
    }

    return BH_OK;
}


static bh_status_t
bh_jpeg_encode(bh_jpeg_t *j, int i, uint32_t width, uint32_t height,
    bh_picture_t *pic, char *err, size_t errlen)
{
    int              rc, range;
    int             *inv, *table, src_range, dst_range, b, c, s;
    AVFrame         *f;
    AVCodecContext  *enc;
    const AVCodec   *codec;

    f = j->scaled;
    av_frame_unref(f);

    j->sws = sws_getCachedContext(j->sws, j->frame->width, j->frame->height,
                                  j->frame->format, (int) width, (int) height,
                                  AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL,
                                  NULL, NULL);
    if (j->sws == NULL) {
        snprintf(err, errlen, "no scaler from %s",
                 av_get_pix_fmt_name(j->frame->format));
        return BH_UNSUPPORTED;
    }

    /* the camera's range (most say "limited"), the full range of JPEG */

    if (sws_getColorspaceDetails(j->sws, &inv, &src_range, &table,
                                 &dst_range, &b, &c, &s)
        >= 0)
    {
        range = (j->frame->color_range == AVCOL_RANGE_JPEG) ? 1 : src_range;
        (void) sws_setColorspaceDetails(j->sws, inv, range, table, 1, b, c,
                                        s);
    }

    f->format = AV_PIX_FMT_YUV420P;
    f->color_range = AVCOL_RANGE_JPEG;
    f->width = (int) width;
    f->height = (int) height;

    if (av_frame_get_buffer(f, 0) < 0) {
        return BH_NOMEM;
    }

    sws_scale(j->sws, (const uint8_t * const *) j->frame->data,
              j->frame->linesize, 0, j->frame->height, f->data, f->linesize);

    enc = j->enc[i];

    if (enc != NULL && (enc->width != (int) width
                        || enc->height != (int) height))
    {
        avcodec_free_context(&j->enc[i]);
        enc = NULL;
    }

    if (enc == NULL) {
        codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
        if (codec == NULL) {
            snprintf(err, errlen, "no mjpeg encoder");
            return BH_UNSUPPORTED;
        }

        enc = avcodec_alloc_context3(codec);
        if (enc == NULL) {
            return BH_NOMEM;
        }

        enc->width = (int) width;
        enc->height = (int) height;
        enc->pix_fmt = AV_PIX_FMT_YUV420P;
        enc->color_range = AVCOL_RANGE_JPEG;
        enc->time_base = (AVRational) { 1, 25 };
        enc->thread_count = 1;
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = FF_QP2LAMBDA * BH_JPEG_QUALITY;

        if (avcodec_open2(enc, codec, NULL) < 0) {
            avcodec_free_context(&enc);
            snprintf(err, errlen, "the mjpeg encoder does not open");
            return BH_ERROR;
        }

        j->enc[i] = enc;
    }

    f->pts = j->pts++;
    f->quality = enc->global_quality;

    rc = avcodec_send_frame(enc, f);

    if (rc >= 0) {
        rc = avcodec_receive_packet(enc, j->out);
    }

    av_frame_unref(f);

    if (rc < 0 || j->out->size <= 0) {
        av_packet_unref(j->out);
        snprintf(err, errlen, "the mjpeg encoder made nothing");
        return BH_ERROR;
    }

    pic->data = malloc(j->out->size);

    if (pic->data == NULL) {
        av_packet_unref(j->out);
        return BH_NOMEM;
    }

    memcpy(pic->data, j->out->data, j->out->size);
    pic->size = j->out->size;
    pic->width = width;
    pic->height = height;

    av_packet_unref(j->out);

    return BH_OK;
}


/*
 * The keyframe of a part in memory: fMP4 (init segment and part, the
 * codec's parameters from the moov) or MPEG-TS (probed, with the
 * parameter sets the part carries).  The bytes are our own muxer's, but
 * made of what the camera sent: every read is bounded.
 */

bh_status_t
bh_jpeg_demux(const uint8_t *data, size_t len, AVCodecParameters *par,
    AVPacket *pkt)
{
    int                   i, n, v, ts;
    uint8_t              *buf;
    bh_mem_t              mem;
    bh_status_t           st;
    AVIOContext          *pb;
    AVFormatContext      *ic;
    const AVInputFormat  *fmt;

    if (len < 8 || len > INT32_MAX) {
        return BH_INVALID;
    }

    mem.data = data;
    mem.len = len;
    mem.pos = 0;

    ts = (memcmp(data + 4, "ftyp", 4) != 0);
    fmt = av_find_input_format(ts ? "mpegts" : "mp4");
    buf = av_malloc(BH_DEMUX_BUFFER);
    pb = (buf != NULL) ? avio_alloc_context(buf, BH_DEMUX_BUFFER, 0, &mem,
                                            bh_mem_read, NULL, bh_mem_seek)
                       : NULL;
    ic = avformat_alloc_context();

    if (fmt == NULL || pb == NULL || ic == NULL) {
        if (pb != NULL) {
            av_freep(&pb->buffer);
            avio_context_free(&pb);

        } else {
            av_free(buf);
        }

        avformat_free_context(ic);
        return BH_NOMEM;
    }

    ic->pb = pb;
    ic->flags |= AVFMT_FLAG_CUSTOM_IO;
    st = BH_NOTFOUND;

    if (avformat_open_input(&ic, NULL, fmt, NULL) < 0) {
        ic = NULL;
        st = BH_INVALID;
        goto done;
    }

    /* MPEG-TS says its video's size in the stream only */

    if (ts && avformat_find_stream_info(ic, NULL) < 0)
    {
        st = BH_INVALID;
        goto done;
    }

    v = -1;

    for (i = 0; i < (int) ic->nb_streams; i++) {
        if (ic->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
            v = i;
            break;
        }
    }

    for (n = 0; v >= 0 && n < BH_DEMUX_PACKETS; n++) {
        if (av_read_frame(ic, pkt) < 0) {
            break;
        }

        if (pkt->stream_index == v && (pkt->flags & AV_PKT_FLAG_KEY)
            && pkt->size > 0)
        {
            st = avcodec_parameters_copy(par, ic->streams[v]->codecpar) < 0
                 ? BH_NOMEM : BH_OK;
            break;
        }

        av_packet_unref(pkt);
    }

done:

    if (st != BH_OK) {
        av_packet_unref(pkt);
    }

    avformat_close_input(&ic);
    av_freep(&pb->buffer);
    avio_context_free(&pb);

    return st;
}


static int
bh_mem_read(void *opaque, uint8_t *buf, int size)
{
    bh_mem_t  *mem = opaque;

    size_t  n;

    n = mem->len - mem->pos;

    if (n == 0) {
        return AVERROR_EOF;
    }

    if (n > (size_t) size) {
        n = (size_t) size;
    }

    memcpy(buf, mem->data + mem->pos, n);
    mem->pos += n;

    return (int) n;
}


static int64_t
bh_mem_seek(void *opaque, int64_t offset, int whence)
{
    bh_mem_t  *mem = opaque;

    int64_t  to;

    switch (whence & ~AVSEEK_FORCE) {

    case AVSEEK_SIZE:
        return (int64_t) mem->len;

    case SEEK_SET:
        to = offset;
        break;

    case SEEK_CUR:
        to = (int64_t) mem->pos + offset;
        break;

    case SEEK_END:
        to = (int64_t) mem->len + offset;
        break;

    default:
        return AVERROR(EINVAL);
    }

    if (to < 0 || to > (int64_t) mem->len) {
        return AVERROR(EINVAL);
    }

    mem->pos = (size_t) to;

    return to;
}


void
bh_snapshot_free(bh_snapshot_t *snap)
{
    int  i;

    for (i = 0; i < BH_SNAPSHOT_SIZES; i++) {
        free(snap->pictures[i].data);
        snap->pictures[i].data = NULL;
        snap->pictures[i].size = 0;
    }
}


int
bh_snapshot_index(const char *args, size_t len)
{
    int       i;
    uint32_t  n;
    size_t    k;

    if (len == 0) {
        return 0;
    }

    if (len < sizeof("width=") || len > sizeof("width=") - 1 + 5
        || memcmp(args, "width=", sizeof("width=") - 1) != 0
        || args[sizeof("width=") - 1] == '0')
    {
        return -1;
    }

    n = 0;

    for (k = sizeof("width=") - 1; k < len; k++) {
        if (args[k] < '0' || args[k] > '9') {
            return -1;
        }

        n = n * 10 + (uint32_t) (args[k] - '0');
    }

    for (i = 0; i < BH_SNAPSHOT_NWIDTHS; i++) {
        if (bh_widths[i] == n) {
            return i + 1;
        }
    }

    return -1;
}


uint32_t
bh_snapshot_width(int i)
{
    return (i > 0 && i <= BH_SNAPSHOT_NWIDTHS) ? bh_widths[i - 1] : 0;
}
