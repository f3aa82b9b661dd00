"""Negative controls: the suites run against deliberately broken workloads
must fail, with the right guarantee ID. A check that cannot fail proves nothing.

Each control runs the real suite in a child pytest session against the
cluster of this session (`--cluster existing`), so it exercises exactly the
code users run. The ones that take minutes run side by side with other
scenarios when the cluster has node groups (fixtures/plugin.py: side_by_side):
the child gets its group's nodes.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

from fixtures import groups
from fixtures.child import run_child
from fixtures.plugin import side_by_side

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.cluster


def run_suite(cluster, settings, workload_image, tmp_path, suite: str, *extra: str):
    run = run_child(cluster, settings.profile, workload_image, tmp_path, [suite], *extra)
    return run.proc, run.cases


@side_by_side()
def test_dns_check_fails_when_pods_are_not_published_in_dns(cluster, settings, workload_image, tmp_path):
    proc, cases = run_suite(cluster, settings, workload_image, tmp_path, "suites/test_dns.py",
                            "--workload-defect=dns-unpublished", "--timeout-scale=0.5",
                            "-k", "every_pod_resolves_by_its_stable_name")
    name = "test_every_pod_resolves_by_its_stable_name_to_its_own_ip"
    assert name in cases, f"the DNS suite did not run:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
    cid, outcome, message = cases[name]
    assert (cid, outcome) == ("STS-DNS-001", "failed"), \
        f"expected STS-DNS-001 to fail against a workload with no per-pod DNS; got {outcome}:\n{proc.stdout[-3000:]}"
    # It failed for the reason the defect causes, not for an unrelated one.
    assert "STS-DNS-001" in message and "to resolve to" in message, message
    assert proc.returncode == 1
    # A failed test leaves its diagnostics and no namespace behind.
    dumps = list((tmp_path / "reports" / "artifacts").glob("*/pods-wide.txt"))
    assert dumps, f"no diagnostics written under {tmp_path / 'reports' / 'artifacts'}"
    dump = dumps[0].parent
    assert (dump / "events.txt").exists() and (dump / "describe.json").exists() and list((dump / "logs").iterdir())
    # The failure, its reason and its evidence reach every report format.
    reports = tmp_path / "reports"
    row = json.loads((reports / "conformance.json").read_text())["guarantees"]["STS-DNS-001"]
    assert row["verdict"] == "fail" and any("to resolve to" in r for r in row["reasons"]), row
    md = next(ln for ln in (reports / "conformance.md").read_text().splitlines() if ln.startswith("| STS-DNS-001 |"))
    assert "| fail |" in md and "to resolve to" in md, md
    html = (reports / "conformance.html").read_text()
    assert "FAIL</td>" in html and "to resolve to" in html
    left = [ns.metadata.name for ns in cluster.api.core.list_namespace(
        label_selector="app.kubernetes.io/managed-by=sts-conformance").items if "dns" in ns.metadata.name]
    assert not left, f"namespaces left behind by the failed run: {left}"


def _outcomes(cases):
    return {name: (cid, outcome) for name, (cid, outcome, _) in cases.items()}


def assert_reason(cases, name: str, text: str) -> None:
    """The check failed for the reason the defect causes, not another one."""
    __tracebackhide__ = True
    message = cases[name][2]
    assert text in message, f"{name} failed, but not with {text!r}:\n{message[:2000]}"


def assert_failed(proc, cases, expected: dict[str, str]) -> None:
    """Each named test ran and failed, under the expected conformance ID."""
    __tracebackhide__ = True
    got = _outcomes(cases)
    assert {n: got.get(n) for n in expected} == {n: (cid, "failed") for n, cid in expected.items()}, \
        f"{got}\n{proc.stdout[-4000:]}"


@side_by_side()
def test_identity_checks_fail_when_storage_dies_with_the_pod(cluster, settings, workload_image, tmp_path):
    proc, cases = run_suite(cluster, settings, workload_image, tmp_path, "suites/test_identity.py",
                            "--workload-defect=emptydir-storage", "-k", "hostPath")
    assert_failed(proc, cases, {
        "test_data_on_a_pods_own_storage_survives_its_deletion[hostPath]": "STS-ID-002",
        "test_each_ordinal_keeps_its_own_volume[hostPath]": "STS-ID-003",
    })
    assert_reason(cases, "test_data_on_a_pods_own_storage_survives_its_deletion[hostPath]",
                  "STS-ID-002: marker file on mongo-1's volume was")
    assert_reason(cases, "test_each_ordinal_keeps_its_own_volume[hostPath]",
                  "STS-ID-003: mongo-1 did not get its predecessor's volume")
    # Name and hostname do not depend on storage: that check must still pass.
    name_check = "test_recreated_pod_keeps_its_name_ordinal_and_hostname[hostPath]"
    assert _outcomes(cases).get(name_check) == ("STS-ID-001", "passed"), _outcomes(cases)


@side_by_side()
def test_identity_checks_fail_for_pods_without_stable_identity(cluster, settings, workload_image, tmp_path):
    proc, cases = run_suite(cluster, settings, workload_image, tmp_path, "suites/test_identity.py",
                            "--workload-defect=deployment", "-k", "hostPath")
    name_check = "test_recreated_pod_keeps_its_name_ordinal_and_hostname[hostPath]"
    assert_failed(proc, cases, {
        name_check: "STS-ID-001",
        "test_data_on_a_pods_own_storage_survives_its_deletion[hostPath]": "STS-ID-002",
    })
    # A Deployment's pods have random names: the deleted one comes back under another.
    assert "STS-ID-001: mongo-" in cases[name_check][2]
    assert_reason(cases, name_check, " came back as mongo-")


@side_by_side()
def test_parallel_checks_fail_when_the_controller_waits(cluster, settings, workload_image, tmp_path):
    proc, cases = run_suite(cluster, settings, workload_image, tmp_path, "suites/test_pod_management.py",
                            "--workload-defect=policy-ordered", "-k", "parallel", "--timeout-scale=0.2")
    assert_failed(proc, cases, {
        "test_parallel_creates_all_pods_without_waiting_for_readiness": "STS-PAR-001",
        "test_parallel_scales_while_pods_are_unready": "STS-PAR-002",
    })
    # They fail at the PAR assertion itself (the pods never came while a
    # predecessor was unready), not at a wait for something else.
    assert_reason(cases, "test_parallel_creates_all_pods_without_waiting_for_readiness",
                  "STS-PAR-001: not within 24s: all of mongo-0, mongo-1, mongo-2 created while none is Ready")
    assert_reason(cases, "test_parallel_scales_while_pods_are_unready",
                  "STS-PAR-002: not within 24s: mongo-3 and mongo-4 created while mongo-1 is unready")


@pytest.mark.disruptive
@side_by_side(disruptive=True)
def test_at_most_one_fails_when_stuck_pods_are_force_deleted_during_a_network_cut(cluster, settings, workload_image,
                                                                                   tmp_path):
    """A cluster whose operator force-deletes pods stuck terminating on a
    NotReady node, during a network cut: the old mongo-1 keeps running on the
    cut-off node while its replacement runs on the spare. The real suite
    MUST fail STS-AMO-001 and STS-AMO-002, the latter on runtime evidence
    from the cut node, and leave every node Ready."""
    if not cluster.kind:
        pytest.skip("the node runtime is sampled through Docker: kind clusters only")
    proc, cases = run_suite(cluster, settings, workload_image, tmp_path, "suites/test_at_most_one.py",
                            "--cluster-defect=unsafe-force-delete", "--allow-disruptive", "-k", "network-cut",
                            # The lost writes never turn up: do not wait the full settling budget for them.
                            "--timeout-scale=0.4")
    amo1 = "test_no_second_pod_while_the_old_ones_termination_is_unconfirmed[network-cut]"
    amo2 = "test_no_two_pods_of_one_identity_ever_run_at_once[network-cut]"
    assert_failed(proc, cases, {amo1: "STS-AMO-001", amo2: "STS-AMO-002"})
    assert_reason(cases, amo1, "STS-AMO-001 violated: when a node stops")
    assert_reason(cases, amo2, "STS-AMO-002 violated: at no instant do two pods of one identity")
    message = cases[amo2][2]
    # The victim is mongo-1 on the stand-in, the primary on a replica set.
    assert re.search(r"mongo-\d: 2 UIDs running at once", message) and "per its runtime" in message, message
    from fixtures.nodes import wait_all_nodes_ready
    from fixtures.timeouts import Timeouts

    wait_all_nodes_ready(cluster.api, Timeouts.scaled(settings.timeout_scale).node_ready)


def test_node_fault_checks_that_did_not_run_never_read_pass(cluster, settings, workload_image, tmp_path):
    """On a cluster the run did not create and without --allow-disruptive,
    the node-fault checks are skipped: their IDs read SKIP, never PASS."""
    proc, cases = run_suite(cluster, settings, workload_image, tmp_path, "suites/test_at_most_one.py")
    rows = json.loads((tmp_path / "reports" / "conformance.json").read_text())["guarantees"]
    for cid in ("STS-AMO-001", "STS-AMO-002", "STS-AMO-003", "STS-AMO-006"):
        assert rows[cid]["verdict"] == "skip", (cid, rows[cid])
        assert "--allow-disruptive" in rows[cid]["reasons"][0], rows[cid]
    assert proc.returncode == 0, proc.stdout[-2000:]


def broken_experiments(tmp_path, source: str, edit=None) -> Path:
    """A --chaos-dir holding one experiment of chaos/, edited by `edit`."""
    import yaml

    doc = yaml.safe_load((ROOT / "chaos" / source).read_text())
    if edit:
        edit(doc)
    out = tmp_path / "experiments"
    out.mkdir()
    (out / source).write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


@pytest.mark.disruptive
@side_by_side(disruptive=True)
def test_chaos_run_fails_when_a_rollback_does_not_restore(cluster, settings, workload_image, tmp_path):
    """The freeze experiment, with the thaw left to a rollback that succeeds
    but restores nothing (it uncordons nodes): the run MUST fail, naming the
    rollback, and the suite must still leave the node thawed."""

    # Uncordoning every node would also uncordon the spares another node
    # group's scenario holds cordoned: only this group's first node.
    group = groups.current()
    target = {"name": sorted(group)[0]} if group else {"label_selector": "kubernetes.io/os=linux"}

    def break_rollback(doc):
        doc["method"] = [a for a in doc["method"] if a["name"] not in ("node-returns", "identities-serve-again")]
        doc["rollbacks"] = [{"type": "action", "name": "uncordon-instead-of-thaw", "provider": {
            "type": "python", "module": "chaosk8s.node.actions", "func": "uncordon_node",
            "arguments": target}}]

    chaos_dir = broken_experiments(tmp_path, "node-freeze.yaml", break_rollback)
    proc, cases = run_suite(cluster, settings, workload_image, tmp_path, "suites/test_chaos.py",
                            f"--chaos-dir={chaos_dir}", "--allow-disruptive", "--timeout-scale=0.5")
    name = "test_experiment_holds_its_steady_state_and_its_rollbacks_restore[node-freeze]"
    assert_failed(proc, cases, {name: "STS-CHAOS-001"})
    message = cases[name][2]
    assert "rollback check: the rollbacks did not restore the system: faults still in place: ['freeze on node" \
        in message, message
    # The rollback itself reported success: only the suite's own check caught it.
    assert "rollback uncordon-instead-of-thaw" not in message, message
    from fixtures.nodes import wait_all_nodes_ready
    from fixtures.timeouts import Timeouts

    wait_all_nodes_ready(cluster.api, Timeouts.scaled(settings.timeout_scale).node_ready)
    paused = subprocess.run(["docker", "ps", "--filter", "status=paused", "--filter",
                             f"label=io.x-k8s.kind.cluster={cluster.name}", "--format", "{{.Names}}"],
                            capture_output=True, text=True).stdout.split()
    # Only this control's node group: others may freeze their own meanwhile.
    assert not groups.within(paused), f"a kind node was left frozen: {paused}"


@side_by_side()
def test_chaos_run_fails_when_an_acknowledged_write_is_lost(cluster, settings, workload_image, tmp_path):
    """Pod deletion against a workload whose data dies with the pod (emptyDir):
    every write acknowledged before the deletion is gone, and STS-DATA-001
    MUST fail, naming the lost writes."""
    chaos_dir = broken_experiments(tmp_path, "pod-deletion.yaml")
    proc, cases = run_suite(cluster, settings, workload_image, tmp_path, "suites/test_chaos.py",
                            f"--chaos-dir={chaos_dir}", "--workload-defect=emptydir-storage", "--timeout-scale=0.5")
    assert_failed(proc, cases, {
        "test_no_acknowledged_write_is_lost[pod-deletion]": "STS-DATA-001",
        "test_experiment_holds_its_steady_state_and_its_rollbacks_restore[pod-deletion]": "STS-CHAOS-001",
    })
    message = cases["test_no_acknowledged_write_is_lost[pod-deletion]"][2]
    assert re.search(r"acknowledged write\(s\) lost, first #\d+ missing on mongo-1", message), message
    # The hypothesis after the deletion saw it too.
    assert "no-acknowledged-write-lost" in cases[
        "test_experiment_holds_its_steady_state_and_its_rollbacks_restore[pod-deletion]"][2]
