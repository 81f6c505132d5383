"""The WSGI script file Apache's mod_wsgi loads in test_mod_wsgi.py.

A plain CGIDirectory, as a user would write it, with nothing done for
mod_wsgi's sake.  The test copies this file into a world-readable site
folder next to a ``site.json`` that names the staged wsgicgi package, the
cgi-bin copy, the timeout and extra environment variables for the scripts.
"""

import json
import os
import sys

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "site.json")) as f:
    SITE = json.load(f)

sys.path.insert(0, SITE["lib"])

from wsgicgi import CGIDirectory  # noqa: E402

# sys.executable is no Python interpreter in every embedding: name one.
application = CGIDirectory(
    SITE["cgi"],
    timeout=SITE["timeout"],
    env=SITE["env"],
    interpreters={".py": "/usr/bin/python3"},
)
