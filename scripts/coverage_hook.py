"""Start coverage.py when a Python process starts, during a coverage run.

scripts/coverage installs this file, with DATA filled in, for one run:

- in the test venv's site-packages as ``_wsgicgi_coverage.py``, imported by a
  ``.pth`` file, so that every process of that interpreter is measured: pytest
  and its xdist workers, ``python -m wsgicgi`` started by a test, the FastCGI
  processes that nginx, lighttpd or spawn-fcgi start, even those started with
  a clean environment (a ``COVERAGE_PROCESS_START`` variable would not reach
  them);
- as ``sitecustomize.py`` in the world-readable package copy that Debian's
  /usr/bin/python3 gets on PYTHONPATH (Apache's CGI scripts, run by www-data,
  and mod_fcgid's processes), with Debian's python3-coverage.

DATA is a world-writable folder holding the run's ``coveragerc`` (made from
pyproject.toml's [tool.coverage.run], data_file pointing into DATA). Once the
run is over and the folder gone, the hook does nothing.
"""

import os

DATA = "@DATA@"


def _start():
    rc = os.path.join(DATA, "coveragerc")
    if not os.path.exists(rc):
        return
    import sys

    before = set(sys.modules)
    try:
        import coverage
    except ImportError:
        return
    # process_startup() reads its config file from the environment: set it
    # only for the call, so that no CGI script or app sees the variable.
    saved = os.environ.get("COVERAGE_PROCESS_START")
    os.environ["COVERAGE_PROCESS_START"] = rc
    try:
        cov = coverage.process_startup()
    finally:
        if saved is None:
            del os.environ["COVERAGE_PROCESS_START"]
        else:
            os.environ["COVERAGE_PROCESS_START"] = saved
    if cov is not None:
        import atexit

        # The modules coverage.py brought in (socket, threading, select...):
        # tests that check what a process imports ignore these under coverage.
        coverage.wsgicgi_preloaded = frozenset(set(sys.modules) - before)

        # With the tracer on, a module's globals can outlive the point where
        # Python would have flushed a stream they hold: a program that writes
        # to the original sys.stdout after replacing it (wsgicgi check's LOAD
        # does) would lose its output. Flush the original streams at exit.
        atexit.register(_flush)


def _flush():
    import sys

    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass


try:
    _start()
except Exception:  # measuring must never break the process under test
    pass
