"""FastCGI: the gateway kept warm (the RESPONDER role of FastCGI 1.0).

A connection carries one request at a time (no multiplexing: FCGI_MPXS_CONNS
is 0).  Each request goes through the gateway's own request path
(``gateway.serve_request``): the same environ, the same checks of status and
headers, the same error pages and client-gone handling as a CGI request,
with records on a socket instead of env, stdin and stdout.

The process manager (mod_fcgid, lighttpd, spawn-fcgi, systemd) owns the
processes; here one process serves its listening socket with ``threads``
requests at once, and stops gracefully on SIGTERM or SIGINT, or after
``max_requests``.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

from . import fcgi
from .fcgi import ProtocolError
from .gateway import _Response, serve_request

TYPE_CHECKING = False
if TYPE_CHECKING:
    import queue
    from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
    from types import FrameType
    from typing import Any, Literal, NoReturn

    from typing_extensions import TypedDict, Unpack

    from ._types import Environ, StartResponse, WSGIApplication
    from .fcgi import Buffer

    class ServerOptions(TypedDict, total=False):
        """``Server``'s keywords that ``serve`` passes on."""

        threads: int
        max_requests: int | None
        grace: float | None
        read_timeout: float
        max_params: int
        cleanup: Callable[[], object] | None


__all__ = ["Server", "serve_spec", "serve_stdin"]

_MAX_PARAMS = 1 << 20  # bytes of PARAMS a request may send
_READ_TIMEOUT = 60.0  # seconds a started record or request may stall
_GRACE = 10.0  # seconds in-flight requests get after SIGTERM
_FLUSH_AT = 1 << 16
_MAX_IDLE = 256  # kept connections waiting at once; the oldest is closed past it
_TRUE = ("on", "1", "yes", "ON", "On", "YES", "Yes", "true")


class _Gone(BrokenPipeError):
    """The web server closed the connection or aborted the request."""


def _log(message: str) -> None:
    try:
        sys.stderr.write("wsgicgi: %s\n" % (message,))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class _Input:
    """The request body: the STDIN records of the current request, read as
    the application asks for them (FastCGI spec §5.3), so memory holds at
    most one record whatever the size of the body."""

    __slots__ = ("_buf", "_conn")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._buf = b""

    def read(self, size: int | None = -1) -> bytes:
        buf = self._buf
        if size is None or size < 0:
            parts = [buf]
            while True:
                data = self._conn.next_stdin()
                if not data:
                    break
                parts.append(data)
            self._buf = b""
            return b"".join(parts)
        if len(buf) < size:
            parts = [buf]
            have = len(buf)
            while have < size:
                data = self._conn.next_stdin()
                if not data:
                    break
                parts.append(data)
                have += len(data)
            buf = b"".join(parts)
        self._buf = buf[size:]
        return buf[:size]

    def readline(self, size: int | None = -1) -> bytes:
        buf = self._buf
        limit = size if size is not None and size >= 0 else -1
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end >= 0:
                end += 1
                break
            if 0 <= limit <= len(buf):
                end = limit
                break
            start = len(buf)
            data = self._conn.next_stdin()
            if not data:
                end = len(buf)
                break
            buf += data
        if 0 <= limit < end:
            end = limit
        self._buf = buf[end:]
        return buf[:end]


class _Output:
    """The response: STDOUT records (§5.3), sent when the gateway flushes."""

    __slots__ = ("_conn", "_parts", "_rid", "_size", "failed")

    def __init__(self, conn: Connection, request_id: int) -> None:
        self._conn = conn
        self._rid = request_id
        self._parts: list[bytes] = []
        self._size = 0
        self.failed = False  # a write met the connection gone (the gateway logged it)

    def write(self, data: bytes) -> int:
        if self._conn.gone:
            self.failed = True
            raise _Gone("the web server %s" % self._conn.gone)
        self._parts.append(data)
        self._size += len(data)
        if self._size >= _FLUSH_AT:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._parts:
            try:
                self._conn.check_abort()
                self._conn.send(self.records())
            except _Gone:
                self.failed = True
                raise

    def records(self) -> list[Buffer]:
        parts = self._parts
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self._parts = []
        self._size = 0
        return fcgi.stream(fcgi.STDOUT, self._rid, data)

    def fileno(self) -> NoReturn:
        raise OSError(errno.EBADF, "a FastCGI response is not a file")


class _Errors:
    """``wsgi.errors``: text sent as STDERR records (the web server's error
    log); once the connection is gone, the process's own stderr."""

    def __init__(self, conn: Connection, request_id: int) -> None:
        self._conn = conn
        self._rid = request_id
        self._parts: list[str] = []
        self.sent = False

    def write(self, text: str) -> None:
        if self._conn.gone:
            sys.stderr.write(text)
            return
        self._parts.append(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._conn.gone:
            sys.stderr.flush()
            return
        if self._parts:
            try:
                self._conn.send(self.records())
            except OSError:
                pass

    def records(self) -> list[Buffer]:
        if not self._parts:
            return []
        data = "".join(self._parts).encode("utf-8", "backslashreplace")
        self._parts = []
        self.sent = True
        return fcgi.stream(fcgi.STDERR, self._rid, data)


class Connection:
    """One connection from the web server: requests one after another."""

    def __init__(self, sock: socket.socket, server: Server) -> None:
        self.sock = sock
        self.server = server
        self.reader = fcgi.RecordReader(recv_into=sock.recv_into)
        self.request_id = 0
        self.stdin_done = True
        self.gone: str | None = None  # why the connection cannot be written to any more
        self._poll: select.poll | None = None

    # -- the connection's life ------------------------------------------------

    def serve_next(self) -> bool:
        """Serve what the web server sent next: management records, then at
        most one request.  True when the connection stays open for more
        (FCGI_KEEP_CONN, §5.1), False once it is closed."""
        server = self.server
        try:
            begin = self.next_request()
            if begin is None:
                self.close()
                return False
            if begin is True:
                return True  # only management records: wait for more
            request_id, keep, params = begin
            self.serve_one(request_id, params)
            if keep and not self.gone and not server.stopping:
                return True
        except ProtocolError as exc:
            _log("FastCGI connection closed: %s" % exc)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                _log(
                    "FastCGI connection closed: nothing received for %g s inside a request"
                    % server.read_timeout
                )
            elif not self.gone:
                _log("FastCGI connection lost: %s" % exc)
        self.close()
        return False

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def next_request(self) -> tuple[int, bool, dict[str, str]] | Literal[True] | None:
        """Read up to the next BEGIN_REQUEST of the RESPONDER role and its
        PARAMS: ``(request_id, keep_conn, params)``; True when what was
        there has been answered and nothing more is buffered; None when the
        web server closed the connection (or asked for it to be closed)."""
        while True:
            try:
                rec = self.reader.read()
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK) and not self.reader.started():
                    return True  # the read timeout, nothing started: idle
                raise
            if rec is None:
                return None
            rtype, rid, content = rec
            if rid == 0:
                self.management(rtype, content)
            elif rtype == fcgi.BEGIN_REQUEST:
                if len(content) < 8:
                    raise ProtocolError("BEGIN_REQUEST body of %d bytes" % len(content))
                role, flags = fcgi.BEGIN_BODY.unpack_from(content)
                keep = bool(flags & fcgi.KEEP_CONN)
                if role != fcgi.RESPONDER:
                    # §5.1: only the Responder role is served here.
                    self.send([fcgi.end_request(rid, 0, fcgi.UNKNOWN_ROLE)])
                    if not keep:
                        return None
                else:
                    self.request_id = rid
                    self.stdin_done = False
                    params = self.read_params(rid)
                    if params is not None:
                        return rid, keep, params
            # Anything else belongs to a request already ended: §3.3, ignored.
            if not self.reader.started():
                return True

    def read_params(self, rid: int) -> dict[str, str] | None:
        parts: list[bytes] = []
        size = 0
        while True:
            rtype, record_id, content = self.read_record()
            if record_id == rid:
                if rtype == fcgi.PARAMS:
                    if not content:
                        break
                    size += len(content)
                    if size > self.server.max_params:
                        raise ProtocolError("PARAMS over %d bytes" % self.server.max_params)
                    parts.append(content)
                elif rtype == fcgi.ABORT_REQUEST:
                    self.send([fcgi.end_request(rid)])
                    self.request_id = 0
                    self.stdin_done = True
                    return None
                elif rtype == fcgi.STDIN:
                    raise ProtocolError("STDIN before the end of PARAMS")
        # The last of a repeated name wins (nginx sends SCRIPT_NAME twice when
        # a location sets it after "include fastcgi_params").
        return dict(fcgi.decode_native(parts[0] if len(parts) == 1 else b"".join(parts)))

    def read_record(self) -> tuple[int, int, bytes]:
        """The next record, after answering those not for the request in
        progress: management records, and a second request (§3.3)."""
        while True:
            rec = self.reader.read()
            if rec is None:
                raise _Gone("closed the connection")
            rtype, rid, content = rec
            if rid == self.request_id:
                return rec
            if rid == 0:
                self.management(rtype, content)
            elif rtype == fcgi.BEGIN_REQUEST:
                self.send([fcgi.end_request(rid, 0, fcgi.CANT_MPX_CONN)])

    def management(self, rtype: int, content: bytes) -> None:
        """§4: answer FCGI_GET_VALUES; any other type is FCGI_UNKNOWN_TYPE."""
        if rtype == fcgi.GET_VALUES:
            known = self.server.values()
            asked = fcgi.decode_pairs(content)
            answer = [(name, known[name]) for name, _ in asked if name in known]
            self.send([fcgi.record(fcgi.GET_VALUES_RESULT, 0, fcgi.encode_pairs(answer))])
        else:
            self.send([fcgi.record(fcgi.UNKNOWN_TYPE, 0, bytes((rtype & 0xFF,)) + b"\0" * 7)])

    # -- one request ----------------------------------------------------------

    def serve_one(self, rid: int, params: dict[str, str]) -> None:
        server = self.server
        out = _Output(self, rid)
        errors = _Errors(self, rid)
        response = _Response(out, errors, False)
        response.hold_complete = True
        if server.debug and "WSGICGI_DEBUG" not in params:
            # Under CGI the app's environ is the process's environment: the
            # same switch set for the process (FcgidInitialEnv) counts here.
            params["WSGICGI_DEBUG"] = server.debug
        try:
            serve_request(
                server.app,
                params,
                _Input(self),
                response,
                multithread=server.threads > 1,
                run_once=False,
                length_known=False,
            )
            if not self.gone:
                self.skip_stdin()
        except (_Gone, ProtocolError, OSError) as exc:
            if not self.gone:
                self.gone = str(exc) or type(exc).__name__
        finally:
            self.request_id = 0
            server.count_request()
        if self.gone and self.gone != "aborted the request" and not out.failed:
            # Lost while reading the body, the response not sent yet: the
            # gateway's "client went away" was not written, so say it here.
            _log("FastCGI connection lost inside request %d: %s" % (rid, self.gone))
        try:
            if self.gone == "aborted the request":
                # §5.4: an aborted request still ends with END_REQUEST.
                self.gone = None
                self.send([fcgi.end_request(rid, 0)])
                return
            if self.gone:
                return
            tail = out.records() if out._parts else []
            tail += errors.records()
            if errors.sent:
                tail.append(fcgi.record(fcgi.STDERR, rid))
            tail.append(fcgi.record(fcgi.STDOUT, rid))
            tail.append(fcgi.end_request(rid, 0))
            self.send(tail)
        except OSError as exc:
            self.gone = str(exc)
            _log("FastCGI connection lost at the end of request %d: %s" % (rid, exc))

    def next_stdin(self) -> bytes:
        """The content of the request's next STDIN record; b"" at its end."""
        if self.stdin_done:
            return b""
        try:
            rtype, _, content = self.read_record()
            while rtype != fcgi.STDIN:
                if rtype == fcgi.ABORT_REQUEST:
                    self.aborted()
                    return b""
                rtype, _, content = self.read_record()
        except (OSError, ProtocolError) as exc:
            self.stdin_done = True
            self.gone = self.gone or str(exc) or "closed the connection"
            return b""
        if not content:
            self.stdin_done = True
        return content

    def skip_stdin(self) -> None:
        while not self.stdin_done:
            self.next_stdin()

    def aborted(self) -> None:
        self.stdin_done = True
        self.gone = "aborted the request"

    def check_abort(self) -> None:
        """Before sending more of a response: has the web server aborted the
        request (FCGI_ABORT_REQUEST) or closed the connection?  Records are
        read only up to the next STDIN data the app may still want; the
        empty STDIN that ends the body is taken (an app that never reads
        the body, a GET, would otherwise never see the abort)."""
        poll = self._poll
        if poll is None:
            poll = self._poll = select.poll()
            poll.register(self.sock, select.POLLIN)
        try:
            self._read_interrupts(poll)
        except (OSError, ProtocolError) as exc:
            # A reset (ECONNRESET) or garbage while looking: the connection
            # is gone either way.
            self.gone = self.gone or str(exc) or type(exc).__name__
        if self.gone:
            raise _Gone("the web server %s" % self.gone)

    def _read_interrupts(self, poll: select.poll) -> None:
        """Read what arrived while the response is being sent: management
        records, a second request, an abort or the end of the connection."""
        while self.reader.pending() or poll.poll(0):
            if not self.stdin_done:
                head = self.reader.peek()
                if head is not None and head[0] == fcgi.STDIN and head[1] == self.request_id:
                    if head[2]:
                        break  # body data: the app's to read
                    self.reader.read()
                    self.stdin_done = True
                    continue
            rec = self.reader.read()
            if rec is None:
                self.gone = "closed the connection"
                break
            rtype, rid, content = rec
            if rid == 0:
                self.management(rtype, content)
            elif rid != self.request_id:
                if rtype == fcgi.BEGIN_REQUEST:
                    self.send([fcgi.end_request(rid, 0, fcgi.CANT_MPX_CONN)])
            elif rtype == fcgi.ABORT_REQUEST:
                self.aborted()
                break

    def send(self, parts: Sequence[Buffer]) -> None:
        try:
            if len(parts) == 1:
                self.sock.sendall(parts[0])
            elif sum(len(p) for p in parts) <= _FLUSH_AT:
                self.sock.sendall(b"".join(parts))
            else:
                _sendmsg_all(self.sock, parts)
        except OSError as exc:
            self.gone = self.gone or str(exc)
            raise _Gone("the web server closed the connection: %s" % exc) from None


def _sendmsg_all(sock: socket.socket, parts: Sequence[Buffer]) -> None:
    views = [memoryview(p).cast("B") for p in parts if len(p)]
    first = 0
    while first < len(views):
        sent = sock.sendmsg(views[first : first + 512])
        while sent:
            head = views[first]
            if sent >= len(head):
                sent -= len(head)
                first += 1
            else:
                views[first] = head[sent:]
                sent = 0


class Server:
    """Serves the FastCGI connections of ``listener`` (a listening socket)
    with the WSGI application ``app``.

    ``threads`` connections are served at once (each carries one request
    at a time); ``max_requests`` (0: no limit) ends the process gracefully
    after that many, for the process manager to start a fresh one.  On a
    TCP socket only the addresses in ``allowed`` may connect (None: any;
    FastCGI spec §3.2, FCGI_WEB_SERVER_ADDRS).
    """

    def __init__(
        self,
        app: WSGIApplication,
        listener: socket.socket,
        *,
        threads: int = 1,
        max_requests: int | None = 0,
        grace: float | None = _GRACE,
        read_timeout: float = _READ_TIMEOUT,  # 0: none
        allowed: Collection[str] | None = None,
        max_params: int = _MAX_PARAMS,
        cleanup: Callable[[], object] | None = None,
    ) -> None:
        self.app = app
        self.cleanup = cleanup  # run before the process exits at the grace's end
        self.listener = listener
        self.threads = max(1, int(threads))
        self.max_requests = max(0, int(max_requests or 0))
        self.grace = grace
        self.read_timeout = read_timeout
        self.allowed = allowed
        self.max_params = max_params
        self.debug = os.environ.get("WSGICGI_DEBUG")
        self.stopping = False
        self.served = 0
        self._lock = threading.Lock()
        self._waiting = False  # the main thread waits in poll(), no request in flight
        self._wake: tuple[int, int] | None = None
        self._jobs: queue.SimpleQueue[Connection | None] | None = None
        self._timeout = (
            struct.pack("ll", int(read_timeout), int(read_timeout % 1 * 1e6))
            if read_timeout
            else None
        )
        n = str(self.threads).encode("ascii")
        self._values = {b"FCGI_MAX_CONNS": n, b"FCGI_MAX_REQS": n, b"FCGI_MPXS_CONNS": b"0"}

    def values(self) -> dict[bytes, bytes]:
        """The FCGI_GET_VALUES answers (§4.1)."""
        return self._values

    def count_request(self) -> None:
        with self._lock:
            self.served += 1
            last = self.max_requests and self.served >= self.max_requests
        if last and not self.stopping:
            self.stop("served %d requests (--max-requests)" % self.served)

    def stop(self, reason: str) -> None:
        """Stop taking requests; those in flight finish (within ``grace``
        seconds when a signal asked)."""
        if self.stopping:
            return
        self.stopping = True
        _log("FastCGI process %d stopping: %s" % (os.getpid(), reason))
        self._wake_up()

    def _wake_up(self) -> None:
        if self._wake is not None:
            try:
                os.write(self._wake[1], b"x")
            except OSError:
                pass

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # The signal's byte on the wake pipe (set_wakeup_fd) wakes poll().
        if not self.stopping:
            self.stop("signal %d" % signum)
            if self.grace is not None and not self._waiting:
                timer = threading.Timer(self.grace, self._grace_over)
                timer.daemon = True
                timer.start()

    def _grace_over(self) -> None:
        _log(
            "FastCGI process %d: requests still running %g s after the stop signal; exiting"
            % (os.getpid(), self.grace or 0.0)  # None: only after 1e9 s
        )
        if self.cleanup is not None:
            self.cleanup()  # os._exit skips the finally that removes a --bind unix: socket
        os._exit(0)

    # -- the loop ----------------------------------------------------------------

    def serve(self) -> int:
        """Serve until stopped; returns 0 (the process's exit status).

        One poll(2) watches the listening socket and every kept connection
        that is idle, so a connection the web server keeps open (nginx's
        ``fastcgi_keep_conn``, mod_proxy_fcgi's ``enablereuse``) never holds
        a thread while another waits: whichever has a request is served.
        """
        main = threading.current_thread() is threading.main_thread()
        saved: dict[Any, Any] = {}  # signal → handler, and "wakeup" → fd
        wake = self._wake = os.pipe()
        os.set_blocking(wake[0], False)
        os.set_blocking(wake[1], False)
        if main:
            for signum in (signal.SIGTERM, signal.SIGINT):
                saved[signum] = signal.signal(signum, self._on_signal)
            saved["wakeup"] = signal.set_wakeup_fd(wake[1])
        self.listener.setblocking(False)
        poll = select.poll()
        poll.register(self.listener, select.POLLIN)
        poll.register(wake[0], select.POLLIN)
        idle: dict[int, Connection] = {}  # fd → kept Connection waiting for its next request
        workers: list[threading.Thread] = []
        try:
            if self.threads == 1:
                self._serve_inline(poll, idle)
            else:
                workers = self._serve_threads(poll, idle)
        finally:
            self.stopping = True
            for conn in idle.values():
                conn.close()
            if "wakeup" in saved:
                signal.set_wakeup_fd(saved.pop("wakeup"))
            self._finish(workers)
            for signum, handler in saved.items():
                signal.signal(signum, handler)
            for fd in wake:
                os.close(fd)
            self._wake = None
        return 0

    def _ready(self, poll: select.poll, idle: dict[int, Connection]) -> list[Connection]:
        """Wait, then the connections that have something to read (new
        ones accepted), until stopping."""
        listener = self.listener.fileno()
        assert self._wake is not None  # serve() made it
        wake = self._wake[0]
        self._waiting = True
        try:
            events = poll.poll()
        finally:
            self._waiting = False
        ready: list[Connection] = []
        for fd, _ in events:
            if fd == wake:
                try:
                    os.read(wake, 512)
                except OSError:
                    pass
            elif fd == listener:
                sock = self._accept()
                if sock is not None:
                    ready.append(Connection(sock, self))
            else:
                conn = idle.pop(fd, None)
                if conn is not None:
                    poll.unregister(fd)
                    ready.append(conn)
        return ready

    def _keep(self, poll: select.poll, idle: dict[int, Connection], conn: Connection) -> bool:
        # A record already buffered would never wake poll: serve it now.
        if conn.reader.started():
            return False
        fd = conn.fileno()
        if len(idle) >= _MAX_IDLE:
            oldest = next(iter(idle))
            poll.unregister(oldest)
            idle.pop(oldest).close()
        idle[fd] = conn
        poll.register(fd, select.POLLIN)
        return True

    def _serve_inline(self, poll: select.poll, idle: dict[int, Connection]) -> None:
        while not self.stopping:
            for conn in self._ready(poll, idle):
                while True:
                    if self.stopping:
                        conn.close()
                        break
                    if not conn.serve_next() or self._keep(poll, idle, conn):
                        break

    def _serve_threads(
        self, poll: select.poll, idle: dict[int, Connection]
    ) -> list[threading.Thread]:
        import queue as queue_module

        jobs: queue.SimpleQueue[Connection | None] = queue_module.SimpleQueue()
        # Kept connections back from the workers.
        done: queue.SimpleQueue[Connection] = queue_module.SimpleQueue()
        slots = threading.Semaphore(self.threads)
        workers = []
        for index in range(self.threads):
            worker = threading.Thread(
                target=self._work,
                args=(jobs, done, slots),
                name="wsgicgi-fcgi-%d" % index,
                daemon=True,
            )
            worker.start()
            workers.append(worker)
        self._jobs = jobs
        pending: list[Connection] = []
        while not self.stopping:
            while not done.empty():
                conn = done.get()
                if self.stopping:
                    conn.close()
                elif not self._keep(poll, idle, conn):
                    pending.append(conn)
            if not pending:
                pending = self._ready(poll, idle)
                continue
            # A free thread for the next ready connection; the others stay
            # ready (poll is level-triggered).
            self._waiting = True
            try:
                while not slots.acquire(timeout=0.25):
                    if self.stopping:
                        break
            finally:
                self._waiting = False
            if self.stopping:
                break
            jobs.put(pending.pop(0))
        for conn in pending:
            conn.close()
        return workers

    def _accept(self) -> socket.socket | None:
        try:
            sock, addr = self.listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return None  # another process of the pool took it
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                _log("cannot accept a FastCGI connection: %s" % exc)
                time.sleep(0.1)
                return None
            raise
        if sock.family != socket.AF_UNIX:
            if self.allowed is not None:
                host = addr[0]
                if host.startswith("::ffff:") and "." in host:
                    host = host[7:]
                if host not in self.allowed:
                    _log("FastCGI connection from %s refused: not in FCGI_WEB_SERVER_ADDRS" % host)
                    sock.close()
                    return None
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(True)
        if self._timeout is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, self._timeout)
        return sock

    def _work(
        self,
        jobs: queue.SimpleQueue[Connection | None],
        done: queue.SimpleQueue[Connection],
        slots: threading.Semaphore,
    ) -> None:
        # SIGTERM/SIGINT go to the main thread, whose poll() the wake pipe
        # wakes; blocked here so that the kernel never picks a worker.
        signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGTERM, signal.SIGINT))
        while True:
            conn = jobs.get()
            if conn is None:
                return
            try:
                if conn.serve_next():
                    done.put(conn)
                    self._wake_up()
            except BaseException as exc:  # never let a worker die silently
                _log("FastCGI worker error: %r" % (exc,))
                conn.close()
            finally:
                slots.release()

    def _finish(self, workers: list[threading.Thread]) -> None:
        if not workers:
            return
        assert self._jobs is not None  # workers run: _serve_threads made it
        for _ in workers:
            self._jobs.put(None)
        deadline = time.monotonic() + (self.grace if self.grace is not None else 1e9)
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        if any(worker.is_alive() for worker in workers):
            self._grace_over()


def _unloadable(environ: Environ, start_response: StartResponse) -> list[bytes]:
    body = b"500 Internal Server Error\n"
    start_response(
        "500 Internal Server Error",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


def exit_on_stop_signals() -> None:
    """Until the server loop takes over: SIGTERM or SIGINT (a process
    manager stopping a process whose app is still being imported) ends the
    process with status 0, through ``finally`` blocks (a --bind unix:
    socket file is removed), not killed by the signal."""
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, frame: FrameType | None) -> NoReturn:
        raise SystemExit(0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)


def load(app_spec: str) -> WSGIApplication:
    """The WSGI application ``app_spec`` names, loaded once for the
    process; when it cannot be loaded, the reason is logged once and every
    request gets a 500 (a process manager would otherwise respawn the
    process in a tight loop)."""
    stdout = sys.stdout
    sys.stdout = sys.stderr  # print() while the app loads: the error log
    try:
        from .loader import load_app

        return load_app(app_spec)
    except Exception:
        from .errors import format_exception

        _log(
            format_exception(
                sys.exc_info(),
                "cannot load WSGI application %r; every request gets a 500" % (app_spec,),
            )
        )
        return _unloadable
    finally:
        sys.stdout = stdout


def web_server_addrs(environ: Mapping[str, str] | None = None) -> frozenset[str] | None:
    """The addresses FCGI_WEB_SERVER_ADDRS allows (FastCGI spec §3.2), or
    None when it is not set."""
    value = (os.environ if environ is None else environ).get("FCGI_WEB_SERVER_ADDRS", "").strip()
    if not value:
        return None
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def serve(app: WSGIApplication, listener: socket.socket, **options: Unpack[ServerOptions]) -> int:
    """Serve FastCGI on ``listener`` with ``app`` until stopped.  The app's
    print() goes to the error log, as under CGI."""
    sys.stdout.flush()
    saved, sys.stdout = sys.stdout, sys.stderr
    try:
        return Server(app, listener, allowed=web_server_addrs(), **options).serve()
    finally:
        sys.stdout = saved


def serve_stdin(app: WSGIApplication) -> int:
    """``wsgicgi.run(app)`` started by a FastCGI process manager: serve the
    listening socket on fd 0."""
    return serve(app, socket.socket(fileno=0))


def serve_spec(app_spec: str) -> int:
    """The one-line script started by a FastCGI process manager: load APP
    once, then serve the listening socket on fd 0."""
    exit_on_stop_signals()
    listener = socket.socket(fileno=0)
    return serve(load(app_spec), listener)
