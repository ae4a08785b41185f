/* bench_message: build and read out a message with a large attachment.
 *
 *   bench_message [MB]      (default 100)
 *
 * Reports, in one run over the same bytes in memory:
 *   - plain base64 (smtpkit_base64_encode, no line breaks) in 48 KiB pieces,
 *   - the streaming base64 encoder with 76-column lines (what MIME needs),
 *   - the message builder (headers, text, the attachment as a memory
 *     source) read out through its smtpkit_source in 64 KiB reads,
 *   - the same with the push form (smtpkit_message_write),
 * as MB/s of attachment bytes; then the peak RSS of child processes that
 * build and read out messages with 10 MB and with MB-sized attachments
 * from a generated source, which must be the same: memory does not grow
 * with the attachment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "smtpkit/base64.h"
#include "smtpkit/message.h"

#define READ_SIZE 65536
#define B64_PIECE 49152 /* multiple of 3 */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile unsigned sink_guard;

static double plain_base64(const unsigned char *data, size_t n)
{
    static char out[SMTPKIT_BASE64_ENCODED_LEN(B64_PIECE)];
    double t = now();
    size_t i;
    for (i = 0; i < n; i += B64_PIECE) {
        size_t k = n - i < B64_PIECE ? n - i : B64_PIECE;
        smtpkit_ssize r = smtpkit_base64_encode(data + i, k, out, sizeof out);
        sink_guard += (unsigned)out[r - 1];
    }
    return now() - t;
}

static double wrapped_base64(const unsigned char *data, size_t n, size_t *total)
{
    static char out[READ_SIZE];
    smtpkit_base64_encoder e;
    size_t i = 0, o = 0;
    double t = now();
    smtpkit_base64_encoder_init(&e, 76);
    while (i < n) {
        size_t w;
        i += smtpkit_base64_encoder_update(&e, data + i, n - i, out, sizeof out, &w);
        o += w;
        sink_guard += (unsigned)out[0];
    }
    o += (size_t)smtpkit_base64_encoder_finish(&e, out, sizeof out);
    *total = o;
    return now() - t;
}

static smtpkit_message *make_message(smtpkit_source *att)
{
    smtpkit_message *m = smtpkit_message_new(NULL);
    static const unsigned char u[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    if (!m || smtpkit_message_set_from(m, "ann@example.org", "Ann Example") ||
        smtpkit_message_add_to(m, "bob@example.net", "Bob") ||
        smtpkit_message_set_subject(m, "The big file") ||
        smtpkit_message_set_date(m, 1739451909, 60) ||
        smtpkit_message_set_unique(m, u, sizeof u) ||
        smtpkit_message_generate_message_id(m, "example.org") ||
        smtpkit_message_set_text_mem(m, "Here it is.\n", 12) ||
        smtpkit_message_add_attachment(m, att, "big.bin", NULL)) {
        fprintf(stderr, "building the message failed\n");
        exit(1);
    }
    return m;
}

static double builder_pull(smtpkit_source *att, uint64_t *total)
{
    static char buf[READ_SIZE];
    smtpkit_message *m = make_message(att);
    smtpkit_source src;
    smtpkit_ssize r;
    uint64_t n = 0;
    double t = now();
    if (smtpkit_message_open(m, &src) != 0)
        exit(1);
    while ((r = src.read(src.ctx, buf, sizeof buf)) > 0) {
        n += (uint64_t)r;
        sink_guard += (unsigned)buf[0];
    }
    t = now() - t;
    if (r < 0 || (int64_t)n != src.size) {
        fprintf(stderr, "read failed or size mismatch (%lld vs %lld)\n", (long long)n,
                (long long)src.size);
        exit(1);
    }
    smtpkit_message_free(m);
    *total = n;
    return t;
}

static int count_sink(void *user, const char *data, size_t len)
{
    *(uint64_t *)user += len;
    sink_guard += (unsigned)data[0];
    return 0;
}

static double builder_push(smtpkit_source *att, uint64_t *total)
{
    smtpkit_message *m = make_message(att);
    double t = now();
    *total = 0;
    if (smtpkit_message_write(m, count_sink, total) != 0)
        exit(1);
    t = now() - t;
    smtpkit_message_free(m);
    return t;
}

/* A source of `size` bytes generated from a 64 KiB pattern: the data is
 * never resident as a whole, like a file read through the page cache. */
typedef struct gen {
    uint64_t size, pos;
    unsigned char pat[65536];
} gen;

static smtpkit_ssize gen_read(void *ctx, char *buf, size_t len)
{
    gen *g = (gen *)ctx;
    size_t n = 0;
    while (n < len && g->pos < g->size) {
        size_t off = (size_t)(g->pos % sizeof g->pat), k = sizeof g->pat - off;
        if (k > len - n)
            k = len - n;
        if (k > g->size - g->pos)
            k = (size_t)(g->size - g->pos);
        memcpy(buf + n, g->pat + off, k);
        n += k;
        g->pos += k;
    }
    return (smtpkit_ssize)n;
}

static long child_peak_rss_kb(uint64_t size)
{
    pid_t pid = fork();
    int status;
    struct rusage ru;
    if (pid < 0)
        exit(1);
    if (pid == 0) {
        static gen g;
        smtpkit_source s;
        uint64_t total;
        size_t i;
        g.size = size;
        for (i = 0; i < sizeof g.pat; i++)
            g.pat[i] = (unsigned char)(i * 2654435761u >> 13);
        s.read = gen_read;
        s.rewind = NULL;
        s.ctx = &g;
        s.size = (int64_t)size;
        builder_pull(&s, &total);
        _exit(0);
    }
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        exit(1);
    return ru.ru_maxrss;
}

static double best(double a, double b) { return a < b ? a : b; }

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 100, n, i;
    unsigned char *data;
    double t_plain = 1e9, t_wrap = 1e9, t_pull = 1e9, t_push = 1e9;
    uint64_t pulled = 0, pushed = 0;
    size_t wrapped = 0;
    long rss_small, rss_big;
    int run;

    if (mb == 0)
        mb = 100;
    n = mb * 1000 * 1000;
    data = (unsigned char *)malloc(n);
    if (!data)
        return 1;
    for (i = 0; i < n; i++)
        data[i] = (unsigned char)((i * 2654435761u) >> 11);
    for (run = 0; run < 3; run++) {
        smtpkit_source s;
        smtpkit_mem_source ms;
        t_plain = best(t_plain, plain_base64(data, n));
        t_wrap = best(t_wrap, wrapped_base64(data, n, &wrapped));
        smtpkit_source_from_memory(&s, &ms, data, n);
        t_pull = best(t_pull, builder_pull(&s, &pulled));
        smtpkit_source_from_memory(&s, &ms, data, n);
        t_push = best(t_push, builder_push(&s, &pushed));
    }
    free(data);
    printf("attachment: %zu MB (best of 3 runs)\n", mb);
    printf("%-42s %8.1f MB/s\n", "plain base64 (no line breaks)", (double)n / 1e6 / t_plain);
    printf("%-42s %8.1f MB/s  (%zu bytes out)\n", "streaming base64, 76-column lines",
           (double)n / 1e6 / t_wrap, wrapped);
    printf("%-42s %8.1f MB/s  (%llu bytes out, %.0f%% of plain base64)\n",
           "message builder, pull (64 KiB reads)", (double)n / 1e6 / t_pull,
           (unsigned long long)pulled, 100.0 * t_plain / t_pull);
    printf("%-42s %8.1f MB/s  (%llu bytes out, %.0f%% of plain base64)\n",
           "message builder, push (sink)", (double)n / 1e6 / t_push,
           (unsigned long long)pushed, 100.0 * t_plain / t_push);
    rss_small = child_peak_rss_kb(10ull * 1000 * 1000);
    rss_big = child_peak_rss_kb((uint64_t)mb * 1000 * 1000);
    printf("peak RSS, builder with a 10 MB attachment:  %ld KiB\n", rss_small);
    printf("peak RSS, builder with a %zu MB attachment: %ld KiB\n", mb, rss_big);
    if (rss_big > rss_small + 512) {
        printf("FAIL: memory grows with the attachment\n");
        return 1;
    }
    return (int)(sink_guard & 0);
}
