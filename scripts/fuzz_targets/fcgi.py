"""atheris target: the FastCGI wire format (wsgicgi.fcgi) on arbitrary bytes.

The input is a stream of records received in fuzzed pieces, interrupted by
fuzzed read timeouts.  Whatever the bytes, RecordReader gives records or
raises ProtocolError (never another exception, never a hang), and gives the
same records whatever the chunking (peek() announcing each); decode_pairs gives pairs or raises
ProtocolError, and pairs encoded again decode to the same pairs.
"""

import socket
import sys

import _setup  # noqa: F401  (sys.path, instrumentation of what it imports)
import atheris

with atheris.instrument_imports(include=["wsgicgi"]):
    from wsgicgi import fcgi

ProtocolError = fcgi.ProtocolError


def records_of(stream, sizes=(), timeouts=(), peek=False):
    """Every record RecordReader finds in ``stream`` received in ``sizes``
    pieces (then whole), with a timeout before the recv numbered in
    ``timeouts`` (each retried, as the server retries an idle read).
    Returns (records, error or None)."""
    state = {"pos": 0, "calls": 0}
    sizes = list(sizes)
    timeouts = set(timeouts)

    def recv(n):
        assert n > 0, n
        state["calls"] += 1
        if state["calls"] in timeouts:
            raise socket.timeout("timed out")
        size = sizes.pop(0) if sizes else n
        size = max(1, min(size, n))
        data = stream[state["pos"] : state["pos"] + size]
        state["pos"] += len(data)
        return data

    reader = fcgi.RecordReader(recv)
    records = []
    for _ in range(len(stream) + len(timeouts) + 2):  # a record is at least 8 bytes: bounded
        try:
            head = reader.peek() if peek else False
            rec = reader.read()
        except socket.timeout:
            continue
        except ProtocolError as exc:
            return records, exc
        if rec is None:
            assert not head, head
            return records, None
        rtype, rid, content = rec
        assert head in (False, (rtype, rid, len(content))), (head, rec)
        assert 0 <= rtype <= 255 and 0 <= rid <= 65535 and len(content) <= 65535
        records.append((rtype, rid, bytes(content)))
    raise AssertionError("RecordReader did not end on %d bytes" % len(stream))


def check_pairs(block):
    try:
        pairs = fcgi.decode_pairs(block)
    except ProtocolError:
        return
    for name, value in pairs:
        assert type(name) is bytes and type(value) is bytes
    again = fcgi.decode_pairs(fcgi.encode_pairs(pairs))
    assert again == pairs, (again, pairs)


def TestOneInput(data):
    fdp = atheris.FuzzedDataProvider(data)
    sizes = [fdp.ConsumeIntInRange(1, 300) for _ in range(fdp.ConsumeIntInRange(0, 16))]
    timeouts = [fdp.ConsumeIntInRange(1, 40) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    stream = fdp.ConsumeBytes(fdp.remaining_bytes())

    check_pairs(stream)
    whole, error = records_of(stream)
    pieces, error2 = records_of(stream, sizes, timeouts, peek=bool(sizes) and sizes[0] & 1)
    assert pieces == whole, (pieces, whole)
    assert (error is None) == (error2 is None), (error, error2)
    for _, _, content in whole:
        check_pairs(content)
    # Records written back by wsgicgi's own encoder read back the same.
    rewritten = b"".join(fcgi.record(t, r, c) for t, r, c in whole)
    assert records_of(rewritten) == (whole, None)


def main():
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
