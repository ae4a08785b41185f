#!/usr/bin/env python3
"""smtpkit-recv with TLS and AUTH against real clients: swaks (--tls,
--tls-on-connect, AUTH PLAIN/LOGIN/CRAM-MD5), openssl s_client -starttls smtp,
curl --ssl-reqd with a user, Python smtplib (starttls + login), and raw
sockets for the policies: no AUTH in clear, 530 before STARTTLS when TLS is
required, 535 5.7.8 and no mail for a wrong password, 421 after repeated
failures, and nothing answered for plain text pipelined after STARTTLS
(CVE-2011-0411). Certificates are made now by tls_certs.sh."""
import glob
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile

BIN = os.environ["SMTPKIT_BIN_DIR"]
SRC = os.environ["SMTPKIT_SOURCE_DIR"]
WORK = tempfile.mkdtemp(prefix="smtpkit-tls-recv-")
CERTS = os.path.join(WORK, "certs")
subprocess.run(["bash", os.path.join(SRC, "tests/interop/tls_certs.sh"), CERTS], check=True)
CA = os.path.join(CERTS, "ca.pem")
USERS = os.path.join(WORK, "users")
with open(USERS, "w") as f:
    f.write("# user:password\ntim:tanstaaftanstaaf\nalice:s3cret:with:colons\n")

failures = 0
procs = []


def check(cond, what, detail=""):
    global failures
    print(("ok   - " if cond else "FAIL - ") + what + ("" if cond else "  " + str(detail)[-2000:]))
    if not cond:
        failures += 1


def start_recv(*extra):
    """Start smtpkit-recv on a free port; returns (port, maildir, process)."""
    md = tempfile.mkdtemp(dir=WORK)
    p = subprocess.Popen([os.path.join(BIN, "smtpkit-recv"), "--listen", "127.0.0.1:0",
                          "--maildir", md, "--hostname", "mx.test",
                          "--tls-cert", os.path.join(CERTS, "server.pem"),
                          "--tls-key", os.path.join(CERTS, "server.key"),
                          "--auth-file", USERS] + list(extra),
                         stdout=subprocess.PIPE, stderr=open(os.path.join(WORK, "recv.err"), "a"),
                         text=True)
    procs.append(p)
    line = p.stdout.readline()
    assert line.startswith("listening on "), line
    return int(line.rsplit(":", 1)[1]), md, p


def mails(md):
    return sorted(glob.glob(os.path.join(md, "new", "*")))


def read_mail(path):
    with open(path, "rb") as f:
        return f.read().decode(errors="replace")


def swaks(port, *args):
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % port, "--from", "sender@example.org",
                        "--to", "rcpt@example.net", "--tls-verify", "--tls-ca-path", CA,
                        "--timeout", "20"] + list(args),
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def lines_until_final(sock):
    """Read one (multi-line) reply."""
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return data.decode()
        data += chunk
        lines = data.split(b"\r\n")
        for ln in lines[:-1]:
            if len(ln) >= 4 and ln[3:4] == b" ":
                return data.decode()


try:
    # ---- STARTTLS (RFC 3207) with every mechanism, TLS and AUTH required
    port, md, _ = start_recv("--require-tls", "--require-auth")
    for i, mech in enumerate(["PLAIN", "LOGIN", "CRAM-MD5"]):
        rc, out = swaks(port, "--tls", "--auth", mech, "--auth-user", "tim",
                        "--auth-password", "tanstaaftanstaaf")
        got = mails(md)
        check(rc == 0 and "235 2.7.0" in out and len(got) == i + 1,
              "swaks --tls --auth %s: 235 and the message is stored" % mech, out)
        if len(got) == i + 1:
            m = read_mail(got[-1])
            check("with ESMTPSA" in m, "Received: says ESMTPSA (%s)" % mech, m[:300])
    # a password with colons (only the first ':' separates the user)
    rc, out = swaks(port, "--tls", "--auth", "PLAIN", "--auth-user", "alice",
                    "--auth-password", "s3cret:with:colons")
    check(rc == 0 and "235 2.7.0" in out, "a password containing ':' works", out)

    # wrong password: 535 5.7.8 and no mail
    before = len(mails(md))
    rc, out = swaks(port, "--tls", "--auth", "LOGIN", "--auth-user", "tim", "--auth-password", "nope")
    check(rc != 0 and "535 5.7.8" in out and len(mails(md)) == before,
          "wrong password: 535 5.7.8, nothing stored", out)
    rc, out = swaks(port, "--tls", "--auth", "CRAM-MD5", "--auth-user", "tim", "--auth-password", "x")
    check(rc != 0 and "535 5.7.8" in out and len(mails(md)) == before,
          "wrong CRAM-MD5 digest: 535 5.7.8, nothing stored", out)

    # TLS but no AUTH while AUTH is required: 530 5.7.0 to MAIL
    rc, out = swaks(port, "--tls")
    check(rc != 0 and "530 5.7.0" in out and len(mails(md)) == before,
          "MAIL without AUTH when required: 530 5.7.0", out)

    # openssl s_client -starttls smtp verifies the chain; AUTH is offered after TLS only
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", "127.0.0.1:%d" % port,
                        "-CAfile", CA, "-verify_hostname", "localhost", "-verify_return_error",
                        "-quiet", "-ign_eof"],
                       input="EHLO client.test\r\nQUIT\r\n", capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "250 AUTH PLAIN LOGIN CRAM-MD5" in r.stdout
          and "STARTTLS" not in r.stdout,
          "openssl s_client -starttls smtp: verified, AUTH offered after TLS", r.stdout + r.stderr)

    # before TLS: no AUTH in EHLO, AUTH and MAIL get 530 5.7.0 (TLS required)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines_until_final(s)
    s.sendall(b"EHLO raw.test\r\n")
    ehlo = lines_until_final(s)
    s.sendall(b"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n")
    auth = lines_until_final(s)
    s.sendall(b"MAIL FROM:<a@b.test>\r\n")
    mail = lines_until_final(s)
    s.close()
    check("AUTH" not in ehlo and "STARTTLS" in ehlo, "EHLO in clear: STARTTLS, no AUTH", ehlo)
    check(auth.startswith("530 5.7.0"), "AUTH in clear refused when TLS is required: 530 5.7.0", auth)
    check(mail.startswith("530 5.7.0"), "MAIL before STARTTLS: 530 5.7.0", mail)

    # "STARTTLS\r\nNOOP\r\n" in one write: the NOOP is never answered (CVE-2011-0411)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines_until_final(s)
    s.sendall(b"EHLO raw.test\r\n")
    lines_until_final(s)
    s.sendall(b"STARTTLS\r\nNOOP\r\n")
    first = lines_until_final(s)
    ctx = ssl.create_default_context(cafile=CA)
    ts = ctx.wrap_socket(s, server_hostname="localhost")
    ts.sendall(b"EHLO after.tls\r\n")
    after = lines_until_final(ts)
    ts.sendall(b"QUIT\r\n")
    bye = lines_until_final(ts)
    ts.close()
    check(first.startswith("220 ") and "250" not in first, "220 to STARTTLS, nothing else in clear", first)
    check(after.startswith("250-mx.test") and "AUTH PLAIN" in after,
          "after the handshake the first reply is EHLO's (the NOOP was dropped)", after)
    check(bye.startswith("221"), "QUIT after TLS", bye)

    # three failed exchanges: 421 and the connection closes
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    lines_until_final(s)
    s.sendall(b"EHLO raw.test\r\n")
    lines_until_final(s)
    s.sendall(b"STARTTLS\r\n")
    lines_until_final(s)
    ts = ctx.wrap_socket(s, server_hostname="localhost")
    ts.sendall(b"EHLO raw.test\r\n")
    lines_until_final(ts)
    replies = []
    for _ in range(3):
        ts.sendall(b"AUTH PLAIN AHRpbQB3cm9uZw==\r\n")
        replies.append(lines_until_final(ts))
    try:
        tail = ts.recv(100)
    except (ConnectionError, ssl.SSLError):
        tail = b""
    ts.close()
    check(replies[0].startswith("535 5.7.8") and replies[1].startswith("535 5.7.8")
          and replies[2].startswith("421 4.7.0") and tail == b"",
          "third failure: 421 4.7.0 and the connection is closed", replies)

    # curl --ssl-reqd with a user (it picks the mechanism)
    msgfile = os.path.join(WORK, "curl.eml")
    with open(msgfile, "w") as f:
        f.write("From: a@example.org\r\nTo: b@example.net\r\nSubject: curl\r\n\r\nvia curl\r\n")
    before = len(mails(md))
    r = subprocess.run(["curl", "-sS", "--ssl-reqd", "--cacert", CA, "--url",
                        "smtp://localhost:%d" % port, "--user", "tim:tanstaaftanstaaf",
                        "--mail-from", "a@example.org", "--mail-rcpt", "b@example.net",
                        "-T", msgfile], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and len(mails(md)) == before + 1 and "via curl" in read_mail(mails(md)[-1]),
          "curl --ssl-reqd --user: delivered", r.stderr)

    # Python smtplib: starttls() and login()
    before = len(mails(md))
    c = smtplib.SMTP("localhost", port, timeout=20)
    c.starttls(context=ssl.create_default_context(cafile=CA))
    c.login("tim", "tanstaaftanstaaf")
    refused = c.sendmail("py@example.org", ["rcpt@example.net"],
                         "From: py@example.org\r\nSubject: smtplib\r\n\r\nvia smtplib\r\n")
    c.quit()
    check(refused == {} and len(mails(md)) == before + 1 and "via smtplib" in read_mail(mails(md)[-1]),
          "smtplib starttls() + login(): delivered", refused)
    try:
        c = smtplib.SMTP("localhost", port, timeout=20)
        c.starttls(context=ssl.create_default_context(cafile=CA))
        c.ehlo()
        # smtplib tries every offered mechanism in turn; one is enough here
        c.esmtp_features["auth"] = "LOGIN"
        c.login("tim", "wrong")
        check(False, "smtplib login with a wrong password fails")
    except smtplib.SMTPAuthenticationError as e:
        check(e.smtp_code == 535, "smtplib login with a wrong password: 535", e)

    # ---- implicit TLS (RFC 8314): swaks --tls-on-connect
    port2, md2, _ = start_recv("--implicit-tls", "--require-auth")
    for i, mech in enumerate(["PLAIN", "LOGIN", "CRAM-MD5"]):
        rc, out = swaks(port2, "--tls-on-connect", "--auth", mech, "--auth-user", "tim",
                        "--auth-password", "tanstaaftanstaaf")
        check(rc == 0 and "235 2.7.0" in out and len(mails(md2)) == i + 1,
              "swaks --tls-on-connect --auth %s" % mech, out)
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port2, "-CAfile", CA,
                        "-verify_hostname", "localhost", "-verify_return_error", "-quiet",
                        "-ign_eof"], input="EHLO c.test\r\nQUIT\r\n", capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 0 and r.stdout.startswith("220 mx.test") and "STARTTLS" not in r.stdout
          and "AUTH PLAIN LOGIN CRAM-MD5" in r.stdout,
          "implicit TLS: greeting over TLS, no STARTTLS offered, AUTH offered", r.stdout + r.stderr)

    # ---- TLS offered but not required: AUTH in clear is not offered, 538 if tried
    port3, md3, _ = start_recv()
    s = socket.create_connection(("127.0.0.1", port3), timeout=10)
    lines_until_final(s)
    s.sendall(b"EHLO raw.test\r\n")
    ehlo = lines_until_final(s)
    s.sendall(b"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm\r\n")
    auth = lines_until_final(s)
    s.close()
    check("AUTH" not in ehlo and auth.startswith("538 5.7.11"),
          "AUTH in clear (TLS offered, not required): not offered, 538 5.7.11", ehlo + auth)
    rc, out = swaks(port3, "--tls")
    check(rc == 0 and len(mails(md3)) == 1 and "with ESMTPS " in read_mail(mails(md3)[0]),
          "mail over TLS without AUTH: Received says ESMTPS", out)
finally:
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    with open(os.path.join(WORK, "recv.err")) as f:
        log = f.read()
    if failures:
        print("smtpkit-recv log:\n" + log[-3000:])
    shutil.rmtree(WORK, ignore_errors=True)

print("%d failure(s)" % failures)
sys.exit(1 if failures else 0)
