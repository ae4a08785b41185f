#!/usr/bin/python3
"""Memory per idle session: open 1,000 and 5,000 connections that each got
the greeting and an answer to EHLO, then hold them idle; the server's RSS
growth (VmRSS in /proc/PID/status, i.e. user-space memory: the kernel's
socket buffers are not in it) divided by the number of sessions.

Servers: smtpkit-recv --sink, Postfix smtp-sink (-m 6000), and aiosmtpd
(the Maildir handler of bench_recv.py) for reference. Each count uses a
fresh server process. The library's own bytes per session (one allocation,
smtpkit_server_size()) are printed by bench_session.

    tests/bench/bench_memory.py [--build /tmp/build-perf] [--quick]
"""
import os
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402


def read_reply(s, buf=b""):
    """Read one (possibly multi-line) reply; return (reply, rest)."""
    while True:
        start = 0
        while True:
            i = buf.find(b"\r\n", start)
            if i < 0:
                break
            line = buf[start:i]
            start = i + 2
            if len(line) >= 4 and line[3:4] == b" ":
                return buf[:start], buf[start:]
            if len(line) < 4 or line[3:4] != b"-":
                raise RuntimeError("bad reply line %r" % line)
        d = s.recv(4096)
        if not d:
            raise RuntimeError("connection closed")
        buf += d


def open_sessions(port, n):
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        greet, rest = read_reply(s)
        if not greet.startswith(b"220"):
            raise RuntimeError("greeting %r" % greet)
        s.sendall(b"EHLO client%d.localhost\r\n" % i)
        ehlo, rest = read_reply(s, rest)
        if not ehlo.startswith(b"250"):
            raise RuntimeError("EHLO %r" % ehlo)
        socks.append(s)
    return socks


def measure(server, n):
    base = server.rss_kb()
    socks = open_sessions(server.port, n)
    time.sleep(0.3)
    # every session still answers
    for s in (socks[0], socks[-1]):
        s.sendall(b"NOOP\r\n")
        r, _ = read_reply(s)
        if not r.startswith(b"250"):
            raise RuntimeError("NOOP %r" % r)
    after = server.rss_kb()
    for s in socks:
        s.close()
    return base, after, (after - base) * 1024.0 / n


def main():
    p = B.common_args(__doc__.split("\n")[0])
    args = p.parse_args()
    B.setup(args)
    recv = B.tool(args, "bin", "smtpkit-recv")
    counts = [1000, 5000] if not args.quick else [1000, 2000]
    work = tempfile.mkdtemp(prefix="smtpkit-bench-mem-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    servers = [
        ("smtpkit-recv", lambda port: [recv, "--listen", "127.0.0.1:%d" % port, "--sink", "--quiet",
                                        "--max-sessions", "6000", "--hostname", "bench.localhost"]),
        ("smtp-sink", B.smtp_sink_argv(["-m", "6000"])),
        ("aiosmtpd", lambda port: [B.need(B.SYS_PYTHON), os.path.join(B.HERE, "aiosmtpd_maildir.py"),
                                   "127.0.0.1", str(port), os.path.join(work, "md")]),
    ]
    rows = []
    per = {}
    try:
        for name, argv in servers:
            for n in counts:
                srv = B.Server(name, argv)
                try:
                    base, after, bps = measure(srv, n)
                finally:
                    srv.stop()
                per[(name, n)] = bps
                rows.append([name, str(n), "%d" % base, "%d" % after, "%.0f" % bps])
                print("  %s %d sessions: %.0f bytes each" % (name, n, bps), flush=True)
    finally:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("Idle sessions after EHLO: RSS growth per session (VmRSS, kernel socket memory excluded)")
    B.table(rows, ["server", "sessions", "RSS before KiB", "RSS after KiB", "bytes/session"])
    n = counts[-1]
    if ("smtp-sink", n) in per and per[("smtp-sink", n)] > 0:
        print("smtpkit-recv / smtp-sink at %d sessions: %.3fx" % (
            n, per[("smtpkit-recv", n)] / per[("smtp-sink", n)]))


if __name__ == "__main__":
    main()
