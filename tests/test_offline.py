"""The cluster runs on what was built locally: nothing is ever pulled."""

import subprocess

import pytest

pytestmark = pytest.mark.cluster


def test_no_node_pulled_an_image(cluster, workload_image):
    if not cluster.kind:
        pytest.skip("node logs are read through Docker: only on kind clusters")
    nodes = [n.metadata.name for n in cluster.api.core.list_node().items]
    pulls = {}
    for node in nodes:
        log = subprocess.run(["docker", "exec", node, "journalctl", "-u", "containerd", "--no-pager", "-o", "cat"],
                             capture_output=True, text=True, check=True).stdout
        assert "starting containerd" in log, f"no containerd log read from {node}"
        hits = [line for line in log.splitlines() if "PullImage" in line]
        if hits:
            pulls[node] = hits[:3]
    assert not pulls, f"images were pulled: {pulls}"
