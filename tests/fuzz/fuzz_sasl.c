/* Fuzz the SASL layer from both ends. The first byte picks the offered
 * mechanisms and which client mechanism to run; the rest is split at '\n'
 * into lines. Server: line 1 is "MECH[ initial-response]", later lines are
 * responses to 334. Client: each line is a 334 challenge text. Session
 * (0x40 without 0x80): the rest is fed whole to a server session with the
 * SASL provider attached and TLS on. Invariants are checked with abort(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/sasl.h"
#include "smtpkit/sasl_provider.h"

static int fz_random(void *u, void *buf, size_t len)
{
    (void)u;
    memset(buf, 0x5a, len);
    return 0;
}

static int fz_verify(void *u, smtpkit_sasl_provider *p, const smtpkit_sasl_server_creds *cr,
                     smtpkit_sasl_verdict *v)
{
    unsigned opts = *(const unsigned *)u;
    if (!cr || cr->user.len == 0)
        abort();
    *v = smtpkit_sasl_provider_check_password(p, "pw", 2) == 0 ? SMTPKIT_SASL_ACCEPT
         : (opts & 1u)                                         ? SMTPKIT_SASL_TEMPFAIL
                                                               : SMTPKIT_SASL_REJECT;
    return (opts & 2u) ? SMTPKIT_PAUSE : 0;
}

static void run_session(unsigned opts, const char *p, const char *end)
{
    smtpkit_server_config cfg;
    smtpkit_sasl_provider_config pc;
    smtpkit_sasl_provider prov;
    smtpkit_server *s;
    const char *out;
    size_t left = (size_t)(end - p);
    int rounds = 0;
    smtpkit_server_config_init(&cfg);
    cfg.flags = (opts & 4u) ? SMTPKIT_SERVER_REQUIRE_AUTH : 0u;
    s = smtpkit_server_new(&cfg, NULL, NULL, NULL);
    if (!s)
        return;
    smtpkit_sasl_provider_config_init(&pc);
    pc.random = fz_random;
    pc.verify = fz_verify;
    pc.user = &opts;
    if (smtpkit_sasl_provider_init(&prov, &pc) != 0 || smtpkit_sasl_provider_attach(&prov, s) != 0)
        abort();
    smtpkit_server_tls_started(s);
    smtpkit_server_start(s, 0);
    while (rounds++ < 10000) {
        smtpkit_ssize r;
        size_t n;
        while ((n = smtpkit_server_output(s, &out)) > 0)
            smtpkit_server_output_done(s, n);
        if (smtpkit_server_paused(s)) {
            if (smtpkit_sasl_provider_resume(&prov, (opts & 8u) ? SMTPKIT_SASL_ACCEPT
                                                                : SMTPKIT_SASL_REJECT) != 0)
                abort();
            continue;
        }
        if (smtpkit_server_want(s) & SMTPKIT_SERVER_WANT_CLOSE)
            break;
        r = smtpkit_server_feed(s, p, left);
        if (r < 0 || (r == 0 && left == 0))
            break;
        p += r;
        left -= (size_t)r;
    }
    smtpkit_server_free(s);
    smtpkit_sasl_provider_finish(&prov);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *next_line(const char **p, const char *end, size_t *len)
{
    const char *s = *p, *nl;
    if (s >= end)
        return NULL;
    nl = (const char *)memchr(s, '\n', (size_t)(end - s));
    *len = (size_t)((nl ? nl : end) - s);
    *p = nl ? nl + 1 : end;
    return s;
}

static void run_server(unsigned opts, const char *p, const char *end)
{
    smtpkit_sasl_server s;
    static const unsigned char rnd[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const char *line, *sp;
    size_t len;
    int st;
    char chal[1024];
    smtpkit_sasl_server_init(&s, opts & 7u);
    if (opts & 8u)
        smtpkit_sasl_server_set_nonce(&s, rnd, sizeof rnd, "fuzz.example", 12);
    line = next_line(&p, end, &len);
    if (!line)
        return;
    sp = (const char *)memchr(line, ' ', len);
    if (sp)
        st = smtpkit_sasl_server_start(&s, line, (size_t)(sp - line), sp + 1,
                                       len - (size_t)(sp + 1 - line), 1);
    else
        st = smtpkit_sasl_server_start(&s, line, len, NULL, 0, 0);
    while (st == SMTPKIT_SASL_CHALLENGE) {
        if (smtpkit_sasl_server_challenge(&s, chal, sizeof chal) < 0)
            abort();
        line = next_line(&p, end, &len);
        if (!line)
            break;
        st = smtpkit_sasl_server_step(&s, line, len);
    }
    if (st == SMTPKIT_SASL_VERIFY) {
        const smtpkit_sasl_server_creds *c = smtpkit_sasl_server_get_creds(&s);
        if (!c || c->user.len == 0)
            abort();
        if (smtpkit_sasl_server_verify_password(&s, "pw", 2) == SMTPKIT_ERR_STATE)
            abort();
    } else if (st > 0 && st != SMTPKIT_SASL_CHALLENGE) {
        int code = 0;
        if (smtpkit_sasl_status_reply(st, &code, NULL, NULL) != 0 || code < 500)
            abort();
        if (smtpkit_sasl_server_get_creds(&s) != NULL)
            abort();
    }
    smtpkit_sasl_server_finish(&s);
}

static void run_client(unsigned opts, const char *p, const char *end)
{
    static const unsigned mechs[4] = {SMTPKIT_AUTH_PLAIN, SMTPKIT_AUTH_LOGIN,
                                      SMTPKIT_AUTH_CRAM_MD5, SMTPKIT_AUTH_XOAUTH2};
    smtpkit_sasl_creds cr;
    smtpkit_sasl_mech m;
    smtpkit_sasl_builtin b;
    smtpkit_sasl_client c;
    char out[700];
    const char *line;
    size_t len, cap = (opts & 0x40u) ? 60 : sizeof out;
    smtpkit_ssize n;
    memset(&cr, 0, sizeof cr);
    cr.user.ptr = "user@example.com";
    cr.user.len = 16;
    cr.password.ptr = "password";
    cr.password.len = 8;
    cr.token.ptr = "tok";
    cr.token.len = 3;
    if (smtpkit_sasl_builtin_init(&m, &b, mechs[(opts >> 4) & 3u], &cr) != 0)
        abort();
    smtpkit_sasl_client_init(&c, &m);
    n = smtpkit_sasl_client_start(&c, out, cap);
    if (n < 0) {
        /* only the short buffer may refuse to hold the AUTH line */
        if (n != SMTPKIT_ERR_BUFFER_TOO_SMALL || cap == sizeof out)
            abort();
        smtpkit_sasl_client_finish(&c);
        return;
    }
    if ((size_t)n > cap)
        abort();
    while ((line = next_line(&p, end, &len)) != NULL) {
        n = smtpkit_sasl_client_step(&c, line, len, out, cap);
        if (n < 0) {
            if (smtpkit_sasl_client_cancel(&c, out, cap) != 3)
                abort();
            break;
        }
        if ((size_t)n > cap || n < 2 || out[n - 2] != '\r' || out[n - 1] != '\n')
            abort();
    }
    smtpkit_sasl_client_finish(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned opts;
    const char *p, *end;
    if (size < 1)
        return 0;
    opts = data[0];
    p = (const char *)data + 1;
    end = (const char *)data + size;
    if (opts & 0x80u)
        run_client(opts, p, end);
    else if (opts & 0x40u)
        run_session(opts, p, end);
    else
        run_server(opts, p, end);
    return 0;
}
