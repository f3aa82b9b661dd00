"""Waits: named conditions, budgets, last-seen state (no cluster, injected clock)."""

import pytest

from fixtures.errors import CannotJudge, ConditionImpossible, GuaranteeTimeout, WaitTimeout
from fixtures.wait import Observation, hold_for, wait_for

from .clock import FakeClock



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


def test_a_timeout_is_not_a_violation():
    # Most waits are for preconditions: running out says the suite could not judge.
    assert not issubclass(WaitTimeout, AssertionError)
    assert issubclass(WaitTimeout, CannotJudge)


def test_a_guarantee_wait_that_runs_out_on_observations_is_a_violation():
    clock = FakeClock()
    with pytest.raises(GuaranteeTimeout) as info:
        wait_for("mongo-3 created", lambda: Observation(False, "created [mongo-0]"), budget=10, clock=clock,
                 guarantee="STS-PAR-002")
    assert str(info.value) == "STS-PAR-002: not within 10s: mongo-3 created; last seen: created [mongo-0]"
    assert isinstance(info.value, AssertionError)


def test_a_guarantee_wait_whose_probe_could_not_look_is_not_a_violation():
    clock = FakeClock()

    def probe():
        raise ConnectionResetError("connection reset by peer")

    with pytest.raises(WaitTimeout):
        wait_for("mongo-3 created", probe, budget=3, clock=clock, guarantee="STS-PAR-002")


class FakeApiException(Exception):
    def __init__(self, status, reason, body=""):
        super().__init__(f"({status}) {reason}")
        self.status, self.reason, self.body = status, reason, body


FakeApiException.__name__ = "ApiException"


def test_an_api_refusal_ends_the_wait_at_once_as_cannot_judge():
    clock = FakeClock()

    def probe():
        raise FakeApiException(403, "Forbidden", 'pods is forbidden: User "x" cannot list pods')

    with pytest.raises(CannotJudge, match="the API answered 403 Forbidden: pods is forbidden"):
        wait_for("3 pods Ready", probe, budget=300, clock=clock, guarantee="STS-DNS-001")
    assert clock.now == 0


def test_a_server_error_is_transient():
    clock = FakeClock()
    seen = iter([FakeApiException(503, "Service Unavailable"), Observation(True, "Ready")])

    def probe():
        item = next(seen)
        if isinstance(item, Exception):
            raise item
        return item

    assert wait_for("x", probe, budget=10, clock=clock).seen == "Ready"


def test_a_hold_fails_when_the_forbidden_thing_happens():
    clock = FakeClock()
    seen = iter([Observation(False, "nothing"), Observation(True, "mongo-3 created")])
    with pytest.raises(AssertionError, match="STS-ORD-002: the scale moved within 15s: mongo-3 created"):
        hold_for("STS-ORD-002: the scale moved", lambda: next(seen), window=15, clock=clock)


def test_a_hold_that_goes_blind_cannot_judge():
    clock = FakeClock()

    def probe():
        raise ConnectionResetError("reset")

    with pytest.raises(CannotJudge, match="could not keep watching whether x: blind for 5s"):
        hold_for("x", probe, window=60, interval=1, clock=clock)


def test_a_hold_tolerates_one_hiccup():
    clock = FakeClock()
    seen = iter([Observation(False, "a"), ConnectionResetError("reset"), Observation(False, "b")] +
                [Observation(False, "c")] * 20)

    def probe():
        item = next(seen)
        if isinstance(item, Exception):
            raise item
        return item

    assert hold_for("x", probe, window=10, interval=1, clock=clock) >= 10
