
/*
 * ngx_bar_hls_module media core: the snapshot thread.
 *
 * The pull loop offers every keyframe; while no size is wanted an offer
 * is one atomic load.  When one is, and the last picture was made an
 * interval ago, the keyframe is copied into a one-place mailbox and the
 * thread, started on the first such offer, decodes and encodes it
 * (bh_jpeg.c) and hands the pictures to the handler.  An offer that finds
 * the thread still busy is dropped: the pull loop never waits for it.
 * The thread blocks every signal and touches nothing but its own.
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

    unsigned                wanted;         /* atomic */
    int64_t                 last;           /* wallclock of the last offer */

    pthread_mutex_t         mutex;
    pthread_cond_t          cond;
    pthread_t               tid;
    unsigned                started:1;
    unsigned                stop:1;         /* under mutex */
    unsigned                busy:1;         /* a job in the mailbox */

    /* the mailbox, under mutex */
    AVPacket               *pkt;
    AVCodecParameters      *par;
    uint64_t                par_version;
    int64_t                 time;
    unsigned                mask;

    /* the thread's own */
    bh_jpeg_t              *jpeg;
    uint64_t                jpeg_version;
    uint64_t                made;           /* atomic */
    uint64_t                failed;         /* atomic */
};


static void *bh_snapper_thread(void *data);
static void bh_snapper_job(bh_snapper_t *sn);


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

    if (sn->pkt == NULL || sn->par == NULL) {
        av_packet_free(&sn->pkt);
        avcodec_parameters_free(&sn->par);
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
    pthread_mutex_destroy(&sn->mutex);
    pthread_cond_destroy(&sn->cond);
    free(sn);
}


void
bh_snapper_want(bh_snapper_t *sn, unsigned mask)
{
    __atomic_store_n(&sn->wanted, mask & BH_SNAPSHOT_ALL, __ATOMIC_RELAXED);
}


bh_status_t
bh_snapper_codec(bh_snapper_t *sn, const AVCodecParameters *par)
{
    int  rc;

    pthread_mutex_lock(&sn->mutex);

    rc = avcodec_parameters_copy(sn->par, par);
    sn->par_version++;
    sn->last = 0;

    pthread_mutex_unlock(&sn->mutex);

    return rc < 0 ? BH_NOMEM : BH_OK;
}


void
bh_snapper_offer(bh_snapper_t *sn, const AVPacket *pkt, int64_t wallclock)
{
    int       err;
    unsigned  mask;
    sigset_t  all, old;

    mask = __atomic_load_n(&sn->wanted, __ATOMIC_RELAXED);

    if (mask == 0 || !(pkt->flags & AV_PKT_FLAG_KEY)
        || (sn->last != 0 && wallclock - sn->last < sn->interval))
    {
        return;
    }

    pthread_mutex_lock(&sn->mutex);

    if (sn->busy || sn->stop) {
        pthread_mutex_unlock(&sn->mutex);
        return;
    }

    av_packet_unref(sn->pkt);

    if (av_packet_ref(sn->pkt, pkt) < 0) {
        pthread_mutex_unlock(&sn->mutex);
        return;
    }

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
            av_packet_unref(sn->pkt);
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


/* called with the mutex locked; decodes without it */

static void
bh_snapper_job(bh_snapper_t *sn)
{
    char           err[128];
    AVPacket      *pkt;
    unsigned       mask;
    bh_status_t    st;
    bh_snapshot_t  snap;

    if (sn->jpeg == NULL || sn->jpeg_version != sn->par_version) {
        bh_jpeg_destroy(sn->jpeg);
        sn->jpeg = bh_jpeg_create(sn->par);
        sn->jpeg_version = sn->par_version;
    }

    if (sn->jpeg == NULL) {
        __atomic_add_fetch(&sn->failed, 1, __ATOMIC_RELAXED);
        av_packet_unref(sn->pkt);
        return;
    }

    /* the mailbox's packet is ours until busy is cleared */

    pkt = sn->pkt;
    mask = sn->mask;

    pthread_mutex_unlock(&sn->mutex);

    st = bh_jpeg_make(sn->jpeg, pkt, mask, &snap, err, sizeof(err));

    if (st == BH_OK) {
        snap.time = sn->time;
        __atomic_add_fetch(&sn->made, 1, __ATOMIC_RELAXED);
        sn->handler(sn->data, &snap);

    } else {
        __atomic_add_fetch(&sn->failed, 1, __ATOMIC_RELAXED);
    }

    pthread_mutex_lock(&sn->mutex);

    av_packet_unref(pkt);
}
