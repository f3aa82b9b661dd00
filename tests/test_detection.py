"""The detection matrix's plan, verdicts and reports, and the mutants'
patch files, without a cluster (the matrix itself: detection/)."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from fixtures.catalogue import CATALOGUE
from fixtures.detection import ROWS, SLICE, Row, RowResult, child_arguments, choose, judge_row, write_reports
from fixtures.mutants import all_mutants, mutant
from fixtures.options import matrix_rows

ROOT = Path(__file__).resolve().parent.parent


def row(name: str) -> Row:
    return next(r for r in choose([name]) if r.name == name)


def test_every_mutant_file_has_a_row_and_every_mutant_row_a_file():
    files = {m.name for m in all_mutants()}
    rows = {r.name for r in ROWS if r.kind == "mutant"}
    assert files == rows


@pytest.mark.parametrize("m", all_mutants(), ids=lambda m: m.name)
def test_each_mutant_says_what_it_stands_for_and_which_ids_it_breaks(m):
    assert m.stands_for.startswith(f"Mutant {m.name} ("), m.stands_for
    assert "Stands for:" in m.stands_for
    listed = set(re.findall(r"STS-[A-Z]+-\d{3}", m.stands_for))
    assert listed == set(next(r for r in ROWS if r.name == m.name).expect), (listed, m.name)
    assert m.component in ("kube-controller-manager", "coredns")
    assert re.fullmatch(r"sts-mutant-[a-z-]+-[0-9a-f]{16}", m.build_marker)


def _module_dir(module: str) -> Path | None:
    try:
        cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(cache) / module
    return path if path.is_dir() else None


def _dry_run(patch: Path, tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["patch", "-p1", "--dry-run", "--forward", "-d", str(tree), "-i", str(patch)],
                          capture_output=True, text=True)


@pytest.mark.parametrize("m", [m for m in all_mutants() if m.component == "kube-controller-manager"],
                         ids=lambda m: m.name)
def test_controller_mutants_apply_to_the_pinned_kubernetes_module(m, tmp_path):
    version = re.search(r'KUBERNETES_VERSION:=(v[\d.]+)', (ROOT / "images/versions.env").read_text()).group(1)
    src = _module_dir(f"k8s.io/kubernetes@{version}")
    if src is None:
        pytest.skip(f"k8s.io/kubernetes@{version} is not in the Go module cache (images/build downloads it)")
    for f in re.findall(r"^\+\+\+ b/(\S+)", m.patch.read_text(), re.M):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_bytes((src / f).read_bytes())
    res = _dry_run(m.patch, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_dns_mutant_applies_to_kubeadms_corefile(tmp_path):
    version = re.search(r'KUBERNETES_VERSION:=(v[\d.]+)', (ROOT / "images/versions.env").read_text()).group(1)
    src = _module_dir(f"k8s.io/kubernetes@{version}")
    if src is None:
        pytest.skip(f"k8s.io/kubernetes@{version} is not in the Go module cache (images/build downloads it)")
    manifests = (src / "cmd/kubeadm/app/phases/addons/dns/manifests.go").read_text()
    template = re.search(r"  Corefile: \|\n(.*?)\n`", manifests, re.S).group(1)
    # Render kubeadm's template for the default cluster domain, as kind's kubeadm does.
    # `{{-` trims the white space before it.
    text = re.sub(r"\s*\{\{- (if \.DNSDomain|end) \}\}", "", template).replace("{{ .DNSDomain }}", "cluster.local")
    corefile = "\n".join(line[4:] for line in text.splitlines()) + "\n"
    (tmp_path / "Corefile").write_text(corefile)
    res = _dry_run(mutant("stale-dns").patch, tmp_path)
    assert res.returncode == 0, corefile + res.stdout


def g(verdict, *reasons):
    return {"verdict": verdict, "reasons": list(reasons)}


def test_a_mutant_caught_by_its_ids_for_its_reason_is_green():
    r = row("ordered-as-parallel")
    cells = judge_row(r, {
        "STS-ORD-001": g("fail", "STS-ORD-001 violated: with OrderedReady, pod N is created only after ... #12"),
        "STS-ORD-002": g("fail", "STS-ORD-002: the scale moved within 30s"),
        "STS-ORD-003": g("fail", "STS-ORD-003: pods removed in the order [...]"),
    })
    assert [c.red for c in cells.values()] == ["", "", ""]
    # Not targeted, but seen: recorded, never red.
    assert cells["STS-ORD-003"].expected is None and cells["STS-ORD-003"].observed == "fail"


@pytest.mark.parametrize("observed, red", [
    (g("pass"), "not caught by STS-ORD-001: it read PASS"),
    (g("error", "timed out"), "not caught by STS-ORD-001: it read ERROR"),
    (g("skip", "needs --allow-disruptive"), "not caught by STS-ORD-001: it read SKIP"),
    (g("fail", "STS-ORD-001: the recording saw the creations"), "failed for another reason"),
    (None, "not caught by STS-ORD-001: it read NOT RUN"),
])
def test_a_mutant_not_caught_or_caught_for_another_reason_is_red(observed, red):
    got = {"STS-ORD-002": g("fail", "STS-ORD-002: the scale moved within 30s")}
    if observed:
        got["STS-ORD-001"] = observed
    cells = judge_row(row("ordered-as-parallel"), got)
    assert red in cells["STS-ORD-001"].red and not cells["STS-ORD-002"].red


def test_a_row_may_name_several_reasons_its_defect_causes():
    r = row("policy-parallel")
    base = {"STS-ORD-001": g("fail", "STS-ORD-001 violated: with OrderedReady, pod N is created only after"),
            "STS-ORD-002": g("fail", "STS-ORD-002: the scale moved within 15s")}
    for reason in ("STS-ORD-003: pods removed in the order ['mongo-2', 'mongo-3', 'mongo-1']",
                   "STS-ORD-003 violated: ... #51: mongo-2 began terminating while mongo-3 was still being removed"):
        assert not judge_row(r, {**base, "STS-ORD-003": g("fail", reason)})["STS-ORD-003"].red
    other = judge_row(r, {**base, "STS-ORD-003": g("fail", "STS-ORD-003: the recording saw nothing")})["STS-ORD-003"]
    assert "expected 'STS-ORD-003: pods removed in the order' or 'began terminating while'" in other.red


def test_the_unmutated_row_is_red_wherever_a_check_does_not_pass():
    r = choose(["ordered-as-parallel"])[0]
    assert r.name == "unmutated" and r.runs == row("ordered-as-parallel").runs
    cells = judge_row(r, {"STS-ORD-001": g("pass"), "STS-ORD-002": g("fail", "x"), "STS-ORD-003": g("incomplete")})
    assert not cells["STS-ORD-001"].red
    assert "STS-ORD-002 read FAIL on the unmutated cluster" == cells["STS-ORD-002"].red
    assert "INCOMPLETE" in cells["STS-ORD-003"].red
    assert judge_row(r, {})["(none)"].red == "no check ran on the unmutated cluster"


def test_the_unmutated_row_accepts_ids_whose_selected_cases_all_passed():
    r = choose(["unsafe-gc"])[0]
    one_kind = {"verdict": "incomplete", "reasons": [], "cases": [{"outcome": "pass"}],
                "not_run": {"crash": "not selected in this run", "stop": "not selected in this run"}}
    cell = judge_row(r, {"STS-AMO-001": one_kind})["STS-AMO-001"]
    assert not cell.red and cell.observed == "pass" and "not selected here: crash, stop" in cell.reasons[0]
    failed_one = {**one_kind, "cases": [{"outcome": "pass"}, {"outcome": "fail"}]}
    assert judge_row(r, {"STS-AMO-001": failed_one})["STS-AMO-001"].red
    skipped = {**one_kind, "not_run": {"crash": "skipped: needs --allow-disruptive"}}
    assert judge_row(r, {"STS-AMO-001": skipped})["STS-AMO-001"].red


def test_the_unmutated_row_runs_every_selection_of_the_rows_and_allows_faults_only_when_one_needs_them():
    full = choose(None)[0]
    assert set(full.runs) == {s for r in ROWS for s in r.runs}
    assert "--allow-disruptive" in full.args
    assert "--allow-disruptive" not in choose(list(SLICE))[0].args
    suites, args = child_arguments(row("no-identity"))
    assert suites == ["suites/test_dns.py", "suites/test_identity.py"]
    assert args[:2] == ["-k", "(test_dns and (every_pod_resolves_by_its_stable_name)) or "
                              "(test_identity and (recreated_pod_keeps and hostPath))"]


def test_every_row_targets_catalogue_ids_and_says_what_it_stands_for():
    for r in choose(None):
        assert set(r.expect) <= set(CATALOGUE), r.name
        assert r.stands_for, r.name


def test_matrix_option_takes_all_slice_or_known_rows():
    import argparse

    assert matrix_rows("all") is None and matrix_rows("slice") == SLICE
    assert matrix_rows("unmutated,stale-dns") == ("unmutated", "stale-dns")
    with pytest.raises(argparse.ArgumentTypeError, match="unknown row"):
        matrix_rows("stale-dns,nope")


def test_reports_show_each_cell_and_every_red_one(tmp_path):
    r = row("stale-dns")
    green = RowResult(choose(["stale-dns"])[0], judge_row(choose(["stale-dns"])[0], {"STS-DNS-002": g("pass")}), 50, 0)
    red = RowResult(r, judge_row(r, {"STS-DNS-002": g("pass")}), 80, 0,
                    swap=["CoreDNS coredns-x runs configuration SHA512 ab…", "original back"])
    paths = write_reports([green, red], {"kubernetes_version": "v1.34.4", "profile": "stand-in"}, tmp_path)
    doc = json.loads(paths[0].read_text())
    assert doc["red_cells"] == 1 and doc["columns"] == ["STS-DNS-002"]
    assert doc["rows"][1]["red"] == ["stale-dns not caught by STS-DNS-002: it read PASS"]
    assert doc["rows"][1]["swap"][1] == "original back"
    md = paths[1].read_text()
    assert "| unmutated | unmutated | ✓ PASS |" in md and "| stale-dns | mutant | ✗ PASS |" in md
    assert "**red**: stale-dns not caught" in md
    page = paths[2].read_text()
    assert "background:#f7c4c4" in page and "<li>stale-dns not caught by STS-DNS-002: it read PASS</li>" in page


def test_the_conformance_page_shows_this_runs_matrix_only(tmp_path):
    from fixtures.report import write_html

    r = row("stale-dns")
    write_reports([RowResult(r, judge_row(r, {"STS-DNS-002": g("fail", "x")}), 80, 1)], {}, tmp_path)
    generated = json.loads((tmp_path / "detection.json").read_text())["generated"]
    doc = {"cluster": {}, "guarantees": {}, "summary": {}, "suite": {"version": "0"}, "finished": "-"}
    page = write_html({**doc, "started": generated}, tmp_path / "artifacts", tmp_path / "c.html").read_text()
    assert "<h2>Detection matrix</h2>" in page and "for another reason than stale-dns causes" in page
    later = write_html({**doc, "started": "9999"}, tmp_path / "artifacts", tmp_path / "c.html").read_text()
    assert "Detection matrix" not in later


@pytest.mark.parametrize("running, released", [
    (["abc123"], True),              # only the new container runs: the dead leader's lease goes
    (["abc123", "old999"], False),   # the old one still runs: never two leaders
    (["other1"], False),             # not the container the pod reports
    ([], False),
])
def test_a_dead_leaders_lease_is_released_only_when_the_new_controller_manager_runs_alone(monkeypatch, running,
                                                                                          released):
    from types import SimpleNamespace

    from fixtures import mutants

    deleted = []

    class Coordination:
        def delete_namespaced_lease(self, name, namespace):
            deleted.append((name, namespace))

    # Patched on the mutants module only: the session running this test may
    # be using the kubernetes client in other threads.
    monkeypatch.setattr(mutants, "_kcm_containers", lambda node: list(running))
    monkeypatch.setattr(mutants, "_coordination", lambda cluster: Coordination())
    cluster = SimpleNamespace(api=SimpleNamespace(api_client=None))
    now = mutants._Kcm("img", "containerd://abc123def", True, "old-holder", "")
    assert mutants._release_dead_leaders_lease(cluster, "cp", now) is released
    assert deleted == ([("kube-controller-manager", "kube-system")] if released else [])
