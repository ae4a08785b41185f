/* Fuzz the message builder: the input's fields become addresses, names, a
 * subject, a custom header, bodies, file names, types and part contents;
 * whatever the setters accept must produce a message whose every line ends
 * in CRLF and is at most 998 octets, whose header fields have valid names,
 * whose 8-bit bytes are announced by the flags, and which reads out the same
 * through the pull and push forms, with the announced size.
 *
 * Input: byte 0 = option bits, byte 1 = read size, then fields separated by
 * 0xFF (never in UTF-8): from, from-name, to, to-name, cc, bcc, subject,
 * header-name, header-value, text, html, filename, content-type, cid,
 * attachment, inline. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/message.h"

enum { F_FROM, F_FROMNAME, F_TO, F_TONAME, F_CC, F_BCC, F_SUBJECT, F_HNAME, F_HVALUE, F_TEXT,
       F_HTML, F_FILENAME, F_CTYPE, F_CID, F_ATTACH, F_INLINE, F_COUNT };

typedef struct field {
    char *s; /* NUL-terminated copy (cut at an inner NUL for C-string setters) */
    const uint8_t *p;
    size_t n;
    int present;
} field;

typedef struct sinkbuf {
    char *cur, *end;
} sinkbuf;

static int sink(void *user, const char *data, size_t len)
{
    sinkbuf *s = (sinkbuf *)user;
    if ((size_t)(s->end - s->cur) < len)
        abort(); /* more than the pull form gave */
    memcpy(s->cur, data, len);
    s->cur += len;
    return 0;
}

static void check_output(const char *o, size_t n, unsigned flags)
{
    size_t i, line = 0, hdr_end = n;
    int in_header = 1, at_line_start = 1;
    for (i = 0; i + 3 < n; i++) {
        if (!memcmp(o + i, "\r\n\r\n", 4)) {
            hdr_end = i + 2;
            break;
        }
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)o[i];
        if (i >= hdr_end)
            in_header = 0;
        if (c == '\r') {
            if (i + 1 >= n || o[i + 1] != '\n')
                abort(); /* bare CR */
            if (line > 998)
                abort(); /* RFC 5322 2.1.1 */
            line = 0;
            i++;
            at_line_start = 1;
            continue;
        }
        if (c == '\n')
            abort(); /* bare LF */
        if (in_header && at_line_start && c != ' ' && c != '\t') {
            /* a field name: printable ASCII up to ':' */
            size_t j = i;
            while (j < n && o[j] != ':') {
                unsigned char d = (unsigned char)o[j];
                if (d < 33 || d > 126)
                    abort();
                j++;
            }
            if (j == i || j >= n)
                abort();
        }
        if (c >= 0x80) {
            if (in_header && !(flags & SMTPKIT_MESSAGE_SMTPUTF8))
                abort(); /* only UTF-8 addresses are raw in headers */
            if (!in_header && !(flags & SMTPKIT_MESSAGE_8BITMIME))
                abort();
        }
        if (c == 0 && in_header)
            abort();
        at_line_start = 0;
        line++;
    }
    if (line > 998)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    field f[F_COUNT];
    smtpkit_message *m;
    smtpkit_source src, att, inl, out;
    smtpkit_mem_source att_st, inl_st;
    size_t i, k = 0, start, chunk;
    unsigned opts;
    int64_t msize = -1;
    char *buf, *pushed;
    sinkbuf sb;
    size_t n = 0, cap;

    if (size < 2)
        return 0;
    opts = data[0];
    chunk = (size_t)data[1] + 1;
    memset(f, 0, sizeof f);
    start = 2;
    for (i = 2; i <= size && k < F_COUNT; i++) {
        if (i == size || data[i] == 0xFF) {
            f[k].p = data + start;
            f[k].n = i - start;
            f[k].present = 1;
            f[k].s = (char *)malloc(f[k].n + 1);
            memcpy(f[k].s, data + start, f[k].n);
            f[k].s[f[k].n] = 0;
            k++;
            start = i + 1;
        }
    }
    m = smtpkit_message_new(NULL);
    if (!m)
        abort();
    smtpkit_message_set_options(m, opts & 1 ? SMTPKIT_MESSAGE_ALLOW_8BIT : 0);
    if (smtpkit_message_set_from(m, f[F_FROM].s ? f[F_FROM].s : "", f[F_FROMNAME].s) != 0 &&
        smtpkit_message_set_from(m, "fallback@example.org", f[F_FROMNAME].s) != 0 &&
        smtpkit_message_set_from(m, "fallback@example.org", NULL) != 0)
        abort();
    if (f[F_TO].s)
        smtpkit_message_add_to(m, f[F_TO].s, f[F_TONAME].s);
    if (f[F_CC].s)
        smtpkit_message_add_cc(m, f[F_CC].s, f[F_TONAME].s);
    if (f[F_BCC].s)
        smtpkit_message_add_bcc(m, f[F_BCC].s);
    if (f[F_SUBJECT].s)
        smtpkit_message_set_subject(m, f[F_SUBJECT].s);
    if (f[F_HNAME].present)
        smtpkit_message_add_header_n(m, (const char *)f[F_HNAME].p, f[F_HNAME].n,
                                     (const char *)f[F_HVALUE].p, f[F_HVALUE].n);
    if (opts & 2)
        smtpkit_message_set_date(m, (int64_t)size * 86400 * 37, (int)(size % 2879) - 1439);
    if (opts & 4) {
        smtpkit_message_set_unique(m, data, size < 16 ? size : 16);
        smtpkit_message_generate_message_id(m, "example.org");
    }
    if (f[F_TEXT].present)
        smtpkit_message_set_text_mem(m, (const char *)f[F_TEXT].p, f[F_TEXT].n);
    if (f[F_HTML].present)
        smtpkit_message_set_html_mem(m, (const char *)f[F_HTML].p, f[F_HTML].n);
    if (f[F_ATTACH].present) {
        smtpkit_source_from_memory(&att, &att_st, f[F_ATTACH].p, f[F_ATTACH].n);
        if (opts & 8)
            att.size = -1;
        smtpkit_message_add_attachment(m, &att, f[F_FILENAME].s, f[F_CTYPE].s);
    }
    if (f[F_INLINE].present) {
        smtpkit_source_from_memory(&inl, &inl_st, f[F_INLINE].p, f[F_INLINE].n);
        smtpkit_message_add_inline(m, &inl, f[F_CID].s ? f[F_CID].s : "x@y", f[F_FILENAME].s,
                                   opts & 16 ? NULL : "image/png");
    }
    if (smtpkit_message_size(m, &msize) != 0)
        abort(); /* a From is always set */
    if (smtpkit_message_open(m, &src) != 0)
        abort();
    cap = 4096;
    buf = (char *)malloc(cap);
    for (;;) {
        smtpkit_ssize r;
        if (cap - n < chunk) {
            cap *= 2;
            buf = (char *)realloc(buf, cap);
        }
        r = src.read(src.ctx, buf + n, chunk);
        if (r < 0)
            abort(); /* memory sources neither block nor fail */
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (msize >= 0 && (size_t)msize != n)
        abort();
    check_output(buf, n, smtpkit_message_flags(m));
    /* the push form gives the same bytes */
    if (smtpkit_message_open(m, &out) != 0)
        abort();
    pushed = (char *)malloc(n + 1);
    sb.cur = pushed;
    sb.end = pushed + n;
    if (smtpkit_message_write(m, sink, &sb) != 0 || (size_t)(sb.cur - pushed) != n ||
        memcmp(pushed, buf, n) != 0)
        abort();
    free(pushed);
    free(buf);
    smtpkit_message_free(m);
    (void)src;
    for (i = 0; i < F_COUNT; i++)
        free(f[i].s);
    return 0;
}
