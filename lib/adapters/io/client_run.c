/* smtpkit_client_run(): drive a client session over a blocking smtpkit_io.
 * Write everything the session has, then read what it expects; the session
 * bounds the commands in flight, so writing before reading cannot dead-lock
 * on full socket buffers (RFC 2920 3.1's concern). */
#include "client_internal.h"
#include "smtpkit/io.h"

/* Read buffer: replies are short; a pipelined flight of them fits. */
#define RUN_READ_BUF 4096

static int io_timeout(smtpkit_client *c, const smtpkit_io *io)
{
    if (io->now_ms) {
        uint64_t d = smtpkit_client_deadline(c), now = io->now_ms(io->ctx);
        if (d == UINT64_MAX)
            return -1;
        if (d <= now)
            return 0;
        /* one past the deadline, so the tick after it sees it expired */
        return d - now + 1 > 0x7fffffff ? 0x7fffffff : (int)(d - now + 1);
    } else {
        uint32_t t = smtpkit__client_timer_ms(c);
        return t == 0 ? -1 : (t > 0x7fffffff ? 0x7fffffff : (int)t);
    }
}

int smtpkit_client_run(smtpkit_client *c, const smtpkit_io *io)
{
    char buf[RUN_READ_BUF];
    if (!c || !io || !io->read || !io->write)
        return SMTPKIT_ERR_INVALID_ARG;
    for (;;) {
        unsigned w;
        if (io->now_ms)
            smtpkit_client_tick(c, io->now_ms(io->ctx));
        w = smtpkit_client_want(c);
        if (w & SMTPKIT_CLIENT_DONE)
            return smtpkit_client_error(c);
        if (w & SMTPKIT_CLIENT_PAUSED)
            return SMTPKIT_ERR_PAUSED;
        if (w & SMTPKIT_CLIENT_WANT_STARTTLS) {
            int r = io->starttls ? io->starttls(io->ctx, 0) : SMTPKIT_ERR_NOT_SUPPORTED;
            smtpkit_client_starttls_done(c, r < 0 ? r : 0);
            continue;
        }
        if (w & SMTPKIT_CLIENT_WANT_WRITE) {
            const char *p;
            size_t n = smtpkit_client_output(c, &p);
            smtpkit_ssize wr;
            if (n == 0)
                continue;
            wr = io->write(io->ctx, p, n, io_timeout(c, io));
            if (wr <= 0) {
                smtpkit_client_abort(c, wr == 0 ? SMTPKIT_ERR_IO : (int)wr);
                continue;
            }
            smtpkit_client_output_done(c, (size_t)wr);
            continue;
        }
        if (w & SMTPKIT_CLIENT_WANT_READ) {
            smtpkit_ssize r = io->read(io->ctx, buf, sizeof buf, io_timeout(c, io));
            size_t off = 0;
            if (r == 0) {
                smtpkit_client_closed(c);
                continue;
            }
            if (r < 0) {
                smtpkit_client_abort(c, (int)r);
                continue;
            }
            if (io->now_ms)
                smtpkit_client_tick(c, io->now_ms(io->ctx));
            while (off < (size_t)r) {
                smtpkit_ssize f = smtpkit_client_feed(c, buf + off, (size_t)r - off);
                if (f <= 0)
                    return f == 0 ? SMTPKIT_ERR_PAUSED : (int)f; /* paused under the runner */
                off += (size_t)f;
            }
            continue;
        }
        if (w & SMTPKIT_CLIENT_WANT_SOURCE)
            return SMTPKIT_ERR_WOULDBLOCK;
        return 0; /* idle */
    }
}
