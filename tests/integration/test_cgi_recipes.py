"""The gateway's CGI recipes of docs/deploy/cgi.md, each run on its real server.

- "Apache: ScriptAlias": the block, read from the page, is the only
  ``ScriptAlias`` of a private httpd (mod_cgi with prefork, mod_cgid with
  event), with the page's ``/srv/www/cgi-bin`` and ``/srv/www/lib`` replaced by
  this test's folders.  wsgicgi is found only through the block's
  ``SetEnv PYTHONPATH``, and ``Authorization`` only through its ``CGIPassAuth``.
- "lighttpd": the block, read from the page, in a private lighttpd.
- "Pretty URLs with mod_rewrite": the ``pretty`` wrapper, read from the page
  (its ``.htaccess`` is conftest.py's HTACCESS, which test_apache.py runs).

The script is the gateway page's one-line script, next to tests/apps/probe.py.
"""

import json
import os
import re
import shutil
import subprocess
import time

import pytest
from docs_blocks import doc_block, one_line_script, substitute
from fcgi_stack import LIGHTTPD, lighttpd, public_tempdir, require
from http_util import request

from scripts.harness import apache as harness

pytestmark = pytest.mark.integration

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(os.path.dirname(HERE), "apps")
PAGE = "deploy/cgi.md"
SYSTEM_PYTHON = "/usr/bin/python3"  # what the one-line script's python3 is here
AUTH = "Basic dXNlcjpwYXNzd29yZA=="  # user:password


@pytest.fixture(scope="module")
def www():
    """A world-readable /srv/www: cgi-bin/app.cgi next to probe.py, and lib/
    holding a copy of the wsgicgi package."""
    top = public_tempdir("wsgicgi-cgi-recipes-")
    try:
        lib = harness.stage_wsgicgi(os.path.join(top, "lib"))
        cgi = os.path.join(top, "cgi-bin")
        os.makedirs(cgi)
        shutil.copy(os.path.join(APPS, "probe.py"), cgi)
        harness.write_script(os.path.join(cgi, "app.cgi"), one_line_script("probe:app"))
        harness.make_world_readable(top)
        yield {"top": top, "cgi": cgi, "lib": lib}
    finally:
        shutil.rmtree(top, ignore_errors=True)


def probe(port, path, headers=None):
    status, response_headers, body = request(port, "GET", path, headers=headers or {})
    assert status == 200, (status, body[:2000])
    assert response_headers["x-probe"] == "yes"
    return json.loads(body)


# -- Apache: ScriptAlias ------------------------------------------------------------------


class DocsApache(harness.Apache):
    """The harness's httpd without its own ``ScriptAlias /cgi-bin/`` and the
    ``<Directory>`` of that folder: the docs' block brings both."""

    def config(self):
        text = super().config()
        own = re.compile(
            r'ScriptAlias /cgi-bin/ "%s/"\n<Directory "%s">.*?</Directory>\n'
            % (re.escape(self.cgi_bin_dir), re.escape(self.cgi_bin_dir)),
            re.S,
        )
        text, count = own.subn("", text)
        assert count == 1, "the harness's configuration changed:\n" + text
        return text


@pytest.fixture(scope="module", params=["cgi", "cgid"])
def scriptalias(request, www):
    if not harness.available():
        message = "%s not installed (bash scripts/test installs it)" % harness.APACHE_BIN
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    block = doc_block(PAGE, "Apache: ScriptAlias", "apache", "ScriptAlias")
    conf = substitute(block, {"/srv/www/cgi-bin": www["cgi"], "/srv/www/lib": www["lib"]})
    empty = public_tempdir("wsgicgi-empty-")
    server = DocsApache(empty, module=request.param, extra_conf=conf)
    try:
        server.start()
        assert 'ScriptAlias /cgi-bin/ "%s/"' % www["cgi"] in server.config()
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(empty, ignore_errors=True)


def test_scriptalias_path_info_and_query(scriptalias):
    # The page: /cgi-bin/app.cgi/some/path?q=1 reaches the app with these.
    env = probe(scriptalias.port, "/cgi-bin/app.cgi/some/path?q=1")
    assert env["SCRIPT_NAME"] == "/cgi-bin/app.cgi"
    assert env["PATH_INFO"] == "/some/path"
    assert env["QUERY_STRING"] == "q=1"


def test_scriptalias_utf8_path_info_bytes_exact(scriptalias):
    env = probe(scriptalias.port, "/cgi-bin/app.cgi/caf%C3%A9/%FF")
    assert env["PATH_INFO"] == "/caf\u00c3\u00a9/\u00ff"  # the raw bytes, as latin-1


def system_python_has_wsgicgi():
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import wsgicgi"],
        env={"PATH": harness.CGI_PATH},
        cwd="/",  # not this checkout, whose wsgicgi/ -c would find
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return done.returncode == 0


def test_scriptalias_setenv_pythonpath_finds_wsgicgi(scriptalias, www):
    # The script's python3 has no wsgicgi of its own and httpd sets no
    # PYTHONPATH: the block's SetEnv is what makes the page above answer.
    assert not system_python_has_wsgicgi()
    assert scriptalias.config().count("SetEnv PYTHONPATH") == 1  # the block's, no other
    assert probe(scriptalias.port, "/cgi-bin/app.cgi/env")["SCRIPT_NAME"] == "/cgi-bin/app.cgi"


def test_scriptalias_cgipassauth(scriptalias):
    env = probe(scriptalias.port, "/cgi-bin/app.cgi/env", headers={"Authorization": AUTH})
    assert env["HTTP_AUTHORIZATION"] == AUTH


# -- lighttpd ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lighttpd_cgi(www):
    require(LIGHTTPD)
    block = doc_block(PAGE, "lighttpd", "lighttpd", "mod_cgi")
    text = substitute(block, {"/srv/www/cgi-bin/": www["cgi"] + "/", "/srv/www/lib": www["lib"]})
    folder = public_tempdir("wsgicgi-lighttpd-cgi-")
    try:
        with lighttpd(folder, text, env={"PATH": harness.CGI_PATH, "LANG": "C"}) as server:
            yield server
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_lighttpd_runs_the_one_line_script(lighttpd_cgi, www):
    env = probe(
        lighttpd_cgi.port, "/cgi-bin/app.cgi/some/path?q=1", headers={"Authorization": AUTH}
    )
    # "Same SCRIPT_NAME/PATH_INFO as Apache; Authorization is passed without further settings."
    assert env["SCRIPT_NAME"] == "/cgi-bin/app.cgi"
    assert env["PATH_INFO"] == "/some/path"
    assert env["QUERY_STRING"] == "q=1"
    assert env["HTTP_AUTHORIZATION"] == AUTH
    assert not system_python_has_wsgicgi()  # found through the block's setenv
    assert env["SERVER_SOFTWARE"].startswith("lighttpd/")


def test_lighttpd_rejects_a_path_that_is_not_utf8(lighttpd_cgi):
    # The page: "lighttpd itself answers 400 to a URL whose path is not valid UTF-8."
    status, _, _ = request(lighttpd_cgi.port, "GET", "/cgi-bin/app.cgi/%FF")
    assert status == 400


def test_lighttpd_traceback_goes_to_the_error_log(lighttpd_cgi):
    # The page: "tracebacks land in server.errorlog".
    status, _, body = request(lighttpd_cgi.port, "GET", "/cgi-bin/app.cgi/error")
    assert status == 500
    assert b"marker-7f3a" not in body
    deadline = time.monotonic() + 15
    while "marker-7f3a" not in lighttpd_cgi.error_log():
        assert time.monotonic() < deadline, lighttpd_cgi.error_log()
        time.sleep(0.1)
    assert "Traceback" in lighttpd_cgi.error_log()


# -- Pretty URLs: the page's SCRIPT_NAME wrapper -----------------------------------------------


def test_pretty_wrapper_drops_the_file_name():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [])
        return [b""]

    namespace = {"app": app}
    exec(doc_block(PAGE, "Pretty URLs with mod_rewrite", "python", "def pretty"), namespace)
    namespace["pretty"]({"SCRIPT_NAME": "/site/app.cgi", "PATH_INFO": "/a"}, lambda *a: None)
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO"]) == ("/site", "/a")
