"""The in-cluster node fault agent (fixtures/agent.py): its reports read as
they must, and against the real cluster it is the only way a run without
Docker faults nodes, and a run killed mid-fault leaves a node that heals."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fixtures import groups
from fixtures.agent import DEFAULT_IMAGE, STALE_S, AgentFault, FaultAgent, parse_runtime
from fixtures.child import run_child
from fixtures.nodes import wait_node
from fixtures.plugin import side_by_side
from fixtures.timeline import Recorder
from fixtures.workload import pick_nodes

ROOT = Path(__file__).resolve().parent.parent


# --- reading the agent's runtime reports ------------------------------------------------

AGENT_NS = "sts-fault-agent-0000"
OWN = f"\na0 {AGENT_NS} sts-fault-agent-x"


def test_a_fresh_report_gives_the_namespaces_pods_by_uid():
    report = "1000 up\nu1 sts-a mongo-0\nu2 sts-a mongo-0\nu3 sts-b mongo-1" + OWN
    assert parse_runtime(report, "sts-a", AGENT_NS, now=1005) == {
        "state": "up", "running": {"u1": "mongo-0", "u2": "mongo-0"}, "sampled_at": 1000.0}
    assert parse_runtime("1000 up" + OWN, "sts-a", AGENT_NS, now=1001) == {"state": "up", "running": {},
                                                                          "sampled_at": 1000.0}


def test_a_report_that_could_be_wrong_is_unobservable_never_empty():
    """"Runs nothing" would read as the old pod killed: only a fresh, good
    report that lists the agent itself may say it."""
    def why(text, now=1001.0):
        got = parse_runtime(text, "sts-a", AGENT_NS, now=now)
        assert got["state"] == "unobservable", got
        return got["why"]

    assert "old" in why("1000 up\nu1 sts-a mongo-0" + OWN, now=1000 + STALE_S + 1)
    assert "ahead" in why("1005 up" + OWN, now=1000)  # the node's clock runs ahead
    assert why("1000 unobservable crictl: connection refused") == "crictl: connection refused"
    assert "agent's own container" in why("1000 up")  # crictl's answer lost or not parsed
    assert why("")
    assert why("garbage")


def test_an_agent_report_is_placed_when_the_node_made_it_not_when_it_was_read():
    """A report read at t=40 that the node made at t=25 shows the node as it
    was at 25: it must not outrank what the API said at 30 (seen when the
    agent's stop-fault restore let the kubelet stop the old pod: a false
    overlap of STS-AMO-002)."""
    now = iter([10.0, 20.0, 30.0, 40.0, 50.0])
    rec = Recorder(None, "sts-a", clock=lambda: next(now))
    for label in ("a", "b", "c"):
        rec.mark(label)  # t = 10, 20, 30

    def probe(node, namespace):
        rec._stop.set()  # one round
        return parse_runtime("25 up\nu1 sts-a mongo-1" + OWN, namespace, AGENT_NS, now=35)

    rec._sample_runtime(lambda: ["n1"], probe, 0.0)
    sample = rec.timeline.entries[-1]
    assert sample.kind == "runtime" and sample.data["asked_at_seq"] == 2, sample


def test_the_agent_script_is_valid_bash():
    res = subprocess.run(["bash", "-n", str(ROOT / "fixtures" / "agent" / "sts-fault-agent")], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr


# --- against the cluster ------------------------------------------------------------------

def without_docker(tmp_path: Path) -> dict[str, str]:
    """A PATH whose `docker` refuses every call (and records it), ahead of
    the real one: the child cannot reach the nodes but through the cluster."""
    stub = tmp_path / "no-docker"
    stub.mkdir()
    (stub / "docker").write_text(f"#!/bin/sh\necho \"$*\" >> {stub}/calls\n"
                                 f"echo 'docker is not available to this run' >&2\nexit 127\n")
    (stub / "docker").chmod(0o755)
    return {"PATH": os.pathsep.join([str(stub), os.environ.get("PATH", "")])}


def junit_properties(junit: Path) -> dict[str, dict[str, str]]:
    return {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
            for case in ET.parse(junit).iter("testcase")}


@pytest.mark.cluster
@pytest.mark.disruptive
@side_by_side(disruptive=True)
def test_the_at_most_one_scenarios_pass_through_the_agent_alone(cluster, settings, workload_image, tmp_path):
    """The kind cluster passed in as an existing cluster, with no `docker` on
    the child's PATH: the freeze, stop and network-cut scenarios run through
    the agent (chosen by --fault-agent=auto), pass, and STS-AMO-002 is judged
    on the agent's runtime reports; the crash scenario is not selected (the
    agent cannot cut a node's power, and says so)."""
    run = run_child(cluster, settings.profile, workload_image, tmp_path, ["suites/test_at_most_one.py"],
                    # hostPath: a second pod could run on the spare (a node-local
                    # PV would keep it Pending, and STS-AMO-002 could not be judged).
                    "--allow-disruptive", "--storage=hostPath",
                    "-k", "(unconfirmed or ever_run_at_once or returning_node) and not crash",
                    timeout=1800, env=without_docker(tmp_path))
    facts = json.loads((tmp_path / "reports" / "conformance.json").read_text()).get("cluster", {})
    assert str(facts.get("node_faults", "")).startswith("the in-cluster agent"), (facts, run.tail())
    assert facts.get("provider") == "existing", facts
    props = junit_properties(tmp_path / "junit.xml")
    expected = [f"{name}[{fault}]" for fault in ("freeze", "stop", "network-cut")
                for name in ("test_no_second_pod_while_the_old_ones_termination_is_unconfirmed",
                             "test_no_two_pods_of_one_identity_ever_run_at_once",
                             "test_returning_node_ends_the_old_pod_and_the_identity_serves_its_data")]
    outcomes = {name: run.cases.get(name, (None, "not run", ""))[:2] for name in expected}
    assert all(outcome == "passed" for _, outcome in outcomes.values()), (outcomes, run.tail())
    for fault in ("freeze", "stop", "network-cut"):
        samples = int(props[f"test_no_two_pods_of_one_identity_ever_run_at_once[{fault}]"].get("runtime_samples_up", 0))
        assert samples > 0, f"{fault}: STS-AMO-002 was judged without a readable runtime report from the agent"
    assert run.proc.returncode == 0, run.tail()
    calls = tmp_path / "no-docker" / "calls"
    # Asked once, to tell whether the nodes are kind containers it holds: nothing else.
    assert not calls.exists() or all(c.startswith("inspect ") for c in calls.read_text().splitlines()), \
        calls.read_text()
    # The child's agent is gone with its namespace.
    agent_ns = re.search(r"namespace (sts-fault-agent-\w+)", facts["node_faults"]).group(1)
    assert agent_ns not in {ns.metadata.name for ns in cluster.api.core.list_namespace().items}, agent_ns


INJECT_AND_WAIT = """
import sys, time
from fixtures.agent import AgentFault, FaultAgent
from fixtures.kube import connect
agent = FaultAgent(connect(sys.argv[1]), sys.argv[2])
AgentFault(agent, "network-cut", sys.argv[3], deadman_s=int(sys.argv[4])).inject()
print("injected", flush=True)
time.sleep(3600)
"""


@pytest.mark.cluster
@pytest.mark.disruptive
@side_by_side(disruptive=True)
def test_a_run_killed_during_a_network_cut_leaves_a_node_that_heals_by_itself(cluster, timeouts, progress):
    """A process injects a network cut through the agent and is SIGKILLed
    while the node is cut off: nobody asks for the restore, and the node's
    own dead-man timer undoes the cut within the dead-man time. The agent
    then takes the next fault on that node as usual."""
    deadman = 40
    node = pick_nodes(cluster.api, 1, "the dead-man test")[0]
    agent = FaultAgent.deploy(cluster.api, DEFAULT_IMAGE, max(120.0, timeouts.pod_ready), progress)
    child = None
    try:
        child = subprocess.Popen([sys.executable, "-c", INJECT_AND_WAIT, str(cluster.kubeconfig), agent.namespace,
                                  node, str(deadman)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env={**os.environ, **groups.env_for(groups.current())})
        line = child.stdout.readline()
        assert line.strip() == "injected", f"the injecting process said {line!r}: {child.stderr.read()[-2000:]}"
        injected = time.monotonic()
        wait_node(cluster.api, node, ready=False, budget=timeouts.node_not_ready)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        # The cut ends at `deadman` after the injection; the kubelet then
        # needs a status update to be seen Ready again.
        wait_node(cluster.api, node, ready=True, budget=deadman + 60)
        healed = time.monotonic() - injected
        assert healed <= deadman + 60, healed
        # Nobody asked for a restore: the agent's last answer is still the injection.
        status = agent.answer(node).split(" ")
        assert status[1:2] == ["injected"], f"{node}: {status}"
        progress(f"{node} Ready again {healed:.0f}s after the cut (dead-man {deadman}s)")
        # The agent knows its timer ran, and takes the next fault.
        with AgentFault(agent, "freeze", node, deadman_s=60) as again:
            assert again.injected
        assert agent.answer(node).split(" ")[1] == "restored"
    finally:
        if child is not None and child.poll() is None:
            child.kill()
        agent.remove(max(120.0, timeouts.namespace_deleted))
        wait_node(cluster.api, node, ready=True, budget=timeouts.node_ready)


@pytest.mark.cluster
@pytest.mark.disruptive
@side_by_side(disruptive=True)
def test_the_agents_runtime_reports_catch_two_pods_of_one_identity(cluster, settings, workload_image, tmp_path):
    """The negative control of the network cut, through the agent alone: an
    operator force-deletes the pod stuck on the cut-off node while it still
    runs there. STS-AMO-001 and STS-AMO-002 MUST fail, the latter on the
    agent's report of what the cut node's runtime runs (its own connection
    survives the cut)."""
    run = run_child(cluster, settings.profile, workload_image, tmp_path, ["suites/test_at_most_one.py"],
                    "--allow-disruptive", "--cluster-defect=unsafe-force-delete", "--storage=hostPath",
                    "-k", "network-cut and (unconfirmed or ever_run_at_once)",
                    # The lost writes never turn up: do not wait the full settling budget for them.
                    "--timeout-scale=0.4", timeout=1200, env=without_docker(tmp_path))
    amo1 = "test_no_second_pod_while_the_old_ones_termination_is_unconfirmed[network-cut]"
    amo2 = "test_no_two_pods_of_one_identity_ever_run_at_once[network-cut]"
    got = {name: run.cases.get(name, (None, "not run", ""))[:2] for name in (amo1, amo2)}
    assert got == {amo1: ("STS-AMO-001", "failed"), amo2: ("STS-AMO-002", "failed")}, (got, run.tail())
    message = run.cases[amo2][2]
    assert re.search(r"mongo-\d: 2 UIDs running at once", message) and "per its runtime" in message, message
