/* Message builder, header side: folding, RFC 2047 encoded words, display
 * names, dates, message ids, RFC 2231 file names and injection refusals. */
#include "test_message.h"

/* Build a minimal message after `setup` and return its bytes. */
typedef void (*setup_fn)(smtpkit_message *m, const void *arg);

static char *build_with(setup_fn setup, const void *arg, size_t *len)
{
    smtpkit_message *m = smtpkit_message_new(NULL);
    char *out;
    CHECK_INT(smtpkit_message_set_from(m, "ann@example.org", NULL), 0);
    setup(m, arg);
    out = tm_build(m, len);
    smtpkit_message_free(m);
    return out;
}

static void set_subject(smtpkit_message *m, const void *arg)
{
    CHECK_INT(smtpkit_message_set_subject(m, (const char *)arg), 0);
}

/* Build with `subject`; check the line rules; return the unfolded raw
 * Subject value in raw[] and the decoded value in dec[]. */
static void subject_round_trip(const char *subject, char *raw, size_t rawcap, char *dec,
                               size_t deccap, size_t fold_max)
{
    size_t len, longest;
    char *msg = build_with(set_subject, subject, &len);
    tm_entity e;
    long d;
    CHECK(msg != NULL);
    if (!msg)
        return;
    CHECK(tm_split(msg, len, &e));
    CHECK(tm_lines_ok(e.hdr, e.hlen, fold_max, &longest));
    if (longest > fold_max)
        fprintf(stderr, "  longest header line %zu for subject \"%.40s...\"\n", longest, subject);
    CHECK(tm_header(&e, "Subject", raw, rawcap) >= 0);
    d = tm_decode_text(raw, dec, deccap);
    CHECK(d >= 0);
    CHECK_STR(dec, subject);
    free(msg);
}

TEST(ascii_subject_needs_no_encoding)
{
    size_t len;
    char *msg = build_with(set_subject, "Hello world, (quite) <plain> \"ASCII\"; ok?", &len);
    CHECK(strstr(msg, "\r\nSubject: Hello world, (quite) <plain> \"ASCII\"; ok?\r\n") != NULL);
    free(msg);
    msg = build_with(set_subject, "", &len);
    CHECK(strstr(msg, "\r\nSubject:\r\n") != NULL);
    free(msg);
}

TEST(long_ascii_is_folded_at_white_space)
{
    char subject[400], raw[1200], dec[1200];
    size_t i;
    for (i = 0; i < 300; i++)
        subject[i] = (i % 7 == 6) ? ' ' : (char)('a' + i % 26);
    subject[300] = 0;
    subject_round_trip(subject, raw, sizeof raw, dec, sizeof dec, 78);
    CHECK_STR(raw, subject); /* nothing encoded, unfolding gives it back */
    CHECK(strstr(raw, "=?") == NULL);
}

TEST(long_words)
{
    char subject[2000], raw[8000], dec[2000];
    /* a 120-character word cannot be folded; it is kept (<= 998) */
    memset(subject, 'w', 120);
    strcpy(subject + 120, " end");
    subject_round_trip(subject, raw, sizeof raw, dec, sizeof dec, 998);
    CHECK_STR(raw, subject);
    /* an 1500-character word would pass 998: encoded words split it */
    memset(subject, 'x', 1500);
    strcpy(subject + 1500, " end");
    subject_round_trip(subject, raw, sizeof raw, dec, sizeof dec, 78);
    CHECK(strstr(raw, "=?UTF-8?") != NULL);
    /* white space runs too long for a line go inside encoded words */
    memset(subject, ' ', 1200);
    subject[0] = 'a';
    strcpy(subject + 1200, "b");
    subject_round_trip(subject, raw, sizeof raw, dec, sizeof dec, 998);
}

TEST(encoded_words_split_only_between_characters)
{
    static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                        "\xe6\x97\xa5"};
    size_t c, k, i;
    for (c = 0; c < SMTPKIT_ARRAY_LEN(chars); c++) {
        for (k = 0; k < 4; k++) {
            char subject[1000], raw[4000], dec[1000];
            size_t n = 0;
            /* shift the characters by k ASCII bytes so the split points
             * fall at every offset within a character */
            for (i = 0; i < k; i++)
                subject[n++] = 'a';
            for (i = 0; i < 70; i++) {
                strcpy(subject + n, chars[c]);
                n += strlen(chars[c]);
            }
            subject[n] = 0;
            subject_round_trip(subject, raw, sizeof raw, dec, sizeof dec, 78);
            CHECK(strstr(raw, "=?UTF-8?") != NULL);
        }
    }
}

TEST(b_or_q_whichever_is_shorter)
{
    char raw[400], dec[400];
    /* one accent in a long word: Q (3 + 30) beats B (44) */
    subject_round_trip("Sch\xc3\xb6nheitsoperationswartezimmer au lait", raw, sizeof raw, dec,
                       sizeof dec, 78);
    CHECK(strstr(raw, "?Q?") != NULL && strstr(raw, "?B?") == NULL);
    CHECK(strstr(raw, " au lait") != NULL); /* ASCII words stay readable */
    subject_round_trip("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86", raw,
                       sizeof raw, dec, sizeof dec, 78);
    CHECK(strstr(raw, "?B?") != NULL && strstr(raw, "?Q?") == NULL);
}

TEST(mixed_ascii_and_encoded)
{
    char raw[400], dec[400];
    /* adjacent non-ASCII words share encoded words so their space survives */
    subject_round_trip("Gr\xc3\xbc\xc3\x9f" "e Gr\xc3\xbc\xc3\x9f" "e and more", raw, sizeof raw,
                       dec, sizeof dec, 78);
    CHECK(strstr(raw, " and more") != NULL);
    subject_round_trip("Hello W\xc3\xb6rld", raw, sizeof raw, dec, sizeof dec, 78);
    CHECK(strncmp(raw, "Hello =?UTF-8?", 14) == 0);
    /* ASCII that looks like an encoded word must not decode as one */
    subject_round_trip("literal =?UTF-8?Q?x?= text", raw, sizeof raw, dec, sizeof dec, 78);
    CHECK(strstr(raw, "=?UTF-8?Q?x?=") == NULL);
    /* control characters are encoded, tabs and double spaces kept */
    subject_round_trip("bell\x07 tab\there  two", raw, sizeof raw, dec, sizeof dec, 78);
    CHECK(strstr(raw, "tab\there  two") != NULL);
}

TEST(huge_subject_never_passes_998)
{
    static char subject[60001];
    static char raw[200000], dec[60001];
    unsigned x = 12345;
    size_t i;
    for (i = 0; i < 60000; i++) {
        x = x * 1103515245u + 12345u;
        switch ((x >> 16) % 9) {
        case 0: subject[i] = ' '; break;
        case 1:
            if (i + 2 <= 60000) {
                subject[i++] = '\xc3';
                subject[i] = '\xa9';
            } else {
                subject[i] = 'e';
            }
            break;
        default: subject[i] = (char)('a' + (x >> 20) % 26); break;
        }
    }
    subject[60000] = 0;
    subject_round_trip(subject, raw, sizeof raw, dec, sizeof dec, 78);
    memset(subject, 'z', 60000);
    subject_round_trip(subject, raw, sizeof raw, dec, sizeof dec, 78);
}

/* ---- display names and addresses ---- */

typedef struct name_case {
    const char *name;
    const char *expect; /* raw From value, NULL = check decode only */
} name_case;

static void set_from_name(smtpkit_message *m, const void *arg)
{
    CHECK_INT(smtpkit_message_set_from(m, "a@b.example", (const char *)arg), 0);
}

TEST(display_names)
{
    static const name_case cases[] = {
        {"Ann Example", "Ann Example <a@b.example>"},
        {"Smith, John", "\"Smith, John\" <a@b.example>"},
        {"J. R. \"Bob\" Dobbs", "\"J. R. \\\"Bob\\\" Dobbs\" <a@b.example>"},
        {"back\\slash", "\"back\\\\slash\" <a@b.example>"},
        {" lead", "\" lead\" <a@b.example>"},
        {"two  spaces", "\"two  spaces\" <a@b.example>"},
        {"Zo\xc3\xab", "=?UTF-8?Q?Zo=C3=AB?= <a@b.example>"},
        {"", "a@b.example"},
        {"=?UTF-8?Q?fake?=", NULL},
        {"\xe5\xbc\xb5\xe4\xbc\x9f \xe5\xbc\xb5\xe4\xbc\x9f \xe5\xbc\xb5\xe4\xbc\x9f "
         "\xe5\xbc\xb5\xe4\xbc\x9f \xe5\xbc\xb5\xe4\xbc\x9f \xe5\xbc\xb5\xe4\xbc\x9f "
         "\xe5\xbc\xb5\xe4\xbc\x9f \xe5\xbc\xb5\xe4\xbc\x9f \xe5\xbc\xb5\xe4\xbc\x9f",
         NULL},
    };
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(cases); i++) {
        size_t len;
        char *msg = build_with(set_from_name, cases[i].name, &len);
        tm_entity e;
        char raw[1000], dec[1000];
        CHECK(tm_split(msg, len, &e));
        CHECK(tm_lines_ok(e.hdr, e.hlen, 78, NULL));
        CHECK(tm_header(&e, "From", raw, sizeof raw) > 0);
        if (cases[i].expect) {
            CHECK_STR(raw, cases[i].expect);
        } else {
            /* encoded words, then the address */
            char *lt = strrchr(raw, '<');
            CHECK(lt != NULL && strcmp(lt, "<a@b.example>") == 0);
            if (lt) {
                lt[-1] = 0;
                CHECK(tm_decode_text(raw, dec, sizeof dec) >= 0);
                CHECK_STR(dec, cases[i].name);
                CHECK(strncmp(raw, "=?UTF-8?", 8) == 0);
            }
        }
        free(msg);
    }
}

static void many_to(smtpkit_message *m, const void *arg)
{
    int i;
    (void)arg;
    for (i = 0; i < 40; i++) {
        char a[64];
        snprintf(a, sizeof a, "user%d@example.org", i);
        CHECK_INT(smtpkit_message_add_to(m, a, i % 3 == 0 ? "Some Body" : NULL), 0);
    }
    CHECK_INT(smtpkit_message_add_cc(m, "cc@example.org", "C. C."), 0);
    CHECK_INT(smtpkit_message_add_reply_to(m, "reply@example.org", NULL), 0);
    CHECK_INT(smtpkit_message_add_bcc(m, "secret@example.org"), 0);
    CHECK_INT(smtpkit_message_set_sender(m, "sender@example.org", "Send Er"), 0);
}

TEST(address_lists_fold_and_bcc_stays_out)
{
    size_t len;
    char *msg = build_with(many_to, NULL, &len), raw[4000];
    tm_entity e;
    CHECK(tm_split(msg, len, &e));
    CHECK(tm_lines_ok(e.hdr, e.hlen, 78, NULL));
    CHECK(tm_header(&e, "To", raw, sizeof raw) > 0);
    CHECK(strncmp(raw, "Some Body <user0@example.org>, user1@example.org, user2@example.org, ",
                  69) == 0);
    CHECK(strstr(raw, ", user38@example.org, Some Body <user39@example.org>") != NULL);
    CHECK(tm_header(&e, "Cc", raw, sizeof raw) > 0);
    CHECK_STR(raw, "\"C. C.\" <cc@example.org>");
    CHECK(tm_header(&e, "Reply-To", raw, sizeof raw) > 0);
    CHECK_STR(raw, "reply@example.org");
    CHECK(tm_header(&e, "Sender", raw, sizeof raw) > 0);
    CHECK_STR(raw, "Send Er <sender@example.org>");
    CHECK_INT(tm_header_count(&e, "Bcc"), 0);
    CHECK(strstr(msg, "secret") == NULL);
    free(msg);
}

TEST(utf8_addresses_flag_smtputf8)
{
    smtpkit_message *m = smtpkit_message_new(NULL);
    size_t len;
    char *msg;
    CHECK_INT(smtpkit_message_set_from(m, "ann@example.org", NULL), 0);
    CHECK_INT(smtpkit_message_flags(m), 0);
    CHECK_INT(smtpkit_message_add_to(m, "j\xc3\xb6rg@b\xc3\xbc" "cher.example", "J\xc3\xb6rg"),
              0);
    CHECK(smtpkit_message_flags(m) & SMTPKIT_MESSAGE_SMTPUTF8);
    msg = tm_build(m, &len);
    /* RFC 6532: the address itself is sent as UTF-8; the name is encoded */
    CHECK(strstr(msg, "To: =?UTF-8?B?SsO2cmc=?= <j\xc3\xb6rg@b\xc3\xbc" "cher.example>\r\n") !=
          NULL);
    free(msg);
    smtpkit_message_free(m);
}

/* ---- dates ---- */

TEST(dates)
{
    static const struct {
        int64_t t;
        int zone;
        const char *expect;
    } cases[] = {
        {0, 0, "Thu, 1 Jan 1970 00:00:00 +0000"},
        {1739451909, 60, "Thu, 13 Feb 2025 14:05:09 +0100"},
        {1739451909, -300, "Thu, 13 Feb 2025 08:05:09 -0500"},
        {1709164800, 0, "Thu, 29 Feb 2024 00:00:00 +0000"},
        {1709164799, 0, "Wed, 28 Feb 2024 23:59:59 +0000"},
        {951782400, 330, "Tue, 29 Feb 2000 05:30:00 +0530"},
        {-1, 0, "Wed, 31 Dec 1969 23:59:59 +0000"},
        {-2208988800LL, 0, "Mon, 1 Jan 1900 00:00:00 +0000"},
        {253402300799LL, 0, "Fri, 31 Dec 9999 23:59:59 +0000"},
        {1735689599, 1439, "Wed, 1 Jan 2025 23:58:59 +2359"},
        {1735689600, -1439, "Tue, 31 Dec 2024 00:01:00 -2359"},
    };
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(cases); i++) {
        smtpkit_message *m = smtpkit_message_new(NULL);
        size_t len;
        char *msg, want[80];
        CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
        CHECK_INT(smtpkit_message_set_date(m, cases[i].t, cases[i].zone), 0);
        msg = tm_build(m, &len);
        snprintf(want, sizeof want, "Date: %s\r\n", cases[i].expect);
        CHECK(msg && strncmp(msg, want, strlen(want)) == 0);
        if (msg && strncmp(msg, want, strlen(want)) != 0)
            fprintf(stderr, "  got %.40s\n", msg);
        free(msg);
        smtpkit_message_free(m);
    }
    {
        smtpkit_message *m = smtpkit_message_new(NULL);
        CHECK_INT(smtpkit_message_set_date(m, 0, 1440), SMTPKIT_ERR_INVALID_ARG);
        CHECK_INT(smtpkit_message_set_date(m, 0, -1440), SMTPKIT_ERR_INVALID_ARG);
        CHECK_INT(smtpkit_message_set_date(m, -2208988801LL, 0), SMTPKIT_ERR_INVALID_ARG);
        CHECK_INT(smtpkit_message_set_date(m, 253402300800LL, 0), SMTPKIT_ERR_INVALID_ARG);
        CHECK_INT(smtpkit_message_set_date(m, 253402300799LL, 60), SMTPKIT_ERR_INVALID_ARG);
        smtpkit_message_free(m);
    }
}

/* ---- ids ---- */

TEST(message_ids)
{
    smtpkit_message *m = smtpkit_message_new(NULL);
    static const unsigned char u[] = {0xde, 0xad, 0xbe, 0xef, 0x01};
    size_t len;
    char *msg;
    tm_entity e;
    char raw[2000];
    int i;
    CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
    CHECK_INT(smtpkit_message_generate_message_id(m, "example.org"), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_message_set_unique(m, u, sizeof u), 0);
    CHECK_INT(smtpkit_message_generate_message_id(m, "bad domain"), SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_generate_message_id(m, "x.org\r\nBcc: y"), SMTPKIT_ERR_INJECTION);
    CHECK_INT(smtpkit_message_generate_message_id(m, "example.org"), 0);
    CHECK_INT(smtpkit_message_set_in_reply_to(m, "<orig.1@example.net>"), 0);
    for (i = 0; i < 12; i++) {
        char id[64];
        snprintf(id, sizeof id, "ref-%d.abcdefgh@[10.0.0.%d]", i, i);
        CHECK_INT(smtpkit_message_add_reference(m, id), 0);
    }
    CHECK_INT(smtpkit_message_set_message_id(m, "no-at-sign"), SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_set_message_id(m, "a b@c"), SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_set_message_id(m, "a@b\nX: y"), SMTPKIT_ERR_INJECTION);
    CHECK_INT(smtpkit_message_set_in_reply_to(m, "<a..b@c>"), SMTPKIT_ERR_BAD_HEADER);
    msg = tm_build(m, &len);
    CHECK(tm_split(msg, len, &e));
    CHECK(tm_lines_ok(e.hdr, e.hlen, 78, NULL));
    CHECK(tm_header(&e, "Message-ID", raw, sizeof raw) > 0);
    CHECK_STR(raw, "<deadbeef01@example.org>");
    CHECK(tm_header(&e, "In-Reply-To", raw, sizeof raw) > 0);
    CHECK_STR(raw, "<orig.1@example.net>");
    CHECK(tm_header(&e, "References", raw, sizeof raw) > 0);
    CHECK(strncmp(raw, "<ref-0.abcdefgh@[10.0.0.0]> <ref-1.abcdefgh@[10.0.0.1]> ", 56) == 0);
    free(msg);
    smtpkit_message_free(m);
}

/* ---- custom headers ---- */

static void custom_headers(smtpkit_message *m, const void *arg)
{
    (void)arg;
    CHECK_INT(smtpkit_message_add_header(m, "X-Mailer", "smtpkit test"), 0);
    CHECK_INT(smtpkit_message_add_header(m, "X-Note", "na\xc3\xafve caf\xc3\xa9"), 0);
    CHECK_INT(smtpkit_message_add_header(m, "List-Unsubscribe", "<mailto:u@example.org>"), 0);
    CHECK_INT(smtpkit_message_add_header(m, "X-Empty", ""), 0);
}

TEST(custom_headers_written_after_standard_ones)
{
    size_t len;
    char *msg = build_with(custom_headers, NULL, &len), raw[400], dec[400];
    tm_entity e;
    CHECK(tm_split(msg, len, &e));
    CHECK(strstr(msg, "\r\nX-Mailer: smtpkit test\r\n") != NULL);
    CHECK(strstr(msg, "\r\nList-Unsubscribe: <mailto:u@example.org>\r\n") != NULL);
    CHECK(strstr(msg, "\r\nX-Empty:\r\n") != NULL);
    CHECK(tm_header(&e, "X-Note", raw, sizeof raw) > 0);
    CHECK(tm_decode_text(raw, dec, sizeof dec) > 0);
    CHECK_STR(dec, "na\xc3\xafve caf\xc3\xa9");
    CHECK(strstr(msg, "X-Mailer") < strstr(msg, "MIME-Version"));
    free(msg);
}

/* ---- injection ---- */

TEST(header_injection_is_refused)
{
    smtpkit_message *m = smtpkit_message_new(NULL);
    smtpkit_source s;
    smtpkit_mem_source ms;
    static const char *const bad[] = {"a\r\nBcc: x@y.z", "a\nb", "a\rb", "\r\n", "x\n"};
    size_t i;
    smtpkit_source_from_memory(&s, &ms, "x", 1);
    for (i = 0; i < SMTPKIT_ARRAY_LEN(bad); i++) {
        const char *v = bad[i];
        CHECK_INT(smtpkit_message_set_subject(m, v), SMTPKIT_ERR_INJECTION);
        CHECK_INT(smtpkit_message_add_header(m, "X-A", v), SMTPKIT_ERR_INJECTION);
        CHECK_INT(smtpkit_message_add_header(m, v, "ok"), SMTPKIT_ERR_INJECTION);
        CHECK_INT(smtpkit_message_set_from(m, "a@b.c", v), SMTPKIT_ERR_INJECTION);
        CHECK_INT(smtpkit_message_add_to(m, "a@b.c", v), SMTPKIT_ERR_INJECTION);
        CHECK_INT(smtpkit_message_add_cc(m, v, NULL), SMTPKIT_ERR_INJECTION);
        CHECK_INT(smtpkit_message_add_bcc(m, v), SMTPKIT_ERR_INJECTION);
        CHECK_INT(smtpkit_message_set_message_id(m, v), SMTPKIT_ERR_INJECTION);
        CHECK_INT(smtpkit_message_add_attachment(m, &s, v, NULL), SMTPKIT_ERR_INJECTION);
        CHECK_INT(smtpkit_message_add_attachment(m, &s, "f.txt", v), SMTPKIT_ERR_INJECTION);
        CHECK_INT(smtpkit_message_add_inline(m, &s, v, NULL, "image/png"),
                  SMTPKIT_ERR_INJECTION);
    }
    /* NUL inside a view */
    CHECK_INT(smtpkit_message_add_header_n(m, "X-A", 3, "a\0b", 3), SMTPKIT_ERR_INJECTION);
    CHECK_INT(smtpkit_message_add_header_n(m, "X\0A", 3, "ab", 2), SMTPKIT_ERR_INJECTION);
    /* '<' / '>' in an address would end the path */
    CHECK_INT(smtpkit_message_add_to(m, "a>b@c.d", NULL), SMTPKIT_ERR_INJECTION);
    CHECK_INT(smtpkit_message_add_to(m, "not an address", NULL), SMTPKIT_ERR_BAD_ADDRESS);
    CHECK_INT(smtpkit_message_add_to(m, "", NULL), SMTPKIT_ERR_BAD_ADDRESS);
    CHECK_INT(smtpkit_message_add_to(m, "a@", NULL), SMTPKIT_ERR_BAD_ADDRESS);
    /* invalid and reserved field names */
    CHECK_INT(smtpkit_message_add_header(m, "X A", "v"), SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_add_header(m, "X:A", "v"), SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_add_header(m, "", "v"), SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_add_header(m, "X-\xc3\xa9", "v"), SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_add_header(m, "bcc", "x@y.z"), SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_add_header(m, "Content-Type", "text/html"), SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_add_header(m, "SUBJECT", "x"), SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_add_header(m, "X-Ok", "x"), 0);
    /* content types and ids */
    CHECK_INT(smtpkit_message_add_attachment(m, &s, "a", "text"), SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_add_attachment(m, &s, "a", "text/ plain"), SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_add_attachment(m, &s, "a", "multipart/mixed"),
              SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_add_attachment(m, &s, "a", "message/rfc822"),
              SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_add_attachment(m, &s, "a", "text/plain; charset=\xc3\xa9"),
              SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_add_inline(m, &s, "no at", NULL, NULL), SMTPKIT_ERR_BAD_HEADER);
    CHECK_INT(smtpkit_message_add_inline(m, &s, NULL, NULL, NULL), SMTPKIT_ERR_INVALID_ARG);
    smtpkit_message_free(m);
}

/* ---- RFC 2231 file names ---- */

static void attach_named(smtpkit_message *m, const void *arg)
{
    static smtpkit_source s;
    static smtpkit_mem_source ms;
    smtpkit_source_from_memory(&s, &ms, "data", 4);
    CHECK_INT(smtpkit_message_add_attachment(m, &s, (const char *)arg, NULL), 0);
}

TEST(rfc2231_file_names)
{
    static const struct {
        const char *name;
        const char *disposition; /* expected raw value, NULL = decode only */
    } cases[] = {
        {"report.pdf", "attachment; filename=\"report.pdf\""},
        {"my report (final).pdf", "attachment; filename=\"my report (final).pdf\""},
        {"quote\"d.txt", "attachment; filename*=UTF-8''quote%22d.txt"},
        {"r\xc3\xa9sum\xc3\xa9.pdf", "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"},
        {"=?UTF-8?Q?x?=.txt", "attachment; filename*=UTF-8''%3D%3FUTF-8%3FQ%3Fx%3F%3D.txt"},
        {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe9\x95\xb7\xe3\x81\x84\xe3\x83\x95"
         "\xe3\x82\xa1\xe3\x82\xa4\xe3\x83\xab\xe5\x90\x8d\xe5\x89\x8d\xe3\x81\xa7\xe3\x81\x99"
         "\xe3\x80\x82\xe3\x81\xa8\xe3\x81\xa6\xe3\x82\x82\xe9\x95\xb7\xe3\x81\x84.txt",
         NULL},
        {"a_very_long_ascii_file_name_that_does_not_fit_on_one_line_of_seventy_eight"
         "_columns_at_all.tar.gz",
         NULL},
    };
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(cases); i++) {
        size_t len;
        char *msg = build_with(attach_named, cases[i].name, &len);
        char cd[2000], ct[2000], dec[1000], v[1000];
        tm_entity e;
        int idx = 0; /* the attachment is the only part */
        CHECK(msg != NULL);
        if (!msg)
            continue;
        if (!tm_leaf(msg, len, &idx, &e)) {
            CHECK(0);
            free(msg);
            continue;
        }
        CHECK(tm_lines_ok(e.hdr, e.hlen, 78, NULL));
        CHECK(tm_header(&e, "Content-Disposition", cd, sizeof cd) > 0);
        if (cases[i].disposition)
            CHECK_STR(cd, cases[i].disposition);
        CHECK(tm_decode_2231(cd, "filename", dec, sizeof dec) >= 0);
        CHECK_STR(dec, cases[i].name);
        if (strlen(cases[i].name) > 60)
            CHECK(strstr(cd, "filename*0") != NULL);
        /* name= in Content-Type: quoted, or encoded words in quotes */
        CHECK(tm_header(&e, "Content-Type", ct, sizeof ct) > 0);
        CHECK(tm_param(ct, "name", v, sizeof v));
        CHECK(tm_decode_text(v, dec, sizeof dec) >= 0);
        CHECK_STR(dec, cases[i].name);
        free(msg);
    }
}

TEST(guess_type)
{
    CHECK_STR(smtpkit_message_guess_type("a.PDF"), "application/pdf");
    CHECK_STR(smtpkit_message_guess_type("photo.jpeg"), "image/jpeg");
    CHECK_STR(smtpkit_message_guess_type("x.tar.gz"), "application/gzip");
    CHECK_STR(smtpkit_message_guess_type("dir.png/file"), "application/octet-stream");
    CHECK_STR(smtpkit_message_guess_type("noext"), "application/octet-stream");
    CHECK_STR(smtpkit_message_guess_type(NULL), "application/octet-stream");
    CHECK_STR(smtpkit_message_guess_type("a.txt"), "text/plain");
}

int main(void)
{
    RUN(ascii_subject_needs_no_encoding);
    RUN(long_ascii_is_folded_at_white_space);
    RUN(long_words);
    RUN(encoded_words_split_only_between_characters);
    RUN(b_or_q_whichever_is_shorter);
    RUN(mixed_ascii_and_encoded);
    RUN(huge_subject_never_passes_998);
    RUN(display_names);
    RUN(address_lists_fold_and_bcc_stays_out);
    RUN(utf8_addresses_flag_smtputf8);
    RUN(dates);
    RUN(message_ids);
    RUN(custom_headers_written_after_standard_ones);
    RUN(header_injection_is_refused);
    RUN(rfc2231_file_names);
    RUN(guess_type);
    return test_summary();
}
