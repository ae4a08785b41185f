/*
 * send_one: send one message with one call, smtpkit_send() (needs: posix).
 *
 *   usage: send_one HOST[:PORT] FROM TO [--starttls]
 *
 * smtpkit_send() connects (every address of HOST, IPv6 and IPv4), says
 * EHLO, starts TLS when asked (needs the mbedTLS adapter), sends the
 * message and QUIT, and reports the outcome with the server's replies.
 * Exit status: 0 accepted, 1 refused or failed, 2 usage.
 * The guide is docs/sending.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/posix_client.h"

static const char message[] = "From: <ann@example.org>\r\n"
                              "To: <bob@example.net>\r\n"
                              "Subject: sent with smtpkit_send()\r\n"
                              "\r\n"
                              "One call: connect, EHLO, MAIL, RCPT, DATA, QUIT.\r\n";

int main(int argc, char **argv)
{
    smtpkit_send_options opt;
    smtpkit_send_result res;
    smtpkit_send_reply rcpt_reply[1];
    smtpkit_rcpt rcpt;
    smtpkit_envelope env;
    smtpkit_mem_source ms;
    smtpkit_source body;
    char host[256];
    char *colon;
    int r;

    if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "--starttls") != 0)) {
        fprintf(stderr, "usage: send_one HOST[:PORT] FROM TO [--starttls]\n");
        return 2;
    }

    /* The library linked must be at least as new as the headers (docs/versioning.md). */
    if (smtpkit_version_number() < SMTPKIT_VERSION_NUMBER) {
        fprintf(stderr, "libsmtpkit %s is older than its headers (%s)\n", smtpkit_version(),
                SMTPKIT_VERSION_STRING);
        return 1;
    }

    memset(&opt, 0, sizeof opt);
    snprintf(host, sizeof host, "%s", argv[1]);
    /* "name:port", "[v6]:port"; a bare IPv6 address has no port */
    colon = host[0] == '[' ? strstr(host, "]:") : strchr(host, ':');
    if (colon && host[0] == '[')
        colon++;
    else if (colon && strchr(colon + 1, ':'))
        colon = NULL;
    if (colon) {
        *colon = '\0';
        opt.port = (uint16_t)atoi(colon + 1); /* 0: 25 */
    }
    opt.host = host;
    opt.tls = argc == 5 ? SMTPKIT_CLIENT_TLS_STARTTLS : SMTPKIT_CLIENT_TLS_NONE;
    opt.timeout_ms = 30000;

    /* The envelope is checked before connecting: an address with CR/LF or
     * one that is not an RFC 5321 mailbox never reaches the wire. */
    memset(&rcpt, 0, sizeof rcpt);
    rcpt.mailbox = argv[3];
    memset(&env, 0, sizeof env);
    env.from = argv[2];
    env.rcpts = &rcpt;
    env.nrcpts = 1;

    /* Any smtpkit_source works: memory, a file (posix_file.h), or the
     * message builder (message.h), read as the message goes out. */
    smtpkit_source_from_memory(&body, &ms, message, sizeof message - 1);

    memset(&res, 0, sizeof res);
    memset(rcpt_reply, 0, sizeof rcpt_reply);
    res.rcpts = rcpt_reply; /* one entry per recipient */
    r = smtpkit_send(&opt, &env, &body, &res);

    if (rcpt_reply[0].code) /* 0: never sent (refused before connecting, or no connection) */
        printf("<%s>: %d %s %s\n", argv[3], rcpt_reply[0].code, rcpt_reply[0].esc,
               rcpt_reply[0].text);
    if (r == 0) {
        printf("message: %d %s %s\n", res.reply.code, res.reply.esc, res.reply.text);
        return 0;
    }
    fprintf(stderr, "send_one: %s%s%s%s\n", smtpkit_strerror(r), res.errmsg[0] ? " (" : "",
            res.errmsg, res.errmsg[0] ? ")" : "");
    if (res.reply.code)
        fprintf(stderr, "send_one: server said %d %s %s (at %s)\n", res.reply.code,
                res.reply.esc, res.reply.text, smtpkit_client_cmd_name(res.stage));
    return 1;
}
