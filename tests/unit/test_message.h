/* Helpers shared by the message builder tests: read a message out in
 * various ways, a tiny MIME splitter, header unfolding and RFC 2047 /
 * RFC 2231 decoders (independent of the code under test). Header-only. */
#ifndef SMTPKIT_TEST_MESSAGE_H
#define SMTPKIT_TEST_MESSAGE_H

#include <ctype.h>
#include <strings.h>

#include "internal.h"
#include "smtpkit/smtpkit.h"
#include "test.h"

/* Read the whole message through smtpkit_message_open() in reads of
 * `chunk` bytes. Returns a malloc'd buffer (NUL-terminated) or NULL. */
static inline char *tm_read(smtpkit_message *m, size_t chunk, size_t *len, int *err)
{
    smtpkit_source src;
    size_t cap = 4096, n = 0;
    char *out = (char *)malloc(cap + 1);
    int r = smtpkit_message_open(m, &src);
    *err = r;
    *len = 0;
    if (r) {
        free(out);
        return NULL;
    }
    for (;;) {
        smtpkit_ssize k;
        if (cap - n < chunk) {
            cap = (cap + chunk) * 2;
            out = (char *)realloc(out, cap + 1);
        }
        k = src.read(src.ctx, out + n, chunk);
        if (k == SMTPKIT_ERR_WOULDBLOCK)
            continue;
        if (k < 0) {
            *err = (int)k;
            free(out);
            return NULL;
        }
        if (k == 0)
            break;
        CHECK((size_t)k <= chunk);
        n += (size_t)k;
    }
    out[n] = 0;
    *len = n;
    if (src.size >= 0)
        CHECK_INT(src.size, n);
    return out;
}

/* Read the message in several ways (reads of 1, 7, 16 and 65536 bytes,
 * rewinding between, and the push form) and check all agree. */
static inline char *tm_build(smtpkit_message *m, size_t *len)
{
    static const size_t chunks[] = {65536, 1, 7, 16, 100};
    size_t i, n0 = 0;
    int err;
    char *first = tm_read(m, chunks[0], &n0, &err);
    CHECK_INT(err, 0);
    if (!first)
        return NULL;
    for (i = 1; i < sizeof chunks / sizeof chunks[0]; i++) {
        size_t n;
        char *again = tm_read(m, chunks[i], &n, &err);
        CHECK_INT(err, 0);
        CHECK(again && n == n0 && memcmp(again, first, n) == 0);
        free(again);
    }
    *len = n0;
    return first;
}

/* ---- line checks ---- */

/* Every line ends in CRLF (no bare CR or LF) and is at most `max` octets. */
static inline int tm_lines_ok(const char *s, size_t n, size_t max, size_t *longest)
{
    size_t i, line = 0, lg = 0;
    int ok = 1;
    for (i = 0; i < n; i++) {
        if (s[i] == '\r') {
            if (i + 1 >= n || s[i + 1] != '\n')
                ok = 0;
            if (line > lg)
                lg = line;
            line = 0;
            i++;
        } else if (s[i] == '\n') {
            ok = 0;
        } else {
            line++;
        }
    }
    if (line > lg)
        lg = line;
    if (longest)
        *longest = lg;
    return ok && lg <= max;
}

/* ---- entities ---- */

typedef struct tm_entity {
    const char *hdr;
    size_t hlen; /* header block including its final CRLF */
    const char *body;
    size_t blen;
} tm_entity;

static inline int tm_split(const char *s, size_t n, tm_entity *e)
{
    size_t i;
    if (n >= 2 && s[0] == '\r' && s[1] == '\n') {
        e->hdr = s;
        e->hlen = 0;
        e->body = s + 2;
        e->blen = n - 2;
        return 1;
    }
    for (i = 0; i + 3 < n; i++) {
        if (!memcmp(s + i, "\r\n\r\n", 4)) {
            e->hdr = s;
            e->hlen = i + 2;
            e->body = s + i + 4;
            e->blen = n - i - 4;
            return 1;
        }
    }
    return 0;
}

/* Unfolded value of the first field `name` (case-insensitive), leading
 * white space removed, in out[cap]. Returns its length or -1. */
static inline long tm_header(const tm_entity *e, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name), i = 0;
    while (i < e->hlen) {
        size_t j = i;
        while (j + 1 < e->hlen && !(e->hdr[j] == '\r' && e->hdr[j + 1] == '\n'))
            j++;
        if (j - i > nl && e->hdr[i + nl] == ':' && strncasecmp(e->hdr + i, name, nl) == 0) {
            size_t o = 0, k = i + nl + 1;
            while (k < e->hlen && e->hdr[k] == ' ')
                k++;
            for (;;) {
                while (k < e->hlen && !(e->hdr[k] == '\r' && e->hdr[k + 1] == '\n')) {
                    if (o + 1 < cap)
                        out[o++] = e->hdr[k];
                    k++;
                }
                /* RFC 5322 2.2.3: unfolding removes the CRLF before WSP */
                if (k + 2 < e->hlen && (e->hdr[k + 2] == ' ' || e->hdr[k + 2] == '\t')) {
                    k += 2;
                    continue;
                }
                break;
            }
            out[o] = 0;
            return (long)o;
        }
        i = j + 2;
    }
    return -1;
}

/* Number of fields called `name`. */
static inline int tm_header_count(const tm_entity *e, const char *name)
{
    size_t nl = strlen(name), i = 0;
    int c = 0;
    while (i < e->hlen) {
        if ((i == 0 || e->hdr[i - 1] == '\n') && i + nl < e->hlen && e->hdr[i + nl] == ':' &&
            strncasecmp(e->hdr + i, name, nl) == 0)
            c++;
        i++;
    }
    return c;
}

/* Value of parameter `p` of a (unfolded) structured value, unquoted. */
static inline int tm_param(const char *v, const char *p, char *out, size_t cap)
{
    size_t pl = strlen(p);
    const char *s = v;
    while ((s = strchr(s, ';')) != NULL) {
        s++;
        while (*s == ' ' || *s == '\t')
            s++;
        if (strncasecmp(s, p, pl) == 0 && s[pl] == '=') {
            size_t o = 0;
            s += pl + 1;
            if (*s == '"') {
                s++;
                while (*s && *s != '"' && o + 1 < cap) {
                    if (*s == '\\')
                        s++;
                    out[o++] = *s++;
                }
            } else {
                while (*s && *s != ';' && *s != ' ' && o + 1 < cap)
                    out[o++] = *s++;
            }
            out[o] = 0;
            return 1;
        }
    }
    return 0;
}

/* The tree of parts as "mixed(alternative(text/plain,text/html),image/png)". */
static inline void tm_structure(const char *s, size_t n, test_log *out, int depth)
{
    tm_entity e;
    char ct[2048], type[128], bnd[128], delim[140];
    size_t i, dl;
    const char *p, *end;
    int first = 1;
    if (depth > 8 || !tm_split(s, n, &e)) {
        test_log_add(out, "?");
        return;
    }
    if (tm_header(&e, "Content-Type", ct, sizeof ct) < 0)
        strcpy(ct, "text/plain");
    for (i = 0; ct[i] && ct[i] != ';' && i + 1 < sizeof type; i++)
        type[i] = (char)tolower((unsigned char)ct[i]);
    type[i] = 0;
    if (strncmp(type, "multipart/", 10) != 0) {
        test_log_add(out, "%s", type);
        return;
    }
    if (!tm_param(ct, "boundary", bnd, sizeof bnd)) {
        test_log_add(out, "?noboundary");
        return;
    }
    test_log_add(out, "%s(", type + 10);
    dl = (size_t)snprintf(delim, sizeof delim, "--%s", bnd);
    p = e.body;
    end = e.body + e.blen;
    /* the first delimiter starts the body (no preamble) */
    if ((size_t)(end - p) < dl || memcmp(p, delim, dl) != 0) {
        test_log_add(out, "?first)");
        return;
    }
    p += dl;
    for (;;) {
        const char *q;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break; /* close delimiter */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            test_log_add(out, "?delim");
            break;
        }
        p += 2;
        /* find CRLF delim */
        for (q = p; q + 2 + dl <= end; q++) {
            if (q[0] == '\r' && q[1] == '\n' && memcmp(q + 2, delim, dl) == 0)
                break;
        }
        if (q + 2 + dl > end) {
            test_log_add(out, "?unterminated");
            break;
        }
        if (!first)
            test_log_add(out, ",");
        first = 0;
        tm_structure(p, (size_t)(q - p), out, depth + 1);
        p = q + 2 + dl;
    }
    test_log_add(out, ")");
}

/* Find the n-th leaf entity (depth-first) of a message. */
static inline int tm_leaf(const char *s, size_t n, int *index, tm_entity *leaf)
{
    tm_entity e;
    char ct[2048], bnd[128], delim[140];
    size_t dl;
    const char *p, *end;
    if (!tm_split(s, n, &e))
        return 0;
    if (tm_header(&e, "Content-Type", ct, sizeof ct) < 0 || strncasecmp(ct, "multipart/", 10)) {
        if ((*index)-- == 0) {
            *leaf = e;
            return 1;
        }
        return 0;
    }
    if (!tm_param(ct, "boundary", bnd, sizeof bnd))
        return 0;
    dl = (size_t)snprintf(delim, sizeof delim, "--%s", bnd);
    p = e.body + dl;
    end = e.body + e.blen;
    for (;;) {
        const char *q;
        if (end - p < 2 || p[0] != '\r')
            return 0;
        p += 2;
        for (q = p; q + 2 + dl <= end; q++) {
            if (q[0] == '\r' && q[1] == '\n' && memcmp(q + 2, delim, dl) == 0)
                break;
        }
        if (q + 2 + dl > end)
            return 0;
        if (tm_leaf(p, (size_t)(q - p), index, leaf))
            return 1;
        p = q + 2 + dl;
    }
}

/* ---- decoders ---- */

static inline int tm_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Well-formed UTF-8? */
static inline int tm_utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t need, k;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (s[i] >= 0xC2 && s[i] <= 0xDF)
            need = 1;
        else if (s[i] >= 0xE0 && s[i] <= 0xEF)
            need = 2;
        else if (s[i] >= 0xF0 && s[i] <= 0xF4)
            need = 3;
        else
            return 0;
        for (k = 1; k <= need; k++) {
            if (i + k >= n || (s[i + k] & 0xC0) != 0x80)
                return 0;
        }
        i += need + 1;
    }
    return 1;
}

/* Decode one encoded word "=?UTF-8?X?...?=" of length wl; returns decoded
 * length or -1. */
static inline long tm_decode_ew(const char *w, size_t wl, char *out)
{
    size_t i, o = 0;
    if (wl < 12 || strncasecmp(w, "=?UTF-8?", 8) != 0 || w[9] != '?' || w[wl - 2] != '?' ||
        w[wl - 1] != '=')
        return -1;
    if (w[8] == 'Q' || w[8] == 'q') {
        for (i = 10; i < wl - 2; i++) {
            if (w[i] == '_') {
                out[o++] = ' ';
            } else if (w[i] == '=') {
                int h = tm_hexval(w[i + 1]), l = tm_hexval(w[i + 2]);
                if (h < 0 || l < 0)
                    return -1;
                out[o++] = (char)(h * 16 + l);
                i += 2;
            } else if (w[i] == '?' || w[i] == ' ') {
                return -1;
            } else {
                out[o++] = w[i];
            }
        }
        return (long)o;
    }
    if (w[8] == 'B' || w[8] == 'b') {
        smtpkit_ssize r = smtpkit_base64_decode(w + 10, wl - 12, out, wl);
        return r < 0 ? -1 : (long)r;
    }
    return -1;
}

/* Decode an unfolded unstructured value: encoded words (each checked to
 * be <= 75 characters and whole UTF-8 on its own) are decoded and white
 * space between two of them is dropped (RFC 2047 6.2). Returns length or
 * -1 on a malformed word. */
static inline long tm_decode_text(const char *v, char *out, size_t cap)
{
    size_t i = 0, o = 0, n = strlen(v);
    int prev_ew = 0;
    while (i < n) {
        size_t ws = i, we, t;
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        we = i;
        while (i < n && v[i] != ' ' && v[i] != '\t')
            i++;
        if (we == i) {
            /* trailing white space */
            for (t = ws; t < we && o + 1 < cap; t++)
                out[o++] = v[t];
            break;
        }
        if (i - we >= 2 && v[we] == '=' && v[we + 1] == '?') {
            char tmp[128];
            long d;
            if (i - we > 75)
                return -1;
            d = tm_decode_ew(v + we, i - we, tmp);
            if (d < 0 || !tm_utf8_ok((const unsigned char *)tmp, (size_t)d))
                return -1;
            if (!prev_ew)
                for (t = ws; t < we && o + 1 < cap; t++)
                    out[o++] = v[t];
            for (t = 0; t < (size_t)d && o + 1 < cap; t++)
                out[o++] = tmp[t];
            prev_ew = 1;
        } else {
            for (t = ws; t < i && o + 1 < cap; t++)
                out[o++] = v[t];
            prev_ew = 0;
        }
    }
    out[o] = 0;
    return (long)o;
}

/* Decode RFC 2231 `attr` (attr*=, attr*0*=/attr*1*=..., or attr="...")
 * from an unfolded structured value. Returns length or -1. */
static inline long tm_decode_2231(const char *v, const char *attr, char *out, size_t cap)
{
    char key[64], val[1024];
    size_t o = 0;
    int k;
    snprintf(key, sizeof key, "%s*", attr);
    if (tm_param(v, key, val, sizeof val)) {
        const char *p = strstr(val, "''");
        if (!p || strncasecmp(val, "UTF-8''", 7) != 0)
            return -1;
        for (p += 2; *p; p++) {
            if (*p == '%') {
                out[o++] = (char)(tm_hexval(p[1]) * 16 + tm_hexval(p[2]));
                p += 2;
            } else {
                out[o++] = *p;
            }
        }
        out[o] = 0;
        return (long)o;
    }
    for (k = 0;; k++) {
        const char *p;
        snprintf(key, sizeof key, "%s*%d*", attr, k);
        if (!tm_param(v, key, val, sizeof val))
            break;
        p = val;
        if (k == 0) {
            if (strncasecmp(val, "UTF-8''", 7) != 0)
                return -1;
            p += 7;
        }
        for (; *p && o + 1 < cap; p++) {
            if (*p == '%') {
                out[o++] = (char)(tm_hexval(p[1]) * 16 + tm_hexval(p[2]));
                p += 2;
            } else {
                out[o++] = *p;
            }
        }
    }
    if (k > 0) {
        out[o] = 0;
        return (long)o;
    }
    if (tm_param(v, attr, val, sizeof val)) {
        strcpy(out, val);
        return (long)strlen(out);
    }
    return -1;
}

/* ---- sources ---- */

/* A source of `size` pseudo-random bytes (seeded), optionally lying about
 * its size, optionally returning WOULDBLOCK every other call. */
typedef struct tm_gen {
    uint64_t size, pos, seed;
    int64_t claim;  /* size to announce (-1 = unknown) */
    int wouldblock; /* WOULDBLOCK twice before each read with data */
    int flip;
    size_t max_read;
} tm_gen;

static inline unsigned char tm_gen_byte(const tm_gen *g, uint64_t i)
{
    uint64_t z = (g->seed + i) * 0x9e3779b97f4a7c15ULL;
    z ^= z >> 29;
    return (unsigned char)(z ^ (z >> 17));
}

static inline smtpkit_ssize tm_gen_read(void *ctx, char *buf, size_t len)
{
    tm_gen *g = (tm_gen *)ctx;
    size_t n, i;
    /* two "not yet" for every read with data */
    if (g->wouldblock && (g->flip = (g->flip + 1) % 3) != 0)
        return SMTPKIT_ERR_WOULDBLOCK;
    n = (size_t)SMTPKIT_MIN((uint64_t)len, g->size - g->pos);
    if (g->max_read && n > g->max_read)
        n = g->max_read;
    for (i = 0; i < n; i++)
        buf[i] = (char)tm_gen_byte(g, g->pos + i);
    g->pos += n;
    return (smtpkit_ssize)n;
}

static inline int tm_gen_rewind(void *ctx)
{
    ((tm_gen *)ctx)->pos = 0;
    return 0;
}

static inline void tm_gen_source(smtpkit_source *s, tm_gen *g, uint64_t size, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    g->size = size;
    g->seed = seed;
    g->claim = (int64_t)size;
    s->read = tm_gen_read;
    s->rewind = tm_gen_rewind;
    s->ctx = g;
    s->size = (int64_t)size;
}

/* Decode a base64 body (CRLF lines) and compare with the generator; also
 * checks every line but the last is exactly 76 characters. */
static inline int tm_b64_matches(const char *body, size_t n, const tm_gen *g)
{
    smtpkit_base64_decoder d;
    char *out = (char *)malloc(n + 16);
    size_t i, line = 0, lines = 0, last = 0;
    smtpkit_ssize r;
    int ok = 1;
    for (i = 0; i < n; i++) {
        if (body[i] == '\r') {
            if (line != 76)
                last++;
            lines++;
            line = 0;
            i++;
        } else {
            line++;
        }
    }
    if (line)
        ok = 0;     /* the body ends with CRLF */
    if (last > 1)
        ok = 0;     /* only the last line may be short */
    smtpkit_base64_decoder_init(&d);
    r = smtpkit_base64_decoder_update(&d, body, n, out, n + 16);
    if (r < 0 || smtpkit_base64_decoder_finish(&d) != 0 || (uint64_t)r != g->size)
        ok = 0;
    for (i = 0; ok && i < (size_t)r; i++) {
        if ((unsigned char)out[i] != tm_gen_byte(g, i))
            ok = 0;
    }
    free(out);
    return ok;
}

#endif /* SMTPKIT_TEST_MESSAGE_H */
