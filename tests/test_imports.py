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


API_SCRIPT = """
import greenml
assert "numpy" not in __import__("sys").modules, "import greenml must stay light"
plan_type, savings = greenml.Plan, greenml.Savings   # imports greenml.plan.result first
assert callable(greenml.plan) and callable(greenml.estimate)
import greenml.plan.result, greenml.estimator, greenml.plan.compute, greenml.launch.loop
assert callable(greenml.plan) and callable(greenml.estimate) and callable(greenml.launch)
assert greenml.plan.__module__ == "greenml.plan" and greenml.launch.__module__ == "greenml.launch"
from greenml.plan.result import Plan
assert Plan is plan_type
missing = [name for name in greenml.__all__ if not hasattr(greenml, name)]
assert not missing, missing
"""


def test_public_api_names_stay_what_they_are() -> None:
    """``greenml.plan`` stays the function whatever submodule was imported before it."""
    result = subprocess.run([sys.executable, "-c", API_SCRIPT], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["Provider", "CatalogProvider", "InstanceRequest", "Journal",
                                  "Failure"])
def test_provider_author_names_moved_to_greenml_provider_and_warn_at_the_top(name: str) -> None:
    import greenml
    import greenml.provider

    assert name not in greenml.__all__ and name in greenml.provider.__all__
    with pytest.warns(DeprecationWarning, match=f"greenml.{name} moved to greenml.provider"):
        moved = getattr(greenml, name)
    assert moved is getattr(greenml.provider, name)
