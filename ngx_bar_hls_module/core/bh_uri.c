
/*
 * ngx_bar_hls_module media core: parsing of request paths and of the
 * Low-Latency HLS query arguments.  Untrusted input: everything not in the
 * exact grammar below is rejected; fuzzed by fuzz/fuzz_uri.c.
 *
 *     <cam>/index.m3u8 | <cam>/master.m3u8
 *     <cam>/init.mp4 | <cam>/init-<hex>.mp4
 *     <cam>/seg-<msn>.m4s | <cam>/seg-<msn>.ts
 *     <cam>/part-<n>.m4s | <cam>/part-<n>.ts
 */


#include <string.h>

#include "bh_media.h"


static const char *bh_parse_dec(const char *p, const char *last,
    uint64_t max, uint64_t *n);
static int bh_suffix(const char *p, const char *last, const char *s);


bh_status_t
bh_uri_parse(const char *path, size_t len, bh_uri_t *u)
{
    uint64_t     n;
    const char  *p, *last, *slash, *end;

    last = path + len;

    slash = memchr(path, '/', len);
    if (slash == NULL || !bh_valid_name(path, slash - path)) {
        return BH_INVALID;
    }

    memset(u, 0, sizeof(bh_uri_t));
    u->camera = path;
    u->camera_len = slash - path;

    p = slash + 1;
    len = last - p;

    if (len == 10 && memcmp(p, "index.m3u8", 10) == 0) {
        u->type = BH_URI_PLAYLIST;
        return BH_OK;
    }

    if (len == 11 && memcmp(p, "master.m3u8", 11) == 0) {
        u->type = BH_URI_MULTIVARIANT;
        return BH_OK;
    }

    if (len == 8 && memcmp(p, "init.mp4", 8) == 0) {
        u->type = BH_URI_INIT;
        u->current = 1;
        return BH_OK;
    }

    if (len > 9 && memcmp(p, "init-", 5) == 0 && bh_suffix(p, last, ".mp4"))
    {
        /* init-<8 lowercase hex digits>.mp4 */

        if (len != 17) {
            return BH_INVALID;
        }

        n = 0;

        for (p += 5; p < last - 4; p++) {
            if (*p >= '0' && *p <= '9') {
                n = n * 16 + (*p - '0');

            } else if (*p >= 'a' && *p <= 'f') {
                n = n * 16 + (*p - 'a' + 10);

            } else {
                return BH_INVALID;
            }
        }

        u->type = BH_URI_INIT;
        u->init_id = (uint32_t) n;
        return BH_OK;
    }

    if (bh_suffix(p, last, ".m4s")) {
        u->format = BH_FORMAT_FMP4;
        end = last - 4;

    } else if (bh_suffix(p, last, ".ts")) {
        u->format = BH_FORMAT_MPEGTS;
        end = last - 3;

    } else {
        return BH_INVALID;
    }

    if (end - p > 4 && memcmp(p, "seg-", 4) == 0) {
        if (bh_parse_dec(p + 4, end, BH_MAX_MSN, &u->msn) != end) {
            return BH_INVALID;
        }

        u->type = BH_URI_SEGMENT;
        return BH_OK;
    }

    if (end - p > 5 && memcmp(p, "part-", 5) == 0) {
        if (bh_parse_dec(p + 5, end, BH_MAX_MSN, &u->part) != end) {
            return BH_INVALID;
        }

        u->type = BH_URI_PART;
        return BH_OK;
    }

    return BH_INVALID;
}


/*
 * _HLS_msn=<n>, _HLS_part=<n>, _HLS_skip=YES|v2; other arguments (cache
 * busters, tokens) are ignored.  _HLS_part without _HLS_msn is invalid.
 */

bh_status_t
bh_query_parse(const char *args, size_t len, bh_query_t *q)
{
    size_t       nlen, vlen;
    uint64_t     n;
    const char  *p, *last, *amp, *eq, *v;

    memset(q, 0, sizeof(bh_query_t));

    if (len == 0) {
        return BH_OK;                       /* args may be NULL then */
    }

    p = args;
    last = args + len;

    while (p < last) {
        amp = memchr(p, '&', last - p);
        if (amp == NULL) {
            amp = last;
        }

        eq = memchr(p, '=', amp - p);

        if (eq != NULL) {
            nlen = eq - p;
            v = eq + 1;
            vlen = amp - v;

            if (nlen == 8 && memcmp(p, "_HLS_msn", 8) == 0) {
                if (vlen == 0
                    || bh_parse_dec(v, amp, BH_MAX_MSN, &n) != amp)
                {
                    return BH_INVALID;
                }

                q->msn = n;
                q->has_msn = 1;

            } else if (nlen == 9 && memcmp(p, "_HLS_part", 9) == 0) {
                if (vlen == 0
                    || bh_parse_dec(v, amp, BH_MAX_PART, &n) != amp)
                {
                    return BH_INVALID;
                }

                q->part = (uint32_t) n;
                q->has_part = 1;

            } else if (nlen == 9 && memcmp(p, "_HLS_skip", 9) == 0) {
                if (vlen == 3 && memcmp(v, "YES", 3) == 0) {
                    q->skip = 1;

                } else if (vlen == 2 && memcmp(v, "v2", 2) == 0) {
                    q->skip = 2;

                } else {
                    return BH_INVALID;
                }
            }
        }

        p = amp + 1;
    }

    if (q->has_part && !q->has_msn) {
        return BH_INVALID;
    }

    return BH_OK;
}


/* decimal without sign or leading zeros, at most max; NULL if invalid */

static const char *
bh_parse_dec(const char *p, const char *last, uint64_t max, uint64_t *n)
{
    uint64_t  v;

    if (p >= last || *p < '0' || *p > '9' || (*p == '0' && p + 1 < last
                                              && p[1] >= '0' && p[1] <= '9'))
    {
        return NULL;
    }

    for (v = 0; p < last && *p >= '0' && *p <= '9'; p++) {
        if (v > (max - (*p - '0')) / 10) {
            return NULL;
        }

        v = v * 10 + (*p - '0');
    }

    *n = v;

    return p;
}


static int
bh_suffix(const char *p, const char *last, const char *s)
{
    size_t  n;

    n = strlen(s);

    return (size_t) (last - p) > n && memcmp(last - n, s, n) == 0;
}
