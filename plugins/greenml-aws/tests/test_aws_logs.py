"""``greenml logs`` on AWS: EC2 GetConsoleOutput through the real boto3, against moto behind
the tests' EC2 front, which serves each instance's console text as EC2 does (base64)."""

from __future__ import annotations

import greenml
from greenml.testing import run_cli

FAST = greenml.RetryPolicy(attempts=3, base_delay_s=0.01)


def gang(name: str = "bert") -> list[str]:
    plan = greenml.plan(greenml.Job(accelerator="A100", count=16, hours=10, providers="aws"))
    made = plan.launch(name=name, run="python train.py", retry=FAST)
    return [r.resource_id for r in sorted(made.instances, key=lambda r: r.name)]


def test_logs_return_each_instances_console_with_the_exit_code(aws) -> None:
    head, worker = gang()
    aws.set_console_output(head, "[   12.3] cloud-init[901]: epoch 1\ngreenml-exit=0\n")
    aws.set_console_output(worker, "epoch 1 on rank 1\n")
    logs = greenml.logs("bert")
    assert [(log.node, log.resource.resource_id) for log in logs] == [(0, head), (1, worker)]
    assert logs[0].text == "[   12.3] cloud-init[901]: epoch 1\ngreenml-exit=0\n"
    assert [log.exit_code for log in logs] == [0, None]
    calls = aws.calls("GetConsoleOutput")
    assert {c["InstanceId"] for c in calls} == {head, worker}
    assert all(c["outcome"] == "answered" and c["status"] == 200 for c in calls)


def test_the_cli_shows_one_node_masks_secrets_and_follows_to_the_exit(aws, tmp_path) -> None:
    head, worker = gang()
    secret = "em-token-aws-0123456789"
    aws.set_console_output(head, f"token {secret}\ngreenml-exit=0\n")
    aws.set_console_output(worker, "rank 1 done\ngreenml-exit=4\n")
    env = {"ELECTRICITYMAPS_API_TOKEN": secret, "GREENML_LOGS_INTERVAL_S": "0.01"}
    one = run_cli("logs", "bert", "--node", "1", env=env)
    assert (one.returncode, one.stdout, one.stderr) == (0, "rank 1 done\ngreenml-exit=4\n", "")
    both = run_cli("logs", "bert", "--follow", env=env)
    assert both.returncode == 0 and secret not in both.stdout
    assert both.stdout.splitlines() == ["[node 0] token ***", "[node 0] greenml-exit=0",
                                        "[node 1] rank 1 done", "[node 1] greenml-exit=4"]
    status = run_cli("status", "--refresh", "--json", env=env)
    assert status.returncode == 0 and '"exit_code": 4' in status.stdout


def test_moto_own_console_is_read_where_none_was_set(aws) -> None:
    head, _ = gang()
    [log, _] = greenml.logs("bert")
    assert "Linux version" in log.text and log.exit_code is None, "moto's sample kernel log"


def test_an_unknown_name_exits_2_with_the_closest(aws) -> None:
    gang("bert-large")
    result = run_cli("logs", "bert-lrge")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("greenml: error: --name: no launch named 'bert-lrge' (did you "
                             "mean 'bert-large'?)\n")
