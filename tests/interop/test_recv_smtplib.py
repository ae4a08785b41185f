"""smtpkit-recv against Python's smtplib: send_message() with several
recipients, a 10 MB message full of dot lines, several messages on one
connection, LMTP with one result per recipient, and mbox delivery with
>From quoting. Every stored message is compared byte for byte."""
import email.generator
import email.message
import io
import os
import shutil
import smtplib
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs"))
from recv_helper import Recv, check, maildir_messages, strip_received  # noqa: E402


def flat(msg):
    """The bytes smtplib.send_message() puts on the wire (before stuffing)."""
    b = io.BytesIO()
    m = msg
    del m["Bcc"]
    email.generator.BytesGenerator(b).flatten(m, linesep="\r\n")
    data = b.getvalue()
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def big_message(size):
    """About `size` bytes of CRLF lines, many starting with dots."""
    lines = [b"From: a@example.org", b"To: x@example.net", b"Subject: big", b""]
    n = 0
    i = 0
    while n < size:
        if i % 7 == 0:
            line = b"." + b"dot line %d " % i + b"." * 40
        elif i % 11 == 0:
            line = b".."
        elif i % 13 == 0:
            line = b"."
        else:
            line = (b"%08d " % i) + b"abcdefghijklmnopqrstuvwxyz0123456789" * 2
        lines.append(line)
        n += len(line) + 2
        i += 1
    return b"\r\n".join(lines) + b"\r\n"


def main():
    base = tempfile.mkdtemp(prefix="smtpkit-smtplib-")
    try:
        md = os.path.join(base, "Maildir")
        with Recv("--maildir", md, "--hostname", "mx.example.net", "--max-size", "20000000") as r:
            # 1. send_message with several recipients (and a Bcc that must vanish)
            m = email.message.EmailMessage()
            m["From"] = "Alice <alice@example.org>"
            m["To"] = "bob@example.net, carol@example.net"
            m["Cc"] = "dave@example.net"
            m["Bcc"] = "eve@example.net"
            m["Subject"] = "Greetings"
            m.set_content("Hello,\n.\n.. a line with dots\n.single\nbye\n")
            with smtplib.SMTP("127.0.0.1", r.port, local_hostname="client.example.org",
                              timeout=30) as s:
                code, _ = s.ehlo()
                check(code == 250, "EHLO")
                check(s.has_extn("pipelining") and s.has_extn("size") and s.has_extn("8bitmime")
                      and s.has_extn("smtputf8") and s.has_extn("chunking"),
                      "extensions: %r" % s.esmtp_features)
                check(s.esmtp_features.get("size") == "20000000", "SIZE value")
                refused = s.send_message(m)
                check(refused == {}, "no recipient refused: %r" % refused)
                # 2. a 10 MB message with dot lines, on the same connection
                big = big_message(10 * 1024 * 1024)
                refused = s.sendmail("a@example.org", ["x@example.net"], big)
                check(refused == {}, "big message")
                # 3. a refusal for one recipient, accepted for the other
                code, _ = s.noop()
                check(code == 250, "NOOP")
            msgs = maildir_messages(md)
            check(len(msgs) == 2, "two messages stored, found %d" % len(msgs))
            bodies = sorted((strip_received(x) for x in msgs), key=len)
            check(bodies[0] == flat(m), "send_message bytes differ:\n%r\n%r" % (bodies[0], flat(m)))
            check(b"eve@example.net" not in bodies[0], "Bcc must not reach the message")
            check(bodies[1] == big, "10 MB message differs (len %d vs %d)" % (len(bodies[1]), len(big)))
            err = r.stderr()
            first = err.splitlines()[0]
            for who in ("bob", "carol", "dave", "eve"):
                check("<%s@example.net>" % who in first, "%s in the log line: %s" % (who, first))
            check(r.stop() == 0, "exit status")

        # 4. LMTP (smtplib reads a single reply after the data, so one recipient
        #    is accepted; the one over --max-recipients gets 452 4.5.3)
        md2 = os.path.join(base, "Maildir2")
        with Recv("--maildir", md2, "--lmtp", "--max-recipients", "1") as r:
            with smtplib.LMTP("127.0.0.1", r.port, timeout=30) as s:
                code, _ = s.ehlo("client.example.org")  # LMTP's ehlo sends LHLO
                check(code == 250, "LHLO")
                refused = s.sendmail("a@example.org", ["x@example.net", "y@example.net"],
                                     b"Subject: lmtp\r\n\r\nbody\r\n")
                check(list(refused) == ["y@example.net"] and refused["y@example.net"][0] == 452,
                      "452 for the recipient over the limit: %r" % refused)
                check(s.noop()[0] == 250, "in step after the data")
            msgs = maildir_messages(md2)
            check(len(msgs) == 1 and strip_received(msgs[0]) == b"Subject: lmtp\r\n\r\nbody\r\n",
                  "LMTP message")
            check(b" with LMTP id " in msgs[0], "Received: with LMTP")
            check(r.stop() == 0, "exit status")

        # 5. mbox: "From " lines, >From quoting, LF line ends
        mbox = os.path.join(base, "mbox")
        with Recv("--mbox", mbox, "--hostname", "mx.example.net") as r:
            with smtplib.SMTP("127.0.0.1", r.port, timeout=30) as s:
                s.sendmail("one@example.org", ["x@example.net"],
                           b"Subject: 1\r\n\r\nFrom here\r\n>From there\r\nnot From\r\n")
                s.sendmail("two@example.org", ["x@example.net"], b"Subject: 2\r\n\r\n.\r\nend\r\n")
            check(r.stop() == 0, "exit status")
        with open(mbox, "rb") as f:
            data = f.read()
        check(b"\r" not in data, "mbox uses LF line ends")
        parts = data.split(b"\nFrom ")
        check(data.startswith(b"From one@example.org ") and len(parts) == 2,
              "two messages with From lines: %r" % data)
        check(b"\n>From here\n>>From there\nnot From\n\n" in data, "mboxrd quoting: %r" % data)
        check(parts[1].startswith(b"two@example.org ") and parts[1].endswith(b"\nSubject: 2\n\n.\nend\n\n"),
              "second message: %r" % parts[1])
        check(data.count(b"Received: from ") == 2, "Received: in each")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
