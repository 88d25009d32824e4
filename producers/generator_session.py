"""How one run of a generated community plays out: the words it writes and the simulation.

The private half of ``producers.generator`` (kept apart to keep each module short); import the
public API from there. ``Session`` holds all mutable state of one ``Community.generate`` run.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING, Literal

from producers import generator_words as words
from schemas.events import (
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

if TYPE_CHECKING:
    from producers.generator import Community

__all__ = ["ACTIONS", "EPOCH", "Generated", "Session", "TextClass", "cumulative", "zipf"]

TextClass = Literal["", "ham", "spam", "borderline"]
"""What a text-carrying event was written as ("" for events without text)."""

ACTIONS: tuple[str, ...] = tuple(
    "post comment reaction unreaction follow unfollow edit delete spam borderline verdict read "
    "seen".split()
)
"""The action names, which are also the action weights of ``Ratios``."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Generated:
    """One event of the stream, with what the generator knows about it: the class its text was
    written as (``TextClass``) and whether it is a re-emitted duplicate."""

    event: Event
    text_class: TextClass = ""
    duplicate: bool = False


def cumulative(weights: list[float]) -> list[float]:
    return list(accumulate(weights))


def zipf(n: int, skew: float) -> list[float]:
    return [(rank + 1) ** -skew for rank in range(n)]


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
_Reaction = tuple[str, str, str, ObjectKind, str]  # (actor, post_id, object_id, kind, reaction)


class Session:
    """One run of ``Community.generate``: all mutable simulation state lives here."""

    def __init__(self, community: Community, base_ms: int, mean_gap_ms: float) -> None:
        c = self.c = community
        self.r = c.ratios
        self.rng = random.Random(f"hubbub-generator/{c.seed}/events")
        self.base_ms, self.mean_gap_ms, self.elapsed_ms, self.at = base_ms, mean_gap_ms, 0.0, EPOCH
        self.actions = [a for a in ACTIONS if getattr(self.r, a) > 0]
        self.action_cum = cumulative([getattr(self.r, a) for a in self.actions])
        self.handlers: dict[str, Callable[[], Generated | None]] = {
            a: getattr(self, f"_{a}") for a in ACTIONS
        }
        self.activity_cum = cumulative([c.activity[u] for u in c.users])
        self.popularity_cum = cumulative([c.popularity[u] for u in c.users])
        self.tag_cum = cumulative(zipf(len(words.TAGS), 1.0))
        self.reaction_cum = cumulative(zipf(len(words.REACTIONS), 1.2))
        self.posts: dict[str, _Post] = {}
        self.post_order: list[str] = []
        self.comments: dict[str, _Comment] = {}
        self.comment_order: list[str] = []
        self.reactions: list[_Reaction] = []
        self.reaction_keys: set[tuple[str, str, str]] = set()
        self.edges: list[tuple[str, str]] = []
        self.edge_index: dict[tuple[str, str], int] = {}
        self.boot = 0  # how many of the initial follows were considered
        self.spam_targets: list[_Target] = []
        self.judged: list[_Target] = []
        self.person: dict[str, Verdict] = {}
        self.inbox_keys: dict[str, list[str]] = {}  # group keys a user may mark read
        self.reviews: list[_Target] = []  # borderline comments awaiting the moderator
        self.ring: list[Generated] = []  # the last duplicate_window events, for duplicates
        self.ring_at = self.remaining = self.counter = 0

    # -- driving ----------------------------------------------------------------------------------

    def run(self, n: int) -> Iterator[Generated]:
        produced = 0
        while produced < n:
            self.remaining = n - produced
            item = self._step()
            if len(self.ring) < self.c.duplicate_window:
                self.ring.append(item)
            else:
                self.ring[self.ring_at] = item
                self.ring_at = (self.ring_at + 1) % self.c.duplicate_window
            yield item
            produced += 1
            # Never between a borderline comment and its review: the review must fit in n.
            if produced < n and not self.reviews and self.rng.random() < self.r.duplicate:
                yield replace(self.ring[self.rng.randrange(len(self.ring))], duplicate=True)
                produced += 1

    def _step(self) -> Generated:
        self.elapsed_ms += self.rng.expovariate(1.0) * self.mean_gap_ms
        self.at = EPOCH + timedelta(milliseconds=self.base_ms + int(self.elapsed_ms))
        if self.reviews:
            return self._judge(self.reviews.pop(0), "ham")
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

    def _make(self, cls: Callable[..., Event], actor: str, **fields: object) -> Event:
        # uuid4-shaped ids (version and variant bits set), drawn from the seeded generator.
        bits = self.rng.getrandbits(128) & ~(0xF << 76) & ~(0x3 << 62) | (4 << 76) | (2 << 62)
        h = f"{bits:032x}"
        event_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        return cls(
            event_id=event_id, occurred_at=self.at, tenant=self.c.tenant, actor=actor, **fields
        )

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _active(self) -> str:
        return self.rng.choices(self.c.users, cum_weights=self.activity_cum)[0]

    def _popular(self) -> str:
        return self.rng.choices(self.c.users, cum_weights=self.popularity_cum)[0]

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
        chosen = self.rng.choices(words.WORDS, k=self.rng.randint(lo, hi))
        return " ".join(chosen).capitalize() + self.rng.choice(".....?!")

    def _text(self, sentences: int, *, tag_p: float) -> tuple[str, list[str]]:
        """A ham text and the users it mentions."""
        rng = self.rng
        parts = [self._sentence() for _ in range(sentences)]
        mentioned: list[str] = []
        if rng.random() < self.r.mention:
            mentioned = list(dict.fromkeys(self._popular() for _ in range(rng.randint(1, 2))))
            mention = rng.choice(words.MENTION_FORMS).format(
                " and ".join(f"@{u}" for u in mentioned)
            )
            parts.insert(rng.randrange(len(parts) + 1), mention)
        if rng.random() < tag_p:
            tags = rng.choices(words.TAGS, cum_weights=self.tag_cum, k=rng.randint(1, 3))
            parts.append(" ".join(f"#{t}" for t in dict.fromkeys(tags)))
        return " ".join(parts), mentioned

    def _spam_text(self) -> str:
        rng = self.rng
        pieces = [*rng.sample(words.SPAM_STRONG, 3), *rng.sample(words.SPAM_CALLS, 2)]
        pieces.insert(rng.randrange(6), f"Earn {rng.choice(words.SPAM_MONEY)}")
        links = [f"https://{rng.choice(words.SPAM_DOMAINS)}/{self._next('r')}" for _ in range(2)]
        text = (
            ". ".join(p[0].upper() + p[1:] for p in pieces)
            + "! "
            + " ".join(links[: rng.randint(1, 2)])
        )
        return text + " " + rng.choice(words.SPAM_CONTACT) if rng.random() < 0.5 else text

    def _target_class(self, target: _Target) -> TextClass:
        post_id, object_id, kind = target
        return (
            self.posts[post_id].text_class
            if kind == "post"
            else self.comments[object_id].text_class
        )

    def _deleted(self, target: _Target) -> bool:
        post_id, object_id, kind = target
        return self.posts[post_id].deleted or (
            kind == "comment" and self.comments[object_id].deleted
        )

    # -- actions: content -------------------------------------------------------------------------

    def _publish(self, author: str, text_class: TextClass) -> Generated:
        rng, r = self.rng, self.r
        post_id = self._next("p")
        url: str | None = None
        mentioned: list[str] = []
        if text_class == "spam":
            title, body = "Earn from home", self._spam_text()
            self.spam_targets.append((post_id, post_id, "post"))
        else:
            title = self._sentence(3, 6).rstrip(".?!") if rng.random() < r.title else ""
            if title and rng.random() < r.hashtag / 5:
                title += f" #{rng.choices(words.TAGS, cum_weights=self.tag_cum)[0]}"
            body, mentioned = self._text(rng.randint(1, 4), tag_p=r.hashtag)
            if rng.random() < r.url:
                url = f"https://blog.example.org/{author}/{post_id}"
        self.posts[post_id] = _Post(author, title, text_class)
        self.post_order.append(post_id)
        for user in mentioned:
            self._notify(user, f"mention:post:{post_id}")
        fields = {"post_id": post_id, "title": title, "body": body, "url": url}
        return Generated(self._make(PostPublished, author, **fields), text_class)

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
        comment_id = self._next("c")
        mentioned: list[str] = []
        if text_class == "spam":
            body = self._spam_text()
            self.spam_targets.append((post_id, comment_id, "comment"))
        elif text_class == "borderline":
            body = self.rng.choice(words.BORDERLINE)
            self.reviews.append((post_id, comment_id, "comment"))
        else:
            body, mentioned = self._text(self.rng.randint(1, 2), tag_p=self.r.hashtag / 4)
        self.comments[comment_id] = _Comment(post_id, author, text_class)
        self.comment_order.append(comment_id)
        post.comments.append(comment_id)
        self._notify(post.author, f"comment:post:{post_id}")
        if parent is not None:
            self._notify(self.comments[parent].author, f"reply:comment:{parent}")
        for user in mentioned:
            self._notify(user, f"mention:comment:{comment_id}")
        fields = {"comment_id": comment_id, "post_id": post_id, "body": body, "in_reply_to": parent}
        return Generated(self._make(CommentPosted, author, **fields), text_class)

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
        return None if self.remaining < 2 else self._add_comment(self._active(), "borderline")

    def _pick_own(self, *, posts_share: float) -> _Target | None:
        """A live ham post or comment (recent ones more likely); its author may edit/delete it."""
        if self.rng.random() < posts_share:
            post_id = self._live_post()
            if post_id is None or self.posts[post_id].text_class != "ham":
                return None
            return post_id, post_id, "post"
        comment_id = self._recent(self.comment_order, 150.0)
        if comment_id is None:
            return None
        target: _Target = (self.comments[comment_id].post_id, comment_id, "comment")
        return None if self._deleted(target) or self._target_class(target) != "ham" else target

    def _edit(self) -> Generated | None:
        target = self._pick_own(posts_share=0.35)
        if target is None:
            return None
        post_id, object_id, kind = target
        tag_p = self.r.hashtag if kind == "post" else self.r.hashtag / 4
        body, mentioned = self._text(self.rng.randint(1, 3), tag_p=tag_p)
        for user in mentioned:
            self._notify(user, f"mention:{kind}:{object_id}")
        if kind == "comment":
            author = self.comments[object_id].author
            fields = {"comment_id": object_id, "post_id": post_id, "body": f"Edit: {body}"}
            return Generated(self._make(CommentEdited, author, **fields), "ham")
        post = self.posts[post_id]
        if self.rng.random() < 0.3:
            post.title = self._sentence(3, 6).rstrip(".?!")
        fields = {"post_id": post_id, "title": post.title, "body": f"Edit: {body}"}
        return Generated(self._make(PostEdited, post.author, **fields), "ham")

    def _delete(self) -> Generated | None:
        target = self._pick_own(posts_share=0.3)
        if target is None:
            return None
        post_id, object_id, kind = target
        if kind == "post":
            self.posts[post_id].deleted = True
            return Generated(self._make(PostDeleted, self.posts[post_id].author, post_id=post_id))
        comment = self.comments[object_id]
        comment.deleted = True
        fields = {"comment_id": object_id, "post_id": post_id}
        return Generated(self._make(CommentDeleted, comment.author, **fields))

    def _reaction(self) -> Generated | None:
        post_id = self._live_post()
        if post_id is None:
            return None
        post = self.posts[post_id]
        target: _Target = (post_id, post_id, "post")
        author = post.author
        if post.comments and self.rng.random() < 0.6:
            comment_id = self._live_comment(post)
            if comment_id is None:
                return None
            target, author = (post_id, comment_id, "comment"), self.comments[comment_id].author
        actor = self._active()
        reaction = self.rng.choices(words.REACTIONS, cum_weights=self.reaction_cum)[0]
        if (actor, target[1], reaction) in self.reaction_keys:
            return None
        self.reaction_keys.add((actor, target[1], reaction))
        self.reactions.append((actor, *target, reaction))
        self._notify(author, f"reaction:{target[2]}:{target[1]}")
        return Generated(self._reaction_event(ReactionAdded, (actor, *target, reaction)))

    def _reaction_event(self, cls: Callable[..., Event], reaction: _Reaction) -> Event:
        actor, post_id, object_id, kind, token = reaction
        fields = {"post_id": post_id, "object_id": object_id, "object_kind": kind}
        return self._make(cls, actor, reaction=token, **fields)

    def _unreaction(self) -> Generated | None:
        if not self.reactions:
            return None
        i = self.rng.randrange(len(self.reactions))
        self.reactions[i], self.reactions[-1] = self.reactions[-1], self.reactions[i]
        reaction = self.reactions.pop()
        self.reaction_keys.discard((reaction[0], reaction[2], reaction[4]))
        return Generated(self._reaction_event(ReactionRemoved, reaction))

    # -- actions: moderation, graph, inbox --------------------------------------------------------

    def _judge(self, target: _Target, verdict: Verdict) -> Generated:
        post_id, object_id, kind = target
        if object_id not in self.person:
            self.judged.append(target)
        self.person[object_id] = verdict
        fields = {"post_id": post_id, "object_id": object_id, "object_kind": kind}
        score = 1.0 if verdict == "spam" else 0.0
        event = self._make(
            ModerationVerdict, self.c.moderator, verdict=verdict, source="person", score=score,
            reasons=("moderator review",), **fields,
        )  # fmt: skip
        return Generated(event)

    def _verdict(self) -> Generated | None:
        roll = self.rng.random()
        target: _Target | None
        if roll < 0.45 and self.spam_targets:
            target = self.rng.choice(self.spam_targets)  # confirm, or reverse the machine
        elif roll < 0.8:
            target = self._pick_own(posts_share=0.3)  # a ham object the moderator hides
        elif self.judged:
            target = self.rng.choice(self.judged)  # change of mind
        else:
            return None
        if target is None or self._deleted(target):
            return None
        current = self.person.get(target[1])
        verdict: Verdict = "spam"
        if current == "spam" or (
            current is None and self._target_class(target) == "spam" and self.rng.random() < 0.3
        ):
            verdict = "ham"
        return self._judge(target, verdict)

    def _add_follow(self, follower: str, followee: str) -> Generated:
        self.edge_index[(follower, followee)] = len(self.edges)
        self.edges.append((follower, followee))
        self._notify(followee, f"follow:user:{followee}")
        return Generated(self._make(Followed, follower, followee=followee))

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
        return Generated(self._make(Unfollowed, edge[0], followee=edge[1]))

    def _up_to(self) -> datetime:
        # Mostly "now"; sometimes a mark from a while ago (a slow client): marks never move back.
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
        return Generated(self._make(NotificationsSeen, self._active(), up_to_at=self._up_to()))
