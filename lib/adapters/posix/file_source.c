/* File sources and the clock/unique-bytes helpers for the message builder. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "smtpkit/posix_file.h"

static smtpkit_ssize file_read(void *ctx, char *buf, size_t len)
{
    smtpkit_file_source *s = (smtpkit_file_source *)ctx;
    for (;;) {
        ssize_t n = read(s->_fd, buf, len);
        if (n >= 0)
            return (smtpkit_ssize)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return SMTPKIT_ERR_WOULDBLOCK;
        return SMTPKIT_ERR_IO;
    }
}

/* Sources are only made rewindable when they start at offset 0. */
static int file_rewind(void *ctx)
{
    smtpkit_file_source *s = (smtpkit_file_source *)ctx;
    return lseek(s->_fd, 0, SEEK_SET) == 0 ? 0 : SMTPKIT_ERR_STATE;
}

static int setup(smtpkit_source *src, smtpkit_file_source *state, int fd, int own)
{
    struct stat st;
    off_t pos;
    state->_fd = fd;
    state->_own = own;
    src->read = file_read;
    src->rewind = NULL;
    src->ctx = state;
    src->size = -1;
    if (fstat(fd, &st) != 0)
        return SMTPKIT_ERR_IO;
    pos = lseek(fd, 0, SEEK_CUR);
    /* Only a regular file read from its start can report a size and be
     * read again. */
    if (S_ISREG(st.st_mode) && pos == 0) {
        src->size = (int64_t)st.st_size;
        src->rewind = file_rewind;
    }
    return 0;
}

int smtpkit_file_source_open(smtpkit_source *src, smtpkit_file_source *state, const char *path)
{
    int fd, r;
    if (!src || !state || !path)
        return SMTPKIT_ERR_INVALID_ARG;
    state->_fd = -1;
    state->_own = 0;
    do {
        fd = open(path, O_RDONLY);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return SMTPKIT_ERR_IO;
    r = setup(src, state, fd, 1);
    if (r) {
        int e = errno;
        close(fd);
        state->_fd = -1;
        errno = e;
    }
    return r;
}

int smtpkit_file_source_from_fd(smtpkit_source *src, smtpkit_file_source *state, int fd)
{
    if (!src || !state || fd < 0)
        return SMTPKIT_ERR_INVALID_ARG;
    return setup(src, state, fd, 0) == 0 ? 0 : SMTPKIT_ERR_INVALID_ARG;
}

void smtpkit_file_source_close(smtpkit_file_source *state)
{
    if (state && state->_own && state->_fd >= 0)
        close(state->_fd);
    if (state)
        state->_fd = -1;
}

int smtpkit_posix_now(int64_t *unix_seconds, int *zone_minutes)
{
    time_t t = time(NULL);
    struct tm lt, gt;
    long off;
    if (!unix_seconds || !zone_minutes)
        return SMTPKIT_ERR_INVALID_ARG;
    if (t == (time_t)-1 || !localtime_r(&t, &lt) || !gmtime_r(&t, &gt))
        return SMTPKIT_ERR_IO;
    /* Portable offset: compare the broken-down local and UTC times (the
     * day differs by at most one). */
    off = (long)(lt.tm_hour - gt.tm_hour) * 60 + (lt.tm_min - gt.tm_min);
    if (lt.tm_year != gt.tm_year)
        off += lt.tm_year > gt.tm_year ? 1440 : -1440;
    else if (lt.tm_yday != gt.tm_yday)
        off += lt.tm_yday > gt.tm_yday ? 1440 : -1440;
    *unix_seconds = (int64_t)t;
    *zone_minutes = (int)off;
    return 0;
}

int smtpkit_posix_unique(void *buf, size_t len)
{
    unsigned char *p = (unsigned char *)buf;
    size_t got = 0;
    int fd;
    if (!buf)
        return SMTPKIT_ERR_INVALID_ARG;
    fd = open("/dev/urandom", O_RDONLY);
    if (fd >= 0) {
        while (got < len) {
            ssize_t n = read(fd, p + got, len - got);
            if (n <= 0) {
                if (n < 0 && errno == EINTR)
                    continue;
                break;
            }
            got += (size_t)n;
        }
        close(fd);
    }
    if (got < len) {
        /* No urandom: mix the clock, the pid and an address (splitmix64). */
        struct timespec ts;
        uint64_t x;
        clock_gettime(CLOCK_REALTIME, &ts);
        x = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
        x ^= (uint64_t)getpid() << 32;
        x ^= (uint64_t)(uintptr_t)&ts;
        for (; got < len; got++) {
            uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            p[got] ^= (unsigned char)(z ^ (z >> 31));
        }
    }
    return 0;
}
