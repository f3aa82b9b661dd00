"""Updates: the order of a rollout, partitions, OnDelete, rollbacks, and a
broken revision, judged on the recorded timeline.

A new revision is a change of the pod template (an annotation of the
suite's, or a readiness probe that never passes for a broken one). These
variants drop the anti-affinity and keep data in an emptyDir: only the
controller's choices are under test. Every pod a rollout touches is named by
its ControllerRevision (the pods' `controller-revision-hash` label).
"""

import pytest

from fixtures import invariants as inv
from fixtures.reaction import window
from fixtures.errors import CannotJudge
from fixtures.kube import pod_ready
from fixtures.plugin import side_by_side
from fixtures.timeouts import INHERENT_WAIT
from fixtures.wait import Observation, hold_for
from fixtures.workload import pod_revision

pytestmark = pytest.mark.cluster

VARIANT = dict(anti_affinity=False, storage="emptyDir")
POLICIES = ["OrderedReady", "Parallel"]
# A readiness probe that never passes: the broken revision of STS-UPD-005.
NEVER_READY = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 1, "successThreshold": 1}


def rollout_budget(timeouts, pods: int) -> float:
    """Each replaced pod: its old one going, the new one created and Ready."""
    return pods * (timeouts.pod_recreated + timeouts.pod_ready)


def new_revision(wl, old: str, timeouts, cid: str) -> str:
    _, new = wl.update_revision(timeouts.exec)
    if new == old:
        raise CannotJudge(f"{cid}: the template change made no new revision (update revision still {old})")
    return new


def untouched(wl, recorder, start: int, names: list[str]):
    """A hold probe: none of `names` began going after `start`."""
    def probe() -> Observation:
        gone = [e.name for e in inv.terminations(recorder.snapshot(), start=start) if e.name in names]
        return Observation(bool(gone), f"{', '.join(gone)} began going")
    return probe


@pytest.mark.conformance(id="STS-UPD-001")
@side_by_side()
@pytest.mark.parametrize("policy", POLICIES)
def test_rolling_update_replaces_pods_from_the_highest_ordinal_one_at_a_time(policy, make_workload, recorder,
                                                                             timeouts, record_property):
    """a RollingUpdate replaces the pods from the highest ordinal down, one at a time, each Running and Ready on the
    new revision before the next is replaced"""
    wl = make_workload(pod_management=policy, **VARIANT)
    wl.wait_ready(timeouts)
    old, _ = wl.update_revision(timeouts.exec)
    start = recorder.mark("template revision a -> b").seq
    wl.set_revision("b")
    new = new_revision(wl, old, timeouts, "STS-UPD-001")
    wl.wait_rolled_out(new, rollout_budget(timeouts, 3), guarantee="STS-UPD-001")
    tl = recorder.snapshot()
    inv.require_recording("STS-UPD-001", tl, start, streams=("pod",))
    order = [e.name for e in inv.terminations(tl, start=start)]
    assert order == ["mongo-2", "mongo-1", "mongo-0"], f"STS-UPD-001: pods replaced in the order {order}"
    inv.judge_window("STS-UPD-001", tl, inv.rolling_update_order(tl, new, top=2, start=start), start,
                     streams=("pod",))
    record_property("evidence", f"{old} -> {new}: replaced {', '.join(order)}, each after the one above was Ready "
                                f"on {new}")


@pytest.mark.conformance(id="STS-UPD-002")
@side_by_side()
def test_a_partition_keeps_lower_ordinals_on_the_old_revision(make_workload, recorder, timeouts, record_property):
    """with a rolling update partition P, pods of ordinal P and above move to the new revision, pods below P stay on
    the old one, and a deleted pod below P comes back on the old revision"""
    halt = window(timeouts.halt_window)  # floor, stretched on a slow cluster (fixtures/reaction.py)
    record_property(INHERENT_WAIT, halt)
    wl = make_workload(partition=2, **VARIANT)
    before = {n: p.metadata.uid for n, p in wl.wait_ready(timeouts).items()}
    old, _ = wl.update_revision(timeouts.exec)
    start = recorder.mark("template revision a -> b with partition 2").seq
    wl.set_revision("b")
    new = new_revision(wl, old, timeouts, "STS-UPD-002")

    def above_updated(pods):
        p = pods.get("mongo-2")
        ok = p is not None and pod_ready(p) and pod_revision(p) == new and not p.metadata.deletion_timestamp
        return ok, f"mongo-2 {'absent' if p is None else pod_revision(p)}"
    wl.wait_until(f"mongo-2 Ready on {new}", above_updated, timeouts.pod_recreated + timeouts.pod_ready,
                  guarantee="STS-UPD-002")
    # The rollout had its chance at the lower ordinals: it must leave them.
    hold_for("STS-UPD-002: a pod below the partition was replaced", untouched(wl, recorder, start, ["mongo-0", "mongo-1"]),
             halt)
    pods = wl.pods()
    moved = {n: pod_revision(pods[n]) for n in ("mongo-0", "mongo-1") if pod_revision(pods[n]) != old}
    assert not moved, f"STS-UPD-002: below the partition, pods on another revision than {old}: {moved}"
    deleted = recorder.mark("delete mongo-0 (below the partition)").seq
    _, back = wl.delete_pod_and_wait_replacement("mongo-0", timeouts, guarantee="STS-UPD-002")
    assert pod_revision(back) == old, \
        f"STS-UPD-002: mongo-0, deleted below the partition, came back on {pod_revision(back)}, not {old}"
    tl = recorder.snapshot()
    inv.require_recording("STS-UPD-002", tl, start, streams=("pod",))
    early = [e.name for e in inv.terminations(tl, start=start, end=deleted) if e.name != "mongo-2"]
    assert not early, f"STS-UPD-002: below the partition, {early} were replaced by the rollout"
    late = [e.name for e in inv.terminations(tl, start=deleted) if e.name != "mongo-0"]
    assert not late, f"STS-UPD-002: after mongo-0 was deleted, {late} were replaced too"
    now = wl.pods()
    assert now["mongo-1"].metadata.uid == before["mongo-1"] and pod_revision(now["mongo-1"]) == old, \
        f"STS-UPD-002: mongo-1, below the partition, is UID {now['mongo-1'].metadata.uid} on " \
        f"{pod_revision(now['mongo-1'])}, not the first one on {old}"
    record_property("evidence", f"partition 2, {old} -> {new}: mongo-2 on {new}; mongo-0 and mongo-1 kept {old} for "
                                f"{halt:.0f}s; mongo-0 deleted came back on {old}")


@pytest.mark.conformance(id="STS-UPD-003")
@side_by_side()
def test_on_delete_replaces_nothing_until_a_pod_is_deleted(make_workload, recorder, timeouts, record_property):
    """with the OnDelete update strategy, a template change replaces no pod; a deleted pod comes back on the new
    revision"""
    halt = window(timeouts.halt_window)  # floor, stretched on a slow cluster (fixtures/reaction.py)
    record_property(INHERENT_WAIT, halt)
    wl = make_workload(update_strategy="OnDelete", **VARIANT)
    wl.wait_ready(timeouts)
    old, _ = wl.update_revision(timeouts.exec)
    start = recorder.mark("template revision a -> b (OnDelete)").seq
    wl.set_revision("b")
    new = new_revision(wl, old, timeouts, "STS-UPD-003")
    hold_for("STS-UPD-003: a pod was replaced without being deleted",
             untouched(wl, recorder, start, wl.pod_names()), halt)
    deleted = recorder.mark("delete mongo-1").seq
    _, back = wl.delete_pod_and_wait_replacement("mongo-1", timeouts, guarantee="STS-UPD-003")
    assert pod_revision(back) == new, f"STS-UPD-003: mongo-1, deleted, came back on {pod_revision(back)}, not {new}"
    tl = recorder.snapshot()
    inv.require_recording("STS-UPD-003", tl, start, streams=("pod",))
    others = [e.name for e in inv.terminations(tl, start=start) if e.seq < deleted or e.name != "mongo-1"]
    assert not others, f"STS-UPD-003: replaced though nobody deleted them: {others}"
    record_property("evidence", f"OnDelete, {old} -> {new}: no pod replaced in {halt:.0f}s; deleted "
                                f"mongo-1 came back on {new}")


@pytest.mark.conformance(id="STS-UPD-004")
@side_by_side()
def test_rolling_back_reuses_the_previous_revision(make_workload, recorder, timeouts, record_property):
    """rolling back to the previous template reuses the previous revision: no new ControllerRevision, and every pod
    returns to the old revision"""
    wl = make_workload(**VARIANT)
    wl.wait_ready(timeouts)
    old, _ = wl.update_revision(timeouts.exec)
    recorder.mark("template revision a -> b")
    wl.set_revision("b")
    new = new_revision(wl, old, timeouts, "STS-UPD-004")
    wl.wait_rolled_out(new, rollout_budget(timeouts, 3))
    kept = wl.revisions()
    recorder.mark("template back to revision a")
    wl.set_revision("a")
    _, back = wl.update_revision(timeouts.exec)
    after = wl.revisions()
    made = sorted(set(after) - set(kept))
    assert not made and back == old, (
        f"STS-UPD-004: rolling back to the template of {old} made update revision {back}; new ControllerRevisions: "
        f"{made or 'none'} (before: {sorted(kept)})")
    # Reuse shows as the old revision renumbered as the newest (the name alone
    # cannot tell: it is a hash of the template, the same for a new copy).
    assert after.get(old, 0) > kept[new], (
        f"STS-UPD-004: {old} kept revision number {after.get(old)} (before: {kept[old]}; {new}: {kept[new]}): the "
        f"controller did not take it up again as the newest revision")
    wl.wait_rolled_out(old, rollout_budget(timeouts, 3), guarantee="STS-UPD-004")
    record_property("evidence", f"{old} -> {new} -> back: update revision {back} again, renumbered as the newest (revision "
                                f"{kept[old]} -> {after[old]}, {new} is {kept[new]}), ControllerRevisions {sorted(after)}; every pod on {old}")


def broken_pod_running(new):
    """mongo-2 replaced on the broken revision, Running and not Ready."""
    def check(pods):
        p = pods.get("mongo-2")
        if p is None or pod_revision(p) != new or p.metadata.deletion_timestamp:
            return False, f"mongo-2 {'absent' if p is None else 'on ' + str(pod_revision(p))}"
        return p.status.phase == "Running", f"mongo-2 on {new}: {p.status.phase}, Ready {pod_ready(p)}"
    return check


@pytest.mark.conformance(id="STS-UPD-005")
@side_by_side()
@pytest.mark.parametrize("policy", POLICIES)
def test_a_broken_rollout_halts_and_completes_once_fixed(policy, make_workload, recorder, timeouts, record_property):
    """a rollout of a revision that never becomes Ready halts after the first pod it replaced; once the template is
    fixed, it completes (with OrderedReady, after the broken pod is deleted: the documented manual step)"""
    halt = window(timeouts.halt_window)  # floor, stretched on a slow cluster (fixtures/reaction.py)
    record_property(INHERENT_WAIT, halt)
    wl = make_workload(pod_management=policy, **VARIANT)
    wl.wait_ready(timeouts)
    good, _ = wl.update_revision(timeouts.exec)
    probe = wl.readiness_probe()
    start = recorder.mark("broken revision: a readiness probe that never passes").seq
    wl.set_readiness_probe(NEVER_READY)
    broken = new_revision(wl, good, timeouts, "STS-UPD-005")
    wl.wait_until(f"mongo-2 Running on the broken revision {broken}", broken_pod_running(broken),
                  timeouts.pod_recreated + timeouts.pod_ready)
    hold_for(f"STS-UPD-005: the rollout of {broken} went on past mongo-2, which never became Ready",
             untouched(wl, recorder, start, ["mongo-0", "mongo-1"]), halt)
    fixed = recorder.mark("template fixed: the previous readiness probe").seq
    wl.set_readiness_probe(probe)
    _, target = wl.update_revision(timeouts.exec)
    if policy == "OrderedReady":
        # The documented manual step ("Forced rollback"): the controller waits
        # for the broken pod, which never becomes Ready.
        recorder.mark("delete the broken mongo-2 (the documented manual step)")
        wl.api.core.delete_namespaced_pod("mongo-2", wl.namespace)
    wl.wait_rolled_out(target, rollout_budget(timeouts, 3), guarantee="STS-UPD-005")
    tl = recorder.snapshot()
    inv.require_recording("STS-UPD-005", tl, start, streams=("pod",))
    # The premise: the broken revision never became Ready (else going on was right).
    ready_broken = [e.seq for e in tl.of("pod", "mongo-2") if start <= e.seq < fixed and e.data.get("ready")
                    and (e.data.get("labels") or {}).get("controller-revision-hash") == broken]
    if ready_broken:
        raise CannotJudge(f"STS-UPD-005: mongo-2 on {broken} became Ready (#{ready_broken[0]}): the revision was not "
                          f"broken, so the halt was not put to the test")
    early = [e.name for e in inv.terminations(tl, start=start, end=fixed)]
    assert early.count("mongo-2") <= 1 and set(early) <= {"mongo-2"}, \
        f"STS-UPD-005: while mongo-2 on {broken} was not Ready, the rollout replaced {early}"
    step = "deleting the broken mongo-2" if policy == "OrderedReady" else "no manual step"
    record_property("evidence", f"{good} -> {broken} (never Ready): only mongo-2 replaced, mongo-0 and mongo-1 kept "
                                f"for {halt:.0f}s; fixed to {target}, {step}: every pod Ready on it")

