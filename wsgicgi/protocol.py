"""The checks that the gateway and the reverse adapter share.

Both directions need the same answers: what a valid status and header look
like, which headers are hop-by-hop, how bytes travel inside a WSGI environ.
They live here, once.  Parsing a script's response head is in ``cgihead``.

This module is on the gateway's hot path (often compiled anew for every
request, where no bytecode can be written), so it is short and imports
nothing.
"""

__all__ = [
    "HOP_BY_HOP",
    "TOKEN_CHARS",
    "check_headers",
    "check_status",
    "from_latin1",
    "has_control_chars",
    "is_latin1",
    "is_token",
    "parse_content_length",
    "to_latin1",
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
        or not is_latin1(status)
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
            raise ValueError(
                "hop-by-hop header %r is not allowed from an application (PEP 3333)" % (name,)
            )
        if has_control_chars(value) or not is_latin1(value):
            raise ValueError("invalid characters in value of header %r: %r" % (name, value))


def is_latin1(text):
    """True when ``text`` can be a PEP 3333 native string."""
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
