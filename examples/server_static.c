/*
 * server_static: a receiver that runs on static memory only (needs: posix,
 * for read() and write()).
 *
 *   usage: server_static [-v] [--alloc-after-start]
 *          (SMTP on standard input and output)
 *
 * It speaks SMTP on its standard input and output, inetd-style (try
 * `swaks --pipe ./server_static`), and stores accepted messages in a
 * static "flash" area. Every byte it uses is reserved at compile time: the
 * session's one allocation comes from a static pool through the allocator
 * hook (smtpkit_mem), at start-up; afterwards any allocation is counted as
 * a failure. At the end it checks that none happened (and, on glibc, that
 * the C heap did not grow) and says so on standard error; -v also prints
 * the stored messages there. Exit status 0 when the check holds;
 * --alloc-after-start breaks the rule on purpose (a second session after
 * start-up) to show that the check catches it.
 * The guide is docs/memory.md.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define HAVE_MALLINFO2 1
#endif

#include "smtpkit/smtpkit.h"

/* ---- a static pool behind the allocator hook ---------------------------- */

/* Room for one session with the configuration below: smtpkit_server_size()
 * says how much it needs (checked at start-up). */
#define SESSION_BYTES 2048
#define POOL_SLOTS 1

static union {
    long double align_ld; /* aligned for any object (C99 has no max_align_t) */
    void *align_p;
    uint64_t align_u;
    unsigned char bytes[SESSION_BYTES];
} pool[POOL_SLOTS];
static int pool_used[POOL_SLOTS];

static struct {
    int started;              /* start-up is over */
    unsigned long at_startup; /* allocations during start-up */
    unsigned long after;      /* allocation attempts after start-up */
    size_t bytes;             /* bytes handed out at start-up */
} stats;

static void *pool_malloc(size_t size, void *user)
{
    int i;
    (void)user;
    if (stats.started) {
        stats.after++;
        return NULL; /* the rule: no allocation once running */
    }
    for (i = 0; i < POOL_SLOTS; i++)
        if (!pool_used[i] && size <= SESSION_BYTES) {
            pool_used[i] = 1;
            stats.at_startup++;
            stats.bytes += size;
            return pool[i].bytes;
        }
    return NULL;
}

static void pool_free(void *p, void *user)
{
    int i;
    (void)user;
    for (i = 0; i < POOL_SLOTS; i++)
        if (p == pool[i].bytes)
            pool_used[i] = 0;
}

/* realloc stays NULL: smtpkit then never mixes allocators (common.h). */
static const smtpkit_mem static_mem = {pool_malloc, NULL, pool_free, NULL};

/* ---- storage: a static area standing in for flash ------------------------ */

#define FLASH_BYTES 65536

static struct {
    char data[FLASH_BYTES];
    size_t used;       /* committed messages */
    size_t pending;    /* bytes of the message being received */
    int full;          /* the message did not fit */
    unsigned messages; /* committed */
} flash;

static int on_data(void *user, smtpkit_server_decision *d)
{
    (void)user;
    (void)d;
    flash.pending = 0;
    flash.full = 0;
    return 0;
}

static int on_body(void *user, const char *data, size_t len)
{
    (void)user;
    if (flash.full || len > FLASH_BYTES - flash.used - flash.pending) {
        flash.full = 1; /* keep reading; refuse at the end */
        return 0;
    }
    memcpy(flash.data + flash.used + flash.pending, data, len);
    flash.pending += len;
    return 0;
}

/* The 250 goes out only after the message is committed. */
static int on_data_end(void *user, const smtpkit_server_message *m, smtpkit_server_decision *d)
{
    (void)user;
    (void)m;
    if (flash.full) {
        d->code = 452; /* RFC 5321 4.2.2: insufficient system storage */
        d->esc = "4.3.1";
        d->text = "Mailbox full, try again later";
        return 0;
    }
    flash.used += flash.pending;
    flash.pending = 0;
    flash.messages++;
    return 0;
}

static void on_abort(void *user, int reason)
{
    (void)user;
    (void)reason;
    flash.pending = 0; /* nothing of it was committed */
}

static const smtpkit_server_callbacks callbacks = {
    NULL, NULL, NULL, NULL, on_data, on_body, on_data_end, on_abort, NULL, NULL, NULL, NULL};

/* ---- the connection: fd 0 in, fd 1 out ---------------------------------- */

static int flush_output(smtpkit_server *s)
{
    const char *p;
    size_t n;
    while ((n = smtpkit_server_output(s, &p)) > 0) {
        ssize_t w = write(1, p, n);
        if (w <= 0)
            return -1;
        smtpkit_server_output_done(s, (size_t)w);
    }
    return 0;
}

static int serve(smtpkit_server *s)
{
    static char buf[1024]; /* static too: the stack stays small */
    /* No clock here: the session is never ticked, so its timeouts never
     * fire; inetd (or a watchdog) bounds the connection instead. */
    smtpkit_server_start(s, 0);
    for (;;) {
        ssize_t n;
        size_t off = 0;
        if (flush_output(s) < 0)
            return SMTPKIT_ERR_IO;
        if (smtpkit_server_want(s) & SMTPKIT_SERVER_WANT_CLOSE)
            return 0;
        n = read(0, buf, sizeof buf);
        if (n <= 0) {
            smtpkit_server_eof(s);
            return n == 0 ? SMTPKIT_ERR_CLOSED : SMTPKIT_ERR_IO;
        }
        while (off < (size_t)n) {
            smtpkit_ssize r = smtpkit_server_feed(s, buf + off, (size_t)n - off);
            if (r < 0)
                return flush_output(s) == 0 ? (int)r : SMTPKIT_ERR_IO;
            off += (size_t)r;
            if (flush_output(s) < 0) /* the output was full: backpressure */
                return SMTPKIT_ERR_IO;
        }
    }
}

int main(int argc, char **argv)
{
    smtpkit_server_config cfg;
    smtpkit_server *s;
    int verbose = 0, break_rule = 0, i, r, ok;
#ifdef HAVE_MALLINFO2
    size_t heap_before;
#endif

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0)
            verbose = 1;
        else if (strcmp(argv[i], "--alloc-after-start") == 0)
            break_rule = 1;
        else {
            fprintf(stderr, "usage: server_static [-v] [--alloc-after-start]\n");
            return 2;
        }
    }

    /* ---- start-up: everything the program will ever use ---- */
    smtpkit_server_config_init(&cfg);
    cfg.hostname = "static.example";
    cfg.flags = SMTPKIT_SERVER_NO_RECEIVED; /* no clock to date it */
    cfg.max_size = FLASH_BYTES;
    cfg.output_buffer = 640; /* smaller than the default 768 */
    if (smtpkit_server_size(&cfg) > SESSION_BYTES) {
        fprintf(stderr, "server_static: a session needs %zu bytes, the pool slot has %d\n",
                smtpkit_server_size(&cfg), SESSION_BYTES);
        return 1;
    }
    s = smtpkit_server_new(&cfg, &callbacks, NULL, &static_mem);
    if (!s)
        return 1;
#ifdef HAVE_MALLINFO2
    heap_before = mallinfo2().uordblks;
#endif
    stats.started = 1;

    /* ---- running: no allocation from here on ---- */
    if (break_rule)
        smtpkit_server_free(smtpkit_server_new(&cfg, &callbacks, NULL, &static_mem));
    r = serve(s);

    ok = stats.after == 0 && stats.at_startup == 1;
#ifdef HAVE_MALLINFO2
    ok = ok && mallinfo2().uordblks == heap_before;
#endif
    fprintf(stderr,
            "server_static: %s; %lu allocation(s) at start-up (%zu bytes from the static pool), "
            "%lu after start-up; %u message(s) stored, %zu of %d flash bytes used\n",
            smtpkit_strerror(r), stats.at_startup, stats.bytes, stats.after, flash.messages,
            flash.used, FLASH_BYTES);
    if (verbose)
        fprintf(stderr, "---- flash ----\n%.*s---- end ----\n", (int)flash.used, flash.data);
    smtpkit_server_free(s);
    if (!ok) {
        fprintf(stderr, "server_static: FAILED: memory was allocated after start-up\n");
        return 1;
    }
    return 0;
}
