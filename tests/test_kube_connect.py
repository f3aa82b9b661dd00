"""Bad kubeconfigs and unreachable clusters end in one clear line."""

import socket

import pytest
import yaml

from fixtures.errors import SuiteError
from fixtures.kube import connect


def _kubeconfig(tmp_path, server):
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_missing_kubeconfig(tmp_path):
    with pytest.raises(SuiteError) as info:
        connect(tmp_path / "nope")
    assert str(info.value) == f"kubeconfig {tmp_path / 'nope'} does not exist; pass --kubeconfig with the path of a readable kubeconfig file"


def test_kubeconfig_that_is_not_one(tmp_path):
    bad = tmp_path / "bad"
    bad.write_text("this: [is not\n")
    with pytest.raises(SuiteError, match="is not a valid kubeconfig|cannot be used"):
        connect(bad)


def test_unknown_context(tmp_path):
    with pytest.raises(SuiteError, match="cannot be used"):
        connect(_kubeconfig(tmp_path, "https://127.0.0.1:1"), context="no-such-context")


def test_unreachable_cluster(tmp_path):
    port = _closed_port()
    with pytest.raises(SuiteError) as info:
        connect(_kubeconfig(tmp_path, f"https://127.0.0.1:{port}"), request_timeout=3)
    msg = str(info.value)
    assert msg.startswith(f"the cluster at 127.0.0.1:{port} does not answer")
    assert "\n" not in msg


def _service_account(tmp_path):
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("token-from-the-file")
    (sa / "namespace").write_text("sonobuoy\n")
    (sa / "ca.crt").write_text("not a real CA")
    return sa


def test_in_a_pod_the_service_account_becomes_a_kubeconfig_the_client_reads(tmp_path):
    """A Sonobuoy plugin's pod: the mounted ServiceAccount, as a kubeconfig
    that names the token's file (kubectl and the client both read it)."""
    from kubernetes import client, config

    from fixtures.kube import in_cluster_kubeconfig

    sa = _service_account(tmp_path)
    dest = tmp_path / "out" / "kubeconfig"
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert in_cluster_kubeconfig(dest, sa, env) == "sonobuoy"
    assert dest.stat().st_mode & 0o077 == 0
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(dest), client_configuration=cfg)
    assert cfg.host == "https://10.96.0.1:443"
    assert cfg.api_key["BearerToken"] == "Bearer token-from-the-file"
    assert yaml.safe_load(dest.read_text())["users"][0]["user"] == {"tokenFile": str(sa / "token")}
    env6 = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    in_cluster_kubeconfig(dest, sa, env6)
    assert yaml.safe_load(dest.read_text())["clusters"][0]["cluster"]["server"] == "https://[fd00::1]:443"


def test_outside_a_pod_there_is_no_in_cluster_kubeconfig_and_existing_needs_one(tmp_path, monkeypatch):
    from fixtures.cluster import ExistingProvider
    from fixtures.kube import in_cluster_kubeconfig
    from fixtures.timeouts import Timeouts

    sa = _service_account(tmp_path)
    assert in_cluster_kubeconfig(tmp_path / "k", sa, {}) is None
    assert in_cluster_kubeconfig(tmp_path / "k", tmp_path / "none",
                                 {"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"}) is None
    assert not (tmp_path / "k").exists()
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(SuiteError, match="needs --kubeconfig PATH .* unless the suite runs in a pod with STS_IN_CLUSTER=1"):
        ExistingProvider(None, None, Timeouts.scaled())
    # In a pod, but not asked to use its ServiceAccount: the same line, never the pod's own cluster by surprise.
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.delenv("STS_IN_CLUSTER", raising=False)
    with pytest.raises(SuiteError, match="unless the suite runs in a pod with STS_IN_CLUSTER=1"):
        ExistingProvider(None, None, Timeouts.scaled())
