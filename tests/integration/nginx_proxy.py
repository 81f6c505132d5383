"""A private nginx reverse proxy on 127.0.0.1, and the backends behind it, for tests.

``nginx_proxy(location, backend_port)`` runs Debian's nginx from a
world-readable folder under /tmp (config, pid, logs, temp files and a
self-signed certificate all inside it) with two server blocks that hold the
same ``location`` text: plain HTTP on one free port, TLS on another, so
``$scheme`` is really ``https`` on the second.  ``running(argv, ...)`` starts
a backend server and waits until its port answers.  Both are stopped (killed
if need be, process group and all) when the ``with`` block ends.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from docs_blocks import doc_block

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DOCS_UPSTREAM = "http://127.0.0.1:8000"
PRODUCTION_PAGE = "deploy/production.md"

CONF = """\
{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{
    worker_connections {connections};
}}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
{http}
}}
"""

# The proxy's ``http`` text: the same ``location`` over HTTP and over TLS.
SERVERS = """\
    server {{
        listen 127.0.0.1:{http_port};
        server_name _;
{location}
    }}
    server {{
        listen 127.0.0.1:{https_port} ssl;
        server_name _;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
{location}
    }}"""


def available():
    return os.access(NGINX, os.X_OK) and shutil.which("openssl") is not None


def docs_location():
    """The ``location / { ... }`` block of the docs' nginx recipe
    (docs/deploy/production.md, behind a reverse proxy that ends TLS), as written."""
    return doc_block(PRODUCTION_PAGE, "in production", "nginx", "location / {")


def free_ports(count):
    """``count`` distinct free ports on 127.0.0.1 (held together while chosen)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def public_tempdir(prefix):
    folder = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(folder, 0o755)
    return folder


def make_certificate(folder, name):
    """A self-signed certificate and key for ``name`` in ``folder`` (openssl)."""
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=" + name,
            "-keyout",
            os.path.join(folder, "key.pem"),
            "-out",
            os.path.join(folder, "cert.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def wait_listening(process, port, what, log, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                "%s exited at start (status %s):\n%s" % (what, process.returncode, log())
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "%s did not listen on %d within %d s:\n%s" % (what, port, timeout, log())
                ) from None
            time.sleep(0.05)


def stop(process, sig=signal.SIGTERM, grace=10.0):
    """Stop a process started with ``start_new_session``: ``sig``, then SIGKILL
    to its whole process group (nginx workers, gunicorn workers, scripts)."""
    if process.poll() is None:
        with contextlib.suppress(OSError):
            process.send_signal(sig)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


class NginxLogs:
    """A running nginx's folder and its logs."""

    def __init__(self, folder):
        self.folder = folder

    def error_log(self):
        return _read(os.path.join(self.folder, "error.log"))

    def access_log(self):
        return _read(os.path.join(self.folder, "access.log"))


class Proxy(NginxLogs):
    """A running nginx: its two ports and its logs."""

    def __init__(self, folder, http_port, https_port):
        super().__init__(folder)
        self.http_port = http_port
        self.https_port = https_port


@contextlib.contextmanager
def nginx_process(folder, http, ports, connections, timeout=30.0, log_conf=False):
    """nginx from ``folder`` with ``CONF`` (``http`` in its ``http`` block)
    until it listens on every one of ``ports``; stopped (SIGQUIT, then killed,
    group and all) when the block ends.  ``log_conf``: its config follows its
    logs in the error raised when it does not start."""
    conf = os.path.join(folder, "nginx.conf")
    with open(conf, "w") as f:
        f.write(
            CONF.format(
                # Started as root, nginx would run its workers as nobody.
                user="user root;" if os.geteuid() == 0 else "",
                dir=folder,
                connections=connections,
                http=http,
            )
        )
    error_log = os.path.join(folder, "error.log")
    process = None
    try:
        with open(os.path.join(folder, "stderr.log"), "wb") as out:
            process = subprocess.Popen(
                [NGINX, "-p", folder, "-e", error_log, "-c", conf, "-g", "daemon off;"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )

        def log():
            text = _read(os.path.join(folder, "stderr.log")) + _read(error_log)
            return text + "\n" + _read(conf) if log_conf else text

        for port in ports:
            wait_listening(process, port, "nginx", log, timeout)
        yield process
    finally:
        if process is not None:
            stop(process, signal.SIGQUIT)


@contextlib.contextmanager
def nginx_proxy(location, backend_port, cert_name="www.example.test"):
    """nginx with ``location`` (the docs' text) pointed at ``backend_port``."""
    if DOCS_UPSTREAM not in location:
        raise AssertionError("the location block does not proxy to %s" % DOCS_UPSTREAM)
    location = location.replace(DOCS_UPSTREAM, "http://127.0.0.1:%d" % backend_port)
    location = "".join("        " + line + "\n" for line in location.strip("\n").splitlines())
    folder = public_tempdir("wsgicgi-nginx-")
    try:
        make_certificate(folder, cert_name)
        http_port, https_port = free_ports(2)
        http = SERVERS.format(
            dir=folder, http_port=http_port, https_port=https_port, location=location
        )
        with nginx_process(folder, http, [http_port, https_port], connections=128):
            yield Proxy(folder, http_port, https_port)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Backend:
    """A running backend server: its port and its log."""

    def __init__(self, process, port, log_path):
        self.process = process
        self.port = port
        self.log_path = log_path

    def log(self):
        return _read(self.log_path)


@contextlib.contextmanager
def running(argv, port, cwd, env=None, name="backend"):
    """Run ``argv`` (a server that listens on 127.0.0.1:``port``) until the block ends."""
    environ = dict(os.environ)
    environ.update(env or {})
    fd, log_path = tempfile.mkstemp(prefix="wsgicgi-%s-" % name, suffix=".log", dir="/tmp")
    process = None
    try:
        with os.fdopen(fd, "wb") as log:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=environ,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        backend = Backend(process, port, log_path)
        wait_listening(process, port, name, backend.log)
        yield backend
    finally:
        if process is not None:
            stop(process)
        with contextlib.suppress(OSError):
            os.unlink(log_path)
