"""STS-DNS-002's decision on recorded EndpointSlices (no cluster).

The slices below are what `endpoint_slices` returns: the kubernetes client's
objects after `sanitize_for_serialization`, written by hand in that shape for
a three-pod workload whose mongo-1 was deleted and recreated.
"""

import copy
import json
from types import SimpleNamespace

import pytest
from kubernetes import client

from fixtures import dns
from fixtures.dns import endpoint_slices, judge_recreated_record, wait_record_refreshed, wait_resolves_to
from fixtures.errors import GuaranteeTimeout, WaitTimeout
from fixtures.scenarios import PodFacts

from .clock import FakeClock

NS = "sts-dns-recreation"
OLD_UID = "0b6f1c3e-5d21-4d8e-9a0f-4e2b7c9d1a11"
NEW_UID = "7a9d2e41-c3b8-4f62-8e15-2d6a0b4f9c22"
NAMES = ["mongo-1.mongo", f"mongo-1.mongo.{NS}.svc.cluster.local"]


def pod(uid, ip, name="mongo-1"):
    return PodFacts(name, uid, ip, "sts-conformance-worker2", name, {"app": "mongo"}, {})


def endpoint(name, uid, ip, node, ready=True):
    return {"addresses": [ip], "conditions": {"ready": ready, "serving": ready, "terminating": not ready},
            "hostname": name, "nodeName": node,
            "targetRef": {"kind": "Pod", "name": name, "namespace": NS, "uid": uid}}


def slices(mongo_1):
    return [{
        "addressType": "IPv4",
        "endpoints": [
            endpoint("mongo-0", "d1c0a7b2-6e4f-4a39-b8d2-5f1e3c7a9b00", "10.244.1.4", "sts-conformance-worker"),
            *mongo_1,
            endpoint("mongo-2", "f3e2d1c0-8b7a-4c69-a5d4-3e2f1a0b9c33", "10.244.3.6", "sts-conformance-worker3"),
        ],
        "metadata": {
            "creationTimestamp": "2025-05-12T03:17:40+00:00",
            "generateName": "mongo-",
            "generation": 9,
            "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                       "kubernetes.io/service-name": "mongo", "service.kubernetes.io/headless": ""},
            "name": "mongo-8kq2x",
            "namespace": NS,
            "ownerReferences": [{"apiVersion": "v1", "blockOwnerDeletion": True, "controller": True,
                                 "kind": "Service", "name": "mongo", "uid": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d44"}],
            "resourceVersion": "48213",
            "uid": "2c1b0a9f-8e7d-4c6b-b5a4-9f8e7d6c5b55",
        },
        "ports": [{"name": "mongo", "port": 27017, "protocol": "TCP"}],
    }]


# The replacement reused its predecessor's IP: a DNS answer alone cannot tell them apart.
REUSED_OLD, REUSED_NEW = pod(OLD_UID, "10.244.2.5"), pod(NEW_UID, "10.244.2.5")
MOVED_OLD, MOVED_NEW = pod(OLD_UID, "10.244.2.5"), pod(NEW_UID, "10.244.2.9")


def test_the_recorded_slices_have_the_shape_endpoint_slices_returns():
    recorded = slices([endpoint("mongo-1", NEW_UID, "10.244.2.9", "sts-conformance-worker2")])
    api_client = client.ApiClient()
    # The API server's answer, deserialized as the client does it.
    response = SimpleNamespace(data=json.dumps({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSliceList",
                                                "metadata": {"resourceVersion": "48213"}, "items": recorded}))
    asked = []

    def list_namespaced_endpoint_slice(namespace, label_selector):
        asked.append((namespace, label_selector))
        return api_client.deserialize(response, "V1EndpointSliceList")

    api = SimpleNamespace(api_client=api_client,
                          discovery=SimpleNamespace(list_namespaced_endpoint_slice=list_namespaced_endpoint_slice))
    assert endpoint_slices(api, NS, "mongo") == recorded
    assert asked == [(NS, "kubernetes.io/service-name=mongo")]


def test_a_changed_ip_rests_on_the_dns_answer_moving():
    data = slices([endpoint("mongo-1", NEW_UID, "10.244.2.9", "sts-conformance-worker2")])
    rests_on = judge_recreated_record(MOVED_OLD, MOVED_NEW, data, {n: ("10.244.2.9",) for n in NAMES})
    assert rests_on == (f"ip changed: DNS answer moved from 10.244.2.5 to 10.244.2.9; EndpointSlice mongo-8kq2x "
                        f"names the new UID {NEW_UID}")


def test_a_reused_ip_rests_on_the_slice_naming_the_new_uid():
    data = slices([endpoint("mongo-1", NEW_UID, "10.244.2.5", "sts-conformance-worker2")])
    rests_on = judge_recreated_record(REUSED_OLD, REUSED_NEW, data, {n: ("10.244.2.5",) for n in NAMES})
    assert rests_on == (f"IP reused (10.244.2.5): rests on the EndpointSlice mongo-8kq2x naming the new UID "
                        f"{NEW_UID} (deleted pod: {OLD_UID}) and the DNS answer")


def test_a_reused_ip_with_the_slice_still_naming_the_deleted_pod_fails():
    """The defect this check had: the DNS answer equals the new IP, yet the
    record is the deleted pod's."""
    data = slices([endpoint("mongo-1", OLD_UID, "10.244.2.5", "sts-conformance-worker2")])
    with pytest.raises(AssertionError) as info:
        judge_recreated_record(REUSED_OLD, REUSED_NEW, data, {n: ("10.244.2.5",) for n in NAMES})
    assert str(info.value) == (
        f"STS-DNS-002: EndpointSlice mongo-8kq2x has hostname mongo-1 at ['10.244.2.5'] for Pod/mongo-1 "
        f"UID {OLD_UID} (the deleted pod), not UID {NEW_UID} at [10.244.2.5]")


def test_the_deleted_pods_endpoint_lingering_beside_the_new_one_fails():
    # publishNotReadyAddresses keeps a terminating pod's endpoint published.
    data = slices([endpoint("mongo-1", OLD_UID, "10.244.2.5", "sts-conformance-worker2", ready=False),
                   endpoint("mongo-1", NEW_UID, "10.244.2.9", "sts-conformance-worker2")])
    with pytest.raises(AssertionError, match=rf"^STS-DNS-002: .*UID {OLD_UID} \(the deleted pod\)"):
        judge_recreated_record(MOVED_OLD, MOVED_NEW, data, {n: ("10.244.2.9",) for n in NAMES})


def test_a_dns_answer_still_on_the_old_ip_fails_even_with_a_fresh_slice():
    data = slices([endpoint("mongo-1", NEW_UID, "10.244.2.9", "sts-conformance-worker2")])
    answers = {NAMES[0]: ("10.244.2.9",), NAMES[1]: ("10.244.2.5",)}
    with pytest.raises(AssertionError) as info:
        judge_recreated_record(MOVED_OLD, MOVED_NEW, data, answers)
    assert str(info.value) == (f"STS-DNS-002: {NAMES[1]} still answers the deleted pod's IP 10.244.2.5, "
                               f"not the new pod's 10.244.2.9")


def test_no_endpoint_for_the_hostname_fails():
    with pytest.raises(AssertionError, match="^STS-DNS-002: no IPv4 EndpointSlice of the Service has an endpoint "
                                             "with hostname mongo-1$"):
        judge_recreated_record(MOVED_OLD, MOVED_NEW, slices([]), {n: ("10.244.2.9",) for n in NAMES})


def test_the_other_address_familys_slice_is_not_read():
    data = slices([endpoint("mongo-1", NEW_UID, "10.244.2.9", "sts-conformance-worker2")])
    v6 = copy.deepcopy(data[0])
    v6["addressType"], v6["metadata"]["name"] = "IPv6", "mongo-v6p9d"
    for ep in v6["endpoints"]:
        ep["addresses"] = ["fd00:10:244:2::9"]
    assert judge_recreated_record(MOVED_OLD, MOVED_NEW, [v6, *data], {n: ("10.244.2.9",) for n in NAMES}) \
        .startswith("ip changed")



@pytest.fixture
def cluster_says(monkeypatch):
    """Stand in for the cluster: each poll's EndpointSlices and DNS answer,
    on a fake clock."""
    wait_for, clock = dns.wait_for, FakeClock()
    monkeypatch.setattr(dns, "wait_for", lambda *args, **kwargs: wait_for(*args, clock=clock, **kwargs))

    def says(slice_reads, answer):
        reads = iter(slice_reads)
        monkeypatch.setattr(dns, "endpoint_slices", lambda api, ns, svc: next(reads))
        monkeypatch.setattr(dns, "resolve_from_pod",
                            lambda api, ns, pod, name: dns.Answer(name, answer, " ".join(answer)))
    return says


def test_the_wait_retries_until_the_endpoint_controller_catches_up(cluster_says):
    stale = slices([endpoint("mongo-1", OLD_UID, "10.244.2.5", "sts-conformance-worker2")])
    fresh = slices([endpoint("mongo-1", NEW_UID, "10.244.2.5", "sts-conformance-worker2")])
    cluster_says([stale, stale, fresh], ("10.244.2.5",))
    rests_on = wait_record_refreshed(None, NS, "mongo", "mongo-0", REUSED_OLD, REUSED_NEW, NAMES, budget=60)
    assert rests_on.startswith(f"IP reused (10.244.2.5): rests on the EndpointSlice mongo-8kq2x naming the new "
                               f"UID {NEW_UID}")


def test_a_slice_that_never_names_the_new_pod_is_a_violation(cluster_says):
    stale = slices([endpoint("mongo-1", OLD_UID, "10.244.2.5", "sts-conformance-worker2")])
    cluster_says([stale] * 100, ("10.244.2.5",))
    with pytest.raises(GuaranteeTimeout) as info:
        wait_record_refreshed(None, NS, "mongo", "mongo-0", REUSED_OLD, REUSED_NEW, NAMES, budget=60)
    assert str(info.value).startswith("STS-DNS-002: not within 60s: mongo-1's DNS record and EndpointSlice")
    assert f"UID {OLD_UID} (the deleted pod)" in str(info.value)


def test_a_dns_wait_for_a_guarantee_runs_out_as_a_violation_and_a_labelled_one_as_an_error(cluster_says):
    cluster_says([], ("10.244.2.5",))
    with pytest.raises(GuaranteeTimeout, match=r"^STS-DNS-001: not within 60s: mongo-1.mongo to resolve to 10.244.2.9"):
        wait_resolves_to(None, NS, "mongo-0", "mongo-1.mongo", "10.244.2.9", 60, "STS-DNS-001")
    with pytest.raises(WaitTimeout) as info:
        wait_resolves_to(None, NS, "mongo-0", "mongo-1.mongo", "10.244.2.9", 60, "peers resolve each other again")
    assert not isinstance(info.value, AssertionError)
    assert "waiting for peers resolve each other again: mongo-1.mongo to resolve to 10.244.2.9" in str(info.value)


def test_the_cluster_domain_comes_from_the_pods_search_list():
    from fixtures.dns import domain_from_resolv_conf
    conf = "search ns1.svc.example.internal svc.example.internal example.internal\nnameserver 10.96.0.10\noptions ndots:5\n"
    assert domain_from_resolv_conf(conf, "ns1") == "example.internal"
    assert domain_from_resolv_conf("search ns1.svc.cluster.local svc.cluster.local cluster.local\n", "ns1") == "cluster.local"
    # Another namespace's entry, or none at all: the domain is not guessed.
    assert domain_from_resolv_conf("search ns2.svc.cluster.local\n", "ns1") is None
    assert domain_from_resolv_conf("nameserver 8.8.8.8\n", "ns1") is None
