/*
 * client_session: the sans-I/O client session over a socket loop of your
 * own (needs: posix).
 *
 *   usage: client_session HOST[:PORT] FROM TO [COUNT]
 *
 * Sends COUNT (default 2) messages over one connection. The program owns
 * the socket and the poll() loop; the session only turns replies into
 * commands: it is fed what the server sent (smtpkit_client_feed), hands
 * out what to write (smtpkit_client_output), says what it waits for
 * (smtpkit_client_want) and until when (smtpkit_client_deadline). The same
 * loop fits any event loop: see docs/event-loop.md and docs/sending.md.
 * Exit status: 0 every message accepted, 1 otherwise, 2 usage.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtpkit/posix.h"
#include "smtpkit/posix_client.h"

#ifndef MSG_NOSIGNAL /* not on every system: there, ignore SIGPIPE instead */
#define MSG_NOSIGNAL 0
#endif

#define MAX_MESSAGES 16

typedef struct app {
    int accepted; /* transactions accepted for every recipient */
    int done;     /* transactions reported */
} app;

/* Logging callbacks: the conversation as "C: / S:" lines. */
static int on_command(void *user, const smtpkit_client_command *cmd)
{
    (void)user;
    if (cmd->cmd == SMTPKIT_CLIENT_CMD_BODY)
        printf("C: <%llu bytes of message>\n", (unsigned long long)cmd->body_bytes);
    else
        printf("C: %.*s\n", (int)cmd->line.len, cmd->line.ptr);
    return 0;
}

static int on_reply_line(void *user, const smtpkit_reply_line *line)
{
    (void)user;
    printf("S: %.*s\n", (int)line->raw.len, line->raw.ptr);
    return 0;
}

/* Results: one call per recipient, one per transaction, always. */
static int on_rcpt(void *user, const smtpkit_client_rcpt_result *r)
{
    (void)user;
    printf("   tx %u recipient <%.*s>: %d\n", r->tx_id, (int)r->mailbox.len, r->mailbox.ptr,
           r->reply->code);
    return 0;
}

static int on_tx_done(void *user, const smtpkit_client_tx_result *r)
{
    app *a = user;
    a->done++;
    if (r->status == SMTPKIT_TX_ACCEPTED)
        a->accepted++;
    printf("   tx %u: %s (%s)\n", r->tx_id,
           r->status == SMTPKIT_TX_ACCEPTED   ? "accepted"
           : r->status == SMTPKIT_TX_PARTIAL  ? "accepted for some recipients"
           : r->status == SMTPKIT_TX_REJECTED ? "refused"
                                              : "failed",
           r->err ? smtpkit_strerror(r->err) : "ok");
    return 0;
}

/* The loop: write what the session has, wait for the socket or the
 * session's deadline, feed what arrived, tell the session the time. */
static int drive(smtpkit_client *c, int fd)
{
    char buf[4096];
    for (;;) {
        unsigned want = smtpkit_client_want(c);
        uint64_t now = smtpkit_posix_monotonic_ms(), deadline;
        struct pollfd p;
        const char *out;
        size_t n;
        int timeout, r;

        if (want & SMTPKIT_CLIENT_DONE)
            return smtpkit_client_error(c); /* 0 after a clean QUIT */
        if (want & SMTPKIT_CLIENT_WANT_STARTTLS) {
            /* No TLS in this example (the config never asks for it); with
             * the mbedTLS adapter: handshake here, then report the result. */
            smtpkit_client_starttls_done(c, SMTPKIT_ERR_NOT_SUPPORTED);
            continue;
        }

        deadline = smtpkit_client_deadline(c);
        n = smtpkit_client_output(c, &out); /* valid until the next call on c */
        p.fd = fd;
        p.events = (short)(POLLIN | (n > 0 ? POLLOUT : 0));
        p.revents = 0;
        timeout = deadline == UINT64_MAX ? -1
                  : deadline <= now      ? 0
                                         : (int)(deadline - now > 60000 ? 60000 : deadline - now);
        r = poll(&p, 1, timeout);
        if (r < 0 && errno != EINTR) {
            smtpkit_client_abort(c, SMTPKIT_ERR_IO);
            continue;
        }
        if (r > 0 && (p.revents & POLLOUT)) {
            ssize_t w = send(fd, out, n, MSG_NOSIGNAL);
            if (w > 0)
                smtpkit_client_output_done(c, (size_t)w);
            else if (w < 0 && errno != EAGAIN && errno != EINTR)
                smtpkit_client_abort(c, SMTPKIT_ERR_IO);
        }
        if (r > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t got = recv(fd, buf, sizeof buf, 0);
            if (got > 0)
                smtpkit_client_feed(c, buf, (size_t)got); /* consumes all: no callback pauses */
            else if (got == 0)
                smtpkit_client_closed(c);
            else if (errno != EAGAIN && errno != EINTR)
                smtpkit_client_abort(c, SMTPKIT_ERR_IO);
        }
        smtpkit_client_tick(c, smtpkit_posix_monotonic_ms()); /* applies the timeouts */
    }
}

int main(int argc, char **argv)
{
    static const char text[] = "From: <%s>\r\nTo: <%s>\r\nSubject: message %d of %d\r\n\r\n"
                               "Sent by the client session over the caller's own loop.\r\n";
    static char bodies[MAX_MESSAGES][512];
    smtpkit_mem_source ms[MAX_MESSAGES];
    smtpkit_source src[MAX_MESSAGES];
    smtpkit_client_callbacks cb;
    smtpkit_client_config cfg;
    smtpkit_rcpt rcpt;
    smtpkit_envelope env;
    smtpkit_client *c;
    app a = {0, 0};
    char host[256], err[256], *colon;
    int count = argc > 4 ? atoi(argv[4]) : 2, fd, i, r;
    unsigned port = 25;

    if (argc < 4 || argc > 5 || count < 1 || count > MAX_MESSAGES) {
        fprintf(stderr, "usage: client_session HOST[:PORT] FROM TO [COUNT 1-%d]\n",
                MAX_MESSAGES);
        return 2;
    }
    snprintf(host, sizeof host, "%s", argv[1]);
    colon = strrchr(host, ':');
    if (colon && strchr(host, ':') == colon) {
        *colon = '\0';
        port = (unsigned)atoi(colon + 1);
    }

    memset(&cb, 0, sizeof cb);
    cb.version = SMTPKIT_CLIENT_VERSION;
    cb.on_command = on_command;
    cb.on_reply_line = on_reply_line;
    cb.on_rcpt = on_rcpt;
    cb.on_tx_done = on_tx_done;
    smtpkit_client_config_init(&cfg);
    cfg.helo_name = "client.example";
    c = smtpkit_client_new(&cfg, &cb, &a, NULL);
    if (!c) {
        fprintf(stderr, "client_session: out of memory\n");
        return 1;
    }

    /* Queue every message before connecting: with PIPELINING they leave in
     * as few writes as the server allows, one RSET-free transaction each. */
    memset(&rcpt, 0, sizeof rcpt);
    rcpt.mailbox = argv[3];
    memset(&env, 0, sizeof env);
    env.from = argv[2];
    env.rcpts = &rcpt;
    env.nrcpts = 1;
    for (i = 0; i < count; i++) {
        int len = snprintf(bodies[i], sizeof bodies[i], text, argv[2], argv[3], i + 1, count);
        smtpkit_source_from_memory(&src[i], &ms[i], bodies[i], (size_t)len);
        r = smtpkit_client_queue(c, &env, &src[i], NULL); /* checks and copies env */
        if (r < 0) {
            fprintf(stderr, "client_session: %s\n", smtpkit_strerror(r));
            smtpkit_client_free(c);
            return 1;
        }
    }
    smtpkit_client_quit(c);

    fd = smtpkit_posix_connect(host, (uint16_t)port, 10000, err, sizeof err); /* non-blocking */
    if (fd < 0) {
        fprintf(stderr, "client_session: %s\n", err);
        smtpkit_client_free(c);
        return 1;
    }
    r = drive(c, fd);
    close(fd);
    smtpkit_client_free(c);
    printf("session: %s; %d of %d message(s) accepted\n", smtpkit_strerror(r), a.accepted,
           count);
    return r == 0 && a.accepted == count ? 0 : 1;
}
