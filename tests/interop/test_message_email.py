#!/usr/bin/python3
"""Interop: messages built by smtpkit's message builder, parsed by Python's
email package (policy.default).

Builds generated combinations of headers, bodies, inline parts and
attachments through tests/interop/progs/msg_build (the C API), and checks
for each one that every header decodes back to the exact UTF-8 input, every
attachment decodes byte-exact, text bodies come back (line breaks as CRLF),
the tree of parts is the one asked for, Bcc is absent, every line ends in
CRLF and is at most 998 octets (header lines at most 78 where they can be),
and the size and envelope msg_build reports are right.
"""
import datetime
import email
import email.policy
import os
import random
import subprocess
import sys
import tempfile

BIN = os.environ.get("SMTPKIT_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
MSG_BUILD = os.path.join(BIN, "msg_build")

SUBJECTS = [
    "Quarterly report",
    "",
    "R\u00e9sum\u00e9 of the meeting",
    "\u65e5\u672c\u8a9e\u306e\u4ef6\u540d\u3067\u3059\u3002\u3088\u308d\u3057\u304f\u304a"
    "\u9858\u3044\u3057\u307e\u3059\u3001\u3068\u3066\u3082\u9577\u3044\u4ef6\u540d",
    "Party \U0001f389\U0001f382 tonight at eight \U0001f37e",
    "A long plain subject line that certainly goes on for more than seventy-eight "
    "columns so it has to be folded at white space, more than once in fact, "
    "because it is really rather long",
    "Mixed: na\u00efve caf\u00e9 and \u00fcber-long words like "
    "Donaudampfschifffahrtsgesellschaftskapit\u00e4nsm\u00fctze here",
    "literal =?UTF-8?Q?not_encoded?= text",
    "Re: [list] \u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
    "x" * 200,
    "Tab\tinside and  two spaces",
    "\u00e9" * 100,
]

NAMES = [
    None,
    "Ann Example",
    "Doe, Jane",
    'J. R. "Bob" Dobbs',
    "Zo\u00eb Saldana",
    "\u5f20\u4f1f",
    "Ren\u00e9e O'Brien-\u00c5str\u00f6m (Sales)",
    "=?UTF-8?Q?looks_encoded?=",
    "A very long display name that keeps on going well past the usual width of a line",
]

ADDRS = [
    "ann@example.org", "bob@example.net", "carol.smith@mail.example.com",
    "d+tag@example.org", "\"quoted local\"@example.org", "eve@[192.0.2.1]",
]
UTF8_ADDRS = ["j\u00f6rg@b\u00fccher.example", "\u7528\u6237@\u4f8b\u5b50.example"]

TEXTS = [
    None,
    "",
    "Hello,\nthis is plain ASCII.\n",
    "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 \u65e5\u672c\u8a9e\n",
    "From the start\n.\n.leading dot\ntrailing space \nend without newline",
    "a line much longer than seventy-eight characters, " * 5 + "\nshort\n",
    "CRLF\r\nlines\r\nhere\r\n",
    "--=_m_ looks like one of our boundaries\nbut is not\n",
    "nul\x00 and bell\x07 bytes\n",
]

HTMLS = [
    None,
    "",
    "<html><body><p>Hello <b>world</b></p></body></html>\n",
    "<p>\u00c7a va? <img src=\"cid:img0@example.org\"></p>\n",
]

FILENAMES = [
    "report.pdf", "photo.JPG", "data.csv", "notes.txt", "archive.tar.gz", "noext",
    "r\u00e9sum\u00e9.pdf", "\u65e5\u672c\u8a9e\u306e\u30d5\u30a1\u30a4\u30eb.txt",
    "my report (final) v2.docx",
    "a_very_long_file_name_that_will_need_rfc2231_continuations_because_it_is_long.zip",
    "\u00e9" * 60 + ".bin",
    None,
]

EXT_TYPES = {
    "pdf": "application/pdf", "jpg": "image/jpeg", "csv": "text/csv", "txt": "text/plain",
    "gz": "application/gzip", "docx":
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "zip": "application/zip", "png": "image/png", "gif": "image/gif",
}

SIZES = [0, 1, 57, 58, 2, 3, 76, 1000, 4096, 65537]

failures = 0
checks = 0


def check(cond, what, case):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL [%s] %s" % (case, what), file=sys.stderr)
    return cond


def guess(name):
    if name and "." in name:
        return EXT_TYPES.get(name.rsplit(".", 1)[1].lower(), "application/octet-stream")
    return "application/octet-stream"


class Case:
    def __init__(self, name):
        self.name = name
        self.from_ = ("ann@example.org", None)
        self.sender = None
        self.to = []
        self.cc = []
        self.bcc = []
        self.reply_to = []
        self.subject = None
        self.date = None
        self.unique = None
        self.msgid_domain = None
        self.message_id = None
        self.in_reply_to = None
        self.references = []
        self.headers = []
        self.text = None
        self.html = None
        self.inline = []   # (data, cid, filename, type)
        self.attach = []   # (data, filename, type or None)
        self.allow8 = False
        self.chunk = 65536
        self.push = False
        self.text_pipe = False
        self.long_names = False

    def args(self, tmp):
        a = ["--from", self.from_[0], self.from_[1] or ""]
        if self.sender:
            a += ["--sender", self.sender[0], self.sender[1] or ""]
        for addr, name in self.to:
            a += ["--to", addr, name or ""]
        for addr, name in self.cc:
            a += ["--cc", addr, name or ""]
        for addr in self.bcc:
            a += ["--bcc", addr]
        for addr, name in self.reply_to:
            a += ["--reply-to", addr, name or ""]
        if self.subject is not None:
            a += ["--subject", self.subject]
        if self.date:
            a += ["--date", str(self.date[0]), str(self.date[1])]
        if self.unique:
            a += ["--unique", self.unique]
        if self.msgid_domain:
            a += ["--msgid-domain", self.msgid_domain]
        if self.message_id:
            a += ["--message-id", self.message_id]
        if self.in_reply_to:
            a += ["--in-reply-to", self.in_reply_to]
        for r in self.references:
            a += ["--reference", r]
        for n, v in self.headers:
            a += ["--header", n, v]
        n = 0

        def put(data):
            nonlocal n
            n += 1
            p = os.path.join(tmp, "%s-%d" % (self.name, n))
            with open(p, "wb") as f:
                f.write(data)
            return p
        if self.text is not None:
            a += ["--text-pipe" if self.text_pipe else "--text-file",
                  put(self.text.encode("utf-8"))]
        if self.html is not None:
            a += ["--html-file", put(self.html.encode("utf-8"))]
        for data, cid, fn, ty in self.inline:
            a += ["--inline", put(data), cid, fn or "", ty or ""]
        for data, fn, ty in self.attach:
            a += ["--attach", put(data), fn or "", ty or ""]
        if self.allow8:
            a += ["--allow-8bit"]
        a += ["--chunk", str(self.chunk), "--info"]
        if self.push:
            a += ["--push"]
        return a

    def expected_tree(self):
        text = self.text is not None
        html = self.html is not None
        body = None
        if text and html:
            inner = "text/html"
            if self.inline:
                inner = "multipart/related(%s)" % ",".join(
                    ["text/html"] + [t or guess(f) for _, _, f, t in self.inline])
            body = "multipart/alternative(text/plain,%s)" % inner
        elif self.inline:
            root = ["text/html"] if html else (["text/plain"] if text else [])
            body = "multipart/related(%s)" % ",".join(
                root + [t or guess(f) for _, _, f, t in self.inline])
        elif html:
            body = "text/html"
        elif text:
            body = "text/plain"
        if self.attach:
            kids = ([body] if body else []) + [
                (t.split(";")[0] if t else guess(f)) for _, f, t in self.attach]
            return "multipart/mixed(%s)" % ",".join(kids)
        return body or "text/plain"


def tree(part):
    if part.is_multipart():
        return "%s(%s)" % (part.get_content_type(), ",".join(tree(p) for p in part.iter_parts()))
    return part.get_content_type()


def norm_text(s):
    return s.replace("\r\n", "\n").replace("\r", "\n")


def unescape(s):
    # message_from_bytes() reads 8-bit header bytes (RFC 6532 UTF-8
    # addresses) as surrogate escapes
    return s.encode("utf-8", "surrogateescape").decode("utf-8")


def legacy_phrase(raw, label, addr):
    """The display name of the single mailbox in field `label`, decoded by
    email.header.decode_header(), which drops white space between adjacent
    encoded words as RFC 2047 6.2 says. The address parser of CPython
    before gh-128110 keeps it as a space, so a name long enough to need
    several encoded words cannot read back exactly through it."""
    import email.header
    head = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ").decode("utf-8")
    for line in head.split("\r\n"):
        if line.lower().startswith(label.lower() + ":"):
            v = line.split(":", 1)[1].strip()
            suffix = " <%s>" % addr
            if not v.endswith(suffix):
                return None
            return str(email.header.make_header(email.header.decode_header(v[:-len(suffix)])))
    return None


def addr_check(case, hdr, expected, label, raw):
    if not expected:
        return check(hdr is None, "%s absent" % label, case.name)
    if not check(hdr is not None, "%s present" % label, case.name):
        return False
    got = [(unescape(a.addr_spec), a.display_name) for a in hdr.addresses]
    want = [(addr, name or "") for addr, name in expected]
    if got != want and len(want) == 1 and case.long_names:
        got = [(got[0][0], legacy_phrase(raw, label, want[0][0]))]
    return check(got == want, "%s: %r == %r" % (label, got, want), case.name)


def run_case(case, tmp):
    args = [MSG_BUILD] + case.args(tmp)
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if not check(p.returncode == 0, "msg_build exit %d: %s" % (p.returncode, p.stderr.decode(
            "utf-8", "replace")), case.name):
        return
    raw = p.stdout
    info = {}
    rcpts = []
    for line in p.stderr.decode("utf-8").splitlines():
        k, _, v = line.partition(" ")
        if k == "rcpt":
            rcpts.append(v)
        else:
            info[k] = v
    size = int(info["size"])
    if case.text_pipe:
        check(size == -1, "size unknown with a text pipe", case.name)
    else:
        check(size == len(raw), "size %d == output %d" % (size, len(raw)), case.name)
    want_rcpts = []
    for a in [x for x, _ in case.to] + [x for x, _ in case.cc] + case.bcc:
        if a not in want_rcpts:
            want_rcpts.append(a)
    check(rcpts == want_rcpts, "envelope %r == %r" % (rcpts, want_rcpts), case.name)
    check(info["mail"] == (case.sender or case.from_)[0], "reverse path", case.name)
    utf8 = any(ord(c) > 127 for a in [case.from_[0]] + [x for x, _ in case.to + case.cc +
                                                      case.reply_to] + case.bcc for c in a)
    check(bool(int(info["flags"]) & 1) == utf8, "SMTPUTF8 flag", case.name)

    # line rules: CRLF only, <= 998; header lines <= 78 unless one item is longer
    lines = raw.split(b"\r\n")
    check(all(b"\n" not in l and b"\r" not in l for l in lines), "CRLF only", case.name)
    check(max(len(l) for l in lines) <= 998, "lines <= 998", case.name)
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    # a longer header line holds one unbreakable item (a long word or type)
    long_ok = all(len(l) <= 78 or b" " not in (l if l[:1] in b" \t" else
                                               l.split(b":", 1)[1]).strip() for l in head)
    check(long_ok, "header lines <= 78: %r" % [l for l in head if len(l) > 78], case.name)

    msg = email.message_from_bytes(raw, policy=email.policy.default)
    check(not msg.defects, "no defects at top: %r" % msg.defects, case.name)
    addr_check(case, msg["From"], [case.from_], "From", raw)
    addr_check(case, msg["Sender"], [case.sender] if case.sender else [], "Sender", raw)
    addr_check(case, msg["To"], case.to, "To", raw)
    addr_check(case, msg["Cc"], case.cc, "Cc", raw)
    addr_check(case, msg["Reply-To"], case.reply_to, "Reply-To", raw)
    check(msg["Bcc"] is None, "no Bcc header", case.name)
    for b in case.bcc:
        check(b.encode("utf-8") not in raw, "Bcc address not in message", case.name)
    if case.subject is not None:
        check(str(msg["Subject"]) == case.subject,
              "Subject %r == %r" % (str(msg["Subject"]), case.subject), case.name)
    if case.date:
        want = datetime.datetime.fromtimestamp(
            case.date[0], datetime.timezone(datetime.timedelta(minutes=case.date[1])))
        got = msg["Date"].datetime
        check(got == want and got.utcoffset() == want.utcoffset(),
              "Date %r == %r" % (got, want), case.name)
    if case.msgid_domain:
        check(str(msg["Message-ID"]) == "<%s@%s>" % (case.unique, case.msgid_domain),
              "generated Message-ID %r" % str(msg["Message-ID"]), case.name)
    if case.message_id:
        check(str(msg["Message-ID"]) == "<%s>" % case.message_id.strip("<>"), "Message-ID",
              case.name)
    if case.in_reply_to:
        check(str(msg["In-Reply-To"]) == "<%s>" % case.in_reply_to.strip("<>"), "In-Reply-To",
              case.name)
    if case.references:
        check(str(msg["References"]).split() == ["<%s>" % r.strip("<>") for r in
                                                 case.references], "References", case.name)
    for n, v in case.headers:
        check(str(msg[n]) == v, "%s %r == %r" % (n, str(msg[n]), v), case.name)
    check(msg["MIME-Version"] == "1.0", "MIME-Version", case.name)

    check(tree(msg) == case.expected_tree(),
          "tree %s == %s" % (tree(msg), case.expected_tree()), case.name)

    leaves = [p for p in msg.walk() if not p.is_multipart()]
    for p in msg.walk():
        check(not p.defects, "no defects in %s: %r" % (p.get_content_type(), p.defects),
              case.name)
    i = 0
    if case.text is not None or (case.html is None and not case.inline and not case.attach):
        t = leaves[i]
        i += 1
        check(t.get_content_type() == "text/plain", "text part", case.name)
        check(t.get_content_charset() == "utf-8", "text charset", case.name)
        got = norm_text(t.get_content())
        want = norm_text(case.text or "")
        check(got == want, "text %r == %r" % (got[:80], want[:80]), case.name)
        cte = t["Content-Transfer-Encoding"]
        if "\x00" in want or "--=_" in want:
            check(cte == "quoted-printable", "text needing QP is QP", case.name)
        if cte == "8bit":
            check(case.allow8 and int(info["flags"]) & 2, "8bit only when allowed", case.name)
    if case.html is not None:
        h = leaves[i]
        i += 1
        check(h.get_content_type() == "text/html", "html part", case.name)
        check(norm_text(h.get_content()) == norm_text(case.html), "html content", case.name)
    for data, cid, fn, ty in case.inline:
        p = leaves[i]
        i += 1
        check(p.get_payload(decode=True) == data, "inline bytes (%d)" % len(data), case.name)
        check(str(p["Content-ID"]) == "<%s>" % cid, "Content-ID", case.name)
        check(p.get_content_disposition() == "inline", "inline disposition", case.name)
        check(p.get_filename() == fn, "inline filename %r" % p.get_filename(), case.name)
    for data, fn, ty in case.attach:
        p = leaves[i]
        i += 1
        check(p.get_payload(decode=True) == data,
              "attachment bytes (%d vs %d)" % (len(p.get_payload(decode=True) or b""),
                                               len(data)), case.name)
        check(p["Content-Transfer-Encoding"] == "base64", "base64", case.name)
        check(p.get_content_disposition() == "attachment", "disposition", case.name)
        check(p.get_filename() == fn, "filename %r == %r" % (p.get_filename(), fn), case.name)
        if fn is not None:
            check(p["Content-Type"].params.get("name") == fn,
                  "name= %r" % p["Content-Type"].params.get("name"), case.name)
        check(p.get_content_type() == (ty.split(";")[0] if ty else guess(fn)),
              "type %s" % p.get_content_type(), case.name)
        blines = p.get_payload(decode=False).split("\n")
        check(all(len(l.rstrip("\r")) <= 76 for l in blines), "base64 lines <= 76", case.name)
    check(i == len(leaves), "all leaves checked", case.name)


def generated(rnd, n):
    cases = []
    for k in range(n):
        c = Case("gen%02d" % k)
        pool = ADDRS + (UTF8_ADDRS if k % 5 == 4 else [])
        c.from_ = (rnd.choice(pool), rnd.choice(NAMES))
        if rnd.random() < 0.2:
            c.sender = (rnd.choice(ADDRS), rnd.choice(NAMES))
        c.to = [(rnd.choice(pool), rnd.choice(NAMES)) for _ in range(rnd.randint(1, 3))]
        c.cc = [(rnd.choice(pool), rnd.choice(NAMES)) for _ in range(rnd.randint(0, 2))]
        c.bcc = ["hidden%d@example.org" % j for j in range(rnd.randint(0, 2))]
        if rnd.random() < 0.3:
            c.reply_to = [(rnd.choice(ADDRS), rnd.choice(NAMES))]
        c.subject = SUBJECTS[k % len(SUBJECTS)]
        c.date = (rnd.randint(0, 4102444800), rnd.choice([0, 60, -300, 330, 545, -720, 840]))
        c.unique = "%032x" % rnd.getrandbits(128)
        c.msgid_domain = "example.org"
        if rnd.random() < 0.3:
            c.in_reply_to = "<orig.%d@example.net>" % k
            c.references = ["ref.%d.%d@example.net" % (k, j) for j in range(rnd.randint(1, 12))]
        if rnd.random() < 0.4:
            c.headers = [("X-Mailer", "smtpkit interop"),
                         ("X-Note", rnd.choice(SUBJECTS[2:]) or "n")]
        c.text = rnd.choice(TEXTS)
        c.html = rnd.choice(HTMLS)
        for j in range(rnd.choice([0, 0, 1, 2])):
            c.inline.append((bytes(rnd.getrandbits(8) for _ in range(rnd.choice(SIZES[:8]))),
                             "img%d@example.org" % j, rnd.choice(["logo.png", None]),
                             rnd.choice([None, "image/gif"]) if j else "image/png"))
        for j in range(rnd.choice([0, 1, 1, 2, 3])):
            fn = rnd.choice(FILENAMES)
            ty = rnd.choice([None, None, "application/x-custom", "text/plain; charset=utf-8"])
            c.attach.append((bytes(rnd.getrandbits(8) for _ in range(rnd.choice(SIZES))), fn,
                             ty))
        c.allow8 = rnd.random() < 0.3
        c.chunk = rnd.choice([1, 7, 100, 4096, 65536])
        if c.chunk == 1 and sum(len(a[0]) for a in c.attach + c.inline) > 5000:
            c.chunk = 13
        c.push = rnd.random() < 0.3
        c.text_pipe = c.text is not None and rnd.random() < 0.1
        cases.append(c)
    return cases


def fixed(rnd):
    cases = []
    # the sizes the issue names, each alone
    for size in (0, 1, 57, 58):
        c = Case("size%d" % size)
        c.to = [("bob@example.net", "Bob")]
        c.subject = "attachment of %d bytes" % size
        c.text = "see attached\n"
        c.attach = [(bytes(rnd.getrandbits(8) for _ in range(size)), "f%d.bin" % size, None)]
        cases.append(c)
    c = Case("big10M")
    c.to = [("bob@example.net", None)]
    c.subject = "ten million bytes"
    c.text = ""
    c.attach = [(os.urandom(10000000), "big.bin", None)]
    cases.append(c)
    # empty bodies
    c = Case("empty-text-html")
    c.text = ""
    c.html = ""
    c.to = [("bob@example.net", None)]
    cases.append(c)
    c = Case("nothing")
    c.to = [("bob@example.net", None)]
    cases.append(c)
    # non-ASCII everything
    c = Case("all-utf8")
    c.from_ = ("j\u00f6rg@b\u00fccher.example", "J\u00f6rg M\u00fcller")
    c.to = [("\u7528\u6237@\u4f8b\u5b50.example", "\u5f20\u4f1f")]
    c.subject = SUBJECTS[3]
    c.text = TEXTS[3]
    c.allow8 = True
    c.attach = [(b"\x00\xff" * 100, FILENAMES[7], None)]
    cases.append(c)
    # display names too long for one encoded word
    c = Case("long-utf8-names")
    c.long_names = True
    c.from_ = ("ann@example.org", "\u5c71\u7530\u592a\u90ce" * 8)
    c.to = [("bob@example.net", "Fran\u00e7ois-Xavier de la Cr\u00e8me-Br\u00fbl\u00e9e "
             "d'Orl\u00e9ans et de Saint-\u00c9tienne")]
    c.subject = "long names"
    cases.append(c)
    return cases


def main():
    if not os.access(MSG_BUILD, os.X_OK):
        print("msg_build not found at %s" % MSG_BUILD, file=sys.stderr)
        return 1
    rnd = random.Random(20250213)
    cases = fixed(rnd) + generated(rnd, 60)
    with tempfile.TemporaryDirectory() as tmp:
        for c in cases:
            run_case(c, tmp)
            # the data files of a case are not needed after it
            for f in os.listdir(tmp):
                os.unlink(os.path.join(tmp, f))
    print("%d cases, %d checks, %d failed" % (len(cases), checks, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
