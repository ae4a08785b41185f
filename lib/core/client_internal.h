/* Private state of the client session (client.c, client_envelope.c) and
 * the helpers the io runner shares. Not installed. */
#ifndef SMTPKIT_CLIENT_INTERNAL_H
#define SMTPKIT_CLIENT_INTERNAL_H

#include "internal.h"
#include "smtpkit/client.h"
#include "smtpkit/data.h"
#include "smtpkit/reply.h"

/* Longest command line we build: RCPT TO:<254 octets> NOTIFY=... plus an
 * ORCPT of up to 500 characters (RFC 3461 4.2) and CRLF. RFC 5321 4.5.3.1.4
 * lets each extension add to the 512-octet base. */
#define SMTPKIT__CLIENT_CMD_MAX 1024
/* Commands in flight (RFC 2920: replies come back in order). Bounded so a
 * blocking runner that writes before it reads can never fill both socket
 * buffers with replies nobody reads. */
#define SMTPKIT__CLIENT_PEND_MAX 128
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets including "<" and ">". */
#define SMTPKIT__MAILBOX_MAX 254
/* RFC 3461 4.4 and 4.2. */
#define SMTPKIT__ENVID_MAX 100
#define SMTPKIT__ORCPT_MAX 500
/* Bodies of known size up to this are scanned for 8-bit bytes so BODY= is
 * declared exactly (RFC 6152); larger ones are scanned only when needed. */
#define SMTPKIT__SCAN_LIMIT (1024 * 1024)

/* One recipient as stored in the envelope store; offsets from the tx base. */
typedef struct smtpkit__rcpt {
    uint32_t mb_off, mb_len;
    uint32_t orcpt_off, orcpt_len; /* already "rfc822;xtext" encoded */
    uint8_t notify;
    uint8_t state; /* 0 = no reply yet, 1 = accepted, 2 = refused */
} smtpkit__rcpt;

/* Size of the envelope-store part of one envelope (0 when invalid) and the
 * copy into it; both in client_envelope.c. */
int smtpkit__envelope_measure(const smtpkit_envelope *env, size_t *bytes);
typedef struct smtpkit__env_layout {
    uint32_t from_off, from_len;   /* reverse path */
    uint32_t envid_off, envid_len; /* xtext-encoded ENVID, len 0 = none */
    int utf8;                      /* a non-ASCII byte in an address */
} smtpkit__env_layout;
/* The recipient records are at offset 0 of `dst`, then the strings. */
void smtpkit__envelope_store(const smtpkit_envelope *env, char *dst, smtpkit__env_layout *lay);

/* The duration of the timer that runs now, in ms (0 = none): the io runner
 * uses it as the read/write timeout when the transport has no clock. */
uint32_t smtpkit__client_timer_ms(const smtpkit_client *c);

#endif /* SMTPKIT_CLIENT_INTERNAL_H */
