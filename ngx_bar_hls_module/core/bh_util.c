
/*
 * ngx_bar_hls_module media core: status texts, redaction, clocks.
 */


#include <string.h>
#include <time.h>

#include "bh_media.h"


static const char *bh_status_texts[] = {
    "ok",
    "error",
    "out of memory",
    "invalid input",
    "unsupported stream",
    "buffer too small",
    "authentication failed",
    "network error",
    "timed out",
    "end of stream",
    "protocol error",
    "stopped",
    "over a limit",
    "not yet",
    "not found"
};


static const char *bh_state_texts[] = {
    "connecting",
    "streaming",
    "backoff",
    "error",
    "limited"
};


const char *
bh_status_text(bh_status_t status)
{
    if ((size_t) status >= sizeof(bh_status_texts) / sizeof(char *)) {
        return "unknown";
    }

    return bh_status_texts[status];
}


const char *
bh_state_text(bh_state_t state)
{
    if ((size_t) state >= sizeof(bh_state_texts) / sizeof(char *)) {
        return "unknown";
    }

    return bh_state_texts[state];
}


size_t
bh_redact_url(const char *url, char *buf, size_t len)
{
    char  secret[256];

    /* the password also goes wherever else it appears, a query included */

    bh_url_password(url, secret, sizeof(secret));
    bh_redact_text(url, secret, buf, len);

    memset(secret, 0, sizeof(secret));

    return strlen(buf);
}


void
bh_url_password(const char *url, char *buf, size_t len)
{
    size_t       n;
    const char  *p, *at, *slash, *colon;

    buf[0] = '\0';

    p = strstr(url, "://");
    if (p == NULL) {
        return;
    }

    p += 3;
    at = strchr(p, '@');
    slash = strchr(p, '/');

    if (at == NULL || (slash != NULL && slash < at)) {
        return;
    }

    colon = memchr(p, ':', at - p);

    if (colon != NULL && (n = at - colon - 1) > 0 && n < len) {
        memcpy(buf, colon + 1, n);
        buf[n] = '\0';
    }
}


void
bh_redact_text(const char *text, const char *secret, char *buf, size_t len)
{
    size_t       n, slen;
    const char  *p, *q, *at;

    if (len == 0) {
        return;
    }

    slen = (secret != NULL) ? strlen(secret) : 0;
    n = 0;
    p = text;

    while (*p != '\0' && n + 1 < len) {

        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {

            /* a URL: is there a userinfo before the host? */

            at = NULL;

            for (q = p + 3; *q != '\0'; q++) {
                if (*q == '@') {
                    at = q;
                    break;
                }

                if (*q == '/' || *q == ' ' || *q == '"' || *q == '\''
                    || *q == '\n' || *q == '>' || *q == '?' || *q == '#')
                {
                    break;
                }
            }

            if (at != NULL) {
                if (n + 6 >= len) {
                    break;
                }

                memcpy(buf + n, "://***", 6);
                n += 6;
                p = at;
                continue;
            }
        }

        if (slen > 0 && strncmp(p, secret, slen) == 0) {
            if (n + 3 >= len) {
                break;
            }

            memcpy(buf + n, "***", 3);
            n += 3;
            p += slen;
            continue;
        }

        buf[n++] = *p++;
    }

    buf[n] = '\0';
}


int64_t
bh_wallclock(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * BH_USEC + ts.tv_nsec / 1000;
}


int64_t
bh_monotonic(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * BH_USEC + ts.tv_nsec / 1000;
}


int
bh_valid_name(const char *name, size_t len)
{
    size_t  i;
    char    c;

    if (len == 0 || len > 64) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/* CRC-32 (IEEE 802.3, as zlib's and nginx's), four bits at a time */

uint32_t
bh_crc32(const void *data, size_t len)
{
    size_t          i;
    uint32_t        crc;
    const uint8_t  *p;

    static const uint32_t  table[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac,
        0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
        0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
        0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c
    };

    p = data;
    crc = 0xffffffff;

    for (i = 0; i < len; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ table[crc & 0x0f];
        crc = (crc >> 4) ^ table[crc & 0x0f];
    }

    return crc ^ 0xffffffff;
}
