"""Scenario fixtures shared by several suites (wiring only; the scenarios
themselves live in fixtures/scenarios.py)."""

import time

import pytest

from fixtures.plugin import scenario_namespace, workload_spec
from fixtures.scenarios import Recreation, delete_and_recreate
from fixtures.workload import deploy, pick_nodes

STORAGE = [pytest.param("hostPath", id="hostPath"), pytest.param("pvc", id="volumeClaimTemplates")]


@pytest.fixture(scope="session", params=STORAGE)
def recreation(request, cluster, settings, workload_image, timeouts, progress) -> Recreation:
    """A fresh workload whose pod ordinal 1 was deleted and replaced, with
    every pod's storage marked before and read back after."""
    storage = request.param
    if storage == "hostPath" and settings.cluster == "existing" and settings.storage != "hostPath":
        pytest.skip("hostPath storage on a cluster the suite did not create is used only when asked "
                    "(--storage hostPath): it needs a Pod Security level above baseline, and leaves data on the nodes "
                    "until the suite removes it")
    with scenario_namespace(request, cluster, settings, timeouts) as (ns, rec):
        t0 = time.monotonic()
        rec.mark("deploy", storage=storage)
        # One node per replica: a recreated pod can only come back to its own
        # node, where hostPath data lives.
        nodes = pick_nodes(cluster.api, 3, "the recreation scenario")
        wl = deploy(cluster.api, ns, workload_spec(settings, workload_image, storage=storage, nodes=nodes))
        result = delete_and_recreate(wl, 1, cluster.kubectl, cluster.kubeconfig, timeouts, rec)
        result.scenario_seconds = round(time.monotonic() - t0, 1)
        # The verdicts judge the scenario alone, not what later tests do to the cluster.
        result.timeline = rec.stop()
        progress(f"recreation[{storage}]: {result.victim} replaced in {result.durations['delete_to_replacement_ready_s']}s")
        yield result
