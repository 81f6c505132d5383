"""The WSGI app tests/test_fcgi.py serves with ``wsgicgi fcgi``.

Routes on the first segment of PATH_INFO; a ``PROBE_CASE`` param instead
serves a case of tests/hostile_cases.py (``app/ID`` or ``request/ID``), so
any PATH_INFO can be sent.  A ``PROBE_MARKER`` param names a file that the
response's close() creates (the test checks close() was called).  A
``PROBE_SEEN`` param names a file where the environ is written as JSON.

- ``/env``       the environ as JSON (str values, bools, and a few wsgi keys)
- ``/echo``      the body back, read whole with read()
- ``/upload``    the body read with read(CHUNK) to its end: length, sha256,
                 the biggest read and the number of reads, as JSON
- ``/download``  ``?n=BYTES`` of a pattern, in 64 KiB blocks
- ``/stream``    blocks of 4 KiB every few ms, ``?n=`` of them (default many)
- ``/raise``     raises before any byte; ``/raise-after`` after one block
- ``/errors``    writes to wsgi.errors, then answers
- ``/print``     print()s, then answers
- ``/file``      ``?path`` sent with wsgi.file_wrapper
- ``/slow``      sleeps ``?s`` seconds, then answers
- ``/first``     reads ``?n`` bytes of the body and answers them at once
                 (the rest of the body not read)
- ``/lines``     the body read with readline(``?max``, default -1) to its
                 end: the lines as a JSON list of latin-1 strings
"""

import hashlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)

BLOCK = bytes(range(256)) * 256  # 64 KiB


class Closing:
    """The response's iterable; close() leaves a marker file when asked."""

    def __init__(self, iterable, marker):
        self.iterable = iterable
        self.marker = marker
        self.inner_close = getattr(iterable, "close", None)

    def __iter__(self):
        return iter(self.iterable)

    def close(self):
        try:
            if self.inner_close is not None:
                self.inner_close()
        finally:
            if self.marker:
                with open(self.marker, "a") as f:
                    f.write("closed\n")


def query(environ, name, default=""):
    for part in environ.get("QUERY_STRING", "").split("&"):
        key, _, value = part.partition("=")
        if key == name:
            return value
    return default


def jsonable(environ):
    out = {}
    for key, value in environ.items():
        if isinstance(value, (str, bool)) or (isinstance(value, tuple) and key == "wsgi.version"):
            out[key] = value
    return out


def hostile(case_id, environ, start_response):
    if TESTS not in sys.path:
        sys.path.insert(0, TESTS)
    from hostile_cases import CASES
    from test_hostile import echo, scripted_app

    side, _, name = case_id.partition("/")
    case = next(c for c in CASES if c.side == side and c.id == name)
    if side == "app":
        return scripted_app(case.given)(environ, start_response)
    return echo(case.given.read, {})(environ, start_response)


def route(environ, start_response):
    path = environ.get("PATH_INFO", "")
    name = "/" + path.lstrip("/").split("/", 1)[0]
    stream = environ["wsgi.input"]
    if name == "/env":
        body = json.dumps(jsonable(environ), sort_keys=True).encode("ascii")
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if name == "/echo":
        body = stream.read()
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [body]
    if name == "/upload":
        chunk = int(query(environ, "chunk", "65536"))
        digest = hashlib.sha256()
        total = biggest = reads = 0
        while True:
            data = stream.read(chunk)
            if not data:
                break
            digest.update(data)
            total += len(data)
            biggest = max(biggest, len(data))
            reads += 1
        info = {
            "length": total,
            "sha256": digest.hexdigest(),
            "biggest": biggest,
            "reads": reads,
            "terminated": environ.get("wsgi.input_terminated"),
        }
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(info).encode()]
    if name == "/download":
        n = int(query(environ, "n", "0"))
        start_response(
            "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))]
        )
        return download(n)
    if name == "/stream":
        n = int(query(environ, "n", "100000"))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return slow_blocks(n, float(query(environ, "every", "0.005")))
    if name == "/raise":
        raise RuntimeError("probe failure marker-fc91")
    if name == "/raise-after":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return raise_after()
    if name == "/errors":
        environ["wsgi.errors"].write("probe wsgi.errors line one\n")
        environ["wsgi.errors"].writelines(["probe wsgi.errors line two\n"])
        environ["wsgi.errors"].flush()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"logged"]
    if name == "/print":
        print("probe print() marker-5d2e")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"printed"]
    if name == "/file":
        f = open(query(environ, "path"), "rb")
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f, 8192)
    if name == "/first":
        data = stream.read(int(query(environ, "n", "5")))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return iter([data])  # an iterator: flushed as yielded (a list waits for the end)
    if name == "/lines":
        limit = int(query(environ, "max", "-1"))
        lines = []
        while True:
            line = stream.readline(limit)
            if not line:
                break
            lines.append(line.decode("latin-1"))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(lines).encode()]
    if name == "/slow":
        time.sleep(float(query(environ, "s", "1")))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"slept"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no route\n"]


def download(n):
    while n > 0:
        piece = BLOCK if n >= len(BLOCK) else BLOCK[:n]
        n -= len(piece)
        yield piece


def slow_blocks(n, every):
    for i in range(n):
        yield (b"%08d" % i) * 512
        time.sleep(every)


def raise_after():
    yield b"first block"
    raise RuntimeError("probe failure after the body marker-a1b2")


def application(environ, start_response):
    marker = environ.get("PROBE_MARKER")
    seen = environ.get("PROBE_SEEN")
    if seen:
        with open(seen, "w") as f:
            json.dump(jsonable(environ), f)
    case = environ.get("PROBE_CASE")
    result = hostile(case, environ, start_response) if case else route(environ, start_response)
    return Closing(result, marker) if marker else result
