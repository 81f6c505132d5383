"""``wsgicgi fcgi``: a FastCGI server for nginx, Apache's mod_proxy_fcgi,
spawn-fcgi or systemd.

Where it listens: ``--bind unix:PATH`` or ``--bind HOST:PORT``; without
``--bind``, the socket systemd passed (LISTEN_FDS) or the listening socket on
fd 0 (spawn-fcgi, mod_fcgid, lighttpd).  What it serves: APP, or with
``--cgi-dir DIR`` the CGI scripts inside DIR (fcgiwrap's job).
"""

from __future__ import annotations

import os
import socket
import stat
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

    from ._types import WSGIApplication

__all__ = ["main", "open_listener"]

_SD_LISTEN_FDS_START = 3


class ListenError(Exception):
    """The socket to serve cannot be had."""


def _parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="wsgicgi fcgi",
        allow_abbrev=False,
        description="Serve a WSGI app, or a folder of CGI scripts, over FastCGI (RESPONDER role). "
        "More processes come from the process manager (spawn-fcgi -F N, systemd, mod_fcgid).",
    )
    parser.add_argument(
        "app",
        nargs="?",
        metavar="APP",
        help="module:attr, module:factory(), module, or a .py/.wsgi file",
    )
    parser.add_argument(
        "--cgi-dir",
        metavar="DIR",
        help="serve the CGI scripts inside DIR instead of an APP (replaces fcgiwrap)",
    )
    parser.add_argument(
        "-b",
        "--bind",
        metavar="ADDR",
        help="unix:PATH or HOST:PORT (default: systemd's LISTEN_FDS, else the listening socket on fd 0)",
    )
    parser.add_argument(
        "--socket-mode",
        metavar="MODE",
        type=lambda v: int(v, 8),
        help="permissions of a unix:PATH socket, in octal, e.g. 660 (the web server's user needs write permission)",
    )
    parser.add_argument(
        "--socket-group", metavar="GROUP", help="group of a unix:PATH socket, e.g. www-data"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="requests served at once by this process (default 1)",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=0,
        metavar="N",
        help="exit gracefully after N requests, for the process manager to start a fresh process (default: never)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds requests in flight get to finish after SIGTERM or SIGINT (default %(default)s)",
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds the web server may stall inside a request before the connection is closed (default %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="with --cgi-dir: seconds a script may stay silent before it is killed: 504 (default %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``wsgicgi fcgi ARGS``: serve until stopped; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.app is None) == (args.cgi_dir is None):
        parser.error("give an APP or --cgi-dir DIR (one of them)")
    from . import fcgiserver

    fcgiserver.exit_on_stop_signals()
    try:
        listener, cleanup = open_listener(args.bind, args.socket_mode, args.socket_group)
    except (ListenError, OSError) as exc:
        sys.stderr.write("wsgicgi fcgi: %s\n" % (exc,))
        return 2
    try:
        if args.cgi_dir is not None:
            if not os.path.isdir(args.cgi_dir):
                sys.stderr.write("wsgicgi fcgi: --cgi-dir %s is not a folder\n" % args.cgi_dir)
                return 2
            from .fcgiwrap import ScriptFolder

            app: WSGIApplication = ScriptFolder(args.cgi_dir, timeout=args.timeout)
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:
                sys.path.insert(0, os.getcwd())
            app = fcgiserver.load(args.app)
        return fcgiserver.serve(
            app,
            listener,
            threads=args.threads,
            max_requests=args.max_requests,
            grace=args.grace,
            read_timeout=args.read_timeout,
            cleanup=cleanup,
        )
    finally:
        cleanup()


def open_listener(
    bind: str | None = None, mode: int | None = None, group: str | None = None
) -> tuple[socket.socket, Callable[[], None]]:
    """``(listening socket, cleanup)`` for ``--bind`` (see the module's doc)."""
    if bind is None:
        return _inherited(), lambda: None
    if bind.startswith("unix:"):
        return _unix(bind[5:], mode, group)
    host, colon, port = bind.rpartition(":")
    if not colon or not port.isdigit():
        raise ListenError("--bind %r: want unix:PATH or HOST:PORT" % (bind,))
    host = host.strip("[]") or "127.0.0.1"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(socket.SOMAXCONN)
    except OSError:
        sock.close()
        raise
    return sock, lambda: None


def _inherited() -> socket.socket:
    # systemd socket activation (sd_listen_fds(3)): LISTEN_FDS sockets from
    # fd 3, meant for this process only; the variables are removed so that
    # CGI scripts started from here do not take them for theirs.
    fds = os.environ.get("LISTEN_FDS")
    pid = os.environ.get("LISTEN_PID")
    if fds and fds.isdigit() and int(fds) >= 1 and (not pid or pid == str(os.getpid())):
        for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
            os.environ.pop(name, None)
        return socket.socket(fileno=_SD_LISTEN_FDS_START)
    from .gateway import listening_on_stdin

    if listening_on_stdin():
        return socket.socket(fileno=0)
    raise ListenError(
        "no --bind given, no LISTEN_FDS from systemd, and fd 0 is not a listening socket"
    )


def _unix(
    path: str, mode: int | None, group: str | None
) -> tuple[socket.socket, Callable[[], None]]:
    if not path:
        raise ListenError("--bind unix: needs a path")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(info.st_mode):
            raise ListenError("%s exists and is not a socket" % path)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # left by a process that died
        else:
            raise ListenError("%s: another server is listening there" % path)
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        if mode is not None:
            os.chmod(path, mode)
        if group is not None:
            import grp

            os.chown(path, -1, grp.getgrnam(group).gr_gid if not group.isdigit() else int(group))
        sock.listen(socket.SOMAXCONN)
    except (OSError, KeyError) as exc:
        sock.close()
        try:
            os.unlink(path)
        except OSError:
            pass
        if isinstance(exc, KeyError):
            raise ListenError("--socket-group %s: no such group" % group) from None
        raise
    inode = os.stat(path).st_ino

    def cleanup() -> None:
        try:
            if os.stat(path).st_ino == inode:
                os.unlink(path)
        except OSError:
            pass

    return sock, cleanup
