# The gateway's types, for type checkers.  They live in a stub, not inline:
# every CGI request imports gateway.py, often compiling it where no .pyc can
# be written.  Inline string annotations cost `import wsgicgi` +3.1% of its
# instructions without a .pyc and +0.3% with one (callgrind, Python 3.13);
# `from __future__ import annotations` alone loads a module (+1.7%).  The
# stubs of __init__, gateway, protocol, cli, loader and sendfile cost nothing.
# mypy checks every caller against them, but not these modules' bodies; keep
# them in step with the code (a missing or renamed parameter fails):
#   python -m mypy.stubtest --mypy-config-file /dev/null wsgicgi.gateway \
#       wsgicgi.protocol wsgicgi.cli wsgicgi.loader wsgicgi.sendfile

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._types import (
    Environ,
    ErrorFile,
    Headers,
    InputFile,
    OptExcInfo,
    OutputFile,
    WriteCallable,
    WSGIApplication,
)

__all__ = ["BadRequest", "FileWrapper", "InputStream", "build_environ", "run"]

_CHUNK: int
_BIG: int
_UNKNOWN: int
_TRUE: tuple[str, ...]

class BadRequest(ValueError):
    """The request's meta-variables cannot be served (answered with 400)."""

class InputStream:
    """``wsgi.input``: the request body, never read past ``CONTENT_LENGTH``."""

    _stream: InputFile
    _remaining: int
    def __init__(self, stream: InputFile, length: int) -> None: ...
    def read(self, size: int | None = -1) -> bytes: ...
    def _read_big(self, size: int) -> bytes: ...
    def readline(self, size: int | None = -1) -> bytes: ...
    def drain(self) -> None: ...
    def readlines(self, hint: int = -1) -> list[bytes]: ...
    def __iter__(self) -> Iterator[bytes]: ...

class FileWrapper:
    """``wsgi.file_wrapper`` (PEP 3333): iterates a file in blocks."""

    filelike: Any
    blksize: int
    # Set only when ``filelike`` has a ``close``.
    close: Any
    def __init__(self, filelike: Any, blksize: int = 65536) -> None: ...
    def __iter__(self) -> Iterator[bytes]: ...

def _native(value: str | bytes, encoding: str) -> str: ...
def _read_cgi_variables(environ: Mapping[str, str | bytes] | None) -> dict[str, str]: ...
def build_environ(
    cgi_variables: dict[str, Any],
    stdin: InputFile,
    errors: ErrorFile,
    *,
    multithread: bool = False,
    run_once: bool = True,
    length_known: bool = True,
) -> Environ: ...

class _Response:
    """The server side of one PEP 3333 call: start_response, write(), output."""

    out: OutputFile
    errors: ErrorFile
    head: bool
    status: str | None
    headers: Headers | None
    headers_sent: bool
    remaining: int | None
    done: bool
    sent: int
    hold_complete: bool
    def __init__(self, out: OutputFile, errors: ErrorFile, head: bool) -> None: ...
    def start_response(
        self, status: str, headers: Headers, exc_info: OptExcInfo | None = None
    ) -> WriteCallable: ...
    def write(self, data: bytes) -> None: ...
    def header_block(self) -> bytes: ...
    def send(self, data: bytes, flush: bool = True) -> None: ...
    def consume(self, result: Iterable[bytes]) -> None: ...
    def finish(self) -> None: ...
    def log(self, message: str) -> None: ...

def run(
    app: WSGIApplication,
    *,
    environ: Mapping[str, str | bytes] | None = None,
    stdin: InputFile | None = None,
    stdout: OutputFile | None = None,
    stderr: ErrorFile | None = None,
) -> None: ...
def serve_request(
    app: WSGIApplication,
    variables: dict[str, Any],
    stdin: InputFile,
    response: _Response,
    *,
    capture_print: bool = False,
    multithread: bool = ...,
    run_once: bool = ...,
    length_known: bool = ...,
) -> None: ...
def listening_on_stdin() -> bool: ...
