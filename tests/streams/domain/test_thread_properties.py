"""Invariants of folding and deriving: duplicates are invisible, diffs rebuild, JSON round-trips."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import Event
from streams.domain.notifications import apply_changes, derive_groups, diff_groups
from streams.domain.threads import ThreadState
from tests.streams.domain.thread_builders import (
    POST,
    TENANT,
    comment,
    delete_comment,
    delete_post,
    edit_comment,
    edit_post,
    post,
    react,
    unreact,
    verdict,
)

USERS = ("ana", "ben", "cid", "olga")
COMMENTS = ("c1", "c2", "c3")
BODIES = ("plain", "hey @ana", "@ben @cid look", "@olga!", "buy now @dan")


@st.composite
def content_event(draw: st.DrawFn) -> Event:
    op = draw(st.integers(0, 9))
    actor = draw(st.sampled_from(USERS))
    minute = draw(st.integers(0, 60))
    cid = draw(st.sampled_from(COMMENTS))
    body = draw(st.sampled_from(BODIES))
    target = draw(st.sampled_from((POST, *COMMENTS)))
    if op == 0:
        return post(actor, minute, title=draw(st.sampled_from(("", "Hi @ben"))), body=body)
    if op == 1:
        return edit_post(actor, minute, body=body)
    if op == 2:
        return delete_post(actor, minute)
    if op in (3, 4):
        reply_to = draw(st.sampled_from((None, *COMMENTS)))
        return comment(cid, actor, minute, body, reply_to=None if reply_to == cid else reply_to)
    if op == 5:
        return edit_comment(cid, actor, minute, body)
    if op == 6:
        return delete_comment(cid, actor, minute)
    if op == 7:
        return react(actor, target, minute, draw(st.sampled_from(("like", "heart"))))
    if op == 8:
        return unreact(actor, target, minute, draw(st.sampled_from(("like", "heart"))))
    source = draw(st.sampled_from(("machine", "person")))
    return verdict(target, draw(st.sampled_from(("spam", "ham"))), source=source)


@st.composite
def with_duplicates(draw: st.DrawFn) -> tuple[list[Event], list[Event]]:
    events = draw(st.lists(content_event(), max_size=30))
    noisy = list(events)
    for _ in range(draw(st.integers(0, 10))):
        if not events:
            break
        source = draw(st.integers(0, len(events) - 1))
        # A redelivery comes after the original: insert it anywhere later in the stream.
        original_at = noisy.index(events[source])
        noisy.insert(draw(st.integers(original_at + 1, len(noisy))), events[source])
    return events, noisy


def fold_all(events: list[Event]) -> ThreadState:
    state = ThreadState(TENANT, POST)
    for event in events:
        state.apply(event)
    return state


@settings(max_examples=200, deadline=None)
@given(with_duplicates())
def test_duplicates_give_the_same_groups_and_state(pair: tuple[list[Event], list[Event]]) -> None:
    clean, noisy = pair
    a, b = fold_all(clean), fold_all(noisy)
    assert derive_groups(b) == derive_groups(a)
    assert b.to_json() == a.to_json()


@settings(max_examples=200, deadline=None)
@given(st.lists(content_event(), max_size=30))
def test_emitting_diffs_keeps_the_sink_equal_to_the_derivation(events: list[Event]) -> None:
    state = ThreadState(TENANT, POST)
    sink: dict = {}  # type: ignore[type-arg]
    last_version = 0
    for event in events:
        if state.apply(event):
            changes = diff_groups(sink, derive_groups(state), version=state.seq)
            assert all(change.version > last_version for change in changes)
            sink = apply_changes(sink, changes)
            last_version = state.seq
        assert sink == derive_groups(state)
        restored = ThreadState.from_json(json.loads(json.dumps(state.to_json())))
        assert restored == state


@settings(max_examples=200, deadline=None)
@given(st.lists(content_event(), max_size=20), st.lists(content_event(), max_size=20))
def test_diff_of_any_two_derivations_applied_to_old_gives_new(
    first: list[Event], second: list[Event]
) -> None:
    old = derive_groups(fold_all(first))
    new = derive_groups(fold_all(first + second))
    assert apply_changes(old, diff_groups(old, new, version=1)) == new
    assert diff_groups(new, new, version=2) == []
