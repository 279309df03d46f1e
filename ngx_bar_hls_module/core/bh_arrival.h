
/*
 * ngx_bar_hls_module media core: when the camera's packets arrived
 * (bh_arrival.c).
 */


#ifndef _BH_ARRIVAL_H_INCLUDED_
#define _BH_ARRIVAL_H_INCLUDED_


#include <libavformat/avformat.h>

#include "bh_media.h"


typedef struct bh_arrival_s  bh_arrival_t;

/* gets a packet and when it arrived, usec since the epoch */
typedef bh_status_t (*bh_arrival_write_pt)(void *data, AVPacket *pkt,
    int64_t wallclock);


bh_arrival_t *bh_arrival_create(int video_index, int tb_num, int tb_den);
bh_status_t bh_arrival_push(bh_arrival_t *ar, AVPacket *pkt, int64_t start,
    int64_t now, bh_arrival_write_pt write, void *data);
bh_status_t bh_arrival_flush(bh_arrival_t *ar, int64_t when,
    bh_arrival_write_pt write, void *data);
void bh_arrival_destroy(bh_arrival_t *ar);


#endif /* _BH_ARRIVAL_H_INCLUDED_ */
