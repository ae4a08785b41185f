/* POSIX: the event loop serving server sessions.
 *
 * One thread, non-blocking sockets, level-triggered epoll (or poll). One
 * read buffer is shared by all connections: a session normally consumes
 * everything it is fed, and only when it holds input back (a paused
 * decision, a full output buffer) is the rest copied into a per-connection
 * stash, while the socket is no longer read (TCP pushes back on the client).
 * Replies are written straight from the session's output buffer after each
 * read is fed, which is the flush point of RFC 2920 3.1.
 *
 * Timeouts: a binary heap of connections keyed by their session's deadline.
 * Keys are allowed to be early (a deadline that moved later is noticed when
 * the key fires, then the key moves), never late, so activity costs no heap
 * operation. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1 /* accept4 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#define LOOP_HAVE_EPOLL 1
#endif

#include "internal.h"
#include "loop_int.h"
#include "server_int.h"
#include "smtpkit/posix.h"

#define NOT_IN_HEAP 0xffffffffu
#define MAX_EVENTS 256
#define ACCEPT_BATCH 64

enum { EV_IN = 1, EV_OUT = 2 };

struct smtpkit_loop_conn {
    smtpkit_loop *loop;
    smtpkit_server *s;
    void *user;
    smtpkit_io *io;          /* a transport set by smtpkit_loop_conn_set_io(), or NULL */
    char *stash;             /* input the session held back */
    smtpkit_loop_conn *next_pending;
    uint64_t key;            /* timer heap key */
    uint32_t stash_len, stash_off;
    uint32_t heap_idx;
    uint32_t idx;            /* in loop->conns */
    int fd;
    uint8_t events;          /* EV_* registered */
    uint8_t pending;         /* in the pending list */
    uint8_t peek;            /* read with MSG_PEEK: this session holds input back */
    uint8_t bulk;            /* the last read filled the buffer and was all taken */
    uint8_t lingering;       /* session over, FIN sent: discarding input (conn_linger) */
    uint8_t io_closed;       /* io->close() was called (before lingering) */
    uint32_t linger_left;    /* bytes still to discard before giving up */
};

/* A lingering close (see conn_finish): at most this long, and this many
 * bytes discarded, before the socket is closed anyway. */
#define LINGER_MS 2000
#define LINGER_BYTES (16u << 20)

/* Read size while a connection is not streaming bulk data: what a session
 * holds back (a client that pipelines without reading its replies) is at
 * most this, stashed once; later reads peek. */
#define SMALL_READ 8192

struct smtpkit_loop {
    smtpkit_loop_config cfg;
    smtpkit_mem mem;
    int epfd;
    int wake[2];
    volatile sig_atomic_t stop_requested;
    int stopping;
    uint64_t stop_deadline;
    uint64_t now;
    uint64_t accept_off_until; /* listeners paused after EMFILE */
    int accept_off;
    int *lfd;
    unsigned nlisten;
    smtpkit_loop_conn **conns;
    unsigned nconns, capconns;
    smtpkit_loop_conn **heap;
    unsigned nheap, capheap;
    smtpkit_loop_conn *pending;
    char *rbuf;
    size_t rbuf_len;
    struct pollfd *pfds;
    void **pobj;
    size_t cappfds;
    unsigned long serial;
    uint64_t started;
    char trace_id[64];
    char trace_buf[192];
};

/* ------------------------------------------------------------------------ */
/* small helpers                                                             */

void smtpkit_loop_config_init(smtpkit_loop_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->version = SMTPKIT_LOOP_CONFIG_VERSION;
    cfg->max_sessions = 1000;
    cfg->hostname = "localhost";
    cfg->read_buffer = 65536;
    cfg->stop_grace_s = 5;
}

static int grow(smtpkit_loop *l, void **arr, unsigned *cap, unsigned need, size_t elem)
{
    unsigned n;
    void *p;
    if (need <= *cap)
        return 0;
    n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    p = smtpkit__realloc(&l->mem, *arr, (size_t)n * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = n;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* the timer heap                                                            */

static void heap_set(smtpkit_loop *l, unsigned i, smtpkit_loop_conn *c)
{
    l->heap[i] = c;
    c->heap_idx = i;
}

static void heap_up(smtpkit_loop *l, unsigned i)
{
    smtpkit_loop_conn *c = l->heap[i];
    while (i > 0) {
        unsigned p = (i - 1) / 2;
        if (l->heap[p]->key <= c->key)
            break;
        heap_set(l, i, l->heap[p]);
        i = p;
    }
    heap_set(l, i, c);
}

static void heap_down(smtpkit_loop *l, unsigned i)
{
    smtpkit_loop_conn *c = l->heap[i];
    for (;;) {
        unsigned a = 2 * i + 1, b = a + 1, m = i;
        uint64_t mk = c->key;
        if (a < l->nheap && l->heap[a]->key < mk) {
            m = a;
            mk = l->heap[a]->key;
        }
        if (b < l->nheap && l->heap[b]->key < mk)
            m = b;
        if (m == i)
            break;
        heap_set(l, i, l->heap[m]);
        i = m;
    }
    heap_set(l, i, c);
}

static void heap_remove(smtpkit_loop *l, smtpkit_loop_conn *c)
{
    unsigned i = c->heap_idx;
    if (i == NOT_IN_HEAP)
        return;
    c->heap_idx = NOT_IN_HEAP;
    l->nheap--;
    if (i == l->nheap)
        return;
    {
        smtpkit_loop_conn *m = l->heap[l->nheap];
        heap_set(l, i, m);
        heap_up(l, i);
        heap_down(l, m->heap_idx);
    }
}

/* Keep the key no later than the session's deadline. */
static void timer_update(smtpkit_loop *l, smtpkit_loop_conn *c)
{
    uint64_t d = smtpkit_server_deadline(c->s);
    if (d == SMTPKIT_SERVER_NO_DEADLINE)
        return; /* a stale key just fires once for nothing */
    if (c->heap_idx == NOT_IN_HEAP) {
        if (grow(l, (void **)&l->heap, &l->capheap, l->nheap + 1, sizeof *l->heap) < 0)
            return; /* no timer: the session cannot time out; no better option */
        c->key = d;
        heap_set(l, l->nheap, c);
        l->nheap++;
        heap_up(l, c->heap_idx);
    } else if (d < c->key) {
        c->key = d;
        heap_up(l, c->heap_idx);
    }
}

/* ------------------------------------------------------------------------ */
/* event registration                                                        */

static int poll_mode(const smtpkit_loop *l) { return l->epfd < 0; }

static void set_events(smtpkit_loop *l, smtpkit_loop_conn *c, unsigned ev)
{
#ifdef LOOP_HAVE_EPOLL
    if (!poll_mode(l) && ev != c->events) {
        struct epoll_event e;
        memset(&e, 0, sizeof e);
        e.events = ((ev & EV_IN) ? EPOLLIN : 0u) | ((ev & EV_OUT) ? EPOLLOUT : 0u);
        e.data.u64 = (uint64_t)(uintptr_t)c;
        epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->fd, &e);
    }
#endif
    c->events = (uint8_t)ev;
}

static int reg_fd(smtpkit_loop *l, int fd, uint64_t tag, unsigned ev)
{
#ifdef LOOP_HAVE_EPOLL
    if (!poll_mode(l)) {
        struct epoll_event e;
        memset(&e, 0, sizeof e);
        e.events = ((ev & EV_IN) ? EPOLLIN : 0u) | ((ev & EV_OUT) ? EPOLLOUT : 0u);
        e.data.u64 = tag;
        return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e);
    }
#else
    (void)fd;
    (void)tag;
    (void)ev;
#endif
    (void)l;
    return 0;
}

static void listeners_enable(smtpkit_loop *l, int on)
{
    unsigned i;
    l->accept_off = !on;
#ifdef LOOP_HAVE_EPOLL
    if (!poll_mode(l)) {
        for (i = 0; i < l->nlisten; i++) {
            struct epoll_event e;
            if (l->lfd[i] < 0)
                continue;
            memset(&e, 0, sizeof e);
            e.events = on ? EPOLLIN : 0u;
            e.data.u64 = 1u + i;
            epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->lfd[i], &e);
        }
    }
#endif
    (void)i;
}

/* ------------------------------------------------------------------------ */
/* connections                                                               */

static void pending_remove(smtpkit_loop *l, smtpkit_loop_conn *c)
{
    smtpkit_loop_conn **pp = &l->pending;
    if (!c->pending)
        return;
    while (*pp && *pp != c)
        pp = &(*pp)->next_pending;
    if (*pp)
        *pp = c->next_pending;
    c->pending = 0;
}

static void stash_drop(smtpkit_loop *l, smtpkit_loop_conn *c)
{
    smtpkit__free(&l->mem, c->stash);
    c->stash = NULL;
    c->stash_len = c->stash_off = 0;
}

static void conn_close(smtpkit_loop *l, smtpkit_loop_conn *c, int reason)
{
    unsigned i = c->idx;
    smtpkit_loop_conn *last;
#ifdef LOOP_HAVE_EPOLL
    if (!poll_mode(l))
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
#endif
    /* A transport of its own may have a last word before the socket goes
     * (TLS: close_notify, RFC 8446 6.1); it must not close the socket. */
    if (c->io && c->io->close && !c->io_closed)
        c->io->close(c->io->ctx);
    /* Unread input would make close() send a RST that can destroy the
     * final reply in flight: read a little of what is pending first. */
    {
        char junk[512];
        int k;
        for (k = 0; k < 8 && recv(c->fd, junk, sizeof junk, MSG_DONTWAIT) > 0; k++) {
        }
    }
    close(c->fd);
    heap_remove(l, c);
    pending_remove(l, c);
    last = l->conns[--l->nconns];
    l->conns[i] = last;
    last->idx = i;
    if (c->s) {
        if (reason == 0)
            reason = smtpkit_server_close_reason(c->s);
        smtpkit_server_free(c->s); /* may call on_abort */
    }
    if (l->cfg.on_close)
        l->cfg.on_close(l->cfg.user, c, c->user, reason);
    stash_drop(l, c);
    smtpkit__free(&l->mem, c->io);
    smtpkit__free(&l->mem, c);
}

/* Write the session's output. 1: wrote some, 0: nothing to do or blocked, -1: error. */
static int conn_flush(smtpkit_loop_conn *c)
{
    const char *p;
    size_t n;
    int wrote = 0;
    while ((n = smtpkit_server_output(c->s, &p)) > 0) {
        smtpkit_ssize w;
        if (c->io) {
            w = c->io->write(c->io->ctx, p, n, 0);
            if (w == SMTPKIT_ERR_TIMEOUT || w == SMTPKIT_ERR_WOULDBLOCK)
                break;
            if (w <= 0)
                return -1;
        } else {
#ifdef MSG_NOSIGNAL
            ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
#else
            ssize_t k = send(c->fd, p, n, 0);
#endif
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (k <= 0)
                return -1;
            w = (smtpkit_ssize)k;
        }
        smtpkit_server_output_done(c->s, (size_t)w);
        wrote = 1;
    }
    return wrote;
}

/* Read: > 0 bytes, 0 end of stream, SMTPKIT_ERR_WOULDBLOCK, or an error. */
static smtpkit_ssize conn_read(smtpkit_loop_conn *c, char *buf, size_t len)
{
    if (c->io) {
        smtpkit_ssize n = c->io->read(c->io->ctx, buf, len, 0);
        return n == SMTPKIT_ERR_TIMEOUT ? SMTPKIT_ERR_WOULDBLOCK : n;
    }
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n >= 0)
            return (smtpkit_ssize)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return SMTPKIT_ERR_WOULDBLOCK;
        return errno == ECONNRESET ? 0 : SMTPKIT_ERR_IO;
    }
}

/* Like conn_read, but only looks at the data in peek mode. */
static smtpkit_ssize conn_peek_read(smtpkit_loop_conn *c, char *buf, size_t len)
{
    if (!c->peek || c->io)
        return conn_read(c, buf, len);
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, MSG_PEEK);
        if (n >= 0)
            return (smtpkit_ssize)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return SMTPKIT_ERR_WOULDBLOCK;
        return errno == ECONNRESET ? 0 : SMTPKIT_ERR_IO;
    }
}

/* Remove n peeked bytes from the socket (buf: at least n bytes of scratch). */
static int conn_drop(smtpkit_loop_conn *c, char *buf, size_t n)
{
    while (n) {
        ssize_t k = recv(c->fd, buf, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        n -= (size_t)k;
    }
    return 0;
}

/* Keep data[0..n) that the session did not take. */
static int stash_keep(smtpkit_loop *l, smtpkit_loop_conn *c, const char *data, size_t n)
{
    char *p = (char *)smtpkit__malloc(&l->mem, n);
    if (!p)
        return -1;
    memcpy(p, data, n);
    c->stash = p;
    c->stash_len = (uint32_t)n;
    c->stash_off = 0;
    return 0;
}

/* The session is over and its last reply is written. Closing a socket
 * with unread input sends a RST, and a RST can destroy at the client's end
 * the replies it has not read yet -- the 421 that says why (RFC 5321 3.8)
 * and those before it: a client that pipelines (or floods) loses them.
 * Then the FIN goes after the replies (shutdown), and what the client
 * still sends is read and dropped until it closes too, for LINGER_MS at
 * most (a lingering close, as httpd and nginx do). Returns 1 when the
 * connection was closed now. */
static int conn_finish(smtpkit_loop *l, smtpkit_loop_conn *c)
{
    char b;
    if ((c->stash_off < c->stash_len || recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0)) {
        /* a transport of its own (TLS) has its last word first: close_notify */
        if (c->io && c->io->close)
            c->io->close(c->io->ctx);
        c->io_closed = 1;
    }
    if (c->io_closed && shutdown(c->fd, SHUT_WR) == 0) {
        stash_drop(l, c);
        pending_remove(l, c);
        c->lingering = 1;
        c->linger_left = LINGER_BYTES;
        heap_remove(l, c);
        if (grow(l, (void **)&l->heap, &l->capheap, l->nheap + 1, sizeof *l->heap) == 0) {
            c->key = l->now + LINGER_MS;
            heap_set(l, l->nheap, c);
            l->nheap++;
            heap_up(l, c->heap_idx);
            set_events(l, c, EV_IN);
            return 0;
        }
    }
    conn_close(l, c, 0);
    return 1;
}

/* A lingering connection: drop what arrives; close at its end, on an
 * error, after LINGER_BYTES, or once LINGER_MS have passed. */
static int conn_linger(smtpkit_loop *l, smtpkit_loop_conn *c)
{
    for (;;) {
        ssize_t n;
        if (l->now >= c->key || c->linger_left == 0)
            break;
        n = recv(c->fd, l->rbuf, l->rbuf_len < c->linger_left ? l->rbuf_len : c->linger_left,
                 MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            break;
        c->linger_left -= (uint32_t)n;
    }
    conn_close(l, c, 0);
    return 1;
}

/* Move bytes for one connection until nothing more can happen now.
 * Returns 1 when the connection was closed (and freed): the caller must not
 * touch `c` again. */
static int conn_run(smtpkit_loop *l, smtpkit_loop_conn *c, int readable)
{
    smtpkit_server *s = c->s;
    unsigned want, ev;
    int iter;
    if (c->lingering)
        return conn_linger(l, c);
    for (iter = 0; iter < 64; iter++) {
        int progress = 0, fr;
        smtpkit_ssize n;
        fr = conn_flush(c);
        if (fr < 0) {
            smtpkit_server_eof(s);
            conn_close(l, c, SMTPKIT_ERR_IO);
            return 1;
        }
        want = smtpkit_server_want(s);
        if (want & SMTPKIT_SERVER_WANT_CLOSE) {
            if (!(want & SMTPKIT_SERVER_WANT_WRITE))
                return conn_finish(l, c);
            break; /* wait until the last reply is written */
        }
        if (want & SMTPKIT_SERVER_WANT_STARTTLS) {
            /* RFC 3207 / CVE-2011-0411: held-back plaintext is dropped. */
            stash_drop(l, c);
            if (!l->cfg.on_starttls || l->cfg.on_starttls(l->cfg.user, c) < 0) {
                smtpkit_server_eof(s);
                conn_close(l, c, SMTPKIT_ERR_TLS);
                return 1;
            }
            smtpkit_server_tls_started(s);
            continue;
        }
        if (smtpkit_server_paused(s))
            break;
        if (c->stash_off < c->stash_len) {
            n = smtpkit_server_feed(s, c->stash + c->stash_off, c->stash_len - c->stash_off);
            if (n > 0) {
                c->stash_off += (uint32_t)n;
                progress = 1;
            } else if (n < 0 && n != SMTPKIT_ERR_PAUSED) {
                stash_drop(l, c);
                progress = 1; /* fatal: the 421 goes out, then the close */
            }
            if (c->stash_off >= c->stash_len)
                stash_drop(l, c);
        } else {
            if (fr > 0) {
                /* room in the output again: let pending replies come out */
                n = smtpkit_server_feed(s, NULL, 0);
                if (smtpkit_server_output(s, NULL) > 0)
                    progress = 1;
            }
            if (readable && (want & SMTPKIT_SERVER_WANT_READ)) {
                /* Message data is taken whole: read big inside it (one
                 * recv for a 10 KiB message), and after full reads that
                 * were all taken; commands come in small reads. */
                size_t want_len = c->bulk || l->rbuf_len < SMALL_READ || smtpkit__server_in_data(s)
                                      ? l->rbuf_len
                                      : SMALL_READ;
                readable = 0;
                n = conn_peek_read(c, l->rbuf, want_len);
                if (n > 0) {
                    smtpkit_ssize r = smtpkit_server_feed(s, l->rbuf, (size_t)n);
                    c->bulk = (size_t)n == want_len && r == n;
                    /* A full read that was all taken: more is most likely
                     * waiting, read it now rather than after another
                     * epoll_wait (the loop bounds this at 64 reads). */
                    readable = c->bulk && !c->peek;
                    if (c->peek) {
                        /* take from the socket exactly what the session took;
                         * the rest stays in the kernel (no stash) */
                        if (r > 0 && conn_drop(c, l->rbuf, (size_t)r) < 0) {
                            smtpkit_server_eof(s);
                            conn_close(l, c, SMTPKIT_ERR_IO);
                            return 1;
                        }
                    } else if (r >= 0 && r < n) {
                        /* Held back: keep the rest, and from now on peek, so
                         * that a session that holds input back (a client that
                         * does not read its replies, or slow decisions) costs
                         * no memory beyond this one stash. */
                        if (stash_keep(l, c, l->rbuf + r, (size_t)(n - r)) < 0) {
                            smtpkit_server_eof(s);
                            conn_close(l, c, SMTPKIT_ERR_NOMEM);
                            return 1;
                        }
                        if (!c->io)
                            c->peek = 1;
                    }
                    progress = 1;
                } else if (n == 0) {
                    smtpkit_server_eof(s);
                    progress = 1;
                } else if (n != SMTPKIT_ERR_WOULDBLOCK) {
                    smtpkit_server_eof(s);
                    conn_close(l, c, (int)n);
                    return 1;
                }
            }
        }
        if (!progress) {
            if (smtpkit_server_tick(s, l->now) == SMTPKIT_ERR_TIMEOUT)
                continue; /* a 421 to write */
            break;
        }
    }
    smtpkit_server_tick(s, l->now);
    want = smtpkit_server_want(s);
    if ((want & SMTPKIT_SERVER_WANT_CLOSE) && !(want & SMTPKIT_SERVER_WANT_WRITE))
        return conn_finish(l, c);
    ev = 0;
    if (want & SMTPKIT_SERVER_WANT_WRITE)
        ev |= EV_OUT;
    if ((want & SMTPKIT_SERVER_WANT_READ) && c->stash_off >= c->stash_len)
        ev |= EV_IN;
    set_events(l, c, ev);
    timer_update(l, c);
    return 0;
}

static void write_421_and_close(smtpkit_loop *l, int fd)
{
    char msg[320];
    int n = snprintf(msg, sizeof msg, "421 4.7.0 %s Too many connections, try again later\r\n",
                     l->cfg.hostname ? l->cfg.hostname : "localhost");
    if (n > 0) {
#ifdef MSG_NOSIGNAL
        ssize_t w = send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
#else
        ssize_t w = send(fd, msg, (size_t)n, MSG_DONTWAIT);
#endif
        (void)w;
    }
    close(fd);
}

static void do_accept(smtpkit_loop *l, unsigned li)
{
    int k;
    for (k = 0; k < ACCEPT_BATCH; k++) {
        smtpkit_loop_conn *c;
        smtpkit_server *s;
        int one = 1;
#if defined(__linux__) && defined(SOCK_NONBLOCK)
        int fd = accept4(l->lfd[li], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        int fd = accept(l->lfd[li], NULL, NULL);
#endif
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop accepting for a moment rather
                 * than spin on a listener that stays readable. */
                listeners_enable(l, 0);
                l->accept_off_until = l->now + 100;
            }
            return;
        }
#if !(defined(__linux__) && defined(SOCK_NONBLOCK))
        if (smtpkit__posix_set_flags(fd) != 0) {
            close(fd);
            continue;
        }
#endif
        if (l->nconns >= l->cfg.max_sessions) {
            write_421_and_close(l, fd);
            continue;
        }
        /* Replies are written whole, once per batch of input: no need for
         * Nagle to hold them back. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c = (smtpkit_loop_conn *)smtpkit__calloc(&l->mem, 1, sizeof *c);
        if (!c || grow(l, (void **)&l->conns, &l->capconns, l->nconns + 1, sizeof *l->conns) < 0) {
            smtpkit__free(&l->mem, c);
            close(fd);
            continue;
        }
        c->loop = l;
        c->fd = fd;
        c->heap_idx = NOT_IN_HEAP;
        c->idx = l->nconns;
        l->conns[l->nconns++] = c;
        s = l->cfg.on_accept(l->cfg.user, c, li);
        if (!s) {
            l->nconns--;
            if (c->idx != l->nconns) {
                l->conns[c->idx] = l->conns[l->nconns];
                l->conns[c->idx]->idx = c->idx;
            }
            close(fd);
            smtpkit__free(&l->mem, c->io);
            smtpkit__free(&l->mem, c);
            continue;
        }
        c->s = s;
        if (reg_fd(l, fd, (uint64_t)(uintptr_t)c, EV_IN) != 0) {
            conn_close(l, c, SMTPKIT_ERR_IO);
            continue;
        }
        c->events = EV_IN;
        smtpkit_server_start(s, l->now);
        conn_run(l, c, 0);
    }
}

/* ------------------------------------------------------------------------ */
/* the loop                                                                  */

smtpkit_loop *smtpkit_loop_new(const smtpkit_loop_config *cfg, const smtpkit_mem *mem)
{
    smtpkit_loop *l;
    if (!cfg || cfg->version != SMTPKIT_LOOP_CONFIG_VERSION || !cfg->on_accept)
        return NULL;
    l = (smtpkit_loop *)smtpkit__calloc(mem, 1, sizeof *l);
    if (!l)
        return NULL;
    if (mem)
        l->mem = *mem;
    l->cfg = *cfg;
    if (!l->cfg.max_sessions)
        l->cfg.max_sessions = 1000;
    if (l->cfg.read_buffer < 512)
        l->cfg.read_buffer = 65536;
    if (!l->cfg.stop_grace_s)
        l->cfg.stop_grace_s = 5;
    l->epfd = -1;
    l->wake[0] = l->wake[1] = -1;
    l->rbuf_len = l->cfg.read_buffer;
    l->rbuf = (char *)smtpkit__malloc(&l->mem, l->rbuf_len);
    if (!l->rbuf || pipe(l->wake) != 0 || smtpkit__posix_set_flags(l->wake[0]) != 0 ||
        smtpkit__posix_set_flags(l->wake[1]) != 0)
        goto fail;
#ifdef LOOP_HAVE_EPOLL
    if (!(cfg->flags & SMTPKIT_LOOP_USE_POLL)) {
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (l->epfd < 0 || reg_fd(l, l->wake[0], 0, EV_IN) != 0)
            goto fail;
    }
#endif
    l->now = smtpkit_posix_monotonic_ms();
    l->started = (uint64_t)time(NULL);
    return l;
fail:
    smtpkit_loop_free(l);
    return NULL;
}

int smtpkit_loop_add_listener(smtpkit_loop *l, int fd)
{
    int *p;
    if (!l || fd < 0 || l->stopping)
        return SMTPKIT_ERR_INVALID_ARG;
    p = (int *)smtpkit__realloc(&l->mem, l->lfd, (l->nlisten + 1) * sizeof *p);
    if (!p)
        return SMTPKIT_ERR_NOMEM;
    l->lfd = p;
    if (smtpkit__posix_set_flags(fd) != 0 || reg_fd(l, fd, 1u + l->nlisten, EV_IN) != 0)
        return SMTPKIT_ERR_IO;
    l->lfd[l->nlisten] = fd;
    return (int)l->nlisten++;
}

void smtpkit_loop_stop(smtpkit_loop *l)
{
    if (!l)
        return;
    l->stop_requested = 1;
    if (l->wake[1] >= 0) {
        ssize_t w = write(l->wake[1], "x", 1);
        (void)w;
    }
}

static void begin_stop(smtpkit_loop *l)
{
    unsigned i;
    l->stopping = 1;
    l->stop_deadline = l->now + (uint64_t)l->cfg.stop_grace_s * 1000u;
    for (i = 0; i < l->nlisten; i++) {
        if (l->lfd[i] >= 0) {
#ifdef LOOP_HAVE_EPOLL
            if (!poll_mode(l))
                epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->lfd[i], NULL);
#endif
            close(l->lfd[i]);
            l->lfd[i] = -1;
        }
    }
    /* Sessions in flight end with 421 (RFC 5321 3.8). Iterate backwards:
     * conn_run may close (and swap-remove) the connection it runs. */
    for (i = l->nconns; i-- > 0;) {
        smtpkit_loop_conn *c = l->conns[i];
        smtpkit_server_shutdown(c->s, NULL);
        conn_run(l, c, 0);
    }
}

static void handle_obj(smtpkit_loop *l, uint64_t tag, unsigned revents)
{
    if (tag == 0) {
        char b[64];
        while (read(l->wake[0], b, sizeof b) > 0) {
        }
        return;
    }
    if (tag <= l->nlisten) {
        if (!l->stopping && !l->accept_off && l->lfd[tag - 1] >= 0)
            do_accept(l, (unsigned)(tag - 1));
        return;
    }
    {
        smtpkit_loop_conn *c = (smtpkit_loop_conn *)(uintptr_t)tag;
        conn_run(l, c, (revents & EV_IN) != 0);
    }
}

static int next_timeout(smtpkit_loop *l, int timeout_ms)
{
    uint64_t until = UINT64_MAX;
    int t;
    if (l->pending)
        return 0;
    if (l->nheap)
        until = l->heap[0]->key;
    if (l->accept_off && l->accept_off_until < until)
        until = l->accept_off_until;
    if (l->stopping && l->stop_deadline < until)
        until = l->stop_deadline;
    if (until == UINT64_MAX)
        return timeout_ms;
    t = until <= l->now ? 0 : (until - l->now > 0x7fffffff ? 0x7fffffff : (int)(until - l->now));
    if (timeout_ms >= 0 && timeout_ms < t)
        t = timeout_ms;
    return t;
}

static int wait_events(smtpkit_loop *l, int timeout)
{
#ifdef LOOP_HAVE_EPOLL
    if (!poll_mode(l)) {
        struct epoll_event ev[MAX_EVENTS];
        int n, i;
        n = epoll_wait(l->epfd, ev, MAX_EVENTS, timeout);
        l->now = smtpkit_posix_monotonic_ms();
        if (n < 0)
            return errno == EINTR ? 0 : -1;
        for (i = 0; i < n; i++) {
            unsigned r = 0;
            if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                r |= EV_IN;
            if (ev[i].events & EPOLLOUT)
                r |= EV_OUT;
            handle_obj(l, ev[i].data.u64, r);
        }
        return 0;
    }
#endif
    {
        size_t n = 0, i, need = 1 + l->nlisten + l->nconns;
        int r;
        if (need > l->cappfds) {
            struct pollfd *p = (struct pollfd *)smtpkit__realloc(&l->mem, l->pfds, need * 2 * sizeof *p);
            void **o;
            if (!p)
                return -1;
            l->pfds = p;
            o = (void **)smtpkit__realloc(&l->mem, l->pobj, need * 2 * sizeof *o);
            if (!o)
                return -1;
            l->pobj = o;
            l->cappfds = need * 2;
        }
        l->pfds[n].fd = l->wake[0];
        l->pfds[n].events = POLLIN;
        l->pobj[n++] = NULL;
        for (i = 0; i < l->nlisten; i++) {
            if (l->lfd[i] < 0 || l->accept_off || l->stopping)
                continue;
            l->pfds[n].fd = l->lfd[i];
            l->pfds[n].events = POLLIN;
            l->pobj[n++] = (void *)(uintptr_t)(1u + i);
        }
        for (i = 0; i < l->nconns; i++) {
            smtpkit_loop_conn *c = l->conns[i];
            l->pfds[n].fd = c->fd;
            l->pfds[n].events = (short)(((c->events & EV_IN) ? POLLIN : 0) |
                                        ((c->events & EV_OUT) ? POLLOUT : 0));
            l->pobj[n++] = c;
        }
        r = poll(l->pfds, (nfds_t)n, timeout);
        l->now = smtpkit_posix_monotonic_ms();
        if (r < 0)
            return errno == EINTR ? 0 : -1;
        /* Connections may close while handling: collect first, by tag. */
        for (i = 0; i < n && r > 0; i++) {
            short re = l->pfds[i].revents;
            unsigned ev = 0;
            uint64_t tag;
            if (!re)
                continue;
            r--;
            if (re & (POLLIN | POLLHUP | POLLERR))
                ev |= EV_IN;
            if (re & POLLOUT)
                ev |= EV_OUT;
            /* Each connection appears once and closes only while it runs,
             * so every pointer here is still valid when its turn comes. */
            tag = (uint64_t)(uintptr_t)l->pobj[i];
            handle_obj(l, tag, ev);
        }
        return 0;
    }
}

static void run_timers(smtpkit_loop *l)
{
    int guard = 0;
    while (l->nheap && l->heap[0]->key <= l->now && guard++ < 100000) {
        smtpkit_loop_conn *c = l->heap[0];
        uint64_t d;
        /* ticks: a timeout queues its 421, and when it can be written at
         * once the connection closes here: then `c` is gone */
        if (conn_run(l, c, 0))
            continue;
        if (c->heap_idx == NOT_IN_HEAP || c->lingering)
            continue; /* a lingering key is its end: conn_linger closed it */
        d = smtpkit_server_deadline(c->s);
        if (d == SMTPKIT_SERVER_NO_DEADLINE) {
            heap_remove(l, c);
            continue;
        }
        c->key = d > l->now ? d : l->now + 1000;
        heap_up(l, c->heap_idx);
        heap_down(l, c->heap_idx);
    }
}

int smtpkit_loop_run_once(smtpkit_loop *l, int timeout_ms)
{
    if (!l)
        return SMTPKIT_ERR_INVALID_ARG;
    if (l->stop_requested && !l->stopping)
        begin_stop(l);
    if (l->stopping && l->nconns == 0)
        return 0;
    if (wait_events(l, next_timeout(l, timeout_ms)) < 0)
        return SMTPKIT_ERR_IO;
    while (l->pending) {
        smtpkit_loop_conn *c = l->pending;
        l->pending = c->next_pending;
        c->pending = 0;
        conn_run(l, c, 0);
    }
    run_timers(l);
    if (l->accept_off && l->now >= l->accept_off_until && !l->stopping)
        listeners_enable(l, 1);
    if (l->stop_requested && !l->stopping)
        begin_stop(l);
    if (l->stopping && l->now >= l->stop_deadline) {
        while (l->nconns)
            conn_close(l, l->conns[l->nconns - 1], SMTPKIT_ERR_STATE);
    }
    return l->stopping && l->nconns == 0 ? 0 : 1;
}

int smtpkit_loop_run(smtpkit_loop *l)
{
    int r;
    while ((r = smtpkit_loop_run_once(l, -1)) > 0) {
    }
    return r;
}

void smtpkit_loop_free(smtpkit_loop *l)
{
    unsigned i;
    smtpkit_mem mem;
    if (!l)
        return;
    while (l->nconns)
        conn_close(l, l->conns[l->nconns - 1], SMTPKIT_ERR_STATE);
    for (i = 0; i < l->nlisten; i++)
        if (l->lfd[i] >= 0)
            close(l->lfd[i]);
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wake[0] >= 0)
        close(l->wake[0]);
    if (l->wake[1] >= 0)
        close(l->wake[1]);
    mem = l->mem;
    smtpkit__free(&mem, l->lfd);
    smtpkit__free(&mem, l->conns);
    smtpkit__free(&mem, l->heap);
    smtpkit__free(&mem, l->pfds);
    smtpkit__free(&mem, l->pobj);
    smtpkit__free(&mem, l->rbuf);
    smtpkit__free(&mem, l);
}

unsigned smtpkit_loop_sessions(const smtpkit_loop *l) { return l ? l->nconns : 0; }

smtpkit_server *smtpkit_loop_conn_session(const smtpkit_loop_conn *c) { return c ? c->s : NULL; }

int smtpkit_loop_conn_fd(const smtpkit_loop_conn *c) { return c ? c->fd : -1; }

void smtpkit_loop_conn_set_user(smtpkit_loop_conn *c, void *user)
{
    if (c)
        c->user = user;
}

void *smtpkit_loop_conn_user(const smtpkit_loop_conn *c) { return c ? c->user : NULL; }

int smtpkit_loop_conn_resume(smtpkit_loop_conn *c, const smtpkit_server_decision *d)
{
    int r;
    if (!c || !c->s)
        return SMTPKIT_ERR_INVALID_ARG;
    r = smtpkit_server_resume(c->s, d);
    if (!c->pending) {
        c->pending = 1;
        c->next_pending = c->loop->pending;
        c->loop->pending = c;
    }
    return r;
}

int smtpkit_loop_conn_trace(smtpkit_loop_conn *c, smtpkit_server_trace *t)
{
    smtpkit_loop *l;
    if (!c || !t)
        return SMTPKIT_ERR_INVALID_ARG;
    l = c->loop;
    /* unique per message: loop start time, process, counter */
    snprintf(l->trace_id, sizeof l->trace_id, "%llX.%lX.%lX", (unsigned long long)l->started,
             (unsigned long)getpid(), ++l->serial);
    return smtpkit_posix_trace(t, c->fd, l->trace_id, l->trace_buf, sizeof l->trace_buf);
}

int smtpkit_loop_conn_set_io(smtpkit_loop_conn *c, const smtpkit_io *io)
{
    if (!c || !io || !io->read || !io->write)
        return SMTPKIT_ERR_INVALID_ARG;
    if (!c->io) {
        c->io = (smtpkit_io *)smtpkit__malloc(&c->loop->mem, sizeof *c->io);
        if (!c->io)
            return SMTPKIT_ERR_NOMEM;
    }
    *c->io = *io;
    return 0;
}
