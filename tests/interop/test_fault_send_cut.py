"""Fault injection against smtpkit-send: a small fake server in Python
answers a one-message transaction with a fixed reply stream and closes the
connection after N bytes of it, for every N from 0 to the stream's length,
pipelining; then lock-step DATA (--no-pipelining) and BDAT, from the first
byte of the reply to MAIL on (the bytes before are the same in every mode).

The fake server takes the message ("stores" it) only when the whole 250
line after the data went out. In every case:
- smtpkit-send exits 0 exactly when the message was stored (it saw the 250
  whole; a 250 cut before its CRLF is no acceptance), else 75 (EX_TEMPFAIL);
- when the data was complete but its reply was not, it says "outcome
  unknown" (RFC 1047: the message may have been delivered);
- a stored message is byte-exact."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs"))
from recv_helper import check, fail  # noqa: E402

BIN_DIR = os.environ.get("SMTPKIT_BIN_DIR", "")
MESSAGE = b"Subject: cut\n\n.dot line\nsecond line\n"
WIRE_BODY = b"Subject: cut\r\n\r\n..dot line\r\nsecond line\r\n.\r\n"

GREETING = b"220 fake.example ESMTP\r\n"
EHLO = (b"250-fake.example\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n"
        b"250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n")
MAIL = b"250 2.1.0 Ok\r\n"
RCPT = b"250 2.1.5 Ok\r\n"
DATA = b"354 End data with <CR><LF>.<CR><LF>\r\n"
ACCEPT = b"250 2.0.0 Ok: queued as FAKE1\r\n"
QUIT = b"221 2.0.0 Bye\r\n"


class FakeServer:
    """Serves one connection at a time; each says at most `limit` bytes."""

    def __init__(self):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        self.port = self.ls.getsockname()[1]
        self.limit = 0
        self.result = None
        self.done = threading.Event()

    def serve_one(self, limit, timeout=20):
        """Accept and serve one connection in a thread; returns at once."""
        self.limit = limit
        self.result = {"stored": None, "data_complete": False, "error": None}
        self.done.clear()
        threading.Thread(target=self._run, args=(timeout,), daemon=True).start()

    def _run(self, timeout):
        res = self.result
        try:
            self.ls.settimeout(timeout)
            c, _ = self.ls.accept()
        except OSError as e:
            res["error"] = "accept: %s" % e
            self.done.set()
            return
        c.settimeout(timeout)
        sent = [0]
        buf = [b""]

        def say(b):
            """Write b, or the part of it the limit allows; False when cut."""
            room = self.limit - sent[0]
            part = b[:max(room, 0)]
            if part:
                c.sendall(part)
                sent[0] += len(part)
            return len(part) == len(b)

        def line():
            while b"\r\n" not in buf[0]:
                chunk = c.recv(65536)
                if not chunk:
                    return None
                buf[0] += chunk
            ln, buf[0] = buf[0].split(b"\r\n", 1)
            return ln

        def read_exact(n):
            while len(buf[0]) < n:
                chunk = c.recv(65536)
                if not chunk:
                    return None
                buf[0] += chunk
            d, buf[0] = buf[0][:n], buf[0][n:]
            return d

        try:
            if not say(GREETING):
                return
            body = None
            while True:
                ln = line()
                if ln is None:
                    return
                verb = ln[:4].upper()
                if verb == b"EHLO":
                    ok = say(EHLO)
                elif verb == b"MAIL":
                    ok = say(MAIL)
                elif verb == b"RCPT":
                    ok = say(RCPT)
                elif verb == b"DATA":
                    if not say(DATA):
                        return
                    data = b""
                    while not data.endswith(b"\r\n.\r\n"):
                        ln2 = line()
                        if ln2 is None:
                            return
                        data += ln2 + b"\r\n"
                    body = data
                    res["data_complete"] = True
                    ok = say(ACCEPT)
                    if ok:
                        res["stored"] = body
                elif verb == b"BDAT":
                    parts = ln.split()
                    chunk = read_exact(int(parts[1]))
                    if chunk is None:
                        return
                    body = (body or b"") + chunk
                    if len(parts) > 2 and parts[2].upper() == b"LAST":
                        res["data_complete"] = True
                        ok = say(ACCEPT)
                        if ok:
                            res["stored"] = body
                    else:
                        ok = say(b"250 2.0.0 chunk\r\n")
                elif verb == b"QUIT":
                    say(QUIT)
                    return
                else:
                    res["error"] = "unexpected command %r" % ln
                    say(b"500 5.5.1 what?\r\n")
                    return
                if not ok:
                    return
        except OSError as e:
            if not isinstance(e, (ConnectionResetError, BrokenPipeError)):
                res["error"] = "server: %r" % e
        finally:
            c.close()
            self.done.set()


def stream_for(mode):
    """The fake server's whole reply stream for a mode."""
    if mode == "bdat":
        return GREETING + EHLO + MAIL + RCPT + ACCEPT + QUIT
    return GREETING + EHLO + MAIL + RCPT + DATA + ACCEPT + QUIT


def run_one(srv, mode, n, msgfile, send):
    srv.serve_one(n)
    args = [send, "--server", "127.0.0.1:%d" % srv.port, "--from", "a@example.org",
            "--to", "b@example.net", "--helo", "client.example", "--timeout", "10", msgfile]
    if mode == "lockstep":
        args.insert(1, "--no-pipelining")
    if mode == "bdat":
        args.insert(1, "--bdat")
    env = os.environ.copy()
    if n % 10:
        # LeakSanitizer's exit check costs ~80 ms per process under ASan:
        # every tenth run (and every run without ASan) still has it
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, env=env)
    if not srv.done.wait(20):
        fail("%s cut at %d: the fake server never finished" % (mode, n))
    return p, dict(srv.result)


def check_one(mode, n, p, res):
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    where = "%s cut at %d (exit %d): %s" % (mode, n, p.returncode, out.strip())
    check(res["error"] is None, "%s: %s" % (where, res["error"]))
    stored = res["stored"] is not None
    if stored:
        want = WIRE_BODY if mode != "bdat" else WIRE_BODY[:-3].replace(b"\r\n..", b"\r\n.")
        check(res["stored"] == want, "%s: stored %r" % (where, res["stored"]))
        check(p.returncode == 0 and "message: 250 2.0.0 Ok: queued as FAKE1" in out,
              "%s: stored, but smtpkit-send did not report 250" % where)
    else:
        check(p.returncode == 75, "%s: not stored, the exit status must be 75" % where)
        check("message: 250" not in out, "%s: reports 250 for a message not stored" % where)
        if res["data_complete"]:
            check("outcome unknown" in out, "%s: data sent, no reply: must say outcome unknown"
                  % where)
    return stored


def main():
    send = os.path.join(BIN_DIR, "smtpkit-send")
    if not os.access(send, os.X_OK):
        fail("smtpkit-send not built at %s (SMTPKIT_BIN_DIR)" % send)
    tmp = tempfile.mkdtemp(prefix="smtpkit-sendcut-")
    try:
        msgfile = os.path.join(tmp, "msg.eml")
        with open(msgfile, "wb") as f:
            f.write(MESSAGE)
        t0 = time.time()
        summary = []
        for mode in ("pipelined", "lockstep", "bdat"):
            full = stream_for(mode)
            accept_end = full.index(ACCEPT) + len(ACCEPT)
            servers = [FakeServer(), FakeServer()]
            # every offset for pipelining; the other modes share its greeting
            # and EHLO bytes, so they are cut at every offset from MAIL's reply
            first = 0 if mode == "pipelined" else full.index(MAIL)
            ns = list(range(first, len(full) + 1))

            def worker(k):
                got = []
                for n in ns[k::2]:
                    p, res = run_one(servers[k], mode, n, msgfile, send)
                    got.append((n, p, res))
                return got

            with ThreadPoolExecutor(2) as ex:
                results = [r for part in ex.map(worker, (0, 1)) for r in part]
            stored = 0
            for n, p, res in sorted(results, key=lambda x: x[0]):
                s = check_one(mode, n, p, res)
                check(s == (n >= accept_end), "%s cut at %d: stored=%s, expected %s"
                      % (mode, n, s, n >= accept_end))
                stored += s
            summary.append("%s %d offsets (%d stored)" % (mode, len(ns), stored))
            for srv in servers:
                srv.ls.close()
        print("ok: %s; %.1fs" % (", ".join(summary), time.time() - t0))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
