"""smtpkit-recv as an outside tester sees it: raw sockets against the program,
one assertion per protocol rule (RFC 5321 3, 4.1, 4.2, 4.3.2, 4.4, 4.5.3;
RFC 1870, 2920, 3030, 6152, 6531, 3461, 2033, 3207, 4954, 2034/3463) and per
command-line promise of issue 3 (--listen forms, "listening on" line, exit
codes). Every check runs; the failures are listed at the end."""
import email.utils
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("SMTPKIT_BIN_DIR", "")
SRC = os.environ.get("SMTPKIT_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                        "..", ".."))
BUILD = os.environ.get("SMTPKIT_BUILD_DIR", "")
RECV = os.path.join(BIN, "smtpkit-recv")
HOST = "mx.example.net"
FAILURES = []
PROCS = []


def check(cond, what, detail=""):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what + ("  -- " + repr(detail)[-1500:] if detail != "" else ""))
        FAILURES.append(what)
    return cond


class Recv:
    """smtpkit-recv on a free port; Maildir in a fresh directory."""

    def __init__(self, *args, store=True, listen="127.0.0.1:0"):
        self.dir = tempfile.mkdtemp(prefix="smtpkit-conf-")
        self.md = os.path.join(self.dir, "Maildir")
        cmd = [RECV, "--listen", listen, "--hostname", HOST]
        cmd += ["--maildir", self.md] if store else ["--sink"]
        cmd += list(args)
        self.errf = open(os.path.join(self.dir, "stderr"), "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.errf)
        PROCS.append(self.proc)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on "):
            print("FAIL smtpkit-recv did not start: %r %r" % (cmd, line))
            sys.exit(1)
        self.line = line
        self.port = int(line.rsplit(":", 1)[1])

    def stored(self):
        d = os.path.join(self.md, "new")
        out = []
        for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, n), "rb") as f:
                out.append(f.read())
        return out

    def tmpfiles(self):
        d = os.path.join(self.md, "tmp")
        return os.listdir(d) if os.path.isdir(d) else []

    def conn(self, greet=True):
        c = Conn(self.port)
        if greet:
            c.greeting = c.reply()
        return c

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        self.errf.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Conn:
    """A raw client: send bytes, read replies (code, [lines])."""

    def __init__(self, port, host="127.0.0.1", family=socket.AF_INET, timeout=5.0):
        self.s = socket.socket(family, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect((host, port))
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        try:
            chunk = self.s.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def reply(self):
        """One reply: (code, lines) or (None, [partial]) on EOF/timeout."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                if not self._fill():
                    return None, lines + ([self.buf.decode("latin-1")] if self.buf else [])
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("latin-1"))
            if len(line) < 4 or line[3:4] != b"-":
                try:
                    return int(line[:3]), lines
                except ValueError:
                    return None, lines

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def cmd(self, line):
        self.send(line if isinstance(line, bytes) else line.encode() + b"\r\n")
        return self.reply()

    def closed(self, timeout=3.0):
        """True when the server closes and sends nothing more (bytes left over in rest)."""
        self.s.settimeout(timeout)
        self.rest = self.buf
        self.buf = b""
        while True:
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                return False
            except OSError:
                return True
            if not chunk:
                return True
            self.rest += chunk

    def close(self):
        self.s.close()


def code_is(r, code, esc=None):
    c, lines = r
    if c != code or not lines:
        return False
    if esc is not None:
        return lines[-1][4:].startswith(esc + " ") or lines[-1][4:] == esc
    return True


def ehlo(c, name="client.example"):
    return c.cmd("EHLO " + name)


def keywords(lines):
    return [l[4:].split(" ")[0].upper() for l in lines[1:]]


def strip_received(msg):
    """(Received header, rest) of a stored message."""
    i = msg.index(b"\r\n") + 2
    while msg[i:i + 1] in (b" ", b"\t"):
        i = msg.index(b"\r\n", i) + 2
    return msg[:i], msg[i:]


def tx(c, rcpts=("rcpt@example.net",), sender="sender@example.org"):
    """MAIL + RCPTs (pipelined) -> replies."""
    out = "MAIL FROM:<%s>\r\n" % sender + "".join("RCPT TO:<%s>\r\n" % r for r in rcpts)
    c.send(out.encode())
    return c.replies(1 + len(rcpts))


def run_cli(*args, timeout=5):
    try:
        p = subprocess.run([RECV] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode(), ""
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


# --------------------------------------------------------------------------- command line

def test_cli():
    rc, out, err = run_cli("--help")
    check(rc == 0 and "--listen" in out and "--maildir" in out and "--mbox" in out
          and "--lmtp" in out and "--timeout" in out, "--help: exit 0 and the options", (rc, out))
    for bad in ([], ["--sink"], ["--listen", "127.0.0.1:0"], ["--listen", "127.0.0.1:0", "--sink", "--nope"],
                ["--listen", "127.0.0.1:70000", "--sink"], ["--listen", "127.0.0.1:65536", "--sink"],
                ["--listen", "127.0.0.1:-1", "--sink"], ["--listen", "127.0.0.1", "--sink"],
                ["--listen", "::1:25", "--sink"], ["--listen", "[::1]", "--sink"],
                ["--listen", "127.0.0.1:0", "--sink", "--max-size", "x"],
                ["--listen", "127.0.0.1:0", "--sink", "--timeout", "0"],
                ["--listen", "127.0.0.1:0", "--sink", "--timeout"]):
        rc, out, err = run_cli(*bad)
        check(rc == 64 and "listening on" not in out, "usage error exits 64: %r" % (bad,), (rc, out, err))
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    rc, out, err = run_cli("--listen", "127.0.0.1:%d" % blocker.getsockname()[1], "--sink")
    check(rc == 71, "a port in use exits 71 (EX_OSERR)", (rc, err))
    blocker.close()
    rc, out, err = run_cli("--listen", "127.0.0.1:0", "--maildir", "/proc/self/no/such")
    check(rc == 74, "an unusable Maildir exits 74 (EX_IOERR)", (rc, err))

    # --listen forms and the exact "listening on ADDR:PORT" line
    for form, pat, fam, host in (("127.0.0.1:0", r"127\.0\.0\.1:(\d+)", socket.AF_INET, "127.0.0.1"),
                                 ("[::1]:0", r"\[::1\]:(\d+)", socket.AF_INET6, "::1"),
                                 (":0", r"0\.0\.0\.0:(\d+)", socket.AF_INET, "127.0.0.1"),
                                 ("*:0", r"0\.0\.0\.0:(\d+)", socket.AF_INET, "127.0.0.1")):
        with Recv(listen=form, store=False) as r:
            m = re.fullmatch("listening on " + pat + "\n", r.line)
            check(m is not None and int(m.group(1)) > 0, "--listen %s prints 'listening on ADDR:PORT'" % form,
                  r.line)
            try:
                c = Conn(r.port, host, fam)
                code, lines = c.reply()
                check(code == 220, "--listen %s serves" % form, lines)
                c.close()
            except OSError as e:
                check(False, "--listen %s serves" % form, e)
            check(r.stop() == 0, "--listen %s: SIGTERM exits 0" % form)
    # two listeners: two lines, in order
    p = subprocess.Popen([RECV, "--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--sink"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    PROCS.append(p)
    l1, l2 = p.stdout.readline().decode(), p.stdout.readline().decode()
    check(l1.startswith("listening on 127.0.0.1:") and l2.startswith("listening on [::1]:"),
          "one 'listening on' line per --listen", (l1, l2))
    p.send_signal(signal.SIGINT)
    check(p.wait(10) == 0, "SIGINT exits 0")


# --------------------------------------------------------------------------- greeting, EHLO, HELO

def test_greeting_ehlo():
    with Recv(store=False) as r:
        c = r.conn()
        code, lines = c.greeting
        check(code == 220 and len(lines) == 1 and lines[0].startswith("220 " + HOST),
              "greeting: one 220 line starting with our host name (RFC 5321 4.3.1)", lines)
        code, lines = ehlo(c)
        check(code == 250 and lines[0] == "250-" + HOST or lines[0].startswith("250-%s " % HOST),
              "EHLO: first line is 250-<domain> (RFC 5321 4.1.1.1)", lines)
        check(all(l.startswith("250-") for l in lines[:-1]) and lines[-1].startswith("250 "),
              "EHLO: 250- continuation lines, 250 SP on the last (RFC 5321 4.2.1)", lines)
        kw = keywords(lines)
        for k in ("PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "CHUNKING", "DSN", "ENHANCEDSTATUSCODES"):
            check(k in kw, "EHLO announces " + k, lines)
        check("STARTTLS" not in kw, "no STARTTLS without --tls-cert (RFC 3207)", lines)
        check("AUTH" not in kw, "no AUTH without --auth-file (RFC 4954)", lines)
        check(len(set(kw)) == len(kw), "no keyword twice", kw)
        # a second EHLO is allowed and gives the same answer
        check(ehlo(c)[1] == lines, "a second EHLO: same reply")
        r2 = c.cmd("HELO client.example")
        check(r2[0] == 250 and len(r2[1]) == 1 and r2[1][0].startswith("250 " + HOST),
              "HELO: one line 250 <domain> (RFC 5321 4.1.1.1)", r2)
        for bad in ("HELO", "EHLO", "EHLO ", "HELO  "):
            check(c.cmd(bad)[0] == 501, "%r without a domain: 501 (RFC 5321 4.1.1.1)" % bad)
        check(code_is(c.cmd("QUIT"), 221, "2.0.0"), "QUIT: 221 2.0.0")
        check(c.closed(), "the server closes after 221 (RFC 5321 4.1.1.10)")
    with Recv("--max-size", "1000000", store=False) as r:
        c = r.conn()
        code, lines = ehlo(c, "[127.0.0.1]")
        check(code == 250 and "250-SIZE 1000000" in lines, "--max-size: SIZE 1000000 (RFC 1870 4)", lines)
        c.close()


# --------------------------------------------------------------------------- sequence and basic commands

def test_commands():
    with Recv(store=False) as r:
        c = r.conn()
        check(code_is(c.cmd("MAIL FROM:<a@example.org>"), 503, "5.5.1"),
              "MAIL before EHLO/HELO: 503 5.5.1 (as Postfix; RFC 5321 4.1.4 allows it)")
        check(code_is(c.cmd("NOOP"), 250, "2.0.0"), "NOOP before EHLO: 250 2.0.0 (RFC 5321 4.1.4)")
        ehlo(c)
        check(code_is(c.cmd("RCPT TO:<b@example.net>"), 503, "5.5.1"), "RCPT before MAIL: 503 5.5.1")
        check(code_is(c.cmd("DATA"), 503, "5.5.1"), "DATA before MAIL: 503 5.5.1")
        check(code_is(c.cmd("BDAT 0 LAST"), 503, "5.5.1"), "BDAT before MAIL: 503 5.5.1")
        check(code_is(c.cmd("MAIL FROM:<>"), 250, "2.1.0"), "MAIL FROM:<> (null reverse-path): 250 2.1.0")
        check(code_is(c.cmd("MAIL FROM:<a@example.org>"), 503, "5.5.1"), "nested MAIL: 503 5.5.1")
        r1 = c.cmd("DATA")
        check(r1[0] in (503, 554) and r1[1][0][4:9] in ("5.5.1", "5.5.0", "5.1.1", "5.7.1"),
              "DATA without a recipient: 503 or 554 (RFC 5321 3.3)", r1)
        check(code_is(c.cmd("RSET"), 250, "2.0.0"), "RSET: 250 2.0.0")
        check(code_is(c.cmd("RCPT TO:<b@example.net>"), 503, "5.5.1"), "RSET ends the transaction")
        check(c.cmd("RSET x")[0] == 501, "RSET with an argument: 501 (RFC 5321 4.1.1.5)")
        check(c.cmd("DATA x")[0] == 501, "DATA with an argument: 501 (RFC 5321 4.1.1.4)")
        check(code_is(c.cmd("NOOP"), 250, "2.0.0"), "NOOP: 250 2.0.0")
        check(code_is(c.cmd("NOOP anything goes"), 250, "2.0.0"), "NOOP with a string: 250 (RFC 5321 4.1.1.9)")
        v = c.cmd("VRFY postmaster")
        check(code_is(v, 252, "2.5.0") or code_is(v, 502, "5.5.1"), "VRFY: 252 2.5.0 (RFC 5321 3.5.3)", v)
        check(c.cmd("VRFY")[0] == 501, "VRFY without an argument: 501")
        v = c.cmd("VRFY j\u00f6rg SMTPUTF8".encode() + b"\r\n")
        check(v[0] in (252, 550, 553), "VRFY with a UTF-8 string and SMTPUTF8: 252 (RFC 6531 3.7.4.2)", v)
        e = c.cmd("EXPN staff")
        check(e[0] in (502, 252, 550) and re.match(r"\d{3}[ -][245]\.\d+\.\d+ ", e[1][0]),
              "EXPN: 502/252/550 with an enhanced code", e)
        h = c.cmd("HELP")
        check(h[0] in (211, 214), "HELP: 214 (RFC 5321 4.1.1.8)", h)
        check(c.cmd("HELP MAIL")[0] in (211, 214, 502, 504), "HELP with a topic")
        check(code_is(c.cmd("FOO bar"), 500, "5.5.1"), "unknown command: 500 5.5.1 (RFC 5321 4.2.4)")
        check(code_is(c.cmd("MAILX FROM:<a@b.example>"), 500, "5.5.1"), "MAILX: 500 5.5.1")
        check(c.cmd(b"NO\x00OP\r\n")[0] == 500, "NUL in a command: 500")
        check(c.cmd("EHLO \u00e9cole.example".encode() + b"\r\n")[0] in (500, 501),
              "EHLO with a UTF-8 domain: refused (RFC 6531 3.7.1: ASCII only)")
        ehlo(c)
        check(c.cmd("STARTTLS")[0] in (502, 454), "STARTTLS without TLS configured: 502 (or 454)")
        check(c.cmd("AUTH PLAIN")[0] in (502, 503, 504), "AUTH without --auth-file: 502")
        # case and spacing
        check(code_is(c.cmd("mail from:<a@example.org>"), 250), "lower-case 'mail from:' (RFC 5321 2.4)")
        check(code_is(c.cmd("rCpT To:<b@example.net>"), 250), "mixed-case 'rCpT To:'")
        check(code_is(c.cmd("RCPT TO:<c@example.net>   "), 250), "trailing spaces after the path")
        check(code_is(c.cmd("RCPT TO:<postmaster>"), 250), "RCPT TO:<postmaster> (RFC 5321 4.5.1)")
        check(code_is(c.cmd("RCPT TO:<PostMaster>"), 250), "RCPT TO:<PostMaster> (case-insensitive)")
        check(code_is(c.cmd("RCPT TO:<postmaster@%s>" % HOST), 250), "RCPT TO:<postmaster@domain>")
        check(code_is(c.cmd("RCPT TO:<u@[127.0.0.1]>"), 250), "address literal [127.0.0.1] (RFC 5321 4.1.3)")
        check(code_is(c.cmd("RCPT TO:<u@[IPv6:2001:db8::1]>"), 250), "address literal [IPv6:2001:db8::1]")
        check(code_is(c.cmd('RCPT TO:<"john doe"@example.net>'), 250), "quoted local part")
        check(c.cmd("RCPT TO:<u@[300.1.1.1]>")[0] == 501, "bad IPv4 literal: 501")
        check(c.cmd("RCPT TO:<>")[0] == 501, "RCPT TO:<>: 501 (no null forward-path)")
        check(c.cmd("RCPT TO:b@example.net")[0] == 501, "RCPT without angle brackets: 501")
        check(c.cmd("RCPT TO:<a b@example.net>")[0] == 501, "space in a path: 501")
        check(c.cmd("RCPT TO:<@relay.example:b@example.net>")[0] == 250,
              "source route accepted and ignored (RFC 5321 4.1.1.3, C)")
        # EHLO ends the transaction (RFC 5321 4.1.4)
        ehlo(c)
        check(code_is(c.cmd("RCPT TO:<b@example.net>"), 503, "5.5.1"), "EHLO resets the transaction")
        c.close()
        # input after QUIT is ignored (a new session: the one above is near the error limit)
        c = r.conn()
        c.send(b"QUIT\r\nNOOP\r\nNOOP\r\n")
        code, lines = c.reply()
        check(code == 221 and lines[0].startswith("221 2.0.0"), "QUIT pipelined with more: 221", lines)
        check(c.closed() and c.rest == b"", "nothing answered after QUIT (RFC 5321 4.1.1.10)", c.rest)


# --------------------------------------------------------------------------- parameters

def test_params():
    with Recv("--max-size", "1000") as r:
        c = r.conn()
        ehlo(c)

        def mail(params, want, esc=None, what=None):
            res = c.cmd("MAIL FROM:<a@example.org>" + params)
            ok = code_is(res, want, esc)
            check(ok, what or "MAIL%s: %d" % (params, want), res)
            if res[0] == 250:
                c.cmd("RSET")
            return ok

        mail(" SIZE=999", 250, "2.1.0")
        mail(" SIZE=1000", 250, "2.1.0", "SIZE= equal to the limit: 250")
        mail(" SIZE=1001", 552, "5.3.4", "SIZE= over the limit: 552 5.3.4 (RFC 1870 6.1)")
        res = c.cmd("MAIL FROM:<a@example.org> SIZE=99999999999999999999999")
        check(res[0] in (552, 501), "SIZE= larger than 64 bits: 552 or 501", res)
        mail(" FOO=BAR", 555, "5.5.4", "unknown MAIL parameter: 555 5.5.4 (RFC 5321 4.1.1.11)")
        mail(" BODY=8BITMIME", 250, None, "BODY=8BITMIME (RFC 6152)")
        mail(" BODY=7BIT", 250, None, "BODY=7BIT")
        mail(" body=8bitmime", 250, None, "parameter keyword and value are case-insensitive")
        mail(" BODY=BINARYMIME", 250, None, "BODY=BINARYMIME with CHUNKING (RFC 3030 3)")
        mail(" BODY=9BIT", 501, None, "BODY=9BIT: 501")
        mail(" SMTPUTF8", 250, None, "SMTPUTF8 parameter (RFC 6531 3.4)")
        mail(" RET=HDRS ENVID=QQ314159", 250, None, "RET=HDRS ENVID= (RFC 3461 4.3/4.4)")
        mail(" RET=FULL", 250, None, "RET=FULL")
        mail(" RET=BOTH", 501, None, "RET=BOTH: 501")
        mail(" ENVID=" + "x" * 101, 501, None, "ENVID over 100 characters: 501 (RFC 3461 4.4)")
        mail(" SIZE=10 SIZE=10", 501, None, "a repeated parameter: 501")
        mail(" NOTIFY=NEVER", 555, None, "an RCPT parameter (NOTIFY) on MAIL: 555 (RFC 3461 4)")
        # UTF-8 addresses only with SMTPUTF8 (RFC 6531 3.4)
        res = c.cmd("MAIL FROM:<j\u00f6rg@example.org>".encode() + b"\r\n")
        check(res[0] in (553, 501, 555) and res[1][0][4:5] == "5",
              "a UTF-8 sender without SMTPUTF8: 553 5.6.7 (RFC 6531 3.4)", res)
        res = c.cmd("MAIL FROM:<j\u00f6rg@example.org> SMTPUTF8".encode() + b"\r\n")
        check(res[0] == 250, "a UTF-8 sender with SMTPUTF8: 250", res)
        res = c.cmd("RCPT TO:<\u00e9l\u00e8ve@\u00e9cole.example>".encode() + b"\r\n")
        check(res[0] == 250, "a UTF-8 recipient in an SMTPUTF8 transaction: 250", res)
        c.cmd("RSET")
        # DSN on RCPT
        check(code_is(c.cmd("MAIL FROM:<a@example.org>"), 250), "MAIL for the RCPT parameter checks")

        def rcpt(params, want, what):
            res = c.cmd("RCPT TO:<b@example.net>" + params)
            return check(res[0] == want, what, res)

        rcpt(" NOTIFY=SUCCESS,FAILURE,DELAY", 250, "NOTIFY=SUCCESS,FAILURE,DELAY (RFC 3461 4.1)")
        rcpt(" NOTIFY=NEVER", 250, "NOTIFY=NEVER")
        rcpt(" NOTIFY=never", 250, "NOTIFY=never (case-insensitive)")
        rcpt(" NOTIFY=NEVER,SUCCESS", 501, "NOTIFY=NEVER,SUCCESS: 501 (NEVER stands alone)")
        rcpt(" NOTIFY=SUCCESS,,FAILURE", 501, "NOTIFY with an empty item: 501")
        rcpt(" NOTIFY=SOMETIMES", 501, "NOTIFY=SOMETIMES: 501")
        rcpt(" ORCPT=rfc822;b@example.net", 250, "ORCPT=rfc822;addr (RFC 3461 4.2)")
        rcpt(" ORCPT=rfc822;b+2Bx@example.net", 250, "ORCPT with an xtext escape")
        rcpt(" ORCPT=b@example.net", 501, "ORCPT without addr-type: 501")
        rcpt(" ORCPT=rfc822;a+zz@example.net", 501, "ORCPT with a bad xtext escape: 501")
        rcpt(" NOTIFY=FAILURE ORCPT=rfc822;b@example.net", 250, "NOTIFY and ORCPT together")
        rcpt(" FOO=1", 555, "unknown RCPT parameter: 555")
        rcpt(" SIZE=10", 555, "a MAIL parameter on RCPT: 555")
        rcpt(" RET=FULL", 555, "RET (a MAIL parameter) on RCPT: 555 (RFC 3461 4)")
        c.cmd("RSET")
        # BODY=BINARYMIME then DATA: refused, BDAT required (RFC 3030 3)
        c.send(b"MAIL FROM:<a@example.org> BODY=BINARYMIME\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
        res = c.replies(3)
        check(res[0][0] == 250 and res[1][0] == 250 and res[2][0] == 503,
              "BINARYMIME then DATA: 503 (RFC 3030 3)", res)
        c.cmd("RSET")
        c.close()
    with Recv("--max-size", "1000", "--max-recipients", "3") as r:
        c = r.conn()
        ehlo(c)
        res = tx(c, ["r%d@example.net" % i for i in range(5)])
        check([x[0] for x in res] == [250, 250, 250, 250, 452, 452] and code_is(res[4], 452, "4.5.3"),
              "the 4th recipient over --max-recipients 3: 452 4.5.3 (RFC 5321 4.5.3.1.10)", res)
        # message over max size: 552 5.3.4 after the data, nothing stored
        c.cmd("RSET")
        tx(c)
        check(c.cmd("DATA")[0] == 354, "DATA: 354")
        c.send(b"Subject: big\r\n\r\n" + b"0123456789\r\n" * 200 + b".\r\n")
        check(code_is(c.reply(), 552, "5.3.4"), "a body over --max-size: 552 5.3.4 after the data (RFC 1870 6.3)")
        check(code_is(c.cmd("NOOP"), 250), "the session goes on after 552")
        c.close()
        time.sleep(0.2)
        check(r.stored() == [] and r.tmpfiles() == [], "nothing stored from a refused big message")
        # the limit counts the message as received (CRLF line ends, dots unstuffed)
        c = r.conn()
        c.cmd("HELO client.example")
        for size, want in ((1000, 250), (1001, 552)):
            tx(c)
            c.cmd("DATA")
            body = b".." + b"x" * 97 + b"\r\n" + (b"y" * 98 + b"\r\n") * 8 + b"z" * (size - 902) + b"\r\n"
            c.send(body + b".\r\n")  # 100 + 800 + (size - 900) octets once the dot is unstuffed
            res = c.reply()
            check(res[0] == want, "a message of %d octets with --max-size 1000: %d" % (size, want), res)
        c.close()
        msgs = r.stored()
        check(len(msgs) == 1 and b" with SMTP " in strip_received(msgs[0])[0],
              "after HELO the Received: says 'with SMTP' (RFC 5321 4.4, RFC 3848)", msgs[:1])


# --------------------------------------------------------------------------- the message

def test_data():
    with Recv() as r:
        c = r.conn()
        ehlo(c)
        # a normal message, with dot-stuffing and a line of exactly 1000 octets after unstuffing
        long_line = b"." + b"x" * 997 + b"\r\n"  # 1000 octets incl. CRLF; on the wire 1001
        body = (b"Subject: conformance\r\n\r\nline\r\n..leading dot\r\n.\t\r\n" + b"." + long_line +
                b"8bit \xc3\xa9\r\n")
        tx(c)
        check(c.cmd("DATA")[0] == 354, "DATA: 354 (RFC 5321 4.1.1.4)")
        c.send(body + b".\r\n")
        res = c.reply()
        check(code_is(res, 250, "2.0.0"), "end of data: 250 2.0.0", res)
        msgs = r.stored()
        check(len(msgs) == 1, "one message stored", len(msgs))
        if msgs:
            hdr, rest = strip_received(msgs[0])
            want = (b"Subject: conformance\r\n\r\nline\r\n.leading dot\r\n\t\r\n" + long_line +
                    b"8bit \xc3\xa9\r\n")
            check(rest == want, "stored bytes: dot-unstuffed, exact (RFC 5321 4.5.2)", rest[:200])
            text = hdr.decode()
            check(re.match(r"Received: from client\.example \((\S+ )?\[127\.0\.0\.1\]\)\r\n\s+by "
                           + re.escape(HOST) + r" with ESMTP id [\w.-]+;\r\n\s+(.+)\r\n$", text) is not None,
                  "Received: from <helo> ([addr]) by <host> with ESMTP id <id>; <date> (RFC 5321 4.4)", text)
            date = text.rsplit(";", 1)[1].strip()
            try:
                dt = email.utils.parsedate_to_datetime(date)
                ok = dt is not None and dt.tzinfo is not None and abs(dt.timestamp() - time.time()) < 600
            except (TypeError, ValueError):
                ok = False
            check(ok and re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} "
                                      r"\d\d:\d\d:\d\d [+-]\d{4}", date) is not None,
                  "Received: date is an RFC 5322 date-time, now", date)
            check(all(len(l) <= 998 for l in hdr.split(b"\r\n")), "Received: lines within 998 octets")
        # a text line of 1001 octets (999 + CRLF): refused after the data, nothing stored
        tx(c)
        c.cmd("DATA")
        c.send(b"Subject: long\r\n\r\n" + b"y" * 999 + b"\r\n.\r\n")
        res = c.reply()
        check(res[0] in (550, 552, 554, 500) and res[1][0][4:9] in ("5.6.0", "5.5.6", "5.3.4", "5.6.1"),
              "a text line over 1000 octets: refused with a 5xx (RFC 5321 4.5.3.1.6; docs/receiving.md)", res)
        # bare LF and bare CR: 550 5.6.0 after the data, nothing stored (smuggling)
        for what, data in (("bare LF", b"Subject: x\r\n\r\na\nb\r\n"), ("bare CR", b"Subject: x\r\n\r\na\rb\r\n"),
                           ("LF.LF", b"Subject: x\r\n\r\na\n.\nMAIL FROM:<evil@example>\r\n")):
            tx(c)
            c.cmd("DATA")
            c.send(data + b".\r\n")
            res = c.reply()
            check(code_is(res, 550, "5.6.0"), "%s in the data: 550 5.6.0 after the data" % what, res)
        check(code_is(c.cmd("NOOP"), 250), "no smuggled command was run")
        check(len(r.stored()) == 1, "nothing more stored after refused messages", len(r.stored()))
        # a command line of 512 octets is fine; 513 gets 500
        ok_line = b"NOOP " + b"a" * (512 - 2 - 5) + b"\r\n"
        check(c.cmd(ok_line)[0] == 250, "a command line of exactly 512 octets: accepted (RFC 5321 4.5.3.1.4)")
        res = c.cmd(b"NOOP " + b"a" * (512 - 1 - 5) + b"\r\n")
        check(res[0] == 500, "a command line of 513 octets: 500 (RFC 5321 4.5.3.1.4)", res)
        res = c.cmd(b"MAIL FROM:<" + b"a" * 5000 + b"@example.org>\r\n")
        check(res[0] == 500, "a 5 KB command line: 500, and its tail is not run as a command", res)
        check(code_is(c.cmd("NOOP"), 250), "the session goes on after an over-long line")
        c.cmd("QUIT")
        c.close()


# --------------------------------------------------------------------------- pipelining and BDAT

def test_pipelining_bdat():
    with Recv() as r:
        c = r.conn()
        c.send(b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
               b"RCPT TO:<bad address>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n")
        res = c.replies(6)
        check([x[0] for x in res] == [250, 250, 250, 501, 250, 354],
              "pipelined EHLO..DATA in one write: replies in order (RFC 2920 3.1)", res)
        c.send(b"Subject: p\r\n\r\nhello\r\n.\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
               b"BDAT 7\r\nSubject" + b"BDAT 12 LAST\r\n: q\r\n\r\nhey\r\n" + b"NOOP\r\nQUIT\r\n")
        res = c.replies(7)
        codes = [x[0] for x in res]
        check(codes == [250, 250, 250, 250, 250, 250, 221],
              "pipelined: end of data, MAIL, RCPT, BDAT, BDAT LAST, NOOP, QUIT in one write", res)
        check(res[3][1][0].startswith("250 2.0.0 7 "), "BDAT n: 250 with the octet count (RFC 3030 4.2)", res[3])
        check(c.closed(), "closed after QUIT")
        msgs = r.stored()
        check(len(msgs) == 2, "two messages stored", len(msgs))
        if len(msgs) == 2:
            check(strip_received(msgs[0])[1] == b"Subject: p\r\n\r\nhello\r\n", "DATA message exact")
            check(strip_received(msgs[1])[1] == b"Subject: q\r\n\r\nhey\r\n", "BDAT message exact (no unstuffing)")
        c = r.conn()
        ehlo(c)
        tx(c)
        res = c.cmd(b"BDAT 0 LAST\r\n")
        check(code_is(res, 250), "BDAT 0 LAST: 250, an empty message (RFC 3030 2)", res)
        tx(c)
        check(code_is(c.cmd(b"BDAT 3\r\nabc"), 250), "BDAT 3: 250")
        res = c.cmd("DATA")
        check(code_is(res, 503, "5.5.1"), "DATA after BDAT in one transaction: 503 5.5.1 (RFC 3030 2)", res)
        res = c.cmd(b"BDAT 4 LAST\r\n.\r\n.")
        check(code_is(res, 250), "the transaction goes on after the 503: BDAT LAST 250", res)
        n = len(r.stored())
        check(n == 4, "BDAT 0 LAST and the 503-interrupted message both stored", n)
        if n == 4:
            check(strip_received(r.stored()[3])[1] == b"abc.\r\n.", "BDAT bytes stored raw, dots untouched")
        tx(c)
        res = c.cmd(b"BDAT x\r\n")
        check(res[0] == 501, "BDAT with a bad size: 501", res)
        res = c.cmd(b"BDAT 2 FIRST\r\n")
        check(res[0] == 501, "BDAT with a bad end-marker: 501", res)
        c.cmd("RSET")
        # lines after RSET/NOOP pipelined behind a refused RCPT still run
        c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<>\r\nDATA\r\nRSET\r\nNOOP\r\n")
        res = c.replies(5)
        check([x[0] for x in res][:2] == [250, 501] and res[2][0] in (503, 554) and
              [x[0] for x in res][3:] == [250, 250],
              "pipelined DATA after the only RCPT was refused: 503/554, then RSET/NOOP run", res)
        c.close()


# --------------------------------------------------------------------------- limits: timeout, errors

def test_limits():
    with Recv("--timeout", "1", store=False) as r:
        c = r.conn()
        t0 = time.time()
        code, lines = c.reply()
        check(code == 421 and lines[0].startswith("421 4.4.2 " + HOST),
              "--timeout 1: 421 4.4.2 <host> on an idle session (RFC 5321 4.5.3.2)", lines)
        check(c.closed() and 0.7 < time.time() - t0 < 4, "then the connection is closed", time.time() - t0)
        c = r.conn()
        ehlo(c)
        tx(c)
        c.cmd("DATA")
        c.send(b"Subject: slow\r\n")
        code, lines = c.reply()
        check(code == 421 and "4.4.2" in lines[0], "--timeout in the middle of DATA: 421 4.4.2", lines)
        # a client that dribbles a command a byte at a time still times out
        c = r.conn()
        t0 = time.time()
        got = None
        for ch in b"NOOP" * 10:
            try:
                c.send(bytes([ch]))
            except OSError:
                break
            time.sleep(0.2)
            if c.s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) if _readable(c.s) else False:
                got = c.reply()
                break
        check(got is not None and got[0] == 421 and time.time() - t0 < 4,
              "a command dribbled a byte at a time does not hold the session open", got)
    with Recv(store=False) as r:
        c = r.conn()
        ehlo(c)
        c.send(b"XYZZY\r\n" * 30)
        res = []
        while True:
            x = c.reply()
            if x[0] is None:
                break
            res.append(x[0])
            if x[0] == 421:
                break
        check(len(res) > 1 and res[-1] == 421 and set(res[:-1]) == {500} and len(res) <= 26,
              "repeated errors: 500s then 421 and close (error limit)", res)
        check(c.closed(), "closed after the error limit's 421")


def _readable(s):
    import select
    return bool(select.select([s], [], [], 0)[0])


# --------------------------------------------------------------------------- LMTP

def test_lmtp():
    with Recv("--lmtp") as r:
        c = r.conn()
        check(c.greeting[0] == 220, "LMTP greeting 220")
        check(c.cmd("HELO client.example")[0] == 500, "LMTP: HELO is 500 (RFC 2033 4.1)")
        check(c.cmd("EHLO client.example")[0] == 500, "LMTP: EHLO is 500 (RFC 2033 4.1)")
        check(code_is(c.cmd("MAIL FROM:<a@example.org>"), 503), "LMTP: MAIL before LHLO: 503")
        code, lines = c.cmd("LHLO client.example")
        check(code == 250 and lines[0].startswith("250-" + HOST) and "PIPELINING" in keywords(lines)
              and "ENHANCEDSTATUSCODES" in keywords(lines), "LHLO: EHLO-style reply (RFC 2033 4.1)", lines)
        c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<bad>\r\nDATA\r\n")
        res = c.replies(3)
        check(res[1][0] == 501 and code_is(res[2], 503),
              "LMTP: DATA without a successful RCPT is 503 (RFC 2033 4.2)", res)
        c.cmd("RSET")
        tx(c, ["a@example.net", "b@example.net", "c@example.net"])
        c.cmd("DATA")
        c.send(b"Subject: lmtp\r\n\r\nhi\r\n.\r\n")
        res = c.replies(3)
        check([x[0] for x in res] == [250, 250, 250], "LMTP: one reply per accepted recipient (RFC 2033 4.2)", res)
        check(not _wait_readable(c, 0.3), "LMTP: no fourth reply")
        c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<a@example.net>\r\nRCPT TO:<x y>\r\n"
               b"RCPT TO:<b@example.net>\r\nDATA\r\n")
        c.replies(5)
        c.send(b"Subject: lmtp\r\n\r\nbare\nLF\r\n.\r\n")
        res = c.replies(2)
        check([x[0] for x in res] == [550, 550], "LMTP: a refused message gets one reply per recipient", res)
        c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<a@example.net>\r\nBDAT 3 LAST\r\nabc")
        res = c.replies(3)
        check([x[0] for x in res] == [250, 250, 250], "LMTP with BDAT LAST: one reply per recipient", res)
        check(len(r.stored()) == 2, "LMTP: one stored file per message", len(r.stored()))
        if r.stored():
            check(b" with LMTP " in strip_received(r.stored()[0])[0], "Received: with LMTP")
        c.close()


def _wait_readable(c, t):
    import select
    return bool(c.buf) or bool(select.select([c.s], [], [], t)[0])


# --------------------------------------------------------------------------- TLS and AUTH

def mbedtls_built():
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return "SMTPKIT_WITH_MBEDTLS:BOOL=ON" in f.read()
    except OSError:
        return False


def test_tls_auth():
    if not mbedtls_built():
        print("-- TLS not built in: STARTTLS/AUTH conformance is covered by builds with mbedTLS")
        return
    cache = os.path.join(BUILD or tempfile.gettempdir(), "interop-conformance-certs")
    if subprocess.run(["bash", os.path.join(SRC, "tests/interop/tls_certs.sh"), cache]).returncode != 0:
        check(False, "tls_certs.sh made the test certificates")
        return
    users = os.path.join(cache, "users")
    long_pw = "p" * 500  # PLAIN response: 676 octets of base64, over the 512 of a command line
    with open(users, "w") as f:
        f.write("tim:tanstaaftanstaaf\nlong:%s\n" % long_pw)
    ctx = ssl.create_default_context(cafile=os.path.join(cache, "ca.pem"))
    ctx.check_hostname = False
    tls_args = ["--tls-cert", os.path.join(cache, "server.pem"), "--tls-key", os.path.join(cache, "server.key")]
    with Recv(*tls_args, "--auth-file", users) as r:
        c = r.conn()
        code, lines = ehlo(c)
        kw = keywords(lines)
        check("STARTTLS" in kw, "with --tls-cert: STARTTLS announced (RFC 3207 4)", lines)
        check("AUTH" not in kw, "no AUTH before TLS (RFC 4954 4, credentials never in clear)", lines)
        res = c.cmd("AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm")
        check(res[0] in (538, 503, 502, 530), "AUTH in clear refused (538 5.7.11)", res)
        check(c.cmd("STARTTLS x")[0] == 501, "STARTTLS with an argument: 501 (RFC 3207 4)")
        check(code_is(c.cmd("STARTTLS"), 220), "STARTTLS: 220")
        t = ctx.wrap_socket(c.s, server_hostname="localhost")
        c.s = t
        c.buf = b""
        check(code_is(c.cmd("MAIL FROM:<a@example.org>"), 503), "after TLS the client must EHLO again (RFC 3207 4.2)")
        code, lines = ehlo(c)
        kw = keywords(lines)
        check("STARTTLS" not in kw, "no STARTTLS after TLS", lines)
        auth = [l for l in lines if l[4:].upper().startswith("AUTH ")]
        check(auth and "PLAIN" in auth[0].upper().split(), "AUTH PLAIN offered after TLS", lines)
        check(c.cmd("STARTTLS")[0] == 503, "STARTTLS again: 503")
        import base64
        # RFC 4954 4: a response line longer than 512 octets (up to 12288) must be taken
        resp = base64.b64encode(b"\0long\0" + long_pw.encode())
        check(len(resp) > 600, "the long response is over 600 octets")
        check(c.cmd("AUTH PLAIN")[0] == 334, "AUTH PLAIN without initial response: 334")
        res = c.cmd(resp + b"\r\n")
        check(code_is(res, 235, "2.7.0"), "an AUTH response line of %d octets is accepted (RFC 4954 4)"
              % (len(resp) + 2), res)
        check(c.cmd("AUTH PLAIN")[0] == 503, "AUTH after success: 503 (RFC 4954 4)")
        c.cmd("QUIT")
        c.close()
        c = r.conn()
        ehlo(c)
        c.cmd("STARTTLS")
        c.s = ctx.wrap_socket(c.s, server_hostname="localhost")
        ehlo(c)
        check(c.cmd("AUTH PLAIN")[0] == 334, "AUTH PLAIN: 334")
        res = c.cmd(b"A" * 12284 + b"\r\n")
        check(res[0] in (535, 501) or code_is(res, 500, "5.5.6"),
              "a 12286-octet response line: read whole, then judged by the mechanism (RFC 4954 4)", res)
        check(c.cmd("AUTH PLAIN")[0] == 334, "AUTH PLAIN again: 334")
        res = c.cmd(b"A" * 13000 + b"\r\n")
        check(res[0] in (500, 501) and res[1] and res[1][0][4:9] in ("5.5.6", "5.5.2", "5.5.4", "5.7.0"),
              "a 13 KB response line: refused (500 5.5.6, RFC 4954 4)", res)
        check(code_is(c.cmd("NOOP"), 250), "the session goes on after it (the rest was not run)")
        res = c.cmd("AUTH PLAIN")
        c.send(b"*\r\n")
        check(c.reply()[0] == 501, "'*' cancels the exchange: 501 (RFC 4954 4)")
        c.close()
        c = r.conn()
        ehlo(c)
        c.cmd("STARTTLS")
        c.s = ctx.wrap_socket(c.s, server_hostname="localhost")
        ehlo(c)
        res = c.cmd("AUTH PLAIN " + base64.b64encode(b"\0tim\0wrong").decode())
        check(code_is(res, 535, "5.7.8"), "a wrong password: 535 5.7.8 (RFC 4954 6)", res)
        res = c.cmd("AUTH PLAIN " + base64.b64encode(b"\0tim\0tanstaaftanstaaf").decode())
        check(code_is(res, 235, "2.7.0"), "then the right one: 235 2.7.0", res)
        c.close()
    with Recv(*tls_args, "--require-tls") as r:
        c = r.conn()
        ehlo(c)
        check(code_is(c.cmd("MAIL FROM:<a@example.org>"), 530, "5.7.0"),
              "--require-tls: MAIL before STARTTLS is 530 5.7.0 (RFC 3207 4)")
        c.close()


def main():
    if not os.access(RECV, os.X_OK):
        print("FAIL smtpkit-recv not built at %s" % RECV)
        sys.exit(1)
    t0 = time.time()
    try:
        for t in (test_cli, test_greeting_ehlo, test_commands, test_params, test_data,
                  test_pipelining_bdat, test_limits, test_lmtp, test_tls_auth):
            try:
                t()
            except Exception as e:  # a crash in one group must not hide the others
                import traceback
                traceback.print_exc()
                check(False, "%s ran to its end" % t.__name__, e)
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
    print("%.1f s" % (time.time() - t0))
    if FAILURES:
        print("%d failure(s):" % len(FAILURES))
        for f in FAILURES:
            print("  " + f)
        sys.exit(1)
    print("all passed")


if __name__ == "__main__":
    main()
