"""FastCGI detection and process life, with real processes and sockets.

- Detection: the one-line script (``python -m wsgicgi APP SCRIPT`` and a real
  executable file with an ``env -S`` shebang) and the two-line form
  (``run(app)``) serve FastCGI when fd 0 is a listening socket, and CGI when
  stdin is a pipe, a file or a connected socket that is also stdout
  (mod_cgid).  A CGI request imports none of the FastCGI machinery.
- Listeners of ``wsgicgi fcgi``: ``--bind unix:`` (mode, group, a stale file,
  a live one, removed at exit), ``--bind HOST:PORT``, systemd's LISTEN_FDS,
  spawn-fcgi -F 2; FCGI_WEB_SERVER_ADDRS.
- Process life: SIGTERM/SIGINT (idle, keep-alive, in flight, ``--grace``),
  ``--max-requests``, ``--threads``, an APP that cannot be loaded, a request
  that raises, and no fd or thread left behind.

Every process is started in its own session and killed at teardown.
"""

import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

import fcgi_client as fc
import pytest
from cgi_output import CGIOutput

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
WAIT = 60.0  # seconds: generous, the machine is shared

APP_SOURCE = r"""
import json, os, sys, time

FORBIDDEN = ("wsgicgi.fcgi", "wsgicgi.fcgiserver", "wsgicgi.fcgicli", "socket", "_socket", "threading", "select")


def forbidden_loaded():
    # Under coverage (scripts/coverage) what coverage.py imported does not count.
    ignored = getattr(sys.modules.get("coverage"), "wsgicgi_preloaded", ())
    return sorted(name for name in FORBIDDEN if name in sys.modules and name not in ignored)


if os.environ.get("FCGI_TEST_ATEXIT"):
    import atexit

    @atexit.register
    def _report():
        sys.stderr.write("MODULES-AT-EXIT %s\n" % json.dumps(forbidden_loaded()))
        sys.stderr.flush()


def _mark(environ, name):
    folder = os.environ.get("FCGI_TEST_DIR")
    if folder and name:
        with open(os.path.join(folder, "started-" + name), "w") as f:
            f.write(str(os.getpid()))


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    route = "/" + path.lstrip("/").split("/", 1)[0]
    query = dict(part.partition("=")[::2] for part in environ.get("QUERY_STRING", "").split("&") if part)
    if route == "/raise":
        raise RuntimeError("the app raised on purpose")
    if route == "/slow":
        _mark(environ, query.get("mark"))
        time.sleep(float(query.get("t", "1")))
    elif route == "/forever":
        _mark(environ, query.get("mark"))
        while True:
            time.sleep(1)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    info = {
        "pid": os.getpid(),
        "multithread": environ["wsgi.multithread"],
        "run_once": environ["wsgi.run_once"],
        "method": environ["REQUEST_METHOD"],
        "body": body.decode("latin-1"),
        "environ": {k: v for k, v in os.environ.items() if k.startswith("LISTEN_")},
        "modules": forbidden_loaded(),
    }
    data = json.dumps(info).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


application = app
"""

BROKEN_SOURCE = r"""
raise ImportError("broken-app-marker: this app cannot be imported")
"""

TWO_LINE_SOURCE = r"""
from wsgicgi import run
from fcgiapp import app
run(app)
"""

# Sets LISTEN_PID to its own pid (what systemd does in the child it forks),
# puts the inherited socket on fd 3, then execs ``python -m wsgicgi fcgi ...``.
SYSTEMD_WRAPPER = r"""
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDNAMES"] = "app"
os.execv(sys.executable, [sys.executable, "-m", "wsgicgi", "fcgi"] + sys.argv[2:])
"""


# -- fixtures and helpers ------------------------------------------------------


@pytest.fixture
def appdir(tmp_path):
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "fcgiapp.py").write_text(APP_SOURCE)
    (folder / "brokenapp.py").write_text(BROKEN_SOURCE)
    (folder / "two.py").write_text(TWO_LINE_SOURCE)
    (folder / "sdwrap.py").write_text(SYSTEMD_WRAPPER)
    marks = tmp_path / "marks"
    marks.mkdir()
    return folder


@pytest.fixture
def sockdir():
    # AF_UNIX paths are limited to 108 bytes: pytest's tmp_path can be longer.
    folder = tempfile.mkdtemp(prefix="wfp", dir="/tmp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def base_env(appdir, **extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LISTEN_", "FCGI_", "WSGICGI_", "PYTHON"))
    }
    env["PYTHONPATH"] = ROOT
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["FCGI_TEST_DIR"] = str(appdir.parent / "marks")
    env.update(extra)
    return env


class Proc:
    """A server process started in its own session, its stderr in a file."""

    def __init__(
        self, argv, appdir, *, stdin=None, stdout=None, env=None, pass_fds=(), address=None
    ):
        self.log_path = str(
            appdir.parent
            / ("log-%d-%d" % (len(os.listdir(str(appdir.parent))), time.monotonic_ns()))
        )
        self.address = address
        self.appdir = appdir
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(
                argv,
                stdin=stdin if stdin is not None else subprocess.DEVNULL,
                stdout=log if stdout is None else stdout,
                stderr=log,
                cwd=str(appdir),
                env=env if env is not None else base_env(appdir),
                pass_fds=pass_fds,
                start_new_session=True,
            )
        self.pid = self.popen.pid
        self.extra_pids = []

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        if self.extra_pids:  # spawn-fcgi exited; its children serve
            return all(_pid_alive(pid) for pid in self.extra_pids)
        return self.popen.poll() is None

    def request(self, path="/env", query="", keep=False, env=None, body=b"", timeout=WAIT):
        e = {"PATH_INFO": path, "QUERY_STRING": query}
        e.update(env or {})
        with fc.connect(self.address, timeout) as sock:
            sock.sendall(fc.request_bytes(e, body))
            return fc.read_response(fc.Reader(sock))

    def info(self, **kw):
        r = self.request("/env", **kw)
        assert r.status == 200, (r.stdout, self.log())
        return json.loads(r.body)

    def wait_ready(self, timeout=WAIT):
        """Poll until a request is answered (the app is loaded, the signal
        handlers installed)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(
                    "server exited with %s: %s" % (self.popen.returncode, self.log())
                )
            try:
                return self.request("/env", timeout=5)
            except (OSError, AssertionError) as exc:
                last = exc
                time.sleep(0.05)
        raise AssertionError("server not ready after %g s: %r\n%s" % (timeout, last, self.log()))

    def signal(self, signum):
        os.kill(self.pid, signum)

    def wait(self, timeout=WAIT):
        return self.popen.wait(timeout)

    def kill(self):
        if os.environ.get("WSGICGI_COVERAGE"):
            # SIGTERM first: a process that exits saves its coverage data.
            for pid in [*self.extra_pids, self.pid]:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and (
                self.popen.poll() is None or any(_pid_alive(p) for p in self.extra_pids)
            ):
                time.sleep(0.02)
        for pid in self.extra_pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.popen.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self.popen.kill()
            except OSError:
                pass
        try:
            self.popen.wait(WAIT)
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture
def procs():
    started = []
    yield started
    for proc in started:
        proc.kill()


def unix_listener(sockdir, name="fd0.sock"):
    path = os.path.join(sockdir, name)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(64)
    return sock, path


def tcp_listener(host="127.0.0.1"):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen(64)
    return sock, sock.getsockname()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_fd0(procs, appdir, sockdir, argv_tail, *, env=None, name="fd0.sock"):
    """Start a process with a listening unix socket as fd 0."""
    listener, path = unix_listener(sockdir, name)
    try:
        proc = Proc(argv_tail, appdir, stdin=listener, env=env, address=path)
    finally:
        listener.close()
    procs.append(proc)
    return proc


def one_line(appdir, app="fcgiapp:app"):
    return [PY, "-m", "wsgicgi", app, str(appdir / "app.fcgi")]


def fcgi_cmd(*args):
    return [PY, "-m", "wsgicgi", "fcgi", *list(args)]


def start_fcgi(procs, appdir, sockdir, *args, env=None, name="fcgi.sock"):
    """``wsgicgi fcgi fcgiapp:app --bind unix:PATH ARGS``, started and ready."""
    path = os.path.join(sockdir, name)
    proc = Proc(
        fcgi_cmd("fcgiapp:app", "--bind", "unix:" + path, *args), appdir, env=env, address=path
    )
    procs.append(proc)
    proc.wait_ready()
    return proc


def wait_for(predicate, timeout=WAIT, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting for %s" % what)


def marks_dir(appdir):
    return appdir.parent / "marks"


def wait_started(appdir, name, proc=None):
    path = marks_dir(appdir) / ("started-" + name)

    def seen():
        if proc is not None and not proc.alive():
            raise AssertionError("server died: %s" % proc.log())
        return path.exists()

    wait_for(seen, what="the app to start request %s" % name)


class Background:
    """A request sent from a thread, its Result (or exception) kept."""

    def __init__(self, proc, path, query="", keep=False):
        self.result = None
        self.error = None
        self.thread = threading.Thread(
            target=self._run, args=(proc, path, query, keep), daemon=True
        )
        self.thread.start()

    def _run(self, proc, path, query, keep):
        try:
            self.result = proc.request(path, query=query, keep=keep)
        except BaseException as exc:
            self.error = exc

    def get(self, timeout=WAIT):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "request still running"
        if self.error is not None:
            raise self.error
        return self.result


def cgi_env(appdir, **extra):
    env = base_env(appdir)
    env.update(
        {
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REQUEST_METHOD": "POST",
            "SCRIPT_NAME": "/app.cgi",
            "PATH_INFO": "/env",
            "QUERY_STRING": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_TYPE": "text/plain",
            "CONTENT_LENGTH": "11",
        }
    )
    env.update(extra)
    return env


# -- detection -----------------------------------------------------------------


def _shebang_script(appdir):
    script = appdir / "app.fcgi"
    script.write_text("#!/usr/bin/env -S %s -m wsgicgi fcgiapp:app\n" % PY)
    script.chmod(0o755)
    return script


FORMS = ["one-line", "shebang", "two-line"]


def form_argv(form, appdir):
    if form == "one-line":
        (appdir / "app.fcgi").write_text("# the SCRIPT argument\n")
        return one_line(appdir)
    if form == "shebang":
        return [str(_shebang_script(appdir))]
    return [PY, str(appdir / "two.py")]


@pytest.mark.parametrize("form", FORMS)
def test_listening_socket_on_fd0_serves_fastcgi(form, appdir, sockdir, procs):
    proc = start_fd0(procs, appdir, sockdir, form_argv(form, appdir))
    proc.wait_ready()
    first = proc.info()
    second = proc.info(env={"REQUEST_METHOD": "POST"}, body=b"hello fcgi")
    assert first["pid"] == second["pid"] == proc.pid  # one process, kept warm
    assert first["run_once"] is False
    assert second["body"] == "hello fcgi"
    assert proc.alive()
    proc.signal(signal.SIGTERM)
    assert proc.wait() == 0


@pytest.mark.parametrize("form", FORMS)
def test_tcp_listening_socket_on_fd0_serves_fastcgi(form, appdir, procs):
    listener, address = tcp_listener()
    try:
        proc = Proc(form_argv(form, appdir), appdir, stdin=listener, address=address)
    finally:
        listener.close()
    procs.append(proc)
    proc.wait_ready()
    assert proc.info()["pid"] == proc.pid


def _check_cgi_answer(raw, proc_log="", allowed=()):
    out = CGIOutput(raw)
    assert out.code == 200, (raw, proc_log)
    info = json.loads(out.body)
    assert info["run_once"] is True
    assert info["method"] == "POST"
    assert info["body"] == "hello world"
    # None of the FastCGI machinery, not even _socket under mod_cgid (its
    # socket on fd 0 and 1 with the CGI variables set is known without it).
    assert [m for m in info["modules"] if m not in allowed] == [], info["modules"]
    return info


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.imports
def test_pipe_on_stdin_is_cgi(form, appdir):
    proc = subprocess.run(
        form_argv(form, appdir),
        input=b"hello world",
        capture_output=True,
        cwd=str(appdir),
        env=cgi_env(appdir),
        timeout=WAIT,
    )
    assert proc.returncode == 0, proc.stderr
    _check_cgi_answer(proc.stdout, proc.stderr)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.imports
def test_file_on_stdin_is_cgi(form, appdir, tmp_path):
    body = tmp_path / "body"
    body.write_bytes(b"hello world")
    with open(str(body), "rb") as stdin:
        proc = subprocess.run(
            form_argv(form, appdir),
            stdin=stdin,
            capture_output=True,
            cwd=str(appdir),
            env=cgi_env(appdir),
            timeout=WAIT,
        )
    assert proc.returncode == 0, proc.stderr
    _check_cgi_answer(proc.stdout, proc.stderr)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.imports
def test_connected_socket_as_stdin_and_stdout_is_cgi(form, appdir, tmp_path):
    """mod_cgid: one end of a connected unix socket is the script's stdin and
    stdout; the CGI answer comes back on that socket."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    errlog = tmp_path / "stderr"
    try:
        with open(str(errlog), "wb") as err:
            proc = subprocess.Popen(
                form_argv(form, appdir),
                stdin=theirs,
                stdout=theirs,
                stderr=err,
                cwd=str(appdir),
                env=cgi_env(appdir),
                start_new_session=True,
            )
        theirs.close()
        try:
            ours.settimeout(WAIT)
            ours.sendall(b"hello world")
            chunks = []
            while True:
                data = ours.recv(65536)
                if not data:
                    break
                chunks.append(data)
            assert proc.wait(WAIT) == 0, errlog.read_text()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        _check_cgi_answer(b"".join(chunks), errlog.read_text())
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("form", ["import", "one-line", "two-line"])
@pytest.mark.imports
def test_cgi_request_imports_no_fastcgi_machinery(form, appdir):
    """``import wsgicgi`` and a whole CGI request pull in none of the FastCGI
    modules, nor socket, threading or select (checked at the app's call and
    again at exit)."""
    if form == "import":
        code = (
            "import sys, wsgicgi; "
            "ignored = getattr(sys.modules.get('coverage'), 'wsgicgi_preloaded', ()); "
            "print(sorted(m for m in ('wsgicgi.fcgi', 'wsgicgi.fcgiserver', 'wsgicgi.fcgicli', "
            "'socket', 'threading', 'select') if m in sys.modules and m not in ignored))"
        )
        proc = subprocess.run(
            [PY, "-c", code],
            capture_output=True,
            cwd=str(appdir),
            env=base_env(appdir),
            timeout=WAIT,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == b"[]"
        return
    proc = subprocess.run(
        form_argv(form, appdir),
        input=b"hello world",
        capture_output=True,
        cwd=str(appdir),
        env=cgi_env(appdir, FCGI_TEST_ATEXIT="1"),
        timeout=WAIT,
    )
    assert proc.returncode == 0, proc.stderr
    info = _check_cgi_answer(proc.stdout, proc.stderr)
    assert info["modules"] == []
    assert b"MODULES-AT-EXIT []" in proc.stderr, proc.stderr


@pytest.mark.parametrize("form", FORMS)
def test_listening_socket_as_stdin_and_stdout_serves_fastcgi(form, appdir, sockdir, procs):
    """A systemd socket unit with StandardInput=socket: stdout defaults to
    the same listening socket ("inherit").  Still FastCGI, not mod_cgid."""
    listener, path = unix_listener(sockdir, "sd0.sock")
    try:
        proc = Proc(form_argv(form, appdir), appdir, stdin=listener, stdout=listener, address=path)
    finally:
        listener.close()
    procs.append(proc)
    proc.wait_ready()
    assert proc.info()["pid"] == proc.pid


@pytest.mark.parametrize("form", ["one-line", "two-line"])
def test_connected_socket_as_stdin_and_stdout_without_cgi_variables_is_cgi(form, appdir, tmp_path):
    """The same connected socket on fd 0 and 1 is CGI even when the
    environment does not look like one (the answer: a 400 on that socket,
    not a FastCGI server)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    env = base_env(appdir)
    try:
        proc = subprocess.Popen(
            form_argv(form, appdir),
            stdin=theirs,
            stdout=theirs,
            stderr=subprocess.PIPE,
            cwd=str(appdir),
            env=env,
            start_new_session=True,
        )
        theirs.close()
        try:
            ours.settimeout(WAIT)
            ours.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                chunk = ours.recv(65536)
                if not chunk:
                    break
                data += chunk
            proc.wait(WAIT)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    finally:
        ours.close()
        theirs.close()
    assert data.startswith(b"Status: "), (data, proc.stderr.read())


@pytest.mark.imports
def test_connected_socket_stdin_only_is_not_fastcgi(appdir, tmp_path):
    """A connected socket as stdin (stdout a pipe) is not a listening socket:
    still CGI."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        ours.sendall(b"hello world")
        ours.shutdown(socket.SHUT_WR)
        proc = subprocess.run(
            one_line(appdir),
            stdin=theirs,
            capture_output=True,
            cwd=str(appdir),
            env=cgi_env(appdir),
            timeout=WAIT,
        )
    finally:
        ours.close()
        theirs.close()
    assert proc.returncode == 0, proc.stderr
    _check_cgi_answer(proc.stdout, proc.stderr, allowed=("_socket",))  # asked the socket


@pytest.mark.parametrize("form", ["one-line", "two-line"])
def test_closed_stdin_is_cgi_without_a_body(form, appdir):
    """fd 0 closed: not a listening socket, so CGI, with an empty body (not a
    crash on sys.stdin being None)."""
    proc = subprocess.run(
        form_argv(form, appdir),
        capture_output=True,
        cwd=str(appdir),
        env=cgi_env(appdir, REQUEST_METHOD="GET", CONTENT_LENGTH=""),
        timeout=WAIT,
        preexec_fn=lambda: os.close(0),
    )
    assert proc.returncode == 0, proc.stderr
    out = CGIOutput(proc.stdout)
    assert out.code == 200, proc.stderr
    info = json.loads(out.body)
    assert (info["method"], info["body"], info["run_once"]) == ("GET", "", True)


# -- listeners -----------------------------------------------------------------


def test_bind_unix_mode_group_and_removed_at_exit(appdir, sockdir, procs):
    proc = start_fcgi(procs, appdir, sockdir, "--socket-mode", "660", "--socket-group", "www-data")
    info = os.stat(proc.address)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o660
    import grp

    assert info.st_gid == grp.getgrnam("www-data").gr_gid
    assert proc.info()["pid"] == proc.pid
    proc.signal(signal.SIGTERM)
    assert proc.wait() == 0
    assert not os.path.exists(proc.address)


def test_bind_unix_numeric_group(appdir, sockdir, procs):
    proc = start_fcgi(procs, appdir, sockdir, "--socket-mode", "600", "--socket-group", "33")
    info = os.stat(proc.address)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_gid == 33


def test_bind_unix_unknown_group_is_a_clear_error(appdir, sockdir):
    path = os.path.join(sockdir, "g.sock")
    proc = subprocess.run(
        fcgi_cmd("fcgiapp:app", "--bind", "unix:" + path, "--socket-group", "no-such-group-xyz"),
        capture_output=True,
        cwd=str(appdir),
        env=base_env(appdir),
        timeout=WAIT,
    )
    assert proc.returncode == 2, proc.stderr
    assert b"no-such-group-xyz" in proc.stderr
    assert not os.path.exists(path)


def test_stale_socket_file_of_a_killed_process_is_replaced(appdir, sockdir, procs):
    first = start_fcgi(procs, appdir, sockdir)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert stat.S_ISSOCK(os.lstat(first.address).st_mode)  # left behind
    second = start_fcgi(procs, appdir, sockdir)
    assert second.info()["pid"] == second.pid
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    assert not os.path.exists(second.address)


def test_live_socket_is_refused_with_exit_2(appdir, sockdir, procs):
    first = start_fcgi(procs, appdir, sockdir)
    proc = subprocess.run(
        fcgi_cmd("fcgiapp:app", "--bind", "unix:" + first.address),
        capture_output=True,
        cwd=str(appdir),
        env=base_env(appdir),
        timeout=WAIT,
    )
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.decode()
    assert "another server is listening" in err and first.address in err, err
    assert "Traceback" not in err
    # The first server is untouched: its socket still there and served.
    assert first.info()["pid"] == first.pid
    first.signal(signal.SIGTERM)
    assert first.wait() == 0
    assert not os.path.exists(first.address)


def test_bind_over_a_regular_file_is_refused(appdir, sockdir):
    path = os.path.join(sockdir, "file.sock")
    with open(path, "w") as f:
        f.write("not a socket")
    proc = subprocess.run(
        fcgi_cmd("fcgiapp:app", "--bind", "unix:" + path),
        capture_output=True,
        cwd=str(appdir),
        env=base_env(appdir),
        timeout=WAIT,
    )
    assert proc.returncode == 2, proc.stderr
    assert b"not a socket" in proc.stderr
    with open(path) as f:
        assert f.read() == "not a socket"


def test_bind_errors_are_clear_with_exit_2(appdir, sockdir):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    cases = {
        "unix:%s/no/such/dir.sock" % sockdir: "No such file",
        "127.0.0.1:%d" % taken.getsockname()[1]: "in use",
        "nonsense": "unix:PATH or HOST:PORT",
        "unix:": "needs a path",
    }
    try:
        for bind, expected in cases.items():
            proc = subprocess.run(
                fcgi_cmd("fcgiapp:app", "--bind", bind),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                cwd=str(appdir),
                env=base_env(appdir),
                timeout=WAIT,
            )
            err = proc.stderr.decode()
            assert proc.returncode == 2, (bind, err)
            assert expected in err and "Traceback" not in err, (bind, err)
    finally:
        taken.close()


def _start_tcp(procs, appdir, env=None, *args):
    for _ in range(5):
        port = free_port()
        proc = Proc(
            fcgi_cmd("fcgiapp:app", "--bind", "127.0.0.1:%d" % port, *args),
            appdir,
            env=env,
            address=("127.0.0.1", port),
        )
        procs.append(proc)
        try:
            wait_for(lambda proc=proc: _connectable(proc), what="the TCP listener")
        except AssertionError:
            if "Address already in use" in proc.log():
                continue  # another test took the port meanwhile
            raise
        return proc
    raise AssertionError("no free port")


def _connectable(proc):
    if not proc.alive():
        if "Address already in use" in proc.log():
            raise AssertionError("port taken")
        raise AssertionError("server exited: %s" % proc.log())
    try:
        with socket.create_connection(proc.address, timeout=5):
            return True
    except OSError:
        return False


def test_bind_tcp(appdir, procs):
    proc = _start_tcp(procs, appdir)
    proc.wait_ready()
    assert proc.info()["pid"] == proc.pid
    proc.signal(signal.SIGTERM)
    assert proc.wait() == 0


def test_systemd_socket_activation(appdir, sockdir, procs):
    listener, path = unix_listener(sockdir, "sd.sock")
    fd = listener.fileno()
    try:
        proc = Proc(
            [PY, str(appdir / "sdwrap.py"), str(fd), "fcgiapp:app"],
            appdir,
            pass_fds=(fd,),
            address=path,
        )
    finally:
        listener.close()
    procs.append(proc)
    proc.wait_ready()
    info = proc.info()
    assert info["pid"] == proc.pid  # the wrapper exec'd: the same pid
    assert info["environ"] == {}  # LISTEN_FDS / LISTEN_PID not passed on to the app
    proc.signal(signal.SIGTERM)
    assert proc.wait() == 0


def test_listen_fds_for_another_pid_is_ignored(appdir):
    """LISTEN_PID of another process: the sockets are not this process's; with
    no listening fd 0 either, a clear error and exit 2."""
    env = base_env(appdir, LISTEN_FDS="1", LISTEN_PID="1")
    proc = subprocess.run(
        fcgi_cmd("fcgiapp:app"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        cwd=str(appdir),
        env=env,
        timeout=WAIT,
    )
    assert proc.returncode == 2, proc.stderr
    assert b"LISTEN_FDS" in proc.stderr
    assert b"Traceback" not in proc.stderr


def test_no_listener_is_a_clear_error(appdir):
    proc = subprocess.run(
        fcgi_cmd("fcgiapp:app"),
        stdin=subprocess.PIPE,
        capture_output=True,
        cwd=str(appdir),
        env=base_env(appdir),
        timeout=WAIT,
    )
    assert proc.returncode == 2, proc.stderr
    assert b"not a listening socket" in proc.stderr


def _pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not shutil.which("spawn-fcgi"), reason="spawn-fcgi not installed")
def test_spawn_fcgi_two_processes_share_one_socket(appdir, sockdir, procs):
    path = os.path.join(sockdir, "spawn.sock")
    pidfile = os.path.join(sockdir, "spawn.pid")
    proc = Proc(
        ["spawn-fcgi", "-s", path, "-F", "2", "-P", pidfile, "--", *fcgi_cmd("fcgiapp:app")],
        appdir,
        address=path,
    )
    procs.append(proc)
    assert proc.wait() == 0, proc.log()
    children = [int(line) for line in open(pidfile).read().split()]
    proc.extra_pids = children
    assert len(children) == 2, children
    proc.wait_ready()
    # Two slow requests at once: each process serves one connection at a
    # time, so both must answer; then many more, all from these two.
    seen = set()
    deadline = time.monotonic() + WAIT
    while len(seen) < 2 and time.monotonic() < deadline:
        pending = [Background(proc, "/slow", "t=0.5") for _ in range(2)]
        for request in pending:
            seen.add(json.loads(request.get().body)["pid"])
    for _ in range(20):
        seen.add(proc.info()["pid"])
    assert seen == set(children)
    for pid in children:
        os.kill(pid, signal.SIGTERM)
    for pid in children:
        wait_for(lambda pid=pid: not _pid_alive(pid), what="pid %d to exit" % pid)


# -- FCGI_WEB_SERVER_ADDRS -------------------------------------------------------


def _refused_lines(proc):
    return [line for line in proc.log().splitlines() if "FCGI_WEB_SERVER_ADDRS" in line]


def test_web_server_addrs_refuses_other_addresses(appdir, procs):
    proc = _start_tcp(procs, appdir, base_env(appdir, FCGI_WEB_SERVER_ADDRS="127.0.0.2"))
    wait_for(lambda: _refused_lines(proc), what="the probe's refusal")  # _connectable's probe
    before = len(_refused_lines(proc))
    with fc.connect(proc.address) as sock:
        try:
            sock.sendall(fc.request_bytes({"PATH_INFO": "/env"}))
            got = sock.recv(65536)
        except ConnectionResetError:
            got = b""
    assert got == b""  # closed, nothing answered
    wait_for(lambda: len(_refused_lines(proc)) == before + 1, what="one log line")
    line = _refused_lines(proc)[-1]
    assert "127.0.0.1" in line
    # A connection from an allowed address (127.0.0.2 is on lo too) is served.
    with socket.socket() as sock:
        sock.settimeout(WAIT)
        sock.bind(("127.0.0.2", 0))
        sock.connect(proc.address)
        sock.sendall(fc.request_bytes({"PATH_INFO": "/env"}))
        result = fc.read_response(fc.Reader(sock))
    assert result.status == 200
    assert json.loads(result.body)["pid"] == proc.pid
    assert len(_refused_lines(proc)) == before + 1
    assert proc.alive()


def test_web_server_addrs_with_the_one_line_script_on_fd0(appdir, procs):
    """spawn-fcgi -p PORT / mod_fcgid over TCP: the one-line script honours
    FCGI_WEB_SERVER_ADDRS too."""
    (appdir / "app.fcgi").write_text("# SCRIPT\n")
    listener, address = tcp_listener()
    try:
        proc = Proc(
            one_line(appdir),
            appdir,
            stdin=listener,
            address=address,
            env=base_env(appdir, FCGI_WEB_SERVER_ADDRS="127.0.0.2"),
        )
    finally:
        listener.close()
    procs.append(proc)
    with fc.connect(address) as sock:
        try:
            sock.sendall(fc.request_bytes({"PATH_INFO": "/env"}))
            got = sock.recv(65536)
        except ConnectionResetError:
            got = b""
    assert got == b""
    wait_for(lambda: len(_refused_lines(proc)) == 1, what="one log line")
    with socket.socket() as sock:
        sock.settimeout(WAIT)
        sock.bind(("127.0.0.2", 0))
        sock.connect(address)
        sock.sendall(fc.request_bytes({"PATH_INFO": "/env"}))
        assert fc.read_response(fc.Reader(sock)).status == 200
    assert len(_refused_lines(proc)) == 1


def _ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_bind_ipv6_with_web_server_addrs(appdir, procs):
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    proc = Proc(
        fcgi_cmd("fcgiapp:app", "--bind", "[::1]:%d" % port),
        appdir,
        address=None,
        env=base_env(appdir, FCGI_WEB_SERVER_ADDRS="::1"),
    )
    procs.append(proc)

    def request():
        with socket.socket(socket.AF_INET6) as sock:
            sock.settimeout(WAIT)
            sock.connect(("::1", port))
            sock.sendall(fc.request_bytes({"PATH_INFO": "/env"}))
            return fc.read_response(fc.Reader(sock))

    def ready():
        assert proc.alive(), proc.log()
        try:
            return request()
        except OSError:
            return None

    result = wait_for(ready, what="the IPv6 listener")
    assert result.status == 200
    assert json.loads(result.body)["pid"] == proc.pid
    assert _refused_lines(proc) == []


def test_web_server_addrs_listed_is_served(appdir, procs):
    proc = _start_tcp(procs, appdir, base_env(appdir, FCGI_WEB_SERVER_ADDRS="10.0.0.1, 127.0.0.1"))
    proc.wait_ready()
    assert proc.info()["pid"] == proc.pid
    assert _refused_lines(proc) == []


def test_web_server_addrs_not_applied_to_unix_sockets(appdir, sockdir, procs):
    proc = start_fcgi(
        procs, appdir, sockdir, env=base_env(appdir, FCGI_WEB_SERVER_ADDRS="127.0.0.2")
    )
    assert proc.info()["pid"] == proc.pid


# -- signals ---------------------------------------------------------------------

SIGNALS = [signal.SIGTERM, signal.SIGINT]
THREADS = [1, 4]


def _timed_exit(proc, signum):
    start = time.monotonic()
    proc.signal(signum)
    code = proc.wait()
    return code, time.monotonic() - start


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("signum", SIGNALS, ids=["TERM", "INT"])
def test_signal_idle_exits_promptly(signum, threads, appdir, sockdir, procs):
    proc = start_fcgi(procs, appdir, sockdir, "--threads", str(threads))
    code, elapsed = _timed_exit(proc, signum)
    assert code == 0, proc.log()
    assert elapsed < 2.0, elapsed
    assert "Traceback" not in proc.log()


@pytest.mark.parametrize("signum", SIGNALS, ids=["TERM", "INT"])
def test_signal_idle_one_line_script_exits_promptly(signum, appdir, sockdir, procs):
    proc = start_fd0(procs, appdir, sockdir, form_argv("one-line", appdir))
    proc.wait_ready()
    code, elapsed = _timed_exit(proc, signum)
    assert code == 0, proc.log()
    assert elapsed < 2.0, elapsed
    assert "Traceback" not in proc.log()


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("signum", SIGNALS, ids=["TERM", "INT"])
def test_signal_with_idle_keepalive_connection_exits_promptly(
    signum, threads, appdir, sockdir, procs
):
    proc = start_fcgi(procs, appdir, sockdir, "--threads", str(threads))
    with fc.connect(proc.address, WAIT) as sock:
        reader = fc.Reader(sock)
        sock.sendall(fc.request_bytes({"PATH_INFO": "/env"}, keep=True))
        assert fc.read_response(reader).status == 200
        code, elapsed = _timed_exit(proc, signum)
        assert code == 0, proc.log()
        assert elapsed < 2.0, elapsed
        assert reader.record() is None  # the idle connection was closed
    assert "Traceback" not in proc.log()


@pytest.mark.parametrize("signum", SIGNALS, ids=["TERM", "INT"])
def test_signal_with_every_thread_on_an_idle_keepalive_connection(signum, appdir, sockdir, procs):
    """--threads 4 and 4 idle kept connections (nginx's upstream keepalive):
    every worker waits in recv and the main thread waits for a free slot; the
    signal must still stop the process at once, whichever thread the kernel
    hands it to."""
    proc = start_fcgi(procs, appdir, sockdir, "--threads", "4")
    socks = []
    try:
        for _ in range(4):
            sock = fc.connect(proc.address, WAIT)
            socks.append(sock)
            sock.sendall(fc.request_bytes({"PATH_INFO": "/env"}, keep=True))
            assert fc.read_response(fc.Reader(sock)).status == 200
        code, elapsed = _timed_exit(proc, signum)
        assert code == 0, proc.log()
        assert elapsed < 2.0, elapsed
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("signum", SIGNALS, ids=["TERM", "INT"])
def test_signal_lets_requests_in_flight_finish(signum, threads, appdir, sockdir, procs):
    proc = start_fcgi(procs, appdir, sockdir, "--threads", str(threads))
    count = 1 if threads == 1 else 3
    pending = [
        Background(proc, "/slow", "t=1.5&mark=r%d" % i, keep=bool(i % 2)) for i in range(count)
    ]
    for i in range(count):
        wait_started(appdir, "r%d" % i, proc)
    proc.signal(signum)
    for request in pending:
        result = request.get()
        assert result.status == 200, result.stdout
        assert result.protocol_status == 0
        assert json.loads(result.body)["pid"] == proc.pid
    assert proc.wait() == 0, proc.log()
    assert "Traceback" not in proc.log()


@pytest.mark.parametrize("threads", THREADS)
def test_signal_while_the_body_is_uploading(threads, appdir, sockdir, procs):
    """A request whose body is still arriving is in flight: it completes."""
    proc = start_fcgi(procs, appdir, sockdir, "--threads", str(threads))
    body = b"0123456789" * 1000
    env = dict(fc.BASE, PATH_INFO="/env", REQUEST_METHOD="POST", CONTENT_LENGTH=str(len(body)))
    with fc.connect(proc.address, WAIT) as sock:
        sock.sendall(fc.begin(1) + fc.params(1, env) + fc.rec(fc.STDIN, 1, body[:5000]))
        time.sleep(0.5)  # the app is reading wsgi.input
        proc.signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.alive(), proc.log()
        sock.sendall(fc.rec(fc.STDIN, 1, body[5000:]) + fc.rec(fc.STDIN, 1))
        result = fc.read_response(fc.Reader(sock))
    assert result.status == 200, (result.stdout, proc.log())
    assert json.loads(result.body)["body"] == body.decode()
    assert proc.wait() == 0, proc.log()


@pytest.mark.parametrize("threads", THREADS)
def test_signal_no_new_requests_while_stopping(threads, appdir, sockdir, procs):
    """A request in flight finishes; the process then exits without serving
    more (a connection made meanwhile gets no answer)."""
    proc = start_fcgi(procs, appdir, sockdir, "--threads", str(threads))
    slow = Background(proc, "/slow", "t=1.5&mark=inflight")
    wait_started(appdir, "inflight", proc)
    proc.signal(signal.SIGTERM)
    wait_for(lambda: "stopping" in proc.log(), what="the stop")
    with fc.connect(proc.address, WAIT) as late:  # still in the listen backlog
        late.sendall(fc.request_bytes({"PATH_INFO": "/env"}))
        assert slow.get().status == 200
        assert proc.wait() == 0
        try:
            assert fc.Reader(late).record() is None  # closed, never answered
        except ConnectionResetError:
            pass
    with pytest.raises(OSError):
        fc.connect(proc.address, 5)  # the socket file is gone with the process


@pytest.mark.parametrize("threads", THREADS)
def test_grace_period_ends_a_request_that_never_ends(threads, appdir, sockdir, procs):
    proc = start_fcgi(procs, appdir, sockdir, "--threads", str(threads), "--grace", "1")
    with fc.connect(proc.address, WAIT) as sock:
        sock.sendall(fc.request_bytes({"PATH_INFO": "/forever", "QUERY_STRING": "mark=forever"}))
        wait_started(appdir, "forever", proc)
        code, elapsed = _timed_exit(proc, signal.SIGTERM)
        assert code == 0, proc.log()
        assert 0.8 <= elapsed < 3.0, elapsed
        # The connection is closed without an END_REQUEST.
        reader = fc.Reader(sock)
        while True:
            rec = reader.record()
            if rec is None:
                break
            assert rec[0] != fc.END, rec
    assert "still running" in proc.log()
    assert not os.path.exists(proc.address)  # --bind unix: removed even then


# -- --max-requests ----------------------------------------------------------------


@pytest.mark.parametrize("threads", THREADS)
def test_max_requests_exits_after_n(threads, appdir, sockdir, procs):
    path = os.path.join(sockdir, "max.sock")
    proc = Proc(
        fcgi_cmd(
            "fcgiapp:app",
            "--bind",
            "unix:" + path,
            "--threads",
            str(threads),
            "--max-requests",
            "7",
        ),
        appdir,
        address=path,
    )
    procs.append(proc)
    wait_for(lambda: os.path.exists(path) or not proc.alive(), what="the socket")
    assert proc.alive(), proc.log()
    results = [proc.request("/env") for _ in range(3)]  # 3 in turn
    pending = [Background(proc, "/slow", "t=0.3") for _ in range(4)]  # 4 at once
    results += [request.get() for request in pending]
    assert [r.status for r in results] == [200] * 7
    assert {json.loads(r.body)["pid"] for r in results} == {proc.pid}
    assert proc.wait() == 0, proc.log()
    assert "max-requests" in proc.log()
    assert not os.path.exists(path)


def test_max_requests_on_one_keepalive_connection(appdir, sockdir, procs):
    path = os.path.join(sockdir, "maxk.sock")
    proc = Proc(
        fcgi_cmd("fcgiapp:app", "--bind", "unix:" + path, "--max-requests", "5"),
        appdir,
        address=path,
    )
    procs.append(proc)
    wait_for(lambda: os.path.exists(path) or not proc.alive(), what="the socket")
    with fc.connect(path, WAIT) as sock:
        reader = fc.Reader(sock)
        for rid in range(1, 6):
            sock.sendall(fc.request_bytes({"PATH_INFO": "/env"}, rid=rid, keep=True))
            assert fc.read_response(reader, rid).status == 200
        assert reader.record() is None  # closed after the 5th
    assert proc.wait() == 0, proc.log()


# -- --threads -------------------------------------------------------------------


def _get_values(address, names):
    with fc.connect(address, WAIT) as sock:
        sock.sendall(fc.rec(fc.GET_VALUES, 0, fc.nv([(n, b"") for n in names])))
        rtype, rid, content = fc.Reader(sock).record()
    assert (rtype, rid) == (fc.GET_VALUES_RESULT, 0)
    values = {}
    i = 0
    while i < len(content):
        lengths = []
        for _ in range(2):
            if content[i] >> 7:
                lengths.append(struct.unpack(">I", content[i : i + 4])[0] & 0x7FFFFFFF)
                i += 4
            else:
                lengths.append(content[i])
                i += 1
        name = content[i : i + lengths[0]]
        i += lengths[0]
        values[name] = content[i : i + lengths[1]]
        i += lengths[1]
    return values


@pytest.mark.parametrize("threads", [1, 4])
def test_threads_values_and_multithread(threads, appdir, sockdir, procs):
    proc = start_fcgi(procs, appdir, sockdir, "--threads", str(threads))
    assert proc.info()["multithread"] is (threads > 1)
    values = _get_values(proc.address, [b"FCGI_MAX_CONNS", b"FCGI_MAX_REQS", b"FCGI_MPXS_CONNS"])
    n = str(threads).encode()
    assert values == {b"FCGI_MAX_CONNS": n, b"FCGI_MAX_REQS": n, b"FCGI_MPXS_CONNS": b"0"}


def test_threads_serve_slow_requests_at_once(appdir, sockdir, procs):
    proc = start_fcgi(procs, appdir, sockdir, "--threads", "4")
    proc.info()
    start = time.monotonic()
    pending = [Background(proc, "/slow", "t=1.5") for _ in range(4)]
    results = [request.get() for request in pending]
    elapsed = time.monotonic() - start
    assert [r.status for r in results] == [200] * 4
    assert elapsed < 4.5, elapsed  # one after another would take 6 s
    assert {json.loads(r.body)["multithread"] for r in results} == {True}


def test_cgi_dir_scripts_start_with_no_blocked_signal(appdir, sockdir, procs, tmp_path):
    """The worker threads block SIGTERM/SIGINT (so that the main thread gets
    them); the CGI scripts they start must not inherit that mask."""
    cgi = tmp_path / "cgi"
    cgi.mkdir()
    script = cgi / "sigblk.sh"
    script.write_text(
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\ngrep SigBlk /proc/self/status\n"
    )
    script.chmod(0o755)
    path = os.path.join(sockdir, "cgidir.sock")
    proc = Proc(
        fcgi_cmd("--cgi-dir", str(cgi), "--bind", "unix:" + path, "--threads", "2"),
        appdir,
        address=path,
    )
    procs.append(proc)
    wait_for(lambda: os.path.exists(path) or not proc.alive(), what="the socket")
    result = proc.request("/sigblk.sh", env={"SCRIPT_NAME": ""})
    assert result.status == 200, (result.stdout, result.stderr, proc.log())
    mask = int(result.body.split()[-1], 16)
    assert mask & ((1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1))) == 0, result.body


# -- an APP that cannot be loaded ------------------------------------------------


@pytest.mark.parametrize("form", ["one-line", "fcgi"])
def test_unloadable_app_answers_500_and_logs_once(form, appdir, sockdir, procs):
    if form == "one-line":
        (appdir / "app.fcgi").write_text("# SCRIPT\n")
        proc = start_fd0(procs, appdir, sockdir, one_line(appdir, "brokenapp:app"))
    else:
        path = os.path.join(sockdir, "broken.sock")
        proc = Proc(fcgi_cmd("brokenapp:app", "--bind", "unix:" + path), appdir, address=path)
        procs.append(proc)
    # Requests on new connections and on one keep-alive connection.
    statuses = []
    deadline = time.monotonic() + WAIT
    while True:
        try:
            statuses.append(proc.request("/env", timeout=5).status)
            break
        except OSError:
            assert proc.alive(), proc.log()
            assert time.monotonic() < deadline
            time.sleep(0.05)
    statuses += [proc.request("/env").status for _ in range(5)]
    with fc.connect(proc.address, WAIT) as sock:
        reader = fc.Reader(sock)
        for rid in (1, 2, 3):
            sock.sendall(fc.request_bytes({"PATH_INFO": "/env"}, rid=rid, keep=True))
            statuses.append(fc.read_response(reader, rid).status)
    assert statuses == [500] * 9
    assert proc.alive(), proc.log()
    log = proc.log()
    assert log.count("ImportError: broken-app-marker") == 1, log
    assert log.count("Traceback (most recent call last)") == 1, log
    assert "brokenapp:app" in log
    proc.signal(signal.SIGTERM)
    assert proc.wait() == 0


# -- a request that raises --------------------------------------------------------


@pytest.mark.parametrize("threads", THREADS)
def test_request_that_raises_leaves_process_serving(threads, appdir, sockdir, procs):
    proc = start_fcgi(procs, appdir, sockdir, "--threads", str(threads))
    for _ in range(3):
        result = proc.request("/raise")
        assert result.status == 500
        assert result.protocol_status == 0
        assert b"the app raised on purpose" in result.stderr  # the traceback: FCGI_STDERR
        assert b"the app raised on purpose" not in result.stdout
        assert proc.info()["pid"] == proc.pid
    with fc.connect(proc.address, WAIT) as sock:
        reader = fc.Reader(sock)
        for rid, path in enumerate(["/raise", "/env", "/raise", "/env"], 1):
            sock.sendall(fc.request_bytes({"PATH_INFO": path}, rid=rid, keep=True))
            result = fc.read_response(reader, rid)
            assert result.status == (500 if path == "/raise" else 200)
    assert proc.alive()


# -- no leaks ----------------------------------------------------------------------


def _counts(pid):
    return len(os.listdir("/proc/%d/fd" % pid)), len(os.listdir("/proc/%d/task" % pid))


def _steady_counts(pid):
    """The counts once the last connection's close has been seen."""
    last = _counts(pid)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = _counts(pid)
        if now == last:
            return now
        last = now
    raise AssertionError("fd/thread counts never settle: %r" % (last,))


def _garbage(address):
    """Connections the server must close without leaking: garbage, a bad
    version, truncated records, a connection closed at once or mid-request."""
    cases = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        fc.rec(fc.BEGIN, 1, struct.pack(">HB5x", 1, 0), version=2),
        fc.begin(1)[:5],
        fc.begin(1) + fc.params(1, fc.BASE)[:20],
        fc.begin(1) + fc.params(1, dict(fc.BASE, PATH_INFO="/env")),  # no STDIN, then closed
        b"",
        os.urandom(64),
    ]
    for data in cases:
        with fc.connect(address, WAIT) as sock:
            if data:
                try:
                    sock.sendall(data)
                except OSError:
                    pass
            sock.shutdown(socket.SHUT_WR)
            try:
                while sock.recv(65536):
                    pass
            except OSError:
                pass


@pytest.mark.parametrize("threads", THREADS)
def test_no_fd_or_thread_leak(threads, appdir, sockdir, procs):
    proc = start_fcgi(procs, appdir, sockdir, "--threads", str(threads), "--read-timeout", "5")
    for _ in range(10):
        proc.info()
    base = _steady_counts(proc.pid)
    for i in range(500):
        assert proc.request("/env" if i % 50 else "/raise").status in (200, 500)
    with fc.connect(proc.address, WAIT) as sock:
        reader = fc.Reader(sock)
        for i in range(500):
            rid = i % 100 + 1
            sock.sendall(
                fc.request_bytes({"PATH_INFO": "/env"}, rid=rid, keep=True, body=b"x" * (i % 7))
            )
            assert fc.read_response(reader, rid).status == 200
    for _ in range(3):
        _garbage(proc.address)
    assert proc.info()["pid"] == proc.pid

    def settled():
        return _counts(proc.pid) == base

    try:
        wait_for(settled, timeout=20, what="fd and thread counts back to baseline")
    except AssertionError:
        raise AssertionError(
            "baseline %r, now %r; fds %r"
            % (base, _counts(proc.pid), os.listdir("/proc/%d/fd" % proc.pid))
        ) from None
    assert proc.alive()


SLOW_IMPORT_APP = """\
import time
open("importing", "w").close()  # the test waits for this, not a fixed time
time.sleep(30)

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"loaded"]
"""


@pytest.mark.parametrize("signum", SIGNALS, ids=["TERM", "INT"])
@pytest.mark.parametrize("form", ["fcgi", "one-line"])
def test_stop_signal_while_the_app_imports_exits_0(signum, form, appdir, sockdir, procs):
    # A process manager may stop a process whose app is still being
    # imported: exit 0 at once, never killed by the signal, socket removed.
    (appdir / "slowimport.py").write_text(SLOW_IMPORT_APP)
    path = os.path.join(sockdir, "slow.sock")
    if form == "fcgi":
        proc = Proc(fcgi_cmd("slowimport:app", "--bind", "unix:" + path), appdir)
    else:
        listener, _ = unix_listener(sockdir, "slow.sock")
        proc = Proc([PY, "-m", "wsgicgi", "slowimport:app"], appdir, stdin=listener.fileno())
        listener.close()
    procs.append(proc)
    wait_for(lambda: os.path.exists(path), what="the socket")
    # Inside the import's sleep (a fixed 0.5 s was not always enough on a
    # loaded machine: the signal came before the handlers were set).
    wait_for(lambda: (appdir / "importing").exists(), what="the app's import")
    code, elapsed = _timed_exit(proc, signum)
    assert code == 0, proc.log()
    assert elapsed < 5, elapsed
    if form == "fcgi":
        assert not os.path.exists(path)
    assert "Traceback" not in proc.log()


# -- the main loop under pressure ------------------------------------------------------


def test_a_connection_waiting_for_a_thread_is_closed_on_the_stop_signal(appdir, sockdir, procs):
    """Every thread busy: a connection that is ready but waits for a thread
    gets no answer once the stop signal comes; the request in flight
    finishes and the process exits 0."""
    proc = start_fcgi(procs, appdir, sockdir, "--threads", "2")
    slow = [Background(proc, "/slow", "t=1.5&mark=busy%d" % i) for i in range(2)]
    for i in range(2):
        wait_started(appdir, "busy%d" % i, proc)
    with fc.connect(proc.address, WAIT) as waiting:
        waiting.sendall(fc.request_bytes({"PATH_INFO": "/env"}))
        time.sleep(0.4)  # accepted and ready: the main loop waits for a thread
        proc.signal(signal.SIGTERM)
        assert [request.get().status for request in slow] == [200, 200]
        assert proc.wait() == 0
        try:
            assert fc.Reader(waiting).record() is None  # closed, never answered
        except ConnectionResetError:
            pass


def test_out_of_file_descriptors_the_server_waits_and_logs_then_serves(appdir, sockdir, procs):
    """EMFILE on accept: one log line per try, no crash; once kept
    connections close, the waiting one is served."""
    path = os.path.join(sockdir, "fcgi.sock")
    proc = Proc(
        ["prlimit", "--nofile=40:40", *fcgi_cmd("fcgiapp:app", "--bind", "unix:" + path)],
        appdir,
        address=path,
    )
    procs.append(proc)
    proc.wait_ready()
    kept = []
    waiting = None
    try:
        for _ in range(60):
            sock = fc.connect(path, WAIT)
            sock.sendall(fc.request_bytes({"PATH_INFO": "/env"}, keep=True))
            sock.settimeout(2)
            try:
                r = fc.read_response(fc.Reader(sock))
            except socket.timeout:
                waiting = sock  # in the backlog: the server cannot accept it
                break
            assert r.status == 200
            sock.settimeout(WAIT)
            kept.append(sock)
        assert waiting is not None, "the server accepted %d connections" % len(kept)
        wait_for(lambda: "cannot accept a FastCGI connection" in proc.log(), what="the log line")
        assert "Too many open files" in proc.log()
        for sock in kept[:5]:
            sock.close()
        waiting.settimeout(WAIT)
        assert fc.read_response(fc.Reader(waiting)).status == 200
        assert proc.alive()
    finally:
        for sock in [*kept, waiting]:
            if sock is not None:
                sock.close()
