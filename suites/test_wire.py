"""The workload serves the MongoDB wire protocol on every identity."""

import dataclasses

import pytest

from fixtures.mongo import direct_client, pod_client, wire_roundtrip
from fixtures.portforward import port_forward

pytestmark = pytest.mark.cluster


@pytest.mark.conformance(id="STS-WIRE-001")
def test_every_pod_serves_reads_and_writes_on_its_own_address(cluster, seed_workload, timeouts, record_property):
    """every pod of the workload serves MongoDB wire-protocol reads and writes on its own address"""
    wl = seed_workload
    # The write concern waits for every member; a quarter of the budget leaves
    # the rest for the reads that show which member lags.
    write_timeout_ms = int(timeouts.mongo_ready * 250)

    def open_client(pod):
        # The socket must outlast the server's own wtimeout, or a slow member
        # would look like a lost connection instead of an unmet write concern.
        return pod_client(cluster.kubectl, cluster.kubeconfig, wl.namespace, pod, timeouts,
                          timeout_ms=write_timeout_ms + 5000)

    trip = wire_roundtrip(wl.pod_names(), open_client, wl.capabilities.replication, timeouts.mongo_ready,
                          write_timeout_ms)
    record_property("servers", {pod: m.server for pod, m in trip.members.items()})
    record_property("write", trip.write)
    record_property("members", {pod: dataclasses.asdict(m) for pod, m in trip.members.items()})


@pytest.mark.conformance(id="STS-WIRE-002")
def test_replica_set_forms_through_the_stable_names(cluster, seed_workload, timeouts, record_property):
    """with a replicating server, the replica set initiated through the stable DNS names has one PRIMARY and
    every member healthy"""
    wl = seed_workload
    caps = wl.capabilities
    if not caps.replication:
        pytest.skip(f"{caps.server} does not replicate (its handshake reports no replica set): nothing to check")
    with port_forward(cluster.kubectl, cluster.kubeconfig, wl.namespace, wl.pod_names()[0], 27017, timeouts.port_forward) as port:
        with direct_client(port) as client:
            status = client.admin.command("replSetGetStatus")
    members = {m["name"]: m for m in status["members"]}
    want = {f"{n}.{wl.service}:27017" for n in wl.pod_names()}
    record_property("members", {n: m.get("stateStr") for n, m in members.items()})
    assert set(members) == want, f"STS-WIRE-002: members {sorted(members)}, expected the stable names {sorted(want)}"
    states = {n: m["stateStr"] for n, m in members.items()}
    assert list(states.values()).count("PRIMARY") == 1, f"STS-WIRE-002: member states {states}"
    unhealthy = [n for n, m in members.items() if m.get("health") != 1]
    assert not unhealthy, f"STS-WIRE-002: unhealthy members {unhealthy}"
