
/*
 * ngx_bar_hls_module media core: the pages people open.
 *
 * An overview of every camera (its live snapshot, its state, a link to
 * its page), a player page per camera, and the small JSON both poll for
 * the cameras' states.  Everything a page needs is in the page itself:
 * no font, script or style from elsewhere but the player script the
 * operator names (hls.js, for browsers without native HLS).  Every value
 * from the configuration is escaped for where it goes; scripts read them
 * from data- attributes, never from text spliced into code.
 *
 * Each function returns the length of the whole output, and writes as
 * much of it as fits into buf (len bytes, buf may be NULL): call it once
 * for the size, then with a buffer that large.
 */


#ifndef _BH_PAGE_H_INCLUDED_
#define _BH_PAGE_H_INCLUDED_


#include "bh_media.h"


typedef struct {
    const char         *name;
    size_t              name_len;
    bh_state_t          state;
    int64_t             since;          /* sec, the state's */
    int64_t             offline_since;  /* sec, last seen streaming */
    int64_t             newest;         /* msec, newest part's end, 0 */
    uint32_t            width;
    uint32_t            height;
} bh_page_camera_t;


typedef struct {
    const char         *title;          /* of the overview */
    size_t              title_len;
    const char         *player_js;      /* URL of hls.js, or NULL */
    size_t              player_js_len;
    int64_t             now;            /* sec; 0: the clock's */
} bh_page_conf_t;


size_t bh_page_overview(char *buf, size_t len, const bh_page_conf_t *conf,
    const bh_page_camera_t *cams, size_t n);

size_t bh_page_player(char *buf, size_t len, const bh_page_conf_t *conf,
    const bh_page_camera_t *cam);

/* {"now": msec, "cameras": [{"name": ..., "live": true, ...}]} */
size_t bh_page_json(char *buf, size_t len, const bh_page_camera_t *cams,
    size_t n, int64_t now);

/* streaming, or limited: the camera is there */
int bh_page_live(bh_state_t state);


#endif /* _BH_PAGE_H_INCLUDED_ */
