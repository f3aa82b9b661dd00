"""Variants of the seed manifests are patches; the seed file stays the source."""

import pytest
import yaml

from fixtures.errors import SuiteError
from fixtures.workload import STATEFULSET_FILE, WorkloadSpec, render


def test_seed_manifest_is_the_documented_shape():
    sts = yaml.safe_load(STATEFULSET_FILE.read_text())
    c = sts["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["mongod", "--bind_ip_all", "--replSet", "rs0"]
    assert sts["spec"]["serviceName"] == "mongo" and sts["spec"]["replicas"] == 3
    anti = sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"


def test_mongodb_profile_keeps_the_seed_command():
    _, sts = render(WorkloadSpec(profile="mongodb", image="mongo:7.0"), "ns1")
    c = sts["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["mongod", "--bind_ip_all", "--replSet", "rs0"]
    assert c["image"] == "mongo:7.0"


def test_stand_in_profile_runs_ferretdb_on_the_same_port_and_data_path():
    _, sts = render(WorkloadSpec(profile="stand-in", image="sts-conformance/ferretdb-standin:v1.24.2"), "ns1")
    c = sts["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["/usr/local/bin/ferretdb"]
    assert "--listen-addr=:27017" in c["args"]
    assert any(a.startswith("--sqlite-url=file:/data/db") for a in c["args"])
    assert c["volumeMounts"][0]["mountPath"] == "/data/db"


def test_host_path_is_unique_per_namespace():
    _, a = render(WorkloadSpec(image="x"), "ns-a")
    _, b = render(WorkloadSpec(image="x"), "ns-b")
    path = lambda s: s["spec"]["template"]["spec"]["volumes"][0]["hostPath"]["path"]  # noqa: E731
    assert path(a) != path(b)
    assert path(a).endswith("/ns-a")


def test_policy_replicas_and_emptydir_variants():
    _, sts = render(WorkloadSpec(image="x", replicas=5, pod_management="OrderedReady", storage="emptyDir"), "ns")
    assert sts["spec"]["replicas"] == 5
    assert sts["spec"]["podManagementPolicy"] == "OrderedReady"
    assert sts["spec"]["template"]["spec"]["volumes"][0] == {"name": "data", "emptyDir": {}}


def test_dns_defect_unpublishes_the_pods():
    svc, _ = render(WorkloadSpec(image="x", defect="dns-unpublished"), "ns")
    assert svc["spec"]["selector"] != {"app": "mongo"}


def test_rendering_never_touches_the_seed_file():
    before = STATEFULSET_FILE.read_text()
    render(WorkloadSpec(image="x", storage="emptyDir", replicas=1), "ns")
    assert STATEFULSET_FILE.read_text() == before


@pytest.mark.parametrize("spec, message", [
    (WorkloadSpec(profile="postgres", image="x"), "unknown profile 'postgres'; choose one of: mongodb, stand-in"),
    (WorkloadSpec(image="x", pod_management="Random"), "unknown pod management policy 'Random'"),
    (WorkloadSpec(image="x", defect="nope"), "unknown workload defect 'nope'"),
    (WorkloadSpec(image=None), "no image for profile"),
])
def test_bad_specs_fail_with_one_clear_line(spec, message):
    with pytest.raises(SuiteError, match=message) as info:
        spec.validate()
    assert "\n" not in str(info.value)


def test_the_duplicate_env_variant_repeats_one_name_and_nothing_else_changes():
    from fixtures.workload import WorkloadSpec, render

    _, plain = render(WorkloadSpec(profile="stand-in", image="img"), "ns1")
    _, dup = render(WorkloadSpec(profile="stand-in", image="img", variant="duplicate-env"), "ns1")
    env = dup["spec"]["template"]["spec"]["containers"][0]["env"]
    names = [e["name"] for e in env]
    assert len(names) - len(set(names)) == 1
    del dup["spec"]["template"]["spec"]["containers"][0]["env"]
    plain["spec"]["template"]["spec"]["containers"][0].pop("env", None)
    assert dup == plain


IMG = "sts-conformance/ferretdb-standin:v1.24.2"


def test_update_claim_ordinal_and_availability_settings_reach_the_statefulset():
    _, sts = render(WorkloadSpec(image=IMG, update_strategy="RollingUpdate", partition=2,
                                 claim_retention=("Delete", "Retain"), ordinals_start=5, min_ready_seconds=10), "ns1")
    spec = sts["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Delete", "whenScaled": "Retain"}
    assert spec["ordinals"] == {"start": 5} and spec["minReadySeconds"] == 10
    # A known revision to come back to.
    assert spec["template"]["metadata"]["annotations"] == {"sts-conformance.io/revision": "a"}


def test_defaults_leave_the_api_defaults_alone():
    _, sts = render(WorkloadSpec(image=IMG), "ns1")
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate"}
    for key in ("persistentVolumeClaimRetentionPolicy", "ordinals", "minReadySeconds"):
        assert key not in sts["spec"]


@pytest.mark.parametrize("defect, spec, check", [
    ("update-ondelete", {}, lambda s: s["updateStrategy"] == {"type": "OnDelete"}),
    ("update-rolling", {"update_strategy": "OnDelete"}, lambda s: s["updateStrategy"]["type"] == "RollingUpdate"),
    ("partition-dropped", {"partition": 2}, lambda s: s["updateStrategy"] == {"type": "RollingUpdate"}),
    ("claims-retained", {"claim_retention": ("Delete", "Delete")},
     lambda s: s["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}),
    ("claims-deleted", {}, lambda s: s["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Delete",
                                                                                   "whenScaled": "Delete"}),
    ("ordinals-dropped", {"ordinals_start": 5}, lambda s: "ordinals" not in s),
    ("min-ready-dropped", {"min_ready_seconds": 10}, lambda s: "minReadySeconds" not in s),
])
def test_each_update_family_defect_overrides_what_the_test_asks_for(defect, spec, check):
    _, sts = render(WorkloadSpec(image=IMG, defect=defect, **spec), "ns1")
    assert check(sts["spec"]), sts["spec"]


def test_a_start_ordinal_numbers_the_identities_from_it():
    from fixtures.workload import Workload
    wl = Workload(api=None, namespace="ns1", spec=WorkloadSpec(image=IMG, ordinals_start=5))
    assert wl.pod_names() == ["mongo-5", "mongo-6", "mongo-7"]


def test_unknown_update_strategy_or_retention_policy_is_refused():
    with pytest.raises(SuiteError, match="unknown update strategy 'Recreate'"):
        render(WorkloadSpec(image=IMG, update_strategy="Recreate"), "ns1")
    with pytest.raises(SuiteError, match="unknown claim retention policy 'Keep'"):
        render(WorkloadSpec(image=IMG, claim_retention=("Keep", "Retain")), "ns1")


def test_pinned_pods_name_their_nodes_one_field_selector_each():
    """The API takes one value per `metadata.name` field selector: one term
    (ORed) per node, by the Node object's name, not its hostname label."""
    _, sts = render(WorkloadSpec(image="img", nodes=("w1", "w2", "w3")), "ns")
    terms = sts["spec"]["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [n]}]}
                     for n in ("w1", "w2", "w3")]


def test_storage_follows_the_cluster_unless_asked():
    from fixtures.options import resolved_storage

    assert resolved_storage("auto", "kind") == "hostPath"
    assert resolved_storage("auto", "existing") == "pvc"
    assert resolved_storage("hostPath", "existing") == "hostPath"
    assert resolved_storage("pvc", "kind") == "pvc"


def test_the_users_namespace_labels_go_on_every_namespace_and_callers_win():
    from types import SimpleNamespace

    from fixtures.workload import create_namespace, parse_labels, set_namespace_labels

    made = []
    api = SimpleNamespace(core=SimpleNamespace(create_namespace=made.append))
    set_namespace_labels(parse_labels("pod-security.kubernetes.io/enforce=baseline,team=x"))
    try:
        create_namespace(api, "a")
        create_namespace(api, "b", {"pod-security.kubernetes.io/enforce": "privileged"})
    finally:
        set_namespace_labels({})
    assert made[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert made[0]["metadata"]["labels"]["team"] == "x"
    assert made[1]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    with pytest.raises(SuiteError, match="not KEY=VALUE"):
        parse_labels("novalue")
