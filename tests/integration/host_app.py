"""The WSGI app the real-server tests serve: a CGIDirectory of tests/cgi_scripts.

Configured from the environment so that gunicorn and waitress load the very
same object: CGI_ROOT (default tests/cgi_scripts) and CGI_TIMEOUT (seconds).
"""

import os
import sys

from wsgicgi import CGIDirectory

HERE = os.path.dirname(os.path.abspath(__file__))

app = CGIDirectory(
    os.environ.get("CGI_ROOT") or os.path.join(os.path.dirname(HERE), "cgi_scripts"),
    timeout=float(os.environ.get("CGI_TIMEOUT", "60")),
    interpreters={".py": sys.executable},
)
