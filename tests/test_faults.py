"""Fault drivers: the policy of who may break what, and restore-always."""

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from fixtures import groups
from fixtures.agent import AgentFault, FaultAgent
from fixtures.errors import SuiteError
from fixtures.faults import FAULT_KINDS, CommandFault, NodeFault, _CUT_TAG, container_state, fault_for
from fixtures.nodes import wait_all_nodes_ready


def cluster(kind, owned, agent=None):
    return SimpleNamespace(kind=kind, owned=owned, fault_agent=agent)


def test_a_cluster_the_suite_made_takes_docker_faults():
    assert isinstance(fault_for(cluster(True, True), "crash", "n1", False, None), NodeFault)


def test_other_clusters_refuse_faults_without_the_opt_in():
    for c in (cluster(False, False), cluster(True, False)):
        with pytest.raises(SuiteError, match="need --allow-disruptive"):
            fault_for(c, "crash", "n1", False, "/bin/true")


def test_an_existing_cluster_needs_the_agent_or_the_users_command():
    with pytest.raises(SuiteError, match=r"need the in-cluster agent \(--fault-agent\) or --node-fault-command"):
        fault_for(cluster(False, False), "crash", "n1", True, None)
    assert isinstance(fault_for(cluster(False, False), "crash", "n1", True, "my-fault"), CommandFault)


def test_the_agent_makes_the_faults_it_can_and_says_which_it_cannot():
    agent = FaultAgent(api=None, namespace="sts-fault-agent-0000")
    for c in (cluster(False, False, agent), cluster(True, False, agent), cluster(True, True, agent)):
        got = fault_for(c, "freeze", "n1", True, None, deadman_s=42)
        assert isinstance(got, AgentFault) and got.deadman_s == 42 and got.node == "n1"
        for kind in ("crash", "graceful-shutdown"):
            with pytest.raises(SuiteError, match=f"the in-cluster fault agent cannot {kind} a node"):
                fault_for(c, kind, "n1", True, None)
    # The user's own command still comes first on a cluster the suite did not make.
    assert isinstance(fault_for(cluster(False, False, agent), "freeze", "n1", True, "my-fault"), CommandFault)
    with pytest.raises(SuiteError, match="need --allow-disruptive"):
        fault_for(cluster(False, False, agent), "freeze", "n1", False, None)


def test_unknown_fault_kind():
    with pytest.raises(SuiteError, match="unknown fault kind 'meteor'"):
        NodeFault("meteor", "n1")


def test_command_fault_follows_its_contract_and_restores_when_the_body_raises(tmp_path):
    log = tmp_path / "calls.json"
    script = tmp_path / "fault.py"
    script.write_text(f"import json, sys\nwith open({str(log)!r}, 'a') as f: f.write(json.dumps(sys.argv[1:]) + '\\n')\n")
    fault = CommandFault(f"{sys.executable} {script}", "freeze", "node-7")
    with pytest.raises(ZeroDivisionError):
        with fault:
            1 / 0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls == [["freeze", "inject", "node-7"], ["freeze", "restore", "node-7"]]


def test_a_failing_fault_command_is_reported(tmp_path):
    fault = CommandFault("false", "crash", "node-1")
    with pytest.raises(RuntimeError, match="node fault command false crash inject node-1 failed"):
        fault.inject()


@pytest.mark.cluster
@pytest.mark.disruptive
@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_fault_is_restored_even_when_the_test_body_raises(cluster, timeouts, kind):
    if not cluster.kind:
        pytest.skip("Docker node faults need a kind cluster")
    # The last worker of this thread's node group (others may run scenarios).
    node = groups.within(sorted(n.metadata.name for n in cluster.api.core.list_node().items
                                if "control-plane" not in n.metadata.name))[-1]
    with pytest.raises(RuntimeError, match="the test body failed"):
        with NodeFault(kind, node):
            state = container_state(node)
            if kind == "freeze":
                assert state["Paused"]
            elif kind == "network-cut":
                rules = subprocess.run(["docker", "exec", node, "iptables", "-S"], capture_output=True, text=True).stdout
                assert _CUT_TAG in rules
            else:
                assert not state["Running"]
            raise RuntimeError("the test body failed")
    state = container_state(node)
    assert state["Running"] and not state["Paused"]
    rules = subprocess.run(["docker", "exec", node, "iptables", "-S"], capture_output=True, text=True).stdout
    assert _CUT_TAG not in rules
    wait_all_nodes_ready(cluster.api, timeouts.node_ready)


def test_a_second_node_stop_waits_for_the_first_nodes_address(tmp_path, monkeypatch):
    """Two kind nodes down at once can swap addresses: the second stop waits
    for the lock the first holds until its node runs again, and gives up
    with the reason after its budget."""
    from fixtures import faults

    monkeypatch.setattr(faults, "ADDRESS_LOCK", tmp_path / "addresses.lock")
    with faults.address_lock("the first stop"):
        with pytest.raises(SuiteError, match="another kind node on this machine has been down"):
            with faults.address_lock("the second stop", budget=1.0):
                pass
    with faults.address_lock("the second stop", budget=1.0):
        pass


class FakeDocker:
    """Docker as a node's fault sees it: one node container and what was run."""

    def __init__(self, refuse_keeper=False):
        self.calls, self.running, self.refuse_keeper = [], True, refuse_keeper
        self.lock_free, self.started_under_lock = None, None

    def __call__(self, *args, check=True):
        self.calls.append(args)
        if args[0] == "start" and self.lock_free is not None:
            self.started_under_lock = not self.lock_free()
        rc = 0
        if args[0] in ("kill", "stop"):
            self.running = False
        elif args[0] == "start":
            self.running = True
        elif args[0] == "run" and self.refuse_keeper:
            rc = 1
        out = {"inspect": "kindest/node:v1", "ps": "keeper-id"}.get(args[0], "")
        return subprocess.CompletedProcess(args, rc, out, "user specified IP address is refused" if rc else "")


def _lock_free(faults) -> bool:
    try:
        with faults.address_lock("probe", budget=0.1):
            return True
    except SuiteError:
        return False


@pytest.mark.parametrize("kind", ["crash", "stop"])
def test_a_stopped_nodes_addresses_are_held_by_a_keeper_and_asked_back_by_name(kind, tmp_path, monkeypatch):
    """While the node is down its keeper holds its addresses, so the lock is
    free for another group's stop; on restore the keeper goes and the node
    rejoins the network asking for exactly its addresses, under the lock."""
    from fixtures import faults

    docker = FakeDocker()
    monkeypatch.setattr(faults, "ADDRESS_LOCK", tmp_path / "addresses.lock")
    monkeypatch.setattr(faults, "_docker", docker)
    monkeypatch.setattr(faults, "node_addresses", lambda node, network: ("172.18.0.5", "fc00::5"))
    monkeypatch.setattr(faults, "container_state", lambda node: {"Running": docker.running, "Paused": False})
    fault = NodeFault(kind, "w3")
    fault.inject()
    run = next(c for c in docker.calls if c[0] == "run")
    assert run[run.index("--ip") + 1] == "172.18.0.5" and run[run.index("--ip6") + 1] == "fc00::5"
    assert f"{faults.KEEPER_LABEL}=w3" in run and run[-2:] == ("kindest/node:v1", "infinity")
    assert _lock_free(faults)  # another group's stop need not wait for this node's return
    docker.calls.clear()
    docker.lock_free = lambda: _lock_free(faults)
    fault.restore()
    assert docker.started_under_lock  # nothing else may take the freed address before the node does
    verbs = [c[0] for c in docker.calls]
    assert ("rm", "-f", "-v", "keeper-id") in docker.calls
    assert verbs.index("rm") < verbs.index("network") < verbs.index("start")
    connect = next(c for c in docker.calls if c[:2] == ("network", "connect"))
    assert connect == ("network", "connect", "--ip", "172.18.0.5", "--ip6", "fc00::5", "kind", "w3")
    assert docker.running and _lock_free(faults)


def test_where_docker_refuses_a_keeper_the_lock_is_held_until_the_node_runs(tmp_path, monkeypatch):
    from fixtures import faults

    docker = FakeDocker(refuse_keeper=True)
    monkeypatch.setattr(faults, "ADDRESS_LOCK", tmp_path / "addresses.lock")
    monkeypatch.setattr(faults, "_docker", docker)
    monkeypatch.setattr(faults, "node_addresses", lambda node, network: ("172.18.0.5", None))
    monkeypatch.setattr(faults, "container_state", lambda node: {"Running": docker.running, "Paused": False})
    fault = NodeFault("crash", "w3")
    fault.inject()
    assert not _lock_free(faults)
    assert any("no address keeper" in line for line in fault.log)
    fault.restore()
    assert docker.running and _lock_free(faults)
