"""The detection matrix (fixtures/detection.py): every defect row run against
the real suites on this session's kind cluster, each control-plane mutant
swapped in for its row and shown to be gone afterwards.

`--matrix` picks the rows (default: the CI slice). Reports:
reports/detection.{json,md,html}, each row's child session under
reports/detection/<row>/.
"""

import shutil
import time

import pytest

from fixtures.detection import ROWS, Row, RowResult, child_arguments, choose, judge_row, write_reports
from fixtures.child import run_child
from fixtures.errors import CannotJudge
from fixtures.mutants import mutant, mutant_in_place, preload, server_version
from fixtures.plugin import (JobContext, callspec_param, cluster_to_itself, job_result, scenario_job,
                             skip_unless_disruption_allowed)

# A mutant row breaks the control plane and the at-most-one rows cut a node off.
pytestmark = [pytest.mark.cluster, pytest.mark.disruptive]


def pytest_generate_tests(metafunc):
    if "row" in metafunc.fixturenames:
        names = metafunc.config.getoption("--matrix")
        rows = choose(list(names) if names is not None else None)
        metafunc.parametrize("row", rows, ids=[r.name for r in rows])


@pytest.fixture(scope="module")
def matrix(cluster, settings, progress):
    results: list[RowResult] = []
    yield results
    if results:
        facts = {"kubernetes_version": server_version(cluster), "profile": settings.profile,
                 "rows_asked": [r.row.name for r in results], "all_rows": [r.name for r in ROWS]}
        paths = write_reports(results, facts, settings.reports_dir)
        red = sum(len(r.red) for r in results)
        progress(f"detection matrix: {len(results)} rows, {red} red cell(s); {', '.join(str(p) for p in paths)}")


# The rows in this session, by name: a job is keyed by its row's name.
_ROWS: dict[str, Row] = {}


def _row_of(item) -> Row | None:
    row = callspec_param(item, "row")
    if isinstance(row, Row):
        _ROWS[row.name] = row
        return row
    return None


def _side_by_side_row(item) -> str | None:
    """A row that swaps nothing into the control plane (the unmutated
    cluster, a workload or cluster defect) is a job like any scenario: it
    runs in a node group of its own, side by side with the others."""
    row = _row_of(item)
    return row.name if row is not None and not row.mutant else None


def _mutant_of(item) -> str | None:
    row = _row_of(item)
    return row.mutant if row is not None else None


def _light(name: str) -> bool:
    # A row that cuts nodes off says so (--allow-disruptive): its group is its own.
    return "--allow-disruptive" not in _ROWS[name].args


def _row_dir(settings, name: str):
    return settings.reports_dir / "detection" / name


def _run_row(cluster, settings, workload_image, progress, row: Row):
    out = _row_dir(settings, row.name)
    shutil.rmtree(out, ignore_errors=True)
    suites, args = child_arguments(row)
    progress(f"matrix row {row.name}: pytest {' '.join(suites)} {' '.join(args)}")
    return run_child(cluster, settings.profile, workload_image, out, suites, *args, timeout=2700)


@scenario_job("matrix_row", key=_side_by_side_row, light=_light, first=True)
def run_matrix_row(ctx: JobContext, name: str):
    """(the child run, its seconds)"""
    skip_unless_disruption_allowed(ctx.cluster, ctx.settings)  # the module's mark, which a job must keep too
    t0 = time.monotonic()
    run = _run_row(ctx.cluster, ctx.settings, ctx.workload_image, ctx.progress, _ROWS[name])
    return run, time.monotonic() - t0


@scenario_job("mutant_image", key=_mutant_of, light=lambda name: True, first=True)
def load_mutant_image(ctx: JobContext, name: str):
    """The mutant's image on the control plane while other scenarios run: the
    row's time alone on the cluster is then the swap, its checks and the
    restore."""
    skip_unless_disruption_allowed(ctx.cluster, ctx.settings)
    return preload(ctx.cluster, mutant(name))


def _judge(result: RowResult, row: Row, run) -> None:
    result.exit_code = run.proc.returncode
    result.cells = judge_row(row, run.guarantees)


def test_defect_is_caught_by_its_checks(row, matrix, cluster, settings, workload_image, progress, request):
    """The row's defect fails exactly the IDs that guard against it, for the
    reason it causes; the unmutated cluster passes every check the rows use."""
    if not cluster.kind and row.mutant:
        pytest.skip("control-plane mutants are swapped into kind clusters only")
    out = _row_dir(settings, row.name)
    result = RowResult(row, {}, 0.0, None, artifacts=str(out))
    matrix.append(result)
    t0 = time.monotonic()
    run = None
    try:
        if not row.mutant:
            # Run as a job, side by side (or here, if no group took it yet).
            run, took = job_result(request, key=row.name, name="matrix_row")
            t0 = time.monotonic() - took  # the row's own time, not the wait for its job
            _judge(result, row, run)
        else:
            job_result(request, key=row.mutant, name="mutant_image")
            t0 = time.monotonic()  # the row's own time: not the preload, nor what ran here meanwhile
            # A mutant changes the whole control plane: no scenario may run beside it.
            with cluster_to_itself(f"matrix row {row.name}"), \
                    mutant_in_place(cluster, mutant(row.mutant), progress) as swap:
                result.swap = swap.evidence  # the restore adds its own evidence on the way out
                run = _run_row(cluster, settings, workload_image, progress, row)
                # Judged before the restore: a restore that fails must not cost what the row saw.
                _judge(result, row, run)
    except BaseException as exc:  # any way out of a row leaves its reason in the report
        result.error = f"{row.name}: could not run: {type(exc).__name__}: {str(exc)[:500]}"
        raise
    finally:
        result.seconds = round(time.monotonic() - t0, 1)
    if not run.guarantees:
        result.error = f"{row.name}: the child session wrote no conformance report (exit {run.proc.returncode})"
        raise CannotJudge(f"{result.error}:\n{run.tail()}")
    progress(f"matrix row {row.name}: " + ", ".join(f"{cid} {c.observed}{' (red)' if c.red else ''}"
                                                     for cid, c in sorted(result.cells.items())))
    assert not result.red, "\n".join(result.red) + f"\n--- child session ({out}/pytest.log):\n{run.tail(2000)}"
