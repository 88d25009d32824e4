"""A deterministic synthetic community and the stream of events its members produce.

``Community(seed, ...)`` holds the cast (ordinary users, a few spam accounts, one moderator), each
user's popularity and activity, and the follow graph people make as they join. Popularity follows a
Zipf law and follows pick their followee by popularity, so a few accounts gather most followers
(the top 1% of users hold well over 10% of all follows). ``events(n, start_at=...)`` plays the
community: posts with titles, hashtags (Zipf over a tag list) and @mentions, comments and replies,
reactions added and taken back, edits, deletes, follows and unfollows, spam from the spam accounts,
the moderator's verdicts, users reading and opening their inboxes, and exact duplicates.

Guarantees
    * Deterministic: the same seed and knobs give the same events (ids, times, text) on every run
      and machine; all randomness comes from ``random.Random`` seeded with strings. Calling
      ``events`` again replays the same stream from the start.
    * Valid: events are built through the catalogue's classes, so each one passes their checks.
    * Causal: an event only names what already exists in the stream: a comment its post, a reply
      its parent (an earlier comment of the same thread), a reaction, edit, delete or verdict its
      object, an unfollow its follow. Nobody comments on, reacts to, edits or deletes what is
      deleted. Only authors edit and delete their content; only the moderator gives verdicts.
    * Ordered: ``occurred_at`` never decreases along the stream (so it is monotonic per partition
      key). Duplicates are the exception: an earlier event object re-emitted unchanged (same id,
      same time), as a redelivery would be, always one of the last ``duplicate_window`` events.
    * No machine verdicts: the pipeline's scorer makes those. Spam texts stack many promotional
      features, so they score far above the scorer's threshold even when it damps the total for
      an author with accepted contributions. "Borderline" comments (genuine users talking about
      MLM) look like spam to the lexicon; each is followed right away by the moderator's "ham",
      a reversal of the machine, so the final verdict never depends on scorer details.

Cost: about 20 microseconds per event (100k events in under 2 s on one core); memory grows
with the objects created (a few hundred bytes each; texts are not kept).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from producers.generator_session import (
    ACTIONS,
    EPOCH,
    Generated,
    Session,
    TextClass,
    cumulative,
    zipf,
)
from schemas.errors import ConfigError
from schemas.events import ID_PATTERN, Event

__all__ = ["ACTIONS", "Community", "Generated", "Ratios", "TextClass", "demo_community"]

_PROBABILITIES = ("duplicate", "bootstrap", "reply", "mention", "hashtag", "title", "url")
_NAMES = (
    "ana ben chen dara eli fern gus hana ivo jun kai lena milo nia omar pia quin rosa sami tove "
    "uma vito wen xia yara zeno abel bea cyra dov esme finn gala hugo ines jory kira luca mara "
    "noor otto"
).split()


@dataclass(frozen=True, kw_only=True, slots=True)
class Ratios:
    """The mix of a community's events. ``ConfigError`` on a negative or non-finite weight, a
    probability above 1, or no action weight above 0.

    Action weights (relative; they need not sum to 1), one step of the stream picks one:
    ``post`` (a post by an active user), ``comment`` (on a recent post; a reply with probability
    ``reply`` when the thread has comments), ``reaction`` / ``unreaction`` (add one to a recent
    post or comment / take back an active one), ``follow`` / ``unfollow`` (beyond the initial
    graph), ``edit`` / ``delete`` (an author's own post or comment, about 1 in 3 a post),
    ``spam`` (a spam account's comment, 1 in 8 a post), ``borderline`` (see the module
    docstring), ``verdict`` (the moderator: confirms or reverses spam, hides ham, flips an earlier
    verdict), ``read`` / ``seen`` (``NotificationsRead``, half of them for a few group keys, and
    ``NotificationsSeen``).

    Probabilities: ``duplicate`` (after each event, re-emit a recent one), ``bootstrap`` (per step,
    while the initial graph is not all emitted, emit its next follow instead of an action),
    ``reply``, ``mention`` (a post or comment @mentions one or two users), ``hashtag`` (a post
    carries tags; comments a quarter as often), ``title`` (a post has a title), ``url`` (a post
    carries a link in its ``url`` field).
    """

    post: float = 0.07
    comment: float = 0.20
    reaction: float = 0.26
    unreaction: float = 0.04
    follow: float = 0.05
    unfollow: float = 0.02
    edit: float = 0.03
    delete: float = 0.02
    spam: float = 0.03
    borderline: float = 0.004
    verdict: float = 0.015
    read: float = 0.05
    seen: float = 0.05
    duplicate: float = 0.02
    bootstrap: float = 0.5
    reply: float = 0.45
    mention: float = 0.25
    hashtag: float = 0.6
    title: float = 0.7
    url: float = 0.1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"generator ratio {f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"generator ratio {f.name} must be finite and >= 0: {value!r}")
            if f.name in _PROBABILITIES and value > 1:
                raise ConfigError(f"generator ratio {f.name} is a probability; {value!r} > 1")
        if not any(getattr(self, name) > 0 for name in ACTIONS):
            raise ConfigError(f"generator ratios: give at least one of {ACTIONS} a weight > 0")


class Community:
    """The cast, their popularity and the initial follow graph; ``events`` plays the community.

    ``users`` ordinary users (ids like ``"ana0"``), ``spammers`` spam accounts (``"promo-0"``),
    and ``moderator`` (``"moderator"``) who only gives verdicts. ``avg_follows``: mean number of
    accounts a user follows when joining (exponentially distributed, at least 1). ``skew``: the
    Zipf exponent of popularity (1.1: the top account is followed by most of the community).
    ``duplicate_window``: how far back a duplicate may reach. Raises ``ConfigError`` on a bad
    tenant id or a number out of range.
    """

    def __init__(
        self,
        seed: int | str,
        *,
        tenant: str = "demo",
        users: int = 200,
        spammers: int = 3,
        avg_follows: float = 8.0,
        skew: float = 1.1,
        ratios: Ratios | None = None,
        duplicate_window: int = 1000,
    ) -> None:
        if not isinstance(tenant, str) or not ID_PATTERN.fullmatch(tenant):
            raise ConfigError(f"generator tenant {tenant!r} is not an id (A-Z a-z 0-9 _ . : @ -)")
        if users < 2 or spammers < 0 or duplicate_window < 1:
            raise ConfigError(
                f"generator needs users >= 2, spammers >= 0 and duplicate_window >= 1; got "
                f"{users}, {spammers} and {duplicate_window}"
            )
        if not (math.isfinite(avg_follows) and 0 <= avg_follows) or not math.isfinite(skew):
            raise ConfigError(f"generator avg_follows {avg_follows!r} and skew {skew!r}: bad")
        self.seed = seed
        self.tenant = tenant
        self.ratios = ratios or Ratios()
        self.duplicate_window = duplicate_window
        rng = random.Random(f"hubbub-generator/{seed}/cast")
        self.users: tuple[str, ...] = tuple(f"{_NAMES[i % len(_NAMES)]}{i}" for i in range(users))
        self.spammers: tuple[str, ...] = tuple(f"promo-{j}" for j in range(spammers))
        self.moderator = "moderator"
        ranks = list(range(users))
        rng.shuffle(ranks)
        weights = zipf(users, skew)
        self.popularity: dict[str, float] = {
            u: weights[r] for u, r in zip(self.users, ranks, strict=True)
        }
        """Relative weight of being followed or mentioned; a Zipf law over a random ranking."""
        self.activity: dict[str, float] = {
            u: self.popularity[u] ** 0.4 * rng.lognormvariate(0.0, 0.75) for u in self.users
        }
        """Relative weight of doing something; popular users are somewhat more active."""
        self.initial_follows: tuple[tuple[str, str], ...] = self._initial_graph(rng, avg_follows)
        """(follower, followee) pairs emitted (interleaved, in this order) early in the stream."""

    def _initial_graph(self, rng: random.Random, avg_follows: float) -> tuple[tuple[str, str], ...]:
        cum = cumulative([self.popularity[u] for u in self.users])
        edges: list[tuple[str, str]] = []
        for user in self.users:
            want = min(len(self.users) - 1, max(1, round(rng.expovariate(1.0) * avg_follows)))
            chosen: dict[str, None] = {}
            for _ in range(50 * want):  # rejection sampling; bounded for pathological skews
                if len(chosen) >= want:
                    break
                followee = rng.choices(self.users, cum_weights=cum)[0]
                if followee != user:
                    chosen[followee] = None
            edges += [(user, followee) for followee in chosen]
        for spammer in self.spammers:  # spam accounts follow a few big names, nobody follows them
            for followee in dict.fromkeys(rng.choices(self.users, cum_weights=cum, k=3)):
                edges.append((spammer, followee))
        rng.shuffle(edges)
        return tuple(edges)

    def events(
        self, n: int, *, start_at: datetime, rate_per_s: float | None = None
    ) -> Iterator[Event]:
        """``n`` events (duplicates included) from ``start_at`` on; see the module docstring.

        ``rate_per_s``: mean events per second of event time, as a Poisson process (exponential
        gaps, truncated to milliseconds, so high rates give equal timestamps); None means 1.
        Raises ``ValueError`` for a negative ``n``, a naive ``start_at`` or a rate <= 0.
        """
        return (item.event for item in self.generate(n, start_at=start_at, rate_per_s=rate_per_s))

    def generate(
        self, n: int, *, start_at: datetime, rate_per_s: float | None = None
    ) -> Iterator[Generated]:
        """Like ``events``, with each event's ``Generated`` labels (text class, duplicate)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"number of events must be a whole number >= 0, got {n!r}")
        if start_at.tzinfo is None or start_at.utcoffset() is None:
            raise ValueError("start_at is naive; give a tz-aware datetime (e.g. in UTC)")
        rate = 1.0 if rate_per_s is None else rate_per_s
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate_per_s must be a finite number > 0, got {rate_per_s!r}")
        base_ms = (start_at - EPOCH) // timedelta(milliseconds=1)
        return Session(self, base_ms, 1000.0 / rate).run(n)


def demo_community(seed: int | str = 7, *, tenant: str = "demo") -> Community:
    """The community ``hubbub demo`` plays: 300 users, 4 spam accounts, in ``tenant``."""
    return Community(seed, tenant=tenant, users=300, spammers=4, avg_follows=8.0)
