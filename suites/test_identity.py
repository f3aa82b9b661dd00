"""Stable identity and storage: a deleted pod comes back as itself."""

import pytest

from fixtures.kube import minor_of, server_version


pytestmark = pytest.mark.cluster


@pytest.mark.conformance(id="STS-ID-001")
def test_recreated_pod_keeps_its_name_ordinal_and_hostname(cluster, recreation, record_property):
    """a deleted pod comes back with the same name, ordinal, hostname and `pod-name` label, and a new UID"""
    r = recreation
    old, new = r.old, r.new
    record_property("old_uid", old.uid)
    record_property("new_uid", new.uid)
    assert new.name == old.name, f"STS-ID-001: {old.name} came back as {new.name}"
    assert new.uid != old.uid, f"STS-ID-001: {new.name} kept UID {old.uid}: it was never recreated"
    # The pod-index label exists from 1.28 on (STS-AVAIL-002 checks it on every pod).
    version = server_version(cluster.api)
    if (minor_of(version) or 28) >= 28:
        assert new.labels.get("apps.kubernetes.io/pod-index") == old.name.rsplit("-", 1)[-1], \
            f"STS-ID-001: ordinal label of {new.name} is {new.labels.get('apps.kubernetes.io/pod-index')!r}"
    else:
        record_property("pod_index_label", f"not checked: {version} predates it (1.28)")
    assert new.labels.get("statefulset.kubernetes.io/pod-name") == old.name, \
        f"STS-ID-001: pod-name label of the replacement is {new.labels.get('statefulset.kubernetes.io/pod-name')!r}"
    assert new.hostname_spec == old.name and r.hostname_inside == old.name, \
        f"STS-ID-001: hostname of {new.name} is {new.hostname_spec!r} in the spec and {r.hostname_inside!r} inside"
    record_property("evidence", f"{old.name} recreated (UID {old.uid[:8]} -> {new.uid[:8]}) with its name, ordinal "
                                f"label, pod-name label and hostname")


@pytest.mark.conformance(id="STS-ID-002")
def test_data_on_a_pods_own_storage_survives_its_deletion(recreation, record_property):
    """data written to a pod's own storage survives deletion of that pod (checked with data that is NOT
    replicated from peers)"""
    r = recreation
    written = r.markers_written[r.victim]
    read = r.markers_read.get(r.new.name)
    record_property("storage", r.workload.spec.storage)
    record_property("evidence", f"marker file and unreplicated local document written to {r.victim} read back by its "
                                f"replacement ({r.workload.spec.storage})")
    assert read == written, (f"STS-ID-002: marker file on {r.victim}'s volume was {written!r} before deletion, "
                             f"the replacement {r.new.name} reads {read!r}")
    # The `local` database is never replicated: only the pod's own volume can hold it.
    assert r.doc_read == r.doc_written, (f"STS-ID-002: document {r.doc_written['_id']} in the unreplicated local "
                                         f"database of {r.victim} reads back as {r.doc_read!r}")


@pytest.mark.conformance(id="STS-ID-003")
def test_each_ordinal_keeps_its_own_volume(recreation, record_property):
    """each ordinal keeps its own volume: no two pods ever share one, and the recreated pod gets its
    predecessor's"""
    r = recreation
    # What each pod reads is what was written to that ordinal, never a peer's.
    foreign = {pod: got for pod, got in r.markers_read.items()
               if got is not None and not got.startswith(f"{pod}:")}
    assert not foreign, f"STS-ID-003: pods read another ordinal's marker: {foreign}"
    assert r.markers_read.get(r.new.name) == r.markers_written[r.victim], \
        f"STS-ID-003: {r.new.name} did not get its predecessor's volume (marker {r.markers_read.get(r.new.name)!r})"
    if r.workload.spec.storage == "pvc":
        claims = [tuple(sorted(p.claims.values())) for p in r.pods_after.values()]
        assert len(set(claims)) == len(claims), f"STS-ID-003: pods share claims: {claims}"
        assert r.new.claims == r.old.claims, f"STS-ID-003: claims changed from {r.old.claims} to {r.new.claims}"
        for claim in r.old.claims.values():
            assert r.pvcs_after.get(claim) == r.pvcs_before.get(claim), (
                f"STS-ID-003: claim {claim} was {r.pvcs_before.get(claim)} (uid, volume) before and "
                f"{r.pvcs_after.get(claim)} after")
        record_property("claims", {p.name: p.claims for p in r.pods_after.values()})
    else:
        # hostPath data lives on a node: the replacement must run where it was.
        assert r.new.node == r.old.node, f"STS-ID-003: {r.new.name} moved from {r.old.node} to {r.new.node}"
