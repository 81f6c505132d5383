"""atheris target: one FastCGI connection (wsgicgi.fcgiserver.Connection)
fed arbitrary bytes over a real socketpair, served until it is closed.

The bytes are mostly well-formed records (requests of every role, params,
stdin, aborts, management records, a second request id) with fuzzed
contents, then arbitrary bytes.  Whatever arrives, Connection.serve_next()
returns (never raises, never hangs), what it wrote is whole version-1
records, and it logs at most one line about the connection.
"""

import io
import socket
import struct
import sys
import threading

import _setup  # noqa: F401
import atheris

with atheris.instrument_imports(include=["wsgicgi"]):
    from wsgicgi import fcgi, fcgiserver

LOG = []
fcgiserver._log = LOG.append  # the process's log, counted per connection
# A listener nobody connects to (a kept connection polls it to yield).
LISTENER = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
LISTENER.bind("\0wsgicgi-fuzz-fcgiconn-%d" % id(LOG))
LISTENER.listen(1)


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    stream = environ["wsgi.input"]
    if path.startswith("/line"):
        body = b"".join(iter(stream.readline, b""))
    elif path.startswith("/some"):
        body = stream.read(10) + stream.read(3)
    else:
        body = stream.read()
    environ["wsgi.errors"].write("app log %d\n" % len(body))
    if path.startswith("/raise"):
        raise RuntimeError("boom")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"got ", str(len(body)).encode(), b"\n"]


def rec(rtype, rid, content=b"", pad=None):
    pad = (-len(content)) % 8 if pad is None else pad
    return struct.pack(">BBHHBx", 1, rtype, rid, len(content), pad) + content + b"\0" * pad


def fuzzed_stream(fdp):
    out = []
    for _ in range(fdp.ConsumeIntInRange(0, 12)):
        kind = fdp.ConsumeIntInRange(0, 9)
        rid = fdp.PickValueInList([1, 1, 1, 2, 0, 65535])
        if kind == 0:
            role = fdp.PickValueInList([1, 1, 2, 3, 0, 9])
            out.append(
                rec(
                    1,
                    rid,
                    struct.pack(">HB5x", role, fdp.ConsumeIntInRange(0, 255))[
                        : fdp.ConsumeIntInRange(0, 8)
                    ],
                )
            )
        elif kind == 1:  # PARAMS made of pairs, maybe cut
            pairs = [(b"PATH_INFO", fdp.PickValueInList([b"/", b"/line", b"/some", b"/raise"]))]
            for _ in range(fdp.ConsumeIntInRange(0, 3)):
                pairs.append(
                    (
                        fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 140)),
                        fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 140)),
                    )
                )
            block = fcgi.encode_pairs(pairs)
            if fdp.ConsumeBool():
                block = block[: fdp.ConsumeIntInRange(0, len(block))]
            out.append(rec(4, rid, block))
        elif kind in (2, 3):  # an empty record: ends PARAMS or STDIN
            out.append(rec(4 if kind == 2 else 5, rid))
        elif kind == 4:
            out.append(rec(5, rid, fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200))))
        elif kind == 5:
            out.append(rec(2, rid))
        elif kind == 6:  # management
            mtype = fdp.PickValueInList([9, 9, 10, 11, 12, 200])
            names = fcgi.encode_pairs(
                [(n, b"") for n in (b"FCGI_MAX_CONNS", b"FCGI_MPXS_CONNS", b"X")]
            )
            out.append(
                rec(
                    mtype,
                    0,
                    names if fdp.ConsumeBool() else fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 30)),
                )
            )
        elif kind == 7:
            out.append(
                rec(
                    fdp.ConsumeIntInRange(0, 255),
                    rid,
                    fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 20)),
                )
            )
        elif kind == 8:
            out.append(rec(6, rid, b"x", pad=fdp.ConsumeIntInRange(0, 255)))
        else:
            out.append(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 20)))
    out.append(fdp.ConsumeBytes(fdp.remaining_bytes()))
    return b"".join(out)


def check_output(raw):
    pos = 0
    while pos < len(raw):
        assert len(raw) - pos >= 8, raw[pos:]
        version, rtype, _rid, length, padding = fcgi.HEADER.unpack_from(raw, pos)
        assert version == 1 and rtype in (3, 6, 7, 10, 11), (version, rtype)
        pos += 8 + length + padding
        assert pos <= len(raw), "record cut"


def TestOneInput(data):
    fdp = atheris.FuzzedDataProvider(data)
    stream = fuzzed_stream(fdp)
    server = fcgiserver.Server(
        app, LISTENER, read_timeout=None, max_params=fdp.PickValueInList([1 << 20, 64])
    )
    ours, theirs = socket.socketpair()
    received = []

    def feed():
        try:
            theirs.sendall(stream)
            theirs.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server closed first

    def drain():
        while True:
            chunk = theirs.recv(1 << 16)
            if not chunk:
                return
            received.append(chunk)

    threads = [threading.Thread(target=feed), threading.Thread(target=drain)]
    for t in threads:
        t.start()
    del LOG[:]
    saved, sys.stderr = sys.stderr, io.StringIO()
    try:
        conn = fcgiserver.Connection(ours, server)
        while conn.serve_next():  # True: kept open, more may come
            pass
        printed = sys.stderr.getvalue()
    finally:
        sys.stderr = saved
        ours.close()
        for t in threads:
            t.join()
        theirs.close()
    check_output(b"".join(received))
    # One line when the connection ends badly.  (Each aborted request adds
    # its own "client went away" line, and the app's wsgi.errors lines go to
    # the process's stderr too once the peer is gone.)
    assert len(LOG) <= 1, (LOG, printed)


def main():
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
