#!/usr/bin/python3
"""Receiving: Postfix smtp-source drives smtpkit-recv and the peers in turn.

1. Sink mode: smtpkit-recv --sink against Postfix smtp-sink (both accept and
   discard), alternating A B A B for N rounds, at
     - 1 connection carrying every message (smtp-source -s 1 -d),
     - 1 connection at a time, a new one per message (-s 1),
     - 50 connections, a new connection per message (-s 50),
     - 50 connections carrying many messages each (-s 50 -d),
   with 10 KiB messages, and 1 and 50 reused connections with 1 MiB ones;
   then 50 reused connections driven by bench_load, lock-step (-P, the
   conversation smtp-source has, from a generator that costs less CPU) and
   pipelined, so that the server rather than the generator is the limit.
   bench_floor (canned replies and a memmem for the end of data, nothing
   else) runs alongside as the floor a real server can approach.
2. Maildir on tmpfs: smtpkit-recv --maildir against an aiosmtpd handler that
   writes the same Maildir the same way (tmp/, fsync, rename to new/, fsync
   new/), 50 and 1 reused connections, 10 KiB; the delivered files are
   counted.

For each: messages/s (smtp-source's wall time) and the server's CPU time
per message (its threads' schedstat run time before and after), as median
(min-max) over the rounds, and our/peer ratios paired round by round.

    tests/bench/bench_recv.py [--build /tmp/build-perf] [--quick] [--rounds N]
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

KIB10 = 10240
MIB = 1024 * 1024


def recv_argv(binary, mode):
    def argv(port):
        return [binary, "--listen", "127.0.0.1:%d" % port, "--quiet", "--max-sessions", "6000",
                "--hostname", "bench.localhost"] + mode
    return argv


def sink_scenarios(quick):
    k = 0.3 if quick else 1.0
    # name, sessions, reuse, size, messages[, generator]
    return [
        ("1 conn, reused, 10 KiB", 1, True, KIB10, int(1500 * k)),
        ("1 conn, new per msg, 10 KiB", 1, False, KIB10, int(400 * k)),
        ("50 conns, new per msg, 10 KiB", 50, False, KIB10, int(1500 * k)),
        ("50 conns, reused, 10 KiB", 50, True, KIB10, int(6000 * k)),
        ("1 conn, reused, 1 MiB", 1, True, MIB, int(80 * k)),
        ("50 conns, reused, 1 MiB", 50, True, MIB, int(200 * k)),
        # The same lock-step conversation from a cheaper generator, and the
        # same pipelined: the server, not the generator, is the bottleneck.
        ("50 conns, reused, 10 KiB, bench_load -P", 50, True, KIB10, int(8000 * k), "load-P"),
        ("50 conns, reused, 10 KiB, bench_load", 50, True, KIB10, int(10000 * k), "load"),
    ]


LOAD = None  # bench_load, set in main()


def measure(server, scenario):
    name, sessions, reuse, size, msgs = scenario[:5]
    gen = scenario[5] if len(scenario) > 5 else "smtp-source"
    if gen == "smtp-source":
        argv = B.smtp_source_argv(server.port, sessions, msgs, size, reuse)
    else:
        argv = [LOAD, "-q", "-c", str(sessions), "-m", str(msgs), "-l", str(size),
                "-r", "0" if reuse else "1"] + (["-P"] if gen == "load-P" else []) + [
                    "127.0.0.1:%d" % server.port]
    c0 = server.cpu_s()
    wall, gen_cpu, _ = B.run_load(argv)
    c1 = server.cpu_s()
    if not server.alive():
        sys.exit("%s died during %s" % (server.name, name))
    return msgs / wall, (c1 - c0) * 1e6 / msgs, 100.0 * gen_cpu / wall


def report(title, scenarios, stats, names, peer):
    print()
    print(title)
    rows = []
    for sc in scenarios:
        name = sc[0]
        rb, cb = stats.get((name, peer, "rate")), stats.get((name, peer, "cpu"))
        for srv in names:
            ra, ca = stats.get((name, srv, "rate")), stats.get((name, srv, "cpu"))
            rows.append([name, srv, B.fmt_range(ra), "%.2fx (%.2f-%.2f)" % B.paired_ratio(ra, rb),
                         B.fmt_range(ca), "%.2fx (%.2f-%.2f)" % B.paired_ratio(ca, cb),
                         "%.0f%%" % B.med(stats.get((name, srv, "gen")))])
    B.table(rows, ["scenario", "server", "msg/s", "vs " + peer, "server CPU us/msg",
                   "vs " + peer, "generator CPU"])
    print("(generator CPU: the load generator's CPU time over the wall time, on its own core;")
    print(" near 100% the generator, not the server, sets the rate)")


def main():
    p = B.common_args(__doc__.split("\n")[0])
    p.add_argument("--only", choices=["sink", "maildir"], help="run one part")
    p.add_argument("--no-floor", action="store_true",
                   help="leave out bench_floor (a canned-reply responder: the floor)")
    p.add_argument("--compare", metavar="SMTPKIT_RECV",
                   help="another smtpkit-recv binary (an older build) to run alongside in sink "
                        "mode, as 'before': an A/B of a change")
    p.add_argument("--scenarios", metavar="SUBSTRING",
                   help="sink mode: only the scenarios whose name contains this")
    args = p.parse_args()
    B.setup(args)
    recv = B.tool(args, "bin", "smtpkit-recv")
    B.need(B.SMTP_SOURCE)
    global LOAD
    LOAD = B.tool(args, "bench", "bench_load")

    if args.only in (None, "sink"):
        scen = sink_scenarios(args.quick)
        stats = B.Stats()
        if args.scenarios:
            scen = [x for x in scen if args.scenarios in x[0]]
        servers = [B.Server("smtpkit-recv", recv_argv(recv, ["--sink"])),
                   B.Server("smtp-sink", B.smtp_sink_argv(["-m", "6000"]))]
        if args.compare:
            servers.append(B.Server("before", recv_argv(B.need(args.compare), ["--sink"])))
        floor = os.path.join(args.build, "bench", "bench_floor")
        if not args.no_floor and os.access(floor, os.X_OK):
            servers.append(B.Server("floor", lambda port: [floor, "127.0.0.1:%d" % port]))
        print("sink: %s, %d rounds" % (", ".join("%s (pid %d)" % (x.name, x.pid) for x in servers),
                                      args.rounds))
        try:
            for sc in scen:  # warm-up: one short run each, not counted
                for srv in servers:
                    measure(srv, sc[:4] + (max(sc[1], sc[4] // 20),) + sc[5:])
            for rnd in range(args.rounds):
                for sc in scen:
                    for srv in servers:
                        rate, cpu, gen = measure(srv, sc)
                        stats.add((sc[0], srv.name, "rate"), rate)
                        stats.add((sc[0], srv.name, "cpu"), cpu)
                        stats.add((sc[0], srv.name, "gen"), gen)
                print("  round %d done" % (rnd + 1), flush=True)
        finally:
            for srv in servers:
                srv.stop()
        report("Receiving, sink mode (smtp-source -> server; median (min-max) of %d rounds; "
               "ratios paired per round)" % args.rounds, scen, stats,
               [x.name for x in servers], "smtp-sink")

    if args.only in (None, "maildir"):
        md_root = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        work = tempfile.mkdtemp(prefix="smtpkit-bench-", dir=md_root)
        k = 0.4 if args.quick else 1.0
        scen = [("50 conns, reused, 10 KiB", 50, True, KIB10, int(3000 * k)),
                ("1 conn, reused, 10 KiB", 1, True, KIB10, int(600 * k))]
        stats = B.Stats()
        try:
            da, db = os.path.join(work, "smtpkit"), os.path.join(work, "aiosmtpd")
            a = B.Server("smtpkit-recv", recv_argv(recv, ["--maildir", da]))
            b = B.Server("aiosmtpd", lambda port: [
                B.need(B.SYS_PYTHON), os.path.join(B.HERE, "aiosmtpd_maildir.py"),
                "127.0.0.1", str(port), db])
            print()
            print("maildir on %s: smtpkit-recv --maildir (pid %d) vs aiosmtpd handler (pid %d)" %
                  (md_root, a.pid, b.pid))
            try:
                for rnd in range(args.rounds):
                    for sc in scen:
                        for srv, d in ((a, da), (b, db)):
                            newdir = os.path.join(d, "new")
                            for n in os.listdir(newdir):
                                os.unlink(os.path.join(newdir, n))
                            rate, cpu, gen = measure(srv, sc)
                            got = len(os.listdir(newdir))
                            if got != sc[4]:
                                sys.exit("%s delivered %d of %d messages" % (srv.name, got, sc[4]))
                            stats.add((sc[0], srv.name, "rate"), rate)
                            stats.add((sc[0], srv.name, "cpu"), cpu)
                            stats.add((sc[0], srv.name, "gen"), gen)
                    print("  round %d done" % (rnd + 1), flush=True)
            finally:
                a.stop()
                b.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        report("Receiving into a Maildir on tmpfs (every message counted in new/)", scen, stats,
               ["smtpkit-recv", "aiosmtpd"], "aiosmtpd")


if __name__ == "__main__":
    main()
