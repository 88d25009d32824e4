"""Import a blog thread exported as plain text: the post, then its signed comments.

The format, as blogs of the TypePad era published it:

- The post body comes first, as lines of text. Its author and publication time are not in the text.
- Each comment is one or more lines of text followed by a signature line
  ``Posted by: NAME | Month DD, YYYY at HH:MM AM/PM``, in the blog's local time with no zone.
- Nothing marks where the post ends, and there is no reply marker between comments.

So the caller must say what the text cannot: where the post ends (``first_comment_starts`` or
``post_ends_at_line``), which zone the signatures are in (``zone``), and, when turning the parse
into events, who published the post and when. Nothing is guessed: a missing or contradictory
option is a ``ConfigError`` and text that breaks the format is a ``ThreadFormatError`` naming the
line.

Text is kept exactly: every kept line is the line of the input as it was (curly quotes, ellipses,
emoticons, inner and trailing spaces), and the lines of a body are joined with ``"\\n"``. Only three
things are dropped: a leading byte-order mark, the ``"\\r"`` of ``"\\r\\n"`` line ends, and blank
lines at the very start or end of a body (they separate blocks; blank lines inside a body are kept).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.errors import ConfigError, HubbubError
from schemas.events import CommentPosted, Event, PostPublished, stable_event_id

__all__ = [
    "DEFAULT_ID_NAMESPACE",
    "ParsedComment",
    "ParsedThread",
    "ThreadFormatError",
    "author_user_id",
    "parse_thread",
    "thread_events",
]

DEFAULT_ID_NAMESPACE = "hubbub.import.thread"
"""Namespace of the stable event ids when the caller gives none."""

SIGNATURE_PREFIX = "Posted by:"
_SIGNATURE_SHAPE = "Posted by: NAME | Month DD, YYYY at HH:MM AM/PM"
# Greedy NAME so that a name which itself contains " | " splits at the last separator.
_SIGNATURE = re.compile(
    r"Posted by: (?P<name>\S.*) \| (?P<month>[A-Za-z]+) (?P<day>\d{1,2}), (?P<year>\d{4})"
    r" at (?P<hour>\d{1,2}):(?P<minute>\d{2}) (?P<half>AM|PM)"
)
# Spelled out rather than strptime's %B, which follows the process locale.
_MONTHS = {
    name: number
    for number, name in enumerate(
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        start=1,
    )
}
_SLUG_MAX = 100


class ThreadFormatError(HubbubError):
    """The thread text breaks the format at ``line`` (1-based): the message says how to fix it."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"thread text, line {line}: {reason}")


@dataclass(frozen=True, kw_only=True, slots=True)
class ParsedComment:
    """One comment: its text lines and the signature line that ends it.

    ``number`` is the 1-based position in the thread; ``posted_at`` is the signature's local time
    in the caller's zone, converted to UTC (always tz-aware). ``first_line``/``last_line`` are the
    1-based input lines of ``body``; ``signature_line`` is the line of the signature.
    """

    number: int
    author: str
    posted_at: datetime
    body: str
    first_line: int
    last_line: int
    signature_line: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ParsedThread:
    """A post and its comments, in the order of the text.

    ``title`` comes from the caller (the format has none); ``body`` is the post's lines
    ``first_line``..``last_line`` (1-based) joined with ``"\\n"``; ``zone`` is the zone name the
    signature times were read in.
    """

    title: str
    body: str
    first_line: int
    last_line: int
    zone: str
    comments: tuple[ParsedComment, ...]


def parse_thread(
    text: str,
    *,
    zone: str,
    first_comment_starts: str | None = None,
    post_ends_at_line: int | None = None,
    title: str = "",
) -> ParsedThread:
    """Split ``text`` into the post and its comments.

    Exactly one of ``first_comment_starts`` (a prefix that must start exactly one line: the first
    line of the first comment) or ``post_ends_at_line`` (the 1-based last line of the post) says
    where the post ends. ``zone`` is an IANA zone name (``"America/New_York"``) applied to the
    signature times; a local time that falls in the zone's daylight-saving gap is an error, and
    one that occurs twice (the hour after clocks go back) is read as its first occurrence.

    Raises ``ConfigError`` when the options are missing, both given, or do not fit the text (an
    unknown zone, a prefix matching no line or several, a post end that leaves the post empty or
    swallows a signature), and ``ThreadFormatError`` with the line number for a malformed
    signature, a signature with no comment text above it, or text after the last signature.
    """
    tz = _zone(zone)
    lines = _split_lines(text)
    post_end = _post_end(lines, first_comment_starts, post_ends_at_line)

    for number in range(1, post_end + 1):
        if _is_signature(lines[number - 1]):
            raise ConfigError(
                f"line {number} is a comment signature, but the post was said to end at line "
                f"{post_end}: the post must end before the first comment; check "
                "first_comment_starts / post_ends_at_line"
            )
    post = _trim(list(enumerate(lines[:post_end], start=1)))
    if not post:
        raise ConfigError(
            f"the post (lines 1-{post_end}) has no text: check first_comment_starts / "
            "post_ends_at_line"
        )

    comments: list[ParsedComment] = []
    pending: list[tuple[int, str]] = []
    for number, line in enumerate(lines[post_end:], start=post_end + 1):
        if not _is_signature(line):
            pending.append((number, line))
            continue
        author, posted_at = _parse_signature(line, number, tz)
        block = _trim(pending)
        if not block:
            raise ThreadFormatError(
                number, "this signature has no comment text above it (two signatures in a row?)"
            )
        comments.append(
            ParsedComment(
                number=len(comments) + 1,
                author=author,
                posted_at=posted_at,
                body="\n".join(text_line for _, text_line in block),
                first_line=block[0][0],
                last_line=block[-1][0],
                signature_line=number,
            )
        )
        pending = []
    rest = _trim(pending)
    if rest:
        raise ThreadFormatError(
            rest[0][0],
            f"lines {rest[0][0]}-{rest[-1][0]} have no signature after them: every comment must "
            f"end with a line '{_SIGNATURE_SHAPE}'",
        )

    return ParsedThread(
        title=title,
        body="\n".join(text_line for _, text_line in post),
        first_line=post[0][0],
        last_line=post[-1][0],
        zone=zone,
        comments=tuple(comments),
    )


def thread_events(
    parsed: ParsedThread,
    *,
    tenant: str,
    post_id: str,
    post_author: str,
    post_published_at: datetime,
    id_namespace: str | None = None,
) -> list[Event]:
    """The events of a parsed thread: one ``PostPublished``, then one ``CommentPosted`` per comment.

    Actors are ``author_user_id`` of the names: ``post_author`` is the name the post's author signs
    comments with (or already such a user id), so the author's own replies share the post's actor.
    Comment ids are ``f"{post_id}-c{number}"``; every comment's ``post_id`` is the thread root and
    ``in_reply_to`` is None (the format has no reply marker, and position is not proof of a reply).

    Event ids are ``stable_event_id(id_namespace or DEFAULT_ID_NAMESPACE, tenant, post_id, ...)``:
    importing the same thread twice yields identical events, so a re-import is dropped as a
    duplicate downstream (also when the text was edited meanwhile; use another ``id_namespace`` to
    import a thread afresh).

    Raises ``ConfigError`` when ``post_published_at`` is naive or later than the earliest comment,
    or ``post_author``/``id_namespace`` is blank; ``InvalidEvent`` when a value breaks the catalogue
    (an id outside the id format, a body over its length limit).
    """
    offset = post_published_at.utcoffset() if post_published_at.tzinfo is not None else None
    if offset is None:
        raise ConfigError(
            f"post_published_at {post_published_at.isoformat()} has no time zone: give a "
            "tz-aware time (e.g. with an explicit UTC offset)"
        )
    if parsed.comments:
        earliest = min(parsed.comments, key=lambda comment: comment.posted_at)
        if post_published_at > earliest.posted_at:
            raise ConfigError(
                f"post_published_at {post_published_at.astimezone(UTC).isoformat()} is after "
                f"comment {earliest.number} (line {earliest.signature_line}) posted at "
                f"{earliest.posted_at.isoformat()}: a post is published before its comments; "
                "check the time and its zone"
            )
    if not post_author.strip():
        raise ConfigError("post_author is blank: give the name the post's author signs with")
    namespace = DEFAULT_ID_NAMESPACE if id_namespace is None else id_namespace
    if not namespace.strip():
        raise ConfigError("id_namespace is blank: leave it out or give a non-blank namespace")

    events: list[Event] = [
        PostPublished(
            event_id=stable_event_id(namespace, tenant, post_id, PostPublished.event_type),
            occurred_at=post_published_at,
            tenant=tenant,
            actor=author_user_id(post_author),
            post_id=post_id,
            title=parsed.title,
            body=parsed.body,
        )
    ]
    for comment in parsed.comments:
        comment_id = f"{post_id}-c{comment.number}"
        events.append(
            CommentPosted(
                event_id=stable_event_id(
                    namespace, tenant, post_id, CommentPosted.event_type, comment_id
                ),
                occurred_at=comment.posted_at,
                tenant=tenant,
                actor=author_user_id(comment.author),
                comment_id=comment_id,
                post_id=post_id,
                body=comment.body,
                in_reply_to=None,
            )
        )
    return events


def author_user_id(name: str) -> str:
    """The user id of a display name, a lowercase ASCII slug: "Chuck Hollis" -> "chuck-hollis".

    Deterministic and idempotent (a slug maps to itself). Accents are folded (``"Zoë"`` ->
    ``"zoe"``), so names differing only in accents or punctuation share an id, as people who sign
    alike on a blog are already indistinguishable. When letters or digits cannot be folded to ASCII
    (``"Иван"``), or the slug would pass 100 characters, 8 hex digits of the name's SHA-256 are
    appended so different names keep different ids. Always matches the catalogue's id format.
    Raises ``ValueError`` for a name with no visible character.
    """
    canonical = unicodedata.normalize("NFC", name.strip())
    if not canonical:
        raise ValueError("an author name needs at least one visible character")
    folded = "".join(
        char for char in unicodedata.normalize("NFKD", canonical) if not unicodedata.combining(char)
    )
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower().encode("ascii", "ignore").decode()).strip("-")
    lost = any(char.isalnum() and not char.isascii() for char in folded)
    if not lost and slug and len(slug) <= _SLUG_MAX:
        return slug
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:8]
    stem = slug[:_SLUG_MAX].rstrip("-") or "user"
    return f"{stem}-{digest}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    # IsADirectoryError (an OSError) for a zone folder such as "America".
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ConfigError(
            f"zone {name!r} is not a known IANA time zone: give a name like 'America/New_York'"
        ) from exc


def _split_lines(text: str) -> list[str]:
    # Split on "\n" only: str.splitlines() would also break at U+2028, form feeds and other
    # characters that belong to the text.
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    if not text.strip():
        raise ThreadFormatError(1, "the thread text is empty")
    return text.removesuffix("\n").split("\n")


def _post_end(lines: list[str], starts: str | None, ends_at: int | None) -> int:
    """The 1-based last line of the post, from whichever option the caller gave."""
    if starts is None and ends_at is None:
        raise ConfigError(
            "the end of the post is required and nothing in the text marks it: give "
            "first_comment_starts (the start of the first comment's first line) or "
            "post_ends_at_line (the last line of the post)"
        )
    if starts is not None and ends_at is not None:
        raise ConfigError("give first_comment_starts or post_ends_at_line, not both")
    if ends_at is not None:
        if isinstance(ends_at, bool) or not 1 <= ends_at <= len(lines):
            raise ConfigError(
                f"post_ends_at_line is {ends_at!r}, but the text has lines 1-{len(lines)}"
            )
        return ends_at
    assert starts is not None
    if not starts.strip():
        raise ConfigError("first_comment_starts is blank: it would match every line")
    matches = [number for number, line in enumerate(lines, start=1) if line.startswith(starts)]
    if not matches:
        raise ConfigError(f"first_comment_starts {starts!r} starts no line of the text")
    if len(matches) > 1:
        shown = ", ".join(str(number) for number in matches[:10])
        raise ConfigError(
            f"first_comment_starts {starts!r} starts {len(matches)} lines ({shown}): give a "
            "longer prefix, or post_ends_at_line"
        )
    if matches[0] == 1:
        raise ConfigError(
            f"first_comment_starts {starts!r} starts line 1, which leaves no post before it"
        )
    return matches[0] - 1


def _is_signature(line: str) -> bool:
    return line.lstrip().startswith(SIGNATURE_PREFIX)


def _parse_signature(line: str, number: int, tz: ZoneInfo) -> tuple[str, datetime]:
    """The author and the UTC time of a signature line; ``ThreadFormatError`` if malformed."""
    match = _SIGNATURE.fullmatch(line.strip())
    if match is None:
        raise ThreadFormatError(
            number, f"malformed signature {line.strip()!r}: expected '{_SIGNATURE_SHAPE}'"
        )
    month = _MONTHS.get(match["month"])
    if month is None:
        raise ThreadFormatError(
            number, f"unknown month {match['month']!r}: expected an English month name"
        )
    hour, minute = int(match["hour"]), int(match["minute"])
    if not 1 <= hour <= 12:
        raise ThreadFormatError(number, f"hour {hour} is not a 12-hour clock hour (1-12)")
    # 12 AM is midnight and 12 PM is noon.
    hour = hour % 12 + (12 if match["half"] == "PM" else 0)
    try:
        local = datetime(int(match["year"]), month, int(match["day"]), hour, minute, tzinfo=tz)
    except ValueError as exc:
        raise ThreadFormatError(number, f"no such date or time in the signature: {exc}") from exc
    posted_at = local.astimezone(UTC)
    if posted_at.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ThreadFormatError(
            number,
            f"{local.replace(tzinfo=None).isoformat(sep=' ')} does not exist in {tz.key} (clocks "
            "skipped it): check the zone",
        )
    return match["name"].strip(), posted_at


def _trim(block: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """``block`` without its leading and trailing blank lines."""
    start, end = 0, len(block)
    while start < end and not block[start][1].strip():
        start += 1
    while end > start and not block[end - 1][1].strip():
        end -= 1
    return block[start:end]
