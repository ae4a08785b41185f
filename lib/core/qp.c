/* Quoted-printable body encoder (RFC 2045 6.7) and the CRLF normaliser. */
#include "qp.h"

static const char qp_hex[] = "0123456789ABCDEF";

/* RFC 2045 6.7 rule 2: printable ASCII except '=' stands for itself. */
static int qp_literal(unsigned char c) { return c >= 33 && c <= 126 && c != '='; }

size_t smtpkit__qp_encode(smtpkit__qp *q, const unsigned char *in, size_t n, int eof, char *out,
                          size_t cap, size_t *outlen)
{
    static const char from_[] = "From ";
    size_t i = 0, o = 0;
    unsigned col = q->col;

    while (i < n) {
        unsigned char c = in[i];
        size_t tl;
        int enc;

        if (c == '\r' || c == '\n') {
            size_t adv = 1;
            if (c == '\r') {
                if (i + 1 < n)
                    adv = in[i + 1] == '\n' ? 2 : 1;
                else if (!eof)
                    break; /* CRLF split between reads: wait for the LF */
            }
            /* RFC 2045 6.7 rule 4: a line break is a CRLF in the encoding. */
            if (cap - o < 2)
                break;
            out[o++] = '\r';
            out[o++] = '\n';
            col = 0;
            i += adv;
            continue;
        }
        if (c == ' ' || c == '\t') {
            /* Rule 3: white space at the end of an encoded line is encoded,
             * since transports may strip it. */
            if (i + 1 < n)
                enc = in[i + 1] == '\r' || in[i + 1] == '\n';
            else if (eof)
                enc = 1;
            else
                break;
        } else if (!qp_literal(c)) {
            enc = 1;
        } else if (col == 0 && c == '.') {
            /* A lone "." line ends SMTP DATA on transports that forget to
             * dot-stuff; encoding it costs two bytes and removes the risk. */
            enc = 1;
        } else if (col == 0 && c == 'F') {
            /* "From " at a line start is mangled to ">From " by mbox
             * writers (RFC 4155); =46 keeps the text intact. */
            size_t k;
            int need = 0;
            enc = 1;
            for (k = 1; k < 5; k++) {
                if (i + k >= n) {
                    if (eof)
                        enc = 0;
                    else
                        need = 1;
                    break;
                }
                if (in[i + k] != (unsigned char)from_[k]) {
                    enc = 0;
                    break;
                }
            }
            if (need)
                break;
        } else {
            enc = 0;
        }
        tl = enc ? 3 : 1;
        if (col + tl > 75) {
            /* Rule 5: at most 76 characters a line. A soft break "=" needs
             * the 76th column, so only a token right before a hard break
             * (or the end) may end in column 76. */
            unsigned limit = 75;
            if (col + tl == 76) {
                if (i + 1 < n) {
                    if (in[i + 1] == '\r' || in[i + 1] == '\n')
                        limit = 76;
                } else if (eof) {
                    limit = 76;
                } else {
                    break;
                }
            }
            if (col + tl > limit) {
                if (cap - o < 3)
                    break;
                out[o++] = '=';
                out[o++] = '\r';
                out[o++] = '\n';
                col = 0;
                continue; /* the token may encode differently at column 0 */
            }
        }
        if (cap - o < tl)
            break;
        if (enc) {
            out[o++] = '=';
            out[o++] = qp_hex[c >> 4];
            out[o++] = qp_hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
        col += (unsigned)tl;
        i++;
    }
    q->col = col;
    *outlen = o;
    return i;
}

size_t smtpkit__crlf_normalize(const unsigned char *in, size_t n, int eof, char *out, size_t cap,
                               size_t *outlen)
{
    size_t i = 0, o = 0;
    while (i < n) {
        /* Copy the run up to the next CR or LF in one go. */
        size_t j = i, room = cap - o, run;
        while (j < n && in[j] != '\r' && in[j] != '\n')
            j++;
        run = j - i;
        if (run > room)
            run = room;
        memcpy(out + o, in + i, run);
        o += run;
        i += run;
        if (i < j || i == n)
            break;
        if (cap - o < 2)
            break;
        if (in[i] == '\r') {
            if (i + 1 < n) {
                i += in[i + 1] == '\n' ? 2 : 1;
            } else if (eof) {
                i++;
            } else {
                break;
            }
        } else {
            i++;
        }
        out[o++] = '\r';
        out[o++] = '\n';
    }
    *outlen = o;
    return i;
}
