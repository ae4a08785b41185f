/* Message builder, body side: every multipart combination, transfer
 * encoding choice, base64 lines, boundaries, exact sizes, envelope,
 * streaming in constant memory, sources that block or fail, allocation
 * failures. */
#include "test_message.h"

/* ---- every multipart combination ---- */

typedef struct combo {
    int text, html, ninline, natt;
    const char *structure;
} combo;

static const combo combos[] = {
    {0, 0, 0, 0, "text/plain"},
    {1, 0, 0, 0, "text/plain"},
    {0, 1, 0, 0, "text/html"},
    {1, 1, 0, 0, "alternative(text/plain,text/html)"},
    {0, 1, 1, 0, "related(text/html,image/png)"},
    {0, 1, 2, 0, "related(text/html,image/png,image/png)"},
    {1, 0, 1, 0, "related(text/plain,image/png)"},
    {1, 1, 1, 0, "alternative(text/plain,related(text/html,image/png))"},
    {1, 1, 2, 0, "alternative(text/plain,related(text/html,image/png,image/png))"},
    {0, 0, 1, 0, "related(image/png)"},
    {0, 0, 0, 1, "mixed(application/pdf)"},
    {0, 0, 0, 2, "mixed(application/pdf,application/pdf)"},
    {1, 0, 0, 1, "mixed(text/plain,application/pdf)"},
    {0, 1, 0, 1, "mixed(text/html,application/pdf)"},
    {1, 1, 0, 2, "mixed(alternative(text/plain,text/html),application/pdf,application/pdf)"},
    {0, 1, 1, 1, "mixed(related(text/html,image/png),application/pdf)"},
    {1, 0, 1, 1, "mixed(related(text/plain,image/png),application/pdf)"},
    {1, 1, 1, 1,
     "mixed(alternative(text/plain,related(text/html,image/png)),application/pdf)"},
    {1, 1, 2, 3,
     "mixed(alternative(text/plain,related(text/html,image/png,image/png)),"
     "application/pdf,application/pdf,application/pdf)"},
    {0, 0, 2, 1, "mixed(related(image/png,image/png),application/pdf)"},
};

TEST(every_multipart_combination)
{
    size_t c;
    for (c = 0; c < SMTPKIT_ARRAY_LEN(combos); c++) {
        const combo *k = &combos[c];
        smtpkit_message *m = smtpkit_message_new(NULL);
        smtpkit_source src[8];
        tm_gen gen[8];
        int i, ns = 0, idx;
        size_t len;
        char *msg;
        test_log st = {0};
        tm_entity e;
        static const char text[] = "Hello,\nthis is the text.\n";
        static const char html[] = "<p>Hello <img src=\"cid:img0@x\"></p>\n";

        CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
        CHECK_INT(smtpkit_message_add_to(m, "c@d.example", NULL), 0);
        if (k->text)
            CHECK_INT(smtpkit_message_set_text_mem(m, text, strlen(text)), 0);
        if (k->html)
            CHECK_INT(smtpkit_message_set_html_mem(m, html, strlen(html)), 0);
        for (i = 0; i < k->ninline; i++, ns++) {
            char cid[32];
            snprintf(cid, sizeof cid, "img%d@x", i);
            tm_gen_source(&src[ns], &gen[ns], 100 + (uint64_t)i * 57, (uint64_t)ns);
            CHECK_INT(smtpkit_message_add_inline(m, &src[ns], cid, NULL, "image/png"), 0);
        }
        for (i = 0; i < k->natt; i++, ns++) {
            tm_gen_source(&src[ns], &gen[ns], 1000 + (uint64_t)i, (uint64_t)ns);
            CHECK_INT(smtpkit_message_add_attachment(m, &src[ns], "doc.pdf", NULL), 0);
        }
        msg = tm_build(m, &len);
        CHECK(msg != NULL);
        if (!msg) {
            smtpkit_message_free(m);
            continue;
        }
        tm_structure(msg, len, &st, 0);
        CHECK_STR(test_log_str(&st), k->structure);
        CHECK(tm_lines_ok(msg, len, 78, NULL));
        CHECK(tm_split(msg, len, &e));
        CHECK_INT(tm_header_count(&e, "MIME-Version"), 1);
        /* the leaves hold what was put in, in order */
        idx = 0;
        if (k->text) {
            tm_entity t;
            int j = idx++;
            CHECK(tm_leaf(msg, len, &j, &t) && t.blen == strlen(text) + 2 &&
                  memcmp(t.body, "Hello,\r\nthis is the text.\r\n", t.blen) == 0);
        } else if (!k->html && !k->ninline && !k->natt) {
            tm_entity t;
            int j = idx++;
            CHECK(tm_leaf(msg, len, &j, &t) && t.blen == 0); /* empty text body */
        }
        if (k->html) {
            tm_entity t;
            int j = idx++;
            CHECK(tm_leaf(msg, len, &j, &t) && t.blen == strlen(html) + 1);
        }
        for (i = 0; i < ns; i++) {
            tm_entity t;
            char cid[64];
            int j = idx++;
            CHECK(tm_leaf(msg, len, &j, &t));
            CHECK(tm_b64_matches(t.body, t.blen, &gen[i]));
            if (i < k->ninline) {
                char want[32];
                snprintf(want, sizeof want, "<img%d@x>", i);
                CHECK(tm_header(&t, "Content-ID", cid, sizeof cid) > 0);
                CHECK_STR(cid, want);
                CHECK(tm_header(&t, "Content-Disposition", cid, sizeof cid) > 0);
                CHECK_STR(cid, "inline");
            }
        }
        test_log_free(&st);
        free(msg);
        smtpkit_message_free(m);
    }
}

/* ---- transfer encodings ---- */

typedef struct enc_case {
    const char *text;
    size_t len;      /* 0 = strlen */
    unsigned opts;
    const char *cte;
    unsigned flags;  /* expected message flags */
} enc_case;

TEST(text_transfer_encoding_choice)
{
    static char long79[100], long998[1100], long999[1100], dashes[64], utf8long[1100];
    enc_case cases[] = {
        {"plain ASCII\nin short lines\n", 0, 0, "7bit", 0},
        {"", 0, 0, "7bit", 0},
        {long79, 0, 0, "quoted-printable", 0},
        {"caf\xc3\xa9\n", 0, 0, "quoted-printable", 0},
        {"caf\xc3\xa9\n", 0, SMTPKIT_MESSAGE_ALLOW_8BIT, "8bit", SMTPKIT_MESSAGE_8BITMIME},
        {"ascii only\n", 0, SMTPKIT_MESSAGE_ALLOW_8BIT, "7bit", 0},
        {long998, 0, SMTPKIT_MESSAGE_ALLOW_8BIT, "8bit", SMTPKIT_MESSAGE_8BITMIME},
        {long999, 0, SMTPKIT_MESSAGE_ALLOW_8BIT, "quoted-printable", 0},
        {utf8long, 0, SMTPKIT_MESSAGE_ALLOW_8BIT, "quoted-printable", 0},
        {"nul\0byte", 8, SMTPKIT_MESSAGE_ALLOW_8BIT, "quoted-printable", 0},
        {"esc\x1b[0m\n", 0, 0, "quoted-printable", 0},
        {dashes, 0, 0, "quoted-printable", 0},
        {"x --=_ in the middle is fine\n", 0, 0, "7bit", 0},
        {"tab\tand trailing space \n", 0, 0, "7bit", 0},
    };
    size_t i;
    memset(long79, 'a', 79);
    memset(long998, 'b', 997);
    long998[0] = '\xc3'; /* 998 octets with 8-bit content */
    long998[1] = '\xa9';
    long998[998] = 0;
    memset(long999, 'c', 999);
    long999[0] = '\xc3';
    long999[1] = '\xa9';
    memset(utf8long, 'd', 1050);
    utf8long[5] = '\xc3';
    utf8long[6] = '\xa9';
    utf8long[1050] = 0;
    strcpy(dashes, "text\n--=_m_ starts like a boundary\n");
    for (i = 0; i < SMTPKIT_ARRAY_LEN(cases); i++) {
        smtpkit_message *m = smtpkit_message_new(NULL);
        size_t len, n = cases[i].len ? cases[i].len : strlen(cases[i].text);
        char *msg, cte[64];
        tm_entity e;
        CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
        CHECK_INT(smtpkit_message_set_options(m, cases[i].opts), 0);
        CHECK_INT(smtpkit_message_set_text_mem(m, cases[i].text, n), 0);
        msg = tm_build(m, &len);
        CHECK(msg && tm_split(msg, len, &e));
        CHECK(tm_header(&e, "Content-Transfer-Encoding", cte, sizeof cte) > 0);
        CHECK_STR(cte, cases[i].cte);
        CHECK_INT(smtpkit_message_flags(m), cases[i].flags);
        CHECK(tm_lines_ok(msg, len, 998, NULL));
        if (strcmp(cases[i].cte, "quoted-printable") == 0)
            CHECK(tm_lines_ok(e.body, e.blen, 76, NULL));
        free(msg);
        smtpkit_message_free(m);
    }
}

/* A source without rewind cannot be scanned: quoted-printable, size unknown. */
static smtpkit_ssize once_read(void *ctx, char *buf, size_t len)
{
    smtpkit_mem_source *s = (smtpkit_mem_source *)ctx;
    size_t n = SMTPKIT_MIN(len, s->_len - s->_pos);
    memcpy(buf, s->_data + s->_pos, n);
    s->_pos += n;
    return (smtpkit_ssize)n;
}

TEST(unrewindable_text_is_quoted_printable)
{
    smtpkit_message *m = smtpkit_message_new(NULL);
    smtpkit_source s, out;
    smtpkit_mem_source ms;
    int64_t size = 0;
    char buf[4096], cte[64];
    smtpkit_ssize n, total = 0;
    tm_entity e;
    smtpkit_source_from_memory(&s, &ms, "short ascii.\n", 13);
    s.read = once_read;
    s.rewind = NULL;
    s.size = -1;
    CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
    CHECK_INT(smtpkit_message_set_text(m, &s), 0);
    CHECK_INT(smtpkit_message_size(m, &size), 0);
    CHECK_INT(size, -1);
    CHECK_INT(smtpkit_message_open(m, &out), 0);
    CHECK_INT(out.size, -1);
    while ((n = out.read(out.ctx, buf + total, sizeof buf - (size_t)total)) > 0)
        total += n;
    CHECK_INT(n, 0);
    CHECK(tm_split(buf, (size_t)total, &e));
    CHECK(tm_header(&e, "Content-Transfer-Encoding", cte, sizeof cte) > 0);
    CHECK_STR(cte, "quoted-printable");
    CHECK_MEM(e.body, e.blen, "short ascii.\r\n");
    /* a second pass needs the source again, which cannot rewind */
    CHECK_INT(out.rewind(out.ctx), SMTPKIT_ERR_STATE);
    smtpkit_message_free(m);
}

/* ---- base64 ---- */

TEST(base64_lines_are_76_and_decode_exactly)
{
    static const uint64_t sizes[] = {0, 1, 2, 3, 56, 57, 58, 59, 114, 1000, 100000};
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(sizes); i++) {
        smtpkit_message *m = smtpkit_message_new(NULL);
        smtpkit_source s;
        tm_gen g;
        size_t len;
        char *msg;
        tm_entity leaf;
        int idx = 0;
        tm_gen_source(&s, &g, sizes[i], 7 + i);
        g.max_read = 13; /* small odd reads: groups span reads */
        CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
        CHECK_INT(smtpkit_message_add_attachment(m, &s, "x.bin", NULL), 0);
        msg = tm_build(m, &len);
        CHECK(msg && tm_leaf(msg, len, &idx, &leaf));
        CHECK(tm_lines_ok(leaf.body, leaf.blen, 76, NULL));
        CHECK(tm_b64_matches(leaf.body, leaf.blen, &g));
        /* 4 characters per 3 bytes plus CRLF per line */
        {
            uint64_t chars = (sizes[i] + 2) / 3 * 4;
            CHECK_INT(leaf.blen, chars + (chars + 75) / 76 * 2);
        }
        free(msg);
        smtpkit_message_free(m);
    }
}

/* ---- boundaries ---- */

TEST(boundaries)
{
    char bounds[2][3][64];
    int k;
    for (k = 0; k < 2; k++) {
        smtpkit_message *m = smtpkit_message_new(NULL);
        smtpkit_source s;
        tm_gen g;
        size_t len;
        char *msg, *p;
        int nb = 0;
        unsigned char u[16];
        memset(u, k, sizeof u);
        tm_gen_source(&s, &g, 10, 1);
        CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
        CHECK_INT(smtpkit_message_set_unique(m, u, sizeof u), 0);
        CHECK_INT(smtpkit_message_set_text_mem(m, "t", 1), 0);
        CHECK_INT(smtpkit_message_set_html_mem(m, "h", 1), 0);
        CHECK_INT(smtpkit_message_add_inline(m, &s, "i@x", NULL, "image/gif"), 0);
        msg = tm_build(m, &len);
        smtpkit_message_free(m);
        m = smtpkit_message_new(NULL);
        tm_gen_source(&s, &g, 10, 1);
        CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
        CHECK_INT(smtpkit_message_set_unique(m, u, sizeof u), 0);
        CHECK_INT(smtpkit_message_add_attachment(m, &s, "a", NULL), 0);
        free(msg);
        msg = tm_build(m, &len);
        smtpkit_message_free(m);
        free(msg);

        m = smtpkit_message_new(NULL);
        tm_gen_source(&s, &g, 10, 1);
        CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
        CHECK_INT(smtpkit_message_set_unique(m, u, sizeof u), 0);
        CHECK_INT(smtpkit_message_set_text_mem(m, "t", 1), 0);
        CHECK_INT(smtpkit_message_set_html_mem(m, "h", 1), 0);
        CHECK_INT(smtpkit_message_add_inline(m, &s, "i@x", NULL, "image/gif"), 0);
        {
            static smtpkit_source s2;
            static tm_gen g2;
            tm_gen_source(&s2, &g2, 10, 2);
            CHECK_INT(smtpkit_message_add_attachment(m, &s2, "a", NULL), 0);
        }
        msg = tm_build(m, &len);
        for (p = msg; (p = strstr(p, "boundary=\"")) != NULL && nb < 3; nb++) {
            char *q;
            p += 10;
            q = strchr(p, '"');
            snprintf(bounds[k][nb], sizeof bounds[k][nb], "%.*s", (int)(q - p), p);
        }
        CHECK_INT(nb, 3);
        /* mixed, alternative, related: "=_" + kind + "_" + 32 hex, all
         * the same length (none a prefix of another), all different */
        CHECK(strncmp(bounds[k][0], "=_m_", 4) == 0);
        CHECK(strncmp(bounds[k][1], "=_a_", 4) == 0);
        CHECK(strncmp(bounds[k][2], "=_r_", 4) == 0);
        CHECK_INT(strlen(bounds[k][0]), 36);
        CHECK_INT(strlen(bounds[k][1]), 36);
        CHECK(strcmp(bounds[k][0] + 4, bounds[k][1] + 4) != 0);
        free(msg);
        smtpkit_message_free(m);
    }
    /* different unique bytes, different boundaries */
    CHECK(strcmp(bounds[0][0], bounds[1][0]) != 0);
}

/* ---- sizes, rewinding, blocking sources ---- */

TEST(exact_size_matches_output)
{
    size_t c;
    for (c = 0; c < SMTPKIT_ARRAY_LEN(combos); c++) {
        smtpkit_message *m = smtpkit_message_new(NULL);
        smtpkit_source s[4], out;
        tm_gen g[4];
        int64_t size = -2;
        size_t len;
        char *msg;
        int i;
        CHECK_INT(smtpkit_message_set_from(m, "a@b.example", "A"), 0);
        CHECK_INT(smtpkit_message_set_subject(m, "Gr\xc3\xbc\xc3\x9f" "e"), 0);
        if (combos[c].text)
            CHECK_INT(smtpkit_message_set_text_mem(m, "a very long line that goes on and on and "
                                                      "on and on beyond seventy-eight columns x\n",
                                                   81), 0);
        if (combos[c].html)
            CHECK_INT(smtpkit_message_set_html_mem(m, "<b>\xc3\xa9</b>", 10), 0);
        for (i = 0; i < combos[c].ninline && i < 2; i++) {
            tm_gen_source(&s[i], &g[i], 333, (uint64_t)i);
            CHECK_INT(smtpkit_message_add_inline(m, &s[i], "c@d", "n.png", NULL), 0);
        }
        for (i = 0; i < combos[c].natt && i < 2; i++) {
            tm_gen_source(&s[2 + i], &g[2 + i], 4444, (uint64_t)i);
            CHECK_INT(smtpkit_message_add_attachment(m, &s[2 + i], "n.pdf", NULL), 0);
        }
        CHECK_INT(smtpkit_message_size(m, &size), 0);
        CHECK_INT(smtpkit_message_open(m, &out), 0);
        CHECK_INT(out.size, size);
        msg = tm_build(m, &len);
        CHECK_INT(len, size);
        free(msg);
        smtpkit_message_free(m);
    }
}

TEST(unknown_size_and_lying_sources)
{
    smtpkit_message *m = smtpkit_message_new(NULL);
    smtpkit_source s, out;
    tm_gen g;
    int64_t size = 0;
    char buf[8192];
    smtpkit_ssize n;
    tm_gen_source(&s, &g, 5000, 3);
    s.size = -1;
    CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
    CHECK_INT(smtpkit_message_add_attachment(m, &s, "x", NULL), 0);
    CHECK_INT(smtpkit_message_size(m, &size), 0);
    CHECK_INT(size, -1);
    smtpkit_message_free(m);

    /* a source that delivers fewer bytes than it announced */
    m = smtpkit_message_new(NULL);
    tm_gen_source(&s, &g, 5000, 3);
    s.size = 6000;
    CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
    CHECK_INT(smtpkit_message_add_attachment(m, &s, "x", NULL), 0);
    CHECK_INT(smtpkit_message_open(m, &out), 0);
    while ((n = out.read(out.ctx, buf, sizeof buf)) > 0)
        ;
    CHECK_INT(n, SMTPKIT_ERR_IO);
    CHECK_INT(out.read(out.ctx, buf, sizeof buf), SMTPKIT_ERR_IO); /* sticky */
    CHECK_INT(smtpkit_message_write(m, NULL, NULL), SMTPKIT_ERR_INVALID_ARG);
    smtpkit_message_free(m);

    /* ... or more */
    m = smtpkit_message_new(NULL);
    tm_gen_source(&s, &g, 5000, 3);
    s.size = 4000;
    CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
    CHECK_INT(smtpkit_message_add_attachment(m, &s, "x", NULL), 0);
    CHECK_INT(smtpkit_message_open(m, &out), 0);
    while ((n = out.read(out.ctx, buf, sizeof buf)) > 0)
        ;
    CHECK_INT(n, SMTPKIT_ERR_IO);
    /* a rewind clears the error; the source still lies */
    CHECK_INT(out.rewind(out.ctx), 0);
    CHECK(out.read(out.ctx, buf, 10) == 10);
    smtpkit_message_free(m);
}

TEST(wouldblock_sources_give_the_same_bytes)
{
    smtpkit_message *a = smtpkit_message_new(NULL), *b = smtpkit_message_new(NULL);
    smtpkit_source sa, sb, out;
    tm_gen ga, gb;
    size_t la, lb = 0, cap = 1 << 16;
    char *ma, *mb = (char *)malloc(cap);
    int blocks = 0;
    tm_gen_source(&sa, &ga, 3000, 9);
    tm_gen_source(&sb, &gb, 3000, 9);
    gb.wouldblock = 1;
    gb.max_read = 100;
    CHECK_INT(smtpkit_message_set_from(a, "a@b.example", NULL), 0);
    CHECK_INT(smtpkit_message_set_from(b, "a@b.example", NULL), 0);
    CHECK_INT(smtpkit_message_add_attachment(a, &sa, "x", NULL), 0);
    CHECK_INT(smtpkit_message_add_attachment(b, &sb, "x", NULL), 0);
    ma = tm_build(a, &la);
    CHECK_INT(smtpkit_message_open(b, &out), 0);
    for (;;) {
        smtpkit_ssize n = out.read(out.ctx, mb + lb, 333);
        if (n == SMTPKIT_ERR_WOULDBLOCK) {
            blocks++;
            continue;
        }
        CHECK(n >= 0);
        if (n <= 0)
            break;
        lb += (size_t)n;
    }
    CHECK(blocks > 10);
    CHECK(la == lb && memcmp(ma, mb, la) == 0);
    free(ma);
    free(mb);
    smtpkit_message_free(a);
    smtpkit_message_free(b);
}

/* Push form: same bytes; an aborting sink is reported; WOULDBLOCK resumes. */
typedef struct sinkbuf {
    char *p;
    size_t n, cap;
    int abort_after;
} sinkbuf;

static int sink_fn(void *user, const char *data, size_t len)
{
    sinkbuf *s = (sinkbuf *)user;
    if (s->abort_after && --s->abort_after == 0)
        return -1;
    if (s->n + len > s->cap) {
        s->cap = (s->n + len) * 2;
        s->p = (char *)realloc(s->p, s->cap);
    }
    memcpy(s->p + s->n, data, len);
    s->n += len;
    return 0;
}

TEST(push_form)
{
    smtpkit_message *m = smtpkit_message_new(NULL);
    smtpkit_source s, out;
    tm_gen g;
    sinkbuf sb = {NULL, 0, 0, 0};
    size_t len;
    char *msg;
    int r, calls = 0;
    tm_gen_source(&s, &g, 100000, 5);
    CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
    CHECK_INT(smtpkit_message_set_text_mem(m, "hi\n", 3), 0);
    CHECK_INT(smtpkit_message_add_attachment(m, &s, "x", NULL), 0);
    msg = tm_build(m, &len);
    CHECK_INT(smtpkit_message_open(m, &out), 0); /* start over */
    g.wouldblock = 1;
    while ((r = smtpkit_message_write(m, sink_fn, &sb)) == SMTPKIT_ERR_WOULDBLOCK)
        calls++;
    CHECK_INT(r, 0);
    CHECK(calls > 0);
    CHECK(sb.n == len && memcmp(sb.p, msg, len) == 0);
    sb.n = 0;
    sb.abort_after = 2;
    g.wouldblock = 0;
    CHECK_INT(smtpkit_message_open(m, &out), 0);
    CHECK_INT(smtpkit_message_write(m, sink_fn, &sb), SMTPKIT_ERR_CALLBACK);
    free(sb.p);
    free(msg);
    smtpkit_message_free(m);
}

/* ---- envelope ---- */

TEST(envelope)
{
    smtpkit_message *m = smtpkit_message_new(NULL);
    smtpkit_message_env env;
    CHECK_INT(smtpkit_message_envelope(m, &env), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_message_set_from(m, "from@example.org", "F"), 0);
    CHECK_INT(smtpkit_message_add_to(m, "to1@example.org", NULL), 0);
    CHECK_INT(smtpkit_message_add_to(m, "to2@EXAMPLE.org", NULL), 0);
    CHECK_INT(smtpkit_message_add_cc(m, "to2@example.ORG", NULL), 0); /* same mailbox */
    CHECK_INT(smtpkit_message_add_cc(m, "TO1@example.org", NULL), 0); /* local part differs */
    CHECK_INT(smtpkit_message_add_bcc(m, "hidden@example.org"), 0);
    CHECK_INT(smtpkit_message_add_reply_to(m, "reply@example.org", NULL), 0);
    CHECK_INT(smtpkit_message_envelope(m, &env), 0);
    CHECK_STR(env.reverse_path, "from@example.org");
    CHECK_INT(env.recipient_count, 4);
    CHECK_STR(env.recipients[0], "to1@example.org");
    CHECK_STR(env.recipients[1], "to2@EXAMPLE.org");
    CHECK_STR(env.recipients[2], "TO1@example.org");
    CHECK_STR(env.recipients[3], "hidden@example.org");
    CHECK_INT(env.flags, 0);
    CHECK_INT(smtpkit_message_set_sender(m, "bounce@example.org", NULL), 0);
    CHECK_INT(smtpkit_message_add_bcc(m, "\xc3\xbc@example.org"), 0);
    CHECK_INT(smtpkit_message_envelope(m, &env), 0);
    CHECK_STR(env.reverse_path, "bounce@example.org");
    CHECK_INT(env.recipient_count, 5);
    CHECK_INT(env.flags, SMTPKIT_MESSAGE_SMTPUTF8);
    smtpkit_message_free(m);
}

/* ---- state rules ---- */

TEST(frozen_after_prepare)
{
    smtpkit_message *m = smtpkit_message_new(NULL);
    smtpkit_source s;
    smtpkit_mem_source ms;
    smtpkit_source_from_memory(&s, &ms, "x", 1);
    CHECK_INT(smtpkit_message_prepare(m), SMTPKIT_ERR_STATE); /* no From */
    CHECK_INT(smtpkit_message_open(m, &s), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_message_set_options(m, 0x80), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
    CHECK_INT(smtpkit_message_prepare(m), 0);
    CHECK_INT(smtpkit_message_prepare(m), 0);
    CHECK_INT(smtpkit_message_set_subject(m, "late"), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_message_add_to(m, "c@d.example", NULL), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_message_set_text_mem(m, "x", 1), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_message_add_attachment(m, &s, "x", NULL), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_message_add_header(m, "X-A", "b"), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_message_set_date(m, 0, 0), SMTPKIT_ERR_STATE);
    CHECK_INT(smtpkit_message_set_options(m, 0), SMTPKIT_ERR_STATE);
    smtpkit_message_free(m);
    smtpkit_message_free(NULL);
    CHECK_INT(smtpkit_message_set_from(NULL, "a@b.c", NULL), SMTPKIT_ERR_INVALID_ARG);
    CHECK_INT(smtpkit_message_flags(NULL), 0);
}

/* ---- memory ---- */

/* Peak allocated bytes while building and reading a message whose
 * attachment has `size` bytes. */
static size_t peak_for(uint64_t size)
{
    test_alloc a = {0};
    smtpkit_mem mem = test_alloc_mem(&a);
    smtpkit_message *m = smtpkit_message_new(&mem);
    smtpkit_source s, out;
    tm_gen g;
    static char buf[65536];
    smtpkit_ssize n;
    uint64_t total = 0;
    tm_gen_source(&s, &g, size, 1);
    CHECK_INT(smtpkit_message_set_from(m, "a@b.example", NULL), 0);
    CHECK_INT(smtpkit_message_set_text_mem(m, "see attached\n", 13), 0);
    CHECK_INT(smtpkit_message_add_attachment(m, &s, "big.bin", NULL), 0);
    CHECK_INT(smtpkit_message_open(m, &out), 0);
    while ((n = out.read(out.ctx, buf, sizeof buf)) > 0)
        total += (uint64_t)n;
    CHECK_INT(n, 0);
    CHECK_INT(total, out.size);
    smtpkit_message_free(m);
    CHECK_INT(a.bytes_live, 0);
    return a.bytes_peak;
}

TEST(constant_memory)
{
    size_t small = peak_for(2048), big = peak_for(20u * 1024 * 1024);
    CHECK_INT(big, small);
    CHECK(small < 64 * 1024);
    printf("peak heap: %zu bytes for 2 KB and for 20 MB attachments\n", small);
}

/* Fail the n-th allocation for every n: each step reports NOMEM (or
 * succeeds), nothing leaks (the allocator counts; ASan checks). */
static int build_everything(smtpkit_mem *mem)
{
    smtpkit_message *m = smtpkit_message_new(mem);
    smtpkit_source s[2], out;
    tm_gen g[2];
    smtpkit_message_env env;
    static const unsigned char u[4] = {1, 2, 3, 4};
    char buf[4096];
    smtpkit_ssize n;
    int r;
    if (!m)
        return SMTPKIT_ERR_NOMEM;
    tm_gen_source(&s[0], &g[0], 500, 1);
    tm_gen_source(&s[1], &g[1], 300, 2);
#define STEP(x)                                                                           \
    do {                                                                                  \
        r = (x);                                                                          \
        if (r)                                                                            \
            goto done;                                                                    \
    } while (0)
    STEP(smtpkit_message_set_from(m, "a@b.example", "\xc3\x84nn"));
    STEP(smtpkit_message_add_to(m, "c@d.example", "C D"));
    STEP(smtpkit_message_add_cc(m, "e@f.example", NULL));
    STEP(smtpkit_message_add_bcc(m, "g@h.example"));
    STEP(smtpkit_message_set_subject(m, "Subject \xc3\xa9 with words"));
    STEP(smtpkit_message_set_unique(m, u, sizeof u));
    STEP(smtpkit_message_generate_message_id(m, "b.example"));
    STEP(smtpkit_message_add_reference(m, "x@y"));
    STEP(smtpkit_message_add_header(m, "X-A", "b"));
    STEP(smtpkit_message_set_text_mem(m, "text\n", 5));
    STEP(smtpkit_message_set_html_mem(m, "<p>html</p>", 11));
    STEP(smtpkit_message_add_inline(m, &s[0], "i@x", "i.png", NULL));
    STEP(smtpkit_message_add_attachment(m, &s[1], "r\xc3\xa9sum\xc3\xa9.pdf", NULL));
    STEP(smtpkit_message_envelope(m, &env));
    STEP(smtpkit_message_open(m, &out));
    while ((n = out.read(out.ctx, buf, sizeof buf)) > 0)
        ;
    r = (int)n;
done:
    smtpkit_message_free(m);
    return r;
}

TEST(allocation_failures)
{
    test_alloc a = {0};
    smtpkit_mem mem = test_alloc_mem(&a);
    long n, total;
    CHECK_INT(build_everything(&mem), 0);
    total = (long)a.allocs;
    CHECK(total > 10);
    for (n = 1; n <= total; n++) {
        test_alloc f = {0};
        smtpkit_mem fm = test_alloc_mem(&f);
        f.fail_at = n;
        CHECK_INT(build_everything(&fm), SMTPKIT_ERR_NOMEM);
        CHECK_INT(f.bytes_live, 0);
    }
}

int main(void)
{
    RUN(every_multipart_combination);
    RUN(text_transfer_encoding_choice);
    RUN(unrewindable_text_is_quoted_printable);
    RUN(base64_lines_are_76_and_decode_exactly);
    RUN(boundaries);
    RUN(exact_size_matches_output);
    RUN(unknown_size_and_lying_sources);
    RUN(wouldblock_sources_give_the_same_bytes);
    RUN(push_form);
    RUN(envelope);
    RUN(frozen_after_prepare);
    RUN(constant_memory);
    RUN(allocation_failures);
    return test_summary();
}
