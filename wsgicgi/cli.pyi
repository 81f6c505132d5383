# The command line's types, for type checkers: a stub, not inline, because the
# one-line gateway script runs cli.py on every CGI request (see gateway.pyi).

from collections.abc import Sequence
from typing import NoReturn

from ._types import OptExcInfo

USAGE: str

def main(argv: Sequence[str] | None = None) -> NoReturn: ...
def gateway(app_spec: str, script: str | None = None) -> int: ...
def _answer_load_failure(app_spec: str, exc_info: OptExcInfo) -> None: ...
