/* The table of standard replies: RFC 5321 4.2.2/4.2.3 codes with the
 * enhanced status codes of RFC 3463 (and the extension RFCs that define
 * them) and conventional texts. Indexed by enum smtpkit_std. */
#include "internal.h"
#include "smtpkit/reply.h"

static const smtpkit_std_reply std_replies[] = {
    /* RFC 2034 3: the greeting carries no enhanced code. */
    [SMTPKIT_R_SERVICE_READY] = {220, NULL, "Service ready"},
    [SMTPKIT_R_CLOSING] = {221, "2.0.0", "Service closing transmission channel"},
    /* RFC 4954 6 */
    [SMTPKIT_R_AUTH_OK] = {235, "2.7.0", "Authentication successful"},
    [SMTPKIT_R_OK] = {250, "2.0.0", "OK"},
    /* RFC 3463 3.2: X.1.0 other address status (sender), X.1.5 destination
     * address valid. */
    [SMTPKIT_R_SENDER_OK] = {250, "2.1.0", "Sender OK"},
    [SMTPKIT_R_RCPT_OK] = {250, "2.1.5", "Recipient OK"},
    [SMTPKIT_R_MSG_OK] = {250, "2.0.0", "Message accepted for delivery"},
    /* RFC 5321 3.5.3; X.5.0 other protocol status. */
    [SMTPKIT_R_VRFY_CANNOT] = {252, "2.5.0",
                               "Cannot VRFY user, but will accept message and attempt delivery"},
    /* RFC 4954 4: the text of a 334 is the base64 challenge, empty by default;
     * 3yz replies carry no enhanced code (RFC 3463 3.1). */
    [SMTPKIT_R_AUTH_CHALLENGE] = {334, NULL, ""},
    [SMTPKIT_R_START_DATA] = {354, NULL, "Start mail input; end with <CRLF>.<CRLF>"},
    /* X.3.2 system not accepting network messages. */
    [SMTPKIT_R_SERVICE_UNAVAILABLE] = {421, "4.3.2",
                                       "Service not available, closing transmission channel"},
    /* X.2.1 mailbox disabled, not accepting messages. */
    [SMTPKIT_R_MAILBOX_BUSY] = {450, "4.2.1",
                                "Requested mail action not taken: mailbox unavailable"},
    /* X.3.0 other or undefined mail system status. */
    [SMTPKIT_R_LOCAL_ERROR] = {451, "4.3.0",
                               "Requested action aborted: local error in processing"},
    /* RFC 5321 4.5.3.1.10; X.5.3 too many recipients. */
    [SMTPKIT_R_TOO_MANY_RCPTS] = {452, "4.5.3", "Too many recipients"},
    /* X.3.1 mail system full. */
    [SMTPKIT_R_INSUFFICIENT_STORAGE] = {452, "4.3.1",
                                        "Requested action not taken: insufficient system storage"},
    /* RFC 4954 6 */
    [SMTPKIT_R_TEMP_AUTH_FAILURE] = {454, "4.7.0", "Temporary authentication failure"},
    /* RFC 3207 4 */
    [SMTPKIT_R_TLS_NOT_AVAILABLE] = {454, "4.7.0", "TLS not available due to temporary reason"},
    /* X.5.1 invalid command (the code Sendmail and most servers use for an
     * unrecognised verb). */
    [SMTPKIT_R_UNRECOGNIZED] = {500, "5.5.1", "Syntax error, command unrecognized"},
    /* RFC 4954 4 uses X.5.6 for an over-long line. */
    [SMTPKIT_R_LINE_TOO_LONG] = {500, "5.5.6", "Line too long"},
    /* X.5.4 invalid command arguments. */
    [SMTPKIT_R_SYNTAX] = {501, "5.5.4", "Syntax error in parameters or arguments"},
    /* X.1.3 bad destination mailbox address syntax. */
    [SMTPKIT_R_BAD_ADDRESS_SYNTAX] = {501, "5.1.3", "Bad address syntax"},
    [SMTPKIT_R_NOT_IMPLEMENTED] = {502, "5.5.1", "Command not implemented"},
    [SMTPKIT_R_BAD_SEQUENCE] = {503, "5.5.1", "Bad sequence of commands"},
    [SMTPKIT_R_PARAM_NOT_IMPLEMENTED] = {504, "5.5.4", "Command parameter not implemented"},
    /* RFC 4954 6 */
    [SMTPKIT_R_AUTH_REQUIRED] = {530, "5.7.0", "Authentication required"},
    /* RFC 3207 4 */
    [SMTPKIT_R_TLS_REQUIRED] = {530, "5.7.0", "Must issue a STARTTLS command first"},
    /* RFC 4954 6 */
    [SMTPKIT_R_AUTH_INVALID] = {535, "5.7.8", "Authentication credentials invalid"},
    /* X.1.1 bad destination mailbox address. */
    [SMTPKIT_R_MAILBOX_UNAVAILABLE] = {550, "5.1.1",
                                       "Requested action not taken: mailbox unavailable"},
    /* X.6.0 other or undefined media error: RFC 5321 2.3.8 forbids bare CR
     * and LF (the SMTP smuggling class of attacks). */
    [SMTPKIT_R_BAD_LINE_ENDINGS] = {550, "5.6.0", "Bare CR or LF not allowed"},
    /* RFC 1870 6; X.3.4 message too big for system. */
    [SMTPKIT_R_MSG_TOO_BIG] = {552, "5.3.4", "Message size exceeds fixed maximum message size"},
    [SMTPKIT_R_MAILBOX_NAME] = {553, "5.1.3",
                                "Requested action not taken: mailbox name not allowed"},
    /* RFC 6531 3.7.4.1; X.6.7 non-ASCII addresses not permitted. */
    [SMTPKIT_R_NO_UTF8] = {553, "5.6.7", "SMTPUTF8 not supported"},
    [SMTPKIT_R_TRANSACTION_FAILED] = {554, "5.0.0", "Transaction failed"},
    /* RFC 5321 3.1 */
    [SMTPKIT_R_NO_SERVICE] = {554, "5.3.2", "No SMTP service here"},
    /* RFC 5321 4.2.2; X.5.4 invalid command arguments. */
    [SMTPKIT_R_PARAM_UNRECOGNIZED] = {555, "5.5.4",
                                      "MAIL FROM/RCPT TO parameters not recognized or not "
                                      "implemented"},
};

/* Every enum value has an entry (a missing one would be {0, NULL, NULL}). */
typedef char smtpkit__std_table_complete[SMTPKIT_ARRAY_LEN(std_replies) == SMTPKIT_R__COUNT ? 1
                                                                                           : -1];

const smtpkit_std_reply *smtpkit_std_reply_get(smtpkit_std id)
{
    int i = (int)id;
    if (i < 0 || i >= (int)SMTPKIT_R__COUNT)
        return NULL;
    return &std_replies[i];
}

const char *smtpkit_default_esc(int code)
{
    /* RFC 3463 3.1: the class is the reply's first digit; 3yz has none. */
    if (code < 200 || code > 599 || (code / 10) % 10 > 5)
        return NULL;
    switch (code / 100) {
    case 2: return "2.0.0";
    case 4: return "4.0.0";
    case 5: return "5.0.0";
    default: return NULL;
    }
}
