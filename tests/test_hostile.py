"""The hostile corpus (tests/hostile_cases.py), case by case.

Every case must end in its expected status code with its reason in the log,
and whatever happened the output must be one well-formed CGI response.
"""

import io
import os
import sys
import threading
import time

import pytest
from cgi_output import CGIOutput
from hostile_cases import CASES, RAISE, Case, build_tree

from wsgicgi import run
from wsgicgi.cgihead import CGIResponseError, parse_cgi_headers
from wsgicgi.protocol import check_headers, check_status

BASE_ENV = {
    "GATEWAY_INTERFACE": b"CGI/1.1",
    "REQUEST_METHOD": b"GET",
    "SCRIPT_NAME": b"/cgi-bin/app.cgi",
    "PATH_INFO": b"/",
    "QUERY_STRING": b"",
    "SERVER_NAME": b"example.org",
    "SERVER_PORT": b"80",
    "SERVER_PROTOCOL": b"HTTP/1.1",
}


class Boom(Exception):
    pass


class Closing:
    """An iterable with a close() that may raise."""

    def __init__(self, iterable, boom):
        self.iterable, self.boom = iterable, boom

    def __iter__(self):
        return iter(self.iterable)

    def close(self):
        if self.boom:
            raise Boom("in close()")


def scripted_app(spec):
    """The WSGI application an ``App`` describes."""

    def act(environ, start_response):
        headers = None
        write = None
        for op in spec.ops:
            kind = op[0]
            if kind == "start":
                headers = op[2]
                write = start_response(op[1], headers)
            elif kind == "start_exc":
                try:
                    raise Boom("replaced")
                except Boom:
                    start_response(op[1], op[2], sys.exc_info())
            elif kind == "write":
                write(op[1])
            elif kind == "mutate":
                headers.append(op[1])
            elif kind == "raise":
                raise Boom(op[1])
            elif kind == "read":
                environ["wsgi.input"].read(op[1])

    def items():
        for item in spec.body:
            if item is RAISE:
                raise Boom("in the iterable")
            yield item

    def app(environ, start_response):
        if spec.lazy:

            def generator():
                act(environ, start_response)
                yield from items()

            return Closing(generator(), spec.close == "raise")
        act(environ, start_response)
        if isinstance(spec.body, list):
            return Closing(items(), spec.close == "raise")
        return spec.body

    return app


def echo(how, seen):
    """Reads the body as ``how`` says, answers it back, records the environ."""

    def app(environ, start_response):
        seen.update(environ)
        stream = environ["wsgi.input"]
        if how == "all":
            body = stream.read()
        elif how == "zero-first":
            body = stream.read(0) + stream.read()
        else:
            body = b"".join(iter(lambda: stream.read(8192), b""))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [body]

    return app


def pipe_with(data):
    """A real pipe holding ``data`` whose writer has closed (stdin that ends early)."""
    r, w = os.pipe()

    def feed():
        with os.fdopen(w, "wb") as writer:
            writer.write(data)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return os.fdopen(r, "rb"), thread


def assert_cgi_response(raw, head=False):
    response = CGIOutput(raw)
    check_status(response.status)
    status, headers = parse_cgi_headers(raw.partition(b"\r\n\r\n")[0])
    assert status == response.status
    check_headers(headers)
    if head:
        assert response.body == b""
    return response


def serve_case(case):
    seen = {}
    if case.side == "app":
        env, body, stdin, thread = dict(BASE_ENV), b"", None, None
        app = scripted_app(case.given)
    else:
        req = case.given
        env = {} if req.env.get("*", 0) is None else dict(BASE_ENV)
        for key, value in req.env.items():
            if value is None:
                env.pop(key, None)
            elif key != "*":
                env[key] = value
        body, thread = req.body, None
        app = echo(req.read, seen)
    if case.side == "request" and case.given.stdin == "pipe":
        stdin, thread = pipe_with(body)
    else:
        stdin = io.BytesIO(body)
    out, err = io.BytesIO(), io.StringIO()
    try:
        run(app, environ=env, stdin=stdin, stdout=out, stderr=err)
    finally:
        stdin.close()
        if thread is not None:
            thread.join(5)
    head = env.get("REQUEST_METHOD") == b"HEAD"
    return assert_cgi_response(out.getvalue(), head), err.getvalue(), seen


def parse_case(case):
    """The answer the reverse adapter gives to a script's header block."""
    started = time.perf_counter()
    try:
        status, headers = parse_cgi_headers(case.given)
    except CGIResponseError as exc:
        return 502, str(exc), None, None
    finally:
        # Linear time whatever the block (100,000 folded lines took minutes).
        assert time.perf_counter() - started < 2.0
    return int(status[:3]) if status else 200, "", status, headers


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.side in ("app", "request")],
    ids=lambda c: "%s-%s" % (c.side, c.id),
)
def test_gateway_case(case):
    response, log, seen = serve_case(case)
    assert response.code == case.code, (response, log)
    if case.log is None:
        assert log == ""
    else:
        assert case.log in log
    if "body" in case.expect:
        assert response.body == case.expect["body"]
    if "absent" in case.expect:
        assert case.expect["absent"] not in response.raw
    if "status" in case.expect:
        assert response.status == case.expect["status"]
    for key, value in case.expect.get("seen", {}).items():
        assert seen.get(key) == value, key
    if case.code == 500:
        # The gateway's own error page: generic, never the traceback.
        assert response.body == b"500 Internal Server Error\n"


@pytest.mark.parametrize("case", [c for c in CASES if c.side == "output"], ids=lambda c: c.id)
def test_script_output_case(case):
    code, log, status, headers = parse_case(case)
    assert code == case.code, log
    if case.log is None:
        assert log == ""
    else:
        assert case.log in log
    if "status" in case.expect:
        assert status == case.expect["status"]
    expected_headers = case.expect.get("headers")
    if isinstance(expected_headers, int):
        assert len(headers) == expected_headers
    elif expected_headers is not None:
        assert headers == expected_headers


# --- the reverse adapter: real scripts through CGIScript and CGIDirectory ---------------


def wsgi_environ(env, body=b""):
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/cgi-bin",
        "PATH_INFO": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    environ.update(env)
    return environ


def call_wsgi(app, environ):
    """(code, headers, body, log) of one WSGI call, checked as a server would."""
    started = []

    def start_response(status, headers, exc_info=None):
        check_status(status)
        check_headers(headers)
        started.append((status, headers))

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    status, headers = started[-1]
    return int(status[:3]), headers, body, environ["wsgi.errors"].getvalue()


def cat_script(tmp_path, output):
    """A real /bin/sh CGI script whose stdout is exactly ``output``."""
    payload = tmp_path / "payload.bin"
    payload.write_bytes(output)
    script = tmp_path / "script.cgi"
    script.write_text("#!/bin/sh\nexec cat '%s'\n" % payload)
    script.chmod(0o755)
    return str(script)


def assert_host_answer(case, got, code, log):
    got_code, headers, body, got_log = got
    assert got_code == code, (got_log, body[:200])
    if log is None:
        assert got_log == ""
    else:
        assert log in got_log
    if code >= 400 and log is not None:
        assert body.startswith(b"%d " % code)  # the generic page, no details
    if "body" in case.expect:
        assert body == case.expect["body"]
    if "absent" in case.expect:
        assert case.expect["absent"] not in body
    for name in case.expect.get("absent_headers", ()):
        assert all(n.lower() != name.lower() for n, _ in headers)


@pytest.mark.parametrize("case", [c for c in CASES if c.side == "output"], ids=lambda c: c.id)
def test_script_output_case_through_cgi_script(case, tmp_path):
    from wsgicgi import CGIScript

    code, log = case.expect.get("host", (case.code, case.log))
    got = call_wsgi(
        CGIScript(cat_script(tmp_path, case.given + b"\r\n\r\nBODY"), timeout=10), wsgi_environ({})
    )
    assert_host_answer(case, got, code, log)
    if code < 400 and "host" not in case.expect:
        assert got[2] == b"BODY"


@pytest.mark.parametrize("case", [c for c in CASES if c.side == "script"], ids=lambda c: c.id)
def test_script_case(case, tmp_path):
    from wsgicgi import CGIScript

    got = call_wsgi(CGIScript(cat_script(tmp_path, case.given), timeout=10), wsgi_environ({}))
    assert_host_answer(case, got, case.code, case.log)


@pytest.fixture(scope="module")
def cgi_root(tmp_path_factory):
    return build_tree(str(tmp_path_factory.mktemp("hostile-tree")))


@pytest.mark.parametrize("case", [c for c in CASES if c.side == "directory"], ids=lambda c: c.id)
def test_directory_case(case, cgi_root):
    from wsgicgi import CGIDirectory

    environ = wsgi_environ(case.given.env, case.given.body)
    if "CONTENT_LENGTH" in case.given.env:
        environ["CONTENT_LENGTH"] = case.given.env["CONTENT_LENGTH"]
    got = call_wsgi(CGIDirectory(cgi_root, timeout=10), environ)
    assert_host_answer(case, got, case.code, case.log)


def test_the_corpus_is_large_and_its_ids_unique():
    assert len(CASES) >= 60
    ids = [(c.side, c.id) for c in CASES]
    assert len(set(ids)) == len(ids)
    assert all(isinstance(c, Case) and 100 <= c.code < 600 for c in CASES)
