/* Private: the message builder's object, shared by message.c (setters,
 * validation, envelope) and message_out.c (layout and read-out). */
#ifndef SMTPKIT_MESSAGE_INTERNAL_H
#define SMTPKIT_MESSAGE_INTERNAL_H

#include "internal.h"
#include "mime_header.h"
#include "qp.h"
#include "smtpkit/base64.h"
#include "smtpkit/message.h"

/* Bytes of part content read at a time; the message holds two such
 * buffers (input and, for smtpkit_message_write(), output) whatever the
 * size of its parts. */
#ifndef SMTPKIT_MESSAGE_CHUNK
#define SMTPKIT_MESSAGE_CHUNK 16384
#endif

/* Longest subject or custom header value we take (bytes). */
#define SMTPKIT__MSG_VALUE_MAX 65536
/* Longest display name, file name, content type. */
#define SMTPKIT__MSG_NAME_MAX 998
#define SMTPKIT__MSG_FILENAME_MAX 1024
#define SMTPKIT__MSG_CTYPE_MAX 200

enum { SMTPKIT__MP_TEXT, SMTPKIT__MP_HTML, SMTPKIT__MP_ATTACH, SMTPKIT__MP_INLINE };
enum { SMTPKIT__ENC_7BIT, SMTPKIT__ENC_8BIT, SMTPKIT__ENC_QP, SMTPKIT__ENC_B64 };

typedef struct smtpkit__maddr {
    char *addr; /* validated mailbox */
    char *name; /* display name or NULL */
} smtpkit__maddr;

typedef struct smtpkit__mhdr {
    char *name;
    size_t name_len;
    char *value;
    size_t value_len;
} smtpkit__mhdr;

typedef struct smtpkit__mpart {
    int kind;                   /* SMTPKIT__MP_* */
    int enc;                    /* SMTPKIT__ENC_*, chosen by prepare */
    smtpkit_source *src;        /* the caller's, or &own */
    smtpkit_source own;         /* for the *_mem setters */
    smtpkit_mem_source own_state;
    char *filename;             /* NULL = none */
    char *ctype;                /* attachments and inline parts */
    char *cid;                  /* inline parts */
    int64_t raw_size;           /* bytes the source must deliver, -1 = unknown */
    int64_t enc_size;           /* encoded bytes, -1 = unknown */
    int touched;                /* read since the last rewind */
} smtpkit__mpart;

/* One piece of the output: literal bytes of `lit`, or a part's content. */
typedef struct smtpkit__mseg {
    size_t off, len;            /* literal: range in lit */
    smtpkit__mpart *part;       /* non-NULL: encoded content of this part */
} smtpkit__mseg;

typedef struct smtpkit__mlist {
    void *v;
    size_t n, cap;
} smtpkit__mlist;

struct smtpkit_message {
    smtpkit_mem mem;
    unsigned opts;
    unsigned flags;             /* SMTPKIT_MESSAGE_* */
    int frozen;

    smtpkit__maddr from, sender;
    smtpkit__mlist to, cc, reply_to; /* of smtpkit__maddr */
    smtpkit__mlist bcc;              /* of char * */
    char *subject;
    int has_date;
    int64_t date;
    int zone;
    unsigned char unique[SMTPKIT_MESSAGE_UNIQUE_MAX];
    size_t nunique;
    char *msgid, *in_reply_to;      /* without <> */
    smtpkit__mlist refs;            /* of char *, without <> */
    smtpkit__mlist hdrs;            /* of smtpkit__mhdr */
    smtpkit__mpart *text, *html, *empty;
    smtpkit__mlist atts, inl;       /* of smtpkit__mpart * */

    const char **rcpts;             /* envelope cache */

    /* layout (prepare) */
    smtpkit__hbuf lit;
    smtpkit__mlist segs;            /* of smtpkit__mseg */
    size_t lit_mark;                /* lit bytes already in a segment */
    int64_t size;

    /* read-out */
    size_t seg, off;
    int started;
    int err;                        /* sticky read error */
    unsigned char *in;              /* SMTPKIT_MESSAGE_CHUNK input bytes */
    char *wbuf;                     /* SMTPKIT_MESSAGE_CHUNK for write() */
    size_t in_pos, in_len;
    int src_eof, finished, body_open;
    uint64_t src_total;
    smtpkit_base64_encoder b64;
    smtpkit__qp qp;
    char stage[16];
    size_t st_pos, st_len;
};

/* Growable arrays. */
int smtpkit__mlist_push(const smtpkit_mem *mem, smtpkit__mlist *l, const void *item, size_t size);

#endif /* SMTPKIT_MESSAGE_INTERNAL_H */
