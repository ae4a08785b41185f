/* The SASL provider inside a real server session: every AUTH outcome as the
 * client sees it (RFC 4954), pausing verdicts, the failure limit, and the
 * session policies around AUTH (TLS first, AUTH required). */
#include "smtpkit/base64.h"
#include "smtpkit/sasl_provider.h"
#include "test.h"

typedef struct app {
    int pause;               /* verify pauses */
    smtpkit_sasl_verdict verdict_override; /* used when force is set */
    int force;
    int verify_calls;
    int abort_verify;
    char last_user[64];
    char last_authzid[64];
    unsigned last_mech;
} app;

static const struct {
    const char *user, *pw;
} users[] = {{"tim", "tanstaaftanstaaf"}, {"alice", "s3cret"}};

static int verify(void *u, smtpkit_sasl_provider *p, const smtpkit_sasl_server_creds *cr,
                  smtpkit_sasl_verdict *v)
{
    app *a = (app *)u;
    size_t i;
    a->verify_calls++;
    snprintf(a->last_user, sizeof a->last_user, "%.*s", (int)cr->user.len, cr->user.ptr);
    snprintf(a->last_authzid, sizeof a->last_authzid, "%.*s", (int)cr->authzid.len,
             cr->authzid.ptr);
    a->last_mech = cr->mech;
    if (a->abort_verify)
        return -1;
    if (a->pause)
        return SMTPKIT_PAUSE;
    if (a->force) {
        *v = a->verdict_override;
        return 0;
    }
    *v = SMTPKIT_SASL_REJECT;
    for (i = 0; i < sizeof users / sizeof users[0]; i++) {
        if (cr->user.len == strlen(users[i].user) &&
            memcmp(cr->user.ptr, users[i].user, cr->user.len) == 0 &&
            (cr->authzid.len == 0 || (cr->authzid.len == cr->user.len &&
                                      memcmp(cr->authzid.ptr, cr->user.ptr, cr->user.len) == 0)) &&
            smtpkit_sasl_provider_check_password(p, users[i].pw, strlen(users[i].pw)) == 0)
            *v = SMTPKIT_SASL_ACCEPT;
    }
    return 0;
}

/* Deterministic "randomness" so the CRAM-MD5 challenge is known. */
static int fake_random(void *u, void *buf, size_t len)
{
    size_t i;
    (void)u;
    for (i = 0; i < len; i++)
        ((unsigned char *)buf)[i] = (unsigned char)(0xa0 + i);
    return 0;
}

static int failing_random(void *u, void *buf, size_t len)
{
    (void)u;
    (void)buf;
    (void)len;
    return -1;
}

typedef struct fx {
    smtpkit_server_config cfg;
    smtpkit_server *s;
    smtpkit_sasl_provider p;
    app a;
    test_log out;
} fx;

static void drain(fx *f)
{
    const char *d;
    size_t n;
    while ((n = smtpkit_server_output(f->s, &d)) > 0) {
        test_log_bytes(&f->out, d, n);
        smtpkit_server_output_done(f->s, n);
    }
}

static void fx_open(fx *f, unsigned flags, int tls, int (*rnd)(void *, void *, size_t))
{
    smtpkit_sasl_provider_config pc;
    memset(f, 0, sizeof *f);
    smtpkit_server_config_init(&f->cfg);
    f->cfg.hostname = "mx.test";
    f->cfg.flags = flags;
    f->s = smtpkit_server_new(&f->cfg, NULL, NULL, NULL);
    CHECK(f->s != NULL);
    smtpkit_sasl_provider_config_init(&pc);
    pc.verify = verify;
    pc.random = rnd;
    pc.hostname = "mx.test";
    pc.user = &f->a;
    CHECK_INT(smtpkit_sasl_provider_init(&f->p, &pc), 0);
    CHECK_INT(smtpkit_sasl_provider_attach(&f->p, f->s), 0);
    if (tls)
        CHECK_INT(smtpkit_server_tls_started(f->s), 0);
    CHECK_INT(smtpkit_server_start(f->s, 0), 0);
    drain(f);
    test_log_reset(&f->out);
}

/* Feed everything (resuming nothing) and return the replies, escaped. */
static const char *say(fx *f, const char *in)
{
    size_t len = strlen(in), off = 0;
    test_log_reset(&f->out);
    drain(f); /* replies queued by a resume */
    while (off < len) {
        smtpkit_ssize r = smtpkit_server_feed(f->s, in + off, len - off);
        drain(f);
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    return test_log_str(&f->out);
}

static void fx_close(fx *f)
{
    smtpkit_server_free(f->s);
    smtpkit_sasl_provider_finish(&f->p);
    test_log_free(&f->out);
}

#define EHLO "EHLO c.test\r\n"

/* Feed once, compare the replies (CHECK_STR would evaluate say() twice). */
#define SAYS(args, want)                                                                  \
    do {                                                                                  \
        const char *got_ = say args;                                                      \
        CHECK_STR(got_, want);                                                            \
    } while (0)

TEST(offered_only_after_tls)
{
    fx f;
    fx_open(&f, 0, 0, fake_random);
    CHECK(strstr(say(&f, EHLO), "AUTH") == NULL);
    /* RFC 4954 6: 538 when the mechanism needs encryption */
    SAYS((&f, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"),
              "538 5.7.11 Encryption required for requested authentication mechanism\\r\\n");
    CHECK_INT(f.a.verify_calls, 0);
    fx_close(&f);
    fx_open(&f, 0, 1, fake_random);
    CHECK(strstr(say(&f, EHLO), "250-AUTH PLAIN LOGIN CRAM-MD5\\r\\n") != NULL ||
          strstr(test_log_str(&f.out), "250 AUTH PLAIN LOGIN CRAM-MD5\\r\\n") != NULL);
    fx_close(&f);
    /* or, when the application says so, in clear */
    fx_open(&f, SMTPKIT_SERVER_AUTH_PLAINTEXT, 0, NULL);
    CHECK(strstr(say(&f, EHLO), "AUTH PLAIN LOGIN\\r\\n") != NULL);
    fx_close(&f);
}

TEST(plain_accepted_and_rejected)
{
    fx f;
    fx_open(&f, 0, 1, fake_random);
    say(&f, EHLO);
    CHECK_STR(smtpkit_server_protocol(f.s), "ESMTPS");
    SAYS((&f, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFn\r\n"),
              "535 5.7.8 Authentication credentials invalid\\r\\n");
    CHECK_STR(f.a.last_user, "tim");
    CHECK_INT(f.a.last_mech, SMTPKIT_AUTH_PLAIN);
    CHECK_INT(smtpkit_sasl_provider_failures(&f.p), 1);
    CHECK(!smtpkit_server_authenticated(f.s));
    CHECK(smtpkit_sasl_provider_user(&f.p).len == 0);
    SAYS((&f, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"),
              "235 2.7.0 Authentication successful\\r\\n");
    CHECK(smtpkit_server_authenticated(f.s));
    CHECK_VIEW(smtpkit_sasl_provider_user(&f.p), "tim");
    CHECK_STR(smtpkit_server_protocol(f.s), "ESMTPSA");
    /* the credentials are gone */
    {
        size_t i;
        int z = 0;
        for (i = 0; i < sizeof f.p._sasl._buf; i++)
            z |= f.p._sasl._buf[i];
        CHECK_INT(z, 0);
    }
    /* RFC 4954 4: once authenticated, AUTH is a bad sequence */
    CHECK(strncmp(say(&f, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"), "503 5.5.1", 9) == 0);
    fx_close(&f);

    /* an empty 334 first, then the response; authzid given and equal */
    fx_open(&f, 0, 1, NULL);
    say(&f, EHLO);
    SAYS((&f, "AUTH PLAIN\r\n"), "334 \\r\\n");
    SAYS((&f, "YWxpY2UAYWxpY2UAczNjcmV0\r\n"), "235 2.7.0 Authentication successful\\r\\n");
    CHECK_STR(f.a.last_authzid, "alice");
    fx_close(&f);

    /* authzid asking for another identity: the application refuses */
    fx_open(&f, 0, 1, NULL);
    say(&f, EHLO);
    SAYS((&f, "AUTH PLAIN dGltAGFsaWNlAHMzY3JldA==\r\n"),
              "535 5.7.8 Authentication credentials invalid\\r\\n");
    fx_close(&f);
}

TEST(login_exchange)
{
    fx f;
    fx_open(&f, 0, 1, NULL);
    say(&f, EHLO);
    SAYS((&f, "AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\\r\\n");
    SAYS((&f, "dGlt\r\n"), "334 UGFzc3dvcmQ6\\r\\n");
    SAYS((&f, "dGFuc3RhYWZ0YW5zdGFhZg==\r\n"), "235 2.7.0 Authentication successful\\r\\n");
    CHECK_INT(f.a.last_mech, SMTPKIT_AUTH_LOGIN);
    fx_close(&f);
}

/* The user name as initial response, and everything in one write. */
TEST(login_pipelined_in_one_write)
{
    fx f;
    const char *out;
    fx_open(&f, 0, 1, NULL);
    out = say(&f, EHLO "AUTH LOGIN YWxpY2U=\r\nczNjcmV0\r\nMAIL FROM:<a@b.test>\r\n");
    CHECK(strstr(out, "334 UGFzc3dvcmQ6\\r\\n235 2.7.0 Authentication successful\\r\\n250 2.1.0")
          != NULL);
    fx_close(&f);
}

TEST(cram_md5_exchange)
{
    fx f;
    smtpkit_sasl_mech m;
    smtpkit_sasl_builtin b;
    smtpkit_sasl_client c;
    smtpkit_sasl_creds cr;
    char line[256];
    const char *out;
    smtpkit_ssize n;
    fx_open(&f, 0, 1, fake_random);
    say(&f, EHLO);
    out = say(&f, "AUTH CRAM-MD5\r\n");
    /* "334 " base64("<a0a1...a7.a8...af@mx.test>") */
    {
        char chal[128], want[200];
        smtpkit_ssize cl;
        snprintf(chal, sizeof chal, "<a0a1a2a3a4a5a6a7.a8a9aaabacadaeaf@mx.test>");
        cl = smtpkit_base64_encode(chal, strlen(chal), want, sizeof want);
        want[cl] = 0;
        CHECK(strncmp(out, "334 ", 4) == 0);
        CHECK(strncmp(out + 4, want, (size_t)cl) == 0);
        memset(&cr, 0, sizeof cr);
        cr.user.ptr = "alice";
        cr.user.len = 5;
        cr.password.ptr = "s3cret";
        cr.password.len = 6;
        smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_CRAM_MD5, &cr);
        smtpkit_sasl_client_init(&c, &m);
        smtpkit_sasl_client_start(&c, line, sizeof line);
        n = smtpkit_sasl_client_step(&c, want, (size_t)cl, line, sizeof line - 1);
        CHECK(n > 0);
        line[n] = 0;
        smtpkit_sasl_client_finish(&c);
    }
    SAYS((&f, line), "235 2.7.0 Authentication successful\\r\\n");
    CHECK_INT(f.a.last_mech, SMTPKIT_AUTH_CRAM_MD5);
    fx_close(&f);

    /* wrong digest */
    fx_open(&f, 0, 1, fake_random);
    say(&f, EHLO);
    say(&f, "AUTH CRAM-MD5\r\n");
    SAYS((&f, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
              "535 5.7.8 Authentication credentials invalid\\r\\n");
    fx_close(&f);

    /* no randomness: a temporary failure, not a weak challenge */
    {
        smtpkit_sasl_provider_config pc;
        fx_open(&f, 0, 1, fake_random);
        smtpkit_sasl_provider_config_init(&pc);
        pc.random = failing_random;
        pc.verify = verify;
        pc.user = &f.a;
        CHECK_INT(smtpkit_sasl_provider_init(&f.p, &pc), 0);
        smtpkit_sasl_provider_attach(&f.p, f.s);
        say(&f, EHLO);
        SAYS((&f, "AUTH CRAM-MD5\r\n"), "454 4.7.0 Temporary authentication failure\\r\\n");
        CHECK_INT(smtpkit_sasl_provider_failures(&f.p), 0);
        fx_close(&f);
    }
}

TEST(client_errors_get_their_replies)
{
    static const struct {
        const char *in;
        const char *reply;
    } t[] = {
        /* RFC 4954 4: "*" cancels, 501 */
        {"AUTH LOGIN\r\n*\r\n", "334 VXNlcm5hbWU6\\r\\n501 5.0.0 Authentication cancelled\\r\\n"},
        {"AUTH PLAIN\r\n*\r\n", "334 \\r\\n501 5.0.0 Authentication cancelled\\r\\n"},
        /* the command parser refuses what cannot be base64 at all */
        {"AUTH PLAIN a===\r\n", "501 5.5.4 Syntax error in parameters or arguments\\r\\n"},
        {"AUTH PLAIN dGj=\r\n", "501 5.5.2 Invalid base64 data\\r\\n"}, /* non-canonical */
        {"AUTH LOGIN\r\n!!!!\r\n", "334 VXNlcm5hbWU6\\r\\n501 5.5.2 Invalid base64 data\\r\\n"},
        {"AUTH PLAIN dGlt\r\n", "501 5.5.2 Invalid authentication data\\r\\n"},
        {"AUTH PLAIN =\r\n", "501 5.5.2 Invalid authentication data\\r\\n"},
        {"AUTH CRAM-MD5 dGlt\r\n", "501 5.5.2 Invalid authentication data\\r\\n"},
        {"AUTH SCRAM-SHA-256 biws\r\n", "504 5.5.4 Unrecognized authentication type\\r\\n"},
        {"AUTH XOAUTH2 dGlt\r\n", "504 5.5.4 Unrecognized authentication type\\r\\n"},
    };
    size_t i;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        fx f;
        fx_open(&f, 0, 1, fake_random);
        say(&f, EHLO);
        SAYS((&f, t[i].in), t[i].reply);
        CHECK_INT(f.a.verify_calls, 0);
        CHECK(!smtpkit_server_authenticated(f.s));
        /* the session goes on */
        SAYS((&f, "NOOP\r\n"), "250 2.0.0 OK\\r\\n");
        fx_close(&f);
    }
}

TEST(failure_limit_closes_with_421)
{
    fx f;
    const char *out;
    fx_open(&f, 0, 1, NULL);
    say(&f, EHLO);
    CHECK(strncmp(say(&f, "AUTH PLAIN AHRpbQB4\r\n"), "535 5.7.8", 9) == 0);
    CHECK(strncmp(say(&f, "AUTH LOGIN\r\n*\r\n"), "334 VXNlcm5hbWU6\\r\\n501 5.0.0", 26) == 0);
    out = say(&f, "AUTH PLAIN AHRpbQB4\r\nNOOP\r\n");
    CHECK(strncmp(out, "421 4.7.0 mx.test Too many failed authentication attempts", 57) == 0);
    CHECK(strstr(out, "250") == NULL); /* nothing after the 421 */
    CHECK(smtpkit_server_want(f.s) & SMTPKIT_SERVER_WANT_CLOSE);
    CHECK_INT(smtpkit_sasl_provider_failures(&f.p), 3);
    fx_close(&f);
}

TEST(verdict_may_pause)
{
    fx f;
    const char *in = "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\nMAIL FROM:<a@b.test>\r\n";
    smtpkit_ssize r;
    fx_open(&f, SMTPKIT_SERVER_REQUIRE_AUTH, 1, NULL);
    say(&f, EHLO);
    f.a.pause = 1;
    test_log_reset(&f.out);
    r = smtpkit_server_feed(f.s, in, strlen(in));
    drain(&f);
    /* consumed up to the AUTH line; nothing answered yet */
    CHECK_INT(r, (smtpkit_ssize)strlen("AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"));
    CHECK_STR(test_log_str(&f.out), "");
    CHECK(smtpkit_server_paused(f.s));
    /* the password can still be checked while paused */
    CHECK_INT(smtpkit_sasl_provider_check_password(&f.p, "tanstaaftanstaaf", 16), 0);
    CHECK_INT(smtpkit_sasl_provider_check_password(&f.p, "nope", 4), SMTPKIT_ERR_AUTH);
    CHECK_INT(smtpkit_sasl_provider_resume(&f.p, SMTPKIT_SASL_ACCEPT), 0);
    CHECK_INT(smtpkit_sasl_provider_resume(&f.p, SMTPKIT_SASL_ACCEPT), SMTPKIT_ERR_STATE);
    SAYS((&f, in + r), "235 2.7.0 Authentication successful\\r\\n250 2.1.0 Sender OK\\r\\n");
    fx_close(&f);

    /* paused, then a temporary failure */
    fx_open(&f, 0, 1, NULL);
    say(&f, EHLO);
    f.a.pause = 1;
    say(&f, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    CHECK_INT(smtpkit_sasl_provider_resume(&f.p, SMTPKIT_SASL_TEMPFAIL), 0);
    SAYS((&f, ""), "454 4.7.0 Temporary authentication failure\\r\\n");
    fx_close(&f);

    /* paused, and the connection goes away: the exchange is cancelled */
    fx_open(&f, 0, 1, NULL);
    say(&f, EHLO);
    f.a.pause = 1;
    say(&f, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    smtpkit_server_eof(f.s);
    CHECK_INT(smtpkit_sasl_provider_resume(&f.p, SMTPKIT_SASL_ACCEPT), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_sasl_provider_check_password(&f.p, "x", 1), SMTPKIT_ERR_STATE);
    fx_close(&f);

    /* a verify callback that aborts ends the session */
    fx_open(&f, 0, 1, NULL);
    say(&f, EHLO);
    f.a.abort_verify = 1;
    CHECK(strncmp(say(&f, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"), "421", 3) == 0);
    fx_close(&f);
}

TEST(session_policies)
{
    fx f;
    /* RFC 4954 6: 530 5.7.0 for MAIL before AUTH when it is required */
    fx_open(&f, SMTPKIT_SERVER_REQUIRE_AUTH, 1, NULL);
    say(&f, EHLO);
    CHECK(strncmp(say(&f, "MAIL FROM:<a@b.test>\r\n"), "530 5.7.0", 9) == 0);
    CHECK(strncmp(say(&f, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"), "235", 3) == 0);
    CHECK(strncmp(say(&f, "MAIL FROM:<a@b.test>\r\n"), "250", 3) == 0);
    fx_close(&f);
    /* RFC 3207 4: 530 5.7.0 for MAIL and AUTH before STARTTLS when TLS is required */
    fx_open(&f, SMTPKIT_SERVER_REQUIRE_TLS | SMTPKIT_SERVER_STARTTLS, 0, NULL);
    say(&f, EHLO);
    CHECK(strncmp(say(&f, "MAIL FROM:<a@b.test>\r\n"), "530 5.7.0", 9) == 0);
    CHECK(strncmp(say(&f, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"), "530 5.7.0", 9) == 0);
    CHECK_INT(f.a.verify_calls, 0);
    fx_close(&f);
}

TEST(no_verify_callback_rejects_and_config_errors)
{
    smtpkit_sasl_provider p;
    smtpkit_sasl_provider_config pc;
    smtpkit_server *s;
    char longhost[300];
    fx f;
    fx_open(&f, 0, 1, NULL);
    smtpkit_sasl_provider_config_init(&pc);
    CHECK_INT(smtpkit_sasl_provider_init(&f.p, &pc), 0);
    CHECK_STR(f.p._mechs, "PLAIN LOGIN");
    smtpkit_sasl_provider_attach(&f.p, f.s);
    say(&f, EHLO);
    CHECK(strncmp(say(&f, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n"), "535 5.7.8", 9) == 0);
    fx_close(&f);

    CHECK_INT(smtpkit_sasl_provider_init(NULL, &pc), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_provider_init(&p, NULL), SMTPKIT_ERR_INVALID_ARG);
    pc.mechs = SMTPKIT_AUTH_CRAM_MD5; /* without randomness */
    CHECK_INT(smtpkit_sasl_provider_init(&p, &pc), SMTPKIT_ERR_INVALID_ARG);
    pc.mechs = SMTPKIT_AUTH_XOAUTH2; /* nothing the server side does */
    CHECK_INT(smtpkit_sasl_provider_init(&p, &pc), SMTPKIT_ERR_INVALID_ARG);
    pc.mechs = SMTPKIT_AUTH_CRAM_MD5;
    pc.random = fake_random;
    pc.hostname = "bad host";
    CHECK_INT(smtpkit_sasl_provider_init(&p, &pc), SMTPKIT_ERR_INVALID_ARG);
    memset(longhost, 'h', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = 0;
    pc.hostname = longhost;
    CHECK_INT(smtpkit_sasl_provider_init(&p, &pc), SMTPKIT_ERR_INVALID_ARG);
    pc.hostname = NULL;
    CHECK_INT(smtpkit_sasl_provider_init(&p, &pc), 0);
    CHECK_STR(p._mechs, "CRAM-MD5");
    s = smtpkit_server_new(NULL, NULL, NULL, NULL);
    CHECK_INT(smtpkit_sasl_provider_attach(&p, s), 0);
    CHECK_INT(smtpkit_sasl_provider_attach(NULL, s), SMTPKIT_ERR_INVALID_ARG);
    smtpkit_server_free(s);
    CHECK_INT(smtpkit_sasl_provider_resume(&p, SMTPKIT_SASL_ACCEPT), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_sasl_provider_resume(NULL, SMTPKIT_SASL_ACCEPT), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_provider_failures(NULL), 0);
    CHECK(smtpkit_sasl_provider_user(NULL).len == 0);
    smtpkit_sasl_provider_finish(NULL);
}

int main(void)
{
    RUN(offered_only_after_tls);
    RUN(plain_accepted_and_rejected);
    RUN(login_exchange);
    RUN(login_pipelined_in_one_write);
    RUN(cram_md5_exchange);
    RUN(client_errors_get_their_replies);
    RUN(failure_limit_closes_with_421);
    RUN(verdict_may_pause);
    RUN(session_policies);
    RUN(no_verify_callback_rejects_and_config_errors);
    return test_summary();
}
