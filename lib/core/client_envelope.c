/* Envelope validation and its copy into the session's envelope store.
 * Everything that will be written into MAIL or RCPT is checked here, before
 * it is queued: nothing a caller passes can add a command to the wire. */
#include "client_internal.h"
#include "smtpkit/command.h"

static const char hexdig[] = "0123456789ABCDEF";

static size_t len_or_strlen(const char *p, size_t n)
{
    return (p && n == 0) ? strlen(p) : n;
}

/* RFC 3461 4: xtext = *( xchar / hexchar ), xchar = "!".."~" except "+"
 * and "="; anything else is "+" and two upper-case hex digits. */
static size_t xtext_len(const char *p, size_t n)
{
    size_t i, len = 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        len += (ch < 33 || ch > 126 || ch == '+' || ch == '=') ? 3 : 1;
    }
    return len;
}

static size_t xtext_put(char *dst, const char *p, size_t n)
{
    size_t i, o = 0;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch < 33 || ch > 126 || ch == '+' || ch == '=') {
            dst[o++] = '+';
            dst[o++] = hexdig[ch >> 4];
            dst[o++] = hexdig[ch & 15];
        } else {
            dst[o++] = (char)ch;
        }
    }
    return o;
}

/* The bytes that can end a command line or a path early: CR, LF, NUL
 * (a new command), '<' and '>' (the end of the path). */
static int has_injection(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '\r' || ch == '\n' || ch == '\0' || ch == '<' || ch == '>')
            return 1;
    }
    return 0;
}

static int check_mailbox(const char *p, size_t n, int is_rcpt)
{
    int r;
    if (!p || n == 0)
        return SMTPKIT_ERR_BAD_ADDRESS;
    if (has_injection(p, n))
        return SMTPKIT_ERR_INJECTION;
    if (n > SMTPKIT__MAILBOX_MAX)
        return SMTPKIT_ERR_BAD_ADDRESS;
    /* RFC 5321 4.5.1: RCPT TO:<Postmaster> without a domain must work. */
    if (is_rcpt && smtpkit__ieq(p, n, "postmaster"))
        return 0;
    r = smtpkit_mailbox_validate(p, n, 1);
    if (r == SMTPKIT_ERR_NON_ASCII)
        r = SMTPKIT_ERR_BAD_ADDRESS; /* invalid UTF-8 under utf8=1 */
    return r;
}

static size_t align8(size_t n) { return (n + 7u) & ~(size_t)7u; }

int smtpkit__envelope_measure(const smtpkit_envelope *env, size_t *bytes)
{
    size_t i, total, n;
    int r;
    if (!env || !env->rcpts || env->nrcpts == 0)
        return SMTPKIT_ERR_INVALID_ARG;
    if (env->flags & ~(unsigned)(SMTPKIT_ENV_7BIT | SMTPKIT_ENV_8BIT | SMTPKIT_ENV_SMTPUTF8))
        return SMTPKIT_ERR_INVALID_ARG;
    if ((env->flags & SMTPKIT_ENV_7BIT) && (env->flags & (SMTPKIT_ENV_8BIT | SMTPKIT_ENV_SMTPUTF8)))
        return SMTPKIT_ERR_INVALID_ARG;
    if ((int)env->ret < (int)SMTPKIT_DSN_RET_NONE || (int)env->ret > (int)SMTPKIT_DSN_RET_HDRS)
        return SMTPKIT_ERR_INVALID_ARG;
    if (env->nrcpts > ((size_t)1 << 20))
        return SMTPKIT_ERR_INVALID_ARG;
    total = align8(env->nrcpts * sizeof(smtpkit__rcpt));

    n = env->from ? len_or_strlen(env->from, env->from_len) : 0;
    if (n > 0) {
        r = check_mailbox(env->from, n, 0);
        if (r)
            return r;
    }
    total += n;

    if (env->envid) {
        n = len_or_strlen(env->envid, env->envid_len);
        if (n == 0)
            return SMTPKIT_ERR_INVALID_ARG;
        if (smtpkit__has_crlfnul(env->envid, n))
            return SMTPKIT_ERR_INJECTION;
        for (i = 0; i < n; i++) {
            /* RFC 3461 4.4: printable US-ASCII. */
            unsigned char ch = (unsigned char)env->envid[i];
            if (ch < 0x20 || ch > 0x7e)
                return SMTPKIT_ERR_INVALID_ARG;
        }
        n = xtext_len(env->envid, n);
        if (n > SMTPKIT__ENVID_MAX)
            return SMTPKIT_ERR_LINE_TOO_LONG;
        total += n;
    }

    for (i = 0; i < env->nrcpts; i++) {
        const smtpkit_rcpt *rc = &env->rcpts[i];
        unsigned nf = rc->notify;
        n = rc->mailbox ? len_or_strlen(rc->mailbox, rc->mailbox_len) : 0;
        r = check_mailbox(rc->mailbox, n, 1);
        if (r)
            return r;
        total += n;
        if (nf & ~(unsigned)(SMTPKIT_DSN_NOTIFY_NEVER | SMTPKIT_DSN_NOTIFY_SUCCESS | SMTPKIT_DSN_NOTIFY_FAILURE |
                             SMTPKIT_DSN_NOTIFY_DELAY))
            return SMTPKIT_ERR_INVALID_ARG;
        /* RFC 3461 4.1: NEVER must appear alone. */
        if ((nf & SMTPKIT_DSN_NOTIFY_NEVER) && (nf & ~(unsigned)SMTPKIT_DSN_NOTIFY_NEVER))
            return SMTPKIT_ERR_INVALID_ARG;
        if (rc->orcpt) {
            n = len_or_strlen(rc->orcpt, rc->orcpt_len);
            if (n == 0)
                return SMTPKIT_ERR_INVALID_ARG;
            if (smtpkit__has_crlfnul(rc->orcpt, n))
                return SMTPKIT_ERR_INJECTION;
            n = 7 + xtext_len(rc->orcpt, n); /* "rfc822;" */
            if (n > SMTPKIT__ORCPT_MAX)
                return SMTPKIT_ERR_LINE_TOO_LONG;
            total += n;
        }
    }
    if (total > 0x7fffffffu)
        return SMTPKIT_ERR_INVALID_ARG;
    if (bytes)
        *bytes = align8(total);
    return 0;
}

static int has_8bit(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return 1;
    return 0;
}

void smtpkit__envelope_store(const smtpkit_envelope *env, char *dst, smtpkit__env_layout *lay)
{
    size_t i, n, off = align8(env->nrcpts * sizeof(smtpkit__rcpt));
    smtpkit__rcpt rec;
    int u = 0;

    n = env->from ? len_or_strlen(env->from, env->from_len) : 0;
    if (n)
        memcpy(dst + off, env->from, n);
    u |= has_8bit(env->from ? env->from : "", n);
    lay->from_off = (uint32_t)off;
    lay->from_len = (uint32_t)n;
    off += n;
    lay->envid_off = (uint32_t)off;
    lay->envid_len = 0;
    if (env->envid) {
        n = xtext_put(dst + off, env->envid, len_or_strlen(env->envid, env->envid_len));
        lay->envid_len = (uint32_t)n;
        off += n;
    }
    for (i = 0; i < env->nrcpts; i++) {
        const smtpkit_rcpt *rc = &env->rcpts[i];
        n = len_or_strlen(rc->mailbox, rc->mailbox_len);
        memset(&rec, 0, sizeof rec);
        memcpy(dst + off, rc->mailbox, n);
        u |= has_8bit(rc->mailbox, n);
        rec.mb_off = (uint32_t)off;
        rec.mb_len = (uint32_t)n;
        off += n;
        if (rc->orcpt) {
            memcpy(dst + off, "rfc822;", 7);
            n = 7 + xtext_put(dst + off + 7, rc->orcpt, len_or_strlen(rc->orcpt, rc->orcpt_len));
            rec.orcpt_off = (uint32_t)off;
            rec.orcpt_len = (uint32_t)n;
            off += n;
        }
        rec.notify = (uint8_t)rc->notify;
        memcpy(dst + i * sizeof rec, &rec, sizeof rec);
    }
    lay->utf8 = u;
}

int smtpkit_envelope_check(const smtpkit_envelope *env)
{
    return smtpkit__envelope_measure(env, NULL);
}
