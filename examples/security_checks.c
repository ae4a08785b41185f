/*
 * security_checks: the attacks of docs/security.md, played against the
 * library, each with the defence that stops it. Core only: sessions and
 * the message builder are driven in memory.
 *
 *   usage: security_checks      prints one line per attack; exit 0 when
 *                               every defence held, 1 otherwise
 */
#include <stdio.h>
#include <string.h>

#include "smtpkit/smtpkit.h"

static int failures;

static void report(int held, const char *attack, const char *what)
{
    printf("%s %-44s %s\n", held ? "held  " : "FAILED", attack, what);
    if (!held)
        failures++;
}

/* ---- a server session fed in memory ------------------------------------ */

typedef struct probe {
    int mails;     /* MAIL commands the application saw */
    int messages;  /* messages accepted */
    int aborted;   /* messages dropped by the session */
    char out[4096];
    size_t outlen;
} probe;

static int on_mail(void *user, const smtpkit_server_mail *m, smtpkit_server_decision *d)
{
    probe *p = user;
    (void)m;
    (void)d;
    p->mails++;
    return 0;
}

static int on_data_end(void *user, const smtpkit_server_message *m, smtpkit_server_decision *d)
{
    probe *p = user;
    (void)m;
    (void)d;
    p->messages++;
    return 0;
}

static void on_abort(void *user, int reason)
{
    probe *p = user;
    (void)reason;
    p->aborted++;
}

/* Refuse every recipient with a reply text an attacker chose. */
static const char *evil_text;
static int on_rcpt(void *user, const smtpkit_server_rcpt *r, smtpkit_server_decision *d)
{
    (void)user;
    (void)r;
    if (evil_text) {
        d->code = 550;
        d->text = evil_text;
    }
    return 0;
}

static const smtpkit_server_callbacks probe_cb = {
    NULL, NULL, on_mail, on_rcpt, NULL, NULL, on_data_end, on_abort, NULL, NULL, NULL, NULL};

/* Feed everything (taking output as it comes), collect the replies. */
static void run(smtpkit_server *s, probe *p, const char *in)
{
    size_t len = strlen(in), off = 0;
    for (;;) {
        const char *o;
        size_t n;
        smtpkit_ssize r;
        while ((n = smtpkit_server_output(s, &o)) > 0) {
            if (n > sizeof p->out - p->outlen)
                n = sizeof p->out - p->outlen;
            memcpy(p->out + p->outlen, o, n);
            p->outlen += n;
            smtpkit_server_output_done(s, n);
        }
        if (off == len)
            break;
        r = smtpkit_server_feed(s, in + off, len - off);
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    p->out[p->outlen < sizeof p->out ? p->outlen : sizeof p->out - 1] = '\0';
}

static smtpkit_server *session(probe *p, unsigned flags)
{
    static smtpkit_server_config cfg;
    smtpkit_server *s;
    smtpkit_server_config_init(&cfg);
    cfg.hostname = "mx.example";
    cfg.flags = flags | SMTPKIT_SERVER_NO_RECEIVED;
    memset(p, 0, sizeof *p);
    s = smtpkit_server_new(&cfg, &probe_cb, p, NULL);
    if (s)
        smtpkit_server_start(s, 0);
    return s;
}

static void smuggling(void)
{
    /* CVE-2023-51764/5/6: a bare-LF "end of data" hides a second message
     * that a lenient server would accept as if it came from this client. */
    static const char *const variants[] = {"\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r\n.\r"};
    size_t i;
    for (i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        char in[512], name[64];
        probe p;
        smtpkit_server *s = session(&p, 0);
        snprintf(in, sizeof in,
                 "EHLO attacker.example\r\nMAIL FROM:<a@attacker.example>\r\n"
                 "RCPT TO:<b@example.net>\r\nDATA\r\nSubject: one\r\n\r\nhello%s"
                 "MAIL FROM:<ceo@example.net>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
                 "Subject: forged\r\n\r\nsend money\r\n.\r\nQUIT\r\n",
                 variants[i]);
        run(s, &p, in);
        snprintf(name, sizeof name, "SMTP smuggling, end of data as %s",
                 i == 0 ? "LF.LF" : i == 1 ? "LF.CRLF" : i == 2 ? "CRLF.LF" : i == 3 ? "CR.CR" : "CRLF.CR");
        report(p.mails == 1 && p.messages == 0 && strstr(p.out, "550 5.6.0") != NULL, name,
               "one MAIL, the message refused whole (550 5.6.0)");
        smtpkit_server_free(s);
    }
}

static void starttls_injection(void)
{
    /* CVE-2011-0411: commands pipelined after STARTTLS, in clear text,
     * must not be executed after the handshake as if they were protected. */
    probe p;
    smtpkit_server *s = session(&p, SMTPKIT_SERVER_STARTTLS);
    run(s, &p, "EHLO client.example\r\nSTARTTLS\r\nMAIL FROM:<injected@attacker.example>\r\n");
    report((smtpkit_server_want(s) & SMTPKIT_SERVER_WANT_STARTTLS) && p.mails == 0 &&
               strstr(p.out, "220 ") != NULL,
           "STARTTLS command injection (server)", "input after STARTTLS discarded");
    smtpkit_server_tls_started(s);
    p.outlen = 0;
    run(s, &p, "MAIL FROM:<a@example.org>\r\n");
    report(p.mails == 0 && strncmp(p.out, "503", 3) == 0, "state after STARTTLS",
           "forgotten: MAIL before a new EHLO gets 503");
    smtpkit_server_free(s);
}

static void reply_injection(void)
{
    /* An application passes text it got from elsewhere into a reply. */
    probe p;
    smtpkit_server *s;
    evil_text = "no such user\r\n250 2.1.5 fake acceptance";
    s = session(&p, 0);
    run(s, &p, "EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n");
    report(strstr(p.out, "\r\n250 2.1.5 fake") == NULL && strstr(p.out, "550 ") != NULL,
           "reply injection through decision text", "every line keeps the 550 code");
    evil_text = NULL;
    smtpkit_server_free(s);
}

static void header_injection(void)
{
    smtpkit_message *m = smtpkit_message_new(NULL);
    smtpkit_rcpt rcpt;
    smtpkit_envelope env;
    int r1, r2, r3, r4;
    r1 = smtpkit_message_set_subject(m, "Hello\r\nBcc: victim@example.net");
    r2 = smtpkit_message_add_header(m, "X-Note", "ok\nContent-Type: text/html");
    r3 = smtpkit_message_add_to(m, "bob@example.net>\r\nBcc: <victim@example.net", NULL);
    smtpkit_message_free(m);
    report(r1 == SMTPKIT_ERR_INJECTION && r2 == SMTPKIT_ERR_INJECTION &&
               r3 == SMTPKIT_ERR_INJECTION,
           "header injection (subject, header, address)", "refused: SMTPKIT_ERR_INJECTION");

    memset(&rcpt, 0, sizeof rcpt);
    rcpt.mailbox = "bob@example.net>\r\nRCPT TO:<victim@example.net";
    memset(&env, 0, sizeof env);
    env.from = "ann@example.org";
    env.rcpts = &rcpt;
    env.nrcpts = 1;
    r4 = smtpkit_envelope_check(&env);
    report(r4 == SMTPKIT_ERR_INJECTION, "command injection through an address",
           "refused before anything is sent");
}

int main(void)
{
    smuggling();
    starttls_injection();
    reply_injection();
    header_injection();
    printf("%s\n", failures ? "security_checks: a defence FAILED" : "security_checks: every defence held");
    return failures ? 1 : 0;
}
