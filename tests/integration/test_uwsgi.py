"""CGIDirectory under uWSGI, spoken to over HTTP on 127.0.0.1.

The app is tests/integration/host_app.py's, unchanged, in three uWSGI set-ups
(see uwsgi_servers.py): prefork with default options, master + threads, and
Debian's build with Python threads support really disabled.
"""

import hashlib
import http.client
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid

import pytest
from uwsgi_servers import KINDS, descendants, processes_with_env, serving_uwsgi
from wsgi_servers import download_watching_rss, is_watchdog, open_in, request, upload_echoed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=sorted(KINDS))
def server(request):
    # A private TMPDIR: where held-back output spills (issue 11).
    tmpdir = tempfile.mkdtemp(prefix="wsgicgi-hold-")
    try:
        with serving_uwsgi(
            request.param, "host_app:app", env={"CGI_TIMEOUT": "2", "TMPDIR": tmpdir}
        ) as server:
            server.kind = request.param
            server.tmpdir = tmpdir
            server.workers = descendants(server.pid)  # uWSGI's own processes
            yield server
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def uwsgi_processes(server):
    return [*list(server.workers), server.pid]


def wait_for(predicate, seconds=10):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def cgi_children(server):
    """Processes under the server that are neither uWSGI's own nor
    wsgicgi's watchdog (one per worker that ran scripts)."""
    return {
        pid: state
        for pid, state in descendants(server.pid).items()
        if pid not in server.workers and not is_watchdog(pid)
    }


def test_threads_mode_is_what_the_kind_says(server):
    disabled = "Python threads support is disabled" in server.log()
    assert disabled == (server.kind == "uwsgi-debian-nothreads")


def test_path_info_and_query_reach_the_script(server):
    status, _headers, body = request(server, "GET", "/sub/deep.sh/a%20b/c?x=1")
    assert (status, body) == (200, b"SCRIPT_NAME=/sub/deep.sh PATH_INFO=/a b/c\n")
    status, _, body = request(server, "GET", "/env.py/p%C3%A9?q=1&r=%20")
    env = json.loads(body)
    assert status == 200
    assert (env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]) == (
        "/env.py",
        "/p\xc3\xa9",
        "q=1&r=%20",
    )
    assert env["REQUEST_METHOD"] == "GET" and env["SERVER_PORT"] == str(server.port)


def test_no_uwsgi_descriptor_reaches_the_script(server):
    # uWSGI's sockets are not close-on-exec by default (--close-on-exec is
    # opt-in): only the three pipes may reach a CGI child.
    for _ in range(4):  # both workers, several cores
        env = json.loads(request(server, "GET", "/env.py")[2])
        assert [fd for fd in env["_fds"] if fd > 2] in ([], [3])  # 3: listdir's own handle


def test_5_mb_post_echoed_intact(server):
    data = os.urandom(5 * 1024 * 1024 + 7)
    status, _, body = request(
        server, "POST", "/echo.pl", body=data, headers={"Content-Type": "application/octet-stream"}
    )
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()


def test_chunked_post_is_echoed_or_refused_never_dropped(server):
    # uWSGI's --http-socket does not decode a chunked body: wsgi.input is
    # empty, there is no CONTENT_LENGTH and no wsgi.input_terminated.  The
    # script must then not run as if the body were empty: 411 Length Required.
    chunks = [b"part-%d;" % i * 20 for i in range(20)]
    payload = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
    head = b"POST /echo.pl HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        # One small write, in the socket buffer before any answer: a server
        # that refuses at once cannot make it fail with EPIPE.
        sock.sendall(head + payload)
        response = http.client.HTTPResponse(sock)
        response.begin()
        status, body = response.status, response.read()
    finally:
        sock.close()
    assert (status, body) == (200, b"".join(chunks)) or status == 411, (status, body[:100])


def test_200_mb_download_streams_with_bounded_server_memory(server):
    size = 200 * 1024 * 1024
    status, total, digest, growth = download_watching_rss(
        server.port, "/big200.sh", lambda: [*list(server.workers), server.pid]
    )
    assert (status, total) == (200, size)
    assert digest == hashlib.sha256(bytes(size)).hexdigest()
    assert growth < 64 * 1024, "server RSS grew by %d KiB" % growth


def test_client_gone_mid_download_kills_the_script(server):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        sock.sendall(b"GET /big200.sh HTTP/1.1\r\nHost: x\r\n\r\n")
        received = 0
        while received < 4 << 20:
            received += len(sock.recv(1 << 16))
        assert cgi_children(server), "the script should still be running"
    finally:
        sock.close()
    assert wait_for(lambda: not cgi_children(server)), cgi_children(server)


def test_timeout_is_504_and_kills_the_process_group(server):
    marker = "wsgicgi-uwsgi-%s" % uuid.uuid4().hex
    started = time.monotonic()
    status, _, _body = request(server, "GET", "/slow.sh?" + marker)
    assert status == 504 and time.monotonic() - started < 15
    assert "slow.sh: no output for 2 seconds" in server.log()
    # slow.sh's backgrounded "sleep 300" carries QUERY_STRING in its
    # environment, wherever it may have been reparented.
    assert wait_for(lambda: not processes_with_env("QUERY_STRING=" + marker), 5)
    assert wait_for(lambda: not cgi_children(server), 5), cgi_children(server)


def test_stderr_lines_reach_the_uwsgi_log(server):
    status, _, body = request(server, "GET", "/stderr.sh")
    assert (status, body) == (200, b"body\n")
    assert wait_for(lambda: "stderr.sh: third without newline" in server.log(), 5), server.log()[
        -2000:
    ]
    log = server.log()
    assert "stderr.sh: first warning\n" in log and "stderr.sh: second warning\n" in log


def test_concurrent_clients_get_their_own_answers(server):
    results = {}

    def worker(n):
        data = (b"%02d" % n) * 50000
        try:
            status, _, body = request(server, "POST", "/echo.pl?%d" % n, body=data)
            results[n] = status == 200 and body == data
        except OSError as exc:
            results[n] = exc

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert results == dict.fromkeys(range(16), True)


def test_no_zombie_or_leftover_child_afterwards(server):
    request(server, "GET", "/hello.sh")
    request(server, "POST", "/no_read.sh", body=os.urandom(1 << 20))
    request(server, "GET", "/die_midway.sh")
    assert wait_for(lambda: not cgi_children(server), 5), cgi_children(server)
    now = {pid: state for pid, state in descendants(server.pid).items() if not is_watchdog(pid)}
    assert set(now) == set(server.workers), (
        "uWSGI workers changed (a crash?):\n%s" % server.log()[-3000:]
    )
    assert "Z" not in now.values()


def test_a_slow_uploader_does_not_freeze_the_server(server):
    # Two clients send 10 KB of a 1 MB body, then a few bytes a second, to a
    # script that answers without reading it.  wsgicgi reads wsgi.input only
    # while the request runs (a thread left reading it after the request
    # ended would race the server for the connection), so each trickling
    # client holds its worker until it gives up, as it would with any app
    # that reads its body.  With threads to spare (uwsgi-threads) other
    # requests are answered meanwhile; with one request per process and two
    # processes, the server must answer again as soon as the clients give up.
    stop = threading.Event()
    holds_workers = server.kind != "uwsgi-threads"

    def trickle():
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(
                b"POST /no_read.sh HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
                + b"a" * 10000
            )
            while not stop.wait(1):
                try:
                    sock.sendall(b"a" * 10)
                except OSError:
                    return

    tricklers = [threading.Thread(target=trickle) for _ in range(2)]
    try:
        for thread in tricklers:
            thread.start()
            time.sleep(0.5)
        if holds_workers:
            time.sleep(2)
            stop.set()
            for thread in tricklers:
                thread.join(30)
        started = time.monotonic()
        try:
            answer = request(server, "GET", "/hello.sh", timeout=12)[::2]
        except socket.timeout:
            answer = "no answer within 12 s"
        assert answer == (200, b"hello from sh\n"), answer
        assert time.monotonic() - started < 12
    finally:
        stop.set()
        for thread in tricklers:
            thread.join(30)
    assert wait_for(lambda: not cgi_children(server), 10), cgi_children(server)
    assert wait_for(lambda: not cgi_children(server), 10), cgi_children(server)


# -- issue 11: a client that sends its whole body before it reads --------------


def nothing_left(server):
    return not os.listdir(server.tmpdir) and not open_in(uwsgi_processes(server), server.tmpdir)


@pytest.mark.parametrize("duplex", [False, True], ids=["half-duplex", "full-duplex"])
def test_20_mb_echoed_while_read_with_bounded_memory_and_no_file_left(server, duplex):
    # cat.sh echoes as it reads: its output is held back (1 MiB in memory,
    # the rest in a temporary file) until the client has sent it all.
    size = 20 * 1024 * 1024
    status, total, same, growth, spilled = upload_echoed(
        server.port, "/cat.sh", size, lambda: uwsgi_processes(server), server.tmpdir, duplex
    )
    assert (status, total, same) == (200, size, True)
    assert spilled, "the held output should have gone to a file in TMPDIR"
    assert growth < 16 * 1024, "uWSGI RSS grew by %d KiB" % growth
    assert wait_for(lambda: nothing_left(server)), (
        os.listdir(server.tmpdir),
        open_in(uwsgi_processes(server), server.tmpdir),
    )


# 1 GiB under one uWSGI set-up (the 20 MB test covers the others).
@pytest.mark.parametrize("server", ["uwsgi-prefork"], indirect=True)
def test_1_gib_echoed_to_a_half_duplex_client(server):
    size = 1 << 30
    status, total, same, growth, spilled = upload_echoed(
        server.port, "/cat.sh", size, lambda: uwsgi_processes(server), server.tmpdir, timeout=300
    )
    assert (status, total, same) == (200, size, True)
    assert spilled
    assert growth < 16 * 1024, "uWSGI RSS grew by %d KiB" % growth
    assert wait_for(lambda: nothing_left(server)), (
        os.listdir(server.tmpdir),
        open_in(uwsgi_processes(server), server.tmpdir),
    )
