/**
 * @file client.h
 * @brief The SMTP/LMTP client session (sans-I/O), and smtpkit_client_run()
 *        which drives one over a caller-supplied #smtpkit_io.
 *
 * A session speaks one connection: greeting, EHLO (HELO fallback; LHLO for
 * LMTP), optional STARTTLS hand-off, an AUTH step, any number of mail
 * transactions, QUIT. It does no I/O: the caller feeds it the server's bytes
 * (smtpkit_client_feed()), writes what smtpkit_client_output() returns, and
 * gives it the time (smtpkit_client_tick()).
 *
 * Typical loop (smtpkit_client_run() is exactly this over an #smtpkit_io):
 * @code
 *   c = smtpkit_client_new(&cfg, &cb, app, NULL);
 *   smtpkit_client_queue(c, &env, &body, NULL);
 *   smtpkit_client_quit(c);
 *   while (!(smtpkit_client_want(c) & SMTPKIT_CLIENT_DONE)) {
 *       n = smtpkit_client_output(c, &p);   write n bytes, smtpkit_client_output_done(c, w);
 *       read r bytes; smtpkit_client_feed(c, buf, r) (or smtpkit_client_closed(c));
 *       smtpkit_client_tick(c, now_ms());
 *   }
 *   smtpkit_client_free(c);
 * @endcode
 *
 * Memory: everything is allocated by smtpkit_client_new() (output buffer,
 * staging buffer, transaction ring, envelope store). The envelope store grows
 * only when an envelope larger than any before is queued (up to
 * smtpkit_client_config::queue_bytes_max); sending any number of messages of
 * the same shape allocates nothing.
 */
#ifndef SMTPKIT_CLIENT_H
#define SMTPKIT_CLIENT_H

#include "smtpkit/common.h"
#include "smtpkit/io.h"
#include "smtpkit/reply.h"
#include "smtpkit/dsn.h"
#include "smtpkit/source.h"

#ifdef __cplusplus
extern "C" {
#endif

struct smtpkit_sasl_mech;  /* sasl.h: a client SASL mechanism */
struct smtpkit_sasl_creds; /* sasl.h: credentials for the built-in mechanisms */

/** Version of #smtpkit_client_config and #smtpkit_client_callbacks (the
 *  `version` fields): structs may grow at the end in later versions. */
#define SMTPKIT_CLIENT_VERSION 1

/** An opaque client session. */
typedef struct smtpkit_client smtpkit_client;

/** TLS policy of a session (RFC 3207, RFC 8314). */
typedef enum smtpkit_client_tls {
    /** Plain text; STARTTLS is never sent. */
    SMTPKIT_CLIENT_TLS_NONE = 0,
    /** STARTTLS when the server offers it, otherwise go on in clear
     *  (opportunistic: protects only against passive eavesdroppers). */
    SMTPKIT_CLIENT_TLS_STARTTLS_OPTIONAL,
    /** STARTTLS required: when it is not offered or refused the session sends
     *  QUIT and ends with #SMTPKIT_ERR_TLS_REQUIRED before any envelope. */
    SMTPKIT_CLIENT_TLS_STARTTLS,
    /** The transport is TLS from the first byte (RFC 8314, port 465). */
    SMTPKIT_CLIENT_TLS_IMPLICIT
} smtpkit_client_tls;

/** smtpkit_client_config::flags */
enum {
    /** LMTP (RFC 2033): LHLO, and one reply per accepted recipient after
     *  the data. */
    SMTPKIT_CLIENT_LMTP = 1u << 0,
    /** Lock-step even when the server offers PIPELINING. */
    SMTPKIT_CLIENT_NO_PIPELINING = 1u << 1,
    /** Send bodies with BDAT (RFC 3030) when the server offers CHUNKING. */
    SMTPKIT_CLIENT_BDAT = 1u << 2
};

/** Session configuration. Zero-initialise (or smtpkit_client_config_init())
 *  and set what you need; every 0 means "the default". Copied by
 *  smtpkit_client_new() (the strings too). */
typedef struct smtpkit_client_config {
    unsigned version;          /**< #SMTPKIT_CLIENT_VERSION (0 is taken as current) */
    /** Our name for EHLO/HELO/LHLO: a domain or an address literal such as
     *  "[192.0.2.1]" (RFC 5321 4.1.1.1). NUL-terminated; NULL = "localhost". */
    const char *helo_name;
    unsigned flags;            /**< SMTPKIT_CLIENT_LMTP, _NO_PIPELINING, _BDAT */
    smtpkit_client_tls tls;    /**< TLS policy */
    /**
     * AUTH (RFC 4954): a SASL mechanism from sasl.h (a built-in one from
     * smtpkit_sasl_builtin_init(), or your own) that must outlive the
     * session. NULL = no AUTH. It runs after the last EHLO and before the
     * first MAIL; when the server does not offer the mechanism the session
     * ends with #SMTPKIT_ERR_NOT_SUPPORTED, when the server refuses the
     * credentials with smtpkit_sasl_client_outcome() of its reply
     * (#SMTPKIT_ERR_AUTH for 535), in both cases before any envelope.
     */
    const struct smtpkit_sasl_mech *auth;
    /** USE WITH CAUTION: allow AUTH without TLS (the user name, and with
     *  PLAIN or LOGIN the password, go out in clear). Without it, AUTH in
     *  clear ends the session with #SMTPKIT_ERR_TLS_REQUIRED. */
    int auth_allow_plaintext;
    /** Output buffer in bytes: the largest single write. 0 = 64 KiB;
     *  at least 4096. The body staging buffer is half this size. */
    size_t output_size;
    /** BDAT chunk size limit (at least 1024); 0 = as large as the output
     *  buffer allows. */
    size_t bdat_chunk;
    /** Transactions that may be queued at once; 0 = 16. */
    unsigned max_queue;
    /** Initial envelope store in bytes; 0 = 4096. */
    size_t queue_bytes;
    /** Largest envelope store in bytes; 0 = 1 MiB. */
    size_t queue_bytes_max;
    /* Timeouts (RFC 5321 4.5.3.2) in milliseconds; 0 = the RFC's value. */
    uint32_t timeout_greeting_ms;   /**< initial 220: 5 min */
    uint32_t timeout_command_ms;    /**< EHLO, MAIL, RCPT, RSET, STARTTLS, AUTH, QUIT: 5 min */
    uint32_t timeout_data_init_ms;  /**< reply to DATA: 2 min */
    uint32_t timeout_data_block_ms; /**< no progress writing output: 3 min */
    uint32_t timeout_data_term_ms;  /**< reply after the end of data / BDAT: 10 min */
    /**
     * AUTH with a built-in mechanism chosen from what the server offers
     * (smtpkit_sasl_select(): XOAUTH2 when a token is given, else CRAM-MD5,
     * PLAIN, LOGIN). Used when `auth` is NULL. The struct and the bytes it
     * points to must outlive the session. Same policy as `auth`: nothing in
     * clear unless auth_allow_plaintext; no usable mechanism ends the session
     * with #SMTPKIT_ERR_NOT_SUPPORTED.
     */
    const struct smtpkit_sasl_creds *auth_creds;
} smtpkit_client_config;

/** What a command event or a reply belongs to. */
typedef enum smtpkit_client_cmd {
    SMTPKIT_CLIENT_CMD_GREETING = 0, /**< the server's greeting (not a command) */
    SMTPKIT_CLIENT_CMD_EHLO,        /**< EHLO (RFC 5321 4.1.1.1) */
    SMTPKIT_CLIENT_CMD_HELO,        /**< HELO, the fallback when EHLO is refused */
    SMTPKIT_CLIENT_CMD_LHLO,        /**< LHLO (LMTP, RFC 2033) */
    SMTPKIT_CLIENT_CMD_STARTTLS,    /**< STARTTLS (RFC 3207) */
    SMTPKIT_CLIENT_CMD_AUTH,        /**< AUTH and its exchange (RFC 4954) */
    SMTPKIT_CLIENT_CMD_MAIL,        /**< MAIL FROM */
    SMTPKIT_CLIENT_CMD_RCPT,        /**< RCPT TO */
    SMTPKIT_CLIENT_CMD_DATA,        /**< DATA (the 354 reply) */
    SMTPKIT_CLIENT_CMD_BODY,         /**< the message content and its "." */
    SMTPKIT_CLIENT_CMD_BDAT,        /**< BDAT chunks (RFC 3030) */
    SMTPKIT_CLIENT_CMD_RSET,        /**< RSET */
    SMTPKIT_CLIENT_CMD_QUIT,        /**< QUIT */
    SMTPKIT_CLIENT_CMD_NONE          /**< no command (local decisions) */
} smtpkit_client_cmd;

/** Name of a command kind ("MAIL", "greeting", "message"), static. */
SMTPKIT_API const char *smtpkit_client_cmd_name(smtpkit_client_cmd cmd);

/** A command the session has put into its output buffer (for logging). */
typedef struct smtpkit_client_command {
    smtpkit_client_cmd cmd; /**< which command */
    /** The line without CRLF. AUTH lines come with the credentials replaced
     *  by "****". For SMTPKIT_CLIENT_CMD_BODY the line is "." and the body
     *  itself is not shown. */
    smtpkit_view line;
    uint64_t body_bytes;  /**< BODY: wire bytes of the message (dot-stuffed,
                               without the final ".\r\n"); BDAT: chunk size */
    unsigned tx_id;       /**< transaction, for MAIL/RCPT/DATA/BODY/BDAT */
} smtpkit_client_command;

/** Outcome of a transaction. */
typedef enum smtpkit_tx_status {
    SMTPKIT_TX_ACCEPTED = 0, /**< the message was accepted for every recipient */
    SMTPKIT_TX_PARTIAL,      /**< accepted for some recipients; see the per-recipient results */
    SMTPKIT_TX_REJECTED,     /**< the server refused it (MAIL, every RCPT, DATA or the data) */
    SMTPKIT_TX_FAILED        /**< not sent, or the outcome is unknown: see `err` */
} smtpkit_tx_status;

/** One recipient's result (on_rcpt). */
typedef struct smtpkit_client_rcpt_result {
    unsigned tx_id;        /**< the id smtpkit_client_queue() returned */
    void *tx_user;         /**< the pointer given to smtpkit_client_queue() */
    size_t index;          /**< index of the recipient in the envelope */
    smtpkit_view mailbox;  /**< the recipient's mailbox */
    /** 0: the reply to RCPT. 1: LMTP only, this recipient's reply after the
     *  data (RFC 2033 4.2), its final outcome. */
    int after_data;
    const smtpkit_reply *reply; /**< the server's reply (views valid during the callback) */
} smtpkit_client_rcpt_result;

/** A transaction's final result (on_tx_done). Called exactly once per
 *  transaction queued with success, whatever happens to the session. */
typedef struct smtpkit_client_tx_result {
    unsigned tx_id;           /**< the id smtpkit_client_queue() returned */
    void *tx_user;            /**< the pointer given to smtpkit_client_queue() */
    smtpkit_tx_status status; /**< the outcome */
    /**
     * 0 for ACCEPTED and PARTIAL; #SMTPKIT_ERR_REJECTED for REJECTED; for
     * FAILED the reason: a local refusal before anything was sent
     * (#SMTPKIT_ERR_TOO_BIG, #SMTPKIT_ERR_NEED_8BITMIME,
     * #SMTPKIT_ERR_NEED_SMTPUTF8, a source error), or the session's fatal
     * error (#SMTPKIT_ERR_CLOSED, #SMTPKIT_ERR_TIMEOUT, #SMTPKIT_ERR_IO,
     * #SMTPKIT_ERR_GREETING, ...). When `stage` is SMTPKIT_CLIENT_CMD_BODY
     * or _BDAT with FAILED, the data was sent but no final reply came: the
     * message may or may not have been delivered (RFC 1047).
     */
    int err;
    /** The step that decided: MAIL, RCPT (no recipient accepted), DATA,
     *  BODY/BDAT (the reply after the data), or NONE for a local refusal
     *  before MAIL. */
    smtpkit_client_cmd stage;
    /** The deciding reply (views valid during the callback), NULL when there
     *  is none (local refusal, connection lost). */
    const smtpkit_reply *reply;
    size_t naccepted;      /**< recipients the message was accepted for */
    size_t nrefused;       /**< the other recipients */
    uint64_t body_bytes;   /**< wire bytes of the body sent */
} smtpkit_client_tx_result;

/**
 * Callbacks. Any may be NULL. Unless said otherwise each returns 0 to go
 * on, #SMTPKIT_PAUSE to stop the session until smtpkit_client_resume(), or
 * a negative value to abort (the session ends with #SMTPKIT_ERR_CALLBACK).
 * Views are valid only during the callback and only until the callback
 * calls another smtpkit_client_* function. From a callback you may call
 * smtpkit_client_queue(), _quit(), _caps(), _error(); never _free().
 */
typedef struct smtpkit_client_callbacks {
    unsigned version;  /**< #SMTPKIT_CLIENT_VERSION (0 is taken as current) */
    /** Each reply line as received (for a "S: ..." log). */
    int (*on_reply_line)(void *user, const smtpkit_reply_line *line);
    /** Each complete reply, with the command it answers. */
    int (*on_reply)(void *user, smtpkit_client_cmd cmd, const smtpkit_reply *reply);
    /** Each command put into the output buffer (for a "C: ..." log). */
    int (*on_command)(void *user, const smtpkit_client_command *cmd);
    /** The session is ready for mail: `caps` are the server's capabilities
     *  from the last EHLO/LHLO (empty after HELO). */
    int (*on_ready)(void *user, const smtpkit_caps *caps);
    /** One recipient's result. */
    int (*on_rcpt)(void *user, const smtpkit_client_rcpt_result *result);
    /** A transaction's final result. */
    int (*on_tx_done)(void *user, const smtpkit_client_tx_result *result);
    /** The server accepted STARTTLS: start TLS on the transport now, then
     *  call smtpkit_client_starttls_done(). (smtpkit_client_want() also
     *  reports #SMTPKIT_CLIENT_WANT_STARTTLS.) */
    int (*on_starttls)(void *user);
    /** The session ended with an error (`reply` is the server's reply that
     *  caused it, or NULL). Return value ignored. */
    int (*on_error)(void *user, int err, const smtpkit_reply *reply);
} smtpkit_client_callbacks;

/* ------------------------------------------------------------------------ */
/* Envelopes                                                                  */

/* DSN (RFC 3461): the RET values (smtpkit_dsn_ret: SMTPKIT_DSN_RET_NONE,
 * _FULL, _HDRS) and NOTIFY flags (SMTPKIT_DSN_NOTIFY_NEVER, _SUCCESS,
 * _FAILURE, _DELAY) are shared with the server and come from dsn.h. */

/** smtpkit_envelope::flags */
enum {
    /** The body is 7-bit: no BODY= parameter, no scan. */
    SMTPKIT_ENV_7BIT = 1u << 0,
    /** The body has 8-bit bytes: BODY=8BITMIME (RFC 6152); the transaction
     *  fails with #SMTPKIT_ERR_NEED_8BITMIME when the server lacks it. */
    SMTPKIT_ENV_8BIT = 1u << 1,
    /** The message has UTF-8 headers (RFC 6532): SMTPUTF8 is needed even with
     *  ASCII addresses (#SMTPKIT_ERR_NEED_SMTPUTF8 when not offered). */
    SMTPKIT_ENV_SMTPUTF8 = 1u << 2
};

/** One recipient. */
typedef struct smtpkit_rcpt {
    /** "local@domain" without angle brackets (or "Postmaster", RFC 5321
     *  4.5.1); may be UTF-8 (then SMTPUTF8 is used, RFC 6531). */
    const char *mailbox;
    size_t mailbox_len;    /**< 0 = strlen(mailbox) */
    unsigned notify;       /**< SMTPKIT_DSN_NOTIFY_* flags (NEVER alone); sent only
                                when the server offers DSN */
    /** Original recipient (RFC 3461 4.2), raw: sent xtext-encoded as
     *  "ORCPT=rfc822;..." when the server offers DSN. NULL = none. */
    const char *orcpt;
    size_t orcpt_len;      /**< 0 = strlen(orcpt) */
} smtpkit_rcpt;

/** A transaction's envelope. Copied by smtpkit_client_queue(). */
typedef struct smtpkit_envelope {
    /** Reverse path "local@domain"; NULL or "" = the null path "<>". */
    const char *from;
    size_t from_len;            /**< 0 = strlen(from) (when from is not NULL) */
    const smtpkit_rcpt *rcpts;  /**< at least one */
    size_t nrcpts;              /**< number of rcpts */
    smtpkit_dsn_ret ret;        /**< RET=, SMTPKIT_DSN_RET_NONE for none; sent only
                                     when the server offers DSN */
    /** DSN envelope id (RFC 3461 4.4): printable ASCII, sent xtext-encoded
     *  when the server offers DSN. NULL = none. */
    const char *envid;
    size_t envid_len;           /**< 0 = strlen(envid) */
    unsigned flags;             /**< SMTPKIT_ENV_* */
} smtpkit_envelope;

/**
 * Check an envelope as smtpkit_client_queue() does, without a session.
 * @return 0; #SMTPKIT_ERR_INVALID_ARG (NULL, no recipients, bad NOTIFY
 * combination, ENVID not printable ASCII, contradictory flags);
 * #SMTPKIT_ERR_INJECTION (CR, LF, NUL, '<' or '>' in an address or
 * parameter); #SMTPKIT_ERR_BAD_ADDRESS (not an RFC 5321 mailbox, or longer
 * than 254 octets); #SMTPKIT_ERR_LINE_TOO_LONG (ENVID over 100 characters,
 * ORCPT over 500 once encoded).
 */
SMTPKIT_API int smtpkit_envelope_check(const smtpkit_envelope *env);

/* ------------------------------------------------------------------------ */
/* Session                                                                    */

/** Fill `cfg` with defaults (all zero, version set). */
SMTPKIT_API void smtpkit_client_config_init(smtpkit_client_config *cfg);

/**
 * Check a configuration as smtpkit_client_new() does.
 * @return 0; #SMTPKIT_ERR_INJECTION (CR, LF or NUL in helo_name);
 * #SMTPKIT_ERR_INVALID_ARG (helo_name not a domain or address literal;
 * unknown tls, flags or version; output_size below 4096; bdat_chunk below
 * 1024; max_queue over 65535; queue_bytes over queue_bytes_max);
 * #SMTPKIT_ERR_LINE_TOO_LONG (helo_name over 255 octets).
 */
SMTPKIT_API int smtpkit_client_config_check(const smtpkit_client_config *cfg);

/**
 * Create a session. `config` may be NULL (defaults); it is copied. `cb`
 * (may be NULL) must outlive the session; `user` is passed to every
 * callback; `mem` (NULL = libc) is copied.
 * The session waits for the server's greeting first.
 * @return the session, or NULL when out of memory or the configuration is
 *         invalid (smtpkit_client_config_check() says why).
 */
SMTPKIT_API smtpkit_client *smtpkit_client_new(const smtpkit_client_config *config,
                                               const smtpkit_client_callbacks *cb, void *user,
                                               const smtpkit_mem *mem);

/** Free a session (NULL allowed). Transactions still queued get no callback. */
SMTPKIT_API void smtpkit_client_free(smtpkit_client *c);

/**
 * Queue a transaction. The envelope is validated (see
 * smtpkit_envelope_check()) and copied; nothing invalid ever reaches the
 * wire. `body` is the message (RFC 5322 header and body; any line ends: it
 * is CRLF-normalised and dot-stuffed on the way out). `body` must stay
 * valid until on_tx_done for this transaction; it is read only as the
 * output buffer has room. A body read returning #SMTPKIT_ERR_WOULDBLOCK
 * means "not yet": the session reports #SMTPKIT_CLIENT_WANT_SOURCE and
 * reads again on the next smtpkit_client_output(). When body->size is known
 * it is used for SIZE= (RFC 1870) and checked against the server's limit.
 * @return the transaction id (>= 0), or the errors of
 *         smtpkit_envelope_check(); #SMTPKIT_ERR_STATE (QUIT was asked or
 *         the session ended); #SMTPKIT_ERR_WOULDBLOCK (max_queue
 *         transactions are queued, or the envelope store is full: wait for
 *         a transaction to finish); #SMTPKIT_ERR_BUFFER_TOO_SMALL (the
 *         envelope alone exceeds queue_bytes_max); #SMTPKIT_ERR_NOMEM.
 */
SMTPKIT_API int smtpkit_client_queue(smtpkit_client *c, const smtpkit_envelope *env,
                                     smtpkit_source *body, void *tx_user);

/**
 * Send QUIT once every queued transaction is done; the session then ends
 * (#SMTPKIT_CLIENT_DONE) when the server answers or closes.
 * @return 0, or #SMTPKIT_ERR_STATE when the session has ended already.
 */
SMTPKIT_API int smtpkit_client_quit(smtpkit_client *c);

/**
 * Feed bytes received from the server, in any split.
 * Replies are matched to commands in order (RFC 2920 3.1). Bytes received
 * after the 220 to STARTTLS and before smtpkit_client_starttls_done() are
 * discarded (RFC 3207 5: they were not protected by TLS), as is anything fed
 * after the session ended.
 * @return bytes consumed (fewer than `len` only when a callback paused:
 *         feed the rest after smtpkit_client_resume()), or
 *         #SMTPKIT_ERR_PAUSED, #SMTPKIT_ERR_INVALID_ARG. Protocol problems
 *         end the session (see smtpkit_client_error()) and are not returned.
 */
SMTPKIT_API smtpkit_ssize smtpkit_client_feed(smtpkit_client *c, const char *data, size_t len);

/**
 * The bytes to write next: `*data` points into the session's output
 * buffer, valid until the next call on the session. The buffer is filled
 * as far as possible first (commands, and body bytes pulled from the
 * source), so writes are large. Returns 0 when there is nothing to write.
 */
SMTPKIT_API size_t smtpkit_client_output(smtpkit_client *c, const char **data);

/** `n` bytes of the last output were written. n larger than what
 *  smtpkit_client_output() returned is clamped. */
SMTPKIT_API void smtpkit_client_output_done(smtpkit_client *c, size_t n);

/** The peer closed the connection. Ends the session: normally after QUIT,
 *  otherwise with #SMTPKIT_ERR_CLOSED. */
SMTPKIT_API void smtpkit_client_closed(smtpkit_client *c);

/** The transport failed (`err`: #SMTPKIT_ERR_IO, #SMTPKIT_ERR_TIMEOUT,
 *  #SMTPKIT_ERR_TLS, ...; a non-fatal code is taken as #SMTPKIT_ERR_IO).
 *  Ends the session; pending transactions are reported. */
SMTPKIT_API void smtpkit_client_abort(smtpkit_client *c, int err);

/**
 * The time now, in milliseconds of any monotonic clock. Timers start at
 * the last tick before the event that arms them, so call this after each
 * batch of I/O. An expired timer ends the session with #SMTPKIT_ERR_TIMEOUT.
 * @return 0, or the session's error once it has ended.
 */
SMTPKIT_API int smtpkit_client_tick(smtpkit_client *c, uint64_t now_ms);

/** When the next tick is needed (same clock as tick), UINT64_MAX for never. */
SMTPKIT_API uint64_t smtpkit_client_deadline(smtpkit_client *c);

/** smtpkit_client_want() flags. */
enum {
    SMTPKIT_CLIENT_WANT_READ = 1u << 0,     /**< replies are expected: read and feed */
    SMTPKIT_CLIENT_WANT_WRITE = 1u << 1,    /**< output is ready */
    /** Start TLS on the transport, then smtpkit_client_starttls_done(). */
    SMTPKIT_CLIENT_WANT_STARTTLS = 1u << 2,
    /** A body source said "not yet": call smtpkit_client_output() again
     *  when it has data. */
    SMTPKIT_CLIENT_WANT_SOURCE = 1u << 3,
    /** Nothing to do: connected, no transaction queued and no QUIT asked. */
    SMTPKIT_CLIENT_IDLE = 1u << 4,
    /** A callback paused the session: smtpkit_client_resume(). */
    SMTPKIT_CLIENT_PAUSED = 1u << 5,
    /** The session is over (QUIT answered, or an error): close the transport. */
    SMTPKIT_CLIENT_DONE = 1u << 6
};

/** What the session needs now (SMTPKIT_CLIENT_* flags). May prepare output. */
SMTPKIT_API unsigned smtpkit_client_want(smtpkit_client *c);

/**
 * Report the end of the TLS handshake asked for by
 * #SMTPKIT_CLIENT_WANT_STARTTLS: `result` 0 = TLS is up (the session forgets
 * the capabilities and sends EHLO again, RFC 3207 4.2), negative = failed
 * (the session ends with that error, #SMTPKIT_ERR_TLS if not fatal).
 * @return 0, or #SMTPKIT_ERR_STATE when no handshake was asked for.
 */
SMTPKIT_API int smtpkit_client_starttls_done(smtpkit_client *c, int result);

/** Continue after a callback returned #SMTPKIT_PAUSE.
 *  @return 0, or #SMTPKIT_ERR_STATE when not paused. */
SMTPKIT_API int smtpkit_client_resume(smtpkit_client *c);

/** The server's capabilities (empty before EHLO, after HELO, and just after
 *  STARTTLS). Valid until the next call on the session. */
SMTPKIT_API const smtpkit_caps *smtpkit_client_caps(const smtpkit_client *c);

/** Non-zero once TLS is up (implicit, or after STARTTLS). */
SMTPKIT_API int smtpkit_client_tls_active(const smtpkit_client *c);

/** The error that ended the session, 0 while it runs or after a clean QUIT. */
SMTPKIT_API int smtpkit_client_error(const smtpkit_client *c);

/** Transactions queued and not yet reported through on_tx_done. */
SMTPKIT_API size_t smtpkit_client_pending(const smtpkit_client *c);

/**
 * Drive a session over a blocking transport until it is done, idle (no
 * transaction queued and no QUIT asked: queue more and call again) or
 * blocked on a body source (#SMTPKIT_ERR_WOULDBLOCK: call again later).
 * Reads and writes wait at most until the session's deadline (with
 * io->now_ms) or the current RFC timeout (without it). When the session
 * asks for TLS, io->starttls is called (NULL: the handshake fails with
 * #SMTPKIT_ERR_NOT_SUPPORTED). Callbacks must not pause under this runner.
 * io->close is not called: the caller closes the transport.
 * @return 0 (done cleanly, or idle), #SMTPKIT_ERR_WOULDBLOCK, or the
 *         session's error (smtpkit_client_error()).
 */
SMTPKIT_API int smtpkit_client_run(smtpkit_client *c, const smtpkit_io *io);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_CLIENT_H */
