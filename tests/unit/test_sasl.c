/* SASL for SMTP AUTH: the RFC 4616 / RFC 2195 examples, both sides, the
 * pluggable mechanism interface, and every error path. */
#include "smtpkit/base64.h"
#include "smtpkit/sasl.h"
#include "test.h"

static smtpkit_view V(const char *s)
{
    smtpkit_view v;
    v.ptr = s;
    v.len = s ? strlen(s) : 0;
    return v;
}

static smtpkit_sasl_creds creds_of(const char *authzid, const char *user, const char *pw,
                                   const char *token)
{
    smtpkit_sasl_creds c;
    c.authzid = V(authzid);
    c.user = V(user);
    c.password = V(pw);
    c.token = V(token);
    return c;
}

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) {
        if (b[i])
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ names */

TEST(mechanism_names)
{
    CHECK_STR(smtpkit_sasl_mech_name(SMTPKIT_AUTH_PLAIN), "PLAIN");
    CHECK_STR(smtpkit_sasl_mech_name(SMTPKIT_AUTH_LOGIN), "LOGIN");
    CHECK_STR(smtpkit_sasl_mech_name(SMTPKIT_AUTH_CRAM_MD5), "CRAM-MD5");
    CHECK_STR(smtpkit_sasl_mech_name(SMTPKIT_AUTH_XOAUTH2), "XOAUTH2");
    CHECK(smtpkit_sasl_mech_name(SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_LOGIN) == NULL);
    CHECK(smtpkit_sasl_mech_name(0) == NULL);
    CHECK_INT(smtpkit_sasl_mech_from_name("cram-md5", 8), SMTPKIT_AUTH_CRAM_MD5);
    CHECK_INT(smtpkit_sasl_mech_from_name("Plain", 5), SMTPKIT_AUTH_PLAIN);
    CHECK_INT(smtpkit_sasl_mech_from_name("PLAINX", 6), 0);
    CHECK_INT(smtpkit_sasl_mech_from_name("PLAI", 4), 0);
    CHECK_INT(smtpkit_sasl_mech_from_name("SCRAM-SHA-1", 11), 0);
    CHECK_INT(smtpkit_sasl_mech_from_name(NULL, 0), 0);
}

/* -------------------------------------------------------------- selection */

TEST(select_best_mechanism)
{
    const unsigned ALL = SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_LOGIN | SMTPKIT_AUTH_CRAM_MD5 |
                         SMTPKIT_AUTH_XOAUTH2;
    const unsigned TLS = SMTPKIT_SASL_SELECT_TLS, CLEAR = SMTPKIT_SASL_SELECT_ALLOW_PLAINTEXT;
    smtpkit_sasl_creds pw = creds_of(NULL, "tim", "secret", NULL);
    smtpkit_sasl_creds tok = creds_of(NULL, "tim", NULL, "ya29.token");
    smtpkit_sasl_creds both = creds_of(NULL, "tim", "secret", "ya29.token");
    smtpkit_sasl_creds nouser = creds_of(NULL, NULL, "secret", NULL);
    static const struct {
        int creds; /* 0 pw, 1 token, 2 both, 3 no user */
        unsigned offered, flags, want;
    } t[] = {
        {0, ALL, TLS, SMTPKIT_AUTH_CRAM_MD5},
        {0, SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_LOGIN, TLS, SMTPKIT_AUTH_PLAIN},
        {0, SMTPKIT_AUTH_LOGIN, TLS, SMTPKIT_AUTH_LOGIN},
        {0, SMTPKIT_AUTH_XOAUTH2, TLS, 0},     /* no token: XOAUTH2 never chosen */
        {0, SMTPKIT_AUTH_OTHER, TLS, 0},
        {0, 0, TLS, 0},
        {0, ALL, 0, 0},                        /* never in clear by default */
        {0, ALL, CLEAR, SMTPKIT_AUTH_CRAM_MD5},
        {0, SMTPKIT_AUTH_PLAIN, CLEAR, SMTPKIT_AUTH_PLAIN},
        {1, ALL, TLS, SMTPKIT_AUTH_XOAUTH2},
        {1, SMTPKIT_AUTH_PLAIN, TLS, 0},       /* token only, no password */
        {1, ALL, 0, 0},
        {2, ALL, TLS, SMTPKIT_AUTH_XOAUTH2},
        {2, SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_LOGIN, TLS, SMTPKIT_AUTH_PLAIN},
        {3, ALL, TLS, 0},
    };
    size_t i;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        const smtpkit_sasl_creds *c = t[i].creds == 0   ? &pw
                                      : t[i].creds == 1 ? &tok
                                      : t[i].creds == 2 ? &both
                                                        : &nouser;
        unsigned got = smtpkit_sasl_select(t[i].offered, c, t[i].flags);
        if (got != t[i].want)
            fprintf(stderr, "select case %u\n", (unsigned)i);
        CHECK_INT(got, t[i].want);
    }
    CHECK_INT(smtpkit_sasl_select(ALL, NULL, TLS), 0);
}

TEST(builtin_init_validates)
{
    smtpkit_sasl_mech m;
    smtpkit_sasl_builtin b;
    smtpkit_sasl_creds c;
    static const char nul_pw[] = "pa\0ss";
    c = creds_of(NULL, "tim", "pw", NULL);
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_PLAIN, &c), 0);
    CHECK_STR(m.name, "PLAIN");
    CHECK(m.flags & SMTPKIT_SASL_MECH_PLAINTEXT);
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_CRAM_MD5, &c), 0);
    CHECK(!(m.flags & SMTPKIT_SASL_MECH_PLAINTEXT));
    CHECK_INT(smtpkit_sasl_builtin_init(NULL, &b, SMTPKIT_AUTH_PLAIN, &c), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_builtin_init(&m, NULL, SMTPKIT_AUTH_PLAIN, &c), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_PLAIN, NULL), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, 0, &c), SMTPKIT_ERR_NOT_SUPPORTED);
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_OTHER, &c), SMTPKIT_ERR_NOT_SUPPORTED);
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_LOGIN, &c),
              SMTPKIT_ERR_NOT_SUPPORTED);
    /* missing pieces */
    c = creds_of(NULL, "", "pw", NULL);
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_LOGIN, &c), SMTPKIT_ERR_INVALID_ARG);
    c = creds_of(NULL, "tim", NULL, NULL);
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_LOGIN, &c), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_XOAUTH2, &c), SMTPKIT_ERR_INVALID_ARG);
    /* bytes a mechanism cannot carry */
    c = creds_of(NULL, "tim", NULL, NULL);
    c.password.ptr = nul_pw;
    c.password.len = 5;
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_PLAIN, &c), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_LOGIN, &c), 0);
    c = creds_of(NULL, "tim smith", "pw", NULL);
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_CRAM_MD5, &c), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_PLAIN, &c), 0);
    c = creds_of(NULL, "tim", NULL, "tok\001en");
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_XOAUTH2, &c), SMTPKIT_ERR_INVALID_ARG);
    c = creds_of(NULL, "t\001im", NULL, "token");
    CHECK_INT(smtpkit_sasl_builtin_init(&m, &b, SMTPKIT_AUTH_XOAUTH2, &c), SMTPKIT_ERR_INVALID_ARG);
}

/* ------------------------------------------------------------------ client */

typedef struct client_fx {
    smtpkit_sasl_mech mech;
    smtpkit_sasl_builtin st;
    smtpkit_sasl_client c;
    smtpkit_sasl_creds creds;
    char out[1200];
} client_fx;

static int fx_init(client_fx *f, unsigned which, smtpkit_sasl_creds creds)
{
    int rc;
    memset(f, 0, sizeof *f);
    f->creds = creds;
    rc = smtpkit_sasl_builtin_init(&f->mech, &f->st, which, &f->creds);
    smtpkit_sasl_client_init(&f->c, &f->mech);
    return rc;
}

TEST(client_plain_rfc4616)
{
    client_fx f;
    smtpkit_ssize n;
    CHECK_INT(fx_init(&f, SMTPKIT_AUTH_PLAIN, creds_of(NULL, "tim", "tanstaaftanstaaf", NULL)), 0);
    n = smtpkit_sasl_client_start(&f.c, f.out, sizeof f.out);
    CHECK_MEM(f.out, n, "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n");
    /* nothing more to say after the initial response */
    CHECK_INT(smtpkit_sasl_client_step(&f.c, "", 0, f.out, sizeof f.out), SMTPKIT_ERR_PROTOCOL);
    smtpkit_sasl_client_finish(&f.c);

    /* RFC 4616 4: authzid "Ursel", authcid "Kurt", password "xipj3plmq" */
    CHECK_INT(fx_init(&f, SMTPKIT_AUTH_PLAIN, creds_of("Ursel", "Kurt", "xipj3plmq", NULL)), 0);
    n = smtpkit_sasl_client_start(&f.c, f.out, sizeof f.out);
    CHECK_MEM(f.out, n, "AUTH PLAIN VXJzZWwAS3VydAB4aXBqM3BsbXE=\r\n");
    /* the password's raw bytes are not left behind the line */
    CHECK(all_zero(f.out + n, sizeof f.out - (size_t)n));
    smtpkit_sasl_client_finish(&f.c);
    CHECK(all_zero(f.c._raw, sizeof f.c._raw));
}

TEST(client_login)
{
    client_fx f;
    smtpkit_ssize n;
    CHECK_INT(fx_init(&f, SMTPKIT_AUTH_LOGIN, creds_of(NULL, "tim", "tanstaaftanstaaf", NULL)), 0);
    n = smtpkit_sasl_client_start(&f.c, f.out, sizeof f.out);
    CHECK_MEM(f.out, n, "AUTH LOGIN\r\n");
    n = smtpkit_sasl_client_step(&f.c, "VXNlcm5hbWU6", 12, f.out, sizeof f.out);
    CHECK_MEM(f.out, n, "dGlt\r\n");
    /* trailing spaces after the challenge are tolerated */
    n = smtpkit_sasl_client_step(&f.c, "UGFzc3dvcmQ6  ", 14, f.out, sizeof f.out);
    CHECK_MEM(f.out, n, "dGFuc3RhYWZ0YW5zdGFhZg==\r\n");
    CHECK(all_zero(f.out + n, sizeof f.out - (size_t)n));
    CHECK_INT(smtpkit_sasl_client_step(&f.c, "UGFzc3dvcmQ6", 12, f.out, sizeof f.out),
              SMTPKIT_ERR_PROTOCOL);
    /* after an error, the exchange is over */
    CHECK_INT(smtpkit_sasl_client_step(&f.c, "", 0, f.out, sizeof f.out), SMTPKIT_ERR_STATE);
    n = smtpkit_sasl_client_cancel(&f.c, f.out, sizeof f.out);
    CHECK_MEM(f.out, n, "*\r\n");
    smtpkit_sasl_client_finish(&f.c);
}

TEST(client_cram_md5_rfc2195)
{
    client_fx f;
    smtpkit_ssize n;
    const char *chal = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
    CHECK_INT(fx_init(&f, SMTPKIT_AUTH_CRAM_MD5, creds_of(NULL, "tim", "tanstaaftanstaaf", NULL)),
              0);
    n = smtpkit_sasl_client_start(&f.c, f.out, sizeof f.out);
    CHECK_MEM(f.out, n, "AUTH CRAM-MD5\r\n");
    n = smtpkit_sasl_client_step(&f.c, chal, strlen(chal), f.out, sizeof f.out);
    /* base64 of "tim b913a602c7eda7a495b4e6e7334d3890" */
    CHECK_MEM(f.out, n, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
    CHECK_INT(smtpkit_sasl_client_step(&f.c, chal, strlen(chal), f.out, sizeof f.out),
              SMTPKIT_ERR_PROTOCOL);
    smtpkit_sasl_client_finish(&f.c);

    /* an empty challenge is not a CRAM-MD5 challenge */
    fx_init(&f, SMTPKIT_AUTH_CRAM_MD5, creds_of(NULL, "tim", "x", NULL));
    smtpkit_sasl_client_start(&f.c, f.out, sizeof f.out);
    CHECK_INT(smtpkit_sasl_client_step(&f.c, "", 0, f.out, sizeof f.out), SMTPKIT_ERR_PROTOCOL);
    /* invalid base64 challenges */
    fx_init(&f, SMTPKIT_AUTH_CRAM_MD5, creds_of(NULL, "tim", "x", NULL));
    smtpkit_sasl_client_start(&f.c, f.out, sizeof f.out);
    CHECK_INT(smtpkit_sasl_client_step(&f.c, "abc", 3, f.out, sizeof f.out), SMTPKIT_ERR_BASE64);
    fx_init(&f, SMTPKIT_AUTH_CRAM_MD5, creds_of(NULL, "tim", "x", NULL));
    smtpkit_sasl_client_start(&f.c, f.out, sizeof f.out);
    CHECK_INT(smtpkit_sasl_client_step(&f.c, "ab!d", 4, f.out, sizeof f.out), SMTPKIT_ERR_BASE64);
}

TEST(client_xoauth2)
{
    client_fx f;
    smtpkit_ssize n;
    CHECK_INT(fx_init(&f, SMTPKIT_AUTH_XOAUTH2,
                      creds_of(NULL, "someuser@example.com", NULL,
                               "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")),
              0);
    n = smtpkit_sasl_client_start(&f.c, f.out, sizeof f.out);
    CHECK_MEM(f.out, n,
              "AUTH XOAUTH2 "
              "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNr"
              "QmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==\r\n");
    /* an error challenge (JSON) is answered with an empty response */
    n = smtpkit_sasl_client_step(&f.c, "eyJzdGF0dXMiOiI0MDEifQ==", 24, f.out, sizeof f.out);
    CHECK_MEM(f.out, n, "\r\n");
    CHECK_INT(smtpkit_sasl_client_step(&f.c, "", 0, f.out, sizeof f.out), SMTPKIT_ERR_PROTOCOL);
    smtpkit_sasl_client_finish(&f.c);
}

/* RFC 4954 4: an initial response that would make the AUTH line longer than
 * 512 octets waits for an empty 334. */
TEST(client_long_initial_response_is_deferred)
{
    client_fx f;
    char token[700], expect[1100];
    char raw[800];
    size_t rl;
    smtpkit_ssize n, e;
    memset(token, 'T', sizeof token - 1);
    token[sizeof token - 1] = 0;
    CHECK_INT(fx_init(&f, SMTPKIT_AUTH_XOAUTH2, creds_of(NULL, "u@example.com", NULL, token)), 0);
    n = smtpkit_sasl_client_start(&f.c, f.out, sizeof f.out);
    CHECK_MEM(f.out, n, "AUTH XOAUTH2\r\n");
    CHECK(all_zero(f.out + n, sizeof f.out - (size_t)n));
    CHECK_INT(smtpkit_sasl_client_step(&f.c, "QQ==", 4, f.out, sizeof f.out), SMTPKIT_ERR_PROTOCOL);

    fx_init(&f, SMTPKIT_AUTH_XOAUTH2, creds_of(NULL, "u@example.com", NULL, token));
    smtpkit_sasl_client_start(&f.c, f.out, sizeof f.out);
    n = smtpkit_sasl_client_step(&f.c, "", 0, f.out, sizeof f.out);
    rl = (size_t)snprintf(raw, sizeof raw, "user=u@example.com\001auth=Bearer %s\001\001", token);
    e = smtpkit_base64_encode(raw, rl, expect, sizeof expect);
    CHECK(e > 0);
    CHECK_INT(n, e + 2);
    CHECK(memcmp(f.out, expect, (size_t)e) == 0);
    CHECK(all_zero(f.c._raw, sizeof f.c._raw));
    smtpkit_sasl_client_finish(&f.c);
}

/* Every output capacity short of the need fails cleanly, writes nothing past
 * the capacity, and leaves no secret behind. */
TEST(client_buffer_too_small_everywhere)
{
    static const unsigned mechs[] = {SMTPKIT_AUTH_PLAIN, SMTPKIT_AUTH_LOGIN,
                                     SMTPKIT_AUTH_CRAM_MD5, SMTPKIT_AUTH_XOAUTH2};
    size_t mi, cap;
    for (mi = 0; mi < 4; mi++) {
        client_fx ref;
        smtpkit_ssize need_start, need_step;
        const char *chal = mechs[mi] == SMTPKIT_AUTH_CRAM_MD5 ? "PDEyQGg+" : "VXNlcm5hbWU6";
        smtpkit_sasl_creds cr = creds_of(NULL, "alice", "s3cr3tpassword", "tok3n");
        fx_init(&ref, mechs[mi], cr);
        need_start = smtpkit_sasl_client_start(&ref.c, ref.out, sizeof ref.out);
        CHECK(need_start > 0);
        need_step = smtpkit_sasl_client_step(&ref.c, chal, strlen(chal), ref.out, sizeof ref.out);
        if (mechs[mi] == SMTPKIT_AUTH_PLAIN)
            need_step = 0;
        for (cap = 0; cap < (size_t)need_start; cap++) {
            client_fx f;
            fx_init(&f, mechs[mi], cr);
            memset(f.out, '#', sizeof f.out);
            f.out[sizeof f.out - 1] = 0;
            CHECK_INT(smtpkit_sasl_client_start(&f.c, f.out, cap), SMTPKIT_ERR_BUFFER_TOO_SMALL);
            CHECK(f.out[cap] == '#');
            CHECK(strstr(f.out, "s3cr3t") == NULL);
        }
        for (cap = 0; need_step > 0 && cap < (size_t)need_step; cap++) {
            client_fx f;
            fx_init(&f, mechs[mi], cr);
            smtpkit_sasl_client_start(&f.c, f.out, sizeof f.out);
            memset(f.out, '#', sizeof f.out);
            f.out[sizeof f.out - 1] = 0;
            CHECK_INT(smtpkit_sasl_client_step(&f.c, chal, strlen(chal), f.out, cap),
                      SMTPKIT_ERR_BUFFER_TOO_SMALL);
            CHECK(f.out[cap] == '#');
            CHECK(strstr(f.out, "alice") == NULL);
        }
    }
}

/* ---- a mechanism of the application's own: the interface is pluggable ---- */

typedef struct echo_mech {
    int starts, steps, finishes;
    int with_initial;
    int fail_step;
} echo_mech;

static int echo_start(void *ctx, unsigned char *out, size_t cap, size_t *outlen)
{
    echo_mech *e = (echo_mech *)ctx;
    (void)out;
    (void)cap;
    e->starts++;
    *outlen = 0;
    return e->with_initial ? SMTPKIT_SASL_INITIAL : 0;
}

static int echo_step(void *ctx, const unsigned char *chal, size_t len, unsigned char *out,
                     size_t cap, size_t *outlen)
{
    echo_mech *e = (echo_mech *)ctx;
    size_t i;
    e->steps++;
    if (e->fail_step && e->steps == e->fail_step)
        return SMTPKIT_ERR_AUTH;
    if (len > cap)
        return SMTPKIT_ERR_BUFFER_TOO_SMALL;
    for (i = 0; i < len; i++)
        out[len - 1 - i] = chal[i]; /* reversed */
    *outlen = len;
    return 0;
}

static void echo_finish(void *ctx) { ((echo_mech *)ctx)->finishes++; }

TEST(client_custom_mechanism)
{
    echo_mech e = {0, 0, 0, 1, 0};
    smtpkit_sasl_mech m = {"X-ECHO_2", 0, echo_start, echo_step, echo_finish, NULL};
    smtpkit_sasl_client c;
    char out[64];
    smtpkit_ssize n;
    m.ctx = &e;
    smtpkit_sasl_client_init(&c, &m);
    n = smtpkit_sasl_client_start(&c, out, sizeof out);
    CHECK_MEM(out, n, "AUTH X-ECHO_2 =\r\n"); /* "=" is the empty initial response */
    CHECK_INT(smtpkit_sasl_client_start(&c, out, sizeof out), SMTPKIT_ERR_STATE);
    n = smtpkit_sasl_client_step(&c, "YWJj", 4, out, sizeof out); /* "abc" */
    CHECK_MEM(out, n, "Y2Jh\r\n");                               /* "cba" */
    n = smtpkit_sasl_client_step(&c, "", 0, out, sizeof out);
    CHECK_MEM(out, n, "\r\n");
    smtpkit_sasl_client_finish(&c);
    smtpkit_sasl_client_finish(&c);
    CHECK_INT(e.finishes, 1);

    /* the mechanism's error cancels */
    e.with_initial = 0;
    e.fail_step = 1;
    e.steps = 0;
    smtpkit_sasl_client_init(&c, &m);
    n = smtpkit_sasl_client_start(&c, out, sizeof out);
    CHECK_MEM(out, n, "AUTH X-ECHO_2\r\n");
    CHECK_INT(smtpkit_sasl_client_step(&c, "YWJj", 4, out, sizeof out), SMTPKIT_ERR_AUTH);
    smtpkit_sasl_client_finish(&c);

    /* a server that keeps challenging is cut off */
    e.fail_step = 0;
    e.steps = 0;
    smtpkit_sasl_client_init(&c, &m);
    smtpkit_sasl_client_start(&c, out, sizeof out);
    {
        int i, last = 0;
        for (i = 0; i < 20; i++) {
            last = (int)smtpkit_sasl_client_step(&c, "", 0, out, sizeof out);
            if (last < 0)
                break;
        }
        CHECK_INT(last, SMTPKIT_ERR_PROTOCOL);
        CHECK_INT(i, 16);
    }

    /* names that could inject or are not SASL names */
    {
        static const char *bad[] = {"", "x-echo", "TOO-LONG-MECHANISM-NAME", "A B",
                                    "A\r\nQUIT", "A=B"};
        size_t i;
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            m.name = bad[i];
            smtpkit_sasl_client_init(&c, &m);
            CHECK_INT(smtpkit_sasl_client_start(&c, out, sizeof out), SMTPKIT_ERR_INVALID_ARG);
        }
        m.name = NULL;
        smtpkit_sasl_client_init(&c, &m);
        CHECK_INT(smtpkit_sasl_client_start(&c, out, sizeof out), SMTPKIT_ERR_INVALID_ARG);
        m.name = "X";
        m.step = NULL;
        smtpkit_sasl_client_init(&c, &m);
        CHECK_INT(smtpkit_sasl_client_start(&c, out, sizeof out), SMTPKIT_ERR_INVALID_ARG);
    }
}

TEST(client_argument_and_state_errors)
{
    client_fx f;
    char out[8];
    fx_init(&f, SMTPKIT_AUTH_LOGIN, creds_of(NULL, "tim", "pw", NULL));
    CHECK_INT(smtpkit_sasl_client_step(&f.c, "", 0, f.out, sizeof f.out), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_sasl_client_start(NULL, f.out, sizeof f.out), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_client_start(&f.c, NULL, 10), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_client_step(NULL, "", 0, f.out, sizeof f.out), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_client_step(&f.c, NULL, 3, f.out, sizeof f.out),
              SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_client_cancel(NULL, out, 2), SMTPKIT_ERR_BUFFER_TOO_SMALL);
    CHECK_INT(smtpkit_sasl_client_cancel(NULL, NULL, 3), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_client_cancel(NULL, out, 3), 3);
    smtpkit_sasl_client_finish(NULL);
    /* a challenge longer than SMTPKIT_SASL_MAX */
    {
        static char big[SMTPKIT_BASE64_ENCODED_LEN(SMTPKIT_SASL_MAX + 3)];
        smtpkit_sasl_client c;
        echo_mech e = {0, 0, 0, 0, 0};
        smtpkit_sasl_mech m = {"X", 0, echo_start, echo_step, NULL, NULL};
        m.ctx = &e;
        memset(big, 'A', sizeof big);
        smtpkit_sasl_client_init(&c, &m);
        smtpkit_sasl_client_start(&c, f.out, sizeof f.out);
        CHECK_INT(smtpkit_sasl_client_step(&c, big, sizeof big, f.out, sizeof f.out),
                  SMTPKIT_ERR_BUFFER_TOO_SMALL);
    }
}

TEST(client_outcomes)
{
    CHECK_INT(smtpkit_sasl_client_outcome(235), 0);
    CHECK_INT(smtpkit_sasl_client_outcome(535), SMTPKIT_ERR_AUTH);
    CHECK_INT(smtpkit_sasl_client_outcome(534), SMTPKIT_ERR_AUTH);
    CHECK_INT(smtpkit_sasl_client_outcome(538), SMTPKIT_ERR_TLS_REQUIRED);
    CHECK_INT(smtpkit_sasl_client_outcome(504), SMTPKIT_ERR_NOT_SUPPORTED);
    CHECK_INT(smtpkit_sasl_client_outcome(502), SMTPKIT_ERR_NOT_SUPPORTED);
    CHECK_INT(smtpkit_sasl_client_outcome(421), SMTPKIT_ERR_CLOSED);
    CHECK_INT(smtpkit_sasl_client_outcome(454), SMTPKIT_ERR_REJECTED);
    CHECK_INT(smtpkit_sasl_client_outcome(501), SMTPKIT_ERR_REJECTED);
}

/* ------------------------------------------------------------------ server */

static const unsigned SRV_ALL = SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_LOGIN | SMTPKIT_AUTH_CRAM_MD5;

static int srv_start(smtpkit_sasl_server *s, const char *mech, const char *ir)
{
    return smtpkit_sasl_server_start(s, mech, strlen(mech), ir, ir ? strlen(ir) : 0, ir != NULL);
}

static int srv_step(smtpkit_sasl_server *s, const char *line)
{
    return smtpkit_sasl_server_step(s, line, strlen(line));
}

static void check_challenge(smtpkit_sasl_server *s, const char *want)
{
    char out[512];
    smtpkit_ssize n = smtpkit_sasl_server_challenge(s, out, sizeof out);
    CHECK(n >= 0);
    CHECK_MEM(out, n >= 0 ? (size_t)n : 0, want);
}

TEST(server_plain_rfc4616)
{
    smtpkit_sasl_server s;
    const smtpkit_sasl_server_creds *c;
    smtpkit_sasl_server_init(&s, SRV_ALL);
    CHECK(smtpkit_sasl_server_get_creds(&s) == NULL);
    CHECK_INT(srv_start(&s, "PLAIN", "VXJzZWwAS3VydAB4aXBqM3BsbXE="), SMTPKIT_SASL_VERIFY);
    c = smtpkit_sasl_server_get_creds(&s);
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_INT(c->mech, SMTPKIT_AUTH_PLAIN);
    CHECK_VIEW(c->authzid, "Ursel");
    CHECK_VIEW(c->user, "Kurt");
    CHECK_VIEW(c->password, "xipj3plmq");
    CHECK_INT(smtpkit_sasl_server_verify_password(&s, "xipj3plmq", 9), 0);
    CHECK_INT(smtpkit_sasl_server_verify_password(&s, "xipj3plmQ", 9), SMTPKIT_ERR_AUTH);
    CHECK_INT(smtpkit_sasl_server_verify_password(&s, "xipj3plm", 8), SMTPKIT_ERR_AUTH);
    CHECK_INT(smtpkit_sasl_server_verify_password(&s, "xipj3plmqq", 10), SMTPKIT_ERR_AUTH);
    CHECK_INT(smtpkit_sasl_server_verify_password(&s, NULL, 0), SMTPKIT_ERR_AUTH);
    /* no second start while the verdict is pending */
    CHECK_INT(srv_start(&s, "PLAIN", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"), SMTPKIT_ERR_STATE);
    smtpkit_sasl_server_finish(&s);
    CHECK(all_zero(s._buf, sizeof s._buf));
    CHECK(smtpkit_sasl_server_get_creds(&s) == NULL);
    CHECK_INT(smtpkit_sasl_server_verify_password(&s, "x", 1), SMTPKIT_ERR_STATE);

    /* no initial response: an empty 334, then the response */
    CHECK_INT(srv_start(&s, "plain", NULL), SMTPKIT_SASL_CHALLENGE);
    check_challenge(&s, "");
    CHECK_INT(srv_step(&s, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"), SMTPKIT_SASL_VERIFY);
    c = smtpkit_sasl_server_get_creds(&s);
    CHECK_VIEW(c->authzid, "");
    CHECK_VIEW(c->user, "tim");
    CHECK_INT(smtpkit_sasl_server_verify_password(&s, "tanstaaftanstaaf", 16), 0);
    smtpkit_sasl_server_finish(&s);
}

TEST(server_plain_malformed)
{
    /* each decoded message, base64-encoded below, is not [authzid] NUL
     * authcid NUL passwd with non-empty authcid and passwd */
    static const struct {
        const char *raw;
        size_t len;
    } bad[] = {
        {"timpw", 5},           /* no NUL */
        {"\0timpw", 6},         /* one NUL */
        {"\0\0pw", 4},          /* empty authcid */
        {"\0tim\0", 5},         /* empty password */
        {"\0tim\0pw\0x", 9},    /* a third NUL */
        {"a\0b\0c\0", 7},
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        smtpkit_sasl_server s;
        char b64[64];
        smtpkit_ssize n = smtpkit_base64_encode(bad[i].raw, bad[i].len, b64, sizeof b64 - 1);
        b64[n] = 0;
        smtpkit_sasl_server_init(&s, SRV_ALL);
        CHECK_INT(srv_start(&s, "PLAIN", b64), SMTPKIT_SASL_MALFORMED);
        CHECK(all_zero(s._buf, sizeof s._buf));
        CHECK_INT(srv_start(&s, "PLAIN", NULL), SMTPKIT_SASL_CHALLENGE);
        CHECK_INT(srv_step(&s, b64), SMTPKIT_SASL_MALFORMED);
    }
}

TEST(server_login)
{
    smtpkit_sasl_server s;
    const smtpkit_sasl_server_creds *c;
    smtpkit_sasl_server_init(&s, SRV_ALL);
    CHECK_INT(srv_start(&s, "LOGIN", NULL), SMTPKIT_SASL_CHALLENGE);
    check_challenge(&s, "VXNlcm5hbWU6");
    CHECK_INT(srv_step(&s, "dGlt"), SMTPKIT_SASL_CHALLENGE);
    check_challenge(&s, "UGFzc3dvcmQ6");
    CHECK_INT(srv_step(&s, "dGFuc3RhYWZ0YW5zdGFhZg=="), SMTPKIT_SASL_VERIFY);
    c = smtpkit_sasl_server_get_creds(&s);
    CHECK_INT(c->mech, SMTPKIT_AUTH_LOGIN);
    CHECK_VIEW(c->user, "tim");
    CHECK_VIEW(c->password, "tanstaaftanstaaf");
    CHECK_VIEW(c->authzid, "");
    CHECK_INT(smtpkit_sasl_server_verify_password(&s, "tanstaaftanstaaf", 16), 0);
    CHECK_INT(smtpkit_sasl_server_challenge(&s, (char[16]){0}, 16), SMTPKIT_ERR_STATE);
    CHECK_INT(srv_step(&s, "dGlt"), SMTPKIT_ERR_STATE);
    smtpkit_sasl_server_finish(&s);

    /* the user name as initial response */
    CHECK_INT(srv_start(&s, "LOGIN", "dGlt"), SMTPKIT_SASL_CHALLENGE);
    check_challenge(&s, "UGFzc3dvcmQ6");
    CHECK_INT(srv_step(&s, "cHc="), SMTPKIT_SASL_VERIFY);
    CHECK_VIEW(smtpkit_sasl_server_get_creds(&s)->password, "pw");
    smtpkit_sasl_server_finish(&s);

    /* empty user, empty password, NUL inside */
    CHECK_INT(srv_start(&s, "LOGIN", "="), SMTPKIT_SASL_MALFORMED);
    CHECK_INT(srv_start(&s, "LOGIN", NULL), SMTPKIT_SASL_CHALLENGE);
    CHECK_INT(srv_step(&s, ""), SMTPKIT_SASL_MALFORMED);
    CHECK_INT(srv_start(&s, "LOGIN", NULL), SMTPKIT_SASL_CHALLENGE);
    CHECK_INT(srv_step(&s, "dGlt"), SMTPKIT_SASL_CHALLENGE);
    CHECK_INT(srv_step(&s, ""), SMTPKIT_SASL_MALFORMED);
    CHECK_INT(srv_start(&s, "LOGIN", NULL), SMTPKIT_SASL_CHALLENGE);
    CHECK_INT(srv_step(&s, "dABt"), SMTPKIT_SASL_MALFORMED); /* "t\0m" */
}

TEST(server_cram_md5_rfc2195)
{
    smtpkit_sasl_server s;
    static const char chal[] = "<1896.697170952@postoffice.reston.mci.net>";
    smtpkit_sasl_server_init(&s, SRV_ALL);
    CHECK_INT(srv_start(&s, "CRAM-MD5", NULL), SMTPKIT_ERR_STATE); /* no nonce yet */
    /* the RFC's own challenge, placed directly (its nonce is not random) */
    memcpy(s._chal, chal, sizeof chal - 1);
    s._chal_len = sizeof chal - 1;
    CHECK_INT(srv_start(&s, "CRAM-MD5", NULL), SMTPKIT_SASL_CHALLENGE);
    check_challenge(&s, "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+");
    CHECK_INT(srv_step(&s, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"),
              SMTPKIT_SASL_VERIFY);
    CHECK_VIEW(smtpkit_sasl_server_get_creds(&s)->user, "tim");
    CHECK_VIEW(smtpkit_sasl_server_get_creds(&s)->password, "");
    CHECK_INT(smtpkit_sasl_server_verify_password(&s, "tanstaaftanstaaf", 16), 0);
    CHECK_INT(smtpkit_sasl_server_verify_password(&s, "tanstaaftanstaaF", 16), SMTPKIT_ERR_AUTH);
    CHECK_INT(smtpkit_sasl_server_verify_password(&s, "", 0), SMTPKIT_ERR_AUTH);
    smtpkit_sasl_server_finish(&s);
    /* the nonce is single-use */
    CHECK_INT(srv_start(&s, "CRAM-MD5", NULL), SMTPKIT_ERR_STATE);
}

TEST(server_cram_md5_with_nonce_and_client)
{
    smtpkit_sasl_server s;
    client_fx f;
    static const unsigned char rnd[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    char chal[512];
    smtpkit_ssize n;
    smtpkit_sasl_server_init(&s, SRV_ALL);
    CHECK_INT(smtpkit_sasl_server_set_nonce(&s, rnd, 8, "mx.example", 10), 0);
    CHECK_INT(srv_start(&s, "CRAM-MD5", NULL), SMTPKIT_SASL_CHALLENGE);
    /* "<00010203.04050607@mx.example>" */
    check_challenge(&s, "PDAwMDEwMjAzLjA0MDUwNjA3QG14LmV4YW1wbGU+");
    n = smtpkit_sasl_server_challenge(&s, chal, sizeof chal);
    /* our client answers our server */
    fx_init(&f, SMTPKIT_AUTH_CRAM_MD5, creds_of(NULL, "alice", "secret", NULL));
    smtpkit_sasl_client_start(&f.c, f.out, sizeof f.out);
    n = smtpkit_sasl_client_step(&f.c, chal, (size_t)n, f.out, sizeof f.out);
    CHECK(n > 2);
    CHECK_INT(smtpkit_sasl_server_step(&s, f.out, (size_t)n - 2), SMTPKIT_SASL_VERIFY);
    CHECK_VIEW(smtpkit_sasl_server_get_creds(&s)->user, "alice");
    CHECK_INT(smtpkit_sasl_server_verify_password(&s, "secret", 6), 0);
    CHECK_INT(smtpkit_sasl_server_verify_password(&s, "secreT", 6), SMTPKIT_ERR_AUTH);
    smtpkit_sasl_server_finish(&s);
    CHECK(all_zero(s._chal, sizeof s._chal));
    smtpkit_sasl_client_finish(&f.c);
}

TEST(server_cram_md5_malformed)
{
    static const char *bad[] = {
        "dGlt",                                             /* "tim" */
        "dGltYjkxM2E2MDJjN2VkYTdhNDk1YjRlNmU3MzM0ZDM4OTA=", /* no space */
        "IGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",     /* empty user */
        "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODk=", /* 31 hex digits */
        "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODl6", /* 'z' */
        "",
    };
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        smtpkit_sasl_server s;
        static const unsigned char rnd[8] = {9, 9, 9, 9, 9, 9, 9, 9};
        smtpkit_sasl_server_init(&s, SRV_ALL);
        smtpkit_sasl_server_set_nonce(&s, rnd, 8, "h", 1);
        CHECK_INT(srv_start(&s, "CRAM-MD5", NULL), SMTPKIT_SASL_CHALLENGE);
        CHECK_INT(srv_step(&s, bad[i]), SMTPKIT_SASL_MALFORMED);
    }
    {
        /* upper-case hex is accepted; an initial response is not (RFC 4954 4) */
        smtpkit_sasl_server s;
        static const char chal[] = "<1896.697170952@postoffice.reston.mci.net>";
        smtpkit_sasl_server_init(&s, SRV_ALL);
        memcpy(s._chal, chal, sizeof chal - 1);
        s._chal_len = sizeof chal - 1;
        CHECK_INT(srv_start(&s, "CRAM-MD5", "dGlt"), SMTPKIT_SASL_MALFORMED);
        CHECK_INT(srv_start(&s, "CRAM-MD5", NULL), SMTPKIT_SASL_CHALLENGE);
        /* "tim B913A602C7EDA7A495B4E6E7334D3890" */
        CHECK_INT(srv_step(&s, "dGltIEI5MTNBNjAyQzdFREE3QTQ5NUI0RTZFNzMzNEQzODkw"),
                  SMTPKIT_SASL_VERIFY);
        CHECK_INT(smtpkit_sasl_server_verify_password(&s, "tanstaaftanstaaf", 16), 0);
    }
}

TEST(server_cancel_base64_and_length)
{
    smtpkit_sasl_server s;
    static char longline[SMTPKIT_BASE64_ENCODED_LEN(SMTPKIT_SASL_SERVER_MAX + 1) + 1];
    static const char *bad64[] = {"abc", "a===", "!!!!", "dGl=dGlt", "dGl", "dGk=dA==",
                                  "dGltIA= ", "dGj="};
    size_t i;
    smtpkit_sasl_server_init(&s, SRV_ALL);
    /* "*" cancels at any challenge (RFC 4954 4) */
    CHECK_INT(srv_start(&s, "LOGIN", NULL), SMTPKIT_SASL_CHALLENGE);
    CHECK_INT(srv_step(&s, "*"), SMTPKIT_SASL_CANCELLED);
    CHECK_INT(srv_step(&s, "*"), SMTPKIT_ERR_STATE);
    CHECK_INT(srv_start(&s, "LOGIN", NULL), SMTPKIT_SASL_CHALLENGE);
    CHECK_INT(srv_step(&s, "dGlt"), SMTPKIT_SASL_CHALLENGE);
    CHECK_INT(srv_step(&s, "*"), SMTPKIT_SASL_CANCELLED);
    CHECK(all_zero(s._buf, sizeof s._buf));
    /* "*" as an initial response is just bad base64 */
    CHECK_INT(srv_start(&s, "PLAIN", "*"), SMTPKIT_SASL_BAD_BASE64);
    for (i = 0; i < sizeof bad64 / sizeof bad64[0]; i++) {
        CHECK_INT(srv_start(&s, "PLAIN", bad64[i]), SMTPKIT_SASL_BAD_BASE64);
        CHECK_INT(srv_start(&s, "LOGIN", NULL), SMTPKIT_SASL_CHALLENGE);
        CHECK_INT(srv_step(&s, bad64[i]), SMTPKIT_SASL_BAD_BASE64);
    }
    /* an empty (not "=") initial response cannot be sent; treat as malformed */
    CHECK_INT(smtpkit_sasl_server_start(&s, "PLAIN", 5, "", 0, 1), SMTPKIT_SASL_MALFORMED);
    /* longer than the server takes */
    memset(longline, 'A', sizeof longline - 1);
    CHECK_INT(srv_start(&s, "PLAIN", longline), SMTPKIT_SASL_TOO_LONG);
    CHECK_INT(srv_start(&s, "LOGIN", NULL), SMTPKIT_SASL_CHALLENGE);
    CHECK_INT(srv_step(&s, "dGlt"), SMTPKIT_SASL_CHALLENGE);
    /* user + password must fit together */
    longline[SMTPKIT_BASE64_ENCODED_LEN(SMTPKIT_SASL_SERVER_MAX)] = 0;
    CHECK_INT(srv_step(&s, longline), SMTPKIT_SASL_TOO_LONG);
    /* exactly the maximum fits */
    {
        static unsigned char raw[SMTPKIT_SASL_SERVER_MAX];
        static char enc[SMTPKIT_BASE64_ENCODED_LEN(SMTPKIT_SASL_SERVER_MAX) + 1];
        smtpkit_ssize n;
        memset(raw, 'p', sizeof raw);
        raw[0] = 0;
        raw[1] = 'u';
        raw[2] = 0;
        n = smtpkit_base64_encode(raw, sizeof raw, enc, sizeof enc);
        enc[n] = 0;
        CHECK_INT(srv_start(&s, "PLAIN", enc), SMTPKIT_SASL_VERIFY);
        CHECK_INT(smtpkit_sasl_server_get_creds(&s)->password.len, SMTPKIT_SASL_SERVER_MAX - 3);
        smtpkit_sasl_server_finish(&s);
    }
}

TEST(server_mechanism_choice_and_arguments)
{
    smtpkit_sasl_server s;
    static const unsigned char rnd[64] = {1};
    char host[400];
    smtpkit_sasl_server_init(&s, SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_XOAUTH2);
    CHECK_INT(srv_start(&s, "LOGIN", NULL), SMTPKIT_SASL_UNKNOWN_MECH);    /* not offered */
    CHECK_INT(srv_start(&s, "XOAUTH2", "eA=="), SMTPKIT_SASL_UNKNOWN_MECH); /* no server side */
    CHECK_INT(srv_start(&s, "SCRAM-SHA-256", NULL), SMTPKIT_SASL_UNKNOWN_MECH);
    CHECK_INT(srv_start(&s, "", NULL), SMTPKIT_SASL_UNKNOWN_MECH);
    CHECK_INT(smtpkit_sasl_server_start(NULL, "PLAIN", 5, NULL, 0, 0), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_server_start(&s, NULL, 5, NULL, 0, 0), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_server_start(&s, "PLAIN", 5, NULL, 4, 1), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_server_step(&s, NULL, 4), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_server_step(&s, "dGlt", 4), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_sasl_server_challenge(&s, NULL, 0), SMTPKIT_ERR_INVALID_ARG);
    CHECK(smtpkit_sasl_server_get_creds(NULL) == NULL);
    smtpkit_sasl_server_finish(NULL);

    /* nonce arguments */
    memset(host, 'h', sizeof host);
    CHECK_INT(smtpkit_sasl_server_set_nonce(&s, rnd, 7, "h", 1), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_server_set_nonce(&s, rnd, 65, "h", 1), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_server_set_nonce(&s, NULL, 8, "h", 1), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_server_set_nonce(&s, rnd, 8, "", 0), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_server_set_nonce(&s, rnd, 8, "a b", 3), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_server_set_nonce(&s, rnd, 8, "a>b", 3), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_server_set_nonce(&s, rnd, 8, "a\r\n", 3), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_server_set_nonce(&s, rnd, 64, host,
                                            SMTPKIT_SASL_CHALLENGE_MAX - 128 - 4 + 1),
              SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_server_set_nonce(&s, rnd, 64, host, SMTPKIT_SASL_CHALLENGE_MAX - 128 - 4),
              0);
    CHECK_INT(s._chal_len, SMTPKIT_SASL_CHALLENGE_MAX);
    /* too small an output for the challenge */
    smtpkit_sasl_server_init(&s, SRV_ALL);
    smtpkit_sasl_server_set_nonce(&s, rnd, 8, "h", 1);
    CHECK_INT(srv_start(&s, "CRAM-MD5", NULL), SMTPKIT_SASL_CHALLENGE);
    CHECK_INT(smtpkit_sasl_server_challenge(&s, host, 10), SMTPKIT_ERR_BUFFER_TOO_SMALL);
    smtpkit_sasl_server_finish(&s);
    CHECK_INT(srv_start(&s, "LOGIN", NULL), SMTPKIT_SASL_CHALLENGE);
    CHECK_INT(smtpkit_sasl_server_challenge(&s, host, 11), SMTPKIT_ERR_BUFFER_TOO_SMALL);
}

TEST(status_replies)
{
    static const struct {
        int status, code;
        const char *esc;
    } t[] = {
        {SMTPKIT_OK, 235, "2.7.0"},
        {SMTPKIT_ERR_AUTH, 535, "5.7.8"},
        {SMTPKIT_ERR_TLS_REQUIRED, 538, "5.7.11"},
        {SMTPKIT_SASL_CANCELLED, 501, "5.0.0"},
        {SMTPKIT_SASL_BAD_BASE64, 501, "5.5.2"},
        {SMTPKIT_SASL_MALFORMED, 501, "5.5.2"},
        {SMTPKIT_SASL_UNKNOWN_MECH, 504, "5.5.4"},
        {SMTPKIT_SASL_TOO_LONG, 500, "5.5.6"},
    };
    size_t i;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        int code = 0;
        const char *esc = NULL, *text = NULL;
        CHECK_INT(smtpkit_sasl_status_reply(t[i].status, &code, &esc, &text), 0);
        CHECK_INT(code, t[i].code);
        CHECK_STR(esc, t[i].esc);
        CHECK(text && text[0]);
    }
    CHECK_INT(smtpkit_sasl_status_reply(SMTPKIT_SASL_CHALLENGE, NULL, NULL, NULL),
              SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_status_reply(SMTPKIT_SASL_VERIFY, NULL, NULL, NULL),
              SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_sasl_status_reply(SMTPKIT_SASL_CANCELLED, NULL, NULL, NULL), 0);
}

/* Every built-in mechanism against our server, with user names and
 * passwords of many lengths and bytes: both sides agree. */
TEST(client_server_roundtrip)
{
    static const unsigned mechs[] = {SMTPKIT_AUTH_PLAIN, SMTPKIT_AUTH_LOGIN,
                                     SMTPKIT_AUTH_CRAM_MD5};
    char user[300], pw[300];
    size_t mi, ul, pl;
    for (mi = 0; mi < 3; mi++) {
        for (ul = 1; ul < 260; ul += 37) {
            for (pl = 1; pl < 260; pl += 41) {
                smtpkit_sasl_server s;
                client_fx f;
                smtpkit_sasl_creds cr;
                char chal[600];
                smtpkit_ssize n;
                int st;
                size_t i;
                unsigned char rnd[16];
                for (i = 0; i < ul; i++)
                    user[i] = (char)('a' + (i * 7 + pl) % 26);
                for (i = 0; i < pl; i++)
                    pw[i] = (char)(0x21 + (i * 13 + ul) % 200);
                for (i = 0; i < sizeof rnd; i++)
                    rnd[i] = (unsigned char)(i * ul + pl);
                cr = creds_of(NULL, NULL, NULL, NULL);
                cr.user.ptr = user, cr.user.len = ul;
                cr.password.ptr = pw, cr.password.len = pl;
                CHECK_INT(fx_init(&f, mechs[mi], cr), 0);
                smtpkit_sasl_server_init(&s, SRV_ALL);
                smtpkit_sasl_server_set_nonce(&s, rnd, sizeof rnd, "mx.example.org", 14);
                n = smtpkit_sasl_client_start(&f.c, f.out, sizeof f.out);
                CHECK(n > 0);
                {
                    /* "AUTH NAME[ IR]\r\n" */
                    const char *sp = memchr(f.out + 5, ' ', (size_t)n - 7);
                    size_t namelen = sp ? (size_t)(sp - f.out - 5) : (size_t)n - 7;
                    st = sp ? smtpkit_sasl_server_start(&s, f.out + 5, namelen, sp + 1,
                                                        (size_t)(f.out + n - 2 - sp - 1), 1)
                            : smtpkit_sasl_server_start(&s, f.out + 5, namelen, NULL, 0, 0);
                }
                while (st == SMTPKIT_SASL_CHALLENGE) {
                    smtpkit_ssize cl = smtpkit_sasl_server_challenge(&s, chal, sizeof chal);
                    n = smtpkit_sasl_client_step(&f.c, chal, (size_t)cl, f.out, sizeof f.out);
                    if (n < 2)
                        break;
                    st = smtpkit_sasl_server_step(&s, f.out, (size_t)n - 2);
                }
                CHECK_INT(st, SMTPKIT_SASL_VERIFY);
                if (st == SMTPKIT_SASL_VERIFY) {
                    CHECK(smtpkit_sasl_server_get_creds(&s)->user.len == ul);
                    CHECK_INT(smtpkit_sasl_server_verify_password(&s, pw, pl), 0);
                    pw[0] ^= 1;
                    CHECK_INT(smtpkit_sasl_server_verify_password(&s, pw, pl), SMTPKIT_ERR_AUTH);
                }
                smtpkit_sasl_server_finish(&s);
                smtpkit_sasl_client_finish(&f.c);
            }
        }
    }
}

int main(void)
{
    RUN(mechanism_names);
    RUN(select_best_mechanism);
    RUN(builtin_init_validates);
    RUN(client_plain_rfc4616);
    RUN(client_login);
    RUN(client_cram_md5_rfc2195);
    RUN(client_xoauth2);
    RUN(client_long_initial_response_is_deferred);
    RUN(client_buffer_too_small_everywhere);
    RUN(client_custom_mechanism);
    RUN(client_argument_and_state_errors);
    RUN(client_outcomes);
    RUN(server_plain_rfc4616);
    RUN(server_plain_malformed);
    RUN(server_login);
    RUN(server_cram_md5_rfc2195);
    RUN(server_cram_md5_with_nonce_and_client);
    RUN(server_cram_md5_malformed);
    RUN(server_cancel_base64_and_length);
    RUN(server_mechanism_choice_and_arguments);
    RUN(status_replies);
    RUN(client_server_roundtrip);
    return test_summary();
}
