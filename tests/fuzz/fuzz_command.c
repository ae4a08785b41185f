/* Fuzz target for the command parser.
 *
 * Byte 0 chooses options: bit 0 SMTPKIT_CMD_UTF8, bit 1 LENIENT_SPACE,
 * bit 2 set UTF8 from a callback after "MAIL ... SMTPUTF8" (flags changing
 * between lines), bits 5-7 the maximum line length. The rest is the input.
 *
 * Checks: the same events whole, byte by byte, in a few pseudo-random
 * splits, and paused at every callback; every view lies within its line
 * and every line within the input or the parser's buffer; an accepted line
 * holds no CR, LF or NUL and fits the maximum; a path accepted by the
 * parser passes smtpkit_mailbox_validate(); every error has a reply. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/command.h"
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wformat-nonliteral"
#endif
#include "test.h"
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#define FZ_ASSERT(c)                                                                          \
    do {                                                                                      \
        if (!(c)) {                                                                           \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #c);    \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

static const size_t max_lines[8] = {512, 8, 9, 16, 32, 64, 100, 511};

typedef struct fz {
    smtpkit_command_parser p;
    test_log log;
    const char *in;
    size_t in_len;
    unsigned flags;
    int utf8_after_mail;
    int pause;
} fz;

static int within(smtpkit_view inner, smtpkit_view outer)
{
    if (inner.len == 0)
        return 1;
    return inner.ptr >= outer.ptr && inner.ptr + inner.len <= outer.ptr + outer.len;
}

static void check_line_view(const fz *f, smtpkit_view line)
{
    smtpkit_view in, buf;
    in.ptr = f->in;
    in.len = f->in_len;
    buf.ptr = f->p._buf;
    buf.len = sizeof f->p._buf;
    FZ_ASSERT(within(line, in) || within(line, buf));
    FZ_ASSERT(!line.len || !memchr(line.ptr, '\n', line.len));
}

static void check_command(const smtpkit_command *c, smtpkit_view line, unsigned flags)
{
    unsigned i;
    FZ_ASSERT(c->verb != SMTPKIT_VERB_UNKNOWN);
    FZ_ASSERT(within(c->verb_text, line) && within(c->arg, line));
    FZ_ASSERT(within(c->initial_response, line));
    FZ_ASSERT(!line.len || (!memchr(line.ptr, '\r', line.len) && !memchr(line.ptr, '\0', line.len)));
    FZ_ASSERT(c->nparams <= SMTPKIT_MAX_PARAMS);
    for (i = 0; i < c->nparams; i++) {
        size_t k;
        FZ_ASSERT(within(c->params[i].key, line) && within(c->params[i].value, line));
        FZ_ASSERT(c->params[i].key.len > 0);
        FZ_ASSERT(!c->params[i].has_value || c->params[i].value.len > 0);
        for (k = 0; k < c->params[i].value.len; k++) {
            unsigned char ch = (unsigned char)c->params[i].value.ptr[k];
            FZ_ASSERT(ch > ' ' && ch != '=' && ch != 0x7f);
        }
    }
    if (c->verb == SMTPKIT_VERB_MAIL || c->verb == SMTPKIT_VERB_RCPT) {
        const smtpkit_path *pa = &c->path;
        FZ_ASSERT(within(pa->mailbox, line) && within(pa->local, pa->mailbox) &&
                  within(pa->domain, pa->mailbox));
        FZ_ASSERT(!(pa->is_null && c->verb == SMTPKIT_VERB_RCPT));
        FZ_ASSERT(!(pa->is_postmaster && c->verb == SMTPKIT_VERB_MAIL));
        if (pa->is_null) {
            FZ_ASSERT(pa->mailbox.len == 0);
        } else if (pa->is_postmaster) {
            FZ_ASSERT(pa->mailbox.len == 10 && pa->domain.len == 0);
        } else {
            /* the grammar is shared: what the server accepts, the client may send */
            FZ_ASSERT(smtpkit_mailbox_validate(pa->mailbox.ptr, pa->mailbox.len, pa->utf8) == 0);
            FZ_ASSERT(pa->mailbox.len <= 254 && pa->local.len <= 64);
            FZ_ASSERT(pa->local.len + 1 + pa->domain.len == pa->mailbox.len);
            if (!pa->utf8) {
                size_t k;
                for (k = 0; k < pa->mailbox.len; k++)
                    FZ_ASSERT((unsigned char)pa->mailbox.ptr[k] < 0x80);
            }
        }
        if (pa->utf8 && !(flags & SMTPKIT_CMD_UTF8))
            FZ_ASSERT(c->verb == SMTPKIT_VERB_MAIL && smtpkit_command_param(c, "SMTPUTF8"));
    }
}

static void check_error(int err, smtpkit_view line, unsigned flags)
{
    int code = 0;
    const char *esc = NULL, *text = NULL;
    FZ_ASSERT(err == SMTPKIT_ERR_CMD_UNKNOWN || err == SMTPKIT_ERR_CMD_SYNTAX ||
              err == SMTPKIT_ERR_CMD_PATH || err == SMTPKIT_ERR_CMD_PARAM ||
              err == SMTPKIT_ERR_CMD_TOO_MANY_PARAMS || err == SMTPKIT_ERR_LINE_TOO_LONG ||
              err == SMTPKIT_ERR_NUL || err == SMTPKIT_ERR_NON_ASCII);
    FZ_ASSERT(smtpkit_command_error_reply(err, &code, &esc, &text) == 0);
    FZ_ASSERT(code >= 500 && code < 600 && esc && text);
    FZ_ASSERT(smtpkit_command_error_reply_line(err, line.ptr, line.len, flags, &code, &esc,
                                               &text) == 0);
    FZ_ASSERT(code >= 500 && code < 600);
}

static int on_command(void *user, const smtpkit_command *c, smtpkit_view line)
{
    fz *f = (fz *)user;
    unsigned i, flags = smtpkit_command_parser_flags(&f->p);
    check_line_view(f, line);
    FZ_ASSERT(line.len + 2 <= f->p._max_line);
    check_command(c, line, flags);
    test_log_add(&f->log, "C%d:", (int)c->verb);
    test_log_bytes(&f->log, line.ptr, line.len);
    test_log_add(&f->log, "|%zu|%u|", c->path.mailbox.len, c->nparams);
    for (i = 0; i < c->nparams; i++)
        test_log_bytes(&f->log, c->params[i].key.ptr, c->params[i].key.len);
    test_log_add(&f->log, "\n");
    if (f->utf8_after_mail && c->verb == SMTPKIT_VERB_MAIL && smtpkit_command_param(c, "SMTPUTF8"))
        smtpkit_command_parser_set_flags(&f->p, flags | SMTPKIT_CMD_UTF8);
    if (f->utf8_after_mail && c->verb == SMTPKIT_VERB_RSET)
        smtpkit_command_parser_set_flags(&f->p, f->flags);
    return f->pause ? SMTPKIT_PAUSE : 0;
}

static int on_error(void *user, int err, smtpkit_view line)
{
    fz *f = (fz *)user;
    check_line_view(f, line);
    check_error(err, line, smtpkit_command_parser_flags(&f->p));
    /* an over-long line is reported without its text; an empty line is unknown */
    FZ_ASSERT(err != SMTPKIT_ERR_LINE_TOO_LONG || line.len == 0);
    FZ_ASSERT(line.len > 0 || err == SMTPKIT_ERR_LINE_TOO_LONG || err == SMTPKIT_ERR_CMD_UNKNOWN);
    test_log_add(&f->log, "E%d:", err);
    test_log_bytes(&f->log, line.ptr, line.len);
    test_log_add(&f->log, "\n");
    return f->pause ? SMTPKIT_PAUSE : 0;
}

static const smtpkit_command_callbacks cbs = {on_command, on_error};

/* Feed `in` cut at cuts[0..n) (ascending) with maximum line `max`,
 * resuming after every pause; the events go to f->log. */
static void run(fz *f, size_t max, const char *in, size_t len, const size_t *cuts, size_t n,
                int pause)
{
    size_t k, start = 0;
    f->log.len = 0;
    f->in = in;
    f->in_len = len;
    f->pause = pause;
    smtpkit_command_parser_init(&f->p, &cbs, f);
    smtpkit_command_parser_set_flags(&f->p, f->flags);
    smtpkit_command_parser_set_max_line(&f->p, max);
    for (k = 0; k <= n; k++) {
        size_t stop = k < n ? cuts[k] : len;
        while (start < stop) {
            smtpkit_ssize r = smtpkit_command_parser_feed(&f->p, in + start, stop - start);
            FZ_ASSERT(r >= 0 && (size_t)r <= stop - start);
            FZ_ASSERT(f->p._len < f->p._max_line);
            start += (size_t)r;
            if (f->p._paused) {
                FZ_ASSERT(smtpkit_command_parser_feed(&f->p, in + start, stop - start) ==
                          SMTPKIT_ERR_PAUSED);
                FZ_ASSERT(smtpkit_command_parser_resume(&f->p) == 0);
            } else {
                FZ_ASSERT(start == stop);
            }
        }
    }
    test_log_add(&f->log, "pending=%zu\n", smtpkit_command_parser_pending(&f->p));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz f; /* the parser holds a 512-octet buffer: keep it off the stack */
    char *in, *whole;
    size_t len, max, *cuts, i, wlen;
    uint32_t h = 2166136261u;
    smtpkit_command cmd;

    if (size < 1)
        return 0;
    f.flags = data[0] & 3u;
    f.utf8_after_mail = (data[0] >> 2) & 1u;
    max = max_lines[(data[0] >> 5) & 7u];
    len = size - 1;
    if (len > 1 << 16)
        return 0;
    /* a private copy, so reads past the end are caught by ASan */
    in = (char *)malloc(len ? len : 1);
    cuts = (size_t *)malloc((len + 1) * sizeof *cuts);
    if (!in || !cuts)
        abort();
    memcpy(in, data + 1, len);

    /* the single-line API over the raw input, as one line */
    {
        int rc = smtpkit_command_parse(in, len, f.flags, &cmd);
        smtpkit_view line;
        line.ptr = in;
        line.len = len;
        if (rc == 0) {
            FZ_ASSERT(len <= SMTPKIT_COMMAND_LINE_MAX - 2);
            check_command(&cmd, line, f.flags);
        } else {
            check_error(rc, line, f.flags);
        }
    }

    run(&f, max, in, len, NULL, 0, 0);
    wlen = f.log.len;
    whole = (char *)malloc(wlen + 1);
    if (!whole)
        abort();
    memcpy(whole, f.log.buf, wlen);

    /* byte by byte (bounded, to keep the fuzzer fast) */
    if (len <= 4096) {
        for (i = 1; i < len; i++)
            cuts[i - 1] = i;
        run(&f, max, in, len, cuts, len ? len - 1 : 0, 0);
        FZ_ASSERT(f.log.len == wlen && memcmp(f.log.buf, whole, wlen) == 0);
    }
    /* a few pseudo-random splits, the last one paused at every callback */
    for (i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    for (i = 0; i < 4 && len > 1; i++) {
        size_t n = 0, pos = 0;
        while (n < 8) {
            h = h * 1103515245u + 12345u;
            pos += 1 + (h >> 8) % (len / 4 + 1);
            if (pos >= len)
                break;
            cuts[n++] = pos;
        }
        run(&f, max, in, len, cuts, n, i == 3);
        FZ_ASSERT(f.log.len == wlen && memcmp(f.log.buf, whole, wlen) == 0);
    }
    run(&f, max, in, len, NULL, 0, 1);
    FZ_ASSERT(f.log.len == wlen && memcmp(f.log.buf, whole, wlen) == 0);

    free(whole);
    free(cuts);
    free(in);
    return 0;
}
