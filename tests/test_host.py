"""The reverse adapter: CGIScript and CGIDirectory running real scripts.

The scripts live in tests/cgi_scripts (sh, Perl, Python, and a C program
compiled here when a compiler is present).  WebTest's lint checks every
response against PEP 3333; lifecycle tests call the WSGI app directly.
"""

import base64
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from webtest import TestApp

from wsgicgi import CGIDirectory, CGIScript

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "cgi_scripts")


def script(name):
    return os.path.join(SCRIPTS, name)


class Log(io.StringIO):
    """A wsgi.errors that a test can read."""


def call(app, path="/", method="GET", body=b"", environ=None, close=True):
    """Call a WSGI app directly; return (status, headers, body, log)."""
    errors = Log()
    env = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": errors,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
    env.update(environ or {})
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"] = status
        seen["headers"] = headers

    result = app(env, start_response)
    try:
        data = b"".join(result)
    finally:
        if close and hasattr(result, "close"):
            result.close()
    return seen["status"], seen["headers"], data, errors.getvalue()


def respond(raw, exit_code=0, **options):
    """A CGIScript whose script writes exactly ``raw`` to stdout."""
    env = {"EXIT": str(exit_code)}
    if len(raw) < 32 * 1024:
        env["RESPONSE"] = base64.b64encode(raw).decode()
    else:  # too big for one environment variable (MAX_ARG_STRLEN)
        import tempfile

        with tempfile.NamedTemporaryFile(delete=False, suffix=".response") as f:
            f.write(raw)
        env["RESPONSE_FILE"] = f.name
    return CGIScript(script("respond.py"), env=env, **options)


@pytest.fixture
def cgi_bin():
    return TestApp(CGIDirectory(SCRIPTS, interpreters={".py": sys.executable}))


# -- meta-variables (RFC 3875 §4.1) ---------------------------------------


def test_meta_variables_reach_the_script():
    status, _headers, body, log = call(
        CGIScript(script("env.py")),
        path="/extra/path",
        method="POST",
        body=b"abc",
        environ={
            "SCRIPT_NAME": "/cgi-bin/env.py",
            "QUERY_STRING": "a=1&b=%20",
            "CONTENT_TYPE": "text/plain",
            "HTTP_USER_AGENT": "pytest",
            "HTTP_X_CUSTOM": "yes",
            "REMOTE_PORT": "40000",
            "wsgi.url_scheme": "https",
            "SERVER_SOFTWARE": "TestServer/1.0",
        },
    )
    assert status == "200 OK", log
    env = json.loads(body)
    expected = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": "TestServer/1.0",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "/cgi-bin/env.py",
        "PATH_INFO": "/extra/path",
        "QUERY_STRING": "a=1&b=%20",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_HOST": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": "3",
        "HTTP_USER_AGENT": "pytest",
        "HTTP_X_CUSTOM": "yes",
        "HTTPS": "on",
        "REQUEST_SCHEME": "https",
        "SCRIPT_FILENAME": script("env.py"),
        "REQUEST_URI": "/cgi-bin/env.py/extra/path?a=1&b=%20",
        "_cwd": SCRIPTS,
    }
    assert {k: env.get(k) for k in expected} == expected


def test_query_string_always_present_and_body_variables_only_with_a_body():
    env = json.loads(call(CGIScript(script("env.py")), path="")[2])
    assert env["QUERY_STRING"] == ""
    assert "CONTENT_LENGTH" not in env and "CONTENT_TYPE" not in env
    assert "PATH_INFO" not in env and "PATH_TRANSLATED" not in env
    assert "HTTPS" not in env and env["REQUEST_SCHEME"] == "http"


def test_raw_bytes_reach_the_script_exactly():
    # PEP 3333 strings carry bytes as latin-1; the child must get the bytes.
    raw_path = "/caf\xc3\xa9/\xff\xfe"  # UTF-8 "café" then invalid UTF-8
    _status, _, body, _ = call(
        CGIScript(script("env.py")), path=raw_path, environ={"HTTP_X_BYTES": "\xe9t\xe9"}
    )
    env = json.loads(body)
    assert env["PATH_INFO"].encode("latin-1") == b"/caf\xc3\xa9/\xff\xfe"
    assert env["HTTP_X_BYTES"].encode("latin-1") == b"\xe9t\xe9"


def test_path_translated_with_a_document_root():
    env = json.loads(call(CGIScript(script("env.py"), document_root="/srv/www"), path="/a/b")[2])
    assert env["DOCUMENT_ROOT"] == "/srv/www"
    assert env["PATH_TRANSLATED"] == "/srv/www/a/b"


def test_authenticated_user_and_credentials():
    app = CGIScript(script("env.py"))
    env = json.loads(call(app, environ={"HTTP_AUTHORIZATION": "Basic dTpw"})[2])
    assert env["HTTP_AUTHORIZATION"] == "Basic dTpw"  # as Apache's CGIPassAuth On
    env = json.loads(
        call(
            app,
            environ={"HTTP_AUTHORIZATION": "Basic dTpw", "REMOTE_USER": "u", "AUTH_TYPE": "Basic"},
        )[2]
    )
    assert (env["REMOTE_USER"], env["AUTH_TYPE"]) == ("u", "Basic")
    assert "HTTP_AUTHORIZATION" not in env  # RFC 3875 §4.1.18: the server checked it


@pytest.mark.parametrize(
    "authorization, auth_type",
    [
        ('Digest username="u", realm="r"', "Digest"),
        ("Bearer abc.def", "Bearer"),
        ("", None),
        ("(bad) x", None),
    ],
)
def test_auth_type_from_the_authorization_scheme(authorization, auth_type):
    # RFC 3875 §4.1.1: REMOTE_USER set by the server, AUTH_TYPE not: the
    # scheme of the request's Authorization header.
    environ = {"REMOTE_USER": "u"}
    if authorization:
        environ["HTTP_AUTHORIZATION"] = authorization
    env = json.loads(call(CGIScript(script("env.py")), environ=environ)[2])
    assert env["REMOTE_USER"] == "u"
    assert env.get("AUTH_TYPE") == auth_type


# -- security ---------------------------------------------------------------


def test_proxy_header_never_becomes_http_proxy():
    # httpoxy, CVE-2016-5385: HTTP clients in the script read HTTP_PROXY.
    env = json.loads(call(CGIScript(script("env.py")), environ={"HTTP_PROXY": "http://evil:1/"})[2])
    assert "HTTP_PROXY" not in env


def test_server_secrets_stay_in_the_server(monkeypatch):
    monkeypatch.setenv("SERVER_SECRET", "hunter2")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = json.loads(
        call(CGIScript(script("env.py"), env={"EXTRA": "given"}, inherit_env=("PATH", "LANG")))[2]
    )
    assert "SERVER_SECRET" not in env and "hunter2" not in json.dumps(env)
    assert (
        env["EXTRA"] == "given" and env["LANG"] == "C.UTF-8" and env["PATH"] == os.environ["PATH"]
    )


@pytest.mark.parametrize("key", ["HTTP_X BAD", "HTTP_X:Y", "HTTP_X\nY", "HTTP_x-lower", "HTTP_"])
def test_header_names_outside_the_token_set_are_dropped(key):
    env = json.loads(call(CGIScript(script("env.py")), environ={key: "v"})[2])
    assert key not in env


def test_only_three_pipes_are_inherited():
    env = json.loads(call(CGIScript(script("env.py")))[2])
    assert [fd for fd in env["_fds"] if fd > 2] in ([], [3])  # 3: listdir's own handle


def test_cwd_and_args():
    env = json.loads(call(CGIScript(script("env.py"), cwd="/tmp", args=("--flag", "x")))[2])
    assert env["_cwd"] == "/tmp" and env["_argv"] == ["--flag", "x"]


# -- the request body ---------------------------------------------------------


def test_post_body_streams_in(cgi_bin):
    data = os.urandom(3 * 1024 * 1024)
    response = cgi_bin.post("/echo.pl", data, content_type="application/octet-stream")
    assert response.headers["X-Method"] == "POST"
    assert hashlib.sha256(response.body).digest() == hashlib.sha256(data).digest()


def test_script_writing_megabytes_before_reading_does_not_deadlock(cgi_bin):
    response = cgi_bin.post("/write_first.sh", b"z" * (2 * 1024 * 1024))
    assert response.body.endswith(b"\n2097152\n")
    assert len(response.body) == 4000000 + 1 + 8


def test_script_that_never_reads_its_body_completes(cgi_bin):
    response = cgi_bin.post("/no_read.sh", b"q" * (5 * 1024 * 1024))
    assert response.body == b"ignored the body\n"


def test_body_without_length_is_spooled_and_given_a_length():
    data = b"chunked body " * 1000
    environ = {
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input_terminated": True,
        "wsgi.input": io.BytesIO(data),
    }
    status, _headers, body, _log = call(
        CGIScript(script("echo.pl")), method="POST", environ=environ
    )
    assert status == "200 OK" and body == data


def test_a_chunked_body_the_server_did_not_decode_is_411_not_dropped(tmp_path):
    # uWSGI's http-socket hands the app an empty wsgi.input for a chunked
    # body and no wsgi.input_terminated: the script must not run without it.
    marker = tmp_path / "ran"
    app = CGIScript("/bin/sh", args=("-c", "touch %s" % marker))
    for coding in ("chunked", "gzip, Chunked"):
        undecoded = {"HTTP_TRANSFER_ENCODING": coding, "wsgi.input": io.BytesIO(b"")}
        status, _, _, log = call(app, method="POST", environ=undecoded)
        assert status.startswith("411") and "not decoded" in log
    assert not marker.exists()
    # A server that decodes chunked bodies without the flag still works...
    decoded = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b"abc")}
    assert call(CGIScript(script("echo.pl")), method="POST", environ=decoded)[2] == b"abc"
    # ...and one that says it decoded an empty body runs the script.
    empty = dict(undecoded, **{"wsgi.input_terminated": True})
    status, _, _, _ = call(CGIScript(script("echo.pl")), method="POST", environ=empty)
    assert status == "200 OK"


class _SlowInput:
    """A wsgi.input whose data comes in 64 KiB pieces, 5 ms apart."""

    def __init__(self, data):
        self.data = io.BytesIO(data)

    def read(self, size=-1):
        time.sleep(0.005)
        return self.data.read(min(size, 65536) if size >= 0 else 65536)


def test_feeding_the_body_does_not_hold_back_a_head_already_sent():
    # The head is sent at once unless the whole body follows within 2 ms;
    # feeding the script its body must not stretch that wait.
    app = CGIScript(
        "/bin/sh",
        args=(
            "-c",
            "printf 'Content-Type: text/plain\\r\\n\\r\\n'; cat >/dev/null; sleep 2; echo done",
        ),
    )
    body = b"y" * (2 << 20)
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": _SlowInput(body),
        "wsgi.errors": Log(),
    }
    started = time.monotonic()
    result = app(environ, lambda *a: None)
    head_after = time.monotonic() - started
    try:
        assert b"".join(result) == b"done\n"
    finally:
        result.close()
    assert head_after < 1.0, "head held back %.2f s" % head_after


def test_bodies_over_max_body_are_413_and_run_nothing(tmp_path):
    marker = tmp_path / "ran"
    app = CGIScript("/bin/sh", args=("-c", "touch %s" % marker), max_body=1000)
    status, _, _, log = call(app, method="POST", body=b"x" * 1001)
    assert status.startswith("413") and "over max_body" in log
    chunked = {
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input_terminated": True,
        "wsgi.input": io.BytesIO(b"y" * 5000),
    }
    status, _, _, log = call(app, method="POST", environ=chunked)
    assert status.startswith("413") and "over max_body" in log
    assert not marker.exists()
    assert (
        call(CGIScript(script("echo.pl"), max_body=1000), method="POST", body=b"z" * 1000)[2]
        == b"z" * 1000
    )


def test_body_never_read_past_content_length():
    environ = {"CONTENT_LENGTH": "5", "wsgi.input": io.BytesIO(b"12345EXTRA")}
    assert call(CGIScript(script("echo.pl")), method="POST", environ=environ)[2] == b"12345"


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "+5", " 5", "٣"])
def test_bad_content_length_is_400_and_runs_nothing(length, tmp_path):
    marker = tmp_path / "ran"
    app = CGIScript("/bin/sh", args=("-c", "touch %s" % marker))
    status, _, _, log = call(app, method="POST", environ={"CONTENT_LENGTH": length})
    assert status.startswith("400") and "CONTENT_LENGTH" in log
    assert not marker.exists()


# -- the response (RFC 3875 §6) -----------------------------------------------

RESPONSES = [
    # (script output, expected status, expected headers subset, expected body)
    (b"Content-Type: text/plain\n\nlf", "200 OK", {"Content-Type": "text/plain"}, b"lf"),
    (b"Content-Type: text/plain\r\n\r\ncrlf", "200 OK", {"Content-Type": "text/plain"}, b"crlf"),
    (b"Status: 404\nContent-Type: text/plain\n\nx", "404 Not Found", {}, b"x"),
    (b"Status: 418 I'm a teapot\nContent-Type: text/plain\n\n", "418 I'm a teapot", {}, b""),
    (b"Location: http://example.com/x\n\n", "302 Found", {"Location": "http://example.com/x"}, b""),
    (
        b"Status: 301 Moved\nLocation: https://example.com/\nContent-Type: text/html\n\n<a>moved</a>",
        "301 Moved",
        {"Location": "https://example.com/"},
        b"<a>moved</a>",
    ),
    (b"Location: /elsewhere\n\n", "302 Found", {"Location": "/elsewhere"}, b""),
    (
        b"Content-Type: text/plain\nConnection: close\nTransfer-Encoding: chunked\nX-Kept: 1\n\nbody",
        "200 OK",
        {"X-Kept": "1"},
        b"body",
    ),
    (b"Content-Type: text/plain\nX-Folded: a\n  b\n\n", "200 OK", {"X-Folded": "a b"}, b""),
    (
        b"Content-Type: text/plain\nContent-Length: 3\n\nabcdef",
        "200 OK",
        {"Content-Length": "3"},
        b"abc",
    ),
    (b"Content-Type: application/octet-stream\n\n\x00\xff\r\n\n", "200 OK", {}, b"\x00\xff\r\n\n"),
]


@pytest.mark.parametrize("raw,status,headers,body", RESPONSES)
def test_responses(raw, status, headers, body):
    got_status, got_headers, got_body, _log = call(respond(raw))
    assert got_status == status
    names = [name.lower() for name, _ in got_headers]
    assert "connection" not in names and "transfer-encoding" not in names
    assert {k: v for k, v in got_headers if k in headers} == headers
    assert got_body == body


BAD_RESPONSES = [
    (b"", "exited without a response"),
    (b"Content-Type: text/plain\n", "before the blank line"),
    (b"Content-Type: text/plain", "before the blank line"),
    (b"\nbody", "no header lines"),
    (b"no colon here\n\n", "without a colon"),
    (b"Bad Name: x\n\n", "invalid header name"),
    (b"X: a\rb\n\n", "control character"),
    (b"X: a\x00b\n\n", "control character"),
    (b"Status: abc\n\n", "invalid Status"),
    (b"Status: 200 OK\nStatus: 404\n\n", "more than one Status"),
    (b"Status: 999 Nope\n\n", "invalid Status"),
    (b"Content-Length: -1\n\n", "Content-Length"),
    (
        b"Content-Type: text/plain\nContent-Length: " + b"9" * 5000 + b"\n\nhi",
        "invalid Content-Length",
    ),
    (b"\xff\xfe\x00\x01garbage\n\n", "without a colon"),
    (b"X-Big: " + b"a" * (70 * 1024) + b"\n\n", "larger than"),
    (b"".join(b"X-%d: v\n" % i for i in range(10000)) + b"\n", "larger than"),
]


@pytest.mark.parametrize("raw,reason", BAD_RESPONSES)
def test_malformed_responses_are_502_with_the_reason_logged(raw, reason):
    status, _headers, body, log = call(respond(raw))
    assert status == "502 Bad Gateway"
    assert body == b"502 Bad Gateway\n"  # nothing of the script's output leaks
    assert reason in log


def test_exit_status_of_a_failed_script_is_logged():
    status, _, _, log = call(respond(b"", exit_code=3))
    assert status.startswith("502") and "exited with status 3" in log


def test_stderr_goes_to_wsgi_errors_line_by_line():
    _status, _, body, log = call(CGIScript(script("stderr.sh")))
    assert body == b"body\n"
    assert log.splitlines() == [
        "stderr.sh: first warning",
        "stderr.sh: second warning",
        "stderr.sh: third without newline",
    ]


def test_nph_script_status_line_becomes_the_status(cgi_bin):
    response = cgi_bin.get("/nph-hello.sh", status=202)
    assert response.body == b"nph body" and "Connection" not in response.headers


def test_body_streams_in_chunks_with_flat_memory():
    size = 64 * 1024 * 1024
    app = CGIScript(script("big.sh"), env={"SIZE": str(size)})
    errors = Log()
    environ = {
        "REQUEST_METHOD": "GET",
        "wsgi.errors": errors,
        "wsgi.input": io.BytesIO(),
        "QUERY_STRING": "",
    }
    result = app(environ, lambda status, headers, exc_info=None: None)
    total = biggest = chunks = 0
    for chunk in result:
        total += len(chunk)
        biggest = max(biggest, len(chunk))
        chunks += 1
    result.close()
    assert total == size and chunks > 64 and biggest <= 1 << 20


def test_script_dying_after_its_headers_ends_the_body_and_is_logged():
    status, _, body, log = call(CGIScript(script("die_midway.sh")))
    assert status == "200 OK" and body == b"partial"
    assert "killed by signal SIGKILL" in log


# -- local redirects (RFC 3875 §6.2.2) ---------------------------------------------


def test_cgiscript_hands_a_local_redirect_to_the_given_app():
    seen = {}

    def site(environ, start_response):
        seen.update(
            method=environ["REQUEST_METHOD"],
            path=environ["PATH_INFO"],
            query=environ["QUERY_STRING"],
        )
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"served internally"]

    status, _headers, body, _ = call(
        respond(b"Location: /target%20x?q=1\n\n", local_redirect=site), method="POST", body=b"x"
    )
    assert (status, body) == ("200 OK", b"served internally")
    assert seen == {"method": "GET", "path": "/target x", "query": "q=1"}


def test_cgidirectory_serves_a_local_redirect_under_its_own_url(tmp_path):
    (tmp_path / "go.sh").write_text(
        "#!/bin/sh\nprintf 'Location: /cgi-bin/hello.sh?from=go\\n\\n'\n"
    )
    (tmp_path / "loop.sh").write_text("#!/bin/sh\nprintf 'Location: /cgi-bin/loop.sh\\n\\n'\n")
    (tmp_path / "out.sh").write_text("#!/bin/sh\nprintf 'Location: /elsewhere\\n\\n'\n")
    shutil.copy(script("hello.sh"), tmp_path / "hello.sh")
    for name in ("go.sh", "loop.sh", "out.sh", "hello.sh"):
        os.chmod(tmp_path / name, 0o755)
    app = CGIDirectory(str(tmp_path))
    environ = {"SCRIPT_NAME": "/cgi-bin"}
    assert call(app, "/go.sh", environ=environ)[:3:2] == ("200 OK", b"hello from sh\n")
    status, _, _, log = call(app, "/loop.sh", environ=environ)
    assert status.startswith("500") and "local redirects" in log
    status, headers, _, _ = call(app, "/out.sh", environ=environ)
    assert status == "302 Found" and ("Location", "/elsewhere") in headers


# -- timeouts and lifecycle ------------------------------------------------------------


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as stat:
        return stat.read().split(") ")[1][0] != "Z"


def test_timeout_is_504_and_kills_the_grandchild_too(tmp_path):
    pidfile = tmp_path / "grandchild"
    app = CGIScript(
        script("slow.sh"), env={"PIDFILE": str(pidfile), "PATH": os.environ["PATH"]}, timeout=0.5
    )
    started = time.monotonic()
    status, _, _body, log = call(app)
    assert time.monotonic() - started < 5
    assert status == "504 Gateway Timeout" and "no output for 0.5 seconds" in log
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


_DOOMED_SERVER = """
import sys
sys.path.insert(0, sys.argv[1])
from wsgicgi import CGIScript
app = CGIScript(sys.argv[2], timeout=300)
app({"REQUEST_METHOD": "GET", "wsgi.errors": sys.stderr, "wsgi.input": None}, lambda *a: None)
"""


@pytest.mark.parametrize("mode", ["killed", "exits"])
def test_scripts_end_with_a_server_process_that_dies_mid_request(tmp_path, mode):
    # gunicorn SIGKILLs a worker past its --timeout; mod_wsgi ends a daemon
    # process with requests in flight: no close() runs, and the scripts, each
    # in a process group of its own, would live on with nobody to time them out.
    pidfile = tmp_path / "pids"
    stuck = tmp_path / "stuck.sh"
    stuck.write_text(
        "#!/bin/sh\nsleep 300 &\necho $$ $! > %s.tmp\nmv %s.tmp %s\nwait\n" % ((pidfile,) * 3)
    )
    stuck.chmod(0o755)
    code = (
        _DOOMED_SERVER
        if mode == "killed"
        else _DOOMED_SERVER.replace(
            "app({", "import threading, os\nthreading.Timer(1.0, os._exit, (3,)).start()\napp({"
        )
    )
    server = subprocess.Popen([sys.executable, "-c", code, os.path.dirname(HERE), str(stuck)])
    try:
        deadline = time.monotonic() + 15
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        script_pid, grandchild = map(int, pidfile.read_text().split())
        if mode == "killed":
            server.kill()
        server.wait(15)
        deadline = time.monotonic() + 5
        while (_alive(script_pid) or _alive(grandchild)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(script_pid) and not _alive(grandchild)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_silence_in_the_body_cuts_it_after_the_timeout():
    status, _, body, log = call(CGIScript(script("stall_body.sh"), timeout=0.5))
    assert status == "200 OK" and body == b"first\n" and "body cut" in log


def test_close_before_the_end_kills_the_process_group():
    app = CGIScript(script("big.sh"), env={"SIZE": str(10**12)})
    environ = {"REQUEST_METHOD": "GET", "wsgi.errors": Log(), "wsgi.input": io.BytesIO()}
    result = app(environ, lambda *a: None)
    first = next(iter(result))
    assert first
    pid = result.process.pid
    result.close()  # the client went away
    assert result.process.returncode == -signal.SIGKILL
    assert not os.path.exists("/proc/%d" % pid)


def _fds():
    return sorted(os.listdir("/proc/self/fd"))


def _children():
    children = set()
    for task in os.listdir("/proc/self/task"):
        with open("/proc/self/task/%s/children" % task) as f:
            children.update(f.read().split())
    return children


def test_500_sequential_requests_leave_no_fds_and_no_children():
    app = CGIDirectory(SCRIPTS)
    call(app, "/hello.sh")
    fds, children, threads = _fds(), _children(), threading.active_count()
    for i in range(500):
        path = ("/hello.sh", "/no_read.sh", "/nope", "/stderr.sh", "/die_midway.sh")[i % 5]
        call(app, path, method="POST", body=b"x" * (i * 100))
    assert _fds() == fds
    assert _children() == children
    assert threading.active_count() == threads


def test_concurrent_requests_each_get_their_own_answer():
    app = CGIScript(script("echo.pl"))
    results = {}

    def worker(n):
        data = (b"%d-" % n) * (10000 + n)
        results[n] = call(app, method="POST", body=data)[2] == data

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == dict.fromkeys(range(16), True)


# -- CGIDirectory mapping (as Apache's ScriptAlias) -------------------------------------------------


def test_directory_maps_segments_to_script_and_path_info(cgi_bin):
    response = cgi_bin.get("/sub/deep.sh/more/path", extra_environ={"SCRIPT_NAME": "/cgi-bin"})
    assert response.body == b"SCRIPT_NAME=/cgi-bin/sub/deep.sh PATH_INFO=/more/path\n"


def test_interpreters_run_non_executable_files(cgi_bin):
    assert cgi_bin.get("/plain.py").body == b"run by the interpreter, no exec bit\n"


REFUSED = [
    ("/", 403),
    ("/sub", 403),
    ("/sub/", 403),
    ("/not_exec.sh", 403),
    ("/missing.sh", 404),
    ("/.hidden.sh", 404),
    ("/../cgi_scripts/hello.sh", 404),
    ("/./hello.sh", 404),
    ("//hello.sh", 404),
    ("/sub/../hello.sh", 404),
    ("/%2e%2e/hello.sh", 404),  # already-decoded path: a literal "%2e%2e" names nothing
    ("/hello.sh\x00.txt", 400),
    # After the script name too: a script's PATH_TRANSLATED must not climb out.
    ("/hello.sh/../../etc/passwd", 404),
    ("/hello.sh/./x", 404),
]


@pytest.mark.parametrize("path,code", REFUSED)
def test_directory_refuses(path, code):
    status, _, body, log = call(CGIDirectory(SCRIPTS), path)
    assert int(status[:3]) == code, log
    assert b"hello" not in body and b"must never run" not in body


def test_symlinks_leaving_root_never_run(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.sh").write_text(
        "#!/bin/sh\necho 'Content-Type: text/plain'; echo; echo evil\n"
    )
    os.chmod(outside / "evil.sh", 0o755)
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside / "evil.sh", root / "link.sh")
    os.symlink(outside, root / "linkdir")
    os.symlink(script("hello.sh"), root / "inside.sh")
    app = CGIDirectory(str(root))
    assert call(app, "/link.sh")[0].startswith("403")
    assert call(app, "/linkdir/evil.sh")[0].startswith("403")
    # A symlink out of root stays refused even to a script the admin trusts.
    assert call(app, "/inside.sh")[0].startswith("403")


@pytest.mark.skipif(shutil.which("cc") is None and not os.environ.get("CI"), reason="no C compiler")
def test_compiled_c_program(tmp_path):
    subprocess.run(["cc", "-O2", "-o", str(tmp_path / "hello"), script("hello.c")], check=True)
    response = TestApp(CGIDirectory(str(tmp_path))).get("/hello?x=1")
    assert response.body == b"hello from C, query=x=1\n"


def test_lint_clean_under_webtest(cgi_bin):
    response = cgi_bin.get("/hello.sh")
    assert response.status_int == 200 and response.content_type == "text/plain"
    assert cgi_bin.head("/hello.sh").body == b""


def test_stderr_of_a_script_that_fails_before_its_head_is_logged_whole(tmp_path):
    # Regression (found by the soak): when stdout ended first, the last
    # stderr lines, still in the pipe, were dropped with the 502.
    path = tmp_path / "errdump.sh"
    # stdout closes first, so the host sees its end while stderr is still
    # being written: the race, made to happen every time.
    path.write_text("#!/bin/sh\nexec >&-\nseq 1 2000 >&2\necho last words >&2\nexit 7\n")
    path.chmod(0o755)
    app = CGIScript(str(path))
    for _ in range(10):
        status, _, _body, log = call(app)
        assert status == "502 Bad Gateway"
        lines = log.splitlines()
        assert lines[-2:-1] == ["errdump.sh: last words"] and len(lines) == 2002, lines[-3:]
        assert "exited with status 7" in lines[-1]


def test_a_body_complete_at_once_gets_a_content_length():
    # So that servers (waitress) can keep the connection open.
    _status, headers, body, _ = call(CGIScript(script("hello.sh")))
    assert ("Content-Length", str(len(body))) in headers and body == b"hello from sh\n"
    _status, headers, body, _ = call(CGIScript(script("hello.sh")), method="HEAD")
    assert ("Content-Length", "14") in headers and body == b""


def test_slow_big_or_failed_bodies_get_no_invented_length():
    _, headers, body, _ = call(CGIScript(script("big.sh")))
    assert len(body) == 1048576 and "Content-Length" not in dict(headers)
    _, headers, body, _ = call(CGIScript(script("stall_body.sh"), timeout=0.5))
    assert body == b"first\n" and "Content-Length" not in dict(headers)
    _, headers, body, _log = call(CGIScript(script("die_midway.sh")))
    assert body == b"partial" and "Content-Length" not in dict(headers)


def test_a_misspelt_option_is_a_type_error():
    with pytest.raises(TypeError, match="timout"):
        CGIScript(script("hello.sh"), timout=3)
    with pytest.raises(TypeError, match="interpreter"):
        CGIDirectory(SCRIPTS, interpreter="/bin/sh")  # CGIDirectory takes interpreters=


@pytest.mark.parametrize(
    "host",
    ["evil host", "a/b", "x\x01y", "", "a.b:port", "a.b:99999", "a.b:0", "a.b:-1", "a.b:²", "::1"],
)
def test_a_host_header_that_is_no_host_name_leaves_server_name_alone(host):
    env = json.loads(call(CGIScript(script("env.py")), environ={"HTTP_HOST": host})[2])
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("127.0.0.1", "8080")


@pytest.mark.parametrize(
    "host, scheme, name, port",
    [
        ("example.com", "http", "example.com", "80"),
        ("example.com", "https", "example.com", "443"),  # behind a proxy that ends TLS
        ("example.com:8443", "https", "example.com", "8443"),
        (
            "example.com:",
            "http",
            "example.com",
            "80",
        ),  # RFC 3986 §3.2.3: an empty port is the default
        ("127.0.0.1:8080", "http", "127.0.0.1", "8080"),
        ("[::1]:8080", "http", "[::1]", "8080"),
        ("[::1]", "https", "[::1]", "443"),
    ],
)
def test_server_name_and_port_are_the_ones_the_client_used(host, scheme, name, port):
    # RFC 3875 §4.1.14-15, as Apache's UseCanonicalName Off: the pair builds
    # the script's own URLs, so the port must not be the backend's own.
    environ = {"HTTP_HOST": host, "wsgi.url_scheme": scheme}
    env = json.loads(call(CGIScript(script("env.py")), environ=environ)[2])
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == (name, port)


# -- issue 11: output held back while the request body arrives -------------------


class _ClientInput:
    """A wsgi.input that counts what was read of it: a client that sends its
    whole body before it reads (http.client, requests) is done sending when
    ``left`` is 0.  ``fail_after`` bytes: then the client is gone."""

    def __init__(self, size, fail_after=None):
        self.left = size
        self.fail_after = fail_after
        self.block = bytes(range(256)) * 256

    def read(self, size=-1):
        if self.fail_after is not None and self.left <= self.fail_after:
            raise OSError("client gone")
        size = min(self.left, len(self.block) if size < 0 else size, len(self.block))
        self.left -= size
        return self.block[:size]


def _private_tmp(monkeypatch, tmp_path):
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return str(folder)


def _open_in(folder):
    """Our own descriptors on files in ``folder`` (an unnamed temporary file
    shows as ``folder/#123 (deleted)``)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if target.startswith(folder + "/"):
            found.append(target)
    return found


def _post(app, source, size, errors=None):
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(size),
        "wsgi.input": source,
        "wsgi.errors": errors or Log(),
        "QUERY_STRING": "",
    }
    return app(environ, lambda *a: None)


def test_held_output_keeps_one_mib_in_memory_then_spills_in_order(monkeypatch, tmp_path):
    from wsgicgi.child import _Held

    folder = _private_tmp(monkeypatch, tmp_path)
    pieces = [os.urandom(n) for n in (1000, 300000, 700000, 47576, 1)]  # 1 MiB, then one byte more
    held = _Held()
    for piece in pieces[:4]:
        held.write(piece)
    assert held.file is None and held.size == 1 << 20
    held.write(pieces[4])
    assert held.file is not None and len(_open_in(folder)) == 1
    for _ in range(3):
        held.write(os.urandom(1 << 18))
    out = []
    while True:
        data = held.read()
        if not data:
            break
        assert len(data) <= 1 << 20
        out.append(bytes(data))
    expected = b"".join(pieces)
    assert b"".join(out)[: len(expected)] == expected and len(b"".join(out)) == len(
        expected
    ) + 3 * (1 << 18)
    held.close()
    assert not _open_in(folder) and not os.listdir(folder)
    held.close()  # twice: nothing


def test_an_echoing_script_output_waits_for_the_whole_body(monkeypatch, tmp_path):
    folder = _private_tmp(monkeypatch, tmp_path)
    call(CGIScript(script("hello.sh")))  # the watchdog's pipe is opened once
    fds = _fds()
    size = 6 * 1024 * 1024 + 5
    source = _ClientInput(size)
    result = _post(CGIScript(script("cat.sh")), source, size)
    digest, total = hashlib.sha256(), 0
    try:
        for chunk in result:
            # Nothing reaches the server before the client has sent it all.
            assert source.left == 0
            if not total:
                assert result.held is not None and result.held.size <= 1 << 20
                assert _open_in(folder), "held output beyond 1 MiB goes to a temporary file"
            digest.update(chunk)
            total += len(chunk)
    finally:
        result.close()
    expected = hashlib.sha256()
    whole = _ClientInput(size)
    while whole.left:
        expected.update(whole.read(1 << 16))
    assert total == size and digest.digest() == expected.digest()
    assert not _open_in(folder) and not os.listdir(folder) and _fds() == fds


def test_a_script_that_reads_its_body_first_holds_nothing(monkeypatch, tmp_path):
    folder = _private_tmp(monkeypatch, tmp_path)
    data = os.urandom(3 * 1024 * 1024)
    result = _post(CGIScript(script("echo.pl")), io.BytesIO(data), len(data))
    try:
        first = next(iter(result))
        assert result.held is None and not _open_in(folder)
        assert first + b"".join(result) == data
    finally:
        result.close()


def test_a_spooled_chunked_body_holds_nothing(monkeypatch, tmp_path):
    # The client sent it all before the script started: nothing to wait for.
    data = b"c" * (3 * 1024 * 1024)
    environ = {
        "REQUEST_METHOD": "POST",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input_terminated": True,
        "wsgi.input": io.BytesIO(data),
        "wsgi.errors": Log(),
    }
    result = CGIScript(script("cat.sh"))(environ, lambda *a: None)
    try:
        first = next(iter(result))
        assert result.held is None
        assert first + b"".join(result) == data
    finally:
        result.close()


def test_client_gone_while_the_held_output_is_sent_removes_the_file(monkeypatch, tmp_path):
    folder = _private_tmp(monkeypatch, tmp_path)
    size = 4 * 1024 * 1024
    result = _post(CGIScript(script("cat.sh")), _ClientInput(size), size)
    assert next(iter(result))
    assert _open_in(folder)
    pid = result.process.pid
    result.close()  # the server's write failed: the client went away
    assert not _open_in(folder) and not os.listdir(folder)
    assert not os.path.exists("/proc/%d" % pid)


def test_client_gone_while_sending_its_body_delivers_what_was_held_and_removes_the_file(
    monkeypatch, tmp_path
):
    folder = _private_tmp(monkeypatch, tmp_path)
    size = 8 * 1024 * 1024
    errors = Log()
    result = _post(
        CGIScript(script("cat.sh")), _ClientInput(size, fail_after=5 * 1024 * 1024), size, errors
    )
    try:
        total = sum(len(chunk) for chunk in result)
    finally:
        result.close()
    assert total == 3 * 1024 * 1024  # what the script echoed before the client went
    assert "request body not delivered: client gone" in errors.getvalue()
    assert not _open_in(folder) and not os.listdir(folder)


def test_silence_while_output_is_held_cuts_the_body_and_removes_the_file(monkeypatch, tmp_path):
    folder = _private_tmp(monkeypatch, tmp_path)
    size = 8 * 1024 * 1024
    # Echoes 3 MB, then neither reads nor writes.
    app = CGIScript(
        "/bin/sh",
        args=("-c", "printf 'Content-Type: a/b\\n\\n'; head -c 3145728; exec sleep 60"),
        timeout=0.5,
    )
    errors = Log()
    started = time.monotonic()
    result = _post(app, _ClientInput(size), size, errors)
    try:
        total = sum(len(chunk) for chunk in result)
    finally:
        result.close()
    assert time.monotonic() - started < 10
    assert total == 3145728 and "body cut: no output for 0.5 seconds" in errors.getvalue()
    assert result.process.returncode == -signal.SIGKILL
    assert not _open_in(folder) and not os.listdir(folder)


def test_a_script_crashing_while_output_is_held_removes_the_file(monkeypatch, tmp_path):
    folder = _private_tmp(monkeypatch, tmp_path)
    size = 8 * 1024 * 1024
    app = CGIScript(
        "/bin/sh", args=("-c", "printf 'Content-Type: a/b\\n\\n'; head -c 3145728; kill -9 $$")
    )
    errors = Log()
    result = _post(app, _ClientInput(size), size, errors)
    try:
        total = sum(len(chunk) for chunk in result)
    finally:
        result.close()
    assert total == 3145728 and "killed by signal SIGKILL" in errors.getvalue()
    assert not _open_in(folder) and not os.listdir(folder)


def test_no_room_for_the_held_output_cuts_the_body_cleanly(monkeypatch, tmp_path):
    import errno
    import tempfile

    folder = _private_tmp(monkeypatch, tmp_path)
    real = tempfile.TemporaryFile

    class Full:
        def __init__(self, *args, **kwargs):
            self.file = real(*args, **kwargs)

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.file, name)

    monkeypatch.setattr(tempfile, "TemporaryFile", Full)
    size = 4 * 1024 * 1024
    errors = Log()
    result = _post(CGIScript(script("cat.sh")), _ClientInput(size), size, errors)
    try:
        total = sum(len(chunk) for chunk in result)
    finally:
        result.close()
    assert 0 < total <= 1 << 20  # what memory held
    assert "body cut: [Errno 28]" in errors.getvalue()
    assert result.process.returncode == -signal.SIGKILL
    assert not _open_in(folder) and not os.listdir(folder)


def test_content_length_applies_to_held_output(monkeypatch, tmp_path):
    _private_tmp(monkeypatch, tmp_path)
    size = 3 * 1024 * 1024
    app = CGIScript("/bin/sh", args=("-c", "printf 'Content-Length: 2000000\\n\\n'; exec cat"))
    errors = Log()
    result = _post(app, _ClientInput(size), size, errors)
    try:
        body = b"".join(result)
    finally:
        result.close()
    assert len(body) == 2000000 and "beyond Content-Length" in errors.getvalue()


# -- more failure paths of one script run (wsgicgi/child.py) ----------------------


def sh_script(tmp_path, name, text):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)
    return str(path)


def test_a_body_shorter_than_content_length_ends_the_scripts_input(tmp_path):
    # The client gave up: the script sees EOF instead of waiting forever.
    status, _, body, log = call(
        CGIScript(script("cat.sh"), timeout=20),
        method="POST",
        body=b"abc",
        environ={"CONTENT_LENGTH": "100"},
    )
    assert (status, body) == ("200 OK", b"abc")
    assert "request body ended 97 bytes short of CONTENT_LENGTH" in log


def test_a_script_that_stops_reading_its_body_still_answers(tmp_path):
    path = sh_script(
        tmp_path,
        "half.sh",
        "head -c 10 >/dev/null\nexec 0<&-\nprintf 'Content-Type: text/plain\\n\\nread ten\\n'\n",
    )
    status, _, body, _log = call(CGIScript(path, timeout=20), method="POST", body=b"z" * (4 << 20))
    assert (status, body) == ("200 OK", b"read ten\n")


def test_head_drops_the_body_a_script_writes(tmp_path):
    path = sh_script(
        tmp_path,
        "big.sh",
        "printf 'Content-Type: text/plain\\n\\n'\nhead -c 300000 /dev/zero\n",
    )
    status, headers, body, log = call(CGIScript(path, timeout=20), method="HEAD")
    assert (status, body) == ("200 OK", b"")
    assert ("Content-Type", "text/plain") in headers
    assert log == ""


def test_head_cut_when_the_script_never_finishes_its_body(tmp_path):
    path = sh_script(
        tmp_path, "stall.sh", "printf 'Content-Type: text/plain\\n\\nx'\nexec sleep 30\n"
    )
    started = time.monotonic()
    status, _, body, log = call(CGIScript(path, timeout=1), method="HEAD")
    assert (status, body) == ("200 OK", b"")
    assert "HEAD cut" in log
    assert time.monotonic() - started < 15


def test_a_very_long_stderr_line_is_logged_in_pieces(tmp_path):
    path = sh_script(
        tmp_path,
        "noisy.sh",
        "head -c 200000 /dev/zero | tr '\\0' e >&2\nprintf 'Content-Type: text/plain\\n\\nok'\n",
    )
    status, _, body, log = call(CGIScript(path, timeout=20))
    assert (status, body) == ("200 OK", b"ok")
    assert log.count("e") >= 200000
    assert len(log.splitlines()) >= 2  # cut, never one unbounded line


@pytest.mark.parametrize(
    "first, status",
    [
        (b"Status: 201 Made\r\nContent-Type: text/plain\r\n\r\nbody", "201 Made"),
        (b"HTTP/1.1 abc\r\nContent-Type: text/plain\r\n\r\nbody", "502 Bad Gateway"),
    ],
    ids=["nph-without-status-line", "nph-invalid-status-line"],
)
def test_nph_scripts_status_line(tmp_path, first, status):
    path = tmp_path / "nph-test.sh"
    data = tmp_path / "out.bin"
    data.write_bytes(first)
    path.write_text("#!/bin/sh\ncat %s\n" % data)
    path.chmod(0o755)
    got, _, _, log = call(CGIScript(str(path), timeout=20))
    assert got == status, log
    if status.startswith("502"):
        assert "invalid nph status line" in log


def test_signals_blocked_in_the_server_thread_are_not_blocked_in_the_script(tmp_path):
    # uWSGI and mod_wsgi run the app in threads with signals blocked; a
    # script inheriting that mask could not be stopped with SIGTERM.
    path = sh_script(
        tmp_path,
        "mask.sh",
        "printf 'Content-Type: text/plain\\n\\n'\ngrep '^SigBlk' /proc/self/status\n",
    )
    result = {}

    def run():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGUSR1})
        result["answer"] = call(CGIScript(path, timeout=20))
        result["mask"] = signal.pthread_sigmask(signal.SIG_BLOCK, ())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    status, _, body, _log = result["answer"]
    assert status == "200 OK"
    assert int(body.split()[1], 16) == 0, body
    # The thread's own mask is put back.
    assert {signal.SIGTERM, signal.SIGUSR1} <= set(result["mask"])


def test_cgidirectory_hands_a_redirect_outside_its_folder_to_the_given_app(tmp_path):
    (tmp_path / "out.sh").write_text("#!/bin/sh\nprintf 'Location: /elsewhere?x=1\\n\\n'\n")
    os.chmod(tmp_path / "out.sh", 0o755)
    seen = {}

    def site(environ, start_response):
        # A local redirect is a GET without a body.
        stream = environ["wsgi.input"]
        seen.update(path=environ["PATH_INFO"], body=stream.read(), line=stream.readline())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"elsewhere"]

    app = CGIDirectory(str(tmp_path), local_redirect=site)
    status, _, body, _ = call(
        app, "/out.sh", method="POST", body=b"data", environ={"SCRIPT_NAME": "/cgi-bin"}
    )
    assert (status, body) == ("200 OK", b"elsewhere")
    assert seen == {"path": "/elsewhere", "body": b"", "line": b""}


def test_cgidirectory_refuses_what_is_not_a_file(tmp_path):
    os.mkfifo(str(tmp_path / "pipe.cgi"))
    status, _, _, log = call(CGIDirectory(str(tmp_path)), "/pipe.cgi")
    assert status.startswith("403"), log


def test_env_values_as_bytes_and_as_non_latin1_text(tmp_path):
    path = sh_script(
        tmp_path,
        "env.sh",
        'printf \'Content-Type: text/plain\\n\\n%s|%s\' "$RAW" "$TEXT"\n',
    )
    app = CGIScript(path, env={"RAW": b"caf\xc3\xa9", "TEXT": "\u20ac"})
    status, _, body, _ = call(app)
    assert (status, body) == ("200 OK", b"caf\xc3\xa9|\xe2\x82\xac")


def test_a_header_value_with_nul_never_reaches_the_script(tmp_path):
    path = sh_script(
        tmp_path,
        "env.sh",
        'printf \'Content-Type: text/plain\\n\\n[%s][%s][%s]\' "${HTTP_X_BAD-unset}" "$HTTP_X_GOOD"'
        ' "$HTTP_X_TEXT"\n',
    )
    # A server that broke PEP 3333's latin-1 rule: its text goes on as UTF-8.
    environ = {"HTTP_X_BAD": "a\0b", "HTTP_X_GOOD": "fine", "HTTP_X_TEXT": "\u20ac"}
    status, _, body, _ = call(CGIScript(path), environ=environ)
    assert (status, body) == ("200 OK", b"[unset][fine][\xe2\x82\xac]")


def test_a_script_that_cannot_be_executed_is_500_with_the_reason(tmp_path):
    path = tmp_path / "garbage.cgi"
    path.write_bytes(b"\x00\x01\x02 not a program")
    path.chmod(0o755)
    status, _, _, log = call(CGIScript(str(path)))
    assert status.startswith("500")
    assert "cannot run" in log and "Exec format error" in log


def test_a_chunked_body_is_spooled_and_the_spool_freed(tmp_path):
    status, _, body, _ = call(
        CGIScript(script("cat.sh"), timeout=20),
        method="POST",
        environ={
            "wsgi.input": io.BytesIO(b"chunked body"),
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input_terminated": True,
        },
    )
    assert (status, body) == ("200 OK", b"chunked body")


def test_a_chunked_body_is_closed_when_the_script_cannot_start(tmp_path):
    path = tmp_path / "garbage.cgi"
    path.write_bytes(b"\x00\x01\x02 not a program")
    path.chmod(0o755)
    status, _, _, log = call(
        CGIScript(str(path)),
        method="POST",
        environ={
            "wsgi.input": io.BytesIO(b"chunked body"),
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input_terminated": True,
        },
    )
    assert status.startswith("500") and "cannot run" in log


def test_a_script_killed_by_a_signal_without_a_name_is_logged_by_number(tmp_path):
    # A real-time signal (40) has no name in Python's signal.Signals.
    path = sh_script(
        tmp_path, "rt.sh", "printf 'Content-Type: text/plain\\n\\npartial'\nkill -40 $$\n"
    )
    status, _, body, log = call(CGIScript(path, timeout=20))
    assert (status, body) == ("200 OK", b"partial")
    assert "killed by signal 40" in log
