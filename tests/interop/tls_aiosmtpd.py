#!/usr/bin/env python3
"""An aiosmtpd server with TLS and AUTH for the smtpkit-send interop tests.

  tls_aiosmtpd.py PORT CERT KEY OUTDIR [--implicit] [--users u:p,u2:p2]

STARTTLS (or implicit TLS with --implicit), TLS required, AUTH required, with
PLAIN and LOGIN (aiosmtpd's own) plus CRAM-MD5 and XOAUTH2 (here). Each message
is written to OUTDIR/N.eml, with OUTDIR/N.info holding "mech user tls".
Prints "ready" once listening.
"""
import base64
import hmac
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, outdir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
implicit = "--implicit" in sys.argv
users = {"tim": "tanstaaftanstaaf", "alice": "s3cret"}
if "--users" in sys.argv:
    users = dict(u.split(":", 1) for u in sys.argv[sys.argv.index("--users") + 1].split(","))
TOKEN = "ya29.test-token"


def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword):
        user, pw = auth_data.login.decode(), auth_data.password.decode()
        if users.get(user) == pw:
            session.smtpkit_mech = mechanism
            return AuthResult(success=True, auth_data=auth_data)
    return AuthResult(success=False, handled=False)


class Handler:
    count = 0

    async def auth_CRAM__MD5(self, server, args):
        # RFC 2195: challenge, then "user hexdigest"
        chal = ("<%d.%d@localhost>" % (os.getpid(), time.time_ns())).encode()
        resp = await server.challenge_auth(chal)
        if not isinstance(resp, bytes):
            return AuthResult(success=False, handled=True)
        user, _, digest = resp.decode(errors="replace").rpartition(" ")
        pw = users.get(user)
        if pw and hmac.compare_digest(hmac.new(pw.encode(), chal, "md5").hexdigest(), digest):
            server.session.smtpkit_mech = "CRAM-MD5"
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        return AuthResult(success=False)

    async def auth_XOAUTH2(self, server, args):
        raw = base64.b64decode(args[1]) if len(args) > 1 else await server.challenge_auth("")
        if not isinstance(raw, bytes):
            return AuthResult(success=False, handled=True)
        parts = dict(p.split("=", 1) for p in raw.decode().split("\x01") if "=" in p)
        if parts.get("auth") == "Bearer " + TOKEN and parts.get("user") in users:
            server.session.smtpkit_mech = "XOAUTH2"
            return AuthResult(success=True, auth_data=LoginPassword(parts["user"].encode(), b""))
        return AuthResult(success=False)

    async def handle_DATA(self, server, session, envelope):
        Handler.count += 1
        base = os.path.join(outdir, str(Handler.count))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".info", "w") as f:
            login = session.login_data.decode() if isinstance(session.login_data, bytes) else session.login_data
            f.write("%s %s %s\n" % (getattr(session, "smtpkit_mech", "?"), login,
                                    "tls" if (session.ssl or implicit) else "clear"))
        return "250 2.0.0 OK"


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
kw = dict(hostname="127.0.0.1", port=port, authenticator=authenticator, auth_required=True,
          auth_require_tls=True)
if implicit:
    # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; here the
    # whole connection is TLS, so AUTH is safe from the first command
    kw.update(ssl_context=ctx, auth_require_tls=False)
else:
    kw.update(tls_context=ctx, require_starttls=True)
controller = Controller(Handler(), **kw)
controller.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(1)
except KeyboardInterrupt:
    pass
finally:
    controller.stop()
