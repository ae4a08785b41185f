/* smtpkit-send -t: recipients from To/Cc/Bcc (or Resent-To/Cc/Bcc), and the
 * message without Bcc and Resent-Bcc. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "send_tool.h"

/* The header block is read into memory; the body never is. */
#define HEADER_MAX (1024 * 1024)

int addr_list_add(addr_list *l, const char *p, size_t len)
{
    size_t i;
    char *s;
    for (i = 0; i < l->n; i++)
        if (strlen(l->v[i]) == len && memcmp(l->v[i], p, len) == 0)
            return 0;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        char **nv = (char **)realloc(l->v, ncap * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = ncap;
    }
    s = (char *)malloc(len + 1);
    if (!s)
        return -1;
    memcpy(s, p, len);
    s[len] = 0;
    l->v[l->n++] = s;
    return 0;
}

void addr_list_free(addr_list *l)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* One element of an address list: the address in <...> when there is one
 * (a source route "@a,@b:" before it is dropped), otherwise the addr-spec
 * with comments and white space removed (outside quoted strings). */
static int take_element(const char *p, size_t n, addr_list *out)
{
    char buf[1024];
    size_t i, k = 0, lt = (size_t)-1, gt = (size_t)-1;
    int depth = 0, quoted = 0;
    for (i = 0; i < n; i++) {
        char c = p[i];
        if (quoted) {
            if (c == '\\' && i + 1 < n)
                i++;
            else if (c == '"')
                quoted = 0;
        } else if (c == '"') {
            quoted = 1;
        } else if (c == '(') {
            depth++;
        } else if (c == ')' && depth > 0) {
            depth--;
        } else if (!depth && c == '<') {
            lt = i;
        } else if (!depth && c == '>' && lt != (size_t)-1) {
            gt = i;
        }
    }
    if (quoted || depth)
        return -1;
    if (lt != (size_t)-1) {
        const char *a;
        size_t alen;
        if (gt == (size_t)-1 || gt < lt)
            return -1;
        a = p + lt + 1;
        alen = gt - lt - 1;
        if (alen && a[0] == '@') { /* obsolete route, RFC 5322 4.4 */
            const char *colon = memchr(a, ':', alen);
            if (!colon)
                return -1;
            alen -= (size_t)(colon + 1 - a);
            a = colon + 1;
        }
        while (alen && is_ws(*a)) {
            a++;
            alen--;
        }
        while (alen && is_ws(a[alen - 1]))
            alen--;
        return alen ? addr_list_add(out, a, alen) : 0; /* <> is no recipient */
    }
    depth = 0;
    quoted = 0;
    for (i = 0; i < n; i++) {
        char c = p[i];
        if (k + 2 > sizeof buf)
            return -1;
        if (quoted) {
            /* a quoted local part stays as written: it is what SMTP sends */
            if (c == '\\' && i + 1 < n) {
                buf[k++] = c;
                buf[k++] = p[++i];
                continue;
            }
            if (c == '"')
                quoted = 0;
            buf[k++] = c;
            continue;
        }
        if (c == '(') {
            depth++;
            continue;
        }
        if (c == ')') {
            if (depth)
                depth--;
            continue;
        }
        if (depth || is_ws(c))
            continue;
        if (c == '"')
            quoted = 1;
        buf[k++] = c;
    }
    return k ? addr_list_add(out, buf, k) : 0;
}

int parse_address_list(const char *v, size_t n, addr_list *out)
{
    size_t i, start = 0;
    int depth = 0, quoted = 0, angle = 0;
    for (i = 0; i <= n; i++) {
        char c = i < n ? v[i] : ',';
        if (quoted) {
            if (c == '\\' && i + 1 < n)
                i++;
            else if (c == '"')
                quoted = 0;
            continue;
        }
        if (c == '"') {
            quoted = 1;
        } else if (c == '(') {
            depth++;
        } else if (c == ')' && depth > 0) {
            depth--;
        } else if (depth) {
            continue;
        } else if (c == '<') {
            angle = 1;
        } else if (c == '>') {
            angle = 0;
        } else if (!angle && c == ':') {
            /* "group name:" -- what came before is the display name */
            start = i + 1;
        } else if (!angle && (c == ',' || c == ';')) {
            if (take_element(v + start, i - start, out) != 0)
                return -1;
            start = i + 1;
        }
    }
    return quoted || depth ? -1 : 0;
}

static int field_is(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name), i;
    if (n <= k || line[k] != ':')
        return 0;
    for (i = 0; i < k; i++) {
        char a = line[i], b = name[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a + 32);
        if (a != b)
            return 0;
    }
    return 1;
}

static smtpkit_ssize hdr_read(void *ctx, char *buf, size_t len)
{
    hdr_source *h = (hdr_source *)ctx;
    if (h->pos < h->len) {
        size_t n = h->len - h->pos;
        if (n > len)
            n = len;
        memcpy(buf, h->buf + h->pos, n);
        h->pos += n;
        return (smtpkit_ssize)n;
    }
    if (h->eof)
        return 0;
    for (;;) {
        ssize_t n = read(h->fd, buf, len);
        if (n >= 0)
            return (smtpkit_ssize)n;
        if (errno != EINTR)
            return SMTPKIT_ERR_IO;
    }
}

/* The end of the field that starts at i: its first line and every
 * continuation line (RFC 5322 2.2.3). */
static size_t field_end(const char *b, size_t i, size_t end)
{
    size_t j = i;
    for (;;) {
        const char *nl = (const char *)memchr(b + j, '\n', end - j);
        j = nl ? (size_t)(nl - b) + 1 : end;
        if (j >= end || (b[j] != ' ' && b[j] != '\t'))
            return j;
    }
}

/* Read again from the start: the kept header block, then fd from where the
 * header reading stopped (only when fd is a regular file, see below). */
static int hdr_rewind(void *ctx)
{
    hdr_source *h = (hdr_source *)ctx;
    h->pos = 0;
    if (!h->eof && lseek(h->fd, (off_t)h->fd_off, SEEK_SET) != (off_t)h->fd_off)
        return SMTPKIT_ERR_STATE;
    return 0;
}

/* Offset just past the empty line that ends the header block, or 0. */
static size_t header_end(const char *b, size_t n)
{
    size_t i;
    if (n && b[0] == '\n')
        return 1;
    if (n > 1 && b[0] == '\r' && b[1] == '\n')
        return 2;
    for (i = 0; i + 1 < n; i++) {
        if (b[i] != '\n')
            continue;
        if (b[i + 1] == '\n')
            return i + 2;
        if (i + 2 < n && b[i + 1] == '\r' && b[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

int headers_extract(int fd, addr_list *rcpts, smtpkit_source *src, hdr_source *h, char *err,
                    size_t errlen)
{
    size_t cap = 64 * 1024, got = 0, end = 0, i, o;
    int resent = 0;
    char *b = (char *)malloc(cap);
    memset(h, 0, sizeof *h);
    h->fd = fd;
    if (!b)
        return EXIT_SOFTWARE;
    /* read until the end of the header block (or of the message) */
    for (;;) {
        ssize_t n;
        end = header_end(b, got);
        if (end)
            break;
        if (got == cap) {
            char *nb;
            if (cap >= HEADER_MAX) {
                free(b);
                snprintf(err, errlen, "header block larger than %d bytes", HEADER_MAX);
                return EXIT_DATAERR;
            }
            nb = (char *)realloc(b, cap * 2);
            if (!nb) {
                free(b);
                return EXIT_SOFTWARE;
            }
            b = nb;
            cap *= 2;
        }
        n = read(fd, b + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            free(b);
            snprintf(err, errlen, "cannot read the message: %s", strerror(errno));
            return EXIT_NOINPUT;
        }
        if (n == 0) {
            h->eof = 1;
            end = got; /* a message that is all header */
            break;
        }
        got += (size_t)n;
    }
    /* A message being resent (RFC 5322 3.6.6) goes to its Resent-To/Cc/Bcc
     * recipients, not to the original ones, as sendmail -t and Postfix do. */
    for (i = 0; i < end; i = field_end(b, i, end)) {
        size_t j = field_end(b, i, end);
        if (field_is(b + i, j - i, "resent-to") || field_is(b + i, j - i, "resent-cc") ||
            field_is(b + i, j - i, "resent-bcc"))
            resent = 1;
    }
    /* walk the fields: collect addresses, drop Bcc and Resent-Bcc (RFC 5322
     * 3.6.3, 3.6.6: the blind copies must not be seen by the other
     * recipients) */
    for (i = 0, o = 0; i < end;) {
        size_t j = field_end(b, i, end), k;
        int is_bcc, want;
        is_bcc = field_is(b + i, j - i, "bcc") || field_is(b + i, j - i, "resent-bcc");
        if (resent)
            want = field_is(b + i, j - i, "resent-to") || field_is(b + i, j - i, "resent-cc") ||
                   field_is(b + i, j - i, "resent-bcc");
        else
            want = field_is(b + i, j - i, "bcc") || field_is(b + i, j - i, "to") ||
                   field_is(b + i, j - i, "cc");
        if (want) {
            size_t colon = (size_t)((const char *)memchr(b + i, ':', j - i) - b);
            if (parse_address_list(b + colon + 1, j - colon - 1, rcpts) != 0) {
                snprintf(err, errlen, "cannot parse the addresses of a %.*s field",
                         (int)(colon - i), b + i);
                free(b);
                return EXIT_DATAERR;
            }
        }
        if (!is_bcc) {
            for (k = i; k < j; k++)
                b[o++] = b[k];
        }
        i = j;
    }
    /* the body bytes read along with the header follow it */
    memmove(b + o, b + end, got - end);
    h->buf = b;
    h->len = o + (got - end);
    src->read = hdr_read;
    src->rewind = NULL;
    src->ctx = h;
    src->size = -1;
    /* A regular file (smtpkit-send spools a pipe into one) gives the size
     * for SIZE= and a second reading for the 8-bit scan. */
    {
        struct stat st;
        h->fd_off = got;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_CUR) == (off_t)got &&
            (uint64_t)st.st_size >= got) {
            src->size = (int64_t)(h->len + ((size_t)st.st_size - got));
            src->rewind = hdr_rewind;
        }
    }
    return 0;
}

void headers_free(hdr_source *h)
{
    free(h->buf);
    h->buf = NULL;
}
