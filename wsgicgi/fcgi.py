"""The FastCGI 1.0 wire format: records and name-value pairs.

Only the bytes: building records, splitting a stream of them, encoding and
decoding the name-value pairs of PARAMS and GET_VALUES.  What a connection
does with them is ``fcgiserver``'s job.  Section numbers are those of the
FastCGI Specification (Open Market, 1996).
"""

from __future__ import annotations

import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Union

    # What a stream's records hold: headers, padding, the data or its views.
    Buffer = Union[bytes, memoryview]

__all__ = [
    "ProtocolError",
    "RecordReader",
    "decode_native",
    "decode_pairs",
    "encode_pairs",
    "end_request",
    "record",
    "stream",
]

VERSION = 1
# §8: record types.  1-8 belong to a request, 9-11 to the application.
BEGIN_REQUEST = 1
ABORT_REQUEST = 2
END_REQUEST = 3
PARAMS = 4
STDIN = 5
STDOUT = 6
STDERR = 7
DATA = 8
GET_VALUES = 9
GET_VALUES_RESULT = 10
UNKNOWN_TYPE = 11
MANAGEMENT_TYPES = (GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE)
# §5.1 roles, the BEGIN_REQUEST flag, §5.5 protocol statuses.
RESPONDER = 1
AUTHORIZER = 2
FILTER = 3
KEEP_CONN = 1
REQUEST_COMPLETE = 0
CANT_MPX_CONN = 1
OVERLOADED = 2
UNKNOWN_ROLE = 3

HEADER = struct.Struct(">BBHHBx")
BEGIN_BODY = struct.Struct(">HB5x")
END_BODY = struct.Struct(">IB3x")
# The largest record content that needs no padding (§3.3 recommends
# 8-byte alignment; 65535 is the format's limit).
STREAM_BLOCK = 65528
_PADDING = (b"", b"\0" * 7, b"\0" * 6, b"\0" * 5, b"\0" * 4, b"\0" * 3, b"\0" * 2, b"\0")


class ProtocolError(ValueError):
    """The peer sent bytes that are not FastCGI: the connection is closed."""


def record(rtype: int, request_id: int, content: bytes = b"") -> bytes:
    """One record (§3.3) holding ``content`` (at most 65535 bytes), padded
    to a multiple of 8 bytes."""
    pad = _PADDING[len(content) & 7]
    return HEADER.pack(VERSION, rtype, request_id, len(content), len(pad)) + content + pad


def stream(rtype: int, request_id: int, data: bytes) -> list[Buffer]:
    """``data`` (any size) as the records of stream ``rtype`` (STDOUT,
    STDERR): a list of buffers, ready for ``sendmsg``, without copying big
    data.  An empty ``data`` gives no record (an empty record would end the
    stream, §3.3)."""
    size = len(data)
    if size <= STREAM_BLOCK:
        if not size:
            return []
        pad = _PADDING[size & 7]
        return [HEADER.pack(VERSION, rtype, request_id, size, len(pad)), data, pad]
    view = memoryview(data)
    full = HEADER.pack(VERSION, rtype, request_id, STREAM_BLOCK, 0)
    parts: list[Buffer] = []
    start = 0
    while size - start > STREAM_BLOCK:
        parts += (full, view[start : start + STREAM_BLOCK])
        start += STREAM_BLOCK
    rest = size - start
    pad = _PADDING[rest & 7]
    parts += (HEADER.pack(VERSION, rtype, request_id, rest, len(pad)), view[start:], pad)
    return parts


def end_request(
    request_id: int, app_status: int = 0, protocol_status: int = REQUEST_COMPLETE
) -> bytes:
    """An END_REQUEST record (§5.5)."""
    return record(END_REQUEST, request_id, END_BODY.pack(app_status & 0xFFFFFFFF, protocol_status))


def _length(n: int) -> bytes:
    # §3.4: one byte below 128, else four with the high bit set.
    if n < 128:
        return bytes((n,))
    if n > 0x7FFFFFFF:
        raise ValueError("name or value too long for FastCGI: %d bytes" % n)
    return struct.pack(">I", n | 0x80000000)


def encode_pairs(pairs: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Name-value pairs (§3.4) from an iterable of ``(bytes, bytes)``."""
    return b"".join(
        _length(len(name)) + _length(len(value)) + name + value for name, value in pairs
    )


def decode_pairs(data: bytes) -> list[tuple[bytes, bytes]]:
    """The ``(name, value)`` byte pairs of a name-value block (§3.4)."""
    return [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in decode_native(data)
    ]


def decode_native(data: bytes) -> list[tuple[str, str]]:
    """The pairs of a name-value block (§3.4) as PEP 3333 native strings
    (each byte a latin-1 character), in order, duplicates kept.

    Raises ``ProtocolError`` when a length runs past the end of ``data``.
    """
    text = data.decode("latin-1")
    pairs: list[tuple[str, str]] = []
    append = pairs.append
    end = len(data)
    pos = 0
    while pos < end:
        n = data[pos]
        m = data[pos + 1] if pos + 1 < end else 0x80
        if n < 128 and m < 128:  # both lengths in one byte: the usual case
            pos += 2
        else:
            n, pos = _read_length(data, pos, end)
            m, pos = _read_length(data, pos, end)
        name_end = pos + n
        value_end = name_end + m
        if value_end > end:
            raise ProtocolError("name-value pair runs %d bytes past its block" % (value_end - end))
        append((text[pos:name_end], text[name_end:value_end]))
        pos = value_end
    return pairs


def _read_length(data: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos >= end:
        raise ProtocolError("name-value pair truncated at byte %d" % pos)
    n = data[pos]
    if n < 128:
        return n, pos + 1
    if pos + 4 > end:
        raise ProtocolError("name-value length truncated at byte %d" % pos)
    return int.from_bytes(data[pos : pos + 4], "big") & 0x7FFFFFFF, pos + 4


class RecordReader:
    """Splits the bytes a connection receives into records.

    ``read()`` returns ``(type, request_id, content)``, or ``None`` when the
    peer closed the connection between two records.  A record cut short by
    the end of the stream, or of a version other than 1, raises
    ``ProtocolError``.  Bytes are received into one buffer per connection
    (``recv_into``), so a stream of 64 KiB records makes no temporary
    blocks: under threads such blocks fragmented the heap and the RSS of a
    long-running process grew.  A plain ``recv`` works too.
    """

    __slots__ = ("_buf", "_end", "_pos", "_recv_into")

    def __init__(
        self,
        recv: Callable[[int], bytes] | None = None,
        recv_into: Callable[[memoryview], int] | None = None,
    ) -> None:
        if recv_into is None:
            if recv is None:
                raise TypeError("RecordReader needs recv or recv_into")
            given: Callable[[int], bytes] = recv

            def recv_into(view: memoryview, recv: Callable[[int], bytes] = given) -> int:
                data = recv(len(view))
                view[: len(data)] = data
                return len(data)

        self._recv_into = recv_into
        self._buf = bytearray(1 << 12)
        self._pos = 0
        self._end = 0

    def pending(self) -> bool:
        """True when a whole record header is already buffered."""
        return self._end - self._pos >= 8

    def peek(self) -> tuple[int, int, int] | None:
        """``(type, request_id, content length)`` of the next record, left
        unread; None when the peer closed the connection between records."""
        if self._end - self._pos < 8 and not self._fill(8):
            return None
        _, rtype, request_id, length, _ = HEADER.unpack_from(self._buf, self._pos)
        return rtype, request_id, length

    def started(self) -> bool:
        """True when some bytes of the next record are already buffered."""
        return self._end > self._pos

    def read(self) -> tuple[int, int, bytes] | None:
        if self._end - self._pos < 8 and not self._fill(8):
            return None
        buf = self._buf
        pos = self._pos
        version, rtype, request_id, length, padding = HEADER.unpack_from(buf, pos)
        if version != VERSION:
            raise ProtocolError("record of version %d, not 1 (not a FastCGI peer?)" % version)
        total = 8 + length + padding
        if self._end - pos < total:
            if not self._fill(total):
                raise ProtocolError("connection closed inside a record")
            buf = self._buf
            pos = self._pos
        with memoryview(buf) as view:
            content = bytes(view[pos + 8 : pos + 8 + length])
        pos += total
        if pos == self._end:
            self._pos = self._end = 0
        else:
            self._pos = pos
        return rtype, request_id, content

    def _fill(self, need: int) -> bool:
        # Receive until ``need`` bytes from _pos are buffered; False at EOF
        # with nothing buffered.  State stays consistent if recv raises (a
        # read timeout: the server may read again).
        buf = self._buf
        pos, end = self._pos, self._end
        if len(buf) - pos < need:
            have = end - pos
            if len(buf) < need:
                grown = bytearray(max(need, 1 << 17))
                grown[:have] = buf[pos:end]
                self._buf = buf = grown
            else:
                buf[:have] = buf[pos:end]
            self._pos, self._end = pos, end = 0, have
        while end - pos < need:
            with memoryview(buf) as view, view[end:] as room:
                n = self._recv_into(room)
            if not n:
                if end == pos:
                    return False
                raise ProtocolError(
                    "connection closed inside a record (%d of %d bytes)" % (end - pos, need)
                )
            end += n
            self._end = end
        return True
