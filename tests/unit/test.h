/* Tiny in-house test harness: assertions, an event log, a counting
 * allocator and the "feed it in every split" driver. Header-only. */
#ifndef SMTPKIT_TEST_H
#define SMTPKIT_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/common.h"

static int test_failures;
static int test_checks;
static const char *test_current = "";

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        test_checks++;                                                                    \
        if (!(cond)) {                                                                    \
            test_failures++;                                                              \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s\n", __FILE__, __LINE__,         \
                    test_current, #cond);                                                 \
        }                                                                                 \
    } while (0)

#define CHECK_INT(a, b)                                                                   \
    do {                                                                                  \
        long long va_ = (long long)(a), vb_ = (long long)(b);                             \
        test_checks++;                                                                    \
        if (va_ != vb_) {                                                                 \
            test_failures++;                                                              \
            fprintf(stderr, "%s:%d: [%s] %s == %lld, expected %s == %lld\n", __FILE__,    \
                    __LINE__, test_current, #a, va_, #b, vb_);                            \
        }                                                                                 \
    } while (0)

/* Compare a (ptr,len) with a NUL-terminated expected string. */
#define CHECK_MEM(p, n, s)                                                                \
    do {                                                                                  \
        const char *sp_ = (s);                                                            \
        size_t ns_ = strlen(sp_), np_ = (size_t)(n);                                      \
        test_checks++;                                                                    \
        if (np_ != ns_ || (ns_ && memcmp((p), sp_, ns_) != 0)) {                                   \
            test_failures++;                                                              \
            fprintf(stderr, "%s:%d: [%s] got \"%.*s\", expected \"%s\"\n", __FILE__,      \
                    __LINE__, test_current, (int)np_, (const char *)(p), sp_);            \
        }                                                                                 \
    } while (0)

#define CHECK_STR(a, b) CHECK_MEM((a), strlen(a), (b))
#define CHECK_VIEW(v, s) CHECK_MEM((v).ptr, (v).len, (s))

#define TEST(name) static void name(void)
#define RUN(name)                                                                         \
    do {                                                                                  \
        test_current = #name;                                                             \
        name();                                                                           \
    } while (0)

/* Prints the closing line CI reads and returns the exit status. */
static inline int test_summary(void)
{
    printf("%d checks: %d passed, %d failed\n", test_checks, test_checks - test_failures,
           test_failures);
    return test_failures ? 1 : 0;
}

/* ---- event log: a growable string tests append events to ---- */
typedef struct test_log {
    char *buf;
    size_t len, cap;
} test_log;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline void test_log_add(test_log *l, const char *fmt, ...)
{
    va_list ap;
    int n;
    for (;;) {
        size_t room = l->cap - l->len;
        va_start(ap, fmt);
        n = vsnprintf(l->buf ? l->buf + l->len : NULL, l->buf ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if (l->buf && (size_t)n < room) {
            l->len += (size_t)n;
            return;
        }
        l->cap = (l->cap + (size_t)n + 64) * 2;
        l->buf = (char *)realloc(l->buf, l->cap);
        if (!l->buf)
            abort();
    }
}

/* Append raw bytes, escaping CR, LF, NUL and non-printables as \r \n \0 \xNN. */
static inline void test_log_bytes(test_log *l, const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r')
            test_log_add(l, "\\r");
        else if (c == '\n')
            test_log_add(l, "\\n");
        else if (c == '\\')
            test_log_add(l, "\\\\");
        else if (c < 0x20 || c >= 0x7f)
            test_log_add(l, "\\x%02x", c);
        else
            test_log_add(l, "%c", c);
    }
}

static inline void test_log_reset(test_log *l) { l->len = 0; if (l->buf) l->buf[0] = 0; }
static inline void test_log_free(test_log *l) { free(l->buf); l->buf = NULL; l->len = l->cap = 0; }
static inline const char *test_log_str(test_log *l) { if (!l->buf) test_log_add(l, "%s", ""); return l->buf; }

/*
 * Split driver. `run` must initialise a fresh parser, feed `input` cut at the
 * given offsets (cuts[0..ncuts) ascending, each chunk fed in turn, honouring
 * partial consumption) and write every event to `log`.
 * test_split_all() runs it whole, byte by byte and cut at every single
 * position, and checks all logs equal the whole-input log. Returns that log
 * (caller frees with test_log_free).
 */
typedef void (*test_run_fn)(const char *input, size_t len, const size_t *cuts, size_t ncuts,
                            test_log *log, void *ctx);

static inline test_log test_split_all(const char *input, size_t len, test_run_fn run, void *ctx)
{
    test_log whole = {0}, other = {0};
    size_t *cuts = (size_t *)malloc((len + 1) * sizeof(size_t));
    size_t i;
    if (!cuts)
        abort();
    run(input, len, NULL, 0, &whole, ctx);
    test_log_str(&whole);
    /* byte by byte */
    for (i = 1; i < len; i++)
        cuts[i - 1] = i;
    run(input, len, cuts, len ? len - 1 : 0, &other, ctx);
    test_checks++;
    if (strcmp(test_log_str(&other), whole.buf) != 0) {
        test_failures++;
        fprintf(stderr, "[%s] byte-by-byte differs:\n whole: %s\n bytes: %s\n", test_current,
                whole.buf, other.buf);
    }
    for (i = 1; i < len; i++) {
        test_log_reset(&other);
        cuts[0] = i;
        run(input, len, cuts, 1, &other, ctx);
        test_checks++;
        if (strcmp(test_log_str(&other), whole.buf) != 0) {
            test_failures++;
            fprintf(stderr, "[%s] split at %zu differs:\n whole: %s\n split: %s\n",
                    test_current, i, whole.buf, other.buf);
            break;
        }
    }
    free(cuts);
    test_log_free(&other);
    return whole;
}

/* ---- counting allocator, with optional failure of the n-th allocation ---- */
typedef struct test_alloc {
    size_t allocs, frees, bytes_live, bytes_peak, bytes_total;
    long fail_at; /* fail the fail_at-th allocation (1-based); 0 = never */
} test_alloc;

typedef struct test_alloc_hdr {
    size_t size;
    size_t pad; /* keep 16-byte alignment */
} test_alloc_hdr;

static inline void *test_alloc_malloc(size_t size, void *user)
{
    test_alloc *a = (test_alloc *)user;
    test_alloc_hdr *h;
    a->allocs++;
    if (a->fail_at > 0 && (long)a->allocs == a->fail_at)
        return NULL;
    h = (test_alloc_hdr *)malloc(sizeof *h + size);
    if (!h)
        return NULL;
    h->size = size;
    a->bytes_live += size;
    a->bytes_total += size;
    if (a->bytes_live > a->bytes_peak)
        a->bytes_peak = a->bytes_live;
    return h + 1;
}

static inline void test_alloc_free(void *p, void *user)
{
    test_alloc *a = (test_alloc *)user;
    test_alloc_hdr *h;
    if (!p)
        return;
    h = (test_alloc_hdr *)p - 1;
    a->frees++;
    a->bytes_live -= h->size;
    free(h);
}

static inline void *test_alloc_realloc(void *p, size_t size, void *user)
{
    test_alloc *a = (test_alloc *)user;
    void *n;
    if (!p)
        return test_alloc_malloc(size, user);
    n = test_alloc_malloc(size, user);
    if (!n)
        return NULL;
    {
        test_alloc_hdr *h = (test_alloc_hdr *)p - 1;
        memcpy(n, p, h->size < size ? h->size : size);
    }
    test_alloc_free(p, a);
    return n;
}

static inline smtpkit_mem test_alloc_mem(test_alloc *a)
{
    smtpkit_mem m;
    m.malloc = test_alloc_malloc;
    m.realloc = test_alloc_realloc;
    m.free = test_alloc_free;
    m.user = a;
    return m;
}

#endif /* SMTPKIT_TEST_H */
