/* Errors, version, allocator hook and the memory source. */
#include "internal.h"
#include "smtpkit/smtpkit.h"
#include "test.h"

TEST(strerror_covers_every_code)
{
    int c;
    CHECK_STR(smtpkit_strerror(0), "success");
    for (c = -1; c >= -199; c--) {
        const char *s = smtpkit_strerror(c);
        CHECK(s != NULL && s[0] != '\0');
    }
    CHECK_STR(smtpkit_strerror(12345), "unknown error");
    CHECK(smtpkit_is_fatal(SMTPKIT_ERR_NOMEM));
    CHECK(smtpkit_is_fatal(SMTPKIT_ERR_CLOSED));
    CHECK(!smtpkit_is_fatal(SMTPKIT_ERR_CMD_SYNTAX));
    CHECK(!smtpkit_is_fatal(SMTPKIT_OK));
}

TEST(version_matches_header)
{
    CHECK_STR(smtpkit_version(), SMTPKIT_VERSION_STRING);
    CHECK_INT(smtpkit_version_number(), SMTPKIT_VERSION_NUMBER);
}

TEST(allocator_hook_is_used)
{
    test_alloc a = {0};
    smtpkit_mem m = test_alloc_mem(&a);
    void *p = smtpkit__malloc(&m, 10);
    CHECK(p != NULL);
    CHECK_INT(a.allocs, 1);
    CHECK_INT(a.bytes_live, 10);
    p = smtpkit__realloc(&m, p, 100);
    CHECK(p != NULL);
    CHECK_INT(a.bytes_live, 100);
    smtpkit__free(&m, p);
    CHECK_INT(a.bytes_live, 0);
    a.fail_at = (long)a.allocs + 1;
    CHECK(smtpkit__malloc(&m, 5) == NULL);
    CHECK(smtpkit__calloc(&m, (size_t)-1, 16) == NULL);
}

TEST(memory_source_reads_in_pieces)
{
    smtpkit_source src;
    smtpkit_mem_source st;
    char buf[4];
    smtpkit_source_from_memory(&src, &st, "hello world", 11);
    CHECK_INT(src.size, 11);
    CHECK_INT(src.read(src.ctx, buf, 4), 4);
    CHECK_MEM(buf, 4, "hell");
    CHECK_INT(src.read(src.ctx, buf, 4), 4);
    CHECK_INT(src.read(src.ctx, buf, 4), 3);
    CHECK_MEM(buf, 3, "rld");
    CHECK_INT(src.read(src.ctx, buf, 4), 0);
    CHECK_INT(src.rewind(src.ctx), 0);
    CHECK_INT(src.read(src.ctx, buf, 4), 4);
}

TEST(string_helpers)
{
    CHECK(smtpkit__ieq("MaIl", 4, "mail"));
    CHECK(!smtpkit__ieq("MaIl", 3, "mail"));
    CHECK(!smtpkit__ieq("MaIls", 5, "mail"));
    CHECK(smtpkit__iprefix("FROM:<a>", 8, "from:"));
    CHECK(!smtpkit__iprefix("FRO", 3, "from:"));
    CHECK(smtpkit__has_crlfnul("a\rb", 3));
    CHECK(smtpkit__has_crlfnul("a\0b", 3));
    CHECK(!smtpkit__has_crlfnul("abc", 3));
}

int main(void)
{
    RUN(strerror_covers_every_code);
    RUN(version_matches_header);
    RUN(allocator_hook_is_used);
    RUN(memory_source_reads_in_pieces);
    RUN(string_helpers);
    return test_summary();
}
