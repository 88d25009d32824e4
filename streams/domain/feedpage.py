"""The read side of feeds, pure: merging pushed and pulled activities into pages, visibility.

A reader's page merges the rows fanned out to them on write (pushed) with the activities of the
read-fanout authors they follow (pulled); ``consumers.queries.feed_page`` does the same in SQL and
is tested against ``merge_feed_page``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class FeedEntry:
    """One activity as a feed page shows it (text and flags are joined by the reader)."""

    activity_id: str
    kind: str
    author: str
    post_id: str
    created_ms: int


@dataclass(frozen=True, kw_only=True, slots=True)
class FeedPage:
    """Entries newest first; the next page is ``before_ms=next_before_ms,
    before_id=next_before_id`` (both None when this is the last page)."""

    entries: tuple[FeedEntry, ...]
    next_before_ms: int | None
    next_before_id: str | None


def _order(entry: FeedEntry) -> tuple[int, str]:
    return entry.created_ms, entry.activity_id


def merge_feed_page(
    pushed: Sequence[FeedEntry],
    pulled: Sequence[FeedEntry],
    *,
    limit: int,
    before_ms: int | None = None,
    before_id: str | None = None,
) -> FeedPage:
    """One page of a feed from the viewer's pushed rows and the pulled activities of their
    read-fanout followees.

    Order: ``created_ms`` descending, ties by ``activity_id`` descending; an activity present in
    both inputs appears once. The cursor is a keyset: entries strictly after ``(before_ms,
    before_id)`` in that order (only ``created_ms < before_ms`` when ``before_id`` is None).
    Inputs may be unsorted and may include entries before the cursor (they are skipped).

    For the page to know whether another follows, give it at least ``limit + 1`` visible entries
    past the cursor from every source that has them; the next cursor is set exactly when more than
    ``limit`` distinct entries were given. Raises ``ValueError`` if ``limit < 1`` or ``before_id``
    comes without ``before_ms``.
    """
    if limit < 1:
        raise ValueError(f"feed page limit must be >= 1, got {limit}")
    if before_id is not None and before_ms is None:
        raise ValueError("a feed cursor's before_id needs its before_ms")
    candidates = sorted([*pushed, *pulled], key=_order, reverse=True)
    seen: set[str] = set()
    entries: list[FeedEntry] = []
    for entry in candidates:
        if before_ms is not None:
            after_cursor = (
                entry.created_ms < before_ms
                if before_id is None
                else _order(entry) < (before_ms, before_id)
            )
            if not after_cursor:
                continue
        if entry.activity_id in seen:
            continue
        seen.add(entry.activity_id)
        entries.append(entry)
        if len(entries) > limit:
            last = entries[limit - 1]
            return FeedPage(
                entries=tuple(entries[:limit]),
                next_before_ms=last.created_ms,
                next_before_id=last.activity_id,
            )
    return FeedPage(entries=tuple(entries), next_before_ms=None, next_before_id=None)


def is_visible(entry: FeedEntry, *, viewer: str, deleted: bool, spam: bool) -> bool:
    """Whether ``viewer`` may see ``entry``, given the flags of the object it is about (see
    ``activity_target``): deleted objects are hidden from everyone; an object currently judged
    spam is hidden from everyone but the entry's author, and shows again once a person reverses
    the verdict (the reader passes the current verdict, so nothing here needs undoing).
    """
    if deleted:
        return False
    return not spam or viewer == entry.author
