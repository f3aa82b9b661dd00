"""Checkers judged on recorded histories, including histories that MUST fail."""

import pytest

from fixtures import invariants as inv
from fixtures.timeline import Timeline

from .histories import H


def ordered_startup():
    h = H()
    for i in range(3):
        h.pod(f"mongo-{i}", f"u{i}").running(f"mongo-{i}", f"u{i}").ready(f"mongo-{i}", f"u{i}")
    return h


# --- STS-ORD-001 ---------------------------------------------------------

def test_in_order_creation_holds():
    assert inv.ordered_creation(ordered_startup().tl) == []


def test_out_of_order_creation_is_caught():
    h = H().pod("mongo-0", "u0").pod("mongo-1", "u1")  # mongo-1 before mongo-0 is Ready
    v = inv.ordered_creation(h.tl)
    assert [x.seq for x in v] == [1]
    assert "mongo-1 created while mongo-0 was not Running and Ready" in str(v[0])


def test_creation_while_a_predecessor_is_terminating_is_caught():
    h = ordered_startup()
    h.terminating("mongo-0", "u0").pod("mongo-3", "u3")
    assert "mongo-0" in str(inv.ordered_creation(h.tl)[0])


def test_pods_present_before_recording_are_not_creations():
    h = H().initial("mongo-1", "u1")
    assert inv.ordered_creation(h.tl) == []


# --- STS-ORD-002 / STS-PAR-002 -------------------------------------------

def test_a_halted_scale_that_moved_is_caught():
    h = ordered_startup()
    h.running("mongo-1", "u1")  # the readiness gate closes on mongo-1
    h.mark("scale-up").pod("mongo-3", "u3")  # and the controller went on anyway
    start = h.tl.mark_seq("scale-up")
    v = inv.creations_while_unready(h.tl, start=start)
    assert len(v) == 1 and "mongo-3 created while mongo-1 not Ready" in str(v[0])


def test_a_halted_scale_that_stayed_put_holds():
    h = ordered_startup()
    h.running("mongo-1", "u1").mark("scale-up")
    assert inv.creations(h.tl, start=h.tl.mark_seq("scale-up")) == []
    assert inv.creations_while_unready(h.tl, start=h.tl.mark_seq("scale-up")) == []


# --- STS-ORD-003 ---------------------------------------------------------

def scale_down(order, wait_for_gone=True):
    h = ordered_startup()
    h.mark("scale-down")
    if wait_for_gone:
        for i in order:
            h.terminating(f"mongo-{i}", f"u{i}").deleted(f"mongo-{i}", f"u{i}")
    else:
        for i in order:
            h.terminating(f"mongo-{i}", f"u{i}")
        for i in order:
            h.deleted(f"mongo-{i}", f"u{i}")
    return h


def test_highest_first_one_at_a_time_holds():
    h = scale_down([2, 1])
    assert inv.scale_down_order(h.tl, start=h.tl.mark_seq("scale-down")) == []


def test_lowest_first_is_caught():
    h = scale_down([1, 2])
    v = inv.scale_down_order(h.tl, start=h.tl.mark_seq("scale-down"))
    assert any("not highest ordinal first" in str(x) for x in v)


def test_two_at_once_is_caught():
    h = scale_down([2, 1], wait_for_gone=False)
    v = inv.scale_down_order(h.tl, start=h.tl.mark_seq("scale-down"))
    assert any("mongo-1 began terminating while mongo-2 was still being removed" in str(x) for x in v)


# --- STS-AMO-002 ---------------------------------------------------------

def test_replacement_after_the_old_pod_is_gone_holds():
    h = ordered_startup()
    h.terminating("mongo-1", "u1").deleted("mongo-1", "u1").pod("mongo-1", "u1b").ready("mongo-1", "u1b", node="n2")
    assert inv.overlapping_identities(h.tl) == []


def test_two_uids_of_one_name_running_together_is_caught():
    # A force delete while the old pod still ran on a frozen node, recorded
    # as the API showed it: the old UID never left Running.
    h = ordered_startup()
    h.pod("mongo-1", "u1b", "Running", True, node="n2")
    v = inv.overlapping_identities(h.tl)
    assert len(v) == 1
    assert "mongo-1: 2 UIDs running at once (u1: API Running; u1b: API Running)" in str(v[0])


def test_overlap_is_judged_per_name():
    h = ordered_startup()
    assert inv.overlapping_identities(h.tl) == []  # three names, one UID each


# --- require() and persistence -------------------------------------------

def test_require_names_the_guarantee_and_the_evidence():
    h = H().pod("mongo-0", "u0").pod("mongo-1", "u1")
    with pytest.raises(AssertionError) as info:
        inv.require("STS-ORD-001", inv.ordered_creation(h.tl))
    text = str(info.value)
    assert text.startswith("STS-ORD-001 violated: with OrderedReady, pod N is created only after")
    assert "#1: mongo-1 created while mongo-0" in text


def test_require_passes_silently_without_violations():
    inv.require("STS-ORD-001", [])


def test_a_saved_timeline_loads_back_identically(tmp_path):
    h = ordered_startup().mark("done")
    path = h.tl.save(tmp_path / "timeline.json")
    again = Timeline.load(path)
    assert again == h.tl
    assert inv.ordered_creation(again) == []


def runtime(h, node, state="up", **running):
    """A runtime sample of `node`: `running` is given as name=uid, recorded
    as the sampler records it, {uid: name}."""
    return h._add("runtime", "SAMPLE", node, {"state": state, "running": {u: n for n, u in running.items()}})


def frozen_node_force_delete(confirmed: bool):
    """mongo-1 on frozen n1 is force-deleted; a replacement starts on n2."""
    h = ordered_startup()
    runtime(h, "n1", **{"mongo-0": "u0", "mongo-1": "u1", "mongo-2": "u2"})
    runtime(h, "n1", state="unobservable")  # the node froze
    h.terminating("mongo-1", "u1")
    h.deleted("mongo-1", "u1", force=not confirmed)
    h.pod("mongo-1", "u1b", node="n2").ready("mongo-1", "u1b", node="n2")
    return h


def test_force_delete_while_the_node_is_frozen_is_caught():
    # The negative control of the unsafe recovery: the API never shows both,
    # but the frozen node still runs the old pod when the new one starts.
    v = inv.overlapping_identities(frozen_node_force_delete(confirmed=False).tl)
    assert len(v) == 1
    assert "u1: last seen running on n1 by its runtime" in str(v[0]) and "u1b: API Running" in str(v[0])


def test_a_termination_the_kubelet_confirmed_clears_the_old_runtime_state():
    assert inv.overlapping_identities(frozen_node_force_delete(confirmed=True).tl) == []


def test_a_crashed_node_runs_nothing():
    h = ordered_startup()
    runtime(h, "n1", **{"mongo-1": "u1"})
    runtime(h, "n1", state="down")
    h.terminating("mongo-1", "u1")
    h.deleted("mongo-1", "u1", force=True)  # force-deleted, but the node is down: nothing runs there
    h.pod("mongo-1", "u1b", node="n2").ready("mongo-1", "u1b", node="n2")
    assert inv.overlapping_identities(h.tl) == []


def test_force_delete_of_a_pod_the_runtime_never_saw_is_presumed_running():
    # The node froze before any runtime sample caught the pod: the API's own
    # last word (containers running) is all there is, and it is not a confirmation.
    h = ordered_startup()
    runtime(h, "n1")  # sampled before mongo-1 started
    runtime(h, "n1", state="unobservable")
    h.terminating("mongo-1", "u1").deleted("mongo-1", "u1", force=True)
    h.pod("mongo-1", "u1b", node="n2").ready("mongo-1", "u1b", node="n2")
    v = inv.overlapping_identities(h.tl)
    assert len(v) == 1 and "u1: force-deleted unconfirmed, presumed running on n1" in str(v[0])


def test_a_later_sample_without_the_pod_ends_the_presumption():
    h = ordered_startup()
    runtime(h, "n1", state="unobservable")
    h.terminating("mongo-1", "u1").deleted("mongo-1", "u1", force=True)
    runtime(h, "n1")  # the node is back and runs nothing of mongo-1
    h.pod("mongo-1", "u1b", node="n2").ready("mongo-1", "u1b", node="n2")
    assert inv.overlapping_identities(h.tl) == []


def test_a_force_deleted_pod_still_running_on_a_cut_off_node_is_caught():
    # The split-brain probe: the network cut leaves the old pod running and
    # the runtime, asked through Docker, keeps seeing it while the
    # replacement runs elsewhere.
    h = ordered_startup()
    h.ready("mongo-1", "u1", node="n1")
    runtime(h, "n1", **{"mongo-1": "u1"})
    h.mark("fault network-cut on n1").terminating("mongo-1", "u1")
    h.deleted("mongo-1", "u1", force=True)
    runtime(h, "n1", **{"mongo-1": "u1"})  # still running after the delete
    h.pod("mongo-1", "u1b", node="n4").ready("mongo-1", "u1b", node="n4")
    v = inv.overlapping_identities(h.tl)
    assert len(v) == 1 and v[0].subject == "mongo-1"
    assert "u1: running on n1 per its runtime" in v[0].what and "u1b: API Running" in v[0].what


def test_only_the_runtime_shows_the_second_pod_after_the_api_said_the_old_one_stopped():
    # The API last reported the old pod's containers stopped (a stale or
    # lying status); a sample taken after that still shows it running.
    h = ordered_startup()
    h.ready("mongo-1", "u1", node="n1")
    h.pod("mongo-1", "u1", phase="Running", node="n1", containers_running=False)
    h.deleted("mongo-1", "u1")  # graceful, as far as the API knows
    h.pod("mongo-1", "u1b", node="n4").ready("mongo-1", "u1b", node="n4")
    runtime(h, "n1", **{"mongo-1": "u1"})
    v = inv.overlapping_identities(h.tl)
    assert len(v) == 1 and "u1: running on n1 per its runtime" in v[0].what


def test_a_sample_taken_before_the_api_confirmed_the_stop_is_stale():
    h = ordered_startup()
    runtime(h, "n1", **{"mongo-1": "u1"})
    h.pod("mongo-1", "u1", phase="Running", node="n1", containers_running=False)
    h.deleted("mongo-1", "u1")
    h.pod("mongo-1", "u1b", node="n1").ready("mongo-1", "u1b", node="n1")
    assert inv.overlapping_identities(h.tl) == []


def test_two_uids_of_one_name_on_one_node_are_two_pods():
    h = ordered_startup()
    h._add("runtime", "SAMPLE", "n1", {"state": "up", "running": {"ua": "mongo-7", "ub": "mongo-7"}})
    v = inv.overlapping_identities(h.tl)
    assert v and "ua: running on n1" in v[0].what and "ub: running on n1" in v[0].what


def test_an_unobservable_node_keeps_what_it_ran_last():
    h = ordered_startup()
    runtime(h, "n1", **{"mongo-7": "u7"})
    runtime(h, "n1", state="unobservable")
    h.pod("mongo-7", "u7b", node="n2").ready("mongo-7", "u7b", node="n2")
    v = inv.overlapping_identities(h.tl)
    assert v and "u7: last seen running on n1 by its runtime" in v[0].what


def test_a_window_with_a_recording_gap_is_not_judged():
    from fixtures.errors import CannotJudge

    h = ordered_startup()
    start = h.mark("fault").tl.entries[-1].seq
    h._add("gap", "OPEN", "pod", {"why": "watch error 500", "lost": False})
    h._add("gap", "CLOSE", "pod", {"lost": False})
    end = h.mark("restore").tl.entries[-1].seq
    with pytest.raises(CannotJudge, match=r"STS-AMO-002: the recording has 1 gap\(s\) in the judged window \(pod #"):
        inv.judge_window("STS-AMO-002", h.tl, [], start, end)
    # Outside the window the gap does not matter.
    inv.judge_window("STS-AMO-002", h.tl, [], end, None)


def test_a_gap_never_closed_reaches_the_end():
    h = ordered_startup()
    h._add("gap", "OPEN", "runtime", {"why": "sampler failed", "lost": False})
    h.mark("later")
    [gap] = h.tl.gaps(start=h.tl.entries[-1].seq)
    assert gap["to_seq"] is None and gap["stream"] == "runtime"


def test_runtime_evidence_names_what_a_verdict_rests_on():
    h = ordered_startup()
    assert inv.runtime_evidence(h.tl).startswith("API pod states only")
    runtime(h, "n1", **{"mongo-1": "u1"})
    runtime(h, "n1", state="unobservable")
    text = inv.runtime_evidence(h.tl)
    assert "2 runtime samples of 1 nodes" in text and "n1 unobservable" in text


def test_a_graceful_delete_confirms_termination_and_a_force_delete_does_not():
    h = ordered_startup()
    h.ready("mongo-1", "u1", node="n1")
    runtime(h, "n1", **{"mongo-1": "u1"})
    h.deleted("mongo-1", "u1", force=True)
    assert inv.termination_confirmed(h.tl, "u1") is None
    gone = runtime(h, "n1").tl.entries[-1].seq  # a later sample without it
    assert inv.termination_confirmed(h.tl, "u1") == gone
    g = ordered_startup()
    deleted = g.deleted("mongo-2", "u2").tl.entries[-1].seq
    assert inv.termination_confirmed(g.tl, "u2") == deleted


def sample(h, node, asked_at_seq=None, **running):
    """A runtime sample as the recorder writes it, asked at `asked_at_seq`."""
    data = {"state": "up", "running": {u: n for n, u in running.items()}}
    data["asked_at_seq"] = len(h.tl.entries) if asked_at_seq is None else asked_at_seq
    return h._add("runtime", "SAMPLE", node, data)


def test_the_normal_replacement_on_the_same_node_is_not_an_overlap():
    # A correct cluster: pod deleted gracefully, its kubelet reports the
    # stop, the replacement starts on the same node before the next sample.
    h = H().pod("mongo-1", "u1").ready("mongo-1", "u1")
    sample(h, "n1", **{"mongo-1": "u1"})
    h.terminating("mongo-1", "u1")
    h.pod("mongo-1", "u1", phase="Running", deleting=True, containers_running=False)
    h.deleted("mongo-1", "u1")
    h.pod("mongo-1", "u1b").ready("mongo-1", "u1b")
    assert inv.overlapping_identities(h.tl) == []


def test_a_sample_asked_before_the_stop_report_but_written_after_it_is_stale():
    h = H().pod("mongo-1", "u1").ready("mongo-1", "u1")
    asked = len(h.tl.entries)
    h.pod("mongo-1", "u1", phase="Running", containers_running=False).deleted("mongo-1", "u1")
    h.pod("mongo-1", "u1b").ready("mongo-1", "u1b")
    sample(h, "n1", asked_at_seq=asked, **{"mongo-1": "u1"})  # docker exec returned late
    assert inv.overlapping_identities(h.tl) == []


def test_a_pod_marked_failed_and_force_deleted_that_still_runs_is_caught():
    # A pod garbage collector marks the old pod Failed and deletes it while
    # the cut-off node still runs it; a sample asked afterwards shows it.
    h = H().pod("mongo-1", "u1").ready("mongo-1", "u1")
    sample(h, "n1", **{"mongo-1": "u1"})
    h.pod("mongo-1", "u1", phase="Failed", deleting=True).deleted("mongo-1", "u1")
    h.pod("mongo-1", "u1b", node="n4").ready("mongo-1", "u1b", node="n4")
    sample(h, "n1", **{"mongo-1": "u1"})
    v = inv.overlapping_identities(h.tl)
    assert v and "u1: running on n1 per its runtime" in v[0].what


def test_a_failed_phase_written_through_the_api_does_not_confirm_termination():
    # The pod garbage collector marks a pod on an unreachable node Failed and
    # force-deletes it; the kubelet never said its containers stopped. The
    # replacement's creation must stay inside the unconfirmed window.
    h = H().pod("mongo-1", "u1").ready("mongo-1", "u1")
    h.pod("mongo-1", "u1", phase="Failed", containers_running=True, deleting=True).deleted("mongo-1", "u1", force=True)
    assert inv.termination_confirmed(h.tl, "u1") is None
    # The kubelet's own report of stopped containers does confirm it.
    k = H().pod("mongo-1", "u1").ready("mongo-1", "u1")
    k.pod("mongo-1", "u1", phase="Failed", containers_running=False, deleting=True).deleted("mongo-1", "u1")
    assert inv.termination_confirmed(k.tl, "u1") is not None
