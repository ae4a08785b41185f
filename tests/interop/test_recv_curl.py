"""smtpkit-recv against curl's SMTP client (smtp://): a CRLF message with
dot lines and two recipients is stored byte for byte; a file with bare LF
line ends is refused (550 5.6.0) and nothing is stored."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs"))
from recv_helper import Recv, check, maildir_messages, need, strip_received  # noqa: E402

CURL = need("curl")


def curl(port, path, *rcpts):
    cmd = [CURL, "-v", "-sS", "--max-time", "20", "smtp://127.0.0.1:%d/client.example.org" % port,
           "--mail-from", "sender@example.org", "-T", path]
    for r in rcpts:
        cmd += ["--mail-rcpt", r]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


def main():
    base = tempfile.mkdtemp(prefix="smtpkit-curl-")
    md = os.path.join(base, "Maildir")
    try:
        with Recv("--maildir", md, "--hostname", "mx.example.net") as r:
            msg = (b"From: sender@example.org\r\nTo: a@example.net\r\nSubject: curl\r\n\r\n"
                   b"hello\r\n.\r\n..\r\n.x\r\nbye\r\n")
            path = os.path.join(base, "m.eml")
            with open(path, "wb") as f:
                f.write(msg)
            rc, out = curl(r.port, path, "a@example.net", "b@example.net")
            check(rc == 0, "curl failed (%d): %s" % (rc, out))
            msgs = maildir_messages(md)
            check(len(msgs) == 1, "one message stored, found %d" % len(msgs))
            got = strip_received(msgs[0])
            check(got == msg, "stored message differs:\n%r\n!=\n%r" % (got, msg))
            check(b"from client.example.org" in msgs[0], "HELO name in Received:")

            # bare LF: refused after the data, nothing stored
            bare = os.path.join(base, "bare.eml")
            with open(bare, "wb") as f:
                f.write(b"Subject: bare\n\nline one\nline two\n")
            rc, out = curl(r.port, bare, "a@example.net")
            check(rc != 0, "curl should see the refusal")
            check("< 550 5.6.0" in out, "curl saw the 550 5.6.0: " + out)
            check(len(maildir_messages(md)) == 1, "the bare-LF message must not be stored")
            check(os.listdir(os.path.join(md, "tmp")) == [], "tmp/ not cleaned")
            check("result=refused (bare CR or LF)" in r.stderr(), "log line: " + r.stderr())
            check(r.stop() == 0, "exit status after SIGTERM")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
