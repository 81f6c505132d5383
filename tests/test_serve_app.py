"""wsgicgi/serve.py: the site, the access log, the command's errors and the
stop on a signal, in process and as a real ``wsgicgi serve`` on 127.0.0.1
(the whole server over HTTP: tests/integration/test_serve.py)."""

import http.client
import io
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time

import pytest
from wsgi_call import call, environ_for

from wsgicgi import serve
from wsgicgi.serve import Front, Site, mount_point

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HELLO = (
    "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nhello %s\\n' \"$REMOTE_ADDR $HTTPS\"\n"
)


@pytest.fixture
def site(tmp_path):
    (tmp_path / "index.html").write_bytes(b"<p>home</p>\n")
    (tmp_path / "cgi-bin").mkdir()
    script = tmp_path / "cgi-bin" / "hello.sh"
    script.write_text(HELLO)
    script.chmod(0o755)
    return tmp_path


# -- the site -----------------------------------------------------------------


def test_site_routes_cgi_folders_and_static_files(site):
    app = serve.make_app(str(site), cgi_dirs=("cgi-bin",), timeout=10)
    assert call(app, environ_for("/"))[2] == b"<p>home</p>\n"
    status, _, body = call(app, environ_for("/cgi-bin/hello.sh"))
    assert (status, body) == (200, b"hello 127.0.0.1 \n")
    # A script's source is never a static file, even under another case.
    assert call(app, environ_for("/cgi-bin"))[0] == 404
    # Only the configured folders run scripts: /htbin/ is not one here.
    assert call(app, environ_for("/htbin/hello.sh"))[0] == 404


@pytest.mark.parametrize("path", ["/cgi-bin/../index.html", "/./index.html", "/index.html\0"])
def test_site_refuses_dot_segments_and_nul_before_any_mount(site, path):
    status, _, body = call(Site(str(site)), environ_for(path))
    assert (status, body) == (404, b"404 Not Found\n")


@pytest.mark.parametrize("url", ["/", "", "//", "/a/../b", "/./x", "a//b", "/x\0"])
def test_mount_point_refuses_what_is_not_a_folder_path(url):
    with pytest.raises(ValueError, match="not a CGI folder URL path"):
        mount_point(url)


def test_mount_point_normalises_slashes():
    assert mount_point("cgi-bin") == "/cgi-bin"
    assert mount_point("/scripts/more/") == "/scripts/more"


def test_script_path_puts_this_python_first_once(monkeypatch):
    folder = os.path.dirname(os.path.abspath(sys.executable))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert serve.script_path() == folder + os.pathsep + "/usr/bin:/bin"
    monkeypatch.setenv("PATH", folder + os.pathsep + "/bin")
    assert serve.script_path() == folder + os.pathsep + "/bin"
    monkeypatch.setattr(sys, "executable", "")
    assert serve.script_path() == folder + os.pathsep + "/bin"


# -- the access log -----------------------------------------------------------


def hello_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"he", b"llo"]


def log_lines(log):
    return log.getvalue().splitlines()


def test_front_logs_one_common_log_format_line(tmp_path):
    log = io.StringIO()
    front = Front(hello_app, log)
    environ = environ_for("/x", REQUEST_URI="/x?y=1", REMOTE_USER="ann")
    assert call(front, environ)[2] == b"hello"
    (line,) = log_lines(log)
    assert re.fullmatch(
        r'127\.0\.0\.1 - ann \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /x\?y=1 HTTP/1\.1" 200 5',
        line,
    ), line
    assert front.active == 0


def test_front_truncates_a_huge_request_line():
    log = io.StringIO()
    front = Front(hello_app, log)
    call(front, environ_for("/", REQUEST_URI="/" + "a" * 20000))
    (line,) = log_lines(log)
    assert '"GET /' + "a" * 8000 in line
    assert '..." 200 5' in line
    assert len(line) < 8300


def test_front_answers_503_while_stopping_and_logs_it():
    log = io.StringIO()
    called = []
    front = Front(lambda e, s: called.append(1), log)
    front.stopping = True
    status, headers, body = call(front, environ_for("/"))
    assert status == 503
    assert body == b"503 Service Unavailable: the server is stopping\n"
    assert headers["Content-Length"] == str(len(body))
    assert called == []
    assert log_lines(log)[0].endswith('"GET - HTTP/1.1" 503 %d' % len(body))


def test_front_logs_a_500_when_the_app_raises_and_passes_the_error_on():
    log = io.StringIO()

    def broken(environ, start_response):
        raise RuntimeError("boom")

    front = Front(broken, log)
    with pytest.raises(RuntimeError, match="boom"):
        front(environ_for("/"), lambda *a: None)
    assert log_lines(log)[0].endswith(" 500 -")
    assert front.active == 0


def test_front_passes_the_servers_file_wrapper_through(tmp_path):
    class FileWrapper:
        def __init__(self, filelike, block_size=8192):
            self.filelike = filelike

    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 10)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "10")])
        return environ["wsgi.file_wrapper"](open(str(path), "rb"))

    log = io.StringIO()
    front = Front(app, log)
    result = front(environ_for("/f.bin", **{"wsgi.file_wrapper": FileWrapper}), lambda *a: None)
    try:
        # The server's own wrapper, untouched: its sendfile path stays open.
        assert type(result) is FileWrapper
    finally:
        result.filelike.close()
    assert log_lines(log)[0].endswith(" 200 10")
    assert front.active == 0


def test_front_closes_the_result_once_and_counts_streamed_bytes():
    closed = []

    class Body:
        def __iter__(self):
            yield b"abc"
            yield b"de"

        def close(self):
            closed.append(1)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "not-a-number")])
        return Body()

    log = io.StringIO()
    front = Front(app, log)
    result = front(environ_for("/"), lambda *a: None)
    assert b"".join(result) == b"abcde"
    result.close()
    result.close()
    assert closed == [1]
    assert log_lines(log) and log_lines(log)[0].endswith(" 200 5")
    # A result without close() is fine too.
    front = Front(lambda e, s: (s("204 No Content", []), iter([]))[1], log)
    result = front(environ_for("/"), lambda *a: None)
    assert list(result) == []
    result.close()
    assert log_lines(log)[1].endswith(" 204 -")
    assert front.active == 0


def test_front_survives_a_log_that_cannot_be_written():
    class Closed(io.StringIO):
        def write(self, text):
            raise OSError(5, "Input/output error")

    front = Front(hello_app, Closed())
    assert call(front, environ_for("/"))[2] == b"hello"
    front.log = io.StringIO()
    front.log.close()  # ValueError on write
    assert call(front, environ_for("/"))[2] == b"hello"


def test_front_writes_to_stderr_without_a_log(capsys):
    call(Front(hello_app), environ_for("/", REQUEST_URI="/to-stderr"))
    assert '"GET /to-stderr HTTP/1.1" 200 5' in capsys.readouterr().err


# -- the command: its errors ----------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--threads", "0"], "must be positive"),
        (["--timeout", "0"], "must be positive"),
        (["70000"], "must be positive"),
        (["--cgi-dir", "/"], "not a CGI folder URL path: '/'"),
        (["--cgi-dir", "/a/../b"], "not a CGI folder URL path"),
    ],
)
def test_bad_options_exit_2_with_the_reason(site, capsys, argv, message):
    assert serve.main(["-d", str(site), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wsgicgi serve: ")
    assert message in err


def test_bad_folder_exits_2(tmp_path, capsys):
    assert serve.main(["-d", str(tmp_path / "missing")]) == 2
    assert "no such folder: %s" % (tmp_path / "missing") in capsys.readouterr().err


def test_without_waitress_says_what_to_install(site, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "waitress", None)
    assert serve.main(["0", "-d", str(site)]) == 1
    err = capsys.readouterr().err
    assert "pip install 'wsgicgi[serve]'" in err


def test_an_address_that_cannot_be_bound_exits_1(site, capsys):
    assert serve.main(["0", "-d", str(site), "--bind", "192.0.2.1"]) == 1
    assert "cannot listen on 192.0.2.1 port 0" in capsys.readouterr().err


# -- the command: a real server ----------------------------------------------------


def read_banner(proc, timeout=30):
    banner = b""
    deadline = time.monotonic() + timeout
    while b"Ctrl-C" not in banner and time.monotonic() < deadline and proc.poll() is None:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            banner += os.read(proc.stdout.fileno(), 4096)
    return banner.decode()


def test_every_interface_behind_a_trusted_proxy_then_sigterm(site):
    """--bind 0.0.0.0 warns that every machine may run the scripts;
    --trusted-proxy makes X-Forwarded-For and -Proto the script's REMOTE_ADDR
    and HTTPS; SIGTERM stops the server with status 0."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "wsgicgi", "serve", "0", "--bind", "0.0.0.0"),
            *("-d", str(site), "--trusted-proxy", "127.0.0.1", "--cgi"),
        ],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        banner = read_banner(proc)
        assert "every machine that can reach it may run the scripts" in banner, banner
        port = int(re.search(r"http://0\.0\.0\.0:(\d+)/", banner).group(1))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "GET",
            "/cgi-bin/hello.sh",
            headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
        )
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"hello 203.0.113.7 on\n")
        conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        err = proc.stderr.read().decode()
        assert "wsgicgi serve: SIGTERM: stopping, 0 request(s) in flight" in err
        assert "203.0.113.7 - - [" in err and '"GET /cgi-bin/hello.sh HTTP/1.1" 200' in err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_serve_until_signal_with_two_listening_sockets(site, capsys):
    """waitress's multi-socket server (a name that resolves to several
    addresses): both sockets answer, both close on the signal."""
    from waitress.server import create_server

    front = Front(Site(str(site)), io.StringIO())
    server = create_server(front, listen="127.0.0.1:0 127.0.0.1:0", threads=2)
    addresses = serve._addresses(server)
    assert len(addresses) == 2 and all(host == "127.0.0.1" for host, _ in addresses)
    answers = []

    def client():
        try:
            for _, port in addresses:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", "/")
                response = conn.getresponse()
                answers.append((response.status, response.read()))
                conn.close()
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=client)
    thread.start()
    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert serve.serve_until_signal(server, front, grace=1.0) == 0
    finally:
        thread.join(30)
    assert signal.getsignal(signal.SIGTERM) is previous
    assert answers == [(200, b"<p>home</p>\n")] * 2
    assert "SIGTERM: stopping, 0 request(s) in flight" in capsys.readouterr().err
    for _, port in addresses:
        with pytest.raises(OSError):
            http.client.HTTPConnection("127.0.0.1", port, timeout=5).request("GET", "/")
