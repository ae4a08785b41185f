"""smtpkit-recv against Postfix's smtp-source: 1,000 messages over 20
connections (20 parallel sessions, each sending its share on one
connection), then 200 more with a new connection per message. Every
message must be in the Maildir, byte for byte what smtp-source sent."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs"))
from recv_helper import Recv, check, fail, maildir_files, need, strip_received  # noqa: E402

SMTP_SOURCE = need("/usr/sbin/smtp-source")


def tmp_base():
    # fsync on a tmpfs is cheap; the durability logic runs all the same
    for d in ("/dev/shm", None):
        try:
            return tempfile.mkdtemp(prefix="smtpkit-src-", dir=d)
        except OSError:
            continue
    fail("no temporary directory")


def run_source(port, msgfile, *args):
    cmd = [SMTP_SOURCE, "-F", msgfile, "-f", "sender@example.org", "-t", "rcpt@example.net",
           "-M", "client.example.org"] + list(args) + ["127.0.0.1:%d" % port]
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    if p.returncode != 0:
        fail("smtp-source failed (%d): %s" % (p.returncode, p.stdout.decode(errors="replace")))
    return time.time() - t0


def main():
    base = tmp_base()
    try:
        md = os.path.join(base, "Maildir")
        msgfile = os.path.join(base, "msg.txt")
        # A message with dot lines; smtp-source turns LF into CRLF, stuffs the
        # dots, and ends the data with CRLF "." CRLF after the file's last
        # line end -- so the message it sends has one more empty line
        # (checked on the wire when this test was written).
        text = b"Subject: smtp-source test\n\n" + b"".join(
            (b"." if i % 5 == 0 else b"") + b"line %04d of the body, some text to fill it up\n" % i
            for i in range(200))
        with open(msgfile, "wb") as f:
            f.write(text)
        expect = text.replace(b"\n", b"\r\n") + b"\r\n"
        with Recv("--maildir", md, "--hostname", "mx.example.net", "--quiet") as r:
            t1 = run_source(r.port, msgfile, "-s", "20", "-m", "1000", "-d")
            names = maildir_files(md)
            check(len(names) == 1000, "1000 messages expected, found %d" % len(names))
            t2 = run_source(r.port, msgfile, "-s", "10", "-m", "200")
            names = maildir_files(md)
            check(len(names) == 1200, "1200 messages expected, found %d" % len(names))
            check(maildir_files(md, "tmp") == [], "tmp/ must be empty")
            for n in names:
                with open(os.path.join(md, "new", n), "rb") as f:
                    m = f.read()
                got = strip_received(m)
                if got != expect:
                    fail("message %s differs:\n%r\n!=\n%r" % (n, got[:300], expect[:300]))
                check(b"from client.example.org ([127.0.0.1])" in m, "Received: %r" % m[:200])
            ids = set(m.split(b" id ")[1].split(b";")[0] for m in
                      (open(os.path.join(md, "new", n), "rb").read(400) for n in names))
            check(len(ids) == 1200, "each message has its own id (%d distinct)" % len(ids))
            check(r.stop() == 0, "exit status after SIGTERM")
        print("ok: 1000 msgs over 20 connections in %.2fs, 200 msgs with a connection each in %.2fs"
              % (t1, t2))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
