"""``python -m wsgicgi APP [SCRIPT]`` in real subprocesses with crafted CGI environments."""

import os
import select
import subprocess
import sys
import textwrap
import time

import pytest
from cgi_output import CGIOutput

import wsgicgi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

APP_SOURCE = """
import os, sys

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    body = environ["wsgi.input"].read()
    info = "%s|%s|%s|%s|" % (environ["REQUEST_METHOD"], environ["SCRIPT_NAME"], environ["PATH_INFO"], environ["QUERY_STRING"])
    return [info.encode("latin-1"), body]

application = app

def factory(greeting="made"):
    def made(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [greeting.encode()]
    return made

def chatty(environ, start_response):
    print("debug output from the app")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"clean body"]

def broken(environ, start_response):
    raise RuntimeError("broken app: secret-token-42")

def streaming(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"first chunk"
    # Wait for the test to say it saw the first chunk: proof that it streamed.
    while not os.path.exists(environ["GO_FILE"]):
        import time; time.sleep(0.01)
    yield b"second chunk"

def sendfile(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](open(environ["DATA_FILE"], "rb"))

def endless(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    try:
        while True:
            yield b"x" * 65536
    finally:
        sys.stderr.write("endless: closed\\n")
"""


@pytest.fixture
def app_dir(tmp_path):
    (tmp_path / "myapp.py").write_text(APP_SOURCE)
    return tmp_path


def cgi_env(**extra):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": ROOT,
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/cgi-bin/app.cgi",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    env.update(extra)
    return env


def gateway(args, cwd, env=None, body=b"", timeout=30):
    proc = subprocess.run(
        [sys.executable, "-m", "wsgicgi", *args],
        cwd=str(cwd),
        env=env if env is not None else cgi_env(),
        input=body,
        capture_output=True,
        timeout=timeout,
    )
    return proc


@pytest.mark.parametrize(
    "spec", ["myapp:app", "myapp:application", "myapp", "myapp.py", "myapp.py:app"]
)
def test_app_specs(app_dir, spec):
    proc = gateway([spec], app_dir, env=cgi_env(PATH_INFO="/p", QUERY_STRING="a=1"))
    assert proc.returncode == 0, proc.stderr
    out = CGIOutput(proc.stdout)
    assert out.code == 200 and out.body == b"GET|/cgi-bin/app.cgi|/p|a=1|"


@pytest.mark.parametrize(
    "spec,body",
    [
        ("myapp:factory()", b"made"),
        ("myapp:factory('hi')", b"hi"),
        ("myapp:factory(greeting='kw')", b"kw"),
    ],
)
def test_factory_specs(app_dir, spec, body):
    proc = gateway([spec], app_dir)
    assert CGIOutput(proc.stdout).body == body, proc.stderr


def test_wsgi_file_with_application_attribute(tmp_path):
    (tmp_path / "site.wsgi").write_text(
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'from a .wsgi file']\n"
    )
    proc = gateway([str(tmp_path / "site.wsgi")], "/")
    assert CGIOutput(proc.stdout).body == b"from a .wsgi file", proc.stderr


def test_script_argument_puts_its_folder_on_sys_path(app_dir, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("cwd")
    proc = gateway(["myapp:app", str(app_dir / "app.cgi")], elsewhere)
    assert CGIOutput(proc.stdout).code == 200, proc.stderr


@pytest.mark.parametrize(
    "spec,reason",
    [
        ("nosuchmodule:app", "No module named 'nosuchmodule'"),
        ("myapp:nosuch", "has no attribute 'nosuch'"),
        ("myapp:factory(open('x'))", "factory arguments must be literals"),
        ("/nonexistent/app.py", "no such file"),
        ("myapp:APP_SOURCE_IS_NOT_HERE", "has no attribute"),
    ],
)
def test_load_failure_answers_500_and_logs_the_reason(app_dir, spec, reason):
    proc = gateway([spec], app_dir)
    assert proc.returncode == 1
    out = CGIOutput(proc.stdout)
    assert out.code == 500 and out.body == b"500 Internal Server Error\n"
    assert reason in proc.stderr.decode()


def test_syntax_error_in_app_answers_500(tmp_path):
    (tmp_path / "bad.py").write_text("def app(:\n")
    proc = gateway(["bad:app"], tmp_path)
    assert CGIOutput(proc.stdout).code == 500 and "SyntaxError" in proc.stderr.decode()


def test_not_callable_answers_500(tmp_path):
    (tmp_path / "notapp.py").write_text("app = 42\n")
    proc = gateway(["notapp:app"], tmp_path)
    assert CGIOutput(proc.stdout).code == 500 and "not callable" in proc.stderr.decode()


def test_app_error_traceback_goes_to_stderr_not_the_client(app_dir):
    proc = gateway(["myapp:broken"], app_dir)
    out = CGIOutput(proc.stdout)
    assert out.code == 500 and b"secret-token-42" not in proc.stdout
    assert "RuntimeError: broken app: secret-token-42" in proc.stderr.decode()


def test_print_in_the_app_goes_to_the_error_log_not_the_response(app_dir):
    proc = gateway(["myapp:chatty"], app_dir)
    assert CGIOutput(proc.stdout).body == b"clean body"
    assert b"debug output from the app" in proc.stderr


def test_raw_non_utf8_bytes_in_the_environment(app_dir):
    env = {k.encode(): v.encode() for k, v in cgi_env().items()}
    env[b"PATH_INFO"] = b"/caf\xc3\xa9/\xff\xfe"
    env[b"QUERY_STRING"] = b"q=\xe9"
    proc = subprocess.run(
        [sys.executable, "-m", "wsgicgi", "myapp:app"],
        cwd=str(app_dir),
        env=env,
        capture_output=True,
        timeout=30,
    )
    assert CGIOutput(proc.stdout).body == b"GET|/cgi-bin/app.cgi|/caf\xc3\xa9/\xff\xfe|q=\xe9|", (
        proc.stderr
    )


def test_post_body_is_exact_and_bounded_by_content_length(app_dir):
    body = bytes(range(256)) * 4000
    env = cgi_env(
        REQUEST_METHOD="POST",
        CONTENT_LENGTH=str(len(body)),
        CONTENT_TYPE="application/octet-stream",
    )
    proc = gateway(["myapp:app"], app_dir, env=env, body=body + b"TRAILING GARBAGE")
    assert CGIOutput(proc.stdout).body == b"POST|/cgi-bin/app.cgi|/||" + body


def read_until_eof(stream, seconds):
    """Everything a pipe gives until EOF, failing if that takes over ``seconds``."""
    data = b""
    deadline = time.monotonic() + seconds
    while True:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, "no EOF within %s s; got %r" % (seconds, data[:200])
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            return data
        data += chunk


def test_post_does_not_wait_for_stdin_eof(app_dir):
    # Servers may keep stdin open after the body (RFC 3875 §4.2): the gateway
    # must answer after CONTENT_LENGTH bytes without waiting for EOF.
    env = cgi_env(REQUEST_METHOD="POST", CONTENT_LENGTH="4")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgicgi", "myapp:app"],
        cwd=str(app_dir),
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        proc.stdin.write(b"abcd")
        proc.stdin.flush()
        out = read_until_eof(proc.stdout, 20)  # stdin stays open meanwhile
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    assert CGIOutput(out).body.endswith(b"|abcd")


def test_bad_content_length_is_400(app_dir):
    proc = gateway(
        ["myapp:app"], app_dir, env=cgi_env(REQUEST_METHOD="POST", CONTENT_LENGTH="-5"), body=b"x"
    )
    assert CGIOutput(proc.stdout).code == 400 and "CONTENT_LENGTH" in proc.stderr.decode()


def test_response_streams_chunk_by_chunk(app_dir, tmp_path):
    go = tmp_path / "go"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgicgi", "myapp:streaming"],
        cwd=str(app_dir),
        env=cgi_env(GO_FILE=str(go)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        seen = b""
        deadline = time.monotonic() + 20
        while b"first chunk" not in seen:
            ready, _, _ = select.select(
                [proc.stdout], [], [], max(0.0, deadline - time.monotonic())
            )
            assert ready, "the first chunk did not arrive before the app finished: no streaming"
            data = os.read(proc.stdout.fileno(), 65536)
            assert data, proc.stderr.read()
            seen += data
        assert b"second chunk" not in seen
        go.write_text("go")
        rest, _ = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    assert CGIOutput(seen + rest).body == b"first chunksecond chunk"


def test_file_wrapper_through_a_real_pipe(app_dir, tmp_path):
    data = os.urandom(3_000_000)
    (tmp_path / "big.bin").write_bytes(data)
    proc = gateway(["myapp:sendfile"], app_dir, env=cgi_env(DATA_FILE=str(tmp_path / "big.bin")))
    assert CGIOutput(proc.stdout).body == data, proc.stderr


def test_client_going_away_ends_quietly(app_dir):
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgicgi", "myapp:endless"],
        cwd=str(app_dir),
        env=cgi_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        proc.stdout.read(100_000)
        proc.stdout.close()  # the client (the server's end of the pipe) is gone
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
        proc.wait()
    err = err.decode()
    assert proc.returncode == 0
    assert "client went away" in err and "endless: closed" in err
    assert "Traceback" not in err and "Exception ignored" not in err


def test_one_line_shebang_script(app_dir):
    script = app_dir / "app.cgi"
    script.write_text("#!/usr/bin/env -S %s -m wsgicgi myapp:app\n" % sys.executable)
    script.chmod(0o755)
    proc = subprocess.run(
        [str(script)], cwd="/", env=cgi_env(PATH_INFO="/shebang"), capture_output=True, timeout=30
    )
    assert CGIOutput(proc.stdout).body == b"GET|/cgi-bin/app.cgi|/shebang||", proc.stderr


def test_two_line_script(app_dir):
    script = app_dir / "app2.py"
    script.write_text(
        "#!%s\nfrom wsgicgi import run\nfrom myapp import app; run(app)\n" % sys.executable
    )
    script.chmod(0o755)
    proc = subprocess.run(
        [str(script)], cwd="/", env=cgi_env(PATH_INFO="/two"), capture_output=True, timeout=30
    )
    assert CGIOutput(proc.stdout).body == b"GET|/cgi-bin/app.cgi|/two||", proc.stderr


@pytest.mark.parametrize("args,code,stream", [([], 2, "stderr"), (["--help"], 0, "stdout")])
def test_usage(args, code, stream, tmp_path):
    proc = gateway(args, tmp_path)
    assert proc.returncode == code and b"usage: wsgicgi" in getattr(proc, stream)


def test_version(tmp_path):
    proc = gateway(["--version"], tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith(b"wsgicgi ")


def test_gateway_imports_nothing_heavy(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        before = set(sys.modules)
        import wsgicgi
        heavy = {"argparse", "email", "subprocess", "logging", "traceback", "re", "threading", "socket", "tempfile"}
        print(sorted(heavy & (set(sys.modules) - before)))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code],
        # -S: no site-packages, so the folder of the package under test.
        env={"PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(wsgicgi.__file__)))},
        capture_output=True,
        timeout=30,
    )
    assert proc.stdout.strip() == b"[]", proc.stderr


def test_ctrl_c_while_the_app_loads_is_not_turned_into_a_500(tmp_path):
    (tmp_path / "slowload.py").write_text("raise KeyboardInterrupt\n")
    proc = gateway(["slowload:app"], tmp_path)
    assert proc.returncode != 0 and proc.returncode != 1
    assert b"Status:" not in proc.stdout
    assert b"KeyboardInterrupt" in proc.stderr


def test_load_failure_with_the_client_gone_still_logs_the_reason(tmp_path):
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "wsgicgi", "nosuchmod_cli9:app"],
            cwd=str(tmp_path),
            env=cgi_env(),
            stdin=subprocess.DEVNULL,
            stdout=write_fd,
            stderr=subprocess.PIPE,
            timeout=30,
        )
    finally:
        os.close(write_fd)
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert "cannot load WSGI application 'nosuchmod_cli9:app'" in err
    assert "BrokenPipeError" not in err
