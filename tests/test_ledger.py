"""The write ledger's checker, writers and connector, on hand-written
histories and fake servers (no cluster)."""

import json
import socket
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from pymongo.errors import (AutoReconnect, ConnectionFailure, DuplicateKeyError, ExecutionTimeout, NetworkTimeout,
                            NotPrimaryError, OperationFailure, ServerSelectionTimeoutError, WriteConcernError,
                            WriteError, WTimeoutError)

from fixtures.errors import SuiteError, WaitTimeout
from fixtures.wait import Observation, wait_for
from fixtures.ledger import (AFTER, BEFORE, DURING, FAILED, OK, UNKNOWN, Ledger, PodConnector, WorkloadLedger, Write,
                             Writer, as_of, check_ledger, classify, require_writes_during, settle_and_check,
                             survivor_exists)

DATA = Path(__file__).parent / "data"


def ledger(*writes, replicated=False) -> Ledger:
    """(seq, outcome, member[, phase]) per write, seq in order from 1."""
    led = Ledger("ledger_test", {"w": 1, "j": True}, replicated)
    for seq, outcome, member, *phase in writes:
        led.writes.append(Write(seq, member, phase[0] if phase else BEFORE, float(seq), float(seq) + 0.1, outcome))
    return led


SINGLE = ledger((1, OK, "mongo-1"), (2, UNKNOWN, "mongo-1"), (3, OK, "mongo-1"))


# --- outcomes --------------------------------------------------------------------------

@pytest.mark.parametrize("exc, outcome", [
    # The server refused it: certainly not applied.
    (OperationFailure("not authorized", 13), FAILED),
    (NotPrimaryError("not primary", {"code": 10107, "errmsg": "not primary"}), FAILED),
    (WriteError("document failed validation", 121), FAILED),
    (DuplicateKeyError("E11000 duplicate key", 11000), FAILED),
    (ExecutionTimeout("operation exceeded time limit", 50), FAILED),
    # No server was selected: nothing was sent.
    (ServerSelectionTimeoutError("127.0.0.1:1: connection refused"), FAILED),
    # Applied on the primary, durability not confirmed.
    (WriteConcernError("waiting for replication timed out", 64, {}), UNKNOWN),
    (WTimeoutError("waiting for replication timed out", 64, {}), UNKNOWN),
    # The answer was lost.
    (AutoReconnect("connection reset"), UNKNOWN),
    (NetworkTimeout("timed out"), UNKNOWN),
    (ConnectionFailure("connection closed"), UNKNOWN),
    (socket.timeout("timed out"), UNKNOWN),
    (ConnectionResetError("reset by peer"), UNKNOWN),
    (RuntimeError("anything not understood"), UNKNOWN),
], ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else v)
def test_outcome_of_each_exception(exc, outcome):
    assert classify(exc) == outcome


# --- the check -------------------------------------------------------------------------

def test_every_acknowledged_write_held_passes():
    v = check_ledger(SINGLE, {"mongo-0": set(), "mongo-1": {1, 3}, "mongo-2": set()})
    assert v.ok, v.summary()
    assert (v.acked, v.failed, v.unknown, v.unknown_held) == (2, 0, 1, 0)


def test_an_unknown_write_may_be_held_or_not():
    v = check_ledger(SINGLE, {"mongo-1": {1, 2, 3}})
    assert v.ok and v.unknown_held == 1


def test_a_lost_acknowledged_write_fails_and_is_named():
    v = check_ledger(SINGLE, {"mongo-1": {1}})
    assert not v.ok
    assert v.lost == [(3, "mongo-1")]
    assert "1 acknowledged write(s) lost, first #3 missing on mongo-1" in v.summary()


def test_all_writes_lost_with_the_pods_data_fails():
    # What an emptyDir volume does when the pod is replaced.
    v = check_ledger(SINGLE, {"mongo-1": set()})
    assert [s for s, _ in v.lost] == [1, 3]


def test_an_unreachable_member_cannot_vouch_for_its_writes():
    v = check_ledger(SINGLE, {"mongo-1": None, "mongo-0": set()})
    assert not v.ok
    assert v.unverifiable == [(1, "mongo-1 unreachable"), (3, "mongo-1 unreachable")]
    assert v.members["mongo-1"] == "unreachable"


def test_a_document_never_written_fails_as_phantom():
    v = check_ledger(SINGLE, {"mongo-1": {1, 3, 7}})
    assert v.phantom == [(7, "mongo-1")]
    assert not v.ok


def test_a_write_held_on_another_member_than_it_was_sent_to_is_a_phantom():
    # Nothing replicates: #2 went to mongo-1 only, so mongo-2 holding it
    # means a pod serves another pod's storage.
    led = ledger((1, OK, "mongo-0"), (2, OK, "mongo-1"), (3, OK, "mongo-2"))
    v = check_ledger(led, {"mongo-0": {1}, "mongo-1": {2}, "mongo-2": {2, 3}})
    assert v.phantom == [(2, "mongo-2")] and not v.ok
    assert "1 document(s) held where they were never written, first #2 on mongo-2" in v.summary()


def test_a_refused_write_that_is_held_fails():
    led = ledger((1, OK, "mongo-1"), (2, FAILED, "mongo-1"))
    assert check_ledger(led, {"mongo-1": {1}}).ok
    v = check_ledger(led, {"mongo-1": {1, 2}})
    assert v.refused_held == [(2, "mongo-1")] and not v.ok
    assert "1 refused write(s) held, first #2 on mongo-1" in v.summary()


def test_replicated_writes_must_be_on_every_member():
    led = ledger((1, OK, "mongo-0"), (2, OK, "mongo-1"), replicated=True)
    assert check_ledger(led, {"mongo-0": {1, 2}, "mongo-1": {1, 2}, "mongo-2": {1, 2}}).ok
    v = check_ledger(led, {"mongo-0": {1, 2}, "mongo-1": {1, 2}, "mongo-2": {1}})
    assert v.lost == [(2, "mongo-2")]


def test_an_unreachable_replica_set_member_is_not_excused_in_silence():
    led = ledger((1, OK, "mongo-0"), (2, OK, "mongo-1"), replicated=True)
    v = check_ledger(led, {"mongo-0": {1, 2}, "mongo-1": {1, 2}, "mongo-2": None})
    assert not v.ok
    assert v.unverifiable == [(1, "mongo-2 unreachable"), (2, "mongo-2 unreachable")]
    assert "2 acknowledged write(s) could not be checked (mongo-2 unreachable)" in v.summary()


def test_an_excused_member_is_named_with_its_reason():
    led = ledger((1, OK, "mongo-0"), replicated=True)
    held = {"mongo-0": {1}, "mongo-1": {1}, "mongo-2": None}
    v = check_ledger(led, held, excused={"mongo-2": "its node was deleted by the scenario"})
    assert v.ok and v.excused == {"mongo-2": "its node was deleted by the scenario"}
    assert "not read, excused: mongo-2 (its node was deleted by the scenario)" in v.summary()
    assert v.as_dict()["excused"] == v.excused
    # A member that could be read is checked, excused or not.
    held["mongo-2"] = set()
    v = check_ledger(led, held, excused={"mongo-2": "its node was deleted by the scenario"})
    assert v.lost == [(1, "mongo-2")] and v.excused == {}


def test_replicated_writes_with_no_member_read_are_unverifiable():
    led = ledger((1, OK, "mongo-0"), replicated=True)
    assert check_ledger(led, {"mongo-0": None}).unverifiable == [(1, "mongo-0 unreachable")]
    assert check_ledger(led, {}).unverifiable == [(1, "no member was read")]


def test_an_empty_ledger_with_nothing_held_passes():
    assert check_ledger(ledger(), {"mongo-1": set()}).ok


# --- phases ------------------------------------------------------------------------------

FAULT = ledger((1, OK, "mongo-0", BEFORE), (2, OK, "mongo-1", BEFORE), (3, OK, "mongo-2", BEFORE),
               (4, OK, "mongo-0", DURING), (5, FAILED, "mongo-1", DURING), (6, OK, "mongo-2", DURING),
               (7, UNKNOWN, "mongo-1", DURING), (8, OK, "mongo-1", AFTER))
FAULT_HELD = {"mongo-0": {1, 4}, "mongo-1": {2, 7, 8}, "mongo-2": {3, 6}}


def test_counts_per_phase():
    v = check_ledger(FAULT, FAULT_HELD)
    assert v.ok, v.summary()
    assert v.by_phase == {BEFORE: {OK: 3, FAILED: 0, UNKNOWN: 0},
                          DURING: {OK: 2, FAILED: 1, UNKNOWN: 1},
                          AFTER: {OK: 1, FAILED: 0, UNKNOWN: 0}}
    assert v.summary().startswith("6 acknowledged, 1 failed, 1 unknown (1 of them held); "
                                  "before: 3 ok; during: 2 ok, 1 failed, 1 unknown; after: 1 ok; members: ")
    assert v.as_dict()["by_phase"] == v.by_phase
    assert json.loads(json.dumps(v.as_dict()))["by_phase"]["during"]["failed"] == 1


def test_a_phase_without_writes_says_so():
    assert "during: no writes; after: no writes" in check_ledger(SINGLE, {"mongo-1": {1, 3}}).summary()


def test_writes_take_the_phase_current_at_their_invocation():
    led = Ledger.new({"w": 1}, False)
    first = led.invoke("mongo-0", 1.0)
    led.set_phase(DURING)
    second = led.invoke("mongo-0", 2.0)
    led.complete(first, OK, 3.0)  # completes during the fault, was invoked before it
    assert (first.phase, second.phase) == (BEFORE, DURING)
    assert (first.seq, second.seq) == (1, 2)
    assert second.outcome == UNKNOWN and second.t_complete is None  # no answer yet
    with pytest.raises(ValueError, match="unknown phase 'fault'"):
        led.set_phase("fault")


def test_no_acknowledged_write_during_the_fault_with_a_survivor_is_a_problem():
    led = ledger((1, OK, "mongo-0", BEFORE), (2, OK, "mongo-2", BEFORE),
                 (3, FAILED, "mongo-0", DURING), (4, UNKNOWN, "mongo-2", DURING), (5, FAILED, "mongo-1", DURING),
                 (6, OK, "mongo-0", AFTER))
    v = check_ledger(led, {"mongo-0": {1, 6}, "mongo-1": set(), "mongo-2": {2}})
    assert v.ok and v.acked == 3  # acknowledged writes before and after do not count
    problem = require_writes_during(v, survivors=True)
    assert problem == ("none of the 3 writes made while the fault was in place was acknowledged although a member "
                       "survived it (2 failed, 1 unknown)")
    assert require_writes_during(v, survivors=False) is None


def test_no_write_at_all_during_the_fault_is_a_problem():
    v = check_ledger(SINGLE, {"mongo-1": {1, 3}})
    assert "no write was attempted while the fault was in place" in require_writes_during(v, survivors=True)


def test_one_acknowledged_write_during_the_fault_meets_the_requirement():
    assert require_writes_during(check_ledger(FAULT, FAULT_HELD), survivors=True) is None


@pytest.mark.parametrize("members, down, replicated, survives", [
    (3, 1, False, True), (1, 1, False, False), (3, 3, False, False),
    (3, 1, True, True), (2, 1, True, False), (5, 2, True, True), (5, 3, True, False),
])
def test_survivor_exists(members, down, replicated, survives):
    assert survivor_exists(members, down, replicated) is survives


def test_a_hand_made_stand_in_history_with_a_node_down():
    doc = json.loads((DATA / "ledger-standin-node-stop.json").read_text())
    led = Ledger.from_dict(doc["ledger"])
    held = {m: set(s) for m, s in doc["holdings"].items()}
    v = check_ledger(led, held)
    assert v.ok, v.summary()
    assert v.by_phase[DURING] == {OK: 16, FAILED: 3, UNKNOWN: 1}
    assert {w.member for w in led.writes if w.phase == DURING and w.outcome == OK} == {"mongo-0", "mongo-2"}
    assert v.unknown_held == 1
    assert require_writes_during(v, survivor_exists(3, 1, led.replicated)) is None
    # Had the survivors' writes during the fault all failed, the requirement fails.
    for w in led.writes:
        if w.phase == DURING and w.outcome == OK:
            w.outcome = FAILED
    assert require_writes_during(check_ledger(led, {m: set() for m in held}), True).startswith("none of the 20 writes")


# --- persistence and judging while writing -------------------------------------------------

def test_ledger_round_trips_through_json(tmp_path):
    path = FAULT.save(tmp_path / "ledger.json")
    back = Ledger.load(path)
    assert back == FAULT
    assert json.loads(path.read_text())["writes"][4] == {
        "seq": 5, "member": "mongo-1", "phase": DURING, "t_invoke": 5.0, "t_complete": 5.1, "outcome": FAILED,
        "error": ""}


def test_a_write_in_flight_while_members_are_read_is_not_a_phantom():
    # #4 was sent (and applied) but its answer had not arrived when the members were read.
    led = ledger((1, OK, "mongo-1"), (2, OK, "mongo-1"), (3, OK, "mongo-1"))
    led.invoke("mongo-1", 4.0)
    assert check_ledger(led, {"mongo-1": {1, 2, 3, 4}}).ok
    assert check_ledger(led, {"mongo-1": {1, 2, 3, 4, 5}}).phantom == [(5, "mongo-1")]


def test_judging_while_writing_uses_outcomes_from_before_the_read():
    led = ledger((1, OK, "mongo-1"))
    pending = led.invoke("mongo-1", 2.0)
    answered = led.snapshot()
    # While the members are read: #2 is acknowledged and #3 sent and acknowledged.
    led.complete(pending, OK, 2.5)
    led.complete(led.invoke("mongo-1", 3.0), OK, 3.1)
    judged = as_of(answered, led.snapshot())
    assert [(w.seq, w.outcome) for w in judged.writes] == [(1, OK), (2, UNKNOWN), (3, UNKNOWN)]
    # The read may have missed #2 and #3: neither is lost, neither a phantom.
    assert check_ledger(judged, {"mongo-1": {1}}).ok
    assert check_ledger(judged, {"mongo-1": {1, 2, 3}}).ok
    assert not check_ledger(judged, {"mongo-1": {2, 3}}).ok


def test_settle_waits_for_members_to_catch_up_and_returns_the_last_verdict():
    reads = iter([{"mongo-1": {1}}, {"mongo-1": {1, 3}}])
    now = [0.0]
    v = settle_and_check(SINGLE, lambda: next(reads), budget=10, clock=lambda: now[0],
                         sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert v.ok and now[0] == 3.0
    v = settle_and_check(SINGLE, lambda: {"mongo-1": {1}}, budget=10, clock=lambda: now[0],
                         sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert not v.ok and v.lost == [(3, "mongo-1")]


# --- one writer ------------------------------------------------------------------------------

class FlakyCollection:
    """Acknowledges writes, except that #2 loses its answer after being
    applied, #3 is refused as not primary, and #4 reports a write-concern
    failure (applied, but not known to be durable)."""

    def __init__(self, done: threading.Event):
        self.held, self.done = set(), done

    def insert_one(self, doc):
        seq = doc["_id"]
        if seq == 2:
            self.held.add(seq)
            raise AutoReconnect("connection reset")
        if seq == 3:
            raise NotPrimaryError("not primary", {"code": 10107, "errmsg": "not primary"})
        if seq == 4:
            self.held.add(seq)
            raise WriteConcernError("waiting for replication timed out", 64, {})
        self.held.add(seq)
        if seq >= 6:
            self.done.set()


def test_writer_records_every_outcome_and_reconnects():
    done = threading.Event()
    coll = FlakyCollection(done)
    connects = []

    def connect():
        connects.append(1)
        if len(connects) == 2:
            raise ConnectionError("port-forward gone")
        return coll, "mongo-1"

    led = Ledger("ledger_test", {"w": 1, "j": True}, False)
    writer = Writer(led, connect, interval=0.0, name="mongo-1").start()
    assert done.wait(20)
    writer.stop()
    outcomes = {w.seq: w.outcome for w in led.writes}
    assert [outcomes[s] for s in (1, 2, 3, 4, 5)] == [OK, UNKNOWN, FAILED, UNKNOWN, OK]
    assert all(w.t_complete is not None and w.t_complete >= w.t_invoke for w in led.writes)
    assert led.writes[2].error.startswith("NotPrimaryError: not primary")
    assert led.connect_errors == 1 and len(connects) >= 5
    assert check_ledger(led, {"mongo-1": coll.held}).ok
    # Had #5 been lost after it was acknowledged, the check must say so.
    assert not check_ledger(led, {"mongo-1": coll.held - {5}}).ok


# --- fake servers behind the port-forward connector ---------------------------------------------

class FakeServer:
    """One pod's server. `down`: its port-forward cannot start and an open
    connection gets no server. A primary copies each write to `replicas`."""

    def __init__(self, primary: bool = False):
        self.held: set[int] = set()
        self.primary, self.down = primary, False
        self.replicas: list["FakeServer"] = []

    def hello(self) -> dict:
        if self.down:
            raise ServerSelectionTimeoutError("no server")
        return {"isWritablePrimary": self.primary}

    def insert_one(self, doc):
        self.hello()
        if self.replicas and not self.primary:
            raise NotPrimaryError("not primary", {"code": 10107, "errmsg": "not primary"})
        for s in [self] + [r for r in self.replicas if not r.down]:
            s.held.add(doc["_id"])


class FakeClient:
    def __init__(self, server: FakeServer):
        self.admin = SimpleNamespace(command=lambda name: server.hello())
        self.server = server

    def __getitem__(self, db):
        return SimpleNamespace(get_collection=lambda name, write_concern=None: self.server)


def fake_client(servers: dict[str, FakeServer], opened: list[str] | None = None):
    def client(pod: str) -> FakeClient:
        if opened is not None:
            opened.append(pod)
        if servers[pod].down:
            raise SuiteError(f"kubectl port-forward to ns/{pod}:27017 did not start within 10s: pod is not running")
        return FakeClient(servers[pod])
    return client


def fake_workload(pods: list[str], replication: bool):
    return SimpleNamespace(capabilities=SimpleNamespace(replication=replication, server="fake"), namespace="ns",
                           pod_names=lambda: list(pods))


def workload_ledger(servers: dict[str, FakeServer], replication: bool) -> WorkloadLedger:
    wl = WorkloadLedger("kubectl", Path("kubeconfig"), fake_workload(list(servers), replication), interval=0.005)
    for c in wl.connectors.values():
        c._client = fake_client(servers)
    return wl


def test_the_replicated_connector_skips_a_dead_candidate_and_finds_the_primary():
    servers = {"mongo-0": FakeServer(), "mongo-1": FakeServer(), "mongo-2": FakeServer(primary=True)}
    servers["mongo-0"].down = True
    opened = []
    conn = PodConnector("kubectl", Path("kubeconfig"), "ns", lambda: list(servers), True, {"w": "majority"}, "c")
    conn._client = fake_client(servers, opened)
    coll, member = conn.connect()
    assert (coll, member) == (servers["mongo-2"], "mongo-2") and opened == ["mongo-0", "mongo-1", "mongo-2"]
    servers["mongo-2"].primary = False
    with pytest.raises(ConnectionError) as err:
        conn.connect()
    assert str(err.value).startswith("no writable primary: mongo-0: SuiteError: kubectl port-forward")
    assert "mongo-1: not the writable primary; mongo-2: not the writable primary" in str(err.value)


def test_stand_in_writers_keep_writing_to_the_survivors_while_one_pod_is_down():
    servers = {p: FakeServer() for p in ("mongo-0", "mongo-1", "mongo-2")}
    wl = workload_ledger(servers, replication=False)
    assert sorted(wl.connectors) == ["mongo-0", "mongo-1", "mongo-2"]
    with wl:
        wl.wait_acked(5, 20, every_writer=True)
        # Down first: every write invoked during the fault finds mongo-1 down.
        servers["mongo-1"].down = True
        wl.set_phase(DURING)
        wait_for("mongo-1's writer to fail to connect", lambda: Observation(wl.ledger.connect_errors > 0, ""), 20)
        wl.wait_acked(20, 20, phase=DURING)
        wl.set_phase(AFTER)
        servers["mongo-1"].down = False
        wl.wait_acked(5, 20, phase=AFTER, every_writer=True)
    led = wl.ledger
    assert {w.member for w in led.writes if w.phase == DURING and w.outcome == OK} == {"mongo-0", "mongo-2"}
    assert led.count(OK, DURING, "mongo-1") == 0 and led.count(FAILED, DURING, "mongo-1") >= 1
    assert led.last_error.startswith("mongo-1: ")
    assert len({w.seq for w in led.writes}) == len(led.writes)  # seq unique across the writers
    v = check_ledger(led, {p: s.held for p, s in servers.items()})
    assert v.ok, v.summary()
    assert require_writes_during(v, survivors=True) is None


def test_the_replicated_writer_follows_the_new_primary():
    servers = {"mongo-0": FakeServer(primary=True), "mongo-1": FakeServer(), "mongo-2": FakeServer()}
    for s in servers.values():
        s.replicas = [r for r in servers.values() if r is not s]
    wl = workload_ledger(servers, replication=True)
    assert list(wl.connectors) == ["primary"]
    with wl:
        wl.wait_acked(5, 20, every_writer=True)
        servers["mongo-0"].down = True
        servers["mongo-0"].primary, servers["mongo-1"].primary = False, True
        wl.set_phase(DURING)
        wl.wait_acked(5, 20, phase=DURING)
    assert {w.member for w in wl.ledger.writes if w.phase == DURING and w.outcome == OK} == {"mongo-1"}
    # The old primary missed the writes made while it was down: until it catches up they are lost there...
    held = {p: s.held for p, s in servers.items()}
    assert {m for _, m in check_ledger(wl.ledger, held).lost} == {"mongo-0"}
    # ...and while it cannot be read they cannot be vouched for.
    v = check_ledger(wl.ledger, {**held, "mongo-0": None})
    assert not v.ok and {why for _, why in v.unverifiable} == {"mongo-0 unreachable"}
    servers["mongo-0"].held |= servers["mongo-1"].held
    assert check_ledger(wl.ledger, held).ok


def test_wait_acked_times_out_with_what_it_saw():
    wl = workload_ledger({p: FakeServer() for p in ("mongo-0", "mongo-1")}, replication=False)
    w = wl.ledger.invoke("mongo-0", 1.0)
    wl.ledger.complete(w, OK, 1.1)
    with pytest.raises(WaitTimeout) as err:
        wl.wait_acked(1, 0.2, phase=DURING)
    assert "1 more acknowledged writes in phase during" in str(err.value)
    assert "acknowledged: all +0" in str(err.value)
    with pytest.raises(WaitTimeout, match="from every pod.*mongo-0 \\+0, mongo-1 \\+0"):
        wl.wait_acked(1, 0.2, every_writer=True)
    with pytest.raises(ValueError):
        wl.wait_acked(1, 0.2, phase="fault")
