"""CGI → WSGI: serve one CGI request with a WSGI application.

A CGI process starts, builds the environ from its meta-variables (RFC 3875
§4.1), calls the application once (PEP 3333) and writes the response to stdout
as a CGI response (RFC 3875 §6).  Everything here is on the hot path of every
request, so modules only error paths need are imported inside those paths.
"""

import sys

from .protocol import check_headers, check_status, parse_content_length

__all__ = ["BadRequest", "FileWrapper", "InputStream", "build_environ", "run"]

_DEFAULTS = (
    ("REQUEST_METHOD", "GET"),
    ("SCRIPT_NAME", ""),
    ("PATH_INFO", ""),
    ("QUERY_STRING", ""),
    ("SERVER_NAME", "localhost"),
    ("SERVER_PROTOCOL", "HTTP/1.0"),
)
_TRUE = ("on", "1", "yes", "ON", "On", "YES", "Yes", "true")
_CHUNK = 1 << 16
_BIG = 1 << 24  # reads above this go block by block
_UNKNOWN = (1 << 63) - 1  # a body that ends where its stream does


class BadRequest(ValueError):
    """The request's meta-variables cannot be served (answered with 400)."""


class InputStream:
    """``wsgi.input``: the request body, never read past ``CONTENT_LENGTH``.

    Servers may leave stdin open after the body or hold more bytes than were
    announced (RFC 3875 §4.2: the script must not read more than
    CONTENT_LENGTH), so every read is capped by what remains.
    """

    __slots__ = ("_remaining", "_stream")

    def __init__(self, stream, length):
        self._stream = stream
        self._remaining = length

    def read(self, size=-1):
        remaining = self._remaining
        if remaining <= 0 or size == 0:
            return b""
        if size is None or size < 0 or size > remaining:
            size = remaining
        if size > _BIG:
            return self._read_big(size)
        data = self._stream.read(size)
        # A short body (client or server gave up): EOF ends the input.
        self._remaining = remaining - len(data) if data else 0
        return data

    def _read_big(self, size):
        # A buffered stream allocates ``size`` bytes before reading: a
        # CONTENT_LENGTH of a terabyte over a short body would be a
        # MemoryError.  Read in blocks until EOF instead.
        parts = []
        while size > 0:
            data = self._stream.read(min(size, _BIG))
            if not data:
                self._remaining = 0
                break
            parts.append(data)
            size -= len(data)
            self._remaining -= len(data)
        return b"".join(parts)

    def readline(self, size=-1):
        remaining = self._remaining
        if remaining <= 0 or size == 0:
            return b""
        if size is None or size < 0 or size > remaining:
            size = remaining
        line = self._stream.readline(size)
        self._remaining = remaining - len(line) if line else 0
        return line

    def drain(self):
        """Read and discard what is left of the body, so that a server which
        writes the whole body before reading the response is never stuck."""
        while self._remaining > 0 and self.read(_CHUNK):
            pass

    def readlines(self, hint=-1):
        lines = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        line = self.readline()
        while line:
            yield line
            line = self.readline()


class FileWrapper:
    """``wsgi.file_wrapper`` (PEP 3333): iterates a file in blocks.

    When the gateway's stdout and the file are real file descriptors the
    gateway sends it with ``os.sendfile`` instead of iterating.
    """

    def __init__(self, filelike, blksize=_CHUNK):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        read = self.filelike.read
        blksize = self.blksize
        data = read(blksize)
        while data:
            yield data
            data = read(blksize)


def _native(value, encoding):
    # PEP 3333 "bytes as latin-1" strings.  A str value is what os.environ
    # made of the raw bytes (filesystem encoding with surrogateescape), so
    # rebuild those bytes first.
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if value.isascii():
        return value
    return value.encode(encoding, "surrogateescape").decode("latin-1")


def _read_cgi_variables(environ):
    if environ is None:
        # The raw bytes of the process environment ("posix.environ" is what
        # os.environb wraps; importing os would cost more than the gateway).
        posix = sys.modules.get("posix")
        if posix is None:  # pragma: no cover (Windows: os.environ holds real text, IIS UTF-8 URLs)
            import os

            return {k: _native(v, "utf-8") for k, v in os.environ.items()}
        return {k.decode("latin-1"): v.decode("latin-1") for k, v in posix.environ.items()}
    encoding = sys.getfilesystemencoding()
    try:
        return {_native(k, encoding): _native(v, encoding) for k, v in environ.items()}
    except UnicodeEncodeError as exc:
        # A str that os.environ cannot have made (a lone surrogate).
        raise BadRequest("meta-variable is not bytes the server could send: %s" % exc) from None


def build_environ(
    cgi_variables, stdin, errors, *, multithread=False, run_once=True, length_known=True
):
    """Build a PEP 3333 environ from CGI meta-variables (a ``str`` → ``str``
    mapping of latin-1 native strings) and the request's stdin.

    The keywords describe the server: a CGI process serves one request
    (the defaults); a FastCGI process serves many, maybe in threads, and its
    stdin ends by itself (``length_known=False``: without a CONTENT_LENGTH
    the body is read to its end).  Raises ``BadRequest`` when
    ``CONTENT_LENGTH`` is not a number.
    """

    env = cgi_variables
    # httpoxy (CVE-2016-5385): HTTP_PROXY is the client's "Proxy" header, never
    # a proxy setting; drop it so no library in the app routes through it.
    env.pop("HTTP_PROXY", None)
    # mod_rewrite on shared hosts passes Authorization only as this (empty
    # when the request had none: then there is no header to restore).
    if "HTTP_AUTHORIZATION" not in env and env.get("REDIRECT_HTTP_AUTHORIZATION"):
        env["HTTP_AUTHORIZATION"] = env["REDIRECT_HTTP_AUTHORIZATION"]
    for name, default in _DEFAULTS:
        if name not in env:
            env[name] = default
    https = env.get("HTTPS", "") in _TRUE or env.get("REQUEST_SCHEME", "").lower() == "https"
    if "SERVER_PORT" not in env:
        env["SERVER_PORT"] = "443" if https else "80"
    if env.get("SERVER_SOFTWARE", "").startswith("Microsoft-IIS"):
        # IIS puts SCRIPT_NAME in front of PATH_INFO.
        script_name = env["SCRIPT_NAME"]
        rest = env["PATH_INFO"][len(script_name) :]
        if script_name and env["PATH_INFO"].startswith(script_name) and rest[:1] in ("", "/"):
            env["PATH_INFO"] = rest
    # RFC 3875 §4.1.5, §4.1.13: both are "" or start with "/"; PEP 3333 wants
    # SCRIPT_NAME "" rather than "/" for an application at the root.
    if env["SCRIPT_NAME"] == "/":
        env["SCRIPT_NAME"] = ""
        if env["PATH_INFO"][:1] != "/":
            env["PATH_INFO"] = "/" + env["PATH_INFO"]
    if env["SCRIPT_NAME"][:1] not in ("", "/") or env["PATH_INFO"][:1] not in ("", "/"):
        raise BadRequest(
            "SCRIPT_NAME %r or PATH_INFO %r does not start with /"
            % (env["SCRIPT_NAME"][:40], env["PATH_INFO"][:40])
        )
    # PEP 3333: the body's length and type are CONTENT_LENGTH and CONTENT_TYPE
    # only; a server's HTTP_ copies of those headers would disagree with them.
    if "HTTP_CONTENT_LENGTH" in env or "HTTP_CONTENT_TYPE" in env:
        env.pop("HTTP_CONTENT_LENGTH", None)
        content_type = env.pop("HTTP_CONTENT_TYPE", None)
        if content_type is not None and "CONTENT_TYPE" not in env:
            env["CONTENT_TYPE"] = content_type
    length = parse_content_length(env.get("CONTENT_LENGTH"))
    if length is None:
        raise BadRequest("invalid CONTENT_LENGTH %r" % (env["CONTENT_LENGTH"][:40],))
    if not length_known and not env.get("CONTENT_LENGTH"):
        length = _UNKNOWN
    env["wsgi.version"] = (1, 0)
    env["wsgi.url_scheme"] = "https" if https else "http"
    env["wsgi.input"] = InputStream(stdin, length)
    env["wsgi.errors"] = errors
    env["wsgi.multithread"] = multithread
    env["wsgi.multiprocess"] = True
    env["wsgi.run_once"] = run_once
    env["wsgi.file_wrapper"] = FileWrapper
    env["wsgi.input_terminated"] = True
    return env


class _Response:
    """The server side of one PEP 3333 call: start_response, write(), output."""

    def __init__(self, out, errors, head):
        self.out = out
        self.errors = errors
        self.head = head
        self.status = None
        self.headers = None
        self.headers_sent = False
        self.remaining = None  # bytes still allowed by the app's Content-Length
        self.done = False
        self.sent = 0
        # A block that completes the response (its Content-Length reached, or
        # HEAD) may wait for the caller's final flush: FastCGI then sends it
        # with END_REQUEST in one write.  No byte can follow it.
        self.hold_complete = False

    def start_response(self, status, headers, exc_info=None):
        # PEP 3333: a second call is allowed only with exc_info, and once the
        # headers are out it must re-raise the application's exception.
        if exc_info:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() called again without exc_info (PEP 3333)")
        check_status(status)
        check_headers(headers)
        length = None
        for name, value in headers:
            lower = name.lower()
            if lower == "status":
                # RFC 3875 §6.3.3: the gateway's own Status line carries it.
                raise ValueError(
                    "a Status header is not allowed; pass the status to start_response"
                )
            if lower == "content-length":
                # RFC 7230 §3.3.2: 1*DIGIT, one value; anything else lets a
                # proxy and the client disagree on where the response ends.
                n = parse_content_length(value) if value else None
                if n is None or (length is not None and n != length):
                    raise ValueError("invalid Content-Length %r" % (value[:40],))
                length = n
        self.status = status
        # A copy: the application may change its list after this call, past
        # the checks above (a CR/LF there would split the response).
        self.headers = list(headers)
        return self.write

    def write(self, data):
        """The legacy ``write()`` callable returned by ``start_response``."""
        if not isinstance(data, bytes):
            raise TypeError("write() takes bytes, not %s" % type(data).__name__)
        self.send(data)

    def header_block(self):
        lines = ["Status: ", self.status, "\r\n"]
        for name, value in self.headers:
            lines += (name, ": ", value, "\r\n")
            if self.remaining is None and name.lower() == "content-length":
                length = parse_content_length(value)
                if length is not None:
                    self.remaining = length
        lines.append("\r\n")
        return "".join(lines).encode("latin-1")

    def send(self, data, flush=True):
        block = None
        if not self.headers_sent:
            block = self.header_block()
            self.headers_sent = True
        if self.remaining is not None and len(data) > self.remaining:
            # PEP 3333: never send more than the application's Content-Length.
            self.log("wsgicgi: application sent more than its Content-Length; response truncated")
            data = data[: self.remaining]
            self.done = True
        if self.head:
            # RFC 3875 §4.3.3: no message-body for HEAD.
            data = b""
            self.done = True
        if block is not None:
            if len(data) > _CHUNK:
                self.out.write(block)
                self.out.write(data)
            else:
                self.out.write(block + data if data else block)
        elif data:
            self.out.write(data)
        else:
            return
        if flush and not (self.hold_complete and (self.done or self.remaining == len(data))):
            self.out.flush()
        if self.remaining is not None:
            self.remaining -= len(data)
        self.sent += len(data)

    def consume(self, result):
        """Iterate the application's response and send it."""
        if type(result) is FileWrapper:
            from .sendfile import send_file_wrapper

            if send_file_wrapper(self, result):
                return
        if self.headers is not None and (
            type(result) in (list, tuple)
            and len(result) == 1
            and self.remaining is None
            and not any(n.lower() == "content-length" for n, _ in self.headers)
            and isinstance(result[0], bytes)
        ):
            # PEP 3333 ("Handling the Content-Length Header"): one block, so
            # the length is known and the server can keep the connection open.
            self.headers = [*self.headers, ("Content-Length", str(len(result[0])))]
        # PEP 3333: each block an iterator yields is sent before the next is
        # asked for; a list is all there at once, flushed when it ends.
        flush = type(result) not in (list, tuple)
        for chunk in result:
            if not isinstance(chunk, bytes):
                raise TypeError(
                    "the application yielded %s, not bytes (PEP 3333)" % type(chunk).__name__
                )
            if self.status is None:
                raise AssertionError("the application yielded data before calling start_response()")
            if chunk or self.head:
                self.send(chunk, flush)
                if self.done:
                    return
        self.finish()

    def finish(self):
        if self.status is None:
            raise AssertionError("the application returned without calling start_response()")
        if not self.headers_sent:
            self.send(b"", False)
        if self.remaining and not self.head:
            self.log(
                "wsgicgi: response ended %d bytes short of its Content-Length" % self.remaining
            )

    def log(self, message):
        try:
            self.errors.write(message + "\n")
            self.errors.flush()
        except (OSError, ValueError):
            pass


def run(app, *, environ=None, stdin=None, stdout=None, stderr=None):
    """Serve one CGI request with the WSGI application ``app``.

    ``environ`` is a mapping of CGI meta-variables (``str`` or ``bytes``
    values; default ``os.environ``), ``stdin`` and ``stdout`` binary streams
    (default the process's), ``stderr`` a text stream used as ``wsgi.errors``
    (the server's error log).  Returns once the response is written, whatever
    the application did: its errors become a 500 or a cut-off body, logged.

    Started by a FastCGI process manager (fd 0 a listening socket, and no
    streams given), it serves FastCGI requests with ``app`` instead, until
    the manager stops the process.
    """
    default_stdout = stdout is None
    if default_stdout and stdin is None and environ is None and listening_on_stdin():
        from .fcgiserver import serve_stdin

        serve_stdin(app)
        return
    if stdin is None:
        if sys.stdin is None:  # fd 0 closed (Python then has no sys.stdin): no body
            import io

            stdin = io.BytesIO()
        else:
            stdin = sys.stdin.buffer
    if stdout is None:
        sys.stdout.flush()
        stdout = sys.stdout.buffer
    if stderr is None:
        stderr = sys.stderr
    response = _Response(stdout, stderr, False)
    try:
        variables = _read_cgi_variables(environ)
    except BadRequest as exc:
        from .errors import bad_request

        bad_request(response, exc, default_stdout)
        return
    serve_request(app, variables, stdin, response, capture_print=default_stdout)
    try:
        stdout.flush()
    except BrokenPipeError:
        from .errors import client_gone

        client_gone(response, stdout, default_stdout)


def serve_request(app, variables, stdin, response, *, capture_print=False, **server):
    """Serve one request: the request path CGI and FastCGI share.

    ``variables`` are the meta-variables (latin-1 native strings), ``stdin``
    the body's stream, ``response`` a ``_Response`` on the output stream;
    ``server`` goes to ``build_environ``.  With ``capture_print`` the app's
    ``print()`` goes to the error log.  The last output may stay buffered:
    the caller flushes it.
    """
    out = response.out
    errors = response.errors
    response.head = variables.get("REQUEST_METHOD") == "HEAD"
    try:
        env = build_environ(variables, stdin, errors, **server)
    except BadRequest as exc:
        from .errors import bad_request

        bad_request(response, exc, capture_print)
        return
    body = env["wsgi.input"]  # middleware may replace the environ's
    if capture_print:
        # A stray print() in the app would corrupt the CGI response: send it
        # to the error log instead.
        saved_stdout, sys.stdout = sys.stdout, errors
    result = None
    try:
        try:
            result = app(env, response.start_response)
            response.consume(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    except BrokenPipeError:
        from .errors import client_gone

        client_gone(response, out, capture_print)
    except Exception:
        from .errors import app_failed, client_gone

        try:
            app_failed(response, sys.exc_info(), env)
        except BrokenPipeError:
            client_gone(response, out, capture_print)
    finally:
        if capture_print:
            sys.stdout = saved_stdout
    try:
        body.drain()
    except (OSError, ValueError):
        pass


def listening_on_stdin():
    """True when fd 0 is a listening socket: a FastCGI process manager
    (mod_fcgid, lighttpd, spawn-fcgi, systemd) started this process
    (FastCGI spec §2.2, FCGI_LISTENSOCK_FILENO).  A CGI script's stdin is a
    pipe, a file, or under mod_cgid a *connected* socket."""
    posix = sys.modules.get("posix")
    if posix is None:  # pragma: no cover (not POSIX: no FastCGI on fd 0)
        return False
    try:
        info = posix.fstat(0)
    except OSError:
        return False
    if info.st_mode & 0o170000 != 0o140000:
        return False
    try:
        out = posix.fstat(1)
        if (
            out.st_ino == info.st_ino
            and out.st_dev == info.st_dev
            and b"GATEWAY_INTERFACE" in posix.environ
        ):
            # mod_cgid: one connected socket is stdin and stdout, and the CGI
            # variables are set (a systemd unit with StandardInput=socket also
            # has its listening socket on fd 1: checked below).
            return False
    except OSError:
        pass
    import _socket

    sock = _socket.socket(fileno=0)
    try:
        return sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ACCEPTCONN) != 0
    except OSError:  # pragma: no cover (no SO_ACCEPTCONN: not Linux)
        try:
            sock.getpeername()
        except OSError as exc:
            from errno import ENOTCONN

            return exc.errno == ENOTCONN  # not connected, so listening
        return False
    finally:
        sock.detach()
