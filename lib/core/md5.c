/* MD5 (RFC 1321) and HMAC-MD5 (RFC 2104) for CRAM-MD5 (RFC 2195). Written
 * from the RFC's description; little-endian words independent of the host. */
#include <string.h>

#include "md5.h"

void smtpkit__wipe(void *p, size_t n)
{
    /* Writes through a volatile pointer are observable behaviour, so the
     * compiler cannot drop them as dead stores before free/return. */
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--)
        *v++ = 0;
}

#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define F(x, y, z) (((x) & (y)) | (~(x) & (z)))
#define G(x, y, z) (((x) & (z)) | ((y) & ~(z)))
#define H(x, y, z) ((x) ^ (y) ^ (z))
#define I(x, y, z) ((y) ^ ((x) | ~(z)))
#define STEP(f, a, b, c, d, x, t, s)                                                  \
    do {                                                                              \
        (a) += f((b), (c), (d)) + (x) + (uint32_t)(t);                                \
        (a) = ROTL((a) & 0xffffffffu, (s)) + (b);                                     \
        (a) &= 0xffffffffu;                                                           \
    } while (0)

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* RFC 1321 3.4: the four rounds of sixteen operations on one 512-bit block;
 * the constants are floor(abs(sin(i)) * 2^32). */
static void md5_block(uint32_t h[4], const unsigned char *blk)
{
    uint32_t x[16], a = h[0], b = h[1], c = h[2], d = h[3];
    int i;
    for (i = 0; i < 16; i++)
        x[i] = get_le32(blk + 4 * i);

    STEP(F, a, b, c, d, x[0], 0xd76aa478, 7);
    STEP(F, d, a, b, c, x[1], 0xe8c7b756, 12);
    STEP(F, c, d, a, b, x[2], 0x242070db, 17);
    STEP(F, b, c, d, a, x[3], 0xc1bdceee, 22);
    STEP(F, a, b, c, d, x[4], 0xf57c0faf, 7);
    STEP(F, d, a, b, c, x[5], 0x4787c62a, 12);
    STEP(F, c, d, a, b, x[6], 0xa8304613, 17);
    STEP(F, b, c, d, a, x[7], 0xfd469501, 22);
    STEP(F, a, b, c, d, x[8], 0x698098d8, 7);
    STEP(F, d, a, b, c, x[9], 0x8b44f7af, 12);
    STEP(F, c, d, a, b, x[10], 0xffff5bb1, 17);
    STEP(F, b, c, d, a, x[11], 0x895cd7be, 22);
    STEP(F, a, b, c, d, x[12], 0x6b901122, 7);
    STEP(F, d, a, b, c, x[13], 0xfd987193, 12);
    STEP(F, c, d, a, b, x[14], 0xa679438e, 17);
    STEP(F, b, c, d, a, x[15], 0x49b40821, 22);

    STEP(G, a, b, c, d, x[1], 0xf61e2562, 5);
    STEP(G, d, a, b, c, x[6], 0xc040b340, 9);
    STEP(G, c, d, a, b, x[11], 0x265e5a51, 14);
    STEP(G, b, c, d, a, x[0], 0xe9b6c7aa, 20);
    STEP(G, a, b, c, d, x[5], 0xd62f105d, 5);
    STEP(G, d, a, b, c, x[10], 0x02441453, 9);
    STEP(G, c, d, a, b, x[15], 0xd8a1e681, 14);
    STEP(G, b, c, d, a, x[4], 0xe7d3fbc8, 20);
    STEP(G, a, b, c, d, x[9], 0x21e1cde6, 5);
    STEP(G, d, a, b, c, x[14], 0xc33707d6, 9);
    STEP(G, c, d, a, b, x[3], 0xf4d50d87, 14);
    STEP(G, b, c, d, a, x[8], 0x455a14ed, 20);
    STEP(G, a, b, c, d, x[13], 0xa9e3e905, 5);
    STEP(G, d, a, b, c, x[2], 0xfcefa3f8, 9);
    STEP(G, c, d, a, b, x[7], 0x676f02d9, 14);
    STEP(G, b, c, d, a, x[12], 0x8d2a4c8a, 20);

    STEP(H, a, b, c, d, x[5], 0xfffa3942, 4);
    STEP(H, d, a, b, c, x[8], 0x8771f681, 11);
    STEP(H, c, d, a, b, x[11], 0x6d9d6122, 16);
    STEP(H, b, c, d, a, x[14], 0xfde5380c, 23);
    STEP(H, a, b, c, d, x[1], 0xa4beea44, 4);
    STEP(H, d, a, b, c, x[4], 0x4bdecfa9, 11);
    STEP(H, c, d, a, b, x[7], 0xf6bb4b60, 16);
    STEP(H, b, c, d, a, x[10], 0xbebfbc70, 23);
    STEP(H, a, b, c, d, x[13], 0x289b7ec6, 4);
    STEP(H, d, a, b, c, x[0], 0xeaa127fa, 11);
    STEP(H, c, d, a, b, x[3], 0xd4ef3085, 16);
    STEP(H, b, c, d, a, x[6], 0x04881d05, 23);
    STEP(H, a, b, c, d, x[9], 0xd9d4d039, 4);
    STEP(H, d, a, b, c, x[12], 0xe6db99e5, 11);
    STEP(H, c, d, a, b, x[15], 0x1fa27cf8, 16);
    STEP(H, b, c, d, a, x[2], 0xc4ac5665, 23);

    STEP(I, a, b, c, d, x[0], 0xf4292244, 6);
    STEP(I, d, a, b, c, x[7], 0x432aff97, 10);
    STEP(I, c, d, a, b, x[14], 0xab9423a7, 15);
    STEP(I, b, c, d, a, x[5], 0xfc93a039, 21);
    STEP(I, a, b, c, d, x[12], 0x655b59c3, 6);
    STEP(I, d, a, b, c, x[3], 0x8f0ccc92, 10);
    STEP(I, c, d, a, b, x[10], 0xffeff47d, 15);
    STEP(I, b, c, d, a, x[1], 0x85845dd1, 21);
    STEP(I, a, b, c, d, x[8], 0x6fa87e4f, 6);
    STEP(I, d, a, b, c, x[15], 0xfe2ce6e0, 10);
    STEP(I, c, d, a, b, x[6], 0xa3014314, 15);
    STEP(I, b, c, d, a, x[13], 0x4e0811a1, 21);
    STEP(I, a, b, c, d, x[4], 0xf7537e82, 6);
    STEP(I, d, a, b, c, x[11], 0xbd3af235, 10);
    STEP(I, c, d, a, b, x[2], 0x2ad7d2bb, 15);
    STEP(I, b, c, d, a, x[9], 0xeb86d391, 21);

    h[0] = (h[0] + a) & 0xffffffffu;
    h[1] = (h[1] + b) & 0xffffffffu;
    h[2] = (h[2] + c) & 0xffffffffu;
    h[3] = (h[3] + d) & 0xffffffffu;
    smtpkit__wipe(x, sizeof x);
}

void smtpkit__md5_init(smtpkit__md5_ctx *c)
{
    /* RFC 1321 3.3: initial buffer words A, B, C, D. */
    c->h[0] = 0x67452301u;
    c->h[1] = 0xefcdab89u;
    c->h[2] = 0x98badcfeu;
    c->h[3] = 0x10325476u;
    c->nbytes = 0;
    c->nbuf = 0;
}

void smtpkit__md5_update(smtpkit__md5_ctx *c, const void *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    c->nbytes += len;
    if (c->nbuf) {
        size_t n = SMTPKIT__MD5_BLOCK - c->nbuf;
        if (n > len)
            n = len;
        memcpy(c->buf + c->nbuf, p, n);
        c->nbuf += n;
        p += n;
        len -= n;
        if (c->nbuf < SMTPKIT__MD5_BLOCK)
            return;
        md5_block(c->h, c->buf);
        c->nbuf = 0;
    }
    while (len >= SMTPKIT__MD5_BLOCK) {
        md5_block(c->h, p);
        p += SMTPKIT__MD5_BLOCK;
        len -= SMTPKIT__MD5_BLOCK;
    }
    if (len) {
        memcpy(c->buf, p, len);
        c->nbuf = len;
    }
}

void smtpkit__md5_final(smtpkit__md5_ctx *c, unsigned char out[SMTPKIT__MD5_DIGEST])
{
    /* RFC 1321 3.1/3.2: a 1 bit, zeros to 448 mod 512, then the bit length
     * as a 64-bit little-endian number. */
    uint64_t bits = c->nbytes * 8u;
    unsigned char pad[SMTPKIT__MD5_BLOCK + 8];
    size_t padlen = (c->nbuf < 56) ? 56 - c->nbuf : 120 - c->nbuf;
    int i;
    memset(pad, 0, sizeof pad);
    pad[0] = 0x80;
    for (i = 0; i < 8; i++)
        pad[padlen + (size_t)i] = (unsigned char)(bits >> (8 * i));
    smtpkit__md5_update(c, pad, padlen + 8);
    for (i = 0; i < 4; i++)
        put_le32(out + 4 * i, c->h[i]);
    smtpkit__wipe(c, sizeof *c);
}

void smtpkit__md5(const void *data, size_t len, unsigned char out[SMTPKIT__MD5_DIGEST])
{
    smtpkit__md5_ctx c;
    smtpkit__md5_init(&c);
    smtpkit__md5_update(&c, data, len);
    smtpkit__md5_final(&c, out);
}

void smtpkit__hmac_md5(const void *key, size_t keylen, const void *msg, size_t msglen,
                       unsigned char out[SMTPKIT__MD5_DIGEST])
{
    /* RFC 2104 2: H(K XOR opad, H(K XOR ipad, text)); keys longer than the
     * block are hashed first, shorter ones zero-padded. */
    unsigned char k[SMTPKIT__MD5_BLOCK], pad[SMTPKIT__MD5_BLOCK], inner[SMTPKIT__MD5_DIGEST];
    smtpkit__md5_ctx c;
    size_t i;
    memset(k, 0, sizeof k);
    if (keylen > SMTPKIT__MD5_BLOCK)
        smtpkit__md5(key, keylen, k);
    else if (keylen)
        memcpy(k, key, keylen);

    for (i = 0; i < SMTPKIT__MD5_BLOCK; i++)
        pad[i] = (unsigned char)(k[i] ^ 0x36);
    smtpkit__md5_init(&c);
    smtpkit__md5_update(&c, pad, sizeof pad);
    smtpkit__md5_update(&c, msg, msglen);
    smtpkit__md5_final(&c, inner);

    for (i = 0; i < SMTPKIT__MD5_BLOCK; i++)
        pad[i] = (unsigned char)(k[i] ^ 0x5c);
    smtpkit__md5_init(&c);
    smtpkit__md5_update(&c, pad, sizeof pad);
    smtpkit__md5_update(&c, inner, sizeof inner);
    smtpkit__md5_final(&c, out);

    smtpkit__wipe(k, sizeof k);
    smtpkit__wipe(pad, sizeof pad);
    smtpkit__wipe(inner, sizeof inner);
}
