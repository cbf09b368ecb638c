"""The wrong-key lock-out's window, on a clock the test moves."""

from __future__ import annotations

from telshield.api.lockout import Lockout


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_locked_after_n_failures_until_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    lock = Lockout(3, 60.0, clock)
    for dt in (0, 10, 20):
        clock.t = 1000.0 + dt
        assert lock.retry_after(["client:a"]) == 0
        lock.failed(["client:a"])
    assert lock.retry_after(["client:a"]) == 40  # the failure at 1000 leaves at 1060
    assert lock.retry_after(["client:b"]) == 0  # another address is not affected
    assert lock.retry_after(["client:b", "client:a"]) == 40  # any locked subject locks
    clock.t = 1060.0
    assert lock.retry_after(["client:a"]) == 0  # two failures left in the window
    lock.failed(["client:a"])
    assert lock.retry_after(["client:a"]) == 10  # 1010 + 60 - 1060


def test_failures_outside_the_window_are_forgotten() -> None:
    clock = Clock()
    lock = Lockout(2, 60.0, clock)
    lock.failed(["key:x"])
    clock.t += 61
    lock.failed(["key:x"])
    assert lock.retry_after(["key:x"]) == 0
