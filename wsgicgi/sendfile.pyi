# The file-wrapper fast path's types, for type checkers: a stub, not inline,
# because an app that returns wsgi.file_wrapper imports sendfile.py on every
# CGI request (see gateway.pyi).

from .gateway import FileWrapper, _Response

__all__ = ["send_file_wrapper"]

_BLOCK: int

def send_file_wrapper(response: _Response, wrapper: FileWrapper) -> bool: ...
def _iterate(response: _Response, wrapper: FileWrapper) -> bool: ...
