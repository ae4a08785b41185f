/**
 * @file sasl_provider.h
 * @brief AUTH for the server session: the built-in SASL server mechanisms
 *        (PLAIN, LOGIN, CRAM-MD5; sasl.h) plugged into an #smtpkit_server
 *        through smtpkit_server_set_auth(), with a verification callback
 *        that may pause and a limit on failed attempts.
 *
 * @code
 *   static int verify(void *app, smtpkit_sasl_provider *p,
 *                     const smtpkit_sasl_server_creds *cr, smtpkit_sasl_verdict *v) {
 *       const char *pw = lookup(app, cr->user);           // the stored password
 *       *v = pw && smtpkit_sasl_provider_check_password(p, pw, strlen(pw)) == 0
 *                ? SMTPKIT_SASL_ACCEPT : SMTPKIT_SASL_REJECT;
 *       return 0;
 *   }
 *   ...
 *   smtpkit_sasl_provider_config pc;
 *   smtpkit_sasl_provider_config_init(&pc);
 *   pc.verify = verify;
 *   pc.user = app;
 *   smtpkit_sasl_provider_init(&session_state->auth, &pc);   // one per session
 *   smtpkit_sasl_provider_attach(&session_state->auth, server);
 * @endcode
 *
 * The session offers AUTH after EHLO once TLS is active (or always with
 * #SMTPKIT_SERVER_AUTH_PLAINTEXT); the provider answers:
 * - 334 challenges (LOGIN prompts, the CRAM-MD5 nonce, an empty one for
 *   PLAIN without an initial response);
 * - 235 2.7.0 when the callback accepts, 535 5.7.8 when it rejects,
 *   454 4.7.0 on a temporary failure;
 * - 501 5.0.0 when the client cancels with "*", 501 5.5.2 for bad base64 or
 *   a malformed response, 504 5.5.4 for a mechanism not offered,
 *   500 5.5.6 for a response that is too long (RFC 4954 4 and 6);
 * - after `max_failures` failed exchanges in a session, 421 4.7.0 and the
 *   session closes (slows down password guessing).
 * Credentials are wiped as soon as the exchange ends.
 */
#ifndef SMTPKIT_SASL_PROVIDER_H
#define SMTPKIT_SASL_PROVIDER_H

#include "smtpkit/common.h"
#include "smtpkit/sasl.h"
#include "smtpkit/server.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default smtpkit_sasl_provider_config::max_failures. */
#define SMTPKIT_SASL_PROVIDER_MAX_FAILURES 3

/** The application's answer about a set of credentials. */
typedef enum smtpkit_sasl_verdict {
    SMTPKIT_SASL_REJECT = 0, /**< 535 5.7.8: invalid credentials (counts as a failure) */
    SMTPKIT_SASL_ACCEPT,     /**< 235 2.7.0: authenticated */
    SMTPKIT_SASL_TEMPFAIL    /**< 454 4.7.0: cannot decide now (the user database is down) */
} smtpkit_sasl_verdict;

/** The provider of one session (defined below; caller-allocated). */
typedef struct smtpkit_sasl_provider smtpkit_sasl_provider;

/** Provider settings. Copied by smtpkit_sasl_provider_init(). */
typedef struct smtpkit_sasl_provider_config {
    /** Mechanisms offered: SMTPKIT_AUTH_PLAIN, _LOGIN, _CRAM_MD5 (others are
     *  ignored). Default PLAIN | LOGIN, plus CRAM-MD5 when `random` is set. */
    unsigned mechs;
    /** Host name in CRAM-MD5 challenges (default "localhost"); must stay valid. */
    const char *hostname;
    /** Fill `len` unpredictable bytes (e.g. getrandom()), for CRAM-MD5
     *  challenges. Return 0, or negative on failure (the client then gets
     *  454 4.7.0). Required for CRAM-MD5. */
    int (*random)(void *user, void *buf, size_t len);
    /**
     * Decide about the credentials `creds` (views valid until the verdict is
     * given). For CRAM-MD5 the password is not sent: look up the user's and
     * call smtpkit_sasl_provider_check_password(), which works for every
     * mechanism. `creds->authzid`, when not empty and different from the
     * user, asks to act as another identity: accept only if that is allowed.
     * Set `*verdict` and return 0; or return #SMTPKIT_PAUSE and answer later
     * with smtpkit_sasl_provider_resume(); or return negative to abort the
     * session. NULL: every attempt is rejected.
     */
    int (*verify)(void *user, smtpkit_sasl_provider *p, const smtpkit_sasl_server_creds *creds,
                  smtpkit_sasl_verdict *verdict);
    /** Failed exchanges before 421 4.7.0 ends the session; 0 = the default
     *  #SMTPKIT_SASL_PROVIDER_MAX_FAILURES. */
    unsigned max_failures;
    void *user; /**< passed to random and verify */
} smtpkit_sasl_provider_config;

/** The provider of one session. Caller-allocated; private fields. */
struct smtpkit_sasl_provider {
    smtpkit_server_auth_ops _ops;
    smtpkit_sasl_provider_config _cfg;
    smtpkit_sasl_server _sasl;
    smtpkit_server *_session;     /* while a verdict is pending */
    unsigned _failures;
    int _pending;
    size_t _user_len;
    char _mechs[32];
    char _user[256];              /* the authenticated identity */
};

/** Fill `cfg` with the defaults. */
SMTPKIT_API void smtpkit_sasl_provider_config_init(smtpkit_sasl_provider_config *cfg);

/**
 * Initialise a provider for one session.
 * @return 0, or SMTPKIT_ERR_INVALID_ARG (NULL arguments, no mechanism left,
 *         CRAM-MD5 asked without `random`, a host name that cannot go into a
 *         challenge).
 */
SMTPKIT_API int smtpkit_sasl_provider_init(smtpkit_sasl_provider *p,
                                           const smtpkit_sasl_provider_config *cfg);

/**
 * Plug the provider into session `s` (smtpkit_server_set_auth()). The
 * provider must outlive the session or be detached with
 * smtpkit_server_set_auth(s, NULL, NULL).
 * @return what smtpkit_server_set_auth() returns.
 */
SMTPKIT_API int smtpkit_sasl_provider_attach(smtpkit_sasl_provider *p, smtpkit_server *s);

/**
 * Give the verdict the verify callback paused on. The session's reply is
 * queued at once; then call smtpkit_server_feed() to go on with the input.
 * @return 0, SMTPKIT_ERR_STATE when no verdict is pending,
 *         SMTPKIT_ERR_INVALID_ARG.
 */
SMTPKIT_API int smtpkit_sasl_provider_resume(smtpkit_sasl_provider *p,
                                             smtpkit_sasl_verdict verdict);

/**
 * From the verify callback (or before resume): do the presented
 * credentials match the stored `password`? Constant-time; for CRAM-MD5 the
 * HMAC-MD5 of the challenge is compared (RFC 2195 2).
 * @return 0 on a match, SMTPKIT_ERR_AUTH otherwise, SMTPKIT_ERR_STATE when
 *         no credentials are waiting for a verdict.
 */
SMTPKIT_API int smtpkit_sasl_provider_check_password(const smtpkit_sasl_provider *p,
                                                     const char *password, size_t len);

/** The identity the client authenticated as (the authcid; empty before),
 *  valid as long as the provider. */
SMTPKIT_API smtpkit_view smtpkit_sasl_provider_user(const smtpkit_sasl_provider *p);

/** Failed exchanges so far in this session. */
SMTPKIT_API unsigned smtpkit_sasl_provider_failures(const smtpkit_sasl_provider *p);

/** Wipe what the provider holds (call when the session ends, after
 *  smtpkit_server_free()). */
SMTPKIT_API void smtpkit_sasl_provider_finish(smtpkit_sasl_provider *p);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_SASL_PROVIDER_H */
