"""The reverse adapter's recipes, read from the docs and run on the real servers.

docs/deploy/wsgi-servers.md: the ``cgiapp.py`` module, then the gunicorn,
waitress and uWSGI command lines and the mod_wsgi configuration, each with
the page's ``/srv/www`` replaced by this test's folder (world-readable, for
Apache's www-data) and its port by a free one.  The programs are this venv's
console scripts; mod_wsgi's venv is made from Debian's python3 (the Python
mod_wsgi is built for) with the wsgicgi package copied into its
site-packages, as ``pip install`` would put it.

Also read and run: the API example of docs/reverse-adapter.md, and the
``wsgicgi serve`` command lines of docs/serve.md.
"""

import glob
import os
import shutil
import subprocess
import sys

import pytest
from docs_blocks import argv, cd_and_argv, command, doc_block, substitute
from http_util import request
from nginx_proxy import free_ports, public_tempdir, running

from scripts.harness import apache as harness

pytestmark = pytest.mark.integration

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = os.path.join(ROOT, "cgi-bin")  # the repository's example scripts
PAGE = "deploy/wsgi-servers.md"
BIN = os.path.dirname(sys.executable)
MOD_WSGI = os.path.join(harness.MODULES_DIR, "mod_wsgi.so")
SYSTEM_PYTHON = "/usr/bin/python3"


def on_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(message):
    if on_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def www():
    """/srv/www: cgiapp.py (the page's), cgi-bin/ with the example hello.sh."""
    top = public_tempdir("wsgicgi-wsgi-recipes-")
    try:
        cgi = os.path.join(top, "cgi-bin")
        os.makedirs(cgi)
        shutil.copy(os.path.join(EXAMPLES, "hello.sh"), cgi)
        module = doc_block(PAGE, None, "python", "# /srv/www/cgiapp.py")
        with open(os.path.join(top, "cgiapp.py"), "w") as f:
            f.write(substitute(module, {"/srv/www/cgi-bin": cgi}))
        harness.make_world_readable(top)
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def check_site(port, prefix=""):
    """hello.sh answers GET and POST through the server; nothing else runs."""
    status, _, body = request(port, "GET", prefix + "/hello.sh?name=recipe")
    assert status == 200, body[:2000]
    assert b"Hello, recipe, from a shell script." in body
    assert b"SCRIPT_NAME=%s/hello.sh" % prefix.encode() in body
    status, _, body = request(port, "POST", prefix + "/hello.sh/more", body=b"posted body")
    assert status == 200, body[:2000]
    assert b"PATH_INFO=/more" in body
    assert body.endswith(b"--- body ---\nposted body\n")
    assert request(port, "GET", prefix + "/nope.sh")[0] == 404
    assert request(port, "GET", prefix + "/../cgiapp.py")[0] in (400, 404)


def docs_command(section, program, replacements):
    """The page's ``cd /srv/www && PROGRAM …`` line: (cwd, argv) with the
    example values replaced and PROGRAM this venv's console script."""
    block = doc_block(PAGE, section, "sh", program)
    cwd, words = cd_and_argv(substitute(command(block, program), replacements))
    assert words[0] == program, words
    path = os.path.join(BIN, program)
    if not os.access(path, os.X_OK):
        missing("%s not installed in %s (pip install -e '.[test]')" % (program, BIN))
    return cwd, [path, *words[1:]]


@pytest.mark.parametrize(
    "section,program",
    [("gunicorn", "gunicorn"), ("waitress", "waitress-serve"), ("uWSGI", "uwsgi")],
)
def test_wsgi_server_recipe(www, section, program):
    (port,) = free_ports(1)
    replacements = {"/srv/www": www, "127.0.0.1:8000": "127.0.0.1:%d" % port}
    if program == "uwsgi":
        replacements = {"/srv/www/venv": sys.prefix, **replacements}
    cwd, words = docs_command(section, program, replacements)
    assert cwd == www
    with running(words, port, cwd=cwd, name=program) as backend:
        check_site(port)
        assert backend.process.poll() is None
    if program == "uwsgi":  # --die-on-term: SIGTERM stopped it, no reload
        assert backend.process.returncode is not None


# -- mod_wsgi -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mod_wsgi_site(www):
    if not harness.available() or not os.path.exists(MOD_WSGI):
        missing("Apache or mod_wsgi not installed (apt-get install libapache2-mod-wsgi-py3)")
    venv = os.path.join(www, "venv")
    made = subprocess.run(
        [SYSTEM_PYTHON, "-m", "venv", "--without-pip", venv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=120,
    )
    if made.returncode != 0:
        missing("python3 -m venv failed (python3-venv): %s" % made.stdout.decode()[-500:])
    (site_packages,) = glob.glob(os.path.join(venv, "lib", "python3*", "site-packages"))
    lib = harness.stage_wsgicgi()
    try:
        shutil.copytree(os.path.join(lib, "wsgicgi"), os.path.join(site_packages, "wsgicgi"))
    finally:
        shutil.rmtree(lib, ignore_errors=True)
    harness.make_world_readable(www)
    yield www
    shutil.rmtree(venv, ignore_errors=True)


def test_mod_wsgi_recipe(mod_wsgi_site):
    www = mod_wsgi_site
    block = doc_block(PAGE, "mod_wsgi", "apache", "WSGIScriptAlias")
    conf = 'LoadModule wsgi_module "%s"\n' % MOD_WSGI + substitute(block, {"/srv/www": www})
    empty = public_tempdir("wsgicgi-empty-")
    httpd = harness.Apache(empty, module="cgid", extra_conf=conf)
    try:
        httpd.start()
        check_site(httpd.port, prefix="/cgi")
        # Debian's python3 has no wsgicgi and httpd sets no PYTHONPATH: the
        # app imported it from the venv the block's python-home names.
        assert "PYTHONPATH" not in httpd.config()
        assert "python-home=%s/venv" % www in httpd.config()
    finally:
        httpd.cleanup()
        shutil.rmtree(empty, ignore_errors=True)


# -- the API example (docs/reverse-adapter.md) ------------------------------------------------


def test_reverse_adapter_api_example():
    webtest = pytest.importorskip("webtest")
    block = doc_block("reverse-adapter.md", None, "python", "CGIDirectory(")
    code = substitute(
        block,
        {
            "/srv/cgi-bin/hello.pl": os.path.join(EXAMPLES, "env.pl"),
            "/srv/cgi-bin": EXAMPLES,
            '"/usr/bin/python3"': repr(sys.executable),
        },
    )
    namespace = {}
    exec(code, namespace)
    one = webtest.TestApp(namespace["hello"]).get("/?via=api")
    assert one.status_int == 200 and b"<b>via</b> = api" in one.body
    many = webtest.TestApp(namespace["app"])
    assert b"Hello, api, from a shell script." in many.get("/hello.sh?name=api").body
    assert many.get("/app.py", expect_errors=True).status_int == 200  # .py via interpreters


# -- wsgicgi serve (docs/serve.md) --------------------------------------------------------


def test_serve_command_line(tmp_path):
    block = doc_block("serve.md", None, "sh", "wsgicgi serve 8080")
    line = command(block, "wsgicgi serve 8080")
    site = tmp_path / "site"
    for folder in ("cgi-bin", "scripts"):
        (site / folder).mkdir(parents=True)
        shutil.copy(os.path.join(EXAMPLES, "hello.sh"), site / folder)
    (port,) = free_ports(1)
    words = argv(substitute(line, {"8080": str(port), " -d site ": " -d %s " % site}))
    assert words[:2] == ["wsgicgi", "serve"], words
    with running([os.path.join(BIN, "wsgicgi"), *words[1:]], port, cwd=str(tmp_path)):
        for folder in ("cgi-bin", "scripts"):
            status, _, body = request(port, "GET", "/%s/hello.sh?name=serve" % folder)
            assert status == 200 and b"Hello, serve, from a shell script." in body
        # The installing line names the extra this checkout defines.
        assert "pip install 'wsgicgi[serve]'" in block
