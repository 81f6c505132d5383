"""What the private servers of this harness (apache.py, nginx.py) share: a
world-readable folder under /tmp, a free port of 127.0.0.1 (tried again when
it is taken between probe and bind), the config test, the start in its own
session, the wait until the port answers, the logs, and the stop."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from . import process


def public_tempdir(prefix="wsgicgi-"):
    """A new directory under /tmp that www-data can read and enter (mode 755)."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(path, 0o755)
    return path


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A private server on 127.0.0.1; a subclass sets the class attributes
    and writes ``config`` and ``_launch`` (which ends in ``_run``)."""

    name = "server"  # in error messages
    error = RuntimeError  # what a failed start raises
    root_prefix = "wsgicgi-server-"
    logs = ("error.log", "stderr.log")  # error_log(): these files, in this order
    stop_signal = signal.SIGTERM

    def __init__(self, start_timeout):
        self.start_timeout = start_timeout
        self.root = None
        self.port = None
        self.proc = None

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        """Start the server in the foreground of a child process; return its port."""
        if self.proc is not None:
            raise RuntimeError("already started")
        self.root = public_tempdir(self.root_prefix)
        self._prepare()
        last = None
        for _ in range(3):  # the free port may be taken between probe and bind
            self.port = free_port()
            try:
                self._launch()
                return self.port
            except self.error as exc:
                last = exc
                if "Address already in use" not in str(exc):
                    break
        raise last

    def _prepare(self):
        """Once, after ``root`` is made, before the first launch."""

    def _launch(self):
        raise NotImplementedError

    def _run(self, check_argv, argv, env=None, stdout=None):
        """The config test ``check_argv``, then ``argv`` in its own session
        (so stop() can kill every child), its stderr (and ``stdout``, by
        default the same file) in stderr.log; then wait until it listens."""
        check = subprocess.run(
            check_argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30
        )
        if check.returncode:
            raise self.error(
                "%s config test failed:\n" % self.name + check.stdout.decode("utf-8", "replace")
            )
        with open(os.path.join(self.root, "stderr.log"), "wb") as out:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out if stdout is None else stdout,
                stderr=out,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise self.error("%s exited at start:\n" % self.name + self._log_tail())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise self.error(
            "%s not listening after %.0f s:\n%s" % (self.name, self.start_timeout, self._log_tail())
        )

    def stop(self, timeout=10.0):
        """Stop the server and its children and wait for them; safe to call twice."""
        proc, self.proc = self.proc, None
        if proc is not None:
            process.stop(proc, self.stop_signal, timeout)

    def cleanup(self):
        """Stop, then remove the server's temporary directory."""
        self.stop()
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # -- helpers -----------------------------------------------------------

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def url(self, path="/"):
        """``http://127.0.0.1:PORT`` + ``path`` (already percent-encoded)."""
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def error_log(self):
        """The text of the server's logs so far."""
        return "".join(self._read(name) for name in self.logs)

    def _read(self, name):
        try:
            with open(os.path.join(self.root, name), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def _log_tail(self):
        return self.error_log()[-3000:]
