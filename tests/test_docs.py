"""The documentation: docs/ builds, the README stays a front page, and every
block of the pages is run by a test or says why not.

- ``mkdocs build --strict`` (mkdocs.yml: links and anchors validated) into a
  temporary folder, with no warning at all.
- The README: at most 260 lines, its two commands as they are, each link into
  docs/ to a page and anchor the built site has, each of its code blocks
  (past the install lines and the two commands) taken from a block of the
  docs, where the tests read it.
- RECIPES: every fenced block of docs/ (``text`` blocks are diagrams and
  sample output) matches exactly one row, and a row names the tests that read
  the block from the page, or says in the page that it is not tested here.
"""

import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "integration"))
from docs_blocks import DOCS, blocks, page_text  # noqa: E402

README = os.path.join(ROOT, "README.md")
MAX_README_LINES = 260

TWO_COMMANDS = (
    "python3 -m venv .venv/site && .venv/site/bin/pip install -q -e '.[serve]' "
    "&& .venv/site/bin/wsgicgi serve\n"
    "bash scripts/test\n"
)

IT = "tests/integration/"
# (page, lang, marker in the block, files that read it (None: not tested), why)
RECIPES = [
    (
        "gateway.md",
        "sh",
        "-m wsgicgi myapp:app",
        [
            IT + "docs_blocks.py",
            IT + "conftest.py",
            IT + "test_apache.py",
            IT + "test_fastcgi_apache.py",
            IT + "test_fastcgi_lighttpd.py",
            IT + "test_cgi_recipes.py",
        ],
        "",
    ),
    (
        "gateway.md",
        "python",
        "run(app)",
        [IT + "docs_blocks.py", IT + "conftest.py", IT + "test_apache.py", IT + "test_suexec.py"],
        "",
    ),
    ("reverse-adapter.md", "python", "CGIDirectory(", [IT + "test_wsgi_server_recipes.py"], ""),
    ("serve.md", "sh", "wsgicgi serve 8080", [IT + "test_wsgi_server_recipes.py"], ""),
    ("deploy/cgi.md", "apache", "ScriptAlias /cgi-bin/", [IT + "test_cgi_recipes.py"], ""),
    ("deploy/cgi.md", "apache", "RewriteRule", [IT + "conftest.py", IT + "test_apache.py"], ""),
    ("deploy/cgi.md", "python", "def pretty", [IT + "test_cgi_recipes.py"], ""),
    ("deploy/cgi.md", "lighttpd", "mod_cgi", [IT + "test_cgi_recipes.py"], ""),
    ("deploy/shared-hosting.md", "sh", "python3 -m venv ~/venv", [IT + "test_suexec.py"], ""),
    (
        "deploy/shared-hosting.md",
        "sh",
        "#!/usr/bin/env -S /home/USER/venv/bin/python",
        [IT + "test_suexec.py"],
        "",
    ),
    (
        "deploy/shared-hosting.md",
        "apache",
        "AddHandler cgi-script",
        [IT + "test_suexec.py", IT + "conftest.py"],
        "",
    ),
    ("deploy/shared-hosting.md", "sh", "wsgicgi check", [IT + "test_suexec.py"], ""),
    (
        "deploy/fastcgi.md",
        "apache",
        "AddHandler fcgid-script",
        [IT + "test_fastcgi_apache.py", IT + "test_suexec.py"],
        "",
    ),
    ("deploy/fastcgi.md", "apache", "FcgidMaxRequestLen", [IT + "test_fastcgi_apache.py"], ""),
    (
        "deploy/fastcgi.md",
        "sh",
        "wsgicgi fcgi myapp:app --bind",
        [IT + "test_fastcgi_apache.py"],
        "",
    ),
    ("deploy/fastcgi.md", "apache", "ProxyPass", [IT + "test_fastcgi_apache.py"], ""),
    (
        "deploy/fastcgi.md",
        "nginx",
        "upstream wsgicgi_app",
        [IT + "fcgi_stack.py", IT + "test_fastcgi_nginx.py"],
        "",
    ),
    (
        "deploy/fastcgi.md",
        "sh",
        "spawn-fcgi -s /run/wsgicgi/app.sock",
        [IT + "fcgi_stack.py", IT + "test_fastcgi_nginx.py"],
        "",
    ),
    (
        "deploy/fastcgi.md",
        "lighttpd",
        "mod_fastcgi",
        [IT + "fcgi_stack.py", IT + "test_fastcgi_lighttpd.py"],
        "",
    ),
    ("deploy/fastcgi.md", "ini", "ExecStart=", [IT + "test_systemd_recipe.py"], ""),
    ("deploy/fastcgi.md", "python", "flup", None, "the old flup script, shown for comparison"),
    (
        "deploy/fastcgi.md",
        "sh",
        "--cgi-dir /usr/lib/cgit",
        [IT + "fcgi_stack.py", IT + "test_fastcgi_nginx.py"],
        "",
    ),
    (
        "deploy/fastcgi.md",
        "nginx",
        "cgit.cgi",
        [IT + "fcgi_stack.py", IT + "test_fastcgi_nginx.py"],
        "",
    ),
    (
        "deploy/fastcgi.md",
        "nginx",
        "git-http-backend",
        [IT + "fcgi_stack.py", IT + "test_fastcgi_nginx.py"],
        "",
    ),
    (
        "deploy/fastcgi.md",
        "sh",
        "--cgi-dir /srv/www/cgi-bin",
        [IT + "fcgi_stack.py", IT + "test_fastcgi_nginx.py"],
        "",
    ),
    (
        "deploy/fastcgi.md",
        "nginx",
        "location /cgi-bin/",
        [IT + "fcgi_stack.py", IT + "test_fastcgi_nginx.py"],
        "",
    ),
    ("deploy/wsgi-servers.md", "python", "cgiapp.py", [IT + "test_wsgi_server_recipes.py"], ""),
    ("deploy/wsgi-servers.md", "sh", "gunicorn", [IT + "test_wsgi_server_recipes.py"], ""),
    ("deploy/wsgi-servers.md", "sh", "waitress-serve", [IT + "test_wsgi_server_recipes.py"], ""),
    ("deploy/wsgi-servers.md", "sh", "uwsgi", [IT + "test_wsgi_server_recipes.py"], ""),
    (
        "deploy/wsgi-servers.md",
        "apache",
        "WSGIScriptAlias",
        [IT + "test_wsgi_server_recipes.py"],
        "",
    ),
    (
        "deploy/production.md",
        "sh",
        "wsgicgi:CGIDirectory('cgi-bin')",
        [IT + "test_nginx.py", IT + "test_serve.py"],
        "",
    ),
    (
        "deploy/production.md",
        "nginx",
        "proxy_pass",
        [IT + "nginx_proxy.py", IT + "test_nginx.py"],
        "",
    ),
    ("deploy/production.md", "apache", "ProxyPass", [IT + "test_serve.py"], ""),
    (
        "benchmarks.md",
        "sh",
        "scripts/bench",
        None,
        "each benchmark takes minutes of a quiet machine",
    ),
    ("development.md", "sh", "bash scripts/test", [".ci/run"], ""),
    ("development.md", "sh", "mkdocs build --strict", ["tests/test_docs.py"], ""),
    ("development.md", "sh", "ruff", None, "the lint every commit passes, not a recipe"),
]


def docs_pages():
    pages = []
    for top, _dirs, files in os.walk(DOCS):
        pages += [os.path.relpath(os.path.join(top, f), DOCS) for f in files if f.endswith(".md")]
    return sorted(pages)


def on_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


# -- the site builds ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built with ``mkdocs build --strict`` (from the docs extra)."""
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
    except ImportError:
        message = "mkdocs and mkdocs-material not installed (pip install -e '.[docs]')"
        if on_ci():
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=300,
    )
    log = done.stdout.decode("utf-8", "replace")
    return done.returncode, log, str(out)


def test_mkdocs_build_strict_without_a_warning(site):
    returncode, log, out = site
    assert returncode == 0, log
    assert "WARNING" not in log and "ERROR" not in log, log
    for page in docs_pages():
        assert os.path.exists(built_file(out, page)), page


def test_every_page_is_in_the_nav():
    with open(os.path.join(ROOT, "mkdocs.yml"), encoding="utf-8") as f:
        config = f.read()
    assert "strict: true" in config
    for page in docs_pages():
        assert re.search(r":\s+%s\s*$" % re.escape(page), config, re.M), page


# -- the README -------------------------------------------------------------------------------


def readme():
    with open(README, encoding="utf-8") as f:
        return f.read()


def test_readme_is_a_front_page():
    lines = readme().count("\n")
    assert lines <= MAX_README_LINES, "README.md has %d lines" % lines


def test_readme_keeps_the_two_commands():
    section = readme().split("\n## The two commands\n", 1)[1].split("\n## ", 1)[0]
    assert "```sh\n" + TWO_COMMANDS + "```" in section


class Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        self.ids.update(value for name, value in attrs if name == "id")


def built_file(out, page):
    """docs/PAGE.md → its HTML in the built site (use_directory_urls)."""
    stem = page[:-3]
    if os.path.basename(stem) == "index":
        return os.path.join(out, os.path.dirname(stem), "index.html")
    return os.path.join(out, stem, "index.html")


def test_readme_links_into_docs_resolve(site):
    returncode, log, out = site
    assert returncode == 0, log
    links = re.findall(r"\]\(([^)\s]+)\)", readme())
    into_docs = [link for link in links if link.startswith("docs/")]
    assert len(into_docs) >= 15, into_docs
    for link in links:
        if "://" in link or link.startswith("#"):
            continue
        path, _, anchor = link.partition("#")
        assert os.path.exists(os.path.join(ROOT, path)), link
        if not path.startswith("docs/"):
            continue
        assert path.endswith(".md"), link
        html = built_file(out, path[len("docs/") :])
        assert os.path.exists(html), link
        if anchor:
            ids = Ids()
            with open(html, encoding="utf-8") as f:
                ids.feed(f.read())
            assert anchor in ids.ids, "%s: no #%s in the built page" % (link, anchor)


def test_readme_code_comes_from_the_docs():
    """Past its install lines and the two commands, every line of the
    README's code blocks is a line of a docs block, where tests read it."""
    docs_lines = set()
    for page in docs_pages():
        for _, _, body in blocks(page_text(page)):
            docs_lines.update(line.strip() for line in body.splitlines())
    text = readme()
    own = text.split("\n## Install\n", 1)[1].split("\n## Gateway", 1)[0]
    for _, _, body in blocks(text):
        if body in own:
            continue
        for line in body.splitlines():
            assert line.strip() in docs_lines, "README line not in any docs block: %r" % line


# -- every block is run by a test, or says why not --------------------------------------------


def section_of(page, headings):
    """The text under the innermost heading ``headings`` ends with."""
    text = page_text(page)
    title = headings[-1]
    match = re.search(r"^#+ +%s *$" % re.escape(title), text, re.M)
    assert match, (page, title)
    rest = text[match.end() :]
    end = re.search(r"^#{1,%d} " % match.group(0).count("#"), rest, re.M)
    return rest[: end.start()] if end else rest


def test_every_docs_block_is_tested_or_marked():
    used = set()
    for page in docs_pages():
        for headings, lang, body in blocks(page_text(page)):
            if lang == "text":  # diagrams and sample output, nothing to run
                continue
            rows = [r for r in RECIPES if r[0] == page and r[1] == lang and r[2] in body]
            assert len(rows) == 1, "docs/%s, ```%s block under %r: %d rows match:\n%s" % (
                page,
                lang,
                headings[-1],
                len(rows),
                body,
            )
            row = rows[0]
            assert row[:3] not in used, "row %r matches two blocks" % (row[:3],)
            used.add(row[:3])
            _, _, marker, readers, reason = row
            if readers is None:
                assert reason
                assert "not tested here" in section_of(page, headings).lower(), (
                    "docs/%s, %r: an untested block must say so in its section" % (page, marker)
                )
                continue
            texts = []
            for reader in readers:
                with open(os.path.join(ROOT, reader), encoding="utf-8") as f:
                    texts.append(f.read())
            assert any(page in t or marker in t for t in texts), "none of %s reads docs/%s (%r)" % (
                readers,
                page,
                marker,
            )
    unused = [r[:3] for r in RECIPES if r[:3] not in used]
    assert not unused, "rows without a block: %s" % unused


def test_block_reader_finds_blocks_under_their_headings():
    # The helper the recipe tests use: the heading path and the language of a block.
    text = "# A\n\n## B\n\n```sh\none\n```\n\n# C\n\n```nginx\n# not a heading\n```\n"
    assert blocks(text) == [(("A", "B"), "sh", "one\n"), (("C",), "nginx", "# not a heading\n")]
