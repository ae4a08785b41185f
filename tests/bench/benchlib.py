"""Shared helpers of the peer benchmarks (bench_recv.py, bench_send.py,
bench_memory.py): start and stop servers pinned to a core, read a process's
CPU time and RSS from /proc, alternate variants round by round, and print
medians with min-max and ratios.

Not a test: nothing here runs under ctest. Linux only (/proc, taskset)."""

import argparse
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

SERVER_CPU = "0"   # the server under test runs here...
LOAD_CPU = "1"     # ...and the load generator here (taskset -c)

SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
SYS_PYTHON = "/usr/bin/python3"   # Debian's, with python3-aiosmtpd
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))


def common_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--build", default=os.environ.get("SMTPKIT_BUILD_DIR", "/tmp/build-perf"),
                   help="a Release build directory (bin/ and bench/ inside)")
    p.add_argument("--quick", action="store_true", help="fewer rounds and messages (a smoke run)")
    p.add_argument("--rounds", type=int, default=0, help="rounds (default 5, --quick 3)")
    p.add_argument("--pin", choices=["split", "same", "none"], default="split",
                   help="split (default): server on CPU 0, load on CPU 1; same: both on "
                        "CPU 1; none: no pinning")
    return p


def setup(args):
    if not args.rounds:
        args.rounds = 3 if args.quick else 5
    global PIN, SERVER_CPU
    PIN = args.pin != "none" and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    if args.pin == "same":
        SERVER_CPU = LOAD_CPU
    print(machine_line())
    if PIN:
        # The harness itself moves to LOAD_CPU: load generators inherit the
        # affinity, so no taskset process start is counted in their CPU time.
        os.sched_setaffinity(0, {int(LOAD_CPU)})
        print("pinning: servers on CPU %s (taskset -c %s), load generators on CPU %s "
              "(inherited affinity)" % (SERVER_CPU, SERVER_CPU, LOAD_CPU))
    else:
        print("pinning: none")
    raise_nofile()


PIN = True


def pinned(cmd, cpu):
    return (["taskset", "-c", cpu] + cmd) if PIN else cmd


def need(path, what=None):
    if not (os.path.exists(path) and os.access(path, os.X_OK)):
        sys.exit("missing %s (%s)" % (path, what or path))
    return path


def tool(args, sub, name):
    return need(os.path.join(args.build, sub, name), "build %s first (Release)" % name)


def machine_line():
    model = "?"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "machine: %s, nproc %d, Linux %s, load average %s" % (
        model, os.cpu_count() or 0, platform.release(),
        open("/proc/loadavg").read().split()[0])


def raise_nofile(n=20000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(n, hard) if hard != resource.RLIM_INFINITY else n
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.settimeout(2)
                s.recv(512)  # the greeting: it is really our server
                s.sendall(b"QUIT\r\n")
                try:
                    s.recv(512)
                except OSError:
                    pass
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    """A server process pinned to SERVER_CPU, listening on 127.0.0.1:port."""

    def __init__(self, name, argv_for_port, env=None):
        self.name = name
        self.port = free_port()
        argv = argv_for_port(self.port)
        self.proc = subprocess.Popen(pinned(argv, SERVER_CPU), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        if not wait_port(self.port, self.proc):
            err = b""
            if self.proc.poll() is not None:
                err = self.proc.stderr.read()
            self.stop()
            sys.exit("%s did not start (%s): %s" % (name, " ".join(argv), err.decode(errors="replace")))
        # taskset execs the server: same pid
        self.pid = self.proc.pid

    def cpu_s(self):
        """CPU time (user + system, every thread) so far, in seconds: the sum of
        the threads' schedstat run times (ns), or utime+stime ticks."""
        try:
            total = 0
            for t in os.listdir("/proc/%d/task" % self.pid):
                with open("/proc/%d/task/%s/schedstat" % (self.pid, t)) as f:
                    total += int(f.read().split()[0])
            return total / 1e9
        except (OSError, ValueError):
            with open("/proc/%d/stat" % self.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def smtp_sink_argv(extra=()):
    def argv(port):
        a = [need(SMTP_SINK, "Postfix smtp-sink")]
        if os.geteuid() == 0:
            a += ["-u", "nobody"]
        return a + list(extra) + ["127.0.0.1:%d" % port, "1024"]
    return argv


def run_load(argv, timeout=600):
    """Run a load generator (on LOAD_CPU, the harness's own affinity). Returns (wall seconds, CPU
    seconds of the child, stdout)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("load generator failed (%d): %s\n%s%s" % (
            p.returncode, " ".join(argv), p.stdout.decode(errors="replace")[-2000:],
            p.stderr.decode(errors="replace")[-2000:]))
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return t1 - t0, cpu, p.stdout.decode(errors="replace")


def smtp_source_argv(port, sessions, messages, size, reuse):
    a = [need(SMTP_SOURCE, "Postfix smtp-source"), "-s", str(sessions), "-m", str(messages),
         "-l", str(size), "-f", "bench@localhost", "-t", "rcpt@localhost", "-M", "localhost"]
    if reuse:
        a.append("-d")
    return a + ["127.0.0.1:%d" % port]


class Stats:
    """Samples per (scenario, variant)."""

    def __init__(self):
        self.data = {}

    def add(self, key, value):
        self.data.setdefault(key, []).append(value)

    def get(self, key):
        return self.data.get(key, [])


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_num(x):
    if x != x:
        return "-"
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def fmt_range(xs):
    """median (min-max)"""
    if not xs:
        return "-"
    return "%s (%s-%s)" % (fmt_num(med(xs)), fmt_num(min(xs)), fmt_num(max(xs)))


def ratio_line(label, ours, theirs):
    """Median ratio of paired samples (round by round) and its min-max, plus
    the ratio of medians."""
    pairs = [a / b for a, b in zip(ours, theirs) if b]
    if not pairs:
        return "%s: -" % label
    return "%s: %.2fx (rounds %.2f-%.2f; ratio of medians %.2fx)" % (
        label, med(pairs), min(pairs), max(pairs), med(ours) / med(theirs) if med(theirs) else 0)


def paired_ratio(ours, theirs):
    pairs = [a / b for a, b in zip(ours, theirs) if b]
    return (med(pairs), min(pairs), max(pairs)) if pairs else (float("nan"),) * 3


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(h.ljust(widths[i]) for i, h in enumerate(header))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)))
