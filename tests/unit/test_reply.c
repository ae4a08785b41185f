/* Reply parser, EHLO capability set and the table of standard replies.
 *
 * Parser cases are transcripts: server bytes in, the event log out. Every
 * case is fed whole, byte by byte and cut at every position
 * (test_split_all), and must give the same log each time. Log format:
 *   "250-text"            on_line (code, '-' or ' ', then the text)
 *   "250 [2.1.0]text"     on_line with an enhanced status code
 *   "=250 x3 [2.1.0] text" on_reply (code, lines, esc, text of the last line)
 *   "!CODE@5"             feed failed: error kind @ error position
 *   "~7"                  input ended inside a reply; 7 bytes of a line buffered
 *   "P@12"                a callback paused; 12 bytes consumed in all
 */
#include <limits.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "smtpkit/reply.h"
/* test.h's test_log_add passes its va_list format on without a format
 * attribute, which clang's -Wformat-nonliteral (-Wformat=2) rejects. */
#ifdef __clang__
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wformat-nonliteral"
#endif
#include "test.h"
#ifdef __clang__
#pragma clang diagnostic pop
#endif

/* ------------------------------------------------------------------ */
/* the harness                                                          */

typedef struct run_cfg {
    size_t max_line;     /* 0 = default */
    int pause_line;      /* on_line returns SMTPKIT_PAUSE */
    int pause_reply;     /* on_reply returns SMTPKIT_PAUSE */
    unsigned fail_line;  /* on_line returns -1 on this line (1-based); 0 = never */
    smtpkit_caps *caps;  /* fold 250 replies into this set */
} run_cfg;

typedef struct run_ctx {
    const run_cfg *cfg;
    test_log *log;
    smtpkit_reply_parser *p;
    const char *chunk; /* the data of the feed in progress */
    size_t chunk_len;
    unsigned nline;    /* lines so far */
    unsigned index;    /* line index inside the current reply */
    int paused;
} run_ctx;

static const char *err_name(int err)
{
    switch (err) {
    case SMTPKIT_ERR_REPLY_CODE: return "CODE";
    case SMTPKIT_ERR_REPLY_CONTINUATION: return "CONT";
    case SMTPKIT_ERR_LINE_TOO_LONG: return "LONG";
    case SMTPKIT_ERR_NUL: return "NUL";
    case SMTPKIT_ERR_CALLBACK: return "CB";
    default: return "OTHER";
    }
}

/* Does [v.ptr, v.ptr + v.len) lie inside [base, base + n)? */
static int view_in(smtpkit_view v, const char *base, size_t n)
{
    return v.ptr && v.ptr >= base && v.len <= n && (size_t)(v.ptr - base) <= n - v.len;
}

static int view_in_sources(const run_ctx *c, smtpkit_view v)
{
    return view_in(v, c->chunk, c->chunk_len) || view_in(v, c->p->_buf, sizeof c->p->_buf);
}

static int on_line(void *user, const smtpkit_reply_line *l)
{
    run_ctx *c = (run_ctx *)user;
    char code[4];
    c->nline++;
    /* Views: inside the caller's data or the parser's buffer, text and esc
     * inside raw, raw starting with the code. */
    CHECK(view_in_sources(c, l->raw));
    CHECK(view_in(l->text, l->raw.ptr, l->raw.len));
    CHECK(l->text.ptr + l->text.len == l->raw.ptr + l->raw.len);
    snprintf(code, sizeof code, "%03d", l->code);
    CHECK(l->raw.len >= 3 && memcmp(l->raw.ptr, code, 3) == 0);
    CHECK(l->code >= 200 && l->code <= 559);
    if (l->esc.len) {
        char esc[32];
        CHECK(view_in(l->esc, l->raw.ptr, l->raw.len));
        snprintf(esc, sizeof esc, "%d.%d.%d", l->esc_class, l->esc_subject, l->esc_detail);
        /* the parts agree with the text unless it had leading zeros */
        CHECK(l->esc.len >= strlen(esc));
        CHECK(l->esc_class == l->code / 100);
        test_log_add(c->log, "%s%c[%.*s]", code, l->last ? ' ' : '-', (int)l->esc.len,
                     l->esc.ptr);
    } else {
        CHECK(l->esc_class == 0 && l->esc_subject == 0 && l->esc_detail == 0);
        test_log_add(c->log, "%s%c", code, l->last ? ' ' : '-');
    }
    test_log_bytes(c->log, l->text.ptr, l->text.len);
    test_log_add(c->log, "\n");
    if (c->cfg->caps && l->code == 250)
        CHECK_INT(smtpkit_caps_add_line(c->cfg->caps, c->index, l), 0);
    c->index = l->last ? 0 : c->index + 1;
    if (c->cfg->fail_line && c->nline == c->cfg->fail_line)
        return -1;
    if (c->cfg->pause_line) {
        c->paused = 1;
        return SMTPKIT_PAUSE;
    }
    return 0;
}

static int on_reply(void *user, const smtpkit_reply *r)
{
    run_ctx *c = (run_ctx *)user;
    test_log_add(c->log, "=%d x%u", r->code, r->nlines);
    if (r->esc.len) {
        CHECK(view_in_sources(c, r->esc));
        test_log_add(c->log, " [%.*s]", (int)r->esc.len, r->esc.ptr);
    }
    if (r->text.len) {
        CHECK(view_in_sources(c, r->text));
        test_log_add(c->log, " ");
        test_log_bytes(c->log, r->text.ptr, r->text.len);
    }
    test_log_add(c->log, "\n");
    if (c->cfg->pause_reply) {
        c->paused = 1;
        return SMTPKIT_PAUSE;
    }
    return 0;
}

static const smtpkit_reply_callbacks test_cb = {on_line, on_reply};

/* CHECK_VIEW that also accepts the {NULL, 0} view of an empty field. */
#define CHECK_VIEW0(v, s)                                                                   \
    do {                                                                                    \
        if ((s)[0])                                                                         \
            CHECK_VIEW(v, s);                                                               \
        else                                                                                \
            CHECK_INT((v).len, 0);                                                          \
    } while (0)

/* The capability flags that take no parameter. */
#define ALL_SIMPLE                                                                          \
    (SMTPKIT_CAP_PIPELINING | SMTPKIT_CAP_8BITMIME | SMTPKIT_CAP_SMTPUTF8 |                 \
     SMTPKIT_CAP_CHUNKING | SMTPKIT_CAP_BINARYMIME | SMTPKIT_CAP_DSN |                      \
     SMTPKIT_CAP_ENHANCEDSTATUSCODES | SMTPKIT_CAP_STARTTLS | SMTPKIT_CAP_REQUIRETLS)


static void run_reply(const char *in, size_t len, const size_t *cuts, size_t ncuts, test_log *log,
                      void *vcfg)
{
    const run_cfg *cfg = (const run_cfg *)vcfg;
    smtpkit_reply_parser p;
    run_ctx c;
    size_t start = 0, k;
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.log = log;
    c.p = &p;
    smtpkit_reply_parser_init(&p, &test_cb, &c);
    if (cfg->max_line)
        smtpkit_reply_parser_set_max_line(&p, cfg->max_line);
    for (k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        while (start < end) {
            smtpkit_ssize r;
            c.chunk = in + start;
            c.chunk_len = end - start;
            r = smtpkit_reply_parser_feed(&p, in + start, end - start);
            if (r < 0) {
                test_log_add(log, "!%s@%llu\n", err_name((int)r),
                             (unsigned long long)smtpkit_reply_parser_error_pos(&p));
                CHECK_INT(smtpkit_reply_parser_error(&p), r);
                /* sticky */
                CHECK_INT(smtpkit_reply_parser_feed(&p, "250 x\r\n", 7), r);
                return;
            }
            CHECK(r > 0 && (size_t)r <= end - start);
            start += (size_t)r;
            if (c.paused) {
                test_log_add(log, "P@%zu\n", start);
                c.paused = 0;
                CHECK_INT(smtpkit_reply_parser_feed(&p, in + start, end - start),
                          SMTPKIT_ERR_PAUSED);
                CHECK_INT(smtpkit_reply_parser_resume(&p), 0);
                CHECK_INT(smtpkit_reply_parser_resume(&p), SMTPKIT_ERR_STATE);
            } else {
                CHECK_INT(start, end);
            }
        }
    }
    if (smtpkit_reply_parser_in_reply(&p))
        test_log_add(log, "~%zu\n", smtpkit_reply_parser_pending(&p));
    else
        CHECK_INT(smtpkit_reply_parser_pending(&p), 0);
}

/* Runs one transcript in every split, compares with the expected log. */
static void check_case(const char *in, size_t len, run_cfg *cfg, const char *expect)
{
    test_log log = test_split_all(in, len, run_reply, cfg);
    test_checks++;
    if (strcmp(test_log_str(&log), expect) != 0) {
        test_failures++;
        fprintf(stderr, "[%s] input \"", test_current);
        {
            test_log esc = {0};
            test_log_bytes(&esc, in, len);
            fprintf(stderr, "%s\"\n got:\n%s expected:\n%s", test_log_str(&esc), log.buf,
                    expect);
            test_log_free(&esc);
        }
    }
    test_log_free(&log);
}

/* ------------------------------------------------------------------ */
/* parser transcripts                                                   */

typedef struct reply_case {
    const char *name;
    const char *in;
    size_t len;
    size_t max_line;
    const char *expect;
} reply_case;

#define IN(s) s, sizeof(s) - 1

static const reply_case reply_cases[] = {
    /* ---- RFC 5321 examples ---- */
    {"single line", IN("250 OK\r\n"), 0, "250 OK\n=250 x1 OK\n"},
    {"RFC 5321 4.2.1 multi-line",
     IN("250-First line\r\n250-Second line\r\n250-234 Text beginning with numbers\r\n"
        "250 The last line\r\n"),
     0,
     "250-First line\n250-Second line\n250-234 Text beginning with numbers\n"
     "250 The last line\n=250 x4 The last line\n"},
    {"RFC 5321 D.1 greeting and EHLO",
     IN("220 foo.com Simple Mail Transfer Service Ready\r\n"
        "250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n"),
     0,
     "220 foo.com Simple Mail Transfer Service Ready\n"
     "=220 x1 foo.com Simple Mail Transfer Service Ready\n"
     "250-foo.com greets bar.com\n250-8BITMIME\n250-SIZE\n250-DSN\n250 HELP\n=250 x5 HELP\n"},
    {"RFC 5321 D.1 transaction",
     IN("250 OK\r\n250 OK\r\n550 No such user here\r\n250 OK\r\n"
        "354 Start mail input; end with <CRLF>.<CRLF>\r\n250 OK\r\n"
        "221 foo.com Service closing transmission channel\r\n"),
     0,
     "250 OK\n=250 x1 OK\n250 OK\n=250 x1 OK\n550 No such user here\n"
     "=550 x1 No such user here\n250 OK\n=250 x1 OK\n"
     "354 Start mail input; end with <CRLF>.<CRLF>\n"
     "=354 x1 Start mail input; end with <CRLF>.<CRLF>\n250 OK\n=250 x1 OK\n"
     "221 foo.com Service closing transmission channel\n"
     "=221 x1 foo.com Service closing transmission channel\n"},
    {"bare code is the last line", IN("250\r\n"), 0, "250 \n=250 x1\n"},
    {"bare code ends a multi-line reply", IN("250-a\r\n250\r\n"), 0, "250-a\n250 \n=250 x2\n"},
    {"empty text after separators", IN("250-\r\n250 \r\n"), 0, "250-\n250 \n=250 x2\n"},
    {"text keeps extra spaces", IN("250  two spaces \r\n"), 0,
     "250  two spaces \n=250 x1  two spaces \n"},

    /* ---- real servers ---- */
    {"Postfix EHLO",
     IN("250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
        "250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
        "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"),
     0,
     "250-mail.example.com\n250-PIPELINING\n250-SIZE 10240000\n250-VRFY\n250-ETRN\n"
     "250-STARTTLS\n250-ENHANCEDSTATUSCODES\n250-8BITMIME\n250-DSN\n250-SMTPUTF8\n"
     "250 CHUNKING\n=250 x11 CHUNKING\n"},
    {"Gmail EHLO",
     IN("250-smtp.gmail.com at your service, [203.0.113.5]\r\n250-SIZE 35882577\r\n"
        "250-8BITMIME\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n"
        "250-CHUNKING\r\n250 SMTPUTF8\r\n"),
     0,
     "250-smtp.gmail.com at your service, [203.0.113.5]\n250-SIZE 35882577\n"
     "250-8BITMIME\n250-STARTTLS\n250-ENHANCEDSTATUSCODES\n250-PIPELINING\n"
     "250-CHUNKING\n250 SMTPUTF8\n=250 x8 SMTPUTF8\n"},
    {"Postfix transaction with enhanced codes",
     IN("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
        "250 2.0.0 Ok: queued as 4FQ2Xs1Kz\r\n221 2.0.0 Bye\r\n"),
     0,
     "250 [2.1.0]Ok\n=250 x1 [2.1.0] Ok\n250 [2.1.5]Ok\n=250 x1 [2.1.5] Ok\n"
     "354 End data with <CR><LF>.<CR><LF>\n=354 x1 End data with <CR><LF>.<CR><LF>\n"
     "250 [2.0.0]Ok: queued as 4FQ2Xs1Kz\n=250 x1 [2.0.0] Ok: queued as 4FQ2Xs1Kz\n"
     "221 [2.0.0]Bye\n=221 x1 [2.0.0] Bye\n"},
    {"Gmail multi-line rejection",
     IN("550-5.7.1 [203.0.113.5] Our system has detected that this message is\r\n"
        "550-5.7.1 likely unsolicited mail.\r\n"
        "550 5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError x1si\r\n"),
     0,
     "550-[5.7.1][203.0.113.5] Our system has detected that this message is\n"
     "550-[5.7.1]likely unsolicited mail.\n"
     "550 [5.7.1]https://support.google.com/mail/?p=UnsolicitedMessageError x1si\n"
     "=550 x3 [5.7.1] https://support.google.com/mail/?p=UnsolicitedMessageError x1si\n"},
    {"Exchange temporary failure",
     IN("451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77719)\r\n"),
     0,
     "451 [4.7.500]Server busy. Please try again later from [192.0.2.1]. (S77719)\n"
     "=451 x1 [4.7.500] Server busy. Please try again later from [192.0.2.1]. (S77719)\n"},
    {"AUTH challenge and success",
     IN("334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n"),
     0,
     "334 VXNlcm5hbWU6\n=334 x1 VXNlcm5hbWU6\n334 UGFzc3dvcmQ6\n=334 x1 UGFzc3dvcmQ6\n"
     "235 [2.7.0]Authentication successful\n=235 x1 [2.7.0] Authentication successful\n"},

    /* ---- enhanced status code recognition ---- */
    {"esc alone", IN("550 5.1.1\r\n"), 0, "550 [5.1.1]\n=550 x1 [5.1.1]\n"},
    {"esc largest parts", IN("550 5.999.999 x\r\n"), 0, "550 [5.999.999]x\n=550 x1 [5.999.999] x\n"},
    {"esc class must match the code", IN("250 5.1.1 x\r\n550 2.0.0 y\r\n"), 0,
     "250 5.1.1 x\n=250 x1 5.1.1 x\n550 2.0.0 y\n=550 x1 2.0.0 y\n"},
    {"no esc on 3yz", IN("354 3.0.0 go\r\n"), 0, "354 3.0.0 go\n=354 x1 3.0.0 go\n"},
    {"esc subject too long", IN("550 5.1000.1 x\r\n"), 0, "550 5.1000.1 x\n=550 x1 5.1000.1 x\n"},
    {"esc detail too long", IN("550 5.1.1000 x\r\n"), 0, "550 5.1.1000 x\n=550 x1 5.1.1000 x\n"},
    {"esc glued to text", IN("550 5.1.1x\r\n"), 0, "550 5.1.1x\n=550 x1 5.1.1x\n"},
    {"esc missing parts", IN("550 5.1. x\r\n550 5..1 x\r\n550 5.1\r\n"), 0,
     "550 5.1. x\n=550 x1 5.1. x\n550 5..1 x\n=550 x1 5..1 x\n550 5.1\n=550 x1 5.1\n"},
    {"esc class 4", IN("450 4.2.1 Mailbox busy\r\n"), 0,
     "450 [4.2.1]Mailbox busy\n=450 x1 [4.2.1] Mailbox busy\n"},
    {"esc only on some lines", IN("250-2.0.0 first\r\n250 last\r\n"), 0,
     "250-[2.0.0]first\n250 last\n=250 x2 last\n"},

    /* ---- line ends ---- */
    {"bare LF ends a line", IN("250-a\n250 b\n"), 0, "250-a\n250 b\n=250 x2 b\n"},
    {"stray CR is text", IN("250 a\rb\r\n"), 0, "250 a\\rb\n=250 x1 a\\rb\n"},
    {"only the CR before LF is dropped", IN("250 a\r\r\n"), 0, "250 a\\r\n=250 x1 a\\r\n"},
    {"8-bit text passes", IN("250 caf\xc3\xa9\r\n"), 0, "250 caf\\xc3\\xa9\n=250 x1 caf\\xc3\\xa9\n"},

    /* ---- input ending inside a reply ---- */
    {"partial line at the end", IN("250 abc"), 0, "~7\n"},
    {"between lines of a reply", IN("250-abc\r\n"), 0, "250-abc\n~0\n"},
    {"CR at the end", IN("250 abc\r"), 0, "~8\n"},

    /* ---- errors and their positions ---- */
    {"empty line", IN("\r\n"), 0, "!CODE@0\n"},
    {"empty line (LF)", IN("\n"), 0, "!CODE@0\n"},
    {"one digit", IN("2\r\n"), 0, "!CODE@1\n"},
    {"two digits", IN("25\r\n"), 0, "!CODE@2\n"},
    {"first digit 1", IN("150 x\r\n"), 0, "!CODE@0\n"},
    {"first digit 6", IN("600 x\r\n"), 0, "!CODE@0\n"},
    {"second digit 6", IN("260 x\r\n"), 0, "!CODE@1\n"},
    {"third not a digit", IN("25x x\r\n"), 0, "!CODE@2\n"},
    {"four digits", IN("2500 x\r\n"), 0, "!CODE@3\n"},
    {"HTTP answer", IN("HTTP/1.1 400 Bad Request\r\n"), 0, "!CODE@0\n"},
    {"bad separator", IN("250_x\r\n"), 0, "!CONT@3\n"},
    {"tab separator", IN("250\tx\r\n"), 0, "!CONT@3\n"},
    {"code changes in a reply (third digit)", IN("250-a\r\n251 b\r\n"), 0, "250-a\n!CONT@9\n"},
    {"code changes in a reply (first digit)", IN("250-a\r\n550 b\r\n"), 0, "250-a\n!CONT@7\n"},
    {"code changes in a reply (second digit)", IN("250-a\r\n240-b\r\n"), 0, "250-a\n!CONT@8\n"},
    {"new reply may change the code", IN("250 a\r\n550 b\r\n"), 0,
     "250 a\n=250 x1 a\n550 b\n=550 x1 b\n"},
    {"bad line after good ones", IN("250 a\r\n250-b\r\nxyz\r\n"), 0,
     "250 a\n=250 x1 a\n250-b\n!CODE@14\n"},
    {"NUL in text", IN("250 a\0b\r\n"), 0, "!NUL@5\n"},
    {"NUL in code", IN("2\00050 a\r\n"), 0, "!NUL@1\n"},
    {"NUL on second line", IN("250-a\r\n250 \0\r\n"), 0, "250-a\n!NUL@11\n"},

    /* ---- line length (max 10: 8 bytes of text + CRLF) ---- */
    {"at the limit", IN("250 1234\r\n"), 10, "250 1234\n=250 x1 1234\n"},
    {"at the limit, bare LF", IN("250 1234\n"), 10, "250 1234\n=250 x1 1234\n"},
    {"one over", IN("250 12345\r\n"), 10, "!LONG@8\n"},
    {"one over, bare LF", IN("250 12345\n"), 10, "!LONG@8\n"},
    {"CR that is not the CRLF's", IN("250 1234\rx\r\n"), 10, "!LONG@8\n"},
    {"CR CR LF over", IN("250 1234\r\r\n"), 10, "!LONG@8\n"},
    {"no line end at all", IN("250 123456789012345"), 10, "!LONG@8\n"},
    {"one short of the limit without LF", IN("250 1234\r"), 10, "~9\n"},
    {"NUL before the limit wins", IN("250 123\0xxxxxx\r\n"), 10, "!NUL@7\n"},
    {"NUL at the limit is the limit", IN("250 1234\0xxxxx\r\n"), 10, "!LONG@8\n"},
    {"NUL past the limit", IN("250 12345\0xxxx\r\n"), 10, "!LONG@8\n"},
    {"limit before the code check", IN("xxxxxxxxxxxxxx\r\n"), 10, "!LONG@8\n"},
    {"long second line", IN("250-a\r\n250 123456789\r\n"), 10, "250-a\n!LONG@15\n"},
    {"smallest limit", IN("250\r\n250 \r\n250 x\r\n"), 1, "250 \n=250 x1\n250 \n=250 x1\n!LONG@15\n"},
};

TEST(reply_transcripts)
{
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(reply_cases); i++) {
        const reply_case *rc = &reply_cases[i];
        run_cfg cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.max_line = rc->max_line;
        test_current = rc->name;
        check_case(rc->in, rc->len, &cfg, rc->expect);
    }
}

/* The default limit is 512 octets with the CRLF (RFC 5321 4.5.3.1.5). */
TEST(reply_default_limit)
{
    char in[600];
    run_cfg cfg;
    char expect[1100];
    memset(&cfg, 0, sizeof cfg);
    memcpy(in, "250 ", 4);
    memset(in + 4, 'a', 506);
    memcpy(in + 510, "\r\n", 2);
    snprintf(expect, sizeof expect, "250 %.*s\n=250 x1 %.*s\n", 506, in + 4, 506, in + 4);
    check_case(in, 512, &cfg, expect);
    in[510] = 'a';
    memcpy(in + 511, "\r\n", 2);
    check_case(in, 513, &cfg, "!LONG@510\n");
    /* asking for more than the buffer holds gives the buffer's size */
    cfg.max_line = 100000;
    check_case(in, 513, &cfg, "!LONG@510\n");
}

/* Every line pauses: the events are those of an unpaused run, with a pause
 * right after each line's LF. */
TEST(reply_pause_every_line)
{
    static const char in[] = "220 hi\r\n250-a\r\n250-b\n250 2.0.0 c\r\n";
    run_cfg cfg;
    test_log log;
    memset(&cfg, 0, sizeof cfg);
    cfg.pause_line = 1;
    check_case(in, sizeof in - 1, &cfg,
               "220 hi\n=220 x1 hi\nP@8\n250-a\nP@15\n250-b\nP@21\n250 [2.0.0]c\n"
               "=250 x3 [2.0.0] c\nP@34\n");
    cfg.pause_line = 0;
    cfg.pause_reply = 1;
    check_case(in, sizeof in - 1, &cfg,
               "220 hi\n=220 x1 hi\nP@8\n250-a\n250-b\n250 [2.0.0]c\n=250 x3 [2.0.0] c\nP@34\n");

    /* Every transcript: same log as without pausing once the P@ lines are
     * taken out, and one pause per line. */
    {
        size_t i;
        for (i = 0; i < SMTPKIT_ARRAY_LEN(reply_cases); i++) {
            const reply_case *rc = &reply_cases[i];
            test_log plain;
            size_t o = 0, lines = 0, pauses = 0;
            const char *s;
            test_log stripped = {0};
            test_current = rc->name;
            memset(&cfg, 0, sizeof cfg);
            cfg.max_line = rc->max_line;
            plain = test_split_all(rc->in, rc->len, run_reply, &cfg);
            cfg.pause_line = 1;
            log = test_split_all(rc->in, rc->len, run_reply, &cfg);
            s = test_log_str(&log);
            while (s[o]) {
                const char *nl = strchr(s + o, '\n');
                size_t n = nl ? (size_t)(nl - (s + o)) + 1 : strlen(s + o);
                if (s[o] == 'P')
                    pauses++;
                else
                    test_log_add(&stripped, "%.*s", (int)n, s + o);
                if (s[o] >= '2' && s[o] <= '5')
                    lines++;
                o += n;
            }
            CHECK_STR(test_log_str(&stripped), test_log_str(&plain));
            /* a failing line's callback never runs, so it cannot pause */
            CHECK_INT(pauses, lines);
            test_log_free(&stripped);
            test_log_free(&plain);
            test_log_free(&log);
        }
    }
}

/* Over-read guard (picohttpparser's harness): every piece is copied to the
 * very end of a page followed by a PROT_NONE page, so reading one byte past
 * `len` faults. Pieces: the whole input, then single bytes. */
TEST(reply_guard_page)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *map;
    size_t i, k, page;
    if (pg <= 0)
        pg = 4096;
    page = (size_t)pg;
    map = (char *)mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    if (map == MAP_FAILED)
        return;
    CHECK_INT(mprotect(map + 2 * page, page, PROT_NONE), 0);
    for (i = 0; i < SMTPKIT_ARRAY_LEN(reply_cases); i++) {
        const reply_case *rc = &reply_cases[i];
        char *end = map + 2 * page;
        smtpkit_reply_parser p;
        smtpkit_ssize r;
        test_current = rc->name;
        if (rc->len > 2 * page)
            continue;
        smtpkit_reply_parser_init(&p, NULL, NULL);
        if (rc->max_line)
            smtpkit_reply_parser_set_max_line(&p, rc->max_line);
        memcpy(end - rc->len, rc->in, rc->len);
        r = smtpkit_reply_parser_feed(&p, end - rc->len, rc->len);
        CHECK(r == (smtpkit_ssize)rc->len || r == smtpkit_reply_parser_error(&p));
        smtpkit_reply_parser_init(&p, NULL, NULL);
        if (rc->max_line)
            smtpkit_reply_parser_set_max_line(&p, rc->max_line);
        for (k = 0; k < rc->len; k++) {
            end[-1] = rc->in[k];
            r = smtpkit_reply_parser_feed(&p, end - 1, 1);
            if (r < 0)
                break;
            CHECK_INT(r, 1);
        }
        CHECK(r == 1 || r == smtpkit_reply_parser_error(&p));
    }
    munmap(map, 3 * page);
}

TEST(reply_callback_failure)
{
    static const char in[] = "250-a\r\n250-b\r\n250 c\r\n";
    run_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.fail_line = 2;
    check_case(in, sizeof in - 1, &cfg, "250-a\n250-b\n!CB@7\n");
    cfg.fail_line = 1;
    check_case(in, sizeof in - 1, &cfg, "250-a\n!CB@0\n");
    CHECK(smtpkit_is_fatal(SMTPKIT_ERR_CALLBACK));
}

/* ------------------------------------------------------------------ */
/* zero copy, buffering, API edges                                      */

typedef struct raw_rec {
    const char *ptr[8];
    size_t len[8];
    unsigned n;
} raw_rec;

static int rec_line(void *user, const smtpkit_reply_line *l)
{
    raw_rec *r = (raw_rec *)user;
    if (r->n < 8) {
        r->ptr[r->n] = l->raw.ptr;
        r->len[r->n] = l->raw.len;
    }
    r->n++;
    return 0;
}

static const smtpkit_reply_callbacks rec_cb = {rec_line, NULL};

TEST(reply_zero_copy)
{
    static const char in[] = "250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 1000\r\n";
    smtpkit_reply_parser p;
    raw_rec r;
    memset(&r, 0, sizeof r);
    smtpkit_reply_parser_init(&p, &rec_cb, &r);
    CHECK_INT(smtpkit_reply_parser_feed(&p, in, sizeof in - 1), sizeof in - 1);
    CHECK_INT(r.n, 3);
    /* whole lines are views into the caller's data, not copies */
    CHECK(r.ptr[0] == in);
    CHECK(r.ptr[1] == in + 20);
    CHECK(r.ptr[2] == in + 36);
    CHECK_INT(r.len[2], 13);

    /* a line cut by the end of a feed is copied, the next one is not */
    memset(&r, 0, sizeof r);
    smtpkit_reply_parser_init(&p, &rec_cb, &r);
    CHECK_INT(smtpkit_reply_parser_feed(&p, in, 10), 10);
    CHECK_INT(r.n, 0);
    CHECK_INT(smtpkit_reply_parser_pending(&p), 10);
    CHECK(smtpkit_reply_parser_in_reply(&p));
    CHECK_INT(smtpkit_reply_parser_feed(&p, in + 10, sizeof in - 11), sizeof in - 11);
    CHECK_INT(r.n, 3);
    CHECK(r.ptr[0] == p._buf);
    CHECK_INT(r.len[0], 18);
    CHECK(r.ptr[1] == in + 20);
    CHECK(!smtpkit_reply_parser_in_reply(&p));
    CHECK_INT(smtpkit_reply_parser_pending(&p), 0);
}

TEST(reply_api_edges)
{
    smtpkit_reply_parser p;
    raw_rec r;
    memset(&r, 0, sizeof r);
    smtpkit_reply_parser_init(&p, &rec_cb, &r);
    CHECK_INT(smtpkit_reply_parser_feed(NULL, "250 x\r\n", 7), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_reply_parser_feed(&p, NULL, 7), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_reply_parser_feed(&p, NULL, 0), 0);
    CHECK_INT(smtpkit_reply_parser_error(&p), 0); /* argument errors are not sticky */
    CHECK_INT(smtpkit_reply_parser_resume(&p), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_reply_parser_resume(NULL), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_reply_parser_error(NULL), 0);
    CHECK_INT(smtpkit_reply_parser_pending(NULL), 0);
    CHECK(!smtpkit_reply_parser_in_reply(NULL));
    smtpkit_reply_parser_init(NULL, NULL, NULL); /* no crash */
    smtpkit_reply_parser_set_max_line(NULL, 10);
    smtpkit_reply_parser_reset(NULL);

    /* NULL callbacks: parsing still validates */
    smtpkit_reply_parser_init(&p, NULL, NULL);
    CHECK_INT(smtpkit_reply_parser_feed(&p, "250 ok\r\n", 8), 8);
    CHECK_INT(smtpkit_reply_parser_feed(&p, "x\r\n", 3), SMTPKIT_ERR_REPLY_CODE);

    /* reset clears the sticky error and the position, keeps the limit */
    smtpkit_reply_parser_set_max_line(&p, 10);
    smtpkit_reply_parser_reset(&p);
    CHECK_INT(smtpkit_reply_parser_error(&p), 0);
    CHECK_INT(smtpkit_reply_parser_feed(&p, "250 1234\r\n", 10), 10);
    CHECK_INT(smtpkit_reply_parser_feed(&p, "250 12345\r\n", 11), SMTPKIT_ERR_LINE_TOO_LONG);
    CHECK_INT(smtpkit_reply_parser_error_pos(&p), 18);
    smtpkit_reply_parser_reset(&p);
    CHECK_INT(smtpkit_reply_parser_feed(&p, "250 12345\r\n", 11), SMTPKIT_ERR_LINE_TOO_LONG);
    CHECK_INT(smtpkit_reply_parser_error_pos(&p), 8);

    /* STARTTLS: bytes after the 220 are visible, and reset drops them */
    memset(&r, 0, sizeof r);
    smtpkit_reply_parser_init(&p, &rec_cb, &r);
    CHECK_INT(smtpkit_reply_parser_feed(&p, "220 go ahead\r\n250 injected", 26), 26);
    CHECK_INT(r.n, 1);
    CHECK_INT(smtpkit_reply_parser_pending(&p), 12);
    smtpkit_reply_parser_reset(&p);
    CHECK_INT(smtpkit_reply_parser_pending(&p), 0);
    CHECK(!smtpkit_reply_parser_in_reply(&p));
    CHECK_INT(smtpkit_reply_parser_feed(&p, "\r\n", 2), SMTPKIT_ERR_REPLY_CODE);

    /* reset mid-reply forgets the code in progress */
    smtpkit_reply_parser_init(&p, NULL, NULL);
    CHECK_INT(smtpkit_reply_parser_feed(&p, "250-a\r\n", 7), 7);
    CHECK(smtpkit_reply_parser_in_reply(&p));
    smtpkit_reply_parser_reset(&p);
    CHECK(!smtpkit_reply_parser_in_reply(&p));
    CHECK_INT(smtpkit_reply_parser_feed(&p, "550 b\r\n", 7), 7);
}

/* The parser has no allocator: it works in its own fixed struct. Prove it
 * two ways: its size is bounded by its line buffer, and the module sources
 * contain no allocation call at all (so no input can make one). */
static int source_mentions(const char *rel, const char *const *words, size_t nwords)
{
    const char *dir = getenv("SMTPKIT_SOURCE_DIR");
    char path[4096];
    FILE *f;
    static char buf[1 << 16];
    size_t n, i;
    if (dir) {
        snprintf(path, sizeof path, "%s/%s", dir, rel);
    } else {
        /* __FILE__ is .../tests/unit/test_reply.c */
        const char *e = strstr(__FILE__, "tests/unit/");
        snprintf(path, sizeof path, "%.*s%s", e ? (int)(e - __FILE__) : 0, __FILE__, rel);
    }
    f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    CHECK(n > 1000);
    buf[n] = 0;
    for (i = 0; i < nwords; i++) {
        if (strstr(buf, words[i]))
            return 1;
    }
    return 0;
}

static void fold_ehlo(smtpkit_caps *caps, const char *in);

static smtpkit_reply_parser static_parser; /* static storage works: no init-time allocation */

TEST(reply_no_allocation)
{
    static const char *const alloc_words[] = {"malloc", "calloc", "realloc", "smtpkit__free",
                                              "smtpkit_mem"};
    static const char ehlo[] =
        "250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
        "250-ETRN\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2\r\n"
        "250-AUTH=PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
        "250-DSN\r\n250-SMTPUTF8\r\n250-REQUIRETLS\r\n250-LIMITS RCPTMAX=100\r\n250 CHUNKING\r\n";
    static smtpkit_caps caps;
    raw_rec r;
    size_t i;
    CHECK(sizeof(smtpkit_reply_parser) <= SMTPKIT_REPLY_LINE_MAX + 128);
    CHECK(sizeof(smtpkit_caps) <=
          SMTPKIT_CAPS_STORE + (SMTPKIT_CAPS_MAX_UNKNOWN + 3) * sizeof(smtpkit_view) + 64);
    CHECK_INT(source_mentions("lib/core/reply_parser.c", alloc_words, 5), 0);
    CHECK_INT(source_mentions("lib/core/caps.c", alloc_words, 5), 0);
    CHECK_INT(source_mentions("lib/core/std_replies.c", alloc_words, 5), 0);
    /* and the check itself can fail: the common module does allocate */
    CHECK_INT(source_mentions("lib/core/common.c", alloc_words, 5), 1);

    /* A long EHLO reply, 1000 times, through one static parser and caps set. */
    memset(&r, 0, sizeof r);
    smtpkit_reply_parser_init(&static_parser, &rec_cb, &r);
    for (i = 0; i < 1000; i++)
        CHECK_INT(smtpkit_reply_parser_feed(&static_parser, ehlo, sizeof ehlo - 1),
                  sizeof ehlo - 1);
    CHECK_INT(r.n, 15000);
    fold_ehlo(&caps, ehlo);
    CHECK_INT(caps.flags, (ALL_SIMPLE & ~(unsigned)SMTPKIT_CAP_BINARYMIME) | SMTPKIT_CAP_SIZE |
                              SMTPKIT_CAP_AUTH | SMTPKIT_CAP_LIMITS);
}

/* ------------------------------------------------------------------ */
/* capabilities                                                         */

/* Parses an EHLO reply and folds its lines into caps. */
static void fold_ehlo(smtpkit_caps *caps, const char *in)
{
    run_cfg cfg;
    test_log log = {0};
    memset(&cfg, 0, sizeof cfg);
    cfg.caps = caps;
    smtpkit_caps_init(caps);
    run_reply(in, strlen(in), NULL, 0, &log, &cfg);
    CHECK(strstr(test_log_str(&log), "!") == NULL);
    test_log_free(&log);
}

static void check_caps_bounds(const smtpkit_caps *c)
{
    unsigned i;
    CHECK(c->_used <= sizeof c->_store);
    CHECK(c->nunknown <= SMTPKIT_CAPS_MAX_UNKNOWN);
    for (i = 0; i < c->nunknown; i++)
        CHECK(view_in(c->unknown[i], c->_store, c->_used));
    if (c->domain.len)
        CHECK(view_in(c->domain, c->_store, c->_used));
    if (c->auth_list.len)
        CHECK(view_in(c->auth_list, c->_store, c->_used));
    if (c->limits.ptr)
        CHECK(view_in(c->limits, c->_store, c->_used));
}

typedef struct caps_case {
    const char *name;
    const char *in;
    unsigned flags;
    uint64_t size_max;
    unsigned auth;
    const char *auth_list;
    const char *domain;
    const char *limits;
    const char *unknown; /* unknown lines joined with '|' */
} caps_case;

static const caps_case caps_cases[] = {
    {"Postfix",
     "250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
     "250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
     "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
     SMTPKIT_CAP_PIPELINING | SMTPKIT_CAP_SIZE | SMTPKIT_CAP_STARTTLS |
         SMTPKIT_CAP_ENHANCEDSTATUSCODES | SMTPKIT_CAP_8BITMIME | SMTPKIT_CAP_DSN |
         SMTPKIT_CAP_SMTPUTF8 | SMTPKIT_CAP_CHUNKING,
     10240000, 0, "", "mail.example.com", NULL, "VRFY|ETRN"},
    {"Gmail",
     "250-smtp.gmail.com at your service, [203.0.113.5]\r\n250-SIZE 35882577\r\n"
     "250-8BITMIME\r\n250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n"
     "250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
     SMTPKIT_CAP_SIZE | SMTPKIT_CAP_8BITMIME | SMTPKIT_CAP_AUTH |
         SMTPKIT_CAP_ENHANCEDSTATUSCODES | SMTPKIT_CAP_PIPELINING | SMTPKIT_CAP_CHUNKING |
         SMTPKIT_CAP_SMTPUTF8,
     35882577, SMTPKIT_AUTH_LOGIN | SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_XOAUTH2 | SMTPKIT_AUTH_OTHER,
     "LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH", "smtp.gmail.com", NULL, ""},
    {"Exchange",
     "250-mail.contoso.com Hello [192.0.2.1]\r\n250-SIZE 37748736\r\n250-PIPELINING\r\n"
     "250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-X-ANONYMOUSTLS\r\n"
     "250-AUTH NTLM\r\n250-X-EXPS GSSAPI NTLM\r\n250-8BITMIME\r\n250-BINARYMIME\r\n"
     "250-CHUNKING\r\n250-XRDST\r\n250 SMTPUTF8\r\n",
     SMTPKIT_CAP_SIZE | SMTPKIT_CAP_PIPELINING | SMTPKIT_CAP_DSN |
         SMTPKIT_CAP_ENHANCEDSTATUSCODES | SMTPKIT_CAP_STARTTLS | SMTPKIT_CAP_AUTH |
         SMTPKIT_CAP_8BITMIME | SMTPKIT_CAP_BINARYMIME | SMTPKIT_CAP_CHUNKING |
         SMTPKIT_CAP_SMTPUTF8,
     37748736, SMTPKIT_AUTH_OTHER, "NTLM", "mail.contoso.com", NULL,
     "X-ANONYMOUSTLS|X-EXPS GSSAPI NTLM|XRDST"},
    {"every keyword, lower case",
     "250-mx\r\n250-pipelining\r\n250-size\r\n250-8bitmime\r\n250-smtputf8\r\n"
     "250-chunking\r\n250-binarymime\r\n250-dsn\r\n250-enhancedstatuscodes\r\n"
     "250-starttls\r\n250-auth cram-md5\r\n250-requiretls\r\n250 limits MAILMAX=5\r\n",
     ALL_SIMPLE | SMTPKIT_CAP_SIZE | SMTPKIT_CAP_AUTH | SMTPKIT_CAP_LIMITS, 0,
     SMTPKIT_AUTH_CRAM_MD5, "cram-md5", "mx", "MAILMAX=5", ""},
    {"legacy AUTH= merged with AUTH",
     "250-mx.example.net\r\n250-AUTH LOGIN PLAIN\r\n250-AUTH=LOGIN PLAIN CRAM-MD5\r\n250 OK\r\n",
     SMTPKIT_CAP_AUTH, 0, SMTPKIT_AUTH_LOGIN | SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_CRAM_MD5,
     "LOGIN PLAIN CRAM-MD5", "mx.example.net", NULL, "OK"},
    {"legacy AUTH= alone", "250-mx\r\n250 AUTH=PLAIN\r\n", SMTPKIT_CAP_AUTH, 0,
     SMTPKIT_AUTH_PLAIN, "PLAIN", "mx", NULL, ""},
    {"mechanism names are case-insensitive, kept as sent",
     "250-mx\r\n250-auth plain Login xoauth2\r\n250 AUTH=PLAIN login\r\n", SMTPKIT_CAP_AUTH, 0,
     SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_LOGIN | SMTPKIT_AUTH_XOAUTH2, "plain Login xoauth2", "mx",
     NULL, ""},
    {"AUTH list moves when something was stored after it",
     "250-mx\r\n250-AUTH PLAIN\r\n250-XFOO\r\n250-AUTH=LOGIN\r\n250 AUTH GSSAPI\r\n",
     SMTPKIT_CAP_AUTH, 0, SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_LOGIN | SMTPKIT_AUTH_OTHER,
     "PLAIN LOGIN GSSAPI", "mx", NULL, "XFOO"},
    {"AUTH without mechanisms", "250-mx\r\n250 AUTH\r\n", SMTPKIT_CAP_AUTH, 0, 0, "", "mx", NULL,
     ""},
    {"SIZE 0 is no limit", "250-mx\r\n250 SIZE 0\r\n", SMTPKIT_CAP_SIZE, 0, 0, "", "mx", NULL, ""},
    {"SIZE largest", "250-mx\r\n250 SIZE 18446744073709551615\r\n", SMTPKIT_CAP_SIZE, UINT64_MAX,
     0, "", "mx", NULL, ""},
    {"SIZE overflow", "250-mx\r\n250 SIZE 18446744073709551616\r\n", SMTPKIT_CAP_SIZE, 0, 0, "",
     "mx", NULL, ""},
    {"SIZE far overflow", "250-mx\r\n250 SIZE 99999999999999999999999\r\n", SMTPKIT_CAP_SIZE, 0,
     0, "", "mx", NULL, ""},
    {"SIZE malformed", "250-mx\r\n250 SIZE 10M\r\n", SMTPKIT_CAP_SIZE, 0, 0, "", "mx", NULL, ""},
    {"SIZE with extra blanks", "250-mx\r\n250 SIZE   52428800  \r\n", SMTPKIT_CAP_SIZE, 52428800,
     0, "", "mx", NULL, ""},
    {"LIMITS without parameters", "250-mx\r\n250 LIMITS\r\n", SMTPKIT_CAP_LIMITS, 0, 0, "", "mx",
     "", ""},
    {"keyword=value other than AUTH is unknown", "250-mx\r\n250 SIZE=100\r\n", 0, 0, 0, "", "mx",
     NULL, "SIZE=100"},
    {"keyword prefix is not the keyword", "250-mx\r\n250-PIPELININGX\r\n250 STARTTLS2\r\n", 0, 0,
     0, "", "mx", NULL, "PIPELININGX|STARTTLS2"},
    {"only a greeting", "250 mx.example.com\r\n", 0, 0, 0, "", "mx.example.com", NULL, ""},
    {"empty keyword lines ignored", "250-mx\r\n250-\r\n250-   \r\n250 DSN\r\n", SMTPKIT_CAP_DSN,
     0, 0, "", "mx", NULL, ""},
    {"blanks around keywords", "250- mx.example.com  hello\r\n250-  8BITMIME \r\n250 VRFY \r\n",
     SMTPKIT_CAP_8BITMIME, 0, 0, "", "mx.example.com", NULL, "VRFY"},
};

TEST(caps_folding)
{
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(caps_cases); i++) {
        const caps_case *cc = &caps_cases[i];
        smtpkit_caps caps;
        test_log u = {0};
        unsigned k;
        test_current = cc->name;
        fold_ehlo(&caps, cc->in);
        CHECK_INT(caps.flags, cc->flags);
        CHECK_INT(caps.size_max, cc->size_max);
        CHECK_INT(caps.auth, cc->auth);
        CHECK_VIEW0(caps.auth_list, cc->auth_list);
        CHECK_VIEW0(caps.domain, cc->domain);
        if (cc->limits)
            CHECK_VIEW0(caps.limits, cc->limits);
        else
            CHECK_INT(caps.limits.len, 0);
        for (k = 0; k < caps.nunknown; k++)
            test_log_add(&u, "%s%.*s", k ? "|" : "", (int)caps.unknown[k].len,
                         caps.unknown[k].ptr);
        CHECK_STR(test_log_str(&u), cc->unknown);
        CHECK_INT(caps.ndropped, 0);
        check_caps_bounds(&caps);
        test_log_free(&u);
    }
}

TEST(caps_has)
{
    smtpkit_caps caps;
    fold_ehlo(&caps, "250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                     "250-VRFY\r\n250-ETRN\r\n250-X-EXPS GSSAPI NTLM\r\n250-AUTH=LOGIN\r\n"
                     "250 LIMITS RCPTMAX=10\r\n");
    CHECK(smtpkit_caps_has(&caps, "PIPELINING"));
    CHECK(smtpkit_caps_has(&caps, "pipelining"));
    CHECK(smtpkit_caps_has(&caps, "SIZE"));
    CHECK(smtpkit_caps_has(&caps, "AUTH"));
    CHECK(smtpkit_caps_has(&caps, "LIMITS"));
    CHECK(smtpkit_caps_has(&caps, "vrfy"));
    CHECK(smtpkit_caps_has(&caps, "ETRN"));
    CHECK(smtpkit_caps_has(&caps, "X-EXPS"));
    CHECK(!smtpkit_caps_has(&caps, "X-EXP"));
    CHECK(!smtpkit_caps_has(&caps, "X-EXPS GSSAPI"));
    CHECK(!smtpkit_caps_has(&caps, "STARTTLS"));
    CHECK(!smtpkit_caps_has(&caps, "CHUNKING"));
    CHECK(!smtpkit_caps_has(&caps, "mail.example.com")); /* the domain is no keyword */
    CHECK(!smtpkit_caps_has(&caps, ""));
    CHECK(!smtpkit_caps_has(&caps, NULL));
    CHECK(!smtpkit_caps_has(NULL, "SIZE"));
    CHECK_VIEW(caps.limits, "RCPTMAX=10");
    CHECK_VIEW(caps.auth_list, "LOGIN");
}

TEST(caps_arguments)
{
    smtpkit_caps caps;
    smtpkit_reply_line l;
    memset(&l, 0, sizeof l);
    smtpkit_caps_init(&caps);
    l.code = 250;
    l.text.ptr = "DSN";
    l.text.len = 3;
    CHECK_INT(smtpkit_caps_add_line(NULL, 1, &l), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_caps_add_line(&caps, 1, NULL), SMTPKIT_ERR_INVALID_ARG);
    /* only 250 lines fold: an error reply to EHLO must not leave capabilities */
    l.code = 550;
    CHECK_INT(smtpkit_caps_add_line(&caps, 1, &l), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(caps.flags, 0);
    l.code = 250;
    CHECK_INT(smtpkit_caps_add_line(&caps, 1, &l), 0);
    CHECK_INT(caps.flags, SMTPKIT_CAP_DSN);
    smtpkit_caps_init(&caps);
    CHECK_INT(caps.flags, 0);
    CHECK_INT(caps._used, 0);
    smtpkit_caps_init(NULL);
}

/* The store is fixed: what does not fit is dropped and counted, never
 * written past the end. */
TEST(caps_store_exhaustion)
{
    smtpkit_caps caps;
    test_log in = {0};
    unsigned i;

    /* more unknown keywords than slots */
    test_log_add(&in, "250-mx\r\n");
    for (i = 0; i < SMTPKIT_CAPS_MAX_UNKNOWN + 4; i++)
        test_log_add(&in, "250-X-K%u\r\n", i);
    test_log_add(&in, "250 DSN\r\n");
    fold_ehlo(&caps, test_log_str(&in));
    CHECK_INT(caps.nunknown, SMTPKIT_CAPS_MAX_UNKNOWN);
    CHECK_INT(caps.ndropped, 4);
    CHECK_VIEW(caps.unknown[0], "X-K0");
    CHECK_VIEW(caps.unknown[SMTPKIT_CAPS_MAX_UNKNOWN - 1], "X-K15");
    CHECK(smtpkit_caps_has(&caps, "x-k15"));
    CHECK(!smtpkit_caps_has(&caps, "X-K16"));
    CHECK(smtpkit_caps_has(&caps, "DSN"));
    check_caps_bounds(&caps);

    /* long unknown lines fill the bytes first; flags and SIZE still fold */
    test_log_reset(&in);
    test_log_add(&in, "250-mx\r\n");
    for (i = 0; i < 8; i++)
        test_log_add(&in, "250-X-LONG%u %0100u\r\n", i, 0u);
    test_log_add(&in, "250-AUTH PLAIN LOGIN\r\n250-LIMITS RCPTMAX=10\r\n250-SIZE 1000\r\n"
                      "250 STARTTLS\r\n");
    fold_ehlo(&caps, test_log_str(&in));
    /* "mx" + 4 lines of 108 bytes fit in 512, the 5th does not */
    CHECK_INT(caps.nunknown, 4);
    CHECK_INT(caps.ndropped, 4);
    CHECK_VIEW(caps.auth_list, "PLAIN LOGIN");
    CHECK_VIEW(caps.limits, "RCPTMAX=10");
    CHECK_INT(caps.auth, SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_LOGIN);
    CHECK(caps.flags & SMTPKIT_CAP_AUTH);
    CHECK(caps.flags & SMTPKIT_CAP_LIMITS);
    CHECK(caps.flags & SMTPKIT_CAP_STARTTLS);
    CHECK_INT(caps.size_max, 1000);
    CHECK_VIEW(caps.domain, "mx");
    check_caps_bounds(&caps);

    /* fill the store exactly, then every further string is dropped */
    {
        smtpkit_reply_line l;
        char big[SMTPKIT_CAPS_STORE];
        memset(&l, 0, sizeof l);
        memset(big, 'x', sizeof big);
        smtpkit_caps_init(&caps);
        l.code = 250;
        l.text.ptr = big;
        l.text.len = sizeof big;
        CHECK_INT(smtpkit_caps_add_line(&caps, 0, &l), 0); /* domain takes it all */
        CHECK_INT(caps.domain.len, SMTPKIT_CAPS_STORE);
        CHECK_INT(caps._used, SMTPKIT_CAPS_STORE);
        l.text.ptr = "AUTH PLAIN";
        l.text.len = 10;
        CHECK_INT(smtpkit_caps_add_line(&caps, 1, &l), 0);
        CHECK_INT(caps.auth, SMTPKIT_AUTH_PLAIN);
        CHECK_INT(caps.auth_list.len, 0);
        l.text.ptr = "XYZ";
        l.text.len = 3;
        CHECK_INT(smtpkit_caps_add_line(&caps, 2, &l), 0);
        CHECK_INT(caps.nunknown, 0);
        l.text.ptr = "LIMITS A=1";
        l.text.len = 10;
        CHECK_INT(smtpkit_caps_add_line(&caps, 3, &l), 0);
        CHECK(caps.flags & SMTPKIT_CAP_LIMITS);
        CHECK_INT(caps.limits.len, 0);
        CHECK_INT(caps.ndropped, 3);
        CHECK_INT(caps._used, SMTPKIT_CAPS_STORE);
        /* a domain longer than the store is dropped, not cut */
        smtpkit_caps_init(&caps);
        l.text.ptr = big;
        l.text.len = sizeof big;
        CHECK_INT(smtpkit_caps_add_line(&caps, 1, &l), 0); /* unknown, fills it */
        l.text.ptr = "mx.example.com";
        l.text.len = 14;
        CHECK_INT(smtpkit_caps_add_line(&caps, 0, &l), 0);
        CHECK_INT(caps.domain.len, 0);
        CHECK_INT(caps.ndropped, 1);
    }

    /* the AUTH list grows in place while it is the last thing stored */
    {
        smtpkit_caps c2;
        test_log_reset(&in);
        test_log_add(&in, "250-mx\r\n");
        for (i = 0; i < 200; i++)
            test_log_add(&in, "250-AUTH M%u\r\n", i);
        test_log_add(&in, "250 OK\r\n");
        fold_ehlo(&c2, test_log_str(&in));
        CHECK(c2.ndropped > 0);
        CHECK(c2.auth_list.len > 100);
        CHECK(c2.auth_list.len <= SMTPKIT_CAPS_STORE);
        CHECK(c2.auth_list.len >= 8 && memcmp(c2.auth_list.ptr, "M0 M1 M2", 8) == 0);
        CHECK_INT(c2.auth, SMTPKIT_AUTH_OTHER);
        check_caps_bounds(&c2);
    }
    test_log_free(&in);
}

/* ------------------------------------------------------------------ */
/* standard replies                                                     */

typedef struct std_rec {
    int code, esc_class, n;
    char esc[16];
    char text[128];
} std_rec;

static int std_line(void *user, const smtpkit_reply_line *l)
{
    std_rec *r = (std_rec *)user;
    r->n++;
    r->code = l->code;
    r->esc_class = l->esc_class;
    snprintf(r->esc, sizeof r->esc, "%.*s", (int)l->esc.len, l->esc.ptr);
    snprintf(r->text, sizeof r->text, "%.*s", (int)l->text.len, l->text.ptr);
    return 0;
}

TEST(std_table)
{
    static const smtpkit_reply_callbacks cb = {std_line, NULL};
    int i;
    for (i = 0; i < (int)SMTPKIT_R__COUNT; i++) {
        const smtpkit_std_reply *s = smtpkit_std_reply_get((smtpkit_std)i);
        smtpkit_reply_parser p;
        std_rec r;
        char wire[256];
        int n;
        CHECK(s != NULL);
        if (!s)
            continue;
        CHECK(s->code >= 200 && s->code <= 559 && (s->code / 10) % 10 <= 5);
        CHECK(s->text != NULL);
        if (!s->text)
            continue;
        CHECK(!smtpkit__has_crlfnul(s->text, strlen(s->text)));
        if (s->esc) {
            /* RFC 3463 3.1: the class is the code's first digit */
            CHECK_INT(s->esc[0] - '0', s->code / 100);
            n = snprintf(wire, sizeof wire, "%d %s %s\r\n", s->code, s->esc, s->text);
        } else {
            CHECK(s->code == 220 || s->code == 334 || s->code == 354);
            n = snprintf(wire, sizeof wire, "%d %s\r\n", s->code, s->text);
        }
        /* our own parser reads back exactly the table entry */
        memset(&r, 0, sizeof r);
        smtpkit_reply_parser_init(&p, &cb, &r);
        CHECK_INT(smtpkit_reply_parser_feed(&p, wire, (size_t)n), n);
        CHECK_INT(r.n, 1);
        CHECK_INT(r.code, s->code);
        CHECK_STR(r.esc, s->esc ? s->esc : "");
        CHECK_STR(r.text, s->text);
    }
    CHECK(smtpkit_std_reply_get(SMTPKIT_R__COUNT) == NULL);
    CHECK(smtpkit_std_reply_get((smtpkit_std)-1) == NULL);
}

TEST(std_known_entries)
{
    static const struct {
        smtpkit_std id;
        int code;
        const char *esc, *text;
    } want[] = {
        {SMTPKIT_R_SERVICE_READY, 220, NULL, NULL},
        {SMTPKIT_R_CLOSING, 221, "2.0.0", NULL},
        {SMTPKIT_R_AUTH_OK, 235, "2.7.0", NULL},
        {SMTPKIT_R_OK, 250, "2.0.0", NULL},
        {SMTPKIT_R_SENDER_OK, 250, "2.1.0", NULL},
        {SMTPKIT_R_RCPT_OK, 250, "2.1.5", NULL},
        {SMTPKIT_R_MSG_OK, 250, "2.0.0", NULL},
        {SMTPKIT_R_VRFY_CANNOT, 252, "2.5.0", NULL},
        {SMTPKIT_R_AUTH_CHALLENGE, 334, NULL, ""},
        {SMTPKIT_R_START_DATA, 354, NULL, "Start mail input; end with <CRLF>.<CRLF>"},
        {SMTPKIT_R_SERVICE_UNAVAILABLE, 421, "4.3.2", NULL},
        {SMTPKIT_R_MAILBOX_BUSY, 450, "4.2.1", NULL},
        {SMTPKIT_R_LOCAL_ERROR, 451, "4.3.0", NULL},
        {SMTPKIT_R_TOO_MANY_RCPTS, 452, "4.5.3", "Too many recipients"},
        {SMTPKIT_R_INSUFFICIENT_STORAGE, 452, "4.3.1", NULL},
        {SMTPKIT_R_TEMP_AUTH_FAILURE, 454, "4.7.0", NULL},
        {SMTPKIT_R_TLS_NOT_AVAILABLE, 454, "4.7.0", NULL},
        {SMTPKIT_R_UNRECOGNIZED, 500, "5.5.1", "Syntax error, command unrecognized"},
        {SMTPKIT_R_LINE_TOO_LONG, 500, "5.5.6", "Line too long"},
        {SMTPKIT_R_SYNTAX, 501, "5.5.4", "Syntax error in parameters or arguments"},
        {SMTPKIT_R_BAD_ADDRESS_SYNTAX, 501, "5.1.3", NULL},
        {SMTPKIT_R_NOT_IMPLEMENTED, 502, "5.5.1", "Command not implemented"},
        {SMTPKIT_R_BAD_SEQUENCE, 503, "5.5.1", "Bad sequence of commands"},
        {SMTPKIT_R_PARAM_NOT_IMPLEMENTED, 504, "5.5.4", NULL},
        {SMTPKIT_R_AUTH_REQUIRED, 530, "5.7.0", NULL},
        {SMTPKIT_R_TLS_REQUIRED, 530, "5.7.0", "Must issue a STARTTLS command first"},
        {SMTPKIT_R_AUTH_INVALID, 535, "5.7.8", "Authentication credentials invalid"},
        {SMTPKIT_R_MAILBOX_UNAVAILABLE, 550, "5.1.1", NULL},
        {SMTPKIT_R_BAD_LINE_ENDINGS, 550, "5.6.0", "Bare CR or LF not allowed"},
        {SMTPKIT_R_MSG_TOO_BIG, 552, "5.3.4", "Message size exceeds fixed maximum message size"},
        {SMTPKIT_R_MAILBOX_NAME, 553, "5.1.3", NULL},
        {SMTPKIT_R_NO_UTF8, 553, "5.6.7", "SMTPUTF8 not supported"},
        {SMTPKIT_R_TRANSACTION_FAILED, 554, "5.0.0", NULL},
        {SMTPKIT_R_NO_SERVICE, 554, "5.3.2", "No SMTP service here"},
        {SMTPKIT_R_PARAM_UNRECOGNIZED, 555, "5.5.4", NULL},
    };
    size_t i;
    CHECK_INT(SMTPKIT_ARRAY_LEN(want), SMTPKIT_R__COUNT);
    for (i = 0; i < SMTPKIT_ARRAY_LEN(want); i++) {
        const smtpkit_std_reply *s = smtpkit_std_reply_get(want[i].id);
        CHECK(s != NULL);
        if (!s)
            continue;
        CHECK_INT(s->code, want[i].code);
        if (want[i].esc)
            CHECK(s->esc && strcmp(s->esc, want[i].esc) == 0);
        else
            CHECK(s->esc == NULL);
        if (want[i].text)
            CHECK_STR(s->text, want[i].text);
    }
}

TEST(default_esc)
{
    CHECK_STR(smtpkit_default_esc(250), "2.0.0");
    CHECK_STR(smtpkit_default_esc(221), "2.0.0");
    CHECK_STR(smtpkit_default_esc(421), "4.0.0");
    CHECK_STR(smtpkit_default_esc(451), "4.0.0");
    CHECK_STR(smtpkit_default_esc(554), "5.0.0");
    CHECK_STR(smtpkit_default_esc(500), "5.0.0");
    CHECK(smtpkit_default_esc(354) == NULL);
    CHECK(smtpkit_default_esc(334) == NULL);
    CHECK(smtpkit_default_esc(199) == NULL);
    CHECK(smtpkit_default_esc(600) == NULL);
    CHECK(smtpkit_default_esc(260) == NULL);
    CHECK(smtpkit_default_esc(0) == NULL);
    CHECK(smtpkit_default_esc(-250) == NULL);
    CHECK(smtpkit_default_esc(INT_MAX) == NULL);
}

int main(void)
{
    RUN(reply_transcripts);
    RUN(reply_default_limit);
    RUN(reply_pause_every_line);
    RUN(reply_guard_page);
    RUN(reply_callback_failure);
    RUN(reply_zero_copy);
    RUN(reply_api_edges);
    RUN(reply_no_allocation);
    RUN(caps_folding);
    RUN(caps_has);
    RUN(caps_arguments);
    RUN(caps_store_exhaustion);
    RUN(std_table);
    RUN(std_known_entries);
    RUN(default_esc);
    return test_summary();
}
