"""The report writer, from recorded results (no cluster)."""

import json

from fixtures.catalogue import CATALOGUE
import jsonschema
import pytest

from fixtures.report import CaseResult, Results, first_line, validate, write_reports


def sample():
    r = Results()
    r.add(CaseResult("suites/test_dns.py::a", "STS-DNS-001", "pass", properties={"dns_answers": {"mongo-0.mongo": "10.244.1.2"}}))
    r.add(CaseResult("suites/test_dns.py::b[hostPath]", "STS-DNS-002", "pass"))
    r.add(CaseResult("suites/test_dns.py::b[pvc]", "STS-DNS-002", "fail", "STS-DNS-002: timed out after 60s waiting for …"))
    r.add(CaseResult("suites/test_wire.py::c", "STS-WIRE-002", "skip", "FerretDB 1.24.2 does not replicate"))
    return r


def test_one_row_per_catalogue_id_and_the_worst_case_wins(tmp_path):
    rows = sample().by_id()
    assert list(rows) == list(CATALOGUE)
    assert rows["STS-DNS-001"]["verdict"] == "pass"
    assert rows["STS-DNS-002"]["verdict"] == "fail"
    assert rows["STS-DNS-002"]["reasons"] == ["STS-DNS-002: timed out after 60s waiting for …"]
    assert rows["STS-WIRE-002"]["verdict"] == "skip"
    assert rows["STS-AMO-001"]["verdict"] == "not run"


def test_reports_carry_verdicts_reasons_and_facts(tmp_path):
    paths = write_reports(sample(), {"server_version": "v1.34.4", "nodes": [{}] * 4, "profile": "stand-in"}, tmp_path)
    doc = json.loads(paths["json"].read_text())
    assert doc["summary"]["fail"] == 1 and doc["summary"]["pass"] == 1 and doc["summary"]["skip"] == 1
    assert doc["guarantees"]["STS-DNS-002"]["must"] == CATALOGUE["STS-DNS-002"]
    md = paths["md"].read_text()
    assert "| STS-DNS-002 | fail |" in md and "timed out after 60s" in md
    assert "| STS-WIRE-002 | skip |" in md and "does not replicate" in md
    assert "Kubernetes v1.34.4, 4 nodes" in md


def test_first_line_takes_the_assertion_not_the_code():
    text = "    def test_x():\n>       assert False\nE       AssertionError: STS-ID-001: mongo-1 came back as mongo-7f\nE       assert ..."
    assert first_line(text) == "STS-ID-001: mongo-1 came back as mongo-7f"
    wait = "E   fixtures.errors.WaitTimeout: timed out after 60s waiting for X; last seen: Pending"
    assert first_line(wait) == "timed out after 60s waiting for X; last seen: Pending"


def test_the_written_json_validates_against_the_schema(tmp_path):
    paths = write_reports(sample(), {"server_version": "v1.34.4"}, tmp_path)
    validate(json.loads(paths["json"].read_text()))


def test_the_schema_rejects_a_report_with_an_unknown_verdict(tmp_path):
    doc = json.loads(write_reports(sample(), {}, tmp_path)["json"].read_text())
    doc["guarantees"]["STS-DNS-001"]["verdict"] = "mostly fine"
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


def test_html_page_has_a_row_per_id_and_a_chart_per_timeline(tmp_path):
    from tests.histories import H

    h = H().pod("mongo-0", "u0").ready("mongo-0", "u0").mark("fault crash on n1").terminating("mongo-0", "u0")
    h.tl.save(tmp_path / "artifacts" / "some-test" / "timeline.json")
    html = write_reports(sample(), {"server_version": "v1.34.4"}, tmp_path)["html"].read_text()
    assert html.count("<tr><td><b>STS-") == len(CATALOGUE)
    assert html.count("<img alt='timeline of some-test' src='data:image/png;base64,") == 1
    assert "timed out after 60s" in html


def test_chart_segments_follow_each_pod_and_node_state():
    from fixtures.charts import segments
    from tests.histories import H

    h = H().pod("mongo-0", "u0").ready("mongo-0", "u0").terminating("mongo-0", "u0").deleted("mongo-0", "u0")
    h._add("node", "MODIFIED", "n1", {"ready": "Unknown"})
    h._add("node", "MODIFIED", "n1", {"ready": "True"})
    segs = [(s.row, s.state) for s in segments(h.tl)]
    assert segs == [("mongo-0", "Pending"), ("mongo-0", "Ready"), ("mongo-0", "Terminating"), ("node n1", "NotReady")]


def test_chaos_journals_are_attached_to_every_report(tmp_path):
    from pathlib import Path

    recorded = Path(__file__).parent / "data" / "journal-node-freeze.json"
    run_dir = tmp_path / "artifacts" / "chaos_node-freeze"
    run_dir.mkdir(parents=True)
    (run_dir / "journal.json").write_text(recorded.read_text())
    paths = write_reports(sample(), {"profile": "stand-in"}, tmp_path)
    doc = json.loads(paths["json"].read_text())
    validate(doc)
    [entry] = doc["chaos"]
    assert entry["status"] == "completed" and entry["hypothesis_before"] and entry["hypothesis_after"]
    assert "freeze-node-of-victim: succeeded" in entry["activities"]
    assert entry["rollbacks"] == ["restore-every-node-fault: succeeded"]
    assert "acknowledged" in entry["ledger"]
    html = paths["html"].read_text()
    assert "<h2>Chaos experiments</h2>" in html and "chaos_node-freeze/journal.json</summary>" in html
    # The whole journal is on the page.
    assert "a-primary-serves-elsewhere" in html and "sts_conformance" in html


def test_incomplete_and_error_rows_say_why_in_every_format(tmp_path):
    r = Results()
    r.add(CaseResult("suites/test_at_most_one.py::t[crash]", "STS-AMO-001", "pass", label="crash",
                     properties={"evidence": "no mongo-1 created during the crash"}))
    r.add(CaseResult("suites/test_at_most_one.py::t[stop]", "STS-AMO-001", "skip", "needs --allow-disruptive",
                     label="stop"))
    r.add(CaseResult("suites/test_dns.py::a", "STS-DNS-001", "error", "the API answered 403 Forbidden"))
    paths = write_reports(r, {"server_version": "v1.34.4"}, tmp_path)
    doc = json.loads(paths["json"].read_text())
    validate(doc)
    row = doc["guarantees"]["STS-AMO-001"]
    assert row["verdict"] == "incomplete"
    assert row["not_run"] == {"stop": "skipped: needs --allow-disruptive", "freeze": "not selected in this run",
                              "network-cut": "not selected in this run"}
    assert doc["summary"]["incomplete"] == 1 and doc["summary"]["error"] == 1 and doc["summary"]["fail"] == 0
    md = paths["md"].read_text()
    assert "| STS-AMO-001 | incomplete |" in md and "stop skipped: needs --allow-disruptive" in md
    assert "| STS-DNS-001 | error |" in md and "403 Forbidden" in md
    html = paths["html"].read_text()
    assert "INCOMPLETE</td>" in html and "ERROR</td>" in html


def test_a_pass_says_what_it_rests_on():
    r = Results()
    r.add(CaseResult("suites/test_dns.py::a", "STS-DNS-001", "pass", properties={"evidence": "3 names, 3 own IPs"}))
    row = r.by_id()["STS-DNS-001"]
    assert row["verdict"] == "pass" and row["evidence"] == ["3 names, 3 own IPs"]


def test_the_per_id_junit_has_one_case_per_id_with_its_verdict_word(tmp_path):
    """conformance-junit.xml (what Sonobuoy reads): one case per catalogue ID,
    FAIL as <failure>, SKIP/INCOMPLETE/NOT RUN as <skipped> led by their word
    (STS-ID-001 has required cases that did not run: INCOMPLETE)."""
    import xml.etree.ElementTree as ET

    r = sample()
    r.add(CaseResult("suites/test_identity.py::a", "STS-ID-001", "pass"))
    path = write_reports(r, {}, tmp_path)["junit"]
    suite = ET.parse(path).getroot()
    cases = {c.find("properties/property[@name='conformance_id']").get("value"): c for c in suite.iter("testcase")}
    assert list(cases) == list(CATALOGUE)
    assert suite.get("tests") == str(len(CATALOGUE))
    assert cases["STS-DNS-001"].get("name") == f"[STS-DNS-001] {CATALOGUE['STS-DNS-001']}"
    assert len(cases["STS-DNS-001"]) == 2  # properties and system-out: passed
    assert cases["STS-DNS-002"].find("failure").get("message").startswith("FAIL: STS-DNS-002: timed out")
    assert cases["STS-WIRE-002"].find("skipped").get("message") == "SKIP: FerretDB 1.24.2 does not replicate"
    assert cases["STS-AMO-001"].find("skipped").get("message").startswith("NOT RUN")
    assert int(suite.get("failures")) == 1 and int(suite.get("errors")) == 0
    assert cases["STS-ID-001"].find("skipped").get("message").startswith("INCOMPLETE: not run: ")
    assert int(suite.get("skipped")) == len(CATALOGUE) - 2
