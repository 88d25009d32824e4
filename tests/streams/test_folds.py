"""The folds: stored bytes in and out, the decoded-state cache, and states of older builds."""

import json
import zlib
from datetime import UTC, datetime

from producers.generator import Community
from schemas.events import Event, Followed, Unfollowed
from streams import folds
from streams.app import _author_of
from streams.domain.feeds import AuthorState, FeedConfig
from streams.domain.follows import FollowerState, follow_groups
from streams.processors import Output

CONFIG = FeedConfig()
FOLDS = {"threads": folds.fold_thread, "authors": folds.fold_author, "inboxes": folds.fold_inbox}


def _events(n: int = 3000) -> list[Event]:
    community = Community("folds", tenant="t", users=200, avg_follows=6.0)
    return list(community.events(n, start_at=datetime(2026, 3, 1, tzinfo=UTC), rate_per_s=200))


def _key(stage: str, event: Event) -> bytes:
    return (f"{event.tenant}/{_author_of(event)}" if stage == "authors" else event.key()).encode()


def _run(events: list[Event], *, cached: bool, batch: int = 97) -> tuple[dict, list]:
    """Fold like the agents: per batch, per key; returns (tables, every output row)."""
    tables: dict[str, dict[bytes, bytes]] = {s: {} for s in FOLDS}
    caches = {s: folds.StateCache(max_entries=50) for s in FOLDS} if cached else {}
    rows: list = []
    for i in range(0, len(events), batch):
        chunk = events[i : i + batch]
        forwarded: list[Event] = []
        for stage, topic in (("threads", "content"), ("authors", "graph"), ("inboxes", "inbox")):
            todo = [e for e in chunk if e.topic == topic] + (
                forwarded if stage == "authors" else []
            )
            by_key: dict[bytes, list[Event]] = {}
            for event in todo:
                by_key.setdefault(_key(stage, event), []).append(event)
            for key, evs in by_key.items():
                out = Output()
                saved = FOLDS[stage](
                    tables[stage].get(key), key, evs, out, CONFIG, caches.get(stage)
                )
                if saved is not None:
                    tables[stage][key] = saved
                rows.append(sorted((k, json.dumps(v, sort_keys=True)) for k, v in out.rows.items()))
                forwarded += out.forwarded
    return tables, rows


def test_cache_changes_nothing_but_the_work() -> None:
    events = _events()
    assert _run(events, cached=True) == _run(events, cached=False)


def test_cache_is_used_only_for_the_exact_bytes_it_stored() -> None:
    cache = folds.StateCache()
    decoded: list[bytes | None] = []

    def decode(raw: bytes | None) -> str:
        decoded.append(raw)
        return "fresh"

    stored = b'{"a":1}'
    cache.put(b"k", stored, "cached")
    assert cache.take(b"k", stored, decode) == "cached"  # the same object
    cache.put(b"k", stored, "cached")
    assert cache.take(b"k", bytes(bytearray(stored)), decode) == "fresh"  # equal, not the same
    assert cache.take(b"k", stored, decode) == "fresh"  # taken entries are gone
    assert cache.hits == 1 and cache.misses == 2


def test_cache_is_bounded() -> None:
    cache = folds.StateCache(max_entries=3)
    raws = [bytes([i]) for i in range(5)]
    for i, raw in enumerate(raws):
        cache.put(str(i).encode(), raw, i)
    assert cache.take(b"0", raws[0], lambda _: "decoded") == "decoded"  # evicted
    assert cache.take(b"4", raws[4], lambda _: "decoded") == 4


def test_states_compressed_by_earlier_builds_are_read() -> None:
    state = {"format": 1, "list": [1, 2, 3], "text": "é"}
    assert folds.load(zlib.compress(json.dumps(state).encode(), 1)) == state
    assert folds.load(folds.dump(state)) == state
    assert folds.dump(state).startswith(b"{")


def _graph(actor: str, minute: int, *, follows: bool, event_id: str) -> Event:
    cls = Followed if follows else Unfollowed
    return cls(
        event_id=event_id,
        occurred_at=datetime(2026, 3, 1, 0, minute, tzinfo=UTC),
        tenant="t",
        actor=actor,
        followee="ana",
    )


def test_an_author_stores_its_followers_once_and_both_states_agree() -> None:
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(6)]
    events = [
        _graph("bo", 1, follows=True, event_id=ids[0]),
        _graph("cy", 2, follows=True, event_id=ids[1]),
        _graph("bo", 3, follows=False, event_id=ids[2]),
        _graph("bo", 1, follows=True, event_id=ids[0]),  # redelivered: changes nothing
        _graph("bo", 4, follows=True, event_id=ids[3]),
        _graph("bo", 3, follows=False, event_id=ids[2]),  # redelivered after the re-follow
    ]
    raw = None
    alone = FollowerState("t", "ana")  # the follower state deduplicating on its own
    for batch in (events[:2], events[2:4], events[4:]):  # no cache: decoded every time
        raw = folds.fold_author(raw, b"t/ana", batch, Output(), CONFIG) or raw
        for event in batch:
            alone.apply(event)
    assert raw is not None
    stored = folds.load(raw)
    assert stored["follows"] == {"seq": alone.seq} == {"seq": 4}
    feed, follows = _decoded_author(raw)
    assert follows.followers == feed.followers == alone.followers
    assert follow_groups(follows) == follow_groups(alone)


class _Keep(folds.StateCache):
    """A cache that keeps what the fold puts back: the states it decoded."""

    def __init__(self) -> None:
        super().__init__()
        self.states: list[object] = []

    def put(self, key: bytes, raw: bytes | None, state: object) -> None:
        self.states.append(state)


def _decoded_author(raw: bytes) -> tuple[AuthorState, FollowerState]:
    keep = _Keep()
    folds.fold_author(raw, b"t/ana", [], Output(), CONFIG, keep)
    (states,) = keep.states
    assert isinstance(states, tuple)
    return states


def test_an_author_state_stored_whole_by_an_earlier_build_is_read() -> None:
    feed = AuthorState("t", "ana", followers={"bo": 60_000}, applied={"e1": None})
    earlier = {
        "feed": feed.to_json(),
        "follows": {
            "format": 1,
            "tenant": "t",
            "followee": "ana",
            "followers": [["bo", 60_000, "e1"]],
            "seq": 1,
            "applied": ["e1"],
        },
    }
    read_feed, follows = _decoded_author(folds.dump(earlier))
    assert (read_feed.followers, follows.followers, follows.seq) == (
        {"bo": 60_000},
        {"bo": 60_000},
        1,
    )
