"""One CGI child process: started, fed, read and always reaped.

The child runs in its own process group with three pipes and no other
inherited file descriptors.  One poll(2) loop, in the request's own thread,
writes the request body to the script's stdin whenever the pipe has room and
reads stdout and stderr whenever they have data, so a script that writes
megabytes before it reads its input cannot deadlock, one that never reads
stdin still completes, and no thread ever touches ``wsgi.input`` after the
request ends (nor needs one to: uWSGI without threads works too).  stderr is
forwarded line by line to ``wsgi.errors``.  The object is the WSGI response
iterable: iterating streams the body, ``close()`` kills what is left of the
process group and reaps the child.

While the client is still sending the request body, the script's output is
held back (in memory up to 1 MiB, then in an unnamed temporary file) instead
of being handed to the server: a client that sends its whole body before it
reads the response (http.client, requests) would otherwise block the server's
write, hence the feeding of stdin, hence its own send (issue 11).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time

from . import orphans
from .cgihead import CGIResponseError, cgi_status, parse_cgi_headers
from .protocol import HOP_BY_HOP, parse_content_length

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import IO, Any

    from ._types import AnyPath, ErrorFile, Headers

__all__ = ["MAX_HEAD", "ChildProcess", "ScriptError", "spawn"]

MAX_HEAD = 64 * 1024
_READ = 1 << 18
_WRITE = 1 << 16
_F_SETPIPE_SZ = 1031
_PIPE_SIZE = 1 << 20
_DEFAULT_PIPE = 1 << 16
_STDERR_LINE = 8192
_EXIT_GRACE = 2.0
_HOLD_IN_MEMORY = 1 << 20


class ScriptError(Exception):
    """The script did not produce a valid CGI response head."""

    def __init__(self, message: str, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


def spawn(
    argv: Sequence[AnyPath],
    env: Mapping[bytes, bytes],
    cwd: AnyPath | None,
    body: Any,
    length: int,
    errors: ErrorFile,
    name: str,
    timeout: float,
) -> ChildProcess:
    """Start ``argv`` as a CGI child and start feeding it ``length`` bytes of
    ``body``; returns the ``ChildProcess``."""
    # Our own pipes, handed to Popen as descriptors: Popen then wraps none of
    # them in file objects, which the per-request cost notices.
    ours: list[int | None] = []
    theirs: list[int] = []
    try:
        for i in range(3):
            read_end, write_end = os.pipe()
            if i == 0:  # stdin: the child reads
                read_end, write_end = write_end, read_end
            ours.append(read_end)
            theirs.append(write_end)
        # The child inherits this thread's signal mask, and some servers'
        # threads block most signals (Apache's, under embedded mod_wsgi): a
        # script's alarm() and SIGTERM handlers would never run.  Popen cannot
        # clear it in the child alone, so clear it around the spawn; threads
        # with nothing blocked (most) skip this.
        blocked = _blocked_signals()
        if blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)
        try:
            process = subprocess.Popen(
                argv,
                stdin=theirs[0],
                stdout=theirs[1],
                stderr=theirs[2],
                cwd=cwd,
                env=env,
                close_fds=True,
                start_new_session=True,
            )
        finally:
            if blocked:
                signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    except BaseException:
        for fd in ours:
            if fd is not None:
                os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    try:
        watched = orphans.track(process.pid)  # its group: start_new_session makes it the leader
        child = ChildProcess(process, ours, body, length, errors, name, timeout)
    except BaseException:  # pragma: no cover (a KeyboardInterrupt between the two lines)
        _kill_and_reap(process)
        for fd in ours:  # None: closed by the ChildProcess already
            if fd is not None:
                os.close(fd)
        raise
    child.watched = watched
    return child


class ChildProcess:
    """A running CGI script and the WSGI iterable of its response body."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        fds: list[int | None],
        body: Any,
        length: int,
        errors: ErrorFile,
        name: str,
        timeout: float,
    ) -> None:
        self.process = process
        self.errors = errors
        self.name = name
        self.timeout = timeout
        # Our ends of the child's stdin, stdout and stderr; _close_fd closes
        # each exactly once.
        self.fds = fds
        stdin, stdout, stderr = fds
        assert stdin is not None and stdout is not None and stderr is not None  # all open
        self.stdout: int | None = stdout
        self.stderr: int | None = stderr
        self.pending = b""
        self.remaining: int | None = None
        self.err_buffer = b""
        self.closed = False
        self.widened = False
        self.head_only = False
        self.poller = _Poller()
        self.poller.watch(stdout, select.POLLIN)
        self.poller.watch(stderr, select.POLLIN)
        self.body = body
        self.body_left = length
        # Read from the body, not yet taken by the script.
        self.unwritten: bytes | memoryview = b""
        self.stdin: int | None = None
        if length:
            self.stdin = stdin
            os.set_blocking(stdin, False)
            if length > _DEFAULT_PIPE:
                _widen_pipe(stdin)
            self.poller.watch(stdin, select.POLLOUT)
        else:
            self._close_fd(0)

    # -- the request body ------------------------------------------------

    def _feed(self, events: int) -> bool:
        """The script's stdin has room (or is gone): write the next piece of
        the request body.  Returns True when the script took some of it."""
        if events & (select.POLLERR | select.POLLHUP):
            self._stop_feeding()  # it closed its stdin: its right (RFC 3875 §4.2)
            return False
        try:
            if not self.unwritten:
                # May wait for the client: the script is waiting for it too.
                data = self.body.read(min(_WRITE, self.body_left))
                if not data:
                    self._log(
                        "request body ended %d bytes short of CONTENT_LENGTH" % self.body_left
                    )
                    self._stop_feeding()
                    return False
                self.body_left -= len(data)
                self.unwritten = memoryview(data)
            assert self.stdin is not None  # polled for POLLOUT only while open
            written = os.write(self.stdin, self.unwritten)
        except BlockingIOError:
            return False
        except (BrokenPipeError, ConnectionResetError):
            self._stop_feeding()  # the script stopped reading
            return False
        except Exception as exc:  # the server's wsgi.input failed: the client went away
            self._log("request body not delivered: %s" % (exc,))
            self._stop_feeding()
            return False
        self.unwritten = self.unwritten[written:]
        if not self.unwritten and not self.body_left:
            self._stop_feeding()  # all of it: EOF on the script's stdin
        return True

    def _stop_feeding(self) -> None:
        if self.stdin is not None:
            self.poller.unregister(self.stdin)
            self.stdin = None
            self.unwritten = b""
        self._close_fd(0)
        body, self.body = self.body, None
        if getattr(body, "owned", False):
            body.close()  # a spool of ours, not the server's wsgi.input

    # -- reading ---------------------------------------------------------

    def _wait_output(self, deadline: float, extend: bool = True) -> bytes:
        """Read whatever is ready; return stdout bytes, ``b""`` at EOF.

        The request body goes to stdin and stderr lines to the log as they
        can.  Raises ``ScriptError`` (timeout) when the deadline passes with
        nothing on stdout; with ``extend``, body the script takes moves the
        deadline on, as it was waiting for its input, not silent.
        """
        while True:
            if self.stdout is None:
                return b""
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise ScriptError("no output for %g seconds" % self.timeout, timeout=True)
            for fd, events in self.poller.ready(wait):
                if fd == self.stdin:
                    if self._feed(events) and extend:
                        deadline = max(deadline, time.monotonic() + self.timeout)
                    continue
                data = self._read(fd)
                if data is None:
                    continue
                if not self.widened and len(data) >= _DEFAULT_PIPE:
                    # A full default pipe: a big response.  Widen it then,
                    # not for every small one (pipe pages are a per-user
                    # budget, /proc/sys/fs/pipe-user-pages-soft).
                    self.widened = True
                    _widen_pipe(fd)
                return data

    def _read(self, fd: int) -> bytes | None:
        """Read a ready stdout or stderr: stdout's bytes (``b""`` at its
        EOF), or None for stderr, whose lines go to the log."""
        data = os.read(fd, _READ)
        if fd == self.stderr:
            self._stderr(data)
            if not data:
                self._unregister(fd)
                self.stderr = None
            return None
        if not data:
            self._unregister(fd)
            self.stdout = None
        return data

    def _unregister(self, fd: int) -> None:
        self.poller.unregister(fd)

    def _stop_reading_stdout(self) -> None:
        # Past Content-Length: closing our end makes further writes fail
        # (EPIPE), so the script ends instead of filling the pipe.
        if self.stdout is not None:
            self._unregister(self.stdout)
            self.stdout = None
            self._close_fd(1)

    def _close_fd(self, index: int) -> None:
        fd, self.fds[index] = self.fds[index], None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def _stderr(self, data: bytes) -> None:
        buffer = self.err_buffer + data
        if not data:
            if buffer:
                self._log(buffer.decode("utf-8", "backslashreplace"), script=True)
            self.err_buffer = b""
            return
        lines = buffer.split(b"\n")
        self.err_buffer = lines.pop()
        if len(self.err_buffer) > _STDERR_LINE:
            lines.append(self.err_buffer)
            self.err_buffer = b""
        for line in lines:
            self._log(line.rstrip(b"\r").decode("utf-8", "backslashreplace"), script=True)

    def _log(self, message: str, script: bool = False) -> None:
        try:
            self.errors.write(
                ("%s: %s\n" if script else "wsgicgi: %s: %s\n") % (self.name, message)
            )
            self.errors.flush()
        except Exception:
            pass

    def read_head(self, nph: bool = False) -> tuple[str | None, Headers]:
        """Read and parse the response head (RFC 3875 §6.2–6.3).

        Returns ``(status or None, headers)`` without hop-by-hop headers; an
        ``nph-`` script's own status line becomes the status.  Raises
        ``ScriptError`` for a missing or malformed head, more than 64 KiB of
        it, or silence for ``timeout`` seconds.
        """
        deadline = time.monotonic() + self.timeout
        buffer = b""
        searched = 0
        while True:
            end, skip = _head_end(buffer, max(0, searched - 3))
            if end >= 0:
                break
            if len(buffer) > MAX_HEAD:
                raise ScriptError("response head larger than %d bytes" % MAX_HEAD)
            searched = len(buffer)
            data = self._wait_output(deadline)
            if not data:
                if not buffer:
                    raise ScriptError("exited without a response%s" % self._exit_note())
                raise ScriptError(
                    "output ended before the blank line after the headers%s" % self._exit_note()
                )
            buffer += data
        if end > MAX_HEAD:
            raise ScriptError("response head larger than %d bytes" % MAX_HEAD)
        block, self.pending = buffer[:end], buffer[end + skip :]
        status: str | None = None
        if nph:
            status, block = _nph_status(block)
        if not block and status is None:
            raise ScriptError("no header lines in the response")
        try:
            cgi_status, headers = parse_cgi_headers(block) if block else (None, [])
        except CGIResponseError as exc:
            raise ScriptError(str(exc)) from None
        if status is None:
            status = cgi_status
        kept: Headers = []
        for name, value in headers:
            lower = name.lower()
            if lower in HOP_BY_HOP:
                continue
            if lower == "content-length":
                # More than 18 digits is no length any body can have.
                length = parse_content_length(value) if 0 < len(value) <= 18 else None
                if length is None:
                    raise ScriptError("invalid Content-Length %r" % value[:80])
                self.remaining = length
            kept.append((name, value))
        return status, kept

    def read_small_body(self, limit: int, wait: float) -> bytes | None:
        """The whole body, if the script closes its stdout within ``wait``
        seconds and ``limit`` bytes; else None, and what was read stays
        pending for the stream."""
        deadline = time.monotonic() + wait
        while len(self.pending) <= limit:
            try:
                data = self._wait_output(deadline, extend=False)
            except ScriptError:
                return None
            if not data:
                body, self.pending = self.pending, b""
                return body
            self.pending += data
        return None

    def end(self) -> None:
        """The body is complete: collect stderr, reap, release everything."""
        self._finish_body()

    def _exit_note(self) -> str:
        code = _wait_exit(self.process, 0.2)
        return "" if code is None else " (%s)" % _describe_exit(code)

    # -- the WSGI iterable -----------------------------------------------

    def __iter__(self) -> ChildProcess:
        return self

    def __next__(self) -> bytes:
        if self.head_only:
            self._discard_body()
            raise StopIteration
        if self.remaining == 0:
            # The script's Content-Length is complete: whatever it does
            # next is not part of this response.
            self.pending = b""
            if not self.closed:
                self._stop_reading_stdout()
                self._finish_body()
            raise StopIteration
        if self.stdin is not None and self.body_left:
            self._hold()  # the client is still sending its body
        if self.pending:
            data, self.pending = self.pending, b""
        else:
            data = self._next_held() if self.held is not None else b""
            if data:
                pass
            elif self.closed:
                raise StopIteration
            else:
                try:
                    data = self._wait_output(time.monotonic() + self.timeout)
                except ScriptError as exc:
                    self._log("body cut: %s" % exc)
                    self.kill()
                    raise StopIteration from None
                if not data:
                    self._finish_body()
                    raise StopIteration
        if self.remaining is not None:
            if len(data) >= self.remaining:
                if len(data) > self.remaining:
                    self._log("output beyond Content-Length discarded")
                data = data[: self.remaining]
                self.remaining = 0
                self.pending = b""
                self._stop_reading_stdout()
                if not data:
                    self._finish_body()
                    raise StopIteration
            else:
                self.remaining -= len(data)
        return data

    held: _Held | None = None  # output kept back while the request body arrived

    def _hold(self) -> None:
        """Read the script's output into a ``_Held`` instead of returning it,
        while feeding stdin, until the client has sent the whole body (or the
        script closes its stdin or stdout).  Issue 11: a server's write
        blocks while a half-duplex client is still sending, which would stop
        the feeding and so the client's send: a deadlock."""
        if getattr(self.body, "owned", False):
            return  # a spool of ours: the client sent it all already
        held = None
        if self.pending:
            held = self.held = _Held()
            held.write(self.pending)
            self.pending = b""
        deadline = time.monotonic() + self.timeout
        try:
            while self.stdin is not None and self.body_left and self.stdout is not None:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    raise ScriptError("no output for %g seconds" % self.timeout, timeout=True)
                for fd, events in self.poller.ready(wait):
                    if fd == self.stdin:
                        if self._feed(events):
                            deadline = max(deadline, time.monotonic() + self.timeout)
                        continue
                    data = self._read(fd)
                    if not data:
                        continue
                    if held is None:
                        held = self.held = _Held()
                    held.write(data)
                    deadline = time.monotonic() + self.timeout
                    if not self.widened and len(data) >= _DEFAULT_PIPE:
                        self.widened = True
                        _widen_pipe(fd)
        except (ScriptError, OSError) as exc:  # OSError: no room for the temporary file
            # What was held is delivered; the body ends there.
            self._log("body cut: %s" % exc)
            self.kill()
            self._stop_reading_stdout()
            self._stop_feeding()

    def _next_held(self) -> bytes:
        held = self.held
        assert held is not None  # __next__ checked
        data = held.read()
        if not data:
            held.close()
            self.held = None
        return data

    def _discard_body(self) -> None:
        # HEAD (RFC 3875 §4.3.3): the script may write a body; let it finish
        # and drop what it writes.
        self.head_only = False
        self.pending = b""
        try:
            while self._wait_output(time.monotonic() + self.timeout):
                pass
        except ScriptError as exc:
            self._log("HEAD cut: %s" % exc)
            self.kill()
            self.close()
            return
        self._finish_body()

    def _finish_body(self) -> None:
        # stdout is done: collect the rest of stderr briefly, then reap.
        self.drain_stderr()
        self.close()

    def drain_stderr(self) -> None:
        """Forward what is left on stderr until it ends, for at most a
        couple of seconds (stdout, if still open, is read and dropped; the
        rest of the request body is not delivered)."""
        self._stop_feeding()
        deadline = time.monotonic() + _EXIT_GRACE
        while self.stderr is not None and time.monotonic() < deadline:
            for fd, _ in self.poller.ready(max(0.0, deadline - time.monotonic())):
                self._read(fd)

    killed = False
    watched: int | None = None  # orphans.track's token until the child is reaped

    def close(self) -> None:
        """End the request: kill what is left of the process group, reap the
        child and close every pipe."""
        if self.closed:
            return
        self.closed = True
        process = self.process
        code = process.poll()
        if code is None and self.stdout is None:
            code = _wait_exit(process, _EXIT_GRACE)
        if code is None:
            # The response was closed before the script finished (the
            # client went away) or the script outstayed its output.
            self._log("killed: the response ended before the script did")
            self.kill()
            code = process.wait()
        # A script's backgrounded leftovers end with its request.
        self._kill_group()
        if code and not self.killed:
            self._log(_describe_exit(code))
        self.finish()

    def kill(self) -> None:
        """Kill the whole process group (grandchildren too)."""
        self.killed = True
        self._kill_group()

    def _kill_group(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def finish(self) -> None:
        """Reap the child and release every resource (idempotent)."""
        self.closed = True
        process = self.process
        if process.returncode is None:
            process.wait()
        if self.watched is not None:
            orphans.untrack(self.watched)
            self.watched = None
        self._stop_feeding()
        self._close_fd(1)
        self._close_fd(2)
        if self.held is not None:
            self.held.close()
            self.held = None


class _Held:
    """Output held back while the request body arrives: the first MiB in
    memory, the rest in an unnamed temporary file (``tempfile.gettempdir()``,
    so TMPDIR), which has no name to leave behind and is gone once closed.
    Written first, then read back once, in order."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.taken = 0
        self.file: IO[bytes] | None = None
        self.reading = False

    def write(self, data: bytes) -> None:
        if self.file is None:
            if self.size + len(data) <= _HOLD_IN_MEMORY:
                self.chunks.append(data)
                self.size += len(data)
                return
            import tempfile

            self.file = tempfile.TemporaryFile(buffering=0)
        view = memoryview(data)
        while view:
            view = view[self.file.write(view) :]

    def read(self) -> bytes:
        """The next piece of what was held; ``b""`` once it is all read."""
        if self.taken < len(self.chunks):
            data, self.chunks[self.taken] = self.chunks[self.taken], b""
            self.taken += 1
            return data
        if self.file is None:
            return b""
        if not self.reading:
            self.reading = True
            self.file.seek(0)
        return self.file.read(_READ)

    def close(self) -> None:
        self.chunks = []
        self.taken = 0
        if self.file is not None:
            self.file.close()
            self.file = None


class _Poller:
    """poll(2) over the child's pipes: no descriptor of its own to create
    and close per request, unlike epoll."""

    def __init__(self) -> None:
        self.poll = select.poll()

    def watch(self, fd: int, events: int) -> None:
        self.poll.register(fd, events)

    def unregister(self, fd: int) -> None:
        self.poll.unregister(fd)

    def ready(self, timeout: float) -> list[tuple[int, int]]:
        """``(fd, events)`` of the descriptors ready (or at EOF, or broken)
        within ``timeout`` seconds."""
        return self.poll.poll(max(0, int(timeout * 1000 + 0.999)))


def _head_end(buffer: bytes, start: int) -> tuple[int, int]:
    """Where the head ends: ``(index of the LF ending the last header line,
    bytes from there to the body)``, or ``(-1, 0)`` when the blank line has not
    come yet.  Lines may end in LF or CRLF (RFC 3875 §6.2 says CRLF; scripts
    send both); a buffer that starts with a blank line has an empty head."""
    for blank in (b"\n", b"\r\n"):
        if buffer.startswith(blank):
            return 0, len(blank)
    index = buffer.find(b"\n", start)
    while index >= 0:
        after = index + 1
        if buffer[after : after + 1] == b"\r":
            after += 1
        if buffer[after : after + 1] == b"\n":
            return index, after + 1 - index
        index = buffer.find(b"\n", index + 1)
    return -1, 0


def _nph_status(block: bytes) -> tuple[str | None, bytes]:
    # An nph- script speaks HTTP itself: "HTTP/1.1 200 OK" comes first; what
    # follows the version is checked as a Status header would be.
    first, _, rest = block.partition(b"\n")
    first = first.rstrip(b"\r")
    if not first.startswith(b"HTTP/"):
        return None, block
    _, _, status = first.decode("latin-1").partition(" ")
    try:
        return cgi_status(status.strip(" ")), rest
    except CGIResponseError:
        raise ScriptError("invalid nph status line %r" % first[:80]) from None


def _kill_and_reap(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass
    process.wait()


def _blocked_signals() -> set[int | signal.Signals] | tuple[()]:
    try:
        return signal.pthread_sigmask(signal.SIG_BLOCK, ())
    except (AttributeError, OSError, ValueError):  # pragma: no cover (no pthread_sigmask)
        return ()


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return "killed by signal %s" % name
    return "exited with status %d" % code


def _wait_exit(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """The exit status of ``process`` within ``timeout`` seconds, else None.

    ``Popen.wait(timeout)`` polls with sleeps that cost a millisecond or more
    per request; a pidfd (Linux 5.3+) wakes up exactly when the child exits.
    """
    code = process.poll()
    if code is not None:
        return code
    try:
        fd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # pragma: no cover (no pidfd: Linux < 5.3, not Linux)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.poll(timeout * 1000)
    finally:
        os.close(fd)
    return process.poll()


def _widen_pipe(fd: int) -> None:
    # Bigger pipes mean fewer wake-ups when a script streams megabytes.
    try:
        import fcntl

        fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_SIZE)
    except (ImportError, OSError):  # pragma: no cover (not Linux, or over the user's pipe budget)
        pass
