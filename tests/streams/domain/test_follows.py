from __future__ import annotations

import json

import pytest

from schemas.errors import DecodeError, InvalidEvent
from schemas.events import Followed, NotificationsSeen, Unfollowed
from streams.domain.follows import FollowerState, derive_follow_group, follow_groups
from streams.domain.notifications import (
    GroupChange,
    GroupKey,
    NotificationGroup,
    diff_groups,
    render,
)
from tests.streams.domain.thread_builders import TENANT, at, ms, next_id


def follow(actor: str, minute: int, followee: str = "olga") -> Followed:
    return Followed(
        event_id=next_id(), occurred_at=at(minute), tenant=TENANT, actor=actor, followee=followee
    )


def unfollow(actor: str, minute: int, followee: str = "olga") -> Unfollowed:
    return Unfollowed(
        event_id=next_id(), occurred_at=at(minute), tenant=TENANT, actor=actor, followee=followee
    )


def follow_group(actors: tuple[str, ...], count: int, first: int, last: int) -> NotificationGroup:
    return NotificationGroup(
        tenant=TENANT,
        recipient="olga",
        kind="follow",
        object_kind="user",
        object_id="olga",
        post_id="",
        actor_count=count,
        latest_actors=actors,
        first_ms=ms(first),
        last_ms=ms(last),
        excerpt="",
    )


def test_follows_group_and_render() -> None:
    state = FollowerState(TENANT, "olga")
    for event in (follow("ana", 1), follow("ben", 2), follow("cid", 3), follow("dan", 4)):
        assert state.apply(event) is True
    group = derive_follow_group(state)
    assert group == follow_group(("dan", "cid", "ben"), 4, 1, 4)
    assert group.key == GroupKey("olga", "follow", "user", "olga")
    assert render(group) == "dan and 3 others started following you"


def test_unfollow_withdraws_that_actor_and_the_last_one_the_group() -> None:
    state = FollowerState(TENANT, "olga")
    state.apply(follow("ana", 1))
    state.apply(follow("ben", 2))
    before = follow_groups(state)
    assert state.apply(unfollow("ben", 3)) is True
    assert derive_follow_group(state) == follow_group(("ana",), 1, 1, 1)
    assert state.apply(unfollow("ana", 4)) is True
    assert derive_follow_group(state) is None
    assert diff_groups(before, follow_groups(state), version=state.seq) == [
        GroupChange(follow_group(("ben", "ana"), 2, 1, 2), 4, True)
    ]


def test_refollow_counts_once_and_noops_are_false() -> None:
    first = follow("ana", 1)
    state = FollowerState(TENANT, "olga")
    assert state.apply(first) is True
    assert state.apply(first) is False  # redelivery
    assert state.apply(follow("ana", 2)) is False  # already following: first time kept
    assert state.apply(unfollow("ben", 3)) is False  # never followed
    assert state.apply(unfollow("ana", 4)) is True
    assert state.apply(follow("ana", 5)) is True
    assert derive_follow_group(state) == follow_group(("ana",), 1, 5, 5)
    assert state.seq == 3


def test_other_followee_or_type_raises() -> None:
    state = FollowerState(TENANT, "olga")
    with pytest.raises(InvalidEvent, match="followee"):
        state.apply(follow("ana", 1, followee="ben"))
    seen = NotificationsSeen(occurred_at=at(1), tenant=TENANT, actor="olga", up_to_at=at(1))
    with pytest.raises(InvalidEvent, match="topic"):
        state.apply(seen)


def test_json_round_trip() -> None:
    state = FollowerState(TENANT, "olga")
    for event in (follow("ana", 1), follow("ben", 2), unfollow("ana", 3)):
        state.apply(event)
    data = json.loads(json.dumps(state.to_json()))
    assert FollowerState.from_json(data) == state
    assert FollowerState.from_json(data).to_json() == data
    with pytest.raises(DecodeError):
        FollowerState.from_json({"format": 1, "tenant": "acme"})
    with pytest.raises(DecodeError, match="format 9"):
        FollowerState.from_json({**data, "format": 9})


def test_a_state_of_the_previous_format_is_read() -> None:
    old = {
        "format": 1,
        "tenant": TENANT,
        "followee": "olga",
        "followers": [["ben", 120_000, "e2"], ["cy", 180_000, "e3"]],
        "seq": 3,
        "applied": ["e1", "e2", "e3"],
    }
    state = FollowerState.from_json(old)
    assert state.followers == {"ben": 120_000, "cy": 180_000}
    assert (state.seq, list(state.applied)) == (3, ["e1", "e2", "e3"])


def test_the_dedup_window_forgets_the_oldest_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("streams.domain.follows.DEDUP_WINDOW", 2)
    state = FollowerState(TENANT, "olga")
    first, second, third = follow("ana", 1), unfollow("ana", 2), follow("ben", 3)
    for event in (first, second, third):
        state.apply(event)
    assert list(state.applied) == [second.event_id, third.event_id]
    assert not state.apply(second)  # still remembered: a redelivery changes nothing
    assert state.followers == {"ben": ms(3)}
