/* Fuzz the client session with server bytes. The first byte chooses the
 * configuration, the second the feeding pattern; the rest is what the
 * "server" says. Invariants checked on every input:
 * - every transaction is reported exactly once, and all of them once the
 *   session is over;
 * - the output is made of whole lines the session announced through
 *   on_command (or body bytes), none longer than 1024 octets outside the body;
 * - nothing is written after the session ended. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/client.h"
#include "smtpkit/sasl.h"
#include "smtpkit/smtpkit.h"

typedef struct fz {
    unsigned reported[4];
    unsigned ntx;
    smtpkit_client *c;
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
    size_t i;
    (void)u;
    if (cmd->line.len > 1024)
        abort();
    for (i = 0; i < cmd->line.len; i++)
        if (cmd->line.ptr[i] == '\r' || cmd->line.ptr[i] == '\n')
            abort();
    return 0;
}

static const smtpkit_client_callbacks cb = {SMTPKIT_CLIENT_VERSION, NULL, NULL, on_cmd, NULL,
                                            on_rcpt, on_tx, NULL, NULL};

static void drain(smtpkit_client *c, int done_before)
{
    const char *p;
    size_t n;
    int guard = 0;
    while ((n = smtpkit_client_output(c, &p)) > 0 && guard++ < 1000) {
        if (done_before)
            abort();
        smtpkit_client_output_done(c, n > 3000 ? n / 2 : n);
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
        drain(f.c, done);
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
        now += 1000u * (data[pos - 1] & 0x3f);
        smtpkit_client_tick(f.c, now);
    }
    drain(f.c, 0);
    /* the server goes away: everything must be accounted for */
    smtpkit_client_closed(f.c);
    if (!(smtpkit_client_want(f.c) & SMTPKIT_CLIENT_DONE))
        abort();
    drain(f.c, 1);
    for (i = 0; i < (int)f.ntx; i++)
        if (f.reported[i] != 1)
            abort();
    if (smtpkit_client_pending(f.c) != 0)
        abort();
    smtpkit_client_free(f.c);
    return 0;
}
