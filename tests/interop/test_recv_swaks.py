"""smtpkit-recv against swaks: a plain message, pipelining, several
recipients, dot lines, LMTP, SIZE refusal, IPv6, and a clean SIGTERM.
Each stored message must be exactly what swaks sent, after our Received:."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs"))
from recv_helper import Recv, check, fail, maildir_messages, need, strip_received  # noqa: E402

SWAKS = need("swaks")


def swaks(port, *args, host="127.0.0.1", expect_ok=True):
    cmd = [SWAKS, "--server", "%s:%d" % (host, port), "--from", "sender@example.org",
           "--helo", "client.example.org", "--timeout", "10"] + list(args)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode(errors="replace")
    if expect_ok and p.returncode != 0:
        fail("swaks failed (%d):\n%s" % (p.returncode, out))
    return p.returncode, out


def data_file(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(text)
    return path


def main():
    # The message as swaks sends it with --data: LF become CRLF on the wire,
    # and dot lines are stuffed on the wire and unstuffed by us.
    body = (b"Subject: swaks test\n"
            b"From: sender@example.org\n"
            b"\n"
            b"first line\n"
            b".leading dot\n"
            b"..two dots\n"
            b".\n"
            b"last line\n")
    # swaks ends the data with "\r\n.\r\n" even after a final newline, so
    # the message it sends has one more empty line (checked on the wire).
    expect = body.replace(b"\n", b"\r\n") + b"\r\n"

    with RecvMaildir() as (r, md):
        df = data_file(r.tmp, "msg.txt", body)
        # 1. plain ESMTP
        rc, out = swaks(r.port, "--to", "rcpt1@example.net", "--data", df)
        check("250 2.0.0 Ok: queued as" in out, "no queue id in:\n" + out)
        # 2. pipelining with three recipients
        rc, out = swaks(r.port, "--to", "a@example.net,b@example.net,c@example.net",
                        "--pipeline", "--data", df)
        check("PIPELINING" in out, "PIPELINING not offered:\n" + out)
        # 3. over IPv6 when the machine has it
        if len(r.addrs) > 1:
            port6 = int(r.addrs[1].rsplit(":", 1)[1])
            swaks(port6, "--to", "v6@example.net", "--data", df, host="::1")
        msgs = maildir_messages(md)
        want = 3 if len(r.addrs) > 1 else 2
        check(len(msgs) == want, "expected %d stored messages, found %d" % (want, len(msgs)))
        for m in msgs:
            got = strip_received(m)
            check(got == expect, "stored message differs:\n%r\n!=\n%r" % (got, expect))
            check(b"by mx.example.net with ESMTP" in m, "Received: names our host: %r" % m[:200])
            check(b"from client.example.org" in m, "Received: has the HELO name: %r" % m[:200])
        # 4. the log line per transaction
        err = r.stderr()
        check("from=<sender@example.org> to=<a@example.net>,<b@example.net>,<c@example.net>"
              in err, "log line lacks the envelope:\n" + err)
        check(err.count("result=250") == want, "one log line per message:\n" + err)
        rc = r.stop()
        check(rc == 0, "exit status after SIGTERM: %d" % rc)

    # 5. SIZE: announced, and a message over it is refused, nothing stored
    with RecvMaildir("--max-size", "100") as (r, md):
        df = data_file(r.tmp, "big.txt", b"Subject: big\n\n" + b"x" * 200 + b"\n")
        rc, out = swaks(r.port, "--to", "a@example.net", "--data", df, expect_ok=False)
        check("SIZE 100" in out, "SIZE 100 not announced:\n" + out)
        check("552 5.3.4" in out, "no 552 5.3.4 for a big message:\n" + out)
        check(rc != 0, "swaks should report the refusal")
        check(maildir_messages(md) == [], "a refused message was stored")
        check(os.listdir(os.path.join(md, "tmp")) == [], "tmp/ not cleaned")
        check(r.stop() == 0, "exit status")

    # 6. LMTP: one reply per recipient after the data
    with RecvMaildir("--lmtp") as (r, md):
        df = data_file(r.tmp, "msg.txt", body)
        rc, out = swaks(r.port, "--protocol", "LMTP", "--to", "a@example.net,b@example.net",
                        "--data", df)
        check("LHLO" in out, "swaks did not speak LMTP:\n" + out)
        check(out.count("250 2.0.0 Ok: queued as") == 2, "two LMTP replies expected:\n" + out)
        msgs = maildir_messages(md)
        check(len(msgs) == 1 and strip_received(msgs[0]) == expect, "LMTP message stored once")
        check(b"with LMTP" in msgs[0], "Received: says LMTP")
        check(r.stop() == 0, "exit status")
    print("ok")


def ipv6_loopback():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


class RecvMaildir:
    """smtpkit-recv with a fresh Maildir, on both loopbacks when IPv6 works."""

    def __init__(self, *extra):
        self.extra = extra

    def __enter__(self):
        self.base = tempfile.mkdtemp(prefix="smtpkit-md-")
        self.md = os.path.join(self.base, "Maildir")  # created by smtpkit-recv
        listen = ("127.0.0.1:0", "[::1]:0") if ipv6_loopback() else ("127.0.0.1:0",)
        self.r = Recv("--maildir", self.md, "--hostname", "mx.example.net", *self.extra,
                      listen=listen)
        return self.r, self.md

    def __exit__(self, *exc):
        self.r.__exit__(*exc)
        shutil.rmtree(self.base, ignore_errors=True)


if __name__ == "__main__":
    main()
