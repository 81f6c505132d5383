# The package's types, for type checkers: a stub, not inline, because every
# CGI request imports __init__.py (see gateway.pyi).  CGIScript and
# CGIDirectory are loaded lazily at run time (PEP 562 __getattr__).

from .gateway import run as run
from .host import CGIDirectory as CGIDirectory
from .host import CGIScript as CGIScript

__all__ = ["CGIDirectory", "CGIScript", "run"]
__version__: str
