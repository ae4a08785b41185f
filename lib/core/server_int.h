/* Private to the server session (server.c, server_text.c; the POSIX event
 * loop uses smtpkit__server_in_data). Not installed. */
#ifndef SMTPKIT_SERVER_INT_H
#define SMTPKIT_SERVER_INT_H

#include "internal.h"
#include "smtpkit/data.h"
#include "smtpkit/reply.h"
#include "smtpkit/server.h"

/* Session states. */
enum {
    SRV_NEW = 0,    /* before smtpkit_server_start() */
    SRV_GREETING,   /* on_connect paused */
    SRV_REFUSED,    /* 554 greeting: 503 to all but QUIT (RFC 5321 3.1) */
    SRV_CMD,        /* reading commands */
    SRV_AUTH,       /* inside an AUTH exchange */
    SRV_DATA,       /* DATA message bytes */
    SRV_BDAT,       /* BDAT chunk bytes (kept or discarded) */
    SRV_END,        /* the end of a message: final reply (or LMTP replies) pending */
    SRV_TLS_WAIT,   /* 220 to STARTTLS queued: waiting for the handshake */
    SRV_CLOSING     /* 221 or 421 queued (or EOF): input ignored */
};

/* What a pause waits for. */
enum {
    SRV_P_NONE = 0,
    SRV_P_CONNECT,
    SRV_P_HELO,
    SRV_P_MAIL,
    SRV_P_RCPT,
    SRV_P_DATA,
    SRV_P_BDAT,
    SRV_P_BODY,
    SRV_P_END,
    SRV_P_RSET,
    SRV_P_QUIT,
    SRV_P_CMD,
    SRV_P_AUTH
};

/* Why an open message failed (refused after its data). */
enum { SRV_F_NONE = 0, SRV_F_TOO_BIG, SRV_F_BARE, SRV_F_LONG };

struct smtpkit_server {
    const smtpkit_server_config *cfg;
    const smtpkit_server_callbacks *cb;
    void *user;
    smtpkit_mem mem;
    const smtpkit_server_auth_ops *auth;
    void *auth_ctx;

    uint64_t deadline;      /* in tick's time base */
    uint64_t msg_size;      /* message octets handed to on_body (without Received:) */
    unsigned long commands; /* commands this session */
    unsigned errors;        /* protocol errors */
    unsigned junk;          /* NOOP/VRFY/EXPN/HELP/RSET since the last message */
    unsigned nrcpt;         /* recipients accepted in this transaction */
    unsigned lmtp_next;     /* LMTP: next recipient to answer at the end of data */
    int fatal;              /* sticky fatal error (SMTPKIT_ERR_CALLBACK) */
    int close_reason;

    /* The output: pending bytes are out[out_off..out_len). */
    uint32_t out_cap, out_off, out_len;
    uint16_t line_cap, line_len; /* the partial command line in line[] */

    uint8_t state;
    uint8_t paused;         /* waiting for smtpkit_server_resume() (or AUTH's answer) */
    uint8_t pause;          /* SRV_P_* while paused */
    uint8_t started;
    uint8_t activity;       /* input or output moved since the last tick */
    uint8_t skipping;       /* discarding the rest of an over-long line */
    uint8_t eof;
    uint8_t tls;
    uint8_t authed;
    uint8_t auth_turn;      /* AUTH: 0 = provider's turn, 1 = waiting for the client's line */
    uint8_t helo_ok;        /* HELO/EHLO/LHLO accepted */
    uint8_t helo_verb;      /* smtpkit_verb of the accepted greeting */
    uint8_t helo_len;       /* bytes in helo[] */
    uint8_t pend_verb;      /* the verb of a paused HELO or on_command */
    uint8_t in_txn;         /* MAIL accepted */
    uint8_t txn_utf8;       /* SMTPUTF8 in this transaction */
    uint8_t txn_body;       /* smtpkit_body_type */
    uint8_t pend_utf8, pend_body; /* MAIL facts waiting for the decision */
    uint8_t msg_open;       /* on_data accepted, no on_data_end/on_abort yet */
    uint8_t msg_fail;       /* SRV_F_* */
    uint8_t recv_pending;   /* the Received: header is still to be handed over */
    uint8_t chunking;       /* the transaction uses BDAT */
    uint8_t bdat_discard;   /* the current chunk is thrown away (already answered) */
    uint8_t bdat_last;
    uint8_t ended;          /* LMTP: the message went to on_data_end at least once */
    uint8_t line_big;       /* SRV_AUTH: the partial line is in u.auth_line, not line[] */

    union {
        smtpkit_data_decoder dec;   /* SRV_DATA */
        smtpkit_bdat_counter bdat;  /* SRV_BDAT */
        char *auth_line;            /* SRV_AUTH with line_big: SMTPKIT__AUTH_LINE_MAX bytes */
    } u;
    /* followed by: out[out_cap], line[line_cap], helo[SMTPKIT_SERVER_HELO_MAX] */
};

/* ---- server_text.c: formatting of what goes on the wire ---- */

/* Format one reply (possibly multi-line) into dst[0..cap): "code[-| ]esc text"
 * lines with CRLF. `esc` may be NULL (none), `prefix` (NULL: none) is put before
 * the text of the first line, `text` lines are separated by '\n' and
 * sanitised (control and 8-bit bytes become '?'). Lines are cut at
 * SMTPKIT_REPLY_LINE_MAX; lines that do not fit in cap are dropped.
 * Returns the bytes written (0 when not even one line fits). */
size_t smtpkit__server_fmt_reply(char *dst, size_t cap, int code, const char *esc,
                                 const char *prefix, const char *text);

/* Non-zero when esc is "c.s.d" (1-3 digits each) with class c == code / 100. */
int smtpkit__server_esc_ok(const char *esc, int code);

/* Build the Received: header (RFC 5321 4.4) into dst; returns its length
 * (0 when cap is too small). */
size_t smtpkit__server_received(char *dst, size_t cap, const char *helo, size_t helo_len,
                                const smtpkit_server_trace *t, const char *host,
                                const char *proto);

/* Decimal of v into buf (at least 21 bytes); returns the length. */
size_t smtpkit__u64_dec(char *buf, uint64_t v);

/* RFC 4954 4: a response line in an AUTH exchange may be "much longer than
 * normal SMTP commands"; 12288 octets (with CRLF) is the sufficient limit it
 * names. Only a line that outgrows line[] gets a buffer this size, for the
 * time of that line. */
#define SMTPKIT__AUTH_LINE_MAX 12288

/* Bytes the Received: header can take at most. */
#define SMTPKIT__RECEIVED_MAX 1200

/* Non-zero while the session is inside message data (DATA, or a BDAT chunk
 * not yet complete) and not paused: what it is fed next is body bytes that
 * it takes whole. The event loop reads big then (one read for a 10 KiB
 * message instead of a small command-sized read and another). */
int smtpkit__server_in_data(const smtpkit_server *s);

#endif /* SMTPKIT_SERVER_INT_H */
