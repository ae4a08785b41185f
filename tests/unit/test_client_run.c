/* smtpkit_client_run() over a test double of smtpkit_io: a small SMTP server
 * in memory (a real DATA decoder on its side, so bodies are checked
 * byte-exact), with STARTTLS that a man in the middle abuses, a fake clock,
 * and write statistics. Also: the session API around queueing (validation,
 * injection, limits, memory), pause, sources that block or fail. */
#include "smtpkit/client.h"
#include "smtpkit/smtpkit.h"
#include "test.h"

/* ---- the fake server ---------------------------------------------------- */

typedef struct fake {
    /* configuration */
    int pipelining, starttls, chunking, inject, lmtp, no_ehlo;
    int bdat_fail; /* refuse the first chunk of the next message (552), then 503 */
    int bdat_failing;
    uint64_t size_max;
    /* state */
    int tls, mode, quit, hung;
    uint64_t bdat_left;
    int bdat_last;
    char line[2048];
    size_t linelen;
    char *out;
    size_t outlen, outpos, outcap;
    smtpkit_data_decoder dec;
    test_log body;      /* the message being received */
    test_log last_body; /* the last complete message */
    test_log cmds;      /* commands as received, "|" separated */
    unsigned nrcpt_ok, messages, writes, body_writes, after_tls_first;
    size_t max_write;
    uint64_t clock;
} fake;

static void fake_say(fake *f, const char *s)
{
    size_t n = strlen(s);
    if (f->outlen + n > f->outcap) {
        f->outcap = (f->outlen + n) * 2 + 256;
        f->out = (char *)realloc(f->out, f->outcap);
        if (!f->out)
            abort();
    }
    memcpy(f->out + f->outlen, s, n);
    f->outlen += n;
}

static void log_raw(test_log *l, const char *p, size_t n)
{
    if (l->len + n + 1 > l->cap) {
        l->cap = (l->len + n + 1) * 2;
        l->buf = (char *)realloc(l->buf, l->cap);
        if (!l->buf)
            abort();
    }
    memcpy(l->buf + l->len, p, n);
    l->len += n;
    l->buf[l->len] = 0;
}

static int fake_body(void *u, const char *p, size_t n)
{
    log_raw(&((fake *)u)->body, p, n);
    return 0;
}

static void fake_message_done(fake *f)
{
    char tmp[64];
    unsigned i;
    test_log_reset(&f->last_body);
    log_raw(&f->last_body, f->body.buf ? f->body.buf : "", f->body.len);
    f->messages++;
    if (f->lmtp) {
        for (i = 0; i < f->nrcpt_ok; i++) {
            snprintf(tmp, sizeof tmp, "250 2.0.0 <%u> delivered\r\n", i);
            fake_say(f, tmp);
        }
    } else {
        snprintf(tmp, sizeof tmp, "250 2.0.0 queued as %u\r\n", f->messages);
        fake_say(f, tmp);
    }
    f->nrcpt_ok = 0;
    test_log_reset(&f->body);
}

static void fake_command(fake *f, const char *l, size_t n)
{
    test_log_add(&f->cmds, "%.*s|", (int)n, l);
    if (f->tls && f->after_tls_first == 0)
        f->after_tls_first = 1 + (n >= 4 && memcmp(l, "EHLO", 4) == 0);
    if (n >= 4 && (memcmp(l, "EHLO", 4) == 0 || memcmp(l, "LHLO", 4) == 0)) {
        if (f->no_ehlo) {
            fake_say(f, "502 5.5.2 Error: command not recognized\r\n");
            return;
        }
        fake_say(f, "250-fake.example\r\n");
        if (f->pipelining)
            fake_say(f, "250-PIPELINING\r\n");
        if (f->chunking)
            fake_say(f, "250-CHUNKING\r\n");
        if (f->starttls && !f->tls)
            fake_say(f, "250-STARTTLS\r\n");
        if (f->size_max) {
            char tmp[64];
            snprintf(tmp, sizeof tmp, "250-SIZE %llu\r\n", (unsigned long long)f->size_max);
            fake_say(f, tmp);
        }
        fake_say(f, "250 8BITMIME\r\n");
    } else if (n >= 4 && memcmp(l, "HELO", 4) == 0) {
        fake_say(f, "250 fake.example\r\n");
    } else if (n == 8 && memcmp(l, "STARTTLS", 8) == 0) {
        fake_say(f, "220 2.0.0 Ready to start TLS\r\n");
        if (f->inject) /* a man in the middle appends plaintext */
            fake_say(f, "250-injected\r\n250 PIPELINING\r\n");
    } else if (n >= 10 && memcmp(l, "MAIL FROM:", 10) == 0) {
        fake_say(f, "250 2.1.0 Ok\r\n");
    } else if (n >= 8 && memcmp(l, "RCPT TO:", 8) == 0) {
        if (n >= 12 && memcmp(l + 9, "bad", 3) == 0)
            fake_say(f, "550 5.1.1 unknown user\r\n");
        else if (n >= 12 && memcmp(l + 9, "tmp", 3) == 0)
            fake_say(f, "450 4.2.1 try later\r\n");
        else {
            f->nrcpt_ok++;
            fake_say(f, "250 2.1.5 Ok\r\n");
        }
    } else if (n == 4 && memcmp(l, "DATA", 4) == 0) {
        if (f->nrcpt_ok == 0) {
            fake_say(f, "554 5.5.1 Error: no valid recipients\r\n");
        } else {
            fake_say(f, "354 End data with <CR><LF>.<CR><LF>\r\n");
            f->mode = 1;
            smtpkit_data_decoder_init(&f->dec, 0, fake_body, f);
            smtpkit_data_decoder_set_max_line(&f->dec, 0);
        }
    } else if (n > 5 && memcmp(l, "BDAT ", 5) == 0) {
        f->bdat_left = strtoull(l + 5, NULL, 10);
        f->bdat_last = n > 5 && strstr(l, " LAST") != NULL;
        f->mode = 2;
        if (f->bdat_left == 0) {
            f->mode = 0;
            if (f->bdat_last)
                fake_message_done(f);
            else
                fake_say(f, "250 2.0.0 chunk\r\n");
        }
    } else if (n == 4 && memcmp(l, "RSET", 4) == 0) {
        f->nrcpt_ok = 0;
        fake_say(f, "250 2.0.0 Ok\r\n");
    } else if (n == 4 && memcmp(l, "QUIT", 4) == 0) {
        fake_say(f, "221 2.0.0 Bye\r\n");
        f->quit = 1;
    } else {
        fake_say(f, "500 5.5.2 Error: command not recognized\r\n");
    }
}

static void fake_input(fake *f, const char *p, size_t n)
{
    while (n) {
        if (f->mode == 1) {
            smtpkit_ssize r = smtpkit_data_decoder_feed(&f->dec, p, n);
            if (r < 0)
                abort();
            p += r;
            n -= (size_t)r;
            if (smtpkit_data_decoder_done(&f->dec)) {
                f->mode = 0;
                fake_message_done(f);
            }
        } else if (f->mode == 2) {
            size_t take = n < f->bdat_left ? n : (size_t)f->bdat_left;
            fake_body(f, p, take);
            p += take;
            n -= take;
            f->bdat_left -= take;
            if (f->bdat_left == 0) {
                f->mode = 0;
                if (f->bdat_fail && !f->bdat_failing) {
                    f->bdat_fail = 0;
                    f->bdat_failing = 1;
                    fake_say(f, "552 5.3.4 Message too big\r\n");
                } else if (f->bdat_failing) {
                    fake_say(f, "503 5.5.1 No transaction\r\n");
                    if (f->bdat_last)
                        f->bdat_failing = 0;
                } else if (f->bdat_last) {
                    fake_message_done(f);
                } else {
                    fake_say(f, "250 2.0.0 chunk\r\n");
                }
                if (f->bdat_last || f->bdat_failing)
                    test_log_reset(&f->body);
            }
        } else {
            char ch = *p++;
            n--;
            if (ch == '\n' && f->linelen && f->line[f->linelen - 1] == '\r') {
                fake_command(f, f->line, f->linelen - 1);
                f->linelen = 0;
            } else if (f->linelen < sizeof f->line) {
                f->line[f->linelen++] = ch;
            }
        }
    }
}

static smtpkit_ssize fake_read(void *ctx, char *buf, size_t len, int timeout_ms)
{
    fake *f = (fake *)ctx;
    size_t n = f->outlen - f->outpos;
    if (n == 0) {
        if (f->quit || f->hung == 2)
            return 0;
        if (timeout_ms >= 0)
            f->clock += (uint64_t)timeout_ms; /* the fake clock "waits" */
        return SMTPKIT_ERR_TIMEOUT;
    }
    if (n > len)
        n = len;
    memcpy(buf, f->out + f->outpos, n);
    f->outpos += n;
    if (f->outpos == f->outlen)
        f->outpos = f->outlen = 0;
    return (smtpkit_ssize)n;
}

static smtpkit_ssize fake_write(void *ctx, const char *buf, size_t len, int timeout_ms)
{
    fake *f = (fake *)ctx;
    (void)timeout_ms;
    f->writes++;
    if (f->mode != 0)
        f->body_writes++;
    if (len > f->max_write)
        f->max_write = len;
    if (!f->hung)
        fake_input(f, buf, len);
    return (smtpkit_ssize)len;
}

static int fake_starttls(void *ctx, int is_server)
{
    fake *f = (fake *)ctx;
    CHECK_INT(is_server, 0);
    f->tls = 1;
    /* the handshake: whatever the server had queued in clear is gone */
    f->outpos = f->outlen = 0;
    return 0;
}

static uint64_t fake_now(void *ctx) { return ((fake *)ctx)->clock++; }

static smtpkit_io fake_io(fake *f, int with_tls)
{
    smtpkit_io io;
    memset(&io, 0, sizeof io);
    io.read = fake_read;
    io.write = fake_write;
    io.starttls = with_tls ? fake_starttls : NULL;
    io.now_ms = fake_now;
    io.ctx = f;
    fake_say(f, "220 fake.example ESMTP\r\n");
    return io;
}

static void fake_free(fake *f)
{
    free(f->out);
    test_log_free(&f->body);
    test_log_free(&f->last_body);
    test_log_free(&f->cmds);
}

/* ---- client side helpers -------------------------------------------------- */

typedef struct app {
    test_log ev;
    smtpkit_client *c;
    int requeue;        /* queue another message from on_tx_done */
    smtpkit_source *requeue_src;
    int pause_rcpt;
    unsigned done;
} app;

static int app_rcpt(void *u, const smtpkit_client_rcpt_result *r)
{
    app *a = (app *)u;
    test_log_add(&a->ev, "rcpt%zu %d;", r->index, r->reply->code);
    return a->pause_rcpt ? SMTPKIT_PAUSE : 0;
}

static const char *const one_rcpt[] = {"b@example.net"};

static int queue_simple(smtpkit_client *c, smtpkit_source *src, const char *const *rcpts,
                        size_t n)
{
    smtpkit_rcpt r[400];
    smtpkit_envelope env;
    size_t i;
    memset(&env, 0, sizeof env);
    memset(r, 0, sizeof r);
    for (i = 0; i < n; i++)
        r[i].mailbox = rcpts[i];
    env.from = "a@example.org";
    env.rcpts = r;
    env.nrcpts = n;
    return smtpkit_client_queue(c, &env, src, NULL);
}

static int app_tx(void *u, const smtpkit_client_tx_result *r)
{
    app *a = (app *)u;
    a->done++;
    test_log_add(&a->ev, "tx%u %d err=%d acc=%zu;", r->tx_id, (int)r->status, r->err,
                 r->naccepted);
    if (a->requeue > 0) {
        a->requeue--;
        smtpkit_source_from_memory(a->requeue_src, (smtpkit_mem_source *)a->requeue_src->ctx,
                                   "again\r\n", 7);
        CHECK(queue_simple(a->c, a->requeue_src, one_rcpt, 1) >= 0);
    }
    return 0;
}

static int app_error(void *u, int err, const smtpkit_reply *r)
{
    (void)r;
    test_log_add(&((app *)u)->ev, "error %d;", err);
    return 0;
}

static const smtpkit_client_callbacks app_cb = {SMTPKIT_CLIENT_VERSION, NULL, NULL, NULL, NULL,
                                                app_rcpt, app_tx, NULL, app_error};

static smtpkit_client *new_client(app *a, unsigned flags, smtpkit_client_tls tls,
                                  const smtpkit_mem *mem)
{
    smtpkit_client_config cfg;
    smtpkit_client_config_init(&cfg);
    cfg.flags = flags;
    cfg.tls = tls;
    a->c = smtpkit_client_new(&cfg, &app_cb, a, mem);
    return a->c;
}

/* A body with dot lines, bare LFs, a CR LF . CR LF inside, long lines. */
static char *make_body(size_t size, unsigned seed)
{
    char *b = (char *)malloc(size + 1);
    size_t i;
    unsigned x = seed * 2654435761u + 1;
    for (i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        switch ((x >> 16) % 16) {
        case 0: b[i] = '\n'; break;
        case 1: b[i] = '.'; break;
        case 2: b[i] = '\r'; if (i + 1 < size) b[++i] = '\n'; break;
        default: b[i] = (char)('a' + (x >> 8) % 26); break;
        }
    }
    b[size] = 0;
    return b;
}

/* What the body must look like after the server's decoder: bare CR and LF
 * made CRLF, a final CRLF added when missing. */
static char *expected_wire_body(const char *b, size_t n, size_t *outlen)
{
    char *o = (char *)malloc(n * 2 + 3);
    size_t i, k = 0;
    for (i = 0; i < n; i++) {
        if (b[i] == '\r') {
            o[k++] = '\r';
            o[k++] = '\n';
            if (i + 1 < n && b[i + 1] == '\n')
                i++;
        } else if (b[i] == '\n') {
            o[k++] = '\r';
            o[k++] = '\n';
        } else {
            o[k++] = b[i];
        }
    }
    if (k == 0 || o[k - 1] != '\n') {
        if (k) {
            o[k++] = '\r';
            o[k++] = '\n';
        }
    }
    *outlen = k;
    return o;
}

/* ---- tests --------------------------------------------------------------- */

TEST(run_pipelined_messages_byte_exact_and_large_writes)
{
    fake f;
    app a;
    smtpkit_io io;
    smtpkit_source src[3];
    smtpkit_mem_source ms[3];
    size_t sizes[3] = {0, 1000, 3u * 1024 * 1024 + 17}, i;
    char *bodies[3];
    memset(&f, 0, sizeof f);
    memset(&a, 0, sizeof a);
    f.pipelining = 1;
    io = fake_io(&f, 0);
    CHECK(new_client(&a, 0, SMTPKIT_CLIENT_TLS_NONE, NULL) != NULL);
    for (i = 0; i < 3; i++) {
        bodies[i] = make_body(sizes[i], (unsigned)i);
        smtpkit_source_from_memory(&src[i], &ms[i], bodies[i], sizes[i]);
        CHECK_INT(queue_simple(a.c, &src[i], one_rcpt, 1), (int)i);
    }
    /* run until idle: every message is handed over, the session stays open */
    CHECK_INT(smtpkit_client_run(a.c, &io), 0);
    CHECK_INT(f.messages, 3);
    CHECK(smtpkit_client_want(a.c) & SMTPKIT_CLIENT_IDLE);
    {
        size_t elen;
        char *e = expected_wire_body(bodies[2], sizes[2], &elen);
        CHECK_INT(f.last_body.len, elen);
        CHECK(f.last_body.len == elen && memcmp(f.last_body.buf, e, elen) == 0);
        free(e);
    }
    /* "never line by line": a 3 MiB body leaves in 64 KiB writes */
    CHECK_INT(f.max_write, 64 * 1024);
    CHECK(f.writes < 3 * 1024 * 1024 / (32 * 1024) + 20);
    CHECK_STR(test_log_str(&a.ev), "rcpt0 250;tx0 0 err=0 acc=1;rcpt0 250;tx1 0 err=0 acc=1;"
                                   "rcpt0 250;tx2 0 err=0 acc=1;");
    CHECK_INT(smtpkit_client_quit(a.c), 0);
    CHECK_INT(smtpkit_client_run(a.c, &io), 0);
    CHECK(smtpkit_client_want(a.c) & SMTPKIT_CLIENT_DONE);
    CHECK_INT(smtpkit_client_error(a.c), 0);
    /* MAIL/RCPT/DATA of the next message went with the previous dot */
    CHECK(strstr(test_log_str(&f.cmds), "EHLO localhost|MAIL FROM:<a@example.org>") != NULL);
    smtpkit_client_free(a.c);
    for (i = 0; i < 3; i++)
        free(bodies[i]);
    fake_free(&f);
    test_log_free(&a.ev);
}

TEST(run_bdat_chunks)
{
    fake f;
    app a;
    smtpkit_io io;
    smtpkit_source src;
    smtpkit_mem_source ms;
    smtpkit_client_config cfg;
    size_t n = 100000, elen;
    char *body = make_body(n, 7), *e;
    memset(&f, 0, sizeof f);
    memset(&a, 0, sizeof a);
    f.pipelining = 1;
    f.chunking = 1;
    io = fake_io(&f, 0);
    smtpkit_client_config_init(&cfg);
    cfg.flags = SMTPKIT_CLIENT_BDAT;
    cfg.output_size = 4096;
    a.c = smtpkit_client_new(&cfg, &app_cb, &a, NULL);
    CHECK(a.c != NULL);
    smtpkit_source_from_memory(&src, &ms, body, n);
    CHECK_INT(queue_simple(a.c, &src, one_rcpt, 1), 0);
    CHECK_INT(smtpkit_client_quit(a.c), 0);
    CHECK_INT(smtpkit_client_run(a.c, &io), 0);
    CHECK_INT(f.messages, 1);
    e = expected_wire_body(body, n, &elen);
    CHECK(f.last_body.len == elen && memcmp(f.last_body.buf, e, elen) == 0);
    {
        /* chunks fill the 4 KiB output buffer: about 100000 / 4000 of them */
        const char *q = test_log_str(&f.cmds);
        int chunks = 0;
        while ((q = strstr(q, "BDAT ")) != NULL) {
            chunks++;
            q += 5;
        }
        CHECK(chunks >= 25 && chunks <= 30);
    }
    CHECK(strstr(test_log_str(&f.cmds), " LAST|QUIT|") != NULL);
    CHECK_STR(test_log_str(&a.ev), "rcpt0 250;tx0 0 err=0 acc=1;");
    smtpkit_client_free(a.c);
    free(body);
    free(e);
    fake_free(&f);
    test_log_free(&a.ev);
}

TEST(run_bdat_chunk_refused)
{
    fake f;
    app a;
    smtpkit_io io;
    smtpkit_source src[2];
    smtpkit_mem_source ms[2];
    smtpkit_client_config cfg;
    size_t n = 20000;
    char *body = make_body(n, 11);
    memset(&f, 0, sizeof f);
    memset(&a, 0, sizeof a);
    f.pipelining = 1;
    f.chunking = 1;
    f.bdat_fail = 1;
    io = fake_io(&f, 0);
    smtpkit_client_config_init(&cfg);
    cfg.flags = SMTPKIT_CLIENT_BDAT;
    cfg.output_size = 4096;
    a.c = smtpkit_client_new(&cfg, &app_cb, &a, NULL);
    CHECK(a.c != NULL);
    smtpkit_source_from_memory(&src[0], &ms[0], body, n);
    smtpkit_source_from_memory(&src[1], &ms[1], "second\r\n", 8);
    CHECK_INT(queue_simple(a.c, &src[0], one_rcpt, 1), 0);
    CHECK_INT(queue_simple(a.c, &src[1], one_rcpt, 1), 1);
    CHECK_INT(smtpkit_client_quit(a.c), 0);
    CHECK_INT(smtpkit_client_run(a.c, &io), 0);
    /* the first message is refused at its first chunk; RSET; the second goes */
    CHECK_STR(test_log_str(&a.ev), "rcpt0 250;tx0 2 err=-13 acc=0;rcpt0 250;tx1 0 err=0 acc=1;");
    CHECK(strstr(test_log_str(&f.cmds), "|RSET|MAIL FROM:<a@example.org>|") != NULL);
    CHECK_INT(f.messages, 1);
    CHECK_MEM(f.last_body.buf, f.last_body.len, "second\r\n");
    smtpkit_client_free(a.c);
    free(body);
    fake_free(&f);
    test_log_free(&a.ev);
}

TEST(run_starttls_discards_injected_plaintext)
{
    fake f;
    app a;
    smtpkit_io io;
    smtpkit_source src;
    smtpkit_mem_source ms;
    memset(&f, 0, sizeof f);
    memset(&a, 0, sizeof a);
    f.starttls = 1;
    f.inject = 1;
    io = fake_io(&f, 1);
    CHECK(new_client(&a, 0, SMTPKIT_CLIENT_TLS_STARTTLS, NULL) != NULL);
    smtpkit_source_from_memory(&src, &ms, "hi\r\n", 4);
    CHECK_INT(queue_simple(a.c, &src, one_rcpt, 1), 0);
    CHECK_INT(smtpkit_client_quit(a.c), 0);
    CHECK_INT(smtpkit_client_run(a.c, &io), 0);
    CHECK(smtpkit_client_tls_active(a.c));
    CHECK_INT(f.after_tls_first, 2); /* the first command under TLS was EHLO */
    CHECK_STR(test_log_str(&f.cmds), "EHLO localhost|STARTTLS|EHLO localhost|"
                                     "MAIL FROM:<a@example.org>|RCPT TO:<b@example.net>|DATA|QUIT|");
    /* the injected "250 PIPELINING" did not count: lock-step after TLS */
    CHECK(!(smtpkit_client_caps(a.c)->flags & SMTPKIT_CAP_PIPELINING));
    CHECK_INT(f.messages, 1);
    smtpkit_client_free(a.c);
    fake_free(&f);
    test_log_free(&a.ev);
}

TEST(run_starttls_without_tls_transport_fails)
{
    fake f;
    app a;
    smtpkit_io io;
    memset(&f, 0, sizeof f);
    memset(&a, 0, sizeof a);
    f.starttls = 1;
    io = fake_io(&f, 0);
    CHECK(new_client(&a, 0, SMTPKIT_CLIENT_TLS_STARTTLS, NULL) != NULL);
    CHECK_INT(smtpkit_client_quit(a.c), 0);
    CHECK_INT(smtpkit_client_run(a.c, &io), SMTPKIT_ERR_TLS);
    smtpkit_client_free(a.c);
    fake_free(&f);
    test_log_free(&a.ev);
}

TEST(run_timeout_with_fake_clock)
{
    fake f;
    app a;
    smtpkit_io io;
    smtpkit_source src;
    smtpkit_mem_source ms;
    memset(&f, 0, sizeof f);
    memset(&a, 0, sizeof a);
    f.hung = 1; /* reads nothing we write, answers nothing */
    io = fake_io(&f, 0);
    CHECK(new_client(&a, 0, SMTPKIT_CLIENT_TLS_NONE, NULL) != NULL);
    smtpkit_source_from_memory(&src, &ms, "hi\r\n", 4);
    CHECK_INT(queue_simple(a.c, &src, one_rcpt, 1), 0);
    CHECK_INT(smtpkit_client_run(a.c, &io), SMTPKIT_ERR_TIMEOUT);
    /* the EHLO reply was awaited for the RFC's 5 minutes */
    CHECK(f.clock >= 300000 && f.clock < 301000);
    CHECK_STR(test_log_str(&a.ev), "tx0 3 err=-105 acc=0;error -105;");
    smtpkit_client_free(a.c);
    fake_free(&f);
    test_log_free(&a.ev);
}

TEST(run_closed_mid_session)
{
    fake f;
    app a;
    smtpkit_io io;
    smtpkit_source src;
    smtpkit_mem_source ms;
    memset(&f, 0, sizeof f);
    memset(&a, 0, sizeof a);
    f.hung = 2; /* closes after the greeting */
    io = fake_io(&f, 0);
    CHECK(new_client(&a, 0, SMTPKIT_CLIENT_TLS_NONE, NULL) != NULL);
    smtpkit_source_from_memory(&src, &ms, "hi\r\n", 4);
    CHECK_INT(queue_simple(a.c, &src, one_rcpt, 1), 0);
    CHECK_INT(smtpkit_client_run(a.c, &io), SMTPKIT_ERR_CLOSED);
    CHECK_STR(test_log_str(&a.ev), "tx0 3 err=-104 acc=0;error -104;");
    smtpkit_client_free(a.c);
    fake_free(&f);
    test_log_free(&a.ev);
}

TEST(helo_fallback_and_many_recipients)
{
    fake f;
    app a;
    smtpkit_io io;
    smtpkit_source src;
    smtpkit_mem_source ms;
    static char names[300][32];
    const char *rc[300];
    size_t i;
    int pass;
    for (pass = 0; pass < 2; pass++) {
        memset(&f, 0, sizeof f);
        memset(&a, 0, sizeof a);
        f.pipelining = 1;
        f.no_ehlo = pass;
        io = fake_io(&f, 0);
        for (i = 0; i < 300; i++) {
            /* every 7th refused: the transaction goes on for the others */
            snprintf(names[i], sizeof names[i], "%su%zu@example.net", i % 7 == 3 ? "bad" : "",
                     i);
            rc[i] = names[i];
        }
        CHECK(new_client(&a, 0, SMTPKIT_CLIENT_TLS_NONE, NULL) != NULL);
        smtpkit_source_from_memory(&src, &ms, "x\r\n", 3);
        CHECK_INT(queue_simple(a.c, &src, rc, 300), 0);
        CHECK_INT(smtpkit_client_quit(a.c), 0);
        CHECK_INT(smtpkit_client_run(a.c, &io), 0);
        CHECK_INT(f.messages, 1);
        /* more commands than the 128 in flight: all answered in order */
        CHECK(strstr(test_log_str(&a.ev), "rcpt299 250;tx0 1 err=0 acc=257;") != NULL);
        CHECK(strstr(test_log_str(&a.ev), "rcpt3 550;rcpt4 250;") != NULL);
        if (pass)
            CHECK(strstr(test_log_str(&f.cmds), "EHLO localhost|HELO localhost|MAIL") != NULL);
        smtpkit_client_free(a.c);
        fake_free(&f);
        test_log_free(&a.ev);
    }
}

TEST(lmtp_per_recipient_through_run)
{
    fake f;
    app a;
    smtpkit_io io;
    smtpkit_source src;
    smtpkit_mem_source ms;
    const char *rc[3] = {"x@example.net", "bad@example.net", "y@example.net"};
    memset(&f, 0, sizeof f);
    memset(&a, 0, sizeof a);
    f.pipelining = 1;
    f.lmtp = 1;
    io = fake_io(&f, 0);
    CHECK(new_client(&a, SMTPKIT_CLIENT_LMTP, SMTPKIT_CLIENT_TLS_NONE, NULL) != NULL);
    smtpkit_source_from_memory(&src, &ms, "x\r\n", 3);
    CHECK_INT(queue_simple(a.c, &src, rc, 3), 0);
    CHECK_INT(smtpkit_client_quit(a.c), 0);
    CHECK_INT(smtpkit_client_run(a.c, &io), 0);
    CHECK_STR(test_log_str(&a.ev),
              "rcpt0 250;rcpt1 550;rcpt2 250;rcpt0 250;rcpt2 250;tx0 1 err=0 acc=2;");
    smtpkit_client_free(a.c);
    fake_free(&f);
    test_log_free(&a.ev);
}

TEST(no_allocation_per_message)
{
    fake f;
    app a;
    smtpkit_io io;
    smtpkit_source src;
    smtpkit_mem_source ms;
    test_alloc al;
    smtpkit_mem mem;
    size_t allocs_after_first, i;
    const char *rc[2] = {"b@example.net", "c@example.net"};
    char *body = make_body(200000, 3);
    memset(&al, 0, sizeof al);
    mem = test_alloc_mem(&al);
    memset(&f, 0, sizeof f);
    memset(&a, 0, sizeof a);
    f.pipelining = 1;
    io = fake_io(&f, 0);
    CHECK(new_client(&a, 0, SMTPKIT_CLIENT_TLS_NONE, &mem) != NULL);
    smtpkit_source_from_memory(&src, &ms, body, 200000);
    CHECK_INT(queue_simple(a.c, &src, rc, 2), 0);
    CHECK_INT(smtpkit_client_run(a.c, &io), 0);
    allocs_after_first = al.allocs;
    for (i = 0; i < 200; i++) {
        smtpkit_source_from_memory(&src, &ms, body, 20000 + i * 500);
        CHECK(queue_simple(a.c, &src, rc, 1 + i % 2) >= 0);
        CHECK_INT(smtpkit_client_run(a.c, &io), 0);
    }
    CHECK_INT(f.messages, 201);
    CHECK_INT(al.allocs, allocs_after_first);
    /* 64 KiB output + 32 KiB staging + the session and its small tables */
    CHECK(al.bytes_peak < 64 * 1024 + 32 * 1024 + 24 * 1024);
    CHECK_INT(smtpkit_client_quit(a.c), 0);
    CHECK_INT(smtpkit_client_run(a.c, &io), 0);
    smtpkit_client_free(a.c);
    CHECK_INT(al.bytes_live, 0);
    CHECK_INT(al.allocs, al.frees);
    free(body);
    fake_free(&f);
    test_log_free(&a.ev);
}

TEST(allocation_failure_sweep)
{
    long n;
    for (n = 1; n <= 8; n++) {
        test_alloc al;
        smtpkit_mem mem;
        smtpkit_client *c;
        memset(&al, 0, sizeof al);
        al.fail_at = n;
        mem = test_alloc_mem(&al);
        c = smtpkit_client_new(NULL, NULL, NULL, &mem);
        if (c) {
            CHECK((long)al.allocs < n); /* succeeded before reaching n */
            smtpkit_client_free(c);
        }
        CHECK_INT(al.bytes_live, 0);
    }
    /* growth of the envelope store failing: NOMEM, the session goes on */
    {
        test_alloc al;
        smtpkit_mem mem;
        smtpkit_client_config cfg;
        smtpkit_client *c;
        smtpkit_source src;
        smtpkit_mem_source ms;
        static char names[200][40];
        const char *rc[200];
        size_t i;
        memset(&al, 0, sizeof al);
        mem = test_alloc_mem(&al);
        smtpkit_client_config_init(&cfg);
        cfg.queue_bytes = 256;
        c = smtpkit_client_new(&cfg, NULL, NULL, &mem);
        CHECK(c != NULL);
        for (i = 0; i < 200; i++) {
            snprintf(names[i], sizeof names[i], "user%zu@example.net", i);
            rc[i] = names[i];
        }
        smtpkit_source_from_memory(&src, &ms, "x", 1);
        al.fail_at = (long)al.allocs + 1;
        CHECK_INT(queue_simple(c, &src, rc, 200), SMTPKIT_ERR_NOMEM);
        al.fail_at = 0;
        CHECK_INT(queue_simple(c, &src, rc, 200), 0);
        smtpkit_client_free(c);
        CHECK_INT(al.bytes_live, 0);
    }
}

TEST(queue_limits_and_compaction)
{
    smtpkit_client_config cfg;
    smtpkit_client *c;
    smtpkit_source src;
    smtpkit_mem_source ms;
    fake f;
    app a;
    smtpkit_io io;
    static char names[64][80];
    const char *rc[64];
    size_t i;
    int round;
    for (i = 0; i < 64; i++) {
        snprintf(names[i], sizeof names[i], "recipient-number-%zu@a-rather-long-domain.example.net", i);
        rc[i] = names[i];
    }
    memset(&f, 0, sizeof f);
    memset(&a, 0, sizeof a);
    f.pipelining = 1;
    io = fake_io(&f, 0);
    smtpkit_client_config_init(&cfg);
    cfg.max_queue = 3;
    cfg.queue_bytes = 512;
    cfg.queue_bytes_max = 4096;
    c = a.c = smtpkit_client_new(&cfg, &app_cb, &a, NULL);
    CHECK(c != NULL);
    smtpkit_source_from_memory(&src, &ms, "x", 1);
    /* one envelope bigger than the whole store */
    CHECK_INT(queue_simple(c, &src, rc, 64), SMTPKIT_ERR_BUFFER_TOO_SMALL);
    CHECK_INT(queue_simple(c, &src, rc, 10), 0);
    CHECK_INT(queue_simple(c, &src, rc, 10), 1);
    CHECK_INT(queue_simple(c, &src, rc, 10), 2);
    CHECK_INT(queue_simple(c, &src, rc, 1), SMTPKIT_ERR_WOULDBLOCK); /* max_queue */
    CHECK_INT(smtpkit_client_pending(c), 3);
    CHECK_INT(smtpkit_client_run(c, &io), 0);
    CHECK_INT(smtpkit_client_pending(c), 0);
    /* queue while others are live, sizes shifting: compaction keeps data right */
    for (round = 0; round < 30; round++) {
        size_t k = 1 + (size_t)(round * 7) % 30;
        int id = queue_simple(c, &src, rc + (round % 5), k);
        CHECK(id >= 0 || id == SMTPKIT_ERR_WOULDBLOCK);
        if (round % 3 == 2)
            CHECK_INT(smtpkit_client_run(c, &io), 0);
    }
    CHECK_INT(smtpkit_client_run(c, &io), 0);
    CHECK(strstr(test_log_str(&f.cmds), "RCPT TO:<recipient-number-31@a-rather") != NULL);
    CHECK(strstr(test_log_str(&a.ev), "err=-") == NULL);
    smtpkit_client_free(c);
    fake_free(&f);
    test_log_free(&a.ev);
}

TEST(queue_from_callback)
{
    fake f;
    app a;
    smtpkit_io io;
    smtpkit_source src, again;
    smtpkit_mem_source ms, ms2;
    memset(&f, 0, sizeof f);
    memset(&a, 0, sizeof a);
    f.pipelining = 1;
    io = fake_io(&f, 0);
    CHECK(new_client(&a, 0, SMTPKIT_CLIENT_TLS_NONE, NULL) != NULL);
    again.ctx = &ms2;
    a.requeue = 4;
    a.requeue_src = &again;
    smtpkit_source_from_memory(&src, &ms, "first\r\n", 7);
    CHECK_INT(queue_simple(a.c, &src, one_rcpt, 1), 0);
    CHECK_INT(smtpkit_client_run(a.c, &io), 0);
    CHECK_INT(f.messages, 5);
    CHECK_MEM(f.last_body.buf, f.last_body.len, "again\r\n");
    smtpkit_client_free(a.c);
    fake_free(&f);
    test_log_free(&a.ev);
}

TEST(envelope_validation_and_injection)
{
    static const struct {
        const char *from, *rcpt, *orcpt, *envid;
        unsigned notify, flags;
        int err;
    } bad[] = {
        {"a@example.org\r\nRCPT TO:<x@evil>", "b@example.net", NULL, NULL, 0, 0, SMTPKIT_ERR_INJECTION},
        {"a@example.org", "b@example.net>\r\nDATA", NULL, NULL, 0, 0, SMTPKIT_ERR_INJECTION},
        {"a@example.org", "b@example.net> NOTIFY=NEVER", NULL, NULL, 0, 0, SMTPKIT_ERR_INJECTION},
        {"<a@example.org>", "b@example.net", NULL, NULL, 0, 0, SMTPKIT_ERR_INJECTION},
        {"a@example.org", "b\n@example.net", NULL, NULL, 0, 0, SMTPKIT_ERR_INJECTION},
        {"a@example.org", "b@example.net", "x\r\nQUIT", NULL, 0, 0, SMTPKIT_ERR_INJECTION},
        {"a@example.org", "b@example.net", NULL, "id\rx", 0, 0, SMTPKIT_ERR_INJECTION},
        {"a@example.org", "no-at-sign", NULL, NULL, 0, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"a@example.org", "two@@example.net", NULL, NULL, 0, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"a b@example.org", "b@example.net", NULL, NULL, 0, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"a@example.org", "", NULL, NULL, 0, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"a@example.org", "b@example.net", NULL, "\x01", 0, 0, SMTPKIT_ERR_INVALID_ARG},
        {"a@example.org", "b@example.net", NULL, NULL,
         SMTPKIT_DSN_NOTIFY_NEVER | SMTPKIT_DSN_NOTIFY_DELAY, 0, SMTPKIT_ERR_INVALID_ARG},
        {"a@example.org", "b@example.net", NULL, NULL, 0, SMTPKIT_ENV_7BIT | SMTPKIT_ENV_8BIT,
         SMTPKIT_ERR_INVALID_ARG},
        {"a@example.org", "b@example.net", NULL, NULL, 0, 1u << 9, SMTPKIT_ERR_INVALID_ARG},
    };
    static char longlocal[300], longenvid[120], longorcpt[600];
    smtpkit_client *c;
    smtpkit_source src;
    smtpkit_mem_source ms;
    const char *p;
    size_t i;
    c = smtpkit_client_new(NULL, NULL, NULL, NULL);
    CHECK(c != NULL);
    smtpkit_source_from_memory(&src, &ms, "x", 1);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        smtpkit_rcpt r;
        smtpkit_envelope env;
        memset(&r, 0, sizeof r);
        memset(&env, 0, sizeof env);
        r.mailbox = bad[i].rcpt;
        r.orcpt = bad[i].orcpt;
        r.notify = bad[i].notify;
        env.from = bad[i].from;
        env.rcpts = &r;
        env.nrcpts = 1;
        env.envid = bad[i].envid;
        env.flags = bad[i].flags;
        test_current = bad[i].from;
        CHECK_INT(smtpkit_envelope_check(&env), bad[i].err);
        CHECK_INT(smtpkit_client_queue(c, &env, &src, NULL), bad[i].err);
    }
    test_current = "envelope_validation_and_injection";
    {
        /* NUL inside a length-delimited address */
        smtpkit_rcpt r;
        smtpkit_envelope env;
        memset(&r, 0, sizeof r);
        memset(&env, 0, sizeof env);
        r.mailbox = "b\0c@example.net";
        r.mailbox_len = 15;
        env.rcpts = &r;
        env.nrcpts = 1;
        CHECK_INT(smtpkit_client_queue(c, &env, &src, NULL), SMTPKIT_ERR_INJECTION);
        /* no recipient */
        env.nrcpts = 0;
        CHECK_INT(smtpkit_client_queue(c, &env, &src, NULL), SMTPKIT_ERR_INVALID_ARG);
        CHECK_INT(smtpkit_client_queue(c, NULL, &src, NULL), SMTPKIT_ERR_INVALID_ARG);
        env.nrcpts = 1;
        r.mailbox_len = 0;
        r.mailbox = "b@example.net";
        CHECK_INT(smtpkit_client_queue(c, &env, NULL, NULL), SMTPKIT_ERR_INVALID_ARG);
        /* over-long: path over 256 octets, ENVID over 100, ORCPT over 500 */
        memset(longlocal, 'a', 260);
        memcpy(longlocal + 260, "@e.x", 5);
        r.mailbox = longlocal;
        CHECK(smtpkit_client_queue(c, &env, &src, NULL) == SMTPKIT_ERR_BAD_ADDRESS);
        r.mailbox = "b@example.net";
        memset(longenvid, 'x', 101);
        env.envid = longenvid;
        CHECK_INT(smtpkit_client_queue(c, &env, &src, NULL), SMTPKIT_ERR_LINE_TOO_LONG);
        memset(longenvid, '+', 40); /* 40 * 3 after xtext */
        longenvid[40] = 0;
        CHECK_INT(smtpkit_client_queue(c, &env, &src, NULL), SMTPKIT_ERR_LINE_TOO_LONG);
        env.envid = NULL;
        memset(longorcpt, 'o', 494);
        r.orcpt = longorcpt;
        CHECK_INT(smtpkit_client_queue(c, &env, &src, NULL), SMTPKIT_ERR_LINE_TOO_LONG);
        longorcpt[493] = 0;
        CHECK_INT(smtpkit_client_queue(c, &env, &src, NULL), 0);
    }
    /* nothing invalid was queued: only the last, valid one is pending, and
     * nothing at all is written before the greeting */
    CHECK_INT(smtpkit_client_pending(c), 1);
    CHECK_INT(smtpkit_client_output(c, &p), 0);
    smtpkit_client_free(c);
}

TEST(config_validation)
{
    static const struct {
        const char *helo;
        int err;
    } helos[] = {
        {"client.example", 0},
        {"[192.0.2.1]", 0},
        {"[IPv6:2001:db8::1]", 0},
        {"host_with_underscore", 0},
        {"a\r\nMAIL FROM:<x@evil>", SMTPKIT_ERR_INJECTION},
        {"a\n", SMTPKIT_ERR_INJECTION},
        {"two words", SMTPKIT_ERR_INVALID_ARG},
        {"", SMTPKIT_ERR_INVALID_ARG},
        {"[unclosed", SMTPKIT_ERR_INVALID_ARG},
        {"[a b]", SMTPKIT_ERR_INVALID_ARG},
        {".leading", SMTPKIT_ERR_INVALID_ARG},
        {"caf\xc3\xa9.example", SMTPKIT_ERR_INVALID_ARG},
    };
    smtpkit_client_config cfg;
    char longname[300];
    size_t i;
    for (i = 0; i < sizeof helos / sizeof helos[0]; i++) {
        smtpkit_client *c;
        smtpkit_client_config_init(&cfg);
        cfg.helo_name = helos[i].helo;
        test_current = helos[i].helo;
        CHECK_INT(smtpkit_client_config_check(&cfg), helos[i].err);
        c = smtpkit_client_new(&cfg, NULL, NULL, NULL);
        CHECK((c != NULL) == (helos[i].err == 0));
        smtpkit_client_free(c);
    }
    test_current = "config_validation";
    memset(longname, 'a', 256);
    longname[256] = 0;
    smtpkit_client_config_init(&cfg);
    cfg.helo_name = longname;
    CHECK_INT(smtpkit_client_config_check(&cfg), SMTPKIT_ERR_LINE_TOO_LONG);
    smtpkit_client_config_init(&cfg);
    cfg.output_size = 1000;
    CHECK_INT(smtpkit_client_config_check(&cfg), SMTPKIT_ERR_INVALID_ARG);
    smtpkit_client_config_init(&cfg);
    cfg.tls = (smtpkit_client_tls)9;
    CHECK_INT(smtpkit_client_config_check(&cfg), SMTPKIT_ERR_INVALID_ARG);
    smtpkit_client_config_init(&cfg);
    cfg.flags = 1u << 20;
    CHECK_INT(smtpkit_client_config_check(&cfg), SMTPKIT_ERR_INVALID_ARG);
    smtpkit_client_config_init(&cfg);
    cfg.version = SMTPKIT_CLIENT_VERSION + 1;
    CHECK(smtpkit_client_new(&cfg, NULL, NULL, NULL) == NULL);
    CHECK_INT(smtpkit_client_config_check(NULL), 0);
    CHECK_STR(smtpkit_client_cmd_name(SMTPKIT_CLIENT_CMD_BODY), "message");
}

/* Drive a session by hand (no runner): feed, output. */
static void pull(smtpkit_client *c, test_log *out)
{
    const char *p;
    size_t n;
    while ((n = smtpkit_client_output(c, &p)) > 0) {
        test_log_bytes(out, p, n);
        smtpkit_client_output_done(c, n);
    }
}

TEST(pause_in_callback)
{
    app a;
    smtpkit_source src;
    smtpkit_mem_source ms;
    test_log out = {0};
    const char *rc[2] = {"b@example.net", "c@example.net"};
    const char *replies = "250 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n";
    smtpkit_ssize r;
    memset(&a, 0, sizeof a);
    CHECK(new_client(&a, 0, SMTPKIT_CLIENT_TLS_NONE, NULL) != NULL);
    smtpkit_source_from_memory(&src, &ms, "x", 1);
    CHECK_INT(queue_simple(a.c, &src, rc, 2), 0);
    CHECK_INT(smtpkit_client_feed(a.c, "220 hi\r\n", 8), 8);
    pull(a.c, &out);
    CHECK_INT(smtpkit_client_feed(a.c, "250-x\r\n250 PIPELINING\r\n", 23), 23);
    pull(a.c, &out);
    a.pause_rcpt = 1;
    /* stops right after the first RCPT reply */
    r = smtpkit_client_feed(a.c, replies, strlen(replies));
    CHECK_INT(r, 16);
    CHECK(smtpkit_client_want(a.c) & SMTPKIT_CLIENT_PAUSED);
    CHECK_INT(smtpkit_client_feed(a.c, replies + r, strlen(replies) - (size_t)r),
              SMTPKIT_ERR_PAUSED);
    a.pause_rcpt = 0;
    CHECK_INT(smtpkit_client_resume(a.c), 0);
    CHECK_INT(smtpkit_client_resume(a.c), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_client_feed(a.c, replies + r, strlen(replies) - (size_t)r),
              (smtpkit_ssize)strlen(replies) - r);
    test_log_reset(&out);
    pull(a.c, &out);
    CHECK_STR(test_log_str(&out), "x\\r\\n.\\r\\n");
    CHECK_STR(test_log_str(&a.ev), "rcpt0 250;rcpt1 250;");
    smtpkit_client_free(a.c);
    test_log_free(&out);
    test_log_free(&a.ev);
}

typedef struct slow_src {
    int blocks, fail;
    size_t pos;
} slow_src;

static smtpkit_ssize slow_read(void *ctx, char *buf, size_t len)
{
    slow_src *s = (slow_src *)ctx;
    static const char data[] = "Subject: slow\r\n\r\nbody\r\n";
    size_t n = sizeof data - 1 - s->pos;
    if (s->blocks > 0) {
        s->blocks--;
        return SMTPKIT_ERR_WOULDBLOCK;
    }
    if (s->fail && s->pos >= 5)
        return SMTPKIT_ERR_IO;
    if (n > 5)
        n = 5;
    if (n > len)
        n = len;
    memcpy(buf, data + s->pos, n);
    s->pos += n;
    if (s->pos == 10)
        s->blocks = 1; /* "not yet" in the middle too */
    return (smtpkit_ssize)n;
}

TEST(source_wouldblock_and_error)
{
    int fail;
    for (fail = 0; fail < 2; fail++) {
        app a;
        slow_src ss;
        smtpkit_source src;
        test_log out = {0};
        const char *p;
        memset(&a, 0, sizeof a);
        memset(&ss, 0, sizeof ss);
        ss.blocks = 2;
        ss.fail = fail;
        src.read = slow_read;
        src.rewind = NULL;
        src.ctx = &ss;
        src.size = -1;
        CHECK(new_client(&a, 0, SMTPKIT_CLIENT_TLS_NONE, NULL) != NULL);
        CHECK_INT(queue_simple(a.c, &src, one_rcpt, 1), 0);
        smtpkit_client_feed(a.c, "220 hi\r\n", 8);
        pull(a.c, &out);
        smtpkit_client_feed(a.c, "250-x\r\n250 PIPELINING\r\n", 23);
        pull(a.c, &out);
        smtpkit_client_feed(a.c, "250 Ok\r\n250 Ok\r\n354 go\r\n", 24);
        /* the source is not ready: nothing to write, the session says so */
        CHECK_INT(smtpkit_client_output(a.c, &p), 0);
        CHECK(smtpkit_client_want(a.c) & SMTPKIT_CLIENT_WANT_SOURCE);
        test_log_reset(&out);
        {
            int k;
            for (k = 0; k < 10; k++) /* each "not yet" ends one output call */
                pull(a.c, &out);
        }
        if (!fail) {
            CHECK_STR(test_log_str(&out), "Subject: slow\\r\\n\\r\\nbody\\r\\n.\\r\\n");
            CHECK(smtpkit_client_want(a.c) & SMTPKIT_CLIENT_WANT_READ);
        } else {
            CHECK(smtpkit_client_want(a.c) & SMTPKIT_CLIENT_DONE);
            CHECK_INT(smtpkit_client_error(a.c), SMTPKIT_ERR_IO);
            CHECK_STR(test_log_str(&a.ev), "rcpt0 250;tx0 3 err=-106 acc=0;error -106;");
        }
        smtpkit_client_free(a.c);
        test_log_free(&out);
        test_log_free(&a.ev);
    }
}

static int abort_rcpt(void *u, const smtpkit_client_rcpt_result *r)
{
    (void)u;
    (void)r;
    return -1;
}

TEST(callback_abort_ends_session)
{
    app a;
    smtpkit_source src;
    smtpkit_mem_source ms;
    test_log out = {0};
    smtpkit_client_callbacks cb = app_cb;
    memset(&a, 0, sizeof a);
    cb.on_rcpt = abort_rcpt;
    a.c = smtpkit_client_new(NULL, &cb, &a, NULL);
    CHECK(a.c != NULL);
    smtpkit_source_from_memory(&src, &ms, "x", 1);
    CHECK_INT(queue_simple(a.c, &src, one_rcpt, 1), 0);
    CHECK_INT(queue_simple(a.c, &src, one_rcpt, 1), 1);
    CHECK_INT(smtpkit_client_feed(a.c, "220 hi\r\n", 8), 8);
    pull(a.c, &out);
    CHECK_INT(smtpkit_client_feed(a.c, "250 x\r\n", 7), 7);
    pull(a.c, &out);
    CHECK_INT(smtpkit_client_feed(a.c, "250 Ok\r\n", 8), 8);
    pull(a.c, &out);
    CHECK_INT(smtpkit_client_feed(a.c, "250 Ok\r\n250 more\r\n", 18), 18);
    CHECK(smtpkit_client_want(a.c) & SMTPKIT_CLIENT_DONE);
    CHECK_INT(smtpkit_client_error(a.c), SMTPKIT_ERR_CALLBACK);
    CHECK_STR(test_log_str(&a.ev), "tx0 3 err=-102 acc=0;tx1 3 err=-102 acc=0;error -102;");
    CHECK_INT(smtpkit_client_quit(a.c), SMTPKIT_ERR_STATE);
    CHECK_INT(queue_simple(a.c, &src, one_rcpt, 1), SMTPKIT_ERR_STATE);
    smtpkit_client_free(a.c);
    test_log_free(&out);
    test_log_free(&a.ev);
}

int main(void)
{
    RUN(run_pipelined_messages_byte_exact_and_large_writes);
    RUN(run_bdat_chunks);
    RUN(run_bdat_chunk_refused);
    RUN(run_starttls_discards_injected_plaintext);
    RUN(run_starttls_without_tls_transport_fails);
    RUN(run_timeout_with_fake_clock);
    RUN(run_closed_mid_session);
    RUN(helo_fallback_and_many_recipients);
    RUN(lmtp_per_recipient_through_run);
    RUN(no_allocation_per_message);
    RUN(allocation_failure_sweep);
    RUN(queue_limits_and_compaction);
    RUN(queue_from_callback);
    RUN(envelope_validation_and_injection);
    RUN(config_validation);
    RUN(pause_in_callback);
    RUN(source_wouldblock_and_error);
    RUN(callback_abort_ends_session);
    return test_summary();
}
