#!/usr/bin/python3
"""Sending: load generators against Postfix smtp-sink, alternating round by
round in the same run.

1. Sessions: bench_load (smtpkit's client session over POSIX sockets,
   PIPELINING when offered) vs Postfix smtp-source vs Python smtplib
   (threads), at 1 and at 20 connections carrying every message, 10 KiB
   messages. Messages/s (wall time of the generator) and the generator's
   CPU per message (getrusage of the child).
2. One-shot: a new process per message -- smtpkit-send vs curl smtp://
   (and /bin/true for the cost of starting a process) -- wall and CPU
   milliseconds per message.

    tests/bench/bench_send.py [--build /tmp/build-perf] [--quick] [--rounds N]
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

KIB10 = 10240


def sessions_part(args, sink):
    load = B.tool(args, "bench", "bench_load")
    k = 0.3 if args.quick else 1.0
    scen = [("1 connection", 1, int(1500 * k)), ("20 connections", 20, int(6000 * k))]
    gens = {
        "bench_load": lambda n, m: [load, "-q", "-c", str(n), "-m", str(m), "-l", str(KIB10),
                                    "127.0.0.1:%d" % sink.port],
        "smtp-source": lambda n, m: B.smtp_source_argv(sink.port, n, m, KIB10, True),
        "smtplib": lambda n, m: [B.need(B.SYS_PYTHON), os.path.join(B.HERE, "smtplib_load.py"),
                                 "127.0.0.1", str(sink.port), str(n), str(m // 4), str(KIB10)],
    }
    # smtplib is slow: it sends a quarter of the messages (rates are per message).
    share = {"bench_load": 1, "smtp-source": 1, "smtplib": 4}
    stats = B.Stats()
    for sc in scen:  # warm-up
        for name, argv in gens.items():
            B.run_load(argv(sc[1], max(sc[1] * share[name], sc[2] // 20)))
    for rnd in range(args.rounds):
        for name_sc, n, m in scen:
            for name, argv in gens.items():
                msgs = m // share[name]
                c0 = sink.cpu_s()
                wall, cpu, _ = B.run_load(argv(n, m))
                c1 = sink.cpu_s()
                stats.add((name_sc, name, "rate"), msgs / wall)
                stats.add((name_sc, name, "cpu"), cpu * 1e6 / msgs)
                stats.add((name_sc, name, "srv"), (c1 - c0) * 1e6 / msgs)
        print("  round %d done" % (rnd + 1), flush=True)
    print()
    print("Sending to smtp-sink, 10 KiB messages, every connection reused "
          "(median (min-max) of %d rounds)" % args.rounds)
    rows = []
    for name_sc, n, m in scen:
        ref = stats.get((name_sc, "smtp-source", "rate"))
        for name in gens:
            r = stats.get((name_sc, name, "rate"))
            rr = B.paired_ratio(r, ref)
            rows.append([name_sc, name, B.fmt_range(r), "%.2fx (%.2f-%.2f)" % rr,
                         B.fmt_range(stats.get((name_sc, name, "cpu"))),
                         B.fmt_range(stats.get((name_sc, name, "srv")))])
    B.table(rows, ["connections", "generator", "msg/s", "vs smtp-source", "generator CPU us/msg",
                   "smtp-sink CPU us/msg"])


def oneshot_part(args, sink, msgfile):
    send = B.tool(args, "bin", "smtpkit-send")
    curl = B.need("/usr/bin/curl", "curl")
    true = B.need("/bin/true")
    n = 15 if args.quick else 40
    dest = "127.0.0.1:%d" % sink.port
    variants = {
        "/bin/true": [true],
        "smtpkit-send": [send, "--server", dest, "--from", "bench@localhost", "--to",
                         "rcpt@localhost", msgfile],
        "curl smtp://": [curl, "-s", "-S", "--url", "smtp://%s/localhost" % dest, "--mail-from",
                         "bench@localhost", "--mail-rcpt", "rcpt@localhost", "-T", msgfile],
    }
    stats = B.Stats()
    for rnd in range(args.rounds):
        for name, argv in variants.items():
            wall = cpu = 0.0
            for _ in range(n):
                w, c, _ = B.run_load(argv)
                wall += w
                cpu += c
            stats.add((name, "wall"), wall * 1e3 / n)
            stats.add((name, "cpu"), cpu * 1e3 / n)
        print("  round %d done" % (rnd + 1), flush=True)
    print()
    print("One process per message (10 KiB) to smtp-sink, %d per round, median (min-max) of %d "
          "rounds" % (n, args.rounds))
    rows = []
    cw, cc = stats.get(("curl smtp://", "wall")), stats.get(("curl smtp://", "cpu"))
    for name in variants:
        w, c = stats.get((name, "wall")), stats.get((name, "cpu"))
        rows.append([name, B.fmt_range(w), B.fmt_range(c),
                     "%.2fx" % B.paired_ratio(cw, w)[0], "%.2fx" % B.paired_ratio(cc, c)[0]])
    B.table(rows, ["program", "wall ms/msg", "CPU ms/msg", "curl/it wall", "curl/it CPU"])


def main():
    p = B.common_args(__doc__.split("\n")[0])
    p.add_argument("--only", choices=["sessions", "oneshot"], help="run one part")
    args = p.parse_args()
    B.setup(args)
    sink = B.Server("smtp-sink", B.smtp_sink_argv(["-m", "1000"]))
    fd, msgfile = tempfile.mkstemp(prefix="smtpkit-bench-", suffix=".eml")
    with os.fdopen(fd, "wb") as f:
        f.write(b"From: <bench@localhost>\r\nTo: <rcpt@localhost>\r\nSubject: one-shot\r\n\r\n")
        line = bytes(ord("a") + i % 26 for i in range(78)) + b"\r\n"
        f.write(line * (KIB10 // 80))
    try:
        print("server: smtp-sink (pid %d)" % sink.pid)
        if args.only in (None, "sessions"):
            sessions_part(args, sink)
        if args.only in (None, "oneshot"):
            oneshot_part(args, sink, msgfile)
    finally:
        sink.stop()
        os.unlink(msgfile)


if __name__ == "__main__":
    main()
