"""The cluster runs on what was built locally: nothing is ever pulled."""

import subprocess

import pytest

from fixtures import groups
from fixtures.faults import container_state

pytestmark = pytest.mark.cluster


def test_no_node_pulled_an_image(cluster, workload_image):
    if not cluster.kind:
        pytest.skip("node logs are read through Docker: only on kind clusters")
    nodes = [n.metadata.name for n in cluster.api.core.list_node().items]
    pulls, down = {}, []
    for node in nodes:
        state = container_state(node)
        if not state.get("Running") or state.get("Paused"):
            # Another node group's scenario has it down or frozen right now.
            down.append(node)
            continue
        res = subprocess.run(["docker", "exec", node, "journalctl", "-u", "containerd", "--no-pager", "-o", "cat"],
                             capture_output=True, text=True)
        if res.returncode != 0:
            state = container_state(node)
            if not state.get("Running") or state.get("Paused"):
                down.append(node)  # stopped or frozen while asked
                continue
            raise AssertionError(f"could not read {node}'s containerd log: {res.stderr.strip()}")
        log = res.stdout
        assert "starting containerd" in log, f"no containerd log read from {node}"
        hits = [line for line in log.splitlines() if "PullImage" in line]
        if hits:
            pulls[node] = hits[:3]
    assert not pulls, f"images were pulled: {pulls}"
    assert not groups.within(down), f"nodes of this thread's own group could not be read: {groups.within(down)}"
    assert len(down) < len(nodes) - 1, f"hardly any node could be read: {down} down"
