#!/usr/bin/env python3
"""smtpkit-send with TLS and AUTH: against aiosmtpd (STARTTLS and implicit TLS,
AUTH required; PLAIN, LOGIN, CRAM-MD5, XOAUTH2 and the automatic choice) and
against smtpkit-recv (each mechanism, --auth-file); and what it refuses:
expired, wrong-name and untrusted certificates (unless --insecure), AUTH
without TLS, a server without STARTTLS when --starttls is asked (nothing of
the envelope or the credentials goes out in clear), a wrong password (535,
nothing delivered), and reply bytes injected after the 220 to STARTTLS."""
import glob
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

BIN = os.environ["SMTPKIT_BIN_DIR"]
SRC = os.environ["SMTPKIT_SOURCE_DIR"]
WORK = tempfile.mkdtemp(prefix="smtpkit-tls-send-")
CERTS = os.path.join(WORK, "certs")
subprocess.run(["bash", os.path.join(SRC, "tests/interop/tls_certs.sh"), CERTS], check=True)
CA = os.path.join(CERTS, "ca.pem")
PW = "tanstaaftanstaaf"
MSG = os.path.join(WORK, "msg.eml")
with open(MSG, "w") as f:
    f.write("From: tim@example.org\nTo: rcpt@example.net\nSubject: tls\n\nover TLS\n.leading dot\n")

failures = 0
procs = []


def check(cond, what, detail=""):
    global failures
    print(("ok   - " if cond else "FAIL - ") + what + ("" if cond else "  " + str(detail)[-2500:]))
    if not cond:
        failures += 1


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def send(port, *args, server="localhost"):
    r = subprocess.run([os.path.join(BIN, "smtpkit-send"), "--server", "%s:%d" % (server, port),
                        "--from", "tim@example.org", "--to", "rcpt@example.net", "--timeout", "20"]
                       + list(args) + [MSG], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def aiosmtpd(implicit=False):
    port = free_port()
    out = tempfile.mkdtemp(dir=WORK)
    cmd = ["/usr/bin/python3", os.path.join(SRC, "tests/interop/tls_aiosmtpd.py"), str(port),
           os.path.join(CERTS, "server.pem"), os.path.join(CERTS, "server.key"), out]
    if implicit:
        cmd.append("--implicit")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    procs.append(p)
    assert p.stdout.readline().strip() == "ready"
    return port, out


def infos(d):
    res = []
    for path in sorted(glob.glob(os.path.join(d, "*.info")), key=lambda x: int(os.path.basename(x)[:-5])):
        with open(path) as f:
            res.append(f.read().split())
    return res


def recv(cert="server.pem", *extra):
    md = tempfile.mkdtemp(dir=WORK)
    users = os.path.join(WORK, "users")
    with open(users, "w") as f:
        f.write("tim:%s\n" % PW)
    p = subprocess.Popen([os.path.join(BIN, "smtpkit-recv"), "--listen", "127.0.0.1:0", "--maildir", md,
                          "--hostname", "mx.test", "--tls-cert", os.path.join(CERTS, cert),
                          "--tls-key", os.path.join(CERTS, "server.key"), "--auth-file", users,
                          "--quiet"] + list(extra),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    procs.append(p)
    line = p.stdout.readline()
    return int(line.rsplit(":", 1)[1]), md


def mails(md):
    return sorted(glob.glob(os.path.join(md, "new", "*")))


try:
    # ---- aiosmtpd, STARTTLS, AUTH required
    port, out = aiosmtpd()
    cases = [("PLAIN", PW), ("LOGIN", PW), ("CRAM-MD5", PW), ("XOAUTH2", "ya29.test-token"), (None, PW)]
    for mech, secret in cases:
        args = ["--starttls", "--cafile", CA, "--auth", "tim:" + secret]
        if mech:
            args += ["--auth-mech", mech]
        rc, o = send(port, *args)
        got = infos(out)
        want = mech or "CRAM-MD5"  # the best aiosmtpd offers here
        check(rc == 0 and got and got[-1] == [want, "tim", "tls"],
              "smtpkit-send --starttls --auth%s -> aiosmtpd (used %s)" % (" --auth-mech " + mech if mech else "", want),
              (o, got))
    with open(sorted(glob.glob(os.path.join(out, "*.eml")))[-1], "rb") as f:
        body = f.read()
    check(b"\n.leading dot" in body and b"..leading" not in body, "dot-stuffing undone by aiosmtpd", body)

    # wrong password: 535, nothing delivered, exit 69 (permanent)
    n = len(infos(out))
    rc, o = send(port, "--starttls", "--cafile", CA, "--auth", "tim:wrong", "--auth-mech", "PLAIN")
    check(rc == 69 and "535" in o and len(infos(out)) == n, "wrong password: 535, exit 69, nothing sent", o)

    # ---- aiosmtpd, implicit TLS (RFC 8314)
    port2, out2 = aiosmtpd(implicit=True)
    rc, o = send(port2, "--tls", "--cafile", CA, "--auth", "tim:" + PW, "--auth-mech", "LOGIN")
    check(rc == 0 and infos(out2) == [["LOGIN", "tim", "tls"]], "smtpkit-send --tls --auth -> aiosmtpd", o)

    # ---- smtpkit-recv, STARTTLS and implicit, each mechanism, --auth-file
    rport, md = recv("server.pem", "--require-tls", "--require-auth")
    for i, mech in enumerate(["PLAIN", "LOGIN", "CRAM-MD5"]):
        rc, o = send(rport, "--starttls", "--cafile", CA, "--auth", "tim:" + PW, "--auth-mech", mech)
        check(rc == 0 and len(mails(md)) == i + 1, "smtpkit-send --starttls --auth-mech %s -> smtpkit-recv" % mech, o)
    authfile = os.path.join(WORK, "cred")
    with open(authfile, "w") as f:
        f.write("# credentials\n\ntim:%s\n" % PW)
    rc, o = send(rport, "--starttls", "--cafile", CA, "--auth-file", authfile, "-v")
    check(rc == 0 and len(mails(md)) == 4, "--auth-file, mechanism chosen -> smtpkit-recv", o)
    check("AUTH CRAM-MD5" in o and PW not in o, "the conversation log shows no secret", o)
    with open(mails(md)[-1]) as f:
        m = f.read()
    check("with ESMTPSA" in m and "over TLS\n..leading dot" not in m and "\n.leading dot" in m,
          "smtpkit-recv stored it with ESMTPSA, dots intact", m[:400])
    # a mechanism the server does not offer (smtpkit-recv has no XOAUTH2)
    rc, o = send(rport, "--starttls", "--cafile", CA, "--auth", "tim:tok", "--auth-mech", "XOAUTH2")
    check(rc == 69 and len(mails(md)) == 4, "--auth-mech XOAUTH2 not offered: exit 69, nothing sent", o)
    rport2, md2 = recv("server.pem", "--implicit-tls", "--require-auth")
    rc, o = send(rport2, "--tls", "--cafile", CA, "--auth", "tim:" + PW)
    check(rc == 0 and len(mails(md2)) == 1, "smtpkit-send --tls -> smtpkit-recv --implicit-tls", o)

    # ---- certificates are verified by default
    for cert, why in [("expired.pem", "expired"), ("wrongname.pem", "Common Name"),
                      ("selfsigned.pem", "not correctly signed")]:
        p, d = recv(cert)
        rc, o = send(p, "--starttls", "--cafile", CA, "--auth", "tim:" + PW)
        check(rc == 75 and why in o and not mails(d), "refuses %s: %s" % (cert, why), o)
    p, d = recv("wrongname.pem")
    rc, o = send(p, "--starttls", "--insecure", "--auth", "tim:" + PW)
    check(rc == 0 and len(mails(d)) == 1, "--insecure accepts the wrong-name certificate", o)
    # the system CAs do not know our test CA
    p, d = recv("server.pem")
    rc, o = send(p, "--starttls")
    check(rc == 75 and "not correctly signed" in o and not mails(d), "default CAs: our test CA is untrusted", o)

    # ---- never in clear
    rc, o = send(rport, "--auth", "tim:" + PW)
    check(rc == 64 and "never sent in clear" in o, "--auth without TLS is refused before connecting", o)
    plain = subprocess.Popen([os.path.join(BIN, "smtpkit-recv"), "--listen", "127.0.0.1:0", "--sink",
                              "--quiet"], stdout=subprocess.PIPE, text=True)
    procs.append(plain)
    pport = int(plain.stdout.readline().rsplit(":", 1)[1])
    rc, o = send(pport, "--starttls", "--cafile", CA, "--auth", "tim:" + PW, "-v")
    check(rc != 0 and "C: MAIL" not in o and "C: AUTH" not in o and "C: QUIT" in o,
          "server without STARTTLS: QUIT, no MAIL and no AUTH in clear (exit %d)" % rc, o)

    # ---- reply bytes injected after the 220 to STARTTLS are discarded
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    iport = ls.getsockname()[1]
    seen = []

    def fake_server():
        c, _ = ls.accept()
        f = c.makefile("rb")
        c.sendall(b"220 fake ESMTP\r\n")
        f.readline()
        c.sendall(b"250-fake\r\n250 STARTTLS\r\n")
        f.readline()
        # the attack: a reply that would answer the client's next command
        c.sendall(b"220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(os.path.join(CERTS, "server.pem"), os.path.join(CERTS, "server.key"))
        t = ctx.wrap_socket(c, server_side=True)
        tf = t.makefile("rb")
        replies = {b"EHLO": b"250-fake\r\n250 AUTH PLAIN\r\n", b"AUTH": b"235 2.7.0 ok\r\n",
                   b"MAIL": b"250 2.1.0 ok\r\n", b"RCPT": b"250 2.1.5 ok\r\n", b"DATA": b"354 go\r\n",
                   b"QUIT": b"221 bye\r\n"}
        while True:
            line = tf.readline()
            if not line:
                break
            seen.append(line.rstrip(b"\r\n"))
            verb = line[:4].upper()
            if verb in replies:
                t.sendall(replies[verb])
                if verb == b"DATA":
                    while tf.readline() not in (b".\r\n", b""):
                        pass
                    t.sendall(b"250 2.0.0 queued\r\n")
                if verb == b"QUIT":
                    break
        t.close()

    th = threading.Thread(target=fake_server, daemon=True)
    th.start()
    rc, o = send(iport, "--starttls", "--cafile", CA, "--auth", "tim:" + PW, "--auth-mech", "PLAIN")
    th.join(10)
    verbs = [s_[:4] for s_ in seen]
    check(rc == 0 and verbs[:1] == [b"EHLO"] and b"AUTH" in verbs,
          "plaintext injected after 220 to STARTTLS is ignored; EHLO again over TLS", (o, seen))
finally:
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(WORK, ignore_errors=True)

print("%d failure(s)" % failures)
sys.exit(1 if failures else 0)
