/* msg_build: build a message from arguments through the smtpkit message
 * API and write it to stdout. Used by tests/interop/test_message_email.py.
 *
 *   --from ADDR NAME      --sender ADDR NAME    --to ADDR NAME
 *   --cc ADDR NAME        --bcc ADDR            --reply-to ADDR NAME
 *   --subject TEXT        --date SECONDS ZONE_MINUTES
 *   --unique HEX          --msgid-domain DOMAIN --message-id ID
 *   --in-reply-to ID      --reference ID        --header NAME VALUE
 *   --text TEXT | --text-file PATH | --text-pipe PATH (no rewind)
 *   --html TEXT | --html-file PATH
 *   --attach PATH NAME TYPE     --inline PATH CID NAME TYPE
 *   --allow-8bit  --chunk N (read size)  --push (use smtpkit_message_write)
 *   --info (size, flags and envelope on stderr)
 * An empty NAME or TYPE means none / guessed. Exit 0 on success, 2 on
 * usage errors, 3 when the API refused something (the error on stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpkit/message.h"
#include "smtpkit/posix_file.h"

#define MAX_FILES 64

static smtpkit_file_source files[MAX_FILES];
static smtpkit_source srcs[MAX_FILES];
static int nfiles;

static int fail(const char *what, int r)
{
    fprintf(stderr, "error: %s: %s (%d)\n", what, smtpkit_strerror(r), r);
    return 3;
}

static const char *opt(const char *s) { return s && *s ? s : NULL; }

static smtpkit_source *open_file(const char *path, int no_rewind)
{
    if (nfiles == MAX_FILES) {
        fprintf(stderr, "too many files\n");
        exit(2);
    }
    if (smtpkit_file_source_open(&srcs[nfiles], &files[nfiles], path) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(2);
    }
    if (no_rewind) {
        srcs[nfiles].rewind = NULL;
        srcs[nfiles].size = -1;
    }
    return &srcs[nfiles++];
}

static int unhex(const char *h, unsigned char *out, size_t cap)
{
    size_t n = 0;
    while (h[0] && h[1] && n < cap) {
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1)
            return -1;
        out[n++] = (unsigned char)v;
        h += 2;
    }
    return (int)n;
}

static int sink(void *user, const char *data, size_t len)
{
    (void)user;
    return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

int main(int argc, char **argv)
{
    smtpkit_message *m = smtpkit_message_new(NULL);
    size_t chunk = 65536;
    int push = 0, info = 0, i, r = 0;
    char *buf;

    if (!m)
        return 3;
#define NEED(k)                                                                           \
    do {                                                                                  \
        if (i + (k) >= argc) {                                                            \
            fprintf(stderr, "%s needs %d argument(s)\n", a, k);                           \
            return 2;                                                                     \
        }                                                                                 \
    } while (0)
#define CALL(what, expr)                                                                  \
    do {                                                                                  \
        if ((r = (expr)) != 0)                                                            \
            return fail(what, r);                                                         \
    } while (0)
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--from")) {
            NEED(2);
            CALL(a, smtpkit_message_set_from(m, argv[i + 1], opt(argv[i + 2])));
            i += 2;
        } else if (!strcmp(a, "--sender")) {
            NEED(2);
            CALL(a, smtpkit_message_set_sender(m, argv[i + 1], opt(argv[i + 2])));
            i += 2;
        } else if (!strcmp(a, "--to")) {
            NEED(2);
            CALL(a, smtpkit_message_add_to(m, argv[i + 1], opt(argv[i + 2])));
            i += 2;
        } else if (!strcmp(a, "--cc")) {
            NEED(2);
            CALL(a, smtpkit_message_add_cc(m, argv[i + 1], opt(argv[i + 2])));
            i += 2;
        } else if (!strcmp(a, "--reply-to")) {
            NEED(2);
            CALL(a, smtpkit_message_add_reply_to(m, argv[i + 1], opt(argv[i + 2])));
            i += 2;
        } else if (!strcmp(a, "--bcc")) {
            NEED(1);
            CALL(a, smtpkit_message_add_bcc(m, argv[++i]));
        } else if (!strcmp(a, "--subject")) {
            NEED(1);
            CALL(a, smtpkit_message_set_subject(m, argv[++i]));
        } else if (!strcmp(a, "--date")) {
            NEED(2);
            CALL(a, smtpkit_message_set_date(m, strtoll(argv[i + 1], NULL, 10),
                                             atoi(argv[i + 2])));
            i += 2;
        } else if (!strcmp(a, "--unique")) {
            unsigned char u[64];
            int n;
            NEED(1);
            n = unhex(argv[++i], u, sizeof u);
            if (n <= 0)
                return 2;
            CALL(a, smtpkit_message_set_unique(m, u, (size_t)n));
        } else if (!strcmp(a, "--msgid-domain")) {
            NEED(1);
            CALL(a, smtpkit_message_generate_message_id(m, argv[++i]));
        } else if (!strcmp(a, "--message-id")) {
            NEED(1);
            CALL(a, smtpkit_message_set_message_id(m, argv[++i]));
        } else if (!strcmp(a, "--in-reply-to")) {
            NEED(1);
            CALL(a, smtpkit_message_set_in_reply_to(m, argv[++i]));
        } else if (!strcmp(a, "--reference")) {
            NEED(1);
            CALL(a, smtpkit_message_add_reference(m, argv[++i]));
        } else if (!strcmp(a, "--header")) {
            NEED(2);
            CALL(a, smtpkit_message_add_header(m, argv[i + 1], argv[i + 2]));
            i += 2;
        } else if (!strcmp(a, "--text")) {
            NEED(1);
            i++;
            CALL(a, smtpkit_message_set_text_mem(m, argv[i], strlen(argv[i])));
        } else if (!strcmp(a, "--text-file") || !strcmp(a, "--text-pipe")) {
            NEED(1);
            CALL(a, smtpkit_message_set_text(m, open_file(argv[i + 1], a[7] == 'p')));
            i++;
        } else if (!strcmp(a, "--html")) {
            NEED(1);
            i++;
            CALL(a, smtpkit_message_set_html_mem(m, argv[i], strlen(argv[i])));
        } else if (!strcmp(a, "--html-file")) {
            NEED(1);
            CALL(a, smtpkit_message_set_html(m, open_file(argv[++i], 0)));
        } else if (!strcmp(a, "--attach")) {
            NEED(3);
            CALL(a, smtpkit_message_add_attachment(m, open_file(argv[i + 1], 0),
                                                   opt(argv[i + 2]), opt(argv[i + 3])));
            i += 3;
        } else if (!strcmp(a, "--inline")) {
            NEED(4);
            CALL(a, smtpkit_message_add_inline(m, open_file(argv[i + 1], 0), argv[i + 2],
                                               opt(argv[i + 3]), opt(argv[i + 4])));
            i += 4;
        } else if (!strcmp(a, "--allow-8bit")) {
            CALL(a, smtpkit_message_set_options(m, SMTPKIT_MESSAGE_ALLOW_8BIT));
        } else if (!strcmp(a, "--chunk")) {
            NEED(1);
            chunk = (size_t)strtoul(argv[++i], NULL, 10);
            if (!chunk)
                return 2;
        } else if (!strcmp(a, "--push")) {
            push = 1;
        } else if (!strcmp(a, "--info")) {
            info = 1;
        } else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
    }
    if (info) {
        smtpkit_message_env env;
        int64_t size;
        size_t k;
        CALL("size", smtpkit_message_size(m, &size));
        CALL("envelope", smtpkit_message_envelope(m, &env));
        fprintf(stderr, "size %lld\nflags %u\nmail %s\n", (long long)size,
                smtpkit_message_flags(m), env.reverse_path);
        for (k = 0; k < env.recipient_count; k++)
            fprintf(stderr, "rcpt %s\n", env.recipients[k]);
    }
    if (push) {
        CALL("write", smtpkit_message_write(m, sink, NULL));
    } else {
        smtpkit_source src;
        CALL("open", smtpkit_message_open(m, &src));
        buf = (char *)malloc(chunk);
        if (!buf)
            return 3;
        for (;;) {
            smtpkit_ssize n = src.read(src.ctx, buf, chunk);
            if (n == 0)
                break;
            if (n < 0)
                return fail("read", (int)n);
            if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
                return 3;
        }
        free(buf);
    }
    if (fflush(stdout) != 0)
        return 3;
    smtpkit_message_free(m);
    for (i = 0; i < nfiles; i++)
        smtpkit_file_source_close(&files[i]);
    return 0;
}
