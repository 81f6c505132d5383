"""The gateway under a real Apache httpd, through the gateway page's one-line script
(docs/gateway.md, read from the page by conftest.py).

Every test runs twice: mpm_prefork + mod_cgi, and mpm_event + mod_cgid. The
site (see conftest.py) holds ``cgi-bin/app.cgi``, which is exactly
``#!/usr/bin/env -S python3 -m wsgicgi probe:app``, next to tests/apps/probe.py.
"""

import hashlib
import json
import os
import sys

import pytest

APPS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "apps")
sys.path.insert(0, APPS)
import probe  # noqa: E402
from http_util import latin1, raw_head, request, wait_for_log  # noqa: E402

pytestmark = pytest.mark.integration

AUTH = "Basic dXNlcjpwYXNzd29yZA=="  # user:password
MB20 = 20 * 1024 * 1024


def probe_env(httpd, path, **kwargs):
    status, headers, body = request(httpd.port, kwargs.pop("method", "GET"), path, **kwargs)
    assert status == 200, (status, body[:500], httpd.error_log()[-2000:])
    assert headers["x-probe"] == "yes"
    return json.loads(body)


def test_get(apache):
    env = probe_env(apache, "/cgi-bin/app.cgi/env")
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == "/cgi-bin/app.cgi"
    assert env["PATH_INFO"] == "/env"
    assert env["QUERY_STRING"] == ""
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["SERVER_SOFTWARE"].startswith("Apache/")
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("127.0.0.1", str(apache.port))
    assert (env["wsgi.multithread"], env["wsgi.multiprocess"], env["wsgi.run_once"]) == (
        False,
        True,
        True,
    )
    assert env["wsgi.url_scheme"] == "http"


def test_no_path_info(apache):
    # Apache leaves PATH_INFO out; the gateway supplies "" (PEP 3333 requires the key).
    env = probe_env(apache, "/cgi-bin/app.cgi")
    assert "PATH_INFO" not in env["os.environ"]
    assert env["PATH_INFO"] == ""
    assert env["SCRIPT_NAME"] == "/cgi-bin/app.cgi"


def test_query_string_raw(apache):
    env = probe_env(apache, "/cgi-bin/app.cgi/env?a=1&b=%20x+y&c=caf%C3%A9&d=%FF")
    assert env["QUERY_STRING"] == "a=1&b=%20x+y&c=caf%C3%A9&d=%FF"


def test_utf8_path_info_exact(apache):
    env = probe_env(apache, "/cgi-bin/app.cgi/env/caf%C3%A9/%E2%82%AC%20x")
    assert env["PATH_INFO"] == latin1("/env/café/€ x")


def test_invalid_utf8_path_info_exact(apache):
    env = probe_env(apache, "/cgi-bin/app.cgi/env/%FF%FE/x%80y%C3")
    assert env["PATH_INFO"] == "/env/\xff\xfe/x\x80y\xc3"
    # What Python made of it before the gateway rebuilt the bytes.
    assert env["os.environ"]["PATH_INFO"] != env["PATH_INFO"]


def test_post_body(apache):
    body = "name=Ann+Lee&city=K%C3%B6ln".encode("ascii")
    env = probe_env(
        apache,
        "/cgi-bin/app.cgi/env/form",
        method="POST",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert env["REQUEST_METHOD"] == "POST"
    assert env["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert env["CONTENT_LENGTH"] == str(len(body))
    assert env["body"] == body.decode("latin-1")


def test_post_binary_echo(apache):
    body = bytes(range(256)) * 100 + b"\r\n\r\n\x00end"
    status, _headers, data = request(apache.port, "POST", "/cgi-bin/app.cgi/echo", body=body)
    assert status == 200
    assert data == body


def test_head_sends_no_body(apache):
    # A raw socket: the test sees exactly what went over the wire.
    head, rest = raw_head(apache.port, "/cgi-bin/app.cgi/env")
    assert head.startswith(b"HTTP/1.1 200 "), head[:300]
    assert b"\r\nX-Probe: yes" in head
    assert b"application/json" in head
    assert rest == b""


def test_app_error_is_500_with_traceback_only_in_log(apache):
    status, _headers, body = request(apache.port, "GET", "/cgi-bin/app.cgi/error")
    assert status == 500
    assert b"Internal Server Error" in body
    assert b"marker-7f3a" not in body and b"Traceback" not in body and b"probe.py" not in body
    log = wait_for_log(apache, "marker-7f3a", "Traceback")
    assert "Traceback" in log and "RuntimeError: probe failure marker-7f3a" in log, log[-3000:]


def test_authorization_reaches_app_with_cgipassauth(apache):
    env = probe_env(apache, "/cgi-bin/app.cgi/env", headers={"Authorization": AUTH})
    assert env["HTTP_AUTHORIZATION"] == AUTH
    assert env["os.environ"]["HTTP_AUTHORIZATION"] == AUTH  # Apache itself passed it


def test_authorization_withheld_without_cgipassauth(apache):
    # The same script under a ScriptAlias without CGIPassAuth: Apache keeps it.
    env = probe_env(apache, "/noauth/app.cgi/env", headers={"Authorization": AUTH})
    assert "HTTP_AUTHORIZATION" not in env
    assert "HTTP_AUTHORIZATION" not in env["os.environ"]


def test_upload_20mb(apache):
    body = os.urandom(MB20)
    status, _, data = request(apache.port, "POST", "/cgi-bin/app.cgi/hash", body=body)
    assert status == 200
    assert json.loads(data) == {"length": MB20, "sha256": hashlib.sha256(body).hexdigest()}
    status, _headers, data = request(apache.port, "POST", "/cgi-bin/app.cgi/echo", body=body)
    assert status == 200
    assert len(data) == MB20 and data == body


def test_download_20mb(apache):
    status, _headers, data = request(
        apache.port, "GET", "/cgi-bin/app.cgi/download?n=%d" % (MB20 + 7)
    )
    assert status == 200
    # (Apache may re-frame a streamed body as chunked and drop Content-Length.)
    assert len(data) == MB20 + 7
    assert hashlib.sha256(data).digest() == hashlib.sha256(probe.pattern(MB20 + 7)).digest()


def test_load_failure_is_500_with_reason_in_log(apache):
    status, _, body = request(apache.port, "GET", "/cgi-bin/bad.cgi/x")
    assert status == 500
    assert b"no_such_module_x9" not in body
    log = wait_for_log(apache, "no_such_module_x9")
    assert "cannot load WSGI application 'no_such_module_x9:app'" in log, log[-3000:]
    assert "No module named 'no_such_module_x9'" in log
    assert "End of script output before headers" not in log


def test_two_line_script(apache):
    env = probe_env(apache, "/cgi-bin/two.cgi/env/caf%C3%A9?x=1")
    assert env["SCRIPT_NAME"] == "/cgi-bin/two.cgi"
    assert env["PATH_INFO"] == latin1("/env/café")
    assert env["QUERY_STRING"] == "x=1"


# -- shared hosting: .htaccess with AddHandler, Options +ExecCGI and mod_rewrite ----


def test_htaccess_addhandler_and_cgipassauth(apache):
    # /plain/.htaccess: Options +ExecCGI, AddHandler cgi-script .cgi, CGIPassAuth On
    env = probe_env(apache, "/plain/app.cgi/env/x?y=2", headers={"Authorization": AUTH})
    assert (env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]) == (
        "/plain/app.cgi",
        "/env/x",
        "y=2",
    )
    assert env["os.environ"]["HTTP_AUTHORIZATION"] == AUTH


def test_pretty_url_rewrite(apache):
    # /site/.htaccess: RewriteCond %{REQUEST_FILENAME} !-f
    #                  RewriteRule ^(.*)$ app.cgi/$1 [L,E=HTTP_AUTHORIZATION:...]
    env = probe_env(apache, "/site/hello/world?q=1")
    assert env["SCRIPT_NAME"] == "/site/app.cgi"  # the script's own URL, not the pretty one
    assert env["PATH_INFO"] == "/hello/world"
    assert env["QUERY_STRING"] == "q=1"
    assert env["REQUEST_URI"] == "/site/hello/world?q=1"
    assert env["REDIRECT_URL"] == "/site/hello/world"  # what the client asked for
    assert probe_env(apache, "/site/")["PATH_INFO"] == "/"
    # The script is still reachable by its own name, with nothing rewritten.
    env = probe_env(apache, "/site/app.cgi/hello")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/site/app.cgi", "/hello")
    assert "REDIRECT_URL" not in env


def test_pretty_url_rewrite_keeps_bytes(apache):
    env = probe_env(apache, "/site/caf%C3%A9/%FF/a%20b")
    assert env["SCRIPT_NAME"] == "/site/app.cgi"
    assert env["PATH_INFO"] == latin1("/café/") + "\xff/a b"


def test_authorization_through_rewrite_fallback(apache):
    # Without CGIPassAuth, the RewriteRule's E= flag passes the header; after
    # the internal redirect Apache names it REDIRECT_HTTP_AUTHORIZATION.
    env = probe_env(apache, "/site/private", headers={"Authorization": AUTH})
    assert "HTTP_AUTHORIZATION" not in env["os.environ"]
    assert env["os.environ"]["REDIRECT_HTTP_AUTHORIZATION"] == AUTH
    assert env["HTTP_AUTHORIZATION"] == AUTH  # restored by the gateway
    # No header sent: the rule sets an empty variable, which must not become one.
    env = probe_env(apache, "/site/private")
    assert env["os.environ"]["REDIRECT_HTTP_AUTHORIZATION"] == ""
    assert "HTTP_AUTHORIZATION" not in env
