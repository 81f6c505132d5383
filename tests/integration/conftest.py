"""Fixtures that start real servers: a private Apache httpd serving the gateway.

Apache runs CGI scripts as www-data, who cannot enter /root: the site lives
in world-readable folders under /tmp, with a copy of the wsgicgi package on
PYTHONPATH and Debian's /usr/bin/python3 as the interpreter.
"""

import os
import shutil
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = os.path.join(ROOT, "tests")
# The repository root (scripts.harness) and tests/ (its shared helpers:
# fcgi_client, wsgi_call) for every integration test module.
for folder in (ROOT, TESTS):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from docs_blocks import doc_block, one_line_script, two_line_script  # noqa: E402

from scripts.harness import apache as harness  # noqa: E402

APPS = os.path.join(ROOT, "tests", "apps")

# The docs' scripts and .htaccess files, read from the pages (docs_blocks.py).
# The gateway page's one-line script, as is (with this test's app).
ONE_LINE = one_line_script("%s")
# The two-line form, importing the probe app.
TWO_LINE = two_line_script("probe")

# Shared-hosting style: a folder of the document root with its own .htaccess
# that makes .cgi files scripts, sends every URL that is not a file to the
# app (pretty URLs), and passes Authorization the pre-2.4.13 way.
HTACCESS = doc_block("deploy/cgi.md", "Pretty URLs with mod_rewrite", "apache", "RewriteRule")

# The plain shared-hosting recipe: scripts in a folder of the document root.
HTACCESS_PLAIN = doc_block("deploy/shared-hosting.md", None, "apache", "AddHandler cgi-script")

EXTRA_CONF = """\
<Directory "{docroot}">
    Options FollowSymLinks
    AllowOverride All
    Require all granted
</Directory>
# A cgi-bin without CGIPassAuth: Authorization must not reach its scripts.
ScriptAlias /noauth/ "{noauth}/"
<Directory "{noauth}">
    Require all granted
</Directory>
"""


def _on_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def apache_available():
    """Apache must be installed (scripts/test does it); in CI a missing one fails."""
    if not harness.available():
        message = (
            "%s not installed (bash scripts/test installs it with apt-get)" % harness.APACHE_BIN
        )
        if _on_ci():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def site(apache_available):
    """World-readable folders: the package copy, a cgi-bin and a document root."""
    top = harness.public_tempdir("wsgicgi-site-")
    try:
        lib = harness.stage_wsgicgi(os.path.join(top, "lib"))
        cgi = os.path.join(top, "cgi-bin")
        docroot = os.path.join(top, "htdocs")
        pretty = os.path.join(docroot, "site")
        plain = os.path.join(docroot, "plain")
        noauth = os.path.join(top, "cgi-noauth")
        for folder in (cgi, pretty, plain, noauth):
            os.makedirs(folder)
            shutil.copy(os.path.join(APPS, "probe.py"), folder)
            harness.write_script(os.path.join(folder, "app.cgi"), ONE_LINE % "probe:app")
        harness.write_script(os.path.join(cgi, "two.cgi"), TWO_LINE)
        harness.write_script(os.path.join(cgi, "bad.cgi"), ONE_LINE % "no_such_module_x9:app")
        harness.write_script(os.path.join(pretty, ".htaccess"), HTACCESS, mode=0o644)
        harness.write_script(os.path.join(plain, ".htaccess"), HTACCESS_PLAIN, mode=0o644)
        harness.make_world_readable(top)
        yield {"lib": lib, "cgi": cgi, "docroot": docroot, "noauth": noauth}
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="session", params=["cgi", "cgid"])
def apache(request, site):
    """A running httpd (mod_cgi with prefork, mod_cgid with event) serving the site."""
    server = harness.Apache(
        site["cgi"],
        module=request.param,
        docroot=site["docroot"],
        env={"PYTHONPATH": site["lib"]},
        extra_conf=EXTRA_CONF.format(docroot=site["docroot"], noauth=site["noauth"]),
    )
    try:
        server.start()
        yield server
    finally:
        server.cleanup()
