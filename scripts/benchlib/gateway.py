"""``scripts/bench gateway``: the cost of one CGI request through the gateway
(issue 2), and its throughput on big bodies.

Every case is a real CGI invocation, exec'd as a web server does: crafted
meta-variables, stdin /dev/null (or a pipe), stdout a pipe read to EOF, cwd
the script's folder.  Cases run round-robin so that a burst of load on the
shared machine hits them all alike.
"""

import os
import re
import subprocess
import time
from pathlib import Path

from . import common
from .common import MB, log, summarize, table, verdict

HELLO = b"Hello, world!\n"

HELLO_APP = """\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"Hello, world!\\n"]
"""

FLASK_APP = """\
from flask import Flask

app = Flask(__name__)


@app.route("/hello")
def hello():
    return "Hello, world!\\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
"""

BIG_APP = """\
PATH = {path!r}
SIZE = {size!r}
CHUNK = 65536


def file_app(environ, start_response):
    f = open(PATH, "rb")
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(SIZE))])
    return environ["wsgi.file_wrapper"](f, CHUNK)


def gen_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(SIZE))])
    block = bytes(range(256)) * (CHUNK // 256)

    def body():
        for _ in range(SIZE // CHUNK):
            yield block

    return body()


def echo_app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(length))])
    read = environ["wsgi.input"].read

    def body():
        chunk = read(CHUNK)
        while chunk:
            yield chunk
            chunk = read(CHUNK)

    return body()
"""

HAND = """\
#!{py}
print("Content-Type: text/plain; charset=utf-8")
print()
print("Hello, world!")
"""
WSGIREF = """\
#!{py}
from wsgiref.handlers import CGIHandler
from {module} import app; CGIHandler().run(app)
"""
TWO_LINE = """\
#!{py}
from wsgicgi import run
from {module} import {attr}; run({attr})
"""
ONE_LINE = "#!/usr/bin/env -S {py} -m wsgicgi {module}:{attr}\n"

# (name, label, script file or None for the floor)
CASES = [
    ("floor", "floor: `python -c pass`", None),
    ("hand", "hand-written CGI script (print, no WSGI)", "hand.cgi"),
    ("wsgiref", "hello WSGI app via `wsgiref.handlers.CGIHandler`", "wsgiref.cgi"),
    ("one-line", "hello WSGI app via the one-line `-m wsgicgi` script", "one-line.cgi"),
    ("two-line", "hello WSGI app via the two-line `wsgicgi.run` script", "two-line.cgi"),
    ("flask-wsgiref", "Flask hello via wsgiref", "flask-wsgiref.cgi"),
    ("flask-wsgicgi", "Flask hello via wsgicgi (two-line)", "flask-wsgicgi.cgi"),
]


def write_site(venv, cgi, big_file, size):
    """The CGI scripts and apps of every case, precompiled."""
    cgi.mkdir(parents=True, exist_ok=True)
    py = venv.python
    files = {
        "hello.py": HELLO_APP,
        "flask_hello.py": FLASK_APP,
        "big.py": BIG_APP.format(path=str(big_file), size=size),
        "hand.cgi": HAND.format(py=py),
        "wsgiref.cgi": WSGIREF.format(py=py, module="hello"),
        "one-line.cgi": ONE_LINE.format(py=py, module="hello", attr="app"),
        "two-line.cgi": TWO_LINE.format(py=py, module="hello", attr="app"),
        "flask-wsgiref.cgi": WSGIREF.format(py=py, module="flask_hello"),
        "flask-wsgicgi.cgi": TWO_LINE.format(py=py, module="flask_hello", attr="app"),
        "big-file.cgi": TWO_LINE.format(py=py, module="big", attr="file_app"),
        "big-gen.cgi": TWO_LINE.format(py=py, module="big", attr="gen_app"),
        "echo.cgi": TWO_LINE.format(py=py, module="big", attr="echo_app"),
    }
    for name, text in files.items():
        path = cgi / name
        path.write_text(text)
        path.chmod(0o755 if name.endswith(".cgi") else 0o644)
    venv.compile(cgi)


def cgi_env(cgi, script, method="GET", path_info="/hello", length=None):
    """The meta-variables Apache's mod_cgi would give ``script`` (RFC 3875 §4.1)."""
    name = "/cgi-bin/" + script
    env = common.clean_env(
        GATEWAY_INTERFACE="CGI/1.1",
        SERVER_SOFTWARE="Apache/2.4.62 (Debian)",
        SERVER_NAME="localhost",
        SERVER_ADDR="127.0.0.1",
        SERVER_PORT="80",
        SERVER_PROTOCOL="HTTP/1.1",
        SERVER_ADMIN="webmaster@localhost",
        REQUEST_METHOD=method,
        REQUEST_SCHEME="http",
        REQUEST_URI=name + path_info + "?name=bench",
        SCRIPT_NAME=name,
        SCRIPT_FILENAME=str(cgi / script),
        PATH_INFO=path_info,
        PATH_TRANSLATED="/var/www/html" + path_info,
        QUERY_STRING="name=bench",
        DOCUMENT_ROOT="/var/www/html",
        CONTEXT_PREFIX="/cgi-bin/",
        CONTEXT_DOCUMENT_ROOT=str(cgi) + "/",
        REMOTE_ADDR="127.0.0.1",
        REMOTE_PORT="51234",
        HTTP_HOST="localhost",
        HTTP_USER_AGENT="wsgicgi-bench/1",
        HTTP_ACCEPT="*/*",
        HTTP_CONNECTION="keep-alive",
    )
    if length is not None:
        env["CONTENT_LENGTH"] = str(length)
        env["CONTENT_TYPE"] = "application/octet-stream"
    return env


def case_argv(venv, cgi, script):
    if script is None:
        return [venv.python, "-c", "pass"]
    return [str(cgi / script)]


def check_hello(name, result):
    """A case must really answer 200 and the hello body, or the bench stops."""
    out = result.output
    head, sep, body = out.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = out.partition(b"\n\n")
    if name == "floor":
        ok = result.status == 0 and out == b""
    else:
        status = re.search(rb"(?im)^status:\s*(\d{3})", head)
        ok = result.status == 0 and body == HELLO and (status is None or status.group(1) == b"200")
    if not ok:
        raise SystemExit(
            "bench: case %s answered wrongly (exit %s):\n%r" % (name, result.status, out[:600])
        )


def import_time(venv, runs, site=False):
    """``import wsgicgi`` cumulative µs under ``python -S -X importtime`` (site
    is off, so site-packages comes through PYTHONPATH), and what it imports.
    ``site``: as a CGI script imports it instead, site on, the venv's
    site-packages last on sys.path (more folders to search first)."""
    if site:
        env = common.clean_env()
        argv = [venv.python, "-X", "importtime", "-c", "import wsgicgi"]
    else:
        env = common.clean_env(PYTHONPATH=venv.site)
        argv = [venv.python, "-S", "-X", "importtime", "-c", "import wsgicgi"]
    values = []
    modules = []
    for i in range(runs + 1):
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        rows = []
        for line in proc.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
            if m:
                rows.append((int(m.group(1)), int(m.group(2)), len(m.group(3)), m.group(4)))
        top = [r for r in rows if r[3] == "wsgicgi"]
        if proc.returncode != 0 or not top:
            raise SystemExit("bench: importtime failed:\n" + proc.stderr[-2000:])
        if i == 0:
            # the first run is a warm-up; it also lists what is imported
            start = rows.index(top[0])
            j = start
            while j > 0 and rows[j - 1][2] > 0:
                j -= 1
            modules = [r[3] for r in rows[j : start + 1]]
            continue
        values.append(top[0][1])
    return summarize(values), modules


def ensure_big_file(path, size):
    """A file of ``size`` bytes (not sparse), left in the page cache."""
    if path.exists() and path.stat().st_size == size:
        return
    log("bench: writing %d MiB to %s" % (size >> 20, path))
    block = os.urandom(1 << 16) * 128  # 8 MiB
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def _size(n):
    return "%d GiB" % (n >> 30) if n % (1 << 30) == 0 else "%d MiB" % (n >> 20)


def max_or_none(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def fmt_mb(value):
    return "n/a" if value is None else "%.1f" % (value / MB)


def fmt_ms(seconds):
    return "%.1f" % (seconds * 1000)


def ratio(a, b):
    return a / b if b else float("nan")


def run(args):
    """The whole gateway bench; prints tables, writes bench-results/gateway*."""
    t_start = time.monotonic()
    info = common.machine_info()
    venv = common.bench_venv(args.python, ["flask"], clean_site=True, fresh=args.fresh_venv)
    if venv is None:
        raise SystemExit(
            "bench: Python %s not found (pyenv prefix %s)" % (args.python, args.python)
        )
    work = common.RESULTS / "work" / "gateway"
    cgi = work / "cgi-bin"
    big_file = Path(args.big_file)
    size = args.size_mib << 20
    echo_size = args.echo_mib << 20
    write_site(venv, cgi, big_file, size)
    stderr_path = work / "stderr.log"
    stderr_fd = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    old_cwd = os.getcwd()
    os.chdir(cgi)  # a server runs a CGI script in its own folder
    try:
        log(
            "bench: gateway on Python %s (%s), %d runs per case, round-robin"
            % (venv.version, venv.path, args.runs)
        )
        data = {"machine": info, "python": venv.version, "venv": str(venv.path), "runs": args.runs}
        data["startup"] = startup(args, venv, cgi, stderr_fd)
        log("bench: import time")
        data["import"], data["import_modules"] = import_time(venv, args.runs)
        data["import_site"], _ = import_time(venv, args.runs, site=True)
        if args.callgrind_runs > 0:
            data["callgrind"] = instructions(args, venv, cgi)
        if args.throughput_runs > 0:
            ensure_big_file(big_file, size)
            data["throughput"] = throughput(args, venv, cgi, stderr_fd, size, echo_size)
    finally:
        os.chdir(old_cwd)
        os.close(stderr_fd)
        if not args.keep_big_file and big_file.exists() and args.throughput_runs > 0:
            big_file.unlink()
    logged = stderr_path.read_text(errors="replace")
    data["stderr"] = logged[-4000:]
    if logged.strip():
        log("bench: the scripts wrote to stderr (see %s):\n%s" % (stderr_path, logged[-1500:]))
    common.finish_run("gateway", data, t_start, report)
    return data


def startup(args, venv, cgi, stderr_fd):
    """Wall time, CPU time and peak RSS of each case, interleaved."""
    plans = [
        (name, label, case_argv(venv, cgi, script), cgi_env(cgi, script or "floor"))
        for name, label, script in CASES
    ]
    for name, _, argv, env in plans:  # each case must work before it is timed
        check_hello(name, common.spawn(argv, env, stderr_fd=stderr_fd))
    samples = {name: [] for name, *_ in plans}
    rounds = args.warmup + args.runs
    for i in range(rounds):
        k = i % len(plans)
        for name, _, argv, env in plans[k:] + plans[:k]:  # rotate: no case always first
            r = common.spawn(argv, env, stderr_fd=stderr_fd)
            if r.status != 0:
                raise SystemExit("bench: case %s exited %s" % (name, r.status))
            if i >= args.warmup:
                samples[name].append(r)
        if (i + 1) % 10 == 0:
            log("bench:   round %d/%d" % (i + 1, rounds))
    out = {}
    for name, label, argv, env in plans:
        rs = samples[name]
        out[name] = {
            "label": label,
            "wall": summarize([r.wall for r in rs]),
            "cpu": summarize([r.cpu for r in rs]),
            # one more run, untimed, through the RSS launcher
            "maxrss": common.spawn(argv, env, stderr_fd=stderr_fd, rss=True).maxrss,
        }
    return out


def instructions(args, venv, cgi):
    """Callgrind instruction counts per case: noise-free where wall time is not."""
    out = {}
    for name, _, script in CASES:
        log("bench: callgrind %s" % name)
        counts = []
        for _ in range(args.callgrind_runs):
            n = common.callgrind(
                case_argv(venv, cgi, script),
                cgi_env(cgi, script or "floor"),
                common.RESULTS / "work",
            )
            if n is None:
                log("bench: callgrind unavailable or failed for %s; skipped" % name)
                return out
            counts.append(n)
        out[name] = summarize(counts)["median"]
    return out


def throughput(args, venv, cgi, stderr_fd, size, echo_size):
    """MB/s of big bodies through the gateway vs ``cat`` on the same pipes."""
    cat = "/bin/cat"
    plans = [
        (
            "cat-file",
            "`cat` %s file → pipe" % _size(size),
            [cat, args.big_file],
            common.clean_env(),
            0,
            False,
            size,
        ),
        (
            "gw-file",
            "gateway, `wsgi.file_wrapper` (sendfile) → pipe",
            [str(cgi / "big-file.cgi")],
            cgi_env(cgi, "big-file.cgi", path_info="/big"),
            0,
            True,
            size,
        ),
        (
            "gw-gen",
            "gateway, generator of 64 KiB chunks → pipe",
            [str(cgi / "big-gen.cgi")],
            cgi_env(cgi, "big-gen.cgi", path_info="/big"),
            0,
            True,
            size,
        ),
        (
            "cat-echo",
            "`cat` pipe → pipe (request body)",
            [cat],
            common.clean_env(),
            echo_size,
            False,
            echo_size,
        ),
        (
            "gw-echo",
            "gateway echo: stdin → app → stdout",
            [str(cgi / "echo.cgi")],
            cgi_env(cgi, "echo.cgi", method="POST", path_info="/echo", length=echo_size),
            echo_size,
            True,
            echo_size,
        ),
    ]
    samples = {p[0]: [] for p in plans}
    for i in range(args.throughput_runs + 1):  # round 0 warms the page cache
        log("bench: throughput round %d/%d" % (i, args.throughput_runs))
        for name, _, argv, env, feed, header, expect in plans:
            r = common.spawn(
                argv,
                env,
                stderr_fd=stderr_fd,
                stdin_bytes=feed,
                keep_output=False,
                header=header,
                rss=True,
            )
            if r.status != 0 or r.body_bytes != expect:
                raise SystemExit(
                    "bench: %s exited %s after %d of %d body bytes"
                    % (name, r.status, r.body_bytes, expect)
                )
            if i:
                samples[name].append(r)
    out = {}
    for name, label, _, _, _, _, expect in plans:
        rs = samples[name]
        out[name] = {
            "label": label,
            "bytes": expect,
            "wall": summarize([r.wall for r in rs]),
            "mb_s": summarize([expect / r.wall / MB for r in rs]),
            "maxrss": max_or_none(r.maxrss for r in rs),
        }
    return out


def report(data):
    """The markdown tables, ratios and PASS/MISS lines."""
    s = data["startup"]
    cg = data.get("callgrind") or {}
    med = {k: v["wall"]["median"] for k, v in s.items()}
    cpu = {k: v["cpu"]["median"] for k, v in s.items()}
    when = data["machine"]["date"][:10]
    state = common.run_state(data)
    lines = [
        "### Gateway: one CGI request (`scripts/bench gateway`, %s, %s)" % (when, state),
        "",
        "Python %s, %s, %d cores, %d runs per case round-robin; wsgicgi %s."
        % (
            data["python"],
            data["machine"]["cpu"],
            data["machine"]["cores"],
            data["runs"],
            data["machine"]["commit"],
        ),
        "",
    ]
    header = [
        "case",
        "wall ms (median)",
        "CPU ms",
        "÷ hand-written",
        "wsgiref ÷ case (same app)",
        "peak RSS MB",
    ]
    if cg:
        header[4:4] = ["M instr. (callgrind)", "instr. ÷ hand-written"]
    rows = []
    for name, label, _ in CASES:
        row = [
            label,
            fmt_ms(med[name]),
            fmt_ms(cpu[name]),
            "%.2f×" % ratio(med[name], med["hand"]),
            "%.2f×" % ratio(med[_wsgiref_of(name)], med[name]),
            fmt_mb(s[name]["maxrss"]),
        ]
        if cg:
            n = cg.get(name)
            row[4:4] = [
                "%.1f" % (n / 1e6) if n else "–",
                "%.2f×" % ratio(n, cg["hand"]) if n and cg.get("hand") else "–",
            ]
        rows.append(row)
    lines.append(table(header, rows))
    imp = data["import"]
    lines += [
        "",
        "`import wsgicgi` (`python -S -X importtime`, median of %d): **%d µs** cumulative; imports %s."
        % (imp["n"], imp["median"], ", ".join("`%s`" % m for m in data["import_modules"])),
        "",
        "The same import as a CGI script does it (site on, site-packages last on `sys.path`, `-X importtime` "
        "itself adds overhead): %d µs." % data["import_site"]["median"],
    ]
    t = data.get("throughput")
    if t:
        lines += [
            "",
            "Throughput (%s; median of %d runs; wall time from spawn to exit, interpreter start included; the bench reads the pipe):"
            % (
                _size(t["gw-file"]["bytes"])
                + " response, "
                + _size(t["gw-echo"]["bytes"])
                + " request",
                t["gw-file"]["wall"]["n"],
            ),
            "",
        ]
        rows = []
        for name, base in (
            ("cat-file", None),
            ("gw-file", "cat-file"),
            ("gw-gen", "cat-file"),
            ("cat-echo", None),
            ("gw-echo", "cat-echo"),
        ):
            v = t[name]
            rows.append(
                [
                    v["label"],
                    _size(v["bytes"]),
                    "%.0f" % v["mb_s"]["median"],
                    "%.0f%%" % (100 * v["mb_s"]["median"] / t[base]["mb_s"]["median"])
                    if base
                    else "100%",
                    fmt_mb(v["maxrss"]),
                ]
            )
        lines.append(table(["path", "size", "MB/s", "of `cat`", "peak RSS MB"], rows))
    lines += ["", "Targets (issue 2):", ""]
    for text, ok in targets(data):
        lines.append("- %s %s" % (verdict(ok), text))
    two, one = med["two-line"], med["one-line"]
    lines += [
        "",
        "In words: two-line = %.2f× hand-written, %.2f× faster than wsgiref; one-line = %.2f× hand-written, "
        "%.2f× faster than wsgiref; Flask hello %.1f ms via wsgicgi vs %.1f ms via wsgiref "
        "(the framework's import dominates)."
        % (
            two / med["hand"],
            med["wsgiref"] / two,
            one / med["hand"],
            med["wsgiref"] / one,
            med["flask-wsgicgi"] * 1000,
            med["flask-wsgiref"] * 1000,
        ),
    ]
    return "\n".join(lines) + "\n"


def _wsgiref_of(name):
    return "flask-wsgiref" if name.startswith("flask") else "wsgiref"


def targets(data):
    """(text, passed) for every target of issue 2; wall-time medians decide."""
    s = data["startup"]
    med = {k: v["wall"]["median"] for k, v in s.items()}
    out = [
        (
            "two-line `wsgicgi.run` ≤ 1.10× hand-written: %.3f×" % (med["two-line"] / med["hand"]),
            med["two-line"] <= 1.10 * med["hand"],
        ),
        (
            "two-line ≥ 1.5× faster than wsgiref: %.3f×" % (med["wsgiref"] / med["two-line"]),
            med["wsgiref"] >= 1.5 * med["two-line"],
        ),
        (
            "one-line `-m wsgicgi` ≤ 1.50× hand-written: %.3f×" % (med["one-line"] / med["hand"]),
            med["one-line"] <= 1.50 * med["hand"],
        ),
        (
            "`import wsgicgi` ≤ 1 ms: %d µs" % data["import"]["median"],
            data["import"]["median"] <= 1000,
        ),
    ]
    cg = data.get("callgrind") or {}
    if all(cg.get(k) for k in ("hand", "wsgiref", "one-line", "two-line")):
        out[0] = (out[0][0] + " (instructions: %.3f×)" % (cg["two-line"] / cg["hand"]), out[0][1])
        out[1] = (
            out[1][0] + " (instructions: %.3f×)" % (cg["wsgiref"] / cg["two-line"]),
            out[1][1],
        )
        out[2] = (out[2][0] + " (instructions: %.3f×)" % (cg["one-line"] / cg["hand"]), out[2][1])
    t = data.get("throughput")
    if t:
        for name, base in (
            ("gw-file", "cat-file"),
            ("gw-gen", "cat-file"),
            ("gw-echo", "cat-echo"),
        ):
            share = t[name]["mb_s"]["median"] / t[base]["mb_s"]["median"]
            out.append(
                ("%s ≥ 70%% of `cat`: %.0f%%" % (t[name]["label"], 100 * share), share >= 0.70)
            )
        rss = max_or_none(t[n]["maxrss"] for n in ("gw-file", "gw-gen", "gw-echo"))
        if rss is None:
            out.append(
                ("gateway peak RSS < 40 MB: not measured (no C compiler for the launcher)", False)
            )
        else:
            out.append(("gateway peak RSS < 40 MB: %.1f MB" % (rss / MB), rss < 40 * MB))
    return out
