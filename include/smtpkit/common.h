/**
 * @file common.h
 * @brief Types shared by every smtpkit module: errors, allocator hook, string
 *        views, the export macro and the library version.
 *
 * Everything here is freestanding C99 (plus <stddef.h>/<stdint.h>).
 */
#ifndef SMTPKIT_COMMON_H
#define SMTPKIT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "smtpkit/config.h"
#include "smtpkit/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @cond INTERNAL */
#if defined(SMTPKIT_STATIC)
#define SMTPKIT_API
#elif defined(_WIN32)
#ifdef SMTPKIT_BUILDING
#define SMTPKIT_API __declspec(dllexport)
#else
#define SMTPKIT_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define SMTPKIT_API __attribute__((visibility("default")))
#else
#define SMTPKIT_API
#endif
/** @endcond */

/** Signed size used for "bytes consumed or negative error" results. */
typedef ptrdiff_t smtpkit_ssize;

/**
 * Value a callback returns to stop the object that called it until the
 * application calls the object's `*_resume` function. The `*_feed` call
 * that ran the callback returns how many bytes it consumed up to and
 * including the line (or chunk) that paused.
 */
#define SMTPKIT_PAUSE 1

/**
 * Error codes. All are negative; 0 means success. Codes at or below
 * #SMTPKIT_ERR_FATAL are fatal for a session: only `*_free` may follow.
 */
typedef enum smtpkit_err {
    SMTPKIT_OK = 0,                   /**< success */
    /* ---- recoverable ---- */
    SMTPKIT_ERR_INVALID_ARG = -1,     /**< an argument is NULL, out of range or malformed */
    SMTPKIT_ERR_PAUSED = -2,          /**< the object is paused; call `*_resume` first */
    SMTPKIT_ERR_WOULDBLOCK = -3,      /**< no data yet (sources) / output buffer full */
    SMTPKIT_ERR_STATE = -4,           /**< call not allowed in the current state */
    SMTPKIT_ERR_BUFFER_TOO_SMALL = -5,/**< caller's output buffer is too small */
    SMTPKIT_ERR_INJECTION = -6,       /**< CR, LF or NUL (or '>' in a path) in a string for the wire */
    SMTPKIT_ERR_BAD_ADDRESS = -7,     /**< address does not match the RFC 5321 path grammar */
    SMTPKIT_ERR_BAD_HEADER = -8,      /**< header name or value is not valid RFC 5322 */
    SMTPKIT_ERR_TOO_BIG = -9,         /**< message exceeds the server's announced SIZE */
    SMTPKIT_ERR_NEED_8BITMIME = -10,  /**< 8-bit body but the server does not offer 8BITMIME */
    SMTPKIT_ERR_NEED_SMTPUTF8 = -11,  /**< UTF-8 address but the server does not offer SMTPUTF8 */
    SMTPKIT_ERR_NOT_SUPPORTED = -12,  /**< feature not offered by the peer or not built in */
    SMTPKIT_ERR_REJECTED = -13,       /**< the peer refused (see the reply for details) */

    /* parser errors (sticky until the parser is re-initialised) */
    SMTPKIT_ERR_LINE_TOO_LONG = -20,  /**< a line exceeds the configured maximum */
    SMTPKIT_ERR_NUL = -21,            /**< a NUL byte in a line */
    SMTPKIT_ERR_NON_ASCII = -22,      /**< an 8-bit byte where only ASCII is allowed */
    SMTPKIT_ERR_BARE_LF = -23,        /**< a bare CR or LF where CRLF is required */
    SMTPKIT_ERR_REPLY_CODE = -24,     /**< reply line does not start with a valid 3-digit code */
    SMTPKIT_ERR_REPLY_CONTINUATION = -25, /**< multi-line reply changed code or separator is wrong */
    SMTPKIT_ERR_CMD_UNKNOWN = -26,    /**< unknown command verb (500 5.5.1) */
    SMTPKIT_ERR_CMD_SYNTAX = -27,     /**< syntax error in command arguments (501 5.5.4) */
    SMTPKIT_ERR_CMD_PATH = -28,       /**< malformed mailbox/path (501 5.1.3 / 553 5.1.3) */
    SMTPKIT_ERR_CMD_PARAM = -29,      /**< malformed or unknown ESMTP parameter (555 5.5.4) */
    SMTPKIT_ERR_CMD_TOO_MANY_PARAMS = -30, /**< more ESMTP parameters than allowed (555 5.5.4) */
    SMTPKIT_ERR_BASE64 = -31,         /**< invalid base64 input */
    SMTPKIT_ERR_SYNTAX = -32,         /**< generic syntax error */

    /* ---- fatal for a session ---- */
    SMTPKIT_ERR_FATAL = -100,         /**< threshold: codes <= this are fatal */
    SMTPKIT_ERR_NOMEM = -101,         /**< allocation failed */
    SMTPKIT_ERR_CALLBACK = -102,      /**< a callback returned a negative value */
    SMTPKIT_ERR_PROTOCOL = -103,      /**< the peer violated the protocol beyond recovery */
    SMTPKIT_ERR_CLOSED = -104,        /**< the connection was closed (or 421 received) */
    SMTPKIT_ERR_TIMEOUT = -105,       /**< an RFC 5321 4.5.3.2 timeout expired */
    SMTPKIT_ERR_IO = -106,            /**< transport read/write failed */
    SMTPKIT_ERR_TLS = -107,           /**< TLS handshake or record error */
    SMTPKIT_ERR_AUTH = -108,          /**< authentication failed */
    SMTPKIT_ERR_TLS_REQUIRED = -109,  /**< TLS required by policy but not available */
    SMTPKIT_ERR_CONNECT = -110,       /**< could not connect or resolve */
    SMTPKIT_ERR_GREETING = -111,      /**< server refused the session in its greeting */
    SMTPKIT_ERR_INTERNAL = -199       /**< bug: should never happen */
} smtpkit_err;

/** Human-readable, static, NUL-terminated text for an error code. Never NULL. */
SMTPKIT_API const char *smtpkit_strerror(int code);

/** Non-zero when `code` is fatal for a session (only `*_free` may follow). */
SMTPKIT_API int smtpkit_is_fatal(int code);

/**
 * A string view: `len` bytes at `ptr`, not NUL-terminated. Views passed to
 * callbacks are valid only for the duration of the callback.
 */
typedef struct smtpkit_view {
    const char *ptr; /**< first byte; may be NULL when `len` is 0 */
    size_t len;      /**< number of bytes at `ptr` */
} smtpkit_view;

/**
 * Allocator hook, per object. Any member may be NULL to use libc. `user` is
 * passed back to each function. `free` and `realloc` may receive NULL
 * pointers and must handle them as libc does.
 */
typedef struct smtpkit_mem {
    /** Allocate `size` bytes (never called with 0); NULL on failure. */
    void *(*malloc)(size_t size, void *user);
    /** Resize a block from `malloc`/`realloc` (`ptr` may be NULL); NULL on
     *  failure, leaving the old block valid. When this is NULL but `malloc`
     *  or `free` is set, resizing fails rather than mix allocators. */
    void *(*realloc)(void *ptr, size_t size, void *user);
    /** Release a block from `malloc`/`realloc` (`ptr` may be NULL). */
    void (*free)(void *ptr, void *user);
    void *user; /**< passed as the last argument of each function */
} smtpkit_mem;

/** The library version as "MAJOR.MINOR.PATCH" (static string). */
SMTPKIT_API const char *smtpkit_version(void);

/** The library version as 0xMMmmpp. */
SMTPKIT_API unsigned long smtpkit_version_number(void);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_COMMON_H */
