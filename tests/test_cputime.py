"""CPU accounting for the benchmarks: real readings of this process, None where unreadable."""

import os
import sys
import time

import pytest

from hubbub.cputime import CpuMeter, cpu_seconds

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@linux_only
def test_busy_loop_is_counted_for_this_process() -> None:
    meter = CpuMeter({"me": os.getpid(), "gone": 2**22 + 12345, "none": None}).start()
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    used = meter.stop()
    assert used["me"] is not None and 0.2 <= used["me"] <= 5.0
    assert used["gone"] is None and used["none"] is None


@linux_only
def test_reading_is_monotonic() -> None:
    first = cpu_seconds(os.getpid())
    assert first is not None
    sum(i * i for i in range(200_000))
    second = cpu_seconds(os.getpid())
    assert second is not None and second >= first
