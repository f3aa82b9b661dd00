"""The controller's measured reaction, and the windows and margins it sets."""

import json

import pytest

from fixtures import reaction
from fixtures.reaction import Measured, Reactions, controller_reactions
from fixtures.timeline import Entry, Timeline
from fixtures.timeouts import Timeouts, amo_hold_for


def timeline(*events) -> Timeline:
    tl = Timeline("ns")
    for i, (t, kind, type_, name) in enumerate(events):
        tl.entries.append(Entry(i, t, kind, type_, name, "", {}))
    return tl


def test_a_deletion_and_the_recreation_of_its_name_is_one_reaction():
    tl = timeline((10.0, "pod", "DELETED", "mongo-1"), (10.4, "pod", "ADDED", "mongo-1"),
                  (20.0, "pod", "DELETED", "mongo-0"), (21.5, "pod", "ADDED", "mongo-0"))
    assert controller_reactions(tl) == pytest.approx([0.4, 1.5])


def test_what_the_test_did_in_between_is_not_a_reaction():
    # A scale-down deletes mongo-2; a later scale-up creates it: the test's doing.
    tl = timeline((10.0, "pod", "DELETED", "mongo-2"), (12.0, "mark", "MARK", "scale 1 -> 3"),
                  (12.3, "pod", "ADDED", "mongo-2"),
                  # too long after to be a reaction at all
                  (30.0, "pod", "DELETED", "mongo-1"), (30.0 + reaction.PAIRING_LIMIT_S + 1, "pod", "ADDED", "mongo-1"),
                  # a pod first added is no recreation
                  (50.0, "pod", "ADDED", "mongo-3"),
                  # a pair across a recording gap: its time is not known
                  (60.0, "pod", "DELETED", "mongo-0"), (61.0, "gap", "OPEN", "pod"), (62.0, "gap", "CLOSE", "pod"),
                  (63.0, "pod", "ADDED", "mongo-0"))
    assert controller_reactions(tl) == []


def test_until_enough_is_measured_the_fixed_margin_and_the_floors_hold():
    m = Reactions([0.2] * 8 + [14.0]).measured()
    assert not m.enough
    assert m.margin_s() == reaction.UNMEASURED_MARGIN_S == 10.0
    assert m.window_s(15.0) == 15.0
    assert "not measured yet (9 of 10 samples)" in m.words()


def test_a_fast_controller_gets_the_minimum_margin_and_the_floors():
    m = Reactions([0.1, 0.2, 0.3, 0.25] * 3).measured()
    assert m.enough and m.margin_s() == reaction.MIN_MARGIN_S == 5.0
    assert m.window_s(15.0) == 15.0  # never below the guarantee's floor


def test_a_slow_controller_stretches_margin_and_windows():
    m = Reactions([2.0, 3.0, 2.5, 3.2] * 3).measured()
    assert m.margin_s() == pytest.approx(5 * 3.2)
    assert m.window_s(15.0) == pytest.approx(32.0)


@pytest.mark.parametrize("count", [10, 11, 15, 20])
def test_one_held_back_creation_does_not_set_the_margin(count):
    # OrderedReady holding a recreation behind an unready predecessor reads
    # as one slow "reaction": from the fewest samples that count, the 90th
    # percentile leaves it out.
    m = Reactions([0.2] * (count - 1) + [14.0]).measured()
    assert (m.slowest_s, m.p90_s) == (14.0, 0.2)
    assert m.margin_s() == reaction.MIN_MARGIN_S


def test_a_child_process_starts_from_its_parents_measurements(monkeypatch):
    parent = Reactions([0.5, 0.6, 0.7])
    env = parent.env()
    assert json.loads(env[reaction.ENV]) == [0.5, 0.6, 0.7]
    monkeypatch.setenv(reaction.ENV, json.dumps([0.5, 99.0]))  # a value no pair could have is dropped
    assert reaction._seed() == [0.5]
    monkeypatch.setenv(reaction.ENV, env[reaction.ENV])
    assert Reactions(reaction._seed()).measured() == parent.measured()
    monkeypatch.setenv(reaction.ENV, "not json")
    assert reaction._seed() == []
    assert Reactions().env() == {}


def test_the_at_most_one_hold_is_the_clusters_timing_plus_the_measured_margin():
    t = Timeouts.scaled(1.0)
    # kind here: 20s grace, 10s toleration, 10s termination grace (+ a 20s pod-GC period).
    fast = Reactions([0.3] * 10).measured()
    assert amo_hold_for(t, 20, 10, 10, margin_s=fast.margin_s()) == 35.0
    assert amo_hold_for(t, 20, 10, 10, margin_s=Measured(0, 0, 0, 0).margin_s()) == 40.0
    # --timeout-scale 2 stretches it; 0.3 never shortens it.
    assert amo_hold_for(Timeouts.scaled(2.0), 20, 10, 10, margin_s=5.0) == 70.0
    assert amo_hold_for(Timeouts.scaled(0.3), 20, 10, 10, margin_s=5.0) == 35.0
    # The unsafe pod GC (detection row unsafe-gc) force-deletes within one
    # 20s period of the marking: inside the shortest hold with room to spare.
    assert amo_hold_for(t, 20, 10, 10, margin_s=fast.margin_s()) >= 20.0 + 10.0


def test_a_child_handed_enough_measurements_does_not_calibrate_again(monkeypatch):
    from types import SimpleNamespace
    monkeypatch.setattr(reaction, "REACTIONS", Reactions([0.1] * 10))
    api = SimpleNamespace(core=SimpleNamespace(create_namespace=lambda body: pytest.fail("calibrated again")))
    assert reaction.calibrate(api, "img").endswith("(handed over by the parent run)")


def test_a_calibration_that_cannot_run_leaves_the_fixed_margin_and_says_why(monkeypatch):
    from types import SimpleNamespace
    monkeypatch.setattr(reaction, "REACTIONS", Reactions())

    def refuse(body):
        raise RuntimeError("namespaces is forbidden")

    api = SimpleNamespace(core=SimpleNamespace(create_namespace=refuse))
    said = reaction.calibrate(api, "img")
    assert said == "controller reaction not measured (RuntimeError: namespaces is forbidden): fixed 10s margin"
    assert reaction.REACTIONS.measured().margin_s() == 10.0


def test_the_calibration_pod_can_never_run_anywhere():
    spec = reaction._calibration_statefulset("img")["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == reaction.NEVER_SCHEDULED
    # Admissible under the restricted Pod Security level.
    ctx = spec["containers"][0]["securityContext"]
    assert ctx["runAsNonRoot"] and ctx["capabilities"] == {"drop": ["ALL"]} and not ctx["allowPrivilegeEscalation"]
