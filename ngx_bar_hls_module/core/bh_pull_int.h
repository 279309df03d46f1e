
/*
 * ngx_bar_hls_module media core: the pull loop's insides, shared by
 * bh_pull.c (the thread: stop, deadlines, reconnects, libav's log) and
 * bh_session.c (one session with the camera).
 */


#ifndef _BH_PULL_INT_H_INCLUDED_
#define _BH_PULL_INT_H_INCLUDED_


#include <pthread.h>

#include "bh_media.h"


struct bh_pull_s {
    bh_pull_conf_t      conf;
    char               *url;
    char                secret[256];    /* password, for redaction */

    pthread_mutex_t     mutex;
    pthread_cond_t      cond;
    int                 stop;           /* under mutex, or atomic read */

    int64_t             deadline;       /* monotonic usec, 0: none */
    int                 timed_out;      /* the deadline interrupted */
    int64_t             bytes_in;

    unsigned            streaming:1;
    unsigned            audio_said:1;   /* what becomes of the audio */

    int64_t             log_window;     /* rate limit of libav lines */
    int                 log_count;

    uint64_t            seed;           /* jitter */
};


/* bh_pull.c */

int bh_stopped(bh_pull_t *pull);
int bh_interrupt(void *data);
void bh_deadline(bh_pull_t *pull, int64_t usec);
void bh_event(bh_pull_t *pull, bh_state_t state, bh_status_t status,
    const char *message, int64_t retry_in);


/* bh_session.c */

bh_status_t bh_session(bh_pull_t *pull, char *err, size_t errlen,
    int64_t *streamed);


#endif /* _BH_PULL_INT_H_INCLUDED_ */
