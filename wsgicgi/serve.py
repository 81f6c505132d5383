"""``wsgicgi serve``: a folder with its cgi-bin on a multi-threaded server.

The job ``python -m http.server --cgi`` did until Python removed it: static
files from a folder, CGI scripts under ``/cgi-bin/`` and ``/htbin/`` run by
``CGIDirectory``, on waitress.  ``make_app()`` is the same site as a WSGI
application, for gunicorn or waitress-serve in production.

Imported only by the ``serve`` command, never by the gateway.
"""

from __future__ import annotations

import os
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from types import FrameType
    from typing import Any

    from ._types import (
        Environ,
        ErrorFile,
        OptExcInfo,
        StartResponse,
        WriteCallable,
        WSGIApplication,
    )

__all__ = ["Site", "main", "make_app"]

DEFAULT_CGI_DIRS = ("/cgi-bin/", "/htbin/")
# What waitress may hold of a response the client has not taken yet (its
# default is 16 MB per connection): 1 MiB keeps a streamed CGI response's
# memory flat at no cost in throughput on a local link.
_OUTBUF_HIGH_WATERMARK = 1 << 20
DEFAULT_PORT = 8000
DEFAULT_THREADS = 8
# Seconds that requests in flight get to finish after Ctrl-C or SIGTERM
# before their scripts are killed; a second signal cuts them at once.
GRACE = 5.0
_MAX_LOGGED_REQUEST = 8192
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def make_app(
    directory: str = ".",
    cgi_dirs: Iterable[str] = DEFAULT_CGI_DIRS,
    timeout: float = 60.0,
    listing: bool = True,
) -> Site:
    """The whole site as a WSGI application: static files from ``directory``,
    CGI scripts under each of ``cgi_dirs`` (URL paths, mapped onto the folder
    of the same name inside ``directory``).

    For production, e.g. ``gunicorn -w 4 "wsgicgi.serve:make_app()"`` or
    ``waitress-serve --call wsgicgi.serve:make_app`` from the site's folder.
    """
    return Site(directory, cgi_dirs=cgi_dirs, timeout=timeout, listing=listing)


def script_path() -> str:
    """The PATH given to scripts: the server's own, with the folder of the
    running Python first, so a gateway script's ``env python3`` finds a Python
    that has wsgicgi even when the server runs from a venv nobody activated."""
    path = os.environ.get("PATH", os.defpath)
    if sys.executable:
        folder = os.path.dirname(os.path.abspath(sys.executable))
        if path.split(os.pathsep)[:1] != [folder]:
            path = folder + os.pathsep + path
    return path


class Site:
    """Static files plus CGI folders; see ``make_app``."""

    def __init__(
        self,
        directory: str = ".",
        *,
        cgi_dirs: Iterable[str] = DEFAULT_CGI_DIRS,
        timeout: float = 60.0,
        listing: bool = True,
    ) -> None:
        from .host import CGIDirectory
        from .static import StaticFiles

        self.directory = os.path.abspath(directory)
        self.mounts: list[tuple[str, WSGIApplication]] = []
        roots: list[str] = []
        for url in cgi_dirs:
            prefix = mount_point(url)
            root = os.path.join(self.directory, *prefix.strip("/").split("/"))
            roots.append(root)
            app = CGIDirectory(
                root,
                env={"PATH": script_path()},
                inherit_env=(),
                timeout=timeout,
                document_root=self.directory,
                # As http.server: .py scripts run with this Python, exec bit or not.
                interpreters={".py": sys.executable},
            )
            self.mounts.append((prefix, app))
        self.mounts.sort(key=lambda mount: -len(mount[0]))
        # A script's source is never a static file, whatever the URL's case.
        self.static = StaticFiles(self.directory, listing=listing, private=roots)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not _clean(path):
            from .static import _error

            return _error(environ, start_response, 404)
        for prefix, app in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
                environ["PATH_INFO"] = path[len(prefix) :]
                return app(environ, start_response)
        return self.static(environ, start_response)


def mount_point(url: str) -> str:
    """``"cgi-bin"``, ``"/cgi-bin/"`` -> ``"/cgi-bin"``; refuses dot segments."""
    prefix = "/" + url.strip("/")
    if prefix == "/" or not _clean(prefix) or "//" in prefix:
        raise ValueError("not a CGI folder URL path: %r" % (url,))
    return prefix


def _clean(path: str) -> bool:
    # The server has percent-decoded the path, so "%2e%2e" is ".." by now.
    if "\0" in path:
        return False
    return not any(segment in (".", "..") for segment in path.split("/"))


# -- the command ------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="wsgicgi serve",
        # "--cgi" must never be read as an abbreviation of "--cgi-dir".
        allow_abbrev=False,
        description="Serve a folder: static files, and CGI scripts under /cgi-bin/ and /htbin/ "
        "(the job of the removed `python -m http.server --cgi`), on waitress.",
    )
    parser.add_argument(
        "port",
        nargs="?",
        type=int,
        default=DEFAULT_PORT,
        help="port (default %(default)s; 0: any free one)",
    )
    parser.add_argument(
        "-b",
        "--bind",
        default="127.0.0.1",
        metavar="ADDR",
        help="address to listen on (default %(default)s: this machine only; 0.0.0.0 or :: for every interface)",
    )
    parser.add_argument(
        "-d",
        "--directory",
        default=os.curdir,
        metavar="DIR",
        help="folder to serve (default: the current one)",
    )
    parser.add_argument(
        "--cgi-dir",
        action="append",
        metavar="URLPATH",
        help="URL path of a CGI folder inside DIR; repeat for more (default: /cgi-bin/ and /htbin/)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        metavar="N",
        help="worker threads (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds a script may stay silent before it is killed: 504 (default %(default)s)",
    )
    parser.add_argument(
        "--cgi",
        action="store_true",
        help="accepted for `python -m http.server --cgi` command lines; CGI folders are always served",
    )
    parser.add_argument(
        "--no-listing",
        action="store_true",
        help="404 instead of a listing for folders without index.html",
    )
    parser.add_argument(
        "--trusted-proxy",
        metavar="ADDR",
        help="the address of a reverse proxy (nginx, Apache) whose X-Forwarded-For and X-Forwarded-Proto "
        "are believed: scripts then see the client's REMOTE_ADDR and HTTPS=on behind TLS",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``wsgicgi serve ARGS``: serve until SIGINT or SIGTERM; returns the exit status."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C before the server was up
        return 130


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    directory = os.path.abspath(args.directory)
    if not os.path.isdir(directory):
        sys.stderr.write("wsgicgi serve: no such folder: %s\n" % directory)
        return 2
    if args.threads < 1 or args.timeout <= 0 or not 0 <= args.port <= 65535:
        sys.stderr.write("wsgicgi serve: --threads, --timeout and PORT must be positive\n")
        return 2
    try:
        import waitress  # noqa: F401
        import werkzeug  # noqa: F401
    except ImportError as exc:
        sys.stderr.write("wsgicgi serve: %s; install it with: pip install 'wsgicgi[serve]'\n" % exc)
        return 1
    from waitress.server import create_server

    cgi_dirs = args.cgi_dir if args.cgi_dir else DEFAULT_CGI_DIRS
    try:
        site = Site(directory, cgi_dirs=cgi_dirs, timeout=args.timeout, listing=not args.no_listing)
    except ValueError as exc:
        sys.stderr.write("wsgicgi serve: %s\n" % exc)
        return 2
    from . import __version__

    front = Front(site)
    try:
        server = create_server(
            front,
            host=args.bind,
            port=args.port,
            threads=args.threads,
            ident="wsgicgi/" + __version__,
            asyncore_use_poll=True,
            outbuf_high_watermark=_OUTBUF_HIGH_WATERMARK,
            **_proxy_settings(args.trusted_proxy),
        )
    except (OSError, ValueError) as exc:
        sys.stderr.write(
            "wsgicgi serve: cannot listen on %s port %s: %s\n" % (args.bind, args.port, exc)
        )
        return 1
    urls = [
        "http://%s:%d/" % ("[%s]" % host if ":" in host else host, port)
        for host, port in _addresses(server)
    ]
    mounts = ", ".join(prefix + "/" for prefix, _ in sorted(site.mounts))
    if args.bind in ("127.0.0.1", "::1", "localhost"):
        where = (
            "Listening on %s only: other machines cannot connect (--bind 0.0.0.0 to allow them)."
            % args.bind
        )
    else:
        where = "Listening on %s: every machine that can reach it may run the scripts." % args.bind
    sys.stdout.write(
        "Serving %s on %s (CGI scripts under %s)\n%s Ctrl-C to stop.\n"
        % (directory, " ".join(urls), mounts, where)
    )
    sys.stdout.flush()
    return serve_until_signal(server, front)


def _addresses(server: Any) -> list[tuple[str, int]]:
    # Any: waitress's stubs have effective_host/port only on the TCP server
    # subclasses create_server may return, effective_listen on the other.
    if hasattr(server, "effective_listen"):
        return [(str(host), int(port)) for host, port in server.effective_listen]
    return [(str(server.effective_host), int(server.effective_port))]


class Front:
    """The outermost WSGI layer of ``wsgicgi serve``: one Common Log Format
    line per request on stderr, a count of requests in flight, and 503 for
    new requests once the server is stopping."""

    def __init__(self, app: WSGIApplication, log: ErrorFile | None = None) -> None:
        self.app = app
        self.log = log
        self.lock = threading.Lock()
        self.active = 0
        self.stopping = False

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        record = _Record(self, environ)
        if self.stopping:
            record.status = "503"
            body = b"503 Service Unavailable: the server is stopping\n"
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
            )
            record.size = len(body)
            record.done()
            return [body]

        def logged_start_response(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> WriteCallable:
            record.status = status[:3]
            for name, value in headers:
                if name.lower() == "content-length" and value.isdigit():
                    record.length = int(value)
            return start_response(status, headers, exc_info)

        with self.lock:
            self.active += 1
        try:
            result = self.app(environ, logged_start_response)
        except BaseException:
            record.status = "500"
            self._finish(record)
            raise
        wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(wrapper, type) and type(result) is wrapper:
            # The server's own file wrapper, passed on untouched, keeps its
            # fast path: waitress sends the file from its I/O loop instead of
            # holding a worker thread until a slow client has read it all.
            record.size = record.length
            self._finish(record)
            return result
        return _Logged(result, record)

    def _finish(self, record: _Record) -> None:
        with self.lock:
            self.active -= 1
        record.done()

    def write_log(self, line: str) -> None:
        stream = self.log or sys.stderr
        with self.lock:
            try:
                stream.write(line)
                stream.flush()
            except (OSError, ValueError):
                pass


class _Record:
    __slots__ = ("environ", "front", "length", "size", "status", "when")

    def __init__(self, front: Front, environ: Environ) -> None:
        self.front = front
        self.environ = environ
        self.when = time.time()
        self.status = "-"
        self.size = 0
        self.length = 0

    def done(self) -> None:
        environ = self.environ
        request = "%s %s %s" % (
            environ.get("REQUEST_METHOD", "-"),
            environ.get("REQUEST_URI") or environ.get("RAW_URI") or "-",
            environ.get("SERVER_PROTOCOL", "-"),
        )
        if len(request) > _MAX_LOGGED_REQUEST:
            # As Apache's 8 KiB request line: a huge URL makes no huge log line.
            request = request[:_MAX_LOGGED_REQUEST] + "..."
        self.front.write_log(
            '%s - %s [%s] "%s" %s %s\n'
            % (
                environ.get("REMOTE_ADDR") or "-",
                _escape(environ.get("REMOTE_USER") or "-"),
                _clf_time(self.when),
                _escape(request),
                self.status,
                self.size or "-",
            )
        )


class _Logged:
    """The response iterable, counted for the log; ``close()`` is passed on."""

    def __init__(self, result: Iterable[bytes], record: _Record) -> None:
        self.result = result
        self.record = record
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        record = self.record
        for chunk in self.result:
            record.size += len(chunk)
            yield chunk

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.record.front._finish(self.record)


def _clf_time(when: float) -> str:
    t = time.localtime(when)
    offset = t.tm_gmtoff if t.tm_gmtoff is not None else 0
    sign = "-" if offset < 0 else "+"
    offset = abs(offset) // 60
    return "%02d/%s/%04d:%02d:%02d:%02d %s%02d%02d" % (
        t.tm_mday,
        _MONTHS[t.tm_mon - 1],
        t.tm_year,
        t.tm_hour,
        t.tm_min,
        t.tm_sec,
        sign,
        offset // 60,
        offset % 60,
    )


def _escape(text: str) -> str:
    # As Apache's log: no raw control bytes, quotes or non-ASCII from a client
    # can forge or break a log line.
    out: list[str] = []
    for byte in text.encode("latin-1", "replace"):
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append("\\x%02x" % byte)
    return "".join(out)


# -- running and stopping ---------------------------------------------------


def _proxy_settings(address: str | None) -> dict[str, Any]:
    # waitress drops every X-Forwarded-* header unless told which proxy to
    # believe; then it rewrites REMOTE_ADDR and wsgi.url_scheme from them.
    if not address:
        return {}
    return {
        "trusted_proxy": address,
        "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
    }


def serve_until_signal(server: Any, front: Front, grace: float = GRACE) -> int:
    """Run waitress's loop until SIGINT or SIGTERM, then stop cleanly.

    Stopping: no new connections (new requests on open ones get 503), the
    requests in flight get ``grace`` seconds to finish (a second signal ends
    the wait), then every CGI process still running is killed, process group
    and all; the answers already made are flushed; returns 0.
    """
    import signal

    from waitress import wasyncore
    from waitress.server import BaseWSGIServer

    socket_map = getattr(server, "_map", None)
    if socket_map is None:
        socket_map = server.map
    # Any: waitress's stubs do not model the server's private map, the
    # listeners' open socket, nor the float timeout shutdown() takes.
    listeners: list[Any] = [
        obj for obj in list(socket_map.values()) if isinstance(obj, BaseWSGIServer)
    ]
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        for listener in listeners:
            try:
                listener.pull_trigger()  # wake the loop now
            except OSError:
                pass

    def run(timeout: float) -> None:
        wasyncore.loop(timeout=timeout, map=socket_map, use_poll=True, count=1)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not received:
            run(1.0)
        front.stopping = True
        for listener in listeners:
            listener.accepting = False
            wasyncore.dispatcher.del_channel(listener)
            listener.socket.close()
        _note(
            "%s: stopping, %d request(s) in flight"
            % (signal.Signals(received[0]).name, front.active)
        )
        deadline = time.monotonic() + grace
        while front.active and len(received) < 2 and time.monotonic() < deadline:
            run(0.05)
        if front.active:
            _note("cutting %d request(s) still running" % front.active)
        _kill_scripts(lambda seconds: _run_for(run, seconds))
        deadline = time.monotonic() + 5.0
        while front.active and time.monotonic() < deadline:
            run(0.05)
        deadline = time.monotonic() + 1.0
        while _pending_output(socket_map) and time.monotonic() < deadline:
            run(0.05)
        server.task_dispatcher.shutdown(timeout=1.0)
        wasyncore.close_all(socket_map)
        _kill_scripts(time.sleep)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _run_for(run: Callable[[float], None], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run(min(0.05, seconds))


def _pending_output(socket_map: dict[int, Any]) -> bool:
    return any(getattr(channel, "total_outbufs_len", 0) for channel in list(socket_map.values()))


def _note(message: str) -> None:
    try:
        sys.stderr.write("wsgicgi serve: %s\n" % message)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _kill_scripts(wait: Callable[[float], object]) -> None:
    """SIGTERM the process group of every script still running, wait up to a
    second while the server reaps them, then SIGKILL what is left."""
    import signal

    from . import orphans

    def send(sig: int) -> None:
        for pgid in orphans.live_groups():
            try:
                os.killpg(pgid, sig)
            except OSError:
                pass

    if not orphans.live_groups():
        return
    send(signal.SIGTERM)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and orphans.live_groups():
        wait(0.05)
    send(signal.SIGKILL)
