"""Scenario fixtures shared by several suites (wiring only; the scenarios
themselves live in fixtures/scenarios.py)."""

import pytest

from fixtures.plugin import scenario_namespace, workload_spec
from fixtures.scenarios import Recreation, delete_and_recreate
from fixtures.workload import deploy

STORAGE = [pytest.param("hostPath", id="hostPath"), pytest.param("pvc", id="volumeClaimTemplates")]


@pytest.fixture(scope="session", params=STORAGE)
def recreation(request, cluster, settings, workload_image, timeouts, progress) -> Recreation:
    """A fresh workload whose pod ordinal 1 was deleted and replaced, with
    every pod's storage marked before and read back after."""
    storage = request.param
    with scenario_namespace(request, cluster, settings, timeouts) as (ns, rec):
        rec.mark("deploy", storage=storage)
        wl = deploy(cluster.api, ns, workload_spec(settings, workload_image, storage=storage))
        result = delete_and_recreate(wl, 1, cluster.kubectl, cluster.kubeconfig, timeouts, rec)
        # The verdicts judge the scenario alone, not what later tests do to the cluster.
        result.timeline = rec.stop()
        progress(f"recreation[{storage}]: {result.victim} replaced in {result.durations['delete_to_replacement_ready_s']}s")
        yield result
