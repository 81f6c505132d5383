"""``wsgicgi fcgi --cgi-dir DIR``: fcgiwrap's job, confined to one folder.

fcgiwrap runs whatever SCRIPT_FILENAME the web server sends, passes it the
whole environment and never times out.  Here the script must be an
executable file inside DIR (after every symlink is resolved), it runs
through the reverse adapter (its timeout, its clean environment, its
process-group kill), and only the parameters the web server itself set reach
it.
"""

from __future__ import annotations

import os

from .host import CGIDirectory, _Request
from .protocol import from_latin1, is_latin1

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._types import Environ, StartResponse

__all__ = ["ScriptFolder"]

# What the reverse adapter builds itself, or must never pass on.
_OWN = frozenset(
    (
        "GATEWAY_INTERFACE",
        "SERVER_SOFTWARE",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "PATH_TRANSLATED",
        "QUERY_STRING",
        "SCRIPT_FILENAME",
        "REQUEST_URI",
        "REMOTE_ADDR",
        "REMOTE_HOST",
        "REMOTE_PORT",
        "REMOTE_USER",
        "AUTH_TYPE",
        "SERVER_ADDR",
        "DOCUMENT_ROOT",
        "HTTPS",
        "REQUEST_SCHEME",
        "CONTENT_LENGTH",
        "CONTENT_TYPE",
        "WSGICGI_DEBUG",
    )
)
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


class _ServerParamsRequest(_Request):
    """A request whose script also sees the web server's own parameters
    (``fastcgi_param GIT_PROJECT_ROOT …``), as under fcgiwrap.  The client's
    headers (HTTP_*) still go through the adapter's filter."""

    def meta_variables(
        self, script: bytes, script_name: str, path_info: str, length: int
    ) -> dict[bytes, bytes]:
        out = _Request.meta_variables(self, script, script_name, path_info, length)
        for key, value in self.environ.items():
            if (
                type(value) is str
                and key not in _OWN
                and not key.startswith("HTTP_")
                and _NAME_CHARS.issuperset(key)
                and "\0" not in value
                and is_latin1(value)
            ):
                out[key.encode("ascii")] = from_latin1(value)
        return out


class ScriptFolder(CGIDirectory):
    """A WSGI application for FastCGI requests meant for fcgiwrap.

    With SCRIPT_FILENAME (nginx's ``fastcgi.conf``), that file runs when it
    is an executable regular file inside ``root``: 404 when it does not
    exist, 403 when it is outside ``root`` or not executable.  Without it,
    SCRIPT_NAME + PATH_INFO are mapped under ``root`` as ``CGIDirectory``
    maps PATH_INFO.  Options as for ``CGIDirectory``.
    """

    _request_class: type[_Request] = _ServerParamsRequest

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        filename = environ.get("SCRIPT_FILENAME")
        if not filename:
            environ = dict(environ)
            environ["PATH_INFO"] = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            environ["SCRIPT_NAME"] = ""
            return self._serve(environ, start_response, 0)
        request = self._request_class(environ, start_response, self.options)
        found = self.check_filename(filename)
        if isinstance(found, int):
            return request.error(
                found,
                "SCRIPT_FILENAME %r is not a script under %s"
                % (filename[:200], os.fsdecode(self.root)),
            )
        return request.run(
            found, None, environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""), None
        )

    def check_filename(self, filename: str) -> int | bytes:
        """The real path of SCRIPT_FILENAME when it may run, else the
        status (400, 403, 404) that refuses it."""
        if "\0" in filename or not is_latin1(filename):
            return 400
        raw = from_latin1(filename)
        if not raw.startswith(b"/"):
            return 404
        real = os.path.realpath(raw)
        if not real.startswith(self.root + b"/"):
            return 403
        # A dot segment or dotfile inside DIR is refused as CGIDirectory does.
        inside = real[len(self.root) + 1 :].split(b"/")
        if any(part.startswith(b".") for part in inside):
            return 404
        try:
            info = os.stat(real)
        except OSError:
            return 404
        if info.st_mode & 0o170000 != 0o100000 or not os.access(real, os.X_OK):
            return 403
        return real
