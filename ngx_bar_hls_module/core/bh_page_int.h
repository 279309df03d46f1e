
/*
 * ngx_bar_hls_module media core: the pages' templates (bh_page_html.c),
 * filled in by bh_page.c.
 */


#ifndef _BH_PAGE_INT_H_INCLUDED_
#define _BH_PAGE_INT_H_INCLUDED_


#include "bh_page.h"


extern const char  bh_page_overview_head[];
extern const char  bh_page_overview_card[];
extern const char  bh_page_overview_tail[];
extern const char  bh_page_player_html[];


#endif /* _BH_PAGE_INT_H_INCLUDED_ */
