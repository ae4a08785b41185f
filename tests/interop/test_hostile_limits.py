"""smtpkit-recv at its resource limits. Every case must get the right reply,
the server must not crash, and its RSS must not grow with the size of the
abuse (checked before and after each case; ASan's quarantine is turned off
so that RSS means something).

- 3,000 RCPTs pipelined (limit 100): 100 x 250, then 452 4.5.3; the message
  is still delivered once, to the first 100;
- 100,000 NOOPs pipelined: 250 until the junk limit (100) has used up the
  error limit (20), then 421 4.7.0 and the connection closes;
- a body of SMTPKIT_BIG_MB MB (default 200; tests/bench/soak.sh uses 1024)
  to --sink with a larger --max-size: 250; over --max-size: 552 5.3.4 after
  the data, and SIZE= over it at MAIL: 552 5.3.4;
- a command line of 1 MB: 500 5.5.6, the session goes on; a text line of
  1 MB in DATA: 550 5.6.0 after the data, nothing stored;
- NUL and 8-bit bytes in commands, addresses and the EHLO name: 500 5.5.2 or
  553 5.6.7, never echoed back (every reply is printable ASCII); every byte
  value except CR and LF in a body: stored byte for byte;
- AUTH floods over implicit TLS: 200 connections each pipelining failing
  AUTH PLAIN (535 5.7.8), LOGIN cancelled with "*" (501), or 20 KB responses
  (500 5.5.6): 421 4.7.0 after the third failed exchange, or the 20th
  protocol error."""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs"))
from recv_helper import Recv, check, fail, maildir_files, strip_received  # noqa: E402
from fault_helper import alive, parse_replies, rss_kb, shm_dir  # noqa: E402

SRC = os.environ.get("SMTPKIT_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIG_MB = int(os.environ.get("SMTPKIT_BIG_MB", "200"))


def conv(sock, data, chunks=None):
    """Write `data` (or the `chunks` iterator) while a thread reads every
    reply, until the server closes. Returns (replies, rest, seconds)."""
    got = [b""]
    errors = []

    def reader():
        while True:
            try:
                c = sock.recv(1 << 16)
            except (OSError, ssl.SSLError) as e:
                errors.append(e)
                break
            if not c:
                break
            got[0] += c

    # an SSL socket must not be read and written from two threads at once
    # (OpenSSL): small payloads only, written first, then read
    tls = isinstance(sock, ssl.SSLSocket)
    t = threading.Thread(target=reader, daemon=True)
    if not tls:
        t.start()
    t0 = time.time()
    try:
        if data:
            sock.sendall(data)
        for c in chunks or ():
            sock.sendall(c)
        if not tls:
            sock.shutdown(socket.SHUT_WR)
    except (OSError, ssl.SSLError):
        pass  # the server closed first: its replies say why
    if tls:
        t.start()
    t.join(120)
    check(not t.is_alive(), "the server never closed the connection (got %r)" % got[0][-300:])
    secs = time.time() - t0
    sock.close()
    reps, rest = parse_replies(got[0])
    if errors and os.environ.get("SMTPKIT_DEBUG"):
        print("reader: %r after %r" % (errors, got[0][-200:]))
    for c, lines in reps:
        for ln in lines:
            if any(b < 0x20 or b > 0x7e for b in ln):
                fail("a reply line with a control or 8-bit byte: %r" % ln)
    return reps, rest, secs


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=120)


def codes(reps):
    return [(c, lines[-1][:9].decode()) for c, lines in reps]


def squeeze(seq):
    """[(x, n)] runs of equal items, for readable failure messages."""
    out = []
    for x in seq:
        if out and out[-1][0] == x:
            out[-1][1] += 1
        else:
            out.append([x, 1])
    return [tuple(o) for o in out]


class Rss:
    def __init__(self, pid, what, allow_kb):
        self.pid, self.what, self.allow = pid, what, allow_kb

    def __enter__(self):
        print("-- %s" % self.what, flush=True)
        self.before = rss_kb(self.pid)
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.after = rss_kb(self.pid)
            check(self.after - self.before <= self.allow, "%s: RSS %d -> %d KiB (allowed +%d)"
                  % (self.what, self.before, self.after, self.allow))


def maildir_cases(r, md, figures):
    pid = r.proc.pid
    # 3,000 recipients, limit 100
    with Rss(pid, "3,000 RCPTs", 512):
        rc = b"".join(b"RCPT TO:<r%d@example.net>\r\n" % i for i in range(3000))
        reps, rest, _ = conv(connect(r.port), b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\n" + rc
                             + b"DATA\r\nSubject: many\r\n\r\nto many\r\n.\r\nQUIT\r\n")
        want = ([(220, "220 mx.ex"), (250, "250 ENHAN"), (250, "250 2.1.0")] +
                [(250, "250 2.1.5")] * 100 + [(452, "452 4.5.3")] * 2900 +
                [(354, "354 Start"), (250, "250 2.0.0"), (221, "221 2.0.0")])
        check(codes(reps) == want and rest == b"", "3,000 RCPTs: %r" % squeeze(codes(reps)))
    names = maildir_files(md)
    check(len(names) == 1, "the message to 100 recipients stored once")
    figures.append("3,000 RCPTs: 100 x 250 + 2,900 x 452 4.5.3, stored once")

    # NUL and 8-bit bytes everywhere
    body = bytes(b for b in range(256) if b not in (10, 13)) * 40
    body = b"Subject: bytes \x00\xff\r\n\r\n" + b"\r\n".join(body[i:i + 200]
                                                          for i in range(0, len(body), 200)) + b"\r\n"
    with Rss(pid, "NUL and 8-bit", 512):
        reps, rest, _ = conv(connect(r.port), b"EHLO c.example\r\nNO\0OP\r\n"
                             b"MAIL FROM:<a\0b@example.org>\r\nMAIL FROM:<j\xc3\xb6@example.org>\r\n"
                             b"EHLO \xff\xfe\r\nHELO a\0b\r\n\0\0\0\r\n\xff\r\n"
                             b"RCPT TO:<\x80@example.net>\r\nVRFY \x00\r\n"
                             b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
                             b"DATA\r\n" + body.replace(b"\r\n.", b"\r\n..") + b".\r\nQUIT\r\n")
        got = [c for c, _ in reps]
        check(got == [220, 250, 500, 500, 553, 500, 500, 500, 500, 553, 500, 250, 250, 250, 354, 250,
                      221] and rest == b"", "NUL/8-bit commands: %r" % codes(reps))
    new = [n for n in maildir_files(md) if n not in names]
    check(len(new) == 1, "the 8-bit message stored")
    with open(os.path.join(md, "new", new[0]), "rb") as f:
        check(strip_received(f.read()) == body, "every byte value but CR/LF stored byte for byte")
    names = maildir_files(md)
    figures.append("NUL/8-bit: 500 5.5.2 / 553 5.6.7, never echoed; 254 byte values stored exactly")

    # 1 MB lines: a command, then a text line in DATA
    with Rss(pid, "1 MB lines", 512):
        big = b"X" * (1 << 20)
        reps, rest, _ = conv(connect(r.port), b"EHLO c.example\r\n" + big + b"\r\nNOOP\r\n"
                             b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
                             b"Subject: long\r\n\r\n" + big + b"\r\n.\r\n"
                             b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
                             b"Subject: short\r\n\r\nshort\r\n.\r\nQUIT\r\n")
        want = [(220, "220 mx.ex"), (250, "250 ENHAN"), (500, "500 5.5.6"), (250, "250 2.0.0"),
                (250, "250 2.1.0"), (250, "250 2.1.5"), (354, "354 Start"), (550, "550 5.6.0"),
                (250, "250 2.1.0"), (250, "250 2.1.5"), (354, "354 Start"), (250, "250 2.0.0"),
                (221, "221 2.0.0")]
        check(codes(reps) == want and rest == b"", "1 MB lines: %r" % codes(reps))
    new = [n for n in maildir_files(md) if n not in names]
    check(len(new) == 1 and maildir_files(md, "tmp") == [], "only the short message stored")
    figures.append("1 MB command line: 500 5.5.6; 1 MB text line: 550 5.6.0, not stored")


def sink_cases(r, figures):
    pid = r.proc.pid
    # 100,000 NOOPs
    # five times: the 421 and the replies before it must survive the close
    # while the client is still sending (a RST would destroy them at the
    # client about one time in three without the loop's lingering close)
    with Rss(pid, "100,000 NOOPs x 5", 512):
        for _ in range(5):
            reps, rest, secs = conv(connect(r.port), b"EHLO c.example\r\n" + b"NOOP\r\n" * 100000)
            c = codes(reps)
            check(c[:2] == [(220, "220 mx.ex"), (250, "250 ENHAN")] and
                  c[2:-1] == [(250, "250 2.0.0")] * 119 and c[-1] == (421, "421 4.7.0"),
                  "100,000 NOOPs: %r" % squeeze(c))
    figures.append("100,000 NOOPs (x5): 119 x 250 then 421 4.7.0 (%.2fs)" % secs)

    # SIZE= over the limit
    reps, rest, _ = conv(connect(r.port), b"EHLO c.example\r\nMAIL FROM:<a@example.org> SIZE=%d\r\n"
                         b"QUIT\r\n" % (BIG_MB * 2 << 20))
    check([x for x, _ in reps] == [220, 250, 552, 221] and reps[2][1][0].startswith(b"552 5.3.4"),
          "SIZE= over --max-size: %r" % codes(reps))

    # a big body under, then over the limit
    line = b"x" * 998 + b"\r\n"
    chunk = line * 1048  # ~1 MiB
    nchunks = BIG_MB
    head = b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n"
    for what, n, code in (("under", nchunks, "250 2.0.0"), ("over", nchunks * 3 // 2, "552 5.3.4")):
        with Rss(pid, "%s: %d MB body" % (what, n), 1024):
            reps, rest, secs = conv(connect(r.port), head,
                                    chunks=[chunk] * n + [b".\r\nNOOP\r\nQUIT\r\n"])
            c = codes(reps)
            check(c == [(220, "220 mx.ex"), (250, "250 ENHAN"), (250, "250 2.1.0"), (250, "250 2.1.5"),
                        (354, "354 Start"), (250 if code.startswith("250") else 552, code),
                        (250, "250 2.0.0"), (221, "221 2.0.0")],
                  "%d MB body (%s the limit): %r" % (n, what, c))
        figures.append("%d MB body %s --max-size: %s, %.0f MB/s" % (len(chunk) * n >> 20, what, code,
                                                                   len(chunk) * n / secs / 1e6))


def auth_cases(base, figures):
    certs = os.path.join(base, "certs")
    p = subprocess.run(["bash", os.path.join(SRC, "tests/interop/tls_certs.sh"), certs],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(p.returncode == 0, "tls_certs.sh: %s" % p.stdout.decode(errors="replace"))
    users = os.path.join(base, "users")
    with open(users, "w") as f:
        f.write("tim:tanstaaftanstaaf\n")
    md = os.path.join(base, "AuthMaildir")
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    with Recv("--maildir", md, "--hostname", "mx.example.net", "--quiet", "--implicit-tls",
              "--tls-cert", os.path.join(certs, "server.pem"),
              "--tls-key", os.path.join(certs, "server.key"), "--auth-file", users) as r:
        pid = r.proc.pid

        def flood(k):
            s = ctx.wrap_socket(connect(r.port), server_hostname="localhost")
            payload = [b"EHLO flood.example\r\n"]
            kind = k % 3
            if kind == 0:  # wrong passwords
                payload += [b"AUTH PLAIN AHRpbQB3cm9uZw==\r\n"] * 10
            elif kind == 1:  # LOGIN cancelled
                payload += [b"AUTH LOGIN\r\n*\r\n"] * 10
            else:  # a response far over RFC 4954's 12,288 octets
                payload += [b"AUTH PLAIN " + b"QUFB" * 5000 + b"\r\n"] * 25
            payload.append(b"QUIT\r\n")
            reps, rest, _ = conv(s, b"".join(payload))
            return [x for x, _ in reps]

        # three failed exchanges end the session with 421 4.7.0; over-long
        # lines are protocol errors: the 20th gets its 500, then 421
        want = {0: [220, 250, 535, 535, 421], 1: [220, 250, 334, 501, 334, 501, 334, 421],
                2: [220, 250] + [500] * 20 + [421]}
        flood(0)  # warm up (TLS contexts, first allocations)
        results = []
        with Rss(pid, "AUTH flood", 2048):
            for k in range(200):
                results.append(flood(k))
        for k, got in enumerate(results):
            check(got == want[k % 3], "AUTH flood connection %d (kind %d): %r" % (k, k % 3, got))
        alive(r)
        check(maildir_files(md) == [], "nothing stored by the AUTH flood")
        check(r.stop() == 0, "exit status")
    figures.append("200 AUTH flood connections over TLS: 421 4.7.0 after 3 failures / 20 errors")


def tls_built():
    """Whether this build has the mbedTLS adapter (CMakeCache of SMTPKIT_BUILD_DIR;
    without one, e.g. tests/bench/soak.sh with its own binaries, assume it has)."""
    cache = os.path.join(os.environ.get("SMTPKIT_BUILD_DIR", ""), "CMakeCache.txt")
    if not os.environ.get("SMTPKIT_BUILD_DIR") or not os.path.exists(cache):
        return True
    with open(cache) as f:
        return any(line.strip() == "SMTPKIT_WITH_MBEDTLS:BOOL=ON" for line in f)


def main():
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                  ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0").lstrip(":")
    base = shm_dir("smtpkit-limits-")
    figures = []
    try:
        md = os.path.join(base, "Maildir")
        with Recv("--maildir", md, "--hostname", "mx.example.net", "--quiet") as r:
            maildir_cases(r, md, figures)
            alive(r)
            check(r.stop() == 0, "exit status")
        with Recv("--sink", "--hostname", "mx.example.net", "--quiet",
                  "--max-size", str(BIG_MB * 1048 * 1000 + 100000)) as r:
            sink_cases(r, figures)
            alive(r)
            check(r.stop() == 0, "exit status")
        if tls_built():
            auth_cases(base, figures)
        else:
            # as CMake leaves out test_tls* then: AUTH is only offered over TLS
            figures.append("AUTH floods not run: this build has no TLS (SMTPKIT_WITH_MBEDTLS=OFF)")
        print("ok: " + "; ".join(figures))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
