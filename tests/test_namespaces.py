"""Namespaces deleted without waiting: the session waits for them at its end."""

from types import SimpleNamespace

from kubernetes.client.rest import ApiException

from fixtures import workload
from fixtures.timeouts import Timeouts


class FakeCore:
    """Namespaces that go after a number of reads each; pods that go at once."""

    def __init__(self, reads_left: dict[str, int]):
        self.reads_left = dict(reads_left)
        self.deleted_pods: list[tuple[str, int]] = []

    def read_namespace(self, name):
        if self.reads_left.get(name, 0) <= 0:
            raise ApiException(status=404)
        self.reads_left[name] -= 1
        return SimpleNamespace(metadata=SimpleNamespace(name=name, labels=dict(workload.MANAGED_BY)),
                               status=SimpleNamespace(phase="Terminating"))

    def list_namespaced_pod(self, name):
        return SimpleNamespace(items=[SimpleNamespace(metadata=SimpleNamespace(name="mongo-0", finalizers=None,
                                                                               namespace=name))])

    def delete_namespace(self, name, propagation_policy=None):
        pass

    def delete_namespaced_pod(self, pod, namespace, grace_period_seconds=None):
        self.deleted_pods.append((pod, grace_period_seconds))


def test_a_namespace_deleted_without_waiting_is_waited_for_at_the_end(monkeypatch):
    monkeypatch.setattr(workload, "DELETING", set())
    core = FakeCore({"sts-a": 3, "sts-b": 1})
    api = SimpleNamespace(core=core)
    workload.delete_namespace(api, "sts-a", Timeouts.scaled(1), wait=False, hurry=True)
    assert workload.DELETING == {"sts-a"}
    assert core.deleted_pods == [("mongo-0", 0)]  # the namespace is terminating: no pod can replace it
    assert workload.wait_namespaces_gone(api, workload.DELETING | {"sts-b"}, 30) == []
    assert workload.DELETING == set()


def test_what_is_still_there_after_the_budget_is_named(monkeypatch):
    monkeypatch.setattr(workload, "DELETING", {"sts-stuck"})
    api = SimpleNamespace(core=FakeCore({"sts-stuck": 10**6}))
    assert workload.wait_namespaces_gone(api, workload.DELETING, 0.5) == ["sts-stuck"]
    assert workload.DELETING == {"sts-stuck"}
