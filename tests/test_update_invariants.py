"""The update, ordinal and removal checkers on hand-written histories: each
holds on the order the controller documents and catches the broken ones."""

from fixtures import invariants as inv
from tests.histories import H

A, B = "mongo-a", "mongo-b"


def on(h, name, uid, rev, ready=True):
    return h.pod(name, uid, "Running", ready, labels={"controller-revision-hash": rev})


def replaced(h, name, old, new, rev=B, ready=True):
    s = dict(h.state[old])
    h.pod(name, old, s["phase"], s["ready"], True, labels=s["labels"])
    h.deleted(name, old)
    h.pod(name, new, "Pending", labels={"controller-revision-hash": rev})
    if ready:
        on(h, name, new, rev)
    return h


def three_on_a():
    h = H()
    for i in range(3):
        on(h, f"mongo-{i}", f"u{i}", A)
    return h.mark("update")


def test_highest_first_each_ready_before_the_next_holds():
    h = three_on_a()
    for i in (2, 1, 0):
        replaced(h, f"mongo-{i}", f"u{i}", f"v{i}")
    assert inv.rolling_update_order(h.tl, B, top=2, start=h.tl.mark_seq("update")) == []
    assert [e.name for e in inv.terminations(h.tl, start=h.tl.mark_seq("update"))] == ["mongo-2", "mongo-1", "mongo-0"]


def test_next_pod_replaced_before_the_updated_one_is_ready_is_caught():
    h = three_on_a()
    replaced(h, "mongo-2", "u2", "v2", ready=False)
    replaced(h, "mongo-1", "u1", "v1")
    v = inv.rolling_update_order(h.tl, B, top=2, start=h.tl.mark_seq("update"))
    assert v and v[0].subject == "mongo-1" and "mongo-2 not Ready on mongo-b" in v[0].what, v


def test_replacing_while_a_higher_pod_is_absent_is_caught():
    h = three_on_a()
    s = dict(h.state["u2"])
    h.pod("mongo-2", "u2", s["phase"], s["ready"], True, labels=s["labels"])
    h.deleted("mongo-2", "u2")
    replaced(h, "mongo-1", "u1", "v1")
    v = inv.rolling_update_order(h.tl, B, top=2, start=h.tl.mark_seq("update"))
    assert v and "mongo-2 absent" in v[0].what, v


def test_lowest_first_is_caught():
    h = three_on_a()
    for i in (0, 1, 2):
        replaced(h, f"mongo-{i}", f"u{i}", f"v{i}")
    v = inv.rolling_update_order(h.tl, B, top=2, start=h.tl.mark_seq("update"))
    assert any("not highest ordinal first" in x.what for x in v), v


def test_ordered_creation_from_a_start_ordinal():
    h = H()
    on(h, "mongo-5", "u5", A).mark("move")
    h.pod("mongo-3", "u3", "Pending")
    h.ready("mongo-3", "u3")
    h.pod("mongo-4", "u4", "Pending")
    assert inv.ordered_creation_from(h.tl, 3, start=h.tl.mark_seq("move")) == []
    assert inv.ordered_creation(h.tl)  # numbered from 0, mongo-0..2 never existed: the plain check would fail it
    burst = H()
    on(burst, "mongo-5", "u5", A).mark("move")
    burst.pod("mongo-3", "u3", "Pending").pod("mongo-4", "u4", "Pending")
    v = inv.ordered_creation_from(burst.tl, 3, start=burst.tl.mark_seq("move"))
    assert [x.subject for x in v] == ["mongo-4"] and "mongo-3 was not Running and Ready" in v[0].what


def test_a_removal_while_a_lower_pod_is_unready_is_caught():
    h = H()
    for i in (3, 5, 6, 7):
        on(h, f"mongo-{i}", f"u{i}", A)
    h.mark("move")
    h.pod("mongo-4", "u4", "Pending")
    h.terminating("mongo-7", "u7")
    v = inv.removals_after_predecessors(h.tl, start=h.tl.mark_seq("move"))
    assert [x.subject for x in v] == ["mongo-7"] and "mongo-4" in v[0].what
    ok = H()
    for i in (3, 4, 5, 6, 7):
        on(ok, f"mongo-{i}", f"u{i}", A)
    ok.mark("move").terminating("mongo-7", "u7").deleted("mongo-7", "u7").terminating("mongo-6", "u6")
    assert inv.removals_after_predecessors(ok.tl, start=ok.tl.mark_seq("move")) == []
