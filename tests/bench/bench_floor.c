/* bench_floor: the floor a real SMTP server can approach -- a throwaway
 * epoll responder that answers every command with a canned reply and finds
 * the end of data with memmem, nothing else (no parsing, no checks, no
 * limits, no timeouts). Not a server: a yardstick for bench_recv.py, which
 * measures it against smtpkit-recv --sink and smtp-sink (issue 7 describes
 * it as "the floor a real server can approach").
 *
 *   bench_floor ADDR:PORT        (IPv4; Linux: epoll)
 *
 * Prints "listening on ADDR:PORT" when ready; stops on SIGTERM/SIGINT. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE 1 /* accept4, memmem */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef __linux__
int main(void)
{
    fprintf(stderr, "bench_floor: Linux only (epoll)\n");
    return 2;
}
#else
#include <sys/epoll.h>

#define RBUF 65536

typedef struct fconn {
    int fd;
    int data;         /* inside DATA */
    char tail[4];     /* last bytes of data seen, for a terminator split across reads */
    size_t tail_len;
    char line[1024];  /* a partial command line */
    size_t line_len;
} fconn;

static volatile sig_atomic_t stop;
static void on_sig(int s)
{
    (void)s;
    stop = 1;
}

static char rbuf[RBUF];
static char obuf[8192];

static size_t reply(const char *l, size_t n, char *o, fconn *c, int *quit)
{
    static const char ehlo[] = "250-floor\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
    const char *r = "250 2.0.0 Ok\r\n";
    size_t k;
    if (n >= 4 && !strncasecmp(l, "EHLO", 4))
        r = ehlo;
    else if (n >= 4 && !strncasecmp(l, "DATA", 4)) {
        r = "354 End data with <CR><LF>.<CR><LF>\r\n";
        c->data = 1;
        memcpy(c->tail, "\r\n", 2); /* the DATA line's own CRLF: ".\r\n" at once ends it */
        c->tail_len = 2;
    } else if (n >= 4 && !strncasecmp(l, "QUIT", 4)) {
        r = "221 2.0.0 Bye\r\n";
        *quit = 1;
    }
    k = strlen(r);
    memcpy(o, r, k);
    return k;
}

/* Consume from p[0..n) while obuf has room; *out grows by the replies
 * written. Returns the bytes consumed. */
static size_t handle(fconn *c, const char *p, size_t n, size_t *out, int *quit)
{
    const char *start = p;
    while (n && !*quit && *out + 256 < sizeof obuf) {
        if (c->data) {
            /* the end of data "\r\n.\r\n", possibly split across reads */
            char joint[9];
            const char *e;
            size_t jl = c->tail_len, take = n < 4 ? n : 4, used;
            memcpy(joint, c->tail, jl);
            memcpy(joint + jl, p, take);
            e = (const char *)memmem(joint, jl + take, "\r\n.\r\n", 5);
            if (e) {
                used = (size_t)(e - joint) + 5 - jl;
            } else {
                e = (const char *)memmem(p, n, "\r\n.\r\n", 5);
                if (!e) {
                    if (n >= 4) {
                        memcpy(c->tail, p + n - 4, 4);
                        c->tail_len = 4;
                    } else {
                        size_t all = jl + n, from = all > 4 ? all - 4 : 0;
                        memmove(c->tail, joint + from, all - from);
                        c->tail_len = all - from;
                    }
                    p += n;
                    n = 0;
                    break;
                }
                used = (size_t)(e - p) + 5;
            }
            p += used;
            n -= used;
            c->data = 0;
            memcpy(obuf + *out, "250 2.0.0 Ok: queued\r\n", 22);
            *out += 22;
            continue;
        }
        {
            const char *lf = (const char *)memchr(p, '\n', n);
            size_t take;
            if (!lf) {
                size_t k = n < sizeof c->line - c->line_len ? n : sizeof c->line - c->line_len;
                memcpy(c->line + c->line_len, p, k);
                c->line_len += k;
                p += n;
                n = 0;
                break;
            }
            take = (size_t)(lf - p) + 1;
            if (c->line_len) {
                size_t k = take < sizeof c->line - c->line_len ? take : sizeof c->line - c->line_len;
                memcpy(c->line + c->line_len, p, k);
                *out += reply(c->line, c->line_len + k, obuf + *out, c, quit);
                c->line_len = 0;
            } else {
                *out += reply(p, take, obuf + *out, c, quit);
            }
            p += take;
            n -= take;
        }
    }
    return (size_t)(p - start);
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    char host[64];
    const char *colon;
    int lfd, ep, one = 1;
    struct epoll_event ev, evs[256];

    if (argc != 2 || !(colon = strrchr(argv[1], ':')) || (size_t)(colon - argv[1]) >= sizeof host) {
        fprintf(stderr, "usage: bench_floor ADDR:PORT\n");
        return 2;
    }
    memcpy(host, argv[1], (size_t)(colon - argv[1]));
    host[colon - argv[1]] = '\0';
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "bench_floor: bad address %s\n", host);
        return 2;
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1024) != 0) {
        perror("bench_floor: listen");
        return 1;
    }
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    printf("listening on %s:%u\n", host, (unsigned)ntohs(sa.sin_port));
    fflush(stdout);
    signal(SIGTERM, on_sig);
    signal(SIGINT, on_sig);
    signal(SIGPIPE, SIG_IGN);
    ep = epoll_create1(EPOLL_CLOEXEC);
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, 1000), i;
        for (i = 0; i < n; i++) {
            fconn *c = (fconn *)evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    c = (fconn *)calloc(1, sizeof *c);
                    if (!c) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    ev.events = EPOLLIN;
                    ev.data.ptr = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                    if (send(fd, "220 floor ESMTP\r\n", 17, MSG_NOSIGNAL) < 0) {
                        /* the client will see the close */
                    }
                }
                continue;
            }
            {
                ssize_t r = recv(c->fd, rbuf, sizeof rbuf, 0);
                int quit = 0;
                if (r > 0) {
                    size_t done = 0;
                    while (done < (size_t)r && !quit) {
                        size_t o = 0;
                        done += handle(c, rbuf + done, (size_t)r - done, &o, &quit);
                        if (o && send(c->fd, obuf, o, MSG_NOSIGNAL) < 0)
                            quit = 1;
                    }
                }
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) || quit) {
                    close(c->fd);
                    free(c);
                }
            }
        }
    }
    return 0;
}
#endif
