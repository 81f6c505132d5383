"""A private nginx on 127.0.0.1, for the benchmark and the soak.

    from harness.nginx import Nginx

    with Nginx(server_conf, http_conf=upstreams) as nginx:
        urllib.request.urlopen(nginx.url("/app/hello"))
        print(nginx.error_log())

``server_conf`` is the text inside ``server { }`` (locations), ``http_conf``
goes in ``http { }`` before it (upstream blocks).  Config, pid file, logs and
temp files live in the server's own world-readable folder under /tmp; one
worker process; started as root, the worker runs as root too, so it can
reach the unix sockets the bench and soak create.  ``stop`` sends SIGQUIT
(graceful), then SIGKILL to the whole process group.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from . import process

NGINX_BIN = shutil.which("nginx") or "/usr/sbin/nginx"
FASTCGI_PARAMS = "/etc/nginx/fastcgi_params"

CONF = """\
{user}
worker_processes {workers};
pid {root}/nginx.pid;
error_log {root}/error.log {level};
events {{
    worker_connections 1024;
}}
http {{
    access_log {access};
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_requests 1000000;
{http_conf}
    server {{
        listen 127.0.0.1:{port};
        server_name _;
{server_conf}
    }}
}}
"""


def available():
    return os.access(NGINX_BIN, os.X_OK) and os.path.exists(FASTCGI_PARAMS)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _indent(text, spaces):
    return "".join(" " * spaces + line + "\n" if line.strip() else "\n" for line in text.strip("\n").splitlines())


class NginxError(RuntimeError):
    """nginx failed to start; the message holds its log."""


class Nginx:
    """A private nginx serving ``server_conf`` on a free port of 127.0.0.1.

    ``access_log``: False (the default) turns it off, as a benchmark wants.
    """

    def __init__(self, server_conf, *, http_conf="", workers=1, access_log=False, log_level="warn", start_timeout=15.0):
        self.server_conf = server_conf
        self.http_conf = http_conf
        self.workers = workers
        self.access_log_on = access_log
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.root = None
        self.port = None
        self.proc = None

    def config(self):
        return CONF.format(
            user="user root;" if os.geteuid() == 0 else "",
            workers=self.workers,
            root=self.root,
            level=self.log_level,
            access=("%s/access.log" % self.root) if self.access_log_on else "off",
            http_conf=_indent(self.http_conf, 4) if self.http_conf.strip() else "",
            port=self.port,
            server_conf=_indent(self.server_conf, 8),
        )

    def start(self):
        if self.proc is not None:
            raise RuntimeError("already started")
        self.root = tempfile.mkdtemp(prefix="wsgicgi-nginx-", dir="/tmp")
        os.chmod(self.root, 0o755)
        last = None
        for _ in range(3):  # the free port may be taken between probe and bind
            self.port = free_port()
            try:
                self._launch()
                return self.port
            except NginxError as exc:
                last = exc
                if "Address already in use" not in str(exc):
                    break
        raise last

    def _launch(self):
        conf = os.path.join(self.root, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        error_log = os.path.join(self.root, "error.log")
        check = subprocess.run([NGINX_BIN, "-t", "-q", "-p", self.root, "-e", error_log, "-c", conf],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        if check.returncode:
            raise NginxError("nginx config test failed:\n" + check.stdout.decode("utf-8", "replace"))
        with open(os.path.join(self.root, "stderr.log"), "wb") as out:
            self.proc = subprocess.Popen(
                [NGINX_BIN, "-p", self.root, "-e", error_log, "-c", conf, "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise NginxError("nginx exited at start:\n" + self.error_log()[-3000:])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise NginxError("nginx not listening after %.0f s:\n%s" % (self.start_timeout, self.error_log()[-3000:]))

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def error_log(self):
        return self._read("stderr.log") + self._read("error.log")

    def _read(self, name):
        try:
            with open(os.path.join(self.root, name), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def stop(self, timeout=10.0):
        proc, self.proc = self.proc, None
        if proc is not None:
            process.stop(proc, signal.SIGQUIT, timeout)  # graceful: workers finish, then exit

    def cleanup(self):
        self.stop()
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()
