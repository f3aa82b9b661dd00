"""Before touching a cluster it did not create, the suite lists what its
credentials may not do; that list must cover every call the suite makes."""

import importlib
import inspect
import re
from pathlib import Path

import kubernetes.client
import pytest
import yaml

from fixtures.cluster import NEEDED, NEEDED_AGENT, NEEDED_DISRUPTIVE, NEEDED_HOSTPATH, ExistingProvider, missing_permissions
from fixtures.errors import SuiteError

ROOT = Path(__file__).resolve().parent.parent
# What runs against a user's cluster: the framework, the suites, the experiments.
# fixtures/mutants.py is not: it rewrites kube-system's control plane, and only on
# a kind cluster with --allow-disruptive (detection/), never on a user's cluster.
SCANNED = sorted([*(p for p in ROOT.glob("fixtures/**/*.py") if p.name != "mutants.py"),
                  *ROOT.glob("suites/**/*.py"), ROOT / "conftest.py"])

# Each Kubernetes client method the suite calls -> the permissions it needs.
CALLS = {
    "connect_get_node_proxy_with_path": [("get", "", "nodes/proxy")],
    "connect_get_namespaced_pod_exec": [("get", "", "pods/exec"), ("create", "", "pods/exec")],
    "create_namespace": [("create", "", "namespaces")],
    "read_namespace": [("get", "", "namespaces")],
    "delete_namespace": [("delete", "", "namespaces")],
    "create_namespaced_service": [("create", "", "services")],
    "list_namespaced_service": [("list", "", "services")],
    "create_namespaced_stateful_set": [("create", "apps", "statefulsets")],
    "read_namespaced_stateful_set": [("get", "apps", "statefulsets")],
    "list_namespaced_stateful_set": [("list", "apps", "statefulsets")],
    "patch_namespaced_stateful_set": [("patch", "apps", "statefulsets")],
    "delete_namespaced_stateful_set": [("delete", "apps", "statefulsets")],
    "list_namespaced_controller_revision": [("list", "apps", "controllerrevisions")],
    "patch_namespaced_stateful_set_scale": [("patch", "apps", "statefulsets/scale")],
    "read_namespaced_pod": [("get", "", "pods")],
    "list_namespaced_pod": [("list", "", "pods")],
    "delete_namespaced_pod": [("delete", "", "pods")],
    "read_namespaced_pod_log": [("get", "", "pods/log")],
    "list_namespaced_persistent_volume_claim": [("list", "", "persistentvolumeclaims")],
    "list_namespaced_event": [("list", "", "events")],
    "read_node": [("get", "", "nodes")],
    "list_node": [("list", "", "nodes")],
    "patch_node": [("patch", "", "nodes")],
    "patch_namespaced_pod": [("patch", "", "pods")],
    "delete_node": [("delete", "", "nodes")],
    "list_namespaced_endpoint_slice": [("list", "discovery.k8s.io", "endpointslices")],
    # The in-cluster fault agent (fixtures/agent.py). A Role can grant only
    # what its maker holds: the ConfigMap verbs the agent's script uses.
    "create_namespaced_service_account": [("create", "", "serviceaccounts")],
    "create_namespaced_role": [("create", "rbac.authorization.k8s.io", "roles"), ("get", "", "configmaps"),
                               ("list", "", "configmaps"), ("watch", "", "configmaps"),
                               ("create", "", "configmaps"), ("patch", "", "configmaps")],
    "create_namespaced_role_binding": [("create", "rbac.authorization.k8s.io", "rolebindings")],
    "create_namespaced_daemon_set": [("create", "apps", "daemonsets")],
    "read_namespaced_daemon_set": [("get", "apps", "daemonsets")],
    "create_namespaced_config_map": [("create", "", "configmaps")],
    "read_namespaced_config_map": [("get", "", "configmaps")],
    "list_namespaced_config_map": [("list", "", "configmaps")],
    "patch_namespaced_config_map": [("patch", "", "configmaps")],
    # --storage hostPath elsewhere: its pre-check (a dry run) and its cleanup pods.
    "create_namespaced_pod": [("create", "", "pods")],
    "read_namespaced_persistent_volume_claim": [("get", "", "persistentvolumeclaims")],
    "read_persistent_volume": [("get", "", "persistentvolumes")],
}
# Calls the pre-check deliberately does not ask about (fixtures/cluster.py says why).
NOT_ASKED = {
    "get_code": "GET /version is open to every client",
    "create_self_subject_access_review": "the pre-check itself, open to every authenticated user",
    "create_namespaced_deployment": "only under --workload-defect=deployment (negative controls)",
    "patch_namespaced_deployment_scale": "only under --workload-defect=deployment (negative controls)",
}
# Files whose calls are best effort: a refusal is recorded, never judged.
BEST_EFFORT = {"fixtures/report.py": "cluster facts"}
# kubectl subcommands the suite runs -> the permissions they need.
KUBECTL = {"port-forward": [("get", "", "pods"), ("get", "", "pods/portforward"), ("create", "", "pods/portforward")]}


def api_methods() -> set[str]:
    """Every method of every API class of the Kubernetes client."""
    names = set()
    for cls_name, cls in vars(kubernetes.client).items():
        if inspect.isclass(cls) and cls_name.endswith("Api"):
            names |= {n.removesuffix("_with_http_info") for n in vars(cls) if not n.startswith("_")}
    return names


def chaos_providers() -> set[tuple[str, str]]:
    """(module, function) of every third-party Kubernetes action the experiments run."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "python" and str(node.get("module", "")).startswith("chaosk8s"):
                found.add((node["module"], node["func"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for experiment in sorted((ROOT / "chaos").glob("*.yaml")):
        walk(yaml.safe_load(experiment.read_text()))
    return found


def reachable_source(module_name: str, func: str) -> str:
    """The source of `func` and of the functions of its module it calls."""
    module = importlib.import_module(module_name)
    todo, seen, texts = [func], set(), []
    while todo:
        name = todo.pop()
        obj = getattr(module, name, None)
        if name in seen or not inspect.isfunction(obj) or obj.__module__ != module.__name__:
            continue
        seen.add(name)
        texts.append(inspect.getsource(obj))
        todo.extend(re.findall(r"\b(\w+)\(", texts[-1]))
    return "\n".join(texts)


def needed_by_the_suite() -> tuple[dict[tuple, list[str]], list[str]]:
    """Each permission the suite's calls need -> where; and calls nobody mapped."""
    methods = api_methods()
    needs: dict[tuple, list[str]] = {}
    unmapped = []
    sources = [(str(f.relative_to(ROOT)), f.read_text()) for f in SCANNED]
    sources += [(f"{m}.{fn} (chaos/)", reachable_source(m, fn)) for m, fn in sorted(chaos_providers())]
    for where, text in sources:
        if where in BEST_EFFORT:
            continue
        called = set(re.findall(r"\.(\w+)\b", text)) & methods
        for method in sorted(called):
            if method in NOT_ASKED:
                continue
            if method not in CALLS:
                unmapped.append(f"{where}: {method}")
                continue
            perms = list(CALLS[method])
            # A list method handed to a watch stream is also watched.
            if method.startswith("list_") and "watch.Watch(" in text:
                perms += [("watch", group, resource) for _, group, resource in CALLS[method]]
            for perm in perms:
                needs.setdefault(perm, []).append(f"{where}: {method}")
        for sub in re.findall(r"\[\s*[\w.]*kubectl\w*\s*,\s*\"([\w-]+)\"", text):
            if sub not in KUBECTL:
                unmapped.append(f"{where}: kubectl {sub}")
                continue
            for perm in KUBECTL[sub]:
                needs.setdefault(perm, []).append(f"{where}: kubectl {sub}")
    return needs, unmapped


def test_every_api_call_of_the_suite_is_in_the_permission_pre_check():
    needs, unmapped = needed_by_the_suite()
    assert not unmapped, (f"API calls with no permission mapping (add them to CALLS, and what they need to "
                          f"fixtures/cluster.py NEEDED): {unmapped}")
    asked = set(NEEDED) | set(NEEDED_DISRUPTIVE) | set(NEEDED_AGENT) | set(NEEDED_HOSTPATH)
    missing = {perm: where for perm, where in needs.items() if perm not in asked}
    assert not missing, f"permissions the suite needs but the pre-check does not ask for: {missing}"
    unused = sorted(asked - set(needs))
    assert not unused, f"the pre-check asks for permissions no call needs: {unused}"
    twice = sorted({p for p in NEEDED if NEEDED.count(p) > 1} | (set(NEEDED) & set(NEEDED_DISRUPTIVE)))
    assert not twice, f"the pre-check asks twice for {twice}"


def test_the_scan_sees_each_kind_of_call():
    """The scan itself: a direct call, a method handed to a watch stream, the
    chaos toolkit's action and kubectl each produce their permissions."""
    needs, _ = needed_by_the_suite()
    assert "fixtures/workload.py: create_namespace" in needs[("create", "", "namespaces")]
    assert "fixtures/timeline.py: list_namespaced_event" in needs[("watch", "", "events")]
    assert "chaosk8s.pod.actions.terminate_pods (chaos/): delete_namespaced_pod" in needs[("delete", "", "pods")]
    assert "fixtures/portforward.py: kubectl port-forward" in needs[("create", "", "pods/portforward")]
    assert "fixtures/dns.py: list_namespaced_endpoint_slice" in needs[("list", "discovery.k8s.io", "endpointslices")]
    assert not any(w.startswith("fixtures/report.py") for ws in needs.values() for w in ws)


@pytest.mark.cluster
def test_the_clusters_admin_has_every_permission(cluster):
    assert missing_permissions(cluster.api, disruptive=True) == []
    assert missing_permissions(cluster.api, disruptive=True, needed=NEEDED_AGENT + NEEDED_HOSTPATH) == []


@pytest.mark.cluster
def test_credentials_without_rights_are_refused_with_the_list(cluster, namespace, timeouts, tmp_path):
    core = cluster.api.core
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "no-rights"}})
    token = core.create_namespaced_service_account_token(
        "no-rights", namespace, {"spec": {"expirationSeconds": 600}}).status.token
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    ca = admin["clusters"][0]["cluster"]["certificate-authority-data"]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": cluster.api.server, "certificate-authority-data": ca}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }))
    with pytest.raises(SuiteError) as info:
        ExistingProvider(str(kubeconfig), None, timeouts, cluster.kubectl).connect(disruptive=True)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"the credentials in {kubeconfig} lack permissions the suite needs: create namespaces")
    for needed in ("create pods/exec", "list pods", "delete nodes", "patch statefulsets.apps/scale",
                   "list endpointslices.discovery.k8s.io"):
        assert needed in msg
