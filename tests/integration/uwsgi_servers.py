"""Start uWSGI on 127.0.0.1 (HTTP, ``--http-socket``) as a subprocess, for tests.

Two builds are used:

- the ``uwsgi`` wheel that the ``test`` extra compiles into the venv (2.0.31
  at the time of writing): its Python is the venv's; Python threads are
  always on in it (``--enable-threads`` is a stub there, ``sanitize_args()``
  sets it);
- Debian's ``uwsgi-core`` + ``uwsgi-plugin-python3`` (2.0.21, Python 3.11):
  without ``--enable-threads`` it really runs with Python threads support
  disabled (uWSGI never releases the GIL in its own C code).

``serving_uwsgi(kind, app_spec, env)`` is a context manager yielding a
``wsgi_servers.Server``; uWSGI is stopped (SIGINT, then SIGKILL of its whole
session) when the block ends, whatever happened.
"""

import contextlib
import os
import shutil
import signal
import sys
import tempfile

from wsgi_servers import free_port, launched

import wsgicgi

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

VENV_UWSGI = os.path.join(os.path.dirname(sys.executable), "uwsgi")
DEBIAN_UWSGI = "/usr/bin/uwsgi"
DEBIAN_PYTHON = "/usr/bin/python3"

# kind -> (program and options before the common ones, Python for the scripts)
KINDS = {
    # (a) prefork, 2 processes, default options: no master, no --enable-threads.
    "uwsgi-prefork": ([VENV_UWSGI, "--virtualenv", sys.prefix, "--processes", "2"], sys.executable),
    # (b) master, 2 processes of 4 threads each.
    "uwsgi-threads": (
        [VENV_UWSGI, "--virtualenv", sys.prefix, "--master", "--processes", "2", "--threads", "4"],
        sys.executable,
    ),
    # (a) again, on a uWSGI that honours the missing --enable-threads.
    "uwsgi-debian-nothreads": (
        [DEBIAN_UWSGI, "--plugin", "python3", "--processes", "2"],
        DEBIAN_PYTHON,
    ),
}


def command(kind, port, app_spec, lib=REPO):
    """The uWSGI command line for ``kind`` serving ``module:callable``; ``lib``
    holds the wsgicgi package for Debian's Python."""
    program, python = KINDS[kind]
    module, _, name = app_spec.partition(":")
    return [
        *program,
        "--http-socket",
        "127.0.0.1:%d" % port,
        "--module",
        "%s:%s" % (module, name or "application"),
        "--pythonpath",
        HERE,
        "--pythonpath",
        lib,  # wsgicgi itself, for Debian's Python
        # sys.executable would be the uwsgi binary: host_app maps .py to it.
        "--py-sys-executable",
        python,
        "--need-app",  # exit at once if the app does not import
        "--die-on-term",
    ]


@contextlib.contextmanager
def serving_uwsgi(kind, app_spec, env=None, log_dir="/tmp"):
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    environ.update(env or {})

    def ready(log):
        return "WSGI app 0" in log and "spawned uWSGI worker 2" in log

    # Debian's Python gets a copy of the package the suite imports (this
    # checkout's, or the built wheel's when scripts/test runs the suite from
    # it), not a whole site-packages of another Python version.
    lib = tempfile.mkdtemp(prefix="wsgicgi-uwsgi-lib-")
    try:
        shutil.copytree(
            os.path.dirname(os.path.abspath(wsgicgi.__file__)),
            os.path.join(lib, "wsgicgi"),
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        # SIGINT stops uWSGI with or without a master (SIGTERM would make a
        # master without --die-on-term reload).
        with launched(
            kind,
            command(kind, port, app_spec, lib),
            port,
            environ,
            HERE,
            log_dir,
            ready,
            signal.SIGINT,
        ) as server:
            yield server
    finally:
        shutil.rmtree(lib, ignore_errors=True)


def descendants(pid):
    """Every process below ``pid`` (children, grandchildren...), as
    ``{pid: state letter}``."""
    found = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir("/proc/%d/task" % parent)
        except OSError:
            continue
        for task in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (parent, task)) as f:
                    children = [int(p) for p in f.read().split()]
            except OSError:
                continue
            for child in children:
                if child not in found:
                    found[child] = _state(child)
                    todo.append(child)
    return found


def _state(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return "?"
    return data[data.rindex(b")") + 2 :].split()[0].decode()


def processes_with_env(marker):
    """Pids of every process on the machine whose environment holds ``marker``
    (a CGI child's meta-variables are inherited by its own children)."""
    found = []
    needle = marker.encode()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                if needle in f.read():
                    found.append(int(name))
        except OSError:
            continue
    return found
