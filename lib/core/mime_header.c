/* Header field writing: folding (RFC 5322 2.2.3), encoded words (RFC 2047),
 * parameter values (RFC 2045 5.1, RFC 2231) and dates (RFC 5322 3.3). */
#include "mime_header.h"

#include "smtpkit/base64.h"

/* Smallest encoded word worth starting on a line: "=?UTF-8?Q?" "?=" plus
 * room for one 4-byte character in Q (12) - always enough for one
 * character, so the writer always progresses. */
#define EW_OVERHEAD 12
#define EW_MIN (EW_OVERHEAD + 12)

static const char hexu[] = "0123456789ABCDEF";

/* ---------------------------------------------------------------- buffer */

void smtpkit__hbuf_init(smtpkit__hbuf *b, const smtpkit_mem *mem)
{
    memset(b, 0, sizeof *b);
    b->mem = mem;
}

void smtpkit__hbuf_free(smtpkit__hbuf *b)
{
    smtpkit__free(b->mem, b->p);
    b->p = NULL;
    b->len = b->cap = b->line = b->fold_min = 0;
}

static int hbuf_reserve(smtpkit__hbuf *b, size_t more)
{
    size_t want;
    char *np;
    if (b->err)
        return 0;
    if (b->cap - b->len >= more)
        return 1;
    want = b->cap ? b->cap : 256;
    while (want - b->len < more) {
        if (want > (size_t)-1 / 2) {
            b->err = SMTPKIT_ERR_NOMEM;
            return 0;
        }
        want *= 2;
    }
    np = (char *)smtpkit__realloc(b->mem, b->p, want);
    if (!np) {
        b->err = SMTPKIT_ERR_NOMEM;
        return 0;
    }
    b->p = np;
    b->cap = want;
    return 1;
}

void smtpkit__hbuf_put(smtpkit__hbuf *b, const char *s, size_t n)
{
    size_t i;
    if (!n || !hbuf_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    /* Keep the line start right for literals that contain line breaks. */
    for (i = n; i > 0; i--) {
        if (s[i - 1] == '\n') {
            b->line = b->len + i;
            break;
        }
    }
    b->len += n;
}

void smtpkit__hbuf_puts(smtpkit__hbuf *b, const char *s) { smtpkit__hbuf_put(b, s, strlen(s)); }

static void hbuf_putc(smtpkit__hbuf *b, char c) { smtpkit__hbuf_put(b, &c, 1); }

/* ---------------------------------------------------------------- folding */

void smtpkit__hdr_begin(smtpkit__hbuf *b, const char *name, size_t n)
{
    smtpkit__hbuf_put(b, name, n);
    hbuf_putc(b, ':');
    b->fold_min = b->len;
}

void smtpkit__hdr_end(smtpkit__hbuf *b) { smtpkit__hbuf_put(b, "\r\n", 2); }

/* A fold is only useful once the line holds more than "Name:" (and it must
 * never leave a line of white space only, RFC 5322 3.2.2). */
static int can_fold(const smtpkit__hbuf *b) { return b->len > b->fold_min; }

static void fold(smtpkit__hbuf *b) { smtpkit__hbuf_put(b, "\r\n", 2); }

void smtpkit__hdr_sep(smtpkit__hbuf *b, const char *ws, size_t wslen, size_t ilen)
{
    /* RFC 5322 2.2.3: fold by putting CRLF before existing white space, so
     * unfolding gives back exactly the same text. */
    if (wslen && can_fold(b) && smtpkit__hbuf_col(b) + wslen + ilen > SMTPKIT__HDR_FOLD)
        fold(b);
    smtpkit__hbuf_put(b, ws, wslen);
}

void smtpkit__hdr_item(smtpkit__hbuf *b, const char *ws, size_t wslen, const char *item,
                       size_t ilen)
{
    smtpkit__hdr_sep(b, ws, wslen, ilen);
    smtpkit__hbuf_put(b, item, ilen);
}

/* ---------------------------------------------------------------- encoded words */

size_t smtpkit__utf8_char(const unsigned char *s, size_t n)
{
    size_t need, k;
    unsigned char c = s[0];
    if (c < 0xC2)
        return 1;
    if (c <= 0xDF)
        need = 2;
    else if (c <= 0xEF)
        need = 3;
    else if (c <= 0xF4)
        need = 4;
    else
        return 1;
    if (need > n)
        return 1;
    for (k = 1; k < need; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 1;
    }
    return need;
}

/* RFC 2047 5(3): in a phrase only letters, digits and "!*+-/" may stand for
 * themselves in Q; using that set everywhere keeps one rule that is valid
 * in every context. Space is "_" (4.2(2)). */
static int q_plain(unsigned char c)
{
    return smtpkit__is_alnum(c) || c == '!' || c == '*' || c == '+' || c == '-' || c == '/' ||
           c == ' ';
}

static size_t q_len(const unsigned char *s, size_t n)
{
    size_t i, l = 0;
    for (i = 0; i < n; i++)
        l += q_plain(s[i]) ? 1 : 3;
    return l;
}

static size_t b_len(size_t n) { return (n + 2) / 3 * 4; }

void smtpkit__hdr_ew(smtpkit__hbuf *b, const char *ws, size_t wslen, const char *s, size_t n,
                     const char *prefix, const char *suffix)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t pl = strlen(prefix), sl = strlen(suffix), pos = 0;
    /* RFC 2047 4: either encoding may be used; take the shorter. */
    int use_q = q_len(u, n) <= b_len(n);
    int first = 1;

    if (n == 0) {
        smtpkit__hdr_sep(b, ws, wslen, pl + sl);
        smtpkit__hbuf_put(b, prefix, pl);
        smtpkit__hbuf_put(b, suffix, sl);
        return;
    }
    while (pos < n) {
        const char *sep = first ? ws : " ";
        size_t sepl = first ? wslen : 1, pre = first ? pl : 0;
        size_t col = smtpkit__hbuf_col(b), fixed, room, start = pos, enc = 0;
        char word[SMTPKIT__EW_MAX + 8];
        size_t wl = 0;

        fixed = sepl + pre + sl;
        {
            /* When the rest fits one encoded word, start a new line rather
             * than split it: fewer words, and readers that wrongly keep the
             * space between adjacent encoded words in a phrase (CPython
             * before gh-128110) still read short names right. */
            size_t whole = EW_OVERHEAD + (use_q ? q_len(u + pos, n - pos) : b_len(n - pos));
            if (sepl && can_fold(b) && whole <= SMTPKIT__EW_MAX &&
                col + fixed + whole > SMTPKIT__HDR_FOLD && fixed + whole <= SMTPKIT__HDR_FOLD) {
                fold(b);
                col = 0;
            }
        }
        if (sepl && col && can_fold(b) && col + fixed + EW_MIN > SMTPKIT__HDR_FOLD) {
            fold(b);
            col = 0;
        }
        room = col + fixed < SMTPKIT__HDR_FOLD ? SMTPKIT__HDR_FOLD - col - fixed : 0;
        if (room > SMTPKIT__EW_MAX)
            room = SMTPKIT__EW_MAX;
        if (room < EW_MIN)
            room = EW_MIN;
        /* Fill with whole UTF-8 characters (RFC 2047 5: an encoded word
         * must not split a character). */
        while (pos < n) {
            size_t cl = smtpkit__utf8_char(u + pos, n - pos);
            size_t e = use_q ? enc + q_len(u + pos, cl) : b_len(pos + cl - start);
            if (EW_OVERHEAD + e > room)
                break;
            enc = e;
            pos += cl;
        }
        memcpy(word, use_q ? "=?UTF-8?Q?" : "=?UTF-8?B?", 10);
        wl = 10;
        if (use_q) {
            size_t i;
            for (i = start; i < pos; i++) {
                unsigned char c = u[i];
                if (c == ' ') {
                    word[wl++] = '_';
                } else if (q_plain(c)) {
                    word[wl++] = (char)c;
                } else {
                    word[wl++] = '=';
                    word[wl++] = hexu[c >> 4];
                    word[wl++] = hexu[c & 15];
                }
            }
        } else {
            smtpkit_ssize r = smtpkit_base64_encode(u + start, pos - start, word + wl,
                                                    sizeof word - wl);
            if (r < 0) {
                b->err = SMTPKIT_ERR_INTERNAL;
                return;
            }
            wl += (size_t)r;
        }
        word[wl++] = '?';
        word[wl++] = '=';
        smtpkit__hbuf_put(b, sep, sepl);
        if (first)
            smtpkit__hbuf_put(b, prefix, pl);
        smtpkit__hbuf_put(b, word, wl);
        first = 0;
    }
    smtpkit__hbuf_put(b, suffix, sl);
}

/* ---------------------------------------------------------------- unstructured */

static int is_ws(unsigned char c) { return c == ' ' || c == '\t'; }

static size_t ws_end(const char *s, size_t n, size_t i)
{
    while (i < n && is_ws((unsigned char)s[i]))
        i++;
    return i;
}

static size_t word_end(const char *s, size_t n, size_t i)
{
    while (i < n && !is_ws((unsigned char)s[i]))
        i++;
    return i;
}

/* A word must be encoded when it is not plain ASCII text, when it could be
 * taken for an encoded word (RFC 2047 6.1: "=?" starts one), or when it is
 * too long to fold. */
static int word_needs_ew(const char *s, size_t n)
{
    size_t i;
    if (n > SMTPKIT__HDR_WORD_MAX)
        return 1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f)
            return 1;
        if (c == '=' && i + 1 < n && s[i + 1] == '?')
            return 1;
    }
    return 0;
}

/* Is the word [a, e) encoded? Also when next to a white-space run too long
 * to keep on a line: the run then goes inside the encoded words. */
static int word_marked(const char *s, size_t n, size_t a, size_t e)
{
    size_t p;
    if (word_needs_ew(s + a, e - a))
        return 1;
    p = a;
    while (p > 0 && is_ws((unsigned char)s[p - 1]))
        p--;
    if (a - p > SMTPKIT__HDR_WS_MAX)
        return 1;
    return ws_end(s, n, e) - e > SMTPKIT__HDR_WS_MAX;
}

void smtpkit__hdr_text(smtpkit__hbuf *b, const char *s, size_t n)
{
    size_t pos = 0, wsa = 0, wsl = 0;
    int first = 1;

    while (pos < n) {
        size_t a = pos, e, runend;
        const char *sep;
        size_t sepl;

        if (is_ws((unsigned char)s[pos])) {
            e = ws_end(s, n, pos);
            if (e - a <= SMTPKIT__HDR_WS_MAX) {
                if (e == n) {
                    /* Trailing white space: kept, never folded before (a
                     * line of only white space is not allowed). */
                    smtpkit__hbuf_put(b, s + a, e - a);
                    return;
                }
                wsa = a;
                wsl = e - a;
                pos = e;
                continue;
            }
            runend = e; /* a long run starts an encoded run */
        } else {
            e = word_end(s, n, pos);
            if (!word_marked(s, n, a, e)) {
                if (first) {
                    smtpkit__hbuf_put(b, " ", 1);
                    smtpkit__hbuf_put(b, s + wsa, wsl);
                    smtpkit__hbuf_put(b, s + a, e - a);
                } else {
                    smtpkit__hdr_item(b, s + wsa, wsl, s + a, e - a);
                }
                first = 0;
                wsl = 0;
                pos = e;
                continue;
            }
            runend = e;
        }
        /* Extend the encoded run over white space and marked words: RFC
         * 2047 6.2 drops white space between adjacent encoded words, so
         * the white space between two encoded words must be inside them. */
        while (runend < n) {
            size_t w, we;
            if (!is_ws((unsigned char)s[runend])) {
                /* a word right after a long white-space run: marked by it */
                runend = word_end(s, n, runend);
                continue;
            }
            w = ws_end(s, n, runend);
            if (w - runend > SMTPKIT__HDR_WS_MAX) {
                runend = w;
                continue;
            }
            if (w == n)
                break; /* short trailing white space stays outside */
            we = word_end(s, n, w);
            if (!word_marked(s, n, w, we))
                break;
            runend = we;
        }
        if (first) {
            smtpkit__hbuf_put(b, " ", 1);
            smtpkit__hbuf_put(b, s + wsa, wsl);
            sep = "";
            sepl = 0;
        } else {
            sep = s + wsa;
            sepl = wsl;
        }
        smtpkit__hdr_ew(b, sep, sepl, s + a, runend - a, "", "");
        first = 0;
        wsl = 0;
        pos = runend;
    }
}

/* ---------------------------------------------------------------- phrases */

/* RFC 5322 3.2.3 atext. */
static int is_atext(unsigned char c)
{
    return smtpkit__is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

void smtpkit__hdr_phrase(smtpkit__hbuf *b, const char *ws, size_t wslen, const char *s, size_t n)
{
    size_t i;
    int atoms = n > 0, printable = n <= SMTPKIT__HDR_WS_MAX;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f)
            printable = 0;
        if (c == '=' && i + 1 < n && s[i + 1] == '?')
            printable = 0;
        /* Atoms separated by single spaces read back unchanged; anything
         * else (specials, '.', runs of spaces) needs a quoted-string. */
        if (c == ' ') {
            if (i == 0 || i + 1 == n || s[i + 1] == ' ')
                atoms = 0;
        } else if (!is_atext(c)) {
            atoms = 0;
        }
    }
    if (!printable) {
        smtpkit__hdr_ew(b, ws, wslen, s, n, "", "");
        return;
    }
    if (atoms) {
        size_t a = 0;
        const char *sep = ws;
        size_t sepl = wslen;
        while (a < n) {
            size_t e = word_end(s, n, a);
            smtpkit__hdr_item(b, sep, sepl, s + a, e - a);
            sep = " ";
            sepl = 1;
            a = e + 1;
        }
        return;
    }
    {
        /* RFC 5322 3.2.4 quoted-string: '"' and '\' as quoted-pairs. */
        size_t ql = 2;
        for (i = 0; i < n; i++)
            ql += (s[i] == '"' || s[i] == '\\') ? 2 : 1;
        smtpkit__hdr_sep(b, ws, wslen, ql);
        hbuf_putc(b, '"');
        for (i = 0; i < n; i++) {
            if (s[i] == '"' || s[i] == '\\')
                hbuf_putc(b, '\\');
            hbuf_putc(b, s[i]);
        }
        hbuf_putc(b, '"');
    }
}

/* ---------------------------------------------------------------- parameters */

/* RFC 2231 7 attribute-char: CHAR except SPACE, CTLs, "*", "'", "%" and
 * tspecials (RFC 2045 5.1). */
static int attr_char(unsigned char c)
{
    return smtpkit__is_alnum(c) || (c && strchr("!#$&+-.^_`|~", c) != NULL);
}

static size_t pct_len(const unsigned char *s, size_t n)
{
    size_t i, l = 0;
    for (i = 0; i < n; i++)
        l += attr_char(s[i]) ? 1 : 3;
    return l;
}

static void put_pct(smtpkit__hbuf *b, const unsigned char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (attr_char(s[i])) {
            hbuf_putc(b, (char)s[i]);
        } else {
            char t[3];
            t[0] = '%';
            t[1] = hexu[s[i] >> 4];
            t[2] = hexu[s[i] & 15];
            smtpkit__hbuf_put(b, t, 3);
        }
    }
}

void smtpkit__hdr_param(smtpkit__hbuf *b, const char *attr, const char *v, size_t n, int last,
                        int ew_form)
{
    const unsigned char *u = (const unsigned char *)v;
    const char *suffix = last ? "" : ";";
    size_t al = strlen(attr), sl = last ? 0 : 1, i;
    int simple = al + 3 + n + sl < SMTPKIT__HDR_FOLD;

    for (i = 0; i < n && simple; i++) {
        unsigned char c = u[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' ||
            (c == '=' && i + 1 < n && v[i + 1] == '?'))
            simple = 0;
    }
    if (simple) {
        smtpkit__hdr_sep(b, " ", 1, al + 3 + n + sl);
        smtpkit__hbuf_put(b, attr, al);
        smtpkit__hbuf_put(b, "=\"", 2);
        smtpkit__hbuf_put(b, v, n);
        hbuf_putc(b, '"');
        smtpkit__hbuf_put(b, suffix, sl);
        return;
    }
    if (ew_form) {
        char pre[40], suf[4];
        if (al > sizeof pre - 3) {
            b->err = SMTPKIT_ERR_INTERNAL;
            return;
        }
        memcpy(pre, attr, al);
        memcpy(pre + al, "=\"", 3);
        suf[0] = '"';
        suf[1] = last ? '\0' : ';';
        suf[2] = '\0';
        smtpkit__hdr_ew(b, " ", 1, v, n, pre, suf);
        return;
    }
    if (al + 10 + pct_len(u, n) + sl < SMTPKIT__HDR_FOLD) {
        /* RFC 2231 4: attr*=charset'language'value */
        smtpkit__hdr_sep(b, " ", 1, al + 10 + pct_len(u, n) + sl);
        smtpkit__hbuf_put(b, attr, al);
        smtpkit__hbuf_put(b, "*=UTF-8''", 9);
        put_pct(b, u, n);
        smtpkit__hbuf_put(b, suffix, sl);
        return;
    }
    {
        /* RFC 2231 3+4.1: continuations attr*0*=UTF-8''..; attr*1*=..;
         * each on its own line, split between whole characters. */
        size_t pos = 0, k = 0;
        while (pos < n) {
            char head[48];
            size_t hl, start = pos, el = 0, budget;
            int lastsec;
            if (al + 20 > sizeof head) {
                b->err = SMTPKIT_ERR_INTERNAL;
                return;
            }
            memcpy(head, attr, al);
            hl = al;
            head[hl++] = '*';
            {
                char num[24];
                size_t nl = 0, kk = k;
                do {
                    num[nl++] = (char)('0' + kk % 10);
                    kk /= 10;
                } while (kk);
                while (nl)
                    head[hl++] = num[--nl];
            }
            memcpy(head + hl, k == 0 ? "*=UTF-8''" : "*=", k == 0 ? 9 : 2);
            hl += k == 0 ? 9 : 2;
            budget = SMTPKIT__HDR_FOLD - 2 - hl - 1; /* " " + head + value + ";" */
            while (pos < n) {
                size_t cl = smtpkit__utf8_char(u + pos, n - pos);
                size_t e = pct_len(u + pos, cl);
                if (el + e > budget && el > 0)
                    break;
                el += e;
                pos += cl;
            }
            lastsec = pos >= n;
            smtpkit__hdr_sep(b, " ", 1, hl + el + 1);
            smtpkit__hbuf_put(b, head, hl);
            put_pct(b, u + start, pos - start);
            if (!lastsec)
                hbuf_putc(b, ';');
            else
                smtpkit__hbuf_put(b, suffix, sl);
            k++;
        }
    }
}

/* ---------------------------------------------------------------- dates */

int smtpkit__format_date(char out[32], int64_t t, int zone_minutes)
{
    static const char wd[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char mn[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t local, days, secs, era, yoe, doy, mp, y, z;
    unsigned m, d, za;
    char *o = out;

    /* RFC 5322 3.3: zone is +hhmm/-hhmm; year is 4 digits (we keep 1900+). */
    if (zone_minutes < -1439 || zone_minutes > 1439)
        return SMTPKIT_ERR_INVALID_ARG;
    if (t < -2208988800LL || t > 253402300799LL) /* 1900-01-01 .. 9999-12-31 */
        return SMTPKIT_ERR_INVALID_ARG;
    local = t + (int64_t)zone_minutes * 60;
    days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    secs = local - days * 86400;
    /* Civil date from days since 1970-01-01 (H. Hinnant's algorithm). */
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    {
        int64_t doe = z - era * 146097;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        y = yoe + era * 400;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    }
    mp = (5 * doy + 2) / 153;
    d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    y += m <= 2;
    if (y < 1900 || y > 9999)
        return SMTPKIT_ERR_INVALID_ARG;
    {
        int64_t w = days % 7;
        if (w < 0)
            w += 7;
        memcpy(o, wd[w], 3);
        o += 3;
    }
    *o++ = ',';
    *o++ = ' ';
    if (d >= 10)
        *o++ = (char)('0' + d / 10);
    *o++ = (char)('0' + d % 10);
    *o++ = ' ';
    memcpy(o, mn[m - 1], 3);
    o += 3;
    *o++ = ' ';
    *o++ = (char)('0' + y / 1000);
    *o++ = (char)('0' + y / 100 % 10);
    *o++ = (char)('0' + y / 10 % 10);
    *o++ = (char)('0' + y % 10);
    *o++ = ' ';
    {
        unsigned hh = (unsigned)(secs / 3600), mi = (unsigned)(secs / 60 % 60),
                 ss = (unsigned)(secs % 60);
        *o++ = (char)('0' + hh / 10);
        *o++ = (char)('0' + hh % 10);
        *o++ = ':';
        *o++ = (char)('0' + mi / 10);
        *o++ = (char)('0' + mi % 10);
        *o++ = ':';
        *o++ = (char)('0' + ss / 10);
        *o++ = (char)('0' + ss % 10);
    }
    *o++ = ' ';
    *o++ = zone_minutes < 0 ? '-' : '+';
    za = (unsigned)(zone_minutes < 0 ? -zone_minutes : zone_minutes);
    *o++ = (char)('0' + za / 600);
    *o++ = (char)('0' + za / 60 % 10);
    *o++ = (char)('0' + za % 60 / 10);
    *o++ = (char)('0' + za % 10);
    *o = '\0';
    return (int)(o - out);
}

/* ---------------------------------------------------------------- validation */

int smtpkit__hdr_name_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > SMTPKIT__HDR_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 33 || c > 126 || c == ':')
            return 0;
    }
    return 1;
}

int smtpkit__dot_atom_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (s[i + 1] == '.')
                return 0;
        } else if (!is_atext(c)) {
            return 0;
        }
    }
    return 1;
}

int smtpkit__msg_id_ok(const char *s, size_t n)
{
    size_t at, i;
    for (at = n; at > 0 && s[at - 1] != '@'; at--)
        ;
    if (at == 0)
        return 0;
    at--; /* index of the last '@' */
    if (!smtpkit__dot_atom_ok(s, at))
        return 0;
    s += at + 1;
    n -= at + 1;
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        /* no-fold-literal: dtext is %d33-90 / %d94-126 */
        for (i = 1; i + 1 < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\')
                return 0;
        }
        return 1;
    }
    return smtpkit__dot_atom_ok(s, n);
}
