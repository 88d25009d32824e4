"""The wire codec: single-object layout, round trips, malformed input, headers, JSON."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import codec, registry
from schemas.errors import DecodeError, InvalidEvent, UnknownSchema
from schemas.events import EVENT_TYPES, Event
from schemas.registry import SchemaVersion
from tests.schemas.strategies import AT, EVENT_ID, any_event, events_of, example

AVRO = Path(__file__).resolve().parents[2] / "schemas" / "avro"


def crc64_avro_bitwise(data: bytes) -> int:
    """CRC-64-AVRO straight from the spec's definition, one bit at a time (no table)."""
    poly = 0xC15D213AA4D7A795
    fp = poly
    for byte in data:
        fp ^= byte
        for _ in range(8):
            fp = (fp >> 1) ^ (poly if fp & 1 else 0)
    return fp


def test_crc64_matches_the_spec_vector() -> None:
    # Fingerprint of the schema "null" from the Avro specification's test data.
    assert crc64_avro_bitwise(b'"null"') == 7195948357588979594
    assert registry.crc64_avro(b'"null"') == 7195948357588979594


def test_canonical_form_is_the_spec_form() -> None:
    canonical = registry.current("NotificationsSeen").canonical_form
    assert canonical == (
        '{"name":"dev.hubbub.events.NotificationsSeen","type":"record","fields":['
        '{"name":"event_id","type":"string"},{"name":"occurred_at","type":"long"},'
        '{"name":"tenant","type":"string"},{"name":"actor","type":"string"},'
        '{"name":"up_to_at","type":"long"}]}'
    )


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_single_object_layout(event_type: str) -> None:
    event = example(event_type)
    data = codec.encode(event)
    schema = json.loads((AVRO / f"{event_type}.avsc").read_text("utf-8"))
    canonical = to_parsing_canonical_form(schema)
    crc = crc64_avro_bitwise(canonical.encode())
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == crc.to_bytes(8, "little")
    assert data[2:10].hex() == fingerprint(canonical, "CRC-64-AVRO")
    assert codec.fingerprint_of(event_type) == data[2:10]
    body = BytesIO()
    record = codec.to_json(event)
    del record["type"]
    for name in ("occurred_at", "up_to_at"):
        if name in record:
            record[name] = getattr(event, name)
    schemaless_writer(body, parse_schema(schema), record)
    assert data[10:] == body.getvalue()
    assert len(data) == 10 + len(body.getvalue())


def _zigzag_varint(value: int) -> bytes:
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag >= 0x80:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def test_exact_bytes_of_one_message() -> None:
    millis = 1714564800123  # AT in epoch milliseconds
    assert AT.timestamp() * 1000 == millis
    body = (
        _zigzag_varint(36)
        + EVENT_ID.encode()
        + _zigzag_varint(millis)
        + b"\x08acme"  # strings: zigzag length, then UTF-8
        + b"\x0aalice"
        + b"\x06bob"
    )
    assert _zigzag_varint(36) == b"\x48"
    assert (
        codec.encode(example("Followed")) == b"\xc3\x01" + codec.fingerprint_of("Followed") + body
    )


@settings(max_examples=60, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_round_trip_every_type(event_type: str, data: st.DataObject) -> None:
    event = data.draw(events_of(EVENT_TYPES[event_type]))
    decoded = codec.decode(codec.encode(event))
    assert type(decoded) is type(event)
    assert decoded == event


@settings(max_examples=200, deadline=None)
@given(event=any_event)
def test_json_round_trip(event: Event) -> None:
    assert codec.from_json(json.loads(json.dumps(codec.to_json(event)))) == event


def test_decode_fills_nothing_for_current_data_and_keeps_unicode() -> None:
    event = example("CommentPosted", body="“Curly” 😀 naïve 日本語 👩‍💻")
    assert codec.decode(codec.encode(event)) == event


def test_unknown_fingerprint() -> None:
    unknown = bytes.fromhex("0123456789abcdef")
    assert unknown not in codec.writer_schema_fingerprints()
    data = b"\xc3\x01" + unknown + codec.encode(example("PostDeleted"))[10:]
    with pytest.raises(UnknownSchema) as caught:
        codec.decode(data)
    assert caught.value.fingerprint == unknown
    assert "0123456789abcdef" in str(caught.value)
    assert isinstance(caught.value, DecodeError)


@pytest.mark.parametrize("head", [b"\x00\x01", b"\xc3\x00", b'{"', b"Ob"])
def test_bad_magic(head: bytes) -> None:
    data = head + codec.encode(example("PostDeleted"))[2:]
    with pytest.raises(DecodeError, match="magic c301"):
        codec.decode(data)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_truncation_is_a_decode_error(event_type: str) -> None:
    data = codec.encode(example(event_type))
    for size in range(len(data)):
        with pytest.raises(DecodeError) as caught:
            codec.decode(data[:size])
        assert not isinstance(caught.value, UnknownSchema)
        expected = "shorter than the 10-byte" if size < 10 else "truncated or corrupt"
        assert expected in str(caught.value)


@pytest.mark.parametrize("value", [None, "c301", 42])
def test_what_is_not_bytes_is_a_decode_error(value: object) -> None:
    with pytest.raises(DecodeError, match="expected the bytes of a message"):
        codec.decode(value)  # type: ignore[arg-type]


def test_memoryview_and_bytearray_decode() -> None:
    data = codec.encode(example("PostDeleted"))
    assert codec.decode(bytearray(data)) == codec.decode(memoryview(data)) == example("PostDeleted")


def test_trailing_bytes_are_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="1 bytes after its body"):
        codec.decode(codec.encode(example("PostDeleted")) + b"\x00")


def test_invalid_utf8_is_a_decode_error() -> None:
    data = codec.encode(example("Followed"))
    corrupt = data.replace(b"\x08acme", b"\x08\xff\xfe\xfd\xfc")
    assert corrupt != data
    with pytest.raises(DecodeError, match="Followed v1 body does not decode"):
        codec.decode(corrupt)


def _raw(event_type: str, record: dict[str, Any]) -> bytes:
    version = registry.current(event_type)
    body = BytesIO()
    schemaless_writer(body, version.parsed, record)
    return b"\xc3\x01" + version.fingerprint + body.getvalue()


def test_well_formed_bytes_breaking_the_contract_are_invalid_events() -> None:
    record = {
        "event_id": EVENT_ID,
        "occurred_at": AT,
        "tenant": "acme",
        "actor": "alice",
        "followee": "alice",
    }
    with pytest.raises(InvalidEvent) as caught:
        codec.decode(_raw("Followed", record))
    assert (caught.value.field, caught.value.event_id) == ("followee", EVENT_ID)


def test_encode_refuses_what_is_not_an_event() -> None:
    with pytest.raises(TypeError, match="not one of the event types"):
        codec.encode(object())  # type: ignore[arg-type]


def test_record_headers() -> None:
    event = example("PostPublished")
    assert codec.record_headers(event) == [
        ("event_type", b"PostPublished"),
        ("schema_fingerprint", codec.encode(event)[2:10].hex().encode()),
        ("event_id", EVENT_ID.encode()),
    ]


def test_known_fingerprints_cover_every_released_version() -> None:
    known = codec.writer_schema_fingerprints()
    expected = {(t, n + 1) for t in EVENT_TYPES for n in range(len(registry.history(t)))}
    assert set(known.values()) == expected
    assert len(known) == len(expected)
    assert known[codec.fingerprint_of("PostPublished")] == ("PostPublished", 2)


def test_peek_event_type() -> None:
    assert codec.peek_event_type(codec.encode(example("ReactionAdded"))) == "ReactionAdded"


def test_to_json_exact() -> None:
    assert codec.to_json(example("ModerationVerdict")) == {
        "type": "ModerationVerdict",
        "event_id": EVENT_ID,
        "occurred_at": "2024-05-01T12:00:00.123+00:00",
        "tenant": "acme",
        "actor": "alice",
        "post_id": "p1",
        "object_id": "c1",
        "object_kind": "comment",
        "verdict": "spam",
        "source": "machine",
        "score": 0.97,
        "reasons": ["link farm"],
    }


def test_from_json_fills_defaults_and_accepts_other_offsets() -> None:
    event = codec.from_json(
        {
            "type": "PostPublished",
            "event_id": EVENT_ID,
            "occurred_at": "2024-05-01T14:00:00.123456+02:00",
            "tenant": "acme",
            "actor": "alice",
            "post_id": "p1",
            "body": "b",
        }
    )
    assert event == example("PostPublished", title="", url=None, body="b")
    assert codec.from_json({**codec.to_json(event), "occurred_at": "2024-05-01T12:00:00.123Z"})


def _json(**changes: Any) -> dict[str, Any]:
    obj = codec.to_json(example("NotificationsRead"))
    for name, value in changes.items():
        if value is ...:
            del obj[name]
        else:
            obj[name] = value
    return obj


@pytest.mark.parametrize(
    ("obj", "event_type", "field", "reason"),
    [
        (_json(type="Nope"), "Nope", "type", "unknown event type"),
        (_json(type=...), "Event", "type", "missing field"),
        (_json(type=3), "3", "type", "unknown event type"),
        (_json(actor=...), "NotificationsRead", "actor", "missing field"),
        (_json(event_id=...), "NotificationsRead", "event_id", "missing field"),
        (_json(colour="red"), "NotificationsRead", "colour", "unknown field"),
        (_json(up_to_at="May 1st"), "NotificationsRead", "up_to_at", "not an ISO-8601 time"),
        (_json(occurred_at="2024-05-01T12:00:00"), "NotificationsRead", "occurred_at", "no UTC"),
        (_json(occurred_at=1714564800), "NotificationsRead", "occurred_at", "ISO-8601 string"),
        (_json(group_keys="g"), "NotificationsRead", "group_keys", "must be a list"),
        (_json(tenant="a b"), "NotificationsRead", "tenant", "is not an id"),
    ],
)
def test_from_json_errors_name_the_field(
    obj: dict[str, Any], event_type: str, field: str, reason: str
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        codec.from_json(obj)
    assert (caught.value.event_type, caught.value.field) == (event_type, field)
    assert reason in caught.value.reason


def test_from_json_needs_an_object() -> None:
    with pytest.raises(InvalidEvent, match="expected a JSON object"):
        codec.from_json(["PostPublished"])  # type: ignore[arg-type]


class _IndexFraming:
    """A toy framing (one byte: the writer version's index): the codec is framing-neutral."""

    def __init__(self) -> None:
        self.versions = registry.all_versions()

    def header(self, version: SchemaVersion) -> bytes:
        return bytes([self.versions.index(version)])

    def writer_of(self, data: bytes) -> tuple[SchemaVersion, int]:
        return self.versions[data[0]], 1


def test_another_framing_plugs_in() -> None:
    framing = _IndexFraming()
    event = example("CommentPosted")
    data = codec.encode(event, framing=framing)
    assert data[1:] == codec.encode(event)[10:]
    assert codec.decode(data, framing=framing) == event
