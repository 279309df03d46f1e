
/*
 * ngx_bar_hls_module media core: the store's insides, shared by
 * bh_store.c (filling it), bh_render.c (its playlists) and bh_serve.c
 * (what a request gets).
 */


#ifndef _BH_STORE_INT_H_INCLUDED_
#define _BH_STORE_INT_H_INCLUDED_


#include "bh_store.h"


/* bh_render.c */

void bh_render(const bh_alloc_t *a, bh_stream_t *s, int64_t now);
void bh_text_free(const bh_alloc_t *a, bh_text_t *text);


#endif /* _BH_STORE_INT_H_INCLUDED_ */
