# The shared checks' types, for type checkers: a stub, not inline, because
# every CGI request imports protocol.py (see gateway.pyi).

from ._types import Headers

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

HOP_BY_HOP: frozenset[str]
TOKEN_CHARS: str
_FORBIDDEN_IN_VALUE: frozenset[str]
_HUGE: int

def is_token(name: object) -> bool: ...
def has_control_chars(value: str) -> bool: ...
def check_status(status: str) -> int: ...
def check_headers(headers: Headers) -> None: ...
def is_latin1(text: str) -> bool: ...
def to_latin1(data: bytes) -> str: ...
def from_latin1(text: str) -> bytes: ...
def parse_content_length(value: str | None) -> int | None: ...
