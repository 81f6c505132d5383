"""The soak's client: request kinds, each with the answer it must get, and
the threads that drive them concurrently at one server on 127.0.0.1."""

import http.client
import random
import socket
import threading
import time

_POOL = random.Random(5).randbytes(1 << 18)
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class Wrong(Exception):
    """The server's answer was not the expected one."""


class Client:
    """One keep-alive connection, reopened when the server or a kind closes it.
    ``front``: "nginx" when nginx stands in front of the app (it answers
    some hostile requests itself)."""

    def __init__(self, port, timeout, front=None):
        self.port = port
        self.timeout = timeout
        self.front = front
        self.conn = None
        self.retries = 0

    def drop(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def send(self, method, path, body=None, headers=None):
        """Send a request and return the response object, its headers read.

        A keep-alive connection the server closed while idle fails before any
        answer; such a request is sent again once on a new connection, as
        browsers do.  A fresh connection is never retried.
        """
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            reused = self.conn.sock is not None
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                return self.conn.getresponse()
            except _STALE:
                self.drop()
                if not reused or attempt:
                    raise
                self.retries += 1

    def fetch(self, method, path, body=None, headers=None):
        """``(status, headers, body)`` of a whole exchange."""
        try:
            response = self.send(method, path, body, headers)
            return response.status, response, response.read()
        except BaseException:
            self.drop()
            raise

    def raw(self, data):
        """Send ``data`` on a new socket and close it without reading."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout) as sock:
            sock.sendall(data)


def _expect(got, status, body=None):
    code, _, data = got
    if code != status or (body is not None and data != body):
        raise Wrong(
            "status %s, body %r (expected %s, %r)" % (code, data[:80], status, body and body[:80])
        )


def hello(client, n):
    _expect(client.fetch("GET", "/hello.sh?n=%d" % n), 200, b"hello n=%d\n" % n)


def echo(client, n):
    size = (n * 7919) % (1 << 18) if n % 10 else 0
    start = (n * 104729) % (1 << 17)
    data = _POOL[start : start + size]
    got = client.fetch("POST", "/echo.sh", data, {"Content-Type": "application/octet-stream"})
    _expect(got, 200, data)
    if got[1].getheader("X-Length") != str(len(data)):
        raise Wrong("X-Length %r for %d bytes" % (got[1].getheader("X-Length"), len(data)))


def big(client, n):
    _expect(client.fetch("GET", "/big.sh"), 200, bytes(1 << 20))


def missing(client, n):
    _expect(client.fetch("GET", "/missing-%d.sh" % n), 404, b"404 Not Found\n")


def _refused_by_nginx(got):
    # nginx refuses a NUL or a path above the root itself: 400, its own page.
    _expect(got, 400)
    if b"400 Bad Request" not in got[2]:
        raise Wrong("status 400 without nginx's page: %r" % got[2][:80])


def nul_path(client, n):
    got = client.fetch("GET", "/hello.sh%00.txt")
    if client.front == "nginx":
        return _refused_by_nginx(got)
    _expect(got, 400, b"400 Bad Request\n")


def traversal(client, n):
    # Decoded by the server into "/../cgi-bin/hello.sh", which names the real
    # hello.sh through the root's parent: never mapped (404).
    got = client.fetch("GET", "/%2e%2e/cgi-bin/hello.sh")
    if client.front == "nginx":
        return _refused_by_nginx(got)
    _expect(got, 404, b"404 Not Found\n")


def crash(client, n):
    _expect(client.fetch("GET", "/crash.sh"), 502, b"502 Bad Gateway\n")


def die_midway(client, n):
    _expect(client.fetch("GET", "/die_midway.sh"), 200, b"partial")


def huge_header(client, n):
    _expect(client.fetch("GET", "/huge_header.sh"), 502, b"502 Bad Gateway\n")


def slow(client, n):
    _expect(client.fetch("GET", "/slow.sh"), 504, b"504 Gateway Timeout\n")


def stall(client, n):
    _expect(client.fetch("GET", "/stall.sh"), 200, b"first\n")


def nap(client, n):
    _expect(client.fetch("GET", "/nap.sh"), 200, b"awake\n")


def abort_body(client, n):
    # The client goes away in the middle of an endless body.
    try:
        response = client.send("GET", "/stream.sh")
        if response.status != 200:
            raise Wrong("status %s" % response.status)
        data = response.read(1 << 18)
        if len(data) != 1 << 18 or data.count(0) != len(data):
            raise Wrong("%d bytes of the stream, not all zero" % len(data))
    finally:
        client.drop()


def abort_early(client, n):
    # Gone before the script (a silent one) has answered.
    client.raw(b"GET /slow.sh HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")


def upload_abort(client, n):
    # Gone in the middle of the request body.
    head = b"POST /echo.sh HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1048576\r\n\r\n"
    client.raw(head + _POOL[: 1 << 16])


# name -> (weight in %, function)
KINDS = {
    "hello": (32, hello),
    "echo": (18, echo),
    "big": (6, big),
    "missing": (4, missing),
    "nul_path": (2, nul_path),
    "traversal": (2, traversal),
    "crash": (8, crash),
    "die_midway": (6, die_midway),
    "huge_header": (6, huge_header),
    "slow": (2, slow),
    "stall": (2, stall),
    "abort_body": (7, abort_body),
    "abort_early": (1, abort_early),
    "upload_abort": (4, upload_abort),
    "nap": (0, nap),  # the warm-up's
}


def plan(count, seed):
    """``count`` kind names in the KINDS proportions, shuffled by ``seed``."""
    names = []
    for name, (weight, _) in KINDS.items():
        names.extend([name] * (count * weight // 100))
    names.extend(["hello"] * (count - len(names)))
    random.Random(seed).shuffle(names)
    return names


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = dict.fromkeys(KINDS, 0)
        self.wrong = dict.fromkeys(KINDS, 0)
        self.slowest = dict.fromkeys(KINDS, 0.0)
        self.examples = []
        self.retries = 0
        self.elapsed = 0.0

    def add(self, name, seconds, error):
        with self.lock:
            self.count[name] += 1
            self.slowest[name] = max(self.slowest[name], seconds)
            if error is not None:
                self.wrong[name] += 1
                if len(self.examples) < 20:
                    self.examples.append("%s: %s" % (name, error))

    def done(self):
        return sum(self.count.values())

    def wrong_total(self):
        return sum(self.wrong.values())


def drive(port, names, concurrency, seconds, timeout=30.0, results=None, front=None):
    """Send the requests ``names`` from ``concurrency`` threads, stopping
    early after ``seconds``; return the ``Results`` (``results`` if given,
    which another thread may watch).  ``front``: see ``Client``."""
    results = results or Results()
    lock = threading.Lock()
    queue = iter(enumerate(names))
    deadline = time.monotonic() + seconds
    started = time.monotonic()

    def worker():
        client = Client(port, timeout, front)
        try:
            while time.monotonic() < deadline:
                with lock:
                    item = next(queue, None)
                if item is None:
                    return
                n, name = item
                began = time.monotonic()
                error = None
                try:
                    KINDS[name][1](client, n)
                except Wrong as exc:
                    error = str(exc)
                except Exception as exc:
                    error = "%s: %s" % (type(exc).__name__, exc)
                results.add(name, time.monotonic() - began, error)
        finally:
            client.drop()
            with results.lock:
                results.retries += client.retries

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + timeout + 5)
    results.elapsed = time.monotonic() - started
    return results
