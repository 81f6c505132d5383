"""atheris target: the gateway's environ from arbitrary meta-variables.

Keys and values are arbitrary bytes (as a server's execve passes them) or the
str that os.environ makes of them; the result is a PEP 3333 environ, or
BadRequest for a CONTENT_LENGTH that is not a number.
"""

import io
import sys
import warnings

import _setup  # noqa: F401
import atheris

from wsgicgi.gateway import BadRequest, _read_cgi_variables, build_environ

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
    b"HTTP_HOST",
    b"wsgi.input",
    b"HTTP_CONTENT_LENGTH",
]
SOFTWARE = [b"Microsoft-IIS/10.0", b"Apache/2.4"]
FSENC = sys.getfilesystemencoding()


def variables(fdp):
    env = {}
    for _ in range(fdp.ConsumeIntInRange(0, 10)):
        if fdp.ConsumeBool():
            key = KEYS[fdp.ConsumeIntInRange(0, len(KEYS) - 1)]
        else:
            key = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 12))
        kind = fdp.ConsumeIntInRange(0, 3)
        if kind == 0:
            value = SOFTWARE[fdp.ConsumeIntInRange(0, 1)]
        elif kind == 1:
            value = str(fdp.ConsumeIntInRange(0, 99)).encode()
        else:
            value = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40))
        if fdp.ConsumeBool():  # what os.environ makes of the bytes
            key, value = (
                key.decode(FSENC, "surrogateescape"),
                value.decode(FSENC, "surrogateescape"),
            )
        env[key] = value
    return env


def check_environ(env, body_len):
    from wsgiref.validate import check_environ as wsgiref_check

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wsgiref_check(env)
    for key, value in env.items():
        assert type(key) is str
        key.encode("latin-1")
        if "." not in key:
            assert type(value) is str, (key, value)
            value.encode("latin-1")
    assert "HTTP_PROXY" not in env
    data = env["wsgi.input"].read()
    assert len(data) <= body_len


def TestOneInput(data):
    fdp = atheris.FuzzedDataProvider(data)
    raw = variables(fdp)
    body = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
    try:
        env = build_environ(_read_cgi_variables(raw), io.BytesIO(body), io.StringIO())
    except BadRequest:
        return
    check_environ(env, len(body))


def main():
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
