"""The verdict model, from recorded results (no cluster): every verdict word,
the JUnit split of failures and errors, and the exit code."""

import json
import xml.etree.ElementTree as ET

import pytest

from fixtures.errors import CannotJudge, ConditionImpossible, GuaranteeTimeout, WaitTimeout, is_violation
from fixtures.junit import junit_errors_apart
from fixtures.verdicts import CaseResult, exit_code, judge, judge_all, summary

FAULTS = ("crash", "stop", "freeze", "network-cut")


def case(outcome, label="", reason="", cid="STS-AMO-001", **props):
    return CaseResult(f"suites/test_at_most_one.py::t[{label}]", cid, outcome, reason, 1.0, props, label)


def test_pass_needs_every_required_case_to_have_passed():
    v = judge("STS-AMO-001", [case("pass", k, evidence=f"{k}: no second pod") for k in FAULTS])
    assert v.verdict == "pass" and v.not_run == {} and v.evidence[0] == "crash: no second pod"


def test_a_violation_anywhere_is_fail_with_its_reason():
    cases = [case("pass", k) for k in FAULTS[:3]] + [case("fail", "network-cut", "STS-AMO-001: mongo-1 created again")]
    v = judge("STS-AMO-001", cases)
    assert v.verdict == "fail" and v.reasons == ["[network-cut] STS-AMO-001: mongo-1 created again"]


def test_an_error_is_error_never_fail():
    cases = [case("pass", k) for k in FAULTS[:3]] + [case("error", "network-cut", "the API answered 403 forbidden")]
    v = judge("STS-AMO-001", cases)
    assert v.verdict == "error" and "403" in v.reasons[0]


def test_fail_outranks_error():
    v = judge("STS-AMO-001", [case("error", "crash", "x"), case("fail", "stop", "y")] +
              [case("pass", k) for k in FAULTS[2:]])
    assert v.verdict == "fail"


def test_some_cases_skipped_is_incomplete_and_names_them():
    cases = [case("pass", "crash"), case("pass", "stop"), case("skip", "freeze", "needs --allow-disruptive")]
    v = judge("STS-AMO-001", cases)
    assert v.verdict == "incomplete"
    assert v.not_run == {"freeze": "skipped: needs --allow-disruptive", "network-cut": "not selected in this run"}
    assert "freeze (skipped: needs --allow-disruptive)" in v.headline()


def test_every_node_fault_case_skipped_is_skip_never_pass():
    v = judge("STS-AMO-002", [case("skip", k, "disturbs nodes", cid="STS-AMO-002") for k in FAULTS])
    assert v.verdict == "skip" and v.reasons == ["[crash, stop, freeze, network-cut] disturbs nodes"]


def test_an_id_whose_declared_cases_were_not_selected_is_incomplete():
    # `-k hostPath`: the volumeClaimTemplates case never ran.
    v = judge("STS-ID-002", [case("pass", "hostPath", cid="STS-ID-002")])
    assert v.verdict == "incomplete" and v.not_run == {"volumeClaimTemplates": "not selected in this run"}


def test_a_reported_case_is_required_even_when_not_declared():
    # A chaos experiment that was skipped makes STS-CHAOS-001 incomplete.
    v = judge("STS-CHAOS-001", [case("pass", "pod-deletion", cid="STS-CHAOS-001"),
                                case("skip", "node-crash", "disruptive", cid="STS-CHAOS-001")])
    assert v.verdict == "incomplete"


def test_nothing_reported_is_not_run():
    assert judge_all([])["STS-DNS-001"].verdict == "not run"


def test_summary_counts_every_word():
    verdicts = judge_all([case("pass", "", cid="STS-DNS-001"), case("skip", "", "r", cid="STS-WIRE-002")])
    counts = summary(verdicts)
    assert counts["pass"] == 1 and counts["skip"] == 1 and counts["incomplete"] == 0 and counts["not run"] > 0


def test_exit_code_fail_then_error_then_ok():
    ok = judge_all([case("pass", "", cid="STS-DNS-001")])
    err = judge_all([case("error", "", "could not judge", cid="STS-DNS-001")])
    bad = judge_all([case("fail", "", "violated", cid="STS-DNS-001"), case("error", "", "x", cid="STS-WIRE-001")])
    assert (exit_code(ok, 0), exit_code(err, 0), exit_code(bad, 0), exit_code(ok, 1)) == (0, 6, 1, 1)


@pytest.mark.parametrize("exc, violation", [
    (AssertionError("STS-DNS-001: wrong IP"), True),
    (GuaranteeTimeout("STS-PAR-001", "all pods created", 30, "created [mongo-0]"), True),
    (WaitTimeout("3 pods Ready", 300, "Pending"), False),
    (ConditionImpossible("3 pods Ready", "ImagePullBackOff"), False),
    (CannotJudge("the recording has a gap"), False),
    (RuntimeError("exec failed"), False),
])
def test_which_exceptions_are_violations(exc, violation):
    assert is_violation(exc) is violation


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="2" skipped="0" tests="3">
<testcase classname="suites.test_dns" name="test_a"><failure message="AssertionError: STS-DNS-001: wrong">tb</failure></testcase>
<testcase classname="suites.test_dns" name="test_b[pvc]"><failure message="WaitTimeout: x">tb</failure></testcase>
<testcase classname="suites.test_dns" name="test_c" />
</testsuite></testsuites>"""


def test_junit_keeps_failure_and_error_apart(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    assert junit_errors_apart(path, {"suites/test_dns.py::test_b[pvc]": "timed out waiting for x"}) == 1
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert (suite.get("failures"), suite.get("errors")) == ("1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["test_a"].find("failure") is not None
    err = cases["test_b[pvc]"].find("error")
    assert err is not None and err.get("message") == "could not judge: timed out waiting for x"


UNREACHABLE = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def test_an_unreachable_cluster_is_error_in_the_report_not_fail(pytester, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(UNREACHABLE)
    pytester.makepyfile(test_x="""
import pytest

@pytest.mark.conformance(id="STS-DNS-001")
def test_needs_a_cluster(cluster):
    assert cluster

@pytest.mark.conformance(id="STS-ID-001")
@pytest.mark.parametrize("storage", ["hostPath", "volumeClaimTemplates"])
def test_also(cluster, storage):
    assert cluster
""")
    reports = tmp_path / "reports"
    res = pytester.runpytest_subprocess("-p", "fixtures.plugin", "-p", "no:cacheprovider", "--cluster=existing",
                                        f"--kubeconfig={kubeconfig}", f"--reports-dir={reports}",
                                        f"--junitxml={tmp_path / 'junit.xml'}")
    assert res.ret == 4
    res.stdout.fnmatch_lines(["*sts-conformance: the cluster at 127.0.0.1:9 does not answer*"])
    doc = json.loads((reports / "conformance.json").read_text())
    rows = doc["guarantees"]
    assert rows["STS-DNS-001"]["verdict"] == "error" and rows["STS-ID-001"]["verdict"] == "error"
    assert "does not answer" in rows["STS-DNS-001"]["reasons"][0]
    assert doc["summary"]["fail"] == 0
