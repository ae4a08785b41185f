/* POSIX: a socket as a blocking smtpkit_io, the monotonic clock, and the
 * facts of a Received: header. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smtpkit/posix.h"
#include "loop_int.h"

uint64_t smtpkit_posix_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait for `ev` on fd: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short ev, int timeout_ms)
{
    struct pollfd p;
    int r;
    p.fd = fd;
    p.events = ev;
    p.revents = 0;
    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -1 : r;
}

static smtpkit_ssize sock_read(void *ctx, char *buf, size_t len, int timeout_ms)
{
    int fd = ((smtpkit_posix_socket *)ctx)->fd;
    for (;;) {
        /* MSG_DONTWAIT: the socket may be blocking, the timeout must hold */
        ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
        int w;
        if (n >= 0)
            return (smtpkit_ssize)n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return errno == ECONNRESET ? 0 : SMTPKIT_ERR_IO;
        w = wait_fd(fd, POLLIN, timeout_ms);
        if (w == 0)
            return SMTPKIT_ERR_TIMEOUT;
        if (w < 0)
            return SMTPKIT_ERR_IO;
    }
}

static smtpkit_ssize sock_write(void *ctx, const char *buf, size_t len, int timeout_ms)
{
    int fd = ((smtpkit_posix_socket *)ctx)->fd;
    for (;;) {
#ifdef MSG_NOSIGNAL
        ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
#else
        ssize_t n = send(fd, buf, len, MSG_DONTWAIT);
#endif
        int w;
        if (n > 0)
            return (smtpkit_ssize)n;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return SMTPKIT_ERR_IO;
        w = wait_fd(fd, POLLOUT, timeout_ms);
        if (w == 0)
            return SMTPKIT_ERR_TIMEOUT;
        if (w < 0)
            return SMTPKIT_ERR_IO;
    }
}

static void sock_close(void *ctx)
{
    smtpkit_posix_socket *s = (smtpkit_posix_socket *)ctx;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static uint64_t sock_now(void *ctx)
{
    (void)ctx;
    return smtpkit_posix_monotonic_ms();
}

void smtpkit_posix_socket_io_init(smtpkit_io *io, smtpkit_posix_socket *sock, int fd)
{
    if (!io || !sock)
        return;
    memset(io, 0, sizeof *io);
    sock->fd = fd;
    io->read = sock_read;
    io->write = sock_write;
    io->starttls = NULL;
    io->close = sock_close;
    io->now_ms = sock_now;
    io->ctx = sock;
}

size_t smtpkit__posix_date(char *buf, size_t len)
{
    /* RFC 5322 3.3, with English names whatever the locale. */
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm lt, gt;
    long off;
    int n;
    char sign = '+';
    localtime_r(&now, &lt);
    gmtime_r(&now, &gt);
    /* the zone offset without relying on tm_gmtoff */
    off = (long)(lt.tm_hour - gt.tm_hour) * 60 + (lt.tm_min - gt.tm_min);
    if (lt.tm_yday != gt.tm_yday)
        off += (lt.tm_year > gt.tm_year || (lt.tm_year == gt.tm_year && lt.tm_yday > gt.tm_yday))
                   ? 1440
                   : -1440;
    if (off < 0) {
        sign = '-';
        off = -off;
    }
    n = snprintf(buf, len, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[lt.tm_wday % 7],
                 lt.tm_mday, months[lt.tm_mon % 12], lt.tm_year + 1900, lt.tm_hour, lt.tm_min,
                 lt.tm_sec, sign, off / 60, off % 60);
    return n < 0 ? 0 : ((size_t)n < len ? (size_t)n : len - 1);
}

int smtpkit_posix_trace(smtpkit_server_trace *t, int fd, const char *id, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    size_t n;
    if (!t || !buf || len < 128)
        return SMTPKIT_ERR_BUFFER_TOO_SMALL;
    n = smtpkit__posix_date(buf, 48);
    t->date.ptr = buf;
    t->date.len = n;
    buf += 48;
    len -= 48;
    t->addr.ptr = NULL;
    t->addr.len = 0;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        smtpkit__posix_format_addr((struct sockaddr *)&ss, buf, len, 0, 1) == 0) {
        t->addr.ptr = buf;
        t->addr.len = strlen(buf);
    }
    t->id.ptr = id;
    t->id.len = id ? strlen(id) : 0;
    t->name.ptr = NULL;
    t->name.len = 0;
    return 0;
}
