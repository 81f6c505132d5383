"""The gateway (wsgicgi.run): CGI meta-variables and stdin in, CGI response out.

Apps are wrapped in ``wsgiref.validate.validator`` so that a PEP 3333
violation by the gateway (a bad environ, a missing close()) fails the test.
"""

import io
import os
import sys
import warnings
from wsgiref.validate import validator

import pytest
from cgi_output import CGIOutput

from wsgicgi import run

BASE_ENV = {
    "GATEWAY_INTERFACE": "CGI/1.1",
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "/cgi-bin/app.cgi",
    "PATH_INFO": "/",
    "QUERY_STRING": "",
    "SERVER_NAME": "example.org",
    "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.1",
}


class Served:
    """What one run() call produced."""

    def __init__(self, raw, log, calls):
        self.raw = raw
        self.log = log
        self.calls = calls
        self.out = CGIOutput(raw) if raw else None

    def __getattr__(self, name):
        return getattr(self.out, name)


def serve(app, env=None, body=b"", validate=True, base=True, stdout=None):
    """Run ``app`` through the gateway with in-memory streams."""
    environ = dict(BASE_ENV) if base else {}
    environ.update(env or {})
    calls = []

    def counting(environ, start_response):
        calls.append(environ)
        return app(environ, start_response)

    wrapped = validator(counting) if validate else counting
    out = stdout if stdout is not None else io.BytesIO()
    err = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a validator warning is a failure
        run(wrapped, environ=environ, stdin=io.BytesIO(body), stdout=out, stderr=err)
    return Served(out.getvalue() if stdout is None else b"", err.getvalue(), calls)


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def echo_environ(keys):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [repr({k: environ.get(k) for k in keys}).encode("latin-1")]

    return app


def seen(env, key):
    served = serve(echo_environ([key]), env)
    assert served.code == 200, served.log
    return served.calls[0].get(key)


# --- environ -----------------------------------------------------------------


def test_environ_has_every_required_key():
    served = serve(hello, {"HTTP_ACCEPT": "*/*", "CUSTOM_VAR": "x", "CONTENT_TYPE": "text/plain"})
    env = served.calls[0]
    for key in (
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
    ):
        assert key in env
    assert (
        env["HTTP_ACCEPT"] == "*/*"
        and env["CUSTOM_VAR"] == "x"
        and env["CONTENT_TYPE"] == "text/plain"
    )
    assert env["wsgi.version"] == (1, 0)
    assert env["wsgi.url_scheme"] == "http"
    assert env["wsgi.multithread"] is False
    assert env["wsgi.multiprocess"] is True
    assert env["wsgi.run_once"] is True
    assert env["wsgi.input_terminated"] is True
    assert callable(env["wsgi.file_wrapper"])


def test_defaults_when_the_server_omits_variables():
    served = serve(echo_environ([]), {"PATH_INFO": "/x"}, base=False)
    env = served.calls[0]
    assert (env["REQUEST_METHOD"], env["SCRIPT_NAME"], env["PATH_INFO"], env["QUERY_STRING"]) == (
        "GET",
        "",
        "/x",
        "",
    )
    assert (env["SERVER_NAME"], env["SERVER_PORT"], env["SERVER_PROTOCOL"]) == (
        "localhost",
        "80",
        "HTTP/1.0",
    )


@pytest.mark.parametrize(
    "extra,scheme,port",
    [
        ({"HTTPS": "on"}, "https", "443"),
        ({"HTTPS": "1"}, "https", "443"),
        ({"HTTPS": "yes"}, "https", "443"),
        ({"HTTPS": "ON"}, "https", "443"),
        ({"REQUEST_SCHEME": "https"}, "https", "443"),
        ({"HTTPS": "off"}, "http", "80"),
        ({"HTTPS": ""}, "http", "80"),
        ({"REQUEST_SCHEME": "http"}, "http", "80"),
        ({}, "http", "80"),
    ],
)
def test_url_scheme(extra, scheme, port):
    env = dict(BASE_ENV, **extra)
    del env["SERVER_PORT"]
    served = serve(echo_environ([]), env, base=False)
    assert served.calls[0]["wsgi.url_scheme"] == scheme
    assert served.calls[0]["SERVER_PORT"] == port


def test_bytes_values_reach_the_app_as_latin1_strings():
    raw = b"/caf\xc3\xa9/\xff\x00x"
    assert seen({"PATH_INFO": raw}, "PATH_INFO") == raw.decode("latin-1")


def test_bytes_subclass_values_are_bytes_too():
    # run(environ=...) is typed Mapping[str, str | bytes]: a bytes subclass is
    # bytes (it once stayed bytes when ASCII, and crashed run() when not).
    class Raw(bytes):
        pass

    raw = b"/caf\xc3\xa9/\xff"
    assert seen({"PATH_INFO": Raw(raw)}, "PATH_INFO") == raw.decode("latin-1")
    assert seen({"HTTP_X_ASCII": Raw(b"abc")}, "HTTP_X_ASCII") == "abc"


def test_os_environ_style_strings_are_turned_back_into_their_bytes():
    # os.environ decodes raw bytes with the filesystem encoding and
    # surrogateescape; the app must see the bytes (PEP 3333), not that text.
    raw = b"/caf\xc3\xa9/\xff"
    as_os_environ = raw.decode(sys.getfilesystemencoding(), "surrogateescape")
    assert seen({"PATH_INFO": as_os_environ}, "PATH_INFO") == raw.decode("latin-1")


def test_default_environ_is_the_process_environment_as_bytes(monkeypatch):
    for key, value in dict(BASE_ENV, PATH_INFO="/\xff").items():
        monkeypatch.setenv(key, value if key != "PATH_INFO" else os.fsdecode(b"/\xe2\x82\xac\xff"))
    got = []

    def app(environ, start_response):
        got.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return []

    out = io.BytesIO()
    run(app, stdin=io.BytesIO(), stdout=out, stderr=io.StringIO())
    assert got == [b"/\xe2\x82\xac\xff".decode("latin-1")]


def test_httpoxy_proxy_header_never_becomes_http_proxy():
    assert seen({"HTTP_PROXY": "http://evil.example:8080"}, "HTTP_PROXY") is None


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"REDIRECT_HTTP_AUTHORIZATION": "Basic YTpi"}, "Basic YTpi"),
        (
            {"REDIRECT_HTTP_AUTHORIZATION": "Basic YTpi", "HTTP_AUTHORIZATION": "Bearer t"},
            "Bearer t",
        ),
        ({}, None),
        # The rewrite recipe sets it empty when the client sent no header.
        ({"REDIRECT_HTTP_AUTHORIZATION": ""}, None),
    ],
)
def test_authorization_from_mod_rewrite(env, expected):
    assert seen(env, "HTTP_AUTHORIZATION") == expected


@pytest.mark.parametrize(
    "software,path_info,expected",
    [
        ("Microsoft-IIS/10.0", "/cgi-bin/app.cgi/users/1", "/users/1"),
        ("Microsoft-IIS/10.0", "/users/1", "/users/1"),
        ("Apache/2.4.62", "/cgi-bin/app.cgi/users/1", "/cgi-bin/app.cgi/users/1"),
    ],
)
def test_iis_script_name_in_path_info(software, path_info, expected):
    assert seen({"SERVER_SOFTWARE": software, "PATH_INFO": path_info}, "PATH_INFO") == expected


# --- wsgi.input ----------------------------------------------------------------


def reader(how):
    def app(environ, start_response):
        stream = environ["wsgi.input"]
        if how == "read":
            data = stream.read()
        elif how == "read-sized":
            parts = []
            while True:
                part = stream.read(3)
                if not part:
                    break
                parts.append(part)
            data = b"".join(parts)
        elif how == "readline":
            data = b"".join(iter(stream.readline, b""))
        elif how == "readlines":
            data = b"".join(stream.readlines())
        else:
            data = b"".join(stream)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [data]

    return app


@pytest.mark.parametrize("how", ["read", "read-sized", "readline", "readlines", "iterate"])
def test_input_never_reads_past_content_length(how):
    served = serve(
        reader(how),
        {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "10"},
        body=b"line1\nline2\nEXTRA-NOT-MINE",
        validate=how != "read",
    )
    assert served.body == b"line1\nline"


def test_no_content_length_means_an_empty_body():
    assert (
        serve(reader("read-sized"), {"REQUEST_METHOD": "POST"}, body=b"data the server left").body
        == b""
    )


def test_empty_content_length_means_an_empty_body():
    assert (
        serve(
            reader("read-sized"), {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": ""}, body=b"x"
        ).body
        == b""
    )


def test_body_shorter_than_content_length_ends_at_eof():
    assert (
        serve(
            reader("read-sized"), {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "100"}, body=b"short"
        ).body
        == b"short"
    )


def test_unread_body_is_drained_after_the_response_but_never_past_content_length():
    stdin = io.BytesIO(b"x" * 200_000 + b"NEXT")
    run(
        hello,
        environ=dict(BASE_ENV, REQUEST_METHOD="POST", CONTENT_LENGTH="200000"),
        stdin=stdin,
        stdout=io.BytesIO(),
        stderr=io.StringIO(),
    )
    assert stdin.read() == b"NEXT"


def test_readline_with_a_size():
    def app(environ, start_response):
        stream = environ["wsgi.input"]
        parts = [stream.readline(2), stream.readline(100), stream.readline(), stream.readline()]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [repr(parts).encode()]

    served = serve(app, {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "9"}, body=b"abcd\nef\nghij")
    assert served.body == repr([b"ab", b"cd\n", b"ef\n", b"g"]).encode()


@pytest.mark.parametrize(
    "length",
    ["-1", "abc", "+5", " 5", "5_0", "1e3", "0x10", "\u0661", "5;6", "99999999999999999999999x"],
)
def test_bad_content_length_is_400_and_the_app_is_not_called(length):
    served = serve(hello, {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": length}, body=b"12345")
    assert served.code == 400
    assert served.calls == []
    assert "CONTENT_LENGTH" in served.log
    assert served.header("Content-Type").startswith("text/plain")


def test_huge_content_length_reads_what_there_is():
    served = serve(
        reader("read-sized"), {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "9" * 30}, body=b"abc"
    )
    assert served.code == 200 and served.body == b"abc"


# --- the response --------------------------------------------------------------


def test_response_format():
    served = serve(hello, validate=False)  # the validator hides the list
    assert (
        served.raw
        == b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
    )


def test_headers_keep_order_and_repeats_and_latin1():
    def app(environ, start_response):
        start_response(
            "201 Cr\xe9\xe9",
            [
                ("Content-Type", "text/plain"),
                ("Set-Cookie", "a=1"),
                ("Set-Cookie", "b=2"),
                ("X-Latin", "caf\xe9"),
            ],
        )
        return iter([b"a", b"", b"b"])

    served = serve(app)
    assert served.status == "201 Cr\xe9\xe9"
    assert served.header_all("Set-Cookie") == ["a=1", "b=2"]
    assert served.header("X-Latin") == "caf\xe9"
    assert served.header("Content-Length") is None  # unknown for an iterator
    assert served.body == b"ab"


def test_binary_body_is_exact():
    payload = bytes(range(256)) * 1000

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (payload[i : i + 4096] for i in range(0, len(payload), 4096))

    assert serve(app).body == payload


class RecordingStream(io.BytesIO):
    """A stdout that records what had been written at each flush."""

    def __init__(self):
        super().__init__()
        self.flushes = []

    def flush(self):
        self.flushes.append(self.getvalue())


def test_headers_wait_for_the_first_non_empty_chunk_and_chunks_are_flushed_as_yielded():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b""
        assert out.flushes == [], "headers sent before the first non-empty chunk"
        yield b"one"
        assert out.flushes[-1].endswith(b"\r\n\r\none")
        yield b"two"

    out = RecordingStream()
    serve(app, stdout=out)
    assert out.getvalue().endswith(b"onetwo")
    assert out.getvalue().count(b"Status:") == 1


def test_empty_body_still_sends_headers():
    def app(environ, start_response):
        start_response("204 No Content", [])
        return []

    served = serve(app)
    assert served.raw == b"Status: 204 No Content\r\n\r\n"


BAD_RESPONSES = [
    ("200", [("Content-Type", "text/plain")]),
    ("200OK", [("Content-Type", "text/plain")]),
    ("20x OK", [("Content-Type", "text/plain")]),
    ("200 OK\r\nX-Injected: 1", [("Content-Type", "text/plain")]),
    ("200 OK", [("Content-Type", "text/plain\r\nX-Injected: 1")]),
    ("200 OK", [("X-Injected\r\nY", "1")]),
    ("200 OK", [("Content-Type", "text/plain\nX-Injected: 1")]),
    ("200 OK", [("X", "nul\x00")]),
    ("200 OK", [("Bad Name", "x")]),
    ("200 OK", [("Content-Type", b"text/plain")]),
    ("200 OK", [("X", "\u20ac")]),
    ("200 OK", [("Connection", "close")]),
    ("200 OK", [("Transfer-Encoding", "chunked")]),
    ("200 OK", (("Content-Type", "text/plain"),)),
    (b"200 OK", [("Content-Type", "text/plain")]),
]


@pytest.mark.parametrize("status,headers", BAD_RESPONSES)
def test_invalid_status_or_headers_become_500_with_nothing_leaked(status, headers):
    def app(environ, start_response):
        start_response(status, headers)
        return [b"secret body"]

    served = serve(app, validate=False)
    assert served.code == 500
    assert b"X-Injected" not in served.raw and b"secret body" not in served.raw
    assert served.raw.count(b"Status:") == 1
    assert "Traceback" in served.log


def test_app_exception_is_a_generic_500_with_the_traceback_in_the_log_only():
    def app(environ, start_response):
        raise RuntimeError("db password is hunter2")

    served = serve(app)
    assert served.code == 500
    assert served.body == b"500 Internal Server Error\n"
    assert b"hunter2" not in served.raw
    assert "RuntimeError: db password is hunter2" in served.log and "Traceback" in served.log


def test_debug_page_shows_the_traceback_when_asked():
    def app(environ, start_response):
        raise RuntimeError("boom for debugging")

    served = serve(app, {"WSGICGI_DEBUG": "1"})
    assert served.code == 500
    assert b"RuntimeError: boom for debugging" in served.body


def test_exception_before_the_first_chunk_is_a_500():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b""
        raise ValueError("late")

    served = serve(app)
    assert served.code == 500 and "ValueError: late" in served.log


def test_exception_after_the_first_chunk_cuts_the_body_without_a_second_status():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        raise ValueError("mid-stream")

    served = serve(app)
    assert served.code == 200 and served.body == b"partial"
    assert served.raw.count(b"Status:") == 1
    assert "ValueError: mid-stream" in served.log and "cut after 7" in served.log


def test_str_chunk_is_a_500():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["text, not bytes"]

    served = serve(app, validate=False)
    assert served.code == 500 and b"text, not bytes" not in served.raw


def test_yield_before_start_response_is_a_500():
    def app(environ, start_response):
        return [b"too early"]

    served = serve(app, validate=False)
    assert served.code == 500 and b"too early" not in served.raw


def test_return_without_start_response_is_a_500():
    served = serve(lambda environ, start_response: [], validate=False)
    assert served.code == 500


# --- start_response and exc_info (PEP 3333) ----------------------------------


def test_second_start_response_without_exc_info_is_an_error():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"x"]

    served = serve(app, validate=False)
    assert served.code == 500 and "start_response() called again" in served.log


def test_exc_info_before_headers_are_sent_replaces_the_response():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Old", "1")])
        try:
            raise KeyError("x")
        except KeyError:
            start_response(
                "503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info()
            )
        return [b"sorry"]

    served = serve(app)
    assert served.code == 503 and served.header("X-Old") is None and served.body == b"sorry"


def test_exc_info_after_headers_are_sent_reraises_and_cuts_the_body():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"started"
        try:
            raise KeyError("original failure")
        except KeyError:
            start_response(
                "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
            )
        yield b"never"

    served = serve(app, validate=False)
    assert served.raw.count(b"Status:") == 1 and served.body == b"started"
    assert "KeyError: 'original failure'" in served.log


def test_write_callable_streams_before_the_iterable():
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"via write, ")
        return [b"then iterable"]

    served = serve(app)
    assert served.body == b"via write, then iterable"
    assert served.header("Content-Length") is None  # the one block was not the whole body


def test_write_rejects_str():
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write("text")
        return []

    assert serve(app, validate=False).code == 500


# --- close() -------------------------------------------------------------------


class Closing:
    def __init__(self, chunks, fail_at=None, close_fails=False):
        self.chunks = chunks
        self.fail_at = fail_at
        self.close_fails = close_fails
        self.closed = 0

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("iteration failed")
            yield chunk

    def close(self):
        self.closed += 1
        if self.close_fails:
            raise RuntimeError("close failed")


def closing_app(result):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return result

    return app


@pytest.mark.parametrize(
    "result,code,body",
    [
        (Closing([b"a", b"b"]), 200, b"ab"),
        (Closing([b"a", b"b"], fail_at=0), 500, b"500 Internal Server Error\n"),
        (Closing([b"a", b"b"], fail_at=1), 200, b"a"),
        (Closing([b"a"], close_fails=True), 200, b"a"),
    ],
)
def test_close_is_called_exactly_once_whatever_happens(result, code, body):
    served = serve(closing_app(result), validate=False)
    assert result.closed == 1
    assert served.code == code and served.body == body
    if result.close_fails:
        assert "close failed" in served.log


def test_close_is_called_for_head():
    result = Closing([b"a", b"b"])
    served = serve(closing_app(result), {"REQUEST_METHOD": "HEAD"}, validate=False)
    assert result.closed == 1 and served.body == b""


# --- HEAD and Content-Length -------------------------------------------------------


def test_head_sends_headers_only():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"hello"]

    served = serve(app, {"REQUEST_METHOD": "HEAD"})
    assert served.code == 200 and served.body == b"" and served.header("Content-Length") == "5"


def test_head_with_write_callable_sends_no_body():
    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"abc")
        write(b"def")
        return []

    served = serve(app, {"REQUEST_METHOD": "HEAD"})
    assert served.body == b"" and served.raw.count(b"Status:") == 1


def test_single_block_gets_a_content_length():
    assert serve(hello, validate=False).header("Content-Length") == "5"


def test_body_longer_than_content_length_is_truncated():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return iter([b"abc", b"defgh", b"never"])

    served = serve(app, validate=False)
    assert served.body == b"abcd" and "Content-Length" in served.log


def test_body_shorter_than_content_length_is_logged():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return iter([b"abc"])

    served = serve(app, validate=False)
    assert served.body == b"abc" and "7 bytes short" in served.log


# --- the client going away -----------------------------------------------------


class BrokenStdout(io.BytesIO):
    """A stdout whose reader has gone: the first write fails with EPIPE."""

    def write(self, data):
        raise BrokenPipeError(32, "Broken pipe")


def test_client_gone_ends_quietly_and_closes():
    result = Closing([b"a", b"b"])
    err = io.StringIO()
    run(
        closing_app(result), environ=BASE_ENV, stdin=io.BytesIO(), stdout=BrokenStdout(), stderr=err
    )
    assert result.closed == 1
    assert err.getvalue().count("\n") == 1 and "client went away" in err.getvalue()


# --- wsgi.file_wrapper -----------------------------------------------------------


def test_file_wrapper_iterates_when_stdout_is_not_a_file(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(300_000))

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](open(path, "rb"), 8192)

    served = serve(app)
    assert served.body == path.read_bytes()


def test_file_wrapper_sendfile_to_a_real_file_honours_content_length(tmp_path):
    path = tmp_path / "data.bin"
    data = os.urandom(200_000)
    path.write_bytes(data)
    wrappers = []

    def app(environ, start_response):
        start_response(
            "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", "150000")]
        )
        f = open(path, "rb")
        f.seek(1000)
        wrappers.append(environ["wsgi.file_wrapper"](f))
        return wrappers[-1]

    out_path = tmp_path / "out"
    with open(out_path, "w+b") as out:
        run(app, environ=BASE_ENV, stdin=io.BytesIO(), stdout=out, stderr=io.StringIO())
    result = CGIOutput(out_path.read_bytes())
    assert result.body == data[1000:151000]
    assert wrappers[0].filelike.closed


# --- the client or the streams failing under the gateway ---------------------------


class closed_pipe_writer:
    """A binary stdout whose reader has gone: writes raise BrokenPipeError.
    What run() left in its buffer is dropped when it is closed."""

    def __enter__(self):
        read_fd, write_fd = os.pipe()
        os.close(read_fd)
        self.out = open(write_fd, "wb")
        return self.out

    def __exit__(self, *exc):
        try:
            self.out.close()
        except BrokenPipeError:
            pass


def test_client_gone_before_an_empty_response_is_one_log_line():
    # Nothing but the head: it stays buffered until the final flush breaks.
    def app(environ, start_response):
        start_response("204 No Content", [])
        return []

    log = io.StringIO()
    with closed_pipe_writer() as out:
        run(app, environ=BASE_ENV, stdin=io.BytesIO(), stdout=out, stderr=log)
    assert log.getvalue().startswith("wsgicgi: client went away after 0 body bytes")
    assert "Traceback" not in log.getvalue()


def test_client_gone_while_the_500_is_written_is_one_log_line_after_the_traceback():
    def app(environ, start_response):
        raise RuntimeError("marker-gone-500")

    log = io.StringIO()
    with closed_pipe_writer() as out:
        run(app, environ=BASE_ENV, stdin=io.BytesIO(), stdout=out, stderr=log)
    text = log.getvalue()
    assert "RuntimeError: marker-gone-500" in text
    assert text.rstrip().splitlines()[-1].startswith("wsgicgi: client went away")


def test_client_gone_before_a_400_is_one_log_line():
    log = io.StringIO()
    with closed_pipe_writer() as out:
        run(
            lambda e, s: [],
            environ=dict(BASE_ENV, CONTENT_LENGTH="-1"),
            stdin=io.BytesIO(),
            stdout=out,
            stderr=log,
        )
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("wsgicgi: 400 Bad Request: invalid CONTENT_LENGTH")
    assert lines[1].startswith("wsgicgi: client went away")


def test_an_error_log_that_cannot_be_written_does_not_stop_the_500():
    def app(environ, start_response):
        raise RuntimeError("nobody reads this")

    log = io.StringIO()
    log.close()
    out = io.BytesIO()
    run(app, environ=BASE_ENV, stdin=io.BytesIO(), stdout=out, stderr=log)
    assert CGIOutput(out.getvalue()).code == 500


def test_a_body_that_fails_while_drained_is_ignored():
    class Broken(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            raise OSError(5, "Input/output error")

    def app(environ, start_response):  # does not read the body
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"answered"]

    out = io.BytesIO()
    run(
        app,
        environ=dict(BASE_ENV, CONTENT_LENGTH="10", REQUEST_METHOD="POST"),
        stdin=Broken(),
        stdout=out,
        stderr=io.StringIO(),
    )
    assert CGIOutput(out.getvalue()).body == b"answered"


def test_readlines_with_a_hint_stops_once_it_is_reached():
    seen = []

    def app(environ, start_response):
        seen.append(environ["wsgi.input"].readlines(5))
        seen.append(environ["wsgi.input"].readlines())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    body = b"abc\ndef\nghi\n"
    serve(app, env={"CONTENT_LENGTH": str(len(body)), "REQUEST_METHOD": "POST"}, body=body)
    assert seen == [[b"abc\n", b"def\n"], [b"ghi\n"]]
