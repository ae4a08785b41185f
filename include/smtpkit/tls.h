/**
 * @file tls.h
 * @brief TLS over any #smtpkit_io with mbedTLS (built with
 *        `-DSMTPKIT_WITH_MBEDTLS=ON`; defines SMTPKIT_HAVE_MBEDTLS), for
 *        both sides: STARTTLS (RFC 3207) and implicit TLS (RFC 8314).
 *
 * A #smtpkit_tls_context holds what every connection of one role shares
 * (certificates, keys, trusted CAs, the random generator); create it once.
 * A #smtpkit_tls_conn wraps one transport: its smtpkit_tls_conn_io() is an
 * #smtpkit_io that passes bytes through in clear until TLS starts, either
 * from the io's `starttls` hook (which the session runners call after the
 * 220 to STARTTLS) or from smtpkit_tls_conn_handshake() (implicit TLS, on
 * a fresh connection). The handshake happens in place, reading exactly the
 * TLS records it needs from the inner transport, so nothing sent in clear
 * before it can be mistaken for protected data.
 *
 * @code
 *   smtpkit_tls_config tc;
 *   smtpkit_tls_context *tls;
 *   smtpkit_tls_conn *conn;
 *   smtpkit_tls_config_init(&tc);               // verify against /etc/ssl/certs
 *   smtpkit_tls_context_new(&tls, SMTPKIT_TLS_CLIENT, &tc, NULL, err, sizeof err);
 *   smtpkit_tls_conn_new(&conn, tls, &tcp_io, "mail.example.org");
 *   smtpkit_client_run(client, smtpkit_tls_conn_io(conn));  // STARTTLS when asked
 * @endcode
 *
 * Defaults are safe: TLS 1.2 or newer, the server's certificate verified
 * against the trusted CAs and its name against the host name (which is also
 * sent as SNI). A context or connection is used by one thread at a time.
 */
#ifndef SMTPKIT_TLS_H
#define SMTPKIT_TLS_H

#include "smtpkit/common.h"
#include "smtpkit/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Trusted CAs when the config names none (a directory of PEM files). */
#ifndef SMTPKIT_TLS_DEFAULT_CA_DIR
#define SMTPKIT_TLS_DEFAULT_CA_DIR "/etc/ssl/certs"
#endif

/** Default limit on one TLS handshake, milliseconds. */
#define SMTPKIT_TLS_HANDSHAKE_TIMEOUT_DEFAULT_MS 60000u

/** Value of smtpkit_tls_config::version for this header. */
#define SMTPKIT_TLS_CONFIG_VERSION 1

/** Which side of the handshake a context plays. */
typedef enum smtpkit_tls_role {
    SMTPKIT_TLS_CLIENT = 0, /**< the client side: verifies the server's certificate and name */
    SMTPKIT_TLS_SERVER = 1          /**< the server side: presents a certificate */
} smtpkit_tls_role;

/** Server: whether to ask clients for a certificate. */
typedef enum smtpkit_tls_client_cert {
    SMTPKIT_TLS_CLIENT_CERT_NONE = 0, /**< do not ask (the default) */
    SMTPKIT_TLS_CLIENT_CERT_OPTIONAL, /**< ask; go on without one or with an
                                           unverified one (see smtpkit_tls_conn_peer()) */
    SMTPKIT_TLS_CLIENT_CERT_REQUIRED  /**< ask; fail the handshake without a valid one */
} smtpkit_tls_client_cert;

/**
 * TLS settings. Fill with smtpkit_tls_config_init(), then set what you
 * need. Paths are read by smtpkit_tls_context_new(); the struct need not
 * outlive that call.
 */
typedef struct smtpkit_tls_config {
    unsigned version;        /**< #SMTPKIT_TLS_CONFIG_VERSION (0 is taken as current) */
    /** Trusted CA certificates, one PEM (or DER) file. */
    const char *ca_file;
    /** Trusted CA certificates, a directory of files. When neither ca_file
     *  nor ca_dir is set: #SMTPKIT_TLS_DEFAULT_CA_DIR. */
    const char *ca_dir;
    /** PEM certificate chain, ours first: required for a server; for a
     *  client, an optional client certificate. */
    const char *cert_file;
    /** PEM private key of cert_file. */
    const char *key_file;
    /** Password of an encrypted key_file; NULL for none. */
    const char *key_password;
    /**
     * USE WITH CAUTION (tests only): a client accepts any server certificate
     * and name, which lets anyone on the path read and change the session.
     * A server with client certificates accepts invalid ones.
     */
    int insecure_skip_verify;
    /** Server: ask for client certificates (verified against the CAs). */
    smtpkit_tls_client_cert client_cert;
    /** Limit on one handshake in ms; 0 = #SMTPKIT_TLS_HANDSHAKE_TIMEOUT_DEFAULT_MS. */
    uint32_t handshake_timeout_ms;
} smtpkit_tls_config;

/** Fill `cfg` with the defaults: everything empty, verification on. */
SMTPKIT_API void smtpkit_tls_config_init(smtpkit_tls_config *cfg);

/** Shared TLS state of one role (opaque). */
typedef struct smtpkit_tls_context smtpkit_tls_context;

/** One TLS connection over an #smtpkit_io (opaque). */
typedef struct smtpkit_tls_conn smtpkit_tls_conn;

/**
 * Create a context: seed the random generator, load the CAs, the
 * certificate and the key, fix TLS 1.2 as the minimum.
 * @param[out] out     the context, NULL on error
 * @param role         client or server
 * @param cfg          settings (NULL: defaults; a server then fails)
 * @param mem          allocator for smtpkit's own structures (NULL = libc;
 *                     copied). mbedTLS allocates through its own hook.
 * @param errbuf       when not NULL, receives a NUL-terminated reason on
 *                     error ("cannot load key /x.pem: ...")
 * @param errlen       size of errbuf
 * @return 0; SMTPKIT_ERR_INVALID_ARG (NULL out, bad role or version, a
 *         server without cert_file/key_file, a key that does not match the
 *         certificate), SMTPKIT_ERR_TLS (a file cannot be read or parsed,
 *         no CA could be loaded, the generator cannot be seeded),
 *         SMTPKIT_ERR_NOMEM.
 */
SMTPKIT_API int smtpkit_tls_context_new(smtpkit_tls_context **out, smtpkit_tls_role role,
                                        const smtpkit_tls_config *cfg, const smtpkit_mem *mem,
                                        char *errbuf, size_t errlen);

/** Free a context (NULL allowed). Every connection made from it must be freed first. */
SMTPKIT_API void smtpkit_tls_context_free(smtpkit_tls_context *ctx);

/**
 * Make a connection over `inner` (copied; its ctx must stay valid). TLS is
 * not started: the connection's io passes bytes through until its
 * `starttls` hook or smtpkit_tls_conn_handshake() runs.
 * @param[out] out     the connection, NULL on error
 * @param ctx          the context (must outlive the connection)
 * @param inner        the transport underneath
 * @param server_name  client: the host name to verify the certificate
 *                     against and send as SNI (copied); required unless
 *                     insecure_skip_verify. Ignored by servers.
 * @return 0; SMTPKIT_ERR_INVALID_ARG (NULL arguments, inner without read
 *         or write, a client without server_name while verifying, a name
 *         with bytes outside printable ASCII), SMTPKIT_ERR_NOMEM,
 *         SMTPKIT_ERR_TLS.
 */
SMTPKIT_API int smtpkit_tls_conn_new(smtpkit_tls_conn **out, smtpkit_tls_context *ctx,
                                     const smtpkit_io *inner, const char *server_name);

/**
 * The connection as an #smtpkit_io, valid until smtpkit_tls_conn_free():
 * - read/write: in clear before TLS, through TLS after (a peer's
 *   close_notify reads as 0, end of stream);
 * - starttls(ctx, is_server): the handshake, in place; `is_server` must
 *   match the context's role; SMTPKIT_ERR_STATE when TLS is already on;
 * - close: sends close_notify when TLS is on, then closes the inner io;
 * - now_ms: the inner io's clock (NULL when it has none).
 * Errors: SMTPKIT_ERR_TIMEOUT and SMTPKIT_ERR_IO from the transport,
 * SMTPKIT_ERR_TLS for a failed handshake or a bad record (see
 * smtpkit_tls_conn_error()).
 */
SMTPKIT_API const smtpkit_io *smtpkit_tls_conn_io(smtpkit_tls_conn *c);

/**
 * Start TLS now: implicit TLS (RFC 8314) on a fresh connection, or the
 * STARTTLS handshake when you drive a session yourself.
 * @return 0, SMTPKIT_ERR_STATE (already on or failed before), SMTPKIT_ERR_TLS
 *         (handshake failed, including certificate verification),
 *         SMTPKIT_ERR_TIMEOUT, SMTPKIT_ERR_IO, SMTPKIT_ERR_CLOSED (the peer
 *         closed during the handshake).
 */
SMTPKIT_API int smtpkit_tls_conn_handshake(smtpkit_tls_conn *c);

/** Non-zero once the handshake succeeded. */
SMTPKIT_API int smtpkit_tls_conn_active(const smtpkit_tls_conn *c);

/**
 * Bytes already received and decrypted that the next read returns without
 * touching the transport. A loop that waits for socket readiness must read
 * again while this is non-zero: the socket will not signal them. (A read
 * always hands over as much as fits, so with a buffer of 16 KiB or more,
 * the largest TLS record, nothing is ever left.)
 */
SMTPKIT_API size_t smtpkit_tls_conn_pending(const smtpkit_tls_conn *c);

/** Why the last TLS operation failed, e.g. "certificate verification failed:
 *  the certificate has expired"; "" when nothing failed. Valid until the
 *  next call on the connection. */
SMTPKIT_API const char *smtpkit_tls_conn_error(const smtpkit_tls_conn *c);

/** The negotiated protocol ("TLSv1.3") and cipher suite names, static
 *  strings; NULL before the handshake. Either pointer may be NULL. */
SMTPKIT_API int smtpkit_tls_conn_info(const smtpkit_tls_conn *c, const char **version,
                                      const char **cipher);

/**
 * The peer's certificate: writes its subject ("CN=client, O=...") into
 * `buf` (NUL-terminated, cut to fit) when `buf` is not NULL.
 * @return 1 when the peer presented a certificate that verified, 0 when
 *         it presented none, SMTPKIT_ERR_AUTH when it presented one that did
 *         not verify (only with OPTIONAL or insecure settings), or
 *         SMTPKIT_ERR_STATE before the handshake.
 */
SMTPKIT_API int smtpkit_tls_conn_peer(const smtpkit_tls_conn *c, char *buf, size_t len);

/** Free a connection (NULL allowed). Does not close the inner io. */
SMTPKIT_API void smtpkit_tls_conn_free(smtpkit_tls_conn *c);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_TLS_H */
