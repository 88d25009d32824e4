"""Read and seen marks of one user's inbox, folded from the inbox topic, and the counts they give.

Inbox events are keyed ``tenant/user``. ``InboxState`` keeps ``read_up_to_ms`` (from
``NotificationsRead`` without group keys), per-group read marks (from ``NotificationsRead`` with
group keys, by ``GroupKey.text``) and ``seen_up_to_ms`` (from ``NotificationsSeen``). Every mark
only moves forward (max), so folding is idempotent and order-insensitive by itself: no event-id set
is needed and memory stays bounded. A group mark at or below ``read_up_to_ms`` says nothing more
and is dropped.

A group is unread when ``last_ms > max(read_up_to_ms, its group mark)`` and unseen when
``last_ms > seen_up_to_ms``; reading does not imply seeing (the client sends both when it opens
a group). Marks start at 0, so anything stamped after 1970 starts unread and unseen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from schemas.errors import DecodeError, InvalidEvent
from schemas.events import Event, NotificationsRead, NotificationsSeen
from streams.domain.notifications import NotificationGroup
from streams.domain.threads import check_state_format, to_ms

__all__ = ["InboxState", "is_unread", "is_unseen", "unread_count", "unseen_count"]


@dataclass(slots=True)
class InboxState:
    """The read and seen marks of ``user`` in ``tenant``; see the module docstring."""

    tenant: str
    user: str
    read_up_to_ms: int = 0
    seen_up_to_ms: int = 0
    group_reads: dict[str, int] = field(default_factory=dict)
    seq: int = 0

    def apply(self, event: Event) -> bool:
        """Fold a ``NotificationsRead``/``NotificationsSeen`` in; True if a mark moved (``seq``
        grew). ``InvalidEvent`` for another tenant's or user's event, or another event type."""
        if not isinstance(event, NotificationsRead | NotificationsSeen):
            raise InvalidEvent(
                event.event_type,
                "topic",
                "only NotificationsRead/NotificationsSeen fold into an inbox",
                event_id=event.event_id,
            )
        if (event.tenant, event.actor) != (self.tenant, self.user):
            raise InvalidEvent(
                event.event_type,
                "actor",
                f"{event.tenant}/{event.actor} sent to the inbox of {self.tenant}/{self.user}; "
                "route inbox events by their key()",
                event_id=event.event_id,
            )
        up_to_ms = to_ms(event.up_to_at)
        changed = False
        if isinstance(event, NotificationsSeen):
            if up_to_ms > self.seen_up_to_ms:
                self.seen_up_to_ms = up_to_ms
                changed = True
        elif not event.group_keys:
            if up_to_ms > self.read_up_to_ms:
                self.read_up_to_ms = up_to_ms
                self.group_reads = {
                    k: ms for k, ms in self.group_reads.items() if ms > self.read_up_to_ms
                }
                changed = True
        elif up_to_ms > self.read_up_to_ms:
            for key in event.group_keys:
                if self.group_reads.get(key, self.read_up_to_ms) < up_to_ms:
                    self.group_reads[key] = up_to_ms
                    changed = True
        if changed:
            self.seq += 1
        return changed

    def read_mark_ms(self, group: NotificationGroup) -> int:
        """Everything of ``group`` up to this time is read."""
        return max(self.read_up_to_ms, self.group_reads.get(group.key.text, 0))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only; ``from_json(s.to_json()) == s``."""
        return {
            "format": 1,
            "tenant": self.tenant,
            "user": self.user,
            "read_up_to_ms": self.read_up_to_ms,
            "seen_up_to_ms": self.seen_up_to_ms,
            "group_reads": dict(sorted(self.group_reads.items())),
            "seq": self.seq,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InboxState:
        """Rebuild from ``to_json`` output; ``DecodeError`` if it is not one."""
        check_state_format(data, "inbox")
        try:
            return cls(
                tenant=str(data["tenant"]),
                user=str(data["user"]),
                read_up_to_ms=int(data["read_up_to_ms"]),
                seen_up_to_ms=int(data["seen_up_to_ms"]),
                group_reads={str(k): int(v) for k, v in data["group_reads"].items()},
                seq=int(data["seq"]),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise DecodeError(f"malformed inbox state: {exc!r}; rebuild it by replay") from exc


def is_unread(group: NotificationGroup, inbox: InboxState) -> bool:
    """True when ``group`` has a contribution newer than every read mark that covers it."""
    return group.last_ms > inbox.read_mark_ms(group)


def is_unseen(group: NotificationGroup, inbox: InboxState) -> bool:
    """True when ``group`` has a contribution newer than the inbox was last opened."""
    return group.last_ms > inbox.seen_up_to_ms


def unread_count(groups: Iterable[NotificationGroup], inbox: InboxState) -> int:
    """How many of the inbox user's ``groups`` are unread; other recipients' groups are skipped."""
    return sum(1 for g in groups if g.recipient == inbox.user and is_unread(g, inbox))


def unseen_count(groups: Iterable[NotificationGroup], inbox: InboxState) -> int:
    """How many of the inbox user's ``groups`` are unseen; other recipients' groups are skipped."""
    return sum(1 for g in groups if g.recipient == inbox.user and is_unseen(g, inbox))
