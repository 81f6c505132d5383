"""CGIDirectory under real WSGI servers (gunicorn sync and gthread, waitress),
spoken to over HTTP on 127.0.0.1."""

import hashlib
import http.client
import os
import threading
import time

import pytest

from wsgi_servers import download_watching_rss, request, serving

pytestmark = pytest.mark.integration

KINDS = ["waitress", "gunicorn-sync", "gunicorn-gthread"]


@pytest.fixture(scope="module", params=KINDS)
def server(request):
    with serving(request.param, "host_app:app", env={"CGI_TIMEOUT": "2"}) as server:
        yield server


def test_get(server):
    status, headers, body = request(server, "GET", "/hello.sh")
    assert (status, body) == (200, b"hello from sh\n")
    assert headers["Content-Type"] == "text/plain"


def test_path_info_and_query(server):
    status, _, body = request(server, "GET", "/sub/deep.sh/a%20b/c?x=1")
    assert body == b"SCRIPT_NAME=/sub/deep.sh PATH_INFO=/a b/c\n"


def test_20_mb_post_echoed(server):
    data = os.urandom(20 * 1024 * 1024)
    status, _, body = request(server, "POST", "/echo.pl", body=data, headers={"Content-Type": "application/octet-stream"})
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
    status, _, body = request(server, "GET", "/slow.sh")
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
