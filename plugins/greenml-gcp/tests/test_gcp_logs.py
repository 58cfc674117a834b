"""``greenml logs`` on GCP: Compute Engine ``instances.getSerialPortOutput`` through the real
google-cloud-compute client, against gce_fake serving each VM's serial port 1."""

from __future__ import annotations

import greenml
from greenml.testing import run_cli

FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01)


def gang(name: str = "bert") -> list[str]:
    plan = greenml.plan(greenml.Job(accelerator="A100", count=4, hours=10, providers="gcp"))
    made = plan.launch(name=name, run="python train.py", retry=FAST)
    return [r.name for r in sorted(made.instances, key=lambda r: r.name)]


def test_logs_return_each_vms_serial_port_with_the_exit_code(gcp) -> None:
    head, worker = gang()
    gcp.set_serial_output(head, "startup-script: epoch 1\nstartup-script: greenml-exit=0\n")
    gcp.set_serial_output(worker, "startup-script: rank 1 still training\n")
    logs = greenml.logs("bert")
    assert [(log.node, log.resource.resource_id.rpartition("/")[2]) for log in logs] == [
        (0, head), (1, worker)]
    assert logs[0].text == "startup-script: epoch 1\nstartup-script: greenml-exit=0\n"
    assert [log.exit_code for log in logs] == [0, None]
    calls = gcp.calls("getSerialPortOutput")
    assert {c["name"] for c in calls} == {head, worker}
    assert all(c["status"] == 200 and c["query"].get("port") == "1" for c in calls)


def test_the_cli_shows_one_node_masks_secrets_and_follows_to_the_exit(gcp) -> None:
    head, worker = gang()
    secret = "em-token-gcp-0123456789"
    gcp.set_serial_output(head, f"token {secret}\ngreenml-exit=0\n")
    gcp.set_serial_output(worker, "rank 1 done\ngreenml-exit=1\n")
    env = {"ELECTRICITYMAPS_API_TOKEN": secret, "GREENML_LOGS_INTERVAL_S": "0.01"}
    one = run_cli("logs", "bert", "--node", "0", env=env)
    assert (one.returncode, one.stdout, one.stderr) == (0, "token ***\ngreenml-exit=0\n", "")
    both = run_cli("logs", "bert", "-f", env=env)
    assert both.returncode == 0 and secret not in both.stdout
    assert both.stdout.splitlines()[-1] == "[node 1] greenml-exit=1"
    status = run_cli("status", "--refresh", "--json", env=env)
    assert status.returncode == 0 and '"exit_code": 1' in status.stdout


def test_the_fake_serves_the_documented_shape_from_an_offset(gcp) -> None:
    from google.cloud import compute_v1

    head, _ = gang()
    gcp.set_serial_output(head, "0123456789")
    [vm] = [v for v in gcp.instances() if v["name"] == head]
    client = compute_v1.InstancesClient(
        client_options={"api_endpoint": gcp.endpoint_url},
        credentials=__import__("google.auth.credentials", fromlist=["x"]).AnonymousCredentials(),
        transport="rest")
    reply = client.get_serial_port_output(request=compute_v1.GetSerialPortOutputInstanceRequest(
        project=gcp.project, zone=vm["zone"].rsplit("/")[-1], instance=head, port=1, start=4))
    assert (reply.contents, reply.start, reply.next_) == ("456789", 4, 10)
