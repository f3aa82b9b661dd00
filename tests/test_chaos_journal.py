"""Judging Chaos Toolkit journals, on a journal recorded from a real run of
chaos/node-freeze.yaml and on edits of it that MUST fail."""

import copy
import json
from pathlib import Path

import pytest

from fixtures.chaos.runner import judge_journal, ledger_verdict, load_experiment, method_output
from fixtures.chaos.session import Settings, disturbs_nodes
from fixtures.errors import SuiteError

ROOT = Path(__file__).resolve().parent.parent
RECORDED = json.loads((Path(__file__).parent / "data" / "journal-node-freeze.json").read_text())


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


def test_final_checks_that_could_not_run_fail(journal):
    journal["sts_conformance"]["error"] = "WaitTimeout: timed out after 240s waiting for all nodes Ready"
    assert any("final checks could not run: WaitTimeout" in p for p in judge_journal(journal).problems)
