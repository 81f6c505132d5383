"""Property-based tests (hypothesis) of every parser and validator.

Each property states what *any* input ends in: a valid result, or the one
documented clean error, never another exception.  The oracles below are
written from the specs (PEP 3333, RFC 3875, RFC 7230), not from the code.
"""

import io
import os
import re
import sys
import warnings
from wsgiref.validate import check_environ, validator

import pytest
from cgi_output import CGIOutput
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from wsgicgi import gateway, run
from wsgicgi.cgihead import CGIResponseError, parse_cgi_headers
from wsgicgi.protocol import (
    check_headers,
    check_status,
    from_latin1,
    parse_content_length,
    to_latin1,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- oracles, from the specs -------------------------------------------------------

TOKEN = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 7230 §3.2.6
# RFC 7230 §3.2: field-value is HTAB / SP / VCHAR / obs-text; no CR, LF, NUL, DEL.
VALUE_RE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# PEP 3333: three digits, one space, a reason phrase (RFC 7230 §3.1.2 chars).
STATUS_RE = re.compile(
    r"[1-5][0-9][0-9] [\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff][\t\x20-\x7e\x80-\xff]*"
)
HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
}


def valid_status(status):
    return type(status) is str and STATUS_RE.fullmatch(status) is not None


def headers_error(headers):
    """The exception type check_headers must raise for ``headers``, or None."""
    if type(headers) is not list:
        return TypeError
    for item in headers:
        if (
            type(item) is not tuple
            or len(item) != 2
            or type(item[0]) is not str
            or type(item[1]) is not str
        ):
            return TypeError
        name, value = item
        if not TOKEN_RE.fullmatch(name) or name.lower() in HOP or not VALUE_RE.fullmatch(value):
            return ValueError
    return None


# --- strategies --------------------------------------------------------------------

latin1 = st.characters(max_codepoint=255)
tokens = st.text(alphabet=TOKEN, min_size=1, max_size=12)
# Field values: no CR/LF/NUL/DEL, no leading or trailing SP/HTAB (a parser
# strips those, RFC 7230 §3.2.4).
VALUE_CHARS = "".join(chr(c) for c in range(256) if c == 9 or 32 <= c < 127 or c >= 128)
field_values = st.text(alphabet=VALUE_CHARS, max_size=30).map(lambda v: v.strip(" \t"))
reasons = field_values.filter(lambda r: r != "")
statuses_valid = st.builds(lambda c, r: "%d %s" % (c, r), st.integers(100, 599), reasons)
header_ish = st.lists(
    st.sampled_from(
        [
            "Status",
            "Location",
            "X-A",
            "Content-Type",
            ":",
            " ",
            "\t",
            "\r",
            "\n",
            "\r\n",
            "\x00",
            "200",
            "OK",
            "\xff",
            "a b",
            "\x85",
        ]
    ),
    max_size=20,
).map(lambda parts: "".join(parts).encode("latin-1"))


# --- the CGI response header parser -------------------------------------------------


@SETTINGS
@given(st.one_of(st.binary(max_size=300), header_ish))
@example(b"AA:\n ::")  # atheris: a continuation onto an empty value kept a leading space
@example(b"Status: 200 \x85")  # a reason that Python's str.strip() calls whitespace
@example(b"X: a\n \nY: b")
def test_parse_cgi_headers_any_bytes(block):
    try:
        status, headers = parse_cgi_headers(block)
    except CGIResponseError:
        return
    assert status is None or valid_status(status)
    assert status is None or check_status(status) == int(status[:3])
    for name, value in headers:
        assert TOKEN_RE.fullmatch(name) and name.lower() != "status"
        assert VALUE_RE.fullmatch(value) and value == value.strip(" \t")
    check_headers([h for h in headers if h[0].lower() not in HOP])


SEPARATORS = st.sampled_from(["", " ", "\t ", "  "])
EOLS = st.sampled_from(["\n", "\r\n"])
header_names = tokens.filter(lambda n: n.lower() != "status")


@SETTINGS
@given(
    st.lists(st.tuples(header_names, SEPARATORS, field_values, EOLS), max_size=8),
    st.one_of(
        st.none(),
        st.tuples(
            st.sampled_from(["Status", "status", "STATUS"]), statuses_valid, st.integers(0, 8), EOLS
        ),
    ),
)
def test_parse_cgi_headers_round_trip(lines, status):
    texts = [(n + ":" + sep + v, eol) for n, sep, v, eol in lines]
    if status is not None:
        texts.insert(min(status[2], len(texts)), (status[0] + ": " + status[1], status[3]))
    assume(texts)
    block = "".join(line + eol for line, eol in texts)[: -len(texts[-1][1])]
    expected = (None if status is None else status[1], [(n, v) for n, _, v, _ in lines])
    assert parse_cgi_headers(block.encode("latin-1")) == expected


@SETTINGS
@given(
    header_names,
    st.lists(
        st.tuples(EOLS, st.sampled_from([" ", "\t", "  \t"]), field_values.filter(bool)),
        min_size=1,
        max_size=6,
    ),
)
def test_folded_header_is_its_words_joined_by_one_space(name, folds):
    block = name + ":" + "".join(eol + indent + word for eol, indent, word in folds)
    assert parse_cgi_headers(block.encode("latin-1")) == (
        None,
        [(name, " ".join(w for _, _, w in folds))],
    )


@settings(max_examples=5, deadline=None)
@given(st.integers(20_000, 60_000))
def test_parse_cgi_headers_is_linear_in_folded_lines(n):
    # Before the fix, 80,000 continuation lines took 17 s (quadratic).
    import time

    start = time.perf_counter()
    _status, headers = parse_cgi_headers(b"X-A: a" + b"\r\n b" * n)
    assert len(headers[0][1]) == 1 + 2 * n
    assert time.perf_counter() - start < 1.0


# --- status and header validation ----------------------------------------------------


@SETTINGS
@given(
    st.one_of(
        statuses_valid,
        st.text(max_size=12),
        st.builds(
            lambda c, sep, r: c + sep + r,
            st.text("0123456789\u0662", min_size=2, max_size=4),
            st.sampled_from([" ", "", "  ", "\t"]),
            st.text(max_size=6),
        ),
        st.binary(max_size=8),
        st.integers(),
        st.none(),
    )
)
@example("200 \xa0")
@example("200 OK\r\nSet-Cookie: a=1")
def test_check_status_accepts_exactly_the_valid_ones(status):
    try:
        code = check_status(status)
    except TypeError:
        assert type(status) is not str
    except ValueError:
        assert type(status) is str and not valid_status(status)
    else:
        assert valid_status(status) and code == int(status[:3])


names = st.one_of(
    tokens, st.text(max_size=8), st.sampled_from(sorted(HOP)).map(str.title), st.binary(max_size=4)
)
values = st.one_of(
    field_values,
    st.text(max_size=10),
    st.sampled_from(["a\r\nb", "\n", "x\x00", "\x7f", "\u20ac"]),
    st.binary(max_size=4),
    st.integers(),
)
items = st.one_of(
    st.tuples(names, values),
    st.tuples(names, values, values),
    st.lists(names, max_size=2),
    st.none(),
)


@SETTINGS
@given(
    st.one_of(
        st.lists(st.tuples(names, values), max_size=5),
        st.lists(items, max_size=4),
        st.tuples(st.tuples(tokens, field_values)),
        st.none(),
    )
)
def test_check_headers_accepts_exactly_the_valid_ones(headers):
    expected = headers_error(headers)
    try:
        check_headers(headers)
    except (TypeError, ValueError) as exc:
        assert type(exc) is expected, (headers, exc)
    else:
        assert expected is None, headers


# --- CONTENT_LENGTH and the latin-1 tunnel -------------------------------------------


@SETTINGS
@given(
    st.one_of(
        st.none(),
        st.text(max_size=12),
        st.from_regex(r"\A[0-9]{1,25}\Z"),
        st.text("0123456789+-_ \u0661\u00b2", max_size=8),
    )
)
@example("9" * 5000)  # int() refuses over 4300 digits: was a ValueError
@example("0" * 5000 + "7")
def test_parse_content_length_only_ascii_digit_strings(value):
    got = parse_content_length(value)
    if value is None or value == "":
        assert got == 0
    elif re.fullmatch(r"[0-9]+", value):
        digits = value.lstrip("0")
        if len(digits) <= 640:
            assert got == int(digits or "0")
        else:
            assert got >= 2**63 - 1
    else:
        assert got is None


@SETTINGS
@given(st.binary(max_size=600))
def test_latin1_tunnel_round_trip_is_exact(data):
    text = to_latin1(data)
    assert type(text) is str and len(text) == len(data)
    assert from_latin1(text) == data
    assert all(ord(c) == b for c, b in zip(text, data))


@SETTINGS
@given(st.text(alphabet=latin1, max_size=100))
def test_latin1_tunnel_other_way(text):
    assert to_latin1(from_latin1(text)) == text


# --- the environ, from arbitrary bytes --------------------------------------------------

KEYS = [
    b"REQUEST_METHOD",
    b"SCRIPT_NAME",
    b"PATH_INFO",
    b"QUERY_STRING",
    b"CONTENT_LENGTH",
    b"CONTENT_TYPE",
    b"SERVER_NAME",
    b"SERVER_PORT",
    b"SERVER_PROTOCOL",
    b"HTTPS",
    b"REQUEST_SCHEME",
    b"SERVER_SOFTWARE",
    b"HTTP_PROXY",
    b"HTTP_AUTHORIZATION",
    b"REDIRECT_HTTP_AUTHORIZATION",
    b"HTTP_CONTENT_LENGTH",
    b"HTTP_CONTENT_TYPE",
    b"wsgi.input",
    b"wsgi.url_scheme",
]
meta_values = st.one_of(
    st.binary(max_size=40),
    st.integers(0, 99).map(lambda n: str(n).encode()),
    st.sampled_from(
        [
            b"",
            b"/",
            b"/x/",
            b"HEAD",
            b"POST",
            b"Microsoft-IIS/10.0",
            b"on",
            b"https",
            b"-1",
            b"1e3",
            b"\xd9\xa1",
        ]
    ),
    st.builds(
        lambda a, b: a + b,
        st.sampled_from([b"/", b"/cgi-bin/app.cgi", b"/cgi-bin/app.cgix"]),
        st.binary(max_size=10),
    ),
)
meta_variables = st.dictionaries(
    st.one_of(st.sampled_from(KEYS), st.binary(min_size=1, max_size=10)), meta_values, max_size=10
)


def os_environ_style(raw, as_str):
    # What os.environ makes of the bytes a server passes: fs encoding, surrogateescape.
    if not as_str:
        return dict(raw)
    enc = sys.getfilesystemencoding()
    return {
        k.decode(enc, "surrogateescape"): v.decode(enc, "surrogateescape") for k, v in raw.items()
    }


def must_be_bad_request(raw):
    """Why the gateway must answer 400 for these meta-variables, or None."""
    if parse_content_length(raw.get(b"CONTENT_LENGTH", b"").decode("latin-1")) is None:
        return "CONTENT_LENGTH"
    script_name, path_info = raw.get(b"SCRIPT_NAME", b""), raw.get(b"PATH_INFO", b"")
    if script_name != b"/" and (
        script_name[:1] not in (b"", b"/") or path_info[:1] not in (b"", b"/")
    ):
        return "path"  # RFC 3875 §4.1.5, §4.1.13
    return None


def assert_pep3333_environ(env):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown REQUEST_METHOD is only a warning
        check_environ(env)
    for key, value in env.items():
        assert type(key) is str
        key.encode("latin-1")
        if "." not in key:
            assert type(value) is str
            value.encode("latin-1")
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
    assert "HTTP_PROXY" not in env
    assert env["wsgi.url_scheme"] in ("http", "https")


@SETTINGS
@given(meta_variables, st.booleans(), st.binary(max_size=64))
@example(
    {b"CONTENT_LENGTH": b"7" * 25}, False, b"abc"
)  # atheris: read() of 10**25 was an OverflowError
@example(
    {
        b"SCRIPT_NAME": b"/app",
        b"PATH_INFO": b"/application/x",
        b"SERVER_SOFTWARE": b"Microsoft-IIS/10.0",
    },
    False,
    b"",
)
@example({b"SCRIPT_NAME": b"/", b"PATH_INFO": b"x"}, False, b"")
def test_build_environ_from_arbitrary_bytes(raw, as_str, body):
    why = must_be_bad_request(raw)
    try:
        env = gateway.build_environ(
            gateway._read_cgi_variables(os_environ_style(raw, as_str)),
            io.BytesIO(body),
            io.StringIO(),
        )
    except gateway.BadRequest:
        assert why is not None
        return
    assert why is None, why
    assert_pep3333_environ(env)
    for key, value in raw.items():
        if not key.startswith(
            (
                b"wsgi.",
                b"HTTP_PROXY",
                b"HTTP_CONTENT_",
                b"PATH_INFO",
                b"SCRIPT_NAME",
                b"HTTP_AUTHORIZATION",
            )
        ):
            assert env[key.decode("latin-1")] == value.decode("latin-1")
    length = parse_content_length(env.get("CONTENT_LENGTH"))
    assert env["wsgi.input"].read() == body[:length]
    assert env["wsgi.input"].read() == b""


@SETTINGS
@given(st.dictionaries(st.text(max_size=6), st.text(max_size=10), max_size=4))
@example({"PATH_INFO": "/\ud800"})  # was a UnicodeEncodeError out of run()
def test_arbitrary_str_meta_variables_are_an_environ_or_400(variables):
    # Strings os.environ cannot have made (lone surrogates) are a 400, not a crash.
    out = io.BytesIO()
    run(echo, environ=variables, stdin=io.BytesIO(), stdout=out, stderr=io.StringIO())
    assert CGIOutput(out.getvalue()).code in (200, 400)


# --- whole gateway runs ----------------------------------------------------------------


def echo(environ, start_response):
    body = environ["wsgi.input"].read(1 << 16)  # the validator wants a size
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [body]


def gateway_run(app, raw, body, validate=True):
    out, err = io.BytesIO(), io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run(
            validator(app) if validate else app,
            environ=raw,
            stdin=io.BytesIO(body),
            stdout=out,
            stderr=err,
        )
    response = CGIOutput(out.getvalue())
    check_status(response.status)
    status, headers = parse_cgi_headers(out.getvalue().partition(b"\r\n\r\n")[0])
    assert status == response.status
    check_headers(headers)
    if raw.get(b"REQUEST_METHOD") == b"HEAD" or raw.get("REQUEST_METHOD") == "HEAD":
        assert response.body == b""
    length = response.header("Content-Length")
    if length is not None:
        assert len(response.body) <= int(length)
    return response, err.getvalue()


@FEW
@given(meta_variables, st.booleans(), st.binary(max_size=200))
def test_gateway_run_with_arbitrary_meta_variables_and_body(raw, as_str, body):
    response, log = gateway_run(echo, os_environ_style(raw, as_str), body)
    why = must_be_bad_request(raw)
    if why:
        assert response.code == 400 and "400 Bad Request" in log
    else:
        assert response.code == 200, log
        if raw.get(b"REQUEST_METHOD") != b"HEAD":
            assert (
                response.body
                == body[: parse_content_length(raw.get(b"CONTENT_LENGTH", b"").decode("latin-1"))]
            )


class Boom(Exception):
    pass


any_status = st.one_of(
    statuses_valid,
    st.sampled_from(["200", "200 ", "999 X", "200 OK\r\nX: y", b"200 OK", 200]),
    st.text(max_size=8),
)
any_header = st.tuples(
    st.one_of(
        tokens,
        st.sampled_from(["Status", "Content-Length", "Connection", "X Y", ""]),
        st.text(max_size=4),
    ),
    st.one_of(
        field_values, st.sampled_from(["a\r\nb", "5", "-1", "", "\u20ac"]), st.text(max_size=4)
    ),
)
behaviours = st.fixed_dictionaries(
    {
        "status": any_status,
        "headers": st.lists(any_header, max_size=4),
        "chunks": st.lists(st.one_of(st.binary(max_size=20), st.just("str")), max_size=4),
        "raise_at": st.integers(-1, 5),
        "close_raises": st.booleans(),
        "start_twice": st.booleans(),
        "mutate_after_start": st.one_of(st.none(), any_header),
        "write": st.one_of(st.none(), st.binary(max_size=10), st.just("str")),
        "read": st.sampled_from([None, -1, 0, 3]),
    }
)


def misbehaving(b):
    def app(environ, start_response):
        if b["read"] is not None:
            environ["wsgi.input"].read(*(() if b["read"] == -1 else (b["read"],)))
        headers = list(b["headers"])
        write = start_response(b["status"], headers)
        if b["mutate_after_start"] is not None:
            headers.append(b["mutate_after_start"])
        if b["start_twice"]:
            start_response(b["status"], headers)
        if b["write"] is not None:
            write(b["write"])

        def body():
            for i, chunk in enumerate(b["chunks"]):
                if i == b["raise_at"]:
                    raise Boom("in the iterable")
                yield chunk

        return Closing(body(), b["close_raises"])

    return app


class Closing:
    def __init__(self, it, boom):
        self.it, self.boom = it, boom

    def __iter__(self):
        return self.it

    def close(self):
        if self.boom:
            raise Boom("in close()")


def behaviour(**changes):
    b = {
        "status": "200 OK",
        "headers": [("Content-Type", "text/plain")],
        "chunks": [b"hi"],
        "raise_at": -1,
        "close_raises": False,
        "start_twice": False,
        "mutate_after_start": None,
        "write": None,
        "read": None,
    }
    b.update(changes)
    return b


@FEW
@given(meta_variables, st.binary(max_size=50), behaviours, st.booleans())
@example({}, b"", behaviour(mutate_after_start=("", "")), False)  # atheris: wrote ": \r\n"
@example({}, b"", behaviour(mutate_after_start=("X", "a\r\nSet-Cookie: evil=1")), False)
@example({}, b"", behaviour(headers=[("Status", "302 Found")]), False)  # two Status lines
@example({}, b"", behaviour(headers=[("Content-Length", ".")]), False)  # atheris
@example({b"CONTENT_LENGTH": b"9" * 30}, b"abc", behaviour(read=-1), False)
def test_gateway_run_with_a_misbehaving_app_always_answers_one_cgi_response(raw, body, b, validate):
    response, log = gateway_run(misbehaving(b), raw, body, validate=validate)
    assert response.code in (200, 400, 500) or valid_status(b["status"])
    if response.code == 500 and not (type(b["status"]) is str and b["status"].startswith("500")):
        assert "wsgicgi:" in log


# --- CGIDirectory path mapping (issue 5: no path ever resolves outside root) ------------------

SEGMENTS = [
    "ok.cgi",
    "sub",
    "inner.cgi",
    "..",
    ".",
    "",
    "%2e",
    "%2e%2e",
    ".%2e",
    "%2f",
    "..%2f",
    "..\\",
    "\\..",
    "outside",
    "secret.cgi",
    "link-out",
    "link-dir",
    "link-in",
    "link-up",
    "loop",
    "noexec.cgi",
    ".hidden.cgi",
    "\x00",
    "ok.cgi\x00",
    "\xc0\xae\xc0\xae",
    "\u2025",
    "..;",
    "...",
    " ..",
    ".. ",
    "ok.cgi.",
    "OK.CGI",
    "tool.py",
]
path_infos = st.builds(
    lambda lead, segs: lead + "/".join(segs),
    st.sampled_from(["/", "//", "", "/./", "/../", "\\"]),
    st.lists(st.sampled_from(SEGMENTS) | st.text(alphabet="./\\%2e\x00", max_size=4), max_size=6),
)


@pytest.fixture(scope="module")
def cgi_tree(tmp_path_factory):
    """root/ with scripts, links out of it and a secret script beside it."""
    base = tmp_path_factory.mktemp("tree")
    root, outside = base / "root", base / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    for path, text in [
        (root / "ok.cgi", "inside"),
        (root / "sub" / "inner.cgi", "inside"),
        (root / ".hidden.cgi", "hidden"),
        (outside / "secret.cgi", "SECRET"),
        (base / "secret.cgi", "SECRET"),
        (root / "noexec.cgi", "noexec"),
    ]:
        path.write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s'\n" % text)
        path.chmod(0o755 if path.name != "noexec.cgi" else 0o644)
    (root / "tool.py").write_text("print('Content-Type: text/plain\\r\\n\\r\\ninside', end='')\n")
    os.symlink(outside / "secret.cgi", root / "link-out")
    os.symlink(outside, root / "link-dir")
    os.symlink(root / "ok.cgi", root / "link-in")
    os.symlink("..", root / "sub" / "link-up")
    os.symlink("loop", root / "loop")
    return root


@SETTINGS
@given(path_infos)
@example("/../outside/secret.cgi")
@example("/link-dir/secret.cgi")
@example("/sub/link-up/../secret.cgi")
def test_cgi_directory_never_resolves_outside_root(cgi_tree, path_info):
    from wsgicgi import CGIDirectory

    directory = CGIDirectory(str(cgi_tree), interpreters={".py": sys.executable})
    found = directory.resolve(path_info)
    if type(found) is int:
        assert found in (400, 403, 404)
        return
    script, _interpreter, script_part, rest = found
    root = os.path.realpath(str(cgi_tree)).encode()
    assert os.path.realpath(script).startswith(root + b"/")
    assert os.path.basename(os.path.realpath(script)) in (b"ok.cgi", b"inner.cgi", b"tool.py")
    segments = script_part.split("/")
    assert not any(s in ("", ".", "..") or s.startswith(".") for s in segments[1:]), script_part
    assert "\x00" not in script_part + rest
    assert path_info.startswith(script_part) and path_info[len(script_part) :] == rest


@FEW
@given(path_infos)
def test_cgi_directory_requests_never_run_a_script_outside_root(cgi_tree, path_info):
    from wsgicgi import CGIDirectory

    app = CGIDirectory(str(cgi_tree), interpreters={".py": sys.executable}, timeout=10)
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/cgi-bin",
        "PATH_INFO": path_info,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    started = []
    result = app(environ, lambda status, headers, exc_info=None: started.append(status))
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    assert b"SECRET" not in body and b"hidden" not in body and b"noexec" not in body
    code = int(started[0][:3])
    assert code in (200, 400, 403, 404), (started, environ["wsgi.errors"].getvalue())
    assert (code == 200) == (body == b"inside")
