/**
 * @file command.h
 * @brief Server side: SMTP command parsing (RFC 5321 4.1, plus EHLO
 *        extensions STARTTLS, AUTH, BDAT and LMTP's LHLO).
 *
 * Two layers: smtpkit_command_parse() parses one complete line (without its
 * CRLF); smtpkit_command_parser is a push parser that frames lines from any
 * split of the input and calls back once per command or malformed line.
 */
#ifndef SMTPKIT_COMMAND_H
#define SMTPKIT_COMMAND_H

#include "smtpkit/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Command verbs. */
typedef enum smtpkit_verb {
    SMTPKIT_VERB_UNKNOWN = 0,       /**< not a known verb */
    SMTPKIT_VERB_HELO,              /**< HELO (RFC 5321 4.1.1.1) */
    SMTPKIT_VERB_EHLO,              /**< EHLO (RFC 5321 4.1.1.1) */
    SMTPKIT_VERB_LHLO,              /**< LHLO (LMTP, RFC 2033 4.1) */
    SMTPKIT_VERB_MAIL,              /**< MAIL FROM (RFC 5321 4.1.1.2) */
    SMTPKIT_VERB_RCPT,              /**< RCPT TO (RFC 5321 4.1.1.3) */
    SMTPKIT_VERB_DATA,              /**< DATA (RFC 5321 4.1.1.4) */
    SMTPKIT_VERB_BDAT,              /**< BDAT (RFC 3030) */
    SMTPKIT_VERB_RSET,              /**< RSET (RFC 5321 4.1.1.5) */
    SMTPKIT_VERB_VRFY,              /**< VRFY (RFC 5321 4.1.1.6) */
    SMTPKIT_VERB_EXPN,              /**< EXPN (RFC 5321 4.1.1.7) */
    SMTPKIT_VERB_HELP,              /**< HELP (RFC 5321 4.1.1.8) */
    SMTPKIT_VERB_NOOP,              /**< NOOP (RFC 5321 4.1.1.9) */
    SMTPKIT_VERB_QUIT,              /**< QUIT (RFC 5321 4.1.1.10) */
    SMTPKIT_VERB_STARTTLS,          /**< STARTTLS (RFC 3207) */
    SMTPKIT_VERB_AUTH               /**< AUTH (RFC 4954) */
} smtpkit_verb;

/** Name of a verb ("MAIL"), static. */
SMTPKIT_API const char *smtpkit_verb_name(smtpkit_verb verb);

/** An ESMTP parameter `keyword[=value]` (RFC 5321 4.1.2 esmtp-param). */
typedef struct smtpkit_param {
    smtpkit_view key;   /**< keyword, as sent (compare case-insensitively) */
    smtpkit_view value; /**< value after '=', empty when has_value is 0 */
    int has_value;      /**< non-zero when the keyword was followed by '=' */
} smtpkit_param;

/** A MAIL FROM / RCPT TO path. */
typedef struct smtpkit_path {
    smtpkit_view mailbox; /**< "local@domain" without <> and without source route; empty for <> */
    smtpkit_view local;   /**< local part as sent (quoted form kept, with its quotes) */
    smtpkit_view domain;  /**< domain or address literal (with brackets) */
    int is_null;          /**< the null reverse-path <> */
    int is_postmaster;    /**< RCPT TO:\<Postmaster\> without a domain (RFC 5321 4.5.1) */
    int had_route;        /**< a source route was present and has been dropped */
    int utf8;             /**< contains non-ASCII (UTF-8) bytes */
} smtpkit_path;

/**
 * A parsed command. Views point into the parsed line (for the push parser:
 * valid during the callback only). Only `params[0..nparams)` are set; the
 * entries past `nparams` are left as they were.
 */
typedef struct smtpkit_command {
    smtpkit_verb verb;      /**< which command */
    smtpkit_view verb_text; /**< the verb as sent */
    /** HELO/EHLO/LHLO: the domain or address literal; VRFY/EXPN/HELP/NOOP:
     *  the (optional) argument string; AUTH: the mechanism name; any other
     *  verb: the raw argument text (e.g. "FROM:<a@b> SIZE=10"), empty for
     *  DATA/RSET/QUIT/STARTTLS. Leading and trailing spaces are excluded. */
    smtpkit_view arg;
    /** AUTH: the initial response (may be "=" for an empty one); empty view if absent. */
    smtpkit_view initial_response;
    int has_initial_response; /**< non-zero when AUTH carried an initial response */
    smtpkit_path path;      /**< MAIL and RCPT */
    smtpkit_param params[SMTPKIT_MAX_PARAMS]; /**< MAIL and RCPT */
    unsigned nparams;       /**< entries of `params` that are set */
    uint64_t bdat_size;     /**< BDAT chunk size */
    int bdat_last;          /**< BDAT ... LAST */
} smtpkit_command;

/** Parse flags. */
enum {
    /** UTF-8 is allowed in paths, ESMTP parameter values, the HELO/EHLO
     *  name and VRFY/EXPN/HELP/NOOP arguments (the client gave SMTPUTF8 on
     *  MAIL, RFC 6531). It must be well-formed UTF-8 (RFC 3629: no overlong
     *  forms, no surrogates). A MAIL command does not need the flag for its
     *  own path: its SMTPUTF8 parameter allows UTF-8 on that same line
     *  (RFC 6531 3.4); whether SMTPUTF8 was offered is the session's call. */
    SMTPKIT_CMD_UTF8 = 1u << 0,
    /** Accept "MAIL FROM: <a@b>" with spaces after the colon (common, not
     *  RFC 5321). Without it that space is SMTPKIT_ERR_CMD_SYNTAX. */
    SMTPKIT_CMD_LENIENT_SPACE = 1u << 1
};

/**
 * Parse one command line (without the CRLF) into `cmd` (views into `line`).
 * Never allocates; reads only `line[0..len)`; `line` need not be
 * NUL-terminated.
 *
 * Grammar (RFC 5321 4.1.1, 4.1.2): verbs are case-insensitive; runs of
 * spaces after the verb, between ESMTP parameters and at the end of the
 * line are tolerated. DATA, RSET, QUIT and STARTTLS take no argument;
 * HELO/EHLO/LHLO need one token of visible characters (lenient: the
 * application judges the name); VRFY/EXPN need an argument, HELP/NOOP take
 * an optional one (printable ASCII and spaces); BDAT takes a decimal size
 * that fits 64 bits and an optional LAST; AUTH takes a mechanism (1-20 of
 * ALPHA/DIGIT/"-"/"_") and an optional initial response (padded base64,
 * or "=").
 *
 * Paths: "<" [A-d-l ":"] Mailbox ">" with Dot-string or Quoted-string
 * local parts, domains, IPv4/IPv6/general address literals (RFC 5321 4.1.3
 * IPv6 forms, "::" standing for at least two groups); the source route is
 * dropped (had_route); "<>" only for MAIL; "<Postmaster>" only for RCPT.
 * Limits (RFC 5321 4.5.3.1): local part 64 octets, domain 255, mailbox 254
 * (the path 256 with its brackets). Deliberately stricter than the RFC:
 * '<' and '>' are refused inside quoted local parts and general address
 * literals, so a naive downstream parser can never see the path end early.
 *
 * Error precedence, when several apply:
 * 1. SMTPKIT_ERR_LINE_TOO_LONG: `len` over #SMTPKIT_COMMAND_LINE_MAX - 2;
 * 2. SMTPKIT_ERR_NUL: a NUL byte anywhere;
 * 3. otherwise the line is read left to right and the first byte that does
 *    not fit decides: an unknown verb is SMTPKIT_ERR_CMD_UNKNOWN (or
 *    SMTPKIT_ERR_NON_ASCII when the verb holds an 8-bit byte); after that,
 *    a failure at an 8-bit byte where UTF-8 is not allowed is
 *    SMTPKIT_ERR_NON_ASCII, anything else is the kind of the part it is in:
 *    SMTPKIT_ERR_CMD_PATH between MAIL's/RCPT's '<' and '>' (and for a
 *    missing '<', a length limit, "RCPT TO:<>"),
 *    SMTPKIT_ERR_CMD_PARAM in ESMTP parameters, SMTPKIT_ERR_CMD_TOO_MANY_PARAMS
 *    at parameter #SMTPKIT_MAX_PARAMS + 1, SMTPKIT_ERR_CMD_SYNTAX elsewhere
 *    (missing or extra arguments, "FROM:"/"TO:", control characters such as
 *    a CR or TAB in an argument, bad BDAT size, bad base64);
 * 4. MAIL only: UTF-8 in its path or parameters without SMTPKIT_CMD_UTF8
 *    and without a SMTPUTF8 parameter is SMTPKIT_ERR_NON_ASCII, reported
 *    once the whole line parsed otherwise.
 *
 * @return 0 or one of the errors above; SMTPKIT_ERR_INVALID_ARG when `cmd`
 * is NULL or `line` is NULL with `len` > 0. On error `cmd->verb` is the
 * verb when it was recognised, other fields are unspecified.
 */
SMTPKIT_API int smtpkit_command_parse(const char *line, size_t len, unsigned flags,
                                      smtpkit_command *cmd);

/**
 * The reply a server should send for a parse error: fills code, enhanced
 * code and text (static strings; any pointer may be NULL):
 *
 * | error                           | code | esc   | why                         |
 * |---------------------------------|------|-------|-----------------------------|
 * | SMTPKIT_ERR_CMD_UNKNOWN         | 500  | 5.5.1 | RFC 5321 4.2.4, 3463 5.5.1  |
 * | SMTPKIT_ERR_CMD_SYNTAX          | 501  | 5.5.4 | RFC 5321 4.1.1, 3463 5.5.4  |
 * | SMTPKIT_ERR_CMD_PATH            | 501  | 5.1.3 | RFC 3463 X.1.3 bad address syntax |
 * | SMTPKIT_ERR_CMD_PARAM           | 555  | 5.5.4 | RFC 5321 4.1.1.11, 4.2.3    |
 * | SMTPKIT_ERR_CMD_TOO_MANY_PARAMS | 555  | 5.5.4 | as above                    |
 * | SMTPKIT_ERR_LINE_TOO_LONG       | 500  | 5.5.6 | RFC 5321 4.5.3.1.10 "Line too long" |
 * | SMTPKIT_ERR_NUL                 | 500  | 5.5.2 | syntax error (RFC 3463 X.5.2) |
 * | SMTPKIT_ERR_NON_ASCII           | 553  | 5.6.7 | RFC 6531 3.5, non-ASCII address |
 *
 * Without the line, SMTPKIT_ERR_NON_ASCII is taken to be in a path; use
 * smtpkit_command_error_reply_line() to get 500 5.5.2 for an 8-bit byte
 * elsewhere (verb, HELO name, parameters).
 * @return 0, or SMTPKIT_ERR_INVALID_ARG when `err` is not a command parse
 * error.
 */
SMTPKIT_API int smtpkit_command_error_reply(int err, int *code, const char **esc,
                                            const char **text);

/**
 * Like smtpkit_command_error_reply(), for the `line` (and the `flags`) that
 * failed with `err` -- e.g. the `line` of smtpkit_command_callbacks::on_error
 * and smtpkit_command_parser_flags(). Only SMTPKIT_ERR_NON_ASCII depends on
 * the line: 553 5.6.7 ("Non-ASCII address requires SMTPUTF8") when the 8-bit
 * byte is in a MAIL/RCPT path, 500 5.5.2 anywhere else. It re-parses the
 * line for that (errors are rare; the fast path never pays).
 * @return 0, or SMTPKIT_ERR_INVALID_ARG as above.
 */
SMTPKIT_API int smtpkit_command_error_reply_line(int err, const char *line, size_t len,
                                                 unsigned flags, int *code, const char **esc,
                                                 const char **text);

/** Find a parameter by keyword (case-insensitive); NULL when absent. */
SMTPKIT_API const smtpkit_param *smtpkit_command_param(const smtpkit_command *cmd,
                                                       const char *key);

/**
 * Validate a mailbox "local@domain" (no brackets) against the RFC 5321
 * grammar, for callers that put addresses on the wire. It shares the
 * grammar code (and the length limits) with the path parser: any mailbox
 * that smtpkit_command_parse() accepts in a path (other than <> and
 * \<Postmaster\>) passes here, and the other way round. `utf8` allows UTF-8
 * (RFC 6531). Returns 0, SMTPKIT_ERR_INJECTION (CR, LF, NUL, '<' or '>'
 * anywhere; checked first), SMTPKIT_ERR_NON_ASCII (the grammar stopped at an
 * 8-bit byte and `utf8` is 0: the address needs SMTPUTF8) or
 * SMTPKIT_ERR_BAD_ADDRESS (anything else, including an empty string, a
 * bare "postmaster" and the length limits).
 */
SMTPKIT_API int smtpkit_mailbox_validate(const char *mailbox, size_t len, int utf8);

/** Push-parser callbacks, either may be NULL. Return 0 to go on,
 *  #SMTPKIT_PAUSE to pause, or negative to abort (feed returns
 *  SMTPKIT_ERR_CALLBACK). Other positive values act as 0. */
typedef struct smtpkit_command_callbacks {
    /** A well-formed command. `line` is the whole line without CRLF. */
    int (*on_command)(void *user, const smtpkit_command *cmd, smtpkit_view line);
    /** A malformed line: `err` is the parse error. For SMTPKIT_ERR_LINE_TOO_LONG
     *  `line` is empty and the rest of the line up to its CRLF is discarded. */
    int (*on_error)(void *user, int err, smtpkit_view line);
} smtpkit_command_callbacks;

/**
 * Command push parser. Caller-allocated; private fields start with '_'.
 * Holds one line buffer of #SMTPKIT_COMMAND_LINE_MAX bytes; whole lines in
 * the caller's data are parsed in place without copying.
 */
typedef struct smtpkit_command_parser {
    const smtpkit_command_callbacks *_cb;
    void *_user;
    unsigned _flags;
    size_t _max_line;   /* including CRLF */
    size_t _len;        /* bytes buffered */
    int _skipping;      /* discarding the rest of an over-long line */
    int _paused;
    int _err;
    uint64_t _pos;
    int _discard;       /* reset() was called (from a callback) */
    smtpkit_command _cmd;
    char _buf[SMTPKIT_COMMAND_LINE_MAX];
} smtpkit_command_parser;

/** Initialise (cannot fail). */
SMTPKIT_API void smtpkit_command_parser_init(smtpkit_command_parser *p,
                                             const smtpkit_command_callbacks *cb, void *user);

/** Change parse flags (SMTPKIT_CMD_*) for following lines (e.g. after MAIL ... SMTPUTF8).
 *  May be called from a callback: the next line already uses the new flags. */
SMTPKIT_API void smtpkit_command_parser_set_flags(smtpkit_command_parser *p, unsigned flags);

/** The current parse flags. */
SMTPKIT_API unsigned smtpkit_command_parser_flags(const smtpkit_command_parser *p);

/** Maximum line length including CRLF (clamped to #SMTPKIT_COMMAND_LINE_MAX, at least 8). */
SMTPKIT_API void smtpkit_command_parser_set_max_line(smtpkit_command_parser *p, size_t max);

/**
 * Feed bytes, in any split. Lines end at CRLF; a bare LF also ends a
 * command line (RFC 5321 2.3.8 says MUST NOT be recognised, but commands
 * are short and many clients send LF: it is accepted for commands only,
 * never in DATA). A CR just before the LF is dropped; any other CR stays in
 * the line and makes it malformed. Each line gives exactly one on_command
 * or on_error. Lines that arrive whole are parsed in place in `data`; only
 * a line split across feeds is copied into the parser's buffer.
 *
 * A line longer than the maximum (text plus CRLF over
 * smtpkit_command_parser_set_max_line()) gives on_error
 * (SMTPKIT_ERR_LINE_TOO_LONG) once -- as soon as it is known, possibly
 * before its end arrives -- and the rest of it up to its LF is discarded:
 * an over-long line is never executed, truncated or not.
 *
 * Pausing: the feed returns the bytes consumed up to and including the
 * line that paused (for an over-long line reported early: what was read of
 * it); later feeds return SMTPKIT_ERR_PAUSED until
 * smtpkit_command_parser_resume(), then feed the unconsumed rest again.
 * This is also how a session hands the bytes after DATA, BDAT or an AUTH
 * challenge to another decoder: return #SMTPKIT_PAUSE from on_command and
 * give the unconsumed rest to that decoder; nothing past the paused line
 * has been looked at.
 *
 * @return bytes consumed, or a negative error: SMTPKIT_ERR_PAUSED (not
 * sticky), SMTPKIT_ERR_CALLBACK (sticky: every later feed returns it until
 * init), SMTPKIT_ERR_INVALID_ARG (`p` NULL, or `data` NULL with len > 0).
 */
SMTPKIT_API smtpkit_ssize smtpkit_command_parser_feed(smtpkit_command_parser *p,
                                                      const char *data, size_t len);

/** Clear a pause. Returns 0, or SMTPKIT_ERR_STATE when not paused. */
SMTPKIT_API int smtpkit_command_parser_resume(smtpkit_command_parser *p);

/**
 * Discard any partially received line (e.g. after STARTTLS, CVE-2011-0411).
 * Called from a callback, it also drops the rest of the data given to the
 * running feed, which then returns its whole `len` as consumed: so a
 * session that resets in on_command for STARTTLS can never execute a
 * command pipelined after it. Does not clear a pause or a sticky error.
 */
SMTPKIT_API void smtpkit_command_parser_reset(smtpkit_command_parser *p);

/** The sticky error (SMTPKIT_ERR_CALLBACK) or 0. */
SMTPKIT_API int smtpkit_command_parser_error(const smtpkit_command_parser *p);

/** Bytes of a partial line currently buffered. */
SMTPKIT_API size_t smtpkit_command_parser_pending(const smtpkit_command_parser *p);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_COMMAND_H */
