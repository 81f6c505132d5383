"""The factory test_nginx.py gives ``waitress-serve --call``: the docs'
``wsgicgi.serve:make_app`` (docs/deploy/production.md; the current folder), with the script timeout from
SITE_TIMEOUT, since ``--call`` cannot pass arguments."""

import os

from wsgicgi.serve import make_app as _make_app


def make_app():
    """``wsgicgi.serve.make_app(timeout=$SITE_TIMEOUT)`` for the current folder."""
    return _make_app(timeout=float(os.environ.get("SITE_TIMEOUT", "60")))
