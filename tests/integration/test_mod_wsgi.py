"""CGIDirectory, unchanged, under Apache's mod_wsgi (Debian's
libapache2-mod-wsgi-py3, on /usr/bin/python3), in embedded mode (the app runs
in the threads of mpm_event's own processes) and in daemon mode
(WSGIDaemonProcess processes=2 threads=4), spoken to over HTTP on 127.0.0.1.
"""

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import threading
import time

import pytest
from wsgi_servers import download_watching_rss, is_watchdog, open_in, request, upload_echoed

from scripts.harness import apache as harness

pytestmark = pytest.mark.integration

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(os.path.dirname(HERE), "cgi_scripts")
MOD_WSGI = os.path.join(harness.MODULES_DIR, "mod_wsgi.so")
TIMEOUT = 3

# Written into the cgi-bin copy: the signal state the script starts with.
# Perl, not sh: dash clears its own mask at start and blocks every signal
# around its forks.
SIGSTATE = """#!/usr/bin/perl
open(my $status, "<", "/proc/self/status") or die;
print "Content-Type: text/plain\\n\\n", grep { /^Sig(Blk|Ign):/ } <$status>;
"""

MODES = {
    "embedded": "",
    "daemon": "WSGIDaemonProcess wsgicgi processes=2 threads=4 display-name=%{GROUP}\nWSGIProcessGroup wsgicgi\n",
}

CONF = """\
LoadModule wsgi_module "{module}"
{mode}
# Without it mod_wsgi answers a chunked request body with 411 itself.
WSGIChunkedRequest On
WSGIScriptAlias /cgi "{site}/app.wsgi"
<Directory "{site}">
    Require all granted
</Directory>
"""


@pytest.fixture(scope="module")
def mod_wsgi_available(apache_available):
    """mod_wsgi must be installed (scripts/test does it); in CI a missing one fails."""
    if not os.path.exists(MOD_WSGI):
        message = "%s not installed (apt-get install libapache2-mod-wsgi-py3)" % MOD_WSGI
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


class Site:
    """A running httpd with mod_wsgi serving CGIDirectory at /cgi."""

    def __init__(self, top, httpd, mode):
        self.top = top
        self.cgi = os.path.join(top, "cgi-bin")
        self.pidfile = os.path.join(top, "run", "slow.pid")
        self.tmpdir = os.path.join(top, "tmp")
        self.httpd = httpd
        self.mode = mode

    @property
    def port(self):
        return self.httpd.port

    def log(self):
        return self.httpd.error_log()

    def tree(self):
        """httpd's pid and all its descendants' (workers, daemons, scripts)."""
        pids, todo = [], [self.httpd.proc.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            try:
                for task in os.listdir("/proc/%d/task" % pid):
                    with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                        todo.extend(int(p) for p in f.read().split())
            except OSError:
                pass
        return pids

    def scripts_running(self):
        """Processes anywhere whose working directory is in the cgi-bin copy:
        scripts and whatever they left behind (zombies have none)."""
        found = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    cwd = os.readlink("/proc/%s/cwd" % name)
                except OSError:
                    continue
                if cwd == self.cgi or cwd.startswith(self.cgi + "/"):
                    found.append(int(name))
        return found

    def strays(self):
        """Descendants of httpd that are not httpd: live scripts or zombies
        (wsgicgi's watchdog, one per process that ran scripts, is expected)."""
        out = []
        for pid in self.tree():
            info = _stat(pid)
            if info and (info[0] != "apache2" or info[1] == "Z") and not is_watchdog(pid):
                out.append((pid, *info))
        return out


class _Apache(harness.Apache):
    """httpd with TMPDIR in its own environment (where held-back output
    spills, issue 11); the harness's httpd gets PATH and LANG only."""

    tmpdir = None

    def _server_env(self):
        env = super()._server_env()
        if self.tmpdir:
            env["TMPDIR"] = self.tmpdir
        return env


def _stat(pid):
    """``(comm, state)`` of a process, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    return comm, text[text.rindex(")") + 2]


def _running(pid):
    info = _stat(pid)
    return info is not None and info[1] not in "ZX"


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@contextlib.contextmanager
def serving(mode, mode_conf, timeout=TIMEOUT):
    """A fresh site folder and an httpd with mod_wsgi serving it at /cgi."""
    top = harness.public_tempdir("wsgicgi-modwsgi-")
    httpd = None
    try:
        lib = harness.stage_wsgicgi(os.path.join(top, "lib"))
        shutil.copytree(SCRIPTS, os.path.join(top, "cgi-bin"))
        harness.write_script(os.path.join(top, "cgi-bin", "sigstate.pl"), SIGSTATE)
        os.mkdir(os.path.join(top, "unused"))  # the harness's /cgi-bin/, not used here
        os.mkdir(os.path.join(top, "run"))
        shutil.copy(os.path.join(HERE, "mod_wsgi_app.wsgi"), os.path.join(top, "app.wsgi"))
        config = {
            "lib": lib,
            "cgi": os.path.join(top, "cgi-bin"),
            "timeout": timeout,
            "env": {"PIDFILE": os.path.join(top, "run", "slow.pid")},
        }
        with open(os.path.join(top, "site.json"), "w") as f:
            json.dump(config, f)
        harness.make_world_readable(top)
        os.chmod(os.path.join(top, "run"), 0o1777)  # slow.sh (www-data) writes its pid here
        os.mkdir(os.path.join(top, "tmp"))
        os.chmod(os.path.join(top, "tmp"), 0o1777)  # httpd's TMPDIR; its workers are www-data
        httpd = _Apache(
            os.path.join(top, "unused"),
            module="cgid",
            extra_conf=CONF.format(module=MOD_WSGI, mode=mode_conf, site=top),
        )
        httpd.tmpdir = os.path.join(top, "tmp")
        httpd.start()
        yield Site(top, httpd, mode)
    finally:
        if httpd is not None:
            httpd.cleanup()
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module", params=sorted(MODES))
def site(request, mod_wsgi_available):
    with serving(request.param, MODES[request.param]) as site:
        yield site


call = request  # (site, method, path, ...): sites have a port


def test_get_with_path_info_and_query(site):
    status, headers, body = call(site, "GET", "/cgi/env.py/a%20b/c?x=1&y=%20")
    assert status == 200 and headers["Content-Type"] == "application/json"
    env = json.loads(body)
    assert env["SCRIPT_NAME"] == "/cgi/env.py"
    assert env["PATH_INFO"] == "/a b/c"
    assert env["QUERY_STRING"] == "x=1&y=%20"
    assert env["REQUEST_METHOD"] == "GET" and env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["SCRIPT_FILENAME"] == os.path.join(site.cgi, "env.py")
    assert env["SERVER_SOFTWARE"].startswith("Apache/") and "mod_wsgi/" in env["SERVER_SOFTWARE"]
    assert env["_cwd"] == site.cgi
    # Only its three pipes (and the fd listing /proc/self/fd): no socket or
    # log file of httpd's leaks into the script.
    assert env["_fds"] == [0, 1, 2, 3]
    assert (
        call(site, "GET", "/cgi/sub/deep.sh/x?q")[2]
        == b"SCRIPT_NAME=/cgi/sub/deep.sh PATH_INFO=/x\n"
    )


def test_several_mb_post_echoed_intact(site):
    data = os.urandom(20 * 1024 * 1024)
    headers = {"Content-Type": "application/octet-stream"}
    status, headers, body = call(site, "POST", "/cgi/echo.pl", body=data, headers=headers)
    assert status == 200 and headers["X-Method"] == "POST"
    assert len(body) == len(data)
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()


def test_chunked_post_gets_a_content_length(site):
    chunks = [b"part-%d;" % i * 1000 for i in range(40)]
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=60)
    try:
        connection.request("POST", "/cgi/echo.pl", body=iter(chunks), encode_chunked=True)
        response = connection.getresponse()
        # echo.pl reads exactly CONTENT_LENGTH bytes: all of it came back.
        assert response.status == 200 and response.read() == b"".join(chunks)
    finally:
        connection.close()


def test_body_the_script_never_reads(site):
    # Feeding the body gets EPIPE: it must neither kill the httpd process
    # (SIGPIPE) nor hold the response.
    workers = sorted(site.tree())
    status, _, body = call(site, "POST", "/cgi/no_read.sh", body=b"x" * (8 * 1024 * 1024))
    assert (status, body) == (200, b"ignored the body\n")
    assert set(workers) <= set(site.tree())


def test_200_mb_download_streams_with_bounded_server_memory(site):
    call(site, "GET", "/cgi/hello.sh")  # the app is loaded before the baseline
    size = 200 * 1024 * 1024

    def httpd_processes():
        return [pid for pid in site.tree() if (_stat(pid) or ("",))[0] == "apache2"]

    status, total, digest, growth = download_watching_rss(
        site.port, "/cgi/big200.sh", httpd_processes
    )
    assert (status, total) == (200, size)
    assert digest == hashlib.sha256(bytes(size)).hexdigest()
    assert growth < 64 * 1024, "httpd processes' RSS grew by %d KiB" % growth


@pytest.mark.parametrize("duplex", [False, True], ids=["half-duplex", "full-duplex"])
def test_20_mb_echoed_while_read_with_bounded_memory_and_no_file_left(site, duplex):
    # Issue 11: cat.sh echoes as it reads; its output is held back (1 MiB in
    # memory, the rest in a temporary file) until the client has sent it all.
    call(site, "GET", "/cgi/hello.sh")  # the app is loaded before the baseline
    size = 20 * 1024 * 1024

    def httpd_processes():
        return [pid for pid in site.tree() if (_stat(pid) or ("",))[0] == "apache2"]

    status, total, same, growth, spilled = upload_echoed(
        site.port, "/cgi/cat.sh", size, httpd_processes, site.tmpdir, duplex
    )
    assert (status, total, same) == (200, size, True)
    assert spilled, "the held output should have gone to a file in TMPDIR"
    assert growth < 16 * 1024, "httpd processes' RSS grew by %d KiB" % growth
    assert _wait_for(
        lambda: not os.listdir(site.tmpdir) and not open_in(site.tree(), site.tmpdir), 10
    ), (
        os.listdir(site.tmpdir),
        open_in(site.tree(), site.tmpdir),
    )


def test_timeout_is_504_and_kills_the_process_group(site):
    if os.path.exists(site.pidfile):
        os.unlink(site.pidfile)
    started = time.monotonic()
    status, _, body = call(site, "GET", "/cgi/slow.sh")
    assert status == 504 and body == b"504 Gateway Timeout\n"
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 10
    assert "no output for %d seconds" % TIMEOUT in site.log()
    with open(site.pidfile) as f:
        grandchild = int(f.read())  # slow.sh's backgrounded `sleep 300`
    assert _wait_for(lambda: not _running(grandchild), 5), "slow.sh's sleep survived"
    assert _wait_for(lambda: not site.scripts_running(), 5), site.scripts_running()


def test_stderr_goes_to_the_error_log(site):
    status, _, body = call(site, "GET", "/cgi/stderr.sh")
    assert (status, body) == (200, b"body\n")

    def logged():
        lines = [line for line in site.log().splitlines() if "[wsgi:error]" in line]
        return [line.split("] ")[-1] for line in lines if "stderr.sh: " in line]

    assert _wait_for(lambda: len(logged()) >= 3, 5), site.log()[-2000:]
    expected = [
        "stderr.sh: first warning",
        "stderr.sh: second warning",
        "stderr.sh: third without newline",
    ]
    assert logged()[-3:] == expected
    # The mode is the one configured: the pid that logged is a daemon
    # process (display-name) or one of mpm_event's own workers.
    line = [line for line in site.log().splitlines() if line.endswith("stderr.sh: first warning")][
        -1
    ]
    pid = int(line.split("[pid ")[1].split(":")[0])
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv0 = f.read().split(b"\0")[0].strip()  # mod_wsgi pads it with spaces
    assert argv0 == (b"(wsgi:wsgicgi)" if site.mode == "daemon" else harness.APACHE_BIN.encode())


def test_exit_status_reaches_the_host(site):
    # A script killed by a signal: waitpid() in the httpd process must see it
    # (were SIGCHLD ignored there, children would be reaped behind our back).
    status, _, body = call(site, "GET", "/cgi/die_midway.sh")
    assert (status, body) == (200, b"partial")
    assert _wait_for(lambda: "die_midway.sh: killed by signal SIGKILL" in site.log(), 5), (
        site.log()[-2000:]
    )


def test_concurrent_clients_each_get_their_own_answer(site):
    results = {}

    def worker(n):
        try:
            if n % 2:
                data = b"%d-" % n * 5000
                status, _, body = call(site, "POST", "/cgi/echo.pl", body=data)
                results[n] = status == 200 and body == data
            else:
                status, _, body = call(site, "GET", "/cgi/env.py/client%d?n=%d" % (n, n))
                env = json.loads(body)
                results[n] = status == 200 and (env["PATH_INFO"], env["QUERY_STRING"]) == (
                    "/client%d" % n,
                    "n=%d" % n,
                )
        except Exception as exc:
            results[n] = repr(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert results == dict.fromkeys(range(16), True)


def test_scripts_start_with_default_signal_state(site):
    # httpd ignores SIGPIPE and SIGXFSZ, and mpm_event's worker threads (where
    # embedded mode runs the app) block most signals; a script must inherit
    # neither: a blocked SIGALRM, SIGTERM or SIGCHLD breaks alarm() timeouts,
    # `kill` and job control in scripts.
    status, _, body = call(site, "GET", "/cgi/sigstate.pl")
    assert status == 200
    fields = dict(line.split(":") for line in body.decode().split("\n") if line)
    assert int(fields["SigBlk"], 16) == 0, "blocked: %s" % fields["SigBlk"]
    perl_own = 1 << (signal.SIGFPE - 1)  # perl ignores SIGFPE itself
    # Signals 32 and 33 are glibc's own (no program can set them, Python's
    # signal.signal fails): pytest-xdist's workers, which start httpd, have 32
    # ignored and every child inherits that.
    glibc_own = (1 << 31) | (1 << 32)
    ignored = int(fields["SigIgn"], 16) & ~perl_own & ~glibc_own
    assert ignored == 0, "ignored: %s" % fields["SigIgn"]


def test_no_zombies_or_leftovers_after_requests(site):
    # A mix of endings: normal, failing, killed by the timeout, and a client
    # that hangs up in the middle of a download.
    for path in (
        "/cgi/hello.sh",
        "/cgi/stderr.sh",
        "/cgi/die_midway.sh",
        "/cgi/nope.sh",
        "/cgi/slow.sh",
    ):
        call(site, "GET", path)
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=60)
    connection.request("GET", "/cgi/big200.sh")
    response = connection.getresponse()
    assert response.status == 200 and len(response.read(1 << 20)) == 1 << 20
    connection.close()
    assert _wait_for(lambda: not site.scripts_running() and not site.strays(), 15), (
        site.scripts_running(),
        site.strays(),
    )
    log = site.log()
    assert "Callback registration for signal" not in log  # WSGIRestrictSignal never hit
    assert "Segmentation fault" not in log and "exit signal" not in log


def test_scripts_end_with_a_daemon_process_that_is_restarted(mod_wsgi_available):
    # A graceful restart (apachectl graceful; also maximum-requests,
    # request-timeout, restart-interval) stops the daemon processes: after
    # shutdown-timeout mod_wsgi exits the process with requests in flight, so
    # no close() runs, and the scripts, in sessions of their own, live on
    # with nobody left to enforce their timeout.
    conf = "WSGIDaemonProcess wsgicgi processes=1 threads=4 shutdown-timeout=1\nWSGIProcessGroup wsgicgi\n"
    with serving("daemon", conf, timeout=60) as site:
        client = threading.Thread(
            target=lambda: _quietly(call, site, "GET", "/cgi/slow.sh", timeout=30)
        )
        client.start()
        left = []
        try:
            assert _wait_for(lambda: os.path.exists(site.pidfile), 10), site.log()[-2000:]
            os.kill(site.httpd.proc.pid, signal.SIGUSR1)  # graceful restart
            client.join(30)
            # The daemon process is gone well before the script's 60 s timeout.
            _wait_for(lambda: not site.scripts_running(), 10)
            left = site.scripts_running()
            assert not left, "scripts left running: %s" % [_stat(pid) for pid in left]
        finally:
            for pid in left or site.scripts_running():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            client.join(30)


def _quietly(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except Exception:
        return None
