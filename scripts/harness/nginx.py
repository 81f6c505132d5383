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

from .server import Server, free_port  # noqa: F401 (free_port: for importers)

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


def _indent(text, spaces):
    return "".join(
        " " * spaces + line + "\n" if line.strip() else "\n"
        for line in text.strip("\n").splitlines()
    )


class NginxError(RuntimeError):
    """nginx failed to start; the message holds its log."""


class Nginx(Server):
    """A private nginx serving ``server_conf`` on a free port of 127.0.0.1.

    ``access_log``: False (the default) turns it off, as a benchmark wants.
    """

    name = "nginx"
    error = NginxError
    root_prefix = "wsgicgi-nginx-"
    logs = ("stderr.log", "error.log")
    stop_signal = signal.SIGQUIT  # graceful: workers finish, then exit

    def __init__(
        self,
        server_conf,
        *,
        http_conf="",
        workers=1,
        access_log=False,
        log_level="warn",
        start_timeout=15.0,
    ):
        super().__init__(start_timeout)
        self.server_conf = server_conf
        self.http_conf = http_conf
        self.workers = workers
        self.access_log_on = access_log
        self.log_level = log_level

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

    def _launch(self):
        conf = os.path.join(self.root, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        error_log = os.path.join(self.root, "error.log")
        self._run(
            [NGINX_BIN, "-t", "-q", "-p", self.root, "-e", error_log, "-c", conf],
            [NGINX_BIN, "-p", self.root, "-e", error_log, "-c", conf, "-g", "daemon off;"],
        )
