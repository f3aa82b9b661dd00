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
