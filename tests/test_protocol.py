"""Table-driven tests of the shared checks (wsgicgi.protocol) and the CGI
response head parser (wsgicgi.cgihead)."""

import pytest

from wsgicgi.cgihead import CGIResponseError, parse_cgi_headers
from wsgicgi.protocol import (
    check_headers,
    check_status,
    from_latin1,
    has_control_chars,
    is_token,
    parse_content_length,
    to_latin1,
)

BAD_STATUSES = [
    ("200", ValueError),  # no reason phrase (PEP 3333 wants one)
    ("200 ", ValueError),
    ("200OK", ValueError),
    ("20 OK", ValueError),
    ("abc OK", ValueError),
    ("099 Low", ValueError),
    ("600 High", ValueError),
    ("200 OK\r\nSet-Cookie: x=1", ValueError),
    ("200 OK\n", ValueError),
    ("200 O\x00K", ValueError),
    ("200 \u20ac", ValueError),  # not latin-1
    ("\u0662\u0660\u0660 OK", ValueError),  # non-ASCII digits
    (b"200 OK", TypeError),
    (200, TypeError),
    (None, TypeError),
]


@pytest.mark.parametrize("status,error", BAD_STATUSES)
def test_check_status_rejects(status, error):
    with pytest.raises(error):
        check_status(status)


@pytest.mark.parametrize(
    "status,code",
    [("200 OK", 200), ("404 Not Found", 404), ("599 Whatever x", 599), ("201 \xe9t\xe9", 201)],
)
def test_check_status_accepts(status, code):
    assert check_status(status) == code


BAD_HEADERS = [
    ((("Content-Type", "text/plain"),), TypeError),  # a tuple, not a list
    ([["Content-Type", "text/plain"]], TypeError),  # a list item, not a tuple
    ([("Content-Type",)], TypeError),
    ([("Content-Type", b"text/plain")], TypeError),
    ([(b"Content-Type", "text/plain")], TypeError),
    ([("X", 1)], TypeError),
    ([("Bad Name", "v")], ValueError),
    ([("", "v")], ValueError),
    ([("X:Y", "v")], ValueError),
    ([("X-Y\r\n", "v")], ValueError),
    ([("X", "a\r\nSet-Cookie: evil=1")], ValueError),
    ([("X", "a\nb")], ValueError),
    ([("X", "a\rb")], ValueError),
    ([("X", "a\x00b")], ValueError),
    ([("X", "a\x7fb")], ValueError),
    ([("X", "\u20ac")], ValueError),
    ([("Connection", "close")], ValueError),
    ([("Transfer-Encoding", "chunked")], ValueError),
    ([("keep-alive", "timeout=5")], ValueError),
]


@pytest.mark.parametrize("headers,error", BAD_HEADERS)
def test_check_headers_rejects(headers, error):
    with pytest.raises(error):
        check_headers(headers)


def test_check_headers_accepts_latin1_tabs_and_repeats():
    check_headers(
        [
            ("Content-Type", "text/plain"),
            ("X-Latin", "caf\xe9\tok"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
            ("X-Empty", ""),
        ]
    )


@pytest.mark.parametrize(
    "name,ok",
    [
        ("Content-Type", True),
        ("x-a!#$%&'*+.^_`|~", True),
        ("", False),
        ("a b", False),
        ("a:b", False),
        ("\xe9", False),
        ("a\tb", False),
        (b"X", False),
        ("a(b)", False),
    ],
)
def test_is_token(name, ok):
    assert is_token(name) is ok


@pytest.mark.parametrize(
    "value,bad",
    [
        ("plain", False),
        ("tab\there", False),
        ("\xe9", False),
        ("cr\r", True),
        ("lf\n", True),
        ("nul\x00", True),
        ("esc\x1b", True),
        ("del\x7f", True),
    ],
)
def test_has_control_chars(value, bad):
    assert has_control_chars(value) is bad


@pytest.mark.parametrize(
    "value,expected",
    [
        (None, 0),
        ("", 0),
        ("0", 0),
        ("17", 17),
        ("00012", 12),
        ("99999999999999999999", 99999999999999999999),
        ("-1", None),
        ("+5", None),
        (" 5", None),
        ("5 ", None),
        ("5_0", None),
        ("1e3", None),
        ("0x10", None),
        ("\u0661\u0662", None),
        ("abc", None),
        ("5\x00", None),
    ],
)
def test_parse_content_length(value, expected):
    assert parse_content_length(value) == expected


def test_latin1_tunnel_round_trips_every_byte():
    data = bytes(range(256))
    text = to_latin1(data)
    assert len(text) == 256 and from_latin1(text) == data


PARSE_OK = [
    (b"Content-Type: text/html", None, [("Content-Type", "text/html")]),
    (b"Content-Type: text/html\r\nX-A: 1", None, [("Content-Type", "text/html"), ("X-A", "1")]),
    (
        b"Status: 404 Not Found\nContent-Type: text/plain",
        "404 Not Found",
        [("Content-Type", "text/plain")],
    ),
    (b"Status: 404", "404 Not Found", []),  # RFC 3875 §6.3.3: reason supplied when missing
    (b"status:302", "302 Found", []),
    (b"Status: 299", "299 Unknown", []),
    (b"Status:  200   Fine  ", "200 Fine", []),
    (b"Location: http://example.com/", None, [("Location", "http://example.com/")]),
    (b"X-Latin: caf\xe9", None, [("X-Latin", "caf\xe9")]),
    (b"X-Empty:", None, [("X-Empty", "")]),
    (b"X-Folded: a\r\n  b", None, [("X-Folded", "a b")]),
    (b"Set-Cookie: a=1\nSet-Cookie: b=2", None, [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]),
]


@pytest.mark.parametrize("block,status,headers", PARSE_OK)
def test_parse_cgi_headers(block, status, headers):
    assert parse_cgi_headers(block) == (status, headers)


PARSE_BAD = [
    b"no colon here",
    b"Content-Type: text/html\r\n\r\nX: y",  # blank line inside the block
    b"Bad Name: x",
    b": no name",
    b"X: a\rb",  # bare CR
    b"X: a\x00b",
    b" leading continuation",
    b"Status: 200 OK\nStatus: 404 Not Found",
    b"Status: abc",
    b"Status: 20",
    b"Status: 2000",
    b"Status: 200OK",
    b"Status: 700 Nope",
    b"Status: 200 OK\r\nX: y\r\n z\x00",
    b"\xff\xfe: binary",
]


@pytest.mark.parametrize("block", PARSE_BAD)
def test_parse_cgi_headers_rejects(block):
    with pytest.raises(CGIResponseError):
        parse_cgi_headers(block)
