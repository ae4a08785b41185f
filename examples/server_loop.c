/*
 * server_loop: embed a receiver with the library's own event loop,
 * smtpkit_loop (needs: posix).
 *
 *   usage: server_loop [--count N] [ADDR:PORT]
 *
 * Listens on ADDR:PORT (default 127.0.0.1:2525; port 0 picks a free one),
 * prints "listening on ADDR:PORT", and prints every message it receives
 * (with the Received: header the session adds) on standard output. Stops
 * after N connections with --count, or on SIGINT/SIGTERM (sessions in
 * flight get 421). The guide is docs/receiving.md; smtpkit-recv is the
 * full-size version of this program.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpkit/posix.h"

typedef struct session {
    smtpkit_loop_conn *conn;
    unsigned long bytes; /* of the message being received */
} session;

static smtpkit_loop *loop;
static long remaining = -1; /* connections still to serve; -1: no limit */
static smtpkit_server_config server_cfg;

static int on_trace(void *user, smtpkit_server_trace *t)
{
    session *s = user;
    return smtpkit_loop_conn_trace(s->conn, t); /* date, client address, unique id */
}

static int on_data(void *user, smtpkit_server_decision *d)
{
    session *s = user;
    (void)d;
    s->bytes = 0;
    printf("---- message ----\n");
    return 0;
}

static int on_body(void *user, const char *data, size_t len)
{
    session *s = user;
    s->bytes += (unsigned long)len;
    fwrite(data, 1, len, stdout);
    return 0;
}

static int on_data_end(void *user, const smtpkit_server_message *m, smtpkit_server_decision *d)
{
    session *s = user;
    (void)d;
    printf("---- end (%lu bytes, %u recipient(s)) ----\n", s->bytes, m->nrcpt);
    return fflush(stdout) == 0 ? 0 : -1; /* "stored": only now may the client hear 250 */
}

static const smtpkit_server_callbacks callbacks = {
    NULL, NULL, NULL, NULL, on_data, on_body, on_data_end, NULL, NULL, NULL, NULL, on_trace};

static smtpkit_server *on_accept(void *user, smtpkit_loop_conn *conn, unsigned listener)
{
    session *s = calloc(1, sizeof *s);
    smtpkit_server *srv;
    (void)user;
    (void)listener;
    if (!s)
        return NULL; /* refused: the connection is closed */
    s->conn = conn;
    srv = smtpkit_server_new(&server_cfg, &callbacks, s, NULL);
    if (!srv) {
        free(s);
        return NULL;
    }
    smtpkit_loop_conn_set_user(conn, s); /* handed back to on_close */
    return srv;                          /* the loop owns it now */
}

static void on_close(void *user, smtpkit_loop_conn *conn, void *session_user, int reason)
{
    (void)user;
    (void)conn;
    (void)reason;
    free(session_user);
    if (remaining > 0 && --remaining == 0)
        smtpkit_loop_stop(loop);
}

static void on_signal(int sig)
{
    (void)sig;
    smtpkit_loop_stop(loop); /* async-signal-safe */
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1:2525";
    smtpkit_loop_config lc;
    char bound[128];
    int fd, i, r;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            remaining = atol(argv[++i]);
        else if (argv[i][0] != '-')
            addr = argv[i];
        else {
            fprintf(stderr, "usage: server_loop [--count N] [ADDR:PORT]\n");
            return 2;
        }
    }

    smtpkit_server_config_init(&server_cfg);
    server_cfg.hostname = "server-loop.example";
    server_cfg.max_size = 25 * 1024 * 1024; /* announced with SIZE */

    smtpkit_loop_config_init(&lc);
    lc.hostname = server_cfg.hostname;
    lc.on_accept = on_accept; /* make a session for each connection */
    lc.on_close = on_close;   /* free your per-connection state */
    lc.max_sessions = 100;    /* beyond: 421 4.7.0 and close */
    loop = smtpkit_loop_new(&lc, NULL);
    fd = smtpkit_posix_listen(addr, 128, bound, sizeof bound);
    if (!loop || fd < 0 || smtpkit_loop_add_listener(loop, fd) < 0) {
        fprintf(stderr, "server_loop: cannot listen on %s\n", addr);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("listening on %s\n", bound);
    fflush(stdout);

    r = smtpkit_loop_run(loop); /* until smtpkit_loop_stop() */
    smtpkit_loop_free(loop);
    return r == 0 ? 0 : 1;
}
