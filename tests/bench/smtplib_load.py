#!/usr/bin/python3
"""Python smtplib as a load generator (a peer of bench_load in
bench_send.py): CONNECTIONS threads, each with one SMTP connection, send
MESSAGES messages of SIZE payload bytes in all, then QUIT.

    smtplib_load.py HOST PORT CONNECTIONS MESSAGES SIZE

smtplib speaks lock-step (no PIPELINING). Exit 0 when every message was
accepted."""
import smtplib
import sys
import threading


def body(size):
    hdr = (b"From: <bench@localhost>\r\nTo: <rcpt@localhost>\r\n"
           b"Subject: smtpkit bench smtplib\r\nMessage-ID: <bench.smtplib@localhost>\r\n\r\n")
    line = bytes(ord("a") + i % 26 for i in range(78)) + b"\r\n"
    payload = (line * (size // 80 + 1))[:size]
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    return hdr + payload


def main():
    host, port, conns, messages, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        int(sys.argv[4]), int(sys.argv[5])
    msg = body(size)
    lock = threading.Lock()
    left = [messages]
    failed = [0]

    def worker():
        s = smtplib.SMTP(host, port, local_hostname="localhost")
        try:
            while True:
                with lock:
                    if left[0] == 0:
                        break
                    left[0] -= 1
                try:
                    s.sendmail("bench@localhost", ["rcpt@localhost"], msg)
                except smtplib.SMTPException:
                    with lock:
                        failed[0] += 1
            s.quit()
        except Exception:
            with lock:
                failed[0] += 1
            raise

    threads = [threading.Thread(target=worker) for _ in range(min(conns, messages))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sys.exit(1 if failed[0] else 0)


if __name__ == "__main__":
    main()
