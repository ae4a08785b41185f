/*
 * custom_io: bring your own transport (needs: posix, for the test double).
 *
 * smtpkit never touches a socket itself: smtpkit_client_run() and
 * smtpkit_server_run() drive a session over an smtpkit_io, five function
 * pointers and a context that you write for your platform. This program
 * writes one for a plain file descriptor using only recv(), send() and
 * poll() -- the calls lwIP offers under the same names (lwip_recv,
 * lwip_send, lwip_poll, or plain names with LWIP_COMPAT_SOCKETS), so the
 * same code is an lwIP/RTOS port (see docs/rtos.md). The "network" is a
 * socketpair: a server task and a client task run in one process and talk
 * to each other, and the program checks that the message arrived intact.
 *
 *   usage: custom_io            prints the delivered message; exit 0 when
 *                               it matches what was sent, 1 otherwise
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smtpkit/smtpkit.h"

#ifndef MSG_NOSIGNAL /* not on every system: there, ignore SIGPIPE instead */
#define MSG_NOSIGNAL 0
#endif

/* ---- the transport: what a port to a new platform writes --------------- */

typedef struct fd_io {
    int fd;
} fd_io;

/* Wait until `fd` is ready for `events`, at most timeout_ms (-1: forever). */
static int wait_ready(int fd, short events, int timeout_ms)
{
    struct pollfd p;
    int r;
    p.fd = fd;
    p.events = events;
    p.revents = 0;
    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return SMTPKIT_ERR_IO;
    return r == 0 ? SMTPKIT_ERR_TIMEOUT : 0;
}

static smtpkit_ssize fd_read(void *ctx, char *buf, size_t len, int timeout_ms)
{
    fd_io *t = ctx;
    ssize_t n;
    int r = wait_ready(t->fd, POLLIN, timeout_ms);
    if (r < 0)
        return r;
    do
        n = recv(t->fd, buf, len, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return SMTPKIT_ERR_IO;
    return (smtpkit_ssize)n; /* 0: the peer closed */
}

static smtpkit_ssize fd_write(void *ctx, const char *buf, size_t len, int timeout_ms)
{
    fd_io *t = ctx;
    ssize_t n;
    int r = wait_ready(t->fd, POLLOUT, timeout_ms);
    if (r < 0)
        return r;
    do
        n = send(t->fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n > 0 ? (smtpkit_ssize)n : SMTPKIT_ERR_IO;
}

/* Optional: a monotonic clock lets the runners apply the RFC 5321
 * timeouts exactly (on lwIP: sys_now()). */
static uint64_t fd_now_ms(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fd_io_init(smtpkit_io *io, fd_io *t, int fd)
{
    memset(io, 0, sizeof *io);
    t->fd = fd;
    io->read = fd_read;
    io->write = fd_write;
    io->now_ms = fd_now_ms;
    io->starttls = NULL; /* no TLS on this transport: STARTTLS is not offered */
    io->close = NULL;    /* we close the descriptors ourselves */
    io->ctx = t;
}

/* ---- the server task ---------------------------------------------------- */

typedef struct mailbox {
    char data[4096]; /* the one stored message (a real one writes to flash) */
    size_t len;
    int overflow;
    int stored;      /* messages accepted */
} mailbox;

static int on_data(void *user, smtpkit_server_decision *d)
{
    mailbox *mb = user;
    (void)d;
    mb->len = 0;
    mb->overflow = 0;
    return 0;
}

static int on_body(void *user, const char *data, size_t len)
{
    mailbox *mb = user;
    if (len > sizeof mb->data - mb->len) {
        mb->overflow = 1; /* remember; refuse in on_data_end */
        return 0;
    }
    memcpy(mb->data + mb->len, data, len);
    mb->len += len;
    return 0;
}

static int on_data_end(void *user, const smtpkit_server_message *msg,
                       smtpkit_server_decision *d)
{
    mailbox *mb = user;
    (void)msg;
    if (mb->overflow) {
        d->code = 552;
        d->esc = "5.3.4";
        d->text = "Message too big for this mailbox";
        return 0;
    }
    mb->stored++;
    return 0; /* 250: stored (here: in memory) */
}

typedef struct server_task {
    int fd;
    mailbox mb;
    int result;
} server_task;

static void *server_main(void *arg)
{
    static const smtpkit_server_callbacks cb = {
        NULL, NULL, NULL, NULL, on_data, on_body, on_data_end, NULL, NULL, NULL, NULL, NULL};
    server_task *task = arg;
    smtpkit_server_config cfg;
    smtpkit_server *s;
    fd_io t;
    smtpkit_io io;

    smtpkit_server_config_init(&cfg);
    cfg.hostname = "server.example";
    cfg.flags = SMTPKIT_SERVER_NO_RECEIVED; /* no clock here: no trace header */
    fd_io_init(&io, &t, task->fd);
    s = smtpkit_server_new(&cfg, &cb, &task->mb, NULL);
    task->result = s ? smtpkit_server_run(s, &io) : SMTPKIT_ERR_NOMEM;
    smtpkit_server_free(s);
    close(task->fd); /* the client sees the end of the connection */
    return NULL;
}

/* ---- the client task ---------------------------------------------------- */

static const char message[] = "From: Ann <ann@example.org>\r\n"
                              "To: Bob <bob@example.net>\r\n"
                              "Subject: over a custom transport\r\n"
                              "\r\n"
                              "Hello Bob,\r\n"
                              ".a line that starts with a dot survives dot-stuffing\r\n"
                              "bye\r\n";

static int on_tx_done(void *user, const smtpkit_client_tx_result *res)
{
    int *status = user;
    *status = (int)res->status;
    printf("client: transaction %u: %s (reply %d)\n", res->tx_id,
           res->status == SMTPKIT_TX_ACCEPTED ? "accepted" : "not accepted",
           res->reply ? res->reply->code : 0);
    return 0;
}

static int client_main(int fd)
{
    smtpkit_client_callbacks cb;
    smtpkit_client_config cfg;
    smtpkit_rcpt rcpt;
    smtpkit_envelope env;
    smtpkit_mem_source ms;
    smtpkit_source body;
    smtpkit_client *c;
    fd_io t;
    smtpkit_io io;
    int status = -1, r;

    memset(&cb, 0, sizeof cb);
    cb.on_tx_done = on_tx_done;
    smtpkit_client_config_init(&cfg);
    cfg.helo_name = "client.example";
    memset(&rcpt, 0, sizeof rcpt);
    rcpt.mailbox = "bob@example.net";
    memset(&env, 0, sizeof env);
    env.from = "ann@example.org";
    env.rcpts = &rcpt;
    env.nrcpts = 1;
    smtpkit_source_from_memory(&body, &ms, message, sizeof message - 1);

    c = smtpkit_client_new(&cfg, &cb, &status, NULL);
    if (!c)
        return SMTPKIT_ERR_NOMEM;
    r = smtpkit_client_queue(c, &env, &body, NULL);
    if (r >= 0)
        r = smtpkit_client_quit(c);
    fd_io_init(&io, &t, fd);
    if (r >= 0)
        r = smtpkit_client_run(c, &io); /* blocks until QUIT is answered */
    smtpkit_client_free(c);
    if (r == 0 && status != SMTPKIT_TX_ACCEPTED)
        r = SMTPKIT_ERR_REJECTED;
    return r;
}

int main(void)
{
    server_task task;
    pthread_t server;
    int sv[2], r;

    memset(&task, 0, sizeof task);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("socketpair");
        return 1;
    }
    task.fd = sv[0];
    if (pthread_create(&server, NULL, server_main, &task) != 0) {
        fprintf(stderr, "cannot start the server task\n");
        return 1;
    }
    r = client_main(sv[1]);
    close(sv[1]);
    pthread_join(server, NULL);

    printf("client: %s\nserver: %s, %d message(s) stored\n", smtpkit_strerror(r),
           smtpkit_strerror(task.result), task.mb.stored);
    printf("---- stored message (%zu bytes) ----\n%.*s---- end ----\n", task.mb.len,
           (int)task.mb.len, task.mb.data);
    if (r != 0 || task.result != 0 || task.mb.stored != 1 || task.mb.len != sizeof message - 1 ||
        memcmp(task.mb.data, message, task.mb.len) != 0) {
        fprintf(stderr, "custom_io: FAILED: the stored message differs from the one sent\n");
        return 1;
    }
    printf("custom_io: ok, the message arrived byte for byte\n");
    return 0;
}
