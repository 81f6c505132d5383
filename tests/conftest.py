"""Suite-wide: the ``no_coverage`` marker.

A test marked ``no_coverage`` measures something that coverage.py in the
process changes (which modules an import pulls in, start-up time): under a
coverage run (scripts/coverage sets WSGICGI_COVERAGE) it is skipped, and
scripts/test runs it again without coverage.
"""

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("WSGICGI_COVERAGE"):
        return
    skip = pytest.mark.skip(reason="coverage changes what it measures; run without coverage")
    for item in items:
        if item.get_closest_marker("no_coverage"):
            item.add_marker(skip)
