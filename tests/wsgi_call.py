"""One in-process WSGI call, as a server makes it: the environ and the call."""

import io


def environ_for(path, method="GET", query="", headers=None, **extra):
    """A PEP 3333 environ for ``method path?query``; ``headers`` become
    ``HTTP_*`` variables, ``extra`` is added as given."""
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper()] = value
    environ.update(extra)
    return environ


def call(app, environ):
    """``app(environ)``: (status code, headers dict, body), the iterable closed."""
    got = {}

    def start_response(status, headers, exc_info=None):
        got["status"], got["headers"] = status, dict(headers)

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return int(got["status"][:3]), got["headers"], body
