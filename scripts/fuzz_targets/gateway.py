"""atheris target: a whole gateway run (wsgicgi.run).

Arbitrary meta-variables and body go in; a generated application misbehaves
in the ways PEP 3333 apps do (bad status or headers, str chunks, exceptions
anywhere, a second start_response, write() before it, a wrong
Content-Length, headers changed after start_response...).  Whatever happens,
run() returns and what it wrote is one well-formed CGI response.
"""

import io
import sys
import warnings
from wsgiref.validate import validator

import _setup
import atheris
from environ import variables

from wsgicgi import run

STATUSES = [
    "200 OK",
    "404 Not Found",
    "200",
    "200 ",
    "999 X",
    "200 OK\r\nX: y",
    b"200 OK",
    200,
    "201 \xe9",
    "200 \u20ac",
]
NAMES = [
    "Content-Type",
    "Content-Length",
    "Set-Cookie",
    "Status",
    "Location",
    "Connection",
    "X:Y",
    "",
    "X Y",
    b"X",
]


class Boom(Exception):
    pass


def pick(fdp, choices, fuzzed):
    i = fdp.ConsumeIntInRange(0, len(choices))
    return fuzzed() if i == len(choices) else choices[i]


def make_app(fdp):
    status = pick(fdp, STATUSES, lambda: fdp.ConsumeUnicode(12))
    headers = []
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        name = pick(fdp, NAMES, lambda: fdp.ConsumeUnicode(8))
        value = fdp.ConsumeUnicode(16) if fdp.ConsumeBool() else str(fdp.ConsumeIntInRange(0, 40))
        headers.append((name, value))
    flags = fdp.ConsumeIntInRange(0, (1 << 12) - 1)
    chunks = [
        fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 30)) for _ in range(fdp.ConsumeIntInRange(0, 4))
    ]
    if flags & 1 and chunks:
        chunks[fdp.ConsumeIntInRange(0, len(chunks) - 1)] = "str chunk"
    raise_at = fdp.ConsumeIntInRange(-1, len(chunks))
    extra = (fdp.ConsumeUnicode(12), fdp.ConsumeUnicode(12))

    def app(environ, start_response):
        if flags & 2:
            environ["wsgi.input"].read(fdp.ConsumeIntInRange(-1, 100) if flags & 4 else 0)
        if flags & 8:
            environ["wsgi.input"].readline()
        if flags & 16:
            start_response(status, headers)
            if flags & 32:
                headers.append(extra)  # a change after start_response
            if flags & 64:
                start_response(status, headers)  # without exc_info
            if flags & 128:
                try:
                    raise Boom("replaced")
                except Boom:
                    start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
            if flags & 256:
                write = start_response  # noqa: F841
        if flags & 512:
            environ["wsgi.errors"].write("log line\n")

        def body():
            for i, chunk in enumerate(chunks):
                if i == raise_at:
                    raise Boom("in the iterable")
                yield chunk
            if raise_at == len(chunks):
                raise Boom("at the end")

        if not flags & 16:
            start_response(status, headers)
        return Closing(body(), flags & 1024)

    return app, bool(flags & 2048)


class Closing:
    def __init__(self, it, boom):
        self.it = it
        self.boom = boom

    def __iter__(self):
        return self.it

    def close(self):
        if self.boom:
            raise Boom("in close()")


def TestOneInput(data):
    fdp = atheris.FuzzedDataProvider(data)
    env = variables(fdp)
    body = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
    app, validate = make_app(fdp)
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run(
            validator(app) if validate else app,
            environ=env,
            stdin=io.BytesIO(body),
            stdout=out,
            stderr=io.StringIO(),
        )
    method = env.get("REQUEST_METHOD", env.get(b"REQUEST_METHOD"))
    _setup.check_cgi_response(out.getvalue(), head=method in ("HEAD", b"HEAD"))


def main():
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
