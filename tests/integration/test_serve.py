"""``wsgicgi serve`` as a real process on 127.0.0.1, spoken to over HTTP; and
the production recipes (gunicorn, waitress-serve) answering CGI requests.

Every server is started on port 0 (the URL is read from its banner), given
timeouts, and killed in teardown; CGI scripts write their pids to files so the
tests can check that none is left running.
"""

import email.utils
import http.client
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from docs_blocks import argv, command, doc_block, substitute
from wsgi_servers import is_watchdog

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_CGI = os.path.join(ROOT, "cgi-bin")
PY_BIN = os.path.dirname(os.path.abspath(sys.executable))
START_TIMEOUT = 30.0
HTTP_TIMEOUT = 30.0

SECRET = b"top-secret-outside-the-root"
BIG = bytes(range(256)) * 400  # 102400 bytes

# Scripts of the test site; {pids} is a folder where they leave their pids.
SCRIPTS = {
    "slow.sh": "#!/bin/sh\necho $$ > {pids}/slow.pid\nexec sleep 30\n",
    "finishing.sh": (
        "#!/bin/sh\necho $$ > {pids}/finishing.pid\nsleep 2\n"
        "printf 'Content-Type: text/plain\\r\\n\\r\\nfinished in time\\n'\n"
    ),
    # Never answers; leaves a grandchild in its process group.
    "stuck.sh": (
        "#!/bin/sh\nsleep 60 &\necho $! > {pids}/stuck-grandchild.pid\n"
        "echo $$ > {pids}/stuck.pid\nwait\n"
    ),
    ".hidden.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nhidden\\n'\n",
    # 256 MiB with no Content-Length: streamed as it comes.
    "stream.sh": "#!/bin/sh\nprintf 'Content-Type: application/octet-stream\\r\\n\\r\\n'\nexec head -c 268435456 /dev/zero\n",
}


# -- helpers ------------------------------------------------------------------


def request(base, method, path, headers=None, body=None, timeout=HTTP_TIMEOUT):
    """One HTTP request with the path sent exactly as given (no normalising)."""
    host, port = base
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        headers = dict(headers or {})
        if body is not None:
            headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        return response.status, response.headers, data
    finally:
        conn.close()


def alive(pid):
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return data[data.rfind(b")") + 2 :][:1] != b"Z"


def wait_gone(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def read_pid(path, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return int(text)
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise AssertionError("no pid file %s after %ss" % (path, timeout))


def kill_scripts(folder):
    """Kill the process group of every script that left a pid file (teardown)."""
    for name in os.listdir(folder):
        try:
            with open(os.path.join(folder, name)) as f:
                pid = int(f.read().strip() or 0)
            os.unlink(os.path.join(folder, name))
        except (OSError, ValueError):
            continue
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass


def children_of(pid):
    """Live children of ``pid``, not counting wsgicgi's watchdog."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            fields = data[data.rfind(b")") + 2 :].split()
            if int(fields[1]) == pid and fields[0] != b"Z" and not is_watchdog(int(entry)):
                found.append(int(entry))
    return found


class Server:
    """A server process, its address read from what it prints when ready."""

    def __init__(self, argv, cwd, pattern, env=None, stream="stdout"):
        self.log = tempfile.TemporaryFile()
        kwargs = {"stdout": subprocess.PIPE, "stderr": self.log}
        if stream == "stderr":
            kwargs = {"stdout": self.log, "stderr": subprocess.PIPE}
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, start_new_session=True, **kwargs
        )
        self.pipe = self.proc.stdout if stream == "stdout" else self.proc.stderr
        self.banner = b""
        deadline = time.monotonic() + START_TIMEOUT
        match = None
        while match is None:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise AssertionError(
                    "server did not start: %r\n%s" % (self.banner, self.log_text())
                )
            ready, _, _ = select.select([self.pipe], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(self.pipe.fileno(), 4096)
                if not chunk and self.proc.poll() is not None:
                    continue
                self.banner += chunk
                match = re.search(pattern, self.banner)
        self.address = (match.group(1).decode(), int(match.group(2)))
        if stream == "stderr":
            # gunicorn keeps logging to stderr: drain it so it never blocks.
            self.drainer = threading.Thread(target=self._drain, daemon=True)
            self.drainer.start()

    def _drain(self):
        while True:
            try:
                chunk = os.read(self.pipe.fileno(), 65536)
            except (OSError, ValueError):
                return
            if not chunk:
                return
            self.banner += chunk

    def get(self, path, **kw):
        return request(self.address, "GET", path, **kw)

    def log_text(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def start_serve(directory, *args, env=None):
    argv = [sys.executable, "-m", "wsgicgi", "serve", "0", "-d", directory, *list(args)]
    return Server(argv, ROOT, rb"http://(127\.0\.0\.1):(\d+)/", env=env)


# -- fixtures -------------------------------------------------------------------


@pytest.fixture(scope="module")
def site():
    """A site next to a secret file: static files, dotfiles, symlinks, a
    cgi-bin with the example scripts and the test's own."""
    top = tempfile.mkdtemp(prefix="wsgicgi-serve-", dir="/tmp")
    try:
        with open(os.path.join(top, "outside.txt"), "wb") as f:
            f.write(SECRET)
        root = os.path.join(top, "site")
        pids = os.path.join(top, "pids")
        cgi = os.path.join(root, "cgi-bin")
        for folder in (
            root,
            pids,
            cgi,
            os.path.join(root, "sub"),
            os.path.join(root, "plain"),
            os.path.join(root, ".git"),
        ):
            os.makedirs(folder, exist_ok=True)
        files = {
            "hello.txt": b"hello, static world\n",
            "big.bin": BIG,
            "page.html": b"<p>a page</p>\n",
            "sub/index.html": b"<h1>the index of sub</h1>\n",
            "plain/a.txt": b"a\n",
            ".secret": SECRET,
            "plain/.hidden": SECRET,
            ".git/config": SECRET,
        }
        for name, data in files.items():
            with open(os.path.join(root, name), "wb") as f:
                f.write(data)
        os.symlink(os.path.join(top, "outside.txt"), os.path.join(root, "escape.txt"))
        os.symlink(os.path.join(root, ".git", "config"), os.path.join(root, "git-config"))
        os.symlink(cgi, os.path.join(root, "scripts"))  # another URL onto the scripts' source
        for name in ("hello.sh", "env.pl", "form.py"):
            shutil.copy(os.path.join(EXAMPLE_CGI, name), os.path.join(cgi, name))
        os.chmod(os.path.join(cgi, "form.py"), 0o644)  # .py runs without the exec bit
        for name, text in SCRIPTS.items():
            path = os.path.join(cgi, name)
            with open(path, "w") as f:
                f.write(text.format(pids=pids))
            os.chmod(path, 0o755)
        with open(os.path.join(cgi, "noexec.sh"), "w") as f:
            f.write("#!/bin/sh\necho\n")
        os.chmod(os.path.join(cgi, "noexec.sh"), 0o644)
        yield {"top": top, "root": root, "pids": pids}
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module")
def served(site):
    server = start_serve(site["root"], "--timeout", "1.5")
    try:
        yield server
    finally:
        server.stop()
        kill_scripts(site["pids"])


# -- the command line ---------------------------------------------------------


def test_banner_says_where_it_listens(served):
    banner = served.banner.decode()
    assert "127.0.0.1 only" in banner
    assert "http://127.0.0.1:%d/" % served.address[1] in banner
    assert "/cgi-bin/" in banner and "/htbin/" in banner


def test_bad_directory_is_an_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "wsgicgi", "serve", "0", "-d", str(tmp_path / "missing")],
        capture_output=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert b"no such folder" in result.stderr


def test_busy_port_is_an_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "wsgicgi", "serve", str(port)],
            capture_output=True,
            timeout=30,
            cwd=ROOT,
        )
    assert result.returncode == 1
    assert b"cannot listen" in result.stderr


# -- static files -------------------------------------------------------------


def test_static_file(served):
    status, headers, body = served.get("/hello.txt")
    assert status == 200
    assert body == b"hello, static world\n"
    assert headers["Content-Type"].startswith("text/plain")
    assert headers["Content-Length"] == str(len(body))
    assert email.utils.parsedate_to_datetime(headers["Last-Modified"])
    assert served.get("/page.html")[1]["Content-Type"].startswith("text/html")
    assert served.get("/big.bin")[2] == BIG


def test_head_has_no_body(served):
    status, headers, body = request(served.address, "HEAD", "/big.bin")
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(len(BIG))


def test_other_methods_are_refused(served):
    status, headers, _ = request(served.address, "POST", "/hello.txt", body=b"x")
    assert status == 405
    assert "GET" in headers["Allow"]


def test_directory_listing(served):
    status, headers, body = served.get("/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    page = body.decode()
    for name in ('href="hello.txt"', 'href="sub/"', 'href="cgi-bin/"', 'href="plain/"'):
        assert name in page
    assert ".secret" not in page and ".git" not in page
    status, _, body = served.get("/plain/")
    assert status == 200 and b'href="a.txt"' in body and b".hidden" not in body


def test_index_html_and_the_trailing_slash(served):
    status, headers, _ = served.get("/sub?x=1")
    assert status == 301
    assert headers["Location"] == "/sub/?x=1"
    status, _, body = served.get("/sub/")
    assert (status, body) == (200, b"<h1>the index of sub</h1>\n")


def test_if_modified_since_gives_304(served):
    _, headers, _ = served.get("/hello.txt")
    status, _, body = served.get(
        "/hello.txt", headers={"If-Modified-Since": headers["Last-Modified"]}
    )
    assert (status, body) == (304, b"")
    status, _, body = served.get("/hello.txt", headers={"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, b"")
    status, _, body = served.get(
        "/hello.txt", headers={"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}
    )
    assert (status, body) == (200, b"hello, static world\n")


@pytest.mark.parametrize(
    "header, first, last",
    [
        ("bytes=10-19", 10, 19),
        ("bytes=0-0", 0, 0),
        ("bytes=-5", len(BIG) - 5, len(BIG) - 1),
        ("bytes=100000-", 100000, len(BIG) - 1),
    ],
)
def test_range_request(served, header, first, last):
    status, headers, body = served.get("/big.bin", headers={"Range": header})
    assert status == 206
    assert headers["Content-Range"] == "bytes %d-%d/%d" % (first, last, len(BIG))
    assert body == BIG[first : last + 1]


def test_unsatisfiable_and_ignored_ranges(served):
    status, headers, _ = served.get("/big.bin", headers={"Range": "bytes=%d-" % len(BIG)})
    assert status == 416
    assert headers["Content-Range"] == "bytes */%d" % len(BIG)
    # Several ranges, or nonsense: the whole file (RFC 9110 §14.2 lets us ignore Range).
    for value in ("bytes=0-1,5-6", "lines=1-2", "bytes=x-y"):
        status, _, body = served.get("/big.bin", headers={"Range": value})
        assert (status, body) == (200, BIG)


def test_if_range(served):
    _, headers, _ = served.get("/big.bin")
    fresh = {"Range": "bytes=0-9", "If-Range": headers["ETag"]}
    status, _, body = served.get("/big.bin", headers=fresh)
    assert (status, body) == (206, BIG[:10])
    stale = {"Range": "bytes=0-9", "If-Range": '"an-older-version"'}
    status, _, body = served.get("/big.bin", headers=stale)
    assert (status, body) == (200, BIG)


def test_not_found(served):
    assert served.get("/nope.txt")[0] == 404
    assert served.get("/sub/nope/")[0] == 404
    assert served.get("/cgi-bin/nope.sh")[0] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/../outside.txt",
        "/%2e%2e/outside.txt",
        "/%2E%2E/outside.txt",
        "/sub/../../outside.txt",
        "/sub/%2e%2e/%2e%2e/outside.txt",
        "/..%2foutside.txt",
        "/cgi-bin/../../outside.txt",
        "/cgi-bin/%2e%2e/%2e%2e/outside.txt",
        "/cgi-bin/..%2f..%2foutside.txt",
        "/cgi-bin/../hello.txt",
        "/escape.txt",
        "//%2e%2e/outside.txt",
        "/sub/..%5c..%5coutside.txt",
        "/hello.txt%00.html",
    ],
)
def test_traversal_is_refused(served, path):
    status, _, body = served.get(path)
    assert status in (400, 404), (path, status)
    assert SECRET not in body


@pytest.mark.parametrize(
    "path",
    ["/.secret", "/%2esecret", "/.git/config", "/.git/", "/plain/.hidden", "/git-config", "/.git"],
)
def test_dotfiles_are_never_served(served, path):
    status, _, body = served.get(path)
    assert status == 404, (path, status)
    assert SECRET not in body


def test_script_source_is_never_a_static_file(served):
    # The same folder through a symlinked name (or another case of
    # /cgi-bin/ on a case-insensitive file system) is not a way round.
    status, _, body = served.get("/scripts/hello.sh")
    assert status == 404
    assert b"#!/bin/sh" not in body


def test_access_log_is_common_log_format(served):
    served.get("/hello.txt?log=1")
    deadline = time.monotonic() + 10
    pattern = re.compile(
        r"^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "
        r'"GET /hello\.txt\?log=1 HTTP/1\.1" 200 20$',
        re.M,
    )
    while not pattern.search(served.log_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pattern.search(served.log_text()), served.log_text()[-2000:]


def _call(app, path, method="GET"):
    """One in-process WSGI call: (status, headers, body)."""
    from wsgi_call import call, environ_for

    return call(app, environ_for(path, method))


def test_make_app_without_listing(site):
    from wsgicgi.serve import make_app

    app = make_app(site["root"], listing=False)
    assert _call(app, "/")[0] == 404
    assert _call(app, "/sub/")[2] == b"<h1>the index of sub</h1>\n"
    assert _call(make_app(site["root"]), "/")[0] == 200


def test_log_lines_cannot_be_forged():
    import io

    from wsgicgi.serve import Front

    log = io.StringIO()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    front = Front(app, log)
    environ = {
        "REQUEST_METHOD": "GET",
        "REQUEST_URI": '/a"b\n1.2.3.4 - - [x] "GET /forged\xff',
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    result = front(environ, lambda status, headers, exc_info=None: None)
    assert b"".join(result) == b"ok"
    result.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith('"GET /a\\"b\\x0a1.2.3.4 - - [x] \\"GET /forged\\xff HTTP/1.1" 200 2')
    assert front.active == 0


# -- CGI ----------------------------------------------------------------------


def test_cgi_get_sh(served):
    status, headers, body = served.get("/cgi-bin/hello.sh/extra?name=Ann")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert b"Hello, Ann, from a shell script." in body
    assert b"SCRIPT_NAME=/cgi-bin/hello.sh\n" in body
    assert b"PATH_INFO=/extra\n" in body


def test_cgi_post_sh(served):
    status, _, body = request(
        served.address,
        "POST",
        "/cgi-bin/hello.sh",
        body=b"message=hi+there",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert b"REQUEST_METHOD=POST" in body
    assert b"CONTENT_LENGTH=16" in body
    assert body.endswith(b"--- body ---\nmessage=hi+there\n")


def test_cgi_perl_get_and_post(served):
    status, _, body = served.get("/cgi-bin/env.pl?colour=blue")
    assert status == 200
    assert b"Hello from Perl" in body
    assert b"<li><b>colour</b> = blue</li>" in body
    assert b"GATEWAY_INTERFACE</th><td><code>CGI/1.1" in body
    # Scripts get the server's Python first on PATH (for one-line gateway scripts).
    assert ("PATH</th><td><code>%s%s" % (PY_BIN, os.pathsep)).encode() in body
    status, _, body = request(
        served.address,
        "POST",
        "/cgi-bin/env.pl",
        body=b"greeting=h%C3%A9llo&x=%3Cb%3E",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert "<li><b>greeting</b> = héllo</li>".encode() in body
    assert b"<li><b>x</b> = &lt;b&gt;</li>" in body


def test_cgi_python_without_exec_bit(served, site):
    assert not os.stat(os.path.join(site["root"], "cgi-bin", "form.py")).st_mode & stat.S_IXUSR
    status, _, body = served.get("/cgi-bin/form.py")
    assert status == 200
    assert b"A form in a legacy Python CGI script" in body
    status, _, body = request(
        served.address,
        "POST",
        "/cgi-bin/form.py",
        body=b"name=Bo&language=Perl",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert b"<h1>Hello, Bo</h1>" in body and b"You like <b>Perl</b>" in body
    assert ("Python %d.%d." % sys.version_info[:2]).encode() in body


def test_cgi_non_executable_is_forbidden(served):
    assert served.get("/cgi-bin/noexec.sh")[0] == 403


def test_cgi_dotfile_and_folder(served):
    assert served.get("/cgi-bin/.hidden.sh")[0] == 404
    assert served.get("/cgi-bin/")[0] in (403, 404)


def test_script_timeout_is_504_and_the_script_is_killed(served, site):
    pid_file = os.path.join(site["pids"], "slow.pid")
    started = time.monotonic()
    status, _, _ = served.get("/cgi-bin/slow.sh")
    assert status == 504
    assert time.monotonic() - started < 15
    assert wait_gone(read_pid(pid_file))


def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def _download(address, path):
    """GET ``path`` reading as fast as the socket gives; returns the bytes of
    the response (head included)."""
    with socket.create_connection(address, timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        buf = bytearray(1 << 20)
        total = 0
        while True:
            n = sock.recv_into(buf)
            if not n:
                return total
            total += n


def test_streamed_downloads_leave_the_server_memory_flat(served):
    # waitress keeps up to outbuf_high_watermark (16 MB by default) of what a
    # client has not taken, and each worker thread keeps that memory after;
    # serve sets 1 MiB.  Five 256 MiB downloads, one after another, land on
    # several threads: measured, the server grew 13-16 MB in all with 1 MiB,
    # 143 MB with waitress's default.
    pid = served.proc.pid
    _download(served.address, "/cgi-bin/hello.sh")
    before = _rss_kib(pid)
    for _ in range(5):
        assert _download(served.address, "/cgi-bin/stream.sh") > 256 << 20
    growth = _rss_kib(pid) - before
    assert growth < 48 * 1024, "serve grew by %d KiB over five 256 MiB downloads" % growth


# -- the example site in the repository ---------------------------------------


@pytest.fixture(scope="module")
def example():
    # A PATH without this venv: only the folder serve prepends lets the
    # one-line script's `env python3` find a Python that has wsgicgi.
    env = dict(os.environ, PATH="/usr/bin:/bin")
    server = start_serve(ROOT, env=env)
    try:
        yield server
    finally:
        server.stop()


def test_example_index_page_links_both_directions(example):
    status, _, body = example.get("/")
    assert status == 200
    for link in (
        b"cgi-bin/hello.sh",
        b"cgi-bin/env.pl",
        b"cgi-bin/form.py",
        b"cgi-bin/app.cgi/",
        b"cgi-bin/app.py/",
    ):
        assert link in body
    assert example.get("/cgi-bin/hello.sh?name=site")[0] == 200
    assert example.get("/cgi-bin/env.pl")[0] == 200
    assert example.get("/cgi-bin/form.py")[0] == 200


def test_example_one_line_gateway_script_through_the_server(example):
    status, headers, body = example.get("/cgi-bin/app.cgi/?q=1")
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/html")
    assert b"Hello from a WSGI app served as CGI" in body
    assert b"<code>/cgi-bin/app.cgi</code>" in body  # SCRIPT_NAME seen by the app
    status, headers, body = request(
        example.address,
        "POST",
        "/cgi-bin/app.cgi/form",
        body=b"name=Zed",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 303
    assert headers["Location"] == "/cgi-bin/app.cgi/"
    assert "name=Zed" in headers["Set-Cookie"]
    payload = bytes(range(256)) * 64
    status, _, body = request(example.address, "POST", "/cgi-bin/app.cgi/echo", body=payload)
    assert (status, body) == (200, payload)
    status, _, body = example.get("/cgi-bin/app.py/", headers={"Cookie": "name=Ann"})
    assert status == 200 and b"Hello, Ann from a WSGI app" in body


def test_example_scripts_source_is_not_served(example):
    status, _, body = example.get("/cgi-bin/")
    assert status in (403, 404)
    assert b"wsgi_app" not in body


# -- stopping -----------------------------------------------------------------


def _in_background(server, path):
    result = {}

    def run():
        try:
            result["response"] = server.get(path)
        except Exception as exc:  # the connection may be cut
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_lets_a_request_in_flight_finish(site, signum):
    pid_file = os.path.join(site["pids"], "finishing.pid")
    if os.path.exists(pid_file):
        os.unlink(pid_file)
    server = start_serve(site["root"])
    try:
        thread, result = _in_background(server, "/cgi-bin/finishing.sh")
        pid = read_pid(pid_file)
        server.proc.send_signal(signum)
        assert server.proc.wait(20) == 0
        thread.join(10)
        status, _, body = result["response"]
        assert (status, body) == (200, b"finished in time\n")
        assert wait_gone(pid)
        assert "stopping, 1 request(s) in flight" in server.log_text()
        with pytest.raises(OSError):
            server.get("/hello.txt", timeout=5)
    finally:
        server.stop()
        kill_scripts(site["pids"])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_cuts_a_stuck_script_and_leaves_no_child(site, signum):
    pid_file = os.path.join(site["pids"], "stuck.pid")
    grandchild_file = os.path.join(site["pids"], "stuck-grandchild.pid")
    for path in (pid_file, grandchild_file):
        if os.path.exists(path):
            os.unlink(path)
    server = start_serve(site["root"])
    try:
        thread, result = _in_background(server, "/cgi-bin/stuck.sh")
        pid = read_pid(pid_file)
        grandchild = read_pid(grandchild_file)
        assert children_of(server.proc.pid) == [pid]
        started = time.monotonic()
        server.proc.send_signal(signum)
        assert server.proc.wait(30) == 0
        assert time.monotonic() - started < 15
        assert wait_gone(pid) and wait_gone(grandchild)
        thread.join(10)
        if "response" in result:
            assert result["response"][0] == 502
        assert "cutting 1 request(s)" in server.log_text()
    finally:
        server.stop()
        kill_scripts(site["pids"])


def test_second_signal_stops_at_once(site):
    pid_file = os.path.join(site["pids"], "stuck.pid")
    if os.path.exists(pid_file):
        os.unlink(pid_file)
    server = start_serve(site["root"])
    try:
        _in_background(server, "/cgi-bin/stuck.sh")
        pid = read_pid(pid_file)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(30) == 0
        assert time.monotonic() - started < 4.5  # well inside the 5 s grace
        assert wait_gone(pid)
    finally:
        server.stop()
        kill_scripts(site["pids"])


# -- production recipes ---------------------------------------------------------


def _gunicorn(app_spec, cwd):
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        "2",
        "-b",
        "127.0.0.1:0",
        "--graceful-timeout",
        "5",
        app_spec,
    ]
    return Server(argv, cwd, rb"Listening at: http://(127\.0\.0\.1):(\d+)", stream="stderr")


PRODUCTION_PAGE = "deploy/production.md"


def production_app_spec(marker):
    """The APP argument of the docs' gunicorn line with ``marker``
    (docs/deploy/production.md; test_nginx.py runs the whole lines)."""
    block = doc_block(PRODUCTION_PAGE, "in production", "sh", marker)
    words = argv(command(block, marker))
    assert words[0] == "gunicorn", words
    return words[-1]


def test_gunicorn_recipe_cgidirectory(site):
    """The docs' line: gunicorn -w 4 -b 127.0.0.1:8000 "wsgicgi:CGIDirectory('cgi-bin')"."""
    spec = production_app_spec("CGIDirectory('cgi-bin')")
    assert spec == "wsgicgi:CGIDirectory('cgi-bin')"
    server = _gunicorn(spec, site["root"])
    try:
        status, _, body = server.get("/hello.sh?name=gunicorn")
        assert status == 200
        assert b"Hello, gunicorn, from a shell script." in body
        status, _, body = request(server.address, "POST", "/hello.sh", body=b"posted")
        assert status == 200 and body.endswith(b"--- body ---\nposted\n")
        assert server.get("/nope.sh")[0] == 404
    finally:
        server.stop()


def test_gunicorn_recipe_whole_site(site):
    spec = production_app_spec('"wsgicgi.serve:make_app()"')
    assert spec == "wsgicgi.serve:make_app()"
    server = _gunicorn(spec, site["root"])
    try:
        assert server.get("/hello.txt")[2] == b"hello, static world\n"
        status, _, body = server.get("/cgi-bin/hello.sh?name=site")
        assert status == 200 and b"Hello, site, from a shell script." in body
        assert server.get("/cgi-bin/form.py")[0] == 200
        assert server.get("/.git/config")[0] == 404
    finally:
        server.stop()


def test_waitress_serve_recipe(site):
    with socket.socket() as probe:  # waitress-serve prints no port when given 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [
        sys.executable,
        "-m",
        "waitress",
        "--listen=127.0.0.1:%d" % port,
        "--call",
        "wsgicgi.serve:make_app",
    ]
    server = Server(argv, site["root"], rb"Serving on http://(127\.0\.0\.1):(\d+)", stream="stderr")
    try:
        assert server.get("/hello.txt")[2] == b"hello, static world\n"
        status, _, body = server.get("/cgi-bin/hello.sh?name=waitress")
        assert status == 200 and b"Hello, waitress, from a shell script." in body
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["gunicorn", "waitress"])
def test_behind_apache_reverse_proxy(site, apache_available, backend):
    """The docs' Apache recipe (docs/deploy/production.md, read from the page)
    in front of gunicorn or waitress-serve: files and scripts through the
    proxy, the scheme passed on (HTTPS=on)."""
    from scripts.harness import apache as harness

    if backend == "gunicorn":
        server = _gunicorn("wsgicgi.serve:make_app()", site["root"])
    else:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        argv = [
            sys.executable,
            "-m",
            "waitress",
            "--listen=127.0.0.1:%d" % port,
            "--trusted-proxy=127.0.0.1",
            "--trusted-proxy-headers=x-forwarded-for x-forwarded-proto",
            "--call",
            "wsgicgi.serve:make_app",
        ]
        server = Server(
            argv, site["root"], rb"Serving on http://(127\.0\.0\.1):(\d+)", stream="stderr"
        )
    empty = harness.public_tempdir("wsgicgi-proxy-")
    modules = "\n".join(
        "LoadModule %s_module %s/mod_%s.so" % (name, harness.MODULES_DIR, name)
        for name in ("proxy", "proxy_http", "headers")
    )
    block = doc_block(PRODUCTION_PAGE, "in production", "apache", "ProxyPass")
    conf = (
        modules + "\n" + substitute(block, {"127.0.0.1:8000": "127.0.0.1:%d" % server.address[1]})
    )
    httpd = harness.Apache(empty, docroot=empty, extra_conf=conf)
    try:
        httpd.start()
        front = ("127.0.0.1", httpd.port)
        status, _, body = request(front, "GET", "/hello.txt")
        assert (status, body) == (200, b"hello, static world\n")
        status, _, body = request(front, "GET", "/cgi-bin/env.pl?via=proxy")
        assert status == 200, body
        assert b"<li><b>via</b> = proxy</li>" in body
        assert b"HTTPS</th><td><code>on<" in body
        assert b"REQUEST_SCHEME</th><td><code>https<" in body
        status, _, body = request(front, "POST", "/cgi-bin/hello.sh", body=b"through the proxy")
        assert status == 200 and body.endswith(b"--- body ---\nthrough the proxy\n")
        status, headers, _ = request(front, "GET", "/sub")
        assert status == 301 and headers["Location"].endswith("/sub/")
        assert request(front, "GET", "/.git/config")[0] == 404
    finally:
        httpd.cleanup()
        server.stop()
        shutil.rmtree(empty, ignore_errors=True)
