/**
 * @file reply.h
 * @brief Client side: push parser for SMTP replies (RFC 5321 4.2), enhanced
 *        status codes (RFC 2034/3463), the EHLO capability set, and the table
 *        of standard reply codes.
 */
#ifndef SMTPKIT_REPLY_H
#define SMTPKIT_REPLY_H

#include "smtpkit/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One reply line, as passed to smtpkit_reply_callbacks::on_line. The views
 *  point into the data given to feed or into the parser's own buffer and are
 *  valid only during the callback. */
typedef struct smtpkit_reply_line {
    int code;            /**< 200..599 (first digit 2-5, second 0-5) */
    int last;            /**< non-zero on the last line ("250 " rather than "250-") */
    /** Enhanced status code "c.sss.ddd" when the text starts with one whose
     *  class matches the code's first digit; empty view otherwise. */
    smtpkit_view esc;
    int esc_class;       /**< class digit of esc (2, 4 or 5), 0 when absent */
    int esc_subject;     /**< subject number of esc, 0 when absent */
    int esc_detail;      /**< detail number of esc, 0 when absent */
    smtpkit_view text;   /**< text after the code, separator and esc (and one space) */
    smtpkit_view raw;    /**< the whole line without CRLF */
} smtpkit_reply_line;

/** A complete (possibly multi-line) reply summary for on_reply; its views
 *  are those of the last line, valid only during the callback. */
typedef struct smtpkit_reply {
    int code;            /**< the reply code */
    unsigned nlines;     /**< number of lines */
    smtpkit_view esc;    /**< enhanced code of the last line (may be empty) */
    smtpkit_view text;   /**< text of the last line */
} smtpkit_reply;

/**
 * Reply parser callbacks. Any may be NULL. Return 0 to go on,
 * #SMTPKIT_PAUSE to pause, negative to abort (feed returns SMTPKIT_ERR_CALLBACK).
 */
typedef struct smtpkit_reply_callbacks {
    /** Each reply line, in order (`line` valid during the call). */
    int (*on_line)(void *user, const smtpkit_reply_line *line);
    /** After the last line of each reply: the reply as a whole. */
    int (*on_reply)(void *user, const smtpkit_reply *reply);
} smtpkit_reply_callbacks;

/**
 * Reply parser state. Caller-allocated; fields with a leading underscore are
 * private. Holds one line buffer of #SMTPKIT_REPLY_LINE_MAX bytes; lines that
 * arrive whole in one feed are passed as views into the caller's data, only a
 * line split across feeds is copied into the buffer. The parser never
 * allocates, never reads past the `len` given to feed and keeps no pointer to
 * the caller's data after feed returns.
 */
typedef struct smtpkit_reply_parser {
    const smtpkit_reply_callbacks *_cb;
    void *_user;
    size_t _max_line;          /* including CRLF */
    size_t _len;               /* bytes in _buf */
    int _code;                 /* code of the reply in progress, 0 = none */
    unsigned _nlines;
    int _err;                  /* sticky error */
    uint64_t _pos;             /* total bytes consumed */
    uint64_t _err_pos;
    int _paused;
    int _cr;                   /* reserved (unused) */
    char _last_esc[16];        /* reserved (unused) */
    size_t _last_esc_len;      /* reserved (unused) */
    char _buf[SMTPKIT_REPLY_LINE_MAX];
} smtpkit_reply_parser;

/** Initialise (cannot fail). `cb` must outlive the parser; may be NULL. */
SMTPKIT_API void smtpkit_reply_parser_init(smtpkit_reply_parser *p,
                                           const smtpkit_reply_callbacks *cb, void *user);

/** Set the maximum line length including CRLF (clamped to #SMTPKIT_REPLY_LINE_MAX,
 *  at least 6). */
SMTPKIT_API void smtpkit_reply_parser_set_max_line(smtpkit_reply_parser *p, size_t max);

/**
 * Feed received bytes, in any split. Lines end at CRLF; a bare LF is also
 * accepted as a line end on the client side, for robustness towards broken
 * servers (a CR just before the LF is dropped, any other CR is kept as text).
 *
 * Each line calls on_line once; the last line of a reply ("250 ", or a line
 * that is exactly the three digits) then calls on_reply once. A callback
 * returning #SMTPKIT_PAUSE takes effect once that line's events are done (so
 * a pause from on_line of a reply's last line still gets on_reply first): feed
 * returns the bytes consumed through that line's LF, and further feeds return
 * SMTPKIT_ERR_PAUSED until smtpkit_reply_parser_resume(); the caller then
 * feeds the unconsumed rest again.
 *
 * The maximum line length (smtpkit_reply_parser_set_max_line) counts the text
 * plus a CRLF, whatever line end the server actually sent.
 *
 * @return bytes consumed (less than len only when a callback paused), or a
 * negative error:
 * - SMTPKIT_ERR_LINE_TOO_LONG: a line exceeds the maximum;
 * - SMTPKIT_ERR_NUL: a NUL byte in a line;
 * - SMTPKIT_ERR_REPLY_CODE: a line does not start with a 3-digit code
 *   (first digit 2-5, second 0-5, RFC 5321 4.2), or the code has a 4th digit;
 * - SMTPKIT_ERR_REPLY_CONTINUATION: the code is followed by something other
 *   than '-', ' ' or the line end, or a line of a multi-line reply has
 *   another code than the first line;
 * - SMTPKIT_ERR_CALLBACK: a callback returned a negative value (error
 *   position: the first byte of its line);
 * - SMTPKIT_ERR_PAUSED: paused (not sticky);
 * - SMTPKIT_ERR_INVALID_ARG: `p` NULL, or `data` NULL with len > 0 (not sticky).
 * The other errors are sticky until init or reset: later feeds return them again.
 */
SMTPKIT_API smtpkit_ssize smtpkit_reply_parser_feed(smtpkit_reply_parser *p, const char *data,
                                                    size_t len);

/** Clear a pause. Returns 0, or SMTPKIT_ERR_STATE when not paused. */
SMTPKIT_API int smtpkit_reply_parser_resume(smtpkit_reply_parser *p);

/** The sticky error (0 if none). */
SMTPKIT_API int smtpkit_reply_parser_error(const smtpkit_reply_parser *p);

/** Offset (in bytes fed since init) of the byte where the error was found. */
SMTPKIT_API uint64_t smtpkit_reply_parser_error_pos(const smtpkit_reply_parser *p);

/** Non-zero when a reply is partially received (between lines of a reply or mid-line). */
SMTPKIT_API int smtpkit_reply_parser_in_reply(const smtpkit_reply_parser *p);

/**
 * Forget any partial reply, the pause and the sticky error; keep the
 * callbacks, user pointer and maximum line length. Byte positions count from
 * 0 again. Use it where the byte stream restarts, e.g. after STARTTLS.
 */
SMTPKIT_API void smtpkit_reply_parser_reset(smtpkit_reply_parser *p);

/**
 * Bytes of a partial line currently buffered. After the 220 reply to
 * STARTTLS this must be 0: anything else is plaintext the server (or an
 * attacker) sent after the reply, which the client must not act on
 * (RFC 3207 5, the reply-side twin of CVE-2011-0411).
 */
SMTPKIT_API size_t smtpkit_reply_parser_pending(const smtpkit_reply_parser *p);

/* ------------------------------------------------------------------------ */
/* EHLO capabilities                                                          */

/** Capability flags. */
enum {
    SMTPKIT_CAP_PIPELINING = 1u << 0, /**< PIPELINING (RFC 2920) */
    SMTPKIT_CAP_SIZE = 1u << 1,     /**< SIZE (RFC 1870); the limit is in size_max */
    SMTPKIT_CAP_8BITMIME = 1u << 2, /**< 8BITMIME (RFC 6152) */
    SMTPKIT_CAP_SMTPUTF8 = 1u << 3, /**< SMTPUTF8 (RFC 6531) */
    SMTPKIT_CAP_CHUNKING = 1u << 4, /**< CHUNKING: BDAT (RFC 3030) */
    SMTPKIT_CAP_BINARYMIME = 1u << 5, /**< BINARYMIME (RFC 3030) */
    SMTPKIT_CAP_DSN = 1u << 6,      /**< DSN (RFC 3461) */
    SMTPKIT_CAP_ENHANCEDSTATUSCODES = 1u << 7, /**< ENHANCEDSTATUSCODES (RFC 2034) */
    SMTPKIT_CAP_STARTTLS = 1u << 8, /**< STARTTLS (RFC 3207) */
    SMTPKIT_CAP_AUTH = 1u << 9,     /**< AUTH (RFC 4954); mechanisms in smtpkit_caps::auth */
    SMTPKIT_CAP_REQUIRETLS = 1u << 10, /**< REQUIRETLS (RFC 8689) */
    SMTPKIT_CAP_LIMITS = 1u << 11   /**< LIMITS (RFC 9422); parameters in smtpkit_caps::limits */
};

/** SASL mechanism flags found in AUTH (and the legacy "AUTH=" form). */
enum {
    SMTPKIT_AUTH_PLAIN = 1u << 0,   /**< PLAIN (RFC 4616) */
    SMTPKIT_AUTH_LOGIN = 1u << 1,   /**< LOGIN (draft-murchison-sasl-login) */
    SMTPKIT_AUTH_CRAM_MD5 = 1u << 2, /**< CRAM-MD5 (RFC 2195) */
    SMTPKIT_AUTH_XOAUTH2 = 1u << 3, /**< XOAUTH2 (OAuth 2.0 bearer token) */
    SMTPKIT_AUTH_OTHER = 1 << 30  /**< at least one mechanism not listed above */
};

/** Maximum number of unknown EHLO keywords kept. */
#define SMTPKIT_CAPS_MAX_UNKNOWN 16

/**
 * The server's capabilities from an EHLO reply. Caller-allocated; strings are
 * copied into `_store` so the set stays valid after the reply is gone. The
 * views point into the struct itself: do not copy a folded set by value
 * (fold the reply again instead).
 */
typedef struct smtpkit_caps {
    unsigned flags;          /**< SMTPKIT_CAP_* */
    uint64_t size_max;       /**< SIZE value; 0 = SIZE without a limit or not offered */
    unsigned auth;           /**< SMTPKIT_AUTH_* */
    smtpkit_view auth_list;  /**< the mechanism list as sent (space separated), in _store */
    smtpkit_view domain;     /**< server's domain from the first line, in _store */
    smtpkit_view limits;     /**< LIMITS parameters (RFC 9422) as sent, in _store */
    smtpkit_view unknown[SMTPKIT_CAPS_MAX_UNKNOWN]; /**< unknown keyword lines, in _store */
    unsigned nunknown;       /**< entries used in `unknown` */
    /** Strings not kept for lack of room (unknown keyword lines beyond
     *  #SMTPKIT_CAPS_MAX_UNKNOWN or #SMTPKIT_CAPS_STORE, AUTH mechanisms,
     *  LIMITS or domain that did not fit). Flags are set regardless. */
    unsigned ndropped;
    size_t _used;
    char _store[SMTPKIT_CAPS_STORE];
} smtpkit_caps;

/** Empty the set. */
SMTPKIT_API void smtpkit_caps_init(smtpkit_caps *caps);

/**
 * Fold one line of a 250 EHLO (or LHLO) reply into the set. The first line
 * of the reply (`index == 0`) is the greeting: its first word is the server's
 * domain. Later lines are "keyword *(SP param)" (RFC 5321 4.1.1.1):
 * - PIPELINING, 8BITMIME, SMTPUTF8, CHUNKING, BINARYMIME, DSN,
 *   ENHANCEDSTATUSCODES, STARTTLS, REQUIRETLS set their flag;
 * - SIZE [n] (RFC 1870) sets size_max to n; no number, 0, a malformed
 *   number or one that does not fit in 64 bits all mean "no limit" (0);
 * - AUTH mech... and the legacy "AUTH=mech..." form (RFC 4954) set the
 *   SMTPKIT_AUTH_* flags; mechanism names are case-insensitive; the
 *   mechanisms of every AUTH line, without repeats, are kept in auth_list;
 * - LIMITS params (RFC 9422) keeps the parameters in `limits`;
 * - any other keyword line is kept whole in `unknown` while room lasts.
 * Keywords are case-insensitive. Empty lines are ignored.
 * @return 0, or SMTPKIT_ERR_INVALID_ARG on NULL arguments or a line whose
 * code is not 250 (nothing is folded then).
 */
SMTPKIT_API int smtpkit_caps_add_line(smtpkit_caps *caps, unsigned index,
                                      const smtpkit_reply_line *line);

/** Non-zero when the set has the EHLO keyword `kw` (NUL-terminated; known
 *  or kept unknown keyword, case-insensitive). 0 when an argument is NULL. */
SMTPKIT_API int smtpkit_caps_has(const smtpkit_caps *caps, const char *kw);

/* ------------------------------------------------------------------------ */
/* Standard replies (RFC 5321 4.2.2/4.2.3, RFC 3463)                           */

/** A standard reply: code, enhanced status code and default text. */
typedef struct smtpkit_std_reply {
    int code;          /**< the three-digit reply code */
    const char *esc;   /**< e.g. "5.5.1"; NULL when none applies (220, 334, 354) */
    const char *text;  /**< default text, no CRLF */
} smtpkit_std_reply;

/** Identifiers of the standard replies in the table. */
typedef enum smtpkit_std {
    SMTPKIT_R_SERVICE_READY = 0,   /**< 220 */
    SMTPKIT_R_CLOSING,             /**< 221 2.0.0 */
    SMTPKIT_R_AUTH_OK,             /**< 235 2.7.0 */
    SMTPKIT_R_OK,                  /**< 250 2.0.0 */
    SMTPKIT_R_SENDER_OK,           /**< 250 2.1.0 */
    SMTPKIT_R_RCPT_OK,             /**< 250 2.1.5 */
    SMTPKIT_R_MSG_OK,              /**< 250 2.0.0 queued */
    SMTPKIT_R_VRFY_CANNOT,         /**< 252 2.5.0 */
    SMTPKIT_R_AUTH_CHALLENGE,      /**< 334 */
    SMTPKIT_R_START_DATA,          /**< 354 */
    SMTPKIT_R_SERVICE_UNAVAILABLE, /**< 421 4.3.2 */
    SMTPKIT_R_MAILBOX_BUSY,        /**< 450 4.2.1 */
    SMTPKIT_R_LOCAL_ERROR,         /**< 451 4.3.0 */
    SMTPKIT_R_TOO_MANY_RCPTS,      /**< 452 4.5.3 */
    SMTPKIT_R_INSUFFICIENT_STORAGE,/**< 452 4.3.1 */
    SMTPKIT_R_TEMP_AUTH_FAILURE,   /**< 454 4.7.0 */
    SMTPKIT_R_TLS_NOT_AVAILABLE,   /**< 454 4.7.0 */
    SMTPKIT_R_UNRECOGNIZED,        /**< 500 5.5.1 */
    SMTPKIT_R_LINE_TOO_LONG,       /**< 500 5.5.6 */
    SMTPKIT_R_SYNTAX,              /**< 501 5.5.4 */
    SMTPKIT_R_BAD_ADDRESS_SYNTAX,  /**< 501 5.1.3 */
    SMTPKIT_R_NOT_IMPLEMENTED,     /**< 502 5.5.1 */
    SMTPKIT_R_BAD_SEQUENCE,        /**< 503 5.5.1 */
    SMTPKIT_R_PARAM_NOT_IMPLEMENTED, /**< 504 5.5.4 */
    SMTPKIT_R_AUTH_REQUIRED,       /**< 530 5.7.0 */
    SMTPKIT_R_TLS_REQUIRED,        /**< 530 5.7.0 Must issue a STARTTLS command first */
    SMTPKIT_R_AUTH_INVALID,        /**< 535 5.7.8 */
    SMTPKIT_R_MAILBOX_UNAVAILABLE, /**< 550 5.1.1 */
    SMTPKIT_R_BAD_LINE_ENDINGS,    /**< 550 5.6.0 bare CR or LF */
    SMTPKIT_R_MSG_TOO_BIG,         /**< 552 5.3.4 */
    SMTPKIT_R_MAILBOX_NAME,        /**< 553 5.1.3 */
    SMTPKIT_R_NO_UTF8,             /**< 553 5.6.7 */
    SMTPKIT_R_TRANSACTION_FAILED,  /**< 554 5.0.0 */
    SMTPKIT_R_NO_SERVICE,          /**< 554 5.3.2 no SMTP service here */
    SMTPKIT_R_PARAM_UNRECOGNIZED,  /**< 555 5.5.4 */
    SMTPKIT_R__COUNT                /**< number of entries in the table (not a reply) */
} smtpkit_std;

/** The table entry for `id`; NULL when out of range. */
SMTPKIT_API const smtpkit_std_reply *smtpkit_std_reply_get(smtpkit_std id);

/** A generic enhanced code for a basic code: "2.0.0" for 2xx, "4.0.0" for
 *  4xx, "5.0.0" for 5xx (second digit 0-5); NULL for 3xx and anything else.
 *  Static string. */
SMTPKIT_API const char *smtpkit_default_esc(int code);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_REPLY_H */
