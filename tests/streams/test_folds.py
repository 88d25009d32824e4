"""The folds: stored bytes in and out, the decoded-state cache, and states of older builds."""

import json
import zlib
from datetime import UTC, datetime

from producers.generator import Community
from schemas.events import Event
from streams import folds
from streams.app import _author_of
from streams.domain.feeds import FeedConfig
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
