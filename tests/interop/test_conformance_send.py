"""smtpkit-send as an outside tester sees it: the program against small fake
servers (raw sockets, scripted replies, every byte recorded), one assertion
per rule: the command line of issues 4-6 (flags, exit codes 0/64/65/66/69/75,
one output line per recipient), RFC 5321 (3.1 greeting, 3.3 transaction,
4.1.1.1 HELO fallback, 4.2 replies, 4.5.2 dot-stuffing, 4.5.3.2 timeouts,
3.8 421), RFC 2920 (pipelining or lock-step), RFC 1870, 6152, 6531, 2033,
3207, 4954 (credentials masked in -v) and sendmail -t (Bcc, Resent-*)."""
import base64
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.environ.get("SMTPKIT_BIN_DIR", "")
BUILD = os.environ.get("SMTPKIT_BUILD_DIR", "")
SRC = os.environ.get("SMTPKIT_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                        "..", ".."))
SEND = os.path.join(BIN, "smtpkit-send")
FAILURES = []
WORK = tempfile.mkdtemp(prefix="smtpkit-conf-send-")

CAPS = ["PIPELINING", "SIZE 10000000", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN"]


def check(cond, what, detail=""):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what + ("  -- " + repr(detail)[-1500:] if detail != "" else ""))
        FAILURES.append(what)
    return cond


class Conn:
    """The server side of one connection."""

    def __init__(self, sock, fake):
        self.s = sock
        self.buf = b""
        self.fake = fake

    def send(self, text):
        if isinstance(text, str):
            text = text.encode()
        if not text.endswith(b"\n"):
            text += b"\r\n"
        self.fake.wire.append(("S", text))
        try:
            self.s.sendall(text)
        except OSError:
            pass

    def line(self, timeout=10.0):
        """The next line (without CRLF) or None on EOF/timeout; also says
        whether more bytes were already waiting behind it (pipelining)."""
        end = time.time() + timeout
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0 or not select.select([self.s], [], [], left)[0]:
                return None
            try:
                chunk = self.s.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.fake.wire.append(("C", line + b"\n"))
        return line[:-1] if line.endswith(b"\r") else line

    def more_waiting(self, wait=0.0):
        """Bytes sent by the client beyond the line just read?"""
        if self.buf:
            return True
        return bool(select.select([self.s], [], [], wait)[0])

    def data(self, timeout=10.0):
        """Message bytes up to CRLF.CRLF (returned without it, still stuffed)."""
        end = time.time() + timeout
        while b"\r\n.\r\n" not in b"\r\n" + self.buf:
            left = end - time.time()
            if left <= 0 or not select.select([self.s], [], [], left)[0]:
                return None
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        if self.buf.startswith(b".\r\n"):
            body, self.buf = b"", self.buf[3:]
        else:
            i = self.buf.index(b"\r\n.\r\n")
            body, self.buf = self.buf[:i + 2], self.buf[i + 5:]
        self.fake.wire.append(("D", body))
        return body


class Fake:
    """A scripted SMTP/LMTP server on a free port.

    script keys: greeting (str, or None for silence), caps (list; None: EHLO
    gets 502), helo (HELO reply), and per verb (MAIL, RCPT, DATA, DOT (the
    reply after the data: str, or list per recipient for LMTP), RSET, ...)
    a reply string or a list consumed one per use. Special replies: "CLOSE"
    (close the connection), "SILENT" (never answer)."""

    def __init__(self, script=None, family=socket.AF_INET, host="127.0.0.1", tls_ctx=None):
        self.script = dict(script or {})
        self.lock = threading.Lock()
        self.wire = []          # ("C"/"S"/"D", bytes)
        self.cmds = []          # (line str, more bytes were waiting)
        self.bodies = []
        self.conns = 0
        self.tls_ctx = tls_ctx
        self.ls = socket.socket(family, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((host, 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.addr = ("[%s]:%d" if family == socket.AF_INET6 else "%s:%d") % (host, self.port)
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def reply_for(self, key, default):
        v = self.script.get(key, default)
        if isinstance(v, list):
            if not v:
                return default
            return v.pop(0) if len(v) > 1 else v[0]
        return v

    def run(self):
        while not self.stop:
            try:
                self.ls.settimeout(0.2)
                s, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns += 1
            s.settimeout(None)
            if self.script.get("implicit_tls"):
                try:
                    s = self.tls_ctx.wrap_socket(s, server_side=True)
                except (OSError, ssl.SSLError) as e:
                    self.cmds.append(("<TLS handshake failed %r>" % e, False))
                    s.close()
                    continue
            try:
                self.serve(Conn(s, self))
            except Exception as e:  # noqa: a broken test server must show
                self.cmds.append(("<server exception %r>" % e, False))
            try:
                s.close()
            except OSError:
                pass

    def answer(self, c, text):
        if text == "CLOSE":
            c.s.close()
            return False
        if text == "SILENT":
            time.sleep(30)
            return False
        c.send(text)
        return True

    def serve(self, c):
        g = self.script.get("greeting", "220 fake.example ESMTP ready")
        if g is None:
            time.sleep(30)
            return
        c.send(g)
        lmtp = self.script.get("lmtp", False)
        nrcpt_ok = 0
        while True:
            line = c.line()
            if line is None:
                return
            text = line.decode("utf-8", "replace")
            more = c.more_waiting(self.script.get("wait", 0.03))
            self.cmds.append((text, more))
            verb = text.split(" ", 1)[0].upper()
            if verb in ("EHLO", "LHLO"):
                caps = self.script.get("caps", CAPS)
                if caps is None or (verb == "EHLO") == lmtp:
                    r = self.reply_for("EHLO", "502 5.5.1 Command not implemented")
                else:
                    lines = ["fake.example greets you"] + caps
                    r = "\r\n".join("250%s%s" % ("-" if i < len(lines) - 1 else " ", l)
                                    for i, l in enumerate(lines))
                if not self.answer(c, r):
                    return
            elif verb == "HELO":
                if not self.answer(c, self.reply_for("HELO", "250 fake.example")):
                    return
            elif verb == "MAIL":
                nrcpt_ok = 0
                if not self.answer(c, self.reply_for("MAIL", "250 2.1.0 Ok")):
                    return
            elif verb == "RCPT":
                r = self.reply_for("RCPT", "250 2.1.5 Ok")
                if r.startswith("2"):
                    nrcpt_ok += 1
                if not self.answer(c, r):
                    return
            elif verb == "DATA":
                r = self.reply_for("DATA", "354 End data with <CR><LF>.<CR><LF>" if nrcpt_ok or
                                   self.script.get("broken354") else "554 5.5.1 No valid recipients")
                if not self.answer(c, r):
                    return
                if not r.startswith("354"):
                    continue
                body = c.data()
                if body is None:
                    return
                self.bodies.append(body)
                dot = self.reply_for("DOT", "250 2.0.0 Ok: queued as FAKE1")
                if lmtp:
                    dots = dot if isinstance(dot, tuple) else (dot,) * nrcpt_ok
                    for d in dots:
                        if not self.answer(c, d):
                            return
                elif not self.answer(c, dot):
                    return
            elif verb == "RSET":
                if not self.answer(c, self.reply_for("RSET", "250 2.0.0 Ok")):
                    return
            elif verb == "QUIT":
                c.send("221 2.0.0 Bye")
                return
            elif verb == "STARTTLS" and self.tls_ctx:
                c.send("220 2.0.0 Ready to start TLS")
                c.s = self.tls_ctx.wrap_socket(c.s, server_side=True)
                c.buf = b""
            elif verb == "AUTH":
                r = self.reply_for("AUTH", "235 2.7.0 Authentication successful")
                if text.upper() == "AUTH LOGIN":
                    c.send("334 VXNlcm5hbWU6")
                    self.cmds.append((c.line().decode(), False))
                    c.send("334 UGFzc3dvcmQ6")
                    self.cmds.append((c.line().decode(), False))
                elif len(text.split()) == 2:
                    c.send("334 ")
                    self.cmds.append((c.line().decode(), False))
                if not self.answer(c, r):
                    return
            else:
                if not self.answer(c, self.reply_for(verb, "502 5.5.1 Command not implemented")):
                    return

    def verbs(self):
        return [t.split(" ", 1)[0].upper() for t, _ in self.cmds]

    def find(self, verb):
        return [t for t, _ in self.cmds if t.upper().startswith(verb)]

    def close(self):
        self.stop = True
        self.ls.close()
        self.t.join(2)


def send(server, args, msg=b"Subject: test\r\n\r\nhello\r\n", timeout=30, extra_env=None):
    cmd = [SEND] + (["--server", server] if server else []) + list(args)
    t0 = time.time()
    try:
        p = subprocess.run(cmd, input=msg, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "", "timeout", time.time() - t0
    return (p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"),
            time.time() - t0)


BASIC = ["--from", "a@example.org", "--to", "b@example.net", "--timeout", "10"]


def with_fake(script, args, msg=b"Subject: test\r\n\r\nhello\r\n", **kw):
    f = Fake(script, **kw)
    try:
        rc, out, err, dt = send(f.addr, args, msg)
        time.sleep(0.05)
    finally:
        f.close()
    return f, rc, out, err, dt


# --------------------------------------------------------------------------- command line

def test_cli():
    rc, out, err, _ = send(None, ["--help"])
    check(rc == 0, "--help: exit 0", rc)
    for flag in ("--server", "--starttls", "--tls", "--auth", "--auth-file", "--auth-mech", "--helo",
                 "--from", "--to", "--timeout", "-v", "-t", "--cafile", "--insecure", "--lmtp"):
        check(re.search(r"(^|[\s\[|])" + re.escape(flag) + r"([\s\]|=,]|$)", out) is not None,
              "--help mentions " + flag)
    f = Fake()
    usage = [
        [],
        ["--from", "a@example.org", "--to", "b@example.net"],                         # no --server
        ["--server", f.addr, "--to", "b@example.net"],                                # no --from
        ["--server", f.addr, "--from", "a@example.org"],                              # no --to
        ["--server", f.addr] + BASIC + ["--bogus"],
        ["--server", f.addr] + BASIC + ["--starttls", "--tls"],
        ["--server", f.addr] + BASIC + ["--timeout", "0"],
        ["--server", f.addr] + BASIC + ["--timeout", "soon"],
        ["--server", f.addr] + BASIC + ["--auth", "nocolon", "--starttls"],
        ["--server", f.addr] + BASIC + ["--auth", "u:p"],                               # no TLS
        ["--server", f.addr] + BASIC + ["--auth-mech", "PLAIN"],                        # no --auth
        ["--server", f.addr] + BASIC + ["--auth", "u:p", "--starttls", "--auth-mech", "NOPE"],
        ["--server", f.addr] + BASIC + ["one.eml", "two.eml"],
        ["--server", "127.0.0.1:0"] + BASIC,
        ["--server", "127.0.0.1:65536"] + BASIC,
        ["--server", "127.0.0.1:x"] + BASIC,
        ["--server", "[::1"] + BASIC,
        ["--server", "[::1]x"] + BASIC,
        ["--server", ""] + BASIC,
        ["--server"],
    ]
    for a in usage:
        rc, out, err, _ = send(None, a)
        check(rc == 64, "usage error exits 64 (EX_USAGE): %r" % a, (rc, err))
    for bad in ("a b@example.net", "b@example.net>", "b@example.net\r\nRCPT TO:<c@x>", "@example.net",
                "b@", "b@@example.net", "<b@example.net", "b@exa mple.net"):
        rc, out, err, _ = send(f.addr, ["--from", "a@example.org", "--to", bad])
        check(rc == 65, "invalid recipient %r exits 65 (EX_DATAERR)" % bad, (rc, err))
    rc, out, err, _ = send(f.addr, ["--from", "a@@example.org", "--to", "b@example.net"])
    check(rc == 65, "invalid sender exits 65", (rc, err))
    rc, out, err, _ = send(f.addr, BASIC + [os.path.join(WORK, "no-such-file.eml")])
    check(rc == 66, "unreadable message file exits 66 (EX_NOINPUT)", (rc, err))
    time.sleep(0.1)
    f.close()
    check(f.conns == 0, "no connection made for a usage error or a bad address", f.conns)


# --------------------------------------------------------------------------- the normal path

def test_basic():
    msg = b"Subject: dots\n\nline one\n.\n..two\n.three\r\nbare\rCR\nlast line without newline"
    f, rc, out, err, dt = with_fake({}, ["--from", "a@example.org", "--to", "b@example.net",
                                        "--to", "<c@example.net>", "--helo", "client.example"], msg)
    check(rc == 0, "all accepted: exit 0", (rc, out, err))
    lines = out.splitlines()
    check(lines == ["<b@example.net>: 250 2.1.5 Ok", "<c@example.net>: 250 2.1.5 Ok",
                    "message: 250 2.0.0 Ok: queued as FAKE1"],
          "one output line per recipient with its reply, then the message's", out)
    v = f.verbs()
    check(v[:5] == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA"] and v[-1] == "QUIT", "EHLO, MAIL, RCPT x2, DATA, QUIT", v)
    check(f.cmds[0][0] == "EHLO client.example", "--helo NAME is the EHLO argument", f.cmds[0])
    mail = f.find("MAIL")[0]
    check(re.match(r"MAIL FROM:<a@example\.org>( [A-Z0-9]+=?\S*)*$", mail) is not None,
          "MAIL FROM:<a@example.org> (RFC 5321 4.1.1.2)", mail)
    check(f.find("RCPT") == ["RCPT TO:<b@example.net>", "RCPT TO:<c@example.net>"],
          "RCPT TO:<...> for each --to, <a@b> taken as a@b", f.find("RCPT"))
    check(" SIZE=" in mail, "SIZE= on MAIL when the server offers SIZE (RFC 1870 5)", mail)
    m = re.search(r" SIZE=(\d+)", mail)
    if f.bodies and m:
        check(int(m.group(1)) >= len(f.bodies[0]) - 100, "SIZE= is not below the message size",
              (m.group(1), len(f.bodies[0])))
    more = dict(f.cmds)
    check(more.get(mail) is True, "PIPELINING offered: MAIL goes with RCPT and DATA (RFC 2920 3.1)", f.cmds)
    want = (b"Subject: dots\r\n\r\nline one\r\n..\r\n...two\r\n..three\r\nbare\r\nCR\r\n"
            b"last line without newline\r\n")
    check(f.bodies and f.bodies[0] == want,
          "the body: CRLF line ends, dots doubled, final CRLF added (RFC 5321 4.5.2, 2.3.8)",
          f.bodies[0] if f.bodies else None)
    # null sender, -v transcript
    f, rc, out, err, dt = with_fake({}, ["--from", "", "--to", "b@example.net", "-v"])
    check(rc == 0 and f.find("MAIL") and f.find("MAIL")[0].startswith("MAIL FROM:<>"),
          "--from \"\" sends MAIL FROM:<> (RFC 5321 4.5.5)", f.find("MAIL"))
    check(re.search(r"(?m)^S: 220 fake\.example", err) and re.search(r"(?m)^C: EHLO ", err)
          and re.search(r"(?m)^C: MAIL FROM:<>", err) and re.search(r"(?m)^S: 354", err)
          and re.search(r"(?m)^C: QUIT", err), "-v: the conversation as C:/S: lines on stderr", err)
    check("hello" not in err, "-v does not dump the message body", err)
    check("S: " not in out and "C: " not in out, "-v does not touch stdout", out)
    # the message from a FILE argument
    path = os.path.join(WORK, "m.eml")
    with open(path, "wb") as fh:
        fh.write(b"Subject: file\r\n\r\nfrom a file\r\n")
    f, rc, out, err, dt = with_fake({}, BASIC + [path], msg=b"")
    check(rc == 0 and f.bodies == [b"Subject: file\r\n\r\nfrom a file\r\n"], "FILE argument is the message",
          f.bodies)
    # IPv6
    try:
        f, rc, out, err, dt = with_fake({}, BASIC, family=socket.AF_INET6, host="::1")
        check(rc == 0 and f.conns == 1, "--server [::1]:PORT", (rc, err))
    except OSError as e:
        check(False, "IPv6 loopback available for --server [::1]:PORT", e)
    f = Fake()
    rc, out, err, _ = send("localhost:%d" % f.port, BASIC)
    f.close()
    check(rc == 0, "--server localhost:PORT (a host name)", (rc, err))


def test_fallbacks():
    for code in ("500 5.5.1 Command unrecognized", "502 5.5.1 Not implemented"):
        f, rc, out, err, dt = with_fake({"caps": None, "EHLO": code}, BASIC)
        v = f.verbs()
        check(rc == 0 and v[:2] == ["EHLO", "HELO"],
              "EHLO answered %s: HELO instead (RFC 5321 4.1.1.1, 3.2)" % code[:3], (rc, v, err))
        mail = f.find("MAIL")
        check(mail == ["MAIL FROM:<a@example.org>"], "after HELO: MAIL without ESMTP parameters", mail)
    # no PIPELINING: strict lock-step
    f, rc, out, err, dt = with_fake({"caps": ["8BITMIME", "SIZE 1000000"], "wait": 0.2},
                                    BASIC + ["--to", "c@example.net"])
    check(rc == 0, "without PIPELINING: sent", (rc, err))
    check(not any(m for t, m in f.cmds), "without PIPELINING every command waits for its reply (RFC 2920)",
          f.cmds)
    check(f.verbs()[:5] == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA"], "lock-step order", f.verbs())
    # a multi-line reply to RCPT
    f, rc, out, err, dt = with_fake({"RCPT": "250-2.1.5 first line\r\n250 2.1.5 Ok"}, BASIC)
    check(rc == 0 and "<b@example.net>: 250" in out, "a multi-line reply is one reply (RFC 5321 4.2.1)", (rc, out))


# --------------------------------------------------------------------------- failures and exit codes

def test_failures():
    cases = [
        ({"greeting": "554 5.3.2 fake.example no service"}, 69, "greeting 554: exit 69 (RFC 5321 3.1)"),
        ({"greeting": "421 4.3.2 fake.example busy"}, 75, "greeting 421: exit 75"),
        ({"MAIL": "553 5.1.8 sender refused"}, 69, "MAIL 553: exit 69"),
        ({"MAIL": "451 4.3.0 try later"}, 75, "MAIL 451: exit 75"),
        ({"RCPT": "550 5.1.1 no such user"}, 69, "the only RCPT 550: exit 69"),
        ({"RCPT": "450 4.2.1 mailbox busy"}, 75, "the only RCPT 450: exit 75"),
        ({"DATA": "451 4.3.0 not now"}, 75, "DATA 451: exit 75"),
        ({"DATA": "554 5.5.1 no"}, 69, "DATA 554: exit 69"),
        ({"DOT": "452 4.3.1 insufficient storage"}, 75, "354 then 452 after the data: exit 75"),
        ({"DOT": "554 5.6.0 content refused"}, 69, "354 then 554 after the data: exit 69"),
        ({"RCPT": "421 4.3.2 fake.example shutting down"}, 75, "421 to RCPT: exit 75 (RFC 5321 3.8)"),
        ({"RCPT": "421 4.3.2 fake.example shutting down", "caps": ["8BITMIME"]}, 75,
         "421 to RCPT, lock-step: exit 75"),
        ({"MAIL": "CLOSE"}, 75, "connection closed after MAIL: exit 75"),
        ({"DOT": "CLOSE"}, 75, "connection closed after the data: exit 75"),
        ({"MAIL": "hello there"}, 75, "a malformed reply: exit 75 (temporary, the server's fault)"),
    ]
    for script, want, what in cases:
        f, rc, out, err, dt = with_fake(script, BASIC)
        check(rc == want, what, (rc, out, err))
        if "RCPT" in script and script["RCPT"].startswith("5"):
            check(f.bodies == [] and "message: not sent" in out,
                  "all recipients refused: no message data sent (RFC 5321 3.3)", (f.bodies, out))
        if script.get("MAIL") == "553 5.1.8 sender refused":
            check("from <a@example.org>: 553 5.1.8 sender refused" in out, "the sender's refusal is printed", out)
        if script.get("greeting", "").startswith("554"):
            check(f.verbs() in ([], ["QUIT"]), "after a 554 greeting: nothing but QUIT (RFC 5321 3.1)", f.verbs())
        if script.get("RCPT", "").startswith("421") and "caps" in script:
            v = f.verbs()
            check(v[v.index("RCPT") + 1:] in ([], ["QUIT"]), "after 421: no command but QUIT (RFC 5321 3.8)", v)
        if script.get("DOT") == "CLOSE":
            check("outcome unknown" in out or "message:" in out, "connection lost after the data: said so", out)
    # a broken server that says 354 although no recipient was accepted gets no message
    f, rc, out, err, dt = with_fake({"RCPT": "550 5.1.1 no", "broken354": True}, BASIC)
    check(rc == 69 and f.bodies in ([], [b""]), "354 after all recipients refused: the message is not sent",
          (rc, f.bodies))
    # partial refusal
    f, rc, out, err, dt = with_fake({"RCPT": ["250 2.1.5 Ok", "550 5.1.1 no such user"]},
                                    BASIC + ["--to", "c@example.net"])
    check(rc == 69, "one recipient accepted, one refused 550: exit 69", (rc, out))
    check("<b@example.net>: 250 2.1.5 Ok" in out and "<c@example.net>: 550 5.1.1 no such user" in out,
          "each recipient's own reply printed", out)
    check(len(f.bodies) == 1, "the message still goes to the accepted recipient", f.bodies)
    f, rc, out, err, dt = with_fake({"RCPT": ["250 2.1.5 Ok", "452 4.5.3 too many"]},
                                    BASIC + ["--to", "c@example.net"])
    check(rc == 75, "one accepted, one 452: exit 75 (EX_TEMPFAIL)", (rc, out))
    # refused connection
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    rc, out, err, dt = send("127.0.0.1:%d" % port, BASIC)
    check(rc == 75, "connection refused: exit 75", (rc, err))
    # a server that never answers
    for script, what in (({"greeting": None}, "no greeting"), ({"MAIL": "SILENT"}, "no reply to MAIL"),
                         ({"DOT": "SILENT"}, "no reply after the data")):
        f = Fake(script)
        rc, out, err, dt = send(f.addr, ["--from", "a@example.org", "--to", "b@example.net", "--timeout", "1"])
        f.close()
        check(rc == 75 and dt < 5, "--timeout 1, %s: exit 75 within seconds" % what, (rc, dt, err))


# --------------------------------------------------------------------------- extensions

def test_extensions():
    big = b"Subject: big\r\n\r\n" + b"x" * 2000 + b"\r\n"
    f, rc, out, err, dt = with_fake({"caps": ["PIPELINING", "SIZE 1000"]}, BASIC, big)
    check(rc == 69 and "MAIL" not in f.verbs(), "message over the server's SIZE: exit 69, no MAIL (RFC 1870 6)",
          (rc, f.verbs(), err))
    eight = "Subject: caf\u00e9\r\n\r\nna\u00efve\r\n".encode()
    f, rc, out, err, dt = with_fake({"caps": ["PIPELINING"]}, BASIC, eight)
    check(rc == 69 and f.bodies == [], "8-bit message, no 8BITMIME: exit 69, not sent (RFC 6152)", (rc, err))
    f, rc, out, err, dt = with_fake({}, BASIC, eight)
    check(rc == 0 and " BODY=8BITMIME" in (f.find("MAIL") or [""])[0], "8-bit message: BODY=8BITMIME",
          f.find("MAIL"))
    utf8 = ["--from", "a@example.org", "--to", "j\u00f6rg@example.net", "--timeout", "10"]
    f, rc, out, err, dt = with_fake({"caps": ["PIPELINING", "8BITMIME"]}, utf8)
    check(rc == 69 and "RCPT" not in f.verbs(), "UTF-8 address, no SMTPUTF8: exit 69 (RFC 6531 3.4)", (rc, err))
    f, rc, out, err, dt = with_fake({}, utf8)
    check(rc == 0 and " SMTPUTF8" in (f.find("MAIL") or [""])[0], "UTF-8 address: MAIL ... SMTPUTF8",
          f.find("MAIL"))
    # LMTP
    f, rc, out, err, dt = with_fake({"lmtp": True, "DOT": ("250 2.0.0 b ok", "452 4.2.2 c full")},
                                    BASIC + ["--to", "c@example.net", "--lmtp"])
    check(f.verbs()[:1] == ["LHLO"], "--lmtp: LHLO (RFC 2033 4.1)", f.verbs())
    check(rc == 75, "--lmtp, one recipient 452 after the data: exit 75", (rc, out))
    check("<b@example.net>: 250 2.0.0 b ok" in out and "<c@example.net>: 452 4.2.2 c full" in out,
          "--lmtp: each recipient's reply after the data (RFC 2033 4.2)", out)
    f, rc, out, err, dt = with_fake({"lmtp": True}, BASIC + ["--to", "c@example.net", "--lmtp"])
    check(rc == 0, "--lmtp, all delivered: exit 0", (rc, out, err))
    # STARTTLS required but not offered
    if mbedtls_built():
        f, rc, out, err, dt = with_fake({}, BASIC + ["--starttls"])
        check(rc == 69 and "MAIL" not in f.verbs() and "STARTTLS" not in f.verbs(),
              "--starttls, not offered: exit 69, no envelope sent (RFC 3207 4)", (rc, f.verbs()))


# --------------------------------------------------------------------------- -t

def test_extract():
    msg = (b"From: a@example.org\r\nTo: Bee <b@example.net>, c@example.net\r\nCc: (x) d@example.net\r\n"
           b"Bcc: hidden@example.net,\r\n  hidden2@example.net\r\nSubject: t\r\n\r\nbody\r\nBcc: not a header\r\n")
    f, rc, out, err, dt = with_fake({}, ["--from", "a@example.org", "-t", "--timeout", "10"], msg)
    rc_to = sorted(t[9:-1] for t in f.find("RCPT"))
    check(rc == 0 and rc_to == sorted(["b@example.net", "c@example.net", "d@example.net", "hidden@example.net",
                                       "hidden2@example.net"]), "-t: recipients from To, Cc and Bcc", (rc, rc_to))
    body = f.bodies[0] if f.bodies else b""
    check(b"hidden" not in body.split(b"\r\n\r\n")[0] and b"Bcc: not a header" in body,
          "-t: the Bcc field (with its continuation) removed from the header only", body)
    resent = (b"From: a@example.org\r\nTo: old@example.net\r\nResent-From: a@example.org\r\n"
              b"Resent-To: new@example.net\r\nResent-Bcc: secret@example.net\r\nSubject: fwd\r\n\r\nbody\r\n")
    f, rc, out, err, dt = with_fake({}, ["--from", "a@example.org", "-t", "--timeout", "10"], resent)
    rc_to = sorted(t[9:-1] for t in f.find("RCPT"))
    check(rc_to == ["new@example.net", "secret@example.net"],
          "-t with Resent- fields: recipients from Resent-To/Cc/Bcc only (as sendmail, Postfix; RFC 5322 3.6.6)",
          rc_to)
    body = f.bodies[0] if f.bodies else b""
    check(b"secret" not in body and b"Resent-To: new@example.net" in body,
          "-t: Resent-Bcc removed like Bcc", body)
    f, rc, out, err, dt = with_fake({}, ["--from", "a@example.org", "-t", "--timeout", "10"],
                                    b"Subject: nobody\r\n\r\nx\r\n")
    check(rc == 65 and f.conns == 0, "-t and no recipient at all: exit 65, no connection", (rc, err))


# --------------------------------------------------------------------------- TLS + AUTH

def mbedtls_built():
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as fh:
            return "SMTPKIT_WITH_MBEDTLS:BOOL=ON" in fh.read()
    except OSError:
        return False


def test_auth():
    if not mbedtls_built():
        print("-- TLS not built in: AUTH checks run in builds with mbedTLS")
        return
    certs = os.path.join(BUILD or WORK, "interop-conformance-certs")
    if subprocess.run(["bash", os.path.join(SRC, "tests/interop/tls_certs.sh"), certs]).returncode != 0:
        check(False, "tls_certs.sh made the certificates")
        return
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"))
    caps = CAPS + ["STARTTLS", "AUTH PLAIN LOGIN"]
    secret = "pa55:w0rd-SECRET"
    for mech, extra in (("PLAIN", []), ("LOGIN", ["--auth-mech", "LOGIN"])):
        f = Fake({"caps": caps}, tls_ctx=ctx)
        rc, out, err, dt = send("localhost:%d" % f.port, BASIC + ["--starttls", "--cafile",
                                                                   os.path.join(certs, "ca.pem"),
                                                                   "--auth", "user:" + secret, "-v"] + extra)
        f.close()
        v = f.verbs()
        check(rc == 0 and "STARTTLS" in v and "AUTH" in v and v.index("STARTTLS") < v.index("AUTH")
              < v.index("MAIL"), "--starttls --auth (%s): STARTTLS, EHLO, AUTH, then MAIL" % mech, (rc, v, err))
        check(v.count("EHLO") == 2, "EHLO again after STARTTLS (RFC 3207 4.2)", v)
        auth = f.find("AUTH")
        check(auth and auth[0].upper().startswith("AUTH " + mech), "AUTH %s used" % mech, auth)
        blob = " ".join(t for t, _ in f.cmds)
        if mech == "PLAIN":
            want = base64.b64encode(b"\0user\0" + secret.encode()).decode()
            check(want in blob, "AUTH PLAIN carries \\0user\\0password (RFC 4616)", blob)
        else:
            check(base64.b64encode(secret.encode()).decode() in blob, "AUTH LOGIN sends the password", blob)
        for leak in (secret, base64.b64encode(secret.encode()).decode(),
                     base64.b64encode(b"\0user\0" + secret.encode()).decode()):
            check(leak not in err and leak not in out, "-v masks the credentials (%s)" % mech)
        check("AUTH" in err, "-v shows that AUTH happened", err)
    authfile = os.path.join(WORK, "auth")
    with open(authfile, "w") as fh:
        fh.write("user:%s\n" % secret)
    f = Fake({"caps": caps, "AUTH": "535 5.7.8 bad credentials"}, tls_ctx=ctx)
    rc, out, err, dt = send("localhost:%d" % f.port, BASIC + ["--starttls", "--cafile",
                                                               os.path.join(certs, "ca.pem"),
                                                               "--auth-file", authfile])
    f.close()
    check(rc == 69 and "MAIL" not in f.verbs(), "--auth-file, 535: exit 69, no MAIL (RFC 4954 6)", (rc, f.verbs()))
    f = Fake({"caps": caps, "AUTH": "454 4.7.0 try later"}, tls_ctx=ctx)
    rc, out, err, dt = send("localhost:%d" % f.port, BASIC + ["--starttls", "--cafile",
                                                               os.path.join(certs, "ca.pem"),
                                                               "--auth", "user:x"])
    f.close()
    check(rc == 75, "AUTH 454: exit 75", (rc, err))
    f = Fake({"caps": caps}, tls_ctx=ctx)
    rc, out, err, dt = send("localhost:%d" % f.port, BASIC + ["--starttls", "--auth", "user:x"])
    f.close()
    check(rc == 75 and "AUTH" not in f.verbs() and "MAIL" not in f.verbs(),
          "untrusted certificate: exit 75, nothing sent after STARTTLS", (rc, f.verbs()))
    f = Fake({"caps": caps}, tls_ctx=ctx)
    rc, out, err, dt = send("localhost:%d" % f.port, BASIC + ["--starttls", "--insecure"])
    f.close()
    check(rc == 0, "--insecure: accepted without verification", (rc, err))
    f = Fake({"caps": CAPS + ["AUTH PLAIN LOGIN"], "implicit_tls": True}, tls_ctx=ctx)
    rc, out, err, dt = send("localhost:%d" % f.port, BASIC + ["--tls", "--cafile", os.path.join(certs, "ca.pem"),
                                                               "--auth", "user:" + secret])
    f.close()
    check(rc == 0 and f.verbs()[:2] == ["EHLO", "AUTH"] and "STARTTLS" not in f.verbs(),
          "--tls: implicit TLS from the first byte (RFC 8314), then EHLO and AUTH", (rc, f.verbs(), err))
    f = Fake({"caps": CAPS + ["STARTTLS", "AUTH PLAIN LOGIN"]}, tls_ctx=ctx)
    rc, out, err, dt = send("localhost:%d" % f.port, BASIC + ["--tls", "--cafile", os.path.join(certs, "ca.pem")])
    f.close()
    check(rc == 75 and not set(f.verbs()) & {"EHLO", "AUTH", "MAIL", "RCPT"},
          "--tls against a plain server: exit 75, only the TLS handshake sent", (rc, f.verbs()))


def main():
    if not os.access(SEND, os.X_OK):
        print("FAIL smtpkit-send not built at %s" % SEND)
        sys.exit(1)
    t0 = time.time()
    for t in (test_cli, test_basic, test_fallbacks, test_failures, test_extensions, test_extract, test_auth):
        try:
            t()
        except Exception as e:
            import traceback
            traceback.print_exc()
            check(False, "%s ran to its end" % t.__name__, e)
    print("%.1f s" % (time.time() - t0))
    if FAILURES:
        print("%d failure(s):" % len(FAILURES))
        for x in FAILURES:
            print("  " + x)
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
