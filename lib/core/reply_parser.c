/* Push parser for SMTP replies (RFC 5321 4.2) with enhanced status codes
 * (RFC 2034, RFC 3463).
 *
 * Framing: memchr finds each LF inside a window of at most max_line bytes, so
 * a line is looked at once to frame it, once for NUL and once for its code.
 * A line that is whole inside the caller's data is handed out as a view into
 * it; only a line cut by the end of a feed is copied into _buf (the CR of a
 * CRLF cut in two is buffered like any other byte, the LF never is).
 *
 * Every error is decided from the bytes alone, never from where the input was
 * cut, so any split of the input gives the same events, the same error and
 * the same error position. Per line, in order of position: a NUL within the
 * length limit, then the limit itself, then (once the line is complete) the
 * code, the separator and the continuation rule. */
#include "internal.h"
#include "smtpkit/reply.h"

/* The shortest useful limit: "250" plus CRLF is 5; 6 leaves room for one
 * text byte. */
#define REPLY_MIN_LINE 6

void smtpkit_reply_parser_init(smtpkit_reply_parser *p, const smtpkit_reply_callbacks *cb,
                               void *user)
{
    if (!p)
        return;
    /* _buf is scratch space: leave it alone, init must stay cheap. */
    memset(p, 0, offsetof(smtpkit_reply_parser, _buf));
    p->_cb = cb;
    p->_user = user;
    p->_max_line = SMTPKIT_REPLY_LINE_MAX;
}

void smtpkit_reply_parser_set_max_line(smtpkit_reply_parser *p, size_t max)
{
    if (!p)
        return;
    if (max < REPLY_MIN_LINE)
        max = REPLY_MIN_LINE;
    /* Upper clamp last: the buffer holds at most max - 1 bytes (no LF). */
    if (max > SMTPKIT_REPLY_LINE_MAX)
        max = SMTPKIT_REPLY_LINE_MAX;
    p->_max_line = max;
}

void smtpkit_reply_parser_reset(smtpkit_reply_parser *p)
{
    const smtpkit_reply_callbacks *cb;
    void *user;
    size_t max;
    if (!p)
        return;
    cb = p->_cb;
    user = p->_user;
    max = p->_max_line;
    smtpkit_reply_parser_init(p, cb, user);
    p->_max_line = max;
}

int smtpkit_reply_parser_resume(smtpkit_reply_parser *p)
{
    if (!p || !p->_paused)
        return SMTPKIT_ERR_STATE;
    p->_paused = 0;
    return 0;
}

int smtpkit_reply_parser_error(const smtpkit_reply_parser *p) { return p ? p->_err : 0; }

uint64_t smtpkit_reply_parser_error_pos(const smtpkit_reply_parser *p)
{
    return p ? p->_err_pos : 0;
}

int smtpkit_reply_parser_in_reply(const smtpkit_reply_parser *p)
{
    return p && (p->_code != 0 || p->_len != 0);
}

size_t smtpkit_reply_parser_pending(const smtpkit_reply_parser *p) { return p ? p->_len : 0; }

static int fail(smtpkit_reply_parser *p, int err, uint64_t pos)
{
    p->_err = err;
    p->_err_pos = pos;
    return err;
}

/* The limit counts text + CRLF (RFC 5321 4.5.3.1.5), so the text may hold at
 * most max - 2 bytes. `t` bytes came before the LF (or are buffered so far,
 * with no LF yet) and `last` is the last of them: t >= max means the text is
 * over the limit whatever follows; t == max - 1 is still fine when the last
 * byte is the CR of a CRLF. */
static int over_limit(size_t t, size_t max, char last)
{
    return t >= max || (t == max - 1 && last != '\r');
}

/* Enhanced status code at the start of `t` (RFC 3463 2, RFC 2034 4):
 * class "." subject "." detail, class 2/4/5 matching the reply code's first
 * digit, subject and detail 1*3DIGIT, then SP or the end of the text.
 * Returns its length, 0 when there is none. */
static size_t parse_esc(const char *t, size_t n, char cls, int *subject, int *detail)
{
    size_t i = 2, k;
    int part[2];
    int j;
    if (n < 5 || t[0] != cls || t[1] != '.')
        return 0;
    for (j = 0; j < 2; j++) {
        int v = 0;
        for (k = 0; k < 3 && i < n && smtpkit__is_digit((unsigned char)t[i]); k++, i++)
            v = v * 10 + (t[i] - '0');
        if (k == 0)
            return 0;
        part[j] = v;
        if (j == 0) {
            if (i >= n || t[i] != '.')
                return 0;
            i++;
        }
    }
    if (i < n && t[i] != ' ')
        return 0; /* a 4th digit, or text glued to the code: not an esc */
    *subject = part[0];
    *detail = part[1];
    return i;
}

/* One complete line: `c` is its text without the line end, `n` bytes, the
 * first of them at stream offset `at`. NUL and length are already checked.
 * Returns 0, SMTPKIT_PAUSE or a (now sticky) error. */
static int parse_line(smtpkit_reply_parser *p, const char *c, size_t n, uint64_t at)
{
    const smtpkit_reply_callbacks *cb = p->_cb;
    smtpkit_reply_line line;
    size_t k, e;
    int code, rc = 0, r;

    /* RFC 5321 4.2: Reply-code = %x32-35 %x30-35 %x30-39 */
    for (k = 0; k < 3; k++) {
        unsigned char d;
        if (k >= n)
            return fail(p, SMTPKIT_ERR_REPLY_CODE, at + k);
        d = (unsigned char)c[k];
        if (k == 0 ? (d < '2' || d > '5') : k == 1 ? (d < '0' || d > '5') : !smtpkit__is_digit(d))
            return fail(p, SMTPKIT_ERR_REPLY_CODE, at + k);
    }
    code = (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0');

    line.code = code;
    line.esc.ptr = c + 3;
    line.esc.len = 0;
    line.esc_class = line.esc_subject = line.esc_detail = 0;
    line.raw.ptr = c;
    line.raw.len = n;
    if (n == 3) {
        /* A bare code is the last line with empty text (RFC 5321 4.2:
         * "the text is optional"; some servers send "250" + CRLF). */
        line.last = 1;
        line.text.ptr = c + 3;
        line.text.len = 0;
    } else {
        if (c[3] == ' ')
            line.last = 1;
        else if (c[3] == '-')
            line.last = 0;
        else if (smtpkit__is_digit((unsigned char)c[3]))
            return fail(p, SMTPKIT_ERR_REPLY_CODE, at + 3);
        else
            return fail(p, SMTPKIT_ERR_REPLY_CONTINUATION, at + 3);
        line.text.ptr = c + 4;
        line.text.len = n - 4;
    }

    /* RFC 5321 4.2.1: every line of a multi-line reply has the same code. */
    if (p->_code != 0 && code != p->_code) {
        for (k = 0; k < 2 && c[k] == (char)('0' + (p->_code / (k ? 10 : 100)) % 10); k++)
            ;
        return fail(p, SMTPKIT_ERR_REPLY_CONTINUATION, at + k);
    }

    /* 3yz replies carry no enhanced code (RFC 3463 3.1: classes 2, 4, 5). */
    if (c[0] != '3' && line.text.len) {
        int subject = 0, detail = 0;
        e = parse_esc(line.text.ptr, line.text.len, c[0], &subject, &detail);
        if (e) {
            line.esc.ptr = line.text.ptr;
            line.esc.len = e;
            line.esc_class = c[0] - '0';
            line.esc_subject = subject;
            line.esc_detail = detail;
            if (e < line.text.len)
                e++; /* the one space after the code */
            line.text.ptr += e;
            line.text.len -= e;
        }
    }

    /* State first: the callbacks may pause or fail, the line is consumed. */
    if (p->_nlines != (unsigned)-1)
        p->_nlines++;
    p->_code = line.last ? 0 : code;

    if (cb && cb->on_line) {
        r = cb->on_line(p->_user, &line);
        if (r < 0)
            return fail(p, SMTPKIT_ERR_CALLBACK, at);
        if (r == SMTPKIT_PAUSE)
            rc = SMTPKIT_PAUSE;
    }
    if (line.last) {
        smtpkit_reply reply;
        reply.code = code;
        reply.nlines = p->_nlines;
        reply.esc = line.esc;
        reply.text = line.text;
        p->_nlines = 0;
        if (cb && cb->on_reply) {
            r = cb->on_reply(p->_user, &reply);
            if (r < 0)
                return fail(p, SMTPKIT_ERR_CALLBACK, at);
            if (r == SMTPKIT_PAUSE)
                rc = SMTPKIT_PAUSE;
        }
    }
    return rc;
}

/* A line is over the limit: report a NUL before the limit if there is one
 * (it comes first in the stream), else the limit. `head` holds the line's
 * first `hn` bytes (buffered, already NUL-free) and `tail` the following
 * ones; `start` is the stream offset of the line's first byte. */
static int fail_long(smtpkit_reply_parser *p, size_t hn, const char *tail, size_t tn,
                     uint64_t start)
{
    size_t lim = p->_max_line - 2, k = 0;
    const char *z;
    if (hn < lim) {
        k = SMTPKIT_MIN(tn, lim - hn);
        z = (const char *)memchr(tail, '\0', k);
        if (z)
            return fail(p, SMTPKIT_ERR_NUL, start + hn + (uint64_t)(z - tail));
    }
    return fail(p, SMTPKIT_ERR_LINE_TOO_LONG, start + lim);
}

smtpkit_ssize smtpkit_reply_parser_feed(smtpkit_reply_parser *p, const char *data, size_t len)
{
    size_t i = 0, max;
    uint64_t base;
    const char *q, *z;
    int rc;

    if (!p || (!data && len) || len > (size_t)PTRDIFF_MAX)
        return SMTPKIT_ERR_INVALID_ARG;
    if (p->_err)
        return p->_err;
    if (p->_paused)
        return SMTPKIT_ERR_PAUSED;
    if (len == 0)
        return 0;
    max = p->_max_line;
    base = p->_pos;

    if (p->_len) {
        /* Finish the line begun in an earlier feed. Its LF can be at most
         * max - 1 - _len bytes in: look no further. */
        size_t hn = p->_len, win = SMTPKIT_MIN(len, max - hn), t;
        uint64_t start = base - hn;
        q = (const char *)memchr(data, '\n', win);
        t = hn + (q ? (size_t)(q - data) : len);
        if (over_limit(t, max, t > hn ? data[t - hn - 1] : p->_buf[hn - 1]))
            return fail_long(p, hn, data, len, start);
        z = (const char *)memchr(data, '\0', t - hn);
        if (z)
            return fail(p, SMTPKIT_ERR_NUL, base + (uint64_t)(z - data));
        memcpy(p->_buf + hn, data, t - hn);
        if (!q) {
            p->_len = t;
            p->_pos = base + len;
            return (smtpkit_ssize)len;
        }
        p->_len = 0;
        i = t - hn + 1;
        p->_pos = base + i;
        if (t && p->_buf[t - 1] == '\r')
            t--; /* RFC 5321 2.3.8: the CR of the CRLF is not text */
        rc = parse_line(p, p->_buf, t, start);
        if (rc < 0)
            return rc;
        if (rc == SMTPKIT_PAUSE) {
            p->_paused = 1;
            return (smtpkit_ssize)i;
        }
    }

    while (i < len) {
        const char *s = data + i;
        size_t rem = len - i, t;
        q = (const char *)memchr(s, '\n', SMTPKIT_MIN(rem, max));
        t = q ? (size_t)(q - s) : rem;
        if (over_limit(t, max, t ? s[t - 1] : '\0')) {
            /* t == 0 cannot be over the limit (max >= 6). */
            return fail_long(p, 0, s, rem, base + i);
        }
        z = (const char *)memchr(s, '\0', t);
        if (z)
            return fail(p, SMTPKIT_ERR_NUL, base + i + (uint64_t)(z - s));
        if (!q) {
            /* Partial line: keep it for the next feed. t <= max - 1. */
            memcpy(p->_buf, s, t);
            p->_len = t;
            break;
        }
        {
            size_t n = (t && s[t - 1] == '\r') ? t - 1 : t;
            uint64_t start = base + i;
            i += t + 1;
            p->_pos = base + i;
            rc = parse_line(p, s, n, start);
        }
        if (rc < 0)
            return rc;
        if (rc == SMTPKIT_PAUSE) {
            p->_paused = 1;
            return (smtpkit_ssize)i;
        }
    }
    p->_pos = base + len;
    return (smtpkit_ssize)len;
}
