"""What a user sees for bad input: one clear line, nothing created."""

import pytest

from fixtures.options import choice, positive_float, positive_int

import argparse


@pytest.mark.parametrize("text", ["0", "-2", "three", "1.5", ""])
def test_workers_must_be_a_positive_whole_number(text):
    with pytest.raises(argparse.ArgumentTypeError, match="must be a positive whole number"):
        positive_int(text)


def test_positive_values_are_accepted():
    assert positive_int("4") == 4
    assert positive_float("0.5") == 0.5


@pytest.mark.parametrize("text", ["0", "-1", "inf", "nan", "fast"])
def test_timeout_scale_must_be_positive(text):
    with pytest.raises(argparse.ArgumentTypeError, match="must be a positive number"):
        positive_float(text)


def test_unknown_choice_lists_the_allowed_values():
    with pytest.raises(argparse.ArgumentTypeError, match="unknown value 'mysql'; choose one of: mongodb, stand-in"):
        choice(("mongodb", "stand-in"))("mysql")


SUITE_TEST = """
import pytest

@pytest.mark.conformance(id="STS-DNS-001")
def test_needs_a_cluster(cluster):
    assert cluster
"""


def _run(pytester, *args):
    pytester.makepyfile(test_x=SUITE_TEST)
    return pytester.runpytest_subprocess("-p", "fixtures.plugin", "-p", "no:cacheprovider", *args)


def test_bad_workers_value_is_rejected_before_anything_runs(pytester):
    res = _run(pytester, "--workers=zero")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*argument --workers: must be a positive whole number, got 'zero'"])


def test_unknown_cluster_kind_is_rejected(pytester):
    res = _run(pytester, "--cluster=minikube")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*argument --cluster: unknown value 'minikube'; choose one of: kind, existing"])


def test_existing_cluster_without_kubeconfig_exits_with_one_line(pytester):
    res = _run(pytester, "--cluster=existing")
    assert res.ret == 4
    res.stdout.fnmatch_lines(["*sts-conformance: --cluster existing needs --kubeconfig PATH*"])
    res.stdout.no_fnmatch_line("*Traceback*")


def test_existing_cluster_with_missing_kubeconfig_file(pytester, tmp_path):
    res = _run(pytester, "--cluster=existing", f"--kubeconfig={tmp_path}/absent")
    assert res.ret == 4
    res.stdout.fnmatch_lines([f"*sts-conformance: kubeconfig {tmp_path}/absent does not exist*"])


def test_unknown_conformance_id_is_a_usage_error(pytester):
    pytester.makepyfile(test_y="""
import pytest

@pytest.mark.conformance(id="STS-NOPE-999")
def test_x():
    pass
""")
    res = pytester.runpytest_subprocess("-p", "fixtures.plugin", "-p", "no:cacheprovider")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*unknown ID 'STS-NOPE-999'*"])
