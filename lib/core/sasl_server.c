/* Server side of SMTP AUTH (RFC 4954) for PLAIN (RFC 4616), LOGIN and
 * CRAM-MD5 (RFC 2195): decode, check the shape, hand the credentials to the
 * application, wipe them afterwards. */
#include "internal.h"
#include "md5.h"
#include "smtpkit/base64.h"
#include "smtpkit/sasl.h"

enum { S_IDLE = 0, S_CHALLENGE, S_VERIFY };

/* Canned LOGIN prompts: base64 of "Username:" and "Password:" as every
 * LOGIN client expects them (draft-murchison-sasl-login). */
static const char login_user_b64[] = "VXNlcm5hbWU6";
static const char login_pass_b64[] = "UGFzc3dvcmQ6";

void smtpkit_sasl_server_init(smtpkit_sasl_server *s, unsigned mechs)
{
    memset(s, 0, sizeof *s);
    /* XOAUTH2 needs a token introspection service; not a server mechanism here. */
    s->_allowed = mechs & (SMTPKIT_AUTH_PLAIN | SMTPKIT_AUTH_LOGIN | SMTPKIT_AUTH_CRAM_MD5);
}

static int host_ok(const char *h, size_t n)
{
    size_t i;
    if (!h || n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '@')
            return 0;
    }
    return 1;
}

int smtpkit_sasl_server_set_nonce(smtpkit_sasl_server *s, const void *random, size_t n,
                                  const char *host, size_t hlen)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *r = (const unsigned char *)random;
    size_t i, o = 0, half = n / 2;
    if (!s || !random || n < 8 || n > 64 || !host_ok(host, hlen) ||
        2 * n + 4 + hlen > SMTPKIT_SASL_CHALLENGE_MAX)
        return SMTPKIT_ERR_INVALID_ARG;
    /* RFC 2195 2: the challenge has the form of a msg-id, "<" unique "@"
     * host ">"; RFC 1939's APOP example uses "<process.clock@host>". The
     * unpredictable bytes play both roles. */
    s->_chal[o++] = '<';
    for (i = 0; i < n; i++) {
        if (i == half)
            s->_chal[o++] = '.';
        s->_chal[o++] = hex[r[i] >> 4];
        s->_chal[o++] = hex[r[i] & 15];
    }
    s->_chal[o++] = '@';
    memcpy(s->_chal + o, host, hlen);
    o += hlen;
    s->_chal[o++] = '>';
    s->_chal_len = o;
    return 0;
}

static void reset(smtpkit_sasl_server *s)
{
    smtpkit__wipe(s->_buf, sizeof s->_buf);
    smtpkit__wipe(s->_digest, sizeof s->_digest);
    /* Empty views still point somewhere, so callers may memcmp them. */
    s->_creds.mech = 0;
    s->_creds.authzid.ptr = s->_creds.user.ptr = s->_creds.password.ptr = "";
    s->_creds.authzid.len = s->_creds.user.len = s->_creds.password.len = 0;
    s->_state = S_IDLE;
    s->_mech = 0;
    s->_step = 0;
}

/* Every terminal outcome other than VERIFY ends the exchange. */
static int end(smtpkit_sasl_server *s, int status)
{
    reset(s);
    return status;
}

/* Decode into _buf[at..]. Returns decoded length or a negative status. */
static long decode(smtpkit_sasl_server *s, size_t at, const char *in, size_t len)
{
    size_t pad = 0, dl;
    smtpkit_ssize d;
    if (len == 0)
        return 0;
    if (len % 4)
        return -SMTPKIT_SASL_BAD_BASE64;
    if (in[len - 1] == '=')
        pad++;
    if (len > 1 && in[len - 2] == '=')
        pad++;
    dl = len / 4 * 3 - pad;
    if (dl > SMTPKIT_SASL_SERVER_MAX - at)
        return -SMTPKIT_SASL_TOO_LONG;
    /* _buf has 3 spare bytes, so the decoder's worst-case bound holds. */
    d = smtpkit_base64_decode(in, len, s->_buf + at, sizeof s->_buf - at);
    if (d < 0 || (size_t)d != dl)
        return -SMTPKIT_SASL_BAD_BASE64;
    return (long)d;
}

static int has_nul(const unsigned char *p, size_t n) { return n && memchr(p, 0, n) != NULL; }

static int parse_plain(smtpkit_sasl_server *s, size_t n)
{
    /* RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd,
     * authcid and passwd non-empty, no further NUL. */
    const unsigned char *b = s->_buf;
    const unsigned char *z1 = (const unsigned char *)memchr(b, 0, n), *z2;
    if (!z1)
        return end(s, SMTPKIT_SASL_MALFORMED);
    z2 = (const unsigned char *)memchr(z1 + 1, 0, n - (size_t)(z1 + 1 - b));
    if (!z2 || z2 == z1 + 1 || z2 + 1 == b + n || has_nul(z2 + 1, n - (size_t)(z2 + 1 - b)))
        return end(s, SMTPKIT_SASL_MALFORMED);
    s->_creds.mech = SMTPKIT_AUTH_PLAIN;
    s->_creds.authzid.ptr = (const char *)b;
    s->_creds.authzid.len = (size_t)(z1 - b);
    s->_creds.user.ptr = (const char *)(z1 + 1);
    s->_creds.user.len = (size_t)(z2 - z1 - 1);
    s->_creds.password.ptr = (const char *)(z2 + 1);
    s->_creds.password.len = n - (size_t)(z2 + 1 - b);
    s->_state = S_VERIFY;
    return SMTPKIT_SASL_VERIFY;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = smtpkit__lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int parse_cram(smtpkit_sasl_server *s, size_t n)
{
    /* RFC 2195 2: user SP digest, digest = 32 hex digits (lower case on the
     * wire; upper case accepted). The user name may hold spaces of its own,
     * so split at the last one. */
    const unsigned char *b = s->_buf;
    size_t sp, i;
    if (n < 2 + 32 || b[n - 33] != ' ')
        return end(s, SMTPKIT_SASL_MALFORMED);
    sp = n - 33;
    for (i = 0; i < 16; i++) {
        int hi = hexval(b[sp + 1 + 2 * i]), lo = hexval(b[sp + 2 + 2 * i]);
        if (hi < 0 || lo < 0)
            return end(s, SMTPKIT_SASL_MALFORMED);
        s->_digest[i] = (unsigned char)(hi << 4 | lo);
    }
    if (has_nul(b, sp))
        return end(s, SMTPKIT_SASL_MALFORMED);
    s->_creds.mech = SMTPKIT_AUTH_CRAM_MD5;
    s->_creds.user.ptr = (const char *)b;
    s->_creds.user.len = sp;
    s->_state = S_VERIFY;
    return SMTPKIT_SASL_VERIFY;
}

/* LOGIN: step 0 receives the user name into _buf[0..), step 1 the password
 * right after it. */
static int login_part(smtpkit_sasl_server *s, const char *in, size_t len)
{
    size_t at = s->_step == 0 ? 0 : s->_creds.user.len;
    long d = decode(s, at, in, len);
    if (d < 0)
        return end(s, (int)-d);
    if (d == 0 || has_nul(s->_buf + at, (size_t)d))
        return end(s, SMTPKIT_SASL_MALFORMED);
    if (s->_step == 0) {
        s->_creds.user.ptr = (const char *)s->_buf;
        s->_creds.user.len = (size_t)d;
        s->_step = 1;
        s->_state = S_CHALLENGE;
        return SMTPKIT_SASL_CHALLENGE;
    }
    s->_creds.mech = SMTPKIT_AUTH_LOGIN;
    s->_creds.password.ptr = (const char *)s->_buf + at;
    s->_creds.password.len = (size_t)d;
    s->_state = S_VERIFY;
    return SMTPKIT_SASL_VERIFY;
}

static int respond(smtpkit_sasl_server *s, const char *in, size_t len)
{
    long d;
    switch (s->_mech) {
    case SMTPKIT_AUTH_LOGIN:
        return login_part(s, in, len);
    case SMTPKIT_AUTH_PLAIN:
        d = decode(s, 0, in, len);
        return d < 0 ? end(s, (int)-d) : parse_plain(s, (size_t)d);
    default: /* CRAM-MD5 */
        d = decode(s, 0, in, len);
        return d < 0 ? end(s, (int)-d) : parse_cram(s, (size_t)d);
    }
}

int smtpkit_sasl_server_start(smtpkit_sasl_server *s, const char *mech, size_t mech_len,
                              const char *ir, size_t ir_len, int has_ir)
{
    unsigned which;
    if (!s || (!mech && mech_len) || (has_ir && !ir && ir_len))
        return SMTPKIT_ERR_INVALID_ARG;
    if (s->_state != S_IDLE)
        return SMTPKIT_ERR_STATE;
    reset(s);
    which = smtpkit_sasl_mech_from_name(mech, mech_len);
    if (!which || !(which & s->_allowed))
        return SMTPKIT_SASL_UNKNOWN_MECH;
    if (which == SMTPKIT_AUTH_CRAM_MD5 && s->_chal_len == 0)
        return SMTPKIT_ERR_STATE;
    s->_mech = which;
    if (!has_ir) {
        /* PLAIN without an initial response gets an empty challenge
         * (RFC 4954 4); LOGIN asks for the user, CRAM-MD5 sends its nonce. */
        s->_state = S_CHALLENGE;
        return SMTPKIT_SASL_CHALLENGE;
    }
    /* RFC 4954 4: an initial response to a mechanism where the server
     * speaks first is answered with 501. */
    if (which == SMTPKIT_AUTH_CRAM_MD5)
        return end(s, SMTPKIT_SASL_MALFORMED);
    /* "=" is the empty initial response. */
    if (ir_len == 1 && ir[0] == '=')
        ir_len = 0;
    else if (ir_len == 0)
        return end(s, SMTPKIT_SASL_MALFORMED);
    /* A LOGIN initial response carries the user name (as Outlook and
     * others send it); the exchange goes on with the password prompt. */
    return respond(s, ir, ir_len);
}

int smtpkit_sasl_server_step(smtpkit_sasl_server *s, const char *line, size_t len)
{
    if (!s || (!line && len))
        return SMTPKIT_ERR_INVALID_ARG;
    if (s->_state != S_CHALLENGE)
        return SMTPKIT_ERR_STATE;
    /* RFC 4954 4: "*" cancels; the server answers 501. */
    if (len == 1 && line[0] == '*')
        return end(s, SMTPKIT_SASL_CANCELLED);
    return respond(s, line, len);
}

smtpkit_ssize smtpkit_sasl_server_challenge(const smtpkit_sasl_server *s, char *out, size_t cap)
{
    const char *fixed = NULL;
    if (!s || !out)
        return SMTPKIT_ERR_INVALID_ARG;
    if (s->_state != S_CHALLENGE)
        return SMTPKIT_ERR_STATE;
    switch (s->_mech) {
    case SMTPKIT_AUTH_LOGIN:
        fixed = s->_step == 0 ? login_user_b64 : login_pass_b64;
        break;
    case SMTPKIT_AUTH_PLAIN:
        return 0;
    default:
        return smtpkit_base64_encode(s->_chal, s->_chal_len, out, cap);
    }
    if (cap < 12)
        return SMTPKIT_ERR_BUFFER_TOO_SMALL;
    memcpy(out, fixed, 12);
    return 12;
}

const smtpkit_sasl_server_creds *smtpkit_sasl_server_get_creds(const smtpkit_sasl_server *s)
{
    return s && s->_state == S_VERIFY ? &s->_creds : NULL;
}

/* Compare without an early exit, so the time taken does not tell an
 * attacker how many leading bytes were right. */
static int ct_equal(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    unsigned diff = (unsigned)(alen != blen);
    size_t i;
    for (i = 0; i < alen; i++)
        diff |= (unsigned)(a[i] ^ (i < blen ? b[i] : 0));
    return diff == 0;
}

int smtpkit_sasl_server_verify_password(const smtpkit_sasl_server *s, const char *password,
                                        size_t len)
{
    if (!s || (!password && len))
        return SMTPKIT_ERR_INVALID_ARG;
    if (s->_state != S_VERIFY)
        return SMTPKIT_ERR_STATE;
    if (s->_mech == SMTPKIT_AUTH_CRAM_MD5) {
        unsigned char d[SMTPKIT__MD5_DIGEST];
        int ok;
        smtpkit__hmac_md5(password, len, s->_chal, s->_chal_len, d);
        ok = ct_equal(d, sizeof d, s->_digest, sizeof s->_digest);
        smtpkit__wipe(d, sizeof d);
        return ok ? 0 : SMTPKIT_ERR_AUTH;
    }
    return ct_equal((const unsigned char *)s->_creds.password.ptr, s->_creds.password.len,
                    (const unsigned char *)password, len)
               ? 0
               : SMTPKIT_ERR_AUTH;
}

void smtpkit_sasl_server_finish(smtpkit_sasl_server *s)
{
    if (!s)
        return;
    reset(s);
    /* A CRAM-MD5 nonce is good for one exchange only (RFC 2195 2). */
    smtpkit__wipe(s->_chal, sizeof s->_chal);
    s->_chal_len = 0;
}
