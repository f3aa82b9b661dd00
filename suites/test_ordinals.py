"""Ordinals and availability: `.spec.ordinals.start`, the pod-index label
and `minReadySeconds`.

The variants drop the anti-affinity and keep data in an emptyDir. Checks
that need a feature newer than the cluster say so and skip, naming the
version.
"""

import re
import time

import pytest

from fixtures import invariants as inv
from fixtures.errors import CannotJudge
from fixtures.kube import minor_of, pod_ready, server_version
from fixtures.plugin import side_by_side
from fixtures.timeouts import INHERENT_WAIT
from fixtures.wait import Observation, wait_for

pytestmark = pytest.mark.cluster

VARIANT = dict(anti_affinity=False, storage="emptyDir")
INDEX_LABEL = "apps.kubernetes.io/pod-index"
# Long enough that a pod counted at once stands out from the status update's own delay.
MIN_READY_S = 10


def require_version(cluster, minor: int, what: str) -> None:
    """Skip, naming both versions, on a cluster older than 1.`minor`."""
    version = server_version(cluster.api)
    if (minor_of(version) or minor) < minor:
        pytest.skip(f"{what} needs Kubernetes 1.{minor} or later; the cluster runs {version}")


def identity_faults(pods: dict) -> list[str]:
    out = []
    for name, pod in sorted(pods.items()):
        n = inv.ordinal(name)
        if pod.spec.hostname != name:
            out.append(f"{name}: hostname {pod.spec.hostname}")
        if (pod.metadata.labels or {}).get(INDEX_LABEL) != str(n):
            out.append(f"{name}: {INDEX_LABEL}={(pod.metadata.labels or {}).get(INDEX_LABEL)!r}")
    return out


@pytest.mark.conformance(id="STS-ORDS-001")
@side_by_side()
def test_pods_are_numbered_from_the_start_ordinal(cluster, make_workload, timeouts, record_property):
    """with `.spec.ordinals.start` = s, the pods are numbered s … s+replicas-1, each with its own hostname and
    pod-index label"""
    require_version(cluster, 31, "`.spec.ordinals` (GA)")
    wl = make_workload(ordinals_start=5, **VARIANT)
    wl.wait_ready(timeouts, guarantee="STS-ORDS-001")
    pods = {n: p for n, p in wl.pods().items() if not p.metadata.deletion_timestamp}
    assert sorted(pods) == ["mongo-5", "mongo-6", "mongo-7"], f"STS-ORDS-001: pods {sorted(pods)}"
    faults = identity_faults(pods)
    assert not faults, f"STS-ORDS-001: {'; '.join(faults)}"
    record_property("evidence", "start 5: mongo-5, mongo-6, mongo-7 Ready, each with its own hostname and pod-index")


@pytest.mark.conformance(id="STS-ORDS-002")
@side_by_side()
def test_moving_the_start_ordinal_replaces_the_pods_at_the_edges_in_order(cluster, make_workload, recorder, timeouts,
                                                                          record_property):
    """changing `.spec.ordinals.start` keeps the pods whose ordinals stay in range; with OrderedReady the new ordinals
    are created in ascending order, each after its predecessors are Ready, and the ordinals out of range are removed
    from the highest down, one at a time"""
    require_version(cluster, 31, "`.spec.ordinals` (GA)")
    wl = make_workload(ordinals_start=5, pod_management="OrderedReady", **VARIANT)
    kept = wl.wait_ready(timeouts)["mongo-5"].metadata.uid
    start = recorder.mark("ordinals.start 5 -> 3").seq
    wl.set_ordinals_start(3)
    wl.wait_until("only mongo-3, mongo-4, mongo-5 left, all Ready",
                  lambda pods: (sorted(pods) == ["mongo-3", "mongo-4", "mongo-5"]
                                and all(pod_ready(p) for p in pods.values()), f"pods: {sorted(pods)}"),
                  2 * timeouts.workload_ready, guarantee="STS-ORDS-002")
    tl = recorder.snapshot()
    inv.require_recording("STS-ORDS-002", tl, start, streams=("pod",))
    assert wl.pod("mongo-5").metadata.uid == kept, "STS-ORDS-002: mongo-5, in both ranges, was replaced"
    inv.judge_window("STS-ORDS-002", tl, inv.ordered_creation_from(tl, 3, start=start)
                     + inv.scale_down_order(tl, start=start) + inv.removals_after_predecessors(tl, start=start),
                     start, streams=("pod",))
    made = [e.name for e in inv.creations(tl, start=start)]
    removed = [e.name for e in inv.terminations(tl, start=start)]
    assert (made, removed) == (["mongo-3", "mongo-4"], ["mongo-7", "mongo-6"]), \
        f"STS-ORDS-002: created {made}, removed {removed}"
    record_property("evidence", "start 5 -> 3: mongo-3 then mongo-4 created, each after its predecessors were Ready; "
                                "mongo-7 then mongo-6 removed one at a time; mongo-5 kept")


@pytest.mark.conformance(id="STS-AVAIL-001")
@side_by_side()
def test_a_pod_counts_as_available_only_after_min_ready_seconds(make_workload, recorder, timeouts, record_property):
    """with `minReadySeconds`, a pod counts in `.status.availableReplicas` only after it has been Ready that long"""
    record_property(INHERENT_WAIT, MIN_READY_S)
    wl = make_workload(replicas=1, readiness_gate=True, min_ready_seconds=MIN_READY_S, **VARIANT)
    wl.wait_running(["mongo-0"], timeouts.pod_ready)
    samples: list[tuple[float, int, int]] = []  # (seconds since the gate opened, ready, available)
    recorder.mark("open gate mongo-0")
    opened = time.monotonic()
    wl.open_gate("mongo-0")

    def available() -> Observation:
        st = wl.statefulset().status
        samples.append((round(time.monotonic() - opened, 1), st.ready_replicas or 0, st.available_replicas or 0))
        return Observation(samples[-1][2] >= 1, f"ready {samples[-1][1]}, available {samples[-1][2]}")

    wait_for("mongo-0 counted as available", available, MIN_READY_S + timeouts.pod_ready, interval=0.5,
             guarantee="STS-AVAIL-001")
    record_property("status_samples", samples[:5] + samples[-3:])
    ready_at = next((t for t, ready, _ in samples if ready >= 1), None)
    if ready_at is None:
        raise CannotJudge("STS-AVAIL-001: the status never showed mongo-0 Ready: nothing to measure from")
    # From the first status that counted mongo-0 Ready (no earlier than it
    # was): the API keeps times to the second, and the status lags the pod, so
    # a correct controller may count it up to about 2 s short of the window.
    early = [(t, available) for t, _, available in samples if available >= 1 and t < ready_at + MIN_READY_S - 2]
    assert not early, (f"STS-AVAIL-001: availableReplicas {early[0][1]} {early[0][0] - ready_at:.1f}s after the "
                       f"status first counted mongo-0 Ready, short of minReadySeconds {MIN_READY_S}s "
                       f"(samples: {samples[:6]})")
    record_property("evidence", f"readyReplicas 1 at {ready_at}s after the gate opened, availableReplicas 1 only at "
                                f"{samples[-1][0]}s (minReadySeconds {MIN_READY_S})")


@pytest.mark.conformance(id="STS-AVAIL-002")
@side_by_side()
def test_every_pod_carries_its_ordinal_as_the_pod_index_label(cluster, make_workload, timeouts, record_property):
    """every pod carries the label `apps.kubernetes.io/pod-index` equal to its ordinal"""
    require_version(cluster, 28, f"the {INDEX_LABEL} label")
    wl = make_workload(**VARIANT)
    pods = wl.wait_ready(timeouts)
    labels = {n: (p.metadata.labels or {}).get(INDEX_LABEL) for n, p in sorted(pods.items())}
    wrong = {n: v for n, v in labels.items() if not re.fullmatch(r".*-\d+", n) or v != n.rsplit("-", 1)[1]}
    assert not wrong, f"STS-AVAIL-002: {INDEX_LABEL} does not match the ordinal: {wrong}"
    record_property("evidence", ", ".join(f"{n}: {INDEX_LABEL}={v}" for n, v in labels.items()))
