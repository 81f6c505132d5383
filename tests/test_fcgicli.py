"""wsgicgi/fcgicli.py: the ``wsgicgi fcgi`` command's usage errors (the
server itself: tests/test_fcgi.py and tests/test_fcgi_process.py)."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fcgi(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "wsgicgi", "fcgi", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=dict(os.environ, PYTHONPATH=ROOT),
        cwd=cwd,
        timeout=60,
    )


def test_neither_app_nor_cgi_dir_is_a_usage_error(tmp_path):
    done = fcgi("--bind", "unix:%s" % (tmp_path / "s.sock"))
    assert done.returncode == 2
    assert b"give an APP or --cgi-dir DIR (one of them)" in done.stderr


def test_both_app_and_cgi_dir_is_a_usage_error(tmp_path):
    done = fcgi("app:app", "--cgi-dir", str(tmp_path), "--bind", "unix:%s" % (tmp_path / "s"))
    assert done.returncode == 2
    assert b"one of them" in done.stderr


def test_cgi_dir_that_is_not_a_folder_exits_2_and_leaves_no_socket(tmp_path):
    sock = tmp_path / "s.sock"
    done = fcgi("--cgi-dir", str(tmp_path / "missing"), "--bind", "unix:%s" % sock)
    assert done.returncode == 2
    assert b"--cgi-dir %s is not a folder" % str(tmp_path / "missing").encode() in done.stderr
    assert not sock.exists()
