import pytest

from fixtures.timeouts import Timeouts


def test_one_factor_scales_every_budget():
    base = Timeouts.scaled(1.0).as_dict()
    double = Timeouts.scaled(2.0).as_dict()
    assert base.keys() == double.keys()
    assert all(double[k] == 2 * base[k] for k in base)


@pytest.mark.parametrize("bad", [0, -1, float("nan")])
def test_scale_must_be_positive(bad):
    with pytest.raises(ValueError, match="positive"):
        Timeouts.scaled(bad)
