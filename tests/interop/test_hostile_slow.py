"""smtpkit-recv (--timeout 3) against slow and idle peers, all at once, while
a normal client keeps sending mail and EHLOs and measures its latency:

- 2,000 connections that never say a word: each gets 421 4.4.2 after the
  timeout and is closed; RSS per idle session stays within the bound
  (docs/receiving.md: ~1.8 KiB per session; allowed here: 6 KiB, which
  covers ASan's allocator too);
- a client that sends "EHLO" one byte per second: the timeout counts from
  the last reply, not the last byte, so it gets 421 4.4.2 after ~3 s;
- a client that sends whole commands every 2 s (under the timeout) keeps
  its session;
- a client that pipelines 10,000 commands and never reads: the server's RSS
  does not grow (the replies wait in the kernel's socket buffers, then the
  session stops reading: TCP pushes back), and it drops the connection once
  no reply could be written for the timeout;
- a client that pipelines 10,000 commands and reads only after a second:
  every reply arrives, in order.

At the end: the normal client had no failure, its latency is reported and
bounded, every connection is gone (fd count back to the start), and a second wave
of 2,000 idle sessions reuses the memory of the first (no growth)."""
import os
import select
import selectors
import shutil
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs"))
from recv_helper import Client, Recv, check, fail, maildir_files  # noqa: E402
from fault_helper import alive, fd_count, parse_replies, rss_kb, shm_dir  # noqa: E402

TIMEOUT = 3
IDLE = 2000
PIPELINED = 10000
MSG = b"Subject: normal\r\n\r\nthe normal client's message\r\n"


class Normal(threading.Thread):
    """The well-behaved client: EHLO round trips on one connection, and a
    whole transaction on a new connection every 0.2 s."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.noop = []
        self.tx = []
        self.errors = []

    def run(self):
        try:
            c = Client(self.port)
            c.expect(220)
            next_tx = 0
            while not self.stop.is_set():
                t = time.time()
                # EHLO: a command that is no "junk" (100 NOOPs without a
                # message would be, as in Postfix)
                c.send(b"EHLO normal.example\r\n")
                c.expect(250)
                self.noop.append(time.time() - t)
                if time.time() >= next_tx:
                    t = time.time()
                    d = Client(self.port)
                    d.expect(220)
                    d.send(b"EHLO normal.example\r\nMAIL FROM:<a@example.org>\r\n"
                           b"RCPT TO:<b@example.net>\r\nDATA\r\n")
                    for code in (250, 250, 250, 354):
                        d.expect(code)
                    d.send(MSG + b".\r\nQUIT\r\n")
                    d.expect(250)
                    d.expect(221)
                    d.close()
                    self.tx.append(time.time() - t)
                    next_tx = time.time() + 0.2
                time.sleep(0.05)
            c.send(b"QUIT\r\n")
            c.expect(221)
            c.close()
        except BaseException as e:  # noqa: B902 -- reported by the main thread
            self.errors.append(repr(e))


class RssWatch(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                with open("/proc/%d/statm" % self.pid) as f:
                    kb = int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
            except (OSError, IndexError, ValueError):
                return  # gone: the main thread reports it
            self.peak = max(self.peak, kb)
            time.sleep(0.05)


def slowloris(port, out):
    """One byte per second; returns (seconds from greeting to close, bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    f = s.makefile("rb")
    greet = f.readline()
    t0 = time.time()
    got = b""
    for b in b"EHLO slow.example\r\n":
        s.setblocking(False)
        try:
            chunk = s.recv(4096)
            if chunk == b"":
                break
            got += chunk
        except BlockingIOError:
            pass
        except ConnectionResetError:
            break
        s.setblocking(True)
        try:
            s.send(bytes([b]))
        except OSError:
            break
        time.sleep(1)
    s.settimeout(5)
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    out["slowloris"] = (time.time() - t0, greet, got)


def slow_whole(port, out):
    """Whole commands, each 2 s apart (under the 3 s timeout)."""
    c = Client(port)
    c.expect(220)
    codes = []
    for _ in range(4):
        time.sleep(2)
        c.send(b"NOOP\r\n")
        codes.append(c.reply()[0])
    c.send(b"QUIT\r\n")
    codes.append(c.reply()[0])
    out["slow_whole"] = codes


def pipeline_no_read(port, out):
    """Send 10,000 EHLOs without ever reading; how far does it get, and
    when does the server give up on it?"""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # keep the replies in the server
    data = b"EHLO pipe.example\r\n" * PIPELINED
    s.setblocking(False)
    sent = 0
    last = time.time()
    while sent < len(data) and time.time() - last < 2:
        try:
            sent += s.send(data[sent:])
            last = time.time()
        except BlockingIOError:
            select.select([], [s], [], 0.1)
        except OSError:
            break
    out["nr_sent"] = sent
    out["nr_stalled_at"] = last
    # Now wait for the server to drop it. The replies it wrote sit in the
    # kernel's send buffer (the client reads nothing), so the FIN cannot
    # reach the client: look at the server's end of the connection instead.
    cport = s.getsockname()[1]
    deadline = time.time() + TIMEOUT + 10
    closed_at = None
    while time.time() < deadline:
        st = tcp_state(port, cport)
        if st != 1:  # no longer ESTABLISHED (FIN-WAIT-1 behind the unread replies, or gone)
            closed_at = time.time()
            break
        time.sleep(0.05)
    out["nr_closed_after"] = None if closed_at is None else closed_at - last
    s.close()


def tcp_state(lport, rport):
    """State of the 127.0.0.1:lport -> 127.0.0.1:rport socket (/proc/net/tcp:
    1 ESTABLISHED, 4 FIN_WAIT1, ...), or None when there is none."""
    want = ("0100007F:%04X" % lport, "0100007F:%04X" % rport)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if (parts[1], parts[2]) == want:
                return int(parts[3], 16)
    return None


def pipeline_late_read(port, out):
    """Send 10,000 EHLOs, start reading only after a second; every reply
    must come, in order."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    data = b"EHLO late.example\r\n" * PIPELINED + b"QUIT\r\n"
    err = []

    def writer():
        try:
            s.sendall(data)
        except OSError as e:
            err.append(repr(e))

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    time.sleep(1)
    buf = b""
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        buf += chunk
    w.join(10)
    s.close()
    reps, rest = parse_replies(buf)
    out["late"] = ([c for c, _ in reps], rest, err)


def idle_wait(idle, t_open):
    """Every idle connection must get 220, then 421 4.4.2, then be closed."""
    deadline = t_open + TIMEOUT + 15
    sel = selectors.DefaultSelector()  # select() stops at fd 1024
    for i, s in enumerate(idle):
        sel.register(s, selectors.EVENT_READ, i)
    pending = set(range(len(idle)))
    data = {}
    while pending and time.time() < deadline:
        for key, _ in sel.select(0.2):
            i = key.data
            try:
                chunk = key.fileobj.recv(4096)
            except ConnectionResetError:
                chunk = b""
            data[i] = data.get(i, b"") + chunk
            if not chunk:
                pending.discard(i)
                sel.unregister(key.fileobj)
    sel.close()
    check(not pending, "%d idle connections were never closed" % len(pending))
    for i in range(len(idle)):
        reps, rest = parse_replies(data[i])
        codes = [(c, lines[-1][:9]) for c, lines in reps]
        if codes != [(220, b"220 mx.ex"), (421, b"421 4.4.2")] or rest:
            fail("idle connection %d got %r" % (i, data[i]))
        idle[i].close()


def open_idle(port):
    idle = []
    for _ in range(IDLE):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        idle.append(s)
    return idle


def main():
    # ASan keeps freed memory in a quarantine (256 MB by default) that would
    # make RSS grow with every new session; without it, freed memory is
    # still poisoned until reused (a use right after free is still caught).
    os.environ["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                                  ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0").lstrip(":")
    base = shm_dir("smtpkit-slow-")
    try:
        md = os.path.join(base, "Maildir")
        with Recv("--maildir", md, "--hostname", "mx.example.net", "--quiet", "--timeout",
                  str(TIMEOUT), "--max-sessions", str(IDLE + 100)) as r:
            pid = r.proc.pid
            # warm up: one of everything the normal client does
            c = Client(r.port)
            c.expect(220)
            c.send(b"EHLO w.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
                   b"DATA\r\n")
            for code in (250, 250, 250, 354):
                c.expect(code)
            c.send(MSG + b".\r\nQUIT\r\n")
            c.expect(250)
            c.expect(221)
            c.close()
            time.sleep(0.2)
            rss0, fd0 = rss_kb(pid), fd_count(pid)
            watch = RssWatch(pid)
            watch.start()
            normal = Normal(r.port)
            normal.start()

            # 2,000 idle connections
            t_idle = time.time()
            idle = open_idle(r.port)
            t_idle_done = time.time()
            time.sleep(0.3)
            rss_idle, fd_idle = rss_kb(pid), fd_count(pid)
            check(fd_idle >= fd0 + IDLE, "2,000 connections open: fds %d -> %d" % (fd0, fd_idle))
            per_session = (rss_idle - rss0) * 1024.0 / IDLE

            out = {}
            threads = [threading.Thread(target=f, args=(r.port, out), daemon=True)
                       for f in (slowloris, slow_whole, pipeline_no_read, pipeline_late_read)]
            for t in threads:
                t.start()

            # the idle ones: 421 4.4.2 after the timeout, then closed
            idle_wait(idle, t_idle_done)
            t_idle_closed = time.time()
            for t in threads:
                t.join(40)
                check(not t.is_alive(), "a hostile client thread did not finish")
            normal.stop.set()
            normal.join(20)
            watch.stop.set()
            watch.join()
            alive(r)

            # the verdicts
            check(not normal.errors, "the normal client failed: %s" % normal.errors)
            check(len(normal.tx) >= 10, "the normal client sent only %d messages" % len(normal.tx))
            lat = sorted(normal.noop)
            med, p99, mx = lat[len(lat) // 2], lat[int(len(lat) * 0.99)], lat[-1]
            check(mx < 1.0, "an EHLO of the normal client took %.0f ms" % (mx * 1000))
            check(max(normal.tx) < 2.0, "a transaction of the normal client took %.0f ms"
                  % (max(normal.tx) * 1000))
            secs, greet, got = out["slowloris"]
            check(greet.startswith(b"220 "), "slowloris greeting %r" % greet)
            check(got.startswith(b"421 4.4.2") and b"\r\n" in got and got.count(b"\r\n") == 1,
                  "slowloris: expected only 421 4.4.2, got %r" % got)
            check(TIMEOUT - 0.5 <= secs <= TIMEOUT + 3, "slowloris closed after %.1fs" % secs)
            check(out["slow_whole"] == [250, 250, 250, 250, 221], "whole commands every 2 s: %r"
                  % out["slow_whole"])
            nr_after = out["nr_closed_after"]
            check(nr_after is not None and nr_after <= TIMEOUT + 3,
                  "the client that never reads was not dropped after the timeout (%r)" % nr_after)
            codes, rest, err = out["late"]
            check(not err and rest == b"", "late reader: %r %r" % (err, rest[:100]))
            check(codes == [220] + [250] * PIPELINED + [221],
                  "late reader: %d replies, not 220 + 10,000 x 250 + 221 in order" % len(codes))
            check(per_session <= 6144, "%.0f bytes of RSS per idle session" % per_session)
            check(watch.peak - rss_idle <= 4096, "RSS peak %d KiB, %d KiB over the idle level"
                  % (watch.peak, watch.peak - rss_idle))
            time.sleep(0.3)
            fd_end, rss_end = fd_count(pid), rss_kb(pid)
            check(fd_end == fd0, "fds at the end %d, at the start %d" % (fd_end, fd0))
            # freed memory stays with the allocator, so RSS need not drop; a
            # second wave of 2,000 idle sessions must reuse it, not add to it
            idle = open_idle(r.port)
            t2 = time.time()
            time.sleep(0.3)
            rss_wave2 = rss_kb(pid)
            idle_wait(idle, t2)
            check(rss_wave2 <= max(watch.peak, rss_end) + 1024,
                  "RSS grows: %d KiB with the second 2,000 idle sessions, %d KiB peak with the first"
                  % (rss_wave2, watch.peak))
            time.sleep(0.3)
            check(fd_count(pid) == fd0, "fds after the second wave %d, at the start %d"
                  % (fd_count(pid), fd0))
            stored = len(maildir_files(md))
            check(stored == len(normal.tx) + 1, "stored %d, sent %d" % (stored, len(normal.tx) + 1))
            check(r.stop() == 0, "exit status")
        print("ok: %d idle sessions: %.0f B RSS each, all 421 4.4.2 within %.1fs of their open; "
              "slowloris 421 after %.1fs; never-reading pipeliner got %d bytes in, dropped %.1fs "
              "after it stalled; late reader 10,002 replies in order; RSS start/idle/peak/end/wave2 "
              "%d/%d/%d/%d/%d KiB; normal client: %d EHLOs median %.1f ms p99 %.1f ms max %.1f ms, "
              "%d messages max %.0f ms"
              % (IDLE, per_session, t_idle_closed - t_idle, secs, out["nr_sent"], nr_after, rss0,
                 rss_idle, watch.peak, rss_end, rss_wave2, len(lat), med * 1000, p99 * 1000, mx * 1000,
                 len(normal.tx), max(normal.tx) * 1000))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
