/*
 * compose_send: compose a MIME message with the builder and send it with
 * smtpkit_send() (needs: posix).
 *
 *   usage: compose_send (HOST[:PORT] | --print) FROM TO [ATTACHMENT]
 *
 * Builds a message with a non-ASCII subject, a text and an HTML body, a
 * Bcc recipient and an optional file attachment, read as the message goes
 * out (a file of any size costs no memory). --print writes the message to
 * standard output instead of sending it. The guides are docs/composing.md
 * and docs/sending.md. Exit status: 0 sent (or printed), 1 failed, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/posix_client.h"
#include "smtpkit/posix_file.h"
#include "smtpkit/smtpkit.h"

#define MAX_RCPTS 16

static const char html[] = "<p>See the <b>attached</b> report.</p>\n";

static int print_chunk(void *user, const char *data, size_t len)
{
    (void)user;
    return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

static int fail(const char *what, int err)
{
    fprintf(stderr, "compose_send: %s: %s\n", what, smtpkit_strerror(err));
    return 1;
}

int main(int argc, char **argv)
{
    smtpkit_message *m;
    smtpkit_file_source pdf_state;
    smtpkit_source pdf, out;
    unsigned char uniq[16];
    int64_t now;
    int zone, r, print, have_file = 0;
    smtpkit_message_env me;
    smtpkit_rcpt rcpts[MAX_RCPTS];
    smtpkit_envelope env = {0};
    size_t i;

    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: compose_send (HOST[:PORT] | --print) FROM TO [ATTACHMENT]\n");
        return 2;
    }
    print = strcmp(argv[1], "--print") == 0;

    /* The core has no clock and no randomness: the POSIX adapter gives both. */
    m = smtpkit_message_new(NULL);
    if (!m)
        return fail("new", SMTPKIT_ERR_NOMEM);
    smtpkit_posix_now(&now, &zone);
    smtpkit_posix_unique(uniq, sizeof uniq);

    /* Every setter validates: CR, LF or NUL anywhere is SMTPKIT_ERR_INJECTION. */
    if ((r = smtpkit_message_set_from(m, argv[2], "Ann Example")) != 0 ||
        (r = smtpkit_message_add_to(m, argv[3], NULL)) != 0)
        return fail("address", r);
    smtpkit_message_add_bcc(m, "archive@example.org");      /* envelope only */
    smtpkit_message_set_subject(m, "Rapport trimestriel — Q3"); /* RFC 2047 encoded */
    smtpkit_message_set_date(m, now, zone);
    smtpkit_message_set_unique(m, uniq, sizeof uniq);
    smtpkit_message_generate_message_id(m, "example.org");
    smtpkit_message_set_text_mem(m, "See the attached report.\n", 25);
    smtpkit_message_set_html_mem(m, html, sizeof html - 1);
    if (argc == 5) {
        const char *base = strrchr(argv[4], '/') ? strrchr(argv[4], '/') + 1 : argv[4];
        if ((r = smtpkit_file_source_open(&pdf, &pdf_state, argv[4])) != 0)
            return fail(argv[4], r);
        have_file = 1;
        r = smtpkit_message_add_attachment(m, &pdf, base, NULL); /* type guessed */
        if (r != 0)
            return fail("attachment", r);
    }

    if (print) {
        r = smtpkit_message_write(m, print_chunk, NULL); /* or read smtpkit_message_open()'s source */
    } else {
        smtpkit_send_options opt;
        smtpkit_send_result res;
        char host[256], *colon;

        /* The envelope comes from the message: To + Cc + Bcc, each once. */
        smtpkit_message_envelope(m, &me);
        if (me.recipient_count > MAX_RCPTS)
            return fail("envelope", SMTPKIT_ERR_INVALID_ARG);
        memset(rcpts, 0, sizeof rcpts);
        for (i = 0; i < me.recipient_count; i++)
            rcpts[i].mailbox = me.recipients[i];
        env.from = me.reverse_path; /* Sender if set, else From */
        env.rcpts = rcpts;
        env.nrcpts = me.recipient_count;
        env.flags = (smtpkit_message_flags(m) & SMTPKIT_MESSAGE_8BITMIME ? SMTPKIT_ENV_8BIT : 0) |
                    (me.flags & SMTPKIT_MESSAGE_SMTPUTF8 ? SMTPKIT_ENV_SMTPUTF8 : 0);
        smtpkit_message_open(m, &out); /* out.size is exact: SIZE= is announced */

        memset(&opt, 0, sizeof opt);
        snprintf(host, sizeof host, "%s", argv[1]);
        colon = strrchr(host, ':');
        if (colon && strchr(host, ':') == colon) {
            *colon = '\0';
            opt.port = (uint16_t)strtoul(colon + 1, NULL, 10);
        }
        opt.host = host;
        memset(&res, 0, sizeof res);
        r = smtpkit_send(&opt, &env, &out, &res);
        printf("message (%lld bytes) to %zu recipient(s): %s; %d %s %s\n",
               (long long)out.size, me.recipient_count, smtpkit_strerror(r), res.reply.code,
               res.reply.esc, res.reply.text);
    }

    smtpkit_message_free(m);
    if (have_file)
        smtpkit_file_source_close(&pdf_state);
    return r == 0 ? 0 : 1;
}
