
/*
 * Fuzz target for the request path and query parsers (core/bh_uri.c),
 * the part of the module that reads untrusted bytes from every request.
 *
 *     make fuzz FUZZ_SECONDS=600      libFuzzer, clang, ASan + UBSan
 *     build/replay_uri FILE...         replays a corpus (make test does)
 *
 * The input is split at the first '?' into a path and a query, as nginx
 * splits r->uri and r->args.  Beyond not crashing, it checks what the
 * parsers promise: a parsed camera name is valid and lies inside the
 * input, numbers are within their bounds, and parsing is deterministic.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bh_media.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char         *buf, *q;
    size_t        plen, qlen;
    bh_uri_t      u, u2;
    bh_query_t    query;

    /* an exact-size copy, so that ASan sees any read past the end */

    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return 0;
    }

    memcpy(buf, data, size);

    q = memchr(buf, '?', size);
    plen = q ? (size_t) (q - buf) : size;
    qlen = q ? size - plen - 1 : 0;

    if (bh_uri_parse(buf, plen, &u) == BH_OK) {

        if (u.camera != buf || u.camera_len == 0 || u.camera_len >= plen
            || !bh_valid_name(u.camera, u.camera_len)
            || u.msn > BH_MAX_MSN || u.part > BH_MAX_PART)
        {
            abort();
        }

        if (bh_uri_parse(buf, plen, &u2) != BH_OK
            || memcmp(&u, &u2, sizeof(bh_uri_t)) != 0)
        {
            abort();
        }
    }

    if (q != NULL && bh_query_parse(q + 1, qlen, &query) == BH_OK) {

        if ((query.has_part && !query.has_msn) || query.msn > BH_MAX_MSN
            || query.part > BH_MAX_PART)
        {
            abort();
        }
    }

    free(buf);

    return 0;
}
