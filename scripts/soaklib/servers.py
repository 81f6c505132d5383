"""Start waitress or gunicorn on 127.0.0.1 as a subprocess serving
soaklib.app, or ``wsgicgi fcgi`` serving it behind nginx, and stop it
whatever happens."""

import os
import signal
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# name -> command line after the interpreter; {port}, {threads} and {app} filled in.
COMMANDS = {
    "waitress": ["-m", "waitress", "--listen=127.0.0.1:{port}", "--threads={threads}", "{app}"],
    "gunicorn": [
        "-m",
        "gunicorn",
        "-b",
        "127.0.0.1:{port}",
        "-w",
        "1",
        "-k",
        "gthread",
        "--threads",
        "{threads}",
        "{app}",
    ],
    "gunicorn-sync": ["-m", "gunicorn", "-b", "127.0.0.1:{port}", "-w", "4", "-k", "sync", "{app}"],
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(argv, root, timeout, tag, log_path, extra_env):
    """The server process, in its own session, configured for soaklib.app."""
    env = dict(os.environ)
    env.update(extra_env or {})
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [os.path.join(REPO, "scripts"), REPO, env.get("PYTHONPATH")])
    )
    env.update(SOAK_ROOT=root, SOAK_TIMEOUT=str(timeout), SOAK_TAG=tag)
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


class Server:
    """A server subprocess in its own session; its log goes to ``log_path``."""

    def __init__(
        self,
        kind,
        python,
        root,
        timeout,
        tag,
        threads,
        log_path,
        extra_env=None,
        app="soaklib.app:app",
    ):
        self.kind = kind
        self.port = free_port()
        self.log_path = log_path
        argv = [python] + [
            p.format(port=self.port, threads=threads, app=app) for p in COMMANDS[kind]
        ]
        self.process = _start(argv, root, timeout, tag, log_path, extra_env)

    @property
    def pid(self):
        return self.process.pid

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def probe(self):
        """Connect once to where the server listens (OSError: not yet)."""
        socket.create_connection(("127.0.0.1", self.port), timeout=1).close()

    def wait_listening(self, seconds=30.0):
        deadline = time.monotonic() + seconds
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("%s exited at start:\n%s" % (self.kind, self.log()[-3000:]))
            try:
                self.probe()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        "%s did not listen within %g s" % (self.kind, seconds)
                    ) from None
                time.sleep(0.05)

    def stop(self):
        """SIGTERM, then SIGKILL to the whole session after 10 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.process.poll() is None:
            self.process.wait(10)


# nginx in front of `wsgicgi fcgi`: the README's block (keep-alive connections
# to wsgicgi), the soak's CGIDirectory mounted at the root.
FCGI_UPSTREAM = """\
upstream wsgicgi_app {{
    server unix:{sock};
    keepalive 8;
}}
"""
FCGI_LOCATION = """\
location / {{
    include {params};
    fastcgi_param SCRIPT_NAME "";
    fastcgi_param PATH_INFO $uri;
    fastcgi_pass wsgicgi_app;
    fastcgi_keep_conn on;
    client_max_body_size 1g;
    fastcgi_read_timeout 60s;
}}
"""


class FcgiServer(Server):
    """``wsgicgi fcgi APP --bind unix:… --threads N`` behind a private nginx
    (scripts/harness/nginx.py).  ``pid`` and ``process`` are wsgicgi's, the
    process the soak watches; ``port`` is nginx's, where the requests go."""

    def __init__(
        self,
        kind,
        python,
        root,
        timeout,
        tag,
        threads,
        log_path,
        extra_env=None,
        app="soaklib.app:app",
    ):
        from harness.nginx import FASTCGI_PARAMS, Nginx

        self.kind = kind
        self.log_path = log_path
        self.folder = os.path.dirname(log_path)
        self.sock = os.path.join(self.folder, "%s.sock" % kind)
        argv = [
            python,
            "-m",
            "wsgicgi",
            "fcgi",
            app,
            "--bind",
            "unix:" + self.sock,
            "--threads",
            str(threads),
        ]
        self.process = _start(argv, root, timeout, tag, log_path, extra_env)
        self.nginx = Nginx(
            FCGI_LOCATION.format(params=FASTCGI_PARAMS),
            http_conf=FCGI_UPSTREAM.format(sock=self.sock),
        )
        self.port = None

    def probe(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(self.sock)

    def wait_listening(self, seconds=30.0):
        Server.wait_listening(self, seconds)
        self.port = self.nginx.start()

    def log(self):
        text = Server.log(self)
        nginx = self.nginx_log if self.nginx_log is not None else self.nginx.error_log()
        return text + ("\n-- nginx error log --\n" + nginx if nginx.strip() else "")

    nginx_log = None  # kept when nginx's folder is removed

    def stop(self):
        try:
            self.nginx.stop()
            self.nginx_log = self.nginx.error_log()
            self.nginx.cleanup()
        finally:
            Server.stop(self)
