"""Bundles of keyed records (the activity topic): round trip, order, and clear refusals."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.errors import DecodeError
from streams.bundle import MAGIC, pack, unpack

entries = st.lists(st.tuples(st.binary(max_size=40), st.binary(max_size=300)), max_size=30)


@given(entries)
def test_round_trip_keeps_entries_and_order(items: list[tuple[bytes, bytes]]) -> None:
    assert unpack(pack(items)) == items


def test_empty_bundle_is_just_the_magic() -> None:
    assert pack([]) == MAGIC and unpack(MAGIC) == []


def test_not_a_bundle_is_named() -> None:
    with pytest.raises(DecodeError, match="not a bundle"):
        unpack(b"\xc3\x01 an avro event")


@pytest.mark.parametrize("cut", [5, 9, 12, -1])
def test_truncated_bundle_names_where(cut: int) -> None:
    data = pack([(b"t/ana", b"x" * 20), (b"t/bo", b"y" * 5)])
    with pytest.raises(DecodeError, match="truncated"):
        unpack(data[:cut])
