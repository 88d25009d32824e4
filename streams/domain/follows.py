"""Followers of one user, folded from the graph topic, and the "follow" notification they imply.

Graph events are keyed ``tenant/followee``, so one partition sees every (un)follow of a user in
order. ``FollowerState`` keeps the active followers of one followee (actor -> when), its own
event-id dedup (the last ``DEDUP_WINDOW`` graph events of the followee, as the feed state's) and
``seq`` (count of events that changed it; the version of derived rows).

Rules: ``Followed`` by an active follower changes nothing (the first time is kept); ``Unfollowed``
by a non-follower changes nothing; a re-follow after an unfollow counts again from its own time, and
once. ``derive_follow_group`` gives the single "follow" group (recipient = object = the followee,
``post_id`` ""), or None when nobody follows: an unfollow withdraws that actor, the last one the
group. Memory: one entry per active follower plus at most ``DEDUP_WINDOW`` event ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.errors import DecodeError, InvalidEvent
from schemas.events import Event, Followed, Unfollowed
from streams.domain.notifications import GroupKey, NotificationGroup, build_group
from streams.domain.threads import to_ms

__all__ = ["FollowerState", "derive_follow_group", "follow_groups"]


_FORMAT = 2  # 1 also stored each follow's event id (never read) and the applied ids sorted
DEDUP_WINDOW = 10_000


@dataclass(slots=True)
class FollowerState:
    """Active followers of ``followee`` in ``tenant``; see the module docstring.

    ``followers`` maps each active follower to when they followed (ms). ``applied`` holds the
    ids of the last ``DEDUP_WINDOW`` graph events applied, oldest first (the feed state of the
    same author remembers as many).
    """

    tenant: str
    followee: str
    followers: dict[str, int] = field(default_factory=dict)
    seq: int = 0
    applied: dict[str, None] = field(default_factory=dict)

    def apply(self, event: Event, *, deduplicated: bool = False) -> bool:
        """Fold a ``Followed``/``Unfollowed`` in; True if the followers changed (``seq`` grew).

        False for an event id already applied or a no-op. ``InvalidEvent`` for another
        tenant's or followee's event, or any other event type. ``deduplicated``: the caller has
        dropped repeated event ids already (the author's feed state remembers them for both),
        so ``applied`` is neither read nor written.
        """
        if not deduplicated and event.event_id in self.applied:
            return False
        if not isinstance(event, Followed | Unfollowed):
            raise InvalidEvent(
                event.event_type,
                "topic",
                "only Followed/Unfollowed fold into follower state",
                event_id=event.event_id,
            )
        if (event.tenant, event.followee) != (self.tenant, self.followee):
            raise InvalidEvent(
                event.event_type,
                "followee",
                f"{event.tenant}/{event.followee} sent to the state of "
                f"{self.tenant}/{self.followee}; route graph events by their key()",
                event_id=event.event_id,
            )
        if not deduplicated:
            self.applied[event.event_id] = None
            if len(self.applied) > DEDUP_WINDOW:
                del self.applied[next(iter(self.applied))]
        if isinstance(event, Unfollowed):
            changed = self.followers.pop(event.actor, None) is not None
        elif event.actor in self.followers:
            changed = False
        else:
            self.followers[event.actor] = to_ms(event.occurred_at)
            changed = True
        if changed:
            self.seq += 1
        return changed

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only; ``from_json(s.to_json()) == s``."""
        return {
            "format": _FORMAT,
            "tenant": self.tenant,
            "followee": self.followee,
            "followers": dict(self.followers),
            "seq": self.seq,
            "applied": list(self.applied),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FollowerState:
        """Rebuild from ``to_json`` output (this format or the previous one); ``DecodeError``
        if it is not one."""
        if not isinstance(data, dict) or data.get("format") not in (1, _FORMAT):
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise DecodeError(
                f"follower state of format {found!r}; this build reads formats 1 and {_FORMAT}. "
                "Drop the stored state and rebuild it by replaying the log"
            )
        try:
            stored = data["followers"]
            followers = (
                {str(a): int(ms) for a, ms in stored.items()}
                if data["format"] == _FORMAT
                else {str(a): int(ms) for a, ms, _ in stored}
            )
            applied = data["applied"]
            return cls(
                tenant=str(data["tenant"]),
                followee=str(data["followee"]),
                followers=followers,
                seq=int(data["seq"]),
                applied=dict.fromkeys(str(i) for i in applied[-DEDUP_WINDOW:]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DecodeError(f"malformed follower state: {exc!r}; rebuild it by replay") from exc


def derive_follow_group(state: FollowerState) -> NotificationGroup | None:
    """The followee's "follow" group from the active followers, or None when there are none."""
    key = GroupKey(state.followee, "follow", "user", state.followee)
    return build_group(
        key,
        ((actor, ms) for actor, ms in state.followers.items() if actor != state.followee),
        tenant=state.tenant,
        post_id="",
        excerpt="",
    )


def follow_groups(state: FollowerState) -> dict[GroupKey, NotificationGroup]:
    """``derive_follow_group`` as a mapping (empty or one entry), ready for ``diff_groups``."""
    group = derive_follow_group(state)
    return {} if group is None else {group.key: group}
