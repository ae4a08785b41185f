"""SMTP smuggling (CVE-2023-51764/5/6 class) against smtpkit-recv, from a
raw socket: for each fake end-of-data sequence, a message that hides a
second transaction behind it must be refused (550 5.6.0, bare CR/LF) or
stored as one message -- never may the hidden one become a message of
its own. The payload is sent whole and again in small pieces."""
import os
import shutil
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs"))
from recv_helper import Client, Recv, check, maildir_messages, strip_received  # noqa: E402

VARIANTS = [b"\n.\n", b"\n.\r\n", b"\r.\r", b"\r\n.\r", b"\r\n.\n", b"\r.\r\n", b"\r.\n",
            b"\n.\r", b"\r\n.\r\r\n", b"\r\n\x00.\r\n"]

HIDDEN = (b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n"
          b"From: ceo@example.net\r\nSubject: smuggled\r\n\r\npay now\r\n.\r\n")


def transaction(c, payload, pieces):
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<x@example.net>\r\nDATA\r\n")
    c.expect(250)
    c.expect(250)
    c.expect(354)
    if pieces:
        c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(payload), 3):
            c.send(payload[i:i + 3])
            time.sleep(0.0005)
    else:
        c.send(payload)
    return c.reply()


def main():
    base = tempfile.mkdtemp(prefix="smtpkit-smuggle-")
    try:
        md = os.path.join(base, "Maildir")
        with Recv("--maildir", md, "--hostname", "mx.example.net") as r:
            for pieces in (False, True):
                for v in VARIANTS:
                    before = len(maildir_messages(md))
                    c = Client(r.port)
                    c.expect(220)
                    c.send(b"EHLO attacker.example\r\n")
                    c.expect(250)
                    payload = b"Subject: first\r\n\r\nhello" + v + HIDDEN
                    code, lines = transaction(c, payload, pieces)
                    # after the refusal (or acceptance) of the ONE message, the
                    # session goes on normally: nothing of HIDDEN ran as commands
                    c.send(b"NOOP\r\nQUIT\r\n")
                    rest = c.read_all()
                    c.close()
                    check(rest == b"250 2.0.0 OK\r\n221 2.0.0 Service closing transmission channel\r\n",
                          "variant %r: unexpected replies after the data: %r" % (v, rest))
                    msgs = maildir_messages(md)
                    new = msgs[before:]
                    if code == 550:
                        check(lines == ["550 5.6.0 Bare CR or LF not allowed"], "550 text %r" % lines)
                        check(new == [], "variant %r refused but stored" % v)
                    else:
                        check(code == 250 and len(new) == 1, "variant %r: one message or a refusal"
                              " (got %d, %d stored)" % (v, code, len(new)))
                        check(strip_received(new[0]).startswith(b"Subject: first"), "the first")
                    for m in msgs:
                        check(not strip_received(m).startswith(b"From: ceo@example.net"),
                              "variant %r: the hidden message was stored on its own" % v)
            # BDAT: a chunk's bytes are counted, never scanned for an end
            c = Client(r.port)
            c.expect(220)
            c.send(b"EHLO attacker.example\r\n")
            c.expect(250)
            body = b"Subject: chunk\r\n\r\nhello\r\n.\r\n" + HIDDEN
            c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<x@example.net>\r\n"
                   + b"BDAT %d LAST\r\n" % len(body) + body)
            c.expect(250)
            c.expect(250)
            c.expect(250)
            c.send(b"QUIT\r\n")
            c.expect(221)
            c.close()
            msgs = maildir_messages(md)
            chunked = [m for m in msgs if b"Subject: chunk" in m]
            check(len(chunked) == 1 and strip_received(chunked[0]) == body,
                  "BDAT: exactly the chunk, once")
            check(not any(strip_received(m).startswith(b"From: ceo") for m in msgs),
                  "BDAT: nothing smuggled")
            check(r.stop() == 0, "exit status")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("ok: %d variants x 2 ways refused or kept whole; BDAT kept whole" % len(VARIANTS))


if __name__ == "__main__":
    main()
