"""The hostile corpus: each case is an input and the answer it must get.

Data only; tests/test_hostile.py runs it.  A case is
``Case(id, side, given, code, log, expect)``:

- ``side`` says where the input enters: ``"app"`` (a WSGI application behind
  the gateway, ``given`` an ``App``), ``"request"`` (meta-variables and body
  into the gateway, ``given`` a ``Request``; the application echoes the
  body), ``"output"`` (a CGI script's header block into
  ``cgihead.parse_cgi_headers``, ``given`` the bytes).
- ``code`` is the HTTP status the client gets; for ``"output"`` 502 means the
  parser refuses the block (the reverse adapter answers 502).
- ``log`` must appear in the error log (``wsgi.errors``, or the parser's
  error message); ``None`` means the log must stay empty.
- ``expect`` holds further checks: ``body`` (exact), ``absent`` (bytes that
  must not be anywhere in the response), ``seen`` (environ values the
  application saw; ``None`` = key absent), ``status``, ``headers``.

Cases marked "fuzz:" were found by scripts/fuzz, "prop:" by the
hypothesis properties; both were defects, fixed in wsgicgi/.
"""

from collections import namedtuple

Case = namedtuple("Case", "id side given code log expect")
Case.__new__.__defaults__ = (None, {})


class App(namedtuple("App", "ops body close lazy")):
    """A scripted WSGI application.

    ``ops`` run in order when it is called (inside its generator when
    ``lazy``): ``("start", status, headers)``, ``("start_exc", status,
    headers)`` (with the exc_info of a fresh exception), ``("write", data)``,
    ``("mutate", header)`` (append to the list last given to start_response),
    ``("raise", message)``, ``("read", size)``.  ``body`` is what it returns:
    a list whose items are yielded in turn (``RAISE`` raises there), or any
    other object returned as is.  ``close="raise"`` makes close() raise.
    """

    __slots__ = ()


App.__new__.__defaults__ = ((), [], None, False)


class Request(namedtuple("Request", "env body stdin read")):
    """Meta-variables (bytes or str values) and a body for the gateway.

    ``env`` updates a plain GET request's variables; a ``None`` value removes
    one, and ``{"*": None}`` starts from no variables at all.

    ``stdin``: ``"bytes"`` (an in-memory stream) or ``"pipe"`` (a real pipe
    whose writer has closed after ``body``).  ``read``: how the echo
    application reads ``wsgi.input``: ``"chunks"`` (read(8192) until empty),
    ``"all"`` (read()), ``"zero-first"`` (read(0), then read()).
    """

    __slots__ = ()


Request.__new__.__defaults__ = ({}, b"", "bytes", "chunks")

RAISE = "<raise>"
OK = ("Content-Type", "text/plain")
EVIL = b"Set-Cookie: evil"


def start(status="200 OK", headers=(OK,)):
    return ("start", status, list(headers))


APP_CASES = [
    # --- headers and status from the application (PEP 3333 start_response) ---
    Case(
        "crlf-in-header-value",
        "app",
        App([start(headers=[OK, ("X-A", "a\r\nSet-Cookie: evil=1")])], [b"hi"]),
        500,
        "invalid characters",
        {"absent": EVIL},
    ),
    Case(
        "lf-in-header-value",
        "app",
        App([start(headers=[("X-A", "a\nSet-Cookie: evil=1")])], [b"hi"]),
        500,
        "invalid characters",
        {"absent": EVIL},
    ),
    Case(
        "bare-cr-in-header-value",
        "app",
        App([start(headers=[("X-A", "a\rb")])], [b"hi"]),
        500,
        "invalid characters",
    ),
    Case(
        "nul-in-header-value",
        "app",
        App([start(headers=[("X-A", "a\x00b")])], [b"hi"]),
        500,
        "invalid characters",
    ),
    Case(
        "crlf-in-header-name",
        "app",
        App([start(headers=[("X\r\nSet-Cookie", "evil")])], [b"hi"]),
        500,
        "invalid header name",
        {"absent": EVIL},
    ),
    Case(
        "space-in-header-name",
        "app",
        App([start(headers=[("Content Type", "text/plain")])], [b"hi"]),
        500,
        "invalid header name",
    ),
    Case(
        "empty-header-name",
        "app",
        App([start(headers=[("", "v")])], [b"hi"]),
        500,
        "invalid header name",
    ),
    Case(
        "bytes-header-value",
        "app",
        App([start(headers=[("Content-Type", b"text/plain")])], [b"hi"]),
        500,
        "must be str",
    ),
    Case(
        "bytes-header-name",
        "app",
        App([start(headers=[(b"Content-Type", "text/plain")])], [b"hi"]),
        500,
        "must be str",
    ),
    Case(
        "int-header-value",
        "app",
        App([start(headers=[("Content-Length", 2)])], [b"hi"]),
        500,
        "must be str",
    ),
    Case(
        "header-is-a-list",
        "app",
        App([start(headers=[["Content-Type", "text/plain"]])], [b"hi"]),
        500,
        "tuple",
    ),
    Case(
        "headers-are-a-tuple",
        "app",
        App([("start", "200 OK", (OK,))], [b"hi"]),
        500,
        "must be a list",
    ),
    Case(
        "non-latin1-header-value",
        "app",
        App([start(headers=[("X-A", "\u20ac")])], [b"hi"]),
        500,
        "invalid characters",
    ),
    Case(
        "hop-by-hop-connection",
        "app",
        App([start(headers=[OK, ("Connection", "close")])], [b"hi"]),
        500,
        "hop-by-hop",
    ),
    Case(
        "hop-by-hop-transfer-encoding",
        "app",
        App([start(headers=[("Transfer-Encoding", "chunked")])], [b"hi"]),
        500,
        "hop-by-hop",
    ),
    Case(
        "hop-by-hop-any-case",
        "app",
        App([start(headers=[("kEEP-aLIVE", "timeout=5")])], [b"hi"]),
        500,
        "hop-by-hop",
    ),
    Case(
        "status-header-from-app",
        "app",
        App([start(headers=[OK, ("Status", "302 Found")])], [b"hi"]),
        500,
        "Status header is not allowed",
        {"absent": b"302"},
    ),
    Case(
        "headers-mutated-after-start-response",
        "app",
        App([start(), ("mutate", ("X-A", "a\r\nSet-Cookie: evil=1"))], [b"hi"]),
        200,
        None,
        {"absent": EVIL, "body": b"hi"},
    ),
    Case(
        "bad-header-appended-after-start-response",
        "app",
        App([start(), ("mutate", ("", ""))], [b"hi"]),
        200,
        None,
        {"body": b"hi"},
    ),  # fuzz: wrote ": \r\n"
    Case(
        "status-without-reason", "app", App([start(status="200")], [b"hi"]), 500, "invalid status"
    ),
    Case(
        "status-trailing-space-only",
        "app",
        App([start(status="200 ")], [b"hi"]),
        500,
        "invalid status",
    ),
    Case("status-no-space", "app", App([start(status="200OK")], [b"hi"]), 500, "invalid status"),
    Case("status-int", "app", App([start(status=200)], [b"hi"]), 500, "status must be str"),
    Case("status-bytes", "app", App([start(status=b"200 OK")], [b"hi"]), 500, "status must be str"),
    Case(
        "status-crlf-injection",
        "app",
        App([start(status="200 OK\r\nSet-Cookie: evil=1")], [b"hi"]),
        500,
        "invalid status",
        {"absent": EVIL},
    ),
    Case("status-600", "app", App([start(status="600 Beyond")], [b"hi"]), 500, "invalid status"),
    Case(
        "status-unicode-digits",
        "app",
        App([start(status="\u0662\u0660\u0660 OK")], [b"hi"]),
        500,
        "invalid status",
    ),
    Case(
        "status-obs-text-reason",
        "app",
        App([start(status="200 \xa0")], [b"hi"]),
        200,
        None,
        {"status": "200 \xa0"},
    ),  # prop
    # --- Content-Length from the application ---
    Case(
        "content-length-too-short",
        "app",
        App([start(headers=[OK, ("Content-Length", "3")])], [b"0123456789"]),
        200,
        "more than its Content-Length",
        {"body": b"012"},
    ),
    Case(
        "content-length-too-long",
        "app",
        App([start(headers=[OK, ("Content-Length", "10")])], [b"012"]),
        200,
        "7 bytes short",
        {"body": b"012"},
    ),
    Case(
        "content-length-garbage",
        "app",
        App([start(headers=[OK, ("Content-Length", "abc")])], [b"hi"]),
        500,
        "invalid Content-Length",
    ),  # fuzz
    Case(
        "content-length-negative",
        "app",
        App([start(headers=[OK, ("Content-Length", "-1")])], [b"hi"]),
        500,
        "invalid Content-Length",
    ),
    Case(
        "content-length-empty",
        "app",
        App([start(headers=[OK, ("Content-Length", "")])], [b"hi"]),
        500,
        "invalid Content-Length",
    ),
    Case(
        "content-length-two-values",
        "app",
        App([start(headers=[OK, ("Content-Length", "2"), ("Content-Length", "9")])], [b"hi"]),
        500,
        "invalid Content-Length",
    ),
    Case(
        "content-length-huge",
        "app",
        App([start(headers=[OK, ("Content-Length", "9" * 5000)])], [b"hi"]),
        200,
        "short of its Content-Length",
        {"body": b"hi"},
    ),
    # --- the body ---
    Case("str-body-chunk", "app", App([start()], ["hello"]), 500, "yielded str"),
    Case(
        "str-chunk-after-first-chunk",
        "app",
        App([start()], [b"hello", "world"]),
        200,
        "response cut after 5 body bytes",
        {"body": b"hello"},
    ),
    Case("body-is-a-str", "app", App([start()], "hello"), 500, "yielded str"),
    Case("body-is-bytes-not-a-list", "app", App([start()], b"hello"), 500, "yielded int"),
    Case("body-is-none", "app", App([start()], None), 500, "not iterable"),
    Case("bytearray-chunk", "app", App([start()], [bytearray(b"hi")]), 500, "yielded bytearray"),
    Case("write-str", "app", App([start(), ("write", "hello")], []), 500, "write() takes bytes"),
    Case(
        "write-then-iterable",
        "app",
        App([start(), ("write", b"ab")], [b"cd"]),
        200,
        None,
        {"body": b"abcd"},
    ),
    Case(
        "yield-before-start-response", "app", App([], [b"hi"]), 500, "before calling start_response"
    ),
    Case(
        "return-without-start-response", "app", App([], []), 500, "without calling start_response"
    ),
    Case(
        "generator-that-never-starts",
        "app",
        App([], [], lazy=True),
        500,
        "without calling start_response",
    ),
    Case(
        "generator-starting-late-is-fine",
        "app",
        App([start()], [b"late"], lazy=True),
        200,
        None,
        {"body": b"late"},
    ),
    # --- exceptions ---
    Case(
        "exception-before-start-response", "app", App([("raise", "early")], []), 500, "Boom: early"
    ),
    Case(
        "exception-in-iter-first-item", "app", App([start()], [RAISE]), 500, "Boom: in the iterable"
    ),
    Case(
        "exception-after-first-chunk",
        "app",
        App([start()], [b"hello", RAISE]),
        200,
        "response cut after 5 body bytes",
        {"body": b"hello"},
    ),
    Case(
        "exception-in-close",
        "app",
        App([start()], [b"hello"], close="raise"),
        200,
        "Boom: in close()",
        {"body": b"hello"},
    ),
    Case(
        "exception-in-iter-and-close",
        "app",
        App([start()], [RAISE], close="raise"),
        500,
        "Boom: in close()",
    ),
    Case(
        "exception-in-lazy-generator",
        "app",
        App([start(), ("raise", "lazy")], [b"x"], lazy=True),
        500,
        "Boom: lazy",
    ),
    Case(
        "start-response-twice-without-exc-info",
        "app",
        App([start(), start(status="404 Not Found")], [b"hi"]),
        500,
        "called again without exc_info",
    ),
    Case(
        "start-response-exc-info-before-headers-sent",
        "app",
        App([start(), ("start_exc", "503 Service Unavailable", [OK])], [b"sorry"]),
        503,
        None,
        {"body": b"sorry"},
    ),
    Case(
        "start-response-exc-info-after-headers-sent",
        "app",
        App([start(), ("write", b"sent"), ("start_exc", "500 Oops", [OK])], [b"x"]),
        200,
        "response cut after 4 body bytes",
        {"body": b"sent"},
    ),
    Case(
        "traceback-never-in-the-response",
        "app",
        App([("raise", "secret-token-1234")], []),
        500,
        "secret-token-1234",
        {"absent": b"secret-token-1234"},
    ),
]

REQUEST_CASES = [
    # --- CONTENT_LENGTH (RFC 3875 §4.1.2: 1*digit) ---
    Case(
        "content-length-negative",
        "request",
        Request({"CONTENT_LENGTH": b"-1"}, b"body"),
        400,
        "invalid CONTENT_LENGTH",
    ),
    Case(
        "content-length-garbage",
        "request",
        Request({"CONTENT_LENGTH": b"abc"}, b"body"),
        400,
        "invalid CONTENT_LENGTH",
    ),
    Case(
        "content-length-plus",
        "request",
        Request({"CONTENT_LENGTH": b"+4"}, b"body"),
        400,
        "invalid CONTENT_LENGTH",
    ),
    Case(
        "content-length-spaces",
        "request",
        Request({"CONTENT_LENGTH": b" 4 "}, b"body"),
        400,
        "invalid CONTENT_LENGTH",
    ),
    Case(
        "content-length-underscore",
        "request",
        Request({"CONTENT_LENGTH": b"1_0"}, b"body"),
        400,
        "invalid CONTENT_LENGTH",
    ),
    Case(
        "content-length-hex",
        "request",
        Request({"CONTENT_LENGTH": b"0x4"}, b"body"),
        400,
        "invalid CONTENT_LENGTH",
    ),
    Case(
        "content-length-float",
        "request",
        Request({"CONTENT_LENGTH": b"4.0"}, b"body"),
        400,
        "invalid CONTENT_LENGTH",
    ),
    Case(
        "content-length-arabic-digits",
        "request",
        Request({"CONTENT_LENGTH": "\u0664".encode()}, b"body"),
        400,
        "invalid CONTENT_LENGTH",
    ),
    Case(
        "content-length-superscript",
        "request",
        Request({"CONTENT_LENGTH": "\u00b2".encode()}, b"body"),
        400,
        "invalid CONTENT_LENGTH",
    ),
    Case(
        "content-length-two-values",
        "request",
        Request({"CONTENT_LENGTH": b"4, 4"}, b"body"),
        400,
        "invalid CONTENT_LENGTH",
    ),
    Case(
        "content-length-nul",
        "request",
        Request({"CONTENT_LENGTH": b"4\x00"}, b"body"),
        400,
        "invalid CONTENT_LENGTH",
    ),
    Case(
        "content-length-overflowing-int64",
        "request",
        Request({"CONTENT_LENGTH": b"9" * 30}, b"body", read="all"),
        200,
        None,
        {"body": b"body"},
    ),  # fuzz: read() was an OverflowError
    Case(
        "content-length-terabyte-over-a-pipe",
        "request",
        Request({"CONTENT_LENGTH": b"1099511627776"}, b"body", stdin="pipe", read="all"),
        200,
        None,
        {"body": b"body"},
    ),  # was a MemoryError
    Case(
        "content-length-5000-digits",
        "request",
        Request({"CONTENT_LENGTH": b"9" * 5000}, b"body"),
        200,
        None,
        {"body": b"body"},
    ),  # prop: int() refused it
    Case(
        "content-length-leading-zeros",
        "request",
        Request({"CONTENT_LENGTH": b"0" * 5000 + b"2"}, b"body"),
        200,
        None,
        {"body": b"bo"},
    ),
    # --- the body ---
    Case(
        "body-shorter-than-content-length",
        "request",
        Request({"CONTENT_LENGTH": b"100"}, b"short", stdin="pipe"),
        200,
        None,
        {"body": b"short"},
    ),
    Case(
        "body-longer-than-content-length",
        "request",
        Request({"CONTENT_LENGTH": b"4"}, b"bodyEXTRA-NOT-MINE"),
        200,
        None,
        {"body": b"body"},
    ),
    Case(
        "no-content-length-no-body",
        "request",
        Request({}, b"left on stdin"),
        200,
        None,
        {"body": b""},
    ),
    Case(
        "read-zero-does-not-end-the-body",
        "request",
        Request({"CONTENT_LENGTH": b"4"}, b"body", read="zero-first"),
        200,
        None,
        {"body": b"body"},
    ),  # was: read(0) ended the input
    Case(
        "head-gets-no-body",
        "request",
        Request({"REQUEST_METHOD": b"HEAD", "CONTENT_LENGTH": b"4"}, b"body"),
        200,
        None,
        {"body": b""},
    ),
    # --- meta-variables ---
    Case(
        "httpoxy-proxy-header",
        "request",
        Request({"HTTP_PROXY": b"http://evil.example:3128"}),
        200,
        None,
        {"seen": {"HTTP_PROXY": None}},
    ),
    Case(
        "huge-query-string",
        "request",
        Request({"QUERY_STRING": b"q=" + b"x" * 1_000_000}),
        200,
        None,
        {"seen": {"QUERY_STRING": "q=" + "x" * 1_000_000}},
    ),
    Case(
        "nul-in-path-info",
        "request",
        Request({"PATH_INFO": b"/a\x00b"}),
        200,
        None,
        {"seen": {"PATH_INFO": "/a\x00b"}},
    ),
    Case(
        "invalid-utf8-in-path-info",
        "request",
        Request({"PATH_INFO": b"/\xff\xfe/\xc3("}),
        200,
        None,
        {"seen": {"PATH_INFO": "/\xff\xfe/\xc3("}},
    ),
    Case(
        "os-environ-style-path-info",
        "request",
        Request({"PATH_INFO": b"/caf\xc3\xa9/\xff".decode("utf-8", "surrogateescape")}),
        200,
        None,
        {"seen": {"PATH_INFO": "/caf\xc3\xa9/\xff"}},
    ),
    Case(
        "lone-surrogate-str", "request", Request({"PATH_INFO": "/\ud800"}), 400, "meta-variable"
    ),  # prop: was a UnicodeEncodeError out of run()
    Case(
        "missing-request-method",
        "request",
        Request({"REQUEST_METHOD": None}),
        200,
        None,
        {"seen": {"REQUEST_METHOD": "GET"}},
    ),
    Case(
        "no-meta-variables-at-all",
        "request",
        Request({"*": None}),
        200,
        None,
        {"seen": {"REQUEST_METHOD": "GET", "SERVER_NAME": "localhost"}},
    ),
    Case(
        "path-info-without-slash",
        "request",
        Request({"PATH_INFO": b"etc/passwd"}),
        400,
        "does not start with /",
    ),  # fuzz
    Case(
        "script-name-without-slash",
        "request",
        Request({"SCRIPT_NAME": b"cgi-bin/x"}),
        400,
        "does not start with /",
    ),
    Case(
        "script-name-slash",
        "request",
        Request({"SCRIPT_NAME": b"/", "PATH_INFO": b"x"}),
        200,
        None,
        {"seen": {"SCRIPT_NAME": "", "PATH_INFO": "/x"}},
    ),
    Case(
        "http-content-length-copy",
        "request",
        Request({"HTTP_CONTENT_LENGTH": b"999", "HTTP_CONTENT_TYPE": b"text/x"}),
        200,
        None,
        {
            "seen": {
                "HTTP_CONTENT_LENGTH": None,
                "HTTP_CONTENT_TYPE": None,
                "CONTENT_TYPE": "text/x",
            }
        },
    ),
    Case(
        "iis-prefix-not-on-a-segment",
        "request",
        Request(
            {
                "SERVER_SOFTWARE": b"Microsoft-IIS/10.0",
                "SCRIPT_NAME": b"/app",
                "PATH_INFO": b"/application/x",
            }
        ),
        200,
        None,
        {"seen": {"PATH_INFO": "/application/x"}},
    ),  # prop
    Case(
        "iis-prefix-stripped",
        "request",
        Request(
            {
                "SERVER_SOFTWARE": b"Microsoft-IIS/10.0",
                "SCRIPT_NAME": b"/app",
                "PATH_INFO": b"/app/x",
            }
        ),
        200,
        None,
        {"seen": {"PATH_INFO": "/x"}},
    ),
    Case(
        "crlf-in-a-request-header",
        "request",
        Request({"HTTP_X_A": b"a\r\nb"}),
        200,
        None,
        {"seen": {"HTTP_X_A": "a\r\nb"}},
    ),
    Case(
        "empty-redirect-authorization",
        "request",
        Request({"REDIRECT_HTTP_AUTHORIZATION": b""}),
        200,
        None,
        {"seen": {"HTTP_AUTHORIZATION": None}},
    ),
    Case(
        "wsgi-keys-from-the-server-are-overridden",
        "request",
        Request({"wsgi.url_scheme": b"gopher", "wsgi.input": b"x"}),
        200,
        None,
        {"seen": {"wsgi.url_scheme": "http"}},
    ),
]

MB = 1 << 20

OUTPUT_CASES = [
    # --- malformed script output (RFC 3875 §6) ---
    Case(
        "no-blank-line", "output", b"Content-Type: text/plain\nhello world", 502, "without a colon"
    ),
    Case("binary-garbage", "output", bytes(range(256)), 502, ""),
    Case("binary-garbage-with-colon", "output", b"\x89PNG:\r\n\x1a\n\x00\x00", 502, ""),
    Case(
        "one-mb-single-header",
        "output",
        b"X-Big: " + b"a" * MB,
        200,
        None,
        {"headers": 1, "host": (502, "larger than")},
    ),  # the parser has no limit; the host caps the head
    Case(
        "ten-thousand-headers",
        "output",
        b"\r\n".join(b"X-%d: v" % i for i in range(10_000)),
        200,
        None,
        {"headers": 10_000, "host": (502, "larger than")},
    ),
    Case(
        "hundred-thousand-folded-lines",
        "output",
        b"X-A: a" + b"\r\n b" * 100_000,
        200,
        None,
        {"headers": 1, "host": (502, "larger than")},
    ),  # was quadratic: minutes
    Case(
        "bare-cr-in-value",
        "output",
        b"Content-Type: text/plain\rSet-Cookie: evil=1",
        502,
        "control character",
    ),
    Case(
        "bare-cr-line-ends",
        "output",
        b"Content-Type: text/plain\rX-A: b\r",
        502,
        "control character",
    ),
    Case("nul-in-value", "output", b"Content-Type: text/pl\x00ain", 502, "control character"),
    Case("nul-in-name", "output", b"Content\x00Type: text/plain", 502, "invalid header name"),
    Case("del-in-value", "output", b"X-A: a\x7fb", 502, "control character"),
    Case("escape-in-value", "output", b"X-A: \x1b[31mred", 502, "control character"),
    Case(
        "invalid-status-word",
        "output",
        b"Status: OK\nContent-Type: text/plain",
        502,
        "invalid Status",
    ),
    Case("invalid-status-600", "output", b"Status: 600 Beyond", 502, "invalid Status"),
    Case("invalid-status-two-digits", "output", b"Status: 20 OK", 502, "invalid Status"),
    Case("invalid-status-no-space", "output", b"Status: 200OK", 502, "invalid Status"),
    Case(
        "invalid-status-arabic-digits",
        "output",
        "Status: \u0662\u0660\u0660 OK".encode(),
        502,
        "invalid Status",
    ),
    Case("empty-status", "output", b"Status:\nContent-Type: text/plain", 502, "invalid Status"),
    Case(
        "duplicate-status",
        "output",
        b"Status: 200 OK\nStatus: 302 Found",
        502,
        "more than one Status",
    ),
    Case(
        "duplicate-status-other-case",
        "output",
        b"Status: 200 OK\nSTATUS: 200 OK",
        502,
        "more than one Status",
    ),
    Case(
        "location-with-cr",
        "output",
        b"Location: /next\rSet-Cookie: evil=1",
        502,
        "control character",
    ),
    Case(
        "location-with-cr-cr-lf",
        "output",
        b"Location: /next\r\r\nSet-Cookie: evil=1",
        502,
        "control character",
    ),
    Case(
        "header-name-with-space", "output", b"Content Type: text/plain", 502, "invalid header name"
    ),
    Case("space-before-colon", "output", b"Content-Type : text/plain", 502, "invalid header name"),
    Case("empty-header-name", "output", b": value", 502, "invalid header name"),
    Case(
        "continuation-first-line",
        "output",
        b" Content-Type: text/plain",
        502,
        "continuation line before any header",
    ),
    Case(
        "tab-continuation-first-line",
        "output",
        b"\tX: y",
        502,
        "continuation line before any header",
    ),
    Case(
        "empty-line-inside", "output", b"X-A: a\n\nX-B: b", 502, "empty line", {"host": (200, None)}
    ),  # the host ends the head at the first blank line
    Case("empty-block", "output", b"", 502, "empty line", {"host": (502, "no header lines")}),
    Case(
        "non-latin1-utf8-value-is-bytes",
        "output",
        "X-A: caf\u00e9 \u20ac".encode(),
        200,
        None,
        {"headers": [("X-A", "caf\u00e9 \u20ac".encode().decode("latin-1"))]},
    ),
    Case("status-without-reason", "output", b"Status: 404", 404, None, {"status": "404 Not Found"}),
    Case(
        "status-lowercase-name",
        "output",
        b"status: 302\nLocation: /x",
        302,
        None,
        {"status": "302 Found"},
    ),
    Case(
        "status-obs-text-reason", "output", b"Status: 200 \x85", 200, None, {"status": "200 \x85"}
    ),  # prop: check_status refused what the parser made
    Case(
        "folded-onto-an-empty-value", "output", b"AA:\n ::", 200, None, {"headers": [("AA", "::")]}
    ),  # fuzz: kept a leading space
    Case("folded-status", "output", b"Status: 200\n OK", 200, None, {"status": "200 OK"}),
    Case(
        "crlf-and-lf-mixed",
        "output",
        b"Status: 201 Created\r\nX-A: 1\nX-B: 2",
        201,
        None,
        {"headers": [("X-A", "1"), ("X-B", "2")]},
    ),
]

# Whole script outputs through CGIScript (a real /bin/sh script cats them).
# Every OUTPUT_CASES block also runs that way, followed by a blank line and
# a body; ``expect["host"]`` is the reverse adapter's answer where it differs.
SCRIPT_CASES = [
    Case("no-output-at-all", "script", b"", 502, "exited without a response"),
    Case(
        "headers-then-eof-no-blank-line",
        "script",
        b"Content-Type: text/plain\r\n",
        502,
        "before the blank line",
    ),
    Case("body-without-headers", "script", b"hello world", 502, "before the blank line"),
    Case("blank-line-first", "script", b"\r\nhello", 502, "no header lines"),
    Case(
        "head-over-64k-without-blank-line", "script", b"X-A: " + b"a" * 70_000, 502, "larger than"
    ),
    Case(
        "binary-garbage-and-blank-line",
        "script",
        bytes(range(256)) + b"\n\nbody",
        502,
        "wsgicgi: 502",
    ),
    Case(
        "content-length-garbage",
        "script",
        b"Content-Type: text/plain\r\nContent-Length: 5x\r\n\r\nhello",
        502,
        "invalid Content-Length",
    ),
    Case(
        "content-length-negative",
        "script",
        b"Content-Type: text/plain\r\nContent-Length: -1\r\n\r\nhello",
        502,
        "invalid Content-Length",
    ),
    Case(
        "hop-by-hop-from-script-dropped",
        "script",
        b"Content-Type: text/plain\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\nhello",
        200,
        None,
        {"body": b"hello", "absent_headers": ["Connection", "Transfer-Encoding"]},
    ),
    Case(
        "content-length-5000-digits",
        "script",
        b"Content-Type: text/plain\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\nhi",
        502,
        "invalid Content-Length",
    ),
    Case(
        "lf-only-line-ends",
        "script",
        b"Status: 404\nContent-Type: text/plain\n\nnope",
        404,
        None,
        {"body": b"nope"},
    ),
]

# Requests into CGIDirectory over the tree in TREE (root/ and what is beside it).
TREE = [
    # (path under the base folder, file text or symlink target, mode or "link")
    ("root/ok.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\ninside'\n", 0o755),
    ("root/env.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nenv\n", 0o755),
    (
        "root/sub/inner.cgi",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\ninside'\n",
        0o755,
    ),
    ("root/.hidden.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nSECRET'\n", 0o755),
    ("root/noexec.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nSECRET'\n", 0o644),
    (
        "outside/secret.cgi",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nSECRET'\n",
        0o755,
    ),
    ("secret.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nSECRET'\n", 0o755),
    ("root/link-out", "../outside/secret.cgi", "link"),
    ("root/link-dir", "../outside", "link"),
    ("root/link-in", "ok.cgi", "link"),
    ("root/sub/link-up", "..", "link"),
    ("root/loop", "loop", "link"),
]

SECRET = {"absent": b"SECRET"}


def traversal(id, path_info, code=404):
    return Case(
        "traversal-" + id,
        "directory",
        Request({"PATH_INFO": path_info}),
        code,
        "no script for",
        SECRET,
    )


DIRECTORY_CASES = [
    Case(
        "plain-script",
        "directory",
        Request({"PATH_INFO": "/ok.cgi"}),
        200,
        None,
        {"body": b"inside"},
    ),
    Case(
        "script-in-a-subfolder",
        "directory",
        Request({"PATH_INFO": "/sub/inner.cgi/extra"}),
        200,
        None,
        {"body": b"inside"},
    ),
    Case(
        "symlink-inside-root-is-fine",
        "directory",
        Request({"PATH_INFO": "/link-in"}),
        200,
        None,
        {"body": b"inside"},
    ),
    traversal("dot-dot", "/../secret.cgi"),
    traversal("dot-dot-twice", "/../../secret.cgi"),
    traversal("dot-dot-into-sibling", "/../outside/secret.cgi"),
    traversal("dot-dot-after-folder", "/sub/../../secret.cgi"),
    traversal("dot-segment", "/./ok.cgi"),
    traversal("double-slash", "//ok.cgi"),
    traversal(
        "percent-2e-literal", "/%2e%2e/secret.cgi"
    ),  # PATH_INFO is already decoded: a literal name
    traversal("percent-2f-literal", "/..%2fsecret.cgi"),
    traversal("backslash", "/..\\secret.cgi"),
    traversal("overlong-utf8-dot", "/\xc0\xae\xc0\xae/secret.cgi"),
    traversal("two-dot-leader", "/\u2025/secret.cgi"),
    traversal("absolute-path", "/etc/passwd"),
    traversal("no-leading-slash", "../secret.cgi"),
    traversal("dotfile", "/.hidden.cgi"),
    traversal("symlink-loop", "/loop"),
    traversal("symlink-up-and-out", "/sub/link-up/../secret.cgi"),
    traversal("symlink-to-outside-file", "/link-out", 403),
    traversal("symlink-to-outside-folder", "/link-dir/secret.cgi", 403),
    traversal("not-executable", "/noexec.cgi", 403),
    traversal("folder-itself", "/sub/", 403),
    Case(
        "dot-dot-after-the-script",
        "directory",
        Request({"PATH_INFO": "/ok.cgi/../../etc/passwd"}),
        404,
        "dot segment",
        SECRET,
    ),
    Case(
        "nul-in-path",
        "directory",
        Request({"PATH_INFO": "/ok.cgi\x00.txt"}),
        400,
        "no script for",
        SECRET,
    ),
    Case(
        "nul-in-path-info-after-script",
        "directory",
        Request({"PATH_INFO": "/ok.cgi/a\x00b"}),
        400,
        "no script for",
    ),
    Case(
        "nul-in-query-string",
        "directory",
        Request({"PATH_INFO": "/ok.cgi", "QUERY_STRING": "a=\x00"}),
        400,
        "NUL",
    ),
    Case(
        "proxy-header-never-reaches-the-script",
        "directory",
        Request({"PATH_INFO": "/env.cgi", "HTTP_PROXY": "http://evil.example:3128"}),
        200,
        None,
        {"absent": b"evil.example"},
    ),
    Case(
        "content-length-garbage",
        "directory",
        Request({"PATH_INFO": "/ok.cgi", "CONTENT_LENGTH": "12abc"}, b"hello"),
        400,
        "invalid CONTENT_LENGTH",
    ),
    Case(
        "content-length-negative",
        "directory",
        Request({"PATH_INFO": "/ok.cgi", "CONTENT_LENGTH": "-5"}, b"hello"),
        400,
        "invalid CONTENT_LENGTH",
    ),
    Case(
        "header-injection-in-request-header",
        "directory",
        Request({"PATH_INFO": "/env.cgi", "HTTP_X_A": "a\r\nSet-Cookie: evil=1"}),
        200,
        None,
    ),
]

CASES = APP_CASES + REQUEST_CASES + OUTPUT_CASES + SCRIPT_CASES + DIRECTORY_CASES


def build_tree(base):
    """Lay TREE out under the folder ``base``; returns the CGIDirectory root."""
    import os

    for path, content, mode in TREE:
        full = os.path.join(base, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if mode == "link":
            os.symlink(content, full)
        else:
            with open(full, "w") as f:
                f.write(content)
            os.chmod(full, mode)
    return os.path.join(base, "root")
