import pytest
import yaml

from fixtures import cluster as cl
from fixtures.errors import SuiteError
from fixtures.timeouts import Timeouts


def test_kind_config_repeats_the_worker_entry():
    cfg = cl.render_kind_config(3)
    roles = [n["role"] for n in cfg["nodes"]]
    assert roles == ["control-plane", "worker", "worker", "worker"]
    assert cfg["networking"]["podSubnet"]


def test_kind_config_needs_exactly_one_control_plane(tmp_path):
    tpl = tmp_path / "two-planes.yaml"
    tpl.write_text(yaml.safe_dump({"kind": "Cluster", "nodes": [{"role": "control-plane"}, {"role": "control-plane"}]}))
    with pytest.raises(SuiteError, match="exactly one control-plane"):
        cl.render_kind_config(1, tpl)


def test_zero_workers_is_refused():
    with pytest.raises(SuiteError, match="positive whole number"):
        cl.render_kind_config(0)


def _provider(tmp_path, **kw):
    args = dict(name="t", workers=3, node_image="kindest/node:v0", timeouts=Timeouts.scaled(1),
                state_dir=tmp_path, kind_bin="/bin/true", kubectl_bin="/bin/true", progress=lambda s: None)
    args.update(kw)
    return cl.KindProvider(**args)


def test_no_docker_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setattr(cl, "docker_answers", lambda: False)
    with pytest.raises(SuiteError) as info:
        _provider(tmp_path).preflight()
    assert str(info.value).startswith("no Docker engine answers; start one")
    assert "\n" not in str(info.value)


def test_missing_node_image_says_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setattr(cl, "docker_answers", lambda: True)
    monkeypatch.setattr(cl, "node_image_present", lambda image: False)
    with pytest.raises(SuiteError, match=r"node image kindest/node:v0 is not in Docker .* run images/build"):
        _provider(tmp_path).preflight()


def test_a_kind_binary_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(SuiteError, match="kind binary /nonexistent/kind does not exist"):
        _provider(tmp_path, kind_bin="/nonexistent/kind").preflight()


def test_existing_cluster_needs_a_kubeconfig():
    with pytest.raises(SuiteError, match="--cluster existing needs --kubeconfig PATH"):
        cl.ExistingProvider(None, None, Timeouts.scaled(1))


def test_releases_from_1_31_keep_the_kubelet_running_on_cgroup_v1():
    # kubelet 1.35 refuses cgroup v1 by default: a v1.35.3 cluster did not come up here without this.
    for release in ("v1.35.3", "v1.34.4", "v1.31.0"):
        patches = cl.render_kind_config(3, release=release)["kubeadmConfigPatches"]
        assert cl.KEEP_CGROUP_V1 in patches, release
        assert any("shutdownGracePeriod" in p for p in patches), "the template's own patches stay"
    # Older kubelets do not know the field; an unknown tag adds nothing either.
    for release in ("v1.30.2", "v1.28.4", None, "latest"):
        assert cl.KEEP_CGROUP_V1 not in (cl.render_kind_config(3, release=release).get("kubeadmConfigPatches") or [])
