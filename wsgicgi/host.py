"""WSGI → CGI: run CGI scripts as WSGI applications (the reverse adapter).

``CGIScript`` runs one script per request, ``CGIDirectory`` a whole cgi-bin
folder mapped the way Apache's ScriptAlias maps one.  Each request gets its
own child process in its own process group; one poll loop feeds the request
body to its stdin while it reads stdout and stderr, so no script can deadlock
its host, and the response streams back in chunks.
"""

from __future__ import annotations

import errno
import os
import sys

from . import __version__
from .cgihead import status_line
from .child import ScriptError, spawn
from .protocol import (
    from_latin1,
    has_control_chars,
    is_latin1,
    is_token,
    parse_content_length,
    to_latin1,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from tempfile import SpooledTemporaryFile
    from typing import Any

    from typing_extensions import TypedDict, Unpack

    from ._types import AnyPath, Environ, ErrorFile, Headers, StartResponse, WSGIApplication

    # What a script's response becomes when a local redirect is served here.
    Redirect = Callable[[Environ, StartResponse], "Iterable[bytes] | None"]

    class Options(TypedDict, total=False):
        """The keyword options of CGIScript and CGIDirectory (see CGIScript)."""

        args: Iterable[AnyPath]
        env: Mapping[AnyPath, AnyPath] | None
        inherit_env: Iterable[AnyPath]
        cwd: AnyPath | None
        timeout: float
        document_root: AnyPath | None
        local_redirect: WSGIApplication | None
        max_body: int | None


__all__ = ["CGIDirectory", "CGIScript"]

_ENV_PROXY = "HTTP_PROXY"
_HEADER_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_MAX_REDIRECTS = 10
_DOT_SEGMENT = frozenset((".", ".."))
# A body that is complete (stdout closed) within this time and size after the
# head is sent with a Content-Length; anything slower or bigger streams.
_SMALL_BODY = 1 << 16
_SMALL_WAIT = 0.002
_NO_BODY = ("204", "304", *tuple("1%02d" % n for n in range(100)))
_SPOOL_IN_MEMORY = 1 << 20
# As Apache's LimitRequestBody default since 2.4.54.
DEFAULT_MAX_BODY = 1 << 30


class _Options:
    """The options CGIScript and CGIDirectory share: how a child is started.
    Their meanings are in ``CGIScript``'s docstring."""

    def __init__(
        self,
        *,
        args: Iterable[AnyPath] = (),
        env: Mapping[AnyPath, AnyPath] | None = None,
        inherit_env: Iterable[AnyPath] = ("PATH",),
        cwd: AnyPath | None = None,
        timeout: float = 60.0,
        document_root: AnyPath | None = None,
        local_redirect: WSGIApplication | None = None,
        max_body: int | None = DEFAULT_MAX_BODY,
    ) -> None:
        self.args = tuple(os.fsencode(a) for a in args)
        # The child's environment before the meta-variables: the server's
        # variables named in inherit_env (as they are now), then env=.
        environb: Mapping[bytes, bytes] = getattr(os, "environb", None) or {}
        self.base_env: dict[bytes, bytes] = {}
        for name in inherit_env:
            value = environb.get(os.fsencode(name))
            if value is not None:
                self.base_env[os.fsencode(name)] = value
        self.base_env.update((_env_bytes(k), _env_bytes(v)) for k, v in (env or {}).items())
        self.cwd = cwd
        self.timeout = float(timeout)
        self.document_root = document_root
        self.local_redirect = local_redirect
        self.max_body = max_body


class CGIScript:
    """A WSGI application that runs the CGI script at ``path`` once per request.

    Options (keyword-only, shared with ``CGIDirectory``):

    - ``args=()``: extra command-line arguments;
    - ``env=None``: extra environment variables;
    - ``inherit_env=("PATH",)``: the names of the server's own variables the
      script may see, read when the app is made (nothing else of the server's
      environment reaches it);
    - ``cwd=None``: its working directory (default: the script's folder);
    - ``timeout=60.0``: the seconds the script may stay silent before it is
      killed (504 before its headers; the body is cut after them);
    - ``document_root=None``: sets DOCUMENT_ROOT and PATH_TRANSLATED;
    - ``local_redirect=None``: a WSGI application that serves a script's local
      redirect (``Location: /path``, RFC 3875 §6.2.2) as a GET of that path;
      without it the redirect goes to the client;
    - ``max_body=1 << 30``: the largest request body in bytes (413 above it;
      ``None``: no cap); a body without a length is spooled up to it.

    ``interpreter``, if given, runs the script (``interpreter path``).
    """

    def __init__(
        self, path: AnyPath, *, interpreter: AnyPath | None = None, **options: Unpack[Options]
    ) -> None:
        self.path = os.path.abspath(os.fsencode(path))
        self.interpreter = interpreter
        self.options = _Options(**options)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return _Request(environ, start_response, self.options).run(
            self.path,
            self.interpreter,
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO", ""),
            self.options.local_redirect,
        )


class CGIDirectory:
    """A WSGI application serving every CGI script in the folder ``root``.

    As Apache's ScriptAlias: the leading PATH_INFO segments that name a
    regular executable file under ``root`` choose the script, the rest becomes
    its PATH_INFO and SCRIPT_NAME grows by the matched segments.  404 when
    nothing matches; 403 for a folder or a file that is not executable, unless
    ``interpreters`` maps its suffix to a program (``{".py": sys.executable}``).
    Dot segments, empty segments, NUL bytes, dotfiles and symlinks that leave
    ``root`` never run anything.  A script's local redirect under this
    folder's own URL is served internally (up to 10 in a row).  Other options
    as for ``CGIScript``.
    """

    _request_class: type[_Request] | None = None  # a _Request subclass, for subclasses

    def __init__(
        self,
        root: AnyPath,
        *,
        interpreters: Mapping[AnyPath, AnyPath] | None = None,
        **options: Unpack[Options],
    ) -> None:
        self.root = os.path.realpath(os.fsencode(root))
        self.interpreters = {os.fsencode(k): v for k, v in (interpreters or {}).items()}
        self.options = _Options(**options)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return self._serve(environ, start_response, 0)

    def _serve(
        self, environ: Environ, start_response: StartResponse, redirects: int
    ) -> Iterable[bytes]:
        request = (self._request_class or _Request)(environ, start_response, self.options)
        found = self.resolve(environ.get("PATH_INFO", ""))
        if isinstance(found, int):
            return request.error(
                found,
                "no script for %r under %s"
                % (environ.get("PATH_INFO", ""), os.fsdecode(self.root)),
            )
        script, interpreter, script_part, path_info = found
        mount = environ.get("SCRIPT_NAME", "")

        def redirect(
            location_environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes] | None:
            # RFC 3875 §6.2.2: a local redirect is a new GET of that path.
            if redirects >= _MAX_REDIRECTS:
                return request.error(500, "more than %d local redirects in a row" % _MAX_REDIRECTS)
            path = location_environ["PATH_INFO"]
            if path.startswith(mount + "/"):
                location_environ["SCRIPT_NAME"] = mount
                location_environ["PATH_INFO"] = path[len(mount) :]
                return self._serve(location_environ, start_response, redirects + 1)
            if self.options.local_redirect is not None:
                return self.options.local_redirect(location_environ, start_response)
            return None

        return request.run(script, interpreter, mount + script_part, path_info, redirect)

    def resolve(self, path_info: str) -> int | tuple[bytes, AnyPath | None, str, str]:
        """Map a PATH_INFO to ``(script, interpreter, script_part, rest)``,
        or to the HTTP status (400, 403 or 404) that refuses it."""
        if "\0" in path_info:
            return 400
        raw = from_latin1(path_info) if is_latin1(path_info) else None
        if raw is None or not raw.startswith(b"/"):
            return 404
        segments = raw[1:].split(b"/")
        current = self.root
        linked = False
        last = len(segments) - 1
        for index, segment in enumerate(segments):
            if segment == b"" and index == last:
                return 403  # a folder itself, as "/cgi-bin/" is in Apache
            if segment in (b"", b".", b"..") or segment.startswith(b"."):
                return 404
            current = os.path.join(current, segment)
            try:
                info = os.lstat(current)
                if _is_link(info):
                    linked = True
                    info = os.stat(current)
            except (OSError, ValueError):
                return 404
            if _is_dir(info):
                continue
            if not _is_file(info):
                return 403
            real = current
            if linked:
                # A symlink may point anywhere: the real file must stay under root.
                real = os.path.realpath(current)
                if not real.startswith(self.root + b"/"):
                    return 403
            interpreter = self.interpreters.get(os.path.splitext(segment)[1])
            if interpreter is None and not os.access(real, os.X_OK):
                return 403
            script_part = to_latin1(b"/" + b"/".join(segments[: index + 1]))
            rest = segments[index + 1 :]
            path_rest = to_latin1(b"/" + b"/".join(rest)) if rest else ""
            return real if interpreter is None else current, interpreter, script_part, path_rest
        return 403


def _is_dir(info: os.stat_result) -> bool:
    return info.st_mode & 0o170000 == 0o040000


def _is_link(info: os.stat_result) -> bool:
    return info.st_mode & 0o170000 == 0o120000


def _is_file(info: os.stat_result) -> bool:
    return info.st_mode & 0o170000 == 0o100000


def _env_bytes(value: AnyPath) -> bytes:
    if type(value) is bytes:
        return value
    return os.fsencode(value)


def _meta_bytes(value: str) -> bytes:
    # PEP 3333 native strings carry raw bytes as latin-1; a server that broke
    # that rule gets its text as UTF-8.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")


class _Request:
    """One request to one script: meta-variables, body, child, response."""

    def __init__(self, environ: Environ, start_response: StartResponse, options: _Options) -> None:
        self.environ = environ
        self.start_response = start_response
        self.options = options
        self.errors: ErrorFile = environ.get("wsgi.errors") or sys.stderr

    def log(self, message: str) -> None:
        try:
            self.errors.write("wsgicgi: %s\n" % (message,))
            self.errors.flush()
        except Exception:
            pass

    def error(self, code: int, reason: str) -> list[bytes]:
        """Answer ``code`` with a short generic body; the reason goes to the log."""
        self.log("%d: %s" % (code, reason))
        body = (status_line(code) + "\n").encode("ascii")
        self.start_response(
            status_line(code),
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def run(
        self,
        script: bytes,
        interpreter: AnyPath | None,
        script_name: str,
        path_info: str,
        redirect: Redirect | None,
    ) -> Iterable[bytes]:
        environ = self.environ
        for name in ("PATH_INFO", "QUERY_STRING", "SCRIPT_NAME"):
            if "\0" in environ.get(name, ""):
                return self.error(400, "NUL byte in %s" % name)
        # Servers such as Apache normalise the path before mapping it; a
        # "/.." reaching a script would climb out of PATH_TRANSLATED's root.
        if _DOT_SEGMENT.intersection(path_info.split("/")):
            return self.error(404, "dot segment in PATH_INFO %r" % (path_info[:200],))
        try:
            body, length = self.request_body()
        except _Refused as refused:
            return self.error(refused.code, refused.reason)
        argv: list[AnyPath] = [script]
        if interpreter is not None:
            argv.insert(0, os.fsencode(interpreter))
        argv.extend(self.options.args)
        child_env = self.meta_variables(script, script_name, path_info, length)
        name = os.fsdecode(os.path.basename(script))
        try:
            child = spawn(
                argv,
                child_env,
                self.cwd(script),
                body,
                length,
                self.errors,
                name,
                self.options.timeout,
            )
        except OSError as exc:
            if getattr(body, "owned", False):
                body.close()
            if exc.errno == errno.E2BIG:
                # The meta-variables exceed what exec() takes (ARG_MAX).
                uri = len(environ.get("QUERY_STRING", "")) + len(path_info)
                code = 414 if uri > 65536 else 431
                return self.error(code, "request too large for a CGI environment: %s" % exc)
            return self.error(500, "cannot run %s: %s" % (os.fsdecode(script), exc))
        try:
            head = child.read_head(nph=name.startswith("nph-"))
        except ScriptError as exc:
            child.kill()
            # What a failing script said on stderr is the reason the log needs:
            # its last lines may still be in the pipe when stdout ends.
            child.drain_stderr()
            code = 504 if exc.timeout else 502
            child.finish()
            return self.error(code, "%s: %s" % (name, exc))
        except BaseException:
            child.kill()
            child.finish()
            raise
        status, headers = head
        location = _header(headers, "location")
        if (
            location is not None
            and location.startswith("/")
            and status in (None, "200 OK")
            and redirect is not None
        ):
            target = self.redirect_environ(location)
            child.kill()
            child.finish()
            result = redirect(target, self.start_response)
            if result is not None:
                return result
            status = None
        if status is None:
            # RFC 3875 §6.2.3: a Location without Status is a client redirect.
            status = "302 Found" if location is not None else "200 OK"
        head_only = environ.get("REQUEST_METHOD") == "HEAD"
        if child.remaining is None and not child.closed and status[:3] not in _NO_BODY:
            body = child.read_small_body(_SMALL_BODY, _SMALL_WAIT)
            if body is not None:
                # The script ended its output at once: a Content-Length lets
                # the server keep the connection open (waitress closes it after
                # every response without one).
                child.end()
                if child.process.returncode == 0:
                    headers.append(("Content-Length", str(len(body))))
                    self.start_response(status, headers)
                    return [] if head_only else [body]
                self.start_response(status, headers)
                return iter(() if head_only else (body,))
        child.head_only = head_only
        self.start_response(status, headers)
        return child

    def request_body(self) -> tuple[Any, int]:
        """``(source, length)`` of the body for the script's stdin.

        Raises ``_Refused`` for an invalid ``CONTENT_LENGTH`` (400) or a body
        larger than ``max_body`` (413).
        """
        environ = self.environ
        limit = self.options.max_body
        length = parse_content_length(environ.get("CONTENT_LENGTH"))
        if length is None:
            raise _Refused(
                400, "invalid CONTENT_LENGTH %r" % (environ.get("CONTENT_LENGTH", "")[:80],)
            )
        if limit is not None and length > limit:
            raise _Refused(413, "request body of %d bytes is over max_body (%d)" % (length, limit))
        stream = environ.get("wsgi.input")
        if length or stream is None:
            return stream, length
        # RFC 9112 §6.1: chunked, when present, is the last transfer coding.
        chunked = (
            environ.get("HTTP_TRANSFER_ENCODING", "").rsplit(",", 1)[-1].strip().lower()
            == "chunked"
        )
        if environ.get("CONTENT_LENGTH") or not (chunked or environ.get("wsgi.input_terminated")):
            return stream, 0
        # A body without a length (chunked): scripts expect CONTENT_LENGTH,
        # so spool it first and give them its size.
        import tempfile

        spool = tempfile.SpooledTemporaryFile(_SPOOL_IN_MEMORY)
        size = 0
        while True:
            data = stream.read(1 << 16)
            if not data:
                break
            size += len(data)
            if limit is not None and size > limit:
                spool.close()
                raise _Refused(413, "request body over max_body (%d bytes)" % limit)
            spool.write(data)
        if not size:
            spool.close()
            if not environ.get("wsgi.input_terminated"):
                # A chunked body the server read nothing of, and a server that
                # does not say it decodes chunked bodies (uWSGI's http-socket
                # passes none): refused rather than silently dropped.
                raise _Refused(
                    411, "chunked request body not decoded by the server (no wsgi.input_terminated)"
                )
            return None, 0
        spool.seek(0)
        return _Spool(spool), size

    def cwd(self, script: bytes) -> AnyPath:
        if self.options.cwd is not None:
            return self.options.cwd
        return os.path.dirname(script)

    def meta_variables(
        self, script: bytes, script_name: str, path_info: str, length: int
    ) -> dict[bytes, bytes]:
        """The child's environment: RFC 3875 §4.1 meta-variables from the WSGI
        environ, the extras scripts read, ``env=`` and ``inherit_env`` only."""
        environ = self.environ
        out = dict(self.options.base_env)
        server_name, server_port = _server_address(environ)
        meta: dict[str, Any] = {
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_SOFTWARE": environ.get("SERVER_SOFTWARE") or "wsgicgi/" + __version__,
            "SERVER_NAME": server_name,
            "SERVER_PORT": server_port,
            "SERVER_PROTOCOL": environ.get("SERVER_PROTOCOL", "HTTP/1.0"),
            "REQUEST_METHOD": environ.get("REQUEST_METHOD", "GET"),
            "SCRIPT_NAME": script_name,
            "QUERY_STRING": environ.get("QUERY_STRING", ""),
            "SCRIPT_FILENAME": to_latin1(os.path.abspath(script)),
            "REQUEST_URI": self.request_uri(),
        }
        remote_addr = environ.get("REMOTE_ADDR")
        if remote_addr:
            meta["REMOTE_ADDR"] = remote_addr
            # RFC 3875 §4.1.9: REMOTE_ADDR when the host name is not known.
            meta["REMOTE_HOST"] = environ.get("REMOTE_HOST") or remote_addr
        for name in ("REMOTE_PORT", "REMOTE_USER", "AUTH_TYPE", "SERVER_ADDR"):
            if environ.get(name):
                meta[name] = str(environ[name])
        if "REMOTE_USER" in meta and "AUTH_TYPE" not in meta:
            # RFC 3875 §4.1.1: the scheme the server authenticated the user
            # with; a server that set only REMOTE_USER used the request's.
            scheme = environ.get("HTTP_AUTHORIZATION", "").split(None, 1)[:1]
            if scheme and is_token(scheme[0]):
                meta["AUTH_TYPE"] = scheme[0]
        if path_info:
            meta["PATH_INFO"] = path_info
        document_root = self.options.document_root or environ.get("DOCUMENT_ROOT")
        if document_root:
            root = (
                document_root if type(document_root) is str and "DOCUMENT_ROOT" in environ else None
            )
            meta["DOCUMENT_ROOT"] = root or to_latin1(os.fsencode(document_root))
            if path_info:
                # RFC 3875 §4.1.6: PATH_INFO mapped onto the document tree.
                meta["PATH_TRANSLATED"] = meta["DOCUMENT_ROOT"].rstrip("/") + path_info
        if environ.get("wsgi.url_scheme") == "https":
            meta["HTTPS"] = "on"
            meta["REQUEST_SCHEME"] = "https"
        else:
            meta["REQUEST_SCHEME"] = "http"
        if length:
            meta["CONTENT_LENGTH"] = str(length)
            if environ.get("CONTENT_TYPE"):
                meta["CONTENT_TYPE"] = environ["CONTENT_TYPE"]
        authenticated = "REMOTE_USER" in meta
        for key, value in environ.items():
            if not key.startswith("HTTP_") or type(value) is not str:
                continue
            # httpoxy (CVE-2016-5385): "Proxy:" must never become HTTP_PROXY,
            # which HTTP clients in the script read as their proxy.
            if key == _ENV_PROXY or key in ("HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"):
                continue
            if len(key) < 6 or not _HEADER_CHARS.issuperset(key):
                continue
            # RFC 3875 §4.1.18: credentials the server checked stay with it.
            if authenticated and key == "HTTP_AUTHORIZATION":
                continue
            if "\0" in value:
                continue
            meta[key] = value
        for key, value in meta.items():
            out[key.encode("ascii")] = _meta_bytes(value)
        return out

    def request_uri(self) -> str:
        environ = self.environ
        uri: str | None = environ.get("REQUEST_URI") or environ.get("RAW_URI")
        if uri:
            return uri
        from urllib.parse import quote

        path = quote(from_latin1(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")))
        query = environ.get("QUERY_STRING")
        return path + ("?" + query if query else "")

    def redirect_environ(self, location: str) -> Environ:
        """The environ of a GET of ``location`` (a local redirect)."""
        from urllib.parse import unquote_to_bytes

        path, _, query = location.partition("?")
        environ = dict(self.environ)
        environ.update(
            REQUEST_METHOD="GET",
            SCRIPT_NAME="",
            PATH_INFO=to_latin1(unquote_to_bytes(from_latin1(path))),
            QUERY_STRING=query,
            REQUEST_URI=location,
        )
        environ.pop("CONTENT_LENGTH", None)
        environ.pop("CONTENT_TYPE", None)
        environ.pop("RAW_URI", None)
        environ["wsgi.input"] = _EMPTY
        return environ


class _Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Spool:
    """A spooled body that deletes itself once fed to the script."""

    owned = True

    def __init__(self, spool: SpooledTemporaryFile[bytes]) -> None:
        self.spool = spool

    def read(self, size: int = -1) -> bytes:
        data = self.spool.read(size)
        if not data:
            self.spool.close()
        return data

    def close(self) -> None:
        self.spool.close()


class _Empty:
    def read(self, size: int = -1) -> bytes:
        return b""

    def readline(self, size: int = -1) -> bytes:
        return b""


_EMPTY = _Empty()


def _server_address(environ: Environ) -> tuple[str, str]:
    """``(SERVER_NAME, SERVER_PORT)``: the name and port the client used, from
    its Host header, as Apache does by default (UseCanonicalName Off); a Host
    without a port means the scheme's default port.  Without a usable Host,
    the server's own values (some servers, waitress, put a placeholder in
    SERVER_NAME)."""
    # RFC 3875 §4.1.14-15: together they build the script's URI, so behind a
    # proxy that terminates TLS they must not mix the public name with the
    # backend's port.
    host = environ.get("HTTP_HOST", "")
    if host:
        name, port = host, ""
        if not host.endswith("]"):  # "[::1]" has no port, "[::1]:8080" has
            head, colon, tail = host.rpartition(":")
            if colon:
                name, port = head, tail
        port_ok = port == "" or (port.isascii() and port.isdigit() and 0 < int(port) <= 65535)
        bare_colon = ":" in name and not (name.startswith("[") and name.endswith("]"))
        if (
            name
            and port_ok
            and not bare_colon
            and not has_control_chars(name)
            and " " not in name
            and "/" not in name
        ):
            if port:
                return name, str(int(port))
            return name, "443" if environ.get("wsgi.url_scheme") == "https" else "80"
    return environ.get("SERVER_NAME") or "localhost", str(environ.get("SERVER_PORT", "80"))


def _header(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None
