#!/usr/bin/python3
"""smtpkit-send's composition options (--subject, --text, --text-file,
--html-file, --attach, --header, --cc, --bcc, --from-name, --8bit, --print).

1. Generated combinations built with `smtpkit-send --print` and parsed with
   Python's email package (policy.default): every header decodes back to the
   exact UTF-8 input, every attachment decodes byte-exact, the tree of parts
   is the one asked for, there is no Bcc field, Date is now in the local
   zone, the Message-ID carries the domain of --from, lines are CRLF and at
   most 998 octets.
2. Composed messages sent for real to Postfix's smtp-sink (envelope with the
   Cc and Bcc recipients, stored bytes parse, BODY=8BITMIME with --8bit,
   SMTPUTF8 refused before anything is sent) and to aiosmtpd (SIZE= is the
   exact size, SMTPUTF8 for a UTF-8 address).
3. Refusals: header injection through every option, bad addresses, missing
   files and bad types exit 65 and never connect; usage errors exit 64.
A missing peer is a failure, never a skip."""
import datetime
import email
import email.policy
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from send_common import SmtpSink, check, finish, free_port, run, tmpdir, tool, wait_port

try:
    from aiosmtpd.controller import Controller
except ImportError:
    print("FAIL python3-aiosmtpd is not installed (a missing peer is a failure)")
    sys.exit(1)

SEND = tool("smtpkit-send")
work = tmpdir("send_compose")

EXT_TYPES = {"pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv",
             "jpg": "image/jpeg", "png": "image/png", "zip": "application/zip",
             "gz": "application/gzip", "json": "application/json"}

SUBJECTS = [
    "Quarterly report",
    "R\u00e9sum\u00e9 of the meeting \u2014 d\u00e9cisions",
    "\u65e5\u672c\u8a9e\u306e\u4ef6\u540d\u3067\u3059\u3002\u3088\u308d\u3057\u304f\u304a"
    "\u9858\u3044\u3057\u307e\u3059\u3001\u3068\u3066\u3082\u9577\u3044\u4ef6\u540d",
    "Party \U0001f389\U0001f382 tonight",
    "A long plain subject line that certainly goes on for more than seventy-eight "
    "columns so it has to be folded at white space, more than once in fact",
    "literal =?UTF-8?Q?not_encoded?= text",
    "Re: [list] \u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
    "",
]
NAMES = [None, "Ann Example", "Doe, Jane", "Zo\u00eb Saldana", "\u5f20\u4f1f",
         "Ren\u00e9e O'Brien-\u00c5str\u00f6m"]
ADDRS = ["bob@example.net", "carol.smith@mail.example.com", "d+tag@example.org",
         "eve@example.com", "frank@example.net"]
TEXTS = ["Hello,\nthis is plain ASCII.\n",
         "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 \u65e5\u672c\u8a9e\n",
         "From the start\n.\n.leading dot\ntrailing space \nend without newline",
         "a line much longer than seventy-eight characters, " * 4 + "\n",
         ""]
HTMLS = ["<html><body><p>Hello <b>world</b></p></body></html>\n",
         "<p>\u00c7a va? tr\u00e8s bien</p>\n"]
FILENAMES = ["report.pdf", "data.csv", "photo.jpg", "notes.txt", "noext",
             "r\u00e9sum\u00e9.pdf", "\u65e5\u672c\u8a9e.txt", "my report (final).zip"]
HEADERS = [("X-Mailer-Test", "smtpkit compose"),
           ("X-Priority", "1 (Highest)"),
           ("Organization", "Caf\u00e9 \u00ab Le Z\u00e8bre \u00bb"),
           ("List-Id", "<list.example.org>"),
           ("X-Long", "word " * 40)]
SIZES = [0, 1, 57, 58, 1024 * 1024]


def guess(name):
    if "." in name:
        return EXT_TYPES.get(name.rsplit(".", 1)[1].lower(), "application/octet-stream")
    return "application/octet-stream"


class Case:
    def __init__(self, name):
        self.name = name
        self.from_ = "ann@example.org"
        self.from_name = None
        self.to, self.cc, self.bcc = [], [], []
        self.subject = None
        self.text = None
        self.text_how = "arg"   # arg, file, stdin
        self.html = None
        self.attach = []        # (data, filename, type given or None)
        self.headers = []
        self.allow8 = False

    def args(self):
        a = ["--from", self.from_]
        if self.from_name is not None:
            a += ["--from-name", self.from_name]
        for x in self.to:
            a += ["--to", x]
        for x in self.cc:
            a += ["--cc", x]
        for x in self.bcc:
            a += ["--bcc", x]
        if self.subject is not None:
            a += ["--subject", self.subject]
        stdin = None
        d = os.path.join(work, self.name)
        os.makedirs(d, exist_ok=True)
        if self.text is not None:
            if self.text_how == "arg":
                a += ["--text", self.text]
            elif self.text_how == "stdin":
                a += ["--text-file", "-"]
                stdin = self.text.encode("utf-8")
            else:
                p = os.path.join(d, "body.txt")
                with open(p, "wb") as f:
                    f.write(self.text.encode("utf-8"))
                a += ["--text-file", p]
        if self.html is not None:
            p = os.path.join(d, "body.html")
            with open(p, "wb") as f:
                f.write(self.html.encode("utf-8"))
            a += ["--html-file", p]
        for k, (data, fn, ty) in enumerate(self.attach):
            sub = os.path.join(d, "a%d" % k)
            os.makedirs(sub, exist_ok=True)
            p = os.path.join(sub, fn)
            with open(p, "wb") as f:
                f.write(data)
            a += ["--attach", p + (";type=" + ty if ty else "")]
        for n, v in self.headers:
            a += ["--header", "%s: %s" % (n, v)]
        if self.allow8:
            a += ["--8bit"]
        return a, stdin

    def expected_tree(self):
        if self.text is not None and self.html is not None:
            body = "multipart/alternative(text/plain,text/html)"
        elif self.html is not None:
            body = "text/html"
        elif self.text is not None:
            body = "text/plain"
        else:
            body = None
        if self.attach:
            kids = ([body] if body else []) + [
                (t.split(";")[0].strip() if t else guess(f)) for _, f, t in self.attach]
            return "multipart/mixed(%s)" % ",".join(kids)
        return body or "text/plain"

    def recipients(self):
        out = []
        for x in self.to + self.cc + self.bcc:
            if x not in out:
                out.append(x)
        return out


def tree(part):
    if part.is_multipart():
        return "%s(%s)" % (part.get_content_type(), ",".join(tree(p) for p in part.iter_parts()))
    return part.get_content_type()


def norm(s):
    return s.replace("\r\n", "\n").replace("\r", "\n")


def verify(case, raw, tag, zone=None):
    """Everything the message must show; `tag` prefixes the check names."""
    t = "%s %s" % (tag, case.name)
    lines = raw.split(b"\r\n")
    check(all(b"\n" not in l and b"\r" not in l for l in lines), t + ": CRLF line ends only")
    check(max(len(l) for l in lines) <= 998, t + ": no line over 998 octets")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    check(not any(p.defects for p in msg.walk()),
          t + ": no defects %r" % [p.defects for p in msg.walk() if p.defects])
    frm = msg["From"]
    check(frm is not None and [(a.addr_spec, a.display_name) for a in frm.addresses] ==
          [(case.from_, case.from_name or "")],
          t + ": From %r" % (frm and [(a.addr_spec, a.display_name) for a in frm.addresses]))
    for label, want in (("To", case.to), ("Cc", case.cc)):
        h = msg[label]
        if want:
            got = [a.addr_spec for a in h.addresses] if h is not None else None
            dedup = []
            for x in want:
                if x not in dedup:
                    dedup.append(x)
            check(got == dedup, t + ": %s %r == %r" % (label, got, dedup))
        else:
            check(h is None, t + ": no %s field" % label)
    check(msg["Bcc"] is None and b"\r\nBcc:" not in raw, t + ": no Bcc field")
    for b in case.bcc:
        if b not in case.to + case.cc:
            check(b.encode() not in raw, t + ": Bcc address %s nowhere in the message" % b)
    if case.subject is not None:
        check(str(msg["Subject"]) == case.subject,
              t + ": Subject %r == %r" % (str(msg["Subject"]), case.subject))
    else:
        check(msg["Subject"] is None, t + ": no Subject field")
    date = msg["Date"]
    if check(date is not None and date.datetime is not None, t + ": Date parses"):
        now = datetime.datetime.now(datetime.timezone.utc)
        check(abs((date.datetime - now).total_seconds()) < 120, t + ": Date is now (%s)" % date)
        if zone is not None:
            check(date.datetime.utcoffset() == zone,
                  t + ": Date in the local zone %s (%s)" % (zone, date))
    domain = case.from_.rsplit("@", 1)[1]
    check(re.fullmatch(r"<[0-9a-f]{32}@%s>" % re.escape(domain), str(msg["Message-ID"]))
          is not None, t + ": Message-ID %s with the domain of --from" % msg["Message-ID"])
    check(msg["MIME-Version"] == "1.0", t + ": MIME-Version")
    for n in set(n for n, _ in case.headers):
        want = [v for k, v in case.headers if k == n]
        got = [str(v) for v in (msg.get_all(n) or [])]
        check(got == want, t + ": %s %r == %r" % (n, got, want))
    check(tree(msg) == case.expected_tree(),
          t + ": tree %s == %s" % (tree(msg), case.expected_tree()))

    leaves = [p for p in msg.walk() if not p.is_multipart()]
    i = 0
    if case.text is not None or (case.html is None and not case.attach):
        p = leaves[i]
        i += 1
        check(p.get_content_type() == "text/plain" and p.get_content_charset() == "utf-8",
              t + ": text/plain; charset=utf-8")
        want = norm(case.text or "")
        check(norm(p.get_content()) == want, t + ": text %r == %r" % (
            norm(p.get_content())[:60], want[:60]))
        cte = p["Content-Transfer-Encoding"]
        if any(ord(c) > 127 for c in want):
            # a pipe cannot be looked at first: always quoted-printable
            eight = case.allow8 and case.text_how != "stdin"
            check(cte == ("8bit" if eight else "quoted-printable"),
                  t + ": non-ASCII text is %s (%s)" % (
                      "8bit with --8bit" if eight else "quoted-printable", cte))
    if case.html is not None:
        p = leaves[i]
        i += 1
        check(p.get_content_type() == "text/html" and norm(p.get_content()) == norm(case.html),
              t + ": html body")
        if any(ord(c) > 127 for c in case.html):
            cte = p["Content-Transfer-Encoding"]
            check(cte == ("8bit" if case.allow8 else "quoted-printable"),
                  t + ": non-ASCII html is %s" % cte)
    for data, fn, ty in case.attach:
        p = leaves[i]
        i += 1
        got = p.get_payload(decode=True)
        check(got == data, t + ": attachment %s byte-exact (%d of %d bytes)" % (
            fn, len(got or b""), len(data)))
        check(p["Content-Transfer-Encoding"] == "base64" and
              p.get_content_disposition() == "attachment", t + ": %s base64 attachment" % fn)
        check(p.get_filename() == fn, t + ": filename %r == %r" % (p.get_filename(), fn))
        want_type = ty.split(";")[0].strip() if ty else guess(fn)
        check(p.get_content_type() == want_type,
              t + ": type %s == %s" % (p.get_content_type(), want_type))
        if ty and "charset=" in ty:
            check(p.get_content_charset() == ty.split("charset=")[1],
                  t + ": type parameters kept")
        check(all(len(l.rstrip("\r")) <= 76 for l in p.get_payload(decode=False).split("\n")),
              t + ": base64 lines <= 76")
    check(i == len(leaves), t + ": every part accounted for")
    return msg


# ---- the combinations -------------------------------------------------------

def fixed_cases():
    cs = []

    def new(name):
        c = Case(name)
        cs.append(c)
        return c

    c = new("text-only")
    c.to = ["bob@example.net"]
    c.subject = "Hello"
    c.text = TEXTS[0]
    c = new("html-only")
    c.to = ["bob@example.net"]
    c.subject = SUBJECTS[1]
    c.html = HTMLS[1]
    c = new("text-html")
    c.to = ["bob@example.net", "carol.smith@mail.example.com"]
    c.from_name = "Zo\u00eb Saldana"
    c.subject = SUBJECTS[2]
    c.text = TEXTS[1]
    c.html = HTMLS[0]
    c = new("nothing-but-subject")
    c.to = ["bob@example.net"]
    c.subject = SUBJECTS[3]
    c = new("empty-text")
    c.to = ["bob@example.net"]
    c.text = ""
    for n in SIZES:
        c = new("attach-%d" % n)
        c.to = ["bob@example.net"]
        c.subject = "Attachment of %d bytes" % n
        c.text = "See the attachment.\n"
        c.attach = [(os.urandom(n), "blob-%d.bin" % n, None)]
    c = new("attach-only-typed")
    c.to = ["bob@example.net"]
    c.attach = [(b"%PDF-1.4\n" + os.urandom(100), "report", "application/pdf")]
    c = new("typed-with-params")
    c.to = ["bob@example.net"]
    c.text = "two attachments, types given\n"
    c.attach = [("caf\u00e9;\n".encode("latin-1"), "menu.txt", "text/plain; charset=iso-8859-1"),
                (os.urandom(58), "r\u00e9sum\u00e9.pdf", "application/octet-stream")]
    c = new("guessed-types")
    c.to = ["bob@example.net"]
    c.text = TEXTS[3]
    c.html = HTMLS[1]
    c.attach = [(os.urandom(57), fn, None) for fn in FILENAMES]
    c = new("cc-bcc")
    c.to = ["bob@example.net"]
    c.cc = ["carol.smith@mail.example.com", "d+tag@example.org"]
    c.bcc = ["eve@example.com", "frank@example.net"]
    c.subject = "cc and bcc"
    c.text = TEXTS[0]
    c = new("bcc-only")
    c.bcc = ["eve@example.com"]
    c.from_name = "\u5f20\u4f1f"
    c.subject = "nobody in To"
    c.text = TEXTS[0]
    c = new("bcc-also-to")
    c.to = ["bob@example.net"]
    c.bcc = ["bob@example.net", "eve@example.com"]
    c.text = "an address in both --to and --bcc stays in To: and is sent once\n"
    c = new("headers")
    c.to = ["bob@example.net"]
    c.headers = HEADERS + [("X-Dup", "one"), ("X-Dup", "two")]
    c.subject = SUBJECTS[4]
    c.text = TEXTS[2]
    c = new("text-file")
    c.to = ["bob@example.net"]
    c.text = TEXTS[1]
    c.text_how = "file"
    c = new("text-stdin")
    c.to = ["bob@example.net"]
    c.text = TEXTS[1] * 50
    c.text_how = "stdin"
    c.attach = [(os.urandom(1000), "data.csv", None)]
    c = new("8bit")
    c.to = ["bob@example.net"]
    c.text = TEXTS[1]
    c.html = HTMLS[1]
    c.allow8 = True
    c = new("names-specials")
    c.from_name = "Doe, Jane"
    c.to = ["bob@example.net"]
    c.subject = SUBJECTS[5]
    c.text = TEXTS[0]
    c = new("everything")
    c.from_name = NAMES[5]
    c.to = ADDRS[:2]
    c.cc = ADDRS[2:4]
    c.bcc = ADDRS[4:]
    c.subject = SUBJECTS[6]
    c.text = TEXTS[1]
    c.html = HTMLS[0]
    c.headers = HEADERS[:3]
    c.attach = [(os.urandom(n), "f%d.pdf" % n, None) for n in (0, 1, 57, 58)] + [
        (os.urandom(1024 * 1024), "big.zip", None)]
    return cs


def generated(rnd, n):
    cs = []
    for k in range(n):
        c = Case("gen%02d" % k)
        c.from_name = rnd.choice(NAMES)
        c.to = rnd.sample(ADDRS, rnd.randrange(0, 3))
        c.cc = rnd.sample(ADDRS, rnd.randrange(0, 2))
        c.bcc = rnd.sample(ADDRS, rnd.randrange(0, 2))
        c.subject = rnd.choice(SUBJECTS + [None])
        if rnd.random() < 0.7:
            c.text = rnd.choice(TEXTS)
            c.text_how = rnd.choice(["arg", "file", "stdin"])
            if c.text_how == "arg" and c.text == "":
                c.text_how = "file"
        if rnd.random() < 0.4:
            c.html = rnd.choice(HTMLS)
        for _ in range(rnd.choice([0, 0, 1, 2, 3])):
            fn = rnd.choice(FILENAMES)
            ty = rnd.choice([None, None, "application/x-test", "image/png"])
            c.attach.append((os.urandom(rnd.choice([0, 1, 2, 3, 57, 58, 76, 4096])), fn, ty))
        c.headers = rnd.sample(HEADERS, rnd.randrange(0, 3))
        c.allow8 = rnd.random() < 0.2
        cs.append(c)
    return cs


def print_cases(cases):
    env = dict(os.environ, TZ="XST-5:30")  # a POSIX TZ string: no tzdata needed
    zone = datetime.timedelta(hours=5, minutes=30)
    for c in cases:
        a, stdin = c.args()
        # standard input is not read unless --text-file -: give it bytes that
        # must not appear
        if stdin is None:
            stdin = b"SHOULD-NOT-BE-READ\n"
        p = subprocess.run([SEND, "--print"] + a, input=stdin, env=env,
                                         stdout=-1, stderr=-1, timeout=120)
        if not check(p.returncode == 0, "print %s: exit 0 (%d: %s)" % (
                c.name, p.returncode, p.stderr.decode("utf-8", "replace").strip())):
            continue
        check(p.stderr == b"", "print %s: nothing on standard error" % c.name)
        check(b"SHOULD-NOT-BE-READ" not in p.stdout,
              "print %s: standard input not read" % c.name)
        verify(c, p.stdout, "print", zone)


# ---- peers -------------------------------------------------------------------

class Handler:
    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.mail_options),
                                  list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 2.0.0 accepted"

    def take(self):
        with self.lock:
            m, self.messages = self.messages, []
        return m


def send(server, case):
    a, stdin = case.args()
    return run([SEND, "--server", server, "--timeout", "30"] + a, stdin=stdin or b"")


def sink_tests():
    sink = SmtpSink(work)
    try:
        # 1. text + html + attachments, Cc and Bcc, non-ASCII name and subject
        c = Case("sink-full")
        c.from_name = "Ren\u00e9e \u00c5str\u00f6m"
        c.to = ["bob@example.net"]
        c.cc = ["carol@example.net"]
        c.bcc = ["eve@example.com", "frank@example.net"]
        c.subject = "Rapport trimestriel \u2014 Q3 \U0001f4c8"
        c.text = "See the attached report.\n.\n.leading dot\n"
        c.html = HTMLS[1]
        c.headers = [("X-Campaign", "q3 \u00e9t\u00e9")]
        c.attach = [(os.urandom(58), "report.pdf", None),
                    (os.urandom(300000), "data.bin", "application/x-test")]
        code, out, err = send(sink.server(), c)
        check(code == 0, "sink 1: exit 0 (%d: %s)" % (code, err.strip()))
        want_rcpts = ["bob@example.net", "carol@example.net", "eve@example.com",
                      "frank@example.net"]
        check(out.splitlines() == ["<%s>: 250 2.1.5 Ok" % r for r in want_rcpts] +
              ["message: 250 2.0.0 Ok"], "sink 1: a line per recipient, Bcc included: %r" % out)
        d = sink.dumps(1)
        if check(len(d) == 1, "sink 1: one transaction dumped"):
            rec, body = d[0]
            check(rec.get("X-Rcpt-Args") == ["<%s>" % r for r in want_rcpts],
                  "sink 1: envelope To, Cc, Bcc %r" % rec.get("X-Rcpt-Args"))
            check(rec.get("X-Mail-Args") == ["<ann@example.org>"],
                  "sink 1: MAIL FROM, 7-bit body declared as such (%r)" % rec.get("X-Mail-Args"))
            verify(c, body.replace(b"\n", b"\r\n"), "sink 1")
        sink.clear()

        # 2. --8bit (the HTML file goes 8bit; the text from a pipe cannot be
        # looked at first, so it stays quoted-printable), Bcc only (no To:)
        c = Case("sink-8bit")
        c.bcc = ["eve@example.com"]
        c.subject = "pipe"
        c.text = "Gr\u00fc\u00dfe \u2014 text from a pipe\n" * 200
        c.text_how = "stdin"
        c.html = HTMLS[1]
        c.allow8 = True
        code, out, err = send(sink.server(), c)
        check(code == 0, "sink 2: exit 0 (%d: %s)" % (code, err.strip()))
        d = sink.dumps(1)
        if check(len(d) == 1, "sink 2: one transaction dumped"):
            rec, body = d[0]
            check(rec.get("X-Rcpt-Args") == ["<eve@example.com>"], "sink 2: Bcc-only envelope")
            check(rec.get("X-Mail-Args") == ["<ann@example.org> BODY=8BITMIME"],
                  "sink 2: BODY=8BITMIME (%r)" % rec.get("X-Mail-Args"))
            verify(c, body.replace(b"\n", b"\r\n"), "sink 2")
        sink.clear()

        # 3. a UTF-8 Cc needs SMTPUTF8, which smtp-sink lacks: 69, nothing sent
        c = Case("sink-utf8")
        c.to = ["bob@example.net"]
        c.cc = ["j\u00fcrgen@example.net"]
        c.text = "x\n"
        code, out, err = send(sink.server(), c)
        check(code == 69, "sink 3: SMTPUTF8 not offered: exit 69 (%d: %s)" % (code, err.strip()))
        time.sleep(0.3)
        check(sink.dumps() == [], "sink 3: nothing stored")
    finally:
        sink.stop()


def aiosmtpd_tests():
    h = Handler()
    port = free_port()
    ctl = Controller(h, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    ctl.start()
    try:
        if not wait_port("127.0.0.1", port):
            check(False, "aiosmtpd started")
            return
        server = "127.0.0.1:%d" % port
        # sizes known: SIZE= is the exact size of what arrives
        c = Case("aio-size")
        c.to = ["bob@example.net"]
        c.cc = ["carol@example.net"]
        c.bcc = ["eve@example.com"]
        c.subject = "Gr\u00fc\u00dfe"
        c.text = TEXTS[2]
        c.attach = [(os.urandom(n), "f%d.pdf" % n, None) for n in (0, 1, 57, 58)]
        code, out, err = send(server, c)
        m = h.take()
        check(code == 0 and len(m) == 1, "aiosmtpd 1: accepted (%d: %s)" % (code, err.strip()))
        if m:
            frm, opts, rcpts, content = m[0]
            check(rcpts == ["bob@example.net", "carol@example.net", "eve@example.com"],
                  "aiosmtpd 1: envelope with Cc and Bcc %r" % rcpts)
            check(opts == ["SIZE=%d" % len(content)],
                  "aiosmtpd 1: SIZE=%d exact, no BODY (%r)" % (len(content), opts))
            verify(c, content, "aiosmtpd 1")
        # a UTF-8 address: SMTPUTF8 on MAIL, and the header reads back
        c = Case("aio-utf8")
        c.to = ["j\u00fcrgen@example.net"]
        c.from_name = "\u5f20\u4f1f"
        c.text = TEXTS[1]
        code, out, err = send(server, c)
        m = h.take()
        check(code == 0 and len(m) == 1, "aiosmtpd 2: accepted (%d: %s)" % (code, err.strip()))
        if m:
            frm, opts, rcpts, content = m[0]
            check("SMTPUTF8" in opts and rcpts == ["j\u00fcrgen@example.net"],
                  "aiosmtpd 2: SMTPUTF8 (%r %r)" % (opts, rcpts))
            msg = email.message_from_bytes(content, policy=email.policy.default)
            to = msg["To"]
            check(to is not None and to.addresses[0].addr_spec.encode(
                "utf-8", "surrogateescape").decode("utf-8") == "j\u00fcrgen@example.net",
                "aiosmtpd 2: UTF-8 To: address reads back")
    finally:
        ctl.stop()


# ---- refusals ----------------------------------------------------------------

def refusal_tests():
    # a listener that must never see a connection
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    server = "127.0.0.1:%d" % lsock.getsockname()[1]
    good = os.path.join(work, "good.txt")
    with open(good, "wb") as f:
        f.write(b"ok\n")
    base = ["--from", "ann@example.org", "--to", "bob@example.net", "--text", "x"]
    injections = [
        ("subject CRLF", ["--subject", "Hi\r\nBcc: evil@example.org"]),
        ("subject LF", ["--subject", "Hi\nX-Evil: 1"]),
        ("subject CR", ["--subject", "Hi\rX-Evil: 1"]),
        ("header value CRLF", ["--header", "X-Test: a\r\nBcc: evil@example.org"]),
        ("header value LF", ["--header", "X-Test: a\nX-Other: b"]),
        ("header folding attempt", ["--header", "X-Test: a\r\n b"]),
        ("header name LF", ["--header", "X-Te\nst: a"]),
        ("header Bcc", ["--header", "Bcc: evil@example.org"]),
        ("header To", ["--header", "To: evil@example.org"]),
        ("header Content-Type", ["--header", "Content-Type: text/html"]),
        ("header without colon", ["--header", "X-Test value"]),
        ("header name with space", ["--header", "X Test: value"]),
        ("from-name CRLF", ["--from-name", "Ann\r\nBcc: evil@example.org"]),
        ("to CRLF", ["--to", "bob@example.net\r\nRCPT TO:<evil@example.org>"]),
        ("cc injection", ["--cc", "carol@example.net>\r\nBcc: evil@example.org"]),
        ("bcc not an address", ["--bcc", "not an address"]),
        ("cc without domain", ["--cc", "carol"]),
        ("attach missing", ["--attach", os.path.join(work, "no-such-file.pdf")]),
        ("attach directory", ["--attach", work]),
        ("attach multipart type", ["--attach", good + ";type=multipart/mixed"]),
        ("attach type CRLF", ["--attach", good + ";type=text/plain\r\nX-Evil: 1"]),
        ("html-file missing", ["--html-file", os.path.join(work, "no-such.html")]),
    ]
    for name, extra in injections:
        for mode in ("send", "print"):
            args = [SEND] + base + extra + (["--print"] if mode == "print" else
                                            ["--server", server, "--timeout", "5"])
            code, out, err = run(args)
            check(code == 65 and out == "" and err.startswith("smtpkit-send: ") and
                  "\n" not in err.rstrip("\n"),
                  "refuse %s (%s): exit 65, one clear line, nothing out (%d %r %r)" % (
                      name, mode, code, out[:60], err.strip()))
    code, out, err = run([SEND, "--from", "bad address", "--to", "bob@example.net",
                          "--subject", "x", "--server", server])
    check(code == 65 and "--from" in err, "refuse a bad --from: 65 (%d %r)" % (code, err))
    code, out, err = run([SEND] + base[:4] + ["--text-file", os.path.join(work, "none.txt"),
                                              "--server", server])
    check(code == 65 and "none.txt" in err, "refuse a missing --text-file: 65 (%r)" % err)
    lsock.setblocking(False)
    try:
        lsock.accept()
        check(False, "refusals: no connection was ever made")
    except BlockingIOError:
        check(True, "refusals: no connection was ever made")
    lsock.close()

    usage = [
        ("--text and --text-file", base + ["--text-file", good, "--print"]),
        ("-t with composition", base + ["-t", "--server", server]),
        ("FILE with composition", base + ["--server", server, good]),
        ("no recipient", ["--from", "a@example.org", "--subject", "x", "--server", server]),
        ("no --server without --print", base),
        ("--8bit alone", ["--from", "a@example.org", "--to", "b@example.net", "--8bit",
                          "--server", server]),
        ("missing value", base + ["--attach"]),
    ]
    for name, args in usage:
        code, out, err = run([SEND] + args)
        check(code == 64, "usage: %s: exit 64 (%d %r)" % (name, code, err.strip()))
    code, out, err = run([SEND, "--help"])
    check(code == 0 and all(o in out for o in (
        "--subject", "--text", "--text-file", "--html-file", "--attach", ";type=", "--header",
        "--cc", "--bcc", "--from-name", "--print", "--8bit")), "--help lists the options")


cases = fixed_cases() + generated(random.Random(5), 30)
print_cases(cases)
print("%d combinations built with --print" % len(cases))
sink_tests()
aiosmtpd_tests()
refusal_tests()
finish()
