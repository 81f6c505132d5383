"""The halves of the protocol that the gateway and the reverse adapter share.

Both directions need the same answers: what a valid status line and header look
like, which headers are hop-by-hop, how bytes travel inside a WSGI environ, and
how a CGI response header block is parsed.  They live here, once.

This module is imported on the gateway's hot path, so it imports nothing.
"""

__all__ = [
    "HOP_BY_HOP",
    "TOKEN_CHARS",
    "CGIResponseError",
    "is_token",
    "has_control_chars",
    "check_status",
    "check_headers",
    "to_latin1",
    "from_latin1",
    "parse_content_length",
    "parse_cgi_headers",
    "REASONS",
    "status_line",
]

# RFC 7230 §6.1 / RFC 2616 §13.5.1; PEP 3333 forbids an application to send them.
HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    )
)

# RFC 7230 §3.2.6 tchar.
TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Characters that may never appear in a status line or a header value:
# CR and LF would split the header block (response splitting), NUL truncates it
# in C servers.  Other controls except TAB are rejected by RFC 7230 §3.2 too.
_FORBIDDEN_IN_VALUE = frozenset(chr(c) for c in range(32) if c != 9) | {"\x7f"}

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


def is_token(name):
    """True when ``name`` is a non-empty RFC 7230 token (a valid header name)."""
    return type(name) is str and name != "" and not name.strip(TOKEN_CHARS)


def has_control_chars(value):
    """True when ``value`` holds CR, LF, NUL or another forbidden control."""
    if value.isprintable():
        return False
    return not _FORBIDDEN_IN_VALUE.isdisjoint(value)


def check_status(status):
    """Validate a PEP 3333 status string such as ``"200 OK"``; return its code.

    Raises ``TypeError`` for a non-``str`` and ``ValueError`` for a malformed
    status: PEP 3333 wants three digits, a space and a reason phrase.
    """
    if type(status) is not str:
        raise TypeError("status must be str, not %s" % type(status).__name__)
    code = status[:3]
    if (
        len(status) < 5
        or not (code.isascii() and code.isdigit())
        or status[3] != " "
        or not status[4:].strip(" \t")  # RFC 7230 §3.1.2: obs-text is a reason too
        or code[0] not in "12345"
        or has_control_chars(status)
        or not _is_latin1(status)
    ):
        raise ValueError("invalid status %r: want three digits, a space and a reason" % (status,))
    return int(code)


def check_headers(headers):
    """Validate a PEP 3333 ``response_headers`` list from an application.

    Each item must be a ``(str, str)`` tuple, the name a token and not a
    hop-by-hop header, the value latin-1 without CR, LF or NUL.
    Raises ``TypeError`` or ``ValueError`` naming the first bad header.
    """
    if type(headers) is not list:
        raise TypeError("response_headers must be a list, not %s" % type(headers).__name__)
    for item in headers:
        if type(item) is not tuple or len(item) != 2:
            raise TypeError("each header must be a (name, value) tuple, got %r" % (item,))
        name, value = item
        if type(name) is not str or type(value) is not str:
            raise TypeError("header name and value must be str, got %r" % (item,))
        if not is_token(name):
            raise ValueError("invalid header name %r" % (name,))
        if name.lower() in HOP_BY_HOP:
            raise ValueError("hop-by-hop header %r is not allowed from an application (PEP 3333)" % (name,))
        if has_control_chars(value) or not _is_latin1(value):
            raise ValueError("invalid characters in value of header %r: %r" % (name, value))


def _is_latin1(text):
    if text.isascii():
        return True
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def to_latin1(data):
    """Bytes → the PEP 3333 "native string" that carries them (latin-1)."""
    return data.decode("latin-1")


def from_latin1(text):
    """A PEP 3333 native string → the bytes it carries."""
    return text.encode("latin-1")


def parse_content_length(value):
    """Parse a CONTENT_LENGTH meta-variable.

    Returns the length (0 when absent or empty) or ``None`` when the value is
    not a plain run of ASCII digits (RFC 3875 §4.1.2: ``1*digit``).  Python's
    ``int()`` would accept ``+5``, `` 5 ``, ``5_0`` and non-ASCII digits.  A
    length of more than 640 significant digits comes back as ``2**63 - 1``.
    """
    if value is None or value == "":
        return 0
    if value.isascii() and value.isdigit():
        digits = value.lstrip("0")
        if len(digits) > 640:
            # int() refuses more than sys.get_int_max_str_digits() digits (at
            # least 640): such a length only means "more than there is".
            return _HUGE
        return int(digits or "0")
    return None


_HUGE = (1 << 63) - 1


def status_line(code):
    """A ``"NNN Reason"`` status string for a code."""
    return "%d %s" % (code, REASONS.get(code, "Unknown"))


def parse_cgi_headers(block):
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
    logical = []
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
    status = None
    headers = []
    for parts in logical:
        name, colon, value = parts[0].partition(":")
        if not colon:
            raise CGIResponseError("header line without a colon: %r" % (parts[0][:80],))
        if not is_token(name):
            raise CGIResponseError("invalid header name %r" % (name[:80],))
        value = value.strip(" \t")
        if len(parts) > 1:
            value = " ".join([p for p in [value] + parts[1:] if p])
        if has_control_chars(value):
            raise CGIResponseError("control character in header %r" % (name,))
        if name.lower() == "status":
            if status is not None:
                raise CGIResponseError("more than one Status header")
            status = _normalise_cgi_status(value)
            continue
        headers.append((name, value))
    return status, headers


def _normalise_cgi_status(value):
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
