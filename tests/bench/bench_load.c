/* bench_load: an SMTP load generator built on smtpkit's client session and
 * plain POSIX sockets (epoll on Linux, poll elsewhere), with smtp-source's
 * job: many messages over several connections, as fast as possible.
 *
 *   bench_load [-c CONNECTIONS] [-m MESSAGES] [-l SIZE] [-r PER_CONNECTION]
 *              [-f FROM] [-t TO] [-P] [-q] HOST:PORT
 *
 *   -c N  connections open at once (default 1; -s is a synonym, as in
 *         smtp-source)
 *   -m N  messages in all (default 1000)
 *   -l N  payload bytes per message, besides a few header lines (default
 *         10240; smtp-source's -l)
 *   -r N  messages per connection before QUIT and a new connection
 *         (default 0: as many as there are, like smtp-source -d; 1: a new
 *         connection per message, like smtp-source without -d)
 *   -P    no PIPELINING even when the server offers it (lock-step, as
 *         smtp-source)
 *   -q    only the RESULT line
 *
 * Prints "RESULT msgs=N secs=S rate=R cpu_us_per_msg=C failed=F" (CPU is
 * user + system time of this process, getrusage). Exit 0 when every
 * message was accepted, 1 otherwise, 2 on usage errors.
 *
 * Each connection keeps up to QDEPTH transactions queued in its session, so
 * with PIPELINING (RFC 2920) the next MAIL/RCPT/DATA leave in the same
 * write as the previous message's final dot. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#define LOAD_EPOLL 1
#endif

#include "smtpkit/client.h"
#include "smtpkit/source.h"

#define QDEPTH 4       /* transactions queued per connection at once */
#define RBUF 65536

typedef struct conn conn;

typedef struct slot {
    smtpkit_source src;
    smtpkit_mem_source ms;
    int used;
} slot;

struct conn {
    int fd;
    unsigned idx;
    smtpkit_client *c;
    unsigned queued;     /* transactions handed to the session, not yet done */
    unsigned long sent;  /* transactions handed to the session in all */
    int quit;            /* QUIT asked */
    unsigned events;     /* registered: 1 in, 2 out */
    slot slots[QDEPTH];
};

static struct {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    unsigned nconn;
    unsigned long messages, per_conn, assigned, done, failed;
    size_t size;
    const char *from, *to;
    unsigned flags;
    int quiet;
    char *body;
    size_t body_len;
    conn *conns;
    int epfd;
    struct pollfd *pfds;
    char rbuf[RBUF];
    smtpkit_client_config cfg;
    smtpkit_client_callbacks cb;
    smtpkit_rcpt rcpt;
    smtpkit_envelope env;
} g;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Header lines and `size` bytes of text in 78-column lines (as smtp-source
 * -l: the length does not include the header). */
static void make_body(size_t size)
{
    static const char hdr[] = "From: <bench@localhost>\r\n"
                              "To: <rcpt@localhost>\r\n"
                              "Subject: smtpkit bench_load\r\n"
                              "Message-ID: <bench.load@localhost>\r\n"
                              "\r\n";
    size_t n = sizeof hdr - 1, i;
    g.body = (char *)malloc(n + size + 2);
    if (!g.body) {
        perror("malloc");
        exit(2);
    }
    memcpy(g.body, hdr, n);
    for (i = 0; i < size; i++) {
        size_t col = i % 80;
        g.body[n + i] = col == 78 ? '\r' : col == 79 ? '\n' : (char)('a' + (i / 80 + col) % 26);
    }
    n += size;
    if (size % 80 != 0) { /* end with a line end */
        g.body[n++] = '\r';
        g.body[n++] = '\n';
    }
    g.body_len = n;
}

static void conn_events(conn *k, unsigned ev)
{
    if (ev == k->events)
        return;
    k->events = ev;
#ifdef LOAD_EPOLL
    {
        struct epoll_event e;
        memset(&e, 0, sizeof e);
        e.events = ((ev & 1) ? EPOLLIN : 0u) | ((ev & 2) ? EPOLLOUT : 0u);
        e.data.u32 = k->idx;
        epoll_ctl(g.epfd, EPOLL_CTL_MOD, k->fd, &e);
    }
#endif
}

/* Hand the session more transactions, up to QDEPTH queued, this
 * connection's share and the total; QUIT when its share is done. */
static void refill(conn *k)
{
    while (!k->quit && k->queued < QDEPTH && g.assigned < g.messages &&
           (!g.per_conn || k->sent < g.per_conn)) {
        slot *s = NULL;
        unsigned i;
        int r;
        for (i = 0; i < QDEPTH; i++)
            if (!k->slots[i].used) {
                s = &k->slots[i];
                break;
            }
        if (!s)
            break;
        smtpkit_source_from_memory(&s->src, &s->ms, g.body, g.body_len);
        r = smtpkit_client_queue(k->c, &g.env, &s->src, s);
        if (r < 0) {
            if (r == SMTPKIT_ERR_WOULDBLOCK)
                break;
            fprintf(stderr, "bench_load: queue: %s\n", smtpkit_strerror(r));
            exit(1);
        }
        s->used = 1;
        k->queued++;
        k->sent++;
        g.assigned++;
    }
    if (!k->quit && (g.assigned >= g.messages || (g.per_conn && k->sent >= g.per_conn))) {
        k->quit = 1;
        smtpkit_client_quit(k->c);
    }
}

static int cb_tx_done(void *user, const smtpkit_client_tx_result *r)
{
    conn *k = (conn *)user;
    slot *s = (slot *)r->tx_user;
    s->used = 0;
    k->queued--;
    g.done++;
    if (r->status != SMTPKIT_TX_ACCEPTED) {
        g.failed++;
        if (g.failed <= 5)
            fprintf(stderr, "bench_load: message failed: %s%s%.*s\n", smtpkit_strerror(r->err),
                    r->reply ? ": " : "", r->reply ? (int)r->reply->text.len : 0,
                    r->reply ? r->reply->text.ptr : "");
    }
    refill(k);
    return 0;
}

static int conn_open(conn *k)
{
    int one = 1;
    k->fd = socket(g.addr.ss_family, SOCK_STREAM, 0);
    if (k->fd < 0) {
        perror("socket");
        return -1;
    }
    /* A blocking connect: on loopback it completes at once. */
    while (connect(k->fd, (struct sockaddr *)&g.addr, g.addrlen) != 0) {
        if (errno == EINTR)
            continue;
        perror("bench_load: connect");
        close(k->fd);
        k->fd = -1;
        return -1;
    }
    fcntl(k->fd, F_SETFL, fcntl(k->fd, F_GETFL) | O_NONBLOCK);
    setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    k->c = smtpkit_client_new(&g.cfg, &g.cb, k, NULL);
    if (!k->c) {
        fprintf(stderr, "bench_load: smtpkit_client_new failed\n");
        exit(1);
    }
    k->queued = 0;
    k->sent = 0;
    k->quit = 0;
    memset(k->slots, 0, sizeof k->slots);
    k->events = 1;
#ifdef LOAD_EPOLL
    {
        struct epoll_event e;
        memset(&e, 0, sizeof e);
        e.events = EPOLLIN;
        e.data.u32 = k->idx;
        if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, k->fd, &e) != 0) {
            perror("epoll_ctl");
            exit(1);
        }
    }
#endif
    refill(k);
    return 0;
}

static void conn_end(conn *k)
{
    if (k->c) {
        int err = smtpkit_client_error(k->c);
        if (err && g.failed < 5)
            fprintf(stderr, "bench_load: session ended: %s\n", smtpkit_strerror(err));
        smtpkit_client_free(k->c); /* transactions still queued are lost */
        if (k->queued) {
            g.failed += k->queued;
            g.done += k->queued;
        }
    }
    k->c = NULL;
    if (k->fd >= 0)
        close(k->fd); /* close() also leaves the epoll set */
    k->fd = -1;
    k->events = 0;
    if (g.assigned < g.messages && conn_open(k) != 0) {
        /* cannot reconnect: count the rest as failed */
        g.failed += g.messages - g.assigned;
        g.done += g.messages - g.assigned;
        g.assigned = g.messages;
    }
}

/* Move bytes for one connection until it waits. */
static void conn_run(conn *k, int readable)
{
    int round;
    for (round = 0; round < 64 && k->c; round++) {
        unsigned w = smtpkit_client_want(k->c);
        int progress = 0;
        if (w & SMTPKIT_CLIENT_DONE) {
            conn_end(k);
            return;
        }
        if (w & SMTPKIT_CLIENT_WANT_WRITE) {
            const char *p;
            size_t n = smtpkit_client_output(k->c, &p);
            if (n > 0) {
                ssize_t s = send(k->fd, p, n, MSG_NOSIGNAL);
                if (s > 0) {
                    smtpkit_client_output_done(k->c, (size_t)s);
                    progress = 1;
                } else if (s < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    smtpkit_client_abort(k->c, SMTPKIT_ERR_IO);
                    continue;
                }
            }
        }
        if (readable) {
            ssize_t n = recv(k->fd, g.rbuf, sizeof g.rbuf, 0);
            readable = n == (ssize_t)sizeof g.rbuf; /* more may be waiting */
            if (n > 0) {
                smtpkit_client_feed(k->c, g.rbuf, (size_t)n);
                progress = 1;
            } else if (n == 0) {
                smtpkit_client_closed(k->c);
                progress = 1;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                smtpkit_client_abort(k->c, SMTPKIT_ERR_IO);
                progress = 1;
            }
        }
        if (!progress)
            break;
    }
    if (!k->c)
        return;
    {
        unsigned w = smtpkit_client_want(k->c);
        if (w & SMTPKIT_CLIENT_DONE) {
            conn_end(k);
            return;
        }
        conn_events(k, 1u | ((w & SMTPKIT_CLIENT_WANT_WRITE) ? 2u : 0u));
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_load [-c CONNECTIONS] [-m MESSAGES] [-l SIZE] [-r PER_CONNECTION]\n"
                    "                  [-f FROM] [-t TO] [-P] [-q] HOST:PORT\n");
    exit(2);
}

static unsigned long num(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end)
        usage();
    return v;
}

static void resolve(const char *hp)
{
    char host[256];
    const char *colon = strrchr(hp, ':');
    struct addrinfo hints, *res;
    size_t hl;
    int r;
    if (!colon || colon == hp)
        usage();
    hl = (size_t)(colon - hp);
    if (hp[0] == '[' && hl > 2 && hp[hl - 1] == ']') {
        hp++;
        hl -= 2;
    }
    if (hl >= sizeof host)
        usage();
    memcpy(host, hp, hl);
    host[hl] = '\0';
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    r = getaddrinfo(host, colon + 1, &hints, &res);
    if (r != 0) {
        fprintf(stderr, "bench_load: %s: %s\n", hp, gai_strerror(r));
        exit(2);
    }
    memcpy(&g.addr, res->ai_addr, res->ai_addrlen);
    g.addrlen = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
}

int main(int argc, char **argv)
{
    int i;
    unsigned k;
    double t0, t1, c0, c1;
    uint64_t last_tick = 0;

    g.nconn = 1;
    g.messages = 1000;
    g.size = 10240;
    g.from = "bench@localhost";
    g.to = "rcpt@localhost";
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-P")) {
            g.flags |= SMTPKIT_CLIENT_NO_PIPELINING;
            continue;
        }
        if (!strcmp(o, "-q")) {
            g.quiet = 1;
            continue;
        }
        if (i + 1 >= argc || o[1] == '\0' || o[2] != '\0')
            usage();
        switch (o[1]) {
        case 'c':
        case 's': g.nconn = (unsigned)num(argv[++i]); break;
        case 'm': g.messages = num(argv[++i]); break;
        case 'l': g.size = num(argv[++i]); break;
        case 'r': g.per_conn = num(argv[++i]); break;
        case 'f': g.from = argv[++i]; break;
        case 't': g.to = argv[++i]; break;
        default: usage();
        }
    }
    if (i != argc - 1 || !g.nconn || !g.messages)
        usage();
    resolve(argv[i]);
    signal(SIGPIPE, SIG_IGN);
    make_body(g.size);

    smtpkit_client_config_init(&g.cfg);
    g.cfg.helo_name = "localhost";
    g.cfg.flags = g.flags;
    g.cfg.max_queue = QDEPTH;
    g.cb.on_tx_done = cb_tx_done;
    g.rcpt.mailbox = g.to;
    g.env.from = g.from;
    g.env.rcpts = &g.rcpt;
    g.env.nrcpts = 1;
    g.env.flags = SMTPKIT_ENV_7BIT; /* we made it: no need to scan it */

    if (g.nconn > g.messages)
        g.nconn = (unsigned)g.messages;
    g.conns = (conn *)calloc(g.nconn, sizeof *g.conns);
    g.pfds = (struct pollfd *)calloc(g.nconn, sizeof *g.pfds);
    if (!g.conns || !g.pfds) {
        perror("calloc");
        return 2;
    }
#ifdef LOAD_EPOLL
    g.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (g.epfd < 0) {
        perror("epoll_create1");
        return 2;
    }
#endif
    t0 = now_s();
    c0 = cpu_s();
    for (k = 0; k < g.nconn; k++) {
        g.conns[k].idx = k;
        g.conns[k].fd = -1;
        if (conn_open(&g.conns[k]) != 0)
            return 1;
    }
    while (g.done < g.messages) {
        uint64_t t;
        int n;
#ifdef LOAD_EPOLL
        struct epoll_event ev[256];
        n = epoll_wait(g.epfd, ev, 256, 1000);
        for (i = 0; i < n; i++) {
            conn *c = &g.conns[ev[i].data.u32];
            if (c->fd >= 0)
                conn_run(c, (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0);
        }
#else
        for (k = 0; k < g.nconn; k++) {
            g.pfds[k].fd = g.conns[k].fd;
            g.pfds[k].events = (short)(((g.conns[k].events & 1) ? POLLIN : 0) |
                                       ((g.conns[k].events & 2) ? POLLOUT : 0));
            g.pfds[k].revents = 0;
        }
        n = poll(g.pfds, g.nconn, 1000);
        for (k = 0; n > 0 && k < g.nconn; k++) {
            if (g.pfds[k].revents && g.conns[k].fd == g.pfds[k].fd)
                conn_run(&g.conns[k], (g.pfds[k].revents & (POLLIN | POLLHUP | POLLERR)) != 0);
        }
#endif
        if (n < 0 && errno != EINTR) {
            perror("bench_load: wait");
            return 1;
        }
        /* Timers are minutes long: tick a few times a second at most. */
        t = now_ms();
        if (t - last_tick >= 250) {
            last_tick = t;
            for (k = 0; k < g.nconn; k++)
                if (g.conns[k].c) {
                    smtpkit_client_tick(g.conns[k].c, t);
                    conn_run(&g.conns[k], 0);
                }
        }
        if (n == 0 && g.done < g.messages) {
            unsigned open = 0;
            for (k = 0; k < g.nconn; k++)
                open += g.conns[k].c != NULL;
            if (!open)
                break;
        }
    }
    t1 = now_s();
    c1 = cpu_s();
    for (k = 0; k < g.nconn; k++)
        if (g.conns[k].c) {
            smtpkit_client_free(g.conns[k].c);
            close(g.conns[k].fd);
        }
    if (!g.quiet)
        printf("bench_load: %lu messages of %zu bytes over %u connection(s)%s in %.3f s: "
               "%.0f messages/s, %.1f us CPU per message\n",
               g.done, g.body_len, g.nconn, g.per_conn == 1 ? " (one per message)" : "", t1 - t0,
               (double)g.done / (t1 - t0), (c1 - c0) * 1e6 / (double)(g.done ? g.done : 1));
    printf("RESULT msgs=%lu secs=%.6f rate=%.1f cpu_us_per_msg=%.2f failed=%lu\n", g.done, t1 - t0,
           (double)g.done / (t1 - t0), (c1 - c0) * 1e6 / (double)(g.done ? g.done : 1), g.failed);
    free(g.body);
    free(g.conns);
    free(g.pfds);
    return g.failed || g.done < g.messages ? 1 : 0;
}
