/* The EHLO capability set: folds the lines of a 250 EHLO reply
 * (RFC 5321 4.1.1.1) into flags, the SIZE limit, the AUTH mechanisms and the
 * keywords we do not know. Strings are copied into the set's own fixed store;
 * nothing is allocated and nothing is written past the store. */
#include "internal.h"
#include "smtpkit/reply.h"

/* A name with its length, so that lookups compare lengths before bytes. */
#define NAME(s) s, sizeof(s) - 1

/* Keywords that map to a flag. SIZE, AUTH and LIMITS also take parameters. */
static const struct {
    const char *name;
    size_t len;
    unsigned flag;
} known_caps[] = {
    {NAME("PIPELINING"), SMTPKIT_CAP_PIPELINING},   /* RFC 2920 */
    {NAME("SIZE"), SMTPKIT_CAP_SIZE},               /* RFC 1870 */
    {NAME("8BITMIME"), SMTPKIT_CAP_8BITMIME},       /* RFC 6152 */
    {NAME("SMTPUTF8"), SMTPKIT_CAP_SMTPUTF8},       /* RFC 6531 */
    {NAME("CHUNKING"), SMTPKIT_CAP_CHUNKING},       /* RFC 3030 */
    {NAME("BINARYMIME"), SMTPKIT_CAP_BINARYMIME},   /* RFC 3030 */
    {NAME("DSN"), SMTPKIT_CAP_DSN},                 /* RFC 3461 */
    {NAME("ENHANCEDSTATUSCODES"), SMTPKIT_CAP_ENHANCEDSTATUSCODES}, /* RFC 2034 */
    {NAME("STARTTLS"), SMTPKIT_CAP_STARTTLS},       /* RFC 3207 */
    {NAME("AUTH"), SMTPKIT_CAP_AUTH},               /* RFC 4954 */
    {NAME("REQUIRETLS"), SMTPKIT_CAP_REQUIRETLS},   /* RFC 8689 */
    {NAME("LIMITS"), SMTPKIT_CAP_LIMITS},           /* RFC 9422 */
};

static const struct {
    const char *name;
    size_t len;
    unsigned flag;
} known_mechs[] = {
    {NAME("PLAIN"), SMTPKIT_AUTH_PLAIN},       /* RFC 4616 */
    {NAME("LOGIN"), SMTPKIT_AUTH_LOGIN},       /* draft-murchison-sasl-login */
    {NAME("CRAM-MD5"), SMTPKIT_AUTH_CRAM_MD5}, /* RFC 2195 */
    {NAME("XOAUTH2"), SMTPKIT_AUTH_XOAUTH2},   /* Google/Microsoft OAuth 2.0 */
};

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Length of the keyword at the start of p: up to SP, HTAB or, for the legacy
 * "AUTH=mech" form, '='. */
static size_t keyword_len(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] != ' ' && p[i] != '\t' && p[i] != '=')
        i++;
    return i;
}

static unsigned known_flag(const char *kw, size_t n)
{
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(known_caps); i++) {
        if (known_caps[i].len == n && smtpkit__ieq(kw, n, known_caps[i].name))
            return known_caps[i].flag;
    }
    return 0;
}

/* Copy n bytes to the end of the store. Returns NULL when they do not fit. */
static const char *store(smtpkit_caps *caps, const char *p, size_t n)
{
    char *dst;
    if (n > sizeof caps->_store - caps->_used)
        return NULL;
    dst = caps->_store + caps->_used;
    if (n)
        memcpy(dst, p, n);
    caps->_used += n;
    return dst;
}

static void store_view(smtpkit_caps *caps, smtpkit_view *v, const char *p, size_t n)
{
    const char *s = store(caps, p, n);
    if (s) {
        v->ptr = s;
        v->len = n;
    } else {
        caps->ndropped++;
    }
}

/* RFC 1870 4: "SIZE" [SP number]; 0 or no number means no fixed limit. A
 * number that does not fit in 64 bits is no limit we could ever reach. */
static uint64_t parse_size(const char *p, size_t n)
{
    uint64_t v = 0;
    size_t i;
    for (i = 0; i < n && smtpkit__is_digit((unsigned char)p[i]); i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (i < n && !is_blank(p[i]))
        return 0; /* "SIZE 10M" and the like: no usable number */
    return v;
}

static int auth_list_has(const smtpkit_caps *caps, const char *m, size_t n)
{
    const char *p = caps->auth_list.ptr;
    size_t len = caps->auth_list.len, i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && p[j] != ' ')
            j++;
        if (j - i == n) {
            size_t k = 0;
            while (k < n && smtpkit__lower((unsigned char)p[i + k]) ==
                                smtpkit__lower((unsigned char)m[k]))
                k++;
            if (k == n)
                return 1;
        }
        i = j + 1;
    }
    return 0;
}

/* Append one mechanism to auth_list, which must stay one contiguous string:
 * when something else was stored after it, the list moves to the end. */
static void auth_list_add(smtpkit_caps *caps, const char *m, size_t n)
{
    size_t old = caps->auth_list.len, need = old ? old + 1 + n : n;
    char *dst;
    if (old && caps->auth_list.ptr + old == caps->_store + caps->_used) {
        /* Already last in the store: grow in place. */
        if (n + 1 > sizeof caps->_store - caps->_used) {
            caps->ndropped++;
            return;
        }
        dst = caps->_store + caps->_used;
        dst[0] = ' ';
        memcpy(dst + 1, m, n);
        caps->_used += n + 1;
        caps->auth_list.len = need;
        return;
    }
    if (need > sizeof caps->_store - caps->_used) {
        caps->ndropped++;
        return;
    }
    dst = caps->_store + caps->_used;
    if (old) {
        /* The old copy lies before _used, so the regions do not overlap. */
        memcpy(dst, caps->auth_list.ptr, old);
        dst[old] = ' ';
        memcpy(dst + old + 1, m, n);
    } else {
        memcpy(dst, m, n);
    }
    caps->_used += need;
    caps->auth_list.ptr = dst;
    caps->auth_list.len = need;
}

/* RFC 4954 3: "AUTH" 1*(SP mechanism); mechanism names are case-insensitive. */
static void fold_auth(smtpkit_caps *caps, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j, k;
        unsigned flag = SMTPKIT_AUTH_OTHER;
        while (i < n && is_blank(p[i]))
            i++;
        j = i;
        while (j < n && !is_blank(p[j]))
            j++;
        if (j == i)
            break;
        for (k = 0; k < SMTPKIT_ARRAY_LEN(known_mechs); k++) {
            if (known_mechs[k].len == j - i && smtpkit__ieq(p + i, j - i, known_mechs[k].name)) {
                flag = known_mechs[k].flag;
                break;
            }
        }
        caps->auth |= flag;
        if (!auth_list_has(caps, p + i, j - i))
            auth_list_add(caps, p + i, j - i);
        i = j;
    }
}

void smtpkit_caps_init(smtpkit_caps *caps)
{
    /* The store itself needs no clearing: _used says what is valid. */
    if (caps)
        memset(caps, 0, offsetof(smtpkit_caps, _store));
}

int smtpkit_caps_add_line(smtpkit_caps *caps, unsigned index, const smtpkit_reply_line *line)
{
    const char *t;
    size_t n, kn, i;
    unsigned flag;

    if (!caps || !line || line->code != 250 || (line->text.len && !line->text.ptr))
        return SMTPKIT_ERR_INVALID_ARG;
    t = line->text.ptr;
    n = line->text.len;
    while (n && is_blank(*t)) {
        t++;
        n--;
    }
    while (n && is_blank(t[n - 1]))
        n--;
    if (n == 0)
        return 0;

    if (index == 0) {
        /* RFC 5321 4.1.1.1: ehlo-ok-rsp = "250" SP Domain [ SP ehlo-greet ] */
        for (i = 0; i < n && !is_blank(t[i]);)
            i++;
        caps->domain.ptr = NULL;
        caps->domain.len = 0;
        store_view(caps, &caps->domain, t, i);
        return 0;
    }

    kn = keyword_len(t, n);
    flag = kn ? known_flag(t, kn) : 0;
    if (flag == 0 || (kn < n && t[kn] == '=' && flag != SMTPKIT_CAP_AUTH)) {
        /* Unknown keyword (or "KW=..." for anything but the legacy AUTH=):
         * keep the whole line so the application can look at it. */
        if (caps->nunknown < SMTPKIT_CAPS_MAX_UNKNOWN) {
            const char *s = store(caps, t, n);
            if (s) {
                caps->unknown[caps->nunknown].ptr = s;
                caps->unknown[caps->nunknown].len = n;
                caps->nunknown++;
                return 0;
            }
        }
        caps->ndropped++;
        return 0;
    }

    caps->flags |= flag;
    /* Parameters start after the keyword and its SP (or '=' for AUTH=). */
    i = kn < n ? kn + 1 : n;
    while (i < n && is_blank(t[i]))
        i++;
    if (flag == SMTPKIT_CAP_SIZE) {
        caps->size_max = parse_size(t + i, n - i);
    } else if (flag == SMTPKIT_CAP_AUTH) {
        fold_auth(caps, t + i, n - i);
    } else if (flag == SMTPKIT_CAP_LIMITS) {
        caps->limits.ptr = NULL;
        caps->limits.len = 0;
        store_view(caps, &caps->limits, t + i, n - i);
    }
    return 0;
}

int smtpkit_caps_has(const smtpkit_caps *caps, const char *kw)
{
    size_t n, i;
    unsigned flag;
    if (!caps || !kw)
        return 0;
    n = strlen(kw);
    if (n == 0)
        return 0;
    flag = known_flag(kw, n);
    if (flag)
        return (caps->flags & flag) != 0;
    for (i = 0; i < caps->nunknown; i++) {
        const smtpkit_view *u = &caps->unknown[i];
        if (keyword_len(u->ptr, u->len) == n && smtpkit__ieq(u->ptr, n, kw))
            return 1;
    }
    return 0;
}
