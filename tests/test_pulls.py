"""A machine that can pull: a run that starts with neither its node image nor
its workload image in local Docker pulls them, from a CNCF distribution
registry (built from the Go module proxy) running on this machine. The
registry serves twice: as "the internet" (this machine's Docker pulls
docker.io images through it, as its registry-mirrors setting says) and as
the kind nodes' registry mirror (--registry-mirror)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from fixtures.child import ROOT, read_junit, run_stoppable
from fixtures.cluster import DEFAULT_CACHE, built_images_env, kind_clusters, node_image_present
from fixtures.plugin import side_by_side

pytestmark = pytest.mark.cluster
DAEMON_JSON = Path("/etc/docker/daemon.json")
# The file as it was, while the test has changed it: scripts/ensure-docker
# puts it back if a killed run left it (a SIGKILL skips every finally).
DAEMON_JSON_BACKUP = Path("/etc/docker/daemon.json.sts-backup")
# Who made the backup: while that process lives, scripts/ensure-docker
# leaves the file alone (another run's ensure-docker took it back once, in
# the middle of this test).
DAEMON_JSON_OWNER = Path("/etc/docker/daemon.json.sts-backup.pid")
# Tags local Docker does not hold (the session's own cluster needs the
# images' local names, so they cannot be removed for this test): the
# registry holds the images under their upstream repositories with these.
PULLED_TAG = "-from-registry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def registry(root: Path):
    """The distribution registry on 0.0.0.0:PORT (the kind nodes reach it
    at their network's gateway), storing under `root`; yields (port, log)."""
    binary = DEFAULT_CACHE / "bin" / "registry"
    if not os.access(binary, os.X_OK):
        pytest.fail(f"no registry at {binary}: scripts/test builds it (images/build --registry)")
    port = free_port()
    config = root / "config.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
                      f"http:\n  addr: 0.0.0.0:{port}\n")
    log = root / "registry.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(binary), "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the registry did not answer on {port}: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield port, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root / "data", ignore_errors=True)  # the pushed layers: about 600 MB


def docker_mirrors() -> list[str]:
    out = subprocess.run(["docker", "info", "--format", "{{json .RegistryConfig.Mirrors}}"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out) or []


@contextlib.contextmanager
def docker_pulls_through(url: str):
    """This machine's Docker pulls docker.io images through `url` first
    (daemon.json registry-mirrors, reloaded by SIGHUP: no restart, running
    containers untouched); the file is put back afterwards."""
    before = DAEMON_JSON.read_text() if DAEMON_JSON.exists() else None
    pidfile = Path("/var/run/docker.pid")
    pid = pidfile.read_text().strip() if pidfile.is_file() else ""
    if not pid.isdigit() or os.geteuid() != 0:
        pytest.skip("needs root and this machine's dockerd (/var/run/docker.pid) to point Docker at the registry")

    def reload(want) -> None:
        os.kill(int(pid), signal.SIGHUP)
        deadline = time.monotonic() + 30
        while want(docker_mirrors()) is False:
            if time.monotonic() > deadline:
                raise AssertionError(f"dockerd did not take the mirror setting: {docker_mirrors()}")
            time.sleep(0.5)

    doc = json.loads(before) if before else {}
    DAEMON_JSON_OWNER.write_text(f"{os.getpid()}\n")
    DAEMON_JSON_BACKUP.write_text(before if before is not None else "")
    DAEMON_JSON.write_text(json.dumps({**doc, "registry-mirrors": [url]}, indent=2))
    try:
        reload(lambda mirrors: any(m.rstrip("/") == url for m in mirrors))
        yield
    finally:
        # A reload leaves alone what the file does not name: say the
        # original mirrors (none, mostly) out loud, then put the file back.
        DAEMON_JSON.write_text(json.dumps({**doc, "registry-mirrors": doc.get("registry-mirrors", [])}, indent=2))
        reload(lambda mirrors: not any(m.rstrip("/") == url for m in mirrors))
        if before is None:
            DAEMON_JSON.unlink()
        else:
            DAEMON_JSON.write_text(before)
        DAEMON_JSON_BACKUP.unlink()
        DAEMON_JSON_OWNER.unlink(missing_ok=True)


def push(image: str, port: int, tag_suffix: str) -> str:
    """IMAGE into the registry under its own repository with the tag plus
    `tag_suffix`; returns that name as a docker.io reference."""
    name = f"{image}{tag_suffix}"
    remote = f"127.0.0.1:{port}/{name}"
    subprocess.run(["docker", "tag", image, remote], check=True, capture_output=True)
    try:
        res = run_stoppable(["docker", "push", "-q", remote], 900, f"docker push {remote}")
        assert res.returncode == 0, f"docker push {remote}: {res.stderr.strip()[-500:]}"
    finally:
        subprocess.run(["docker", "rmi", remote], capture_output=True)
    subprocess.run(["docker", "rmi", name], capture_output=True)  # never held locally
    assert not node_image_present(name)
    return name


def kind_gateway() -> str:
    out = subprocess.run(["docker", "network", "inspect", "kind", "-f",
                          "{{range .IPAM.Config}}{{.Gateway}} {{end}}"], capture_output=True, text=True, check=True)
    v4 = [g for g in out.stdout.split() if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", g)]
    assert v4, f"the kind network has no IPv4 gateway: {out.stdout!r}"
    return v4[0]


def requests(log: Path, repo: str, tag: str, after: int = 0) -> list[str]:
    """The registry's access-log lines, from byte `after` on, asking for
    `repo:tag`'s manifest (a HEAD or GET by tag; the layers follow by digest)."""
    return [line for line in log.read_bytes()[after:].decode(errors="replace").splitlines()
            if re.search(rf'"(HEAD|GET) /v2/{re.escape(repo)}/manifests/{re.escape(tag)}[ ?]', line)]


@side_by_side()
def test_a_run_with_neither_image_local_pulls_both_from_the_registry(cluster, settings, tmp_path):
    """A fresh kind cluster (1+3) from a node image only the registry holds,
    pulled by this machine's Docker through its mirror setting; a workload
    image only the registry holds, pulled by the nodes' containerd through
    --registry-mirror; the stable-name DNS check passes on it; the registry's log shows
    both pulls, by Docker and by containerd."""
    if not cluster.kind:
        pytest.skip("makes a kind cluster of its own: needs this machine's Docker")
    node_image = built_images_env().get("STS_NODE_IMAGE")
    standin = built_images_env().get("STS_STANDIN_IMAGE")
    assert node_image and standin, "images/build has not recorded its node and stand-in images"
    name = f"sts-pulls-{secrets.token_hex(2)}"
    with registry(tmp_path) as (port, log):
        pulled_node = push(node_image, port, PULLED_TAG)
        pulled_standin = push(standin, port, PULLED_TAG)
        mirror = f"{kind_gateway()}:{port}"
        pushed = log.stat().st_size  # what the pushes logged: not the child's pulls
        with docker_pulls_through(f"http://127.0.0.1:{port}"):
            junit = tmp_path / "junit.xml"
            # One check on the pulled images is the point (the pulls are what is
            # under test): STS-DNS-001, which every pod of the workload serves.
            cmd = [str(ROOT / ".venv" / "bin" / "python"), "-m", "pytest", "suites/test_dns.py", "-k", "stable_name",
                   "-p", "no:cacheprovider", "-q", f"--cluster-name={name}", "--workers=3", f"--kind-image={pulled_node}",
                   f"--registry-mirror={mirror}", "--profile=stand-in", f"--workload-image={pulled_standin}",
                   f"--reports-dir={tmp_path / 'reports'}", f"--junitxml={junit}"]
            env = {k: v for k, v in os.environ.items() if k != "STS_NODE_SCOPE"}
            try:
                proc = run_stoppable(cmd, 1500, "the pulling run", cwd=ROOT, env=env)
            finally:
                # Whatever happened to the child: no cluster of this test left.
                if name in kind_clusters(built_images_env().get("STS_KIND", "kind")):
                    subprocess.run([built_images_env().get("STS_KIND", "kind"), "delete", "cluster", "--name", name],
                                   capture_output=True)
                subprocess.run(["docker", "rmi", pulled_node, pulled_standin], capture_output=True)
        out = proc.stdout + proc.stderr
        (tmp_path / "child.log").write_text(out)
        tail = out[-4000:]
        assert proc.returncode == 0, tail
        cases = read_junit(junit)
        assert cases and all(outcome in ("passed", "skipped") for _, outcome, _ in cases.values()), cases
        assert any(cid == "STS-DNS-001" and outcome == "passed" for cid, outcome, _ in cases.values()), cases
        assert f"node image {pulled_node} is not in local Docker: pulling it" in out, tail
        assert f"they pull it through the mirror http://{mirror}" in out, tail
        node_pulls = requests(log, "kindest/node", pulled_node.rpartition(":")[2], pushed)
        standin_repo, _, standin_tag = pulled_standin.rpartition(":")
        workload_pulls = requests(log, standin_repo, standin_tag, pushed)
        assert any("docker/" in line for line in node_pulls), f"no pull of the node image by Docker: {node_pulls[:3]}"
        assert any(re.search(r'"containerd/[^"]*"$', line) for line in workload_pulls), \
            f"no pull of the workload image by the nodes' containerd: {workload_pulls[:3]}"
