"""``greenml report``: a launch against the memory double, its run measured by the real boot
script (with a fake nvidia-smi) whose console is read back through ``greenml.logs``; and the
same report from a sampler record, from CodeCarbon's emissions.csv, and from the plan alone."""

from __future__ import annotations

import json
import re
import shutil

import pytest

import greenml
from greenml import registry
from greenml.cli import main
from greenml.errors import GreenmlError
from greenml.measure.report import reconcile
from greenml.provider import boot_script
from greenml.testing import MemoryProvider, ProviderPlugin
from greenml.testing.boot import boot_machine

pytestmark = pytest.mark.usefixtures("builtins_only")  # no installed cloud plugins

ONE = greenml.Job(accelerator="A100", count=8, hours=10, providers="memory")
FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01, jitter=False)
CODECARBON = ("timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,"
              "gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed\n"
              "2026-05-01T10:00:00,old,1,60,0.001,0,0,0,0,0.01,0.02,0.001,0.031\n"
              "2026-05-02T10:00:00,bert,2,45000,4.2,0,0,0,0,4.0,32.0,2.0,38.0\n")


def launch(name: str = "bert") -> tuple[str, greenml.Option]:
    plan = greenml.plan(ONE)
    made = greenml.launch(plan, name=name, run="python train.py", retry=FAST)
    [only] = made.instances
    return only.resource_id, plan.best


def run_boot_script(tmp_path, watts: float, gpus: int = 8) -> str:
    """The console text of greenml's boot script run under bash, with a fake nvidia-smi."""
    made = boot_machine(tmp_path, GREENML_NVML="0", GREENML_SAMPLE_INTERVAL_S="0.05",
                        GREENML_POWERCAP_ROOT=str(tmp_path / "no-powercap"))
    lines = "".join(f'echo "{i}, NVIDIA A100-SXM4-80GB, {watts}"\n' for i in range(gpus))
    (made.bin / "nvidia-smi").write_text("#!/bin/sh\n" + lines)
    (made.bin / "nvidia-smi").chmod(0o755)
    done = made.run(boot_script("sleep 0.4; echo trained"), timeout_s=120)
    assert done.returncode == 0, done.stderr
    return made.console.read_text()


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
def test_a_launch_measured_by_its_boot_script_is_reported_from_its_console(
        console, tmp_path, capsys) -> None:
    instance, option = launch()
    console.consoles[instance] = run_boot_script(tmp_path, watts=150.0)
    done = greenml.report("bert")
    facts = done.to_dict()
    assert done.measured and facts["kind"] == "measured"
    a, m = facts["actual"], facts["measurement"]
    assert a["gpus"] == 8 and a["gpu_average_w"] == pytest.approx(150.0)
    assert m["methods"] == ["nvidia-smi-power"] and m["source"].endswith("console of bert")
    assert a["co2e_kg"] == pytest.approx(a["it_kwh"] * facts["pue"]
                                         * facts["intensity_g_per_kwh"] / 1000)
    assert facts["planned"]["co2e_kg"] == option.estimate.co2e_kg
    assert any(line.startswith("runtime shorter than planned") for line in facts["explanation"])
    assert any("lower than assumed" in line for line in facts["explanation"])
    assert main(["report", "bert"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Emissions report for bert (measured)")
    assert "what explains the difference:" in out and "grid intensity:" in out


def test_a_codecarbon_file_is_the_measurement(console, tmp_path, capsys) -> None:
    launch()
    path = tmp_path / "emissions.csv"
    path.write_text(CODECARBON)
    facts = greenml.report("bert", codecarbon=path).to_dict()
    a, p = facts["actual"], facts["planned"]
    assert a["hours"] == 12.5 and a["it_kwh"] == 38.0  # the last row, as CodeCarbon wrote it
    assert a["kwh_by_class"] == {"gpu": 32.0, "cpu": 4.0, "dram": 2.0}
    assert a["codecarbon_co2e_kg"] == 4.2
    assert a["power_per_accelerator_w"] == pytest.approx(38.0 * 1000 / (12.5 * 8))
    assert a["co2e_kg"] == pytest.approx(38.0 * facts["pue"] * facts["intensity_g_per_kwh"]
                                         / 1000)
    assert p["hours"] == 10
    runtime = next(x for x in facts["explanation"] if x.startswith("runtime"))
    assert runtime.startswith("runtime longer than planned: 12.5 h against 10.0 h (1.25x)")
    # the split of the energy difference adds up: runtime at the assumed power + power
    kwh = [float(x) for x in re.findall(r"([+-][\d.,]+) kWh", " ".join(facts["explanation"]))]
    assert sum(kwh) == pytest.approx(a["it_kwh"] - p["it_kwh"], abs=0.2)
    assert main(["report", "bert", "--codecarbon", str(path), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| item | planned | measured | source |" in out
    assert "| CodeCarbon's own figure |  | 4.20 kg CO2e |" in out


def test_a_sampler_record_file_is_the_measurement(console, tmp_path) -> None:
    launch()
    record = {"greenml_measure": 1, "hours": 10.0, "kwh": {"gpu": 20.0, "total": 20.0},
              "devices": [{"id": f"gpu{i}", "kind": "gpu", "name": "A100",
                           "method": "nvml-energy-counter", "kwh": 2.5, "hours": 10.0,
                           "samples": 36000, "gap_s": 0} for i in range(8)],
              "unmeasured": [{"kind": "cpu", "why": "no powercap"}]}
    path = tmp_path / "run.measure.json"
    path.write_text(json.dumps(record) + "\n")
    facts = greenml.report("bert", measured=str(path)).to_dict()
    assert facts["actual"]["gpu_average_w"] == pytest.approx(250.0)
    assert facts["explanation"][0].startswith("average power per accelerator 250 W measured")
    assert "runtime as planned (10.0 h against 10.0 h)" in facts["explanation"]
    assert "not measured: no powercap" in facts["explanation"]


def test_a_launch_with_no_measurement_is_its_plan_labelled_as_an_estimate(console,
                                                                        capsys) -> None:
    instance, option = launch()
    console.consoles[instance] = "training\ngreenml-exit=0\n"
    done = greenml.report("bert")
    assert not done.measured and "actual" not in done.to_dict()
    assert done.to_dict()["why_not_measured"].startswith("no greenml-measure line")
    assert repr(done) == "<Report 'bert' (estimate)>"
    assert main(["report", "bert", "--format", "latex"]) == 0
    latex = capsys.readouterr().out
    assert "Emissions report for bert (estimate)" in latex
    rows = [x for x in latex.splitlines() if x.endswith(r"\\")]
    assert len(rows) >= 9 and all(len(re.findall(r"(?<!\\)&", x)) == 3 for x in rows)
    assert latex.count(r"\begin{tabular}") == latex.count(r"\end{tabular}") == 1
    assert main(["report", "bert", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["planned"]["co2e_kg"] == option.estimate.co2e_kg and data["measured"] is False


def test_a_console_that_cannot_be_read_gives_the_estimate_and_why(greenml_fresh_plugins,
                                                                  greenml_ledger) -> None:
    registry.default().manager.register(ProviderPlugin(MemoryProvider()), name="plain-memory")
    launch()
    done = greenml.report("bert")
    assert not done.measured
    assert "cannot show logs" in done.to_dict()["why_not_measured"]


def test_bad_files_name_the_option(console, tmp_path, capsys) -> None:
    launch()
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["report", "bert", "--codecarbon", str(bad)]) == 2
    assert "--codecarbon" in capsys.readouterr().err
    assert main(["report", "bert", "--measured", str(tmp_path / "missing.json")]) == 2
    assert "--measured: cannot read" in capsys.readouterr().err
    (tmp_path / "running.json").write_text('{"greenml_measure":1,"sampling":true}\n')
    with pytest.raises(greenml.InputError, match="still running"):
        greenml.report("bert", measured=tmp_path / "running.json")
    assert main(["report", "bret"]) == 2
    assert "bert" in capsys.readouterr().err  # the closest name


def test_reconcile_with_nothing_measured_never_makes_up_a_figure() -> None:
    option = {"hours": 2.0, "energy_kwh": 11.0, "co2e_kg": 1.1, "cost_usd": 10.0,
              "provider": "p", "region": "r", "instances": 1, "accelerators_per_instance": 4,
              "accelerator": "A100", "instance_type": "x",
              "inputs": [{"name": "pue", "value": 1.1, "source": "s", "year": "2024"}]}
    facts = reconcile("n", option, {"nothing_measured": "no GPU", "kwh": {}, "hours": None})
    assert facts["measured"] is False and facts["why_not_measured"] == "no GPU"
    assert "actual" not in facts and facts["planned"]["it_kwh"] == pytest.approx(10.0)
    measured = {"hours": 2.0, "kwh": {"total": 9.0}}
    with pytest.raises(GreenmlError, match="no grid intensity, so its figures cannot be priced"):
        reconcile("n", option, measured)  # no 0 g/kWh made up for the plan's missing figure
    with pytest.raises(GreenmlError, match="no PUE"):
        reconcile("n", {**option, "inputs": []}, measured)
