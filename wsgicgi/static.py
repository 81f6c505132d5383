"""Static files for ``wsgicgi serve``: files, directory listings, index.html.

Werkzeug's ``send_file`` does the HTTP work (Content-Type, ETag and
Last-Modified, If-None-Match / If-Modified-Since -> 304, If-Range, single byte
ranges -> 206 / 416).  What is written here is only what it does not do: map a
URL path onto the folder without ever leaving it (no ``..``, no dotfiles such
as ``.git``, no symlink pointing outside, nothing under a CGI folder), list a
folder that has no index.html, and redirect ``/dir`` to ``/dir/`` as
``http.server`` did.
"""

from __future__ import annotations

import datetime
import html
import mimetypes
import os
import stat
from urllib.parse import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ._types import AnyPath, Environ, StartResponse

__all__ = ["StaticFiles", "resolve"]

# As http.server: compressed archives are files to download, not a
# Content-Encoding the browser should undo.
_TYPES = {
    ".gz": "application/gzip",
    ".z": "application/octet-stream",
    ".bz2": "application/x-bzip2",
    ".xz": "application/x-xz",
}


def resolve(root: bytes, path_info: str) -> bytes | None:
    """The file system path (bytes) that ``path_info`` names under ``root``
    (a real path, bytes), or None when it must not be served.

    ``path_info`` is a PEP 3333 string: the raw URL bytes as latin-1, already
    percent-decoded by the server, so ``%2e%2e`` arrives here as ``..``.
    """
    try:
        raw = path_info.encode("latin-1")
    except UnicodeEncodeError:
        return None
    if not raw.startswith(b"/") or b"\0" in raw or b"\\" in raw:
        return None
    segments = raw[1:].split(b"/")
    if segments[-1] == b"":
        segments.pop()  # a trailing slash: the folder itself
    for segment in segments:
        # Empty and dot segments never reach the file system; a leading dot
        # hides .git, .env, .htaccess and the like, as web servers do.
        if not segment or segment.startswith(b"."):
            return None
    path = os.path.join(root, *segments) if segments else root
    real = os.path.realpath(path)
    if real != root:
        if not real.startswith(root + b"/"):
            return None  # a symlink out of the folder
        if any(part.startswith(b".") for part in real[len(root) + 1 :].split(b"/")):
            return None  # a symlink into a hidden folder
    return real


def _inside(path: bytes, top: bytes, folders: Sequence[os.stat_result]) -> bool:
    """True when ``path`` (under ``top``) is one of ``folders`` (stat results)
    or lies under one."""
    while folders:
        try:
            info = os.stat(path)
        except OSError:
            return False
        if any(info.st_dev == f.st_dev and info.st_ino == f.st_ino for f in folders):
            return True
        if len(path) <= len(top):
            break
        path = os.path.dirname(path)
    return False


def guess_type(name: str) -> str:
    """The Content-Type for a file name, as ``http.server`` guessed it."""
    ext = os.path.splitext(name)[1].lower()
    if ext in _TYPES:
        return _TYPES[ext]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


class StaticFiles:
    """A WSGI application serving the files under ``directory``.

    A folder URL serves its ``index.html`` or else a listing (``listing=False``
    turns listings off: 404); a folder URL without its trailing slash is
    redirected (301) to it.  ``private`` names folders under ``directory``
    whose files are never served (the CGI folders: a script's source is not a
    static file), compared by inode so that case-insensitive file systems and
    symlinks do not open them.  GET and HEAD only.
    """

    def __init__(
        self,
        directory: AnyPath,
        *,
        listing: bool = True,
        index: AnyPath | None = "index.html",
        private: Iterable[AnyPath] = (),
    ) -> None:
        self.root = os.path.realpath(os.fsencode(directory))
        self.listing = listing
        self.index = os.fsencode(index) if index else None
        self.private = tuple(os.fsencode(p) for p in private)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return _error(environ, start_response, 405, [("Allow", "GET, HEAD")])
        path_info = environ.get("PATH_INFO", "") or "/"
        path = resolve(self.root, path_info)
        if path is None:
            return _error(environ, start_response, 404)
        try:
            info = os.stat(path)
        except OSError:
            return _error(environ, start_response, 404)
        if self._private(path):
            return _error(environ, start_response, 404)
        if stat.S_ISDIR(info.st_mode):
            if not path_info.endswith("/"):
                return self._to_folder(environ, start_response)
            if self.index:
                index = os.path.join(path, self.index)
                try:
                    index_info: os.stat_result | None = os.stat(index)
                except OSError:
                    index_info = None
                if index_info is not None and stat.S_ISREG(index_info.st_mode):
                    return self._file(environ, start_response, index, index_info)
            if self.listing:
                return self._list(environ, start_response, path)
            return _error(environ, start_response, 404)
        if not stat.S_ISREG(info.st_mode):
            return _error(environ, start_response, 404)  # FIFOs, devices, sockets
        if path_info.endswith("/"):
            return _error(environ, start_response, 404)  # "file.txt/" names a folder
        return self._file(environ, start_response, path, info)

    def _private(self, path: bytes) -> bool:
        folders: list[os.stat_result] = []
        for folder in self.private:
            try:
                folders.append(os.stat(folder))
            except OSError:
                pass
        return _inside(path, self.root, folders)

    def _file(
        self, environ: Environ, start_response: StartResponse, path: bytes, info: os.stat_result
    ) -> Iterable[bytes]:
        from werkzeug.exceptions import RequestedRangeNotSatisfiable
        from werkzeug.http import is_resource_modified, parse_range_header
        from werkzeug.utils import send_file

        if not os.access(path, os.R_OK):  # pragma: no cover (root, as CI runs, reads anything)
            return _error(environ, start_response, 403)
        etag = "%x-%x" % (info.st_mtime_ns, info.st_size)
        mtime = datetime.datetime.fromtimestamp(int(info.st_mtime), datetime.timezone.utc)
        if "HTTP_RANGE" in environ:
            parsed = parse_range_header(environ["HTTP_RANGE"])
            # RFC 9110 §14.2: a server may ignore Range; do so for anything but
            # one byte range (Werkzeug would answer 416 to a valid multi-range
            # request).  §13.2.2: a fresh cache (304) beats a range.
            if (
                parsed is None
                or parsed.units != "bytes"
                or len(parsed.ranges) != 1
                or not is_resource_modified(environ, etag, last_modified=mtime)
            ):
                environ = dict(environ)
                del environ["HTTP_RANGE"]
        try:
            response = send_file(
                os.fsdecode(path),
                environ,
                mimetype=guess_type(os.fsdecode(path)),
                download_name="file",  # the header it makes is dropped below
                etag=etag,
                last_modified=mtime,
                max_age=None,  # Cache-Control: no-cache: always revalidate
            )
        except RequestedRangeNotSatisfiable as exc:
            return exc(environ, start_response)
        except OSError:  # pragma: no cover (unreadable: never for root, as CI runs)
            return _error(environ, start_response, 403)
        response.headers.pop("Content-Disposition", None)
        return response(environ, start_response)

    def _to_folder(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        url = _url_path(environ) + "/"
        query = environ.get("QUERY_STRING")
        if query:
            url += "?" + query
        return _error(environ, start_response, 301, [("Location", url)])

    def _list(
        self, environ: Environ, start_response: StartResponse, path: bytes
    ) -> Iterable[bytes]:
        try:
            names = os.listdir(path)
        except OSError:  # pragma: no cover (unreadable: never for root, as CI runs)
            return _error(environ, start_response, 403)
        title = html.escape(_display(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")))
        items: list[str] = []
        if path != self.root:
            items.append('<li><a href="../">../</a></li>')
        for name in sorted(names, key=lambda n: n.lower()):
            if name.startswith(b"."):
                continue
            full = os.path.join(path, name)
            shown = link = name
            if os.path.isdir(full):
                shown = link = name + b"/"
            elif os.path.islink(full):
                shown = name + b"@"
            items.append(
                '<li><a href="%s">%s</a></li>'
                % (html.escape(quote(link)), html.escape(shown.decode("utf-8", "replace")))
            )
        page = (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            "<title>Directory listing for %s</title>\n</head>\n<body>\n"
            "<h1>Directory listing for %s</h1>\n<hr>\n<ul>\n%s\n</ul>\n<hr>\n</body>\n</html>\n"
            % (title, title, "\n".join(items))
        )
        body = page.encode("utf-8")
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-cache"),
            ],
        )
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


def _url_path(environ: Environ) -> str:
    raw = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
    return quote(raw)


def _display(text: str) -> str:
    return text.encode("latin-1", "replace").decode("utf-8", "replace")


def _error(
    environ: Environ,
    start_response: StartResponse,
    code: int,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    from .cgihead import status_line

    status = status_line(code)
    body = (status + "\n").encode("ascii")
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *list(headers),
        ],
    )
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
