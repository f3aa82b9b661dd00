"""At most one pod per identity when a node fails, and the ways out of a stuck pod.

Timing comes from the kind config (20s node-monitor grace period) and from
the test pods, which tolerate an unreachable node for EVICTION_SECONDS; every
result records the values in force. Disruptive: opt-out on kind clusters the
suite made, opt-in (--allow-disruptive) anywhere else.

The node failures are the runs of the chaos experiments chaos/node-<fault>.yaml
(fixtures/chaos/jobs.py): one run of each fault feeds these checks and those of
suites/test_chaos.py, where its write ledger is judged (STS-DATA-001).
"""

import time
from pathlib import Path

import pytest

from fixtures import invariants as inv
from fixtures.chaos.jobs import node_experiment, node_failure_of
from fixtures.errors import CannotJudge
from fixtures.faults import FAULT_KINDS, runtime_probe, runtime_runs
from fixtures.nodes import out_of_service_taint, wait_all_nodes_ready, wait_node
from fixtures.options import settings_from
from fixtures.plugin import job_result, side_by_side
from fixtures.scenarios import (NodeFailure, confined_volume, replacement_running,
                                replacement_waiting_for_its_volume, stuck_pod)
from fixtures.timeouts import INHERENT_WAIT, node_monitor_grace_s
from fixtures.wait import Observation, wait_for
from fixtures.workload import pick_nodes

pytestmark = [pytest.mark.cluster, pytest.mark.disruptive, pytest.mark.slow]

EVICTION_SECONDS = 10
VICTIM = "mongo-1"


def record_timing(record_property, durations, inherent_s: float, hold=None, scenario: str = ""):
    if scenario:
        record_property("scenario", scenario)
    record_property("eviction_toleration_s", EVICTION_SECONDS)
    if hold is not None:
        record_property("hold_window_s", hold)
    record_property(INHERENT_WAIT, round(inherent_s, 1))
    for k, v in durations.items():
        record_property(k, v)


# The order the node failures are queued in: a crash and a stop each take the
# node container down, and only one container may be down at a time (Docker
# could hand its address to another; fixtures/faults.py: NodeFault.reserve),
# so each is queued beside a fault that keeps its container running.
SCHEDULE = ("crash", "freeze", "stop", "network-cut")
assert sorted(SCHEDULE) == sorted(FAULT_KINDS)


@pytest.fixture(scope="module", params=[pytest.param(k, id=k) for k in SCHEDULE])
def failure(request) -> NodeFailure:
    """The run of chaos/node-<fault>.yaml (the same run suites/test_chaos.py
    judges): a fresh 3-replica workload, one pod per worker and a spare
    worker it may also use, data on the node; the victim's node suffers the
    fault, the identity is held while its pod is stuck, and it is observed
    until it serves again, with writes throughout. Runs side by side with
    other scenarios when the cluster has node groups."""
    run, _ = job_result(request, key=node_experiment(request.param, settings_from(request.config).chaos_dir),
                        name="experiment")
    return node_failure_of(run, f"failure[{request.param}]")


def _window(tl, failure):
    """From the fault until the old pod's termination was confirmed (see
    invariants.termination_confirmed), or the end of the recording: the
    guarantee lasts until then, not only until the node is restored."""
    return tl.mark_seq(f"fault {failure.fault} on {failure.node}"), inv.termination_confirmed(tl, failure.old_uid)


@pytest.mark.conformance(id="STS-AMO-001")
def test_no_second_pod_while_the_old_ones_termination_is_unconfirmed(failure, timeouts, record_property):
    """when a node stops (crash, clean stop, freeze or network cut), no second pod with the same identity is
    created while the old pod's termination is unconfirmed"""
    record_timing(record_property, failure.durations, failure.inherent_wait_s, failure.hold_seconds,
                  f"experiment[{Path(failure.experiment).stem}]")
    record_property("fault", failure.fault)
    tl = failure.timeline
    start, end = _window(tl, failure)
    # Judged on the recorded history: no creation of the identity between
    # the fault and the node's return, on a recording without gaps there.
    early = [inv.Violation(e.seq, e.t, f"{failure.victim} created again (UID {e.data['uid']}) before the old "
                                       f"one's termination on {failure.node} was confirmed", e.name)
             for e in inv.creations(tl, start=start, end=end) if e.name == failure.victim]
    inv.judge_window("STS-AMO-001", tl, early, start, end, streams=("pod",))
    # What the scenario saw directly must agree with the history.
    assert not failure.second_pods_during_hold, f"STS-AMO-001: {failure.second_pods_during_hold[0]}"
    record_property("evidence", f"no {failure.victim} created during the {failure.fault} of {failure.node} "
                                f"({len(tl.of('pod'))} pod events, hold {failure.hold_seconds:.0f}s after marking)")


@pytest.mark.conformance(id="STS-AMO-002")
def test_no_two_pods_of_one_identity_ever_run_at_once(failure, record_property):
    """at no instant do two pods of one identity both appear Running in the API (checked over a recorded
    timeline)"""
    tl = failure.timeline
    record_property("runtime_samples", len(tl.of("runtime")))
    record_property("runtime_samples_up", len([e for e in tl.of("runtime") if e.data.get("state") == "up"]))
    if not tl.of("pod"):
        raise CannotJudge("STS-AMO-002: the timeline recorded no pod at all")
    if not failure.spares:
        pytest.skip(f"no spare worker next to the workload's nodes: a second {failure.victim} could not have run "
                    f"anywhere, so no overlap could be seen (run with one worker more than replicas)")
    if failure.volume_pinned:
        pytest.skip(f"{failure.victim}'s volume admits none of the spare workers {', '.join(failure.spares)} "
                    f"({failure.volume_pinned}): a second {failure.victim} could be created but never run, so no "
                    f"overlap could be seen (use --storage hostPath, or spares where its volumes can attach)")
    overlaps = inv.overlapping_identities(tl)
    if not overlaps and failure.second_unrun:
        raise CannotJudge(f"STS-AMO-002: {failure.second_unrun}, so whether two ran at once could not be seen")
    inv.judge_window("STS-AMO-002", tl, overlaps, streams=("pod", "runtime"))
    record_property("evidence", f"{inv.runtime_evidence(tl)}; a second {failure.victim} could have run on "
                                f"{', '.join(failure.spares)}")


@pytest.mark.conformance(id="STS-AMO-006")
def test_returning_node_ends_the_old_pod_and_the_identity_serves_its_data(failure, record_property):
    """when the node returns, the old pod is terminated and the identity serves again with its data"""
    record_property("fault", failure.fault)
    assert not failure.recovery_violation, failure.recovery_violation
    tl = failure.timeline
    fault_mark = next(e for e in tl.marks() if e.name.startswith(f"fault {failure.fault}"))
    created = [e for e in inv.creations(tl, start=fault_mark.seq) if e.name == failure.victim]
    if created:
        record_property("to_replacement_created_s", round(created[0].t - fault_mark.t, 1))
    gone = [e for e in tl.of("pod", failure.victim) if e.type == "DELETED" and e.data.get("uid") == failure.old_uid]
    assert gone, f"STS-AMO-006: the old {failure.victim} (UID {failure.old_uid}) was never seen deleted"
    assert failure.replacement.uid != failure.old_uid
    assert failure.replacement.node == failure.node, \
        f"STS-AMO-006: {failure.victim} came back on {failure.replacement.node}, not on its data's node {failure.node}"
    if failure.marker_error:
        raise CannotJudge(f"STS-AMO-006: {failure.victim}'s data could not be read back: {failure.marker_error}")
    assert failure.marker_read == failure.marker_written, \
        f"STS-AMO-006: {failure.victim} reads {failure.marker_read!r} after the node returned, wrote {failure.marker_written!r}"
    record_property("evidence", f"old UID deleted, {failure.victim} back on {failure.node} reading its marker")


# --- the ways out of a stuck pod -------------------------------------------------------

PATH_VARIANT = dict(replicas=2, eviction_seconds=EVICTION_SECONDS)


def stuck_inherent_s(cluster) -> float:
    """A stuck pod needs its node's detection and the pods' toleration."""
    return node_monitor_grace_s(cluster.facts.get("controller_manager_timing")) + EVICTION_SECONDS


def make_stuck(cluster, make_workload, node_fault, recorder, timeouts, kind):
    # Two replicas on three workers: exactly one free for the replacement, so
    # a replacement that never comes is the cluster's doing, not a full cluster.
    nodes = pick_nodes(cluster.api, 3, "the ways out of a stuck pod")
    return stuck_pod(make_workload(nodes=nodes, **PATH_VARIANT), node_fault, recorder, timeouts, kind, VICTIM)


def confined_to_the_failed_node(wl, old) -> str | None:
    """The victim's volume when it admits none of the workload's other
    workers, where its replacement would go (see confined_volume)."""
    elsewhere = [n for n in wl.spec.nodes if n != old.spec.node_name]
    return confined_volume(wl, old.metadata.name, elsewhere) if elsewhere else None


def volume_bound_outcome(wl, old, volume: str, timeouts, t0, durations, cid: str) -> str:
    """The identity released, its replacement created and waiting for a node
    its volume admits: described, as the evidence of `cid`."""
    new, why = replacement_waiting_for_its_volume(wl, old, timeouts, t0, durations, guarantee=cid)
    where = (f"Running on {new.spec.node_name}" if new.status.phase == "Running" else
             f"Pending: its volume {volume} admits no other worker (scheduler: {' '.join(why.split())[:160]})")
    return (f"the identity was released: a replacement {old.metadata.name} (UID {new.metadata.uid}) was created "
            f"{durations['to_replacement_created_s']}s after the fault, {where}; with a node-local or zonal volume "
            f"the replacement waits for a node it can attach on: the documented outcome")


def replacement_elsewhere(wl, old, confined: str | None, timeouts, t0, durations, cid: str, node_was: str):
    """(the replacement Ready on another node, "") or, with a confined
    volume, (None, the documented outcome it waits in)."""
    if confined:
        return None, volume_bound_outcome(wl, old, confined, timeouts, t0, durations, cid)
    new = replacement_running(wl, old, timeouts, t0, durations, guarantee=cid)
    assert new.spec.node_name != old.spec.node_name, f"{cid}: replacement on the {node_was} node {new.spec.node_name}"
    return new, ""


# Each way out runs as a job: side by side with other scenarios when the
# cluster has node groups (fixtures/plugin.py: side_by_side).

@pytest.mark.conformance(id="STS-AMO-003")
@side_by_side(disruptive=True)
def test_force_delete_releases_the_identity(cluster, make_workload, node_fault, recorder, timeouts, record_property):
    """force-deleting the stuck pod lets the controller create the replacement with the same name (and the
    report states the hazard if the old node is still alive)"""
    wl, old, fault, durations, t0 = make_stuck(cluster, make_workload, node_fault, recorder, timeouts, "freeze")
    confined = confined_to_the_failed_node(wl, old)
    force = recorder.mark(f"force delete {VICTIM}").seq
    wl.api.core.delete_namespaced_pod(VICTIM, wl.namespace, grace_period_seconds=0)
    if confined:
        # Created with the same name is what this ID promises; a volume no
        # other worker admits keeps it waiting for the frozen node.
        outcome = volume_bound_outcome(wl, old, confined, timeouts, t0, durations, "STS-AMO-003")
        recorder.mark(f"restore {old.spec.node_name}")
        fault.restore()
        wait_node(wl.api, old.spec.node_name, ready=True, budget=timeouts.node_ready)
        wait_all_nodes_ready(wl.api, timeouts.node_ready)
        record_timing(record_property, durations, stuck_inherent_s(cluster))
        record_property("hazard", "none possible: the replacement could not run while its volume was on the frozen "
                                  "node")
        record_property("evidence", outcome)
        return
    new = replacement_running(wl, old, timeouts, t0, durations, guarantee="STS-AMO-003")
    assert new.metadata.name == VICTIM, f"STS-AMO-003: the replacement is named {new.metadata.name}"
    assert new.spec.node_name != old.spec.node_name, \
        f"STS-AMO-003: the replacement runs on the frozen node {new.spec.node_name}"
    # The hazard comes from the evidence: did anything show the old pod still
    # running (its node's last runtime sample, or a force delete nothing
    # confirmed) while the replacement ran?
    tl = recorder.snapshot()
    overlap = [v for v in inv.overlapping_identities(tl) if v.subject == VICTIM and v.seq >= force]
    if overlap:
        record_property("hazard", f"HAZARD: {old.spec.node_name} was frozen, not dead: {overlap[0].what}; both may "
                                  f"run at once until the old node returns")
    else:
        record_property("hazard", f"none seen: {inv.runtime_evidence(tl, start=force)} showed the old {VICTIM} gone "
                                  f"before its replacement ran")
    # What happens when the node returns: its kubelet must kill the old pod.
    recorder.mark(f"restore {old.spec.node_name}")
    fault.restore()
    wait_node(wl.api, old.spec.node_name, ready=True, budget=timeouts.node_ready)

    probe = runtime_probe(cluster)
    if probe is not None:
        def old_killed() -> Observation:
            seen = probe(old.spec.node_name, wl.namespace)
            if runtime_runs(seen, old.metadata.uid) is None:
                # Not an observation: a node that cannot be asked has shown nothing.
                raise RuntimeError(f"{old.spec.node_name} cannot be asked: {seen}")
            return Observation(runtime_runs(seen, old.metadata.uid) is False, f"{old.spec.node_name}: {seen}")

        wait_for(f"the returned node {old.spec.node_name} to kill the old {VICTIM}", old_killed, timeouts.pod_ready,
                 guarantee="STS-AMO-003")
        durations["to_old_pod_killed_s"] = round(time.monotonic() - t0, 1)
    record_timing(record_property, durations, stuck_inherent_s(cluster))
    record_property("evidence", f"replacement {VICTIM} Ready on {new.spec.node_name} "
                                f"{durations['to_replacement_ready_s']}s after the fault")
    wait_all_nodes_ready(wl.api, timeouts.node_ready)


@pytest.mark.conformance(id="STS-AMO-004")
@side_by_side(disruptive=True)
def test_out_of_service_taint_lets_the_replacement_start_elsewhere(cluster, make_workload, node_fault, recorder,
                                                                   timeouts, record_property):
    """the `node.kubernetes.io/out-of-service` taint lets the replacement start elsewhere"""
    wl, old, fault, durations, t0 = make_stuck(cluster, make_workload, node_fault, recorder, timeouts, "stop")
    pinned = confined_to_the_failed_node(wl, old)
    recorder.mark(f"taint {old.spec.node_name} out-of-service")
    with out_of_service_taint(wl.api, old.spec.node_name):
        new, outcome = replacement_elsewhere(wl, old, pinned, timeouts, t0, durations, "STS-AMO-004", "shut-down")
    fault.restore()
    wait_all_nodes_ready(wl.api, timeouts.node_ready)
    record_timing(record_property, durations, stuck_inherent_s(cluster))
    if pinned:
        # Not shown, and not violated: the replacement cannot start elsewhere
        # while its volume lives on the shut-down node. Said, never silent.
        record_property("evidence", outcome)
        pytest.skip(f"STS-AMO-004 cannot be shown with node-local volumes: {outcome}")
    record_property("evidence", f"replacement Ready on {new.spec.node_name} {durations['to_replacement_ready_s']}s "
                                f"after the fault, with {old.spec.node_name} tainted out-of-service")


@pytest.mark.conformance(id="STS-AMO-005")
@side_by_side(disruptive=True)
def test_deleting_the_node_object_releases_the_identity(cluster, make_workload, node_fault, recorder, timeouts,
                                                        record_property):
    """deleting the Node object lets the replacement be created"""
    wl, old, fault, durations, t0 = make_stuck(cluster, make_workload, node_fault, recorder, timeouts, "crash")
    pinned = confined_to_the_failed_node(wl, old)
    recorder.mark(f"delete node {old.spec.node_name}")
    wl.api.core.delete_node(old.spec.node_name)
    # Created is what this ID promises; a volume no other worker admits keeps
    # it waiting for the node, which is the documented outcome.
    new, evidence = replacement_elsewhere(wl, old, pinned, timeouts, t0, durations, "STS-AMO-005", "deleted")
    if new is not None:
        evidence = (f"replacement Ready on {new.spec.node_name} {durations['to_replacement_ready_s']}s after the "
                    f"fault, once {old.spec.node_name}'s Node object was deleted")
    # The node comes back by itself: its kubelet registers it again.
    fault.restore()
    wait_node(wl.api, old.spec.node_name, ready=True, budget=timeouts.node_ready)
    wait_all_nodes_ready(wl.api, timeouts.node_ready)
    record_timing(record_property, durations, stuck_inherent_s(cluster))
    record_property("evidence", evidence)
