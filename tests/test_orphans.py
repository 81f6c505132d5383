"""The watchdog of wsgicgi/orphans.py when things go wrong around it.

Each case runs in a fresh interpreter: the watchdog is per process, and the
cases break the process on purpose (no memfd, no temp dir, a file size limit,
a fork while a thread holds the lock).  Every case prints one line of JSON.
"""

import json
import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPTS = os.path.join(HERE, "cgi_scripts")

PRELUDE = """
import io, json, os, sys
sys.path.insert(0, %r)
from wsgicgi import CGIScript
import wsgicgi.orphans as orphans

def call(app):
    got = {}
    environ = {"REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr}
    result = app(environ, lambda status, headers, exc_info=None: got.setdefault("status", status))
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return got["status"], body.decode()

def fds():
    return len(os.listdir("/proc/self/fd"))

def children():
    out = []
    for task in os.listdir("/proc/self/task"):
        with open("/proc/self/task/%%s/children" %% task) as f:
            out += f.read().split()
    return out

SCRIPTS = %r
app = CGIScript(os.path.join(SCRIPTS, "hello.sh"), timeout=5)
""" % (ROOT, SCRIPTS)


def run_case(code):
    proc = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_without_memfd_or_a_writable_temp_dir_requests_still_run_and_leak_nothing():
    result = run_case("""
        import tempfile
        del os.memfd_create
        tempfile.tempdir = "/nonexistent-wsgicgi"
        before = fds()
        answers = [call(app) for _ in range(3)]
        print(json.dumps({"answers": answers, "fds": [before, fds()], "children": children()}))
    """)
    assert result["answers"] == [["200 OK", "hello from sh\n"]] * 3
    assert result["fds"][0] == result["fds"][1]
    assert result["children"] == []  # no watchdog, no script left


def test_a_group_list_that_cannot_be_written_disarms_the_watchdog():
    # A file size limit of two slots: the third script cannot be listed, and
    # a list the watchdog cannot trust must not be acted on.
    result = run_case("""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        call(app)
        before = fds()
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (22, hard))
        stalls = CGIScript(os.path.join(SCRIPTS, "stall_body.sh"), timeout=5)
        results = [stalls({"REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr},
                          lambda *a: None) for _ in range(3)]
        errors = []
        for result in results:
            try:
                result.close()  # the client went away: kill, reap, untrack
            except Exception as exc:
                errors.append(repr(exc))
        result = {"errors": errors, "armed": bool(orphans._keep), "fds": [before, fds()],
                  "after": call(app), "children": children()}
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # files at exit (coverage) may grow
        print(json.dumps(result))
    """)
    assert result["errors"] == []
    assert result["armed"] is False and result["children"] == []
    assert result["fds"][1] == result["fds"][0] - 2  # the watchdog's pipe and list went with it
    assert result["after"] == ["200 OK", "hello from sh\n"]


def test_a_fork_while_another_thread_holds_the_lock_does_not_hang_the_child():
    result = run_case("""
        import signal, threading, time, warnings
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() in a threaded process, on purpose
        held = threading.Event()
        def hold():
            with orphans._lock:  # as a thread starting the watchdog would
                held.set()
                time.sleep(1)
        threading.Thread(target=hold).start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            signal.alarm(10)
            status, body = call(app)
            sys.exit(0 if status == "200 OK" else 1)  # not os._exit: exit handlers run
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"child": status}))
    """)
    assert result["child"] == 0


def test_memfd_refused_the_watchdog_lists_groups_in_a_temp_file():
    result = run_case("""
        import errno
        def refused(name, flags=0):
            raise OSError(errno.ENOSYS, "memfd_create refused")
        os.memfd_create = refused
        answers = [call(app) for _ in range(2)]
        watchdog, _ = orphans._keep
        target = os.readlink("/proc/self/fd/%d" % orphans._groups)
        print(json.dumps({"answers": answers, "alive": watchdog.poll() is None, "file": target}))
    """)
    assert result["answers"] == [["200 OK", "hello from sh\n"]] * 2
    assert result["alive"] is True
    assert not result["file"].startswith("/memfd:") and result["file"].endswith("(deleted)")
