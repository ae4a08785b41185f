/* smtpkit-recv: TLS and AUTH. See secure.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "secure.h"
#ifdef SMTPKIT_HAVE_MBEDTLS
#include "smtpkit/tls.h"
#endif

static const char *value(int argc, char **argv, int *i, const char *name, int *bad)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "smtpkit-recv: %s needs a value\n", name);
        *bad = 1;
        return NULL;
    }
    return argv[++*i];
}

int secure_option(secure_app *a, int argc, char **argv, int *i)
{
    const char *v;
    int bad = 0;
    if ((v = value(argc, argv, i, "--tls-cert", &bad)) != NULL)
        a->cert = v;
    else if ((v = value(argc, argv, i, "--tls-key", &bad)) != NULL)
        a->key = v;
    else if ((v = value(argc, argv, i, "--auth-file", &bad)) != NULL)
        a->auth_file = v;
    else if (!bad && !strcmp(argv[*i], "--implicit-tls"))
        a->implicit_tls = 1;
    else if (!bad && !strcmp(argv[*i], "--require-tls"))
        a->require_tls = 1;
    else if (!bad && !strcmp(argv[*i], "--require-auth"))
        a->require_auth = 1;
    else
        return bad ? -1 : 0;
    return 1;
}

const char *secure_usage(void)
{
    return "  --tls-cert FILE      PEM certificate chain: offer STARTTLS (RFC 3207)\n"
           "  --tls-key FILE       its PEM private key\n"
           "  --implicit-tls       TLS from the first byte instead (RFC 8314, port 465)\n"
           "  --require-tls        refuse MAIL (and AUTH) before STARTTLS: 530 5.7.0\n"
           "  --auth-file FILE     offer AUTH PLAIN, LOGIN and CRAM-MD5 (after TLS) to the\n"
           "                       users in FILE, one \"user:password\" per line\n"
           "  --require-auth       refuse MAIL before AUTH: 530 5.7.0\n";
}

/* ---- users ---- */

static int load_users(secure_app *a, char *err, size_t errlen)
{
    FILE *f = fopen(a->auth_file, "r");
    char line[1024];
    unsigned lineno = 0;
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", a->auth_file, strerror(errno));
        return -2;
    }
    while (fgets(line, sizeof line, f)) {
        char *colon, *end = line + strcspn(line, "\r\n");
        secure_user *u;
        lineno++;
        *end = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        colon = strchr(line, ':');
        if (!colon || colon == line) {
            snprintf(err, errlen, "%s:%u: expected user:password", a->auth_file, lineno);
            fclose(f);
            return -2;
        }
        *colon = '\0';
        u = (secure_user *)realloc(a->users, (a->nusers + 1) * sizeof *u);
        if (!u) {
            fclose(f);
            snprintf(err, errlen, "out of memory");
            return -2;
        }
        a->users = u;
        u[a->nusers].name = strdup(line);
        u[a->nusers].password = strdup(colon + 1);
        if (!u[a->nusers].name || !u[a->nusers].password) {
            fclose(f);
            snprintf(err, errlen, "out of memory");
            return -2;
        }
        a->nusers++;
    }
    fclose(f);
    memset(line, 0, sizeof line);
    return 0;
}

static int verify(void *user, smtpkit_sasl_provider *p, const smtpkit_sasl_server_creds *cr,
                  smtpkit_sasl_verdict *v)
{
    secure_app *a = (secure_app *)user;
    size_t i;
    *v = SMTPKIT_SASL_REJECT;
    /* acting as someone else (PLAIN authzid) is not allowed here */
    if (cr->authzid.len &&
        (cr->authzid.len != cr->user.len || memcmp(cr->authzid.ptr, cr->user.ptr, cr->user.len)))
        return 0;
    for (i = 0; i < a->nusers; i++) {
        const secure_user *u = &a->users[i];
        if (strlen(u->name) == cr->user.len && !memcmp(u->name, cr->user.ptr, cr->user.len)) {
            if (smtpkit_sasl_provider_check_password(p, u->password, strlen(u->password)) == 0)
                *v = SMTPKIT_SASL_ACCEPT;
            break;
        }
    }
    if (!a->quiet && *v != SMTPKIT_SASL_ACCEPT)
        fprintf(stderr, "smtpkit-recv: authentication failed for %.*s\n", (int)cr->user.len,
                cr->user.ptr);
    return 0;
}

static int random_bytes(void *user, void *buf, size_t len)
{
    secure_app *a = (secure_app *)user;
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(a->urandom, (char *)buf + got, len - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

int secure_setup(secure_app *a, smtpkit_server_config *cfg, const char *hostname, char *err,
                 size_t errlen)
{
    a->hostname = hostname;
    a->urandom = -1;
    if (!a->cert != !a->key) {
        snprintf(err, errlen, "--tls-cert and --tls-key go together");
        return -1;
    }
    if ((a->implicit_tls || a->require_tls) && !a->cert) {
        snprintf(err, errlen, "--implicit-tls and --require-tls need --tls-cert and --tls-key");
        return -1;
    }
    if (a->require_auth && !a->auth_file) {
        snprintf(err, errlen, "--require-auth needs --auth-file");
        return -1;
    }
    if (a->cert) {
#ifdef SMTPKIT_HAVE_MBEDTLS
        smtpkit_tls_config tc;
        smtpkit_tls_context *ctx;
        smtpkit_tls_config_init(&tc);
        tc.cert_file = a->cert;
        tc.key_file = a->key;
        if (smtpkit_tls_context_new(&ctx, SMTPKIT_TLS_SERVER, &tc, NULL, err, errlen) != 0)
            return -2;
        a->tls = ctx;
        /* RFC 8314: with implicit TLS there is no STARTTLS to offer */
        if (!a->implicit_tls)
            cfg->flags |= SMTPKIT_SERVER_STARTTLS;
        if (a->require_tls)
            cfg->flags |= SMTPKIT_SERVER_REQUIRE_TLS;
#else
        (void)cfg;
        snprintf(err, errlen, "built without TLS (configure with -DSMTPKIT_WITH_MBEDTLS=ON)");
        return -1;
#endif
    }
    if (a->auth_file) {
        int r = load_users(a, err, errlen);
        if (r)
            return r;
        a->urandom = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (a->urandom < 0) {
            snprintf(err, errlen, "cannot open /dev/urandom: %s", strerror(errno));
            return -2;
        }
        if (a->require_auth)
            cfg->flags |= SMTPKIT_SERVER_REQUIRE_AUTH;
    }
    return 0;
}

#ifdef SMTPKIT_HAVE_MBEDTLS
/* Put TLS under the connection: the handshake runs here, blocking this
 * connection's turn of the loop for at most the handshake timeout. */
static int start_tls(secure_sess *ss, smtpkit_loop_conn *conn)
{
    smtpkit_io inner;
    smtpkit_tls_conn *tc;
    int rc;
    smtpkit_posix_socket_io_init(&inner, &ss->sock, smtpkit_loop_conn_fd(conn));
    inner.close = NULL; /* the loop closes the socket */
    if (smtpkit_tls_conn_new(&tc, (smtpkit_tls_context *)ss->app->tls, &inner, NULL) != 0)
        return -1;
    ss->tls = tc;
    rc = smtpkit_tls_conn_handshake(tc);
    if (rc != 0) {
        if (!ss->app->quiet) {
            char peer[80];
            smtpkit_posix_peer_name(smtpkit_loop_conn_fd(conn), peer, sizeof peer);
            fprintf(stderr, "smtpkit-recv: client=%s TLS handshake failed: %s\n", peer,
                    smtpkit_tls_conn_error(tc)[0] ? smtpkit_tls_conn_error(tc) : smtpkit_strerror(rc));
        }
        return -1;
    }
    return smtpkit_loop_conn_set_io(conn, smtpkit_tls_conn_io(tc)) == 0 ? 0 : -1;
}
#endif

int secure_session_open(secure_app *a, secure_sess *ss, smtpkit_loop_conn *conn,
                        smtpkit_server *s)
{
    memset(ss, 0, sizeof *ss);
    ss->app = a;
    if (a->auth_file) {
        smtpkit_sasl_provider_config pc;
        smtpkit_sasl_provider_config_init(&pc);
        pc.hostname = a->hostname;
        pc.random = random_bytes;
        pc.verify = verify;
        pc.user = a;
        if (smtpkit_sasl_provider_init(&ss->auth, &pc) != 0 ||
            smtpkit_sasl_provider_attach(&ss->auth, s) != 0)
            return -1;
        ss->has_auth = 1;
    }
#ifdef SMTPKIT_HAVE_MBEDTLS
    if (a->tls && a->implicit_tls) {
        if (start_tls(ss, conn) != 0)
            return -1;
        if (smtpkit_server_tls_started(s) != 0)
            return -1;
    }
#else
    (void)conn;
#endif
    return 0;
}

int secure_starttls(secure_sess *ss, smtpkit_loop_conn *conn)
{
#ifdef SMTPKIT_HAVE_MBEDTLS
    if (!ss->app->tls || ss->tls)
        return -1;
    return start_tls(ss, conn);
#else
    (void)ss;
    (void)conn;
    return -1;
#endif
}

void secure_session_close(secure_sess *ss)
{
    if (ss->has_auth)
        smtpkit_sasl_provider_finish(&ss->auth);
#ifdef SMTPKIT_HAVE_MBEDTLS
    smtpkit_tls_conn_free((smtpkit_tls_conn *)ss->tls);
#endif
    ss->tls = NULL;
}

const char *secure_describe(const secure_sess *ss)
{
    static char buf[300];
    size_t n = 0;
    buf[0] = '\0';
#ifdef SMTPKIT_HAVE_MBEDTLS
    if (ss->tls) {
        const char *version = NULL;
        smtpkit_tls_conn_info((const smtpkit_tls_conn *)ss->tls, &version, NULL);
        n += (size_t)snprintf(buf + n, sizeof buf - n, " tls=%s", version ? version : "?");
    }
#endif
    if (ss->has_auth && smtpkit_sasl_provider_user(&ss->auth).len) {
        smtpkit_view u = smtpkit_sasl_provider_user(&ss->auth);
        snprintf(buf + n, sizeof buf - n, " auth=%.*s", (int)u.len, u.ptr);
    }
    return buf;
}

void secure_cleanup(secure_app *a)
{
    size_t i;
    for (i = 0; i < a->nusers; i++) {
        /* the passwords do not outlive the server */
        memset(a->users[i].password, 0, strlen(a->users[i].password));
        free(a->users[i].name);
        free(a->users[i].password);
    }
    free(a->users);
    a->users = NULL;
    a->nusers = 0;
    if (a->urandom >= 0)
        close(a->urandom);
    a->urandom = -1;
#ifdef SMTPKIT_HAVE_MBEDTLS
    smtpkit_tls_context_free((smtpkit_tls_context *)a->tls);
#endif
    a->tls = NULL;
}
