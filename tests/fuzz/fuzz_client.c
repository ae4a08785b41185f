/* Fuzz the client session with server bytes. The first byte chooses the
 * configuration, the second the feeding pattern; the rest is what the
 * "server" says. Invariants checked on every input:
 * - every transaction is reported exactly once, and all of them once the
 *   session is over;
 * - the bytes written are exactly what the session announced, in order
 *   (check_output): each on_command line plus CRLF (an AUTH line's masked
 *   part is base64), each message body exactly as the reference encoder
 *   below makes it (dot-stuffed with "." CRLF for DATA, only CRLF-normalised
 *   for BDAT, chunks of the sizes their BDAT lines say); only the last
 *   thing written may be cut short. Nothing else ever reaches the wire: no
 *   command line longer than 512 octets, with a CR, LF or NUL, non-ASCII
 *   outside an SMTPUTF8 transaction, and no 8-bit body without
 *   BODY=8BITMIME/BINARYMIME;
 * - nothing is written after the session ended. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/client.h"
#include "smtpkit/sasl.h"
#include "smtpkit/smtpkit.h"

#define FZ_ASSERT(c)                                                                          \
    do {                                                                                      \
        if (!(c)) {                                                                           \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #c);    \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* One on_command event, copied. */
typedef struct fz_event {
    int cmd;
    unsigned tx;
    uint64_t bytes;
    size_t off, len; /* the line, in fz.lines */
} fz_event;

typedef struct fz {
    unsigned reported[4];
    unsigned ntx;
    smtpkit_client *c;
    fz_event ev[512];
    size_t nev;
    int ev_overflow;
    char lines[65536];
    size_t lines_len;
    char *out; /* every byte written */
    size_t out_len, out_cap;
} fz;

static int on_tx(void *u, const smtpkit_client_tx_result *r)
{
    fz *f = (fz *)u;
    if (r->tx_id >= f->ntx || f->reported[r->tx_id]++)
        abort(); /* unknown transaction, or reported twice */
    if (r->status == SMTPKIT_TX_FAILED && r->err == 0)
        abort();
    if (r->naccepted + r->nrefused == 0)
        abort();
    return 0;
}

static int on_rcpt(void *u, const smtpkit_client_rcpt_result *r)
{
    fz *f = (fz *)u;
    if (r->tx_id >= f->ntx || !r->reply || r->reply->code < 200 || r->reply->code > 599)
        abort();
    return 0;
}

static int on_cmd(void *u, const smtpkit_client_command *cmd)
{
    fz *f = (fz *)u;
    size_t i;
    FZ_ASSERT(cmd->line.len <= 1024);
    for (i = 0; i < cmd->line.len; i++)
        FZ_ASSERT(cmd->line.ptr[i] != '\r' && cmd->line.ptr[i] != '\n');
    if (f->nev == sizeof f->ev / sizeof f->ev[0] || f->lines_len + cmd->line.len > sizeof f->lines) {
        f->ev_overflow = 1;
        return 0;
    }
    f->ev[f->nev].cmd = (int)cmd->cmd;
    f->ev[f->nev].tx = cmd->tx_id;
    f->ev[f->nev].bytes = cmd->body_bytes;
    f->ev[f->nev].off = f->lines_len;
    f->ev[f->nev].len = cmd->line.len;
    memcpy(f->lines + f->lines_len, cmd->line.ptr, cmd->line.len);
    f->lines_len += cmd->line.len;
    f->nev++;
    return 0;
}

/* The reference encoding of a body: every CRLF, LF and lone CR as CRLF, a
 * final CRLF when missing (not for an empty body), and for DATA a doubled
 * leading dot on each line (RFC 5321 4.5.2). Returns the length; `o` has
 * room for 3 * n + 8. */
static size_t ref_encode(const char *in, size_t n, int stuff, char *o)
{
    size_t i, k = 0;
    int bol = 1;
    for (i = 0; i < n; i++) {
        char c = in[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < n && in[i + 1] == '\n')
                i++;
            o[k++] = '\r';
            o[k++] = '\n';
            bol = 1;
            continue;
        }
        if (bol && stuff && c == '.')
            o[k++] = '.';
        o[k++] = c;
        bol = 0;
    }
    if (!bol) {
        o[k++] = '\r';
        o[k++] = '\n';
    }
    return k;
}

static int is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '=';
}

/* The written bytes `w[0..n)` must match the announced events; only the
 * last item may be cut short (the session ended with it in the buffer). */
static void check_output(const fz *f, const char *const *bodies, const size_t *blen)
{
    const char *w = f->out;
    size_t n = f->out_len, pos = 0, e;
    char enc[256];
    int utf8_tx[4] = {0, 0, 0, 0}, eightbit_tx[4] = {0, 0, 0, 0};
    uint64_t bdat_off[4] = {0, 0, 0, 0};
    int data_open = -1; /* DATA sent for this tx, its body not yet announced */
    if (f->ev_overflow)
        return;
    for (e = 0; e < f->nev && pos < n; e++) {
        const fz_event *ev = &f->ev[e];
        const char *line = f->lines + ev->off;
        size_t len = ev->len, i, m;
        if (ev->cmd == SMTPKIT_CLIENT_CMD_BODY) {
            /* the body went out before its event */
            FZ_ASSERT(ev->tx < 3 && data_open == (int)ev->tx);
            m = ref_encode(bodies[ev->tx], blen[ev->tx], 1, enc);
            /* or "." alone: DATA got 354 although the transaction had no
             * accepted recipient or sender (RFC 2920 3.1), so it is ended
             * with an empty message */
            if (ev->bytes == 0)
                m = 0;
            FZ_ASSERT(ev->bytes == m);
            for (i = 0; i < m + 3 && pos < n; i++, pos++)
                FZ_ASSERT(w[pos] == (i < m ? enc[i] : ".\r\n"[i - m]));
            data_open = -1;
            continue;
        }
        /* after DATA comes its body, or (DATA refused) the next command: a
         * body cut short before a command would not match the line below */
        data_open = -1;
        if (ev->cmd == SMTPKIT_CLIENT_CMD_AUTH) {
            /* "AUTH MECH" [" " base64] / base64 / "*": the mask stands for base64 */
            size_t shown = len >= 5 && memcmp(line + len - 5, " ****", 5) == 0 ? len - 4
                         : len == 4 && memcmp(line, "****", 4) == 0 ? 0 : len;
            for (i = 0; i < shown && pos < n; i++, pos++)
                FZ_ASSERT(w[pos] == line[i]);
            if (shown < len)
                while (pos < n && w[pos] != '\r') {
                    FZ_ASSERT(is_b64(w[pos]));
                    pos++;
                }
        } else {
            FZ_ASSERT(len + 2 <= 512); /* RFC 5321 4.5.3.1.4 */
            for (i = 0; i < len && pos < n; i++, pos++) {
                unsigned char c = (unsigned char)line[i];
                FZ_ASSERT(w[pos] == line[i] && c != 0);
                FZ_ASSERT(c < 0x80 || (ev->tx < 4 && utf8_tx[ev->tx] &&
                                       (ev->cmd == SMTPKIT_CLIENT_CMD_MAIL ||
                                        ev->cmd == SMTPKIT_CLIENT_CMD_RCPT)));
            }
        }
        for (i = 0; i < 2 && pos < n; i++, pos++)
            FZ_ASSERT(w[pos] == "\r\n"[i]);
        if (ev->cmd == SMTPKIT_CLIENT_CMD_MAIL && ev->tx < 4) {
            /* the parameters this transaction's MAIL asked for */
            utf8_tx[ev->tx] = 0;
            for (i = 0; i + 9 <= len; i++)
                if (memcmp(line + i, " SMTPUTF8", 9) == 0)
                    utf8_tx[ev->tx] = 1;
            eightbit_tx[ev->tx] = 0;
            for (i = 0; i + 13 <= len; i++)
                if (memcmp(line + i, "BODY=8BITMIME", 13) == 0 ||
                    (i + 15 <= len && memcmp(line + i, "BODY=BINARYMIME", 15) == 0))
                    eightbit_tx[ev->tx] = 1;
        }
        if (ev->cmd == SMTPKIT_CLIENT_CMD_DATA) {
            FZ_ASSERT(ev->tx < 3);
            FZ_ASSERT(ev->tx != 1 || eightbit_tx[1]); /* the 8-bit body */
            data_open = (int)ev->tx;
        }
        if (ev->cmd == SMTPKIT_CLIENT_CMD_BDAT) {
            /* the chunk follows its line; together the chunks are the body */
            FZ_ASSERT(ev->tx < 3);
            FZ_ASSERT(ev->tx != 1 || eightbit_tx[1]);
            m = ref_encode(bodies[ev->tx], blen[ev->tx], 0, enc);
            FZ_ASSERT(bdat_off[ev->tx] + ev->bytes <= m);
            for (i = 0; i < ev->bytes && pos < n; i++, pos++)
                FZ_ASSERT(w[pos] == enc[bdat_off[ev->tx] + i]);
            bdat_off[ev->tx] += ev->bytes;
            if (len >= 5 && memcmp(line + len - 5, " LAST", 5) == 0)
                FZ_ASSERT(bdat_off[ev->tx] == m);
        }
    }
    if (pos < n) {
        /* bytes after the last event: only part of a body after DATA */
        size_t m;
        FZ_ASSERT(data_open >= 0);
        m = ref_encode(bodies[data_open], blen[data_open], 1, enc);
        FZ_ASSERT(n - pos <= m);
        FZ_ASSERT(memcmp(w + pos, enc, n - pos) == 0);
    }
}

static const smtpkit_client_callbacks cb = {SMTPKIT_CLIENT_VERSION, NULL, NULL, on_cmd, NULL,
                                            on_rcpt, on_tx, NULL, NULL};

static void drain(fz *f, int done_before)
{
    const char *p;
    size_t n;
    int guard = 0;
    while ((n = smtpkit_client_output(f->c, &p)) > 0 && guard++ < 1000) {
        FZ_ASSERT(!done_before);
        if (n > 3000)
            n /= 2;
        if (f->out_len + n > f->out_cap) {
            f->out_cap = (f->out_len + n) * 2;
            f->out = (char *)realloc(f->out, f->out_cap);
            FZ_ASSERT(f->out != NULL);
        }
        memcpy(f->out + f->out_len, p, n);
        f->out_len += n;
        smtpkit_client_output_done(f->c, n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char body[] = "Subject: fuzz\r\n\r\n.dot\r\nline\n.\n";
    static const char body8[] = "caf\xc3\xa9\r\n";
    smtpkit_client_config cfg;
    smtpkit_sasl_creds creds;
    smtpkit_rcpt r2[2];
    smtpkit_envelope env;
    smtpkit_source src[3];
    smtpkit_mem_source ms[3];
    fz f;
    unsigned opt, split;
    size_t pos = 2;
    uint64_t now = 0;
    int i;

    if (size < 2)
        return 0;
    opt = data[0];
    split = data[1];
    memset(&f, 0, sizeof f);
    smtpkit_client_config_init(&cfg);
    cfg.flags = (opt & 1 ? SMTPKIT_CLIENT_NO_PIPELINING : 0) | (opt & 2 ? SMTPKIT_CLIENT_LMTP : 0) |
                (opt & 4 ? SMTPKIT_CLIENT_BDAT : 0);
    cfg.tls = (smtpkit_client_tls)((opt >> 3) & 3);
    cfg.output_size = opt & 32 ? 4096 : 0;
    if (opt & 64) {
        memset(&creds, 0, sizeof creds);
        creds.user.ptr = "user";
        creds.user.len = 4;
        creds.password.ptr = "pass";
        creds.password.len = 4;
        cfg.auth_creds = &creds;
        cfg.auth_allow_plaintext = 1;
    }
    f.c = smtpkit_client_new(&cfg, &cb, &f, NULL);
    if (!f.c)
        abort();

    memset(&env, 0, sizeof env);
    memset(r2, 0, sizeof r2);
    r2[0].mailbox = "b@example.net";
    r2[0].notify = SMTPKIT_DSN_NOTIFY_FAILURE;
    r2[1].mailbox = "j\xc3\xbcrgen@example.net";
    r2[1].orcpt = "j@example.net";
    env.from = "a@example.org";
    env.rcpts = r2;
    env.nrcpts = opt & 128 ? 2 : 1;
    env.envid = "id1";
    env.ret = SMTPKIT_DSN_RET_HDRS;
    smtpkit_source_from_memory(&src[0], &ms[0], body, sizeof body - 1);
    smtpkit_source_from_memory(&src[1], &ms[1], body8, sizeof body8 - 1);
    smtpkit_source_from_memory(&src[2], &ms[2], "", 0);
    for (i = 0; i < 3; i++) {
        int id = smtpkit_client_queue(f.c, &env, &src[i], NULL);
        if (id != i)
            abort();
        f.ntx++;
        env.nrcpts = 1;
    }
    if (!(split & 128))
        smtpkit_client_quit(f.c);

    smtpkit_client_tick(f.c, now);
    while (pos < size) {
        unsigned w = smtpkit_client_want(f.c);
        size_t chunk = (split & 7) == 0 ? size - pos : (size_t)(split & 7) * ((split >> 3) & 7) + 1;
        int done = (w & SMTPKIT_CLIENT_DONE) != 0;
        smtpkit_ssize r;
        drain(&f, done);
        if (w & SMTPKIT_CLIENT_WANT_STARTTLS)
            smtpkit_client_starttls_done(f.c, data[pos] == 'F' ? SMTPKIT_ERR_TLS : 0);
        if (chunk > size - pos)
            chunk = size - pos;
        r = smtpkit_client_feed(f.c, (const char *)data + pos, chunk);
        if (r == SMTPKIT_ERR_PAUSED) {
            smtpkit_client_resume(f.c);
            continue;
        }
        if (r < 0)
            abort();
        pos += (size_t)r;
        /* split bit 6: a slow server, whose pauses (up to 63 s a read) may
         * reach the timeouts; else the conversation can reach the body */
        now += (split & 64) ? 1000u * (data[pos - 1] & 0x3f) : 10u;
        smtpkit_client_tick(f.c, now);
    }
    drain(&f, 0);
    /* the server goes away: everything must be accounted for */
    smtpkit_client_closed(f.c);
    if (!(smtpkit_client_want(f.c) & SMTPKIT_CLIENT_DONE))
        abort();
    drain(&f, 1);
    for (i = 0; i < (int)f.ntx; i++)
        if (f.reported[i] != 1)
            abort();
    if (smtpkit_client_pending(f.c) != 0)
        abort();
    {
        const char *bodies[3] = {body, body8, ""};
        size_t blen[3] = {sizeof body - 1, sizeof body8 - 1, 0};
        check_output(&f, bodies, blen);
    }
    free(f.out);
    smtpkit_client_free(f.c);
    return 0;
}
