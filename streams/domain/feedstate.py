"""The feed processor's remembered state per author, and its JSON form.

Split out of ``streams.domain.feeds`` (which decides the rows) so that each stays a readable
size; ``feeds`` re-exports both classes. Pure: standard library and ``schemas`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from schemas.errors import DecodeError

__all__ = ["AuthorState", "RecentActivity"]

_T = TypeVar("_T")
_STATE_FORMAT = 2


@dataclass(frozen=True, kw_only=True, slots=True)
class RecentActivity:
    """An activity the state remembers. ``created_ms``: publish time of its current lifetime;
    ``deleted_ms``: when that lifetime ended (None while live); ``earlier``: the previous
    lifetimes as (published_ms, deleted_ms), oldest first; ``fanned_out``: the current lifetime
    was pushed to followers."""

    activity_id: str
    kind: str
    post_id: str
    created_ms: int
    fanned_out: bool
    deleted_ms: int | None = None
    earlier: tuple[tuple[int, int], ...] = ()

    @property
    def live(self) -> bool:
        return self.deleted_ms is None

    @property
    def last_ms(self) -> int:
        """Time of the activity's latest event."""
        return self.created_ms if self.deleted_ms is None else self.deleted_ms

    def created_at_point(self, t_ms: int) -> int | None:
        """Publish time of the lifetime live just before a graph event at ``t_ms``, else None:
        content events of the same ms count as later."""
        for published, deleted in (*self.earlier, (self.created_ms, self.deleted_ms)):
            if published < t_ms and (deleted is None or deleted >= t_ms):
                return published
        return None


@dataclass(slots=True)
class AuthorState:
    """Everything the feed processor knows about one author of one tenant.

    ``followers`` maps each active follower to the time they followed (ms); an unfollowed
    follower is forgotten (see the module docstring). ``recent`` holds the author's remembered
    activities of configured kinds, deleted ones as tombstones, newest publish first, at most
    ``FeedConfig.remembered``. ``published`` maps the last ``dedup_window`` activity ids seen to
    whether they are live, so a publish of a live activity no longer in ``recent`` is still
    recognised as a repeat. ``applied`` remembers applied event ids, oldest first.
    ``read_fanout`` is sticky: once the follower count has exceeded the threshold it stays True
    even if followers leave, because activities published meanwhile were never pushed; flipping
    back would make readers stop pulling the author and those activities would vanish.

    ``to_json``/``from_json`` round-trip exactly through plain JSON types.
    """

    tenant: str
    author: str
    followers: dict[str, int] = field(default_factory=dict)
    recent: list[RecentActivity] = field(default_factory=list)
    applied: dict[str, None] = field(default_factory=dict)
    read_fanout: bool = False
    published: dict[str, bool] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The state as plain JSON types (dicts, lists, str, int, bool, None), order preserved."""
        return {
            "format": _STATE_FORMAT,
            "tenant": self.tenant,
            "author": self.author,
            "followers": dict(self.followers),
            "recent": [
                {
                    "activity_id": a.activity_id,
                    "kind": a.kind,
                    "post_id": a.post_id,
                    "created_ms": a.created_ms,
                    "fanned_out": a.fanned_out,
                    "deleted_ms": a.deleted_ms,
                    "earlier": [[p, d] for p, d in a.earlier],
                }
                for a in self.recent
            ],
            "applied": list(self.applied),
            "read_fanout": self.read_fanout,
            "published": dict(self.published),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> AuthorState:
        """Rebuild a state from ``to_json`` output; raises ``DecodeError`` if it is not one
        (including a state written by an older format: rebuild it by replaying the log)."""
        try:
            if obj["format"] != _STATE_FORMAT:
                raise DecodeError(
                    f"feed author state has format {obj['format']!r}, this build reads "
                    f"{_STATE_FORMAT}; rebuild the feed state by replaying the log"
                )
            state = cls(
                tenant=_typed(obj["tenant"], str),
                author=_typed(obj["author"], str),
                followers={
                    _typed(f, str): _typed(ms, int) for f, ms in dict(obj["followers"]).items()
                },
                recent=[
                    RecentActivity(
                        activity_id=_typed(a["activity_id"], str),
                        kind=_typed(a["kind"], str),
                        post_id=_typed(a["post_id"], str),
                        created_ms=_typed(a["created_ms"], int),
                        fanned_out=_typed(a["fanned_out"], bool),
                        deleted_ms=(
                            None if a["deleted_ms"] is None else _typed(a["deleted_ms"], int)
                        ),
                        earlier=tuple((_typed(p, int), _typed(d, int)) for p, d in a["earlier"]),
                    )
                    for a in obj["recent"]
                ],
                applied=dict.fromkeys(_typed(i, str) for i in obj["applied"]),
                read_fanout=_typed(obj["read_fanout"], bool),
                published={
                    _typed(i, str): _typed(live, bool) for i, live in dict(obj["published"]).items()
                },
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DecodeError(
                f"feed author state is malformed ({type(exc).__name__}: {exc}); "
                "rebuild the feed state by replaying the log"
            ) from exc
        return state


def _typed(value: object, kind: type[_T]) -> _T:
    # bool is an int subclass: a stored True must not pass for a number, nor 1 for a flag.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
    return value
