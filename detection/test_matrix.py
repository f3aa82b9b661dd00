"""The detection matrix (fixtures/detection.py): every defect row run against
the real suites on this session's kind cluster, each control-plane mutant
swapped in for its row and shown to be gone afterwards.

`--matrix` picks the rows (default: the CI slice). Reports:
reports/detection.{json,md,html}, each row's child session under
reports/detection/<row>/.
"""

import contextlib
import shutil
import time

import pytest

from fixtures.detection import ROWS, RowResult, child_arguments, choose, judge_row, write_reports
from fixtures.child import run_child
from fixtures.errors import CannotJudge
from fixtures.mutants import mutant, mutant_in_place, server_version
from fixtures.plugin import cluster_to_itself

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


def test_defect_is_caught_by_its_checks(row, matrix, cluster, settings, workload_image, progress):
    """The row's defect fails exactly the IDs that guard against it, for the
    reason it causes; the unmutated cluster passes every check the rows use."""
    if not cluster.kind and row.mutant:
        pytest.skip("control-plane mutants are swapped into kind clusters only")
    out = settings.reports_dir / "detection" / row.name
    shutil.rmtree(out, ignore_errors=True)
    suites, args = child_arguments(row)
    result = RowResult(row, {}, 0.0, None, artifacts=str(out))
    matrix.append(result)
    t0 = time.monotonic()
    run = None
    try:
        # A mutant changes the whole control plane: no scenario may run beside it.
        alone = cluster_to_itself(f"matrix row {row.name}") if row.mutant else contextlib.nullcontext()
        swapped = mutant_in_place(cluster, mutant(row.mutant), progress) if row.mutant else contextlib.nullcontext()
        with alone, swapped as swap:
            if swap is not None:
                result.swap = swap.evidence  # the restore adds its own evidence on the way out
            progress(f"matrix row {row.name}: pytest {' '.join(suites)} {' '.join(args)}")
            run = run_child(cluster, settings.profile, workload_image, out, suites, *args, timeout=2700)
            result.exit_code = run.proc.returncode
            # Judged before the restore: a restore that fails must not cost what the row saw.
            result.cells = judge_row(row, run.guarantees)
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
