"""JSON and Avro records -> table rows: exact tuples, and exact refusals. No network."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.rows import DERIVED_TABLES, EVENTS, rows_of, table_for_topic, with_database
from schemas.codec import encode, to_json
from schemas.errors import DecodeError
from schemas.events import CommentPosted, Followed, NotificationsSeen
from schemas.examples import example_events

FEED = table_for_topic("feed-items")
INBOX = table_for_topic("inbox-state")
GROUPS = table_for_topic("notification-groups")


def _feed_row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "tenant": "t",
        "owners": ["v"],
        "activity_id": "post/p1",
        "kind": "post",
        "author": "a",
        "post_id": "p1",
        "created_ms": 1_700_000_000_123,
        "version": 7,
        "is_deleted": 0,
    }
    row.update(changes)
    return row


def _load(table: object, value: bytes) -> list[tuple[object, ...]]:
    assert table is not None
    return rows_of(table, value, topic="x.feed-items", partition=2, offset=41)  # type: ignore[arg-type]


def test_every_derived_topic_has_its_table_and_the_event_topics_load_events() -> None:
    assert [(t.topic, t.name) for t in DERIVED_TABLES] == [
        ("feed-items", "feed_fanout"),
        ("notification-groups", "notification_groups"),
        ("trend-contributions", "trend_contributions"),
        ("content-state", "content_state"),
        ("inbox-state", "inbox_state"),
        ("follows-state", "follows_state"),
        ("author-state", "author_state"),
    ]
    assert [table_for_topic(t) for t in ("content", "graph", "inbox")] == [EVENTS] * 3
    assert table_for_topic("activity") is None


def test_a_message_of_many_rows_becomes_tuples_in_column_order() -> None:
    value = json.dumps(
        {
            "rows": [
                _feed_row(),
                _feed_row(activity_id="post/p2", is_deleted=True, created_ms=0, extra="ignored"),
            ]
        }
    )
    assert _load(FEED, value.encode()) == [
        ("t", ["v"], "post/p1", "post", "a", "p1", 1_700_000_000_123, 7, 0),
        ("t", ["v"], "post/p2", "post", "a", "p1", 0, 7, 1),
    ]


def test_lists_and_maps_of_times_convert() -> None:
    inbox = {
        "tenant": "t",
        "user": "u",
        "read_up_to_ms": 5,
        "seen_up_to_ms": 6,
        "group_reads": {"reply:comment:c1": 9},
        "version": 3,
    }
    assert _load(INBOX, json.dumps({"rows": [inbox]}).encode()) == [
        ("t", "u", 5, 6, {"reply:comment:c1": 9}, 3),
    ]
    group = {
        "tenant": "t",
        "recipient": "r",
        "kind": "follow",
        "object_kind": "user",
        "object_id": "r",
        "post_id": "",
        "actor_count": 2,
        "latest_actors": ["b", "a"],
        "first_ms": 1,
        "last_ms": 2,
        "excerpt": "",
        "version": 1,
        "is_deleted": 0,
    }
    assert _load(GROUPS, json.dumps({"rows": [group]}).encode()) == [
        ("t", "r", "follow", "user", "r", "", 2, ["b", "a"], 1, 2, "", 1, 0),
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe", "x.feed-items[2]@41: not UTF-8 JSON"),
        (b"{not json", "x.feed-items[2]@41: not UTF-8 JSON"),
        (b'[{"tenant": "t"}]', 'expected a JSON object {"rows": [...]}, got list'),
        (b'{"row": []}', 'expected a JSON object {"rows": [...]}, got dict'),
        (b'{"rows": "abc"}', 'expected a JSON object {"rows": [...]}'),
        (
            json.dumps({"rows": [_feed_row(), 5]}).encode(),
            "feed_fanout row 1: a row must be a JSON object, got int",
        ),
        (
            json.dumps(
                {"rows": [{k: v for k, v in _feed_row().items() if k != "owners"}]}
            ).encode(),
            "feed_fanout row 0: column 'owners' is missing",
        ),
        (
            json.dumps({"rows": [_feed_row(version=-1)]}).encode(),
            "column 'version': expected an unsigned integer, got -1",
        ),
        (
            json.dumps({"rows": [_feed_row(version=True)]}).encode(),
            "column 'version': expected an integer, got bool True",
        ),
        (
            json.dumps({"rows": [_feed_row(is_deleted=2)]}).encode(),
            "column 'is_deleted': expected 0 or 1, got 2",
        ),
        (
            json.dumps({"rows": [_feed_row(kind="story")]}).encode(),
            "column 'kind': 'story' is not one of comment, post, reaction",
        ),
        (
            json.dumps({"rows": [_feed_row(owners=7)]}).encode(),
            "column 'owners': expected a list of strings, got int",
        ),
        (
            json.dumps({"rows": [_feed_row(created_ms=10**14)]}).encode(),
            "column 'created_ms': 100000000000000 ms is outside the years 1900-2299",
        ),
    ],
)
def test_a_record_that_does_not_fit_is_refused_whole_with_its_position(
    value: bytes, reason: str
) -> None:
    with pytest.raises(DecodeError) as caught:
        _load(FEED, value)
    assert reason in str(caught.value)
    assert str(caught.value).startswith("x.feed-items[2]@41: ")


def test_a_tombstone_is_refused() -> None:
    with pytest.raises(DecodeError, match="has no value"):
        rows_of(EVENTS, None, topic="x.content", partition=0, offset=3)


def test_events_decode_into_event_rows_with_their_position() -> None:
    at = datetime(2024, 5, 1, 12, 0, 0, 123_000, tzinfo=UTC)
    comment = CommentPosted(
        tenant="t", actor="ana", occurred_at=at, comment_id="c1", post_id="p1", body="hi"
    )
    follow = Followed(tenant="t", actor="ana", occurred_at=at, followee="ben")
    seen = NotificationsSeen(tenant="t", actor="ana", occurred_at=at, up_to_at=at)
    rows = [
        rows_of(EVENTS, encode(e), topic="x.content", partition=1, offset=n)[0]
        for n, e in enumerate((comment, follow, seen))
    ]
    assert [r[:4] for r in rows] == [
        ("t", e.event_type, 1_714_564_800_123, e.event_id) for e in (comment, follow, seen)
    ]
    assert [r[4:9] for r in rows] == [
        ("ana", "c1", "x.content", 1, 0),
        ("ana", "ben", "x.content", 1, 1),
        ("ana", "ana", "x.content", 1, 2),
    ]
    assert json.loads(rows[0][9]) == to_json(comment)


def test_every_example_event_has_an_events_row() -> None:
    for event in example_events():
        (row,) = rows_of(EVENTS, encode(event), topic="x.c", partition=0, offset=0)
        assert len(row) == len(EVENTS.columns)
        assert row[1] == event.event_type and row[3] == event.event_id


def test_bytes_that_are_not_an_event_are_refused_with_the_position() -> None:
    with pytest.raises(DecodeError, match=r"^x\.content\[0\]@9: "):
        rows_of(EVENTS, b"\xc3\x01garbage", topic="x.content", partition=0, offset=9)


@given(st.text(max_size=30))
def test_only_the_database_placeholder_is_replaced(name: str) -> None:
    sql = with_database("SELECT {x:String} FROM {db}.t", name)
    assert sql == f"SELECT {{x:String}} FROM `{name.replace('`', '')}`.t"
