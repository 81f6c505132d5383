"""A private Apache httpd on 127.0.0.1, for integration tests and the benchmark.

    from scripts.harness.apache import Apache, public_tempdir, stage_wsgicgi

    lib = stage_wsgicgi()                     # a world-readable copy of the package
    with Apache(cgi_dir, module="cgid", env={"PYTHONPATH": lib}) as httpd:
        urllib.request.urlopen(httpd.url("/cgi-bin/app.cgi/hello"))
        print(httpd.error_log())

Everything the server writes (config, pid file, logs, mutexes, the mod_cgid
socket) lives in its own temporary directory under /tmp. Apache runs CGI
scripts as www-data when started as root, and www-data cannot enter /root,
so the CGI folder, the package copy and the interpreter the scripts name
(Debian's /usr/bin/python3) must all be world-readable; the helpers below
make such directories.
"""

import os
import shutil
import subprocess

from .server import Server, free_port, public_tempdir  # noqa: F401 (free_port: for importers)

APACHE_BIN = "/usr/sbin/apache2"
MODULES_DIR = "/usr/lib/apache2/modules"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The PATH that CGI scripts see (mod_cgi copies httpd's own PATH): Debian's
# system directories only, so `#!/usr/bin/env -S python3 ...` finds
# /usr/bin/python3 and never a pyenv shim under /root.
CGI_PATH = "/usr/local/bin:/usr/bin:/bin"

MPM = {"cgi": "mpm_prefork", "cgid": "mpm_event"}

CONF = """\
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}"
Mutex file:{root} default
ErrorLog "{root}/error.log"
# Script stderr is logged at level "error" (AH01215), so warn keeps it.
LogLevel warn
LogFormat "%h \\"%r\\" %>s %b" short
CustomLog "{root}/access.log" short
{modules}
{user}
{mpm_conf}
TypesConfig /dev/null
DocumentRoot "{docroot}"
Timeout 60
KeepAlive On
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "{docroot}">
    Require all granted
</Directory>
ScriptAlias /cgi-bin/ "{cgi_dir}/"
<Directory "{cgi_dir}">
    AllowOverride None
    Options None
    Require all granted
    # Pass the Authorization header to scripts (httpd 2.4.13+).
    CGIPassAuth On
</Directory>
{env}
{extra}
"""

MPM_CONF = {
    "mpm_prefork": """\
StartServers 2
MinSpareServers 1
MaxSpareServers 4
MaxRequestWorkers 16""",
    "mpm_event": """\
StartServers 1
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
MinSpareThreads 1
MaxSpareThreads 32""",
}

BASE_MODULES = ("authz_core", "authn_core", "alias", "mime", "env", "rewrite", "dir")


def stage_wsgicgi(dest=None):
    """Copy the ``wsgicgi`` package this process imports (this checkout's, or
    the installed wheel's when scripts/test runs the suite from it) into a
    world-readable folder.

    Returns the folder to put on the scripts' ``PYTHONPATH``. During a
    coverage run (scripts/coverage) the folder also gets the run's start-up
    hook as ``sitecustomize.py``, so that Debian's python3 measures the scripts.
    """
    import wsgicgi

    dest = dest or public_tempdir("wsgicgi-lib-")
    target = os.path.join(dest, "wsgicgi")
    shutil.copytree(
        os.path.dirname(os.path.abspath(wsgicgi.__file__)),
        target,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    hook = os.environ.get("WSGICGI_COVERAGE_HOOK")
    if hook:
        shutil.copy(hook, os.path.join(dest, "sitecustomize.py"))
    make_world_readable(dest)
    return dest


def make_world_readable(path):
    """chmod a+rX ``path`` and everything under it (keeps execute bits of files)."""
    for top, _dirs, files in os.walk(path):
        os.chmod(top, 0o755)
        for name in files:
            full = os.path.join(top, name)
            mode = os.stat(full).st_mode
            os.chmod(full, 0o755 if mode & 0o111 else 0o644)


def write_script(path, text, mode=0o755):
    """Write a CGI script (or any file) and set its mode."""
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def available():
    """True when the apache2 binary and the modules this harness needs exist."""
    return os.access(APACHE_BIN, os.X_OK) and os.path.exists(
        os.path.join(MODULES_DIR, "mod_cgid.so")
    )


class ApacheError(RuntimeError):
    """httpd failed to start; the message holds the tail of its error log."""


class Apache(Server):
    """A private httpd serving ``cgi_bin_dir`` at ``/cgi-bin/``.

    module: ``"cgid"`` (mpm_event + mod_cgid, Debian's default) or ``"cgi"``
    (mpm_prefork + mod_cgi). ``env`` becomes ``SetEnv`` lines (what CGI
    scripts receive); ``extra_conf`` is appended to the configuration;
    ``docroot`` defaults to an empty folder.
    """

    name = "httpd"
    error = ApacheError
    root_prefix = "wsgicgi-httpd-"
    logs = ("error.log", "stderr.log")  # script stderr lands in error.log
    # SIGTERM to the parent: it stops its children and exits (httpd -k stop).

    def __init__(
        self,
        cgi_bin_dir,
        *,
        module="cgid",
        extra_conf="",
        env=None,
        docroot=None,
        start_timeout=15.0,
    ):
        if module not in MPM:
            raise ValueError("module must be 'cgi' or 'cgid', not %r" % (module,))
        super().__init__(start_timeout)
        self.cgi_bin_dir = os.path.abspath(cgi_bin_dir)
        self.module = module
        self.extra_conf = extra_conf
        self.env = dict(env or {})
        self.docroot = docroot

    def _prepare(self):
        if self.docroot is None:
            self.docroot = os.path.join(self.root, "htdocs")
            os.mkdir(self.docroot)
            os.chmod(self.docroot, 0o755)

    def _launch(self):
        conf = os.path.join(self.root, "httpd.conf")
        with open(conf, "w") as f:
            f.write(self.config())
        for name in ("error.log", "access.log"):
            open(os.path.join(self.root, name), "w").close()
        self._run(
            [APACHE_BIN, "-t", "-f", conf],
            [APACHE_BIN, "-f", conf, "-DFOREGROUND"],
            env=self._server_env(),
            stdout=subprocess.DEVNULL,
        )

    # -- helpers -----------------------------------------------------------

    def access_log(self):
        return self._read("access.log")

    def config(self):
        """The httpd.conf text this server runs with."""
        mpm = MPM[self.module]
        modules = [mpm, *list(BASE_MODULES), self.module]
        load = "\n".join("LoadModule %s_module %s/mod_%s.so" % (m, MODULES_DIR, m) for m in modules)
        user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
        mpm_conf = MPM_CONF[mpm]
        if self.module == "cgid":
            mpm_conf += '\nScriptSock "%s/cgid.sock"' % self.root
        env = "\n".join('SetEnv %s "%s"' % (k, _quote(v)) for k, v in self.env.items())
        return CONF.format(
            root=self.root,
            port=self.port,
            modules=load,
            user=user,
            mpm_conf=mpm_conf,
            docroot=self.docroot,
            cgi_dir=self.cgi_bin_dir,
            env=env,
            extra=self.extra_conf,
        )

    def _server_env(self):
        return {"PATH": CGI_PATH, "LANG": "C"}

    def _log_tail(self, lines=40):
        return "\n".join(self.error_log().splitlines()[-lines:])


def _quote(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"')
