"""Judging Chaos Toolkit journals, on a journal recorded from a real run of
chaos/node-freeze.yaml and on edits of it that MUST fail.

journal-node-crash-address-changed.json is the CI case of a node-crash run
whose restore met the node container back under another Docker address
(fixtures/faults.py: "came back with address"). It was reconstructed, not
recorded on a cluster: `chaos run` (Chaos Toolkit 1.44) of chaos/node-crash.yaml
with stand-in providers that return and raise what the suite's actions,
probes and control do in that case (their frames show in the tracebacks);
its experiment and activities were then put back to node-crash.yaml's own.
"""

import copy
import json
from pathlib import Path

import pytest

from fixtures.chaos.runner import judge_journal, ledger_verdict, load_experiment, method_output
from fixtures.chaos.session import Settings, disturbs_nodes
from fixtures.errors import SuiteError

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
RECORDED = json.loads((DATA / "journal-node-freeze.json").read_text())
ADDRESS_CHANGED = json.loads((DATA / "journal-node-crash-address-changed.json").read_text())


@pytest.fixture
def journal():
    return copy.deepcopy(RECORDED)


def test_the_recorded_run_passes(journal):
    v = judge_journal(journal)
    assert v.ok, v.problems
    assert v.facts["status"] == "completed" and v.facts["server"].startswith("FerretDB")
    assert ledger_verdict(journal)["ok"] and ledger_verdict(journal)["acked"] > 0


def test_a_starting_hypothesis_not_met_fails_and_names_the_probe(journal):
    # chaos exits 1 here too, but only the journal says why.
    probe = journal["steady_states"]["before"]["probes"][2]
    probe.update(status="failed", tolerance_met=False,
                 exception=["Traceback ...", "ActivityFailed: data not readable as written: mongo-1 reads None\n"])
    journal["steady_states"]["before"]["steady_state_met"] = False
    v = judge_journal(journal)
    assert any("not met before the method: data-readable: failed (ActivityFailed: data not readable" in p
               for p in v.problems), v.problems


def test_a_failed_method_activity_fails(journal):
    journal["run"][2]["status"] = "failed"
    assert any(p.startswith("method activity node-returns: failed") for p in judge_journal(journal).problems)


def test_a_method_activity_that_could_not_judge_is_not_a_failure(journal):
    # e.g. the hold's wait for the eviction taint timed out: ERROR, never FAIL.
    journal["run"][0].update(status="failed", exception=[
        "Traceback ...", "RuntimeError: could not judge: WaitTimeout: timed out after 120s waiting for a taint\n"])
    v = judge_journal(journal)
    assert v.ok, v.problems
    assert v.unjudged and "could not judge: WaitTimeout" in v.unjudged[0]


def test_a_method_that_stopped_early_fails(journal):
    del journal["run"][1:]
    assert any("the method ran ['freeze-node-of-victim'], not the planned" in p
               for p in judge_journal(journal).problems)


def test_rollbacks_that_did_not_run_fail(journal):
    journal["rollbacks"] = []
    assert any("the rollbacks ran [], not the planned ['restore-every-node-fault']" in p
               for p in judge_journal(journal).problems)


def test_an_experiment_without_rollbacks_fails(journal):
    journal["experiment"]["rollbacks"] = []
    journal["rollbacks"] = []
    assert "the experiment declares no rollback" in judge_journal(journal).problems


def test_a_rollback_that_left_a_fault_in_place_fails(journal):
    journal["sts_conformance"]["rollback_check"] = {
        "ok": False, "message": "the rollbacks did not restore the system: faults still in place: ['freeze on node w1']"}
    assert any(p.startswith("rollback check: the rollbacks did not restore") for p in judge_journal(journal).problems)


def test_an_overlap_on_the_timeline_fails(journal):
    journal["sts_conformance"]["identity_overlap"] = ["mongo-1: UIDs a and b both running at seq 10"]
    assert "STS-AMO-002: mongo-1: UIDs a and b both running at seq 10" in judge_journal(journal).problems


@pytest.mark.parametrize("status", ["failed", "interrupted", "aborted"])
def test_a_run_that_did_not_complete_fails(journal, status):
    journal["status"] = status
    assert f"the run ended with status {status!r}" in judge_journal(journal).problems


def test_a_deviated_run_fails(journal):
    journal["deviated"] = True
    assert "the steady state deviated after the method" in judge_journal(journal).problems


def test_a_journal_without_the_suites_section_fails(journal):
    del journal["sts_conformance"]
    v = judge_journal(journal)
    assert any("no sts_conformance section" in p for p in v.problems)
    assert not ledger_verdict(journal)["ok"]


def test_no_journal_fails():
    assert judge_journal(None).problems == ["no journal was written"]


def test_the_failover_probe_output_is_found(journal):
    output, status = method_output(journal, "a-primary-serves-elsewhere")
    assert status == "succeeded" and output["replication"] is False


def test_every_experiment_in_chaos_declares_the_control_and_a_rollback():
    files = sorted((ROOT / "chaos").glob("*.yaml"))
    assert len(files) >= 6
    for f in files:
        doc = load_experiment(f)
        assert any(c["provider"]["module"] == "fixtures.chaos.control" for c in doc["controls"]), f.name
        assert doc["rollbacks"] and doc["runtime"]["rollbacks"]["strategy"] == "always", f.name
        probes = [p["name"] for p in doc["steady-state-hypothesis"]["probes"]]
        assert probes == ["all-identities-ready", "dns-names-resolve-to-their-pods", "data-readable",
                          "no-identity-overlap", "no-acknowledged-write-lost"], f.name
    kinds = {a["provider"]["arguments"]["kind"] for f in files for a in load_experiment(f)["method"]
             if a["provider"].get("func") == "fault_node_of_pod"}
    assert kinds == {"crash", "stop", "freeze", "network-cut"}
    assert not disturbs_nodes(load_experiment(ROOT / "chaos" / "pod-deletion.yaml"))


def test_settings_come_from_configuration_then_environment():
    env = {"KUBECONFIG": "/k/config", "STS_PROFILE": "stand-in", "STS_WORKLOAD_IMAGE": "img:1",
           "STS_ALLOW_DISRUPTIVE": "yes", "STS_TIMEOUT_SCALE": "0.5"}
    s = Settings.from_configuration({"profile": "mongodb"}, env)
    assert (s.profile, s.image, s.kubeconfig, s.allow_disruptive, s.timeout_scale) == \
        ("mongodb", "img:1", Path("/k/config"), True, 0.5)
    assert s.victim == "primary" and s.namespace == "" and not s.keep_namespace
    assert not Settings.from_configuration({}, {"STS_WORKLOAD_IMAGE": "x"}).allow_disruptive
    assert s.cluster_defect is None
    assert Settings.from_configuration({}, {"STS_WORKLOAD_IMAGE": "x", "STS_CLUSTER_DEFECT": "unsafe-force-delete"}
                                       ).cluster_defect == "unsafe-force-delete"


@pytest.mark.parametrize("conf, message", [
    ({"profile": "postgres"}, "unknown profile 'postgres'"),
    ({"timeout_scale": "fast"}, "timeout_scale must be a positive number, got 'fast'"),
    ({"timeout_scale": "-1"}, "timeout_scale must be a positive number"),
    ({"cluster_defect": "chaos-monkey"}, "unknown cluster defect 'chaos-monkey'"),
])
def test_bad_settings_are_one_line(conf, message):
    with pytest.raises(SuiteError, match=message):
        Settings.from_configuration({"workload_image": "x", **conf}, {})


def test_chaos_run_without_a_cluster_stops_with_one_line(tmp_path):
    import subprocess

    from fixtures.chaos.runner import chaos_command, child_env

    env = child_env({"KUBECONFIG": str(tmp_path / "missing"), "STS_PROFILE": "stand-in", "STS_WORKLOAD_IMAGE": "x"})
    proc = subprocess.run(chaos_command(ROOT / "chaos" / "pod-deletion.yaml", tmp_path), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-2000:]
    assert f"sts-conformance: kubeconfig {tmp_path / 'missing'} does not exist; set KUBECONFIG" in out, out[-2000:]
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "interrupted"
    # The rollbacks still ran, and said there was nothing to undo.
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]
    assert "did not start" in journal["rollbacks"][0]["output"]["why"]
    # Nothing was judged: the run's check reads ERROR, with the reason.
    assert journal["sts_conformance"]["environment_failed"]["where"] == "preparing the run"
    v = judge_journal(journal)
    assert v.problems == [] and "does not exist; set KUBECONFIG" in v.unjudged[0], (v.problems, v.unjudged)


def test_final_checks_that_could_not_run_fail(journal):
    journal["sts_conformance"]["error"] = "WaitTimeout: timed out after 240s waiting for all nodes Ready"
    assert any("final checks could not run: WaitTimeout" in p for p in judge_journal(journal).problems)


# --- The environment failing under a run: ERROR, unless a violation came first.

NODE = "sts-conformance-worker2"


@pytest.fixture
def crash():
    return copy.deepcopy(ADDRESS_CHANGED)


def _suite():
    """suites/test_chaos.py, whose checks are called here on journals: a
    CannotJudge they raise reads ERROR, an AssertionError FAIL
    (fixtures/plugin.py: pytest_runtest_makereport)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("suite_test_chaos", ROOT / "suites" / "test_chaos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _verdict(check, journal, tmp_path, doc=None) -> tuple[str, str]:
    """(PASS, FAIL or ERROR, the reason) of one of the suite's chaos checks on a journal."""
    from fixtures.chaos.runner import ChaosRun
    from fixtures.errors import is_violation

    (tmp_path / "chaos.log").write_text("the last line\n")
    run = ChaosRun(ROOT / "chaos" / "node-crash.yaml", tmp_path / "journal.json", tmp_path / "chaos.log", 1, 300.0,
                   journal)
    try:
        check((run, doc or journal["experiment"]), lambda *_: None)
    except Exception as exc:
        return ("FAIL" if is_violation(exc) else "ERROR"), str(exc)
    return "PASS", ""


def test_a_restore_that_met_another_address_is_error_for_every_check_it_feeds(crash, tmp_path):
    # The CI case: STS-CHAOS-001 read FAIL on it while the at-most-one checks read ERROR.
    suite = _suite()
    word, why = _verdict(suite.test_experiment_holds_its_steady_state_and_its_rollbacks_restore, crash, tmp_path)
    assert word == "ERROR", why
    assert why.startswith(f"STS-CHAOS-001: node-crash.yaml: the environment failed while restoring the crash of node "
                          f"{NODE}: RuntimeError: node {NODE} came back with address 172.18.0.3, not 172.18.0.5"), why
    # What came after it is said, not judged: the hypothesis after the
    # method, the wait for the nodes, the rollback, the control's check.
    v = judge_journal(crash)
    assert v.problems == []
    after = [u for u in v.unjudged if u.startswith("after it, ")]
    for finding in ("method activity identities-serve-again: failed", "not met after the method: all-identities-ready",
                    "the steady state deviated", "rollback check: the rollbacks did not restore",
                    "the run ended with status 'failed'"):
        assert any(finding in u for u in after), (finding, after)
    word, why = _verdict(suite.test_no_acknowledged_write_is_lost, crash, tmp_path)
    assert (word, why) == ("ERROR", f"STS-DATA-001: node-crash.yaml: {v.unjudged[0]}")
    # The failover was asked before the restore: judged as it was.
    assert _verdict(suite.test_another_member_becomes_primary_when_the_primarys_node_fails, crash, tmp_path)[0] == "PASS"


def test_the_at_most_one_checks_read_the_same_run_as_not_judged(crash, tmp_path):
    from fixtures.chaos.jobs import node_failure_of, read_timeline
    from fixtures.chaos.runner import ChaosRun
    from fixtures.errors import CannotJudge
    from fixtures.timeline import Timeline

    crash["sts_conformance"]["timeline_file"] = str(Timeline("ns", []).save(tmp_path / "timeline.json"))
    (tmp_path / "chaos.log").write_text("")
    run = ChaosRun(ROOT / "chaos" / "node-crash.yaml", tmp_path / "journal.json", tmp_path / "chaos.log", 1, 300.0,
                   crash)
    read_timeline(run, None)
    with pytest.raises(CannotJudge, match="return was not observed to its end: RuntimeError: node .* came back with"):
        node_failure_of(run, "failure[crash]")


def test_a_violation_shown_before_the_environment_failed_still_fails(crash, tmp_path):
    # The hold saw a second pod of the stuck identity; the restore failed afterwards.
    hold = crash["run"][1]
    assert hold["activity"]["name"] == "identity-held-while-stuck"
    hold.update(status="failed", output=None, exception=[
        "Traceback ...", "chaoslib.exceptions.ActivityFailed: AssertionError: mongo-1: a second pod (UID 5e0c) was "
                         "created while the first was stuck on its node\n"])
    word, why = _verdict(_suite().test_experiment_holds_its_steady_state_and_its_rollbacks_restore, crash, tmp_path)
    assert word == "FAIL", why
    assert "method activity identity-held-while-stuck: failed (chaoslib.exceptions.ActivityFailed: AssertionError: " \
           "mongo-1: a second pod" in why, why
    # What the environment's failure hid is not part of the violation, but is said.
    assert "not met after the method" not in why.split("\n")[0]
    assert f"--- then the environment failed while restoring the crash of node {NODE}" in why, why


def _deviated_then_restore_failed(journal, env_before_hypothesis: bool) -> dict:
    """node-freeze's recorded run, edited: the hypothesis after the method
    deviated (data not readable), and the rollback's restore met the node
    under another address; the environment failed before the hypothesis
    was checked, or only after it, in the rollback."""
    probe = journal["steady_states"]["after"]["probes"][2]
    assert probe["activity"]["name"] == "data-readable"
    probe.update(status="failed", tolerance_met=False, exception=[
        "Traceback ...", "chaoslib.exceptions.ActivityFailed: data not readable as written: mongo-1 reads None, wrote "
                         "'mongo-1:4be1a9c03d2f'\n"])
    del journal["steady_states"]["after"]["probes"][3:]
    journal["steady_states"]["after"]["steady_state_met"] = False
    journal.update(status="failed", deviated=True)
    error = ("RuntimeError: node sts-dev-worker came back with address 172.18.0.3, not 172.18.0.5; its kubelet is "
             "bound to the old one: recreate the cluster")
    where = "restoring the freeze of node sts-dev-worker"
    journal["rollbacks"][0].update(status="failed", output=None, exception=[
        "Traceback ...", f"chaoslib.exceptions.ActivityFailed: RuntimeError: could not judge: the environment failed "
                         f"while {where}: {error}\n"])
    at = journal["steady_states"]["after"]["probes"][0]["start"] if env_before_hypothesis else \
        journal["rollbacks"][0]["start"]
    ours = journal["sts_conformance"]
    ours["environment_failed"] = {"at": at, "where": where, "error": error}
    ours["rollback_check"] = {"ok": False, "faults_left": ["freeze on node sts-dev-worker"],
                              "nodes_not_ready": ["sts-dev-worker"], "message": "the rollbacks did not restore the "
                              "system: faults still in place: ['freeze on node sts-dev-worker']"}
    return journal


def test_a_hypothesis_that_deviated_before_the_restore_failed_fails(journal, tmp_path):
    journal = _deviated_then_restore_failed(journal, env_before_hypothesis=False)
    v = judge_journal(journal)
    assert any("not met after the method: data-readable: failed" in p for p in v.problems), v.problems
    assert "the steady state deviated after the method" in v.problems
    # The rollback and what was checked after it are not the violation.
    assert not any(p.startswith(("rollback", "the run ended")) for p in v.problems), v.problems
    word, why = _verdict(_suite().test_experiment_holds_its_steady_state_and_its_rollbacks_restore, journal, tmp_path)
    assert word == "FAIL" and "data not readable as written" in why, why


def test_a_hypothesis_checked_after_the_environment_failed_is_not_judged(journal, tmp_path):
    journal = _deviated_then_restore_failed(journal, env_before_hypothesis=True)
    v = judge_journal(journal)
    assert v.problems == []
    assert any(u.startswith("after it, the steady-state hypothesis was not met after the method: data-readable")
               for u in v.unjudged), v.unjudged
    word, why = _verdict(_suite().test_experiment_holds_its_steady_state_and_its_rollbacks_restore, journal, tmp_path)
    assert word == "ERROR" and "the environment failed while restoring the freeze of node sts-dev-worker" in why, why


def test_an_overlap_fails_whenever_the_environment_failed(crash):
    # At most one pod per identity must hold whatever the nodes do.
    crash["sts_conformance"]["identity_overlap"] = ["mongo-1: 2 UIDs running at once (a: API; b: API)"]
    assert judge_journal(crash).problems == ["STS-AMO-002: mongo-1: 2 UIDs running at once (a: API; b: API)"]


def test_a_lost_write_fails_even_when_the_environment_failed(crash, tmp_path):
    crash["sts_conformance"]["ledger"] = {"ok": False, "acked": 40, "lost": [12], "summary": "1 acknowledged write(s) "
                                          "lost, first #12 missing on mongo-0"}
    word, why = _verdict(_suite().test_no_acknowledged_write_is_lost, crash, tmp_path)
    assert word == "FAIL" and "first #12 missing on mongo-0" in why, why


def test_a_failover_asked_after_the_environment_failed_is_not_judged(crash, tmp_path):
    # The fault could not be made: the primary's node never failed, so no
    # other member had to take over (a timeout here is no violation).
    from fixtures.chaos.runner import after_environment_failure, method_entry

    fault, probe = crash["run"][0], method_entry(crash, "a-primary-serves-elsewhere")
    error = f"RuntimeError: docker kill --signal KILL {NODE} failed: Error response from daemon: cannot kill container"
    where = f"making the crash fault of node {NODE}"
    fault.update(status="failed", output=None, exception=[
        "Traceback ...", f"chaoslib.exceptions.ActivityFailed: RuntimeError: could not judge: the environment failed "
                         f"while {where}: {error}\n"])
    crash["sts_conformance"]["environment_failed"] = {"at": fault["start"], "where": where, "error": error}
    probe.update(status="failed", output=None, exception=[
        "Traceback ...", "chaoslib.exceptions.ActivityFailed: STS-DATA-002: not within 60s: a writable primary other "
                         "than mongo-1; last seen: primary: mongo-1\n"])
    assert after_environment_failure(crash, probe)
    suite = _suite()
    word, why = _verdict(suite.test_another_member_becomes_primary_when_the_primarys_node_fails, crash, tmp_path)
    assert word == "ERROR" and why.startswith(f"STS-DATA-002: node-crash.yaml: asked after the environment failed "
                                              f"while {where}"), why
    assert _verdict(suite.test_experiment_holds_its_steady_state_and_its_rollbacks_restore, crash, tmp_path)[0] == \
        "ERROR"
    # Without the environment's failure the same probe is a violation.
    del crash["sts_conformance"]["environment_failed"]
    assert not after_environment_failure(crash, probe)
    assert _verdict(suite.test_another_member_becomes_primary_when_the_primarys_node_fails, crash, tmp_path)[0] == \
        "FAIL"


# --- Where the environment failure comes from: the fault driver, through the session and the action.

def _address_changed(monkeypatch, node: str = "w2"):
    """A crashed kind node whose container runs again, under another address
    than the one its kubelet has (Docker's answers, as they were)."""
    import subprocess

    from fixtures import faults

    def docker(*args, check=True):
        out = {"{{json .State}}": '{"Running": true, "Paused": false}',
               "{{json .NetworkSettings.Networks}}": '{"kind": {"IPAddress": "172.18.0.3"}}'}[args[2]]
        return subprocess.CompletedProcess(["docker", *args], 0, out, "")

    monkeypatch.setattr(faults, "_docker", docker)
    return faults.NodeFault("crash", node, injected=True, _ip="172.18.0.5")


def _session(*faults, workload=None):
    from types import SimpleNamespace

    return SimpleNamespace(faults=list(faults), stuck=None, recorder=None, workload=workload, api=None,
                           timeouts=SimpleNamespace(node_ready=240.0), ledger=None, environment_failed=None)


def test_a_restore_that_meets_another_address_is_the_environment_failing(monkeypatch):
    from fixtures.chaos import session
    from fixtures.errors import CannotJudge, EnvironmentFailed

    s = _session(_address_changed(monkeypatch))
    with pytest.raises(EnvironmentFailed) as caught:
        session.restore_all(s)
    assert isinstance(caught.value, CannotJudge)
    assert s.environment_failed["where"] == "restoring the crash of node w2"
    assert s.environment_failed["error"] == ("RuntimeError: node w2 came back with address 172.18.0.3, not "
                                             "172.18.0.5; its kubelet is bound to the old one: recreate the cluster")
    first = s.environment_failed
    with pytest.raises(EnvironmentFailed):  # the rollback's restore fails the same way: the first one stays
        session.restore_all(s)
    assert s.environment_failed is first


def test_a_workload_that_does_not_come_back_after_the_restore_is_not_the_environment(monkeypatch):
    from types import SimpleNamespace

    from fixtures import nodes
    from fixtures.chaos import session
    from fixtures.errors import WaitTimeout

    restored = SimpleNamespace(kind="freeze", node="w2", injected=True, restore=lambda: None)

    def not_ready(timeouts):
        raise WaitTimeout("all replicas Running and Ready", 180, "mongo-1 Pending")

    monkeypatch.setattr(nodes, "wait_all_nodes_ready", lambda api, budget: None)
    s = _session(restored, workload=SimpleNamespace(wait_ready=not_ready))
    with pytest.raises(WaitTimeout) as caught:
        session.restore_all(s)
    assert type(caught.value) is WaitTimeout and s.environment_failed is None


@pytest.mark.parametrize("held", [False, True])
def test_a_run_stopped_before_its_hold_restores_without_waiting_for_a_new_pod(monkeypatch, held):
    """Ctrl-C during the fault (seen: a benchmark stopped there): the pod was
    never stuck, so no new one comes; waiting for it cost 420s of rollback."""
    from types import SimpleNamespace

    from fixtures import nodes, scenarios
    from fixtures.chaos import session

    calls = []
    fault = SimpleNamespace(kind="network-cut", node="w2", injected=True, restore=lambda: calls.append("restore"))
    stuck = SimpleNamespace(fault=fault, recovered=False, held=held, victim="mongo-1", old_uid="u1", spares=["w4"],
                            durations={}, replacement=None, recovery_violation="", recovery_error="")
    monkeypatch.setattr(nodes, "wait_all_nodes_ready", lambda api, budget: None)
    monkeypatch.setattr(scenarios, "recover_identity", lambda *a: calls.append("recover") or ("new", ""))
    monkeypatch.setattr(session, "fault_ends", lambda s: None)
    s = _session(fault, workload=SimpleNamespace(wait_ready=lambda t: calls.append("ready")))
    s.stuck = s_stuck = stuck
    s.recorder = SimpleNamespace(mark=lambda label: None)
    assert session.restore_all(s) == ["network-cut on node w2"]
    assert calls == (["recover", "ready"] if held else ["restore", "ready"])
    assert s_stuck.recovered is held


def test_the_restore_action_records_could_not_judge_in_the_journal(monkeypatch):
    # Chaos Toolkit's own activity runner, on the real action.
    from chaoslib.activity import execute_activity

    from fixtures.chaos import session

    s = _session(_address_changed(monkeypatch))
    monkeypatch.setattr(session, "_SESSION", [s])
    activity = {"type": "action", "name": "node-returns",
                "provider": {"type": "python", "module": "fixtures.chaos.actions", "func": "restore_node_faults"}}
    entry = execute_activity({"title": "t", "description": "d", "method": [activity]}, activity, {}, {}, None)
    assert entry["status"] == "failed"
    assert entry["exception"][-1] == (
        "chaoslib.exceptions.ActivityFailed: RuntimeError: could not judge: the environment failed while restoring the "
        "crash of node w2: RuntimeError: node w2 came back with address 172.18.0.3, not 172.18.0.5; its kubelet is "
        "bound to the old one: recreate the cluster\n")
    assert s.environment_failed["where"] == "restoring the crash of node w2"


def test_the_control_records_a_restore_it_cannot_make_and_judges_no_ledger_on_it(monkeypatch):
    import contextlib
    from types import SimpleNamespace

    from fixtures.chaos import session

    stopped = []
    s = _session(_address_changed(monkeypatch))
    s.__dict__.update(namespace="ns", victim="mongo-1", notes=[], artifacts="/tmp/a", owns_namespace=False,
                      in_force=contextlib.ExitStack(), ledger=SimpleNamespace(stop=lambda: stopped.append(True)))
    monkeypatch.setattr(session, "nodes_not_ready", lambda api: ["w2"])
    journal = {}
    out = session.end(s, journal)
    assert journal["sts_conformance"] is out and out["cleaned_up"] and stopped
    assert not out["rollback_check"]["ok"] and "error" not in out
    assert out["environment_failed"]["where"] == "restoring the crash of node w2"
    assert out["ledger_not_judged"] and "ledger" not in out and "writes_resumed" not in out
    assert out["failures"][0].startswith("could not judge: the environment failed while restoring the crash of node "
                                         "w2: RuntimeError: node w2 came back with address 172.18.0.3")


def test_an_interrupted_run_judges_no_ledger_and_cleans_up(monkeypatch):
    """Ctrl-C during a scenario: the ledger is neither waited for nor judged
    (the identity was never brought back: what its members hold says nothing),
    and everything is still cleaned up."""
    import contextlib
    from types import SimpleNamespace

    from fixtures.chaos import session

    stopped, judged = [], []
    s = _session(_address_changed(monkeypatch))
    s.__dict__.update(namespace="ns", victim="mongo-1", notes=[], artifacts="/tmp/a", owns_namespace=False,
                      in_force=contextlib.ExitStack(), faults=[],
                      ledger=SimpleNamespace(stop=lambda: stopped.append(True),
                                             wait_acked=lambda *a, **k: judged.append(a),
                                             check=lambda *a: judged.append(a)))
    journal = {"status": "interrupted"}
    out = session.end(s, journal)
    assert out["ledger_not_judged"] == "the run was interrupted" and "ledger" not in out
    assert judged == [] and stopped and out["cleaned_up"] and out["failures"] == []


def test_a_run_the_suite_stopped_for_its_budget_is_still_judged(monkeypatch, tmp_path):
    """Status "interrupted" because the runner ran out of its budget (it wrote
    TIMED_OUT first), not because the user stopped it: the ledger is judged."""
    import contextlib
    from types import SimpleNamespace

    from fixtures.chaos import session
    from fixtures.chaos.runner import TIMED_OUT

    (tmp_path / TIMED_OUT).write_text("the suite stopped the run after 900s\n")
    judged = []
    s = _session(_address_changed(monkeypatch))
    s.__dict__.update(namespace="ns", victim="mongo-1", notes=[], artifacts=str(tmp_path), owns_namespace=False,
                      in_force=contextlib.ExitStack(), faults=[],
                      ledger=SimpleNamespace(stop=lambda: None, wait_acked=lambda *a, **k: judged.append("waited")))
    monkeypatch.setattr(session, "_judge_ledger", lambda s, out: judged.append("judged") or [])
    out = session.end(s, {"status": "interrupted"})
    assert judged == ["judged"] and "ledger_not_judged" not in out
