"""FastCGI behind a real nginx: the docs' recipes, read from docs/deploy/fastcgi.md.

- ``fastcgi_pass`` to ``wsgicgi fcgi APP --bind unix:...`` with the docs'
  ``upstream`` + ``location /app/`` block as written (``fastcgi_keep_conn on``
  and ``keepalive 8``), and the same block without ``fastcgi_keep_conn``;
  the docs' ``spawn-fcgi -F 2`` line for the concurrent clients.
- ``wsgicgi fcgi --cgi-dir`` with the docs' fcgiwrap blocks: cgit, and
  ``git clone`` / ``git push`` through git-http-backend; a plain cgi-bin
  folder with the classic fcgiwrap ``location``; and ``SCRIPT_FILENAME``s
  outside the folder refused with nothing run (where fcgiwrap runs them).
"""

import hashlib
import http.client
import json
import os
import shlex
import shutil
import subprocess
import threading
import time
import urllib.parse

import pytest
from fcgi_stack import (
    FCGIWRAP,
    NGINX,
    ROOT,
    SPAWN_FCGI,
    fastcgi_block,
    free_ports,
    listen_in_servers,
    listening_inode,
    nginx,
    public_tempdir,
    require,
    server_block,
    socket_inodes,
    spawn_fcgi,
    substitute,
    wsgicgi_argv,
    wsgicgi_fcgi,
)

pytestmark = pytest.mark.integration

HTTP_TIMEOUT = 120
DOCS_SOCKET = "/run/wsgicgi/app.sock"
UTF8_PATH = "/app/env/caf\u00e9/\u65e5\u672c"


def app_block(keep_conn=True):
    """The docs' nginx block (upstream + server), optionally without
    ``fastcgi_keep_conn on``."""
    block = fastcgi_block("nginx", "upstream wsgicgi_app", heading="nginx")
    if not keep_conn:
        block = substitute(block, {"        fastcgi_keep_conn on;\n": ""})
    return block


def spawn_line():
    return fastcgi_block("sh", "spawn-fcgi", heading="nginx")


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
        return "--- wsgicgi:\n%s\n--- nginx:\n%s" % (
            self.server.log()[-4000:],
            self.web.error_log()[-4000:],
        )


def spawn_replacements(socket_path, command):
    """What the docs' spawn-fcgi line names, for this machine."""
    out = {
        DOCS_SOCKET: socket_path,
        "/srv/www/venv/bin/wsgicgi": " ".join(map(shlex.quote, wsgicgi_argv())),
    }
    if os.geteuid() != 0:
        out["-G www-data "] = ""
    out["myapp:app"] = command
    return out


@pytest.fixture(scope="module", params=["keep_conn", "no_keep_conn"])
def single(request, folder):
    """One ``wsgicgi fcgi fcgi_app:app --bind unix:`` process (one request
    at a time) behind nginx with the docs' block, with and without
    ``fastcgi_keep_conn on``."""
    keep = request.param == "keep_conn"
    with wsgicgi_fcgi(folder, ["fcgi_app:app"], name="single-" + request.param) as server:
        (port,) = free_ports(1)
        text = listen_in_servers(
            substitute(app_block(keep), {DOCS_SOCKET: server.socket_path}), [port]
        )
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
    status, _headers, body = fetch(stack.web.port, path, **kw)
    assert status == 200, (status, body[:300], stack.logs())
    return json.loads(body)


def test_get_has_script_name_and_path_info_of_the_fastcgi_block(single):
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
    assert env["PATH_INFO"] == UTF8_PATH[len("/app") :].encode("utf-8").decode("latin-1")
    assert env["SCRIPT_NAME"] == "/app"
    assert env["REQUEST_URI"] == quoted


def test_post_small_and_large(single):
    env = get_json(
        single,
        "/app/env/form",
        method="POST",
        body=b"a=1&b=\xe9",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert env["REQUEST_METHOD"] == "POST"
    assert env["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert env["CONTENT_LENGTH"] == "7"
    assert env["body"] == "a=1&b=\xe9"
    body = os.urandom(5 << 20)
    answer = get_json(
        single,
        "/app/hash",
        method="POST",
        body=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert answer == {
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "content_length": len(body),
    }


def test_chunked_request_body_reaches_the_app_whole(single):
    """nginx reads a chunked body whole (fastcgi_request_buffering on) and
    sends it with CONTENT_LENGTH set."""
    pieces = [os.urandom(100000) for _ in range(7)]
    body = b"".join(pieces)
    # An iterable without a length: http.client sends it chunked.
    answer = get_json(single, "/app/hash", method="POST", body=iter(pieces))
    assert answer == {
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "content_length": len(body),
    }


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


def test_client_leaving_mid_download_closes_the_iterable_and_the_next_request_is_served(
    single, folder
):
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
    new = single.server.log()[len(before) :]
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
        started = spawn_fcgi(
            folder, spawn_line(), spawn_replacements(path, "fcgi_app:app"), name=request.param
        )
    else:
        started = wsgicgi_fcgi(folder, ["fcgi_app:app", "--threads", "4"], name=request.param)
    with started as server:
        (port,) = free_ports(1)
        text = listen_in_servers(
            substitute(app_block(keep), {DOCS_SOCKET: server.socket_path}), [port]
        )
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


# -- wsgicgi fcgi --cgi-dir: fcgiwrap's job ----------------------------------

FCGIWRAP_SOCKET = "/run/fcgiwrap.socket"
CGIT = "/usr/lib/cgit/cgit.cgi"
GIT_HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
GIT = shutil.which("git") or "/usr/bin/git"
REPO_DESC = "wsgicgi demo repository"


def fcgiwrap_spawn_line(marker):
    return fastcgi_block("sh", marker, heading="Replacing fcgiwrap")


def fcgiwrap_block(marker):
    return fastcgi_block("nginx", marker, heading="Replacing fcgiwrap")


def git_env(home):
    env = dict(os.environ)
    env.update(
        {
            "HOME": home,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.test",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.test",
        }
    )
    return env


def git(home, *args, cwd=None, env=None, timeout=300):
    environ = git_env(home)
    environ.update(env or {})
    done = subprocess.run(
        [GIT, *list(args)],
        cwd=cwd,
        env=environ,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (args, done.stdout.decode()[-2000:], done.stderr.decode()[-4000:])
    return done.stdout.decode()


class GitSite:
    pass


@pytest.fixture(scope="module")
def git_site(folder):
    """A bare repository served by cgit (the docs' ``location /``) and by
    git-http-backend (the docs' ``location ~ ^/git(/.*)``), each through the
    the docs' spawn-fcgi line with ``wsgicgi fcgi --cgi-dir``."""
    require(NGINX, SPAWN_FCGI, GIT, CGIT, GIT_HTTP_BACKEND)
    top = os.path.join(folder, "gitsite")
    home = os.path.join(top, "home")
    projects = os.path.join(top, "git")
    work = os.path.join(top, "work")
    for path in (home, projects, work):
        os.makedirs(path)
    git(home, "init", "-q", "-b", "main", work)
    with open(os.path.join(work, "hello.txt"), "w") as f:
        f.write("hello from wsgicgi\n")
    git(home, "add", "hello.txt", cwd=work)
    git(home, "commit", "-q", "-m", "first commit through cgit", cwd=work)
    bare = os.path.join(projects, "demo.git")
    git(home, "clone", "-q", "--bare", work, bare)
    git(home, "config", "http.receivepack", "true", cwd=bare)
    with open(os.path.join(bare, "description"), "w") as f:
        f.write(REPO_DESC + "\n")
    cgitrc = os.path.join(top, "cgitrc")
    with open(cgitrc, "w") as f:
        f.write(
            "cache-size=0\nvirtual-root=/\nrepo.url=demo\nrepo.path=%s\nrepo.desc=%s\n"
            % (bare, REPO_DESC)
        )

    def replacements(name, cgi_dir):
        out = {
            FCGIWRAP_SOCKET: os.path.join(top, name + ".sock"),
            "/srv/www/venv/bin/wsgicgi": " ".join(map(shlex.quote, wsgicgi_argv())),
        }
        if os.geteuid() != 0:
            out["-G www-data "] = ""
        if cgi_dir != "/usr/lib/cgit":
            out["--cgi-dir /usr/lib/cgit"] = "--cgi-dir " + cgi_dir
        return out

    line = fcgiwrap_spawn_line("--cgi-dir /usr/lib/cgit")
    with (
        spawn_fcgi(top, line, replacements("cgit", "/usr/lib/cgit"), name="cgit") as cgit_server,
        spawn_fcgi(top, line, replacements("git", "/usr/lib/git-core"), name="git") as git_server,
    ):
        cgit_location = substitute(
            fcgiwrap_block(CGIT),
            {
                FCGIWRAP_SOCKET: cgit_server.socket_path,
                # cgit's configuration: one more parameter (the scripts get
                # the web server's parameters, as under fcgiwrap).
                "    include fastcgi_params;\n": "    include fastcgi_params;\n    fastcgi_param CGIT_CONFIG %s;\n"
                % cgitrc,
            },
        )
        git_location = substitute(
            fcgiwrap_block(GIT_HTTP_BACKEND),
            {
                FCGIWRAP_SOCKET: git_server.socket_path,
                "/srv/git": projects,
            },
        )
        (port,) = free_ports(1)
        with nginx(server_block(port, cgit_location + git_location), [port]) as web:
            site = GitSite()
            site.web, site.home, site.top, site.bare = web, home, top, bare
            site.servers = (cgit_server, git_server)
            site.url = "http://127.0.0.1:%d/git/demo.git" % port
            site.logs = lambda: (
                "--- wsgicgi:\n%s\n--- nginx:\n%s"
                % (
                    cgit_server.log()[-3000:] + git_server.log()[-3000:],
                    web.error_log()[-4000:],
                )
            )
            yield site


def test_cgit_renders_the_repository_list_and_summary(git_site):
    status, headers, body = fetch(git_site.web.port, "/")
    assert status == 200, (status, body[:500], git_site.logs())
    assert headers["Content-Type"].startswith("text/html")
    page = body.decode("utf-8", "replace")
    assert REPO_DESC in page and "demo" in page, page[:2000]
    status, _, body = fetch(git_site.web.port, "/demo/")
    page = body.decode("utf-8", "replace")
    assert status == 200, (status, page[:500], git_site.logs())
    assert "first commit through cgit" in page, page[:3000]
    status, _, body = fetch(git_site.web.port, "/demo/plain/hello.txt")
    assert (status, body) == (200, b"hello from wsgicgi\n"), git_site.logs()


def test_git_clone_and_push_through_git_http_backend(git_site):
    home, top = git_site.home, git_site.top
    dest = os.path.join(top, "clone")
    git(home, "clone", "-q", git_site.url, dest)
    with open(os.path.join(dest, "hello.txt")) as f:
        assert f.read() == "hello from wsgicgi\n"
    # A push of some MiB of incompressible data: with a small postBuffer git
    # sends the pack with Transfer-Encoding: chunked.
    digests = {}
    for index in range(4):
        data = os.urandom(1 << 20)
        name = "blob%d.bin" % index
        with open(os.path.join(dest, name), "wb") as f:
            f.write(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    git(home, "add", ".", cwd=dest)
    git(home, "commit", "-q", "-m", "four MiB of random data", cwd=dest)
    trace = os.path.join(top, "push-trace.log")
    git(
        home,
        "-c",
        "http.postBuffer=65536",
        "push",
        "-q",
        "origin",
        "main",
        cwd=dest,
        env={"GIT_TRACE_CURL": trace, "GIT_TRACE_CURL_NO_DATA": "1"},
    )
    with open(trace, encoding="utf-8", errors="replace") as f:
        sent = f.read()
    assert "Transfer-Encoding: chunked" in sent, sent[-3000:]
    head = git(home, "rev-parse", "HEAD", cwd=dest).strip()
    assert git(home, "rev-parse", "refs/heads/main", cwd=git_site.bare).strip() == head
    # What was pushed comes back whole in a fresh clone.
    again = os.path.join(top, "clone2")
    git(home, "clone", "-q", git_site.url, again)
    for name, digest in digests.items():
        with open(os.path.join(again, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest
    assert 'POST /git/demo.git/git-receive-pack HTTP/1.1" 200' in git_site.web.access_log()


MARKER_SCRIPT = """\
#!/bin/sh
touch '{marker}'
printf 'Content-Type: text/plain\\n\\nran outside\\n'
"""


@pytest.fixture(scope="module", params=["wsgicgi", "fcgiwrap"])
def plain(request, folder):
    """A plain cgi-bin folder behind nginx: server 1 has the docs'
    ``location /cgi-bin/``; server 2 is careless (every file of the
    document root, and a SCRIPT_FILENAME from the query string) and sends
    the same socket whatever it likes.  Behind it, ``wsgicgi fcgi --cgi-dir``
    from the docs' line, or fcgiwrap itself for comparison."""
    if request.param == "fcgiwrap":
        require(FCGIWRAP)
    top = os.path.join(folder, "plain-" + request.param)
    www = os.path.join(top, "www")
    cgi = os.path.join(www, "cgi-bin")
    os.makedirs(cgi)
    shutil.copy(os.path.join(ROOT, "cgi-bin", "hello.sh"), cgi)
    os.chmod(os.path.join(cgi, "hello.sh"), 0o755)
    marker = os.path.join(top, "marker")
    outside = os.path.join(www, "outside.sh")
    with open(outside, "w") as f:
        f.write(MARKER_SCRIPT.format(marker=marker))
    os.chmod(outside, 0o755)
    os.symlink("../outside.sh", os.path.join(cgi, "link.sh"))
    with open(os.path.join(cgi, "noexec.sh"), "w") as f:
        f.write(MARKER_SCRIPT.format(marker=marker))
    os.chmod(os.path.join(cgi, "noexec.sh"), 0o644)
    line = fcgiwrap_spawn_line("--cgi-dir /srv/www/cgi-bin")
    replacements = {FCGIWRAP_SOCKET: os.path.join(top, "wrap.sock")}
    if os.geteuid() != 0:
        replacements["-G www-data "] = ""
    if request.param == "wsgicgi":
        replacements["/srv/www/venv/bin/wsgicgi"] = " ".join(map(shlex.quote, wsgicgi_argv()))
        replacements["/srv/www/cgi-bin"] = cgi
    else:
        replacements["/srv/www/venv/bin/wsgicgi fcgi --cgi-dir /srv/www/cgi-bin"] = FCGIWRAP
    with spawn_fcgi(top, line, replacements, name="wrap") as server:
        docs = substitute(
            fcgiwrap_block("location /cgi-bin/"),
            {
                FCGIWRAP_SOCKET: server.socket_path,
                "root /srv/www;": "root %s;" % www,
            },
        )
        careless = (
            "location / {\n"
            "    include fastcgi_params;\n"
            "    fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n"
            "    fastcgi_pass unix:%s;\n"
            "}\n"
            "location /raw {\n"
            "    include fastcgi_params;\n"
            "    fastcgi_param SCRIPT_FILENAME $arg_f;\n"
            "    fastcgi_pass unix:%s;\n"
            "}\n" % (server.socket_path, server.socket_path)
        )
        ports = free_ports(2)
        text = server_block(ports[0], docs) + server_block(ports[1], careless, root=www)
        with nginx(text, ports) as web:
            stack = Stack(server, web)
            stack.kind = request.param
            stack.www, stack.marker, stack.ports = www, marker, ports
            yield stack


def test_plain_cgi_bin_with_the_fcgiwrap_location(plain):
    status, _, body = fetch(plain.ports[0], "/cgi-bin/hello.sh?name=nginx")
    assert status == 200, (status, body, plain.logs())
    text = body.decode()
    assert text.startswith("Hello, nginx, from a shell script.\n"), text
    assert "SCRIPT_NAME=/cgi-bin/hello.sh\n" in text
    assert "QUERY_STRING=name=nginx\n" in text
    status, _, body = fetch(
        plain.ports[0],
        "/cgi-bin/hello.sh",
        method="POST",
        body=b"x=1&y=2",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200, (status, body, plain.logs())
    assert body.decode().endswith("CONTENT_LENGTH=7\n--- body ---\nx=1&y=2\n"), body


def stderr_lines(web):
    return [line for line in web.error_log().splitlines() if "FastCGI sent in stderr" in line]


REFUSED = [
    # (server, URL, what wsgicgi answers)
    (1, "/outside.sh", 403),  # $document_root$fastcgi_script_name outside the folder
    (0, "/cgi-bin/link.sh", 403),  # a symlink inside the folder pointing out
    (1, "/raw?f=/bin/sh", 403),
    (1, "/raw?f={www}/cgi-bin/../outside.sh", 403),
    (0, "/cgi-bin/noexec.sh", 403),  # inside, not executable
    (1, "/raw?f={www}/cgi-bin/no-such.sh", 404),
    (1, "/raw?f=cgi-bin/hello.sh", 404),  # not an absolute path
]


@pytest.mark.parametrize("case", REFUSED, ids=[c[1].replace("{www}", "") for c in REFUSED])
def test_script_filename_outside_the_folder_is_refused_and_nothing_runs(plain, case):
    server, url, code = case
    url = url.format(www=plain.www)
    if plain.kind == "fcgiwrap":
        if url == "/outside.sh":
            # What --cgi-dir is for: fcgiwrap runs whatever it is sent.
            status, _, body = fetch(plain.ports[server], url)
            assert (status, body) == (200, b"ran outside\n")
            assert os.path.exists(plain.marker)
            os.unlink(plain.marker)
        return
    before = stderr_lines(plain.web)
    status, _, body = fetch(plain.ports[server], url)
    assert status == code, (status, body, plain.logs())
    assert not os.path.exists(plain.marker), "a script outside the folder ran"
    deadline = time.monotonic() + 10
    while len(stderr_lines(plain.web)) == len(before) and time.monotonic() < deadline:
        time.sleep(0.05)
    new = stderr_lines(plain.web)[len(before) :]
    assert len(new) == 1, new
    assert "%d:" % code in new[0], new
    # And the folder's own script still runs.
    status, _, body = fetch(plain.ports[0], "/cgi-bin/hello.sh")
    assert status == 200 and body.startswith(b"Hello, world"), (status, body)
