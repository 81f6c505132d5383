"""The docs' nginx recipe (docs/deploy/production.md, behind a reverse proxy
that terminates TLS), proved against a private nginx on 127.0.0.1.

nginx gets the docs' ``location / { ... }`` block exactly as the page has it
(read from the file, only the upstream port changed) in two server
blocks: plain HTTP, and real TLS with a self-signed certificate made by
openssl, so ``X-Forwarded-Proto $scheme`` says ``https`` because the client
really spoke TLS.  Behind it, each of the page's command lines: gunicorn with
``CGIDirectory('cgi-bin')`` (sync workers) and with ``make_app()`` (gthread),
``waitress-serve --call`` with the page's trusted-proxy flags, and
``wsgicgi serve``.  The client connects from 127.0.0.2, nginx to the backend
from 127.0.0.1, so a script can tell the client's address from the proxy's.
"""

import hashlib
import http.client
import json
import os
import shutil
import ssl
import sys
import time

import pytest
from docs_blocks import argv, cd_and_argv, command, doc_block, page_text, substitute
from nginx_proxy import (
    PRODUCTION_PAGE,
    available,
    docs_location,
    free_ports,
    nginx_proxy,
    public_tempdir,
    running,
)

pytestmark = pytest.mark.integration

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CGI_SCRIPTS = os.path.join(ROOT, "tests", "cgi_scripts")
CLIENT = "127.0.0.2"
HOST = "www.example.test"
TIMEOUT = 3  # the scripts' timeout, in every backend
HTTP_TIMEOUT = 60

STREAM_SH = """\
#!/bin/sh
printf 'Content-Type: text/plain\\n\\nfirst\\n'
sleep 2
printf 'second\\n'
"""


def console(name, module):
    """The venv's console script ``name``, else ``python -m module``."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    return [path] if os.access(path, os.X_OK) else [sys.executable, "-m", module]


def production_command(marker, replacements):
    """The docs' command line with ``marker`` (docs/deploy/production.md),
    its example values replaced, as argv with the venv's console script."""
    block = doc_block(PRODUCTION_PAGE, "in production", "sh", marker)
    line = substitute(command(block, marker), replacements)
    cwd = None
    if line.startswith("cd "):
        cwd, words = cd_and_argv(line)
    else:
        words = argv(line)
    return cwd, [*console(words[0], words[0].split("-")[0]), *words[1:]]


def gunicorn_cgidirectory(port, site):
    # gunicorn -w 4 -b 127.0.0.1:8000 "wsgicgi:CGIDirectory('cgi-bin')", its scripts' timeout short.
    _, words = production_command(
        "CGIDirectory('cgi-bin')",
        {
            "127.0.0.1:8000": "127.0.0.1:%d" % port,
            "CGIDirectory('cgi-bin')": "CGIDirectory('cgi-bin', timeout=%d)" % TIMEOUT,
        },
    )
    return words


def gunicorn_make_app(port, site):
    # gunicorn -w 4 -k gthread --threads 8 -b 127.0.0.1:8000 "wsgicgi.serve:make_app(directory=...)"
    _, words = production_command(
        "-k gthread",
        {
            "127.0.0.1:8000": "127.0.0.1:%d" % port,
            "directory='/srv/site', timeout=30": "directory=%r, timeout=%d" % (site, TIMEOUT),
        },
    )
    return words


def waitress_make_app(port, site):
    # cd /srv/site && waitress-serve --listen=127.0.0.1:8000 --threads=8
    #   --outbuf-high-watermark=1048576 --call wsgicgi.serve:make_app, plus the
    # trusted-proxy flags the page gives for waitress behind a proxy.
    # nginx_site:make_app is make_app with SITE_TIMEOUT: --call passes no arguments.
    flags = '--trusted-proxy=127.0.0.1 --trusted-proxy-headers="x-forwarded-for x-forwarded-proto"'
    assert "`%s`" % flags in page_text(PRODUCTION_PAGE)
    cwd, words = production_command(
        "waitress-serve",
        {
            "127.0.0.1:8000": "127.0.0.1:%d" % port,
            "--call wsgicgi.serve:make_app": flags + " --call nginx_site:make_app",
        },
    )
    assert cwd == "/srv/site"  # the test runs it from its own site folder
    return words


def wsgicgi_serve(port, site):
    return [
        *console("wsgicgi", "wsgicgi"),
        "serve",
        str(port),
        "-d",
        site,
        "--timeout",
        str(TIMEOUT),
        "--trusted-proxy",
        "127.0.0.1",
    ]


class Kind:
    def __init__(self, command, prefix, remote_addr, https, forwarded_headers):
        self.command = command
        self.prefix = prefix  # URL path of the cgi-bin folder
        self.remote_addr = remote_addr  # the REMOTE_ADDR scripts see
        self.https = https  # whether scripts can see HTTPS=on behind the TLS proxy
        self.forwarded_headers = forwarded_headers  # X-Forwarded-* reach scripts as HTTP_*


KINDS = {
    # gunicorn trusts X-Forwarded-Proto from 127.0.0.1 by default but leaves
    # REMOTE_ADDR the proxy's; the client's address is in X-Forwarded-For.
    "gunicorn-CGIDirectory": Kind(gunicorn_cgidirectory, "", "127.0.0.1", True, True),
    "gunicorn-make_app": Kind(gunicorn_make_app, "/cgi-bin", "127.0.0.1", True, True),
    "waitress-serve": Kind(waitress_make_app, "/cgi-bin", CLIENT, True, True),
    # wsgicgi serve --trusted-proxy: waitress's trusted-proxy settings.
    "wsgicgi-serve": Kind(wsgicgi_serve, "/cgi-bin", CLIENT, True, True),
}


@pytest.fixture(scope="module")
def site():
    if not available():
        message = "nginx or openssl not installed (scripts/test installs them with apt-get)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    top = public_tempdir("wsgicgi-nginx-site-")
    try:
        cgi = os.path.join(top, "cgi-bin")
        os.makedirs(cgi)
        for name in ("env.py", "echo.pl", "slow.sh"):
            shutil.copy(os.path.join(CGI_SCRIPTS, name), cgi)
        with open(os.path.join(cgi, "stream.sh"), "w") as f:
            f.write(STREAM_SH)
        for name in os.listdir(cgi):
            os.chmod(os.path.join(cgi, name), 0o755)
        with open(os.path.join(top, "index.html"), "w") as f:
            f.write("<!DOCTYPE html><title>site</title>\n")
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


class Stack:
    def __init__(self, name, kind, backend, proxy):
        self.name = name
        self.kind = kind
        self.backend = backend
        self.proxy = proxy

    def url(self, script):
        return self.kind.prefix + "/" + script


@pytest.fixture(scope="module", params=sorted(KINDS))
def stack(request, site):
    """nginx with the docs' block in front of one backend, both running."""
    kind = KINDS[request.param]
    (port,) = free_ports(1)
    env = {
        "PYTHONPATH": os.pathsep.join(filter(None, [HERE, os.environ.get("PYTHONPATH")])),
        "SITE_TIMEOUT": str(TIMEOUT),
    }
    with (
        running(kind.command(port, site), port, cwd=site, env=env, name=request.param) as backend,
        nginx_proxy(docs_location(), port) as proxy,
    ):
        yield Stack(request.param, kind, backend, proxy)


def connect(stack, tls):
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
        return http.client.HTTPSConnection(
            "127.0.0.1",
            stack.proxy.https_port,
            timeout=HTTP_TIMEOUT,
            context=context,
            source_address=(CLIENT, 0),
        )
    return http.client.HTTPConnection(
        "127.0.0.1", stack.proxy.http_port, timeout=HTTP_TIMEOUT, source_address=(CLIENT, 0)
    )


def fetch(stack, path, tls=False, method="GET", body=None, headers=None):
    port = stack.proxy.https_port if tls else stack.proxy.http_port
    sent = {"Host": "%s:%d" % (HOST, port)}
    sent.update(headers or {})
    conn = connect(stack, tls)
    try:
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def script_env(stack, tls, headers=None):
    status, _, body = fetch(stack, stack.url("env.py"), tls=tls, headers=headers)
    assert status == 200, (status, body, stack.backend.log())
    return json.loads(body)


def check_common(stack, env, tls):
    kind = stack.kind
    # nginx's $host: the client's name without the port.
    assert env["HTTP_HOST"] == HOST
    assert env["SERVER_NAME"] == HOST
    # No port in Host: the scheme's default, never the backend's own port.
    expected_port = "443" if tls and kind.https else "80"
    assert env["SERVER_PORT"] == expected_port
    assert env["REMOTE_ADDR"] == kind.remote_addr
    if kind.forwarded_headers:
        # nginx appends the address it saw to what the client claimed.
        assert env["HTTP_X_FORWARDED_FOR"].split(",")[-1].strip() == CLIENT
    else:
        assert not [name for name in env if name.startswith("HTTP_X_FORWARDED")]


def test_plain_http_is_http_even_if_the_client_claims_https(stack):
    """Over plain HTTP the docs' block overrides a client's own
    X-Forwarded-Proto with $scheme: no backend shows HTTPS, and a forged
    X-Forwarded-For never becomes REMOTE_ADDR."""
    env = script_env(
        stack, tls=False, headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "6.6.6.6"}
    )
    check_common(stack, env, tls=False)
    assert "HTTPS" not in env
    assert env["REQUEST_SCHEME"] == "http"
    if stack.kind.forwarded_headers:
        assert env["HTTP_X_FORWARDED_PROTO"] == "http"


def test_tls_terminated_by_nginx(stack):
    """Over TLS: HTTPS=on and REQUEST_SCHEME=https where the backend trusts
    the proxy's X-Forwarded-Proto (gunicorn by default, waitress with the
    docs' flags, wsgicgi serve with --trusted-proxy)."""
    env = script_env(stack, tls=True)
    check_common(stack, env, tls=True)
    if stack.kind.https:
        assert env["HTTPS"] == "on"
        assert env["REQUEST_SCHEME"] == "https"
        assert env["HTTP_X_FORWARDED_PROTO"] == "https"
    else:
        assert "HTTPS" not in env
        assert env["REQUEST_SCHEME"] == "http"


def test_post_of_several_megabytes_reaches_the_script_intact(stack):
    body = os.urandom(8 << 20)
    status, headers, answer = fetch(
        stack,
        stack.url("echo.pl"),
        method="POST",
        body=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert status != 413, (
        "nginx refused an 8 MiB body: its client_max_body_size defaults to 1m "
        "and the docs' location block does not raise it"
    )
    assert status == 200, (status, answer[:200], stack.backend.log())
    assert headers.get("X-Method") == "POST"
    assert len(answer) == len(body)
    assert hashlib.sha256(answer).digest() == hashlib.sha256(body).digest()


def test_streamed_response_arrives_progressively(stack):
    """proxy_buffering off: the first line reaches the client while the
    script still sleeps before the second."""
    conn = connect(stack, tls=True)
    try:
        conn.request("GET", stack.url("stream.sh"), headers={"Host": HOST})
        response = conn.getresponse()
        assert response.status == 200
        first = response.readline()
        first_at = time.monotonic()
        second = response.readline()
        second_at = time.monotonic()
        rest = response.read()
    finally:
        conn.close()
    assert (first, second, rest) == (b"first\n", b"second\n", b"")
    # The script sleeps 2 s between the lines; a buffered response would
    # bring both at once.
    assert second_at - first_at >= 1.2, second_at - first_at


def test_script_timeout_is_504_through_nginx(stack):
    started = time.monotonic()
    status, _, body = fetch(stack, stack.url("slow.sh"), tls=True)
    elapsed = time.monotonic() - started
    assert status == 504, (status, body)
    # wsgicgi's answer, passed on by nginx (nginx's own 504 page names nginx,
    # and its proxy_read_timeout of 120 s is far away).
    assert b"nginx" not in body
    assert body.startswith(b"504 Gateway Timeout")
    assert TIMEOUT - 0.5 <= elapsed < TIMEOUT + 15, elapsed
