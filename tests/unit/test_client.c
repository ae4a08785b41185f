/* Client session against scripted servers.
 *
 * Each case is a transcript: "S: line" is what the server sends (CRLF
 * added), "C: line" what the client must write at that point (consecutive
 * C: lines are one flight: exactly those bytes and nothing more), plus a
 * few directives (T: tick, X: server closes, W: TLS handshake done,
 * N: feed without CRLF). Every case runs twice: each server group fed whole,
 * and fed one byte at a time; both runs must give the expected event log. */
#include "smtpkit/client.h"
#include "smtpkit/smtpkit.h"
#include "test.h"

/* ---- event log ---------------------------------------------------------- */

static const char *err_name(int e)
{
    switch (e) {
    case 0: return "0";
    case SMTPKIT_ERR_CLOSED: return "CLOSED";
    case SMTPKIT_ERR_TIMEOUT: return "TIMEOUT";
    case SMTPKIT_ERR_GREETING: return "GREETING";
    case SMTPKIT_ERR_TOO_BIG: return "TOO_BIG";
    case SMTPKIT_ERR_NEED_8BITMIME: return "NEED_8BITMIME";
    case SMTPKIT_ERR_NEED_SMTPUTF8: return "NEED_SMTPUTF8";
    case SMTPKIT_ERR_REJECTED: return "REJECTED";
    case SMTPKIT_ERR_TLS_REQUIRED: return "TLS_REQUIRED";
    case SMTPKIT_ERR_PROTOCOL: return "PROTOCOL";
    case SMTPKIT_ERR_IO: return "IO";
    case SMTPKIT_ERR_TLS: return "TLS";
    case SMTPKIT_ERR_CALLBACK: return "CALLBACK";
    case SMTPKIT_ERR_NOT_SUPPORTED: return "NOT_SUPPORTED";
    case SMTPKIT_ERR_AUTH: return "AUTH";
    default: return "other";
    }
}

static const char *status_name(smtpkit_tx_status s)
{
    switch (s) {
    case SMTPKIT_TX_ACCEPTED: return "ACCEPTED";
    case SMTPKIT_TX_PARTIAL: return "PARTIAL";
    case SMTPKIT_TX_REJECTED: return "REJECTED";
    case SMTPKIT_TX_FAILED: return "FAILED";
    }
    return "?";
}

typedef struct tctx {
    test_log ev;
    int pause_rcpt;   /* on_rcpt returns PAUSE */
    int abort_tx;     /* on_tx_done returns -1 */
    int requeue;      /* on_tx_done queues another transaction */
    smtpkit_client *c;
} tctx;

static int cb_ready(void *u, const smtpkit_caps *caps)
{
    (void)caps;
    test_log_add(&((tctx *)u)->ev, "ready;");
    return 0;
}

static int cb_rcpt(void *u, const smtpkit_client_rcpt_result *r)
{
    tctx *t = (tctx *)u;
    test_log_add(&t->ev, "rcpt%u:%zu <%.*s> %d%s;", r->tx_id, r->index, (int)r->mailbox.len,
                 r->mailbox.ptr, r->reply->code, r->after_data ? " data" : "");
    return t->pause_rcpt ? SMTPKIT_PAUSE : 0;
}

static int cb_tx(void *u, const smtpkit_client_tx_result *r)
{
    tctx *t = (tctx *)u;
    test_log_add(&t->ev, "tx%u %s %s err=%s acc=%zu ref=%zu", r->tx_id, status_name(r->status),
                 smtpkit_client_cmd_name(r->stage), err_name(r->err), r->naccepted, r->nrefused);
    if (r->reply)
        test_log_add(&t->ev, " %d %.*s", r->reply->code, (int)r->reply->esc.len,
                     r->reply->esc.ptr);
    test_log_add(&t->ev, ";");
    return t->abort_tx ? -1 : 0;
}

static int cb_error(void *u, int err, const smtpkit_reply *r)
{
    if (r)
        test_log_add(&((tctx *)u)->ev, "error %s %d;", err_name(err), r->code);
    else
        test_log_add(&((tctx *)u)->ev, "error %s;", err_name(err));
    return 0;
}

static int cb_starttls(void *u)
{
    test_log_add(&((tctx *)u)->ev, "starttls;");
    return 0;
}

static const smtpkit_client_callbacks callbacks = {
    SMTPKIT_CLIENT_VERSION, NULL, NULL, NULL, cb_ready, cb_rcpt, cb_tx, cb_starttls, cb_error};

/* ---- sources ------------------------------------------------------------ */

/* A stream: no size, no rewind; says "not yet" on its first `blocks` reads. */
typedef struct stream_src {
    const char *data;
    size_t len, pos;
    int blocks;
    int fail; /* return SMTPKIT_ERR_IO after the first read */
} stream_src;

static smtpkit_ssize stream_read(void *ctx, char *buf, size_t len)
{
    stream_src *s = (stream_src *)ctx;
    size_t n;
    if (s->blocks > 0) {
        s->blocks--;
        return SMTPKIT_ERR_WOULDBLOCK;
    }
    if (s->fail && s->pos > 0)
        return SMTPKIT_ERR_IO;
    n = s->len - s->pos;
    if (n > len)
        n = len;
    if (n > 7)
        n = 7; /* small reads: the session must still write big pieces */
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (smtpkit_ssize)n;
}

/* ---- transcript runner -------------------------------------------------- */

static void show(const char *what, const char *p, size_t n)
{
    test_log l = {0};
    test_log_bytes(&l, p, n);
    fprintf(stderr, "  %s: \"%s\"\n", what, test_log_str(&l));
    test_log_free(&l);
}

static void expect_output(smtpkit_client *c, const char *exp, size_t elen, int step)
{
    static char got[1 << 20];
    size_t glen = 0, n;
    const char *p;
    while ((n = smtpkit_client_output(c, &p)) > 0) {
        if (glen + n > sizeof got)
            n = sizeof got - glen;
        memcpy(got + glen, p, n);
        glen += n;
        smtpkit_client_output_done(c, n);
        if (glen == sizeof got)
            break;
    }
    test_checks++;
    if (glen != elen || memcmp(got, exp, elen) != 0) {
        test_failures++;
        fprintf(stderr, "[%s] step %d: client output differs\n", test_current, step);
        show("expected", exp, elen);
        show("got     ", got, glen);
    }
}

static void feed_all(smtpkit_client *c, const char *p, size_t n, int bytewise)
{
    size_t off = 0;
    while (off < n) {
        size_t len = bytewise ? 1 : n - off;
        smtpkit_ssize r = smtpkit_client_feed(c, p + off, len);
        if (r == SMTPKIT_ERR_PAUSED || r == 0) {
            /* a callback paused: resume and go on (the pause test checks
             * the partial consumption itself) */
            CHECK(smtpkit_client_want(c) & SMTPKIT_CLIENT_PAUSED);
            CHECK_INT(smtpkit_client_resume(c), 0);
            continue;
        }
        CHECK(r > 0);
        if (r <= 0)
            return;
        off += (size_t)r;
    }
}

static void run_steps(smtpkit_client *c, const char *const *steps, int bytewise)
{
    static char buf[1 << 16];
    size_t i = 0;
    while (steps[i]) {
        char kind = steps[i][0];
        int step = (int)i;
        if (kind == 'S' || kind == 'C' || kind == 's' || kind == 'c') {
            /* upper case: a line (CRLF added); lower case: raw bytes */
            size_t blen = 0;
            char group = (char)(kind & ~0x20);
            while (steps[i] && (steps[i][0] & ~0x20) == group) {
                size_t l = strlen(steps[i] + 3);
                memcpy(buf + blen, steps[i] + 3, l);
                blen += l;
                if (steps[i][0] == group) {
                    memcpy(buf + blen, "\r\n", 2);
                    blen += 2;
                }
                i++;
            }
            if (group == 'S')
                feed_all(c, buf, blen, bytewise);
            else
                expect_output(c, buf, blen, step);
            continue;
        }
        switch (kind) {
        case 'T':
            smtpkit_client_tick(c, strtoull(steps[i] + 3, NULL, 10));
            break;
        case 'X':
            smtpkit_client_closed(c);
            break;
        case 'W':
            CHECK(smtpkit_client_want(c) & SMTPKIT_CLIENT_WANT_STARTTLS);
            CHECK_INT(smtpkit_client_starttls_done(c, 0), 0);
            break;
        case 'E': /* the session must be over */
            CHECK(smtpkit_client_want(c) & SMTPKIT_CLIENT_DONE);
            break;
        default:
            fprintf(stderr, "bad step %s\n", steps[i]);
            abort();
        }
        i++;
    }
    expect_output(c, "", 0, (int)i);
}

typedef struct txspec {
    const char *from;
    const char *rcpts[4];
    const char *body;
    unsigned flags;
    int stream; /* body as a stream (unknown size, no rewind) */
    unsigned notify;
    const char *orcpt;
    const char *envid;
    smtpkit_dsn_ret ret;
} txspec;

typedef struct ccase {
    const char *name;
    unsigned flags;
    smtpkit_client_tls tls;
    size_t output_size;
    int no_quit;
    txspec tx[3];
    const char *steps[48];
    const char *events;
    int error;          /* expected smtpkit_client_error() at the end */
    unsigned auth;      /* SMTPKIT_AUTH_* built-in mechanism, user "user", password "pass" */
    int auth_plaintext; /* allow AUTH without TLS */
    int auth_auto;      /* auth_creds: the session picks the mechanism */
} ccase;

#define BODY "Subject: t\n\n.dot\nline"
#define BODY_WIRE "C: Subject: t", "C: ", "C: ..dot", "C: line", "C: ."

static void run_case(const ccase *k)
{
    int bytewise;
    for (bytewise = 0; bytewise < 2; bytewise++) {
        tctx t;
        smtpkit_client_config cfg;
        smtpkit_client *c;
        smtpkit_source src[3];
        smtpkit_sasl_mech mech;
        smtpkit_sasl_builtin mstate;
        smtpkit_mem_source ms[3];
        stream_src ss[3];
        int i;
        memset(&t, 0, sizeof t);
        smtpkit_client_config_init(&cfg);
        cfg.helo_name = "client.example";
        cfg.flags = k->flags;
        cfg.tls = k->tls;
        cfg.output_size = k->output_size;
        static smtpkit_sasl_creds cr;
        if (k->auth || k->auth_auto) {
            memset(&cr, 0, sizeof cr);
            cr.user.ptr = "user";
            cr.user.len = 4;
            cr.password.ptr = "pass";
            cr.password.len = 4;
            if (k->auth_auto) {
                cfg.auth_creds = &cr;
            } else {
                CHECK_INT(smtpkit_sasl_builtin_init(&mech, &mstate, k->auth, &cr), 0);
                cfg.auth = &mech;
            }
            cfg.auth_allow_plaintext = k->auth_plaintext;
        }
        c = smtpkit_client_new(&cfg, &callbacks, &t, NULL);
        CHECK(c != NULL);
        if (!c)
            return;
        t.c = c;
        for (i = 0; i < 3 && k->tx[i].rcpts[0]; i++) {
            const txspec *s = &k->tx[i];
            smtpkit_rcpt r[4];
            smtpkit_envelope env;
            int j;
            memset(&env, 0, sizeof env);
            memset(r, 0, sizeof r);
            for (j = 0; j < 4 && s->rcpts[j]; j++) {
                r[j].mailbox = s->rcpts[j];
                r[j].notify = s->notify;
                r[j].orcpt = s->orcpt;
            }
            env.from = s->from;
            env.rcpts = r;
            env.nrcpts = (size_t)j;
            env.flags = s->flags;
            env.envid = s->envid;
            env.ret = s->ret;
            if (s->stream) {
                memset(&ss[i], 0, sizeof ss[i]);
                ss[i].data = s->body;
                ss[i].len = strlen(s->body);
                src[i].read = stream_read;
                src[i].rewind = NULL;
                src[i].ctx = &ss[i];
                src[i].size = -1;
            } else {
                smtpkit_source_from_memory(&src[i], &ms[i], s->body, strlen(s->body));
            }
            CHECK_INT(smtpkit_client_queue(c, &env, &src[i], NULL), i);
        }
        if (!k->no_quit)
            CHECK_INT(smtpkit_client_quit(c), 0);
        run_steps(c, k->steps, bytewise);
        test_checks++;
        if (strcmp(test_log_str(&t.ev), k->events) != 0) {
            test_failures++;
            fprintf(stderr, "[%s]%s events differ:\n  expected: %s\n  got     : %s\n", k->name,
                    bytewise ? " (byte by byte)" : "", k->events, t.ev.buf);
        }
        CHECK_INT(smtpkit_client_error(c), k->error);
        smtpkit_client_free(c);
        test_log_free(&t.ev);
    }
}

/* ---- the cases ---------------------------------------------------------- */

#define A1 "a@example.org"
#define TX1 {{A1, {"b@example.net"}, BODY, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}}

static const ccase cases[] = {
    {"lock-step, one message",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"S: 220 mx.example ESMTP", "C: EHLO client.example", "S: 250-mx.example", "S: 250 8BITMIME",
      "C: MAIL FROM:<a@example.org>", "S: 250 2.1.0 Ok", "C: RCPT TO:<b@example.net>",
      "S: 250 2.1.5 Ok", "C: DATA", "S: 354 go ahead", BODY_WIRE, "S: 250 2.0.0 queued",
      "C: QUIT", "S: 221 2.0.0 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 2.0.0;", 0, 0, 0, 0},

    {"pipelined: MAIL, RCPTs and DATA in one flight, QUIT after the dot",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net", "c@example.net"}, BODY, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250-PIPELINING",
      "S: 250-SIZE 1000000", "S: 250 8BITMIME",
      "C: MAIL FROM:<a@example.org> SIZE=21", "C: RCPT TO:<b@example.net>",
      "C: RCPT TO:<c@example.net>", "C: DATA",
      "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 550 5.1.1 No such user", "S: 354 go ahead",
      BODY_WIRE, "C: QUIT", "S: 250 2.0.0 Ok", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;rcpt0:1 <c@example.net> 550;"
     "tx0 PARTIAL message err=0 acc=1 ref=1 250 2.0.0;", 0, 0, 0, 0},

    {"pipelined: every recipient refused, DATA refused, no body, next message after RSET",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, BODY, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE},
      {A1, {"d@example.net"}, "x", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 PIPELINING",
      "C: MAIL FROM:<a@example.org>", "C: RCPT TO:<b@example.net>", "C: DATA",
      "S: 250 2.1.0 Ok", "S: 550 5.1.1 No such user", "S: 554 5.5.1 Error: no valid recipients",
      "C: RSET", "C: MAIL FROM:<a@example.org>", "C: RCPT TO:<d@example.net>", "C: DATA",
      "S: 250 2.0.0 Ok", "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 354 go",
      "C: x", "C: .", "C: QUIT", "S: 250 2.0.0 Ok", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 550;tx0 REJECTED RCPT err=REJECTED acc=0 ref=1 550 5.1.1;"
     "rcpt1:0 <d@example.net> 250;tx1 ACCEPTED message err=0 acc=1 ref=0 250 2.0.0;", 0, 0, 0, 0},

    {"pipelined: a broken server says 354 with no recipient: only the dot",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 PIPELINING",
      "C: MAIL FROM:<a@example.org>", "C: RCPT TO:<b@example.net>", "C: DATA",
      "S: 250 2.1.0 Ok", "S: 550 5.1.1 No", "S: 354 go", "C: .", "C: QUIT", "S: 250 Ok",
      "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 550;tx0 REJECTED RCPT err=REJECTED acc=0 ref=1 550 5.1.1;", 0, 0, 0, 0},

    {"lock-step: every recipient refused, no DATA, RSET before the next message",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net", "c@example.net"}, BODY, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE},
      {"", {"d@example.net"}, "x\n", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250 mx", "C: MAIL FROM:<a@example.org>",
      "S: 250 Ok", "C: RCPT TO:<b@example.net>", "S: 450 4.2.1 busy",
      "C: RCPT TO:<c@example.net>", "S: 550 5.1.1 unknown", "C: RSET", "S: 250 Ok",
      "C: MAIL FROM:<>", "S: 250 Ok", "C: RCPT TO:<d@example.net>", "S: 250 Ok", "C: DATA",
      "S: 354 go", "C: x", "C: .", "S: 250 Ok", "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 450;rcpt0:1 <c@example.net> 550;"
     "tx0 REJECTED RCPT err=REJECTED acc=0 ref=2 550 5.1.1;"
     "rcpt1:0 <d@example.net> 250;tx1 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"several messages per connection, pipelined across the end of data",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, "one", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE},
      {A1, {"c@example.net"}, "two", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE},
      {A1, {"d@example.net"}, "three", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 PIPELINING",
      "C: MAIL FROM:<a@example.org>", "C: RCPT TO:<b@example.net>", "C: DATA",
      "S: 250 Ok", "S: 250 Ok", "S: 354 go",
      "C: one", "C: .", "C: MAIL FROM:<a@example.org>", "C: RCPT TO:<c@example.net>", "C: DATA",
      "S: 250 2.0.0 first", "S: 250 Ok", "S: 250 Ok", "S: 354 go",
      "C: two", "C: .", "C: MAIL FROM:<a@example.org>", "C: RCPT TO:<d@example.net>", "C: DATA",
      "S: 451 4.3.0 try later", "S: 250 Ok", "S: 250 Ok", "S: 354 go",
      "C: three", "C: .", "C: QUIT", "S: 250 Ok", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 2.0.0;"
     "rcpt1:0 <c@example.net> 250;tx1 REJECTED message err=REJECTED acc=0 ref=1 451 4.3.0;"
     "rcpt2:0 <d@example.net> 250;tx2 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"EHLO refused with 502: HELO fallback, lock-step, no extensions",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"S: 220 old.example SMTP", "C: EHLO client.example", "S: 502 5.5.2 what?",
      "C: HELO client.example", "S: 250 old.example", "C: MAIL FROM:<a@example.org>",
      "S: 250 ok", "C: RCPT TO:<b@example.net>", "S: 250 ok", "C: DATA", "S: 354 go",
      BODY_WIRE, "S: 250 ok", "C: QUIT", "S: 221 bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"EHLO refused with 500, HELO refused too",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"S: 220 old.example SMTP", "C: EHLO client.example", "S: 500 5.5.1 what?",
      "C: HELO client.example", "S: 550 5.7.1 go away", "C: QUIT", "S: 221 bye", "E: ", NULL},
     "tx0 FAILED none err=GREETING acc=0 ref=1 550 5.7.1;error GREETING 550;",
     SMTPKIT_ERR_GREETING, 0, 0, 0},

    {"greeting 554: QUIT, transaction failed with the reply",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"S: 554 5.3.2 no service here", "C: QUIT", "S: 221 bye", "E: ", NULL},
     "tx0 FAILED none err=GREETING acc=0 ref=1 554 5.3.2;error GREETING 554;",
     SMTPKIT_ERR_GREETING, 0, 0, 0},

    {"greeting 421: no QUIT (the server is closing)",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"S: 421 4.3.2 busy", "E: ", NULL},
     "tx0 FAILED none err=GREETING acc=0 ref=1 421 4.3.2;error GREETING 421;",
     SMTPKIT_ERR_GREETING, 0, 0, 0},

    {"multi-line greeting",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 1, {{NULL, {NULL}, NULL, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220-mx.example ESMTP", "S: 220-more text", "S: 220 end", "C: EHLO client.example",
      "S: 250 mx", NULL},
     "ready;", 0, 0, 0, 0},

    {"421 after RCPT: session ends, transaction failed, the next one too",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, BODY, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE},
      {A1, {"c@example.net"}, BODY, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250 mx", "C: MAIL FROM:<a@example.org>",
      "S: 250 Ok", "C: RCPT TO:<b@example.net>", "S: 421 4.4.2 timeout, closing", "E: ", NULL},
     "ready;tx0 FAILED RCPT err=CLOSED acc=0 ref=1 421 4.4.2;"
     "tx1 FAILED none err=CLOSED acc=0 ref=1 421 4.4.2;error CLOSED 421;",
     SMTPKIT_ERR_CLOSED, 0, 0, 0},

    {"421 after the data was accepted: the first message counts as delivered",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, "one", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE},
      {A1, {"c@example.net"}, "two", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 PIPELINING",
      "C: MAIL FROM:<a@example.org>", "C: RCPT TO:<b@example.net>", "C: DATA",
      "S: 250 Ok", "S: 250 Ok", "S: 354 go",
      "C: one", "C: .", "C: MAIL FROM:<a@example.org>", "C: RCPT TO:<c@example.net>", "C: DATA",
      "S: 250 2.0.0 queued", "S: 421 4.3.2 shutting down", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 2.0.0;"
     "tx1 FAILED MAIL err=CLOSED acc=0 ref=1 421 4.3.2;error CLOSED 421;",
     SMTPKIT_ERR_CLOSED, 0, 0, 0},

    {"connection closed after the data: outcome unknown, reported as such",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 PIPELINING",
      "C: MAIL FROM:<a@example.org>", "C: RCPT TO:<b@example.net>", "C: DATA",
      "S: 250 Ok", "S: 250 Ok", "S: 354 go", BODY_WIRE, "C: QUIT", "X: ", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 FAILED message err=CLOSED acc=0 ref=1;error CLOSED;",
     SMTPKIT_ERR_CLOSED, 0, 0, 0},

    {"SIZE: refused locally before MAIL when over the announced limit",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, BODY, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE},
      {A1, {"c@example.net"}, "small", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 SIZE 20",
      "C: MAIL FROM:<a@example.org> SIZE=5", "S: 250 Ok", "C: RCPT TO:<c@example.net>",
      "S: 250 Ok", "C: DATA", "S: 354 go", "C: small", "C: .", "S: 250 Ok", "C: QUIT",
      "S: 221 Bye", "E: ", NULL},
     "ready;tx0 FAILED none err=TOO_BIG acc=0 ref=1;rcpt1:0 <c@example.net> 250;"
     "tx1 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"SIZE: refused by the server at MAIL (552)",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 SIZE",
      "C: MAIL FROM:<a@example.org> SIZE=21", "S: 552 5.3.4 Message size exceeds fixed limit",
      "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "ready;tx0 REJECTED MAIL err=REJECTED acc=0 ref=1 552 5.3.4;", 0, 0, 0, 0},

    {"pipelined MAIL refused: RCPT and DATA answered 503, no RSET",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250-PIPELINING",
      "S: 250 SIZE", "C: MAIL FROM:<a@example.org> SIZE=21", "C: RCPT TO:<b@example.net>",
      "C: DATA", "S: 552 5.3.4 too big", "S: 503 5.5.1 need MAIL", "S: 503 5.5.1 need RCPT",
      "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 503;tx0 REJECTED MAIL err=REJECTED acc=0 ref=1 552 5.3.4;", 0, 0, 0, 0},

    {"SMTPUTF8 address but the server does not offer SMTPUTF8",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"j\xc3\xbcrgen@example.net"}, BODY, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 8BITMIME", "C: QUIT",
      "S: 221 Bye", "E: ", NULL},
     "ready;tx0 FAILED none err=NEED_SMTPUTF8 acc=0 ref=1;", 0, 0, 0, 0},

    {"SMTPUTF8 address, offered: SMTPUTF8 and BODY=8BITMIME on MAIL",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"j\xc3\xbcrgen@example.net"}, "x", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250-8BITMIME",
      "S: 250 SMTPUTF8", "C: MAIL FROM:<a@example.org> BODY=8BITMIME SMTPUTF8", "S: 250 Ok",
      "C: RCPT TO:<j\xc3\xbcrgen@example.net>", "S: 250 Ok", "C: DATA", "S: 354 go", "C: x",
      "C: .", "S: 250 Ok", "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <j\xc3\xbcrgen@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 ;",
     0, 0, 0, 0},

    {"8-bit body found by the scan, server without 8BITMIME",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, "Subject: caf\xc3\xa9\n\nx", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250 mx", "C: QUIT", "S: 221 Bye", "E: ",
      NULL},
     "ready;tx0 FAILED none err=NEED_8BITMIME acc=0 ref=1;", 0, 0, 0, 0},

    {"8-bit body found by the scan, 8BITMIME offered: BODY=8BITMIME",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, "caf\xc3\xa9", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 8BITMIME",
      "C: MAIL FROM:<a@example.org> BODY=8BITMIME", "S: 250 Ok", "C: RCPT TO:<b@example.net>",
      "S: 250 Ok", "C: DATA", "S: 354 go", "C: caf\xc3\xa9", "C: .", "S: 250 Ok", "C: QUIT",
      "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"envelope says 8-bit, server without 8BITMIME",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, "x", SMTPKIT_ENV_8BIT, 1, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250 mx", "C: QUIT", "S: 221 Bye", "E: ",
      NULL},
     "ready;tx0 FAILED none err=NEED_8BITMIME acc=0 ref=1;", 0, 0, 0, 0},

    {"stream body of unknown size: no SIZE, BODY=8BITMIME declared when offered, small reads",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, "line one\nline two\n.\n", 0, 1, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250-SIZE 100",
      "S: 250-8BITMIME", "S: 250 PIPELINING", "C: MAIL FROM:<a@example.org> BODY=8BITMIME",
      "C: RCPT TO:<b@example.net>", "C: DATA", "S: 250 Ok", "S: 250 Ok", "S: 354 go",
      "C: line one", "C: line two", "C: ..", "C: .", "C: QUIT", "S: 250 Ok", "S: 221 Bye",
      "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"DSN parameters when offered: RET, ENVID, NOTIFY, ORCPT (xtext)",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, "x", SMTPKIT_ENV_7BIT, 0,
       SMTPKIT_DSN_NOTIFY_SUCCESS | SMTPKIT_DSN_NOTIFY_FAILURE, "b+x=y@example.net", "id 1+2",
       SMTPKIT_DSN_RET_HDRS}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 DSN",
      "C: MAIL FROM:<a@example.org> RET=HDRS ENVID=id+201+2B2", "S: 250 Ok",
      "C: RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Bx+3Dy@example.net",
      "S: 250 Ok", "C: DATA", "S: 354 go", "C: x", "C: .", "S: 250 Ok", "C: QUIT",
      "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"DSN parameters dropped when DSN is not offered",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, "x", SMTPKIT_ENV_7BIT, 0, SMTPKIT_DSN_NOTIFY_NEVER, "b@example.net", "id",
       SMTPKIT_DSN_RET_FULL}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250 mx", "C: MAIL FROM:<a@example.org>",
      "S: 250 Ok", "C: RCPT TO:<b@example.net>", "S: 250 Ok", "C: DATA", "S: 354 go", "C: x",
      "C: .", "S: 250 Ok", "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"LMTP: LHLO and one reply per accepted recipient after the data",
     SMTPKIT_CLIENT_LMTP, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net", "c@example.net", "d@example.net"}, "x", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 lmtp ready", "C: LHLO client.example", "S: 250-lmtp", "S: 250 PIPELINING",
      "C: MAIL FROM:<a@example.org>", "C: RCPT TO:<b@example.net>", "C: RCPT TO:<c@example.net>",
      "C: RCPT TO:<d@example.net>", "C: DATA", "S: 250 Ok", "S: 250 Ok", "S: 550 5.1.1 no",
      "S: 250 Ok", "S: 354 go", "C: x", "C: .", "C: QUIT", "S: 250 2.0.0 b delivered",
      "S: 452 4.2.2 d over quota", "S: 221 bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;rcpt0:1 <c@example.net> 550;rcpt0:2 <d@example.net> 250;"
     "rcpt0:0 <b@example.net> 250 data;rcpt0:2 <d@example.net> 452 data;"
     "tx0 PARTIAL message err=0 acc=1 ref=2 452 4.2.2;", 0, 0, 0, 0},

    {"LMTP: LHLO refused has no HELO fallback",
     SMTPKIT_CLIENT_LMTP, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"S: 220 lmtp ready", "C: LHLO client.example", "S: 500 5.5.1 what", "C: QUIT",
      "S: 221 bye", "E: ", NULL},
     "tx0 FAILED none err=GREETING acc=0 ref=1 500 5.5.1;error GREETING 500;",
     SMTPKIT_ERR_GREETING, 0, 0, 0},

    {"BDAT when offered and chosen: no dot-stuffing, one LAST chunk",
     SMTPKIT_CLIENT_BDAT, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250-PIPELINING",
      "S: 250-CHUNKING", "S: 250 8BITMIME", "C: MAIL FROM:<a@example.org>",
      "C: RCPT TO:<b@example.net>", "S: 250 Ok", "S: 250 Ok",
      "C: BDAT 26 LAST", "c: Subject: t\r\n\r\n.dot\r\nline", "C: ", "S: 250 2.0.0 Ok",
      "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED BDAT err=0 acc=1 ref=0 250 2.0.0;", 0, 0, 0, 0},

    {"BDAT: every recipient refused, no chunk, RSET",
     SMTPKIT_CLIENT_BDAT, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, "x", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE},
      {A1, {"c@example.net"}, "y", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250-PIPELINING",
      "S: 250 CHUNKING", "C: MAIL FROM:<a@example.org>", "C: RCPT TO:<b@example.net>",
      "S: 250 Ok", "S: 550 no", "C: RSET", "C: MAIL FROM:<a@example.org>",
      "C: RCPT TO:<c@example.net>", "S: 250 Ok", "S: 250 Ok", "S: 250 Ok", "C: BDAT 3 LAST",
      "C: y", "S: 250 Ok", "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 550;tx0 REJECTED RCPT err=REJECTED acc=0 ref=1 550 ;"
     "rcpt1:0 <c@example.net> 250;tx1 ACCEPTED BDAT err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"BDAT chosen but CHUNKING not offered: DATA",
     SMTPKIT_CLIENT_BDAT, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, "x", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250 mx", "C: MAIL FROM:<a@example.org>",
      "S: 250 Ok", "C: RCPT TO:<b@example.net>", "S: 250 Ok", "C: DATA", "S: 354 go", "C: x",
      "C: .", "S: 250 Ok", "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"no PIPELINING by config although offered",
     SMTPKIT_CLIENT_NO_PIPELINING, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, "x", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 PIPELINING",
      "C: MAIL FROM:<a@example.org>", "S: 250 Ok", "C: RCPT TO:<b@example.net>", "S: 250 Ok",
      "C: DATA", "S: 354 go", "C: x", "C: .", "S: 250 Ok", "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"STARTTLS hand-off: bytes after the 220 are discarded, old capabilities forgotten",
     0, SMTPKIT_CLIENT_TLS_STARTTLS, 0, 0,
     {{A1, {"b@example.net"}, "x", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250-PIPELINING",
      "S: 250 STARTTLS", "C: STARTTLS",
      /* a man in the middle appends a fake EHLO reply in clear text */
      "S: 220 2.0.0 Ready to start TLS", "S: 250-evil", "S: 250 PIPELINING", "W: ",
      "C: EHLO client.example", "S: 250-mx", "S: 250 8BITMIME", "C: MAIL FROM:<a@example.org>",
      "S: 250 Ok", "C: RCPT TO:<b@example.net>", "S: 250 Ok", "C: DATA", "S: 354 go", "C: x",
      "C: .", "S: 250 Ok", "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "starttls;ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"STARTTLS required but not offered: QUIT before any envelope",
     0, SMTPKIT_CLIENT_TLS_STARTTLS, 0, 0, TX1,
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 PIPELINING", "C: QUIT",
      "S: 221 Bye", "E: ", NULL},
     "tx0 FAILED none err=TLS_REQUIRED acc=0 ref=1;error TLS_REQUIRED;", SMTPKIT_ERR_TLS_REQUIRED, 0, 0, 0},

    {"STARTTLS required, refused with 454",
     0, SMTPKIT_CLIENT_TLS_STARTTLS, 0, 0, TX1,
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS",
      "S: 454 4.7.0 TLS not available", "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "tx0 FAILED none err=TLS_REQUIRED acc=0 ref=1 454 4.7.0;error TLS_REQUIRED 454;",
     SMTPKIT_ERR_TLS_REQUIRED, 0, 0, 0},

    {"STARTTLS optional, refused with 454: go on in clear",
     0, SMTPKIT_CLIENT_TLS_STARTTLS_OPTIONAL, 0, 0,
     {{A1, {"b@example.net"}, "x", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 STARTTLS", "C: STARTTLS",
      "S: 454 4.7.0 TLS not available", "C: MAIL FROM:<a@example.org>", "S: 250 Ok",
      "C: RCPT TO:<b@example.net>", "S: 250 Ok", "C: DATA", "S: 354 go", "C: x", "C: .",
      "S: 250 Ok", "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"timeout waiting for the greeting (5 min)",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"T: 1000", "T: 300999", "T: 301000", "E: ", NULL},
     "tx0 FAILED none err=TIMEOUT acc=0 ref=1;error TIMEOUT;", SMTPKIT_ERR_TIMEOUT, 0, 0, 0},

    {"timeout waiting for 354 (2 min, RFC 5321 4.5.3.2.3)",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"T: 5", "S: 220 mx ESMTP", "C: EHLO client.example", "T: 10", "S: 250 mx",
      "C: MAIL FROM:<a@example.org>", "S: 250 Ok", "C: RCPT TO:<b@example.net>",
      "S: 250 Ok", "C: DATA", "T: 20000", "T: 120009", "T: 120010", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 FAILED DATA err=TIMEOUT acc=0 ref=1;error TIMEOUT;",
     SMTPKIT_ERR_TIMEOUT, 0, 0, 0},

    {"timeout after the end of data (10 min) restarts with each reply",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"T: 0", "S: 220 mx ESMTP", "C: EHLO client.example", "T: 299999", "S: 250 mx",
      "C: MAIL FROM:<a@example.org>", "T: 599998", "S: 250 Ok", "C: RCPT TO:<b@example.net>",
      "S: 250 Ok", "C: DATA", "S: 354 go", BODY_WIRE, "T: 1199997", "T: 1199998", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 FAILED message err=TIMEOUT acc=0 ref=1;error TIMEOUT;",
     SMTPKIT_ERR_TIMEOUT, 0, 0, 0},

    {"an unrequested reply is a protocol error",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 1, {{NULL, {NULL}, NULL, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250 mx", "S: 250 surprise", "E: ", NULL},
     "ready;error PROTOCOL 250;", SMTPKIT_ERR_PROTOCOL, 0, 0, 0},

    {"an unrequested 421 closes the session",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 1, {{NULL, {NULL}, NULL, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250 mx", "S: 421 4.4.2 idle timeout",
      "E: ", NULL},
     "ready;error CLOSED 421;", SMTPKIT_ERR_CLOSED, 0, 0, 0},

    {"garbage instead of a reply",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: hello?", "E: ", NULL},
     "tx0 FAILED none err=PROTOCOL acc=0 ref=1;error PROTOCOL;", SMTPKIT_ERR_PROTOCOL, 0, 0, 0},

    {"QUIT answered by a close",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, {{NULL, {NULL}, NULL, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250 mx", "C: QUIT", "X: ", "E: ", NULL},
     "ready;", 0, 0, 0, 0},

    {"Postmaster without a domain is a valid recipient",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{NULL, {"Postmaster"}, "x", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250 mx", "C: MAIL FROM:<>", "S: 250 Ok",
      "C: RCPT TO:<Postmaster>", "S: 250 Ok", "C: DATA", "S: 354 go", "C: x", "C: .",
      "S: 250 Ok", "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <Postmaster> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"empty body: just the dot",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0,
     {{A1, {"b@example.net"}, "", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250 mx", "C: MAIL FROM:<a@example.org>",
      "S: 250 Ok", "C: RCPT TO:<b@example.net>", "S: 250 Ok", "C: DATA", "S: 354 go", "C: .",
      "S: 250 Ok", "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0, 0, 0, 0},

    {"AUTH PLAIN with an initial response, under TLS",
     0, SMTPKIT_CLIENT_TLS_IMPLICIT, 0, 0,
     {{A1, {"b@example.net"}, "x", 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250-AUTH LOGIN PLAIN",
      "S: 250 PIPELINING", "C: AUTH PLAIN AHVzZXIAcGFzcw==", "S: 235 2.7.0 Authentication successful",
      "C: MAIL FROM:<a@example.org>", "C: RCPT TO:<b@example.net>", "C: DATA", "S: 250 Ok",
      "S: 250 Ok", "S: 354 go", "C: x", "C: .", "C: QUIT", "S: 250 Ok", "S: 221 Bye", "E: ", NULL},
     "ready;rcpt0:0 <b@example.net> 250;tx0 ACCEPTED message err=0 acc=1 ref=0 250 ;", 0,
     SMTPKIT_AUTH_PLAIN, 0, 0},

    {"AUTH LOGIN: two 334 challenges (old AUTH= form offered)",
     0, SMTPKIT_CLIENT_TLS_IMPLICIT, 0, 1, {{NULL, {NULL}, NULL, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 AUTH=LOGIN",
      "C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6", "C: dXNlcg==", "S: 334 UGFzc3dvcmQ6",
      "C: cGFzcw==", "S: 235 2.7.0 ok", NULL},
     "ready;", 0, SMTPKIT_AUTH_LOGIN, 0, 0},

    {"AUTH refused (535): QUIT, no envelope",
     0, SMTPKIT_CLIENT_TLS_IMPLICIT, 0, 0, TX1,
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 AUTH PLAIN",
      "C: AUTH PLAIN AHVzZXIAcGFzcw==", "S: 535 5.7.8 Authentication credentials invalid",
      "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "tx0 FAILED none err=AUTH acc=0 ref=1 535 5.7.8;error AUTH 535;", SMTPKIT_ERR_AUTH,
     SMTPKIT_AUTH_PLAIN, 0, 0},

    {"AUTH in clear is refused unless allowed: no credentials on the wire",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 0, TX1,
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 AUTH PLAIN", "C: QUIT",
      "S: 221 Bye", "E: ", NULL},
     "tx0 FAILED none err=TLS_REQUIRED acc=0 ref=1;error TLS_REQUIRED;", SMTPKIT_ERR_TLS_REQUIRED,
     SMTPKIT_AUTH_PLAIN, 0, 0},

    {"AUTH in clear when allowed explicitly",
     0, SMTPKIT_CLIENT_TLS_NONE, 0, 1, {{NULL, {NULL}, NULL, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 AUTH PLAIN",
      "C: AUTH PLAIN AHVzZXIAcGFzcw==", "S: 235 ok", NULL},
     "ready;", 0, SMTPKIT_AUTH_PLAIN, 1, 0},

    {"AUTH mechanism not offered",
     0, SMTPKIT_CLIENT_TLS_IMPLICIT, 0, 0, TX1,
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 AUTH CRAM-MD5",
      "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "tx0 FAILED none err=NOT_SUPPORTED acc=0 ref=1;error NOT_SUPPORTED;",
     SMTPKIT_ERR_NOT_SUPPORTED, SMTPKIT_AUTH_PLAIN, 0, 0},

    {"AUTH after STARTTLS",
     0, SMTPKIT_CLIENT_TLS_STARTTLS, 0, 1, {{NULL, {NULL}, NULL, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 STARTTLS",
      "C: STARTTLS", "S: 220 go", "W: ", "C: EHLO client.example", "S: 250-mx",
      "S: 250 AUTH PLAIN", "C: AUTH PLAIN AHVzZXIAcGFzcw==", "S: 235 ok", NULL},
     "starttls;ready;", 0, SMTPKIT_AUTH_PLAIN, 0, 0},

    {"a challenge that is not base64: cancel with *",
     0, SMTPKIT_CLIENT_TLS_IMPLICIT, 0, 1, {{NULL, {NULL}, NULL, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 AUTH LOGIN",
      "C: AUTH LOGIN", "S: 334 !!!", "C: *", "S: 501 5.0.0 cancelled", "C: QUIT", "S: 221 Bye",
      "E: ", NULL},
     "error AUTH 501;", SMTPKIT_ERR_AUTH, SMTPKIT_AUTH_LOGIN, 0, 0},

    {"AUTH with credentials only: the session picks CRAM-MD5 over PLAIN and LOGIN",
     0, SMTPKIT_CLIENT_TLS_IMPLICIT, 0, 1, {{NULL, {NULL}, NULL, 0, 0, 0, NULL, NULL, SMTPKIT_DSN_RET_NONE}},
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 AUTH LOGIN PLAIN CRAM-MD5",
      "C: AUTH CRAM-MD5", "S: 334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
      "C: dXNlciAyMjRmOGFmMWJmOWJjZjI2ZjRlZjAzMjllMDYxNDA1Yw==", "S: 235 ok", NULL},
     "ready;", 0, 0, 0, 1},

    {"AUTH with credentials only, nothing usable offered",
     0, SMTPKIT_CLIENT_TLS_IMPLICIT, 0, 0, TX1,
     {"S: 220 mx ESMTP", "C: EHLO client.example", "S: 250-mx", "S: 250 AUTH GSSAPI",
      "C: QUIT", "S: 221 Bye", "E: ", NULL},
     "tx0 FAILED none err=NOT_SUPPORTED acc=0 ref=1;error NOT_SUPPORTED;",
     SMTPKIT_ERR_NOT_SUPPORTED, 0, 0, 1},
};

TEST(transcripts)
{
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_current = cases[i].name;
        run_case(&cases[i]);
    }
}

int main(void)
{
    RUN(transcripts);
    return test_summary();
}
