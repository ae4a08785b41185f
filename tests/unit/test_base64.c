/* Base64: RFC 4648 vectors, strict rejection of everything else, streaming
 * encoder (MIME wrapping at 76) and decoder in every split. */
#include "internal.h"
#include "smtpkit/base64.h"
#include "test.h"

#define S(lit) lit, sizeof(lit) - 1

/* RFC 4648 10: test vectors */
static const struct {
    const char *plain, *b64;
} vectors[] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

TEST(rfc4648_vectors)
{
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(vectors); i++) {
        char enc[16], dec[16];
        size_t pl = strlen(vectors[i].plain), bl = strlen(vectors[i].b64);
        CHECK_INT(SMTPKIT_BASE64_ENCODED_LEN(pl), bl);
        CHECK_INT(smtpkit_base64_encode(vectors[i].plain, pl, enc, sizeof enc), bl);
        CHECK_MEM(enc, bl, vectors[i].b64);
        CHECK_INT(smtpkit_base64_decode(vectors[i].b64, bl, dec, sizeof dec), pl);
        CHECK_MEM(dec, pl, vectors[i].plain);
        /* exact-size buffers are enough; one byte less is not */
        CHECK_INT(smtpkit_base64_encode(vectors[i].plain, pl, enc, bl), bl);
        CHECK_INT(smtpkit_base64_decode(vectors[i].b64, bl, dec, pl), pl);
        if (pl) {
            CHECK_INT(smtpkit_base64_encode(vectors[i].plain, pl, enc, bl - 1),
                      SMTPKIT_ERR_BUFFER_TOO_SMALL);
            CHECK_INT(smtpkit_base64_decode(vectors[i].b64, bl, dec, pl - 1),
                      SMTPKIT_ERR_BUFFER_TOO_SMALL);
        }
    }
    /* all 64 characters, and the AUTH PLAIN example of RFC 4616 4 */
    {
        static const unsigned char all[] = {0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b,
                                            0x30, 0xd3, 0x8f, 0x41, 0x14, 0x93, 0x51, 0x55, 0x97,
                                            0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f, 0x82, 0x18, 0xa3,
                                            0x92, 0x59, 0xa7, 0xa2, 0x9a, 0xab, 0xb2, 0xdb, 0xaf,
                                            0xc3, 0x1c, 0xb3, 0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb,
                                            0xf3, 0xdf, 0xbf};
        char enc[80];
        unsigned char dec[64];
        CHECK_INT(smtpkit_base64_encode(all, sizeof all, enc, sizeof enc), 64);
        CHECK_MEM(enc, 64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
        CHECK_INT(smtpkit_base64_decode(enc, 64, dec, sizeof dec), sizeof all);
        CHECK(memcmp(dec, all, sizeof all) == 0);
        CHECK_INT(smtpkit_base64_encode(S("\0tim\0tanstaaftanstaaf"), enc, sizeof enc), 28);
        CHECK_MEM(enc, 28, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
    }
}

/* Inputs the strict decoder must refuse; the streaming decoder refuses them
 * too (at update or at finish) except where noted. */
static const struct {
    const char *in;
    size_t len;
    int stream_ok; /* accepted by the streaming decoder (whitespace) */
} invalid[] = {
    {S("Z"), 0},        {S("Zg"), 0},          {S("Zg="), 0},        {S("Zm9vY"), 0},
    {S("Z==="), 0},     {S("===="), 0},        {S("Zg=a"), 0},       {S("Z=g="), 0},
    {S("=Zg="), 0},     {S("Zg==="), 0},       {S("Zm9=="), 0},      {S("Zg==Zg=="), 0},
    {S("Zm8=Zm9v"), 0}, {S("Zh=="), 0},        {S("Zm9="), 0},       {S("Zm9v!A=="), 0},
    {S("Zm-v"), 0},     {S("Zm_v"), 0},        {S("Zm9v\x80\x80=="), 0}, {S("Zm\0v"), 0},
    {S("Zg\r\n"), 0},     {S("Zm 9v   "), 1},    {S("Zm9v\r\n"), 1},   {S(" Zm9v"), 1},
    {S("Zm 9v"), 1},      {S("Zg==\t"), 1},
};

static int stream_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
    smtpkit_base64_decoder d;
    smtpkit_ssize r;
    smtpkit_base64_decoder_init(&d);
    r = smtpkit_base64_decoder_update(&d, in, len, out, SMTPKIT_BASE64_DECODED_MAX(len) + 3);
    if (r < 0)
        return (int)r;
    *outlen = (size_t)r;
    return smtpkit_base64_decoder_finish(&d);
}

TEST(strict_rejects)
{
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(invalid); i++) {
        unsigned char out[32];
        size_t n = 0;
        test_log l = {0};
        int r;
        test_log_bytes(&l, invalid[i].in, invalid[i].len);
        r = (int)smtpkit_base64_decode(invalid[i].in, invalid[i].len, out, sizeof out);
        if (r != SMTPKIT_ERR_BASE64)
            fprintf(stderr, "strict accepted \"%s\"\n", l.buf);
        CHECK_INT(r, SMTPKIT_ERR_BASE64);
        r = stream_decode(invalid[i].in, invalid[i].len, out, &n);
        if ((r == 0) != invalid[i].stream_ok)
            fprintf(stderr, "streaming gave %d for \"%s\"\n", r, l.buf);
        CHECK_INT(r, invalid[i].stream_ok ? 0 : SMTPKIT_ERR_BASE64);
        test_log_free(&l);
    }
    CHECK_INT(smtpkit_base64_decode(NULL, 4, NULL, 0), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_base64_decode(NULL, 0, NULL, 0), 0);
    CHECK_INT(smtpkit_base64_encode(NULL, 0, NULL, 0), 0);
    CHECK_INT(smtpkit_base64_encode(NULL, 1, NULL, 0), SMTPKIT_ERR_INVALID_ARG);
}

/* ---- streaming decoder in every split ---- */

static void dec_run(const char *input, size_t len, const size_t *cuts, size_t ncuts,
                    test_log *log, void *ctx)
{
    smtpkit_base64_decoder d;
    size_t pos = 0, k;
    int r = 0;
    (void)ctx;
    test_log body = {0};
    smtpkit_base64_decoder_init(&d);
    for (k = 0; k <= ncuts; k++) {
        size_t next = k < ncuts ? cuts[k] : len, n = next - pos;
        size_t cap = SMTPKIT_BASE64_DECODED_MAX(n) + 3;
        char *chunk = (char *)malloc(n ? n : 1), *out = (char *)malloc(cap);
        smtpkit_ssize got;
        memcpy(chunk, input + pos, n); /* exact-size heap copy: ASan sees over-reads */
        got = smtpkit_base64_decoder_update(&d, chunk, n, out, cap);
        if (got >= 0)
            test_log_bytes(&body, out, (size_t)got);
        free(chunk);
        free(out);
        pos = next;
        if (got < 0) {
            r = (int)got;
            break;
        }
    }
    if (r == 0)
        r = smtpkit_base64_decoder_finish(&d);
    /* After an error the output written so far depends on where the input
     * was cut (the failing update reports no bytes): only log it on success. */
    test_log_add(log, "out=%s r=%d", r == 0 ? test_log_str(&body) : "", r);
    test_log_free(&body);
}

static const struct {
    const char *in;
    size_t len;
    const char *out;
    size_t outlen;
    int r;
} stream_cases[] = {
    {S("Zm9vYmFy"), S("foobar"), 0},
    {S("Zm9v\r\nYmFy\r\n"), S("foobar"), 0},
    {S(" Z m 9 v\tYg = =\r\n"), S("foob"), 0},
    {S("Zm9vYmE=\r\n\r\n"), S("fooba"), 0},
    {S("AHRpbQB0YW5zdGFhZnRhbnN0YWFm"), S("\0tim\0tanstaaftanstaaf"), 0},
    {S(""), S(""), 0},
    {S("\r\n"), S(""), 0},
    {S("Zm9vYg"), S(""), SMTPKIT_ERR_BASE64},       /* incomplete at finish */
    {S("Zm9vYg="), S(""), SMTPKIT_ERR_BASE64},     /* one '=' missing */
    {S("Zm9vYg==Zm9v"), S(""), SMTPKIT_ERR_BASE64}, /* data after padding */
    {S("Zm9v*"), S(""), SMTPKIT_ERR_BASE64},
    {S("Zm9vYh=="), S(""), SMTPKIT_ERR_BASE64},     /* non-canonical trailing bits */
    {S("Zm9vYmF="), S(""), SMTPKIT_ERR_BASE64},
};

TEST(stream_decoder_every_split)
{
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(stream_cases); i++) {
        test_log want = {0}, got;
        test_log_add(&want, "out=");
        test_log_bytes(&want, stream_cases[i].out, stream_cases[i].outlen);
        test_log_add(&want, " r=%d", stream_cases[i].r);
        got = test_split_all(stream_cases[i].in, stream_cases[i].len, dec_run, NULL);
        CHECK_STR(got.buf, want.buf);
        test_log_free(&got);
        test_log_free(&want);
    }
    /* errors are sticky; buffer checks */
    {
        smtpkit_base64_decoder d;
        char out[16];
        smtpkit_base64_decoder_init(&d);
        CHECK_INT(smtpkit_base64_decoder_update(&d, S("Zm9v"), out, 2),
                  SMTPKIT_ERR_BUFFER_TOO_SMALL);
        CHECK_INT(smtpkit_base64_decoder_update(&d, S("Zm9v"), out, 3), 3);
        CHECK_INT(smtpkit_base64_decoder_update(&d, S("Z"), out, 3), 0);
        /* one character held: the next 3 complete a group */
        CHECK_INT(smtpkit_base64_decoder_update(&d, S("m9"), out, 2),
                  SMTPKIT_ERR_BUFFER_TOO_SMALL);
        CHECK_INT(smtpkit_base64_decoder_update(&d, S("m9"), out, 3), 0);
        CHECK_INT(smtpkit_base64_decoder_update(&d, S("v"), out, 3), 3);
        CHECK_MEM(out, 3, "foo");
        CHECK_INT(smtpkit_base64_decoder_update(&d, S("#"), out, sizeof out), SMTPKIT_ERR_BASE64);
        CHECK_INT(smtpkit_base64_decoder_update(&d, S("Zm9v"), out, sizeof out),
                  SMTPKIT_ERR_BASE64);
        CHECK_INT(smtpkit_base64_decoder_finish(&d), SMTPKIT_ERR_BASE64);
        CHECK_INT(smtpkit_base64_decoder_update(NULL, S("Zm9v"), out, sizeof out),
                  SMTPKIT_ERR_INVALID_ARG);
        CHECK_INT(smtpkit_base64_decoder_finish(NULL), SMTPKIT_ERR_INVALID_ARG);
    }
}

/* ---- streaming encoder ---- */

/* One-shot encoding with a CRLF after every `wrap` characters and at the end
 * of a last partial line: what the streaming encoder must produce. */
static size_t wrapped_reference(const unsigned char *in, size_t n, unsigned wrap, char *out)
{
    char *flat = (char *)malloc(SMTPKIT_BASE64_ENCODED_LEN(n) + 1);
    size_t fl = (size_t)smtpkit_base64_encode(in, n, flat, SMTPKIT_BASE64_ENCODED_LEN(n)), i,
           o = 0;
    for (i = 0; i < fl; i++) {
        out[o++] = flat[i];
        if (wrap && (i + 1) % wrap == 0) {
            out[o++] = '\r';
            out[o++] = '\n';
        }
    }
    if (wrap && fl % wrap) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    free(flat);
    return o;
}

typedef struct enc_ctx {
    unsigned wrap;
    size_t cap;
} enc_ctx;

static void enc_run(const char *input, size_t len, const size_t *cuts, size_t ncuts,
                    test_log *log, void *vctx)
{
    enc_ctx *c = (enc_ctx *)vctx;
    smtpkit_base64_encoder e;
    char *out = (char *)malloc(c->cap);
    size_t pos = 0, k;
    smtpkit_ssize f;
    char fin[SMTPKIT_BASE64_FINISH_MAX];
    smtpkit_base64_encoder_init(&e, c->wrap);
    test_log_add(log, "out=");
    for (k = 0; k <= ncuts; k++) {
        size_t next = k < ncuts ? cuts[k] : len;
        int stuck = 0;
        while (pos < next) {
            size_t olen = 0, used;
            used = smtpkit_base64_encoder_update(&e, input + pos, next - pos, out, c->cap, &olen);
            CHECK(olen <= c->cap);
            test_log_add(log, "%.*s", (int)olen, out);
            pos += used;
            if (!used && !olen && ++stuck > 1) {
                CHECK(!"streaming encoder made no progress");
                pos = next;
            }
        }
    }
    f = smtpkit_base64_encoder_finish(&e, fin, sizeof fin);
    CHECK(f >= 0);
    if (f > 0)
        test_log_add(log, "%.*s", (int)f, fin);
    free(out);
}

/* The log escapes nothing for base64 text but CRLF must be comparable: use
 * the same escaping for the expected value. */
static void expect(test_log *l, const char *p, size_t n)
{
    test_log_add(l, "out=%.*s", (int)n, p);
}

TEST(stream_encoder_every_split)
{
    static unsigned char in[400];
    static char want[700];
    static const unsigned wraps[] = {76, 0, 4, 8};
    static const size_t caps[] = {1024, 6, 7, 10, 80};
    size_t n, w, c, i;
    for (i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 7 + 3 + (i >> 3));
    for (w = 0; w < SMTPKIT_ARRAY_LEN(wraps); w++) {
        for (c = 0; c < SMTPKIT_ARRAY_LEN(caps); c++) {
            for (n = 0; n <= 130; n += (n < 20 ? 1 : 11)) {
                enc_ctx ctx;
                test_log want_log = {0}, got;
                size_t wl = wrapped_reference(in, n, wraps[w], want);
                ctx.wrap = wraps[w];
                ctx.cap = caps[c];
                expect(&want_log, want, wl);
                got = test_split_all((const char *)in, n, enc_run, &ctx);
                test_checks++;
                if (strcmp(got.buf, want_log.buf) != 0) {
                    test_failures++;
                    fprintf(stderr, "[%s] n=%zu wrap=%u cap=%zu\n got:  %s\n want: %s\n",
                            test_current, n, wraps[w], caps[c], got.buf, want_log.buf);
                }
                test_log_free(&got);
                test_log_free(&want_log);
            }
        }
    }
    /* RFC 2045 6.8: 57 bytes make exactly one 76-character line */
    {
        smtpkit_base64_encoder e;
        char out[200];
        size_t olen;
        smtpkit_base64_encoder_init(&e, 76);
        CHECK_INT(smtpkit_base64_encoder_update(&e, in, 57, out, sizeof out, &olen), 57);
        CHECK_INT(olen, 78);
        CHECK_MEM(out + 76, 2, "\r\n");
        CHECK_INT(smtpkit_base64_encoder_finish(&e, out, sizeof out), 0);
        /* a partial last line gets its CRLF at finish; too small a buffer fails */
        CHECK_INT(smtpkit_base64_encoder_update(&e, in, 58, out, sizeof out, &olen), 58);
        CHECK_INT(olen, 78);
        CHECK_INT(smtpkit_base64_encoder_finish(&e, out, 5), SMTPKIT_ERR_BUFFER_TOO_SMALL);
        CHECK_INT(smtpkit_base64_encoder_finish(&e, out, 6), 6);
        {
            char last[4];
            CHECK_INT(smtpkit_base64_encode(in + 57, 1, last, sizeof last), 4);
            CHECK(memcmp(out, last, 4) == 0 && memcmp(out + 4, "\r\n", 2) == 0);
        }
        CHECK_INT(smtpkit_base64_encoder_finish(&e, out, 6), 0);
        /* wrap is rounded to whole groups */
        smtpkit_base64_encoder_init(&e, 10);
        CHECK_INT(smtpkit_base64_encoder_update(&e, "foobar", 6, out, sizeof out, &olen), 6);
        CHECK_MEM(out, olen, "Zm9vYmFy\r\n");
        smtpkit_base64_encoder_init(&e, 2);
        CHECK_INT(smtpkit_base64_encoder_update(&e, "foo", 3, out, sizeof out, &olen), 3);
        CHECK_MEM(out, olen, "Zm9v\r\n");
        /* no room: pending bytes are still taken, nothing is written */
        smtpkit_base64_encoder_init(&e, 0);
        CHECK_INT(smtpkit_base64_encoder_update(&e, "fo", 2, out, 0, &olen), 2);
        CHECK_INT(olen, 0);
        CHECK_INT(smtpkit_base64_encoder_update(&e, "ob", 2, out, 3, &olen), 0);
        CHECK_INT(smtpkit_base64_encoder_update(&e, "ob", 2, out, 4, &olen), 2);
        CHECK_MEM(out, olen, "Zm9v");
        CHECK_INT(smtpkit_base64_encoder_finish(&e, out, 3), SMTPKIT_ERR_BUFFER_TOO_SMALL);
        CHECK_INT(smtpkit_base64_encoder_finish(&e, out, 4), 4);
        CHECK_MEM(out, 4, "Yg==");
        CHECK_INT(smtpkit_base64_encoder_update(NULL, "a", 1, out, 4, &olen), 0);
        CHECK_INT(smtpkit_base64_encoder_finish(NULL, out, 4), SMTPKIT_ERR_INVALID_ARG);
    }
}

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

TEST(round_trip_and_agreement)
{
    static unsigned char in[600], back[600];
    static char enc[1200];
    static const char alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/==";
    int iter;
    for (iter = 0; iter < 3000; iter++) {
        size_t n = rnd() % sizeof in, i, el, bl = 0;
        smtpkit_ssize r1;
        int r2;
        for (i = 0; i < n; i++)
            in[i] = (unsigned char)rnd();
        el = wrapped_reference(in, n, iter % 2 ? 76 : 0, enc);
        /* streaming decode of the wrapped text gives the input back */
        CHECK_INT(stream_decode(enc, el, back, &bl), 0);
        CHECK(bl == n && memcmp(back, in, n) == 0);
        if (iter % 2 == 0) {
            CHECK_INT(smtpkit_base64_decode(enc, el, back, sizeof back), n);
            CHECK(memcmp(back, in, n) == 0);
        }
        /* random near-base64 strings: strict and streaming agree */
        n = rnd() % 13;
        for (i = 0; i < n; i++)
            enc[i] = alpha[rnd() % (sizeof alpha - 1)];
        r1 = smtpkit_base64_decode(enc, n, back, sizeof back);
        {
            unsigned char back2[64];
            size_t bl2 = 0;
            r2 = stream_decode(enc, n, back2, &bl2);
            CHECK((r1 >= 0) == (r2 == 0));
            if (r1 >= 0 && r2 == 0)
                CHECK((size_t)r1 == bl2 && memcmp(back, back2, bl2) == 0);
        }
    }
}

int main(void)
{
    RUN(rfc4648_vectors);
    RUN(strict_rejects);
    RUN(stream_decoder_every_split);
    RUN(stream_encoder_every_split);
    RUN(round_trip_and_agreement);
    return test_summary();
}
