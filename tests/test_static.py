"""wsgicgi/static.py: the static half of ``wsgicgi serve``, called in process
on real files in a temporary folder (the served process is tested over HTTP in
tests/integration/test_serve.py)."""

import os

import pytest
import wsgi_call
from wsgi_call import environ_for

from wsgicgi.static import StaticFiles, guess_type, resolve

SECRET = b"outside the root\n"


def call(app, path, method="GET", query="", **headers):
    """One WSGI call: (status code, headers dict, body)."""
    return wsgi_call.call(app, environ_for(path, method, query, headers))


@pytest.fixture
def site(tmp_path):
    """root/ with files, a sub-folder, a hidden folder, a CGI folder and
    symlinks out of the root, into the hidden folder and onto the CGI folder."""
    (tmp_path / "outside.txt").write_bytes(SECRET)
    root = tmp_path / "root"
    for folder in ("sub", "empty", ".git", "cgi-bin", "plain"):
        (root / folder).mkdir(parents=True)
    (root / "hello.txt").write_bytes(b"hello\n")
    (root / "digits.txt").write_bytes(b"0123456789")
    (root / "logs.tar.gz").write_bytes(b"\x1f\x8b not really")
    (root / "sub" / "index.html").write_bytes(b"<h1>sub</h1>\n")
    (root / "plain" / "a b.txt").write_bytes(b"a\n")
    (root / "plain" / ".hidden").write_bytes(SECRET)
    (root / ".git" / "config").write_bytes(SECRET)
    (root / "cgi-bin" / "run.sh").write_bytes(b"#!/bin/sh\necho secret source\n")
    os.symlink(str(tmp_path / "outside.txt"), str(root / "escape.txt"))
    os.symlink(str(root / ".git" / "config"), str(root / "git-config"))
    os.symlink(str(root / "cgi-bin"), str(root / "scripts"))
    os.symlink(str(root / "hello.txt"), str(root / "plain" / "link.txt"))
    os.mkfifo(str(root / "fifo"))
    app = StaticFiles(str(root), private=[str(root / "cgi-bin"), str(root / "gone")])
    return root, app


def test_a_file_with_its_type_length_and_validators(site):
    _, app = site
    status, headers, body = call(app, "/hello.txt")
    assert (status, body) == (200, b"hello\n")
    assert headers["Content-Type"].startswith("text/plain")
    assert headers["Content-Length"] == "6"
    assert "ETag" in headers and "Last-Modified" in headers
    assert "Content-Disposition" not in headers
    # HEAD: the same headers, no body.
    status, head_headers, body = call(app, "/hello.txt", method="HEAD")
    assert (status, body) == (200, b"")
    assert head_headers["Content-Length"] == "6"


def test_compressed_archives_are_downloads_not_an_encoding(site):
    _, app = site
    status, headers, _ = call(app, "/logs.tar.gz")
    assert status == 200
    assert headers["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in headers
    assert guess_type("x.BZ2") == "application/x-bzip2"
    assert guess_type("no-extension") == "application/octet-stream"


def test_methods_other_than_get_and_head_are_405_with_allow(site):
    _, app = site
    for method in ("POST", "PUT", "DELETE"):
        status, headers, body = call(app, "/hello.txt", method=method)
        assert status == 405
        assert headers["Allow"] == "GET, HEAD"
        assert body == b"405 Method Not Allowed\n"


@pytest.mark.parametrize(
    "path",
    [
        "/missing.txt",
        "/sub/missing/",
        "relative.txt",  # not starting with /
        "/hello.txt\0",
        "/..\\outside.txt",
        "/\u20ac.txt",  # not a PEP 3333 latin-1 string
        "/../outside.txt",
        "/sub/../hello.txt",
        "/./hello.txt",
        "//hello.txt",
        "/.git/config",
        "/plain/.hidden",
        "/escape.txt",  # a symlink out of the root
        "/git-config",  # a symlink into a hidden folder
        "/cgi-bin/run.sh",  # a script's source
        "/scripts/run.sh",  # the same through a symlink
        "/cgi-bin/",
        "/fifo",  # not a regular file: never opened
        "/hello.txt/",  # a file named as a folder
    ],
)
def test_what_must_not_be_served_is_404(site, path):
    _, app = site
    status, _, body = call(app, path)
    assert status == 404, path
    assert body == b"404 Not Found\n"
    assert SECRET not in body


def test_head_of_an_error_has_no_body(site):
    _, app = site
    status, headers, body = call(app, "/missing.txt", method="HEAD")
    assert (status, body) == (404, b"")
    assert headers["Content-Length"] == str(len(b"404 Not Found\n"))


def test_resolve_keeps_inside_the_root(site):
    root, _ = site
    real = os.path.realpath(os.fsencode(str(root)))
    assert resolve(real, "/") == real
    assert resolve(real, "/sub/") == real + b"/sub"
    assert resolve(real, "/plain/link.txt") == real + b"/hello.txt"
    assert resolve(real, "/escape.txt") is None
    assert resolve(real, "/sub//index.html") is None


def test_a_folder_without_its_slash_is_redirected_with_the_query(site):
    _, app = site
    status, headers, _ = call(app, "/sub", query="a=1&b=%20")
    assert status == 301
    assert headers["Location"] == "/sub/?a=1&b=%20"
    status, headers, _ = call(app, "/sub")
    assert headers["Location"] == "/sub/"
    # A non-ASCII folder name is percent-encoded in the Location.
    root, app = site
    (root / "caf\u00e9").mkdir()
    raw = "/caf\u00e9".encode().decode("latin-1")  # the URL's bytes, PEP 3333 style
    status, headers, _ = call(app, raw)
    assert (status, headers["Location"]) == (301, "/caf%C3%A9/")


def test_a_folder_serves_its_index_html(site):
    _, app = site
    status, headers, body = call(app, "/sub/")
    assert (status, body) == (200, b"<h1>sub</h1>\n")
    assert headers["Content-Type"].startswith("text/html")


def test_a_listing_links_entries_and_hides_dotfiles(site):
    root, app = site
    (root / "plain" / "folder").mkdir()
    (root / "plain" / "<b>.txt").write_bytes(b"")
    status, headers, body = call(app, "/plain/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    page = body.decode()
    assert "<title>Directory listing for /plain/</title>" in page
    assert '<a href="../">../</a>' in page
    assert '<a href="a%20b.txt">a b.txt</a>' in page
    assert '<a href="folder/">folder/</a>' in page
    assert '<a href="link.txt">link.txt@</a>' in page  # a symlink is marked
    assert '<a href="%3Cb%3E.txt">&lt;b&gt;.txt</a>' in page  # escaped both ways
    assert ".hidden" not in page
    # The root has no "../"; HEAD gives the length without the page.
    status, _, body = call(app, "/")
    assert status == 200 and "../" not in body.decode()
    assert '<a href="empty/">empty/</a>' in body.decode()
    assert ".git" not in body.decode() and "cgi-bin/" in body.decode()
    status, headers, body = call(app, "/plain/", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) == len(page)


def test_without_listing_a_folder_without_index_is_404(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "index.html").write_bytes(b"index\n")
    app = StaticFiles(str(tmp_path), listing=False)
    assert call(app, "/")[0] == 404
    assert call(app, "/sub/")[2] == b"index\n"
    # index=None: never an index page, the listing instead.
    app = StaticFiles(str(tmp_path), index=None)
    status, _, body = call(app, "/sub/")
    assert status == 200 and b"index.html" in body


def test_an_index_html_that_is_a_folder_is_not_served(tmp_path):
    (tmp_path / "index.html").mkdir()
    status, _, body = call(StaticFiles(str(tmp_path)), "/")
    assert status == 200
    assert b'<a href="index.html/">index.html/</a>' in body


@pytest.mark.parametrize(
    "header, status, body, content_range",
    [
        ("bytes=2-4", 206, b"234", "bytes 2-4/10"),
        ("bytes=-3", 206, b"789", "bytes 7-9/10"),
        ("bytes=8-", 206, b"89", "bytes 8-9/10"),
        # Ignored, the whole file: several ranges, another unit, nonsense.
        ("bytes=0-1,4-5", 200, b"0123456789", None),
        ("lines=1-2", 200, b"0123456789", None),
        ("bytes=x-y", 200, b"0123456789", None),
        ("bytes=20-30", 416, None, "bytes */10"),
    ],
)
def test_ranges(site, header, status, body, content_range):
    _, app = site
    got_status, headers, got_body = call(app, "/digits.txt", range=header)
    assert got_status == status, header
    if body is not None:
        assert got_body == body
    assert headers.get("Content-Range") == content_range


def test_a_fresh_cache_beats_a_range_and_if_range_decides(site):
    _, app = site
    _, headers, _ = call(app, "/digits.txt")
    etag = headers["ETag"]
    # If-None-Match matches: 304, the Range ignored.
    status, _, body = call(app, "/digits.txt", range="bytes=0-1", if_none_match=etag)
    assert (status, body) == (304, b"")
    # If-Range with the current ETag: the range; with an old one: the whole file.
    status, _, body = call(app, "/digits.txt", range="bytes=0-1", if_range=etag)
    assert (status, body) == (206, b"01")
    status, _, body = call(app, "/digits.txt", range="bytes=0-1", if_range='"old"')
    assert (status, body) == (200, b"0123456789")
    status, _, _ = call(app, "/digits.txt", if_modified_since=headers["Last-Modified"])
    assert status == 304


def test_a_vanished_private_folder_hides_nothing_else(site):
    # "gone" is listed as private but does not exist: the rest is served.
    _, app = site
    assert call(app, "/hello.txt")[0] == 200
