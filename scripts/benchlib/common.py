"""Shared pieces of ``scripts/bench``: interpreters, venvs, processes,
statistics and result files.

Every measured process gets a crafted environment (never this process's), so
``PYTHONDONTWRITEBYTECODE`` and ``PYTHONUNBUFFERED`` from the shell do not
reach it and ``.pyc`` files are used.
"""

import datetime
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results"
MB = 1_000_000
CLEAN_PATH = "/usr/local/bin:/usr/bin:/bin"


def log(*args):
    """Progress goes to stderr; stdout carries only the result tables."""
    print(*args, file=sys.stderr, flush=True)


# -- interpreters and venvs ---------------------------------------------------


def real_python(version):
    """The real interpreter of Python ``version`` (never a pyenv shim), or None."""
    try:
        prefix = subprocess.run(
            ["pyenv", "prefix", version], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        prefix = ""
    if prefix:
        candidate = Path(prefix) / "bin" / ("python" + version)
        if os.access(candidate, os.X_OK):
            return str(candidate)
    for directory in os.environ.get("PATH", CLEAN_PATH).split(os.pathsep):
        candidate = Path(directory) / ("python" + version)
        if "shims" not in candidate.parts and os.access(candidate, os.X_OK):
            return str(candidate.resolve())
    return None


class Venv:
    """A bench venv: ``python`` (its bin/python) and ``site`` (site-packages)."""

    def __init__(self, path, base):
        self.path = Path(path)
        self.base = base
        self.python = str(self.path / "bin" / "python")
        self.bin = self.path / "bin"
        self.site = run_text(
            [self.python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
        ).strip()
        self.version = run_text(
            [self.python, "-c", "import sys; print(sys.version.split()[0])"]
        ).strip()

    def compile(self, *paths):
        """Precompile ``paths`` (and site-packages) to ``.pyc``."""
        subprocess.run(
            [self.python, "-m", "compileall", "-q", "-j", "0", self.site, *map(str, paths)],
            env=clean_env(),
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=600,
        )


def run_text(argv, **kwargs):
    return subprocess.run(
        argv, env=clean_env(), capture_output=True, text=True, check=True, timeout=600, **kwargs
    ).stdout


def clean_env(**extra):
    """A minimal environment, as a web server gives its CGI children."""
    env = {"PATH": CLEAN_PATH}
    env.update(extra)
    return env


_READY = {}


def extra_requirements(extra):
    """The requirements of wsgicgi's optional extra ``extra`` (pyproject.toml)."""
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    return list(project.get("optional-dependencies", {}).get(extra, []))


def bench_venv(version, packages=(), *, suffix="", clean_site=False, fresh=False, interpreter=None):
    """Build (or update) ``.venv/bench-VERSION[SUFFIX]`` from the real
    interpreter (pyenv's, never a shim), or from ``interpreter`` (a path:
    Debian's /usr/bin/python3 for what Apache runs as www-data).

    wsgicgi is installed non-editable from a copy of the source tree (so the
    build leaves nothing in the shared work tree) and reinstalled once per
    bench run, so the bench measures the current code.  ``clean_site``: the
    venv is rebuilt if any ``.pth`` file crept into its site-packages (Paste
    and setuptools install some, and every one costs each CGI process its
    start-up time).  Returns a ``Venv``, or None when that Python is missing.
    """
    base = interpreter or real_python(version)
    if base is None:
        return None
    path = ROOT / ".venv" / ("bench-" + version + suffix)
    if str(path) in _READY:
        return _READY[str(path)]
    if path.exists() and clean_site and list(path.glob("lib/python*/site-packages/*.pth")):
        log("bench: %s has .pth files in site-packages; rebuilding it" % path.relative_to(ROOT))
        fresh = True
    if fresh and path.exists():
        shutil.rmtree(path)
    if not (path / "bin" / "python").exists():
        log("bench: creating %s from %s" % (path.relative_to(ROOT), base))
        subprocess.run([base, "-m", "venv", str(path)], env=clean_env(), check=True, timeout=600)
    pip = [
        str(path / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    pip_env = dict(os.environ)
    pip_env.pop("PYTHONDONTWRITEBYTECODE", None)
    pip_env.pop("PYTHONPATH", None)
    if packages:
        subprocess.run(pip + list(packages), env=pip_env, check=True, timeout=900)
    with tempfile.TemporaryDirectory(prefix="wsgicgi-bench-src-") as src:
        for name in ("pyproject.toml", "README.md", "LICENSE"):
            if (ROOT / name).exists():
                shutil.copy2(ROOT / name, src)
        shutil.copytree(
            ROOT / "wsgicgi",
            Path(src) / "wsgicgi",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        subprocess.run(
            [*pip, "--force-reinstall", "--no-deps", src], env=pip_env, check=True, timeout=900
        )
    venv = Venv(path, base)
    venv.compile()
    pth = list(Path(venv.site).glob("*.pth"))
    if clean_site and pth:
        raise SystemExit(
            "bench: %s installs .pth files (%s): the venv is not clean"
            % (", ".join(packages), ", ".join(p.name for p in pth))
        )
    _READY[str(path)] = venv
    return venv


# -- processes ----------------------------------------------------------------


class Result:
    """One measured child: wall and CPU seconds, peak RSS, output."""

    __slots__ = ("body_bytes", "cpu", "maxrss", "output", "status", "wall")

    def __init__(self, wall, cpu, maxrss, status, output, body_bytes):
        self.wall = wall
        self.cpu = cpu
        self.maxrss = maxrss  # bytes, or None when not measured
        self.status = status
        self.output = output
        self.body_bytes = body_bytes


_BUILT = {}


def build_c(name, dest=None):
    """Compile ``benchlib/NAME.c`` (once per run) to ``dest`` (default
    bench-results/work/NAME); its path, or None without a C compiler."""
    exe = Path(dest) if dest else RESULTS / "work" / name
    if str(exe) not in _BUILT:
        src = Path(__file__).with_name(name + ".c")
        exe.parent.mkdir(parents=True, exist_ok=True)
        cc = shutil.which("cc") or shutil.which("gcc")
        ok = exe.exists() and exe.stat().st_mtime >= src.stat().st_mtime
        if not ok and cc:
            ok = subprocess.run([cc, "-O2", "-o", str(exe), str(src)], timeout=120).returncode == 0
        _BUILT[str(exe)] = str(exe) if ok else None
        if not ok:
            log("bench: cannot compile %s (no C compiler?)" % src.name)
    return _BUILT[str(exe)]


def maxrss_tool():
    """The ``maxrss`` launcher, or None without a C compiler: then no RSS is
    reported."""
    return build_c("maxrss")


def spawn(
    argv, env, *, stderr_fd, stdin_bytes=0, keep_output=True, header=False, chunk=1 << 20, rss=False
):
    """Run ``argv`` once as a CGI server would: stdin /dev/null (or a pipe fed
    ``stdin_bytes`` bytes by a thread), stdout a pipe read to EOF, then
    ``wait4`` for its CPU time.  ``header``: the output starts with a CGI
    header block, not counted in ``body_bytes``.  ``rss``: run it through the
    ``maxrss`` launcher to learn its own peak RSS (a child of this process
    would be charged with this process's RSS).
    """
    rss_file = None
    if rss and maxrss_tool():
        rss_file = RESULTS / "work" / "maxrss.out"
        if rss_file.exists():
            rss_file.unlink()
        argv = [maxrss_tool(), str(rss_file), *list(argv)]
    r_out, w_out = os.pipe()
    if stdin_bytes:
        r_in, w_in = os.pipe()
    else:
        r_in, w_in = os.open(os.devnull, os.O_RDONLY), None
    actions = [
        (os.POSIX_SPAWN_DUP2, r_in, 0),
        (os.POSIX_SPAWN_DUP2, w_out, 1),
        (os.POSIX_SPAWN_DUP2, stderr_fd, 2),
    ]
    writer = None
    start = time.perf_counter()
    try:
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    finally:
        os.close(w_out)
        os.close(r_in)
    if w_in is not None:
        writer = threading.Thread(target=_feed, args=(w_in, stdin_bytes, chunk), daemon=True)
        writer.start()
    kept = []
    total = 0
    head = b""
    header_len = None if header else 0
    buf = bytearray(chunk)
    view = memoryview(buf)
    with io.FileIO(r_out, "rb", closefd=True) as pipe:
        while True:
            n = pipe.readinto(buf)
            if not n:
                break
            total += n
            if keep_output:
                kept.append(bytes(view[:n]))
            elif header_len is None and len(head) < 65536:
                head += bytes(view[:n])
                end = head.find(b"\r\n\r\n")
                if end >= 0:
                    header_len = end + 4
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if writer is not None:
        writer.join(60)
    maxrss = None
    if rss_file is not None:
        try:
            maxrss = int(rss_file.read_text()) * 1024
        except (OSError, ValueError):
            pass
    output = b"".join(kept)
    if header_len is None:
        end = output.find(b"\r\n\r\n") if keep_output else -1
        header_len = end + 4 if end >= 0 else 0
    return Result(
        wall,
        usage.ru_utime + usage.ru_stime,
        maxrss,
        os.waitstatus_to_exitcode(status),
        output,
        total - header_len,
    )


def _feed(fd, count, chunk):
    block = memoryview(bytes(range(256)) * (chunk // 256))
    try:
        while count > 0:
            n = os.write(fd, block[: min(chunk, count)])
            count -= n
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)


def callgrind(argv, env, workdir, children=True):
    """Instructions executed by ``argv`` (with ``children``, its children and
    exec'd programs too), counted by valgrind's callgrind; None if valgrind
    is missing."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    outdir = Path(tempfile.mkdtemp(prefix="cg-", dir=workdir))
    try:
        cmd = [
            valgrind,
            "--tool=callgrind",
            "--trace-children=%s" % ("yes" if children else "no"),
            "--callgrind-out-file=%s/cg.%%p" % outdir,
            "--log-file=%s/log.%%p" % outdir,
            *list(argv),
        ]
        proc = subprocess.run(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            timeout=900,
        )
        if proc.returncode != 0:
            return None
        total = 0
        for out in outdir.glob("cg.*"):
            totals = summary = None
            with open(out, "rb") as f:
                for line in f:
                    if line.startswith(b"totals:"):
                        totals = int(line.split()[1])
                    elif line.startswith(b"summary:"):
                        summary = int(line.split()[1])
            total += totals if totals is not None else (summary or 0)
        return total or None
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


# -- statistics and reporting -------------------------------------------------


def summarize(values):
    """Median and spread of a list of numbers."""
    values = sorted(values)
    if not values:
        return None
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return {
        "n": len(values),
        "median": statistics.median(values),
        "min": values[0],
        "q1": q[0],
        "q3": q[2],
        "max": values[-1],
    }


def machine_info():
    """What the numbers depend on: CPU, cores, load, date, commit."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = ""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "kernel": os.uname().release,
        "commit": commit,
    }


def busy(info_before):
    """True when other work was on the machine as the run began (1-minute
    load ≥ 0.5).  The load after a run is mostly the run's own, so it is
    reported, not judged."""
    return info_before["loadavg"][0] >= 0.5


def run_state(data):
    """How quiet the machine was, for a report's title line."""
    if data["busy"]:
        return "busy machine (load %.2f → %.2f): provisional" % (
            data["machine"]["loadavg"][0],
            data["machine_after"]["loadavg"][0],
        )
    return "quiet machine"


def finish_run(name, data, started, report):
    """Close a run begun at monotonic time ``started``: note the machine
    after it, write ``bench-results/NAME*`` and print the report."""
    data["machine_after"] = machine_info()
    data["busy"] = busy(data["machine"])
    data["seconds"] = round(time.monotonic() - started, 1)
    markdown = report(data)
    path = write_results(name, data, markdown)
    print(markdown)
    log("bench: results in %s (%.0f s)" % (path, data["seconds"]))
    return path


def verdict(ok):
    return "PASS" if ok else "MISS"


def write_results(name, data, markdown):
    """Save ``bench-results/NAME-<stamp>.json`` / ``.md`` and ``NAME.json`` /
    ``NAME.md`` (the latest run); return the JSON path."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    text = json.dumps(data, indent=2, default=str) + "\n"
    for stem in (name + "-" + stamp, name):
        (RESULTS / (stem + ".json")).write_text(text)
        (RESULTS / (stem + ".md")).write_text(markdown)
    return RESULTS / (name + "-" + stamp + ".json")


def table(header, rows, align=None):
    """A markdown table."""
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)
