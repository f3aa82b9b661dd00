"""Ctrl-C in the middle of a node experiment: the rollbacks run, the node is
restored, the workload's namespace is deleted, and the run says it was
interrupted."""

import json
import signal
import subprocess
import time

import pytest

from fixtures import groups
from fixtures.chaos.runner import ROOT, chaos_command, chaos_env, child_env
from fixtures.nodes import wait_all_nodes_ready
from fixtures.plugin import side_by_side

pytestmark = [pytest.mark.cluster, pytest.mark.disruptive]


@side_by_side(disruptive=True)
def test_ctrl_c_during_a_node_fault_restores_the_node_and_cleans_up(cluster, settings, workload_image, timeouts,
                                                                     tmp_path):
    if not cluster.kind:
        pytest.skip("checks the node containers through Docker: kind clusters only")
    env = chaos_env(cluster, settings, workload_image, tmp_path)
    log = tmp_path / "chaos.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(chaos_command(ROOT / "chaos" / "node-freeze.yaml", tmp_path), cwd=ROOT,
                                env=child_env(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeouts.workload_ready + timeouts.node_not_ready
        # The freeze action has returned (the node is frozen and NotReady) and the hold has begun.
        while "Action: identity-held-while-stuck" not in log.read_text():
            assert proc.poll() is None, f"the run ended before the fault:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the fault was not in place in time:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        frozen = _paused_nodes(cluster.name)
        assert frozen, "the experiment says the freeze is done and the hold began, but no kind node is frozen"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=timeouts.node_ready + timeouts.namespace_deleted + timeouts.workload_ready)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert proc.returncode != 0, text[-3000:]
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "interrupted", journal["status"]
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"], text[-3000:]
    assert journal["sts_conformance"]["cleaned_up"] is True
    # Nothing judged on a run that never finished, and no wait for it.
    assert journal["sts_conformance"]["ledger_not_judged"] == "the run was interrupted"
    assert _paused_nodes(cluster.name) == [], f"node left frozen after Ctrl-C:\n{text[-3000:]}"
    wait_all_nodes_ready(cluster.api, timeouts.node_ready)
    ns = journal["sts_conformance"]["namespace"]
    assert not [n for n in cluster.api.core.list_namespace().items if n.metadata.name == ns], \
        f"namespace {ns} left behind after Ctrl-C"


def _paused_nodes(cluster_name: str) -> list[str]:
    """Frozen nodes of this thread's node group (other groups' scenarios may
    freeze their own meanwhile)."""
    out = subprocess.run(["docker", "ps", "--filter", "status=paused", "--filter",
                          f"label=io.x-k8s.kind.cluster={cluster_name}", "--format", "{{.Names}}"],
                         capture_output=True, text=True, check=True)
    return groups.within(out.stdout.split())
