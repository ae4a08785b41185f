/* TLS over any smtpkit_io with mbedTLS 2.28 or 3.x: STARTTLS (RFC 3207)
 * and implicit TLS (RFC 8314) for clients and servers. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/version.h>
#if MBEDTLS_VERSION_NUMBER < 0x03000000
#include <mbedtls/config.h>
#endif
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#include "internal.h"
#include "smtpkit/tls.h"

struct smtpkit_tls_context {
    smtpkit_mem mem;
    smtpkit_tls_role role;
    uint32_t handshake_timeout_ms;
    int insecure;
    int has_own_cert;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    mbedtls_ssl_config conf;
};

enum { T_CLEAR = 0, T_ACTIVE, T_FAILED };

struct smtpkit_tls_conn {
    smtpkit_tls_context *ctx;
    smtpkit_io inner;
    smtpkit_io io;          /* what smtpkit_tls_conn_io() hands out */
    int state;
    int timeout_ms;         /* for the inner read/write now running */
    uint64_t hs_deadline;   /* handshake end, on the inner clock; 0 = none */
    int handshaking;
    int io_err;             /* the transport's error behind an mbedTLS failure */
    int eof;                /* the inner transport reported end of stream */
    mbedtls_ssl_context ssl;
    char err[256];
};

void smtpkit_tls_config_init(smtpkit_tls_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->version = SMTPKIT_TLS_CONFIG_VERSION;
}

/* ------------------------------------------------------------------ errors */

static void set_err(char *buf, size_t len, const char *what, const char *arg, int mret)
{
    char m[160];
    if (!buf || !len)
        return;
    m[0] = 0;
    if (mret) {
#if defined(MBEDTLS_ERROR_C)
        mbedtls_strerror(mret, m, sizeof m);
#else
        snprintf(m, sizeof m, "mbedTLS error -0x%04x", (unsigned)-mret);
#endif
    }
    snprintf(buf, len, "%s%s%s%s%s", what, arg ? " " : "", arg ? arg : "", m[0] ? ": " : "", m);
}

/* mbedtls_x509_crt_verify_info() writes one reason per line; make it one line. */
static void verify_text(char *buf, size_t len, uint32_t flags)
{
    char info[200];
    size_t i, n;
    if (mbedtls_x509_crt_verify_info(info, sizeof info, "", flags) < 0)
        info[0] = 0;
    n = strlen(info);
    while (n && (info[n - 1] == '\n' || info[n - 1] == ' '))
        info[--n] = 0;
    for (i = 0; i < n; i++) {
        if (info[i] == '\n')
            info[i] = ';';
    }
    snprintf(buf, len, "certificate verification failed: %s", info[0] ? info : "unknown reason");
}

/* ----------------------------------------------------------------- context */

static int load_ca(smtpkit_tls_context *t, const smtpkit_tls_config *cfg, char *eb, size_t el)
{
    int ret;
    const char *dir = cfg->ca_dir;
    if (cfg->ca_file) {
        ret = mbedtls_x509_crt_parse_file(&t->ca, cfg->ca_file);
        if (ret < 0) {
            set_err(eb, el, "cannot load CA file", cfg->ca_file, ret);
            return SMTPKIT_ERR_TLS;
        }
    }
    if (!cfg->ca_file && !dir)
        dir = SMTPKIT_TLS_DEFAULT_CA_DIR;
    if (dir) {
        /* A positive result counts files that did not parse: a system
         * directory holds more than certificates; what did parse is used. */
        ret = mbedtls_x509_crt_parse_path(&t->ca, dir);
        if (ret < 0) {
            set_err(eb, el, "cannot load CA directory", dir, ret);
            return SMTPKIT_ERR_TLS;
        }
    }
    if (t->ca.raw.len == 0) {
        set_err(eb, el, "no CA certificate found in", cfg->ca_file ? cfg->ca_file : dir, 0);
        return SMTPKIT_ERR_TLS;
    }
    return 0;
}

static int load_own(smtpkit_tls_context *t, const smtpkit_tls_config *cfg, char *eb, size_t el)
{
    int ret;
    ret = mbedtls_x509_crt_parse_file(&t->cert, cfg->cert_file);
    if (ret != 0) {
        set_err(eb, el, "cannot load certificate", cfg->cert_file, ret < 0 ? ret : 0);
        return SMTPKIT_ERR_TLS;
    }
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    ret = mbedtls_pk_parse_keyfile(&t->key, cfg->key_file, cfg->key_password,
                                   mbedtls_ctr_drbg_random, &t->drbg);
#else
    ret = mbedtls_pk_parse_keyfile(&t->key, cfg->key_file, cfg->key_password);
#endif
    if (ret != 0) {
        set_err(eb, el, "cannot load key", cfg->key_file, ret);
        return SMTPKIT_ERR_TLS;
    }
    ret = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key);
    if (ret != 0) {
        set_err(eb, el, "cannot use certificate", cfg->cert_file, ret);
        return SMTPKIT_ERR_TLS;
    }
    t->has_own_cert = 1;
    return 0;
}

static void context_release(smtpkit_tls_context *t)
{
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_pk_free(&t->key);
    mbedtls_x509_crt_free(&t->cert);
    mbedtls_x509_crt_free(&t->ca);
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->entropy);
}

int smtpkit_tls_context_new(smtpkit_tls_context **out, smtpkit_tls_role role,
                            const smtpkit_tls_config *cfg, const smtpkit_mem *mem, char *errbuf,
                            size_t errlen)
{
    static const char pers[] = "smtpkit tls";
    smtpkit_tls_config defaults;
    smtpkit_tls_context *t;
    int ret, rc, is_server = role == SMTPKIT_TLS_SERVER;
    if (errbuf && errlen)
        errbuf[0] = 0;
    if (!out)
        return SMTPKIT_ERR_INVALID_ARG;
    *out = NULL;
    if (!cfg) {
        smtpkit_tls_config_init(&defaults);
        cfg = &defaults;
    }
    if ((role != SMTPKIT_TLS_CLIENT && role != SMTPKIT_TLS_SERVER) ||
        (cfg->version != 0 && cfg->version != SMTPKIT_TLS_CONFIG_VERSION) ||
        (unsigned)cfg->client_cert > SMTPKIT_TLS_CLIENT_CERT_REQUIRED) {
        set_err(errbuf, errlen, "invalid TLS configuration", NULL, 0);
        return SMTPKIT_ERR_INVALID_ARG;
    }
    if ((is_server && (!cfg->cert_file || !cfg->key_file)) || (!cfg->cert_file != !cfg->key_file)) {
        set_err(errbuf, errlen,
                is_server ? "a TLS server needs a certificate and a key"
                          : "a client certificate needs its key (and the key its certificate)",
                NULL, 0);
        return SMTPKIT_ERR_INVALID_ARG;
    }
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
    /* mbedTLS 3 runs TLS 1.3 and parts of 1.2 on PSA crypto, which must be
     * initialised once (repeated calls are harmless). */
    if (psa_crypto_init() != PSA_SUCCESS) {
        set_err(errbuf, errlen, "cannot initialise PSA crypto", NULL, 0);
        return SMTPKIT_ERR_TLS;
    }
#endif
    t = (smtpkit_tls_context *)smtpkit__calloc(mem, 1, sizeof *t);
    if (!t) {
        set_err(errbuf, errlen, "out of memory", NULL, 0);
        return SMTPKIT_ERR_NOMEM;
    }
    if (mem)
        t->mem = *mem;
    t->role = role;
    t->insecure = cfg->insecure_skip_verify != 0;
    t->handshake_timeout_ms =
        cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : SMTPKIT_TLS_HANDSHAKE_TIMEOUT_DEFAULT_MS;
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_x509_crt_init(&t->ca);
    mbedtls_x509_crt_init(&t->cert);
    mbedtls_pk_init(&t->key);
    mbedtls_ssl_config_init(&t->conf);

    rc = SMTPKIT_ERR_TLS;
    ret = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                                (const unsigned char *)pers, sizeof pers - 1);
    if (ret != 0) {
        set_err(errbuf, errlen, "cannot seed the random generator", NULL, ret);
        goto fail;
    }
    ret = mbedtls_ssl_config_defaults(&t->conf,
                                      is_server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                      MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        set_err(errbuf, errlen, "cannot set TLS defaults", NULL, ret);
        goto fail;
    }
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    /* RFC 8996 deprecates TLS 1.0 and 1.1; RFC 8314 4.1 asks for 1.2+. */
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
    mbedtls_ssl_conf_min_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#elif MBEDTLS_VERSION_NUMBER < 0x03000000
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
#endif /* 3.0 and 3.1 know nothing older than 1.2 */

    if (is_server) {
        if (cfg->client_cert == SMTPKIT_TLS_CLIENT_CERT_NONE) {
            mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_NONE);
        } else {
            if ((rc = load_ca(t, cfg, errbuf, errlen)) != 0)
                goto fail;
            mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
            mbedtls_ssl_conf_authmode(&t->conf, cfg->client_cert == SMTPKIT_TLS_CLIENT_CERT_REQUIRED &&
                                                        !t->insecure
                                                    ? MBEDTLS_SSL_VERIFY_REQUIRED
                                                    : MBEDTLS_SSL_VERIFY_OPTIONAL);
        }
    } else if (t->insecure) {
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_NONE);
    } else {
        if ((rc = load_ca(t, cfg, errbuf, errlen)) != 0)
            goto fail;
        mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    }
    rc = SMTPKIT_ERR_TLS;
    if (cfg->cert_file && (rc = load_own(t, cfg, errbuf, errlen)) != 0)
        goto fail;
    if (t->has_own_cert) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
        ret = mbedtls_pk_check_pair(&t->cert.pk, &t->key, mbedtls_ctr_drbg_random, &t->drbg);
#else
        ret = mbedtls_pk_check_pair(&t->cert.pk, &t->key);
#endif
        if (ret != 0) {
            set_err(errbuf, errlen, "the key does not match the certificate", cfg->cert_file, 0);
            rc = SMTPKIT_ERR_INVALID_ARG;
            goto fail;
        }
    }
    *out = t;
    return 0;
fail:
    context_release(t);
    smtpkit__free(mem, t);
    return rc;
}

void smtpkit_tls_context_free(smtpkit_tls_context *t)
{
    smtpkit_mem mem;
    if (!t)
        return;
    mem = t->mem;
    context_release(t);
    smtpkit__free(&mem, t);
}

/* ------------------------------------------------------------- connection */

/* The inner io's remaining time for a handshake read or write. */
static int hs_timeout(smtpkit_tls_conn *c)
{
    uint64_t now;
    if (!c->handshaking || !c->hs_deadline || !c->inner.now_ms)
        return c->timeout_ms;
    now = c->inner.now_ms(c->inner.ctx);
    if (now >= c->hs_deadline)
        return 0;
    return (int)SMTPKIT_MIN(c->hs_deadline - now, (uint64_t)0x7fffffff);
}

/* mbedTLS BIO callbacks. A transport error is kept in io_err and reported
 * to mbedTLS as "would block", which leaves its record state intact so a
 * read that timed out can be retried. */
static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    smtpkit_tls_conn *c = (smtpkit_tls_conn *)ctx;
    int to = hs_timeout(c);
    smtpkit_ssize n;
    if (c->handshaking && to == 0 && c->hs_deadline) {
        c->io_err = SMTPKIT_ERR_TIMEOUT;
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    }
    n = c->inner.write(c->inner.ctx, (const char *)buf, SMTPKIT_MIN(len, (size_t)0x7fffffff), to);
    if (n > 0)
        return (int)n;
    c->io_err = n == 0 ? SMTPKIT_ERR_IO : (int)n;
    return MBEDTLS_ERR_SSL_WANT_WRITE;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    smtpkit_tls_conn *c = (smtpkit_tls_conn *)ctx;
    int to = hs_timeout(c);
    smtpkit_ssize n;
    if (c->handshaking && to == 0 && c->hs_deadline) {
        c->io_err = SMTPKIT_ERR_TIMEOUT;
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    n = c->inner.read(c->inner.ctx, (char *)buf, SMTPKIT_MIN(len, (size_t)0x7fffffff), to);
    if (n > 0)
        return (int)n;
    if (n == 0) {
        c->eof = 1;
        return 0; /* mbedTLS: end of stream */
    }
    c->io_err = (int)n;
    return MBEDTLS_ERR_SSL_WANT_READ;
}

static void tls_fail(smtpkit_tls_conn *c, int mret)
{
    char m[160];
#if defined(MBEDTLS_ERROR_C)
    mbedtls_strerror(mret, m, sizeof m);
#else
    snprintf(m, sizeof m, "mbedTLS error -0x%04x", (unsigned)-mret);
#endif
    snprintf(c->err, sizeof c->err, "TLS: %s", m);
}

static int do_handshake(smtpkit_tls_conn *c)
{
    int ret;
    if (c->state != T_CLEAR) {
        snprintf(c->err, sizeof c->err, "%s",
                 c->state == T_ACTIVE ? "TLS is already active" : "TLS failed before");
        return SMTPKIT_ERR_STATE;
    }
    c->err[0] = 0;
    c->io_err = 0;
    c->handshaking = 1;
    c->timeout_ms = (int)SMTPKIT_MIN(c->ctx->handshake_timeout_ms, 0x7fffffffu);
    c->hs_deadline = c->inner.now_ms ? c->inner.now_ms(c->inner.ctx) + c->ctx->handshake_timeout_ms : 0;
    for (;;) {
        ret = mbedtls_ssl_handshake(&c->ssl);
        if (ret == 0)
            break;
        if ((ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) && !c->io_err)
            continue;
        c->handshaking = 0;
        c->state = T_FAILED;
        if (c->io_err) {
            snprintf(c->err, sizeof c->err, "TLS handshake: %s", smtpkit_strerror(c->io_err));
            return c->io_err;
        }
        if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
            verify_text(c->err, sizeof c->err, mbedtls_ssl_get_verify_result(&c->ssl));
            return SMTPKIT_ERR_TLS;
        }
        if (c->eof || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
            snprintf(c->err, sizeof c->err, "TLS handshake: the peer closed the connection");
            return SMTPKIT_ERR_CLOSED;
        }
        tls_fail(c, ret);
        return SMTPKIT_ERR_TLS;
    }
    c->handshaking = 0;
    c->state = T_ACTIVE;
    return 0;
}

static smtpkit_ssize conn_read(void *ctx, char *buf, size_t len, int timeout_ms)
{
    smtpkit_tls_conn *c = (smtpkit_tls_conn *)ctx;
    int ret;
    if (c->state == T_CLEAR)
        return c->inner.read(c->inner.ctx, buf, len, timeout_ms);
    if (c->state != T_ACTIVE)
        return SMTPKIT_ERR_TLS;
    if (len == 0)
        return 0;
    c->timeout_ms = timeout_ms;
    c->io_err = 0;
    for (;;) {
        ret = mbedtls_ssl_read(&c->ssl, (unsigned char *)buf, SMTPKIT_MIN(len, (size_t)0x7fffffff));
        if (ret > 0) {
            /* mbedtls_ssl_read() stops at the end of the buffered record's
             * remainder: hand over everything already decrypted, so a
             * caller that waits for socket readiness never leaves data
             * stranded in the TLS layer. */
            size_t got = (size_t)ret;
            while (got < len && mbedtls_ssl_get_bytes_avail(&c->ssl) > 0) {
                int more = mbedtls_ssl_read(&c->ssl, (unsigned char *)buf + got,
                                            SMTPKIT_MIN(len - got, (size_t)0x7fffffff));
                if (more <= 0)
                    break;
                got += (size_t)more;
            }
            return (smtpkit_ssize)got;
        }
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF)
            return 0;
        if (c->io_err)
            return c->io_err;
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
            continue;
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
        /* TLS 1.3 (mbedTLS 3): a ticket arrived; there is no data yet. */
        if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
            continue;
#endif
        tls_fail(c, ret);
        return SMTPKIT_ERR_TLS;
    }
}

static smtpkit_ssize conn_write(void *ctx, const char *buf, size_t len, int timeout_ms)
{
    smtpkit_tls_conn *c = (smtpkit_tls_conn *)ctx;
    int ret;
    if (c->state == T_CLEAR)
        return c->inner.write(c->inner.ctx, buf, len, timeout_ms);
    if (c->state != T_ACTIVE)
        return SMTPKIT_ERR_TLS;
    if (len == 0)
        return 0;
    c->timeout_ms = timeout_ms;
    c->io_err = 0;
    for (;;) {
        ret = mbedtls_ssl_write(&c->ssl, (const unsigned char *)buf,
                                SMTPKIT_MIN(len, (size_t)0x7fffffff));
        if (ret > 0)
            return ret;
        if (c->io_err)
            return c->io_err;
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
            continue;
        tls_fail(c, ret);
        return SMTPKIT_ERR_TLS;
    }
}

static int conn_starttls(void *ctx, int is_server)
{
    smtpkit_tls_conn *c = (smtpkit_tls_conn *)ctx;
    if ((is_server != 0) != (c->ctx->role == SMTPKIT_TLS_SERVER)) {
        snprintf(c->err, sizeof c->err, "STARTTLS asked for the %s side of a %s context",
                 is_server ? "server" : "client",
                 c->ctx->role == SMTPKIT_TLS_SERVER ? "server" : "client");
        return SMTPKIT_ERR_INVALID_ARG;
    }
    return do_handshake(c);
}

static void conn_close(void *ctx)
{
    smtpkit_tls_conn *c = (smtpkit_tls_conn *)ctx;
    if (c->state == T_ACTIVE) {
        /* Best effort: tell the peer the stream ends here (RFC 8446 6.1). */
        c->timeout_ms = 1000;
        c->io_err = 0;
        (void)mbedtls_ssl_close_notify(&c->ssl);
        c->state = T_FAILED;
    }
    if (c->inner.close)
        c->inner.close(c->inner.ctx);
}

static uint64_t conn_now(void *ctx)
{
    smtpkit_tls_conn *c = (smtpkit_tls_conn *)ctx;
    return c->inner.now_ms(c->inner.ctx);
}

static int name_ok(const char *n)
{
    size_t i;
    for (i = 0; n[i]; i++) {
        if ((unsigned char)n[i] <= 0x20 || (unsigned char)n[i] >= 0x7f)
            return 0;
    }
    return i > 0 && i <= 255;
}

int smtpkit_tls_conn_new(smtpkit_tls_conn **out, smtpkit_tls_context *ctx, const smtpkit_io *inner,
                         const char *server_name)
{
    smtpkit_tls_conn *c;
    int ret;
    if (!out)
        return SMTPKIT_ERR_INVALID_ARG;
    *out = NULL;
    if (!ctx || !inner || !inner->read || !inner->write)
        return SMTPKIT_ERR_INVALID_ARG;
    if (ctx->role == SMTPKIT_TLS_CLIENT) {
        if (server_name && !name_ok(server_name))
            return SMTPKIT_ERR_INVALID_ARG;
        /* Without a name there is nothing to check the certificate against. */
        if (!server_name && !ctx->insecure)
            return SMTPKIT_ERR_INVALID_ARG;
    }
    c = (smtpkit_tls_conn *)smtpkit__calloc(&ctx->mem, 1, sizeof *c);
    if (!c)
        return SMTPKIT_ERR_NOMEM;
    c->ctx = ctx;
    c->inner = *inner;
    c->state = T_CLEAR;
    mbedtls_ssl_init(&c->ssl);
    ret = mbedtls_ssl_setup(&c->ssl, &ctx->conf);
    if (ret == 0 && ctx->role == SMTPKIT_TLS_CLIENT && server_name)
        ret = mbedtls_ssl_set_hostname(&c->ssl, server_name); /* SNI and name check */
    if (ret != 0) {
        mbedtls_ssl_free(&c->ssl);
        smtpkit__free(&ctx->mem, c);
        return ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? SMTPKIT_ERR_NOMEM : SMTPKIT_ERR_TLS;
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    c->io.read = conn_read;
    c->io.write = conn_write;
    c->io.starttls = conn_starttls;
    c->io.close = conn_close;
    c->io.now_ms = inner->now_ms ? conn_now : NULL;
    c->io.ctx = c;
    *out = c;
    return 0;
}

const smtpkit_io *smtpkit_tls_conn_io(smtpkit_tls_conn *c) { return c ? &c->io : NULL; }

int smtpkit_tls_conn_handshake(smtpkit_tls_conn *c)
{
    if (!c)
        return SMTPKIT_ERR_INVALID_ARG;
    return do_handshake(c);
}

int smtpkit_tls_conn_active(const smtpkit_tls_conn *c) { return c && c->state == T_ACTIVE; }

size_t smtpkit_tls_conn_pending(const smtpkit_tls_conn *c)
{
    return c && c->state == T_ACTIVE ? mbedtls_ssl_get_bytes_avail(&c->ssl) : 0;
}

const char *smtpkit_tls_conn_error(const smtpkit_tls_conn *c) { return c ? c->err : ""; }

int smtpkit_tls_conn_info(const smtpkit_tls_conn *c, const char **version, const char **cipher)
{
    if (version)
        *version = NULL;
    if (cipher)
        *cipher = NULL;
    if (!c)
        return SMTPKIT_ERR_INVALID_ARG;
    if (c->state != T_ACTIVE)
        return SMTPKIT_ERR_STATE;
    if (version)
        *version = mbedtls_ssl_get_version(&c->ssl);
    if (cipher)
        *cipher = mbedtls_ssl_get_ciphersuite(&c->ssl);
    return 0;
}

int smtpkit_tls_conn_peer(const smtpkit_tls_conn *c, char *buf, size_t len)
{
    const mbedtls_x509_crt *crt;
    if (buf && len)
        buf[0] = 0;
    if (!c)
        return SMTPKIT_ERR_INVALID_ARG;
    if (c->state != T_ACTIVE)
        return SMTPKIT_ERR_STATE;
    crt = mbedtls_ssl_get_peer_cert(&c->ssl);
    if (!crt)
        return 0;
    if (buf && len && mbedtls_x509_dn_gets(buf, len, &crt->subject) < 0)
        buf[0] = 0;
    return mbedtls_ssl_get_verify_result(&c->ssl) == 0 ? 1 : SMTPKIT_ERR_AUTH;
}

void smtpkit_tls_conn_free(smtpkit_tls_conn *c)
{
    smtpkit_tls_context *ctx;
    if (!c)
        return;
    ctx = c->ctx;
    mbedtls_ssl_free(&c->ssl);
    smtpkit__free(&ctx->mem, c);
}
