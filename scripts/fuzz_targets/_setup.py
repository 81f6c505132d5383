"""Shared by the atheris targets: import wsgicgi from this checkout, instrumented."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import atheris  # noqa: E402

with atheris.instrument_imports(include=["wsgicgi"]):
    import wsgicgi
    import wsgicgi.errors
    import wsgicgi.gateway
    import wsgicgi.protocol  # noqa: F401


def check_cgi_response(raw, head=False):
    """Assert that ``raw`` is a well-formed CGI response as the gateway must
    write it: a Status line first, headers that wsgicgi's own parser and
    validators accept, a blank line, then at most Content-Length body bytes."""
    from wsgicgi.cgihead import parse_cgi_headers
    from wsgicgi.protocol import HOP_BY_HOP, check_headers, check_status, parse_content_length

    block, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, "no blank line: %r" % raw[:200]
    assert block.startswith(b"Status: "), "no Status first: %r" % raw[:200]
    status, headers = parse_cgi_headers(block)  # raises on a malformed block
    assert status is not None
    check_status(status)
    check_headers([h for h in headers if h[0].lower() not in HOP_BY_HOP])
    assert not any(n.lower() in HOP_BY_HOP for n, _ in headers), headers
    lengths = [v for n, v in headers if n.lower() == "content-length"]
    if lengths:
        length = parse_content_length(lengths[0])
        assert length is not None and len(body) <= length, (lengths, len(body))
    if head:
        assert body == b"", body[:80]
    return status, headers, body
