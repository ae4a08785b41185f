/**
 * @file server.h
 * @brief The server session: a sans-I/O RFC 5321 (and RFC 2033 LMTP)
 *        receiver with a decision callback at each step.
 *
 * The session never touches a socket, a file or a clock. The transport
 * (the POSIX event loop in posix.h, smtpkit_server_run() over an
 * #smtpkit_io, or your own loop) moves bytes:
 *
 * @code
 *   s = smtpkit_server_new(&cfg, &callbacks, app, NULL);
 *   smtpkit_server_start(s, now_ms());                 // greeting is queued
 *   for (;;) {
 *       while ((n = smtpkit_server_output(s, &p)) > 0)  // write replies
 *           smtpkit_server_output_done(s, write(fd, p, n));
 *       if (smtpkit_server_want(s) & SMTPKIT_SERVER_WANT_CLOSE) break;
 *       n = read(fd, buf, sizeof buf);                   // or wait for a deadline
 *       if (n == 0) { smtpkit_server_eof(s); break; }
 *       for (off = 0; off < n; off += r) {               // feed what arrived
 *           r = smtpkit_server_feed(s, buf + off, n - off);
 *           ... r < n - off: paused or output full: write, resume, feed the rest
 *       }
 *       smtpkit_server_tick(s, now_ms());
 *   }
 *   smtpkit_server_free(s);
 * @endcode
 *
 * Flushing (RFC 2920 3.1): replies are ready in the output as soon as each
 * command is handled. A transport writes them when it has fed all the input
 * it holds (before it waits for more), which is exactly the point at which
 * RFC 2920 requires a server to flush; it never needs to hold replies back.
 *
 * Memory: one allocation per session at smtpkit_server_new(), of
 * smtpkit_server_size() bytes (the state, one command line buffer, the
 * output buffer and room for the client's HELO name). Nothing is allocated
 * afterwards, whatever the number of commands or messages, and message
 * bodies are streamed to the application, never held.
 */
#ifndef SMTPKIT_SERVER_H
#define SMTPKIT_SERVER_H

#include "smtpkit/common.h"
#include "smtpkit/dsn.h"
#include "smtpkit/command.h"
#include "smtpkit/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque server session (one SMTP connection). */
typedef struct smtpkit_server smtpkit_server;

/** Value of smtpkit_server_config::version for this header. */
#define SMTPKIT_SERVER_CONFIG_VERSION 1

/** Default idle timeout waiting for a command (RFC 5321 4.5.3.2.7: 5 minutes). */
#define SMTPKIT_SERVER_TIMEOUT_DEFAULT_MS 300000u

/** Default output buffer, bytes. At least #SMTPKIT_SERVER_REPLY_MAX + 64. */
#ifndef SMTPKIT_SERVER_OUTPUT_DEFAULT
#define SMTPKIT_SERVER_OUTPUT_DEFAULT 768
#endif

/** The longest reply the session writes at once (an EHLO reply, or a
 *  decision's reply with all its lines): a command is handled only when
 *  this much room is free in the output buffer. */
#define SMTPKIT_SERVER_REPLY_MAX 512

/** The longest HELO/EHLO/LHLO name kept for the Received: header (RFC 5321
 *  4.5.3.1.2: a domain is at most 255 octets). Longer names are cut. */
#define SMTPKIT_SERVER_HELO_MAX 255

/** No deadline (smtpkit_server_deadline()). */
#define SMTPKIT_SERVER_NO_DEADLINE UINT64_MAX

/** Session options (smtpkit_server_config::flags). */
enum {
    /** Speak LMTP (RFC 2033): LHLO instead of HELO/EHLO, one reply per
     *  accepted recipient after the data. */
    SMTPKIT_SERVER_LMTP = 1u << 0,
    /** Offer STARTTLS (RFC 3207). The transport must then be able to start
     *  TLS when the session asks (#SMTPKIT_SERVER_WANT_STARTTLS). */
    SMTPKIT_SERVER_STARTTLS = 1u << 1,
    /** Refuse mail before TLS: 530 5.7.0 to MAIL, RCPT, DATA, BDAT, VRFY,
     *  EXPN and AUTH until smtpkit_server_tls_started() (RFC 3207 4). */
    SMTPKIT_SERVER_REQUIRE_TLS = 1u << 2,
    /** Refuse MAIL until the client authenticated: 530 5.7.0 (RFC 4954 6). */
    SMTPKIT_SERVER_REQUIRE_AUTH = 1u << 3,
    /** USE WITH CAUTION: offer and accept AUTH without TLS, which lets
     *  anyone on the path read the credentials. */
    SMTPKIT_SERVER_AUTH_PLAINTEXT = 1u << 4,
    /** Do not offer PIPELINING (RFC 2920). Pipelined input still works:
     *  replies always come in order. */
    SMTPKIT_SERVER_NO_PIPELINING = 1u << 5,
    /** Do not offer 8BITMIME (RFC 6152): BODY= is then an unknown parameter. */
    SMTPKIT_SERVER_NO_8BITMIME = 1u << 6,
    /** Do not offer SMTPUTF8 (RFC 6531): UTF-8 addresses get 553 5.6.7. */
    SMTPKIT_SERVER_NO_SMTPUTF8 = 1u << 7,
    /** Do not offer CHUNKING (RFC 3030): BDAT gets 502 5.5.1. Also
     *  withdraws BINARYMIME, which needs BDAT. */
    SMTPKIT_SERVER_NO_CHUNKING = 1u << 8,
    /** Do not offer BINARYMIME (RFC 3030). */
    SMTPKIT_SERVER_NO_BINARYMIME = 1u << 9,
    /** Do not offer DSN (RFC 3461): RET, ENVID, NOTIFY and ORCPT are then
     *  unknown parameters. */
    SMTPKIT_SERVER_NO_DSN = 1u << 10,
    /** Do not prepend a Received: header to the message. */
    SMTPKIT_SERVER_NO_RECEIVED = 1u << 11,
    /** USE WITH CAUTION: accept a bare CR or LF in DATA and hand it on as
     *  CRLF instead of refusing the message with 550 5.6.0 (RFC 5321
     *  2.3.8). The end of data still needs a real CRLF "." CRLF, so SMTP
     *  smuggling stays impossible, but the message is altered. */
    SMTPKIT_SERVER_NORMALIZE_BARE_LF = 1u << 12,
    /** Refuse "MAIL FROM: <a@b>" (a space after the colon), which RFC 5321
     *  does not allow but many clients send: 501 5.5.4. */
    SMTPKIT_SERVER_STRICT_SYNTAX = 1u << 13,
    /** Do not require HELO/EHLO before MAIL (RFC 5321 4.1.4 lets a server
     *  insist; the default does, with 503 5.5.1). */
    SMTPKIT_SERVER_NO_HELO_REQUIRED = 1u << 14
};

/**
 * Session configuration. Fill it with smtpkit_server_config_init() and
 * change what you need. The session keeps a pointer to it: it (and the
 * strings it points to) must stay valid and unchanged for the lifetime of
 * every session created with it. One config can serve any number of
 * sessions.
 */
typedef struct smtpkit_server_config {
    unsigned version;          /**< #SMTPKIT_SERVER_CONFIG_VERSION */
    /** Our host name, in the greeting, the EHLO reply, 421 replies and the
     *  Received: header. Printable ASCII, at most 255 octets
     *  (default "localhost"). */
    const char *hostname;
    /** Text after "220 <hostname> " in the greeting (default "ESMTP smtpkit",
     *  or "LMTP smtpkit"). */
    const char *greeting;
    unsigned flags;            /**< SMTPKIT_SERVER_* options */
    /** Largest message accepted, octets of the message as received
     *  (after dot-unstuffing, without our Received: header); announced with
     *  SIZE (RFC 1870). 0 = no limit ("SIZE" without a number). Default 0. */
    uint64_t max_size;
    /** Accepted recipients per message before 452 4.5.3 (RFC 5321
     *  4.5.3.1.8 asks for at least 100). Default 100; 0 = default. */
    unsigned max_recipients;
    /** Protocol errors (unknown commands, syntax errors, bad sequence,
     *  over-long lines) before the session ends with 421 4.7.0. Default
     *  20; 0 = default. Rejections decided by the application do not count. */
    unsigned max_errors;
    /** Commands per session before 421 4.7.0; 0 = no limit (default). */
    unsigned long max_commands;
    /** NOOP, VRFY, EXPN, HELP and RSET commands since the last accepted
     *  message before they count as errors (Postfix's
     *  smtpd_junk_command_limit). Default 100; 0 = default. */
    unsigned max_junk_commands;
    /** Command line limit, octets including CRLF (RFC 5321 4.5.3.1.4: at
     *  least 512; default #SMTPKIT_COMMAND_LINE_MAX, which is also the
     *  maximum). It sizes the session's line buffer. */
    size_t max_command_line;
    /** Text line limit in DATA, octets including CRLF (RFC 5321 4.5.3.1.6:
     *  1000, the default). A message with a longer line is refused after
     *  the data with 550 5.6.0. 0 = no limit. */
    size_t max_text_line;
    /** Output buffer size in octets (default #SMTPKIT_SERVER_OUTPUT_DEFAULT;
     *  values below #SMTPKIT_SERVER_REPLY_MAX + 64 are raised to that).
     *  Replies of pipelined commands collect here; when less than
     *  #SMTPKIT_SERVER_REPLY_MAX is free, smtpkit_server_feed() stops
     *  consuming until the transport takes the output. */
    size_t output_buffer;
    /** Time allowed while waiting for a command, ms (RFC 5321 4.5.3.2.7;
     *  default #SMTPKIT_SERVER_TIMEOUT_DEFAULT_MS; 0 = default). It starts
     *  again with each whole command line (and each write of a reply), not
     *  with each byte: a client sending a line a byte at a time still times
     *  out. */
    uint32_t timeout_command_ms;
    /** Idle time allowed between two reads of message data (DATA or BDAT),
     *  ms (default #SMTPKIT_SERVER_TIMEOUT_DEFAULT_MS; 0 = default). */
    uint32_t timeout_data_ms;
} smtpkit_server_config;

/** Fill `cfg` with the defaults described above. */
SMTPKIT_API void smtpkit_server_config_init(smtpkit_server_config *cfg);

/**
 * The answer to a decision, from a callback or smtpkit_server_resume().
 * The session zeroes it before each callback, so a callback that does not
 * touch it accepts with the standard reply.
 *
 * - `code` 0 (or any 2xx; 354 for DATA) accepts. A 2xx code other than
 *   the standard one is sent as given (e.g. 251 for RCPT).
 * - a 4xx or 5xx code refuses with that code. A code outside 200..599, or
 *   a 3xx code where none belongs, is sent as 451 4.3.0 (an application
 *   error must not look like success).
 * - `esc` is the enhanced status code "class.subject.detail" (RFC 3463);
 *   NULL or malformed, or of another class than `code`: a default is used.
 * - `text` is the reply text, NUL-terminated; NULL for the standard text.
 *   '\n' separates the lines of a multi-line reply; other control
 *   characters and 8-bit bytes are replaced by '?', so no text can inject
 *   a reply line; a reply is cut at #SMTPKIT_SERVER_REPLY_MAX octets.
 * The strings are copied into the output at once: they need to live only
 * until the callback (or smtpkit_server_resume()) returns.
 */
typedef struct smtpkit_server_decision {
    int code;         /**< reply code; 0 = accept with the standard reply */
    const char *esc;  /**< enhanced status code "c.s.d", or NULL for a default */
    const char *text; /**< reply text ('\\n' between lines), or NULL for the standard one */
} smtpkit_server_decision;

/** HELO, EHLO or LHLO (smtpkit_server_callbacks::on_helo). */
typedef struct smtpkit_server_helo {
    smtpkit_verb verb;    /**< SMTPKIT_VERB_HELO, _EHLO or _LHLO */
    smtpkit_view domain;  /**< the name the client gave (not verified) */
} smtpkit_server_helo;

/** BODY= values (RFC 6152, RFC 3030). */
typedef enum smtpkit_body_type {
    SMTPKIT_BODY_NONE = 0,   /**< no BODY parameter */
    SMTPKIT_BODY_7BIT,              /**< BODY=7BIT */
    SMTPKIT_BODY_8BITMIME,          /**< BODY=8BITMIME (RFC 6152) */
    SMTPKIT_BODY_BINARYMIME  /**< needs BDAT: DATA is refused with 503 5.5.1 */
} smtpkit_body_type;

/** MAIL FROM (smtpkit_server_callbacks::on_mail). Views are valid during
 *  the callback only. The parameters have been checked: unknown ones and
 *  malformed values never get here (555 5.5.4 / 501 5.5.4). */
typedef struct smtpkit_server_mail {
    const smtpkit_path *path;     /**< the reverse-path (is_null for <>) */
    const smtpkit_command *cmd;   /**< the whole command, all parameters */
    uint64_t size;                /**< SIZE= value, 0 when absent */
    smtpkit_body_type body;       /**< BODY= */
    int smtputf8;                 /**< SMTPUTF8 given (RFC 6531) */
    smtpkit_dsn_ret ret;          /**< RET= */
    smtpkit_view envid;           /**< ENVID= as sent (xtext), empty when absent */
    smtpkit_view auth;            /**< AUTH= as sent (RFC 4954 5), empty when absent */
} smtpkit_server_mail;

/** RCPT TO (smtpkit_server_callbacks::on_rcpt). Views valid during the callback. */
typedef struct smtpkit_server_rcpt {
    const smtpkit_path *path;     /**< the forward-path */
    const smtpkit_command *cmd;   /**< the whole command, all parameters */
    unsigned notify;              /**< SMTPKIT_DSN_NOTIFY_* flags, 0 when absent */
    smtpkit_view orcpt;           /**< ORCPT= as sent ("rfc822;" xtext), empty when absent */
    /** The index this recipient gets if accepted (recipients accepted so
     *  far in this transaction); LMTP replies use it (on_data_end). */
    unsigned index;
} smtpkit_server_rcpt;

/** The message at its end (smtpkit_server_callbacks::on_data_end). */
typedef struct smtpkit_server_message {
    uint64_t size;          /**< octets received (unstuffed), without our Received: */
    unsigned nrcpt;         /**< accepted recipients */
    /** LMTP: the recipient this call answers for (0..nrcpt-1); 0 in SMTP. */
    unsigned rcpt_index;
    int chunking;           /**< received with BDAT rather than DATA */
    unsigned data_flags;    /**< SMTPKIT_DATA_SAW_* (DATA only; BDAT data is not scanned) */
    smtpkit_body_type body; /**< BODY= of the transaction */
    int smtputf8;           /**< the transaction used SMTPUTF8 */
} smtpkit_server_message;

/**
 * Facts for the Received: trace header (RFC 5321 4.4) that the core cannot
 * know: the application (or adapter) fills what it has in on_trace. The
 * header is built as soon as on_trace returns, so the views need to stay
 * valid only until then. Bytes outside printable ASCII are replaced by '?'.
 */
typedef struct smtpkit_server_trace {
    /** Date and time, RFC 5322 3.3 ("Tue, 1 Jul 2003 10:52:37 +0200").
     *  Required: without a date no Received: header is added. */
    smtpkit_view date;
    /** A unique id for this message (letters, digits, '.', '-', '_');
     *  empty: no "id" clause. */
    smtpkit_view id;
    /** The client's IP address as in an address literal, without brackets:
     *  "192.0.2.1" or "IPv6:2001:db8::1"; empty when unknown. */
    smtpkit_view addr;
    /** The client's host name from a verified reverse lookup; may be empty. */
    smtpkit_view name;
} smtpkit_server_trace;

/** VRFY, EXPN, HELP or NOOP (smtpkit_server_callbacks::on_command). */
typedef struct smtpkit_server_command {
    smtpkit_verb verb;     /**< SMTPKIT_VERB_VRFY, _EXPN, _HELP or _NOOP */
    smtpkit_view arg;      /**< the argument, may be empty */
} smtpkit_server_command;

/**
 * Callbacks. Any may be NULL ("accept with the standard reply"); the
 * struct must outlive the session. Decision callbacks return:
 * - 0: the answer is in `*d` (left zero: accept);
 * - #SMTPKIT_PAUSE: answer later with smtpkit_server_resume(); until then
 *   the session consumes no input and pipelined commands wait;
 * - a negative value: abort. The session queues "421 4.3.0", reports
 *   SMTPKIT_ERR_CALLBACK from feed and wants to close.
 * `user` is the pointer given to smtpkit_server_new().
 */
typedef struct smtpkit_server_callbacks {
    /** The connection, before the greeting: accept (220), refuse with 554
     *  (RFC 5321 3.1: the session then answers 503 to everything but QUIT),
     *  or 421 (the session closes after it). */
    int (*on_connect)(void *user, smtpkit_server_decision *d);
    /** HELO, EHLO or LHLO. A refusal leaves the client without a greeting. */
    int (*on_helo)(void *user, const smtpkit_server_helo *helo, smtpkit_server_decision *d);
    /** MAIL FROM: a new transaction begins (forget any previous envelope). */
    int (*on_mail)(void *user, const smtpkit_server_mail *mail, smtpkit_server_decision *d);
    /** Each RCPT TO. The smtpkit_server_config::max_recipients limit is
     *  applied before this is called. */
    int (*on_rcpt)(void *user, const smtpkit_server_rcpt *rcpt, smtpkit_server_decision *d);
    /** Start of the message: DATA (before 354), or the first BDAT chunk.
     *  After acceptance the message is open until on_data_end or on_abort. */
    int (*on_data)(void *user, smtpkit_server_decision *d);
    /**
     * Message bytes as received (dot-unstuffed for DATA; raw for BDAT),
     * starting with our Received: header. `data` is valid during the call.
     * Return 0, #SMTPKIT_PAUSE (these bytes are taken; no more until
     * resume) or negative to abort. To refuse a message, remember it and
     * answer in on_data_end: the client is still sending.
     */
    int (*on_body)(void *user, const char *data, size_t len);
    /**
     * End of an intact message: accept (250; only now may the client
     * consider it delivered, so store it durably first -- pause while an
     * fsync runs) or refuse. In LMTP mode it is called once per accepted
     * recipient, `msg->rcpt_index` 0, 1, ..., and each answer is that
     * recipient's reply (RFC 2033 4.2). A message the session refuses
     * itself (too big, bare CR/LF, over-long line) never gets here: it gets
     * on_abort.
     */
    int (*on_data_end)(void *user, const smtpkit_server_message *msg,
                       smtpkit_server_decision *d);
    /**
     * The open message is dropped and will not be delivered; throw away
     * what on_body gave. `reason`: SMTPKIT_ERR_TOO_BIG, SMTPKIT_ERR_BARE_LF,
     * SMTPKIT_ERR_LINE_TOO_LONG, SMTPKIT_ERR_CLOSED (connection lost, or the
     * session freed), SMTPKIT_ERR_TIMEOUT, SMTPKIT_ERR_STATE (RSET, HELO or
     * QUIT between BDAT chunks, or a shutdown), SMTPKIT_ERR_CALLBACK.
     */
    void (*on_abort)(void *user, int reason);
    /** RSET (the transaction is reset when accepted). */
    int (*on_rset)(void *user, smtpkit_server_decision *d);
    /** QUIT: the reply (221 by default) is sent and the session closes
     *  whatever the answer. */
    int (*on_quit)(void *user, smtpkit_server_decision *d);
    /** VRFY (default 252 2.5.0), EXPN (default 502 5.5.1), HELP (default
     *  214 2.0.0) and NOOP (default 250 2.0.0). */
    int (*on_command)(void *user, const smtpkit_server_command *cmd,
                      smtpkit_server_decision *d);
    /** Fill the facts for the Received: header, just before it is built at
     *  the start of each message. Return 0 or negative to abort. Not
     *  called with #SMTPKIT_SERVER_NO_RECEIVED. */
    int (*on_trace)(void *user, smtpkit_server_trace *trace);
} smtpkit_server_callbacks;

/**
 * Bytes smtpkit_server_new() allocates for a session with `cfg` (NULL:
 * the defaults): the whole memory of a session.
 */
SMTPKIT_API size_t smtpkit_server_size(const smtpkit_server_config *cfg);

/**
 * Create a session. `cfg` (NULL: the defaults) and `cb` (NULL: no
 * callbacks) must outlive it; `user` is passed to every callback; `mem`
 * (NULL: libc) is copied. Nothing is sent until smtpkit_server_start().
 * @return the session, or NULL when `cfg` has another version or memory
 *         is short.
 */
SMTPKIT_API smtpkit_server *smtpkit_server_new(const smtpkit_server_config *cfg,
                                               const smtpkit_server_callbacks *cb, void *user,
                                               const smtpkit_mem *mem);

/**
 * Free a session (NULL allowed). If a message is open, on_abort is called
 * first with SMTPKIT_ERR_CLOSED, so the application never keeps a
 * half-received message.
 */
SMTPKIT_API void smtpkit_server_free(smtpkit_server *s);

/**
 * Begin: ask on_connect and queue the greeting (or, if it paused, wait for
 * smtpkit_server_resume()). `now_ms` is the monotonic time that timeouts
 * count from.
 * @return 0, SMTPKIT_ERR_STATE when already started, SMTPKIT_ERR_CALLBACK.
 */
SMTPKIT_API int smtpkit_server_start(smtpkit_server *s, uint64_t now_ms);

/**
 * Hand received bytes in. Commands are handled (callbacks run, replies are
 * queued) and message data is streamed to on_body.
 *
 * It stops early, returning fewer than `len`, when a callback paused (the
 * count includes the line or body bytes that paused), or when less than
 * #SMTPKIT_SERVER_REPLY_MAX is free in the output buffer (backpressure: take
 * output with smtpkit_server_output()). Feed the unconsumed rest again
 * afterwards; feeding 0 bytes is allowed and does pending work (e.g. the
 * rest of an LMTP reply series after output was taken).
 *
 * After QUIT or a 421 all input is consumed and ignored (RFC 5321 4.1.1.10);
 * after the 220 to STARTTLS all input is discarded until
 * smtpkit_server_tls_started() (CVE-2011-0411).
 *
 * @return bytes consumed (0..len); SMTPKIT_ERR_PAUSED while paused;
 *         SMTPKIT_ERR_INVALID_ARG (NULL session, NULL data with len > 0);
 *         SMTPKIT_ERR_CALLBACK after a callback aborted (fatal: the session
 *         still offers its 421 through smtpkit_server_output(), then only
 *         smtpkit_server_free() is useful).
 */
SMTPKIT_API smtpkit_ssize smtpkit_server_feed(smtpkit_server *s, const char *data, size_t len);

/**
 * The queued reply bytes: sets `*data` and returns their number (0 when
 * none). Valid until the next call on the session other than
 * smtpkit_server_output().
 */
SMTPKIT_API size_t smtpkit_server_output(smtpkit_server *s, const char **data);

/** `n` bytes of the output were written (n <= what smtpkit_server_output()
 *  returned; larger values are clamped). */
SMTPKIT_API void smtpkit_server_output_done(smtpkit_server *s, size_t n);

/**
 * Tell the session the time. Call it after feeding or taking output (so
 * the idle timer restarts from the activity) and when smtpkit_server_deadline()
 * has passed. When a timeout expired (RFC 5321 4.5.3.2): an open message is
 * aborted, "421 4.4.2" is queued and the session wants to close; when the
 * closing reply itself cannot be written in time, the output is dropped.
 * @return 0, or SMTPKIT_ERR_TIMEOUT when this call found a timeout.
 */
SMTPKIT_API int smtpkit_server_tick(smtpkit_server *s, uint64_t now_ms);

/** When the session next needs smtpkit_server_tick(), in the time base of
 *  tick; #SMTPKIT_SERVER_NO_DEADLINE while paused or closed. */
SMTPKIT_API uint64_t smtpkit_server_deadline(const smtpkit_server *s);

/**
 * Answer the decision a callback paused on. `d` NULL accepts. The reply is
 * queued at once; call smtpkit_server_feed() afterwards to go on with the
 * unconsumed input (and any pending work).
 * @return 0, SMTPKIT_ERR_STATE when not paused, SMTPKIT_ERR_CALLBACK.
 */
SMTPKIT_API int smtpkit_server_resume(smtpkit_server *s, const smtpkit_server_decision *d);

/** Non-zero while the session waits for smtpkit_server_resume(). */
SMTPKIT_API int smtpkit_server_paused(const smtpkit_server *s);

/**
 * The peer closed the connection (or it was lost). An open message is
 * aborted (on_abort with SMTPKIT_ERR_CLOSED); the session is closed.
 * @return 0.
 */
SMTPKIT_API int smtpkit_server_eof(smtpkit_server *s);

/**
 * End the session from our side, e.g. when the server stops: an open
 * message is aborted (SMTPKIT_ERR_STATE), the reply `d` (NULL: "421 4.3.2
 * <host> Service shutting down") is queued, and the session wants to close
 * once it is written. Allowed while paused (the pause ends).
 * @return 0, or SMTPKIT_ERR_STATE when already closing.
 */
SMTPKIT_API int smtpkit_server_shutdown(smtpkit_server *s, const smtpkit_server_decision *d);

/** What the session needs from its transport (smtpkit_server_want()). */
enum {
    /** Input can be consumed now (not paused, not closing, output has room). */
    SMTPKIT_SERVER_WANT_READ = 1u << 0,
    /** Output is queued. */
    SMTPKIT_SERVER_WANT_WRITE = 1u << 1,
    /** The 220 to STARTTLS is written: start the TLS handshake now, then call
     *  smtpkit_server_tls_started(). Bytes received before the handshake
     *  must not be fed (they would be discarded anyway). */
    SMTPKIT_SERVER_WANT_STARTTLS = 1u << 2,
    /** The session is over (QUIT, 421, EOF, timeout): close the connection
     *  once the output (if any) is written. */
    SMTPKIT_SERVER_WANT_CLOSE = 1u << 3
};

/** SMTPKIT_SERVER_WANT_* flags for the current state. */
SMTPKIT_API unsigned smtpkit_server_want(const smtpkit_server *s);

/**
 * TLS is now active: the STARTTLS handshake finished, or the connection
 * uses implicit TLS (RFC 8314; call before smtpkit_server_start()).
 * RFC 3207 4.2: the session forgets everything the client said before
 * (HELO name, transaction); the client must send EHLO again; STARTTLS is
 * no longer offered; the Received: protocol gains "S".
 * @return 0, or SMTPKIT_ERR_STATE when TLS is already active or the session
 *         is neither before start nor waiting for the handshake.
 */
SMTPKIT_API int smtpkit_server_tls_started(smtpkit_server *s);

/** Non-zero once smtpkit_server_tls_started() was called. */
SMTPKIT_API int smtpkit_server_tls_active(const smtpkit_server *s);

/** Why the session closed: 0 (QUIT, or still open), SMTPKIT_ERR_CLOSED (peer
 *  closed), SMTPKIT_ERR_TIMEOUT, SMTPKIT_ERR_PROTOCOL (too many errors or
 *  commands), SMTPKIT_ERR_STATE (shutdown or refused), SMTPKIT_ERR_CALLBACK. */
SMTPKIT_API int smtpkit_server_close_reason(const smtpkit_server *s);

/** The HELO/EHLO/LHLO name the client gave (empty before), valid until the
 *  next command. */
SMTPKIT_API smtpkit_view smtpkit_server_helo_name(const smtpkit_server *s);

/** The protocol name for the Received: "with" clause (RFC 5321 4.4, RFC 3848,
 *  RFC 6531): "SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA", "LMTP",
 *  "UTF8SMTP"... for the current state. Static string. */
SMTPKIT_API const char *smtpkit_server_protocol(const smtpkit_server *s);

/* ------------------------------------------------------------------------ */
/* AUTH (RFC 4954): the SASL exchange is plugged in                           */

/**
 * An authentication mechanism provider (a SASL server plugged into the
 * session, see sasl.h). The session handles the SMTP side (when AUTH is
 * allowed, reading response lines, the reply sequence); the provider
 * decodes and verifies. Each function answers by calling
 * smtpkit_server_auth_challenge() or smtpkit_server_auth_result() before it
 * returns 0, or returns #SMTPKIT_PAUSE and calls one of them later (which
 * also ends the pause). A negative return aborts the session.
 */
typedef struct smtpkit_server_auth_ops {
    /** Mechanisms for the EHLO "AUTH" line, e.g. "PLAIN LOGIN CRAM-MD5". */
    const char *mechanisms;
    /** AUTH \<mech\> [initial-response]: `mech` as sent, `initial` the
     *  initial response when `has_initial` ("=" means empty). */
    int (*start)(void *ctx, smtpkit_server *s, smtpkit_view mech, smtpkit_view initial,
                 int has_initial);
    /** A client response line after a 334 (may be "*": cancel, RFC 4954 4). */
    int (*step)(void *ctx, smtpkit_server *s, smtpkit_view line);
    /** The exchange ended without a result (connection closed, or the
     *  response line was too long). May be NULL. */
    void (*cancel)(void *ctx, smtpkit_server *s);
} smtpkit_server_auth_ops;

/**
 * Plug in AUTH for this session (`ops` NULL removes it). `ops` must outlive
 * the session; `ctx` is passed to its functions. AUTH is then offered after
 * EHLO once TLS is active (or always with #SMTPKIT_SERVER_AUTH_PLAINTEXT).
 * Response lines may be up to 12288 octets (RFC 4954 4), whatever
 * smtpkit_server_config::max_command_line: one longer than that line buffer
 * is held in a buffer allocated for that line only (freed once step() has
 * returned; no memory for it is answered like a line over 12288, 500 5.5.6).
 * The line given to step() is valid only during the call.
 * @return 0, or SMTPKIT_ERR_STATE during an exchange.
 */
SMTPKIT_API int smtpkit_server_set_auth(smtpkit_server *s, const smtpkit_server_auth_ops *ops,
                                        void *ctx);

/**
 * Send "334 <challenge>" (base64 text, may be empty) and wait for the
 * client's response line, which goes to the provider's step().
 * @return 0, SMTPKIT_ERR_STATE (no exchange), SMTPKIT_ERR_INJECTION (a byte
 *         outside printable ASCII), SMTPKIT_ERR_BUFFER_TOO_SMALL (too long
 *         for one reply line).
 */
SMTPKIT_API int smtpkit_server_auth_challenge(smtpkit_server *s, const char *b64, size_t len);

/**
 * End the exchange. `authenticated` non-zero: the client is now
 * authenticated (235 2.7.0 by default, RFC 4954 6); otherwise the reply
 * is `d` (NULL: 535 5.7.8).
 * @return 0 or SMTPKIT_ERR_STATE (no exchange).
 */
SMTPKIT_API int smtpkit_server_auth_result(smtpkit_server *s, int authenticated,
                                           const smtpkit_server_decision *d);

/** Non-zero once the client authenticated. */
SMTPKIT_API int smtpkit_server_authenticated(const smtpkit_server *s);

/* ------------------------------------------------------------------------ */
/* Blocking runner (lib/adapters/io)                                          */

/**
 * Drive a session over a blocking transport until it ends: start it (if
 * not started), write its replies, read and feed input, call the io's
 * `starttls` when the session asks (then smtpkit_server_tls_started()),
 * and apply the session's timeouts through the read/write timeouts (with
 * `io->now_ms` when given, else by counting the time waited). For one
 * connection per thread, or an RTOS socket. Decisions must be answered
 * synchronously: a callback that pauses makes it return
 * SMTPKIT_ERR_PAUSED (resume, then call it again). The io is not closed.
 * @return 0 when the session ended normally (QUIT, or a 421 it sent),
 *         SMTPKIT_ERR_CLOSED when the client went away without QUIT,
 *         SMTPKIT_ERR_TIMEOUT after a timeout (its 421 was sent),
 *         SMTPKIT_ERR_PAUSED, SMTPKIT_ERR_NOT_SUPPORTED (TLS asked but the
 *         io has no starttls), the io's errors (SMTPKIT_ERR_IO,
 *         SMTPKIT_ERR_TLS), SMTPKIT_ERR_CALLBACK, SMTPKIT_ERR_INVALID_ARG.
 */
SMTPKIT_API int smtpkit_server_run(smtpkit_server *s, const smtpkit_io *io);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_SERVER_H */
