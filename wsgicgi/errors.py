"""The gateway's failure paths: error responses, tracebacks, a client gone.

Imported only when something went wrong, so this code and ``traceback`` stay
off the success path of every CGI request.
"""

import traceback

from .cgihead import status_line

# typing.TYPE_CHECKING without importing typing: see gateway.py.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ._types import OptExcInfo, OutputFile
    from .gateway import _Response

__all__ = ["app_failed", "bad_request", "client_gone", "error_response", "format_exception"]


def format_exception(exc_info: "OptExcInfo", heading: "str") -> "str":
    """A heading line and the formatted traceback, for the error log."""
    text = "".join(traceback.format_exception(*exc_info))
    return heading + "\n" + text.rstrip("\n")


def error_response(
    code: "int", exc_info: "OptExcInfo | None" = None, head: "bool" = False
) -> "bytes":
    """A complete CGI response (RFC 3875 §6) for an error status.

    The body is a short generic text; only when ``exc_info`` is given (the
    opt-in ``WSGICGI_DEBUG`` page) does it hold the traceback.
    """
    status = status_line(code)
    body = status + "\n"
    if exc_info is not None:
        body += "\n" + "".join(traceback.format_exception(*exc_info))
    data = body.encode("utf-8", "replace")
    header = (
        "Status: %s\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: %d\r\n"
        "Cache-Control: no-store\r\n"
        "\r\n" % (status, len(data))
    ).encode("latin-1")
    return header if head else header + data


def app_failed(
    response: "_Response", exc_info: "OptExcInfo", environ: "Mapping[str, Any] | None"
) -> None:
    """An application error: a 500 if nothing was sent yet, else the body is
    cut where it is (never a second status line).  The traceback is logged."""
    from .gateway import _TRUE

    response.log(format_exception(exc_info, "wsgicgi: error in the WSGI application"))
    if response.headers_sent:
        response.log("wsgicgi: response cut after %d body bytes" % response.sent)
        return
    debug = environ.get("WSGICGI_DEBUG", "") in _TRUE if environ else False
    response.out.write(error_response(500, exc_info if debug else None, head=response.head))
    response.out.flush()
    response.headers_sent = True


def client_gone(response: "_Response", out: "OutputFile", default_stdout: "bool") -> None:
    """The client went away (EPIPE): one log line, no traceback flood."""
    import os

    response.log("wsgicgi: client went away after %d body bytes" % response.sent)
    if default_stdout:
        # Point stdout at /dev/null so that the interpreter's flush at exit
        # does not print a second BrokenPipeError.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            stdout: Any = out  # sys.stdout.buffer here, which has fileno()
            os.dup2(devnull, stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass


def bad_request(response: "_Response", exc: "Exception", default_stdout: "bool") -> None:
    """Answer 400 for meta-variables that cannot be served; log why."""
    response.log("wsgicgi: 400 Bad Request: %s" % exc)
    try:
        response.out.write(error_response(400, head=response.head))
        response.out.flush()
    except BrokenPipeError:
        client_gone(response, response.out, default_stdout)
