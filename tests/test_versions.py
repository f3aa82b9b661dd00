"""Reports of several releases combine into one table per ID and release."""

import json

import pytest

from fixtures.versions import load, main, table, to_markdown


def report(tmp_path, name, version, verdicts):
    d = tmp_path / name
    d.mkdir()
    (d / "conformance.json").write_text(json.dumps({
        "cluster": {"server_version": version} if version else {},
        "guarantees": {cid: {"verdict": v, "reasons": [f"why {cid}"] if v != "pass" else []}
                       for cid, v in verdicts.items()}}))
    return d


def test_one_column_per_release_newest_first_and_reasons_for_what_did_not_pass(tmp_path):
    a = report(tmp_path, "a", "v1.28.4", {"STS-TERM-001": "fail", "STS-DNS-001": "pass"})
    b = report(tmp_path, "b", "v1.34.4", {"STS-TERM-001": "pass", "STS-DNS-001": "pass"})
    c = report(tmp_path, "c", "v1.28.10", {"STS-DNS-001": "error"})
    t = table(load([a, b / "conformance.json", c]))
    assert t["releases"] == ["v1.34.4", "v1.28.10", "v1.28.4"]
    md = to_markdown(t)
    assert "| STS-DNS-001 | PASS | ERROR | PASS |" in md
    assert "| STS-TERM-001 | PASS | — | FAIL |" in md
    assert "- STS-TERM-001 on v1.28.4: FAIL: why STS-TERM-001" in md


def test_two_reports_of_one_release_or_one_without_a_release_are_refused(tmp_path):
    a = report(tmp_path, "a", "v1.28.4", {})
    b = report(tmp_path, "b", "v1.28.4", {})
    with pytest.raises(SystemExit, match="two reports of v1.28.4"):
        load([a, b])
    with pytest.raises(SystemExit, match="no cluster.server_version"):
        load([report(tmp_path, "c", None, {})])
    with pytest.raises(SystemExit, match="no conformance.json"):
        load([tmp_path / "nowhere"])


def test_the_command_writes_markdown_and_json(tmp_path):
    a = report(tmp_path, "a", "v1.28.4", {"STS-TERM-001": "fail"})
    out = tmp_path / "out" / "versions.md"
    assert main([str(a), "--out", str(out)]) == 0
    assert "STS-TERM-001" in out.read_text()
    assert json.loads(out.with_suffix(".json").read_text())["releases"] == ["v1.28.4"]


def test_the_command_still_makes_the_table_when_one_run_left_no_report(tmp_path):
    a = report(tmp_path, "a", "v1.28.4", {"STS-TERM-001": "fail"})
    out = tmp_path / "versions.md"
    assert main([str(a), str(tmp_path / "missing"), "--out", str(out)]) == 0
    text = out.read_text()
    assert "| STS-TERM-001 | FAIL |" in text and "No report: no conformance.json at" in text
