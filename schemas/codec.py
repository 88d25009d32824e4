"""Bytes and JSON for events: Avro single-object encoding, Kafka record headers, a JSON form.

Wire format (Avro spec, "single-object encoding")::

    C3 01 | CRC-64-AVRO of the writer schema's Parsing Canonical Form, 8 bytes little-endian | body

where the body is the Avro binary encoding of the record under the writer schema. ``encode`` always
writes the current schema of the event's type. ``decode`` accepts any schema this build knows (the
current one or any released in ``avro/history``), resolves the data into the current schema of that
type (fields added since are filled with their defaults) and builds the typed event.

The framing is pluggable: ``Framing`` turns a schema version into a header and a message back into
(schema version, body offset). Only ``SINGLE_OBJECT`` exists today; a Confluent Schema Registry
framing (0x00 + 4-byte big-endian schema id) would be another ``Framing`` that maps ids to versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from operator import attrgetter
from struct import error as StructError
from typing import Any, Final, Protocol
from uuid import UUID

from fastavro import schemaless_reader, schemaless_writer

from schemas import registry
from schemas.errors import DecodeError, InvalidEvent, UnknownSchema
from schemas.events import EVENT_TYPES, Event
from schemas.registry import SchemaVersion

MAGIC: Final = b"\xc3\x01"
"""The two bytes that open every single-object encoded message."""

SINGLE_OBJECT_HEADER_SIZE: Final = 10


class Framing(Protocol):
    """How a message names its writer schema. Implementations must be stateless and thread-safe."""

    def header(self, version: SchemaVersion) -> bytes:
        """The bytes written before the Avro body of a message written with ``version``."""
        ...

    def writer_of(self, data: bytes) -> tuple[SchemaVersion, int]:
        """The writer schema of ``data`` and the offset its body starts at.

        Raises ``DecodeError`` for a malformed header, ``UnknownSchema`` for an unknown schema.
        """
        ...


class SingleObjectFraming:
    """Avro single-object encoding: magic C3 01 plus the writer schema's 8-byte fingerprint."""

    def __init__(self, versions: tuple[SchemaVersion, ...]) -> None:
        # Versions are ordered oldest first, so if two versions of a type share a canonical form
        # (they differ only in docs or defaults) the newest wins; either reads the data correctly.
        self._by_fingerprint = {v.fingerprint: v for v in versions}
        self._headers = {id(v): MAGIC + v.fingerprint for v in versions}

    def header(self, version: SchemaVersion) -> bytes:
        cached = self._headers.get(id(version))
        return cached if cached is not None else MAGIC + version.fingerprint

    def writer_of(self, data: bytes) -> tuple[SchemaVersion, int]:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise DecodeError(
                f"expected the bytes of a message, got {type(data).__name__} "
                "(a tombstone or an already-decoded value?)"
            )
        if len(data) < SINGLE_OBJECT_HEADER_SIZE:
            raise DecodeError(
                f"message is {len(data)} bytes, shorter than the 10-byte single-object header; "
                "it was truncated or is not a Hubbub event"
            )
        if data[:2] != MAGIC:
            raise DecodeError(
                f"message starts with {bytes(data[:2]).hex()}, not the single-object magic c301; "
                "it is not an Avro single-object encoded Hubbub event"
            )
        fingerprint = bytes(data[2:SINGLE_OBJECT_HEADER_SIZE])
        version = self._by_fingerprint.get(fingerprint)
        if version is None:
            raise UnknownSchema(fingerprint)
        return version, SINGLE_OBJECT_HEADER_SIZE

    def fingerprints(self) -> dict[bytes, SchemaVersion]:
        return dict(self._by_fingerprint)


SINGLE_OBJECT: Final = SingleObjectFraming(registry.all_versions())


@dataclass(frozen=True, slots=True)
class _TypeCodec:
    """What encode/decode/JSON need to know about one event type, computed once."""

    cls: type[Event]
    current: SchemaVersion
    names: tuple[str, ...]
    values: attrgetter[Any]
    arrays: frozenset[str]
    times: frozenset[str]
    required: frozenset[str]
    headers: tuple[tuple[str, bytes], ...]  # the record headers every event of the type shares


def _type_codec(cls: type[Event]) -> _TypeCodec:
    from dataclasses import MISSING, fields

    version = registry.current(cls.event_type)
    avro_fields = version.schema["fields"]
    names = tuple(f["name"] for f in avro_fields)
    arrays = set()
    times = set()
    for f in avro_fields:
        kind = f["type"]
        if isinstance(kind, dict) and kind.get("type") == "array":
            arrays.add(f["name"])
        if isinstance(kind, dict) and kind.get("logicalType") == "timestamp-millis":
            times.add(f["name"])
    required = {
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    }
    # A JSON or decoded event always carries its id: a generated one would break deduplication.
    required.add("event_id")
    return _TypeCodec(
        cls=cls,
        current=version,
        names=names,
        values=attrgetter(*names),
        arrays=frozenset(arrays),
        times=frozenset(times),
        required=frozenset(required),
        headers=(
            ("event_type", cls.event_type.encode()),
            ("schema_fingerprint", version.fingerprint.hex().encode()),
        ),
    )


_CODECS: Final = {name: _type_codec(cls) for name, cls in EVENT_TYPES.items()}
_CODECS_BY_CLASS: Final = {c.cls: c for c in _CODECS.values()}


def _codec_for(event: Event) -> _TypeCodec:
    codec = _CODECS_BY_CLASS.get(type(event))
    if codec is None:
        raise TypeError(f"{type(event).__name__} is not one of the event types in EVENT_TYPES")
    return codec


def _record(codec: _TypeCodec, event: Event) -> dict[str, Any]:
    # Tuples stay tuples: fastavro writes them as arrays, byte for byte as lists.
    return dict(zip(codec.names, codec.values(event), strict=True))


def encode(event: Event, *, framing: Framing = SINGLE_OBJECT) -> bytes:
    """The event as a single-object encoded Avro message under the current schema of its type.

    Cheap enough for the publish hot path: no copies of the event beyond one flat dict. Raises
    ``TypeError`` for an object that is not one of ``EVENT_TYPES`` (events are validated when built,
    so a constructed event always encodes).
    """
    codec = _codec_for(event)
    buffer = BytesIO()
    buffer.write(framing.header(codec.current))
    schemaless_writer(buffer, codec.current.parsed, _record(codec, event))
    return buffer.getvalue()


def _build(codec: _TypeCodec, values: dict[str, Any]) -> Event:
    event_id = values.get("event_id")
    if isinstance(event_id, UUID):
        values["event_id"] = str(event_id)
    for name in codec.arrays:
        values[name] = tuple(values[name])
    return codec.cls(**values)


def decode(data: bytes, *, framing: Framing = SINGLE_OBJECT) -> Event:
    """The typed event in ``data``, read into the current schema of its type.

    Raises ``UnknownSchema`` (a ``DecodeError``) when the writer fingerprint is not known to this
    build, ``DecodeError`` when the header or body is malformed, truncated or followed by extra
    bytes, and ``InvalidEvent`` when the body decodes but breaks the event contract (a producer
    that bypassed validation). Both are permanent: retrying cannot help.
    """
    version, offset = framing.writer_of(data)
    codec = _CODECS[version.event_type]
    reader = None if version is codec.current else codec.current.parsed
    body = BytesIO(data)
    body.seek(offset)
    try:
        values = schemaless_reader(body, version.parsed, reader)
    except (EOFError, StructError, ValueError, IndexError, OverflowError) as exc:
        # UnicodeDecodeError is a ValueError: invalid UTF-8 in a string field lands here too.
        raise DecodeError(
            f"{version.event_type} v{version.version} body does not decode "
            f"({type(exc).__name__}: {exc}); the message is truncated or corrupt"
        ) from exc
    if body.tell() != len(data):
        raise DecodeError(
            f"{version.event_type} v{version.version} message has {len(data) - body.tell()} "
            "bytes after its body; it is corrupt or not single-object encoded"
        )
    if not isinstance(values, dict):
        raise DecodeError(f"{version.event_type} body is not a record")
    return _build(codec, values)


def peek_event_type(data: bytes, *, framing: Framing = SINGLE_OBJECT) -> str:
    """The event type of a message from its header alone, without decoding the body.

    Raises like ``decode`` does for the header.
    """
    version, _ = framing.writer_of(data)
    return version.event_type


def fingerprint_of(event_type: str) -> bytes:
    """The 8 fingerprint bytes (as they appear on the wire) of the current schema of a type.

    Raises ``KeyError`` for an unknown event type.
    """
    return registry.current(event_type).fingerprint


def writer_schema_fingerprints() -> dict[bytes, tuple[str, int]]:
    """Every fingerprint ``decode`` accepts, mapped to (event type, schema version)."""
    return {fp: (v.event_type, v.version) for fp, v in SINGLE_OBJECT.fingerprints().items()}


def record_headers(event: Event) -> list[tuple[str, bytes]]:
    """Kafka record headers for an event: ``event_type``, ``schema_fingerprint`` (hex of the wire
    fingerprint bytes) and ``event_id``, all UTF-8. Lets consumers route or drop without decoding.
    """
    return [*_codec_for(event).headers, ("event_id", event.event_id.encode())]


def to_json(event: Event) -> dict[str, Any]:
    """A JSON-ready dict: ``"type"`` plus every field; times as ISO-8601 with offset and
    milliseconds (e.g. ``2024-05-01T12:00:00.123+00:00``), tuples as lists."""
    codec = _codec_for(event)
    out: dict[str, Any] = {"type": event.event_type}
    for name, value in zip(codec.names, codec.values(event), strict=True):
        if name in codec.times:
            value = value.isoformat(timespec="milliseconds")
        elif name in codec.arrays:
            value = list(value)
        out[name] = value
    return out


def from_json(obj: Mapping[str, Any]) -> Event:
    """The event described by a ``to_json`` dict.

    Every field without a default (and ``event_id``) must be present; unknown fields are refused
    rather than dropped. Raises ``InvalidEvent`` naming the field: unknown ``type``, missing field,
    unknown field, a time that is not an ISO-8601 string with an offset, or any contract violation.
    """
    if not isinstance(obj, Mapping):
        raise InvalidEvent("Event", "type", f"expected a JSON object, got {type(obj).__name__}")
    if "type" not in obj:
        raise InvalidEvent("Event", "type", "missing field: say which event type this is")
    event_type = obj.get("type")
    codec = _CODECS.get(event_type) if isinstance(event_type, str) else None
    if codec is None:
        raise InvalidEvent(
            str(event_type), "type", f"unknown event type; expected one of {', '.join(_CODECS)}"
        )
    raw_id = obj.get("event_id")
    event_id = raw_id if isinstance(raw_id, str) else None
    values: dict[str, Any] = {}
    for name, value in obj.items():
        if name == "type":
            continue
        if name not in codec.names:
            raise InvalidEvent(codec.cls.event_type, name, "unknown field", event_id=event_id)
        if name in codec.times:
            value = _parse_time(codec.cls.event_type, name, value, event_id)
        elif name in codec.arrays:
            if not isinstance(value, list):
                raise InvalidEvent(
                    codec.cls.event_type,
                    name,
                    f"must be a list, got {type(value).__name__}",
                    event_id=event_id,
                )
            value = tuple(value)
        values[name] = value
    for name in codec.names:
        if name in codec.required and name not in values:
            raise InvalidEvent(codec.cls.event_type, name, "missing field", event_id=event_id)
    return codec.cls(**values)


def _parse_time(event_type: str, name: str, value: Any, event_id: str | None) -> datetime:
    if not isinstance(value, str):
        raise InvalidEvent(
            event_type,
            name,
            f"must be an ISO-8601 string, got {type(value).__name__}",
            event_id=event_id,
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(
            event_type,
            name,
            f"{value[:64]!r} is not an ISO-8601 time (e.g. 2024-05-01T12:00:00.000+00:00)",
            event_id=event_id,
        ) from None
    if parsed.tzinfo is None:
        raise InvalidEvent(event_type, name, f"{value[:64]!r} has no UTC offset", event_id=event_id)
    return parsed
