"""Waits: named conditions, budgets, last-seen state (no cluster, injected clock)."""

import pytest

from fixtures.errors import ConditionImpossible, WaitTimeout
from fixtures.wait import Observation, wait_for


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_the_first_observation_that_holds():
    clock = FakeClock()
    seen = iter([Observation(False, "Pending"), Observation(False, "Running, not Ready"), Observation(True, "Ready", 42)])
    obs = wait_for("mongo-1 Ready", lambda: next(seen), budget=60, interval=2, clock=clock)
    assert obs.value == 42
    assert clock.now == 4  # two polls' worth of sleeping, no more


def test_timeout_names_the_condition_the_budget_and_what_was_seen_last():
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as info:
        wait_for("mongo-1 Ready", lambda: Observation(False, "Pending, FailedScheduling: volume node affinity conflict"),
                 budget=60, interval=5, clock=clock)
    msg = str(info.value)
    assert msg == ("timed out after 60s waiting for mongo-1 Ready; "
                   "last seen: Pending, FailedScheduling: volume node affinity conflict")
    assert clock.now == 60  # never sleeps past the deadline


def test_probe_errors_count_as_not_yet_and_are_reported():
    clock = FakeClock()

    def probe():
        raise ConnectionResetError("connection reset by peer")

    with pytest.raises(WaitTimeout, match="last seen: ConnectionResetError: connection reset by peer"):
        wait_for("API answers", probe, budget=3, interval=1, clock=clock)


def test_a_probe_can_give_up_early_when_the_condition_became_impossible():
    clock = FakeClock()

    def probe():
        raise ConditionImpossible("mongo-1 Ready", "pod was deleted")

    with pytest.raises(ConditionImpossible, match="gave up waiting for mongo-1 Ready: pod was deleted"):
        wait_for("mongo-1 Ready", probe, budget=300, clock=clock)
    assert clock.now == 0


def test_timeout_is_an_assertion_so_pytest_reports_a_failed_check():
    assert issubclass(WaitTimeout, AssertionError)
