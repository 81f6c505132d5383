"""``scripts/bench host``: legacy CGI scripts served through WSGI (issue 3).

The same two tiny scripts (``/bin/sh`` and compiled C, both printing hello)
behind every contender, loaded by ``wrk`` from its own process on 127.0.0.1:

- wsgicgi's ``CGIDirectory`` under gunicorn (gthread and sync workers) and
  under waitress;
- Paste's ``CGIApplication`` under the same three servers, and two references
  there: a bare ``Popen`` app (no CGI) and a hello app (no script);
- Apache httpd with mod_cgi (prefork) and mod_cgid (event), a private instance
  from scripts/harness/apache.py;
- CPython 3.11's ``python -m http.server --cgi``;
- the floor: fork+exec+wait of the script alone, no HTTP.

All servers run at once and the contenders take turns (round-robin), so load
from elsewhere on the machine hits them alike.  Then a 1 GiB response streams
through each server while the RSS of its processes is sampled.
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from . import common, load
from .common import MB, log, summarize, table, verdict
from .gateway import _size

HELLO = b"Hello, world!\n"
HELLO_SH = """\
#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\nHello, world!\\n'
"""
BIG_SH = """\
#!/bin/sh
printf 'Content-Type: application/octet-stream\\r\\nContent-Length: {size}\\r\\n\\r\\n'
exec /bin/cat {path}
"""

APPS = '''\
"""The WSGI apps of scripts/bench host: a cgi-bin folder mounted at /cgi-bin/."""

CGI_DIR = {cgi!r}


def _not_found(start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\\n"]


def _mount(environ):
    # /cgi-bin/<script><rest> -> SCRIPT_NAME /cgi-bin, PATH_INFO /<script><rest>
    path = environ.get("PATH_INFO", "")
    if not path.startswith("/cgi-bin/"):
        return None
    environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + "/cgi-bin"
    environ["PATH_INFO"] = path[len("/cgi-bin"):]
    return environ


def _wsgicgi():
    from wsgicgi import CGIDirectory

    inner = CGIDirectory(CGI_DIR)

    def app(environ, start_response):
        if _mount(environ) is None:
            return _not_found(start_response)
        return inner(environ, start_response)

    return app


def _paste():
    import os

    from paste.cgiapp import CGIApplication

    scripts = {{name: CGIApplication(None, os.path.join(CGI_DIR, name), include_os_environ=False)
               for name in os.listdir(CGI_DIR)}}

    def app(environ, start_response):
        if _mount(environ) is None:
            return _not_found(start_response)
        name, _, rest = environ["PATH_INFO"][1:].partition("/")
        script = scripts.get(name)
        if script is None:
            return _not_found(start_response)
        environ["SCRIPT_NAME"] += "/" + name
        environ["PATH_INFO"] = "/" + rest if rest else ""
        return script(environ, start_response)

    return app


def _bare():
    # Reference, not a CGI implementation: the least any Python adapter built
    # on subprocess does per request (Popen, read, wait) with none of CGI's
    # rules: no meta-variables, no header parsing, no streaming, no limits.
    import os
    import subprocess

    env = {{"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET"}}

    def app(environ, start_response):
        if _mount(environ) is None:
            return _not_found(start_response)
        script = os.path.join(CGI_DIR, environ["PATH_INFO"][1:])
        proc = subprocess.Popen([script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, cwd=CGI_DIR, env=env)
        out = proc.stdout.read()
        proc.stdout.close()
        proc.wait()
        body = out.partition(b"\\r\\n\\r\\n")[2]
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def hello_app(environ, start_response):
    """Reference: HTTP alone, no script at all."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "14")])
    return [b"Hello, world!\\n"]


wsgicgi_app = _wsgicgi()
paste_app = _paste()
bare_app = _bare()
'''

# Each app of hostapps.py called in process, as a WSGI server calls it, with
# the environ gunicorn builds for wrk's GET: the adapter's own cost, with no
# server, no client and no scheduling in the count.
IN_PROCESS = """\
import io, sys
import hostapps

app = getattr(hostapps, sys.argv[1] + "_app")


written = []


def start_response(status, headers, exc_info=None):
    return written.append  # PEP 3333's write(): Paste sends the body through it


def environ():
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/cgi-bin/hello",
        "QUERY_STRING": "", "RAW_URI": "/cgi-bin/hello", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000", "HTTP_USER_AGENT": "wrk", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000",
        "SERVER_SOFTWARE": "gunicorn/23.0.0", "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }


for _ in range(int(sys.argv[2])):
    del written[:]
    result = app(environ(), start_response)
    body = b"".join(written) + b"".join(result)
    getattr(result, "close", lambda: None)()
    assert body == b"Hello, world!\\n", body
"""
IN_PROCESS_KINDS = ("wsgicgi", "paste", "bare")
IN_PROCESS_CALLS = (20, 120)

# The competitors live in their own venv: Paste and setuptools bring .pth
# files that would slow every Python start in the gateway's venv.
SERVER_PACKAGES = ["gunicorn", "waitress", "paste", *common.extra_requirements("serve")]
# gunicorn, two ways: gthread keeps connections alive like the others; sync
# (its default worker) answers one request per connection, one at a time per
# worker, so wrk's extra connections wait in the backlog.
GUNICORN = {
    "gthread": ["-w", "2", "-k", "gthread", "--threads", "4"],
    "sync": ["-w", "2", "-k", "sync"],
}
SERVERS = ("gthread", "sync", "waitress")
WAITRESS_THREADS = "4"
WAITRESS_WATERMARK = 1 << 20
STREAM_ONLY = ("wsgicgi-waitress-1mib",)
SCRIPTS = (("sh", "hello.sh"), ("C", "hello"))


def _host_ready(venv):
    probe = subprocess.run(
        [venv.python, "-c", "from wsgicgi import CGIDirectory"],
        env=common.clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return probe.returncode == 0, probe.stderr.strip().splitlines()[-1:] or [""]


def make_site(work, big_file, size):
    """A world-readable site under /tmp (Apache runs scripts as www-data,
    http.server as nobody): cgi-bin/hello.sh, cgi-bin/hello, cgi-bin/big.sh."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="wsgicgi-bench-site-", dir="/tmp"))
    root.chmod(0o755)
    cgi = root / "cgi-bin"
    cgi.mkdir()
    cgi.chmod(0o755)
    (cgi / "hello.sh").write_text(HELLO_SH)
    (cgi / "big.sh").write_text(BIG_SH.format(size=size, path=big_file))
    hello = common.build_c("hello", cgi / "hello")
    if hello is None:
        raise SystemExit("bench: host needs a C compiler (cc) for the C hello script")
    for name in ("hello.sh", "big.sh", "hello"):
        (cgi / name).chmod(0o755)
    (root / "index.html").write_text("<p>bench</p>\n")
    (root / "index.html").chmod(0o644)
    return root, cgi


def servers(args, venv, work, root, cgi):
    """name -> (label, server object not yet started), in report order."""
    apps = work / "hostapps.py"
    apps.write_text(APPS.format(cgi=str(cgi)))
    venv.compile(work)
    env = common.clean_env(PYTHONPATH=str(work))
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    out = {}
    gunicorn = str(venv.bin / "gunicorn")
    waitress = str(venv.bin / "waitress-serve")
    for kind in ("wsgicgi", "paste", "bare", "hello"):
        for worker, what in (
            ("gthread", "gthread, 2 workers × 4 threads"),
            ("sync", "sync, 2 workers"),
        ):
            out["%s-%s" % (kind, worker)] = (
                "%s under gunicorn (%s)" % (_what(kind), what),
                load.ProcessServer(
                    [
                        gunicorn,
                        *GUNICORN[worker],
                        "-b",
                        "127.0.0.1:{port}",
                        "--log-level",
                        "warning",
                        "hostapps:%s_app" % kind,
                    ],
                    env,
                    str(work),
                    logs / ("%s-%s.log" % (kind, worker)),
                ),
            )
        out[kind + "-waitress"] = (
            "%s under waitress (4 threads)" % _what(kind),
            load.ProcessServer(
                [
                    waitress,
                    "--listen=127.0.0.1:{port}",
                    "--threads=" + WAITRESS_THREADS,
                    "hostapps:%s_app" % kind,
                ],
                env,
                str(work),
                logs / (kind + "-waitress.log"),
            ),
        )
    # Stream test only: waitress as the README recommends it for big
    # responses (its default keeps up to 16 MB per connection, per thread).
    out["wsgicgi-waitress-1mib"] = (
        "wsgicgi `CGIDirectory` under waitress (4 threads, `--outbuf-high-watermark=%d`)"
        % WAITRESS_WATERMARK,
        load.ProcessServer(
            [
                waitress,
                "--listen=127.0.0.1:{port}",
                "--threads=" + WAITRESS_THREADS,
                "--outbuf-high-watermark=%d" % WAITRESS_WATERMARK,
                "hostapps:wsgicgi_app",
            ],
            env,
            str(work),
            logs / "wsgicgi-waitress-1mib.log",
        ),
    )
    sys.path.insert(0, str(common.ROOT / "scripts"))
    try:
        from harness import apache as harness
    except ImportError:
        harness = None
    if harness is not None and harness.available():
        out["apache-cgi"] = (
            "Apache httpd 2.4, mod_cgi (prefork)",
            load.ApacheServer(harness.Apache(str(cgi), module="cgi")),
        )
        out["apache-cgid"] = (
            "Apache httpd 2.4, mod_cgid (event)",
            load.ApacheServer(harness.Apache(str(cgi), module="cgid")),
        )
    else:
        log("bench: Apache (scripts/harness/apache.py or /usr/sbin/apache2) missing: skipped")
    py311 = common.real_python("3.11")
    if py311:
        out["http.server"] = (
            "CPython 3.11 `http.server --cgi`",
            load.ProcessServer(
                [py311, "-m", "http.server", "--cgi", "--bind", "127.0.0.1", "{port}"],
                common.clean_env(),
                str(root),
                logs / "http.server.log",
            ),
        )
    else:
        log("bench: Python 3.11 not found: http.server skipped")
    return out


_WHAT = {
    "wsgicgi": "wsgicgi `CGIDirectory`",
    "paste": "Paste `CGIApplication`",
    "bare": "reference, not CGI: bare `Popen`+read+wait app",
    "hello": "reference, no script: hello app (HTTP alone)",
}
# Reference rows: bounds to read the others against, not contenders.
REFERENCES = ("bare-", "hello-")


def _what(kind):
    return _WHAT[kind]


def in_process(venv, work):
    """Instructions per request of each app called in process (callgrind,
    the calling process only: the script's own are the same for every app),
    from the difference between two numbers of calls."""
    driver = work / "inprocess.py"
    driver.write_text(IN_PROCESS)
    env = common.clean_env(PYTHONPATH=str(work))
    out = {}
    for kind in IN_PROCESS_KINDS:
        log("bench: callgrind, %s in process" % kind)
        counts = [
            common.callgrind([venv.python, str(driver), kind, str(n)], env, work, children=False)
            for n in IN_PROCESS_CALLS
        ]
        if None in counts:
            log("bench: callgrind unavailable or failed for %s; skipped" % kind)
            continue
        out[kind] = (counts[1] - counts[0]) / (IN_PROCESS_CALLS[1] - IN_PROCESS_CALLS[0])
    return out


def floor(spawnloop, cgi, script, seconds, jobs):
    proc = subprocess.run(
        [spawnloop, "%g" % seconds, str(jobs), str(cgi / script)],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    if proc.returncode != 0:
        raise SystemExit("bench: spawnloop failed: %s" % proc.stderr)
    count, elapsed = proc.stdout.split()
    return int(count) / float(elapsed)


def run(args):
    t_start = time.monotonic()
    info = common.machine_info()
    if not (common.ROOT / "wsgicgi" / "host.py").exists():
        raise SystemExit(
            "bench host: wsgicgi/host.py (CGIScript, CGIDirectory) does not exist yet: nothing to measure"
        )
    venv = common.bench_venv(args.python, SERVER_PACKAGES, suffix="-servers", fresh=args.fresh_venv)
    ok, why = _host_ready(venv)
    if not ok:
        raise SystemExit(
            "bench host: `from wsgicgi import CGIDirectory` fails in the bench venv: %s" % why[0]
        )
    if not load.ensure_wrk():
        raise SystemExit("bench host: wrk is missing and could not be installed")
    spawnloop = common.build_c("spawnloop")
    if spawnloop is None:
        raise SystemExit("bench host: needs a C compiler (cc)")
    connections = args.connections or 4
    work = common.RESULTS / "work" / "host"
    work.mkdir(parents=True, exist_ok=True)
    size = args.size_mib << 20
    big_file = Path(args.big_file)
    from .gateway import ensure_big_file

    ensure_big_file(big_file, size)
    os.chmod(big_file, 0o644)
    root, cgi = make_site(work, big_file, size)
    contenders = servers(args, venv, work, root, cgi)
    if args.only:
        keep = set(args.only.split(","))
        contenders = {k: v for k, v in contenders.items() if k in keep}
    started = {}
    data = {
        "machine": info,
        "python": venv.version,
        "connections": connections,
        "duration": args.duration,
        "rounds": args.rounds,
        "results": {},
        "labels": {"floor": "floor: fork+exec+wait, no HTTP (%d jobs)" % os.cpu_count()},
    }
    try:
        for name, (label, server) in contenders.items():
            log("bench: starting %s" % name)
            started[name] = server.start()
            data["labels"][name] = label
            for _, script in SCRIPTS:
                status, body = load.get(server.url("/cgi-bin/" + script))
                if status != 200 or body != HELLO:
                    raise SystemExit(
                        "bench: %s answered %s %r for %s" % (name, status, body[:200], script)
                    )
                load.wrk(server.url("/cgi-bin/" + script), connections, 1.0)  # warm-up
        samples = {}
        order = ["floor"] + [name for name in started if name not in STREAM_ONLY]
        for r in range(args.rounds):
            k = r % len(order)
            for name in order[k:] + order[:k]:
                for tag, script in SCRIPTS:
                    log("bench: round %d/%d %s %s" % (r + 1, args.rounds, name, tag))
                    if name == "floor":
                        res = {
                            "rps": floor(spawnloop, cgi, script, args.duration, os.cpu_count()),
                            "non2xx": 0,
                            "socket_errors": 0,
                            "p50": None,
                            "p99": None,
                        }
                    else:
                        server = started[name]
                        pids = load.process_tree(server.pid, load.SCRIPT_EXES)
                        cpu = load.cpu_of(pids)
                        res = load.wrk(server.url("/cgi-bin/" + script), connections, args.duration)
                        # The server's own CPU per answered request: what the
                        # adapter and the HTTP server cost, scripts excluded;
                        # steadier than requests/s on a machine with other load.
                        cpu = load.cpu_of(pids) - cpu
                        res["cpu_us"] = 1e6 * cpu / res["requests"] if res["requests"] else None
                    samples.setdefault(name, {}).setdefault(tag, []).append(res)
        for name, per in samples.items():
            data["results"][name] = {}
            for tag, runs in per.items():
                rps = [x["rps"] for x in runs if x["rps"] is not None]
                data["results"][name][tag] = {
                    "rps": summarize(rps),
                    "errors": sum(x["non2xx"] + x["socket_errors"] for x in runs),
                    "p50": summarize([x["p50"] for x in runs if x["p50"] is not None]),
                    "p99": summarize([x["p99"] for x in runs if x["p99"] is not None]),
                    "cpu_us": summarize([x["cpu_us"] for x in runs if x.get("cpu_us")]),
                    "rounds": [x["rps"] for x in runs],
                    "cpu_rounds": [x.get("cpu_us") for x in runs],
                }
        if args.callgrind_runs > 0:
            data["in_process"] = in_process(venv, work)
        if args.throughput_runs > 0:
            data["stream"] = {}
            for name, server in started.items():
                if name.startswith(REFERENCES):
                    continue  # they buffer whole responses or run no script
                log("bench: 1 GiB through %s" % name)
                try:
                    rates, before, peak = [], [], []
                    for _ in range(min(args.throughput_runs, 2)):
                        rate, b, p = load.download(server, "/cgi-bin/big.sh", size)
                        rates.append(rate), before.append(b), peak.append(p)
                    data["stream"][name] = {
                        "mb_s": summarize(rates)["median"],
                        "rss_before": min(before),
                        "rss_peak": max(peak),
                        "bytes": size,
                    }
                except (RuntimeError, OSError) as exc:
                    data["stream"][name] = {"error": str(exc)[:300]}
    finally:
        for server in started.values():
            server.stop()
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        if not args.keep_big_file and big_file.exists():
            big_file.unlink()
    common.finish_run("host", data, t_start, report)
    return data


def report(data):
    res = data["results"]
    when = data["machine"]["date"][:10]
    state = common.run_state(data)
    lines = [
        "### Reverse adapter: CGI scripts behind WSGI servers (`scripts/bench host`, %s, %s)"
        % (when, state),
        "",
        "Python %s, %s, %d cores; `wrk -t1 -c%d`, %g s × %d rounds per contender and script, round-robin; "
        "requests/s median."
        % (
            data["python"],
            data["machine"]["cpu"],
            data["machine"]["cores"],
            data["connections"],
            data["duration"],
            data["rounds"],
        ),
        "",
    ]
    header = ["contender"]
    for tag, _ in SCRIPTS:
        header += ["%s req/s" % tag, "%s cost ÷ floor" % tag]
    header += ["errors", "p99 ms (sh)", "server CPU µs/req (sh)"]
    rows = []
    for name in res:
        row = [data["labels"][name]]
        for tag, _ in SCRIPTS:
            r = res[name][tag]["rps"]
            f = res["floor"][tag]["rps"]
            row += [
                "%.0f" % r["median"] if r else "failed",
                "%.2f×" % (f["median"] / r["median"]) if r and f else "–",
            ]
        row += [
            sum(res[name][t]["errors"] for t, _ in SCRIPTS),
            "%.1f" % (res[name]["sh"]["p99"]["median"] * 1000) if res[name]["sh"]["p99"] else "–",
            "%.0f" % res[name]["sh"]["cpu_us"]["median"] if res[name]["sh"].get("cpu_us") else "–",
        ]
        rows.append(row)
    lines.append(table(header, rows))
    pairs = paired(data)
    if pairs:
        lines += [
            "",
            "wsgicgi against Paste and the bare `Popen` app under the same server, round by "
            "round (each round runs both within seconds of each other): the median of the "
            "rounds' ratios, then the lowest and highest round.",
            "",
        ]
        rows = [
            [
                server,
                tag,
                _spread(p["paste"]),
                "%d of %d" % (sum(r > 1 for r in p["paste"]), len(p["paste"])),
                _spread(p["bare"]) if p["bare"] else "–",
                _spread(p["cpu"]) if p["cpu"] else "–",
            ]
            for (server, tag), p in pairs.items()
        ]
        lines.append(
            table(
                [
                    "server",
                    "script",
                    "req/s ÷ Paste's",
                    "rounds ahead",
                    "bare app's req/s ÷ wsgicgi's",
                    "server CPU/req ÷ Paste's",
                ],
                rows,
            )
        )
    cg = data.get("in_process") or {}
    if cg:
        lines += [
            "",
            "In process, without a server: each app called %d and %d times as gunicorn calls it "
            "(the C script), instructions of the calling process per request (callgrind; the "
            "script's own are the same for every app):" % IN_PROCESS_CALLS,
            "",
        ]
        rows = [
            [
                data["labels"].get(kind + "-sync", kind).split(" under ")[0],
                "%.0f k" % (n / 1000),
                "%.2f×" % (n / cg["paste"]) if cg.get("paste") else "–",
                "%.2f×" % (n / cg["bare"]) if cg.get("bare") else "–",
            ]
            for kind, n in cg.items()
        ]
        lines.append(table(["app", "instructions/request", "÷ Paste's", "÷ bare app's"], rows))
    stream = data.get("stream")
    if stream:
        size = next((s["bytes"] for s in stream.values() if "bytes" in s), 1 << 30)
        lines += [
            "",
            "A %s response (`/bin/sh` script exec'ing `cat`), read from a socket as fast as it comes; "
            % _size(size)
            + "RSS of the server's processes (scripts excluded), sampled every 50 ms:",
            "",
        ]
        rows = []
        for name, s in stream.items():
            if "error" in s:
                rows.append([data["labels"][name], "failed: " + s["error"], "", ""])
            else:
                rows.append(
                    [
                        data["labels"][name],
                        "%.0f" % s["mb_s"],
                        "%.1f" % (s["rss_before"] / MB),
                        "%.1f" % (s["rss_peak"] / MB),
                    ]
                )
        lines.append(table(["server", "MB/s", "RSS before MB", "RSS peak MB"], rows))
    lines += ["", "Targets (issues 3 and 11):", ""]
    for text, ok in targets(data):
        lines.append("- %s %s" % ("note" if ok is None else verdict(ok), text))
    return "\n".join(lines) + "\n"


def _ratios(a, b):
    return [x / y for x, y in zip(a, b) if x and y]


def _spread(values):
    values = sorted(values)
    return "%.2f× (%.2f–%.2f)" % (statistics.median(values), values[0], values[-1])


def paired(data):
    """(server, script) -> per-round ratios of wsgicgi against Paste
    (requests/s), of the bare app against wsgicgi (its cost over the bare
    app's), and of the server CPU per request against Paste's."""
    res = data["results"]
    out = {}
    for server in SERVERS:
        ours, paste, bare = ("%s-%s" % (k, server) for k in ("wsgicgi", "paste", "bare"))
        if ours not in res or paste not in res:
            continue
        for tag, _ in SCRIPTS:
            mine, theirs = res[ours][tag], res[paste][tag]
            out[server, tag] = {
                "paste": _ratios(mine["rounds"], theirs["rounds"]),
                "bare": _ratios(res[bare][tag]["rounds"], mine["rounds"]) if bare in res else [],
                "cpu": _ratios(mine.get("cpu_rounds", []), theirs.get("cpu_rounds", [])),
            }
    return out


def _server_of(name):
    for server in SERVERS:
        if name.endswith("-" + server):
            return server
    return None


def targets(data):
    """(text, passed) for each target of issue 3, and (text, None) for the
    notes that read them against the reference rows.

    "Ahead of every other contender" compares like with like: wsgicgi under
    gunicorn against Paste under gunicorn and the servers that run CGI
    themselves (Apache, http.server); the same under waitress.  Which WSGI
    server to run is the user's choice, not the adapter's.
    """
    res = data["results"]
    out = []
    ours = [n for n in res if n.startswith("wsgicgi-")]
    pairs = paired(data)

    def rps(name, tag):
        r = res[name][tag]["rps"] if name in res else None
        return r["median"] if r else 0.0

    for name in ours:
        server = _server_of(name)
        others = [
            n
            for n in res
            if n != "floor"
            and n not in ours
            and not n.startswith(REFERENCES)
            and _server_of(n) in (None, server)
        ]
        for tag, _ in SCRIPTS:
            mine = rps(name, tag)
            if not mine:
                out.append(
                    (
                        "%s, %s script: no measurement (wrk failed)" % (data["labels"][name], tag),
                        False,
                    )
                )
                continue
            best = max(others, key=lambda n: rps(n, tag)) if others else None
            if best:
                theirs = rps(best, tag)
                out.append(
                    (
                        "%s, %s script: ahead of every other contender in requests/s: %.0f vs best other %.0f (%s)"
                        % (data["labels"][name], tag, mine, theirs, best),
                        mine > theirs,
                    )
                )
            f = rps("floor", tag)
            out.append(
                (
                    "%s, %s script: per-request cost ≤ 1.5× the floor's: %.2f×"
                    % (data["labels"][name], tag, f / mine),
                    f / mine <= 1.5,
                )
            )
            pair = pairs.get((server, tag))
            if pair and pair["paste"]:
                ratios = pair["paste"]
                out.append(
                    (
                        "%s, %s script: ahead of Paste under the same server in the median of "
                        "%d interleaved rounds (issue 11): %.0f vs %.0f req/s; rounds %s, %d ahead"
                        % (
                            data["labels"][name],
                            tag,
                            len(ratios),
                            mine,
                            rps("paste-" + server, tag),
                            _spread(ratios),
                            sum(r > 1 for r in ratios),
                        ),
                        len(ratios) >= 5 and mine > rps("paste-" + server, tag),
                    )
                )
            bare = rps("bare-" + server, tag)
            if bare:
                out.append(
                    (
                        "%s, %s script: per-request cost ≤ 1.10× a bare `Popen`+read+wait app's "
                        "under the same server (issue 11): %.2f× (the bare app is at %.2f× the floor)"
                        % (data["labels"][name], tag, bare / mine, f / bare),
                        bare / mine <= 1.10,
                    )
                )
            hello = rps("hello-" + server, tag)
            if hello:
                # A zero-cost adapter still pays for HTTP: 1/floor + 1/hello
                # seconds of the machine per request.
                bound = f * (1.0 / f + 1.0 / hello)
                out.append(
                    (
                        "%s, %s script: floor plus HTTP alone (a zero-cost adapter) is already %.2f× the floor"
                        % (server, tag, bound),
                        None,
                    )
                )
    stream = data.get("stream") or {}
    for name in [n for n in stream if n.startswith("wsgicgi-")]:
        s = stream.get(name)
        if not s:
            continue
        if "error" in s:
            out.append(
                (
                    "%s: 1 GiB streamed at ≥ 1 GB/s with flat RSS: failed (%s)"
                    % (data["labels"][name], s["error"]),
                    False,
                )
            )
            continue
        growth = s["rss_peak"] - s["rss_before"]
        out.append(
            (
                "%s: %s streamed at ≥ 1 GB/s: %.0f MB/s"
                % (data["labels"][name], _size(s["bytes"]), s["mb_s"]),
                s["mb_s"] >= 1000,
            )
        )
        out.append(
            (
                "%s: server RSS flat during it (growth < 16 MB): +%.1f MB"
                % (data["labels"][name], growth / MB),
                growth < 16 * MB,
            )
        )
    return out
