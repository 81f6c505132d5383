"""Shared hosting as it really is: suEXEC, UserDir and a venv in the home folder.

A private Apache (mpm_event + mod_cgid, mod_userdir, mod_suexec with Debian's
``apache2-suexec-pristine`` wrapper, mod_fcgid) in front of a unix account
that this module creates and removes: ``~/public_html`` with ``.htaccess``
files, and ``~/venv`` made from Debian's /usr/bin/python3 with wsgicgi
installed by pip from a wheel built from this source tree.  Scripts run as
the account's uid, with suEXEC's cleaned environment (its safe PATH, no
PYTHONPATH, no HOME).

Every classic mistake is made for real and tested twice: Apache answers a
bare 500 (its log, or suEXEC's own log, which the account could not read,
holds the real reason), and ``wsgicgi check``, run as the account with the
venv's console script, names the cause and exits non-zero.

Needs root (to create the account and to start Apache as www-data's parent);
in CI a missing prerequisite fails instead of skipping.
"""

import base64
import http.client
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time

import pytest
from docs_blocks import argv, command, commands, doc_block, substitute, two_line_script

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from scripts.harness import apache as harness  # noqa: E402

pytestmark = pytest.mark.integration

SUEXEC = "/usr/lib/apache2/suexec"
SUEXEC_LOG = "/var/log/apache2/suexec.log"
SYSTEM_PYTHON = "/usr/bin/python3"
AUTH = "Basic dXNlcjpwYXNzd29yZA=="  # user:password

# The app every script serves: who runs it and what it received.
APP = r"""
import json, os

def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    info = {
        "uid": os.getuid(), "gid": os.getgid(),
        "method": environ["REQUEST_METHOD"], "script_name": environ["SCRIPT_NAME"],
        "path_info": environ["PATH_INFO"], "query": environ["QUERY_STRING"],
        "authorization": environ.get("HTTP_AUTHORIZATION"),
        "body": environ["wsgi.input"].read(length).decode("latin-1"),
        "os_environ": sorted(os.environ),
        "pid": os.getpid(),
    }
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Suexec-Probe", "yes")])
    return [json.dumps(info).encode("ascii")]
"""

# The docs' recipes (docs/deploy/shared-hosting.md, docs/deploy/fastcgi.md), read from the pages.
PAGE = "deploy/shared-hosting.md"
HTACCESS_CGI = doc_block(PAGE, None, "apache", "AddHandler cgi-script")
HTACCESS_FCGI = doc_block("deploy/fastcgi.md", "mod_fcgid in `.htaccess`", "apache")
VENV_STEPS = commands(doc_block(PAGE, None, "sh", "python3 -m venv ~/venv"))
ONE_LINE_VENV = doc_block(PAGE, None, "sh", "#!/usr/bin/env -S /home/USER/venv/bin/python")
CHECK_LINE = command(doc_block(PAGE, None, "sh", "wsgicgi check"), "wsgicgi check")

SERVER_CONF = """\
LoadModule suexec_module {modules}/mod_suexec.so
LoadModule userdir_module {modules}/mod_userdir.so
LoadModule fcgid_module {modules}/mod_fcgid.so
UserDir {suffix}
UserDir disabled root
<Directory "/home/*/{suffix}">
    Options SymLinksIfOwnerMatch
    AllowOverride All
    Require all granted
</Directory>
FcgidIPCDir "{ipc}"
FcgidProcessTableFile "{ipc}/fcgid_shm"
FcgidMaxProcessesPerClass 2
FcgidIOTimeout 60
"""


def _on_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing(message):
    if _on_ci():
        pytest.fail(message)
    pytest.skip(message)


def _suexec_config():
    out = subprocess.run(
        [SUEXEC, "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30
    ).stdout
    values = {}
    for line in out.decode("latin-1").splitlines():
        line = line.strip()
        if line.startswith("-D "):
            name, _, value = line[3:].partition("=")
            values[name] = value.strip('"')
    return values


class SuexecApache(harness.Apache):
    """The harness's Apache plus mod_userdir, mod_suexec and mod_fcgid."""

    def config(self):
        ipc = os.path.join(self.root, "fcgid")
        if not os.path.isdir(ipc):
            os.mkdir(ipc)
            entry = pwd.getpwnam("www-data")
            os.chown(ipc, entry.pw_uid, entry.pw_gid)
        return super().config() + SERVER_CONF.format(
            modules=harness.MODULES_DIR,
            suffix=self.suffix,
            ipc=ipc,
        )


# -- the account, its venv and the server --------------------------------------------


def _as_user(user, argv, timeout=300, **kwargs):
    """Run ``argv`` as the account, with a login-like environment of its own."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": user.pw_dir,
        "LANG": "C.UTF-8",
        "USER": user.pw_name,
    }
    return subprocess.run(
        argv,
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        cwd=user.pw_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=timeout,
        **kwargs,
    )


def _build_wheel(tmp):
    """A wheel of this source tree, built by Debian's setuptools from a copy
    (the account cannot read /root, and the checkout stays untouched)."""
    src = os.path.join(tmp, "src")
    os.mkdir(src)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if os.path.exists(os.path.join(ROOT, name)):
            shutil.copy(os.path.join(ROOT, name), src)
    import wsgicgi  # the package the suite runs against: the checkout's, or the wheel's

    shutil.copytree(
        os.path.dirname(os.path.abspath(wsgicgi.__file__)),
        os.path.join(src, "wsgicgi"),
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    dist = os.path.join(tmp, "dist")
    os.mkdir(dist)
    build = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import sys; from setuptools import build_meta as b; print(b.build_wheel(sys.argv[1]))",
            dist,
        ],
        cwd=src,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout.decode("utf-8", "replace")[-3000:]
    wheel = os.path.join(dist, build.stdout.decode().strip().splitlines()[-1])
    harness.make_world_readable(dist)
    os.chmod(tmp, 0o755)
    return wheel


@pytest.fixture(scope="module")
def account():
    """A unix account with ~/venv (wsgicgi installed) and ~/public_html."""
    if os.geteuid() != 0:
        _missing("needs root: creates a unix account and starts Apache as its parent")
    if not harness.available():
        _missing("%s not installed (bash scripts/test installs it)" % harness.APACHE_BIN)
    if not os.path.exists(SUEXEC) or not os.path.exists(
        os.path.join(harness.MODULES_DIR, "mod_fcgid.so")
    ):
        _missing(
            "suEXEC or mod_fcgid missing (bash scripts/test installs apache2-suexec-pristine, libapache2-mod-fcgid)"
        )
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import ensurepip, setuptools, wheel"], stderr=subprocess.DEVNULL
    )
    if probe.returncode:
        _missing(
            "Debian's python3-venv, python3-setuptools, python3-wheel missing (bash scripts/test installs them)"
        )
    name = "wcgsx" + secrets.token_hex(4)
    tmp = harness.public_tempdir("wsgicgi-suexec-build-")
    created = False
    try:
        subprocess.run(
            ["useradd", "--create-home", "--user-group", "--shell", "/bin/sh", name],
            check=True,
            timeout=60,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        created = True
        user = pwd.getpwnam(name)
        os.chmod(user.pw_dir, 0o711)  # Apache (www-data) must reach ~/public_html
        wheel = _build_wheel(tmp)
        # The docs' two steps, as the account: "python3 -m venv ~/venv" (Debian's
        # python3), then "~/venv/bin/pip install wsgicgi" with this checkout's wheel.
        make_venv, install = (
            [w.replace("~", user.pw_dir, 1) if w.startswith("~") else w for w in argv(step)]
            for step in VENV_STEPS
        )
        assert make_venv[0] == "python3" and install[-2:] == ["install", "wsgicgi"], VENV_STEPS
        made = _as_user(user, [SYSTEM_PYTHON, *make_venv[1:]])
        assert made.returncode == 0, made.stdout.decode("utf-8", "replace")
        pip = _as_user(
            user,
            [
                *install[:-1],
                "-q",
                "--no-index",
                "--no-deps",
                "--disable-pip-version-check",
                wheel,
            ],
        )
        assert pip.returncode == 0, pip.stdout.decode("utf-8", "replace")
        public = os.path.join(user.pw_dir, "public_html")
        os.mkdir(public)
        os.chmod(public, 0o755)
        os.chown(public, user.pw_uid, user.pw_gid)
        yield user
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created:
            subprocess.run(
                ["userdel", "--force", "--remove", name],
                timeout=60,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )


@pytest.fixture(scope="module")
def suexec_conf(account):
    return _suexec_config()


@pytest.fixture(scope="module")
def httpd(account, suexec_conf):
    assert suexec_conf.get("AP_USERDIR_SUFFIX") == "public_html", suexec_conf
    empty = harness.public_tempdir("wsgicgi-suexec-cgi-")
    server = SuexecApache(empty, module="cgid")
    server.suffix = suexec_conf["AP_USERDIR_SUFFIX"]
    try:
        server.start()
        assert "suEXEC mechanism enabled" in server.error_log(), server.error_log()
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(empty, ignore_errors=True)


# -- helpers -----------------------------------------------------------------------


def home(user, *parts):
    return os.path.join(user.pw_dir, *parts)


def put(user, path, text, mode=0o644, owner=True):
    """Write a file (bytes or text) as the account would have it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode("utf-8"))
    os.chmod(path, mode)
    if owner:
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def folder(user, name, mode=0o755, htaccess=HTACCESS_CGI):
    path = home(user, "public_html", name)
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    os.chown(path, user.pw_uid, user.pw_gid)
    if htaccess:
        put(user, os.path.join(path, ".htaccess"), htaccess)
    return path


def one_line(user, spec="myapp:app"):
    """The docs' one-line script with the venv, for ``user``."""
    return substitute(ONE_LINE_VENV, {"/home/USER": user.pw_dir, "myapp:app": spec})


def request(httpd, method, path, body=None, headers=None, timeout=90):
    conn = http.client.HTTPConnection("127.0.0.1", httpd.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def suexec_log_size():
    try:
        return os.path.getsize(SUEXEC_LOG)
    except OSError:
        return 0


def suexec_log_since(offset):
    try:
        with open(SUEXEC_LOG, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def wait_for(read, needle, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        text = read()
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def check(user, *paths, args=()):
    """``wsgicgi check`` as the account runs it over SSH: the venv's console
    script, as the docs' line names it."""
    program = argv(CHECK_LINE)[:2]
    assert program == ["~/venv/bin/wsgicgi", "check"], CHECK_LINE
    done = _as_user(
        user,
        [home(user, "venv", "bin", "wsgicgi"), "check", *list(args), *list(paths)],
        timeout=300,
    )
    return done.returncode, done.stdout.decode("utf-8", "replace")


def probe_json(httpd, path, **kwargs):
    status, headers, body = request(httpd, kwargs.pop("method", "GET"), path, **kwargs)
    assert status == 200, (status, body[:1000], httpd.error_log()[-3000:])
    assert headers.get("x-suexec-probe") == "yes"
    return json.loads(body)


# -- the good scripts ----------------------------------------------------------------


@pytest.fixture(scope="module")
def good(account):
    """~/public_html/good: the docs' one-line script with the venv, next to myapp.py."""
    path = folder(account, "good")
    put(account, os.path.join(path, "myapp.py"), APP)
    put(account, os.path.join(path, "app.cgi"), one_line(account), mode=0o755)
    put(
        account,
        os.path.join(path, "two.cgi"),
        # The gateway page's two-line form, "with #!/home/USER/venv/bin/python as its first line".
        substitute(
            two_line_script("myapp"),
            {"#!/usr/bin/python3": "#!" + home(account, "venv", "bin", "python")},
        ),
        mode=0o755,
    )
    return path


def test_one_line_get_runs_as_the_account(httpd, account, good):
    info = probe_json(httpd, "/~%s/good/app.cgi/hello?q=1" % account.pw_name)
    assert (info["uid"], info["gid"]) == (account.pw_uid, account.pw_gid)
    assert info["script_name"] == "/~%s/good/app.cgi" % account.pw_name
    assert (info["path_info"], info["query"]) == ("/hello", "q=1")
    # suEXEC's cleaned environment: no PYTHONPATH, no HOME; PATH is its safe PATH.
    assert "PYTHONPATH" not in info["os_environ"] and "HOME" not in info["os_environ"]


def test_one_line_post(httpd, account, good):
    body = "name=Ann+Lee&city=K%C3%B6ln".encode("ascii")
    info = probe_json(
        httpd,
        "/~%s/good/app.cgi/form" % account.pw_name,
        method="POST",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert info["method"] == "POST"
    assert info["body"] == body.decode("latin-1")


def test_one_line_utf8_path_info(httpd, account, good):
    info = probe_json(httpd, "/~%s/good/app.cgi/caf%%C3%%A9/%%E2%%82%%AC" % account.pw_name)
    assert info["path_info"] == "/café/€".encode().decode("latin-1")


def test_one_line_authorization(httpd, account, good):
    info = probe_json(
        httpd, "/~%s/good/app.cgi/auth" % account.pw_name, headers={"Authorization": AUTH}
    )
    assert info["authorization"] == AUTH
    assert base64.b64decode(info["authorization"].split()[1]) == b"user:password"


def test_two_line_form(httpd, account, good):
    info = probe_json(httpd, "/~%s/good/two.cgi/x" % account.pw_name)
    assert info["uid"] == account.pw_uid
    assert info["path_info"] == "/x"


def test_suexec_logged_the_account(httpd, account, good):
    offset = suexec_log_size()
    probe_json(httpd, "/~%s/good/app.cgi/" % account.pw_name)
    log = wait_for(lambda: suexec_log_since(offset), "cmd: app.cgi")
    assert "(%d/%s)" % (account.pw_uid, account.pw_name) in log, log


def test_check_passes_the_good_scripts(account, good):
    code, out = check(account, os.path.join(good, "app.cgi"), os.path.join(good, "two.cgi"))
    assert code == 0, out
    assert "FAIL" not in out
    assert out.count("would serve") == 2, out
    assert "answers 200 OK" in out
    assert "imports wsgicgi" in out


# -- mod_fcgid under suEXEC ----------------------------------------------------------


@pytest.fixture(scope="module")
def fcgi_site(account):
    path = folder(account, "fcgi", htaccess=HTACCESS_FCGI)
    put(account, os.path.join(path, "myapp.py"), APP)
    put(account, os.path.join(path, "app.fcgi"), one_line(account), mode=0o755)
    put(account, os.path.join(path, "writable.fcgi"), one_line(account), mode=0o775)
    return path


def test_fcgid_serves_as_the_account(httpd, account, fcgi_site):
    url = "/~%s/fcgi/app.fcgi" % account.pw_name
    first = probe_json(httpd, url + "/one")
    assert first["uid"] == account.pw_uid
    assert first["path_info"] == "/one"
    body = b"a=1&b=%C3%A9"
    second = probe_json(
        httpd, url + "/caf%C3%A9", method="POST", body=body, headers={"Authorization": AUTH}
    )
    assert second["body"] == body.decode("latin-1")
    assert second["authorization"] == AUTH
    assert second["path_info"] == "/café".encode().decode("latin-1")
    # Kept warm: one process served both (FcgidMaxProcessesPerClass allows 2,
    # but an idle one is reused).
    assert second["pid"] == first["pid"]


def test_fcgid_group_writable_is_refused(httpd, account, fcgi_site):
    offset = suexec_log_size()
    status, _, _ = request(httpd, "GET", "/~%s/fcgi/writable.fcgi/" % account.pw_name)
    assert status == 500
    assert "file is writable by others" in wait_for(
        lambda: suexec_log_since(offset), "writable by others"
    )
    code, out = check(account, os.path.join(fcgi_site, "writable.fcgi"))
    assert code != 0
    assert "writable by its group (mode 775)" in out and "chmod go-w" in out


def test_check_speaks_fastcgi_to_fcgi_scripts(account, fcgi_site):
    code, out = check(account, os.path.join(fcgi_site, "app.fcgi"))
    assert code == 0, out
    assert "over FastCGI" in out and "answers 200 OK" in out, out


# -- the classic mistakes, each made for real ----------------------------------------


def _mistake_group_writable_script(user, path):
    put(user, os.path.join(path, "app.cgi"), one_line(user), mode=0o775)


def _mistake_group_writable_folder(user, path):
    os.chmod(path, 0o775)
    put(user, os.path.join(path, "app.cgi"), one_line(user), mode=0o755)


def _mistake_not_executable(user, path):
    put(user, os.path.join(path, "app.cgi"), one_line(user), mode=0o644)


def _mistake_owned_by_root(user, path):
    put(user, os.path.join(path, "app.cgi"), one_line(user), mode=0o755, owner=False)


def _mistake_system_python(user, path):
    put(
        user,
        os.path.join(path, "app.cgi"),
        "#!/usr/bin/env -S python3 -m wsgicgi myapp:app\n",
        mode=0o755,
    )


def _mistake_setenv_pythonpath(user, path):
    site = (
        subprocess.run(
            [
                home(user, "venv", "bin", "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            stdout=subprocess.PIPE,
            check=True,
            timeout=60,
        )
        .stdout.decode()
        .strip()
    )
    put(user, os.path.join(path, ".htaccess"), HTACCESS_CGI + "SetEnv PYTHONPATH %s\n" % site)
    put(
        user,
        os.path.join(path, "app.cgi"),
        "#!/usr/bin/env -S python3 -m wsgicgi myapp:app\n",
        mode=0o755,
    )


def _mistake_two_argument_shebang(user, path):
    put(
        user,
        os.path.join(path, "app.cgi"),
        "#!%s -m wsgicgi myapp:app\n" % home(user, "venv", "bin", "python"),
        mode=0o755,
    )


def _mistake_env_without_s(user, path):
    put(
        user,
        os.path.join(path, "app.cgi"),
        "#!/usr/bin/env %s -m wsgicgi myapp:app\n" % home(user, "venv", "bin", "python"),
        mode=0o755,
    )


def _mistake_crlf(user, path):
    text = "#!%s\r\nfrom wsgicgi import run\r\nfrom myapp import app; run(app)\r\n" % home(
        user, "venv", "bin", "python"
    )
    put(user, os.path.join(path, "app.cgi"), text, mode=0o755)


def _mistake_bom(user, path):
    put(user, os.path.join(path, "app.cgi"), b"\xef\xbb\xbf" + one_line(user).encode(), mode=0o755)


def _mistake_missing_interpreter(user, path):
    put(
        user,
        os.path.join(path, "app.cgi"),
        one_line(user).replace("/bin/python", "/bin/pyhton"),
        mode=0o755,
    )


def _mistake_app_import_error(user, path):
    put(user, os.path.join(path, "myapp.py"), "import flask_is_not_installed_here\n" + APP)
    put(user, os.path.join(path, "app.cgi"), one_line(user), mode=0o755)


def _mistake_app_raises(user, path):
    put(
        user,
        os.path.join(path, "myapp.py"),
        "def app(environ, start_response):\n    raise RuntimeError('database password missing marker-51c')\n",
    )
    put(user, os.path.join(path, "app.cgi"), one_line(user), mode=0o755)


def _mistake_symlinked_script(user, path):
    target = home(user, "site-src", "app.cgi")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.chown(os.path.dirname(target), user.pw_uid, user.pw_gid)
    put(user, target, one_line(user), mode=0o755)
    put(user, os.path.join(os.path.dirname(target), "myapp.py"), APP)
    link = os.path.join(path, "app.cgi")
    os.symlink(target, link)
    os.lchown(link, user.pw_uid, user.pw_gid)


def _mistake_folder_outside_public_html(user, path):
    # public_html/<name> is a symlink to ~/site-outside: suEXEC sees the real folder.
    real = home(user, "site-outside")
    os.rmdir(path) if os.path.isdir(path) and not os.listdir(path) else None
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    os.makedirs(real, exist_ok=True)
    os.chmod(real, 0o755)
    os.chown(real, user.pw_uid, user.pw_gid)
    put(user, os.path.join(real, ".htaccess"), HTACCESS_CGI)
    put(user, os.path.join(real, "myapp.py"), APP)
    put(user, os.path.join(real, "app.cgi"), one_line(user), mode=0o755)
    os.symlink(real, path)
    os.lchown(path, user.pw_uid, user.pw_gid)


# name: (make it, what Apache's or suEXEC's log says, what `wsgicgi check` says)
MISTAKES = {
    "group_writable_script": (
        _mistake_group_writable_script,
        "file is writable by others",
        "is writable by its group (mode 775)",
    ),
    "group_writable_folder": (
        _mistake_group_writable_folder,
        "directory is writable by others",
        "is writable by its group (mode 775): suEXEC refuses every script",
    ),
    "not_executable": (
        _mistake_not_executable,
        "file has no execute permission",
        "is not executable (mode 644)",
    ),
    "owned_by_root": (_mistake_owned_by_root, "mismatch with directory", "owners differ"),
    "system_python": (
        _mistake_system_python,
        "No module named wsgicgi",
        "/usr/bin/python3 (Python",
    ),
    "setenv_pythonpath": (
        _mistake_setenv_pythonpath,
        "No module named wsgicgi",
        "SetEnv PYTHONPATH in",
    ),
    "two_argument_shebang": (
        _mistake_two_argument_shebang,
        "No module named  wsgicgi myapp:app",
        "two-argument shebang",
    ),
    "env_without_s": (_mistake_env_without_s, "No such file or directory", "without -S, env gets"),
    "crlf": (
        _mistake_crlf,
        "No such file or directory: exec failed",
        "ends in CR (Windows line endings)",
    ),
    "bom": (_mistake_bom, "Exec format error: exec failed", "byte order mark (BOM)"),
    "missing_interpreter": (
        _mistake_missing_interpreter,
        "No such file or directory",
        "/bin/pyhton does not exist",
    ),
    "app_import_error": (
        _mistake_app_import_error,
        "flask_is_not_installed_here",
        "does not load through",
    ),
    "app_raises": (_mistake_app_raises, "marker-51c", "answers 500 Internal Server Error"),
    "symlinked_script": (_mistake_symlinked_script, "cannot stat program", "is a symlink"),
    "folder_outside_public_html": (
        _mistake_folder_outside_public_html,
        "command not in docroot",
        "is neither in a ~/public_html",
    ),
}
# What the check says beyond the cause: the fix, on the same line.
FIXES = {
    "group_writable_script": "chmod go-w",
    "group_writable_folder": "chmod go-w",
    "not_executable": "chmod 755",
    "owned_by_root": "chown %(user)s:%(user)s",
    "system_python": "-m wsgicgi myapp:app (the interpreter that has wsgicgi)",
    "setenv_pythonpath": "never reaches the script",
    "two_argument_shebang": "#!/usr/bin/env -S %(home)s/venv/bin/python -m wsgicgi myapp:app",
    "env_without_s": "#!/usr/bin/env -S %(home)s/venv/bin/python -m wsgicgi myapp:app",
    "crlf": "sed -i 's/\\r$//'",
    "bom": "save it without BOM",
    "missing_interpreter": "name an existing interpreter",
    "app_import_error": "install flask_is_not_installed_here",
    "app_raises": "marker-51c",
    "symlinked_script": "cp --remove-destination",
    "folder_outside_public_html": "move the script",
}


@pytest.fixture(scope="module")
def mistakes(account):
    made = {}
    for name, (make, _, _) in MISTAKES.items():
        path = home(account, "public_html", "m_" + name)
        if name != "folder_outside_public_html":
            folder(account, "m_" + name)
            put(account, os.path.join(path, "myapp.py"), APP)
        make(account, path)
        made[name] = path
    return made


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_mistake_gives_apache_500(httpd, account, mistakes, name):
    offset = suexec_log_size()
    status, _headers, body = request(httpd, "GET", "/~%s/m_%s/app.cgi/" % (account.pw_name, name))
    assert status == 500, (status, body[:500])
    assert b"x-suexec-probe" not in body
    needle = MISTAKES[name][1]
    logs = wait_for(lambda: suexec_log_since(offset) + httpd.error_log(), needle)
    assert needle in logs, logs[-3000:]


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_mistake_named_by_check(account, mistakes, name):
    code, out = check(account, os.path.join(mistakes[name], "app.cgi"))
    assert code == 1, out
    fail_lines = [line for line in out.splitlines() if line.strip().startswith("FAIL")]
    cause = MISTAKES[name][2]
    # The cause, alone: no other problem reported beside it.
    assert len(fail_lines) == 1, out
    matching = [line for line in fail_lines if cause in line]
    assert matching, out
    fix = FIXES[name] % {"user": account.pw_name, "home": account.pw_dir}
    assert any(fix in line for line in matching) or fix in out, out
    assert "would NOT serve: 1 problem" in out


def test_check_shows_the_import_traceback(account, mistakes):
    code, out = check(account, os.path.join(mistakes["app_import_error"], "app.cgi"))
    assert code == 1
    assert "Traceback (most recent call last)" in out
    assert "ModuleNotFoundError: No module named 'flask_is_not_installed_here'" in out


def test_home_not_enterable_gives_403_and_check_says_why(httpd, account, good):
    os.chmod(account.pw_dir, 0o700)
    try:
        status, _, _ = request(httpd, "GET", "/~%s/good/app.cgi/" % account.pw_name)
        assert status == 403
        assert "search permissions are missing" in wait_for(
            httpd.error_log, "search permissions are missing"
        )
        code, out = check(account, os.path.join(good, "app.cgi"))
        assert code == 1
        assert "cannot enter %s (mode 700)" % account.pw_dir in out and "chmod o+x" in out, out
    finally:
        os.chmod(account.pw_dir, 0o711)
