
/*
 * ngx_bar_hls_module media core: the store's insides, shared by
 * bh_store.c (its streams and rings), bh_publish.c (filling it),
 * bh_render.c (its playlists), bh_still.c (its snapshots) and bh_serve.c
 * (what a request gets).
 */


#ifndef _BH_STORE_INT_H_INCLUDED_
#define _BH_STORE_INT_H_INCLUDED_


#include "bh_store.h"


/* bh_store.c */

bh_status_t bh_evict(const bh_alloc_t *a, bh_stream_t *s);


/* bh_render.c */

void bh_render(const bh_alloc_t *a, bh_stream_t *s, int64_t now);
void bh_text_free(const bh_alloc_t *a, bh_text_t *text);


/* bh_still.c */

const bh_picture_t *bh_stream_still(const bh_stream_t *s, unsigned i);
void bh_stills_free(const bh_alloc_t *a, bh_stream_t *s);


#endif /* _BH_STORE_INT_H_INCLUDED_ */
