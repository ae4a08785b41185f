/* Fuzz target for the DATA codec.
 *
 * Input: 3 option bytes, then the data.
 *   byte 0: bit 0 NORMALIZE_BARE, bits 1-2 line limit (default, none, 10,
 *           80), bit 3 a callback that pauses every time, bits 4-7 encoder
 *           output buffer size
 *   byte 1, 2: split points (as fractions of the data length)
 * Checks, aborting on any difference:
 *   - the decoder against a byte-at-a-time reference model (data_ref.h),
 *     fed whole and cut at the two split points (paused or not);
 *   - it ends the data exactly where a naive search finds "\r\n.\r\n";
 *   - decode(encode(x)) == x with CRLF-normalised line ends, the end marker
 *     at the very end of the encoding and the flags carried over. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data_ref.h"
#include "smtpkit/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct sink {
    char *p;
    size_t len, cap;
    int pause;
} sink;

static int on_body(void *user, const char *p, size_t n)
{
    sink *s = (sink *)user;
    if (n == 0 || s->len + n > s->cap)
        abort(); /* the decoder never outputs more than twice its input */
    memcpy(s->p + s->len, p, n);
    s->len += n;
    return s->pause ? SMTPKIT_PAUSE : 0;
}

/* Decode `in` cut at cuts[0..ncuts); returns bytes consumed. */
static size_t decode(const char *in, size_t n, const size_t *cuts, size_t ncuts, unsigned opts,
                     int limit, int pause, sink *s, smtpkit_data_decoder *d)
{
    size_t pos = 0, k, consumed = 0;
    s->len = 0;
    s->pause = pause;
    smtpkit_data_decoder_init(d, opts, on_body, s);
    if (limit >= 0)
        smtpkit_data_decoder_set_max_line(d, (size_t)limit);
    for (k = 0; k <= ncuts && !smtpkit_data_decoder_done(d); k++) {
        size_t next = k < ncuts ? cuts[k] : n;
        /* an exact-size copy, so a sanitizer sees any read past the chunk */
        char *chunk = (char *)malloc(next - pos + 1);
        size_t off = 0;
        memcpy(chunk, in + pos, next - pos);
        while (off < next - pos) {
            smtpkit_ssize r = smtpkit_data_decoder_feed(d, chunk + off, next - pos - off);
            if (r < 0)
                abort();
            off += (size_t)r;
            consumed += (size_t)r;
            if (smtpkit_data_decoder_done(d))
                break;
            if (smtpkit_data_decoder_resume(d) != 0 && off != next - pos)
                abort(); /* stopped early without pausing */
        }
        free(chunk);
        pos = next;
    }
    if (pause)
        (void)smtpkit_data_decoder_resume(d);
    return consumed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int limits[4] = {-1, 0, 10, 80};
    const char *in;
    size_t n, cuts[2], consumed, refcap;
    unsigned opts;
    int limit, pause;
    char *refout;
    ref_result ref;
    sink s;
    smtpkit_data_decoder d;

    if (size < 3)
        return 0;
    in = (const char *)data + 3;
    n = size - 3;
    opts = (data[0] & 1) ? SMTPKIT_DATA_NORMALIZE_BARE : 0;
    limit = limits[(data[0] >> 1) & 3];
    pause = (data[0] >> 3) & 1;
    cuts[0] = n * data[1] / 256;
    cuts[1] = n * data[2] / 256;
    if (cuts[1] < cuts[0]) {
        size_t t = cuts[0];
        cuts[0] = cuts[1];
        cuts[1] = t;
    }

    refcap = 2 * n + 8;
    refout = (char *)malloc(refcap);
    s.cap = refcap;
    s.p = (char *)malloc(s.cap);
    ref = ref_decode(in, n, (int)(opts & 1), limit < 0 ? SMTPKIT_TEXT_LINE_MAX : (size_t)limit,
                     refout);
    if (ref.done != (ref_end_of_data(in, n) != 0) ||
        (ref.done && ref.consumed != ref_end_of_data(in, n)))
        abort();

    /* whole, then split (with pauses when asked) */
    consumed = decode(in, n, NULL, 0, opts, limit, 0, &s, &d);
    if (consumed != ref.consumed || smtpkit_data_decoder_done(&d) != ref.done ||
        smtpkit_data_decoder_flags(&d) != ref.flags || s.len != ref.outlen ||
        memcmp(s.p, refout, s.len) != 0 || smtpkit_data_decoder_total(&d) != s.len)
        abort();
    consumed = decode(in, n, cuts, 2, opts, limit, pause, &s, &d);
    if (consumed != ref.consumed || smtpkit_data_decoder_done(&d) != ref.done ||
        smtpkit_data_decoder_flags(&d) != ref.flags || s.len != ref.outlen ||
        memcmp(s.p, refout, s.len) != 0)
        abort();

    /* round trip */
    {
        smtpkit_data_encoder e;
        size_t cap = 2 + (data[0] >> 4) * 5, off = 0, wlen = 0, wcap = 2 * n + 8, normlen;
        char *wire = (char *)malloc(wcap), *norm = (char *)malloc(2 * n + 2);
        char *ob = (char *)malloc(cap);
        smtpkit_ssize r;
        unsigned eflags;
        smtpkit_data_encoder_init(&e, 0);
        while (off < n) {
            size_t stop = off < cuts[0] ? cuts[0] : (off < cuts[1] ? cuts[1] : n), olen;
            r = smtpkit_data_encode(&e, in + off, stop - off, ob, cap, &olen);
            if (r < 0 || (r == 0 && olen == 0) || wlen + olen > wcap)
                abort();
            memcpy(wire + wlen, ob, olen);
            wlen += olen;
            off += (size_t)r;
        }
        if (wlen + SMTPKIT_DATA_ENCODE_FINISH_MAX > wcap)
            abort();
        r = smtpkit_data_encode_finish(&e, wire + wlen, SMTPKIT_DATA_ENCODE_FINISH_MAX);
        if (r < 3)
            abort();
        wlen += (size_t)r;
        if (ref_end_of_data(wire, wlen) != wlen)
            abort();
        normlen = ref_normalise(in, n, norm);
        if (s.cap < wlen * 2) {
            free(s.p);
            s.cap = wlen * 2;
            s.p = (char *)malloc(s.cap);
        }
        consumed = decode(wire, wlen, cuts, 1, 0, -1, pause, &s, &d);
        eflags = smtpkit_data_encoder_flags(&e) &
                 ~(unsigned)(SMTPKIT_DATA_SAW_BARE_CR | SMTPKIT_DATA_SAW_BARE_LF);
        if (consumed != wlen || !smtpkit_data_decoder_done(&d) || s.len != normlen ||
            memcmp(s.p, norm, normlen) != 0 || smtpkit_data_decoder_flags(&d) != eflags)
            abort();
        free(wire);
        free(norm);
        free(ob);
    }
    free(refout);
    free(s.p);
    return 0;
}
