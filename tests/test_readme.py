"""The README's Python examples run as written, and the figures they quote are what they print."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import greenml

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.catalogs
def test_the_thirty_second_example_runs() -> None:
    block = python_blocks()[0]
    assert "greenml.plan(job)" in block
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    plan = namespace["plan"]
    assert isinstance(plan, greenml.Plan) and plan.best.estimate.co2e_kg > 0


def test_the_t5_what_if_quotes_what_estimate_returns() -> None:
    [block] = [b for b in python_blocks() if "power_w=310" in b]
    line = next(x for x in block.splitlines() if "greenml.estimate(" in x)
    code, _, comment = line.partition("#")
    mwh, tonnes = (float(x) for x in re.findall(r"([\d.]+) (?:MWh|t CO2e)", comment))
    job = greenml.Job(accelerator="TPU-v3", count=512, hours=20 * 24)
    result = eval(code, {"greenml": greenml, "job": job})  # noqa: S307 - the README's own line
    assert round(result.energy_kwh / 1000, 1) == mwh
    assert round(result.co2e_kg / 1000, 1) == tonnes
