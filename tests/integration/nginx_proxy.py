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
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
README_UPSTREAM = "http://127.0.0.1:8000"

CONF = """\
{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{
    worker_connections 128;
}}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
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
    }}
}}
"""


def available():
    return os.access(NGINX, os.X_OK) and shutil.which("openssl") is not None


def readme_location(readme_path):
    """The ``location / { ... }`` block of the README's nginx recipe, as written."""
    with open(readme_path, encoding="utf-8") as f:
        text = f.read()
    section = text.find("Behind a reverse proxy that terminates TLS")
    if section < 0:
        raise AssertionError("README has no reverse-proxy section")
    match = re.compile(r"```nginx\n(.*?)```", re.S).search(text, section)
    if not match or "location / {" not in match.group(1):
        raise AssertionError("README's reverse-proxy section has no nginx location block")
    return match.group(1)


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
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=" + name,
            "-keyout", os.path.join(folder, "key.pem"), "-out", os.path.join(folder, "cert.pem"),
        ],
        check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
    )


def wait_listening(process, port, what, log, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError("%s exited at start (status %s):\n%s" % (what, process.returncode, log()))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not listen on %d within %d s:\n%s" % (what, port, timeout, log()))
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


class Proxy:
    """A running nginx: its two ports and its logs."""

    def __init__(self, folder, http_port, https_port):
        self.folder = folder
        self.http_port = http_port
        self.https_port = https_port

    def error_log(self):
        return _read(os.path.join(self.folder, "error.log"))

    def access_log(self):
        return _read(os.path.join(self.folder, "access.log"))


@contextlib.contextmanager
def nginx_proxy(location, backend_port, cert_name="www.example.test"):
    """nginx with ``location`` (the README's text) pointed at ``backend_port``."""
    if README_UPSTREAM not in location:
        raise AssertionError("the location block does not proxy to %s" % README_UPSTREAM)
    location = location.replace(README_UPSTREAM, "http://127.0.0.1:%d" % backend_port)
    location = "".join("        " + line + "\n" for line in location.strip("\n").splitlines())
    folder = public_tempdir("wsgicgi-nginx-")
    process = None
    try:
        make_certificate(folder, cert_name)
        http_port, https_port = free_ports(2)
        conf = os.path.join(folder, "nginx.conf")
        with open(conf, "w") as f:
            f.write(
                CONF.format(
                    # Started as root, nginx would run its workers as nobody.
                    user="user root;" if os.geteuid() == 0 else "",
                    dir=folder, http_port=http_port, https_port=https_port, location=location,
                )
            )
        error_log = os.path.join(folder, "error.log")
        with open(os.path.join(folder, "stderr.log"), "wb") as out:
            process = subprocess.Popen(
                [NGINX, "-p", folder, "-e", error_log, "-c", conf, "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
            )
        proxy = Proxy(folder, http_port, https_port)

        def log():
            return _read(os.path.join(folder, "stderr.log")) + proxy.error_log()

        wait_listening(process, http_port, "nginx", log)
        wait_listening(process, https_port, "nginx", log)
        yield proxy
    finally:
        if process is not None:
            stop(process, signal.SIGQUIT)
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
                argv, cwd=cwd, env=environ, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
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
