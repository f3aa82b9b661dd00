"""The regression corpus: entries load and validate, releases are planned
one cluster each, and cells are judged from recorded conformance rows."""

import json

import pytest

from fixtures.errors import SuiteError
from fixtures.regressions import (CORPUS_DIR, Cell, Expect, ReleaseRun, judge, load_corpus, load_entry, plan,
                                  pytest_args, to_json, to_markdown, write_reports)

GOOD = """
title: t
upstream: {issue: 1, fix: 2}
releases: {buggy: v1.28.4, fixed: v1.28.5}
how_found: from the changelog
runs: [{suite: suites/test_termination.py}]
expect:
  buggy: {STS-TERM-001: {verdict: fail, reason: ["still the old pod", "Succeeded"]}}
  fixed: {STS-TERM-001: pass}
"""


def entry(tmp_path, text=GOOD, name="e"):
    p = tmp_path / f"{name}.yaml"
    p.write_text(text)
    return load_entry(p)


def test_the_corpus_in_the_repository_loads_and_names_known_ids():
    entries = load_corpus()
    assert entries, f"no entries in {CORPUS_DIR}"
    for e in entries:
        assert e.how_found and e.upstream.get("fix")
        assert e.expect["buggy"] and e.expect["fixed"]


@pytest.mark.parametrize("change, words", [
    (("v1.28.5}", "v1.28}"), "not a Kubernetes release"),
    (("STS-TERM-001: pass", "STS-NOPE-001: pass"), "unknown ID STS-NOPE-001"),
    (("suites/test_termination.py", "suites/test_nothing.py"), "no suite file"),
    (("verdict: fail", "verdict: red"), "verdict must be one of"),
    (("fixed: v1.28.5", "fixed: v1.28.4"), "both v1.28.4"),
    (("how_found: from the changelog\n", ""), "missing how_found"),
])
def test_a_bad_entry_is_one_clear_line(tmp_path, change, words):
    with pytest.raises(SuiteError, match=words):
        entry(tmp_path, GOOD.replace(*change))


def test_an_unknown_entry_name_is_refused_before_anything_runs():
    with pytest.raises(SuiteError, match="no corpus entry nope"):
        load_corpus(only=["nope"])


def test_one_cluster_per_release_in_release_order_with_the_union_of_selections(tmp_path):
    a = entry(tmp_path, name="a")
    b = entry(tmp_path, GOOD.replace("v1.28.4", "v1.28.10").replace("v1.28.5", "v1.28.11")
              .replace("[{suite: suites/test_termination.py}]",
                       "[{suite: suites/test_termination.py, k: graceful}, {suite: suites/test_dns.py, k: resolves}]"),
              name="b")
    c = entry(tmp_path, GOOD.replace("v1.28.4", "v1.28.10"), name="c")
    p = plan([a, b, c])
    assert list(p) == ["v1.28.4", "v1.28.5", "v1.28.10", "v1.28.11"]
    assert [(e.name, side) for e, side in p["v1.28.10"]] == [("b", "buggy"), ("c", "buggy")]
    args = pytest_args(p["v1.28.10"])
    assert args[:2] == ["suites/test_dns.py", "suites/test_termination.py"]
    # c wants all of test_termination, so b's narrower selection there adds nothing.
    assert args[3] == "(test_dns and ((resolves))) or test_termination"
    assert pytest_args(p["v1.28.11"])[3] == "(test_dns and ((resolves))) or (test_termination and ((graceful)))"


ROW_FAIL = {"verdict": "fail", "reasons": ["STS-TERM-001: a did not hold within 300s; last seen: mongo-1: still the old "
                                           "pod (UID u) Succeeded"]}


@pytest.mark.parametrize("want, row, ok, observed", [
    (Expect("STS-TERM-001", "fail", ("still the old pod", "Succeeded")), ROW_FAIL, True, "fail"),
    (Expect("STS-TERM-001", "fail", ("still the old pod", "Failed")), ROW_FAIL, False, "fail"),
    (Expect("STS-TERM-001", "pass"), ROW_FAIL, False, "fail"),
    (Expect("STS-TERM-001", "pass"), {"verdict": "pass", "reasons": []}, True, "pass"),
    (Expect("STS-TERM-001", "fail"), {"verdict": "error", "reasons": ["kubelet did not act"]}, False, "error"),
    (Expect("STS-TERM-001", "pass"), {"verdict": "skip", "reasons": ["not allowed"]}, False, "skip"),
    (Expect("STS-TERM-001", "pass"), None, False, "absent"),
])
def test_a_cell_is_green_only_for_the_expected_verdict_and_reason(want, row, ok, observed):
    got_ok, got_observed, reason = want.judge(row)
    assert (got_ok, got_observed) == (ok, observed)
    if row and not ok and row["verdict"] == "fail" and want.verdict == "fail":
        assert reason.startswith("failed for another reason")


def test_a_release_that_could_not_run_makes_every_cell_of_it_red(tmp_path):
    a = entry(tmp_path, name="a")
    cells = judge([(a, "buggy")], ReleaseRun("v1.28.4", error="images/build for v1.28.4 failed"))
    assert [(c.ok, c.observed) for c in cells] == [(False, "error")]


def test_reports_hold_every_cell_and_count_the_red_ones(tmp_path):
    a = entry(tmp_path, name="a")
    runs = {"v1.28.4": ReleaseRun("v1.28.4", 100, 50, 1, "", "v1.28.4", {"STS-TERM-001": ROW_FAIL}),
            "v1.28.5": ReleaseRun("v1.28.5", 100, 50, 1, "", "v1.28.5", {"STS-TERM-001": ROW_FAIL})}
    cells = judge([(a, "buggy")], runs["v1.28.4"]) + judge([(a, "fixed")], runs["v1.28.5"])
    paths = write_reports([a], runs, cells, tmp_path / "out")
    doc = json.loads(paths[0].read_text())
    assert doc["red"] == 1 and len(doc["cells"]) == 2
    md = paths[1].read_text()
    assert "| v1.28.4 | buggy | STS-TERM-001 | fail (still the old pod + Succeeded) | fail |" in md
    assert "✗" in md and "Red cells: 1." in md
    assert to_markdown(to_json([a], runs, cells)) == md
    assert isinstance(cells[0], Cell)


def test_an_entry_with_options_runs_on_a_cluster_of_its_own(tmp_path):
    plain = entry(tmp_path, name="plain")
    variant = entry(tmp_path, GOOD.replace("how_found:", "args: [--workload-variant=duplicate-env]\nhow_found:"),
                    name="variant")
    p = plan([plain, variant])
    assert list(p) == ["v1.28.4", "v1.28.4 --workload-variant=duplicate-env", "v1.28.5",
                       "v1.28.5 --workload-variant=duplicate-env"]
    assert pytest_args(p["v1.28.4 --workload-variant=duplicate-env"])[-1] == "--workload-variant=duplicate-env"
    with pytest.raises(SuiteError, match="args must be a list of pytest options"):
        entry(tmp_path, GOOD.replace("how_found:", "args: workload\nhow_found:"), name="bad")


def test_a_pass_must_show_the_evidence_its_entry_names():
    want = Expect("STS-TERM-001", "pass", evidence=(" Succeeded",))
    ok, _, _ = want.judge({"verdict": "pass", "evidence": ["the kubelet ended mongo-1 (UID u) Succeeded: ..."]})
    assert ok
    ok, _, why = want.judge({"verdict": "pass", "evidence": ["the kubelet ended mongo-1 (UID u) Failed: ..."]})
    assert not ok and why.startswith("passed without showing")
