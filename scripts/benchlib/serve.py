"""``scripts/bench serve``: ``wsgicgi serve`` against the job it replaces,
Python 3.11's ``python -m http.server --cgi`` (issue 4).

Both serve the same world-readable folder: a small static page and
``cgi-bin/hello.sh``.  ``wrk`` loads each from its own process with 8
connections; the two servers take turns, round-robin.
"""

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import common, host, load
from .common import log, summarize, table, verdict

HELLO = b"Hello, world!\n"
HELLO_SH = """\
#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\nHello, world!\\n'
"""
PAGE = "<!doctype html>\n<title>bench</title>\n" + "<p>wsgicgi serve bench page</p>\n" * 100
PATHS = (("static", "/page.html"), ("CGI", "/cgi-bin/hello.sh"))


def make_site():
    root = Path(tempfile.mkdtemp(prefix="wsgicgi-bench-serve-", dir="/tmp"))
    root.chmod(0o755)
    (root / "cgi-bin").mkdir(mode=0o755)
    (root / "cgi-bin" / "hello.sh").write_text(HELLO_SH)
    (root / "cgi-bin" / "hello.sh").chmod(0o755)
    (root / "page.html").write_text(PAGE)
    (root / "page.html").chmod(0o644)
    return root


def run(args):
    t_start = time.monotonic()
    info = common.machine_info()
    if not (common.ROOT / "wsgicgi" / "serve.py").exists():
        raise SystemExit(
            "bench serve: wsgicgi/serve.py (`wsgicgi serve`) does not exist yet: nothing to measure"
        )
    venv = common.bench_venv(
        args.python, host.SERVER_PACKAGES, suffix="-servers", fresh=args.fresh_venv
    )
    probe = subprocess.run(
        [venv.python, "-m", "wsgicgi", "serve", "--help"],
        env=common.clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        raise SystemExit(
            "bench serve: `wsgicgi serve --help` fails in the bench venv:\n" + probe.stderr[-1000:]
        )
    py311 = common.real_python("3.11")
    if py311 is None:
        raise SystemExit("bench serve: Python 3.11 (for `http.server --cgi`) not found")
    if not load.ensure_wrk():
        raise SystemExit("bench serve: wrk is missing and could not be installed")
    connections = args.connections or 8
    work = common.RESULTS / "work" / "serve"
    work.mkdir(parents=True, exist_ok=True)
    root = make_site()
    servers = {
        "wsgicgi serve": load.ProcessServer(
            [str(venv.bin / "wsgicgi"), "serve", "{port}", "-b", "127.0.0.1", "-d", str(root)],
            common.clean_env(),
            str(root),
            work / "wsgicgi-serve.log",
        ),
        "http.server --cgi": load.ProcessServer(
            [py311, "-m", "http.server", "--cgi", "--bind", "127.0.0.1", "{port}"],
            common.clean_env(),
            str(root),
            work / "http.server.log",
        ),
    }
    labels = {
        "wsgicgi serve": "`wsgicgi serve` (waitress, default threads), Python %s" % venv.version,
        "http.server --cgi": "`python3.11 -m http.server --cgi`",
    }
    data = {
        "machine": info,
        "python": venv.version,
        "connections": connections,
        "duration": args.duration,
        "rounds": args.rounds,
        "labels": labels,
        "results": {},
    }
    started = {}
    try:
        for name, server in servers.items():
            log("bench: starting %s" % name)
            started[name] = server.start()
            for _, path in PATHS:
                status, body = load.get(server.url(path))
                expect = HELLO if path.startswith("/cgi-bin/") else PAGE.encode()
                if status != 200 or body != expect:
                    raise SystemExit(
                        "bench: %s answered %s %r for %s" % (name, status, body[:200], path)
                    )
                load.wrk(server.url(path), connections, 1.0)  # warm-up
        samples = {}
        order = list(started)
        for r in range(args.rounds):
            k = r % len(order)
            for name in order[k:] + order[:k]:
                for tag, path in PATHS:
                    log("bench: round %d/%d %s %s" % (r + 1, args.rounds, name, tag))
                    res = load.wrk(started[name].url(path), connections, args.duration)
                    samples.setdefault(name, {}).setdefault(tag, []).append(res)
        for name, per in samples.items():
            data["results"][name] = {
                tag: {
                    "rps": summarize([x["rps"] for x in runs if x["rps"] is not None]),
                    "errors": sum(x["non2xx"] + x["socket_errors"] for x in runs),
                    "p99": summarize([x["p99"] for x in runs if x["p99"] is not None]),
                }
                for tag, runs in per.items()
            }
    finally:
        for server in started.values():
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
    common.finish_run("serve", data, t_start, report)
    return data


def report(data):
    res = data["results"]
    when = data["machine"]["date"][:10]
    state = common.run_state(data)
    lines = [
        "### `wsgicgi serve` vs `http.server --cgi` (`scripts/bench serve`, %s, %s)"
        % (when, state),
        "",
        "%s, %d cores; `wrk -t1 -c%d`, %g s × %d rounds per server and path, round-robin; requests/s median; "
        "static = a %d-byte page, CGI = `cgi-bin/hello.sh`."
        % (
            data["machine"]["cpu"],
            data["machine"]["cores"],
            data["connections"],
            data["duration"],
            data["rounds"],
            len(PAGE),
        ),
        "",
    ]
    base = res.get("http.server --cgi")
    rows = []
    for name in res:
        row = [data["labels"][name]]
        for tag, _ in PATHS:
            r = res[name][tag]
            ok = r["rps"] and base and base[tag]["rps"]
            row += [
                "%.0f" % r["rps"]["median"] if r["rps"] else "failed",
                "%.2f×" % (r["rps"]["median"] / base[tag]["rps"]["median"]) if ok else "–",
                "%.1f" % (r["p99"]["median"] * 1000) if r["p99"] else "–",
            ]
        row.append(sum(res[name][t]["errors"] for t, _ in PATHS))
        rows.append(row)
    lines.append(
        table(
            [
                "server",
                "static req/s",
                "÷ http.server",
                "static p99 ms",
                "CGI req/s",
                "÷ http.server",
                "CGI p99 ms",
                "errors",
            ],
            rows,
        )
    )
    lines += ["", "Target (issue 4):", ""]
    for text, ok in targets(data):
        lines.append("- %s %s" % (verdict(ok), text))
    return "\n".join(lines) + "\n"


def targets(data):
    res = data["results"]
    ours = res["wsgicgi serve"]["CGI"]["rps"]
    theirs = res["http.server --cgi"]["CGI"]["rps"]
    if not ours or not theirs:
        return [
            (
                "`wsgicgi serve` ≥ 3× `http.server --cgi` on CGI requests: no measurement (wrk failed)",
                False,
            )
        ]
    ours, theirs = ours["median"], theirs["median"]
    return [
        (
            "`wsgicgi serve` ≥ 3× `http.server --cgi` on CGI requests, %d connections: %.2f×"
            % (data["connections"], ours / theirs),
            ours >= 3 * theirs,
        )
    ]
