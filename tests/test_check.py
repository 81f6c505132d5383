"""``wsgicgi check``: the shebang parser, suEXEC's rules, and whole checks of
scripts in a temporary folder (real interpreters, a real GET, a real
FastCGI request over a unix socket).  tests/integration/test_suexec.py makes
the same mistakes under a real Apache with suEXEC."""

import io
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time

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


# -- what goes wrong around the check (coverage of its failure paths) ---------------


def test_two_argument_shebang_with_mwsgicgi_glued():
    sb = check.Shebang()
    sb.args = ["-mwsgicgi", "myapp:app"]
    assert app_spec_of(sb) == ([], "myapp:app")
    sb.args = ["-mother", "x"]
    assert app_spec_of(sb) == ([], None)


def test_env_split_with_nothing_after_it():
    sb = parse_shebang(b"#!/usr/bin/env -S   \n")
    assert [what for what, _ in sb.errors] == ["'env -S' names no program"]


def test_no_suexec_binary_means_no_suexec(site, monkeypatch):
    monkeypatch.setattr(check, "SUEXEC_BINARIES", ("/nonexistent/suexec",))
    config = SuexecConfig.detect()
    assert config.binary is None and not config.known
    path = script(site, "app.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok'\n")
    out = io.StringIO()
    # suexec=None: decided by the wrapper, which is not there.
    assert check.check_script(path, out=out, config=config, drop_privileges=False) == 0
    assert "no suEXEC here" in out.getvalue()


def test_a_suexec_binary_that_cannot_run_keeps_the_defaults(site):
    # Not executable: not even tried.  Executable but not a program: the
    # exec fails (ENOEXEC) and the defaults stand.
    path = script(site, "suexec", b"\x7fELF-not-really", mode=0o644)
    assert SuexecConfig.from_binary(path).known is False
    os.chmod(path, 0o755)
    config = SuexecConfig.from_binary(path)
    assert config.binary == path and config.known is False
    assert config.uid_min == SuexecConfig().uid_min


def test_suexec_dash_v_with_a_value_that_is_not_a_number():
    config = SuexecConfig()
    config.apply_v_output(" -D AP_UID_MIN=lots\n -D AP_GID_MIN=100\n other line\n")
    assert config.uid_min == SuexecConfig().uid_min
    assert config.gid_min == 100 and config.known


def test_a_long_detail_keeps_its_last_lines():
    out = io.StringIO()
    check.Report(out).detail("\n".join("line %d" % i for i in range(100)), limit=5)
    lines = out.getvalue().splitlines()
    assert len(lines) == 6
    assert "[...]" in lines[0] and lines[-1].endswith("line 99")


def test_unknown_uid_and_gid_are_shown_as_numbers():
    assert check._user_name(0) == "root"
    assert check._user_name(2**31 - 7) == str(2**31 - 7)
    assert check._group_name(2**31 - 7) == str(2**31 - 7)


def test_a_bug_in_the_check_is_reported_not_raised(site, monkeypatch):
    def broken(*args):
        raise RuntimeError("marker-bug")

    monkeypatch.setattr(check, "_check", broken)
    problems, report = run_check(os.path.join(site, "any.cgi"))
    assert problems == 1
    assert "wsgicgi check itself failed: RuntimeError: marker-bug" in fails(report)[0]
    assert "report this as a bug" in fails(report)[0]
    assert "Traceback" in report


def test_symlink_out_of_its_folder_is_a_warning_without_suexec(site):
    other = tempfile.mkdtemp(prefix="wsgicgi-check-other-", dir="/tmp")
    try:
        os.chmod(other, 0o755)
        real = script(other, "real.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok'\n")
        link = os.path.join(site, "app.cgi")
        os.symlink(real, link)
        problems, report = run_check(link)
        assert problems == 0, report
        assert "is a symlink out of its folder (to %s)" % real in report
    finally:
        shutil.rmtree(other, ignore_errors=True)


def test_dangling_symlink_and_a_folder_as_script(site):
    link = os.path.join(site, "app.cgi")
    os.symlink(os.path.join(site, "gone.cgi"), link)
    problems, report = run_check(link)
    assert problems == 1
    assert "No such file" in fails(report)[0] and "point the symlink" in fails(report)[0]
    os.mkdir(os.path.join(site, "dir.cgi"))
    problems, report = run_check(os.path.join(site, "dir.cgi"))
    assert problems == 1
    assert "is not a regular file" in fails(report)[0]


@pytest.mark.parametrize(
    "mode, folder_mode, needle",
    [
        (0o754, 0o755, "is not executable by others (mode 754)"),
        (0o751, 0o755, "cannot read"),
        (0o755, 0o750, "cannot enter"),
    ],
)
def test_what_the_servers_user_cannot_do(site, mode, folder_mode, needle):
    sub = os.path.join(site, "sub")
    os.mkdir(sub)
    path = script(sub, "app.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok'\n", mode)
    os.chmod(sub, folder_mode)
    problems, report = run_check(path)
    assert problems >= 1, report
    assert needle in fails(report)[0], report


def test_writable_by_others_names_them(site):
    path = script(site, "app.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok'\n", 0o777)
    _problems, report = run_check(path)
    assert "writable by its group and others (mode 777)" in report


def test_no_shebang_and_cr_in_the_interpreter(site):
    path = script(site, "app.cgi", "import wsgicgi\n")
    problems, report = run_check(path)
    assert problems == 1 and "not a shebang" in fails(report)[0]
    path = script(site, "crlf.cgi", b"#!/usr/bin/python3\r\nimport wsgicgi\r\n")
    problems, report = run_check(path)
    assert problems == 1 and "ends in CR" in fails(report)[0]
    assert "sed -i" in fails(report)[0]


def test_crlf_after_env_split_is_a_warning_in_a_whole_check(site):
    path = script(site, "app.cgi", (ONE_LINE % "myapp:app").replace("\n", "\r\n"))
    problems, report = run_check(path)
    assert problems == 0, report
    assert any(
        line.strip().startswith("warn") and "ends in CR" in line for line in report.splitlines()
    ), report


def test_absolute_interpreter_that_does_not_exist(site):
    path = script(site, "app.cgi", "#!/nonexistent/bin/python3\nimport wsgicgi\n")
    problems, report = run_check(path)
    assert problems == 1
    assert "the interpreter /nonexistent/bin/python3 does not exist" in fails(report)[0]


def test_program_found_on_the_servers_path(site):
    # "env python3": the server's PATH decides which python3 runs.
    path = script(site, "app.cgi", "#!/usr/bin/env -S python3 -m wsgicgi myapp:app\n")
    _problems, report = run_check(path)
    found = check.which("python3", SuexecConfig().safe_path)
    assert "python3 is %s on the server's PATH" % found in report, report


def test_the_console_script_as_interpreter(site):
    console = os.path.join(os.path.dirname(PY), "wsgicgi")
    if not os.path.isfile(console):
        pytest.skip("no wsgicgi console script beside %s" % PY)
    path = script(site, "app.cgi", "#!/usr/bin/env -S %s myapp:app\n" % console)
    problems, report = run_check(path)
    assert problems == 0, report
    assert "APP myapp:app loads" in report and "answers 200 OK" in report
    # A "wsgicgi" without a shebang naming an absolute Python: cannot tell.
    fake = script(site, "wsgicgi", "exit 0\n")
    path = script(site, "fake.cgi", "#!/usr/bin/env -S %s myapp:app\n" % fake)
    _problems, report = run_check(path)
    assert "cannot tell which Python runs %s" % fake in report


def test_dash_m_wsgicgi_without_an_app(site):
    path = script(site, "app.cgi", ONE_LINE % "")
    problems, report = run_check(path)
    assert problems == 1
    assert "'-m wsgicgi' without an APP" in fails(report)[0]


@pytest.mark.parametrize(
    "body, needle",
    [
        ("echo not json", "answered something unexpected: b'not json"),
        ("echo broken >&2; exit 3", "does not run: exit status 3"),
        ("sleep 30", "does not run: no answer within 2s"),
    ],
)
def test_an_interpreter_that_misbehaves(site, body, needle):
    python = script(site, "python3-odd", "#!/bin/sh\n%s\n" % body)
    path = script(site, "app.cgi", "#!/usr/bin/env -S %s -m wsgicgi myapp:app\n" % python)
    problems, report = run_check(path, timeout=2)
    assert problems == 1, report
    assert needle in fails(report)[0], report


def test_an_interpreter_that_cannot_be_executed(site):
    python = script(site, "python3-garbage", b"\x00\x01\x02 not a program\n")
    path = script(site, "app.cgi", "#!/usr/bin/env -S %s -m wsgicgi myapp:app\n" % python)
    problems, report = run_check(path)
    assert problems == 1, report
    assert "Exec format error" in fails(report)[0], report


def test_a_missing_dependency_of_the_app_names_what_to_install(site):
    with open(os.path.join(site, "needs.py"), "w") as f:
        f.write("import nosuchdep_q1\n\ndef app(e, s):\n    pass\n")
    path = script(site, "app.cgi", ONE_LINE % "needs:app")
    problems, report = run_check(path)
    assert problems == 1, report
    assert "install nosuchdep_q1 for" in fails(report)[0], report


def test_a_public_html_script_belongs_to_the_home_owner(site):
    # ~/public_html: the owner is whoever owns the home folder (here root,
    # which suEXEC refuses), found even without a passwd entry for the path.
    public = os.path.join(site, "public_html")
    os.mkdir(public)
    os.chmod(public, 0o755)
    path = script(public, "app.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok'\n")
    owner, top = check.userdir_owner(public, "public_html")
    assert top == public and owner.pw_uid == os.stat(site).st_uid
    _problems, report = run_check(path, suexec=True, config=suexec_config(), drop_privileges=True)
    if os.stat(site).st_uid == 0:
        assert any("forbidden uid" in line for line in fails(report)), report


def test_cli_path_info_gets_its_slash(site):
    good = script(
        site,
        "app.cgi",
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s' \"$PATH_INFO\"\n",
    )
    done = cli("--no-suexec", "--path-info", "x/y", good)
    assert done.returncode == 0, done.stdout.decode()
    assert "b'/x/y'" in done.stdout.decode()


def test_under_suexec_an_interpreter_without_wsgicgi_names_the_htaccess_setenv(site):
    # SetEnv PYTHONPATH in .htaccess never reaches a script under suEXEC.
    with open(os.path.join(site, ".htaccess"), "w") as f:
        f.write("Options +ExecCGI\nSetEnv PYTHONPATH /srv/lib\n")
    bare = script(site, "python3-bare", '#!/bin/sh\nexec %s -I -S "$@"\n' % PY)
    path = script(site, "app.cgi", "#!/usr/bin/env -S %s -m wsgicgi myapp:app\n" % bare)
    _problems, report = run_check(path, suexec=True, config=suexec_config(uid_min=0, gid_min=0))
    (line,) = [line for line in fails(report) if "cannot import wsgicgi" in line]
    assert "suEXEC passes no PYTHONPATH" in line
    assert "SetEnv PYTHONPATH in %s never reaches the script" % os.path.join(site, ".htaccess") in (
        line
    )


@pytest.mark.parametrize(
    "body, needles",
    [
        # A good answer that also logged: shown as information.
        (
            "echo 'a warning on stderr' >&2\nprintf 'Content-Type: text/plain\\n\\nok'\n",
            ["answers 200 OK", "it also wrote to the error log:", "| a warning on stderr"],
        ),
        # No header block, and the reason on stderr.
        (
            "echo 'the real reason' >&2\necho no headers\n",
            ["no complete CGI header", "the real reason"],
        ),
        # A header block the adapter's own parser refuses.
        ("printf 'Not a header line\\n\\nbody'\n", ["no complete CGI header"]),
        # Dies before any output, saying why: a bare 500 from Apache.
        ("echo 'died here' >&2\nkill -9 $$\n", ["a bare 500", "died here"]),
    ],
    ids=["stderr-with-200", "no-header-stderr", "bad-header", "killed-with-stderr"],
)
def test_what_the_test_get_shows(site, body, needles):
    path = script(site, "raw.cgi", "#!/bin/sh\n" + body)
    _problems, report = run_check(path)
    for needle in needles:
        assert needle in report, report


def test_an_interpreter_that_loads_nothing_shows_its_stderr(site):
    # Answers the probe as the real Python does, then fails on the APP.
    python = script(
        site,
        "python3-loadfail",
        '#!/bin/sh\nif [ $# -gt 2 ]; then echo "marker-load-7 failed" >&2; exit 1; fi\n'
        'exec %s "$@"\n' % PY,
    )
    path = script(site, "app.cgi", "#!/usr/bin/env -S %s -m wsgicgi myapp:app\n" % python)
    problems, report = run_check(path)
    assert problems == 1, report
    assert "loading 'myapp:app' through %s: exit status 1" % python in fails(report)[0]
    assert "marker-load-7 failed" in report


def test_an_app_from_an_installed_module_needs_no_bytecode_advice(site):
    # No .py beside the script: nothing of the folder to compile.
    os.unlink(os.path.join(site, "myapp.py"))
    path = script(site, "app.cgi", ONE_LINE % "wsgiref.simple_server:demo_app")
    problems, report = run_check(path)
    assert problems == 0, report
    assert "compileall" not in report and "__pycache__" not in report


def test_stale_bytecode_is_named(site):
    path = script(site, "app.cgi", ONE_LINE % "myapp:app")
    subprocess.run([PY, "-m", "compileall", "-q", site], check=True)
    source = os.path.join(site, "myapp.py")
    later = os.stat(source).st_mtime + 60
    os.utime(source, (later, later))
    _problems, report = run_check(path)
    assert "myapp.py" in report and "compileall" in report, report


# -- FastCGI scripts that misbehave, and ownership under suEXEC --------------------

ACCEPT = (
    "#!%s\nimport socket, time\nlistener = socket.socket(fileno=0)\nconn, _ = listener.accept()\n"
    % PY
)


@pytest.mark.parametrize(
    "tail, needle",
    [
        (
            # Reads the whole request (nothing unread: a clean close), answers nothing.
            "conn.settimeout(0.5)\ntry:\n    while conn.recv(65536):\n        pass\n"
            "except OSError:\n    pass\nconn.close()\n",
            "the script closed the connection before it answered",
        ),
        ("time.sleep(30)\n", "no answer within 3s"),
    ],
    ids=["closes", "silent"],
)
def test_fcgi_script_that_accepts_but_does_not_answer(site, tail, needle):
    path = script(site, "bad.fcgi", ACCEPT + tail)
    started = time.monotonic()
    problems, report = run_check(path, timeout=3)
    assert problems >= 1, report
    assert any("over FastCGI" in line and needle in line for line in fails(report)), report
    assert time.monotonic() - started < 30


def test_fcgi_script_whose_app_logs_shows_the_log(site):
    with open(os.path.join(site, "logs.py"), "w") as f:
        f.write(
            "def app(environ, start_response):\n"
            "    environ['wsgi.errors'].write('marker-fcgi-log-3\\n')\n"
            "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
            "    return [b'ok']\n"
        )
    path = script(site, "app.fcgi", ONE_LINE % "logs:app")
    problems, report = run_check(path)
    assert problems == 0, report
    assert "it also wrote to the error log:" in report and "marker-fcgi-log-3" in report


def test_two_argument_shebang_stops_before_running_anything(site):
    path = script(site, "app.cgi", "#!%s -m wsgicgi myapp:app\n" % PY)
    problems, report = run_check(path)
    assert problems == 1, report
    assert "two-argument shebang" in fails(report)[0]
    assert "imports wsgicgi" not in report  # the interpreter was not run


def test_cr_after_a_one_word_argument():
    sb = parse_shebang(b"#!/usr/bin/python3 -u\r\nimport x\r\n")
    assert any("ends in CR" in what for what, _ in sb.errors)


def test_a_folder_writable_by_its_group_is_a_warning_without_suexec(site):
    path = script(site, "app.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok'\n")
    os.chmod(site, 0o775)
    problems, report = run_check(path)
    assert problems == 0, report
    assert "under suEXEC (not used here)" in report and "the folder %s" % site in report


def test_a_server_user_missing_from_passwd_runs_the_script_as_nobody(site):
    path = script(
        site, "app.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n%s' $(id -u)\n"
    )
    config = SuexecConfig(httpd_user="nosuchuser-x9")
    problems, report = run_check(path, config=config, drop_privileges=True)
    assert problems == 0, report
    expected = "65534" if os.geteuid() == 0 else str(os.geteuid())
    assert "body b'%s'" % expected in report, report


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_suexec_owner_rules_for_a_normal_account(site):
    # A normal uid with a system group (0): suEXEC refuses the gid; a
    # script owned by someone else than its folder: refused too.
    path = script(site, "app.cgi", ONE_LINE % "myapp:app")
    os.chown(site, 12345, 0)
    os.chown(path, 12345, 0)
    config = suexec_config(uid_min=100, gid_min=100)
    _problems, report = run_check(path, suexec=True, config=config, drop_privileges=False)
    assert any("cannot run as forbidden gid" in line for line in fails(report)), report
    os.chown(site, 12345, 12345)
    os.chown(path, 23456, 12345)
    _problems, report = run_check(path, suexec=True, config=config, drop_privileges=False)
    assert any("owned by" in line or "owner" in line for line in fails(report)), report


def test_userdir_owner_from_passwd_and_when_there_is_none():
    # The home named in passwd (www-data's /var/www), found by path alone.
    entry = pwd.getpwnam("www-data") if "www-data" in {e.pw_name for e in pwd.getpwall()} else None
    if entry is not None:
        home = entry.pw_dir
        owner, top = check.userdir_owner(home + "/public_html/app", "public_html")
        assert (owner.pw_name, top) == ("www-data", home + "/public_html")
    # No passwd entry and no such folder: nobody's.
    assert check.userdir_owner("/nonexistent-home-q7/public_html/x", "public_html") == (None, None)
    assert check.userdir_owner("/srv/www/app", "public_html") == (None, None)
