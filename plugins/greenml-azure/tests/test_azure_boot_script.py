"""The Azure boot script itself, run under bash: the rendezvous read from IMDS ``tagsList``,
and the end through Resource Manager with the VM's managed identity (else a guest shutdown),
with IMDS, Resource Manager and ``shutdown`` replaced for the test (``greenml_azure.boot``'s
test hooks)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from greenml_azure.boot import AZURE

from greenml.provider import boot_script
from greenml.provider.boot import EXIT_NO_RENDEZVOUS
from greenml.testing.boot import BootMachine, boot_machine
from greenml.testing.fakeserver import FakeServer, split_target

pytestmark = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("curl")),
                                reason="needs bash and curl")

SHOW = ('echo "rank=$GREENML_NODE_RANK nodes=$GREENML_NUM_NODES head=$GREENML_HEAD_ADDR '
        'master=$MASTER_ADDR:$MASTER_PORT node_rank=$NODE_RANK world=$WORLD_SIZE"')
TOKEN = "eyJ0eXAiOi.managed-identity-token-for-tests"
VM = ("/subscriptions/00000000-0000-4000-8000-000000005555/resourceGroups/greenml-swedencentral"
      "/providers/Microsoft.Compute/virtualMachines/gang-1-abc123")


class FakeAzure(FakeServer):
    """IMDS (``Metadata: true`` demanded) and Resource Manager's VM DELETE (the identity's
    token demanded), on one port."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[dict[str, str]] = [{"name": "greenml-launch-id", "value": "abc"}]
        self.identity = True
        self.delete_status = 202

    def handle(self, verb, target, headers, body):
        path, query = split_target(target)
        self.record({"method": verb, "path": path, "query": query,
                     "authorization": headers.get("Authorization", "")})
        if path.startswith("/metadata/"):
            if headers.get("Metadata") != "true":
                return 400, {}, b'{"error": "Bad request. Required metadata header not specified"}'
            return self._imds(path[len("/metadata/"):], query)
        if verb == "DELETE" and path == VM and query.get("api-version"):
            if headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, {}, b'{"error": {"code": "InvalidAuthenticationToken"}}'
            return self.delete_status, {}, b""
        return 404, {}, b""

    def _imds(self, path, query):
        text = {"Content-Type": "text/plain"}
        if path == "identity/oauth2/token":
            if not self.identity or query.get("resource") != "https://management.azure.com/":
                return 400, {}, b'{"error": "invalid_request"}'
            return 200, {"Content-Type": "application/json"}, json.dumps(
                {"access_token": TOKEN, "expires_in": "86399", "token_type": "Bearer",
                 "resource": "https://management.azure.com/"}).encode()
        if not query.get("api-version"):
            return 400, {}, b'{"error": "Bad request. api-version was not specified"}'
        if path == "instance/compute/tagsList":
            return 200, {"Content-Type": "application/json"}, json.dumps(self.tags).encode()
        if path == "instance/compute/resourceId" and query.get("format") == "text":
            return 200, text, VM.encode()
        if path == ("instance/network/interface/0/ipv4/ipAddress/0/privateIpAddress") and \
                query.get("format") == "text":
            return 200, text, b"10.42.0.9"
        return 404, {}, b""


@pytest.fixture
def imds():
    with FakeAzure() as fake:
        yield fake


@pytest.fixture
def machine(tmp_path, imds):
    made = boot_machine(tmp_path, GREENML_AZURE_IMDS_URL=imds.url,
                        GREENML_AZURE_ARM_URL=imds.url)
    return tmp_path, made.env


def run_script(tmp_path: Path, env: dict[str, str], script: str
               ) -> subprocess.CompletedProcess[str]:
    return BootMachine(tmp_path, env).run(script)


def deletes(imds: FakeAzure) -> list[dict]:
    return [c for c in imds.calls() if c["method"] == "DELETE"]


@pytest.mark.parametrize("rank", [0, 2])
def test_each_member_reads_its_rank_and_the_head_from_tags(machine, imds, rank) -> None:
    tmp, env = machine
    imds.tags += [{"name": "greenml-rank", "value": str(rank)},
                  {"name": "greenml-nodes", "value": "3"},
                  {"name": "greenml-head-addr", "value": "10.42.0.4"}]
    done = run_script(tmp, env, boot_script(SHOW, platform=AZURE, nodes=3, index=rank))
    assert done.returncode == 0, done.stderr
    assert (f"rank={rank} nodes=3 head=10.42.0.4 master=10.42.0.4:29500 node_rank={rank} "
            "world=3") in done.stdout
    assert (tmp / "console").read_text().splitlines()[-1] == "greenml-exit=0"


def test_a_member_waits_until_its_tags_are_written(machine, imds) -> None:
    tmp, env = machine  # only some tags so far: the rendezvous is not complete
    imds.tags += [{"name": "greenml-rank", "value": "1"}]
    env = {**env, "GREENML_RENDEZVOUS_TIMEOUT_S": "1"}
    done = run_script(tmp, env, boot_script("echo never", platform=AZURE, nodes=2, index=1))
    assert done.returncode == EXIT_NO_RENDEZVOUS
    assert "never" not in done.stdout and "greenml-error=no rendezvous" in (
        tmp / "console").read_text()
    assert len(deletes(imds)) == 1  # and the VM still ends itself


def test_a_single_vm_is_its_own_head_and_deletes_itself(machine, imds) -> None:
    tmp, env = machine
    done = run_script(tmp, env, boot_script(SHOW + "; exit 7", platform=AZURE))
    assert done.returncode == 7
    assert "rank=0 nodes=1 head=10.42.0.9" in done.stdout
    assert (tmp / "console").read_text().splitlines()[-1] == "greenml-exit=7"
    [delete] = deletes(imds)
    assert delete["authorization"] == f"Bearer {TOKEN}"
    assert not (tmp / "ended").exists()  # deleted through Resource Manager: no shutdown


@pytest.mark.parametrize("why", ["refused", "no identity"])
def test_without_a_self_delete_the_vm_shuts_down(machine, imds, why) -> None:
    tmp, env = machine
    if why == "refused":
        imds.delete_status = 403
    else:
        imds.identity = False
    done = run_script(tmp, env, boot_script("true", platform=AZURE))
    assert done.returncode == 0
    assert (tmp / "ended").read_text() == "shutdown -h now\n"
    assert len(deletes(imds)) == (1 if why == "refused" else 0)


def test_keep_leaves_the_vm(machine, imds) -> None:
    tmp, env = machine
    done = run_script(tmp, env, boot_script("true", platform=AZURE, keep=True))
    assert done.returncode == 0 and "greenml-exit=0" in (tmp / "console").read_text()
    assert deletes(imds) == [] and not (tmp / "ended").exists()
