/* send_api: smtpkit_send() from a program, for the interop tests.
 *   send_api [-f FILE] [--lmtp] [--bdat] HOST PORT FROM TO [TO...]  (message on stdin without -f)
 * Prints "rcpt <addr> CODE ESC TEXT" per recipient and
 * "result ERR STATUS STAGE CODE ESC TEXT"; exits 0 when accepted for every
 * recipient, 2 when refused (partly or wholly), 3 on any other error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/posix_client.h"
#include "smtpkit/posix_file.h"
#include "smtpkit/smtpkit.h"

int main(int argc, char **argv)
{
    smtpkit_send_options opt;
    smtpkit_send_result res;
    smtpkit_envelope env;
    smtpkit_rcpt rcpts[16];
    smtpkit_send_reply replies[16];
    smtpkit_source src;
    smtpkit_file_source fs;
    const char *file = NULL;
    int i = 1, r, n;

    memset(&opt, 0, sizeof opt);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-f") && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "--lmtp"))
            opt.flags |= SMTPKIT_CLIENT_LMTP;
        else if (!strcmp(argv[i], "--bdat"))
            opt.flags |= SMTPKIT_CLIENT_BDAT;
        else
            break;
    }
    if (argc - i < 4 || argc - i - 3 > 16) {
        fprintf(stderr, "usage: send_api [-f FILE] [--lmtp] [--bdat] HOST PORT FROM TO...\n");
        return 3;
    }
    r = file ? smtpkit_file_source_open(&src, &fs, file) : smtpkit_file_source_from_fd(&src, &fs, 0);
    if (r) {
        fprintf(stderr, "send_api: cannot read the message\n");
        return 3;
    }
    opt.version = SMTPKIT_SEND_VERSION;
    opt.host = argv[i];
    opt.port = (uint16_t)atoi(argv[i + 1]);
    opt.helo_name = "send-api.example";
    opt.timeout_ms = 30000;
    memset(&env, 0, sizeof env);
    memset(rcpts, 0, sizeof rcpts);
    env.from = argv[i + 2];
    n = argc - i - 3;
    for (r = 0; r < n; r++)
        rcpts[r].mailbox = argv[i + 3 + r];
    env.rcpts = rcpts;
    env.nrcpts = (size_t)n;
    memset(&res, 0, sizeof res);
    res.rcpts = replies;
    r = smtpkit_send(&opt, &env, &src, &res);
    for (i = 0; i < n; i++)
        printf("rcpt <%s> %d %s %s\n", rcpts[i].mailbox, replies[i].code, replies[i].esc,
               replies[i].text);
    printf("result %d %d %s %d %s %s\n", r, (int)res.status, smtpkit_client_cmd_name(res.stage),
           res.reply.code, res.reply.esc, res.reply.text);
    if (res.errmsg[0])
        fprintf(stderr, "send_api: %s\n", res.errmsg);
    smtpkit_file_source_close(&fs);
    return r == 0 ? 0 : r == SMTPKIT_ERR_REJECTED ? 2 : 3;
}
