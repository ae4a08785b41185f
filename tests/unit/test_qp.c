/* Quoted-printable body encoder (RFC 2045 6.7) and the CRLF normaliser. */
#include "qp.h"
#include "test.h"

typedef size_t (*enc_fn)(smtpkit__qp *q, const unsigned char *in, size_t n, int eof, char *out,
                         size_t cap, size_t *outlen);

static size_t qp_fn(smtpkit__qp *q, const unsigned char *in, size_t n, int eof, char *out,
                    size_t cap, size_t *outlen)
{
    return smtpkit__qp_encode(q, in, n, eof, out, cap, outlen);
}

static size_t crlf_fn(smtpkit__qp *q, const unsigned char *in, size_t n, int eof, char *out,
                      size_t cap, size_t *outlen)
{
    (void)q;
    return smtpkit__crlf_normalize(in, n, eof, out, cap, outlen);
}

/* Drive an encoder the way the message pump does: input arrives in the
 * given chunks, unconsumed lookahead bytes are kept and completed by the
 * next chunk, output goes to a buffer of `cap` bytes at a time. */
static void drive(enc_fn fn, const char *input, size_t len, const size_t *cuts, size_t ncuts,
                  size_t cap, test_log *log)
{
    smtpkit__qp q;
    unsigned char pend[64 + 8];
    size_t npend = 0, c, prev = 0;
    char out[64];
    smtpkit__qp_init(&q);
    for (c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : len, pos = prev;
        int eof = c == ncuts;
        /* append the chunk a little at a time through the pending buffer */
        while (pos < end || eof) {
            size_t take = SMTPKIT_MIN(end - pos, 64 - npend), used, o;
            memcpy(pend + npend, input + pos, take);
            npend += take;
            pos += take;
            used = fn(&q, pend, npend, eof && pos == end, out, cap, &o);
            test_log_bytes(log, out, o);
            memmove(pend, pend + used, npend - used);
            npend -= used;
            if (used == 0 && o == 0) {
                if (eof && pos == end) {
                    CHECK_INT(npend, 0);
                    break;
                }
                /* waiting for lookahead: at most a few bytes held back */
                CHECK(npend <= SMTPKIT__QP_LOOKAHEAD);
                if (pos == end || take == 0)
                    break;
            }
        }
        prev = end;
    }
}

static void run_qp(const char *input, size_t len, const size_t *cuts, size_t ncuts,
                   test_log *log, void *ctx)
{
    drive(qp_fn, input, len, cuts, ncuts, ctx ? *(size_t *)ctx : 64, log);
}

static void run_crlf(const char *input, size_t len, const size_t *cuts, size_t ncuts,
                     test_log *log, void *ctx)
{
    drive(crlf_fn, input, len, cuts, ncuts, ctx ? *(size_t *)ctx : 64, log);
}

/* Whole-input encoding into a string (caller frees). */
static char *encode_all(enc_fn fn, const char *in, size_t n, size_t *outlen)
{
    test_log l = {0};
    size_t cap = 64;
    drive(fn, in, n, NULL, 0, cap, &l);
    *outlen = 0;
    {
        /* undo test_log_bytes escaping */
        char *r = (char *)malloc(l.len + 1), *o = r;
        size_t i;
        for (i = 0; i < l.len; i++) {
            if (l.buf[i] == '\\') {
                char e = l.buf[++i];
                if (e == 'r')
                    *o++ = '\r';
                else if (e == 'n')
                    *o++ = '\n';
                else if (e == '\\')
                    *o++ = '\\';
                else {
                    unsigned v;
                    sscanf(l.buf + i + 1, "%2x", &v);
                    *o++ = (char)v;
                    i += 2;
                }
            } else {
                *o++ = l.buf[i];
            }
        }
        *outlen = (size_t)(o - r);
        *o = 0;
        test_log_free(&l);
        return r;
    }
}

static void check_qp(const char *in, const char *expect)
{
    size_t n;
    char *got = encode_all(qp_fn, in, strlen(in), &n);
    CHECK_MEM(got, n, expect);
    free(got);
}

TEST(qp_table)
{
    char a74[80], a75[80], a76[80], buf[400], exp[400];
    memset(a74, 'a', 74);
    a74[74] = 0;
    memset(a75, 'a', 75);
    a75[75] = 0;
    memset(a76, 'a', 76);
    a76[76] = 0;

    check_qp("", "");
    check_qp("hello world", "hello world");
    check_qp("a=b", "a=3Db");
    /* trailing white space before a break and at the end is encoded */
    check_qp("trailing \nx", "trailing=20\r\nx");
    check_qp("tab\t", "tab=09");
    check_qp("two  \r\n", "two =20\r\n");
    check_qp("in the middle ok", "in the middle ok");
    /* dots and "From " at a line start */
    check_qp(".dot\n.\n", "=2Edot\r\n=2E\r\n");
    check_qp("a.b\n", "a.b\r\n");
    check_qp("From here\nFrom\nFromage\nFrom", "=46rom here\r\nFrom\r\nFromage\r\nFrom");
    check_qp("x From y", "x From y");
    /* every line break style becomes CRLF */
    check_qp("a\r\nb\rc\nd\r", "a\r\nb\r\nc\r\nd\r\n");
    check_qp("\r\r\n\n", "\r\n\r\n\r\n");
    /* 8-bit, NUL, controls, DEL */
    check_qp("\xc3\xa9t\xc3\xa9", "=C3=A9t=C3=A9");
    /* 76 characters may end a line that ends there; 77 need a soft break */
    snprintf(buf, sizeof buf, "%s\n", a76);
    snprintf(exp, sizeof exp, "%s\r\n", a76);
    check_qp(buf, exp);
    check_qp(a76, a76);
    snprintf(buf, sizeof buf, "%sbc", a75);
    snprintf(exp, sizeof exp, "%s=\r\nbc", a75);
    check_qp(buf, exp);
    snprintf(buf, sizeof buf, "%sbcd", a74);
    snprintf(exp, sizeof exp, "%sb=\r\ncd", a74);
    check_qp(buf, exp);
    /* an encoded token never straddles the soft break */
    snprintf(buf, sizeof buf, "%s=", a74);
    snprintf(exp, sizeof exp, "%s=\r\n=3D", a74);
    check_qp(buf, exp);
    snprintf(buf, sizeof buf, "%s=\n", a74);
    snprintf(exp, sizeof exp, "%s=\r\n=3D\r\n", a74);
    check_qp(buf, exp);
    /* a space before a soft break stays literal (the '=' protects it) */
    snprintf(buf, sizeof buf, "%s b", a75);
    snprintf(exp, sizeof exp, "%s=\r\n b", a75);
    check_qp(buf, exp);
    /* the column-0 rules apply after a soft break too */
    snprintf(buf, sizeof buf, "%sFrom x", a75);
    snprintf(exp, sizeof exp, "%s=\r\n=46rom x", a75);
    check_qp(buf, exp);
    snprintf(buf, sizeof buf, "%s.x", a75);
    snprintf(exp, sizeof exp, "%s=\r\n=2Ex", a75);
    check_qp(buf, exp);
}

TEST(qp_controls)
{
    size_t n;
    char *got = encode_all(qp_fn, "\0\x01\x7f\x1b", 4, &n);
    CHECK_MEM(got, n, "=00=01=7F=1B");
    free(got);
}

/* Minimal RFC 2045 6.7 decoder for the round trip. */
static size_t qp_decode(const char *s, size_t n, char *out)
{
    size_t i = 0, o = 0;
    while (i < n) {
        if (s[i] == '=') {
            if (i + 2 < n + 1 && s[i + 1] == '\r' && s[i + 2] == '\n') {
                i += 3;
                continue;
            }
            {
                unsigned v = 0;
                sscanf(s + i + 1, "%2X", &v);
                out[o++] = (char)v;
                i += 3;
            }
        } else {
            out[o++] = s[i++];
        }
    }
    return o;
}

static unsigned long long rng_state = 88172645463325252ULL;
static unsigned rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state >> 11);
}

TEST(qp_round_trip_and_line_rules)
{
    static const char alphabet[] = "ab .=F\r\n\t\xc3\xa9\x00rom-";
    int iter;
    for (iter = 0; iter < 400; iter++) {
        size_t n = rnd() % 400, i, on, dn, norm = 0, line = 0;
        char in[400], normed[800], *dec, *enc;
        for (i = 0; i < n; i++)
            in[i] = alphabet[rnd() % (sizeof alphabet - 1)];
        /* expected: the input with every break style as CRLF */
        for (i = 0; i < n; i++) {
            if (in[i] == '\r' || in[i] == '\n') {
                if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
                    i++;
                normed[norm++] = '\r';
                normed[norm++] = '\n';
            } else {
                normed[norm++] = in[i];
            }
        }
        enc = encode_all(qp_fn, in, n, &on);
        dec = (char *)malloc(on + 1);
        dn = qp_decode(enc, on, dec);
        CHECK(dn == norm && memcmp(dec, normed, norm) == 0);
        /* lines <= 76, no white space before a line end, only CRLF breaks,
         * nothing but printable ASCII */
        for (i = 0; i < on; i++) {
            unsigned char c = (unsigned char)enc[i];
            if (c == '\r') {
                CHECK(i + 1 < on && enc[i + 1] == '\n');
                CHECK(i == 0 || (enc[i - 1] != ' ' && enc[i - 1] != '\t'));
                CHECK(line <= 76);
                line = 0;
                i++;
                continue;
            }
            CHECK(c != '\n');
            CHECK((c >= 33 && c <= 126) || c == ' ' || c == '\t');
            if (line == 0)
                CHECK(c != '.');
            line++;
        }
        CHECK(line <= 76);
        if (on)
            CHECK(enc[on - 1] != ' ' && enc[on - 1] != '\t');
        free(enc);
        free(dec);
    }
}

TEST(qp_every_split_same_output)
{
    static const char *const inputs[] = {
        "From the start\r\nFrom\rFro\nF\n.\r\n", "trailing  \r\n\t\r\nx =\r\n",
        "long line aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\xc3\xa9 ",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \r\n"};
    size_t caps[] = {8, 9, 64};
    size_t i, c;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(inputs); i++) {
        for (c = 0; c < SMTPKIT_ARRAY_LEN(caps); c++) {
            test_log l = test_split_all(inputs[i], strlen(inputs[i]), run_qp, &caps[c]);
            test_log l2 = {0};
            /* the output does not depend on the output buffer size either */
            run_qp(inputs[i], strlen(inputs[i]), NULL, 0, &l2, NULL);
            CHECK(strcmp(test_log_str(&l), test_log_str(&l2)) == 0);
            test_log_free(&l);
            test_log_free(&l2);
        }
    }
}

TEST(crlf_normalize)
{
    size_t n;
    char *got = encode_all(crlf_fn, "a\r\nb\rc\nd\r", 9, &n);
    size_t cap = 2;
    test_log l;
    CHECK_MEM(got, n, "a\r\nb\r\nc\r\nd\r\n");
    free(got);
    got = encode_all(crlf_fn, "\r\r\n\n\n\r", 6, &n);
    CHECK_MEM(got, n, "\r\n\r\n\r\n\r\n\r\n");
    free(got);
    got = encode_all(crlf_fn, "plain", 5, &n);
    CHECK_MEM(got, n, "plain");
    free(got);
    l = test_split_all("x\r\ny\rz\n\r\n\r", 10, run_crlf, &cap);
    CHECK_STR(test_log_str(&l), "x\\r\\ny\\r\\nz\\r\\n\\r\\n\\r\\n");
    test_log_free(&l);
}

int main(void)
{
    RUN(qp_table);
    RUN(qp_controls);
    RUN(qp_round_trip_and_line_rules);
    RUN(qp_every_split_same_output);
    RUN(crlf_normalize);
    return test_summary();
}
