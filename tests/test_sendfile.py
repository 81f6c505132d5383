"""wsgicgi/sendfile.py: the gateway's wsgi.file_wrapper fast path when
os.sendfile cannot be used or the client goes away (the plain paths are in
tests/test_gateway.py)."""

import io
import os
import threading

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


def file_app(path, length=None, closed=None):
    def app(environ, start_response):
        headers = [("Content-Type", "application/octet-stream")]
        if length is not None:
            headers.append(("Content-Length", str(length)))
        start_response("200 OK", headers)
        wrapper = environ["wsgi.file_wrapper"](open(str(path), "rb"), 4096)
        if closed is not None:
            closed.append(wrapper)
        return wrapper

    return app


def test_stdout_in_append_mode_falls_back_to_reading_the_file(tmp_path):
    # sendfile(2) refuses an O_APPEND descriptor (EINVAL): a CGI program's
    # stdout redirected with >> gets the body all the same.
    data = os.urandom(100_000)
    (tmp_path / "data.bin").write_bytes(data)
    out_path = tmp_path / "out"
    wrappers = []
    with open(str(out_path), "ab") as out:
        run(
            file_app(tmp_path / "data.bin", closed=wrappers),
            environ=BASE_ENV,
            stdin=io.BytesIO(),
            stdout=out,
            stderr=io.StringIO(),
        )
    result = CGIOutput(out_path.read_bytes())
    assert (result.code, result.body) == (200, data)
    assert wrappers[0].filelike.closed


def test_append_mode_fallback_honours_content_length(tmp_path):
    data = os.urandom(50_000)
    (tmp_path / "data.bin").write_bytes(data)
    out_path = tmp_path / "out"
    log = io.StringIO()
    with open(str(out_path), "ab") as out:
        run(
            file_app(tmp_path / "data.bin", length=10_000),
            environ=BASE_ENV,
            stdin=io.BytesIO(),
            stdout=out,
            stderr=log,
        )
    result = CGIOutput(out_path.read_bytes())
    assert result.body == data[:10_000]
    assert result.header("Content-Length") == "10000"


def test_head_sends_the_headers_of_a_file_and_no_body(tmp_path):
    (tmp_path / "data.bin").write_bytes(b"x" * 5000)
    out_path = tmp_path / "out"
    wrappers = []
    with open(str(out_path), "w+b") as out:
        run(
            file_app(tmp_path / "data.bin", length=5000, closed=wrappers),
            environ=dict(BASE_ENV, REQUEST_METHOD="HEAD"),
            stdin=io.BytesIO(),
            stdout=out,
            stderr=io.StringIO(),
        )
    result = CGIOutput(out_path.read_bytes())
    assert (result.code, result.body) == (200, b"")
    assert result.header("Content-Length") == "5000"
    assert wrappers[0].filelike.closed


def test_client_gone_during_sendfile_is_one_log_line(tmp_path):
    # A pipe whose reader takes the head, then goes away while a 1 MiB file
    # is being sent: EPIPE from sendfile, one line in the log, close() called.
    (tmp_path / "data.bin").write_bytes(b"y" * (1 << 20))
    read_fd, write_fd = os.pipe()
    head = bytearray()

    def reader():
        while b"\r\n\r\n" not in head:
            data = os.read(read_fd, 1)
            if not data:
                break
            head.extend(data)
        os.close(read_fd)

    thread = threading.Thread(target=reader)
    thread.start()
    log = io.StringIO()
    wrappers = []
    try:
        with open(write_fd, "wb") as out:
            run(
                file_app(tmp_path / "data.bin", closed=wrappers),
                environ=BASE_ENV,
                stdin=io.BytesIO(),
                stdout=out,
                stderr=log,
            )
    except BrokenPipeError:
        pass  # closing our end may flush nothing more
    finally:
        thread.join(30)
    assert head.startswith(b"Status: 200 OK\r\n")
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wsgicgi: client went away after"), lines
    assert "Traceback" not in log.getvalue()
    assert wrappers[0].filelike.closed
