/* Base64 (RFC 4648 4): one-shot strict encode/decode for AUTH (RFC 4954
 * requires exact base64 there) and streaming for MIME bodies (RFC 2045 6.8:
 * lines of at most 76 characters; decoders ignore line breaks). */
#include "internal.h"
#include "smtpkit/base64.h"

static const char b64_alphabet[64] = {
    'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P',
    'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'a', 'b', 'c', 'd', 'e', 'f',
    'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v',
    'w', 'x', 'y', 'z', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '+', '/'};

/* Decoding classes besides 0..63. */
#define B64_BAD 0x40
#define B64_PAD 0x41
#define B64_SPACE 0x42

/* RFC 4648 4 alphabet; '=' is padding; CR, LF, space and tab are skipped by
 * the streaming decoder (RFC 2045 6.8) and refused by the strict one. */
static const unsigned char b64_value[256] = {
#define X B64_BAD
    X, X, X, X, X, X, X, X, X, B64_SPACE, B64_SPACE, X, X, B64_SPACE, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    B64_SPACE, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, B64_PAD, X, X,
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
    X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X
#undef X
};

/* Encode `groups` full 3-byte groups from `in` into 4*groups characters. */
static void encode_groups(const unsigned char *in, size_t groups, char *out)
{
    size_t g;
    for (g = 0; g < groups; g++, in += 3, out += 4) {
        uint32_t v = ((uint32_t)in[0] << 16) | ((uint32_t)in[1] << 8) | in[2];
        out[0] = b64_alphabet[v >> 18];
        out[1] = b64_alphabet[(v >> 12) & 63];
        out[2] = b64_alphabet[(v >> 6) & 63];
        out[3] = b64_alphabet[v & 63];
    }
}

/* Encode the last 1 or 2 bytes with "=" padding into 4 characters. */
static void encode_tail(const unsigned char *in, size_t n, char *out)
{
    uint32_t v = (uint32_t)in[0] << 16;
    if (n > 1)
        v |= (uint32_t)in[1] << 8;
    out[0] = b64_alphabet[v >> 18];
    out[1] = b64_alphabet[(v >> 12) & 63];
    out[2] = n > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
    out[3] = '=';
}

smtpkit_ssize smtpkit_base64_encode(const void *in, size_t len, char *out, size_t outcap)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t groups = len / 3, rest = len % 3, need;
    if ((!in && len) || (!out && outcap))
        return SMTPKIT_ERR_INVALID_ARG;
    if (groups >= (size_t)PTRDIFF_MAX / 4 - 1)
        return SMTPKIT_ERR_BUFFER_TOO_SMALL; /* the length would not fit the result */
    need = (groups + (rest ? 1 : 0)) * 4;
    if (outcap < need)
        return SMTPKIT_ERR_BUFFER_TOO_SMALL;
    encode_groups(p, groups, out);
    if (rest)
        encode_tail(p + groups * 3, rest, out + groups * 4);
    return (smtpkit_ssize)need;
}

smtpkit_ssize smtpkit_base64_decode(const char *in, size_t len, void *out, size_t outcap)
{
    const unsigned char *p = (const unsigned char *)in;
    unsigned char *o = (unsigned char *)out;
    size_t quads, q, pad = 0, need;
    unsigned a, b, c, d;

    if ((!in && len) || (!out && outcap))
        return SMTPKIT_ERR_INVALID_ARG;
    /* RFC 4648 3.2: padded input is a whole number of 4-character quanta. */
    if (len % 4)
        return SMTPKIT_ERR_BASE64;
    if (len == 0)
        return 0;
    if (p[len - 1] == '=')
        pad = p[len - 2] == '=' ? 2 : 1;
    quads = len / 4;
    need = quads * 3 - pad;
    if (outcap < need)
        return SMTPKIT_ERR_BUFFER_TOO_SMALL;
    for (q = 0; q + 1 < quads; q++, p += 4, o += 3) {
        a = b64_value[p[0]];
        b = b64_value[p[1]];
        c = b64_value[p[2]];
        d = b64_value[p[3]];
        if ((a | b | c | d) & 0xc0)
            return SMTPKIT_ERR_BASE64;
        o[0] = (unsigned char)((a << 2) | (b >> 4));
        o[1] = (unsigned char)((b << 4) | (c >> 2));
        o[2] = (unsigned char)((c << 6) | d);
    }
    /* The last quantum may carry padding. */
    a = b64_value[p[0]];
    b = b64_value[p[1]];
    c = pad == 2 ? 0 : b64_value[p[2]];
    d = pad ? 0 : b64_value[p[3]];
    if ((a | b | c | d) & 0xc0)
        return SMTPKIT_ERR_BASE64;
    /* RFC 4648 3.5: the bits after the last encoded byte must be zero;
     * accepting others would make several encodings decode alike. */
    if ((pad == 2 && (b & 0x0f)) || (pad == 1 && (c & 0x03)))
        return SMTPKIT_ERR_BASE64;
    o[0] = (unsigned char)((a << 2) | (b >> 4));
    if (pad < 2)
        o[1] = (unsigned char)((b << 4) | (c >> 2));
    if (pad < 1)
        o[2] = (unsigned char)((c << 6) | d);
    return (smtpkit_ssize)need;
}

/* ------------------------------------------------------------------------ */

void smtpkit_base64_encoder_init(smtpkit_base64_encoder *e, unsigned wrap)
{
    if (!e)
        return;
    memset(e, 0, sizeof *e);
    /* Lines hold whole 4-character groups. */
    e->_wrap = wrap ? (wrap < 4 ? 4u : wrap / 4 * 4) : 0;
}

size_t smtpkit_base64_encoder_update(smtpkit_base64_encoder *e, const void *in, size_t inlen,
                                     char *out, size_t outcap, size_t *outlen)
{
    const unsigned char *ip = (const unsigned char *)in;
    size_t i = 0, o = 0;

    if (outlen)
        *outlen = 0;
    if (!e || !outlen || (!in && inlen) || (!out && outcap))
        return 0;
    for (;;) {
        size_t avail = inlen - i, room = outcap - o, g;
        if (e->_npend + avail < 3) {
            if (avail)
                memcpy(e->_pend + e->_npend, ip + i, avail);
            e->_npend += (unsigned)avail;
            i = inlen;
            break;
        }
        if (room < 4 + ((e->_wrap && e->_col + 4 >= e->_wrap) ? 2u : 0u))
            break;
        if (e->_npend) {
            size_t take = 3 - e->_npend;
            memcpy(e->_pend + e->_npend, ip + i, take);
            i += take;
            e->_npend = 0;
            encode_groups(e->_pend, 1, out + o);
            g = 1;
        } else {
            g = avail / 3;
            if (g > room / 4)
                g = room / 4;
            if (e->_wrap) {
                size_t left = (e->_wrap - e->_col) / 4; /* groups until the line is full */
                if (g >= left) {
                    g = left;
                    if (room < g * 4 + 2)
                        g--; /* no room for the CRLF: stop one group short */
                }
            }
            encode_groups(ip + i, g, out + o);
            i += g * 3;
        }
        o += g * 4;
        if (e->_wrap) {
            e->_col += (unsigned)(g * 4);
            if (e->_col == e->_wrap) {
                out[o++] = '\r';
                out[o++] = '\n';
                e->_col = 0;
            }
        }
    }
    *outlen = o;
    return i;
}

smtpkit_ssize smtpkit_base64_encoder_finish(smtpkit_base64_encoder *e, char *out, size_t outcap)
{
    size_t n = e && e->_npend ? 4 : 0, col;
    if (!e || (!out && outcap))
        return SMTPKIT_ERR_INVALID_ARG;
    col = e->_col + n;
    if (outcap < n + ((e->_wrap && col) ? 2 : 0))
        return SMTPKIT_ERR_BUFFER_TOO_SMALL;
    if (n)
        encode_tail(e->_pend, e->_npend, out);
    if (e->_wrap && col) {
        /* RFC 2045 6.8: the body ends with a line break like every line. */
        out[n++] = '\r';
        out[n++] = '\n';
    }
    e->_npend = 0;
    e->_col = 0;
    return (smtpkit_ssize)n;
}

/* ------------------------------------------------------------------------ */

void smtpkit_base64_decoder_init(smtpkit_base64_decoder *d)
{
    if (d)
        memset(d, 0, sizeof *d);
}

smtpkit_ssize smtpkit_base64_decoder_update(smtpkit_base64_decoder *d, const char *in,
                                            size_t inlen, void *out, size_t outcap)
{
    const unsigned char *p = (const unsigned char *)in, *end;
    unsigned char *o = (unsigned char *)out;
    unsigned acc, nacc;

    if (!d || (!in && inlen) || (!out && outcap))
        return SMTPKIT_ERR_INVALID_ARG;
    end = inlen ? p + inlen : p; /* NULL + 0 is undefined */
    if (d->_err)
        return d->_err;
    /* At most one 3-byte group per 4 characters, counting the ones held. */
    if (inlen > (size_t)PTRDIFF_MAX / 2 || outcap < SMTPKIT_BASE64_DECODED_MAX(inlen + d->_nacc))
        return SMTPKIT_ERR_BUFFER_TOO_SMALL;
    acc = d->_acc;
    nacc = d->_nacc;
    while (p < end) {
        unsigned v;
        if (nacc == 0 && !d->_npad) {
            /* Whole quanta without line breaks: the common case. */
            while (end - p >= 4) {
                unsigned a = b64_value[p[0]], b = b64_value[p[1]], c = b64_value[p[2]],
                         e = b64_value[p[3]];
                if ((a | b | c | e) & 0xc0)
                    break;
                o[0] = (unsigned char)((a << 2) | (b >> 4));
                o[1] = (unsigned char)((b << 4) | (c >> 2));
                o[2] = (unsigned char)((c << 6) | e);
                o += 3;
                p += 4;
            }
            if (p == end)
                break;
        }
        v = b64_value[*p++];
        if (v < 64) {
            if (d->_npad)
                goto bad; /* data after the padding */
            acc = (acc << 6) | v;
            if (++nacc == 4) {
                o[0] = (unsigned char)(acc >> 16);
                o[1] = (unsigned char)(acc >> 8);
                o[2] = (unsigned char)acc;
                o += 3;
                acc = 0;
                nacc = 0;
            }
        } else if (v == B64_SPACE) {
            continue;
        } else if (v == B64_PAD) {
            if (d->_npad == 0) {
                /* "xx==" or "xxx=": the quantum ends here (RFC 4648 3.2);
                 * the unused bits must be zero (3.5). */
                if (nacc < 2 || (nacc == 2 && (acc & 0x0f)) || (nacc == 3 && (acc & 0x03)))
                    goto bad;
                if (nacc == 2) {
                    *o++ = (unsigned char)(acc >> 4);
                } else {
                    *o++ = (unsigned char)(acc >> 10);
                    *o++ = (unsigned char)(acc >> 2);
                }
                d->_npad = 1;
            } else {
                if (nacc + d->_npad >= 4)
                    goto bad; /* too many '=' */
                d->_npad++;
            }
        } else {
            goto bad;
        }
    }
    d->_acc = acc;
    d->_nacc = nacc;
    return (smtpkit_ssize)(o - (unsigned char *)out);
bad:
    d->_err = SMTPKIT_ERR_BASE64;
    return SMTPKIT_ERR_BASE64;
}

int smtpkit_base64_decoder_finish(smtpkit_base64_decoder *d)
{
    if (!d)
        return SMTPKIT_ERR_INVALID_ARG;
    if (d->_err)
        return d->_err;
    if ((d->_nacc == 0 && d->_npad == 0) || (d->_npad && d->_nacc + d->_npad == 4))
        return 0;
    d->_err = SMTPKIT_ERR_BASE64;
    return SMTPKIT_ERR_BASE64;
}
