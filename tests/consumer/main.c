/*
 * The program every consumer project in tests/consumer/ builds: it uses
 * smtpkit only through its installed (or vendored) public headers and library,
 * as an application would. It checks that the headers and the library it
 * linked agree on the version, and parses a multi-line server reply. When the
 * library has the mbedTLS adapter, it also runs mbedTLS code through it, which
 * only links if the package passed the mbedTLS libraries on.
 * Exit status 0 and "consumer ok" on success.
 */
#include <stdio.h>
#include <string.h>

#include <smtpkit/smtpkit.h>
#ifdef SMTPKIT_HAVE_MBEDTLS
#include <smtpkit/tls.h>
#endif

typedef struct seen {
    unsigned lines;
    int code;
    unsigned nlines;
    char esc[16];
} seen;

#ifdef SMTPKIT_HAVE_MBEDTLS
/* A client context with a CA file that does not exist: seeding the generator
 * and parsing certificates run inside mbedTLS, and must fail with a reason. */
static int check_tls(void)
{
    smtpkit_tls_config cfg;
    smtpkit_tls_context *ctx = NULL;
    char err[256] = "";
    int rc;

    smtpkit_tls_config_init(&cfg);
    cfg.ca_file = "/nonexistent/smtpkit-consumer-ca.pem";
    rc = smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_CLIENT, &cfg, NULL, err, sizeof err);
    if (rc != SMTPKIT_ERR_TLS || ctx != NULL || err[0] == '\0') {
        fprintf(stderr, "tls context: rc=%d (%s) err=%s\n", rc, smtpkit_strerror(rc), err);
        smtpkit_tls_context_free(ctx);
        return 1;
    }
    return 0;
}
#endif

static int on_line(void *user, const smtpkit_reply_line *line)
{
    seen *s = (seen *)user;
    s->lines++;
    if (line->last && line->esc.len < sizeof s->esc) {
        memcpy(s->esc, line->esc.ptr, line->esc.len);
        s->esc[line->esc.len] = '\0';
    }
    return 0;
}

static int on_reply(void *user, const smtpkit_reply *reply)
{
    seen *s = (seen *)user;
    s->code = reply->code;
    s->nlines = reply->nlines;
    return 0;
}

int main(void)
{
    static const char reply[] = "250-mx.example.org greets you\r\n"
                                "250-PIPELINING\r\n"
                                "250 2.0.0 OK\r\n";
    static const smtpkit_reply_callbacks cb = {on_line, on_reply};
    smtpkit_reply_parser parser; /* caller-allocated: no heap */
    seen s;
    smtpkit_ssize n;

    if (strcmp(smtpkit_version(), SMTPKIT_VERSION_STRING) != 0 ||
        smtpkit_version_number() != SMTPKIT_VERSION_NUMBER) {
        fprintf(stderr, "library %s does not match headers %s\n", smtpkit_version(),
                SMTPKIT_VERSION_STRING);
        return 1;
    }
    memset(&s, 0, sizeof s);
    smtpkit_reply_parser_init(&parser, &cb, &s);
    n = smtpkit_reply_parser_feed(&parser, reply, sizeof reply - 1);
    if (n != (smtpkit_ssize)(sizeof reply - 1)) {
        fprintf(stderr, "feed returned %ld: %s\n", (long)n, smtpkit_strerror((int)n));
        return 1;
    }
    if (s.lines != 3 || s.code != 250 || s.nlines != 3 || strcmp(s.esc, "2.0.0") != 0) {
        fprintf(stderr, "parsed lines=%u code=%d nlines=%u esc=%s\n", s.lines, s.code, s.nlines,
                s.esc);
        return 1;
    }
#ifdef SMTPKIT_HAVE_MBEDTLS
    if (check_tls() != 0)
        return 1;
#endif
    printf("consumer ok: smtpkit %s, reply %d %s in %u lines%s\n", smtpkit_version(), s.code,
           s.esc, s.nlines,
#ifdef SMTPKIT_HAVE_MBEDTLS
           ", mbedTLS adapter linked"
#else
           ""
#endif
    );
    return 0;
}
