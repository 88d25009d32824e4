from __future__ import annotations

import json

import pytest

from schemas.errors import InvalidEvent
from schemas.events import NotificationsRead, NotificationsSeen
from streams.domain.inbox import InboxState, is_unread, unread_count, unseen_count
from streams.domain.notifications import NotificationGroup
from tests.streams.domain.thread_builders import POST, TENANT, at, ms, next_id


def g(kind: str, object_id: str, last: int, recipient: str = "olga") -> NotificationGroup:
    return NotificationGroup(
        tenant=TENANT,
        recipient=recipient,
        kind=kind,
        object_kind="comment",  # type: ignore[arg-type]
        object_id=object_id,
        post_id=POST,
        actor_count=1,
        latest_actors=("ana",),
        first_ms=ms(0),
        last_ms=ms(last),
        excerpt="x",
    )


def read(minute: int, *keys: str, user: str = "olga") -> NotificationsRead:
    return NotificationsRead(
        event_id=next_id(),
        occurred_at=at(minute),
        tenant=TENANT,
        actor=user,
        up_to_at=at(minute),
        group_keys=keys,
    )


def seen(minute: int) -> NotificationsSeen:
    return NotificationsSeen(
        event_id=next_id(), occurred_at=at(minute), tenant=TENANT, actor="olga", up_to_at=at(minute)
    )


GROUPS = [
    g("reply", "c1", 5),
    g("reply", "c2", 10),
    g("mention", "c3", 20),
    g("reply", "c9", 30, "ben"),
]


def test_everything_starts_unread_and_unseen_for_the_inbox_user_only() -> None:
    inbox = InboxState(TENANT, "olga")
    assert unread_count(GROUPS, inbox) == 3
    assert unseen_count(GROUPS, inbox) == 3


def test_read_all_up_to_a_time() -> None:
    inbox = InboxState(TENANT, "olga")
    assert inbox.apply(read(10)) is True
    assert unread_count(GROUPS, inbox) == 1
    assert unseen_count(GROUPS, inbox) == 3
    assert inbox.apply(read(9)) is False  # marks only move forward


def test_read_single_groups_by_key_text() -> None:
    inbox = InboxState(TENANT, "olga")
    assert inbox.apply(read(20, "mention:comment:c3")) is True
    assert [is_unread(x, inbox) for x in GROUPS[:3]] == [True, True, False]
    assert unread_count(GROUPS, inbox) == 2
    # New activity after the mark makes the group unread again.
    assert is_unread(g("mention", "c3", 21), inbox) is True
    assert inbox.apply(read(20, "mention:comment:c3")) is False


def test_read_all_drops_covered_group_marks() -> None:
    inbox = InboxState(TENANT, "olga")
    inbox.apply(read(3, "reply:comment:c1"))
    inbox.apply(read(25, "mention:comment:c3"))
    inbox.apply(read(10))
    assert inbox.group_reads == {"mention:comment:c3": ms(25)}
    assert inbox.apply(read(8, "reply:comment:c2")) is False  # already covered by read-all
    assert unread_count(GROUPS, inbox) == 0


def test_seen() -> None:
    inbox = InboxState(TENANT, "olga")
    assert inbox.apply(seen(10)) is True
    assert unseen_count(GROUPS, inbox) == 1
    assert unread_count(GROUPS, inbox) == 3
    assert inbox.apply(seen(10)) is False
    assert inbox.seq == 1


def test_other_users_events_raise_and_json_round_trips() -> None:
    inbox = InboxState(TENANT, "olga")
    with pytest.raises(InvalidEvent, match="actor"):
        inbox.apply(read(1, user="ben"))
    inbox.apply(read(5, "reply:comment:c2"))
    inbox.apply(seen(7))
    data = json.loads(json.dumps(inbox.to_json()))
    assert InboxState.from_json(data) == inbox
    assert InboxState.from_json(data).to_json() == data
