"""The example provider: installed as a plugin, it plans, passes greenml's conformance kit,
and launches and fails over against a local Example Cloud over real HTTP.

``check_provider``, ``greenml_ledger`` and ``greenml_fresh_plugins`` are fixtures of
greenml's pytest plugin, which installing greenml makes available.
"""

from __future__ import annotations

import contextlib

import pytest
from example_cloud_fake import ExampleCloudFake
from greenml_example import ExampleCloud, ExampleCloudError

import greenml


@pytest.fixture
def example_cloud(monkeypatch, greenml_ledger, greenml_fresh_plugins):
    """A local Example Cloud, with the plugin pointed at it through its two settings."""
    with ExampleCloudFake() as fake:
        monkeypatch.setenv("EXAMPLE_CLOUD_URL", fake.url)
        monkeypatch.setenv("EXAMPLE_CLOUD_TOKEN", fake.token)
        yield fake


def test_the_plugin_is_installed_and_plans(greenml_fresh_plugins) -> None:
    assert isinstance(greenml.default_catalog().providers["example"], ExampleCloud)
    plan = greenml.plan(greenml.Job(accelerator="A100", count=8, hours=10, providers="example"))
    assert (plan.best.region.name, plan.best.offer.instance_type) == ("example-north-1",
                                                                     "ex.a100x8")
    assert plan.best.offer.price_source == "example data, not real"


def test_it_meets_the_provider_contract(check_provider, example_cloud) -> None:
    check_provider(ExampleCloud, double=contextlib.nullcontext, errors=[
        (ExampleCloudError(409, "NoCapacity"), "offer"),
        (ExampleCloudError(403, "QuotaExceeded"), "region"),
        (ExampleCloudError(429, "RateLimited"), {"retry": True}),
        (ExampleCloudError(401, "Unauthorized"), {"scope": "provider", "stop": True}),
    ])
    assert example_cloud.instances, "the kit launched on the local Example Cloud"
    assert example_cloud.running() == [], "and left nothing running"


def test_launch_fails_over_and_down_removes_everything(example_cloud) -> None:
    plan = greenml.plan(greenml.Job(accelerator="A100,H100", count=8, hours=10,
                                    providers="example"))
    example_cloud.inject(409, "NoCapacity")
    launch = plan.launch(name="demo", run="python train.py")
    assert [a.code for a in launch.attempts] == ["NoCapacity", ""]
    assert launch.option.offer.instance_type == plan.option(2).offer.instance_type
    [running] = example_cloud.running()
    assert running["tags"]["greenml-launch-id"] == launch.launch_id
    assert greenml.down("demo") and example_cloud.running() == []
    assert greenml.down("demo") == []
