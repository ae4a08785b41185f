/* MD5 (RFC 1321) and HMAC-MD5 (RFC 2104), private to the core: CRAM-MD5
 * (RFC 2195) is their only user. MD5 is broken for collision resistance;
 * HMAC-MD5 as used by CRAM-MD5 does not depend on that property. */
#ifndef SMTPKIT_MD5_H
#define SMTPKIT_MD5_H

#include <stddef.h>
#include <stdint.h>

#define SMTPKIT__MD5_DIGEST 16
#define SMTPKIT__MD5_BLOCK 64

typedef struct smtpkit__md5_ctx {
    uint32_t h[4];
    uint64_t nbytes;          /* total message length so far */
    unsigned char buf[SMTPKIT__MD5_BLOCK];
    size_t nbuf;              /* bytes pending in buf */
} smtpkit__md5_ctx;

void smtpkit__md5_init(smtpkit__md5_ctx *c);
void smtpkit__md5_update(smtpkit__md5_ctx *c, const void *data, size_t len);
void smtpkit__md5_final(smtpkit__md5_ctx *c, unsigned char out[SMTPKIT__MD5_DIGEST]);
void smtpkit__md5(const void *data, size_t len, unsigned char out[SMTPKIT__MD5_DIGEST]);

/* HMAC-MD5 of msg under key (any length). */
void smtpkit__hmac_md5(const void *key, size_t keylen, const void *msg, size_t msglen,
                       unsigned char out[SMTPKIT__MD5_DIGEST]);

/* Overwrite n bytes with zeros in a way the compiler may not elide
 * (credentials and key material are wiped after use). */
void smtpkit__wipe(void *p, size_t n);

#endif /* SMTPKIT_MD5_H */
