"""Claims: what the StatefulSet's `persistentVolumeClaimRetentionPolicy`
does with the claims of its volumeClaimTemplates, and what an ordinal gets
back after a scale-down and up.

The claims come from the cluster's default StorageClass (kind's local-path
provisioner here). A window in which a claim must NOT be deleted is held
after the step that would delete it has completed: the pods it condemned are
gone, so the controller and the garbage collector have had their turn.
"""

import uuid

import pytest

from fixtures.reaction import window
from fixtures.errors import CannotJudge
from fixtures.plugin import side_by_side
from fixtures.kube import exec_in_pod
from fixtures.scenarios import MARKER_FILE, write_marker
from fixtures.timeouts import INHERENT_WAIT
from fixtures.wait import Observation, hold_for, wait_for

pytestmark = pytest.mark.cluster

VARIANT = dict(storage="pvc", anti_affinity=False)
CLAIMS = [f"data-mongo-{i}" for i in range(3)]


def claim_uids(wl) -> dict[str, str]:
    return {n: c.metadata.uid for n, c in wl.claims().items() if not c.metadata.deletion_timestamp}


def ready_with_claims(wl, timeouts) -> dict[str, str]:
    wl.wait_ready(timeouts)
    uids = claim_uids(wl)
    if sorted(uids) != CLAIMS:
        raise CannotJudge(f"the workload's claims are {sorted(uids)}, not {CLAIMS}: nothing to judge")
    return uids


def only_pods(wl, names: set[str], budget: float, guarantee: str | None = None):
    wl.wait_until(f"only {', '.join(sorted(names)) or 'no pod'} left",
                  lambda pods: (set(pods) == names, f"pods: {sorted(pods)}"), budget, guarantee)


def kept(wl, uids: dict[str, str]):
    """A hold probe: a claim of `uids` was deleted, began going or was replaced."""
    def probe() -> Observation:
        now = wl.claims()
        lost = [n for n, uid in uids.items()
                if n not in now or now[n].metadata.uid != uid or now[n].metadata.deletion_timestamp]
        return Observation(bool(lost), f"claims {', '.join(lost)} deleted or going")
    return probe


def gone(wl, names: list[str], budget: float, guarantee: str):
    def probe() -> Observation:
        left = sorted(set(names) & set(wl.claims()))
        return Observation(not left, f"claims still there: {', '.join(left) or 'none'}")
    wait_for(f"claims {', '.join(names)} deleted", probe, budget, interval=1, guarantee=guarantee)


def marker_of(wl, pod: str) -> str | None:
    """The marker file's content, None when the file is not there; an exec
    that fails otherwise cannot say either (CannotJudge)."""
    res = exec_in_pod(wl.api, wl.namespace, pod, ["cat", MARKER_FILE])
    if res.exit_code == 0:
        return res.stdout
    if "No such file" in res.stderr:
        return None
    raise CannotJudge(f"reading {MARKER_FILE} in {pod} failed: exit {res.exit_code} {res.stderr.strip()[:200]}")


def delete_statefulset(wl) -> None:
    wl.api.apps.delete_namespaced_stateful_set(wl.name, wl.namespace, propagation_policy="Background")


@pytest.mark.conformance(id="STS-PVC-001")
@side_by_side()
def test_retain_keeps_every_claim_on_scale_down_and_deletion(make_workload, recorder, timeouts, record_property):
    """with the Retain claim retention policy, every claim outlives a scale-down and the StatefulSet's deletion"""
    halt = window(timeouts.halt_window)  # floor, stretched on a slow cluster (fixtures/reaction.py)
    record_property(INHERENT_WAIT, 2 * halt)
    wl = make_workload(claim_retention=("Retain", "Retain"), **VARIANT)
    uids = ready_with_claims(wl, timeouts)
    recorder.mark("scale 3 -> 1 (Retain)")
    wl.scale(1)
    only_pods(wl, {"mongo-0"}, timeouts.workload_ready)
    hold_for("STS-PVC-001: a claim was deleted after the scale-down", kept(wl, uids), halt)
    recorder.mark("delete the StatefulSet (Retain)")
    delete_statefulset(wl)
    only_pods(wl, set(), timeouts.workload_ready)
    hold_for("STS-PVC-001: a claim was deleted with the StatefulSet", kept(wl, uids), halt)
    record_property("evidence", f"{', '.join(CLAIMS)} kept (same UIDs) {halt:.0f}s after the scale "
                                f"to 1 and {halt:.0f}s after the StatefulSet and its pods were gone")


@pytest.mark.conformance(id="STS-PVC-002")
@side_by_side()
def test_when_scaled_delete_removes_the_claims_of_removed_ordinals_only(make_workload, recorder, timeouts,
                                                                      record_property):
    """with `whenScaled: Delete`, a scale-down deletes the claims of the removed ordinals only"""
    halt = window(timeouts.halt_window)  # floor, stretched on a slow cluster (fixtures/reaction.py)
    record_property(INHERENT_WAIT, halt)
    wl = make_workload(claim_retention=("Retain", "Delete"), **VARIANT)
    uids = ready_with_claims(wl, timeouts)
    recorder.mark("scale 3 -> 1 (whenScaled: Delete)")
    wl.scale(1)
    only_pods(wl, {"mongo-0"}, timeouts.workload_ready)
    gone(wl, CLAIMS[1:], timeouts.pod_recreated, "STS-PVC-002")
    hold_for("STS-PVC-002: the claim of the kept ordinal was deleted", kept(wl, {CLAIMS[0]: uids[CLAIMS[0]]}),
             halt)
    record_property("evidence", f"after the scale to 1: {', '.join(CLAIMS[1:])} deleted; {CLAIMS[0]} kept (same UID) "
                                f"for {halt:.0f}s")


@pytest.mark.conformance(id="STS-PVC-003")
@side_by_side()
def test_when_deleted_delete_removes_the_claims_with_the_statefulset(make_workload, recorder, timeouts,
                                                                    record_property):
    """with `whenDeleted: Delete`, deleting the StatefulSet deletes its claims"""
    wl = make_workload(claim_retention=("Delete", "Retain"), **VARIANT)
    ready_with_claims(wl, timeouts)
    recorder.mark("delete the StatefulSet (whenDeleted: Delete)")
    delete_statefulset(wl)
    only_pods(wl, set(), timeouts.workload_ready)
    gone(wl, CLAIMS, timeouts.pod_recreated, "STS-PVC-003")
    record_property("evidence", f"{', '.join(CLAIMS)} deleted with the StatefulSet")


@pytest.mark.conformance(id="STS-PVC-004")
@side_by_side()
def test_scale_down_and_up_gives_each_ordinal_its_own_claim_and_data(make_workload, recorder, timeouts,
                                                                    record_property):
    """after a scale-down and a scale-up with Retain, each ordinal gets its own claim and data back"""
    wl = make_workload(**VARIANT)
    uids = ready_with_claims(wl, timeouts)
    written = {}
    for name in wl.pod_names():
        written[name] = f"{name}-{uuid.uuid4().hex[:12]}"
        write_marker(wl.api, wl.namespace, name, written[name])
    recorder.mark("scale 3 -> 1")
    wl.scale(1)
    only_pods(wl, {"mongo-0"}, timeouts.workload_ready)
    recorder.mark("scale 1 -> 3")
    wl.scale(3)
    pods = wl.wait_ready(timeouts)
    claims = {n: next((v.persistent_volume_claim.claim_name for v in p.spec.volumes or []
                       if v.persistent_volume_claim), None) for n, p in pods.items()}
    wrong = {n: c for n, c in claims.items() if c != f"data-{n}"}
    assert not wrong, f"STS-PVC-004: pods mounted other claims than their own: {wrong}"
    now = claim_uids(wl)
    replaced = [n for n, uid in uids.items() if now.get(n) != uid]
    assert not replaced, f"STS-PVC-004: claims replaced by new ones (new UIDs): {replaced}"
    read = {n: marker_of(wl, n) for n in wl.pod_names()}
    lost = {n: read[n] for n in written if read[n] != written[n]}
    assert not lost, f"STS-PVC-004: after the scale-up, pods read {lost}, not what they wrote ({written})"
    record_property("evidence", "mongo-1 and mongo-2 came back on their own claims (same UIDs) and read their own "
                                "marker files")
