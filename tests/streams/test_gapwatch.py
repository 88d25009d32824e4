"""The stuck-commit detector: fires only on the exact signature, once per spell."""

from streams.gapwatch import GapWatch, Position


def test_commit_standing_behind_reads_with_nothing_in_flight_is_stuck() -> None:
    watch: GapWatch[str] = GapWatch(stall_s=10)
    assert watch.check(0, {"c/5": Position(24, 2315, None)}) == []
    assert watch.check(5, {"c/5": Position(24, 2400, None)}) == []  # reads go on, commit does not
    assert watch.check(10, {"c/5": Position(24, 2500, None)}) == ["c/5"]
    assert watch.check(11, {"c/5": Position(24, 2500, None)}) == []  # reported once, timer anew


def test_healthy_partitions_are_never_stuck() -> None:
    watch: GapWatch[str] = GapWatch(stall_s=10)
    for t in range(0, 60, 5):
        caught_up = Position(100 + t, 99 + t, None)  # committed = read + 1
        moving = Position(t, t + 50, None)  # behind, but the commit moves every check
        assert watch.check(t, {"a": caught_up, "b": moving}) == []


def test_record_in_flight_at_the_committed_offset_is_a_slow_batch_not_a_gap() -> None:
    watch: GapWatch[str] = GapWatch(stall_s=10)
    assert watch.check(0, {"p": Position(7, 40, 7)}) == []
    assert watch.check(30, {"p": Position(7, 40, 7)}) == []
    assert watch.check(31, {"p": Position(7, 40, 20)}) == ["p"]  # 7 acked? no: 7 was dropped


def test_nothing_read_yet_or_revoked_partitions_are_forgotten() -> None:
    watch: GapWatch[str] = GapWatch(stall_s=1)
    assert watch.check(0, {"p": Position(None, None, None), "q": Position(3, 9, None)}) == []
    assert watch.check(5, {"p": Position(None, None, None)}) == []  # q revoked
    assert watch.check(9, {"p": Position(None, None, None), "q": Position(3, 9, None)}) == []
    assert watch.check(10, {"q": Position(3, 9, None)}) == ["q"]


def test_caught_up_after_a_seek_to_the_committed_offset_is_not_stuck() -> None:
    # Faust seeks to the committed offset on assignment, which sets the read offset to it: with
    # nothing more in the log, committed = read = end, and that is simply caught up.
    watch: GapWatch[str] = GapWatch(stall_s=10)
    for t in (0, 10, 20, 30):
        assert watch.check(t, {"inbox/2": Position(129, 129, None, 129)}) == []
        assert watch.check(t, {"graph/0": Position(326, 326, None, None)}) == []


def test_sought_but_never_delivered_while_the_log_goes_on_is_stuck() -> None:
    watch: GapWatch[str] = GapWatch(stall_s=10)
    assert watch.check(0, {"p": Position(129, 129, None, 400)}) == []
    assert watch.check(10, {"p": Position(129, 129, None, 400)}) == ["p"]


def test_nothing_delivered_since_assignment_while_the_log_has_more_is_stuck() -> None:
    # After a restart: Faust sought to the committed offset (read = committed), then never
    # fetched the partition again; only the log's end says records are waiting.
    watch: GapWatch[str] = GapWatch(stall_s=10)
    assert watch.check(0, {"graph/2": Position(63, 63, None, 141)}) == []
    assert watch.check(10, {"graph/2": Position(63, 63, None, 141)}) == ["graph/2"]
    never: GapWatch[str] = GapWatch(stall_s=10)
    assert never.check(0, {"inbox/2": Position(None, None, None, 66)}) == []
    assert never.check(10, {"inbox/2": Position(None, None, None, 66)}) == ["inbox/2"]


def test_a_partition_consumed_slowly_but_steadily_is_not_stuck() -> None:
    watch: GapWatch[str] = GapWatch(stall_s=10)
    for t in range(0, 60, 5):
        assert watch.check(t, {"p": Position(100 + t, 99 + t, None, 5000)}) == []
