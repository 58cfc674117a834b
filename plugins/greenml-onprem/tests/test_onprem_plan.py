"""Planning with the inventory and the live test cluster: partitions become offers beside the
clouds, a job larger than a partition is excluded, a dead controller spoils nothing else."""

from __future__ import annotations

import json
import warnings

import pytest
from greenml_onprem.cluster import OnpremWarning
from onprem_sites import site
from slurm_cluster import GPU_TYPE, GPUS_PER_NODE, PARTITIONS

import greenml
from greenml.testing import run_cli


def a100_plan(count: int = 2, **job) -> greenml.Plan:
    return greenml.plan(greenml.Job(accelerator="A100", count=count, hours=1, **job))


def test_the_inventory_and_the_live_cluster_make_offers(onprem) -> None:
    catalog = greenml.default_catalog()
    [campus] = [r for r in catalog.regions if r.provider == "onprem"]
    assert (campus.name, campus.country, campus.grid_zone) == ("campus", "FI", "FI")
    assert (campus.pue.value, campus.pue.source) == (1.2, "test facility metering")
    figures = greenml.datasets.get(None)
    assert (campus.intensity.g_per_kwh, campus.intensity.dataset) == (figures.figures["FI"],
                                                                      figures.name)
    offers = sorted((o for o in catalog.offers if o.provider == "onprem"),
                    key=lambda o: o.instance_type)
    assert [o.instance_type for o in offers] == list(PARTITIONS)
    for o in offers:
        assert (o.region, o.accelerator, o.accelerators_per_instance, o.max_instances) == (
            "campus", "A100", GPUS_PER_NODE, 1)
        assert o.ondemand_usd_per_hour == pytest.approx(0.75 * GPUS_PER_NODE)
        assert "internal price" in o.price_basis and o.vcpus and o.memory_gb


def test_plan_lists_the_partitions_beside_the_clouds(onprem) -> None:
    plan = a100_plan()
    onprem_options = [o for o in plan.options if o.provider == "onprem"]
    assert {o.offer.instance_type for o in onprem_options} == set(PARTITIONS)
    option = onprem_options[0]
    power_w = greenml.default_catalog().accelerator("A100").power().value
    assert option.estimate.co2e_kg == pytest.approx(
        1 * GPUS_PER_NODE * power_w * 1.2 / 1000 * greenml.datasets.get(None).figures["FI"] / 1000)
    assert option.estimate.cost_usd == pytest.approx(0.75 * GPUS_PER_NODE)
    clouds = {o.provider for o in plan.options} - {"onprem"}
    result = run_cli("plan", "--accelerator", "A100", "--count", "2", "--hours", "1",
                     "--provider", ",".join(["onprem", *sorted(clouds)[:1]]), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["options"]
    assert {"onprem", *sorted(clouds)[:1]} == {r["provider"] for r in rows}
    table = run_cli("plan", "--accelerator", "A100", "--count", "2", "--hours", "1",
                    "--provider", "onprem")
    assert table.returncode == 0 and "campus" in table.stdout and "gpu-low" in table.stdout


def test_a_job_larger_than_the_partition_is_excluded_with_the_reason(onprem) -> None:
    plan = a100_plan(count=2 * GPUS_PER_NODE)
    assert not [o for o in plan.options if o.provider == "onprem"]
    why = [e for e in plan.excluded if e.provider == "onprem"]
    assert {e.field for e in why} == {"count"}
    assert why[0].reason == (f"{PARTITIONS[0]} has at most 1 instance(s) x {GPUS_PER_NODE} A100, "
                             f"the job needs {2 * GPUS_PER_NODE}")
    result = run_cli("plan", "--accelerator", "A100", "--count", str(2 * GPUS_PER_NODE),
                     "--hours", "1", "--provider", "onprem")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "count" in result.stderr and "at most 1 instance(s)" in result.stderr


def test_gres_types_map_to_the_named_accelerator(onprem) -> None:
    onprem.write(site("campus", onprem.cluster.conf, gres_types={GPU_TYPE: "A100-80GB"},
                      partitions=["gpu-low"]))
    offers = [o for o in greenml.default_catalog().offers if o.provider == "onprem"]
    assert [(o.instance_type, o.accelerator) for o in offers] == [("gpu-low", "A100-80GB")]
    onprem.write(site("campus", onprem.cluster.conf, gres_types={GPU_TYPE: "A1000"}))
    with pytest.raises(greenml.CatalogError, match=r"onprem.toml:\d+: sites\[0\].gres_types."
                       r"a100: unknown accelerator 'A1000' \(did you mean 'A100'\?\)"):
        greenml.default_catalog().providers["onprem"].regions()


def test_a_dead_controller_leaves_the_clouds_planned(onprem) -> None:
    dead = onprem.cluster.dead_config()
    onprem.write(site("campus", dead))
    plan = a100_plan()
    assert "onprem" not in {o.provider for o in plan.options} and len(plan) > 0
    [problem] = [e for e in plan.excluded if e.provider == "onprem"]
    assert "onprem site 'campus'" in problem.reason and "sinfo" in problem.reason
    assert "Unable to contact slurm controller" in problem.reason
    result = run_cli("plan", "--accelerator", "A100", "--count", "2", "--hours", "1",
                     "--provider", "onprem")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "campus" in result.stderr and "Unable to contact slurm controller" in result.stderr


def test_one_dead_site_of_two_is_left_out_with_a_warning(onprem) -> None:
    onprem.write(site("campus", onprem.cluster.conf),
                 site("attic", onprem.cluster.dead_config()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        regions = [r.name for r in greenml.default_catalog().regions if r.provider == "onprem"]
    assert regions == ["campus"]
    [warning] = [w for w in caught if issubclass(w.category, OnpremWarning)]
    assert "attic" in str(warning.message) and "left out" in str(warning.message)


class FixedGrid(greenml.CarbonSource):
    """A carbon source of the tests' own: 12.5 g/kWh for zone FI, nothing elsewhere."""

    name = "fixed-grid"
    signal = "average"

    def intensity(self, region):
        if region.grid_zone != "FI":
            return None
        return greenml.Intensity(12.5, "fixed-grid test source", "2026", kind="measured",
                                 zone="FI")


def test_a_site_is_measured_like_every_region_live_sources_included(onprem) -> None:
    plan = a100_plan(providers=["onprem"])
    assert plan.best.intensity.dataset == greenml.datasets.default_name()
    live = greenml.plan(greenml.Job(accelerator="A100", count=2, hours=1, providers=["onprem"]),
                        carbon_sources=[FixedGrid(), "embedded"])
    assert (live.best.estimate.intensity_g_per_kwh, live.best.intensity.dataset) == (
        12.5, "fixed-grid")
    onprem.write(site("campus", onprem.cluster.conf, carbon_source="fixed-grid"))
    with pytest.raises(greenml.CatalogError, match="carbon_source: no longer read"):
        greenml.default_catalog()
