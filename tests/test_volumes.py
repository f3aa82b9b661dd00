"""Which nodes a PersistentVolume admits (fixtures/scenarios.py): a volume
no other worker admits keeps a second pod from running anywhere, and the
at-most-one checks must say so rather than pass."""

from types import SimpleNamespace as NS

from fixtures.scenarios import _term_admits, confined_volume


def node(name, **labels):
    return NS(metadata=NS(name=name, labels=labels))


def expr(key, operator, *values):
    return NS(key=key, operator=operator, values=list(values))


def term(*expressions, fields=()):
    return NS(match_expressions=list(expressions), match_fields=list(fields))


def test_a_term_ands_its_expressions_over_labels_and_the_nodes_name():
    n = node("w2", **{"kubernetes.io/hostname": "w2", "topology.kubernetes.io/zone": "a"})
    assert _term_admits(term(expr("topology.kubernetes.io/zone", "In", "a")), n)
    assert not _term_admits(term(expr("topology.kubernetes.io/zone", "In", "b")), n)
    assert not _term_admits(term(expr("kubernetes.io/hostname", "In", "w1")), n)
    assert _term_admits(term(expr("disk", "DoesNotExist")), n)
    assert not _term_admits(term(expr("topology.kubernetes.io/zone", "In", "a"), expr("disk", "Exists")), n)
    assert not _term_admits(term(fields=[expr("metadata.name", "In", "w1")]), n)
    assert _term_admits(term(fields=[expr("metadata.name", "NotIn", "w1")]), n)


def workload_with(pv_terms, nodes):
    pv = NS(metadata=NS(name="pv-1"), spec=NS(node_affinity=NS(required=NS(node_selector_terms=pv_terms))))
    core = NS(read_namespaced_persistent_volume_claim=lambda name, ns: NS(spec=NS(volume_name="pv-1")),
              read_persistent_volume=lambda name: pv,
              list_node=lambda: NS(items=nodes))
    return NS(spec=NS(storage="pvc"), namespace="ns", api=NS(core=core))


def test_a_node_local_or_zonal_volume_is_confined_and_a_shared_zone_is_not():
    nodes = [node("w1", **{"kubernetes.io/hostname": "w1", "topology.kubernetes.io/zone": "a"}),
             node("w2", **{"kubernetes.io/hostname": "w2", "topology.kubernetes.io/zone": "b"}),
             node("w3", **{"kubernetes.io/hostname": "w3", "topology.kubernetes.io/zone": "a"})]
    local = workload_with([term(expr("kubernetes.io/hostname", "In", "w1"))], nodes)
    assert confined_volume(local, "mongo-1", ["w2", "w3"]).startswith("pv-1 (kubernetes.io/hostname In w1")
    zonal = workload_with([term(expr("topology.kubernetes.io/zone", "In", "a"))], nodes)
    assert confined_volume(zonal, "mongo-1", ["w2"]) is not None  # the spare is in another zone
    assert confined_volume(zonal, "mongo-1", ["w2", "w3"]) is None  # w3 shares the zone
    assert confined_volume(workload_with([], nodes), "mongo-1", ["w2"]) is None  # attaches anywhere
