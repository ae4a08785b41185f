/* A small TLS peer on the mbedTLS adapter, for interop tests against
 * `openssl s_server` / `openssl s_client` (tests/interop/test_tls_openssl.sh).
 *
 *   tls_peer client PORT NAME [--ca F] [--insecure] [--cert F --key F] [--starttls]
 *       connect to 127.0.0.1:PORT, TLS (after an SMTP STARTTLS exchange with
 *       --starttls), send "PING\n", print every line received until EOF.
 *   tls_peer server PORT CERT KEY [--starttls] [--ca F --client-cert required|optional]
 *       listen on 127.0.0.1:PORT (prints "listening" when ready), serve one
 *       connection: TLS (or a minimal SMTP dialogue up to STARTTLS), then
 *       answer each line with "echo: <line>" until "QUIT" or EOF.
 * Exit status 0 on success; 2 on a TLS failure, with the reason on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtpkit/tls.h"

static smtpkit_ssize fd_read(void *ctx, char *buf, size_t len, int timeout_ms)
{
    int fd = *(int *)ctx;
    struct pollfd p;
    ssize_t n;
    p.fd = fd;
    p.events = POLLIN;
    if (poll(&p, 1, timeout_ms) == 0)
        return SMTPKIT_ERR_TIMEOUT;
    do
        n = read(fd, buf, len);
    while (n < 0 && errno == EINTR);
    return n < 0 ? SMTPKIT_ERR_IO : (smtpkit_ssize)n;
}

static smtpkit_ssize fd_write(void *ctx, const char *buf, size_t len, int timeout_ms)
{
    int fd = *(int *)ctx;
    ssize_t n;
    (void)timeout_ms;
    do
        n = send(fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n <= 0 ? SMTPKIT_ERR_IO : (smtpkit_ssize)n;
}

static void fd_close(void *ctx)
{
    int *fd = (int *)ctx;
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int read_line(const smtpkit_io *io, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        smtpkit_ssize r = io->read(io->ctx, buf + n, 1, 10000);
        if (r <= 0) {
            if (n)
                break;
            return r == 0 ? 0 : (int)r;
        }
        if (buf[n++] == '\n')
            break;
    }
    buf[n] = 0;
    return (int)n;
}

static int say(const smtpkit_io *io, const char *s)
{
    size_t len = strlen(s), off = 0;
    while (off < len) {
        smtpkit_ssize w = io->write(io->ctx, s + off, len - off, 10000);
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

static const char *opt(int argc, char **argv, const char *name)
{
    int i;
    for (i = 1; i < argc - 1; i++) {
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    }
    return NULL;
}

static int flag(int argc, char **argv, const char *name)
{
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], name) == 0)
            return 1;
    }
    return 0;
}

static smtpkit_tls_context *g_ctx;

static int fail(smtpkit_tls_conn *conn, const char *what, int rc)
{
    fprintf(stderr, "tls_peer: %s: %s (%s)\n", what, smtpkit_strerror(rc),
            conn ? smtpkit_tls_conn_error(conn) : "");
    smtpkit_tls_conn_free(conn);
    smtpkit_tls_context_free(g_ctx);
    return 2;
}

/* The client half of an SMTP STARTTLS exchange (RFC 3207 4). */
static int client_starttls(const smtpkit_io *io)
{
    char line[512];
    int saw = 0;
    if (read_line(io, line, sizeof line) <= 0 || strncmp(line, "220", 3) != 0)
        return -1;
    if (say(io, "EHLO tls-peer.example\r\n") != 0)
        return -1;
    do {
        if (read_line(io, line, sizeof line) <= 0 || strncmp(line, "250", 3) != 0)
            return -1;
        if (strncmp(line + 4, "STARTTLS", 8) == 0)
            saw = 1;
    } while (line[3] == '-');
    if (!saw || say(io, "STARTTLS\r\n") != 0)
        return -1;
    if (read_line(io, line, sizeof line) <= 0 || strncmp(line, "220", 3) != 0)
        return -1;
    return 0;
}

static int run_client(int argc, char **argv)
{
    smtpkit_tls_config cfg;
    smtpkit_tls_context *ctx;
    smtpkit_tls_conn *conn;
    smtpkit_io inner;
    const smtpkit_io *io;
    struct sockaddr_in sa;
    char eb[256], line[512];
    const char *version, *cipher;
    int fd, rc, n;
    smtpkit_tls_config_init(&cfg);
    cfg.ca_file = opt(argc, argv, "--ca");
    cfg.cert_file = opt(argc, argv, "--cert");
    cfg.key_file = opt(argc, argv, "--key");
    cfg.insecure_skip_verify = flag(argc, argv, "--insecure");
    rc = smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_CLIENT, &cfg, NULL, eb, sizeof eb);
    if (rc != 0) {
        fprintf(stderr, "tls_peer: %s\n", eb);
        return 2;
    }
    g_ctx = ctx;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(argv[2]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        smtpkit_tls_context_free(ctx);
        return 1;
    }
    memset(&inner, 0, sizeof inner);
    inner.read = fd_read;
    inner.write = fd_write;
    inner.close = fd_close;
    inner.ctx = &fd;
    rc = smtpkit_tls_conn_new(&conn, ctx, &inner, strcmp(argv[3], "-") ? argv[3] : NULL);
    if (rc != 0)
        return fail(NULL, "connection", rc);
    io = smtpkit_tls_conn_io(conn);
    if (flag(argc, argv, "--starttls")) {
        if (client_starttls(io) != 0) {
            fprintf(stderr, "tls_peer: SMTP dialogue before STARTTLS failed\n");
            fail(conn, "starttls", SMTPKIT_ERR_PROTOCOL);
            return 1;
        }
        rc = io->starttls(io->ctx, 0);
    } else {
        rc = smtpkit_tls_conn_handshake(conn);
    }
    if (rc != 0)
        return fail(conn, "handshake", rc);
    smtpkit_tls_conn_info(conn, &version, &cipher);
    fprintf(stderr, "tls_peer: %s %s\n", version, cipher);
    if (say(io, flag(argc, argv, "--starttls") ? "EHLO again.example\r\nQUIT\r\n" : "PING\n") != 0)
        return fail(conn, "write", SMTPKIT_ERR_IO);
    while ((n = read_line(io, line, sizeof line)) > 0)
        fputs(line, stdout);
    if (n < 0)
        return fail(conn, "read", n);
    io->close(io->ctx);
    smtpkit_tls_conn_free(conn);
    smtpkit_tls_context_free(ctx);
    return 0;
}

static int run_server(int argc, char **argv)
{
    smtpkit_tls_config cfg;
    smtpkit_tls_context *ctx;
    smtpkit_tls_conn *conn;
    smtpkit_io inner;
    const smtpkit_io *io;
    struct sockaddr_in sa;
    char eb[256], line[512], out[600], subj[200];
    const char *cc = opt(argc, argv, "--client-cert");
    int lfd, fd, rc, one = 1, starttls = flag(argc, argv, "--starttls");
    smtpkit_tls_config_init(&cfg);
    cfg.cert_file = argv[3];
    cfg.key_file = argv[4];
    cfg.ca_file = opt(argc, argv, "--ca");
    if (cc)
        cfg.client_cert = strcmp(cc, "required") == 0 ? SMTPKIT_TLS_CLIENT_CERT_REQUIRED
                                                      : SMTPKIT_TLS_CLIENT_CERT_OPTIONAL;
    rc = smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_SERVER, &cfg, NULL, eb, sizeof eb);
    if (rc != 0) {
        fprintf(stderr, "tls_peer: %s\n", eb);
        return 2;
    }
    g_ctx = ctx;
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(argv[2]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1) != 0) {
        perror("bind");
        smtpkit_tls_context_free(ctx);
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    fd = accept(lfd, NULL, NULL);
    close(lfd);
    memset(&inner, 0, sizeof inner);
    inner.read = fd_read;
    inner.write = fd_write;
    inner.close = fd_close;
    inner.ctx = &fd;
    if ((rc = smtpkit_tls_conn_new(&conn, ctx, &inner, NULL)) != 0)
        return fail(NULL, "connection", rc);
    io = smtpkit_tls_conn_io(conn);
    if (starttls) {
        /* Just enough SMTP for `openssl s_client -starttls smtp`. */
        say(io, "220 localhost ESMTP tls_peer\r\n");
        for (;;) {
            if (read_line(io, line, sizeof line) <= 0)
                return fail(conn, "SMTP dialogue", SMTPKIT_ERR_CLOSED) - 1;
            if (strncmp(line, "EHLO", 4) == 0) {
                say(io, "250-localhost\r\n250 STARTTLS\r\n");
            } else if (strncmp(line, "STARTTLS", 8) == 0) {
                say(io, "220 2.0.0 Ready to start TLS\r\n");
                break;
            } else {
                say(io, "500 5.5.1 what?\r\n");
            }
        }
        rc = io->starttls(io->ctx, 1);
    } else {
        rc = smtpkit_tls_conn_handshake(conn);
    }
    if (rc != 0)
        return fail(conn, "handshake", rc);
    rc = smtpkit_tls_conn_peer(conn, subj, sizeof subj);
    if (rc != 0)
        fprintf(stderr, "tls_peer: client certificate %s: %s\n", rc == 1 ? "verified" : "NOT verified",
                subj);
    while ((rc = read_line(io, line, sizeof line)) > 0) {
        line[strcspn(line, "\r\n")] = 0;
        snprintf(out, sizeof out, "echo: %s\r\n", line);
        say(io, out);
        if (strcmp(line, "QUIT") == 0)
            break;
    }
    io->close(io->ctx);
    if (rc < 0)
        return fail(conn, "read", rc);
    smtpkit_tls_conn_free(conn);
    smtpkit_tls_context_free(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 4 && strcmp(argv[1], "client") == 0)
        return run_client(argc, argv);
    if (argc >= 5 && strcmp(argv[1], "server") == 0)
        return run_server(argc, argv);
    fprintf(stderr, "usage: tls_peer client PORT NAME|- [--ca F] [--insecure] [--cert F --key F] "
                    "[--starttls]\n       tls_peer server PORT CERT KEY [--starttls] [--ca F "
                    "--client-cert required|optional]\n");
    return 64;
}
