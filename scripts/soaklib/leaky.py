"""Deliberately broken wrappers of soaklib.app, for the soak's own tests: a
soak that cannot fail proves nothing.  ``unclosed`` never calls the
response's close() (PEP 3333 says the server must): an aborted response then
leaves its child, pipes and fds behind.  ``hoarding`` keeps 32 KiB per
request for ever."""

from .app import app as _app

_hoard = []
_HOARD = 32768


def unclosed(environ, start_response):
    result = _app(environ, start_response)
    return (chunk for chunk in result)


def hoarding(environ, start_response):
    _hoard.append(b"h" * _HOARD)  # written, so resident
    return _app(environ, start_response)
