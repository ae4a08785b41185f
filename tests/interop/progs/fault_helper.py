"""Shared helpers for the fault and hostile-peer tests (tests/interop/test_fault_*.py,
test_hostile_*.py): reply parsing, RSS and fd counts of a running process, a
scratch directory on a tmpfs, and a raw client that records every reply.

Everything here fails the test (never skips) when something it needs is missing.
"""
import os
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from recv_helper import check, fail  # noqa: E402,F401


def parse_replies(data):
    """Split server output into complete replies: a list of (code, [lines]).
    Returns (replies, rest) where rest is an incomplete trailing part."""
    replies = []
    lines = []
    while b"\r\n" in data:
        line, data = data.split(b"\r\n", 1)
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            code = int(line[:3]) if line[:3].isdigit() else -1
            replies.append((code, lines))
            lines = []
    rest = b"\r\n".join(lines + [data]) if lines else data
    return replies, rest


def rss_kb(pid):
    """Resident set size of a process in KiB (VmRSS), or fail."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    fail("process %d is gone (no VmRSS): it crashed or exited" % pid)


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        fail("process %d is gone: it crashed or exited" % pid)


def alive(recv):
    """Fail with its stderr when smtpkit-recv is no longer running."""
    if recv.proc.poll() is not None:
        fail("smtpkit-recv exited with %s:\n%s" % (recv.proc.returncode, recv.stderr()[-4000:]))


def shm_dir(prefix):
    """A scratch directory, on /dev/shm when it exists (fsync is cheap there)."""
    for d in ("/dev/shm", None):
        try:
            return tempfile.mkdtemp(prefix=prefix, dir=d)
        except OSError:
            continue
    fail("no temporary directory")


def exchange(port, data, mode="halfclose", timeout=10):
    """Send `data`, then end the connection and collect what the server said.
    mode "halfclose": shutdown(SHUT_WR), read until the server closes.
    mode "reset": close at once with SO_LINGER 0 (a RST), reading nothing.
    Returns the server's bytes (b"" for "reset")."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        if mode == "reset":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return b""
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
        return got
    finally:
        s.close()


def wait_until(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.005)
    fail("timed out waiting for: %s" % what)
