"""FastCGI under a real Apache 2.4 (event MPM): mod_fcgid running the one-line
script, mod_cgid and mod_cgi running the very same script as CGI, and
mod_proxy_fcgi in front of ``wsgicgi fcgi --bind unix:PATH``.

The Apache configuration is the docs', read from docs/deploy/fastcgi.md (with
tests/integration/docs_blocks.py, as every recipe test does): the
shared-hosting ``.htaccess`` block, the "mod_fcgid in the server
configuration" block and the ``ProxyPass`` line, with only the docs' example
paths replaced by this test's folders.

Apache runs scripts as www-data, who cannot enter /root: the site lives in a
world-readable folder under /tmp with a copy of the wsgicgi package, and the
script's ``python3`` is Debian's /usr/bin/python3 (with python3-flask and
python3-django, installed by scripts/test). mod_fcgid does not pass
``SetEnv`` variables to the processes it starts: ``FcgidInitialEnv`` does.
"""

import contextlib
import hashlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlencode, urlsplit

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
APPS = os.path.join(ROOT, "tests", "apps")
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import fastcgi_app  # noqa: E402
from docs_blocks import doc_block, one_line_script, page_text, substitute  # noqa: E402
from http_util import latin1, raw_head, request, wait_for_log  # noqa: E402

from scripts.harness import apache as harness  # noqa: E402

pytestmark = pytest.mark.integration

AUTH = "Basic dXNlcjpwYXNzd29yZA=="  # user:password
MB20 = 20 * 1024 * 1024
GIB = 1 << 30
FCGID_DEFAULT_MAX_REQUEST_LEN = 131072

# What the docs' recipes name, replaced by this test's own folders.
PAGE = "deploy/fastcgi.md"
DOCS_CGI_BIN = "/srv/www/cgi-bin"
DOCS_SOCKET = "/run/wsgicgi/app.sock"


# -- the docs' recipes, read from docs/deploy/fastcgi.md -------------------------


def docs_htaccess():
    return doc_block(PAGE, "mod_fcgid in `.htaccess`", "apache")


def docs_server_conf(cgi_bin):
    block = doc_block(PAGE, "mod_fcgid in the server configuration", "apache")
    return substitute(block, {DOCS_CGI_BIN: cgi_bin})


def docs_proxy_conf(sock):
    block = doc_block(PAGE, "mod_proxy_fcgi in front of", "apache", "ProxyPass")
    return substitute(block, {DOCS_SOCKET: sock})


def docs_proxy_command(sock):
    """The docs' ``wsgicgi fcgi ... --bind unix:...`` command line, as argv."""
    block = doc_block(PAGE, "mod_proxy_fcgi in front of", "sh", "wsgicgi fcgi")
    argv = shlex.split(block.strip())
    assert argv[:2] == ["wsgicgi", "fcgi"] and "unix:" + DOCS_SOCKET in argv, argv
    return [a.replace(DOCS_SOCKET, sock) for a in argv]


# -- HTTP helpers -----------------------------------------------------------------


def env_of(server, path, **kwargs):
    status, headers, body = request(server.port, kwargs.pop("method", "GET"), path, **kwargs)
    assert status == 200, (status, body[:500], server.error_log()[-3000:])
    assert headers.get("x-probe") == "fastcgi", headers
    return json.loads(body)


def pid_of(server, path):
    status, _, body = request(server.port, "GET", path)
    assert status == 200, (status, body[:500], server.error_log()[-3000:])
    return int(body)


def processes_running(needle):
    """{pid: command line} of the processes whose command line contains ``needle``."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if needle in cmdline:
            found[int(entry)] = cmdline
    return found


# -- the site and the servers -------------------------------------------------------

FCGID_CONF = """\
LoadModule fcgid_module {modules}/mod_fcgid.so
FcgidIPCDir "{ipc}"
FcgidProcessTableFile "{ipc}/fcgid_shm"
# SetEnv does not reach the processes mod_fcgid starts; this does.
FcgidInitialEnv PYTHONPATH "{lib}"
<Directory "{docroot}">
    Options FollowSymLinks
    AllowOverride All
    Require all granted
</Directory>
"""

PROXY_CONF = """\
LoadModule proxy_module {modules}/mod_proxy.so
LoadModule proxy_fcgi_module {modules}/mod_proxy_fcgi.so
LoadModule setenvif_module {modules}/mod_setenvif.so
"""


@pytest.fixture(scope="module")
def site(apache_available):
    """World-readable folders: the package copy, the .htaccess sites, a cgi-bin,
    the docs' server-configuration cgi-bin, and mod_fcgid's socket folder."""
    top = harness.public_tempdir("wsgicgi-fcgi-site-")
    try:
        lib = harness.stage_wsgicgi(os.path.join(top, "lib"))
        docroot = os.path.join(top, "htdocs")
        fcgi = os.path.join(docroot, "fcgi")  # the docs' .htaccess, app.fcgi, the app
        fw = os.path.join(docroot, "fw")  # the same, for Flask and Django
        cgi = os.path.join(top, "cgi-bin")  # the same one-line script, as CGI
        srv = os.path.join(top, "srv-cgi-bin")  # the docs' server-configuration block
        ipc = os.path.join(top, "fcgid")
        for folder in (fcgi, fw, cgi, srv, ipc):
            os.makedirs(folder)
        for folder in (fcgi, cgi, srv):
            shutil.copy(os.path.join(HERE, "fastcgi_app.py"), folder)
        htaccess = docs_htaccess()
        harness.write_script(os.path.join(fcgi, ".htaccess"), htaccess, mode=0o644)
        harness.write_script(os.path.join(fcgi, "app.fcgi"), one_line_script("fastcgi_app:app"))
        harness.write_script(os.path.join(cgi, "app.cgi"), one_line_script("fastcgi_app:app"))
        harness.write_script(os.path.join(srv, "app.fcgi"), one_line_script("fastcgi_app:app"))
        harness.write_script(os.path.join(fw, ".htaccess"), htaccess, mode=0o644)
        # The docs' .htaccess without its CGIPassAuth line.
        noauth = os.path.join(docroot, "noauth")
        os.makedirs(noauth)
        shutil.copy(os.path.join(HERE, "fastcgi_app.py"), noauth)
        assert "CGIPassAuth On\n" in htaccess
        harness.write_script(
            os.path.join(noauth, ".htaccess"), htaccess.replace("CGIPassAuth On\n", ""), mode=0o644
        )
        harness.write_script(os.path.join(noauth, "app.fcgi"), one_line_script("fastcgi_app:app"))
        for name in ("flask_app.py", "django_app.py", "django_site.py"):
            shutil.copy(os.path.join(APPS, name), fw)
        harness.write_script(os.path.join(fw, "flask.fcgi"), one_line_script("flask_app:app"))
        harness.write_script(
            os.path.join(fw, "django.fcgi"), one_line_script("django_app:application")
        )
        harness.make_world_readable(top)
        yield {
            "top": top,
            "lib": lib,
            "docroot": docroot,
            "fcgi": fcgi,
            "fw": fw,
            "cgi": cgi,
            "srv": srv,
            "ipc": ipc,
        }
    finally:
        shutil.rmtree(top, ignore_errors=True)


def fcgid_apache(site, extra="", module="cgid"):
    """An Apache (event MPM, mod_cgid for /cgi-bin/) with mod_fcgid and the
    .htaccess sites; ``extra`` is appended to its configuration."""
    # Each server its own socket folder and process table (mod_fcgid's sockets are made by www-data).
    ipc = tempfile.mkdtemp(prefix="ipc-", dir=site["ipc"])
    os.chmod(ipc, 0o755)
    if os.geteuid() == 0:
        import pwd

        www = pwd.getpwnam("www-data")
        os.chown(ipc, www.pw_uid, www.pw_gid)
    conf = FCGID_CONF.format(
        modules=harness.MODULES_DIR, ipc=ipc, lib=site["lib"], docroot=site["docroot"]
    )
    return harness.Apache(
        site["cgi"],
        module=module,
        docroot=site["docroot"],
        env={"PYTHONPATH": site["lib"]},
        extra_conf=conf + extra,
        start_timeout=30,
    )


@contextlib.contextmanager
def running(server):
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def fcgid(site):
    """Apache with mod_fcgid: the docs' .htaccess sites and its
    server-configuration block (which raises FcgidMaxRequestLen to 1 GiB)."""
    with running(fcgid_apache(site, docs_server_conf(site["srv"]))) as server:
        yield server


@contextlib.contextmanager
def fcgi_backend(argv, cwd, sock, timeout=30):
    """``wsgicgi fcgi ...`` (argv as the docs write it) until it listens on ``sock``."""
    assert argv[0] == "wsgicgi"
    log_path = os.path.join(os.path.dirname(sock), "backend.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wsgicgi", *argv[1:]],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def read_log():
        with open(log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    proc.read_log = read_log
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError("wsgicgi fcgi exited (%s):\n%s" % (proc.returncode, read_log()))
            try:
                with socket.socket(socket.AF_UNIX) as probe:
                    probe.connect(sock)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        "wsgicgi fcgi not listening on %s after %ds:\n%s"
                        % (sock, timeout, read_log())
                    ) from None
                time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


@pytest.fixture(scope="module")
def proxy(site):
    """Apache with mod_proxy_fcgi and the docs' ProxyPass line, in front of the
    the docs' ``wsgicgi fcgi ... --bind unix:...`` command (APP: fastcgi_app:app)."""
    run = os.path.join(site["top"], "run")
    os.mkdir(run)
    os.chmod(run, 0o755)
    sock = os.path.join(run, "app.sock")
    argv = [("fastcgi_app:app" if a == "myapp:app" else a) for a in docs_proxy_command(sock)]
    conf = PROXY_CONF.format(modules=harness.MODULES_DIR) + docs_proxy_conf(sock)
    server = harness.Apache(
        site["cgi"], module="cgid", docroot=site["docroot"], extra_conf=conf, start_timeout=30
    )
    with fcgi_backend(argv, site["fcgi"], sock) as backend, running(server):
        server.backend = backend
        server.sock = sock
        yield server


@pytest.fixture(scope="module")
def fcgid_default(site):
    """Apache with mod_fcgid and the .htaccess sites only: mod_fcgid's defaults."""
    with running(fcgid_apache(site)) as server:
        yield server


# -- mod_fcgid, the docs' .htaccess: the one-line script kept warm ---------------------


def test_htaccess_get(fcgid):
    env = env_of(fcgid, "/fcgi/app.fcgi/env/x?q=1&r=%20s")
    assert env["REQUEST_METHOD"] == "GET"
    assert (env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]) == (
        "/fcgi/app.fcgi",
        "/env/x",
        "q=1&r=%20s",
    )
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert "mod_fcgid/" in env["SERVER_SOFTWARE"]
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("127.0.0.1", str(fcgid.port))
    assert env["fd0"] == "socket"
    # FastCGI, not CGI: nothing of the request in the process environment.
    assert "REQUEST_METHOD" not in env["os.environ"] and "SCRIPT_NAME" not in env["os.environ"]
    assert (env["wsgi.multithread"], env["wsgi.multiprocess"], env["wsgi.run_once"]) == (
        False,
        True,
        False,
    )
    assert env["wsgi.input_terminated"] is True
    assert env["wsgi.url_scheme"] == "http"


def test_htaccess_no_path_info(fcgid):
    env = env_of(fcgid, "/fcgi/app.fcgi")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/fcgi/app.fcgi", "")


def test_process_is_reused(fcgid):
    pids = {pid_of(fcgid, "/fcgi/app.fcgi/pid") for _ in range(10)}
    pids.add(env_of(fcgid, "/fcgi/app.fcgi/env")["pid"])
    assert len(pids) == 1, pids
    (pid,) = pids
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = f.read().split(b"\0")
    # The one-line script, started by mod_fcgid: python3 -m wsgicgi APP SCRIPT.
    assert b"wsgicgi" in argv and b"fastcgi_app:app" in argv, argv
    assert argv[-2].endswith(b"/fcgi/app.fcgi"), argv


def test_head(fcgid):
    head, rest = raw_head(fcgid.port, "/fcgi/app.fcgi/env")
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert b"\r\nX-Probe: fastcgi" in head and b"application/json" in head
    assert rest == b""


def test_utf8_path_info_exact(fcgid):
    env = env_of(fcgid, "/fcgi/app.fcgi/env/caf%C3%A9/%E2%82%AC%20x")
    assert env["PATH_INFO"] == latin1("/env/café/€ x")
    env = env_of(fcgid, "/fcgi/app.fcgi/env/%FF%FE/x%80y%C3")
    assert env["PATH_INFO"] == "/env/\xff\xfe/x\x80y\xc3"


def test_authorization_with_cgipassauth(fcgid):
    # The docs' .htaccess has CGIPassAuth On.
    env = env_of(fcgid, "/fcgi/app.fcgi/env", headers={"Authorization": AUTH})
    assert env["HTTP_AUTHORIZATION"] == AUTH


def test_authorization_withheld_without_cgipassauth(fcgid):
    env = env_of(fcgid, "/noauth/app.fcgi/env", headers={"Authorization": AUTH})
    assert env["wsgi.run_once"] is False
    assert "HTTP_AUTHORIZATION" not in env


def test_post_form(fcgid):
    body = "name=Ann+Lee&city=K%C3%B6ln".encode("ascii")
    env = env_of(
        fcgid,
        "/fcgi/app.fcgi/env/form",
        method="POST",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (env["REQUEST_METHOD"], env["CONTENT_TYPE"], env["CONTENT_LENGTH"]) == (
        "POST",
        "application/x-www-form-urlencoded",
        str(len(body)),
    )
    assert env["body"] == body.decode("latin-1")


def test_crash_is_500_and_the_process_goes_on(fcgid):
    pid = pid_of(fcgid, "/fcgi/app.fcgi/pid")
    status, _, body = request(fcgid.port, "GET", "/fcgi/app.fcgi/crash")
    assert status == 500
    assert b"marker-5c1e" not in body and b"Traceback" not in body and b"fastcgi_app" not in body
    # The traceback travels as FCGI_STDERR records into Apache's error log.
    log = wait_for_log(fcgid, "marker-5c1e", "Traceback")
    assert "mod_fcgid: stderr: RuntimeError: fastcgi crash marker-5c1e" in log, log[-3000:]
    assert pid_of(fcgid, "/fcgi/app.fcgi/pid") == pid
    assert env_of(fcgid, "/fcgi/app.fcgi/env/after")["PATH_INFO"] == "/env/after"


def test_touch_does_not_restart_but_a_new_file_does(fcgid):
    # mod_fcgid 2.3 keys its processes by the script's device and inode and
    # never looks at its mtime: `touch app.fcgi` changes nothing, a new file
    # (the docs: cp app.fcgi app.tmp && mv app.tmp app.fcgi) gets a fresh process.
    assert "cp app.fcgi app.tmp && mv app.tmp app.fcgi" in page_text(PAGE)
    script = os.path.join(fcgid.docroot, "fcgi", "app.fcgi")
    old = pid_of(fcgid, "/fcgi/app.fcgi/pid")
    later = time.time() + 5
    os.utime(script, (later, later))
    time.sleep(2)
    assert {pid_of(fcgid, "/fcgi/app.fcgi/pid") for _ in range(3)} == {old}
    with open(script) as f:
        text = f.read()
    harness.write_script(script + ".new", text)
    os.rename(script + ".new", script)
    new = pid_of(fcgid, "/fcgi/app.fcgi/pid")
    assert new != old, fcgid.error_log()[-2000:]
    assert pid_of(fcgid, "/fcgi/app.fcgi/pid") == new
    assert env_of(fcgid, "/fcgi/app.fcgi/env")["pid"] == new


def test_wsgi_errors_reach_the_error_log(fcgid):
    status, _, body = request(fcgid.port, "GET", "/fcgi/app.fcgi/log")
    assert (status, body) == (200, b"logged")
    log = wait_for_log(fcgid, "marker-a9d2")
    assert "fastcgi wsgi.errors marker-a9d2" in log, log[-3000:]


def test_upload_20mb(fcgid):
    # FcgidMaxRequestLen is raised by the docs' server-configuration block.
    body = os.urandom(MB20)
    pid = pid_of(fcgid, "/fcgi/app.fcgi/pid")
    status, _, data = request(fcgid.port, "POST", "/fcgi/app.fcgi/hash", body=body)
    assert status == 200, (data[:500], fcgid.error_log()[-2000:])
    assert json.loads(data) == {
        "length": MB20,
        "sha256": hashlib.sha256(body).hexdigest(),
        "pid": pid,
    }
    status, _, data = request(fcgid.port, "POST", "/fcgi/app.fcgi/echo", body=body)
    assert status == 200
    assert len(data) == MB20 and data == body


def test_download_1gib_streams(fcgid):
    pid = pid_of(fcgid, "/fcgi/app.fcgi/pid")
    conn = http.client.HTTPConnection("127.0.0.1", fcgid.port, timeout=120)
    try:
        conn.request("GET", "/fcgi/app.fcgi/download?n=%d" % (GIB + 3))
        resp = conn.getresponse()
        assert resp.status == 200
        got = 0
        digest = hashlib.sha256()
        while True:
            data = resp.read(1 << 20)
            if not data:
                break
            got += len(data)
            digest.update(data)
    finally:
        conn.close()
    assert got == GIB + 3
    expected = hashlib.sha256()
    for piece in fastcgi_app.pattern_chunks(GIB + 3):
        expected.update(piece)
    assert digest.hexdigest() == expected.hexdigest()
    # The same process served it, and its memory never held the body.
    assert pid_of(fcgid, "/fcgi/app.fcgi/pid") == pid
    with open("/proc/%d/status" % pid) as f:
        hwm_kb = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1))
    assert hwm_kb < 100 * 1024, "peak RSS %d kB" % hwm_kb


def concurrent_pids(server, path, clients=8, each=5):
    """``clients`` threads, ``each`` requests apiece: (statuses, set of pids)."""
    import threading

    statuses, pids, lock = [], set(), threading.Lock()

    def client():
        for _ in range(each):
            status, _, body = request(server.port, "GET", path)
            with lock:
                statuses.append(status)
                if status == 200:
                    pids.add(int(body))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return statuses, pids


def test_concurrent_clients_within_max_processes(fcgid):
    # The docs' server block sets FcgidMaxProcessesPerClass 2: eight clients
    # at once are all served, by at most two processes.
    statuses, pids = concurrent_pids(fcgid, "/fcgi/app.fcgi/pid")
    assert statuses == [200] * 40, (statuses, fcgid.error_log()[-2000:])
    assert 1 <= len(pids) <= 2, pids


# -- mod_fcgid's default FcgidMaxRequestLen ------------------------------------------------


def test_default_max_request_len_answers_bigger_uploads_with_500(fcgid_default):
    limit = FCGID_DEFAULT_MAX_REQUEST_LEN
    body = os.urandom(limit)
    status, _, data = request(fcgid_default.port, "POST", "/fcgi/app.fcgi/hash", body=body)
    assert status == 200, (data[:300], fcgid_default.error_log()[-2000:])
    assert json.loads(data)["length"] == limit
    for size in (limit + 1, 1 << 20):
        status, _, data = request(
            fcgid_default.port,
            "POST",
            "/fcgi/app.fcgi/hash",
            body=os.urandom(size),
            headers={"Connection": "close"},
        )
        assert status == 500, (size, data[:300])
    log = wait_for_log(fcgid_default, "exceeds MaxRequestLen")
    assert "HTTP request length 131073 (so far) exceeds MaxRequestLen (131072)" in log, log[-2000:]
    # The server configuration raises it: the docs' block does (see test_upload_20mb).
    assert re.search(
        r"^FcgidMaxRequestLen\s+\d+",
        doc_block(PAGE, "mod_fcgid in the server configuration", "apache"),
        re.M,
    )


# -- the docs' "mod_fcgid in the server configuration" ----------------------------------


def test_server_config_block(fcgid):
    env = env_of(fcgid, "/app/env/caf%C3%A9?x=1", headers={"Authorization": AUTH})
    assert (env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]) == (
        "/app",
        latin1("/env/café"),
        "x=1",
    )
    assert env["wsgi.run_once"] is False and env["fd0"] == "socket"
    assert env["HTTP_AUTHORIZATION"] == AUTH  # CGIPassAuth On in its <Directory>
    pids = {pid_of(fcgid, "/app/pid") for _ in range(5)}
    assert pids == {env["pid"]}
    head, rest = raw_head(fcgid.port, "/app/env")
    assert head.startswith(b"HTTP/1.1 200 ") and rest == b""


def test_server_config_crash_then_served(fcgid):
    pid = pid_of(fcgid, "/app/pid")
    assert request(fcgid.port, "GET", "/app/crash")[0] == 500
    assert pid_of(fcgid, "/app/pid") == pid


# -- the detection trap: the same one-line script as CGI -----------------------------------


def test_same_script_under_mod_cgid_is_cgi(fcgid):
    # mod_cgid hands the script a connected Unix socket as stdin: still CGI.
    first = env_of(fcgid, "/cgi-bin/app.cgi/env/x?y=1", method="POST", body=b"abc")
    assert first["fd0"] == "socket"
    assert (first["SCRIPT_NAME"], first["PATH_INFO"], first["QUERY_STRING"]) == (
        "/cgi-bin/app.cgi",
        "/env/x",
        "y=1",
    )
    assert first["wsgi.run_once"] is True
    assert first["os.environ"]["REQUEST_METHOD"] == "POST"  # the request in the environment: CGI
    assert first["body"] == "abc"
    second = env_of(fcgid, "/cgi-bin/app.cgi/env")
    assert second["pid"] != first["pid"]  # a process per request


def test_same_script_under_mod_cgi_is_cgi(site):
    with running(
        harness.Apache(site["cgi"], module="cgi", env={"PYTHONPATH": site["lib"]}, start_timeout=30)
    ) as server:
        first = env_of(server, "/cgi-bin/app.cgi/env/caf%C3%A9", method="POST", body=b"xyz")
        assert first["fd0"] == "pipe"
        assert (first["SCRIPT_NAME"], first["PATH_INFO"]) == (
            "/cgi-bin/app.cgi",
            latin1("/env/café"),
        )
        assert first["wsgi.run_once"] is True and first["body"] == "xyz"
        assert env_of(server, "/cgi-bin/app.cgi/env")["pid"] != first["pid"]


# -- mod_fcgid stopping processes ----------------------------------------------------------


def test_idle_process_gets_sigterm_and_stops(site):
    # With FcgidMinProcessesPerClass 0 (the default 3 keeps up to 3 idle
    # processes forever) an idle process gets SIGTERM, stops by itself, and
    # the next request starts a new one.
    conf = "FcgidIdleTimeout 1\nFcgidIdleScanInterval 1\nFcgidMinProcessesPerClass 0\n"
    with running(fcgid_apache(site, conf)) as server:
        first = pid_of(server, "/fcgi/app.fcgi/pid")
        log = wait_for_log(server, "FastCGI process %d stopping: signal 15" % first, timeout=60)
        assert "FastCGI process %d stopping: signal 15" % first in log, log[-2000:]
        deadline = time.monotonic() + 30
        while os.path.exists("/proc/%d" % first) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not os.path.exists("/proc/%d" % first)
        second = pid_of(server, "/fcgi/app.fcgi/pid")
        assert second != first


# -- Apache's stop -------------------------------------------------------------------------


def test_apache_stop_leaves_no_process(site):
    # Its own folder, so that only this server's scripts match.
    folder = os.path.join(site["docroot"], "stop")
    os.mkdir(folder)
    shutil.copy(os.path.join(site["fcgi"], "fastcgi_app.py"), folder)
    shutil.copy(os.path.join(site["fcgi"], ".htaccess"), folder)
    harness.write_script(os.path.join(folder, "app.fcgi"), one_line_script("fastcgi_app:app"))
    harness.make_world_readable(folder)
    server = fcgid_apache(site)
    with running(server):
        first = pid_of(server, "/stop/app.fcgi/pid")
        # A download held open keeps that process busy: mod_fcgid starts a second.
        busy = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        try:
            busy.request("GET", "/stop/app.fcgi/download?n=%d" % GIB)
            resp = busy.getresponse()
            assert resp.status == 200 and resp.read(65536)
            second = pid_of(server, "/stop/app.fcgi/pid")
        finally:
            busy.close()
        assert second != first
        running_now = processes_running(folder + "/app.fcgi")
        assert {first, second} <= set(running_now), (first, second, running_now)
        # apache2 -k stop: SIGTERM to the parent, which stops its children.
        conf = os.path.join(server.root, "httpd.conf")
        subprocess.run(
            [harness.APACHE_BIN, "-k", "stop", "-f", conf],
            env=server._server_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=60,
            check=True,
        )
        server.proc.wait(60)
        deadline = time.monotonic() + 20
        while processes_running(folder + "/app.fcgi") and time.monotonic() < deadline:
            time.sleep(0.2)
        left = processes_running(folder + "/app.fcgi")
        log = server.error_log()
        assert not left, (left, log[-3000:])
        # Each was asked with SIGTERM and stopped by itself.
        for pid in (first, second):
            assert "FastCGI process %d stopping: signal 15" % pid in log, log[-3000:]


# -- mod_proxy_fcgi in front of `wsgicgi fcgi --bind unix:PATH` (the docs' lines) -----------


def test_proxy_socket_mode_and_group(proxy):
    import grp

    info = os.stat(proxy.sock)
    assert oct(info.st_mode & 0o777) == oct(0o660)
    assert grp.getgrgid(info.st_gid).gr_name == "www-data"


def test_proxy_get_script_name_and_path_info(proxy):
    # The app is mounted at /app/: SCRIPT_NAME /app, the rest in PATH_INFO.
    env = env_of(proxy, "/app/env/x?q=1&r=%20s", headers={"Authorization": AUTH})
    assert (env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]) == (
        "/app",
        "/env/x",
        "q=1&r=%20s",
    )
    assert env["REQUEST_URI"] == "/app/env/x?q=1&r=%20s"
    assert env["REQUEST_METHOD"] == "GET" and env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("127.0.0.1", str(proxy.port))
    assert env["HTTP_AUTHORIZATION"] == AUTH  # CGIPassAuth On in the docs' <Location>
    assert (env["wsgi.multithread"], env["wsgi.run_once"]) == (False, False)
    assert env["pid"] == proxy.backend.pid
    assert env_of(proxy, "/app/")["PATH_INFO"] == "/"
    assert env_of(proxy, "/app/env/caf%C3%A9/%E2%82%AC%20x")["PATH_INFO"] == latin1("/env/café/€ x")
    assert env_of(proxy, "/app/env/%FF%FE/x%80y")["PATH_INFO"] == "/env/\xff\xfe/x\x80y"


def test_proxy_post(proxy):
    body = "name=Ann+Lee&city=K%C3%B6ln".encode("ascii")
    env = env_of(
        proxy,
        "/app/env/form",
        method="POST",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (env["REQUEST_METHOD"], env["CONTENT_LENGTH"], env["body"]) == (
        "POST",
        str(len(body)),
        body.decode("latin-1"),
    )
    big = os.urandom(MB20)
    status, _, data = request(proxy.port, "POST", "/app/hash", body=big)
    assert status == 200, (data[:300], proxy.error_log()[-2000:])
    assert json.loads(data) == {
        "length": MB20,
        "sha256": hashlib.sha256(big).hexdigest(),
        "pid": proxy.backend.pid,
    }


def test_proxy_concurrent_clients(proxy):
    # mod_proxy_fcgi does not keep backend connections (no FCGI_KEEP_CONN unless
    # enablereuse=on), so one single-threaded process serves them one by one.
    statuses, pids = concurrent_pids(proxy, "/app/pid")
    assert statuses == [200] * 40, (statuses, proxy.error_log()[-2000:])
    assert pids == {proxy.backend.pid}


def test_proxy_head(proxy):
    head, rest = raw_head(proxy.port, "/app/env")
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert b"\r\nX-Probe: fastcgi" in head and rest == b""


def test_proxy_download_and_crash(proxy):
    status, _, data = request(proxy.port, "GET", "/app/download?n=%d" % (MB20 + 5))
    assert status == 200 and len(data) == MB20 + 5
    assert data == b"".join(fastcgi_app.pattern_chunks(MB20 + 5))
    status, _, body = request(proxy.port, "GET", "/app/crash")
    assert status == 500 and b"marker-5c1e" not in body
    # FCGI_STDERR: mod_proxy_fcgi writes it to the error log ("AH01071: Got error").
    log = wait_for_log(proxy, "marker-5c1e")
    assert "RuntimeError: fastcgi crash marker-5c1e" in log, log[-3000:]
    assert pid_of(proxy, "/app/pid") == proxy.backend.pid
    assert proxy.backend.poll() is None


def test_proxy_backend_stops_on_sigterm(site):
    # The docs' command line again, on its own socket: SIGTERM ends it with
    # status 0 and removes the socket.
    sock = os.path.join(site["top"], "run", "stop.sock")
    argv = [("fastcgi_app:app" if a == "myapp:app" else a) for a in docs_proxy_command(sock)]
    with fcgi_backend(argv, site["fcgi"], sock) as backend:
        # One request first: the socket listens before the app is loaded and
        # the signal handlers are in place.
        sys.path.insert(0, os.path.dirname(HERE))
        import fcgi_client

        result = fcgi_client.request(sock, {"PATH_INFO": "/pid"})
        assert result.status == 200 and int(result.body) == backend.pid
        backend.send_signal(signal.SIGTERM)
        assert backend.wait(30) == 0, backend.read_log()
        assert not os.path.exists(sock)
        assert "stopping: signal 15" in backend.read_log()


# -- Flask and Django through FastCGI (mod_fcgid, the docs' .htaccess) ---------------------

FRAMEWORKS = {"flask": "Flask", "django": "Django"}


def cookie_pairs(headers_list):
    """name=value of every Set-Cookie header, as a Cookie request header."""
    return "; ".join(
        v.split(";", 1)[0].strip() for k, v in headers_list if k.lower() == "set-cookie"
    )


def fw_request(server, method, path, body=None, headers=None):
    """(status, list of headers, body) for a framework request."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_framework_page_and_links(fcgid, framework):
    script = "/fw/%s.fcgi" % framework
    status, headers, body = fw_request(fcgid, "GET", script + "/")
    assert status == 200, (body[:500], fcgid.error_log()[-3000:])
    assert {k.lower(): v for k, v in headers}["content-type"].startswith("text/html")
    text = body.decode("utf-8")
    assert "Hello, stranger (%s)" % FRAMEWORKS[framework] in text
    assert 'href="%s/form"' % script in text
    # url_for / reverse under SCRIPT_NAME.
    status, _, body = fw_request(fcgid, "GET", script + "/links")
    assert status == 200, body[:500]
    links = json.loads(body)
    assert links["form"] == script + "/form"
    assert links["hello"] == script + "/hello/Ann" + ("%20Lee" if framework == "flask" else "")
    assert links["external"] == "http://127.0.0.1:%d%s/" % (fcgid.port, script)
    assert fw_request(fcgid, "GET", script + "/no/such/page")[0] == 404
    status, _, body = fw_request(fcgid, "GET", script + "/hello/Zo%C3%AB")
    assert status == 200 and body.decode("utf-8").startswith("Hello, Zoë!")


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_framework_post_form(fcgid, framework):
    script = "/fw/%s.fcgi" % framework
    fields, cookie = {"name": "Ann"}, ""
    if framework == "django":  # the CSRF middleware wants its cookie and token
        status, headers, body = fw_request(fcgid, "GET", script + "/form")
        assert status == 200
        cookie = cookie_pairs(headers)
        assert cookie.startswith("csrftoken=")
        fields["csrfmiddlewaretoken"] = re.search(
            r'name="csrfmiddlewaretoken" value="([^"]+)"', body.decode()
        ).group(1)
    status, headers, body = fw_request(
        fcgid,
        "POST",
        script + "/form",
        body=urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    assert status == (302 if framework == "django" else 303), (
        status,
        body[:500],
        fcgid.error_log()[-3000:],
    )
    location = {k.lower(): v for k, v in headers}["location"]
    assert urlsplit(location).path == script + "/hello/Ann"
    cookie = cookie_pairs(headers)
    status, _, body = fw_request(fcgid, "GET", script + "/hello/Ann", headers={"Cookie": cookie})
    assert (status, body) == (200, b"Hello, Ann! cookie=Ann")


def test_framework_processes_are_kept_warm(fcgid):
    # Each script is its own mod_fcgid class, its processes started once and reused.
    for framework in FRAMEWORKS:
        assert fw_request(fcgid, "GET", "/fw/%s.fcgi/" % framework)[0] == 200

    def scripts(framework):
        return set(processes_running(os.path.join(fcgid.docroot, "fw", "%s.fcgi" % framework)))

    before = {f: scripts(f) for f in FRAMEWORKS}
    for _ in range(5):
        for framework in FRAMEWORKS:
            assert fw_request(fcgid, "GET", "/fw/%s.fcgi/hello/x" % framework)[0] == 200
    after = {f: scripts(f) for f in FRAMEWORKS}
    assert before == after and all(before.values()), (before, after)


def test_flask_through_mod_proxy_fcgi(site):
    # The docs' mod_proxy_fcgi lines with a Flask app: url_for under /app.
    run = os.path.join(site["top"], "run")
    os.makedirs(run, exist_ok=True)
    sock = os.path.join(run, "flask.sock")
    argv = [("flask_app:app" if a == "myapp:app" else a) for a in docs_proxy_command(sock)]
    conf = PROXY_CONF.format(modules=harness.MODULES_DIR) + docs_proxy_conf(sock)
    server = harness.Apache(
        site["cgi"], module="cgid", docroot=site["docroot"], extra_conf=conf, start_timeout=30
    )
    with fcgi_backend(argv, site["fw"], sock), running(server):
        status, _, body = fw_request(server, "GET", "/app/")
        assert status == 200, (body[:500], server.error_log()[-2000:])
        assert "Hello, stranger (Flask)" in body.decode() and 'href="/app/form"' in body.decode()
        status, _, body = fw_request(server, "GET", "/app/links")
        links = json.loads(body)
        assert (links["form"], links["script_root"], links["path"]) == (
            "/app/form",
            "/app",
            "/links",
        )
        assert links["external"] == "http://127.0.0.1:%d/app/" % server.port
        status, headers, _ = fw_request(
            server,
            "POST",
            "/app/form",
            body=b"name=Ann",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 303
        assert urlsplit({k.lower(): v for k, v in headers}["location"]).path == "/app/hello/Ann"
        status, _, body = fw_request(server, "GET", "/app/hello/Zo%C3%AB")
        assert status == 200 and body.decode("utf-8").startswith("Hello, Zoë!")
