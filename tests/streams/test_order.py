"""The in-order admission of records: exact verdicts for the race's delivery sequences."""

from streams.order import InOrder, Reread, Verdict

FOLD, AGAIN, EARLY = Verdict.FOLD, Verdict.AGAIN, Verdict.EARLY


def _verdicts(order: InOrder[str], tp: str, offsets: list[int], now: float = 0) -> list[Verdict]:
    return [order.check(tp, offset, now=now) for offset in offsets]


def test_records_in_order_from_the_committed_offset_are_folded() -> None:
    order: InOrder[str] = InOrder()
    order.start("c/5", 24, generation=3)
    assert _verdicts(order, "c/5", [24, 25, 26]) == [FOLD, FOLD, FOLD]
    assert order.expected("c/5") == 27


def test_a_prefetched_record_ahead_of_dropped_ones_is_held_until_they_are_read_again() -> None:
    # The race: committed 24, record 2315 delivered first, 24..2314 dropped by Faust.
    order: InOrder[str] = InOrder()
    order.start("c/5", 24, generation=3)
    assert _verdicts(order, "c/5", [2315, 2316]) == [EARLY, EARLY]
    assert order.reread("c/5", now=0) == Reread(24)
    assert order.expected("c/5") == 24  # nothing skipped
    assert _verdicts(order, "c/5", list(range(24, 2317))) == [FOLD] * (2317 - 24)


def test_records_delivered_again_below_the_expected_offset_are_duplicates() -> None:
    order: InOrder[str] = InOrder()
    order.start("p", 10, generation=1)
    assert _verdicts(order, "p", [10, 11, 12, 10, 11, 12, 13]) == [FOLD] * 3 + [AGAIN] * 3 + [FOLD]


def test_partitions_are_independent() -> None:
    order: InOrder[str] = InOrder()
    order.start("a", 0, generation=1)
    order.start("b", 100, generation=1)
    assert order.check("a", 5, now=0) is EARLY
    assert order.check("b", 100, now=0) is FOLD
    assert order.expected("a") == 0 and order.expected("b") == 101


def test_a_new_consumer_generation_asks_for_a_new_starting_point() -> None:
    order: InOrder[str] = InOrder()
    assert not order.knows("p", 1)
    order.start("p", 7, generation=1)
    assert order.knows("p", 1)
    assert not order.knows("p", 2)  # after a rebalance the partition may have moved on elsewhere
    order.start("p", 50, generation=2)
    assert order.check("p", 49, now=0) is AGAIN
    assert order.check("p", 50, now=0) is FOLD


def test_a_real_hole_is_given_up_on_only_after_many_rereads_over_time() -> None:
    order: InOrder[str] = InOrder(give_up_after=3, give_up_s=60)
    order.start("p", 10, generation=1)
    for t in (0, 1, 2, 3):  # many re-reads, but quickly: keep waiting
        assert order.check("p", 15, now=t) is EARLY
        assert order.reread("p", now=t) == Reread(10)
    assert order.check("p", 14, now=70) is EARLY  # the lowest early offset seen is 14
    assert order.reread("p", now=70) == Reread(14, gave_up=True, skipped=4)
    assert _verdicts(order, "p", [14, 15]) == [FOLD, FOLD]


def test_arriving_at_the_expected_offset_resets_the_wait() -> None:
    order: InOrder[str] = InOrder(give_up_after=1, give_up_s=10)
    order.start("p", 0, generation=1)
    assert order.check("p", 3, now=0) is EARLY
    assert order.reread("p", now=0) == Reread(0)
    assert _verdicts(order, "p", [0, 1, 2, 3], now=5) == [FOLD] * 4
    assert order.check("p", 9, now=20) is EARLY  # a new wait starts at 20, not at 0
    assert order.reread("p", now=20) == Reread(4)
    assert order.reread("p", now=25) == Reread(4)  # two re-reads, but only 5 s
