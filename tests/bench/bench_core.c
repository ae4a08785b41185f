/* Throughput of the protocol core, in one run (a program, not a test):
 *   1. memchr line scan over ~64 MiB of generated mail text (the yardstick)
 *   2. the DATA decoder on the same (dot-stuffed) buffer, fed in 64 KiB reads
 *   3. the DATA encoder on the message text, into a 64 KiB output buffer
 *   4. base64 encode (MIME, 76 columns, streaming)
 *   5. the command parser: smtpkit_command_parse per line and the push parser
 *      smtpkit_command_parser_feed, on a realistic transaction mix
 *   6. the reply parser on realistic EHLO / 250 replies
 * Each is run several times; best and median are shown as MB/s (10^6 bytes
 * per second) and as ratios to the memchr scan: "x best" = best / best
 * memchr, "x pair" = the median, over repetitions, of the speed relative to a
 * memchr run made just before (steadier on a shared machine).
 *
 *   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel
 *   build-rel/bench/bench_core [MiB] [repetitions]
 *
 * Parts 5 and 6 need lib/core/command.c and lib/core/reply_parser.c (written
 * in parallel with this file). Where the compiler has __has_include, a part
 * whose source file is missing from the tree is left out automatically (the
 * library is globbed from the same directory); -DSMTPKIT_BENCH_NO_COMMAND /
 * -DSMTPKIT_BENCH_NO_REPLY leave them out by hand.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__has_include)
#if !__has_include("../../lib/core/command.c") && !defined(SMTPKIT_BENCH_NO_COMMAND)
#define SMTPKIT_BENCH_NO_COMMAND
#endif
#if !__has_include("../../lib/core/reply_parser.c") && !defined(SMTPKIT_BENCH_NO_REPLY)
#define SMTPKIT_BENCH_NO_REPLY
#endif
#endif

#include "smtpkit/base64.h"
#include "smtpkit/data.h"
#ifndef SMTPKIT_BENCH_NO_COMMAND
#include "smtpkit/command.h"
#endif
#ifndef SMTPKIT_BENCH_NO_REPLY
#include "smtpkit/reply.h"
#endif

#define FEED 65536 /* bytes per read, as a server would get them */
#define MAX_REPS 31

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* ---- buffers ---- */
typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = (char *)realloc(b->p, b->cap);
        if (!b->p) {
            perror("realloc");
            exit(1);
        }
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

static const char *const words[] = {
    "the",     "of",       "and",      "to",       "in",      "is",        "for",   "that",
    "with",    "on",       "as",       "report",   "numbers", "quarterly", "please", "meeting",
    "project", "schedule", "attached", "review",   "invoice", "customer",  "server", "delivery",
    "thanks",  "regards",  "update",   "tomorrow", "office",  "question",  "budget", "team",
    "message", "example",  "will",     "would",    "could",   "should",    "have",  "been",
    "about",   "from",     "this",     "there",    "which",   "their",     "Monday", "2026,"};

/* A text line of 70-78 characters (without CRLF), to both forms. */
static void text_line(buf *wire, buf *plain)
{
    char line[128];
    size_t want = 70 + rnd() % 9, n = 0;
    while (n < want) {
        const char *w = words[rnd() % (sizeof words / sizeof words[0])];
        size_t wl = strlen(w);
        if (n)
            line[n++] = ' ';
        if (n + wl > want)
            wl = want - n;
        memcpy(line + n, w, wl);
        n += wl;
    }
    put(wire, line, n);
    put(plain, line, n);
}

/* Append to both forms: the message text and its wire form. */
static void put2(buf *wire, buf *plain, const char *s)
{
    puts_(wire, s);
    puts_(plain, s);
}

/* A line starting with "." : doubled on the wire (RFC 5321 4.5.2). */
static void dot(buf *wire, buf *plain)
{
    puts_(wire, "..");
    puts_(plain, ".");
}

/* One message as text (`plain`) and in wire form (`wire`: dot-stuffed). */
static void message(buf *wire, buf *plain, unsigned seq)
{
    char h[512];
    unsigned i, lines = 20 + rnd() % 180;
    snprintf(h, sizeof h,
             "Received: from client%u.example.org (client%u.example.org [192.0.2.%u])\r\n"
             "\tby mx.example.com (smtpkit) with ESMTPS id 4F%08X\r\n"
             "\tfor <bob@example.com>; Sat, 28 Nov 2026 10:%02u:%02u +0000\r\n"
             "From: Alice Example <alice%u@example.org>\r\n"
             "To: Bob Example <bob@example.com>\r\n"
             "Subject: Quarterly numbers, part %u\r\n"
             "Date: Sat, 28 Nov 2026 10:%02u:%02u +0000\r\n"
             "Message-ID: <%08X.%u@example.org>\r\n"
             "MIME-Version: 1.0\r\n"
             "Content-Type: text/plain; charset=us-ascii\r\n"
             "Content-Transfer-Encoding: 7bit\r\n\r\n",
             seq % 250, seq % 250, seq % 250, seq * 2654435761u, seq % 60, seq % 59, seq % 1000,
             seq, seq % 60, seq % 59, seq * 40503u, seq);
    put2(wire, plain, h);
    for (i = 0; i < lines; i++) {
        uint32_t r = rnd() % 100;
        if (r < 2) {
            dot(wire, plain); /* a line starting with "." */
            text_line(wire, plain);
        } else if (r < 3) {
            dot(wire, plain); /* a line that is just "." */
        } else if (r < 8) {
            /* empty line between paragraphs */
        } else {
            text_line(wire, plain);
        }
        put2(wire, plain, "\r\n");
    }
    put2(wire, plain, "-- \r\nAlice\r\n");
}

/* ---- results ---- */
typedef struct result {
    const char *name;
    double best, median; /* MB/s */
    double ratio;        /* median over repetitions of (this / memchr run just before) */
    double unit_best;    /* commands or replies per second at best, 0 if n/a */
    const char *unit;
} result;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef double (*run_fn)(void *);
static run_fn base_fn; /* the memchr scan, run before each repetition */
static void *base_ctx;
static size_t base_bytes;

/* Run `fn` reps times over `bytes` bytes (and `units` commands/replies).
 * The machine may be shared, so each repetition is paired with a memchr
 * run right before it and the ratio is taken per pair. */
static result measure(const char *name, run_fn fn, void *ctx, size_t bytes, double units,
                      const char *unit, int reps)
{
    double t[MAX_REPS], ratio[MAX_REPS];
    result r;
    int i;
    fn(ctx); /* warm up: page faults, caches */
    for (i = 0; i < reps; i++) {
        double tb = base_fn(base_ctx);
        t[i] = fn(ctx);
        ratio[i] = ((double)bytes / t[i]) / ((double)base_bytes / tb);
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    qsort(ratio, (size_t)reps, sizeof ratio[0], cmp_double);
    r.name = name;
    r.best = (double)bytes / t[0] / 1e6;
    r.median = (double)bytes / t[reps / 2] / 1e6;
    r.ratio = ratio[reps / 2];
    r.unit_best = units > 0 ? units / t[0] : 0;
    r.unit = unit;
    return r;
}

/* ---- 1. memchr ---- */
typedef struct scan_ctx {
    const char *p;
    size_t len;
    size_t lines;
} scan_ctx;

static double run_memchr(void *v)
{
    scan_ctx *c = (scan_ctx *)v;
    const char *p = c->p, *end = c->p + c->len;
    size_t lines = 0;
    double t0 = now();
    while (p < end) {
        const char *nl = (const char *)memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        lines++;
        p = nl + 1;
    }
    t0 = now() - t0;
    c->lines = lines;
    return t0;
}

/* ---- 2. decoder ---- */
typedef struct dec_ctx {
    const char *p;
    size_t len;
    uint64_t out;
    unsigned flags;
    int done;
} dec_ctx;

static int count_body(void *user, const char *data, size_t len)
{
    (void)data;
    ((dec_ctx *)user)->out += len;
    return 0;
}

static double run_decoder(void *v)
{
    dec_ctx *c = (dec_ctx *)v;
    smtpkit_data_decoder d;
    size_t off = 0;
    double t0;
    c->out = 0;
    t0 = now();
    smtpkit_data_decoder_init(&d, 0, count_body, c);
    while (off < c->len && !smtpkit_data_decoder_done(&d)) {
        size_t n = c->len - off < FEED ? c->len - off : FEED;
        smtpkit_ssize r = smtpkit_data_decoder_feed(&d, c->p + off, n);
        if (r < 0) {
            fprintf(stderr, "decoder: %s\n", smtpkit_strerror((int)r));
            exit(1);
        }
        off += (size_t)r;
    }
    t0 = now() - t0;
    c->done = smtpkit_data_decoder_done(&d);
    c->flags = smtpkit_data_decoder_flags(&d);
    return t0;
}

static int collect(void *user, const char *data, size_t len)
{
    put((buf *)user, data, len);
    return 0;
}

/* ---- 3. encoder, 4. base64 ---- */
typedef struct enc_ctx {
    const char *p;
    size_t len;
    uint64_t out;
} enc_ctx;

static char outbuf[FEED];

static double run_encoder(void *v)
{
    enc_ctx *c = (enc_ctx *)v;
    smtpkit_data_encoder e;
    size_t off = 0, olen;
    double t0;
    c->out = 0;
    t0 = now();
    smtpkit_data_encoder_init(&e, 0);
    while (off < c->len) {
        smtpkit_ssize r = smtpkit_data_encode(&e, c->p + off, c->len - off, outbuf, sizeof outbuf,
                                              &olen);
        if (r < 0)
            exit(1);
        off += (size_t)r;
        c->out += olen;
    }
    c->out += (uint64_t)smtpkit_data_encode_finish(&e, outbuf, sizeof outbuf);
    t0 = now() - t0;
    return t0;
}

static double run_base64(void *v)
{
    enc_ctx *c = (enc_ctx *)v;
    smtpkit_base64_encoder e;
    size_t off = 0, olen;
    double t0;
    c->out = 0;
    t0 = now();
    smtpkit_base64_encoder_init(&e, 76);
    while (off < c->len) {
        off += smtpkit_base64_encoder_update(&e, c->p + off, c->len - off, outbuf, sizeof outbuf,
                                             &olen);
        c->out += olen;
    }
    c->out += (uint64_t)smtpkit_base64_encoder_finish(&e, outbuf, sizeof outbuf);
    t0 = now() - t0;
    return t0;
}

/* ---- 5. command parser ---- */
#ifndef SMTPKIT_BENCH_NO_COMMAND
static const char *const transaction[] = {
    "EHLO client.example.org",
    "MAIL FROM:<alice.example@example.org> SIZE=48213 BODY=8BITMIME",
    "RCPT TO:<bob@example.com>",
    "RCPT TO:<carol.smith@sales.example.com>",
    "RCPT TO:<\"dave jones\"@example.net> NOTIFY=SUCCESS,FAILURE",
    "DATA",
    "RSET",
    "QUIT",
};
#define NCMD (sizeof transaction / sizeof transaction[0])

typedef struct cmd_ctx {
    const char *p; /* the mix repeated, CRLF lines */
    size_t len;
    size_t ncmds;  /* commands in p */
    size_t reps;   /* repetitions of the mix for the line parser */
    size_t parsed, errors;
} cmd_ctx;

static double run_command_parse(void *v)
{
    cmd_ctx *c = (cmd_ctx *)v;
    static smtpkit_command cmd;
    size_t r, i, lens[NCMD], ok = 0;
    double t0;
    for (i = 0; i < NCMD; i++)
        lens[i] = strlen(transaction[i]);
    t0 = now();
    for (r = 0; r < c->reps; r++) {
        for (i = 0; i < NCMD; i++)
            ok += smtpkit_command_parse(transaction[i], lens[i], 0, &cmd) == 0;
    }
    t0 = now() - t0;
    c->parsed = ok;
    return t0;
}

static int on_command(void *user, const smtpkit_command *cmd, smtpkit_view line)
{
    (void)cmd;
    (void)line;
    ((cmd_ctx *)user)->parsed++;
    return 0;
}

static int on_command_error(void *user, int err, smtpkit_view line)
{
    (void)err;
    (void)line;
    ((cmd_ctx *)user)->errors++;
    return 0;
}

static double run_command_feed(void *v)
{
    cmd_ctx *c = (cmd_ctx *)v;
    static smtpkit_command_parser p;
    static const smtpkit_command_callbacks cb = {on_command, on_command_error};
    size_t off = 0;
    double t0;
    c->parsed = c->errors = 0;
    t0 = now();
    smtpkit_command_parser_init(&p, &cb, c);
    while (off < c->len) {
        size_t n = c->len - off < FEED ? c->len - off : FEED;
        smtpkit_ssize r = smtpkit_command_parser_feed(&p, c->p + off, n);
        if (r <= 0) {
            fprintf(stderr, "command parser: %s\n", smtpkit_strerror((int)r));
            exit(1);
        }
        off += (size_t)r;
    }
    t0 = now() - t0;
    return t0;
}

#endif /* SMTPKIT_BENCH_NO_COMMAND */

/* ---- 6. reply parser ---- */
#ifndef SMTPKIT_BENCH_NO_REPLY
static const char replies[] =
    "220 mx.example.com ESMTP smtpkit ready\r\n"
    "250-mx.example.com Hello client.example.org [192.0.2.10]\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 52428800\r\n"
    "250-8BITMIME\r\n"
    "250-SMTPUTF8\r\n"
    "250-CHUNKING\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-DSN\r\n"
    "250-STARTTLS\r\n"
    "250 AUTH PLAIN LOGIN CRAM-MD5\r\n"
    "250 2.1.0 Sender <alice.example@example.org> OK\r\n"
    "250 2.1.5 Recipient <bob@example.com> OK\r\n"
    "250 2.1.5 Recipient <carol.smith@sales.example.com> OK\r\n"
    "250 2.1.5 Recipient <\"dave jones\"@example.net> OK\r\n"
    "354 End data with <CR><LF>.<CR><LF>\r\n"
    "250 2.0.0 Ok: queued as 4F3A9C2B1D\r\n"
    "250 2.0.0 Ok\r\n"
    "221 2.0.0 Bye\r\n";
#define NREPLIES 10 /* complete replies in `replies` */

typedef struct rep_ctx {
    const char *p;
    size_t len;
    size_t nreplies;
    size_t lines, done;
} rep_ctx;

static int on_line(void *user, const smtpkit_reply_line *line)
{
    (void)line;
    ((rep_ctx *)user)->lines++;
    return 0;
}

static int on_reply(void *user, const smtpkit_reply *reply)
{
    (void)reply;
    ((rep_ctx *)user)->done++;
    return 0;
}

static double run_reply_feed(void *v)
{
    rep_ctx *c = (rep_ctx *)v;
    static smtpkit_reply_parser p;
    static const smtpkit_reply_callbacks cb = {on_line, on_reply};
    size_t off = 0;
    double t0;
    c->lines = c->done = 0;
    t0 = now();
    smtpkit_reply_parser_init(&p, &cb, c);
    while (off < c->len) {
        size_t n = c->len - off < FEED ? c->len - off : FEED;
        smtpkit_ssize r = smtpkit_reply_parser_feed(&p, c->p + off, n);
        if (r <= 0) {
            fprintf(stderr, "reply parser: %s\n", smtpkit_strerror((int)r));
            exit(1);
        }
        off += (size_t)r;
    }
    t0 = now() - t0;
    return t0;
}
#endif

static void print_result(const result *r, const result *base)
{
    printf("%-42s %9.0f %9.0f %7.2f %7.2f", r->name, r->best, r->median, r->best / base->best,
           r->ratio);
    if (r->unit_best > 0)
        printf("   %.2f M %s/s", r->unit_best / 1e6, r->unit);
    printf("\n");
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 64;
    int reps = argc > 2 ? atoi(argv[2]) : 9;
    buf wire = {0}, plain = {0}, cmds = {0};
    unsigned seq = 0;
    result res[8];
    int nres = 0;
    scan_ctx sc;
    dec_ctx dc;
    enc_ctx ec;
#ifndef SMTPKIT_BENCH_NO_COMMAND
    cmd_ctx cc;
    int i;
#endif

    if (mib < 1)
        mib = 1;
    if (reps < 1)
        reps = 1;
    if (reps > MAX_REPS)
        reps = MAX_REPS;

    /* The DATA stream: messages back to back as one body, then the end. */
    while (wire.len < mib << 20)
        message(&wire, &plain, seq++);
    puts_(&wire, ".\r\n");

    /* Check once that the decoder gives back exactly the text. */
    {
        smtpkit_data_decoder d;
        buf got = {0};
        smtpkit_data_decoder_init(&d, 0, collect, &got);
        if (smtpkit_data_decoder_feed(&d, wire.p, wire.len) != (smtpkit_ssize)wire.len ||
            !smtpkit_data_decoder_done(&d) || got.len != plain.len ||
            memcmp(got.p, plain.p, plain.len) != 0) {
            fprintf(stderr, "decoder output differs from the message text\n");
            return 1;
        }
        free(got.p);
    }
    memset(&dc, 0, sizeof dc);
    dc.p = wire.p;
    dc.len = wire.len;

    printf("smtpkit %s core benchmark: %.1f MiB of mail text (%u messages), %d repetitions\n",
           smtpkit_version(), (double)wire.len / (1 << 20), seq, reps);
    printf("%-42s %9s %9s %7s %7s\n", "", "best MB/s", "med MB/s", "x best", "x pair");

    sc.p = wire.p;
    sc.len = wire.len;
    base_fn = run_memchr;
    base_ctx = &sc;
    base_bytes = wire.len;
    res[nres] = measure("1 memchr line scan", run_memchr, &sc, wire.len, 0, NULL, reps);
    print_result(&res[nres], &res[0]);
    nres++;

    res[nres] = measure("2 data decoder (64 KiB feeds)", run_decoder, &dc, wire.len, 0, NULL,
                        reps);
    print_result(&res[nres], &res[0]);
    if (!dc.done || dc.out != plain.len || dc.flags) {
        fprintf(stderr, "decoder check failed: done %d out %llu want %zu flags %#x\n", dc.done,
                (unsigned long long)dc.out, plain.len, dc.flags);
        return 1;
    }
    nres++;

    ec.p = plain.p;
    ec.len = plain.len;
    res[nres] = measure("3 data encoder (64 KiB output)", run_encoder, &ec, plain.len, 0, NULL,
                        reps);
    print_result(&res[nres], &res[0]);
    if (ec.out != wire.len) {
        fprintf(stderr, "encoder check failed: %llu bytes, want %zu\n",
                (unsigned long long)ec.out, wire.len);
        return 1;
    }
    nres++;

    res[nres] = measure("4 base64 encode (MIME, 76 columns)", run_base64, &ec, plain.len, 0,
                        NULL, reps);
    print_result(&res[nres], &res[0]);
    nres++;

#ifndef SMTPKIT_BENCH_NO_COMMAND
    /* commands: ~8 MiB of the mix */
    memset(&cc, 0, sizeof cc);
    {
        size_t mix = 0;
        for (i = 0; i < (int)NCMD; i++)
            mix += strlen(transaction[i]) + 2;
        cc.reps = (8u << 20) / mix;
        for (seq = 0; seq < cc.reps; seq++) {
            for (i = 0; i < (int)NCMD; i++) {
                puts_(&cmds, transaction[i]);
                puts_(&cmds, "\r\n");
            }
        }
        cc.p = cmds.p;
        cc.len = cmds.len;
        cc.ncmds = cc.reps * NCMD;
    }
    res[nres] = measure("5a command parse (per line)", run_command_parse, &cc, cc.len,
                        (double)cc.ncmds, "commands", reps);
    print_result(&res[nres], &res[0]);
    if (cc.parsed != cc.ncmds) {
        fprintf(stderr, "command parse: %zu of %zu parsed\n", cc.parsed, cc.ncmds);
        return 1;
    }
    nres++;
    res[nres] = measure("5b command push parser (64 KiB feeds)", run_command_feed, &cc, cc.len,
                        (double)cc.ncmds, "commands", reps);
    print_result(&res[nres], &res[0]);
    if (cc.parsed != cc.ncmds || cc.errors) {
        fprintf(stderr, "command feed: %zu of %zu parsed, %zu errors\n", cc.parsed, cc.ncmds,
                cc.errors);
        return 1;
    }
    nres++;
#else
    printf("5 command parser: left out (lib/core/command.c not available)\n");
#endif

#ifndef SMTPKIT_BENCH_NO_REPLY
    {
        buf rb = {0};
        rep_ctx rc;
        size_t n = (8u << 20) / (sizeof replies - 1), k;
        for (k = 0; k < n; k++)
            put(&rb, replies, sizeof replies - 1);
        memset(&rc, 0, sizeof rc);
        rc.p = rb.p;
        rc.len = rb.len;
        rc.nreplies = n * NREPLIES;
        res[nres] = measure("6 reply parser (EHLO/250 mix, 64 KiB)", run_reply_feed, &rc, rc.len,
                            (double)rc.nreplies, "replies", reps);
        print_result(&res[nres], &res[0]);
        if (rc.done != rc.nreplies) {
            fprintf(stderr, "reply parser: %zu of %zu replies\n", rc.done, rc.nreplies);
            return 1;
        }
        nres++;
        free(rb.p);
    }
#else
    printf("6 reply parser: left out (lib/core/reply_parser.c not available)\n");
#endif
    printf("(lines in the buffer: %zu; decoder output %llu bytes)\n", sc.lines,
           (unsigned long long)dc.out);
    free(wire.p);
    free(plain.p);
    free(cmds.p);
    return 0;
}
