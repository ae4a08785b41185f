/* SASL for SMTP AUTH (RFC 4954): mechanism names, choosing a mechanism, and
 * the replies for each outcome. Client and server exchanges are in
 * sasl_client.c and sasl_server.c. */
#include "internal.h"
#include "smtpkit/sasl.h"

static const struct {
    unsigned flag;
    const char *name;
} mech_names[] = {
    {SMTPKIT_AUTH_PLAIN, "PLAIN"},
    {SMTPKIT_AUTH_LOGIN, "LOGIN"},
    {SMTPKIT_AUTH_CRAM_MD5, "CRAM-MD5"},
    {SMTPKIT_AUTH_XOAUTH2, "XOAUTH2"},
};

const char *smtpkit_sasl_mech_name(unsigned mech)
{
    size_t i;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(mech_names); i++) {
        if (mech_names[i].flag == mech)
            return mech_names[i].name;
    }
    return NULL;
}

unsigned smtpkit_sasl_mech_from_name(const char *name, size_t len)
{
    size_t i;
    if (!name)
        return 0;
    /* RFC 4422 3.1: mechanism names are case-insensitive on the wire. */
    for (i = 0; i < SMTPKIT_ARRAY_LEN(mech_names); i++) {
        if (smtpkit__ieq(name, len, mech_names[i].name))
            return mech_names[i].flag;
    }
    return 0;
}

unsigned smtpkit_sasl_select(unsigned offered, const smtpkit_sasl_creds *creds, unsigned flags)
{
    /* Ordered by preference when the channel is encrypted: CRAM-MD5 keeps
     * the password off the wire even there, PLAIN is one round trip, LOGIN
     * is the legacy fallback. */
    static const unsigned pw_order[] = {SMTPKIT_AUTH_CRAM_MD5, SMTPKIT_AUTH_PLAIN,
                                        SMTPKIT_AUTH_LOGIN};
    size_t i;
    if (!creds || creds->user.len == 0)
        return 0;
    /* RFC 4954 4 and 14: without a confidential channel the user name, and
     * with PLAIN/LOGIN the password, go out readable; only on request. */
    if (!(flags & SMTPKIT_SASL_SELECT_TLS) && !(flags & SMTPKIT_SASL_SELECT_ALLOW_PLAINTEXT))
        return 0;
    if (creds->token.len && (offered & SMTPKIT_AUTH_XOAUTH2))
        return SMTPKIT_AUTH_XOAUTH2;
    if (creds->password.len == 0)
        return 0;
    for (i = 0; i < SMTPKIT_ARRAY_LEN(pw_order); i++) {
        if (offered & pw_order[i])
            return pw_order[i];
    }
    return 0;
}

int smtpkit_sasl_client_outcome(int code)
{
    switch (code) {
    case 235: return 0;
    case 538: return SMTPKIT_ERR_TLS_REQUIRED; /* RFC 4954 6 */
    case 534:                                  /* mechanism too weak */
    case 535: return SMTPKIT_ERR_AUTH;         /* credentials invalid */
    case 502:
    case 504: return SMTPKIT_ERR_NOT_SUPPORTED;
    case 421: return SMTPKIT_ERR_CLOSED;
    default: return SMTPKIT_ERR_REJECTED;
    }
}

int smtpkit_sasl_status_reply(int status, int *code, const char **esc, const char **text)
{
    int c;
    const char *e, *t;
    switch (status) {
    case SMTPKIT_OK: c = 235; e = "2.7.0"; t = "Authentication successful"; break;
    case SMTPKIT_ERR_AUTH: c = 535; e = "5.7.8"; t = "Authentication credentials invalid"; break;
    case SMTPKIT_ERR_TLS_REQUIRED:
        c = 538; e = "5.7.11"; t = "Encryption required for requested authentication mechanism";
        break;
    /* RFC 4954 4: a cancelled exchange is answered with 501. */
    case SMTPKIT_SASL_CANCELLED: c = 501; e = "5.0.0"; t = "Authentication cancelled"; break;
    case SMTPKIT_SASL_BAD_BASE64: c = 501; e = "5.5.2"; t = "Invalid base64 data"; break;
    case SMTPKIT_SASL_MALFORMED: c = 501; e = "5.5.2"; t = "Invalid authentication data"; break;
    case SMTPKIT_SASL_UNKNOWN_MECH:
        c = 504; e = "5.5.4"; t = "Unrecognized authentication type";
        break;
    case SMTPKIT_SASL_TOO_LONG:
        c = 500; e = "5.5.6"; t = "Authentication Exchange line is too long";
        break;
    default: return SMTPKIT_ERR_INVALID_ARG;
    }
    if (code)
        *code = c;
    if (esc)
        *esc = e;
    if (text)
        *text = t;
    return 0;
}
