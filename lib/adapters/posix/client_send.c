/* smtpkit_send(): one message, one call, over a POSIX socket (and mbedTLS
 * when built with it). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "smtpkit/posix.h"
#include "smtpkit/posix_client.h"
#include "smtpkit/sasl.h"
#ifdef SMTPKIT_HAVE_MBEDTLS
#include "smtpkit/tls.h"
#endif


/* ---- results -------------------------------------------------------------- */

typedef struct send_ctx {
    const smtpkit_send_options *opt;
    const smtpkit_client_callbacks *ucb;
    smtpkit_send_result *res;
    size_t nrcpts;
    int have_tx;
    smtpkit_tx_status status;
    int tx_err;
    int session_err;
} send_ctx;

static void keep(smtpkit_send_reply *d, const smtpkit_reply *r)
{
    size_t n;
    memset(d, 0, sizeof *d);
    if (!r)
        return;
    d->code = r->code;
    n = r->esc.len < sizeof d->esc - 1 ? r->esc.len : sizeof d->esc - 1;
    memcpy(d->esc, r->esc.ptr, n);
    n = r->text.len < sizeof d->text - 1 ? r->text.len : sizeof d->text - 1;
    memcpy(d->text, r->text.ptr, n);
}

static int s_reply_line(void *u, const smtpkit_reply_line *l)
{
    send_ctx *s = (send_ctx *)u;
    return s->ucb && s->ucb->on_reply_line ? s->ucb->on_reply_line(s->opt->user_data, l) : 0;
}

static int s_reply(void *u, smtpkit_client_cmd cmd, const smtpkit_reply *r)
{
    send_ctx *s = (send_ctx *)u;
    return s->ucb && s->ucb->on_reply ? s->ucb->on_reply(s->opt->user_data, cmd, r) : 0;
}

static int s_command(void *u, const smtpkit_client_command *cmd)
{
    send_ctx *s = (send_ctx *)u;
    return s->ucb && s->ucb->on_command ? s->ucb->on_command(s->opt->user_data, cmd) : 0;
}

static int s_ready(void *u, const smtpkit_caps *caps)
{
    send_ctx *s = (send_ctx *)u;
    return s->ucb && s->ucb->on_ready ? s->ucb->on_ready(s->opt->user_data, caps) : 0;
}

static int s_rcpt(void *u, const smtpkit_client_rcpt_result *r)
{
    send_ctx *s = (send_ctx *)u;
    if (s->res && s->res->rcpts && r->index < s->nrcpts)
        keep(&s->res->rcpts[r->index], r->reply);
    return s->ucb && s->ucb->on_rcpt ? s->ucb->on_rcpt(s->opt->user_data, r) : 0;
}

static int s_tx(void *u, const smtpkit_client_tx_result *r)
{
    send_ctx *s = (send_ctx *)u;
    s->have_tx = 1;
    s->status = r->status;
    s->tx_err = r->err;
    if (s->res) {
        s->res->status = r->status;
        s->res->err = r->err;
        s->res->stage = r->stage;
        keep(&s->res->reply, r->reply);
        s->res->naccepted = r->naccepted;
        s->res->nrefused = r->nrefused;
    }
    return s->ucb && s->ucb->on_tx_done ? s->ucb->on_tx_done(s->opt->user_data, r) : 0;
}

static int s_starttls(void *u)
{
    send_ctx *s = (send_ctx *)u;
    return s->ucb && s->ucb->on_starttls ? s->ucb->on_starttls(s->opt->user_data) : 0;
}

static int s_error(void *u, int err, const smtpkit_reply *r)
{
    send_ctx *s = (send_ctx *)u;
    s->session_err = err;
    return s->ucb && s->ucb->on_error ? s->ucb->on_error(s->opt->user_data, err, r) : 0;
}

static const smtpkit_client_callbacks send_cb = {SMTPKIT_CLIENT_VERSION, s_reply_line, s_reply,
                                                 s_command, s_ready, s_rcpt, s_tx, s_starttls,
                                                 s_error};

/* ---- smtpkit_send ----------------------------------------------------------- */

static uint32_t cap_ms(uint32_t rfc, uint32_t limit) { return limit && limit < rfc ? limit : rfc; }

/* RFC 5321 4.1.1.1: EHLO with our domain; a bare host name is no domain.
 * Returns NULL when this host has no fully qualified name. */
static const char *default_helo(char *buf, size_t len)
{
    smtpkit_client_config probe;
    if (gethostname(buf, len) != 0)
        return NULL;
    buf[len - 1] = 0;
    if (!strchr(buf, '.'))
        return NULL;
    smtpkit_client_config_init(&probe);
    probe.helo_name = buf;
    return smtpkit_client_config_check(&probe) == 0 ? buf : NULL;
}

/* RFC 5321 4.1.4: without a domain name, the client SHOULD send an address
 * literal of the connection's local address ("[192.0.2.1]", "[IPv6:...]"). */
static const char *local_literal(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char addr[INET6_ADDRSTRLEN];
    const void *a;
    const char *tag = "";
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return "localhost";
    if (ss.ss_family == AF_INET) {
        a = &((struct sockaddr_in *)&ss)->sin_addr;
    } else if (ss.ss_family == AF_INET6) {
        a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        tag = "IPv6:";
        if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
            a = (const unsigned char *)a + 12;
            tag = "";
            if (!inet_ntop(AF_INET, a, addr, sizeof addr))
                return "localhost";
            snprintf(buf, len, "[%s]", addr);
            return buf;
        }
    } else {
        return "localhost";
    }
    if (!inet_ntop(ss.ss_family, a, addr, sizeof addr))
        return "localhost";
    snprintf(buf, len, "[%s%s]", tag, addr);
    return buf;
}

int smtpkit_send(const smtpkit_send_options *opt, const smtpkit_envelope *env,
                 smtpkit_source *body, smtpkit_send_result *res)
{
    smtpkit_client_config cfg;
    smtpkit_client *c = NULL;
    smtpkit_sasl_creds creds;
    smtpkit_sasl_mech mech;
    smtpkit_sasl_builtin mech_state;
    send_ctx s;
    smtpkit_io io;
    smtpkit_posix_socket sock;
    char hostname[256];
    int fd = -1, r, tls = 0, helo_literal = 0;
    uint16_t port;
#ifdef SMTPKIT_HAVE_MBEDTLS
    smtpkit_tls_context *tctx = NULL;
    smtpkit_tls_conn *tconn = NULL;
#endif

    if (res) {
        smtpkit_send_reply *keep_rcpts = res->rcpts;
        memset(res, 0, sizeof *res);
        res->rcpts = keep_rcpts;
        res->status = SMTPKIT_TX_FAILED;
        res->stage = SMTPKIT_CLIENT_CMD_NONE;
        if (keep_rcpts && env && env->rcpts)
            memset(keep_rcpts, 0, env->nrcpts * sizeof *keep_rcpts);
    }
    if (!opt || !opt->host || !*opt->host || !body || !body->read ||
        opt->version > SMTPKIT_SEND_VERSION)
        return SMTPKIT_ERR_INVALID_ARG;
    r = smtpkit_envelope_check(env);
    if (r)
        return r;
    if (opt->user && !opt->password)
        return SMTPKIT_ERR_INVALID_ARG;

    smtpkit_client_config_init(&cfg);
    cfg.helo_name = opt->helo_name ? opt->helo_name : default_helo(hostname, sizeof hostname);
    if (!cfg.helo_name) {
        cfg.helo_name = "localhost"; /* replaced by an address literal once connected */
        helo_literal = 1;
    }
    cfg.flags = opt->flags;
    cfg.tls = opt->tls;
#ifndef SMTPKIT_HAVE_MBEDTLS
    if (cfg.tls == SMTPKIT_CLIENT_TLS_STARTTLS_OPTIONAL)
        cfg.tls = SMTPKIT_CLIENT_TLS_NONE; /* opportunistic, and no TLS here */
    if (cfg.tls != SMTPKIT_CLIENT_TLS_NONE) {
        if (res)
            snprintf(res->errmsg, sizeof res->errmsg,
                     "TLS support is not built in (configure with -DSMTPKIT_WITH_MBEDTLS=ON)");
        return SMTPKIT_ERR_NOT_SUPPORTED;
    }
#endif
    tls = cfg.tls != SMTPKIT_CLIENT_TLS_NONE;
    cfg.timeout_greeting_ms = cap_ms(300000, opt->timeout_ms);
    cfg.timeout_command_ms = cap_ms(300000, opt->timeout_ms);
    cfg.timeout_data_init_ms = cap_ms(120000, opt->timeout_ms);
    cfg.timeout_data_block_ms = cap_ms(180000, opt->timeout_ms);
    cfg.timeout_data_term_ms = cap_ms(600000, opt->timeout_ms);
    if (opt->user) {
        memset(&creds, 0, sizeof creds);
        creds.user.ptr = opt->user;
        creds.user.len = strlen(opt->user);
        creds.password.ptr = opt->password;
        creds.password.len = strlen(opt->password);
        cfg.auth_creds = &creds;
        cfg.auth_allow_plaintext = opt->auth_allow_plaintext;
        if (opt->auth_mech) {
            /* the caller names the mechanism (sasl.h built-ins) */
            unsigned which = smtpkit_sasl_mech_from_name(opt->auth_mech, strlen(opt->auth_mech));
            if (which == SMTPKIT_AUTH_XOAUTH2) {
                creds.token = creds.password;
                creds.password.ptr = NULL;
                creds.password.len = 0;
            }
            if (!which || smtpkit_sasl_builtin_init(&mech, &mech_state, which, &creds) != 0) {
                if (res)
                    snprintf(res->errmsg, sizeof res->errmsg, "unusable AUTH mechanism %s",
                             opt->auth_mech);
                return SMTPKIT_ERR_INVALID_ARG;
            }
            cfg.auth = &mech;
            cfg.auth_creds = NULL;
        }
    }
    r = smtpkit_client_config_check(&cfg);
    if (r)
        return r;

    memset(&s, 0, sizeof s);
    s.opt = opt;
    s.ucb = opt->callbacks;
    s.res = res;
    s.nrcpts = env->nrcpts;

    port = opt->port ? opt->port : (cfg.tls == SMTPKIT_CLIENT_TLS_IMPLICIT ? 465 : 25);
    fd = smtpkit_posix_connect(opt->host, port,
                               (int)(opt->timeout_ms ? opt->timeout_ms : SMTPKIT_SEND_CONNECT_TIMEOUT_MS),
                               res ? res->errmsg : NULL, res ? sizeof res->errmsg : 0);
    if (fd < 0)
        return fd;
    if (helo_literal)
        cfg.helo_name = local_literal(fd, hostname, sizeof hostname);
    /* The socket io of the POSIX adapter; this function closes fd itself. */
    smtpkit_posix_socket_io_init(&io, &sock, fd);
    io.close = NULL;

#ifdef SMTPKIT_HAVE_MBEDTLS
    if (tls) {
        smtpkit_tls_config tc;
        smtpkit_tls_config_init(&tc);
        tc.ca_file = opt->tls_ca_file;
        tc.ca_dir = opt->tls_ca_dir;
        tc.insecure_skip_verify = opt->tls_insecure_skip_verify;
        if (opt->timeout_ms)
            tc.handshake_timeout_ms = opt->timeout_ms;
        r = smtpkit_tls_context_new(&tctx, SMTPKIT_TLS_CLIENT, &tc, NULL,
                                    res ? res->errmsg : NULL, res ? sizeof res->errmsg : 0);
        if (r == 0)
            r = smtpkit_tls_conn_new(&tconn, tctx, &io, opt->host);
        if (r == 0) {
            io = *smtpkit_tls_conn_io(tconn);
            if (cfg.tls == SMTPKIT_CLIENT_TLS_IMPLICIT) {
                r = smtpkit_tls_conn_handshake(tconn);
                if (r < 0 && res)
                    snprintf(res->errmsg, sizeof res->errmsg, "%s", smtpkit_tls_conn_error(tconn));
            }
        }
        if (r < 0)
            goto out;
    }
#else
    (void)tls;
#endif

    c = smtpkit_client_new(&cfg, &send_cb, &s, NULL);
    if (!c) {
        r = SMTPKIT_ERR_NOMEM;
        goto out;
    }
    r = smtpkit_client_queue(c, env, body, NULL);
    if (r >= 0)
        r = smtpkit_client_quit(c);
    if (r >= 0)
        r = smtpkit_client_run(c, &io);
#ifdef SMTPKIT_HAVE_MBEDTLS
    if (r < 0 && tconn && res && !res->errmsg[0] && smtpkit_tls_conn_error(tconn)[0])
        snprintf(res->errmsg, sizeof res->errmsg, "%s", smtpkit_tls_conn_error(tconn));
#endif
    if (s.have_tx) {
        /* the transaction's outcome counts, not how QUIT went */
        if (s.status == SMTPKIT_TX_ACCEPTED)
            r = 0;
        else if (s.status == SMTPKIT_TX_FAILED)
            r = s.tx_err ? s.tx_err : SMTPKIT_ERR_INTERNAL;
        else
            r = SMTPKIT_ERR_REJECTED;
    } else if (r >= 0) {
        r = s.session_err ? s.session_err : SMTPKIT_ERR_INTERNAL;
    }
out:
    if (res && res->err == 0 && r < 0 && r != SMTPKIT_ERR_REJECTED)
        res->err = r;
    smtpkit_client_free(c);
#ifdef SMTPKIT_HAVE_MBEDTLS
    smtpkit_tls_conn_free(tconn);
    smtpkit_tls_context_free(tctx);
#endif
    close(fd);
    return r;
}
