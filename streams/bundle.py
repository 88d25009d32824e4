"""Bundles: many keyed records in one Kafka message, for the internal activity topic.

The threads agent re-keys every feed-relevant content event by its actor so that the authors
agent sees each author's activity in order. One Kafka record per event made the re-keying cost
as much as reading the event in the first place (a Faust message, an aiokafka send and a broker
record each). A bundle carries every event of a batch that maps to one partition instead; the
authors agent unpacks it and treats each entry as if it had arrived alone. Entries keep the
order they were packed in, and every entry of a bundle belongs to the bundle's partition.

Layout: ``MAGIC``, then per entry a 4-byte big-endian key length, the key, a 4-byte value
length and the value. Pure: no Kafka here.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from schemas.errors import DecodeError

MAGIC = b"HBB1"
_LEN = struct.Struct(">I")


def pack(entries: Iterable[tuple[bytes, bytes]]) -> bytes:
    """One bundle of ``(key, value)`` entries, in order."""
    parts = [MAGIC]
    for key, value in entries:
        parts += (_LEN.pack(len(key)), key, _LEN.pack(len(value)), value)
    return b"".join(parts)


def unpack(data: bytes) -> list[tuple[bytes, bytes]]:
    """The ``(key, value)`` entries of a bundle; ``DecodeError`` naming the offset if it is not
    one (wrong magic, or a length that runs past the end)."""
    if not data.startswith(MAGIC):
        raise DecodeError(f"not a bundle: starts with {data[:4]!r}, expected {MAGIC!r}")
    entries: list[tuple[bytes, bytes]] = []
    at, end = len(MAGIC), len(data)
    view = memoryview(data)
    while at < end:
        fields: list[bytes] = []
        for what in ("key", "value"):
            if at + _LEN.size > end:
                raise DecodeError(f"bundle truncated in the {what} length at byte {at}")
            (size,) = _LEN.unpack_from(view, at)
            at += _LEN.size
            if at + size > end:
                raise DecodeError(
                    f"bundle truncated: {what} of entry {len(entries)} needs {size} bytes "
                    f"at byte {at}, {end - at} left"
                )
            fields.append(bytes(view[at : at + size]))
            at += size
        entries.append((fields[0], fields[1]))
    return entries
