"""A real run's reports: valid against the schema, and free of credentials."""

import base64
import os
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fixtures import groups
from fixtures.report import validate

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.cluster


def secrets_of(kubeconfig: Path) -> list[str]:
    """Every credential in a kubeconfig, as stored and decoded, cut into
    overlapping 32-character pieces so a partial leak is found too."""
    cfg = yaml.safe_load(kubeconfig.read_text())
    values = []
    for section, key in (("users", "user"), ("clusters", "cluster")):
        for entry in cfg.get(section) or []:
            for field, value in (entry.get(key) or {}).items():
                if field in ("token", "password", "client-key-data", "client-certificate-data",
                             "certificate-authority-data") and isinstance(value, str):
                    values.append(value)
                    if field.endswith("-data"):
                        pem = base64.b64decode(value).decode()
                        values += [ln for ln in pem.splitlines() if len(ln) > 40]
    pieces = set()
    for v in values:
        pieces.update(v[i:i + 32] for i in range(0, max(len(v) - 32, 1), 16))
    return sorted(pieces)


def test_reports_validate_and_hold_no_kubeconfig_secret(cluster, settings, workload_image, tmp_path):
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/test_wire.py", "-p", "no:cacheprovider", "-q",
         "--cluster=existing", f"--kubeconfig={cluster.kubeconfig}", f"--kind-kubectl-bin={cluster.kubectl}",
         f"--profile={settings.profile}", f"--workload-image={workload_image}",
         f"--reports-dir={reports}", f"--junitxml={reports / 'junit.xml'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        # Within this thread's node group, when scenarios run side by side.
        env={**os.environ, **groups.env_for(groups.current())})
    assert proc.returncode == 0, proc.stdout[-3000:]
    doc = json.loads((reports / "conformance.json").read_text())
    validate(doc)
    assert doc["guarantees"]["STS-WIRE-001"]["verdict"] == "pass"
    pieces = secrets_of(cluster.kubeconfig)
    assert pieces, "found no credential in the kubeconfig: the check would prove nothing"
    files = [p for p in reports.rglob("*") if p.is_file()]
    assert any(p.name == "conformance.md" for p in files) and any(p.name == "junit.xml" for p in files)
    leaks = {str(p.relative_to(reports)): piece for p in files
             for piece in pieces if piece in p.read_text(errors="replace")}
    assert not leaks, f"credentials found in reports: {leaks}"
