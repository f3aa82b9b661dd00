"""Chaos Toolkit experiments (chaos/*.yaml), run with the real `chaos`
command against the cluster, judged on their journals.

Each experiment runs once; several checks read its journal: the experiment
as a whole (STS-CHAOS-001), the write ledger kept during it (STS-DATA-001),
and, for node faults, the replica set's failover (STS-DATA-002, skipped
with the reason on a server that does not replicate). The journal, the
chaos log, the ledger and the timeline are kept under the reports'
artifacts. Experiments that disturb nodes are disruptive: run by default on
a kind cluster this run created, skipped elsewhere unless --allow-disruptive.
The node experiments' runs are also the at-most-one scenarios
(suites/test_at_most_one.py judges the same runs; fixtures/chaos/jobs.py).
"""

import pytest

from fixtures.chaos import jobs  # noqa: F401 - registers the `experiment` job
from fixtures.chaos.runner import (activity_error, after_environment_failure, environment_reason, judge_journal,
                                   ledger_verdict, load_experiment, method_entry, method_output)
from fixtures.chaos.session import disturbs_nodes
from fixtures.errors import CannotJudge
from fixtures.timeouts import INHERENT_WAIT
from fixtures.options import settings_from
from fixtures.plugin import job_result

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def pytest_generate_tests(metafunc):
    if "experiment" not in metafunc.fixturenames:
        return
    files = sorted(settings_from(metafunc.config).chaos_dir.glob("*.yaml"))
    nodes = {f: disturbs_nodes(load_experiment(f)) for f in files}
    if metafunc.function is test_another_member_becomes_primary_when_the_primarys_node_fails:
        # Failover is a case only of experiments that fail a node: the others are not skipped, they do not apply.
        files = [f for f in files if nodes[f]]
    # Resolved: the at-most-one checks ask for the node experiments' jobs by their resolved paths.
    params = [pytest.param(f.resolve(), id=f.stem, marks=[pytest.mark.disruptive] if nodes[f] else []) for f in files]
    metafunc.parametrize("experiment", params, indirect=True, scope="module")


@pytest.fixture(scope="module")
def experiment(request):
    """One `chaos run` of the experiment file, with its journal (side by
    side with other scenarios when the cluster has node groups)."""
    return job_result(request)


def _record(record_property, run):
    record_property("scenario", f"experiment[{run.experiment.stem}]")
    record_property("experiment", str(run.experiment))
    record_property("journal", str(run.journal_path))
    record_property("chaos_exit_status", run.returncode)
    record_property("chaos_run_s", run.seconds)


@pytest.mark.conformance(id="STS-CHAOS-001")
def test_experiment_holds_its_steady_state_and_its_rollbacks_restore(experiment, record_property):
    """each chaos experiment meets its steady-state hypothesis (every identity Ready, its DNS name on its own pod,
    its data readable, no identity overlap) before and after its fault, every activity succeeds, and its rollbacks
    run and leave no fault in place"""
    run, doc = experiment
    _record(record_property, run)
    record_property(INHERENT_WAIT, run.inherent_wait_s)
    verdict = judge_journal(run.journal, doc)
    for k, v in verdict.facts.items():
        record_property(k, v)
    # A violation shown before the environment failed (if it did) is FAIL;
    # what the environment's failure left unjudged is ERROR (judge_journal).
    if verdict.ok and verdict.unjudged:
        raise CannotJudge(f"STS-CHAOS-001: {run.experiment.name}: {'; '.join(verdict.unjudged)}")
    later = f"\n--- then {verdict.unjudged[0]}" if verdict.environment else ""
    assert verdict.ok, (f"STS-CHAOS-001: {run.experiment.name}: {'; '.join(verdict.problems)}{later}\n"
                        f"--- last lines of {run.log_path}:\n{run.log_tail()}")
    # The journal says it all went well; so must chaos's own exit status.
    assert run.returncode == 0, f"STS-CHAOS-001: chaos run exited {run.returncode} on a journal that passes"


@pytest.mark.conformance(id="STS-DATA-001")
def test_no_acknowledged_write_is_lost(experiment, record_property):
    """no acknowledged write is lost: every write the server acknowledged (with the strongest write concern it
    supports) during a disruption is held afterwards by every member that must hold it"""
    run, _ = experiment
    ledger = ledger_verdict(run.journal)
    record_property("ledger", ledger.get("summary"))
    # Observed: an acknowledged write missing, a document never written, a refused write held.
    assert not (ledger.get("lost") or ledger.get("phantom") or ledger.get("refused_held")), \
        f"STS-DATA-001: {run.experiment.name}: {ledger.get('summary')}"
    # The run's disruption was not the one it declares (its fault could not be
    # made or undone): a clean ledger shows nothing about that disruption.
    if environment_reason(run.journal):
        raise CannotJudge(f"STS-DATA-001: {run.experiment.name}: {environment_reason(run.journal)}")
    # Not shown: nothing acknowledged, members that could not be read, no writes during the fault.
    if not ledger.get("acked"):
        raise CannotJudge(f"STS-DATA-001: the writers got no write acknowledged, so nothing was checked: "
                          f"{ledger.get('summary')}")
    if ledger.get("unverifiable") or ledger.get("writes_during_problem") or not ledger.get("ok"):
        raise CannotJudge(f"STS-DATA-001: {run.experiment.name}: not shown: "
                          f"{ledger.get('writes_during_problem') or ledger.get('summary')}")
    record_property("evidence", ledger.get("summary"))


@pytest.mark.conformance(id="STS-DATA-002")
def test_another_member_becomes_primary_when_the_primarys_node_fails(experiment, record_property):
    """with a replicating server, when the primary's node fails another member becomes the writable primary"""
    run, doc = experiment
    output, status = method_output(run.journal, "a-primary-serves-elsewhere")
    if status is None and environment_reason(run.journal):
        raise CannotJudge(f"STS-DATA-002: {run.experiment.name}: {environment_reason(run.journal)}")
    if status is None:
        raise CannotJudge(f"STS-DATA-002: {run.experiment.name} has no probe `a-primary-serves-elsewhere` in its "
                          f"journal (did the run reach its method?)")
    if status == "succeeded" and isinstance(output, dict) and output.get("replication") is False:
        pytest.skip(f"{output.get('why')}: no replica set to fail over")
    entry = method_entry(run.journal, "a-primary-serves-elsewhere")
    if after_environment_failure(run.journal, entry):
        raise CannotJudge(f"STS-DATA-002: {run.experiment.name}: asked after {environment_reason(run.journal)}")
    error = activity_error(entry)
    if status != "succeeded" and "could not judge" in error:
        raise CannotJudge(f"STS-DATA-002: {error}")
    assert status == "succeeded", f"STS-DATA-002: the probe {status}: {error or f'see {run.journal_path}'}"
    record_property("primary_after_fault", output.get("primary"))
