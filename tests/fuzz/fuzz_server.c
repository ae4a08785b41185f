/* Fuzz target for the server session: one whole conversation per input.
 *
 * Byte 0 chooses the config (LMTP, STARTTLS offered, no PIPELINING, no
 * CHUNKING, a small SIZE limit, a small output buffer, a low error limit,
 * normalised bare LF); byte 1 which decisions pause (the driver resumes
 * them); byte 2 which decisions refuse; byte 3 seeds how the input is cut
 * into segments and when ticks come. The rest is what the client sends.
 *
 * Invariants checked:
 * - the same output and events whole, byte by byte and in seeded segments
 *   (with pauses), since nothing else differs between those runs;
 * - the output is well-formed replies (our own reply parser accepts it,
 *   every line <= 512 octets) and never exceeds the output buffer;
 * - one allocation for the session, whatever happens, and memory stays at
 *   smtpkit_server_size();
 * - message events are well nested: on_body only inside a message opened
 *   by an accepted on_data; each opened message ends exactly once with
 *   on_data_end or on_abort (after free at the latest); nothing after
 *   on_abort; every accepted on_data_end has its 250 reply;
 * - a tick-driven run (timeouts at random points) keeps the same nesting;
 * - replies in order, one per decision: each decision the application
 *   makes (at once or after a pause) is answered by exactly the reply that
 *   comes next after those already queued when it was asked -- with its
 *   code when it refused, a 2xx/3xx when it accepted (so a message handed
 *   over by an accepted on_data_end is never answered with an error); no
 *   decision's reply is skipped, none comes twice or out of order. The
 *   session's own replies (errors, 452, 421) may only come between them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/reply.h"
#include "smtpkit/server.h"
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

enum { K_CONNECT, K_HELO, K_MAIL, K_RCPT, K_DATA, K_END, K_RSET, K_OTHER };

/* A reply the session owes for a decision (see expect()). */
typedef struct fz_expect {
    long index; /* which final reply of the session answers it */
    int code;   /* the refusal's code; 0: accepted (2xx or 3xx); -1: any */
    int kind;
} fz_expect;

#define FZ_MAX_EXPECT 4096

typedef struct fz {
    unsigned pause_mask, refuse_mask;
    fz_expect *exp;        /* FIFO of decisions not answered yet */
    size_t exp_head, exp_n;
    long last_index;       /* index given to the newest expectation */
    long finals;           /* final reply lines parsed so far */
    int exp_overflow;
    int quitting;          /* the decision asked is on_quit's */
    smtpkit_server *s;
    test_log ev;
    test_log out;
    smtpkit_server_decision pending;
    int have_pending;
    int in_msg;             /* between accepted on_data and its end */
    int data_asked;         /* on_data was asked and may be accepted */
    long opened, ended, aborted, accepted_ends;
    unsigned long long body;     /* bytes of delivered (not aborted) messages */
    unsigned long long msg_body; /* bytes of the message in progress */
    smtpkit_reply_parser rp;
    long replies_250_msg;
} fz;

/* Final reply lines in bytes queued but not written yet. */
static long pending_finals(const fz *f)
{
    const char *p;
    size_t n = smtpkit_server_output(f->s, &p), i, start = 0;
    long k = 0;
    for (i = 0; i + 1 < n; i++) {
        if (p[i] == '\r' && p[i + 1] == '\n') {
            if (i - start == 3 || (i - start > 3 && p[start + 3] == ' '))
                k++;
            start = i + 2;
            i++;
        }
    }
    return k;
}

/* The decision being made now is answered by the next reply after those
 * already queued (and after the replies owed to earlier decisions). */
static void expect(fz *f, int kind, int code)
{
    long idx = f->finals + pending_finals(f);
    if (idx <= f->last_index)
        idx = f->last_index + 1;
    if (f->exp_n == FZ_MAX_EXPECT) {
        f->exp_overflow = 1;
        return;
    }
    f->exp[(f->exp_head + f->exp_n++) % FZ_MAX_EXPECT] = (fz_expect){idx, code, kind};
    f->last_index = idx;
}

static int decide(fz *f, int kind, smtpkit_server_decision *d)
{
    smtpkit_server_decision x;
    memset(&x, 0, sizeof x);
    if (f->refuse_mask & (1u << kind)) {
        x.code = (kind == K_RCPT) ? 450 : 550;
        x.esc = kind == K_RCPT ? "4.2.0" : "5.7.1";
        x.text = "refused\nby the fuzzer";
    }
    /* an accepted BDAT start has no reply of its own; an accepted VRFY,
     * EXPN or HELP gets the session's standard reply, which may be 502 */
    if (f->quitting) /* RFC 5321 4.1.1.10: QUIT is answered 221, whatever */
        expect(f, kind, 221);
    else if (kind != K_DATA || x.code)
        expect(f, kind, x.code ? x.code : kind == K_OTHER ? -1 : 0);
    f->quitting = 0;
    if (f->pause_mask & (1u << kind)) {
        f->pending = x;
        f->have_pending = 1;
        return SMTPKIT_PAUSE;
    }
    *d = x;
    return 0;
}

static int c_connect(void *u, smtpkit_server_decision *d)
{
    test_log_add(&((fz *)u)->ev, "C");
    return decide((fz *)u, K_CONNECT, d);
}
static int c_helo(void *u, const smtpkit_server_helo *h, smtpkit_server_decision *d)
{
    (void)h;
    test_log_add(&((fz *)u)->ev, "H");
    return decide((fz *)u, K_HELO, d);
}
static int c_mail(void *u, const smtpkit_server_mail *m, smtpkit_server_decision *d)
{
    fz *f = (fz *)u;
    FZ_ASSERT(!f->in_msg);
    test_log_add(&f->ev, "M%zu", m->path->mailbox.len);
    return decide(f, K_MAIL, d);
}
static int c_rcpt(void *u, const smtpkit_server_rcpt *r, smtpkit_server_decision *d)
{
    test_log_add(&((fz *)u)->ev, "R%u", r->index);
    return decide((fz *)u, K_RCPT, d);
}
static int c_data(void *u, smtpkit_server_decision *d)
{
    fz *f = (fz *)u;
    FZ_ASSERT(!f->in_msg);
    test_log_add(&f->ev, "D");
    /* refused or not, we learn it when the body starts or a new MAIL comes */
    f->data_asked = !(f->refuse_mask & (1u << K_DATA));
    return decide(f, K_DATA, d);
}
static int c_body(void *u, const char *p, size_t n)
{
    fz *f = (fz *)u;
    (void)p;
    FZ_ASSERT(n > 0);
    if (!f->in_msg) {
        FZ_ASSERT(f->data_asked); /* only after an accepted on_data */
        f->in_msg = 1;
        f->data_asked = 0;
        f->opened++;
    }
    /* how many bytes an aborted message got before it was dropped may
     * depend on the split; a delivered message's bytes may not */
    f->msg_body += n;
    return 0;
}
static void open_if_empty(fz *f)
{
    /* a message with no byte at all (no Received:, empty body) */
    if (!f->in_msg && f->data_asked) {
        f->in_msg = 1;
        f->data_asked = 0;
        f->opened++;
    }
}
static int c_end(void *u, const smtpkit_server_message *m, smtpkit_server_decision *d)
{
    fz *f = (fz *)u;
    int r;
    if (m->rcpt_index == 0) {
        open_if_empty(f);
        FZ_ASSERT(f->in_msg);
        f->in_msg = 0;
        f->ended++;
        f->body += f->msg_body;
        f->msg_body = 0;
    }
    FZ_ASSERT(m->nrcpt > 0 && m->rcpt_index < m->nrcpt);
    test_log_add(&f->ev, "E%u/%u", m->rcpt_index, m->nrcpt);
    r = decide(f, K_END, d);
    if (!(f->refuse_mask & (1u << K_END)))
        f->accepted_ends++;
    return r;
}
static void c_abort(void *u, int reason)
{
    fz *f = (fz *)u;
    open_if_empty(f);
    FZ_ASSERT(f->in_msg);
    FZ_ASSERT(reason < 0);
    f->in_msg = 0;
    f->aborted++;
    f->msg_body = 0;
    test_log_add(&f->ev, "A%d", reason);
}
static int c_rset(void *u, smtpkit_server_decision *d)
{
    test_log_add(&((fz *)u)->ev, "S");
    return decide((fz *)u, K_RSET, d);
}
static int c_quit(void *u, smtpkit_server_decision *d)
{
    test_log_add(&((fz *)u)->ev, "Q");
    ((fz *)u)->quitting = 1;
    return decide((fz *)u, K_OTHER, d);
}
static int c_cmd(void *u, const smtpkit_server_command *c, smtpkit_server_decision *d)
{
    test_log_add(&((fz *)u)->ev, "O%d", (int)c->verb);
    return decide((fz *)u, K_OTHER, d);
}
static int c_trace(void *u, smtpkit_server_trace *t)
{
    (void)u;
    t->date.ptr = "Mon, 1 Jan 2024 00:00:00 +0000";
    t->date.len = 30;
    t->addr.ptr = "192.0.2.1";
    t->addr.len = 9;
    return 0;
}

static const smtpkit_server_callbacks cbs = {c_connect, c_helo, c_mail, c_rcpt,  c_data, c_body,
                                             c_end,     c_abort, c_rset, c_quit, c_cmd,  c_trace};

static int rp_line(void *u, const smtpkit_reply_line *l)
{
    fz *f = (fz *)u;
    FZ_ASSERT(l->raw.len + 2 <= 512);
    if (l->code == 250 && l->last && l->text.len >= 8 && memcmp(l->text.ptr, "Message ", 8) == 0)
        f->replies_250_msg++;
    if (l->last) {
        long k = f->finals++;
        if (f->exp_n) {
            fz_expect *e = &f->exp[f->exp_head];
            if (e->index < k) {
                fprintf(stderr, "decision %d (owed reply #%ld) never answered; reply #%ld is %d\n",
                        e->kind, e->index, k, l->code);
                FZ_ASSERT(!"a decision was not answered in order");
            }
            if (e->index == k) {
                if (e->code > 0 ? l->code != e->code
                                : e->code == 0 && (l->code < 200 || l->code >= 400)) {
                    fprintf(stderr, "decision %d (code %d) answered by reply #%ld: %d\n", e->kind,
                            e->code, k, l->code);
                    FZ_ASSERT(!"a decision was answered with the wrong reply");
                }
                f->exp_head = (f->exp_head + 1) % FZ_MAX_EXPECT;
                f->exp_n--;
            }
        }
    }
    return 0;
}
static const smtpkit_reply_callbacks rp_cb = {rp_line, NULL};

static void drain(fz *f, size_t cap)
{
    const char *p;
    size_t n;
    while ((n = smtpkit_server_output(f->s, &p)) > 0) {
        FZ_ASSERT(n <= cap);
        test_log_bytes(&f->out, p, n);
        FZ_ASSERT(smtpkit_reply_parser_feed(&f->rp, p, n) == (smtpkit_ssize)n);
        smtpkit_server_output_done(f->s, n);
    }
}

static void resume(fz *f)
{
    if (smtpkit_server_paused(f->s)) {
        int r = smtpkit_server_resume(f->s, f->have_pending ? &f->pending : NULL);
        f->have_pending = 0;
        FZ_ASSERT(r == 0 || r == SMTPKIT_ERR_CALLBACK || r == SMTPKIT_ERR_STATE);
    }
}

typedef struct fz_in {
    smtpkit_server_config cfg;
    unsigned pause_mask, refuse_mask;
    unsigned seed;
    int ticks;
} fz_in;

/* One run; `cuts` as in test.h; returns the log. */
static void run(const char *input, size_t len, const size_t *cuts, size_t ncuts, test_log *log,
                void *ctx)
{
    const fz_in *in = (const fz_in *)ctx;
    fz f;
    test_alloc al = {0};
    smtpkit_mem mem = test_alloc_mem(&al);
    size_t start = 0, ci, cap = in->cfg.output_buffer;
    uint64_t now = 0;
    unsigned rnd = in->seed;
    memset(&f, 0, sizeof f);
    f.exp = (fz_expect *)malloc(FZ_MAX_EXPECT * sizeof *f.exp);
    FZ_ASSERT(f.exp != NULL);
    f.last_index = -1;
    f.pause_mask = in->pause_mask;
    f.refuse_mask = in->refuse_mask;
    smtpkit_reply_parser_init(&f.rp, &rp_cb, &f);
    f.s = smtpkit_server_new(&in->cfg, &cbs, &f, &mem);
    FZ_ASSERT(f.s != NULL);
    FZ_ASSERT(al.allocs == 1 && al.bytes_live == smtpkit_server_size(&in->cfg));
    smtpkit_server_start(f.s, 0);
    resume(&f);
    drain(&f, cap);
    for (ci = 0; ci <= ncuts; ci++) {
        size_t end = ci < ncuts ? cuts[ci] : len, off = start;
        int guard = 0;
        while (off < end && guard++ < 1000000) {
            smtpkit_ssize n = smtpkit_server_feed(f.s, input + off, end - off);
            if (n == SMTPKIT_ERR_PAUSED) {
                resume(&f);
                continue;
            }
            if (n < 0)
                break;
            off += (size_t)n;
            drain(&f, cap);
            resume(&f);
            FZ_ASSERT(al.allocs == 1);
        }
        if (in->ticks) {
            rnd = rnd * 1103515245u + 12345u;
            now += (rnd >> 16) % 400000; /* sometimes past a timeout */
            smtpkit_server_tick(f.s, now);
            drain(&f, cap);
        }
        start = end;
    }
    {
        int guard;
        for (guard = 0; guard < 100000; guard++) {
            size_t before = f.out.len;
            resume(&f);
            if (smtpkit_server_feed(f.s, NULL, 0) < 0 && !smtpkit_server_paused(f.s)) {
                drain(&f, cap);
                break;
            }
            drain(&f, cap);
            if (f.out.len == before && !smtpkit_server_paused(f.s))
                break;
        }
    }
    smtpkit_server_eof(f.s);
    drain(&f, cap);
    smtpkit_server_free(f.s);
    FZ_ASSERT(al.bytes_live == 0 && al.allocs == 1);
    FZ_ASSERT(!f.in_msg);
    FZ_ASSERT(f.opened == f.ended + f.aborted);
    if (!in->ticks && !(in->cfg.flags & SMTPKIT_SERVER_LMTP))
        FZ_ASSERT(f.replies_250_msg == f.accepted_ends);
    FZ_ASSERT(smtpkit_reply_parser_error(&f.rp) == 0);
    test_log_add(log, "%s|%s|%ld/%ld/%ld/%llu", test_log_str(&f.out), test_log_str(&f.ev),
                 f.opened, f.ended, f.aborted, f.body);
    /* decisions still owed a reply: only those the end of the session cut
     * off (the last ones, asked after everything that was answered) */
    FZ_ASSERT(f.exp_n == 0 || f.exp[f.exp_head].index >= f.finals);
    free(f.exp);
    test_log_free(&f.out);
    test_log_free(&f.ev);
}

static void same(test_log *a, test_log *b)
{
    if (strcmp(test_log_str(a), test_log_str(b)) != 0) {
        fprintf(stderr, "whole:\n%s\nsplit:\n%s\n", a->buf, b->buf);
        FZ_ASSERT(!"whole and split runs differ");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in in;
    test_log a = {0}, b = {0};
    size_t cuts[64], ncuts = 0, i;
    unsigned rnd;
    const char *input;
    size_t len;
    if (size < 4 || size > 65536)
        return 0;
    smtpkit_server_config_init(&in.cfg);
    in.cfg.hostname = "mx.fuzz";
    if (data[0] & 1)
        in.cfg.flags |= SMTPKIT_SERVER_LMTP;
    if (data[0] & 2)
        in.cfg.flags |= SMTPKIT_SERVER_STARTTLS;
    if (data[0] & 4)
        in.cfg.flags |= SMTPKIT_SERVER_NO_PIPELINING | SMTPKIT_SERVER_NO_DSN;
    if (data[0] & 8)
        in.cfg.flags |= SMTPKIT_SERVER_NO_CHUNKING;
    if (data[0] & 16)
        in.cfg.max_size = 64;
    in.cfg.output_buffer = (data[0] & 32) ? SMTPKIT_SERVER_REPLY_MAX + 64 : 2048;
    if (data[0] & 64)
        in.cfg.max_errors = 3;
    if (data[0] & 128)
        in.cfg.flags |= SMTPKIT_SERVER_NORMALIZE_BARE_LF;
    in.cfg.max_recipients = 5;
    in.pause_mask = data[1];
    in.refuse_mask = data[2];
    in.seed = data[3];
    in.ticks = 0;
    input = (const char *)data + 4;
    len = size - 4;

    /* whole vs. seeded segments */
    run(input, len, NULL, 0, &a, &in);
    rnd = in.seed;
    for (i = 0; i < len && ncuts < 64;) {
        rnd = rnd * 1103515245u + 12345u;
        i += 1 + (rnd >> 16) % 23;
        if (i < len)
            cuts[ncuts++] = i;
    }
    run(input, len, cuts, ncuts, &b, &in);
    same(&a, &b);
    test_log_reset(&b);
    if (len <= 300) {
        size_t *all = (size_t *)malloc(len * sizeof *all + 1);
        for (i = 1; i < len; i++)
            all[i - 1] = i;
        run(input, len, all, len ? len - 1 : 0, &b, &in);
        same(&a, &b);
        free(all);
        test_log_reset(&b);
    }
    /* timeouts at random points: no comparison, the invariants only */
    in.ticks = 1;
    run(input, len, cuts, ncuts, &b, &in);
    test_log_free(&a);
    test_log_free(&b);
    return 0;
}
