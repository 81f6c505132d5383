"""The systemd units of docs/deploy/fastcgi.md, as far as they run without systemd.

There is no systemd (PID 1) in the test container, so the units themselves
are not loaded.  What they do for wsgicgi is: listen on ``ListenStream``
before anything runs, and on the first connection start ``ExecStart`` in
``WorkingDirectory`` with the listening socket as fd 3 and ``LISTEN_FDS=1``.
``systemd-socket-activate`` (systemd's own tool, in the systemd package) does
exactly that, so this test reads both units from the page and runs their
``ListenStream``, ``ExecStart`` and ``WorkingDirectory`` under it, with only
the paths replaced.  ``SocketGroup``, ``SocketMode``, ``User`` and
``[Install]`` are not exercised (the page says so).
"""

import os
import shutil
import signal
import subprocess
import sys
import time

import fcgi_client
import pytest
from docs_blocks import argv, doc_block, substitute
from fcgi_stack import public_tempdir, require

pytestmark = pytest.mark.integration

ACTIVATE = shutil.which("systemd-socket-activate") or "/usr/bin/systemd-socket-activate"
BIN = os.path.dirname(sys.executable)

MYAPP = """\
import os


def app(environ, start_response):
    body = ("pid %d, cwd %s" % (os.getpid(), os.getcwd())).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
"""


def units():
    """{unit file name: {key: value}} of the page's ```ini block."""
    block = doc_block("deploy/fastcgi.md", "systemd", "ini", "ExecStart=")
    found, current = {}, None
    for line in block.splitlines():
        if line.startswith("# /etc/systemd/system/"):
            current = found.setdefault(os.path.basename(line[2:].strip()), {})
        elif "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    assert set(found) == {"wsgicgi-app.socket", "wsgicgi-app.service"}, found
    return found


def test_socket_unit_hands_its_socket_to_exec_start():
    require(ACTIVATE)
    unit = units()
    socket_path = unit["wsgicgi-app.socket"]["ListenStream"]
    service = unit["wsgicgi-app.service"]
    top = public_tempdir("wsgicgi-systemd-")
    try:
        sock = os.path.join(top, "app.sock")
        workdir = os.path.join(top, "app")
        os.mkdir(workdir)
        with open(os.path.join(workdir, "myapp.py"), "w") as f:
            f.write(MYAPP)
        assert socket_path == "/run/wsgicgi/app.sock"
        assert service["WorkingDirectory"] == "/srv/www/app"
        exec_start = argv(
            substitute(
                service["ExecStart"], {"/srv/www/venv/bin/wsgicgi": os.path.join(BIN, "wsgicgi")}
            )
        )
        log_path = os.path.join(top, "log")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [ACTIVATE, "--listen=" + sock, *exec_start],
                cwd=workdir,  # WorkingDirectory=
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(sock):
                assert process.poll() is None, open(log_path).read()
                assert time.monotonic() < deadline, open(log_path).read()
                time.sleep(0.05)
            # The socket exists before the first request; the first request starts wsgicgi.
            pids = set()
            for path in ("/", "/again"):
                result = fcgi_client.request(sock, {"SCRIPT_NAME": "", "PATH_INFO": path})
                assert result.status == 200, (result.stdout, open(log_path).read())
                assert result.body.endswith(b", cwd " + workdir.encode())
                pids.add(int(result.body.split()[1].rstrip(b",")))
            assert len(pids) == 1  # one process, kept warm, serving both
            # systemctl stop sends SIGTERM: wsgicgi exits 0.
            os.kill(process.pid, signal.SIGTERM)
            assert process.wait(30) == 0, open(log_path).read()
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
    finally:
        shutil.rmtree(top, ignore_errors=True)
