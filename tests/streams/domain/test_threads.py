from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from schemas.errors import DecodeError, InvalidEvent
from schemas.events import Followed, PostPublished
from streams.domain.threads import Reaction, ThreadObject, ThreadState, to_ms
from tests.streams.domain.thread_builders import (
    POST,
    TENANT,
    at,
    comment,
    delete_comment,
    delete_post,
    edit_comment,
    edit_post,
    fold,
    ms,
    post,
    react,
    unreact,
    verdict,
)


def test_to_ms_is_exact_and_rejects_naive() -> None:
    assert to_ms(datetime(1970, 1, 1, 0, 0, 1, 999000, tzinfo=UTC)) == 1999
    with pytest.raises(ValueError, match="naive"):
        to_ms(datetime(2025, 1, 1))  # noqa: DTZ001


def test_post_and_comment_become_objects() -> None:
    state = fold(post(), comment("c1", "ana", 1, "First!", reply_to=None))
    assert state.seq == 2
    assert state.objects == {
        POST: ThreadObject(POST, "post", "olga", ms(0), "Launch day", "We ship today", None),
        "c1": ThreadObject("c1", "comment", "ana", ms(1), "", "First!", None),
    }
    assert [o.object_id for o in state.live_objects()] == [POST, "c1"]


def test_duplicate_event_changes_nothing() -> None:
    first = comment("c1", "ana", 1)
    state = fold(post(), first)
    before = state.to_json()
    assert state.apply(first) is False
    assert state.to_json() == before


def test_second_creation_of_same_id_is_ignored_but_remembered() -> None:
    state = fold(post())
    again = post("mallory", 5, title="Other", body="Other")
    assert state.apply(again) is False
    assert state.seq == 1
    assert again.event_id in state.applied
    assert state.post is not None and state.post.author == "olga"


def test_comment_before_post_is_kept_and_post_fills_in() -> None:
    state = fold(comment("c1", "ana", 1))
    assert state.post is None
    assert [o.object_id for o in state.live_objects()] == ["c1"]
    assert state.apply(post()) is True
    assert [o.object_id for o in state.live_objects()] == ["c1", POST]
    assert state.seq == 2


def test_edit_replaces_text_and_noop_edit_is_false() -> None:
    state = fold(post(), comment("c1", "ana", 1, "old"))
    assert state.apply(edit_comment("c1", "ana", 2, "new")) is True
    assert state.objects["c1"].body == "new"
    assert state.apply(edit_comment("c1", "ana", 3, "new")) is False
    assert state.apply(edit_post("olga", 4, title="Launch night", body="We ship tonight")) is True
    assert state.post == ThreadObject(
        POST, "post", "olga", ms(0), "Launch night", "We ship tonight", None, edited_ms=ms(4)
    )
    assert state.objects["c1"].edited_ms == ms(2)  # the no-op edit at 3 left the time alone
    assert state.seq == 4


def test_edit_after_delete_is_ignored() -> None:
    state = fold(post(), comment("c1", "ana", 1, "old"), delete_comment("c1", "ana", 2))
    assert state.apply(edit_comment("c1", "ana", 3, "resurrected")) is False
    assert state.objects["c1"].body == "old"
    assert state.objects["c1"].deleted is True
    assert state.live_objects() == [state.post]
    assert state.apply(delete_comment("c1", "ana", 4)) is False


def test_edit_of_unknown_object_is_ignored() -> None:
    state = fold(edit_comment("c9", "ana", 1, "ghost"))
    assert state.objects == {}
    assert state.seq == 0


def test_delete_before_create_keeps_the_delete() -> None:
    state = fold(delete_comment("c1", "ana", 2))
    assert state.objects["c1"] == ThreadObject(
        "c1", "comment", "", 0, "", "", None, deleted=True, published=False
    )
    assert state.apply(comment("c1", "ana", 1, "late")) is True
    assert state.objects["c1"].deleted is True
    assert state.objects["c1"].author == "ana"
    assert state.live_objects() == []


def test_deleted_post_hides_whole_thread() -> None:
    state = fold(post(), comment("c1", "ana", 1), delete_post())
    assert state.live_objects() == []
    assert state.apply(edit_post("olga", 31, body="back?")) is False


def test_spam_post_hides_whole_thread() -> None:
    state = fold(post(), comment("c1", "ana", 1), verdict(POST, "spam", source="machine"))
    assert state.live_objects() == []


@pytest.mark.parametrize(
    ("verdicts", "spam"),
    [
        ([], False),
        ([("machine", "spam")], True),
        ([("machine", "ham")], False),
        ([("machine", "spam"), ("person", "ham")], False),
        ([("person", "ham"), ("machine", "spam")], False),
        ([("machine", "ham"), ("person", "spam")], True),
        ([("person", "spam"), ("person", "ham")], False),
        ([("person", "ham"), ("person", "spam")], True),
        ([("machine", "spam"), ("machine", "ham")], False),
    ],
)
def test_effective_verdict(verdicts: list[tuple[str, str]], spam: bool) -> None:
    state = fold(post(), comment("c1", "ana", 1))
    for source, value in verdicts:
        state.apply(verdict("c1", value, source=source))  # type: ignore[arg-type]
    assert state.objects["c1"].spam is spam
    assert (state.objects["c1"] in state.live_objects()) is not spam


def test_repeated_verdict_changes_nothing() -> None:
    state = fold(post(), comment("c1", "ana", 1), verdict("c1", "spam", source="machine"))
    assert state.apply(verdict("c1", "spam", source="machine")) is False
    assert state.seq == 3


def test_verdict_before_object_is_kept() -> None:
    state = fold(verdict("c1", "spam", source="person"), comment("c1", "ana", 1))
    assert state.objects["c1"].spam is True
    assert state.objects["c1"].published is True
    assert state.live_objects() == []


def test_reactions_add_remove_and_readd() -> None:
    like = react("ben", "c1", 2)
    state = fold(post(), comment("c1", "ana", 1), like)
    assert state.reactions == {
        ("ben", "c1", "like"): Reaction("ben", "c1", "like", ms(2), like.event_id)
    }
    assert state.apply(react("ben", "c1", 3)) is False  # already active: first time kept
    assert state.apply(unreact("ben", "c1", 4)) is True
    assert state.reactions == {}
    assert state.apply(unreact("ben", "c1", 5)) is False
    again = react("ben", "c1", 6)
    assert state.apply(again) is True
    assert state.reactions[("ben", "c1", "like")].at_ms == ms(6)


def test_stale_removal_stays_a_noop_when_redelivered() -> None:
    removal = unreact("ben", "c1", 1)
    state = fold(post(), removal, react("ben", "c1", 2))
    assert state.apply(removal) is False
    assert ("ben", "c1", "like") in state.reactions


def test_events_contradicting_the_thread_are_ignored() -> None:
    state = fold(post())
    assert state.apply(comment(POST, "ana", 1)) is False
    wrong_kind = verdict("c1", "spam").__class__(
        occurred_at=at(2),
        tenant=TENANT,
        actor="mod",
        post_id=POST,
        object_id="c1",
        object_kind="post",
        verdict="spam",
        source="person",
        score=1.0,
    )
    assert state.apply(wrong_kind) is False
    assert state.seq == 1


def test_events_of_other_threads_or_topics_raise() -> None:
    state = ThreadState(TENANT, POST)
    other_thread = PostPublished(
        occurred_at=at(0), tenant=TENANT, actor="olga", post_id="p2", body="x"
    )
    other_tenant = PostPublished(
        occurred_at=at(0), tenant="globex", actor="olga", post_id=POST, body="x"
    )
    follow = Followed(occurred_at=at(0), tenant=TENANT, actor="ana", followee="olga")
    with pytest.raises(InvalidEvent, match="post_id"):
        state.apply(other_thread)
    with pytest.raises(InvalidEvent, match="tenant"):
        state.apply(other_tenant)
    with pytest.raises(InvalidEvent, match="topic"):
        state.apply(follow)
    assert state.applied == set()


def test_excerpt_prefers_title_then_cuts_body() -> None:
    body = "word " * 30
    obj = ThreadObject("c1", "comment", "ana", 0, "", body, None)
    assert obj.excerpt == ("word " * 16).strip() + "…"
    assert len(obj.excerpt) == 80
    assert (
        ThreadObject("c1", "comment", "ana", 0, "", "  short\n\ntext ", None).excerpt
        == "short text"
    )
    assert (
        ThreadObject(POST, "post", "olga", 0, " Launch\tday ", body, None).excerpt == "Launch day"
    )


def test_json_round_trip_is_exact() -> None:
    state = fold(
        comment("c2", "ben", 2, "before the post", reply_to="c1"),
        post(),
        comment("c1", "ana", 1, "ünïcode … :-)"),
        react("ben", "c1", 3, "+1"),
        verdict("c2", "spam", source="machine"),
        verdict("c2", "ham", source="person"),
        delete_comment("c3", "cid", 4),
    )
    data = json.loads(json.dumps(state.to_json()))
    restored = ThreadState.from_json(data)
    assert restored == state
    assert restored.to_json() == data
    assert list(restored.objects) == list(state.objects)


def test_from_json_rejects_other_formats() -> None:
    with pytest.raises(DecodeError, match="format"):
        ThreadState.from_json({"format": 99})
    data = fold(post()).to_json()
    data["objects"] = [["short"]]
    with pytest.raises(DecodeError, match="malformed thread state"):
        ThreadState.from_json(data)
