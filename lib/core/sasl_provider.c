/* The built-in SASL server mechanisms plugged into the server session
 * (RFC 4954): challenges, the application's verdict, failure limits. */
#include "internal.h"
#include "md5.h"
#include "smtpkit/sasl_provider.h"

static const char default_host[] = "localhost";

void smtpkit_sasl_provider_config_init(smtpkit_sasl_provider_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
}

static smtpkit_sasl_provider *P(void *ctx) { return (smtpkit_sasl_provider *)ctx; }

/* A reply that ends the exchange unsuccessfully. RFC 4954 does not bound
 * retries; a session that keeps failing is guessing passwords, so after
 * max_failures it is closed with 421 (as Postfix's smtpd_hard_error_limit
 * and OpenSMTPD do). */
static int fail_with(smtpkit_sasl_provider *p, smtpkit_server *s, int code, const char *esc,
                     const char *text, int counts)
{
    smtpkit_server_decision d;
    smtpkit_sasl_server_finish(&p->_sasl);
    d.code = code;
    d.esc = esc;
    d.text = text;
    if (counts && ++p->_failures >= p->_cfg.max_failures) {
        d.code = 421;
        d.esc = "4.7.0";
        d.text = "Too many failed authentication attempts, closing connection";
    }
    (void)smtpkit_server_auth_result(s, 0, &d);
    return 0;
}

static int tempfail(smtpkit_sasl_provider *p, smtpkit_server *s)
{
    /* RFC 4954 6: 454 4.7.0 temporary authentication failure */
    return fail_with(p, s, 454, "4.7.0", "Temporary authentication failure", 0);
}

static int conclude(smtpkit_sasl_provider *p, smtpkit_server *s, smtpkit_sasl_verdict v)
{
    const smtpkit_sasl_server_creds *cr = smtpkit_sasl_server_get_creds(&p->_sasl);
    if (v == SMTPKIT_SASL_ACCEPT && cr) {
        p->_user_len = SMTPKIT_MIN(cr->user.len, sizeof p->_user - 1);
        memcpy(p->_user, cr->user.ptr, p->_user_len);
        p->_user[p->_user_len] = 0;
        smtpkit_sasl_server_finish(&p->_sasl);
        return smtpkit_server_auth_result(s, 1, NULL);
    }
    if (v == SMTPKIT_SASL_TEMPFAIL)
        return tempfail(p, s);
    /* RFC 4954 6: 535 5.7.8 authentication credentials invalid */
    return fail_with(p, s, 535, "5.7.8", "Authentication credentials invalid", 1);
}

static int handle(smtpkit_sasl_provider *p, smtpkit_server *s, int st)
{
    int code, r;
    const char *esc, *text;
    smtpkit_sasl_verdict v = SMTPKIT_SASL_REJECT;
    if (st == SMTPKIT_SASL_CHALLENGE) {
        char b64[SMTPKIT_REPLY_LINE_MAX];
        smtpkit_ssize n = smtpkit_sasl_server_challenge(&p->_sasl, b64, sizeof b64 - 6);
        if (n < 0 || smtpkit_server_auth_challenge(s, b64, (size_t)n) != 0)
            return tempfail(p, s);
        return 0;
    }
    if (st == SMTPKIT_SASL_VERIFY) {
        r = 0;
        if (p->_cfg.verify)
            r = p->_cfg.verify(p->_cfg.user, p, smtpkit_sasl_server_get_creds(&p->_sasl), &v);
        if (r == SMTPKIT_PAUSE) {
            p->_pending = 1;
            p->_session = s;
            return SMTPKIT_PAUSE;
        }
        if (r < 0) {
            smtpkit_sasl_server_finish(&p->_sasl);
            return r; /* the session aborts with 421 */
        }
        return conclude(p, s, v);
    }
    if (st > 0 && smtpkit_sasl_status_reply(st, &code, &esc, &text) == 0)
        return fail_with(p, s, code, esc, text, 1);
    return tempfail(p, s);
}

static int op_start(void *ctx, smtpkit_server *s, smtpkit_view mech, smtpkit_view initial,
                    int has_initial)
{
    smtpkit_sasl_provider *p = P(ctx);
    unsigned which = smtpkit_sasl_mech_from_name(mech.ptr, mech.len);
    p->_pending = 0;
    p->_session = NULL;
    if (which == SMTPKIT_AUTH_CRAM_MD5 && (p->_cfg.mechs & SMTPKIT_AUTH_CRAM_MD5)) {
        /* RFC 2195 2: a fresh, unpredictable challenge for every exchange */
        unsigned char rnd[16];
        int bad = p->_cfg.random(p->_cfg.user, rnd, sizeof rnd) != 0 ||
                  smtpkit_sasl_server_set_nonce(&p->_sasl, rnd, sizeof rnd, p->_cfg.hostname,
                                                strlen(p->_cfg.hostname)) != 0;
        smtpkit__wipe(rnd, sizeof rnd);
        if (bad)
            return tempfail(p, s);
    }
    return handle(p, s,
                  smtpkit_sasl_server_start(&p->_sasl, mech.ptr, mech.len, initial.ptr,
                                            initial.len, has_initial));
}

static int op_step(void *ctx, smtpkit_server *s, smtpkit_view line)
{
    smtpkit_sasl_provider *p = P(ctx);
    return handle(p, s, smtpkit_sasl_server_step(&p->_sasl, line.ptr, line.len));
}

static void op_cancel(void *ctx, smtpkit_server *s)
{
    smtpkit_sasl_provider *p = P(ctx);
    (void)s;
    p->_pending = 0;
    p->_session = NULL;
    smtpkit_sasl_server_finish(&p->_sasl);
}

int smtpkit_sasl_provider_init(smtpkit_sasl_provider *p, const smtpkit_sasl_provider_config *cfg)
{
    static const unsigned order[] = {SMTPKIT_AUTH_PLAIN, SMTPKIT_AUTH_LOGIN,
                                     SMTPKIT_AUTH_CRAM_MD5};
    static const unsigned char probe[16] = {0};
    size_t i, n = 0;
    if (!p || !cfg)
        return SMTPKIT_ERR_INVALID_ARG;
    memset(p, 0, sizeof *p);
    p->_cfg = *cfg;
    if (!p->_cfg.mechs)
        p->_cfg.mechs = SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_LOGIN |
                        (cfg->random ? (unsigned)SMTPKIT_AUTH_CRAM_MD5 : 0u);
    p->_cfg.mechs &= SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_LOGIN | SMTPKIT_AUTH_CRAM_MD5;
    if (!p->_cfg.hostname)
        p->_cfg.hostname = default_host;
    if (!p->_cfg.max_failures)
        p->_cfg.max_failures = SMTPKIT_SASL_PROVIDER_MAX_FAILURES;
    if (!p->_cfg.mechs || ((p->_cfg.mechs & SMTPKIT_AUTH_CRAM_MD5) && !p->_cfg.random))
        return SMTPKIT_ERR_INVALID_ARG;
    smtpkit_sasl_server_init(&p->_sasl, p->_cfg.mechs);
    /* the host name must fit a challenge: try one now */
    if ((p->_cfg.mechs & SMTPKIT_AUTH_CRAM_MD5) &&
        (strlen(p->_cfg.hostname) > 255 ||
         smtpkit_sasl_server_set_nonce(&p->_sasl, probe, sizeof probe, p->_cfg.hostname,
                                       strlen(p->_cfg.hostname)) != 0))
        return SMTPKIT_ERR_INVALID_ARG;
    smtpkit_sasl_server_finish(&p->_sasl);
    /* the EHLO keyword's parameters, in the order clients see them */
    for (i = 0; i < SMTPKIT_ARRAY_LEN(order); i++) {
        const char *name = smtpkit_sasl_mech_name(order[i]);
        size_t len = strlen(name);
        if (!(p->_cfg.mechs & order[i]))
            continue;
        if (n)
            p->_mechs[n++] = ' ';
        memcpy(p->_mechs + n, name, len);
        n += len;
    }
    p->_mechs[n] = 0;
    p->_ops.mechanisms = p->_mechs;
    p->_ops.start = op_start;
    p->_ops.step = op_step;
    p->_ops.cancel = op_cancel;
    return 0;
}

int smtpkit_sasl_provider_attach(smtpkit_sasl_provider *p, smtpkit_server *s)
{
    if (!p || !p->_ops.start)
        return SMTPKIT_ERR_INVALID_ARG;
    return smtpkit_server_set_auth(s, &p->_ops, p);
}

int smtpkit_sasl_provider_resume(smtpkit_sasl_provider *p, smtpkit_sasl_verdict verdict)
{
    smtpkit_server *s;
    if (!p)
        return SMTPKIT_ERR_INVALID_ARG;
    if (!p->_pending || !p->_session)
        return SMTPKIT_ERR_STATE;
    s = p->_session;
    p->_pending = 0;
    p->_session = NULL;
    return conclude(p, s, verdict);
}

int smtpkit_sasl_provider_check_password(const smtpkit_sasl_provider *p, const char *password,
                                         size_t len)
{
    if (!p)
        return SMTPKIT_ERR_INVALID_ARG;
    return smtpkit_sasl_server_verify_password(&p->_sasl, password, len);
}

smtpkit_view smtpkit_sasl_provider_user(const smtpkit_sasl_provider *p)
{
    smtpkit_view v;
    v.ptr = p ? p->_user : "";
    v.len = p ? p->_user_len : 0;
    return v;
}

unsigned smtpkit_sasl_provider_failures(const smtpkit_sasl_provider *p)
{
    return p ? p->_failures : 0;
}

void smtpkit_sasl_provider_finish(smtpkit_sasl_provider *p)
{
    if (!p)
        return;
    smtpkit_sasl_server_finish(&p->_sasl);
    p->_pending = 0;
    p->_session = NULL;
}
