"""A small WSGI app for the FastCGI tests under a real Apache (standard library only:
Apache runs it as www-data with Debian's python3).

Routes, on the first segment of PATH_INFO:

- ``/env/...``   the environ's plain values as JSON (latin-1 strings: json escapes
  every non-ASCII character, so the raw bytes survive), with the process id,
  what fd 0 is, and what the server put in the process environment
- ``/pid``       the process id, as text
- ``/echo``      the request body back (read whole, then sent)
- ``/hash``      the body's length and SHA-256, read in pieces
- ``/download``  ``?n=BYTES`` of a repeating pattern, streamed in 256 KiB pieces
- ``/crash``     raises before any byte is sent
- ``/log``       writes a line to ``wsgi.errors``, answers "logged"
"""

import hashlib
import json
import os
import stat

PATTERN = bytes(range(256)) * 1024  # 256 KiB

ENV_KEYS = (
    "PATH",
    "PYTHONPATH",
    "HTTP_AUTHORIZATION",
    "SCRIPT_NAME",
    "PATH_INFO",
    "REQUEST_METHOD",
    "GATEWAY_INTERFACE",
)


def pattern_chunks(n):
    """The download's bytes, piece by piece (the test hashes the same)."""
    while n > 0:
        piece = PATTERN[:n]
        n -= len(piece)
        yield piece


def _fd0():
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return "closed"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISFIFO(mode):
        return "pipe"
    if stat.S_ISCHR(mode):
        return "char"
    return "file"


def _chunks(stream, length, size=65536):
    while length > 0:
        data = stream.read(min(size, length))
        if not data:
            break
        length -= len(data)
        yield data


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    route = "/" + path.lstrip("/").split("/", 1)[0]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if route == "/pid":
        body = str(os.getpid()).encode()
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
        )
        return [body]
    if route == "/echo":
        body = b"".join(_chunks(environ["wsgi.input"], length))
        start_response(
            "200 OK",
            [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))],
        )
        return [body]
    if route == "/hash":
        digest = hashlib.sha256()
        got = 0
        for data in _chunks(environ["wsgi.input"], length):
            digest.update(data)
            got += len(data)
        body = json.dumps(
            {"length": got, "sha256": digest.hexdigest(), "pid": os.getpid()}
        ).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if route == "/download":
        n = int(environ.get("QUERY_STRING", "").partition("n=")[2] or 0)
        start_response(
            "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))]
        )
        return pattern_chunks(n)
    if route == "/crash":
        raise RuntimeError("fastcgi crash marker-5c1e")
    if route == "/log":
        environ["wsgi.errors"].write("fastcgi wsgi.errors marker-a9d2\n")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"logged"]
    info = {key: value for key, value in environ.items() if isinstance(value, (str, bool, int))}
    info["pid"] = os.getpid()
    info["fd0"] = _fd0()
    info["os.environ"] = {key: os.environ[key] for key in ENV_KEYS if key in os.environ}
    info["body"] = environ["wsgi.input"].read(length).decode("latin-1")
    body = json.dumps(info, sort_keys=True).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Probe", "fastcgi")])
    return [body]
