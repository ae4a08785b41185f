/* Private to the POSIX receiving side (listen.c, server_socket.c, loop.c). */
#ifndef SMTPKIT_LOOP_INT_H
#define SMTPKIT_LOOP_INT_H

#include <stddef.h>
#include <sys/socket.h>

/* O_NONBLOCK and FD_CLOEXEC on fd; 0 or -1 (errno). */
int smtpkit__posix_set_flags(int fd);

/* Format a socket address: "ADDR:PORT" / "[V6]:PORT" with_port, else the
 * address alone ("IPv6:"-prefixed for IPv6 when literal). 0 or -1. */
int smtpkit__posix_format_addr(const struct sockaddr *sa, char *buf, size_t len, int with_port,
                               int literal);

/* RFC 5322 3.3 date-time of the current local time into buf (>= 40 bytes). */
size_t smtpkit__posix_date(char *buf, size_t len);

#endif /* SMTPKIT_LOOP_INT_H */
