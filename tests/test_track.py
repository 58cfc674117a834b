"""Measuring a run on this machine: ``greenml.track`` and ``greenml track -- CMD``, with the
node's sampler reading a fake nvidia-smi and a powercap folder, priced with a catalog
region's PUE and intensity (each with its source), or not priced when no region is named."""

from __future__ import annotations

import json
import time

import pytest
from hardware_doubles import set_counter

import greenml
from greenml.cli import main
from greenml.measure.track import summary
from greenml.testing import accelerator, region


@pytest.fixture
def hardware(hardware, monkeypatch):
    """conftest's stand-ins, sampled every 0.02 s (a tracked block lasts a fraction of one)."""
    monkeypatch.setenv("GREENML_SAMPLE_INTERVAL_S", "0.02")
    return hardware


@pytest.fixture
def site() -> greenml.Catalog:
    """An on-prem site is a region of its provider, with its own PUE and grid figure."""
    return greenml.Catalog([region("onprem", "lab-1", "SE", 30.0, 1.4)], [],
                           [accelerator("A100", 400, 312)])


def test_a_with_block_is_measured_and_priced_with_the_sites_figures(hardware, site) -> None:
    with greenml.track("lab-1", catalog=site) as t:
        time.sleep(0.2)
        set_counter(hardware / "powercap", "intel-rapl:0", 4_600_000)  # +3.6 J
        time.sleep(0.1)
    record = t.record
    assert record is not None and {d["id"] for d in record["devices"]} == {
        "gpu0", "cpu-package-0", "dram-0"}
    p = record["pricing"]
    assert (p["provider"], p["region"], p["pue"]["value"]) == ("onprem", "lab-1", 1.4)
    assert p["pue"]["source"] and p["intensity"]["g_per_kwh"] == 30.0 and p["intensity"]["source"]
    assert p["energy_kwh"] == pytest.approx(record["kwh"]["total"] * 1.4)
    assert p["co2e_kg"] == pytest.approx(p["energy_kwh"] * 30.0 / 1000)
    assert "kg CO2e (gross)" in summary(record)


def test_without_a_region_the_energy_is_measured_and_not_priced(hardware) -> None:
    with greenml.track() as t:
        time.sleep(0.1)
    assert t.record is not None and t.record["kwh"]["total"] > 0
    assert "pricing" not in t.record and t.record["why_not_priced"].startswith("no region")


def test_the_record_is_kept_when_the_block_raises(hardware) -> None:
    tracker = greenml.track()
    with pytest.raises(ZeroDivisionError), tracker:
        1 / 0  # noqa: B018
    assert tracker.record is not None and tracker.record["devices"]


def test_nothing_to_read_is_said_and_nothing_is_priced(tmp_path, monkeypatch, site) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("GREENML_NVML", "0")
    monkeypatch.setenv("GREENML_POWERCAP_ROOT", str(tmp_path / "none"))
    with greenml.track("lab-1", provider="onprem", catalog=site) as t:
        pass
    assert t.record is not None and t.record["why_not_priced"] == "nothing was measured"
    assert "co2e_kg" not in t.record["pricing"] and t.record["nothing_measured"]
    assert "nothing measured: no nvidia-smi on PATH" in summary(t.record)


def test_the_command_runs_measured_and_keeps_its_exit_code(hardware, capsys) -> None:
    out = hardware / "track.json"
    code = main(["track", "--record", str(out), "--", "bash", "-c", "sleep 0.2; exit 5"])
    assert code == 5
    err = capsys.readouterr().err
    assert err.startswith("greenml track: ") and "not priced: no region named" in err
    record = json.loads(out.read_text())
    assert record["exit_code"] == 5 and record["kwh"]["gpu"] > 0
    assert main(["report", "nothing", "--measured", str(out)]) == 2  # no such launch


def test_the_command_prints_the_record_as_json(hardware, capsys) -> None:
    assert main(["track", "--json", "--", "true"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["greenml_measure"] == 1 and record["exit_code"] == 0


def test_a_command_that_cannot_run_is_one_line_exit_2(capsys) -> None:
    assert main(["track", "--", "no-such-trainer-xyz", "--epochs", "1"]) == 2
    assert capsys.readouterr().err == ("greenml: error: --command: cannot run "
                                       "'no-such-trainer-xyz': no such executable file (on "
                                       "PATH, or at that path)\n")
    assert main(["track", "--interval-s", "soon", "--", "true"]) == 2
    assert "--interval-s must be a number, got 'soon'" in capsys.readouterr().err


def test_track_without_a_command_is_a_usage_error(capsys) -> None:
    assert main(["track"]) == 2
    assert "greenml: error: --command: give the command to run after --" in \
        capsys.readouterr().err


@pytest.mark.parametrize(("name", "provider", "says"), [
    ("onprem/lab-1", None, ""),
    ("lab-1", "onprem", ""),
    ("lab-2", None, "region: unknown region 'lab-2' (did you mean 'lab-1'?)"),
    ("lab-1", "onprme", "provider: unknown provider 'onprme'; installed: onprem"),
])
def test_the_region_is_found_as_greenml_intensity_finds_it(site, name, provider,
                                                         says) -> None:
    """One lookup (``Catalog.find_region``) for track and intensity: provider/name works."""
    if not says:
        assert greenml.track(name, provider, catalog=site).region == site.regions[0]
        return
    with pytest.raises(greenml.InputError) as refused:
        greenml.track(name, provider, catalog=site)
    assert str(refused.value).startswith(says)
