#!/usr/bin/python3
"""The peer of `smtpkit-recv --maildir` in bench_recv.py: an aiosmtpd server
whose handler stores each message the way smtpkit-recv does -- a Received:
line and the message into DIR/tmp/NAME, fsync, rename to DIR/new/NAME,
fsync DIR/new -- before it answers 250.

    /usr/bin/python3 aiosmtpd_maildir.py HOST PORT DIR

Needs Debian's python3-aiosmtpd (hence /usr/bin/python3). Stops on SIGTERM."""
import asyncio
import os
import signal
import socket
import sys
import time

from aiosmtpd.smtp import SMTP


class MaildirHandler:
    def __init__(self, path):
        self.path = path
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        self.newdir = os.open(os.path.join(path, "new"), os.O_RDONLY | os.O_DIRECTORY)
        self.serial = 0
        self.host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")

    async def handle_DATA(self, server, session, envelope):
        self.serial += 1
        now = time.time()
        name = "%d.M%06dP%dQ%d.%s" % (int(now), int((now % 1) * 1e6), os.getpid(), self.serial,
                                      self.host)
        tmp = os.path.join(self.path, "tmp", name)
        received = ("Received: from %s (%s) by %s with ESMTP id %s; %s\r\n" % (
            session.host_name, session.peer[0], self.host, name,
            time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(now)))).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, received)
            data = envelope.original_content or envelope.content
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(self.path, "new", name))
        os.fsync(self.newdir)
        return "250 2.0.0 Ok: queued as " + name


def main():
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    handler = MaildirHandler(path)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, decode_data=False, hostname="bench.localhost"), host, port,
        backlog=1024))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
