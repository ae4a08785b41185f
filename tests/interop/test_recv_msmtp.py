"""smtpkit-recv against msmtp, a sendmail-compatible client: a message with
LF line ends and dot lines arrives as CRLF with the dots intact, once per
transaction, for every recipient; -t reads recipients from the headers and
the Bcc line never reaches the stored message."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs"))
from recv_helper import Recv, check, maildir_messages, need, strip_received  # noqa: E402

MSMTP = need("msmtp")


def msmtp(port, msg, *args):
    cmd = [MSMTP, "--file=/dev/null", "--host=127.0.0.1", "--port=%d" % port, "--auth=off",
           "--tls=off", "--domain=client.example.org", "--from=sender@example.org"] + list(args)
    p = subprocess.run(cmd, input=msg, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


def main():
    base = tempfile.mkdtemp(prefix="smtpkit-msmtp-")
    md = os.path.join(base, "Maildir")
    try:
        with Recv("--maildir", md, "--hostname", "mx.example.net") as r:
            body = b"From: sender@example.org\nTo: a@example.net\nSubject: msmtp\n\nhi\n.\n..\n.x\nend\n"
            rc, out = msmtp(r.port, body, "--", "a@example.net", "b@example.net")
            check(rc == 0, "msmtp failed (%d): %s" % (rc, out))
            msgs = maildir_messages(md)
            check(len(msgs) == 1, "one message stored, found %d" % len(msgs))
            got = strip_received(msgs[0])
            want = body.replace(b"\n", b"\r\n")
            # msmtp may add Date: and Message-ID: in front; everything else is ours
            check(got.endswith(want), "stored message differs:\n%r\n!=\n%r" % (got, want))
            extra = got[:len(got) - len(want)].split(b"\r\n")[:-1]
            check(all(h.startswith((b"Date: ", b"Message-ID: ")) for h in extra),
                  "unexpected added lines %r" % extra)
            check(b"from client.example.org" in msgs[0], "HELO name in Received:")

            # -t: recipients from To/Cc/Bcc; msmtp strips Bcc, we store what arrived
            body2 = (b"From: sender@example.org\nTo: c@example.net\nCc: d@example.net\n"
                     b"Bcc: hidden@example.net\nSubject: t\n\nbody\n")
            rc, out = msmtp(r.port, body2, "-t")
            check(rc == 0, "msmtp -t failed (%d): %s" % (rc, out))
            msgs = maildir_messages(md)
            check(len(msgs) == 2, "two messages stored, found %d" % len(msgs))
            second = [m for m in msgs if b"Subject: t\r\n" in m]
            check(len(second) == 1, "the -t message is stored once")
            check(b"hidden@example.net" not in strip_received(second[0]), "Bcc must not be stored")
            log = r.stderr()
            check("hidden@example.net" in log, "the Bcc recipient is in the envelope: " + log)

            # a refused recipient: msmtp reports it and exits non-zero (EX_NOPERM/EX_UNAVAILABLE)
            rc, out = msmtp(r.port, b"Subject: bad\n\nx\n", "--", "bad address@@example.net")
            check(rc != 0, "msmtp must fail for an invalid recipient: " + out)
            check(len(maildir_messages(md)) == 2, "nothing stored for the refused transaction")
            check(r.stop() == 0, "exit status after SIGTERM")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
