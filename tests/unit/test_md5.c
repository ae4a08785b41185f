/* MD5 (RFC 1321 A.5 test suite) and HMAC-MD5 (RFC 2104 / RFC 2202 vectors). */
#include "md5.h"
#include "test.h"

static void hexify(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = 0;
}

static const struct {
    const char *msg;
    const char *digest;
} rfc1321[] = {
    {"", "d41d8cd98f00b204e9800998ecf8427e"},
    {"a", "0cc175b9c0f1b6a831c399e269772661"},
    {"abc", "900150983cd24fb0d6963f7d28e17f72"},
    {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
    {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
     "d174ab98d277d9f5a5611c2c9f419d9f"},
    {"1234567890123456789012345678901234567890123456789012345678901234567890123456789"
     "0",
     "57edf4a22be3c955ac49da2e2107b67a"},
};

TEST(md5_rfc1321_suite)
{
    size_t i;
    for (i = 0; i < sizeof rfc1321 / sizeof rfc1321[0]; i++) {
        unsigned char d[16];
        char hex[33];
        smtpkit__md5(rfc1321[i].msg, strlen(rfc1321[i].msg), d);
        hexify(d, 16, hex);
        CHECK_STR(hex, rfc1321[i].digest);
    }
}

/* Feeding the same bytes in any split gives the same digest: covers the
 * partial-block buffering and the padding across the 55/56/64-byte edges. */
TEST(md5_every_split_and_length)
{
    unsigned char msg[200];
    size_t len, cut;
    for (len = 0; len < sizeof msg; len++)
        msg[len] = (unsigned char)(len * 37 + 11);
    for (len = 0; len <= sizeof msg; len++) {
        unsigned char whole[16];
        smtpkit__md5(msg, len, whole);
        for (cut = 0; cut <= len; cut++) {
            unsigned char d[16];
            smtpkit__md5_ctx c;
            smtpkit__md5_init(&c);
            smtpkit__md5_update(&c, msg, cut);
            smtpkit__md5_update(&c, msg + cut, len - cut);
            smtpkit__md5_final(&c, d);
            if (memcmp(d, whole, 16) != 0) {
                CHECK(!"split digest differs");
                return;
            }
        }
    }
    CHECK(1);
}

TEST(md5_million_a)
{
    static char block[1000];
    unsigned char d[16];
    char hex[33];
    smtpkit__md5_ctx c;
    int i;
    memset(block, 'a', sizeof block);
    smtpkit__md5_init(&c);
    for (i = 0; i < 1000; i++)
        smtpkit__md5_update(&c, block, sizeof block);
    smtpkit__md5_final(&c, d);
    hexify(d, 16, hex);
    CHECK_STR(hex, "7707d6ae4e027c70eea2a935c2296f21");
}

TEST(hmac_md5_rfc2104_rfc2202)
{
    unsigned char k16b[16], k16a[16], d50[50], k25[25], cd50[50], k80[80];
    struct {
        const unsigned char *key;
        size_t keylen;
        const void *data;
        size_t datalen;
        const char *mac;
    } v[7];
    size_t i, n = 0;
    memset(k16b, 0x0b, sizeof k16b);
    memset(k16a, 0xaa, sizeof k16a);
    memset(d50, 0xdd, sizeof d50);
    memset(cd50, 0xcd, sizeof cd50);
    memset(k80, 0xaa, sizeof k80);
    for (i = 0; i < sizeof k25; i++)
        k25[i] = (unsigned char)(i + 1);
    /* RFC 2104 appendix: the three sample vectors (= RFC 2202 cases 1-3). */
    v[n].key = k16b, v[n].keylen = 16, v[n].data = "Hi There", v[n].datalen = 8;
    v[n++].mac = "9294727a3638bb1c13f48ef8158bfc9d";
    v[n].key = (const unsigned char *)"Jefe", v[n].keylen = 4;
    v[n].data = "what do ya want for nothing?", v[n].datalen = 28;
    v[n++].mac = "750c783e6ab0b503eaa86e310a5db738";
    v[n].key = k16a, v[n].keylen = 16, v[n].data = d50, v[n].datalen = 50;
    v[n++].mac = "56be34521d144c88dbb8c733f0e8b3f6";
    /* RFC 2202 cases 4, 6, 7: odd key length, keys longer than a block. */
    v[n].key = k25, v[n].keylen = 25, v[n].data = cd50, v[n].datalen = 50;
    v[n++].mac = "697eaf0aca3a3aea3a75164746ffaa79";
    v[n].key = k80, v[n].keylen = 80;
    v[n].data = "Test Using Larger Than Block-Size Key - Hash Key First", v[n].datalen = 54;
    v[n++].mac = "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd";
    v[n].key = k80, v[n].keylen = 80;
    v[n].data = "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data";
    v[n].datalen = 73;
    v[n++].mac = "6f630fad67cda0ee1fb1f562db3aa53e";
    /* RFC 2195 2: the CRAM-MD5 example is an HMAC-MD5 too. */
    v[n].key = (const unsigned char *)"tanstaaftanstaaf", v[n].keylen = 16;
    v[n].data = "<1896.697170952@postoffice.reston.mci.net>", v[n].datalen = 42;
    v[n++].mac = "b913a602c7eda7a495b4e6e7334d3890";
    for (i = 0; i < n; i++) {
        unsigned char d[16];
        char hex[33];
        smtpkit__hmac_md5(v[i].key, v[i].keylen, v[i].data, v[i].datalen, d);
        hexify(d, 16, hex);
        CHECK_STR(hex, v[i].mac);
    }
}

TEST(wipe_zeroes)
{
    unsigned char b[37];
    size_t i;
    int nonzero = 0;
    memset(b, 0x5a, sizeof b);
    smtpkit__wipe(b + 1, 35);
    CHECK_INT(b[0], 0x5a);
    CHECK_INT(b[36], 0x5a);
    for (i = 1; i < 36; i++)
        nonzero |= b[i];
    CHECK_INT(nonzero, 0);
    smtpkit__wipe(b, 0);
    CHECK_INT(b[0], 0x5a);
}

int main(void)
{
    RUN(md5_rfc1321_suite);
    RUN(md5_every_split_and_length);
    RUN(md5_million_a);
    RUN(hmac_md5_rfc2104_rfc2202);
    RUN(wipe_zeroes);
    return test_summary();
}
