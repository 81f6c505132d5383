"""Real FastCGI stacks for the tests: a private nginx or lighttpd on
127.0.0.1, and wsgicgi FastCGI processes behind it on Unix sockets.

Every recipe comes from the docs' FastCGI page (docs/deploy/fastcgi.md), read
from the file (``fastcgi_block``); only paths and ports are substituted.  Everything lives
in a world-readable folder under /tmp; every process is started in its own
session and stopped (then killed, group and all) when its ``with`` ends.
"""

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

from docs_blocks import doc_block, substitute
from nginx_proxy import (  # noqa: F401 (NGINX: re-exported for the FastCGI tests)
    NGINX,
    NginxLogs,
    _read,
    free_ports,
    nginx_process,
    public_tempdir,
    stop,
    wait_listening,
)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FASTCGI_PAGE = "deploy/fastcgi.md"
LIGHTTPD = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
SPAWN_FCGI = shutil.which("spawn-fcgi") or "/usr/bin/spawn-fcgi"
FCGIWRAP = shutil.which("fcgiwrap") or "/usr/sbin/fcgiwrap"
FASTCGI_PARAMS = "/etc/nginx/fastcgi_params"  # Debian's nginx-common
START_TIMEOUT = 60.0


def on_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(*paths):
    """Skip (fail in CI) when a program the test needs is missing."""
    missing = [path for path in paths if not os.access(path, os.X_OK)]
    if missing:
        import pytest

        message = "%s not installed (bash scripts/test installs them with apt-get)" % ", ".join(
            missing
        )
        if on_ci():
            pytest.fail(message)
        pytest.skip(message)


def fastcgi_block(lang, marker, heading=None):
    """The ```lang block of docs/deploy/fastcgi.md (under the heading that
    contains ``heading``, if given) that contains ``marker``, as written."""
    return doc_block(FASTCGI_PAGE, heading, lang, marker)


def indent(text, prefix="    "):
    return "".join(
        prefix + line + "\n" if line.strip() else "\n" for line in text.strip("\n").splitlines()
    )


def wait_unix(path, process=None, log=lambda: "", timeout=START_TIMEOUT):
    """Until something accepts connections on the Unix socket ``path``."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError("exited at start (status %s):\n%s" % (process.returncode, log()))
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "nothing listens on %s after %d s:\n%s" % (path, timeout, log())
                ) from None
            time.sleep(0.05)
        finally:
            probe.close()


def python_env(**extra):
    """The environment for wsgicgi processes: this checkout and the test
    apps importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, HERE, os.environ.get("PYTHONPATH")]))
    env.pop("WSGICGI_DEBUG", None)
    env.update(extra)
    return env


def wsgicgi_argv():
    """How to run the ``wsgicgi`` console script of this interpreter."""
    path = os.path.join(os.path.dirname(sys.executable), "wsgicgi")
    return [path] if os.access(path, os.X_OK) else [sys.executable, "-m", "wsgicgi"]


def pids_with(text):
    """The processes whose command line contains ``text``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(int(name))
    return found


def listening_inode(path):
    """The inode of the socket listening on the Unix socket ``path``
    (/proc/net/unix: the flags column has __SO_ACCEPTCON)."""
    with open("/proc/net/unix") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & 0x10000:
                return fields[6]
    raise AssertionError("nothing listens on %s" % path)


def socket_inodes(pid):
    found = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def kill_pids(pids, sig=signal.SIGTERM, grace=10.0):
    """Stop processes this test started (by pid): ``sig``, then SIGKILL."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    for pid in pids:
        _reap(pid)


def _alive(pid):
    _reap(pid)
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _reap(pid):
    with contextlib.suppress(OSError):
        os.waitpid(pid, os.WNOHANG)


class FcgiServer:
    """A running ``wsgicgi fcgi`` (or spawn-fcgi's children): its socket,
    its pids and its stderr."""

    def __init__(self, socket_path, pids, log_path):
        self.socket_path = socket_path
        self.pids = pids
        self.log_path = log_path

    def log(self):
        return _read(self.log_path)


@contextlib.contextmanager
def wsgicgi_fcgi(folder, args, name="app", env=None):
    """``wsgicgi fcgi ARGS --bind unix:FOLDER/NAME.sock`` until the block ends."""
    path = os.path.join(folder, name + ".sock")
    log_path = os.path.join(folder, name + ".log")
    process = None
    try:
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [
                    *wsgicgi_argv(),
                    "fcgi",
                    *list(args),
                    "--bind",
                    "unix:" + path,
                    "--socket-mode",
                    "666",
                ],
                cwd=folder,
                env=python_env(**(env or {})),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        wait_unix(path, process, lambda: _read(log_path))
        yield FcgiServer(path, [process.pid], log_path)
    finally:
        if process is not None:
            stop(process)


@contextlib.contextmanager
def spawn_fcgi(folder, command_line, replacements, name="app", env=None):
    """A docs ``spawn-fcgi ...`` line, paths replaced, until the block ends.
    spawn-fcgi forks the children and exits; they are stopped by pid."""
    argv = shlex.split(substitute(command_line.strip(), replacements))
    if argv[0] != "spawn-fcgi":
        raise AssertionError("not a spawn-fcgi line: %r" % command_line)
    argv[0] = SPAWN_FCGI
    path = argv[argv.index("-s") + 1]
    log_path = os.path.join(folder, name + ".log")
    pids = []
    try:
        with open(log_path, "wb") as log:
            done = subprocess.run(
                argv,
                cwd=folder,
                env=python_env(**(env or {})),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                timeout=START_TIMEOUT,
            )
        out = done.stdout.decode("utf-8", "replace")
        pids = [int(pid) for pid in re.findall(r"PID: (\d+)", out)]
        if done.returncode != 0 or not pids:
            raise RuntimeError(
                "spawn-fcgi failed (%s): %s\n%s" % (done.returncode, out, _read(log_path))
            )
        wait_unix(path, None, lambda: _read(log_path))
        yield FcgiServer(path, pids, log_path)
    finally:
        kill_pids(pids)


class Nginx(NginxLogs):
    def __init__(self, folder, ports):
        super().__init__(folder)
        self.ports = ports
        self.port = ports[0]


def server_block(port, body, root=None):
    """A ``server`` for ``body`` (a docs ``location``) on 127.0.0.1:``port``."""
    lines = "listen 127.0.0.1:%d;\nserver_name _;\n" % port
    if root:
        lines += "root %s;\n" % root
    return "server {\n" + indent(lines + body) + "}\n"


def listen_in_servers(http_text, ports):
    """Docs http-level text (``upstream`` + ``server``) with a ``listen``
    line put into each of its ``server`` blocks, one port each."""
    parts = http_text.split("\nserver {\n")
    if len(parts) - 1 != len(ports):
        raise AssertionError("want %d server blocks in:\n%s" % (len(ports), http_text))
    out = parts[0]
    for port, part in zip(ports, parts[1:]):
        out += "\nserver {\n    listen 127.0.0.1:%d;\n    server_name _;\n" % port + part
    return out


@contextlib.contextmanager
def nginx(http_text, ports):
    """A private nginx with ``http_text`` (upstreams and servers) in its
    ``http`` block; ``fastcgi_params`` is Debian's, beside the config, so
    the docs' ``include fastcgi_params;`` works as written."""
    folder = public_tempdir("wsgicgi-fcgi-nginx-")
    try:
        shutil.copy(FASTCGI_PARAMS, os.path.join(folder, "fastcgi_params"))
        with nginx_process(
            folder, indent(http_text), ports, connections=512, timeout=START_TIMEOUT, log_conf=True
        ):
            yield Nginx(folder, ports)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


LIGHTTPD_CONF = """\
server.document-root = "{docroot}"
server.bind = "127.0.0.1"
server.port = {port}
server.pid-file = "{dir}/lighttpd.pid"
server.errorlog = "{dir}/error.log"
server.upload-dirs = ( "{dir}" )
{block}
"""


class Lighttpd:
    def __init__(self, folder, port, process):
        self.folder = folder
        self.port = port
        self.process = process

    def error_log(self):
        return _read(os.path.join(self.folder, "error.log")) + _read(
            os.path.join(self.folder, "stderr.log")
        )


@contextlib.contextmanager
def lighttpd(folder, block_text, env=None):
    """A private lighttpd (foreground) with a docs block."""
    (port,) = free_ports(1)
    docroot = os.path.join(folder, "htdocs")
    os.makedirs(docroot, exist_ok=True)
    conf = os.path.join(folder, "lighttpd.conf")
    with open(conf, "w") as f:
        f.write(LIGHTTPD_CONF.format(docroot=docroot, port=port, dir=folder, block=block_text))
    process = None
    try:
        with open(os.path.join(folder, "stderr.log"), "wb") as out:
            process = subprocess.Popen(
                [LIGHTTPD, "-D", "-f", conf],
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        server = Lighttpd(folder, port, process)
        wait_listening(process, port, "lighttpd", server.error_log, START_TIMEOUT)
        yield server
    finally:
        if process is not None:
            stop(process)
