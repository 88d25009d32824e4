"""Derived rows: feed changes merged into rows with owners, and rows split into records."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from streams import rows
from streams.domain.feeds import FeedChange


def _change(
    owner: str, activity: str = "post/p1", version: int = 5, deleted: bool = False
) -> FeedChange:
    return FeedChange(
        tenant="t",
        owner=owner,
        activity_id=activity,
        kind="post",
        author="a",
        post_id=activity.partition("/")[2],
        created_ms=1000,
        version=version,
        is_deleted=deleted,
    )


def _expand(feed_rows: list[rows.Row]) -> list[FeedChange]:
    return [
        FeedChange(
            tenant=r["tenant"],
            owner=owner,
            activity_id=r["activity_id"],
            kind=r["kind"],
            author=r["author"],
            post_id=r["post_id"],
            created_ms=r["created_ms"],
            version=r["version"],
            is_deleted=bool(r["is_deleted"]),
        )
        for r in feed_rows
        for owner in r["owners"]
    ]


def test_a_fan_out_is_one_row_with_its_owners_in_order() -> None:
    changes = [_change("a"), _change("v"), _change("w"), _change("w", deleted=True)]
    assert rows.feed_rows(changes) == [
        {
            "tenant": "t",
            "owners": ["a", "v", "w"],
            "activity_id": "post/p1",
            "kind": "post",
            "author": "a",
            "post_id": "p1",
            "created_ms": 1000,
            "version": 5,
            "is_deleted": 0,
        },
        {
            "tenant": "t",
            "owners": ["w"],
            "activity_id": "post/p1",
            "kind": "post",
            "author": "a",
            "post_id": "p1",
            "created_ms": 1000,
            "version": 5,
            "is_deleted": 1,
        },
    ]


def test_only_consecutive_changes_merge_and_rows_hold_a_bounded_number_of_owners() -> None:
    interleaved = [_change("v"), _change("v", "post/p2"), _change("w")]
    assert [r["owners"] for r in rows.feed_rows(interleaved)] == [["v"], ["v"], ["w"]]
    many = [_change(f"u{i}") for i in range(rows.FEED_ROW_MAX_OWNERS * 2 + 1)]
    assert [len(r["owners"]) for r in rows.feed_rows(many)] == [
        rows.FEED_ROW_MAX_OWNERS,
        rows.FEED_ROW_MAX_OWNERS,
        1,
    ]


@given(
    st.lists(
        st.tuples(
            st.sampled_from("uvw"),
            st.sampled_from(["post/p1", "post/p2"]),
            st.integers(1, 2),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_expanding_the_rows_gives_back_every_change_in_order(
    spec: list[tuple[str, str, int, bool]],
) -> None:
    changes = [_change(o, a, v, d) for o, a, v, d in spec]
    assert _expand(rows.feed_rows(changes)) == changes


def test_messages_keep_row_order_and_stay_under_the_size_limit() -> None:
    wide = [{"n": i, "pad": "x" * 2000} for i in range(1200)]
    values = rows.messages(wide)
    assert all(len(v) <= rows.MESSAGE_MAX_BYTES for v in values)
    decoded = [json.loads(v)["rows"] for v in values]
    assert all(len(chunk) <= rows.MESSAGE_MAX_ROWS for chunk in decoded)
    assert [r for chunk in decoded for r in chunk] == wide
    narrow = [{"n": i} for i in range(2500)]
    assert [len(json.loads(v)["rows"]) for v in rows.messages(narrow)] == [1000, 1000, 500]
    huge = [{"pad": "x" * (rows.MESSAGE_MAX_BYTES + 1)}]
    assert len(rows.messages(huge)) == 1  # one row alone is sent as it is
    assert rows.messages([]) == []
