"""Helpers shared by the tests/interop/test_send_*.py tests (not a test itself)."""
import os
import random
import shutil
import socket
import subprocess
import sys
import time

BIN = os.environ.get("SMTPKIT_BIN_DIR", "")
BUILD = os.environ.get("SMTPKIT_BUILD_DIR", "")
FAILURES = []


def check(cond, what):
    if cond:
        print("ok   " + what)
    else:
        print("FAIL " + what)
        FAILURES.append(what)
    return cond


def finish():
    if FAILURES:
        print("%d failure(s):" % len(FAILURES))
        for f in FAILURES:
            print("  " + f)
        sys.exit(1)
    print("all passed")
    sys.exit(0)


def need(path, what):
    """A missing peer or program is a failure, not a skip."""
    if not os.path.exists(path):
        print("FAIL %s not found at %s" % (what, path))
        sys.exit(1)
    return path


def tool(name):
    return need(os.path.join(BIN, name), name)


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(host, port, family=socket.AF_INET, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.connect((host, port))
            s.close()
            return True
        except OSError:
            time.sleep(0.02)
        finally:
            s.close()
    return False


def mbedtls_built():
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return "SMTPKIT_WITH_MBEDTLS:BOOL=ON" in f.read()
    except OSError:
        return False


def run(args, stdin=None, timeout=120):
    """Run a program; returns (exit code, stdout text, stderr text)."""
    p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def wire_form(msg):
    """What a server's DATA decoder must hand over for `msg` sent by smtpkit:
    every line end (CRLF, bare LF, bare CR) made CRLF, a final CRLF added."""
    out = msg.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if out and not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out


def dotty_message(size, seed=1):
    """A message of about `size` bytes full of lines that need dot-stuffing:
    ".", "..", ".x", a line "." alone, "\r\n.\r\n" inside."""
    rnd = random.Random(seed)
    parts = [b"Subject: dots and more\r\nFrom: a@example.org\r\n\r\n",
             b".\r\n", b"..\r\n", b".leading dot\r\n", b"\r\n.\r\n", b"...\r\n"]
    n = sum(len(p) for p in parts)
    while n < size:
        k = rnd.randrange(0, 8)
        if k == 0:
            line = b"." * rnd.randrange(1, 4) + b"dot line %d" % n
        elif k == 1:
            line = b""
        else:
            line = bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz ,;:-_=+0123456789")
                         for _ in range(rnd.randrange(1, 200)))
        parts.append(line + b"\r\n")
        n += len(line) + 2
    return b"".join(parts)


class SmtpSink:
    """Postfix smtp-sink on a free port, dumping each message into a directory."""

    def __init__(self, workdir, options=(), family=socket.AF_INET):
        self.path = need("/usr/sbin/smtp-sink", "Postfix smtp-sink")
        self.family = family
        self.host = "127.0.0.1" if family == socket.AF_INET else "::1"
        self.port = free_port(family, self.host)
        self.dump = os.path.join(workdir, "dump%d" % self.port)
        os.makedirs(self.dump, exist_ok=True)
        addr = ("%s:%d" if family == socket.AF_INET else "[%s]:%d") % (self.host, self.port)
        args = [self.path]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
            os.chmod(self.dump, 0o777)
        args += ["-d", os.path.join(self.dump, "%M.")] + list(options) + [addr, "64"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not wait_port(self.host, self.port, family):
            self.stop()
            print("FAIL smtp-sink did not start: " + " ".join(args))
            sys.exit(1)

    def server(self):
        return ("%s:%d" if self.family == socket.AF_INET else "[%s]:%d") % (self.host, self.port)

    def dumps(self, count=None, timeout=10.0):
        """The dumped transactions, oldest first, once `count` exist."""
        end = time.time() + timeout
        while True:
            names = sorted(os.listdir(self.dump),
                           key=lambda n: os.path.getmtime(os.path.join(self.dump, n)))
            if count is None or len(names) >= count or time.time() > end:
                break
            time.sleep(0.02)
        out = []
        for n in names:
            with open(os.path.join(self.dump, n), "rb") as f:
                out.append(parse_dump(f.read()))
        return out

    def clear(self):
        for n in os.listdir(self.dump):
            os.unlink(os.path.join(self.dump, n))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def parse_dump(data):
    """smtp-sink -d format: its X- records, a 3-line Received: header, the
    message as text lines ending in LF, then one empty line. Returns
    (records dict of lists, message bytes with LF line ends)."""
    lines = data.split(b"\n")
    rec = {}
    i = 0
    while i < len(lines) and not lines[i].startswith(b"Received: "):
        k, _, v = lines[i].partition(b": ")
        rec.setdefault(k.decode(), []).append(v.decode("utf-8", "replace"))
        i += 1
    i += 3  # Received: and its two continuation lines
    body = b"\n".join(lines[i:])
    if body.endswith(b"\n\n"):
        body = body[:-1]  # the empty line smtp-sink appends
    return rec, body


def lf_form(msg):
    """A message as smtp-sink's dump shows it: wire form with LF line ends."""
    return wire_form(msg).replace(b"\r\n", b"\n")


def tmpdir(name):
    base = os.path.join(BUILD or "/tmp", "interop-" + name)
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    return base
