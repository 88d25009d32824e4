"""process_thread under a crash: rows a lost attempt emitted never outlive the retry."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import Event
from streams import rows
from streams.domain.threads import ThreadState
from streams.processors import Derived, Output, process_thread
from tests.streams.domain.test_thread_properties import content_event
from tests.streams.domain.thread_builders import POST, TENANT

# The sorting key of each table, as in migration 0002.
KEYS = {
    rows.NOTIFICATION_GROUPS: ("recipient", "kind", "object_kind", "object_id"),
    rows.TREND_CONTRIBUTIONS: ("dimension", "dim_value", "metric", "source_id"),
    rows.CONTENT_STATE: ("object_id",),
}


def _batches(events: list[Event], cuts: list[int]) -> list[list[Event]]:
    edges = sorted({0, len(events), *(c % (len(events) + 1) for c in cuts)})
    return [events[a:b] for a, b in zip(edges, edges[1:], strict=False) if b > a]


def _fold(state: ThreadState, batch: list[Event]) -> list[tuple[str, dict[str, Any]]]:
    out = Output()
    process_thread(state, batch, out)
    return [(topic, row) for topic, found in out.rows.items() for row in found]


def _copy(state: ThreadState) -> ThreadState:
    return ThreadState.from_json(state.to_json())


def _sink(written: list[tuple[str, dict[str, Any]]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """What a ReplacingMergeTree(version, is_deleted) read with FINAL shows: per key the row of
    the highest version, the one written last on equal versions; deleted rows hidden."""
    held: dict[tuple[Any, ...], dict[str, Any]] = {}
    for topic, row in written:
        key = (topic, *(row[c] for c in KEYS[topic]))
        if key not in held or row["version"] >= held[key]["version"]:
            held[key] = row
    # The version only orders the writes; batches set it differently for the same value.
    return {
        k: {c: v for c, v in r.items() if c != "version"}
        for k, r in held.items()
        if not r.get("is_deleted")
    }


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(content_event(), min_size=1, max_size=25),
    first=st.lists(st.integers(0, 25), max_size=4),
    retry=st.lists(st.integers(0, 25), max_size=4),
    crash_at=st.integers(0, 5),
)
def test_a_retry_with_other_batches_leaves_no_row_of_the_lost_attempt(
    events: list[Event], first: list[int], retry: list[int], crash_at: int
) -> None:
    clean = ThreadState(TENANT, POST)
    expected = _sink([r for batch in _batches(events, []) for r in _fold(clean, batch)])

    # The first attempt emits every batch up to the crash; the state of the batch it crashed
    # in is lost, so the retry starts from the state saved before it.
    batches = _batches(events, first)
    crash = crash_at % len(batches)
    state = ThreadState(TENANT, POST)
    written: list[tuple[str, dict[str, Any]]] = []
    for batch in batches[:crash]:
        written += _fold(state, batch)
    saved = _copy(state)
    written += _fold(state, batches[crash])  # emitted, then the worker died
    rest = [e for batch in batches[crash:] for e in batch]
    for batch in _batches(rest, retry):
        written += _fold(saved, batch)
    assert _sink(written) == expected


@settings(max_examples=200, deadline=None)
@given(
    events=st.lists(content_event(), min_size=1, max_size=25),
    cuts=st.lists(st.integers(0, 25), max_size=5),
)
def test_derivations_kept_between_batches_change_no_row(
    events: list[Event], cuts: list[int]
) -> None:
    plain, kept = ThreadState(TENANT, POST), ThreadState(TENANT, POST)
    derived = Derived()
    for batch in _batches(events, cuts):
        without = Output()
        process_thread(plain, batch, without)
        with_kept = Output()
        process_thread(kept, batch, with_kept, derived=derived)
        assert with_kept == without
        assert derived.seq == kept.seq
