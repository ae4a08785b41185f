/* Server session: the text it writes -- replies and the Received: header.
 * Every byte that comes from the application or the client is sanitised
 * here, so no decision text or HELO name can add a reply line or a header. */
#include "server_int.h"

size_t smtpkit__u64_dec(char *buf, uint64_t v)
{
    char tmp[24];
    size_t n = 0, i;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

int smtpkit__server_esc_ok(const char *esc, int code)
{
    /* RFC 3463 2: class "." subject "." detail; class 2, 4 or 5 and equal to
     * the reply's first digit (RFC 2034 3); subject and detail 1-3 digits. */
    size_t i = 0;
    int part, digits;
    if (!esc || code < 200 || code > 599)
        return 0;
    if (esc[0] != (char)('0' + code / 100) || (esc[0] != '2' && esc[0] != '4' && esc[0] != '5'))
        return 0;
    if (esc[1] != '.')
        return 0;
    i = 2;
    for (part = 0; part < 2; part++) {
        digits = 0;
        while (smtpkit__is_digit((unsigned char)esc[i]) && digits < 4) {
            i++;
            digits++;
        }
        if (digits < 1 || digits > 3)
            return 0;
        if (part == 0) {
            if (esc[i] != '.')
                return 0;
            i++;
        }
    }
    return esc[i] == '\0';
}

/* Printable ASCII stays, everything else becomes '?' (RFC 5321 4.2: reply
 * text is printable US-ASCII; a CR or LF here would forge a reply line). */
static char safe_char(char c)
{
    unsigned char u = (unsigned char)c;
    return (u >= 0x20 && u < 0x7f) ? c : '?';
}

size_t smtpkit__server_fmt_reply(char *dst, size_t cap, int code, const char *esc,
                                 const char *prefix, const char *text)
{
    size_t pos = 0, esclen = esc ? strlen(esc) : 0;
    size_t head = 4 + (esclen ? esclen + 1 : 0);
    size_t last_sep = (size_t)-1;
    const char *p = text ? text : "";
    int first = 1;

    for (;;) {
        size_t line_start = pos, room, limit;
        if (cap - pos < head + 2)
            break;
        dst[pos++] = (char)('0' + code / 100);
        dst[pos++] = (char)('0' + (code / 10) % 10);
        dst[pos++] = (char)('0' + code % 10);
        last_sep = pos;
        dst[pos++] = '-';
        if (esclen) {
            memcpy(dst + pos, esc, esclen);
            pos += esclen;
            /* the space before the text, only when some text follows */
            if ((first && prefix && *prefix) || (*p && *p != '\n'))
                dst[pos++] = ' ';
        }
        /* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with CRLF. */
        room = cap - pos - 2;
        limit = SMTPKIT_REPLY_LINE_MAX - 2 - (pos - line_start);
        if (room > limit)
            room = limit;
        if (first && prefix) {
            const char *q;
            for (q = prefix; *q && room; q++, room--)
                dst[pos++] = safe_char(*q);
            if (*p && *p != '\n' && room) {
                dst[pos++] = ' ';
                room--;
            }
        }
        first = 0;
        while (*p && *p != '\n') {
            if (room) {
                dst[pos++] = safe_char(*p);
                room--;
            }
            p++; /* the part that does not fit is dropped */
        }
        /* Trailing spaces would be invisible but legal; keep what was given. */
        dst[pos++] = '\r';
        dst[pos++] = '\n';
        if (*p == '\n')
            p++;
        if (!*p)
            break;
    }
    if (last_sep != (size_t)-1)
        dst[last_sep] = ' ';
    return pos;
}

/* Appends src (sanitised, cut at max) to dst; returns the new position. */
static size_t put_safe(char *dst, size_t pos, size_t cap, const char *src, size_t n, size_t max,
                       int atom)
{
    size_t i;
    if (n > max)
        n = max;
    for (i = 0; i < n && pos < cap; i++) {
        char c = safe_char(src[i]);
        /* An id must stay an atom; a comment must not close early. */
        if (atom && !(smtpkit__is_alnum((unsigned char)c) || c == '.' || c == '-' || c == '_'))
            c = '_';
        if (!atom && (c == '(' || c == ')' || c == '\\'))
            c = '?';
        dst[pos++] = c;
    }
    return pos;
}

static size_t put_lit(char *dst, size_t pos, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (pos + n > cap)
        n = cap - pos;
    memcpy(dst + pos, s, n);
    return pos + n;
}

size_t smtpkit__server_received(char *dst, size_t cap, const char *helo, size_t helo_len,
                                const smtpkit_server_trace *t, const char *host,
                                const char *proto)
{
    /* RFC 5321 4.4 Time-stamp-line, folded so that no line exceeds 998:
     *   Received: from HELO (NAME [ADDR])
     *           by HOST with PROTO id ID;
     *           DATE */
    size_t pos = 0;
    if (cap < SMTPKIT__RECEIVED_MAX)
        return 0;
    pos = put_lit(dst, pos, cap, "Received: from ");
    if (helo_len)
        pos = put_safe(dst, pos, cap, helo, helo_len, SMTPKIT_SERVER_HELO_MAX, 0);
    else
        pos = put_lit(dst, pos, cap, "unknown");
    if (t->addr.len || t->name.len) {
        pos = put_lit(dst, pos, cap, " (");
        if (t->name.len) {
            pos = put_safe(dst, pos, cap, t->name.ptr, t->name.len, 255, 0);
            if (t->addr.len)
                pos = put_lit(dst, pos, cap, " ");
        }
        if (t->addr.len) {
            pos = put_lit(dst, pos, cap, "[");
            pos = put_safe(dst, pos, cap, t->addr.ptr, t->addr.len, 64, 0);
            pos = put_lit(dst, pos, cap, "]");
        }
        pos = put_lit(dst, pos, cap, ")");
    }
    pos = put_lit(dst, pos, cap, "\r\n\tby ");
    pos = put_safe(dst, pos, cap, host, strlen(host), 255, 0);
    pos = put_lit(dst, pos, cap, " with ");
    pos = put_lit(dst, pos, cap, proto);
    if (t->id.len) {
        pos = put_lit(dst, pos, cap, " id ");
        pos = put_safe(dst, pos, cap, t->id.ptr, t->id.len, 64, 1);
    }
    pos = put_lit(dst, pos, cap, ";\r\n\t");
    pos = put_safe(dst, pos, cap, t->date.ptr, t->date.len, 64, 0);
    pos = put_lit(dst, pos, cap, "\r\n");
    return pos;
}
