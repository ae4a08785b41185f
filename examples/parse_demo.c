/*
 * parse_demo: runs smtpkit's push parsers over a recorded SMTP conversation
 * and prints what they parsed. Client lines go through the command parser,
 * server lines through the reply parser (with the EHLO capability set), and
 * the message through the DATA decoder. Input is fed in small pieces, as it
 * would arrive from a socket.
 *
 *   usage: parse_demo [TRANSCRIPT]
 *
 * A transcript has lines "C: ..." (client) and "S: ..." (server); without an
 * argument a built-in conversation is used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/smtpkit.h"

static const char builtin[] =
    "S: 220 mx.example.org ESMTP ready\r\n"
    "C: EHLO client.example.com\r\n"
    "S: 250-mx.example.org greets client.example.com\r\n"
    "S: 250-PIPELINING\r\n"
    "S: 250-SIZE 10240000\r\n"
    "S: 250-8BITMIME\r\n"
    "S: 250-SMTPUTF8\r\n"
    "S: 250-AUTH PLAIN LOGIN CRAM-MD5\r\n"
    "S: 250-ENHANCEDSTATUSCODES\r\n"
    "S: 250-CHUNKING\r\n"
    "S: 250 STARTTLS\r\n"
    "C: MAIL FROM:<alice@example.com> SIZE=312 BODY=8BITMIME\r\n"
    "C: RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE\r\n"
    "C: RCPT TO:<\"carol smith\"@[IPv6:2001:db8::1]>\r\n"
    "C: RCPT TO:<nobody@example.org>\r\n"
    "C: DATA\r\n"
    "S: 250 2.1.0 Sender ok\r\n"
    "S: 250 2.1.5 Recipient ok\r\n"
    "S: 250 2.1.5 Recipient ok\r\n"
    "S: 550 5.1.1 <nobody@example.org>: Recipient address rejected\r\n"
    "S: 354 End data with <CR><LF>.<CR><LF>\r\n"
    "C: From: Alice <alice@example.com>\r\n"
    "C: To: Bob <bob@example.org>\r\n"
    "C: Subject: parse demo\r\n"
    "C: \r\n"
    "C: Hello Bob,\r\n"
    "C: ..a line that starts with a dot\r\n"
    "C: .\r\n"
    "S: 250 2.0.0 Ok: queued as 4FQ2Xs1Kz\r\n"
    "C: BOGUS command\r\n"
    "S: 500 5.5.1 Command unrecognized\r\n"
    "C: QUIT\r\n"
    "S: 221 2.0.0 Bye\r\n";

struct demo {
    smtpkit_command_parser cmd;
    smtpkit_reply_parser reply;
    smtpkit_data_decoder data;
    smtpkit_caps caps;
    int in_data;      /* the client side is sending the message */
    int ehlo_reply;   /* the next server reply answers EHLO */
    unsigned ehlo_line;
    size_t body_bytes;
};

static int on_command(void *user, const smtpkit_command *cmd, smtpkit_view line)
{
    struct demo *d = (struct demo *)user;
    unsigned i;
    (void)line;
    printf("command %-8s", smtpkit_verb_name(cmd->verb));
    if (cmd->verb == SMTPKIT_VERB_MAIL || cmd->verb == SMTPKIT_VERB_RCPT) {
        printf(" path=<%.*s>", (int)cmd->path.mailbox.len, cmd->path.mailbox.ptr);
        printf(" local=%.*s domain=%.*s", (int)cmd->path.local.len, cmd->path.local.ptr,
               (int)cmd->path.domain.len, cmd->path.domain.ptr);
        for (i = 0; i < cmd->nparams; i++)
            printf(" param %.*s=%.*s", (int)cmd->params[i].key.len, cmd->params[i].key.ptr,
                   (int)cmd->params[i].value.len, cmd->params[i].value.ptr);
    } else if (cmd->arg.len) {
        printf(" arg=%.*s", (int)cmd->arg.len, cmd->arg.ptr);
    }
    printf("\n");
    if (cmd->verb == SMTPKIT_VERB_EHLO)
        d->ehlo_reply = 1;
    if (cmd->verb == SMTPKIT_VERB_DATA) {
        d->in_data = 1;
        return SMTPKIT_PAUSE; /* the following bytes belong to the DATA decoder */
    }
    return 0;
}

static int on_command_error(void *user, int err, smtpkit_view line)
{
    int code = 0;
    const char *esc = "", *text = "";
    (void)user;
    smtpkit_command_error_reply(err, &code, &esc, &text);
    printf("command error: \"%.*s\" -> %s (a server answers %d %s %s)\n", (int)line.len,
           line.ptr, smtpkit_strerror(err), code, esc ? esc : "", text);
    return 0;
}

static int on_reply_line(void *user, const smtpkit_reply_line *l)
{
    struct demo *d = (struct demo *)user;
    printf("reply   %d%c esc=%-6.*s text=%.*s\n", l->code, l->last ? ' ' : '-', (int)l->esc.len,
           l->esc.ptr, (int)l->text.len, l->text.ptr);
    if (d->ehlo_reply && l->code == 250)
        smtpkit_caps_add_line(&d->caps, d->ehlo_line++, l);
    return 0;
}

static int on_reply(void *user, const smtpkit_reply *r)
{
    struct demo *d = (struct demo *)user;
    if (d->ehlo_reply) {
        d->ehlo_reply = 0;
        printf("caps    PIPELINING=%d SIZE=%llu 8BITMIME=%d SMTPUTF8=%d STARTTLS=%d AUTH=%.*s\n",
               !!(d->caps.flags & SMTPKIT_CAP_PIPELINING), (unsigned long long)d->caps.size_max,
               !!(d->caps.flags & SMTPKIT_CAP_8BITMIME), !!(d->caps.flags & SMTPKIT_CAP_SMTPUTF8),
               !!(d->caps.flags & SMTPKIT_CAP_STARTTLS), (int)d->caps.auth_list.len,
               d->caps.auth_list.ptr);
    }
    (void)r;
    return 0;
}

static int on_body(void *user, const char *p, size_t n)
{
    struct demo *d = (struct demo *)user;
    d->body_bytes += n;
    fwrite(p, 1, n, stdout);
    return 0;
}

/* Feed one direction's bytes in pieces of `step`, switching to the DATA decoder
 * when DATA was parsed, as a server would. */
static int feed_client(struct demo *d, const char *p, size_t n, size_t step)
{
    while (n > 0) {
        size_t chunk = n < step ? n : step;
        smtpkit_ssize r;
        if (d->in_data) {
            r = smtpkit_data_decoder_feed(&d->data, p, chunk);
            if (r >= 0 && smtpkit_data_decoder_done(&d->data)) {
                printf("data    end of message: %zu bytes, flags 0x%x\n", d->body_bytes,
                       smtpkit_data_decoder_flags(&d->data));
                d->in_data = 0;
                smtpkit_command_parser_resume(&d->cmd);
            }
        } else {
            r = smtpkit_command_parser_feed(&d->cmd, p, chunk);
            if (r >= 0 && d->in_data) {
                printf("data    start of message\n");
                smtpkit_data_decoder_init(&d->data, 0, on_body, d);
                d->body_bytes = 0;
            }
        }
        if (r < 0) {
            fprintf(stderr, "parse error: %s\n", smtpkit_strerror((int)r));
            return 1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const smtpkit_command_callbacks ccb = {on_command, on_command_error};
    static const smtpkit_reply_callbacks rcb = {on_reply_line, on_reply};
    static struct demo d;
    char *text = NULL;
    const char *p, *end;
    size_t len;

    if (argc > 1) {
        FILE *f = fopen(argv[1], "rb");
        long n;
        if (!f) {
            perror(argv[1]);
            return 1;
        }
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        text = malloc((size_t)n + 1);
        if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
            fclose(f);
            return 1;
        }
        fclose(f);
        len = (size_t)n;
    } else {
        len = sizeof builtin - 1;
    }
    p = text ? text : builtin;
    end = p + len;

    smtpkit_command_parser_init(&d.cmd, &ccb, &d);
    smtpkit_reply_parser_init(&d.reply, &rcb, &d);
    smtpkit_caps_init(&d.caps);
    printf("smtpkit %s parse demo\n", smtpkit_version());

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        if (next - p > 3 && (p[0] == 'C' || p[0] == 'S') && p[1] == ':' && p[2] == ' ') {
            /* the line's bytes after "X: ", CRLF included, fed 7 bytes at a time */
            if (p[0] == 'C') {
                if (feed_client(&d, p + 3, (size_t)(next - p - 3), 7))
                    return 1;
            } else {
                smtpkit_ssize r = smtpkit_reply_parser_feed(&d.reply, p + 3, (size_t)(next - p - 3));
                if (r < 0) {
                    fprintf(stderr, "reply parse error: %s\n", smtpkit_strerror((int)r));
                    return 1;
                }
            }
        }
        p = next;
    }
    free(text);
    return 0;
}
