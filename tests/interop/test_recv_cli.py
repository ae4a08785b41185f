"""smtpkit-recv as a program: usage and exit codes, a connection lost in
the middle of DATA leaves nothing behind, SIGTERM and SIGINT end sessions
in flight with 421 and exit 0, --timeout, --max-sessions, --max-recipients."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs"))
from recv_helper import Client, Recv, check, maildir_files, recv_binary  # noqa: E402


def run(*args, timeout=10):
    p = subprocess.run([recv_binary()] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def start_data(port):
    c = Client(port)
    c.expect(220)
    c.send(b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<x@example.net>\r\nDATA\r\n")
    c.expect(250)
    c.expect(250)
    c.expect(250)
    c.expect(354)
    c.send(b"Subject: half\r\n\r\nthe first half of a message\r\n")
    return c


def main():
    base = tempfile.mkdtemp(prefix="smtpkit-cli-")
    try:
        md = os.path.join(base, "Maildir")
        # usage
        rc, out, err = run("--help")
        check(rc == 0 and "--listen ADDR:PORT" in out and "--maildir" in out, "--help")
        for bad in ([], ["--listen", "127.0.0.1:0"], ["--maildir", md],
                    ["--listen", "127.0.0.1:0", "--maildir", md, "--mbox", "x"],
                    ["--listen", "127.0.0.1:0", "--sink", "--max-size", "abc"],
                    ["--listen", "127.0.0.1:0", "--sink", "--bogus"],
                    ["--listen", "127.0.0.1", "--sink"],
                    ["--listen", "::1:25", "--sink"],
                    ["--listen", "127.0.0.1:0", "--sink", "--timeout", "0"],
                    ["--listen", "127.0.0.1:0", "--sink", "--max-recipients", "-1"],
                    ["--listen"]):
            rc, out, err = run(*bad)
            check(rc == 64, "usage error %r: exit %d (%s)" % (bad, rc, err))
            check(out == "", "nothing on stdout for %r" % bad)
        # cannot create the Maildir: 74; cannot listen: 71
        rc, out, err = run("--listen", "127.0.0.1:0", "--maildir", "/proc/no/such/dir")
        check(rc == 74, "unusable Maildir: exit %d (%s)" % (rc, err))
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        busy = blocker.getsockname()[1]
        rc, out, err = run("--listen", "127.0.0.1:%d" % busy, "--sink")
        check(rc == 71, "port in use: exit %d (%s)" % (rc, err))
        blocker.close()

        with Recv("--maildir", md, "--hostname", "mx.example.net", "--max-sessions", "3",
                  "--max-recipients", "2") as r:
            # a connection lost before the final "." leaves nothing anywhere
            c = start_data(r.port)
            time.sleep(0.1)
            c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()  # RST
            c = start_data(r.port)
            c.close()  # FIN
            time.sleep(0.3)
            check(maildir_files(md) == [], "nothing in new/ after lost connections")
            check(maildir_files(md, "tmp") == [], "nothing left in tmp/: %r" % maildir_files(md, "tmp"))
            check(r.stderr().count("result=refused (connection closed)") == 2,
                  "two aborted transactions logged:\n" + r.stderr())
            # --max-recipients
            c = Client(r.port)
            c.expect(220)
            c.send(b"HELO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<1@x.example>\r\n"
                   b"RCPT TO:<2@x.example>\r\nRCPT TO:<3@x.example>\r\n")
            for code in (250, 250, 250, 250, 452):
                c.expect(code)
            c.close()
            # --max-sessions 3: a fourth connection gets 421
            cs = [Client(r.port) for _ in range(3)]
            for x in cs:
                x.expect(220)
            extra = Client(r.port)
            code, lines = extra.reply()
            check(code == 421 and "4.7.0" in lines[0], "over max-sessions: %r" % lines)
            extra.close()
            for x in cs:
                x.close()
            time.sleep(0.2)
            # SIGTERM while a message is in flight: 421, nothing stored, exit 0
            c = start_data(r.port)
            time.sleep(0.1)
            t0 = time.time()
            rc = r.stop(signal.SIGTERM)
            check(rc == 0, "exit status after SIGTERM: %d" % rc)
            check(time.time() - t0 < 3, "stopped promptly")
            data = c.read_all()
            check(data.startswith(b"421 4.3.2 mx.example.net"), "421 on SIGTERM: %r" % data)
            c.close()
            check(maildir_files(md) == [] and maildir_files(md, "tmp") == [],
                  "nothing stored from the interrupted message")

        # SIGINT, and --timeout
        with Recv("--sink", "--timeout", "1", "--quiet") as r:
            c = Client(r.port)
            c.expect(220)
            t0 = time.time()
            data = c.read_all(timeout=5)
            check(data.startswith(b"421 4.4.2 "), "idle timeout: %r" % data)
            check(0.8 < time.time() - t0 < 3, "timeout after about 1 s (%.2f)" % (time.time() - t0))
            c.close()
            c = Client(r.port)
            c.expect(220)
            rc = r.stop(signal.SIGINT)
            check(rc == 0, "exit status after SIGINT: %d" % rc)
            check(c.read_all().startswith(b"421 "), "421 on SIGINT")
            c.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
