"""The workload serves the MongoDB wire protocol on every identity."""

import secrets

import pytest

from fixtures.mongo import direct_client, wait_serving
from fixtures.portforward import port_forward

pytestmark = pytest.mark.cluster


@pytest.mark.conformance(id="STS-WIRE-001")
def test_every_pod_serves_reads_and_writes_on_its_own_address(cluster, seed_workload, timeouts, record_property):
    """every pod of the workload serves MongoDB wire-protocol reads and writes on its own address"""
    wl = seed_workload
    servers = {}
    for pod in wl.pod_names():
        with port_forward(cluster.kubectl, cluster.kubeconfig, wl.namespace, pod, 27017, timeouts.port_forward) as port:
            caps = wait_serving(port, timeouts.mongo_ready)
            servers[pod] = caps.server
            marker = {"_id": secrets.token_hex(8), "written_to": pod}
            with direct_client(port) as client:
                coll = client["sts_conformance"]["roundtrip"]
                coll.insert_one(dict(marker))
                back = coll.find_one({"_id": marker["_id"]})
            assert back == marker, f"STS-WIRE-001: {pod} returned {back!r} for the document just written {marker!r}"
    record_property("servers", servers)
