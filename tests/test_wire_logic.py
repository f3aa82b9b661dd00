"""STS-WIRE-001's client logic against fake servers (no cluster, no mongod).

The replica-set branch cannot meet a real mongod here; these fakes answer as
mongod does where the check depends on it: only the primary takes writes
(NotWritablePrimary elsewhere), a write concern names how many members must
acknowledge, and a secondary serves reads only to a read preference that
allows secondaries.
"""

import contextlib

import pytest
from pymongo import ReadPreference
from pymongo.errors import AutoReconnect, NotPrimaryError, OperationFailure, WriteConcernError

from fixtures.errors import CannotJudge, SuiteError
from fixtures.mongo import WIRE_COLLECTION, WIRE_DB, wire_roundtrip

from .clock import FakeClock



class FakeServer:
    """One pod's server. `replica_set` is None for a server that does not replicate.

    A member of a replica set applies a replicated write at once, or only
    from its `applies_at_read`-th read on (None: never), and may store it
    altered (`tamper`), fail every read (`read_error`) or act before taking
    a write (`before_insert`).
    """

    def __init__(self, name, replica_set=None, primary=False):
        self.name, self.replica_set, self.primary = name, replica_set, primary
        self.applies_at_read: int | None = 0
        self.tamper: dict = {}
        self.read_error: Exception | None = None
        self.before_insert = None  # called with the document before the server takes it
        self.docs = {}
        self.oplog = []  # replicated documents not applied yet
        self.reads = 0
        self.writes = []  # (document, write concern document) this server accepted

    def hello(self):
        if self.replica_set is None:
            return {"isWritablePrimary": True, "maxWireVersion": 21}
        return {"setName": "rs0", "isWritablePrimary": self.primary, "secondary": not self.primary,
                "maxWireVersion": 21}

    def apply(self):
        if self.applies_at_read is not None and self.reads >= self.applies_at_read:
            for doc in self.oplog:
                self.docs[doc["_id"]] = {**doc, **self.tamper}
            self.oplog.clear()


class FakeReplicaSet:
    def __init__(self, primary, members=("mongo-0", "mongo-1", "mongo-2")):
        self.servers = {m: FakeServer(m, self, m == primary) for m in members}

    def replicate(self, doc):
        for s in self.servers.values():
            s.oplog.append(dict(doc))
            s.apply()


class FakeCollection:
    def __init__(self, server, write_concern=None, read_preference=None):
        self.server, self.write_concern, self.read_preference = server, write_concern, read_preference

    def insert_one(self, doc):
        s = self.server
        if s.before_insert:
            s.before_insert(doc)
        if s.replica_set is not None and not s.primary:
            raise NotPrimaryError("not primary", {"code": 10107, "codeName": "NotWritablePrimary"})
        s.writes.append((dict(doc), self.write_concern.document if self.write_concern else {}))
        if s.replica_set is None:
            s.docs[doc["_id"]] = dict(doc)
            return
        s.replica_set.replicate(doc)
        applied = sum(doc["_id"] in m.docs for m in s.replica_set.servers.values())
        w = self.write_concern.document.get("w", 1)
        if applied < w:
            raise WriteConcernError("waiting for replication timed out", 64,
                                    {"code": 64, "errInfo": {"wtimeout": True}})

    def find_one(self, flt):
        s = self.server
        if s.read_error is not None:
            raise s.read_error
        s.reads += 1
        s.apply()
        secondary_ok = self.read_preference is not None and self.read_preference.mode != ReadPreference.PRIMARY.mode
        if s.replica_set is not None and not s.primary and not secondary_ok:
            raise NotPrimaryError("not primary and secondaryOk=false", {"code": 13435})
        doc = s.docs.get(flt["_id"])
        return dict(doc) if doc else None


class FakeDatabase:
    def __init__(self, server):
        self.server = server

    def get_collection(self, name, write_concern=None, read_preference=None):
        assert name == WIRE_COLLECTION
        return FakeCollection(self.server, write_concern, read_preference)

    def __getitem__(self, name):
        return self.get_collection(name)

    def command(self, name):
        if name == "hello":
            return self.server.hello()
        if name == "buildInfo":
            return {"version": "7.0.14"} if self.server.replica_set else {"ferretdbVersion": "v1.24.2"}
        raise AssertionError(f"unexpected command {name}")


class FakeClient:
    def __init__(self, server):
        self.server = server
        self.admin = FakeDatabase(server)

    def __getitem__(self, name):
        assert name == WIRE_DB
        return FakeDatabase(self.server)


def opener(servers, unreachable=()):
    @contextlib.contextmanager
    def open_client(pod):
        if pod in unreachable:
            raise SuiteError(f"kubectl port-forward to ns/{pod}:27017 did not start within 30s: no output")
        yield FakeClient(servers[pod])
    return open_client


PODS = ["mongo-0", "mongo-1", "mongo-2"]


def test_replica_set_is_written_once_through_the_primary_and_read_from_every_member():
    rs = FakeReplicaSet(primary="mongo-2")
    trip = wire_roundtrip(PODS, opener(rs.servers), replication=True, budget=30, write_timeout_ms=7000,
                          clock=FakeClock())
    writes = {pod: s.writes for pod, s in rs.servers.items() if s.writes}
    assert list(writes) == ["mongo-2"] and len(writes["mongo-2"]) == 1
    doc, concern = writes["mongo-2"][0]
    assert concern == {"w": 3, "wtimeout": 7000}
    assert {pod: (m.role, m.written_to, m.read_back) for pod, m in trip.members.items()} == {
        "mongo-0": ("secondary", "mongo-2", doc),
        "mongo-1": ("secondary", "mongo-2", doc),
        "mongo-2": ("primary", "mongo-2", doc),
    }
    assert trip.replication and trip.members["mongo-0"].server == "MongoDB 7.0.14"


def test_a_member_that_never_returns_the_document_fails_naming_it():
    rs = FakeReplicaSet(primary="mongo-2")
    rs.servers["mongo-1"].applies_at_read = None
    clock = FakeClock()
    with pytest.raises(AssertionError) as info:
        wire_roundtrip(PODS, opener(rs.servers), replication=True, budget=20, clock=clock)
    msg = str(info.value)
    assert msg.startswith("STS-WIRE-001: ")
    assert "mongo-1 (secondary, written through mongo-2) returned nothing" in msg
    assert "mongo-0" not in msg
    assert clock.now == 20  # it retried for the whole budget before judging


def test_an_unmet_write_concern_is_evidence_and_the_reads_decide():
    rs = FakeReplicaSet(primary="mongo-2")
    rs.servers["mongo-1"].applies_at_read = 2
    trip = wire_roundtrip(PODS, opener(rs.servers), replication=True, budget=20, write_timeout_ms=5000,
                          clock=FakeClock())
    assert trip.write.startswith("applied on mongo-2, not acknowledged by all 3 members within 5000 ms")
    assert trip.members["mongo-1"].reads == 2 and trip.members["mongo-1"].read_back is not None


def test_a_member_that_catches_up_within_the_budget_passes():
    rs = FakeReplicaSet(primary="mongo-0")
    rs.servers["mongo-2"].applies_at_read = 3
    trip = wire_roundtrip(PODS, opener(rs.servers), replication=True, budget=20, clock=FakeClock())
    assert trip.members["mongo-2"].reads == 3
    assert trip.members["mongo-2"].read_back == trip.members["mongo-0"].read_back is not None


def test_a_member_serving_other_data_fails_at_once():
    rs = FakeReplicaSet(primary="mongo-1")
    rs.servers["mongo-0"].tamper = {"written_to": "someone else"}
    clock = FakeClock()
    with pytest.raises(AssertionError, match=r"^STS-WIRE-001: mongo-0 served .*'someone else'"):
        wire_roundtrip(PODS, opener(rs.servers), replication=True, budget=20, clock=clock)
    assert clock.now == 0


def test_a_member_that_refuses_reads_fails_naming_it():
    rs = FakeReplicaSet(primary="mongo-1")
    rs.servers["mongo-2"].read_error = NotPrimaryError("not primary and secondaryOk=false", {"code": 13435})
    with pytest.raises(AssertionError, match=r"^STS-WIRE-001: .*mongo-2 \(secondary, written through mongo-1\) "
                                             r"refused the read"):
        wire_roundtrip(PODS, opener(rs.servers), replication=True, budget=10, clock=FakeClock())


def test_a_member_that_cannot_be_asked_is_not_judged():
    rs = FakeReplicaSet(primary="mongo-2")
    rs.servers["mongo-1"].read_error = AutoReconnect("connection closed")
    with pytest.raises(CannotJudge, match="mongo-1 could not be asked: AutoReconnect"):
        wire_roundtrip(PODS, opener(rs.servers), replication=True, budget=10, clock=FakeClock())


def test_the_primary_is_found_again_when_it_steps_down_before_the_write():
    rs = FakeReplicaSet(primary="mongo-0")
    old, new = rs.servers["mongo-0"], rs.servers["mongo-1"]

    def step_down(doc):
        old.primary, new.primary = False, True
        old.before_insert = None

    old.before_insert = step_down
    trip = wire_roundtrip(PODS, opener(rs.servers), replication=True, budget=20, clock=FakeClock())
    assert [pod for pod, s in rs.servers.items() if s.writes] == ["mongo-1"]
    assert trip.members["mongo-1"].role == "primary" and trip.members["mongo-0"].written_to == "mongo-1"


def test_a_primary_that_refuses_the_write_fails():
    rs = FakeReplicaSet(primary="mongo-2")

    def refuse(doc):
        raise OperationFailure("not authorized on sts_conformance to execute command", 13)

    rs.servers["mongo-2"].before_insert = refuse
    with pytest.raises(AssertionError, match=r"^STS-WIRE-001: the primary mongo-2 refused the write"):
        wire_roundtrip(PODS, opener(rs.servers), replication=True, budget=10, clock=FakeClock())


def test_a_pod_whose_port_forward_cannot_open_is_not_judged():
    rs = FakeReplicaSet(primary="mongo-2")
    with pytest.raises(CannotJudge, match=r"^STS-WIRE-001: cannot reach mongo-1's server: SuiteError: kubectl port-forward"):
        wire_roundtrip(PODS, opener(rs.servers, unreachable={"mongo-1"}), replication=True, budget=10,
                       clock=FakeClock())
    assert not any(s.writes for s in rs.servers.values())


def test_no_primary_is_not_judged_here():
    rs = FakeReplicaSet(primary=None)
    with pytest.raises(CannotJudge, match="0 writable primaries"):
        wire_roundtrip(PODS, opener(rs.servers), replication=True, budget=10, clock=FakeClock())


def test_a_server_that_does_not_replicate_takes_one_write_per_pod():
    servers = {pod: FakeServer(pod) for pod in PODS}
    trip = wire_roundtrip(PODS, opener(servers), replication=False, budget=10, clock=FakeClock())
    for pod, server in servers.items():
        assert [doc["written_to"] for doc, _ in server.writes] == [pod]
        m = trip.members[pod]
        assert (m.server, m.role, m.written_to, m.reads) == ("FerretDB v1.24.2", "standalone", pod, 1)
        assert m.read_back == server.writes[0][0]
    assert not trip.replication
