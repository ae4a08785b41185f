/* bench_session: the sessions alone, in memory (no sockets, no kernel).
 *
 *   bench_session [MESSAGES] [SIZE]      (defaults 20000, 10240)
 *
 * 1. Bytes a server session allocates (smtpkit_server_size) with the
 *    defaults and with smtpkit-recv's configuration.
 * 2. A server session fed an smtp-source-like conversation in lock-step
 *    (MAIL, RCPT, DATA, the body and its dot, each fed alone and its reply
 *    taken), then the same pipelined (a whole transaction per feed): time
 *    per message and allocations after set-up (must be 0).
 * 3. A client session and a server session wired back to back (the
 *    client's output fed to the server and the other way): time per
 *    message for both, and the allocations each made after set-up
 *    (must be 0).
 * What the sessions cost is the part of a real server's CPU per message
 * that is not the kernel's (compare with bench_recv.py). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtpkit/client.h"
#include "smtpkit/server.h"
#include "smtpkit/source.h"

typedef struct counter {
    unsigned long allocs;
    size_t bytes;
} counter;

static void *c_malloc(size_t n, void *u)
{
    counter *c = (counter *)u;
    c->allocs++;
    c->bytes += n;
    return malloc(n);
}

static void *c_realloc(void *p, size_t n, void *u)
{
    counter *c = (counter *)u;
    c->allocs++;
    c->bytes += n;
    return realloc(p, n);
}

static void c_free(void *p, void *u)
{
    (void)u;
    free(p);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_session: %s\n", what);
    exit(1);
}

/* ---- server side ---- */

typedef struct srv_app {
    unsigned long accepted;
    uint64_t body_bytes;
} srv_app;

static int on_body(void *u, const char *p, size_t n)
{
    (void)p;
    ((srv_app *)u)->body_bytes += n;
    return 0;
}

static int on_data_end(void *u, const smtpkit_server_message *m, smtpkit_server_decision *d)
{
    (void)m;
    (void)d;
    ((srv_app *)u)->accepted++;
    return 0;
}

static char last_reply[8];

static void drain(smtpkit_server *s)
{
    const char *p;
    size_t n;
    while ((n = smtpkit_server_output(s, &p)) > 0) {
        memcpy(last_reply, p, n < 4 ? n : 4);
        smtpkit_server_output_done(s, n);
    }
}

static void feed_all(smtpkit_server *s, const char *p, size_t n)
{
    while (n) {
        smtpkit_ssize r = smtpkit_server_feed(s, p, n);
        if (r < 0)
            die("server feed failed");
        p += r;
        n -= (size_t)r;
        drain(s);
    }
}

static void feed_str(smtpkit_server *s, const char *str) { feed_all(s, str, strlen(str)); drain(s); }

/* smtp-source's message: a few header lines, then `size` payload bytes. */
static char *make_body(size_t size, size_t *len)
{
    static const char hdr[] = "From: <bench@localhost>\r\nTo: <rcpt@localhost>\r\n"
                              "Subject: bench\r\n\r\n";
    size_t n = sizeof hdr - 1, i;
    char *b = (char *)malloc(n + size + 8);
    if (!b)
        die("out of memory");
    memcpy(b, hdr, n);
    for (i = 0; i < size; i++) {
        size_t col = i % 80;
        b[n + i] = col == 78 ? '\r' : col == 79 ? '\n' : (char)('a' + (i / 80 + col) % 26);
    }
    n += size;
    if (size % 80) {
        b[n++] = '\r';
        b[n++] = '\n';
    }
    *len = n;
    return b;
}

static void server_part(const smtpkit_server_config *cfg, unsigned long msgs, const char *body,
                        size_t blen, int pipelined)
{
    counter cnt = {0, 0};
    smtpkit_mem mem;
    smtpkit_server_callbacks cb;
    srv_app app = {0, 0};
    smtpkit_server *s;
    unsigned long i, setup_allocs;
    double t0, t1;
    char *txn = NULL;
    size_t tlen = 0;
    static const char env[] = "MAIL FROM:<bench@localhost>\r\nRCPT TO:<rcpt@localhost>\r\nDATA\r\n";

    mem.malloc = c_malloc;
    mem.realloc = c_realloc;
    mem.free = c_free;
    mem.user = &cnt;
    memset(&cb, 0, sizeof cb);
    cb.on_body = on_body;
    cb.on_data_end = on_data_end;
    s = smtpkit_server_new(cfg, &cb, &app, &mem);
    if (!s)
        die("smtpkit_server_new failed");
    smtpkit_server_start(s, 0);
    drain(s);
    feed_str(s, "EHLO client.localhost\r\n");
    setup_allocs = cnt.allocs;
    if (pipelined) {
        tlen = sizeof env - 1 + blen + 3;
        txn = (char *)malloc(tlen);
        if (!txn)
            die("out of memory");
        memcpy(txn, env, sizeof env - 1);
        memcpy(txn + sizeof env - 1, body, blen);
        memcpy(txn + sizeof env - 1 + blen, ".\r\n", 3);
    }
    t0 = now();
    for (i = 0; i < msgs; i++) {
        if (pipelined) {
            feed_all(s, txn, tlen);
        } else {
            feed_str(s, "MAIL FROM:<bench@localhost>\r\n");
            feed_str(s, "RCPT TO:<rcpt@localhost>\r\n");
            feed_str(s, "DATA\r\n");
            feed_all(s, body, blen);
            feed_str(s, ".\r\n");
        }
    }
    t1 = now();
    if (app.accepted != msgs || memcmp(last_reply, "250", 3) != 0)
        die("server: not every message was accepted");
    printf("  %-34s %8.0f ns/msg  %7.0f MB/s  %lu allocation(s) after set-up (%zu bytes at set-up)\n",
           pipelined ? "server, pipelined transactions" : "server, lock-step (as smtp-source)",
           (t1 - t0) * 1e9 / (double)msgs, (double)app.body_bytes / (t1 - t0) / 1e6,
           cnt.allocs - setup_allocs, cnt.bytes);
    smtpkit_server_free(s);
    free(txn);
}

/* ---- client and server back to back ---- */

typedef struct pair {
    smtpkit_client *c;
    const char *body;
    size_t blen;
    unsigned long queued, done, failed, total;
    smtpkit_source src[16];
    smtpkit_mem_source ms[16];
    int used[16];
    smtpkit_envelope env;
    smtpkit_rcpt rcpt;
} pair;

static void pair_refill(pair *p)
{
    while (p->queued < p->total) {
        int i, r;
        for (i = 0; i < 16 && p->used[i]; i++) {
        }
        if (i == 16)
            return;
        smtpkit_source_from_memory(&p->src[i], &p->ms[i], p->body, p->blen);
        r = smtpkit_client_queue(p->c, &p->env, &p->src[i], &p->used[i]);
        if (r == SMTPKIT_ERR_WOULDBLOCK)
            return;
        if (r < 0)
            die("client queue failed");
        p->used[i] = 1;
        p->queued++;
    }
    smtpkit_client_quit(p->c);
}

static int on_tx_done(void *u, const smtpkit_client_tx_result *r)
{
    pair *p = (pair *)u;
    *(int *)r->tx_user = 0;
    p->done++;
    if (r->status != SMTPKIT_TX_ACCEPTED)
        p->failed++;
    pair_refill(p);
    return 0;
}

static void pair_part(const smtpkit_server_config *scfg, unsigned long msgs, const char *body,
                      size_t blen)
{
    counter cc = {0, 0}, sc = {0, 0};
    smtpkit_mem cmem, smem;
    smtpkit_client_config ccfg;
    smtpkit_client_callbacks ccb;
    smtpkit_server_callbacks scb;
    srv_app app = {0, 0};
    smtpkit_server *s;
    pair p;
    unsigned long c_setup, s_setup;
    double t0, t1;
    int guard = 0;

    memset(&p, 0, sizeof p);
    cmem.malloc = smem.malloc = c_malloc;
    cmem.realloc = smem.realloc = c_realloc;
    cmem.free = smem.free = c_free;
    cmem.user = &cc;
    smem.user = &sc;
    memset(&scb, 0, sizeof scb);
    scb.on_body = on_body;
    scb.on_data_end = on_data_end;
    s = smtpkit_server_new(scfg, &scb, &app, &smem);
    smtpkit_client_config_init(&ccfg);
    ccfg.helo_name = "client.localhost";
    memset(&ccb, 0, sizeof ccb);
    ccb.on_tx_done = on_tx_done;
    p.c = smtpkit_client_new(&ccfg, &ccb, &p, &cmem);
    if (!s || !p.c)
        die("session set-up failed");
    p.body = body;
    p.blen = blen;
    p.total = msgs;
    p.rcpt.mailbox = "rcpt@localhost";
    p.env.from = "bench@localhost";
    p.env.rcpts = &p.rcpt;
    p.env.nrcpts = 1;
    p.env.flags = SMTPKIT_ENV_7BIT;
    /* set-up is smtpkit_*_new(): everything after it must allocate nothing */
    c_setup = cc.allocs;
    s_setup = sc.allocs;
    t0 = now();
    smtpkit_server_start(s, 0);
    pair_refill(&p);
    for (;;) {
        const char *d;
        size_t n;
        int moved = 0;
        if (smtpkit_client_want(p.c) & SMTPKIT_CLIENT_DONE)
            break;
        n = smtpkit_client_output(p.c, &d);
        if (n) {
            smtpkit_ssize r = smtpkit_server_feed(s, d, n);
            if (r < 0)
                die("server feed failed");
            smtpkit_client_output_done(p.c, (size_t)r);
            moved = 1;
        }
        n = smtpkit_server_output(s, &d);
        if (n) {
            smtpkit_client_feed(p.c, d, n);
            smtpkit_server_output_done(s, n);
            moved = 1;
        }
        if (!moved) {
            smtpkit_server_feed(s, NULL, 0);
            if (!smtpkit_server_output(s, NULL) && ++guard > 3)
                die("client and server are stuck");
        } else {
            guard = 0;
        }
    }
    t1 = now();
    if (p.done != msgs || p.failed || app.accepted != msgs)
        die("client/server: not every message was accepted");
    printf("  %-34s %8.0f ns/msg  %7.0f MB/s  client: %lu allocation(s) after set-up (%zu bytes "
           "at set-up); server: %lu\n",
           "client + server back to back", (t1 - t0) * 1e9 / (double)msgs,
           (double)app.body_bytes / (t1 - t0) / 1e6, cc.allocs - c_setup, cc.bytes,
           sc.allocs - s_setup);
    smtpkit_client_free(p.c);
    smtpkit_server_free(s);
}

int main(int argc, char **argv)
{
    unsigned long msgs = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    size_t size = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 10240;
    smtpkit_server_config def, recv;
    size_t blen;
    char *body;

    if (!msgs)
        die("usage: bench_session [MESSAGES] [SIZE]");
    smtpkit_server_config_init(&def);
    recv = def;
    recv.output_buffer = SMTPKIT_SERVER_REPLY_MAX + 128; /* as smtpkit-recv */
    recv.flags |= SMTPKIT_SERVER_NO_RECEIVED;            /* as smtpkit-recv --sink */
    printf("smtpkit %s sessions in memory: %lu messages of %zu payload bytes\n", smtpkit_version(),
           msgs, size);
    printf("  server session bytes: %zu with the defaults, %zu with smtpkit-recv's output "
           "buffer (one allocation)\n",
           smtpkit_server_size(&def), smtpkit_server_size(&recv));
    body = make_body(size, &blen);
    server_part(&recv, msgs, body, blen, 0);
    server_part(&recv, msgs, body, blen, 1);
    pair_part(&recv, msgs, body, blen);
    free(body);
    return 0;
}
