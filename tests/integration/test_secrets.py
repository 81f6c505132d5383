"""Secrets stay put (issue 5): a secret in the serving process's environment
never reaches a CGI script, an error page or a log line.

The secret is a fresh random token in WSGICGI_TEST_SECRET.  Real servers
(waitress, gunicorn gthread and sync) serve a CGIDirectory of scripts that
dump their whole environment every way a script can (``env``,
/proc/self/environ, Python's os.environ, to the page and to stderr), and of
scripts that fail every way the adapter answers (400, 403, 404, 500, 502,
504); every byte of every response and of the server's log is searched.
The gateway (``python -m wsgicgi``) is run with the secret in its own
environment and an app that fails, with and without WSGICGI_DEBUG.  Each
search has a positive control, so that a search that cannot find anything
would fail.
"""

import io
import os
import secrets
import socket
import subprocess
import sys
import textwrap

import pytest
from wsgi_servers import serving

from wsgicgi import CGIDirectory, CGIScript

pytestmark = pytest.mark.integration

NAME = "WSGICGI_TEST_SECRET"
KINDS = ["waitress", "gunicorn-gthread", "gunicorn-sync"]

# name -> (source, mode); the scripts the servers run.
SCRIPTS = {
    "env.sh": ("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nexec env\n", 0o755),
    "proc.sh": (
        "#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\n\\n'\n"
        "cat /proc/self/environ\ncat /proc/$$/environ\n",
        0o755,
    ),
    "env.py": (
        "import os, sys\n"
        "body = repr(dict(os.environb)).encode()\n"
        "sys.stdout.buffer.write(b'Content-Type: text/plain\\n\\n' + body)\n",
        0o644,  # run by the interpreters mapping
    ),
    # Dumps its environment to stderr (the server's log), then fails: 502.
    "crash.sh": ("#!/bin/sh\nenv >&2\necho crash.sh dumped its environment >&2\nexit 7\n", 0o755),
    "slow.sh": ("#!/bin/sh\nenv >&2\nexec sleep 30\n", 0o755),  # 504
    "huge.sh": (
        "#!/bin/sh\nprintf 'X: '\nhead -c 70000 /dev/zero | tr '\\0' x\nprintf '\\n\\n'\n",
        0o755,
    ),  # 502
    "badhead.sh": ("#!/bin/sh\nprintf 'Status: nonsense\\n\\n'\n", 0o755),  # 502
    "loop.sh": ("#!/bin/sh\nprintf 'Location: /loop.sh\\n\\n'\n", 0o755),  # 500: redirect loop
    "noexec.sh": ("#!/bin/sh\necho never\n", 0o644),  # 403
    "badinterp.sh": ("#!/nonexistent/interpreter\n", 0o755),  # 500: cannot run
}

# (request target, expected status)
REQUESTS = [
    ("/env.sh", 200),
    ("/env.sh/path/info?q=1", 200),
    ("/proc.sh", 200),
    ("/env.py", 200),
    ("/crash.sh", 502),
    ("/slow.sh", 504),
    ("/huge.sh", 502),
    ("/badhead.sh", 502),
    ("/loop.sh", 500),
    ("/noexec.sh", 403),
    ("/badinterp.sh", 500),
    ("/missing.sh", 404),
    ("/", 403),
    ("/env.sh%00", 400),
]


@pytest.fixture(scope="module")
def token():
    return "s3cr3t-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def cgi_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("secret-cgi")
    for name, (source, mode) in SCRIPTS.items():
        path = root / name
        path.write_text(source)
        path.chmod(mode)
    return str(root)


def exchange(port, target, headers=b""):
    """The raw bytes of a whole HTTP exchange (status line, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n"
            % (target.encode(), headers)
        )
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def status_of(raw):
    return int(raw.split(b" ", 2)[1])


def assert_secret_absent(data, token, where):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    assert token.encode() not in data, "the secret shows in %s" % where
    assert NAME.encode() not in data, "the secret's name shows in %s" % where


@pytest.fixture(scope="module", params=KINDS)
def server(request, token, cgi_root):
    env = {NAME: token, "CGI_ROOT": cgi_root, "CGI_TIMEOUT": "1"}
    with serving(request.param, "host_app:app", env=env) as server:
        with open("/proc/%d/environ" % server.pid, "rb") as f:
            assert token.encode() in f.read()  # the server really holds it
        yield server


def test_no_script_no_error_page_and_no_log_line_shows_the_secret(server, token):
    pages = {}
    for target, expected in REQUESTS:
        raw = exchange(server.port, target, b"X-Probe: probe-value\r\n")
        assert status_of(raw) == expected, (target, raw[:300])
        pages[target] = raw
        assert_secret_absent(raw, token, "the answer to %s" % target)
    # Controls: the dumps are whole environments (the probe header and PATH
    # came through), and the log holds what the scripts wrote to stderr.
    for target in ("/env.sh", "/proc.sh", "/env.py"):
        assert b"HTTP_X_PROBE" in pages[target] and b"probe-value" in pages[target], target
        assert b"PATH" in pages[target] and b"SCRIPT_FILENAME" in pages[target], target
    log = server.log()
    assert "crash.sh dumped its environment" in log and "HTTP_X_PROBE=probe-value" in log
    for code in ("404", "403", "400", "500", "502", "504"):
        assert "wsgicgi: %s:" % code in log, code
    assert_secret_absent(log, token, "the server's log")


def test_a_client_cannot_ask_for_it(server, token):
    # Headers named like the secret arrive as HTTP_..., never as the variable.
    raw = exchange(
        server.port,
        "/env.sh?%s=1" % NAME,
        b"%s: x\r\nProxy: http://evil/\r\n" % NAME.replace("_", "-").encode(),
    )
    assert status_of(raw) == 200
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert token.encode() not in raw
    assert b"\n%s=" % NAME.encode() not in b"\n" + body
    assert b"HTTP_PROXY=" not in body


# -- the defaults of CGIScript and CGIDirectory, in process ----------------


def call(app, path=""):
    errors = io.StringIO()
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": errors,
        "wsgi.url_scheme": "http",
    }
    seen = []
    result = app(environ, lambda status, headers, exc_info=None: seen.append((status, headers)))
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return seen[0][0], repr(seen[0][1]).encode() + body, errors.getvalue()


def test_inherit_env_defaults_keep_it_from_the_child(monkeypatch, token, cgi_root):
    monkeypatch.setenv(NAME, token)
    for app, path in (
        (CGIScript(os.path.join(cgi_root, "proc.sh")), ""),
        (CGIScript(os.path.join(cgi_root, "env.py"), interpreter=sys.executable), ""),
        (CGIDirectory(cgi_root), "/env.sh"),
        (CGIDirectory(cgi_root), "/crash.sh"),
        (CGIDirectory(cgi_root, timeout=0.5), "/slow.sh"),
    ):
        status, page, log = call(app, path)
        assert_secret_absent(page, token, "%s's answer" % path)
        assert_secret_absent(log, token, "%s's log" % path)
    # Control: named in inherit_env, it does reach the child.
    status, page, _ = call(CGIDirectory(cgi_root, inherit_env=("PATH", NAME)), "/env.sh")
    assert status == "200 OK" and token.encode() in page


# -- the gateway: the secret in the CGI process's own environment ------------

CRASHING = textwrap.dedent(
    """\
    def before(environ, start_response):
        secret_holder = dict(environ)  # a local that holds it: never printed
        raise RuntimeError("failed before the response")

    def after(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first chunk"
        raise RuntimeError("failed in the body")

    def bad_header(environ, start_response):
        start_response("200 OK", [("X-Bad", "a\\r\\nb")])
        return [b"never sent"]

    def in_close(environ, start_response):
        class Body(list):
            def close(self):
                raise RuntimeError("failed in close")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body([b"body"])
    """
)

GATEWAY_CASES = [
    # (APP, extra meta-variables, expected Status)
    ("crashing:before", {}, "500"),
    ("crashing:after", {}, None),
    ("crashing:bad_header", {}, "500"),
    ("crashing:in_close", {}, None),
    ("no_such_module_x9:app", {}, "500"),
    ("crashing:before", {"CONTENT_LENGTH": "-1", "REQUEST_METHOD": "POST"}, "400"),
]


@pytest.mark.parametrize("debug", [None, "1"], ids=["no-debug", "WSGICGI_DEBUG=1"])
@pytest.mark.parametrize("app,extra,status", GATEWAY_CASES)
def test_gateway_error_pages_and_log_never_show_it(tmp_path, token, app, extra, status, debug):
    (tmp_path / "crashing.py").write_text(CRASHING)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/app.cgi",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        NAME: token,
    }
    env.update(extra)
    if debug:
        env["WSGICGI_DEBUG"] = debug
    done = subprocess.run(
        [sys.executable, "-m", "wsgicgi", app],
        env=env,
        cwd=str(tmp_path),
        input=b"",
        capture_output=True,
        timeout=60,
    )
    assert done.stdout.startswith(b"Status: " + (status or "200").encode()), done.stdout[:200]
    assert done.stderr, "the failure is logged"
    assert_secret_absent(done.stdout, token, "the gateway's page")
    assert_secret_absent(done.stderr, token, "the gateway's log")
    if debug and app == "crashing:before" and status == "500":
        # Control: the debug page does carry the traceback.
        assert b"failed before the response" in done.stdout and b"Traceback" in done.stdout
