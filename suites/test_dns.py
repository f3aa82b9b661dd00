"""Per-pod DNS addressing of a StatefulSet behind a headless Service."""

import pytest

from fixtures.catalogue import must
from fixtures.dns import cluster_domain, per_pod_names, wait_record_refreshed, wait_resolves_to

pytestmark = pytest.mark.cluster


@pytest.mark.conformance(id="STS-DNS-001")
def test_every_pod_resolves_by_its_stable_name_to_its_own_ip(cluster, seed_workload, timeouts, record_property):
    """every pod `<sts>-<i>` is resolvable inside the cluster as `<sts>-<i>.<headless-svc>` (and the
    namespace-qualified FQDN) to its own pod IP"""
    wl = seed_workload
    pods = wl.pods()
    observer = wl.pod_names()[0]
    domain = cluster_domain(cluster.api, wl.namespace, observer)
    record_property("cluster_domain", domain)
    answers = {}
    for pod in wl.pod_names():
        ip = pods[pod].status.pod_ip
        assert ip, f"STS-DNS-001: {pod} has no pod IP in the API"
        for name in per_pod_names(pod, wl.service, wl.namespace, domain):
            ans = wait_resolves_to(cluster.api, wl.namespace, observer, name, ip, timeouts.dns_answer, "STS-DNS-001")
            answers[name] = ans.addresses[0]
    # Every identity must have its own address: a Service VIP or a shared
    # answer would satisfy "resolves" but not "to its own pod IP".
    assert len(set(answers.values())) == len(wl.pod_names()), \
        f"STS-DNS-001: {must('STS-DNS-001')}; answers were {answers}"
    record_property("dns_answers", answers)
    record_property("evidence", f"{len(answers)} names of {len(wl.pod_names())} pods each resolved from {observer} to "
                                f"its own pod IP")


@pytest.mark.conformance(id="STS-DNS-002")
def test_recreated_pods_name_resolves_to_its_new_ip(cluster, recreation, timeouts, record_property):
    """after a pod is deleted and recreated, its DNS name resolves to the new pod's IP"""
    r = recreation
    wl = r.workload
    # Ask from a pod that was not recreated: its resolver never saw the new pod start.
    observer = next(n for n in sorted(r.pods_after) if n != r.new.name)
    record_property("old_ip", r.old.ip)
    record_property("new_ip", r.new.ip)
    record_property("ip_changed", r.old.ip != r.new.ip)
    record_property("old_uid", r.old.uid)
    record_property("new_uid", r.new.uid)
    record_property("dns_before_deletion", "; ".join(f"{k} -> {v}" for k, v in r.dns_before.items()))
    rests_on = wait_record_refreshed(cluster.api, wl.namespace, wl.service, observer, r.old, r.new,
                                     per_pod_names(r.victim, wl.service, wl.namespace,
                                                   cluster_domain(cluster.api, wl.namespace, observer)),
                                     timeouts.dns_answer)
    record_property("rests_on", rests_on)
    record_property("evidence", rests_on)
