"""Shared helpers for the smtpkit-recv interop tests (tests/interop/test_recv_*.py).

Start smtpkit-recv on 127.0.0.1:0, read the real port from its stdout line
"listening on ADDR:PORT", look at what it stored, stop it with SIGTERM.
A missing peer program is a failure, never a skip.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN_DIR = os.environ.get("SMTPKIT_BIN_DIR", "")


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def need(prog):
    """The path of a peer program; fail (not skip) when it is missing."""
    path = shutil.which(prog) or (prog if os.path.isabs(prog) and os.access(prog, os.X_OK) else None)
    if not path:
        fail("required peer program not found: %s (tests/run.sh installs it)" % prog)
    return path


def recv_binary():
    path = os.path.join(BIN_DIR, "smtpkit-recv")
    if not os.access(path, os.X_OK):
        fail("smtpkit-recv not built at %s (SMTPKIT_BIN_DIR)" % path)
    return path


class Recv:
    """A running smtpkit-recv."""

    def __init__(self, *args, listen=("127.0.0.1:0",), expect_listeners=None):
        self.tmp = tempfile.mkdtemp(prefix="smtpkit-recv-")
        self.errpath = os.path.join(self.tmp, "stderr")
        cmd = [recv_binary()]
        for l in listen:
            cmd += ["--listen", l]
        cmd += list(args)
        self.err = open(self.errpath, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.err)
        self.addrs = []
        n = expect_listeners if expect_listeners is not None else len(listen)
        deadline = time.time() + 10
        while len(self.addrs) < n:
            line = self.proc.stdout.readline()
            if not line:
                fail("smtpkit-recv exited before listening: %s" % self.stderr())
            line = line.decode().rstrip("\n")
            check(line.startswith("listening on "), "unexpected stdout line %r" % line)
            self.addrs.append(line[len("listening on "):])
            check(time.time() < deadline, "smtpkit-recv too slow to start")
        self.port = int(self.addrs[0].rsplit(":", 1)[1])

    def stderr(self):
        self.err.flush()
        with open(self.errpath, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Signal it and return its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("smtpkit-recv did not stop within %ss after signal %d" % (timeout, sig))
        self.err.close()
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def maildir_files(d, sub="new"):
    p = os.path.join(d, sub)
    return sorted(os.listdir(p)) if os.path.isdir(p) else []


def maildir_messages(d):
    out = []
    for name in maildir_files(d):
        with open(os.path.join(d, "new", name), "rb") as f:
            out.append(f.read())
    return out


def strip_received(msg):
    """Check our Received: header (the first header, RFC 5321 4.4) and
    return the message without it."""
    check(msg.startswith(b"Received: from "), "stored message does not start with Received: %r"
          % msg[:80])
    i = 0
    # the header and its folded continuation lines
    while True:
        j = msg.index(b"\r\n", i) + 2
        i = j
        if msg[i:i + 1] not in (b" ", b"\t"):
            break
    header = msg[:i]
    check(b" with " in header and b" id " in header and b";" in header,
          "Received: header lacks with/id/date: %r" % header)
    return msg[i:]


class Client:
    """A raw SMTP client over a socket, for precise byte-level tests."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        """Read one (possibly multi-line) reply; returns (code, text lines)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    fail("connection closed while waiting for a reply (got %r)" % self.buf)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode(errors="replace"))
            if len(line) < 4 or line[3:4] == b" ":
                return int(line[:3]), lines

    def expect(self, code):
        c, lines = self.reply()
        check(c == code, "expected %d, got %r" % (code, lines))
        return lines

    def read_all(self, timeout=5):
        """Everything until the server closes."""
        self.s.settimeout(timeout)
        data = self.buf
        self.buf = b""
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            fail("server did not close the connection; got %r" % data[-200:])
        return data

    def close(self):
        self.s.close()
