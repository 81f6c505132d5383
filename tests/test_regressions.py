"""Defects found in review, kept as regression tests (each failed before its fix).

Every subprocess and server started here has a timeout and is killed in a
``finally``.
"""

import http.client
import io
import os
import select
import signal
import socket
import subprocess
import sys
import time

from cgi_output import CGIOutput
from test_cli import cgi_env

from wsgicgi import CGIScript

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("q=" + environ["QUERY_STRING"]).encode("latin-1")]
"""


def test_query_without_equals_sign_still_gets_an_answer(tmp_path):
    # RFC 3875 §4.4: when QUERY_STRING has no unencoded "=", Apache (mod_cgi
    # and mod_cgid) passes its '+'-separated words as command-line arguments.
    # The one-line script then runs `python3 -m wsgicgi myapp:app SCRIPT search`
    # and wsgicgi answers nothing ("too many arguments"): Apache says "End of
    # script output before headers" and the client gets a 500 for /app.cgi?search.
    (tmp_path / "myapp.py").write_text(APP)
    script = tmp_path / "app.cgi"
    script.write_text("#!/usr/bin/env -S %s -m wsgicgi myapp:app\n" % sys.executable)
    script.chmod(0o755)
    proc = subprocess.run(
        [str(script), "two", "words"],  # what Apache execs for ?two+words
        cwd=str(tmp_path),
        env=cgi_env(QUERY_STRING="two+words"),
        capture_output=True,
        timeout=30,
    )
    assert proc.stdout, proc.stderr.decode(errors="replace")
    out = CGIOutput(proc.stdout)
    assert out.code == 200 and out.body == b"q=two+words", (out, proc.stderr)


def test_print_while_the_app_module_loads_does_not_corrupt_the_response(tmp_path):
    # README: "print() inside the app goes to the error log instead of
    # corrupting the response". A print at import time (module level, a
    # settings file) reaches stdout before the Status line: Apache then
    # answers 500 ("malformed header from script").
    (tmp_path / "noisy.py").write_text('print("loading noisy")\n' + APP)
    proc = subprocess.run(
        [sys.executable, "-m", "wsgicgi", "noisy:app", str(tmp_path / "app.cgi")],
        cwd=str(tmp_path),
        env=cgi_env(),
        capture_output=True,
        timeout=30,
    )
    assert proc.stdout.startswith(b"Status: 200 OK\r\n"), proc.stdout[:200]
    assert b"loading noisy" in proc.stderr


def test_content_length_zero_ends_the_response_without_waiting_for_the_script(tmp_path):
    # A script that says Content-Length: 0 and keeps running (or leaves a
    # background job holding stdout) keeps the request open for the whole
    # `timeout`, then logs "body cut"; with Content-Length: 5 the body ends at
    # once. The length says the body is complete.
    path = tmp_path / "cl0.sh"
    path.write_text(
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\nContent-Length: 0\\n\\n'\nexec sleep 60\n"
    )
    path.chmod(0o755)
    errors = io.StringIO()
    app = CGIScript(str(path), timeout=30)
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": errors,
        "wsgi.url_scheme": "http",
    }
    started = time.monotonic()
    result = app(environ, lambda status, headers, exc_info=None: None)
    try:
        assert b"".join(result) == b""
    finally:
        result.close()  # kills the sleeping script's process group
    elapsed = time.monotonic() - started
    assert elapsed < 10, (elapsed, errors.getvalue())
    assert "body cut" not in errors.getvalue()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_takes_http_servers_cgi_flag_without_exposing_script_source(tmp_path):
    # `python -m http.server --cgi 8000` is the command wsgicgi serve replaces.
    # `wsgicgi serve --cgi 8000` is parsed as `--cgi-dir 8000` (argparse
    # abbreviation): CGI moves to /8000/, the port falls back to 8000, and
    # /cgi-bin/ becomes a static folder that sends every script's source.
    cgi = tmp_path / "cgi-bin"
    cgi.mkdir()
    (cgi / "hello.sh").write_text(
        "#!/bin/sh\n# SOURCE-MARKER\nprintf 'Content-Type: text/plain\\n\\nran\\n'\n"
    )
    (cgi / "hello.sh").chmod(0o755)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgicgi", "serve", "--cgi", str(port), "-d", str(tmp_path)],
        cwd=str(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 15
        banner = b""
        while b"\n" not in banner and proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                banner += os.read(proc.stdout.fileno(), 4096)
        if proc.poll() is not None and not banner:
            # Refusing the flag outright (a usage error) is acceptable too.
            assert proc.returncode == 2, proc.stderr.read().decode(errors="replace")
            return
        assert ("127.0.0.1:%d/" % port).encode() in banner, banner
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        try:
            conn.request("GET", "/cgi-bin/hello.sh")
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        assert b"SOURCE-MARKER" not in body
        assert response.status == 200 and body == b"ran\n"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_nph_script_with_a_status_line_and_no_headers_is_not_a_502(tmp_path):
    # An nph- script speaks HTTP: "HTTP/1.1 204 No Content" (or 304) and the
    # blank line is a complete, valid response. The adapter answers 502
    # ("no header lines in the response").
    path = tmp_path / "nph-empty.sh"
    path.write_text("#!/bin/sh\nprintf 'HTTP/1.1 204 No Content\\r\\n\\r\\n'\n")
    path.chmod(0o755)
    errors = io.StringIO()
    seen = {}
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": errors,
        "wsgi.url_scheme": "http",
    }
    result = CGIScript(str(path), timeout=20)(
        environ, lambda status, headers, exc_info=None: seen.update(status=status)
    )
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    assert seen["status"] == "204 No Content", errors.getvalue()
    assert body == b""


def _serve(tmp_path, *args):
    """Start `wsgicgi serve` on a free port in tmp_path; (process, port)."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgicgi", "serve", str(port), "-d", str(tmp_path), *list(args)],
        cwd=str(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("wsgicgi serve did not start")


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return proc.stderr.read().decode(errors="replace")


def test_a_client_that_does_not_read_a_big_file_holds_no_worker_thread(tmp_path):
    # The access-log wrapper hid waitress's file wrapper: the worker thread
    # then sent the file itself and stayed blocked on a client that stopped
    # reading, so `--threads 1` and one such client stopped the server.
    (tmp_path / "big.bin").write_bytes(b"\0" * (64 * 1024 * 1024))
    (tmp_path / "small.txt").write_bytes(b"small")
    proc, port = _serve(tmp_path, "--threads", "1")
    stalled = socket.create_connection(("127.0.0.1", port))
    try:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")  # and never read
        time.sleep(1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/small.txt")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"small")
        conn.close()
    finally:
        stalled.close()
        log = _stop(proc)
    assert '"GET /big.bin HTTP/1.1" 200 67108864' in log


def test_a_file_name_with_a_trailing_slash_is_404_and_huge_urls_make_short_log_lines(tmp_path):
    (tmp_path / "page.txt").write_bytes(b"page")
    proc, port = _serve(tmp_path)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/page.txt/")
        response = conn.getresponse()
        assert response.status == 404
        response.read()
        conn.request("GET", "/page.txt?" + "a" * 100000)
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b"page"
        conn.close()
    finally:
        log = _stop(proc)
    assert max(len(line) for line in log.splitlines()) < 9000


def test_server_name_comes_from_the_host_header_and_huge_queries_are_414(tmp_path):
    path = tmp_path / "name.sh"
    path.write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n%s' \"$SERVER_NAME\"\n")
    path.chmod(0o755)
    errors = io.StringIO()
    seen = {}

    def call(**extra):
        environ = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "waitress.invalid",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": errors,
            "wsgi.url_scheme": "http",
        }
        environ.update(extra)
        result = CGIScript(str(path))(
            environ, lambda status, headers, exc_info=None: seen.update(status=status)
        )
        try:
            return b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()

    assert call(HTTP_HOST="example.org:8080") == b"example.org"
    assert call(HTTP_HOST="[::1]:8080") == b"[::1]"
    assert call() == b"waitress.invalid"
    call(QUERY_STRING="q=" + "a" * 200000)
    assert seen["status"].startswith("414"), errors.getvalue()
    call(HTTP_X_BIG="b" * 200000)
    assert seen["status"].startswith("431"), errors.getvalue()
