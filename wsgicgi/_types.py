"""The WSGI types (PEP 3333) the package's annotations share.

Only type checkers import this module: the other modules name it under
``if TYPE_CHECKING:``, so ``typing`` stays off every runtime path.  It still
imports on Python 3.9 (``Union`` spelled out in the aliases for that).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Protocol, Union

__all__ = [
    "AnyPath",
    "Environ",
    "ErrorFile",
    "ExcInfo",
    "Headers",
    "InputFile",
    "OptExcInfo",
    "OutputFile",
    "StartResponse",
    "WSGIApplication",
    "WriteCallable",
]

#: ``sys.exc_info()`` while an exception is being handled.
ExcInfo = tuple[type[BaseException], BaseException, TracebackType]
#: ``sys.exc_info()`` anywhere: ``(None, None, None)`` outside a handler.
OptExcInfo = Union[ExcInfo, tuple[None, None, None]]
#: The environ: CGI meta-variables as latin-1 native strings plus ``wsgi.*``.
Environ = dict[str, Any]
#: ``response_headers``: a list of ``(name, value)`` native strings.
Headers = list[tuple[str, str]]
#: A file system path, as ``os.fsencode`` takes it.
AnyPath = Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]
#: The legacy ``write()`` callable that ``start_response`` returns.
WriteCallable = Callable[[bytes], object]


class StartResponse(Protocol):
    """``start_response(status, response_headers, exc_info=None)``."""

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: OptExcInfo | None = ...,
        /,
    ) -> WriteCallable: ...


#: A WSGI application: ``app(environ, start_response)`` → an iterable of bytes.
WSGIApplication = Callable[[Environ, StartResponse], Iterable[bytes]]


class InputFile(Protocol):
    """A binary stream the body is read from (``wsgi.input``'s source)."""

    def read(self, size: int = ..., /) -> bytes: ...

    def readline(self, size: int = ..., /) -> bytes: ...


class OutputFile(Protocol):
    """A binary stream the response is written to."""

    def write(self, data: bytes, /) -> object: ...

    def flush(self) -> object: ...


class ErrorFile(Protocol):
    """``wsgi.errors``: a text stream, the server's error log."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...
