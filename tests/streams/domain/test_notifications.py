from __future__ import annotations

import pytest

from streams.domain.notifications import (
    GroupChange,
    GroupKey,
    NotificationGroup,
    apply_changes,
    derive_groups,
    diff_groups,
    render,
)
from tests.streams.domain.thread_builders import (
    POST,
    TENANT,
    comment,
    delete_comment,
    delete_post,
    edit_comment,
    fold,
    ms,
    post,
    react,
    unreact,
    verdict,
)


def group(
    recipient: str,
    kind: str,
    object_kind: str,
    object_id: str,
    actors: tuple[str, ...],
    count: int,
    first: int,
    last: int,
    excerpt: str,
) -> NotificationGroup:
    return NotificationGroup(
        tenant=TENANT,
        recipient=recipient,
        kind=kind,  # type: ignore[arg-type]
        object_kind=object_kind,  # type: ignore[arg-type]
        object_id=object_id,
        post_id=POST,
        actor_count=count,
        latest_actors=actors,
        first_ms=ms(first),
        last_ms=ms(last),
        excerpt=excerpt,
    )


def by_text(groups: dict[GroupKey, NotificationGroup]) -> dict[tuple[str, str], NotificationGroup]:
    return {(k.recipient, k.text): g for k, g in groups.items()}


def test_comment_reply_and_mention_groups() -> None:
    state = fold(
        post(),
        comment("c1", "ana", 1, "Congrats!"),
        comment("c2", "ben", 2, "Agreed", reply_to="c1"),
        comment("c3", "olga", 3, "Thanks both", reply_to="c2"),
        comment("c4", "cid", 4, "Ping @ana and @olga"),
    )
    assert by_text(derive_groups(state)) == {
        ("olga", "comment:post:p1"): group(
            "olga", "comment", "post", POST, ("cid", "ben", "ana"), 3, 1, 4, "Launch day"
        ),
        ("ana", "reply:comment:c1"): group(
            "ana", "reply", "comment", "c1", ("ben",), 1, 2, 2, "Congrats!"
        ),
        ("ben", "reply:comment:c2"): group(
            "ben", "reply", "comment", "c2", ("olga",), 1, 3, 3, "Agreed"
        ),
        ("ana", "mention:comment:c4"): group(
            "ana", "mention", "comment", "c4", ("cid",), 1, 4, 4, "Ping @ana and @olga"
        ),
    }


def test_precedence_reply_over_comment_over_mention_and_no_self_notice() -> None:
    state = fold(
        post(),
        comment("c1", "ana", 1, "Question"),
        comment("c2", "ben", 2, "@ana @olga @dan @ben see this", reply_to="c1"),
    )
    assert sorted(by_text(derive_groups(state))) == [
        ("ana", "reply:comment:c1"),
        ("dan", "mention:comment:c2"),
        ("olga", "comment:post:p1"),
    ]


def test_reply_to_own_post_author_comment_is_only_a_reply() -> None:
    state = fold(
        post(),
        comment("c1", "olga", 1, "Ask me anything"),
        comment("c2", "ana", 2, "Sure", reply_to="c1"),
    )
    assert sorted(by_text(derive_groups(state))) == [("olga", "reply:comment:c1")]


def test_mentions_in_the_post_notify() -> None:
    state = fold(post(title="Hello @ana", body="and @ben, not me @olga"))
    assert by_text(derive_groups(state)) == {
        ("ana", "mention:post:p1"): group(
            "ana", "mention", "post", POST, ("olga",), 1, 0, 0, "Hello @ana"
        ),
        ("ben", "mention:post:p1"): group(
            "ben", "mention", "post", POST, ("olga",), 1, 0, 0, "Hello @ana"
        ),
    }


def test_reactions_group_by_object_and_count_actors_once() -> None:
    state = fold(
        post(),
        comment("c1", "ana", 1),
        react("ben", POST, 5),
        react("ben", POST, 6, "heart"),
        react("olga", POST, 7),  # own post: no notice
        react("cid", POST, 8),
        react("olga", "c1", 9),
    )
    groups = by_text(derive_groups(state))
    assert groups[("olga", "reaction:post:p1")] == group(
        "olga", "reaction", "post", POST, ("cid", "ben"), 2, 5, 8, "Launch day"
    )
    assert groups[("ana", "reaction:comment:c1")] == group(
        "ana", "reaction", "comment", "c1", ("olga",), 1, 9, 9, "Nice work"
    )
    state.apply(unreact("cid", POST, 10))
    state.apply(unreact("ben", POST, 11, "heart"))
    assert by_text(derive_groups(state))[("olga", "reaction:post:p1")] == group(
        "olga", "reaction", "post", POST, ("ben",), 1, 5, 5, "Launch day"
    )


def test_latest_actors_are_newest_first_distinct_and_at_most_three() -> None:
    state = fold(
        post(),
        comment("c1", "ana", 1),
        comment("c2", "ben", 2),
        comment("c3", "cid", 3),
        comment("c4", "ana", 4),
        comment("c5", "dan", 5),
        comment("c6", "eve", 5),
    )
    assert derive_groups(state)[GroupKey("olga", "comment", "post", POST)] == group(
        "olga", "comment", "post", POST, ("dan", "eve", "ana"), 5, 1, 5, "Launch day"
    )


def test_delete_withdraws_and_empties_a_group() -> None:
    state = fold(post(), comment("c1", "ana", 1), comment("c2", "ben", 2))
    before = derive_groups(state)
    state.apply(delete_comment("c2", "ben", 3))
    middle = derive_groups(state)
    key = GroupKey("olga", "comment", "post", POST)
    assert middle[key] == group("olga", "comment", "post", POST, ("ana",), 1, 1, 1, "Launch day")
    assert diff_groups(before, middle, version=state.seq) == [GroupChange(middle[key], 4, False)]
    state.apply(delete_comment("c1", "ana", 4))
    after = derive_groups(state)
    assert after == {}
    assert diff_groups(middle, after, version=state.seq) == [GroupChange(middle[key], 5, True)]


def test_deleted_post_withdraws_everything() -> None:
    state = fold(post(), comment("c1", "ana", 1, "@ben look"), react("ben", "c1", 2), delete_post())
    assert derive_groups(state) == {}


def test_reply_to_deleted_comment_falls_back() -> None:
    state = fold(
        post(),
        comment("c1", "ana", 1),
        comment("c2", "ben", 2, reply_to="c1"),
        delete_comment("c1", "ana", 3),
    )
    assert sorted(by_text(derive_groups(state))) == [("olga", "comment:post:p1")]


def test_spam_verdict_withdraws_and_person_ham_restores() -> None:
    state = fold(
        post(),
        comment("c1", "ana", 1),
        comment("c2", "spammer", 2, "Buy now @ana"),
        react("ben", "c2", 3),
    )
    honest = derive_groups(state)
    assert len(honest) == 3
    state.apply(verdict("c2", "spam", source="machine"))
    flagged = derive_groups(state)
    assert by_text(flagged) == {
        ("olga", "comment:post:p1"): group(
            "olga", "comment", "post", POST, ("ana",), 1, 1, 1, "Launch day"
        )
    }
    state.apply(verdict("c2", "ham", source="person"))
    assert derive_groups(state) == honest
    state.apply(verdict("c2", "spam", source="person"))
    assert derive_groups(state) == flagged


def test_person_spam_hides_what_machine_passed() -> None:
    state = fold(
        post(),
        comment("c1", "ana", 1),
        verdict("c1", "ham", source="machine"),
        verdict("c1", "spam", source="person"),
    )
    assert derive_groups(state) == {}


def test_duplicates_change_nothing() -> None:
    events = [
        post(),
        comment("c1", "ana", 1),
        react("ben", "c1", 2),
        delete_comment("c1", "ana", 3),
    ]
    once = fold(*events)
    twice = fold(*events, *events, events[1])
    assert derive_groups(twice) == derive_groups(once)
    assert twice.seq == once.seq == 4


def test_comment_before_post_notifies_once_the_post_arrives() -> None:
    state = fold(comment("c1", "ana", 1, "hi @ben"))
    assert sorted(by_text(derive_groups(state))) == [("ben", "mention:comment:c1")]
    state.apply(post())
    assert sorted(by_text(derive_groups(state))) == [
        ("ben", "mention:comment:c1"),
        ("olga", "comment:post:p1"),
    ]


def test_edit_adding_a_mention_keeps_the_original_time() -> None:
    state = fold(post(), comment("c1", "ana", 1, "hello"), edit_comment("c1", "ana", 9, "hi @ben"))
    assert by_text(derive_groups(state))[("ben", "mention:comment:c1")] == group(
        "ben", "mention", "comment", "c1", ("ana",), 1, 1, 1, "hi @ben"
    )


def test_diff_reports_only_changes_sorted() -> None:
    a = group("olga", "comment", "post", POST, ("ana",), 1, 1, 1, "Launch day")
    b = group("ana", "reply", "comment", "c1", ("ben",), 1, 2, 2, "x")
    b2 = group("ana", "reply", "comment", "c1", ("cid", "ben"), 2, 2, 3, "x")
    c = group("ben", "mention", "comment", "c2", ("ana",), 1, 4, 4, "y")
    old = {a.key: a, b.key: b}
    new = {b2.key: b2, c.key: c}
    assert diff_groups(old, old, version=7) == []
    assert diff_groups(old, new, version=7) == [
        GroupChange(b2, 7, False),
        GroupChange(c, 7, False),
        GroupChange(a, 7, True),
    ]
    assert apply_changes(old, diff_groups(old, new, version=7)) == new


def test_group_key_text_round_trip() -> None:
    key = GroupKey("ana", "reaction", "comment", "c:1:x")
    assert key.text == "reaction:comment:c:1:x"
    assert GroupKey.parse("ana", key.text) == key
    for bad in ("reaction", "reaction:comment:", "poke:comment:c1", "reply:thing:c1"):
        with pytest.raises(ValueError, match="group key|kind"):
            GroupKey.parse("ana", bad)


@pytest.mark.parametrize(
    ("kind", "object_kind", "actors", "count", "excerpt", "text"),
    [
        ("comment", "post", ("ana",), 1, "Launch day", "Ana commented on your post 'Launch day'"),
        (
            "comment",
            "post",
            ("ana", "ben", "cid"),
            6,
            "Launch day",
            "Ana and 5 others commented on your post 'Launch day'",
        ),
        (
            "reply",
            "comment",
            ("ana", "ben"),
            2,
            "Agreed",
            "Ana and Ben replied to your comment 'Agreed'",
        ),
        (
            "reply",
            "comment",
            ("ana", "ben", "cid"),
            3,
            "x",
            "Ana and 2 others replied to your comment 'x'",
        ),
        ("mention", "comment", ("ana",), 1, "hi", "Ana mentioned you in a comment 'hi'"),
        ("mention", "post", ("ana",), 1, "T", "Ana mentioned you in a post 'T'"),
        ("reaction", "comment", ("ben",), 1, "x", "Ben reacted to your comment 'x'"),
        ("follow", "user", ("ana", "ben"), 2, "", "Ana and Ben started following you"),
        ("comment", "post", ("zed",), 1, "", "zed commented on your post"),
    ],
)
def test_render(
    kind: str, object_kind: str, actors: tuple[str, ...], count: int, excerpt: str, text: str
) -> None:
    g = group("olga", kind, object_kind, POST, actors, count, 1, 2, excerpt)
    assert render(g, names={"ana": "Ana", "ben": "Ben", "cid": "Cid"}) == text


def test_render_without_names_uses_ids() -> None:
    g = group("olga", "comment", "post", POST, ("ana", "ben"), 2, 1, 2, "Launch day")
    assert render(g) == "ana and ben commented on your post 'Launch day'"
