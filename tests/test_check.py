"""``wsgicgi check``: the shebang parser, suEXEC's rules, and whole checks of
scripts in a temporary folder (real interpreters, a real GET, a real
FastCGI request over a unix socket).  tests/integration/test_suexec.py makes
the same mistakes under a real Apache with suEXEC."""

import io
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest

from wsgicgi import check
from wsgicgi.check import SuexecConfig, app_spec_of, parse_shebang

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable

APP = """\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Check", "yes")])
    return [b"hello from " + environ["SCRIPT_NAME"].encode("latin-1")]
"""


# -- the shebang, as the kernel and env read it ----------------------------------

SHEBANGS = [
    # (first line, program, args, error needle or None)
    (
        b"#!/usr/bin/env -S python3 -m wsgicgi myapp:app\n",
        "python3",
        ["-m", "wsgicgi", "myapp:app"],
        None,
    ),
    (
        b"#!/usr/bin/env -S /home/u/venv/bin/python -m wsgicgi myapp:app\n",
        "/home/u/venv/bin/python",
        ["-m", "wsgicgi", "myapp:app"],
        None,
    ),
    (b"#!/usr/bin/python3\nfrom wsgicgi import run\n", "/usr/bin/python3", [], None),
    (b"#! /usr/bin/python3 -u \n", "/usr/bin/python3", ["-u"], None),
    (b"#!/usr/bin/env python3\n", "python3", [], None),
    (
        b"#!/home/u/venv/bin/python -m wsgicgi myapp:app\n",
        "/home/u/venv/bin/python",
        ["-m wsgicgi myapp:app"],
        "two-argument shebang",
    ),
    (b"#!/usr/bin/env python3 -m wsgicgi myapp:app\n", "python3", [], "without -S"),
    (b"#!/usr/bin/python3\r\nimport x\r\n", None, [], "ends in CR"),
    (b"#!/usr/bin/env python3\r\n", None, [], "ends in CR"),
    (b"\xef\xbb\xbf#!/usr/bin/python3\n", "/usr/bin/python3", [], "byte order mark"),
    (b"import wsgicgi\n", None, [], "not a shebang"),
    (b"#!\n", None, [], "names no interpreter"),
    (b"#!/usr/bin/env\n", None, [], "names no program"),
    (b"#!/usr/bin/env -S 'unbalanced\n", None, [], "cannot split"),
    (b"#!/usr/bin/env -S /x/" + b"p" * 300 + b"\n", None, [], "reads only 256"),
]


@pytest.mark.parametrize("line, program, args, error", SHEBANGS)
def test_parse_shebang(line, program, args, error):
    sb = parse_shebang(line, "/site/app.cgi")
    messages = " | ".join(what + " => " + fix for what, fix in sb.errors)
    if error is None:
        assert not sb.errors, messages
        assert (sb.program, sb.args) == (program, args)
    else:
        assert error in messages, messages
        if program is not None:
            assert sb.program == program


def test_crlf_under_env_split_is_only_a_warning():
    # coreutils' env -S treats the CR as a blank: the script still runs.
    sb = parse_shebang(b"#!/usr/bin/env -S python3 -m wsgicgi myapp:app\r\n")
    assert not sb.errors
    assert sb.args == ["-m", "wsgicgi", "myapp:app"]
    assert any("CR" in what for what, _ in sb.warnings)


def test_two_argument_trap_names_the_fix():
    sb = parse_shebang(b"#!/home/u/venv/bin/python -m wsgicgi myapp:app\n")
    ((what, fix),) = sb.errors
    assert "ONE argument" in what and "module named ' wsgicgi myapp:app'" in what
    assert fix == "#!/usr/bin/env -S /home/u/venv/bin/python -m wsgicgi myapp:app"


def test_long_shebang_warns_about_old_kernels():
    sb = parse_shebang(
        b"#!/usr/bin/env -S /home/" + b"u" * 120 + b"/venv/bin/python -m wsgicgi a:b\n"
    )
    assert not sb.errors
    assert any("before Linux 5.1" in what for what, _ in sb.warnings)


@pytest.mark.parametrize(
    "args, spec",
    [
        (["-m", "wsgicgi", "myapp:app"], "myapp:app"),
        (["-I", "-m", "wsgicgi", "pkg.mod:make()"], "pkg.mod:make()"),
        (["-m", "wsgicgi"], ""),
        (["-m", "other", "x"], None),
        ([], None),
    ],
)
def test_app_spec_of(args, spec):
    sb = check.Shebang()
    sb.args = args
    assert app_spec_of(sb)[1] == spec


def test_suexec_dash_v_is_read():
    config = SuexecConfig()
    config.apply_v_output(
        ' -D AP_DOC_ROOT="/srv/www"\n -D AP_GID_MIN=500\n -D AP_HTTPD_USER="apache"\n'
        ' -D AP_LOG_EXEC="/var/log/httpd/suexec.log"\n -D AP_SAFE_PATH="/usr/bin:/bin"\n'
        ' -D AP_UID_MIN=500\n -D AP_USERDIR_SUFFIX="www"\n'
    )
    assert (config.docroot, config.userdir, config.uid_min, config.gid_min) == (
        "/srv/www",
        "www",
        500,
        500,
    )
    assert (config.safe_path, config.httpd_user, config.log, config.known) == (
        "/usr/bin:/bin",
        "apache",
        "/var/log/httpd/suexec.log",
        True,
    )


def test_which_uses_the_given_path_only(tmp_path):
    tool = tmp_path / "mytool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert check.which("mytool", str(tmp_path)) == str(tool)
    assert check.which("mytool", "/usr/bin:/bin") is None
    assert check.which("/abs/x", "") == "/abs/x"


@pytest.mark.parametrize(
    "data, status",
    [
        (b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope", "404 Not Found"),
        (b"Content-Type: text/plain\n\nhi", "200 OK"),
        (b"Location: /x\r\n\r\n", "302 Found"),
        (b"no header at all", None),
        (b"", None),
    ],
)
def test_split_response(data, status):
    parsed = check._split_response(data)
    assert (parsed[0] if parsed else None) == status


# -- whole checks in a folder ----------------------------------------------------


@pytest.fixture
def site():
    """A folder the server's user could enter (mode 755 under /tmp), with myapp.py."""
    path = tempfile.mkdtemp(prefix="wsgicgi-check-", dir="/tmp")
    os.chmod(path, 0o755)
    with open(os.path.join(path, "myapp.py"), "w") as f:
        f.write(APP)
    os.chmod(os.path.join(path, "myapp.py"), 0o644)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def script(folder, name, text, mode=0o755):
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    os.chmod(path, mode)
    return path


def run_check(path, **kwargs):
    out = io.StringIO()
    kwargs.setdefault("suexec", False)
    kwargs.setdefault("drop_privileges", False)
    kwargs.setdefault("timeout", 60)
    problems = check.check_script(path, out=out, **kwargs)
    return problems, out.getvalue()


def fails(report):
    return [line.strip()[6:] for line in report.splitlines() if line.strip().startswith("FAIL")]


ONE_LINE = "#!/usr/bin/env -S %s -m wsgicgi %%s\n" % PY


def test_good_script_serves(site):
    path = script(site, "app.cgi", ONE_LINE % "myapp:app")
    problems, report = run_check(path, path_info="/x")
    assert problems == 0, report
    assert "imports wsgicgi" in report
    assert "APP myapp:app loads" in report
    assert "answers 200 OK" in report and "X-Check: yes" in report
    assert "b'hello from /app.cgi'" in report
    assert report.rstrip().endswith("would serve") or "would serve (" in report


def test_two_line_form_serves(site):
    path = script(
        site, "two.cgi", "#!%s\nfrom wsgicgi import run\nfrom myapp import app; run(app)\n" % PY
    )
    problems, report = run_check(path)
    assert problems == 0, report
    assert "answers 200 OK" in report


def test_missing_module_shows_traceback_and_fix(site):
    path = script(site, "app.cgi", ONE_LINE % "nosuchmod_x7:app")
    problems, report = run_check(path)
    assert problems == 1, report
    (line,) = fails(report)
    assert "APP 'nosuchmod_x7:app' does not load" in line and "put nosuchmod_x7.py" in line
    assert "| ModuleNotFoundError: No module named 'nosuchmod_x7'" in report
    assert "test GET is skipped" in report


def test_wrong_attribute(site):
    path = script(site, "app.cgi", ONE_LINE % "myapp:nope")
    problems, report = run_check(path)
    assert problems == 1
    assert "has no attribute 'nope'" in fails(report)[0]


def test_app_raising_is_a_500_with_its_reason(site):
    with open(os.path.join(site, "boom.py"), "w") as f:
        f.write("def app(e, s):\n    raise KeyError('marker-9q')\n")
    path = script(site, "app.cgi", ONE_LINE % "boom:app")
    problems, report = run_check(path)
    assert problems == 1, report
    (line,) = fails(report)
    assert "answers 500 Internal Server Error: KeyError: 'marker-9q'" in line


def test_script_without_header(site):
    path = script(site, "raw.cgi", "#!/bin/sh\necho just text\n")
    problems, report = run_check(path)
    assert problems == 1
    assert "no complete CGI header" in fails(report)[0]


def test_not_executable(site):
    path = script(site, "app.cgi", ONE_LINE % "myapp:app", mode=0o644)
    problems, report = run_check(path)
    assert problems == 1
    assert "is not executable (mode 644)" in fails(report)[0] and "chmod 755" in fails(report)[0]


def test_interpreter_missing(site):
    path = script(
        site, "app.cgi", "#!/usr/bin/env -S /nonexistent/venv/bin/python -m wsgicgi myapp:app\n"
    )
    problems, report = run_check(path)
    assert problems == 1, report
    assert "/nonexistent/venv/bin/python does not exist" in fails(report)[0]


def test_relative_program_not_on_safe_path(site):
    path = script(site, "app.cgi", "#!/usr/bin/env -S python-nowhere-x9 -m wsgicgi myapp:app\n")
    problems, report = run_check(path)
    assert problems == 1
    assert (
        "python-nowhere-x9 is not on the server's PATH (/usr/local/bin:/usr/bin:/bin)"
        in fails(report)[0]
    )


def test_relative_interpreter_without_env(site):
    path = script(site, "app.cgi", "#!python3 -m wsgicgi myapp:app\n")
    _problems, report = run_check(path)
    assert "is not an absolute path" in report


def fake_python(folder, version):
    """An 'interpreter' that describes itself as an old Python."""
    return script(
        folder,
        "python%d.%d" % version[:2],
        "#!/bin/sh\n"
        'printf \'{"version": [%d, %d, 0], "executable": "%s", "cache_tag": "x", '
        '"dont_write_bytecode": false}\'\n' % (version[0], version[1], "/fake"),
    )


def test_old_python(site):
    old = fake_python(site, (3, 7))
    path = script(site, "app.cgi", "#!/usr/bin/env -S %s -m wsgicgi myapp:app\n" % old)
    problems, report = run_check(path)
    assert problems == 1, report
    assert "is Python 3.7.0; wsgicgi needs 3.9 or newer" in fails(report)[0]


def test_interpreter_without_wsgicgi(site):
    # -I: isolated, so the editable install and PYTHONPATH cannot help it.
    bare = script(site, "python3-bare", '#!/bin/sh\nexec %s -I -S "$@"\n' % PY)
    path = script(site, "app.cgi", "#!/usr/bin/env -S %s -m wsgicgi myapp:app\n" % bare)
    problems, report = run_check(path)
    assert problems == 1, report
    (line,) = fails(report)
    assert "cannot import wsgicgi" in line and "No module named 'wsgicgi'" in line


def test_env_without_split_support(site):
    fake_env = script(site, "env", '#!/bin/sh\n[ "$1" = -S ] && exit 125\nexec /usr/bin/env "$@"\n')
    path = script(site, "app.cgi", "#!%s -S %s -m wsgicgi myapp:app\n" % (fake_env, PY))
    problems, report = run_check(path)
    assert problems == 1, report
    assert "does not understand -S" in fails(report)[0] and "two-line form" in fails(report)[0]


def test_group_writable_is_only_a_warning_without_suexec(site):
    path = script(site, "app.cgi", ONE_LINE % "myapp:app", mode=0o775)
    problems, report = run_check(path)
    assert problems == 0, report
    assert "under suEXEC (not used here)" in report and "writable by its group" in report


def suexec_config(**kwargs):
    kwargs.setdefault("binary", "/usr/lib/apache2/suexec")
    kwargs.setdefault("docroot", "/tmp")
    return SuexecConfig(**kwargs)


def test_suexec_rules(site):
    path = script(site, "app.cgi", ONE_LINE % "myapp:app", mode=0o775)
    os.chmod(site, 0o775)
    _problems, report = run_check(path, suexec=True, config=suexec_config())
    lines = fails(report)
    assert any(
        "the folder %s is writable by its group (mode 775)" % site in line and "chmod go-w" in line
        for line in lines
    ), report
    assert any("app.cgi is writable by its group (mode 775)" in line for line in lines), report
    assert all(line.startswith("suEXEC: ") for line in lines), report


def test_suexec_forbidden_uid(site):
    path = script(site, "app.cgi", ONE_LINE % "myapp:app")
    config = suexec_config(uid_min=10**7, gid_min=0)
    _problems, report = run_check(path, suexec=True, config=config)
    assert any("cannot run as forbidden uid" in line for line in fails(report)), report


def test_suexec_forbidden_gid(site):
    path = script(site, "app.cgi", ONE_LINE % "myapp:app")
    config = suexec_config(uid_min=0, gid_min=10**7)
    _problems, report = run_check(path, suexec=True, config=config)
    if os.stat(path).st_uid == 0:
        # root's scripts are refused for their uid first.
        assert any("forbidden uid" in line for line in fails(report)), report
    else:
        assert any("cannot run as forbidden gid" in line for line in fails(report)), report


def test_suexec_outside_docroot(site):
    path = script(site, "app.cgi", ONE_LINE % "myapp:app")
    _problems, report = run_check(
        path, suexec=True, config=suexec_config(docroot="/var/www-nowhere")
    )
    assert any(
        "is neither in a ~/public_html nor under suEXEC's document root /var/www-nowhere" in line
        for line in fails(report)
    ), report


def test_suexec_symlink(site):
    real = script(site, "real.cgi", ONE_LINE % "myapp:app")
    link = os.path.join(site, "app.cgi")
    os.symlink(real, link)
    _problems, report = run_check(link, suexec=True, config=suexec_config())
    assert any(
        "is a symlink" in line and "cannot stat program" in line for line in fails(report)
    ), report


def test_setuid_script(site):
    path = script(site, "app.cgi", ONE_LINE % "myapp:app", mode=0o4755)
    _problems, report = run_check(path)
    if not os.stat(path).st_mode & stat.S_ISUID:
        pytest.skip("this filesystem drops the setuid bit")
    assert any("setuid or setgid" in line for line in fails(report)), report


def test_bytecode_advice_when_the_cache_cannot_be_written(site):
    path = script(site, "app.cgi", ONE_LINE % "myapp:app")
    # Without suEXEC the server's user (www-data) runs the script: it
    # cannot write a folder of root's (or of this user's) with mode 755.
    _problems, report = run_check(path)
    assert "every request compiles it again" in report and "-m compileall" in report
    subprocess.run([PY, "-m", "compileall", "-q", site], check=True)
    _problems, report = run_check(path)
    assert "__pycache__ is compiled and up to date" in report or "can write" in report


def test_fcgi_script_gets_a_fastcgi_request(site):
    path = script(site, "app.fcgi", ONE_LINE % "myapp:app")
    problems, report = run_check(path, path_info="/fast")
    assert problems == 0, report
    assert "over FastCGI" in report and "answers 200 OK" in report
    assert "b'hello from /app.fcgi'" in report


def test_fcgi_script_that_does_not_speak_fastcgi(site):
    path = script(site, "app.fcgi", "#!/bin/sh\nexit 3\n")
    problems, report = run_check(path, timeout=20)
    assert problems == 1, report
    assert "over FastCGI" in fails(report)[0]


def test_missing_file(site):
    problems, report = run_check(os.path.join(site, "nope.cgi"))
    assert problems == 1
    assert "No such file" in fails(report)[0]


# -- the command line --------------------------------------------------------------


def cli(*args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(
        [PY, "-m", "wsgicgi", "check", *list(args)],
        capture_output=True,
        env=env,
        timeout=300,
    )


def test_cli_exit_status(site):
    # sh scripts: run as root, the check runs them as www-data, who cannot
    # enter root's pyenv.
    good = script(site, "app.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok'\n")
    bad = script(
        site, "bad.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok'\n", mode=0o644
    )
    done = cli("--no-suexec", good)
    assert done.returncode == 0, done.stdout.decode()
    done = cli("--no-suexec", good, bad)
    assert done.returncode == 1
    out = done.stdout.decode()
    assert "%s would serve" % good in out and "%s would NOT serve: 1 problem" % bad in out


def test_cli_usage():
    done = cli()
    assert done.returncode == 2 and b"usage: wsgicgi check" in done.stderr
    done = cli("--help")
    assert done.returncode == 0 and b"--no-suexec" in done.stdout


def test_check_is_not_imported_by_the_gateway():
    code = "import sys, wsgicgi.cli, wsgicgi.gateway; print('wsgicgi.check' in sys.modules)"
    done = subprocess.run(
        [PY, "-c", code], stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=ROOT), timeout=60
    )
    assert done.stdout.strip() == b"False"
