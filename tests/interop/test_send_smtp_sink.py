#!/usr/bin/python3
"""smtpkit-send and smtpkit_send() against Postfix's smtp-sink.

The messages smtp-sink dumps (-d) are compared with what was sent: dot lines
and a 10 MB message arrive byte-exact; -t takes To/Cc/Bcc and drops Bcc;
rejections give the documented exit codes; IPv6 and LMTP work."""
import hashlib
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from send_common import (SmtpSink, check, dotty_message, finish, free_port, lf_form, run,
                         tmpdir, tool, mbedtls_built)

SEND = tool("smtpkit-send")
API = tool("send_api")
work = tmpdir("send_smtp_sink")


def send(server, args, msg, file=None):
    cmd = [SEND, "--server", server, "--timeout", "30"] + args
    if file:
        cmd.append(file)
    return run(cmd, stdin=None if file else msg)


sink = SmtpSink(work)
try:
    # 1. dot lines, from standard input (a pipe: spooled, so scanned: 7-bit, no BODY=)
    msg = (b"Subject: dots\nFrom: a@example.org\n\n.\n..\n.leading\nplain\n"
           b"\r\n.\r\nlast line without end")
    code, out, err = send(sink.server(), ["--from", "a@example.org", "--to", "b@example.net",
                                          "--to", "c@example.net"], msg)
    check(code == 0, "dot lines: exit 0 (got %d, %s)" % (code, err.strip()))
    check(out == "<b@example.net>: 250 2.1.5 Ok\n<c@example.net>: 250 2.1.5 Ok\n"
          "message: 250 2.0.0 Ok\n", "dot lines: one line per recipient, then the message")
    d = sink.dumps(1)
    check(len(d) == 1, "dot lines: one transaction dumped")
    if d:
        rec, body = d[0]
        check(body == lf_form(msg), "dot lines: the message arrived byte-exact")
        check(rec.get("X-Mail-Args") == ["<a@example.org>"],
              "dot lines: MAIL FROM %r" % rec.get("X-Mail-Args"))
        check(rec.get("X-Rcpt-Args") == ["<b@example.net>", "<c@example.net>"],
              "dot lines: RCPT TO in order")
    sink.clear()

    # 2. the same from a FILE argument (size known: SIZE=, scanned: 7-bit)
    path = os.path.join(work, "dots.eml")
    with open(path, "wb") as f:
        f.write(msg)
    code, out, err = send(sink.server(), ["--from", "<a@example.org>", "--to", "b@example.net"],
                          None, file=path)
    check(code == 0, "file argument: exit 0 (%s)" % err.strip())
    d = sink.dumps(1)
    if check(len(d) == 1, "file argument: dumped"):
        check(d[0][1] == lf_form(msg), "file argument: byte-exact")
    sink.clear()

    # 3. a 10 MB message, byte-exact, through smtpkit-send and through smtpkit_send()
    big = dotty_message(10 * 1024 * 1024, seed=3)
    bigpath = os.path.join(work, "big.eml")
    with open(bigpath, "wb") as f:
        f.write(big)
    want = hashlib.sha256(lf_form(big)).hexdigest()
    code, out, err = send(sink.server(), ["--from", "a@example.org", "--to", "big@example.net"],
                          big)
    check(code == 0, "10 MB via stdin: exit 0 (%s)" % err.strip())
    d = sink.dumps(1, timeout=30)
    if check(len(d) == 1, "10 MB via stdin: dumped"):
        check(hashlib.sha256(d[0][1]).hexdigest() == want, "10 MB via stdin: byte-exact")
    sink.clear()
    code, out, err = run([API, "-f", bigpath, sink.host, str(sink.port), "a@example.org",
                          "big@example.net"])
    check(code == 0, "10 MB via smtpkit_send(): exit 0 (%s %s)" % (out.strip(), err.strip()))
    d = sink.dumps(1, timeout=30)
    if check(len(d) == 1, "10 MB via smtpkit_send(): dumped"):
        check(hashlib.sha256(d[0][1]).hexdigest() == want, "10 MB via smtpkit_send(): byte-exact")
        # smtp-sink offers no SIZE; 8BITMIME is declared for a body too big to scan
        check(d[0][0].get("X-Mail-Args") == ["<a@example.org> BODY=8BITMIME"],
              "10 MB via smtpkit_send(): MAIL FROM (%r)" % d[0][0].get("X-Mail-Args"))
    sink.clear()

    # 4. smtpkit_send() with the dot message and two recipients
    code, out, err = run([API, "-f", path, sink.host, str(sink.port), "a@example.org",
                          "b@example.net", "c@example.net"])
    check(code == 0 and "rcpt <c@example.net> 250 2.1.5" in out,
          "smtpkit_send(): accepted, per-recipient replies (%s)" % out.strip())
    d = sink.dumps(1)
    if check(len(d) == 1, "smtpkit_send(): dumped"):
        check(d[0][1] == lf_form(msg), "smtpkit_send(): byte-exact")
    sink.clear()

    # 5. -t: recipients from To, Cc and Bcc (folded, with display names,
    #    groups, comments); Bcc removed from the message, folded lines too
    tmsg = (b"From: Alice <a@example.org>\n"
            b"To: \"Bob, Jr.\" <bob@example.net>, carol@example.net (Carol)\n"
            b"Cc: team: dave@example.net, <erin@example.net>;\n"
            b"Bcc: hidden@example.net,\n\tsecret@example.net\n"
            b"Subject: -t test\n"
            b"X-Note: Bcc: not a field\n\n"
            b"Bcc: this body line stays\n")
    code, out, err = send(sink.server(), ["-t", "--from", "a@example.org", "--to",
                                          "extra@example.net"], tmsg)
    check(code == 0, "-t: exit 0 (%s)" % err.strip())
    d = sink.dumps(1)
    if check(len(d) == 1, "-t: dumped"):
        rec, body = d[0]
        check(rec.get("X-Rcpt-Args") == ["<extra@example.net>", "<bob@example.net>",
                                         "<carol@example.net>", "<dave@example.net>",
                                         "<erin@example.net>", "<hidden@example.net>",
                                         "<secret@example.net>"],
              "-t: recipients from To/Cc/Bcc plus --to (%r)" % rec.get("X-Rcpt-Args"))
        expected = tmsg.replace(b"Bcc: hidden@example.net,\n\tsecret@example.net\n", b"")
        check(body == lf_form(expected), "-t: Bcc field removed, the rest intact")
    sink.clear()

    # 6. input errors: 65 for a bad address (nothing sent), 64 for usage, 66 no input
    code, out, err = send(sink.server(), ["--from", "a@example.org", "--to",
                                          "b@example.net>\r\nRSET"], b"x\n")
    check(code == 65, "injection in --to: exit 65 (got %d)" % code)
    code, out, err = send(sink.server(), ["--from", "not an address", "--to", "b@example.net"],
                          b"x\n")
    check(code == 65, "bad --from: exit 65 (got %d)" % code)
    check(sink.dumps() == [], "bad input: nothing was sent")
    code, out, err = run([SEND, "--server", sink.server(), "--to", "b@example.net"], b"x")
    check(code == 64, "missing --from: exit 64 (got %d)" % code)
    code, out, err = run([SEND, "--server", sink.server(), "--from", "a@example.org",
                          "--to", "b@example.net", "--bogus"], b"x")
    check(code == 64, "unknown option: exit 64")
    code, out, err = run([SEND, "--server", "host:99999", "--from", "a@example.org",
                          "--to", "b@example.net"], b"x")
    check(code == 64, "bad port: exit 64")
    code, out, err = run([SEND, "--server", sink.server(), "--from", "a@example.org",
                          "--to", "b@example.net", os.path.join(work, "missing.eml")])
    check(code == 66, "missing message file: exit 66 (got %d)" % code)
    code, out, err = run([SEND, "--help"])
    check(code == 0 and "usage: smtpkit-send" in out, "--help")
    if not mbedtls_built():
        for opt in (["--starttls"], ["--tls"], ["--starttls", "--auth", "u:p"]):
            code, out, err = send(sink.server(), opt + ["--from", "a@example.org", "--to",
                                                        "b@example.net"], b"x\n")
            check(code == 69 and "TLS support is not built in" in err,
                  "%s without TLS built in: exit 69 with a clear error" % " ".join(opt))
    # smtp-sink offers no SMTPUTF8: a UTF-8 address is refused before MAIL
    code, out, err = send(sink.server(), ["--from", "a@example.org", "--to",
                                          "j\u00fcrgen@example.net"], b"x\n")
    check(code == 69 and "SMTPUTF8" in err and "message: not sent" in out,
          "UTF-8 address without SMTPUTF8: exit 69 (%d %s)" % (code, err.strip()))
    check(sink.dumps() == [], "UTF-8 address without SMTPUTF8: nothing sent")
    code, out, err = send(sink.server(), ["--auth", "u:p", "--from", "a@example.org", "--to",
                                          "b@example.net"], b"x\n")
    check(code in (64, 69), "--auth without TLS is refused (got %d)" % code)
finally:
    sink.stop()

# 7. server refusals: exit codes and output (smtp-sink -r: 4xx, -f: 5xx, -Q: 421)
for opts, args, want_code, want_out, what in [
    (["-r", "RCPT"], [], 75, "<b@example.net>: 450 4.3.0", "RCPT 4xx -> 75"),
    (["-f", "RCPT"], [], 69, "<b@example.net>: 500 5.3.0", "RCPT 5xx -> 69"),
    (["-f", "MAIL"], [], 69, "from <a@example.org>: 500", "MAIL 5xx -> 69"),
    (["-r", "."], [], 75, "message: 450", "end of data 4xx -> 75"),
    (["-f", "."], [], 69, "message: 500", "end of data 5xx -> 69"),
    (["-f", "DATA"], [], 69, "message: 500", "DATA 5xx -> 69"),
    (["-Q", "MAIL"], [], 75, "message: not sent", "421 at MAIL -> 75"),
    (["-f", "CONNECT"], [], 69, "message: not sent", "greeting 5xx -> 69"),
    (["-r", "CONNECT"], [], 75, "message: not sent", "greeting 4xx -> 75"),
    (["-f", "EHLO"], [], 0, "message: 250", "EHLO refused: HELO fallback"),
    (["-p"], ["--no-pipelining"], 0, "message: 250", "lock-step"),
]:
    s = SmtpSink(work, opts)
    try:
        code, out, err = send(s.server(), ["--from", "a@example.org", "--to", "b@example.net"]
                              + args, b"Subject: x\n\nhello\n")
        check(code == want_code and want_out in out,
              "%s (exit %d, %r %r)" % (what, code, out, err.strip()))
    finally:
        s.stop()

# 8. connection refused -> 75
port = free_port()
code, out, err = run([SEND, "--server", "127.0.0.1:%d" % port, "--from", "a@example.org",
                      "--to", "b@example.net"], b"x\n")
check(code == 75 and "Connection refused" in err, "connection refused: exit 75 (%s)" % err.strip())

# 9. IPv6 and LMTP
s = SmtpSink(work, [], family=socket.AF_INET6)
try:
    code, out, err = send(s.server(), ["--from", "a@example.org", "--to", "b@example.net"],
                          msg)
    check(code == 0, "IPv6 [::1]:port: exit 0 (%s)" % err.strip())
    d = s.dumps(1)
    if check(len(d) == 1, "IPv6: dumped"):
        check(d[0][0].get("X-Client-Addr") == ["ipv6:::1"] and d[0][1] == lf_form(msg),
              "IPv6: from ::1, byte-exact")
finally:
    s.stop()
s = SmtpSink(work, ["-L"])
try:
    code, out, err = send(s.server(), ["--lmtp", "--from", "a@example.org", "--to",
                                       "b@example.net", "--to", "c@example.net"], msg)
    check(code == 0 and out.count(": 250") == 3, "LMTP: accepted (%r %s)" % (out, err.strip()))
    d = s.dumps(1)
    if check(len(d) == 1, "LMTP: dumped"):
        check(d[0][0].get("X-Client-Proto") == ["LMTP"] and d[0][1] == lf_form(msg),
              "LMTP: proto LMTP, byte-exact")
finally:
    s.stop()

finish()
