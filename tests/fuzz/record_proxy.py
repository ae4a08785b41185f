#!/usr/bin/env python3
"""Record real SMTP conversations as fuzz seeds (see tests/fuzz/README).

    record_proxy.py LISTEN_PORT TARGET_HOST:PORT OUT_DIR

Listens on 127.0.0.1:LISTEN_PORT and relays each connection to the target
(a real server: Postfix, aiosmtpd, smtpkit-recv...), while a real client
(swaks, curl, smtplib, smtp-source, smtpkit-send...) talks to it. For each
connection it writes
    OUT_DIR/server/<name>   4 option bytes (0) + everything the client sent:
                            a seed for fuzz_server and fuzz_command
    OUT_DIR/client/<name>   2 option bytes (0) + everything the server sent:
                            a seed for fuzz_client and fuzz_reply
Stop it with Ctrl-C. Minimise the seeds with -merge=1 before checking them in.
"""
import os
import socket
import sys
import threading
import time


def pump(src, dst, sink):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            sink.append(b)
            dst.sendall(b)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(conn, target, out, n):
    host, port = target.rsplit(":", 1)
    try:
        up = socket.create_connection((host.strip("[]"), int(port)))
    except OSError as e:
        print("cannot reach %s: %s" % (target, e), flush=True)
        conn.close()
        return
    c2s, s2c = [], []
    a = threading.Thread(target=pump, args=(conn, up, c2s))
    b = threading.Thread(target=pump, args=(up, conn, s2c))
    a.start()
    b.start()
    a.join()
    b.join()
    conn.close()
    up.close()
    name = "rec-%d-%d" % (int(time.time()), n)
    with open(os.path.join(out, "server", name), "wb") as f:
        f.write(b"\0\0\0\0" + b"".join(c2s))
    with open(os.path.join(out, "client", name), "wb") as f:
        f.write(b"\0\0" + b"".join(s2c))
    print("recorded %s: %d bytes from the client, %d from the server"
          % (name, sum(map(len, c2s)), sum(map(len, s2c))), flush=True)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    port, target, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    for sub in ("server", "client"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    n = 0
    while True:
        conn, _ = ls.accept()
        n += 1
        threading.Thread(target=handle, args=(conn, target, out, n), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
