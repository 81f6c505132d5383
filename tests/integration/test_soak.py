"""The soak (issues 5 and 10) in CI: scripts/soak with about 1,000 requests
per server, under waitress and gunicorn and through nginx → ``wsgicgi
fcgi``, must pass; and, so that it is known to be able to fail, it must fail
against apps that leak on purpose (soaklib/leaky.py)."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOAK = os.path.join(ROOT, "scripts", "soak")


def _children(pid):
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if int(data[data.rindex(b")") + 2 :].split()[1]) == pid:
                found.append(int(name))
    return found


def soak(*args, timeout=900):
    """Run scripts/soak; returns (exit status, output).  On a timeout the
    soak gets SIGTERM (it then stops its server itself); what still runs
    after 30 s more is killed by pid."""
    env = dict(os.environ, SOAK_PYTHON=sys.executable)
    process = subprocess.Popen(
        ["bash", SOAK, *list(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            for pid in _children(process.pid):
                os.killpg(pid, signal.SIGKILL)  # a server leads its own session
            process.kill()
            output, _ = process.communicate()
        pytest.fail(
            "scripts/soak did not finish within %d s:\n%s"
            % (timeout, output.decode(errors="replace")[-5000:])
        )
    text = output.decode("utf-8", "replace")
    print(text)
    return process.returncode, text


def test_short_soak_under_waitress_and_gunicorn_passes():
    started = time.monotonic()
    code, output = soak("--requests", "1000", "--server", "both", "--seconds", "300")
    assert code == 0, output[-5000:]
    assert output.count("requests: 1000 of 1000") == 2
    assert "waitress: PASS" in output and "gunicorn: PASS" in output
    assert time.monotonic() - started < 600


def _need_nginx():
    if shutil.which("nginx") is None and not os.access("/usr/sbin/nginx", os.X_OK):
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("nginx is not installed (scripts/test installs it)")
        pytest.skip("nginx is not installed")


def test_short_soak_through_nginx_fastcgi_passes():
    _need_nginx()
    started = time.monotonic()
    code, output = soak("--requests", "1000", "--server", "fcgi", "--seconds", "300")
    assert code == 0, output[-5000:]
    assert output.count("requests: 1000 of 1000") == 1
    assert "fcgi: PASS" in output and "0 tracebacks" in output
    assert time.monotonic() - started < 600


def test_fastcgi_soak_fails_against_a_hoarding_app():
    _need_nginx()
    code, output = soak(
        "--requests",
        "400",
        "--warmup",
        "100",
        "--settle",
        "5",
        "--server",
        "fcgi",
        "--app",
        "soaklib.leaky:hoarding",
    )
    kept = re.search(r"^server logs kept in (/tmp/wsgicgi-soak-\S+)$", output, re.M)
    if kept:
        shutil.rmtree(kept.group(1), ignore_errors=True)
    assert code == 1 and "RSS grew by" in output, output[-5000:]
    assert "soak: FAIL (fcgi)" in output and kept


LEAKS = [
    # (app, what the soak must report)
    ("soaklib.leaky:unclosed", "not back to the baseline"),
    ("soaklib.leaky:hoarding", "RSS grew by"),
]


@pytest.mark.parametrize("app,reason", LEAKS, ids=["unclosed", "hoarding"])
def test_soak_fails_against_a_leaking_app(app, reason):
    code, output = soak(
        "--requests",
        "400",
        "--warmup",
        "100",
        "--settle",
        "5",
        "--server",
        "waitress",
        "--app",
        app,
    )
    kept = re.search(r"^server logs kept in (/tmp/wsgicgi-soak-\S+)$", output, re.M)
    if kept:
        shutil.rmtree(kept.group(1), ignore_errors=True)
    assert code == 1 and reason in output, output[-5000:]
    assert "soak: FAIL (waitress)" in output and kept
