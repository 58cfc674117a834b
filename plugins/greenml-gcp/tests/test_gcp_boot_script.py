"""The Compute Engine boot script itself, run under bash: the rendezvous read from a local
metadata server, and the end through the Compute Engine API with the VM's own token (else a
guest shutdown), with the metadata server, the API and ``shutdown`` replaced for the test
(``greenml_gcp.boot``'s test hooks)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from greenml_gcp.boot import GCE

from greenml.provider import boot_script
from greenml.testing.boot import BootMachine, boot_machine
from greenml.testing.fakeserver import FakeServer, split_target

pytestmark = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("curl")),
                                reason="needs bash and curl")

SHOW = ('echo "rank=$GREENML_NODE_RANK nodes=$GREENML_NUM_NODES head=$GREENML_HEAD_ADDR '
        'master=$MASTER_ADDR:$MASTER_PORT node_rank=$NODE_RANK world=$WORLD_SIZE"')
TOKEN = "ya29.vm-token-for-tests"
VM = "/compute/v1/projects/greenml-test/zones/us-west1-b/instances/gang-1-abcd1234"


class FakeGoogle(FakeServer):
    """The metadata server (``Metadata-Flavor: Google`` demanded) and the Compute Engine
    instance DELETE (a Bearer token from the metadata server demanded), on one port."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {
            "instance/network-interfaces/0/ip": "10.128.0.9",
            "instance/name": "gang-1-abcd1234",
            "instance/zone": "projects/123456789/zones/us-west1-b",
            "project/project-id": "greenml-test",
            "instance/service-accounts/default/token": json.dumps(
                {"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"}),
        }
        self.delete_status = 200

    def handle(self, verb, target, headers, body):
        path, _ = split_target(target)
        self.record({"method": verb, "path": path,
                     "authorization": headers.get("Authorization", "")})
        prefix = "/computeMetadata/v1/"
        if path.startswith(prefix):
            if headers.get("Metadata-Flavor") != "Google":
                return 403, {}, b"Missing Metadata-Flavor:Google header."
            value = self.data.get(path[len(prefix):])
            if value is None:
                return 404, {}, b""
            return 200, {"Content-Type": "application/text"}, value.encode()
        if verb == "DELETE" and path == VM:
            if headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, {}, b"{}"
            return self.delete_status, {"Content-Type": "application/json"}, b'{"name": "op"}'
        return 404, {}, b""


@pytest.fixture
def google():
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
def machine(tmp_path, google):
    made = boot_machine(tmp_path, GREENML_GCE_METADATA_URL=google.url,
                        GREENML_GCE_API_URL=google.url)
    return tmp_path, made.env


def run_script(tmp_path: Path, env: dict[str, str], script: str
               ) -> subprocess.CompletedProcess[str]:
    return BootMachine(tmp_path, env).run(script)


def deletes(google: FakeGoogle) -> list[dict]:
    return [c for c in google.calls() if c["method"] == "DELETE"]


@pytest.mark.parametrize("rank", [0, 1])
def test_each_member_reads_its_rank_and_the_head_from_metadata(machine, google, rank) -> None:
    tmp, env = machine
    google.data.update({"instance/attributes/greenml-rank": str(rank),
                        "instance/attributes/greenml-nodes": "2",
                        "instance/attributes/greenml-head-addr": "10.128.0.5"})
    done = run_script(tmp, env, boot_script(SHOW, platform=GCE, nodes=2, index=rank))
    assert done.returncode == 0, done.stderr
    assert (f"rank={rank} nodes=2 head=10.128.0.5 master=10.128.0.5:29500 node_rank={rank} "
            "world=2") in done.stdout
    assert (tmp / "console").read_text().splitlines()[-1] == "greenml-exit=0"


def test_a_single_vm_is_its_own_head_and_deletes_itself(machine, google) -> None:
    tmp, env = machine
    done = run_script(tmp, env, boot_script(SHOW + "; exit 4", platform=GCE))
    assert done.returncode == 4
    assert "rank=0 nodes=1 head=10.128.0.9" in done.stdout
    assert (tmp / "console").read_text().splitlines()[-1] == "greenml-exit=4"
    [delete] = deletes(google)
    assert delete["authorization"] == f"Bearer {TOKEN}"
    assert not (tmp / "ended").exists()  # deleted through the API: no guest shutdown


@pytest.mark.parametrize("why", ["refused", "no service account"])
def test_without_a_self_delete_the_vm_shuts_down(machine, google, why) -> None:
    tmp, env = machine
    if why == "refused":
        google.delete_status = 403
    else:
        del google.data["instance/service-accounts/default/token"]
    done = run_script(tmp, env, boot_script("true", platform=GCE))
    assert done.returncode == 0
    assert (tmp / "ended").read_text() == "shutdown -h now\n"
    assert len(deletes(google)) == (1 if why == "refused" else 0)


def test_keep_leaves_the_vm(machine, google) -> None:
    tmp, env = machine
    done = run_script(tmp, env, boot_script("true", platform=GCE, keep=True))
    assert done.returncode == 0 and "greenml-exit=0" in (tmp / "console").read_text()
    assert deletes(google) == [] and not (tmp / "ended").exists()


def test_the_script_runs_once_across_boots(machine) -> None:
    tmp, env = machine
    script = boot_script(f"echo ran >> {tmp / 'count'}", platform=GCE, keep=True)
    run_script(tmp, env, script)
    run_script(tmp, env, script)
    assert (tmp / "count").read_text() == "ran\n"
