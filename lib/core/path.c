/* The RFC 5321 4.1.2 path grammar, RFC 6531 3.3 UTF-8 extensions, and
 * smtpkit_mailbox_validate(). See path.h. */
#include "path.h"

/* ---------------------------------------------------------------- classes */

#define SK_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define SK_ALPHA(c) (((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z'))
#define SK_ALNUM(c) (SK_DIGIT(c) || SK_ALPHA(c))
#define SK_ANGLE(c) ((c) == '<' || (c) == '>')
/* RFC 5321 4.1.2 atext (RFC 5322 3.2.3). */
#define SK_ATEXT(c)                                                                            \
    (SK_ALNUM(c) || (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' ||      \
     (c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || (c) == '/' || (c) == '=' ||      \
     (c) == '?' || (c) == '^' || (c) == '_' || (c) == '`' || (c) == '{' || (c) == '|' ||       \
     (c) == '}' || (c) == '~')
#define SK_HEX(c) (SK_DIGIT(c) || ((c) >= 'A' && (c) <= 'F') || ((c) >= 'a' && (c) <= 'f'))
/* qtextSMTP = %d32-33 / %d35-91 / %d93-126; '<' and '>' are refused as well
 * (see command.h): a downstream parser that looks for the first '>' must
 * never see the path end inside a local part. */
#define SK_QTEXT(c) ((((c) >= 32 && (c) <= 33) || ((c) >= 35 && (c) <= 91) || ((c) >= 93 && (c) <= 126)) && !SK_ANGLE(c))
#define SK_QPAIR(c) ((c) >= 32 && (c) <= 126 && !SK_ANGLE(c))
/* dcontent = %d33-90 / %d94-126 (general address literal), same '<'/'>' rule. */
#define SK_DCONT(c) ((((c) >= 33 && (c) <= 90) || ((c) >= 94 && (c) <= 126)) && !SK_ANGLE(c))
#define SK_VALUE(c) (((c) >= 33 && (c) <= 60) || ((c) >= 62 && (c) <= 126))
#define SK_B64(c) (SK_ALNUM(c) || (c) == '+' || (c) == '/')

#define SK_CLS(c)                                                                              \
    (uint16_t)((SK_ATEXT(c) ? SMTPKIT__C_ATEXT : 0u) | (SK_ALNUM(c) ? SMTPKIT__C_LETDIG : 0u) | \
               ((SK_ALNUM(c) || (c) == '-') ? SMTPKIT__C_LDH : 0u) |                           \
               (SK_HEX(c) ? SMTPKIT__C_HEX : 0u) | (SK_DIGIT(c) ? SMTPKIT__C_DIGIT : 0u) |      \
               (SK_QTEXT(c) ? SMTPKIT__C_QTEXT : 0u) | (SK_QPAIR(c) ? SMTPKIT__C_QPAIR : 0u) |  \
               (SK_DCONT(c) ? SMTPKIT__C_DCONT : 0u) | (SK_VALUE(c) ? SMTPKIT__C_VALUE : 0u) |  \
               (((c) >= 33 && (c) <= 126) ? SMTPKIT__C_VCHAR : 0u) |                           \
               (((c) >= 32 && (c) <= 126) ? SMTPKIT__C_PRINT : 0u) |                           \
               (SK_B64(c) ? SMTPKIT__C_B64 : 0u) |                                             \
               ((SK_ALNUM(c) || (c) == '-' || (c) == '_') ? SMTPKIT__C_SASL : 0u))
#define SK_R4(n) SK_CLS(n), SK_CLS((n) + 1), SK_CLS((n) + 2), SK_CLS((n) + 3)
#define SK_R16(n) SK_R4(n), SK_R4((n) + 4), SK_R4((n) + 8), SK_R4((n) + 12)
#define SK_R64(n) SK_R16(n), SK_R16((n) + 16), SK_R16((n) + 32), SK_R16((n) + 48)

const uint16_t smtpkit__cls[256] = {SK_R64(0), SK_R64(64), SK_R64(128), SK_R64(192)};

/* ---------------------------------------------------------------- UTF-8 */

size_t smtpkit__utf8_len(const char *p, const char *end)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t n = (size_t)(end - p);
    unsigned c = u[0];
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        return (n >= 2 && (u[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3)
            return 0;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* UTF-16 surrogates */
        return (u[1] >= lo && u[1] <= hi && (u[2] & 0xC0) == 0x80) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4)
            return 0;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
        return (u[1] >= lo && u[1] <= hi && (u[2] & 0xC0) == 0x80 && (u[3] & 0xC0) == 0x80) ? 4
                                                                                            : 0;
    }
    return 0; /* ASCII, continuation byte, C0/C1 overlong leads, F5..FF */
}

/* One UTF8-non-ascii character at p when x allows it; 0 otherwise. */
static size_t utf8_at(smtpkit__pctx *x, const char *p)
{
    size_t n;
    if (!x->utf8 || (unsigned char)*p < 0x80)
        return 0;
    n = smtpkit__utf8_len(p, x->end);
    if (n)
        x->saw_utf8 = 1;
    return n;
}

static const char *fail_at(smtpkit__pctx *x, const char *p)
{
    x->fail = p;
    return NULL;
}

/* ---------------------------------------------------------------- local part */

/* Dot-string = Atom *("." Atom); Atom = 1*atext (RFC 6531: atext =/ UTF8-non-ascii). */
static const char *p_dot_string(smtpkit__pctx *x, const char *p)
{
    const char *end = x->end;
    for (;;) {
        const char *a = p;
        while (p < end) {
            size_t n;
            if (smtpkit__is((unsigned char)*p, SMTPKIT__C_ATEXT))
                p++;
            else if ((n = utf8_at(x, p)) != 0)
                p += n;
            else
                break;
        }
        if (p == a)
            return fail_at(x, p);
        if (p < end && *p == '.') {
            p++;
            continue;
        }
        return p;
    }
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE (RFC 6531: qtextSMTP =/ UTF8-non-ascii). */
static const char *p_quoted(smtpkit__pctx *x, const char *p)
{
    const char *end = x->end;
    p++; /* DQUOTE */
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        size_t n;
        if (c == '"')
            return p + 1;
        if (c == '\\') {
            /* quoted-pairSMTP = %d92 %d32-126 */
            if (p + 1 < end && smtpkit__is((unsigned char)p[1], SMTPKIT__C_QPAIR)) {
                p += 2;
                continue;
            }
            return fail_at(x, p + 1);
        }
        if (smtpkit__is(c, SMTPKIT__C_QTEXT))
            p++;
        else if ((n = utf8_at(x, p)) != 0)
            p += n;
        else
            return fail_at(x, p);
    }
    return fail_at(x, p);
}

static const char *p_local(smtpkit__pctx *x, const char *p)
{
    if (p < x->end && *p == '"')
        return p_quoted(x, p);
    return p_dot_string(x, p);
}

/* ---------------------------------------------------------------- domain */

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str]:
 * labels start and end with a letter or digit (RFC 6531: or a U-label,
 * whose UTF-8 characters count as letters here). */
static const char *p_domain(smtpkit__pctx *x, const char *p)
{
    const char *end = x->end;
    for (;;) {
        const char *a = p;
        int hyphen = 0;
        while (p < end) {
            unsigned char c = (unsigned char)*p;
            size_t n;
            if (smtpkit__is(c, SMTPKIT__C_LDH)) {
                hyphen = c == '-';
                p++;
            } else if ((n = utf8_at(x, p)) != 0) {
                hyphen = 0;
                p += n;
            } else {
                break;
            }
        }
        if (p == a)
            return fail_at(x, p);
        if (*a == '-')
            return fail_at(x, a);
        if (hyphen)
            return fail_at(x, p);
        if (p < end && *p == '.') {
            p++;
            continue;
        }
        return p;
    }
}

/* Snum 3("." Snum), Snum = 1*3DIGIT with a value of 0..255. */
static const char *p_ipv4(const char *p, const char *end)
{
    int i;
    for (i = 0; i < 4; i++) {
        unsigned v = 0, n = 0;
        if (i) {
            if (p >= end || *p != '.')
                return NULL;
            p++;
        }
        while (p < end && n < 3 && smtpkit__is_digit((unsigned char)*p)) {
            v = v * 10 + (unsigned)(*p - '0');
            p++;
            n++;
        }
        if (n == 0 || v > 255 || (p < end && smtpkit__is_digit((unsigned char)*p)))
            return NULL;
    }
    return p;
}

/*
 * IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp (RFC 5321
 * 4.1.3): 8 groups; or "::" with at most 6 groups besides it; or 6 groups
 * and an IPv4 tail; or "::" with at most 4 groups besides it and the IPv4
 * tail. (RFC 5321 is stricter than RFC 4291 here: "::" stands for at least
 * two groups, so "1:2:3:4:5:6::7" is refused.)
 */
static const char *p_ipv6(const char *p, const char *end)
{
    int groups = 0, dbl = 0;
    if (end - p >= 2 && p[0] == ':' && p[1] == ':') {
        dbl = 1;
        p += 2;
        if (p == end || *p == ']')
            return p;
    }
    for (;;) {
        const char *q = p;
        while (q < end && q - p < 5 && smtpkit__is((unsigned char)*q, SMTPKIT__C_HEX))
            q++;
        if (q < end && *q == '.') {
            /* the IPv4 tail ends the address */
            if (dbl ? groups > 4 : groups != 6)
                return NULL;
            return p_ipv4(p, end);
        }
        if (q == p || q - p > 4)
            return NULL;
        p = q;
        groups++;
        if (p < end && *p == ':') {
            if (end - p >= 2 && p[1] == ':') {
                if (dbl)
                    return NULL;
                dbl = 1;
                p += 2;
                if (p == end || *p == ']')
                    break;
                continue;
            }
            p++;
            continue;
        }
        break;
    }
    if (dbl ? groups > 6 : groups != 8)
        return NULL;
    return p;
}

/* A literal never holds UTF-8, not even under SMTPUTF8: when it has an
 * 8-bit byte, that is where it fails (so it reads as NON_ASCII without
 * SMTPUTF8), else at `at`. */
static const char *literal_fail(smtpkit__pctx *x, const char *start, const char *at)
{
    const char *q;
    for (q = start + 1; q < x->end && *q != ']'; q++) {
        if ((unsigned char)*q >= 0x80)
            return fail_at(x, q);
    }
    return fail_at(x, at);
}

/* address-literal = "[" ( IPv4 / "IPv6:" IPv6-addr / Standardized-tag ":" 1*dcontent ) "]" */
static const char *p_literal(smtpkit__pctx *x, const char *p)
{
    const char *end = x->end, *q, *start = p;
    p++; /* '[' */
    if (smtpkit__iprefix(p, (size_t)(end - p), "IPv6:")) {
        q = p_ipv6(p + 5, end);
    } else if ((q = p_ipv4(p, end)) != NULL && q < end && *q == ']') {
        /* IPv4-address-literal */
    } else {
        /* General-address-literal: Standardized-tag is an Ldh-str. */
        int hyphen = 0;
        q = p;
        while (q < end && smtpkit__is((unsigned char)*q, SMTPKIT__C_LDH)) {
            hyphen = *q == '-';
            q++;
        }
        if (q == p || hyphen || q >= end || *q != ':')
            return literal_fail(x, start, q);
        q++;
        p = q;
        while (q < end && smtpkit__is((unsigned char)*q, SMTPKIT__C_DCONT))
            q++;
        if (q == p)
            return literal_fail(x, start, q);
    }
    if (!q)
        return literal_fail(x, start, start);
    if (q >= end || *q != ']')
        return literal_fail(x, start, q);
    return q + 1;
}

/* ---------------------------------------------------------------- mailbox */

/* RFC 5321 4.5.3.1.1-3: local part 64 octets, domain 255, path 256
 * including "<" and ">", so a mailbox of at most 254. */
#define LOCAL_MAX 64
#define DOMAIN_MAX 255
#define MAILBOX_MAX 254

/* Mailbox = Local-part "@" ( Domain / address-literal ). `bare` (may be NULL)
 * reports a local part not followed by '@' (RCPT TO:<Postmaster>): then the
 * local part is returned with an empty domain and the caller decides. */
static const char *p_mailbox(smtpkit__pctx *x, const char *p, smtpkit_view *local,
                             smtpkit_view *domain, int *bare)
{
    const char *start = p, *q, *d;
    q = p_local(x, p);
    if (!q)
        return NULL;
    local->ptr = p;
    local->len = (size_t)(q - p);
    domain->ptr = q;
    domain->len = 0;
    if (q >= x->end || *q != '@') {
        if (bare) {
            *bare = 1;
            return q;
        }
        return fail_at(x, q);
    }
    d = q + 1;
    if (d < x->end && *d == '[')
        q = p_literal(x, d);
    else
        q = p_domain(x, d);
    if (!q)
        return NULL;
    domain->ptr = d;
    domain->len = (size_t)(q - d);
    if (local->len > LOCAL_MAX || domain->len > DOMAIN_MAX || (size_t)(q - start) > MAILBOX_MAX) {
        x->fail = NULL;
        return NULL;
    }
    return q;
}

const char *smtpkit__path_parse(smtpkit__pctx *x, const char *p, int rcpt, smtpkit_path *out)
{
    const char *end = x->end, *q;
    int bare = 0;

    out->mailbox.ptr = out->local.ptr = out->domain.ptr = p;
    out->mailbox.len = out->local.len = out->domain.len = 0;
    out->is_null = out->is_postmaster = out->had_route = out->utf8 = 0;
    x->saw_utf8 = 0;
    p++; /* '<' */
    if (p < end && *p == '>') {
        out->is_null = 1;
        out->mailbox.ptr = out->local.ptr = out->domain.ptr = p;
        return p + 1;
    }
    /* A-d-l = At-domain *( "," At-domain ) ":" -- RFC 5321 4.1.2 and C:
     * accepted and ignored. At-domain is "@" Domain, no literal. */
    if (p < end && *p == '@') {
        for (;;) {
            p = p_domain(x, p + 1);
            if (!p)
                return NULL;
            if (p < end && *p == ',') {
                p++;
                if (p >= end || *p != '@')
                    return fail_at(x, p);
                continue;
            }
            if (p < end && *p == ':') {
                p++;
                break;
            }
            return fail_at(x, p);
        }
        out->had_route = 1;
    }
    q = p_mailbox(x, p, &out->local, &out->domain, rcpt && !out->had_route ? &bare : NULL);
    if (!q)
        return NULL;
    if (bare) {
        /* RFC 5321 4.1.1.3 / 4.5.1: "RCPT TO:<Postmaster>" without a domain,
         * case-insensitive, unquoted. */
        if (!smtpkit__ieq(out->local.ptr, out->local.len, "postmaster"))
            return fail_at(x, q);
        out->is_postmaster = 1;
    }
    if (q >= end || *q != '>')
        return fail_at(x, q);
    out->mailbox.ptr = p;
    out->mailbox.len = (size_t)(q - p);
    out->utf8 = x->saw_utf8;
    return q + 1;
}

/* ---------------------------------------------------------------- public */

static int validate(const char *m, size_t len, int utf8)
{
    smtpkit__pctx x;
    smtpkit_view local, domain;
    const char *q;
    x.end = m + len;
    x.fail = NULL;
    x.utf8 = utf8;
    x.saw_utf8 = 0;
    q = p_mailbox(&x, m, &local, &domain, NULL);
    if (q == x.end)
        return 0;
    if (q)
        x.fail = q; /* trailing garbage */
    if (!utf8 && x.fail && x.fail < x.end && (unsigned char)*x.fail >= 0x80)
        return SMTPKIT_ERR_NON_ASCII;
    return SMTPKIT_ERR_BAD_ADDRESS;
}

int smtpkit_mailbox_validate(const char *mailbox, size_t len, int utf8)
{
    size_t i;
    if (!mailbox || len == 0)
        return SMTPKIT_ERR_BAD_ADDRESS;
    /* DESIGN: no input to the API can inject a command; checked before the
     * grammar so the caller learns why. */
    for (i = 0; i < len; i++) {
        char c = mailbox[i];
        if (c == '\r' || c == '\n' || c == '\0' || c == '<' || c == '>')
            return SMTPKIT_ERR_INJECTION;
    }
    return validate(mailbox, len, utf8);
}
