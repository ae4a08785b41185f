/**
 * @file sasl.h
 * @brief SMTP AUTH (RFC 4954) and its SASL mechanisms, both sides: PLAIN
 *        (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195) and XOAUTH2.
 *
 * Client side: a mechanism is a small struct of function pointers
 * (#smtpkit_sasl_mech), so an application can plug in SCRAM or OAUTHBEARER;
 * smtpkit_sasl_builtin_init() fills one in for the built-in mechanisms and
 * smtpkit_sasl_select() picks the best one the server offers. An
 * #smtpkit_sasl_client turns a mechanism into AUTH command lines and 334
 * responses (base64, RFC 4954 4).
 *
 * Server side: an #smtpkit_sasl_server decodes AUTH and the client's
 * responses, produces the 334 challenges and hands the credentials out for
 * the application to verify; smtpkit_sasl_status_reply() gives the reply for
 * every outcome.
 *
 * Everything here is pure and bounded: no allocation, fixed buffers inside
 * caller-allocated structs, and every buffer that held a credential is wiped
 * before it is given back (`*_finish`).
 */
#ifndef SMTPKIT_SASL_H
#define SMTPKIT_SASL_H

#include "smtpkit/common.h"
#include "smtpkit/reply.h" /* SMTPKIT_AUTH_* mechanism flags */

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Largest decoded challenge or response the client handles, in octets
 * (XOAUTH2 bearer tokens are the long ones). Override through
 * `SMTPKIT_CONFIG_FILE`. Each #smtpkit_sasl_client holds this many bytes.
 */
#ifndef SMTPKIT_SASL_MAX
#define SMTPKIT_SASL_MAX 2048
#endif

/**
 * Largest decoded client response the server accepts, in octets. RFC 4616 2
 * asks servers to take identities and passwords of up to 255 octets each:
 * 3 * 255 + 2 separators fits. Each #smtpkit_sasl_server holds this many bytes.
 */
#ifndef SMTPKIT_SASL_SERVER_MAX
#define SMTPKIT_SASL_SERVER_MAX 768
#endif

/** Longest CRAM-MD5 challenge (RFC 2195 2: a msg-id "<...@host>"). */
#define SMTPKIT_SASL_CHALLENGE_MAX 320

/* ------------------------------------------------------------------------ */
/* Mechanism names                                                            */

/** "PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2" for one SMTPKIT_AUTH_* flag; NULL otherwise. */
SMTPKIT_API const char *smtpkit_sasl_mech_name(unsigned mech);

/** The SMTPKIT_AUTH_* flag for a mechanism name (case-insensitive), 0 when not built in. */
SMTPKIT_API unsigned smtpkit_sasl_mech_from_name(const char *name, size_t len);

/* ------------------------------------------------------------------------ */
/* Client side                                                                */

/**
 * Credentials for the built-in client mechanisms. The views are not copied:
 * the bytes must stay valid, unchanged, until the exchange is finished.
 */
typedef struct smtpkit_sasl_creds {
    smtpkit_view authzid;  /**< PLAIN only: identity to act as; empty = the user itself */
    smtpkit_view user;     /**< authentication identity (required) */
    smtpkit_view password; /**< PLAIN, LOGIN, CRAM-MD5 */
    smtpkit_view token;    /**< XOAUTH2: an OAuth 2.0 bearer (access) token */
} smtpkit_sasl_creds;

/** Mechanism flags (#smtpkit_sasl_mech::flags). */
enum {
    /** Anyone who reads the channel learns the secret (PLAIN, LOGIN, XOAUTH2):
     *  use only under TLS. */
    SMTPKIT_SASL_MECH_PLAINTEXT = 1u << 0
};

/** Value #smtpkit_sasl_mech::start returns when it wrote an initial response. */
#define SMTPKIT_SASL_INITIAL 1

/**
 * A client SASL mechanism (RFC 4422): the pluggable part. Fill one in for
 * your own mechanism (SCRAM, OAUTHBEARER); all data are raw (decoded) bytes,
 * the exchange layer does the base64.
 */
typedef struct smtpkit_sasl_mech {
    /** Registered name: 1 to 20 of A-Z, 0-9, '-', '_' (RFC 4422 3.1). */
    const char *name;
    /** SMTPKIT_SASL_MECH_* */
    unsigned flags;
    /**
     * Begin. Write the initial response, if the mechanism has one, into
     * `out` (room for `cap` bytes) and set `*outlen`.
     * @return 0 when there is no initial response (the server speaks first),
     *         #SMTPKIT_SASL_INITIAL when `out` holds one (possibly empty), or a
     *         negative error (e.g. SMTPKIT_ERR_BUFFER_TOO_SMALL) to give up.
     */
    int (*start)(void *ctx, unsigned char *out, size_t cap, size_t *outlen);
    /**
     * Answer one server challenge (`challenge`, `len` decoded bytes) with a
     * response in `out`. @return 0, or a negative error to cancel the
     * exchange (the client then sends "*").
     */
    int (*step)(void *ctx, const unsigned char *challenge, size_t len, unsigned char *out,
                size_t cap, size_t *outlen);
    /** Optional: the exchange is over (any outcome); wipe secrets. */
    void (*finish)(void *ctx);
    void *ctx; /**< passed to each function */
} smtpkit_sasl_mech;

/** State of a built-in mechanism. Caller-allocated; private fields. */
typedef struct smtpkit_sasl_builtin {
    smtpkit_sasl_creds _creds;
    unsigned _which;
    unsigned _step;
} smtpkit_sasl_builtin;

/**
 * Make `mech` the built-in mechanism `which` (one SMTPKIT_AUTH_* flag) with
 * `state` as its context. `creds` is copied into `state` (the views, not the
 * bytes they point to). `state` must outlive `mech`.
 * @return 0; SMTPKIT_ERR_NOT_SUPPORTED when `which` is not exactly one
 *         built-in mechanism; SMTPKIT_ERR_INVALID_ARG when a credential the
 *         mechanism needs is missing (user; password, or token for XOAUTH2)
 *         or holds a byte the mechanism cannot carry (NUL for PLAIN and
 *         CRAM-MD5, 0x01 for XOAUTH2, a space in a CRAM-MD5 user).
 */
SMTPKIT_API int smtpkit_sasl_builtin_init(smtpkit_sasl_mech *mech, smtpkit_sasl_builtin *state,
                                          unsigned which, const smtpkit_sasl_creds *creds);

/** smtpkit_sasl_select() flags. */
enum {
    /** The channel is encrypted (TLS is up). */
    SMTPKIT_SASL_SELECT_TLS = 1u << 0,
    /** USE WITH CAUTION: authenticate without TLS, exposing the user name
     *  (and, with PLAIN or LOGIN, the password) to anyone on the path. */
    SMTPKIT_SASL_SELECT_ALLOW_PLAINTEXT = 1u << 1
};

/**
 * The best built-in mechanism among `offered` (SMTPKIT_AUTH_* from the EHLO
 * reply) for `creds`: XOAUTH2 when a token is given and offered, otherwise
 * CRAM-MD5, then PLAIN, then LOGIN when a password is given. Without
 * SMTPKIT_SASL_SELECT_TLS nothing is chosen unless
 * SMTPKIT_SASL_SELECT_ALLOW_PLAINTEXT is set: credentials never go out in clear
 * by default.
 * @return one SMTPKIT_AUTH_* flag, or 0 when none fits.
 */
SMTPKIT_API unsigned smtpkit_sasl_select(unsigned offered, const smtpkit_sasl_creds *creds,
                                         unsigned flags);

/** Exchange state. Caller-allocated (it holds #SMTPKIT_SASL_MAX bytes); private fields. */
typedef struct smtpkit_sasl_client {
    const smtpkit_sasl_mech *_mech;
    int _state;
    unsigned _steps;
    int _deferred;  /* initial response held back: the AUTH line would be too long */
    size_t _rawlen;
    unsigned char _raw[SMTPKIT_SASL_MAX + 3];
} smtpkit_sasl_client;

/** Initialise for `mech` (which must outlive the exchange). Cannot fail. */
SMTPKIT_API void smtpkit_sasl_client_init(smtpkit_sasl_client *c, const smtpkit_sasl_mech *mech);

/**
 * Write the AUTH command, CRLF included, into `out`: "AUTH <name>", then the
 * base64 initial response ("=" when empty) when the mechanism has one and the
 * line stays within #SMTPKIT_COMMAND_LINE_MAX octets (RFC 4954 4: otherwise
 * it is sent after an empty 334 challenge).
 * @return bytes written; SMTPKIT_ERR_INVALID_ARG (bad mechanism name or NULL
 *         arguments), SMTPKIT_ERR_STATE (already started),
 *         SMTPKIT_ERR_BUFFER_TOO_SMALL, or the mechanism's own error.
 */
SMTPKIT_API smtpkit_ssize smtpkit_sasl_client_start(smtpkit_sasl_client *c, char *out,
                                                    size_t cap);

/**
 * Answer a 334 reply. `challenge` is the reply text (base64; trailing
 * spaces are ignored). Writes the base64 response line with its CRLF
 * (an empty response is a bare CRLF).
 * @return bytes written; SMTPKIT_ERR_BASE64 (invalid challenge),
 *         SMTPKIT_ERR_PROTOCOL (more challenges than the mechanism expects),
 *         SMTPKIT_ERR_BUFFER_TOO_SMALL, SMTPKIT_ERR_STATE (not started), or
 *         the mechanism's error. After an error send smtpkit_sasl_client_cancel().
 */
SMTPKIT_API smtpkit_ssize smtpkit_sasl_client_step(smtpkit_sasl_client *c, const char *challenge,
                                                   size_t len, char *out, size_t cap);

/**
 * Write "*" CRLF, which cancels the exchange (RFC 4954 4: the server then
 * answers 501). @return 3 or SMTPKIT_ERR_BUFFER_TOO_SMALL.
 */
SMTPKIT_API smtpkit_ssize smtpkit_sasl_client_cancel(smtpkit_sasl_client *c, char *out,
                                                     size_t cap);

/** End the exchange: wipe the buffer and call the mechanism's finish. Idempotent. */
SMTPKIT_API void smtpkit_sasl_client_finish(smtpkit_sasl_client *c);

/**
 * What a final reply to AUTH means for the client: 0 for 235, and otherwise
 * SMTPKIT_ERR_TLS_REQUIRED for 538 (encryption required for the mechanism),
 * SMTPKIT_ERR_AUTH for 535 and 534 (bad credentials, mechanism too weak),
 * SMTPKIT_ERR_NOT_SUPPORTED for 502 and 504, SMTPKIT_ERR_CLOSED for 421 and
 * SMTPKIT_ERR_REJECTED for any other code.
 */
SMTPKIT_API int smtpkit_sasl_client_outcome(int code);

/* ------------------------------------------------------------------------ */
/* Server side                                                                */

/** Outcomes of smtpkit_sasl_server_start() and smtpkit_sasl_server_step(). */
typedef enum smtpkit_sasl_status {
    /** Send "334 " and smtpkit_sasl_server_challenge(), then feed the next
     *  line to smtpkit_sasl_server_step(). */
    SMTPKIT_SASL_CHALLENGE = 1,
    /** The credentials are complete: verify them (smtpkit_sasl_server_get_creds(),
     *  smtpkit_sasl_server_verify_password()) and answer 235 or 535. */
    SMTPKIT_SASL_VERIFY,
    /** The client sent "*" (RFC 4954 4): 501 5.0.0. */
    SMTPKIT_SASL_CANCELLED,
    /** The client's data is not valid base64: 501 5.5.2. */
    SMTPKIT_SASL_BAD_BASE64,
    /** Decoded, but not what the mechanism expects (e.g. PLAIN without its
     *  two NULs, an initial response to CRAM-MD5): 501 5.5.2. */
    SMTPKIT_SASL_MALFORMED,
    /** Mechanism unknown or not offered: 504 5.5.4. */
    SMTPKIT_SASL_UNKNOWN_MECH,
    /** The response exceeds #SMTPKIT_SASL_SERVER_MAX: 500 5.5.6. */
    SMTPKIT_SASL_TOO_LONG
} smtpkit_sasl_status;

/**
 * The reply for an outcome (static strings): CANCELLED 501 5.0.0,
 * BAD_BASE64 and MALFORMED 501 5.5.2, UNKNOWN_MECH 504 5.5.4, TOO_LONG
 * 500 5.5.6; and, for the application's verdicts, SMTPKIT_OK 235 2.7.0 and
 * SMTPKIT_ERR_AUTH 535 5.7.8.
 * @return 0, or SMTPKIT_ERR_INVALID_ARG for CHALLENGE, VERIFY or other values.
 */
SMTPKIT_API int smtpkit_sasl_status_reply(int status, int *code, const char **esc,
                                          const char **text);

/** Credentials a client presented (views into the #smtpkit_sasl_server). */
typedef struct smtpkit_sasl_server_creds {
    unsigned mech;          /**< SMTPKIT_AUTH_* */
    smtpkit_view authzid;   /**< PLAIN: authorization identity, may be empty (= user) */
    smtpkit_view user;      /**< authentication identity */
    /** PLAIN and LOGIN: the password. CRAM-MD5: empty, the client proved it
     *  knows the password: check with smtpkit_sasl_server_verify_password(). */
    smtpkit_view password;
} smtpkit_sasl_server_creds;

/** Server exchange state. Caller-allocated; private fields. */
typedef struct smtpkit_sasl_server {
    unsigned _allowed;
    unsigned _mech;
    int _state;
    unsigned _step;
    size_t _chal_len;
    smtpkit_sasl_server_creds _creds;
    unsigned char _digest[16];
    char _chal[SMTPKIT_SASL_CHALLENGE_MAX];
    unsigned char _buf[SMTPKIT_SASL_SERVER_MAX + 3];
} smtpkit_sasl_server;

/** Initialise, offering `mechs` (SMTPKIT_AUTH_PLAIN | _LOGIN | _CRAM_MD5). Cannot fail. */
SMTPKIT_API void smtpkit_sasl_server_init(smtpkit_sasl_server *s, unsigned mechs);

/**
 * Set the CRAM-MD5 challenge (RFC 2195 2) from `n` unpredictable bytes the
 * caller supplies (the core has no randomness) and the server's host name:
 * "<hex.hex@host>". Needed before a CRAM-MD5 exchange; use fresh bytes for
 * each exchange.
 * @return 0, or SMTPKIT_ERR_INVALID_ARG when n < 8 or n > 64, or the host is
 *         empty, too long, or holds a byte outside printable ASCII or one of
 *         "<>@".
 */
SMTPKIT_API int smtpkit_sasl_server_set_nonce(smtpkit_sasl_server *s, const void *random,
                                              size_t n, const char *host, size_t hlen);

/**
 * Begin an exchange from a parsed AUTH command: the mechanism name and the
 * initial response when present (`has_ir`; "=" is the empty response).
 * @return a #smtpkit_sasl_status; or SMTPKIT_ERR_INVALID_ARG (NULL
 *         arguments), SMTPKIT_ERR_STATE (an exchange is running, or CRAM-MD5
 *         without a nonce).
 */
SMTPKIT_API int smtpkit_sasl_server_start(smtpkit_sasl_server *s, const char *mech,
                                          size_t mech_len, const char *ir, size_t ir_len,
                                          int has_ir);

/**
 * Feed the client's response line (without CRLF) after a 334.
 * @return a #smtpkit_sasl_status; or SMTPKIT_ERR_STATE when no challenge is
 *         outstanding.
 */
SMTPKIT_API int smtpkit_sasl_server_step(smtpkit_sasl_server *s, const char *line, size_t len);

/**
 * Write the base64 text of the outstanding challenge (what follows "334 ";
 * may be empty) into `out`. @return bytes written, SMTPKIT_ERR_STATE when
 * no challenge is outstanding, or SMTPKIT_ERR_BUFFER_TOO_SMALL.
 */
SMTPKIT_API smtpkit_ssize smtpkit_sasl_server_challenge(const smtpkit_sasl_server *s, char *out,
                                                        size_t cap);

/** The credentials after #SMTPKIT_SASL_VERIFY (NULL otherwise). Valid until
 *  smtpkit_sasl_server_finish() or the next start. */
SMTPKIT_API const smtpkit_sasl_server_creds *smtpkit_sasl_server_get_creds(
    const smtpkit_sasl_server *s);

/**
 * Check the presented credentials against the user's stored password, in
 * time independent of where they differ: equality for PLAIN and LOGIN, the
 * HMAC-MD5 digest of the challenge for CRAM-MD5 (RFC 2195 2).
 * @return 0 on a match, SMTPKIT_ERR_AUTH otherwise, SMTPKIT_ERR_STATE when
 *         not after #SMTPKIT_SASL_VERIFY.
 */
SMTPKIT_API int smtpkit_sasl_server_verify_password(const smtpkit_sasl_server *s,
                                                    const char *password, size_t len);

/** End the exchange: wipe every credential byte; ready for a new start. */
SMTPKIT_API void smtpkit_sasl_server_finish(smtpkit_sasl_server *s);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_SASL_H */
