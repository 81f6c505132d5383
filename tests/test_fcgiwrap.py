"""wsgicgi/fcgiwrap.py: ScriptFolder, fcgiwrap's job confined to one folder,
called in process with the parameters nginx sends (the whole path through
nginx: tests/integration/test_fastcgi_nginx.py)."""

import io
import os

import pytest

from wsgicgi.fcgiwrap import ScriptFolder

SCRIPT = (
    "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
    'printf "%s|%s|%s|%s|%s" "$SCRIPT_NAME" "$PATH_INFO" "${GIT_PROJECT_ROOT-unset}"'
    ' "${HTTP_X_TOKEN-unset}" "${WEIRD_NAME-unset}"\n'
)


def call(app, **params):
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    environ.update(params)
    got = {}

    def start_response(status, headers, exc_info=None):
        got["status"] = status

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return int(got["status"][:3]), body, environ["wsgi.errors"].getvalue()


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "cgi"
    (root / "sub").mkdir(parents=True)
    (root / ".hidden").mkdir()
    for path in (root / "run.sh", root / "sub" / "deep.sh", root / ".hidden" / "x.sh"):
        path.write_text(SCRIPT)
        path.chmod(0o755)
    (root / "noexec.sh").write_text(SCRIPT)
    (tmp_path / "outside.sh").write_text(SCRIPT)
    (tmp_path / "outside.sh").chmod(0o755)
    os.symlink(str(tmp_path / "outside.sh"), str(root / "link.sh"))
    return tmp_path, ScriptFolder(str(root), timeout=20)


def test_script_filename_runs_with_the_web_servers_own_parameters(folder):
    tmp, app = folder
    status, body, _ = call(
        app,
        SCRIPT_FILENAME=str(tmp / "cgi" / "run.sh"),
        SCRIPT_NAME="/git/run.sh",
        PATH_INFO="/repo.git/info/refs",
        GIT_PROJECT_ROOT="/srv/git",  # fastcgi_param: reaches the script
        HTTP_X_TOKEN="client header",  # a client header: through the adapter's filter
        **{"WEIRD-NAME": "not a shell name", "NUL_VALUE": "a\0b"},
    )
    assert status == 200
    assert body == b"/git/run.sh|/repo.git/info/refs|/srv/git|client header|unset"


def test_without_script_filename_the_url_path_is_mapped_under_the_folder(folder):
    _, app = folder
    status, body, _ = call(app, SCRIPT_NAME="/sub/deep.sh", PATH_INFO="/more")
    assert status == 200
    assert body.startswith(b"/sub/deep.sh|/more|")


@pytest.mark.parametrize(
    "filename, code",
    [
        ("cgi/run.sh\0", 400),
        ("cgi/\u20ac.sh", 400),  # not a PEP 3333 latin-1 string
        ("relative.sh", 404),  # not absolute (made absolute below only for the others)
        ("cgi/missing.sh", 404),
        ("cgi/.hidden/x.sh", 404),
        ("outside.sh", 403),
        ("cgi/link.sh", 403),  # a symlink out of the folder
        ("cgi/noexec.sh", 403),
        ("cgi/sub", 403),  # a folder
    ],
)
def test_script_filename_refused(folder, filename, code):
    tmp, app = folder
    if filename != "relative.sh":
        filename = str(tmp) + "/" + filename
    status, body, log = call(app, SCRIPT_FILENAME=filename, SCRIPT_NAME="/x")
    assert status == code, log
    assert b"|" not in body  # the script did not run
    assert "is not a script under" in log
