/* SMTP command parsing (RFC 5321 4.1) and the command push parser. The
 * error precedence rules are documented in command.h. */
#include "path.h"

/* set_max_line() clamps to at least 8, which must fit the buffer. */
#if SMTPKIT_COMMAND_LINE_MAX < 8
#error "SMTPKIT_COMMAND_LINE_MAX must be at least 8"
#endif

/* ---------------------------------------------------------------- verbs */

/* Four octets, each folded to lower case by |0x20: only 'A'..'Z' and
 * 'a'..'z' fold onto 'a'..'z', so a match means the bytes were letters. */
#define V4(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

static uint32_t fold4(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return V4(u[0] | 0x20u, u[1] | 0x20u, u[2] | 0x20u, u[3] | 0x20u);
}

static smtpkit_verb verb_lookup(const char *p, size_t n)
{
    if (n == 4) {
        switch (fold4(p)) {
        case V4('h', 'e', 'l', 'o'): return SMTPKIT_VERB_HELO;
        case V4('e', 'h', 'l', 'o'): return SMTPKIT_VERB_EHLO;
        case V4('l', 'h', 'l', 'o'): return SMTPKIT_VERB_LHLO;
        case V4('m', 'a', 'i', 'l'): return SMTPKIT_VERB_MAIL;
        case V4('r', 'c', 'p', 't'): return SMTPKIT_VERB_RCPT;
        case V4('d', 'a', 't', 'a'): return SMTPKIT_VERB_DATA;
        case V4('b', 'd', 'a', 't'): return SMTPKIT_VERB_BDAT;
        case V4('r', 's', 'e', 't'): return SMTPKIT_VERB_RSET;
        case V4('v', 'r', 'f', 'y'): return SMTPKIT_VERB_VRFY;
        case V4('e', 'x', 'p', 'n'): return SMTPKIT_VERB_EXPN;
        case V4('h', 'e', 'l', 'p'): return SMTPKIT_VERB_HELP;
        case V4('n', 'o', 'o', 'p'): return SMTPKIT_VERB_NOOP;
        case V4('q', 'u', 'i', 't'): return SMTPKIT_VERB_QUIT;
        case V4('a', 'u', 't', 'h'): return SMTPKIT_VERB_AUTH;
        default: return SMTPKIT_VERB_UNKNOWN;
        }
    }
    if (n == 8 && fold4(p) == V4('s', 't', 'a', 'r') && fold4(p + 4) == V4('t', 't', 'l', 's'))
        return SMTPKIT_VERB_STARTTLS;
    return SMTPKIT_VERB_UNKNOWN;
}

const char *smtpkit_verb_name(smtpkit_verb verb)
{
    switch (verb) {
    case SMTPKIT_VERB_HELO: return "HELO";
    case SMTPKIT_VERB_EHLO: return "EHLO";
    case SMTPKIT_VERB_LHLO: return "LHLO";
    case SMTPKIT_VERB_MAIL: return "MAIL";
    case SMTPKIT_VERB_RCPT: return "RCPT";
    case SMTPKIT_VERB_DATA: return "DATA";
    case SMTPKIT_VERB_BDAT: return "BDAT";
    case SMTPKIT_VERB_RSET: return "RSET";
    case SMTPKIT_VERB_VRFY: return "VRFY";
    case SMTPKIT_VERB_EXPN: return "EXPN";
    case SMTPKIT_VERB_HELP: return "HELP";
    case SMTPKIT_VERB_NOOP: return "NOOP";
    case SMTPKIT_VERB_QUIT: return "QUIT";
    case SMTPKIT_VERB_STARTTLS: return "STARTTLS";
    case SMTPKIT_VERB_AUTH: return "AUTH";
    case SMTPKIT_VERB_UNKNOWN: break;
    }
    return "UNKNOWN";
}

/* ---------------------------------------------------------------- helpers */

/* Where a parse failed, for smtpkit_command_error_reply_line(). */
enum { WHERE_OTHER = 0, WHERE_PATH = 1 };

/* The error for a grammar failure at `fail`: an 8-bit byte where UTF-8 is
 * not allowed is SMTPKIT_ERR_NON_ASCII, anything else is `kind`. */
static int fail_kind(const char *fail, const char *end, int utf8_ok, int kind)
{
    if (!utf8_ok && fail && fail < end && (unsigned char)*fail >= 0x80)
        return SMTPKIT_ERR_NON_ASCII;
    return kind;
}

/* Free text (VRFY, EXPN, HELP, NOOP): printable ASCII and spaces, plus
 * well-formed UTF-8 when allowed. Returns the first offending byte or end. */
static const char *scan_text(const char *p, const char *end, unsigned cls, int utf8)
{
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        size_t n;
        if (smtpkit__is(c, cls))
            p++;
        else if (utf8 && c >= 0x80 && (n = smtpkit__utf8_len(p, end)) != 0)
            p += n;
        else
            break;
    }
    return p;
}

static const char *skip_sp(const char *p, const char *end)
{
    while (p < end && *p == ' ')
        p++;
    return p;
}

/* Does any SP-separated token after p equal "SMTPUTF8"? Only used to choose
 * between PATH and NON_ASCII on an already failing MAIL line. */
static int has_smtputf8_token(const char *p, const char *end)
{
    while (p < end) {
        const char *t;
        p = skip_sp(p, end);
        t = p;
        while (p < end && *p != ' ')
            p++;
        if (smtpkit__ieq(t, (size_t)(p - t), "SMTPUTF8"))
            return 1;
    }
    return 0;
}

/*
 * Mail-parameters = esmtp-param *(SP esmtp-param) (RFC 5321 4.1.2);
 * esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-");
 * esmtp-value = 1*(%d33-60 / %d62-126), RFC 6531 3.3: =/ UTF8-non-ascii.
 * Runs of spaces between parameters and trailing spaces are tolerated.
 */
static int parse_params(const char *p, const char *end, int utf8, smtpkit_command *cmd,
                        int *saw_utf8, const char **fail)
{
    unsigned n = 0;
    for (;;) {
        const char *k, *v;
        smtpkit_param *pa;
        p = skip_sp(p, end);
        if (p >= end)
            break;
        if (n == SMTPKIT_MAX_PARAMS) {
            cmd->nparams = n;
            return SMTPKIT_ERR_CMD_TOO_MANY_PARAMS;
        }
        k = p;
        *fail = p;
        if (!smtpkit__is((unsigned char)*p, SMTPKIT__C_LETDIG))
            return SMTPKIT_ERR_CMD_PARAM;
        p++;
        while (p < end && smtpkit__is((unsigned char)*p, SMTPKIT__C_LDH))
            p++;
        pa = &cmd->params[n];
        pa->key.ptr = k;
        pa->key.len = (size_t)(p - k);
        pa->value.ptr = p;
        pa->value.len = 0;
        pa->has_value = 0;
        if (p < end && *p == '=') {
            v = ++p;
            while (p < end) {
                unsigned char c = (unsigned char)*p;
                size_t m;
                if (smtpkit__is(c, SMTPKIT__C_VALUE)) {
                    p++;
                } else if (utf8 && c >= 0x80 && (m = smtpkit__utf8_len(p, end)) != 0) {
                    *saw_utf8 = 1;
                    p += m;
                } else {
                    break;
                }
            }
            *fail = p;
            if (p == v)
                return SMTPKIT_ERR_CMD_PARAM;
            pa->value.ptr = v;
            pa->value.len = (size_t)(p - v);
            pa->has_value = 1;
        }
        *fail = p;
        if (p < end && *p != ' ')
            return SMTPKIT_ERR_CMD_PARAM;
        cmd->nparams = ++n;
    }
    return 0;
}

/* MAIL FROM:<reverse-path> [SP params] / RCPT TO:<forward-path> [SP params]. */
static int parse_mail_rcpt(const char *p, const char *end, unsigned flags, smtpkit_command *cmd,
                           int *where)
{
    int rcpt = cmd->verb == SMTPKIT_VERB_RCPT;
    const char *kw = rcpt ? "TO:" : "FROM:";
    size_t kwlen = rcpt ? 3 : 5, i;
    int flag_utf8 = (flags & SMTPKIT_CMD_UTF8) != 0;
    int utf8, saw_param_utf8 = 0, rc;
    smtpkit__pctx x;
    const char *q;

    for (i = 0; i < kwlen; i++) {
        if (p + i >= end)
            return SMTPKIT_ERR_CMD_SYNTAX;
        if (smtpkit__lower((unsigned char)p[i]) != (unsigned char)smtpkit__lower((unsigned char)kw[i]))
            return fail_kind(p + i, end, 0, SMTPKIT_ERR_CMD_SYNTAX);
    }
    p += kwlen;
    if (flags & SMTPKIT_CMD_LENIENT_SPACE)
        p = skip_sp(p, end);
    if (p >= end || *p == ' ')
        return SMTPKIT_ERR_CMD_SYNTAX; /* no path, or "FROM: <...>" when strict */

    /* RFC 6531 3.4: the SMTPUTF8 parameter on MAIL allows UTF-8 in the
     * reverse-path of that same command, so MAIL is parsed with UTF-8
     * allowed and checked against its parameters afterwards. */
    utf8 = flag_utf8 || !rcpt;
    *where = WHERE_PATH;
    if (*p != '<')
        return fail_kind(p, end, flag_utf8, SMTPKIT_ERR_CMD_PATH);
    x.end = end;
    x.fail = NULL;
    x.utf8 = utf8;
    x.saw_utf8 = 0;
    q = smtpkit__path_parse(&x, p, rcpt, &cmd->path);
    if (!q) {
        int ok = flag_utf8 || (!rcpt && has_smtputf8_token(p, end));
        return fail_kind(x.fail, end, ok, SMTPKIT_ERR_CMD_PATH);
    }
    if (cmd->path.is_null && rcpt)
        return SMTPKIT_ERR_CMD_PATH; /* RFC 5321 4.1.1.3: no null forward-path */
    *where = WHERE_OTHER;
    if (q < end && *q != ' ') {
        int ok = flag_utf8 || (!rcpt && has_smtputf8_token(q, end));
        return fail_kind(q, end, ok, SMTPKIT_ERR_CMD_SYNTAX);
    }
    rc = parse_params(q, end, utf8, cmd, &saw_param_utf8, &q);
    if (rc == SMTPKIT_ERR_CMD_PARAM) {
        int ok = flag_utf8 || (!rcpt && has_smtputf8_token(p, end));
        return fail_kind(q, end, ok, rc);
    }
    if (rc)
        return rc;
    if (!flag_utf8 && !rcpt && (cmd->path.utf8 || saw_param_utf8) &&
        !smtpkit_command_param(cmd, "SMTPUTF8")) {
        *where = cmd->path.utf8 ? WHERE_PATH : WHERE_OTHER;
        return SMTPKIT_ERR_NON_ASCII;
    }
    return 0;
}

/* AUTH mechanism [SP initial-response] (RFC 4954 4): sasl-mech is 1*20
 * of ALPHA/DIGIT/"-"/"_" (RFC 4422 3.1, either case accepted), the initial
 * response base64 with padding, or "=" for an empty one. */
static int parse_auth(const char *p, const char *end, smtpkit_command *cmd)
{
    const char *m = p, *r;
    size_t n;
    while (p < end && smtpkit__is((unsigned char)*p, SMTPKIT__C_SASL))
        p++;
    if (p == m || p - m > 20 || (p < end && *p != ' '))
        return fail_kind(p - m > 20 ? m + 20 : p, end, 0, SMTPKIT_ERR_CMD_SYNTAX);
    cmd->arg.ptr = m;
    cmd->arg.len = (size_t)(p - m);
    p = skip_sp(p, end);
    if (p >= end)
        return 0;
    r = p;
    if (*p == '=' && p + 1 == end) {
        p++;
    } else {
        size_t pad = 0;
        while (p < end && smtpkit__is((unsigned char)*p, SMTPKIT__C_B64))
            p++;
        while (p < end && *p == '=' && pad < 2) {
            p++;
            pad++;
        }
        n = (size_t)(p - r);
        if (p < end || n == pad || n % 4 != 0)
            return fail_kind(p, end, 0, SMTPKIT_ERR_CMD_SYNTAX);
    }
    cmd->initial_response.ptr = r;
    cmd->initial_response.len = (size_t)(p - r);
    cmd->has_initial_response = 1;
    return 0;
}

/* BDAT SP chunk-size [SP end-marker] (RFC 3030 2). */
static int parse_bdat(const char *p, const char *end, smtpkit_command *cmd)
{
    const char *d = p;
    uint64_t v = 0;
    while (p < end && smtpkit__is_digit((unsigned char)*p)) {
        unsigned digit = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return SMTPKIT_ERR_CMD_SYNTAX; /* does not fit 64 bits */
        v = v * 10 + digit;
        p++;
    }
    if (p == d || (p < end && *p != ' '))
        return fail_kind(p, end, 0, SMTPKIT_ERR_CMD_SYNTAX);
    cmd->bdat_size = v;
    p = skip_sp(p, end);
    if (p < end) {
        if (end - p != 4 || !smtpkit__ieq(p, 4, "LAST"))
            return fail_kind(p, end, 0, SMTPKIT_ERR_CMD_SYNTAX);
        cmd->bdat_last = 1;
    }
    return 0;
}

static int parse_impl(const char *line, size_t len, unsigned flags, smtpkit_command *cmd,
                      int *where)
{
    const char *p = line, *end = line + len, *v, *q;
    int utf8 = (flags & SMTPKIT_CMD_UTF8) != 0;
    smtpkit_verb verb;

    *where = WHERE_OTHER;
    /* Only the fields a caller may read are set: params[] past nparams stay
     * untouched (this runs once per command at line rate). */
    cmd->verb = SMTPKIT_VERB_UNKNOWN;
    cmd->verb_text.ptr = line;
    cmd->verb_text.len = 0;
    cmd->arg.ptr = cmd->initial_response.ptr = line;
    cmd->arg.len = cmd->initial_response.len = 0;
    cmd->has_initial_response = 0;
    memset(&cmd->path, 0, sizeof cmd->path);
    cmd->path.mailbox.ptr = cmd->path.local.ptr = cmd->path.domain.ptr = line;
    cmd->nparams = 0;
    cmd->bdat_size = 0;
    cmd->bdat_last = 0;

    if (len > SMTPKIT_COMMAND_LINE_MAX - 2)
        return SMTPKIT_ERR_LINE_TOO_LONG;
    /* A NUL wins over every other error: nothing after it can be trusted
     * to reach a C-string consumer intact. */
    if (len && memchr(line, '\0', len))
        return SMTPKIT_ERR_NUL;

    v = p;
    while (p < end && *p != ' ')
        p++;
    cmd->verb_text.len = (size_t)(p - v);
    verb = verb_lookup(v, (size_t)(p - v));
    if (verb == SMTPKIT_VERB_UNKNOWN) {
        for (q = v; q < p; q++) {
            if ((unsigned char)*q >= 0x80)
                return SMTPKIT_ERR_NON_ASCII;
        }
        return SMTPKIT_ERR_CMD_UNKNOWN;
    }
    cmd->verb = verb;
    /* Runs of spaces after the verb and trailing spaces are tolerated
     * (RFC 5321 4.1.1 wants one SP; many clients differ, nothing is
     * ambiguous). */
    p = skip_sp(p, end);
    while (end > p && end[-1] == ' ')
        end--;
    cmd->arg.ptr = p;
    cmd->arg.len = (size_t)(end - p);

    switch (verb) {
    case SMTPKIT_VERB_HELO:
    case SMTPKIT_VERB_EHLO:
    case SMTPKIT_VERB_LHLO:
        /* RFC 5321 4.1.1.1: Domain / address-literal. Lenient: any run of
         * visible characters, since clients call themselves many things;
         * the application judges the name. No spaces or controls. */
        if (p == end)
            return SMTPKIT_ERR_CMD_SYNTAX;
        q = scan_text(p, end, SMTPKIT__C_VCHAR, utf8);
        if (q != end)
            return fail_kind(q, end, utf8, SMTPKIT_ERR_CMD_SYNTAX);
        return 0;
    case SMTPKIT_VERB_MAIL:
    case SMTPKIT_VERB_RCPT:
        return parse_mail_rcpt(p, end, flags, cmd, where);
    case SMTPKIT_VERB_DATA:
    case SMTPKIT_VERB_RSET:
    case SMTPKIT_VERB_QUIT:
    case SMTPKIT_VERB_STARTTLS:
        /* RFC 5321 4.1.1: "DATA foo" is a 501 syntax error; RFC 3207 4
         * likewise for STARTTLS. */
        if (p != end)
            return fail_kind(p, end, 0, SMTPKIT_ERR_CMD_SYNTAX);
        return 0;
    case SMTPKIT_VERB_VRFY:
    case SMTPKIT_VERB_EXPN:
        if (p == end)
            return SMTPKIT_ERR_CMD_SYNTAX;
        /* fall through */
    case SMTPKIT_VERB_HELP:
    case SMTPKIT_VERB_NOOP:
        q = scan_text(p, end, SMTPKIT__C_PRINT, utf8);
        if (q != end)
            return fail_kind(q, end, utf8, SMTPKIT_ERR_CMD_SYNTAX);
        return 0;
    case SMTPKIT_VERB_BDAT:
        return parse_bdat(p, end, cmd);
    case SMTPKIT_VERB_AUTH:
        return parse_auth(p, end, cmd);
    case SMTPKIT_VERB_UNKNOWN:
        break;
    }
    return SMTPKIT_ERR_CMD_UNKNOWN;
}

int smtpkit_command_parse(const char *line, size_t len, unsigned flags, smtpkit_command *cmd)
{
    int where;
    if (!cmd || (!line && len))
        return SMTPKIT_ERR_INVALID_ARG;
    if (!line)
        line = "";
    return parse_impl(line, len, flags, cmd, &where);
}

/* ---------------------------------------------------------------- replies */

static int reply_for(int err, int where, int *code, const char **esc, const char **text)
{
    int c;
    const char *e, *t;
    switch (err) {
    case SMTPKIT_ERR_CMD_UNKNOWN: c = 500; e = "5.5.1"; t = "Command not recognized"; break;
    case SMTPKIT_ERR_CMD_SYNTAX:
        c = 501; e = "5.5.4"; t = "Syntax error in parameters or arguments"; break;
    case SMTPKIT_ERR_CMD_PATH: c = 501; e = "5.1.3"; t = "Bad address syntax"; break;
    case SMTPKIT_ERR_CMD_PARAM:
        c = 555; e = "5.5.4"; t = "Malformed or unrecognized parameter"; break;
    case SMTPKIT_ERR_CMD_TOO_MANY_PARAMS: c = 555; e = "5.5.4"; t = "Too many parameters"; break;
    case SMTPKIT_ERR_LINE_TOO_LONG: c = 500; e = "5.5.6"; t = "Line too long"; break;
    case SMTPKIT_ERR_NUL: c = 500; e = "5.5.2"; t = "NUL character not allowed"; break;
    case SMTPKIT_ERR_NON_ASCII:
        if (where == WHERE_PATH) {
            c = 553; e = "5.6.7"; t = "Non-ASCII address requires SMTPUTF8";
        } else {
            c = 500; e = "5.5.2"; t = "8-bit character not allowed";
        }
        break;
    default: return SMTPKIT_ERR_INVALID_ARG;
    }
    if (code)
        *code = c;
    if (esc)
        *esc = e;
    if (text)
        *text = t;
    return 0;
}

int smtpkit_command_error_reply(int err, int *code, const char **esc, const char **text)
{
    return reply_for(err, WHERE_PATH, code, esc, text);
}

int smtpkit_command_error_reply_line(int err, const char *line, size_t len, unsigned flags,
                                     int *code, const char **esc, const char **text)
{
    int where = WHERE_PATH;
    if (err == SMTPKIT_ERR_NON_ASCII && line) {
        smtpkit_command cmd;
        if (parse_impl(line, len, flags, &cmd, &where) != SMTPKIT_ERR_NON_ASCII)
            where = WHERE_PATH;
    }
    return reply_for(err, where, code, esc, text);
}

const smtpkit_param *smtpkit_command_param(const smtpkit_command *cmd, const char *key)
{
    unsigned i;
    if (!cmd || !key)
        return NULL;
    for (i = 0; i < cmd->nparams && i < SMTPKIT_MAX_PARAMS; i++) {
        if (smtpkit__ieq(cmd->params[i].key.ptr, cmd->params[i].key.len, key))
            return &cmd->params[i];
    }
    return NULL;
}

/* ---------------------------------------------------------------- push parser */

void smtpkit_command_parser_init(smtpkit_command_parser *p, const smtpkit_command_callbacks *cb,
                                 void *user)
{
    if (!p)
        return;
    p->_cb = cb;
    p->_user = user;
    p->_flags = 0;
    p->_max_line = SMTPKIT_COMMAND_LINE_MAX;
    p->_len = 0;
    p->_skipping = 0;
    p->_paused = 0;
    p->_err = 0;
    p->_pos = 0;
    p->_discard = 0;
    memset(&p->_cmd, 0, sizeof p->_cmd);
}

void smtpkit_command_parser_set_flags(smtpkit_command_parser *p, unsigned flags)
{
    if (p)
        p->_flags = flags;
}

unsigned smtpkit_command_parser_flags(const smtpkit_command_parser *p)
{
    return p ? p->_flags : 0;
}

void smtpkit_command_parser_set_max_line(smtpkit_command_parser *p, size_t max)
{
    if (!p)
        return;
    if (max > SMTPKIT_COMMAND_LINE_MAX)
        max = SMTPKIT_COMMAND_LINE_MAX;
    if (max < 8)
        max = 8;
    p->_max_line = max;
}

int smtpkit_command_parser_resume(smtpkit_command_parser *p)
{
    if (!p || !p->_paused)
        return SMTPKIT_ERR_STATE;
    p->_paused = 0;
    return 0;
}

void smtpkit_command_parser_reset(smtpkit_command_parser *p)
{
    if (!p)
        return;
    p->_len = 0;
    p->_skipping = 0;
    p->_discard = 1; /* seen by a feed that is running a callback */
}

size_t smtpkit_command_parser_pending(const smtpkit_command_parser *p)
{
    return p ? p->_len : 0;
}

int smtpkit_command_parser_error(const smtpkit_command_parser *p)
{
    return p ? p->_err : SMTPKIT_ERR_INVALID_ARG;
}

/* Run the callback for one complete line (CR already stripped). Returns
 * 0 to go on, 1 when paused, negative when a callback aborted. */
static int deliver(smtpkit_command_parser *p, const char *line, size_t len)
{
    const smtpkit_command_callbacks *cb = p->_cb;
    smtpkit_view v;
    int rc;
    v.ptr = line;
    v.len = len;
    if (len > p->_max_line - 2) {
        rc = SMTPKIT_ERR_LINE_TOO_LONG;
    } else {
        rc = smtpkit_command_parse(line, len, p->_flags, &p->_cmd);
    }
    if (rc == 0) {
        rc = (cb && cb->on_command) ? cb->on_command(p->_user, &p->_cmd, v) : 0;
    } else {
        if (rc == SMTPKIT_ERR_LINE_TOO_LONG)
            v.len = 0;
        rc = (cb && cb->on_error) ? cb->on_error(p->_user, rc, v) : 0;
    }
    if (rc < 0) {
        p->_err = SMTPKIT_ERR_CALLBACK;
        return -1;
    }
    if (rc == SMTPKIT_PAUSE) {
        p->_paused = 1;
        return 1;
    }
    return 0;
}

smtpkit_ssize smtpkit_command_parser_feed(smtpkit_command_parser *p, const char *data, size_t len)
{
    size_t i = 0;
    int rc = 0;

    if (!p || (!data && len))
        return SMTPKIT_ERR_INVALID_ARG;
    if (p->_err)
        return p->_err;
    if (p->_paused)
        return SMTPKIT_ERR_PAUSED;
    p->_discard = 0;

    while (i < len && rc == 0) {
        const char *s = data + i, *lf;
        size_t rem = len - i, n;

        lf = (const char *)memchr(s, '\n', rem);
        if (p->_skipping) {
            /* the tail of an over-long line, already reported */
            if (!lf) {
                i = len;
                break;
            }
            i += (size_t)(lf - s) + 1;
            p->_skipping = 0;
            continue;
        }
        if (!lf) {
            /* a partial line: keep it, unless it is already too long
             * (at most max-1 octets can still end in CRLF within max) */
            if (p->_len + rem > p->_max_line - 1) {
                p->_len = 0;
                p->_skipping = 1;
                i = len;
                rc = deliver(p, p->_buf, SMTPKIT_COMMAND_LINE_MAX);
            } else {
                memcpy(p->_buf + p->_len, s, rem);
                p->_len += rem;
                i = len;
            }
            break;
        }
        n = (size_t)(lf - s);
        i += n + 1;
        if (p->_len) {
            if (p->_len + n > p->_max_line - 1) {
                p->_len = 0;
                rc = deliver(p, p->_buf, SMTPKIT_COMMAND_LINE_MAX);
            } else {
                size_t ll;
                memcpy(p->_buf + p->_len, s, n);
                ll = p->_len + n;
                p->_len = 0;
                if (ll && p->_buf[ll - 1] == '\r')
                    ll--;
                rc = deliver(p, p->_buf, ll);
            }
        } else {
            /* the whole line is in the caller's data: parse it in place */
            if (n && s[n - 1] == '\r')
                n--;
            rc = deliver(p, s, n);
        }
        if (p->_discard)
            break;
    }
    if (p->_discard) {
        /* reset() from a callback: the rest of this input is dropped too
         * (STARTTLS, CVE-2011-0411) */
        p->_discard = 0;
        i = len;
    }
    p->_pos += i;
    if (rc < 0)
        return SMTPKIT_ERR_CALLBACK;
    return (smtpkit_ssize)i;
}
