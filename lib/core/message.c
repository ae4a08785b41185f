/* The message builder: object, setters, validation and envelope. The
 * layout and the streaming read-out are in message_out.c. */
#include "message_internal.h"

#include "smtpkit/command.h"

int smtpkit__mlist_push(const smtpkit_mem *mem, smtpkit__mlist *l, const void *item, size_t size)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 4;
        void *nv;
        if (nc > (size_t)-1 / size)
            return SMTPKIT_ERR_NOMEM;
        nv = smtpkit__realloc(mem, l->v, nc * size);
        if (!nv)
            return SMTPKIT_ERR_NOMEM;
        l->v = nv;
        l->cap = nc;
    }
    memcpy((char *)l->v + l->n * size, item, size);
    l->n++;
    return 0;
}

static char *dupn(smtpkit_message *m, const char *s, size_t n)
{
    char *d = (char *)smtpkit__malloc(&m->mem, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

smtpkit_message *smtpkit_message_new(const smtpkit_mem *mem)
{
    smtpkit_message *m = (smtpkit_message *)smtpkit__calloc(mem, 1, sizeof *m);
    if (!m)
        return NULL;
    if (mem)
        m->mem = *mem;
    m->size = -1;
    smtpkit__hbuf_init(&m->lit, &m->mem);
    return m;
}

static void free_addr(smtpkit_message *m, smtpkit__maddr *a)
{
    smtpkit__free(&m->mem, a->addr);
    smtpkit__free(&m->mem, a->name);
    a->addr = a->name = NULL;
}

static void free_addrs(smtpkit_message *m, smtpkit__mlist *l)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        free_addr(m, (smtpkit__maddr *)l->v + i);
    smtpkit__free(&m->mem, l->v);
}

static void free_strs(smtpkit_message *m, smtpkit__mlist *l)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        smtpkit__free(&m->mem, ((char **)l->v)[i]);
    smtpkit__free(&m->mem, l->v);
}

static void free_part(smtpkit_message *m, smtpkit__mpart *p)
{
    if (!p)
        return;
    smtpkit__free(&m->mem, p->filename);
    smtpkit__free(&m->mem, p->ctype);
    smtpkit__free(&m->mem, p->cid);
    smtpkit__free(&m->mem, p);
}

static void free_parts(smtpkit_message *m, smtpkit__mlist *l)
{
    size_t i;
    for (i = 0; i < l->n; i++)
        free_part(m, ((smtpkit__mpart **)l->v)[i]);
    smtpkit__free(&m->mem, l->v);
}

void smtpkit_message_free(smtpkit_message *m)
{
    size_t i;
    if (!m)
        return;
    free_addr(m, &m->from);
    free_addr(m, &m->sender);
    free_addrs(m, &m->to);
    free_addrs(m, &m->cc);
    free_addrs(m, &m->reply_to);
    free_strs(m, &m->bcc);
    free_strs(m, &m->refs);
    for (i = 0; i < m->hdrs.n; i++) {
        smtpkit__mhdr *h = (smtpkit__mhdr *)m->hdrs.v + i;
        smtpkit__free(&m->mem, h->name);
        smtpkit__free(&m->mem, h->value);
    }
    smtpkit__free(&m->mem, m->hdrs.v);
    smtpkit__free(&m->mem, m->subject);
    smtpkit__free(&m->mem, m->msgid);
    smtpkit__free(&m->mem, m->in_reply_to);
    if (m->text != m->empty) /* the empty body stands in for a missing text */
        free_part(m, m->text);
    free_part(m, m->html);
    free_part(m, m->empty);
    free_parts(m, &m->atts);
    free_parts(m, &m->inl);
    smtpkit__free(&m->mem, (void *)m->rcpts);
    smtpkit__hbuf_free(&m->lit);
    smtpkit__free(&m->mem, m->segs.v);
    smtpkit__free(&m->mem, m->in);
    smtpkit__free(&m->mem, m->wbuf);
    {
        smtpkit_mem mem = m->mem;
        smtpkit__free(&mem, m);
    }
}

static int check_open(const smtpkit_message *m)
{
    if (!m)
        return SMTPKIT_ERR_INVALID_ARG;
    return m->frozen ? SMTPKIT_ERR_STATE : 0;
}

int smtpkit_message_set_options(smtpkit_message *m, unsigned opts)
{
    int r = check_open(m);
    if (r)
        return r;
    if (opts & ~(unsigned)SMTPKIT_MESSAGE_ALLOW_8BIT)
        return SMTPKIT_ERR_INVALID_ARG;
    m->opts = opts;
    return 0;
}

/* ---------------------------------------------------------------- addresses */

static int has_8bit(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if ((unsigned char)s[i] >= 0x80)
            return 1;
    }
    return 0;
}

/* Validate and copy an address and optional display name into *a. */
static int make_addr(smtpkit_message *m, const char *addr, const char *name, smtpkit__maddr *a)
{
    size_t al, nl = name ? strlen(name) : 0;
    int r = check_open(m);
    if (r)
        return r;
    if (!addr)
        return SMTPKIT_ERR_INVALID_ARG;
    al = strlen(addr);
    /* The same grammar the client checks before MAIL FROM / RCPT TO (RFC
     * 5321 4.1.2, RFC 6531 3.3 for UTF-8), so a header address is always
     * usable in the envelope. RFC 5321 4.5.3.1.3: a path is at most 256
     * octets with its brackets. */
    if (smtpkit__has_crlfnul(addr, al))
        return SMTPKIT_ERR_INJECTION;
    if (al == 0 || al > 254)
        return SMTPKIT_ERR_BAD_ADDRESS;
    r = smtpkit_mailbox_validate(addr, al, 1);
    if (r == SMTPKIT_ERR_NON_ASCII)
        return SMTPKIT_ERR_BAD_ADDRESS;
    if (r)
        return r;
    if (nl) {
        if (smtpkit__has_crlfnul(name, nl))
            return SMTPKIT_ERR_INJECTION;
        if (nl > SMTPKIT__MSG_NAME_MAX)
            return SMTPKIT_ERR_INVALID_ARG;
    }
    a->addr = dupn(m, addr, al);
    a->name = nl ? dupn(m, name, nl) : NULL;
    if (!a->addr || (nl && !a->name)) {
        free_addr(m, a);
        return SMTPKIT_ERR_NOMEM;
    }
    if (has_8bit(addr, al))
        m->flags |= SMTPKIT_MESSAGE_SMTPUTF8;
    return 0;
}

static int set_addr(smtpkit_message *m, smtpkit__maddr *slot, const char *addr, const char *name)
{
    smtpkit__maddr a = {NULL, NULL};
    int r = make_addr(m, addr, name, &a);
    if (r)
        return r;
    free_addr(m, slot);
    *slot = a;
    return 0;
}

static int add_addr(smtpkit_message *m, smtpkit__mlist *l, const char *addr, const char *name)
{
    smtpkit__maddr a = {NULL, NULL};
    int r = make_addr(m, addr, name, &a);
    if (r)
        return r;
    r = smtpkit__mlist_push(&m->mem, l, &a, sizeof a);
    if (r)
        free_addr(m, &a);
    return r;
}

int smtpkit_message_set_from(smtpkit_message *m, const char *addr, const char *display_name)
{
    return m ? set_addr(m, &m->from, addr, display_name) : SMTPKIT_ERR_INVALID_ARG;
}

int smtpkit_message_set_sender(smtpkit_message *m, const char *addr, const char *display_name)
{
    return m ? set_addr(m, &m->sender, addr, display_name) : SMTPKIT_ERR_INVALID_ARG;
}

int smtpkit_message_add_to(smtpkit_message *m, const char *addr, const char *display_name)
{
    return m ? add_addr(m, &m->to, addr, display_name) : SMTPKIT_ERR_INVALID_ARG;
}

int smtpkit_message_add_cc(smtpkit_message *m, const char *addr, const char *display_name)
{
    return m ? add_addr(m, &m->cc, addr, display_name) : SMTPKIT_ERR_INVALID_ARG;
}

int smtpkit_message_add_reply_to(smtpkit_message *m, const char *addr, const char *display_name)
{
    return m ? add_addr(m, &m->reply_to, addr, display_name) : SMTPKIT_ERR_INVALID_ARG;
}

int smtpkit_message_add_bcc(smtpkit_message *m, const char *addr)
{
    smtpkit__maddr a = {NULL, NULL};
    int r;
    if (!m)
        return SMTPKIT_ERR_INVALID_ARG;
    r = make_addr(m, addr, NULL, &a);
    if (r)
        return r;
    r = smtpkit__mlist_push(&m->mem, &m->bcc, &a.addr, sizeof a.addr);
    if (r)
        free_addr(m, &a);
    return r;
}

/* ---------------------------------------------------------------- headers */

int smtpkit_message_set_subject(smtpkit_message *m, const char *subject)
{
    size_t n;
    char *d;
    int r = check_open(m);
    if (r)
        return r;
    if (!subject)
        return SMTPKIT_ERR_INVALID_ARG;
    n = strlen(subject);
    if (smtpkit__has_crlfnul(subject, n))
        return SMTPKIT_ERR_INJECTION;
    if (n > SMTPKIT__MSG_VALUE_MAX)
        return SMTPKIT_ERR_INVALID_ARG;
    d = dupn(m, subject, n);
    if (!d)
        return SMTPKIT_ERR_NOMEM;
    smtpkit__free(&m->mem, m->subject);
    m->subject = d;
    return 0;
}

int smtpkit_message_set_date(smtpkit_message *m, int64_t unix_seconds, int zone_minutes)
{
    char tmp[32];
    int r = check_open(m);
    if (r)
        return r;
    r = smtpkit__format_date(tmp, unix_seconds, zone_minutes);
    if (r < 0)
        return r;
    m->has_date = 1;
    m->date = unix_seconds;
    m->zone = zone_minutes;
    return 0;
}

int smtpkit_message_set_unique(smtpkit_message *m, const void *bytes, size_t len)
{
    int r = check_open(m);
    if (r)
        return r;
    if (!bytes || !len)
        return SMTPKIT_ERR_INVALID_ARG;
    if (len > sizeof m->unique)
        len = sizeof m->unique;
    memcpy(m->unique, bytes, len);
    m->nunique = len;
    return 0;
}

/* Validate a msg-id given with or without <> and return a copy without. */
static int take_msg_id(smtpkit_message *m, const char *id, char **out)
{
    size_t n;
    int r = check_open(m);
    if (r)
        return r;
    if (!id)
        return SMTPKIT_ERR_INVALID_ARG;
    n = strlen(id);
    if (smtpkit__has_crlfnul(id, n))
        return SMTPKIT_ERR_INJECTION;
    if (n >= 2 && id[0] == '<' && id[n - 1] == '>') {
        id++;
        n -= 2;
    }
    /* Short enough to sit on one folded line of its own. */
    if (n > 500 || !smtpkit__msg_id_ok(id, n))
        return SMTPKIT_ERR_BAD_HEADER;
    *out = dupn(m, id, n);
    return *out ? 0 : SMTPKIT_ERR_NOMEM;
}

int smtpkit_message_set_message_id(smtpkit_message *m, const char *id)
{
    char *d = NULL;
    int r = take_msg_id(m, id, &d);
    if (r)
        return r;
    smtpkit__free(&m->mem, m->msgid);
    m->msgid = d;
    return 0;
}

int smtpkit_message_generate_message_id(smtpkit_message *m, const char *domain)
{
    static const char hex[] = "0123456789abcdef";
    char buf[2 * SMTPKIT_MESSAGE_UNIQUE_MAX + 260];
    size_t dl, i, o = 0;
    int r = check_open(m);
    if (r)
        return r;
    if (!domain)
        return SMTPKIT_ERR_INVALID_ARG;
    if (!m->nunique)
        return SMTPKIT_ERR_STATE;
    dl = strlen(domain);
    if (smtpkit__has_crlfnul(domain, dl))
        return SMTPKIT_ERR_INJECTION;
    if (dl > 255 || !smtpkit__dot_atom_ok(domain, dl))
        return SMTPKIT_ERR_BAD_HEADER;
    for (i = 0; i < m->nunique; i++) {
        buf[o++] = hex[m->unique[i] >> 4];
        buf[o++] = hex[m->unique[i] & 15];
    }
    buf[o++] = '@';
    memcpy(buf + o, domain, dl);
    o += dl;
    buf[o] = '\0';
    return smtpkit_message_set_message_id(m, buf);
}

int smtpkit_message_set_in_reply_to(smtpkit_message *m, const char *id)
{
    char *d = NULL;
    int r = take_msg_id(m, id, &d);
    if (r)
        return r;
    smtpkit__free(&m->mem, m->in_reply_to);
    m->in_reply_to = d;
    return 0;
}

int smtpkit_message_add_reference(smtpkit_message *m, const char *id)
{
    char *d = NULL;
    int r = take_msg_id(m, id, &d);
    if (r)
        return r;
    r = smtpkit__mlist_push(&m->mem, &m->refs, &d, sizeof d);
    if (r)
        smtpkit__free(&m->mem, d);
    return r;
}

/* Fields the builder writes itself; a second copy would make the message
 * ambiguous (RFC 5322 3.6 allows each of these at most once). */
static const char *const reserved_names[] = {
    "From", "Sender", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "Message-ID",
    "In-Reply-To", "References", "MIME-Version", "Content-Type",
    "Content-Transfer-Encoding", "Content-Disposition", "Content-ID"};

int smtpkit_message_add_header_n(smtpkit_message *m, const char *name, size_t name_len,
                                 const char *value, size_t value_len)
{
    smtpkit__mhdr h;
    size_t i;
    int r = check_open(m);
    if (r)
        return r;
    if (!name || (!value && value_len))
        return SMTPKIT_ERR_INVALID_ARG;
    if (smtpkit__has_crlfnul(name, name_len) || smtpkit__has_crlfnul(value, value_len))
        return SMTPKIT_ERR_INJECTION;
    if (!smtpkit__hdr_name_ok(name, name_len))
        return SMTPKIT_ERR_BAD_HEADER;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(reserved_names); i++) {
        if (smtpkit__ieq(name, name_len, reserved_names[i]))
            return SMTPKIT_ERR_BAD_HEADER;
    }
    if (value_len > SMTPKIT__MSG_VALUE_MAX)
        return SMTPKIT_ERR_INVALID_ARG;
    h.name = dupn(m, name, name_len);
    h.value = dupn(m, value ? value : "", value_len);
    h.name_len = name_len;
    h.value_len = value_len;
    if (!h.name || !h.value ||
        (r = smtpkit__mlist_push(&m->mem, &m->hdrs, &h, sizeof h)) != 0) {
        smtpkit__free(&m->mem, h.name);
        smtpkit__free(&m->mem, h.value);
        return SMTPKIT_ERR_NOMEM;
    }
    return 0;
}

int smtpkit_message_add_header(smtpkit_message *m, const char *name, const char *value)
{
    if (!name || !value)
        return SMTPKIT_ERR_INVALID_ARG;
    return smtpkit_message_add_header_n(m, name, strlen(name), value, strlen(value));
}

/* ---------------------------------------------------------------- parts */

static smtpkit__mpart *new_part(smtpkit_message *m, int kind, smtpkit_source *src)
{
    smtpkit__mpart *p = (smtpkit__mpart *)smtpkit__calloc(&m->mem, 1, sizeof *p);
    if (!p)
        return NULL;
    p->kind = kind;
    p->src = src;
    p->raw_size = src ? src->size : 0;
    p->enc_size = -1;
    return p;
}

static int set_body(smtpkit_message *m, smtpkit__mpart **slot, int kind, smtpkit_source *src,
                    const char *mem, size_t len)
{
    smtpkit__mpart *p;
    int r = check_open(m);
    if (r)
        return r;
    if (src ? !src->read : (!mem && len))
        return SMTPKIT_ERR_INVALID_ARG;
    p = new_part(m, kind, src);
    if (!p)
        return SMTPKIT_ERR_NOMEM;
    if (!src) {
        smtpkit_source_from_memory(&p->own, &p->own_state, mem ? mem : "", len);
        p->src = &p->own;
        p->raw_size = (int64_t)len;
    }
    free_part(m, *slot);
    *slot = p;
    return 0;
}

int smtpkit_message_set_text(smtpkit_message *m, smtpkit_source *src)
{
    if (!m || !src)
        return SMTPKIT_ERR_INVALID_ARG;
    return set_body(m, &m->text, SMTPKIT__MP_TEXT, src, NULL, 0);
}

int smtpkit_message_set_text_mem(smtpkit_message *m, const char *text, size_t len)
{
    if (!m)
        return SMTPKIT_ERR_INVALID_ARG;
    return set_body(m, &m->text, SMTPKIT__MP_TEXT, NULL, text, len);
}

int smtpkit_message_set_html(smtpkit_message *m, smtpkit_source *src)
{
    if (!m || !src)
        return SMTPKIT_ERR_INVALID_ARG;
    return set_body(m, &m->html, SMTPKIT__MP_HTML, src, NULL, 0);
}

int smtpkit_message_set_html_mem(smtpkit_message *m, const char *html, size_t len)
{
    if (!m)
        return SMTPKIT_ERR_INVALID_ARG;
    return set_body(m, &m->html, SMTPKIT__MP_HTML, NULL, html, len);
}

/* RFC 2045 5.1 token character. */
static int token_char(unsigned char c)
{
    return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?=", c);
}

/* "type/subtype" [";" params]: tokens, then printable ASCII. */
static int check_ctype(const char *s, size_t n)
{
    size_t i = 0, t;
    if (smtpkit__has_crlfnul(s, n))
        return SMTPKIT_ERR_INJECTION;
    if (n > SMTPKIT__MSG_CTYPE_MAX)
        return SMTPKIT_ERR_BAD_HEADER;
    while (i < n && token_char((unsigned char)s[i]))
        i++;
    t = i;
    if (i == 0 || i >= n || s[i] != '/')
        return SMTPKIT_ERR_BAD_HEADER;
    i++;
    if (i >= n || !token_char((unsigned char)s[i]))
        return SMTPKIT_ERR_BAD_HEADER;
    while (i < n && token_char((unsigned char)s[i]))
        i++;
    if (i < n) {
        size_t j;
        for (j = i; j < n && (s[j] == ' ' || s[j] == '\t'); j++)
            ;
        if (j >= n || s[j] != ';')
            return SMTPKIT_ERR_BAD_HEADER;
        for (; j < n; j++) {
            unsigned char c = (unsigned char)s[j];
            if (c < 32 || c > 126)
                return SMTPKIT_ERR_BAD_HEADER;
        }
    }
    /* RFC 2046 5.1.1, 5.2.1: composite types cannot be base64 encoded. */
    if (smtpkit__iprefix(s, t, "multipart") || smtpkit__iprefix(s, t, "message"))
        return SMTPKIT_ERR_BAD_HEADER;
    return 0;
}

static int add_binary(smtpkit_message *m, smtpkit__mlist *list, int kind, smtpkit_source *src,
                      const char *cid, const char *filename, const char *ctype)
{
    smtpkit__mpart *p;
    size_t fl = filename ? strlen(filename) : 0, cl = 0, il = 0;
    int r = check_open(m);
    if (r)
        return r;
    if (!src || !src->read)
        return SMTPKIT_ERR_INVALID_ARG;
    if (fl) {
        if (smtpkit__has_crlfnul(filename, fl))
            return SMTPKIT_ERR_INJECTION;
        if (fl > SMTPKIT__MSG_FILENAME_MAX)
            return SMTPKIT_ERR_INVALID_ARG;
    }
    if (!ctype)
        ctype = smtpkit_message_guess_type(filename);
    cl = strlen(ctype);
    r = check_ctype(ctype, cl);
    if (r)
        return r;
    if (kind == SMTPKIT__MP_INLINE) {
        if (!cid)
            return SMTPKIT_ERR_INVALID_ARG;
        il = strlen(cid);
        if (smtpkit__has_crlfnul(cid, il))
            return SMTPKIT_ERR_INJECTION;
        if (il >= 2 && cid[0] == '<' && cid[il - 1] == '>') {
            cid++;
            il -= 2;
        }
        if (il > 500 || !smtpkit__msg_id_ok(cid, il))
            return SMTPKIT_ERR_BAD_HEADER;
    }
    p = new_part(m, kind, src);
    if (!p)
        return SMTPKIT_ERR_NOMEM;
    p->enc = SMTPKIT__ENC_B64;
    p->filename = fl ? dupn(m, filename, fl) : NULL;
    p->ctype = dupn(m, ctype, cl);
    p->cid = il ? dupn(m, cid, il) : NULL;
    if ((fl && !p->filename) || !p->ctype || (il && !p->cid) ||
        smtpkit__mlist_push(&m->mem, list, &p, sizeof p) != 0) {
        free_part(m, p);
        return SMTPKIT_ERR_NOMEM;
    }
    return 0;
}

int smtpkit_message_add_attachment(smtpkit_message *m, smtpkit_source *src, const char *filename,
                                   const char *content_type)
{
    if (!m)
        return SMTPKIT_ERR_INVALID_ARG;
    return add_binary(m, &m->atts, SMTPKIT__MP_ATTACH, src, NULL, filename, content_type);
}

int smtpkit_message_add_inline(smtpkit_message *m, smtpkit_source *src, const char *content_id,
                               const char *filename, const char *content_type)
{
    if (!m)
        return SMTPKIT_ERR_INVALID_ARG;
    return add_binary(m, &m->inl, SMTPKIT__MP_INLINE, src, content_id, filename, content_type);
}

const char *smtpkit_message_guess_type(const char *filename)
{
    static const char *const table[][2] = {
        {"txt", "text/plain"},        {"htm", "text/html"},
        {"html", "text/html"},        {"css", "text/css"},
        {"csv", "text/csv"},          {"ics", "text/calendar"},
        {"md", "text/markdown"},      {"xml", "application/xml"},
        {"json", "application/json"}, {"pdf", "application/pdf"},
        {"zip", "application/zip"},   {"gz", "application/gzip"},
        {"tar", "application/x-tar"}, {"7z", "application/x-7z-compressed"},
        {"doc", "application/msword"},
        {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {"xls", "application/vnd.ms-excel"},
        {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        {"ppt", "application/vnd.ms-powerpoint"},
        {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
        {"odt", "application/vnd.oasis.opendocument.text"},
        {"ods", "application/vnd.oasis.opendocument.spreadsheet"},
        {"png", "image/png"},         {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},       {"gif", "image/gif"},
        {"webp", "image/webp"},       {"svg", "image/svg+xml"},
        {"bmp", "image/bmp"},         {"ico", "image/vnd.microsoft.icon"},
        {"tif", "image/tiff"},        {"tiff", "image/tiff"},
        {"mp3", "audio/mpeg"},        {"wav", "audio/wav"},
        {"ogg", "audio/ogg"},         {"mp4", "video/mp4"},
        {"webm", "video/webm"},       {"mov", "video/quicktime"}};
    const char *dot = NULL, *p;
    size_t i;
    if (!filename)
        return "application/octet-stream";
    for (p = filename; *p; p++) {
        if (*p == '.')
            dot = p + 1;
        else if (*p == '/' || *p == '\\')
            dot = NULL;
    }
    if (dot) {
        for (i = 0; i < SMTPKIT_ARRAY_LEN(table); i++) {
            if (smtpkit__ieq(dot, strlen(dot), table[i][0]))
                return table[i][1];
        }
    }
    return "application/octet-stream";
}

/* ---------------------------------------------------------------- envelope */

static int same_mailbox(const char *a, const char *b)
{
    /* RFC 5321 2.4: the local part is case-sensitive, the domain is not. */
    const char *da = strrchr(a, '@'), *db = strrchr(b, '@');
    size_t la, lb;
    if (!da || !db)
        return strcmp(a, b) == 0;
    la = (size_t)(da - a);
    lb = (size_t)(db - b);
    return la == lb && memcmp(a, b, la) == 0 && smtpkit__ieq(da, strlen(da), db);
}

int smtpkit_message_envelope(smtpkit_message *m, smtpkit_message_env *env)
{
    size_t total, n = 0, i, j;
    const char **r;
    if (!m || !env)
        return SMTPKIT_ERR_INVALID_ARG;
    if (!m->from.addr)
        return SMTPKIT_ERR_STATE;
    total = m->to.n + m->cc.n + m->bcc.n;
    r = (const char **)smtpkit__malloc(&m->mem, (total ? total : 1) * sizeof *r);
    if (!r)
        return SMTPKIT_ERR_NOMEM;
    for (i = 0; i < total; i++) {
        const char *a;
        if (i < m->to.n)
            a = ((smtpkit__maddr *)m->to.v)[i].addr;
        else if (i < m->to.n + m->cc.n)
            a = ((smtpkit__maddr *)m->cc.v)[i - m->to.n].addr;
        else
            a = ((char **)m->bcc.v)[i - m->to.n - m->cc.n];
        for (j = 0; j < n && !same_mailbox(r[j], a); j++)
            ;
        if (j == n)
            r[n++] = a;
    }
    smtpkit__free(&m->mem, (void *)m->rcpts);
    m->rcpts = r;
    env->reverse_path = m->sender.addr ? m->sender.addr : m->from.addr;
    env->recipients = r;
    env->recipient_count = n;
    env->flags = m->flags & SMTPKIT_MESSAGE_SMTPUTF8;
    return 0;
}
