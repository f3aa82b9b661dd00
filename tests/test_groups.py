"""Node groups and the side-by-side runner (fixtures/groups.py), without a cluster."""

import os
import threading
import time

import pytest

from fixtures import groups
from fixtures.errors import CannotJudge
from fixtures.timeline import Entry, Timeline
from fixtures.wait import Clock


def test_workers_split_into_disjoint_groups_of_four_by_name():
    workers = [f"w{i}" for i in (3, 1, 2, 9, 5, 4, 6, 8, 7)]
    assert groups.split(workers) == [("w1", "w2", "w3", "w4"), ("w5", "w6", "w7", "w8")]
    assert groups.split(workers, limit=1) == [("w1", "w2", "w3", "w4")]
    # Too few for one group: one group of all of them (the checks say what they miss).
    assert groups.split(["w2", "w1"]) == [("w1", "w2")]


def test_simultaneous_faults_stay_below_the_unhealthy_zone_threshold():
    # 55% of the zone's nodes, and at least 3, make a zone "partially disrupted".
    assert groups.max_concurrent_faults(9) == 4      # 4/9 = 44%; 5/9 = 56%
    assert groups.max_concurrent_faults(20) == 10    # 11/20 = 55% is not below
    assert groups.max_concurrent_faults(3) == 2      # the controller needs 3 down


def test_a_scope_is_per_thread_and_children_get_it_through_the_environment(monkeypatch):
    monkeypatch.delenv(groups.ENV, raising=False)
    with groups.scope(None):  # this session's own thread may have a group
        _scopes_per_thread(monkeypatch)


def _scopes_per_thread(monkeypatch):
    assert groups.current() is None
    seen = {}
    with groups.scope(["a", "b"]):
        assert groups.current() == {"a", "b"}
        assert groups.within(["a", "c", "b"]) == ["a", "b"]
        assert groups.env_for(groups.current()) == {groups.ENV: "a,b"}
        t = threading.Thread(target=lambda: seen.setdefault("other", groups.current()))
        t.start()
        t.join()
    assert seen["other"] is None and groups.current() is None
    monkeypatch.setenv(groups.ENV, "x, y")
    assert groups.current() == {"x", "y"}


def _pod(seq, name, node):
    return Entry(seq, float(seq), "pod", "ADDED", name, "", {"node": node, "uid": f"u{seq}"})


def test_a_pod_bound_outside_its_group_is_named():
    tl = Timeline("ns", [_pod(0, "mongo-0", "w1"), _pod(1, "mongo-1", "w7"), _pod(2, "mongo-2", None)])
    assert groups.isolation_problems(tl, ("w1", "w2")) == ["mongo-1 on w7"]
    assert groups.isolation_problems(tl, None) == []
    with groups.scope(["w1", "w2"]):
        with pytest.raises(CannotJudge, match="left its node group"):
            groups.require_isolated(tl, "failure[crash]")
    with groups.scope(["w1", "w7"]):
        assert groups.require_isolated(tl, "failure[crash]") == {"w1", "w7"}


def test_jobs_run_on_their_groups_side_by_side_and_raise_in_the_caller():
    pool = groups.SideBySide([("m1",), ("g1",), ("g2",)])
    started = {}
    release = threading.Event()

    def job(name):
        def run():
            started[name] = (groups.current(), time.monotonic())
            release.wait(5)
            if name == "bad":
                raise AssertionError("STS-X: broken")
            return name
        return run

    for name in ("a", "bad", "c"):
        pool.submit(name, job(name))
    # Two groups besides the main one: a and bad start at once; c waits.
    deadline = time.monotonic() + 5
    while len(started) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(started) == {"a", "bad"}
    assert {started["a"][0], started["bad"][0]} == {frozenset({"g1"}), frozenset({"g2"})}
    release.set()
    assert pool.result("a") == "a"
    with pytest.raises(AssertionError, match="STS-X: broken"):
        pool.result("bad")
    assert pool.result("c") == "c"
    pool.close(grace=5)
    summary = pool.summary()
    assert [s["state"] for s in summary] == ["done", "done", "done"]
    # The timeline: a and bad on the two spare groups' lanes from the start;
    # c on whichever lane was free first, never before one of them ended.
    assert {summary[0]["lane"], summary[1]["lane"]} == {"group 1", "group 2"}
    assert summary[2]["lane"] in ("group 1", "group 2", "main")
    assert summary[2]["started_s"] >= min(summary[0]["ended_s"], summary[1]["ended_s"])
    assert all(s["ended_s"] >= s["started_s"] >= 0 for s in summary)


def test_with_one_group_a_job_runs_inline_when_asked_for():
    pool = groups.SideBySide([("w1", "w2", "w3", "w4")])
    pool.submit("a", lambda: threading.current_thread() is threading.main_thread())
    assert pool.threads == []
    assert pool.result("a") is True
    # Unknown keys run from the given function.
    assert pool.result("b", lambda: 2) == 2


def test_the_main_thread_runs_queued_jobs_while_it_waits():
    pool = groups.SideBySide([("m1",), ("g1",)])
    gate = threading.Event()
    ran_on = {}

    def slow():
        gate.wait(5)
        return "slow"

    def quick():
        ran_on["quick"] = threading.current_thread() is threading.main_thread()
        gate.set()
        return "quick"

    pool.submit("slow", slow)
    pool.submit("quick", quick)
    assert pool.result("slow") == "slow"
    assert ran_on["quick"] is True and pool.result("quick") == "quick"
    pool.close(grace=5)


def test_closing_ends_the_waits_of_running_jobs_so_their_cleanup_runs():
    pool = groups.SideBySide([("m1",), ("g1",)])
    cleaned = threading.Event()

    def waits_forever():
        try:
            while True:
                Clock().sleep(0.5)
        finally:
            cleaned.set()

    pool.submit("w", waits_forever)
    time.sleep(0.2)
    t0 = time.monotonic()
    pool.close(grace=10)
    assert cleaned.is_set() and time.monotonic() - t0 < 5
    with pytest.raises(groups.Cancelled):
        pool.result("w")
    # Only that pool's jobs were cancelled: this thread's waits are not.
    assert not groups.cancel_event().is_set()


def test_progress_from_job_threads_is_printed_by_the_main_thread():
    lines = []
    pool = groups.SideBySide([("m1",), ("g1",)], progress=lines.append)
    pool.submit("j", lambda: pool.say("half way") or 1)
    assert pool.result("j") == 1
    pool.close(grace=5)
    assert any("half way" in ln for ln in lines) and all(isinstance(ln, str) for ln in lines)
    assert os.environ.get(groups.ENV) is None


def test_an_exclusive_block_waits_for_running_jobs_and_holds_the_queue():
    pool = groups.SideBySide([("m1",), ("g1",)])
    gate = threading.Event()
    order = []

    def first():
        gate.wait(5)
        order.append("first done")

    pool.submit("first", first)
    pool.submit("second", lambda: order.append("second ran"))
    threading.Timer(0.3, gate.set).start()
    with pool.exclusive("a mutant"):
        order.append("exclusive")
        time.sleep(0.3)
        assert pool.jobs["second"].state == "pending"
    pool.result("second")
    pool.close(grace=5)
    assert order == ["first done", "exclusive", "second ran"]


def test_ctrl_c_in_a_job_the_main_thread_runs_ends_the_run_there():
    pool = groups.SideBySide([("m1",), ("g1",)])
    gate = threading.Event()
    ran = []

    def interrupted():
        raise KeyboardInterrupt

    pool.submit("slow", lambda: gate.wait(5))
    pool.submit("interrupted", interrupted)
    pool.submit("next", lambda: ran.append("next"))
    with pytest.raises(KeyboardInterrupt):
        pool.result("slow")
    gate.set()
    pool.close(grace=5)
    assert ran == [] and pool.jobs["next"].state == "pending"


def test_ctrl_c_stops_new_jobs_at_once_while_the_main_threads_job_still_cleans_up(monkeypatch):
    """The signal itself closes the pool: a group that falls free while the
    main thread's own job is still cleaning up after Ctrl-C starts nothing."""
    import signal

    from fixtures import plugin

    pool = groups.SideBySide([("m1",), ("g1",)])
    gate = threading.Event()
    ran = []
    pool.submit("on g1", lambda: gate.wait(5))
    pool.submit("next", lambda: ran.append("next"))

    def inline():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        finally:
            gate.set()  # the group's job ends now, while this one cleans up
            time.sleep(1.0)

    # Its own pool list and child registry: this test may run inside a
    # session whose pool and children are live (scripts/test runs one session).
    monkeypatch.setattr(plugin, "_POOL", [pool])
    monkeypatch.setattr(groups, "_CHILDREN", {})
    before = signal.signal(signal.SIGINT, plugin._raise_keyboard_interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            pool.result("main", inline)
    finally:
        signal.signal(signal.SIGINT, before)
        pool.close(grace=5)
    assert ran == [] and pool.jobs["next"].state == "pending"


def test_ctrl_c_tells_every_registered_child_once_at_once(monkeypatch):
    """The handler's interrupt_children: each child in a session of its own
    gets SIGINT now (not when the thread waiting for it gets there), and a
    later stop by that thread sends no second one."""
    import signal
    import subprocess

    # A registry of its own: the session running this test may have live children.
    monkeypatch.setattr(groups, "_CHILDREN", {})

    procs = [subprocess.Popen(["sleep", "30"], start_new_session=True) for _ in range(2)]
    try:
        with groups.child(procs[0]), groups.child(procs[1]):
            groups.interrupt_children()
            assert [p.wait(timeout=10) for p in procs] == [-signal.SIGINT, -signal.SIGINT]
            assert all(groups._CHILDREN[p.pid] is True for p in procs)
            groups.sigint(procs[0])  # already told: nothing is sent (the process is gone anyway)
        assert procs[0].pid not in groups._CHILDREN
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def test_an_interrupt_starts_no_further_job_and_ends_the_running_waits():
    pool = groups.SideBySide([("m1",), ("g1",)])
    ran = []

    def waits():
        while True:
            Clock().sleep(0.5)

    pool.submit("w", waits)
    pool.submit("next", lambda: ran.append("next"))
    time.sleep(0.2)
    pool.interrupt()
    pool.close(grace=5)
    assert ran == [] and pool.jobs["next"].state == "pending"
    with pytest.raises(groups.Cancelled):
        pool.result("w")


def test_a_child_process_waited_for_in_a_job_stops_when_the_run_is_interrupted():
    import subprocess

    proc = subprocess.Popen(["sleep", "30"])
    event = threading.Event()
    threading.Timer(0.3, event.set).start()
    t0 = time.monotonic()
    try:
        with groups.cancellable(event), pytest.raises(groups.Cancelled, match="during a test sleep"):
            groups.communicate(proc, 60, "a test sleep")
    finally:
        proc.kill()
        proc.wait()
    assert time.monotonic() - t0 < 5


def _recorder(log, release):
    def job(name):
        def run():
            log.append(("start", name, groups.current()))
            release.wait(5)
            log.append(("end", name))
            return name
        return run
    return job


def _wait_for(cond, budget=5.0):
    deadline = time.monotonic() + budget
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_light_jobs_share_a_spare_group_up_to_its_limit():
    pool = groups.SideBySide([("m1",), ("g1",)], light_per_group=3)
    log, release = [], threading.Event()
    job = _recorder(log, release)
    for name in ("a", "b", "c", "d"):
        pool.submit(name, job(name), light=True)
    _wait_for(lambda: sum(1 for e in log if e[0] == "start") >= 3)
    time.sleep(0.1)
    started = [e[1] for e in log if e[0] == "start"]
    # Three at once on g1, the fourth waits for room (no main-thread stealing here: nobody waits on a result).
    assert started == ["a", "b", "c"] and all(e[2] == frozenset({"g1"}) for e in log if e[0] == "start")
    release.set()
    assert [pool.result(n) for n in ("a", "b", "c", "d")] == ["a", "b", "c", "d"]
    pool.close(grace=5)
    assert all(s["light"] for s in pool.summary())


def test_a_heavy_job_has_its_group_to_itself_and_keeps_its_place_in_the_queue():
    pool = groups.SideBySide([("m1",), ("g1",)], light_per_group=3)
    log, release = [], threading.Event()
    job = _recorder(log, release)
    pool.submit("light1", job("light1"), light=True)
    pool.submit("heavy", job("heavy"))
    pool.submit("light2", job("light2"), light=True)
    _wait_for(lambda: log)
    time.sleep(0.2)
    # The heavy job waits for g1 to empty; light2, queued after it, waits behind it.
    assert [e[1] for e in log if e[0] == "start"] == ["light1"]
    release.set()
    _wait_for(lambda: ("end", "light2") in log)
    order = [(e[0], e[1]) for e in log]
    assert order.index(("end", "light1")) < order.index(("start", "heavy")) < order.index(("end", "heavy")) \
        < order.index(("start", "light2")), order
    pool.close(grace=5)


def test_a_scenario_fixture_with_an_empty_parameter_set_queues_no_job():
    from types import SimpleNamespace

    from _pytest.compat import NOTSET

    from fixtures import plugin

    plugin.scenario_job("unit_scenario")(lambda ctx, key: key)
    try:
        key_of = plugin.SCENARIO_JOBS["unit_scenario"][0]
        item = lambda value: SimpleNamespace(fixturenames=["unit_scenario"],  # noqa: E731
                                             callspec=SimpleNamespace(params={"unit_scenario": value}))
        assert key_of(item("crash")) == "crash"
        # pytest's "got empty parameter set" (no experiment applies): nothing to run, nothing to ask about.
        assert key_of(item(NOTSET)) is None
        assert key_of(SimpleNamespace(fixturenames=["other"])) is None
    finally:
        plugin.SCENARIO_JOBS.pop("unit_scenario", None)
