"""``scripts/bench fastcgi``: the gateway kept warm (issue 10).

One run, one Flask hello app, two app processes per contender, everything on
127.0.0.1, loaded by ``wrk`` from its own process, contenders in turns
(round-robin, the order rotating each round):

- under a private Apache (event MPM, scripts/harness/apache.py): the one-line
  script under mod_fcgid; flup's ``WSGIServer`` ``.fcgi`` under mod_fcgid
  (both ``FcgidMaxProcessesPerClass 2``); mod_wsgi daemon mode
  (``processes=2 threads=1``); the one-line script as CGI (mod_cgid, 2
  connections: 2 processes at a time);
- behind a private nginx (scripts/harness/nginx.py): ``wsgicgi fcgi`` under
  ``spawn-fcgi -F 2`` against gunicorn sync ``-w 2`` behind ``proxy_pass``;
- a ``/bin/sh`` hello CGI script behind nginx: ``wsgicgi fcgi --cgi-dir``
  against fcgiwrap, both ``spawn-fcgi -F 2``, the same nginx location;
- 1 GiB through nginx → ``wsgicgi fcgi`` (a generator app), with the RSS of
  the wsgicgi process sampled.

Apache runs its scripts as www-data, who cannot enter /root: every contender
runs on a venv made from Debian's /usr/bin/python3 (the Python mod_wsgi is
built for), ``.venv/bench-3.11-debian``, with Flask, flup and gunicorn, and
the site lives in a world-readable folder under /tmp.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import common, load
from .common import MB, log, summarize, table, verdict
from .gateway import BIG_APP, FLASK_APP, _size
from .host import HELLO, HELLO_SH

sys.path.insert(0, str(common.ROOT / "scripts"))
from harness import apache as apache_harness
from harness import nginx as nginx_harness
from harness import spawn_fcgi as spawn_harness
from harness.spawn_fcgi import SpawnFcgi

DEBIAN_PYTHON = "/usr/bin/python3"
PACKAGES = ["flask", "flup", "gunicorn"]
PROCESSES = 2
CGI_CONNECTIONS = 2  # the CGI form: 2 processes at a time, like the others
CGI_MIN_SECONDS = 5  # wrk counts only finished requests: a few dozen of ~0.2 s each
STREAM_CHUNK = 65536

ONE_LINE = "#!/usr/bin/env -S {py} -m wsgicgi flaskapp:app\n"
FLUP = """\
#!{py}
from flup.server.fcgi import WSGIServer

from flaskapp import app

WSGIServer(app).run()
"""
MOD_WSGI = "from flaskapp import app as application\n"

APACHE_CONF = """\
LoadModule fcgid_module {modules}/mod_fcgid.so
LoadModule wsgi_module {modules}/mod_wsgi.so
FcgidIPCDir "{run}/fcgid"
FcgidProcessTableFile "{run}/fcgid_shm"
FcgidMaxProcessesPerClass {n}
FcgidMinProcessesPerClass {n}
FcgidMaxProcesses 16
FcgidIdleTimeout 0
FcgidProcessLifeTime 0
FcgidMaxRequestsPerProcess 0
FcgidIOTimeout 60
FcgidInitialEnv PATH /usr/local/bin:/usr/bin:/bin
Alias /fcgi/ "{site}/"
<Location /fcgi/>
    SetHandler fcgid-script
    Options +ExecCGI
</Location>
WSGISocketPrefix "{run}/wsgi"
WSGIRestrictEmbedded On
WSGIDaemonProcess flask processes={n} threads=1 python-home={venv} python-path={site}
WSGIScriptAlias /wsgi "{site}/flask.wsgi" process-group=flask application-group=%{{GLOBAL}}
"""

NGINX_HTTP = """\
upstream wsgicgi_flask {{
    server unix:{run}/flask.sock;
    keepalive 8;
}}
upstream wsgicgi_big {{
    server unix:{run}/big.sock;
    keepalive 2;
}}
upstream gunicorn_flask {{
    server 127.0.0.1:{gunicorn_port};
}}
"""

# The README's nginx block (keep-alive connections to wsgicgi); the two CGI
# contenders share one location written for fcgiwrap, only the socket differs.
NGINX_SERVER = """\
location /fcgi/ {{
    include {params};
    fastcgi_split_path_info ^(/fcgi)(/.*)$;
    fastcgi_param SCRIPT_NAME $fastcgi_script_name;
    fastcgi_param PATH_INFO $fastcgi_path_info;
    fastcgi_pass wsgicgi_flask;
    fastcgi_keep_conn on;
}}
location /fcgi-close/ {{
    include {params};
    fastcgi_split_path_info ^(/fcgi-close)(/.*)$;
    fastcgi_param SCRIPT_NAME $fastcgi_script_name;
    fastcgi_param PATH_INFO $fastcgi_path_info;
    fastcgi_pass unix:{run}/flask-close.sock;
}}
location /big/ {{
    include {params};
    fastcgi_split_path_info ^(/big)(/.*)$;
    fastcgi_param SCRIPT_NAME $fastcgi_script_name;
    fastcgi_param PATH_INFO $fastcgi_path_info;
    fastcgi_pass wsgicgi_big;
    fastcgi_keep_conn on;
    fastcgi_max_temp_file_size 0;
}}
location /gunicorn/ {{
    proxy_pass http://gunicorn_flask/;
    proxy_set_header Host $http_host;
}}
location /sh-wsgicgi/ {{
    include {params};
    fastcgi_param SCRIPT_FILENAME {cgi}/hello.sh;
    fastcgi_param PATH_INFO "";
    fastcgi_pass unix:{run}/cgidir.sock;
}}
location /sh-fcgiwrap/ {{
    include {params};
    fastcgi_param SCRIPT_FILENAME {cgi}/hello.sh;
    fastcgi_param PATH_INFO "";
    fastcgi_pass unix:{run}/fcgiwrap.sock;
}}
"""

# name -> (group, label, server, path, connections-or-None); the order of the report.
GROUPS = {
    "apache": "Flask hello under Apache 2.4 (event MPM)",
    "nginx": "Flask hello behind nginx",
    "sh": "a `/bin/sh` hello CGI script behind nginx",
}
LABELS = {
    "fcgid-wsgicgi": ("apache", "the one-line script under mod_fcgid (2 processes)"),
    "fcgid-flup": ("apache", "flup `WSGIServer` `.fcgi` under mod_fcgid (2 processes)"),
    "mod_wsgi": ("apache", "mod_wsgi daemon mode (`processes=2 threads=1`)"),
    "cgid": ("apache", "the one-line script as CGI (mod_cgid, 2 connections)"),
    "nginx-wsgicgi": (
        "nginx",
        "`wsgicgi fcgi` (spawn-fcgi -F 2), `fastcgi_pass`, the README's block (`fastcgi_keep_conn on`)",
    ),
    "nginx-wsgicgi-close": (
        "nginx",
        "`wsgicgi fcgi` (spawn-fcgi -F 2), `fastcgi_pass`, a connection per request",
    ),
    "nginx-gunicorn": ("nginx", "gunicorn sync `-w 2`, `proxy_pass`"),
    "sh-wsgicgi": ("sh", "`wsgicgi fcgi --cgi-dir` (spawn-fcgi -F 2)"),
    "sh-fcgiwrap": ("sh", "fcgiwrap (spawn-fcgi -F 2)"),
}
PATHS = {
    "fcgid-wsgicgi": ("apache", "/fcgi/wsgicgi.fcgi/hello"),
    "fcgid-flup": ("apache", "/fcgi/flup.fcgi/hello"),
    "mod_wsgi": ("apache", "/wsgi/hello"),
    "cgid": ("apache", "/cgi-bin/hello.cgi/hello"),
    "nginx-wsgicgi": ("nginx", "/fcgi/hello"),
    "nginx-wsgicgi-close": ("nginx", "/fcgi-close/hello"),
    "nginx-gunicorn": ("nginx", "/gunicorn/hello"),
    "sh-wsgicgi": ("nginx", "/sh-wsgicgi/"),
    "sh-fcgiwrap": ("nginx", "/sh-fcgiwrap/"),
}
# (ours, theirs, minimum ratio of requests/s)
TARGETS = [
    ("fcgid-wsgicgi", "fcgid-flup", 1.25),
    ("fcgid-wsgicgi", "mod_wsgi", 0.80),
    ("fcgid-wsgicgi", "cgid", 300.0),
    ("nginx-wsgicgi", "nginx-gunicorn", 1.0),
    ("sh-wsgicgi", "sh-fcgiwrap", 1.0),
]
STREAM_MB_S = 1000
STREAM_RSS_GROWTH = 5 * MB


class _Stream:
    """What load.download needs: nginx's port, the wsgicgi process's pid."""

    def __init__(self, port, pid):
        self.port = port
        self.pid = pid


def make_site(venv, size):
    """The world-readable folder of everything Apache and the FastCGI
    processes run: the apps, the scripts, precompiled; and cgi-sh/hello.sh."""
    root = Path(apache_harness.public_tempdir("wsgicgi-bench-fcgi-"))
    site = root / "py"
    site.mkdir()
    py = venv.python
    files = {
        "flaskapp.py": FLASK_APP,
        "bigapp.py": BIG_APP.format(path="/nonexistent", size=size),
        "flask.wsgi": MOD_WSGI,
        "wsgicgi.fcgi": ONE_LINE.format(py=py),
        "flup.fcgi": FLUP.format(py=py),
        "hello.cgi": ONE_LINE.format(py=py),
    }
    for name, text in files.items():
        (site / name).write_text(text)
        (site / name).chmod(0o755 if name.endswith((".fcgi", ".cgi")) else 0o644)
    venv.compile(site)
    cgi = root / "cgi-sh"
    cgi.mkdir()
    (cgi / "hello.sh").write_text(HELLO_SH)
    (cgi / "hello.sh").chmod(0o755)
    run = root / "run"
    run.mkdir()
    apache_harness.make_world_readable(str(root))
    return root, site, cgi, run


def _check(name, url):
    status, body = load.get(url)
    if status != 200 or body != HELLO:
        raise SystemExit("bench: %s answered %s %r at %s" % (name, status, body[:300], url))


def _fcgid_processes(script):
    """pids of the processes mod_fcgid runs for ``script``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if script.encode() in argv:
                found.append(int(entry))
    return found


def run(args):
    t_start = time.monotonic()
    info = common.machine_info()
    if not (common.ROOT / "wsgicgi" / "fcgiserver.py").exists():
        raise SystemExit(
            "bench fastcgi: wsgicgi/fcgiserver.py does not exist yet: nothing to measure"
        )
    missing = [
        what
        for what, ok in (
            ("apache2 with mod_cgid", apache_harness.available()),
            ("mod_fcgid", os.path.exists(apache_harness.MODULES_DIR + "/mod_fcgid.so")),
            ("mod_wsgi", os.path.exists(apache_harness.MODULES_DIR + "/mod_wsgi.so")),
            ("nginx", nginx_harness.available()),
            ("spawn-fcgi", spawn_harness.available()),
            ("fcgiwrap", os.access("/usr/sbin/fcgiwrap", os.X_OK)),
            ("Debian's python3", os.access(DEBIAN_PYTHON, os.X_OK)),
        )
        if not ok
    ]
    if missing:
        raise SystemExit(
            "bench fastcgi: missing %s (apt-get install apache2 libapache2-mod-fcgid "
            "libapache2-mod-wsgi-py3 nginx spawn-fcgi fcgiwrap python3-venv)" % ", ".join(missing)
        )
    if not load.ensure_wrk():
        raise SystemExit("bench fastcgi: wrk is missing and could not be installed")
    version = subprocess.run(
        [DEBIAN_PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    venv = common.bench_venv(
        version, PACKAGES, suffix="-debian", fresh=args.fresh_venv, interpreter=DEBIAN_PYTHON
    )
    # www-data runs the Apache contenders from this venv: it must be able to enter every folder up to it.
    for parent in [Path(venv.path), *list(Path(venv.path).parents)]:
        if not os.stat(parent).st_mode & 0o001:
            raise SystemExit(
                "bench fastcgi: %s is not world-searchable; www-data cannot run %s"
                % (parent, venv.python)
            )
    connections = args.connections or 4
    size = args.size_mib << 20
    root, site, cgi, run_dir = make_site(venv, size)
    work = common.RESULTS / "work" / "fastcgi"
    work.mkdir(parents=True, exist_ok=True)
    logs = {
        name: str(run_dir / (name + ".log"))
        for name in ("flask", "flask-close", "big", "cgidir", "fcgiwrap")
    }
    env = common.clean_env()
    wsgicgi = str(venv.bin / "wsgicgi")
    backends = {
        "nginx-wsgicgi": SpawnFcgi(
            [wsgicgi, "fcgi", "flaskapp:app"],
            str(run_dir / "flask.sock"),
            children=PROCESSES,
            env=env,
            cwd=str(site),
            log=logs["flask"],
        ),
        "nginx-wsgicgi-close": SpawnFcgi(
            [wsgicgi, "fcgi", "flaskapp:app"],
            str(run_dir / "flask-close.sock"),
            children=PROCESSES,
            env=env,
            cwd=str(site),
            log=logs["flask-close"],
        ),
        "sh-wsgicgi": SpawnFcgi(
            [wsgicgi, "fcgi", "--cgi-dir", str(cgi)],
            str(run_dir / "cgidir.sock"),
            children=PROCESSES,
            env=env,
            cwd=str(cgi),
            log=logs["cgidir"],
        ),
        "sh-fcgiwrap": SpawnFcgi(
            ["/usr/sbin/fcgiwrap"],
            str(run_dir / "fcgiwrap.sock"),
            children=PROCESSES,
            env=env,
            cwd=str(cgi),
            log=logs["fcgiwrap"],
        ),
        "nginx-gunicorn": load.ProcessServer(
            [
                str(venv.bin / "gunicorn"),
                "-w",
                str(PROCESSES),
                "-k",
                "sync",
                "-b",
                "127.0.0.1:{port}",
                "--log-level",
                "warning",
                "flaskapp:app",
            ],
            env,
            str(site),
            str(run_dir / "gunicorn.log"),
        ),
    }
    big = None
    apache = apache_harness.Apache(
        str(site),
        module="cgid",
        extra_conf=APACHE_CONF.format(
            modules=apache_harness.MODULES_DIR, run=run_dir, n=PROCESSES, site=site, venv=venv.path
        ),
    )
    nginx = None
    started = []
    data = {
        "machine": info,
        "python": venv.version,
        "connections": connections,
        "cgi_connections": CGI_CONNECTIONS,
        "duration": args.duration,
        "cgi_duration": max(args.duration, CGI_MIN_SECONDS),
        "rounds": args.rounds,
        "labels": {k: v[1] for k, v in LABELS.items()},
        "results": {},
        "processes": {},
    }
    try:
        for name, server in backends.items():
            log("bench: starting %s" % name)
            server.start()
            started.append(server)
        big = subprocess.Popen(
            [wsgicgi, "fcgi", "bigapp:gen_app", "--bind", "unix:%s/big.sock" % run_dir],
            cwd=str(site),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=open(logs["big"], "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log("bench: starting nginx and Apache")
        nginx = nginx_harness.Nginx(
            NGINX_SERVER.format(params=nginx_harness.FASTCGI_PARAMS, run=run_dir, cgi=cgi),
            http_conf=NGINX_HTTP.format(run=run_dir, gunicorn_port=backends["nginx-gunicorn"].port),
        )
        nginx.start()
        apache.start()
        servers = {"apache": apache, "nginx": nginx}
        names = list(LABELS)
        if args.only:
            keep = set(args.only.split(","))
            names = [n for n in names if n in keep]
        urls = {name: servers[PATHS[name][0]].url(PATHS[name][1]) for name in names}
        for name in names:
            _check(name, urls[name])
            # warm-up: every process of the contender started and serving
            load.wrk(
                urls[name],
                CGI_CONNECTIONS if name == "cgid" else connections,
                3.0 if name == "cgid" else 2.0,
            )
        for name, script in (("fcgid-wsgicgi", "wsgicgi.fcgi"), ("fcgid-flup", "flup.fcgi")):
            if name in names:
                data["processes"][name] = len(_fcgid_processes(str(site / script)))
                if data["processes"][name] != PROCESSES:
                    log(
                        "bench: warning: mod_fcgid runs %d processes of %s, not %d"
                        % (data["processes"][name], script, PROCESSES)
                    )
        samples = {}
        for r in range(args.rounds):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                log("bench: round %d/%d %s" % (r + 1, args.rounds, name))
                if name == "cgid":
                    res = load.wrk(urls[name], CGI_CONNECTIONS, data["cgi_duration"])
                else:
                    res = load.wrk(urls[name], connections, args.duration)
                res.pop("raw", None) if res["rps"] else log(res["raw"])
                res["round"] = r
                samples.setdefault(name, []).append(res)
        for name, runs in samples.items():
            data["results"][name] = {
                "rps": summarize([x["rps"] for x in runs if x["rps"] is not None]),
                "per_round": [x["rps"] for x in runs],
                "requests": sum(x["requests"] for x in runs),
                "errors": sum(x["non2xx"] + x["socket_errors"] for x in runs),
                "p99": summarize([x["p99"] for x in runs if x["p99"] is not None]),
            }
        if args.throughput_runs > 0:
            log("bench: %s through nginx → wsgicgi fcgi" % _size(size))
            target = _Stream(nginx.port, big.pid)
            try:
                rates, before, peak = [], [], []
                for _ in range(min(args.throughput_runs, 3)):
                    rate, b, p = load.download(target, "/big/", size)
                    rates.append(rate), before.append(b), peak.append(p)
                data["stream"] = {
                    "mb_s": summarize(rates),
                    "rss_before": min(before),
                    "rss_peak": max(peak),
                    "bytes": size,
                }
            except (RuntimeError, OSError) as exc:
                data["stream"] = {"error": str(exc)[:300]}
        data["logs"] = {name: _tail(path) for name, path in logs.items()}
        data["logs"]["apache"] = apache.error_log()[-3000:]
        data["logs"]["nginx"] = nginx.error_log()[-3000:]
    finally:
        for server in [nginx, apache, *started[::-1]]:
            if server is None:
                continue
            try:
                (server.cleanup if hasattr(server, "cleanup") else server.stop)()
            except Exception as exc:  # stop the others whatever happens
                log("bench: stopping %r: %s" % (server, exc))
        if big is not None:
            big.terminate()
            try:
                big.wait(10)
            except subprocess.TimeoutExpired:
                big.kill()
                big.wait()
        if args.keep_site:
            log("bench: site kept in %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    common.finish_run("fastcgi", data, t_start, report)
    return data


def _tail(path, size=3000):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-size:]
    except OSError:
        return ""


def ratios(data, ours, theirs):
    """The ratio of the medians, and its spread: the ratio within each round
    (the two ran a few seconds apart), min and max."""
    res = data["results"]
    a, b = res.get(ours), res.get(theirs)
    if not a or not b or not a["rps"] or not b["rps"] or not b["rps"]["median"]:
        return None
    per = [x / y for x, y in zip(a["per_round"], b["per_round"]) if x and y]
    return {
        "median": a["rps"]["median"] / b["rps"]["median"],
        "min": min(per) if per else None,
        "max": max(per) if per else None,
    }


def _fmt_ratio(r):
    if r is None:
        return "–"
    spread = " (%.2f–%.2f)" % (r["min"], r["max"]) if r["min"] is not None else ""
    return "%.2f×%s" % (r["median"], spread)


def report(data):
    res = data["results"]
    when = data["machine"]["date"][:10]
    lines = [
        "### FastCGI (`scripts/bench fastcgi`, %s, %s)" % (when, common.run_state(data)),
        "",
        "Python %s (Debian's, a venv), %s, %d cores; `wrk -t1 -c%d`, %g s × %d rounds per contender, "
        "round-robin (the CGI form: `-c%d`, %g s); 2 app processes per contender; requests/s median and spread "
        "(min–max)."
        % (
            data["python"],
            data["machine"]["cpu"],
            data["machine"]["cores"],
            data["connections"],
            data["duration"],
            data["rounds"],
            data["cgi_connections"],
            data["cgi_duration"],
        ),
        "",
    ]
    rows = []
    for name, (group, label) in LABELS.items():
        r = res.get(name)
        if r is None:
            continue
        rps = r["rps"]
        rows.append(
            [
                GROUPS[group],
                label,
                "%.0f" % rps["median"]
                if rps and rps["median"] >= 100
                else ("%.1f" % rps["median"] if rps else "failed"),
                "%.0f–%.0f" % (rps["min"], rps["max"])
                if rps and rps["median"] >= 100
                else ("%.1f–%.1f" % (rps["min"], rps["max"]) if rps else "–"),
                "%.1f" % (r["p99"]["median"] * 1000) if r["p99"] else "–",
                r["requests"],
                r["errors"],
            ]
        )
    lines.append(
        table(
            ["group", "contender", "req/s", "min–max", "p99 ms", "requests", "errors"],
            rows,
            ["---", "---"] + ["---:"] * 5,
        )
    )
    if data.get("processes"):
        lines += [
            "",
            "mod_fcgid processes after the warm-up: %s."
            % ", ".join("%s %d" % (k, v) for k, v in data["processes"].items()),
        ]
    s = data.get("stream")
    if s:
        lines += [""]
        if "error" in s:
            lines.append(
                "%s through nginx → `wsgicgi fcgi`: failed (%s)" % (_size(1 << 30), s["error"])
            )
        else:
            lines.append(
                "%s through nginx → `wsgicgi fcgi` (a generator of 64 KiB blocks), read as fast as it comes: "
                "%.0f MB/s (median of %d; %.0f–%.0f); RSS of the wsgicgi process %.1f MB before, peak %.1f MB "
                "(+%.1f MB)."
                % (
                    _size(s["bytes"]),
                    s["mb_s"]["median"],
                    s["mb_s"]["n"],
                    s["mb_s"]["min"],
                    s["mb_s"]["max"],
                    s["rss_before"] / MB,
                    s["rss_peak"] / MB,
                    (s["rss_peak"] - s["rss_before"]) / MB,
                )
            )
    lines += [
        "",
        "Targets (issue 10), ratio of medians (spread: the ratio within each round, min–max):",
        "",
    ]
    for text, ok in targets(data):
        lines.append("- %s %s" % ("note" if ok is None else verdict(ok), text))
    return "\n".join(lines) + "\n"


def targets(data):
    out = []
    for ours, theirs, want in TARGETS:
        if ours not in data["results"] and theirs not in data["results"]:
            continue
        r = ratios(data, ours, theirs)
        text = "%s ≥ %g× %s: %s" % (
            LABELS[ours][1],
            want,
            LABELS[theirs][1],
            _fmt_ratio(r) if r else "no measurement",
        )
        out.append((text, bool(r) and r["median"] >= want))
    r = ratios(data, "nginx-wsgicgi-close", "nginx-gunicorn")
    if r:
        out.append(
            (
                "%s ÷ %s: %s"
                % (LABELS["nginx-wsgicgi-close"][1], LABELS["nginx-gunicorn"][1], _fmt_ratio(r)),
                None,
            )
        )
    s = data.get("stream")
    if s and "error" not in s:
        out.append(
            (
                "%s through nginx → `wsgicgi fcgi` at ≥ 1 GB/s: %.0f MB/s"
                % (_size(s["bytes"]), s["mb_s"]["median"]),
                s["mb_s"]["median"] >= STREAM_MB_S,
            )
        )
        growth = s["rss_peak"] - s["rss_before"]
        out.append(
            (
                "RSS of the wsgicgi process flat during it (growth < %d MB): +%.1f MB"
                % (STREAM_RSS_GROWTH // MB, growth / MB),
                growth < STREAM_RSS_GROWTH,
            )
        )
    elif s:
        out.append(("1 GiB through nginx → `wsgicgi fcgi`: failed (%s)" % s["error"], False))
    return out
