
/*
 * ngx_bar_hls_module media core: the snapshot thread.
 *
 * The camera's owner offers every part that starts with a keyframe;
 * while no size is wanted an offer does nothing.  When one is, and the
 * last part was taken an interval ago, the part (after its init segment)
 * is copied into a one-place mailbox and the thread, started on the
 * first such offer, demuxes its keyframe, decodes and encodes it
 * (bh_jpeg.c) and hands the pictures to the handler.  An offer that finds
 * the thread still busy is dropped: the caller never waits for it.  The
 * thread blocks every signal and touches nothing but its own.
 */


#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "bh_snapshot.h"


struct bh_snapper_s {
    int64_t                 interval;       /* usec */
    bh_snapshot_handler_pt  handler;
    void                   *data;

    int64_t                 last;           /* wallclock of the last taken */

    pthread_mutex_t         mutex;
    pthread_cond_t          cond;
    pthread_t               tid;
    unsigned                started:1;
    unsigned                stop:1;         /* under mutex */
    unsigned                busy:1;         /* a job in the mailbox */

    /* the mailbox, under mutex */
    uint8_t                *buf;            /* init and part, malloc()ed */
    size_t                  len;
    size_t                  cap;
    int64_t                 time;
    unsigned                mask;

    /* the thread's own */
    AVPacket               *pkt;
    AVCodecParameters      *par;
    AVCodecParameters      *jpeg_par;       /* what jpeg decodes */
    bh_jpeg_t              *jpeg;
    uint64_t                made;           /* atomic */
    uint64_t                failed;         /* atomic */
};


static void *bh_snapper_thread(void *data);
static void bh_snapper_job(bh_snapper_t *sn);
static int bh_snapper_same(const AVCodecParameters *a,
    const AVCodecParameters *b);


bh_snapper_t *
bh_snapper_create(int64_t interval, bh_snapshot_handler_pt handler,
    void *data)
{
    bh_snapper_t  *sn;

    sn = calloc(1, sizeof(bh_snapper_t));
    if (sn == NULL) {
        return NULL;
    }

    sn->pkt = av_packet_alloc();
    sn->par = avcodec_parameters_alloc();
    sn->jpeg_par = avcodec_parameters_alloc();

    if (sn->pkt == NULL || sn->par == NULL || sn->jpeg_par == NULL) {
        av_packet_free(&sn->pkt);
        avcodec_parameters_free(&sn->par);
        avcodec_parameters_free(&sn->jpeg_par);
        free(sn);
        return NULL;
    }

    sn->interval = interval;
    sn->handler = handler;
    sn->data = data;

    pthread_mutex_init(&sn->mutex, NULL);
    pthread_cond_init(&sn->cond, NULL);

    return sn;
}


void
bh_snapper_destroy(bh_snapper_t *sn)
{
    if (sn == NULL) {
        return;
    }

    pthread_mutex_lock(&sn->mutex);
    sn->stop = 1;
    pthread_cond_broadcast(&sn->cond);
    pthread_mutex_unlock(&sn->mutex);

    if (sn->started) {
        pthread_join(sn->tid, NULL);
    }

    bh_jpeg_destroy(sn->jpeg);
    av_packet_free(&sn->pkt);
    avcodec_parameters_free(&sn->par);
    avcodec_parameters_free(&sn->jpeg_par);
    free(sn->buf);
    pthread_mutex_destroy(&sn->mutex);
    pthread_cond_destroy(&sn->cond);
    free(sn);
}


void
bh_snapper_offer(bh_snapper_t *sn, unsigned mask, const uint8_t *init,
    size_t init_len, const uint8_t *part, size_t part_len, int64_t wallclock)
{
    int       err;
    size_t    len;
    uint8_t  *p;
    sigset_t  all, old;

    mask &= BH_SNAPSHOT_ALL;

    /*
     * Keyframes an interval apart arrive a little early or late: one an
     * eighth early still counts, or every other one would be skipped.
     */

    if (mask == 0 || part_len == 0
        || (sn->last != 0 && wallclock >= sn->last
            && wallclock - sn->last < sn->interval - sn->interval / 8))
    {
        return;
    }

    if (init == NULL) {
        init_len = 0;
    }

    len = init_len + part_len;

    pthread_mutex_lock(&sn->mutex);

    if (sn->busy || sn->stop) {
        pthread_mutex_unlock(&sn->mutex);
        return;
    }

    if (len > sn->cap) {
        p = realloc(sn->buf, len);

        if (p == NULL) {
            pthread_mutex_unlock(&sn->mutex);
            return;
        }

        sn->buf = p;
        sn->cap = len;
    }

    if (init_len) {
        memcpy(sn->buf, init, init_len);
    }

    memcpy(sn->buf + init_len, part, part_len);
    sn->len = len;
    sn->time = wallclock;
    sn->mask = mask;
    sn->last = wallclock;

    if (!sn->started) {

        /* no signal of the caller's process for this thread */

        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        err = pthread_create(&sn->tid, NULL, bh_snapper_thread, sn);
        pthread_sigmask(SIG_SETMASK, &old, NULL);

        if (err != 0) {
            pthread_mutex_unlock(&sn->mutex);
            return;
        }

        sn->started = 1;
    }

    sn->busy = 1;
    pthread_cond_broadcast(&sn->cond);
    pthread_mutex_unlock(&sn->mutex);
}


void
bh_snapper_drain(bh_snapper_t *sn)
{
    pthread_mutex_lock(&sn->mutex);

    while (sn->busy && !sn->stop) {
        pthread_cond_wait(&sn->cond, &sn->mutex);
    }

    pthread_mutex_unlock(&sn->mutex);
}


uint64_t
bh_snapper_made(bh_snapper_t *sn, uint64_t *failed)
{
    if (failed != NULL) {
        *failed = __atomic_load_n(&sn->failed, __ATOMIC_RELAXED);
    }

    return __atomic_load_n(&sn->made, __ATOMIC_RELAXED);
}


static void *
bh_snapper_thread(void *data)
{
    bh_snapper_t  *sn = data;

    pthread_mutex_lock(&sn->mutex);

    for ( ;; ) {
        while (!sn->busy && !sn->stop) {
            pthread_cond_wait(&sn->cond, &sn->mutex);
        }

        if (sn->stop) {
            break;
        }

        bh_snapper_job(sn);

        sn->busy = 0;
        pthread_cond_broadcast(&sn->cond);
    }

    pthread_mutex_unlock(&sn->mutex);

    return NULL;
}


/*
 * Called with the mutex locked; works without it: the mailbox is the
 * thread's until busy is cleared.
 */

static void
bh_snapper_job(bh_snapper_t *sn)
{
    int            i;
    char           err[128];
    bh_status_t    st;
    bh_snapshot_t  snap;

    pthread_mutex_unlock(&sn->mutex);

    st = bh_jpeg_demux(sn->buf, sn->len, sn->par, sn->pkt);

    /* a decoder for what the camera sends now */

    if (st == BH_OK
        && (sn->jpeg == NULL || !bh_snapper_same(sn->par, sn->jpeg_par)))
    {
        bh_jpeg_destroy(sn->jpeg);
        sn->jpeg = bh_jpeg_create(sn->par);

        if (sn->jpeg == NULL
            || avcodec_parameters_copy(sn->jpeg_par, sn->par) < 0)
        {
            st = BH_UNSUPPORTED;
        }
    }

    if (st == BH_OK) {
        st = bh_jpeg_make(sn->jpeg, sn->pkt, sn->mask, &snap, err,
                          sizeof(err));
    }

    av_packet_unref(sn->pkt);

    if (st == BH_OK) {
        snap.time = sn->time;

        for (i = 0; i < BH_SNAPSHOT_SIZES; i++) {
            snap.pictures[i].time = sn->time;
        }

        __atomic_add_fetch(&sn->made, 1, __ATOMIC_RELAXED);
        sn->handler(sn->data, &snap);

    } else {
        __atomic_add_fetch(&sn->failed, 1, __ATOMIC_RELAXED);
    }

    pthread_mutex_lock(&sn->mutex);
}


static int
bh_snapper_same(const AVCodecParameters *a, const AVCodecParameters *b)
{
    return a->codec_id == b->codec_id && a->width == b->width
           && a->height == b->height && a->format == b->format
           && a->extradata_size == b->extradata_size
           && (a->extradata_size == 0
               || memcmp(a->extradata, b->extradata, a->extradata_size) == 0);
}
