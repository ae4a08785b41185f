/*
 * server_epoll: server sessions driven from an epoll loop the caller owns
 * (needs: posix; Linux).
 *
 *   usage: server_epoll [--once] [--store DIR] [ADDR:PORT]
 *
 * Listens on ADDR:PORT (default 127.0.0.1:2525; port 0 picks a free one)
 * and prints "listening on ADDR:PORT" when ready. Each message is printed
 * on standard output, or with --store written to DIR/new/ (Maildir-style:
 * written to DIR/tmp, fsynced, renamed) before the client hears 250.
 * RCPT decisions are asynchronous: the session pauses (SMTPKIT_PAUSE)
 * while a simulated directory lookup runs, and the loop resumes it 20 ms
 * later; "nobody@..." is refused. --once: exit after the first connection
 * ends. SIGINT/SIGTERM: every session gets 421 and the program exits.
 *
 * The loop is written as callbacks -- on_listener_readable,
 * on_conn_readable, on_conn_writable, on_timer -- so that it maps one to
 * one onto libuv (uv_poll_t, uv_timer_t) or any other event library: see
 * docs/event-loop.md. The library's own loop (smtpkit_loop, posix.h) does
 * the same with a timer heap instead of the scan below.
 */
#if !defined(__linux__)
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "server_epoll needs Linux (epoll)\n");
    return 0;
}
#else
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtpkit/posix.h"

#define READ_BUF 8192
#define LOOKUP_MS 20 /* how long the simulated RCPT lookup takes */

typedef struct conn {
    int fd;
    smtpkit_server *s;
    unsigned events;           /* what epoll watches for now */
    char in[READ_BUF];         /* input read but not yet consumed */
    size_t in_off, in_len;
    /* the paused RCPT decision */
    int lookup_pending;
    uint64_t lookup_due;
    char rcpt[256];
    /* the message being received */
    FILE *tmp;
    char tmp_name[512];
    unsigned long n;           /* messages on this connection */
    struct conn *next;
} conn;

static struct {
    int ep, lfd, once, stopping;
    const char *store;
    conn *conns;
    unsigned long seq;         /* for unique file names */
    smtpkit_server_config cfg;
} g;

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    (void)sig;
    stop_signal = 1;
}

/* ---- decisions (the session's callbacks) ------------------------------- */

static int on_rcpt(void *user, const smtpkit_server_rcpt *r, smtpkit_server_decision *d)
{
    conn *c = user;
    (void)d;
    /* Copy what the answer needs: the views die when this returns. */
    snprintf(c->rcpt, sizeof c->rcpt, "%.*s", (int)r->path->mailbox.len, r->path->mailbox.ptr);
    c->lookup_pending = 1;
    c->lookup_due = smtpkit_posix_monotonic_ms() + LOOKUP_MS;
    return SMTPKIT_PAUSE; /* answered by lookup_done() from the loop */
}

static int on_data(void *user, smtpkit_server_decision *d)
{
    conn *c = user;
    if (!g.store) {
        printf("---- message %lu on fd %d ----\n", ++c->n, c->fd);
        return 0;
    }
    snprintf(c->tmp_name, sizeof c->tmp_name, "%s/tmp/%ld.%lu", g.store, (long)getpid(), ++g.seq);
    c->tmp = fopen(c->tmp_name, "wb");
    if (!c->tmp) {
        d->code = 451;
        d->esc = "4.3.0";
        d->text = "Cannot store the message now";
    }
    return 0;
}

static int on_body(void *user, const char *data, size_t len)
{
    conn *c = user;
    if (!g.store)
        fwrite(data, 1, len, stdout);
    else if (c->tmp)
        fwrite(data, 1, len, c->tmp); /* errors are seen by ferror() at the end */
    return 0;
}

/* 250 promises the message is safe: only after fsync and rename. */
static int store_file(conn *c)
{
    char final[600];
    int ok = fflush(c->tmp) == 0 && !ferror(c->tmp) && fsync(fileno(c->tmp)) == 0;
    ok = (fclose(c->tmp) == 0) && ok;
    c->tmp = NULL;
    snprintf(final, sizeof final, "%s/new/%s", g.store, strrchr(c->tmp_name, '/') + 1);
    if (ok && rename(c->tmp_name, final) == 0) {
        char dir[600];
        int dfd;
        snprintf(dir, sizeof dir, "%s/new", g.store);
        dfd = open(dir, O_RDONLY);
        ok = dfd >= 0 && fsync(dfd) == 0; /* the rename itself is durable */
        if (dfd >= 0)
            close(dfd);
        if (ok)
            return 1;
    }
    unlink(c->tmp_name);
    return 0;
}

static int on_data_end(void *user, const smtpkit_server_message *m, smtpkit_server_decision *d)
{
    conn *c = user;
    if (!g.store) {
        printf("---- end of message %lu (%llu bytes) ----\n", c->n, (unsigned long long)m->size);
        fflush(stdout);
        return 0;
    }
    if (!c->tmp || !store_file(c)) {
        d->code = 451;
        d->esc = "4.3.0";
        d->text = "Cannot store the message now";
    }
    return 0;
}

static void on_abort(void *user, int reason)
{
    conn *c = user;
    if (c->tmp) {
        fclose(c->tmp);
        c->tmp = NULL;
        unlink(c->tmp_name);
    }
    if (!g.store)
        printf("\n---- message dropped: %s ----\n", smtpkit_strerror(reason));
}

static const smtpkit_server_callbacks callbacks = {
    NULL, NULL, NULL, on_rcpt, on_data, on_body, on_data_end, on_abort,
    NULL, NULL, NULL, NULL};

/* ---- moving bytes -------------------------------------------------------- */

static void conn_close(conn *c)
{
    conn **pp;
    for (pp = &g.conns; *pp != c; pp = &(*pp)->next)
        ;
    *pp = c->next;
    epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    smtpkit_server_free(c->s); /* calls on_abort for an open message */
    free(c);
    if (g.once && !g.conns)
        g.stopping = 2; /* --once: done */
}

/* Write what the session has queued; 0 when the socket is full. */
static int conn_flush(conn *c)
{
    const char *p;
    size_t n;
    while ((n = smtpkit_server_output(c->s, &p)) > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (w < 0) {
            smtpkit_server_eof(c->s); /* the client is gone */
            return -1;
        }
        smtpkit_server_output_done(c->s, (size_t)w);
    }
    return 1;
}

/* Feed held input, write replies, decide what to wait for. Returns 0, or
 * -1 when the connection was closed (c is gone). */
static int conn_pump(conn *c)
{
    unsigned want, events;
    for (;;) {
        smtpkit_ssize r;
        int f = conn_flush(c);
        if (f < 0)
            break;
        if (smtpkit_server_paused(c->s) || f == 0)
            break; /* wait for resume / for the socket to drain */
        /* Feeding 0 bytes is allowed and does pending work. */
        r = smtpkit_server_feed(c->s, c->in + c->in_off, c->in_len - c->in_off);
        if (r < 0) {
            conn_flush(c); /* a fatal error leaves a 421 to send */
            break;
        }
        c->in_off += (size_t)r;
        if (c->in_off == c->in_len)
            c->in_off = c->in_len = 0;
        if (smtpkit_server_output(c->s, NULL) == 0 && (c->in_len == 0 || smtpkit_server_paused(c->s)))
            break; /* everything fed, every reply written (RFC 2920's flush point) */
    }
    smtpkit_server_tick(c->s, smtpkit_posix_monotonic_ms());
    want = smtpkit_server_want(c->s);
    if ((want & SMTPKIT_SERVER_WANT_CLOSE) && smtpkit_server_output(c->s, NULL) == 0) {
        conn_close(c);
        return -1;
    }
    /* Read more only when everything read so far was consumed: a client
     * that does not read its replies is held back by TCP, not by memory. */
    events = 0;
    if ((want & SMTPKIT_SERVER_WANT_READ) && c->in_len == 0)
        events |= EPOLLIN;
    if (smtpkit_server_output(c->s, NULL) > 0)
        events |= EPOLLOUT;
    if (events != c->events) {
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = events;
        ev.data.ptr = c;
        epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->events = events;
    }
    return 0;
}

/* ---- the loop's callbacks ------------------------------------------------ */

static void on_listener_readable(void)
{
    for (;;) {
        struct epoll_event ev;
        int fd = accept(g.lfd, NULL, NULL);
        conn *c;
        if (fd < 0)
            return; /* EAGAIN: all accepted */
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        c = calloc(1, sizeof *c);
        if (c)
            c->s = smtpkit_server_new(&g.cfg, &callbacks, c, NULL);
        if (!c || !c->s) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->events = EPOLLIN;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev);
        c->next = g.conns;
        g.conns = c;
        smtpkit_server_start(c->s, smtpkit_posix_monotonic_ms()); /* queues the 220 */
        conn_pump(c);
    }
}

static void on_conn_readable(conn *c)
{
    ssize_t n = recv(c->fd, c->in, sizeof c->in, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        smtpkit_server_eof(c->s); /* aborts an open message */
        conn_close(c);
        return;
    }
    c->in_off = 0;
    c->in_len = (size_t)n;
    smtpkit_server_tick(c->s, smtpkit_posix_monotonic_ms()); /* activity restarts the timer */
    conn_pump(c);
}

static void on_conn_writable(conn *c)
{
    conn_pump(c);
}

/* The lookup finished: answer the paused RCPT and go on with the input. */
static void lookup_done(conn *c)
{
    smtpkit_server_decision d;
    memset(&d, 0, sizeof d);
    c->lookup_pending = 0;
    if (strncmp(c->rcpt, "nobody@", 7) == 0) {
        d.code = 550;
        d.esc = "5.1.1";
        d.text = "No such user here";
    }
    smtpkit_server_resume(c->s, &d); /* d == NULL would accept */
    conn_pump(c);
}

/* Deadlines: lookups that are due, and the sessions' own timeouts. */
static void on_timer(uint64_t now)
{
    conn *c, *next;
    for (c = g.conns; c; c = next) {
        next = c->next;
        if (c->lookup_pending && c->lookup_due <= now)
            lookup_done(c);
        else if (smtpkit_server_deadline(c->s) <= now) {
            smtpkit_server_tick(c->s, now); /* queues 421 4.4.2 on a timeout */
            conn_pump(c);
        }
    }
}

static int next_timeout(uint64_t now)
{
    uint64_t first = UINT64_MAX;
    conn *c;
    for (c = g.conns; c; c = c->next) {
        uint64_t d = c->lookup_pending ? c->lookup_due : smtpkit_server_deadline(c->s);
        if (d < first)
            first = d;
    }
    if (first == UINT64_MAX)
        return -1;
    return first <= now ? 0 : (int)(first - now > 60000 ? 60000 : first - now);
}

static void begin_stop(void)
{
    conn *c, *next;
    g.stopping = 1;
    epoll_ctl(g.ep, EPOLL_CTL_DEL, g.lfd, NULL);
    close(g.lfd);
    for (c = g.conns; c; c = next) {
        next = c->next;
        c->lookup_pending = 0;
        smtpkit_server_shutdown(c->s, NULL); /* 421 4.3.2 Service shutting down */
        conn_pump(c);
    }
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1:2525";
    char bound[128], path[600];
    struct epoll_event ev;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0)
            g.once = 1;
        else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
            g.store = argv[++i];
        else if (argv[i][0] != '-')
            addr = argv[i];
        else {
            fprintf(stderr, "usage: server_epoll [--once] [--store DIR] [ADDR:PORT]\n");
            return 2;
        }
    }
    if (g.store) {
        const char *sub[] = {"", "/tmp", "/new", "/cur"};
        for (i = 0; i < 4; i++) {
            snprintf(path, sizeof path, "%s%s", g.store, sub[i]);
            if (mkdir(path, 0700) != 0 && errno != EEXIST) {
                perror(path);
                return 1;
            }
        }
    }

    smtpkit_server_config_init(&g.cfg);
    g.cfg.hostname = "server-epoll.example";
    g.cfg.max_size = 10 * 1024 * 1024;
    g.cfg.flags = SMTPKIT_SERVER_NO_RECEIVED; /* or fill on_trace (smtpkit_posix_trace) */

    g.lfd = smtpkit_posix_listen(addr, 128, bound, sizeof bound); /* non-blocking */
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    if (g.lfd < 0 || g.ep < 0) {
        fprintf(stderr, "server_epoll: cannot listen on %s: %s\n", addr,
                smtpkit_strerror(g.lfd < 0 ? g.lfd : SMTPKIT_ERR_IO));
        return 1;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL; /* NULL: the listener */
    epoll_ctl(g.ep, EPOLL_CTL_ADD, g.lfd, &ev);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("listening on %s\n", bound);
    fflush(stdout);

    while (g.stopping != 2) {
        struct epoll_event evs[64];
        uint64_t now = smtpkit_posix_monotonic_ms();
        int n = epoll_wait(g.ep, evs, 64, stop_signal && !g.stopping ? 0 : next_timeout(now));
        if (n < 0 && errno != EINTR)
            break;
        if (stop_signal && !g.stopping)
            begin_stop();
        for (i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                if (!g.stopping)
                    on_listener_readable();
                continue;
            }
            /* Checking that c is still open: an earlier event of this
             * round may have closed it. */
            {
                conn *k;
                for (k = g.conns; k && k != c; k = k->next)
                    ;
                if (!k)
                    continue;
            }
            if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
                smtpkit_server_eof(c->s);
                conn_close(c);
            } else if (evs[i].events & EPOLLOUT)
                on_conn_writable(c);
            else if (evs[i].events & EPOLLIN)
                on_conn_readable(c);
        }
        on_timer(smtpkit_posix_monotonic_ms());
        if (g.stopping == 1 && !g.conns)
            break;
    }
    while (g.conns)
        conn_close(g.conns);
    if (!g.stopping)
        close(g.lfd);
    close(g.ep);
    return 0;
}
#endif
