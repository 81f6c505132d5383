"""Start gunicorn or waitress on 127.0.0.1 as a subprocess, for tests.

``serving(kind, app_spec, env)`` is a context manager yielding a ``Server``
with its base URL and pid; the server is stopped (and killed if need be)
when the block ends, whatever happened.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# kind -> command line (after the interpreter); {port} and {app} filled in.
COMMANDS = {
    "waitress": ["-m", "waitress", "--listen=127.0.0.1:{port}", "--threads=8", "{app}"],
    "gunicorn-sync": ["-m", "gunicorn", "-b", "127.0.0.1:{port}", "-w", "2", "-k", "sync", "{app}"],
    "gunicorn-gthread": [
        "-m",
        "gunicorn",
        "-b",
        "127.0.0.1:{port}",
        "-w",
        "1",
        "-k",
        "gthread",
        "--threads",
        "8",
        "{app}",
    ],
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, process, port, log_path):
        self.process = process
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.log_path = log_path

    @property
    def pid(self):
        return self.process.pid

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def tree(self):
        """The server's pid and its children's (gunicorn's workers)."""
        pids = [self.pid]
        for task in os.listdir("/proc/%d/task" % self.pid):
            with open("/proc/%d/task/%s/children" % (self.pid, task)) as f:
                pids.extend(int(p) for p in f.read().split())
        return pids


def is_watchdog(pid):
    """Whether ``pid`` is wsgicgi's watchdog (wsgicgi/orphans.py), the one
    child each server process that ran scripts keeps."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"\0wsgicgi-watchdog" in f.read()
    except OSError:
        return False


def request(server, method, path, body=None, headers=None, timeout=60):
    """One HTTP request to ``server`` (anything with a ``port``) on
    127.0.0.1; returns (status, headers as a dict, body)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def download_watching_rss(port, path, pids):
    """GET ``path`` from 127.0.0.1:``port``, 1 MiB at a time, while sampling
    the RSS of the processes ``pids()`` names every 20 ms.  Returns (status,
    bytes read, SHA-256 hex digest, growth in KiB: the sum over processes of
    their peak minus their first sample, so processes that come and go do
    not count as growth)."""
    import hashlib
    import http.client
    import threading

    first, peak = {}, {}
    done = threading.Event()

    def sample():
        while True:
            for pid in pids():
                try:
                    rss = rss_kib(pid)
                except (OSError, ValueError):
                    continue
                first.setdefault(pid, rss)
                peak[pid] = max(peak.get(pid, 0), rss)
            if done.wait(0.02):
                return

    sampler = threading.Thread(target=sample)
    sampler.start()
    digest = hashlib.sha256()
    total = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        status = response.status
        while True:
            chunk = response.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
            digest.update(chunk)
    finally:
        connection.close()
        done.set()
        sampler.join()
    return status, total, digest.hexdigest(), sum(peak[pid] - first[pid] for pid in peak)


def upload_echoed(port, path, size, pids, tmpdir, duplex=False, timeout=120):
    """POST ``size`` bytes, made by a generator (never held whole), to an
    echoing script at 127.0.0.1:``port`` ``path``, and read the answer
    1 MiB at a time, while sampling the RSS of the processes ``pids()``
    names and which of them hold a file open in ``tmpdir``.

    ``duplex=False`` is a client that sends its whole body before it reads
    (http.client, as requests and most SDKs); ``duplex=True`` one that reads
    while it sends (a raw socket, a thread sending, as curl does).  Returns
    (status, bytes read, sent and received SHA-256 equal, RSS growth in KiB
    as in ``download_watching_rss``, whether a file in ``tmpdir`` was seen
    open)."""
    import hashlib
    import http.client
    import threading

    block = os.urandom(1 << 20)
    sent = hashlib.sha256()

    def body():
        left, n = size, 0
        while left:
            piece = (n.to_bytes(8, "big") + block[8:])[:left]
            sent.update(piece)
            left -= len(piece)
            n += 1
            yield piece

    watch = _Watch(pids, tmpdir)
    received = hashlib.sha256()
    total = 0
    sender = None
    try:
        if duplex:
            sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            head = (
                "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                % (path, size)
            )
            failed = []

            def send():
                try:
                    sock.sendall(head.encode())
                    for piece in body():
                        sock.sendall(piece)
                except OSError as exc:
                    failed.append(exc)

            sender = threading.Thread(target=send)
            sender.start()
            response = http.client.HTTPResponse(sock)
            response.begin()
            connection = sock
        else:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            connection.request("POST", path, body=body(), headers={"Content-Length": str(size)})
            response = connection.getresponse()
        status = response.status
        while True:
            chunk = response.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
            received.update(chunk)
    finally:
        if sender is not None:
            sender.join(timeout)
        connection.close()
        watch.stop()
    return status, total, sent.digest() == received.digest(), watch.growth(), watch.spilled


def open_in(pids, folder):
    """The files under ``folder`` that the processes ``pids`` hold open (an
    unnamed temporary file shows as ``folder/#123 (deleted)``), gunicorn's
    worker heartbeat files aside."""
    found = []
    for pid in pids:
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            # gunicorn's own per-worker heartbeat file lives there too.
            if target.startswith(folder + "/") and not target.startswith(folder + "/wgunicorn-"):
                found.append((pid, target))
    return found


class _Watch:
    """Samples RSS (and open files in ``folder``) of ``pids()`` every 20 ms
    in a thread until ``stop()``."""

    def __init__(self, pids, folder=None):
        import threading

        self.pids = pids
        self.folder = folder
        self.first, self.peak = {}, {}
        self.spilled = False
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample)
        self.thread.start()

    def sample(self):
        while True:
            pids = self.pids()
            for pid in pids:
                try:
                    rss = rss_kib(pid)
                except (OSError, ValueError):
                    continue
                self.first.setdefault(pid, rss)
                self.peak[pid] = max(self.peak.get(pid, 0), rss)
            if self.folder and not self.spilled and open_in(pids, self.folder):
                self.spilled = True
            if self.done.wait(0.02):
                return

    def stop(self):
        self.done.set()
        self.thread.join()

    def growth(self):
        return sum(self.peak[pid] - self.first[pid] for pid in self.peak)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@contextlib.contextmanager
def serving(kind, app_spec, env=None, cwd=HERE, log_dir="/tmp"):
    port = free_port()
    argv = [sys.executable] + [part.format(port=port, app=app_spec) for part in COMMANDS[kind]]
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [HERE, environ.get("PYTHONPATH")]))
    environ.update(env or {})
    with launched(kind, argv, port, environ, cwd, log_dir) as server:
        yield server


@contextlib.contextmanager
def launched(kind, argv, port, environ, cwd, log_dir, ready=lambda log: True, stop=signal.SIGTERM):
    """Run ``argv`` in a session of its own until it listens on ``port``
    (and ``ready(log text)`` holds); yield its ``Server``; then send it
    ``stop``, and SIGKILL whatever is left of the session after 10 s."""
    log_path = os.path.join(log_dir, "wsgicgi-%s-%d.log" % (kind, port))
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    server = Server(process, port, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError("%s exited at start:\n%s" % (kind, server.log()))
            if ready(server.log()):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not listen within 30 s:\n%s" % (kind, server.log()))
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(stop)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        with contextlib.suppress(OSError):
            os.unlink(log_path)
