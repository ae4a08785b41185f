/* The POSIX receiving side: listener, event loop (epoll and poll), and
 * smtpkit_server_run() over a scripted smtpkit_io. Real sockets on
 * 127.0.0.1, one process: the test drives the loop with run_once. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wformat-nonliteral" /* test.h's test_log_add */
#endif
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtpkit/posix.h"
#include "smtpkit/server.h"
#include "test.h"

/* ------------------------------------------------------------------------ */
/* an application for the loop                                               */

typedef struct tapp {
    smtpkit_server_config cfg;
    smtpkit_server_callbacks cb;
    int accepted, closed, aborts, messages;
    uint64_t body_bytes;
    int pause_rcpt;          /* on_rcpt pauses; the test resumes */
    smtpkit_loop_conn *paused_conn;
    test_log body;
    int received_header;     /* the body started with "Received: " */
} tapp;

typedef struct tsess {
    tapp *app;
    smtpkit_loop_conn *conn;
    int first_body;
} tsess;

static int t_rcpt(void *u, const smtpkit_server_rcpt *r, smtpkit_server_decision *d)
{
    tsess *s = (tsess *)u;
    (void)r;
    (void)d;
    if (s->app->pause_rcpt) {
        s->app->paused_conn = s->conn;
        return SMTPKIT_PAUSE;
    }
    return 0;
}

static int t_data(void *u, smtpkit_server_decision *d)
{
    tsess *s = (tsess *)u;
    (void)d;
    s->first_body = 1;
    test_log_reset(&s->app->body);
    return 0;
}

static int t_body(void *u, const char *p, size_t n)
{
    tsess *s = (tsess *)u;
    if (s->first_body && n >= 10 && memcmp(p, "Received: ", 10) == 0)
        s->app->received_header++;
    s->first_body = 0;
    s->app->body_bytes += n;
    if (s->app->body.len < 100000)
        test_log_bytes(&s->app->body, p, n);
    return 0;
}

static int t_end(void *u, const smtpkit_server_message *m, smtpkit_server_decision *d)
{
    tsess *s = (tsess *)u;
    (void)m;
    (void)d;
    s->app->messages++;
    return 0;
}

static void t_abort(void *u, int reason)
{
    (void)reason;
    ((tsess *)u)->app->aborts++;
}

static int t_trace(void *u, smtpkit_server_trace *t)
{
    return smtpkit_loop_conn_trace(((tsess *)u)->conn, t);
}

static smtpkit_server *t_accept(void *user, smtpkit_loop_conn *conn, unsigned li)
{
    tapp *a = (tapp *)user;
    tsess *s = (tsess *)calloc(1, sizeof *s);
    (void)li;
    s->app = a;
    s->conn = conn;
    a->accepted++;
    smtpkit_loop_conn_set_user(conn, s);
    CHECK(smtpkit_loop_conn_session(conn) == NULL);
    CHECK(smtpkit_loop_conn_fd(conn) >= 0);
    return smtpkit_server_new(&a->cfg, &a->cb, s, NULL);
}

static void t_close(void *user, smtpkit_loop_conn *conn, void *su, int reason)
{
    tapp *a = (tapp *)user;
    (void)reason;
    CHECK(smtpkit_loop_conn_user(conn) == su);
    a->closed++;
    free(su);
}

static void app_init(tapp *a)
{
    memset(a, 0, sizeof *a);
    smtpkit_server_config_init(&a->cfg);
    a->cfg.hostname = "mx.test";
    a->cb.on_rcpt = t_rcpt;
    a->cb.on_data = t_data;
    a->cb.on_body = t_body;
    a->cb.on_data_end = t_end;
    a->cb.on_abort = t_abort;
    a->cb.on_trace = t_trace;
}

static smtpkit_loop *loop_new(tapp *a, unsigned flags, unsigned max_sessions, int *port)
{
    smtpkit_loop_config lc;
    smtpkit_loop *l;
    char bound[64];
    int fd;
    smtpkit_loop_config_init(&lc);
    lc.flags = flags;
    lc.max_sessions = max_sessions;
    lc.hostname = "mx.test";
    lc.on_accept = t_accept;
    lc.on_close = t_close;
    lc.user = a;
    l = smtpkit_loop_new(&lc, NULL);
    CHECK(l != NULL);
    fd = smtpkit_posix_listen("127.0.0.1:0", 16, bound, sizeof bound);
    CHECK(fd >= 0);
    CHECK(strncmp(bound, "127.0.0.1:", 10) == 0);
    *port = atoi(bound + 10);
    CHECK(*port > 0);
    CHECK_INT(smtpkit_loop_add_listener(l, fd), 0);
    return l;
}

static int client(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, 0);
        if (w <= 0) {
            CHECK(w > 0);
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s) { send_all(fd, s, strlen(s)); }

/* Run the loop until the client has received `until` (or EOF when until is
 * NULL), at most `ms` milliseconds. Returns what arrived (caller frees). */
static char *pump(smtpkit_loop *l, int fd, const char *until, int ms, int *eof)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = (char *)malloc(cap);
    uint64_t end = smtpkit_posix_monotonic_ms() + (uint64_t)ms;
    *eof = 0;
    buf[0] = 0;
    while (smtpkit_posix_monotonic_ms() < end) {
        ssize_t n;
        smtpkit_loop_run_once(l, 5);
        for (;;) {
            if (len + 4096 > cap) {
                cap *= 2;
                buf = (char *)realloc(buf, cap);
            }
            n = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
            if (n > 0) {
                len += (size_t)n;
                buf[len] = 0;
                continue;
            }
            if (n == 0)
                *eof = 1;
            break;
        }
        if (*eof || (until && strstr(buf, until)))
            break;
    }
    return buf;
}

TEST(loop_serves_a_pipelined_transaction)
{
    unsigned mode;
    for (mode = 0; mode < 2; mode++) {
        tapp a;
        int port, fd, eof;
        smtpkit_loop *l;
        char *got;
        static const char conv[] = "EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@mx.test>\r\n"
                                   "DATA\r\n";
        app_init(&a);
        l = loop_new(&a, mode ? SMTPKIT_LOOP_USE_POLL : 0, 10, &port);
        fd = client(port);
        got = pump(l, fd, "\r\n", 2000, &eof);
        CHECK_STR(got, "220 mx.test ESMTP smtpkit\r\n");
        free(got);
        CHECK_INT(smtpkit_loop_sessions(l), 1);
        send_all(fd, conv, sizeof conv - 1);
        got = pump(l, fd, "354 ", 2000, &eof);
        CHECK(strstr(got, "250 2.1.5 Recipient OK\r\n354 ") != NULL);
        free(got);
        send_str(fd, "Subject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n");
        got = pump(l, fd, NULL, 2000, &eof);
        CHECK(eof);
        CHECK_STR(got, "250 2.0.0 Message accepted for delivery\r\n"
                       "221 2.0.0 Service closing transmission channel\r\n");
        free(got);
        CHECK_INT(a.messages, 1);
        CHECK_INT(a.received_header, 1);
        CHECK(strstr(test_log_str(&a.body), "by mx.test with ESMTP id ") != NULL);
        CHECK(strstr(test_log_str(&a.body), "([127.0.0.1])") != NULL);
        CHECK(strstr(test_log_str(&a.body), "Subject: x\\r\\n\\r\\n.dot\\r\\n") != NULL);
        CHECK_INT(a.closed, 1);
        CHECK_INT(smtpkit_loop_sessions(l), 0);
        close(fd);
        smtpkit_loop_free(l);
        test_log_free(&a.body);
    }
}

TEST(loop_big_message_and_eof_mid_data)
{
    tapp a;
    int port, fd, eof;
    smtpkit_loop *l;
    char *got, *msg;
    size_t i, n = 3 * 1024 * 1024;
    app_init(&a);
    a.cfg.flags = SMTPKIT_SERVER_NO_RECEIVED;
    l = loop_new(&a, 0, 10, &port);
    fd = client(port);
    send_str(fd, "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
    got = pump(l, fd, "354 ", 2000, &eof);
    free(got);
    msg = (char *)malloc(n);
    for (i = 0; i < n; i++)
        msg[i] = (i % 80 == 78) ? '\r' : (i % 80 == 79) ? '\n' : (char)('a' + i % 26);
    {
        /* the loop must run while we write: the socket buffer is smaller */
        size_t off = 0;
        while (off < n) {
            ssize_t w = send(fd, msg + off, n - off, MSG_DONTWAIT);
            if (w > 0)
                off += (size_t)w;
            smtpkit_loop_run_once(l, 1);
        }
    }
    send_str(fd, "\r\n.\r\n");
    got = pump(l, fd, "\r\n", 5000, &eof);
    CHECK_STR(got, "250 2.0.0 Message accepted for delivery\r\n");
    free(got);
    CHECK_INT(a.body_bytes, n + 2);
    /* a second message, cut before its end: aborted, not delivered */
    send_str(fd, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
    got = pump(l, fd, "354 ", 2000, &eof);
    free(got);
    send_str(fd, "partial\r\n");
    got = pump(l, fd, NULL, 100, &eof);
    free(got);
    close(fd);
    for (i = 0; i < 50 && a.closed == 0; i++)
        smtpkit_loop_run_once(l, 10);
    CHECK_INT(a.messages, 1);
    CHECK_INT(a.aborts, 1);
    CHECK_INT(a.closed, 1);
    free(msg);
    smtpkit_loop_free(l);
    test_log_free(&a.body);
}

TEST(loop_max_sessions)
{
    tapp a;
    int port, fd1, fd2, eof;
    smtpkit_loop *l;
    char *got;
    app_init(&a);
    l = loop_new(&a, 0, 1, &port);
    fd1 = client(port);
    got = pump(l, fd1, "\r\n", 2000, &eof);
    free(got);
    fd2 = client(port);
    got = pump(l, fd2, NULL, 2000, &eof);
    CHECK(eof);
    CHECK_STR(got, "421 4.7.0 mx.test Too many connections, try again later\r\n");
    free(got);
    CHECK_INT(a.accepted, 1);
    close(fd1);
    close(fd2);
    smtpkit_loop_free(l);
    CHECK_INT(a.closed, 1);
    test_log_free(&a.body);
}

TEST(loop_timeouts_and_stop)
{
    tapp a;
    int port, fd, fd2, eof;
    smtpkit_loop *l;
    char *got;
    uint64_t t0;
    app_init(&a);
    a.cfg.timeout_command_ms = 300;
    l = loop_new(&a, 0, 10, &port);
    fd = client(port);
    t0 = smtpkit_posix_monotonic_ms();
    got = pump(l, fd, NULL, 3000, &eof);
    CHECK(eof);
    CHECK(smtpkit_posix_monotonic_ms() - t0 >= 250);
    CHECK_STR(got, "220 mx.test ESMTP smtpkit\r\n421 4.4.2 mx.test Timeout exceeded, closing connection\r\n");
    free(got);
    close(fd);
    /* stop: the session in flight gets 421, run returns 0 */
    a.cfg.timeout_command_ms = 0;
    fd = client(port);
    got = pump(l, fd, "\r\n", 2000, &eof);
    free(got);
    send_str(fd, "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nsome");
    got = pump(l, fd, "354 ", 2000, &eof);
    free(got);
    smtpkit_loop_stop(l);
    CHECK_INT(smtpkit_loop_run(l), 0);
    got = pump(l, fd, NULL, 500, &eof);
    CHECK(eof);
    CHECK_STR(got, "421 4.3.2 mx.test Service shutting down\r\n");
    free(got);
    CHECK_INT(a.aborts, 1);
    CHECK_INT(smtpkit_loop_sessions(l), 0);
    /* the listener is closed */
    fd2 = socket(AF_INET, SOCK_STREAM, 0);
    {
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons((unsigned short)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK(connect(fd2, (struct sockaddr *)&sa, sizeof sa) != 0);
    }
    close(fd2);
    close(fd);
    smtpkit_loop_free(l);
    test_log_free(&a.body);
}

TEST(loop_pause_keeps_pipelined_input)
{
    tapp a;
    int port, fd, eof, i;
    smtpkit_loop *l;
    char *got;
    app_init(&a);
    a.pause_rcpt = 1;
    a.cfg.flags = SMTPKIT_SERVER_NO_RECEIVED;
    l = loop_new(&a, 0, 10, &port);
    fd = client(port);
    got = pump(l, fd, "\r\n", 2000, &eof);
    free(got);
    send_str(fd, "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@d>\r\nDATA\r\n");
    got = pump(l, fd, "Sender OK\r\n", 2000, &eof);
    free(got);
    for (i = 0; i < 10; i++)
        smtpkit_loop_run_once(l, 5);
    CHECK(a.paused_conn != NULL);
    CHECK(smtpkit_server_paused(smtpkit_loop_conn_session(a.paused_conn)));
    a.pause_rcpt = 0;
    {
        smtpkit_server_decision d = {550, "5.1.1", "No"};
        CHECK_INT(smtpkit_loop_conn_resume(a.paused_conn, &d), 0);
    }
    got = pump(l, fd, "354 ", 2000, &eof);
    CHECK_STR(got, "550 5.1.1 No\r\n250 2.1.5 Recipient OK\r\n"
                   "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    free(got);
    send_str(fd, "x\r\n.\r\n");
    got = pump(l, fd, "\r\n", 2000, &eof);
    CHECK_STR(got, "250 2.0.0 Message accepted for delivery\r\n");
    free(got);
    /* again: the connection now peeks instead of stashing */
    a.pause_rcpt = 1;
    a.paused_conn = NULL;
    send_str(fd, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\ny\r\n.\r\n");
    got = pump(l, fd, "Sender OK\r\n", 2000, &eof);
    free(got);
    for (i = 0; i < 10; i++)
        smtpkit_loop_run_once(l, 5);
    CHECK(a.paused_conn != NULL);
    a.pause_rcpt = 0;
    CHECK_INT(smtpkit_loop_conn_resume(a.paused_conn, NULL), 0);
    got = pump(l, fd, "accepted for delivery\r\n", 2000, &eof);
    CHECK_STR(got, "250 2.1.5 Recipient OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                   "250 2.0.0 Message accepted for delivery\r\n");
    free(got);
    CHECK_INT(a.messages, 2);
    close(fd);
    smtpkit_loop_free(l);
    test_log_free(&a.body);
}

TEST(listen_addresses)
{
    char bound[80];
    int fd;
    CHECK_INT(smtpkit_posix_listen("nonsense", 0, bound, sizeof bound), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_posix_listen("::1:25", 0, bound, sizeof bound), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_posix_listen("[::1]25", 0, bound, sizeof bound), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_posix_listen("127.0.0.1:http", 0, bound, sizeof bound),
              SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_posix_listen(NULL, 0, bound, sizeof bound), SMTPKIT_ERR_INVALID_ARG);
    fd = smtpkit_posix_listen("*:0", 0, bound, sizeof bound);
    CHECK(fd >= 0);
    CHECK(strncmp(bound, "0.0.0.0:", 8) == 0);
    close(fd);
    fd = smtpkit_posix_listen("[::1]:0", 0, bound, sizeof bound);
    if (fd >= 0) { /* only where IPv6 loopback exists */
        CHECK(strncmp(bound, "[::1]:", 6) == 0);
        close(fd);
    }
    fd = smtpkit_posix_listen("localhost:0", 0, bound, sizeof bound);
    CHECK(fd >= 0);
    close(fd);
}

/* ------------------------------------------------------------------------ */
/* smtpkit_server_run over a scripted io                                     */

typedef struct script_io {
    const char *const *chunks; /* read returns these in turn; then timeouts */
    size_t next;
    test_log out;
    int starttls_calls;
    int waited;
} script_io;

static smtpkit_ssize s_read(void *ctx, char *buf, size_t len, int timeout_ms)
{
    script_io *s = (script_io *)ctx;
    const char *c = s->chunks[s->next];
    size_t n;
    if (!c) {
        s->waited += timeout_ms;
        return SMTPKIT_ERR_TIMEOUT;
    }
    if (!*c) {
        s->next++;
        return 0; /* "" = the client closes */
    }
    n = strlen(c);
    CHECK(n <= len);
    memcpy(buf, c, n);
    s->next++;
    return (smtpkit_ssize)n;
}

static smtpkit_ssize s_write(void *ctx, const char *buf, size_t len, int timeout_ms)
{
    script_io *s = (script_io *)ctx;
    (void)timeout_ms;
    /* write in pieces of at most 7 bytes to exercise partial writes */
    if (len > 7)
        len = 7;
    test_log_bytes(&s->out, buf, len);
    return (smtpkit_ssize)len;
}

static int s_starttls(void *ctx, int is_server)
{
    script_io *s = (script_io *)ctx;
    CHECK(is_server);
    s->starttls_calls++;
    return 0;
}

static int run_script(const smtpkit_server_config *cfg, const char *const *chunks,
                      script_io *s, int with_tls)
{
    smtpkit_io io;
    smtpkit_server *srv;
    int r;
    memset(&io, 0, sizeof io);
    memset(s, 0, sizeof *s);
    s->chunks = chunks;
    io.read = s_read;
    io.write = s_write;
    io.starttls = with_tls ? s_starttls : NULL;
    io.ctx = s;
    srv = smtpkit_server_new(cfg, NULL, NULL, NULL);
    r = smtpkit_server_run(srv, &io);
    smtpkit_server_free(srv);
    return r;
}

TEST(server_run_over_an_io)
{
    smtpkit_server_config cfg;
    script_io s;
    static const char *const quit[] = {"EHLO c\r\nMAIL FROM:<a@b>\r\n", "RCPT TO:<c@d>\r\nDATA\r\n",
                                       "hi\r\n.\r\nQU", "IT\r\nNOOP\r\n", NULL};
    static const char *const gone[] = {"HELO c\r\n", "", NULL};
    static const char *const idle[] = {"HELO c\r\n", NULL};
    static const char *const tls[] = {"EHLO c\r\nSTARTTLS\r\nNOOP\r\n", "EHLO c\r\nQUIT\r\n", NULL};
    smtpkit_server_config_init(&cfg);
    cfg.hostname = "mx.test";
    CHECK_INT(run_script(&cfg, quit, &s, 0), 0);
    CHECK(strstr(test_log_str(&s.out), "354 Start") != NULL);
    CHECK(strstr(test_log_str(&s.out),
                  "250 2.0.0 Message accepted for delivery\\r\\n"
                  "221 2.0.0 Service closing transmission channel\\r\\n") != NULL);
    CHECK(strstr(test_log_str(&s.out), "250 2.0.0 OK\\r") == NULL); /* NOOP after QUIT ignored */
    test_log_free(&s.out);

    CHECK_INT(run_script(&cfg, gone, &s, 0), SMTPKIT_ERR_CLOSED);
    test_log_free(&s.out);

    /* no clock in the io: the time waited counts */
    cfg.timeout_command_ms = 5000;
    CHECK_INT(run_script(&cfg, idle, &s, 0), SMTPKIT_ERR_TIMEOUT);
    CHECK(strstr(test_log_str(&s.out), "421 4.4.2 mx.test Timeout exceeded") != NULL);
    CHECK(s.waited >= 5000 && s.waited < 6000);
    test_log_free(&s.out);

    cfg.flags = SMTPKIT_SERVER_STARTTLS;
    CHECK_INT(run_script(&cfg, tls, &s, 1), 0);
    CHECK_INT(s.starttls_calls, 1);
    /* the NOOP pipelined after STARTTLS got no reply; EHLO again after TLS */
    CHECK(strstr(test_log_str(&s.out), "220 2.0.0 Ready to start TLS\\r\\n250-mx.test") != NULL);
    CHECK(strstr(test_log_str(&s.out), "250 2.0.0 OK\\r") == NULL);
    test_log_free(&s.out);
    CHECK_INT(run_script(&cfg, tls, &s, 0), SMTPKIT_ERR_NOT_SUPPORTED);
    test_log_free(&s.out);
    CHECK_INT(smtpkit_server_run(NULL, NULL), SMTPKIT_ERR_INVALID_ARG);
}

TEST(socket_io_and_trace)
{
    int sv[2];
    smtpkit_io io;
    smtpkit_posix_socket sock;
    char buf[64], tb[256];
    smtpkit_server_trace t;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    smtpkit_posix_socket_io_init(&io, &sock, sv[0]);
    CHECK_INT(io.write(io.ctx, "hello", 5, 100), 5);
    CHECK_INT(read(sv[1], buf, sizeof buf), 5);
    CHECK_INT(io.read(io.ctx, buf, sizeof buf, 50), SMTPKIT_ERR_TIMEOUT);
    CHECK_INT(write(sv[1], "abc", 3), 3);
    CHECK_INT(io.read(io.ctx, buf, sizeof buf, 50), 3);
    CHECK(io.now_ms(io.ctx) > 0);
    CHECK_INT(smtpkit_posix_trace(&t, sv[0], "ID", tb, sizeof tb), 0);
    CHECK(t.date.len > 20);
    CHECK_MEM(t.id.ptr, t.id.len, "ID");
    CHECK_INT(t.addr.len, 0); /* a UNIX socket has no IP address */
    CHECK_INT(smtpkit_posix_trace(&t, sv[0], "ID", tb, 10), SMTPKIT_ERR_BUFFER_TOO_SMALL);
    close(sv[1]);
    CHECK_INT(io.read(io.ctx, buf, sizeof buf, 50), 0);
    io.close(io.ctx);
    CHECK_INT(sock.fd, -1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(loop_serves_a_pipelined_transaction);
    RUN(loop_big_message_and_eof_mid_data);
    RUN(loop_max_sessions);
    RUN(loop_timeouts_and_stop);
    RUN(loop_pause_keeps_pipelined_input);
    RUN(listen_addresses);
    RUN(server_run_over_an_io);
    RUN(socket_io_and_trace);
    return test_summary();
}
