"""``scripts/bench gateway|host|serve|fastcgi|all [options]``."""

import argparse
import sys


def parse(argv):
    p = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    p.add_argument("what", choices=["gateway", "host", "serve", "fastcgi", "all"])
    p.add_argument(
        "--python",
        default="3.13",
        help="Python of the bench venv (default 3.13; pyenv's real interpreter)",
    )
    p.add_argument("--fresh-venv", action="store_true", help="rebuild .venv/bench-* from scratch")
    p.add_argument("--runs", type=int, default=40, help="timed runs per case (default 40)")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds first (default 2)")
    g = p.add_argument_group("gateway")
    g.add_argument(
        "--callgrind-runs",
        type=int,
        default=1,
        help="callgrind runs per case (instruction counts; 0 = skip; default 1)",
    )
    g.add_argument(
        "--throughput-runs",
        type=int,
        default=5,
        help="runs per big-body case (0 = skip; default 5)",
    )
    g.add_argument("--size-mib", type=int, default=1024, help="response size (default 1024 MiB)")
    g.add_argument(
        "--echo-mib", type=int, default=256, help="echoed request size (default 256 MiB)"
    )
    g.add_argument(
        "--big-file",
        default="/tmp/wsgicgi-bench-big.bin",
        help="the big file (created, then removed)",
    )
    g.add_argument(
        "--keep-big-file", action="store_true", help="leave the big file for the next run"
    )
    h = p.add_argument_group("host, serve and fastcgi")
    h.add_argument(
        "--duration",
        type=float,
        default=3.0,
        help="seconds of wrk load per contender and round (default 3)",
    )
    h.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="round-robin rounds over the contenders (default 3; host and fastcgi 5)",
    )
    h.add_argument(
        "--connections",
        type=int,
        default=None,
        help="concurrent connections (default: 4 for host and fastcgi, 8 for serve)",
    )
    h.add_argument(
        "--only", default="", help="comma-separated contender names to run (default all)"
    )
    f = p.add_argument_group("fastcgi")
    f.add_argument(
        "--keep-site", action="store_true", help="leave the site folder (configs, logs) under /tmp"
    )
    args = p.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be ≥ 1")
    return args


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    todo = ["gateway", "host", "serve", "fastcgi"] if args.what == "all" else [args.what]
    rounds = args.rounds
    for what in todo:
        args.rounds = rounds or (5 if what in ("fastcgi", "host") else 3)
        if what == "gateway":
            from . import gateway

            gateway.run(args)
        elif what == "host":
            from . import host

            host.run(args)
        elif what == "fastcgi":
            from . import fastcgi

            fastcgi.run(args)
        else:
            from . import serve

            serve.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
