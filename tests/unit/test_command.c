/* Command parser: the RFC 5321 4.1 grammar line by line (table-driven),
 * the error kinds and their replies, mailbox validation, and the push
 * parser fed in every split, with pause/resume, over-long lines and
 * reset. */
#include "internal.h"
#include "smtpkit/command.h"
/* test.h's vprintf-style helper lacks a format attribute, which clang's
 * -Wformat-nonliteral (from -Wformat=2) rejects; until it has one: */
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wformat-nonliteral"
#endif
#include "test.h"
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

/* ------------------------------------------------------------ allocation counter
 * The parser takes no allocator at all; to prove it never calls malloc we
 * count every allocation in the process while it runs: through the
 * sanitizer's malloc hooks in sanitized builds, by interposing malloc on
 * glibc otherwise. alloc_counter_works() is the positive control. */
static volatile size_t g_allocs;

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif

#if defined(T_ASAN)
int __sanitizer_install_malloc_and_free_hooks(void (*m)(const volatile void *, size_t),
                                              void (*f)(const volatile void *));
static void t_malloc_hook(const volatile void *p, size_t n)
{
    (void)p;
    (void)n;
    g_allocs++;
}
static void t_free_hook(const volatile void *p) { (void)p; }
static int alloc_counter_install(void)
{
    return __sanitizer_install_malloc_and_free_hooks(t_malloc_hook, t_free_hook);
}
#elif defined(__GLIBC__)
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t a, size_t b);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);
void *malloc(size_t n)
{
    g_allocs++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    g_allocs++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    g_allocs++;
    return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }
static int alloc_counter_install(void) { return 1; }
#else
static int alloc_counter_install(void) { return 0; }
#endif

/* ------------------------------------------------------------ formatting */

static void fmt_view(test_log *l, const char *name, smtpkit_view v)
{
    test_log_add(l, " %s=[", name);
    test_log_bytes(l, v.ptr, v.len);
    test_log_add(l, "]");
}

/* A canonical, readable rendering of a parsed command. */
static void fmt_cmd(test_log *l, const smtpkit_command *c)
{
    unsigned i;
    test_log_add(l, "%s", smtpkit_verb_name(c->verb));
    switch (c->verb) {
    case SMTPKIT_VERB_MAIL:
    case SMTPKIT_VERB_RCPT:
        test_log_add(l, " <");
        test_log_bytes(l, c->path.mailbox.ptr, c->path.mailbox.len);
        test_log_add(l, ">");
        if (!c->path.is_null && !c->path.is_postmaster) {
            fmt_view(l, "l", c->path.local);
            fmt_view(l, "d", c->path.domain);
        }
        if (c->path.is_null)
            test_log_add(l, " null");
        if (c->path.is_postmaster)
            test_log_add(l, " postmaster");
        if (c->path.had_route)
            test_log_add(l, " route");
        if (c->path.utf8)
            test_log_add(l, " utf8");
        for (i = 0; i < c->nparams; i++) {
            test_log_add(l, " ");
            test_log_bytes(l, c->params[i].key.ptr, c->params[i].key.len);
            if (c->params[i].has_value) {
                test_log_add(l, "=");
                test_log_bytes(l, c->params[i].value.ptr, c->params[i].value.len);
            }
        }
        break;
    case SMTPKIT_VERB_BDAT:
        test_log_add(l, " %llu%s", (unsigned long long)c->bdat_size, c->bdat_last ? " LAST" : "");
        break;
    case SMTPKIT_VERB_AUTH:
        fmt_view(l, "mech", c->arg);
        if (c->has_initial_response)
            fmt_view(l, "ir", c->initial_response);
        break;
    case SMTPKIT_VERB_DATA:
    case SMTPKIT_VERB_RSET:
    case SMTPKIT_VERB_QUIT:
    case SMTPKIT_VERB_STARTTLS:
        if (c->arg.len)
            fmt_view(l, "arg", c->arg);
        break;
    default:
        if (c->arg.len)
            fmt_view(l, "arg", c->arg);
        break;
    }
}

/* ------------------------------------------------------------ the table */

enum { U = SMTPKIT_CMD_UTF8, LS = SMTPKIT_CMD_LENIENT_SPACE };

typedef struct pcase {
    const char *line;
    int len; /* -1: strlen(line) */
    unsigned flags;
    int err;
    const char *expect; /* rendering when err == 0 */
} pcase;

#define OK(line, flags, expect) {line, -1, flags, 0, expect}
#define ER(line, flags, err) {line, -1, flags, err, NULL}
#define ERN(line, len, flags, err) {line, len, flags, err, NULL}

#define E_UNK SMTPKIT_ERR_CMD_UNKNOWN
#define E_SYN SMTPKIT_ERR_CMD_SYNTAX
#define E_PATH SMTPKIT_ERR_CMD_PATH
#define E_PAR SMTPKIT_ERR_CMD_PARAM
#define E_MANY SMTPKIT_ERR_CMD_TOO_MANY_PARAMS
#define E_NUL SMTPKIT_ERR_NUL
#define E_8BIT SMTPKIT_ERR_NON_ASCII
#define E_LONG SMTPKIT_ERR_LINE_TOO_LONG

static const pcase cases[] = {
    /* RFC 5321 appendix D.1: a typical transaction */
    OK("EHLO bar.com", 0, "EHLO arg=[bar.com]"),
    OK("MAIL FROM:<Smith@bar.com>", 0, "MAIL <Smith@bar.com> l=[Smith] d=[bar.com]"),
    OK("RCPT TO:<Jones@foo.com>", 0, "RCPT <Jones@foo.com> l=[Jones] d=[foo.com]"),
    OK("RCPT TO:<Green@foo.com>", 0, "RCPT <Green@foo.com> l=[Green] d=[foo.com]"),
    OK("DATA", 0, "DATA"),
    OK("QUIT", 0, "QUIT"),
    /* D.2 aborted transaction, D.3 relayed mail, D.4 verifying */
    OK("RSET", 0, "RSET"),
    OK("MAIL FROM:<JQP@bar.com>", 0, "MAIL <JQP@bar.com> l=[JQP] d=[bar.com]"),
    OK("RCPT TO:<Jones@XYZ.COM>", 0, "RCPT <Jones@XYZ.COM> l=[Jones] d=[XYZ.COM]"),
    OK("HELO bar.com", 0, "HELO arg=[bar.com]"),
    OK("VRFY Crispin", 0, "VRFY arg=[Crispin]"),
    OK("VRFY Smith", 0, "VRFY arg=[Smith]"),
    OK("EXPN Example-People", 0, "EXPN arg=[Example-People]"),
    /* RFC 5321 4.1.1.3: a source route, accepted and dropped */
    OK("RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>", 0,
       "RCPT <userc@d.bar.org> l=[userc] d=[d.bar.org] route"),

    /* every verb, and case-insensitivity */
    OK("ehlo client.example", 0, "EHLO arg=[client.example]"),
    OK("LHLO lmtp.example", 0, "LHLO arg=[lmtp.example]"),
    OK("HeLo [192.0.2.1]", 0, "HELO arg=[[192.0.2.1]]"),
    OK("EHLO [IPv6:2001:db8::1]", 0, "EHLO arg=[[IPv6:2001:db8::1]]"),
    OK("mail from:<a@b>", 0, "MAIL <a@b> l=[a] d=[b]"),
    OK("MaIl FrOm:<a@b>", 0, "MAIL <a@b> l=[a] d=[b]"),
    OK("rcpt to:<a@b>", 0, "RCPT <a@b> l=[a] d=[b]"),
    OK("data", 0, "DATA"),
    OK("bdat 100", 0, "BDAT 100"),
    OK("BDAT 0 LAST", 0, "BDAT 0 LAST"),
    OK("BDAT 512 last", 0, "BDAT 512 LAST"),
    OK("BDAT 18446744073709551615", 0, "BDAT 18446744073709551615"),
    OK("BDAT 007  LAST", 0, "BDAT 7 LAST"),
    OK("rset", 0, "RSET"),
    OK("vrfy <a@b>", 0, "VRFY arg=[<a@b>]"),
    OK("VRFY John Smith", 0, "VRFY arg=[John Smith]"),
    OK("expn list", 0, "EXPN arg=[list]"),
    OK("HELP", 0, "HELP"),
    OK("help MAIL", 0, "HELP arg=[MAIL]"),
    OK("NOOP", 0, "NOOP"),
    OK("noop anything at all", 0, "NOOP arg=[anything at all]"),
    OK("quit", 0, "QUIT"),
    OK("STARTTLS", 0, "STARTTLS"),
    OK("StartTls", 0, "STARTTLS"),
    OK("AUTH PLAIN", 0, "AUTH mech=[PLAIN]"),
    OK("auth plain", 0, "AUTH mech=[plain]"),
    OK("AUTH PLAIN AGFsaWNlAHNlY3JldA==", 0, "AUTH mech=[PLAIN] ir=[AGFsaWNlAHNlY3JldA==]"),
    OK("AUTH PLAIN =", 0, "AUTH mech=[PLAIN] ir=[=]"),
    OK("AUTH LOGIN dXNlcg==", 0, "AUTH mech=[LOGIN] ir=[dXNlcg==]"),
    OK("AUTH CRAM-MD5", 0, "AUTH mech=[CRAM-MD5]"),
    OK("AUTH SCRAM-SHA-256", 0, "AUTH mech=[SCRAM-SHA-256]"),
    OK("AUTH X_A-B abcd", 0, "AUTH mech=[X_A-B] ir=[abcd]"),
    OK("AUTH ABCDEFGHIJKLMNOPQRST", 0, "AUTH mech=[ABCDEFGHIJKLMNOPQRST]"),
    OK("AUTH XOAUTH2 dXNlcj1hAWF1dGg9QmVhcmVyIHQBAQ==", 0,
       "AUTH mech=[XOAUTH2] ir=[dXNlcj1hAWF1dGg9QmVhcmVyIHQBAQ==]"),

    /* spaces: runs after the verb and trailing spaces are tolerated */
    OK("QUIT ", 0, "QUIT"),
    OK("DATA   ", 0, "DATA"),
    OK("EHLO   x.example  ", 0, "EHLO arg=[x.example]"),
    OK("MAIL  FROM:<a@b>", 0, "MAIL <a@b> l=[a] d=[b]"),
    OK("MAIL FROM:<a@b>  SIZE=1   BODY=7BIT  ", 0, "MAIL <a@b> l=[a] d=[b] SIZE=1 BODY=7BIT"),
    OK("MAIL FROM:<a@b> ", 0, "MAIL <a@b> l=[a] d=[b]"),
    ER("MAIL FROM: <a@b>", 0, E_SYN),
    OK("MAIL FROM: <a@b>", LS, "MAIL <a@b> l=[a] d=[b]"),
    OK("RCPT TO:   <a@b> NOTIFY=NEVER", LS, "RCPT <a@b> l=[a] d=[b] NOTIFY=NEVER"),
    OK("MAIL FROM:<a@b>", LS, "MAIL <a@b> l=[a] d=[b]"),
    ER("RCPT TO: <a@b>", 0, E_SYN),
    ER("MAIL FROM: ", LS, E_SYN),

    /* local parts */
    OK("MAIL FROM:<user+tag@sub.example.co.uk>", 0,
       "MAIL <user+tag@sub.example.co.uk> l=[user+tag] d=[sub.example.co.uk]"),
    OK("MAIL FROM:<!#$%&'*+-/=?^_`{|}~@x>", 0, "MAIL <!#$%&'*+-/=?^_`{|}~@x> l=[!#$%&'*+-/=?^_`{|}~] d=[x]"),
    OK("MAIL FROM:<first.middle.last@x>", 0, "MAIL <first.middle.last@x> l=[first.middle.last] d=[x]"),
    OK("MAIL FROM:<\"john doe\"@example.com>", 0,
       "MAIL <\"john doe\"@example.com> l=[\"john doe\"] d=[example.com]"),
    OK("RCPT TO:<\"a\\\"b\\\\c\"@x>", 0, "RCPT <\"a\\\\\"b\\\\\\\\c\"@x> l=[\"a\\\\\"b\\\\\\\\c\"] d=[x]"),
    OK("RCPT TO:<\"@\"@x>", 0, "RCPT <\"@\"@x> l=[\"@\"] d=[x]"),
    OK("RCPT TO:<\"\"@x>", 0, "RCPT <\"\"@x> l=[\"\"] d=[x]"),
    OK("RCPT TO:<\"a b.c(d)\"@x>", 0, "RCPT <\"a b.c(d)\"@x> l=[\"a b.c(d)\"] d=[x]"),
    OK("RCPT TO:<\"\\ \"@x>", 0, "RCPT <\"\\\\ \"@x> l=[\"\\\\ \"] d=[x]"),
    ER("RCPT TO:<a..b@c>", 0, E_PATH),
    ER("RCPT TO:<.a@c>", 0, E_PATH),
    ER("RCPT TO:<a.@c>", 0, E_PATH),
    ER("RCPT TO:<a b@c>", 0, E_PATH),
    ER("RCPT TO:<a(b)@c>", 0, E_PATH),
    ER("RCPT TO:<\"a@c>", 0, E_PATH),
    ER("RCPT TO:<\"a\\\"@c>", 0, E_PATH),
    ER("RCPT TO:<\"a>b\"@c>", 0, E_PATH),   /* deliberately refused, see command.h */
    ER("RCPT TO:<\"a\\>b\"@c>", 0, E_PATH),
    ER("RCPT TO:<\"a\tb\"@c>", 0, E_PATH),
    ER("RCPT TO:<\"a\\\tb\"@c>", 0, E_PATH),
    ER("RCPT TO:<a\"b\"@c>", 0, E_PATH),

    /* domains */
    OK("RCPT TO:<a@localhost>", 0, "RCPT <a@localhost> l=[a] d=[localhost]"),
    OK("RCPT TO:<a@123.example>", 0, "RCPT <a@123.example> l=[a] d=[123.example]"),
    OK("RCPT TO:<a@x-y--z.example>", 0, "RCPT <a@x-y--z.example> l=[a] d=[x-y--z.example]"),
    OK("RCPT TO:<a@1>", 0, "RCPT <a@1> l=[a] d=[1]"),
    ER("RCPT TO:<a@-b>", 0, E_PATH),
    ER("RCPT TO:<a@b->", 0, E_PATH),
    ER("RCPT TO:<a@b-.c>", 0, E_PATH),
    ER("RCPT TO:<a@b..c>", 0, E_PATH),
    ER("RCPT TO:<a@.b>", 0, E_PATH),
    ER("RCPT TO:<a@b.>", 0, E_PATH),
    ER("RCPT TO:<a@>", 0, E_PATH),
    ER("RCPT TO:<a@b_c>", 0, E_PATH),
    ER("RCPT TO:<a@b c>", 0, E_PATH),
    ER("RCPT TO:<a@b@c>", 0, E_PATH),
    ER("RCPT TO:<a@b", 0, E_PATH),
    ER("RCPT TO:a@b", 0, E_PATH),
    ER("RCPT TO:<@b>", 0, E_PATH),
    ER("MAIL FROM:<a>", 0, E_PATH),
    ER("MAIL FROM:<<a@b>>", 0, E_PATH),
    ER("MAIL FROM:<a@b>>", 0, E_SYN),
    ER("MAIL FROM:<a@b>x", 0, E_SYN),
    ER("MAIL FROM:<a@b>\tSIZE=1", 0, E_SYN),

    /* address literals: IPv4 */
    OK("RCPT TO:<a@[192.0.2.1]>", 0, "RCPT <a@[192.0.2.1]> l=[a] d=[[192.0.2.1]]"),
    OK("RCPT TO:<a@[255.255.255.255]>", 0, "RCPT <a@[255.255.255.255]> l=[a] d=[[255.255.255.255]]"),
    OK("RCPT TO:<a@[0.0.0.0]>", 0, "RCPT <a@[0.0.0.0]> l=[a] d=[[0.0.0.0]]"),
    OK("RCPT TO:<a@[01.002.3.4]>", 0, "RCPT <a@[01.002.3.4]> l=[a] d=[[01.002.3.4]]"),
    ER("RCPT TO:<a@[256.1.1.1]>", 0, E_PATH),
    ER("RCPT TO:<a@[1.2.3]>", 0, E_PATH),
    ER("RCPT TO:<a@[1.2.3.4.5]>", 0, E_PATH),
    ER("RCPT TO:<a@[1.2.3.0004]>", 0, E_PATH),
    ER("RCPT TO:<a@[1.2.3.4]", 0, E_PATH),
    ER("RCPT TO:<a@[]>", 0, E_PATH),
    ER("RCPT TO:<a@[1.2.3.4]x>", 0, E_PATH),
    /* IPv6 (RFC 5321 4.1.3) */
    OK("RCPT TO:<a@[IPv6:2001:db8::1]>", 0, "RCPT <a@[IPv6:2001:db8::1]> l=[a] d=[[IPv6:2001:db8::1]]"),
    OK("RCPT TO:<a@[IPv6:::]>", 0, "RCPT <a@[IPv6:::]> l=[a] d=[[IPv6:::]]"),
    OK("RCPT TO:<a@[IPv6:::1]>", 0, "RCPT <a@[IPv6:::1]> l=[a] d=[[IPv6:::1]]"),
    OK("RCPT TO:<a@[ipv6:fe80::]>", 0, "RCPT <a@[ipv6:fe80::]> l=[a] d=[[ipv6:fe80::]]"),
    OK("RCPT TO:<a@[IPv6:1:2:3:4:5:6:7:8]>", 0,
       "RCPT <a@[IPv6:1:2:3:4:5:6:7:8]> l=[a] d=[[IPv6:1:2:3:4:5:6:7:8]]"),
    OK("RCPT TO:<a@[IPv6:ffff:FFFF:0:0:0:0:0:abcd]>", 0,
       "RCPT <a@[IPv6:ffff:FFFF:0:0:0:0:0:abcd]> l=[a] d=[[IPv6:ffff:FFFF:0:0:0:0:0:abcd]]"),
    OK("RCPT TO:<a@[IPv6:1::2:3:4:5:6]>", 0, "RCPT <a@[IPv6:1::2:3:4:5:6]> l=[a] d=[[IPv6:1::2:3:4:5:6]]"),
    OK("RCPT TO:<a@[IPv6:1:2:3:4:5:6::]>", 0, "RCPT <a@[IPv6:1:2:3:4:5:6::]> l=[a] d=[[IPv6:1:2:3:4:5:6::]]"),
    OK("RCPT TO:<a@[IPv6:1:2:3:4:5:6:1.2.3.4]>", 0,
       "RCPT <a@[IPv6:1:2:3:4:5:6:1.2.3.4]> l=[a] d=[[IPv6:1:2:3:4:5:6:1.2.3.4]]"),
    OK("RCPT TO:<a@[IPv6:::ffff:192.0.2.1]>", 0,
       "RCPT <a@[IPv6:::ffff:192.0.2.1]> l=[a] d=[[IPv6:::ffff:192.0.2.1]]"),
    OK("RCPT TO:<a@[IPv6:::1.2.3.4]>", 0, "RCPT <a@[IPv6:::1.2.3.4]> l=[a] d=[[IPv6:::1.2.3.4]]"),
    OK("RCPT TO:<a@[IPv6:1:2:3:4::1.2.3.4]>", 0,
       "RCPT <a@[IPv6:1:2:3:4::1.2.3.4]> l=[a] d=[[IPv6:1:2:3:4::1.2.3.4]]"),
    OK("RCPT TO:<a@[IPv6:1::2:3:4:1.2.3.4]>", 0,
       "RCPT <a@[IPv6:1::2:3:4:1.2.3.4]> l=[a] d=[[IPv6:1::2:3:4:1.2.3.4]]"),
    ER("RCPT TO:<a@[IPv6:1:2:3:4:5::1.2.3.4]>", 0, E_PATH), /* 5 groups + :: + IPv4 */
    ER("RCPT TO:<a@[IPv6:1:2:3:4:5:1.2.3.4]>", 0, E_PATH),  /* 5 groups, no :: */
    ER("RCPT TO:<a@[IPv6:1:2:3:4:5:6:7]>", 0, E_PATH),
    ER("RCPT TO:<a@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, E_PATH),
    ER("RCPT TO:<a@[IPv6:1::2:3:4:5:6:7]>", 0, E_PATH), /* "::" for one group: RFC 5321 */
    ER("RCPT TO:<a@[IPv6:1::2::3]>", 0, E_PATH),
    ER("RCPT TO:<a@[IPv6:12345::]>", 0, E_PATH),
    ER("RCPT TO:<a@[IPv6:g::1]>", 0, E_PATH),
    ER("RCPT TO:<a@[IPv6::1]>", 0, E_PATH),
    ER("RCPT TO:<a@[IPv6:1:]>", 0, E_PATH),
    ER("RCPT TO:<a@[IPv6:1:::2]>", 0, E_PATH),
    ER("RCPT TO:<a@[IPv6:]>", 0, E_PATH),
    ER("RCPT TO:<a@[IPv6:::1.2.3]>", 0, E_PATH),
    ER("RCPT TO:<a@[IPv6:::256.1.1.1]>", 0, E_PATH),
    ER("RCPT TO:<a@[IPv6:::1.2.3.4:1]>", 0, E_PATH),
    /* general address literals */
    OK("RCPT TO:<a@[x-tag:some;thing]>", 0, "RCPT <a@[x-tag:some;thing]> l=[a] d=[[x-tag:some;thing]]"),
    OK("RCPT TO:<a@[1:2]>", 0, "RCPT <a@[1:2]> l=[a] d=[[1:2]]"),
    ER("RCPT TO:<a@[tag-:x]>", 0, E_PATH),
    ER("RCPT TO:<a@[tag:]>", 0, E_PATH),
    ER("RCPT TO:<a@[:x]>", 0, E_PATH),
    ER("RCPT TO:<a@[tag:a[b]>", 0, E_PATH),
    ER("RCPT TO:<a@[tag:a\\b]>", 0, E_PATH),
    ER("RCPT TO:<a@[tag:a b]>", 0, E_PATH),
    ER("RCPT TO:<a@[tag:a>b]>", 0, E_PATH),
    /* source routes */
    OK("MAIL FROM:<@a:u@b>", 0, "MAIL <u@b> l=[u] d=[b] route"),
    OK("RCPT TO:<@a.example,@b.example,@c:u@[1.2.3.4]>", 0, "RCPT <u@[1.2.3.4]> l=[u] d=[[1.2.3.4]] route"),
    ER("RCPT TO:<@a,u@b>", 0, E_PATH),
    ER("RCPT TO:<@a:>", 0, E_PATH),
    ER("RCPT TO:<@a,:u@b>", 0, E_PATH),
    ER("RCPT TO:<@[1.2.3.4]:u@b>", 0, E_PATH),
    ER("RCPT TO:<@:u@b>", 0, E_PATH),
    ER("RCPT TO:<@a:Postmaster>", 0, E_PATH),
    /* null path and postmaster */
    OK("MAIL FROM:<>", 0, "MAIL <> null"),
    OK("MAIL FROM:<> SIZE=0", 0, "MAIL <> null SIZE=0"),
    ER("RCPT TO:<>", 0, E_PATH),
    OK("RCPT TO:<Postmaster>", 0, "RCPT <Postmaster> postmaster"),
    OK("RCPT TO:<postMASTER> NOTIFY=NEVER", 0, "RCPT <postMASTER> postmaster NOTIFY=NEVER"),
    OK("RCPT TO:<Postmaster@example.com>", 0,
       "RCPT <Postmaster@example.com> l=[Postmaster] d=[example.com]"),
    ER("MAIL FROM:<Postmaster>", 0, E_PATH),
    ER("RCPT TO:<\"Postmaster\">", 0, E_PATH),
    ER("RCPT TO:<postmasters>", 0, E_PATH),
    ER("RCPT TO:<bob>", 0, E_PATH),

    /* ESMTP parameters: RFC 1870, 6152, 6531, 3461 */
    OK("MAIL FROM:<a@b> SIZE=1000000 BODY=8BITMIME", 0,
       "MAIL <a@b> l=[a] d=[b] SIZE=1000000 BODY=8BITMIME"),
    OK("MAIL FROM:<a@b> BODY=BINARYMIME SMTPUTF8", 0, "MAIL <a@b> l=[a] d=[b] BODY=BINARYMIME SMTPUTF8"),
    OK("MAIL FROM:<a@b> RET=HDRS ENVID=QQ314159", 0, "MAIL <a@b> l=[a] d=[b] RET=HDRS ENVID=QQ314159"),
    OK("MAIL FROM:<a@b> ENVID=a+2Bb+3Dc", 0, "MAIL <a@b> l=[a] d=[b] ENVID=a+2Bb+3Dc"),
    OK("RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@c", 0,
       "RCPT <a@b> l=[a] d=[b] NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@c"),
    OK("RCPT TO:<a@b> X-FOO-=<x>~!", 0, "RCPT <a@b> l=[a] d=[b] X-FOO-=<x>~!"),
    OK("MAIL FROM:<a@b> 1a", 0, "MAIL <a@b> l=[a] d=[b] 1a"),
    OK("MAIL FROM:<a@b> AUTH=<>", 0, "MAIL <a@b> l=[a] d=[b] AUTH=<>"),
    ER("MAIL FROM:<a@b> SIZE=", 0, E_PAR),
    ER("MAIL FROM:<a@b> =1", 0, E_PAR),
    ER("MAIL FROM:<a@b> -SIZE=1", 0, E_PAR),
    ER("MAIL FROM:<a@b> SI_ZE=1", 0, E_PAR),
    ER("MAIL FROM:<a@b> SIZE=1=2", 0, E_PAR),
    ER("MAIL FROM:<a@b> SIZE==1", 0, E_PAR),
    ER("MAIL FROM:<a@b> SIZE=1\t", 0, E_PAR),
    ER("MAIL FROM:<a@b> SIZE=a\x7f", 0, E_PAR),
    OK("MAIL FROM:<a@b> A B C D E F G H I J K L M N O P", 0,
       "MAIL <a@b> l=[a] d=[b] A B C D E F G H I J K L M N O P"),
    ER("MAIL FROM:<a@b> A B C D E F G H I J K L M N O P Q", 0, E_MANY),
    ER("MAIL FROM:<a@b> A B C D E F G H I J K L M N O P =", 0, E_MANY), /* left to right */
    ER("MAIL FROM:<a@b> = B C D E F G H I J K L M N O P Q", 0, E_PAR),

    /* unknown verbs */
    ER("XYZZY", 0, E_UNK),
    ER("", 0, E_UNK),
    ER(" MAIL FROM:<a@b>", 0, E_UNK),
    ER("MAILFROM:<a@b>", 0, E_UNK),
    ER("MAIL\tFROM:<a@b>", 0, E_UNK),
    ER("MAI", 0, E_UNK),
    ER("MAILS FROM:<a@b>", 0, E_UNK),
    ER("START TLS", 0, E_UNK),
    ER("STARTTLSX", 0, E_UNK),
    ER("XCLIENT ADDR=1.2.3.4", 0, E_UNK),
    ER("M@IL FROM:<a@b>", 0, E_UNK),
    ER("GET / HTTP/1.1", 0, E_UNK),
    ER("DATA\r", 0, E_UNK),

    /* syntax errors */
    ER("MAIL", 0, E_SYN),
    ER("MAIL FROM", 0, E_SYN),
    ER("MAIL FROM:", 0, E_SYN),
    ER("MAIL FRM:<a@b>", 0, E_SYN),
    ER("MAIL TO:<a@b>", 0, E_SYN),
    ER("RCPT FROM:<a@b>", 0, E_SYN),
    ER("RCPT", 0, E_SYN),
    ER("RCPT TO", 0, E_SYN),
    ER("MAIL FROM :<a@b>", 0, E_SYN),
    ER("DATA foo", 0, E_SYN),
    ER("QUIT now", 0, E_SYN),
    ER("RSET x", 0, E_SYN),
    ER("STARTTLS x", 0, E_SYN),
    ER("HELO", 0, E_SYN),
    ER("EHLO ", 0, E_SYN),
    ER("EHLO a b", 0, E_SYN),
    ER("EHLO a\tb", 0, E_SYN),
    ER("EHLO a\x01", 0, E_SYN),
    ER("LHLO \x7f", 0, E_SYN),
    ER("VRFY", 0, E_SYN),
    ER("EXPN   ", 0, E_SYN),
    ER("NOOP \x1b[0m", 0, E_SYN),
    ER("HELP \t", 0, E_SYN),
    ER("BDAT", 0, E_SYN),
    ER("BDAT x", 0, E_SYN),
    ER("BDAT -1", 0, E_SYN),
    ER("BDAT 1x", 0, E_SYN),
    ER("BDAT 1 FIRST", 0, E_SYN),
    ER("BDAT 1 LAST x", 0, E_SYN),
    ER("BDAT 1 LASTX", 0, E_SYN),
    ER("BDAT 18446744073709551616", 0, E_SYN),
    ER("BDAT 99999999999999999999999", 0, E_SYN),
    ER("AUTH", 0, E_SYN),
    ER("AUTH PL@IN", 0, E_SYN),
    ER("AUTH ABCDEFGHIJKLMNOPQRSTU", 0, E_SYN),
    ER("AUTH PLAIN abc", 0, E_SYN),
    ER("AUTH PLAIN ab=c", 0, E_SYN),
    ER("AUTH PLAIN ab==x", 0, E_SYN),
    ER("AUTH PLAIN a===", 0, E_SYN),
    ER("AUTH PLAIN ==", 0, E_SYN),
    ER("AUTH PLAIN ====", 0, E_SYN),
    ER("AUTH PLAIN =x", 0, E_SYN),
    ER("AUTH PLAIN abcd efgh", 0, E_SYN),
    ER("AUTH PLAIN ab!d", 0, E_SYN),

    /* injection attempts: a CR or LF inside a line never starts a command */
    ER("MAIL FROM:<a@b>\rRCPT TO:<c@d>", 0, E_SYN),
    ER("MAIL FROM:<a@b>\nRCPT TO:<c@d>", 0, E_SYN),
    ER("RCPT TO:<a@b\r>", 0, E_PATH),
    ER("RCPT TO:<a\r\n@b>", 0, E_PATH),
    ER("HELO x\rQUIT", 0, E_SYN),
    ER("NOOP \r\nQUIT", 0, E_SYN),
    ER("MAIL FROM:<a@b> SIZE=1\rRCPT", 0, E_PAR),
    ER("AUTH PLAIN abcd\r", 0, E_SYN),

    /* NUL wins over everything but the length */
    ERN("NOOP\0", 5, 0, E_NUL),
    ERN("\0", 1, 0, E_NUL),
    ERN("MAIL FROM:<a\0@b>", 16, 0, E_NUL),
    ERN("XYZZY\0", 6, 0, E_NUL),
    ERN("RCPT TO:<\xc3\xa9@x>\0", 16, 0, E_NUL),
    ERN("DATA\0foo", 8, 0, E_NUL),

    /* 8-bit bytes */
    OK("RCPT TO:<j\xc3\xb6s\xc3\xa9@ex\xc3\xa4mple.com>", U,
       "RCPT <j\\xc3\\xb6s\\xc3\\xa9@ex\\xc3\\xa4mple.com> l=[j\\xc3\\xb6s\\xc3\\xa9] "
       "d=[ex\\xc3\\xa4mple.com] utf8"),
    ER("RCPT TO:<j\xc3\xb6s\xc3\xa9@example.com>", 0, E_8BIT),
    ER("RCPT TO:<a@ex\xc3\xa4mple.com>", 0, E_8BIT),
    ER("RCPT TO:<\"\xc3\xa9\"@x>", 0, E_8BIT),
    OK("RCPT TO:<\"\xc3\xa9 x\"@x>", U, "RCPT <\"\\xc3\\xa9 x\"@x> l=[\"\\xc3\\xa9 x\"] d=[x] utf8"),
    OK("RCPT TO:<\xf0\x9f\x98\x80@x>", U, "RCPT <\\xf0\\x9f\\x98\\x80@x> l=[\\xf0\\x9f\\x98\\x80] d=[x] utf8"),
    OK("RCPT TO:<\xef\xbf\xbd@\xe4\xbe\x8b\xe3\x81\x88.jp>", U,
       "RCPT <\\xef\\xbf\\xbd@\\xe4\\xbe\\x8b\\xe3\\x81\\x88.jp> l=[\\xef\\xbf\\xbd] d=[\\xe4\\xbe\\x8b\\xe3\\x81\\x88.jp] utf8"),
    OK("MAIL FROM:<\xc3\xa9@x> SMTPUTF8", 0, "MAIL <\\xc3\\xa9@x> l=[\\xc3\\xa9] d=[x] utf8 SMTPUTF8"),
    OK("MAIL FROM:<\xc3\xa9@x> BODY=8BITMIME smtputf8", 0,
       "MAIL <\\xc3\\xa9@x> l=[\\xc3\\xa9] d=[x] utf8 BODY=8BITMIME smtputf8"),
    OK("MAIL FROM:<\xc3\xa9@x>", U, "MAIL <\\xc3\\xa9@x> l=[\\xc3\\xa9] d=[x] utf8"),
    OK("MAIL FROM:<a@x> ENVID=\xc3\xa9 SMTPUTF8", 0, "MAIL <a@x> l=[a] d=[x] ENVID=\\xc3\\xa9 SMTPUTF8"),
    ER("MAIL FROM:<\xc3\xa9@x>", 0, E_8BIT),
    ER("MAIL FROM:<\xc3\xa9@x> SIZE=1", 0, E_8BIT),
    ER("MAIL FROM:<a@x> ENVID=\xc3\xa9", 0, E_8BIT),
    ER("MAIL FROM:<\xc3\xa9@x> BAD=", 0, E_PAR), /* MAIL: parameters first */
    ER("MAIL FROM:<\xff@x>", 0, E_8BIT),
    ER("MAIL FROM:<\xff@x> SMTPUTF8", 0, E_PATH), /* malformed UTF-8 */
    ER("MAIL FROM:<\xc0\xaf@x>", U, E_PATH),      /* overlong '/' */
    ER("MAIL FROM:<\xe0\x80\xaf@x>", U, E_PATH),  /* overlong */
    ER("MAIL FROM:<\xf0\x80\x80\xaf@x>", U, E_PATH), /* overlong */
    ER("MAIL FROM:<\xed\xa0\x80@x>", U, E_PATH),  /* surrogate U+D800 */
    ER("MAIL FROM:<\xf4\x90\x80\x80@x>", U, E_PATH), /* above U+10FFFF */
    ER("MAIL FROM:<\xf5\x80\x80\x80@x>", U, E_PATH),
    ER("MAIL FROM:<\x80@x>", U, E_PATH),          /* lone continuation byte */
    ER("MAIL FROM:<a@x\xc3>", U, E_PATH),         /* truncated sequence */
    ER("MAIL FROM:<a@[1.2.3.\xc3\xa9]>", U, E_PATH),
    ER("MAIL FROM:<a@[1.2.3.\xc3\xa9]>", 0, E_8BIT),
    ER("MAIL FROM:<a@[IPv6:\xc3\xa9]>", 0, E_8BIT),
    ER("RCPT TO:<a@b> NOTIFY=\xc3\xa9", 0, E_8BIT),
    OK("RCPT TO:<a@b> ORCPT=utf-8;\xc3\xa9@x", U, "RCPT <a@b> l=[a] d=[b] ORCPT=utf-8;\\xc3\\xa9@x"),
    ER("RCPT TO:<a@b> \xc3\xa9", U, E_PAR),       /* never in a keyword */
    ER("RCPT TO:<a@b> \xc3\xa9", 0, E_8BIT),
    ER("EHLO h\xc3\xa9llo", 0, E_8BIT),
    OK("EHLO h\xc3\xa9llo", U, "EHLO arg=[h\\xc3\\xa9llo]"),
    ER("EHLO h\xc0\xafllo", U, E_SYN),
    OK("VRFY J\xc3\xb6rg", U, "VRFY arg=[J\\xc3\\xb6rg]"),
    ER("VRFY J\xc3\xb6rg", 0, E_8BIT),
    ER("NOOP \xff", U, E_SYN),
    ER("M\xc3\x81IL FROM:<a@b>", 0, E_8BIT),
    ER("M\xc3\x81IL FROM:<a@b>", U, E_8BIT),
    ER("DATA \xc3\xa9", U, E_8BIT),
    ER("AUTH PL\xc3\x81IN", U, E_8BIT),
    ER("BDAT 1\xc3\xa9", 0, E_8BIT),
    ER("MAIL FR\xc3\x96M:<a@b>", 0, E_8BIT),
};

TEST(parse_table)
{
    size_t i;
    test_log l = {0};
    for (i = 0; i < SMTPKIT_ARRAY_LEN(cases); i++) {
        const pcase *c = &cases[i];
        size_t len = c->len >= 0 ? (size_t)c->len : strlen(c->line);
        smtpkit_command cmd;
        int rc;
        memset(&cmd, 0xA5, sizeof cmd); /* nothing may rely on a zeroed struct */
        rc = smtpkit_command_parse(c->line, len, c->flags, &cmd);
        test_checks++;
        if (rc != c->err) {
            test_failures++;
            fprintf(stderr, "case %zu \"%s\" flags %u: rc %d (%s), expected %d\n", i, c->line,
                    c->flags, rc, smtpkit_strerror(rc), c->err);
            continue;
        }
        if (rc == 0 && c->expect) {
            test_log_reset(&l);
            fmt_cmd(&l, &cmd);
            test_checks++;
            if (strcmp(test_log_str(&l), c->expect) != 0) {
                test_failures++;
                fprintf(stderr, "case %zu \"%s\":\n   got %s\n  want %s\n", i, c->line, l.buf,
                        c->expect);
            }
        }
    }
    test_log_free(&l);
}

/* The RFC 5321 4.5.3.1 length limits. */
TEST(length_limits)
{
    char line[600], local[80], dom[300];
    smtpkit_command cmd;
    memset(local, 'l', sizeof local);
    memset(dom, 'd', sizeof dom);

    /* local part: 64 octets, not 65 */
    snprintf(line, sizeof line, "RCPT TO:<%.64s@x>", local);
    CHECK_INT(smtpkit_command_parse(line, strlen(line), 0, &cmd), 0);
    CHECK_INT(cmd.path.local.len, 64);
    snprintf(line, sizeof line, "RCPT TO:<%.65s@x>", local);
    CHECK_INT(smtpkit_command_parse(line, strlen(line), 0, &cmd), E_PATH);
    /* quoted: the quotes count */
    snprintf(line, sizeof line, "RCPT TO:<\"%.62s\"@x>", local);
    CHECK_INT(smtpkit_command_parse(line, strlen(line), 0, &cmd), 0);
    snprintf(line, sizeof line, "RCPT TO:<\"%.63s\"@x>", local);
    CHECK_INT(smtpkit_command_parse(line, strlen(line), 0, &cmd), E_PATH);
    /* mailbox 254 (path 256 with its brackets), not 255 */
    snprintf(line, sizeof line, "RCPT TO:<%.64s@%.63s.%.63s.%.61s>", local, dom, dom, dom);
    CHECK_INT(smtpkit_command_parse(line, strlen(line), 0, &cmd), 0);
    CHECK_INT(cmd.path.mailbox.len, 254);
    snprintf(line, sizeof line, "RCPT TO:<%.64s@%.63s.%.63s.%.62s>", local, dom, dom, dom);
    CHECK_INT(smtpkit_command_parse(line, strlen(line), 0, &cmd), E_PATH);
    CHECK_INT(smtpkit_mailbox_validate(line + 9, 255, 0), SMTPKIT_ERR_BAD_ADDRESS);
    CHECK_INT(smtpkit_mailbox_validate(line + 9, 254, 0), 0); /* one octet less: a shorter label */
    snprintf(line, sizeof line, "%.64s@%.63s.%.63s.%.61s", local, dom, dom, dom);
    CHECK_INT(smtpkit_mailbox_validate(line, 254, 0), 0);
    /* a route does not count towards the path */
    snprintf(line, sizeof line, "RCPT TO:<@%.200s:%.64s@%.63s.%.63s.%.61s>", dom, local, dom, dom,
             dom);
    CHECK_INT(smtpkit_command_parse(line, strlen(line), 0, &cmd), 0);
    CHECK(cmd.path.had_route);
    /* the line: 510 octets without CRLF, not 511 */
    memset(line, 'x', sizeof line);
    memcpy(line, "NOOP ", 5);
    CHECK_INT(smtpkit_command_parse(line, 510, 0, &cmd), 0);
    CHECK_INT(cmd.arg.len, 505);
    CHECK_INT(smtpkit_command_parse(line, 511, 0, &cmd), E_LONG);
    line[100] = '\0';
    CHECK_INT(smtpkit_command_parse(line, 511, 0, &cmd), E_LONG); /* length wins over NUL */
    CHECK_INT(smtpkit_command_parse(line, 510, 0, &cmd), E_NUL);
}

TEST(parse_arguments)
{
    smtpkit_command cmd;
    CHECK_INT(smtpkit_command_parse(NULL, 0, 0, &cmd), E_UNK);
    CHECK_INT(smtpkit_command_parse(NULL, 1, 0, &cmd), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_command_parse("QUIT", 4, 0, NULL), SMTPKIT_ERR_INVALID_ARG);
    /* views point into the line; the line need not be NUL-terminated */
    {
        char buf[] = "MAIL FROM:<a@b> SIZE=12XXXX";
        CHECK_INT(smtpkit_command_parse(buf, 23, 0, &cmd), 0);
        CHECK(cmd.path.mailbox.ptr == buf + 11);
        CHECK(cmd.path.local.ptr == buf + 11);
        CHECK(cmd.path.domain.ptr == buf + 13);
        CHECK_INT(cmd.nparams, 1);
        CHECK_VIEW(cmd.params[0].value, "12");
        CHECK_VIEW(cmd.verb_text, "MAIL");
        CHECK_VIEW(cmd.arg, "FROM:<a@b> SIZE=12");
    }
    CHECK_INT(smtpkit_command_parse("mail FROM:<>", 12, 0, &cmd), 0);
    CHECK_VIEW(cmd.verb_text, "mail");
    CHECK_INT(cmd.verb, SMTPKIT_VERB_MAIL);
    CHECK_INT(cmd.path.mailbox.len, 0);
    /* on error, a recognised verb is still reported */
    CHECK_INT(smtpkit_command_parse("RCPT TO:<>", 10, 0, &cmd), E_PATH);
    CHECK_INT(cmd.verb, SMTPKIT_VERB_RCPT);
    CHECK_INT(smtpkit_command_parse("FOO", 3, 0, &cmd), E_UNK);
    CHECK_INT(cmd.verb, SMTPKIT_VERB_UNKNOWN);
    CHECK_VIEW(cmd.verb_text, "FOO");
}

TEST(verb_names)
{
    static const char *const names[] = {"UNKNOWN", "HELO", "EHLO", "LHLO", "MAIL", "RCPT",
                                        "DATA",    "BDAT", "RSET", "VRFY", "EXPN", "HELP",
                                        "NOOP",    "QUIT", "STARTTLS", "AUTH"};
    int v;
    for (v = SMTPKIT_VERB_UNKNOWN; v <= SMTPKIT_VERB_AUTH; v++) {
        smtpkit_command cmd;
        CHECK_STR(smtpkit_verb_name((smtpkit_verb)v), names[v]);
        /* each name parses back to its verb */
        if (v != SMTPKIT_VERB_UNKNOWN) {
            smtpkit_command_parse(names[v], strlen(names[v]), 0, &cmd);
            CHECK_INT(cmd.verb, v);
        }
    }
    CHECK_STR(smtpkit_verb_name((smtpkit_verb)99), "UNKNOWN");
}

TEST(param_lookup)
{
    smtpkit_command cmd;
    const smtpkit_param *pa;
    const char *line = "MAIL FROM:<a@b> SIZE=10 body=8BITMIME SMTPUTF8";
    CHECK_INT(smtpkit_command_parse(line, strlen(line), 0, &cmd), 0);
    pa = smtpkit_command_param(&cmd, "size");
    CHECK(pa != NULL && pa->has_value);
    if (pa)
        CHECK_VIEW(pa->value, "10");
    pa = smtpkit_command_param(&cmd, "BODY");
    CHECK(pa != NULL);
    if (pa) {
        CHECK_VIEW(pa->key, "body");
        CHECK_VIEW(pa->value, "8BITMIME");
    }
    pa = smtpkit_command_param(&cmd, "SmtpUtf8");
    CHECK(pa != NULL && !pa->has_value);
    CHECK(smtpkit_command_param(&cmd, "RET") == NULL);
    CHECK(smtpkit_command_param(&cmd, "SIZ") == NULL);
    CHECK(smtpkit_command_param(&cmd, "SIZE=") == NULL);
    CHECK(smtpkit_command_param(NULL, "SIZE") == NULL);
    CHECK(smtpkit_command_param(&cmd, NULL) == NULL);
}

TEST(error_replies)
{
    static const struct {
        int err, code;
        const char *esc;
    } t[] = {
        {SMTPKIT_ERR_CMD_UNKNOWN, 500, "5.5.1"},   {SMTPKIT_ERR_CMD_SYNTAX, 501, "5.5.4"},
        {SMTPKIT_ERR_CMD_PATH, 501, "5.1.3"},      {SMTPKIT_ERR_CMD_PARAM, 555, "5.5.4"},
        {SMTPKIT_ERR_CMD_TOO_MANY_PARAMS, 555, "5.5.4"}, {SMTPKIT_ERR_LINE_TOO_LONG, 500, "5.5.6"},
        {SMTPKIT_ERR_NUL, 500, "5.5.2"},           {SMTPKIT_ERR_NON_ASCII, 553, "5.6.7"},
    };
    size_t i;
    int code = 0;
    const char *esc = NULL, *text = NULL;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(t); i++) {
        code = 0;
        esc = text = NULL;
        CHECK_INT(smtpkit_command_error_reply(t[i].err, &code, &esc, &text), 0);
        CHECK_INT(code, t[i].code);
        CHECK(esc != NULL && strcmp(esc, t[i].esc) == 0);
        CHECK(text != NULL && text[0] != '\0' && !strpbrk(text, "\r\n"));
        /* the enhanced code's class matches the reply's (RFC 3463 2) */
        CHECK(esc && esc[0] == '0' + code / 100);
    }
    CHECK_INT(smtpkit_command_error_reply(SMTPKIT_ERR_CMD_SYNTAX, NULL, NULL, NULL), 0);
    CHECK_INT(smtpkit_command_error_reply(0, &code, &esc, &text), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_command_error_reply(SMTPKIT_ERR_NOMEM, &code, &esc, &text),
              SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_command_error_reply(SMTPKIT_ERR_REPLY_CODE, &code, &esc, &text),
              SMTPKIT_ERR_INVALID_ARG);

    /* with the line: NON_ASCII in a path (RFC 6531 3.5) vs elsewhere */
    {
        static const struct {
            const char *line;
            unsigned flags;
            int code;
            const char *esc;
        } l[] = {
            {"RCPT TO:<\xc3\xa9@x>", 0, 553, "5.6.7"},
            {"MAIL FROM:<\xc3\xa9@x>", 0, 553, "5.6.7"},
            {"MAIL FROM:<a@x\xff>", 0, 553, "5.6.7"},
            {"MAIL FROM:<a@x> ENVID=\xc3\xa9", 0, 500, "5.5.2"},
            {"RCPT TO:<a@x> NOTIFY=\xc3\xa9", 0, 500, "5.5.2"},
            {"EHLO \xc3\xa9", 0, 500, "5.5.2"},
            {"\xc3\xa9HLO x", 0, 500, "5.5.2"},
            {"VRFY \xc3\xa9", 0, 500, "5.5.2"},
        };
        for (i = 0; i < SMTPKIT_ARRAY_LEN(l); i++) {
            smtpkit_command cmd;
            size_t n = strlen(l[i].line);
            CHECK_INT(smtpkit_command_parse(l[i].line, n, l[i].flags, &cmd), SMTPKIT_ERR_NON_ASCII);
            code = 0;
            CHECK_INT(smtpkit_command_error_reply_line(SMTPKIT_ERR_NON_ASCII, l[i].line, n,
                                                       l[i].flags, &code, &esc, &text), 0);
            CHECK_INT(code, l[i].code);
            CHECK_STR(esc, l[i].esc);
        }
        /* other errors do not depend on the line */
        CHECK_INT(smtpkit_command_error_reply_line(SMTPKIT_ERR_CMD_PATH, "x", 1, 0, &code, &esc,
                                                   &text), 0);
        CHECK_INT(code, 501);
        CHECK_INT(smtpkit_command_error_reply_line(SMTPKIT_ERR_LINE_TOO_LONG, NULL, 0, 0, &code,
                                                   &esc, &text), 0);
        CHECK_INT(code, 500);
        CHECK_INT(smtpkit_command_error_reply_line(-9999, "x", 1, 0, &code, &esc, &text),
                  SMTPKIT_ERR_INVALID_ARG);
    }
}

typedef struct vcase {
    const char *m;
    int len;
    int utf8;
    int err;
} vcase;

TEST(mailbox_validate)
{
    static const vcase v[] = {
        {"a@b", -1, 0, 0},
        {"user.name+tag@example.com", -1, 0, 0},
        {"\"john doe\"@example.com", -1, 0, 0},
        {"\"a\\\"b\"@x", -1, 0, 0},
        {"a@[192.0.2.1]", -1, 0, 0},
        {"a@[IPv6:2001:db8::1]", -1, 0, 0},
        {"a@[IPv6:::ffff:1.2.3.4]", -1, 0, 0},
        {"a@[tag:content]", -1, 0, 0},
        {"j\xc3\xb6rg@b\xc3\xbc" "cher.de", -1, 1, 0},
        {"j\xc3\xb6rg@b\xc3\xbc" "cher.de", -1, 0, SMTPKIT_ERR_NON_ASCII},
        {"a@b\xc3\xbc", -1, 0, SMTPKIT_ERR_NON_ASCII},
        {"\xc0\xaf@b", -1, 1, SMTPKIT_ERR_BAD_ADDRESS},
        {"\xc0\xaf@b", -1, 0, SMTPKIT_ERR_NON_ASCII},
        {"", -1, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"a", -1, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"postmaster", -1, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"@b", -1, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"a@", -1, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"a@b.", -1, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"a@b c", -1, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"a b@c", -1, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"a@b@c", -1, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"@r:a@b", -1, 0, SMTPKIT_ERR_BAD_ADDRESS}, /* no source routes on the wire */
        {"a@[1.2.3.256]", -1, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"a\tb@c", -1, 0, SMTPKIT_ERR_BAD_ADDRESS},
        {"a@b\r\nRCPT TO:<c@d", -1, 0, SMTPKIT_ERR_INJECTION},
        {"a@b\nDATA", -1, 0, SMTPKIT_ERR_INJECTION},
        {"a@b>", -1, 0, SMTPKIT_ERR_INJECTION},
        {"<a@b", -1, 0, SMTPKIT_ERR_INJECTION},
        {"a@b> SIZE=1", -1, 0, SMTPKIT_ERR_INJECTION},
        {"\"a>b\"@c", -1, 0, SMTPKIT_ERR_INJECTION},
        {"a@b\0c", 5, 0, SMTPKIT_ERR_INJECTION},
        {"a\xc3\xa9\r@b", -1, 0, SMTPKIT_ERR_INJECTION}, /* injection is checked first */
    };
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(v); i++) {
        size_t n = v[i].len >= 0 ? (size_t)v[i].len : strlen(v[i].m);
        int rc = smtpkit_mailbox_validate(v[i].m, n, v[i].utf8);
        test_checks++;
        if (rc != v[i].err) {
            test_failures++;
            fprintf(stderr, "validate #%zu \"%s\": %d, expected %d\n", i, v[i].m, rc, v[i].err);
        }
    }
    CHECK_INT(smtpkit_mailbox_validate(NULL, 0, 0), SMTPKIT_ERR_BAD_ADDRESS);
}

/* Every mailbox the table parses as a path also validates, and one that
 * fails with PATH in a RCPT fails validation: the grammar is shared. */
TEST(validate_agrees_with_parser)
{
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(cases); i++) {
        const pcase *c = &cases[i];
        size_t len = c->len >= 0 ? (size_t)c->len : strlen(c->line);
        smtpkit_command cmd;
        int rc = smtpkit_command_parse(c->line, len, c->flags, &cmd);
        if (rc == 0 && (cmd.verb == SMTPKIT_VERB_MAIL || cmd.verb == SMTPKIT_VERB_RCPT) &&
            !cmd.path.is_null && !cmd.path.is_postmaster) {
            CHECK_INT(smtpkit_mailbox_validate(cmd.path.mailbox.ptr, cmd.path.mailbox.len,
                                               cmd.path.utf8), 0);
        }
    }
}

/* ------------------------------------------------------------ push parser */

typedef struct push_opts {
    unsigned flags;
    size_t max_line;
    int pause_every;    /* return SMTPKIT_PAUSE from every callback */
    int utf8_after_mail; /* set SMTPKIT_CMD_UTF8 after MAIL ... SMTPUTF8 */
} push_opts;

typedef struct push_state {
    test_log *log;
    smtpkit_command_parser *p;
    const push_opts *o;
    const char *in;
    size_t in_len;
} push_state;

/* Views must lie within the caller's input or the parser's own buffer. */
static int view_ok(const push_state *s, smtpkit_view v)
{
    const char *b = s->p->_buf;
    if (v.len == 0 || !s->in)
        return 1;
    if (v.ptr >= s->in && v.ptr + v.len <= s->in + s->in_len)
        return 1;
    return v.ptr >= b && v.ptr + v.len <= b + sizeof s->p->_buf;
}

static int push_on_command(void *user, const smtpkit_command *c, smtpkit_view line)
{
    push_state *s = (push_state *)user;
    CHECK(view_ok(s, line));
    CHECK(c->path.mailbox.len == 0 ||
          (c->path.mailbox.ptr >= line.ptr &&
           c->path.mailbox.ptr + c->path.mailbox.len <= line.ptr + line.len));
    test_log_add(s->log, "C:");
    fmt_cmd(s->log, c);
    test_log_add(s->log, "\n");
    if (s->o->utf8_after_mail && c->verb == SMTPKIT_VERB_MAIL &&
        smtpkit_command_param(c, "SMTPUTF8"))
        smtpkit_command_parser_set_flags(s->p, smtpkit_command_parser_flags(s->p) | U);
    if (s->o->utf8_after_mail && c->verb == SMTPKIT_VERB_RSET)
        smtpkit_command_parser_set_flags(s->p, smtpkit_command_parser_flags(s->p) & ~(unsigned)U);
    return s->o->pause_every ? SMTPKIT_PAUSE : 0;
}

static int push_on_error(void *user, int err, smtpkit_view line)
{
    push_state *s = (push_state *)user;
    CHECK(view_ok(s, line));
    test_log_add(s->log, "E%d:", err);
    test_log_bytes(s->log, line.ptr, line.len);
    test_log_add(s->log, "\n");
    return s->o->pause_every ? SMTPKIT_PAUSE : 0;
}

static const smtpkit_command_callbacks push_cb = {push_on_command, push_on_error};

static void push_run(const char *input, size_t len, const size_t *cuts, size_t ncuts,
                     test_log *log, void *ctx)
{
    smtpkit_command_parser p;
    push_state s;
    size_t k, start = 0;
    s.log = log;
    s.p = &p;
    s.o = (const push_opts *)ctx;
    s.in = input;
    s.in_len = len;
    smtpkit_command_parser_init(&p, &push_cb, &s);
    smtpkit_command_parser_set_flags(&p, s.o->flags);
    if (s.o->max_line)
        smtpkit_command_parser_set_max_line(&p, s.o->max_line);
    for (k = 0; k <= ncuts; k++) {
        size_t stop = k < ncuts ? cuts[k] : len;
        while (start < stop) {
            smtpkit_ssize r = smtpkit_command_parser_feed(&p, input + start, stop - start);
            if (r < 0) {
                test_log_add(log, "F%d\n", (int)r);
                return;
            }
            start += (size_t)r;
            if (p._paused) {
                /* feeding while paused is refused and consumes nothing */
                CHECK_INT(smtpkit_command_parser_feed(&p, input + start, stop - start),
                          SMTPKIT_ERR_PAUSED);
                CHECK_INT(smtpkit_command_parser_resume(&p), 0);
            } else {
                CHECK(start == stop);
            }
        }
    }
    test_log_add(log, "pending=%zu\n", smtpkit_command_parser_pending(&p));
}

static void push_expect(const char *input, size_t len, const push_opts *o, const char *expect)
{
    push_opts plain = *o, paused = *o;
    test_log l = test_split_all(input, len, push_run, &plain);
    test_checks++;
    if (strcmp(test_log_str(&l), expect) != 0) {
        test_failures++;
        fprintf(stderr, "[%s] push log:\n%s--- expected:\n%s", test_current, l.buf, expect);
    }
    test_log_free(&l);
    /* pausing at every line changes nothing but the pace */
    paused.pause_every = 1;
    l = test_split_all(input, len, push_run, &paused);
    test_checks++;
    if (strcmp(test_log_str(&l), expect) != 0) {
        test_failures++;
        fprintf(stderr, "[%s] push log (paused):\n%s--- expected:\n%s", test_current, l.buf,
                expect);
    }
    test_log_free(&l);
}

#define PUSH(input, opts, expect) push_expect(input, sizeof(input) - 1, opts, expect)

TEST(push_transaction)
{
    static const push_opts o = {0, 0, 0, 0};
    PUSH("EHLO client.example\r\n"
         "MAIL FROM:<alice@example.org> SIZE=1234 BODY=8BITMIME\r\n"
         "RCPT TO:<bob@example.net> NOTIFY=SUCCESS,FAILURE\r\n"
         "RCPT TO:<Postmaster>\r\n"
         "DATA\r\n"
         "QUIT\r\n",
         &o,
         "C:EHLO arg=[client.example]\n"
         "C:MAIL <alice@example.org> l=[alice] d=[example.org] SIZE=1234 BODY=8BITMIME\n"
         "C:RCPT <bob@example.net> l=[bob] d=[example.net] NOTIFY=SUCCESS,FAILURE\n"
         "C:RCPT <Postmaster> postmaster\n"
         "C:DATA\n"
         "C:QUIT\n"
         "pending=0\n");
}

TEST(push_errors_and_line_ends)
{
    static const push_opts o = {0, 0, 0, 0};
    /* bare LF ends a command line; a CR elsewhere stays in the line */
    PUSH("NOOP\nHELO x\r\nFOO bar\r\n\r\nDATA x\r\nRCPT TO:<a\rb@c>\r\nQUIT\r\r\nRSET\n",
         &o,
         "C:NOOP\n"
         "C:HELO arg=[x]\n"
         "E-26:FOO bar\n"
         "E-26:\n"
         "E-27:DATA x\n"
         "E-28:RCPT TO:<a\\rb@c>\n"
         "E-26:QUIT\\r\n"
         "C:RSET\n"
         "pending=0\n");
    /* NUL, 8-bit, parameters */
    PUSH("NOOP \0x\r\nRCPT TO:<\xc3\xa9@x>\r\nMAIL FROM:<a@b> SIZE=\r\nNOOP\r\n", &o,
         "E-21:NOOP \\x00x\n"
         "E-22:RCPT TO:<\\xc3\\xa9@x>\n"
         "E-29:MAIL FROM:<a@b> SIZE=\n"
         "C:NOOP\n"
         "pending=0\n");
    /* a partial line at the end is kept */
    PUSH("NOOP\r\nQUI", &o, "C:NOOP\npending=3\n");
    PUSH("NOOP\r\nQUIT\r", &o, "C:NOOP\npending=5\n");
}

TEST(push_smtputf8_flag_changes_between_lines)
{
    static const push_opts o = {0, 0, 0, 1};
    PUSH("RCPT TO:<\xc3\xa9@x>\r\n"
         "MAIL FROM:<\xc3\xa9@x> SMTPUTF8\r\n"
         "RCPT TO:<\xc3\xa9@x>\r\n"
         "RSET\r\n"
         "RCPT TO:<\xc3\xa9@x>\r\n",
         &o,
         "E-22:RCPT TO:<\\xc3\\xa9@x>\n"
         "C:MAIL <\\xc3\\xa9@x> l=[\\xc3\\xa9] d=[x] utf8 SMTPUTF8\n"
         "C:RCPT <\\xc3\\xa9@x> l=[\\xc3\\xa9] d=[x] utf8\n"
         "C:RSET\n"
         "E-22:RCPT TO:<\\xc3\\xa9@x>\n"
         "pending=0\n");
    {
        static const push_opts lenient = {LS, 0, 0, 0};
        PUSH("MAIL FROM: <a@b>\r\n", &lenient, "C:MAIL <a@b> l=[a] d=[b]\npending=0\n");
    }
}

TEST(push_over_long_lines)
{
    /* max 16 with CRLF: 14 octets of text */
    static const push_opts o = {0, 16, 0, 0};
    PUSH("NOOP 123456789\r\n"      /* 14: fits */
         "NOOP 1234567890\r\n"     /* 15: too long */
         "NOOP 123456789\n"        /* 14 + LF: fits */
         "NOOP 1234567890\n"       /* 15 + LF: too long */
         "NOOP 12345678\r\r\n"     /* 13 + CR: 14, fits the length, then the CR is bad */
         "NOOP 123456789\r\r\n"    /* 14 + CR: too long */
         "QUIT\r\n",
         &o,
         "C:NOOP arg=[123456789]\n"
         "E-20:\n"
         "C:NOOP arg=[123456789]\n"
         "E-20:\n"
         "E-27:NOOP 12345678\\r\n"
         "E-20:\n"
         "C:QUIT\n"
         "pending=0\n");
    /* the rest of an over-long line is never executed, even after a CR;
     * and the error comes once per line, however long it is */
    PUSH("NOOP aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\rQUIT\r\nRSET aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nNOOP\r\n",
         &o, "E-20:\nE-20:\nC:NOOP\npending=0\n");
    /* an over-long line still in progress: reported, nothing pending */
    PUSH("NOOP\r\nMAIL FROM:<aaaaaaaaaaaaaaaaaaaaaa", &o, "C:NOOP\nE-20:\npending=0\n");
    {
        /* the default: 512 with CRLF (RFC 5321 4.5.3.1.4) */
        static push_opts d = {0, 0, 0, 0};
        char in[1200];
        size_t n;
        memset(in, 'a', sizeof in);
        memcpy(in, "NOOP ", 5);
        memcpy(in + 510, "\r\nNOOP ", 7);
        memset(in + 517, 'b', 506);
        n = 517 + 506;
        memcpy(in + n, "\r\nQUIT\r\n", 8);
        n += 8;
        {
            test_log l = test_split_all(in, n, push_run, &d);
            char want[700];
            snprintf(want, sizeof want, "C:NOOP arg=[%.505s]\nE-20:\nC:QUIT\npending=0\n",
                     in + 5);
            CHECK_STR(test_log_str(&l), want);
            test_log_free(&l);
        }
    }
}

/* Pause and resume by hand: counts, refusal while paused. */
TEST(push_pause_resume)
{
    static const push_opts o = {0, 0, 1, 0};
    smtpkit_command_parser p;
    test_log log = {0};
    push_state s;
    const char *in = "NOOP\r\nRSET\r\nQUI";
    s.log = &log;
    s.p = &p;
    s.o = &o;
    s.in = NULL; /* fed from several literals below */
    s.in_len = 0;
    smtpkit_command_parser_init(&p, &push_cb, &s);
    CHECK_INT(smtpkit_command_parser_resume(&p), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_command_parser_feed(&p, in, 15), 6);
    CHECK_STR(test_log_str(&log), "C:NOOP\n");
    CHECK_INT(smtpkit_command_parser_feed(&p, in + 6, 9), SMTPKIT_ERR_PAUSED);
    CHECK_INT(smtpkit_command_parser_resume(&p), 0);
    CHECK_INT(smtpkit_command_parser_resume(&p), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_command_parser_feed(&p, in + 6, 9), 6);
    CHECK_STR(log.buf, "C:NOOP\nC:RSET\n");
    CHECK_INT(smtpkit_command_parser_resume(&p), 0);
    CHECK_INT(smtpkit_command_parser_feed(&p, in + 12, 3), 3);
    CHECK_INT(smtpkit_command_parser_pending(&p), 3);
    /* the line that completes from the buffer pauses too */
    CHECK_INT(smtpkit_command_parser_feed(&p, "T\r\nNOOP\r\n", 9), 3);
    CHECK_STR(log.buf, "C:NOOP\nC:RSET\nC:QUIT\n");
    CHECK_INT(smtpkit_command_parser_resume(&p), 0);
    /* an over-long line reported early pauses with what was read of it */
    smtpkit_command_parser_set_max_line(&p, 10);
    CHECK_INT(smtpkit_command_parser_feed(&p, "NOOP 123456789", 14), 14);
    CHECK_STR(log.buf, "C:NOOP\nC:RSET\nC:QUIT\nE-20:\n");
    CHECK_INT(smtpkit_command_parser_resume(&p), 0);
    CHECK_INT(smtpkit_command_parser_feed(&p, "0\r\nQUIT\r\n", 9), 9);
    CHECK_STR(log.buf, "C:NOOP\nC:RSET\nC:QUIT\nE-20:\nC:QUIT\n");
    test_log_free(&log);
}

static int abort_on_quit(void *user, const smtpkit_command *c, smtpkit_view line)
{
    (void)line;
    (*(int *)user)++;
    return c->verb == SMTPKIT_VERB_QUIT ? -5 : 0;
}

static int abort_on_error(void *user, int err, smtpkit_view line)
{
    (void)err;
    (void)line;
    (*(int *)user)++;
    return -1;
}

TEST(push_callback_abort_is_sticky)
{
    static const smtpkit_command_callbacks cb = {abort_on_quit, NULL};
    static const smtpkit_command_callbacks cb2 = {NULL, abort_on_error};
    smtpkit_command_parser p;
    int calls = 0;
    smtpkit_command_parser_init(&p, &cb, &calls);
    CHECK_INT(smtpkit_command_parser_feed(&p, "NOOP\r\nQUIT\r\nNOOP\r\n", 18), SMTPKIT_ERR_CALLBACK);
    CHECK_INT(calls, 2);
    CHECK_INT(smtpkit_command_parser_error(&p), SMTPKIT_ERR_CALLBACK);
    CHECK_INT(smtpkit_command_parser_feed(&p, "NOOP\r\n", 6), SMTPKIT_ERR_CALLBACK);
    CHECK_INT(calls, 2);
    /* init clears it; NULL callbacks mean "not interested" */
    smtpkit_command_parser_init(&p, &cb2, &calls);
    CHECK_INT(smtpkit_command_parser_error(&p), 0);
    CHECK_INT(smtpkit_command_parser_feed(&p, "NOOP\r\nQUIT\r\n", 12), 12);
    CHECK_INT(calls, 2);
    CHECK_INT(smtpkit_command_parser_feed(&p, "BAD\r\nQUIT\r\n", 11), SMTPKIT_ERR_CALLBACK);
    CHECK_INT(calls, 3);
    smtpkit_command_parser_init(&p, NULL, NULL);
    CHECK_INT(smtpkit_command_parser_feed(&p, "BAD\r\nQUIT\r\n", 11), 11);
    CHECK_INT(smtpkit_command_parser_feed(NULL, "x", 1), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_command_parser_feed(&p, NULL, 1), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_command_parser_feed(&p, NULL, 0), 0);
}

/* STARTTLS (CVE-2011-0411): reset() from the callback drops the rest of
 * the input given to that feed; reset() outside drops a partial line. */
typedef struct tls_state {
    smtpkit_command_parser *p;
    test_log log;
} tls_state;

static int tls_on_command(void *user, const smtpkit_command *c, smtpkit_view line)
{
    tls_state *s = (tls_state *)user;
    test_log_bytes(&s->log, line.ptr, line.len);
    test_log_add(&s->log, "|");
    if (c->verb == SMTPKIT_VERB_STARTTLS)
        smtpkit_command_parser_reset(s->p);
    return 0;
}

TEST(push_reset)
{
    static const smtpkit_command_callbacks cb = {tls_on_command, NULL};
    smtpkit_command_parser p;
    tls_state s = {0};
    const char *in = "EHLO x\r\nSTARTTLS\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<a@b>\r\nDA";
    s.p = &p;
    smtpkit_command_parser_init(&p, &cb, &s);
    CHECK_INT(smtpkit_command_parser_feed(&p, in, strlen(in)), (long long)strlen(in));
    CHECK_STR(test_log_str(&s.log), "EHLO x|STARTTLS|");
    CHECK_INT(smtpkit_command_parser_pending(&p), 0);
    /* after the handshake, the next feed starts clean */
    CHECK_INT(smtpkit_command_parser_feed(&p, "EHLO y\r\n", 8), 8);
    CHECK_STR(s.log.buf, "EHLO x|STARTTLS|EHLO y|");
    /* outside a callback: drops the partial line, and only that */
    CHECK_INT(smtpkit_command_parser_feed(&p, "MAIL FROM:<evil", 15), 15);
    CHECK_INT(smtpkit_command_parser_pending(&p), 15);
    smtpkit_command_parser_reset(&p);
    CHECK_INT(smtpkit_command_parser_pending(&p), 0);
    CHECK_INT(smtpkit_command_parser_feed(&p, "@x>\r\nNOOP\r\n", 11), 11);
    CHECK_STR(s.log.buf, "EHLO x|STARTTLS|EHLO y|NOOP|");
    /* reset also ends the skipping of an over-long line */
    smtpkit_command_parser_set_max_line(&p, 8);
    CHECK_INT(smtpkit_command_parser_feed(&p, "NOOP 12345", 10), 10);
    smtpkit_command_parser_reset(&p);
    CHECK_INT(smtpkit_command_parser_feed(&p, "QUIT\r\n", 6), 6);
    CHECK_STR(s.log.buf, "EHLO x|STARTTLS|EHLO y|NOOP|QUIT|");
    test_log_free(&s.log);
}

TEST(push_set_max_line_clamps)
{
    smtpkit_command_parser p;
    smtpkit_command_parser_init(&p, NULL, NULL);
    CHECK_INT(p._max_line, SMTPKIT_COMMAND_LINE_MAX);
    smtpkit_command_parser_set_max_line(&p, 100000);
    CHECK_INT(p._max_line, SMTPKIT_COMMAND_LINE_MAX);
    smtpkit_command_parser_set_max_line(&p, 0);
    CHECK_INT(p._max_line, 8);
    smtpkit_command_parser_set_max_line(&p, 64);
    CHECK_INT(p._max_line, 64);
    smtpkit_command_parser_set_flags(&p, U | LS);
    CHECK_INT(smtpkit_command_parser_flags(&p), U | LS);
    smtpkit_command_parser_set_max_line(NULL, 64);
    smtpkit_command_parser_set_flags(NULL, 0);
    smtpkit_command_parser_reset(NULL);
    CHECK_INT(smtpkit_command_parser_pending(NULL), 0);
}

static int count_cmd(void *user, const smtpkit_command *c, smtpkit_view line)
{
    (void)c;
    (void)line;
    (*(size_t *)user)++;
    return 0;
}

static int count_err(void *user, int err, smtpkit_view line)
{
    (void)err;
    (void)line;
    (*(size_t *)user) += 1000;
    return 0;
}

TEST(no_allocations)
{
    static const char conv[] =
        "EHLO client.example\r\nMAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME\r\n"
        "RCPT TO:<\"x y\"@[IPv6:2001:db8::1]> NOTIFY=NEVER\r\nRCPT TO:<Postmaster>\r\n"
        "DATA\r\nRSET\r\nBDAT 10 LAST\r\nAUTH PLAIN =\r\nBAD\r\nNOOP\nQUIT\r\n";
    static const smtpkit_command_callbacks cb = {count_cmd, count_err};
    smtpkit_command_parser p;
    smtpkit_command cmd;
    size_t n = 0, i, before;
    void *volatile probe; /* volatile: the compiler may not elide the pair */
    if (!alloc_counter_install()) {
        fprintf(stderr, "no allocation counter on this platform\n");
        return;
    }
    /* positive control: the counter sees an allocation */
    before = g_allocs;
    probe = malloc(32);
    CHECK(g_allocs > before);
    free(probe);

    before = g_allocs;
    smtpkit_command_parser_init(&p, &cb, &n);
    for (i = 0; i < 100; i++) {
        size_t k;
        CHECK_INT(smtpkit_command_parser_feed(&p, conv, sizeof conv - 1), sizeof conv - 1);
        for (k = 0; k + 7 <= sizeof conv - 1; k += 7) /* and split */
            smtpkit_command_parser_feed(&p, conv + k, 7);
        smtpkit_command_parser_feed(&p, conv + k, sizeof conv - 1 - k);
    }
    smtpkit_command_parse("RCPT TO:<a@b>", 13, 0, &cmd);
    smtpkit_mailbox_validate("a@b", 3, 0);
    CHECK_INT(g_allocs - before, 0);
    CHECK_INT(n, 200 * 1010);
}

int main(void)
{
    RUN(parse_table);
    RUN(length_limits);
    RUN(parse_arguments);
    RUN(verb_names);
    RUN(param_lookup);
    RUN(error_replies);
    RUN(mailbox_validate);
    RUN(validate_agrees_with_parser);
    RUN(push_transaction);
    RUN(push_errors_and_line_ends);
    RUN(push_smtputf8_flag_changes_between_lines);
    RUN(push_over_long_lines);
    RUN(push_pause_resume);
    RUN(push_callback_abort_is_sticky);
    RUN(push_reset);
    RUN(push_set_max_line_clamps);
    RUN(no_allocations);
    return test_summary();
}
