/* Fuzz target: the reply parser and the EHLO capability set.
 *
 * The first input byte picks the options: bits 0-5 the maximum line length
 * (0 = default, else 6 + 8 * n), bit 6 "every callback pauses", and the
 * whole byte seeds the splits. The rest is server bytes. They are fed whole,
 * in pseudo-random pieces and one byte at a time, each piece in its own heap
 * block of exactly its size (so ASan sees any read past `len`); the three
 * event logs must be identical, every view must lie inside the piece being
 * fed or the parser's buffer, and every 250 reply is folded into a
 * capability set whose views must stay inside its store. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct flog {
    char *buf;
    size_t len, cap;
} flog;

static void flog_add(flog *l, const void *p, size_t n)
{
    if (l->cap - l->len < n) {
        size_t cap = (l->cap + n) * 2;
        char *b = (char *)realloc(l->buf, cap);
        if (!b)
            abort();
        l->buf = b;
        l->cap = cap;
    }
    if (n)
        memcpy(l->buf + l->len, p, n);
    l->len += n;
}

static void flog_num(flog *l, char tag, unsigned long long v)
{
    char t[32];
    int n = snprintf(t, sizeof t, "%c%llu;", tag, v);
    flog_add(l, t, (size_t)n);
}

typedef struct fctx {
    flog *log;
    smtpkit_reply_parser *p;
    const char *chunk;
    size_t chunk_len;
    int pause;
    int paused;
    unsigned index;
    smtpkit_caps caps;
} fctx;

static int inside(smtpkit_view v, const char *base, size_t n)
{
    return v.ptr && v.ptr >= base && v.len <= n && (size_t)(v.ptr - base) <= n - v.len;
}

static void check_source(const fctx *c, smtpkit_view v)
{
    if (!inside(v, c->chunk, c->chunk_len) && !inside(v, c->p->_buf, sizeof c->p->_buf))
        abort();
}

static void check_caps(const smtpkit_caps *caps)
{
    unsigned i;
    if (caps->_used > sizeof caps->_store || caps->nunknown > SMTPKIT_CAPS_MAX_UNKNOWN)
        abort();
    for (i = 0; i < caps->nunknown; i++)
        if (!inside(caps->unknown[i], caps->_store, caps->_used))
            abort();
    if (caps->domain.len && !inside(caps->domain, caps->_store, caps->_used))
        abort();
    if (caps->auth_list.len && !inside(caps->auth_list, caps->_store, caps->_used))
        abort();
    if (caps->limits.len && !inside(caps->limits, caps->_store, caps->_used))
        abort();
}

static int f_line(void *user, const smtpkit_reply_line *l)
{
    fctx *c = (fctx *)user;
    check_source(c, l->raw);
    if (!inside(l->text, l->raw.ptr, l->raw.len) || l->text.ptr + l->text.len != l->raw.ptr + l->raw.len)
        abort();
    if (l->raw.len < 3 || l->code < 200 || l->code > 559 || (l->code / 10) % 10 > 5)
        abort();
    if (memchr(l->raw.ptr, '\n', l->raw.len) || memchr(l->raw.ptr, '\0', l->raw.len))
        abort();
    if (l->esc.len) {
        if (!inside(l->esc, l->raw.ptr, l->raw.len) || l->esc_class != l->code / 100 ||
            l->esc_subject < 0 || l->esc_subject > 999 || l->esc_detail < 0 || l->esc_detail > 999)
            abort();
    }
    flog_num(c->log, l->last ? 'L' : 'C', (unsigned long long)l->code);
    flog_add(c->log, l->esc.ptr, l->esc.len);
    flog_add(c->log, "|", 1);
    flog_add(c->log, l->text.ptr, l->text.len);
    flog_add(c->log, "\n", 1);
    if (l->code == 250) {
        if (smtpkit_caps_add_line(&c->caps, c->index, l) != 0)
            abort();
        check_caps(&c->caps);
    }
    c->index = l->last ? 0 : c->index + 1;
    if (c->pause) {
        c->paused = 1;
        return SMTPKIT_PAUSE;
    }
    return 0;
}

static int f_reply(void *user, const smtpkit_reply *r)
{
    fctx *c = (fctx *)user;
    if (r->esc.len)
        check_source(c, r->esc);
    if (r->text.len)
        check_source(c, r->text);
    flog_num(c->log, 'R', (unsigned long long)r->code);
    flog_num(c->log, 'n', r->nlines);
    if (r->code == 250) {
        static const char *const kws[] = {"PIPELINING", "SIZE", "AUTH", "STARTTLS", "VRFY",
                                          "X-EXPS", "LIMITS"};
        size_t i;
        check_caps(&c->caps);
        flog_num(c->log, 'f', c->caps.flags);
        flog_num(c->log, 's', (unsigned long long)c->caps.size_max);
        flog_num(c->log, 'a', c->caps.auth);
        flog_num(c->log, 'u', c->caps.nunknown);
        flog_num(c->log, 'd', c->caps.ndropped);
        flog_add(c->log, c->caps.auth_list.ptr, c->caps.auth_list.len);
        flog_add(c->log, "|", 1);
        flog_add(c->log, c->caps.domain.ptr, c->caps.domain.len);
        for (i = 0; i < sizeof kws / sizeof kws[0]; i++)
            flog_num(c->log, 'h', (unsigned long long)smtpkit_caps_has(&c->caps, kws[i]));
    }
    smtpkit_caps_init(&c->caps);
    if (c->pause) {
        c->paused = 1;
        return SMTPKIT_PAUSE;
    }
    return 0;
}

static const smtpkit_reply_callbacks f_cb = {f_line, f_reply};

/* Feeds `in` cut into pieces of the sizes next_piece() gives (0 = whole). */
static void run(const char *in, size_t len, size_t max_line, int pause, uint32_t seed, int mode,
                flog *log)
{
    smtpkit_reply_parser p;
    fctx *c = (fctx *)calloc(1, sizeof *c);
    size_t off = 0;
    if (!c)
        abort();
    c->log = log;
    c->p = &p;
    c->pause = pause;
    smtpkit_caps_init(&c->caps);
    smtpkit_reply_parser_init(&p, &f_cb, c);
    if (max_line)
        smtpkit_reply_parser_set_max_line(&p, max_line);
    while (off < len) {
        size_t n, done = 0;
        char *piece;
        if (mode == 0) {
            n = len - off;
        } else if (mode == 1) {
            n = 1;
        } else {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            n = (seed & 7) == 0 ? 1 + (seed >> 8) % 1024 : 1 + (seed >> 8) % 24;
        }
        if (n > len - off)
            n = len - off;
        piece = (char *)malloc(n);
        if (!piece)
            abort();
        memcpy(piece, in + off, n);
        while (done < n) {
            smtpkit_ssize r;
            c->chunk = piece + done;
            c->chunk_len = n - done;
            r = smtpkit_reply_parser_feed(&p, piece + done, n - done);
            if (r < 0) {
                flog_num(log, '!', (unsigned long long)-r);
                flog_num(log, '@', (unsigned long long)smtpkit_reply_parser_error_pos(&p));
                if (smtpkit_reply_parser_feed(&p, "250 x\r\n", 7) != r)
                    abort(); /* sticky */
                free(piece);
                free(c);
                return;
            }
            if (r == 0 || (size_t)r > n - done)
                abort();
            done += (size_t)r;
            if (c->paused) {
                flog_num(log, 'P', (unsigned long long)(off + done));
                c->paused = 0;
                if (smtpkit_reply_parser_feed(&p, piece + done, n - done) != SMTPKIT_ERR_PAUSED)
                    abort();
                if (smtpkit_reply_parser_resume(&p) != 0)
                    abort();
            } else if (done != n) {
                abort();
            }
        }
        free(piece);
        off += n;
    }
    flog_num(log, 'E', (unsigned long long)smtpkit_reply_parser_in_reply(&p));
    flog_num(log, 'b', (unsigned long long)smtpkit_reply_parser_pending(&p));
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    flog whole = {0}, split = {0}, bytes = {0};
    const char *in;
    size_t len, max_line;
    int pause;
    if (size < 1)
        return 0;
    max_line = (data[0] & 0x3f) ? 6 + 8 * (size_t)(data[0] & 0x3f) : 0;
    pause = (data[0] & 0x40) != 0;
    in = (const char *)data + 1;
    len = size - 1;

    run(in, len, max_line, pause, 0, 0, &whole);
    run(in, len, max_line, pause, 0x9e3779b9u ^ data[0] ^ (uint32_t)len, 2, &split);
    if (split.len != whole.len || memcmp(split.buf, whole.buf, whole.len) != 0)
        abort();
    if (len <= 8192) {
        run(in, len, max_line, pause, 0, 1, &bytes);
        if (bytes.len != whole.len || memcmp(bytes.buf, whole.buf, whole.len) != 0)
            abort();
    }
    free(whole.buf);
    free(split.buf);
    free(bytes.buf);
    return 0;
}
