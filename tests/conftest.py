"""Suite-wide: the ``no_coverage`` and ``imports`` markers.

Under a coverage run (scripts/coverage sets WSGICGI_COVERAGE) coverage.py
starts in every Python process, which changes what some tests measure:

- ``no_coverage``: a test that cannot run under coverage (timing, start-up
  cost) is skipped;
- ``imports``: a test that checks which modules a process imports runs, but
  ignores those coverage.py itself imported (scripts/coverage_hook.py lists
  them).

scripts/test runs the tests with either marker again without coverage.
"""

import os
import sys

import pytest


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("WSGICGI_COVERAGE"):
        return
    skip = pytest.mark.skip(reason="coverage changes what it measures; run without coverage")
    for item in items:
        if item.get_closest_marker("no_coverage"):
            item.add_marker(skip)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    """Under coverage, save this process's data now, while it surely runs: a
    pytest-xdist worker is ended by its controller soon after the session, and
    one ended while writing at exit leaves a data file coverage cannot read."""
    if not os.environ.get("WSGICGI_COVERAGE"):
        return
    coverage = sys.modules.get("coverage")
    cov = getattr(getattr(coverage, "process_startup", None), "coverage", None)
    if cov is None:
        return
    cov.stop()
    cov.save()
    cov._auto_save = False  # saved: nothing to write again at exit
