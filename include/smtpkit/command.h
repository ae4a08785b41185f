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
    SMTPKIT_VERB_UNKNOWN = 0,
    SMTPKIT_VERB_HELO,
    SMTPKIT_VERB_EHLO,
    SMTPKIT_VERB_LHLO,
    SMTPKIT_VERB_MAIL,
    SMTPKIT_VERB_RCPT,
    SMTPKIT_VERB_DATA,
    SMTPKIT_VERB_BDAT,
    SMTPKIT_VERB_RSET,
    SMTPKIT_VERB_VRFY,
    SMTPKIT_VERB_EXPN,
    SMTPKIT_VERB_HELP,
    SMTPKIT_VERB_NOOP,
    SMTPKIT_VERB_QUIT,
    SMTPKIT_VERB_STARTTLS,
    SMTPKIT_VERB_AUTH
} smtpkit_verb;

/** Name of a verb ("MAIL"), static. */
SMTPKIT_API const char *smtpkit_verb_name(smtpkit_verb verb);

/** An ESMTP parameter `keyword[=value]` (RFC 5321 4.1.2 esmtp-param). */
typedef struct smtpkit_param {
    smtpkit_view key;   /**< keyword, as sent (compare case-insensitively) */
    smtpkit_view value; /**< value after '=', empty when has_value is 0 */
    int has_value;
} smtpkit_param;

/** A MAIL FROM / RCPT TO path. */
typedef struct smtpkit_path {
    smtpkit_view mailbox; /**< "local@domain" without <> and without source route; empty for <> */
    smtpkit_view local;   /**< local part as sent (quoted form kept, with its quotes) */
    smtpkit_view domain;  /**< domain or address literal (with brackets) */
    int is_null;          /**< the null reverse-path <> */
    int is_postmaster;    /**< RCPT TO:<Postmaster> without a domain (RFC 5321 4.5.1) */
    int had_route;        /**< a source route was present and has been dropped */
    int utf8;             /**< contains non-ASCII (UTF-8) bytes */
} smtpkit_path;

/** A parsed command. Views point into the parsed line. */
typedef struct smtpkit_command {
    smtpkit_verb verb;
    smtpkit_view verb_text; /**< the verb as sent */
    /** HELO/EHLO/LHLO: the domain or address literal; VRFY/EXPN/HELP/NOOP:
     *  the (optional) argument string; AUTH: the mechanism name. */
    smtpkit_view arg;
    /** AUTH: the initial response (may be "=" for an empty one); empty view if absent. */
    smtpkit_view initial_response;
    int has_initial_response;
    smtpkit_path path;      /**< MAIL and RCPT */
    smtpkit_param params[SMTPKIT_MAX_PARAMS]; /**< MAIL and RCPT */
    unsigned nparams;
    uint64_t bdat_size;     /**< BDAT chunk size */
    int bdat_last;          /**< BDAT ... LAST */
} smtpkit_command;

/** Parse flags. */
enum {
    /** UTF-8 is allowed in paths (the client gave SMTPUTF8 on MAIL, RFC 6531). */
    SMTPKIT_CMD_UTF8 = 1u << 0,
    /** Accept "MAIL FROM: <a@b>" with a space after the colon (common, not RFC). */
    SMTPKIT_CMD_LENIENT_SPACE = 1u << 1
};

/**
 * Parse one command line (without the CRLF) into `cmd` (views into `line`).
 * @return 0, or SMTPKIT_ERR_CMD_UNKNOWN (500 5.5.1), SMTPKIT_ERR_CMD_SYNTAX
 * (501 5.5.4), SMTPKIT_ERR_CMD_PATH (501 5.1.3; or 553 5.6.7 when the cause
 * is UTF-8 without SMTPUTF8: then also SMTPKIT_ERR_NON_ASCII),
 * SMTPKIT_ERR_CMD_PARAM (555 5.5.4), SMTPKIT_ERR_CMD_TOO_MANY_PARAMS,
 * SMTPKIT_ERR_NUL, SMTPKIT_ERR_NON_ASCII (8-bit byte outside a path, or in
 * a path without SMTPKIT_CMD_UTF8), SMTPKIT_ERR_LINE_TOO_LONG.
 */
SMTPKIT_API int smtpkit_command_parse(const char *line, size_t len, unsigned flags,
                                      smtpkit_command *cmd);

/**
 * The reply a server should send for a parse error: fills code, enhanced
 * code and text (static strings). Returns 0, or SMTPKIT_ERR_INVALID_ARG
 * when `err` is not a command parse error.
 */
SMTPKIT_API int smtpkit_command_error_reply(int err, int *code, const char **esc,
                                            const char **text);

/** Find a parameter by keyword (case-insensitive); NULL when absent. */
SMTPKIT_API const smtpkit_param *smtpkit_command_param(const smtpkit_command *cmd,
                                                       const char *key);

/**
 * Validate a mailbox "local@domain" (no brackets) against the RFC 5321
 * grammar, for callers that put addresses on the wire. `utf8` allows UTF-8
 * (RFC 6531). Returns 0, SMTPKIT_ERR_INJECTION (CR, LF, NUL, '<' or '>'),
 * SMTPKIT_ERR_NON_ASCII or SMTPKIT_ERR_BAD_ADDRESS.
 */
SMTPKIT_API int smtpkit_mailbox_validate(const char *mailbox, size_t len, int utf8);

/** Push-parser callbacks. Return 0, #SMTPKIT_PAUSE, or negative to abort. */
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
    smtpkit_command _cmd;
    char _buf[SMTPKIT_COMMAND_LINE_MAX];
} smtpkit_command_parser;

/** Initialise (cannot fail). */
SMTPKIT_API void smtpkit_command_parser_init(smtpkit_command_parser *p,
                                             const smtpkit_command_callbacks *cb, void *user);

/** Change parse flags (SMTPKIT_CMD_*) for following lines (e.g. after MAIL ... SMTPUTF8). */
SMTPKIT_API void smtpkit_command_parser_set_flags(smtpkit_command_parser *p, unsigned flags);

/** Maximum line length including CRLF (clamped to #SMTPKIT_COMMAND_LINE_MAX, at least 8). */
SMTPKIT_API void smtpkit_command_parser_set_max_line(smtpkit_command_parser *p, size_t max);

/**
 * Feed bytes. Lines end at CRLF; a bare LF also ends a command line
 * (RFC 5321 2.3.8 says MUST NOT be recognised, but commands are short and
 * many clients send LF: it is accepted for commands only, never in DATA).
 * Malformed lines are reported through on_error and parsing goes on.
 * @return bytes consumed (less than `len` when a callback paused; the
 * consumed count includes the line that paused), or a negative error:
 * SMTPKIT_ERR_PAUSED, SMTPKIT_ERR_CALLBACK.
 */
SMTPKIT_API smtpkit_ssize smtpkit_command_parser_feed(smtpkit_command_parser *p,
                                                      const char *data, size_t len);

/** Clear a pause. Returns 0, or SMTPKIT_ERR_STATE when not paused. */
SMTPKIT_API int smtpkit_command_parser_resume(smtpkit_command_parser *p);

/** Discard any partially received line (e.g. after STARTTLS, CVE-2011-0411). */
SMTPKIT_API void smtpkit_command_parser_reset(smtpkit_command_parser *p);

/** Bytes of a partial line currently buffered. */
SMTPKIT_API size_t smtpkit_command_parser_pending(const smtpkit_command_parser *p);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_COMMAND_H */
