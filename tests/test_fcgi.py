"""FastCGI, rule by rule (issue 10, points 4 and 5): a real ``wsgicgi fcgi``
process on a unix socket (and on 127.0.0.1), spoken to by the raw client of
tests/fcgi_client.py.  Bad input first.

The server's stderr (its log) goes to a file; "one log line" is counted
there.  Leaks are counted in /proc/PID/fd and /proc/PID/task.
"""

import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import fcgi_client as fc
import pytest
from hostile_cases import APP_CASES, REQUEST_CASES

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="counts fds and threads in /proc"
)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
APP = os.path.join(HERE, "apps", "fcgi_probe.py")
WAIT = 60  # seconds: generous, other engineers load the machine too
MB = 1 << 20
GB = 1 << 30


# -- the server process ---------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FcgiServer:
    """``wsgicgi fcgi fcgi_probe.py`` in its own session, its stderr in a file."""

    def __init__(self, tmp, kind="unix", args=(), env=None):
        self.tmp = str(tmp)
        self.kind = kind
        self.args = list(args)
        self.env = env or {}
        self.log_path = os.path.join(self.tmp, "server-%s.log" % kind)
        self.proc = None

    def start(self):
        for _ in range(5):  # a TCP port picked free may be taken meanwhile
            if self.kind == "unix":
                self.address = os.path.join(self.tmp, "fcgi.sock")
                bind = "unix:" + self.address
            else:
                self.address = ("127.0.0.1", free_port())
                bind = "%s:%d" % self.address
            env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
            env.pop("WSGICGI_DEBUG", None)
            env.update(self.env)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "wsgicgi", "fcgi", APP, "--bind", bind, *self.args],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    cwd=self.tmp,
                    env=env,
                    start_new_session=True,
                )
            if self._wait_listening():
                # One request, so that lazy imports and the first accept's
                # allocations are behind the baseline counts.
                served_after(self)
                # Idle: no connection open (counted once the server closed
                # its end, which the client sees as EOF), and steady.
                self.baseline = self.counts()
                deadline = time.monotonic() + WAIT
                while time.monotonic() < deadline:
                    time.sleep(0.3)
                    now = self.counts()
                    if now == self.baseline:
                        break
                    self.baseline = now
                return self
            self.stop()
        raise AssertionError("wsgicgi fcgi did not start: %s" % self.log())

    def _wait_listening(self):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                fc.connect(self.address, timeout=5).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    # -- what the tests look at --

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def mark(self):
        return os.path.getsize(self.log_path)

    def lines_since(self, mark):
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace").splitlines()

    def wait_lines(self, mark, count=1, settle=0.5):
        """The log lines written since ``mark``, once there are ``count``
        (then ``settle`` seconds more, to see any extra line)."""
        deadline = time.monotonic() + WAIT
        while len(self.lines_since(mark)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(settle)
        return self.lines_since(mark)

    def counts(self):
        """(open fds, threads) of the server process."""
        pid = self.proc.pid
        return len(os.listdir("/proc/%d/fd" % pid)), len(os.listdir("/proc/%d/task" % pid))

    def settled_counts(self, want, timeout=WAIT):
        """The counts, once equal to ``want`` (a connection is closed just
        after its last byte goes out), or whatever they are at the end."""
        deadline = time.monotonic() + timeout
        got = self.counts()
        while got != want and time.monotonic() < deadline:
            time.sleep(0.02)
            got = self.counts()
        return got

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def alive(self):
        return self.proc.poll() is None


@pytest.fixture(scope="module")
def unix_server(tmp_path_factory):
    server = FcgiServer(tmp_path_factory.mktemp("fcgi-unix")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tcp_server(tmp_path_factory):
    server = FcgiServer(
        tmp_path_factory.mktemp("fcgi-tcp"), kind="tcp", args=["--threads", "4"]
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def timeout_server(tmp_path_factory):
    server = FcgiServer(
        tmp_path_factory.mktemp("fcgi-timeout"), args=["--read-timeout", "1"]
    ).start()
    yield server
    server.stop()


@pytest.fixture(params=["unix", "tcp"])
def server(request):
    return request.getfixturevalue(request.param + "_server")


def served_after(server):
    """The process still answers a new connection, with nothing logged."""
    mark = server.mark()
    with fc.connect(server.address) as sock:
        sock.sendall(fc.request_bytes({"PATH_INFO": "/echo", "CONTENT_LENGTH": "5"}, b"hello"))
        reader = fc.Reader(sock)
        r = fc.read_response(reader)
        assert (r.status, r.body, r.protocol_status) == (200, b"hello", 0)
        assert reader.record() is None  # closed: no FCGI_KEEP_CONN
    assert server.lines_since(mark) == []
    assert server.alive()


def rec(rtype, rid, content=b"", **kw):
    return fc.rec(rtype, rid, content, **kw)


GOOD = {"PATH_INFO": "/echo", "CONTENT_LENGTH": "2"}
BEGIN_AND_PARAMS = fc.begin(1) + fc.params(1, dict(fc.BASE, **GOOD))
PARAMS_RECORD = fc.params(1, dict(fc.BASE, **GOOD))[:-8]  # without the empty one


# -- malformed input: the connection closed, one log line, nothing leaked --------

# (id, bytes sent before the client closes its side, what the log line says)
MALFORMED = [
    ("garbage-http", b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n", "version 71"),
    ("garbage-binary", bytes(range(255, 0, -1)) * 4, "version 255"),
    ("bad-version-0", rec(fc.BEGIN, 1, struct.pack(">HB5x", 1, 0), version=0), "version 0"),
    ("bad-version-2", rec(fc.BEGIN, 1, struct.pack(">HB5x", 1, 0), version=2), "version 2"),
    (
        "bad-version-mid-request",
        fc.begin(1) + rec(fc.PARAMS, 1, b"\x01\x01AB", version=9),
        "version 9",
    ),
    ("bad-version-in-stdin", BEGIN_AND_PARAMS + rec(fc.STDIN, 1, b"hi", version=3), None),
    ("truncated-header", fc.begin(1)[:5], "inside a record"),
    ("truncated-content", fc.begin(1) + PARAMS_RECORD[:20], "inside a record"),
    ("truncated-padding", fc.begin(1) + rec(fc.PARAMS, 1, b"\x01\x01AB")[:-1], "inside a record"),
    ("truncated-stdin-record", BEGIN_AND_PARAMS + rec(fc.STDIN, 1, b"hello!!!")[:12], None),
    ("eof-between-records-in-a-request", BEGIN_AND_PARAMS + rec(fc.STDIN, 1, b"h"), None),
    # The app does not read the body; the EOF is seen when its response goes out.
    (
        "eof-after-params-body-unread",
        fc.begin(1) + fc.params(1, dict(fc.BASE, PATH_INFO="/env")),
        "connection lost inside request 1",
    ),
    ("begin-body-too-short", rec(fc.BEGIN, 1, b"\x00\x01\x00"), "BEGIN_REQUEST body of 3 bytes"),
    (
        "pair-runs-past-its-block",
        fc.begin(1) + rec(fc.PARAMS, 1, b"\x05\x64ABCDEvalue") + rec(fc.PARAMS, 1),
        "past its block",
    ),
    (
        "pair-4-byte-length-cut",
        fc.begin(1) + rec(fc.PARAMS, 1, b"\x01\x80\x00") + rec(fc.PARAMS, 1),
        "truncated",
    ),
    (
        "pair-name-length-only",
        fc.begin(1) + rec(fc.PARAMS, 1, b"\x01") + rec(fc.PARAMS, 1),
        "truncated",
    ),
    (
        "pair-length-2-gib",
        fc.begin(1) + rec(fc.PARAMS, 1, b"\xff\xff\xff\xff\x01AB") + rec(fc.PARAMS, 1),
        "past its block",
    ),
    (
        "stdin-before-params-end",
        fc.begin(1) + PARAMS_RECORD + rec(fc.STDIN, 1, b"x"),
        "STDIN before the end of PARAMS",
    ),
    ("get-values-malformed", rec(fc.GET_VALUES, 0, b"\x0e\x80"), "truncated"),
]


@pytest.mark.parametrize("case", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_input_closes_the_connection_with_one_log_line(server, case):
    _, data, says = case
    before = server.baseline
    mark = server.mark()
    with fc.connect(server.address) as sock:
        fc.send_quietly(sock, data)
        try:
            sock.shutdown(socket.SHUT_WR)  # then EOF
        except OSError:
            pass
        reply = fc.read_to_eof(sock)  # the server closes: no hang
    lines = server.wait_lines(mark)
    assert len(lines) == 1, lines
    if says is not None:
        assert says in lines[0], lines
    # Whatever was answered is whole records, and never END_REQUEST success
    # with a 200 for a request cut short.
    assert b"Status: 200" not in reply
    served_after(server)
    assert server.settled_counts(before) == before


def test_params_over_1_mib_close_the_connection(server):
    before = server.baseline
    mark = server.mark()
    big = fc.nv([(b"HTTP_X_BIG", b"x" * (MB + 100))])
    with fc.connect(server.address) as sock:
        fc.send_quietly(
            sock,
            fc.begin(1)
            + b"".join(rec(fc.PARAMS, 1, big[i : i + 65528]) for i in range(0, len(big), 65528)),
        )
        fc.send_quietly(sock, rec(fc.PARAMS, 1))
        assert fc.read_to_eof(sock) == b""
    lines = server.wait_lines(mark)
    assert len(lines) == 1 and "PARAMS over 1048576 bytes" in lines[0], lines
    served_after(server)
    assert server.settled_counts(before) == before


def test_params_just_under_the_cap_are_served(unix_server):
    r = fc.request(unix_server.address, {"PATH_INFO": "/env", "HTTP_X_BIG": "y" * (MB - 1000)})
    assert r.status == 200
    assert json.loads(r.body)["HTTP_X_BIG"] == "y" * (MB - 1000)


# Stalls: the peer stops sending inside a record or a request.
STALLS = [
    ("inside-the-first-header", fc.begin(1)[:5]),
    ("inside-a-record", fc.begin(1) + PARAMS_RECORD[:20]),
    ("between-params-records", fc.begin(1) + PARAMS_RECORD),
    ("inside-the-body", BEGIN_AND_PARAMS + rec(fc.STDIN, 1, b"h")),
    (
        "inside-a-later-header",
        fc.begin(1, keep=True)
        + fc.params(1, dict(fc.BASE, PATH_INFO="/env"))
        + fc.stdin(1, b"")
        + fc.begin(2)[:3],
    ),
]


@pytest.mark.parametrize("case", STALLS, ids=[c[0] for c in STALLS])
def test_a_stalled_record_is_closed_after_the_read_timeout(timeout_server, case):
    _, data = case
    server = timeout_server
    before = server.baseline
    mark = server.mark()
    with fc.connect(server.address) as sock:
        sock.sendall(data)
        started = time.monotonic()
        reply = fc.read_to_eof(sock)  # the server closes it: no hang
        waited = time.monotonic() - started
    assert 0.8 < waited < WAIT
    lines = server.wait_lines(mark)
    assert len(lines) == 1, lines
    if case[0] != "inside-the-body":  # there: "client went away after 0 body bytes"
        assert "nothing received for 1 s" in lines[0], lines
    if case[0] == "inside-a-later-header":
        assert reply.count(b"Status: 200") == 1  # the first request was served
    served_after(server)
    assert server.settled_counts(before) == before


def test_an_idle_kept_connection_outlives_the_read_timeout_and_replays_nothing(timeout_server):
    """An idle connection belongs to the web server: no timeout while no
    record has begun.  The next request gets its own answer, once (the
    reader once kept the last request's bytes after a timed-out idle read
    and served that request again)."""
    server = timeout_server
    mark = server.mark()
    with fc.connect(server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"first", rid=1, keep=True))
        assert fc.read_response(reader, 1).body == b"first"
        time.sleep(2.5)  # two read timeouts pass while idle
        sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"second", rid=2, keep=True))
        r = fc.read_response(reader, 2)
        assert r.body == b"second"
        assert [x for x in r.records if x[1] != 2] == []  # nothing replayed
        sock.settimeout(1.5)
        with pytest.raises(socket.timeout):
            sock.recv(1)  # and nothing more
    assert server.lines_since(mark) == []


def test_a_partial_header_after_an_idle_timeout_is_not_lost(timeout_server):
    """Bytes of a header that came before a read timeout are kept."""
    server = timeout_server
    data = fc.request_bytes({"PATH_INFO": "/echo"}, b"split", rid=1)
    with fc.connect(server.address) as sock:
        sock.sendall(data[:3])
        time.sleep(0.5)
        sock.sendall(data[3:])
        assert fc.read_response(fc.Reader(sock), 1).body == b"split"


# -- FCGI_KEEP_CONN -----------------------------------------------------------------


def test_keep_conn_serves_several_requests_on_one_connection(server):
    with fc.connect(server.address) as sock:
        reader = fc.Reader(sock)
        for rid, body in ((1, b"one"), (2, b"two"), (1, b"three" * 20000), (7, b"")):
            sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, body, rid=rid, keep=True))
            r = fc.read_response(reader, rid)
            assert (r.status, r.body, r.app_status, r.protocol_status) == (200, body, 0, 0)
        # Two requests sent at once are answered in turn.
        sock.sendall(
            fc.request_bytes({"PATH_INFO": "/echo"}, b"a", rid=3, keep=True)
            + fc.request_bytes({"PATH_INFO": "/echo"}, b"b", rid=4, keep=True)
        )
        assert fc.read_response(reader, 3).body == b"a"
        assert fc.read_response(reader, 4).body == b"b"


def test_idle_kept_connections_and_garbage_do_not_block_a_new_connection(server):
    """More kept connections than threads sit idle, one sends garbage: a new
    connection is still answered, and each kept one still serves."""
    socks = []
    try:
        for rid in range(1, 7):
            sock = fc.connect(server.address)
            socks.append(sock)
            sock.sendall(
                fc.request_bytes({"PATH_INFO": "/echo"}, b"kept %d" % rid, rid=rid, keep=True)
            )
            assert fc.read_response(fc.Reader(sock), rid).body == b"kept %d" % rid
        mark = server.mark()
        socks[2].sendall(b"garbage garbage!")
        assert fc.read_to_eof(socks[2]) == b""
        assert len(server.wait_lines(mark)) == 1
        served_after(server)
        for rid, sock in enumerate(socks, 1):
            if rid != 3:
                sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"again", rid=rid, keep=True))
                assert fc.read_response(fc.Reader(sock), rid).body == b"again"
    finally:
        for sock in socks:
            sock.close()
    assert server.settled_counts(server.baseline) == server.baseline


def test_without_keep_conn_the_connection_is_closed_after_end_request(server):
    with fc.connect(server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"x", rid=1))
        assert fc.read_response(reader, 1).body == b"x"
        assert reader.record() is None  # EOF after END_REQUEST


def test_end_request_ends_the_streams_first(unix_server):
    """§3.3/§5.3: STDOUT (and STDERR, when used) end with an empty record
    before END_REQUEST."""
    r = fc.request(unix_server.address, {"PATH_INFO": "/errors"})
    kinds = [(t, len(c) == 0) for t, _, c in r.records]
    assert kinds[-1][0] == fc.END
    assert (fc.STDOUT, True) in kinds[:-1] and (fc.STDERR, True) in kinds[:-1]
    assert kinds.index((fc.STDOUT, True)) == len(kinds) - 2


# -- management records and roles --------------------------------------------------


def management(server, data):
    with fc.connect(server.address) as sock:
        sock.sendall(data)
        reader = fc.Reader(sock)
        got = reader.record()
        # The connection stays usable afterwards.
        sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"after", rid=1))
        assert fc.read_response(reader, 1).body == b"after"
        return got


def test_get_values_is_answered(unix_server, tcp_server):
    asked = fc.nv(
        [
            (b"FCGI_MAX_CONNS", b""),
            (b"FCGI_MAX_REQS", b""),
            (b"FCGI_MPXS_CONNS", b""),
            (b"FCGI_NO_SUCH", b""),
        ]
    )
    for server, n in ((unix_server, b"1"), (tcp_server, b"4")):
        rtype, rid, content = management(server, rec(fc.GET_VALUES, 0, asked))
        assert (rtype, rid) == (fc.GET_VALUES_RESULT, 0)
        assert decode_nv(content) == {
            b"FCGI_MAX_CONNS": n,
            b"FCGI_MAX_REQS": n,
            b"FCGI_MPXS_CONNS": b"0",
        }


def decode_nv(data):
    out, pos = {}, 0
    while pos < len(data):
        lengths = []
        for _ in range(2):
            if data[pos] < 128:
                lengths.append(data[pos])
                pos += 1
            else:
                lengths.append(struct.unpack(">I", data[pos : pos + 4])[0] & 0x7FFFFFFF)
                pos += 4
        name = data[pos : pos + lengths[0]]
        out[name] = data[pos + lengths[0] : pos + lengths[0] + lengths[1]]
        pos += lengths[0] + lengths[1]
    return out


# A request's type with request id 0 is a management record too (§3.3).
@pytest.mark.parametrize(
    "mtype", [0, 12, 200, 255, fc.GET_VALUES_RESULT, fc.UNKNOWN_TYPE, fc.BEGIN, fc.STDIN]
)
def test_unknown_management_type_gets_unknown_type(unix_server, mtype):
    rtype, rid, content = management(unix_server, rec(mtype, 0, b"whatever"))
    assert (rtype, rid) == (fc.UNKNOWN_TYPE, 0)
    assert content == bytes([mtype]) + b"\0" * 7  # §4.2: FCGI_UnknownTypeBody


def test_management_records_inside_a_request_are_answered(unix_server):
    with fc.connect(unix_server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(
            fc.begin(1) + fc.params(1, dict(fc.BASE, PATH_INFO="/echo", CONTENT_LENGTH="4"))
        )
        sock.sendall(rec(fc.GET_VALUES, 0, fc.nv([(b"FCGI_MPXS_CONNS", b"")])) + rec(12, 0, b"x"))
        sock.sendall(fc.stdin(1, b"body"))
        r = fc.read_response(reader, 1)
        assert r.body == b"body"
        management_answers = [(t, c) for t, rid, c in r.records if rid == 0]
        assert management_answers == [
            (fc.GET_VALUES_RESULT, fc.nv([(b"FCGI_MPXS_CONNS", b"0")])),
            (fc.UNKNOWN_TYPE, b"\x0c" + b"\0" * 7),
        ]


@pytest.mark.parametrize("role", [2, 3, 0, 77], ids=["authorizer", "filter", "zero", "77"])
@pytest.mark.parametrize("keep", [False, True], ids=["close", "keep"])
def test_other_roles_get_unknown_role(server, role, keep):
    marker = os.path.join(server.tmp, "role-%d-%s" % (role, keep))
    env = dict(fc.BASE, PATH_INFO="/echo", PROBE_MARKER=marker)
    with fc.connect(server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(fc.begin(1, role=role, keep=keep) + fc.params(1, env) + fc.stdin(1, b"x"))
        r = fc.read_response(reader, 1)
        assert r.protocol_status == 3  # FCGI_UNKNOWN_ROLE
        assert r.stdout == b""
        if keep:
            sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"next", rid=2, keep=True))
            assert fc.read_response(reader, 2).body == b"next"
        else:
            assert reader.record() is None
    assert not os.path.exists(marker)  # the app never ran


def test_a_second_request_id_while_reading_the_body_gets_cant_mpx_conn(server):
    with fc.connect(server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(
            fc.begin(1, keep=True)
            + fc.params(1, dict(fc.BASE, PATH_INFO="/echo", CONTENT_LENGTH="8"))
        )
        sock.sendall(rec(fc.STDIN, 1, b"firs"))
        sock.sendall(
            fc.begin(2) + fc.params(2, dict(fc.BASE, PATH_INFO="/echo")) + fc.stdin(2, b"nope")
        )
        got = reader.record()
        assert got == (fc.END, 2, struct.pack(">IB3x", 0, 1))  # FCGI_CANT_MPX_CONN
        sock.sendall(rec(fc.STDIN, 1, b"t!!!") + rec(fc.STDIN, 1))
        r = fc.read_response(reader, 1)
        assert (r.status, r.body, r.protocol_status) == (200, b"first!!!", 0)
        assert all(rid == 1 for _, rid, _ in r.records)
        # The refused request's records were ignored; the connection goes on.
        sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"third", rid=3, keep=True))
        assert fc.read_response(reader, 3).body == b"third"


def test_a_second_request_id_during_a_streamed_response_gets_cant_mpx_conn(unix_server):
    with fc.connect(unix_server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(
            fc.request_bytes({"PATH_INFO": "/stream", "QUERY_STRING": "n=40"}, rid=1, keep=True)
        )
        first = reader.record()
        assert first[:2] == (fc.STDOUT, 1)
        sock.sendall(fc.begin(2) + fc.params(2, dict(fc.BASE, PATH_INFO="/echo")))
        r = fc.read_response(reader, 1)
        refused = [x for x in r.records if x[1] == 2]
        assert refused == [(fc.END, 2, struct.pack(">IB3x", 0, 1))]
        assert r.protocol_status == 0
        assert len(first[2] + r.stdout.split(b"\r\n\r\n", 1)[-1]) >= 40 * 4096 - 4096


def test_abort_before_the_body_ends_the_request_without_running_the_app(unix_server):
    marker = os.path.join(unix_server.tmp, "abort-early")
    with fc.connect(unix_server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(
            fc.begin(1, keep=True)
            + fc.params(1, dict(fc.BASE, PATH_INFO="/echo", PROBE_MARKER=marker))[:-8]
        )
        sock.sendall(rec(fc.ABORT, 1))
        r = fc.read_response(reader, 1)
        assert (r.stdout, r.protocol_status) == (b"", 0)
        sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"next", rid=2))
        assert fc.read_response(reader, 2).body == b"next"
    assert not os.path.exists(marker)


# -- abort and a vanished web server during a streamed response --------------------


def wait_for(predicate, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_abort_during_a_streamed_response_closes_the_iterable_and_ends_the_request(server):
    marker = os.path.join(server.tmp, "abort-stream")
    before = server.baseline
    with fc.connect(server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(
            fc.request_bytes({"PATH_INFO": "/stream", "PROBE_MARKER": marker}, rid=1, keep=True)
        )
        for _ in range(3):
            assert reader.record()[:2] == (fc.STDOUT, 1)
        sock.sendall(rec(fc.ABORT, 1))
        r = fc.read_response(reader, 1)  # §5.4: END_REQUEST still comes
        assert r.protocol_status == 0
        assert os.path.exists(marker)  # close() ran before END_REQUEST
        with open(marker) as f:
            assert f.read() == "closed\n"
        sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"after abort", rid=2, keep=True))
        assert fc.read_response(reader, 2).body == b"after abort"
    assert server.settled_counts(before) == before


def test_the_web_server_vanishing_mid_response_closes_the_iterable_with_one_log_line(server):
    marker = os.path.join(server.tmp, "vanish")
    before = server.baseline
    mark = server.mark()
    with fc.connect(server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(
            fc.request_bytes({"PATH_INFO": "/stream", "PROBE_MARKER": marker}, rid=1, keep=True)
        )
        for _ in range(3):
            assert reader.record()[:2] == (fc.STDOUT, 1)
    assert wait_for(lambda: os.path.exists(marker)), "close() not called"
    lines = server.wait_lines(mark)
    assert len(lines) == 1, lines
    assert "went away" in lines[0] or "lost" in lines[0], lines
    served_after(server)
    assert server.settled_counts(before) == before


def test_the_web_server_vanishing_during_a_big_download(unix_server):
    """The socket buffers are full when the peer goes: sendall fails."""
    server = unix_server
    marker = os.path.join(server.tmp, "vanish-big")
    before = server.baseline
    mark = server.mark()
    with fc.connect(server.address) as sock:
        sock.sendall(
            fc.request_bytes(
                {"PATH_INFO": "/download", "QUERY_STRING": "n=%d" % GB, "PROBE_MARKER": marker}
            )
        )
        fc.Reader(sock).record()
        time.sleep(0.3)  # let the buffers fill
    assert wait_for(lambda: os.path.exists(marker)), "close() not called"
    lines = server.wait_lines(mark)
    assert len(lines) == 1, lines
    served_after(server)
    assert server.settled_counts(before) == before


# -- the body, streamed in -----------------------------------------------------------


class RSSSampler:
    """The server's VmRSS, sampled in a thread while a transfer runs."""

    def __init__(self, server):
        self.server = server
        self.peak = self.base = server.rss_kb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.server.rss_kb())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self):
        return (self.peak - self.base) / 1024


def test_a_1_gib_upload_streams_into_wsgi_input_with_rss_bounded(unix_server):
    block = (bytes(range(256)) * 256)[:65528]  # one record, no padding
    assert len(block) == 65528
    count = GB // len(block)
    size = count * len(block)
    record = rec(fc.STDIN, 1, block)
    expected = hashlib.sha256()
    for _ in range(count):
        expected.update(block)
    with RSSSampler(unix_server) as rss, fc.connect(unix_server.address, timeout=300) as sock:
        sock.sendall(
            fc.begin(1)
            + fc.params(
                1,
                dict(
                    fc.BASE,
                    PATH_INFO="/upload",
                    REQUEST_METHOD="POST",
                    CONTENT_LENGTH=str(size),
                ),
            )
        )
        for _ in range(count):
            sock.sendall(record)
        sock.sendall(rec(fc.STDIN, 1))
        r = fc.read_response(fc.Reader(sock), 1)
    info = json.loads(r.body)
    assert info == {
        "length": size,
        "sha256": expected.hexdigest(),
        "biggest": 65536,
        "reads": -(-size // 65536),
        "terminated": True,
    }
    assert rss.growth_mb < 30, rss.growth_mb


def test_the_app_reads_the_body_as_stdin_records_arrive(server):
    """The app is called once PARAMS end and gets the first STDIN record
    while the rest is not even sent."""
    with fc.connect(server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(
            fc.begin(1, keep=True)
            + fc.params(
                1,
                dict(
                    fc.BASE,
                    PATH_INFO="/first",
                    QUERY_STRING="n=5",
                    REQUEST_METHOD="POST",
                    CONTENT_LENGTH="100005",
                ),
            )
        )
        sock.sendall(rec(fc.STDIN, 1, b"early"))
        # The answer comes before the rest of the body exists...
        first = reader.record()
        assert first[:2] == (fc.STDOUT, 1) and first[2].endswith(b"\r\n\r\nearly")
        # ...and the END_REQUEST once the body the app left is skipped (§5.3).
        sock.sendall(fc.stdin(1, b"z" * 100000))
        r = fc.read_response(reader, 1)
        assert r.protocol_status == 0
        sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"next", rid=2))
        assert fc.read_response(reader, 2).body == b"next"


def test_records_with_any_padding_are_read(server):
    """§3.3: paddingLength is up to 255, whatever the content's length."""
    env = fc.nv(
        [
            (k.encode(), v.encode())
            for k, v in dict(fc.BASE, PATH_INFO="/echo", CONTENT_LENGTH="6").items()
        ]
    )
    data = (
        rec(fc.BEGIN, 1, struct.pack(">HB5x", 1, 0), padding=255)
        + rec(fc.PARAMS, 1, env, padding=3)
        + rec(fc.PARAMS, 1, padding=200)
        + rec(fc.STDIN, 1, b"pad", padding=0)
        + rec(fc.STDIN, 1, b"ded", padding=9)
        + rec(fc.STDIN, 1, padding=1)
    )
    with fc.connect(server.address) as sock:
        sock.sendall(data)
        assert fc.read_response(fc.Reader(sock), 1).body == b"padded"


def test_abort_while_the_app_reads_the_body(unix_server):
    """The app sees the body end; its iterable is closed, END_REQUEST sent,
    the connection goes on."""
    server = unix_server
    marker = os.path.join(server.tmp, "abort-upload")
    with fc.connect(server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(
            fc.begin(1, keep=True)
            + fc.params(
                1,
                dict(
                    fc.BASE,
                    PATH_INFO="/upload",
                    REQUEST_METHOD="POST",
                    CONTENT_LENGTH="1000000",
                    PROBE_MARKER=marker,
                ),
            )
        )
        sock.sendall(rec(fc.STDIN, 1, b"x" * 1000) + rec(fc.ABORT, 1))
        r = fc.read_response(reader, 1)
        assert r.protocol_status == 0 and b"Status: 200" not in r.stdout
        assert os.path.exists(marker)
        sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"after", rid=2))
        assert fc.read_response(reader, 2).body == b"after"


def test_a_body_without_content_length_is_read_to_the_end_of_stdin(unix_server):
    body = os.urandom(300000)
    # (request_bytes would add a CONTENT_LENGTH.)
    with fc.connect(unix_server.address) as sock:
        sock.sendall(
            fc.begin(1)
            + fc.params(
                1,
                dict(
                    fc.BASE, PATH_INFO="/upload", REQUEST_METHOD="POST", QUERY_STRING="chunk=1000"
                ),
            )
            + fc.stdin(1, body)
        )
        r = fc.read_response(fc.Reader(sock), 1)
    info = json.loads(r.body)
    assert (info["length"], info["sha256"], info["biggest"], info["terminated"]) == (
        len(body),
        hashlib.sha256(body).hexdigest(),
        1000,
        True,
    )
    with fc.connect(unix_server.address) as sock:
        sock.sendall(
            fc.begin(1)
            + fc.params(1, dict(fc.BASE, PATH_INFO="/echo", REQUEST_METHOD="POST"))
            + fc.stdin(1, body)
        )
        assert fc.read_response(fc.Reader(sock), 1).body == body


def test_a_body_longer_than_content_length_is_cut_and_the_rest_skipped(unix_server):
    with fc.connect(unix_server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(
            fc.begin(1, keep=True)
            + fc.params(1, dict(fc.BASE, PATH_INFO="/echo", CONTENT_LENGTH="4"))
            + fc.stdin(1, b"bodyEXTRA" * 30000)
        )
        assert fc.read_response(reader, 1).body == b"body"
        sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"next", rid=2))
        assert fc.read_response(reader, 2).body == b"next"


def test_the_response_waits_for_nothing_when_the_app_ignores_the_body(unix_server):
    """The app does not read a big body: the server skips it (§5.3) and the
    connection serves the next request."""
    with fc.connect(unix_server.address) as sock:
        reader = fc.Reader(sock)
        sender = threading.Thread(
            target=sock.sendall,
            args=(
                fc.request_bytes(
                    {"PATH_INFO": "/env", "REQUEST_METHOD": "POST"},
                    b"z" * (8 * MB),
                    rid=1,
                    keep=True,
                ),
            ),
        )
        sender.start()
        assert fc.read_response(reader, 1).status == 200
        sender.join(WAIT)
        sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"next", rid=2))
        assert fc.read_response(reader, 2).body == b"next"


# -- the response, streamed out -------------------------------------------------------


def test_a_1_gib_download_streams_out_with_rss_flat(unix_server):
    total = 0
    head = b""
    with RSSSampler(unix_server) as rss, fc.connect(unix_server.address, timeout=300) as sock:
        sock.sendall(fc.request_bytes({"PATH_INFO": "/download", "QUERY_STRING": "n=%d" % GB}))
        reader = fc.Reader(sock)
        while True:
            rtype, _rid, content = reader.record()
            if rtype == fc.END:
                break
            assert rtype == fc.STDOUT
            if len(head) < 4096:
                head += content
            total += len(content)
    block_head = bytes(range(256))
    header, _, start = head.partition(b"\r\n\r\n")
    assert header.startswith(b"Status: 200 OK") and b"Content-Length: %d" % GB in header
    assert start.startswith(block_head * 4)
    assert total == len(header) + 4 + GB
    assert rss.growth_mb < 30, rss.growth_mb


def test_blocks_go_out_as_the_app_yields_them(unix_server):
    """The first block arrives while the app is still sleeping before the
    next one (each yielded block is flushed)."""
    with fc.connect(unix_server.address) as sock:
        sock.sendall(fc.request_bytes({"PATH_INFO": "/stream", "QUERY_STRING": "n=3&every=3"}))
        started = time.monotonic()
        rtype, _, content = fc.Reader(sock).record()
        assert rtype == fc.STDOUT and b"00000000" in content
        assert time.monotonic() - started < 2.5


def test_wsgi_errors_arrive_as_stderr_records(server):
    mark = server.mark()
    r = fc.request(server.address, {"PATH_INFO": "/errors"})
    assert r.body == b"logged"
    assert r.stderr == b"probe wsgi.errors line one\nprobe wsgi.errors line two\n"
    assert "probe wsgi.errors" not in "\n".join(server.lines_since(mark))


# -- every row of "What the gateway guarantees", over FastCGI ---------------------------


def env_of(server, env, body=b"", base=True):
    r = fc.request(
        server.address, dict(env, PATH_INFO=env.get("PATH_INFO", "/env")), body, base=base
    )
    assert r.status == 200, r.stdout
    return json.loads(r.body)


@pytest.mark.parametrize(
    "path",
    [b"/env/caf\xc3\xa9/\xe2\x82\xac", b"/env/\xff\xfe/\xc3(", b"/env/a\x00b", b"/env/%2F/a b"],
    ids=["utf8", "invalid-utf8", "nul", "escapes"],
)
def test_raw_bytes_in_path_info_arrive_as_latin1_strings(unix_server, path):
    seen = env_of(unix_server, {"PATH_INFO": path, "QUERY_STRING": b"q=\xe9\xff"})
    assert seen["PATH_INFO"] == path.decode("latin-1")
    assert seen["QUERY_STRING"] == "q=\xe9\xff"


def test_defaults_are_present_when_the_web_server_sends_nothing(unix_server):
    seen = env_of(unix_server, {"PATH_INFO": "/env"}, base=False)
    for key, value in {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.0",
        "wsgi.url_scheme": "http",
        "wsgi.input_terminated": True,
        "wsgi.run_once": False,
        "wsgi.multiprocess": True,
        "wsgi.multithread": False,
    }.items():
        assert seen[key] == value, key
    assert seen["wsgi.version"] == [1, 0]


def test_multithread_is_true_with_threads(tcp_server):
    assert env_of(tcp_server, {})["wsgi.multithread"] is True


@pytest.mark.parametrize(
    "extra, scheme, port",
    [
        ({"HTTPS": "on"}, "https", "443"),
        ({"HTTPS": "1"}, "https", "443"),
        ({"REQUEST_SCHEME": "https"}, "https", "443"),
        ({"HTTPS": "off"}, "http", "80"),
    ],
)
def test_url_scheme(unix_server, extra, scheme, port):
    seen = env_of(unix_server, dict(extra, PATH_INFO="/env"), base=False)
    assert (seen["wsgi.url_scheme"], seen["SERVER_PORT"]) == (scheme, port)


def test_environ_rules(unix_server):
    seen = env_of(
        unix_server,
        {
            "HTTP_PROXY": "http://evil.example:3128",
            "REDIRECT_HTTP_AUTHORIZATION": "Basic dTpw",
            "SERVER_SOFTWARE": "Microsoft-IIS/10.0",
            "SCRIPT_NAME": "/app",
            "PATH_INFO": "/app/env",
        },
    )
    assert "HTTP_PROXY" not in seen
    assert seen["HTTP_AUTHORIZATION"] == "Basic dTpw"
    assert (seen["SCRIPT_NAME"], seen["PATH_INFO"]) == ("/app", "/env")


@pytest.mark.parametrize("length", ["-1", "+5", "5_0", "1e3", " 5", "abc", "0x5"])
def test_invalid_content_length_is_400_and_the_app_is_not_called(unix_server, length):
    marker = os.path.join(unix_server.tmp, "cl-%s" % length.strip())
    seen = os.path.join(unix_server.tmp, "seen-%s" % length.strip())
    env = {
        "PATH_INFO": "/echo",
        "CONTENT_LENGTH": length,
        "PROBE_MARKER": marker,
        "PROBE_SEEN": seen,
    }
    with fc.connect(unix_server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(
            fc.begin(1, keep=True) + fc.params(1, dict(fc.BASE, **env)) + fc.stdin(1, b"hello")
        )
        r = fc.read_response(reader, 1)
        assert r.status == 400
        assert b"invalid CONTENT_LENGTH" in r.stderr
        # The body was skipped: the connection serves the next request.
        sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"next", rid=2))
        assert fc.read_response(reader, 2).body == b"next"
    assert not os.path.exists(marker) and not os.path.exists(seen)


def test_app_raising_before_the_body_is_a_generic_500_with_the_traceback_in_the_log_only(server):
    r = fc.request(server.address, {"PATH_INFO": "/raise"})
    assert r.status == 500
    assert r.body == b"500 Internal Server Error\n"
    assert b"marker-fc91" not in r.stdout
    assert b"Traceback" in r.stderr and b"marker-fc91" in r.stderr
    served_after(server)  # and the process goes on


@pytest.mark.parametrize("value", ["1", "on", "yes", "true"])
def test_wsgicgi_debug_as_a_param_shows_the_traceback(unix_server, value):
    r = fc.request(unix_server.address, {"PATH_INFO": "/raise", "WSGICGI_DEBUG": value})
    assert r.status == 500
    assert b"Traceback" in r.body and b"marker-fc91" in r.body


def test_wsgicgi_debug_in_the_process_environment_shows_the_traceback(tmp_path):
    server = FcgiServer(tmp_path, env={"WSGICGI_DEBUG": "1"}).start()
    try:
        r = fc.request(server.address, {"PATH_INFO": "/raise"})
        assert r.status == 500
        assert b"Traceback" in r.body and b"marker-fc91" in r.body
        # A param says otherwise for its request.
        r = fc.request(server.address, {"PATH_INFO": "/raise", "WSGICGI_DEBUG": "0"})
        assert b"marker-fc91" not in r.stdout
    finally:
        server.stop()


def test_app_raising_after_the_body_cuts_it_without_a_second_status(unix_server):
    marker = os.path.join(unix_server.tmp, "raise-after")
    r = fc.request(unix_server.address, {"PATH_INFO": "/raise-after", "PROBE_MARKER": marker})
    assert r.stdout.count(b"Status:") == 1 and r.status == 200
    assert r.body == b"first block"
    assert b"marker-a1b2" in r.stderr and b"response cut after 11 body bytes" in r.stderr
    assert os.path.exists(marker)


def test_head_sends_no_body(unix_server):
    marker = os.path.join(unix_server.tmp, "head")
    r = fc.request(
        unix_server.address,
        {
            "PATH_INFO": "/download",
            "QUERY_STRING": "n=100000",
            "REQUEST_METHOD": "HEAD",
            "PROBE_MARKER": marker,
        },
    )
    assert r.status == 200 and r.body == b""
    assert r.header("Content-Length") == "100000"
    assert os.path.exists(marker)


def test_print_goes_to_the_log_not_the_response(unix_server):
    mark = unix_server.mark()
    r = fc.request(unix_server.address, {"PATH_INFO": "/print"})
    assert r.body == b"printed" and b"marker-5d2e" not in r.stdout
    log = "\n".join(unix_server.wait_lines(mark, settle=0)) + r.stderr.decode()
    assert "probe print() marker-5d2e" in log


def test_file_wrapper_is_sent(unix_server):
    path = os.path.join(unix_server.tmp, "file.bin")
    data = os.urandom(300001)
    with open(path, "wb") as f:
        f.write(data)
    r = fc.request(unix_server.address, {"PATH_INFO": "/file", "QUERY_STRING": "path=" + path})
    assert r.status == 200 and r.body == data


@pytest.mark.parametrize(
    "env",
    [
        {"PATH_INFO": "/env"},
        {"PATH_INFO": "/download", "QUERY_STRING": "n=200000"},
        {"PATH_INFO": "/download", "QUERY_STRING": "n=200000", "REQUEST_METHOD": "HEAD"},
        {"PATH_INFO": "/raise-after"},
        {"PATH_INFO": "/nowhere"},
    ],
    ids=["env", "download", "head", "raise-after", "404"],
)
def test_close_is_called_whatever_happens(unix_server, env):
    marker = os.path.join(unix_server.tmp, "close-%s" % abs(hash(json.dumps(env, sort_keys=True))))
    fc.request(unix_server.address, dict(env, PROBE_MARKER=marker))
    with open(marker) as f:
        assert f.read() == "closed\n"  # exactly once


# The hostile corpus of the CGI gateway (tests/hostile_cases.py), over FastCGI:
# the same answers, the log being the request's STDERR stream.


def case_request(case):
    if case.side == "app":
        return dict(fc.BASE, SCRIPT_NAME="/cgi-bin/app.cgi", PROBE_CASE="app/" + case.id), b""
    req = case.given
    env = (
        {}
        if req.env.get("*", 0) is None
        else dict(fc.BASE, SCRIPT_NAME="/cgi-bin/app.cgi", SERVER_NAME="example.org")
    )
    for key, value in req.env.items():
        if value is None:
            env.pop(key, None)
        elif key != "*":
            env[key] = (
                value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
            )
    env["PROBE_CASE"] = "request/" + case.id
    return env, req.body


# Under CGI these read stdin up to CONTENT_LENGTH or to EOF of a pipe; over
# FastCGI the body's end is the end of the STDIN stream, so they are not the
# same question.  A str with a lone surrogate cannot be sent as bytes at all.
NOT_OVER_FASTCGI = {"lone-surrogate-str", "no-content-length-no-body"}


@pytest.mark.parametrize(
    "case",
    [c for c in APP_CASES + REQUEST_CASES if c.id not in NOT_OVER_FASTCGI],
    ids=lambda c: "%s-%s" % (c.side, c.id),
)
def test_gateway_case_over_fastcgi(unix_server, case):
    env, body = case_request(case)
    seen_path = os.path.join(unix_server.tmp, "seen.json")
    if os.path.exists(seen_path):
        os.unlink(seen_path)
    env["PROBE_SEEN"] = seen_path
    with fc.connect(unix_server.address) as sock:
        sock.sendall(fc.begin(1) + fc.params(1, env) + fc.stdin(1, body))
        r = fc.read_response(fc.Reader(sock), 1)
    assert r.protocol_status == 0 and r.app_status == 0
    assert r.status == case.code, (r.stdout[:300], r.stderr[-2000:])
    log = r.stderr.decode("utf-8", "replace")
    if case.log is None:
        assert log == ""
    else:
        assert case.log in log
    if "body" in case.expect:
        assert r.body == case.expect["body"]
    if "absent" in case.expect:
        assert case.expect["absent"] not in r.stdout
    if "status" in case.expect:
        assert r.head.split("\r\n", 1)[0] == "Status: " + case.expect["status"]
    if case.code == 500:
        assert r.body == b"500 Internal Server Error\n"
    if case.expect.get("seen"):
        with open(seen_path) as f:
            seen = json.load(f)
        for key, value in case.expect["seen"].items():
            assert seen.get(key) == value, key
    if r.head.split("\r\n", 1)[0].startswith("Status: 400"):
        assert not os.path.exists(seen_path)  # the app was not called


def test_a_body_without_content_length_is_the_whole_stdin_stream(unix_server):
    """Where CGI reads no body without CONTENT_LENGTH (hostile case
    no-content-length-no-body), FastCGI's STDIN has an end of its own."""
    env, body = case_request(next(c for c in REQUEST_CASES if c.id == "no-content-length-no-body"))
    with fc.connect(unix_server.address) as sock:
        sock.sendall(fc.begin(1) + fc.params(1, env) + fc.stdin(1, body))
        r = fc.read_response(fc.Reader(sock), 1)
    assert r.status == 200 and r.body == body


# -- the process after all of the above ------------------------------------------------


def test_the_process_is_the_same_and_never_crashed(unix_server, tcp_server, timeout_server):
    for server in (unix_server, tcp_server, timeout_server):
        assert server.alive()
        assert "Traceback" not in server.log()
        assert "worker error" not in server.log()
        served_after(server)
        assert server.settled_counts(server.baseline) == server.baseline


# -- wsgi.input read line by line; FCGI_WEB_SERVER_ADDRS -------------------------


def stdin_records(rid, *chunks):
    """The body as one STDIN record per chunk (lines cross record bounds)."""
    return b"".join(rec(fc.STDIN, rid, chunk) for chunk in chunks) + rec(fc.STDIN, rid)


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "no-length"])
def test_readline_joins_lines_across_stdin_records(unix_server, length):
    chunks = [b"first li", b"ne\nsecond\nthi", b"r", b"d line\n", b"no newline at the end"]
    body = b"".join(chunks)
    env = dict(fc.BASE, PATH_INFO="/lines", REQUEST_METHOD="POST")
    if length:
        env["CONTENT_LENGTH"] = str(len(body))
    with fc.connect(unix_server.address) as sock:
        sock.sendall(fc.begin(1) + fc.params(1, env) + stdin_records(1, *chunks))
        r = fc.read_response(fc.Reader(sock), 1)
    assert r.status == 200
    assert json.loads(r.body) == [
        "first line\n",
        "second\n",
        "third line\n",
        "no newline at the end",
    ]


def test_readline_with_a_limit_cuts_long_lines(unix_server):
    chunks = [b"abcdefgh", b"ij\nk", b"l\n", b"mnopqr\n"]
    env = dict(fc.BASE, PATH_INFO="/lines", REQUEST_METHOD="POST", QUERY_STRING="max=4")
    with fc.connect(unix_server.address) as sock:
        sock.sendall(fc.begin(1) + fc.params(1, env) + stdin_records(1, *chunks))
        r = fc.read_response(fc.Reader(sock), 1)
    assert json.loads(r.body) == ["abcd", "efgh", "ij\n", "kl\n", "mnop", "qr\n"]


def test_a_web_server_address_not_listed_is_refused_with_one_log_line(tmp_path):
    port = free_port()
    log_path = str(tmp_path / "server.log")
    env = dict(os.environ, PYTHONPATH=ROOT, FCGI_WEB_SERVER_ADDRS=" 192.0.2.1 , 198.51.100.2 ")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wsgicgi", "fcgi", APP, "--bind", "127.0.0.1:%d" % port],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=str(tmp_path),
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                sock = fc.connect(("127.0.0.1", port), timeout=WAIT)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        with sock:
            try:
                sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"hi"))
            except OSError:
                pass  # closed already
            try:
                answer = fc.Reader(sock).record()
            except ConnectionResetError:  # closed with our request unread
                answer = None
            assert answer is None  # closed, nothing answered

        def log_text():
            with open(log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")

        wait_for(lambda: "refused" in log_text())
        text = log_text()
        assert "FastCGI connection from 127.0.0.1 refused: not in FCGI_WEB_SERVER_ADDRS" in text, (
            text
        )
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 0


def test_a_listed_web_server_address_is_served(tmp_path):
    server = FcgiServer(
        tmp_path, kind="tcp", env={"FCGI_WEB_SERVER_ADDRS": "192.0.2.1,127.0.0.1"}
    ).start()
    try:
        served_after(server)
    finally:
        server.stop()


def test_a_management_record_while_the_response_streams_is_answered(unix_server):
    with fc.connect(unix_server.address) as sock:
        reader = fc.Reader(sock)
        sock.sendall(
            fc.request_bytes({"PATH_INFO": "/stream", "QUERY_STRING": "n=40&every=0.01"}, keep=True)
        )
        first = reader.record()
        assert first[0] == fc.STDOUT  # the response is under way
        sock.sendall(rec(fc.GET_VALUES, 0, fc.nv([(b"FCGI_MPXS_CONNS", b"")])))
        r = fc.read_response(reader, 1)
        assert r.protocol_status == 0
        assert (fc.GET_VALUES_RESULT, 0, fc.nv([(b"FCGI_MPXS_CONNS", b"0")])) in r.records
        assert len(first[2] + r.stdout) > 40 * 4096  # head and every block arrived


def test_other_records_of_the_request_before_its_stdin_are_skipped(unix_server):
    # An FCGI_DATA stream (filter role only) sent to a responder: ignored,
    # the body still read from STDIN.
    with fc.connect(unix_server.address) as sock:
        sock.sendall(
            fc.begin(1)
            + fc.params(1, dict(fc.BASE, PATH_INFO="/echo", CONTENT_LENGTH="4"))
            + rec(8, 1, b"data stream")  # FCGI_DATA
            + fc.stdin(1, b"body")
        )
        r = fc.read_response(fc.Reader(sock), 1)
    assert (r.status, r.body) == (200, b"body")


def test_past_256_idle_kept_connections_the_oldest_is_closed(tmp_path):
    server = FcgiServer(tmp_path).start()
    kept = []
    try:
        for i in range(257):
            sock = fc.connect(server.address)
            sock.sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"%d" % i, keep=True))
            assert fc.read_response(fc.Reader(sock), 1).body == b"%d" % i
            kept.append(sock)
        # The first one is closed by the server; the newest still serves.
        assert fc.Reader(kept[0]).record() is None
        kept[-1].sendall(fc.request_bytes({"PATH_INFO": "/echo"}, b"last", rid=2, keep=True))
        assert fc.read_response(fc.Reader(kept[-1]), 2).body == b"last"
        assert server.alive()
    finally:
        for sock in kept:
            sock.close()
        server.stop()


def reset(sock):
    """Close with a TCP RST (SO_LINGER 0), as a crashed web server does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_a_reset_while_the_params_arrive_is_one_log_line(tcp_server):
    server = tcp_server
    before = server.baseline
    mark = server.mark()
    sock = fc.connect(server.address)
    sock.sendall(fc.begin(1) + PARAMS_RECORD)  # the PARAMS stream not ended
    time.sleep(0.2)  # the server is reading the next record
    reset(sock)
    lines = server.wait_lines(mark)
    assert len(lines) == 1, lines
    assert "Connection reset by peer" in lines[0], lines
    served_after(server)
    assert server.settled_counts(before) == before


def test_a_reset_while_the_response_streams_closes_the_iterable_with_one_log_line(tcp_server):
    server = tcp_server
    marker = os.path.join(server.tmp, "reset-stream")
    before = server.baseline
    mark = server.mark()
    sock = fc.connect(server.address)
    reader = fc.Reader(sock)
    sock.sendall(
        fc.request_bytes({"PATH_INFO": "/stream", "PROBE_MARKER": marker}, rid=1, keep=True)
    )
    for _ in range(3):
        assert reader.record()[:2] == (fc.STDOUT, 1)
    reset(sock)
    assert wait_for(lambda: os.path.exists(marker)), "close() not called"
    lines = server.wait_lines(mark)
    assert len(lines) == 1, lines
    assert "reset" in lines[0] or "went away" in lines[0] or "lost" in lines[0], lines
    served_after(server)
    assert server.settled_counts(before) == before
