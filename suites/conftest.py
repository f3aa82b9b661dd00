"""Scenario fixtures shared by several suites (wiring only; the scenarios
themselves live in fixtures/scenarios.py)."""

import pytest

from fixtures.plugin import artifacts_dir, suite_namespace, workload_spec
from fixtures.scenarios import Recreation, delete_and_recreate
from fixtures.timeline import Recorder
from fixtures.workload import deploy

STORAGE = [pytest.param("hostPath", id="hostPath"), pytest.param("pvc", id="volumeClaimTemplates")]


@pytest.fixture(scope="session", params=STORAGE)
def recreation(request, cluster, settings, workload_image, timeouts, progress) -> Recreation:
    """A fresh workload whose pod ordinal 1 was deleted and replaced, with
    every pod's storage marked before and read back after."""
    storage = request.param
    label = f"recreation[{storage}]"

    def failed():
        return any(getattr(i, "rep_call", None) is not None and i.rep_call.failed
                   and "recreation" in i.fixturenames and f"[{storage}" in i.nodeid
                   for i in request.session.items)

    with suite_namespace(cluster, label, timeouts, failed, artifacts_dir(settings, label)) as ns:
        rec = Recorder(cluster.api, ns).start()
        try:
            rec.mark("deploy", storage=storage)
            wl = deploy(cluster.api, ns, workload_spec(settings, workload_image, storage=storage))
            result = delete_and_recreate(wl, 1, cluster.kubectl, cluster.kubeconfig, timeouts, rec)
        finally:
            result_timeline = rec.stop()
            result_timeline.save(artifacts_dir(settings, label) / "timeline.json")
        result.timeline = result_timeline
        progress(f"{label}: {result.victim} replaced in {result.durations['delete_to_replacement_ready_s']}s")
        yield result
