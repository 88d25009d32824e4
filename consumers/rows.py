"""Kafka records -> ClickHouse rows: the column layout of every read-model table, and its checks.

Derived topics (``{prefix}.feed-items`` ...) carry UTF-8 JSON ``{"rows": [{column: value}, ...]}``
(the contract in the README, "Derived topics"); the event topics carry Avro single-object bytes
and load into ``events``. ``rows_of`` turns one record into the tuples of one table, in the order
of that table's ``columns``, or raises ``DecodeError`` saying which row and column is wrong: a
record is loaded whole or not at all (the sink sends a refused record to the dead letters).

Times are epoch milliseconds in the JSON and DateTime64(3, 'UTC') columns in ClickHouse, named
``x_at`` for ``x_ms`` (``at_ms`` -> ``counted_at``). They are handed to the client as integers:
clickhouse-connect writes an int into a DateTime64(3) column as its tick count, i.e. exactly the
milliseconds, with no float rounding on the way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.kafka import EVENT_TOPICS
from schemas.codec import decode, to_json
from schemas.errors import DecodeError, InvalidEvent
from schemas.events import (
    CommentDeleted,
    CommentEdited,
    CommentPosted,
    Event,
    Followed,
    ModerationVerdict,
    PostDeleted,
    PostEdited,
    PostPublished,
    ReactionAdded,
    ReactionRemoved,
    Unfollowed,
)

__all__ = [
    "DERIVED_TABLES",
    "EVENTS",
    "READ_MODELS",
    "Column",
    "Row",
    "Table",
    "event_row",
    "rows_of",
    "table_for_topic",
    "with_database",
]

Row = tuple[Any, ...]

# DateTime64(3) holds 1900-01-01 .. 2299-12-31; a value outside cannot be a real time.
_MIN_MS = -2_208_988_800_000
_MAX_MS = 10_413_791_999_999
_UINT64_MAX = 2**64 - 1
_DT = "DateTime64(3, 'UTC')"
_LC = "LowCardinality(String)"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _int(value: object) -> int:
    # bool is an int subclass: true/false in the JSON is a producer bug, not a number.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {type(value).__name__} {value!r:.60}")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__} {value!r:.60}")
    return value


def _uint(value: object) -> int:
    number = _int(value)
    if not 0 <= number <= _UINT64_MAX:
        raise ValueError(f"expected an unsigned integer, got {number}")
    return number


def _flag(value: object) -> int:
    if value is True or value is False:
        return int(value)
    number = _int(value)
    if number not in (0, 1):
        raise ValueError(f"expected 0 or 1, got {number}")
    return number


def _ms(value: object) -> int:
    number = _int(value)
    if not _MIN_MS <= number <= _MAX_MS:
        raise ValueError(f"{number} ms is outside the years 1900-2299")
    return number


def _texts(value: object) -> list[str]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of strings, got {type(value).__name__}")
    return [_text(v) for v in value]


def _ms_map(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object of times, got {type(value).__name__}")
    return {_text(k): _ms(v) for k, v in value.items()}


_CONVERT: dict[str, Callable[[object], Any]] = {
    "text": _text,
    "uint": _uint,
    "flag": _flag,
    "ms": _ms,
    "texts": _texts,
    "ms_map": _ms_map,
}
_TYPE: dict[str, str] = {
    "text": "String",
    "uint": "UInt64",
    "flag": "UInt8",
    "ms": _DT,
    "texts": "Array(String)",
    "ms_map": f"Map(String, {_DT})",
}


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its ClickHouse name and type, the JSON field it comes from, how to check it.

    ``kind`` is one of text, uint, flag, ms, texts, ms_map; ``choices`` limits a text to a few
    values (the small enums, stored LowCardinality).
    """

    name: str
    kind: str
    source: str = ""
    ch_type: str = ""
    choices: frozenset[str] | None = None

    @property
    def field(self) -> str:
        return self.source or self.name

    @property
    def type_name(self) -> str:
        return self.ch_type or _TYPE[self.kind]

    def convert(self, value: object) -> Any:
        out = _CONVERT[self.kind](value)
        if self.choices is not None and out not in self.choices:
            raise ValueError(f"{out!r:.60} is not one of {', '.join(sorted(self.choices))}")
        return out


@dataclass(frozen=True, slots=True)
class Table:
    """A table the sink inserts into and the derived topic (logical name) that feeds it;
    ``lands_in`` names the read model its rows end up in when that is another table (one a
    materialized view fills)."""

    topic: str
    name: str
    columns: tuple[Column, ...]
    lands_in: str = ""

    @property
    def read_model(self) -> str:
        return self.lands_in or self.name

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def column_types(self) -> tuple[str, ...]:
        return tuple(c.type_name for c in self.columns)

    def row(self, obj: object) -> Row:
        """The tuple of one JSON row; ``ValueError`` naming the column if it does not fit.
        Fields the table does not know are ignored (a newer producer may add some)."""
        if not isinstance(obj, Mapping):
            raise ValueError(f"a row must be a JSON object, got {type(obj).__name__}")
        out: list[Any] = []
        for column in self.columns:
            if column.field not in obj:
                raise ValueError(f"column {column.field!r} is missing")
            try:
                out.append(column.convert(obj[column.field]))
            except ValueError as exc:
                raise ValueError(f"column {column.field!r}: {exc}") from None
        return tuple(out)


def _tenant() -> Column:
    return Column("tenant", "text", ch_type=_LC)


def _enum(name: str, *values: str) -> Column:
    return Column(name, "text", ch_type=_LC, choices=frozenset(values))


def _at(name: str, source: str) -> Column:
    return Column(name, "ms", source=source)


_VERSION = Column("version", "uint")
_IS_DELETED = Column("is_deleted", "flag")

DERIVED_TABLES: tuple[Table, ...] = (
    # Expanded by ClickHouse into one feed_items row per owner (migration 0004).
    Table(
        "feed-items",
        "feed_fanout",
        (
            _tenant(),
            Column("owners", "texts"),
            Column("activity_id", "text"),
            _enum("kind", "post", "comment", "reaction"),
            Column("author", "text"),
            Column("post_id", "text"),
            _at("created_at", "created_ms"),
            _VERSION,
            _IS_DELETED,
        ),
        lands_in="feed_items",
    ),
    Table(
        "notification-groups",
        "notification_groups",
        (
            _tenant(),
            Column("recipient", "text"),
            _enum("kind", "comment", "reply", "mention", "reaction", "follow"),
            _enum("object_kind", "post", "comment", "user"),
            Column("object_id", "text"),
            Column("post_id", "text"),
            Column("actor_count", "uint", ch_type="UInt32"),
            Column("latest_actors", "texts"),
            _at("first_at", "first_ms"),
            _at("last_at", "last_ms"),
            Column("excerpt", "text"),
            _VERSION,
            _IS_DELETED,
        ),
    ),
    Table(
        "trend-contributions",
        "trend_contributions",
        (
            _tenant(),
            _enum("dimension", "tenant", "post", "hashtag"),
            Column("dim_value", "text"),
            _enum("metric", "post", "comment", "reaction"),
            Column("source_id", "text"),
            Column("actor", "text"),
            _at("counted_at", "at_ms"),
            _VERSION,
            _IS_DELETED,
        ),
    ),
    Table(
        "content-state",
        "content_state",
        (
            _tenant(),
            Column("post_id", "text"),
            Column("object_id", "text"),
            _enum("kind", "post", "comment"),
            Column("author", "text"),
            Column("title", "text"),
            Column("body", "text"),
            Column("in_reply_to", "text"),
            _at("created_at", "created_ms"),
            _at("edited_at", "edited_ms"),
            Column("deleted", "flag"),
            Column("spam", "flag"),
            _enum("machine_verdict", "", "spam", "ham"),
            _enum("person_verdict", "", "spam", "ham"),
            _VERSION,
        ),
    ),
    Table(
        "inbox-state",
        "inbox_state",
        (
            _tenant(),
            Column("user", "text"),
            _at("read_up_to_at", "read_up_to_ms"),
            _at("seen_up_to_at", "seen_up_to_ms"),
            Column("group_reads", "ms_map"),
            _VERSION,
        ),
    ),
    Table(
        "follows-state",
        "follows_state",
        (
            _tenant(),
            Column("follower", "text"),
            Column("followee", "text"),
            _at("since_at", "since_ms"),
            _VERSION,
            _IS_DELETED,
        ),
    ),
    Table(
        "author-state",
        "author_state",
        (
            _tenant(),
            Column("author", "text"),
            Column("read_fanout", "flag"),
            Column("follower_count", "uint"),
            _VERSION,
        ),
    ),
)

# The raw event log (migration 0001); its rows come from Avro records, not JSON (``event_row``).
EVENTS = Table(
    "",
    "events",
    (
        _tenant(),
        Column("event_type", "text", ch_type=_LC),
        _at("occurred_at", "occurred_ms"),
        Column("event_id", "text", ch_type="UUID"),
        Column("actor", "text"),
        Column("object_id", "text"),
        Column("topic", "text", ch_type=_LC),
        Column("partition", "uint", ch_type="UInt16"),
        Column("offset", "uint"),
        Column("payload", "text"),
    ),
)

_BY_TOPIC: dict[str, Table] = {t.topic: t for t in DERIVED_TABLES}

READ_MODELS: tuple[str, ...] = tuple(t.read_model for t in (*DERIVED_TABLES, EVENTS))
"""The tables that hold what the sink loaded, one per derived topic, and ``events``."""


def with_database(sql: str, database: str) -> str:
    """``sql`` with every ``{db}`` replaced by the quoted database name, as in the migrations.

    Only the database (from settings, never from a user) is put into SQL text; every value is a
    server-side parameter (``{name:Type}``).
    """
    return sql.replace("{db}", f"`{database.replace('`', '')}`")


def table_for_topic(logical: str) -> Table | None:
    """The table a logical topic loads into (``events`` for the event topics), else None."""
    if logical in EVENT_TOPICS:
        return EVENTS
    return _BY_TOPIC.get(logical)


def _object_id(event: Event) -> str:
    if isinstance(event, PostPublished | PostEdited | PostDeleted):
        return event.post_id
    if isinstance(event, CommentPosted | CommentEdited | CommentDeleted):
        return event.comment_id
    if isinstance(event, Followed | Unfollowed):
        return event.followee
    if isinstance(event, ReactionAdded | ReactionRemoved | ModerationVerdict):
        return event.object_id
    return event.actor  # inbox events are about the actor's own inbox


def event_row(event: Event, *, topic: str, partition: int, offset: int) -> Row:
    """The ``events`` row of a decoded event read at ``topic[partition]@offset``."""
    occurred_ms = (event.occurred_at - _EPOCH) // timedelta(milliseconds=1)
    return (
        event.tenant,
        event.event_type,
        occurred_ms,
        event.event_id,
        event.actor,
        _object_id(event),
        topic,
        partition,
        offset,
        json.dumps(to_json(event), ensure_ascii=False, separators=(",", ":")),
    )


def rows_of(
    table: Table, value: bytes | None, *, topic: str, partition: int, offset: int
) -> list[Row]:
    """The rows one record puts into ``table``.

    Raises ``DecodeError`` (the message says the topic position, the row and the column) when the
    value is not UTF-8 JSON of the form ``{"rows": [...]}``, when a row lacks a column or has a
    value of the wrong type, or, for the event topics, when the bytes are not a valid event.
    """
    where = f"{topic}[{partition}]@{offset}"
    if value is None:
        raise DecodeError(f"{where}: the record has no value (a tombstone); expected {table.name}")
    if table is EVENTS:
        try:
            event = decode(value)
        except (DecodeError, InvalidEvent) as exc:
            raise DecodeError(f"{where}: {exc}") from exc
        return [event_row(event, topic=topic, partition=partition, offset=offset)]
    try:
        message = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(
            f'{where}: not UTF-8 JSON ({exc}); the producer must send {{"rows": [...]}}'
        ) from exc
    rows = message.get("rows") if isinstance(message, dict) else None
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        raise DecodeError(
            f'{where}: expected a JSON object {{"rows": [...]}}, '
            f"got {type(message).__name__} without a rows list"
        )
    out: list[Row] = []
    for index, obj in enumerate(rows):
        try:
            out.append(table.row(obj))
        except ValueError as exc:
            raise DecodeError(f"{where}: {table.name} row {index}: {exc}") from exc
    return out
