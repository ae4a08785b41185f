/* Connect by host name: getaddrinfo, every address in turn, a timeout each. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtpkit/posix_client.h"

static void set_err(char *buf, size_t len, const char *host, uint16_t port, const char *why)
{
    if (buf && len)
        snprintf(buf, len, "%s%s%s:%u: %s", strchr(host, ':') ? "[" : "", host,
                 strchr(host, ':') ? "]" : "", (unsigned)port, why);
}

/* A non-blocking connect that waits at most timeout_ms. Returns 0 or errno. */
static int connect_one(int fd, const struct sockaddr *sa, socklen_t salen, int timeout_ms)
{
    int r, err = 0;
    socklen_t elen = sizeof err;
    struct pollfd p;
    do {
        r = connect(fd, sa, salen);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (errno != EINPROGRESS)
        return errno;
    p.fd = fd;
    p.events = POLLOUT;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return ETIMEDOUT;
    if (r < 0)
        return errno;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
        return errno;
    return err;
}

int smtpkit_posix_connect(const char *host, uint16_t port, int timeout_ms, char *errbuf,
                          size_t errlen)
{
    struct addrinfo hints, *res = NULL, *ai;
    char portstr[8], name[256];
    size_t n;
    int r, fd = -1, last = 0;

    if (errbuf && errlen)
        errbuf[0] = 0;
    if (!host || !*host || port == 0)
        return SMTPKIT_ERR_INVALID_ARG;
    /* "[::1]" as well as "::1" */
    n = strlen(host);
    if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
        if (n - 2 >= sizeof name)
            return SMTPKIT_ERR_INVALID_ARG;
        memcpy(name, host + 1, n - 2);
        name[n - 2] = 0;
        host = name;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    r = getaddrinfo(host, portstr, &hints, &res);
    if (r != 0) {
        set_err(errbuf, errlen, host, port, gai_strerror(r));
        return SMTPKIT_ERR_CONNECT;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int one = 1, flags;
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
            fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
            last = errno;
            close(fd);
            fd = -1;
            continue;
        }
        last = connect_one(fd, ai->ai_addr, ai->ai_addrlen, timeout_ms);
        if (last == 0) {
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        set_err(errbuf, errlen, host, port, last ? strerror(last) : "no address");
        return SMTPKIT_ERR_CONNECT;
    }
    return fd;
}
