"""Waiting for a quiet machine before each run, on a computer shared with other work.

Two processes that both run multi-threaded BLAS on the same cores slow each other down many
times over (their threads spin while they wait for each other), so a run that starts while
something else is busy measures the neighbour as much as the code. The busy fraction comes
from ``/proc/stat`` (Linux; elsewhere the machine counts as idle).
"""

from __future__ import annotations

import time
from pathlib import Path

STAT = Path("/proc/stat")


def cpu_times() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all CPUs since boot, or None without ``/proc/stat``."""
    if not STAT.exists():
        return None
    # user nice system idle iowait irq softirq steal: idle and iowait are the idle ones
    ticks = [int(value) for value in STAT.read_text().split("\n", 1)[0].split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def busy_fraction(seconds: float = 0.5) -> float:
    """The fraction of the CPUs' time spent busy (by anything) over the next ``seconds``."""
    before = cpu_times()
    time.sleep(seconds)
    after = cpu_times()
    if before is None or after is None or after[1] == before[1]:
        return 0.0
    return (after[0] - before[0]) / (after[1] - before[1])


class QuietWaiter:
    """Before each run, wait while the CPUs are more than ``limit`` busy, spending at most
    ``budget_s`` seconds of waiting over the whole benchmark."""

    def __init__(self, budget_s: float, limit: float = 0.2) -> None:
        self.budget_s, self.limit = budget_s, limit

    def wait(self) -> float:
        """Return the busy fraction when the run may start."""
        while True:
            start = time.monotonic()
            busy = busy_fraction()
            if busy <= self.limit or self.budget_s <= 0:
                return busy
            time.sleep(1.0)
            self.budget_s -= time.monotonic() - start
