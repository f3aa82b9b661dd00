"""Ctrl-C while the cluster is being made leaves no kind node containers behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.cluster import node_containers

ROOT = Path(__file__).resolve().parent.parent
NAME = "sts-interrupt-check"

pytestmark = pytest.mark.cluster


@pytest.fixture
def no_leftovers():
    yield
    # Whatever happened, do not leave this test's cluster running.
    if node_containers(NAME):
        subprocess.run(["docker", "rm", "-f", "-v", *node_containers(NAME)], capture_output=True)


def test_ctrl_c_during_cluster_creation_deletes_the_nodes(cluster, no_leftovers, tmp_path):
    if not cluster.kind:
        pytest.skip("needs Docker and kind: this session runs against an existing cluster")
    # Its nodes join the kind network only while no node of ours is down
    # (fixtures/faults.py: ADDRESS_LOCK): the child's KindProvider.create
    # takes the lock itself.
    _interrupt_creation(tmp_path)


def _interrupt_creation(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "suites/test_wire.py", "-p", "no:cacheprovider", f"--cluster-name={NAME}",
         "--workers=1", "--profile=stand-in", f"--reports-dir={tmp_path}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 780  # the address lock may hold creation up to 600s
    while not node_containers(NAME):
        assert proc.poll() is None, f"the run ended before creating nodes:\n{proc.stdout.read()[-3000:]}"
        assert time.monotonic() < deadline, "no kind node container appeared within 780s (creation waits for the address lock up to 600s)"
        time.sleep(0.5)
    # What a terminal sends on Ctrl-C: SIGINT to the whole foreground group.
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, out[-3000:]
    assert node_containers(NAME) == [], f"node containers left behind after Ctrl-C:\n{out[-3000:]}"
    assert "deleting kind cluster" in out, out[-3000:]
