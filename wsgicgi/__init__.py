"""wsgicgi: a CGI ⇄ WSGI bridge (PEP 3333, RFC 3875).

``run`` serves one CGI request with a WSGI application (the gateway);
``CGIScript`` and ``CGIDirectory`` run CGI scripts as WSGI applications (the
reverse adapter).  Only ``run`` is imported eagerly: a CGI process pays for
every import on every request.
"""

from .gateway import run

__all__ = ["CGIDirectory", "CGIScript", "run"]
__version__ = "0.1.0"


def __getattr__(name):
    # PEP 562: the reverse adapter needs subprocess and threading; load it
    # only when asked for, never on the gateway's path.
    if name in ("CGIScript", "CGIDirectory"):
        from . import host

        return getattr(host, name)
    raise AttributeError("module 'wsgicgi' has no attribute %r" % (name,))
