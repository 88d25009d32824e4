"""The Avro schemas this build knows: the current one of each event type and every released version.

Files: ``avro/<Type>.avsc`` is the current schema (the one ``encode`` writes);
``avro/history/<Type>/v<N>.avsc`` holds every version ever released, the current one included, so a
reader can resolve any message ever written. Everything is read and parsed once, at import.

Import fails loudly (``RuntimeError``) if the files contradict each other or ``schemas.events``:
a missing schema, a current file that differs from its latest history version, or record fields
that differ from the dataclass fields. That is a broken build, not a runtime condition.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import to_parsing_canonical_form

from schemas.events import EVENT_TYPES

AVRO_DIR = Path(__file__).resolve().parent / "avro"
NAMESPACE = "dev.hubbub.events"

# CRC-64-AVRO (the Avro spec's schema fingerprint): a reflected CRC-64 seeded with EMPTY.
_CRC64_EMPTY = 0xC15D213AA4D7A795


def _crc64_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        fp = byte
        for _ in range(8):
            fp = (fp >> 1) ^ (_CRC64_EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_CRC64_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> int:
    """The CRC-64-AVRO fingerprint of ``data`` as an unsigned 64-bit integer."""
    fp = _CRC64_EMPTY
    table = _CRC64_TABLE
    for byte in data:
        fp = (fp >> 8) ^ table[(byte ^ fp) & 0xFF]
    return fp


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One released schema of one event type.

    ``fingerprint`` is the 8-byte little-endian CRC-64-AVRO of ``canonical_form`` (the Parsing
    Canonical Form), exactly the bytes that follow the magic in a single-object message.
    ``parsed`` is fastavro's parsed form, ready for its readers and writers.
    """

    event_type: str
    version: int
    text: str
    parsed: Any
    canonical_form: str
    fingerprint: bytes

    @property
    def schema(self) -> dict[str, Any]:
        """A fresh copy of the schema JSON (safe to modify)."""
        loaded: dict[str, Any] = json.loads(self.text)
        return loaded

    @property
    def path(self) -> Path:
        return AVRO_DIR / "history" / self.event_type / f"v{self.version}.avsc"


def _load(event_type: str, text: str, version: int) -> SchemaVersion:
    schema = json.loads(text)
    canonical = to_parsing_canonical_form(schema)
    fingerprint = crc64_avro(canonical.encode("utf-8")).to_bytes(8, "little")
    return SchemaVersion(
        event_type=event_type,
        version=version,
        text=text,
        parsed=parse_schema(json.loads(text)),
        canonical_form=canonical,
        fingerprint=fingerprint,
    )


def _broken(message: str) -> RuntimeError:
    return RuntimeError(f"schemas/avro is inconsistent: {message}; fix the .avsc files")


def _load_all() -> tuple[dict[str, SchemaVersion], dict[str, tuple[SchemaVersion, ...]]]:
    current: dict[str, SchemaVersion] = {}
    history: dict[str, tuple[SchemaVersion, ...]] = {}
    for event_type, cls in EVENT_TYPES.items():
        folder = AVRO_DIR / "history" / event_type
        numbered = []
        for path in folder.glob("v*.avsc"):
            match = re.fullmatch(r"v([1-9][0-9]*)\.avsc", path.name)
            if not match:
                raise _broken(f"{path} is not named v<N>.avsc")
            numbered.append((int(match.group(1)), path))
        numbered.sort()
        if [n for n, _ in numbered] != list(range(1, len(numbered) + 1)):
            raise _broken(f"{folder} must hold v1.avsc .. vN.avsc with no gaps")
        versions = tuple(_load(event_type, p.read_text("utf-8"), n) for n, p in numbered)
        current_path = AVRO_DIR / f"{event_type}.avsc"
        if not current_path.exists():
            raise _broken(f"{current_path} is missing")
        now = json.loads(current_path.read_text("utf-8"))
        if now != versions[-1].schema:
            raise _broken(f"{current_path.name} differs from its latest history version")
        if now.get("name") != event_type or now.get("namespace") != NAMESPACE:
            raise _broken(f"{current_path.name} must be record {NAMESPACE}.{event_type}")
        want = [f.name for f in fields(cls)]
        got = [f["name"] for f in now["fields"]]
        if want != got:
            raise _broken(f"{event_type} fields {got} differ from the dataclass fields {want}")
        current[event_type] = versions[-1]
        history[event_type] = versions
    return current, history


_CURRENT, _HISTORY = _load_all()


def current(event_type: str) -> SchemaVersion:
    """The schema ``encode`` writes for ``event_type``; ``KeyError`` for an unknown type."""
    return _CURRENT[event_type]


def history(event_type: str) -> tuple[SchemaVersion, ...]:
    """Every released version of ``event_type``, oldest first; the last is the current one."""
    return _HISTORY[event_type]


def all_versions() -> tuple[SchemaVersion, ...]:
    """Every released version of every event type."""
    return tuple(v for versions in _HISTORY.values() for v in versions)
