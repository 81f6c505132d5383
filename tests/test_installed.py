"""The suite tests the package it is given: when scripts/test runs it from the
built wheel (WSGICGI_TEST_INSTALLED=1, from the unpacked sdist without its
wsgicgi/ folder), every Python process imports the wheel's copy installed in
the venv's site-packages, never a source tree: this process, and the
subprocesses the tests start the way they do (the tests' folder on
PYTHONPATH, the cwd in the tree, ``python -m wsgicgi``)."""

import json
import os
import subprocess
import sys
import sysconfig

import pytest

import wsgicgi

pytestmark = pytest.mark.skipif(
    not os.environ.get("WSGICGI_TEST_INSTALLED"),
    reason="the suite runs on a source tree (scripts/test runs it from the built wheel)",
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(sysconfig.get_paths()["purelib"], "wsgicgi")


def test_this_process_imports_the_installed_wheel():
    assert os.path.dirname(os.path.abspath(wsgicgi.__file__)) == PACKAGE
    # Installed from a wheel: its RECORD lists the package's files (an
    # editable install lists none, only a finder or a .pth).
    from importlib.metadata import distribution

    files = {str(f.locate()) for f in distribution("wsgicgi").files or ()}
    assert os.path.join(PACKAGE, "__init__.py") in files, sorted(files)[:10]
    direct_url = json.loads(distribution("wsgicgi").read_text("direct_url.json") or "{}")
    assert "dir_info" not in direct_url, direct_url


def test_no_source_tree_next_to_the_tests():
    assert not os.path.exists(os.path.join(ROOT, "wsgicgi"))


def where(argv, cwd, pythonpath):
    """The wsgicgi a subprocess imports, started as the tests start theirs."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(pythonpath))
    out = subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return os.path.dirname(os.path.abspath(out.stdout.strip().splitlines()[-1]))


def test_python_c_in_the_tree_imports_the_installed_wheel():
    code = "import wsgicgi; print(wsgicgi.__file__)"
    assert where(["-c", code], ROOT, [ROOT]) == PACKAGE


def test_python_m_in_the_tree_imports_the_installed_wheel(tmp_path):
    # python -m puts the cwd first on sys.path, as `python -m wsgicgi` does.
    (tmp_path / "where_is_wsgicgi.py").write_text("import wsgicgi\nprint(wsgicgi.__file__)\n")
    assert where(["-m", "where_is_wsgicgi"], ROOT, [ROOT, str(tmp_path)]) == PACKAGE
