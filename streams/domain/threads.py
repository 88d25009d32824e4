"""The state of one thread (a post and its comments), folded from the content topic.

Content events are keyed ``tenant/post_id``, so one partition sees a whole thread in log order and
one ``ThreadState`` per thread is the only state the content projections need. Every projection
(notifications, moderation, ...) is a pure derivation from it, so redelivery, replay, deletes and
verdict flips are handled once, here, by folding, and never by incrementing counters elsewhere.

Folding rules (``ThreadState.apply``):

- An event id already applied changes nothing (at-least-once delivery and replays are safe). Every
  id is remembered, including ids of events that changed nothing: a ``ReactionRemoved`` that was a
  no-op must stay a no-op when redelivered after the reaction was added again.
- ``seq`` counts the events that changed the state. It only grows, and the same log prefix always
  gives the same ``seq``, so it serves as the version of every row derived from the thread.
- Creation: the first ``PostPublished``/``CommentPosted`` for an id wins; a later one with another
  event id is ignored. Events may arrive for a post not yet seen (a comment before its post): the
  comment is kept and the post fills in when it arrives.
- A delete or a verdict for an object not yet seen is kept on a placeholder (``published`` False)
  so it is not lost; the object's own creation fills the placeholder in and keeps the delete or
  verdict. An edit of an object not yet seen is ignored (its later creation carries its own text).
- An edit after a delete is ignored; an edit that changes no text changes nothing.
- Verdicts: the latest machine verdict and the latest person verdict are kept apart; the effective
  verdict (``ThreadObject.spam``) is the person's when there is one, else the machine's. So a person
  "ham" clears a machine "spam" and a person "spam" hides what the machine passed, retroactively.
- Reactions: active reactions are keyed (actor, object id, reaction). Adding an active one again
  changes nothing (the first time is kept); removing an inactive one changes nothing.
- Events whose object kind contradicts the thread (a comment id equal to the post id, a "post"
  object that is not this thread's post) are ignored. An event for another tenant or thread is a
  wiring error and raises ``InvalidEvent``; so does an event type that is not on the content topic.

Visibility (``live_objects``): an object is live when it is published, not deleted, not spam, and
the thread's post is neither deleted nor spam. A deleted or spam post hides its whole thread (its
comments are invisible to readers, so nothing should point at them); a post not yet seen hides
nothing.

Memory: per thread, every object's text (bounded by the catalogue's limits), one entry per active
reaction, and one event id (36 characters) per event ever applied to the thread. Threads are finite,
so this is kept whole rather than windowed: a 1000-comment thread with 2000 reactions holds about
3000 ids, roughly 150 kB plus the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from schemas.errors import DecodeError, InvalidEvent
from schemas.events import (
    CommentDeleted,
    CommentEdited,
    CommentPosted,
    Event,
    ModerationVerdict,
    ObjectKind,
    PostDeleted,
    PostEdited,
    PostPublished,
    ReactionAdded,
    ReactionRemoved,
    Verdict,
)

__all__ = [
    "EXCERPT_CHARS",
    "Reaction",
    "ReactionKey",
    "ThreadObject",
    "ThreadState",
    "check_state_format",
    "to_ms",
]

ReactionKey = tuple[str, str, str]
"""(actor, object id, reaction token): one active reaction."""

EXCERPT_CHARS = 80
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STATE_FORMAT = 1


def to_ms(at: datetime) -> int:
    """Epoch milliseconds of a tz-aware datetime, exactly (no float rounding)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at.isoformat()}: give a tz-aware one")
    return (at - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class ThreadObject:
    """The post or one comment of a thread, as the thread currently knows it.

    ``published`` is False for a placeholder that holds a delete or verdict which arrived before
    the object's creation; then ``author`` is "" and ``created_ms`` is 0.
    """

    object_id: str
    kind: ObjectKind
    author: str
    created_ms: int
    title: str
    body: str
    in_reply_to: str | None
    deleted: bool = False
    machine_verdict: Verdict | None = None
    person_verdict: Verdict | None = None
    published: bool = True
    edited_ms: int = 0

    @property
    def spam(self) -> bool:
        """The effective verdict: a person's overrides the machine's, both ways."""
        verdict = self.person_verdict or self.machine_verdict
        return verdict == "spam"

    @property
    def excerpt(self) -> str:
        """Display text: the title if any, else the body's first 80 characters (whitespace
        collapsed; "…" marks a cut)."""
        if self.title.strip():
            return " ".join(self.title.split())
        text = " ".join(self.body.split())
        if len(text) <= EXCERPT_CHARS:
            return text
        return text[:EXCERPT_CHARS].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Reaction:
    """One active reaction: who reacted to which object with what, when, by which event."""

    actor: str
    object_id: str
    reaction: str
    at_ms: int
    event_id: str

    @property
    def key(self) -> ReactionKey:
        return (self.actor, self.object_id, self.reaction)


@dataclass(slots=True)
class ThreadState:
    """All a projection needs to know about one thread; see the module docstring for the rules.

    Not thread-safe; one stream partition owns each thread. ``to_json``/``from_json`` round-trip
    exactly through plain JSON types (Faust tables store it).
    """

    tenant: str
    post_id: str
    objects: dict[str, ThreadObject] = field(default_factory=dict)
    reactions: dict[ReactionKey, Reaction] = field(default_factory=dict)
    seq: int = 0
    applied: set[str] = field(default_factory=set)

    # -- reading ----------------------------------------------------------------------------------

    @property
    def post(self) -> ThreadObject | None:
        """The thread's post, or None while it has not been seen (placeholders included)."""
        return self.objects.get(self.post_id)

    def thread_visible(self) -> bool:
        """False when the post is deleted or spam: then nothing in the thread is live."""
        post = self.post
        return post is None or not (post.deleted or post.spam)

    def live_objects(self) -> list[ThreadObject]:
        """Objects readers can see, in the order the thread first learned of them."""
        if not self.thread_visible():
            return []
        return [o for o in self.objects.values() if o.published and not o.deleted and not o.spam]

    # -- folding ----------------------------------------------------------------------------------

    def apply(self, event: Event) -> bool:
        """Fold one content event in; True if the state changed (and ``seq`` grew).

        False for an event id already applied or an event that changes nothing. Raises
        ``InvalidEvent`` for an event of another tenant or thread, or of a non-content type.
        """
        if event.event_id in self.applied:
            return False
        self._check_belongs(event)
        self.applied.add(event.event_id)
        changed = self._fold(event)
        if changed:
            self.seq += 1
        return changed

    def _check_belongs(self, event: Event) -> None:
        if event.tenant != self.tenant:
            raise InvalidEvent(
                event.event_type,
                "tenant",
                f"{event.tenant!r} sent to the state of thread {self.tenant}/{self.post_id}; "
                "route content events by their key()",
                event_id=event.event_id,
            )
        post_id = getattr(event, "post_id", None)
        if event.topic != "content" or post_id is None:
            raise InvalidEvent(
                event.event_type,
                "topic",
                f"a {event.topic} event cannot be folded into a thread; only content events can",
                event_id=event.event_id,
            )
        if post_id != self.post_id:
            raise InvalidEvent(
                event.event_type,
                "post_id",
                f"{post_id!r} sent to the state of thread {self.tenant}/{self.post_id}; "
                "route content events by their key()",
                event_id=event.event_id,
            )

    def _fold(self, event: Event) -> bool:
        at_ms = to_ms(event.occurred_at)
        if isinstance(event, PostPublished):
            return self._create(
                event.post_id, "post", event.actor, at_ms, event.title, event.body, None
            )
        if isinstance(event, CommentPosted):
            if event.comment_id == self.post_id:
                return False
            return self._create(
                event.comment_id, "comment", event.actor, at_ms, "", event.body, event.in_reply_to
            )
        if isinstance(event, PostEdited):
            return self._edit(event.post_id, event.title, event.body, at_ms)
        if isinstance(event, CommentEdited):
            return event.comment_id != self.post_id and self._edit(
                event.comment_id, "", event.body, at_ms
            )
        if isinstance(event, PostDeleted):
            return self._delete(event.post_id, "post")
        if isinstance(event, CommentDeleted):
            return event.comment_id != self.post_id and self._delete(event.comment_id, "comment")
        if isinstance(event, ModerationVerdict):
            return self._judge(event)
        if isinstance(event, ReactionAdded | ReactionRemoved):
            return self._react(event, at_ms)
        raise InvalidEvent(
            event.event_type, "topic", "not a thread event", event_id=event.event_id
        )  # pragma: no cover - every content type is handled above

    def _kind_fits(self, object_id: str, kind: str) -> bool:
        # The post is the only "post" in a thread; a comment id may not shadow it.
        return (object_id == self.post_id) == (kind == "post")

    def _placeholder(self, object_id: str, kind: ObjectKind) -> ThreadObject:
        return ThreadObject(object_id, kind, "", 0, "", "", None, published=False)

    def _create(
        self,
        object_id: str,
        kind: ObjectKind,
        author: str,
        at_ms: int,
        title: str,
        body: str,
        in_reply_to: str | None,
    ) -> bool:
        old = self.objects.get(object_id)
        if old is not None and old.published:
            return False
        base = old or self._placeholder(object_id, kind)
        self.objects[object_id] = replace(
            base,
            author=author,
            created_ms=at_ms,
            title=title,
            body=body,
            in_reply_to=in_reply_to,
            published=True,
        )
        return True

    def _edit(self, object_id: str, title: str, body: str, at_ms: int) -> bool:
        old = self.objects.get(object_id)
        if old is None or not old.published or old.deleted:
            return False
        if old.title == title and old.body == body:
            return False
        self.objects[object_id] = replace(old, title=title, body=body, edited_ms=at_ms)
        return True

    def _delete(self, object_id: str, kind: ObjectKind) -> bool:
        old = self.objects.get(object_id) or self._placeholder(object_id, kind)
        if old.deleted:
            return False
        self.objects[object_id] = replace(old, deleted=True)
        return True

    def _judge(self, event: ModerationVerdict) -> bool:
        if not self._kind_fits(event.object_id, event.object_kind):
            return False
        old = self.objects.get(event.object_id) or self._placeholder(
            event.object_id, event.object_kind
        )
        if event.source == "person":
            new = replace(old, person_verdict=event.verdict)
        else:
            new = replace(old, machine_verdict=event.verdict)
        if new == self.objects.get(event.object_id):
            return False
        self.objects[event.object_id] = new
        return True

    def _react(self, event: ReactionAdded | ReactionRemoved, at_ms: int) -> bool:
        if not self._kind_fits(event.object_id, event.object_kind):
            return False
        key = (event.actor, event.object_id, event.reaction)
        if isinstance(event, ReactionRemoved):
            return self.reactions.pop(key, None) is not None
        if key in self.reactions:
            return False
        self.reactions[key] = Reaction(*key, at_ms=at_ms, event_id=event.event_id)
        return True

    # -- serialisation ----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only; ``from_json(s.to_json()) == s`` and orders are preserved."""
        return {
            "format": _STATE_FORMAT,
            "tenant": self.tenant,
            "post_id": self.post_id,
            "seq": self.seq,
            "objects": [
                [
                    o.object_id,
                    o.kind,
                    o.author,
                    o.created_ms,
                    o.title,
                    o.body,
                    o.in_reply_to,
                    o.deleted,
                    o.machine_verdict,
                    o.person_verdict,
                    o.published,
                    o.edited_ms,
                ]
                for o in self.objects.values()
            ],
            "reactions": [
                [r.actor, r.object_id, r.reaction, r.at_ms, r.event_id]
                for r in self.reactions.values()
            ],
            "applied": sorted(self.applied),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ThreadState:
        """Rebuild a state from ``to_json`` output; ``DecodeError`` if it is not one."""
        check_state_format(data, "thread")
        try:
            objects: dict[str, ThreadObject] = {}
            for row in data["objects"]:
                obj = ThreadObject(
                    str(row[0]),
                    cast(ObjectKind, row[1]),
                    str(row[2]),
                    int(row[3]),
                    str(row[4]),
                    str(row[5]),
                    None if row[6] is None else str(row[6]),
                    bool(row[7]),
                    cast(Verdict | None, row[8]),
                    cast(Verdict | None, row[9]),
                    bool(row[10]),
                    int(row[11]) if len(row) > 11 else 0,  # states saved before edits had times
                )
                objects[obj.object_id] = obj
            reactions: dict[ReactionKey, Reaction] = {}
            for row in data["reactions"]:
                reaction = Reaction(str(row[0]), str(row[1]), str(row[2]), int(row[3]), str(row[4]))
                reactions[reaction.key] = reaction
            return cls(
                tenant=str(data["tenant"]),
                post_id=str(data["post_id"]),
                objects=objects,
                reactions=reactions,
                seq=int(data["seq"]),
                applied={str(i) for i in data["applied"]},
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise DecodeError(f"malformed thread state: {exc!r}; rebuild it by replay") from exc


def check_state_format(data: object, what: str) -> None:
    """Raise ``DecodeError`` unless ``data`` is a dict written by this build's ``to_json``."""
    if not isinstance(data, dict) or data.get("format") != _STATE_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise DecodeError(
            f"{what} state of format {found!r}; this build reads format {_STATE_FORMAT}. "
            "Drop the stored state and rebuild it by replaying the log"
        )
