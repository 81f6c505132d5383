"""A raw FastCGI client for the tests: records written by hand (not with
wsgicgi's own encoder, so that a shared mistake cannot hide), read back
one by one."""

import socket
import struct

(
    BEGIN,
    ABORT,
    END,
    PARAMS,
    STDIN,
    STDOUT,
    STDERR,
    DATA,
    GET_VALUES,
    GET_VALUES_RESULT,
    UNKNOWN_TYPE,
) = range(1, 12)


def rec(rtype, rid, content=b"", version=1, padding=None):
    pad = (-len(content)) % 8 if padding is None else padding
    return struct.pack(">BBHHBB", version, rtype, rid, len(content), pad, 0) + content + b"\0" * pad


def nv(pairs):
    out = b""
    for name, value in pairs:
        for item in (name, value):
            out += (
                bytes([len(item)]) if len(item) < 128 else struct.pack(">I", len(item) | 0x80000000)
            )
        out += name + value
    return out


def begin(rid=1, role=1, keep=False):
    return rec(BEGIN, rid, struct.pack(">HB5x", role, 1 if keep else 0))


def params(rid, env):
    pairs = [
        (
            k.encode("latin-1") if isinstance(k, str) else k,
            v.encode("latin-1") if isinstance(v, str) else v,
        )
        for k, v in env.items()
    ]
    data = nv(pairs)
    out = b""
    for i in range(0, len(data), 65535):
        out += rec(PARAMS, rid, data[i : i + 65535])
    return out + rec(PARAMS, rid)


def stdin(rid, body):
    out = b""
    for i in range(0, len(body), 65535):
        out += rec(STDIN, rid, body[i : i + 65535])
    return out + rec(STDIN, rid)


BASE = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/",
    "QUERY_STRING": "",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "GATEWAY_INTERFACE": "CGI/1.1",
}


def request_bytes(env=None, body=b"", rid=1, keep=False, base=True):
    """A whole request; ``base=False`` sends ``env`` alone (no defaults)."""
    e = dict(BASE) if base else {}
    e.update(env or {})
    if body and "CONTENT_LENGTH" not in e:
        e["CONTENT_LENGTH"] = str(len(body))
    return begin(rid, keep=keep) + params(rid, e) + stdin(rid, body)


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _need(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(1 << 16)
            if not data:
                return False
            self.buf += data
        return True

    def record(self):
        """(type, id, content), or None at EOF."""
        if not self._need(8):
            return None
        version, rtype, rid, length, pad, _ = struct.unpack(">BBHHBB", self.buf[:8])
        assert version == 1, version
        if not self._need(8 + length + pad):
            raise AssertionError("EOF inside a record")
        content = self.buf[8 : 8 + length]
        self.buf = self.buf[8 + length + pad :]
        return rtype, rid, content


class Result:
    def __init__(self):
        self.stdout = b""
        self.stderr = b""
        self.app_status = None
        self.protocol_status = None
        self.records = []

    @property
    def head(self):
        return self.stdout.split(b"\r\n\r\n", 1)[0].decode("latin-1")

    @property
    def body(self):
        return self.stdout.split(b"\r\n\r\n", 1)[1]

    @property
    def status(self):
        first = self.head.split("\r\n", 1)[0]
        assert first.startswith("Status: "), first
        return int(first[8:11])

    def header(self, name):
        for line in self.head.split("\r\n")[1:]:
            key, _, value = line.partition(": ")
            if key.lower() == name.lower():
                return value
        return None


def read_response(reader, rid=1):
    """Records up to this request's END_REQUEST."""
    result = Result()
    while True:
        r = reader.record()
        if r is None:
            raise AssertionError(
                "connection closed before END_REQUEST; got %r" % (result.records[-5:],)
            )
        result.records.append(r)
        rtype, got_id, content = r
        if got_id != rid:
            continue
        if rtype == STDOUT:
            result.stdout += content
        elif rtype == STDERR:
            result.stderr += content
        elif rtype == END:
            result.app_status, result.protocol_status = struct.unpack(">IB3x", content)
            return result


def connect(address, timeout=30):
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(address)
    return sock


def request(address, env=None, body=b"", rid=1, base=True):
    """One request on its own connection."""
    with connect(address) as sock:
        sock.sendall(request_bytes(env, body, rid, base=base))
        return read_response(Reader(sock), rid)


def send_quietly(sock, data):
    """Send what the server may refuse halfway (it closes the connection):
    True when all of it went out."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def read_to_eof(sock):
    """Everything until the server closes the connection (b"" if at once);
    a reset counts as a close."""
    out = b""
    while True:
        try:
            data = sock.recv(1 << 16)
        except ConnectionResetError:
            return out
        if not data:
            return out
        out += data
