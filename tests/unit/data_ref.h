/* Reference models for the DATA codec tests (test_data.c, fuzz_data.c):
 * slow, byte-at-a-time, written straight from the rules in data.h so the fast
 * decoder can be checked against them. Header-only. */
#ifndef SMTPKIT_DATA_REF_H
#define SMTPKIT_DATA_REF_H

#include <stddef.h>
#include <string.h>

#include "smtpkit/data.h"

/* Naive end-of-data search: the data begins at a line start, so the end is
 * the first "\r\n.\r\n" in "\r\n" + in. Returns the bytes up to and
 * including it, or 0 when there is none. */
static inline size_t ref_end_of_data(const char *in, size_t n)
{
    size_t i;
    if (n >= 3 && in[0] == '.' && in[1] == '\r' && in[2] == '\n')
        return 3;
    for (i = 0; i + 5 <= n; i++) {
        if (memcmp(in + i, "\r\n.\r\n", 5) == 0)
            return i + 5;
    }
    return 0;
}

typedef struct ref_result {
    size_t outlen;   /* bytes delivered */
    size_t consumed; /* bytes consumed (n unless done) */
    int done;
    unsigned flags;
} ref_result;

/*
 * What the decoder must have delivered after being fed all of `in`. `out`
 * needs room for 2 * n bytes. `max_line` as for
 * smtpkit_data_decoder_set_max_line (0 = no limit).
 */
static inline ref_result ref_decode(const char *in, size_t n, int norm, size_t max_line,
                                    char *out)
{
    enum { NONE, REAL, SOFT } bol = REAL;
    size_t lim = max_line == 0 ? (size_t)-1 : (max_line > 2 ? max_line - 2 : 0);
    size_t i = 0, line_len = 0;
    ref_result r;
    memset(&r, 0, sizeof r);
    r.consumed = n;
    while (i < n) {
        unsigned char c = (unsigned char)in[i];
        if (bol != NONE && c == '.') {
            if (bol == REAL) {
                if (i + 1 == n)
                    break; /* a lone "." so far: nothing to deliver yet */
                if (in[i + 1] == '\r') {
                    if (i + 2 == n)
                        break; /* "." CR so far: the CR is held back */
                    if (in[i + 2] == '\n') {
                        r.done = 1;
                        r.consumed = i + 3;
                        break;
                    }
                }
            }
            i++; /* the dot is removed */
            bol = NONE;
            line_len = 0;
            continue;
        }
        if (bol != NONE)
            line_len = 0;
        if (c == '\r' && i + 1 < n && in[i + 1] == '\n') {
            out[r.outlen++] = '\r';
            out[r.outlen++] = '\n';
            i += 2;
            bol = REAL;
            continue;
        }
        if (c == '\r' && i + 1 == n) {
            out[r.outlen++] = '\r'; /* delivered; whether it is bare is not known yet */
            i++;
            break;
        }
        if (c == '\r' || c == '\n') {
            r.flags |= c == '\r' ? SMTPKIT_DATA_SAW_BARE_CR : SMTPKIT_DATA_SAW_BARE_LF;
            if (norm) {
                out[r.outlen++] = '\r';
                out[r.outlen++] = '\n';
                bol = SOFT;
                i++;
                continue;
            }
        } else if (c == 0) {
            r.flags |= SMTPKIT_DATA_SAW_NUL;
        } else if (c >= 0x80) {
            r.flags |= SMTPKIT_DATA_SAW_8BIT;
        }
        out[r.outlen++] = (char)c;
        bol = NONE;
        if (++line_len > lim)
            r.flags |= SMTPKIT_DATA_SAW_LONG_LINE;
        i++;
    }
    return r;
}

/* CRLF-normalise `in` as the encoder must (bare CR, bare LF, CRLF -> CRLF)
 * and end it with a line end when it is not empty. `out` needs 2 * n + 2. */
static inline size_t ref_normalise(const char *in, size_t n, char *out)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        if (in[i] == '\r' || in[i] == '\n') {
            out[o++] = '\r';
            out[o++] = '\n';
            if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
                i++;
        } else {
            out[o++] = in[i];
        }
    }
    if (o && !(o >= 2 && out[o - 2] == '\r' && out[o - 1] == '\n')) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    return o;
}

#endif /* SMTPKIT_DATA_REF_H */
