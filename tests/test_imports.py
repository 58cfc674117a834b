"""Importing greenml or planning never imports a cloud SDK, even with every plugin installed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = """
import json, sys
import greenml
plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=72))
assert {o.provider for o in plan.options} >= {"aws", "gcp", "azure"}, plan
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in
      ("boto3", "botocore", "google", "azure", "googleapiclient", "grpc", "moto"))))
"""

pytestmark = pytest.mark.catalogs


def test_planning_imports_no_cloud_sdk() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
