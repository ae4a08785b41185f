/**
 * @file message.h
 * @brief The message builder: RFC 5322 headers and MIME (RFC 2045-2047,
 *        2231), read out as a stream in constant memory.
 *
 * Build a message by setting headers and adding parts, then read it through
 * an #smtpkit_source (smtpkit_message_open(), the same interface the client
 * session pulls a body from) or push it to a callback (smtpkit_message_write()).
 * Part contents are themselves sources, so an attachment of any size is
 * encoded on the fly into a small internal buffer and never held in memory.
 *
 * @code
 * smtpkit_message *m = smtpkit_message_new(NULL);
 * smtpkit_message_set_from(m, "ann@example.org", "Ann Example");
 * smtpkit_message_add_to(m, "bob@example.net", NULL);
 * smtpkit_message_set_subject(m, "Quarterly report");
 * smtpkit_message_set_date(m, now_seconds, zone_minutes);
 * smtpkit_message_set_text_mem(m, "See attached.\n", 14);
 * smtpkit_message_add_attachment(m, &pdf_source, "report.pdf", NULL);
 * smtpkit_source src;
 * if (smtpkit_message_open(m, &src) == 0) { ... read src until 0 ... }
 * smtpkit_message_free(m);
 * @endcode
 *
 * Strings passed to setters are NUL-terminated UTF-8 and are copied. Every
 * header name and value is validated when it is set: CR, LF or NUL is
 * refused with #SMTPKIT_ERR_INJECTION (never stripped), so no input can add
 * a header or end the header block early.
 *
 * The message is frozen by its first smtpkit_message_prepare() (done
 * implicitly by open, write and size): setters then return
 * #SMTPKIT_ERR_STATE.
 */
#ifndef SMTPKIT_MESSAGE_H
#define SMTPKIT_MESSAGE_H

#include "smtpkit/common.h"
#include "smtpkit/source.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An opaque message under construction. */
typedef struct smtpkit_message smtpkit_message;

/** Bytes of unique data smtpkit_message_set_unique() keeps at most. */
#define SMTPKIT_MESSAGE_UNIQUE_MAX 32

/** Options (smtpkit_message_set_options()). */
enum {
    /**
     * Allow the 8bit transfer encoding (RFC 6152) for text parts with
     * non-ASCII bytes and lines of at most 998 octets, instead of
     * quoted-printable. Only set it when the message will be sent to a server
     * that offers 8BITMIME; smtpkit_message_flags() then reports
     * #SMTPKIT_MESSAGE_8BITMIME so the client asks for BODY=8BITMIME.
     */
    SMTPKIT_MESSAGE_ALLOW_8BIT = 1u << 0
};

/** What the message needs from the transport (smtpkit_message_flags()). */
enum {
    /** An address (header or envelope) has UTF-8: the server must offer
     *  SMTPUTF8 (RFC 6531) and MAIL FROM must carry the SMTPUTF8 parameter. */
    SMTPKIT_MESSAGE_SMTPUTF8 = 1u << 0,
    /** A part uses the 8bit transfer encoding: send with BODY=8BITMIME. */
    SMTPKIT_MESSAGE_8BITMIME = 1u << 1
};

/**
 * Create an empty message.
 * @param mem allocator for everything the message allocates (NULL = libc);
 *            copied, its `user` must outlive the message.
 * @return the message, or NULL when out of memory.
 */
SMTPKIT_API smtpkit_message *smtpkit_message_new(const smtpkit_mem *mem);

/** Free the message and everything it copied (NULL allowed). Sources the
 *  caller passed in are not touched. */
SMTPKIT_API void smtpkit_message_free(smtpkit_message *m);

/** Set SMTPKIT_MESSAGE_* options (replaces the previous set).
 *  @return 0, #SMTPKIT_ERR_INVALID_ARG (unknown bit), #SMTPKIT_ERR_STATE (frozen). */
SMTPKIT_API int smtpkit_message_set_options(smtpkit_message *m, unsigned opts);

/* ---- addresses ---------------------------------------------------------- */

/**
 * Set the From: mailbox (RFC 5322 3.6.2), replacing any previous one.
 * @param m    the message
 * @param addr "local@domain" without angle brackets, checked against the
 *        RFC 5321 mailbox grammar so the same string is valid in MAIL FROM
 *        (a quoted local part is allowed; UTF-8 is allowed and sets
 *        #SMTPKIT_MESSAGE_SMTPUTF8).
 * @param display_name optional (NULL or "") UTF-8 name; written as atoms, a
 *        quoted-string or RFC 2047 encoded words, whichever it needs.
 * @return 0, #SMTPKIT_ERR_INJECTION (CR, LF, NUL, '<' or '>'),
 *         #SMTPKIT_ERR_BAD_ADDRESS, #SMTPKIT_ERR_INVALID_ARG (NULL m/addr,
 *         name over 998 bytes), #SMTPKIT_ERR_STATE, #SMTPKIT_ERR_NOMEM.
 */
SMTPKIT_API int smtpkit_message_set_from(smtpkit_message *m, const char *addr,
                                         const char *display_name);

/** Set the Sender: mailbox (RFC 5322 3.6.2). When set it is also the
 *  envelope reverse path. Arguments and errors as smtpkit_message_set_from(). */
SMTPKIT_API int smtpkit_message_set_sender(smtpkit_message *m, const char *addr,
                                           const char *display_name);

/** Add a To: recipient (header and envelope). As smtpkit_message_set_from(). */
SMTPKIT_API int smtpkit_message_add_to(smtpkit_message *m, const char *addr,
                                       const char *display_name);

/** Add a Cc: recipient (header and envelope). As smtpkit_message_set_from(). */
SMTPKIT_API int smtpkit_message_add_cc(smtpkit_message *m, const char *addr,
                                       const char *display_name);

/** Add a Bcc recipient: envelope only, never written into the headers.
 *  Errors as smtpkit_message_set_from(). */
SMTPKIT_API int smtpkit_message_add_bcc(smtpkit_message *m, const char *addr);

/** Add a Reply-To: mailbox (header only). As smtpkit_message_set_from(). */
SMTPKIT_API int smtpkit_message_add_reply_to(smtpkit_message *m, const char *addr,
                                             const char *display_name);

/* ---- other headers ------------------------------------------------------ */

/**
 * Set the Subject: (UTF-8 unstructured text). Non-ASCII words become RFC
 * 2047 encoded words (B or Q, whichever is shorter, at most 75 characters
 * each, never splitting a UTF-8 character); ASCII words are left as they
 * are; the header is folded at white space to 78 columns, never beyond 998.
 * @return 0, #SMTPKIT_ERR_INJECTION (CR, LF or NUL), #SMTPKIT_ERR_INVALID_ARG
 *         (NULL, or longer than 65536 bytes), #SMTPKIT_ERR_STATE, #SMTPKIT_ERR_NOMEM.
 */
SMTPKIT_API int smtpkit_message_set_subject(smtpkit_message *m, const char *subject);

/**
 * Set the Date: (RFC 5322 3.3) from a time the caller supplies (the core
 * has no clock; smtpkit_posix_now() gives the current one).
 * @param m            the message
 * @param unix_seconds seconds since 1970-01-01T00:00:00Z
 * @param zone_minutes the local zone's offset from UTC in minutes (+60 for
 *        CET, -300 for EST), between -1439 and 1439
 * @return 0, #SMTPKIT_ERR_INVALID_ARG (zone out of range, year outside
 *         1900-9999), #SMTPKIT_ERR_STATE.
 */
SMTPKIT_API int smtpkit_message_set_date(smtpkit_message *m, int64_t unix_seconds,
                                         int zone_minutes);

/**
 * Give the message unique bytes (random bytes, or a counter with a host
 * identifier): they seed the MIME boundaries and the Message-ID made by
 * smtpkit_message_generate_message_id(). At most #SMTPKIT_MESSAGE_UNIQUE_MAX
 * bytes are kept. Without them boundaries are derived from the headers,
 * which is still safe: a boundary contains "=_", which base64 and
 * quoted-printable output cannot contain, and a 7bit/8bit text part that
 * has a line starting with "--=_" is sent quoted-printable instead.
 * @return 0, #SMTPKIT_ERR_INVALID_ARG (NULL or len 0), #SMTPKIT_ERR_STATE.
 */
SMTPKIT_API int smtpkit_message_set_unique(smtpkit_message *m, const void *bytes, size_t len);

/**
 * Set Message-ID: "<left@right>" from the unique bytes (in hex) and the
 * caller's domain. Call smtpkit_message_set_unique() first.
 * @return 0, #SMTPKIT_ERR_STATE (no unique bytes yet, or frozen),
 *         #SMTPKIT_ERR_BAD_HEADER (domain is not a dot-atom),
 *         #SMTPKIT_ERR_INJECTION, #SMTPKIT_ERR_NOMEM.
 */
SMTPKIT_API int smtpkit_message_generate_message_id(smtpkit_message *m, const char *domain);

/**
 * Set Message-ID: to `id`, given as "left@right" or "<left@right>" (RFC 5322
 * 3.6.4 msg-id: printable ASCII, no white space, '<', '>', '"' or '\').
 * @return 0, #SMTPKIT_ERR_INJECTION, #SMTPKIT_ERR_BAD_HEADER, #SMTPKIT_ERR_STATE,
 *         #SMTPKIT_ERR_NOMEM.
 */
SMTPKIT_API int smtpkit_message_set_message_id(smtpkit_message *m, const char *id);

/** Set In-Reply-To: to one msg-id (same form and errors as
 *  smtpkit_message_set_message_id()). */
SMTPKIT_API int smtpkit_message_set_in_reply_to(smtpkit_message *m, const char *id);

/** Append one msg-id to References: (same form and errors as
 *  smtpkit_message_set_message_id()). */
SMTPKIT_API int smtpkit_message_add_reference(smtpkit_message *m, const char *id);

/**
 * Add a header of the caller's, written after the standard ones, its value
 * treated as unstructured text (encoded words for non-ASCII, folded).
 * @param m    the message
 * @param name RFC 5322 field name (printable ASCII except ':', 1-76
 *        characters). Names the builder writes itself (From, Sender, To,
 *        Cc, Bcc, Reply-To, Subject, Date, Message-ID, In-Reply-To,
 *        References, MIME-Version, Content-Type, Content-Transfer-Encoding,
 *        Content-Disposition, Content-ID) are refused.
 * @param value UTF-8 text (NUL-terminated, copied); CR, LF and NUL are refused.
 * @return 0, #SMTPKIT_ERR_INJECTION (CR, LF or NUL in name or value),
 *         #SMTPKIT_ERR_BAD_HEADER (invalid or reserved name),
 *         #SMTPKIT_ERR_INVALID_ARG, #SMTPKIT_ERR_STATE, #SMTPKIT_ERR_NOMEM.
 */
SMTPKIT_API int smtpkit_message_add_header(smtpkit_message *m, const char *name,
                                           const char *value);

/** smtpkit_message_add_header() with lengths, for names and values that
 *  are views (a NUL inside either is refused with #SMTPKIT_ERR_INJECTION). */
SMTPKIT_API int smtpkit_message_add_header_n(smtpkit_message *m, const char *name,
                                             size_t name_len, const char *value,
                                             size_t value_len);

/* ---- bodies and parts --------------------------------------------------- */

/**
 * Set the text/plain body (UTF-8; charset=utf-8). Line breaks may be CRLF,
 * LF or CR; all are sent as CRLF. The transfer encoding is chosen from the
 * content: 7bit for ASCII with lines of at most 78 octets, 8bit when
 * #SMTPKIT_MESSAGE_ALLOW_8BIT is set and lines are at most 998 octets,
 * quoted-printable otherwise. Choosing needs one pass over the text before
 * the output starts, so the source is read and rewound by
 * smtpkit_message_prepare(); a source without `rewind` is always sent
 * quoted-printable and makes the message size unknown.
 * @param m   the message
 * @param src the caller's source; the struct and its context must stay
 *        valid until the message is freed (not copied).
 * @return 0, #SMTPKIT_ERR_INVALID_ARG, #SMTPKIT_ERR_STATE.
 */
SMTPKIT_API int smtpkit_message_set_text(smtpkit_message *m, smtpkit_source *src);

/** Set the text/plain body from memory (not copied: `text` must stay valid
 *  until the message is freed). Otherwise as smtpkit_message_set_text(). */
SMTPKIT_API int smtpkit_message_set_text_mem(smtpkit_message *m, const char *text, size_t len);

/** Set the text/html body; as smtpkit_message_set_text(). With a text body
 *  too the two become a multipart/alternative. */
SMTPKIT_API int smtpkit_message_set_html(smtpkit_message *m, smtpkit_source *src);

/** Set the text/html body from memory (not copied). */
SMTPKIT_API int smtpkit_message_set_html_mem(smtpkit_message *m, const char *html, size_t len);

/**
 * Add an attachment (Content-Disposition: attachment, base64 in 76-column
 * lines, RFC 2045 6.8). Attachments make the message multipart/mixed.
 * @param m   the message
 * @param src the content; not copied, must stay valid until the message is
 *        freed. Its `size` (or -1) makes the message size known (or not).
 *        When the size is known the source must deliver exactly that many
 *        bytes, or reading fails with #SMTPKIT_ERR_IO.
 * @param filename UTF-8 file name without a directory (NULL = none): sent as
 *        filename="..." when short ASCII, else RFC 2231 filename*=UTF-8''...
 *        (with continuations when long), plus an RFC 2047 name= for old readers.
 * @param content_type "type/subtype" optionally followed by ASCII
 *        "; parameters" (NULL = guessed from the file name's extension,
 *        application/octet-stream when unknown). multipart/ and message/
 *        types are refused: they cannot be sent in base64 (RFC 2046 5.1.1, 5.2.1).
 * @return 0, #SMTPKIT_ERR_INVALID_ARG, #SMTPKIT_ERR_INJECTION,
 *         #SMTPKIT_ERR_BAD_HEADER (malformed content type), #SMTPKIT_ERR_STATE,
 *         #SMTPKIT_ERR_NOMEM.
 */
SMTPKIT_API int smtpkit_message_add_attachment(smtpkit_message *m, smtpkit_source *src,
                                               const char *filename, const char *content_type);

/**
 * Add an inline part referenced from the HTML by "cid:<content_id>" (RFC
 * 2387 multipart/related, RFC 2392). The related part wraps the HTML body
 * (or the text body when there is no HTML).
 * @param m            the message
 * @param src          the content; not copied, must stay valid until the
 *                     message is freed (as for smtpkit_message_add_attachment())
 * @param content_id   the id without angle brackets ("logo@example.org"),
 *                     msg-id characters only.
 * @param filename     UTF-8 file name or NULL (as for an attachment)
 * @param content_type "type/subtype" or NULL to guess it from `filename`
 * @return the errors of smtpkit_message_add_attachment().
 */
SMTPKIT_API int smtpkit_message_add_inline(smtpkit_message *m, smtpkit_source *src,
                                           const char *content_id, const char *filename,
                                           const char *content_type);

/**
 * The content type guessed for a file name from a small table of common
 * extensions (case-insensitive), "application/octet-stream" when unknown.
 * @return a static string.
 */
SMTPKIT_API const char *smtpkit_message_guess_type(const char *filename);

/* ---- output ------------------------------------------------------------- */

/**
 * Freeze the message: check it (a From is required), choose the transfer
 * encodings (reading and rewinding the text sources once), the boundaries
 * and lay out the headers. Done implicitly by open, write and size;
 * calling it again does nothing.
 * @return 0, #SMTPKIT_ERR_STATE (no From), #SMTPKIT_ERR_WOULDBLOCK (a text
 *         source had no data yet: call again), a text source's error,
 *         #SMTPKIT_ERR_NOMEM.
 */
SMTPKIT_API int smtpkit_message_prepare(smtpkit_message *m);

/**
 * SMTPKIT_MESSAGE_* flags. #SMTPKIT_MESSAGE_SMTPUTF8 is known at any time;
 * #SMTPKIT_MESSAGE_8BITMIME only after a successful prepare.
 */
SMTPKIT_API unsigned smtpkit_message_flags(const smtpkit_message *m);

/**
 * The exact size in octets of the message (as read from the source, before
 * SMTP dot-stuffing), for SIZE= (RFC 1870).
 * @param m    the message (prepared by this call if it was not yet)
 * @param[out] size the size, or -1 when a part's source has no known size
 *             (or a text source cannot be rewound).
 * @return 0 or an error of smtpkit_message_prepare().
 */
SMTPKIT_API int smtpkit_message_size(smtpkit_message *m, int64_t *size);

/**
 * Prepare the message and make `out` read it from the start. `out->size`
 * is the exact size or -1 (see smtpkit_message_size()); `out->rewind`
 * starts over (it rewinds every part source, and fails with
 * #SMTPKIT_ERR_STATE if one that was already read cannot be rewound).
 * `out->read` returns message bytes, 0 at the end, #SMTPKIT_ERR_WOULDBLOCK
 * when a part source has no data yet (call again later), or a part source's
 * error, which is sticky until a successful rewind. Memory stays constant
 * whatever the size of the parts. There is one read position per message:
 * a second open starts over.
 * @param m   the message
 * @param out filled in; its `ctx` is the message, valid until it is freed.
 * @return 0 or an error of smtpkit_message_prepare().
 */
SMTPKIT_API int smtpkit_message_open(smtpkit_message *m, smtpkit_source *out);

/** Push callback: take `len` bytes of the message. Return 0 to go on,
 *  negative to abort. */
typedef int (*smtpkit_message_sink_fn)(void *user, const char *data, size_t len);

/**
 * Write the message to `sink` in chunks, from the current read position
 * (the start, when nothing was read yet). When a part source returns
 * #SMTPKIT_ERR_WOULDBLOCK this returns it; calling again continues where
 * it stopped.
 * @return 0 once everything was written, #SMTPKIT_ERR_CALLBACK when the sink
 *         aborted, or an error of smtpkit_message_prepare() / of a source.
 */
SMTPKIT_API int smtpkit_message_write(smtpkit_message *m, smtpkit_message_sink_fn sink,
                                      void *user);

/* ---- envelope ----------------------------------------------------------- */

/** The SMTP envelope of a message (smtpkit_message_envelope()). */
typedef struct smtpkit_message_env {
    /** MAIL FROM mailbox: the Sender if set, else the From (no brackets). */
    const char *reverse_path;
    /** RCPT TO mailboxes: To, then Cc, then Bcc, each address once. */
    const char *const *recipients;
    size_t recipient_count; /**< number of entries in `recipients` */
    /** #SMTPKIT_MESSAGE_SMTPUTF8 when any address has UTF-8. */
    unsigned flags;
} smtpkit_message_env;

/**
 * Fill `env` with the envelope. The strings and the array belong to the
 * message and stay valid until it is freed or another address is added.
 * @return 0, #SMTPKIT_ERR_STATE (no From), #SMTPKIT_ERR_INVALID_ARG,
 *         #SMTPKIT_ERR_NOMEM.
 */
SMTPKIT_API int smtpkit_message_envelope(smtpkit_message *m, smtpkit_message_env *env);

#ifdef __cplusplus
}
#endif

#endif /* SMTPKIT_MESSAGE_H */
