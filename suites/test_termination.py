"""Pods that end: a terminal pod's identity is recreated.

A graceful node shutdown (the kubelet's GracefulNodeShutdown, turned on by
the suite's kind config) ends the node's pods; a workload that exits 0 on
SIGTERM, as mongod and the stand-in do, leaves them Succeeded. From 1.27 the
kubelet gives such pods a terminal phase, and StatefulSet controllers before
kubernetes PR 121389 replaced only Failed ones (issue 118310): the identity
never came back. Disruptive, like the node-failure scenarios.
"""

import pytest

from fixtures.reaction import window
from fixtures.errors import CannotJudge, SuiteError
from fixtures.kube import pod_ready
from fixtures.faults import GRACEFUL_SHUTDOWN
from fixtures.mongo import prepare_workload
from fixtures import groups
from fixtures.plugin import (JobContext, job_result, scenario_job, settings_fault, side_by_side,
                             skip_unless_disruption_allowed, workload_spec)
from fixtures.scenarios import GracefulShutdown, graceful_shutdown, held_terminal_pod
from fixtures.timeouts import INHERENT_WAIT, duration_s
from fixtures.workload import deploy, pick_nodes, schedulable_workers

pytestmark = [pytest.mark.cluster]

VICTIM = "mongo-1"


def toleration_for(timeouts) -> int:
    """How long the scenario's pods tolerate their not-ready node: far longer
    than the wait for the replacement. With the default 300s the taint
    manager would delete an ended pod during that wait, and a controller that
    never replaces a Succeeded pod would then look as if it had."""
    return int(max(3600, 4 * (timeouts.pod_recreated + timeouts.pod_ready)))


@pytest.fixture(scope="module", params=[pytest.param(GRACEFUL_SHUTDOWN, id=GRACEFUL_SHUTDOWN)])
def shutdown(request) -> GracefulShutdown:
    """Three replicas on three workers plus a spare, where an ended identity
    can run while its node is shutting down; mongo-1's node announces a
    shutdown. Side by side with other scenarios when there are node groups."""
    return job_result(request)


@scenario_job("shutdown")
def run_shutdown(ctx: JobContext, kind: str) -> GracefulShutdown:
    cluster, settings, timeouts = ctx.cluster, ctx.settings, ctx.timeouts
    skip_unless_disruption_allowed(cluster, settings)
    replicas = 3
    if len(schedulable_workers(cluster.api)) <= replicas:
        # The shutting-down node admits nothing, the others each hold a pod:
        # an ended identity would have nowhere to come back to.
        raise CannotJudge(f"STS-TERM-001: needs a schedulable worker beyond the {replicas} the workload uses, where "
                          f"an identity of the shutting-down node can run (run with --workers {replicas + 1} or more)")
    nodes = pick_nodes(cluster.api, replicas + 1, "the graceful-shutdown scenario")
    with ctx.namespace(f"shutdown[{kind}]", runtime=True) as (ns, rec):
        wl = deploy(cluster.api, ns, workload_spec(settings, ctx.workload_image, replicas=replicas, nodes=nodes,
                                                   eviction_seconds=toleration_for(timeouts)))
        node = wl.wait_ready(timeouts)[VICTIM].spec.node_name
        prepare_workload(cluster.kubectl, cluster.kubeconfig, wl, timeouts)
        try:
            fault = settings_fault(cluster, settings, kind, node)
        except SuiteError as exc:
            pytest.skip(str(exc))
        result = graceful_shutdown(wl, fault, rec, timeouts, cluster.kubectl, cluster.kubeconfig, VICTIM)
        result.toleration_s = toleration_for(timeouts)
        result.timeline = rec.stop()
        groups.require_isolated(result.timeline, f"shutdown[{kind}]")
        ctx.progress(f"graceful shutdown of {result.node}: {result.durations}")
        return result


@pytest.mark.disruptive
@pytest.mark.slow
@pytest.mark.conformance(id="STS-TERM-001")
def test_identities_of_a_gracefully_shut_down_node_are_recreated(shutdown, record_property):
    """after a graceful node shutdown ends a StatefulSet's pods (phase Succeeded or Failed), every identity that
    ran on the node is recreated and serves again"""
    record_property("node", shutdown.node)
    record_property("shutdown_grace_period", shutdown.grace_period)
    record_property("not_ready_toleration_s", shutdown.toleration_s)
    record_property(INHERENT_WAIT, duration_s(shutdown.grace_period))
    for k, v in shutdown.durations.items():
        record_property(k, v)
    ended = "; ".join(e.describe() for e in shutdown.ended.values())
    record_property("ended", ended)
    not_terminal = [e.describe() for e in shutdown.ended.values() if e.phase not in ("Succeeded", "Failed")]
    if not_terminal:
        raise CannotJudge(f"STS-TERM-001: the shutdown's premise was not shown: no terminal phase was seen for "
                          f"{'; '.join(not_terminal)}")
    assert not shutdown.not_recreated, f"{shutdown.not_recreated} (the kubelet ended: {ended})"
    assert not shutdown.not_serving, \
        "STS-TERM-001: recreated but not serving: " + "; ".join(f"{n}: {w}" for n, w in shutdown.not_serving.items())
    back = ", ".join(f"{n} UID {p.uid} on {p.node}" for n, p in shutdown.replacements.items())
    record_property("evidence", f"the kubelet ended {ended}; back and answering: {back} "
                                f"({shutdown.durations.get('to_replacements_ready_s')}s after the announcement)")


# A controller that acts on the held pod this often is looping; a correct one
# does not act at all (it waits for the pod to go). In between was never seen
# from either code, so it is not judged either way.
LOOP_ATTEMPTS = 3


@pytest.mark.conformance(id="STS-TERM-002")
@side_by_side()
def test_a_pod_still_being_deleted_is_neither_deleted_again_nor_recreated_in_a_loop(make_workload, recorder, timeouts,
                                                                                     record_property):
    """while a pod that ended is still being deleted (held by a finalizer), the controller neither deletes it again
    nor tries to recreate it in a loop; once it is gone, exactly one replacement is created and becomes Ready"""
    hold_s = window(timeouts.terminal_hold)  # floor, stretched on a slow cluster (fixtures/reaction.py)
    wl = make_workload(replicas=2)
    held = held_terminal_pod(wl, recorder, timeouts, hold_s, VICTIM)
    # A looping controller records a delete (and, before PR 123809, a
    # Recreating* event) per attempt: the most of any one reason is the count.
    acted = max(held.attempts.values(), default=0)
    shown = ", ".join(f"{r} x{n}" for r, n in sorted(held.attempts.items())) or "nothing"
    record_property("held_phase", held.phase)
    record_property("hold_window_s", held.hold_seconds)
    record_property(INHERENT_WAIT, held.hold_seconds)
    record_property("controller_acted", shown)
    record_property("status_replicas_during_hold", sorted(set(held.replicas_seen)))
    for k, v in held.durations.items():
        record_property(k, v)
    assert acted < LOOP_ATTEMPTS, (
        f"STS-TERM-002: while {VICTIM} (UID {held.old_uid}, {held.phase}) was still being deleted, the controller "
        f"acted on it {acted} times in {held.hold_seconds:.0f}s ({shown}); .status.replicas read "
        f"{sorted(set(held.replicas_seen))}")
    if acted:
        raise CannotJudge(f"STS-TERM-002: the controller acted on the held {VICTIM} {acted} time(s) ({shown}): "
                          f"fewer than a loop, more than a controller that waits")
    assert not held.not_back, held.not_back
    assert len(held.created_after_release) == 1, \
        f"STS-TERM-002: {len(held.created_after_release)} new {VICTIM} after the release: {held.created_after_release}"
    record_property("evidence", f"{VICTIM} {held.phase} and held for {held.hold_seconds:.0f}s: the controller acted "
                                f"on it {acted} times; one replacement (UID {held.new_ready.uid}) Ready "
                                f"{held.durations.get('release_to_replacement_ready_s')}s after the release")


@pytest.mark.conformance(id="STS-TERM-003")
@side_by_side()
def test_a_pod_that_failed_is_recreated_under_the_same_identity(make_workload, recorder, timeouts, record_property):
    """a pod that ends Failed is deleted and recreated under the same name and identity, and becomes Ready"""
    wl = make_workload(replicas=2, anti_affinity=False, storage="emptyDir")
    wl.wait_ready(timeouts)
    victim = wl.pod_names()[-1]
    old = wl.pod(victim)
    start = recorder.mark(f"end {victim}: activeDeadlineSeconds 1").seq
    # The kubelet ends a pod past its active deadline with phase Failed
    # (DeadlineExceeded) whatever its restart policy; the field may be set on
    # a running pod.
    wl.api.core.patch_namespaced_pod(victim, wl.namespace, {"spec": {"activeDeadlineSeconds": 1}})

    def back(pods):
        p = pods.get(victim)
        if p is None or p.metadata.uid == old.metadata.uid:
            return False, f"{victim}: " + ("absent" if p is None else f"still the old pod (UID {old.metadata.uid}, "
                                                                       f"{p.status.phase})")
        return pod_ready(p) and not p.metadata.deletion_timestamp, f"{victim} UID {p.metadata.uid}: {p.status.phase}"

    new = wl.wait_until(f"{victim} recreated and Ready", back, timeouts.pod_recreated + timeouts.pod_ready,
                        guarantee="STS-TERM-003")[victim]
    tl = recorder.snapshot()
    failed = next((e for e in tl.of("pod", victim) if e.seq > start and e.data.get("uid") == old.metadata.uid
                   and e.data.get("phase") == "Failed"), None)
    if failed is None:
        raise CannotJudge(f"STS-TERM-003: the premise was not shown: {victim} (UID {old.metadata.uid}) was never seen "
                          f"Failed before it went")
    assert new.spec.hostname == victim and (new.metadata.labels or {}).get(
        "statefulset.kubernetes.io/pod-name") == victim, \
        f"STS-TERM-003: {victim} came back with hostname {new.spec.hostname}, labels {new.metadata.labels}"
    record_property("evidence", f"{victim} (UID {old.metadata.uid}) ended Failed; recreated as UID {new.metadata.uid}, "
                                f"same hostname and pod-name label, Ready")
