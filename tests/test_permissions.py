"""Before touching a cluster it did not create, the suite lists what its
credentials may not do."""

import pytest
import yaml

from fixtures.cluster import ExistingProvider, missing_permissions
from fixtures.errors import SuiteError

pytestmark = pytest.mark.cluster


def test_the_clusters_admin_has_every_permission(cluster):
    assert missing_permissions(cluster.api, disruptive=True) == []


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
    for needed in ("create pods/exec", "list pods", "delete nodes"):
        assert needed in msg
