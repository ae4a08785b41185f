/* The mbedTLS adapter (built only with SMTPKIT_WITH_MBEDTLS): both roles
 * over a socketpair, the server in a child process. Certificates come from
 * tests/interop/tls_certs.sh at test time. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "smtpkit/tls.h"
#include "test.h"

static char certdir[256];

static const char *cert(const char *name)
{
    static char buf[8][512];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 512, "%s/%s", certdir, name);
    return b;
}

/* ---- a blocking socket io with timeouts ---- */

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

static uint64_t mono_ms(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static smtpkit_io fd_io(int *fd, int with_clock)
{
    smtpkit_io io;
    memset(&io, 0, sizeof io);
    io.read = fd_read;
    io.write = fd_write;
    io.close = fd_close;
    io.now_ms = with_clock ? mono_ms : NULL;
    io.ctx = fd;
    return io;
}

/* Read one line (up to LF) from an io. */
static int read_line(const smtpkit_io *io, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        smtpkit_ssize r = io->read(io->ctx, buf + n, 1, 5000);
        if (r <= 0)
            return r == 0 ? -1 : (int)r;
        if (buf[n++] == '\n')
            break;
    }
    buf[n] = 0;
    return (int)n;
}

static int write_all(const smtpkit_io *io, const char *s)
{
    size_t len = strlen(s), off = 0;
    while (off < len) {
        smtpkit_ssize w = io->write(io->ctx, s + off, len - off, 5000);
        if (w <= 0)
            return (int)w;
        off += (size_t)w;
    }
    return 0;
}

/* ---- the server side, in a child ---- */

typedef struct server_opts {
    const char *cert;
    smtpkit_tls_client_cert client_cert;
    int starttls;      /* exchange "STARTTLS" in clear first */
    int silent;        /* never answer (handshake timeout test) */
    int garbage;       /* answer the ClientHello with plain text */
    int close_early;   /* close right away */
} server_opts;

/* Exit status: 0 when the exchange worked, 10 + step on failure. The
 * child reports the client certificate verdict through the line it sends. */
static int run_server(int fd, const server_opts *o)
{
    smtpkit_tls_config cfg;
    smtpkit_tls_context *ctx;
    smtpkit_tls_conn *conn;
    smtpkit_io inner = fd_io(&fd, 1);
    const smtpkit_io *io;
    char line[256], subj[200], reply[300];
    int rc, peer;
    if (o->silent) {
        sleep(3);
        return 0;
    }
    if (o->close_early) {
        char hello[8192]; /* all of the ClientHello, so the close is a clean EOF */
        if (read(fd, hello, sizeof hello) < 0)
            return 1;
        close(fd);
        return 0;
    }
    if (o->garbage) {
        if (read(fd, line, sizeof line) < 0)
            return 1;
        send(fd, "220 hello in clear\r\n", 20, MSG_NOSIGNAL);
        sleep(1);
        return 0;
    }
    smtpkit_tls_config_init(&cfg);
    cfg.cert_file = cert(o->cert ? o->cert : "server.pem");
    cfg.key_file = cert("server.key");
    cfg.ca_file = cert("ca.pem");
    cfg.client_cert = o->client_cert;
    if (smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_SERVER, &cfg, NULL, line, sizeof line) != 0)
        return 11;
    if (smtpkit_tls_conn_new(&conn, ctx, &inner, NULL) != 0)
        return 12;
    io = smtpkit_tls_conn_io(conn);
    if (o->starttls) {
        if (read_line(io, line, sizeof line) <= 0 || strcmp(line, "STARTTLS\r\n") != 0)
            return 13;
        if (write_all(io, "220 go ahead\r\n") != 0)
            return 14;
        if (io->starttls(io->ctx, 0) != SMTPKIT_ERR_INVALID_ARG)
            return 15; /* wrong role */
        rc = io->starttls(io->ctx, 1);
    } else {
        rc = smtpkit_tls_conn_handshake(conn);
    }
    if (rc != 0) {
        smtpkit_tls_conn_free(conn);
        smtpkit_tls_context_free(ctx);
        return 16;
    }
    if (io->starttls(io->ctx, 1) != SMTPKIT_ERR_STATE)
        return 17;
    if (read_line(io, line, sizeof line) <= 0)
        return 18;
    peer = smtpkit_tls_conn_peer(conn, subj, sizeof subj);
    snprintf(reply, sizeof reply, "250 got %.*s peer=%d subject=%s\r\n",
             (int)strcspn(line, "\r\n"), line, peer, subj);
    if (write_all(io, reply) != 0)
        return 19;
    /* the client closes: the next read is the end of the stream */
    if (io->read(io->ctx, line, sizeof line, 5000) != 0)
        return 20;
    io->close(io->ctx);
    smtpkit_tls_conn_free(conn);
    smtpkit_tls_context_free(ctx);
    return 0;
}

typedef struct result {
    int handshake;        /* client's handshake result */
    int server_status;    /* child's exit status */
    char err[256];        /* client's error text */
    char reply[300];      /* the server's line over TLS */
    char version[32];
    int early_read;       /* a read with timeout 0 before the server spoke */
    size_t pending;       /* decrypted bytes waiting after reading one byte */
} result;

/* One client run against a fresh server child. */
static void exchange(const smtpkit_tls_config *ccfg, const char *server_name,
                     const server_opts *so, result *r)
{
    int sv[2], st;
    pid_t pid;
    smtpkit_tls_context *ctx;
    smtpkit_tls_conn *conn;
    smtpkit_io inner;
    const smtpkit_io *io;
    char ebuf[256];
    memset(r, 0, sizeof *r);
    r->server_status = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        abort();
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        _exit(run_server(sv[1], so));
    }
    close(sv[1]);
    inner = fd_io(&sv[0], 1);
    r->handshake = smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_CLIENT, ccfg, NULL, ebuf, sizeof ebuf);
    if (r->handshake == 0) {
        r->handshake = smtpkit_tls_conn_new(&conn, ctx, &inner, server_name);
        if (r->handshake == 0) {
            io = smtpkit_tls_conn_io(conn);
            if (so->starttls) {
                char line[100];
                write_all(io, "STARTTLS\r\n");
                read_line(io, line, sizeof line);
                r->handshake = io->starttls(io->ctx, 0);
            } else {
                r->handshake = smtpkit_tls_conn_handshake(conn);
            }
            snprintf(r->err, sizeof r->err, "%s", smtpkit_tls_conn_error(conn));
            if (r->handshake == 0) {
                const char *v = NULL;
                smtpkit_tls_conn_info(conn, &v, NULL);
                snprintf(r->version, sizeof r->version, "%s", v ? v : "");
                /* nothing to read yet: a timeout, and the connection stays usable */
                r->early_read = (int)io->read(io->ctx, r->reply, sizeof r->reply, 0);
                write_all(io, "EHLO client.example\r\n");
                if (io->read(io->ctx, r->reply, 1, 5000) == 1) {
                    r->pending = smtpkit_tls_conn_pending(conn);
                    if (read_line(io, r->reply + 1, sizeof r->reply - 1) < 0)
                        r->reply[0] = 0;
                }
                io->close(io->ctx); /* close_notify, then the socket */
            }
            smtpkit_tls_conn_free(conn);
        }
        smtpkit_tls_context_free(ctx);
    } else {
        snprintf(r->err, sizeof r->err, "%s", ebuf);
    }
    if (sv[0] >= 0)
        close(sv[0]);
    if (waitpid(pid, &st, 0) == pid && WIFEXITED(st))
        r->server_status = WEXITSTATUS(st);
}

static smtpkit_tls_config client_cfg(void)
{
    smtpkit_tls_config c;
    smtpkit_tls_config_init(&c);
    c.ca_file = cert("ca.pem");
    return c;
}

TEST(verified_handshake_and_data)
{
    smtpkit_tls_config c = client_cfg();
    server_opts so = {0};
    result r;
    exchange(&c, "localhost", &so, &r);
    CHECK_INT(r.handshake, 0);
    CHECK_STR(r.err, "");
    CHECK_STR(r.reply, "250 got EHLO client.example peer=0 subject=\r\n");
    CHECK(strncmp(r.version, "TLSv1.", 6) == 0 && r.version[6] >= '2');
    CHECK_INT(r.early_read, SMTPKIT_ERR_TIMEOUT);
    CHECK_INT(r.pending, strlen(r.reply) - 1);
    CHECK_INT(r.server_status, 0);
}

TEST(starttls_in_place)
{
    smtpkit_tls_config c = client_cfg();
    server_opts so = {0};
    result r;
    so.starttls = 1;
    exchange(&c, "localhost", &so, &r);
    CHECK_INT(r.handshake, 0);
    CHECK_STR(r.reply, "250 got EHLO client.example peer=0 subject=\r\n");
    CHECK_INT(r.server_status, 0);
}

TEST(refuses_expired_wrong_name_and_untrusted)
{
    static const struct {
        const char *cert;
        const char *name;
        const char *why;
    } t[] = {
        {"expired.pem", "localhost", "expired"},
        {"wrongname.pem", "localhost", "CN"},
        {"server.pem", "mail.example.org", "CN"},
        {"selfsigned.pem", "localhost", "not correctly signed"},
    };
    size_t i;
    for (i = 0; i < sizeof t / sizeof t[0]; i++) {
        smtpkit_tls_config c = client_cfg();
        server_opts so = {0};
        result r;
        so.cert = t[i].cert;
        exchange(&c, t[i].name, &so, &r);
        CHECK_INT(r.handshake, SMTPKIT_ERR_TLS);
        if (!strstr(r.err, t[i].why) || !strstr(r.err, "certificate verification failed"))
            fprintf(stderr, "case %u: error text \"%s\"\n", (unsigned)i, r.err);
        CHECK(strstr(r.err, t[i].why) != NULL);
        CHECK(r.reply[0] == 0);
        CHECK_INT(r.server_status, 16); /* the server's handshake failed too */
    }
}

TEST(insecure_skip_verify_accepts_anything)
{
    static const char *certs[] = {"expired.pem", "wrongname.pem", "selfsigned.pem"};
    size_t i;
    for (i = 0; i < 3; i++) {
        smtpkit_tls_config c;
        server_opts so = {0};
        result r;
        smtpkit_tls_config_init(&c);
        c.insecure_skip_verify = 1;
        so.cert = certs[i];
        exchange(&c, i == 2 ? NULL : "localhost", &so, &r);
        CHECK_INT(r.handshake, 0);
        CHECK(strncmp(r.reply, "250 got EHLO", 12) == 0);
        CHECK_INT(r.server_status, 0);
    }
}

TEST(client_certificates)
{
    smtpkit_tls_config c = client_cfg();
    server_opts so = {0};
    result r;
    /* required, none given: the handshake fails */
    so.client_cert = SMTPKIT_TLS_CLIENT_CERT_REQUIRED;
    exchange(&c, "localhost", &so, &r);
    CHECK(r.handshake != 0);
    CHECK_INT(r.server_status, 16);
    /* required and given */
    c.cert_file = cert("client.pem");
    c.key_file = cert("client.key");
    exchange(&c, "localhost", &so, &r);
    CHECK_INT(r.handshake, 0);
    CHECK_STR(r.reply, "250 got EHLO client.example peer=1 subject=CN=smtpkit-client\r\n");
    CHECK_INT(r.server_status, 0);
    /* optional, none given */
    c = client_cfg();
    so.client_cert = SMTPKIT_TLS_CLIENT_CERT_OPTIONAL;
    exchange(&c, "localhost", &so, &r);
    CHECK_INT(r.handshake, 0);
    CHECK_STR(r.reply, "250 got EHLO client.example peer=0 subject=\r\n");
    /* optional, an untrusted one given: accepted, reported as unverified */
    c.cert_file = cert("selfsigned.pem");
    c.key_file = cert("server.key");
    exchange(&c, "localhost", &so, &r);
    CHECK_INT(r.handshake, 0);
    CHECK_STR(r.reply, "250 got EHLO client.example peer=-108 subject=CN=localhost\r\n");
}

TEST(transport_failures)
{
    smtpkit_tls_config c = client_cfg();
    server_opts so = {0};
    result r;
    uint64_t t0;
    /* a server that never answers: the handshake times out */
    c.handshake_timeout_ms = 300;
    so.silent = 1;
    t0 = mono_ms(NULL);
    exchange(&c, "localhost", &so, &r);
    CHECK_INT(r.handshake, SMTPKIT_ERR_TIMEOUT);
    CHECK(strstr(r.err, "timeout") != NULL);
    CHECK(mono_ms(NULL) - t0 < 2900 + 1000); /* the child sleeps 3 s; we waited for it */
    /* a server that hangs up */
    c = client_cfg();
    memset(&so, 0, sizeof so);
    so.close_early = 1;
    exchange(&c, "localhost", &so, &r);
    CHECK_INT(r.handshake, SMTPKIT_ERR_CLOSED);
    /* a server that answers in plain text */
    memset(&so, 0, sizeof so);
    so.garbage = 1;
    exchange(&c, "localhost", &so, &r);
    CHECK_INT(r.handshake, SMTPKIT_ERR_TLS);
    CHECK(r.err[0] != 0);
}

TEST(configuration_errors)
{
    smtpkit_tls_config c;
    smtpkit_tls_context *ctx = (smtpkit_tls_context *)1;
    smtpkit_tls_conn *conn;
    char eb[256];
    int fd = -1;
    smtpkit_io inner = fd_io(&fd, 0), noread = inner;
    noread.read = NULL;

    CHECK_INT(smtpkit_tls_context_new(NULL, SMTPKIT_TLS_CLIENT, NULL, NULL, NULL, 0),
              SMTPKIT_ERR_INVALID_ARG);
    /* a server needs a certificate and key */
    CHECK_INT(smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_SERVER, NULL, NULL, eb, sizeof eb),
              SMTPKIT_ERR_INVALID_ARG);
    CHECK(ctx == NULL);
    CHECK(strstr(eb, "certificate") != NULL);
    smtpkit_tls_config_init(&c);
    CHECK_INT(smtpkit_tls_context_new(&ctx, (smtpkit_tls_role)7, &c, NULL, eb, sizeof eb),
              SMTPKIT_ERR_INVALID_ARG);
    c.version = 99;
    CHECK_INT(smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_CLIENT, &c, NULL, eb, sizeof eb),
              SMTPKIT_ERR_INVALID_ARG);
    /* missing files */
    smtpkit_tls_config_init(&c);
    c.ca_file = "/nonexistent/ca.pem";
    CHECK_INT(smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_CLIENT, &c, NULL, eb, sizeof eb),
              SMTPKIT_ERR_TLS);
    CHECK(strstr(eb, "/nonexistent/ca.pem") != NULL);
    smtpkit_tls_config_init(&c);
    c.cert_file = cert("server.pem");
    c.key_file = "/nonexistent/key.pem";
    CHECK_INT(smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_SERVER, &c, NULL, eb, sizeof eb),
              SMTPKIT_ERR_TLS);
    CHECK(strstr(eb, "/nonexistent/key.pem") != NULL);
    /* a key of another certificate */
    c.key_file = cert("client.key");
    CHECK_INT(smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_SERVER, &c, NULL, eb, sizeof eb),
              SMTPKIT_ERR_INVALID_ARG);
    CHECK(strstr(eb, "does not match") != NULL);
    /* a client certificate without its key */
    smtpkit_tls_config_init(&c);
    c.cert_file = cert("client.pem");
    CHECK_INT(smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_CLIENT, &c, NULL, eb, sizeof eb),
              SMTPKIT_ERR_INVALID_ARG);
    /* a directory with no certificate */
    smtpkit_tls_config_init(&c);
    c.ca_dir = "/var/empty";
    {
        int rc = smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_CLIENT, &c, NULL, eb, sizeof eb);
        CHECK_INT(rc, SMTPKIT_ERR_TLS);
        if (rc == 0)
            smtpkit_tls_context_free(ctx);
    }
    /* the system CAs by default */
    smtpkit_tls_config_init(&c);
    CHECK_INT(smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_CLIENT, &c, NULL, eb, sizeof eb), 0);
    /* a verifying client needs a sane name */
    CHECK_INT(smtpkit_tls_conn_new(&conn, ctx, &inner, NULL), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_tls_conn_new(&conn, ctx, &inner, "bad name"), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_tls_conn_new(&conn, ctx, &inner, ""), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_tls_conn_new(&conn, ctx, &noread, "x"), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_tls_conn_new(&conn, NULL, &inner, "x"), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_tls_conn_new(NULL, ctx, &inner, "x"), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_tls_conn_new(&conn, ctx, &inner, "mx.example.org"), 0);
    CHECK(!smtpkit_tls_conn_active(conn));
    CHECK(smtpkit_tls_conn_io(conn)->now_ms == NULL);
    CHECK_INT(smtpkit_tls_conn_pending(conn), 0);
    CHECK_INT(smtpkit_tls_conn_info(conn, NULL, NULL), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_tls_conn_peer(conn, eb, sizeof eb), SMTPKIT_ERR_STATE);
    CHECK_STR(smtpkit_tls_conn_error(conn), "");
    smtpkit_tls_conn_free(conn);
    smtpkit_tls_context_free(ctx);
    smtpkit_tls_conn_free(NULL);
    smtpkit_tls_context_free(NULL);
    CHECK(smtpkit_tls_conn_io(NULL) == NULL);
    CHECK_INT(smtpkit_tls_conn_handshake(NULL), SMTPKIT_ERR_INVALID_ARG);
}

TEST(allocator_hook)
{
    test_alloc a = {0};
    smtpkit_mem m = test_alloc_mem(&a);
    smtpkit_tls_config c = client_cfg();
    smtpkit_tls_context *ctx;
    smtpkit_tls_conn *conn;
    int fd = -1;
    smtpkit_io inner = fd_io(&fd, 0);
    CHECK_INT(smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_CLIENT, &c, &m, NULL, 0), 0);
    CHECK_INT(smtpkit_tls_conn_new(&conn, ctx, &inner, "localhost"), 0);
    CHECK_INT(a.allocs, 2);
    smtpkit_tls_conn_free(conn);
    smtpkit_tls_context_free(ctx);
    CHECK_INT(a.bytes_live, 0);
    a.fail_at = (long)a.allocs + 1;
    CHECK_INT(smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_CLIENT, &c, &m, NULL, 0), SMTPKIT_ERR_NOMEM);
}

int main(void)
{
    const char *src = getenv("SMTPKIT_SOURCE_DIR");
    char cmd[1024];
    snprintf(certdir, sizeof certdir, "%s/tls-test-certs", getenv("SMTPKIT_BUILD_DIR") ? getenv("SMTPKIT_BUILD_DIR") : "/tmp");
    snprintf(cmd, sizeof cmd, "bash '%s/tests/interop/tls_certs.sh' '%s'", src ? src : ".", certdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot generate certificates: %s\n", cmd);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    RUN(verified_handshake_and_data);
    RUN(starttls_in_place);
    RUN(refuses_expired_wrong_name_and_untrusted);
    RUN(insecure_skip_verify_accepts_anything);
    RUN(client_certificates);
    RUN(transport_failures);
    RUN(configuration_errors);
    RUN(allocator_hook);
    return test_summary();
}
