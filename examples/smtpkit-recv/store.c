/* smtpkit-recv: Maildir and mbox delivery that loses nothing.
 *
 * Maildir (https://cr.yp.to/proto/maildir.html): write DIR/tmp/NAME, fsync
 * it, rename it to DIR/new/NAME, fsync DIR/new -- only then is the message
 * safe and the client may hear 250. An aborted message's tmp file is
 * removed, so new/ only ever holds complete messages.
 *
 * mbox (mboxrd): the message is first written to an unlinked temporary file
 * next to the mbox (the mbox lock is held only for the short append, never
 * while a client is sending), then appended under flock() with a "From "
 * line, CRLF turned into LF, and ">" added before lines matching
 * /^>*From /; on any error the mbox is truncated back. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int ensure_dir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        errno = ENOTDIR;
    }
    return -1;
}

int store_open(store *st, store_kind kind, const char *path, const char *hostname, char *err,
               size_t errlen)
{
    size_t i, j = 0;
    memset(st, 0, sizeof *st);
    st->kind = kind;
    st->path = path;
    st->newdir_fd = -1;
    st->pid = (long)getpid();
    /* Maildir: '/' and ':' in the host name are written as \057 and \072. */
    for (i = 0; hostname[i] && j + 5 < sizeof st->host; i++) {
        if (hostname[i] == '/' || hostname[i] == ':') {
            j += (size_t)snprintf(st->host + j, sizeof st->host - j, "\\%03o",
                                  (unsigned)(unsigned char)hostname[i]);
        } else {
            st->host[j++] = hostname[i];
        }
    }
    st->host[j] = '\0';
    if (kind == STORE_MAILDIR) {
        static const char *const sub[] = {"tmp", "new", "cur"};
        char p[4096];
        if (ensure_dir(path) != 0) {
            snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
            return -1;
        }
        for (i = 0; i < 3; i++) {
            snprintf(p, sizeof p, "%s/%s", path, sub[i]);
            if (ensure_dir(p) != 0) {
                snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno));
                return -1;
            }
        }
        snprintf(p, sizeof p, "%s/new", path);
        st->newdir_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (st->newdir_fd < 0) {
            snprintf(err, errlen, "cannot open %s: %s", p, strerror(errno));
            return -1;
        }
    } else if (kind == STORE_MBOX) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
            return -1;
        }
        close(fd);
    }
    return 0;
}

void store_close(store *st)
{
    if (st->newdir_fd >= 0)
        close(st->newdir_fd);
    st->newdir_fd = -1;
}

static void tmp_path(const store *st, const store_msg *m, const char *sub, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s/%s", st->path, sub, m->name);
}

int store_begin(store *st, store_msg *m)
{
    m->fd = -1;
    m->failed = 0;
    m->name[0] = '\0';
    if (st->kind == STORE_MAILDIR) {
        struct timeval tv;
        char p[4096];
        gettimeofday(&tv, NULL);
        /* time.MusecPpidQn.host: unique on this host (maildir spec) */
        snprintf(m->name, sizeof m->name, "%ld.M%06ldP%ldQ%lu.%s", (long)tv.tv_sec,
                 (long)tv.tv_usec, st->pid, ++st->serial, st->host);
        tmp_path(st, m, "tmp", p, sizeof p);
        m->fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        return m->fd < 0 ? -1 : 0;
    }
    if (st->kind == STORE_MBOX) {
        char p[4096];
        snprintf(p, sizeof p, "%s.tmpXXXXXX", st->path);
        m->fd = mkstemp(p);
        if (m->fd < 0)
            return -1;
        unlink(p); /* nothing to clean up if we die */
        snprintf(m->name, sizeof m->name, "mbox%lu", ++st->serial);
        return 0;
    }
    return 0;
}

void store_write(store_msg *m, const char *p, size_t n)
{
    if (m->fd < 0 || m->failed)
        return;
    if (write_all(m->fd, p, n) != 0)
        m->failed = 1;
}

void store_abort(store *st, store_msg *m)
{
    if (m->fd >= 0) {
        close(m->fd);
        if (st->kind == STORE_MAILDIR) {
            char p[4096];
            tmp_path(st, m, "tmp", p, sizeof p);
            unlink(p);
        }
    }
    m->fd = -1;
}

static int maildir_commit(store *st, store_msg *m)
{
    char from[4096], to[4096];
    int r = 0;
    tmp_path(st, m, "tmp", from, sizeof from);
    tmp_path(st, m, "new", to, sizeof to);
    if (m->failed || fsync(m->fd) != 0)
        r = -1;
    if (close(m->fd) != 0)
        r = -1;
    m->fd = -1;
    if (r == 0 && rename(from, to) != 0)
        r = -1;
    if (r != 0) {
        unlink(from);
        return -1;
    }
    /* the rename itself must survive a crash before we say 250 */
    if (fsync(st->newdir_fd) != 0) {
        unlink(to);
        return -1;
    }
    return 0;
}

/* Buffered writer for the mbox copy. */
typedef struct wbuf {
    int fd;
    int err;
    size_t n;
    char b[65536];
} wbuf;

static void wb_put(wbuf *w, const char *p, size_t n)
{
    while (n && !w->err) {
        size_t k = sizeof w->b - w->n;
        if (k > n)
            k = n;
        memcpy(w->b + w->n, p, k);
        w->n += k;
        p += k;
        n -= k;
        if (w->n == sizeof w->b) {
            if (write_all(w->fd, w->b, w->n) != 0)
                w->err = 1;
            w->n = 0;
        }
    }
}

static void wb_gts(wbuf *w, unsigned long gt)
{
    while (gt--)
        wb_put(w, ">", 1);
}

/* mboxrd: copy the staged CRLF message as LF lines, adding '>' before any
 * line that matches /^>*From / (RFC 4155 / mboxrd). */
static int mbox_copy(int in, int out)
{
    static wbuf w; /* 64 KiB: keep it off the stack; one copy runs at a time */
    char ib[16384];
    unsigned long gt = 0; /* leading '>' of the current line, not written yet */
    size_t match = 0;     /* bytes of "From " matched after them */
    int start = 1, cr = 0, last_nl = 1;
    ssize_t n;
    w.fd = out;
    w.err = 0;
    w.n = 0;
    if (lseek(in, 0, SEEK_SET) < 0)
        return -1;
    while ((n = read(in, ib, sizeof ib)) > 0) {
        ssize_t i;
        for (i = 0; i < n; i++) {
            char c = ib[i];
            if (cr) {
                cr = 0;
                if (c != '\n') {
                    /* a CR that is not part of CRLF is an ordinary byte */
                    if (start) {
                        wb_gts(&w, gt);
                        wb_put(&w, "From ", match);
                        start = 0;
                    }
                    wb_put(&w, "\r", 1);
                }
            }
            if (c == '\r') {
                cr = 1;
                continue;
            }
            if (c == '\n') {
                if (start) {
                    wb_gts(&w, gt);
                    wb_put(&w, "From ", match);
                }
                wb_put(&w, "\n", 1);
                start = 1;
                gt = 0;
                match = 0;
                last_nl = 1;
                continue;
            }
            last_nl = 0;
            if (!start) {
                wb_put(&w, &c, 1);
                continue;
            }
            if (c == '>' && match == 0) {
                gt++;
                continue;
            }
            if (c == "From "[match]) {
                if (++match == 5) {
                    wb_put(&w, ">", 1); /* the quote */
                    wb_gts(&w, gt);
                    wb_put(&w, "From ", 5);
                    start = 0;
                }
                continue;
            }
            wb_gts(&w, gt);
            wb_put(&w, "From ", match);
            wb_put(&w, &c, 1);
            start = 0;
        }
    }
    if (n < 0)
        return -1;
    if (start && (gt || match)) {
        wb_gts(&w, gt);
        wb_put(&w, "From ", match);
        last_nl = 0;
    }
    if (cr) {
        wb_put(&w, "\r", 1);
        last_nl = 0;
    }
    /* the message ends with a newline, and a blank line separates messages */
    if (!last_nl)
        wb_put(&w, "\n", 1);
    wb_put(&w, "\n", 1);
    if (!w.err && w.n && write_all(w.fd, w.b, w.n) != 0)
        w.err = 1;
    return w.err ? -1 : 0;
}

static int mbox_commit(store *st, store_msg *m, const char *sender)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char line[600];
    struct stat sb;
    struct tm tm;
    time_t now = time(NULL);
    int fd, r = -1, n;
    if (m->failed)
        goto out;
    fd = open(st->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        goto out;
    if (flock(fd, LOCK_EX) != 0 || fstat(fd, &sb) != 0) {
        close(fd);
        goto out;
    }
    gmtime_r(&now, &tm);
    /* "From sender asctime-date" (RFC 4155) */
    n = snprintf(line, sizeof line, "From %s %s %s %2d %02d:%02d:%02d %d\n",
                 sender && *sender ? sender : "MAILER-DAEMON", days[tm.tm_wday % 7],
                 months[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 tm.tm_year + 1900);
    if (n > 0 && write_all(fd, line, (size_t)n) == 0 && mbox_copy(m->fd, fd) == 0 &&
        fsync(fd) == 0) {
        r = 0;
    } else if (ftruncate(fd, sb.st_size) == 0) {
        /* nothing partial is left behind */
        if (fsync(fd) != 0)
            r = -1;
    }
    flock(fd, LOCK_UN);
    close(fd);
out:
    close(m->fd);
    m->fd = -1;
    return r;
}

int store_commit(store *st, store_msg *m, const char *sender)
{
    if (st->kind == STORE_MAILDIR)
        return maildir_commit(st, m);
    if (st->kind == STORE_MBOX)
        return mbox_commit(st, m, sender);
    return 0;
}
