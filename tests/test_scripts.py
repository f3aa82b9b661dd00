"""The set-up scripts: idempotent, and one clear line when they cannot work."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENSURE_DOCKER = ROOT / "scripts" / "ensure-docker"
BUILD = ROOT / "images" / "build"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")


def as_nobody(*cmd, env=None):
    return subprocess.run(["runuser", "-u", "nobody", "--", *cmd], capture_output=True, text=True,
                          timeout=120, env=env, cwd="/")


@needs_root
def test_ensure_docker_without_root_and_without_an_engine_says_so_in_one_line():
    # `nobody` cannot reach the root-owned engine socket: to it, no engine answers.
    res = as_nobody("bash", str(ENSURE_DOCKER))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("ensure-docker: error: no Docker engine answers and starting one needs root")


@needs_root
def test_ensure_docker_is_idempotent():
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("no Docker engine answers on this machine; scripts/test starts one before the tests")
    daemon_json = Path("/etc/docker/daemon.json")
    before = daemon_json.read_text() if daemon_json.exists() else None
    res = subprocess.run(["bash", str(ENSURE_DOCKER)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == ""  # nothing to do, nothing said
    assert (daemon_json.read_text() if daemon_json.exists() else None) == before


@needs_root
def test_runtime_wrapper_is_registered_only_when_the_capability_is_missing():
    bnd = int(next(l.split()[1] for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("CapBnd:")), 16)
    daemon_json = Path("/etc/docker/daemon.json")
    if not daemon_json.exists():
        pytest.skip("the engine here was not started by scripts/ensure-docker")
    cfg = json.loads(daemon_json.read_text())
    has_sys_resource = bool(bnd >> 24 & 1)
    assert (cfg.get("default-runtime") == "sts-runc") == (not has_sys_resource)


@needs_root
def test_image_build_needs_root():
    res = as_nobody("bash", str(BUILD))
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "images/build: error: building images needs root (debootstrap, chroot, containerd); run it as root"]


@needs_root
def test_a_failed_go_build_names_the_step_and_its_log(tmp_path):
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("no Docker engine answers; images/build checks for one first")
    env = {**os.environ, "STS_CACHE_DIR": str(tmp_path), "KIND_VERSION": "v0.0.0-sts-does-not-exist"}
    res = subprocess.run(["bash", str(BUILD)], capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 1
    log = tmp_path / "logs" / "kind.log"
    assert "images/build: error: step 'kind' failed after" in res.stderr
    assert f"last lines of {log}:" in res.stderr
    assert log.exists()
    # A failed step leaves no half-made output that a later run could take for done.
    assert not list((tmp_path / "out").iterdir())


def test_image_build_rejects_an_unknown_mutant_before_building_anything():
    res = subprocess.run(["bash", str(BUILD), "--mutants", "ordered-as-parallel,no-such-mutant"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("images/build: error: no mutant 'no-such-mutant' (images/mutants/no-such-mutant.patch); "
                               "choose from: available-at-once claims-never-deleted"), lines[0]


@pytest.mark.parametrize("script, says", [("setup", "the only one is --env-only"), ("benchmark", "the only one is --cold")])
def test_an_unknown_argument_is_one_line_before_anything_starts(script, says):
    proc = subprocess.run(["bash", str(ROOT / "scripts" / script), "--bogus"], capture_output=True, text=True,
                          timeout=30, cwd=ROOT)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [f"{script}: error: unknown argument --bogus ({says})"]
