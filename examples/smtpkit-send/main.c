/* smtpkit-send: send a message as is, like sendmail/msmtp, with smtpkit_send().
 *
 *   smtpkit-send --server HOST[:PORT] [--starttls|--tls] [--auth USER:PASS | --auth-file F]
 *                [--auth-mech PLAIN|LOGIN|CRAM-MD5|XOAUTH2]
 *                [--helo NAME] --from ADDR --to ADDR [--to ADDR ...]
 *                [--timeout SECONDS] [-v] [-t] [--lmtp] [FILE] < message
 *
 * Exit status (sysexits): 0 accepted for every recipient; 64 bad command
 * line; 65 bad address or header; 66 message unreadable; 69 permanent
 * failure (5xx, or a feature not built in); 75 temporary failure (4xx,
 * connection, timeout, TLS). See docs/sending.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "compose.h"
#include "send_tool.h"
#include "smtpkit/posix_client.h"
#include "smtpkit/posix_file.h"
#include "smtpkit/smtpkit.h"

static const char usage_text[] =
    "usage: smtpkit-send --server HOST[:PORT] [--starttls|--tls]\n"
    "                    [--auth USER:PASS | --auth-file FILE] [--auth-mech MECH]\n"
    "                    [--helo NAME] --from ADDR --to ADDR [--to ADDR ...]\n"
    "                    [--timeout SECONDS] [-v] [-t] [--lmtp] [FILE] < message\n"
    "\n"
    "Sends the message (from FILE or standard input) as is: line ends are\n"
    "normalised to CRLF and lines starting with '.' are doubled on the wire.\n"
    "\n"
    "  --server HOST[:PORT]  server; IPv6 as [::1]:2525; port 25 (465 with --tls)\n"
    "  --starttls            require STARTTLS (RFC 3207)\n"
    "  --tls                 implicit TLS from the first byte (RFC 8314)\n"
    "  --cafile FILE         trusted CAs for TLS (default: the system's)\n"
    "  --insecure            TLS without certificate checks (tests only!)\n"
    "  --auth USER:PASS      authenticate (needs --starttls or --tls)\n"
    "  --auth-file FILE      USER:PASS from the first line of FILE (keeps the\n"
    "                        password out of the process list)\n"
    "  --auth-mech MECH      PLAIN, LOGIN, CRAM-MD5 or XOAUTH2 (PASS is then the\n"
    "                        OAuth 2.0 bearer token); default: the best offered\n"
    "  --helo NAME           name for EHLO (default: this host's domain name)\n"
    "  --from ADDR           envelope sender; \"\" for the null sender <>\n"
    "  --to ADDR             envelope recipient (repeatable)\n"
    "  -t                    recipients also from To/Cc/Bcc (Resent-To/Cc/Bcc\n"
    "                        when resending); Bcc and Resent-Bcc are removed\n"
    "  --lmtp                speak LMTP (RFC 2033)\n"
    "  --bdat                use BDAT when the server offers CHUNKING\n"
    "  --no-pipelining       one command at a time even if PIPELINING is offered\n"
    "  --timeout SECONDS     connect timeout and limit on every wait\n"
    "  -v                    show the conversation on standard error\n"
    "  --help, --version\n"
    "\n"
    "Prints one line per recipient with the server's reply, then the reply to\n"
    "the message. Exit status: 0 accepted for every recipient, 75 temporary\n"
    "failure (4xx, connection, timeout), 69 permanent failure (5xx, or TLS not\n"
    "built in), 65 bad address or header, 66 unreadable input, 64 usage.\n";

static const char *prog = "smtpkit-send";

static int usage_error(const char *msg, const char *arg)
{
    if (arg)
        fprintf(stderr, "%s: %s: %s\n", prog, msg, arg);
    else
        fprintf(stderr, "%s: %s\n", prog, msg);
    fprintf(stderr, "Try '%s --help'.\n", prog);
    return EXIT_USAGE;
}

/* ---- -v: the conversation on stderr -------------------------------------- */

static void print_view(FILE *f, const char *prefix, const char *p, size_t n)
{
    size_t i;
    fputs(prefix, f);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('\n', f);
}

static int v_line(void *u, const smtpkit_reply_line *l)
{
    (void)u;
    print_view(stderr, "S: ", l->raw.ptr, l->raw.len);
    return 0;
}

static int v_command(void *u, const smtpkit_client_command *cmd)
{
    (void)u;
    if (cmd->cmd == SMTPKIT_CLIENT_CMD_BODY) {
        /* the body is not dumped line by line */
        fprintf(stderr, "C: <%llu bytes of message>\n", (unsigned long long)cmd->body_bytes);
    } else if (cmd->cmd == SMTPKIT_CLIENT_CMD_BDAT) {
        print_view(stderr, "C: ", cmd->line.ptr, cmd->line.len);
        fprintf(stderr, "C: <%llu bytes of message>\n", (unsigned long long)cmd->body_bytes);
        return 0;
    }
    print_view(stderr, "C: ", cmd->line.ptr, cmd->line.len);
    return 0;
}

static int v_starttls(void *u)
{
    (void)u;
    fputs("-- TLS handshake\n", stderr);
    return 0;
}

static const smtpkit_client_callbacks verbose_cb = {
    SMTPKIT_CLIENT_VERSION, v_line, NULL, v_command, NULL, NULL, NULL, v_starttls, NULL};

/* ---- results ----------------------------------------------------------------- */

static void print_reply(const char *who, const smtpkit_send_reply *r)
{
    printf("%s: %d%s%s%s%s\n", who, r->code, r->esc[0] ? " " : "", r->esc,
           r->text[0] ? " " : "", r->text);
}

/* 4xx is temporary, 5xx permanent (RFC 5321 4.2.1). */
static int class_exit(int code) { return code >= 400 && code < 500 ? EXIT_TEMPFAIL : EXIT_UNAVAILABLE; }

static int error_exit(int err, int code)
{
    switch (err) {
    case SMTPKIT_ERR_INJECTION:
    case SMTPKIT_ERR_BAD_ADDRESS:
    case SMTPKIT_ERR_LINE_TOO_LONG:
    case SMTPKIT_ERR_INVALID_ARG:
        return EXIT_DATAERR;
    case SMTPKIT_ERR_CONNECT:
    case SMTPKIT_ERR_CLOSED:
    case SMTPKIT_ERR_TIMEOUT:
    case SMTPKIT_ERR_IO:
    case SMTPKIT_ERR_TLS:
    case SMTPKIT_ERR_PROTOCOL:
        return code ? class_exit(code) : EXIT_TEMPFAIL;
    case SMTPKIT_ERR_NOMEM:
    case SMTPKIT_ERR_INTERNAL:
        return EXIT_SOFTWARE;
    default:
        /* refusals: by the reply when there is one (421 greeting, 454 TLS
         * or AUTH are temporary), otherwise permanent (SIZE, 8BITMIME,
         * SMTPUTF8, TLS required, AUTH not offered, not built in) */
        return code ? class_exit(code) : EXIT_UNAVAILABLE;
    }
}

/* ---- the message ------------------------------------------------------------- */

/* A message on a pipe has no size and cannot be read twice. Copied to an
 * unlinked temporary file (memory stays constant) it has both, so the
 * session can declare SIZE= (RFC 1870 5), refuse before MAIL a message over
 * the server's SIZE, and scan for 8-bit data before it chooses BODY= (RFC
 * 6152; RFC 5321 2.4: no 8-bit data to a server without 8BITMIME). A
 * regular file read from its start is used as it is. Returns the fd to read
 * from, or -EXIT_* with `err` set. */
static int spool_input(int fd, char *err, size_t errlen)
{
    struct stat st;
    char path[4096];
    const char *dir = getenv("TMPDIR");
    static char buf[65536];
    int t;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_CUR) == 0)
        return fd;
    if (!dir || !*dir || strlen(dir) > sizeof path - 32)
        dir = "/tmp";
    snprintf(path, sizeof path, "%s/smtpkit-send.XXXXXX", dir);
    t = mkstemp(path);
    if (t < 0) {
        snprintf(err, errlen, "cannot make a temporary file in %s: %s", dir, strerror(errno));
        return -EXIT_TEMPFAIL;
    }
    unlink(path);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf), w = 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "cannot read the message: %s", strerror(errno));
            close(t);
            return -EXIT_NOINPUT;
        }
        if (n == 0)
            break;
        while (w < n) {
            ssize_t k = write(t, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                snprintf(err, errlen, "cannot write a temporary file in %s: %s", dir,
                         k < 0 ? strerror(errno) : "short write");
                close(t);
                return -EXIT_TEMPFAIL;
            }
            w += k;
        }
    }
    if (lseek(t, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "cannot rewind a temporary file: %s", strerror(errno));
        close(t);
        return -EXIT_TEMPFAIL;
    }
    return t;
}

/* ---- command line ------------------------------------------------------------ */

typedef struct args {
    const char *server, *from, *helo, *file, *auth, *cafile, *auth_file, *auth_mech;
    addr_list to;
    int starttls, tls, insecure, verbose, extract, lmtp, bdat, no_pipelining;
    double timeout;
    compose comp; /* --subject, --text, --attach, ... (compose.c) */
} args;

static int split_server(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon = NULL, *h = s;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close == s + 1)
            return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        if (close[1] == ':')
            colon = close + 1;
        else if (close[1])
            return -1;
    } else {
        colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':'))
            colon = NULL; /* a bare IPv6 address, no port */
        hlen = colon ? (size_t)(colon - s) : strlen(s);
    }
    if (hlen == 0 || hlen >= hostlen)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = 0;
    *port = 0;
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || p < 1 || p > 65535)
            return -1;
        *port = (uint16_t)p;
    }
    return 0;
}

/* "--opt value" or "--opt=value" */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (strcmp(argv[*i], name) == 0 && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static int is_opt(const char *a, const char *name)
{
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == 0 || a[n] == '=');
}

/* "<a@b>" is taken as "a@b" (what people type); anything else as given. */
static const char *strip_brackets(const char *a, char *buf, size_t len)
{
    size_t n = strlen(a);
    if (n >= 2 && a[0] == '<' && a[n - 1] == '>' && n - 2 < len) {
        memcpy(buf, a + 1, n - 2);
        buf[n - 2] = 0;
        return buf;
    }
    return a;
}

static int parse_args(int argc, char **argv, args *a)
{
    int i, r;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(usage_text, stdout);
            fputs(compose_help, stdout);
            exit(0);
        } else if (!strcmp(arg, "--version")) {
            printf("smtpkit-send %s\n", smtpkit_version());
            exit(0);
        } else if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
            a->verbose = 1;
        } else if (!strcmp(arg, "-t")) {
            a->extract = 1;
        } else if (!strcmp(arg, "--starttls")) {
            a->starttls = 1;
        } else if (!strcmp(arg, "--tls")) {
            a->tls = 1;
        } else if (!strcmp(arg, "--insecure")) {
            a->insecure = 1;
        } else if (!strcmp(arg, "--lmtp")) {
            a->lmtp = 1;
        } else if (!strcmp(arg, "--bdat")) {
            a->bdat = 1;
        } else if (!strcmp(arg, "--no-pipelining")) {
            a->no_pipelining = 1;
        } else if (is_opt(arg, "--server")) {
            if (!(v = opt_value(argc, argv, &i, "--server")))
                return usage_error("missing value for", arg);
            a->server = v;
        } else if (is_opt(arg, "--from")) {
            if (!(v = opt_value(argc, argv, &i, "--from")))
                return usage_error("missing value for", arg);
            a->from = v;
        } else if (is_opt(arg, "--to")) {
            if (!(v = opt_value(argc, argv, &i, "--to")))
                return usage_error("missing value for", arg);
            if (addr_list_add(&a->to, v, strlen(v)) != 0)
                return EXIT_SOFTWARE;
        } else if (is_opt(arg, "--helo")) {
            if (!(v = opt_value(argc, argv, &i, "--helo")))
                return usage_error("missing value for", arg);
            a->helo = v;
        } else if (is_opt(arg, "--auth")) {
            if (!(v = opt_value(argc, argv, &i, "--auth")))
                return usage_error("missing value for", arg);
            a->auth = v;
        } else if (is_opt(arg, "--auth-file")) {
            if (!(v = opt_value(argc, argv, &i, "--auth-file")))
                return usage_error("missing value for", arg);
            a->auth_file = v;
        } else if (is_opt(arg, "--auth-mech")) {
            if (!(v = opt_value(argc, argv, &i, "--auth-mech")))
                return usage_error("missing value for", arg);
            if (!smtpkit_sasl_mech_from_name(v, strlen(v)))
                return usage_error("unknown --auth-mech (PLAIN, LOGIN, CRAM-MD5, XOAUTH2)", v);
            a->auth_mech = v;
        } else if (is_opt(arg, "--cafile")) {
            if (!(v = opt_value(argc, argv, &i, "--cafile")))
                return usage_error("missing value for", arg);
            a->cafile = v;
        } else if (is_opt(arg, "--timeout")) {
            char *end;
            if (!(v = opt_value(argc, argv, &i, "--timeout")))
                return usage_error("missing value for", arg);
            a->timeout = strtod(v, &end);
            if (*end || !(a->timeout > 0) || a->timeout > 86400)
                return usage_error("bad --timeout (seconds, up to 86400)", v);
        } else if ((r = compose_option(&a->comp, argc, argv, &i)) >= 0) {
            if (r)
                return r;
        } else if (!strcmp(arg, "--")) {
            if (i + 1 < argc)
                a->file = argv[++i];
            if (i + 1 < argc)
                return usage_error("too many arguments", argv[i + 1]);
        } else if (arg[0] == '-' && arg[1]) {
            return usage_error("unknown option", arg);
        } else {
            if (a->file)
                return usage_error("more than one message file", arg);
            a->file = arg;
        }
    }
    if ((r = compose_check(&a->comp, a->extract, a->file, a->to.n)) != 0)
        return r;
    if (!a->server && !a->comp.print)
        return usage_error("--server is required", NULL);
    if (!a->from)
        return usage_error("--from is required", NULL);
    if (a->to.n == 0 && !a->extract && !a->comp.any)
        return usage_error("at least one --to (or -t) is required", NULL);
    if (a->starttls && a->tls)
        return usage_error("--starttls and --tls exclude each other", NULL);
    if (a->auth && !strchr(a->auth, ':'))
        return usage_error("--auth takes USER:PASS", NULL);
    if (a->auth && a->auth_file)
        return usage_error("--auth and --auth-file exclude each other", NULL);
    if (a->auth_mech && !a->auth && !a->auth_file)
        return usage_error("--auth-mech needs --auth or --auth-file", NULL);
    return 0;
}

int main(int argc, char **argv)
{
    args a;
    smtpkit_send_options opt;
    smtpkit_send_result res;
    smtpkit_envelope env;
    smtpkit_rcpt *rcpts = NULL;
    smtpkit_send_reply *replies = NULL;
    smtpkit_source src;
    smtpkit_file_source fs;
    hdr_source hs;
    char host[256], from[320], errbuf[256], user[256];
    static char credbuf[4096]; /* --auth-file's line, wiped at the end */
    const char *password = NULL;
    uint16_t port;
    int r, code = 0, fd = 0, status;
    size_t i;

    memset(&a, 0, sizeof a);
    memset(&hs, 0, sizeof hs);
    fs._fd = -1;
    (void)fs;
    r = parse_args(argc, argv, &a);
    if (r) {
        code = r;
        goto out;
    }
    if (a.comp.print) {
        code = compose_print(&a.comp, a.from, &a.to);
        goto out;
    }
    if (split_server(a.server, host, sizeof host, &port) != 0) {
        code = usage_error("bad --server (HOST[:PORT], [IPv6]:PORT)", a.server);
        goto out;
    }
    if (a.auth_file) {
        errbuf[0] = '\0';
        if (auth_file_read(a.auth_file, credbuf, sizeof credbuf, errbuf, sizeof errbuf) != 0) {
            fprintf(stderr, "%s: %s\n", prog, errbuf);
            code = EXIT_NOINPUT;
            goto out;
        }
        a.auth = credbuf;
    }
    if (a.auth && !a.starttls && !a.tls) {
        fprintf(stderr, "%s: --auth needs --starttls or --tls: credentials are never sent in clear\n",
                prog);
        code = EXIT_USAGE;
        goto out;
    }
#ifndef SMTPKIT_HAVE_MBEDTLS
    if (a.starttls || a.tls || a.auth || a.cafile || a.insecure) {
        fprintf(stderr,
                "%s: TLS support is not built in (rebuild smtpkit with -DSMTPKIT_WITH_MBEDTLS=ON)\n",
                prog);
        code = EXIT_UNAVAILABLE;
        goto out;
    }
#endif

    /* the message: from FILE or standard input, streamed */
    if (a.file && strcmp(a.file, "-") != 0) {
        fd = open(a.file, O_RDONLY);
        if (fd < 0) {
            fprintf(stderr, "%s: cannot open %s: %s\n", prog, a.file, strerror(errno));
            code = EXIT_NOINPUT;
            goto out;
        }
    }
    if (!a.comp.any) {
        int sp = spool_input(fd, errbuf, sizeof errbuf);
        if (sp < 0) {
            fprintf(stderr, "%s: %s\n", prog, errbuf);
            code = -sp;
            goto out;
        }
        if (sp != fd && fd > 0)
            close(fd);
        fd = sp;
    }
    if (a.comp.any) {
        code = compose_build(&a.comp, a.from, &a.to, &src);
        if (code)
            goto out;
    } else if (a.extract) {
        r = headers_extract(fd, &a.to, &src, &hs, errbuf, sizeof errbuf);
        if (r) {
            fprintf(stderr, "%s: -t: %s\n", prog, errbuf);
            code = r;
            goto out;
        }
        if (a.to.n == 0) {
            fprintf(stderr, "%s: -t: no recipient in To, Cc or Bcc\n", prog);
            code = EXIT_DATAERR;
            goto out;
        }
    } else if (smtpkit_file_source_from_fd(&src, &fs, fd) != 0) {
        fprintf(stderr, "%s: cannot read the message: %s\n", prog, strerror(errno));
        code = EXIT_NOINPUT;
        goto out;
    }

    /* the envelope: every address checked before anything is sent */
    memset(&env, 0, sizeof env);
    env.from = strip_brackets(a.from, from, sizeof from);
    env.flags = a.comp.env_flags; /* 0 unless composed */
    rcpts = (smtpkit_rcpt *)calloc(a.to.n, sizeof *rcpts);
    replies = (smtpkit_send_reply *)calloc(a.to.n, sizeof *replies);
    if (!rcpts || !replies) {
        code = EXIT_SOFTWARE;
        goto out;
    }
    for (i = 0; i < a.to.n; i++) {
        char *t = a.to.v[i];
        size_t n = strlen(t);
        if (n >= 2 && t[0] == '<' && t[n - 1] == '>') {
            memmove(t, t + 1, n - 2);
            t[n - 2] = 0;
        }
        rcpts[i].mailbox = t;
    }
    env.rcpts = rcpts;
    env.nrcpts = a.to.n;
    for (i = 0; i <= a.to.n; i++) {
        smtpkit_envelope one = env;
        smtpkit_rcpt ok;
        memset(&ok, 0, sizeof ok);
        ok.mailbox = "postmaster";
        one.nrcpts = 1;
        one.rcpts = i < a.to.n ? &rcpts[i] : &ok;
        if (i < a.to.n)
            one.from = NULL;
        r = smtpkit_envelope_check(&one);
        if (r) {
            fprintf(stderr, "%s: bad %s address <%s>: %s\n", prog,
                    i < a.to.n ? "recipient" : "sender", i < a.to.n ? rcpts[i].mailbox : env.from,
                    smtpkit_strerror(r));
            code = EXIT_DATAERR;
            goto out;
        }
    }

    memset(&opt, 0, sizeof opt);
    opt.version = SMTPKIT_SEND_VERSION;
    opt.host = host;
    opt.port = port;
    opt.tls = a.tls ? SMTPKIT_CLIENT_TLS_IMPLICIT
                    : a.starttls ? SMTPKIT_CLIENT_TLS_STARTTLS : SMTPKIT_CLIENT_TLS_NONE;
    opt.tls_ca_file = a.cafile;
    opt.tls_insecure_skip_verify = a.insecure;
    if (a.auth) {
        const char *colon = strchr(a.auth, ':');
        size_t n = (size_t)(colon - a.auth);
        if (n >= sizeof user) {
            code = usage_error("--auth user name too long", NULL);
            goto out;
        }
        memcpy(user, a.auth, n);
        user[n] = 0;
        password = colon + 1;
        opt.user = user;
        opt.password = password;
        opt.auth_mech = a.auth_mech;
    }
    opt.helo_name = a.helo;
    opt.timeout_ms = a.timeout > 0 ? (uint32_t)(a.timeout * 1000.0 + 0.5) : 0;
    opt.flags = (a.lmtp ? SMTPKIT_CLIENT_LMTP : 0) | (a.bdat ? SMTPKIT_CLIENT_BDAT : 0) |
                (a.no_pipelining ? SMTPKIT_CLIENT_NO_PIPELINING : 0);
    opt.callbacks = a.verbose ? &verbose_cb : NULL;
    if (a.helo) {
        smtpkit_client_config probe;
        smtpkit_client_config_init(&probe);
        probe.helo_name = a.helo;
        if (smtpkit_client_config_check(&probe) != 0) {
            code = usage_error("bad --helo name", a.helo);
            goto out;
        }
    }

    memset(&res, 0, sizeof res);
    res.rcpts = replies;
    r = smtpkit_send(&opt, &env, &src, &res);

    /* one line per recipient, then the message */
    for (i = 0; i < a.to.n; i++) {
        char who[400];
        snprintf(who, sizeof who, "<%s>", rcpts[i].mailbox);
        if (replies[i].code)
            print_reply(who, &replies[i]);
        else
            printf("%s: not sent\n", who);
    }
    status = res.status;
    if (status == SMTPKIT_TX_REJECTED && res.stage == SMTPKIT_CLIENT_CMD_MAIL) {
        char who[400];
        snprintf(who, sizeof who, "from <%s>", env.from);
        print_reply(who, &res.reply);
        printf("message: not sent (sender refused)\n");
    } else if (status == SMTPKIT_TX_REJECTED && res.stage == SMTPKIT_CLIENT_CMD_RCPT) {
        printf("message: not sent (no recipient accepted)\n");
    } else if (status != SMTPKIT_TX_FAILED) {
        print_reply("message", &res.reply);
    } else if (res.stage == SMTPKIT_CLIENT_CMD_BODY || res.stage == SMTPKIT_CLIENT_CMD_BDAT) {
        printf("message: outcome unknown (%s after the data was sent)\n", smtpkit_strerror(r));
    } else {
        printf("message: not sent\n");
    }
    if (r && r != SMTPKIT_ERR_REJECTED) {
        if (res.errmsg[0])
            fprintf(stderr, "%s: %s\n", prog, res.errmsg);
        else if (res.reply.code)
            fprintf(stderr, "%s: %s: %d %s %s\n", prog, smtpkit_strerror(r), res.reply.code,
                    res.reply.esc, res.reply.text);
        else
            fprintf(stderr, "%s: %s\n", prog, smtpkit_strerror(r));
    }

    if (r == 0) {
        code = 0;
    } else if (r == SMTPKIT_ERR_REJECTED) {
        /* a permanent refusal of anything makes the whole permanent: a blind
         * retry would only repeat it (and re-send to those who got it) */
        int perm = 0, temp = 0;
        for (i = 0; i < a.to.n; i++) {
            int c = replies[i].code;
            if (c >= 500)
                perm = 1;
            else if (c >= 400)
                temp = 1;
        }
        if (res.stage != SMTPKIT_CLIENT_CMD_RCPT && res.reply.code >= 400) {
            if (res.reply.code >= 500)
                perm = 1;
            else
                temp = 1;
        }
        code = perm ? EXIT_UNAVAILABLE : temp ? EXIT_TEMPFAIL : EXIT_UNAVAILABLE;
    } else {
        code = error_exit(r, res.reply.code);
    }
    fflush(stdout);
out:
    auth_wipe(credbuf, sizeof credbuf);
    auth_wipe(user, sizeof user);
    headers_free(&hs);
    compose_free(&a.comp);
    if (fd > 0)
        close(fd);
    free(rcpts);
    free(replies);
    addr_list_free(&a.to);
    return code;
}
