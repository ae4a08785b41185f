/* Fuzz the quoted-printable encoder (RFC 2045 6.7) and the CRLF normaliser
 * of the message builder (lib/core/qp.c).
 *
 * Byte 0 chooses the output room per call (from SMTPKIT__QP_MIN_OUT up)
 * and byte 1 how the input is cut into reads; the rest is the text. The
 * harness streams like the builder: bytes an encoder leaves unconsumed
 * (lookahead) are kept and handed in again with the next read.
 *
 * Invariants checked:
 * - progress: a call with room SMTPKIT__QP_MIN_OUT consumes or writes
 *   something, unless it waits for lookahead (at most
 *   SMTPKIT__QP_LOOKAHEAD bytes left, not at the end);
 * - the same output whole and in any cut, with any output room;
 * - the QP output is well-formed: only CRLF line breaks, lines of at most
 *   76 characters, printable ASCII, space and tab only, "=" only as "=XX"
 *   (upper-case hex) or as a soft break, no space or tab before a line
 *   break, no line starting with "." or "From ";
 * - it decodes (with an independent decoder) to the input with every CRLF,
 *   LF and lone CR as CRLF; the normaliser's output is exactly that. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qp.h"

#define FZ_ASSERT(c)                                                                          \
    do {                                                                                      \
        if (!(c)) {                                                                           \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #c);    \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const char *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n)
            cap *= 2;
        b->p = (char *)realloc(b->p, cap);
        FZ_ASSERT(b->p != NULL);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

/* Run one encoder over `in`, cut into reads by `cutter`, with `room`
 * bytes of output per call. mode 0: QP, 1: CRLF normaliser. */
static void run(int mode, const unsigned char *in, size_t len, unsigned cutter, size_t room, buf *out)
{
    smtpkit__qp q;
    unsigned char pending[4096 + SMTPKIT__QP_LOOKAHEAD + 16];
    char obuf[4096];
    size_t have = 0, pos = 0;
    unsigned rnd = cutter * 2654435761u + 1u;
    int guard = 0;
    smtpkit__qp_init(&q);
    FZ_ASSERT(room >= SMTPKIT__QP_MIN_OUT && room <= sizeof obuf);
    for (;;) {
        size_t take, used, olen = 0;
        int eof;
        /* the next read: 1..64 bytes, or all at once when cutter is 0 */
        rnd = rnd * 1103515245u + 12345u;
        take = cutter ? 1 + (rnd >> 16) % 64 : len - pos;
        if (take > len - pos)
            take = len - pos;
        if (take > sizeof pending - have)
            take = sizeof pending - have;
        memcpy(pending + have, in + pos, take);
        have += take;
        pos += take;
        eof = pos == len;
        used = mode == 0 ? smtpkit__qp_encode(&q, pending, have, eof, obuf, room, &olen)
                         : smtpkit__crlf_normalize(pending, have, eof, obuf, room, &olen);
        FZ_ASSERT(used <= have && olen <= room);
        if (used == 0 && olen == 0 && have > 0)
            FZ_ASSERT(!eof && have <= SMTPKIT__QP_LOOKAHEAD);
        put(out, obuf, olen);
        memmove(pending, pending + used, have - used);
        have -= used;
        if (eof && have == 0)
            break;
        FZ_ASSERT(++guard < 10000000);
    }
}

/* Every CRLF, LF and lone CR as CRLF. */
static void normalize(const unsigned char *in, size_t len, buf *out)
{
    size_t i;
    for (i = 0; i < len; i++) {
        if (in[i] == '\r') {
            if (i + 1 < len && in[i + 1] == '\n')
                i++;
            put(out, "\r\n", 2);
        } else if (in[i] == '\n') {
            put(out, "\r\n", 2);
        } else {
            put(out, (const char *)in + i, 1);
        }
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* RFC 2045 6.7: encoders use upper case */
}

/* Check the form of quoted-printable text and decode it. */
static void check_and_decode(const char *p, size_t n, buf *dec)
{
    size_t i = 0, line_start = 0;
    while (i < n) {
        char c = p[i];
        if (c == '\r') {
            FZ_ASSERT(i + 1 < n && p[i + 1] == '\n'); /* no bare CR */
            FZ_ASSERT(i - line_start <= 76);
            FZ_ASSERT(i == line_start || (p[i - 1] != ' ' && p[i - 1] != '\t'));
            put(dec, "\r\n", 2);
            i += 2;
            line_start = i;
            continue;
        }
        FZ_ASSERT(c != '\n'); /* no bare LF */
        if (i == line_start) {
            FZ_ASSERT(c != '.');
            FZ_ASSERT(!(n - i >= 5 && memcmp(p + i, "From ", 5) == 0));
        }
        if (c == '=') {
            FZ_ASSERT(i + 2 < n);
            if (p[i + 1] == '\r') {
                /* soft line break: "=" is the line's last character */
                FZ_ASSERT(p[i + 2] == '\n');
                FZ_ASSERT(i + 1 - line_start <= 76);
                i += 3;
                line_start = i;
                continue;
            }
            {
                int hi = hexval(p[i + 1]), lo = hexval(p[i + 2]);
                char b;
                FZ_ASSERT(hi >= 0 && lo >= 0);
                b = (char)(hi * 16 + lo);
                put(dec, &b, 1);
            }
            i += 3;
            continue;
        }
        FZ_ASSERT(c == ' ' || c == '\t' || (c >= 33 && c <= 126));
        put(dec, &c, 1);
        i++;
    }
    FZ_ASSERT(n - line_start <= 76);
    /* white space at the very end would be lost by transports too */
    FZ_ASSERT(n == line_start || (p[n - 1] != ' ' && p[n - 1] != '\t'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf whole = {0}, split = {0}, norm = {0}, dec = {0}, crlf = {0}, crlf_split = {0};
    const unsigned char *in;
    size_t len, room;
    unsigned cutter;
    if (size < 2 || size > 65536)
        return 0;
    room = SMTPKIT__QP_MIN_OUT + (size_t)data[0] * 16;
    cutter = data[1];
    in = data + 2;
    len = size - 2;

    run(0, in, len, 0, 4096, &whole);
    run(0, in, len, cutter | 1u, room, &split);
    FZ_ASSERT(whole.n == split.n && (whole.n == 0 || memcmp(whole.p, split.p, whole.n) == 0));
    check_and_decode(whole.p, whole.n, &dec);
    normalize(in, len, &norm);
    FZ_ASSERT(dec.n == norm.n && (norm.n == 0 || memcmp(dec.p, norm.p, norm.n) == 0));

    run(1, in, len, 0, 4096, &crlf);
    run(1, in, len, cutter | 1u, room, &crlf_split);
    FZ_ASSERT(crlf.n == norm.n && (norm.n == 0 || memcmp(crlf.p, norm.p, norm.n) == 0));
    FZ_ASSERT(crlf_split.n == norm.n && (norm.n == 0 || memcmp(crlf_split.p, norm.p, norm.n) == 0));

    free(whole.p);
    free(split.p);
    free(norm.p);
    free(dec.p);
    free(crlf.p);
    free(crlf_split.p);
    return 0;
}
