/* smtpkit_server_run(): a server session over a blocking smtpkit_io.
 * The loop is the one server.h shows: write every reply, then read; feed
 * what arrived (writing in between when the output fills); tick. */
#include <string.h>

#include "smtpkit/server.h"

#define RUN_BUF 4096

static int wait_ms(uint64_t deadline, uint64_t now)
{
    uint64_t d;
    if (deadline == SMTPKIT_SERVER_NO_DEADLINE)
        return -1;
    if (deadline <= now)
        return 0;
    d = deadline - now;
    return d > 0x7fffffff ? 0x7fffffff : (int)d;
}

typedef struct run_clock {
    const smtpkit_io *io;
    uint64_t virt; /* time counted from the waits when the io has no clock */
} run_clock;

static uint64_t clock_now(const run_clock *c)
{
    return c->io->now_ms ? c->io->now_ms(c->io->ctx) : c->virt;
}

/* Write everything queued. */
static int flush(smtpkit_server *s, run_clock *c)
{
    const char *p;
    size_t n;
    while ((n = smtpkit_server_output(s, &p)) > 0) {
        uint64_t now = clock_now(c);
        int t = wait_ms(smtpkit_server_deadline(s), now);
        smtpkit_ssize w = c->io->write(c->io->ctx, p, n, t);
        if (w == SMTPKIT_ERR_TIMEOUT) {
            if (!c->io->now_ms)
                c->virt += t > 0 ? (uint64_t)t : 1;
            smtpkit_server_tick(s, clock_now(c));
            if (smtpkit_server_output(s, &p) == 0)
                return SMTPKIT_ERR_TIMEOUT; /* the session gave up on the output */
            continue;
        }
        if (w <= 0)
            return w < 0 ? (int)w : SMTPKIT_ERR_IO;
        smtpkit_server_output_done(s, (size_t)w);
        smtpkit_server_tick(s, clock_now(c));
    }
    return 0;
}

static int outcome(const smtpkit_server *s)
{
    int r = smtpkit_server_close_reason(s);
    if (r == SMTPKIT_ERR_CLOSED || r == SMTPKIT_ERR_TIMEOUT || r == SMTPKIT_ERR_CALLBACK)
        return r;
    return 0;
}

int smtpkit_server_run(smtpkit_server *s, const smtpkit_io *io)
{
    char buf[RUN_BUF];
    size_t have = 0, off = 0;
    run_clock clk;
    int r;
    if (!s || !io || !io->read || !io->write)
        return SMTPKIT_ERR_INVALID_ARG;
    clk.io = io;
    clk.virt = 0;
    r = smtpkit_server_start(s, clock_now(&clk));
    if (r < 0 && r != SMTPKIT_ERR_STATE)
        return r;
    for (;;) {
        unsigned want;
        smtpkit_ssize n;
        r = flush(s, &clk);
        if (r < 0) {
            smtpkit_server_eof(s);
            return r;
        }
        want = smtpkit_server_want(s);
        if (want & SMTPKIT_SERVER_WANT_CLOSE)
            return outcome(s);
        if (want & SMTPKIT_SERVER_WANT_STARTTLS) {
            /* CVE-2011-0411: whatever was read after STARTTLS is dropped. */
            have = off = 0;
            if (!io->starttls) {
                smtpkit_server_eof(s);
                return SMTPKIT_ERR_NOT_SUPPORTED;
            }
            r = io->starttls(io->ctx, 1);
            if (r < 0) {
                smtpkit_server_eof(s);
                return r;
            }
            smtpkit_server_tls_started(s);
            continue;
        }
        if (smtpkit_server_paused(s))
            return SMTPKIT_ERR_PAUSED;
        /* Feed what is held back -- possibly nothing, which lets the session
         * do pending work such as LMTP replies that waited for room. */
        n = smtpkit_server_feed(s, buf + off, have - off);
        if (n < 0) {
            flush(s, &clk);
            return (int)n;
        }
        off += (size_t)n;
        if (off == have)
            off = have = 0;
        smtpkit_server_tick(s, clock_now(&clk));
        if (smtpkit_server_output(s, NULL) > 0 || smtpkit_server_paused(s) ||
            (smtpkit_server_want(s) & (SMTPKIT_SERVER_WANT_CLOSE | SMTPKIT_SERVER_WANT_STARTTLS)))
            continue;
        if (off < have)
            return SMTPKIT_ERR_INTERNAL; /* input left, no output, no pause: cannot happen */
        {
            uint64_t now = clock_now(&clk);
            int t = wait_ms(smtpkit_server_deadline(s), now);
            n = io->read(io->ctx, buf, sizeof buf, t);
            if (n == SMTPKIT_ERR_TIMEOUT) {
                if (!io->now_ms)
                    clk.virt += t > 0 ? (uint64_t)t : 1;
                smtpkit_server_tick(s, clock_now(&clk));
                continue;
            }
            if (n == 0) {
                smtpkit_server_eof(s);
                return outcome(s);
            }
            if (n < 0) {
                smtpkit_server_eof(s);
                return (int)n;
            }
            have = (size_t)n;
            off = 0;
        }
    }
}
