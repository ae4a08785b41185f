/* Private: quoted-printable body encoding (RFC 2045 6.7) and the CRLF
 * line-break normaliser for 7bit/8bit text, used by the message builder.
 * Not installed. */
#ifndef SMTPKIT_QP_H
#define SMTPKIT_QP_H

#include "internal.h"

/* Streaming encoder state: only the output column is carried; lookahead
 * bytes stay in the caller's input buffer. */
typedef struct smtpkit__qp {
    unsigned col;
} smtpkit__qp;

/* Bytes of input the encoders may leave unconsumed while they wait for
 * lookahead (the caller keeps them and appends more input). */
#define SMTPKIT__QP_LOOKAHEAD 5

/* Output room with which an encoder always makes progress. */
#define SMTPKIT__QP_MIN_OUT 8

static inline void smtpkit__qp_init(smtpkit__qp *q) { q->col = 0; }

/*
 * Encode text as quoted-printable. Line breaks in the input (CRLF, LF or a
 * lone CR) become hard CRLF breaks; lines are soft-broken to at most 76
 * characters. `eof` says no input follows `in`.
 * Returns the input bytes consumed and sets *outlen. It stops early when
 * `out` is full or, unless eof, when at most SMTPKIT__QP_LOOKAHEAD bytes
 * are left whose encoding depends on what follows.
 */
size_t smtpkit__qp_encode(smtpkit__qp *q, const unsigned char *in, size_t n, int eof, char *out,
                          size_t cap, size_t *outlen);

/* Copy text, turning CRLF, LF and a lone CR into CRLF (7bit and 8bit
 * parts, RFC 2045 2.7/2.8). Same contract as smtpkit__qp_encode(). */
size_t smtpkit__crlf_normalize(const unsigned char *in, size_t n, int eof, char *out, size_t cap,
                               size_t *outlen);

#endif /* SMTPKIT_QP_H */
