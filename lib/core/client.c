/* The client session: RFC 5321 from the sending side, sans I/O.
 *
 * Shape: commands are generated lazily into one bounded output buffer when
 * the caller asks for output (smtpkit_client_output() runs pump()); replies
 * are matched to a ring of commands in flight (RFC 2920 3.1: in order).
 * Transactions live in a ring too, their envelopes in one FIFO byte store
 * that grows only past its previous peak, so steady sending allocates
 * nothing. */
#include "client_internal.h"
#include "md5.h" /* smtpkit__wipe */
#include "smtpkit/base64.h"
#include "smtpkit/sasl.h"

enum phase {
    PH_GREETING, /* waiting for the 220 greeting */
    PH_HELLO,    /* EHLO/HELO/LHLO in flight */
    PH_STARTTLS, /* STARTTLS in flight */
    PH_TLS,      /* the transport is doing the TLS handshake */
    PH_AUTH,     /* AUTH exchange (hook, see auth_begin) */
    PH_READY,    /* mail transactions */
    PH_QUIT,     /* QUIT asked for or in flight */
    PH_DONE
};

enum tx_stage {
    TX_QUEUED = 0,
    TX_SCAN,       /* reading the body once to look for 8-bit bytes */
    TX_ENVELOPE,   /* emitting MAIL, RCPT..., DATA */
    TX_WAIT_RCPTS, /* BDAT: waiting for the envelope replies before the data */
    TX_WAIT_DATA,  /* DATA sent, waiting for 354 */
    TX_BODY,       /* streaming the body */
    TX_WAIT_END,   /* everything sent, waiting for the final reply */
    TX_DONE
};

#define CMD_NONE SMTPKIT_CLIENT_CMD_NONE
#define BDAT_HDR 32 /* room kept in front of a BDAT chunk for "BDAT n LAST\r\n" */
/* Output room for one AUTH line: base64 of the largest SASL message. */
#define AUTH_LINE_MAX (SMTPKIT_BASE64_ENCODED_LEN(SMTPKIT_SASL_MAX) + 16)

typedef struct pend {
    uint8_t cmd;  /* smtpkit_client_cmd */
    uint8_t last; /* BDAT ... LAST */
    uint32_t tx;  /* slot in the transaction ring */
    uint32_t rcpt;
} pend;

typedef struct client_tx {
    unsigned id;
    void *user;
    smtpkit_source *body;
    size_t base, size; /* region in the envelope store */
    size_t nrcpts;
    smtpkit__env_layout lay;
    unsigned flags;
    smtpkit_dsn_ret ret;
    int stage;
    int emit_step;     /* 0 MAIL, 1 RCPTs, 2 DATA */
    size_t emit_rcpt;
    unsigned npending; /* its commands in flight */
    size_t rcpt_replies, rcpt_ok;
    int mail_state;    /* 0 no reply, 1 accepted, 2 refused */
    int stop;          /* MAIL refused while pipelining: emit nothing more */
    int dot_only;      /* 354 with no recipient: send just "." */
    int bdat, bdat_failed;
    int body8, smtputf8, scanned8;
    size_t lmtp_left, lmtp_next, lmtp_ok;
    uint64_t body_bytes;
    int reported;
} client_tx;

struct smtpkit_client {
    smtpkit_mem mem;
    smtpkit_client_config cfg;
    char helo[256];
    size_t helo_len;
    const smtpkit_client_callbacks *cb;
    void *user;

    int phase;
    int err;
    int paused;
    int tls_active;
    int pipelining;
    int lmtp;
    int quit_asked;
    int hs_cmd; /* handshake command to send next, CMD_NONE when none */
    int need_rset;
    int source_blocked;
    int auth_cancelled; /* "*" sent; auth_err is why */
    int auth_err;
    const smtpkit_sasl_mech *mech; /* cfg.auth, or auto_mech */
    smtpkit_sasl_mech auto_mech;
    smtpkit_sasl_builtin auto_state;
    smtpkit_sasl_client sasl;

    smtpkit_reply_parser rp;
    smtpkit_reply_callbacks rp_cb;
    unsigned line_index;
    smtpkit_caps caps;

    pend pq[SMTPKIT__CLIENT_PEND_MAX];
    unsigned pq_head, pq_n;

    /* a refusal kept while pipelined replies are still coming */
    int saved_code;
    size_t saved_esc_len, saved_text_len;
    char saved_esc[16];
    char saved_text[SMTPKIT_REPLY_LINE_MAX];

    char *out;
    size_t out_cap, out_start, out_end;
    char *stg; /* body staging: source bytes before encoding */
    size_t stg_cap, stg_pos, stg_len;
    int stg_eof;
    size_t chunk_len; /* BDAT: bytes of the chunk being assembled */
    smtpkit_data_encoder enc;
    char line[SMTPKIT__CLIENT_CMD_MAX];

    client_tx *txs;
    unsigned tx_cap, tx_head, tx_count, tx_started;
    int cur; /* slot of the transaction being emitted, -1 = none */
    unsigned next_id;
    char *arena;
    size_t a_cap, a_max, a_lo, a_hi;

    uint64_t now, t_mark;
    int have_now;
};

/* ------------------------------------------------------------------------ */

const char *smtpkit_client_cmd_name(smtpkit_client_cmd cmd)
{
    switch (cmd) {
    case SMTPKIT_CLIENT_CMD_GREETING: return "greeting";
    case SMTPKIT_CLIENT_CMD_EHLO: return "EHLO";
    case SMTPKIT_CLIENT_CMD_HELO: return "HELO";
    case SMTPKIT_CLIENT_CMD_LHLO: return "LHLO";
    case SMTPKIT_CLIENT_CMD_STARTTLS: return "STARTTLS";
    case SMTPKIT_CLIENT_CMD_AUTH: return "AUTH";
    case SMTPKIT_CLIENT_CMD_MAIL: return "MAIL";
    case SMTPKIT_CLIENT_CMD_RCPT: return "RCPT";
    case SMTPKIT_CLIENT_CMD_DATA: return "DATA";
    case SMTPKIT_CLIENT_CMD_BODY: return "message";
    case SMTPKIT_CLIENT_CMD_BDAT: return "BDAT";
    case SMTPKIT_CLIENT_CMD_RSET: return "RSET";
    case SMTPKIT_CLIENT_CMD_QUIT: return "QUIT";
    case SMTPKIT_CLIENT_CMD_NONE: return "none";
    }
    return "unknown";
}

static int is_2xx(int code) { return code >= 200 && code < 300; }

static client_tx *tx_at(smtpkit_client *c, unsigned k)
{
    return &c->txs[(c->tx_head + k) % c->tx_cap];
}

static unsigned slot_of(const smtpkit_client *c, const client_tx *tx)
{
    return (unsigned)(tx - c->txs);
}

static const smtpkit__rcpt *rcpt_rec(const smtpkit_client *c, const client_tx *tx, size_t i)
{
    return (const smtpkit__rcpt *)(const void *)(c->arena + tx->base) + i;
}

static smtpkit__rcpt *rcpt_rec_mut(smtpkit_client *c, client_tx *tx, size_t i)
{
    return (smtpkit__rcpt *)(void *)(c->arena + tx->base) + i;
}

static smtpkit_view tx_str(const smtpkit_client *c, const client_tx *tx, uint32_t off,
                           uint32_t len)
{
    smtpkit_view v;
    v.ptr = c->arena + tx->base + off;
    v.len = len;
    return v;
}

/* A callback's return value: negative aborts the session, PAUSE pauses it.
 * Returns -1 when the session has ended. */
static void fail(smtpkit_client *c, int err, const smtpkit_reply *reply);

static int cb_ret(smtpkit_client *c, int rc)
{
    if (rc < 0) {
        fail(c, SMTPKIT_ERR_CALLBACK, NULL);
        return -1;
    }
    if (rc == SMTPKIT_PAUSE)
        c->paused = 1;
    return 0;
}

/* Nothing more may happen in this call: paused, ended, or waiting for TLS. */
static int stopped(const smtpkit_client *c)
{
    return c->paused || c->phase == PH_DONE || c->phase == PH_TLS;
}

/* ---- replies kept for later ------------------------------------------- */

static void save_reply(smtpkit_client *c, const smtpkit_reply *r)
{
    c->saved_code = r->code;
    c->saved_esc_len = SMTPKIT_MIN(r->esc.len, sizeof c->saved_esc);
    if (c->saved_esc_len)
        memcpy(c->saved_esc, r->esc.ptr, c->saved_esc_len);
    c->saved_text_len = SMTPKIT_MIN(r->text.len, sizeof c->saved_text);
    if (c->saved_text_len)
        memcpy(c->saved_text, r->text.ptr, c->saved_text_len);
}

static smtpkit_reply saved_reply(const smtpkit_client *c)
{
    smtpkit_reply r;
    r.code = c->saved_code;
    r.nlines = 1;
    r.esc.ptr = c->saved_esc;
    r.esc.len = c->saved_esc_len;
    r.text.ptr = c->saved_text;
    r.text.len = c->saved_text_len;
    return r;
}

/* ---- commands in flight ------------------------------------------------ */

static int pq_full(const smtpkit_client *c) { return c->pq_n >= SMTPKIT__CLIENT_PEND_MAX; }

static void pq_push(smtpkit_client *c, int cmd, client_tx *tx, size_t rcpt, int last)
{
    pend *p = &c->pq[(c->pq_head + c->pq_n) % SMTPKIT__CLIENT_PEND_MAX];
    if (c->pq_n == 0)
        c->t_mark = c->now; /* the reply timer starts now */
    p->cmd = (uint8_t)cmd;
    p->last = (uint8_t)(last != 0);
    p->tx = tx ? slot_of(c, tx) : 0;
    p->rcpt = (uint32_t)rcpt;
    c->pq_n++;
    if (tx)
        tx->npending++;
}

static void pq_pop(smtpkit_client *c)
{
    c->pq_head = (c->pq_head + 1) % SMTPKIT__CLIENT_PEND_MAX;
    c->pq_n--;
}

/* ---- output buffer ----------------------------------------------------- */

/* Room for n more bytes at out_end, compacting first if that helps. */
static char *out_reserve(smtpkit_client *c, size_t n)
{
    if (c->out_start == c->out_end) {
        if (c->out_end != 0)
            c->out_start = c->out_end = 0;
        c->t_mark = c->now; /* the write timer starts with new output */
    }
    if (c->out_cap - c->out_end < n && c->out_start > 0) {
        memmove(c->out, c->out + c->out_start, c->out_end - c->out_start);
        c->out_end -= c->out_start;
        c->out_start = 0;
    }
    return c->out_cap - c->out_end >= n ? c->out + c->out_end : NULL;
}

static size_t put(char *b, size_t n, const char *s, size_t len)
{
    if (len)
        memcpy(b + n, s, len);
    return n + len;
}

static size_t put_s(char *b, size_t n, const char *s) { return put(b, n, s, strlen(s)); }

static size_t put_u64(char *b, size_t n, uint64_t v)
{
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    while (i)
        b[n++] = tmp[--i];
    return n;
}

static int emit_event(smtpkit_client *c, int cmd, const char *line, size_t len, uint64_t bytes,
                      const client_tx *tx)
{
    smtpkit_client_command ev;
    if (!c->cb || !c->cb->on_command)
        return 0;
    ev.cmd = (smtpkit_client_cmd)cmd;
    ev.line.ptr = line;
    ev.line.len = len;
    ev.body_bytes = bytes;
    ev.tx_id = tx ? tx->id : 0;
    return cb_ret(c, c->cb->on_command(c->user, &ev));
}

/* Put c->line[0..len) plus CRLF into the output and expect a reply.
 * Returns 1 when written, 0 when there is no room. */
static int emit(smtpkit_client *c, int cmd, client_tx *tx, size_t rcpt, size_t len)
{
    char *p = out_reserve(c, len + 2);
    if (!p)
        return 0;
    memcpy(p, c->line, len);
    p[len] = '\r';
    p[len + 1] = '\n';
    c->out_end += len + 2;
    pq_push(c, cmd, tx, rcpt, 0);
    emit_event(c, cmd, c->line, len, 0, tx);
    return 1;
}

/* ---- transactions: results ---------------------------------------------- */

static smtpkit_client_cmd tx_stage_cmd(const client_tx *tx)
{
    switch (tx->stage) {
    case TX_QUEUED:
    case TX_SCAN: return SMTPKIT_CLIENT_CMD_NONE;
    case TX_ENVELOPE:
    case TX_WAIT_RCPTS:
    case TX_WAIT_DATA:
        /* the reply being waited for */
        if (tx->mail_state == 0)
            return SMTPKIT_CLIENT_CMD_MAIL;
        if (tx->rcpt_replies < tx->nrcpts || tx->stage != TX_WAIT_DATA)
            return SMTPKIT_CLIENT_CMD_RCPT;
        return SMTPKIT_CLIENT_CMD_DATA;
    default: return tx->bdat ? SMTPKIT_CLIENT_CMD_BDAT : SMTPKIT_CLIENT_CMD_BODY;
    }
}

static void tx_finish(smtpkit_client *c, client_tx *tx, smtpkit_tx_status status, int err,
                      smtpkit_client_cmd stage, const smtpkit_reply *reply, size_t naccepted)
{
    smtpkit_client_tx_result res;
    if (tx->reported)
        return;
    tx->reported = 1;
    tx->stage = TX_DONE;
    if (c->cur >= 0 && (unsigned)c->cur == slot_of(c, tx))
        c->cur = -1;
    if (!c->cb || !c->cb->on_tx_done)
        return;
    res.tx_id = tx->id;
    res.tx_user = tx->user;
    res.status = status;
    res.err = err;
    res.stage = stage;
    res.reply = reply;
    res.naccepted = naccepted;
    res.nrefused = tx->nrcpts - naccepted;
    res.body_bytes = tx->body_bytes;
    if (c->phase == PH_DONE || c->err)
        (void)c->cb->on_tx_done(c->user, &res); /* the session is ending anyway */
    else
        cb_ret(c, c->cb->on_tx_done(c->user, &res));
}

static void tx_fail_local(smtpkit_client *c, client_tx *tx, int err)
{
    tx_finish(c, tx, SMTPKIT_TX_FAILED, err, tx_stage_cmd(tx), NULL, 0);
}

/* No recipient accepted, or MAIL refused: the saved refusal decides. */
static void tx_refused_envelope(smtpkit_client *c, client_tx *tx, const smtpkit_reply *live)
{
    smtpkit_reply r = saved_reply(c);
    const smtpkit_reply *use = c->saved_code ? &r : live;
    tx_finish(c, tx, SMTPKIT_TX_REJECTED, SMTPKIT_ERR_REJECTED,
              tx->mail_state == 2 ? SMTPKIT_CLIENT_CMD_MAIL : SMTPKIT_CLIENT_CMD_RCPT, use, 0);
}

/* Free transactions at the head of the ring that are over. */
static void release(smtpkit_client *c)
{
    while (c->tx_count) {
        client_tx *tx = &c->txs[c->tx_head];
        if (!tx->reported || tx->npending || (c->cur >= 0 && (unsigned)c->cur == c->tx_head))
            break;
        c->tx_head = (c->tx_head + 1) % c->tx_cap;
        c->tx_count--;
        if (c->tx_started)
            c->tx_started--;
        if (c->tx_count == 0)
            c->a_lo = c->a_hi = 0;
        else
            c->a_lo = c->txs[c->tx_head].base;
    }
}

static void report_all(smtpkit_client *c, int err, const smtpkit_reply *reply)
{
    unsigned k;
    for (k = 0; k < c->tx_count; k++) {
        client_tx *tx = tx_at(c, k);
        if (!tx->reported)
            tx_finish(c, tx, SMTPKIT_TX_FAILED, err, tx_stage_cmd(tx), reply, 0);
    }
}

/* The session is over: no more I/O. Every transaction not yet reported is
 * reported as failed with `err`. */
static void fail(smtpkit_client *c, int err, const smtpkit_reply *reply)
{
    if (c->phase == PH_DONE)
        return;
    c->phase = PH_DONE;
    if (!c->err)
        c->err = err;
    c->out_start = c->out_end = 0;
    c->pq_n = 0;
    c->hs_cmd = CMD_NONE;
    c->cur = -1;
    report_all(c, c->err, reply);
    c->tx_count = c->tx_started = 0;
    if (c->cb && c->cb->on_error)
        (void)c->cb->on_error(c->user, c->err, reply);
}

/* The server refused the session (greeting, HELO, TLS policy): report,
 * then say QUIT politely (RFC 5321 3.1 for a 554 greeting). */
static void refuse(smtpkit_client *c, int err, const smtpkit_reply *reply)
{
    if (c->phase == PH_DONE || c->err)
        return;
    c->err = err;
    c->phase = PH_QUIT;
    c->hs_cmd = SMTPKIT_CLIENT_CMD_QUIT;
    c->cur = -1;
    report_all(c, err, reply);
    if (c->cb && c->cb->on_error)
        (void)c->cb->on_error(c->user, err, reply);
}

/* ---- handshake --------------------------------------------------------- */

static void ready(smtpkit_client *c)
{
    c->phase = PH_READY;
    c->pipelining = (c->caps.flags & SMTPKIT_CAP_PIPELINING) &&
                    !(c->cfg.flags & SMTPKIT_CLIENT_NO_PIPELINING);
    if (c->cb && c->cb->on_ready)
        cb_ret(c, c->cb->on_ready(c->user, &c->caps));
}

/* Is the mechanism in the server's AUTH list? (RFC 4954 3) */
static int auth_offered(const smtpkit_client *c, const char *name)
{
    size_t nlen = strlen(name), i = 0;
    const char *l = c->caps.auth_list.ptr;
    size_t len = c->caps.auth_list.len;
    unsigned flag = smtpkit_sasl_mech_from_name(name, nlen);
    if (flag && (c->caps.auth & flag))
        return 1;
    while (l && i < len) {
        size_t j = i;
        while (j < len && l[j] != ' ')
            j++;
        if (j - i == nlen && smtpkit__iprefix(l + i, nlen, name))
            return 1;
        i = j + 1;
    }
    return 0;
}

/*
 * AUTH (RFC 4954) runs after the last EHLO (after STARTTLS when TLS is
 * used) and before the first MAIL, through the pluggable mechanism in
 * cfg.auth (sasl.h). Credentials never go out in clear unless the caller
 * allowed it; a mechanism the server does not offer ends the session
 * rather than sending mail unauthenticated.
 */
static void auth_begin(smtpkit_client *c)
{
    const smtpkit_sasl_mech *m = c->cfg.auth;
    c->phase = PH_AUTH;
    if (!c->tls_active && !c->cfg.auth_allow_plaintext) {
        refuse(c, SMTPKIT_ERR_TLS_REQUIRED, NULL);
        return;
    }
    if (!m) {
        /* the best built-in mechanism the server offers for these credentials */
        unsigned sel = smtpkit_sasl_select(c->caps.auth, c->cfg.auth_creds,
                                           SMTPKIT_SASL_SELECT_TLS |
                                               SMTPKIT_SASL_SELECT_ALLOW_PLAINTEXT);
        if (!sel || smtpkit_sasl_builtin_init(&c->auto_mech, &c->auto_state, sel,
                                              c->cfg.auth_creds) != 0) {
            refuse(c, SMTPKIT_ERR_NOT_SUPPORTED, NULL);
            return;
        }
        m = &c->auto_mech;
    }
    c->mech = m;
    if (!m->name || !(c->caps.flags & SMTPKIT_CAP_AUTH) || !auth_offered(c, m->name)) {
        refuse(c, SMTPKIT_ERR_NOT_SUPPORTED, NULL);
        return;
    }
    smtpkit_sasl_client_init(&c->sasl, m);
    c->auth_cancelled = 0;
    c->auth_err = 0;
    c->hs_cmd = SMTPKIT_CLIENT_CMD_AUTH;
}

static void after_hello(smtpkit_client *c)
{
    smtpkit_client_tls tls = c->cfg.tls;
    if ((tls == SMTPKIT_CLIENT_TLS_STARTTLS || tls == SMTPKIT_CLIENT_TLS_STARTTLS_OPTIONAL) &&
        !c->tls_active) {
        if (c->caps.flags & SMTPKIT_CAP_STARTTLS) {
            c->phase = PH_STARTTLS;
            c->hs_cmd = SMTPKIT_CLIENT_CMD_STARTTLS;
            return;
        }
        if (tls == SMTPKIT_CLIENT_TLS_STARTTLS) {
            /* RFC 3207 4: a client that requires TLS ends the session here,
             * before any envelope or credential. */
            refuse(c, SMTPKIT_ERR_TLS_REQUIRED, NULL);
            return;
        }
    }
    if (c->cfg.auth || c->cfg.auth_creds) {
        auth_begin(c);
        return;
    }
    ready(c);
}

static void on_greeting(smtpkit_client *c, const smtpkit_reply *r)
{
    if (r->code == 220) {
        c->phase = PH_HELLO;
        c->hs_cmd = c->lmtp ? SMTPKIT_CLIENT_CMD_LHLO : SMTPKIT_CLIENT_CMD_EHLO;
    } else if (r->code == 421) {
        /* the server closes right away */
        fail(c, SMTPKIT_ERR_GREETING, r);
    } else {
        refuse(c, SMTPKIT_ERR_GREETING, r);
    }
}

static void on_hello(smtpkit_client *c, int cmd, const smtpkit_reply *r)
{
    if (r->code == 250) {
        if (cmd == SMTPKIT_CLIENT_CMD_HELO)
            smtpkit_caps_init(&c->caps);
        after_hello(c);
        return;
    }
    /* RFC 5321 3.2: a server that does not know EHLO answers 500 or 502
     * (501/504 from some old ones); fall back to HELO. Not for LHLO
     * (RFC 2033 4.1: LMTP has no HELO). */
    if (cmd == SMTPKIT_CLIENT_CMD_EHLO &&
        (r->code == 500 || r->code == 501 || r->code == 502 || r->code == 504)) {
        smtpkit_caps_init(&c->caps);
        c->hs_cmd = SMTPKIT_CLIENT_CMD_HELO;
        return;
    }
    refuse(c, SMTPKIT_ERR_GREETING, r);
}

static void on_starttls_reply(smtpkit_client *c, const smtpkit_reply *r)
{
    if (r->code == 220) {
        c->phase = PH_TLS;
        c->out_start = c->out_end = 0;
        if (c->cb && c->cb->on_starttls)
            cb_ret(c, c->cb->on_starttls(c->user));
        return;
    }
    if (c->cfg.tls == SMTPKIT_CLIENT_TLS_STARTTLS) {
        refuse(c, SMTPKIT_ERR_TLS_REQUIRED, r);
        return;
    }
    /* opportunistic: go on in clear */
    if (c->cfg.auth || c->cfg.auth_creds) {
        auth_begin(c);
        return;
    }
    ready(c);
}

/* ---- transactions: replies ---------------------------------------------- */

static void start_body(smtpkit_client *c, client_tx *tx)
{
    tx->stage = TX_BODY;
    smtpkit_data_encoder_init(&c->enc, tx->bdat ? SMTPKIT_DATA_ENC_NO_STUFF : 0);
    c->stg_pos = c->stg_len = 0;
    c->stg_eof = 0;
    c->chunk_len = 0;
}

/* Envelope replies are all in and nothing more will be emitted: decide. */
static void envelope_settle(smtpkit_client *c, client_tx *tx, const smtpkit_reply *live)
{
    if (tx->npending || tx->reported)
        return;
    if (tx->stage == TX_ENVELOPE && tx->stop) {
        tx_refused_envelope(c, tx, live);
    } else if (tx->stage == TX_WAIT_RCPTS) {
        if (tx->mail_state != 1 || tx->rcpt_ok == 0) {
            if (tx->mail_state == 1)
                c->need_rset = 1;
            tx_refused_envelope(c, tx, live);
        } else {
            start_body(c, tx);
        }
    }
}

static void on_mail(smtpkit_client *c, client_tx *tx, const smtpkit_reply *r)
{
    tx->npending--;
    if (is_2xx(r->code)) {
        tx->mail_state = 1;
        return;
    }
    tx->mail_state = 2;
    tx->stop = 1;
    save_reply(c, r);
    envelope_settle(c, tx, r);
}

static void on_rcpt(smtpkit_client *c, client_tx *tx, size_t i, const smtpkit_reply *r)
{
    smtpkit__rcpt *rec = rcpt_rec_mut(c, tx, i);
    tx->npending--;
    tx->rcpt_replies++;
    if (is_2xx(r->code)) {
        rec->state = 1;
        tx->rcpt_ok++;
    } else {
        rec->state = 2;
        if (tx->mail_state != 2)
            save_reply(c, r);
    }
    if (c->cb && c->cb->on_rcpt) {
        smtpkit_client_rcpt_result res;
        res.tx_id = tx->id;
        res.tx_user = tx->user;
        res.index = i;
        res.mailbox = tx_str(c, tx, rec->mb_off, rec->mb_len);
        res.after_data = 0;
        res.reply = r;
        if (cb_ret(c, c->cb->on_rcpt(c->user, &res)) < 0)
            return;
    }
    envelope_settle(c, tx, r);
}

static void on_data(smtpkit_client *c, client_tx *tx, const smtpkit_reply *r)
{
    tx->npending--;
    if (r->code == 354) {
        start_body(c, tx);
        /* RFC 2920 3.1: a server should refuse DATA when no RCPT was
         * accepted; one that says 354 anyway gets an empty message. */
        if (tx->rcpt_ok == 0 || tx->mail_state != 1)
            tx->dot_only = 1;
        return;
    }
    if (tx->mail_state == 1)
        c->need_rset = 1; /* a transaction is open on the server */
    if (tx->mail_state != 1 || tx->rcpt_ok == 0)
        tx_refused_envelope(c, tx, r);
    else
        tx_finish(c, tx, SMTPKIT_TX_REJECTED, SMTPKIT_ERR_REJECTED, SMTPKIT_CLIENT_CMD_DATA, r, 0);
}

/* LMTP (RFC 2033 4.2): one reply per accepted recipient, in RCPT order.
 * Returns 1 when it was the last one. */
static int on_lmtp_data(smtpkit_client *c, client_tx *tx, const smtpkit_reply *r, int cmd)
{
    size_t i = tx->lmtp_next;
    while (i < tx->nrcpts && rcpt_rec(c, tx, i)->state != 1)
        i++;
    tx->lmtp_next = i + 1;
    if (is_2xx(r->code))
        tx->lmtp_ok++;
    tx->lmtp_left--;
    if (i < tx->nrcpts && c->cb && c->cb->on_rcpt) {
        const smtpkit__rcpt *rec = rcpt_rec(c, tx, i);
        smtpkit_client_rcpt_result res;
        res.tx_id = tx->id;
        res.tx_user = tx->user;
        res.index = i;
        res.mailbox = tx_str(c, tx, rec->mb_off, rec->mb_len);
        res.after_data = 1;
        res.reply = r;
        if (cb_ret(c, c->cb->on_rcpt(c->user, &res)) < 0)
            return 1;
    }
    if (tx->lmtp_left)
        return 0;
    tx_finish(c, tx,
              tx->lmtp_ok == tx->nrcpts ? SMTPKIT_TX_ACCEPTED
              : tx->lmtp_ok             ? SMTPKIT_TX_PARTIAL
                                        : SMTPKIT_TX_REJECTED,
              tx->lmtp_ok ? 0 : SMTPKIT_ERR_REJECTED, (smtpkit_client_cmd)cmd, r, tx->lmtp_ok);
    return 1;
}

static void on_end(smtpkit_client *c, client_tx *tx, const smtpkit_reply *r)
{
    if (tx->dot_only) {
        tx_refused_envelope(c, tx, r);
    } else if (is_2xx(r->code)) {
        tx_finish(c, tx, tx->rcpt_ok == tx->nrcpts ? SMTPKIT_TX_ACCEPTED : SMTPKIT_TX_PARTIAL, 0,
                  SMTPKIT_CLIENT_CMD_BODY, r, tx->rcpt_ok);
    } else {
        tx_finish(c, tx, SMTPKIT_TX_REJECTED, SMTPKIT_ERR_REJECTED, SMTPKIT_CLIENT_CMD_BODY, r, 0);
    }
}

static void bdat_settle(smtpkit_client *c, client_tx *tx, const smtpkit_reply *live)
{
    smtpkit_reply r;
    if (tx->npending || tx->reported || tx->stage != TX_WAIT_END)
        return;
    if (tx->bdat_failed) {
        /* RFC 3030 2: after a failed chunk the transaction is failed; RSET
         * clears whatever the server still holds. */
        r = saved_reply(c);
        c->need_rset = 1;
        tx_finish(c, tx, SMTPKIT_TX_REJECTED, SMTPKIT_ERR_REJECTED, SMTPKIT_CLIENT_CMD_BDAT, &r, 0);
    } else if (live) {
        tx_finish(c, tx, tx->rcpt_ok == tx->nrcpts ? SMTPKIT_TX_ACCEPTED : SMTPKIT_TX_PARTIAL, 0,
                  SMTPKIT_CLIENT_CMD_BDAT, live, tx->rcpt_ok);
    }
}

static void auth_done(smtpkit_client *c)
{
    smtpkit_sasl_client_finish(&c->sasl);
    /* the AUTH lines went out through the output buffer: wipe it */
    if (c->out_start == c->out_end)
        smtpkit__wipe(c->out, c->out_cap);
}

static void on_auth_reply(smtpkit_client *c, const smtpkit_reply *r)
{
    if (r->code == 334 && !c->auth_cancelled) {
        /* RFC 4954 4: answer the challenge, or cancel with "*" */
        smtpkit_ssize n;
        char *p = out_reserve(c, AUTH_LINE_MAX);
        const char *shown = "****";
        if (!p) {
            auth_done(c);
            fail(c, SMTPKIT_ERR_INTERNAL, r);
            return;
        }
        n = smtpkit_sasl_client_step(&c->sasl, r->text.ptr, r->text.len, p, AUTH_LINE_MAX);
        if (n < 0) {
            c->auth_err = (int)n;
            c->auth_cancelled = 1;
            n = smtpkit_sasl_client_cancel(&c->sasl, p, AUTH_LINE_MAX);
            shown = "*";
        }
        if (n < 0) {
            auth_done(c);
            fail(c, SMTPKIT_ERR_INTERNAL, r);
            return;
        }
        c->out_end += (size_t)n;
        pq_push(c, SMTPKIT_CLIENT_CMD_AUTH, NULL, 0, 0);
        emit_event(c, SMTPKIT_CLIENT_CMD_AUTH, shown, strlen(shown), 0, NULL);
        return;
    }
    auth_done(c);
    if (r->code == 235 && !c->auth_cancelled) {
        ready(c);
        return;
    }
    if (c->auth_cancelled)
        refuse(c, c->auth_err <= SMTPKIT_ERR_FATAL ? c->auth_err : SMTPKIT_ERR_AUTH, r);
    else
        refuse(c, smtpkit_sasl_client_outcome(r->code), r);
}

/* Handle the reply to the command at the front of the ring. */
static void dispatch(smtpkit_client *c, const smtpkit_reply *r)
{
    pend f = c->pq[c->pq_head];
    client_tx *tx = &c->txs[f.tx];

    if (r->code == 421 && f.cmd != SMTPKIT_CLIENT_CMD_GREETING &&
        f.cmd != SMTPKIT_CLIENT_CMD_QUIT) {
        /* RFC 5321 3.8: the server is closing the channel. */
        fail(c, SMTPKIT_ERR_CLOSED, r);
        return;
    }
    switch (f.cmd) {
    case SMTPKIT_CLIENT_CMD_GREETING:
        pq_pop(c);
        on_greeting(c, r);
        break;
    case SMTPKIT_CLIENT_CMD_EHLO:
    case SMTPKIT_CLIENT_CMD_HELO:
    case SMTPKIT_CLIENT_CMD_LHLO:
        pq_pop(c);
        on_hello(c, f.cmd, r);
        break;
    case SMTPKIT_CLIENT_CMD_STARTTLS:
        pq_pop(c);
        on_starttls_reply(c, r);
        break;
    case SMTPKIT_CLIENT_CMD_AUTH:
        pq_pop(c);
        on_auth_reply(c, r);
        break;
    case SMTPKIT_CLIENT_CMD_MAIL:
        pq_pop(c);
        on_mail(c, tx, r);
        break;
    case SMTPKIT_CLIENT_CMD_RCPT:
        pq_pop(c);
        on_rcpt(c, tx, f.rcpt, r);
        break;
    case SMTPKIT_CLIENT_CMD_DATA:
        pq_pop(c);
        on_data(c, tx, r);
        break;
    case SMTPKIT_CLIENT_CMD_BODY:
        if (c->lmtp && !tx->dot_only) {
            if (!on_lmtp_data(c, tx, r, SMTPKIT_CLIENT_CMD_BODY))
                break;
            pq_pop(c);
            tx->npending--;
            break;
        }
        pq_pop(c);
        tx->npending--;
        on_end(c, tx, r);
        break;
    case SMTPKIT_CLIENT_CMD_BDAT:
        if (f.last && c->lmtp && !tx->bdat_failed) {
            if (!on_lmtp_data(c, tx, r, SMTPKIT_CLIENT_CMD_BDAT))
                break;
            pq_pop(c);
            tx->npending--;
            break;
        }
        pq_pop(c);
        tx->npending--;
        if (!is_2xx(r->code) && !tx->bdat_failed) {
            tx->bdat_failed = 1;
            save_reply(c, r);
        }
        bdat_settle(c, tx, r);
        break;
    case SMTPKIT_CLIENT_CMD_RSET:
        pq_pop(c);
        break;
    case SMTPKIT_CLIENT_CMD_QUIT:
        pq_pop(c);
        c->phase = PH_DONE;
        break;
    default:
        pq_pop(c);
        fail(c, SMTPKIT_ERR_INTERNAL, r);
        break;
    }
}

static int rp_on_line(void *u, const smtpkit_reply_line *line)
{
    smtpkit_client *c = (smtpkit_client *)u;
    if (c->phase == PH_DONE)
        return SMTPKIT_PAUSE;
    if (c->cb && c->cb->on_reply_line &&
        cb_ret(c, c->cb->on_reply_line(c->user, line)) < 0)
        return SMTPKIT_PAUSE;
    if (c->pq_n) {
        int cmd = c->pq[c->pq_head].cmd;
        if ((cmd == SMTPKIT_CLIENT_CMD_EHLO || cmd == SMTPKIT_CLIENT_CMD_LHLO) && line->code == 250)
            (void)smtpkit_caps_add_line(&c->caps, c->line_index++, line);
    }
    return stopped(c) ? SMTPKIT_PAUSE : 0;
}

static int rp_on_reply(void *u, const smtpkit_reply *r)
{
    smtpkit_client *c = (smtpkit_client *)u;
    if (c->phase == PH_DONE)
        return SMTPKIT_PAUSE;
    c->t_mark = c->now;
    c->line_index = 0;
    if (c->pq_n == 0) {
        /* RFC 5321 3.8: 421 may come at any time; anything else unasked
         * means we no longer know which reply answers what. */
        fail(c, r->code == 421 ? SMTPKIT_ERR_CLOSED : SMTPKIT_ERR_PROTOCOL, r);
        return SMTPKIT_PAUSE;
    }
    if (c->cb && c->cb->on_reply &&
        cb_ret(c, c->cb->on_reply(c->user, (smtpkit_client_cmd)c->pq[c->pq_head].cmd, r)) < 0)
        return SMTPKIT_PAUSE;
    dispatch(c, r);
    release(c);
    return stopped(c) ? SMTPKIT_PAUSE : 0;
}

/* ---- output generation -------------------------------------------------- */

static int emit_auth(smtpkit_client *c)
{
    smtpkit_ssize n;
    size_t shown;
    char *p = out_reserve(c, AUTH_LINE_MAX);
    if (!p)
        return 0;
    c->hs_cmd = CMD_NONE;
    n = smtpkit_sasl_client_start(&c->sasl, p, AUTH_LINE_MAX);
    if (n < 0) {
        auth_done(c);
        refuse(c, (int)n <= SMTPKIT_ERR_FATAL ? (int)n : SMTPKIT_ERR_AUTH, NULL);
        return 1;
    }
    c->out_end += (size_t)n;
    pq_push(c, SMTPKIT_CLIENT_CMD_AUTH, NULL, 0, 0);
    /* the log shows "AUTH NAME" and, when present, a masked response */
    shown = put_s(c->line, 0, "AUTH ");
    shown = put_s(c->line, shown, c->mech->name);
    if ((size_t)n > shown + 2)
        shown = put_s(c->line, shown, " ****");
    emit_event(c, SMTPKIT_CLIENT_CMD_AUTH, c->line, shown, 0, NULL);
    return 1;
}

static int emit_hs(smtpkit_client *c)
{
    size_t n = 0;
    int cmd = c->hs_cmd;
    if (cmd == SMTPKIT_CLIENT_CMD_AUTH)
        return emit_auth(c);
    switch (cmd) {
    case SMTPKIT_CLIENT_CMD_EHLO: n = put_s(c->line, 0, "EHLO "); break;
    case SMTPKIT_CLIENT_CMD_HELO: n = put_s(c->line, 0, "HELO "); break;
    case SMTPKIT_CLIENT_CMD_LHLO: n = put_s(c->line, 0, "LHLO "); break;
    case SMTPKIT_CLIENT_CMD_STARTTLS: n = put_s(c->line, 0, "STARTTLS"); break;
    case SMTPKIT_CLIENT_CMD_QUIT: n = put_s(c->line, 0, "QUIT"); break;
    default: fail(c, SMTPKIT_ERR_INTERNAL, NULL); return 0;
    }
    if (cmd == SMTPKIT_CLIENT_CMD_EHLO || cmd == SMTPKIT_CLIENT_CMD_HELO ||
        cmd == SMTPKIT_CLIENT_CMD_LHLO) {
        n = put(c->line, n, c->helo, c->helo_len);
        smtpkit_caps_init(&c->caps);
        c->line_index = 0;
    }
    c->hs_cmd = CMD_NONE;
    if (cmd == SMTPKIT_CLIENT_CMD_QUIT)
        c->phase = PH_QUIT;
    if (!emit(c, cmd, NULL, 0, n)) {
        c->hs_cmd = cmd;
        return 0;
    }
    return 1;
}

static int tx_prepare(smtpkit_client *c, client_tx *tx)
{
    unsigned caps = c->caps.flags;
    const smtpkit_source *b = tx->body;

    tx->smtputf8 = tx->lay.utf8 || (tx->flags & SMTPKIT_ENV_SMTPUTF8);
    tx->bdat = (c->cfg.flags & SMTPKIT_CLIENT_BDAT) && (caps & SMTPKIT_CAP_CHUNKING);
    /* RFC 6531 3.4: no SMTPUTF8, no UTF-8 envelope or headers. */
    if (tx->smtputf8 && !(caps & SMTPKIT_CAP_SMTPUTF8)) {
        tx_fail_local(c, tx, SMTPKIT_ERR_NEED_SMTPUTF8);
        return 0;
    }
    /* RFC 1870 6.1: do not send a message the server said it will refuse. */
    if (b->size >= 0 && (caps & SMTPKIT_CAP_SIZE) && c->caps.size_max &&
        (uint64_t)b->size > c->caps.size_max) {
        tx_fail_local(c, tx, SMTPKIT_ERR_TOO_BIG);
        return 0;
    }
    if (tx->flags & SMTPKIT_ENV_8BIT) {
        /* RFC 6152 3: 8-bit data only to a server that offers 8BITMIME. */
        if (!(caps & SMTPKIT_CAP_8BITMIME)) {
            tx_fail_local(c, tx, SMTPKIT_ERR_NEED_8BITMIME);
            return 0;
        }
        tx->body8 = 1;
    } else if (tx->flags & SMTPKIT_ENV_7BIT) {
        tx->body8 = 0;
    } else if (tx->smtputf8) {
        tx->body8 = (caps & SMTPKIT_CAP_8BITMIME) != 0;
    } else if (b->rewind && (!(caps & SMTPKIT_CAP_8BITMIME) ||
                             (b->size >= 0 && b->size <= SMTPKIT__SCAN_LIMIT))) {
        tx->stage = TX_SCAN;
        return 1;
    } else {
        /* Unknown content that cannot be scanned: declaring 8BITMIME for a
         * 7-bit body is harmless (RFC 6152 3), the reverse is not. */
        tx->body8 = (caps & SMTPKIT_CAP_8BITMIME) != 0;
    }
    tx->stage = TX_ENVELOPE;
    return 1;
}

static int has_8bit(const char *p, size_t n)
{
    size_t i;
    unsigned char acc = 0;
    for (i = 0; i < n; i++)
        acc |= (unsigned char)p[i];
    return (acc & 0x80) != 0;
}

/* Read the body once to learn whether it holds 8-bit bytes, then rewind. */
static int tx_scan(smtpkit_client *c, client_tx *tx)
{
    smtpkit_source *b = tx->body;
    int r;
    for (;;) {
        smtpkit_ssize n = b->read(b->ctx, c->stg, c->stg_cap);
        if (n == SMTPKIT_ERR_WOULDBLOCK) {
            c->source_blocked = 1;
            return 0;
        }
        if (n < 0) {
            tx_fail_local(c, tx, (int)n);
            return 1;
        }
        if (n == 0)
            break;
        if (has_8bit(c->stg, (size_t)n)) {
            tx->scanned8 = 1;
            break;
        }
    }
    r = b->rewind(b->ctx);
    if (r < 0) {
        tx_fail_local(c, tx, r);
        return 1;
    }
    if (tx->scanned8) {
        if (!(c->caps.flags & SMTPKIT_CAP_8BITMIME)) {
            tx_fail_local(c, tx, SMTPKIT_ERR_NEED_8BITMIME);
            return 1;
        }
        tx->body8 = 1;
    }
    tx->stage = TX_ENVELOPE;
    return 1;
}

static size_t build_mail(smtpkit_client *c, const client_tx *tx)
{
    unsigned caps = c->caps.flags;
    smtpkit_view from = tx_str(c, tx, tx->lay.from_off, tx->lay.from_len);
    size_t n = put_s(c->line, 0, "MAIL FROM:<");
    n = put(c->line, n, from.ptr, from.len);
    n = put_s(c->line, n, ">");
    if ((caps & SMTPKIT_CAP_SIZE) && tx->body->size >= 0) {
        n = put_s(c->line, n, " SIZE=");
        n = put_u64(c->line, n, (uint64_t)tx->body->size);
    }
    if (tx->body8)
        n = put_s(c->line, n, " BODY=8BITMIME");
    if (tx->smtputf8)
        n = put_s(c->line, n, " SMTPUTF8");
    if (caps & SMTPKIT_CAP_DSN) {
        if (tx->ret == SMTPKIT_DSN_RET_FULL)
            n = put_s(c->line, n, " RET=FULL");
        else if (tx->ret == SMTPKIT_DSN_RET_HDRS)
            n = put_s(c->line, n, " RET=HDRS");
        if (tx->lay.envid_len) {
            smtpkit_view e = tx_str(c, tx, tx->lay.envid_off, tx->lay.envid_len);
            n = put_s(c->line, n, " ENVID=");
            n = put(c->line, n, e.ptr, e.len);
        }
    }
    return n;
}

static size_t build_rcpt(smtpkit_client *c, const client_tx *tx, size_t i)
{
    const smtpkit__rcpt *rec = rcpt_rec(c, tx, i);
    smtpkit_view mb = tx_str(c, tx, rec->mb_off, rec->mb_len);
    size_t n = put_s(c->line, 0, "RCPT TO:<");
    n = put(c->line, n, mb.ptr, mb.len);
    n = put_s(c->line, n, ">");
    if (c->caps.flags & SMTPKIT_CAP_DSN) {
        if (rec->notify) {
            const char *sep = "";
            n = put_s(c->line, n, " NOTIFY=");
            if (rec->notify & SMTPKIT_DSN_NOTIFY_NEVER)
                n = put_s(c->line, n, "NEVER");
            if (rec->notify & SMTPKIT_DSN_NOTIFY_SUCCESS) {
                n = put_s(c->line, n, "SUCCESS");
                sep = ",";
            }
            if (rec->notify & SMTPKIT_DSN_NOTIFY_FAILURE) {
                n = put_s(c->line, n, sep);
                n = put_s(c->line, n, "FAILURE");
                sep = ",";
            }
            if (rec->notify & SMTPKIT_DSN_NOTIFY_DELAY) {
                n = put_s(c->line, n, sep);
                n = put_s(c->line, n, "DELAY");
            }
        }
        if (rec->orcpt_len) {
            smtpkit_view o = tx_str(c, tx, rec->orcpt_off, rec->orcpt_len);
            n = put_s(c->line, n, " ORCPT=");
            n = put(c->line, n, o.ptr, o.len);
        }
    }
    return n;
}

/* MAIL, every RCPT and DATA: in one flight when pipelining (RFC 2920 3.1:
 * DATA last in the group), one at a time otherwise. Returns 1 on progress. */
static int tx_envelope(smtpkit_client *c, client_tx *tx)
{
    int progress = 0;
    while (tx->stage == TX_ENVELOPE && !stopped(c)) {
        size_t n;
        if (tx->stop)
            return progress; /* MAIL refused: the last reply decides */
        if ((!c->pipelining && c->pq_n) || pq_full(c))
            return progress;
        if (tx->emit_step == 0) {
            n = build_mail(c, tx);
            if (!emit(c, SMTPKIT_CLIENT_CMD_MAIL, tx, 0, n))
                return progress;
            tx->emit_step = 1;
        } else if (tx->emit_step == 1) {
            n = build_rcpt(c, tx, tx->emit_rcpt);
            if (!emit(c, SMTPKIT_CLIENT_CMD_RCPT, tx, tx->emit_rcpt, n))
                return progress;
            if (++tx->emit_rcpt == tx->nrcpts)
                tx->emit_step = 2;
        } else {
            if (tx->rcpt_replies == tx->nrcpts && tx->rcpt_ok == 0) {
                /* every recipient refused already (always known in
                 * lock-step): no DATA; RSET the open transaction */
                if (tx->mail_state == 1)
                    c->need_rset = 1;
                tx_refused_envelope(c, tx, NULL);
                return 1;
            }
            if (tx->bdat) {
                /* BDAT carries data at once: wait until some recipient is
                 * known to be accepted (RFC 3030 4.2 allows pipelining the
                 * chunks, but not wasting them). */
                tx->stage = TX_WAIT_RCPTS;
                envelope_settle(c, tx, NULL);
                return 1;
            }
            n = put_s(c->line, 0, "DATA");
            if (!emit(c, SMTPKIT_CLIENT_CMD_DATA, tx, 0, n))
                return progress;
            tx->stage = TX_WAIT_DATA;
        }
        progress = 1;
    }
    return 1;
}

/* The body is out: expect the final reply(ies). */
static void body_sent(smtpkit_client *c, client_tx *tx, int cmd, int last)
{
    tx->stage = TX_WAIT_END;
    c->cur = -1;
    if (c->lmtp && (tx->dot_only || cmd == SMTPKIT_CLIENT_CMD_BODY || last)) {
        tx->lmtp_left = tx->rcpt_ok;
        tx->lmtp_next = 0;
        if (tx->lmtp_left == 0 || tx->dot_only) {
            /* RFC 2033 4.2: one reply per accepted recipient; none here */
            tx_refused_envelope(c, tx, NULL);
            return;
        }
    }
    pq_push(c, cmd, tx, 0, last);
}

static void source_error(smtpkit_client *c, client_tx *tx, int err)
{
    /* Mid-data there is no way back (RFC 5321 has no abort for DATA): the
     * transaction fails with the source's error and the connection ends. */
    tx_fail_local(c, tx, err);
    fail(c, smtpkit_is_fatal(err) ? err : SMTPKIT_ERR_IO, NULL);
}

/* Fill the output with the body, dot-stuffed (RFC 5321 4.5.2), in as few
 * large pieces as the buffer allows. Returns 1 on progress. */
static int tx_body_data(smtpkit_client *c, client_tx *tx)
{
    int progress = 0;
    smtpkit_source *b = tx->body;
    char *p;
    if (tx->dot_only) {
        p = out_reserve(c, 3);
        if (!p)
            return 0;
        memcpy(p, ".\r\n", 3);
        c->out_end += 3;
        emit_event(c, SMTPKIT_CLIENT_CMD_BODY, ".", 1, 0, tx);
        body_sent(c, tx, SMTPKIT_CLIENT_CMD_BODY, 0);
        return 1;
    }
    for (;;) {
        if (c->stg_pos == c->stg_len && !c->stg_eof) {
            smtpkit_ssize n = b->read(b->ctx, c->stg, c->stg_cap);
            if (n == SMTPKIT_ERR_WOULDBLOCK) {
                c->source_blocked = 1;
                return progress;
            }
            if (n < 0) {
                source_error(c, tx, (int)n);
                return 1;
            }
            if (n == 0)
                c->stg_eof = 1;
            c->stg_pos = 0;
            c->stg_len = (size_t)n;
        }
        if (c->stg_pos < c->stg_len) {
            size_t outlen = 0;
            smtpkit_ssize used;
            p = out_reserve(c, 64);
            if (!p)
                return progress;
            used = smtpkit_data_encode(&c->enc, c->stg + c->stg_pos, c->stg_len - c->stg_pos, p,
                                       c->out_cap - c->out_end, &outlen);
            if (used < 0) {
                fail(c, SMTPKIT_ERR_INTERNAL, NULL);
                return 1;
            }
            c->stg_pos += (size_t)used;
            c->out_end += outlen;
            tx->body_bytes += outlen;
            progress = 1;
            continue;
        }
        {
            smtpkit_ssize fin;
            p = out_reserve(c, SMTPKIT_DATA_ENCODE_FINISH_MAX);
            if (!p)
                return progress;
            fin = smtpkit_data_encode_finish(&c->enc, p, SMTPKIT_DATA_ENCODE_FINISH_MAX);
            if (fin < 3) {
                fail(c, SMTPKIT_ERR_INTERNAL, NULL);
                return 1;
            }
            c->out_end += (size_t)fin;
            tx->body_bytes += (uint64_t)fin - 3; /* a CRLF added before "." */
            emit_event(c, SMTPKIT_CLIENT_CMD_BODY, ".", 1, tx->body_bytes, tx);
            body_sent(c, tx, SMTPKIT_CLIENT_CMD_BODY, 0);
            return 1;
        }
    }
}

/* RFC 3030: "BDAT size [LAST]" then exactly size octets, no dot-stuffing.
 * The chunk is assembled in the (empty) output buffer after BDAT_HDR bytes;
 * the header is then written just in front of it. */
static int tx_body_bdat(smtpkit_client *c, client_tx *tx)
{
    smtpkit_source *b = tx->body;
    size_t limit, n, h;
    int last = 0;
    if (tx->bdat_failed) {
        /* RFC 3030 2: no more chunks after a failed one; a chunk half
         * assembled (its header not yet written) is simply dropped */
        c->chunk_len = 0;
        tx->stage = TX_WAIT_END;
        c->cur = -1;
        bdat_settle(c, tx, NULL);
        return 1;
    }
    if ((!c->pipelining && c->pq_n) || pq_full(c))
        return 0;
    if (c->chunk_len == 0) {
        if (c->out_start != c->out_end)
            return 0; /* wait until the previous output is written */
        c->out_start = c->out_end = 0;
    }
    limit = c->out_cap - BDAT_HDR - SMTPKIT_DATA_ENCODE_FINISH_MAX;
    if (c->cfg.bdat_chunk && c->cfg.bdat_chunk < limit)
        limit = c->cfg.bdat_chunk;
    for (;;) {
        if (c->stg_pos == c->stg_len && !c->stg_eof) {
            smtpkit_ssize r = b->read(b->ctx, c->stg, c->stg_cap);
            if (r == SMTPKIT_ERR_WOULDBLOCK) {
                c->source_blocked = 1;
                return 0;
            }
            if (r < 0) {
                source_error(c, tx, (int)r);
                return 1;
            }
            if (r == 0)
                c->stg_eof = 1;
            c->stg_pos = 0;
            c->stg_len = (size_t)r;
        }
        if (c->stg_pos < c->stg_len) {
            size_t outlen = 0;
            smtpkit_ssize used;
            if (limit - c->chunk_len < 64)
                break; /* chunk full */
            used = smtpkit_data_encode(&c->enc, c->stg + c->stg_pos, c->stg_len - c->stg_pos,
                                       c->out + BDAT_HDR + c->chunk_len, limit - c->chunk_len,
                                       &outlen);
            if (used < 0) {
                fail(c, SMTPKIT_ERR_INTERNAL, NULL);
                return 1;
            }
            c->stg_pos += (size_t)used;
            c->chunk_len += outlen;
            continue;
        }
        {
            smtpkit_ssize fin = smtpkit_data_encode_finish(&c->enc, c->out + BDAT_HDR + c->chunk_len,
                                                           SMTPKIT_DATA_ENCODE_FINISH_MAX);
            if (fin < 0) {
                fail(c, SMTPKIT_ERR_INTERNAL, NULL);
                return 1;
            }
            c->chunk_len += (size_t)fin;
            last = 1;
            break;
        }
    }
    n = put_s(c->line, 0, "BDAT ");
    n = put_u64(c->line, n, c->chunk_len);
    if (last)
        n = put_s(c->line, n, " LAST");
    h = n + 2;
    memcpy(c->out + BDAT_HDR - h, c->line, n);
    c->out[BDAT_HDR - 2] = '\r';
    c->out[BDAT_HDR - 1] = '\n';
    c->out_start = BDAT_HDR - h;
    c->out_end = BDAT_HDR + c->chunk_len;
    c->t_mark = c->now;
    tx->body_bytes += c->chunk_len;
    n = c->chunk_len;
    c->chunk_len = 0;
    emit_event(c, SMTPKIT_CLIENT_CMD_BDAT, c->line, h - 2, n, tx);
    if (last)
        body_sent(c, tx, SMTPKIT_CLIENT_CMD_BDAT, 1);
    else
        pq_push(c, SMTPKIT_CLIENT_CMD_BDAT, tx, 0, 0);
    return 1;
}

/* Start the next queued transaction when the previous ones allow it. */
static int start_next(smtpkit_client *c)
{
    client_tx *tx;
    if (c->tx_started >= c->tx_count)
        return 0;
    if (c->tx_started > 0) {
        const client_tx *prev = tx_at(c, c->tx_started - 1);
        if (!prev->reported) {
            /* RFC 2920 3.1: after the end of data, the next MAIL may follow
             * in the same group; after DATA or BDAT nothing may. */
            if (!c->pipelining || prev->stage != TX_WAIT_END || prev->bdat || prev->dot_only)
                return 0;
        }
    }
    if (!c->pipelining && c->pq_n)
        return 0;
    tx = tx_at(c, c->tx_started);
    c->tx_started++;
    c->saved_code = 0; /* the previous transaction no longer needs it */
    if (tx_prepare(c, tx))
        c->cur = (int)slot_of(c, tx);
    return 1;
}

static int all_sent(smtpkit_client *c)
{
    unsigned k;
    if (c->tx_started < c->tx_count)
        return 0;
    for (k = 0; k < c->tx_count; k++) {
        const client_tx *tx = tx_at(c, k);
        if (!tx->reported && tx->stage != TX_WAIT_END)
            return 0;
        if (!tx->reported && (tx->bdat || !c->pipelining))
            return 0;
    }
    return 1;
}

static void pump(smtpkit_client *c)
{
    c->source_blocked = 0;
    for (;;) {
        if (stopped(c))
            return;
        release(c);
        if (c->hs_cmd != CMD_NONE) {
            if (!emit_hs(c))
                return;
            continue;
        }
        if (c->phase != PH_READY)
            return;
        if (c->need_rset && c->quit_asked && c->tx_started >= c->tx_count)
            c->need_rset = 0; /* RFC 5321 4.1.1.10: QUIT ends the transaction too */
        if (c->need_rset) {
            size_t n;
            if ((!c->pipelining && c->pq_n) || pq_full(c))
                return;
            n = put_s(c->line, 0, "RSET");
            if (!emit(c, SMTPKIT_CLIENT_CMD_RSET, NULL, 0, n))
                return;
            c->need_rset = 0;
            continue;
        }
        if (c->cur < 0) {
            if (start_next(c))
                continue;
            if (c->quit_asked && all_sent(c) && (c->pipelining || c->pq_n == 0)) {
                c->hs_cmd = SMTPKIT_CLIENT_CMD_QUIT;
                continue;
            }
            return;
        } else {
            client_tx *tx = &c->txs[c->cur];
            int progress;
            switch (tx->stage) {
            case TX_SCAN: progress = tx_scan(c, tx); break;
            case TX_ENVELOPE: progress = tx_envelope(c, tx); break;
            case TX_BODY: progress = tx->bdat ? tx_body_bdat(c, tx) : tx_body_data(c, tx); break;
            case TX_WAIT_RCPTS:
            case TX_WAIT_DATA: progress = 0; break;
            default:
                c->cur = -1;
                progress = 1;
                break;
            }
            if (!progress)
                return;
        }
    }
}

/* ---- configuration ------------------------------------------------------ */

void smtpkit_client_config_init(smtpkit_client_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->version = SMTPKIT_CLIENT_VERSION;
}

/* RFC 5321 4.1.1.1: EHLO takes a Domain or an address literal. */
static int check_helo(const char *s)
{
    size_t i, n = strlen(s);
    if (n == 0)
        return SMTPKIT_ERR_INVALID_ARG;
    for (i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n')
            return SMTPKIT_ERR_INJECTION;
    if (n > 255)
        return SMTPKIT_ERR_LINE_TOO_LONG;
    if (s[0] == '[') {
        if (n < 3 || s[n - 1] != ']')
            return SMTPKIT_ERR_INVALID_ARG;
        for (i = 1; i + 1 < n; i++) {
            unsigned char ch = (unsigned char)s[i];
            if (ch <= 32 || ch >= 127 || ch == '[' || ch == ']' || ch == '\\')
                return SMTPKIT_ERR_INVALID_ARG;
        }
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!smtpkit__is_alnum(ch) && ch != '-' && ch != '.' && ch != '_')
            return SMTPKIT_ERR_INVALID_ARG;
    }
    if (s[0] == '.' || s[0] == '-')
        return SMTPKIT_ERR_INVALID_ARG;
    return 0;
}

int smtpkit_client_config_check(const smtpkit_client_config *cfg)
{
    int r;
    if (!cfg)
        return 0;
    if (cfg->version > SMTPKIT_CLIENT_VERSION)
        return SMTPKIT_ERR_INVALID_ARG;
    if ((int)cfg->tls < (int)SMTPKIT_CLIENT_TLS_NONE || (int)cfg->tls > (int)SMTPKIT_CLIENT_TLS_IMPLICIT)
        return SMTPKIT_ERR_INVALID_ARG;
    if (cfg->flags & ~(unsigned)(SMTPKIT_CLIENT_LMTP | SMTPKIT_CLIENT_NO_PIPELINING | SMTPKIT_CLIENT_BDAT))
        return SMTPKIT_ERR_INVALID_ARG;
    if (cfg->output_size && cfg->output_size < 4096)
        return SMTPKIT_ERR_INVALID_ARG;
    if (cfg->bdat_chunk && cfg->bdat_chunk < 1024)
        return SMTPKIT_ERR_INVALID_ARG;
    if (cfg->max_queue > 65535)
        return SMTPKIT_ERR_INVALID_ARG;
    if (cfg->queue_bytes_max && cfg->queue_bytes > cfg->queue_bytes_max)
        return SMTPKIT_ERR_INVALID_ARG;
    if (cfg->helo_name) {
        r = check_helo(cfg->helo_name);
        if (r)
            return r;
    }
    return 0;
}

static uint32_t or_default(uint32_t v, uint32_t d) { return v ? v : d; }

smtpkit_client *smtpkit_client_new(const smtpkit_client_config *config,
                                   const smtpkit_client_callbacks *cb, void *user,
                                   const smtpkit_mem *mem)
{
    smtpkit_client *c;
    smtpkit_client_config cfg;
    smtpkit_mem m;

    if (config) {
        if (smtpkit_client_config_check(config))
            return NULL;
        cfg = *config;
    } else {
        smtpkit_client_config_init(&cfg);
    }
    if (cb && cb->version > SMTPKIT_CLIENT_VERSION)
        return NULL;
    if (mem)
        m = *mem;
    else
        memset(&m, 0, sizeof m);
    c = (smtpkit_client *)smtpkit__calloc(&m, 1, sizeof *c);
    if (!c)
        return NULL;
    c->mem = m;
    if (!cfg.output_size)
        cfg.output_size = 64 * 1024;
    if (!cfg.max_queue)
        cfg.max_queue = 16;
    if (!cfg.queue_bytes_max)
        cfg.queue_bytes_max = 1024 * 1024;
    if (!cfg.queue_bytes)
        cfg.queue_bytes = SMTPKIT_MIN((size_t)4096, cfg.queue_bytes_max);
    cfg.timeout_greeting_ms = or_default(cfg.timeout_greeting_ms, 300000);
    cfg.timeout_command_ms = or_default(cfg.timeout_command_ms, 300000);
    cfg.timeout_data_init_ms = or_default(cfg.timeout_data_init_ms, 120000);
    cfg.timeout_data_block_ms = or_default(cfg.timeout_data_block_ms, 180000);
    cfg.timeout_data_term_ms = or_default(cfg.timeout_data_term_ms, 600000);
    {
        const char *h = cfg.helo_name ? cfg.helo_name : "localhost";
        c->helo_len = strlen(h);
        memcpy(c->helo, h, c->helo_len);
        cfg.helo_name = NULL; /* the copy in c->helo is what counts */
    }
    c->cfg = cfg;
    c->cb = cb;
    c->user = user;
    c->lmtp = (cfg.flags & SMTPKIT_CLIENT_LMTP) != 0;
    c->tls_active = cfg.tls == SMTPKIT_CLIENT_TLS_IMPLICIT;
    c->hs_cmd = CMD_NONE;
    c->cur = -1;
    c->out_cap = cfg.output_size;
    c->stg_cap = cfg.output_size / 2;
    c->tx_cap = cfg.max_queue;
    c->a_cap = cfg.queue_bytes;
    c->a_max = cfg.queue_bytes_max;
    c->out = (char *)smtpkit__malloc(&c->mem, c->out_cap);
    c->stg = c->out ? (char *)smtpkit__malloc(&c->mem, c->stg_cap) : NULL;
    c->txs = c->stg ? (client_tx *)smtpkit__calloc(&c->mem, c->tx_cap, sizeof(client_tx)) : NULL;
    c->arena = c->txs ? (char *)smtpkit__malloc(&c->mem, c->a_cap) : NULL;
    if (!c->arena) {
        smtpkit_client_free(c);
        return NULL;
    }
    c->rp_cb.on_line = rp_on_line;
    c->rp_cb.on_reply = rp_on_reply;
    smtpkit_reply_parser_init(&c->rp, &c->rp_cb, c);
    smtpkit_caps_init(&c->caps);
    c->phase = PH_GREETING;
    /* RFC 5321 3.1: the client waits for the greeting before EHLO. */
    pq_push(c, SMTPKIT_CLIENT_CMD_GREETING, NULL, 0, 0);
    return c;
}

void smtpkit_client_free(smtpkit_client *c)
{
    smtpkit_mem m;
    if (!c)
        return;
    m = c->mem;
    if (c->cfg.auth || c->cfg.auth_creds) {
        smtpkit_sasl_client_finish(&c->sasl);
        if (c->out)
            smtpkit__wipe(c->out, c->out_cap);
    }
    smtpkit__free(&m, c->arena);
    smtpkit__free(&m, c->txs);
    smtpkit__free(&m, c->stg);
    smtpkit__free(&m, c->out);
    smtpkit__free(&m, c);
}

/* ---- queueing ------------------------------------------------------------ */

static size_t align8(size_t n) { return (n + 7u) & ~(size_t)7u; }

/* FIFO allocation in the envelope store: compact, then grow past the peak. */
static int arena_alloc(smtpkit_client *c, size_t need, size_t *off)
{
    unsigned k;
    need = align8(need);
    if (c->tx_count == 0)
        c->a_lo = c->a_hi = 0;
    if (c->a_cap - c->a_hi < need && c->a_lo > 0) {
        size_t lo = c->a_lo;
        memmove(c->arena, c->arena + lo, c->a_hi - lo);
        for (k = 0; k < c->tx_count; k++)
            tx_at(c, k)->base -= lo;
        c->a_hi -= lo;
        c->a_lo = 0;
    }
    if (c->a_cap - c->a_hi < need) {
        size_t ncap = c->a_cap * 2;
        char *na;
        if (ncap < c->a_hi + need)
            ncap = c->a_hi + need;
        if (ncap > c->a_max)
            ncap = c->a_max;
        if (ncap < c->a_hi + need)
            return c->tx_count ? SMTPKIT_ERR_WOULDBLOCK : SMTPKIT_ERR_BUFFER_TOO_SMALL;
        na = (char *)smtpkit__realloc(&c->mem, c->arena, ncap);
        if (!na)
            return SMTPKIT_ERR_NOMEM;
        c->arena = na;
        c->a_cap = ncap;
    }
    *off = c->a_hi;
    c->a_hi += need;
    return 0;
}

int smtpkit_client_queue(smtpkit_client *c, const smtpkit_envelope *env, smtpkit_source *body,
                         void *tx_user)
{
    size_t need = 0, off = 0;
    client_tx *tx;
    int r;
    if (!c || !body || !body->read)
        return SMTPKIT_ERR_INVALID_ARG;
    r = smtpkit__envelope_measure(env, &need);
    if (r)
        return r;
    if (c->phase == PH_DONE || c->phase == PH_QUIT || c->quit_asked || c->err)
        return SMTPKIT_ERR_STATE;
    if (c->tx_count >= c->tx_cap)
        return SMTPKIT_ERR_WOULDBLOCK;
    r = arena_alloc(c, need, &off);
    if (r)
        return r;
    tx = tx_at(c, c->tx_count);
    memset(tx, 0, sizeof *tx);
    smtpkit__envelope_store(env, c->arena + off, &tx->lay);
    tx->base = off;
    tx->size = need;
    tx->nrcpts = env->nrcpts;
    tx->flags = env->flags;
    tx->ret = env->ret;
    tx->body = body;
    tx->user = tx_user;
    tx->id = c->next_id;
    c->next_id = (c->next_id + 1) & 0x7fffffffu;
    c->tx_count++;
    return (int)tx->id;
}

int smtpkit_client_quit(smtpkit_client *c)
{
    if (!c)
        return SMTPKIT_ERR_INVALID_ARG;
    if (c->phase == PH_DONE)
        return SMTPKIT_ERR_STATE;
    c->quit_asked = 1;
    return 0;
}

/* ---- I/O side ---------------------------------------------------------- */

smtpkit_ssize smtpkit_client_feed(smtpkit_client *c, const char *data, size_t len)
{
    smtpkit_ssize r;
    if (!c || (!data && len))
        return SMTPKIT_ERR_INVALID_ARG;
    if (c->phase == PH_DONE || c->phase == PH_TLS)
        return (smtpkit_ssize)len; /* discarded (RFC 3207 5 for PH_TLS) */
    if (c->paused)
        return SMTPKIT_ERR_PAUSED;
    if (len == 0)
        return 0;
    r = smtpkit_reply_parser_feed(&c->rp, data, len);
    if (c->phase == PH_DONE || c->phase == PH_TLS)
        return (smtpkit_ssize)len;
    if (r < 0) {
        if (r == SMTPKIT_ERR_PAUSED)
            return r;
        fail(c, SMTPKIT_ERR_PROTOCOL, NULL);
        return (smtpkit_ssize)len;
    }
    return r;
}

size_t smtpkit_client_output(smtpkit_client *c, const char **data)
{
    if (!c) {
        if (data)
            *data = NULL;
        return 0;
    }
    pump(c);
    if (data)
        *data = c->out + c->out_start;
    return c->out_end - c->out_start;
}

void smtpkit_client_output_done(smtpkit_client *c, size_t n)
{
    if (!c)
        return;
    if (n > c->out_end - c->out_start)
        n = c->out_end - c->out_start;
    if (n) {
        c->out_start += n;
        c->t_mark = c->now;
    }
    if (c->out_start == c->out_end)
        c->out_start = c->out_end = 0;
}

/* QUIT is out and nothing but its reply is awaited. */
static int only_quit_left(const smtpkit_client *c)
{
    return c->phase == PH_QUIT && c->hs_cmd == CMD_NONE && smtpkit_client_pending(c) == 0;
}

void smtpkit_client_closed(smtpkit_client *c)
{
    if (!c || c->phase == PH_DONE)
        return;
    if (c->err || only_quit_left(c)) {
        /* after QUIT (or after the session was refused) a close is the end */
        c->phase = PH_DONE;
        return;
    }
    fail(c, SMTPKIT_ERR_CLOSED, NULL);
}

void smtpkit_client_abort(smtpkit_client *c, int err)
{
    if (!c || c->phase == PH_DONE)
        return;
    if (only_quit_left(c)) {
        c->phase = PH_DONE; /* only the reply to QUIT was missing */
        return;
    }
    fail(c, smtpkit_is_fatal(err) ? err : SMTPKIT_ERR_IO, NULL);
}

uint32_t smtpkit__client_timer_ms(const smtpkit_client *c)
{
    if (c->phase == PH_DONE || c->phase == PH_TLS || c->paused)
        return 0;
    if (c->pq_n) {
        switch (c->pq[c->pq_head].cmd) {
        case SMTPKIT_CLIENT_CMD_GREETING: return c->cfg.timeout_greeting_ms;
        case SMTPKIT_CLIENT_CMD_DATA: return c->cfg.timeout_data_init_ms;
        case SMTPKIT_CLIENT_CMD_BODY:
        case SMTPKIT_CLIENT_CMD_BDAT: return c->cfg.timeout_data_term_ms;
        default: return c->cfg.timeout_command_ms;
        }
    }
    if (c->out_start != c->out_end)
        return c->cfg.timeout_data_block_ms;
    return 0;
}

int smtpkit_client_tick(smtpkit_client *c, uint64_t now_ms)
{
    uint32_t t;
    if (!c)
        return SMTPKIT_ERR_INVALID_ARG;
    if (!c->have_now) {
        c->have_now = 1;
        c->t_mark = now_ms;
    }
    c->now = now_ms;
    if (c->phase == PH_DONE)
        return c->err;
    t = smtpkit__client_timer_ms(c);
    if (t && now_ms >= c->t_mark + t)
        fail(c, SMTPKIT_ERR_TIMEOUT, NULL);
    return c->phase == PH_DONE ? c->err : 0;
}

uint64_t smtpkit_client_deadline(smtpkit_client *c)
{
    uint32_t t;
    if (!c)
        return UINT64_MAX;
    t = smtpkit__client_timer_ms(c);
    if (!t)
        return UINT64_MAX;
    if (!c->have_now)
        return 0;
    return c->t_mark + t;
}

unsigned smtpkit_client_want(smtpkit_client *c)
{
    unsigned w = 0;
    if (!c || c->phase == PH_DONE)
        return SMTPKIT_CLIENT_DONE;
    if (c->phase == PH_TLS)
        return SMTPKIT_CLIENT_WANT_STARTTLS;
    if (!c->paused)
        pump(c);
    if (c->phase == PH_DONE)
        return SMTPKIT_CLIENT_DONE;
    if (c->phase == PH_TLS)
        return SMTPKIT_CLIENT_WANT_STARTTLS;
    if (c->out_start != c->out_end)
        w |= SMTPKIT_CLIENT_WANT_WRITE;
    if (c->pq_n)
        w |= SMTPKIT_CLIENT_WANT_READ;
    if (c->source_blocked)
        w |= SMTPKIT_CLIENT_WANT_SOURCE;
    if (c->paused)
        w |= SMTPKIT_CLIENT_PAUSED;
    else if (!w && c->phase == PH_READY && c->tx_count == 0 && !c->quit_asked)
        w |= SMTPKIT_CLIENT_IDLE;
    return w;
}

int smtpkit_client_starttls_done(smtpkit_client *c, int result)
{
    if (!c || c->phase != PH_TLS)
        return SMTPKIT_ERR_STATE;
    if (result < 0) {
        fail(c, smtpkit_is_fatal(result) ? result : SMTPKIT_ERR_TLS, NULL);
        return 0;
    }
    /* RFC 3207 4.2: forget everything learnt before TLS and start over
     * with EHLO; the parser starts from a clean stream. */
    smtpkit_reply_parser_init(&c->rp, &c->rp_cb, c);
    smtpkit_caps_init(&c->caps);
    c->tls_active = 1;
    c->out_start = c->out_end = 0;
    c->phase = PH_HELLO;
    c->hs_cmd = c->lmtp ? SMTPKIT_CLIENT_CMD_LHLO : SMTPKIT_CLIENT_CMD_EHLO;
    c->t_mark = c->now;
    return 0;
}

int smtpkit_client_resume(smtpkit_client *c)
{
    if (!c || !c->paused)
        return SMTPKIT_ERR_STATE;
    c->paused = 0;
    (void)smtpkit_reply_parser_resume(&c->rp);
    return 0;
}

const smtpkit_caps *smtpkit_client_caps(const smtpkit_client *c) { return c ? &c->caps : NULL; }

int smtpkit_client_tls_active(const smtpkit_client *c) { return c ? c->tls_active : 0; }

int smtpkit_client_error(const smtpkit_client *c) { return c ? c->err : SMTPKIT_ERR_INVALID_ARG; }

size_t smtpkit_client_pending(const smtpkit_client *c)
{
    unsigned k;
    size_t n = 0;
    if (!c)
        return 0;
    for (k = 0; k < c->tx_count; k++)
        if (!c->txs[(c->tx_head + k) % c->tx_cap].reported)
            n++;
    return n;
}
