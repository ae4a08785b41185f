/* The server session: RFC 5321 state machine, sans I/O.
 *
 * Shape of the code: smtpkit_server_feed() frames input into command lines
 * (or streams message bytes) and hands each line to do_line(); each command
 * checks its sequence and parameters, then asks the application through
 * ask() -> the callback -> finish(). A paused decision stops at ask() and
 * is completed by smtpkit_server_resume() -> finish(), so the synchronous
 * and the asynchronous path produce byte-identical replies.
 *
 * Output discipline: a command line is taken only when
 * SMTPKIT_SERVER_REPLY_MAX bytes are free in the output, and every command
 * writes at most one reply of at most that size (plus, at the error limit, a
 * short 421 which the minimum buffer size leaves room for). So writing a
 * reply never fails and never needs a second buffer. */
#include "server_int.h"
#include "md5.h" /* smtpkit__wipe */

/* ------------------------------------------------------------------------ */
/* configuration                                                             */

static const smtpkit_server_config default_config = {
    SMTPKIT_SERVER_CONFIG_VERSION, "localhost", NULL, 0, 0, 100, 20, 0, 100,
    SMTPKIT_COMMAND_LINE_MAX, SMTPKIT_TEXT_LINE_MAX, SMTPKIT_SERVER_OUTPUT_DEFAULT,
    SMTPKIT_SERVER_TIMEOUT_DEFAULT_MS, SMTPKIT_SERVER_TIMEOUT_DEFAULT_MS};

void smtpkit_server_config_init(smtpkit_server_config *cfg)
{
    if (cfg)
        *cfg = default_config;
}

#define CFG(s) ((s)->cfg)
#define FLAG(s, f) ((CFG(s)->flags & (f)) != 0)

static const char *host_of(const smtpkit_server *s)
{
    return CFG(s)->hostname && CFG(s)->hostname[0] ? CFG(s)->hostname : "localhost";
}
static unsigned max_rcpt(const smtpkit_server *s)
{
    return CFG(s)->max_recipients ? CFG(s)->max_recipients : 100;
}
static unsigned max_errors(const smtpkit_server *s)
{
    return CFG(s)->max_errors ? CFG(s)->max_errors : 20;
}
static unsigned max_junk(const smtpkit_server *s)
{
    return CFG(s)->max_junk_commands ? CFG(s)->max_junk_commands : 100;
}
static uint32_t timeout_of(const smtpkit_server *s)
{
    uint32_t t = (s->state == SRV_DATA || s->state == SRV_BDAT) ? CFG(s)->timeout_data_ms
                                                                   : CFG(s)->timeout_command_ms;
    return t ? t : SMTPKIT_SERVER_TIMEOUT_DEFAULT_MS;
}
static int offer_chunking(const smtpkit_server *s) { return !FLAG(s, SMTPKIT_SERVER_NO_CHUNKING); }
static int offer_binarymime(const smtpkit_server *s)
{
    return offer_chunking(s) && !FLAG(s, SMTPKIT_SERVER_NO_BINARYMIME);
}
static int offer_auth(const smtpkit_server *s)
{
    return s->auth && (s->tls || FLAG(s, SMTPKIT_SERVER_AUTH_PLAINTEXT));
}

static size_t cfg_line_cap(const smtpkit_server_config *cfg)
{
    size_t n = cfg->max_command_line ? cfg->max_command_line : SMTPKIT_COMMAND_LINE_MAX;
    if (n < 64)
        n = 64;
    if (n > 65535)
        n = 65535;
    return n;
}
static size_t cfg_out_cap(const smtpkit_server_config *cfg)
{
    size_t n = cfg->output_buffer ? cfg->output_buffer : SMTPKIT_SERVER_OUTPUT_DEFAULT;
    if (n < SMTPKIT_SERVER_REPLY_MAX + 64)
        n = SMTPKIT_SERVER_REPLY_MAX + 64;
    if (n > (1u << 30))
        n = 1u << 30;
    return n;
}

static char *out_buf(smtpkit_server *s) { return (char *)(s + 1); }
static char *line_buf(smtpkit_server *s) { return out_buf(s) + s->out_cap; }
static char *helo_buf(smtpkit_server *s) { return line_buf(s) + s->line_cap; }

size_t smtpkit_server_size(const smtpkit_server_config *cfg)
{
    if (!cfg)
        cfg = &default_config;
    return sizeof(smtpkit_server) + cfg_out_cap(cfg) + cfg_line_cap(cfg) + SMTPKIT_SERVER_HELO_MAX;
}

smtpkit_server *smtpkit_server_new(const smtpkit_server_config *cfg,
                                   const smtpkit_server_callbacks *cb, void *user,
                                   const smtpkit_mem *mem)
{
    static const smtpkit_server_callbacks no_callbacks = {0};
    smtpkit_server *s;
    if (!cfg)
        cfg = &default_config;
    if (cfg->version != SMTPKIT_SERVER_CONFIG_VERSION)
        return NULL;
    s = (smtpkit_server *)smtpkit__malloc(mem, smtpkit_server_size(cfg));
    if (!s)
        return NULL;
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->cb = cb ? cb : &no_callbacks;
    s->user = user;
    if (mem)
        s->mem = *mem;
    s->out_cap = (uint32_t)cfg_out_cap(cfg);
    s->line_cap = (uint16_t)cfg_line_cap(cfg);
    s->deadline = SMTPKIT_SERVER_NO_DEADLINE;
    s->state = SRV_NEW;
    return s;
}

/* ------------------------------------------------------------------------ */
/* output                                                                    */

static size_t out_free(const smtpkit_server *s) { return s->out_cap - (s->out_len - s->out_off); }
static int have_room(const smtpkit_server *s) { return out_free(s) >= SMTPKIT_SERVER_REPLY_MAX; }

/* Room at the tail for `need` bytes: move pending bytes to the front when
 * that helps. Returns the room at the tail. */
static size_t out_tail(smtpkit_server *s, size_t need)
{
    if (s->out_cap - s->out_len < need && s->out_off) {
        size_t n = s->out_len - s->out_off;
        memmove(out_buf(s), out_buf(s) + s->out_off, n);
        s->out_off = 0;
        s->out_len = (uint32_t)n;
    }
    return s->out_cap - s->out_len;
}

static void put_reply(smtpkit_server *s, int code, const char *esc, const char *prefix,
                      const char *text)
{
    size_t room = out_tail(s, SMTPKIT_SERVER_REPLY_MAX);
    if (room > SMTPKIT_SERVER_REPLY_MAX)
        room = SMTPKIT_SERVER_REPLY_MAX;
    s->out_len += (uint32_t)smtpkit__server_fmt_reply(out_buf(s) + s->out_len, room, code, esc,
                                                      prefix, text);
}

static void put_std(smtpkit_server *s, smtpkit_std id)
{
    const smtpkit_std_reply *r = smtpkit_std_reply_get(id);
    put_reply(s, r->code, r->esc, NULL, r->text);
}

size_t smtpkit_server_output(smtpkit_server *s, const char **data)
{
    if (!s) {
        if (data)
            *data = NULL;
        return 0;
    }
    if (data)
        *data = out_buf(s) + s->out_off;
    return s->out_len - s->out_off;
}

void smtpkit_server_output_done(smtpkit_server *s, size_t n)
{
    size_t pending;
    if (!s)
        return;
    pending = s->out_len - s->out_off;
    if (n > pending)
        n = pending;
    if (!n)
        return;
    s->out_off += (uint32_t)n;
    if (s->out_off == s->out_len)
        s->out_off = s->out_len = 0;
    s->activity = 1;
}

/* ------------------------------------------------------------------------ */
/* endings                                                                   */

static void auth_cancel(smtpkit_server *s)
{
    if (s->state == SRV_AUTH && s->auth && s->auth->cancel)
        s->auth->cancel(s->auth_ctx, s);
}

/* The open message is dropped: tell the application once. */
static void msg_abort(smtpkit_server *s, int reason)
{
    if (!s->msg_open)
        return;
    s->msg_open = 0;
    if (s->cb->on_abort)
        s->cb->on_abort(s->user, reason);
}

static void txn_reset(smtpkit_server *s, int reason)
{
    msg_abort(s, reason);
    s->in_txn = 0;
    s->txn_utf8 = 0;
    s->txn_body = SMTPKIT_BODY_NONE;
    s->nrcpt = 0;
    s->lmtp_next = 0;
    s->msg_size = 0;
    s->msg_fail = SRV_F_NONE;
    s->recv_pending = 0;
    s->chunking = 0;
    s->ended = 0;
}

static void go_closing(smtpkit_server *s, int reason)
{
    if (s->state == SRV_AUTH)
        auth_cancel(s);
    if (s->state != SRV_CLOSING && !s->close_reason)
        s->close_reason = reason;
    s->state = SRV_CLOSING;
    s->paused = 0;
    s->pause = SRV_P_NONE;
    s->line_len = 0;
    s->skipping = 0;
}

/* Queue a 421 (when there is room for it) and close. */
static void close_421(smtpkit_server *s, const char *esc, const char *text, int reason)
{
    if (out_free(s) >= 128)
        put_reply(s, 421, esc, host_of(s), text);
    txn_reset(s, reason == SMTPKIT_ERR_TIMEOUT ? SMTPKIT_ERR_TIMEOUT : SMTPKIT_ERR_STATE);
    go_closing(s, reason);
}

/* A callback returned a negative value: the session cannot go on. */
static void callback_abort(smtpkit_server *s)
{
    if (s->fatal)
        return;
    s->fatal = SMTPKIT_ERR_CALLBACK;
    msg_abort(s, SMTPKIT_ERR_CALLBACK);
    close_421(s, "4.3.0", "Local error, closing connection", SMTPKIT_ERR_CALLBACK);
}

/* A protocol error was answered: count it (RFC 5321 does not bound them;
 * every server does, or a client could talk nonsense forever). */
static void protocol_error(smtpkit_server *s)
{
    if (++s->errors >= max_errors(s))
        close_421(s, "4.7.0", "Too many errors, closing connection", SMTPKIT_ERR_PROTOCOL);
}

static void bad_sequence(smtpkit_server *s, const char *text)
{
    put_reply(s, 503, "5.5.1", NULL, text ? text : smtpkit_std_reply_get(SMTPKIT_R_BAD_SEQUENCE)->text);
    protocol_error(s);
}

/* ------------------------------------------------------------------------ */
/* decisions                                                                 */

/* How the application's answer maps to a reply. */
typedef struct answer_spec {
    int code;          /* the standard reply code */
    const char *esc;   /* its enhanced code (NULL: none, e.g. 220, 354) */
    const char *text;  /* its text */
    const char *prefix;/* put before the text (our host name), or NULL */
    int custom_2xx;    /* a 2xx code other than `code` may be sent as given */
} answer_spec;

static answer_spec spec_std(smtpkit_std id)
{
    const smtpkit_std_reply *r = smtpkit_std_reply_get(id);
    answer_spec a;
    a.code = r->code;
    a.esc = r->esc;
    a.text = r->text;
    a.prefix = NULL;
    a.custom_2xx = 1;
    return a;
}

/* Default text for an application's refusal without text. */
static const char *refusal_text(int code)
{
    smtpkit_std id;
    for (id = (smtpkit_std)0; id < SMTPKIT_R__COUNT; id = (smtpkit_std)(id + 1)) {
        const smtpkit_std_reply *r = smtpkit_std_reply_get(id);
        if (r && r->code == code)
            return r->text;
    }
    return code / 100 == 4 ? "Requested action not taken, try again later"
                           : "Requested action not taken";
}

/* Write the reply for decision `d` under `a`. Returns 1 when accepted. */
static int answer(smtpkit_server *s, const smtpkit_server_decision *d, const answer_spec *a)
{
    int code = d ? d->code : 0;
    const char *esc, *text;
    if (code == 0) {
        put_reply(s, a->code, a->esc, a->prefix, a->text);
        return a->code / 100 == 2 || a->code / 100 == 3;
    }
    if (code / 100 == 2 || (code / 100 == 3 && a->code / 100 == 3)) {
        int c = (a->custom_2xx && code / 100 == 2) ? code : a->code;
        if ((code / 10) % 10 > 5)
            c = a->code;
        text = d->text ? d->text : a->text;
        esc = smtpkit__server_esc_ok(d->esc, c) ? d->esc : (c == a->code ? a->esc : smtpkit_default_esc(c));
        put_reply(s, c, esc, a->prefix, text);
        return 1;
    }
    if (code < 400 || code > 599 || (code / 10) % 10 > 5) {
        /* Not a valid refusal: never let an application error read as success. */
        const smtpkit_std_reply *r = smtpkit_std_reply_get(SMTPKIT_R_LOCAL_ERROR);
        put_reply(s, r->code, r->esc, NULL, r->text);
        return 0;
    }
    esc = smtpkit__server_esc_ok(d->esc, code) ? d->esc : smtpkit_default_esc(code);
    text = d->text ? d->text : refusal_text(code);
    /* RFC 5321 4.2: a 421 names the host; and it closes the session (3.8). */
    put_reply(s, code, esc, code == 421 ? host_of(s) : NULL, text);
    if (code == 421)
        go_closing(s, SMTPKIT_ERR_STATE);
    return 0;
}

static void finish(smtpkit_server *s, int kind, const smtpkit_server_decision *d);

/* Hand a callback's return value on: pause, abort or finish. */
static void dispatch(smtpkit_server *s, int r, int kind, const smtpkit_server_decision *d)
{
    if (r == SMTPKIT_PAUSE) {
        s->paused = 1;
        s->pause = (uint8_t)kind;
        return;
    }
    if (r < 0) {
        callback_abort(s);
        return;
    }
    finish(s, kind, d);
}

/* ------------------------------------------------------------------------ */
/* the message                                                               */

/* Give message bytes to on_body. `count`: they are client bytes (SIZE). */
static int deliver(smtpkit_server *s, const char *p, size_t n, int count)
{
    int r;
    if (!s->msg_open || s->msg_fail)
        return 0;
    if (count) {
        uint64_t max = CFG(s)->max_size;
        /* RFC 1870 6.3: too big -- stop storing, refuse after the data. */
        if (max && (s->msg_size + n > max || s->msg_size + n < s->msg_size)) {
            s->msg_fail = SRV_F_TOO_BIG;
            msg_abort(s, SMTPKIT_ERR_TOO_BIG);
            return 0;
        }
        s->msg_size += n;
    }
    if (!s->cb->on_body)
        return 0;
    r = s->cb->on_body(s->user, p, n);
    if (r == SMTPKIT_PAUSE) {
        s->paused = 1;
        s->pause = SRV_P_BODY;
        return SMTPKIT_PAUSE;
    }
    if (r < 0) {
        callback_abort(s);
        return -1;
    }
    return 0;
}

static int dec_body(void *user, const char *p, size_t n)
{
    return deliver((smtpkit_server *)user, p, n, 1);
}

/* The Received: header goes first (RFC 5321 4.4: "MUST insert" at the top). */
static void deliver_received(smtpkit_server *s)
{
    smtpkit_server_trace t;
    char buf[SMTPKIT__RECEIVED_MAX];
    size_t n;
    s->recv_pending = 0;
    if (FLAG(s, SMTPKIT_SERVER_NO_RECEIVED) || !s->msg_open)
        return;
    memset(&t, 0, sizeof t);
    if (s->cb->on_trace && s->cb->on_trace(s->user, &t) < 0) {
        callback_abort(s);
        return;
    }
    if (!t.date.len || !t.date.ptr)
        return; /* RFC 5322 3.6.7: no Received: without its date */
    if ((t.addr.len && !t.addr.ptr) || (t.name.len && !t.name.ptr) || (t.id.len && !t.id.ptr)) {
        t.addr.len = t.addr.ptr ? t.addr.len : 0;
        t.name.len = t.name.ptr ? t.name.len : 0;
        t.id.len = t.id.ptr ? t.id.len : 0;
    }
    n = smtpkit__server_received(buf, sizeof buf, helo_buf(s), s->helo_len, &t, host_of(s),
                                 smtpkit_server_protocol(s));
    deliver(s, buf, n, 0);
}

static void msg_begin(smtpkit_server *s)
{
    s->msg_open = 1;
    s->msg_fail = SRV_F_NONE;
    s->msg_size = 0;
    s->recv_pending = 1;
    s->lmtp_next = 0;
    s->ended = 0;
}

/* The transaction is over (answered): back to commands. */
static void msg_done(smtpkit_server *s)
{
    s->msg_open = 0;
    txn_reset(s, SMTPKIT_ERR_STATE);
    if (s->state != SRV_CLOSING)
        s->state = SRV_CMD;
}

static const smtpkit_std fail_reply[] = {SMTPKIT_R_LOCAL_ERROR, SMTPKIT_R_MSG_TOO_BIG,
                                         SMTPKIT_R_BAD_LINE_ENDINGS, SMTPKIT_R_BAD_LINE_ENDINGS};

/* One step at the end of a message: returns 0 when blocked on output. */
static int end_step(smtpkit_server *s)
{
    smtpkit_server_message m;
    smtpkit_server_decision d;
    int lmtp = FLAG(s, SMTPKIT_SERVER_LMTP);
    if (!have_room(s))
        return 0;
    if (!s->ended && !s->msg_fail) {
        unsigned fl = s->chunking ? 0 : smtpkit_data_decoder_flags(&s->u.dec);
        /* RFC 5321 2.3.8 / 4.1.1.4: a bare CR or LF is not a line end; a
         * message holding one is refused whole (the smuggling defence). */
        if ((fl & (SMTPKIT_DATA_SAW_BARE_CR | SMTPKIT_DATA_SAW_BARE_LF)) &&
            !FLAG(s, SMTPKIT_SERVER_NORMALIZE_BARE_LF)) {
            s->msg_fail = SRV_F_BARE;
            msg_abort(s, SMTPKIT_ERR_BARE_LF);
        } else if ((fl & SMTPKIT_DATA_SAW_LONG_LINE) && CFG(s)->max_text_line) {
            s->msg_fail = SRV_F_LONG;
            msg_abort(s, SMTPKIT_ERR_LINE_TOO_LONG);
        }
    }
    if (s->msg_fail) {
        if (s->msg_fail == SRV_F_LONG)
            put_reply(s, 550, "5.6.0", NULL, "Message has a line longer than allowed");
        else
            put_std(s, fail_reply[s->msg_fail]);
        /* RFC 2033 4.2: LMTP answers once per accepted recipient. */
        if (lmtp && ++s->lmtp_next < s->nrcpt)
            return 1;
        msg_done(s);
        return 1;
    }
    memset(&m, 0, sizeof m);
    m.size = s->msg_size;
    m.nrcpt = s->nrcpt;
    m.rcpt_index = lmtp ? s->lmtp_next : 0;
    m.chunking = s->chunking;
    m.data_flags = s->chunking ? 0 : smtpkit_data_decoder_flags(&s->u.dec);
    m.body = (smtpkit_body_type)s->txn_body;
    m.smtputf8 = s->txn_utf8;
    memset(&d, 0, sizeof d);
    /* From here the application holds the message: no on_abort any more. */
    s->ended = 1;
    s->msg_open = 0;
    dispatch(s, s->cb->on_data_end ? s->cb->on_data_end(s->user, &m, &d) : 0, SRV_P_END, &d);
    return 1;
}

static void finish_end(smtpkit_server *s, const smtpkit_server_decision *d)
{
    answer_spec a = spec_std(SMTPKIT_R_MSG_OK);
    a.custom_2xx = 0;
    if (answer(s, d, &a))
        s->junk = 0; /* a delivered message clears the junk count (as Postfix) */
    if (s->state == SRV_CLOSING)
        return;
    if (FLAG(s, SMTPKIT_SERVER_LMTP) && ++s->lmtp_next < s->nrcpt)
        return;
    msg_done(s);
}

/* ------------------------------------------------------------------------ */
/* EHLO                                                                      */

static void put_ehlo(smtpkit_server *s)
{
    char buf[SMTPKIT_SERVER_REPLY_MAX];
    size_t pos = 0, last = 0;
    const char *host = host_of(s);
    char num[24];
    const char *kw[16];
    int nkw = 0, i;
    size_t room = out_tail(s, SMTPKIT_SERVER_REPLY_MAX);
    if (room > sizeof buf)
        room = sizeof buf;

    if (!FLAG(s, SMTPKIT_SERVER_NO_PIPELINING))
        kw[nkw++] = "PIPELINING";
    kw[nkw++] = "SIZE"; /* RFC 1870 */
    if (!FLAG(s, SMTPKIT_SERVER_NO_8BITMIME))
        kw[nkw++] = "8BITMIME";
    if (!FLAG(s, SMTPKIT_SERVER_NO_SMTPUTF8))
        kw[nkw++] = "SMTPUTF8";
    if (offer_chunking(s))
        kw[nkw++] = "CHUNKING";
    if (offer_binarymime(s))
        kw[nkw++] = "BINARYMIME";
    if (!FLAG(s, SMTPKIT_SERVER_NO_DSN))
        kw[nkw++] = "DSN";
    kw[nkw++] = "ENHANCEDSTATUSCODES";
    if (FLAG(s, SMTPKIT_SERVER_STARTTLS) && !s->tls)
        kw[nkw++] = "STARTTLS";
    if (offer_auth(s))
        kw[nkw++] = "AUTH";

    /* First line: our domain (RFC 5321 4.1.1.1). */
    memcpy(buf, "250-", 4);
    pos = 4;
    for (; *host && pos < 4 + SMTPKIT_SERVER_HELO_MAX; host++)
        buf[pos++] = ((unsigned char)*host > 0x20 && (unsigned char)*host < 0x7f) ? *host : '?';
    buf[pos++] = '\r';
    buf[pos++] = '\n';
    for (i = 0; i < nkw; i++) {
        size_t kl = strlen(kw[i]), al = 0;
        const char *arg = NULL;
        if (kw[i][0] == 'S' && kw[i][1] == 'I' && CFG(s)->max_size) {
            al = smtpkit__u64_dec(num, CFG(s)->max_size);
            arg = num;
        } else if (kw[i][0] == 'A' && kw[i][1] == 'U') {
            arg = s->auth->mechanisms ? s->auth->mechanisms : "";
            al = strlen(arg);
        }
        if (pos + 4 + kl + 1 + al + 2 > sizeof buf)
            break; /* cannot happen with the keyword set above; be safe */
        last = pos;
        memcpy(buf + pos, "250-", 4);
        pos += 4;
        memcpy(buf + pos, kw[i], kl);
        pos += kl;
        if (al) {
            size_t j;
            buf[pos++] = ' ';
            for (j = 0; j < al; j++)
                buf[pos++] = ((unsigned char)arg[j] >= 0x20 && (unsigned char)arg[j] < 0x7f) ? arg[j] : '?';
        }
        buf[pos++] = '\r';
        buf[pos++] = '\n';
    }
    buf[last + 3] = ' ';
    if (pos > room)
        pos = room; /* unreachable: room >= SMTPKIT_SERVER_REPLY_MAX */
    memcpy(out_buf(s) + s->out_len, buf, pos);
    s->out_len += (uint32_t)pos;
}

/* ------------------------------------------------------------------------ */
/* finishing each decision                                                   */

static void finish_connect(smtpkit_server *s, const smtpkit_server_decision *d)
{
    const char *greet = CFG(s)->greeting ? CFG(s)->greeting
                        : FLAG(s, SMTPKIT_SERVER_LMTP) ? "LMTP smtpkit" : "ESMTP smtpkit";
    answer_spec a;
    a.code = 220;
    a.esc = NULL; /* RFC 2034 3: no enhanced code in the greeting */
    a.text = greet;
    a.prefix = host_of(s);
    a.custom_2xx = 0;
    if (d && d->code >= 400 && d->code <= 599 && d->code != 421 && (d->code / 10) % 10 <= 5) {
        /* RFC 5321 3.1: refuse, but wait for QUIT and answer 503 meanwhile. */
        const char *esc = smtpkit__server_esc_ok(d->esc, d->code) ? d->esc
                          : d->code == 554 ? "5.3.2" : smtpkit_default_esc(d->code);
        put_reply(s, d->code, esc, host_of(s),
                  d->text ? d->text : smtpkit_std_reply_get(SMTPKIT_R_NO_SERVICE)->text);
        s->state = SRV_REFUSED;
        return;
    }
    if (d && d->code == 421) {
        answer(s, d, &a);
        return;
    }
    if (d && d->code / 100 == 2 && !d->text)
        d = NULL;
    if (answer(s, d, &a) && s->state != SRV_CLOSING)
        s->state = SRV_CMD;
    else if (s->state != SRV_CLOSING)
        s->state = SRV_REFUSED;
}

static void finish_helo(smtpkit_server *s, const smtpkit_server_decision *d)
{
    answer_spec a = spec_std(SMTPKIT_R_OK);
    if (!d || d->code == 0 || d->code / 100 == 2) {
        s->helo_ok = 1;
        s->helo_verb = s->pend_verb;
        if (s->pend_verb == SMTPKIT_VERB_HELO) {
            put_reply(s, 250, NULL, NULL, host_of(s));
        } else {
            put_ehlo(s);
        }
        return;
    }
    s->helo_ok = 0;
    s->helo_len = 0;
    answer(s, d, &a);
}

static void finish_mail(smtpkit_server *s, const smtpkit_server_decision *d)
{
    answer_spec a = spec_std(SMTPKIT_R_SENDER_OK);
    if (answer(s, d, &a)) {
        s->in_txn = 1;
        s->txn_utf8 = s->pend_utf8;
        s->txn_body = s->pend_body;
        s->nrcpt = 0;
        s->msg_size = 0;
        s->chunking = 0;
    }
}

static void finish_rcpt(smtpkit_server *s, const smtpkit_server_decision *d)
{
    answer_spec a = spec_std(SMTPKIT_R_RCPT_OK);
    if (answer(s, d, &a) && s->in_txn)
        s->nrcpt++;
}

static void finish_data(smtpkit_server *s, const smtpkit_server_decision *d)
{
    answer_spec a = spec_std(SMTPKIT_R_START_DATA);
    unsigned opts = FLAG(s, SMTPKIT_SERVER_NORMALIZE_BARE_LF) ? SMTPKIT_DATA_NORMALIZE_BARE : 0;
    if (!answer(s, d, &a) || s->state == SRV_CLOSING)
        return;
    smtpkit_data_decoder_init(&s->u.dec, opts, dec_body, s);
    smtpkit_data_decoder_set_max_line(&s->u.dec, CFG(s)->max_text_line);
    msg_begin(s);
    s->state = SRV_DATA;
}

/* BDAT: the first chunk of a message asks on_data (pend: size in u.bdat). */
static void finish_bdat(smtpkit_server *s, const smtpkit_server_decision *d)
{
    answer_spec a = spec_std(SMTPKIT_R_OK);
    if (d && d->code != 0 && d->code / 100 != 2) {
        /* Refused: answer now, then swallow the chunk (RFC 3030 2: the
         * chunk's bytes follow the command whatever the reply). */
        answer(s, d, &a);
        if (s->state != SRV_CLOSING) {
            s->bdat_discard = 1;
            s->state = SRV_BDAT;
        }
        return;
    }
    s->chunking = 1;
    msg_begin(s);
    s->bdat_discard = 0;
    s->state = SRV_BDAT;
}

static void finish_rset(smtpkit_server *s, const smtpkit_server_decision *d)
{
    answer_spec a = spec_std(SMTPKIT_R_OK);
    if (answer(s, d, &a))
        txn_reset(s, SMTPKIT_ERR_STATE);
}

static void finish_quit(smtpkit_server *s, const smtpkit_server_decision *d)
{
    answer_spec a = spec_std(SMTPKIT_R_CLOSING);
    a.custom_2xx = 0;
    if (d && d->code && d->code / 100 != 2)
        d = NULL; /* RFC 5321 4.1.1.10: QUIT is answered with 221, always */
    answer(s, d, &a);
    txn_reset(s, SMTPKIT_ERR_STATE);
    go_closing(s, 0);
}

static void finish_cmd(smtpkit_server *s, const smtpkit_server_decision *d)
{
    answer_spec a;
    switch (s->pend_verb) {
    case SMTPKIT_VERB_VRFY: a = spec_std(SMTPKIT_R_VRFY_CANNOT); break;
    case SMTPKIT_VERB_EXPN: a = spec_std(SMTPKIT_R_NOT_IMPLEMENTED); break;
    case SMTPKIT_VERB_HELP:
        a = spec_std(SMTPKIT_R_OK);
        a.code = 214;
        a.text = "See RFC 5321 (https://www.rfc-editor.org/rfc/rfc5321)";
        break;
    default: a = spec_std(SMTPKIT_R_OK); break;
    }
    answer(s, d, &a);
}

static void finish(smtpkit_server *s, int kind, const smtpkit_server_decision *d)
{
    switch (kind) {
    case SRV_P_CONNECT: finish_connect(s, d); break;
    case SRV_P_HELO: finish_helo(s, d); break;
    case SRV_P_MAIL: finish_mail(s, d); break;
    case SRV_P_RCPT: finish_rcpt(s, d); break;
    case SRV_P_DATA: finish_data(s, d); break;
    case SRV_P_BDAT: finish_bdat(s, d); break;
    case SRV_P_END: finish_end(s, d); break;
    case SRV_P_RSET: finish_rset(s, d); break;
    case SRV_P_QUIT: finish_quit(s, d); break;
    case SRV_P_CMD: finish_cmd(s, d); break;
    default: break;
    }
}

/* ------------------------------------------------------------------------ */
/* ESMTP parameters                                                          */

/* RFC 3461 4: xtext = *( xchar / hexchar ); xchar is "!".."~" except "+" and
 * "="; hexchar is "+" and two upper-case hex digits. */
static int is_xtext(smtpkit_view v)
{
    size_t i;
    for (i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (c == '+') {
            int k;
            for (k = 1; k <= 2; k++) {
                unsigned char h = i + (size_t)k < v.len ? (unsigned char)v.ptr[i + (size_t)k] : 0;
                if (!smtpkit__is_digit(h) && !(h >= 'A' && h <= 'F'))
                    return 0;
            }
            i += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            return 0;
        }
    }
    return 1;
}

static int parse_u64(smtpkit_view v, uint64_t *out)
{
    uint64_t n = 0;
    size_t i;
    if (!v.len || v.len > 20)
        return 0;
    for (i = 0; i < v.len; i++) {
        unsigned d = (unsigned)(unsigned char)v.ptr[i] - '0';
        if (d > 9 || n > (UINT64_MAX - d) / 10)
            return 0;
        n = n * 10 + d;
    }
    *out = n;
    return 1;
}

#define VIEQ(v, lit) smtpkit__ieq((v).ptr, (v).len, (lit))

/* Check MAIL parameters (RFC 5321 4.1.1.11: unknown ones 555, bad values
 * 501). Returns 0 when fine, else the reply is written. */
static int mail_params(smtpkit_server *s, const smtpkit_command *c, smtpkit_server_mail *m)
{
    unsigned i, seen = 0;
    int dsn = !FLAG(s, SMTPKIT_SERVER_NO_DSN);
    for (i = 0; i < c->nparams; i++) {
        const smtpkit_param *p = &c->params[i];
        unsigned bit;
        int ok = 1;
        if (VIEQ(p->key, "SIZE")) {
            bit = 1;
            ok = p->has_value && parse_u64(p->value, &m->size);
        } else if (VIEQ(p->key, "BODY") && !FLAG(s, SMTPKIT_SERVER_NO_8BITMIME)) {
            bit = 2;
            if (!p->has_value)
                ok = 0;
            else if (VIEQ(p->value, "7BIT"))
                m->body = SMTPKIT_BODY_7BIT;
            else if (VIEQ(p->value, "8BITMIME"))
                m->body = SMTPKIT_BODY_8BITMIME;
            else if (VIEQ(p->value, "BINARYMIME") && offer_binarymime(s))
                m->body = SMTPKIT_BODY_BINARYMIME;
            else
                ok = 0;
        } else if (VIEQ(p->key, "SMTPUTF8") && !FLAG(s, SMTPKIT_SERVER_NO_SMTPUTF8)) {
            bit = 4;
            ok = !p->has_value;
            m->smtputf8 = 1;
        } else if (VIEQ(p->key, "RET") && dsn) {
            bit = 8;
            if (p->has_value && VIEQ(p->value, "FULL"))
                m->ret = SMTPKIT_DSN_RET_FULL;
            else if (p->has_value && VIEQ(p->value, "HDRS"))
                m->ret = SMTPKIT_DSN_RET_HDRS;
            else
                ok = 0;
        } else if (VIEQ(p->key, "ENVID") && dsn) {
            bit = 16;
            /* RFC 3461 4.4: at most 100 characters of xtext */
            ok = p->has_value && p->value.len >= 1 && p->value.len <= 100 && is_xtext(p->value);
            m->envid = p->value;
        } else if (VIEQ(p->key, "AUTH") && s->auth) {
            bit = 32;
            /* RFC 4954 5: AUTH=<> or AUTH=xtext */
            ok = p->has_value && (VIEQ(p->value, "<>") || is_xtext(p->value));
            m->auth = p->value;
        } else {
            put_std(s, SMTPKIT_R_PARAM_UNRECOGNIZED);
            protocol_error(s);
            return -1;
        }
        if (!ok || (seen & bit)) {
            put_reply(s, 501, "5.5.4", NULL, "Invalid parameter value or repeated parameter");
            protocol_error(s);
            return -1;
        }
        seen |= bit;
    }
    /* RFC 1870 6.1: refuse a declared size over the limit at once. */
    if (CFG(s)->max_size && m->size > CFG(s)->max_size) {
        put_std(s, SMTPKIT_R_MSG_TOO_BIG);
        return -1;
    }
    return 0;
}

static int notify_value(smtpkit_view v, unsigned *out)
{
    /* RFC 3461 4.1: "NEVER" or a comma list of SUCCESS, FAILURE, DELAY. */
    size_t i = 0;
    unsigned f = 0;
    while (i < v.len) {
        size_t j = i;
        smtpkit_view w;
        unsigned bit;
        while (j < v.len && v.ptr[j] != ',')
            j++;
        w.ptr = v.ptr + i;
        w.len = j - i;
        if (VIEQ(w, "NEVER"))
            bit = SMTPKIT_DSN_NOTIFY_NEVER;
        else if (VIEQ(w, "SUCCESS"))
            bit = SMTPKIT_DSN_NOTIFY_SUCCESS;
        else if (VIEQ(w, "FAILURE"))
            bit = SMTPKIT_DSN_NOTIFY_FAILURE;
        else if (VIEQ(w, "DELAY"))
            bit = SMTPKIT_DSN_NOTIFY_DELAY;
        else
            return 0;
        if (f & bit)
            return 0;
        f |= bit;
        if (j < v.len && j + 1 == v.len)
            return 0; /* trailing comma */
        i = j + 1;
    }
    if (!f || ((f & SMTPKIT_DSN_NOTIFY_NEVER) && f != SMTPKIT_DSN_NOTIFY_NEVER))
        return 0;
    *out = f;
    return 1;
}

static int orcpt_value(smtpkit_view v)
{
    /* RFC 3461 4.2: addr-type ";" xtext, at most 500 characters. */
    size_t i = 0;
    smtpkit_view x;
    if (!v.len || v.len > 500)
        return 0;
    while (i < v.len && v.ptr[i] != ';') {
        unsigned char c = (unsigned char)v.ptr[i];
        if (!(smtpkit__is_alnum(c) || c == '-'))
            return 0;
        i++;
    }
    if (i == 0 || i >= v.len)
        return 0;
    x.ptr = v.ptr + i + 1;
    x.len = v.len - i - 1;
    return x.len > 0 && is_xtext(x);
}

static int rcpt_params(smtpkit_server *s, const smtpkit_command *c, smtpkit_server_rcpt *r)
{
    unsigned i, seen = 0;
    int dsn = !FLAG(s, SMTPKIT_SERVER_NO_DSN);
    for (i = 0; i < c->nparams; i++) {
        const smtpkit_param *p = &c->params[i];
        unsigned bit;
        int ok;
        if (VIEQ(p->key, "NOTIFY") && dsn) {
            bit = 1;
            ok = p->has_value && notify_value(p->value, &r->notify);
        } else if (VIEQ(p->key, "ORCPT") && dsn) {
            bit = 2;
            ok = p->has_value && orcpt_value(p->value);
            r->orcpt = p->value;
        } else {
            put_std(s, SMTPKIT_R_PARAM_UNRECOGNIZED);
            protocol_error(s);
            return -1;
        }
        if (!ok || (seen & bit)) {
            put_reply(s, 501, "5.5.4", NULL, "Invalid parameter value or repeated parameter");
            protocol_error(s);
            return -1;
        }
        seen |= bit;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* commands                                                                  */

static void cmd_helo(smtpkit_server *s, const smtpkit_command *c)
{
    smtpkit_server_helo h;
    smtpkit_server_decision d;
    size_t n;
    int lmtp = FLAG(s, SMTPKIT_SERVER_LMTP);
    /* RFC 2033 4.1: LMTP greets with LHLO only (and SMTP knows no LHLO). */
    if ((c->verb == SMTPKIT_VERB_LHLO) != lmtp) {
        put_std(s, SMTPKIT_R_UNRECOGNIZED);
        protocol_error(s);
        return;
    }
    /* RFC 5321 4.1.4: EHLO/HELO reset the state like RSET. */
    txn_reset(s, SMTPKIT_ERR_STATE);
    n = c->arg.len > SMTPKIT_SERVER_HELO_MAX ? SMTPKIT_SERVER_HELO_MAX : c->arg.len;
    memcpy(helo_buf(s), c->arg.ptr, n);
    s->helo_len = (uint8_t)n;
    s->helo_ok = 0;
    s->pend_verb = (uint8_t)c->verb;
    h.verb = c->verb;
    h.domain = c->arg;
    memset(&d, 0, sizeof d);
    dispatch(s, s->cb->on_helo ? s->cb->on_helo(s->user, &h, &d) : 0, SRV_P_HELO, &d);
}

static void cmd_mail(smtpkit_server *s, const smtpkit_command *c)
{
    smtpkit_server_mail m;
    smtpkit_server_decision d;
    if (!s->helo_ok && !FLAG(s, SMTPKIT_SERVER_NO_HELO_REQUIRED)) {
        bad_sequence(s, "Send HELO or EHLO first");
        return;
    }
    if (s->in_txn) {
        bad_sequence(s, "Nested MAIL command");
        return;
    }
    if (FLAG(s, SMTPKIT_SERVER_REQUIRE_AUTH) && !s->authed) {
        put_std(s, SMTPKIT_R_AUTH_REQUIRED);
        return;
    }
    memset(&m, 0, sizeof m);
    m.path = &c->path;
    m.cmd = c;
    if (mail_params(s, c, &m) < 0)
        return;
    s->pend_utf8 = (uint8_t)m.smtputf8;
    s->pend_body = (uint8_t)m.body;
    memset(&d, 0, sizeof d);
    dispatch(s, s->cb->on_mail ? s->cb->on_mail(s->user, &m, &d) : 0, SRV_P_MAIL, &d);
}

static void cmd_rcpt(smtpkit_server *s, const smtpkit_command *c)
{
    smtpkit_server_rcpt r;
    smtpkit_server_decision d;
    if (!s->in_txn) {
        bad_sequence(s, "Need MAIL before RCPT");
        return;
    }
    if (s->chunking) {
        bad_sequence(s, "RCPT after BDAT");
        return;
    }
    if (s->nrcpt >= max_rcpt(s)) {
        /* RFC 5321 4.5.3.1.10: 452, and the client sends the rest later. */
        put_std(s, SMTPKIT_R_TOO_MANY_RCPTS);
        return;
    }
    memset(&r, 0, sizeof r);
    r.path = &c->path;
    r.cmd = c;
    r.index = s->nrcpt;
    if (rcpt_params(s, c, &r) < 0)
        return;
    memset(&d, 0, sizeof d);
    dispatch(s, s->cb->on_rcpt ? s->cb->on_rcpt(s->user, &r, &d) : 0, SRV_P_RCPT, &d);
}

/* Checks shared by DATA and BDAT. Returns 0 when the message may start. */
static int data_allowed(smtpkit_server *s)
{
    if (!s->in_txn) {
        bad_sequence(s, "Need MAIL command");
        return -1;
    }
    if (s->nrcpt == 0) {
        /* RFC 5321 3.3 and RFC 2920 3.1: after refused recipients, 554 (or
         * 503); RFC 2033 4.2: in LMTP "the DATA command MUST fail with a
         * 503 reply code". */
        if (FLAG(s, SMTPKIT_SERVER_LMTP))
            put_reply(s, 503, "5.5.1", NULL, "No valid recipients");
        else
            put_reply(s, 554, "5.5.1", NULL, "No valid recipients");
        return -1;
    }
    return 0;
}

static void cmd_data(smtpkit_server *s)
{
    smtpkit_server_decision d;
    if (s->chunking) {
        bad_sequence(s, "DATA after BDAT"); /* RFC 3030 2 */
        return;
    }
    if (s->in_txn && s->txn_body == SMTPKIT_BODY_BINARYMIME) {
        bad_sequence(s, "BINARYMIME needs BDAT"); /* RFC 3030 3 */
        return;
    }
    if (data_allowed(s) < 0)
        return;
    memset(&d, 0, sizeof d);
    dispatch(s, s->cb->on_data ? s->cb->on_data(s->user, &d) : 0, SRV_P_DATA, &d);
}

static void cmd_bdat(smtpkit_server *s, const smtpkit_command *c)
{
    smtpkit_server_decision d;
    uint64_t max = CFG(s)->max_size;
    if (!offer_chunking(s)) {
        put_std(s, SMTPKIT_R_NOT_IMPLEMENTED);
        protocol_error(s);
        return;
    }
    smtpkit_bdat_begin(&s->u.bdat, c->bdat_size, c->bdat_last);
    s->bdat_last = (uint8_t)c->bdat_last;
    /* From here on the chunk's bytes are read whatever the reply (RFC 3030 2). */
    s->bdat_discard = 1;
    s->state = SRV_BDAT;
    if (data_allowed(s) < 0)
        return;
    if (max && (c->bdat_size > max || s->msg_size + c->bdat_size > max)) {
        /* RFC 3030 2 / RFC 1870: refuse the chunk, fail the transaction. */
        put_std(s, SMTPKIT_R_MSG_TOO_BIG);
        txn_reset(s, SMTPKIT_ERR_TOO_BIG);
        return;
    }
    if (s->msg_open) {
        s->bdat_discard = 0;
        return;
    }
    memset(&d, 0, sizeof d);
    dispatch(s, s->cb->on_data ? s->cb->on_data(s->user, &d) : 0, SRV_P_BDAT, &d);
}

/* The last byte of a chunk arrived (room for a reply is there). */
static void bdat_chunk_done(smtpkit_server *s)
{
    char text[64];
    size_t n;
    if (s->bdat_discard) {
        s->bdat_discard = 0;
        s->state = SRV_CMD;
        return;
    }
    if (s->bdat_last) {
        s->state = SRV_END;
        return;
    }
    /* RFC 3030 4.2 examples: "250 <n> octets received". */
    n = smtpkit__u64_dec(text, s->msg_size);
    memcpy(text + n, " octets received", 17);
    if (s->msg_fail) {
        s->state = SRV_END; /* cannot happen: the size is checked at BDAT */
        return;
    }
    put_reply(s, 250, "2.0.0", NULL, text);
    s->state = SRV_CMD;
}

static void cmd_rset(smtpkit_server *s)
{
    smtpkit_server_decision d;
    memset(&d, 0, sizeof d);
    dispatch(s, s->cb->on_rset ? s->cb->on_rset(s->user, &d) : 0, SRV_P_RSET, &d);
}

static void cmd_quit(smtpkit_server *s)
{
    smtpkit_server_decision d;
    memset(&d, 0, sizeof d);
    dispatch(s, s->cb->on_quit ? s->cb->on_quit(s->user, &d) : 0, SRV_P_QUIT, &d);
}

static void cmd_other(smtpkit_server *s, const smtpkit_command *c)
{
    smtpkit_server_command oc;
    smtpkit_server_decision d;
    oc.verb = c->verb;
    oc.arg = c->arg;
    s->pend_verb = (uint8_t)c->verb;
    memset(&d, 0, sizeof d);
    dispatch(s, s->cb->on_command ? s->cb->on_command(s->user, &oc, &d) : 0, SRV_P_CMD, &d);
}

static void cmd_starttls(smtpkit_server *s)
{
    if (!FLAG(s, SMTPKIT_SERVER_STARTTLS)) {
        put_std(s, SMTPKIT_R_NOT_IMPLEMENTED);
        protocol_error(s);
        return;
    }
    if (s->tls) {
        bad_sequence(s, "TLS already active");
        return;
    }
    if (s->in_txn) {
        bad_sequence(s, "Mail transaction in progress");
        return;
    }
    put_reply(s, 220, "2.0.0", NULL, "Ready to start TLS");
    /* RFC 3207 4.2 / CVE-2011-0411: nothing received before the handshake
     * may be acted on; the feed loop discards the rest of the input. */
    s->state = SRV_TLS_WAIT;
    s->line_len = 0;
    s->skipping = 0;
}

/* After the provider ran: it must have answered, paused or aborted. */
static void auth_dispatch(smtpkit_server *s, int r)
{
    if (r < 0) {
        callback_abort(s);
        return;
    }
    if (s->state != SRV_AUTH || s->auth_turn == 1)
        return; /* answered: result given, or waiting for the client's line */
    if (r == SMTPKIT_PAUSE) {
        s->paused = 1;
        s->pause = SRV_P_AUTH;
        return;
    }
    /* The provider neither answered nor paused: fail safe. */
    put_std(s, SMTPKIT_R_TEMP_AUTH_FAILURE);
    s->state = SRV_CMD;
}

static void cmd_auth(smtpkit_server *s, const smtpkit_command *c)
{
    if (!s->auth) {
        put_std(s, SMTPKIT_R_NOT_IMPLEMENTED);
        protocol_error(s);
        return;
    }
    /* RFC 4954 4: only after EHLO, once, and not inside a transaction. */
    if (!s->helo_ok || s->helo_verb == SMTPKIT_VERB_HELO) {
        bad_sequence(s, "Send EHLO first");
        return;
    }
    if (s->authed) {
        bad_sequence(s, "Already authenticated");
        return;
    }
    if (s->in_txn) {
        bad_sequence(s, "AUTH not allowed during a mail transaction");
        return;
    }
    if (!offer_auth(s)) {
        /* RFC 4954 6: 538 encryption required for the mechanism. */
        put_reply(s, 538, "5.7.11", NULL, "Encryption required for requested authentication mechanism");
        return;
    }
    s->state = SRV_AUTH;
    s->auth_turn = 0;
    auth_dispatch(s, s->auth->start(s->auth_ctx, s, c->arg, c->initial_response,
                                    c->has_initial_response));
}

static void auth_line(smtpkit_server *s, const char *l, size_t n)
{
    smtpkit_view v;
    if (s->auth_turn != 1)
        return; /* cannot happen: lines are read only on the client's turn */
    v.ptr = l;
    v.len = n;
    s->auth_turn = 0;
    auth_dispatch(s, s->auth->step(s->auth_ctx, s, v));
}

/* RFC 3207 4: before TLS only these are allowed when TLS is required. */
static int allowed_before_tls(smtpkit_verb v)
{
    return v == SMTPKIT_VERB_EHLO || v == SMTPKIT_VERB_HELO || v == SMTPKIT_VERB_LHLO ||
           v == SMTPKIT_VERB_STARTTLS || v == SMTPKIT_VERB_NOOP || v == SMTPKIT_VERB_QUIT ||
           v == SMTPKIT_VERB_RSET;
}

static void junk_command(smtpkit_server *s)
{
    if (++s->junk > max_junk(s))
        protocol_error(s);
}

static void do_line(smtpkit_server *s, const char *l, size_t n)
{
    smtpkit_command c;
    unsigned pflags;
    int r;
    if (s->state == SRV_AUTH) {
        auth_line(s, l, n);
        return;
    }
    if (CFG(s)->max_commands && ++s->commands > CFG(s)->max_commands) {
        close_421(s, "4.7.0", "Too many commands, closing connection", SMTPKIT_ERR_PROTOCOL);
        return;
    }
    pflags = (FLAG(s, SMTPKIT_SERVER_STRICT_SYNTAX) ? 0u : (unsigned)SMTPKIT_CMD_LENIENT_SPACE) |
             (s->txn_utf8 ? (unsigned)SMTPKIT_CMD_UTF8 : 0u);
    r = smtpkit_command_parse(l, n, pflags, &c);
    /* RFC 6531 3.7.4.2: a VRFY or EXPN string "may include Non-ASCII
     * characters" (and an SMTPUTF8 parameter) wherever SMTPUTF8 is offered. */
    if (r == SMTPKIT_ERR_NON_ASCII && (c.verb == SMTPKIT_VERB_VRFY || c.verb == SMTPKIT_VERB_EXPN) &&
        !FLAG(s, SMTPKIT_SERVER_NO_SMTPUTF8))
        r = smtpkit_command_parse(l, n, pflags | SMTPKIT_CMD_UTF8, &c);
    if (s->state == SRV_REFUSED) {
        /* RFC 5321 3.1: after a 554 greeting only QUIT is served. */
        if (r == 0 && c.verb == SMTPKIT_VERB_QUIT)
            cmd_quit(s);
        else
            bad_sequence(s, NULL);
        return;
    }
    if (r < 0) {
        int code = 500;
        const char *esc = "5.5.2", *text = "Syntax error";
        smtpkit_command_error_reply_line(r, l, n, pflags, &code, &esc, &text);
        put_reply(s, code, esc, NULL, text);
        protocol_error(s);
        return;
    }
    if (FLAG(s, SMTPKIT_SERVER_REQUIRE_TLS) && !s->tls && !allowed_before_tls(c.verb)) {
        put_std(s, SMTPKIT_R_TLS_REQUIRED);
        return;
    }
    switch (c.verb) {
    case SMTPKIT_VERB_HELO:
    case SMTPKIT_VERB_EHLO:
    case SMTPKIT_VERB_LHLO: cmd_helo(s, &c); break;
    case SMTPKIT_VERB_MAIL: cmd_mail(s, &c); break;
    case SMTPKIT_VERB_RCPT: cmd_rcpt(s, &c); break;
    case SMTPKIT_VERB_DATA: cmd_data(s); break;
    case SMTPKIT_VERB_BDAT: cmd_bdat(s, &c); break;
    case SMTPKIT_VERB_RSET:
        junk_command(s);
        if (s->state != SRV_CLOSING)
            cmd_rset(s);
        break;
    case SMTPKIT_VERB_QUIT: cmd_quit(s); break;
    case SMTPKIT_VERB_NOOP:
    case SMTPKIT_VERB_VRFY:
    case SMTPKIT_VERB_EXPN:
    case SMTPKIT_VERB_HELP:
        junk_command(s);
        if (s->state != SRV_CLOSING)
            cmd_other(s, &c);
        break;
    case SMTPKIT_VERB_STARTTLS: cmd_starttls(s); break;
    case SMTPKIT_VERB_AUTH: cmd_auth(s, &c); break;
    default:
        put_std(s, SMTPKIT_R_UNRECOGNIZED);
        protocol_error(s);
        break;
    }
}

/* RFC 4954 4: responses in an AUTH exchange "can be much longer than normal
 * SMTP commands" and servers "MUST be able to handle" what their mechanisms
 * produce; 12288 octets is the limit it calls sufficient. line[] stays at
 * max_command_line, so an idle session costs no more: a response line that
 * outgrows it moves to a buffer allocated for that line and freed (wiped: it
 * holds credentials) once the provider has read it. */
static size_t line_max(const smtpkit_server *s)
{
    if (s->state == SRV_AUTH && s->line_cap < SMTPKIT__AUTH_LINE_MAX)
        return SMTPKIT__AUTH_LINE_MAX;
    return s->line_cap;
}

/* The buffer for a partial line of `need` bytes, or NULL (no memory). */
static char *line_room(smtpkit_server *s, size_t need)
{
    char *b;
    if (s->line_big)
        return s->u.auth_line;
    if (need <= (size_t)s->line_cap - 1)
        return line_buf(s);
    b = (char *)smtpkit__malloc(&s->mem, SMTPKIT__AUTH_LINE_MAX);
    if (!b)
        return NULL;
    memcpy(b, line_buf(s), s->line_len);
    s->u.auth_line = b;
    s->line_big = 1;
    return b;
}

static void line_big_free(smtpkit_server *s)
{
    if (!s->line_big)
        return;
    smtpkit__wipe(s->u.auth_line, SMTPKIT__AUTH_LINE_MAX);
    smtpkit__free(&s->mem, s->u.auth_line);
    s->u.auth_line = NULL;
    s->line_big = 0;
}

static void line_too_long(smtpkit_server *s)
{
    line_big_free(s);
    if (s->state == SRV_AUTH) {
        auth_cancel(s);
        s->state = SRV_CMD;
    }
    put_std(s, SMTPKIT_R_LINE_TOO_LONG);
    protocol_error(s);
}

/* Take (at most) one line from p[0..n) and act on it. Returns bytes consumed. */
static size_t line_input(smtpkit_server *s, const char *p, size_t n)
{
    const char *lf = (const char *)memchr(p, '\n', n);
    size_t max = line_max(s); /* including CRLF */
    size_t take, ll;
    const char *l;
    char *buf;
    if (s->skipping) {
        if (!lf)
            return n;
        s->activity = 1;
        s->skipping = 0;
        line_too_long(s);
        return (size_t)(lf - p) + 1;
    }
    if (!lf) {
        /* A partial line: keep it, unless it can no longer fit. */
        if (s->line_len + n > max - 1 || !(buf = line_room(s, s->line_len + n))) {
            /* (no memory for a long AUTH line: refused as too long, 5.5.6) */
            s->line_len = 0;
            s->skipping = 1;
            line_big_free(s);
        } else {
            memcpy(buf + s->line_len, p, n);
            s->line_len = (uint16_t)(s->line_len + n);
        }
        return n;
    }
    take = (size_t)(lf - p) + 1;
    s->activity = 1; /* a whole line: the command timer starts again */
    if (s->line_len) {
        if (s->line_len + take - 1 > max - 1 || !(buf = line_room(s, s->line_len + take - 1))) {
            s->line_len = 0;
            line_too_long(s);
            return take;
        }
        memcpy(buf + s->line_len, p, take - 1);
        l = buf;
        ll = s->line_len + take - 1;
        s->line_len = 0;
    } else {
        l = p;
        ll = take - 1;
    }
    /* RFC 5321 2.3.8 wants CRLF; a bare LF is tolerated for commands only. */
    if (ll && l[ll - 1] == '\r')
        ll--;
    if (ll + 2 > max) {
        line_too_long(s);
        return take;
    }
    do_line(s, l, ll);
    line_big_free(s); /* the provider has read it (the view lives for the call) */
    return take;
}

/* ------------------------------------------------------------------------ */
/* feed                                                                      */

smtpkit_ssize smtpkit_server_feed(smtpkit_server *s, const char *data, size_t len)
{
    size_t pos = 0;
    if (!s || (!data && len))
        return SMTPKIT_ERR_INVALID_ARG;
    if (s->fatal)
        return s->fatal;
    if (s->paused)
        return SMTPKIT_ERR_PAUSED;
    if (s->state == SRV_NEW)
        return SMTPKIT_ERR_STATE;
    while (!s->paused && !s->fatal) {
        smtpkit_ssize r;
        size_t take;
        switch (s->state) {
        case SRV_CLOSING:
        case SRV_TLS_WAIT:
            /* RFC 5321 4.1.1.10 (after QUIT) and RFC 3207 4.2 (before the
             * handshake): consumed, never acted on. */
            pos = len;
            goto done;
        case SRV_DATA:
            if (s->recv_pending) {
                deliver_received(s);
                continue;
            }
            if (pos == len)
                goto done;
            r = smtpkit_data_decoder_feed(&s->u.dec, data + pos, len - pos);
            if (r < 0) {
                if (!s->fatal)
                    callback_abort(s);
                goto done;
            }
            pos += (size_t)r;
            if (smtpkit_data_decoder_done(&s->u.dec))
                s->state = SRV_END;
            break;
        case SRV_BDAT:
            if (s->recv_pending) {
                deliver_received(s);
                continue;
            }
            if (smtpkit_bdat_remaining(&s->u.bdat) == 0) {
                if (!have_room(s))
                    goto done;
                bdat_chunk_done(s);
                break;
            }
            if (pos == len)
                goto done;
            take = smtpkit_bdat_take(&s->u.bdat, len - pos);
            if (!s->bdat_discard)
                deliver(s, data + pos, take, 1);
            pos += take;
            break;
        case SRV_END:
            if (!end_step(s))
                goto done;
            break;
        default: /* SRV_CMD, SRV_REFUSED, SRV_AUTH */
            if (pos == len || !have_room(s))
                goto done;
            pos += line_input(s, data + pos, len - pos);
            if (s->state == SRV_TLS_WAIT)
                pos = len;
            break;
        }
    }
done:
    /* RFC 5321 4.5.3.2.7: the server's timeout runs while it awaits the next
     * command, so bytes of a command line not yet complete do not restart
     * it (line_input() does, for each whole line): a client that dribbles a
     * command a byte at a time still times out. Message data restarts it
     * with every read (4.5.3.2.6: per data block). */
    if (pos && s->state != SRV_CMD && s->state != SRV_REFUSED && s->state != SRV_AUTH)
        s->activity = 1;
    if (s->fatal)
        return s->fatal;
    return (smtpkit_ssize)pos;
}

/* ------------------------------------------------------------------------ */
/* the rest of the API                                                       */

int smtpkit_server_start(smtpkit_server *s, uint64_t now_ms)
{
    smtpkit_server_decision d;
    if (!s)
        return SMTPKIT_ERR_INVALID_ARG;
    if (s->started)
        return SMTPKIT_ERR_STATE;
    s->started = 1;
    s->state = SRV_GREETING;
    s->deadline = now_ms + timeout_of(s);
    memset(&d, 0, sizeof d);
    dispatch(s, s->cb->on_connect ? s->cb->on_connect(s->user, &d) : 0, SRV_P_CONNECT, &d);
    return s->fatal;
}

int smtpkit_server_resume(smtpkit_server *s, const smtpkit_server_decision *d)
{
    int kind;
    if (!s)
        return SMTPKIT_ERR_INVALID_ARG;
    if (!s->paused || s->pause == SRV_P_AUTH)
        return SMTPKIT_ERR_STATE;
    kind = s->pause;
    s->paused = 0;
    s->pause = SRV_P_NONE;
    s->activity = 1;
    if (kind == SRV_P_BODY) {
        if (s->state == SRV_DATA)
            smtpkit_data_decoder_resume(&s->u.dec); /* not paused if Received: paused */
        return 0;
    }
    finish(s, kind, d);
    return s->fatal;
}

int smtpkit_server_paused(const smtpkit_server *s) { return s && s->paused; }

int smtpkit__server_in_data(const smtpkit_server *s)
{
    return s && !s->paused && !s->fatal && (s->state == SRV_DATA || s->state == SRV_BDAT);
}

int smtpkit_server_tick(smtpkit_server *s, uint64_t now_ms)
{
    if (!s || !s->started || s->eof || s->fatal)
        return 0;
    if (s->activity) {
        s->activity = 0;
        s->deadline = now_ms + timeout_of(s);
    }
    if (s->paused || now_ms < s->deadline)
        return 0;
    if (s->state == SRV_CLOSING) {
        /* The closing reply could not be written in time: drop it. */
        s->out_off = s->out_len = 0;
        s->deadline = SMTPKIT_SERVER_NO_DEADLINE;
        return 0;
    }
    /* RFC 5321 4.5.3.2: give up on an idle client, with a 421. */
    msg_abort(s, SMTPKIT_ERR_TIMEOUT);
    close_421(s, "4.4.2", "Timeout exceeded, closing connection", SMTPKIT_ERR_TIMEOUT);
    s->deadline = now_ms + timeout_of(s);
    return SMTPKIT_ERR_TIMEOUT;
}

uint64_t smtpkit_server_deadline(const smtpkit_server *s)
{
    if (!s || !s->started || s->paused || s->eof || s->fatal ||
        (s->state == SRV_CLOSING && s->out_len == s->out_off))
        return SMTPKIT_SERVER_NO_DEADLINE;
    return s->deadline;
}

int smtpkit_server_eof(smtpkit_server *s)
{
    if (!s)
        return SMTPKIT_ERR_INVALID_ARG;
    msg_abort(s, SMTPKIT_ERR_CLOSED);
    if (s->state != SRV_CLOSING)
        go_closing(s, SMTPKIT_ERR_CLOSED);
    s->eof = 1;
    return 0;
}

int smtpkit_server_shutdown(smtpkit_server *s, const smtpkit_server_decision *d)
{
    if (!s)
        return SMTPKIT_ERR_INVALID_ARG;
    if (s->state == SRV_CLOSING)
        return SMTPKIT_ERR_STATE;
    if (s->paused && s->pause == SRV_P_AUTH)
        auth_cancel(s);
    s->paused = 0;
    s->pause = SRV_P_NONE;
    msg_abort(s, SMTPKIT_ERR_STATE);
    if (s->state != SRV_NEW && out_free(s) >= SMTPKIT_SERVER_REPLY_MAX) {
        if (d && d->code >= 400 && d->code <= 599) {
            put_reply(s, d->code, smtpkit__server_esc_ok(d->esc, d->code) ? d->esc
                                                                         : smtpkit_default_esc(d->code),
                      d->code == 421 ? host_of(s) : NULL, d->text ? d->text : "Service shutting down");
        } else {
            put_reply(s, 421, "4.3.2", host_of(s), "Service shutting down");
        }
    }
    txn_reset(s, SMTPKIT_ERR_STATE);
    go_closing(s, SMTPKIT_ERR_STATE);
    return 0;
}

unsigned smtpkit_server_want(const smtpkit_server *s)
{
    unsigned w = 0;
    int pending;
    if (!s)
        return 0;
    pending = s->out_len != s->out_off;
    if (pending)
        w |= SMTPKIT_SERVER_WANT_WRITE;
    if (s->state == SRV_CLOSING || s->fatal)
        return w | SMTPKIT_SERVER_WANT_CLOSE;
    if (s->state == SRV_TLS_WAIT) {
        if (!pending)
            w |= SMTPKIT_SERVER_WANT_STARTTLS;
        return w;
    }
    if (s->started && !s->paused && s->state != SRV_GREETING && have_room(s))
        w |= SMTPKIT_SERVER_WANT_READ;
    return w;
}

int smtpkit_server_tls_started(smtpkit_server *s)
{
    if (!s)
        return SMTPKIT_ERR_INVALID_ARG;
    if (s->tls || (s->state != SRV_NEW && s->state != SRV_TLS_WAIT))
        return SMTPKIT_ERR_STATE;
    s->tls = 1;
    if (s->state == SRV_TLS_WAIT) {
        /* RFC 3207 4.2: forget everything learnt from the client. */
        txn_reset(s, SMTPKIT_ERR_STATE);
        s->helo_ok = 0;
        s->helo_len = 0;
        s->helo_verb = 0;
        s->authed = 0;
        s->line_len = 0;
        s->skipping = 0;
        s->state = SRV_CMD;
        s->activity = 1;
    }
    return 0;
}

int smtpkit_server_tls_active(const smtpkit_server *s) { return s && s->tls; }

int smtpkit_server_close_reason(const smtpkit_server *s) { return s ? s->close_reason : 0; }

smtpkit_view smtpkit_server_helo_name(const smtpkit_server *s)
{
    smtpkit_view v;
    v.ptr = s ? helo_buf((smtpkit_server *)(uintptr_t)s) : NULL;
    v.len = s ? s->helo_len : 0;
    return v;
}

const char *smtpkit_server_protocol(const smtpkit_server *s)
{
    /* RFC 3848 (S: TLS, A: authenticated), RFC 6531 3.7.3 (UTF8 prefix). */
    static const char *const names[3][4] = {
        {"SMTP", "SMTP", "SMTP", "SMTP"},
        {"ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA"},
        {"LMTP", "LMTPS", "LMTPA", "LMTPSA"}};
    static const char *const utf8[3][4] = {
        {"UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA"},
        {"UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA"},
        {"UTF8LMTP", "UTF8LMTPS", "UTF8LMTPA", "UTF8LMTPSA"}};
    int kind, sa;
    if (!s)
        return "SMTP";
    kind = FLAG(s, SMTPKIT_SERVER_LMTP) ? 2 : s->helo_verb == SMTPKIT_VERB_HELO ? 0 : 1;
    if (!s->helo_ok && kind == 1)
        kind = 0;
    sa = (s->tls ? 1 : 0) + (s->authed ? 2 : 0);
    return s->txn_utf8 ? utf8[kind][sa] : names[kind][sa];
}

/* ---- AUTH ---- */

int smtpkit_server_set_auth(smtpkit_server *s, const smtpkit_server_auth_ops *ops, void *ctx)
{
    if (!s)
        return SMTPKIT_ERR_INVALID_ARG;
    if (s->state == SRV_AUTH)
        return SMTPKIT_ERR_STATE;
    if (ops && (!ops->start || !ops->step))
        return SMTPKIT_ERR_INVALID_ARG;
    s->auth = ops;
    s->auth_ctx = ctx;
    return 0;
}

static void auth_unpause(smtpkit_server *s)
{
    if (s->paused && s->pause == SRV_P_AUTH) {
        s->paused = 0;
        s->pause = SRV_P_NONE;
        s->activity = 1;
    }
}

int smtpkit_server_auth_challenge(smtpkit_server *s, const char *b64, size_t len)
{
    char text[SMTPKIT_SERVER_REPLY_MAX];
    size_t i;
    if (!s || (!b64 && len))
        return SMTPKIT_ERR_INVALID_ARG;
    if (s->state != SRV_AUTH || s->auth_turn != 0)
        return SMTPKIT_ERR_STATE;
    if (len > SMTPKIT_REPLY_LINE_MAX - 6)
        return SMTPKIT_ERR_BUFFER_TOO_SMALL;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)b64[i];
        if (c < 0x21 || c > 0x7e)
            return SMTPKIT_ERR_INJECTION;
        text[i] = (char)c;
    }
    text[len] = '\0';
    /* RFC 4954 4: "334" SP [base64] CRLF, no enhanced code. */
    put_reply(s, 334, NULL, NULL, text);
    s->auth_turn = 1;
    auth_unpause(s);
    return 0;
}

int smtpkit_server_auth_result(smtpkit_server *s, int authenticated,
                               const smtpkit_server_decision *d)
{
    if (!s)
        return SMTPKIT_ERR_INVALID_ARG;
    if (s->state != SRV_AUTH || s->auth_turn != 0)
        return SMTPKIT_ERR_STATE;
    s->state = SRV_CMD;
    if (authenticated) {
        answer_spec a = spec_std(SMTPKIT_R_AUTH_OK);
        a.custom_2xx = 0;
        if (d && d->code && d->code / 100 != 2)
            d = NULL;
        answer(s, d, &a);
        s->authed = 1;
    } else {
        answer_spec a = spec_std(SMTPKIT_R_AUTH_INVALID);
        smtpkit_server_decision dd;
        if (!d || !d->code || d->code / 100 == 2) {
            memset(&dd, 0, sizeof dd);
            if (d && !d->code)
                dd = *d;
            dd.code = 535;
            if (!dd.esc)
                dd.esc = "5.7.8";
            if (!dd.text)
                dd.text = a.text;
            d = &dd;
        }
        answer(s, d, &a);
    }
    auth_unpause(s);
    return 0;
}

int smtpkit_server_authenticated(const smtpkit_server *s) { return s && s->authed; }

void smtpkit_server_free(smtpkit_server *s)
{
    smtpkit_mem mem;
    if (!s)
        return;
    msg_abort(s, SMTPKIT_ERR_CLOSED);
    if (s->state == SRV_AUTH)
        auth_cancel(s);
    line_big_free(s);
    mem = s->mem;
    smtpkit__free(&mem, s);
}
