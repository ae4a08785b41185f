/* Private: writing RFC 5322 header fields with folding, RFC 2047 encoded
 * words, RFC 2231 parameters and dates, into a growable buffer. Used by the
 * message builder. Not installed. */
#ifndef SMTPKIT_MIME_HEADER_H
#define SMTPKIT_MIME_HEADER_H

#include "internal.h"

/* RFC 5322 2.1.1: lines SHOULD stay within 78 characters, MUST within 998. */
#define SMTPKIT__HDR_FOLD 78
#define SMTPKIT__HDR_HARD 998
/* RFC 2047 2: an encoded word is at most 75 characters. */
#define SMTPKIT__EW_MAX 75
/* Longest header field name we accept, so "Name: " fits the first line. */
#define SMTPKIT__HDR_NAME_MAX 76
/* An ASCII word longer than this is sent as encoded words, which can be
 * split, so that no line can pass 998 (with white space of up to
 * SMTPKIT__HDR_WS_MAX before it). */
#define SMTPKIT__HDR_WORD_MAX 700
#define SMTPKIT__HDR_WS_MAX 200

/* A growable byte buffer that tracks the current line for folding. */
typedef struct smtpkit__hbuf {
    const smtpkit_mem *mem;
    char *p;
    size_t len, cap;
    size_t line;     /* offset where the current line starts */
    size_t fold_min; /* no fold while the line holds only "Name:" */
    int err;         /* sticky SMTPKIT_ERR_NOMEM */
} smtpkit__hbuf;

void smtpkit__hbuf_init(smtpkit__hbuf *b, const smtpkit_mem *mem);
void smtpkit__hbuf_free(smtpkit__hbuf *b);
void smtpkit__hbuf_put(smtpkit__hbuf *b, const char *s, size_t n);
void smtpkit__hbuf_puts(smtpkit__hbuf *b, const char *s);
/* Column of the end of the buffer on its current line. */
static inline size_t smtpkit__hbuf_col(const smtpkit__hbuf *b) { return b->len - b->line; }

/* "Name:" at the start of a line / CRLF at the end of the field. */
void smtpkit__hdr_begin(smtpkit__hbuf *b, const char *name, size_t n);
void smtpkit__hdr_end(smtpkit__hbuf *b);

/* Write white space `ws` (non-empty, or empty to glue) before an item of
 * `ilen` bytes the caller writes next; folds (CRLF before ws) when the item
 * would pass column 78 and the line already holds more than "Name:". */
void smtpkit__hdr_sep(smtpkit__hbuf *b, const char *ws, size_t wslen, size_t ilen);

/* One unbreakable item, as smtpkit__hdr_sep() then the bytes. */
void smtpkit__hdr_item(smtpkit__hbuf *b, const char *ws, size_t wslen, const char *item,
                       size_t ilen);

/* `s` as RFC 2047 encoded words ("=?UTF-8?B?..?=" or Q, whichever is
 * shorter), each at most 75 characters, split only between whole UTF-8
 * characters, separated by folding white space. `prefix` is glued to the
 * first word and `suffix` to the last (both short ASCII). */
void smtpkit__hdr_ew(smtpkit__hbuf *b, const char *ws, size_t wslen, const char *s, size_t n,
                     const char *prefix, const char *suffix);

/* Unstructured text (Subject, custom fields) after "Name:": ASCII words as
 * they are, words needing it as encoded words, folded at white space. */
void smtpkit__hdr_text(smtpkit__hbuf *b, const char *s, size_t n);

/* A display name (RFC 5322 3.4 phrase): atoms, a quoted-string, or encoded
 * words; written as items after `ws`. */
void smtpkit__hdr_phrase(smtpkit__hbuf *b, const char *ws, size_t wslen, const char *s,
                         size_t n);

/* A MIME parameter item `; attr=value` (the ';' is the previous item's
 * suffix: `last` = 0 appends ';' to this one). ASCII values that need no
 * escaping are quoted; others use RFC 2231 (attr*=UTF-8''%xx, with
 * continuations attr*0*=... when long). With `ew_form` non-zero the value
 * is written instead as "=?UTF-8?..?=" encoded words inside a quoted-string
 * (the name= form old readers understand). */
void smtpkit__hdr_param(smtpkit__hbuf *b, const char *attr, const char *v, size_t n, int last,
                        int ew_form);

/* RFC 5322 3.3 date-time, e.g. "Thu, 13 Feb 2025 14:05:09 +0100" (at most
 * 31 characters + NUL in out[32]). Returns the length, or
 * SMTPKIT_ERR_INVALID_ARG for a zone outside +-1439 minutes or a year
 * outside 1900..9999. */
int smtpkit__format_date(char out[32], int64_t t, int zone_minutes);

/* Length of the UTF-8 character at s[0] (1 for ASCII and for anything
 * malformed, so a character is never split and garbage still progresses). */
size_t smtpkit__utf8_char(const unsigned char *s, size_t n);

/* RFC 5322 3.6.8 field name: 1..SMTPKIT__HDR_NAME_MAX of %d33-57 / %d59-126. */
int smtpkit__hdr_name_ok(const char *s, size_t n);
/* RFC 5322 3.4.1 dot-atom-text. */
int smtpkit__dot_atom_ok(const char *s, size_t n);
/* RFC 5322 3.6.4 msg-id without the angle brackets: id-left "@" id-right. */
int smtpkit__msg_id_ok(const char *s, size_t n);

#endif /* SMTPKIT_MIME_HEADER_H */
