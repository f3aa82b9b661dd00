"""The suite as a Sonobuoy plugin (sonobuoy/): its definition, its entry
point's promises, scripts/sonobuoy's refusals, and a real `sonobuoy run`
of the plugin on this session's kind cluster."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from fixtures import groups
from fixtures.child import run_stoppable
from fixtures.cluster import built_images_env, pinned_versions
from fixtures.plugin import side_by_side

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "sonobuoy" / "sts-conformance.yaml"
ENTRY = ROOT / "sonobuoy" / "sts-sonobuoy"
SCRIPT = ROOT / "scripts" / "sonobuoy"
# The suite image's tag, as images/build --sonobuoy gives it.
SUITE_VERSION = re.search(r'^version = "(.*)"$', (ROOT / "pyproject.toml").read_text(), re.M).group(1)


def test_the_plugin_definition_is_a_job_that_returns_the_per_id_junit():
    doc = yaml.safe_load(PLUGIN.read_text())
    cfg = doc["sonobuoy-config"]
    assert cfg["driver"] == "Job" and cfg["plugin-name"] == "sts-conformance"
    assert cfg["result-format"] == "junit" and cfg["result-files"] == ["conformance-junit.xml"]
    spec = doc["spec"]
    assert spec["image"] == f"sts-conformance/suite:{SUITE_VERSION}"  # what images/build --sonobuoy tags
    assert spec["command"] == ["/usr/local/bin/sts-sonobuoy"]
    env = {e["name"]: e for e in spec["env"]}
    assert env["STS_SELF_NODE"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert {"mountPath": "/tmp/sonobuoy/results", "name": "results"} in spec["volumeMounts"]
    # A podSpec replaces Sonobuoy's default one: it must keep its ServiceAccount.
    assert doc["podSpec"]["serviceAccountName"] == "sonobuoy-serviceaccount"
    assert doc["podSpec"]["restartPolicy"] == "Never"


def test_the_plugin_pinned_to_a_node_keeps_the_rest_of_its_definition():
    """scripts/sonobuoy --sonobuoy-node: the plugin's pod is held to that node."""
    script = SCRIPT.read_text()
    fn = script[script.index("pin_plugin() {"):]
    fn = fn[:fn.index("\n}\n") + 3]
    proc = subprocess.run(["bash", "-c", f"{fn}\npin_plugin kind-control-plane"], input=PLUGIN.read_text(),
                          capture_output=True, text=True, check=True)
    pinned, original = yaml.safe_load(proc.stdout), yaml.safe_load(PLUGIN.read_text())
    assert pinned["podSpec"]["nodeSelector"] == {**original["podSpec"]["nodeSelector"],
                                                 "kubernetes.io/hostname": "kind-control-plane"}
    pinned["podSpec"]["nodeSelector"] = original["podSpec"]["nodeSelector"]
    assert pinned == original


def test_the_entry_point_writes_the_done_file_and_an_errored_case_when_the_suite_cannot_run(tmp_path):
    """pytest cannot start (the suites it is given do not exist): Sonobuoy
    still gets its done file, and the JUnit says the suite did not run (an
    error, never an empty pass)."""
    results = tmp_path / "results"
    env = {**os.environ, "SONOBUOY_RESULTS_DIR": str(results), "STS_SUITE_DIR": str(ROOT),
           "STS_SUITES": "suites/no_such_file.py", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", str(ENTRY)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = results / "sts-conformance"
    assert (results / "done").read_text().strip() == str(out)
    assert (out / "pytest-exit-code").read_text().strip() not in ("", "0")
    assert "no_such_file" in (out / "pytest.log").read_text()
    cases = list(ET.parse(out / "conformance-junit.xml").getroot().iter("testcase"))
    errors = [c.find("error") for c in cases if c.find("error") is not None]
    assert len(cases) == 1 and len(errors) == 1, [ET.tostring(c) for c in cases]
    assert errors[0].get("message").startswith("ERROR: pytest ended with exit code 4 ")


FAKE_PYTEST = """#!/bin/bash
# pytest as the entry point runs it, ending on SIGTERM as the suite does
# (as on Ctrl-C): a report of what was judged so far, exit code 2.
if [ "$1" = "-m" ]; then
    while [ $# -gt 0 ]; do [ "$1" = --reports-dir ] && dir=$2; shift; done
    trap 'printf "%s" "<testsuite name=\\"sts-conformance\\" tests=\\"1\\"><testcase classname=\\"sts-conformance\\" name=\\"[STS-DNS-001] x\\" /></testsuite>" > "$dir/conformance-junit.xml"; exit 2' TERM
    echo "fake pytest started"
    sleep 60 & wait $!
    exit 0
fi
exec REAL "$@"
"""


def test_the_entry_point_stopped_by_sigterm_stops_pytest_and_says_the_run_was_cut_short(tmp_path):
    """SIGTERM to the plugin's container (sonobuoy delete, its timeout): the
    entry point passes SIGTERM to pytest (which the suite takes as Ctrl-C),
    waits for it, keeps the report it wrote, adds an errored case saying
    the run did not finish (an interrupted run never reads as a pass), and
    writes the done file."""
    import signal
    import time

    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python").write_text(FAKE_PYTEST.replace("REAL", sys.executable))
    (fake / "python").chmod(0o755)
    results = tmp_path / "results"
    env = {**os.environ, "SONOBUOY_RESULTS_DIR": str(results), "STS_SUITE_DIR": str(ROOT),
           "PATH": f"{fake}:{os.environ['PATH']}"}
    proc = subprocess.Popen(["bash", str(ENTRY)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = results / "sts-conformance" / "pytest.log"
    deadline = time.monotonic() + 30
    while not (log.exists() and "fake pytest started" in log.read_text()):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopping the suite (SIGTERM to pytest, taken as Ctrl-C)" in err
    done = results / "done"
    assert done.read_text().strip() == str(results / "sts-conformance")
    assert (results / "sts-conformance" / "pytest-exit-code").read_text().strip() == "2"
    suite = ET.parse(results / "sts-conformance" / "conformance-junit.xml").getroot()
    cases = list(suite.iter("testcase"))
    assert [c.get("name") for c in cases] == ["[STS-DNS-001] x", "[sts-conformance] the suite ran to the end"]
    assert cases[1].find("error").get("message").startswith("ERROR: pytest ended with exit code 2 ")
    assert suite.get("tests") == "2" and suite.get("errors") == "1"


@pytest.mark.parametrize("args, says", [
    (["--kubeconfig", "/nonexistent/kubeconfig"], "kubeconfig /nonexistent/kubeconfig is not a readable file"),
    (["--timeout", "soon"], "--timeout wants whole seconds"),
    (["--profile", "postgres"], "--profile is mongodb or stand-in"),
    (["--bogus"], "unknown argument '--bogus'"),
    # A pytest argument with a space cannot pass through the plugin's environment.
    (["--", "-k", "dns and not wire"], "holds a space"),
])
def test_scripts_sonobuoy_refuses_bad_input_in_one_line_before_anything(tmp_path, args, says):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    # A docker that records any call: nothing may be built or started.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/docker-calls\nexit 1\n")
    (fake / "docker").chmod(0o755)
    if args[:1] != ["--kubeconfig"]:
        args = ["--kubeconfig", str(kubeconfig), *args]
    proc = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], proc.stderr
    assert not (tmp_path / "docker-calls").exists()


_LOADED = threading.Lock()
_loaded: set[tuple[str, str]] = set()


def images_on(cluster, node: str) -> None:
    """The suite and Sonobuoy images built (cached) and on `node`, once per
    session: the two runs below go side by side, and two `kind load`s of
    the same image into one containerd at once can trip over each other."""
    with _LOADED:
        if (cluster.name, node) in _loaded:
            return
        build = run_stoppable(["bash", str(ROOT / "images" / "build"), "--sonobuoy"], 1800, "images/build --sonobuoy")
        assert build.returncode == 0, build.stderr[-3000:]
        load = run_stoppable([built_images_env().get("STS_KIND", "kind"), "load", "docker-image", "--name", cluster.name,
                              "--nodes", node, f"sts-conformance/suite:{SUITE_VERSION}",
                              f"sts-conformance/sonobuoy:{pinned_versions()['SONOBUOY_VERSION']}"], 1200,
                             "kind load of the suite's and Sonobuoy's images")
        assert load.returncode == 0, load.stderr[-3000:]
        _loaded.add((cluster.name, node))


@pytest.mark.cluster
@side_by_side()
@pytest.mark.parametrize("defect", [None, "dns-unpublished"])
def test_the_sonobuoy_plugin_runs_on_the_cluster_and_results_show_the_per_id_verdicts(cluster, settings,
                                                                                    workload_image, tmp_path,
                                                                                    defect):
    """`sonobuoy run --plugin sonobuoy/sts-conformance.yaml` (through
    scripts/sonobuoy) on this session's kind cluster: the suite runs in its
    pod with the pod's ServiceAccount, and `sonobuoy results` lists one case
    per catalogue ID whose status agrees with the conformance.json that came
    back in the same tarball. With a workload whose headless Service
    publishes no pod (the negative control), STS-DNS-001 comes back failed,
    with the suite's word FAIL, and scripts/sonobuoy exits 1."""
    if not cluster.kind:
        pytest.skip("the images are put on the nodes with kind load: kind clusters only")
    control_plane = next(n.metadata.name for n in cluster.api.core.list_node().items
                         if "node-role.kubernetes.io/control-plane" in (n.metadata.labels or {}))
    images_on(cluster, control_plane)
    out = tmp_path / "sonobuoy"
    namespace = f"sts-sonobuoy-{defect or 'ci'}"
    pytest_args = [f"--workload-image={workload_image}"]
    if defect:  # only the check the defect breaks
        pytest_args += [f"--workload-defect={defect}", "-k", "stable_name"]
    cmd = ["bash", str(SCRIPT), "--no-build", "--kubeconfig", str(cluster.kubeconfig),
           "--sonobuoy-node", control_plane, "--profile", settings.profile, "--suites", "suites/test_dns.py",
           "--namespace", namespace, "--timeout", "1200", "--out", str(out), "--", *pytest_args]
    proc = run_stoppable(cmd, 2400, "scripts/sonobuoy", cwd=ROOT, env={**os.environ, **groups.env_for(groups.current())})
    (tmp_path / "sonobuoy.log").write_text(proc.stdout + proc.stderr)
    tail = (proc.stdout + proc.stderr)[-4000:]
    # scripts/sonobuoy exits with the suite's own code from the pod.
    assert proc.returncode == (1 if defect else 0), tail
    assert (out / "reports" / "pytest-exit-code").read_text().strip() == str(proc.returncode)
    # What `sonobuoy results --mode detailed` printed: one JSON object per case.
    rows = [json.loads(line) for line in (out / "results-detailed.jsonl").read_text().splitlines() if line.strip()]
    by_id, words = {}, {}
    for row in rows:
        m = re.match(r"\[(STS-[A-Z]+-\d+)\]", row.get("name", ""))
        if m:
            by_id[m.group(1)] = row.get("status")
            words[m.group(1)] = (row.get("details") or {}).get("system-out", "").split("\n")[0]
    report = json.loads((out / "reports" / "conformance.json").read_text())["guarantees"]
    assert set(by_id) == set(report), tail
    expected = {"pass": "passed", "fail": "failed", "error": "failed", "incomplete": "skipped", "skip": "skipped",
                "not run": "skipped"}
    assert {cid: expected[row["verdict"]] for cid, row in report.items()} == by_id
    want = "fail" if defect else "pass"
    assert report["STS-DNS-001"]["verdict"] == want, report["STS-DNS-001"]
    assert words["STS-DNS-001"] == f"STS-DNS-001: {want.upper()}"
    assert (out / "reports" / "junit.xml").is_file() and (out / "reports" / "conformance.html").is_file()
    assert "no --kubeconfig: using this pod's ServiceAccount" in (out / "reports" / "pytest.log").read_text()
    # Sonobuoy's namespace is gone (the suite's own went with its pod's run).
    left = [ns.metadata.name for ns in cluster.api.core.list_namespace().items
            if ns.metadata.name == namespace and ns.status.phase != "Terminating"]
    assert not left, left
