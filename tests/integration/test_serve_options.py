"""Review: `wsgicgi serve` options the other tests never pass on the command
line: --cgi-dir (repeated), --threads, --no-listing, -b/--bind."""

import http.client
import os
import select
import signal
import subprocess
import sys
import threading
import time

import pytest

pytestmark = pytest.mark.integration

SLOW = "#!/bin/sh\nsleep 1\nprintf 'Content-Type: text/plain\\n\\n%s\\n'\n"


@pytest.fixture
def server(tmp_path):
    for folder, name in (("scripts", "a.sh"), ("more", "b.sh")):
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / name
        path.write_text(SLOW % name)
        path.chmod(0o755)
    (tmp_path / "empty").mkdir()
    argv = [
        sys.executable,
        "-m",
        "wsgicgi",
        "serve",
        "0",
        "--bind",
        "127.0.0.1",
        "-d",
        str(tmp_path),
        "--cgi-dir",
        "/scripts/",
        "--cgi-dir",
        "more",
        "--threads",
        "2",
        "--no-listing",
        "--timeout",
        "10",
    ]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        banner = b""
        deadline = time.monotonic() + 15
        while b"\n" not in banner and time.monotonic() < deadline and proc.poll() is None:
            if select.select([proc.stdout], [], [], 0.2)[0]:
                banner += os.read(proc.stdout.fileno(), 4096)
        assert b"http://127.0.0.1:" in banner, banner
        port = int(banner.split(b"http://127.0.0.1:")[1].split(b"/")[0])
        yield port, banner
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_repeated_cgi_dirs_replace_the_defaults(server):
    port, banner = server
    assert b"/more/" in banner and b"/scripts/" in banner and b"/cgi-bin/" not in banner
    assert get(port, "/scripts/a.sh") == (200, b"a.sh\n")
    assert get(port, "/more/b.sh") == (200, b"b.sh\n")


def test_no_listing_is_404_for_a_folder_without_index(server):
    port, _ = server
    assert get(port, "/empty/")[0] == 404


def test_threads_run_requests_at_once(server):
    port, _ = server
    results = []
    threads = [
        threading.Thread(target=lambda p=p: results.append(get(port, p)))
        for p in ("/scripts/a.sh", "/more/b.sh")
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    elapsed = time.monotonic() - started
    assert sorted(results) == [(200, b"a.sh\n"), (200, b"b.sh\n")]
    assert elapsed < 1.9, elapsed  # two 1-second scripts side by side
