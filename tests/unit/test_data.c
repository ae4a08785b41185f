/* DATA codec: decoder (dot-unstuffing, end of data, smuggling variants, bare
 * CR/LF, flags, pause), encoder (normalisation, dot-stuffing, terminator),
 * their round trip, and the BDAT counter. */
#include "data_ref.h"
#include "internal.h"
#include "smtpkit/data.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
/* From <sanitizer/allocator_interface.h> (shipped with clang, not gcc; the
 * function is in both runtimes). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
#endif

#define S(lit) lit, sizeof(lit) - 1

enum { ALL = -1 };

/* ---- a growable byte buffer ---- */
typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void buf_add(buf *b, const char *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = (char *)realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* ---- decoder driver ---- */
typedef struct dec_ctx {
    unsigned opts;
    size_t max_line; /* 0 = leave the default */
    int no_limit;    /* set_max_line(0) */
    int pause;       /* the callback pauses every time */
    buf body;
    int zero_len_calls;
    const char *chunk; /* the chunk being fed, to count views into it */
    size_t chunk_len;
    int views, consts, calls;
} dec_ctx;

static int on_body(void *user, const char *data, size_t len)
{
    dec_ctx *c = (dec_ctx *)user;
    c->calls++;
    if (len == 0)
        c->zero_len_calls++;
    if (c->chunk && data >= c->chunk && data + len <= c->chunk + c->chunk_len)
        c->views++;
    else
        c->consts++;
    buf_add(&c->body, data, len);
    return c->pause ? SMTPKIT_PAUSE : 0;
}

/* Feed `input` cut at `cuts`, each chunk copied into its own exact-size heap
 * block so ASan sees any read past the end; log what came out. */
static void dec_run(const char *input, size_t len, const size_t *cuts, size_t ncuts,
                    test_log *log, void *vctx)
{
    dec_ctx *c = (dec_ctx *)vctx;
    smtpkit_data_decoder d;
    size_t pos = 0, k;
    long long consumed = 0;
    int err = 0;
    c->body.len = 0;
    c->zero_len_calls = 0;
    smtpkit_data_decoder_init(&d, c->opts, on_body, c);
    if (c->no_limit)
        smtpkit_data_decoder_set_max_line(&d, 0);
    else if (c->max_line)
        smtpkit_data_decoder_set_max_line(&d, c->max_line);
    for (k = 0; k <= ncuts && !err && !smtpkit_data_decoder_done(&d); k++) {
        size_t next = k < ncuts ? cuts[k] : len;
        size_t n = next - pos, off = 0;
        char *chunk = (char *)malloc(n ? n : 1);
        if (!chunk)
            abort();
        memcpy(chunk, input + pos, n);
        c->chunk = chunk;
        c->chunk_len = n;
        while (off < n || (n == 0 && off == 0)) {
            smtpkit_ssize r = smtpkit_data_decoder_feed(&d, chunk + off, n - off);
            if (r < 0) {
                err = (int)r;
                break;
            }
            off += (size_t)r;
            consumed += r;
            if (smtpkit_data_decoder_done(&d) || n == 0)
                break;
            if (c->pause) {
                /* Paused after each callback: feeding now must be refused. */
                if (d._paused) {
                    CHECK_INT(smtpkit_data_decoder_feed(&d, chunk + off, n - off),
                              SMTPKIT_ERR_PAUSED);
                    CHECK_INT(smtpkit_data_decoder_resume(&d), 0);
                }
            } else if ((size_t)r == 0) {
                CHECK(!"no progress without a pause");
                break;
            }
        }
        c->chunk = NULL;
        free(chunk);
        pos = next;
    }
    if (c->pause && d._paused)
        CHECK_INT(smtpkit_data_decoder_resume(&d), 0);
    test_log_add(log, "body=");
    test_log_bytes(log, c->body.p ? c->body.p : "", c->body.len);
    test_log_add(log, " done=%d consumed=%lld flags=%#x total=%llu err=%d",
                 smtpkit_data_decoder_done(&d), consumed, smtpkit_data_decoder_flags(&d),
                 (unsigned long long)smtpkit_data_decoder_total(&d), err);
    if (smtpkit_data_decoder_done(&d))
        CHECK_INT(smtpkit_data_decoder_feed(&d, "x", 1), SMTPKIT_ERR_STATE);
    CHECK_INT(c->zero_len_calls, 0);
}

static void expect_log(test_log *l, const char *out, size_t outlen, int done, long long consumed,
                       unsigned flags)
{
    test_log_add(l, "body=");
    test_log_bytes(l, out, outlen);
    test_log_add(l, " done=%d consumed=%lld flags=%#x total=%llu err=%d", done, consumed, flags,
                 (unsigned long long)outlen, 0);
}

/* Run one decoder case whole, byte by byte, split everywhere, and again with
 * a callback that pauses every time; all must give the expected log. */
static void check_decode(const char *name, const char *in, size_t inlen, unsigned opts,
                         size_t max_line, const char *out, size_t outlen, int done,
                         long long consumed, unsigned flags)
{
    dec_ctx c;
    test_log want = {0}, got;
    int pause;
    memset(&c, 0, sizeof c);
    c.opts = opts;
    c.max_line = max_line;
    if (consumed == ALL)
        consumed = (long long)inlen;
    expect_log(&want, out, outlen, done, consumed, flags);
    for (pause = 0; pause <= 1; pause++) {
        c.pause = pause;
        got = test_split_all(in, inlen, dec_run, &c);
        test_checks++;
        if (strcmp(got.buf, want.buf) != 0) {
            test_failures++;
            fprintf(stderr, "[%s] case \"%s\" (opts %u, pause %d):\n got:  %s\n want: %s\n",
                    test_current, name, opts, pause, got.buf, want.buf);
        }
        test_log_free(&got);
    }
    /* The reference model agrees (a check on the model as much as the code). */
    {
        char *o = (char *)malloc(inlen * 2 + 1);
        ref_result r = ref_decode(in, inlen, (opts & SMTPKIT_DATA_NORMALIZE_BARE) != 0,
                                  max_line ? max_line : SMTPKIT_TEXT_LINE_MAX, o);
        CHECK_INT(r.done, done);
        CHECK_INT(r.consumed, consumed);
        CHECK_INT(r.flags, flags);
        CHECK(r.outlen == outlen && memcmp(o, out, outlen) == 0);
        CHECK_INT(ref_end_of_data(in, inlen), done ? consumed : 0);
        free(o);
    }
    test_log_free(&want);
    free(c.body.p);
}

typedef struct dec_case {
    const char *name;
    const char *in;
    size_t inlen;
    unsigned opts;
    const char *out;
    size_t outlen;
    int done;
    long long consumed; /* ALL = the whole input */
    unsigned flags;
} dec_case;

#define NORM SMTPKIT_DATA_NORMALIZE_BARE
#define BCR SMTPKIT_DATA_SAW_BARE_CR
#define BLF SMTPKIT_DATA_SAW_BARE_LF

static const dec_case dec_cases[] = {
    /* RFC 5321 4.1.1.4 / D.1: a plain message */
    {"rfc example", S("From: a@b\r\nSubject: hi\r\n\r\nBlah blah blah...\r\n.\r\n"), 0,
     S("From: a@b\r\nSubject: hi\r\n\r\nBlah blah blah...\r\n"), 1, ALL, 0},
    {"empty message", S(".\r\n"), 0, S(""), 1, ALL, 0},
    {"one empty line", S("\r\n.\r\n"), 0, S("\r\n"), 1, ALL, 0},
    {"bytes after the end stay", S("a\r\n.\r\nQUIT\r\n"), 0, S("a\r\n"), 1, 6, 0},
    {"pipelined after empty", S(".\r\nMAIL FROM:<a@b>\r\n"), 0, S(""), 1, 3, 0},
    {"no end yet", S("abc\r\n"), 0, S("abc\r\n"), 0, ALL, 0},
    {"no end: dot pending", S("abc\r\n."), 0, S("abc\r\n"), 0, ALL, 0},
    {"no end: dot CR pending", S("abc\r\n.\r"), 0, S("abc\r\n"), 0, ALL, 0},
    {"no end: CR pending", S("abc\r"), 0, S("abc\r"), 0, ALL, 0},
    {"empty input", S(""), 0, S(""), 0, ALL, 0},
    /* RFC 5321 4.5.2 transparency */
    {"stuffed dot line", S("..\r\n.\r\n"), 0, S(".\r\n"), 1, ALL, 0},
    {"stuffed dot text", S("..foo\r\n.\r\n"), 0, S(".foo\r\n"), 1, ALL, 0},
    {"unstuffed dot text", S(".foo\r\n.\r\n"), 0, S("foo\r\n"), 1, ALL, 0},
    {"three dots", S("...\r\n.\r\n"), 0, S("..\r\n"), 1, ALL, 0},
    {"dots in the middle", S("a\r\n..b\r\nc\r\n..\r\n...\r\nd.e.\r\n.\r\n"), 0,
     S("a\r\n.b\r\nc\r\n.\r\n..\r\nd.e.\r\n"), 1, ALL, 0},
    {"dot space", S(". \r\n.\r\n"), 0, S(" \r\n"), 1, ALL, 0},
    {"end after dot lines", S("..\r\n.\r\n..\r\n"), 0, S(".\r\n"), 1, 7, 0},
    {"double CRLF end", S("a\r\n\r\n.\r\n"), 0, S("a\r\n\r\n"), 1, ALL, 0},
    {"CR CRLF then end", S("a\r\r\n.\r\n"), 0, S("a\r\r\n"), 1, ALL, BCR},
    {"CR CRLF then end normalised", S("a\r\r\n.\r\n"), NORM, S("a\r\n\r\n"), 1, ALL, BCR},
    {"controls pass", S("a\tb\x0b\x0c\x01\x7f~\r\n.\r\n"), 0, S("a\tb\x0b\x0c\x01\x7f~\r\n"), 1,
     ALL, 0},
    {"8-bit", S("caf\xc3\xa9\r\n.\r\n"), 0, S("caf\xc3\xa9\r\n"), 1, ALL, SMTPKIT_DATA_SAW_8BIT},
    {"NUL", S("a\0b\r\n.\r\n"), 0, S("a\0b\r\n"), 1, ALL, SMTPKIT_DATA_SAW_NUL},
    {"8-bit and NUL after dot", S("..\x80\0\r\n.\r\n"), 0, S(".\x80\0\r\n"), 1, ALL,
     SMTPKIT_DATA_SAW_8BIT | SMTPKIT_DATA_SAW_NUL},

    /* SMTP smuggling (CVE-2023-51764/5/6): none of these ends the data. */
    {"LF.LF", S("a\n.\nMAIL FROM:<x@y>\r\n"), 0, S("a\n.\nMAIL FROM:<x@y>\r\n"), 0, ALL, BLF},
    {"LF.CRLF", S("a\n.\r\nMAIL FROM:<x@y>\r\n"), 0, S("a\n.\r\nMAIL FROM:<x@y>\r\n"), 0, ALL,
     BLF},
    {"CR.CR", S("a\r.\rMAIL FROM:<x@y>\r\n"), 0, S("a\r.\rMAIL FROM:<x@y>\r\n"), 0, ALL, BCR},
    {"CRLF.CR", S("a\r\n.\rMAIL FROM:<x@y>\r\n"), 0, S("a\r\n\rMAIL FROM:<x@y>\r\n"), 0, ALL,
     BCR},
    {"CRLF.LF", S("a\r\n.\nMAIL FROM:<x@y>\r\n"), 0, S("a\r\n\nMAIL FROM:<x@y>\r\n"), 0, ALL,
     BLF},
    {"CR.LF", S("a\r.\nMAIL\r\n"), 0, S("a\r.\nMAIL\r\n"), 0, ALL, BCR | BLF},
    {"LF.CR", S("a\n.\rMAIL\r\n"), 0, S("a\n.\rMAIL\r\n"), 0, ALL, BCR | BLF},
    {"first line .LF", S(".\nMAIL\r\n"), 0, S("\nMAIL\r\n"), 0, ALL, BLF},
    {"first line .CR", S(".\rMAIL\r\n"), 0, S("\rMAIL\r\n"), 0, ALL, BCR},
    {"first line .CR CR LF", S(".\r\r\n.\r\n"), 0, S("\r\r\n"), 1, ALL, BCR},
    {"LF.LF then real end", S("a\n.\nb\r\n.\r\n"), 0, S("a\n.\nb\r\n"), 1, ALL, BLF},
    {"LF.CRLF then real end", S("a\n.\r\nb\r\n.\r\n"), 0, S("a\n.\r\nb\r\n"), 1, ALL, BLF},
    {"CR.CR then real end", S("a\r.\rb\r\n.\r\n"), 0, S("a\r.\rb\r\n"), 1, ALL, BCR},
    {"CRLF.CR then real end", S("a\r\n.\rb\r\n.\r\n"), 0, S("a\r\n\rb\r\n"), 1, ALL, BCR},
    {"CRLF.LF then real end", S("a\r\n.\nb\r\n.\r\n"), 0, S("a\r\n\nb\r\n"), 1, ALL, BLF},
    /* ... and normalised, they still do not end it: the dot after a bare
     * line end is removed like at any line start. */
    {"LF.LF normalised", S("a\n.\nb\r\n.\r\n"), NORM, S("a\r\n\r\nb\r\n"), 1, ALL, BLF},
    {"LF.CRLF normalised", S("a\n.\r\nb\r\n.\r\n"), NORM, S("a\r\n\r\nb\r\n"), 1, ALL, BLF},
    {"CR.CR normalised", S("a\r.\rb\r\n.\r\n"), NORM, S("a\r\n\r\nb\r\n"), 1, ALL, BCR},
    {"CRLF.CR normalised", S("a\r\n.\rb\r\n.\r\n"), NORM, S("a\r\n\r\nb\r\n"), 1, ALL, BCR},
    {"CRLF.LF normalised", S("a\r\n.\nb\r\n.\r\n"), NORM, S("a\r\n\r\nb\r\n"), 1, ALL, BLF},
    {"LF.LF normalised, no end", S("a\n.\nMAIL\r\n"), NORM, S("a\r\n\r\nMAIL\r\n"), 0, ALL, BLF},
    {"CR.CR normalised, no end", S("a\r.\r"), NORM, S("a\r\n\r"), 0, ALL, BCR},
    {"LF..x normalised", S("a\n..x\n.\r\n"), NORM, S("a\r\n.x\r\n\r\n"), 0, ALL, BLF},
    {"bare LF normalised", S("a\nb\n\r\n.\r\n"), NORM, S("a\r\nb\r\n\r\n"), 1, ALL, BLF},
    {"bare CR normalised", S("a\rb\r\r\n.\r\n"), NORM, S("a\r\nb\r\n\r\n"), 1, ALL, BCR},
    {"bare CR at end normalised", S("a\r"), NORM, S("a\r"), 0, ALL, 0},
    {"bare CRs normalised", S("\r\r\r.\r\n"), NORM, S("\r\n\r\n\r\n\r\n"), 0, ALL, BCR},
    {"bare LF passes", S("a\nb\r\n.\r\n"), 0, S("a\nb\r\n"), 1, ALL, BLF},
    {"bare CR passes", S("a\rb\r\n.\r\n"), 0, S("a\rb\r\n"), 1, ALL, BCR},
    {"LF CRLF", S("a\n\r\n.\r\n"), 0, S("a\n\r\n"), 1, ALL, BLF},
};

TEST(decoder_table)
{
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(dec_cases); i++) {
        const dec_case *k = &dec_cases[i];
        check_decode(k->name, k->in, k->inlen, k->opts, 0, k->out, k->outlen, k->done,
                     k->consumed, k->flags);
    }
}

/* A line of `n` octets of content: "x" * n, or "." + "x" * (n - 1) stuffed. */
static size_t make_line(char *p, size_t n, int dot)
{
    size_t o = 0;
    if (dot && n) {
        p[o++] = '.';
        p[o++] = '.';
        n--;
    }
    memset(p + o, 'x', n);
    o += n;
    p[o++] = '\r';
    p[o++] = '\n';
    return o;
}

TEST(decoder_long_lines)
{
    /* RFC 5321 4.5.3.1.6: 1000 octets including CRLF, not counting the
     * stuffed dot. */
    static char in[2100], out[2100];
    struct {
        size_t content;
        int dot;
        size_t max;
        int no_limit;
        unsigned flags;
    } t[] = {
        {998, 0, 0, 0, 0},
        {999, 0, 0, 0, SMTPKIT_DATA_SAW_LONG_LINE},
        {998, 1, 0, 0, 0},
        {999, 1, 0, 0, SMTPKIT_DATA_SAW_LONG_LINE},
        {2000, 0, 0, 1, 0},
        {8, 0, 10, 0, 0},
        {9, 0, 10, 0, SMTPKIT_DATA_SAW_LONG_LINE},
        {0, 0, 2, 0, 0},
        {1, 0, 2, 0, SMTPKIT_DATA_SAW_LONG_LINE},
        {1, 0, 1, 0, SMTPKIT_DATA_SAW_LONG_LINE},
    };
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(t); i++) {
        size_t n = make_line(in, t[i].content, t[i].dot), m;
        dec_ctx c;
        test_log got;
        test_log want = {0};
        memcpy(in + n, ".\r\n", 3);
        m = make_line(out, t[i].content, 0);
        if (t[i].dot && t[i].content)
            out[0] = '.';
        memset(&c, 0, sizeof c);
        c.max_line = t[i].max;
        c.no_limit = t[i].no_limit;
        expect_log(&want, out, m, 1, (long long)n + 3, t[i].flags);
        /* long inputs: whole, bytewise and every split is plenty */
        got = test_split_all(in, n + 3, dec_run, &c);
        CHECK_STR(got.buf, want.buf);
        test_log_free(&got);
        test_log_free(&want);
        free(c.body.p);
    }
    /* A long line between short ones, split over feeds, in normalise mode a
     * bare LF ends a line too. */
    {
        smtpkit_data_decoder d;
        dec_ctx c;
        memset(&c, 0, sizeof c);
        smtpkit_data_decoder_init(&d, SMTPKIT_DATA_NORMALIZE_BARE, on_body, &c);
        smtpkit_data_decoder_set_max_line(&d, 6);
        CHECK_INT(smtpkit_data_decoder_feed(&d, S("abcd\nabcd\r\nab")), 13);
        CHECK_INT(smtpkit_data_decoder_flags(&d), SMTPKIT_DATA_SAW_BARE_LF);
        CHECK_INT(smtpkit_data_decoder_feed(&d, S("cd")), 2);
        CHECK_INT(smtpkit_data_decoder_flags(&d), SMTPKIT_DATA_SAW_BARE_LF);
        CHECK_INT(smtpkit_data_decoder_feed(&d, S("e")), 1);
        CHECK_INT(smtpkit_data_decoder_flags(&d),
                  SMTPKIT_DATA_SAW_BARE_LF | SMTPKIT_DATA_SAW_LONG_LINE);
        free(c.body.p);
    }
}

/* Every input over a small alphabet (and so every smuggling variant in
 * every position), in both modes, whole and split at every point, against
 * the reference model. */
TEST(decoder_exhaustive_small)
{
    static const char alpha[] = {'\r', '\n', '.', 'a'};
    char in[8], want[16];
    size_t len;
    int norm;
    long inputs = 0;
    for (norm = 0; norm <= 1; norm++) {
        for (len = 0; len <= 7; len++) {
            size_t total = 1, idx, i;
            for (i = 0; i < len; i++)
                total *= 4;
            for (idx = 0; idx < total; idx++) {
                size_t v = idx, cut;
                ref_result r;
                for (i = 0; i < len; i++, v /= 4)
                    in[i] = alpha[v % 4];
                r = ref_decode(in, len, norm, 0, want);
                /* the naive search agrees on where the data ends */
                if (r.done != (ref_end_of_data(in, len) != 0) ||
                    (r.done && r.consumed != ref_end_of_data(in, len))) {
                    CHECK(!"reference end disagrees with the naive search");
                    return;
                }
                for (cut = 0; cut <= len; cut++) {
                    dec_ctx c;
                    test_log got = {0};
                    test_log exp = {0};
                    size_t cuts[1];
                    cuts[0] = cut;
                    memset(&c, 0, sizeof c);
                    c.opts = norm ? SMTPKIT_DATA_NORMALIZE_BARE : 0;
                    c.no_limit = 1;
                    dec_run(in, len, cuts, 1, &got, &c);
                    expect_log(&exp, want, r.outlen, r.done, (long long)r.consumed, r.flags);
                    test_checks++;
                    if (strcmp(test_log_str(&got), exp.buf) != 0) {
                        test_failures++;
                        test_log_reset(&exp);
                        test_log_bytes(&exp, in, len);
                        fprintf(stderr, "[%s] input \"%s\" norm %d cut %zu:\n got:  %s\n",
                                test_current, exp.buf, norm, cut, got.buf);
                        test_log_free(&got);
                        test_log_free(&exp);
                        free(c.body.p);
                        return;
                    }
                    test_log_free(&got);
                    test_log_free(&exp);
                    free(c.body.p);
                }
                inputs++;
            }
        }
    }
    CHECK(inputs > 40000);
}

/* Deterministic xorshift so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Text with the bytes that matter weighted up. */
static void random_text(char *p, size_t n)
{
    static const char pick[] = "\r\n.\r\n.\r\n.aaaaaaaaaaaaaaaaaa \t\x80\xc3\x01";
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t r = rnd() % 64;
        if (r < sizeof pick - 1)
            p[i] = pick[r];
        else if (r < 62)
            p[i] = (char)('a' + r % 26);
        else
            p[i] = (char)(rnd() & 0xff);
    }
}

TEST(decoder_random_against_reference)
{
    static char in[4096], want[8192];
    int iter;
    for (iter = 0; iter < 3000; iter++) {
        size_t len = rnd() % (iter < 2000 ? 64 : 4096), ncuts = rnd() % 6, i;
        size_t cuts[6], max_line = rnd() % 4 ? 0 : rnd() % 40;
        int norm = (int)(rnd() & 1);
        ref_result r;
        dec_ctx c;
        test_log got = {0}, exp = {0};
        random_text(in, len);
        for (i = 0; i < ncuts; i++)
            cuts[i] = len ? rnd() % (len + 1) : 0;
        /* sort the cuts */
        for (i = 1; i < ncuts; i++) {
            size_t j = i, t = cuts[i];
            while (j > 0 && cuts[j - 1] > t) {
                cuts[j] = cuts[j - 1];
                j--;
            }
            cuts[j] = t;
        }
        r = ref_decode(in, len, norm, max_line ? max_line : SMTPKIT_TEXT_LINE_MAX, want);
        memset(&c, 0, sizeof c);
        c.opts = norm ? SMTPKIT_DATA_NORMALIZE_BARE : 0;
        c.max_line = max_line;
        c.pause = (int)(rnd() % 8 == 0);
        dec_run(in, len, cuts, ncuts, &got, &c);
        expect_log(&exp, want, r.outlen, r.done, (long long)r.consumed, r.flags);
        test_checks++;
        if (strcmp(test_log_str(&got), exp.buf) != 0) {
            test_failures++;
            fprintf(stderr, "[%s] iteration %d differs:\n got:  %s\n want: %s\n", test_current,
                    iter, got.buf, exp.buf);
            iter = 1 << 30;
        }
        test_log_free(&got);
        test_log_free(&exp);
        free(c.body.p);
    }
}

/* Runs without dot lines come out as views into the fed data, one callback
 * per feed; only a CR held over a chunk boundary comes from a constant. */
TEST(decoder_views_not_copies)
{
    static char msg[] = "Subject: x\r\n\r\nline one\r\nline two\r\n";
    smtpkit_data_decoder d;
    dec_ctx c;
    memset(&c, 0, sizeof c);
    smtpkit_data_decoder_init(&d, 0, on_body, &c);
    c.chunk = msg;
    c.chunk_len = sizeof msg - 1;
    CHECK_INT(smtpkit_data_decoder_feed(&d, msg, sizeof msg - 1), (long long)sizeof msg - 1);
    CHECK_INT(c.calls, 1);
    CHECK_INT(c.views, 1);
    /* ".\r" + "x": the CR was held back; it comes as a constant */
    {
        static char a[] = "..a\r\n.\r", b[] = "x\r\n";
        c.chunk = a;
        c.chunk_len = sizeof a - 1;
        c.calls = c.views = c.consts = 0;
        CHECK_INT(smtpkit_data_decoder_feed(&d, a, sizeof a - 1), (long long)sizeof a - 1);
        CHECK_INT(c.views, 1);
        c.chunk = b;
        c.chunk_len = sizeof b - 1;
        CHECK_INT(smtpkit_data_decoder_feed(&d, b, sizeof b - 1), (long long)sizeof b - 1);
        CHECK_INT(c.consts, 1);
        CHECK_INT(c.views, 2);
    }
    CHECK_INT(smtpkit_data_decoder_feed(&d, S(".\r\n")), 3);
    CHECK(smtpkit_data_decoder_done(&d));
    CHECK_MEM(c.body.p, c.body.len, "Subject: x\r\n\r\nline one\r\nline two\r\n.a\r\n\rx\r\n");
    CHECK_INT(smtpkit_data_decoder_total(&d), c.body.len);
    CHECK_INT(smtpkit_data_decoder_flags(&d), SMTPKIT_DATA_SAW_BARE_CR);
    free(c.body.p);
}

static int abort_cb(void *user, const char *data, size_t len)
{
    (void)data;
    (void)len;
    ++*(int *)user;
    return -5;
}

static int pause_once_cb(void *user, const char *data, size_t len)
{
    dec_ctx *c = (dec_ctx *)user;
    buf_add(&c->body, data, len);
    return c->calls++ == 0 ? SMTPKIT_PAUSE : 0;
}

TEST(decoder_api_errors_and_pause)
{
    smtpkit_data_decoder d;
    int calls = 0;
    dec_ctx c;
    smtpkit_data_decoder_init(&d, 0, abort_cb, &calls);
    CHECK_INT(smtpkit_data_decoder_feed(&d, S("abc\r\n")), SMTPKIT_ERR_CALLBACK);
    CHECK_INT(calls, 1);
    CHECK_INT(smtpkit_data_decoder_feed(&d, S("abc\r\n")), SMTPKIT_ERR_CALLBACK); /* sticky */
    CHECK_INT(calls, 1);
    CHECK_INT(smtpkit_data_decoder_feed(NULL, S("a")), SMTPKIT_ERR_INVALID_ARG);
    smtpkit_data_decoder_init(&d, 0, NULL, NULL); /* NULL callback: not interested */
    CHECK_INT(smtpkit_data_decoder_feed(&d, NULL, 1), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_data_decoder_feed(&d, NULL, 0), 0);
    CHECK_INT(smtpkit_data_decoder_resume(&d), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_data_decoder_feed(&d, S("..x\r\n.\r\nQUIT\r\n")), 8);
    CHECK(smtpkit_data_decoder_done(&d));
    CHECK_INT(smtpkit_data_decoder_total(&d), 4);
    CHECK_INT(smtpkit_data_decoder_feed(&d, S("x")), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_data_decoder_feed(&d, NULL, 0), SMTPKIT_ERR_STATE);

    /* Pause: the feed reports what the pausing callback covered. */
    memset(&c, 0, sizeof c);
    smtpkit_data_decoder_init(&d, 0, pause_once_cb, &c);
    CHECK_INT(smtpkit_data_decoder_feed(&d, S("ab\r\n..cd\r\n.\r\n")), 4);
    CHECK_MEM(c.body.p, c.body.len, "ab\r\n");
    CHECK_INT(smtpkit_data_decoder_feed(&d, S("..cd\r\n.\r\n")), SMTPKIT_ERR_PAUSED);
    CHECK_INT(smtpkit_data_decoder_resume(&d), 0);
    CHECK_INT(smtpkit_data_decoder_resume(&d), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_data_decoder_feed(&d, S("..cd\r\n.\r\n")), 9);
    CHECK(smtpkit_data_decoder_done(&d));
    CHECK_MEM(c.body.p, c.body.len, "ab\r\n.cd\r\n");
    free(c.body.p);

    /* Pause on a normalised bare LF: the constant CRLF stands for it. */
    memset(&c, 0, sizeof c);
    smtpkit_data_decoder_init(&d, SMTPKIT_DATA_NORMALIZE_BARE, on_body, &c);
    c.pause = 1;
    CHECK_INT(smtpkit_data_decoder_feed(&d, S("ab\ncd")), 2);
    CHECK_INT(smtpkit_data_decoder_resume(&d), 0);
    CHECK_INT(smtpkit_data_decoder_feed(&d, S("\ncd")), 1);
    CHECK_INT(smtpkit_data_decoder_resume(&d), 0);
    CHECK_INT(smtpkit_data_decoder_feed(&d, S("cd")), 2);
    CHECK_INT(smtpkit_data_decoder_resume(&d), 0);
    CHECK_MEM(c.body.p, c.body.len, "ab\r\ncd");
    free(c.body.p);
}

/* ---- encoder ---- */

typedef struct enc_case {
    const char *name;
    const char *in;
    size_t inlen;
    unsigned opts;
    const char *out;
    size_t outlen;
    unsigned flags;
} enc_case;

#define NOSTUFF SMTPKIT_DATA_ENC_NO_STUFF

static const enc_case enc_cases[] = {
    {"empty body", S(""), 0, S(".\r\n"), 0},
    {"no final newline", S("abc"), 0, S("abc\r\n.\r\n"), 0},
    {"final CRLF", S("abc\r\n"), 0, S("abc\r\n.\r\n"), 0},
    {"final LF", S("abc\n"), 0, S("abc\r\n.\r\n"), BLF},
    {"final CR", S("abc\r"), 0, S("abc\r\n.\r\n"), BCR},
    {"only LF", S("\n"), 0, S("\r\n.\r\n"), BLF},
    {"bare CRs", S("a\r\rb"), 0, S("a\r\n\r\nb\r\n.\r\n"), BCR},
    {"LF CR", S("a\n\rb"), 0, S("a\r\n\r\nb\r\n.\r\n"), BCR | BLF},
    {"CR CR LF", S("a\r\r\nb"), 0, S("a\r\n\r\nb\r\n.\r\n"), BCR},
    {"only a dot", S("."), 0, S("..\r\n.\r\n"), 0},
    {"dot line", S(".\r\n"), 0, S("..\r\n.\r\n"), 0},
    {"dots everywhere", S("a\r\n.b\n..c\r.\r\nd.e."), 0,
     S("a\r\n..b\r\n...c\r\n..\r\nd.e.\r\n.\r\n"), BCR | BLF},
    {"smuggling LF.LF", S("a\n.\nMAIL"), 0, S("a\r\n..\r\nMAIL\r\n.\r\n"), BLF},
    {"smuggling CR.CR", S("a\r.\rMAIL"), 0, S("a\r\n..\r\nMAIL\r\n.\r\n"), BCR},
    {"smuggling CRLF.CR", S("a\r\n.\rMAIL"), 0, S("a\r\n..\r\nMAIL\r\n.\r\n"), BCR},
    {"end marker in the body", S("a\r\n.\r\nb"), 0, S("a\r\n..\r\nb\r\n.\r\n"), 0},
    {"8-bit", S("caf\xc3\xa9\n"), 0, S("caf\xc3\xa9\r\n.\r\n"), SMTPKIT_DATA_SAW_8BIT | BLF},
    {"NUL", S("a\0b"), 0, S("a\0b\r\n.\r\n"), SMTPKIT_DATA_SAW_NUL},
    {"controls", S("\t\x01\x0b\x0c\x7f"), 0, S("\t\x01\x0b\x0c\x7f\r\n.\r\n"), 0},
    {"BDAT: no stuffing, no end", S("a\n.b\r\n..\r"), NOSTUFF, S("a\r\n.b\r\n..\r\n"), BCR | BLF},
    {"BDAT: empty", S(""), NOSTUFF, S(""), 0},
    {"BDAT: final line end added", S("abc"), NOSTUFF, S("abc\r\n"), 0},
};

/* Encode `in` cut at `cuts`, with output buffers of `cap` bytes. */
static void enc_run_cap(const char *input, size_t len, const size_t *cuts, size_t ncuts,
                        test_log *log, unsigned opts, size_t cap)
{
    smtpkit_data_encoder e;
    buf out = {0};
    char *ob = (char *)malloc(cap ? cap : 1);
    size_t pos = 0, k;
    smtpkit_ssize r;
    smtpkit_data_encoder_init(&e, opts);
    for (k = 0; k <= ncuts; k++) {
        size_t next = k < ncuts ? cuts[k] : len, off = 0;
        while (off < next - pos) {
            size_t olen = 99, inlen = next - pos - off;
            r = smtpkit_data_encode(&e, input + pos + off, inlen, ob, cap, &olen);
            if (r < 0) {
                CHECK_INT(r, 0);
                goto out;
            }
            /* the documented progress guarantee */
            CHECK((size_t)r >= (inlen < cap / 2 ? inlen : cap / 2));
            CHECK(olen <= cap);
            buf_add(&out, ob, olen);
            off += (size_t)r;
            if (r == 0 && olen == 0 && cap >= 2) {
                CHECK(!"encoder made no progress");
                goto out;
            }
        }
        pos = next;
    }
    {
        char fin[SMTPKIT_DATA_ENCODE_FINISH_MAX];
        r = smtpkit_data_encode_finish(&e, fin, sizeof fin);
        CHECK(r >= 0);
        if (r > 0)
            buf_add(&out, fin, (size_t)r);
    }
out:
    test_log_add(log, "out=");
    test_log_bytes(log, out.p ? out.p : "", out.len);
    test_log_add(log, " flags=%#x", smtpkit_data_encoder_flags(&e));
    free(out.p);
    free(ob);
}

typedef struct enc_ctx {
    unsigned opts;
    size_t cap;
} enc_ctx;

static void enc_run(const char *input, size_t len, const size_t *cuts, size_t ncuts, test_log *log,
                    void *vctx)
{
    enc_ctx *c = (enc_ctx *)vctx;
    enc_run_cap(input, len, cuts, ncuts, log, c->opts, c->cap);
}

TEST(encoder_table)
{
    static const size_t caps[] = {4096, 2, 3, 4, 5, 7};
    size_t i, j;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(enc_cases); i++) {
        const enc_case *k = &enc_cases[i];
        test_log want = {0};
        test_log_add(&want, "out=");
        test_log_bytes(&want, k->out, k->outlen);
        test_log_add(&want, " flags=%#x", k->flags);
        for (j = 0; j < SMTPKIT_ARRAY_LEN(caps); j++) {
            enc_ctx c;
            test_log got;
            c.opts = k->opts;
            c.cap = caps[j];
            got = test_split_all(k->in, k->inlen, enc_run, &c);
            test_checks++;
            if (strcmp(got.buf, want.buf) != 0) {
                test_failures++;
                fprintf(stderr, "[%s] case \"%s\" cap %zu:\n got:  %s\n want: %s\n",
                        test_current, k->name, caps[j], got.buf, want.buf);
            }
            test_log_free(&got);
        }
        test_log_free(&want);
    }
}

TEST(encoder_long_lines_and_errors)
{
    static char in[1200], out[2600];
    smtpkit_data_encoder e;
    size_t olen;
    char small[2];
    memset(in, 'x', sizeof in);
    smtpkit_data_encoder_init(&e, 0);
    CHECK_INT(smtpkit_data_encode(&e, in, 998, out, sizeof out, &olen), 998);
    CHECK_INT(smtpkit_data_encoder_flags(&e), 0);
    CHECK_INT(smtpkit_data_encode(&e, "\n.", 2, out, sizeof out, &olen), 2);
    CHECK_MEM(out, olen, "\r\n..");
    CHECK_INT(smtpkit_data_encode(&e, in, 997, out, sizeof out, &olen), 997);
    CHECK_INT(smtpkit_data_encoder_flags(&e), SMTPKIT_DATA_SAW_BARE_LF);
    CHECK_INT(smtpkit_data_encode(&e, in, 1, out, sizeof out, &olen), 1);
    CHECK_INT(smtpkit_data_encoder_flags(&e),
              SMTPKIT_DATA_SAW_BARE_LF | SMTPKIT_DATA_SAW_LONG_LINE);

    /* output buffer too small for what finish must write */
    CHECK_INT(smtpkit_data_encode_finish(&e, small, sizeof small), SMTPKIT_ERR_BUFFER_TOO_SMALL);
    CHECK_INT(smtpkit_data_encode_finish(&e, out, sizeof out), 5);
    CHECK_MEM(out, 5, "\r\n.\r\n");
    CHECK_INT(smtpkit_data_encode_finish(&e, out, sizeof out), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_data_encode(&e, "a", 1, out, sizeof out, &olen), SMTPKIT_ERR_STATE);
    CHECK_INT(olen, 0);
    /* no room: nothing consumed */
    smtpkit_data_encoder_init(&e, 0);
    CHECK_INT(smtpkit_data_encode(&e, ".", 1, out, 1, &olen), 0);
    CHECK_INT(olen, 0);
    CHECK_INT(smtpkit_data_encode(&e, "a", 1, out, 0, &olen), 0);
    CHECK_INT(smtpkit_data_encode(&e, NULL, 1, out, 1, &olen), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_data_encode(&e, "a", 1, out, 1, NULL), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_data_encode(NULL, "a", 1, out, 1, &olen), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_data_encode(&e, NULL, 0, NULL, 0, &olen), 0);
    CHECK_INT(smtpkit_data_encode_finish(&e, small, 2), SMTPKIT_ERR_BUFFER_TOO_SMALL);
    CHECK_INT(smtpkit_data_encode_finish(&e, out, 3), 3);
    CHECK_MEM(out, 3, ".\r\n");
}

/* ---- round trip: decode(encode(x)) == normalise(x) ---- */

/* Encode x cut at `ecut` with output buffers of `cap`, then decode the
 * result cut at `dcut` (as fractions of its length: every point when
 * dcut == (size_t)-1). Checks everything it can. */
static void round_trip(const char *x, size_t n, size_t ecut, size_t cap, int all_dcuts)
{
    smtpkit_data_encoder e;
    buf wire = {0};
    char *ob = (char *)malloc(cap), *want = (char *)malloc(2 * n + 2);
    size_t wantlen = ref_normalise(x, n, want), off = 0, dcut, dfirst, dlast;
    smtpkit_ssize r;
    size_t olen;
    char fin[SMTPKIT_DATA_ENCODE_FINISH_MAX];

    smtpkit_data_encoder_init(&e, 0);
    while (off < n) {
        size_t stop = off < ecut && ecut < n ? ecut : n;
        r = smtpkit_data_encode(&e, x + off, stop - off, ob, cap, &olen);
        CHECK(r >= 0);
        if (r < 0)
            break;
        buf_add(&wire, ob, olen);
        off += (size_t)r;
    }
    r = smtpkit_data_encode_finish(&e, fin, sizeof fin);
    CHECK(r >= 3);
    buf_add(&wire, fin, (size_t)r);

    /* the wire has exactly one end marker, at its very end */
    CHECK_INT(ref_end_of_data(wire.p, wire.len), wire.len);

    dfirst = all_dcuts ? 0 : (wire.len ? rnd() % wire.len : 0);
    dlast = all_dcuts ? wire.len : dfirst;
    for (dcut = dfirst; dcut <= dlast; dcut++) {
        dec_ctx c;
        test_log got = {0}, exp = {0};
        size_t cuts[1];
        cuts[0] = dcut;
        memset(&c, 0, sizeof c);
        dec_run(wire.p, wire.len, cuts, 1, &got, &c);
        expect_log(&exp, want, wantlen, 1, (long long)wire.len,
                   smtpkit_data_encoder_flags(&e) &
                       ~(unsigned)(SMTPKIT_DATA_SAW_BARE_CR | SMTPKIT_DATA_SAW_BARE_LF));
        test_checks++;
        if (strcmp(test_log_str(&got), exp.buf) != 0) {
            test_failures++;
            test_log_reset(&exp);
            test_log_bytes(&exp, x, n);
            fprintf(stderr, "[%s] round trip of \"%s\" (ecut %zu cap %zu dcut %zu):\n got: %s\n",
                    test_current, exp.buf, ecut, cap, dcut, got.buf);
            dcut = dlast;
        }
        test_log_free(&got);
        test_log_free(&exp);
        free(c.body.p);
    }
    free(wire.p);
    free(ob);
    free(want);
}

TEST(round_trip_exhaustive_small)
{
    static const char alpha[] = {'\r', '\n', '.', 'a'};
    char in[8];
    size_t len;
    for (len = 0; len <= 6; len++) {
        size_t total = 1, idx, i;
        for (i = 0; i < len; i++)
            total *= 4;
        for (idx = 0; idx < total; idx++) {
            size_t v = idx, ecut;
            for (i = 0; i < len; i++, v /= 4)
                in[i] = alpha[v % 4];
            for (ecut = 0; ecut <= len; ecut++)
                round_trip(in, len, ecut, ecut % 2 ? 3 : 64, ecut == len / 2);
        }
    }
}

TEST(round_trip_random)
{
    static char x[3000];
    int iter;
    for (iter = 0; iter < 1500; iter++) {
        size_t n = rnd() % (iter < 1000 ? 40 : sizeof x);
        random_text(x, n);
        if (iter % 10 == 0) {
            size_t i;
            for (i = 0; i < n; i++)
                x[i] = (char)(rnd() & 0xff); /* raw random bytes */
        }
        {
            size_t ecut = n ? rnd() % n : 0; /* (argument order is unspecified) */
            size_t cap = 2 + rnd() % 100;
            round_trip(x, n, ecut, cap, n < 24);
        }
    }
}

/* ---- BDAT ---- */

TEST(bdat_counter)
{
    smtpkit_bdat_counter c;
    smtpkit_bdat_begin(&c, 10, 0);
    CHECK_INT(smtpkit_bdat_remaining(&c), 10);
    CHECK(!smtpkit_bdat_is_last(&c));
    CHECK_INT(smtpkit_bdat_take(&c, 4), 4);
    CHECK_INT(smtpkit_bdat_remaining(&c), 6);
    CHECK_INT(smtpkit_bdat_take(&c, 100), 6);
    CHECK_INT(smtpkit_bdat_remaining(&c), 0);
    CHECK_INT(smtpkit_bdat_take(&c, 5), 0);
    smtpkit_bdat_begin(&c, 0, 7);
    CHECK(smtpkit_bdat_is_last(&c));
    CHECK_INT(smtpkit_bdat_take(&c, 5), 0);
    smtpkit_bdat_begin(&c, (uint64_t)1 << 40, 1);
    CHECK_INT(smtpkit_bdat_take(&c, (size_t)1 << 20), (size_t)1 << 20);
    CHECK(smtpkit_bdat_remaining(&c) == ((uint64_t)1 << 40) - ((uint64_t)1 << 20));
    /* RFC 3030: the bytes are counted, never looked at: "\r\n.\r\n" is data */
    smtpkit_bdat_begin(&c, 5, 1);
    CHECK_INT(smtpkit_bdat_take(&c, sizeof "\r\n.\r\nQUIT\r\n" - 1), 5);
    CHECK_INT(smtpkit_bdat_take(NULL, 5), 0);
    CHECK_INT(smtpkit_bdat_remaining(NULL), 0);
}

/* ---- no allocations ---- */

#ifdef HAVE_ASAN
static volatile long mallocs_seen;
static void count_malloc(const volatile void *p, size_t n)
{
    (void)p;
    (void)n;
    mallocs_seen++;
}
static void count_free(const volatile void *p) { (void)p; }
#endif

static int sink_cb(void *user, const char *data, size_t len)
{
    (void)data;
    *(size_t *)user += len;
    return 0;
}

TEST(codec_allocates_nothing)
{
    /* The codec structs live wherever the caller puts them (here: static
     * storage) and the API takes no allocator: it must never allocate. */
    static smtpkit_data_decoder d;
    static smtpkit_data_encoder e;
    static char msg[] = "Subject: hi\r\n\r\n..dot\nbare\r\n.\rx\r\n\xc3\xa9\0\r\n";
    static char wire[256];
    size_t got = 0, olen = 0, i;
    smtpkit_ssize r;
#ifdef HAVE_ASAN
    CHECK(__sanitizer_install_malloc_and_free_hooks(count_malloc, count_free) != 0);
    mallocs_seen = 0;
#endif
    for (i = 0; i < 100; i++) {
        size_t w;
        smtpkit_data_encoder_init(&e, 0);
        r = smtpkit_data_encode(&e, msg, sizeof msg - 1, wire, sizeof wire, &olen);
        w = olen;
        r = smtpkit_data_encode_finish(&e, wire + w, sizeof wire - w);
        w += (size_t)r;
        smtpkit_data_decoder_init(&d, i & 1 ? SMTPKIT_DATA_NORMALIZE_BARE : 0, sink_cb, &got);
        r = smtpkit_data_decoder_feed(&d, wire, w / 2);
        r += smtpkit_data_decoder_feed(&d, wire + w / 2, w - w / 2);
        if (r != (smtpkit_ssize)w || !smtpkit_data_decoder_done(&d))
            break;
    }
    CHECK_INT(i, 100);
    CHECK(got > 0);
#ifdef HAVE_ASAN
    CHECK_INT(mallocs_seen, 0);
    /* the hook really counts: */
    {
        void *volatile p = malloc(16); /* volatile: the pair must not be optimised away */
        free(p);
    }
    CHECK(mallocs_seen > 0);
#else
    printf("note: built without ASan, allocation counting hooks unavailable\n");
#endif
}

int main(void)
{
    RUN(decoder_table);
    RUN(decoder_long_lines);
    RUN(decoder_exhaustive_small);
    RUN(decoder_random_against_reference);
    RUN(decoder_views_not_copies);
    RUN(decoder_api_errors_and_pause);
    RUN(encoder_table);
    RUN(encoder_long_lines_and_errors);
    RUN(round_trip_exhaustive_small);
    RUN(round_trip_random);
    RUN(bdat_counter);
    RUN(codec_allocates_nothing);
    return test_summary();
}
