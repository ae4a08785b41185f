/* DATA decoder: wire bytes after "354" -> the message, dot-unstuffed.
 *
 * RFC 5321 4.1.1.4: the mail data ends with a line holding a single ".",
 * i.e. the bytes CRLF "." CRLF, where the first CRLF may be the (virtual)
 * line end just before the data starts (an empty message is ".\r\n").
 * RFC 5321 4.5.2: a line that begins with "." and has other characters on it
 * loses that first ".".
 * RFC 5321 2.3.8: only CRLF ends a line. Accepting anything else as part of
 * the end-of-data marker is what SMTP smuggling (CVE-2023-51764/5/6) exploits,
 * so here only a real CRLF ever starts a line where "." CRLF ends the data.
 *
 * Bare CR and bare LF:
 *  - default: the bytes pass through unchanged and are not line ends (a "."
 *    after them is ordinary text); SMTPKIT_DATA_SAW_BARE_CR/LF are set so the
 *    server can refuse the message (550 5.6.0).
 *  - SMTPKIT_DATA_NORMALIZE_BARE: each bare CR or LF is delivered as CRLF and
 *    ends an output line, so a "." after it is unstuffed like after any other
 *    line end (as Postfix' "normalize" does); such a line never ends the data.
 *
 * Speed: this is the server's hot path. Ordinary text is skipped with a
 * word-at-a-time scan (data_scan.h) and delivered as views into the caller's
 * data, so a chunk without dot lines costs one callback. Nothing is ever
 * copied: the only bytes not taken from the input are the constant strings
 * "\r", "\n" and "\r\n" that stand for a CR held back across a chunk boundary
 * or for a normalised line end.
 */
#include "data_scan.h"
#include "internal.h"
#include "smtpkit/data.h"

/* d->_state */
enum {
    ST_BOL,      /* at a line start after a real CRLF (or at the start of the data) */
    ST_SOFT_BOL, /* normalising: at a line start after a bare CR/LF made into CRLF */
    ST_TEXT,     /* inside a line */
    ST_CR,       /* inside a line just after a CR (already delivered) */
    ST_DOT,      /* a "." at ST_BOL was dropped */
    ST_DOT_CR    /* "." CR at ST_BOL: the CR is held back until we see what follows */
};

void smtpkit_data_decoder_init(smtpkit_data_decoder *d, unsigned opts,
                               smtpkit_data_body_fn on_body, void *user)
{
    if (!d)
        return;
    memset(d, 0, sizeof *d);
    d->_on_body = on_body;
    d->_user = user;
    d->_opts = opts;
    d->_state = ST_BOL;
    d->_max_line = SMTPKIT_TEXT_LINE_MAX;
}

void smtpkit_data_decoder_set_max_line(smtpkit_data_decoder *d, size_t max)
{
    if (d)
        d->_max_line = max;
}

int smtpkit_data_decoder_resume(smtpkit_data_decoder *d)
{
    if (!d || !d->_paused)
        return SMTPKIT_ERR_STATE;
    d->_paused = 0;
    return 0;
}

int smtpkit_data_decoder_done(const smtpkit_data_decoder *d) { return d ? d->_done : 0; }

unsigned smtpkit_data_decoder_flags(const smtpkit_data_decoder *d) { return d ? d->_flags : 0; }

uint64_t smtpkit_data_decoder_total(const smtpkit_data_decoder *d) { return d ? d->_total : 0; }

/* Hand bytes to the application: 0 to go on, 1 when it paused, or
 * SMTPKIT_ERR_CALLBACK (sticky) when it aborted. */
static int deliver(smtpkit_data_decoder *d, const char *p, size_t n)
{
    int rc;
    d->_total += n;
    if (!d->_on_body)
        return 0;
    rc = d->_on_body(d->_user, p, n);
    if (rc == SMTPKIT_PAUSE) {
        d->_paused = 1;
        return 1;
    }
    if (rc < 0) {
        d->_err = SMTPKIT_ERR_CALLBACK;
        return SMTPKIT_ERR_CALLBACK;
    }
    return 0;
}

/*
 * The state is kept in locals and written back at every exit. Each call of
 * EMIT/EMIT_CONST happens at an input position `at` where the locals already
 * describe the decoder exactly as if the feed had stopped there, so that a
 * pause can return `at - data` and the next feed (the caller re-offers the
 * rest) continues correctly.
 */
#define SAVE()                                                                                 \
    do {                                                                                       \
        d->_state = state;                                                                     \
        d->_line_len = line_len;                                                               \
        d->_flags = flags;                                                                     \
    } while (0)

#define EMIT_AT(ptr, n, at)                                                                    \
    do {                                                                                       \
        if ((n) > 0) {                                                                         \
            int rc_;                                                                           \
            SAVE();                                                                            \
            rc_ = deliver(d, (ptr), (size_t)(n));                                              \
            if (rc_ < 0)                                                                       \
                return rc_;                                                                    \
            if (rc_ > 0)                                                                       \
                return (smtpkit_ssize)((at) - data);                                           \
        }                                                                                      \
    } while (0)

/* Deliver the pending run [run, at) of input bytes. */
#define EMIT(at) EMIT_AT(run, (at) - run, (at))
/* Deliver a constant string standing for input consumed before `at`. */
#define EMIT_CONST(s, at) EMIT_AT((s), sizeof(s) - 1, (at))

smtpkit_ssize smtpkit_data_decoder_feed(smtpkit_data_decoder *d, const char *data, size_t len)
{
    const char *p, *end, *run;
    size_t line_len, lim;
    unsigned flags;
    int state, norm;

    if (!d || (!data && len))
        return SMTPKIT_ERR_INVALID_ARG;
    if (d->_err)
        return d->_err;
    if (d->_paused)
        return SMTPKIT_ERR_PAUSED;
    if (d->_done)
        return SMTPKIT_ERR_STATE;
    if (!len)
        return 0;

    /* RFC 5321 4.5.3.1.6: 1000 octets including CRLF (not counting a
     * stuffed dot), so the line content may have max - 2 octets. */
    lim = d->_max_line == 0 ? (size_t)-1 : (d->_max_line > 2 ? d->_max_line - 2 : 0);
    norm = (d->_opts & SMTPKIT_DATA_NORMALIZE_BARE) != 0;
    state = d->_state;
    line_len = d->_line_len;
    flags = d->_flags;
    p = run = data;
    end = data + len;

    while (p < end) {
        switch (state) {
        case ST_BOL:
            line_len = 0;
            if (*p == '.') {
                /* Either the end marker or a stuffed dot: never delivered. */
                EMIT(p);
                run = ++p;
                state = ST_DOT;
                continue;
            }
            state = ST_TEXT;
            break;
        case ST_SOFT_BOL:
            line_len = 0;
            if (*p == '.') {
                /* Unstuffed, but a bare line end can never start the end
                 * marker: the rest of this line is plain text. */
                EMIT(p);
                run = ++p;
                state = ST_TEXT;
                continue;
            }
            state = ST_TEXT;
            break;
        case ST_DOT:
            if (*p == '\r') {
                run = ++p;
                state = ST_DOT_CR;
                continue;
            }
            state = ST_TEXT; /* ".x": the dot stays dropped, x is text */
            break;
        case ST_DOT_CR:
            if (*p == '\n') {
                /* CRLF "." CRLF: the end of the data. Everything before the
                 * "." has been delivered already. */
                ++p;
                d->_done = 1;
                SAVE();
                return (smtpkit_ssize)(p - data);
            }
            /* CRLF "." CR x (a smuggling variant): the CR is bare. */
            flags |= SMTPKIT_DATA_SAW_BARE_CR;
            if (norm) {
                state = ST_SOFT_BOL;
                EMIT_CONST("\r\n", p);
            } else {
                state = ST_TEXT;
                line_len = 1;
                if (line_len > lim)
                    flags |= SMTPKIT_DATA_SAW_LONG_LINE;
                EMIT_CONST("\r", p);
            }
            run = p;
            continue;
        case ST_CR:
            if (*p == '\n') {
                ++p;
                state = ST_BOL;
                continue;
            }
            flags |= SMTPKIT_DATA_SAW_BARE_CR;
            if (norm) {
                EMIT(p); /* up to and including the CR; state is still ST_CR here */
                run = p;
                state = ST_SOFT_BOL;
                EMIT_CONST("\n", p);
                continue;
            }
            if (++line_len > lim)
                flags |= SMTPKIT_DATA_SAW_LONG_LINE;
            state = ST_TEXT;
            break;
        default: /* ST_TEXT */
            break;
        }

        /* ST_TEXT: jump from special byte to special byte. A CRLF followed
         * by anything but "." keeps us here, so ordinary lines cost one scan
         * and a few compares each. */
        for (;;) {
            const char *q = smtpkit__data_scan(p, end, !(flags & SMTPKIT_DATA_SAW_8BIT));
            unsigned char c;
            line_len += (size_t)(q - p);
            if (line_len > lim)
                flags |= SMTPKIT_DATA_SAW_LONG_LINE;
            if (q == end) {
                p = end;
                break;
            }
            c = (unsigned char)*q;
            if (c == '\r') {
                if (q + 1 < end && q[1] == '\n') {
                    p = q + 2;
                    line_len = 0;
                    if (p < end && *p != '.')
                        continue;
                    state = ST_BOL;
                } else {
                    p = q + 1;
                    state = ST_CR;
                }
                break;
            }
            if (c == '\n') { /* a CR before it would have been seen above */
                flags |= SMTPKIT_DATA_SAW_BARE_LF;
                if (norm) {
                    EMIT(q);
                    p = q + 1;
                    run = p;
                    state = ST_SOFT_BOL;
                    EMIT_CONST("\r\n", p);
                    break;
                }
            } else if (c == 0) {
                flags |= SMTPKIT_DATA_SAW_NUL;
            } else if (c >= 0x80) {
                flags |= SMTPKIT_DATA_SAW_8BIT;
            }
            if (++line_len > lim)
                flags |= SMTPKIT_DATA_SAW_LONG_LINE;
            p = q + 1;
        }
    }
    EMIT(end);
    SAVE();
    return (smtpkit_ssize)len;
}
