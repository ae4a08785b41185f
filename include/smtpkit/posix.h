/**
 * @file posix.h
 * @brief POSIX adapter, receiving side: listening sockets, an event loop that
 *        serves many server sessions from one thread, and a blocking socket
 *        #smtpkit_io for smtpkit_server_run().
 *
 * Built with `SMTPKIT_WITH_POSIX` (the default; defines SMTPKIT_HAVE_POSIX).
 * Sending-side helpers live in posix_client.h.
 *
 * Two ways to serve connections:
 *
 * 1. The event loop (#smtpkit_loop): non-blocking sockets, epoll on Linux
 *    (poll elsewhere, or on request), no thread per connection, timeouts
 *    from each session's deadline in a timer heap. It accepts connections,
 *    asks you for a session for each (on_accept), moves the bytes, and
 *    tells you when a connection ends (on_close).
 *
 * @code
 *   static smtpkit_server *accept_cb(void *u, smtpkit_loop_conn *c, unsigned listener) {
 *       struct my_session *m = calloc(1, sizeof *m);
 *       m->conn = c;
 *       return smtpkit_server_new(&server_cfg, &callbacks, m, NULL);
 *   }
 *   static void close_cb(void *u, smtpkit_loop_conn *c, void *session_user, int reason) {
 *       free(session_user);
 *   }
 *   ...
 *   smtpkit_loop_config lc;
 *   smtpkit_loop_config_init(&lc);
 *   lc.on_accept = accept_cb;
 *   lc.on_close = close_cb;
 *   loop = smtpkit_loop_new(&lc, NULL);
 *   fd = smtpkit_posix_listen("[::]:25", 128, bound, sizeof bound);
 *   smtpkit_loop_add_listener(loop, fd);
 *   smtpkit_loop_run(loop);             // until smtpkit_loop_stop() (e.g. from SIGTERM)
 *   smtpkit_loop_free(loop);
 * @endcode
 *
 * 2. Your own threads or loop: accept a socket yourself, wrap it with
 *    smtpkit_posix_socket_io_init() and call smtpkit_server_run() (server.h),
 *    which blocks until the session ends.
 */
#ifndef SMTPKIT_POSIX_H
#define SMTPKIT_POSIX_H

#include "smtpkit/common.h"
#include "smtpkit/io.h"
#include "smtpkit/server.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Listening                                                                 */

/**
 * Open a listening TCP socket (non-blocking, close-on-exec, SO_REUSEADDR;
 * IPv6 sockets are IPv6-only, so "[::]:25" and "0.0.0.0:25" can coexist).
 * @param addr     "ADDR:PORT": "127.0.0.1:25", "[::1]:2525", "[::]:25",
 *                 "*:25" (all IPv4 addresses) or "localhost:25" (a name is
 *                 resolved; the first address is used). Port 0 picks a
 *                 free port.
 * @param backlog  listen() backlog (<= 0: 128)
 * @param bound    when not NULL, receives the address actually bound as
 *                 "ADDR:PORT" ("[::1]:34567" for IPv6), NUL-terminated
 * @param boundlen size of `bound` (64 bytes are always enough)
 * @return the socket (>= 0), or SMTPKIT_ERR_INVALID_ARG (malformed addr),
 *         SMTPKIT_ERR_CONNECT (name not resolved), SMTPKIT_ERR_IO (socket,
 *         bind or listen failed: errno tells why).
 */
SMTPKIT_API int smtpkit_posix_listen(const char *addr, int backlog, char *bound,
                                     size_t boundlen);

/* ------------------------------------------------------------------------ */
/* A blocking socket as an smtpkit_io                                        */

/** State of smtpkit_posix_socket_io_init(); place it anywhere. */
typedef struct smtpkit_posix_socket {
    int fd; /**< the connected socket (set by smtpkit_posix_socket_io_init()) */
} smtpkit_posix_socket;

/**
 * Fill `io` to read and write the connected socket `fd` (blocking or not:
 * waits use poll(), so the timeouts hold either way). `close` closes the
 * socket; `now_ms` is CLOCK_MONOTONIC; `starttls` is NULL (wrap the io
 * with the TLS adapter for that). `sock` must outlive `io`.
 */
SMTPKIT_API void smtpkit_posix_socket_io_init(smtpkit_io *io, smtpkit_posix_socket *sock,
                                              int fd);

/** CLOCK_MONOTONIC in milliseconds: the time base for smtpkit_*_tick(). */
SMTPKIT_API uint64_t smtpkit_posix_monotonic_ms(void);

/**
 * Fill the facts of a Received: header for a session on socket `fd`
 * (smtpkit_server_callbacks::on_trace): the local date and time (RFC 5322),
 * the client's address literal from getpeername() ("192.0.2.1",
 * "IPv6:2001:db8::1"), and `id` as given (may be NULL). The strings are
 * written into `buf`, which must stay valid until on_trace returns.
 * @return 0, or SMTPKIT_ERR_BUFFER_TOO_SMALL (buf under 128 bytes).
 */
SMTPKIT_API int smtpkit_posix_trace(smtpkit_server_trace *t, int fd, const char *id, char *buf,
                                    size_t len);

/**
 * The peer of socket `fd` as "ADDR:PORT" ("[::1]:4321" for IPv6), for logs.
 * @return 0, or SMTPKIT_ERR_IO (getpeername failed; buf gets "unknown").
 */
SMTPKIT_API int smtpkit_posix_peer_name(int fd, char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* The event loop                                                            */

/** An event loop serving server sessions (opaque). */
typedef struct smtpkit_loop smtpkit_loop;

/** One connection of the loop (opaque). Valid from on_accept to on_close. */
typedef struct smtpkit_loop_conn smtpkit_loop_conn;

/** Value of smtpkit_loop_config::version for this header. */
#define SMTPKIT_LOOP_CONFIG_VERSION 1

/** smtpkit_loop_config::flags */
enum {
    /** Use poll() even where epoll exists (for tests and odd systems). */
    SMTPKIT_LOOP_USE_POLL = 1u << 0
};

/** Loop configuration (copied by smtpkit_loop_new()). */
typedef struct smtpkit_loop_config {
    unsigned version;        /**< #SMTPKIT_LOOP_CONFIG_VERSION */
    unsigned flags;          /**< SMTPKIT_LOOP_* */
    /** Open sessions at most; a connection beyond gets "421 4.7.0 <hostname>
     *  Too many connections" and is closed (default 1000). */
    unsigned max_sessions;
    /** The host name in that 421 (default "localhost"; must outlive the loop). */
    const char *hostname;
    /** Size of the one read buffer all connections share (default 64 KiB). */
    size_t read_buffer;
    /** Seconds sessions get to finish after smtpkit_loop_stop() before they
     *  are cut (default 5). */
    unsigned stop_grace_s;
    /**
     * A connection was accepted on listener number `listener` (in the order
     * of smtpkit_loop_add_listener()). Return a new session for it (the
     * loop owns it from now on, starts it and frees it), or NULL to refuse:
     * the connection is closed at once and on_close is not called.
     * Required.
     */
    smtpkit_server *(*on_accept)(void *user, smtpkit_loop_conn *conn, unsigned listener);
    /**
     * The connection ended and its session was freed (which may have called
     * on_abort first): free what belongs to it. `session_user` is the
     * pointer given to smtpkit_loop_conn_set_user() (NULL if none); `reason`
     * is smtpkit_server_close_reason(), or SMTPKIT_ERR_IO when the socket
     * failed. May be NULL.
     */
    void (*on_close)(void *user, smtpkit_loop_conn *conn, void *session_user, int reason);
    /**
     * The session asks for TLS (STARTTLS was answered with 220). Start it:
     * install a TLS transport with smtpkit_loop_conn_set_io() after the
     * handshake and return 0; or return negative to close the connection.
     * NULL: connections asking for TLS are closed (do not offer STARTTLS).
     */
    int (*on_starttls)(void *user, smtpkit_loop_conn *conn);
    void *user;              /**< passed to the callbacks above */
} smtpkit_loop_config;

/** Fill `cfg` with the defaults. */
SMTPKIT_API void smtpkit_loop_config_init(smtpkit_loop_config *cfg);

/**
 * Create a loop. `mem` (NULL: libc) is copied and used for the loop's own
 * allocations (per connection: one small struct; a stash only while a
 * session holds back input).
 * @return the loop, or NULL (bad config, no memory, epoll/pipe failed).
 */
SMTPKIT_API smtpkit_loop *smtpkit_loop_new(const smtpkit_loop_config *cfg, const smtpkit_mem *mem);

/**
 * Serve a listening socket (from smtpkit_posix_listen() or your own; made
 * non-blocking). The loop owns it from now on and closes it.
 * @return the listener number (0, 1, ...), or SMTPKIT_ERR_INVALID_ARG,
 *         SMTPKIT_ERR_NOMEM, SMTPKIT_ERR_IO.
 */
SMTPKIT_API int smtpkit_loop_add_listener(smtpkit_loop *loop, int fd);

/**
 * Run until smtpkit_loop_stop(): accept, move bytes, apply timeouts. Once
 * stopped: listeners are closed, every session is ended with 421
 * (smtpkit_server_shutdown()), and run returns when all are closed or the
 * grace time is over.
 * @return 0, or SMTPKIT_ERR_IO when waiting for events failed.
 */
SMTPKIT_API int smtpkit_loop_run(smtpkit_loop *loop);

/**
 * One round: wait up to `timeout_ms` (-1: until something happens) and
 * handle what happened. For embedding the loop in a larger one.
 * @return 1 while running, 0 once stopped and all sessions are gone, or
 *         SMTPKIT_ERR_IO.
 */
SMTPKIT_API int smtpkit_loop_run_once(smtpkit_loop *loop, int timeout_ms);

/** Ask the loop to stop. Async-signal-safe: may be called from a signal
 *  handler or another thread. */
SMTPKIT_API void smtpkit_loop_stop(smtpkit_loop *loop);

/** Free the loop, closing every connection (sessions are freed, on_close
 *  is called) and listener. NULL allowed. */
SMTPKIT_API void smtpkit_loop_free(smtpkit_loop *loop);

/** Open sessions. */
SMTPKIT_API unsigned smtpkit_loop_sessions(const smtpkit_loop *loop);

/** The session of a connection (NULL inside on_accept). */
SMTPKIT_API smtpkit_server *smtpkit_loop_conn_session(const smtpkit_loop_conn *conn);

/** The connection's socket. */
SMTPKIT_API int smtpkit_loop_conn_fd(const smtpkit_loop_conn *conn);

/** Set / get the pointer handed back to on_close (e.g. your session's user). */
SMTPKIT_API void smtpkit_loop_conn_set_user(smtpkit_loop_conn *conn, void *user);
/** See smtpkit_loop_conn_set_user(). */
SMTPKIT_API void *smtpkit_loop_conn_user(const smtpkit_loop_conn *conn);

/**
 * Answer a paused decision of this connection's session (see
 * smtpkit_server_resume()) and let the loop go on with it. Call it from
 * the loop's thread (e.g. from the completion of your own asynchronous
 * work hooked into the same thread).
 * @return what smtpkit_server_resume() returns.
 */
SMTPKIT_API int smtpkit_loop_conn_resume(smtpkit_loop_conn *conn,
                                         const smtpkit_server_decision *d);

/**
 * Fill the Received: facts for this connection (smtpkit_posix_trace() with
 * a unique id per message: the loop's start time, process id and a
 * counter). The strings live in the loop until the next call.
 * @return 0.
 */
SMTPKIT_API int smtpkit_loop_conn_trace(smtpkit_loop_conn *conn, smtpkit_server_trace *t);

/**
 * Replace the transport of a connection (e.g. by TLS after STARTTLS, or
 * for implicit TLS from on_accept). The loop calls `io->read` and
 * `io->write` with a timeout of 0 when the socket is ready and expects
 * them not to block: they return SMTPKIT_ERR_TIMEOUT (or
 * SMTPKIT_ERR_WOULDBLOCK) when no progress is possible yet. `io` is
 * copied; its ctx must stay valid until on_close. `io->close`, when set,
 * is called just before the loop closes the socket itself, for a last word
 * such as TLS's close_notify; it must not close the socket.
 * @return 0 or SMTPKIT_ERR_INVALID_ARG.
 */
SMTPKIT_API int smtpkit_loop_conn_set_io(smtpkit_loop_conn *conn, const smtpkit_io *io);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_POSIX_H */
