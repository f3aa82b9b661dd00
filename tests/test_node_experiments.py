"""The node experiments are the at-most-one scenarios: one run, both suites' checks."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from fixtures.catalogue import NODE_FAULT_CASES
from fixtures.chaos.jobs import _key, node_experiment, node_failure_of, read_timeline
from fixtures.chaos.runner import ChaosRun, load_experiment
from fixtures.chaos.session import disturbs_nodes
from fixtures.errors import CannotJudge
from fixtures.faults import FAULT_KINDS
from fixtures.scenarios import NodeFailure, PodFacts
from fixtures.timeline import Entry, Timeline

from .clock import FakeClock

RECORD = {
    "fault": "stop", "node": "w2", "victim": "mongo-1", "old_uid": "u1", "spares": ["w4"],
    "second_pods_during_hold": [], "hold_seconds": 40.0, "marker_written": "mongo-1:ab", "marker_read": "mongo-1:ab",
    "replacement": {"name": "mongo-1", "uid": "u2", "ip": "10.0.0.9", "node": "w2", "hostname_spec": "mongo-1",
                    "labels": {}, "claims": {}},
    "durations": {"to_node_not_ready_s": 21.0}, "replicas": 3, "replicated": False, "recovery_violation": "",
    "writes_during_problem": "", "scenario_seconds": 110.0, "inherent_wait_s": 70.0, "not_judged": "",
    "marker_error": "", "volume_pinned": "",
}


def test_every_fault_has_its_experiment_and_it_holds_the_identity():
    assert tuple(FAULT_KINDS) == NODE_FAULT_CASES
    for fault in FAULT_KINDS:
        doc = load_experiment(node_experiment(fault))
        assert disturbs_nodes(doc)
        funcs = [(a.get("provider") or {}).get("func") for a in doc["method"]]
        # The hold follows the fault at once; the restore comes after it.
        assert funcs[:2] == ["fault_node_of_pod", "identity_held_while_stuck"], (fault, funcs)
        assert funcs.index("restore_node_faults") > 1
        assert doc["method"][0]["provider"]["arguments"]["kind"] == fault


def test_a_node_failure_record_reads_back_as_it_was():
    nf = NodeFailure.from_record(RECORD)
    assert nf.replacement == PodFacts(**RECORD["replacement"])
    # A record written before `second_unrun` existed reads back with it empty.
    assert nf.record() == {**RECORD, "second_unrun": ""}
    assert NodeFailure.from_record({**RECORD, "second_unrun": "x"}).second_unrun == "x"
    with pytest.raises(ValueError, match="lacks old_uid"):
        NodeFailure.from_record({k: v for k, v in RECORD.items() if k != "old_uid"})


def _item(**params):
    return SimpleNamespace(fixturenames=list(params), callspec=SimpleNamespace(params=params))


def test_the_at_most_one_checks_ask_for_the_node_experiments_job():
    assert _key(_item(failure="network-cut")) == node_experiment("network-cut")
    assert _key(_item(experiment=Path("chaos/node-crash.yaml"))) == node_experiment("crash")
    assert _key(_item(other=1)) is None


def _run(tmp_path, journal):
    (tmp_path / "chaos.log").write_text("the last line\n")
    return ChaosRun(node_experiment("stop"), tmp_path / "journal.json", tmp_path / "chaos.log", 1, 9.0, journal)


def test_a_run_without_a_recorded_node_failure_cannot_be_judged(tmp_path):
    with pytest.raises(CannotJudge, match="(?s)recorded no node failure .*'failed'.*the last line"):
        node_failure_of(_run(tmp_path, {"status": "failed", "sts_conformance": {}}), "failure[stop]")


def test_a_run_that_left_its_node_group_cannot_be_judged(tmp_path):
    tl = Timeline("ns", [Entry(1, 0.0, "pod", "ADDED", "mongo-1", "1", {"node": "w9"})])
    path = tl.save(tmp_path / "timeline.json")
    run = _run(tmp_path, {"status": "completed", "sts_conformance": {"node_failure": RECORD,
                                                                     "timeline_file": str(path)}})
    read_timeline(run, frozenset({"w1", "w2"}))
    assert run.isolation == ["mongo-1 on w9"]
    with pytest.raises(CannotJudge, match="left its node group"):
        node_failure_of(run, "failure[stop]")
    run.isolation = []
    nf = node_failure_of(run, "failure[stop]")
    assert nf.timeline.of("pod")[0].data["node"] == "w9" and nf.group == {"w1", "w2"}
    assert nf.experiment.endswith("node-stop.yaml")


def test_only_the_experiments_that_hold_an_identity_get_a_spare_worker():
    from fixtures.chaos.runner import ROOT
    from fixtures.chaos.session import holds_identity

    held = {f.stem for f in (ROOT / "chaos").glob("*.yaml") if holds_identity(load_experiment(f))}
    # A rollout under a node fault replaces pods: a spare worker would let one leave its data.
    assert held == {f"node-{k}" for k in FAULT_KINDS}


def _session(monkeypatch, read=lambda s, pod: "mongo-1:ab", **stuck):
    from fixtures.chaos import session

    monkeypatch.setattr(session, "read_identity_doc", read)
    st = session.StuckIdentity(object(), "stop", "w2", "mongo-1", "u1", ["w4"], 0.0, **stuck)
    return SimpleNamespace(stuck=st, identity_docs={"mongo-1": "mongo-1:ab"}, replicated=False,
                           pods=lambda: ["mongo-0", "mongo-1", "mongo-2"])


NEW = PodFacts(**RECORD["replacement"])


@pytest.mark.parametrize("stuck, why", [
    (dict(), "never took w2 down"),
    (dict(down=True, hold_error="WaitTimeout: timed out after 120s waiting for mongo-1 marked for deletion"),
     "the hold did not run to its end: WaitTimeout"),
    (dict(down=True, held=True, recovery_error="WaitTimeout: w2 not Ready"), "return was not observed"),
])
def test_a_run_that_did_not_complete_its_node_failure_is_never_judged(monkeypatch, tmp_path, stuck, why):
    from fixtures.chaos.session import _node_failure_record

    record = _node_failure_record(_session(monkeypatch, **stuck))
    assert why in record["not_judged"]
    # Never a violation of the return: that is STS-AMO-006's own timeout only.
    assert record["recovery_violation"] == ""
    path = Timeline("ns", []).save(tmp_path / "timeline.json")
    run = _run(tmp_path, {"status": "completed", "sts_conformance": {"node_failure": record,
                                                                     "timeline_file": str(path)}})
    read_timeline(run, None)
    with pytest.raises(CannotJudge, match=why.split(":")[0]):
        node_failure_of(run, "failure[stop]")


def test_a_completed_node_failure_is_judged_and_an_unreadable_marker_is_said(monkeypatch):
    from fixtures.chaos.session import _node_failure_record

    done = dict(down=True, held=True, recovered=True, replacement=NEW, hold_s=40.0)
    record = _node_failure_record(_session(monkeypatch, **done))
    assert record["not_judged"] == "" and record["marker_read"] == "mongo-1:ab" and record["hold_seconds"] == 40.0

    def refused(s, pod):
        raise RuntimeError("port-forward failed")

    record = _node_failure_record(_session(monkeypatch, read=refused, **done))
    assert record["marker_read"] is None and "port-forward failed" in record["marker_error"]


def _pod(uid, phase, running):
    state = SimpleNamespace(running=object() if running else None)
    return SimpleNamespace(metadata=SimpleNamespace(uid=uid), status=SimpleNamespace(
        phase=phase, container_statuses=[SimpleNamespace(state=state)]))


def test_a_second_pod_keeps_the_fault_until_it_runs():
    """ci24: a force-deleted pod's replacement took 23s to start, the node
    was restored 5s after it appeared, its kubelet ended the old pod first
    and STS-AMO-002 saw no overlap. The fault now stays until the second pod
    runs, so the overlap a real partition causes is recorded."""
    from fixtures import scenarios
    seen = iter([{"mongo-1": _pod("u1", "Running", True)}, {"mongo-1": _pod("u2", "Pending", False)},
                 {"mongo-1": _pod("u2", "Running", True)}])
    wl = SimpleNamespace(pods=lambda: next(seen))
    ran, said = scenarios.await_second_running(wl, "mongo-1", "u1", budget=60, clock=FakeClock())
    assert ran and said.startswith("the second mongo-1 ran (UID u2 Running, containers running)"), said


def test_a_second_pod_that_never_runs_is_said_and_the_wait_ends():
    from fixtures import scenarios
    clock = FakeClock()
    wl = SimpleNamespace(pods=lambda: {"mongo-1": _pod("u2", "Pending", False)})
    ran, said = scenarios.await_second_running(wl, "mongo-1", "u1", budget=5, clock=clock)
    assert not ran and said == "the second mongo-1 did not run within 5s of being seen (last: UID u2 Pending)", said
    assert clock.now >= 5


def _stuck_session(monkeypatch, pods, t0=0.0, now=100.0, deadman=600, volume_pinned=""):
    from fixtures.chaos import actions
    monkeypatch.setattr(actions.time, "monotonic", lambda: now)
    st = SimpleNamespace(down=True, recovered=False, spares=["w4"], volume_pinned=volume_pinned, victim="mongo-1",
                         old_uid="u1", node="w2", t0=t0, second_unrun="")
    marks = []
    s = SimpleNamespace(stuck=st, workload=SimpleNamespace(pods=lambda: pods),
                        settings=SimpleNamespace(fault_deadman=deadman), timeouts=SimpleNamespace(pod_ready=180.0),
                        recorder=SimpleNamespace(mark=marks.append))
    return actions, s, marks


def _second_pod_wait(monkeypatch, ran: bool, said: str) -> list[float]:
    """await_second_running answering (ran, said); the budgets it was given."""
    from fixtures import scenarios
    asked = []
    monkeypatch.setattr(scenarios, "await_second_running",
                        lambda wl, victim, old, budget: asked.append(budget) or (ran, said))
    return asked


def test_the_restore_waits_for_a_second_pod_to_run_and_says_so(monkeypatch):
    asked = _second_pod_wait(monkeypatch, False, "it did not run")
    actions, s, marks = _stuck_session(monkeypatch, {"mongo-1": _pod("u2", "Pending", False)}, now=100.0)
    actions._let_a_second_pod_run(s)
    assert asked == [180.0]
    assert "w2 stays faulted until it runs" in marks[0] and marks[1] == "it did not run"
    assert s.stuck.second_unrun == "it did not run"  # STS-AMO-002 then cannot judge


def test_the_wait_for_a_second_pod_ends_before_the_faults_dead_man_timer(monkeypatch):
    asked = _second_pod_wait(monkeypatch, True, "it ran")
    actions, s, _ = _stuck_session(monkeypatch, {"mongo-1": _pod("u2", "Pending", False)}, now=500.0)
    actions._let_a_second_pod_run(s)
    assert asked == [600 - 500 - actions.RESTORE_ALLOWANCE_S] and s.stuck.second_unrun == ""
    actions, s, _ = _stuck_session(monkeypatch, {"mongo-1": _pod("u2", "Pending", False)}, now=560.0)
    actions._let_a_second_pod_run(s)
    assert "no time was left" in s.stuck.second_unrun


@pytest.mark.parametrize("case", ["no second pod", "volume pinned"])
def test_no_wait_where_no_second_pod_could_run(monkeypatch, case):
    from fixtures import scenarios
    monkeypatch.setattr(scenarios, "await_second_running", lambda *a: pytest.fail("waited"))
    pods = {"mongo-1": _pod("u1", "Running", True)} if case == "no second pod" else {"mongo-1": _pod("u2", "Pending", False)}
    actions, s, marks = _stuck_session(monkeypatch, pods, volume_pinned="pv-1" if case == "volume pinned" else "")
    actions._let_a_second_pod_run(s)
    assert marks == [] and s.stuck.second_unrun == ""
