"""The run's time budget (fixtures/benchmark.py) from a run's own files."""

import json

from fixtures.benchmark import budget, table

JUNIT = """<?xml version="1.0"?><testsuites><testsuite name="pytest">
<testcase classname="suites.test_at_most_one" name="a[crash]" file="suites/test_at_most_one.py" time="100.0"/>
<testcase classname="suites.test_at_most_one" name="b[crash]" file="suites/test_at_most_one.py" time="1.0"/>
<testcase classname="suites.test_dns" name="c" file="suites/test_dns.py" time="20.0"/>
</testsuite></testsuites>"""


def case(nodeid, label, inherent):
    props = {} if inherent is None else {"inherent_wait_s": inherent}
    return {"nodeid": nodeid, "label": label, "properties": props}


def test_a_shared_scenario_counts_once_and_jobs_go_to_their_module(tmp_path):
    (tmp_path / "junit.xml").write_text(JUNIT)
    doc = {"cluster": {"node_groups": [["w1"], ["w2"]],
                       "side_by_side": [{"job": "suites/test_at_most_one.py::a[crash]", "seconds": 90.0,
                                         "lane": "group 1", "started_s": 0.0, "ended_s": 90.0},
                                        {"job": "experiment[node-crash]", "seconds": 60,
                                         "lane": "group 1", "started_s": 90.0, "ended_s": 150.0},
                                        {"job": "suites/test_dns.py::c", "seconds": 5,
                                         "lane": "main", "started_s": 3.0, "ended_s": 8.0}]},
           "guarantees": {
               "STS-AMO-001": {"cases": [case("suites/test_at_most_one.py::a[crash]", "crash", 70.0)]},
               "STS-AMO-002": {"cases": [case("suites/test_at_most_one.py::b[crash]", "crash", 70.0)]},
               "STS-DNS-001": {"cases": [case("suites/test_dns.py::c", "", None)]}}}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    b = budget(tmp_path / "junit.xml", tmp_path / "c.json", wall_s=140.0)
    assert b["modules"]["suites/test_at_most_one.py"] == {"wall_s": 101.0, "jobs_s": 90.0, "inherent_wait_s": 70.0}
    assert b["modules"]["suites/test_chaos.py"]["jobs_s"] == 60.0
    assert b["modules"]["suites/test_dns.py"]["jobs_s"] == 5.0
    assert b["inherent_wait_s"] == 70.0 and b["ratio"] == 2.0 and b["node_groups"] == 2
    assert "wall / inherent waits: 2.0 on 2 node group(s)" in table(b)
    assert b["lanes"] == {"group 1": {"jobs": 2, "busy_s": 150.0, "last_end_s": 150.0},
                          "main": {"jobs": 1, "busy_s": 5.0, "last_end_s": 8.0}}
    assert "lane group 1: 2 job(s), 150.0 s of jobs, last ended at 150.0 s" in table(b)


def test_a_scenario_judged_by_two_modules_counts_once(tmp_path):
    # A node experiment's run feeds the chaos checks and the at-most-one checks.
    (tmp_path / "junit.xml").write_text(JUNIT)

    def shared(nodeid, label, inherent):
        c = case(nodeid, label, inherent)
        c["properties"]["scenario"] = "experiment[node-crash]"
        return c

    # The at-most-one ID comes first in the catalogue: the wait still counts where the job's time does.
    doc = {"cluster": {"side_by_side": [{"job": "experiment[node-crash]", "seconds": 120.0}]},
           "guarantees": {
               "STS-AMO-001": {"cases": [shared("suites/test_at_most_one.py::a[crash]", "crash", 80.0)]},
               "STS-CHAOS-001": {"cases": [shared("suites/test_chaos.py::t[node-crash]", "node-crash", 80.0)]}}}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    b = budget(tmp_path / "junit.xml", tmp_path / "c.json", wall_s=160.0)
    assert b["inherent_wait_s"] == 80.0
    assert b["modules"]["suites/test_chaos.py"]["inherent_wait_s"] == 80.0
    assert b["modules"]["suites/test_at_most_one.py"]["inherent_wait_s"] == 0.0
    assert b["modules"]["suites/test_chaos.py"]["jobs_s"] == 120.0
