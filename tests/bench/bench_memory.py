#!/usr/bin/python3
"""Memory per idle session: open 1,000 and 5,000 connections that each got
the greeting and an answer to EHLO, then hold them idle; the server's RSS
growth (VmRSS in /proc/PID/status, i.e. user-space memory: the kernel's
socket buffers are not in it) divided by the number of sessions.

Servers: smtpkit-recv --sink, Postfix smtp-sink (-m 6000), and aiosmtpd
(the Maildir handler of bench_recv.py) for reference. Each count uses a
fresh server process. The library's own bytes per session (one allocation,
smtpkit_server_size()) are printed by bench_session.

Then, when valgrind is installed, the whole processes' allocations: smtpkit-recv
(--sink and --maildir) receiving N and 10*N messages over two connections,
and bench_load sending them to smtp-sink: the heap-usage counts valgrind
reports at exit must not depend on the number of messages.

    tests/bench/bench_memory.py [--build /tmp/build-perf] [--quick]
"""
import os
import re
import shutil
import socket
import subprocess
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


def heap_usage(stderr):
    m = re.search(rb"total heap usage: ([\d,]+) allocs, [\d,]+ frees, ([\d,]+) bytes", stderr)
    if not m:
        return None
    return int(m.group(1).replace(b",", b"")), int(m.group(2).replace(b",", b""))


def alloc_part(args, recv, work):
    vg = shutil.which("valgrind")
    if not vg:
        print("(valgrind not found: allocation counts skipped)")
        return
    load = B.tool(args, "bench", "bench_load")
    counts = (100, 1000) if args.quick else (200, 2000)
    rows = []
    for mode in (["--sink"], ["--maildir", os.path.join(work, "alloc-md")]):
        for n in counts:
            srv = B.Server("smtpkit-recv under valgrind", lambda port: [
                vg, "--error-exitcode=99", recv, "--listen", "127.0.0.1:%d" % port,
                "--quiet", "--hostname", "bench.localhost"] + mode)
            try:
                B.run_load(B.smtp_source_argv(srv.port, 2, n, 10240, True))
            finally:
                srv.proc.send_signal(15)
                _, err = srv.proc.communicate(timeout=60)
            hu = heap_usage(err)
            if srv.proc.returncode != 0 or not hu:
                sys.exit("smtpkit-recv under valgrind: exit %d\n%s" % (
                    srv.proc.returncode, err.decode(errors="replace")[-2000:]))
            rows.append(["smtpkit-recv " + mode[0], "%d over 2 connections" % n,
                         "%d" % hu[0], "%d" % hu[1]])
    sink = B.Server("smtp-sink", B.smtp_sink_argv(["-m", "100"]))
    try:
        for n in counts:
            p = subprocess.run([vg, "--error-exitcode=99", load, "-q", "-c", "2", "-m", str(n),
                                "127.0.0.1:%d" % sink.port], capture_output=True, timeout=300)
            hu = heap_usage(p.stderr)
            if p.returncode != 0 or not hu:
                sys.exit("bench_load under valgrind: exit %d\n%s" % (
                    p.returncode, p.stderr.decode(errors="replace")[-2000:]))
            rows.append(["bench_load (client)", "%d over 2 connections" % n, "%d" % hu[0],
                         "%d" % hu[1]])
    finally:
        sink.stop()
    print()
    print("Allocations of the whole process (valgrind's heap usage at exit; the "
          "probe connection included)")
    B.table(rows, ["program", "messages", "allocations", "bytes allocated"])


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
        print()
        print("Idle sessions after EHLO: RSS growth per session (VmRSS, kernel socket memory "
              "excluded)")
        B.table(rows, ["server", "sessions", "RSS before KiB", "RSS after KiB", "bytes/session"])
        n = counts[-1]
        if ("smtp-sink", n) in per and per[("smtp-sink", n)] > 0:
            print("smtpkit-recv / smtp-sink at %d sessions: %.3fx" % (
                n, per[("smtpkit-recv", n)] / per[("smtp-sink", n)]))
        alloc_part(args, recv, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
