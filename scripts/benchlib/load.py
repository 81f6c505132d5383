"""Servers under load for ``scripts/bench host`` and ``serve``: starting and
stopping server processes on 127.0.0.1, ``wrk`` runs, a 1 GiB download, and
the RSS of a server's process tree."""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

from harness import process

from .common import MB, log


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, timeout=20.0, log_path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = ""
            if log_path:
                try:
                    with open(log_path, errors="replace") as f:
                        tail = f.read()[-2000:]
                except OSError:
                    pass
            raise RuntimeError("server exited at start (code %s):\n%s" % (proc.returncode, tail))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server not listening on port %d after %.0f s" % (port, timeout))


class ProcessServer:
    """A server command with ``{port}`` in its argv, run in its own session
    (so ``stop`` can kill the whole tree), output to ``log_path``."""

    def __init__(self, argv, env, cwd, log_path):
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.log_path = log_path
        self.port = None
        self.proc = None

    def start(self):
        self.port = free_port()
        argv = [a.format(port=self.port) for a in self.argv]
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        try:
            wait_listening(self.port, self.proc, log_path=self.log_path)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is not None:
            process.stop(proc, signal.SIGTERM, 10, group=True)


class ApacheServer:
    """scripts/harness/apache.py's private httpd behind the same interface."""

    def __init__(self, apache):
        self.apache = apache

    def start(self):
        self.apache.start()
        return self

    @property
    def port(self):
        return self.apache.port

    @property
    def pid(self):
        return self.apache.proc.pid if self.apache.proc else None

    def url(self, path):
        return self.apache.url(path)

    def stop(self):
        self.apache.cleanup()


def get(url, timeout=30):
    """(status, body) of a GET."""
    m = re.match(r"http://([^:/]+):(\d+)(.*)", url)
    conn = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=timeout)
    try:
        conn.request("GET", m.group(3) or "/")
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wrk_available():
    return shutil.which("wrk") is not None


def ensure_wrk():
    """wrk from Debian, installed when missing (the bench runs as root)."""
    if wrk_available():
        return True
    log("bench: installing wrk (apt-get)")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, timeout=600)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "wrk"],
        env=env,
        timeout=600,
        stdout=subprocess.DEVNULL,
    )
    return wrk_available()


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def wrk(url, connections, duration, threads=1):
    """One wrk run from its own process: requests/s, latency, errors."""
    duration = max(1, round(duration))  # wrk takes whole seconds
    argv = [
        "wrk",
        "-t%d" % threads,
        "-c%d" % connections,
        "-d%ds" % duration,
        "--timeout",
        "10s",
        "--latency",
        url,
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    out = proc.stdout
    result = {
        "rps": None,
        "requests": 0,
        "non2xx": 0,
        "socket_errors": 0,
        "p50": None,
        "p99": None,
        "raw": out[-1500:],
    }
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        result["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", out)
    if m:
        result["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        result["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        # a server that closes each connection (HTTP/1.0) shows up as "read"
        # errors in wrk without losing a response: count connect and timeout
        result["socket_errors"] = int(m.group(1)) + int(m.group(4))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+(\S+)" % pct, out, re.M)
        if m:
            result[key] = _seconds(m.group(1))
    return result


def process_tree(root, exclude_exe=()):
    """The pids of ``root`` and its descendants, without the processes whose
    executable's name is in ``exclude_exe`` (the CGI scripts themselves)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out = []
    todo = [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            exe = os.path.basename(os.readlink("/proc/%d/exe" % pid))
        except OSError:
            exe = ""
        if exe not in exclude_exe:
            out.append(pid)
    return out


def rss_of(pids):
    """Sum of VmRSS of ``pids`` in bytes."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


SCRIPT_EXES = ("dash", "sh", "bash", "cat", "hello", "wrk")
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pids):
    """User plus system CPU seconds ``pids`` have used themselves (fields 14
    and 15 of /proc/PID/stat; the reaped scripts count in cutime, not here)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICK


class RssSampler(threading.Thread):
    """Samples the RSS of a server's process tree (scripts excluded) every
    ``interval`` seconds; ``peak`` is the largest sum seen."""

    def __init__(self, root, interval=0.05):
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self.peak = max(self.peak, rss_of(process_tree(self.root, SCRIPT_EXES)))
            self._stop_event.wait(self.interval)

    def stop(self):
        self._stop_event.set()
        self.join(5)


class _Chunked:
    """Counts the payload of a ``Transfer-Encoding: chunked`` body fed in
    pieces (RFC 9112 §7.1); ``done`` after the last chunk."""

    def __init__(self):
        self.body = 0
        self.left = 0  # payload bytes left in the current chunk
        self.pending = b""  # an incomplete size line
        self.skip = 0  # CRLF after a chunk's payload
        self.done = False

    def feed(self, data):
        view = memoryview(data)
        i, n = 0, len(data)
        while i < n and not self.done:
            if self.left:
                take = min(self.left, n - i)
                self.body += take
                self.left -= take
                i += take
                if not self.left:
                    self.skip = 2
            elif self.skip:
                take = min(self.skip, n - i)
                self.skip -= take
                i += take
            else:
                end = data.find(b"\n", i)
                if end < 0:
                    self.pending += bytes(view[i:])
                    return
                line = self.pending + bytes(view[i:end])
                self.pending = b""
                i = end + 1
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.done = True
                self.left = size


def download(server, path, expect, timeout=180.0):
    """GET ``path`` reading the body as fast as the socket gives it (plain or
    chunked); returns (MB/s, server RSS before, peak server RSS during)."""
    before = rss_of(process_tree(server.pid, SCRIPT_EXES))
    sampler = RssSampler(server.pid)
    sampler.start()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        start = time.perf_counter()
        sock.sendall(
            ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode()
        )
        buf = bytearray(1 << 20)
        head = b""
        body = 0
        chunked = None
        deadline = time.monotonic() + timeout
        while True:
            n = sock.recv_into(buf)
            if not n:
                break
            if head is not None:
                head += bytes(buf[:n])
                end = head.find(b"\r\n\r\n")
                if end < 0:
                    continue
                if not re.match(rb"HTTP/1\.[01] 200", head):
                    raise RuntimeError("answered %r" % head[:200])
                rest = head[end + 4 :]
                if re.search(rb"(?im)^transfer-encoding:\s*chunked", head[:end]):
                    chunked = _Chunked()
                    chunked.feed(rest)
                else:
                    body = len(rest)
                head = None
            elif chunked is not None:
                chunked.feed(buf[:n])
            else:
                body += n
            if chunked is not None:
                body = chunked.body
                if chunked.done:
                    break
            elif body >= expect:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("download slower than %.0f s" % timeout)
        elapsed = time.perf_counter() - start
    finally:
        sock.close()
        sampler.stop()
    if body != expect:
        raise RuntimeError("got %d of %d bytes" % (body, expect))
    return expect / elapsed / MB, before, max(sampler.peak, before)
