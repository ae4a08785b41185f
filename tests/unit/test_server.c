/* The server session, driven by scripted conversations.
 *
 * A conversation is a list of lines:
 *   "C: text"  the client sends text + CRLF
 *   "C< raw"   the client sends raw bytes (escapes \r \n \t \\ \xNN; no CRLF added)
 *   "S: text"  the server's output holds this line + CRLF, in order
 *   "A: text"  the application saw this event, in order
 * Each conversation runs fed whole, byte by byte and split at every
 * position (test_split_all), and again with every decision callback
 * pausing and the driver resuming with the same answer: the server output
 * and the event log must be identical in all runs. */
/* test.h's test_log_add() forwards its format to vsnprintf without a format
 * attribute, which clang's -Wformat-nonliteral flags. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wformat-nonliteral"
#endif
#include "server_int.h"
#include "smtpkit/server.h"
#include "smtpkit/smtpkit.h"
#include "test.h"

/* ------------------------------------------------------------------------ */
/* the scripted application                                                  */

enum { MODE_SYNC = 0, MODE_PAUSE = 1 };

typedef struct tconf {
    smtpkit_server_config cfg;
    int mode;
    int connect_code;      /* on_connect answer code (0 accept) */
    int data_code;         /* on_data answer code */
    int eof_at_end;        /* call smtpkit_server_eof() after the input */
    int drain_late;        /* take output only when feed makes no progress */
    int no_trace;          /* on_trace leaves the date empty */
    int fail_body;         /* on_body returns -1 */
} tconf;

typedef struct app {
    const tconf *t;
    test_log ev;
    test_log body;         /* the current message's bytes */
    smtpkit_server *s;
    smtpkit_server_decision pending; /* the answer a paused decision will get */
    int have_pending;
    char textbuf[128];
} app;

static void ev_view(app *a, const char *what, smtpkit_view v)
{
    test_log_add(&a->ev, "%s ", what);
    test_log_bytes(&a->ev, v.ptr, v.len);
}

/* Return `d` synchronously, or pause and keep it for the driver. */
static int decide(app *a, smtpkit_server_decision *d, int code, const char *esc, const char *text)
{
    smtpkit_server_decision x;
    x.code = code;
    x.esc = esc;
    x.text = text;
    if (a->t->mode == MODE_PAUSE) {
        a->pending = x;
        a->have_pending = 1;
        return SMTPKIT_PAUSE;
    }
    *d = x;
    return 0;
}

static int has(smtpkit_view v, const char *needle)
{
    size_t n = strlen(needle), i;
    for (i = 0; i + n <= v.len; i++)
        if (memcmp(v.ptr + i, needle, n) == 0)
            return 1;
    return 0;
}

static int on_connect(void *u, smtpkit_server_decision *d)
{
    app *a = (app *)u;
    test_log_add(&a->ev, "connect\n");
    if (a->t->connect_code)
        return decide(a, d, a->t->connect_code, NULL, NULL);
    return decide(a, d, 0, NULL, NULL);
}

static int on_helo(void *u, const smtpkit_server_helo *h, smtpkit_server_decision *d)
{
    app *a = (app *)u;
    ev_view(a, smtpkit_verb_name(h->verb), h->domain);
    test_log_add(&a->ev, "\n");
    if (has(h->domain, "bad.helo"))
        return decide(a, d, 550, "5.7.1", "Go away");
    return decide(a, d, 0, NULL, NULL);
}

static int on_mail(void *u, const smtpkit_server_mail *m, smtpkit_server_decision *d)
{
    app *a = (app *)u;
    ev_view(a, "mail", m->path->mailbox);
    test_log_add(&a->ev, " size=%llu body=%d utf8=%d ret=%d", (unsigned long long)m->size,
                 (int)m->body, m->smtputf8, (int)m->ret);
    if (m->envid.len)
        ev_view(a, " envid", m->envid);
    if (m->auth.len)
        ev_view(a, " auth", m->auth);
    test_log_add(&a->ev, "\n");
    if (has(m->path->mailbox, "reject"))
        return decide(a, d, 550, "5.7.1", "Sender refused");
    if (has(m->path->mailbox, "bye"))
        return decide(a, d, 421, NULL, NULL);
    return decide(a, d, 0, NULL, NULL);
}

static int on_rcpt(void *u, const smtpkit_server_rcpt *r, smtpkit_server_decision *d)
{
    app *a = (app *)u;
    ev_view(a, "rcpt", r->path->mailbox);
    test_log_add(&a->ev, " index=%u notify=%u", r->index, r->notify);
    if (r->orcpt.len)
        ev_view(a, " orcpt", r->orcpt);
    test_log_add(&a->ev, "\n");
    if (has(r->path->mailbox, "unknown"))
        return decide(a, d, 550, "5.1.1", "No such user");
    if (has(r->path->mailbox, "temp"))
        return decide(a, d, 450, "4.2.1", NULL);
    if (has(r->path->mailbox, "forward"))
        return decide(a, d, 251, "2.1.5", "User not local; will forward");
    if (has(r->path->mailbox, "weird"))
        return decide(a, d, 199, NULL, "no");
    if (has(r->path->mailbox, "inject"))
        return decide(a, d, 550, "9.9.9", "line one\nline two\r\n250 fake");
    return decide(a, d, 0, NULL, NULL);
}

static int on_data(void *u, smtpkit_server_decision *d)
{
    app *a = (app *)u;
    test_log_add(&a->ev, "data\n");
    test_log_reset(&a->body);
    return decide(a, d, a->t->data_code, NULL, a->t->data_code ? "No data today" : NULL);
}

static int on_body(void *u, const char *p, size_t n)
{
    app *a = (app *)u;
    if (a->t->fail_body)
        return -1;
    test_log_bytes(&a->body, p, n);
    if (a->t->mode == MODE_PAUSE) {
        a->have_pending = 0;
        return SMTPKIT_PAUSE;
    }
    return 0;
}

static int on_data_end(void *u, const smtpkit_server_message *m, smtpkit_server_decision *d)
{
    app *a = (app *)u;
    smtpkit_view b;
    test_log_add(&a->ev, "end size=%llu nrcpt=%u index=%u chunking=%d flags=%u\n",
                 (unsigned long long)m->size, m->nrcpt, m->rcpt_index, m->chunking,
                 m->data_flags);
    if (m->rcpt_index == 0)
        test_log_add(&a->ev, "message %s\n", test_log_str(&a->body));
    b.ptr = a->body.buf;
    b.len = a->body.len;
    if (has(b, "REJECTME"))
        return decide(a, d, 554, "5.7.1", "Content rejected");
    if (has(b, "LMTPMIX") && m->rcpt_index == 1)
        return decide(a, d, 452, "4.2.2", "Mailbox full");
    if (has(b, "QUEUEID"))
        return decide(a, d, 250, "2.0.0", "Queued as ABC");
    return decide(a, d, 0, NULL, NULL);
}

static void on_abort(void *u, int reason)
{
    app *a = (app *)u;
    test_log_add(&a->ev, "abort %s\n", smtpkit_strerror(reason));
}

static int on_rset(void *u, smtpkit_server_decision *d)
{
    app *a = (app *)u;
    test_log_add(&a->ev, "rset\n");
    return decide(a, d, 0, NULL, NULL);
}

static int on_quit(void *u, smtpkit_server_decision *d)
{
    app *a = (app *)u;
    test_log_add(&a->ev, "quit\n");
    return decide(a, d, 0, NULL, NULL);
}

static int on_command(void *u, const smtpkit_server_command *c, smtpkit_server_decision *d)
{
    app *a = (app *)u;
    ev_view(a, smtpkit_verb_name(c->verb), c->arg);
    test_log_add(&a->ev, "\n");
    if (c->verb == SMTPKIT_VERB_VRFY && has(c->arg, "root"))
        return decide(a, d, 250, "2.1.5", "root <root@mx.test>");
    if (c->verb == SMTPKIT_VERB_EXPN && has(c->arg, "list"))
        return decide(a, d, 250, NULL, "<a@mx.test>\n<b@mx.test>");
    return decide(a, d, 0, NULL, NULL);
}

static int on_trace(void *u, smtpkit_server_trace *t)
{
    app *a = (app *)u;
    if (a->t->no_trace)
        return 0;
    t->date.ptr = "Mon, 1 Jan 2024 00:00:00 +0000";
    t->date.len = strlen(t->date.ptr);
    t->id.ptr = "ID1";
    t->id.len = 3;
    t->addr.ptr = "192.0.2.1";
    t->addr.len = 9;
    return 0;
}

static const smtpkit_server_callbacks app_cb = {on_connect, on_helo,  on_mail,  on_rcpt,
                                                on_data,    on_body,  on_data_end, on_abort,
                                                on_rset,    on_quit,  on_command, on_trace};

/* ------------------------------------------------------------------------ */
/* the driver                                                                */

typedef struct run_result {
    test_log out;
    long allocs_after_start;
    long allocs_end;
} run_result;

static void drain(smtpkit_server *s, test_log *out)
{
    const char *p;
    size_t n;
    while ((n = smtpkit_server_output(s, &p)) > 0) {
        test_log_bytes(out, p, n);
        smtpkit_server_output_done(s, n);
    }
}

/* Resume a paused session with the answer the app kept. */
static void resume(app *a)
{
    int r;
    if (!smtpkit_server_paused(a->s))
        return;
    r = smtpkit_server_resume(a->s, a->have_pending ? &a->pending : NULL);
    a->have_pending = 0;
    if (r < 0)
        test_log_add(&a->ev, "resume error %s\n", smtpkit_strerror(r));
}

static void run(const char *input, size_t len, const size_t *cuts, size_t ncuts, test_log *log,
                void *ctx)
{
    const tconf *t = (const tconf *)ctx;
    app a;
    test_log out = {0};
    test_alloc al = {0};
    smtpkit_mem mem = test_alloc_mem(&al);
    size_t start = 0, ci;
    int r, guard, dead = 0;
    memset(&a, 0, sizeof a);
    a.t = t;
    a.s = smtpkit_server_new(&t->cfg, &app_cb, &a, &mem);
    if (!a.s) {
        test_log_add(log, "new failed\n");
        return;
    }
    r = smtpkit_server_start(a.s, 0);
    if (r < 0)
        test_log_add(&a.ev, "start %s\n", smtpkit_strerror(r));
    resume(&a);
    drain(a.s, &out);
    for (ci = 0; ci <= ncuts; ci++) {
        size_t end = ci < ncuts ? cuts[ci] : len, off = start;
        guard = 0;
        while (!dead && off < end && guard++ < 100000) {
            smtpkit_ssize n = smtpkit_server_feed(a.s, input + off, end - off);
            if (n == SMTPKIT_ERR_PAUSED) {
                resume(&a);
                continue;
            }
            if (n < 0) {
                test_log_add(&a.ev, "feed %s\n", smtpkit_strerror((int)n));
                dead = 1;
                break;
            }
            off += (size_t)n;
            if (!t->drain_late || n == 0)
                drain(a.s, &out);
            resume(&a);
        }
        start = end;
    }
    /* pending work (replies held back by a full output buffer) */
    for (guard = 0; guard < 10000; guard++) {
        smtpkit_ssize n;
        size_t before = out.len;
        drain(a.s, &out);
        resume(&a);
        n = smtpkit_server_feed(a.s, NULL, 0);
        drain(a.s, &out);
        if (n < 0 && n != SMTPKIT_ERR_PAUSED)
            break;
        if (out.len == before && !smtpkit_server_paused(a.s))
            break;
    }
    if (t->eof_at_end)
        smtpkit_server_eof(a.s);
    drain(a.s, &out);
    test_log_add(&a.ev, "want=%u\n", smtpkit_server_want(a.s));
    test_log_add(log, "%s\n--\n%s", test_log_str(&out), test_log_str(&a.ev));
    smtpkit_server_free(a.s);
    /* the session allocates exactly once */
    if (al.allocs != 1 || al.bytes_live != 0)
        test_log_add(log, "allocs=%lu live=%lu\n", (unsigned long)al.allocs,
                     (unsigned long)al.bytes_live);
    test_log_free(&out);
    test_log_free(&a.ev);
    test_log_free(&a.body);
}

/* Unescape "C<" raw text. */
static size_t unescape(const char *src, char *dst)
{
    size_t n = 0;
    while (*src) {
        if (*src == '\\' && src[1]) {
            src++;
            switch (*src) {
            case 'r': dst[n++] = '\r'; break;
            case 'n': dst[n++] = '\n'; break;
            case 't': dst[n++] = '\t'; break;
            case '0': dst[n++] = '\0'; break;
            case 'x': {
                unsigned v = 0;
                int k;
                for (k = 1; k <= 2; k++) {
                    char c = src[k];
                    v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
                }
                dst[n++] = (char)v;
                src += 2;
                break;
            }
            default: dst[n++] = *src; break;
            }
            src++;
        } else {
            dst[n++] = *src++;
        }
    }
    return n;
}

/* Run a conversation in sync and pause mode; compare with its S:/A: lines. */
static void conversation(const tconf *base, const char *const *lines)
{
    char *input = (char *)malloc(1 << 20);
    size_t ilen = 0;
    test_log expect = {0}, out = {0}, ev = {0};
    int mode;
    size_t i;
    for (i = 0; lines[i]; i++) {
        const char *l = lines[i];
        if (l[0] == 'C' && l[1] == ':') {
            size_t n = strlen(l + 3);
            memcpy(input + ilen, l + 3, n);
            ilen += n;
            input[ilen++] = '\r';
            input[ilen++] = '\n';
        } else if (l[0] == 'C' && l[1] == '<') {
            ilen += unescape(l + 3, input + ilen);
        } else if (l[0] == 'S' && l[1] == ':') {
            test_log_bytes(&out, l + 3, strlen(l + 3));
            test_log_add(&out, "\\r\\n");
        } else if (l[0] == 'A' && l[1] == ':') {
            test_log_add(&ev, "%s\n", l + 3);
        }
    }
    test_log_add(&expect, "%s\n--\n%s", test_log_str(&out), test_log_str(&ev));
    for (mode = MODE_SYNC; mode <= MODE_PAUSE; mode++) {
        tconf t = *base;
        test_log got;
        t.mode = mode;
        got = test_split_all(input, ilen, run, &t);
        test_checks++;
        if (strcmp(test_log_str(&got), test_log_str(&expect)) != 0) {
            test_failures++;
            fprintf(stderr, "[%s] mode %d\n--- expected:\n%s\n--- got:\n%s\n", test_current, mode,
                    expect.buf, got.buf);
        }
        test_log_free(&got);
    }
    test_log_free(&expect);
    test_log_free(&out);
    test_log_free(&ev);
    free(input);
}

static tconf base_conf(void)
{
    tconf t;
    memset(&t, 0, sizeof t);
    smtpkit_server_config_init(&t.cfg);
    t.cfg.hostname = "mx.test";
    return t;
}

#define CONV(t, ...)                                                                      \
    do {                                                                                  \
        static const char *const lines_[] = {__VA_ARGS__, NULL};                          \
        conversation(&(t), lines_);                                                       \
    } while (0)

#define GREET "S: 220 mx.test ESMTP smtpkit"
#define EHLO_REPLY                                                                        \
    "S: 250-mx.test", "S: 250-PIPELINING", "S: 250-SIZE", "S: 250-8BITMIME",             \
        "S: 250-SMTPUTF8", "S: 250-CHUNKING", "S: 250-BINARYMIME", "S: 250-DSN",         \
        "S: 250 ENHANCEDSTATUSCODES"
#define EHLO(name) GREET, "C: EHLO " name, EHLO_REPLY
#define A_EHLO(name) "A: connect", "A: EHLO " name
#define RECEIVED                                                                          \
    "Received: from c.test ([192.0.2.1])\\r\\n\\x09by mx.test with ESMTP id ID1;\\r\\n\\x09" \
    "Mon, 1 Jan 2024 00:00:00 +0000\\r\\n"
#define S_MAIL "S: 250 2.1.0 Sender OK"
#define S_RCPT "S: 250 2.1.5 Recipient OK"
#define S_354 "S: 354 Start mail input; end with <CRLF>.<CRLF>"
#define S_QUEUED "S: 250 2.0.0 Message accepted for delivery"
#define S_BYE "S: 221 2.0.0 Service closing transmission channel"
#define WANT_CLOSE "A: want=8"
#define WANT_READ "A: want=1"

/* ------------------------------------------------------------------------ */
/* conversations                                                             */

TEST(basic_transaction)
{
    tconf t = base_conf();
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<x@mx.test>", S_RCPT,
         "C: DATA", S_354, "C: Subject: hi", "C: ", "C: ..dot line", "C: .", S_QUEUED, "C: QUIT",
         S_BYE, A_EHLO("c.test"), "A: mail a@b.test size=0 body=0 utf8=0 ret=0",
         "A: rcpt x@mx.test index=0 notify=0", "A: data",
         "A: end size=26 nrcpt=1 index=0 chunking=0 flags=0",
         "A: message " RECEIVED "Subject: hi\\r\\n\\r\\n.dot line\\r\\n", "A: quit", WANT_CLOSE);
}

TEST(helo_and_sequence_errors)
{
    tconf t = base_conf();
    CONV(t, GREET, "C: MAIL FROM:<a@b.test>", "S: 503 5.5.1 Send HELO or EHLO first",
         "C: HELO c.test", "S: 250 mx.test", "C: RCPT TO:<x@mx.test>",
         "S: 503 5.5.1 Need MAIL before RCPT", "C: DATA", "S: 503 5.5.1 Need MAIL command",
         "C: MAIL FROM:<a@b.test>", S_MAIL, "C: MAIL FROM:<a@b.test>",
         "S: 503 5.5.1 Nested MAIL command", "C: DATA", "S: 554 5.5.1 No valid recipients",
         "C: RSET", "S: 250 2.0.0 OK", "C: NOOP", "S: 250 2.0.0 OK", "C: NOOP hello",
         "S: 250 2.0.0 OK", "C: VRFY someone",
         "S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery",
         "C: VRFY root", "S: 250 2.1.5 root <root@mx.test>", "C: EXPN staff",
         "S: 502 5.5.1 Command not implemented", "C: EXPN list", "S: 250-2.0.0 <a@mx.test>",
         "S: 250 2.0.0 <b@mx.test>", "C: HELP",
         "S: 214 2.0.0 See RFC 5321 (https://www.rfc-editor.org/rfc/rfc5321)", "C: QUIT", S_BYE,
         "A: connect", "A: HELO c.test", "A: mail a@b.test size=0 body=0 utf8=0 ret=0",
         "A: rset", "A: NOOP ", "A: NOOP hello", "A: VRFY someone", "A: VRFY root",
         "A: EXPN staff", "A: EXPN list", "A: HELP ", "A: quit", WANT_CLOSE);
}

TEST(syntax_errors_from_the_parser)
{
    tconf t = base_conf();
    CONV(t, EHLO("c.test"), "C: FOO bar", "S: 500 5.5.1 Command not recognized",
         "C: MAIL FROM:a@b.test", "S: 501 5.1.3 Bad address syntax", "C: MAIL TO:<a@b.test>",
         "S: 501 5.5.4 Syntax error in parameters or arguments",
         "C: MAIL FROM:<a@b.test> FOO=bar",
         "S: 555 5.5.4 MAIL FROM/RCPT TO parameters not recognized or not implemented",
         "C: MAIL FROM:<a@b.test> SIZE=abc",
         "S: 501 5.5.4 Invalid parameter value or repeated parameter",
         "C: MAIL FROM:<a@b.test> SIZE=1 SIZE=2",
         "S: 501 5.5.4 Invalid parameter value or repeated parameter",
         "C: MAIL FROM:<a@b.test> BODY=9BIT",
         "S: 501 5.5.4 Invalid parameter value or repeated parameter",
         "C: MAIL FROM:<\xc3\xa9@b.test>", "S: 553 5.6.7 Non-ASCII address requires SMTPUTF8",
         "C< NOOP \\0x\\r\\n", "S: 500 5.5.2 NUL character not allowed", "C: QUIT", S_BYE,
         A_EHLO("c.test"), "A: quit", WANT_CLOSE);
}

TEST(mail_and_rcpt_parameters)
{
    tconf t = base_conf();
    t.cfg.max_size = 1000;
    CONV(t, GREET, "C: EHLO c.test", "S: 250-mx.test", "S: 250-PIPELINING", "S: 250-SIZE 1000",
         "S: 250-8BITMIME", "S: 250-SMTPUTF8", "S: 250-CHUNKING", "S: 250-BINARYMIME",
         "S: 250-DSN", "S: 250 ENHANCEDSTATUSCODES", "C: MAIL FROM:<a@b.test> SIZE=1001",
         "S: 552 5.3.4 Message size exceeds fixed maximum message size",
         "C: MAIL FROM:<a@b.test> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ+2Bx",
         S_MAIL, "C: RCPT TO:<x@mx.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+40mx.test",
         S_RCPT, "C: RCPT TO:<y@mx.test> NOTIFY=NEVER", S_RCPT,
         "C: RCPT TO:<z@mx.test> NOTIFY=NEVER,DELAY",
         "S: 501 5.5.4 Invalid parameter value or repeated parameter",
         "C: RCPT TO:<z@mx.test> ORCPT=nosemicolon",
         "S: 501 5.5.4 Invalid parameter value or repeated parameter",
         "C: RCPT TO:<z@mx.test> FOO",
         "S: 555 5.5.4 MAIL FROM/RCPT TO parameters not recognized or not implemented",
         "C: RSET", "S: 250 2.0.0 OK", "C: MAIL FROM:<\xc3\xa9@b.test> SMTPUTF8", S_MAIL,
         "C: RCPT TO:<\xc3\xbc@mx.test>", S_RCPT, "C: RSET", "S: 250 2.0.0 OK",
         "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<\xc3\xbc@mx.test>",
         "S: 553 5.6.7 Non-ASCII address requires SMTPUTF8", "C: QUIT", S_BYE,
         A_EHLO("c.test"),
         "A: mail a@b.test size=1000 body=2 utf8=0 ret=2 envid QQ+2Bx",
         "A: rcpt x@mx.test index=0 notify=6 orcpt rfc822;x+40mx.test",
         "A: rcpt y@mx.test index=1 notify=1", "A: rset",
         "A: mail \\xc3\\xa9@b.test size=0 body=0 utf8=1 ret=0",
         "A: rcpt \\xc3\\xbc@mx.test index=0 notify=0", "A: rset",
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0", "A: quit", WANT_CLOSE);
}

TEST(extensions_switched_off)
{
    tconf t = base_conf();
    t.cfg.flags = SMTPKIT_SERVER_NO_PIPELINING | SMTPKIT_SERVER_NO_8BITMIME |
                  SMTPKIT_SERVER_NO_SMTPUTF8 | SMTPKIT_SERVER_NO_CHUNKING |
                  SMTPKIT_SERVER_NO_DSN;
    CONV(t, GREET, "C: EHLO c.test", "S: 250-mx.test", "S: 250-SIZE",
         "S: 250 ENHANCEDSTATUSCODES", "C: MAIL FROM:<a@b.test> BODY=8BITMIME",
         "S: 555 5.5.4 MAIL FROM/RCPT TO parameters not recognized or not implemented",
         "C: MAIL FROM:<a@b.test> SMTPUTF8",
         "S: 555 5.5.4 MAIL FROM/RCPT TO parameters not recognized or not implemented",
         "C: MAIL FROM:<a@b.test> RET=FULL",
         "S: 555 5.5.4 MAIL FROM/RCPT TO parameters not recognized or not implemented",
         "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<x@mx.test>", S_RCPT, "C: BDAT 3",
         "S: 502 5.5.1 Command not implemented", "C: QUIT", S_BYE, A_EHLO("c.test"),
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: quit", WANT_CLOSE);
}

TEST(decisions_refuse_with_their_own_codes)
{
    tconf t = base_conf();
    CONV(t, GREET, "C: EHLO bad.helo", "S: 550 5.7.1 Go away", "C: MAIL FROM:<a@b.test>",
         "S: 503 5.5.1 Send HELO or EHLO first", "C: EHLO c.test", EHLO_REPLY,
         "C: MAIL FROM:<reject@b.test>", "S: 550 5.7.1 Sender refused",
         "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<unknown@mx.test>",
         "S: 550 5.1.1 No such user", "C: RCPT TO:<temp@mx.test>",
         "S: 450 4.2.1 Requested mail action not taken: mailbox unavailable",
         "C: RCPT TO:<forward@mx.test>", "S: 251 2.1.5 User not local; will forward",
         "C: RCPT TO:<weird@mx.test>",
         "S: 451 4.3.0 Requested action aborted: local error in processing",
         "C: RCPT TO:<inject@mx.test>", "S: 550-5.0.0 line one", "S: 550-5.0.0 line two?",
         "S: 550 5.0.0 250 fake", "C: DATA", S_354, "C: REJECTME", "C: .",
         "S: 554 5.7.1 Content rejected", "C: MAIL FROM:<a@b.test>", S_MAIL,
         "C: RCPT TO:<x@mx.test>", S_RCPT, "C: DATA", S_354, "C: QUEUEID", "C: .",
         "S: 250 2.0.0 Queued as ABC", "C: QUIT", S_BYE, "A: connect", "A: EHLO bad.helo",
         "A: EHLO c.test", "A: mail reject@b.test size=0 body=0 utf8=0 ret=0",
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0",
         "A: rcpt unknown@mx.test index=0 notify=0", "A: rcpt temp@mx.test index=0 notify=0",
         "A: rcpt forward@mx.test index=0 notify=0", "A: rcpt weird@mx.test index=1 notify=0",
         "A: rcpt inject@mx.test index=1 notify=0", "A: data",
         "A: end size=10 nrcpt=1 index=0 chunking=0 flags=0",
         "A: message " RECEIVED "REJECTME\\r\\n",
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: data", "A: end size=9 nrcpt=1 index=0 chunking=0 flags=0",
         "A: message " RECEIVED "QUEUEID\\r\\n", "A: quit", WANT_CLOSE);
}

TEST(decision_421_closes)
{
    tconf t = base_conf();
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<bye@b.test>",
         "S: 421 4.0.0 mx.test Service not available, closing transmission channel",
         "C: NOOP", A_EHLO("c.test"), "A: mail bye@b.test size=0 body=0 utf8=0 ret=0",
         WANT_CLOSE);
}

TEST(connection_refused_waits_for_quit)
{
    tconf t = base_conf();
    t.connect_code = 554;
    CONV(t, "S: 554 5.3.2 mx.test No SMTP service here", "C: EHLO c.test",
         "S: 503 5.5.1 Bad sequence of commands", "C: MAIL FROM:<a@b.test>",
         "S: 503 5.5.1 Bad sequence of commands", "C: QUIT", S_BYE, "A: connect", "A: quit",
         WANT_CLOSE);
    t.connect_code = 421;
    CONV(t, "S: 421 4.0.0 mx.test Service not available, closing transmission channel",
         "C: EHLO c.test", "A: connect", WANT_CLOSE);
}

TEST(pipelining_in_one_write)
{
    tconf t = base_conf();
    /* RFC 2920 3.1: replies in order, all of them; DATA after refused RCPTs. */
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<a@b.test>", "C: RCPT TO:<unknown@mx.test>",
         "C: RCPT TO:<x@mx.test>", "C: RCPT TO:<y@mx.test>", "C: DATA", S_MAIL,
         "S: 550 5.1.1 No such user", S_RCPT, S_RCPT, S_354, "C: body", "C: .",
         "C: MAIL FROM:<a@b.test>", "C: RCPT TO:<unknown@mx.test>", "C: DATA", "C: NOOP",
         S_QUEUED, S_MAIL, "S: 550 5.1.1 No such user", "S: 554 5.5.1 No valid recipients",
         "S: 250 2.0.0 OK", "C: QUIT", S_BYE, A_EHLO("c.test"),
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0",
         "A: rcpt unknown@mx.test index=0 notify=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: rcpt y@mx.test index=1 notify=0", "A: data",
         "A: end size=6 nrcpt=2 index=0 chunking=0 flags=0",
         "A: message " RECEIVED "body\\r\\n", "A: mail a@b.test size=0 body=0 utf8=0 ret=0",
         "A: rcpt unknown@mx.test index=0 notify=0", "A: NOOP ", "A: quit", WANT_CLOSE);
}

TEST(bare_lf_and_smuggling_are_refused)
{
    tconf t = base_conf();
    /* The smuggled second message stays inside the first, which is refused. */
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<x@mx.test>",
         S_RCPT, "C: DATA", S_354,
         "C< hello\\n.\\nMAIL FROM:<evil@b.test>\\r\\nRCPT TO:<x@mx.test>\\r\\nDATA\\r\\nevil\\r\\n.\\r\\n",
         "S: 550 5.6.0 Bare CR or LF not allowed", "C: NOOP", "S: 250 2.0.0 OK", "C: QUIT",
         S_BYE, A_EHLO("c.test"), "A: mail a@b.test size=0 body=0 utf8=0 ret=0",
         "A: rcpt x@mx.test index=0 notify=0", "A: data", "A: abort bare CR or LF", "A: NOOP ",
         "A: quit", WANT_CLOSE);
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<x@mx.test>",
         S_RCPT, "C: DATA", S_354, "C< hi\\r\\n.\\rMAIL FROM:<e@b.test>\\r\\n.\\r\\n",
         "S: 550 5.6.0 Bare CR or LF not allowed", A_EHLO("c.test"),
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: data", "A: abort bare CR or LF", WANT_READ);
    t.cfg.flags = SMTPKIT_SERVER_NORMALIZE_BARE_LF;
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<x@mx.test>",
         S_RCPT, "C: DATA", S_354, "C< a\\nb\\r\\n.\\r\\n", S_QUEUED, A_EHLO("c.test"),
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: data", "A: end size=6 nrcpt=1 index=0 chunking=0 flags=2",
         "A: message " RECEIVED "a\\r\\nb\\r\\n", WANT_READ);
}

TEST(size_limit_after_the_data)
{
    tconf t = base_conf();
    t.cfg.max_size = 20;
    CONV(t, GREET, "C: EHLO c.test", "S: 250-mx.test", "S: 250-PIPELINING", "S: 250-SIZE 20",
         "S: 250-8BITMIME", "S: 250-SMTPUTF8", "S: 250-CHUNKING", "S: 250-BINARYMIME",
         "S: 250-DSN", "S: 250 ENHANCEDSTATUSCODES", "C: MAIL FROM:<a@b.test>", S_MAIL,
         "C: RCPT TO:<x@mx.test>", S_RCPT, "C: DATA", S_354, "C: 0123456789", "C: 0123456789",
         "C: .", "S: 552 5.3.4 Message size exceeds fixed maximum message size",
         "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<x@mx.test>", S_RCPT, "C: DATA", S_354,
         "C: 0123456789", "C: 012345", "C: .", S_QUEUED, A_EHLO("c.test"),
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: data", "A: abort message exceeds the server's SIZE limit",
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: data", "A: end size=20 nrcpt=1 index=0 chunking=0 flags=0",
         "A: message " RECEIVED "0123456789\\r\\n012345\\r\\n", WANT_READ);
}

TEST(long_text_line)
{
    tconf t = base_conf();
    char line[1100];
    static const char *lines[40];
    int n = 0;
    memset(line, 'x', sizeof line);
    memcpy(line, "C: ", 3);
    line[3 + 999] = '\0'; /* 999 octets + CRLF = 1001 > 1000 */
    lines[n++] = GREET;
    lines[n++] = "C: HELO c.test";
    lines[n++] = "S: 250 mx.test";
    lines[n++] = "C: MAIL FROM:<a@b.test>";
    lines[n++] = S_MAIL;
    lines[n++] = "C: RCPT TO:<x@mx.test>";
    lines[n++] = S_RCPT;
    lines[n++] = "C: DATA";
    lines[n++] = S_354;
    lines[n++] = line;
    lines[n++] = "C: .";
    lines[n++] = "S: 550 5.6.0 Message has a line longer than allowed";
    lines[n++] = "A: connect";
    lines[n++] = "A: HELO c.test";
    lines[n++] = "A: mail a@b.test size=0 body=0 utf8=0 ret=0";
    lines[n++] = "A: rcpt x@mx.test index=0 notify=0";
    lines[n++] = "A: data";
    lines[n++] = "A: abort line too long";
    lines[n++] = WANT_READ;
    lines[n] = NULL;
    conversation(&t, lines);
}

TEST(command_line_too_long)
{
    tconf t = base_conf();
    char line[700];
    static const char *lines[20];
    int n = 0;
    memset(line, 'y', sizeof line);
    memcpy(line, "C: NOOP ", 8);
    line[600] = '\0';
    lines[n++] = GREET;
    lines[n++] = line;
    lines[n++] = "S: 500 5.5.6 Line too long";
    lines[n++] = "C: NOOP";
    lines[n++] = "S: 250 2.0.0 OK";
    lines[n++] = "A: connect";
    lines[n++] = "A: NOOP ";
    lines[n++] = WANT_READ;
    lines[n] = NULL;
    conversation(&t, lines);
    /* exactly at the limit: 510 octets + CRLF = 512 is fine */
    memset(line, 'y', sizeof line);
    memcpy(line, "C: NOOP ", 8);
    line[3 + 510] = '\0';
    n = 0;
    lines[n++] = GREET;
    lines[n++] = line;
    lines[n++] = "S: 250 2.0.0 OK";
    lines[n++] = "A: connect";
    {
        static char aline[600];
        memcpy(aline, "A: NOOP ", 8);
        memset(aline + 8, 'y', 505);
        aline[8 + 505] = '\0';
        lines[n++] = aline;
    }
    lines[n++] = WANT_READ;
    lines[n] = NULL;
    conversation(&t, lines);
}

TEST(too_many_recipients)
{
    tconf t = base_conf();
    t.cfg.max_recipients = 2;
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<x@mx.test>", S_RCPT,
         "C: RCPT TO:<unknown@mx.test>", "S: 550 5.1.1 No such user", "C: RCPT TO:<y@mx.test>",
         S_RCPT, "C: RCPT TO:<z@mx.test>", "S: 452 4.5.3 Too many recipients",
         A_EHLO("c.test"), "A: mail a@b.test size=0 body=0 utf8=0 ret=0",
         "A: rcpt x@mx.test index=0 notify=0", "A: rcpt unknown@mx.test index=1 notify=0",
         "A: rcpt y@mx.test index=1 notify=0", WANT_READ);
}

TEST(too_many_errors)
{
    tconf t = base_conf();
    t.cfg.max_errors = 3;
    CONV(t, GREET, "C: FOO", "S: 500 5.5.1 Command not recognized", "C: BAR",
         "S: 500 5.5.1 Command not recognized", "C: BAZ", "S: 500 5.5.1 Command not recognized",
         "S: 421 4.7.0 mx.test Too many errors, closing connection", "C: NOOP", "A: connect",
         WANT_CLOSE);
}

TEST(junk_and_command_limits)
{
    tconf t = base_conf();
    t.cfg.max_junk_commands = 2;
    t.cfg.max_errors = 2;
    CONV(t, GREET, "C: NOOP", "S: 250 2.0.0 OK", "C: NOOP", "S: 250 2.0.0 OK", "C: NOOP",
         "S: 250 2.0.0 OK", "C: NOOP", "S: 421 4.7.0 mx.test Too many errors, closing connection",
         "A: connect", "A: NOOP ", "A: NOOP ", "A: NOOP ", WANT_CLOSE);
    t = base_conf();
    t.cfg.max_commands = 2;
    CONV(t, GREET, "C: NOOP", "S: 250 2.0.0 OK", "C: NOOP", "S: 250 2.0.0 OK", "C: NOOP",
         "S: 421 4.7.0 mx.test Too many commands, closing connection", "A: connect",
         "A: NOOP ", "A: NOOP ", WANT_CLOSE);
}

TEST(input_after_quit_is_ignored)
{
    tconf t = base_conf();
    CONV(t, GREET, "C: QUIT", "C: NOOP", "C: MAIL FROM:<a@b.test>", S_BYE, "A: connect",
         "A: quit", WANT_CLOSE);
}

TEST(data_rejected_at_start)
{
    tconf t = base_conf();
    t.data_code = 554;
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<x@mx.test>", S_RCPT,
         "C: DATA", "S: 554 5.0.0 No data today", "C: RSET", "S: 250 2.0.0 OK",
         A_EHLO("c.test"), "A: mail a@b.test size=0 body=0 utf8=0 ret=0",
         "A: rcpt x@mx.test index=0 notify=0", "A: data", "A: rset", WANT_READ);
}

TEST(bdat_chunks)
{
    tconf t = base_conf();
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<a@b.test> BODY=BINARYMIME", S_MAIL,
         "C: RCPT TO:<x@mx.test>", S_RCPT, "C< BDAT 5\r\nab\r\n.BDAT 0 LAST\r\n",
         "S: 250 2.0.0 5 octets received", S_QUEUED, "C: MAIL FROM:<a@b.test>", S_MAIL,
         "C: RCPT TO:<x@mx.test>", S_RCPT, "C< BDAT 3 LAST\r\nx\ny", S_QUEUED,
         "C: MAIL FROM:<a@b.test> BODY=BINARYMIME", S_MAIL, "C: RCPT TO:<x@mx.test>", S_RCPT,
         "C: DATA", "S: 503 5.5.1 BINARYMIME needs BDAT", "C< BDAT 2\r\nxx", 
         "S: 250 2.0.0 2 octets received", "C: DATA", "S: 503 5.5.1 DATA after BDAT",
         "C: RSET", "S: 250 2.0.0 OK", A_EHLO("c.test"),
         "A: mail a@b.test size=0 body=3 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: data", "A: end size=5 nrcpt=1 index=0 chunking=1 flags=0",
         "A: message " RECEIVED "ab\\r\\n.", "A: mail a@b.test size=0 body=0 utf8=0 ret=0",
         "A: rcpt x@mx.test index=0 notify=0", "A: data",
         "A: end size=3 nrcpt=1 index=0 chunking=1 flags=0", "A: message " RECEIVED "x\\ny",
         "A: mail a@b.test size=0 body=3 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: data", "A: rset", "A: abort not allowed in the current state", WANT_READ);
}

TEST(bdat_refused_chunks_are_swallowed)
{
    tconf t = base_conf();
    t.cfg.max_size = 4;
    /* The chunk bytes of a refused BDAT are never read as commands. */
    CONV(t, GREET, "C: EHLO c.test", "S: 250-mx.test", "S: 250-PIPELINING", "S: 250-SIZE 4",
         "S: 250-8BITMIME", "S: 250-SMTPUTF8", "S: 250-CHUNKING", "S: 250-BINARYMIME",
         "S: 250-DSN", "S: 250 ENHANCEDSTATUSCODES", "C< BDAT 6\r\nQUIT\r\n",
         "S: 503 5.5.1 Need MAIL command", "C: MAIL FROM:<a@b.test>", S_MAIL,
         "C< BDAT 6 LAST\r\nQUIT\r\n", "S: 554 5.5.1 No valid recipients",
         "C: RCPT TO:<x@mx.test>", S_RCPT, "C< BDAT 3\r\nabc",
         "S: 250 2.0.0 3 octets received", "C< BDAT 6 LAST\r\nQUIT\r\n",
         "S: 552 5.3.4 Message size exceeds fixed maximum message size",
         "C< BDAT 1 LAST\r\nx", "S: 503 5.5.1 Need MAIL command", A_EHLO("c.test"),
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: data", "A: abort message exceeds the server's SIZE limit", WANT_READ);
    t = base_conf();
    t.data_code = 554;
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<x@mx.test>", S_RCPT,
         "C< BDAT 6 LAST\r\nQUIT\r\n", "S: 554 5.0.0 No data today", "C: NOOP",
         "S: 250 2.0.0 OK", A_EHLO("c.test"), "A: mail a@b.test size=0 body=0 utf8=0 ret=0",
         "A: rcpt x@mx.test index=0 notify=0", "A: data", "A: NOOP ", WANT_READ);
}

TEST(lmtp_replies_per_recipient)
{
    tconf t = base_conf();
    t.cfg.flags = SMTPKIT_SERVER_LMTP;
    CONV(t, "S: 220 mx.test LMTP smtpkit", "C: EHLO c.test", "S: 500 5.5.1 Syntax error, command unrecognized",
         "C: LHLO c.test", "S: 250-mx.test", "S: 250-PIPELINING", "S: 250-SIZE",
         "S: 250-8BITMIME", "S: 250-SMTPUTF8", "S: 250-CHUNKING", "S: 250-BINARYMIME",
         "S: 250-DSN", "S: 250 ENHANCEDSTATUSCODES", "C: MAIL FROM:<a@b.test>", S_MAIL,
         "C: RCPT TO:<x@mx.test>", S_RCPT, "C: RCPT TO:<unknown@mx.test>",
         "S: 550 5.1.1 No such user", "C: RCPT TO:<y@mx.test>", S_RCPT,
         "C: RCPT TO:<z@mx.test>", S_RCPT, "C: DATA", S_354, "C: LMTPMIX", "C: .", S_QUEUED,
         "S: 452 4.2.2 Mailbox full", S_QUEUED, "C: MAIL FROM:<a@b.test>", S_MAIL,
         "C: RCPT TO:<x@mx.test>", S_RCPT, "C: RCPT TO:<y@mx.test>", S_RCPT, "C: DATA", S_354,
         "C< x\\ny\\r\\n.\\r\\n", "S: 550 5.6.0 Bare CR or LF not allowed",
         "S: 550 5.6.0 Bare CR or LF not allowed", "A: connect", "A: LHLO c.test",
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: rcpt unknown@mx.test index=1 notify=0", "A: rcpt y@mx.test index=1 notify=0",
         "A: rcpt z@mx.test index=2 notify=0", "A: data",
         "A: end size=9 nrcpt=3 index=0 chunking=0 flags=0",
         "A: message Received: from c.test ([192.0.2.1])\\r\\n\\x09by mx.test with LMTP id ID1;"
         "\\r\\n\\x09Mon, 1 Jan 2024 00:00:00 +0000\\r\\nLMTPMIX\\r\\n",
         "A: end size=9 nrcpt=3 index=1 chunking=0 flags=0",
         "A: end size=9 nrcpt=3 index=2 chunking=0 flags=0",
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: rcpt y@mx.test index=1 notify=0", "A: data", "A: abort bare CR or LF", WANT_READ);
}

TEST(lmtp_many_recipients_through_a_small_buffer)
{
    /* 60 replies do not fit the output buffer: they come out as it drains. */
    tconf t = base_conf();
    static const char *lines[400];
    static char rc[60][40];
    int n = 0, i;
    t.cfg.flags = SMTPKIT_SERVER_LMTP | SMTPKIT_SERVER_NO_RECEIVED;
    t.cfg.output_buffer = 600;
    t.drain_late = 1;
    lines[n++] = "S: 220 mx.test LMTP smtpkit";
    lines[n++] = "C: LHLO c.test";
    lines[n++] = "C: MAIL FROM:<a@b.test>";
    for (i = 0; i < 60; i++) {
        snprintf(rc[i], sizeof rc[i], "C: RCPT TO:<r%d@mx.test>", i);
        lines[n++] = rc[i];
    }
    lines[n++] = "C: DATA";
    lines[n++] = "S: 250-mx.test";
    lines[n++] = "S: 250-PIPELINING";
    lines[n++] = "S: 250-SIZE";
    lines[n++] = "S: 250-8BITMIME";
    lines[n++] = "S: 250-SMTPUTF8";
    lines[n++] = "S: 250-CHUNKING";
    lines[n++] = "S: 250-BINARYMIME";
    lines[n++] = "S: 250-DSN";
    lines[n++] = "S: 250 ENHANCEDSTATUSCODES";
    lines[n++] = S_MAIL;
    for (i = 0; i < 60; i++)
        lines[n++] = S_RCPT;
    lines[n++] = S_354;
    lines[n++] = "C: hi";
    lines[n++] = "C: .";
    lines[n++] = "C: QUIT";
    for (i = 0; i < 60; i++)
        lines[n++] = S_QUEUED;
    lines[n++] = S_BYE;
    lines[n] = NULL;
    {
        /* only the S: lines are compared here: build the A: lines too */
        static char ev[60][64];
        static char endl[60][64];
        lines[n++] = "A: connect";
        lines[n++] = "A: LHLO c.test";
        lines[n++] = "A: mail a@b.test size=0 body=0 utf8=0 ret=0";
        for (i = 0; i < 60; i++) {
            snprintf(ev[i], sizeof ev[i], "A: rcpt r%d@mx.test index=%d notify=0", i, i);
            lines[n++] = ev[i];
        }
        lines[n++] = "A: data";
        for (i = 0; i < 60; i++) {
            snprintf(endl[i], sizeof endl[i], "A: end size=4 nrcpt=60 index=%d chunking=0 flags=0", i);
            lines[n++] = endl[i];
            if (i == 0)
                lines[n++] = "A: message hi\\r\\n";
        }
        lines[n++] = "A: quit";
        lines[n++] = WANT_CLOSE;
        lines[n] = NULL;
    }
    conversation(&t, lines);
}

TEST(received_header_variants)
{
    tconf t = base_conf();
    t.no_trace = 1; /* no date: no header */
    CONV(t, "S: 220 mx.test ESMTP smtpkit", "C: HELO c.test", "S: 250 mx.test",
         "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<x@mx.test>", S_RCPT, "C: DATA", S_354,
         "C: x", "C: .", S_QUEUED, "A: connect", "A: HELO c.test",
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: data", "A: end size=3 nrcpt=1 index=0 chunking=0 flags=0", "A: message x\\r\\n",
         WANT_READ);
    t = base_conf();
    CONV(t, "S: 220 mx.test ESMTP smtpkit", "C: HELO c.test", "S: 250 mx.test",
         "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<x@mx.test>", S_RCPT, "C: DATA", S_354,
         "C: x", "C: .", S_QUEUED, "A: connect", "A: HELO c.test",
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: data", "A: end size=3 nrcpt=1 index=0 chunking=0 flags=0",
         "A: message Received: from c.test ([192.0.2.1])\\r\\n\\x09by mx.test with SMTP id ID1;"
         "\\r\\n\\x09Mon, 1 Jan 2024 00:00:00 +0000\\r\\nx\\r\\n",
         WANT_READ);
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<\xc3\xa9@b.test> SMTPUTF8", S_MAIL,
         "C: RCPT TO:<x@mx.test>", S_RCPT, "C: DATA", S_354, "C: .", S_QUEUED,
         A_EHLO("c.test"), "A: mail \\xc3\\xa9@b.test size=0 body=0 utf8=1 ret=0",
         "A: rcpt x@mx.test index=0 notify=0", "A: data",
         "A: end size=0 nrcpt=1 index=0 chunking=0 flags=0",
         "A: message Received: from c.test ([192.0.2.1])\\r\\n\\x09by mx.test with UTF8SMTP id ID1;"
         "\\r\\n\\x09Mon, 1 Jan 2024 00:00:00 +0000\\r\\n",
         WANT_READ);
}

TEST(eof_mid_message_aborts)
{
    tconf t = base_conf();
    t.eof_at_end = 1;
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<x@mx.test>", S_RCPT,
         "C: DATA", S_354, "C: partial", A_EHLO("c.test"),
         "A: mail a@b.test size=0 body=0 utf8=0 ret=0", "A: rcpt x@mx.test index=0 notify=0",
         "A: data", "A: abort connection closed", WANT_CLOSE);
}

TEST(callback_abort_is_fatal)
{
    tconf t = base_conf();
    t.fail_body = 1;
    t.no_trace = 1;
    /* on_body fails: 421 and close, the message is dropped. */
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<a@b.test>", S_MAIL, "C: RCPT TO:<x@mx.test>", S_RCPT,
         "C: DATA", S_354, "C: x", "C: .", "S: 421 4.3.0 mx.test Local error, closing connection",
         A_EHLO("c.test"), "A: mail a@b.test size=0 body=0 utf8=0 ret=0",
         "A: rcpt x@mx.test index=0 notify=0", "A: data", "A: abort aborted by callback",
         "A: feed aborted by callback", WANT_CLOSE);
}

TEST(require_tls_and_auth_policies)
{
    tconf t = base_conf();
    t.cfg.flags = SMTPKIT_SERVER_REQUIRE_TLS | SMTPKIT_SERVER_STARTTLS;
    CONV(t, GREET, "C: EHLO c.test", "S: 250-mx.test", "S: 250-PIPELINING", "S: 250-SIZE",
         "S: 250-8BITMIME", "S: 250-SMTPUTF8", "S: 250-CHUNKING", "S: 250-BINARYMIME",
         "S: 250-DSN", "S: 250-ENHANCEDSTATUSCODES", "S: 250 STARTTLS",
         "C: MAIL FROM:<a@b.test>", "S: 530 5.7.0 Must issue a STARTTLS command first",
         "C: NOOP", "S: 250 2.0.0 OK", "C: STARTTLS x",
         "S: 501 5.5.4 Syntax error in parameters or arguments",
         "C: STARTTLS", "S: 220 2.0.0 Ready to start TLS", "C: NOOP", "C: MAIL FROM:<a@b.test>",
         A_EHLO("c.test"), "A: NOOP ", "A: want=4");
    t.cfg.flags = SMTPKIT_SERVER_REQUIRE_AUTH;
    CONV(t, EHLO("c.test"), "C: MAIL FROM:<a@b.test>", "S: 530 5.7.0 Authentication required",
         "C: AUTH PLAIN", "S: 502 5.5.1 Command not implemented", A_EHLO("c.test"), WANT_READ);
}

/* ------------------------------------------------------------------------ */
/* direct tests (not transcripts)                                            */

static smtpkit_server *mk(const smtpkit_server_config *cfg, const smtpkit_server_callbacks *cb,
                          void *user)
{
    smtpkit_server *s = smtpkit_server_new(cfg, cb, user, NULL);
    CHECK(s != NULL);
    return s;
}

static size_t take_out(smtpkit_server *s, char *buf, size_t cap)
{
    const char *p;
    size_t n = smtpkit_server_output(s, &p), got = 0;
    while (n) {
        if (n > cap - got - 1)
            n = cap - got - 1;
        memcpy(buf + got, p, n);
        got += n;
        smtpkit_server_output_done(s, n);
        n = smtpkit_server_output(s, &p);
        if (got + 1 >= cap)
            break;
    }
    buf[got] = '\0';
    return got;
}

static smtpkit_ssize feed_str(smtpkit_server *s, const char *str)
{
    return smtpkit_server_feed(s, str, strlen(str));
}

TEST(timeouts_with_a_fake_clock)
{
    smtpkit_server_config cfg;
    smtpkit_server *s;
    char out[2048];
    smtpkit_server_config_init(&cfg);
    cfg.hostname = "mx.test";
    cfg.timeout_command_ms = 1000;
    cfg.timeout_data_ms = 5000;
    s = mk(&cfg, NULL, NULL);
    CHECK_INT(smtpkit_server_deadline(s), SMTPKIT_SERVER_NO_DEADLINE);
    CHECK_INT(smtpkit_server_start(s, 100), 0);
    CHECK_INT(smtpkit_server_start(s, 100), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_server_deadline(s), 1100);
    take_out(s, out, sizeof out);
    smtpkit_server_tick(s, 200); /* activity (output) moves the deadline */
    CHECK_INT(smtpkit_server_deadline(s), 1200);
    CHECK_INT(smtpkit_server_tick(s, 1199), 0);
    CHECK_INT(feed_str(s, "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"), 46);
    CHECK_INT(smtpkit_server_tick(s, 1150), 0);
    CHECK_INT(smtpkit_server_deadline(s), 6150); /* data timeout now */
    take_out(s, out, sizeof out);
    CHECK_INT(feed_str(s, "partial"), 7);
    CHECK_INT(smtpkit_server_tick(s, 6000), 0);
    CHECK_INT(smtpkit_server_tick(s, 11000), SMTPKIT_ERR_TIMEOUT);
    take_out(s, out, sizeof out);
    CHECK_STR(out, "421 4.4.2 mx.test Timeout exceeded, closing connection\r\n");
    CHECK_INT(smtpkit_server_close_reason(s), SMTPKIT_ERR_TIMEOUT);
    CHECK(smtpkit_server_want(s) & SMTPKIT_SERVER_WANT_CLOSE);
    CHECK_INT(smtpkit_server_deadline(s), SMTPKIT_SERVER_NO_DEADLINE);
    smtpkit_server_free(s);

    /* the 421 itself is never taken: the output is dropped at the next deadline */
    s = mk(&cfg, NULL, NULL);
    smtpkit_server_start(s, 0);
    CHECK_INT(smtpkit_server_tick(s, 1000), SMTPKIT_ERR_TIMEOUT);
    CHECK(smtpkit_server_output(s, NULL) > 0);
    CHECK_INT(smtpkit_server_deadline(s), 2000);
    CHECK_INT(smtpkit_server_tick(s, 2000), 0);
    CHECK_INT(smtpkit_server_output(s, NULL), 0);
    CHECK_INT(smtpkit_server_want(s), SMTPKIT_SERVER_WANT_CLOSE);
    smtpkit_server_free(s);
}

typedef struct pause_app {
    int pauses;
    int aborts;
} pause_app;

static int p_rcpt(void *u, const smtpkit_server_rcpt *r, smtpkit_server_decision *d)
{
    (void)r;
    (void)d;
    ((pause_app *)u)->pauses++;
    return SMTPKIT_PAUSE;
}

TEST(paused_session_consumes_nothing_and_has_no_deadline)
{
    smtpkit_server_callbacks cb;
    pause_app pa = {0, 0};
    smtpkit_server *s;
    char out[2048];
    const char *in = "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nRCPT TO:<z@y>\r\nDATA\r\n";
    smtpkit_ssize n;
    size_t off;
    memset(&cb, 0, sizeof cb);
    cb.on_rcpt = p_rcpt;
    s = mk(NULL, &cb, &pa);
    smtpkit_server_start(s, 0);
    n = feed_str(s, in);
    off = (size_t)n;
    CHECK_INT(off, strlen("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\n"));
    CHECK(smtpkit_server_paused(s));
    CHECK_INT(smtpkit_server_feed(s, in + off, strlen(in) - off), SMTPKIT_ERR_PAUSED);
    CHECK_INT(smtpkit_server_deadline(s), SMTPKIT_SERVER_NO_DEADLINE);
    CHECK(!(smtpkit_server_want(s) & SMTPKIT_SERVER_WANT_READ));
    CHECK_INT(smtpkit_server_tick(s, 999999999), 0);
    CHECK_INT(smtpkit_server_resume(s, NULL), 0);
    CHECK_INT(smtpkit_server_resume(s, NULL), SMTPKIT_ERR_STATE);
    n = smtpkit_server_feed(s, in + off, strlen(in) - off);
    CHECK_INT(n, strlen("RCPT TO:<z@y>\r\n"));
    off += (size_t)n;
    {
        smtpkit_server_decision d = {550, "5.1.1", "Gone"};
        CHECK_INT(smtpkit_server_resume(s, &d), 0);
    }
    take_out(s, out, sizeof out);
    CHECK(strstr(out, "250 2.1.5 Recipient OK\r\n550 5.1.1 Gone\r\n") != NULL);
    CHECK_INT(smtpkit_server_feed(s, in + off, strlen(in) - off), 6);
    take_out(s, out, sizeof out);
    CHECK(strncmp(out, "354 ", 4) == 0);
    CHECK_INT(pa.pauses, 2);
    /* shutdown while paused in the data */
    CHECK_INT(smtpkit_server_shutdown(s, NULL), 0);
    take_out(s, out, sizeof out);
    CHECK(strstr(out, "421 4.3.2 localhost Service shutting down\r\n") != NULL);
    CHECK_INT(smtpkit_server_shutdown(s, NULL), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_server_close_reason(s), SMTPKIT_ERR_STATE);
    smtpkit_server_free(s);
}

TEST(backpressure_stops_consuming)
{
    smtpkit_server_config cfg;
    smtpkit_server *s;
    char in[8192], out[16384];
    size_t len = 0, off = 0, total_out = 0;
    int i, rounds = 0;
    smtpkit_server_config_init(&cfg);
    cfg.max_junk_commands = 1000;
    s = mk(&cfg, NULL, NULL);
    smtpkit_server_start(s, 0);
    take_out(s, out, sizeof out);
    for (i = 0; i < 200; i++) {
        memcpy(in + len, "NOOP\r\n", 6);
        len += 6;
    }
    while (off < len && rounds < 1000) {
        smtpkit_ssize n = smtpkit_server_feed(s, in + off, len - off);
        CHECK(n >= 0);
        if (n < 0)
            break;
        /* the buffer never holds more than its size */
        CHECK(smtpkit_server_output(s, NULL) <= SMTPKIT_SERVER_OUTPUT_DEFAULT);
        off += (size_t)n;
        if (off < len)
            CHECK(!(smtpkit_server_want(s) & SMTPKIT_SERVER_WANT_READ));
        total_out += take_out(s, out, sizeof out);
        rounds++;
    }
    CHECK_INT(off, len);
    CHECK_INT(total_out, 200 * strlen("250 2.0.0 OK\r\n"));
    CHECK(rounds > 1);
    smtpkit_server_free(s);
}

static int counting_body(void *u, const char *p, size_t n)
{
    (void)p;
    *(uint64_t *)u += n;
    return 0;
}

TEST(no_allocation_per_message)
{
    test_alloc al = {0};
    smtpkit_mem mem = test_alloc_mem(&al);
    smtpkit_server_callbacks cb;
    smtpkit_server *s;
    uint64_t bytes = 0;
    char out[4096];
    int i;
    memset(&cb, 0, sizeof cb);
    cb.on_body = counting_body;
    s = smtpkit_server_new(NULL, &cb, &bytes, &mem);
    CHECK(s != NULL);
    CHECK_INT(al.allocs, 1);
    CHECK_INT(al.bytes_live, smtpkit_server_size(NULL));
    smtpkit_server_start(s, 0);
    feed_str(s, "EHLO c\r\n");
    for (i = 0; i < 1000; i++) {
        static const char msg[] = "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
        static const char body[] = "Subject: x\r\n\r\nhello\r\n.\r\n";
        CHECK_INT(feed_str(s, msg), (smtpkit_ssize)strlen(msg));
        take_out(s, out, sizeof out);
        CHECK_INT(feed_str(s, body), (smtpkit_ssize)strlen(body));
        take_out(s, out, sizeof out);
        CHECK_STR(out, "250 2.0.0 Message accepted for delivery\r\n");
    }
    CHECK_INT(bytes, 1000 * strlen("Subject: x\r\n\r\nhello\r\n"));
    CHECK_INT(al.allocs, 1);
    smtpkit_server_free(s);
    CHECK_INT(al.frees, 1);
    CHECK_INT(al.bytes_live, 0);
    /* allocation failure */
    al.fail_at = (long)al.allocs + 1;
    CHECK(smtpkit_server_new(NULL, &cb, NULL, &mem) == NULL);
    /* the memory figure stays small */
    CHECK(smtpkit_server_size(NULL) < 1900);
    printf("server session: %zu bytes (state %zu + output %d + line %d + HELO name %d)\n",
           smtpkit_server_size(NULL), sizeof(struct smtpkit_server),
           SMTPKIT_SERVER_OUTPUT_DEFAULT, SMTPKIT_COMMAND_LINE_MAX, SMTPKIT_SERVER_HELO_MAX);
}

/* A fake SASL provider: PLAIN-like, answers "ok" as the right response. */
typedef struct fake_auth {
    int cancels;
    int pause;
    smtpkit_server *s;
} fake_auth;

static int fa_start(void *ctx, smtpkit_server *s, smtpkit_view mech, smtpkit_view ir, int has_ir)
{
    fake_auth *f = (fake_auth *)ctx;
    if (!smtpkit__ieq(mech.ptr, mech.len, "PLAIN")) {
        smtpkit_server_decision d = {504, "5.5.4", "Unrecognized authentication type"};
        return smtpkit_server_auth_result(s, 0, &d);
    }
    if (f->pause)
        return SMTPKIT_PAUSE;
    if (has_ir)
        return smtpkit_server_auth_result(s, smtpkit__ieq(ir.ptr, ir.len, "b2s="), NULL);
    return smtpkit_server_auth_challenge(s, "", 0);
}

static int fa_step(void *ctx, smtpkit_server *s, smtpkit_view line)
{
    (void)ctx;
    if (line.len == 1 && line.ptr[0] == '*') {
        smtpkit_server_decision d = {501, "5.0.0", "Authentication cancelled"};
        return smtpkit_server_auth_result(s, 0, &d);
    }
    return smtpkit_server_auth_result(s, smtpkit__ieq(line.ptr, line.len, "b2s="), NULL);
}

/* A broken provider: neither answers nor pauses. */
static int fa_silent(void *ctx, smtpkit_server *s, smtpkit_view mech, smtpkit_view ir, int has_ir)
{
    (void)ctx;
    (void)s;
    (void)mech;
    (void)ir;
    (void)has_ir;
    return 0;
}

static void fa_cancel(void *ctx, smtpkit_server *s)
{
    (void)s;
    ((fake_auth *)ctx)->cancels++;
}

TEST(auth_hook)
{
    static const smtpkit_server_auth_ops ops = {"PLAIN LOGIN", fa_start, fa_step, fa_cancel};
    smtpkit_server_config cfg;
    smtpkit_server *s;
    fake_auth fa = {0, 0, NULL};
    char out[4096];
    smtpkit_server_config_init(&cfg);
    cfg.hostname = "mx.test";
    cfg.flags = SMTPKIT_SERVER_REQUIRE_AUTH;
    s = mk(&cfg, NULL, NULL);
    CHECK_INT(smtpkit_server_set_auth(s, &ops, &fa), 0);
    smtpkit_server_start(s, 0);
    take_out(s, out, sizeof out);
    /* no TLS: not offered, refused with 538 */
    feed_str(s, "EHLO c\r\nAUTH PLAIN b2s=\r\n");
    take_out(s, out, sizeof out);
    CHECK(strstr(out, "AUTH") == NULL || strstr(out, "250-AUTH") == NULL);
    CHECK(strstr(out, "538 5.7.11 Encryption required") != NULL);
    smtpkit_server_free(s);

    cfg.flags = SMTPKIT_SERVER_REQUIRE_AUTH | SMTPKIT_SERVER_AUTH_PLAINTEXT;
    s = mk(&cfg, NULL, NULL);
    smtpkit_server_set_auth(s, &ops, &fa);
    smtpkit_server_start(s, 0);
    take_out(s, out, sizeof out);
    feed_str(s, "AUTH PLAIN\r\nEHLO c\r\n");
    take_out(s, out, sizeof out);
    CHECK(strncmp(out, "503 5.5.1 Send EHLO first\r\n", 27) == 0);
    CHECK(strstr(out, "250 AUTH PLAIN LOGIN\r\n") != NULL);
    feed_str(s, "AUTH PLAIN\r\n");
    take_out(s, out, sizeof out);
    CHECK_STR(out, "334 \r\n");
    feed_str(s, "*\r\n");
    take_out(s, out, sizeof out);
    CHECK_STR(out, "501 5.0.0 Authentication cancelled\r\n");
    feed_str(s, "AUTH PLAIN\r\nbad=\r\nMAIL FROM:<a@b>\r\n");
    take_out(s, out, sizeof out);
    CHECK_STR(out, "334 \r\n535 5.7.8 Authentication credentials invalid\r\n"
                   "530 5.7.0 Authentication required\r\n");
    CHECK_STR(smtpkit_server_protocol(s), "ESMTP");
    feed_str(s, "AUTH CRAM-MD5\r\nAUTH PLAIN b2s=\r\nAUTH PLAIN b2s=\r\nMAIL FROM:<a@b>\r\n");
    take_out(s, out, sizeof out);
    CHECK_STR(out, "504 5.5.4 Unrecognized authentication type\r\n"
                   "235 2.7.0 Authentication successful\r\n"
                   "503 5.5.1 Already authenticated\r\n250 2.1.0 Sender OK\r\n");
    CHECK(smtpkit_server_authenticated(s));
    CHECK_STR(smtpkit_server_protocol(s), "ESMTPA");
    smtpkit_server_free(s);

    /* asynchronous provider; a response line too long cancels */
    fa.pause = 1;
    s = mk(&cfg, NULL, NULL);
    smtpkit_server_set_auth(s, &ops, &fa);
    smtpkit_server_start(s, 0);
    feed_str(s, "EHLO c\r\n");
    take_out(s, out, sizeof out);
    CHECK_INT(feed_str(s, "AUTH PLAIN\r\nNOOP\r\n"), 12);
    CHECK(smtpkit_server_paused(s));
    CHECK_INT(smtpkit_server_resume(s, NULL), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_server_set_auth(s, NULL, NULL), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_server_auth_challenge(s, "a\rb", 3), SMTPKIT_ERR_INJECTION);
    CHECK_INT(smtpkit_server_auth_challenge(s, "Zm9v", 4), 0);
    CHECK(!smtpkit_server_paused(s));
    CHECK_INT(smtpkit_server_auth_challenge(s, "Zm9v", 4), SMTPKIT_ERR_STATE);
    {
        /* RFC 4954 4: a response line longer than a command line, up to
         * 12288 octets with CRLF, reaches the provider (whole or in pieces);
         * one octet more is "500 5.5.6" and cancels the exchange. */
        static char big[12289];
        size_t i, n;
        memset(big, 'A', sizeof big);
        big[698] = '\r';
        big[699] = '\n';
        CHECK_INT(smtpkit_server_feed(s, big, 700), 700);
        take_out(s, out, sizeof out);
        CHECK_STR(out, "334 Zm9v\r\n535 5.7.8 Authentication credentials invalid\r\n");
        CHECK_INT(fa.cancels, 0);
        fa.pause = 0;
        for (n = 12288; n <= 12289; n++) {
            memset(big, 'A', sizeof big);
            big[n - 2] = '\r';
            big[n - 1] = '\n';
            feed_str(s, "AUTH PLAIN\r\n");
            for (i = 0; i < n; i += 1000)
                CHECK_INT(smtpkit_server_feed(s, big + i, n - i < 1000 ? n - i : 1000),
                          n - i < 1000 ? n - i : 1000);
            take_out(s, out, sizeof out);
            CHECK_STR(out, n == 12288 ? "334 \r\n535 5.7.8 Authentication credentials invalid\r\n"
                                      : "334 \r\n500 5.5.6 Line too long\r\n");
        }
    }
    CHECK_INT(fa.cancels, 1);
    /* EOF in the middle of an exchange cancels too */
    feed_str(s, "AUTH PLAIN\r\n");
    smtpkit_server_eof(s);
    CHECK_INT(fa.cancels, 2);
    smtpkit_server_free(s);

    /* a provider that does not answer: 454, and the session goes on */
    {
        static const smtpkit_server_auth_ops silent = {"PLAIN", fa_silent, fa_step, NULL};
        CHECK_INT(smtpkit_server_set_auth(NULL, &silent, NULL), SMTPKIT_ERR_INVALID_ARG);
        s = mk(&cfg, NULL, NULL);
        CHECK_INT(smtpkit_server_set_auth(s, &silent, NULL), 0);
        smtpkit_server_start(s, 0);
        feed_str(s, "EHLO c\r\n");
        take_out(s, out, sizeof out);
        feed_str(s, "AUTH PLAIN\r\nNOOP\r\n");
        take_out(s, out, sizeof out);
        CHECK_STR(out, "454 4.7.0 Temporary authentication failure\r\n250 2.0.0 OK\r\n");
        CHECK_INT(smtpkit_server_auth_result(s, 1, NULL), SMTPKIT_ERR_STATE);
        /* shutdown with our own reply */
        {
            smtpkit_server_decision d = {421, "4.3.0", "Maintenance"};
            CHECK_INT(smtpkit_server_shutdown(s, &d), 0);
        }
        take_out(s, out, sizeof out);
        CHECK_STR(out, "421 4.3.0 mx.test Maintenance\r\n");
        smtpkit_server_free(s);
    }
}

TEST(starttls_discards_pipelined_input)
{
    smtpkit_server_config cfg;
    smtpkit_server *s;
    char out[4096];
    smtpkit_server_config_init(&cfg);
    cfg.hostname = "mx.test";
    cfg.flags = SMTPKIT_SERVER_STARTTLS;
    s = mk(&cfg, NULL, NULL);
    CHECK_INT(smtpkit_server_tls_started(s), 0); /* implicit TLS before start is fine... */
    CHECK_INT(smtpkit_server_tls_started(s), SMTPKIT_ERR_STATE);
    smtpkit_server_free(s);

    s = mk(&cfg, NULL, NULL);
    smtpkit_server_start(s, 0);
    CHECK_INT(smtpkit_server_tls_started(s), SMTPKIT_ERR_STATE);
    feed_str(s, "EHLO c\r\n");
    take_out(s, out, sizeof out);
    CHECK(strstr(out, "250-STARTTLS\r\n") || strstr(out, "250 STARTTLS\r\n"));
    CHECK_STR(smtpkit_server_protocol(s), "ESMTP");
    /* CVE-2011-0411: the NOOP and MAIL pipelined after STARTTLS are dropped */
    CHECK_INT(feed_str(s, "STARTTLS\r\nNOOP\r\nMAIL FROM:<a@b>\r\n"), 33);
    CHECK(!(smtpkit_server_want(s) & SMTPKIT_SERVER_WANT_STARTTLS)); /* 220 not written yet */
    take_out(s, out, sizeof out);
    CHECK_STR(out, "220 2.0.0 Ready to start TLS\r\n");
    CHECK_INT(smtpkit_server_want(s), SMTPKIT_SERVER_WANT_STARTTLS);
    CHECK_INT(feed_str(s, "RSET\r\n"), 6); /* still plaintext: dropped */
    take_out(s, out, sizeof out);
    CHECK_STR(out, "");
    CHECK_INT(smtpkit_server_tls_started(s), 0);
    CHECK(smtpkit_server_tls_active(s));
    CHECK_INT(smtpkit_server_helo_name(s).len, 0);
    /* the client must greet again; STARTTLS no longer offered */
    feed_str(s, "MAIL FROM:<a@b>\r\nEHLO c\r\nSTARTTLS\r\n");
    take_out(s, out, sizeof out);
    CHECK(strncmp(out, "503 5.5.1 Send HELO or EHLO first\r\n", 35) == 0);
    CHECK(strstr(out, "STARTTLS\r\n") == NULL);
    CHECK(strstr(out, "503 5.5.1 TLS already active\r\n") != NULL);
    CHECK_STR(smtpkit_server_protocol(s), "ESMTPS");
    smtpkit_server_free(s);

    /* STARTTLS not offered */
    s = mk(NULL, NULL, NULL);
    smtpkit_server_start(s, 0);
    take_out(s, out, sizeof out);
    feed_str(s, "EHLO c\r\nSTARTTLS\r\nNOOP\r\n");
    take_out(s, out, sizeof out);
    CHECK(strstr(out, "502 5.5.1 Command not implemented\r\n250 2.0.0 OK\r\n") != NULL);
    smtpkit_server_free(s);
}

TEST(api_misuse)
{
    smtpkit_server_config cfg;
    smtpkit_server *s;
    const char *p;
    smtpkit_server_config_init(&cfg);
    cfg.version = 99;
    CHECK(smtpkit_server_new(&cfg, NULL, NULL, NULL) == NULL);
    CHECK_INT(smtpkit_server_feed(NULL, "x", 1), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_server_output(NULL, &p), 0);
    smtpkit_server_free(NULL);
    s = mk(NULL, NULL, NULL);
    CHECK_INT(smtpkit_server_feed(s, "x", 1), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_server_feed(s, NULL, 1), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_server_resume(s, NULL), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_server_want(s), 0);
    CHECK_INT(smtpkit_server_start(s, 0), 0);
    CHECK_INT(smtpkit_server_output(s, &p), strlen("220 localhost ESMTP smtpkit\r\n"));
    smtpkit_server_output_done(s, 100000); /* clamped */
    CHECK_INT(smtpkit_server_output(s, &p), 0);
    CHECK_INT(smtpkit_server_feed(s, NULL, 0), 0);
    CHECK_INT(smtpkit_server_want(s), SMTPKIT_SERVER_WANT_READ);
    CHECK_INT(smtpkit_server_eof(s), 0);
    CHECK_INT(smtpkit_server_close_reason(s), SMTPKIT_ERR_CLOSED);
    CHECK_INT(smtpkit_server_feed(s, "NOOP\r\n", 6), 6);
    CHECK_INT(smtpkit_server_output(s, &p), 0);
    smtpkit_server_free(s);
}

TEST(reply_formatting_is_safe)
{
    char buf[600];
    size_t n;
    n = smtpkit__server_fmt_reply(buf, sizeof buf, 550, "5.1.1", NULL, "a\rb\x01\xff");
    CHECK_MEM(buf, n, "550 5.1.1 a?b??\r\n");
    n = smtpkit__server_fmt_reply(buf, sizeof buf, 250, NULL, "host", "");
    CHECK_MEM(buf, n, "250 host\r\n");
    n = smtpkit__server_fmt_reply(buf, sizeof buf, 250, "2.0.0", NULL, "");
    CHECK_MEM(buf, n, "250 2.0.0\r\n");
    n = smtpkit__server_fmt_reply(buf, sizeof buf, 214, NULL, NULL, "one\ntwo\n");
    CHECK_MEM(buf, n, "214-one\r\n214 two\r\n");
    {
        char big[2000];
        memset(big, 'z', sizeof big - 1);
        big[sizeof big - 1] = 0;
        n = smtpkit__server_fmt_reply(buf, sizeof buf, 550, "5.0.0", NULL, big);
        CHECK_INT(n, SMTPKIT_REPLY_LINE_MAX);
        CHECK_MEM(buf + n - 2, 2, "\r\n");
    }
    CHECK(smtpkit__server_esc_ok("5.1.1", 550));
    CHECK(smtpkit__server_esc_ok("4.123.999", 451));
    CHECK(!smtpkit__server_esc_ok("5.1.1", 450));
    CHECK(!smtpkit__server_esc_ok("5.1", 550));
    CHECK(!smtpkit__server_esc_ok("5.1.1 ", 550));
    CHECK(!smtpkit__server_esc_ok("5.1234.1", 550));
    CHECK(!smtpkit__server_esc_ok("3.0.0", 354));
    CHECK(!smtpkit__server_esc_ok(NULL, 550));
}

int main(void)
{
    RUN(basic_transaction);
    RUN(helo_and_sequence_errors);
    RUN(syntax_errors_from_the_parser);
    RUN(mail_and_rcpt_parameters);
    RUN(extensions_switched_off);
    RUN(decisions_refuse_with_their_own_codes);
    RUN(decision_421_closes);
    RUN(connection_refused_waits_for_quit);
    RUN(pipelining_in_one_write);
    RUN(bare_lf_and_smuggling_are_refused);
    RUN(size_limit_after_the_data);
    RUN(long_text_line);
    RUN(command_line_too_long);
    RUN(too_many_recipients);
    RUN(too_many_errors);
    RUN(junk_and_command_limits);
    RUN(input_after_quit_is_ignored);
    RUN(data_rejected_at_start);
    RUN(bdat_chunks);
    RUN(bdat_refused_chunks_are_swallowed);
    RUN(lmtp_replies_per_recipient);
    RUN(lmtp_many_recipients_through_a_small_buffer);
    RUN(received_header_variants);
    RUN(eof_mid_message_aborts);
    RUN(callback_abort_is_fatal);
    RUN(require_tls_and_auth_policies);
    RUN(timeouts_with_a_fake_clock);
    RUN(paused_session_consumes_nothing_and_has_no_deadline);
    RUN(backpressure_stops_consuming);
    RUN(no_allocation_per_message);
    RUN(auth_hook);
    RUN(starttls_discards_pipelined_input);
    RUN(api_misuse);
    RUN(reply_formatting_is_safe);
    return test_summary();
}
