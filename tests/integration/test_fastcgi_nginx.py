"""FastCGI behind a real nginx: the README's recipes, read from README.md.

- ``fastcgi_pass`` to ``wsgicgi fcgi APP --bind unix:...`` with the README's
  ``upstream`` + ``location /app/`` block as written (``fastcgi_keep_conn on``
  and ``keepalive 8``), and the same block without ``fastcgi_keep_conn``;
  the README's ``spawn-fcgi -F 2`` line for the concurrent clients.
- ``wsgicgi fcgi --cgi-dir`` with the README's fcgiwrap blocks: cgit, and
  ``git clone`` / ``git push`` through git-http-backend; a plain cgi-bin
  folder with the classic fcgiwrap ``location``; and ``SCRIPT_FILENAME``s
  outside the folder refused with nothing run (where fcgiwrap runs them).
"""

import hashlib
import http.client
import json
import os
import shutil
import subprocess
import shlex
import threading
import time
import urllib.parse

import pytest

from fcgi_stack import (
    FCGIWRAP, NGINX, SPAWN_FCGI, free_ports, listen_in_servers, listening_inode, nginx, public_tempdir,
    readme_block, require, server_block, socket_inodes, spawn_fcgi, substitute, wsgicgi_argv, wsgicgi_fcgi,
)

pytestmark = pytest.mark.integration

HTTP_TIMEOUT = 120
README_SOCKET = "/run/wsgicgi/app.sock"
UTF8_PATH = "/app/env/caf\u00e9/\u65e5\u672c"


def app_block(keep_conn=True):
    """The README's nginx block (upstream + server), optionally without
    ``fastcgi_keep_conn on``."""
    block = readme_block("nginx", "upstream wsgicgi_app", heading="nginx")
    if not keep_conn:
        block = substitute(block, {"        fastcgi_keep_conn on;\n": ""})
    return block


def spawn_line():
    return readme_block("sh", "spawn-fcgi", heading="nginx")


@pytest.fixture(scope="module")
def folder():
    require(NGINX, SPAWN_FCGI)
    top = public_tempdir("wsgicgi-fcgi-")
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


class Stack:
    def __init__(self, server, web):
        self.server = server  # the FastCGI side
        self.web = web  # nginx

    def logs(self):
        return "--- wsgicgi:\n%s\n--- nginx:\n%s" % (self.server.log()[-4000:], self.web.error_log()[-4000:])



def spawn_replacements(socket_path, command):
    """What the README's spawn-fcgi line names, for this machine."""
    out = {README_SOCKET: socket_path, "/srv/www/venv/bin/wsgicgi": " ".join(map(shlex.quote, wsgicgi_argv()))}
    if os.geteuid() != 0:
        out["-G www-data "] = ""
    out["myapp:app"] = command
    return out


@pytest.fixture(scope="module", params=["keep_conn", "no_keep_conn"])
def single(request, folder):
    """One ``wsgicgi fcgi fcgi_app:app --bind unix:`` process (one request
    at a time) behind nginx with the README's block, with and without
    ``fastcgi_keep_conn on``."""
    keep = request.param == "keep_conn"
    with wsgicgi_fcgi(folder, ["fcgi_app:app"], name="single-" + request.param) as server:
        (port,) = free_ports(1)
        text = listen_in_servers(substitute(app_block(keep), {README_SOCKET: server.socket_path}), [port])
        with nginx(text, [port]) as web:
            stack = Stack(server, web)
            stack.keep = keep
            stack.listener = listening_inode(server.socket_path)
            yield stack


def fetch(port, path, method="GET", body=None, headers=None, timeout=HTTP_TIMEOUT):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def get_json(stack, path, **kw):
    status, headers, body = fetch(stack.web.port, path, **kw)
    assert status == 200, (status, body[:300], stack.logs())
    return json.loads(body)


def test_get_has_script_name_and_path_info_of_the_readme_block(single):
    env = get_json(single, "/app/env/x/y?a=1&b=%20")
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == "/app"
    assert env["PATH_INFO"] == "/env/x/y"
    assert env["QUERY_STRING"] == "a=1&b=%20"
    assert env["REQUEST_URI"] == "/app/env/x/y?a=1&b=%20"
    assert env["SERVER_SOFTWARE"].startswith("nginx/")
    assert env["SERVER_PORT"] == str(single.web.port)
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.run_once"] is False
    assert env["wsgi.multithread"] is False
    assert env["wsgi.input_terminated"] is True
    assert env["pid"] == single.server.pids[0]


def test_utf8_path_info_arrives_as_bytes_in_latin1(single):
    quoted = urllib.parse.quote(UTF8_PATH.encode("utf-8"))
    env = get_json(single, quoted)
    # nginx decodes the URI; PATH_INFO holds its UTF-8 bytes, one latin-1 character each.
    assert env["PATH_INFO"] == UTF8_PATH[len("/app"):].encode("utf-8").decode("latin-1")
    assert env["SCRIPT_NAME"] == "/app"
    assert env["REQUEST_URI"] == quoted


def test_post_small_and_large(single):
    env = get_json(single, "/app/env/form", method="POST", body=b"a=1&b=\xe9",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert env["REQUEST_METHOD"] == "POST"
    assert env["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert env["CONTENT_LENGTH"] == "7"
    assert env["body"] == "a=1&b=\xe9"
    body = os.urandom(5 << 20)
    answer = get_json(single, "/app/hash", method="POST", body=body,
                      headers={"Content-Type": "application/octet-stream"})
    assert answer == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest(), "content_length": len(body)}


def test_head_has_headers_and_no_body_then_the_connection_goes_on(single):
    conn = http.client.HTTPConnection("127.0.0.1", single.web.port, timeout=HTTP_TIMEOUT)
    try:
        conn.request("HEAD", "/app/env/head")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("X-App") == "fcgi_app"
        assert response.read() == b""
        conn.request("GET", "/app/env/after")
        response = conn.getresponse()
        assert response.status == 200, single.logs()
        assert json.loads(response.read())["PATH_INFO"] == "/env/after"
    finally:
        conn.close()


def test_keep_conn_reuses_the_connection_and_without_it_each_request_has_its_own(single):
    """The app reports the sockets its process holds: besides the listener,
    the one connection it is answering on."""
    seen = []
    for _ in range(8):
        answer = get_json(single, "/app/conns")
        conns = set(answer["sockets"]) - {single.listener}
        assert len(conns) == 1, (answer, single.listener)
        seen.append(conns.pop())
    if single.keep:
        assert len(set(seen)) == 1, seen
        # ... and nginx keeps it open between requests (upstream keepalive).
        time.sleep(0.5)
        assert len(socket_inodes(single.server.pids[0]) - {single.listener}) == 1
    else:
        assert len(set(seen)) == len(seen), seen


def test_client_leaving_mid_download_closes_the_iterable_and_the_next_request_is_served(single, folder):
    marker = os.path.join(folder, "closed-%s" % ("keep" if single.keep else "nokeep"))
    before = single.server.log()
    total = 1 << 30
    conn = http.client.HTTPConnection("127.0.0.1", single.web.port, timeout=HTTP_TIMEOUT)
    try:
        conn.request("GET", "/app/stream?n=%d&marker=%s" % (total, urllib.parse.quote(marker)))
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Length") == str(total)
        assert len(response.read(1 << 20)) == 1 << 20
    finally:
        conn.close()  # mid-download
    deadline = time.monotonic() + 90
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert os.path.exists(marker), ("close() was not called", single.logs())
    with open(marker) as f:
        assert 0 < int(f.read() or 0) < total
    # The next request is served (by the same process).
    env = get_json(single, "/app/env/next")
    assert env["PATH_INFO"] == "/env/next"
    assert env["pid"] == single.server.pids[0]
    new = single.server.log()[len(before):]
    lines = [line for line in new.splitlines() if line.strip()]
    assert len(lines) == 1, new
    assert "went away" in lines[0] or "closed" in lines[0], lines
    assert "Traceback" not in new


# -- 24 clients at once ------------------------------------------------------


CONCURRENT_KINDS = ["spawn-fcgi-F2", "spawn-fcgi-F2-no_keep_conn", "threads-4"]


@pytest.fixture(scope="module", params=CONCURRENT_KINDS)
def many(request, folder):
    keep = "no_keep_conn" not in request.param
    path = os.path.join(folder, "%s.sock" % request.param)
    if request.param.startswith("spawn-fcgi"):
        started = spawn_fcgi(folder, spawn_line(), spawn_replacements(path, "fcgi_app:app"), name=request.param)
    else:
        started = wsgicgi_fcgi(folder, ["fcgi_app:app", "--threads", "4"], name=request.param)
    with started as server:
        (port,) = free_ports(1)
        text = listen_in_servers(substitute(app_block(keep), {README_SOCKET: server.socket_path}), [port])
        with nginx(text, [port]) as web:
            stack = Stack(server, web)
            stack.kind = request.param
            yield stack


def test_24_concurrent_clients_are_all_answered(many):
    results = {}
    errors = []

    def client(index):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", many.web.port, timeout=HTTP_TIMEOUT)
            try:
                for round_ in range(3):
                    body = ("client %d round %d " % (index, round_)).encode() * (50 + index * 100)
                    conn.request("POST", "/app/hash", body=body)
                    response = conn.getresponse()
                    answer = response.read()
                    assert response.status == 200, (response.status, answer[:200])
                    assert json.loads(answer)["sha256"] == hashlib.sha256(body).hexdigest()
                    conn.request("GET", "/app/slow/%d/%d?s=0.1" % (index, round_))
                    response = conn.getresponse()
                    answer = response.read()
                    assert response.status == 200, (response.status, answer[:200])
                    answer = json.loads(answer)
                    assert answer["path"] == "/slow/%d/%d" % (index, round_)
                    results.setdefault(index, []).append(answer["pid"])
            finally:
                conn.close()
        except Exception as exc:  # reported below, with the logs
            errors.append((index, repr(exc)))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(24)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HTTP_TIMEOUT * 3)
    elapsed = time.monotonic() - started
    assert not errors, (errors, elapsed, many.logs())
    assert sorted(results) == list(range(24))
    pids = {pid for answers in results.values() for pid in answers}
    assert pids <= set(many.server.pids), (pids, many.server.pids)
    assert "Traceback" not in many.server.log()
