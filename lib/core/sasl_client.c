/* Client side of SMTP AUTH (RFC 4954): the built-in mechanisms PLAIN
 * (RFC 4616), LOGIN, CRAM-MD5 (RFC 2195) and XOAUTH2, and the exchange that
 * turns any mechanism into AUTH lines and base64 responses. */
#include "internal.h"
#include "md5.h"
#include "smtpkit/base64.h"
#include "smtpkit/sasl.h"

enum { C_INIT = 0, C_WAIT, C_DONE, C_ERROR };

/* ---------------------------------------------------------------- builtins */

static int put(unsigned char *out, size_t cap, size_t *pos, const void *p, size_t n)
{
    if (n > cap - *pos)
        return SMTPKIT_ERR_BUFFER_TOO_SMALL;
    if (n)
        memcpy(out + *pos, p, n);
    *pos += n;
    return 0;
}

static int has_byte(smtpkit_view v, unsigned char b)
{
    return v.len && memchr(v.ptr, b, v.len) != NULL;
}

static int builtin_start(void *ctx, unsigned char *out, size_t cap, size_t *outlen)
{
    smtpkit_sasl_builtin *b = (smtpkit_sasl_builtin *)ctx;
    const smtpkit_sasl_creds *cr = &b->_creds;
    size_t n = 0;
    int rc = 0;
    static const unsigned char nul = 0, ctl_a = 1;
    *outlen = 0;
    b->_step = 0;
    switch (b->_which) {
    case SMTPKIT_AUTH_PLAIN:
        /* RFC 4616 2: message = [authzid] NUL authcid NUL passwd */
        rc = put(out, cap, &n, cr->authzid.ptr, cr->authzid.len) ||
             put(out, cap, &n, &nul, 1) || put(out, cap, &n, cr->user.ptr, cr->user.len) ||
             put(out, cap, &n, &nul, 1) ||
             put(out, cap, &n, cr->password.ptr, cr->password.len);
        break;
    case SMTPKIT_AUTH_XOAUTH2:
        /* Google's XOAUTH2: "user=" u ^A "auth=Bearer " token ^A ^A */
        rc = put(out, cap, &n, "user=", 5) || put(out, cap, &n, cr->user.ptr, cr->user.len) ||
             put(out, cap, &n, &ctl_a, 1) || put(out, cap, &n, "auth=Bearer ", 12) ||
             put(out, cap, &n, cr->token.ptr, cr->token.len) || put(out, cap, &n, &ctl_a, 1) ||
             put(out, cap, &n, &ctl_a, 1);
        break;
    default:
        /* LOGIN and CRAM-MD5: the server speaks first. */
        return 0;
    }
    if (rc) {
        smtpkit__wipe(out, n);
        return SMTPKIT_ERR_BUFFER_TOO_SMALL;
    }
    *outlen = n;
    return SMTPKIT_SASL_INITIAL;
}

static int builtin_step(void *ctx, const unsigned char *chal, size_t len, unsigned char *out,
                        size_t cap, size_t *outlen)
{
    smtpkit_sasl_builtin *b = (smtpkit_sasl_builtin *)ctx;
    const smtpkit_sasl_creds *cr = &b->_creds;
    unsigned step = b->_step++;
    size_t n = 0;
    *outlen = 0;
    switch (b->_which) {
    case SMTPKIT_AUTH_LOGIN:
        /* The prompts ("Username:", "Password:") vary between servers;
         * the order does not. */
        if (step == 0 && put(out, cap, &n, cr->user.ptr, cr->user.len) == 0)
            break;
        if (step == 1 && put(out, cap, &n, cr->password.ptr, cr->password.len) == 0)
            break;
        return step < 2 ? SMTPKIT_ERR_BUFFER_TOO_SMALL : SMTPKIT_ERR_PROTOCOL;
    case SMTPKIT_AUTH_CRAM_MD5: {
        /* RFC 2195 2: user SP hex(HMAC-MD5(password, challenge)), lower case */
        static const char hex[] = "0123456789abcdef";
        unsigned char d[SMTPKIT__MD5_DIGEST];
        size_t i;
        if (step != 0 || len == 0)
            return SMTPKIT_ERR_PROTOCOL;
        if (cr->user.len + 1 + 2 * SMTPKIT__MD5_DIGEST > cap)
            return SMTPKIT_ERR_BUFFER_TOO_SMALL;
        smtpkit__hmac_md5(cr->password.ptr, cr->password.len, chal, len, d);
        put(out, cap, &n, cr->user.ptr, cr->user.len);
        out[n++] = ' ';
        for (i = 0; i < sizeof d; i++) {
            out[n++] = (unsigned char)hex[d[i] >> 4];
            out[n++] = (unsigned char)hex[d[i] & 15];
        }
        smtpkit__wipe(d, sizeof d);
        break;
    }
    case SMTPKIT_AUTH_XOAUTH2:
        /* A challenge after the initial response carries the server's JSON
         * error; the client answers with an empty response and the server
         * then sends the final failure. */
        if (step != 0)
            return SMTPKIT_ERR_PROTOCOL;
        break;
    default:
        /* PLAIN sent everything in its initial response. */
        return SMTPKIT_ERR_PROTOCOL;
    }
    *outlen = n;
    return 0;
}

static void builtin_finish(void *ctx)
{
    ((smtpkit_sasl_builtin *)ctx)->_step = 0;
}

int smtpkit_sasl_builtin_init(smtpkit_sasl_mech *mech, smtpkit_sasl_builtin *state,
                              unsigned which, const smtpkit_sasl_creds *creds)
{
    const char *name = smtpkit_sasl_mech_name(which);
    if (!mech || !state || !creds)
        return SMTPKIT_ERR_INVALID_ARG;
    if (!name)
        return SMTPKIT_ERR_NOT_SUPPORTED;
    if (!creds->user.len || !creds->user.ptr)
        return SMTPKIT_ERR_INVALID_ARG;
    if (which == SMTPKIT_AUTH_XOAUTH2) {
        if (!creds->token.len || !creds->token.ptr || has_byte(creds->user, 1) ||
            has_byte(creds->token, 1))
            return SMTPKIT_ERR_INVALID_ARG;
    } else {
        if (!creds->password.len || !creds->password.ptr)
            return SMTPKIT_ERR_INVALID_ARG;
    }
    if (which == SMTPKIT_AUTH_PLAIN &&
        (has_byte(creds->authzid, 0) || has_byte(creds->user, 0) || has_byte(creds->password, 0)))
        return SMTPKIT_ERR_INVALID_ARG;
    /* The server splits the CRAM-MD5 response at its last space. */
    if (which == SMTPKIT_AUTH_CRAM_MD5 && (has_byte(creds->user, 0) || has_byte(creds->user, ' ')))
        return SMTPKIT_ERR_INVALID_ARG;
    state->_creds = *creds;
    state->_which = which;
    state->_step = 0;
    mech->name = name;
    mech->flags = which == SMTPKIT_AUTH_CRAM_MD5 ? 0u : (unsigned)SMTPKIT_SASL_MECH_PLAINTEXT;
    mech->start = builtin_start;
    mech->step = builtin_step;
    mech->finish = builtin_finish;
    mech->ctx = state;
    return 0;
}

/* ---------------------------------------------------------------- exchange */

void smtpkit_sasl_client_init(smtpkit_sasl_client *c, const smtpkit_sasl_mech *mech)
{
    memset(c, 0, sizeof *c);
    c->_mech = mech;
    c->_state = C_INIT;
}

static int valid_mech_name(const char *name)
{
    size_t i;
    if (!name)
        return 0;
    /* RFC 4422 3.1: sasl-mech = 1*20mech-char; A-Z 0-9 - _ */
    for (i = 0; name[i]; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (i >= 20 || !((ch >= 'A' && ch <= 'Z') || smtpkit__is_digit(ch) || ch == '-' ||
                         ch == '_'))
            return 0;
    }
    return i > 0;
}

/*
 * The response is built in the caller's output buffer and base64-encoded in
 * place, so no second response buffer is needed: raw bytes sit at out[p0..)
 * and 4-byte groups are written from out[dst] onwards. Group g overwrites
 * out[dst+4g .. dst+4g+3], while the next unread input starts at p0+3(g+1);
 * with p0 - dst >= ceil(r/3) writes never overtake reads.
 */
typedef struct region {
    size_t dst, p0, rawcap;
} region;

static region make_region(size_t dst, size_t cap, size_t tail)
{
    region r;
    size_t avail = cap > dst + tail ? cap - dst - tail : 0;
    r.dst = dst;
    r.rawcap = (avail / 4) * 3;
    r.p0 = dst + avail / 4;
    return r;
}

static size_t encode_in_place(char *out, const region *rg, size_t r)
{
    size_t i, o = rg->dst;
    unsigned char t[3];
    for (i = 0; i < r; i += 3) {
        size_t k = r - i < 3 ? r - i : 3;
        memcpy(t, out + rg->p0 + i, k);
        smtpkit_base64_encode(t, k, out + o, 4);
        o += 4;
    }
    smtpkit__wipe(t, sizeof t);
    return o - rg->dst;
}

/* Wipe raw bytes the encoding did not overwrite: they may be a password. */
static void wipe_tail(char *out, size_t end, const region *rg, size_t r)
{
    if (rg->p0 + r > end)
        smtpkit__wipe(out + end, rg->p0 + r - end);
}

static smtpkit_ssize fail(smtpkit_sasl_client *c, int err)
{
    c->_state = C_ERROR;
    smtpkit__wipe(c->_raw, sizeof c->_raw);
    c->_rawlen = 0;
    c->_deferred = 0;
    return err;
}

smtpkit_ssize smtpkit_sasl_client_start(smtpkit_sasl_client *c, char *out, size_t cap)
{
    const smtpkit_sasl_mech *m;
    size_t nlen, pre, r = 0, n;
    region rg;
    int rc;
    if (!c || !out || !c->_mech || !c->_mech->start || !c->_mech->step ||
        !valid_mech_name(c->_mech->name))
        return SMTPKIT_ERR_INVALID_ARG;
    if (c->_state != C_INIT)
        return SMTPKIT_ERR_STATE;
    m = c->_mech;
    nlen = strlen(m->name);
    pre = 5 + nlen; /* "AUTH " name */
    if (cap < pre + 2)
        return fail(c, SMTPKIT_ERR_BUFFER_TOO_SMALL);
    memcpy(out, "AUTH ", 5);
    memcpy(out + 5, m->name, nlen);
    /* Room for " ", the base64 text (at least "=") and CRLF. */
    rg = make_region(pre + 1, cap, 2);
    rc = m->start(m->ctx, (unsigned char *)out + rg.p0, rg.rawcap, &r);
    if (rc < 0) {
        smtpkit__wipe(out + rg.p0, rg.rawcap);
        return fail(c, rc);
    }
    c->_state = C_WAIT;
    c->_steps = 0;
    if (rc != SMTPKIT_SASL_INITIAL) {
        out[pre] = '\r';
        out[pre + 1] = '\n';
        return (smtpkit_ssize)(pre + 2);
    }
    if (r > rg.rawcap) /* a mechanism that ignored cap */
        return fail(c, SMTPKIT_ERR_INTERNAL);
    /* RFC 4954 4: an initial response that would push the AUTH line past the
     * 512-octet limit is sent after an empty 334 instead. */
    if (pre + 1 + SMTPKIT_MAX(SMTPKIT_BASE64_ENCODED_LEN(r), 1) + 2 > SMTPKIT_COMMAND_LINE_MAX) {
        if (r > SMTPKIT_SASL_MAX) {
            smtpkit__wipe(out + rg.p0, r);
            return fail(c, SMTPKIT_ERR_BUFFER_TOO_SMALL);
        }
        memcpy(c->_raw, out + rg.p0, r);
        smtpkit__wipe(out + rg.p0, r);
        c->_rawlen = r;
        c->_deferred = 1;
        out[pre] = '\r';
        out[pre + 1] = '\n';
        return (smtpkit_ssize)(pre + 2);
    }
    if (r == 0 && cap < pre + 4)
        return fail(c, SMTPKIT_ERR_BUFFER_TOO_SMALL);
    out[pre] = ' ';
    if (r == 0) {
        out[pre + 1] = '='; /* RFC 4954 4: "=" is an empty initial response */
        n = pre + 2;
    } else {
        n = pre + 1 + encode_in_place(out, &rg, r);
        wipe_tail(out, n + 2, &rg, r);
    }
    out[n] = '\r';
    out[n + 1] = '\n';
    return (smtpkit_ssize)(n + 2);
}

/* Exact decoded length of canonical base64, or (size_t)-1 when the length
 * cannot be base64 (strict decoding rejects it anyway). */
static size_t b64_decoded_len(const char *s, size_t n)
{
    size_t pad = 0;
    if (n % 4)
        return (size_t)-1;
    if (n && s[n - 1] == '=')
        pad++;
    if (n > 1 && s[n - 2] == '=')
        pad++;
    return n / 4 * 3 - pad;
}

smtpkit_ssize smtpkit_sasl_client_step(smtpkit_sasl_client *c, const char *challenge, size_t len,
                                       char *out, size_t cap)
{
    const smtpkit_sasl_mech *m;
    region rg;
    size_t r = 0, n, dl;
    smtpkit_ssize d;
    int rc;
    if (!c || !out || (!challenge && len))
        return SMTPKIT_ERR_INVALID_ARG;
    if (c->_state != C_WAIT)
        return SMTPKIT_ERR_STATE;
    m = c->_mech;
    while (len && (challenge[len - 1] == ' ' || challenge[len - 1] == '\t'))
        len--;
    if (cap < 2)
        return fail(c, SMTPKIT_ERR_BUFFER_TOO_SMALL);
    /* Bound the exchange: no built-in mechanism needs more than two steps,
     * and a server must not keep a client in a loop. */
    if (++c->_steps > 16)
        return fail(c, SMTPKIT_ERR_PROTOCOL);
    rg = make_region(0, cap, 2);
    if (c->_deferred) {
        /* RFC 4422 5 / RFC 2222 5.1: the server asks for the initial
         * response with an empty challenge. */
        if (len != 0)
            return fail(c, SMTPKIT_ERR_PROTOCOL);
        if (c->_rawlen > rg.rawcap)
            return fail(c, SMTPKIT_ERR_BUFFER_TOO_SMALL);
        r = c->_rawlen;
        memcpy(out + rg.p0, c->_raw, r);
        smtpkit__wipe(c->_raw, r);
        c->_rawlen = 0;
        c->_deferred = 0;
    } else {
        dl = b64_decoded_len(challenge, len);
        if (dl == (size_t)-1)
            return fail(c, SMTPKIT_ERR_BASE64);
        if (dl > SMTPKIT_SASL_MAX)
            return fail(c, SMTPKIT_ERR_BUFFER_TOO_SMALL);
        d = 0;
        if (len) {
            d = smtpkit_base64_decode(challenge, len, c->_raw, sizeof c->_raw);
            if (d < 0)
                return fail(c, d == SMTPKIT_ERR_BUFFER_TOO_SMALL ? d : SMTPKIT_ERR_BASE64);
        }
        rc = m->step(m->ctx, c->_raw, (size_t)d, (unsigned char *)out + rg.p0, rg.rawcap, &r);
        smtpkit__wipe(c->_raw, (size_t)d);
        if (rc < 0) {
            smtpkit__wipe(out + rg.p0, rg.rawcap);
            return fail(c, rc);
        }
        if (r > rg.rawcap)
            return fail(c, SMTPKIT_ERR_INTERNAL);
    }
    n = encode_in_place(out, &rg, r);
    wipe_tail(out, n + 2, &rg, r);
    out[n] = '\r';
    out[n + 1] = '\n';
    return (smtpkit_ssize)(n + 2);
}

smtpkit_ssize smtpkit_sasl_client_cancel(smtpkit_sasl_client *c, char *out, size_t cap)
{
    if (!out)
        return SMTPKIT_ERR_INVALID_ARG;
    if (cap < 3)
        return SMTPKIT_ERR_BUFFER_TOO_SMALL;
    if (c) {
        c->_state = C_ERROR;
        smtpkit__wipe(c->_raw, sizeof c->_raw);
        c->_rawlen = 0;
        c->_deferred = 0;
    }
    memcpy(out, "*\r\n", 3);
    return 3;
}

void smtpkit_sasl_client_finish(smtpkit_sasl_client *c)
{
    if (!c)
        return;
    smtpkit__wipe(c->_raw, sizeof c->_raw);
    c->_rawlen = 0;
    c->_deferred = 0;
    if (c->_state != C_DONE && c->_mech && c->_mech->finish)
        c->_mech->finish(c->_mech->ctx);
    c->_state = C_DONE;
}
