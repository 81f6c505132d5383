"""``wsgicgi check SCRIPT...``: what will happen when the web server runs a script.

A shared host answers most deployment mistakes with a bare "500 Internal
Server Error" and keeps the reason in a log the user cannot read (suEXEC's
own log, or Apache's error log).  This command looks at the script the way
the kernel, suEXEC and Apache will, then runs it: the interpreter its shebang
names, the APP through that interpreter, a GET through the real script with
an environment like suEXEC's, and for ``.fcgi`` scripts one FastCGI request
over a socket.  One line per problem, saying what is wrong and how to fix it;
the exit status is 0 only when every script would serve.

Imported only by ``wsgicgi check``: nothing here is on the gateway's path.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import IO, Any, TextIO

    # What a script's run came to: (exit status, stdout, stderr, why it failed).
    RunResult = tuple["int | None", bytes, bytes, "str | None"]
    # (what is wrong, how to fix it)
    Finding = tuple[str, str]

__all__ = ["Shebang", "SuexecConfig", "check_script", "main", "parse_shebang"]

# Where distributions put the suEXEC wrapper.
SUEXEC_BINARIES = (
    "/usr/lib/apache2/suexec",
    "/usr/sbin/suexec",
    "/usr/lib/httpd/suexec",
    "/usr/local/apache2/bin/suexec",
)
MIN_PYTHON = (3, 9)
# Kernels before 5.1 read 128 bytes of a shebang, newer ones 256.
SHEBANG_MAX = 255
SHEBANG_OLD_MAX = 127
BOM = b"\xef\xbb\xbf"

USAGE = """\
usage: wsgicgi check [--suexec | --no-suexec] [--path-info PATH] [--timeout SECONDS] SCRIPT...

What the web server will make of each CGI (or .fcgi) script: its shebang, its
permissions as suEXEC enforces them, the interpreter (can it import wsgicgi?),
the APP, and a GET through the real script.  One line per problem with its
fix; exit status 0 only when every script would serve.

  --suexec       apply suEXEC's rules (default: when a suEXEC wrapper is
                 installed on this machine)
  --no-suexec    the server runs scripts as its own user (www-data)
  --path-info P  the PATH_INFO of the test GET (default: none)
  --timeout S    seconds the script may take to answer (default: 30)
"""


class SuexecConfig:
    """suEXEC's compiled-in settings (``suexec -V``); Debian's pristine
    build's values when the wrapper cannot be asked (only root and the
    server's user may run it)."""

    def __init__(
        self,
        binary: str | None = None,
        docroot: str = "/var/www",
        userdir: str = "public_html",
        uid_min: int = 100,
        gid_min: int = 100,
        safe_path: str = "/usr/local/bin:/usr/bin:/bin",
        httpd_user: str = "www-data",
        log: str | None = None,
        known: bool = False,
    ) -> None:
        self.binary = binary
        self.docroot = docroot
        self.userdir = userdir
        self.uid_min = uid_min
        self.gid_min = gid_min
        self.safe_path = safe_path
        self.httpd_user = httpd_user
        self.log = log
        self.known = known  # read from the wrapper itself

    @classmethod
    def detect(cls) -> SuexecConfig:
        for path in SUEXEC_BINARIES:
            if os.path.exists(path):
                return cls.from_binary(path)
        return cls()

    @classmethod
    def from_binary(cls, path: str) -> SuexecConfig:
        config = cls(binary=path)
        if not os.access(path, os.X_OK):
            return config
        try:
            out = subprocess.run(
                [path, "-V"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=10,
            ).stdout.decode("latin-1")
        except (OSError, subprocess.SubprocessError):
            return config
        config.apply_v_output(out)
        return config

    def apply_v_output(self, out: str) -> None:
        """Read ``suexec -V``'s `` -D NAME="value"`` lines."""
        values: dict[str, str] = {}
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("-D "):
                name, _, value = line[3:].partition("=")
                values[name.strip()] = value.strip().strip('"')
        setters: dict[str, tuple[str, type[Any]]] = {
            "AP_DOC_ROOT": ("docroot", str),
            "AP_USERDIR_SUFFIX": ("userdir", str),
            "AP_UID_MIN": ("uid_min", int),
            "AP_GID_MIN": ("gid_min", int),
            "AP_SAFE_PATH": ("safe_path", str),
            "AP_HTTPD_USER": ("httpd_user", str),
            "AP_LOG_EXEC": ("log", str),
        }
        for key, (attr, kind) in setters.items():
            if key in values:
                try:
                    setattr(self, attr, kind(values[key]))
                    self.known = True
                except ValueError:
                    pass


# -- the report ----------------------------------------------------------------


class Report:
    """Lines for one script; ``problems`` counts the FAIL lines."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.problems = 0
        self.warnings = 0

    def _line(self, tag: str, text: str) -> None:
        self.out.write("  %-5s %s\n" % (tag, text))
        self.out.flush()

    def ok(self, text: str) -> None:
        self._line("ok", text)

    def info(self, text: str) -> None:
        self._line("info", text)

    def warn(self, what: str, fix: str | None = None) -> None:
        self.warnings += 1
        self._line("warn", what + ("; fix: " + fix if fix else ""))

    def fail(self, what: str, fix: str) -> None:
        self.problems += 1
        self._line("FAIL", "%s; fix: %s" % (what, fix))

    def detail(self, text: str, limit: int = 40) -> None:
        lines = text.rstrip("\n").splitlines()
        if len(lines) > limit:
            lines = ["[...]", *lines[-limit:]]
        for line in lines:
            self.out.write("        | %s\n" % line)
        self.out.flush()


# -- the shebang ----------------------------------------------------------------


class Shebang:
    """What the kernel (and ``env``) make of line 1.

    ``error``: (what, fix) when the kernel cannot run the file as meant.
    ``interpreter``: the program the kernel executes; ``program`` and
    ``args``: what finally runs after ``env`` (``program`` unresolved).
    """

    def __init__(self) -> None:
        self.line = ""
        self.interpreter: str | None = None
        self.kernel_arg: str | None = None
        self.uses_env = False
        self.env_split = False
        self.program: str | None = None
        self.args: list[str] = []
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []
        self.has_cr = False


def parse_shebang(data: bytes, path: str = "SCRIPT") -> Shebang:
    """Parse the first bytes of a script the way Linux's binfmt_script and
    coreutils ``env`` do; return a ``Shebang`` with any errors found."""
    sb = Shebang()
    q = shlex.quote(path)
    if data.startswith(BOM):
        sb.errors.append(
            (
                "the file starts with a UTF-8 byte order mark (BOM), so the kernel does not see '#!' "
                "(Apache logs 'Exec format error' and answers a bare 500)",
                "save it without BOM: sed -i '1s/^\\xEF\\xBB\\xBF//' %s" % q,
            )
        )
        data = data[len(BOM) :]
    if not data.startswith(b"#!"):
        sb.errors.append(
            (
                "line 1 is not a shebang ('#!'): the kernel cannot run the file",
                "make line 1 '#!/usr/bin/env -S /path/to/python -m wsgicgi myapp:app'",
            )
        )
        return sb
    raw = data[2:].split(b"\n", 1)[0]
    sb.line = "#!" + raw.decode("utf-8", "replace")
    if len(raw) + 2 > SHEBANG_MAX:
        sb.errors.append(
            (
                "the shebang line is %d bytes long; the kernel reads only %d"
                % (len(raw) + 2, SHEBANG_MAX + 1),
                "shorten it (a shorter venv path, or a symlink to the interpreter)",
            )
        )
    elif len(raw) + 2 > SHEBANG_OLD_MAX:
        sb.warnings.append(
            (
                "the shebang line is %d bytes long; kernels before Linux 5.1 cut it at 127"
                % (len(raw) + 2),
                "shorten it if the host runs an old kernel",
            )
        )
    text = raw.decode("utf-8", "surrogateescape")
    sb.has_cr = "\r" in text
    # binfmt_script: the interpreter up to the first blank, the rest (blanks
    # stripped at both ends) as ONE optional argument.  CR is not a blank.
    stripped = text.strip(" \t")
    if not stripped:
        sb.errors.append(("the shebang names no interpreter", "write the interpreter after '#!'"))
        return sb
    cut = len(stripped)
    for blank in (" ", "\t"):
        i = stripped.find(blank)
        if i != -1:
            cut = min(cut, i)
    sb.interpreter = stripped[:cut]
    rest = stripped[cut:].strip(" \t")
    sb.kernel_arg = rest or None
    if sb.has_cr and "\r" in sb.interpreter:
        sb.errors.append(
            (
                "the shebang ends in CR (Windows line endings): the kernel looks for the interpreter %r, "
                "which does not exist (a bare 500)" % sb.interpreter,
                "convert the line endings: sed -i 's/\\r$//' %s (or dos2unix)" % q,
            )
        )
        return sb
    if os.path.basename(sb.interpreter) == "env":
        sb.uses_env = True
        _parse_env(sb, rest, path)
    else:
        sb.program = sb.interpreter
        sb.args = [rest] if rest else []
        if rest and any(c in rest for c in " \t") and _looks_like_python(sb.program):
            sb.errors.append(
                (
                    "two-argument shebang: the kernel passes %r to %s as ONE argument, so Python looks for a "
                    "module named %r (a bare 500)"
                    % (rest, sb.program, rest[2:] if rest.startswith("-m") else rest),
                    "#!/usr/bin/env -S %s %s" % (sb.program, rest),
                )
            )
        elif sb.has_cr:
            sb.errors.append(
                (
                    "the shebang ends in CR (Windows line endings): %s receives %r with the CR"
                    % (sb.program, rest),
                    "convert the line endings: sed -i 's/\\r$//' %s (or dos2unix)" % q,
                )
            )
    return sb


def _parse_env(sb: Shebang, rest: str, path: str) -> None:
    if not rest:
        sb.errors.append(
            (
                "'#!%s' names no program for env to run" % sb.interpreter,
                "#!/usr/bin/env -S /path/to/python -m wsgicgi myapp:app",
            )
        )
        return
    if rest.startswith(("-S", "--split-string")):
        sb.env_split = True
        body = (
            rest[2:]
            if rest.startswith("-S")
            else rest.partition("=")[2] or rest[len("--split-string") :]
        )
        body = body.replace("\r", " ")
        try:
            words = shlex.split(body)
        except ValueError as exc:
            sb.errors.append(
                ("env -S cannot split %r: %s" % (body, exc), "remove the unbalanced quote")
            )
            return
        if not words:
            sb.errors.append(
                (
                    "'env -S' names no program",
                    "#!/usr/bin/env -S /path/to/python -m wsgicgi myapp:app",
                )
            )
            return
        sb.program, sb.args = words[0], words[1:]
        if sb.has_cr:
            sb.warnings.append(
                (
                    "the shebang ends in CR (Windows line endings); coreutils' env -S treats it as a blank, "
                    "other tools do not",
                    "convert the line endings: sed -i 's/\\r$//' %s" % shlex.quote(path),
                )
            )
        return
    if any(c in rest for c in " \t") or rest.startswith("-"):
        sb.errors.append(
            (
                "'#!%s %s': without -S, env gets %r as ONE program name and finds no such program (a bare 500)"
                % (sb.interpreter, rest, rest),
                "#!%s -S %s" % (sb.interpreter, rest),
            )
        )
        sb.program = rest.split()[0] if rest.split() else None
        return
    if "\r" in rest:
        sb.errors.append(
            (
                "the shebang ends in CR (Windows line endings): env looks for a program named %r"
                % rest,
                "convert the line endings: sed -i 's/\\r$//' %s (or dos2unix)" % shlex.quote(path),
            )
        )
        return
    sb.program = rest


def _looks_like_python(program: str) -> bool:
    name = os.path.basename(program)
    return name.startswith(("python", "pypy"))


def app_spec_of(sb: Shebang) -> tuple[list[str], str | None]:
    """(python_args_before_-m, app_spec) for ``python -m wsgicgi APP``; app_spec
    is None for other forms, "" when -m wsgicgi has no APP."""
    args = sb.args
    for i, word in enumerate(args):
        if word == "-m" and i + 1 < len(args):
            if args[i + 1] == "wsgicgi":
                rest = args[i + 2 :]
                return args[:i], (rest[0] if rest else "")
            return args[:i], None
        if word.startswith("-m") and len(word) > 2:
            return args[:i], (args[i + 1] if word == "-mwsgicgi" and i + 1 < len(args) else None)
    return args, None


def which(program: str, path: str) -> str | None:
    """``program`` looked up on ``path`` (a PATH string), as execvp does."""
    if "/" in program:
        return program
    for folder in path.split(os.pathsep):
        candidate = os.path.join(folder or ".", program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


# -- who runs the script ------------------------------------------------------


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def userdir_owner(real_dir: str, suffix: str) -> tuple[pwd.struct_passwd, str] | tuple[None, None]:
    """(pwd entry, public_html path) when ``real_dir`` lies in a user's
    ``~/SUFFIX``, else (None, None)."""
    parts = real_dir.rstrip("/").split("/")
    for i in range(len(parts) - 1, 0, -1):
        if parts[i] == suffix:
            home = "/".join(parts[:i]) or "/"
            for entry in _passwd_by_home(home):
                return entry, "/".join(parts[: i + 1])
    return None, None


def _passwd_by_home(home: str) -> list[pwd.struct_passwd]:
    real_home = os.path.realpath(home)
    found: list[pwd.struct_passwd] = []
    try:
        entries = pwd.getpwall()
    except Exception:
        entries = []
    for entry in entries:
        if entry.pw_dir and os.path.realpath(entry.pw_dir) == real_home:
            found.append(entry)
    if not found:
        try:
            st = os.stat(home)
            found.append(pwd.getpwuid(st.st_uid))
        except (OSError, KeyError):
            pass
    return found


def _inside(path: str, folder: str) -> bool:
    folder = folder.rstrip("/") or "/"
    return path == folder or path.startswith(folder + "/")


def _mode(st: os.stat_result) -> str:
    return "%03o" % stat.S_IMODE(st.st_mode)


def _writers(mode: int) -> str:
    who = []
    if mode & stat.S_IWGRP:
        who.append("its group")
    if mode & stat.S_IWOTH:
        who.append("others")
    return " and ".join(who)


class Runner:
    """Runs the interpreter and the script as the server would: the script's
    owner under suEXEC (when this is root), in the script's folder, with
    suEXEC's safe PATH and nothing else from this shell's environment."""

    def __init__(
        self, script: str, config: SuexecConfig, suexec: bool, timeout: float, drop: bool = True
    ) -> None:
        self.script = script
        self.folder = os.path.dirname(script)
        self.config = config
        self.suexec = suexec
        self.timeout = timeout
        self.kwargs: dict[str, Any] = {}  # user, group, extra_groups for subprocess
        if drop and os.geteuid() == 0:
            st = os.stat(script)
            if suexec:
                uid, gid = st.st_uid, st.st_gid
            else:
                try:
                    entry = pwd.getpwnam(config.httpd_user)
                    uid, gid = entry.pw_uid, entry.pw_gid
                except KeyError:
                    uid = gid = 65534
            if uid != 0:
                self.kwargs = {"user": uid, "group": gid, "extra_groups": []}

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {"PATH": self.config.safe_path}
        if not self.suexec:
            # Not the server's user: leave __pycache__ as the server finds it.
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(extra or {})
        return env

    def run(
        self, argv: Sequence[str], extra_env: dict[str, str] | None = None, stdin: int | None = None
    ) -> RunResult:
        try:
            proc = subprocess.run(
                argv,
                cwd=self.folder,
                env=self.env(extra_env),
                stdin=subprocess.DEVNULL if stdin is None else stdin,
                capture_output=True,
                timeout=self.timeout,
                **self.kwargs,
            )
        except subprocess.TimeoutExpired as exc:
            return None, exc.stdout or b"", exc.stderr or b"", "no answer within %gs" % self.timeout
        except OSError as exc:
            return None, b"", b"", "%s: %s" % (argv[0], exc.strerror or exc)
        return proc.returncode, proc.stdout, proc.stderr, None

    def popen(
        self, argv: Sequence[str], extra_env: dict[str, str], stdin: int, stderr: IO[bytes]
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            argv,
            cwd=self.folder,
            env=self.env(extra_env),
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
            **self.kwargs,
        )


# What the interpreter reports about itself, as the script will run it.
PROBE = r"""
import json, sys
info = {"version": list(sys.version_info[:3]), "executable": sys.executable,
        "cache_tag": sys.implementation.cache_tag, "dont_write_bytecode": sys.dont_write_bytecode}
try:
    import wsgicgi
    info["wsgicgi"] = wsgicgi.__file__
    info["wsgicgi_version"] = getattr(wsgicgi, "__version__", "?")
except BaseException as exc:
    info["import_error"] = "%s: %s" % (type(exc).__name__, exc)
sys.stdout.write(json.dumps(info))
"""

# The APP loaded the way ``wsgicgi APP SCRIPT`` loads it: the script's folder
# first on sys.path, the app's own prints kept off the report's data.
LOAD = r"""
import json, os, sys, traceback
spec, script = sys.argv[1], sys.argv[2]
folder = os.path.dirname(os.path.abspath(script))
if sys.path[:1] != [folder]:
    sys.path.insert(0, folder)
out = sys.stdout
sys.stdout = sys.stderr
try:
    from wsgicgi.loader import load_app
    app = load_app(spec)
    result = {"ok": True, "app": repr(app)[:200]}
except BaseException as exc:
    result = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc), "traceback": traceback.format_exc(),
              "missing": getattr(exc, "name", None) if isinstance(exc, ImportError) else None}
out.write("\n@@wsgicgi-check@@" + json.dumps(result))
out.flush()
"""


# -- one script ----------------------------------------------------------------


def check_script(
    path: str,
    *,
    out: TextIO | None = None,
    suexec: bool | None = None,
    config: SuexecConfig | None = None,
    path_info: str = "",
    timeout: float = 30.0,
    drop_privileges: bool = True,
) -> int:
    """Check one script; write the report to ``out``; return the number of
    problems (0: the script would serve).

    ``suexec``: apply suEXEC's rules (None: when a wrapper is installed).
    Run as root, the interpreter and the script run as the user the server
    would run them as (the owner under suEXEC, else the server's user),
    unless ``drop_privileges`` is false."""
    out = out or sys.stdout
    config = config or SuexecConfig.detect()
    if suexec is None:
        suexec = config.binary is not None
    script = os.path.abspath(path)
    out.write("%s\n" % script)
    report = Report(out)
    try:
        _check(report, script, config, suexec, path_info, timeout, drop_privileges)
    except Exception as exc:  # a bug here must not hide the other scripts' reports
        import traceback

        report.fail(
            "wsgicgi check itself failed: %s: %s" % (type(exc).__name__, exc),
            "report this as a bug in wsgicgi",
        )
        report.detail(traceback.format_exc())
    if report.problems:
        out.write(
            "%s would NOT serve: %d problem%s\n"
            % (script, report.problems, "" if report.problems == 1 else "s")
        )
    else:
        out.write(
            "%s would serve%s\n"
            % (
                script,
                " (%d warning%s)" % (report.warnings, "" if report.warnings == 1 else "s")
                if report.warnings
                else "",
            )
        )
    out.flush()
    return report.problems


def _check(
    report: Report,
    script: str,
    config: SuexecConfig,
    suexec: bool,
    path_info: str,
    timeout: float,
    drop_privileges: bool,
) -> None:
    q = shlex.quote(script)
    try:
        lst = os.lstat(script)
    except OSError as exc:
        report.fail(
            "cannot look at %s: %s" % (script, exc.strerror),
            "check the path (run `wsgicgi check` with the script's full path)",
        )
        return
    folder = os.path.dirname(script)
    # suEXEC runs the script in its folder as getcwd() names it: a symlinked
    # folder counts where it really is, a symlinked file where the link is.
    real_folder = os.path.realpath(folder)
    real = os.path.join(real_folder, os.path.basename(script))
    if suexec:
        how = (
            "from %s -V" % config.binary
            if config.known
            else "Debian's defaults: only root may ask the wrapper"
        )
        report.info(
            "suEXEC is installed (%s): scripts in ~/%s run as their owner, so the lines marked 'suEXEC' "
            "apply (uid/gid >= %d/%d, docroot %s, PATH %s; %s). A CGI script that runs `id` tells for sure: "
            "your own user under suEXEC, %s without"
            % (
                config.binary or "--suexec",
                config.userdir,
                config.uid_min,
                config.gid_min,
                config.docroot,
                config.safe_path,
                how,
                config.httpd_user,
            )
        )
    else:
        report.info(
            "no suEXEC here: scripts run as the server's user (%s); `wsgicgi check --suexec` checks its rules"
            % config.httpd_user
        )
    if stat.S_ISLNK(lst.st_mode):
        target = os.path.realpath(script)
        if suexec:
            report.fail(
                'suEXEC: %s is a symlink (to %s): suEXEC runs no symlink ("cannot stat program"), '
                "wherever it points" % (script, target),
                "put the file itself there: cp --remove-destination %s %s"
                % (shlex.quote(target), q),
            )
        elif not _inside(target, os.path.realpath(folder)):
            report.warn(
                "%s is a symlink out of its folder (to %s): Apache follows it only with "
                "Options FollowSymLinks (or SymLinksIfOwnerMatch and the same owner)"
                % (script, target),
                "cp --remove-destination %s %s" % (shlex.quote(target), q),
            )
    try:
        st = os.stat(script)
    except OSError as exc:
        report.fail(
            "%s: %s" % (script, exc.strerror), "point the symlink at an existing file, or remove it"
        )
        return
    if not stat.S_ISREG(st.st_mode):
        report.fail("%s is not a regular file" % script, "give the path of the script file")
        return
    try:
        dst = os.stat(real_folder)
    except OSError as exc:
        report.fail(
            "cannot look at the folder %s: %s" % (real_folder, exc.strerror),
            "check its permissions",
        )
        return

    executable = _check_exec_bit(report, script, st, suexec)
    _check_traversal(report, script, suexec, config)
    _check_permissions(report, script, real, real_folder, st, dst, suexec, config)

    try:
        with open(script, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        report.fail("cannot read %s: %s" % (script, exc.strerror), "chmod u+r %s" % q)
        return
    sb = parse_shebang(head, script)
    runner = Runner(script, config, suexec, timeout, drop_privileges)
    before = report.problems
    python, spec = _check_shebang(report, script, sb, runner, config, suexec)
    info: dict[str, Any] | None = None
    if python:
        info = _check_interpreter(report, script, python, runner, spec)
    if info:
        # Before anything imports the app, which writes __pycache__.
        _check_bytecode(report, script, info, st, dst, suexec, config)
    if info and spec and python:  # python: always set when info is
        _check_app(report, script, python, spec, runner)
    if not executable:
        report.info("the test GET is skipped: the script is not executable")
        return
    if report.problems > before:
        report.info(
            "the test GET is skipped: the shebang, the interpreter or the APP fails (above)"
        )
        return
    url = _script_url(real, config)
    if script.endswith(".fcgi"):
        _fastcgi_request(report, script, runner, url, path_info, config)
    else:
        _cgi_request(report, script, runner, url, path_info, config)


def _check_exec_bit(report: Report, script: str, st: os.stat_result, suexec: bool) -> bool:
    q = shlex.quote(script)
    mode = stat.S_IMODE(st.st_mode)
    if not mode & stat.S_IXUSR:
        report.fail(
            "%s is not executable (mode %s): %s"
            % (
                script,
                _mode(st),
                'suEXEC refuses it ("file has no execute permission"), a bare 500'
                if suexec
                else "Apache cannot run it (a 500)",
            ),
            "chmod 755 %s" % q,
        )
        return False
    if not suexec and not mode & stat.S_IXOTH:
        report.fail(
            "%s is not executable by others (mode %s): the server's user cannot run it"
            % (script, _mode(st)),
            "chmod 755 %s" % q,
        )
        return False
    if mode & (stat.S_ISUID | stat.S_ISGID):
        report.fail(
            "%s is setuid or setgid (mode %04o)%s"
            % (
                script,
                mode,
                ': suEXEC refuses it ("file is either setuid or setgid")' if suexec else "",
            ),
            "chmod ug-s %s" % q,
        )
    return True


def _check_traversal(report: Report, script: str, suexec: bool, config: SuexecConfig) -> None:
    """The server's user must reach the file (Apache stats it before it
    starts suEXEC): every folder on the way needs the x bit for others."""
    path = os.path.dirname(os.path.realpath(script))
    folders: list[str] = []
    while True:
        folders.append(path)
        if path == "/":
            break
        path = os.path.dirname(path)
    for folder in reversed(folders):
        try:
            st = os.stat(folder)
        except OSError:
            continue
        if not st.st_mode & stat.S_IXOTH:
            report.fail(
                "the server's user (%s) cannot enter %s (mode %s): Apache answers 403 Forbidden"
                % (config.httpd_user, folder, _mode(st)),
                "chmod o+x %s" % shlex.quote(folder),
            )
            return
    if not suexec:
        st = os.stat(script)
        if not st.st_mode & stat.S_IROTH:
            report.fail(
                "the server's user (%s) cannot read %s (mode %s)"
                % (config.httpd_user, script, _mode(st)),
                "chmod o+r %s" % shlex.quote(script),
            )


def _check_permissions(
    report: Report,
    script: str,
    real: str,
    real_folder: str,
    st: os.stat_result,
    dst: os.stat_result,
    suexec: bool,
    config: SuexecConfig,
) -> None:
    """suEXEC's rules, in the order it applies them (Apache's suexec.c)."""
    q = shlex.quote(script)
    qf = shlex.quote(real_folder)
    if not suexec:
        # Only what is unsafe anyway; the rest is suEXEC's business.
        label = "under suEXEC (not used here): "
        if dst.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            report.warn(
                label
                + "the folder %s is writable by %s (mode %s): suEXEC would refuse its scripts"
                % (real_folder, _writers(dst.st_mode), _mode(dst)),
                "chmod go-w %s" % qf,
            )
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            report.warn(
                label
                + "%s is writable by %s (mode %s): suEXEC would refuse it"
                % (script, _writers(st.st_mode), _mode(st)),
                "chmod go-w %s" % q,
            )
        return
    label = "suEXEC: "
    flag = report.fail
    owner, public_html = userdir_owner(real_folder, config.userdir)
    real_docroot = os.path.realpath(config.docroot)
    where_ok = public_html is not None or _inside(real_folder, real_docroot)
    if not where_ok:
        flag(
            label
            + "%s is neither in a ~/%s nor under suEXEC's document root %s: suEXEC refuses it "
            '("command not in docroot"; a symlinked folder counts where it really is)'
            % (real_folder, config.userdir, config.docroot),
            "move the script and its app into ~/%s (the real folder, not a symlink to it)"
            % config.userdir,
        )
    if owner is not None:
        uid, gid = owner.pw_uid, owner.pw_gid
        who = "%s:%s" % (owner.pw_name, _group_name(gid))
    else:
        uid, gid = dst.st_uid, dst.st_gid
        who = "%s:%s" % (_user_name(uid), _group_name(gid))
    if uid == 0 or uid < config.uid_min:
        flag(
            label
            + "the script would run as %s (uid %d): suEXEC never runs scripts as root or as a uid below %d "
            '("cannot run as forbidden uid")' % (_user_name(uid), uid, config.uid_min),
            "keep the site in a normal account's ~/%s, owned by that account" % config.userdir,
        )
    elif gid == 0 or gid < config.gid_min:
        flag(
            label + "the script would run with group %s (gid %d): suEXEC refuses gids below %d "
            '("cannot run as forbidden gid")' % (_group_name(gid), gid, config.gid_min),
            "give the account a primary group with gid >= %d (usermod -g)" % config.gid_min,
        )
    if dst.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        flag(
            label + "the folder %s is writable by %s (mode %s): suEXEC refuses every script in it "
            '("directory is writable by others")'
            % (real_folder, _writers(dst.st_mode), _mode(dst)),
            "chmod go-w %s" % qf,
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        flag(
            label
            + '%s is writable by %s (mode %s): suEXEC refuses it ("file is writable by others")'
            % (script, _writers(st.st_mode), _mode(st)),
            "chmod go-w %s" % q,
        )
    if (st.st_uid, st.st_gid) != (uid, gid) or (dst.st_uid, dst.st_gid) != (uid, gid):
        flag(
            label
            + "owners differ: the script runs as %s, the folder is %s:%s and the script %s:%s; suEXEC "
            'wants all three the same ("target uid/gid mismatch")'
            % (
                who,
                _user_name(dst.st_uid),
                _group_name(dst.st_gid),
                _user_name(st.st_uid),
                _group_name(st.st_gid),
            ),
            "chown %s %s %s (as root, or ask the host)" % (who, qf, q),
        )


def _check_shebang(
    report: Report,
    script: str,
    sb: Shebang,
    runner: Runner,
    config: SuexecConfig,
    suexec: bool,
) -> tuple[list[str], str | None] | tuple[None, None]:
    """Report the shebang; return (python argv prefix or None, app spec or None)."""
    for what, fix in sb.errors:
        report.fail(what, fix)
    for what, fix in sb.warnings:
        report.warn(what, fix)
    if sb.interpreter is None or (sb.errors and sb.program is None):
        return None, None
    if "\r" in sb.interpreter:
        return None, None
    if not os.path.isabs(sb.interpreter):
        report.fail(
            "the interpreter %r is not an absolute path: the kernel does not search PATH"
            % sb.interpreter,
            "#!/usr/bin/env -S %s %s" % (sb.interpreter, " ".join(sb.args))
            if sb.args
            else "#!/usr/bin/env %s" % sb.interpreter,
        )
        return None, None
    if not (os.path.isfile(sb.interpreter) and os.access(sb.interpreter, os.X_OK)):
        report.fail(
            "the interpreter %s does not exist or is not executable (a bare 500)" % sb.interpreter,
            "name an existing one: `command -v env python3` shows their paths",
        )
        return None, None
    if sb.uses_env and sb.env_split and not _env_splits(sb.interpreter):
        report.fail(
            "%s does not understand -S (coreutils before 8.30, or busybox): the whole line is one program name"
            % sb.interpreter,
            "use the two-line form: #!/path/to/python, then 'from wsgicgi import run' ...",
        )
        return None, None
    if sb.errors or not sb.program:
        return None, None
    program = sb.program
    if not os.path.isabs(program):
        found = which(program, config.safe_path)
        mine = shutil.which(program)
        if found is None:
            report.fail(
                "%s is not on %s PATH (%s): env finds no such program (a bare 500)"
                % (program, "suEXEC's" if suexec else "the server's", config.safe_path),
                "name the interpreter by its full path: #!/usr/bin/env -S %s %s"
                % (mine or "/path/to/" + program, " ".join(shlex.quote(a) for a in sb.args)),
            )
            return None, None
        note = ""
        if mine and os.path.realpath(mine) != os.path.realpath(found):
            note = " (your shell finds %s instead: the server does not use your PATH)" % mine
        report.info(
            "%s is %s on %s PATH%s"
            % (program, found, "suEXEC's" if suexec else "the server's", note)
        )
        program = found
    elif not (os.path.isfile(program) and os.access(program, os.X_OK)):
        report.fail(
            "the interpreter %s does not exist or is not executable (a bare 500)" % program,
            "name an existing interpreter, e.g. your venv's: #!/usr/bin/env -S ~/venv/bin/python -m wsgicgi APP "
            "(with ~ written out)",
        )
        return None, None
    pre, spec = app_spec_of(sb)
    if os.path.basename(program) == "wsgicgi":
        # The console script as interpreter: its own shebang names the Python.
        spec = sb.args[0] if sb.args else ""
        try:
            with open(program, "rb") as f:
                inner = parse_shebang(f.read(512), program)
            python = inner.program if inner.program and os.path.isabs(inner.program) else None
        except OSError:
            python = None
        if python is None:
            report.warn("cannot tell which Python runs %s" % program)
            return None, None
        pre = []
        program = python
    if spec == "":
        report.fail(
            "'-m wsgicgi' without an APP: the gateway prints its usage instead of a response",
            "name the app: ... -m wsgicgi myapp:app",
        )
        return None, None
    if not _looks_like_python(program):
        report.info(
            "%s does not look like Python: only the permissions and the test GET are checked"
            % program
        )
        return None, None
    report.ok("shebang: %s" % sb.line.rstrip("\r"))
    return [program] + [a for a in pre if a.startswith("-") and a not in ("-c",)], spec


_ENV_SPLITS: dict[str, bool] = {}


def _env_splits(env: str) -> bool:
    if env not in _ENV_SPLITS:
        try:
            done = subprocess.run(
                [env, "-S", "true"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=10,
            )
            _ENV_SPLITS[env] = done.returncode == 0
        except (OSError, subprocess.SubprocessError):
            _ENV_SPLITS[env] = False
    return _ENV_SPLITS[env]


def _htaccess_pythonpath(folder: str, stop: str) -> list[str]:
    """The .htaccess files from ``folder`` up to ``stop`` that SetEnv PYTHONPATH."""
    found: list[str] = []
    path = folder
    while True:
        candidate = os.path.join(path, ".htaccess")
        try:
            with open(candidate, encoding="utf-8", errors="replace") as f:
                for line in f:
                    words = line.split()
                    if (
                        len(words) >= 2
                        and words[0].lower() in ("setenv", "passenv")
                        and words[1] == "PYTHONPATH"
                    ):
                        found.append(candidate)
                        break
        except OSError:
            pass
        if path in ("/", stop) or not _inside(path, stop):
            break
        path = os.path.dirname(path)
    return found


def _check_interpreter(
    report: Report, script: str, python: list[str], runner: Runner, spec: str | None
) -> dict[str, Any] | None:
    """Run the interpreter as the server will; return its self-description."""
    code, out, err, problem = runner.run([*python, "-c", PROBE])
    if problem or code != 0:
        report.fail(
            "%s does not run: %s" % (python[0], problem or "exit status %s" % code),
            "name a working interpreter in the shebang",
        )
        if err:
            report.detail(err.decode("utf-8", "replace"))
        return None
    try:
        info: dict[str, Any] = json.loads(out.decode("utf-8", "replace"))
    except ValueError:
        report.fail(
            "%s answered something unexpected: %r" % (python[0], out[:200]),
            "name a working interpreter",
        )
        return None
    version = tuple(info["version"])
    vtext = ".".join(str(v) for v in version)
    if version[:2] < MIN_PYTHON:
        report.fail(
            "%s is Python %s; wsgicgi needs %d.%d or newer"
            % (python[0], vtext, MIN_PYTHON[0], MIN_PYTHON[1]),
            "make a venv from a newer Python (`python3.X -m venv ~/venv`) and name ~/venv/bin/python",
        )
        return None
    if "import_error" in info:
        home = os.path.expanduser("~")
        mine = sys.executable if os.geteuid() != 0 and _inside(sys.executable, home) else None
        hint = ""
        if runner.suexec:
            hint = (
                "suEXEC passes no PYTHONPATH, so only what is installed for that interpreter counts"
            )
            setenv = _htaccess_pythonpath(os.path.dirname(script), os.path.expanduser("~"))
            if setenv:
                hint += " (SetEnv PYTHONPATH in %s never reaches the script)" % ", ".join(setenv)
        else:
            hint = "PYTHONPATH is whatever the server passes"
        if mine:
            fix = "#!/usr/bin/env -S %s -m wsgicgi %s (the interpreter that has wsgicgi)" % (
                mine,
                spec or "myapp:app",
            )
        else:
            fix = (
                "install it in a venv of your own: %s -m venv ~/venv && ~/venv/bin/pip install wsgicgi, then "
                "#!/usr/bin/env -S /home/USER/venv/bin/python -m wsgicgi %s"
                % (python[0], spec or "myapp:app")
            )
        report.fail(
            "%s (Python %s) cannot import wsgicgi (%s); %s"
            % (python[0], vtext, info["import_error"], hint),
            fix,
        )
        return None
    report.ok(
        "%s: Python %s imports wsgicgi %s from %s"
        % (python[0], vtext, info.get("wsgicgi_version"), info["wsgicgi"])
    )
    return info


def _check_app(report: Report, script: str, python: list[str], spec: str, runner: Runner) -> bool:
    code, out, err, problem = runner.run([*python, "-c", LOAD, spec, script])
    marker = b"\n@@wsgicgi-check@@"
    if problem or marker not in out:
        report.fail(
            "loading %r through %s: %s" % (spec, python[0], problem or "exit status %s" % code),
            "run the script by hand to see why",
        )
        if err:
            report.detail(err.decode("utf-8", "replace"))
        return False
    result: dict[str, Any] = json.loads(out.rsplit(marker, 1)[1].decode("utf-8", "replace"))
    if result["ok"]:
        report.ok("APP %s loads: %s" % (spec, result["app"]))
        return True
    folder = os.path.dirname(script)
    module = spec.split(":", 1)[0]
    if result.get("missing") and result["missing"].split(".")[0] == module.split(".")[0]:
        fix = (
            "put %s.py (or the package %s/) beside the script in %s, or fix the name in the shebang"
            % (module.split(".")[0], module.split(".")[0], folder)
        )
    elif result.get("missing"):
        fix = "install %s for %s (`%s -m pip install ...`): the app needs it" % (
            result["missing"],
            python[0],
            python[0],
        )
    else:
        fix = "fix the error in the traceback below (the server's log shows it too, the client only a 500)"
    report.fail("APP %r does not load through %s: %s" % (spec, python[0], result["error"]), fix)
    report.detail(result["traceback"])
    return False


def _check_bytecode(
    report: Report,
    script: str,
    info: dict[str, Any],
    st: os.stat_result,
    dst: os.stat_result,
    suexec: bool,
    config: SuexecConfig,
) -> None:
    """Python writes __pycache__ where the running user may; otherwise every
    request compiles the app again."""
    folder = os.path.dirname(os.path.realpath(script))
    sources = [n for n in sorted(os.listdir(folder)) if n.endswith(".py")]
    if not sources:
        return
    cache = os.path.join(folder, "__pycache__")
    target = cache if os.path.isdir(cache) else folder
    try:
        tst = os.stat(target)
    except OSError:
        return
    if suexec:
        uid = st.st_uid
        gids = {st.st_gid}
        user = _user_name(uid)
    else:
        try:
            entry = pwd.getpwnam(config.httpd_user)
            uid, gids, user = entry.pw_uid, {entry.pw_gid}, entry.pw_name
        except KeyError:
            uid, gids, user = 65534, set(), config.httpd_user
    if tst.st_uid == uid:
        writable = tst.st_mode & stat.S_IWUSR and tst.st_mode & stat.S_IXUSR
    elif tst.st_gid in gids:
        writable = tst.st_mode & stat.S_IWGRP and tst.st_mode & stat.S_IXGRP
    else:
        writable = tst.st_mode & stat.S_IWOTH and tst.st_mode & stat.S_IXOTH
    if writable:
        report.ok("bytecode: %s can write %s, so Python caches the compiled app" % (user, target))
        return
    tag = info.get("cache_tag")
    stale: list[str] = []
    for name in sources:
        src = os.path.join(folder, name)
        pyc = os.path.join(cache, "%s.%s.pyc" % (name[:-3], tag))
        try:
            if os.stat(pyc).st_mtime < os.stat(src).st_mtime:
                stale.append(name)
        except OSError:
            stale.append(name)
    if stale:
        report.warn(
            "bytecode: %s cannot write %s and %s %s no up-to-date .pyc, so every request compiles %s again"
            % (
                user,
                target,
                ", ".join(stale),
                "has" if len(stale) == 1 else "have",
                "it" if len(stale) == 1 else "them",
            ),
            "%s -m compileall %s (after every change)"
            % (info.get("executable") or "python3", shlex.quote(folder)),
        )
    else:
        report.ok("bytecode: __pycache__ is compiled and up to date")


def _script_url(real: str, config: SuexecConfig) -> str:
    owner, public_html = userdir_owner(os.path.dirname(real), config.userdir)
    if owner is not None and public_html is not None:  # both or neither
        return "/~%s%s" % (owner.pw_name, real[len(public_html) :])
    docroot = os.path.realpath(config.docroot)
    if _inside(real, docroot):
        return real[len(docroot) :] or "/"
    return "/" + os.path.basename(real)


def _cgi_env(script: str, url: str, path_info: str, config: SuexecConfig) -> dict[str, str]:
    folder = os.path.dirname(script)
    env = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "Apache (wsgicgi check)",
        "SERVER_NAME": "localhost",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": "80",
        "REQUEST_SCHEME": "http",
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": url,
        "SCRIPT_FILENAME": script,
        "QUERY_STRING": "",
        "REQUEST_URI": url + path_info,
        "DOCUMENT_ROOT": folder,
        "CONTEXT_DOCUMENT_ROOT": folder,
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "localhost",
        "HTTP_USER_AGENT": "wsgicgi-check",
        "HTTP_ACCEPT": "*/*",
    }
    if path_info:
        env["PATH_INFO"] = path_info
    return env


def _split_response(data: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """(status, [(name, value)], body) of a CGI response, read by the
    adapter's own parser (``cgihead``); None when there is no complete,
    valid header block."""
    from .cgihead import CGIResponseError, parse_cgi_headers

    for sep in (b"\r\n\r\n", b"\n\n"):
        idx = data.find(sep)
        if idx != -1:
            head, body = data[:idx], data[idx + len(sep) :]
            break
    else:
        return None
    try:
        status, headers = parse_cgi_headers(head)
    except CGIResponseError:
        return None
    if status is None:
        status = "302 Found" if any(n.lower() == "location" for n, _ in headers) else "200 OK"
    return status, headers, body


def _report_response(
    report: Report, what: str, data: bytes, stderr: bytes, problem: str | None
) -> None:
    err = stderr.decode("utf-8", "replace")
    if problem:
        report.fail(
            "%s: %s (Apache: 'End of script output before headers', a bare 500)" % (what, problem),
            "see the script's own messages below" if err.strip() else "run the script by hand",
        )
        if err.strip():
            report.detail(err)
        return
    parsed = _split_response(data)
    if parsed is None:
        report.fail(
            "%s: no complete CGI header in the output (%d bytes): Apache answers a bare 500 "
            "('End of script output before headers')" % (what, len(data)),
            "see the script's own messages below"
            if err.strip()
            else "the script must print headers, a blank line, then the body",
        )
        if err.strip():
            report.detail(err)
        elif data:
            report.detail(repr(data[:300]))
        return
    status, headers, body = parsed
    shown = "; ".join("%s: %s" % h for h in headers[:6])
    if status[:1] == "5":
        reason = [line for line in err.splitlines() if line.strip()]
        report.fail(
            "%s answers %s%s" % (what, status, (": " + reason[-1].strip()) if reason else ""),
            "fix the error in the log below (the server's error log holds it too)",
        )
        if err.strip():
            report.detail(err)
        return
    report.ok("%s answers %s; %s; body %r" % (what, status, shown or "no headers", body[:80]))
    if err.strip():
        report.info("it also wrote to the error log:")
        report.detail(err, limit=10)


def _cgi_request(
    report: Report, script: str, runner: Runner, url: str, path_info: str, config: SuexecConfig
) -> None:
    env = _cgi_env(script, url, path_info, config)
    _code, out, err, problem = runner.run([script], extra_env=env)
    _report_response(
        report,
        "GET %s%s through the script (as the server runs it)" % (url, path_info),
        out,
        err,
        problem,
    )


def _fastcgi_request(
    report: Report, script: str, runner: Runner, url: str, path_info: str, config: SuexecConfig
) -> None:
    """Start the script the way mod_fcgid does (a listening unix socket as
    fd 0) and send it one FastCGI request."""
    from . import fcgi

    what = "GET %s%s over FastCGI (as mod_fcgid runs it)" % (url, path_info)
    tmp = tempfile.mkdtemp(prefix="wsgicgi-check-")
    address = os.path.join(tmp, "fcgi.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    errlog = tempfile.TemporaryFile()
    proc: subprocess.Popen[bytes] | None = None
    stdout = b""
    stderr = b""
    problem: str | None = None
    try:
        listener.bind(address)
        listener.listen(4)
        try:
            proc = runner.popen([script], {}, listener.fileno(), errlog)
        except OSError as exc:
            problem = "cannot start it: %s" % (exc.strerror or exc)
        if proc is not None:
            listener.close()
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.settimeout(runner.timeout)
            try:
                conn.connect(address)
                env = _cgi_env(script, url, path_info, config)
                pairs = fcgi.encode_pairs(
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in env.items()
                )
                conn.sendall(
                    fcgi.record(fcgi.BEGIN_REQUEST, 1, fcgi.BEGIN_BODY.pack(fcgi.RESPONDER, 0))
                    + fcgi.record(fcgi.PARAMS, 1, pairs)
                    + fcgi.record(fcgi.PARAMS, 1)
                    + fcgi.record(fcgi.STDIN, 1)
                )
                reader = fcgi.RecordReader(conn.recv)
                deadline = time.monotonic() + runner.timeout
                while True:
                    if time.monotonic() > deadline:
                        problem = "no END_REQUEST within %gs" % runner.timeout
                        break
                    rec = reader.read()
                    if rec is None:
                        problem = "the script closed the connection before it answered"
                        break
                    rtype, _, content = rec
                    if rtype == fcgi.STDOUT:
                        stdout += content
                    elif rtype == fcgi.STDERR:
                        stderr += content
                    elif rtype == fcgi.END_REQUEST:
                        break
            except socket.timeout:
                problem = "no answer within %gs" % runner.timeout
            except (OSError, fcgi.ProtocolError) as exc:
                problem = "the FastCGI conversation failed: %s" % exc
            finally:
                conn.close()
    finally:
        if proc is not None:
            # What the script logged while serving, not its goodbye to our SIGTERM.
            errlog.seek(0)
            stderr += errlog.read()
            errlog.truncate(0)
            _stop(proc)
            if problem and proc.returncode not in (None, 0, -signal.SIGTERM):
                problem += " (the script exited with status %s)" % proc.returncode
        listener.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if proc is None or problem:
            errlog.seek(0)
            stderr += errlog.read()
        errlog.close()
    _report_response(report, what, stdout, stderr, problem)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except OSError:
            proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            proc.wait(5)


# -- the command ---------------------------------------------------------------


def main(argv: Sequence[str] | None) -> int:
    """``wsgicgi check``; returns the exit status."""
    import argparse

    parser = argparse.ArgumentParser(prog="wsgicgi check", usage=USAGE, add_help=False)
    parser.add_argument("-h", "--help", action="store_true")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--suexec", dest="suexec", action="store_true", default=None)
    mode.add_argument("--no-suexec", dest="suexec", action="store_false")
    parser.add_argument("--path-info", default="")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("scripts", nargs="*")
    args = parser.parse_args(argv)
    if args.help:
        sys.stdout.write(USAGE)
        return 0
    if not args.scripts:
        sys.stderr.write(USAGE)
        return 2
    if args.path_info and not args.path_info.startswith("/"):
        args.path_info = "/" + args.path_info
    config = SuexecConfig.detect()
    failed = 0
    for i, script in enumerate(args.scripts):
        if i:
            sys.stdout.write("\n")
        if check_script(
            script,
            suexec=args.suexec,
            config=config,
            path_info=args.path_info,
            timeout=args.timeout,
        ):
            failed += 1
    return 1 if failed else 0
