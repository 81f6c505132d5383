"""FastCGI processes started by spawn-fcgi on a unix socket, for the
benchmark and the soak.

    group = SpawnFcgi([wsgicgi, "fcgi", "myapp:app"], "/tmp/x/app.sock", children=2, log="/tmp/x/app.log")
    group.start()          # spawn-fcgi -s SOCK -F 2 -P PIDFILE -- ARGV; waits until the socket answers
    group.pids             # the FastCGI processes (spawn-fcgi itself has exited)
    group.stop()           # SIGTERM each by pid, SIGKILL what is left after `grace` s

spawn-fcgi forks the children, puts each in its own session and points its
stdout and stderr at /dev/null; with ``log`` the program is started through
``/bin/sh -c 'exec "$@" 2>>LOG'`` so what it logs is kept (sh is replaced by
the program: nothing stays in between).
"""

import os
import shutil
import signal
import socket
import subprocess
import time

SPAWN_FCGI = shutil.which("spawn-fcgi") or "/usr/bin/spawn-fcgi"


def available():
    return os.access(SPAWN_FCGI, os.X_OK)


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return data[data.rindex(b")") + 2 :].split()[0] != b"Z"


class SpawnFcgi:
    """``children`` copies of ``argv`` sharing one listening unix socket."""

    def __init__(self, argv, socket_path, *, children=2, env=None, cwd=None, mode=0o660, log=None):
        self.argv = list(argv)
        self.socket_path = socket_path
        self.children = children
        self.env = env if env is not None else {"PATH": "/usr/local/bin:/usr/bin:/bin"}
        self.cwd = cwd
        self.mode = mode
        self.log = log
        self.pid_file = socket_path + ".pids"
        self.pids = []

    def start(self, timeout=20.0):
        for path in (self.socket_path, self.pid_file):
            if os.path.exists(path):
                os.unlink(path)
        argv = self.argv
        if self.log:
            argv = ["/bin/sh", "-c", 'exec "$@" 2>>"$SPAWN_FCGI_LOG"', "sh", *argv]
        cmd = [
            SPAWN_FCGI,
            "-s",
            self.socket_path,
            "-M",
            "%o" % self.mode,
            "-F",
            str(self.children),
            "-P",
            self.pid_file,
        ]
        if self.cwd:
            cmd += ["-d", self.cwd]
        env = dict(self.env)
        if self.log:
            env["SPAWN_FCGI_LOG"] = self.log
        proc = subprocess.run(
            [*cmd, "--", *argv],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.pids = self._read_pids()
        if proc.returncode != 0 or len(self.pids) != self.children:
            self.stop()
            raise RuntimeError(
                "spawn-fcgi failed (status %d, %d of %d children): %s%s"
                % (proc.returncode, len(self.pids), self.children, proc.stdout, proc.stderr)
            )
        deadline = time.monotonic() + timeout
        while True:
            dead = [pid for pid in self.pids if not _alive(pid)]
            if dead:
                self.stop()
                raise RuntimeError(
                    "FastCGI process %s exited at start%s" % (dead, self._log_tail())
                )
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.connect(self.socket_path)
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        "nobody answers on %s after %.0f s%s"
                        % (self.socket_path, timeout, self._log_tail())
                    ) from None
                time.sleep(0.05)

    def _read_pids(self):
        try:
            with open(self.pid_file) as f:
                return [int(line) for line in f.read().split()]
        except (OSError, ValueError):
            return []

    def _log_tail(self):
        if not self.log:
            return ""
        try:
            with open(self.log, errors="replace") as f:
                return ":\n" + f.read()[-2000:]
        except OSError:
            return ""

    def stop(self, grace=10.0):
        pids, self.pids = self.pids, []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in pids:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        for path in (self.socket_path, self.pid_file):
            try:
                os.unlink(path)
            except OSError:
                pass
