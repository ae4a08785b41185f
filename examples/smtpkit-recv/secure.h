/* smtpkit-recv: TLS (STARTTLS or implicit, with the mbedTLS adapter) and
 * AUTH (the SASL provider, users from a file). */
#ifndef SMTPKIT_RECV_SECURE_H
#define SMTPKIT_RECV_SECURE_H

#include "smtpkit/posix.h"
#include "smtpkit/sasl_provider.h"
#include "smtpkit/server.h"

typedef struct secure_user {
    char *name, *password;
} secure_user;

/* Settings and shared state of the whole server. */
typedef struct secure_app {
    const char *cert, *key, *auth_file;
    int implicit_tls, require_tls, require_auth;
    void *tls;              /* smtpkit_tls_context *, when TLS is configured */
    secure_user *users;
    size_t nusers;
    int urandom;            /* fd of /dev/urandom for CRAM-MD5 challenges */
    const char *hostname;
    int quiet;
} secure_app;

/* Per connection. */
typedef struct secure_sess {
    secure_app *app;
    smtpkit_sasl_provider auth;
    int has_auth;
    void *tls;              /* smtpkit_tls_conn *, once TLS is started */
    smtpkit_posix_socket sock;
} secure_sess;

/* Parse one of our options at argv[*i]: 1 when taken, 0 when not ours,
 * -1 on a usage error (message printed). */
int secure_option(secure_app *a, int argc, char **argv, int *i);

/* The usage lines for our options. */
const char *secure_usage(void);

/* After the options: load the certificate, key and users, and set the
 * session flags. Returns 0, or -1 with a message in err (usage problem) or
 * -2 (a file could not be used). */
int secure_setup(secure_app *a, smtpkit_server_config *cfg, const char *hostname, char *err,
                 size_t errlen);

/* A new connection's session: plug in AUTH; with implicit TLS, do the
 * handshake now. Returns 0, or -1 to refuse the connection. */
int secure_session_open(secure_app *a, secure_sess *ss, smtpkit_loop_conn *conn,
                        smtpkit_server *s);

/* The session asked for STARTTLS (smtpkit_loop_config::on_starttls). */
int secure_starttls(secure_sess *ss, smtpkit_loop_conn *conn);

/* The connection is gone: free TLS, wipe credentials. */
void secure_session_close(secure_sess *ss);

/* " tls=TLSv1.3 auth=tim" (or "") for the log line; static buffer. */
const char *secure_describe(const secure_sess *ss);

void secure_cleanup(secure_app *a);

#endif
