"""``greenml report NAME --chart FILE`` and ``Report.chart()``: planned against measured (hours,
kWh, kg CO2e) and the sampler's power trace, read off the Figure; the file is written; an
unmeasured launch draws its plan alone; a missing extra is named before anything is read."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from test_report import CODECARBON, launch, run_boot_script

import greenml
from greenml.cli import main
from greenml.measure.report_chart import MEASURED_LABEL, PLANNED_LABEL, PLANNED_POWER_LABEL

pytestmark = pytest.mark.usefixtures("builtins_only")  # no installed cloud plugins

#: A two-node record: each node's power trace, in seconds and watts.
TRACES = [[[0.0, 900.0], [600.0, 1100.0], [1200.0, 1000.0]],
          [[0.0, 850.0], [600.0, 1050.0], [1500.0, 950.0]]]


def bars_of(ax) -> dict[str, float]:
    return {p.get_label(): p.get_height() for p in ax.patches}


def record_file(tmp_path) -> str:
    records = [{"greenml_measure": 1, "hours": 0.4, "kwh": {"gpu": 3.0, "total": 3.0},
                "devices": [{"id": "gpu0", "kind": "gpu", "name": "A100",
                             "method": "nvml-energy-counter", "kwh": 3.0, "hours": 0.4,
                             "samples": 1500, "gap_s": 0}],
                "trace": trace} for trace in TRACES]
    path = tmp_path / "run.measure.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_the_chart_puts_each_measured_figure_beside_the_planned_one(console, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    launch()
    done = greenml.report("bert", measured=record_file(tmp_path))
    figure = done.chart(tmp_path / "report.svg")
    assert (tmp_path / "report.svg").read_text().lstrip().startswith("<?xml")
    hours, energy, co2e, trace = figure.axes
    p, a = done.to_dict()["planned"], done.to_dict()["actual"]
    for ax, key in ((hours, "hours"), (energy, "energy_kwh"), (co2e, "co2e_kg")):
        assert bars_of(ax) == {PLANNED_LABEL: p[key], MEASURED_LABEL: a[key]}
    assert hours.get_ylabel() == "hours (h)" and energy.get_ylabel() == "energy (kWh)"
    assert co2e.get_ylabel() == "kg CO2e"
    # the trace: one line per node, in minutes for a 25-minute run, and the plan's power
    assert trace.get_ylabel() == "power (W)" and trace.get_xlabel().endswith("(min)")
    nodes = [line for line in trace.lines if line.get_label().startswith("node ")]
    assert [line.get_label() for line in nodes] == ["node 0", "node 1"]
    for line, points in zip(nodes, TRACES, strict=True):
        assert list(line.get_xdata()) == [t / 60 for t, _ in points]
        assert list(line.get_ydata()) == [w for _, w in points]
    [planned] = [line for line in trace.lines if line.get_label().startswith(PLANNED_POWER_LABEL)]
    hw = done.to_dict()["hardware"]
    assert planned.get_ydata()[0] == p["power_w"] * hw["accelerators"] / hw["instances"]


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
def test_the_cli_draws_a_run_measured_by_its_boot_script(console, tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    instance, _ = launch()
    console.consoles[instance] = run_boot_script(tmp_path, watts=150.0)
    svg = tmp_path / "bert.svg"
    assert main(["report", "bert", "--chart", str(svg)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Emissions report for bert (measured)")
    assert f"drew the report to {svg}" in err and "<svg" in svg.read_text()
    figure = greenml.report("bert").chart()
    trace = figure.axes[3]
    [line] = [x for x in trace.lines if x.get_label() == "measured power"]
    assert set(line.get_ydata()) == {8 * 150.0}  # eight fake GPUs at 150 W each
    assert trace.get_xlabel().endswith("(s)")


def test_an_unmeasured_launch_draws_the_plan_alone(console, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    instance, option = launch()
    console.consoles[instance] = "training\ngreenml-exit=0\n"
    figure = greenml.report("bert").chart()
    for ax in figure.axes[:3]:
        assert list(bars_of(ax)) == [PLANNED_LABEL]
    assert bars_of(figure.axes[2]) == {PLANNED_LABEL: option.estimate.co2e_kg}
    assert not figure.axes[3].lines
    assert [t.get_text() for t in figure.axes[3].texts] == ["nothing measured"]
    assert "estimate: nothing measured" in figure.get_suptitle()


def test_a_codecarbon_measurement_has_bars_but_no_trace(console, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    launch()
    path = tmp_path / "emissions.csv"
    path.write_text(CODECARBON)
    done = greenml.report("bert", codecarbon=path)
    figure = done.chart(tmp_path / "report.png")
    assert (tmp_path / "report.png").read_bytes().startswith(b"\x89PNG")
    assert bars_of(figure.axes[0])[MEASURED_LABEL] == 12.5
    assert [t.get_text() for t in figure.axes[3].texts] == ["no power trace in this measurement"]


def test_a_bad_suffix_or_a_missing_extra_is_refused_before_anything_is_read(
        console, tmp_path, capsys, monkeypatch) -> None:
    assert main(["report", "nobody", "--chart", "report.gif"]) == 2
    assert "--chart: cannot tell the format of 'report.gif'" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(["report", "nobody", "--chart", "report.svg"]) == 2
    assert capsys.readouterr().err == ("greenml: error: --chart needs an optional extra: "
                                       "pip install 'greenml[charts]'\n")
    launch()
    with pytest.raises(ImportError, match=r"pip install 'greenml\[charts\]'"):
        greenml.report("bert", measured=record_file(tmp_path)).chart()
