/* Private to the DATA codec (data_decoder.c, data_encoder.c): the fast scan
 * that jumps over ordinary text. Not installed. */
#ifndef SMTPKIT_DATA_SCAN_H
#define SMTPKIT_DATA_SCAN_H

#include <stdint.h>
#include <string.h>

/*
 * First byte in [p, end) that is below 0x0e (this catches CR, LF and NUL,
 * plus the rare controls 0x01-0x0d that the caller simply steps over) or,
 * when `high` is non-zero, at or above 0x80. Returns `end` if there is none.
 *
 * Why not a byte loop: mail text is long runs of printable ASCII between
 * line ends, so the codec tests eight bytes at once. ((w - K) | w) & H has
 * the high bit of a byte set when the byte is < 0x0e or >= 0x80; a borrow
 * can only flag bytes *above* a byte that really matched, so the lowest
 * flagged byte is always a real match (little endian: the first in memory).
 * The whole-word test is exact either way, so other byte orders search the
 * flagged word byte by byte.
 */
static inline const char *smtpkit__data_scan(const char *p, const char *end, int high)
{
    const uint64_t k = 0x0e0e0e0e0e0e0e0eull;
    const uint64_t h = 0x8080808080808080ull;
    while (end - p >= 16) {
        uint64_t w0, w1, m0, m1;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        if (high) {
            m0 = ((w0 - k) | w0) & h;
            m1 = ((w1 - k) | w1) & h;
        } else {
            m0 = (w0 - k) & ~w0 & h;
            m1 = (w1 - k) & ~w1 & h;
        }
        if (m0 | m1) {
            if (!m0) {
                p += 8;
                m0 = m1;
            }
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (__builtin_ctzll(m0) >> 3);
#else
            break; /* the byte loop below finds the match within these 8 bytes */
#endif
        }
        p += 16;
    }
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x0e || (high && c >= 0x80))
            return p;
    }
    return end;
}

#endif /* SMTPKIT_DATA_SCAN_H */
