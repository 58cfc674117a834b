"""The boot script itself, run under bash: the rendezvous variables each rank exports, the exit
code on the console, the end command, and the watchdog; against a local IMDSv2 on 127.0.0.1
with ``shutdown`` replaced by a stub on PATH (the script's documented test hooks)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from greenml.provider import boot_script
from greenml.provider.boot import (
    AWS,
    EXIT_NO_RENDEZVOUS,
    EXIT_TIME_LIMIT,
    BootPlatform,
    limit_hours,
)
from greenml.testing.boot import BootMachine, boot_machine
from greenml.testing.fakeserver import FakeServer

pytestmark = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("curl")),
                                reason="needs bash and curl")

SHOW = ('echo "rank=$GREENML_NODE_RANK nodes=$GREENML_NUM_NODES head=$GREENML_HEAD_ADDR '
        'acc=$GREENML_ACCELERATORS_PER_NODE master=$MASTER_ADDR:$MASTER_PORT '
        'node_rank=$NODE_RANK world=$WORLD_SIZE"')


class FakeIMDS(FakeServer):
    """IMDSv2: a token for a PUT, then tags and local-ipv4 for a GET that shows it."""

    TOKEN = "imds-token-for-tests"

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {"local-ipv4": "10.0.0.7"}

    def handle(self, verb, target, headers, body):
        self.record({"method": verb, "path": target})
        if verb == "PUT" and target == "/latest/api/token":
            if not headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return 400, {}, b""
            return 200, {"Content-Type": "text/plain"}, self.TOKEN.encode()
        if headers.get("X-aws-ec2-metadata-token") != self.TOKEN:
            return 401, {}, b""
        prefix = "/latest/meta-data/"
        value = self.data.get(target[len(prefix):]) if target.startswith(prefix) else None
        if value is None:
            return 404, {}, b""
        return 200, {"Content-Type": "text/plain"}, value.encode()


@pytest.fixture
def imds():
    with FakeIMDS() as fake:
        yield fake


@pytest.fixture
def machine(tmp_path, imds):
    """The environment the script runs in: a console file, a log, a ``shutdown`` stub that
    writes where it was called, and the fake IMDS."""
    made = boot_machine(tmp_path, GREENML_IMDS_URL=imds.url)
    return tmp_path, made.env


def run_script(tmp_path: Path, env: dict[str, str], script: str, timeout_s: float = 60
               ) -> subprocess.CompletedProcess[str]:
    return BootMachine(tmp_path, env).run(script, timeout_s)


def test_a_single_machine_is_rank_0_of_1_at_its_own_address(machine) -> None:
    tmp, env = machine
    done = run_script(tmp, env, boot_script(SHOW, platform=AWS, accelerators_per_node=8))
    assert done.returncode == 0, done.stderr
    assert ("rank=0 nodes=1 head=10.0.0.7 acc=8 master=10.0.0.7:29500 node_rank=0 world=1"
            in done.stdout)
    console = (tmp / "console").read_text()
    assert "rank=0 nodes=1" in console  # the command's output, copied for greenml logs
    assert console.splitlines()[-1] == "greenml-exit=0"
    assert (tmp / "ended").read_text() == "shutdown -h now\n"
    assert "greenml-exit=0" in (tmp / "run.log").read_text()


@pytest.mark.parametrize("rank", [0, 1, 2])
def test_each_gang_member_exports_its_rank_and_the_same_head(machine, imds, rank) -> None:
    tmp, env = machine
    imds.data.update({"tags/instance/greenml-rank": str(rank),
                      "tags/instance/greenml-nodes": "3",
                      "tags/instance/greenml-head-addr": "10.0.0.5"})
    script = boot_script(SHOW, platform=AWS, nodes=3, index=rank, accelerators_per_node=4)
    done = run_script(tmp, env, script)
    assert done.returncode == 0, done.stderr
    assert (f"rank={rank} nodes=3 head=10.0.0.5 acc=4 master=10.0.0.5:29500 "
            f"node_rank={rank} world=3") in done.stdout
    assert any(c["path"].endswith("greenml-head-addr") for c in imds.calls())


def test_the_exit_code_is_recorded_and_the_machine_ends_after_a_failure(machine) -> None:
    tmp, env = machine
    done = run_script(tmp, env, boot_script("echo oops; exit 3", platform=AWS))
    assert done.returncode == 3
    lines = [x for x in (tmp / "console").read_text().splitlines()
             if not x.startswith("greenml-measure=")]  # the sampler's record: see below
    assert lines[-2:] == ["oops", "greenml-exit=3"]
    assert (tmp / "ended").exists()


def test_keep_records_the_exit_code_and_leaves_the_machine_running(machine) -> None:
    tmp, env = machine
    done = run_script(tmp, env, boot_script("true", platform=AWS, keep=True))
    assert done.returncode == 0
    assert "greenml-exit=0" in (tmp / "console").read_text()
    assert not (tmp / "ended").exists()


def test_no_rendezvous_fails_clearly_and_ends_the_machine(machine) -> None:
    tmp, env = machine  # the fake serves no rank tags: the peer list never comes
    env = {**env, "GREENML_RENDEZVOUS_TIMEOUT_S": "1"}
    done = run_script(tmp, env, boot_script("echo never", platform=AWS, nodes=2, index=1))
    assert done.returncode == EXIT_NO_RENDEZVOUS
    console = (tmp / "console").read_text()
    assert "greenml-error=no rendezvous" in console and "never" not in console
    assert f"greenml-exit={EXIT_NO_RENDEZVOUS}" in console
    assert (tmp / "ended").exists()


def test_the_watchdog_ends_a_command_that_hangs(machine) -> None:
    tmp, env = machine
    script = boot_script("sleep 600", platform=AWS, max_hours=1 / 3600)  # one second
    path = tmp / "boot.sh"
    path.write_text(script)
    process = subprocess.Popen(["bash", str(path)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60  # generous: the watchdog fires after one second
        while not (tmp / "ended").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (tmp / "ended").read_text() == "shutdown -h now\n"
        console = (tmp / "console").read_text()
        assert "greenml-error=time limit of 1 s reached" in console
        assert f"greenml-exit={EXIT_TIME_LIMIT}" in console
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_platform_that_cannot_end_the_machine_leaves_it(machine) -> None:
    tmp, env = machine
    done = run_script(tmp, env, boot_script("true", platform=BootPlatform()))
    assert done.returncode == 0 and not (tmp / "ended").exists()


def test_every_boot_runs_the_command_once(machine) -> None:
    tmp, env = machine
    script = boot_script("echo ran >> " + str(tmp / "count"), every_boot=True)
    run_script(tmp, env, script)
    run_script(tmp, env, script)
    assert (tmp / "count").read_text() == "ran\n"


def test_the_time_limit_is_the_plan_plus_ten_percent_at_least_half_an_hour() -> None:
    assert limit_hours(10) == pytest.approx(11)
    assert limit_hours(0.1) == 0.5
    assert limit_hours(10, keep=True) is None
    assert limit_hours(10, keep=True, max_hours=2) == 2
    assert limit_hours(10, max_hours=3) == 3


FAKE_NVIDIA_SMI = """#!/bin/sh
echo "0, NVIDIA A100-SXM4-80GB, 250.00"
echo "1, NVIDIA A100-SXM4-80GB, 350.00"
"""


def measure_lines(console: str) -> list[dict]:
    prefix = "greenml-measure="
    return [json.loads(x[len(prefix):]) for x in console.splitlines() if x.startswith(prefix)]


def test_the_run_is_measured_and_the_record_reaches_the_console(machine) -> None:
    tmp, env = machine
    smi = tmp / "bin" / "nvidia-smi"
    smi.write_text(FAKE_NVIDIA_SMI)
    smi.chmod(0o755)
    env = {**env, "GREENML_NVML": "0", "GREENML_SAMPLE_INTERVAL_S": "0.05",
           "GREENML_POWERCAP_ROOT": str(tmp / "no-powercap")}
    done = run_script(tmp, env, boot_script("sleep 0.5; echo trained", platform=AWS))
    assert done.returncode == 0, done.stderr
    console = (tmp / "console").read_text()
    [record] = measure_lines(console)
    assert console.splitlines()[-2].startswith("greenml-measure=")  # before the exit line
    assert [d["id"] for d in record["devices"]] == ["gpu0", "gpu1"]
    assert {d["method"] for d in record["devices"]} == {"nvidia-smi-power"}
    assert record["devices"][0]["average_w"] == pytest.approx(250.0)
    assert record["devices"][1]["samples"] >= 2
    assert 0.4 / 3600 < record["hours"] < 60 / 3600  # generous: the command sleeps 0.5 s
    assert record["kwh"]["gpu"] > 0 and "nothing_measured" not in record
    assert [u["kind"] for u in record["unmeasured"]] == ["cpu"]
    saved = json.loads((tmp / "run.measure.json").read_text())  # next to the run's log
    assert saved == record


def test_without_python3_the_run_goes_ahead_unmeasured_and_says_so(machine) -> None:
    tmp, env = machine
    stub = tmp / "bin" / "python3"
    stub.write_text("#!/bin/sh\nexit 127\n")
    stub.chmod(0o755)
    done = run_script(tmp, env, boot_script("echo trained", platform=AWS))
    assert done.returncode == 0, done.stderr
    console = (tmp / "console").read_text()
    assert "trained" in console and "energy is not measured" in console
    [record] = measure_lines(console)
    assert record["nothing_measured"].startswith("no python3")
    assert console.splitlines()[-1] == "greenml-exit=0"


def test_the_script_with_its_sampler_fits_in_ec2_user_data() -> None:
    script = boot_script("python train.py " + "x" * 1000, platform=AWS, nodes=4, index=1,
                         max_hours=72)
    assert len(script.encode()) < 16 * 1024  # EC2 refuses user data over 16 KB
