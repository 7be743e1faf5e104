"""`FairSemaphore`: places go round-robin by lane, FIFO within a lane, at most `per_lane` per lane."""

from __future__ import annotations

import threading
import time

import pytest

from scheduler_local.fairness import FairSemaphore


def queue_up(sem: FairSemaphore, order: list[str], lane: str, name: str, hold: threading.Event) -> threading.Thread:
    def run() -> None:
        with sem.hold(lane):
            order.append(name)
            hold.wait(5)

    thread = threading.Thread(target=run)
    before = sem.waiting()
    thread.start()
    deadline = time.monotonic() + 5
    while sem.waiting() == before and name not in order and time.monotonic() < deadline:  # queued, or in
        time.sleep(0.001)
    return thread


def test_a_lane_with_a_queue_does_not_keep_another_lane_waiting_behind_it() -> None:
    sem = FairSemaphore(1)
    order: list[str] = []
    go = threading.Event()
    go.set()  # holders leave at once; the first holder below keeps the place until released
    sem.acquire("noisy")
    threads = [queue_up(sem, order, "noisy", f"noisy{n}", go) for n in range(5)]
    threads.append(queue_up(sem, order, "quiet", "quiet", go))
    threads.append(queue_up(sem, order, "other", "other", go))
    sem.release("noisy")
    for thread in threads:
        thread.join(5)
    assert order == ["noisy0", "quiet", "other", "noisy1", "noisy2", "noisy3", "noisy4"]


def test_per_lane_cap_leaves_room_for_others() -> None:
    sem = FairSemaphore(2, per_lane=1)
    sem.acquire("a")
    got: list[str] = []
    hold = threading.Event()
    second_a = queue_up(sem, got, "a", "a2", hold)
    b = queue_up(sem, got, "b", "b1", hold)
    deadline = time.monotonic() + 5
    while got != ["b1"] and time.monotonic() < deadline:
        time.sleep(0.001)
    assert got == ["b1"]  # the free place went to b; a's second waits for a's first
    sem.release("a")
    hold.set()
    for thread in (second_a, b):
        thread.join(5)
    assert got == ["b1", "a2"] and sem.waiting() == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FairSemaphore(0)
