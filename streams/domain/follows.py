"""Followers of one user, folded from the graph topic, and the "follow" notification they imply.

Graph events are keyed ``tenant/followee``, so one partition sees every (un)follow of a user in
order. ``FollowerState`` keeps the active followers of one followee (actor -> when, by which event),
its own event-id dedup and ``seq`` (count of events that changed it; the version of derived rows).

Rules: ``Followed`` by an active follower changes nothing (the first time is kept); ``Unfollowed``
by a non-follower changes nothing; a re-follow after an unfollow counts again from its own time, and
once. ``derive_follow_group`` gives the single "follow" group (recipient = object = the followee,
``post_id`` ""), or None when nobody follows: an unfollow withdraws that actor, the last one the
group. Memory: one entry per active follower plus one id per graph event of this followee.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.errors import DecodeError, InvalidEvent
from schemas.events import Event, Followed, Unfollowed
from streams.domain.notifications import GroupKey, NotificationGroup, build_group
from streams.domain.threads import check_state_format, to_ms

__all__ = ["Follower", "FollowerState", "derive_follow_group", "follow_groups"]


@dataclass(frozen=True, slots=True)
class Follower:
    """An active follow: when it started and the event that started it."""

    followed_ms: int
    event_id: str


@dataclass(slots=True)
class FollowerState:
    """Active followers of ``followee`` in ``tenant``; see the module docstring."""

    tenant: str
    followee: str
    followers: dict[str, Follower] = field(default_factory=dict)
    seq: int = 0
    applied: set[str] = field(default_factory=set)

    def apply(self, event: Event) -> bool:
        """Fold a ``Followed``/``Unfollowed`` in; True if the followers changed (``seq`` grew).

        False for an event id already applied or a no-op. ``InvalidEvent`` for another
        tenant's or followee's event, or any other event type.
        """
        if event.event_id in self.applied:
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
        self.applied.add(event.event_id)
        if isinstance(event, Unfollowed):
            changed = self.followers.pop(event.actor, None) is not None
        elif event.actor in self.followers:
            changed = False
        else:
            self.followers[event.actor] = Follower(to_ms(event.occurred_at), event.event_id)
            changed = True
        if changed:
            self.seq += 1
        return changed

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only; ``from_json(s.to_json()) == s``."""
        return {
            "format": 1,
            "tenant": self.tenant,
            "followee": self.followee,
            "followers": [[a, f.followed_ms, f.event_id] for a, f in self.followers.items()],
            "seq": self.seq,
            "applied": sorted(self.applied),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FollowerState:
        """Rebuild from ``to_json`` output; ``DecodeError`` if it is not one."""
        check_state_format(data, "follower")
        try:
            return cls(
                tenant=str(data["tenant"]),
                followee=str(data["followee"]),
                followers={str(a): Follower(int(ms), str(i)) for a, ms, i in data["followers"]},
                seq=int(data["seq"]),
                applied={str(i) for i in data["applied"]},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DecodeError(f"malformed follower state: {exc!r}; rebuild it by replay") from exc


def derive_follow_group(state: FollowerState) -> NotificationGroup | None:
    """The followee's "follow" group from the active followers, or None when there are none."""
    key = GroupKey(state.followee, "follow", "user", state.followee)
    return build_group(
        key,
        ((actor, f.followed_ms) for actor, f in state.followers.items() if actor != state.followee),
        tenant=state.tenant,
        post_id="",
        excerpt="",
    )


def follow_groups(state: FollowerState) -> dict[GroupKey, NotificationGroup]:
    """``derive_follow_group`` as a mapping (empty or one entry), ready for ``diff_groups``."""
    group = derive_follow_group(state)
    return {} if group is None else {group.key: group}
