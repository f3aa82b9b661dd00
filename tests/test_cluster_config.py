import os
from pathlib import Path

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


def test_a_missing_node_image_is_pulled_and_when_it_cannot_be_the_line_says_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setattr(cl, "docker_answers", lambda: True)
    monkeypatch.setattr(cl, "node_image_present", lambda image: False)
    pulled, said = [], []
    monkeypatch.setattr(cl, "docker_pull", lambda image: pulled.append(image) or "dial tcp: lookup registry-1.docker.io: no such host")
    with pytest.raises(SuiteError) as info:
        _provider(tmp_path, progress=said.append).preflight()
    assert pulled == ["kindest/node:v0"]
    assert said == ["node image kindest/node:v0 is not in local Docker: pulling it"]
    assert str(info.value) == ("node image kindest/node:v0 is not in local Docker and could not be pulled (dial tcp: "
                               "lookup registry-1.docker.io: no such host); on a machine that cannot pull, build it: "
                               "images/build")
    monkeypatch.setattr(cl, "docker_pull", lambda image: None)  # a machine that can pull
    said.clear()
    _provider(tmp_path, progress=said.append, node_image="kindest/node:v1.34.4").preflight()
    assert said[0] == "node image kindest/node:v1.34.4 is not in local Docker: pulling it"
    assert said[1].startswith("pulled kindest/node:v1.34.4 in ")


def test_a_registry_mirror_goes_into_every_nodes_containerd_config(tmp_path):
    import tomllib

    certs = cl.write_mirror_hosts("172.18.0.1:5001", tmp_path / "certs.d")
    cfg = cl.render_kind_config(3, mirror="172.18.0.1:5001", mirror_dir=certs)
    (patch,) = cfg["containerdConfigPatches"]
    assert tomllib.loads(patch)["plugins"]["io.containerd.grpc.v1.cri"]["registry"] == {
        "config_path": "/etc/containerd/certs.d"}
    assert len(cfg["nodes"]) == 4
    for node in cfg["nodes"]:
        assert {"hostPath": str(certs), "containerPath": "/etc/containerd/certs.d", "readOnly": True} in node["extraMounts"]
    servers = {"docker.io": "https://registry-1.docker.io", "registry.k8s.io": "https://registry.k8s.io",
               "ghcr.io": "https://ghcr.io", "quay.io": "https://quay.io"}
    for registry, server in servers.items():
        hosts = tomllib.loads((certs / registry / "hosts.toml").read_text())
        assert hosts == {"server": server, "host": {"http://172.18.0.1:5001": {"capabilities": ["pull", "resolve"]}}}
    plain = cl.render_kind_config(3)
    assert "containerdConfigPatches" not in plain and not any("extraMounts" in n for n in plain["nodes"])


@pytest.mark.parametrize("text", ["172.18.0.1:5001", "kind-registry:5000", "mirror.example.com", "[fd00::1]:5000"])
def test_registry_mirror_values_that_are_host_and_port(text):
    from fixtures.options import registry_host
    assert registry_host(text) == text


@pytest.mark.parametrize("text", ["http://172.18.0.1:5001", "host:99999", "host/path", "", "a b"])
def test_registry_mirror_values_that_are_not_refused_in_one_line(text):
    import argparse

    from fixtures.options import registry_host
    with pytest.raises(argparse.ArgumentTypeError, match="is not HOST\\[:PORT\\]"):
        registry_host(text)


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


def test_profile_auto_takes_mongod_where_it_can_be_had_and_else_the_stand_in_saying_why(monkeypatch):
    import dataclasses

    from fixtures import plugin
    from fixtures.options import RunSettings

    s = RunSettings(cluster="kind", workers=4, profile="auto", workload_image=None, timeout_scale=1.0,
                    allow_disruptive=False, defect=None, reports_dir=Path("r"), node_fault_command=None,
                    chaos_dir=Path("c"))
    local, pulls = set(), []
    monkeypatch.setattr(plugin, "docker_answers", lambda: True)
    monkeypatch.setattr(plugin, "node_image_present", lambda image: image in local)
    monkeypatch.setattr(plugin, "built_images_env", lambda: {"STS_STANDIN_IMAGE": "sts/standin:1"})
    pull_error = "dial tcp: lookup registry-1.docker.io: no such host"
    monkeypatch.setattr(plugin, "docker_pull", lambda image: pulls.append(image) or pull_error)
    said = []
    with pytest.raises(SuiteError, match=r"mongo:7.0 is not in local Docker and cannot be pulled \(dial tcp.*no "
                                         r"stand-in is built; run images/build"):
        plugin.resolved_profile(s, said.append)
    local.add("sts/standin:1")
    profile, why = plugin.resolved_profile(s, said.append)
    assert profile == "stand-in" and pull_error in why and "sts/standin:1" in why
    assert said[-1] == "--profile auto: mongo:7.0 is not in local Docker; trying to pull it"
    monkeypatch.setattr(plugin, "docker_pull", lambda image: None)
    assert plugin.resolved_profile(s, said.append) == ("mongodb", "pulled mongo:7.0")
    local.add("mongo:7.0")
    assert plugin.resolved_profile(s, said.append) == ("mongodb", "mongo:7.0 is in local Docker")
    mirrored = dataclasses.replace(s, registry_mirror="172.18.0.1:5001")
    local.discard("mongo:7.0")
    assert plugin.resolved_profile(mirrored, said.append)[1] == "the nodes pull mongo:7.0 through the mirror http://172.18.0.1:5001"
    assert plugin.resolved_profile(dataclasses.replace(s, workload_image="my/mongo:8"), said.append)[0] == "mongodb"
    assert pulls == ["mongo:7.0", "mongo:7.0"]
    existing = plugin.resolved_profile(dataclasses.replace(s, cluster="existing"), said.append)
    assert existing[0] == "mongodb" and "pull mongo:7.0 themselves" in existing[1]
    assert pulls == ["mongo:7.0", "mongo:7.0"]  # nothing pulled here for someone else's cluster


def test_kind_and_kubectl_missing_are_downloaded_by_pytest_kind_and_a_failed_download_is_one_line(tmp_path,
                                                                                                monkeypatch):
    """Neither built here nor on PATH: pytest-kind downloads the pinned
    release (here from a local HTTP server standing in for GitHub); when the
    download fails, one line names the URL, the error and the offline way."""
    import functools
    import http.server
    import threading

    def missing(name, explicit, key):
        raise SuiteError(f"no {name} binary found")

    monkeypatch.setattr(cl, "find_tool", missing)
    monkeypatch.chdir(tmp_path)  # pytest-kind makes .pytest-kind/<name> where it runs
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "kind").write_text("#!/bin/sh\necho kind\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    said = []
    provider = _provider(tmp_path / "state", kind_bin=None, progress=said.append)
    try:
        monkeypatch.setenv("STS_KIND_DOWNLOAD_URL", f"http://127.0.0.1:{port}/kind")
        path = provider._tool("kind", None, "STS_KIND")
        assert path == str(tmp_path / "state" / "kind-v0.30.0") and os.access(path, os.X_OK)
        assert said == ["no kind built here (images/build) or on PATH: pytest-kind downloads kind v0.30.0"]
        monkeypatch.setenv("STS_KUBECTL_DOWNLOAD_URL", f"http://127.0.0.1:{port}/no-such-kubectl")
        with pytest.raises(SuiteError) as info:
            provider._tool("kubectl", None, "STS_KUBECTL")
        message = str(info.value)
        assert message.startswith(f"no kubectl binary built here or on PATH, and it could not be downloaded from "
                                  f"http://127.0.0.1:{port}/no-such-kubectl (HTTPError: 404")
        assert message.endswith("run images/build (it builds kubectl from the Go module proxy)") and "\n" not in message
        assert "KUBECTL_DOWNLOAD_URL" not in os.environ
    finally:
        server.shutdown()


def test_one_run_at_a_time_holds_a_kind_cluster_name(tmp_path, monkeypatch):
    monkeypatch.setattr(cl, "CLAIM_DIR", tmp_path)
    held = cl.take_claim("t")
    assert held is not None
    try:
        assert cl.take_claim("t") is None  # flock: a second holder, even in this process, is refused
        assert cl.claim_holder("t") == str(os.getpid())
        with pytest.raises(SuiteError) as info:
            _create_preflighted(tmp_path)
        assert str(info.value) == (f"kind cluster 't' is in use by another run on this machine (pid {os.getpid()}); "
                                   f"wait for it to end, or give this run its own --cluster-name")
    finally:
        os.close(held)
    again = cl.take_claim("t")  # released: free again
    assert again is not None
    os.close(again)


def _create_preflighted(tmp_path):
    provider = _provider(tmp_path)
    provider.preflighted = True
    return provider.create()


def _dead_pid() -> int:
    import subprocess
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _mark(**more):
    import socket
    return {"made_by": "sts-conformance", "kept": False, "host": socket.gethostname(), "pid": _dead_pid(), **more}


def test_only_clusters_the_suite_made_here_no_run_kept_and_whose_maker_is_gone_are_left_behind():
    assert cl.left_behind(_mark())
    assert not cl.left_behind(_mark(kept=True))
    assert not cl.left_behind(None)  # made by hand, or by an earlier version of the suite
    assert not cl.left_behind({"made_by": "someone else"})
    assert not cl.left_behind(_mark(host="another-host-sharing-this-docker"))  # its runs' locks are not here
    assert not cl.left_behind(_mark(pid=os.getpid()))  # its maker still runs


def test_the_sweep_deletes_only_what_no_live_run_holds(tmp_path, monkeypatch):
    monkeypatch.setattr(cl, "CLAIM_DIR", tmp_path)
    dead = _mark(made="2026-11-30T00:00:00Z")
    marks = {"dead-run": dead, "live-run": _mark(), "kept": _mark(kept=True), "by-hand": None}
    monkeypatch.setattr(cl, "read_mark", marks.get)
    deleted, said = [], []
    monkeypatch.setattr(cl, "delete_kind_cluster", lambda kind, name: deleted.append(name))
    live = cl.take_claim("live-run")
    try:
        assert cl.sweep_left_behind("kind", said.append, list(marks)) == ["dead-run"]
    finally:
        os.close(live)
    assert deleted == ["dead-run"]
    assert said == [f"kind cluster 'dead-run' was left by a run that did not end (made 2026-11-30T00:00:00Z by pid "
                    f"{dead['pid']}, not kept with --keep-cluster): deleting it"]
    freed = cl.take_claim("dead-run")  # the sweep let go of its lock
    assert freed is not None
    os.close(freed)
