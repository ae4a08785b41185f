/* smtpkit-send: composing the message from command-line options with the
 * message builder (message.h). The builder validates every header name and
 * value, so this file only maps its errors onto clear messages and exit
 * statuses; it never strips or rewrites what the user typed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose.h"
#include "smtpkit/client.h"

static const char *prog = "smtpkit-send";

const char compose_help[] =
    "\n"
    "Composing the message (any of these options builds it from the options;\n"
    "standard input is then not read):\n"
    "  --subject TEXT        Subject (UTF-8; RFC 2047 encoded where needed)\n"
    "  --text TEXT           text/plain body (UTF-8)\n"
    "  --text-file FILE      text/plain body from FILE (\"-\": standard input)\n"
    "  --html-file FILE      text/html body; with a text body the two make a\n"
    "                        multipart/alternative\n"
    "  --attach FILE[;type=TYPE]\n"
    "                        attach FILE (repeatable), base64; the type is\n"
    "                        guessed from the extension unless given\n"
    "  --header \"Name: value\"\n"
    "                        add a header field (repeatable)\n"
    "  --cc ADDR             Cc: and envelope recipient (repeatable)\n"
    "  --bcc ADDR            envelope recipient only, never in the headers\n"
    "                        (repeatable)\n"
    "  --from-name NAME      display name for From:\n"
    "  --8bit                text parts may be sent 8bit (BODY=8BITMIME; the\n"
    "                        server must offer 8BITMIME) instead of\n"
    "                        quoted-printable\n"
    "  --print               write the message to standard output instead of\n"
    "                        sending it (no --server needed)\n"
    "From: is --from (with --from-name), To: every --to; Date: is now and the\n"
    "Message-ID uses the domain of --from. A bad address, CR or LF in a header,\n"
    "or a file that cannot be read: exit 65 before anything is sent.\n";

/* ---- options ------------------------------------------------------------- */

static int list_add(compose_list *l, const char *s)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        const char **nv = (const char **)realloc((void *)l->v, ncap * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = s;
    return 0;
}

static void list_free(compose_list *l)
{
    free((void *)l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* "--name value" or "--name=value"; NULL when argv[*i] is not --name.
 * *missing is set when it is, but without a value. */
static const char *take(int argc, char **argv, int *i, const char *name, int *missing)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 < argc)
        return argv[++*i];
    *missing = 1;
    return NULL;
}

int compose_option(compose *c, int argc, char **argv, int *i)
{
    static const char *const names[] = {"--subject",   "--text",      "--text-file",
                                        "--html-file", "--attach",    "--header",
                                        "--cc",        "--bcc",       "--from-name"};
    const char *a = argv[*i], *v = NULL;
    size_t k;
    int missing = 0;

    if (!strcmp(a, "--print")) {
        c->print = c->any = 1;
        return 0;
    }
    if (!strcmp(a, "--8bit")) {
        c->allow_8bit = 1; /* a modifier: composes nothing by itself */
        return 0;
    }
    for (k = 0; k < sizeof names / sizeof names[0]; k++) {
        v = take(argc, argv, i, names[k], &missing);
        if (v || missing)
            break;
    }
    if (missing) {
        fprintf(stderr, "%s: missing value for: %s\nTry '%s --help'.\n", prog, a, prog);
        return EXIT_USAGE;
    }
    if (!v)
        return -1;
    c->any = 1;
    switch (k) {
    case 0: c->subject = v; return 0;
    case 1: c->text = v; return 0;
    case 2: c->text_file = v; return 0;
    case 3: c->html_file = v; return 0;
    case 4: return list_add(&c->attach, v) ? EXIT_SOFTWARE : 0;
    case 5: return list_add(&c->headers, v) ? EXIT_SOFTWARE : 0;
    case 6: return list_add(&c->cc, v) ? EXIT_SOFTWARE : 0;
    case 7: return list_add(&c->bcc, v) ? EXIT_SOFTWARE : 0;
    default: c->from_name = v; return 0;
    }
}

static int usage(const char *msg)
{
    fprintf(stderr, "%s: %s\nTry '%s --help'.\n", prog, msg, prog);
    return EXIT_USAGE;
}

int compose_check(const compose *c, int extract, const char *file, size_t nto)
{
    if (!c->any) {
        if (c->allow_8bit)
            return usage("--8bit applies to a composed message (--text, --attach, ...)");
        return 0;
    }
    if (extract)
        return usage("-t reads the recipients from a message given as is; it does not "
                     "go with the composition options");
    if (file)
        return usage("a message FILE does not go with the composition options "
                     "(use --text-file FILE)");
    if (c->text && c->text_file)
        return usage("--text and --text-file exclude each other");
    if (c->text_file && c->html_file && !strcmp(c->text_file, "-") &&
        !strcmp(c->html_file, "-"))
        return usage("standard input can be read for one body only");
    if (!c->print && nto + c->cc.n + c->bcc.n == 0)
        return usage("at least one --to, --cc or --bcc is required");
    return 0;
}

/* ---- building ------------------------------------------------------------ */

/* A value as the user typed it, control characters shown as \r, \n,
 * \xNN so an injection attempt is visible and cannot fake more lines. */
static void put_value(const char *v)
{
    for (; *v; v++) {
        unsigned char ch = (unsigned char)*v;
        if (ch == '\r')
            fputs("\\r", stderr);
        else if (ch == '\n')
            fputs("\\n", stderr);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(stderr, "\\x%02x", ch);
        else
            fputc(ch, stderr);
    }
}

/* "smtpkit-send: bad WHAT 'VALUE': WHY" */
static int bad(const char *what, const char *value, const char *why)
{
    fprintf(stderr, "%s: bad %s", prog, what);
    if (value) {
        fputs(" '", stderr);
        put_value(value);
        fputc('\'', stderr);
    }
    fprintf(stderr, ": %s\n", why);
    return EXIT_DATAERR;
}

static int dataerr(const char *what, const char *value, int err)
{
    switch (err) {
    case SMTPKIT_ERR_NOMEM:
        fprintf(stderr, "%s: %s\n", prog, smtpkit_strerror(err));
        return EXIT_SOFTWARE;
    case SMTPKIT_ERR_INJECTION:
        return bad(what, value, "CR, LF or NUL is not allowed (header injection is refused)");
    case SMTPKIT_ERR_BAD_ADDRESS:
        return bad(what, value, "not a valid address (local@domain)");
    default:
        return bad(what, value, smtpkit_strerror(err));
    }
}

/* "<a@b>" is taken as "a@b", as main.c does for the envelope. `buf` holds
 * the copy when one is needed. */
static const char *bare(const char *a, char *buf, size_t len)
{
    size_t n = strlen(a);
    if (n >= 2 && a[0] == '<' && a[n - 1] == '>' && n - 2 < len) {
        memcpy(buf, a + 1, n - 2);
        buf[n - 2] = '\0';
        return buf;
    }
    return a;
}

/* Open `path` (or standard input for "-") as a source. Directories are
 * refused here: open() accepts them and the read would fail mid-DATA. */
static int open_file(compose_file *f, const char *path, const char *what)
{
    struct stat st;
    int r, stdin_ = !strcmp(path, "-");
    if ((stdin_ ? fstat(0, &st) : stat(path, &st)) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: cannot read %s %s: %s\n", prog, what, path, strerror(EISDIR));
        return EXIT_DATAERR;
    }
    if (stdin_)
        r = smtpkit_file_source_from_fd(&f->src, &f->fs, 0);
    else
        r = smtpkit_file_source_open(&f->src, &f->fs, path);
    if (r) {
        fprintf(stderr, "%s: cannot open %s %s: %s\n", prog, what, path, strerror(errno));
        return EXIT_DATAERR;
    }
    return 0;
}

/* RFC 5322 3.6.4: the right side of a msg-id should be a domain of the
 * sender's; address literals and non-ASCII domains are not dot-atoms, so
 * this host's name (or "localhost") stands in for them. */
static int set_message_id(smtpkit_message *m, const char *from)
{
    const char *at = strrchr(from, '@');
    char host[256];
    int r = SMTPKIT_ERR_BAD_HEADER;
    if (at && at[1])
        r = smtpkit_message_generate_message_id(m, at + 1);
    if (r == SMTPKIT_ERR_BAD_HEADER && gethostname(host, sizeof host) == 0) {
        host[sizeof host - 1] = '\0';
        if (strchr(host, '.'))
            r = smtpkit_message_generate_message_id(m, host);
    }
    if (r == SMTPKIT_ERR_BAD_HEADER)
        r = smtpkit_message_generate_message_id(m, "localhost");
    return r;
}

/* --header "Name: value": the name is everything before the first ':'
 * and the value follows it, white space after the colon skipped
 * (RFC 5322 2.2). */
static int add_header(smtpkit_message *m, const char *h)
{
    const char *colon = strchr(h, ':'), *v;
    int r;
    if (!colon || colon == h)
        return bad("--header", h, "want \"Name: value\"");
    v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    r = smtpkit_message_add_header_n(m, h, (size_t)(colon - h), v, strlen(v));
    if (r == SMTPKIT_ERR_BAD_HEADER)
        return bad("--header", h,
                   "not a valid field name, or one smtpkit-send writes itself (use "
                   "--subject, --cc, --bcc, --from-name)");
    return r ? dataerr("--header", h, r) : 0;
}

/* --attach FILE[;type=TYPE]: the last ";type=" splits (as curl -F does),
 * so a type with parameters ("text/plain; charset=utf-8") passes whole. */
static int add_attachment(compose *c, const char *arg)
{
    const char *p = arg, *sep = NULL, *base, *type = NULL;
    char *path;
    compose_file *f = &c->files[c->nfiles];
    int r;
    while ((p = strstr(p, ";type=")) != NULL)
        sep = p++;
    path = sep ? (char *)malloc((size_t)(sep - arg) + 1) : NULL;
    if (sep) {
        if (!path)
            return EXIT_SOFTWARE;
        memcpy(path, arg, (size_t)(sep - arg));
        path[sep - arg] = '\0';
        type = sep + 6;
    }
    r = open_file(f, path ? path : arg, "attachment");
    if (r == 0) {
        c->nfiles++;
        base = strrchr(path ? path : arg, '/');
        base = base ? base + 1 : (path ? path : arg);
        r = smtpkit_message_add_attachment(c->msg, &f->src, *base ? base : NULL, type);
        if (r == SMTPKIT_ERR_BAD_HEADER && type) {
            r = bad("--attach type", type,
                    "not type/subtype[; parameters] (multipart/ and message/ cannot be "
                    "attached)");
        } else if (r) {
            r = dataerr("--attach", arg, r);
        }
    }
    free(path);
    return r;
}

static int build(compose *c, const char *from, addr_list *rcpts)
{
    char buf[1024];
    const char *addr;
    int64_t now;
    int zone, r;
    unsigned char uniq[16];
    size_t i;
    smtpkit_message_env env;

    if (!(c->msg = smtpkit_message_new(NULL)))
        return EXIT_SOFTWARE;
    c->files = (compose_file *)calloc(c->attach.n + 2, sizeof *c->files);
    if (!c->files)
        return EXIT_SOFTWARE;
    if (c->allow_8bit && (r = smtpkit_message_set_options(c->msg, SMTPKIT_MESSAGE_ALLOW_8BIT)))
        return dataerr("--8bit", NULL, r);

    /* the address alone first, so an error names the right option */
    addr = bare(from, buf, sizeof buf);
    if ((r = smtpkit_message_set_from(c->msg, addr, NULL)) != 0)
        return dataerr("--from address", from, r);
    if (c->from_name && (r = smtpkit_message_set_from(c->msg, addr, c->from_name)) != 0)
        return dataerr("--from-name", c->from_name, r);
    for (i = 0; i < rcpts->n; i++)
        if ((r = smtpkit_message_add_to(c->msg, bare(rcpts->v[i], buf, sizeof buf), NULL)))
            return dataerr("--to address", rcpts->v[i], r);
    for (i = 0; i < c->cc.n; i++)
        if ((r = smtpkit_message_add_cc(c->msg, bare(c->cc.v[i], buf, sizeof buf), NULL)))
            return dataerr("--cc address", c->cc.v[i], r);
    for (i = 0; i < c->bcc.n; i++)
        if ((r = smtpkit_message_add_bcc(c->msg, bare(c->bcc.v[i], buf, sizeof buf))))
            return dataerr("--bcc address", c->bcc.v[i], r);
    if (c->subject && (r = smtpkit_message_set_subject(c->msg, c->subject)) != 0)
        return dataerr("--subject", NULL, r);

    /* the core has no clock nor randomness: the POSIX adapter gives both */
    if (smtpkit_posix_now(&now, &zone) != 0) {
        fprintf(stderr, "%s: cannot read the clock\n", prog);
        return EXIT_SOFTWARE;
    }
    if ((r = smtpkit_message_set_date(c->msg, now, zone)) != 0)
        return dataerr("clock", NULL, r);
    if (smtpkit_posix_unique(uniq, sizeof uniq) != 0 ||
        smtpkit_message_set_unique(c->msg, uniq, sizeof uniq) != 0 ||
        set_message_id(c->msg, addr) != 0) {
        fprintf(stderr, "%s: cannot make a Message-ID\n", prog);
        return EXIT_SOFTWARE;
    }
    for (i = 0; i < c->headers.n; i++)
        if ((r = add_header(c->msg, c->headers.v[i])) != 0)
            return r;

    if (c->text) {
        r = smtpkit_message_set_text_mem(c->msg, c->text, strlen(c->text));
        if (r)
            return dataerr("--text", NULL, r);
    } else if (c->text_file) {
        if ((r = open_file(&c->files[0], c->text_file, "--text-file")) != 0)
            return r;
        if ((r = smtpkit_message_set_text(c->msg, &c->files[0].src)) != 0)
            return dataerr("--text-file", c->text_file, r);
    }
    c->nfiles = 1;
    if (c->html_file) {
        if ((r = open_file(&c->files[1], c->html_file, "--html-file")) != 0)
            return r;
        if ((r = smtpkit_message_set_html(c->msg, &c->files[1].src)) != 0)
            return dataerr("--html-file", c->html_file, r);
    }
    c->nfiles = 2;
    for (i = 0; i < c->attach.n; i++)
        if ((r = add_attachment(c, c->attach.v[i])) != 0)
            return r;

    /* prepare reads the text bodies once to choose their encoding: a read
     * error shows here, before anything is sent */
    if ((r = smtpkit_message_prepare(c->msg)) != 0) {
        if (r == SMTPKIT_ERR_NOMEM)
            return EXIT_SOFTWARE;
        fprintf(stderr, "%s: cannot read the message body: %s\n", prog, smtpkit_strerror(r));
        return EXIT_DATAERR;
    }

    /* the envelope: To, Cc and Bcc, each once (Bcc only here) */
    if ((r = smtpkit_message_envelope(c->msg, &env)) != 0)
        return EXIT_SOFTWARE;
    addr_list_free(rcpts);
    for (i = 0; i < env.recipient_count; i++)
        if (addr_list_add(rcpts, env.recipients[i], strlen(env.recipients[i])) != 0)
            return EXIT_SOFTWARE;

    /* RFC 6531/6152: what MAIL FROM must declare. A body the builder
     * encoded as 7bit/QP/base64 is 7-bit, unless UTF-8 addresses put 8-bit
     * bytes into the headers (SMTPUTF8). */
    c->env_flags = 0;
    if (smtpkit_message_flags(c->msg) & SMTPKIT_MESSAGE_SMTPUTF8)
        c->env_flags |= SMTPKIT_ENV_SMTPUTF8;
    if (smtpkit_message_flags(c->msg) & SMTPKIT_MESSAGE_8BITMIME)
        c->env_flags |= SMTPKIT_ENV_8BIT;
    if (!c->env_flags)
        c->env_flags = SMTPKIT_ENV_7BIT;
    return 0;
}

int compose_build(compose *c, const char *from, addr_list *rcpts, smtpkit_source *out)
{
    int r = build(c, from, rcpts);
    if (r)
        return r;
    r = smtpkit_message_open(c->msg, out);
    if (r) {
        fprintf(stderr, "%s: cannot read the message: %s\n", prog, smtpkit_strerror(r));
        return r == SMTPKIT_ERR_NOMEM ? EXIT_SOFTWARE : EXIT_DATAERR;
    }
    return 0;
}

static int to_stdout(void *user, const char *data, size_t len)
{
    (void)user;
    return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

int compose_print(compose *c, const char *from, addr_list *rcpts)
{
    int r = build(c, from, rcpts);
    if (r)
        return r;
    r = smtpkit_message_write(c->msg, to_stdout, NULL);
    if (r == SMTPKIT_ERR_CALLBACK || fflush(stdout) != 0) {
        fprintf(stderr, "%s: cannot write the message: %s\n", prog, strerror(errno));
        return EXIT_IOERR;
    }
    if (r) {
        /* a file that shrank or failed while it was read */
        fprintf(stderr, "%s: cannot read the message: %s\n", prog, smtpkit_strerror(r));
        return EXIT_DATAERR;
    }
    return 0;
}

void compose_free(compose *c)
{
    size_t i;
    smtpkit_message_free(c->msg);
    c->msg = NULL;
    if (c->files) {
        for (i = 0; i < c->attach.n + 2; i++)
            smtpkit_file_source_close(&c->files[i].fs);
        free(c->files);
        c->files = NULL;
    }
    c->nfiles = 0;
    list_free(&c->cc);
    list_free(&c->bcc);
    list_free(&c->headers);
    list_free(&c->attach);
}
