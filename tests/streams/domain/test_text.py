from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.text import hashtags, mentions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hi @ana and @Ben", ["ana", "Ben"]),
        ("@ana @ana @Ana", ["ana", "Ana"]),
        ("thanks @ana.", ["ana"]),
        ("ask @ana-, then @bob..", ["ana", "bob"]),
        ("cc @ana: look", ["ana"]),
        ("@j.doe_2-x wrote", ["j.doe_2-x"]),
        ("write to ana@example.com", []),
        ("@@ana", []),
        ("x@ana", []),
        ("@_ana @.ana @-ana", []),
        ("@anaé is not ana", []),
        ("@ana.bé", []),
        ('(@ana) [@ben] "@cid"', ["ana", "ben", "cid"]),
        ("@" + "a" * 64, ["a" * 64]),
        ("@" + "a" * 65, []),
        ("", []),
        ("@", []),
    ],
)
def test_mentions(text: str, expected: list[str]) -> None:
    assert mentions(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#Launch day #launch #ship_it", ["launch", "ship_it"]),
        ("see page#intro", []),
        ("it&#39;s &#x27;", []),
        ("##double", []),
        ("#1st #a1", ["a1"]),
        ("#café", []),
        ("(#one, #Two!)", ["one", "two"]),
        ("#" + "a" * 100, ["a" * 100]),
        ("#" + "a" * 101, []),
        ("#", []),
    ],
)
def test_hashtags(text: str, expected: list[str]) -> None:
    assert hashtags(text) == expected


@given(st.text())
def test_parsers_are_total_and_deduplicated(text: str) -> None:
    found = mentions(text)
    tags = hashtags(text)
    assert len(found) == len(set(found))
    assert len(tags) == len(set(tags))
    assert all(f"@{handle}" in text for handle in found)
    assert all(tag == tag.lower() for tag in tags)
