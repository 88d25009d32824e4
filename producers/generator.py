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

Cost: about 15 microseconds per event (100k events in well under 5 s on one core); memory grows
with the objects created (a few hundred bytes each; texts are not kept).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Literal

from schemas.errors import ConfigError
from schemas.events import (
    ID_PATTERN,
    CommentDeleted,
    CommentEdited,
    CommentPosted,
    Event,
    Followed,
    ModerationVerdict,
    NotificationsRead,
    NotificationsSeen,
    ObjectKind,
    PostDeleted,
    PostEdited,
    PostPublished,
    ReactionAdded,
    ReactionRemoved,
    Unfollowed,
    Verdict,
)

__all__ = ["ACTIONS", "Community", "Generated", "Ratios", "TextClass", "demo_community"]

TextClass = Literal["", "ham", "spam", "borderline"]
"""What a text-carrying event was written as ("" for events without text)."""

ACTIONS: tuple[str, ...] = (
    "post",
    "comment",
    "reaction",
    "unreaction",
    "follow",
    "unfollow",
    "edit",
    "delete",
    "spam",
    "borderline",
    "verdict",
    "read",
    "seen",
)
_PROBABILITIES = ("duplicate", "bootstrap", "reply", "mention", "hashtag", "title", "url")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


@dataclass(frozen=True, slots=True)
class Generated:
    """One event of the stream, with what the generator knows about it: the class its text was
    written as (``TextClass``) and whether it is a re-emitted duplicate."""

    event: Event
    text_class: TextClass = ""
    duplicate: bool = False


# -- words ------------------------------------------------------------------------------------

_NAMES = (
    "ana ben chen dara eli fern gus hana ivo jun kai lena milo nia omar pia quin rosa sami tove "
    "uma vito wen xia yara zeno abel bea cyra dov esme finn gala hugo ines jory kira luca mara "
    "noor otto"
).split()
_WORDS = (
    "garden kettle river lantern meadow copper window bicycle harbor pepper violin thunder "
    "sparrow orchard basket compass marble ladder pillow canyon cedar velvet lemon saddle "
    "anchor ribbon walnut meteor puzzle tunnel glacier falcon cobalt timber crystal quarry "
    "prairie tangle pebble morning evening weekend recipe sketch project draft version pattern "
    "idea question answer notes photo trail route workshop bread soup loaf jar seed soil "
    "bloom sprout frost breeze rain cloud shadow signal engine socket kernel buffer cache "
    "script branch commit patch build tests schema query index table chart map layer "
    "is was looks feels seems works broke grew baked tried fixed found shared learned "
    "planted painted measured tuned wired cleaned folded sanded brewed "
    "quiet bright rusty gentle sturdy curious tiny huge clever odd lovely slow quick warm "
    "cold fresh old new early late steady shiny muddy "
    "today again finally almost really maybe still together outside upstairs nearby "
    "the a my our this that with after before near under over beside"
).split()
_TAGS = (
    "gardening sourdough cycling birding chess vinyl knitting photography hiking climbing jazz "
    "boardgames running astronomy coffee woodwork pottery synths kafka clickhouse linux retro "
    "maps poetry baking fermentation mushrooms typography rustlang python"
).split()
_REACTIONS = ("like", "love", "laugh", "wow", "clap", "sad", "+1")
_MENTION_FORMS = ("cc {}", "What do you think, {}?", "Thanks {} for the idea.", "{} you asked.")

# Spam: every piece fires a distinct entry of the scorer's lexicon (weights 0.4 and 0.3), so a
# text of 3 strong pieces, 2 calls to action, a money offer and a link totals about 2.4: a score
# of 0.91, still 0.55 when the scorer divides by 3 for an author with accepted contributions.
_SPAM_STRONG = (
    "Join the best MLM team in town",
    "build a downline that pays you forever",
    "network marketing changed my life",
    "get free leads every single morning",
    "make easy money from your couch",
    "enjoy passive income while you sleep",
    "work from home in your pajamas",
    "be your own boss by Friday",
    "financial freedom is one step away",
    "get rich before summer",
)
_SPAM_CALLS = (
    "Click here to start",
    "Visit my site for the details",
    "Join my team",
    "Sign up today",
    "Limited time offer",
    "No experience needed",
    "It is totally risk-free",
)
_SPAM_MONEY = ("$500 a day", "$2,000 per week", "$350 a day", "$9,000 per month")
_SPAM_DOMAINS = ("quick-leads.example", "cashflow-club.example", "easy-income.example")
_SPAM_CONTACT = ("WhatsApp me now.", "Text me for the plan.", "Write to deals@promo-leads.example")
_BORDERLINE = (
    "My cousin got pulled into an MLM last spring and the downline pressure wrecked their savings.",
    "Is network marketing just a pyramid scheme with nicer slides? Asking after a weird dinner.",
    "Every passive income course I see is really selling network marketing to the students.",
    "Anyone promising work from home and financial freedom in one message is recruiting.",
)


def _cumulative(weights: list[float]) -> list[float]:
    return list(accumulate(weights))


def _zipf(n: int, skew: float) -> list[float]:
    return [(rank + 1) ** -skew for rank in range(n)]


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
        zipf = _zipf(users, skew)
        self.popularity: dict[str, float] = {
            u: zipf[r] for u, r in zip(self.users, ranks, strict=True)
        }
        """Relative weight of being followed or mentioned; a Zipf law over a random ranking."""
        self.activity: dict[str, float] = {
            u: self.popularity[u] ** 0.4 * rng.lognormvariate(0.0, 0.75) for u in self.users
        }
        """Relative weight of doing something; popular users are somewhat more active."""
        self.initial_follows: tuple[tuple[str, str], ...] = self._initial_graph(rng, avg_follows)
        """(follower, followee) pairs emitted (interleaved, in this order) early in the stream."""

    def _initial_graph(self, rng: random.Random, avg_follows: float) -> tuple[tuple[str, str], ...]:
        cum = _cumulative([self.popularity[u] for u in self.users])
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
        base_ms = (start_at - _EPOCH) // timedelta(milliseconds=1)
        return _Session(self, base_ms, 1000.0 / rate).run(n)


def demo_community(seed: int | str = 7) -> Community:
    """The community ``hubbub demo`` plays: 300 users, 4 spam accounts, tenant "demo"."""
    return Community(seed, tenant="demo", users=300, spammers=4, avg_follows=8.0)


# -- the simulation ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Post:
    author: str
    title: str
    text_class: TextClass
    deleted: bool = False
    comments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Comment:
    post_id: str
    author: str
    text_class: TextClass
    deleted: bool = False


_Target = tuple[str, str, ObjectKind]  # (post_id, object_id, kind)
_ReactionKey = tuple[str, str, str]  # (actor, object_id, reaction)


class _Session:
    """One run of ``Community.generate``: all mutable simulation state lives here."""

    def __init__(self, community: Community, base_ms: int, mean_gap_ms: float) -> None:
        c = self.c = community
        self.r = c.ratios
        self.rng = random.Random(f"hubbub-generator/{c.seed}/events")
        self.base_ms = base_ms
        self.mean_gap_ms = mean_gap_ms
        self.elapsed_ms = 0.0
        self.at = _EPOCH
        self.actions = [a for a in ACTIONS if getattr(self.r, a) > 0]
        self.action_cum = _cumulative([getattr(self.r, a) for a in self.actions])
        self.handlers: dict[str, Callable[[], Generated | None]] = {
            a: getattr(self, f"_{a}") for a in ACTIONS
        }
        self.users = c.users
        self.activity_cum = _cumulative([c.activity[u] for u in c.users])
        self.popularity_cum = _cumulative([c.popularity[u] for u in c.users])
        self.tag_cum = _cumulative(_zipf(len(_TAGS), 1.0))
        self.reaction_cum = _cumulative(_zipf(len(_REACTIONS), 1.2))
        self.posts: dict[str, _Post] = {}
        self.post_order: list[str] = []
        self.comments: dict[str, _Comment] = {}
        self.comment_order: list[str] = []
        self.reactions: list[tuple[str, str, str, ObjectKind, str]] = []
        self.reaction_keys: set[_ReactionKey] = set()
        self.edges: list[tuple[str, str]] = []
        self.edge_index: dict[tuple[str, str], int] = {}
        self.boot = 0
        self.spam_targets: list[_Target] = []
        self.judged: list[_Target] = []
        self.person: dict[str, Verdict] = {}
        self.inbox_keys: dict[str, list[str]] = {}
        self.reviews: list[_Target] = []
        self.ring: list[Generated] = []
        self.ring_at = 0
        self.remaining = 0
        self.counter = 0

    # -- driving ----------------------------------------------------------------------------------

    def run(self, n: int) -> Iterator[Generated]:
        produced = 0
        while produced < n:
            self.remaining = n - produced
            item = self._step()
            self._remember(item)
            yield item
            produced += 1
            # Never between a borderline comment and its review: the review must fit in n.
            if produced < n and not self.reviews and self.rng.random() < self.r.duplicate:
                yield replace(self.ring[self.rng.randrange(len(self.ring))], duplicate=True)
                produced += 1

    def _remember(self, item: Generated) -> None:
        if len(self.ring) < self.c.duplicate_window:
            self.ring.append(item)
        else:
            self.ring[self.ring_at] = item
            self.ring_at = (self.ring_at + 1) % self.c.duplicate_window

    def _step(self) -> Generated:
        self.elapsed_ms += self.rng.expovariate(1.0) * self.mean_gap_ms
        self.at = _EPOCH + timedelta(milliseconds=self.base_ms + int(self.elapsed_ms))
        if self.reviews:
            post_id, object_id, kind = self.reviews.pop(0)
            return self._judge((post_id, object_id, kind), "ham")
        initial = self.c.initial_follows
        while self.boot < len(initial) and self.rng.random() < self.r.bootstrap:
            follower, followee = initial[self.boot]
            self.boot += 1
            if (follower, followee) not in self.edge_index:
                return self._add_follow(follower, followee)
        for _ in range(20):
            action = self.rng.choices(self.actions, cum_weights=self.action_cum)[0]
            item = self.handlers[action]()
            if item is not None:
                return item
        return self._publish(self._active(), "ham")  # always possible

    # -- helpers ----------------------------------------------------------------------------------

    def _id(self) -> str:
        # uuid4-shaped (version and variant bits set), drawn from the seeded generator.
        bits = self.rng.getrandbits(128) & ~(0xF << 76) & ~(0x3 << 62) | (4 << 76) | (2 << 62)
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _active(self) -> str:
        return self.rng.choices(self.users, cum_weights=self.activity_cum)[0]

    def _popular(self) -> str:
        return self.rng.choices(self.users, cum_weights=self.popularity_cum)[0]

    def _recent(self, items: list[str], scale: float) -> str | None:
        """A recent item (exponentially more likely the newer), or None for an empty list."""
        if not items:
            return None
        return items[-1 - int(self.rng.expovariate(1.0) * scale) % len(items)]

    def _live_post(self) -> str | None:
        for _ in range(6):
            post_id = self._recent(self.post_order, 40.0)
            if post_id is not None and not self.posts[post_id].deleted:
                return post_id
        return None

    def _live_comment(self, post: _Post) -> str | None:
        for _ in range(4):
            comment_id = self._recent(post.comments, 15.0)
            if comment_id is not None and not self.comments[comment_id].deleted:
                return comment_id
        return None

    def _notify(self, user: str, key: str) -> None:
        keys = self.inbox_keys.setdefault(user, [])
        if key not in keys:
            keys.append(key)
            del keys[:-8]

    def _sentence(self, lo: int = 5, hi: int = 11) -> str:
        words = self.rng.choices(_WORDS, k=self.rng.randint(lo, hi))
        return " ".join(words).capitalize() + self.rng.choice(".....?!")

    def _text(self, sentences: int, *, tag_p: float) -> tuple[str, list[str]]:
        """A ham text and the users it mentions."""
        parts = [self._sentence() for _ in range(sentences)]
        mentioned: list[str] = []
        if self.rng.random() < self.r.mention:
            mentioned = list(dict.fromkeys(self._popular() for _ in range(self.rng.randint(1, 2))))
            handles = " and ".join(f"@{u}" for u in mentioned)
            parts.insert(
                self.rng.randrange(len(parts) + 1), self.rng.choice(_MENTION_FORMS).format(handles)
            )
        if self.rng.random() < tag_p:
            tags = dict.fromkeys(
                self.rng.choices(_TAGS, cum_weights=self.tag_cum, k=self.rng.randint(1, 3))
            )
            parts.append(" ".join(f"#{t}" for t in tags))
        return " ".join(parts), mentioned

    def _spam_text(self) -> str:
        rng = self.rng
        pieces = [*rng.sample(_SPAM_STRONG, 3), *rng.sample(_SPAM_CALLS, 2)]
        pieces.insert(1, f"Earn {rng.choice(_SPAM_MONEY)}")
        rng.shuffle(pieces)
        links = [
            f"https://{rng.choice(_SPAM_DOMAINS)}/{self._next('r')}"
            for _ in range(rng.randint(1, 2))
        ]
        text = ". ".join(pieces) + "! " + " ".join(links)
        if rng.random() < 0.5:
            text += " " + rng.choice(_SPAM_CONTACT)
        return text

    # -- actions: content -------------------------------------------------------------------------

    def _publish(self, author: str, text_class: TextClass) -> Generated:
        rng, r = self.rng, self.r
        post_id = self._next("p")
        url = None
        if text_class == "spam":
            title, body, mentioned = "Earn from home", self._spam_text(), []
        else:
            title = self._sentence(3, 6).rstrip(".?!") if rng.random() < r.title else ""
            body, mentioned = self._text(rng.randint(1, 4), tag_p=r.hashtag)
            if rng.random() < r.url:
                url = f"https://blog.example.org/{author}/{post_id}"
        self.posts[post_id] = _Post(author, title, text_class)
        self.post_order.append(post_id)
        for user in mentioned:
            self._notify(user, f"mention:post:{post_id}")
        if text_class == "spam":
            self.spam_targets.append((post_id, post_id, "post"))
        event = self._make(PostPublished, author, post_id=post_id, title=title, body=body, url=url)
        return Generated(event, text_class)

    def _post(self) -> Generated | None:
        return self._publish(self._active(), "ham")

    def _add_comment(self, author: str, text_class: TextClass) -> Generated | None:
        post_id = self._live_post()
        if post_id is None:
            return None
        post = self.posts[post_id]
        parent = None
        if post.comments and self.rng.random() < self.r.reply:
            parent = self._live_comment(post)
        mentioned: list[str] = []
        if text_class == "spam":
            body = self._spam_text()
        elif text_class == "borderline":
            body = self.rng.choice(_BORDERLINE)
        else:
            body, mentioned = self._text(self.rng.randint(1, 2), tag_p=self.r.hashtag / 4)
        comment_id = self._next("c")
        self.comments[comment_id] = _Comment(post_id, author, text_class)
        self.comment_order.append(comment_id)
        post.comments.append(comment_id)
        self._notify(post.author, f"comment:post:{post_id}")
        if parent is not None:
            self._notify(self.comments[parent].author, f"reply:comment:{parent}")
        for user in mentioned:
            self._notify(user, f"mention:comment:{comment_id}")
        if text_class == "spam":
            self.spam_targets.append((post_id, comment_id, "comment"))
        elif text_class == "borderline":
            self.reviews.append((post_id, comment_id, "comment"))
        event = self._make(CommentPosted, author, comment_id=comment_id, post_id=post_id, body=body, in_reply_to=parent)
        return Generated(event, text_class)

    def _comment(self) -> Generated | None:
        return self._add_comment(self._active(), "ham")

    def _spam(self) -> Generated | None:
        if not self.c.spammers:
            return None
        spammer = self.rng.choice(self.c.spammers)
        if self.rng.random() < 0.125:
            return self._publish(spammer, "spam")
        return self._add_comment(spammer, "spam")

    def _borderline(self) -> Generated | None:
        # Its moderator review must fit in the stream, or the final verdict would be the machine's.
        if self.remaining < 2:
            return None
        return self._add_comment(self._active(), "borderline")

    def _pick_own(self, *, posts_share: float) -> _Target | None:
        """A live ham post or comment (recent ones more likely), for its author to edit/delete."""
        if self.rng.random() < posts_share:
            post_id = self._live_post()
            if post_id is not None and self.posts[post_id].text_class == "ham":
                return post_id, post_id, "post"
            return None
        comment_id = self._recent(self.comment_order, 150.0)
        if comment_id is None:
            return None
        comment = self.comments[comment_id]
        if comment.deleted or comment.text_class != "ham" or self.posts[comment.post_id].deleted:
            return None
        return comment.post_id, comment_id, "comment"

    def _edit(self) -> Generated | None:
        target = self._pick_own(posts_share=0.35)
        if target is None:
            return None
        post_id, object_id, kind = target
        rng, tenant, at = self.rng, self.c.tenant, self.at
        body, mentioned = self._text(
            rng.randint(1, 3), tag_p=self.r.hashtag / (1 if kind == "post" else 4)
        )
        body = f"Edit: {body}"
        for user in mentioned:
            self._notify(user, f"mention:{kind}:{object_id}")
        event: Event
        if kind == "post":
            post = self.posts[post_id]
            if rng.random() < 0.3:
                post.title = self._sentence(3, 6).rstrip(".?!")
            event = self._make(PostEdited, post.author, post_id=post_id, title=post.title, body=body)
        else:
            event = self._make(CommentEdited, self.comments[object_id].author, comment_id=object_id, post_id=post_id, body=body)
        return Generated(event, "ham")

    def _delete(self) -> Generated | None:
        target = self._pick_own(posts_share=0.3)
        if target is None:
            return None
        post_id, object_id, kind = target
        tenant, at = self.c.tenant, self.at
        if kind == "post":
            post = self.posts[post_id]
            post.deleted = True
            return Generated(
                self._make(PostDeleted, post.author, post_id=post_id)
            )
        comment = self.comments[object_id]
        comment.deleted = True
        return Generated(
            self._make(CommentDeleted, comment.author, comment_id=object_id, post_id=post_id)
        )

    def _reaction(self) -> Generated | None:
        post_id = self._live_post()
        if post_id is None:
            return None
        post = self.posts[post_id]
        object_id, author = post_id, post.author
        kind: ObjectKind = "post"
        if post.comments and self.rng.random() < 0.6:
            comment_id = self._live_comment(post)
            if comment_id is None:
                return None
            object_id, kind, author = comment_id, "comment", self.comments[comment_id].author
        actor = self._active()
        reaction = self.rng.choices(_REACTIONS, cum_weights=self.reaction_cum)[0]
        if (actor, object_id, reaction) in self.reaction_keys:
            return None
        self.reaction_keys.add((actor, object_id, reaction))
        self.reactions.append((actor, post_id, object_id, kind, reaction))
        self._notify(author, f"reaction:{kind}:{object_id}")
        event = self._make(ReactionAdded, actor, post_id=post_id, object_id=object_id, object_kind=kind, reaction=reaction)
        return Generated(event)

    def _unreaction(self) -> Generated | None:
        if not self.reactions:
            return None
        i = self.rng.randrange(len(self.reactions))
        self.reactions[i], self.reactions[-1] = self.reactions[-1], self.reactions[i]
        actor, post_id, object_id, kind, reaction = self.reactions.pop()
        self.reaction_keys.discard((actor, object_id, reaction))
        event = self._make(ReactionRemoved, actor, post_id=post_id, object_id=object_id, object_kind=kind, reaction=reaction)
        return Generated(event)

    # -- actions: moderation ----------------------------------------------------------------------

    def _judge(self, target: _Target, verdict: Verdict) -> Generated:
        post_id, object_id, kind = target
        if object_id not in self.person:
            self.judged.append(target)
        self.person[object_id] = verdict
        event = self._make(ModerationVerdict, self.c.moderator, post_id=post_id, object_id=object_id, object_kind=kind, verdict=verdict, source="person", score=1.0 if verdict == "spam" else 0.0, reasons=("moderator review",))
        return Generated(event)

    def _deleted(self, target: _Target) -> bool:
        post_id, object_id, kind = target
        return self.posts[post_id].deleted or (
            kind == "comment" and self.comments[object_id].deleted
        )

    def _text_class(self, target: _Target) -> TextClass:
        post_id, object_id, kind = target
        if kind == "post":
            return self.posts[post_id].text_class
        return self.comments[object_id].text_class

    def _verdict(self) -> Generated | None:
        roll = self.rng.random()
        target: _Target | None
        if roll < 0.45 and self.spam_targets:
            target = self.rng.choice(self.spam_targets)
        elif roll < 0.8:
            target = self._pick_own(posts_share=0.3)  # a ham object; the moderator hides it
        elif self.judged:
            target = self.rng.choice(self.judged)
        else:
            return None
        if target is None or self._deleted(target):
            return None
        current = self.person.get(target[1])
        if current is not None:
            verdict: Verdict = "ham" if current == "spam" else "spam"
        elif self._text_class(target) == "spam":
            verdict = "ham" if self.rng.random() < 0.3 else "spam"  # "ham" reverses the machine
        else:
            verdict = "spam"
        return self._judge(target, verdict)

    # -- actions: graph and inbox -----------------------------------------------------------------

    def _add_follow(self, follower: str, followee: str) -> Generated:
        self.edge_index[(follower, followee)] = len(self.edges)
        self.edges.append((follower, followee))
        self._notify(followee, f"follow:user:{followee}")
        event = self._make(Followed, follower, followee=followee)
        return Generated(event)

    def _follow(self) -> Generated | None:
        follower, followee = self._active(), self._popular()
        if follower == followee or (follower, followee) in self.edge_index:
            return None
        return self._add_follow(follower, followee)

    def _unfollow(self) -> Generated | None:
        if not self.edges:
            return None
        i = self.rng.randrange(len(self.edges))
        edge, last = self.edges[i], self.edges[-1]
        self.edges[i] = last
        self.edge_index[last] = i
        self.edges.pop()
        del self.edge_index[edge]
        event = self._make(Unfollowed, edge[0], followee=edge[1])
        return Generated(event)

    def _up_to(self) -> datetime:
        # Mostly "now"; sometimes a mark from a little while ago (a slow client), which must
        # never move a mark back.
        if self.rng.random() < 0.8:
            return self.at
        return self.at - timedelta(milliseconds=self.rng.randrange(600_000))

    def _read(self) -> Generated | None:
        user = self._active()
        keys = self.inbox_keys.get(user, [])
        chosen: tuple[str, ...] = ()
        if keys and self.rng.random() < 0.5:
            chosen = tuple(self.rng.sample(keys, min(len(keys), self.rng.randint(1, 3))))
        event = self._make(NotificationsRead, user, up_to_at=self._up_to(), group_keys=chosen)
        return Generated(event)

    def _seen(self) -> Generated | None:
        event = self._make(NotificationsSeen, self._active(), up_to_at=self._up_to())
        return Generated(event)
