"""Real Flask, Bottle and Django apps through the CLI gateway, in subprocesses.

Each request is ``python -m wsgicgi APP /path/to/tests/apps/app.cgi`` with a
crafted CGI environment and body, exactly what Apache runs for the one-line
script; the SCRIPT argument is what puts tests/apps/ on sys.path.
"""

import json
import os
import re
import subprocess
import sys
from urllib.parse import urlencode, urlsplit

import pytest
from cgi_output import CGIOutput

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS = os.path.join(ROOT, "tests", "apps")
SCRIPT = os.path.join(APPS, "app.cgi")  # need not exist: only its folder matters

FRAMEWORKS = {
    "flask": ("flask_app:app", "Flask"),
    "bottle": ("bottle_app:app", "Bottle"),
    "django": ("django_app:application", "Django"),
}


def cgi(
    spec,
    path="/",
    method="GET",
    query="",
    body=b"",
    script_name="/cgi-bin/app.cgi",
    extra=None,
    timeout=60,
):
    """Run one CGI request through the gateway; return the parsed output.

    ``path`` may be bytes: it then reaches the process raw, as from Apache.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": ROOT,
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": "Apache/2.4 (test)",
        "SERVER_NAME": "example.org",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_SCHEME": "http",
        "HTTP_HOST": "example.org",
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": script_name,
        "QUERY_STRING": query,
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
        env["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
    env.update(extra or {})
    benv = {k.encode(): v.encode("utf-8") for k, v in env.items()}
    benv[b"PATH_INFO"] = path if isinstance(path, bytes) else path.encode("utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "wsgicgi", spec, SCRIPT],
        cwd="/",
        env=benv,
        input=body,
        capture_output=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    out = CGIOutput(proc.stdout)
    out.stderr = proc.stderr.decode("utf-8", "replace")
    return out


def cookie_pairs(out):
    """name=value of every Set-Cookie header, as a Cookie request header."""
    return "; ".join(value.split(";", 1)[0].strip() for value in out.header_all("Set-Cookie"))


@pytest.fixture(params=sorted(FRAMEWORKS))
def framework(request):
    return request.param


def test_page(framework):
    spec, label = FRAMEWORKS[framework]
    out = cgi(spec, "/")
    assert out.code == 200, (out, out.stderr)
    assert out.header("Content-Type").startswith("text/html")
    text = out.body.decode("utf-8")
    assert "Hello, stranger (%s)" % label in text
    assert 'href="/cgi-bin/app.cgi/form"' in text


def test_not_found(framework):
    out = cgi(FRAMEWORKS[framework][0], "/no/such/page")
    assert out.code == 404, (out, out.stderr)


def _post_form(spec, fields, cookie=None, script_name="/cgi-bin/app.cgi"):
    extra = {"HTTP_COOKIE": cookie} if cookie else None
    return cgi(
        spec, "/form", "POST", body=urlencode(fields).encode(), script_name=script_name, extra=extra
    )


def test_post_form_redirects_and_sets_cookie(framework):
    spec, label = FRAMEWORKS[framework]
    fields, cookie = {"name": "Ann"}, None
    if framework == "django":  # the CSRF middleware wants its cookie and token
        page = cgi(spec, "/form")
        cookie = cookie_pairs(page)
        assert cookie.startswith("csrftoken=")
        fields["csrfmiddlewaretoken"] = re.search(
            r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body.decode()
        ).group(1)
    out = _post_form(spec, fields, cookie)
    assert out.code in (302, 303), (out, out.stderr)
    assert out.code == (302 if framework == "django" else 303)
    # Relative or absolute, the target lies under SCRIPT_NAME.
    assert urlsplit(out.header("Location")).path == "/cgi-bin/app.cgi/hello/Ann"
    set_cookie = [c for c in out.header_all("Set-Cookie") if c.lstrip().startswith("name=")]
    assert len(set_cookie) == 1 and "httponly" in set_cookie[0].lower(), out.headers

    # The browser follows the redirect and sends the cookie back.
    cookie = cookie_pairs(out)
    follow = cgi(spec, "/hello/Ann", extra={"HTTP_COOKIE": cookie})
    assert follow.code == 200
    assert follow.body.decode() == "Hello, Ann! cookie=Ann"
    home = cgi(spec, "/", extra={"HTTP_COOKIE": cookie})
    assert "Hello, Ann (%s)" % label in home.body.decode()


def test_django_csrf_rejects_post_without_token():
    out = _post_form(FRAMEWORKS["django"][0], {"name": "Mallory"})
    assert out.code == 403
    assert b"CSRF" in out.body
    assert not out.header("Location")


@pytest.mark.parametrize("script_name", ["/cgi-bin/app.cgi", "/~ann/shop/index.cgi"])
def test_url_building_honours_script_name(framework, script_name):
    out = cgi(FRAMEWORKS[framework][0], "/links", script_name=script_name)
    assert out.code == 200, (out, out.stderr)
    links = json.loads(out.body)
    assert links["form"] == script_name + "/form"
    assert links["hello"] == script_name + "/hello/Ann" + ("%20Lee" if framework == "flask" else "")
    if "external" in links:
        assert links["external"] == "http://example.org%s/" % script_name
    else:
        assert links["url"] == "http://example.org%s/links" % script_name


def test_utf8_path_reaches_route_decoded(framework):
    out = cgi(FRAMEWORKS[framework][0], "/hello/Zoë".encode())
    assert out.code == 200, (out, out.stderr)
    assert out.body.decode("utf-8").startswith("Hello, Zoë!")


def test_https_detected_for_external_urls():
    out = cgi(
        FRAMEWORKS["flask"][0],
        "/links",
        extra={"HTTPS": "on", "REQUEST_SCHEME": "https", "SERVER_PORT": "443"},
    )
    assert json.loads(out.body)["external"] == "https://example.org/cgi-bin/app.cgi/"


def test_django_settings_module_recipe():
    # The README's Django line: the stock factory, settings named by SetEnv.
    out = cgi(
        "django.core.wsgi:get_wsgi_application()",
        "/links",
        extra={"DJANGO_SETTINGS_MODULE": "django_site"},
    )
    assert out.code == 200, (out, out.stderr)
    assert json.loads(out.body)["form"] == "/cgi-bin/app.cgi/form"


def test_django_project_wsgi_module():
    # startproject's layout: "mysite.wsgi" is a module here, not a file name.
    out = cgi("mysite.wsgi:application", "/hello/Ann")
    assert out.code == 200, (out, out.stderr)
    assert out.body == b"Hello, Ann! cookie="


# The CGI variables Apache hands over behind the pretty-URL RewriteRule
# (asserted against a real httpd in tests/integration/test_apache.py).
PRETTY = {"REQUEST_URI": "/site/links?x=1", "REDIRECT_URL": "/site/links", "REDIRECT_STATUS": "200"}


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("flask_app:app", "/site/app.cgi/form"),
        ("bottle_app:app", "/site/app.cgi/form"),
        ("django_app:application", "/site/form"),
        ("flask_app:pretty", "/site/form"),
        ("bottle_app:pretty", "/site/form"),
    ],
)
def test_urls_behind_pretty_url_rewrite(spec, expected):
    # Flask and Bottle build URLs from SCRIPT_NAME (the script's real URL,
    # which still works) unless wrapped as the README shows ("pretty");
    # Django derives its prefix from REDIRECT_URL minus PATH_INFO.
    out = cgi(spec, "/links", query="x=1", script_name="/site/app.cgi", extra=PRETTY)
    assert out.code == 200, (out, out.stderr)
    assert json.loads(out.body)["form"] == expected
