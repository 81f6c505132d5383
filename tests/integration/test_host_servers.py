"""CGIDirectory under real WSGI servers (gunicorn sync and gthread, waitress),
spoken to over HTTP on 127.0.0.1."""

import hashlib
import http.client
import os
import shutil
import socket
import tempfile
import threading
import time

import pytest
from wsgi_servers import download_watching_rss, open_in, request, serving, upload_echoed

pytestmark = pytest.mark.integration

KINDS = ["waitress", "gunicorn-sync", "gunicorn-gthread"]


@pytest.fixture(scope="module", params=KINDS)
def server(request):
    # A private TMPDIR: where held-back output spills (issue 11), to be
    # found empty after every request.
    tmpdir = tempfile.mkdtemp(prefix="wsgicgi-hold-")
    try:
        with serving(
            request.param, "host_app:app", env={"CGI_TIMEOUT": "2", "TMPDIR": tmpdir}
        ) as server:
            server.tmpdir = tmpdir
            server.kind = request.param
            yield server
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def wait_for(predicate, seconds=10):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def nothing_left(server):
    """No file in the server's TMPDIR, named or open (an unnamed one is
    gone once closed), gunicorn's worker heartbeat files aside."""
    named = [name for name in os.listdir(server.tmpdir) if not name.startswith("wgunicorn-")]
    return not named and not open_in(server.tree(), server.tmpdir)


def test_get(server):
    status, headers, body = request(server, "GET", "/hello.sh")
    assert (status, body) == (200, b"hello from sh\n")
    assert headers["Content-Type"] == "text/plain"


def test_path_info_and_query(server):
    _status, _, body = request(server, "GET", "/sub/deep.sh/a%20b/c?x=1")
    assert body == b"SCRIPT_NAME=/sub/deep.sh PATH_INFO=/a b/c\n"


def test_20_mb_post_echoed(server):
    data = os.urandom(20 * 1024 * 1024)
    status, _, body = request(
        server, "POST", "/echo.pl", body=data, headers={"Content-Type": "application/octet-stream"}
    )
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest()


def test_chunked_post_gets_a_content_length(server):
    chunks = [b"part-%d;" % i * 1000 for i in range(20)]
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("POST", "/echo.pl", body=iter(chunks), encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 200 and response.read() == b"".join(chunks)
    finally:
        connection.close()


def test_200_mb_download_streams_with_bounded_server_memory(server):
    size = 200 * 1024 * 1024
    status, total, digest, growth = download_watching_rss(server.port, "/big200.sh", server.tree)
    assert (status, total) == (200, size)
    assert digest == hashlib.sha256(bytes(size)).hexdigest()
    assert growth < 64 * 1024, "server RSS grew by %d KiB" % growth


def test_timeout_is_504(server):
    started = time.monotonic()
    status, _, _body = request(server, "GET", "/slow.sh")
    assert status == 504 and time.monotonic() - started < 15
    assert "no output for 2 seconds" in server.log()


def test_missing_and_forbidden(server):
    assert request(server, "GET", "/nope.sh")[0] == 404
    assert request(server, "GET", "/not_exec.sh")[0] == 403
    assert request(server, "GET", "/../../etc/passwd")[0] in (400, 404)


def test_concurrent_clients(server):
    results = []

    def worker(n):
        data = b"%d" % n * 5000
        results.append(request(server, "POST", "/echo.pl", body=data)[2] == data)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [True] * 16


def test_small_responses_keep_the_connection_open(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/hello.sh")
        first = connection.getresponse()
        assert first.read() == b"hello from sh\n" and first.getheader("Content-Length") == "14"
        sock = connection.sock
        connection.request("HEAD", "/hello.sh")
        second = connection.getresponse()
        assert second.status == 200 and second.read() == b""
        assert connection.sock is sock  # the same connection: kept alive
    finally:
        connection.close()


# -- issue 11: a client that sends its whole body before it reads --------------


@pytest.mark.parametrize("duplex", [False, True], ids=["half-duplex", "full-duplex"])
def test_20_mb_echoed_while_read_with_bounded_memory_and_no_file_left(server, duplex):
    # cat.sh echoes as it reads: its output is held back (1 MiB in memory,
    # the rest in a temporary file) until the client has sent it all.
    size = 20 * 1024 * 1024
    status, total, same, growth, spilled = upload_echoed(
        server.port, "/cat.sh", size, server.tree, server.tmpdir, duplex
    )
    assert (status, total, same) == (200, size, True)
    assert spilled, "the held output should have gone to a file in TMPDIR"
    # waitress buffers the request and the response itself (15-21 MB here
    # before issue 11's change too); the others hold 1 MiB of it at most.
    bound = 48 if server.kind == "waitress" else 16
    assert growth < bound * 1024, "server RSS grew by %d KiB" % growth
    assert wait_for(lambda: nothing_left(server)), (
        os.listdir(server.tmpdir),
        open_in(server.tree(), server.tmpdir),
    )


# 1 GiB under gunicorn gthread only (the 20 MB test covers the others).
@pytest.mark.parametrize("server", ["gunicorn-gthread"], indirect=True)
@pytest.mark.parametrize("duplex", [False, True], ids=["half-duplex", "full-duplex"])
def test_1_gib_echoed_with_bounded_memory_and_no_file_left(server, duplex):
    size = 1 << 30
    status, total, same, growth, spilled = upload_echoed(
        server.port, "/cat.sh", size, server.tree, server.tmpdir, duplex, timeout=300
    )
    assert (status, total, same) == (200, size, True)
    assert spilled
    assert growth < 16 * 1024, "server RSS grew by %d KiB" % growth
    assert wait_for(lambda: nothing_left(server)), (
        os.listdir(server.tmpdir),
        open_in(server.tree(), server.tmpdir),
    )


def test_client_gone_before_reading_the_held_output_leaves_no_file(server):
    size = 8 * 1024 * 1024
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    try:
        sock.sendall(b"POST /cat.sh HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
        sock.sendall(bytes(size))
    finally:
        sock.close()  # without reading a byte
    assert wait_for(lambda: nothing_left(server), 30), (
        os.listdir(server.tmpdir),
        open_in(server.tree(), server.tmpdir),
    )
    assert request(server, "GET", "/hello.sh")[2] == b"hello from sh\n"
