"""A cluster the suite did not create: what it leaves on the nodes, and
what it refuses to start with. Each runs the real suite in a child pytest
session against this session's cluster as `--cluster existing`."""

import json
import subprocess
from pathlib import Path

import pytest

from fixtures.child import run_child
from fixtures.plugin import side_by_side
from fixtures.workload import DATA_ROOT

pytestmark = pytest.mark.cluster


def host_data_dirs(nodes, namespaces) -> dict[str, list[str]]:
    """node -> which of `namespaces` have a directory under DATA_ROOT on it (kind: read through Docker)."""
    out = {}
    for node in nodes:
        res = subprocess.run(["docker", "exec", node, "sh", "-c", f"ls -1 {DATA_ROOT} 2>/dev/null || true"],
                             capture_output=True, text=True, timeout=60)
        out[node] = sorted(set(res.stdout.split()) & set(namespaces))
    return out


def hostpath_namespaces(reports: Path) -> set[str]:
    """The namespaces whose pods the child's timelines show with hostPath data under DATA_ROOT."""
    found = set()
    for path in reports.glob("artifacts/**/timeline.json"):
        doc = json.loads(path.read_text())
        for e in doc.get("entries", []):
            if e.get("kind") == "pod" and any(str(v).startswith(f"hostPath:{DATA_ROOT}/")
                                              for v in (e.get("data", {}).get("volumes") or {}).values()):
                found.add(doc.get("namespace"))
    return found


@side_by_side()
def test_hostpath_data_leaves_the_nodes_with_the_suites_namespaces(cluster, settings, workload_image, tmp_path):
    """--storage hostPath on someone else's cluster: the identity checks write
    to /var/lib/sts-conformance/<namespace> on the nodes (their timelines show
    the pods with it, and the data read back is the check), and no directory
    of those namespaces remains once the run is over."""
    if not cluster.kind:
        pytest.skip("the nodes' directories are read through Docker: kind clusters only")
    run = run_child(cluster, settings.profile, workload_image, tmp_path, ["suites/test_identity.py"],
                    "--storage=hostPath", "-k", "hostPath", timeout=900,
                    env={"STS_CLEAN_HOST_DATA": "1"})  # as on a cluster the suite did not create
    passed = [n for n, (_, outcome, _) in run.cases.items() if outcome == "passed"]
    assert passed and run.proc.returncode == 0, run.tail()
    namespaces = hostpath_namespaces(tmp_path / "reports")
    assert namespaces, "the child's timelines show no pod with hostPath data"
    nodes = [n.metadata.name for n in cluster.api.core.list_node().items]
    left = {n: d for n, d in host_data_dirs(nodes, namespaces).items() if d}
    assert not left, f"hostPath data left on the nodes: {left}"


def test_hostpath_refused_by_the_pod_security_level_is_one_line_before_anything_runs(cluster, settings,
                                                                                    workload_image, tmp_path):
    """The suite's namespaces at the `baseline` Pod Security level refuse
    hostPath pods: --storage hostPath stops at once, saying so, with no
    namespace of the run's left behind."""
    def ours():
        """The pre-check's namespaces still in place (other jobs make namespaces of their own meanwhile)."""
        return {ns.metadata.name for ns in cluster.api.core.list_namespace().items
                if ns.metadata.name.startswith("sts-precheck-") and ns.status.phase != "Terminating"}

    before = ours()
    run = run_child(cluster, settings.profile, workload_image, tmp_path, ["suites/test_identity.py"],
                    "--storage=hostPath", "--namespace-label=pod-security.kubernetes.io/enforce=baseline",
                    timeout=300)
    assert run.proc.returncode != 0, run.tail()
    assert "--storage hostPath: the API server refuses hostPath pods in the suite's namespaces" in run.proc.stdout, \
        run.tail()
    assert "baseline" in run.proc.stdout, run.tail()
    assert not [n for n, (_, outcome, _) in run.cases.items() if outcome == "passed"], run.cases
    assert ours() - before == set(), f"namespaces left behind: {ours() - before}"
