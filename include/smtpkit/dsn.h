/**
 * @file dsn.h
 * @brief Delivery status notification parameters (RFC 3461), shared by the
 *        client (client.h) and the server (server.h).
 */
#ifndef SMTPKIT_DSN_H
#define SMTPKIT_DSN_H

#ifdef __cplusplus
extern "C" {
#endif

/** RET= values (RFC 3461 4.3). */
typedef enum smtpkit_dsn_ret {
    SMTPKIT_DSN_RET_NONE = 0,       /**< no RET parameter */
    SMTPKIT_DSN_RET_FULL,           /**< RET=FULL: return the whole message */
    SMTPKIT_DSN_RET_HDRS            /**< RET=HDRS: return the headers only */
} smtpkit_dsn_ret;

/** NOTIFY= flags (RFC 3461 4.1); 0 = no NOTIFY parameter. */
enum {
    SMTPKIT_DSN_NOTIFY_NEVER = 1u << 0, /**< NOTIFY=NEVER (only alone) */
    SMTPKIT_DSN_NOTIFY_SUCCESS = 1u << 1, /**< NOTIFY=SUCCESS */
    SMTPKIT_DSN_NOTIFY_FAILURE = 1u << 2, /**< NOTIFY=FAILURE */
    SMTPKIT_DSN_NOTIFY_DELAY = 1u << 3 /**< NOTIFY=DELAY */
};

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_DSN_H */
