/**
 * @file io.h
 * @brief Caller-supplied transport: a few function pointers and a context.
 *
 * `smtpkit_client_run()` (client.h) and `smtpkit_server_run()` (server.h)
 * drive a session over an `smtpkit_io` in blocking style. This is how smtpkit
 * runs over lwIP, an RTOS socket, a TLS stack of your own, or a test double.
 * The POSIX adapter (posix.h) and the mbedTLS adapter (mbedtls.h) fill one in.
 */
#ifndef SMTPKIT_IO_H
#define SMTPKIT_IO_H

#include "smtpkit/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A blocking transport. Only `read` and `write` are required. */
typedef struct smtpkit_io {
    /**
     * Read up to `len` bytes, waiting at most `timeout_ms` (-1 = no limit).
     * @return bytes read (> 0), 0 when the peer closed, SMTPKIT_ERR_TIMEOUT,
     *         or another negative error (SMTPKIT_ERR_IO, SMTPKIT_ERR_TLS).
     */
    smtpkit_ssize (*read)(void *ctx, char *buf, size_t len, int timeout_ms);
    /**
     * Write up to `len` bytes, waiting at most `timeout_ms` (-1 = no limit).
     * @return bytes written (> 0), SMTPKIT_ERR_TIMEOUT or another negative error.
     */
    smtpkit_ssize (*write)(void *ctx, const char *buf, size_t len, int timeout_ms);
    /**
     * Optional: start TLS on this transport now (STARTTLS, RFC 3207).
     * `is_server` says which side to play. Afterwards read/write carry TLS.
     * @return 0 or a negative error (SMTPKIT_ERR_TLS). NULL = TLS unavailable.
     */
    int (*starttls)(void *ctx, int is_server);
    /** Optional: close the transport. */
    void (*close)(void *ctx);
    /** Optional: a monotonic clock in milliseconds, for session timeouts.
     *  When NULL, only the read/write timeouts apply. */
    uint64_t (*now_ms)(void *ctx);
    void *ctx; /**< passed to every function */
} smtpkit_io;

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_IO_H */
