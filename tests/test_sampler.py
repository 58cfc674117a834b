"""The node's sampler against stand-ins for the hardware: a fake ``nvidia-smi`` on PATH that
prints recorded readings, a folder laid out like /sys/class/powercap whose counters advance
and wrap, and a machine with neither. The sampler is standalone, so it is also run as a
script, the way the boot script runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hardware_doubles import fake_nvidia_smi, powercap, set_counter

from greenml.measure import sampler
from greenml.measure.sampler import JOULES_PER_KWH, Device, NvidiaSmi, Rapl, Sampler

SCRIPT = Path(sampler.__file__)
def test_power_readings_are_integrated_between_samples() -> None:
    gpu = Device("gpu0", "gpu", "H100", "nvidia-smi-power", counter=False)
    for t, watts in ((0.0, 100.0), (1.0, 300.0), (2.0, 300.0)):
        gpu.add(t, watts, interval_s=1.0, origin=0.0)
    out = gpu.to_dict()
    assert out["kwh"] == pytest.approx((200 + 300) / JOULES_PER_KWH)  # trapezoids
    assert out["samples"] == 3 and out["average_w"] == pytest.approx(250.0)
    assert out["gaps"] == [] and out["hours"] == pytest.approx(2 / 3600)


def test_a_counter_that_wraps_counts_across_the_wrap_and_a_long_pause_is_a_gap() -> None:
    dram = Device("dram-0", "dram", "dram", "rapl-energy-counter", counter=True, wrap_j=1000.0)
    for t, joules in ((0.0, 990.0), (1.0, 995.0), (2.0, 3.0), (10.0, 13.0)):
        dram.add(t, joules, interval_s=1.0, origin=0.0)
    out = dram.to_dict()
    assert out["kwh"] * JOULES_PER_KWH == pytest.approx(5 + 8 + 10)
    assert out["gaps"] == [[2.0, 10.0]] and out["gap_s"] == 8.0


def test_rapl_reads_packages_and_dram_and_handles_the_wrap(tmp_path) -> None:
    root = powercap(tmp_path / "powercap", package_uj=262_143_000_000, dram_uj=5_000)
    rapl = Rapl(str(root))
    assert [(d.ident, d.kind) for d in rapl.devices] == [("cpu-package-0", "cpu"),
                                                         ("dram-0", "dram")]
    first = rapl.read()
    assert first == {"cpu-package-0": pytest.approx(262_143.0), "dram-0": pytest.approx(0.005)}
    package, dram = rapl.devices
    package.add(0.0, first["cpu-package-0"], 1.0, 0.0)
    set_counter(root, "intel-rapl:0", 671_150)  # wrapped at 262,143,328,850 uJ
    package.add(1.0, rapl.read()["cpu-package-0"], 1.0, 0.0)
    assert package.energy_j == pytest.approx(0.328850 + 0.671150)  # to the wrap, then on


def test_unreadable_or_missing_powercap_says_why(tmp_path) -> None:
    missing = Rapl(str(tmp_path / "nowhere"))
    assert missing.devices == [] and "no powercap RAPL counters" in missing.unmeasured[0][1]
    empty = Rapl(str(tmp_path))
    assert empty.unmeasured == [("cpu", f"no RAPL package domain under {tmp_path}")]


def test_nvidia_smi_lists_each_gpu_and_why_one_is_not_measured(tmp_path) -> None:
    smi = NvidiaSmi(str(fake_nvidia_smi(tmp_path / "bin") / "nvidia-smi"))
    assert [(d.ident, d.name, d.method) for d in smi.devices] == [
        ("gpu0", "NVIDIA H100 80GB HBM3", "nvidia-smi-power")]
    assert smi.unmeasured == [("gpu", "gpu1 (NVIDIA H100 80GB HBM3): nvidia-smi shows no "
                                      "power.draw")]
    assert smi.read() == {"gpu0": 200.5}  # the discovery call took the first reading
    assert smi.read() == {"gpu0": 300.5}


def test_a_sampler_records_every_device_and_the_record_is_json(hardware) -> None:
    s = Sampler(interval_s=0.02)
    s.start()
    time.sleep(0.2)
    set_counter(hardware / "powercap", "intel-rapl:0", 4_600_000)  # +3.6 J
    set_counter(hardware / "powercap", "intel-rapl:0:0", 1_000)  # wrapped
    time.sleep(0.1)
    record = json.loads(json.dumps(s.stop(exit_code=0)))
    assert record["greenml_measure"] == sampler.RECORD_VERSION
    devices = {d["id"]: d for d in record["devices"]}
    assert set(devices) == {"gpu0", "cpu-package-0", "dram-0"}
    assert devices["cpu-package-0"]["kwh"] == pytest.approx(3.6 / JOULES_PER_KWH)
    assert devices["dram-0"]["kwh"] == pytest.approx((262_143_328_850 - 4_000) / 1e6
                                                    / JOULES_PER_KWH)
    assert 100.5 <= devices["gpu0"]["average_w"] <= 300.5
    assert all(d["samples"] >= 3 for d in devices.values())
    assert record["kwh"]["total"] == pytest.approx(sum(d["kwh"] for d in devices.values()))
    assert record["unmeasured"] == [{"kind": "gpu", "why": "gpu1 (NVIDIA H100 80GB HBM3): "
                                                           "nvidia-smi shows no power.draw"}]
    assert record["trace"] and "nothing_measured" not in record
    assert 0.25 / 3600 < record["hours"] < 60 / 3600


def test_nothing_to_read_records_why_and_no_figure(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    monkeypatch.setenv("GREENML_NVML", "0")
    s = Sampler(interval_s=0.02, powercap_root=str(tmp_path / "none"))
    s.start()
    record = s.stop()
    assert record["devices"] == [] and record["kwh"] == {}
    assert record["nothing_measured"].startswith("no nvidia-smi on PATH; no powercap RAPL")


def run_script(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, text=True,
                          capture_output=True, timeout=120, **kw)


def test_the_script_runs_a_command_passes_its_exit_code_and_prints_one_line(hardware) -> None:
    env = {**os.environ, "GREENML_SAMPLE_INTERVAL_S": "0.05", "PYTHONPATH": ""}
    out = hardware / "logs" / "run.measure.json"
    done = run_script(["--line", "--record", str(out), "--",
                       "bash", "-c", "echo working; sleep 0.3; exit 7"], env)
    assert done.returncode == 7
    first, line = done.stdout.splitlines()
    assert first == "working" and line.startswith(sampler.LINE_PREFIX)
    record = json.loads(line[len(sampler.LINE_PREFIX):])
    assert record["exit_code"] == 7 and record == json.loads(out.read_text())
    assert {d["id"] for d in record["devices"]} == {"gpu0", "cpu-package-0", "dram-0"}


def test_beside_a_run_the_script_samples_until_told_to_stop(hardware) -> None:
    env = {**os.environ, "GREENML_SAMPLE_INTERVAL_S": "0.05"}
    out = hardware / "record.json"
    process = subprocess.Popen([sys.executable, str(SCRIPT), "--record", str(out)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert json.loads(out.read_text()) == {"greenml_measure": 1, "sampling": True}
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
    record = json.loads(out.read_text())
    assert record["exit_code"] is None and record["devices"]


def test_a_bad_option_is_a_usage_error() -> None:
    done = run_script(["--bogus"], dict(os.environ))
    assert done.returncode == 2 and "usage: sampler.py" in done.stderr


def test_beside_a_script_that_dies_the_script_writes_its_record_and_ends(hardware) -> None:
    out = hardware / "orphan.json"
    env = {**os.environ, "GREENML_SAMPLE_INTERVAL_S": "0.05"}
    # the parent shell exits without stopping it (a killed boot script): it must not linger
    subprocess.run(["bash", "-c", f'"{sys.executable}" "{SCRIPT}" --record "{out}" '
                                  f"</dev/null >/dev/null 2>&1 & sleep 0.5"], env=env, timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and "devices" in json.loads(out.read_text()):
            break
        time.sleep(0.05)
    assert json.loads(out.read_text())["devices"]
