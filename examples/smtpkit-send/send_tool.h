/* smtpkit-send: pieces shared by its source files. */
#ifndef SMTPKIT_SEND_TOOL_H
#define SMTPKIT_SEND_TOOL_H

#include <stddef.h>

#include "smtpkit/source.h"

/* sysexits.h values, spelled out for systems without it. */
#define EXIT_USAGE 64       /* EX_USAGE: bad command line */
#define EXIT_DATAERR 65     /* EX_DATAERR: bad address or header */
#define EXIT_NOINPUT 66     /* EX_NOINPUT: the message file cannot be read */
#define EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE: permanent failure, or not built in */
#define EXIT_SOFTWARE 70    /* EX_SOFTWARE: internal error */
#define EXIT_TEMPFAIL 75    /* EX_TEMPFAIL: temporary failure, try again later */

/* A growable list of recipient addresses (each a NUL-terminated copy). */
typedef struct addr_list {
    char **v;
    size_t n, cap;
} addr_list;

/* Add `len` bytes at `p` unless already present (exact match). 0 or -1. */
int addr_list_add(addr_list *l, const char *p, size_t len);
void addr_list_free(addr_list *l);

/*
 * -t (as sendmail -t): read the header block of the message from `fd`
 * (up to the empty line), add the addresses of every To, Cc and Bcc field
 * to `rcpts` (of every Resent-To, Resent-Cc and Resent-Bcc field instead
 * when there is one: a resent message, RFC 5322 3.6.6), and make `src` read
 * the message without its Bcc and Resent-Bcc fields (folded continuation
 * lines included) followed by the rest of `fd`.
 * `state` must outlive `src`. Returns 0, EXIT_DATAERR (header block too
 * large or an address list that cannot be parsed) or EXIT_NOINPUT (read
 * error); `err` then says why.
 */
typedef struct hdr_source {
    char *buf;       /* header block without Bcc, then any body bytes read */
    size_t len, pos;
    int fd;
    int eof;
    size_t fd_off;   /* bytes read from fd with the header block (rewind point) */
} hdr_source;

int headers_extract(int fd, addr_list *rcpts, smtpkit_source *src, hdr_source *state,
                    char *err, size_t errlen);
void headers_free(hdr_source *state);

/* Exposed for tests of the tool itself: parse one address-list field
 * value (RFC 5322 3.4, leniently) into `out`. Returns 0 or -1. */
int parse_address_list(const char *v, size_t n, addr_list *out);

#endif
