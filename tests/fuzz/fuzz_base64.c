/* Fuzz target for base64.
 *
 * Input: 2 option bytes, then the data.
 *   byte 0: bits 0-1 wrap (0, 76, 4, 64), bits 2-7 streaming output buffer
 *   byte 1: split point (as a fraction of the data length)
 * Checks, aborting on any difference:
 *   - one-shot encode then strict decode gives the data back;
 *   - the streaming encoder, fed in two pieces into a small buffer, gives the
 *     one-shot encoding with a CRLF after every `wrap` characters;
 *   - the streaming decoder, fed that in two pieces, gives the data back;
 *   - the data taken as base64 text: the streaming decoder (which skips CR,
 *     LF, space and tab) and the strict decoder on the text without those
 *     characters agree on success and on the bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Streaming decode of `in` cut at `cut`; returns the length or -1. */
static smtpkit_ssize stream_decode(const char *in, size_t n, size_t cut, unsigned char *out)
{
    smtpkit_base64_decoder d;
    smtpkit_ssize a, b;
    smtpkit_base64_decoder_init(&d);
    a = smtpkit_base64_decoder_update(&d, in, cut, out, SMTPKIT_BASE64_DECODED_MAX(cut) + 3);
    if (a < 0)
        return -1;
    b = smtpkit_base64_decoder_update(&d, in + cut, n - cut, out + a,
                                      SMTPKIT_BASE64_DECODED_MAX(n - cut) + 3);
    if (b < 0 || smtpkit_base64_decoder_finish(&d) != 0)
        return -1;
    return a + b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned wraps[4] = {0, 76, 4, 64};
    const unsigned char *in;
    size_t n, cut, flen, wlen = 0, i, off;
    unsigned wrap;
    char *flat, *wrapped, *stream, *ob;
    unsigned char *back;
    size_t cap, slen = 0;
    smtpkit_base64_encoder e;
    smtpkit_ssize r;

    if (size < 2)
        return 0;
    in = data + 2;
    n = size - 2;
    wrap = wraps[data[0] & 3];
    cap = 6 + (data[0] >> 2);
    cut = n * data[1] / 256;

    flen = SMTPKIT_BASE64_ENCODED_LEN(n);
    flat = (char *)malloc(flen + 1);
    wrapped = (char *)malloc(flen + 2 * (flen / 4 + 1) + 1);
    stream = (char *)malloc(flen + 2 * (flen / 4 + 1) + 8);
    back = (unsigned char *)malloc(n + 8);
    ob = (char *)malloc(cap);

    /* one shot */
    if (smtpkit_base64_encode(in, n, flat, flen) != (smtpkit_ssize)flen)
        abort();
    if (flen && smtpkit_base64_encode(in, n, flat, flen - 1) != SMTPKIT_ERR_BUFFER_TOO_SMALL)
        abort();
    if (smtpkit_base64_decode(flat, flen, back, n) != (smtpkit_ssize)n ||
        memcmp(back, in, n) != 0)
        abort();

    /* the wrapped reference */
    for (i = 0; i < flen; i++) {
        wrapped[wlen++] = flat[i];
        if (wrap && (i + 1) % wrap == 0) {
            wrapped[wlen++] = '\r';
            wrapped[wlen++] = '\n';
        }
    }
    if (wrap && flen % wrap) {
        wrapped[wlen++] = '\r';
        wrapped[wlen++] = '\n';
    }

    /* streaming encoder, two pieces, small output buffer */
    smtpkit_base64_encoder_init(&e, wrap);
    for (off = 0; off < n;) {
        size_t stop = off < cut ? cut : n, olen = 0, used;
        used = smtpkit_base64_encoder_update(&e, in + off, stop - off, ob, cap, &olen);
        if ((!used && !olen) || olen > cap || slen + olen > wlen)
            abort();
        memcpy(stream + slen, ob, olen);
        slen += olen;
        off += used;
    }
    r = smtpkit_base64_encoder_finish(&e, stream + slen, SMTPKIT_BASE64_FINISH_MAX);
    if (r < 0)
        abort();
    slen += (size_t)r;
    if (slen != wlen || memcmp(stream, wrapped, wlen) != 0)
        abort();

    /* streaming decoder on the wrapped text */
    r = stream_decode(wrapped, wlen, wlen * data[1] / 256, back);
    if (r != (smtpkit_ssize)n || memcmp(back, in, n) != 0)
        abort();

    /* arbitrary text: streaming == strict on the text without whitespace */
    {
        char *stripped = (char *)malloc(n + 1);
        unsigned char *b1 = (unsigned char *)malloc(n + 8), *b2 = (unsigned char *)malloc(n + 8);
        size_t sl = 0;
        smtpkit_ssize r1, r2;
        for (i = 0; i < n; i++) {
            if (in[i] != '\r' && in[i] != '\n' && in[i] != ' ' && in[i] != '\t')
                stripped[sl++] = (char)in[i];
        }
        r1 = smtpkit_base64_decode(stripped, sl, b1, n + 8);
        r2 = stream_decode((const char *)in, n, cut, b2);
        if ((r1 >= 0) != (r2 >= 0) || (r1 >= 0 && (r1 != r2 || memcmp(b1, b2, (size_t)r1) != 0)))
            abort();
        free(stripped);
        free(b1);
        free(b2);
    }
    free(flat);
    free(wrapped);
    free(stream);
    free(back);
    free(ob);
    return 0;
}
