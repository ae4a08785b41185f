/**
 * @file posix_client.h
 * @brief POSIX adapter, sending side: connect by host name, and
 *        smtpkit_send(), one call that connects, starts TLS, authenticates,
 *        sends one message and says QUIT.
 *
 * Built when SMTPKIT_WITH_POSIX is on (SMTPKIT_HAVE_POSIX is then defined).
 * TLS (STARTTLS and implicit TLS) needs the mbedTLS adapter
 * (SMTPKIT_HAVE_MBEDTLS); without it smtpkit_send() refuses those modes
 * with #SMTPKIT_ERR_NOT_SUPPORTED. File-backed bodies: posix_file.h. A
 * connected socket as an #smtpkit_io for smtpkit_client_run(): posix.h.
 */
#ifndef SMTPKIT_POSIX_CLIENT_H
#define SMTPKIT_POSIX_CLIENT_H

#include "smtpkit/client.h"
#include "smtpkit/common.h"
#include "smtpkit/io.h"
#include "smtpkit/source.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default connect timeout of smtpkit_send(), milliseconds. */
#define SMTPKIT_SEND_CONNECT_TIMEOUT_MS 30000u

/**
 * Connect a TCP socket to `host` (a name, an IPv4 address, or an IPv6
 * address with or without brackets) and `port`. Every address getaddrinfo()
 * returns (IPv6 and IPv4, in its order) is tried in turn, each for at most
 * `timeout_ms` (< 0: the system's own limit). The socket is returned
 * non-blocking, close-on-exec, with TCP_NODELAY (the client session
 * already writes in large pieces; Nagle would only delay the last one).
 * @param host       name or address ("mail.example.org", "192.0.2.1", "::1", "[::1]")
 * @param port       TCP port (1-65535)
 * @param timeout_ms limit for each address tried (< 0: the system's)
 * @param errbuf     when not NULL, receives a NUL-terminated reason on failure
 *                   ("example.org:25: Connection refused")
 * @param errlen     size of errbuf
 * @return the socket (>= 0); #SMTPKIT_ERR_INVALID_ARG (NULL or empty host,
 *         port 0); #SMTPKIT_ERR_CONNECT (name not resolved, or no address
 *         accepted the connection in time).
 */
SMTPKIT_API int smtpkit_posix_connect(const char *host, uint16_t port, int timeout_ms,
                                      char *errbuf, size_t errlen);

/** Version of #smtpkit_send_options. */
#define SMTPKIT_SEND_VERSION 1

/** Options of smtpkit_send(). Zero-initialise, then set host. */
typedef struct smtpkit_send_options {
    unsigned version;      /**< #SMTPKIT_SEND_VERSION (0 is taken as current) */
    const char *host;      /**< server name or address (required) */
    /** Port; 0 = 25, or 465 with #SMTPKIT_CLIENT_TLS_IMPLICIT (RFC 8314). */
    uint16_t port;
    /** TLS policy: NONE, STARTTLS_OPTIONAL (plain text when TLS is not
     *  built in), STARTTLS (required), IMPLICIT. */
    smtpkit_client_tls tls;
    const char *tls_ca_file;      /**< trusted CAs (PEM); NULL = the system's */
    const char *tls_ca_dir;       /**< trusted CAs, a directory; NULL = the system's */
    /** USE WITH CAUTION (tests only): accept any certificate and name. */
    int tls_insecure_skip_verify;
    /** AUTH user name; NULL = no AUTH. The best mechanism the server offers
     *  is chosen (client.h, auth_creds). */
    const char *user;
    const char *password;          /**< AUTH password */
    /** USE WITH CAUTION: allow AUTH without TLS (credentials in clear). */
    int auth_allow_plaintext;
    const char *helo_name;         /**< EHLO name; NULL = this host's name if it
                                        is a domain with a dot, else "localhost" */
    /** Connect timeout and upper bound of every RFC 5321 timeout, in ms;
     *  0 = #SMTPKIT_SEND_CONNECT_TIMEOUT_MS for the connect, RFC values. */
    uint32_t timeout_ms;
    unsigned flags;                /**< SMTPKIT_CLIENT_LMTP, _NO_PIPELINING, _BDAT */
    /** Optional callbacks, called in addition to smtpkit_send()'s own (for a
     *  conversation log, say); may be NULL. */
    const smtpkit_client_callbacks *callbacks;
    void *user_data;               /**< passed to `callbacks` */
    /** AUTH with this built-in mechanism ("PLAIN", "LOGIN", "CRAM-MD5", or
     *  "XOAUTH2" with `password` as the OAuth 2.0 bearer token) instead of the
     *  best one the server offers; when the server does not offer it the
     *  session ends with #SMTPKIT_ERR_NOT_SUPPORTED. NULL = choose. */
    const char *auth_mech;
} smtpkit_send_options;

/** Text kept of a reply in a result (longer texts are cut). */
#define SMTPKIT_SEND_TEXT_MAX 256

/** A reply as kept in a result. code 0 = no reply. */
typedef struct smtpkit_send_reply {
    int code;                         /**< the reply code, 0 when there was no reply */
    char esc[16];                     /**< enhanced status code, NUL-terminated, may be "" */
    char text[SMTPKIT_SEND_TEXT_MAX]; /**< NUL-terminated */
} smtpkit_send_reply;

/** Result of smtpkit_send(). */
typedef struct smtpkit_send_result {
    smtpkit_tx_status status;   /**< the transaction's outcome (FAILED when not sent) */
    int err;                    /**< the transaction's err (client.h), or the session's */
    smtpkit_client_cmd stage;   /**< the step that decided */
    smtpkit_send_reply reply;   /**< the deciding reply (code 0: none) */
    size_t naccepted;           /**< recipients the message was accepted for */
    size_t nrefused;            /**< the other recipients */
    /** Caller's array of env->nrcpts entries for per-recipient replies (the
     *  RCPT reply, or with LMTP the reply after the data), or NULL. */
    smtpkit_send_reply *rcpts;
    /** Why the connection or TLS failed, NUL-terminated ("" otherwise). */
    char errmsg[256];
} smtpkit_send_result;

/**
 * Send one message: connect, (STARTTLS or implicit TLS), EHLO, (AUTH),
 * MAIL, RCPT..., DATA, QUIT. The envelope is checked before connecting.
 * `body` is read as the message goes out (constant memory).
 * @param opt  server, TLS, AUTH and other options (required: host)
 * @param env  the envelope (copied; checked before connecting)
 * @param body the message; must stay valid during the call
 * @param res  when not NULL, filled with the outcome (set res->rcpts first).
 * @return 0 when the message was accepted for every recipient;
 *         #SMTPKIT_ERR_REJECTED when the server refused it for some or all
 *         (res tells which and with what reply; res->status PARTIAL or
 *         REJECTED); the errors of smtpkit_envelope_check();
 *         #SMTPKIT_ERR_TOO_BIG, #SMTPKIT_ERR_NEED_8BITMIME,
 *         #SMTPKIT_ERR_NEED_SMTPUTF8 (not sent); #SMTPKIT_ERR_CONNECT;
 *         #SMTPKIT_ERR_NOT_SUPPORTED (TLS not built in, AUTH not offered);
 *         or the session's fatal error (#SMTPKIT_ERR_GREETING,
 *         #SMTPKIT_ERR_CLOSED, #SMTPKIT_ERR_TIMEOUT, #SMTPKIT_ERR_TLS,
 *         #SMTPKIT_ERR_TLS_REQUIRED, #SMTPKIT_ERR_AUTH, ...).
 */
SMTPKIT_API int smtpkit_send(const smtpkit_send_options *opt, const smtpkit_envelope *env,
                             smtpkit_source *body, smtpkit_send_result *res);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_POSIX_CLIENT_H */
