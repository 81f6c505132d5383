"""The WSGI app behind the FastCGI integration tests (standard library only:
lighttpd runs it with Debian's python3).

Routes, on the first segment of PATH_INFO:

- ``/env/...``     what the app received, as JSON (latin-1 strings, so raw
  bytes survive), with the process id and the body read whole
- ``/hash``        the body's length and SHA-256, read in pieces
- ``/conns``       the sockets this process has open (``socket:[inode]`` of
  /proc/self/fd): with the listener known, the connection in use
- ``/stream``      ``?n=BYTES`` streamed in 64 KiB pieces; ``?marker=PATH``
  makes close() write how many bytes were handed over to PATH
- ``/slow``        sleeps ``?s=SECONDS`` then answers its pid
"""

import hashlib
import json
import os
import time
from urllib.parse import parse_qs

KEYS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "REQUEST_URI",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
    "GATEWAY_INTERFACE",
    "REMOTE_ADDR",
    "HTTP_HOST",
    "HTTP_X_TEST",
    "HTTPS",
    "DOCUMENT_ROOT",
    "SCRIPT_FILENAME",
    "wsgi.url_scheme",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
    "wsgi.input_terminated",
)

PIECE = bytes(range(256)) * 256  # 64 KiB


def pattern(n):
    full, rest = divmod(n, len(PIECE))
    return PIECE * full + PIECE[:rest]


def sockets():
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return sorted(found)


class Stream:
    def __init__(self, n, marker):
        self.n = n
        self.marker = marker
        self.sent = 0

    def __iter__(self):
        while self.sent < self.n:
            piece = PIECE[: min(len(PIECE), self.n - self.sent)]
            self.sent += len(piece)
            yield piece

    def close(self):
        if self.marker:
            with open(self.marker, "w") as f:
                f.write(str(self.sent))


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    route = "/" + path.lstrip("/").split("/", 1)[0]
    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    if route == "/hash":
        digest = hashlib.sha256()
        got = 0
        while True:
            data = stream.read(65536)
            if not data:
                break
            digest.update(data)
            got += len(data)
        body = json.dumps(
            {"length": got, "sha256": digest.hexdigest(), "content_length": length}
        ).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if route == "/conns":
        body = json.dumps({"pid": os.getpid(), "sockets": sockets()}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if route == "/stream":
        n = int(query.get("n", "0"))
        start_response(
            "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))]
        )
        return Stream(n, query.get("marker"))
    if route == "/slow":
        time.sleep(float(query.get("s", "0.2")))
        body = json.dumps({"pid": os.getpid(), "path": path}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    info = {key: environ[key] for key in KEYS if key in environ}
    info["pid"] = os.getpid()
    info["body"] = stream.read().decode("latin-1") if environ["REQUEST_METHOD"] != "GET" else ""
    body = json.dumps(info, sort_keys=True).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json"), ("X-App", "fcgi_app")])
    return [body]
