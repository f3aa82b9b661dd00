"""Small hand-written pod histories for the checker tests.

`H().pod("mongo-0", "u0", "Pending")...` appends pod entries in order; the
builder keeps the last state of each UID so steps only name what changed.
"""

from fixtures.timeline import Entry, Timeline


class H:
    def __init__(self):
        self.tl = Timeline("ns")
        self.state: dict[str, dict] = {}

    def _add(self, kind, type_, name, data):
        self.tl.entries.append(Entry(len(self.tl.entries), float(len(self.tl.entries)), kind, type_, name, "", data))
        return self

    def pod(self, name, uid, phase="Pending", ready=False, deleting=False, node="n1", type_=None, **extra):
        new = uid not in self.state
        # As the recorder's pod_summary: containers run only once the pod is Running.
        data = {"uid": uid, "phase": phase, "ready": ready, "deleting": deleting, "node": node,
                "containers_running": phase == "Running", **extra}
        self.state[uid] = data
        return self._add("pod", type_ or ("ADDED" if new else "MODIFIED"), name, data)

    def ready(self, name, uid, node="n1"):
        return self.pod(name, uid, "Running", True, node=node)

    def running(self, name, uid, node="n1"):
        return self.pod(name, uid, "Running", False, node=node)

    def terminating(self, name, uid):
        s = dict(self.state[uid])
        s["deleting"] = True
        return self.pod(name, uid, s["phase"], s["ready"], True, s["node"])

    def deleted(self, name, uid, force=False):
        """Graceful by default: the kubelet reported the containers stopped
        first. `force`: deleted while the API still showed them running."""
        data = dict(self.state[uid])
        data["containers_running"] = force
        return self._add("pod", "DELETED", name, data)

    def initial(self, name, uid, node="n1"):
        return self.pod(name, uid, "Running", True, node=node, type_="INITIAL")

    def mark(self, label):
        return self._add("mark", "MARK", label, {})
