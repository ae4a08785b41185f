"""Fault injection against smtpkit-recv (Maildir, then mbox): a scripted client stream
of two pipelined transactions (one with DATA, one with BDAT) is cut after N
bytes, for every N from 0 to its full length, in two ways:

- half-close: the client sends N bytes, shuts its side down and reads every
  reply until the server closes. The number of messages stored must equal
  the number of 250 replies the client saw after the data, and both must
  equal the number of transactions whose data was complete within the N
  bytes; the replies are always a prefix of the full conversation's.
- reset: the client sends N bytes and closes at once with a RST (reading
  nothing). Then nothing may be stored that the N bytes did not complete
  (a message complete on the wire may or may not be stored: the client
  never heard, as RFC 1047 describes).

In every case new/ (or the mbox) holds only whole, byte-exact messages, and
tmp/ is empty once the server is done with the connection."""
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "progs"))
from recv_helper import Client, Recv, check, fail, maildir_files, strip_received  # noqa: E402
from fault_helper import alive, exchange, parse_replies, shm_dir, wait_until  # noqa: E402

BODY1_WIRE = b"Subject: cut 1\r\n\r\n..a dot line\r\nend of one\r\n"
BODY1 = b"Subject: cut 1\r\n\r\n.a dot line\r\nend of one\r\n"
BODY2 = b"Subject: cut 2\r\n\r\nchunked\r\n.\r\nend of two\r\n"  # BDAT: no stuffing

STREAM = (b"EHLO client.example\r\n"
          b"MAIL FROM:<a@example.org>\r\n"
          b"RCPT TO:<b@example.net>\r\n"
          b"DATA\r\n" + BODY1_WIRE + b".\r\n"
          b"MAIL FROM:<a@example.org>\r\n"
          b"RCPT TO:<c@example.net>\r\n"
          b"BDAT %d LAST\r\n" % len(BODY2) + BODY2 +
          b"QUIT\r\n")
END1 = STREAM.index(BODY1_WIRE) + len(BODY1_WIRE) + 3  # after CRLF "." CRLF
END2 = STREAM.index(BODY2) + len(BODY2)               # after the last chunk byte
# replies in order; the ones after the data of each message are at DATA_ENDS
FULL_CODES = [220, 250, 250, 250, 354, 250, 250, 250, 250, 221]
DATA_ENDS = (5, 8)


def committed(n):
    return (n >= END1) + (n >= END2)


class MaildirStore:
    def __init__(self, base):
        self.path = os.path.join(base, "Maildir")
        self.args = ["--maildir", self.path]
        self.seen = set()

    def new_messages(self):
        """Messages that appeared in new/ since the last call."""
        out = []
        for name in maildir_files(self.path):
            if name not in self.seen:
                self.seen.add(name)
                with open(os.path.join(self.path, "new", name), "rb") as f:
                    out.append(strip_received(f.read()))
        return out

    def leftovers(self):
        return maildir_files(self.path, "tmp")


class MboxStore:
    """mboxrd: "From " lines start messages; LF line ends; a blank line after each."""

    def __init__(self, base):
        self.path = os.path.join(base, "mbox")
        self.args = ["--mbox", self.path]
        self.count = 0

    def new_messages(self):
        with open(self.path, "rb") as f:
            data = f.read()
        if not data:
            return []
        check(data.startswith(b"From ") and data.endswith(b"\n\n"), "mbox framing: %r" % data[-80:])
        parts = re.split(rb"\n\n(?=From )", data[:-2])
        out = []
        for part in parts[self.count:]:
            content = part.split(b"\n", 1)[1] + b"\n"
            out.append(strip_received(content.replace(b"\n", b"\r\n")))
        self.count = len(parts)
        return out

    def leftovers(self):
        # the staging file is unlinked at once; nothing may be named next to the mbox
        return [n for n in os.listdir(os.path.dirname(self.path)) if n != "mbox"]


def check_messages(msgs, n, how):
    for m in msgs:
        if m not in (BODY1, BODY2):
            fail("%s cut at %d: a partial or altered message in new/: %r" % (how, n, m))
    check(len(set(msgs)) == len(msgs), "%s cut at %d: a message stored twice" % (how, n))


def probe(port):
    """One full round trip on a new connection: by then the server has
    handled every earlier event (see the module comment in fault_helper)."""
    c = Client(port)
    c.expect(220)
    c.send(b"NOOP\r\n")
    c.expect(250)
    c.close()


def run_cuts(st):
    """Every cut in both modes against one smtpkit-recv; returns figures."""
    with Recv(*st.args, "--hostname", "mx.example.net", "--quiet", "--timeout", "5") as r:
        # the whole stream first: the reference conversation
        got = exchange(r.port, STREAM)
        reps, rest = parse_replies(got)
        check([c for c, _ in reps] == FULL_CODES and rest == b"", "full conversation: %r" % got)
        check(sorted(st.new_messages()) == sorted([BODY1, BODY2]), "both stored")
        halfclose_250 = 0
        for n in range(len(STREAM) + 1):
            got = exchange(r.port, STREAM[:n])
            reps, rest = parse_replies(got)
            codes = [c for c, _ in reps]
            # a prefix of the full conversation (cut mid-command: no reply)
            check(codes == FULL_CODES[:len(codes)] and rest == b"",
                  "half-close at %d: replies %r are not a prefix of the full ones" % (n, got))
            saw = sum(1 for i in DATA_ENDS if i < len(codes) and codes[i] == 250)
            msgs = st.new_messages()
            check_messages(msgs, n, "half-close")
            if not (len(msgs) == saw == committed(n)):
                fail("half-close at %d: stored %d, client saw %d x 250 after data, %d complete"
                     % (n, len(msgs), saw, committed(n)))
            check(st.leftovers() == [], "half-close at %d: left behind: %r" % (n, st.leftovers()))
            halfclose_250 += saw
        alive(r)
        stored_reset = 0
        for n in range(len(STREAM) + 1):
            exchange(r.port, STREAM[:n], mode="reset")
            probe(r.port)
            wait_until(lambda: st.leftovers() == [], 5, "nothing left behind after a reset at %d" % n)
            msgs = st.new_messages()
            check_messages(msgs, n, "reset")
            if len(msgs) > committed(n):
                fail("reset at %d: stored %d, only %d complete" % (n, len(msgs), committed(n)))
            stored_reset += len(msgs)
        alive(r)
        check(r.stop() == 0, "exit status after SIGTERM")
    return halfclose_250, stored_reset


def main():
    for kind in (MaildirStore, MboxStore):
        base = shm_dir("smtpkit-cut-")
        try:
            t0 = time.time()
            h, rs = run_cuts(kind(base))
            print("ok: %s, %d offsets each way: half-close %d x 250 = %d stored; reset %d stored;"
                  " %.1fs" % (kind.__name__, len(STREAM) + 1, h, h, rs, time.time() - t0))
        finally:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
