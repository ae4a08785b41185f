/**
 * @file data.h
 * @brief The DATA codec (RFC 5321 4.5.2 transparency, 4.1.1.4 end of data)
 *        and the BDAT chunk counter (RFC 3030).
 *
 * Decoder: wire bytes after "354" -> message bytes, dot-unstuffed; the end of
 * data is recognised only at CRLF "." CRLF, so none of the SMTP smuggling
 * variants (LF.LF, LF.CRLF, CR.CR, CRLF.CR, CRLF.LF) can end a message early.
 *
 * Encoder: message bytes in any chunks -> CRLF-normalised, dot-stuffed
 * stream, and the final CRLF "." CRLF.
 */
#ifndef SMTPKIT_DATA_H
#define SMTPKIT_DATA_H

#include "smtpkit/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Decoder options. */
enum {
    /**
     * USE WITH CAUTION: convert a bare CR or bare LF in the data to CRLF
     * instead of flagging the message. The end of data still needs a real
     * CRLF "." CRLF.
     */
    SMTPKIT_DATA_NORMALIZE_BARE = 1u << 0
};

/** Flags describing the decoded message (smtpkit_data_decoder_flags()). */
enum {
    SMTPKIT_DATA_SAW_BARE_CR = 1u << 0,   /**< a CR not followed by LF */
    SMTPKIT_DATA_SAW_BARE_LF = 1u << 1,   /**< an LF not preceded by CR */
    SMTPKIT_DATA_SAW_LONG_LINE = 1u << 2, /**< a text line over the limit (998 + CRLF) */
    SMTPKIT_DATA_SAW_8BIT = 1u << 3,      /**< a byte >= 0x80 */
    SMTPKIT_DATA_SAW_NUL = 1u << 4        /**< a NUL byte */
};

/**
 * Called with each run of decoded message bytes.
 * Return 0 to go on, #SMTPKIT_PAUSE to pause, negative to abort.
 *
 * The decoder never copies: runs are views into the data passed to
 * smtpkit_data_decoder_feed(), or one of the constant strings "\r", "\n" or
 * "\r\n" (a CR held back across a chunk boundary, or a normalised bare line
 * end). `len` is never 0. The bytes are valid only during the call.
 */
typedef int (*smtpkit_data_body_fn)(void *user, const char *data, size_t len);

/**
 * Data decoder. Caller-allocated; fields with '_' are private. It never
 * allocates.
 *
 * Rules (RFC 5321 2.3.8, 4.1.1.4, 4.5.2):
 * - the data starts at the start of a line; the end of data is a line that is
 *   exactly "." followed by a real CRLF, after a real CRLF (or as the first
 *   line: ".\r\n" alone is the empty message). The CRLF before the "."
 *   belongs to the message.
 * - a "." at the start of a line is removed ("..x" -> ".x", ".x" -> "x").
 * - default: a bare CR or bare LF is passed through unchanged and is not a
 *   line end (a "." after it is ordinary text); SAW_BARE_CR / SAW_BARE_LF are
 *   set. With #SMTPKIT_DATA_NORMALIZE_BARE each bare CR or LF is delivered as
 *   CRLF and starts a new line, whose leading "." is removed too, but such a
 *   line never ends the data ("\n.\n" -> "\r\n\r\n").
 * - line length counts the decoded octets of a line plus 2 for its CRLF.
 */
typedef struct smtpkit_data_decoder {
    smtpkit_data_body_fn _on_body;
    void *_user;
    unsigned _opts;
    unsigned _flags;     /* SMTPKIT_DATA_SAW_* */
    int _state;
    int _done;
    int _paused;
    int _err;
    size_t _line_len;    /* octets in the current text line so far */
    size_t _max_line;    /* text line limit including CRLF */
    uint64_t _total;     /* decoded bytes delivered */
} smtpkit_data_decoder;

/** Initialise for one message (cannot fail). `opts`: SMTPKIT_DATA_* options. */
SMTPKIT_API void smtpkit_data_decoder_init(smtpkit_data_decoder *d, unsigned opts,
                                           smtpkit_data_body_fn on_body, void *user);

/** Text line limit including CRLF (default #SMTPKIT_TEXT_LINE_MAX); 0 = no limit.
 *  A longer line sets SMTPKIT_DATA_SAW_LONG_LINE (the data still flows). */
SMTPKIT_API void smtpkit_data_decoder_set_max_line(smtpkit_data_decoder *d, size_t max);

/**
 * Feed wire bytes. Stops right after the terminating CRLF "." CRLF: the
 * return value then counts the bytes up to and including it, and
 * smtpkit_data_decoder_done() becomes non-zero; bytes after it belong to the
 * next command.
 * When on_body returns #SMTPKIT_PAUSE the feed stops right after the bytes
 * that callback covered and returns how many input bytes that is; feed the
 * rest again after smtpkit_data_decoder_resume().
 * @return bytes consumed, or SMTPKIT_ERR_CALLBACK (on_body returned a
 *         negative value; sticky) / SMTPKIT_ERR_PAUSED / SMTPKIT_ERR_STATE
 *         (fed after done) / SMTPKIT_ERR_INVALID_ARG (NULL decoder, or NULL
 *         data with len > 0).
 */
SMTPKIT_API smtpkit_ssize smtpkit_data_decoder_feed(smtpkit_data_decoder *d, const char *data,
                                                    size_t len);

/** Clear a pause (0), or SMTPKIT_ERR_STATE when not paused. */
SMTPKIT_API int smtpkit_data_decoder_resume(smtpkit_data_decoder *d);

/** Non-zero once the end of data was seen. */
SMTPKIT_API int smtpkit_data_decoder_done(const smtpkit_data_decoder *d);

/** SMTPKIT_DATA_SAW_* flags for the message so far. A server should refuse
 *  a message with SAW_BARE_CR or SAW_BARE_LF (550 5.6.0) unless normalising. */
SMTPKIT_API unsigned smtpkit_data_decoder_flags(const smtpkit_data_decoder *d);

/** Decoded bytes delivered so far. */
SMTPKIT_API uint64_t smtpkit_data_decoder_total(const smtpkit_data_decoder *d);

/* ------------------------------------------------------------------------ */

/** Encoder options. */
enum {
    /** Do not dot-stuff and do not add the terminator (for BDAT, RFC 3030). */
    SMTPKIT_DATA_ENC_NO_STUFF = 1u << 0
};

/** Data encoder. Caller-allocated; fields with '_' are private. */
typedef struct smtpkit_data_encoder {
    unsigned _opts;
    int _bol;        /* at beginning of line */
    int _cr;         /* previous input byte was CR (pending) */
    int _finished;
    uint64_t _in_total;
    unsigned _flags; /* SMTPKIT_DATA_SAW_8BIT etc. for the input */
    size_t _line_len; /* octets in the current input line (after normalisation) */
} smtpkit_data_encoder;

/** Initialise for one message (cannot fail). */
SMTPKIT_API void smtpkit_data_encoder_init(smtpkit_data_encoder *e, unsigned opts);

/**
 * Encode input into `out`. Each input byte needs at most 2 output bytes, so
 * the call consumes as much input as fits: at least min(inlen, outcap/2).
 * Bare LF and bare CR become CRLF; a '.' at the start of a line is doubled.
 * Output is never held back: after the call `out` holds the encoding of
 * all consumed input.
 * @param e       the encoder
 * @param in      message bytes (any line ends)
 * @param inlen   bytes at `in`
 * @param out     where the encoded bytes go
 * @param outcap  room at `out`
 * @param[out] outlen bytes written to out
 * @return bytes of input consumed (>= 0), or SMTPKIT_ERR_STATE after finish,
 *         SMTPKIT_ERR_INVALID_ARG on NULL arguments.
 */
SMTPKIT_API smtpkit_ssize smtpkit_data_encode(smtpkit_data_encoder *e, const char *in,
                                              size_t inlen, char *out, size_t outcap,
                                              size_t *outlen);

/** Bytes smtpkit_data_encode_finish() may write at most. */
#define SMTPKIT_DATA_ENCODE_FINISH_MAX 5

/**
 * Finish the message: CRLF if the body did not end with a line end (also
 * with SMTPKIT_DATA_ENC_NO_STUFF: a message is made of lines), then
 * "." CRLF (without SMTPKIT_DATA_ENC_NO_STUFF). An empty body gives just
 * ".\r\n". Needs outcap >= #SMTPKIT_DATA_ENCODE_FINISH_MAX (it fails only
 * when fewer bytes than it actually writes fit).
 * @return bytes written, or SMTPKIT_ERR_BUFFER_TOO_SMALL / SMTPKIT_ERR_STATE
 *         (already finished) / SMTPKIT_ERR_INVALID_ARG.
 */
SMTPKIT_API smtpkit_ssize smtpkit_data_encode_finish(smtpkit_data_encoder *e, char *out,
                                                     size_t outcap);

/**
 * SMTPKIT_DATA_SAW_* flags for the input seen so far: SAW_8BIT (the client
 * needs BODY=8BITMIME, RFC 6152), SAW_NUL, SAW_BARE_CR / SAW_BARE_LF (a line
 * end other than CRLF was normalised; a CR that ends the input counts once
 * the encoder is finished) and SAW_LONG_LINE (a line over
 * #SMTPKIT_TEXT_LINE_MAX octets including CRLF, not counting a stuffed dot).
 */
SMTPKIT_API unsigned smtpkit_data_encoder_flags(const smtpkit_data_encoder *e);

/* ------------------------------------------------------------------------ */

/** BDAT chunk counter (RFC 3030): the bytes of a chunk are counted, never unstuffed. */
typedef struct smtpkit_bdat_counter {
    uint64_t _remaining;
    int _last;
} smtpkit_bdat_counter;

/** Start a chunk of `size` bytes; `last` for BDAT ... LAST. */
SMTPKIT_API void smtpkit_bdat_begin(smtpkit_bdat_counter *c, uint64_t size, int last);

/** How many of the `len` available bytes belong to the chunk (and count them). */
SMTPKIT_API size_t smtpkit_bdat_take(smtpkit_bdat_counter *c, size_t len);

/** Bytes of the chunk still expected. */
SMTPKIT_API uint64_t smtpkit_bdat_remaining(const smtpkit_bdat_counter *c);

/** Non-zero when the chunk in progress is the LAST one. */
SMTPKIT_API int smtpkit_bdat_is_last(const smtpkit_bdat_counter *c);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_DATA_H */
