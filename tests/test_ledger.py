"""The write ledger's checker and writer, on recorded histories (no cluster)."""

import json
import threading

from pymongo.errors import AutoReconnect, WriteConcernError

from fixtures.ledger import ACKED, UNKNOWN, Ledger, Write, Writer, check_ledger, settle_and_check


def ledger(*writes, replicated=False) -> Ledger:
    led = Ledger("ledger_test", {"w": 1, "j": True}, replicated)
    led.writes = [Write(seq, outcome, member, float(seq)) for seq, outcome, member in writes]
    return led


SINGLE = ledger((1, ACKED, "mongo-1"), (2, UNKNOWN, "mongo-1"), (3, ACKED, "mongo-1"))


def test_every_acknowledged_write_held_passes():
    v = check_ledger(SINGLE, {"mongo-0": set(), "mongo-1": {1, 3}, "mongo-2": set()})
    assert v.ok, v.summary()
    assert (v.acked, v.unknown, v.unknown_held) == (2, 1, 0)


def test_an_unknown_write_may_be_held_or_not():
    assert check_ledger(SINGLE, {"mongo-1": {1, 2, 3}}).ok
    assert check_ledger(SINGLE, {"mongo-1": {1, 2, 3}}).unknown_held == 1


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
    v = check_ledger(SINGLE, {"mongo-1": None, "mongo-0": {1, 3}})
    assert not v.ok
    assert v.unverifiable == [(1, "mongo-1 unreachable"), (3, "mongo-1 unreachable")]
    assert v.members["mongo-1"] == "unreachable"


def test_a_document_never_written_fails_as_phantom():
    v = check_ledger(SINGLE, {"mongo-1": {1, 3, 7}})
    assert v.phantom == [(7, "mongo-1")]
    assert not v.ok


def test_replicated_writes_must_be_on_every_reachable_member():
    led = ledger((1, ACKED, "mongo-0"), (2, ACKED, "mongo-1"), replicated=True)
    assert check_ledger(led, {"mongo-0": {1, 2}, "mongo-1": {1, 2}, "mongo-2": None}).ok
    v = check_ledger(led, {"mongo-0": {1, 2}, "mongo-1": {1, 2}, "mongo-2": {1}})
    assert v.lost == [(2, "mongo-2")]


def test_replicated_writes_with_no_member_reachable_are_unverifiable():
    led = ledger((1, ACKED, "mongo-0"), replicated=True)
    assert check_ledger(led, {"mongo-0": None}).unverifiable == [(1, "no member reachable")]


def test_an_empty_ledger_with_nothing_held_passes():
    assert check_ledger(ledger(), {"mongo-1": set()}).ok


def test_ledger_round_trips_through_json(tmp_path):
    path = SINGLE.save(tmp_path / "ledger.json")
    back = Ledger.load(path)
    assert back == SINGLE
    assert json.loads(path.read_text())["writes"][1]["outcome"] == UNKNOWN


def test_settle_waits_for_members_to_catch_up_and_returns_the_last_verdict():
    reads = iter([{"mongo-1": {1}}, {"mongo-1": {1, 3}}])
    now = [0.0]
    v = settle_and_check(SINGLE, lambda: next(reads), budget=10, clock=lambda: now[0],
                         sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert v.ok and now[0] == 3.0
    v = settle_and_check(SINGLE, lambda: {"mongo-1": {1}}, budget=10, clock=lambda: now[0],
                         sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert not v.ok and v.lost == [(3, "mongo-1")]


class FlakyCollection:
    """Acknowledges writes, except that write #2 loses its answer and #4
    reports a write-concern failure (applied, but not known to be durable)."""

    def __init__(self, done: threading.Event):
        self.held, self.done = set(), done

    def insert_one(self, doc):
        seq = doc["_id"]
        if seq == 2:
            self.held.add(seq)
            raise AutoReconnect("connection reset")
        if seq == 4:
            raise WriteConcernError("waiting for replication timed out", 64, {})
        self.held.add(seq)
        if seq >= 6:
            self.done.set()


def test_writer_records_network_errors_as_unknown_and_reconnects():
    done = threading.Event()
    coll = FlakyCollection(done)
    connects = []

    def connect():
        connects.append(1)
        if len(connects) == 2:
            raise ConnectionError("port-forward gone")
        return coll, "mongo-1"

    led = Ledger("ledger_test", {"w": 1, "j": True}, False)
    writer = Writer(led, connect, interval=0.0).start()
    assert done.wait(20)
    writer.stop()
    outcomes = {w.seq: w.outcome for w in led.writes}
    assert outcomes[1] == ACKED and outcomes[2] == UNKNOWN and outcomes[4] == UNKNOWN and outcomes[5] == ACKED
    assert led.connect_errors == 1 and len(connects) >= 4
    assert check_ledger(led, {"mongo-1": coll.held}).ok
    # Had #5 been lost after it was acknowledged, the check must say so.
    assert not check_ledger(led, {"mongo-1": coll.held - {5}}).ok


def test_a_write_in_flight_while_members_are_read_is_not_a_phantom():
    # #4 was sent (and applied) but its answer had not arrived when the members were read.
    led = ledger((1, ACKED, "mongo-1"), (2, ACKED, "mongo-1"), (3, ACKED, "mongo-1"))
    led.sent_through = 4
    assert check_ledger(led, {"mongo-1": {1, 2, 3, 4}}).ok
    assert check_ledger(led, {"mongo-1": {1, 2, 3, 4, 5}}).phantom == [(5, "mongo-1")]
