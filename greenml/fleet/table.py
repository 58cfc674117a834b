"""A fleet as plain text: the placements, the quotas' peaks, the references, the solver."""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenml.model import utc_text
from greenml.render import number, table

if TYPE_CHECKING:
    from greenml.fleet.result import Fleet


def fleet_table(fleet: Fleet) -> str:
    s = fleet.solver
    cost = fleet.cost_usd
    head = (f"{len(fleet)} jobs: {number(fleet.co2e_kg)} kg CO2e, "
            + (f"${cost:,.0f}" if cost is not None else "cost unknown")
            + f", all done by {utc_text(fleet.finish)}")
    rows = [[p.name, f"{p.provider}/{p.region}", p.option.offer.instance_type,
             f"{p.accelerators}x {p.option.accelerator.name}", utc_text(p.start),
             utc_text(p.finish), number(p.co2e_kg),
             "?" if p.cost_usd is None else f"{p.cost_usd:,.0f}"]
            for p in fleet.placements]
    lines = [head, "", table(["job", "where", "instance", "accelerators", "start", "finish",
                              "kg CO2e", "USD"], rows, right={6, 7})]
    limited = [u for u in fleet.use if u.limit is not None]
    if limited:
        lines += ["", table(["quota", "peak", "limit"],
                            [[u.name, u.peak, u.limit] for u in limited], right={1, 2})]
    lines.append("")
    for c in fleet.comparisons:
        text = f"{c.description}: {number(c.co2e_kg)} kg CO2e"
        if not c.complete:
            text += f" ({c.jobs - c.placed} of {c.jobs} jobs could not be placed)"
        elif c.name == "own best":
            text += f" (the limits cost {number(fleet.co2e_kg - c.co2e_kg)} kg)"
        elif c.name == "greedy":
            text += f" (this placement saves {number(c.co2e_kg - fleet.co2e_kg)} kg)"
        elif c.name == "baseline" and fleet.co2e_kg > 0:
            text += f" ({c.co2e_kg / fleet.co2e_kg:,.1f}x this placement)"
        lines.append(text)
    gap = "" if s.gap is None else f", gap {s.gap:.2%}"
    lines.append(f"solver: {s.solver}, {s.status}{gap}; {s.candidates:,} of "
                 f"{s.considered:,} candidates kept, {s.rows:,} rows; built in "
                 f"{s.build_s:.2f} s, solved in {s.solve_s:.2f} s")
    return "\n".join(lines)
