"""A plain WSGI app that reports what it received, for the real-Apache tests.

Standard library only: Apache runs it as www-data with Debian's python3.
Routes (on PATH_INFO's first segment, so any PATH_INFO can be probed):

- ``/env/...``   the CGI/WSGI variables as JSON (latin-1 strings, so the raw
  bytes survive: json escapes every non-ASCII character)
- ``/echo``      the request body back (read whole, then sent)
- ``/hash``      the body's length and SHA-256, read in pieces
- ``/download``  ``?n=BYTES`` of a repeating pattern, streamed
- ``/error``     raises before any byte is sent
"""

import hashlib
import json
import os

KEYS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "HTTP_AUTHORIZATION",
    "REDIRECT_HTTP_AUTHORIZATION",
    "REQUEST_URI",
    "REDIRECT_URL",
    "SCRIPT_URL",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
    "GATEWAY_INTERFACE",
    "wsgi.url_scheme",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
)

PATTERN = bytes(range(256)) * 256  # 64 KiB


def pattern(n):
    """The first ``n`` bytes of the download (for the test to compare)."""
    full, rest = divmod(n, len(PATTERN))
    return PATTERN * full + PATTERN[:rest]


def _chunks(stream, length, size=65536):
    while length > 0:
        data = stream.read(min(size, length))
        if not data:
            break
        length -= len(data)
        yield data


def app(environ, start_response):
    """Dispatch on the first segment of PATH_INFO."""
    path = environ.get("PATH_INFO", "")
    route = "/" + path.lstrip("/").split("/", 1)[0]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if route == "/echo":
        # Read it all first: Apache writes the whole request body to the
        # script before it reads any output, so echoing while still reading
        # deadlocks once the pipes fill (until Apache's Timeout).
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
        body = json.dumps({"length": got, "sha256": digest.hexdigest()}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if route == "/download":
        n = int(environ.get("QUERY_STRING", "").partition("n=")[2] or 0)
        start_response(
            "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))]
        )
        return _download(n)
    if route == "/error":
        raise RuntimeError("probe failure marker-7f3a")
    info = {key: environ.get(key) for key in KEYS if key in environ}
    # What the server itself put in the process environment, before the gateway.
    info["os.environ"] = {key: os.environ[key] for key in KEYS if key in os.environ}
    info["body"] = environ["wsgi.input"].read(length).decode("latin-1")
    body = json.dumps(info, sort_keys=True).encode("ascii")
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Probe", "yes")])
    return [body]


def _download(n):
    while n > 0:
        piece = PATTERN[: min(n, len(PATTERN))]
        n -= len(piece)
        yield piece
