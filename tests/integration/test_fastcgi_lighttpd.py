"""lighttpd's mod_fastcgi with ``bin-path`` running the docs' one-line
script (the same file that serves CGI): the docs' block, read from
docs/deploy/fastcgi.md, with only the paths changed.

lighttpd starts the script itself on its own socket (``max-procs`` of them),
sends it request after request, and stops it with SIGTERM when it stops.
"""

import hashlib
import http.client
import json
import os
import shutil
import signal
import sys
import time

import pytest
from docs_blocks import one_line_script
from fcgi_stack import (
    HERE,
    LIGHTTPD,
    ROOT,
    fastcgi_block,
    lighttpd,
    pids_with,
    public_tempdir,
    python_env,
    require,
    substitute,
)

pytestmark = pytest.mark.integration

HTTP_TIMEOUT = 120
ONE_LINE = one_line_script("fcgi_app:app")  # the gateway page's line, this test's app


@pytest.fixture(scope="module")
def site():
    require(LIGHTTPD)
    top = public_tempdir("wsgicgi-fcgi-lighttpd-")
    try:
        cgi = os.path.join(top, "cgi-bin")
        os.makedirs(cgi)
        shutil.copy(os.path.join(HERE, "fcgi_app.py"), cgi)
        script = os.path.join(cgi, "app.fcgi")
        with open(script, "w") as f:
            f.write(ONE_LINE)
        os.chmod(script, 0o755)
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def docs_text(site):
    block = fastcgi_block("lighttpd", "mod_fastcgi", heading="lighttpd")
    return substitute(
        block,
        {
            "/run/lighttpd/wsgicgi-app.sock": os.path.join(site, "wsgicgi-app.sock"),
            "/srv/www/cgi-bin/app.fcgi": os.path.join(site, "cgi-bin", "app.fcgi"),
        },
    )


def server_env():
    # lighttpd hands its environment to bin-path processes; python3 on PATH
    # is this interpreter (wsgicgi installed), this checkout importable.
    env = python_env()
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env["PYTHONPATH"] = ROOT
    return env


def fetch(port, path, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def get_json(server, path, **kw):
    status, _, body = fetch(server.port, path, **kw)
    assert status == 200, (status, body[:300], server.error_log()[-3000:])
    return json.loads(body)


def test_lighttpd_bin_path_runs_the_one_line_script_as_fastcgi(site):
    script = os.path.join(site, "cgi-bin", "app.fcgi")
    with lighttpd(site, docs_text(site), env=server_env()) as server:
        env = get_json(server, "/app/env/x?q=1")
        assert env["REQUEST_METHOD"] == "GET"
        # lighttpd: "/app" => the prefix is SCRIPT_NAME, the rest PATH_INFO.
        assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app", "/env/x"), env
        assert env["QUERY_STRING"] == "q=1"
        assert env["SERVER_SOFTWARE"].startswith("lighttpd")
        assert env["wsgi.run_once"] is False

        body = os.urandom(3 << 20)
        answer = get_json(server, "/app/hash", method="POST", body=body)
        assert answer["length"] == len(body)
        assert answer["sha256"] == hashlib.sha256(body).hexdigest()
        posted = get_json(server, "/app/env/form", method="POST", body=b"a=1&b=2")
        assert posted["body"] == "a=1&b=2" and posted["CONTENT_LENGTH"] == "7"

        # Kept warm: the same processes answer request after request.
        pids = [get_json(server, "/app/env/%d" % i)["pid"] for i in range(12)]
        assert len(set(pids)) <= 2, pids  # "max-procs" => 2
        assert len(pids) > len(set(pids))
        running = pids_with(script)
        assert set(pids) <= set(running), (pids, running)

        # lighttpd's stop (SIGTERM) stops its FastCGI processes too.
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(60)
        deadline = time.monotonic() + 30
        while pids_with(script) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = pids_with(script)
        assert not left, (left, server.error_log()[-3000:])
        assert "Traceback" not in server.error_log()
