"""atheris target: wsgicgi.cgihead.parse_cgi_headers on arbitrary bytes.

Every input ends in (status, headers) that the validators accept, or in
CGIResponseError; a parsed block written back out parses to the same result.
"""

import sys

import _setup  # noqa: F401  (sys.path, instrumentation)
import atheris

from wsgicgi.cgihead import CGIResponseError, parse_cgi_headers
from wsgicgi.protocol import (
    HOP_BY_HOP,
    check_headers,
    check_status,
    has_control_chars,
    is_token,
)


def TestOneInput(data):
    try:
        status, headers = parse_cgi_headers(data)
    except CGIResponseError:
        return
    if status is not None:
        check_status(status)
    for name, value in headers:
        assert is_token(name), name
        assert name.lower() != "status"
        assert not has_control_chars(value), value
        assert value == value.strip(" \t"), value
        value.encode("latin-1")
    check_headers([h for h in headers if h[0].lower() not in HOP_BY_HOP])
    lines = ["Status: " + status] if status is not None else []
    lines += ["%s: %s" % h for h in headers]
    if lines:
        again = parse_cgi_headers("\r\n".join(lines).encode("latin-1"))
        assert again == (status, headers), (again, (status, headers))


def main():
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
