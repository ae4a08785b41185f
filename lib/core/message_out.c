/* The message builder's output: choosing transfer encodings, laying out the
 * MIME tree as a list of segments (literal header/boundary bytes and part
 * contents), and reading it out through a small state machine that encodes
 * each part on the fly - constant memory whatever the parts' sizes. */
#include "message_internal.h"

#define SEGS(m) ((smtpkit__mseg *)(m)->segs.v)

/* ---------------------------------------------------------------- body pump */

/* Statistics of a text part's raw content, gathered while its source is
 * read once by prepare. */
typedef struct tstats {
    uint64_t plain;     /* bytes after CRLF normalisation */
    uint64_t line;      /* octets in the current line */
    uint64_t maxline;   /* longest line (without its break) */
    int prev_cr;
    int has8;           /* a byte >= 0x80 */
    int ctl;            /* NUL or another control other than TAB */
    int lm;             /* how much of "--=_" the current line starts with; -1 none */
    int clash;          /* a line starts like one of our boundaries */
} tstats;

static void stats_feed(tstats *t, const unsigned char *p, size_t n)
{
    static const char dash[] = "--=_";
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '\n' && t->prev_cr) {
            t->prev_cr = 0;
            continue;
        }
        if (c == '\r' || c == '\n') {
            t->plain += 2;
            if (t->line > t->maxline)
                t->maxline = t->line;
            t->line = 0;
            t->lm = 0;
            t->prev_cr = c == '\r';
            continue;
        }
        t->prev_cr = 0;
        t->plain++;
        t->line++;
        if (c >= 0x80)
            t->has8 = 1;
        else if ((c < 0x20 && c != '\t') || c == 0x7f)
            t->ctl = 1;
        if (t->lm >= 0 && t->lm < 4) {
            if (c == (unsigned char)dash[t->lm]) {
                if (++t->lm == 4)
                    t->clash = 1;
            } else {
                t->lm = -1;
            }
        }
    }
}

static void body_begin(smtpkit_message *m, smtpkit__mpart *p)
{
    m->in_pos = m->in_len = 0;
    m->src_eof = 0;
    m->finished = 0;
    m->src_total = 0;
    m->body_open = 1;
    smtpkit_base64_encoder_init(&m->b64, 76); /* RFC 2045 6.8: lines of 76 */
    smtpkit__qp_init(&m->qp);
    p->touched = 1;
}

/*
 * Produce the next encoded bytes of part p into out (cap >= 16).
 * Returns bytes written (> 0), 0 when the part is complete, or a negative
 * error (SMTPKIT_ERR_WOULDBLOCK from the source included). `st`, when not
 * NULL, sees every raw byte read.
 */
static smtpkit_ssize body_produce(smtpkit_message *m, smtpkit__mpart *p, int enc, char *out,
                                  size_t cap, tstats *st)
{
    for (;;) {
        size_t avail = m->in_len - m->in_pos, used = 0, produced = 0;
        smtpkit_ssize r;

        if (avail || m->src_eof) {
            const unsigned char *ip = m->in + m->in_pos;
            switch (enc) {
            case SMTPKIT__ENC_B64:
                if (avail) {
                    used = smtpkit_base64_encoder_update(&m->b64, ip, avail, out, cap, &produced);
                } else if (!m->finished) {
                    r = smtpkit_base64_encoder_finish(&m->b64, out, cap);
                    if (r < 0)
                        return SMTPKIT_ERR_INTERNAL;
                    m->finished = 1;
                    produced = (size_t)r;
                }
                break;
            case SMTPKIT__ENC_QP:
                used = smtpkit__qp_encode(&m->qp, ip, avail, m->src_eof, out, cap, &produced);
                break;
            default:
                used = smtpkit__crlf_normalize(ip, avail, m->src_eof, out, cap, &produced);
                break;
            }
            m->in_pos += used;
            if (produced)
                return (smtpkit_ssize)produced;
            if (used)
                continue;
            if (m->src_eof) {
                if (m->in_pos == m->in_len && (enc != SMTPKIT__ENC_B64 || m->finished))
                    return 0;
                return SMTPKIT_ERR_INTERNAL; /* cannot happen: eof always progresses */
            }
            /* no progress: the encoder waits for lookahead bytes */
        }
        if (m->in_pos) {
            memmove(m->in, m->in + m->in_pos, m->in_len - m->in_pos);
            m->in_len -= m->in_pos;
            m->in_pos = 0;
        }
        r = p->src->read(p->src->ctx, (char *)m->in + m->in_len, SMTPKIT_MESSAGE_CHUNK - m->in_len);
        if (r < 0)
            return r;
        if (r == 0) {
            /* A size that was announced (and counted into SIZE=) must be
             * what arrives, or the message would not be what we said. */
            if (p->raw_size >= 0 && m->src_total != (uint64_t)p->raw_size)
                return SMTPKIT_ERR_IO;
            m->src_eof = 1;
            continue;
        }
        if ((size_t)r > SMTPKIT_MESSAGE_CHUNK - m->in_len)
            return SMTPKIT_ERR_INTERNAL;
        if (st)
            stats_feed(st, m->in + m->in_len, (size_t)r);
        m->src_total += (uint64_t)r;
        if (p->raw_size >= 0 && m->src_total > (uint64_t)p->raw_size)
            return SMTPKIT_ERR_IO;
        m->in_len += (size_t)r;
    }
}

/* ---------------------------------------------------------------- prepare */

static int alloc_buffers(smtpkit_message *m)
{
    if (!m->in)
        m->in = (unsigned char *)smtpkit__malloc(&m->mem, SMTPKIT_MESSAGE_CHUNK);
    if (!m->wbuf)
        m->wbuf = (char *)smtpkit__malloc(&m->mem, SMTPKIT_MESSAGE_CHUNK);
    return m->in && m->wbuf ? 0 : SMTPKIT_ERR_NOMEM;
}

/* Choose the transfer encoding of a text part (RFC 2045 6.1-6.2) from one
 * pass over its content, and compute its encoded size. */
static int scan_text(smtpkit_message *m, smtpkit__mpart *p)
{
    tstats st;
    uint64_t qp = 0;
    smtpkit_ssize r;

    if (!p->src->rewind) {
        /* Cannot look before sending: quoted-printable is right for any
         * content. */
        p->enc = SMTPKIT__ENC_QP;
        p->enc_size = -1;
        return 0;
    }
    memset(&st, 0, sizeof st);
    p->raw_size = p->src->size;
    body_begin(m, p);
    while ((r = body_produce(m, p, SMTPKIT__ENC_QP, m->wbuf, SMTPKIT_MESSAGE_CHUNK, &st)) > 0)
        qp += (uint64_t)r;
    m->body_open = 0;
    if (p->src->rewind(p->src->ctx) != 0) {
        p->enc = SMTPKIT__ENC_QP;
        return r < 0 ? (int)r : SMTPKIT_ERR_STATE;
    }
    p->touched = 0;
    if (r < 0)
        return (int)r;
    if (st.line > st.maxline)
        st.maxline = st.line;
    /* Whatever the source said, the content is what we just read. */
    p->raw_size = (int64_t)m->src_total;
    if (!st.ctl && !st.clash && !st.has8 && st.maxline <= SMTPKIT__HDR_FOLD) {
        /* RFC 2045 2.7: ASCII in short lines travels as it is */
        p->enc = SMTPKIT__ENC_7BIT;
        p->enc_size = (int64_t)st.plain;
    } else if (!st.ctl && !st.clash && (m->opts & SMTPKIT_MESSAGE_ALLOW_8BIT) &&
               st.maxline <= SMTPKIT__HDR_HARD) {
        /* RFC 2045 2.8 / RFC 6152: lines up to 998 octets, no NUL */
        p->enc = SMTPKIT__ENC_8BIT;
        p->enc_size = (int64_t)st.plain;
        if (st.has8)
            m->flags |= SMTPKIT_MESSAGE_8BITMIME;
        else
            p->enc = SMTPKIT__ENC_7BIT;
    } else {
        p->enc = SMTPKIT__ENC_QP;
        p->enc_size = (int64_t)qp;
    }
    return 0;
}

static int64_t b64_size(int64_t n)
{
    int64_t l = (n + 2) / 3 * 4;
    return l + (l + 75) / 76 * 2; /* each line of up to 76 ends with CRLF */
}

/* Close the literal bytes written since the last segment into one; then,
 * with a part, add the part's content after it. */
static int add_seg(smtpkit_message *m, smtpkit__mpart *part)
{
    smtpkit__mseg s;
    int r;
    if (m->lit.err)
        return m->lit.err;
    if (m->lit.len > m->lit_mark) {
        s.off = m->lit_mark;
        s.len = m->lit.len - m->lit_mark;
        s.part = NULL;
        if ((r = smtpkit__mlist_push(&m->mem, &m->segs, &s, sizeof s)) != 0)
            return r;
        m->lit_mark = m->lit.len;
    }
    if (!part)
        return 0;
    s.off = s.len = 0;
    s.part = part;
    return smtpkit__mlist_push(&m->mem, &m->segs, &s, sizeof s);
}

/* Boundary: "=_" + a letter per nesting kind + "_" + 32 hex digits. "=_"
 * cannot occur in base64 or quoted-printable output (RFC 2045 6.7: "=" is
 * always followed by two hex digits or a line break), the letter keeps the
 * nested boundaries the same length so none is a prefix of another, and
 * 7bit/8bit text with a line starting "--=_" is sent quoted-printable. */
static void make_boundary(const smtpkit_message *m, char tag, char out[40])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h1 = 14695981039346656037ULL, h2 = 0x9e3779b97f4a7c15ULL;
    size_t i;
    int k;
    h1 = (h1 ^ (unsigned char)tag) * 1099511628211ULL;
    h2 = (h2 ^ (unsigned char)tag) * 0x100000001b3ULL;
    if (m->nunique) {
        for (i = 0; i < m->nunique; i++) {
            h1 = (h1 ^ m->unique[i]) * 1099511628211ULL;
            h2 = (h2 ^ m->unique[i]) * 0x100000001b3ULL + 0x632be59bd9b4e019ULL;
        }
    } else {
        /* No unique bytes: derive from the headers written so far, which
         * is safe (see above), only less unique. */
        for (i = 0; i < m->lit.len; i++) {
            unsigned char c = (unsigned char)m->lit.p[i];
            h1 = (h1 ^ c) * 1099511628211ULL;
            h2 = (h2 ^ c) * 0x100000001b3ULL + 0x632be59bd9b4e019ULL;
        }
    }
    out[0] = '=';
    out[1] = '_';
    out[2] = tag;
    out[3] = '_';
    for (k = 0; k < 16; k++)
        out[4 + k] = hex[(h1 >> (60 - 4 * k)) & 15];
    for (k = 0; k < 16; k++)
        out[20 + k] = hex[(h2 >> (60 - 4 * k)) & 15];
    out[36] = '\0';
}

static void put_addr_list(smtpkit_message *m, const char *name, const smtpkit__mlist *l,
                          const smtpkit__maddr *one)
{
    smtpkit__hbuf *b = &m->lit;
    size_t i, n = one ? 1 : l->n;
    if (!n)
        return;
    smtpkit__hdr_begin(b, name, strlen(name));
    for (i = 0; i < n; i++) {
        const smtpkit__maddr *a = one ? one : (const smtpkit__maddr *)l->v + i;
        size_t al = strlen(a->addr), last = i + 1 == n;
        /* RFC 5322 3.4: name-addr when there is a display name, else a
         * bare addr-spec. */
        if (a->name) {
            smtpkit__hdr_phrase(b, " ", 1, a->name, strlen(a->name));
            smtpkit__hdr_sep(b, " ", 1, al + 2 + !last);
            smtpkit__hbuf_puts(b, "<");
            smtpkit__hbuf_put(b, a->addr, al);
            smtpkit__hbuf_puts(b, last ? ">" : ">,");
        } else {
            smtpkit__hdr_sep(b, " ", 1, al + !last);
            smtpkit__hbuf_put(b, a->addr, al);
            if (!last)
                smtpkit__hbuf_puts(b, ",");
        }
    }
    smtpkit__hdr_end(b);
}

static void put_msg_id(smtpkit__hbuf *b, const char *name, const char *id)
{
    size_t n = strlen(id);
    smtpkit__hdr_begin(b, name, strlen(name));
    smtpkit__hdr_sep(b, " ", 1, n + 2);
    smtpkit__hbuf_puts(b, "<");
    smtpkit__hbuf_put(b, id, n);
    smtpkit__hbuf_puts(b, ">");
    smtpkit__hdr_end(b);
}

static void put_top_headers(smtpkit_message *m)
{
    smtpkit__hbuf *b = &m->lit;
    size_t i;
    if (m->has_date) {
        char d[32];
        int n = smtpkit__format_date(d, m->date, m->zone);
        if (n > 0) {
            smtpkit__hbuf_puts(b, "Date: ");
            smtpkit__hbuf_put(b, d, (size_t)n);
            smtpkit__hdr_end(b);
        }
    }
    put_addr_list(m, "From", NULL, &m->from);
    if (m->sender.addr)
        put_addr_list(m, "Sender", NULL, &m->sender);
    put_addr_list(m, "Reply-To", &m->reply_to, NULL);
    put_addr_list(m, "To", &m->to, NULL);
    put_addr_list(m, "Cc", &m->cc, NULL);
    /* Bcc: deliberately absent (RFC 5322 3.6.3 allows leaving it out; the
     * recipients are only in the envelope). */
    if (m->subject) {
        smtpkit__hdr_begin(b, "Subject", 7);
        smtpkit__hdr_text(b, m->subject, strlen(m->subject));
        smtpkit__hdr_end(b);
    }
    if (m->msgid)
        put_msg_id(b, "Message-ID", m->msgid);
    if (m->in_reply_to)
        put_msg_id(b, "In-Reply-To", m->in_reply_to);
    if (m->refs.n) {
        smtpkit__hdr_begin(b, "References", 10);
        for (i = 0; i < m->refs.n; i++) {
            const char *id = ((char **)m->refs.v)[i];
            size_t n = strlen(id);
            smtpkit__hdr_sep(b, " ", 1, n + 2);
            smtpkit__hbuf_puts(b, "<");
            smtpkit__hbuf_put(b, id, n);
            smtpkit__hbuf_puts(b, ">");
        }
        smtpkit__hdr_end(b);
    }
    for (i = 0; i < m->hdrs.n; i++) {
        const smtpkit__mhdr *h = (const smtpkit__mhdr *)m->hdrs.v + i;
        smtpkit__hdr_begin(b, h->name, h->name_len);
        smtpkit__hdr_text(b, h->value, h->value_len);
        smtpkit__hdr_end(b);
    }
    smtpkit__hbuf_puts(b, "MIME-Version: 1.0\r\n");
}

/* The Content-* fields of a leaf part, then the blank line and its body. */
static int put_leaf(smtpkit_message *m, smtpkit__mpart *p)
{
    smtpkit__hbuf *b = &m->lit;
    static const char *const cte[] = {"7bit", "8bit", "quoted-printable", "base64"};
    smtpkit__hdr_begin(b, "Content-Type", 12);
    if (p->kind == SMTPKIT__MP_TEXT || p->kind == SMTPKIT__MP_HTML) {
        smtpkit__hdr_item(b, " ", 1, p->kind == SMTPKIT__MP_TEXT ? "text/plain;" : "text/html;",
                          p->kind == SMTPKIT__MP_TEXT ? 11 : 10);
        smtpkit__hdr_param(b, "charset", "utf-8", 5, 1, 0);
    } else {
        size_t cl = strlen(p->ctype);
        smtpkit__hdr_sep(b, " ", 1, cl + (p->filename ? 1 : 0));
        smtpkit__hbuf_put(b, p->ctype, cl);
        if (p->filename) {
            smtpkit__hbuf_puts(b, ";");
            /* name= (RFC 2046 4.5.1, deprecated but read by old clients)
             * in the RFC 2047 form they understand. */
            smtpkit__hdr_param(b, "name", p->filename, strlen(p->filename), 1, 1);
        }
    }
    smtpkit__hdr_end(b);
    if (p->kind == SMTPKIT__MP_ATTACH || p->kind == SMTPKIT__MP_INLINE) {
        /* RFC 2183 Content-Disposition, RFC 2231 for the file name. */
        smtpkit__hdr_begin(b, "Content-Disposition", 19);
        if (p->filename) {
            smtpkit__hdr_item(b, " ", 1, p->kind == SMTPKIT__MP_ATTACH ? "attachment;" : "inline;",
                              p->kind == SMTPKIT__MP_ATTACH ? 11 : 7);
            smtpkit__hdr_param(b, "filename", p->filename, strlen(p->filename), 1, 0);
        } else {
            smtpkit__hdr_item(b, " ", 1, p->kind == SMTPKIT__MP_ATTACH ? "attachment" : "inline",
                              p->kind == SMTPKIT__MP_ATTACH ? 10 : 6);
        }
        smtpkit__hdr_end(b);
        if (p->cid)
            put_msg_id(b, "Content-ID", p->cid);
    }
    smtpkit__hbuf_puts(b, "Content-Transfer-Encoding: ");
    smtpkit__hbuf_puts(b, cte[p->enc]);
    smtpkit__hbuf_puts(b, "\r\n\r\n");
    if (p->kind == SMTPKIT__MP_ATTACH || p->kind == SMTPKIT__MP_INLINE)
        p->enc_size = p->raw_size >= 0 ? b64_size(p->raw_size) : -1;
    return add_seg(m, p);
}

typedef struct mp {
    char boundary[40];
} mp;

static void mp_begin(smtpkit_message *m, mp *x, const char *subtype, char tag, const char *type)
{
    smtpkit__hbuf *b = &m->lit;
    char item[40];
    size_t n = strlen(subtype);
    make_boundary(m, tag, x->boundary);
    smtpkit__hdr_begin(b, "Content-Type", 12);
    memcpy(item, "multipart/", 10);
    memcpy(item + 10, subtype, n);
    item[10 + n] = ';';
    smtpkit__hdr_item(b, " ", 1, item, 11 + n);
    if (type)
        smtpkit__hdr_param(b, "type", type, strlen(type), 0, 0);
    smtpkit__hdr_param(b, "boundary", x->boundary, strlen(x->boundary), 1, 0);
    smtpkit__hbuf_puts(b, "\r\n\r\n");
}

/* RFC 2046 5.1.1: the CRLF before a delimiter belongs to the delimiter. */
static void mp_next(smtpkit_message *m, const mp *x, int first)
{
    smtpkit__hbuf_puts(&m->lit, first ? "--" : "\r\n--");
    smtpkit__hbuf_puts(&m->lit, x->boundary);
    smtpkit__hbuf_puts(&m->lit, "\r\n");
}

static void mp_end(smtpkit_message *m, const mp *x)
{
    smtpkit__hbuf_puts(&m->lit, "\r\n--");
    smtpkit__hbuf_puts(&m->lit, x->boundary);
    smtpkit__hbuf_puts(&m->lit, "--\r\n");
}

/* RFC 2387: related parts; the root (first) is the HTML, or the text. */
static int put_related(smtpkit_message *m)
{
    smtpkit__mpart *root = m->html ? m->html : m->text;
    size_t i;
    int r, first = 1;
    mp x;
    mp_begin(m, &x, "related", 'r',
             root ? (root->kind == SMTPKIT__MP_HTML ? "text/html" : "text/plain")
                  : ((smtpkit__mpart **)m->inl.v)[0]->ctype);
    if (root) {
        mp_next(m, &x, 1);
        first = 0;
        if ((r = put_leaf(m, root)) != 0)
            return r;
    }
    for (i = 0; i < m->inl.n; i++) {
        mp_next(m, &x, first);
        first = 0;
        if ((r = put_leaf(m, ((smtpkit__mpart **)m->inl.v)[i])) != 0)
            return r;
    }
    mp_end(m, &x);
    return 0;
}

/* The body: alternative(text, html or related(html, inline)) / related / a
 * single text part (RFC 2046 5.1.4: the preferred alternative last). */
static int put_body(smtpkit_message *m)
{
    int r;
    if (m->text && m->html) {
        mp x;
        mp_begin(m, &x, "alternative", 'a', NULL);
        mp_next(m, &x, 1);
        if ((r = put_leaf(m, m->text)) != 0)
            return r;
        mp_next(m, &x, 0);
        r = m->inl.n ? put_related(m) : put_leaf(m, m->html);
        if (r)
            return r;
        mp_end(m, &x);
        return 0;
    }
    if (m->inl.n)
        return put_related(m);
    return put_leaf(m, m->html ? m->html : m->text);
}

static int layout(smtpkit_message *m)
{
    int r;
    put_top_headers(m);
    if (!m->text && !m->html && !m->inl.n && !m->atts.n) {
        /* No content at all: an empty text/plain body keeps the message a
         * well-formed MIME message. */
        m->empty = (smtpkit__mpart *)smtpkit__calloc(&m->mem, 1, sizeof *m->empty);
        if (!m->empty)
            return SMTPKIT_ERR_NOMEM;
        m->empty->kind = SMTPKIT__MP_TEXT;
        smtpkit_source_from_memory(&m->empty->own, &m->empty->own_state, "", 0);
        m->empty->src = &m->empty->own;
        m->empty->enc = SMTPKIT__ENC_7BIT;
        m->empty->enc_size = 0;
        m->text = m->empty;
    }
    if (m->atts.n) {
        size_t i;
        int first = 1;
        mp x;
        mp_begin(m, &x, "mixed", 'm', NULL);
        if (m->text || m->html || m->inl.n) {
            mp_next(m, &x, 1);
            first = 0;
            if ((r = put_body(m)) != 0)
                return r;
        }
        for (i = 0; i < m->atts.n; i++) {
            mp_next(m, &x, first);
            first = 0;
            if ((r = put_leaf(m, ((smtpkit__mpart **)m->atts.v)[i])) != 0)
                return r;
        }
        mp_end(m, &x);
    } else if ((r = put_body(m)) != 0) {
        return r;
    }
    return add_seg(m, NULL);
}

int smtpkit_message_prepare(smtpkit_message *m)
{
    size_t i;
    int64_t total;
    int r;
    if (!m)
        return SMTPKIT_ERR_INVALID_ARG;
    if (m->frozen)
        return 0;
    if (!m->from.addr)
        return SMTPKIT_ERR_STATE;
    if ((r = alloc_buffers(m)) != 0)
        return r;
    if (m->text && (r = scan_text(m, m->text)) != 0)
        return r;
    if (m->html && (r = scan_text(m, m->html)) != 0)
        return r;
    r = layout(m);
    if (r) {
        /* Start over on the next call (after a WOULDBLOCK, say). */
        smtpkit__hbuf_free(&m->lit);
        smtpkit__hbuf_init(&m->lit, &m->mem);
        m->segs.n = 0;
        m->lit_mark = 0;
        if (m->empty && m->text == m->empty)
            m->text = NULL;
        smtpkit__free(&m->mem, m->empty);
        m->empty = NULL;
        return r;
    }
    total = 0;
    for (i = 0; i < m->segs.n && total >= 0; i++) {
        const smtpkit__mseg *s = &SEGS(m)[i];
        if (!s->part)
            total += (int64_t)s->len;
        else if (s->part->enc_size < 0)
            total = -1;
        else
            total += s->part->enc_size;
    }
    m->size = total;
    m->frozen = 1;
    m->seg = m->off = 0;
    return 0;
}

unsigned smtpkit_message_flags(const smtpkit_message *m) { return m ? m->flags : 0; }

int smtpkit_message_size(smtpkit_message *m, int64_t *size)
{
    int r;
    if (!m || !size)
        return SMTPKIT_ERR_INVALID_ARG;
    r = smtpkit_message_prepare(m);
    if (r)
        return r;
    *size = m->size;
    return 0;
}

/* ---------------------------------------------------------------- read-out */

/* Fill buf from the segments. */
static smtpkit_ssize msg_read(void *ctx, char *buf, size_t len)
{
    smtpkit_message *m = (smtpkit_message *)ctx;
    size_t n = 0;

    if (m->err)
        return m->err;
    m->started = 1;
    while (n < len) {
        const smtpkit__mseg *s;
        smtpkit_ssize r;
        if (m->st_pos < m->st_len) {
            size_t k = SMTPKIT_MIN(m->st_len - m->st_pos, len - n);
            memcpy(buf + n, m->stage + m->st_pos, k);
            m->st_pos += k;
            n += k;
            continue;
        }
        if (m->seg >= m->segs.n)
            break;
        s = &SEGS(m)[m->seg];
        if (!s->part) {
            size_t k = SMTPKIT_MIN(s->len - m->off, len - n);
            memcpy(buf + n, m->lit.p + s->off + m->off, k);
            m->off += k;
            n += k;
            if (m->off == s->len) {
                m->seg++;
                m->off = 0;
            }
            continue;
        }
        if (!m->body_open)
            body_begin(m, s->part);
        if (len - n < sizeof m->stage) {
            /* Too little room for an encoder step: encode into the stage. */
            r = body_produce(m, s->part, s->part->enc, m->stage, sizeof m->stage, NULL);
            if (r > 0) {
                m->st_pos = 0;
                m->st_len = (size_t)r;
            }
        } else {
            r = body_produce(m, s->part, s->part->enc, buf + n, len - n, NULL);
            if (r > 0)
                n += (size_t)r;
        }
        if (r == 0) {
            m->body_open = 0;
            m->seg++;
            m->off = 0;
        } else if (r < 0) {
            if (r == SMTPKIT_ERR_WOULDBLOCK) {
                if (n)
                    break;
                return r;
            }
            m->err = (int)r;
            return r;
        }
    }
    return (smtpkit_ssize)n;
}

static void rewind_state(smtpkit_message *m)
{
    m->seg = m->off = 0;
    m->st_pos = m->st_len = 0;
    m->body_open = 0;
    m->started = 0;
    m->err = 0;
}

static int msg_rewind(void *ctx)
{
    smtpkit_message *m = (smtpkit_message *)ctx;
    size_t i;
    for (i = 0; i < m->segs.n; i++) {
        smtpkit__mpart *p = SEGS(m)[i].part;
        if (!p || !p->touched)
            continue;
        if (!p->src->rewind || p->src->rewind(p->src->ctx) != 0)
            return SMTPKIT_ERR_STATE;
        p->touched = 0;
    }
    rewind_state(m);
    return 0;
}

int smtpkit_message_open(smtpkit_message *m, smtpkit_source *out)
{
    int r;
    if (!m || !out)
        return SMTPKIT_ERR_INVALID_ARG;
    r = smtpkit_message_prepare(m);
    if (r)
        return r;
    if (m->started && (r = msg_rewind(m)) != 0)
        return r;
    out->read = msg_read;
    out->rewind = msg_rewind;
    out->ctx = m;
    out->size = m->size;
    return 0;
}

int smtpkit_message_write(smtpkit_message *m, smtpkit_message_sink_fn sink, void *user)
{
    int r;
    if (!m || !sink)
        return SMTPKIT_ERR_INVALID_ARG;
    r = smtpkit_message_prepare(m);
    if (r)
        return r;
    for (;;) {
        smtpkit_ssize n = msg_read(m, m->wbuf, SMTPKIT_MESSAGE_CHUNK);
        if (n == 0)
            return 0;
        if (n < 0)
            return (int)n;
        if (sink(user, m->wbuf, (size_t)n) < 0) {
            m->err = SMTPKIT_ERR_CALLBACK;
            return SMTPKIT_ERR_CALLBACK;
        }
    }
}
