"""Schema evolution: every current schema reads every message ever written (backward-transitive).

Checked twice: by the resolution checker, and by really writing with each released version and
reading with the current one (fastavro, then our own decode through the single-object header).
"""

from __future__ import annotations

import dataclasses
import json
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import codec, registry
from schemas.compat import history_problems, read_problems
from schemas.events import EVENT_TYPES, Event
from tests.schemas.strategies import events_of

AVRO = Path(__file__).resolve().parents[2] / "schemas" / "avro"
VERSIONS = [(v.event_type, v.version) for v in registry.all_versions()]


def _record(event: Event) -> dict[str, Any]:
    """The event as an Avro record dict (datetimes kept as datetimes)."""
    record = codec.to_json(event)
    del record["type"]
    for f in dataclasses.fields(event):
        record[f.name] = getattr(event, f.name)
        if isinstance(record[f.name], tuple):
            record[f.name] = list(record[f.name])
    return record


def test_history_has_the_promised_v2s() -> None:
    added = {"PostPublished": "url", "CommentPosted": "in_reply_to", "ModerationVerdict": "reasons"}
    for event_type in EVENT_TYPES:
        versions = registry.history(event_type)
        assert len(versions) == (2 if event_type in added else 1)
    for event_type, name in added.items():
        v1, v2 = registry.history(event_type)
        v1_names = [f["name"] for f in v1.schema["fields"]]
        v2_names = [f["name"] for f in v2.schema["fields"]]
        assert v2_names == [*v1_names, name]
        assert "default" in v2.schema["fields"][-1]


def test_history_files_are_exactly_the_current_and_released_ones() -> None:
    on_disk = sorted(p.relative_to(AVRO).as_posix() for p in (AVRO / "history").rglob("*.avsc"))
    assert on_disk == sorted(f"history/{t}/v{n}.avsc" for t, n in VERSIONS)
    currents = sorted(p.name for p in AVRO.glob("*.avsc"))
    assert currents == sorted(f"{t}.avsc" for t in EVENT_TYPES)
    for event_type in EVENT_TYPES:
        current = json.loads((AVRO / f"{event_type}.avsc").read_text("utf-8"))
        assert current == registry.history(event_type)[-1].schema


@pytest.mark.parametrize(("event_type", "version"), VERSIONS)
def test_every_schema_is_documented_and_namespaced(event_type: str, version: int) -> None:
    schema = registry.history(event_type)[version - 1].schema
    assert (schema["type"], schema["name"], schema["namespace"]) == (
        "record",
        event_type,
        "dev.hubbub.events",
    )
    assert schema["doc"]
    assert all(f["doc"] for f in schema["fields"])
    assert [f["name"] for f in schema["fields"][:4]] == [
        "event_id",
        "occurred_at",
        "tenant",
        "actor",
    ]
    assert schema["fields"][0]["type"] == {"type": "string", "logicalType": "uuid"}
    assert schema["fields"][1]["type"] == {"type": "long", "logicalType": "timestamp-millis"}


def test_every_version_has_its_own_fingerprint() -> None:
    fingerprints = [v.fingerprint for v in registry.all_versions()]
    assert len(set(fingerprints)) == len(fingerprints)


@pytest.mark.parametrize(("event_type", "version"), VERSIONS)
def test_checker_says_current_reads_every_version(event_type: str, version: int) -> None:
    writer = registry.history(event_type)[version - 1]
    assert read_problems(registry.current(event_type).schema, writer.schema) == []


def test_history_problems_are_all_empty() -> None:
    assert history_problems() == {t: [] for t in EVENT_TYPES}


@settings(max_examples=40, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize(("event_type", "version"), VERSIONS)
def test_data_written_with_every_version_reads_with_the_current(
    event_type: str, version: int, data: st.DataObject
) -> None:
    event = data.draw(events_of(EVENT_TYPES[event_type]))
    writer = registry.history(event_type)[version - 1]
    reader = registry.current(event_type)
    written_names = {f["name"] for f in writer.schema["fields"]}
    defaults = {
        f["name"]: f["default"] for f in reader.schema["fields"] if f["name"] not in written_names
    }
    # What an old producer would have sent: only the fields its schema had.
    old_record = {k: v for k, v in _record(event).items() if k in written_names}
    body = BytesIO()
    schemaless_writer(body, writer.parsed, old_record)

    # 1. fastavro, writer schema + current reader schema: defaults fill the new fields.
    read = schemaless_reader(BytesIO(body.getvalue()), writer.parsed, reader.parsed)
    assert isinstance(read, dict)
    assert list(read) == [f["name"] for f in reader.schema["fields"]]
    for name, value in read.items():
        expected = defaults[name] if name in defaults else old_record[name]
        assert (str(value) if name == "event_id" else value) == expected

    # 2. our decode, picking the writer from the single-object fingerprint.
    message = b"\xc3\x01" + writer.fingerprint + body.getvalue()
    decoded = codec.decode(message)
    expected_event = dataclasses.replace(
        event, **{k: tuple(v) if isinstance(v, list) else v for k, v in defaults.items()}
    )
    assert decoded == expected_event


def test_v1_post_decodes_with_url_none() -> None:
    v1 = registry.history("PostPublished")[0]
    record = {
        "event_id": "0b7e0a3e-6d4f-4c1e-9a52-3f7d2c9b8a10",
        "occurred_at": 1714564800123,
        "tenant": "acme",
        "actor": "alice",
        "post_id": "p1",
        "title": "Old",
        "body": "Written before links existed",
    }
    body = BytesIO()
    schemaless_writer(body, v1.parsed, record)
    event = codec.decode(b"\xc3\x01" + v1.fingerprint + body.getvalue())
    assert codec.to_json(event) == {
        "type": "PostPublished",
        **record,
        "occurred_at": "2024-05-01T12:00:00.123+00:00",
        "url": None,
    }
