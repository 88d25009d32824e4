"""Tests of the blog-thread importer: parsing the text format and the events it yields."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.importers.thread import (
    DEFAULT_ID_NAMESPACE,
    ParsedComment,
    ParsedThread,
    ThreadFormatError,
    author_user_id,
    parse_thread,
    thread_events,
)
from schemas.errors import ConfigError
from schemas.events import ID_PATTERN, CommentPosted, Event, PostPublished, stable_event_id

NEW_YORK = ZoneInfo("America/New_York")

# A thread written for these tests: a two-line post, then three comments. Ada posts twice; Bob's
# comment spans three lines with odd inner spacing; curly quotes, an ellipsis, a dash and
# emoticons must survive; the signatures cover 12:xx AM (just after midnight) and 12:xx PM (noon).
SMALL_LINES = [
    "A short note on rain gardens for the neighbourhood.",
    "They soak up the run-off … and the “experts” agree.",
    "First reply \u2014 lovely idea :-)",
    "Posted by: Ada Lovelace | January 05, 2020 at 12:15 AM",
    "Second reply,",
    "spread over",
    "  three lines,   with odd   spacing ;)",
    "Posted by: Bob Ng | January 05, 2020 at 12:45 PM",
    "Ada again: ‘single quotes’ too…",
    "Posted by: Ada Lovelace | January 06, 2020 at 09:05 AM",
]
SMALL = "\n".join(SMALL_LINES) + "\n"
FIRST = "First reply"


def small(**options: object) -> ParsedThread:
    kwargs: dict[str, object] = {"zone": "America/New_York", "first_comment_starts": FIRST}
    kwargs.update(options)
    return parse_thread(SMALL, **kwargs)  # type: ignore[arg-type]


def ny(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


# -- parsing: the small thread ------------------------------------------------------------------


def test_small_thread_parses_exactly() -> None:
    assert small(title="Rain gardens") == ParsedThread(
        title="Rain gardens",
        body="\n".join(SMALL_LINES[0:2]),
        first_line=1,
        last_line=2,
        zone="America/New_York",
        comments=(
            ParsedComment(
                number=1,
                author="Ada Lovelace",
                posted_at=datetime(2020, 1, 5, 5, 15, tzinfo=UTC),
                body=SMALL_LINES[2],
                first_line=3,
                last_line=3,
                signature_line=4,
            ),
            ParsedComment(
                number=2,
                author="Bob Ng",
                posted_at=datetime(2020, 1, 5, 17, 45, tzinfo=UTC),
                body="\n".join(SMALL_LINES[4:7]),
                first_line=5,
                last_line=7,
                signature_line=8,
            ),
            ParsedComment(
                number=3,
                author="Ada Lovelace",
                posted_at=datetime(2020, 1, 6, 14, 5, tzinfo=UTC),
                body=SMALL_LINES[8],
                first_line=9,
                last_line=9,
                signature_line=10,
            ),
        ),
    )


def test_times_are_utc_and_keep_the_local_wall_clock() -> None:
    comments = small().comments
    assert all(c.posted_at.tzinfo is UTC for c in comments)
    local = [c.posted_at.astimezone(NEW_YORK).replace(tzinfo=None) for c in comments]
    # 12:15 AM is a quarter past midnight, 12:45 PM is a quarter to one in the afternoon.
    assert local == [
        datetime(2020, 1, 5, 0, 15),
        datetime(2020, 1, 5, 12, 45),
        datetime(2020, 1, 6, 9, 5),
    ]


def test_title_defaults_to_empty() -> None:
    assert small().title == ""


def test_post_end_by_line_number_equals_post_end_by_prefix() -> None:
    by_prefix = small()
    by_line = small(first_comment_starts=None, post_ends_at_line=2)
    assert by_line == by_prefix


def test_line_endings_bom_and_final_newline_do_not_change_the_parse() -> None:
    expected = small()
    for variant in (
        SMALL.rstrip("\n"),
        SMALL.replace("\n", "\r\n"),
        "\ufeff" + SMALL,
    ):
        assert (
            parse_thread(variant, zone="America/New_York", first_comment_starts=FIRST) == expected
        )


def test_blank_lines_around_blocks_are_dropped_and_inside_kept() -> None:
    lines = [
        "",
        "Post line one.",
        "",
        "Post line two.",
        "   ",
        "",
        "Reply paragraph one.",
        "",
        "Reply paragraph two.",
        "",
        "Posted by: Cy | March 01, 2021 at 07:00 PM",
        "",
    ]
    parsed = parse_thread("\n".join(lines), zone="UTC", first_comment_starts="Reply paragraph one")
    assert (parsed.body, parsed.first_line, parsed.last_line) == (
        "Post line one.\n\nPost line two.",
        2,
        4,
    )
    (comment,) = parsed.comments
    assert comment.body == "Reply paragraph one.\n\nReply paragraph two."
    assert (comment.first_line, comment.last_line, comment.signature_line) == (7, 9, 11)


def test_lines_split_only_at_newline() -> None:
    # U+2028 and a form feed are text, not line breaks.
    text = "Post\u2028still post\x0c.\nReply\u2028same line\n" + signature(
        "Di", datetime(2022, 5, 9, 1, 2)
    )
    parsed = parse_thread(text, zone="UTC", post_ends_at_line=1)
    assert parsed.body == "Post\u2028still post\x0c."
    assert parsed.comments[0].body == "Reply\u2028same line"
    assert parsed.comments[0].posted_at == datetime(2022, 5, 9, 1, 2, tzinfo=UTC)


def test_author_name_may_contain_the_separator() -> None:
    text = "Post\nHi\nPosted by: Ed | the builder | June 30, 2023 at 11:59 PM"
    (comment,) = parse_thread(text, zone="UTC", post_ends_at_line=1).comments
    assert comment.author == "Ed | the builder"
    assert comment.posted_at == datetime(2023, 6, 30, 23, 59, tzinfo=UTC)


def test_a_post_without_comments() -> None:
    parsed = parse_thread("Only a post.\nNothing else.", zone="UTC", post_ends_at_line=2)
    assert (parsed.body, parsed.comments) == ("Only a post.\nNothing else.", ())


def test_daylight_saving_gap_is_an_error_and_a_repeated_hour_reads_as_the_first() -> None:
    gap = "Post\nHi\nPosted by: Fay | March 08, 2020 at 02:30 AM"
    with pytest.raises(ThreadFormatError, match="line 3: .*does not exist in America/New_York"):
        parse_thread(gap, zone="America/New_York", post_ends_at_line=1)
    twice = "Post\nHi\nPosted by: Fay | November 01, 2020 at 01:30 AM"
    (comment,) = parse_thread(twice, zone="America/New_York", post_ends_at_line=1).comments
    assert comment.posted_at == datetime(2020, 11, 1, 5, 30, tzinfo=UTC)  # still on EDT, UTC-4


# -- parsing: errors ----------------------------------------------------------------------------


def test_the_end_of_the_post_is_required() -> None:
    with pytest.raises(ConfigError, match="first_comment_starts.*post_ends_at_line") as info:
        parse_thread(SMALL, zone="America/New_York")
    assert "required" in str(info.value)


def test_both_post_end_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="not both"):
        small(post_ends_at_line=2)


def test_ambiguous_prefix_names_the_lines() -> None:
    with pytest.raises(ConfigError, match=r"'Posted by: Ada' starts 2 lines \(4, 10\)"):
        small(first_comment_starts="Posted by: Ada")


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("Third reply", "starts no line"),
        ("A short note", "starts line 1, which leaves no post"),
        ("  ", "blank"),
        ("", "blank"),
    ],
)
def test_prefix_must_start_exactly_one_line_after_the_first(prefix: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        small(first_comment_starts=prefix)


@pytest.mark.parametrize("line", [0, -1, len(SMALL_LINES) + 1])
def test_post_end_line_must_be_in_the_text(line: int) -> None:
    with pytest.raises(ConfigError, match=f"post_ends_at_line is {line}, .* lines 1-10"):
        small(first_comment_starts=None, post_ends_at_line=line)


def test_a_post_end_past_a_signature_is_refused() -> None:
    with pytest.raises(ConfigError, match="line 4 is a comment signature.*end at line 5"):
        small(first_comment_starts=None, post_ends_at_line=5)


def test_a_post_of_blank_lines_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"post \(lines 1-2\) has no text"):
        parse_thread(
            "\n  \nHi\nPosted by: Al | May 01, 2020 at 01:00 PM", zone="UTC", post_ends_at_line=2
        )


def test_text_after_the_last_signature_is_an_error_naming_its_lines() -> None:
    text = SMALL + "\nA reply that was never signed\nand its second line\n"
    with pytest.raises(ThreadFormatError, match="line 12: lines 12-13 have no signature") as info:
        parse_thread(text, zone="UTC", first_comment_starts=FIRST)
    assert info.value.line == 12


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        ("Posted by: Bob Ng | January 05, 2020 at 12:45", "malformed signature"),
        ("Posted by: Bob Ng January 05, 2020 at 12:45 PM", "malformed signature"),
        ("Posted by:  | January 05, 2020 at 12:45 PM", "malformed signature"),
        ("Posted by: Bob Ng | 2020-01-05 12:45", "malformed signature"),
        ("Posted by: Bob Ng | Janvier 05, 2020 at 12:45 PM", "unknown month 'Janvier'"),
        ("Posted by: Bob Ng | January 05, 2020 at 13:45 PM", "hour 13 is not"),
        ("Posted by: Bob Ng | January 05, 2020 at 00:45 AM", "hour 0 is not"),
        ("Posted by: Bob Ng | January 05, 2020 at 12:60 PM", "no such date or time"),
        ("Posted by: Bob Ng | February 30, 2020 at 12:45 PM", "no such date or time"),
    ],
)
def test_malformed_signature_is_an_error_naming_its_line(signature: str, message: str) -> None:
    lines = list(SMALL_LINES)
    lines[7] = signature
    with pytest.raises(ThreadFormatError, match=f"line 8: .*{re.escape(message)}") as info:
        parse_thread("\n".join(lines), zone="UTC", first_comment_starts=FIRST)
    assert info.value.line == 8


def test_a_signature_without_text_above_it_is_an_error() -> None:
    lines = [*SMALL_LINES[:4], SMALL_LINES[3], *SMALL_LINES[4:]]
    with pytest.raises(ThreadFormatError, match="line 5: this signature has no comment text"):
        parse_thread("\n".join(lines), zone="UTC", first_comment_starts=FIRST)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "America", "", "../etc/passwd"])
def test_unknown_zone_is_refused(zone: str) -> None:
    with pytest.raises(ConfigError, match="not a known IANA time zone"):
        small(zone=zone)


@pytest.mark.parametrize("text", ["", "\n\n", "\ufeff  \n"])
def test_empty_text_is_an_error(text: str) -> None:
    with pytest.raises(ThreadFormatError, match="line 1: the thread text is empty"):
        parse_thread(text, zone="UTC", post_ends_at_line=1)


# -- parsing: round trip of rendered threads ---------------------------------------------------

MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip

# Any text on one line; the format's own rules exclude only the line breaks themselves.
line_text = st.text(st.characters(blacklist_characters="\r\n"), max_size=30)
content_line = line_text.filter(
    lambda s: bool(s.strip()) and not s.lstrip().startswith("Posted by:")
)
body_lines = st.lists(
    st.one_of(content_line, line_text.filter(lambda s: not s.lstrip().startswith("Posted by:"))),
    max_size=4,
).flatmap(lambda middle: content_line.map(lambda first: [first, *middle]))
block = st.tuples(body_lines, content_line).map(lambda pair: [*pair[0], pair[1]])
author = line_text.map(str.strip).filter(bool)
moment = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(second=0, microsecond=0)
)


def signature(name: str, at: datetime) -> str:
    hour = at.hour % 12 or 12
    half = "PM" if at.hour >= 12 else "AM"
    return (
        f"Posted by: {name} | {MONTHS[at.month - 1]} {at.day:02d}, {at.year} "
        f"at {hour:02d}:{at.minute:02d} {half}"
    )


@settings(deadline=None)  # no timed assertions: the machine is shared
@given(post=block, comments=st.lists(st.tuples(block, author, moment), max_size=5))
def test_rendered_threads_parse_back_exactly(
    post: list[str], comments: list[tuple[list[str], str, datetime]]
) -> None:
    lines = list(post)
    for body, name, at in comments:
        lines += [*body, signature(name, at)]
    parsed = parse_thread("\n".join(lines), zone="UTC", post_ends_at_line=len(post))
    assert parsed.body == "\n".join(post)
    assert [(c.body, c.author, c.posted_at) for c in parsed.comments] == [
        ("\n".join(body), name, at.replace(tzinfo=UTC)) for body, name, at in comments
    ]


# -- author ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "user_id"),
    [
        ("Chuck Hollis", "chuck-hollis"),
        ("Anne-Marie  O'Neil", "anne-marie-o-neil"),
        ("  Zoë Ångström ", "zoe-angstrom"),
        ("R2D2", "r2d2"),
        ("chuck-hollis", "chuck-hollis"),
    ],
)
def test_author_user_id_is_a_readable_slug(name: str, user_id: str) -> None:
    assert author_user_id(name) == user_id


def test_names_that_do_not_fold_to_ascii_keep_distinct_ids() -> None:
    cyrillic = author_user_id("Иван")
    mixed = author_user_id("Иван Smith")
    assert re.fullmatch(r"user-[0-9a-f]{8}", cyrillic)
    assert re.fullmatch(r"smith-[0-9a-f]{8}", mixed)
    assert len({cyrillic, mixed, author_user_id("Smith"), author_user_id("Пётр")}) == 4


def test_long_names_are_cut_and_stay_distinct() -> None:
    first, second = author_user_id("x" * 200 + "a"), author_user_id("x" * 200 + "b")
    assert first != second
    assert len(first) == 109 and first.startswith("x" * 100 + "-")


def test_blank_author_name_is_refused() -> None:
    with pytest.raises(ValueError, match="visible character"):
        author_user_id(" \t")


@settings(deadline=None)
@given(st.text(min_size=1).filter(lambda s: bool(s.strip())))
def test_author_user_id_is_a_valid_idempotent_id(name: str) -> None:
    user_id = author_user_id(name)
    assert ID_PATTERN.fullmatch(user_id)
    assert author_user_id(user_id) == user_id
    assert author_user_id(unicodedata.normalize("NFD", name)) == user_id


# -- events -------------------------------------------------------------------------------------

POSTED_AT = datetime(2020, 1, 4, 18, 0, tzinfo=NEW_YORK)


def small_events(**options: object) -> list[Event]:
    kwargs: dict[str, object] = {
        "tenant": "gardens",
        "post_id": "rain-1",
        "post_author": "Bob Ng",
        "post_published_at": POSTED_AT,
    }
    kwargs.update(options)
    return thread_events(small(title="Rain gardens"), **kwargs)  # type: ignore[arg-type]


def test_small_thread_events_are_exact() -> None:
    post, *comments = small_events()
    parsed = small()
    assert post == PostPublished(
        event_id=stable_event_id(DEFAULT_ID_NAMESPACE, "gardens", "rain-1", "PostPublished"),
        occurred_at=datetime(2020, 1, 4, 23, 0, tzinfo=UTC),
        tenant="gardens",
        actor="bob-ng",
        post_id="rain-1",
        title="Rain gardens",
        body=parsed.body,
    )
    assert comments == [
        CommentPosted(
            event_id=stable_event_id(
                DEFAULT_ID_NAMESPACE, "gardens", "rain-1", "CommentPosted", f"rain-1-c{n}"
            ),
            occurred_at=c.posted_at,
            tenant="gardens",
            actor=actor,
            comment_id=f"rain-1-c{n}",
            post_id="rain-1",
            body=c.body,
            in_reply_to=None,
        )
        for n, c, actor in zip(
            (1, 2, 3), parsed.comments, ("ada-lovelace", "bob-ng", "ada-lovelace"), strict=True
        )
    ]


def test_event_ids_are_stable_and_scoped() -> None:
    ids = [e.event_id for e in small_events()]
    assert small_events() == small_events()
    assert len(set(ids)) == 4
    for options in ({"id_namespace": "second-import"}, {"tenant": "other"}, {"post_id": "rain-2"}):
        other = [e.event_id for e in small_events(**options)]
        assert set(other).isdisjoint(ids)


def test_post_published_at_equal_to_the_first_comment_is_allowed() -> None:
    first = small().comments[0].posted_at
    post, _, _, _ = small_events(post_published_at=first)
    assert post.occurred_at == first


def test_post_published_after_the_first_comment_is_refused_naming_both_times() -> None:
    late = datetime(2020, 1, 5, 5, 16, tzinfo=UTC)
    with pytest.raises(ConfigError) as info:
        small_events(post_published_at=late)
    message = str(info.value)
    assert "2020-01-05T05:16:00+00:00" in message
    assert "comment 1 (line 4) posted at 2020-01-05T05:15:00+00:00" in message


def test_naive_post_published_at_is_refused() -> None:
    with pytest.raises(ConfigError, match="post_published_at 2020-01-04T18:00:00 has no time zone"):
        small_events(post_published_at=datetime(2020, 1, 4, 18, 0))


@pytest.mark.parametrize(("option", "value"), [("post_author", " "), ("id_namespace", "")])
def test_blank_author_or_namespace_is_refused(option: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"{option} is blank"):
        small_events(**{option: value})


# -- the reference thread ------------------------------------------------------------------------

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "reference-thread.txt"
REFERENCE_POST_LINES = 29  # the post is lines 1-29; the first comment starts on line 30

# The nine signatures, in order: author and the blog's local time.
REFERENCE_COMMENTS = [
    ("Gypsy", ny(2009, 2, 23, 13, 30)),
    ("Anne Marie McEwan", ny(2009, 2, 25, 3, 9)),
    ("Rachel Happe", ny(2009, 2, 25, 8, 9)),
    ("Gypsy", ny(2009, 2, 26, 10, 15)),
    ("Chuck Hollis", ny(2009, 2, 26, 14, 0)),
    ("Gypsy", ny(2009, 2, 26, 14, 4)),
    ("Iain", ny(2009, 3, 5, 12, 4)),
    ("Authority Networker", ny(2009, 4, 22, 17, 34)),
    ("Cindy Shannon", ny(2009, 7, 20, 2, 10)),
]


@pytest.fixture(scope="module")
def reference_text() -> str:
    return REFERENCE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference(reference_text: str) -> ParsedThread:
    return parse_thread(
        reference_text, zone="America/New_York", post_ends_at_line=REFERENCE_POST_LINES
    )


def reference_events(reference: ParsedThread) -> list[Event]:
    return thread_events(
        reference,
        tenant="blog",
        post_id="ref-post",
        post_author="Chuck Hollis",
        post_published_at=ny(2009, 2, 23, 9, 0),
    )


def test_reference_thread_has_nine_comments_with_exact_authors_and_times(
    reference: ParsedThread,
) -> None:
    assert [(c.author, c.posted_at) for c in reference.comments] == REFERENCE_COMMENTS
    assert [c.number for c in reference.comments] == list(range(1, 10))


def test_reference_thread_bodies_are_the_exact_lines_between_signatures(
    reference_text: str, reference: ParsedThread
) -> None:
    # Computed independently: str.splitlines() and the signature marker, no parser code.
    lines = reference_text.splitlines()
    signatures = [i for i, line in enumerate(lines) if line.startswith("Posted by:")]
    assert len(signatures) == 9 and signatures[-1] == len(lines) - 1
    starts = [REFERENCE_POST_LINES, *(s + 1 for s in signatures[:-1])]
    assert reference.body == "\n".join(lines[:REFERENCE_POST_LINES])
    assert (reference.first_line, reference.last_line) == (1, REFERENCE_POST_LINES)
    assert [c.body for c in reference.comments] == [
        "\n".join(lines[start:end]) for start, end in zip(starts, signatures, strict=True)
    ]
    assert [(c.first_line, c.last_line, c.signature_line) for c in reference.comments] == [
        (start + 1, end, end + 1) for start, end in zip(starts, signatures, strict=True)
    ]


def test_reference_thread_keeps_non_ascii_text_and_emoticons(
    reference_text: str, reference: ParsedThread
) -> None:
    region = "\n".join(reference_text.splitlines()[REFERENCE_POST_LINES:])
    parsed = "\n".join(c.body for c in reference.comments)
    non_ascii = Counter(ch for ch in region if not ch.isascii())
    assert non_ascii, "the reference comments should contain non-ASCII punctuation"
    assert Counter(ch for ch in parsed if not ch.isascii()) == non_ascii
    for emoticon in (":-)", ";-)", ":)"):
        assert parsed.count(emoticon) == region.count(emoticon)
    assert parsed.count(":-)") >= 1


def test_reference_post_end_by_prefix_equals_by_line(
    reference_text: str, reference: ParsedThread
) -> None:
    first_comment_line = reference_text.splitlines()[REFERENCE_POST_LINES]
    by_prefix = parse_thread(
        reference_text, zone="America/New_York", first_comment_starts=first_comment_line[:12]
    )
    assert by_prefix == reference


def test_reference_thread_readers_and_the_post_author(reference: ParsedThread) -> None:
    events = reference_events(reference)
    post, comments = events[0], events[1:]
    assert isinstance(post, PostPublished)
    assert all(isinstance(c, CommentPosted) for c in comments)
    actors = Counter(c.actor for c in comments)
    assert actors["gypsy"] == 3  # one reader posts several times
    assert len(actors) == 7
    (own_reply,) = [c for c in comments if c.actor == post.actor]
    assert post.actor == "chuck-hollis"
    assert isinstance(own_reply, CommentPosted)
    assert own_reply.comment_id == "ref-post-c5"


def test_reference_thread_events_are_valid_and_stable(
    reference_text: str, reference: ParsedThread
) -> None:
    events = reference_events(reference)
    again = reference_events(
        parse_thread(
            REFERENCE.read_text(encoding="utf-8"),
            zone="America/New_York",
            post_ends_at_line=REFERENCE_POST_LINES,
        )
    )
    assert events == again
    assert len(events) == 10 and len({e.event_id for e in events}) == 10
    assert {e.key() for e in events} == {"blog/ref-post"}
    assert {getattr(e, "post_id") for e in events} == {"ref-post"}  # noqa: B009
    for event, (name, at) in zip(events[1:], REFERENCE_COMMENTS, strict=True):
        assert event.occurred_at == at
        assert event.actor == author_user_id(name)
        assert ID_PATTERN.fullmatch(event.actor)
    # Each event passes the catalogue's validation again when rebuilt from its own fields.
    for event in events:
        assert dataclasses.replace(event) == event
    assert events[0].occurred_at < events[1].occurred_at
