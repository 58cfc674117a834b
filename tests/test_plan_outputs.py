"""A plan's outputs: the emissions statement, the DataFrame, the chart, HTML and the SkyPilot
task, each checked against the plan's own figures (tests/conftest.py's small catalog)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

import greenml
from greenml import Catalog, Job
from greenml.carbon import CarbonSource, Reading
from greenml.errors import InputError
from greenml.plan.statement import latex_escape, number
from greenml.testing import accelerator, offer, region


@pytest.fixture
def plan(small_catalog):
    return greenml.plan(Job(accelerator="A100", count=8, hours=10), catalog=small_catalog)


# the statement


def test_the_markdown_statement_states_the_best_options_figures(plan) -> None:
    text = plan.statement("markdown")
    best, e, base = plan.best, plan.best.estimate, plan.baseline
    assert "estimate" in text.lower() and "nothing was measured" in text
    assert f"| emissions | {number(e.co2e_kg)} kg CO2e |" in text
    assert f"| energy | {number(e.energy_kwh)} kWh |" in text
    assert f"| PUE | {e.pue:g} | test PUE (2024) |" in text
    assert f"| grid intensity | {e.intensity_g_per_kwh:g} g CO2e/kWh (annual average" in text
    assert f"{best.provider} {best.region.name}" in text
    assert f"{number(base.co2e_kg)} kg CO2e: 8 x the same {best.accelerator.name}" in text
    assert f"{number(plan.savings.saved_co2e_kg)} kg CO2e ({plan.savings.percent:.1f}% less" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert all(line.count(" | ") == 2 for line in rows)  # three cells each, no stray pipes


def test_a_rounded_up_gang_says_how_many_were_requested(small_catalog) -> None:
    result = greenml.plan(Job(accelerator="A100", count=12, hours=10), catalog=small_catalog)
    facts = json.loads(result.statement("json"))
    assert facts["hardware"]["accelerators"] == 16 and facts["hardware"]["requested"] == 12
    text = result.statement()
    assert "; 12 requested)" in text
    assert f"12 x the same {result.best.accelerator.name}" in text  # the baseline's count


def test_the_baseline_is_called_the_same_accelerator_only_when_it_is(plan) -> None:
    import attrs

    other = attrs.evolve(plan.baseline, power_w=plan.baseline.power_w * 2)
    changed = attrs.evolve(plan, baseline=other)
    facts = json.loads(changed.statement("json"))
    assert facts["baseline"]["same_accelerator"] is False
    assert "the same" not in changed.statement()
    assert f"8 accelerators at {other.power_w:g} W" in changed.statement()


def test_the_json_statement_is_the_plans_figures_unrounded(plan) -> None:
    facts = json.loads(plan.statement("json"))
    e = plan.best.estimate
    assert facts["kind"] == "estimate" and facts["measured"] is False
    assert facts["co2e_kg"] == e.co2e_kg and facts["energy_kwh"] == e.energy_kwh
    assert facts["intensity"]["g_per_kwh"] == e.intensity_g_per_kwh
    assert facts["intensity"]["source"] == plan.best.intensity.source
    assert facts["saving"]["co2e_kg"] == plan.savings.saved_co2e_kg
    assert facts["baseline"]["co2e_kg"] == plan.baseline.co2e_kg


def test_the_latex_statement_is_a_well_formed_tabular(plan) -> None:
    text = plan.statement("latex")
    assert text.count(r"\begin{tabular}") == 1 == text.count(r"\end{tabular}")
    body = text[text.index(r"\begin{tabular}"):text.index(r"\end{tabular}")]
    spec = re.match(r"\\begin\{tabular\}\{((?:p\{[^{}]*\}|[lcr])+)\}", body).group(1)
    columns = len(re.findall(r"p\{[^{}]*\}|[lcr]", spec))
    rows = [r for r in body.split("\n")[1:] if r.strip() and r.strip() != r"\hline"]
    assert rows and all(r.endswith(r" \\") for r in rows)
    assert all(len(re.findall(r"(?<!\\)&", r)) == columns - 1 for r in rows)
    depth = 0
    for ch in re.sub(r"\\[{}]", "", text):  # escaped braces print; the rest must balance
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert not re.search(r"(?<!\\)[_%#$]", text.split("\n", 1)[1])  # all specials escaped


def test_latex_escape_prints_sources_literally() -> None:
    assert latex_escape("a_b ~2021 50% #1 $x {y}") == (
        r"a\_b \textasciitilde{}2021 50\% \#1 \$x \{y\}")


def test_an_unknown_statement_format_names_the_accepted_ones(plan) -> None:
    with pytest.raises(InputError, match="statement: unknown format 'xml': accepted are "
                                         "markdown, latex, json"):
        plan.statement("xml")


# pandas and HTML


def test_to_pandas_round_trips_the_json_figures(plan) -> None:
    pytest.importorskip("pandas")
    frame = plan.to_pandas()
    options = json.loads(plan.to_json())["options"]
    assert list(frame["rank"]) == [o["rank"] for o in options] == list(range(1, len(plan) + 1))
    for o in options:
        row = frame.loc[o["rank"]]
        for key in ("provider", "region", "instance_type", "accelerator", "instances", "hours",
                    "energy_kwh", "co2e_kg", "pareto", "signal"):
            assert row[key] == o[key], key
        assert (row["cost_usd"] == o["cost_usd"]) or (o["cost_usd"] is None)
        for key, value in o["intensity"].items():
            assert row[f"intensity_{key}"] == value, key
        for figure in o["inputs"]:
            if figure["name"] != "intensity":
                assert row[figure["name"]] == figure["value"]
                assert row[f"{figure['name']}_source"] == figure["source"]
                assert row[f"{figure['name']}_year"] == figure["year"]


def test_to_pandas_without_pandas_names_the_extra(plan, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'greenml\[pandas\]'"):
        plan.to_pandas()


# charts


def test_the_chart_marks_the_chosen_option_and_the_pareto_front(plan, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    figure = plan.chart(tmp_path / "plan.svg")
    assert (tmp_path / "plan.svg").read_text().lstrip().startswith("<?xml")
    bars, scatter = figure.axes
    best = plan.best.estimate
    assert bars.patches[0].get_width() == best.co2e_kg  # the chosen region's bar, first
    assert "kg CO2e" in bars.get_xlabel()
    assert [t.get_text() for t in bars.get_legend().get_texts()] == ["alpha", "beta",
                                                                     "chosen (#1)"]
    assert scatter.get_xlabel() == "cost (USD)" and scatter.get_ylabel() == "kg CO2e"
    labels = [c.get_label() for c in scatter.collections]
    assert labels[:2] == ["alpha", "beta"] and "chosen (#1)" in labels
    chosen = scatter.collections[labels.index("chosen (#1)")]
    assert chosen.get_offsets().tolist() == [[best.cost_usd, best.co2e_kg]]
    [front] = [line for line in scatter.lines if line.get_label() == "Pareto front"]
    priced = sorted((o.estimate.cost_usd, o.estimate.co2e_kg) for o in plan.pareto)
    assert sorted(zip(*front.get_data(), strict=True)) == priced


def test_a_chart_suffix_greenml_cannot_write_is_refused(plan) -> None:
    with pytest.raises(InputError, match=r"chart: .*accepted suffixes are .svg, .png, .pdf"):
        plan.chart("plan.gif")


def test_a_chart_without_matplotlib_names_the_extra(plan, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'greenml\[charts\]'"):
        plan.chart()
    assert "<svg" not in plan._repr_html_()


NOW = datetime(2026, 5, 1, tzinfo=timezone.utc)
DIP = [300.0] * 10 + [50.0, 40.0, 60.0] + [300.0] * 11  # the best 3 h: hours 10 to 13


class Forecast(CarbonSource):
    name = "handmade"
    signal = "average"

    def forecast(self, region, start, end=None):
        return [Reading(NOW + timedelta(hours=i), v, "average", "forecast", self.name,
                        region.name, 3600) for i, v in enumerate(DIP)]


def test_a_time_shifted_chart_shows_the_forecast_and_the_chosen_run() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.dates import num2date

    cat = Catalog([region("p", "north-1", "SE", 100.0, 1.1)],
                  [offer("p", "north-1", "a100x8", "A100", 8, 10.0)],
                  [accelerator("A100", 400, 312)])
    job = Job(accelerator="A100", count=8, hours=3, deadline=NOW + timedelta(hours=24))
    shifted = greenml.plan(job, catalog=cat, carbon_sources=[Forecast()], now=NOW)
    figure = shifted.chart()
    assert len(figure.axes) == 3
    curve = figure.axes[2]
    assert "g CO2e/kWh" in curve.get_ylabel() and "UTC" in curve.get_xlabel()
    labels = [line.get_label() for line in curve.lines]
    assert "p/north-1 forecast (handmade)" in labels and "deadline" in labels
    [run] = [p for p in curve.patches if p.get_label() == "chosen run"]
    xs = ([run.get_x(), run.get_x() + run.get_width()] if hasattr(run, "get_width")
          else [x for x, _ in run.get_xy()])  # a Rectangle from matplotlib 3.9, a Polygon before
    schedule = shifted.best.schedule
    assert (num2date(min(xs)), num2date(max(xs))) == (schedule.start, schedule.end)
    assert schedule.start == NOW + timedelta(hours=10)


# SkyPilot


def test_the_skypilot_task_names_the_chosen_resources() -> None:
    yaml = pytest.importorskip("yaml")
    cloud_plan = _cloud_plan()
    task = yaml.safe_load(cloud_plan.to_skypilot(run="python train.py"))
    best = cloud_plan.best
    assert task["resources"] == {"cloud": "azure", "region": "swedencentral",
                                 "instance_type": "Standard_NC24ads_A100_v4",
                                 "accelerators": "A100-80GB:1", "use_spot": False}
    assert best.accelerator.name == "A100-80GB-PCIe"  # SkyPilot's name for it differs
    assert task["num_nodes"] == best.instances == 8 and task["run"] == "python train.py"


def test_a_provider_skypilot_cannot_launch_is_refused(plan) -> None:
    with pytest.raises(InputError, match="export: option #1 is on 'alpha', which SkyPilot "
                                         "cannot launch"):
        plan.to_skypilot()


def test_a_tpu_slice_is_a_skypilot_accelerator() -> None:
    yaml = pytest.importorskip("yaml")
    cat = Catalog([region("gcp", "us-central2", "US", 400.0, 1.1)],
                  [offer("gcp", "us-central2", "tpu-v4-8", "TPU-v4", 4, 12.0, 4.0)],
                  [accelerator("TPU-v4", 170, 275)])
    tpu = greenml.plan(Job(accelerator="TPU-v4", count=4, hours=2, spot=True), catalog=cat)
    task = yaml.safe_load(tpu.to_skypilot(run="python train.py"))
    assert task["resources"] == {"cloud": "gcp", "region": "us-central2",
                                 "accelerators": "tpu-v4-8:1", "use_spot": True}


def _cloud_plan():
    cat = Catalog([region("azure", "swedencentral", "SE", 20.0, 1.185),
                   region("aws", "us-east-1", "US", 400.0, 1.14)],
                  [offer("azure", "swedencentral", "Standard_NC24ads_A100_v4",
                         "A100-80GB-PCIe", 1, 4.775),
                   offer("aws", "us-east-1", "p4d.24xlarge", "A100", 8, 32.77, 10.0)],
                  [accelerator("A100", 400, 312),
                   accelerator("A100-80GB-PCIe", 300, 312, family="A100")])
    return greenml.plan(Job(accelerator="A100", count=8, hours=10), catalog=cat)


SKY_CATALOG = ("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,"
               "SpotPrice,Region,AvailabilityZone\n"
               "p4d.24xlarge,A100,8,96,1152,,32.77,10.0,us-east-1,us-east-1a\n")


def test_skypilots_own_parser_reads_the_task(tmp_path) -> None:
    """SkyPilot validates an instance type against its catalog, which it downloads; a local
    copy of the one row it needs (SkyPilot's vms.csv schema) keeps the test offline."""
    pytest.importorskip("sky")
    aws = greenml.plan(Job(accelerator="A100", count=16, hours=10, providers="aws"),
                       catalog=_cloud_plan().catalog)
    path = tmp_path / "task.yaml"
    path.write_text(aws.to_skypilot(run="torchrun --nnodes 2 train.py"))
    catalog = tmp_path / ".sky" / "catalogs" / "v8" / "aws"
    catalog.mkdir(parents=True)
    (catalog / "vms.csv").write_text(SKY_CATALOG)
    code = ("import json, sky, sys\n"
            "t = sky.Task.from_yaml(sys.argv[1]); [r] = list(t.resources)\n"
            "print(json.dumps([t.num_nodes, t.run, str(r.cloud), r.region, r.instance_type,"
            " r.accelerators, r.use_spot]))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path,
                          env={"SKY_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path),
                               "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == [
        2, "torchrun --nnodes 2 train.py", "AWS", "us-east-1", "p4d.24xlarge", {"A100": 8},
        False]


# imports


def test_planning_imports_no_optional_extra() -> None:
    code = ("import sys, greenml\n"
            "from greenml.testing import accelerator, offer, region\n"
            "cat = greenml.Catalog([region('a', 'r', 'SE', 20.0)],"
            " [offer('a', 'r', 'x', 'A100', 8, 10.0)], [accelerator('A100')])\n"
            "greenml.plan(greenml.Job(accelerator='A100', count=8, hours=10), catalog=cat)\n"
            "print(sorted(m for m in ('matplotlib', 'pandas', 'yaml', 'sky') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_saved_plan_states_and_exports_what_it_was_made_with(plan) -> None:
    saved = greenml.Plan.from_json(plan.to_json())
    assert saved.statement("markdown") == plan.statement("markdown")
    assert json.loads(saved.statement("json")) == json.loads(plan.statement("json"))
