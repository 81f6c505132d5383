"""Error responses and tracebacks for the gateway.

Imported only when something went wrong, so ``traceback`` and ``html`` stay
off the success path.
"""

import traceback

from .protocol import status_line

__all__ = ["format_exception", "error_response"]


def format_exception(exc_info, heading):
    """A heading line and the formatted traceback, for the error log."""
    text = "".join(traceback.format_exception(*exc_info))
    return heading + "\n" + text.rstrip("\n")


def error_response(code, exc_info=None, head=False):
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
