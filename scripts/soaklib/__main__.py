"""scripts/soak: drive a real server running CGIDirectory with a mix of
good and hostile requests, then check that it is back to its baseline.

For each server: start it on 127.0.0.1 serving a copy of soaklib/cgi-bin,
warm it up (every kind of request, and enough concurrent slow ones to bring
every worker thread to life), take the baseline, send the requests, let it
settle, and compare.  Fails (exit 1) when any answer was wrong, not every
request was sent within --seconds, the server logged a traceback, its open
fds, threads or child processes differ from the baseline, a process of the
run is still alive anywhere, or its RSS grew by --max-rss-growth KiB or more.
"""

import argparse
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time

from . import load, procfs
from .servers import COMMANDS, FcgiServer, Server

HERE = os.path.dirname(os.path.abspath(__file__))
# glibc's malloc keeps freed memory in one arena per thread (up to 8 per
# core) and raises its mmap threshold, and so its trim threshold, up to
# 32 MiB whenever a big block is freed: the RSS of a threaded server then
# climbs for thousands of requests to a plateau that says nothing of leaks.
# Two arenas and a fixed threshold make RSS follow live memory.
MALLOC_ENV = {
    "steady": {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072"},
    "default": {},
}
GROUPS = {
    "both": ["waitress", "gunicorn"],
    "all": ["waitress", "gunicorn", "gunicorn-sync", "fcgi"],
}
# The manual run's defaults: (requests, seconds) per server; FastCGI's is the long one (issue 10).
DEFAULTS = {"fcgi": (100000, 3600.0)}
DEFAULT = (10000, 900.0)


def parse(argv):
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=None,
        metavar="N",
        help="requests per server (10000; fcgi: 100000)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, metavar="C", help="client threads (16)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        metavar="T",
        help="time budget for the requests, per server (900; fcgi: 3600)",
    )
    parser.add_argument(
        "--server",
        default="both",
        choices=[*sorted(COMMANDS), "fcgi", *sorted(GROUPS)],
        help="waitress, gunicorn (gthread), gunicorn-sync, fcgi (nginx → wsgicgi fcgi --threads N), "
        "both (waitress and gunicorn) or all",
    )
    parser.add_argument("--threads", type=int, default=16, help="server worker threads (16)")
    parser.add_argument(
        "--cgi-timeout",
        type=float,
        default=1.0,
        metavar="S",
        help="CGIDirectory timeout: the slow scripts' 504 (1.0)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=500,
        metavar="N",
        help="warm-up requests before the baseline (500)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=20.0,
        metavar="S",
        help="seconds allowed to get back to the baseline (20)",
    )
    parser.add_argument(
        "--max-rss-growth",
        type=int,
        default=5120,
        metavar="KIB",
        help="RSS growth that fails, KiB (5120)",
    )
    parser.add_argument(
        "--malloc",
        choices=("steady", "default"),
        default="steady",
        help="steady (default): the server runs with MALLOC_ARENA_MAX=2 and a fixed MALLOC_MMAP_THRESHOLD_ "
        "(glibc's 128 KiB default, made static), so its RSS follows live memory; default: glibc as is, "
        "whose per-thread arenas and self-raising mmap threshold keep freed buffers and grow RSS to a "
        "plateau only after thousands of requests (then use a long --warmup)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--app", default="soaklib.app:app", help=argparse.SUPPRESS
    )  # the soak's own tests
    args = parser.parse_args(argv)
    for name in ("requests", "concurrency", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error("--%s must be at least 1" % name)
    return args


def stage_scripts(top):
    """A private copy of the soak's CGI scripts, executable whatever git kept."""
    root = os.path.join(top, "cgi-bin")
    os.makedirs(root)
    for name in sorted(os.listdir(os.path.join(HERE, "cgi-bin"))):
        target = os.path.join(root, name)
        shutil.copyfile(os.path.join(HERE, "cgi-bin", name), target)
        os.chmod(target, 0o755)
    return root


def stable_snapshot(pids, tag, seconds, want=None):
    """Poll until two snapshots 0.5 s apart agree (and match ``want`` if
    given) with no CGI process of the run left; return the last one and
    whether it settled."""
    deadline = time.monotonic() + seconds
    previous = None
    while True:
        snap = procfs.Snapshot(pids)
        strays = procfs.tagged(tag)
        settled = not strays and previous is not None and snap.same_as(previous)
        if want is not None:
            settled = settled and snap.same_as(want)
        if settled or time.monotonic() > deadline:
            return snap, strays, settled
        previous = snap
        time.sleep(0.5)


class Trend(threading.Thread):
    """Samples the server tree's RSS once a second while the requests run."""

    def __init__(self, pids, results):
        super().__init__(daemon=True)
        self.pids = pids
        self.results = results
        self.samples = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.wait(1.0):
            try:
                rss = sum(procfs.status_field(pid, "VmRSS") for pid in self.pids)
            except (OSError, KeyError):
                return
            self.samples.append((self.results.done(), rss))

    def stop(self):
        self.stopping.set()
        self.join(5)

    def summary(self, points=10):
        if not self.samples:
            return "-"
        step = max(1, len(self.samples) // points)
        picked = self.samples[::step]
        if picked[-1] != self.samples[-1]:
            picked.append(self.samples[-1])
        return ", ".join("%d: %d" % sample for sample in picked)


def kill_strays(tag):
    """SIGKILL whatever process of this run is left (only ever ours: they
    carry the run's tag in their environment)."""
    for pid in procfs.tagged(tag):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def server_log_summary(text):
    lines = text.splitlines()
    tracebacks = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    summary = "server log: %d lines, %d from wsgicgi or the scripts, %d tracebacks" % (
        len(lines),
        sum(1 for line in lines if line.startswith("wsgicgi: ") or ".sh: " in line),
        len(tracebacks),
    )
    first = "\n".join(lines[max(0, tracebacks[0] - 2) : tracebacks[0] + 25]) if tracebacks else ""
    return summary, len(tracebacks), first


def report_figures(base, after, strays, limit):
    b, a = base.totals(), after.totals()
    print("  %-16s %10s %10s %8s" % ("", "baseline", "after", "delta"))
    for key in ("fds", "threads", "children", "rss_kib"):
        note = "  (fails at >= +%d)" % limit if key == "rss_kib" else ""
        print("  %-16s %10d %10d %+8d%s" % (key, b[key], a[key], a[key] - b[key], note))
    print("  %-16s %10s %10d" % ("stray processes", "-", len(strays)))
    if len(base.pids) > 1:
        for pid in base.pids:
            print(
                "    pid %d: fds %d -> %d, threads %d -> %d, children %s -> %s, rss %d -> %d KiB"
                % (
                    pid,
                    len(base.fds[pid]),
                    len(after.fds[pid]),
                    base.threads[pid],
                    after.threads[pid],
                    base.children[pid],
                    after.children[pid],
                    base.rss[pid],
                    after.rss[pid],
                )
            )
    for pid in base.pids:
        extra = sorted(set(after.fds[pid].items()) - set(base.fds[pid].items()))
        if extra:
            print(
                "    pid %d new fds: %s" % (pid, ", ".join("%d->%s" % item for item in extra[:20]))
            )


def soak(kind, args, root, top):
    """One server's soak; returns the list of failures (empty: passed)."""
    requests, seconds = DEFAULTS.get(kind, DEFAULT)
    args = argparse.Namespace(**vars(args))
    args.requests = args.requests or requests
    args.seconds = args.seconds or seconds
    tag = "soak-%d-%s" % (os.getpid(), secrets.token_hex(6))
    entry = ("SOAK_CHILD=" + tag).encode()
    log_path = os.path.join(top, "%s.log" % kind)
    failures = []
    print(
        "== %s: %d requests from %d client threads, %d server threads, CGI timeout %g s, malloc %s %s"
        % (
            kind,
            args.requests,
            args.concurrency,
            args.threads,
            args.cgi_timeout,
            args.malloc,
            " ".join("%s=%s" % item for item in MALLOC_ENV[args.malloc].items()),
        ),
        flush=True,
    )
    server = (FcgiServer if kind == "fcgi" else Server)(
        kind,
        sys.executable,
        root,
        args.cgi_timeout,
        tag,
        args.threads,
        log_path,
        MALLOC_ENV[args.malloc],
        args.app,
    )
    try:
        server.wait_listening()
        started = time.monotonic()
        burst = max(args.threads, 4) * 2
        front = "nginx" if kind == "fcgi" else None
        warm = load.drive(server.port, ["nap"] * burst * 2, burst, 120, front=front)
        warm_mix = load.drive(
            server.port, load.plan(args.warmup, args.seed + 1), args.concurrency, 300, front=front
        )
        if warm.wrong_total() or warm_mix.wrong_total():
            failures.append(
                "wrong answers during the warm-up: %s" % (warm.examples + warm_mix.examples)[:5]
            )
        pids = [server.pid] + (procfs.children(server.pid) if kind.startswith("gunicorn") else [])
        base, strays, settled = stable_snapshot(pids, entry, args.settle)
        if not settled:
            failures.append("no stable baseline after the warm-up (stray processes %s)" % strays)
        print(
            "warm-up: %d requests in %.1f s; baseline taken (pids %s)"
            % (warm.done() + warm_mix.done(), time.monotonic() - started, pids),
            flush=True,
        )

        names = load.plan(args.requests, args.seed)
        results = load.Results()
        trend = Trend(pids, results)
        trend.start()
        try:
            load.drive(
                server.port, names, args.concurrency, args.seconds, results=results, front=front
            )
        finally:
            trend.stop()
        done = results.done()
        print(
            "requests: %d of %d in %.1f s (%.0f/s), %d wrong, %d keep-alive retries"
            % (
                done,
                len(names),
                results.elapsed,
                done / max(results.elapsed, 1e-9),
                results.wrong_total(),
                results.retries,
            )
        )
        print("rss during the run (requests done: KiB): %s" % trend.summary())
        print("  %-13s %6s %6s %8s" % ("kind", "count", "wrong", "slowest"))
        for name in load.KINDS:
            if results.count[name]:
                print(
                    "  %-13s %6d %6d %7.2fs"
                    % (name, results.count[name], results.wrong[name], results.slowest[name])
                )
        for example in results.examples:
            print("  wrong: %s" % example)
        if done < len(names):
            failures.append(
                "only %d of %d requests sent within %g s" % (done, len(names), args.seconds)
            )
        if results.wrong_total():
            failures.append("%d wrong answers" % results.wrong_total())

        after, strays, settled = stable_snapshot(pids, entry, args.settle, want=base)
        report_figures(base, after, strays, args.max_rss_growth)
        if not settled:
            failures.append(
                "fds, threads or children not back to the baseline within %g s" % args.settle
            )
        if strays:
            failures.append("%d processes of the run still alive: %s" % (len(strays), strays[:10]))
        growth = after.totals()["rss_kib"] - base.totals()["rss_kib"]
        if growth >= args.max_rss_growth:
            failures.append("RSS grew by %d KiB" % growth)
        if server.process.poll() is not None:
            failures.append("the server exited (%s)" % server.process.returncode)
    except Exception as exc:
        failures.append("soak aborted: %s: %s" % (type(exc).__name__, exc))
    finally:
        server.stop()
        kill_strays(entry)
    summary, tracebacks, first = server_log_summary(server.log())
    print(summary)
    if tracebacks:
        failures.append("%d tracebacks in the server log" % tracebacks)
        print(first)
    print("%s: %s" % (kind, "PASS" if not failures else "FAIL: " + "; ".join(failures)), flush=True)
    return failures


def _terminate(signum, frame):
    # SIGTERM (a CI timeout) ends the run through the finally blocks, which
    # stop the server and kill what is left of the run's scripts.
    raise KeyboardInterrupt("signal %d" % signum)


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    kinds = GROUPS.get(args.server, [args.server])
    if "fcgi" in kinds:
        from harness import nginx

        if not nginx.available():
            print(
                "scripts/soak: nginx is not installed here (apt-get install nginx)", file=sys.stderr
            )
            return 2
    for module in sorted({COMMANDS[k][1] for k in kinds if k in COMMANDS}):
        try:
            __import__(module)
        except ImportError:
            print(
                "scripts/soak: %s is not installed here (pip install -e '.[test]')" % module,
                file=sys.stderr,
            )
            return 2
    top = tempfile.mkdtemp(prefix="wsgicgi-soak-", dir="/tmp")
    failed = []
    try:
        root = stage_scripts(top)
        for kind in kinds:
            if soak(kind, args, root, top):
                failed.append(kind)
    finally:
        if failed:
            print("server logs kept in %s" % top)
        else:
            shutil.rmtree(top, ignore_errors=True)
    print("soak: %s" % ("PASS" if not failed else "FAIL (%s)" % ", ".join(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
