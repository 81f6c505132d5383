"""A watchdog that kills the scripts of a server process that died.

Each script runs in a process group of its own, so nothing ends it when the
server process dies without cleaning up: a worker SIGKILLed by gunicorn's
timeout, a mod_wsgi daemon process stopped with requests in flight.  A script
stuck in silence would then live on with nobody left to enforce its timeout.

So each server process gets one small ``/bin/sh`` watchdog, started with the
first script.  The server keeps the live script groups in a file, one
fixed-width slot per running script, written in place; the watchdog shares
that file and blocks reading a pipe the server never writes to and no script
holds (close-on-exec).  The pipe ends only when the server process does: then
the watchdog kills every group still listed.  A request costs two ``pwrite``
calls and wakes nobody.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import tempfile
import threading

__all__ = ["WATCHDOG_NAME", "live_groups", "track", "untrack"]

WATCHDOG_NAME = "wsgicgi-watchdog"
_SLOT = 11  # "%10d\n": a pid or a blank line
_BLANK = b" " * (_SLOT - 1) + b"\n"

# stdin is the pipe, stdout the file of live groups; $0, the name ps shows.
_WATCHDOG = """\
while read -r _; do :; done
while read -r g; do
    [ -n "$g" ] && kill -s KILL -- "-$g" 2>/dev/null
done <&1
"""

_lock = threading.Lock()
_pid: int | None = None  # the process the state below belongs to (not a fork of it)
_live: dict[
    int, tuple[int, int | None]
] = {}  # token -> (pgid, slot or None): this process's running scripts
_tokens = itertools.count()
_groups: int | None = None  # the file of slots, or None when there is no watchdog
_free: list[int] = []  # slots to reuse
_used = 0  # slots handed out so far
_keep: (
    tuple[subprocess.Popen[bytes], int] | tuple[()]
) = ()  # the watchdog's Popen and our end of its pipe, for as long as we live


def track(pgid: int) -> int:
    """The script group ``pgid`` has started: kill it if this process dies
    (when the watchdog runs; the request goes on unwatched where it cannot).
    Returns the token for ``untrack``.  Never raises."""
    global _used
    with _lock:
        if _pid != os.getpid():
            _start()
        slot: int | None = None
        if _groups is not None:
            if _free:
                slot = _free.pop()
            else:
                slot, _used = _used, _used + 1
            if not _write(b"%10d\n" % pgid, slot):
                slot = None
        token = next(_tokens)
        _live[token] = (pgid, slot)
        return token


def untrack(token: int) -> None:
    """The group ``track`` returned ``token`` for has ended (and was killed)."""
    with _lock:
        _, slot = _live.pop(token, (None, None))
        if slot is not None and _groups is not None and _write(_BLANK, slot):
            _free.append(slot)


def live_groups() -> list[int]:
    """The process groups of this process's scripts still running."""
    with _lock:
        return [pgid for pgid, _ in _live.values()]


def _write(line: bytes, slot: int) -> bool:
    assert _groups is not None  # callers hold the lock and checked
    try:
        os.pwrite(_groups, line, slot * _SLOT)
        return True
    except OSError:
        # A full disk, a file size limit: a list the watchdog can no longer
        # trust is worse than none, so it goes, and requests run unwatched.
        _disarm()
        return False


def _start() -> None:
    global _pid, _groups, _keep
    _forget()
    _pid = os.getpid()
    groups: int | None = None
    read_end: int | None = None
    write_end: int | None = None
    try:
        groups = _group_file()
        read_end, write_end = os.pipe()
        watchdog = subprocess.Popen(
            ["/bin/sh", "-c", _WATCHDOG, WATCHDOG_NAME],
            stdin=read_end,
            stdout=groups,
            stderr=subprocess.DEVNULL,
            cwd="/",
            env={"PATH": "/usr/bin:/bin"},
            close_fds=True,
            # Its own session: a signal for the server's group (Ctrl-C) must
            # not take the watchdog down before it has done its job.
            start_new_session=True,
        )
    except (OSError, ValueError):
        for fd in (groups, write_end):
            if fd is not None:
                os.close(fd)
        return
    finally:
        if read_end is not None:
            os.close(read_end)
    _groups = groups
    _keep = (watchdog, write_end)


def _group_file() -> int:
    if hasattr(os, "memfd_create"):
        try:
            return os.memfd_create("wsgicgi-groups")
        except OSError:
            pass
    handle = tempfile.TemporaryFile()
    fd = os.dup(handle.fileno())
    handle.close()
    return fd


def _disarm() -> None:
    # Stop the watchdog without letting it act: killed, it runs no list.
    global _groups, _keep
    if _keep:
        watchdog, write_end = _keep
        try:
            watchdog.kill()
            watchdog.wait()
        except OSError:
            pass
        os.close(write_end)
    if _groups is not None:
        os.close(_groups)
    _groups, _keep = None, ()
    del _free[:]


def _forget() -> None:
    # After a fork (a gunicorn worker) the parent's watchdog is not ours:
    # holding its pipe open would keep it from ever seeing its server end.
    global _pid, _groups, _keep, _used
    for fd in [_groups] + ([_keep[1]] if _keep else []):
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
    _pid = _groups = None
    _keep = ()
    _live.clear()
    del _free[:]
    _used = 0


def _after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # another thread of the parent may have held it
    _forget()


try:
    os.register_at_fork(after_in_child=_after_fork)
except (AttributeError, RuntimeError):  # pragma: no cover
    pass  # isolated subinterpreters refuse it; track() still sees a new pid
