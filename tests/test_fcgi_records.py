"""hypothesis properties of the FastCGI wire format (wsgicgi/fcgi.py).

Records and name-value pairs are also written by tests/fcgi_client.py's own
encoder, so that a mistake shared by the encoder and the decoder cannot hide.
"""

import socket
import struct

import fcgi_client as fc
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wsgicgi import fcgi
from wsgicgi.fcgi import ProtocolError, RecordReader

# Lengths around the 1-byte/4-byte boundary (§3.4: below 128 one byte).
short_bytes = st.binary(max_size=300)
pairs_strategy = st.lists(st.tuples(short_bytes, short_bytes), max_size=8)


def long_form(n):
    return struct.pack(">I", n | 0x80000000)


def feeder(data, sizes=(), timeouts=()):
    """A recv over ``data`` returning the ``sizes`` pieces in turn (then
    whatever is asked), raising a timeout on the calls numbered in
    ``timeouts`` (as SO_RCVTIMEO does)."""
    state = {"pos": 0, "calls": 0}
    sizes = list(sizes)
    timeouts = set(timeouts)

    def recv(n):
        assert n > 0
        state["calls"] += 1
        if state["calls"] in timeouts:
            raise socket.timeout("timed out")
        size = max(1, min(sizes.pop(0) if sizes else n, n))
        piece = data[state["pos"] : state["pos"] + size]
        state["pos"] += len(piece)
        return piece

    return recv


def read_all(data, sizes=(), timeouts=()):
    """(records, error) read from ``data``; each timeout is retried, as the
    server retries an idle read.  Never more reads than can make sense: a
    loop that does not end is a failure."""
    reader = RecordReader(feeder(data, sizes, timeouts))
    records = []
    for _ in range(len(data) + len(timeouts) + 2):
        try:
            rec = reader.read()
        except socket.timeout:
            continue
        except ProtocolError as exc:
            return records, exc
        if rec is None:
            return records, None
        records.append((rec[0], rec[1], bytes(rec[2])))
    raise AssertionError("RecordReader did not end")


# -- name-value pairs -------------------------------------------------------------


@given(pairs_strategy)
@example([(b"x" * 127, b"y" * 128)])
@example([(b"", b"")])
def test_pairs_round_trip(pairs):
    encoded = fcgi.encode_pairs(pairs)
    assert fcgi.decode_pairs(encoded) == pairs
    assert encoded == fc.nv(pairs)  # the client's independent encoder agrees
    native = fcgi.decode_native(encoded)
    assert native == [(n.decode("latin-1"), v.decode("latin-1")) for n, v in pairs]


@given(pairs_strategy, st.data())
def test_pairs_with_4_byte_lengths_for_short_items_decode_the_same(pairs, data):
    """§3.4 allows the 4-byte form for any length; a peer may use it even
    below 128."""
    out = b""
    for name, value in pairs:
        for item in (name, value):
            out += (
                long_form(len(item))
                if data.draw(st.booleans()) or len(item) >= 128
                else bytes([len(item)])
            )
        out += name + value
    assert fcgi.decode_pairs(out) == pairs


@given(st.integers(min_value=128, max_value=200000))
@settings(max_examples=25)
def test_long_values_round_trip(n):
    pairs = [(b"HTTP_X_LONG", b"v" * n), (b"N" * (n % 1000 + 128), b"")]
    assert fcgi.decode_pairs(fcgi.encode_pairs(pairs)) == pairs


@given(st.binary(max_size=600))
@example(b"\x05\x64ABCDE")  # a value runs past its block
@example(b"\x80\x00")  # a 4-byte length cut
@example(b"\x01")  # a name length alone
@example(b"\xff\xff\xff\xff\x01AB")  # a 2 GiB name
@example(b"\x00")  # one byte: the second length missing
def test_any_bytes_decode_to_pairs_or_a_protocol_error(data):
    try:
        pairs = fcgi.decode_pairs(data)
    except ProtocolError:
        return
    # What decodes is exactly the block: encoded again, its length matches
    # when the lengths were in their short form.
    total = sum(len(n) + len(v) for n, v in pairs)
    assert total <= len(data)
    assert fcgi.decode_pairs(fcgi.encode_pairs(pairs)) == pairs


# -- records ----------------------------------------------------------------------


@given(
    st.integers(min_value=0, max_value=300000),
    st.sampled_from([fcgi.STDOUT, fcgi.STDERR]),
    st.integers(1, 65535),
)
@example(0, fcgi.STDOUT, 1)
@example(65528, fcgi.STDOUT, 1)
@example(65529, fcgi.STDOUT, 1)
@example(65535, fcgi.STDOUT, 1)
@example(65528 * 3, fcgi.STDERR, 65535)
@settings(max_examples=60)
def test_stream_parsed_back_equals_the_input(size, rtype, rid):
    data = (bytes(range(251)) * (size // 251 + 1))[:size]
    wire = b"".join(bytes(p) for p in fcgi.stream(rtype, rid, data))
    assert len(wire) % 8 == 0  # §3.3: padded to 8 bytes
    records, error = read_all(wire)
    assert error is None
    assert all(
        t == rtype and r == rid and 0 < len(c) <= 65535 for t, r, c in records
    )  # an empty record would end the stream
    assert b"".join(c for _, _, c in records) == data


@given(
    st.lists(
        st.tuples(st.integers(0, 255), st.integers(0, 65535), st.binary(max_size=700)), max_size=6
    )
)
def test_record_round_trip_through_the_client_encoder(recs):
    ours = b"".join(fcgi.record(t, r, c) for t, r, c in recs)
    theirs = b"".join(fc.rec(t, r, c) for t, r, c in recs)
    assert ours == theirs
    assert read_all(ours) == (recs, None)


wire_strategy = st.lists(
    st.one_of(
        st.tuples(st.integers(0, 255), st.integers(0, 65535), st.binary(max_size=300)).map(
            lambda t: fc.rec(*t)
        ),
        st.tuples(st.integers(1, 11), st.binary(max_size=40), st.integers(0, 255)).map(
            lambda t: fc.rec(t[0], 1, t[1], padding=t[2])
        ),
        st.binary(max_size=20),
    ),
    max_size=8,
).map(b"".join)


@given(
    wire_strategy,
    st.lists(st.integers(1, 200), max_size=30),
    st.lists(st.integers(1, 40), max_size=4),
)
@example(b'"y%"', [1], [2])  # fuzz: bytes received before a timed-out recv were lost
@example(
    fc.rec(1, 1, b"\0\1\1\0\0\0\0\0") * 2, [8], [2]
)  # fuzz: the next read replayed the last record
def test_the_same_records_whatever_the_chunking_and_timeouts(wire, sizes, timeouts):
    whole = read_all(wire)
    pieces = read_all(wire, sizes, timeouts)
    assert pieces[0] == whole[0]
    assert (pieces[1] is None) == (whole[1] is None)


@given(st.binary(max_size=2000), st.lists(st.integers(1, 100), max_size=20))
@example(b"\x02\x01\x00\x01\x00\x08\x00\x00", [])  # version 2
@example(b"\x01\x01\x00\x01\x00\x08\x00", [])  # a header cut
@example(b"\x01\x06\x00\x01\xff\xff\xff\x00", [])  # a record cut
def test_any_bytes_give_records_or_a_protocol_error(data, sizes):
    records, error = read_all(data, sizes)  # never another exception, never a hang
    assert error is None or isinstance(error, ProtocolError)
    if error is None:
        # Whole records to the last byte: they are the input, written again
        # (with the peer's padding replaced by ours).
        assert read_all(b"".join(fcgi.record(*r) for r in records)) == (records, None)


@given(wire_strategy, st.lists(st.integers(1, 50), max_size=20))
def test_peek_announces_what_read_returns(wire, sizes):
    reader = RecordReader(feeder(wire, sizes))
    for _ in range(len(wire) + 2):
        try:
            head = reader.peek()
            if head is None:
                assert reader.read() is None
                return
            rec = reader.read()
        except ProtocolError:
            return
        assert head == (rec[0], rec[1], len(rec[2]))
    raise AssertionError("did not end")


def test_a_partial_header_is_started_not_pending():
    data = fc.rec(fc.BEGIN, 1, b"\0\1\0\0\0\0\0\0")
    reader = RecordReader(feeder(data, [3], [2]))
    assert not reader.started()
    try:
        reader.read()
    except socket.timeout:
        pass
    assert reader.started() and not reader.pending()
    assert reader.read() == (fc.BEGIN, 1, b"\0\1\0\0\0\0\0\0")
    assert not reader.started()


def test_lengths_past_2_gib_cannot_be_encoded():
    assert fcgi._length(0x7FFFFFFF) == long_form(0x7FFFFFFF)
    with pytest.raises(ValueError, match="too long for FastCGI: 2147483648 bytes"):
        fcgi._length(0x80000000)


def test_a_reader_needs_something_to_read_from():
    with pytest.raises(TypeError, match="recv or recv_into"):
        RecordReader()


def test_eof_inside_a_record_is_a_protocol_error():
    # A header announcing 16 bytes of content, then 3 bytes and EOF.
    wire = struct.pack(">BBHHBx", 1, fcgi.STDIN, 1, 16, 0) + b"abc"
    records, error = read_all(wire)
    assert records == []
    assert isinstance(error, ProtocolError) and "closed inside a record" in str(error)
