import pytest

from fixtures.timeouts import ENVIRONMENT, WINDOWS, Timeouts, amo_hold_for, node_monitor_grace_s


def test_one_factor_scales_every_budget():
    base = Timeouts.scaled(1.0).as_dict()
    double = Timeouts.scaled(2.0).as_dict()
    assert base.keys() == double.keys()
    assert all(double[k] == 2 * base[k] for k in base)
    half = Timeouts.scaled(0.5).as_dict()
    assert all(half[k] == 0.5 * base[k] for k in base if k not in WINDOWS + ENVIRONMENT)


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_scale_must_be_positive(bad):
    with pytest.raises(ValueError, match="positive"):
        Timeouts.scaled(bad)


def test_a_smaller_scale_shortens_waits_but_never_windows():
    base, small = Timeouts.scaled(1.0), Timeouts.scaled(0.2)
    assert small.pod_ready == pytest.approx(0.2 * base.pod_ready)
    # How long something must NOT happen: a shorter window shows less.
    assert (small.terminal_hold, small.halt_window) == (base.terminal_hold, base.halt_window)


def test_a_smaller_scale_never_shortens_the_clusters_own_readiness():
    # A cluster slow to come up on a loaded machine is not a verdict on a check.
    base, small = Timeouts.scaled(1.0), Timeouts.scaled(0.3)
    assert (small.nodes_ready, small.cluster_create, small.api_reachable) == (
        base.nodes_ready, base.cluster_create, base.api_reachable)


def test_the_hold_follows_the_clusters_own_timing():
    t = Timeouts.scaled(0.2)
    # kind config here: 20s grace, 10s toleration, 10s termination grace.
    assert amo_hold_for(t, 20, 10, 10, 10.0) == 40
    # (10s: the margin before the controller's reaction is measured, tests/test_reaction.py.)
    # Upstream defaults (50s grace) with the same pods: longer.
    assert amo_hold_for(t, 50, 10, 10, 10.0) == 70
    assert amo_hold_for(t, node_monitor_grace_s({"node-monitor-grace-period": "40s"}), 300, 30, 10.0) == 350


def test_the_grace_period_comes_from_the_facts_or_the_upstream_default():
    assert node_monitor_grace_s({"node-monitor-grace-period": "20s"}) == 20
    assert node_monitor_grace_s({"node-monitor-grace-period": "1m30s"}) == 90
    assert node_monitor_grace_s("not visible (managed control plane) or defaults") == 50
