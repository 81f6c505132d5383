"""wsgicgi/_types.py: the WSGI type aliases the annotations share.  Only type
checkers need them; they must still import on every supported Python (3.9
included), and no module imports them at run time."""

import subprocess
import sys

from wsgicgi import _types


def test_the_aliases_import_and_name_pep_3333_shapes():
    assert set(_types.__all__) <= set(dir(_types))
    assert _types.Environ == dict[str, __import__("typing").Any]
    assert _types.Headers == list[tuple[str, str]]

    def app(environ: _types.Environ, start_response: _types.StartResponse):
        start_response("200 OK", [])
        return [b""]

    assert app.__annotations__["start_response"] is _types.StartResponse


def test_no_module_imports_them_at_run_time():
    code = (
        "import sys, wsgicgi, wsgicgi.gateway, wsgicgi.host, wsgicgi.child, wsgicgi.fcgi, "
        "wsgicgi.fcgiserver, wsgicgi.fcgiwrap, wsgicgi.fcgicli, wsgicgi.serve, wsgicgi.static, "
        "wsgicgi.check, wsgicgi.cli, wsgicgi.errors, wsgicgi.sendfile, wsgicgi.orphans; "
        "print('wsgicgi._types' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == b"False"
