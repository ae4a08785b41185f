#!/usr/bin/python3
"""smtpkit-send and smtpkit_send() against Python's aiosmtpd (Debian's
python3-aiosmtpd): no PIPELINING there, so this is the lock-step path, with
SIZE, 8BITMIME and SMTPUTF8 offered. Messages are compared byte for byte
with what the handler receives."""
import hashlib
import os
import ssl
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from send_common import (check, dotty_message, finish, free_port, mbedtls_built, run, tmpdir,
                         tool, wire_form, wait_port)

try:
    from aiosmtpd.controller import Controller
except ImportError:
    print("FAIL python3-aiosmtpd is not installed (a missing peer is a failure)")
    sys.exit(1)

SEND = tool("smtpkit-send")
API = tool("send_api")
work = tmpdir("send_aiosmtpd")


class Handler:
    """Stores every message; refuses bad*@ with 550 and tmp*@ with 450,
    and the data of a message whose sender is reject-data@ with 554."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bad"):
            return "550 5.1.1 No such user here"
        if address.startswith("tmp"):
            return "450 4.2.1 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if envelope.mail_from.startswith("reject-data"):
            return "554 5.6.0 Message refused"
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.mail_options),
                                  list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 2.0.0 Message accepted for delivery"

    def take(self):
        with self.lock:
            m, self.messages = self.messages, []
        return m


def start(**kw):
    h = Handler()
    port = free_port()
    c = Controller(h, hostname="127.0.0.1", port=port, **kw)
    c.start()
    if not wait_port("127.0.0.1", port):
        print("FAIL aiosmtpd did not start")
        sys.exit(1)
    return c, h, "127.0.0.1:%d" % port


def send(server, args, msg=None, file=None):
    cmd = [SEND, "--server", server, "--timeout", "30"] + args + ([file] if file else [])
    return run(cmd, stdin=msg)


ctl, h, server = start(enable_SMTPUTF8=True)
try:
    # 1. dot lines and odd line ends, from stdin
    msg = b"Subject: dots\n\n.\n..\n.x\r\nbare\rcr\n\r\n.\r\nno final newline"
    code, out, err = send(server, ["--from", "a@example.org", "--to", "b@example.net"], msg)
    check(code == 0, "stdin: exit 0 (%s)" % err.strip())
    m = h.take()
    if check(len(m) == 1, "stdin: one message received"):
        check(m[0][3] == wire_form(msg), "stdin: byte-exact (CRLF-normalised, dots restored)")
        check(m[0][0] == "a@example.org" and m[0][2] == ["b@example.net"], "stdin: envelope")
        # a pipe is spooled (smtpkit-send): size known, 7-bit found by the scan
        check(m[0][1] == ["SIZE=%d" % len(msg)], "stdin: MAIL parameters %r" % m[0][1])

    # 2. from a file: SIZE= known, 7-bit found by the scan (no BODY=)
    path = os.path.join(work, "m.eml")
    with open(path, "wb") as f:
        f.write(msg)
    code, out, err = send(server, ["--from", "a@example.org", "--to", "b@example.net"],
                          file=path)
    m = h.take()
    check(code == 0 and len(m) == 1 and m[0][3] == wire_form(msg), "file: accepted, byte-exact")
    if m:
        check(m[0][1] == ["SIZE=%d" % len(msg)], "file: SIZE=%d, no BODY (%r)" % (len(msg), m[0][1]))

    # 3. 8-bit body from a file: BODY=8BITMIME
    m8 = "Subject: caf\u00e9\n\nna\u00efve \u00fcml\u00e4ut\n".encode()
    p8 = os.path.join(work, "8bit.eml")
    with open(p8, "wb") as f:
        f.write(m8)
    code, out, err = send(server, ["--from", "a@example.org", "--to", "b@example.net"], file=p8)
    m = h.take()
    check(code == 0 and len(m) == 1 and m[0][3] == wire_form(m8), "8-bit: accepted, byte-exact")
    if m:
        check("BODY=8BITMIME" in m[0][1], "8-bit: BODY=8BITMIME (%r)" % m[0][1])

    # 4. a UTF-8 recipient: SMTPUTF8 on MAIL (RFC 6531)
    code, out, err = send(server, ["--from", "a@example.org", "--to", "j\u00fcrgen@example.net"],
                          msg)
    m = h.take()
    check(code == 0 and len(m) == 1, "SMTPUTF8: accepted (%s)" % err.strip())
    if m:
        check("SMTPUTF8" in m[0][1] and m[0][2] == ["j\u00fcrgen@example.net"],
              "SMTPUTF8: parameter and address (%r %r)" % (m[0][1], m[0][2]))

    # 5. 10 MB with dot lines, byte-exact, through smtpkit-send and smtpkit_send()
    big = dotty_message(10 * 1024 * 1024, seed=5)
    bigpath = os.path.join(work, "big.eml")
    with open(bigpath, "wb") as f:
        f.write(big)
    want = hashlib.sha256(wire_form(big)).hexdigest()
    code, out, err = send(server, ["--from", "a@example.org", "--to", "b@example.net"], big)
    m = h.take()
    check(code == 0 and len(m) == 1 and hashlib.sha256(m[0][3]).hexdigest() == want,
          "10 MB via smtpkit-send: byte-exact (%s)" % err.strip())
    code, out, err = run([API, "-f", bigpath, "127.0.0.1", server.split(":")[1],
                          "a@example.org", "b@example.net"])
    m = h.take()
    check(code == 0 and len(m) == 1 and hashlib.sha256(m[0][3]).hexdigest() == want,
          "10 MB via smtpkit_send(): byte-exact (%s)" % out.strip())
    if m:
        check(m[0][1] == ["SIZE=%d" % len(big), "BODY=8BITMIME"],
              "10 MB via smtpkit_send(): SIZE and BODY (%r)" % m[0][1])

    # 6. one recipient refused: the message goes to the others; exit 69
    code, out, err = send(server, ["--from", "a@example.org", "--to", "b@example.net",
                                   "--to", "bad@example.net"], msg)
    m = h.take()
    check(code == 69, "partial refusal: exit 69 (got %d)" % code)
    check("<b@example.net>: 250 2.1.5 OK\n<bad@example.net>: 550 5.1.1 No such user here\n"
          "message: 250 2.0.0 Message accepted for delivery\n" == out,
          "partial refusal: output %r" % out)
    check(len(m) == 1 and m[0][2] == ["b@example.net"], "partial refusal: delivered to b only")
    code, out, err = run([API, "127.0.0.1", server.split(":")[1], "a@example.org",
                          "b@example.net", "bad@example.net"], b"x\n")
    h.take()
    check(code == 2 and "result -13 1 message 250" in out,
          "smtpkit_send() partial: REJECTED error, PARTIAL status (%r)" % out)

    # 7. temporary refusal only: exit 75; mixed 4xx and 5xx: permanent wins
    code, out, err = send(server, ["--from", "a@example.org", "--to", "tmp@example.net"], msg)
    check(code == 75 and "message: not sent (no recipient accepted)" in out,
          "temporary refusal: exit 75 (%d %r)" % (code, out))
    code, out, err = send(server, ["--from", "a@example.org", "--to", "tmp@example.net",
                                   "--to", "bad@example.net"], msg)
    check(code == 69, "4xx and 5xx: exit 69 (got %d)" % code)
    # data refused after the recipients were accepted
    code, out, err = send(server, ["--from", "reject-data@example.org", "--to",
                                   "b@example.net"], msg)
    check(code == 69 and "message: 554 5.6.0 Message refused" in out,
          "data refused: exit 69 (%d %r)" % (code, out))
    check(h.take() == [], "refusals: nothing stored")

    # 8. -v shows the conversation, not the body
    code, out, err = send(server, ["-v", "--from", "a@example.org", "--to", "b@example.net"],
                          msg)
    h.take()
    check(code == 0 and "C: MAIL FROM:<a@example.org> SIZE=%d\n" % len(msg) in err and
          "S: 354 End data with <CR><LF>.<CR><LF>\n" in err and
          "C: <%d bytes of message>\n" % len(wire_form(msg).replace(b"\n.", b"\n..")) in err and
          "no final newline" not in err, "-v: conversation on stderr without the body")
finally:
    ctl.stop()

# 9. a server with a SIZE limit (aiosmtpd always offers SMTPUTF8 with
#    decode_data=False: the refusal without it is tested against smtp-sink)
ctl, h, server = start(data_size_limit=1000)
try:
    big = dotty_message(10000, seed=9)
    bpath = os.path.join(work, "10k.eml")
    with open(bpath, "wb") as f:
        f.write(big)
    code, out, err = send(server, ["--from", "a@example.org", "--to", "b@example.net"],
                          file=bpath)
    check(code == 69 and "exceeds" in err, "SIZE: refused locally, exit 69 (%d %s)" % (code, err.strip()))
    code, out, err = send(server, ["--from", "a@example.org", "--to", "b@example.net"], big)
    check(code == 69 and "exceeds" in err,
          "SIZE from stdin (spooled, size known): refused locally, exit 69 (%d %r)" % (code, err))
    check(h.take() == [], "SIZE: nothing stored")
finally:
    ctl.stop()

# 10. with TLS built in: STARTTLS (RFC 3207), AUTH after it, implicit TLS
#     (RFC 8314), certificate checks. Without it, smtp-sink's test checks
#     that --starttls/--tls/--auth are refused with exit 69.
if mbedtls_built():
    crt, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", crt, "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost"], capture_output=True)
    check(r.returncode == 0, "openssl made a test certificate")
    tctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tctx.load_cert_chain(crt, key)

    def auth_cb(mech, login, password):
        return login == b"user" and password == b"secret"

    ctl, h, server = start(tls_context=tctx, require_starttls=True, auth_callback=auth_cb)
    server = server.replace("127.0.0.1", "localhost")
    try:
        code, out, err = send(server, ["-v", "--starttls", "--cafile", crt, "--from",
                                       "a@example.org", "--to", "b@example.net"], msg)
        m = h.take()
        check(code == 0 and len(m) == 1 and m[0][3] == wire_form(msg),
              "STARTTLS with --cafile: accepted, byte-exact (%s)" % err[-200:])
        check("C: STARTTLS\n" in err and err.count("C: EHLO") == 2,
              "STARTTLS: EHLO again after the handshake")
        code, out, err = send(server, ["--starttls", "--from", "a@example.org", "--to",
                                       "b@example.net"], msg)
        check(code == 75 and "certificate" in err and h.take() == [],
              "STARTTLS with an untrusted certificate: refused, exit 75 (%s)" % err.strip())
        code, out, err = send(server, ["-v", "--starttls", "--cafile", crt, "--auth",
                                       "user:secret", "--from", "a@example.org", "--to",
                                       "b@example.net"], msg)
        check(code == 0 and len(h.take()) == 1 and "C: AUTH PLAIN ****\n" in err and
              "secret" not in err and "dXNlcgBzZWNyZXQ" not in err,
              "AUTH after STARTTLS: accepted, credentials masked in -v")
        code, out, err = send(server, ["--starttls", "--cafile", crt, "--auth", "user:wrong",
                                       "--from", "a@example.org", "--to", "b@example.net"], msg)
        check(code == 69 and "535" in err and h.take() == [],
              "AUTH refused (535): exit 69, nothing sent (%s)" % err.strip())
    finally:
        ctl.stop()
    h = Handler()
    port = free_port()
    ictx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ictx.load_cert_chain(crt, key)
    ctl = Controller(h, hostname="127.0.0.1", port=port, ssl_context=ictx)
    ctl.start()
    try:
        code, out, err = send("localhost:%d" % port, ["--tls", "--cafile", crt, "--from",
                                                      "a@example.org", "--to", "b@example.net"],
                              msg)
        m = h.take()
        check(code == 0 and len(m) == 1 and m[0][3] == wire_form(msg),
              "implicit TLS: accepted, byte-exact (%s)" % err.strip())
    finally:
        ctl.stop()

finish()
