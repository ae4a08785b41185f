/* Private: the RFC 5321 4.1.2 mailbox / path grammar (with the RFC 6531
 * UTF-8 extensions), shared by the command parser (MAIL/RCPT paths) and
 * smtpkit_mailbox_validate() (the client's check before it puts an address
 * on the wire), so the two can never disagree. Not installed. */
#ifndef SMTPKIT_PATH_H
#define SMTPKIT_PATH_H

#include "internal.h"
#include "smtpkit/command.h"

/* Character classes, one table lookup per byte (smtpkit__cls). */
#define SMTPKIT__C_ATEXT 0x0001u  /* RFC 5321 atext */
#define SMTPKIT__C_LETDIG 0x0002u /* ALPHA / DIGIT */
#define SMTPKIT__C_LDH 0x0004u    /* ALPHA / DIGIT / "-" */
#define SMTPKIT__C_HEX 0x0008u    /* HEXDIG */
#define SMTPKIT__C_DIGIT 0x0010u  /* DIGIT */
#define SMTPKIT__C_QTEXT 0x0020u  /* qtextSMTP without '<' and '>' */
#define SMTPKIT__C_QPAIR 0x0040u  /* second octet of quoted-pairSMTP, without '<' and '>' */
#define SMTPKIT__C_DCONT 0x0080u  /* dcontent without '<' and '>' */
#define SMTPKIT__C_VALUE 0x0100u  /* esmtp-value octet: %d33-60 / %d62-126 */
#define SMTPKIT__C_VCHAR 0x0200u  /* %d33-126 */
#define SMTPKIT__C_PRINT 0x0400u  /* %d32-126 */
#define SMTPKIT__C_B64 0x0800u    /* base64 alphabet (without '=') */
#define SMTPKIT__C_SASL 0x1000u   /* RFC 4422 sasl-mech octet (either case) */

extern const uint16_t smtpkit__cls[256];

static inline int smtpkit__is(unsigned char c, unsigned cls)
{
    return (smtpkit__cls[c] & cls) != 0;
}

/* Length of the well-formed UTF-8 sequence of 2..4 octets starting at p
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), or 0. */
size_t smtpkit__utf8_len(const char *p, const char *end);

/* Grammar context. `fail` is where the grammar stopped on failure (NULL
 * when the failure is not at a byte, e.g. a length limit), so the caller
 * can tell "an 8-bit byte where UTF-8 is not allowed" (NON_ASCII) from a
 * plain syntax error. */
typedef struct smtpkit__pctx {
    const char *end;
    const char *fail;
    int utf8;     /* UTF8-non-ascii allowed (RFC 6531 3.3) */
    int saw_utf8; /* some UTF-8 was accepted */
} smtpkit__pctx;

/*
 * Parse a Path or the null path starting at p (which must point at '<'):
 * "<" [ A-d-l ":" ] Mailbox ">" / "<>"; for RCPT (`rcpt`) also "<Postmaster>".
 * Fills out (all fields). Returns the pointer after '>' or NULL (x->fail).
 * The null path is returned as is_null=1; the caller decides whether it is
 * allowed.
 */
const char *smtpkit__path_parse(smtpkit__pctx *x, const char *p, int rcpt, smtpkit_path *out);

#endif /* SMTPKIT_PATH_H */
