/* POSIX: listening sockets and socket address formatting. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtpkit/posix.h"
#include "loop_int.h"

int smtpkit__posix_set_flags(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    fl = fcntl(fd, F_GETFD, 0);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

/* "ADDR:PORT" of a socket address; IPv4-mapped IPv6 shown as IPv4. */
int smtpkit__posix_format_addr(const struct sockaddr *sa, char *buf, size_t len, int with_port,
                               int literal)
{
    char host[INET6_ADDRSTRLEN];
    unsigned port;
    if (!buf || !len)
        return -1;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        if (with_port)
            snprintf(buf, len, "%s:%u", host, port);
        else
            snprintf(buf, len, "%s", host);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        port = ntohs(in6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof host);
            if (with_port)
                snprintf(buf, len, "%s:%u", host, port);
            else
                snprintf(buf, len, "%s", host);
            return 0;
        }
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        if (with_port)
            snprintf(buf, len, "[%s]:%u", host, port);
        else
            /* RFC 5321 4.1.3: IPv6-address-literal = "IPv6:" IPv6-addr */
            snprintf(buf, len, "%s%s", literal ? "IPv6:" : "", host);
        return 0;
    }
    snprintf(buf, len, "unknown");
    return -1;
}

int smtpkit_posix_peer_name(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (!buf || !len)
        return SMTPKIT_ERR_INVALID_ARG;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(buf, len, "unknown");
        return SMTPKIT_ERR_IO;
    }
    return smtpkit__posix_format_addr((struct sockaddr *)&ss, buf, len, 1, 0) ? SMTPKIT_ERR_IO : 0;
}

int smtpkit_posix_listen(const char *addr, int backlog, char *bound, size_t boundlen)
{
    char host[256], port[16];
    const char *colon, *h;
    size_t hl;
    struct addrinfo hints, *res = NULL;
    int fd, one = 1, err;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;

    if (!addr)
        return SMTPKIT_ERR_INVALID_ARG;
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (!rb || rb[1] != ':')
            return SMTPKIT_ERR_INVALID_ARG;
        h = addr + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || strchr(addr, ':') != colon)
            return SMTPKIT_ERR_INVALID_ARG; /* IPv6 needs brackets */
        h = addr;
        hl = (size_t)(colon - addr);
    }
    if (hl >= sizeof host || strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof port)
        return SMTPKIT_ERR_INVALID_ARG;
    memcpy(host, h, hl);
    host[hl] = '\0';
    strcpy(port, colon + 1);
    if (strspn(port, "0123456789") != strlen(port))
        return SMTPKIT_ERR_INVALID_ARG;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (hl == 0 || strcmp(host, "*") == 0) {
        hints.ai_family = AF_INET;
        err = getaddrinfo(NULL, port, &hints, &res);
    } else {
        err = getaddrinfo(host, port, &hints, &res);
    }
    if (err != 0 || !res) {
        if (res)
            freeaddrinfo(res);
        return err == EAI_SERVICE ? SMTPKIT_ERR_INVALID_ARG : SMTPKIT_ERR_CONNECT;
    }
    fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd < 0) {
        freeaddrinfo(res);
        return SMTPKIT_ERR_IO;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (res->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (smtpkit__posix_set_flags(fd) != 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, backlog > 0 ? backlog : 128) != 0) {
        int e = errno;
        close(fd);
        freeaddrinfo(res);
        errno = e;
        return SMTPKIT_ERR_IO;
    }
    freeaddrinfo(res);
    if (bound && boundlen) {
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            smtpkit__posix_format_addr((struct sockaddr *)&ss, bound, boundlen, 1, 0);
        else
            snprintf(bound, boundlen, "%s", addr);
    }
    return fd;
}
