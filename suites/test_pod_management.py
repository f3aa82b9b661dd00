"""OrderedReady versus Parallel pod management, judged on the recorded timeline.

Pods are held unready by a readiness gate the test controls (an exec probe on
a file), as upstream's StatefulSet tests do. These variants drop the
anti-affinity (more replicas than workers) and keep data in an emptyDir:
only ordering is under test here.
"""

import pytest

from fixtures import invariants as inv
from fixtures.reaction import window
from fixtures.errors import CannotJudge, ConditionImpossible
from fixtures.workload import environment_block
from fixtures.kube import pod_ready
from fixtures.plugin import side_by_side
from fixtures.timeouts import INHERENT_WAIT
from fixtures.wait import Observation, hold_for

pytestmark = pytest.mark.cluster

VARIANT = dict(readiness_gate=True, anti_affinity=False, storage="emptyDir")


def created_names(tl, start=0):
    return [e.name for e in inv.creations(tl, start=start)]


@pytest.mark.conformance(id="STS-ORD-001")
@side_by_side()
def test_ordered_ready_creates_each_pod_only_after_its_predecessors_are_ready(make_workload, recorder, timeouts):
    """with OrderedReady, pod N is created only after pods 0..N-1 are Running and Ready"""
    wl = make_workload(pod_management="OrderedReady", **VARIANT)
    for name in wl.pod_names():
        wl.wait_running([name], timeouts.pod_ready)
        recorder.mark(f"open gate {name}")
        wl.open_gate(name)
        wl.wait_pod_ready(name, True, timeouts.pod_ready)
    tl = recorder.snapshot()
    inv.require_recording("STS-ORD-001", tl, streams=("pod",))
    # The checker can only judge creations it saw: all of them must be there
    # (in whatever order; the order is what the checker judges).
    if sorted(created_names(tl)) != sorted(wl.pod_names()):
        raise CannotJudge(f"STS-ORD-001: the recording saw the creations {created_names(tl)}, not all of "
                          f"{wl.pod_names()}")
    inv.judge_window("STS-ORD-001", tl, inv.ordered_creation(tl), streams=("pod",))


@pytest.mark.conformance(id="STS-ORD-002")
@side_by_side()
def test_ordered_ready_halts_scaling_while_a_pod_is_unready(make_workload, recorder, timeouts, record_property):
    """with OrderedReady, scaling halts while any pod is unready"""
    halt = window(timeouts.halt_window)  # floor, stretched on a slow cluster (fixtures/reaction.py)
    record_property(INHERENT_WAIT, halt)
    wl = make_workload(pod_management="OrderedReady", **VARIANT)
    wl.bring_up_in_order(timeouts)
    wl.close_gate("mongo-1")
    wl.wait_pod_ready("mongo-1", False, timeouts.pod_ready)
    start = recorder.mark("scale 3 -> 5 with mongo-1 unready").seq
    wl.scale(5)

    def moved() -> Observation:
        new = [n for n in created_names(recorder.snapshot(), start)]
        return Observation(bool(new), f"created {new} while mongo-1 was unready")

    hold_for("STS-ORD-002: the scale moved", moved, halt)
    resumed = recorder.mark("open gate mongo-1").seq
    wl.open_gate("mongo-1")
    for name in ("mongo-3", "mongo-4"):
        wl.wait_running([name], timeouts.pod_ready)
        wl.open_gate(name)
        wl.wait_pod_ready(name, True, timeouts.pod_ready)
    tl = recorder.snapshot()
    inv.require_recording("STS-ORD-002", tl, start, streams=("pod",))
    assert created_names(tl, start) == ["mongo-3", "mongo-4"], f"STS-ORD-002: creations after the scale: {created_names(tl, start)}"
    assert all(e.seq > resumed for e in inv.creations(tl, start=start)), "STS-ORD-002: a pod was created before the gate reopened"
    inv.judge_window("STS-ORD-002", tl, inv.creations_while_unready(tl, start=start), start, streams=("pod",))


@pytest.mark.conformance(id="STS-ORD-003")
@side_by_side()
def test_ordered_ready_scales_down_from_the_highest_ordinal_one_at_a_time(make_workload, recorder, timeouts):
    """with OrderedReady, scale-down removes pods from the highest ordinal down, one at a time"""
    wl = make_workload(pod_management="OrderedReady", replicas=4, anti_affinity=False, storage="emptyDir")
    wl.wait_ready(timeouts)
    start = recorder.mark("scale 4 -> 1").seq
    wl.scale(1)
    wl.wait_until("only mongo-0 left", lambda pods: (set(pods) == {"mongo-0"}, f"pods: {sorted(pods)}"),
                  timeouts.workload_ready)
    tl = recorder.snapshot()
    inv.require_recording("STS-ORD-003", tl, start, streams=("pod",))
    removed = [e.name for e in tl.of("pod") if e.seq > start and e.type == "DELETED"]
    assert removed == ["mongo-3", "mongo-2", "mongo-1"], f"STS-ORD-003: pods removed in the order {removed}"
    inv.judge_window("STS-ORD-003", tl, inv.scale_down_order(tl, start=start), start, streams=("pod",))


def all_created(wl, names):
    def check(pods):
        blocked = environment_block(wl, pods, absent=any(n not in pods for n in names))
        if blocked:
            raise ConditionImpossible(f"{', '.join(names)} created", blocked)
        missing = [n for n in names if n not in pods]
        ready = sorted(n for n, p in pods.items() if pod_ready(p))
        return not missing, f"created {sorted(pods)}, not yet {missing}; Ready: {ready or 'none'}"
    return check


def held_unready(wl, names, what):
    """The readiness gates must still hold, or the check shows nothing."""
    ready = [n for n in names if pod_ready(wl.pod(n))]
    if ready:
        raise CannotJudge(f"{what}: the readiness gate did not hold ({', '.join(ready)} Ready), so nothing was shown")


@pytest.mark.conformance(id="STS-PAR-001")
@side_by_side()
def test_parallel_creates_all_pods_without_waiting_for_readiness(make_workload, recorder, timeouts, record_property):
    """with Parallel, all pods are created without waiting for predecessors to be Ready"""
    wl = make_workload(pod_management="Parallel", **VARIANT)
    names = wl.pod_names()
    # The guarantee itself: every pod appears while mongo-0 is held unready.
    wl.wait_until(f"all of {', '.join(names)} created while none is Ready", all_created(wl, names),
                  timeouts.pod_recreated, guarantee="STS-PAR-001")
    held_unready(wl, names, "STS-PAR-001")
    tl = recorder.snapshot()
    inv.require_recording("STS-PAR-001", tl, streams=("pod",))
    assert sorted(created_names(tl)) == names, f"STS-PAR-001: recorded creations {created_names(tl)}"
    # Every pod after the first was created while a predecessor was not Ready.
    waited = [e.name for e in inv.creations(tl) if e.name != "mongo-0"]
    unready = {v.subject for v in inv.creations_while_unready(tl)}
    assert set(waited) <= unready, f"STS-PAR-001: {sorted(set(waited) - unready)} were created only once predecessors were Ready"
    record_property("evidence", f"{', '.join(waited)} created while their predecessors were held unready")


@pytest.mark.conformance(id="STS-PAR-002")
@side_by_side()
def test_parallel_scales_while_pods_are_unready(make_workload, recorder, timeouts, record_property):
    """with Parallel, scaling proceeds while pods are unready"""
    wl = make_workload(pod_management="Parallel", **VARIANT)
    wl.bring_up_in_order(timeouts)
    wl.close_gate("mongo-1")
    wl.wait_pod_ready("mongo-1", False, timeouts.pod_ready)
    start = recorder.mark("scale 3 -> 5 with mongo-1 unready").seq
    wl.scale(5)
    wl.wait_until("mongo-3 and mongo-4 created while mongo-1 is unready", all_created(wl, ["mongo-3", "mongo-4"]),
                  timeouts.pod_recreated, guarantee="STS-PAR-002")
    held_unready(wl, ["mongo-1"], "STS-PAR-002")
    tl = recorder.snapshot()
    inv.require_recording("STS-PAR-002", tl, start, streams=("pod",))
    while_unready = {v.subject for v in inv.creations_while_unready(tl, start=start)}
    assert {"mongo-3", "mongo-4"} <= while_unready, \
        f"STS-PAR-002: creations after the scale {created_names(tl, start)}; made while a pod was unready: {sorted(while_unready)}"
    record_property("evidence", "mongo-3 and mongo-4 created while mongo-1 was held unready")
