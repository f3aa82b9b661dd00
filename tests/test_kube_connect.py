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
