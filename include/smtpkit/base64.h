/**
 * @file base64.h
 * @brief Base64 (RFC 4648 4) one-shot and streaming, for AUTH and MIME.
 */
#ifndef SMTPKIT_BASE64_H
#define SMTPKIT_BASE64_H

#include "smtpkit/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Encoded length of `n` bytes without line breaks. */
#define SMTPKIT_BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/** Upper bound on the decoded length of `n` base64 characters. */
#define SMTPKIT_BASE64_DECODED_MAX(n) ((((n) + 3) / 4) * 3)

/**
 * Encode `len` bytes into `out` (no line breaks, padded, not NUL-terminated).
 * @return bytes written, or SMTPKIT_ERR_BUFFER_TOO_SMALL when outcap <
 *         SMTPKIT_BASE64_ENCODED_LEN(len).
 */
SMTPKIT_API smtpkit_ssize smtpkit_base64_encode(const void *in, size_t len, char *out,
                                                size_t outcap);

/**
 * Decode strictly (canonical padding required; no whitespace, no other
 * characters). @return bytes written, SMTPKIT_ERR_BASE64 on invalid input,
 * SMTPKIT_ERR_BUFFER_TOO_SMALL.
 */
SMTPKIT_API smtpkit_ssize smtpkit_base64_decode(const char *in, size_t len, void *out,
                                                size_t outcap);

/** Streaming encoder with optional line wrapping (MIME: 76 and CRLF). */
typedef struct smtpkit_base64_encoder {
    unsigned char _pend[3];
    unsigned _npend;
    unsigned _col;
    unsigned _wrap;   /* 0 = no wrapping */
} smtpkit_base64_encoder;

/** Initialise; `wrap` is the line length (multiple of 4, e.g. 76) or 0 for none. */
SMTPKIT_API void smtpkit_base64_encoder_init(smtpkit_base64_encoder *e, unsigned wrap);

/**
 * Encode as much of `in` as fits in `out`.
 * @param e      the encoder
 * @param in     bytes to encode
 * @param inlen  bytes at `in`
 * @param out    where the base64 text goes (not NUL-terminated)
 * @param outcap room at `out`
 * @param[out] outlen bytes written
 * @return bytes of input consumed (may be less than inlen when out is full).
 */
SMTPKIT_API size_t smtpkit_base64_encoder_update(smtpkit_base64_encoder *e, const void *in,
                                                 size_t inlen, char *out, size_t outcap,
                                                 size_t *outlen);

/** Bytes smtpkit_base64_encoder_finish() may write at most (4 + CRLF). */
#define SMTPKIT_BASE64_FINISH_MAX 6

/**
 * Flush the last group with padding and, when wrapping, a final CRLF if the
 * last line is not empty. @return bytes written or SMTPKIT_ERR_BUFFER_TOO_SMALL.
 */
SMTPKIT_API smtpkit_ssize smtpkit_base64_encoder_finish(smtpkit_base64_encoder *e, char *out,
                                                        size_t outcap);

/** Streaming decoder; skips CR, LF, space and tab (MIME), rejects everything else invalid. */
typedef struct smtpkit_base64_decoder {
    unsigned _acc;
    unsigned _nacc;
    unsigned _npad;
    int _err;
} smtpkit_base64_decoder;

/** Initialise. */
SMTPKIT_API void smtpkit_base64_decoder_init(smtpkit_base64_decoder *d);

/**
 * Decode; `outcap` must be at least SMTPKIT_BASE64_DECODED_MAX(inlen) + 3.
 * @return bytes written, SMTPKIT_ERR_BASE64, or SMTPKIT_ERR_BUFFER_TOO_SMALL.
 */
SMTPKIT_API smtpkit_ssize smtpkit_base64_decoder_update(smtpkit_base64_decoder *d,
                                                        const char *in, size_t inlen,
                                                        void *out, size_t outcap);

/** End of input: 0 when the input was complete base64, else SMTPKIT_ERR_BASE64. */
SMTPKIT_API int smtpkit_base64_decoder_finish(smtpkit_base64_decoder *d);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_BASE64_H */
