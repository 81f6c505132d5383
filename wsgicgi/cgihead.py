"""The head of a CGI response (RFC 3875 §6): status lines and the parser of
a script's header block.

Used by the reverse adapter for every script's output, and by the gateway
only to write an error response, so it stays off the gateway's success path.
"""

from .protocol import has_control_chars, is_token

# typing.TYPE_CHECKING without importing typing: the gateway's error path
# imports this module (see gateway.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from ._types import Headers

__all__ = ["REASONS", "CGIResponseError", "cgi_status", "parse_cgi_headers", "status_line"]

REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    206: "Partial Content",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class CGIResponseError(ValueError):
    """A CGI script's response header block is malformed (answered with 502)."""


def status_line(code: "int") -> "str":
    """A ``"NNN Reason"`` status string for a code."""
    return "%d %s" % (code, REASONS.get(code, "Unknown"))


def parse_cgi_headers(block: "bytes") -> "tuple[str | None, Headers]":
    """Parse a CGI response header block (RFC 3875 §6.2–6.3).

    ``block`` is the bytes before the blank line, without it; lines may end in
    LF or CRLF.  Returns ``(status, headers)``: ``status`` is a PEP 3333 status
    string or ``None`` when the script sent no ``Status`` header, ``headers`` a
    list of ``(name, value)`` latin-1 strings in their order, without
    ``Status``.  Raises ``CGIResponseError`` for a line without a colon, a
    name that is not a token, a bare CR or NUL, a second ``Status`` or an
    invalid one.  Obsolete line folding (a line starting with space or tab)
    continues the previous header's value, as RFC 3875 §6.3 allows.
    """
    text = block.decode("latin-1")
    # Unfold first, into logical lines: gluing each continuation onto a
    # growing value would be quadratic in the number of lines.
    logical: list[list[str]] = []
    for line in text.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if line == "":
            raise CGIResponseError("empty line inside the header block")
        if line[0] in " \t":
            if not logical:
                raise CGIResponseError("continuation line before any header: %r" % (line[:80],))
            logical[-1].append(line.strip(" \t"))
        else:
            logical.append([line])
    status: Optional[str] = None
    headers: Headers = []
    for parts in logical:
        name, colon, value = parts[0].partition(":")
        if not colon:
            raise CGIResponseError("header line without a colon: %r" % (parts[0][:80],))
        if not is_token(name):
            raise CGIResponseError("invalid header name %r" % (name[:80],))
        value = value.strip(" \t")
        if len(parts) > 1:
            value = " ".join([p for p in [value, *parts[1:]] if p])
        if has_control_chars(value):
            raise CGIResponseError("control character in header %r" % (name,))
        if name.lower() == "status":
            if status is not None:
                raise CGIResponseError("more than one Status header")
            status = cgi_status(value)
            continue
        headers.append((name, value))
    return status, headers


def cgi_status(value: "str") -> "str":
    """A ``Status`` value (or an ``nph-`` status line after its HTTP version)
    as a PEP 3333 status string; raises ``CGIResponseError`` if invalid."""
    # RFC 3875 §6.3.3: Status = status-code SP reason-phrase; many scripts omit
    # the reason phrase, so supply the standard one.
    code = value[:3]
    rest = value[3:]
    if not (len(code) == 3 and code.isascii() and code.isdigit() and code[0] in "12345"):
        raise CGIResponseError("invalid Status %r" % (value[:80],))
    if rest and rest[0] not in " \t":
        raise CGIResponseError("invalid Status %r" % (value[:80],))
    reason = rest.strip(" \t")
    if not reason:
        reason = REASONS.get(int(code), "Unknown")
    return code + " " + reason
