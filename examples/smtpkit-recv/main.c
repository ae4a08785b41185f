/* smtpkit-recv: a small SMTP/LMTP receiver built on smtpkit's server session
 * and POSIX event loop. It stores each accepted message durably (Maildir or
 * mbox) before it answers 250, or accepts and discards (--sink).
 *
 *   smtpkit-recv --listen ADDR:PORT [--listen ...] (--maildir DIR | --mbox FILE | --sink)
 *                [--hostname NAME] [--max-size BYTES] [--max-recipients N]
 *                [--timeout SECONDS] [--max-sessions N] [--lmtp] [--quiet]
 *                [--tls-cert F --tls-key F [--implicit-tls] [--require-tls]]
 *                [--auth-file F [--require-auth]]
 *
 * Exit status: 0 after SIGTERM/SIGINT, 64 usage error, 71 cannot listen,
 * 74 cannot use the Maildir/mbox. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpkit/posix.h"
#include "smtpkit/server.h"
#include "secure.h"
#include "store.h"

#define EX_USAGE 64
#define EX_OSERR 71
#define EX_IOERR 74
#define MAX_LISTEN 16

typedef struct recv_app {
    store st;
    smtpkit_server_config cfg;
    smtpkit_server_callbacks cb;
    int quiet;
    int lmtp;
    secure_app sec; /* TLS and AUTH (secure.c) */
} recv_app;

/* Per connection. Small on purpose: an idle session costs this, the loop's
 * connection record and the session itself. */
typedef struct rsess {
    recv_app *app;
    smtpkit_loop_conn *conn;
    store_msg *msg;       /* the message being received (allocated at DATA) */
    char *log;            /* "from=<..> to=<..>,<..>" of the transaction */
    size_t loglen, logcap;
    size_t sender_len;    /* length of the sender in log (after "from=<") */
    int result;           /* LMTP: the stored result, for every recipient */
    /* TLS and AUTH state (secure.c), allocated only when --tls-cert or
     * --auth-file is given: it holds a SASL exchange buffer, and a plain
     * receiver's idle session should stay under 2 KiB (docs/receiving.md). */
    secure_sess *sec;
} rsess;

static smtpkit_loop *g_loop;

static void on_signal(int sig)
{
    (void)sig;
    smtpkit_loop_stop(g_loop);
}

/* ---- the transaction log line ---- */

static void log_add(rsess *r, const char *p, size_t n)
{
    if (r->app->quiet && r->app->st.kind != STORE_MBOX)
        return;
    if (r->loglen + n + 1 > r->logcap) {
        size_t cap = (r->logcap ? r->logcap * 2 : 256);
        char *b;
        while (cap < r->loglen + n + 1)
            cap *= 2;
        if (cap > 65536)
            return; /* enough for a log line */
        b = (char *)realloc(r->log, cap);
        if (!b)
            return;
        r->log = b;
        r->logcap = cap;
    }
    memcpy(r->log + r->loglen, p, n);
    r->loglen += n;
    r->log[r->loglen] = '\0';
}

static void log_line(rsess *r, const char *result)
{
    char peer[80];
    smtpkit_view helo;
    if (r->app->quiet)
        return;
    smtpkit_posix_peer_name(smtpkit_loop_conn_fd(r->conn), peer, sizeof peer);
    helo = smtpkit_server_helo_name(smtpkit_loop_conn_session(r->conn));
    fprintf(stderr, "smtpkit-recv: client=%s helo=%.*s%s %s result=%s\n", peer, (int)helo.len,
            helo.ptr, r->sec ? secure_describe(r->sec) : "", r->log ? r->log : "", result);
}

/* ---- session callbacks ---- */

static int cb_mail(void *u, const smtpkit_server_mail *m, smtpkit_server_decision *d)
{
    rsess *r = (rsess *)u;
    (void)d;
    r->loglen = 0;
    log_add(r, "from=<", 6);
    log_add(r, m->path->mailbox.ptr, m->path->mailbox.len);
    r->sender_len = m->path->mailbox.len;
    log_add(r, ">", 1);
    return 0;
}

static int cb_rcpt(void *u, const smtpkit_server_rcpt *rc, smtpkit_server_decision *d)
{
    rsess *r = (rsess *)u;
    (void)d;
    log_add(r, rc->index == 0 ? " to=<" : ",<", rc->index == 0 ? 5 : 2);
    log_add(r, rc->path->mailbox.ptr, rc->path->mailbox.len);
    log_add(r, ">", 1);
    return 0;
}

static int cb_data(void *u, smtpkit_server_decision *d)
{
    rsess *r = (rsess *)u;
    r->result = 0;
    if (r->app->st.kind == STORE_SINK)
        return 0;
    if (!r->msg) {
        r->msg = (store_msg *)malloc(sizeof *r->msg);
        if (!r->msg)
            goto fail;
        r->msg->fd = -1;
    }
    if (store_begin(&r->app->st, r->msg) == 0)
        return 0;
fail:
    fprintf(stderr, "smtpkit-recv: cannot store a message: %s\n", strerror(errno));
    d->code = 451;
    d->esc = "4.3.0";
    d->text = "Temporary storage failure, try again later";
    return 0;
}

static int cb_body(void *u, const char *p, size_t n)
{
    rsess *r = (rsess *)u;
    if (r->msg)
        store_write(r->msg, p, n);
    return 0;
}

static int cb_data_end(void *u, const smtpkit_server_message *m, smtpkit_server_decision *d)
{
    rsess *r = (rsess *)u;
    char size[40];
    /* LMTP asks once per recipient; the message is stored once. */
    if (m->rcpt_index == 0) {
        char sender[300];
        size_t sl = r->sender_len < sizeof sender - 1 ? r->sender_len : sizeof sender - 1;
        if (r->log && r->loglen >= 6 + sl)
            memcpy(sender, r->log + 6, sl);
        else
            sl = 0;
        sender[sl] = '\0';
        if (store_commit(&r->app->st, r->msg, sender) == 0) {
            r->result = 250;
            if (r->msg)
                snprintf(r->msg->reply, sizeof r->msg->reply, "Ok: queued as %s", r->msg->name);
        } else {
            r->result = 451;
            if (r->msg)
                snprintf(r->msg->reply, sizeof r->msg->reply,
                         "Local error in processing, message not stored");
            fprintf(stderr, "smtpkit-recv: cannot store a message: %s\n", strerror(errno));
        }
        if (!r->app->quiet) { /* no formatting per message for nobody */
            char res[340];
            snprintf(size, sizeof size, " size=%llu", (unsigned long long)m->size);
            log_add(r, size, strlen(size));
            snprintf(res, sizeof res, "%d %s %s", r->result, r->result == 250 ? "2.0.0" : "4.3.0",
                     r->msg ? r->msg->reply : "Ok");
            log_line(r, res);
        }
    }
    d->code = r->result;
    d->esc = r->result == 250 ? "2.0.0" : "4.3.0";
    d->text = r->msg ? r->msg->reply : "Ok";
    return 0;
}

static void cb_abort(void *u, int reason)
{
    rsess *r = (rsess *)u;
    char res[120];
    if (r->msg)
        store_abort(&r->app->st, r->msg);
    snprintf(res, sizeof res, "refused (%s)", smtpkit_strerror(reason));
    log_line(r, res);
}

static int cb_trace(void *u, smtpkit_server_trace *t)
{
    return smtpkit_loop_conn_trace(((rsess *)u)->conn, t);
}

/* ---- loop callbacks ---- */

static smtpkit_server *on_accept(void *user, smtpkit_loop_conn *conn, unsigned listener)
{
    recv_app *app = (recv_app *)user;
    rsess *r = (rsess *)calloc(1, sizeof *r);
    smtpkit_server *s;
    (void)listener;
    if (!r)
        return NULL;
    r->app = app;
    r->conn = conn;
    s = smtpkit_server_new(&app->cfg, &app->cb, r, NULL);
    if (!s) {
        free(r);
        return NULL;
    }
    if (app->sec.tls || app->sec.auth_file) {
        r->sec = (secure_sess *)calloc(1, sizeof *r->sec);
        if (!r->sec || secure_session_open(&app->sec, r->sec, conn, s) != 0) {
            if (r->sec)
                secure_session_close(r->sec);
            free(r->sec);
            smtpkit_server_free(s);
            free(r);
            return NULL;
        }
    }
    smtpkit_loop_conn_set_user(conn, r);
    return s;
}

static void on_close(void *user, smtpkit_loop_conn *conn, void *su, int reason)
{
    rsess *r = (rsess *)su;
    (void)user;
    (void)conn;
    (void)reason;
    if (!r)
        return;
    if (r->msg)
        store_abort(&r->app->st, r->msg); /* normally done by on_abort already */
    if (r->sec)
        secure_session_close(r->sec);
    free(r->sec);
    free(r->msg);
    free(r->log);
    free(r);
}

static int on_starttls(void *user, smtpkit_loop_conn *conn)
{
    rsess *r = (rsess *)smtpkit_loop_conn_user(conn);
    (void)user;
    return r && r->sec ? secure_starttls(r->sec, conn) : -1;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: smtpkit-recv --listen ADDR:PORT [--listen ADDR:PORT ...]\n"
            "                    (--maildir DIR | --mbox FILE | --sink)\n"
            "                    [--hostname NAME] [--max-size BYTES] [--max-recipients N]\n"
            "                    [--timeout SECONDS] [--max-sessions N] [--lmtp] [--quiet]\n"
            "\n"
            "Receive mail over SMTP (or LMTP with --lmtp) and store each accepted message\n"
            "before answering 250: in a Maildir (DIR/tmp, fsync, rename to DIR/new), in an\n"
            "mbox file (appended under flock), or nowhere (--sink, for benchmarks).\n"
            "\n"
            "  --listen ADDR:PORT   address to listen on, e.g. 127.0.0.1:2525, [::1]:25,\n"
            "                       *:25; port 0 picks a free one. Prints\n"
            "                       \"listening on ADDR:PORT\" per listener when ready.\n"
            "  --maildir DIR        deliver into the Maildir DIR (created if missing)\n"
            "  --mbox FILE          append to the mbox FILE\n"
            "  --sink               accept and discard every message\n"
            "  --hostname NAME      our name in replies and Received: (default: gethostname)\n"
            "  --max-size BYTES     largest message accepted (SIZE; default: no limit)\n"
            "  --max-recipients N   recipients per message (default 100)\n"
            "  --timeout SECONDS    idle timeout (default 300)\n"
            "  --max-sessions N     concurrent sessions (default 1000)\n"
            "  --lmtp               speak LMTP (RFC 2033)\n"
            "  --quiet              no log line per transaction on stderr\n"
            "%s"
            "  --help               this text\n"
            "\n"
            "SIGTERM or SIGINT stops it: sessions in flight get 421, exit status 0.\n",
            secure_usage());
}

/* The PORT of ADDR:PORT or [IPv6]:PORT is 0..65535: getaddrinfo() takes
 * "70000" and the socket would listen on 70000 - 65536 = 4464. */
static int listen_port_ok(const char *a)
{
    const char *c = strrchr(a, ':');
    unsigned long port = 0;
    if (!c || !c[1])
        return 0;
    for (c++; *c; c++) {
        if (*c < '0' || *c > '9')
            return 0;
        port = port * 10 + (unsigned long)(*c - '0');
        if (port > 65535)
            return 0;
    }
    return 1;
}

/* "--name value" or "--name=value" */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "smtpkit-recv: %s needs a value\n", name);
        exit(EX_USAGE);
    }
    return argv[++*i];
}

static unsigned long long num(const char *name, const char *v, unsigned long long max)
{
    char *end;
    unsigned long long x;
    errno = 0;
    x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x > max) {
        fprintf(stderr, "smtpkit-recv: bad value for %s: %s\n", name, v);
        exit(EX_USAGE);
    }
    return x;
}

int main(int argc, char **argv)
{
    static recv_app app;
    const char *listen_addr[MAX_LISTEN];
    int nlisten = 0, i, r;
    const char *maildir = NULL, *mbox = NULL, *hostname = NULL;
    int sink = 0;
    unsigned max_sessions = 1000;
    unsigned long long timeout = 0;
    char host[256], err[512];
    smtpkit_loop_config lc;
    struct sigaction sa;

    smtpkit_server_config_init(&app.cfg);
    for (i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if ((v = opt_value(argc, argv, &i, "--listen")) != NULL) {
            if (nlisten == MAX_LISTEN) {
                fprintf(stderr, "smtpkit-recv: at most %d --listen\n", MAX_LISTEN);
                return EX_USAGE;
            }
            if (!listen_port_ok(v)) {
                fprintf(stderr, "smtpkit-recv: bad --listen address %s (ADDR:PORT, [IPv6]:PORT, "
                                "PORT 0-65535)\n", v);
                return EX_USAGE;
            }
            listen_addr[nlisten++] = v;
        } else if ((v = opt_value(argc, argv, &i, "--maildir")) != NULL) {
            maildir = v;
        } else if ((v = opt_value(argc, argv, &i, "--mbox")) != NULL) {
            mbox = v;
        } else if (!strcmp(argv[i], "--sink")) {
            sink = 1;
        } else if ((v = opt_value(argc, argv, &i, "--hostname")) != NULL) {
            hostname = v;
        } else if ((v = opt_value(argc, argv, &i, "--max-size")) != NULL) {
            app.cfg.max_size = num("--max-size", v, ~0ull);
        } else if ((v = opt_value(argc, argv, &i, "--max-recipients")) != NULL) {
            app.cfg.max_recipients = (unsigned)num("--max-recipients", v, 1000000);
            if (!app.cfg.max_recipients) {
                fprintf(stderr, "smtpkit-recv: --max-recipients must be at least 1\n");
                return EX_USAGE;
            }
        } else if ((v = opt_value(argc, argv, &i, "--timeout")) != NULL) {
            timeout = num("--timeout", v, 86400);
            if (!timeout) {
                fprintf(stderr, "smtpkit-recv: --timeout must be at least 1\n");
                return EX_USAGE;
            }
        } else if ((v = opt_value(argc, argv, &i, "--max-sessions")) != NULL) {
            max_sessions = (unsigned)num("--max-sessions", v, 10000000);
            if (!max_sessions) {
                fprintf(stderr, "smtpkit-recv: --max-sessions must be at least 1\n");
                return EX_USAGE;
            }
        } else if (!strcmp(argv[i], "--lmtp")) {
            app.lmtp = 1;
        } else if (!strcmp(argv[i], "--quiet")) {
            app.quiet = 1;
        } else if ((r = secure_option(&app.sec, argc, argv, &i)) != 0) {
            if (r < 0)
                return EX_USAGE;
        } else {
            fprintf(stderr, "smtpkit-recv: unknown option %s (try --help)\n", argv[i]);
            return EX_USAGE;
        }
    }
    if (!nlisten || (!!maildir + !!mbox + sink) != 1) {
        fprintf(stderr, "smtpkit-recv: need --listen and one of --maildir, --mbox, --sink\n");
        usage(stderr);
        return EX_USAGE;
    }
    if (!hostname) {
        if (gethostname(host, sizeof host) != 0 || !host[0])
            strcpy(host, "localhost");
        host[sizeof host - 1] = '\0';
        hostname = host;
    }
    if (strlen(hostname) > 255 || strpbrk(hostname, " \t\r\n")) {
        fprintf(stderr, "smtpkit-recv: bad --hostname\n");
        return EX_USAGE;
    }

    app.cfg.hostname = hostname;
    if (app.lmtp)
        app.cfg.flags |= SMTPKIT_SERVER_LMTP;
    if (timeout)
        app.cfg.timeout_command_ms = app.cfg.timeout_data_ms = (uint32_t)(timeout * 1000);
    /* Replies are short here: a smaller output buffer keeps idle sessions
     * small (SMTPKIT_SERVER_REPLY_MAX must stay free for each command). */
    app.cfg.output_buffer = SMTPKIT_SERVER_REPLY_MAX + 128;
    app.cb.on_mail = cb_mail;
    app.cb.on_rcpt = cb_rcpt;
    app.cb.on_data = cb_data;
    app.cb.on_data_end = cb_data_end;
    app.cb.on_abort = cb_abort;
    if (sink) {
        app.cfg.flags |= SMTPKIT_SERVER_NO_RECEIVED; /* nothing is kept */
    } else {
        app.cb.on_body = cb_body;
        app.cb.on_trace = cb_trace;
    }
    app.sec.quiet = app.quiet;
    r = secure_setup(&app.sec, &app.cfg, hostname, err, sizeof err);
    if (r != 0) {
        fprintf(stderr, "smtpkit-recv: %s\n", err);
        return r == -1 ? EX_USAGE : EX_IOERR;
    }
    if (store_open(&app.st, sink ? STORE_SINK : maildir ? STORE_MAILDIR : STORE_MBOX,
                   maildir ? maildir : mbox, hostname, err, sizeof err) != 0) {
        fprintf(stderr, "smtpkit-recv: %s\n", err);
        return EX_IOERR;
    }

    smtpkit_loop_config_init(&lc);
    lc.max_sessions = max_sessions;
    lc.hostname = hostname;
    lc.on_accept = on_accept;
    lc.on_close = on_close;
    lc.on_starttls = app.sec.tls ? on_starttls : NULL;
    lc.user = &app;
    g_loop = smtpkit_loop_new(&lc, NULL);
    if (!g_loop) {
        fprintf(stderr, "smtpkit-recv: cannot create the event loop: %s\n", strerror(errno));
        return EX_OSERR;
    }
    /* Before the first "listening on" line: whoever starts us may signal
     * as soon as it reads it, and must get the clean stop (exit 0). */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    for (i = 0; i < nlisten; i++) {
        char bound[128];
        int fd = smtpkit_posix_listen(listen_addr[i], 511, bound, sizeof bound);
        if (fd == SMTPKIT_ERR_INVALID_ARG) {
            fprintf(stderr, "smtpkit-recv: bad --listen address %s (ADDR:PORT, [IPv6]:PORT)\n",
                    listen_addr[i]);
            return EX_USAGE;
        }
        if (fd < 0) {
            fprintf(stderr, "smtpkit-recv: cannot listen on %s: %s\n", listen_addr[i],
                    fd == SMTPKIT_ERR_IO ? strerror(errno) : smtpkit_strerror(fd));
            return EX_OSERR;
        }
        if (smtpkit_loop_add_listener(g_loop, fd) < 0) {
            fprintf(stderr, "smtpkit-recv: cannot listen on %s\n", listen_addr[i]);
            return EX_OSERR;
        }
        printf("listening on %s\n", bound);
    }
    fflush(stdout);

    r = smtpkit_loop_run(g_loop);
    smtpkit_loop_free(g_loop);
    store_close(&app.st);
    secure_cleanup(&app.sec);
    if (r < 0) {
        fprintf(stderr, "smtpkit-recv: event loop failed: %s\n", strerror(errno));
        return EX_OSERR;
    }
    return 0;
}
