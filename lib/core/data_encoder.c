/* DATA encoder: message bytes in any chunks -> the DATA stream.
 *
 * RFC 5321 2.3.8: lines end in CRLF, so a bare LF or bare CR in the input is
 * sent as CRLF (a CR at the end of one chunk and an LF at the start of the
 * next are one CRLF). RFC 5321 4.5.2: a "." at the start of a line is
 * doubled. RFC 5321 4.1.1.4: the data ends with CRLF "." CRLF, so a body
 * that does not end with a line end gets one first.
 *
 * Runs of ordinary bytes, and the well-formed CRLFs between them, are found
 * with the word-at-a-time scan of data_scan.h and copied with one memcpy.
 */
#include "data_scan.h"
#include "internal.h"
#include "smtpkit/data.h"

/* RFC 5321 4.5.3.1.6: 1000 octets per text line including CRLF. */
#define TEXT_LINE_CONTENT_MAX (SMTPKIT_TEXT_LINE_MAX > 2 ? SMTPKIT_TEXT_LINE_MAX - 2 : 0)

void smtpkit_data_encoder_init(smtpkit_data_encoder *e, unsigned opts)
{
    if (!e)
        return;
    memset(e, 0, sizeof *e);
    e->_opts = opts;
    e->_bol = 1;
}

unsigned smtpkit_data_encoder_flags(const smtpkit_data_encoder *e) { return e ? e->_flags : 0; }

smtpkit_ssize smtpkit_data_encode(smtpkit_data_encoder *e, const char *in, size_t inlen,
                                  char *out, size_t outcap, size_t *outlen)
{
    const char *ip, *iend;
    char *op, *oend;
    size_t line_len;
    unsigned flags;
    int bol, cr, stuff;

    if (outlen)
        *outlen = 0;
    if (!e || !outlen || (!in && inlen) || (!out && outcap))
        return SMTPKIT_ERR_INVALID_ARG;
    if (e->_finished)
        return SMTPKIT_ERR_STATE;

    /* (NULL + 0 is undefined behaviour in C, hence the conditionals) */
    ip = in;
    iend = inlen ? in + inlen : in;
    op = out;
    oend = outcap ? out + outcap : out;
    stuff = !(e->_opts & SMTPKIT_DATA_ENC_NO_STUFF);
    bol = e->_bol;
    cr = e->_cr;
    flags = e->_flags;
    line_len = e->_line_len;

    while (ip < iend) {
        const char *q, *lim, *run;
        size_t n;
        unsigned char c;

        if (cr) {
            /* The CRLF for this CR is out already; an LF right after it is
             * its second half, anything else makes it a bare CR. */
            cr = 0;
            if (*ip == '\n') {
                ip++;
                continue;
            }
            flags |= SMTPKIT_DATA_SAW_BARE_CR;
        }
        if (bol && *ip == '.' && stuff) {
            /* RFC 5321 4.5.2: the leading dot is doubled. */
            if (oend - op < 2)
                break;
            op[0] = '.';
            op[1] = '.';
            op += 2;
            ip++;
            bol = 0;
            line_len = 1; /* the stuffed dot does not count (4.5.3.1.6) */
            continue;
        }
        n = (size_t)(oend - op);
        if (n == 0)
            break;
        lim = (size_t)(iend - ip) < n ? iend : ip + n;
        /* One run, copied with one memcpy: ordinary bytes and the CRLF line
         * ends between them that need nothing done -- a CR LF pair whose
         * next line does not start with a dot to stuff. Anything else
         * (bare CR or LF, a dot to double, a CRLF at the end of what we
         * can see, 8-bit or control bytes) ends the run and is handled
         * below, one byte at a time. (callgrind: a memcpy per line was a
         * third of the client's instructions per message.) */
        run = ip;
        for (;;) {
            q = smtpkit__data_scan(ip, lim, !(flags & SMTPKIT_DATA_SAW_8BIT));
            if (q != ip) {
                line_len += (size_t)(q - ip);
                if (line_len > TEXT_LINE_CONTENT_MAX)
                    flags |= SMTPKIT_DATA_SAW_LONG_LINE;
                bol = 0;
            }
            ip = q;
            if (lim - q > 2 && q[0] == '\r' && q[1] == '\n' && !(stuff && q[2] == '.')) {
                ip = q + 2;
                bol = 1;
                line_len = 0;
                continue;
            }
            break;
        }
        n = (size_t)(ip - run);
        if (n) {
            memcpy(op, run, n);
            op += n;
        }
        if (ip == lim)
            continue; /* input used up, or the output is full (next round stops) */
        c = (unsigned char)*ip;
        if (c == '\r' || c == '\n') {
            if (oend - op < 2)
                break;
            op[0] = '\r';
            op[1] = '\n';
            op += 2;
            ip++;
            bol = 1;
            line_len = 0;
            if (c == '\r')
                cr = 1;
            else
                flags |= SMTPKIT_DATA_SAW_BARE_LF;
            continue;
        }
        if (c == 0)
            flags |= SMTPKIT_DATA_SAW_NUL;
        else if (c >= 0x80)
            flags |= SMTPKIT_DATA_SAW_8BIT;
        *op++ = (char)c;
        ip++;
        bol = 0;
        if (++line_len > TEXT_LINE_CONTENT_MAX)
            flags |= SMTPKIT_DATA_SAW_LONG_LINE;
    }

    e->_bol = bol;
    e->_cr = cr;
    e->_flags = flags;
    e->_line_len = line_len;
    e->_in_total += (uint64_t)(ip - in);
    *outlen = (size_t)(op - out);
    return (smtpkit_ssize)(ip - in);
}

smtpkit_ssize smtpkit_data_encode_finish(smtpkit_data_encoder *e, char *out, size_t outcap)
{
    size_t n = 0, need;
    int stuff;
    if (!e || (!out && outcap))
        return SMTPKIT_ERR_INVALID_ARG;
    if (e->_finished)
        return SMTPKIT_ERR_STATE;
    stuff = !(e->_opts & SMTPKIT_DATA_ENC_NO_STUFF);
    need = (e->_bol ? 0u : 2u) + (stuff ? 3u : 0u);
    if (outcap < need)
        return SMTPKIT_ERR_BUFFER_TOO_SMALL;
    if (e->_cr)
        e->_flags |= SMTPKIT_DATA_SAW_BARE_CR; /* the input ended on a CR */
    if (!e->_bol) {
        /* RFC 5321 4.1.1.4: the end marker must follow a line end. */
        out[n++] = '\r';
        out[n++] = '\n';
    }
    if (stuff) {
        out[n++] = '.';
        out[n++] = '\r';
        out[n++] = '\n';
    }
    e->_finished = 1;
    e->_bol = 1;
    e->_cr = 0;
    return (smtpkit_ssize)n;
}
