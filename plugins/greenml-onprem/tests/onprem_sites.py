"""Inventory files for the on-prem tests: one ``[[sites]]`` block per site, as TOML text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def site(name: str, slurm_conf: Path | str | None, grid_zone: str = "FI",
         **extra: Any) -> str:
    """A site in Finland with a test PUE, a grid zone and an internal price."""
    fields: dict[str, Any] = {
        "name": name, "location": f"{name} machine room, Espoo", "country": "FI",
        "latitude": 60.18, "longitude": 24.83, "grid_zone": grid_zone, "pue": 1.2,
        "pue_source": "test facility metering", "pue_year": "2024",
    }
    fields["usd_per_accelerator_hour"] = 0.75
    if slurm_conf is not None:
        fields["slurm_conf"] = str(slurm_conf)
    tables = {k: v for k, v in extra.items() if isinstance(v, dict)}
    fields.update({k: v for k, v in extra.items() if not isinstance(v, dict)})
    lines = ["[[sites]]", *(f"{k} = {json.dumps(v)}" for k, v in fields.items())]
    for table, values in tables.items():
        lines += [f"[sites.{table}]", *(f"{json.dumps(k)} = {json.dumps(v)}"
                                        for k, v in values.items())]
    return "\n".join(lines) + "\n"


def write(path: Path, *sites: str) -> Path:
    path.write_text("# greenml on-prem inventory written by the tests\n\n" + "\n".join(sites))
    return path
