"""Plain-text tables for a terminal: no dependencies, nothing clever."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Option
    from .plans import Plan


def table(headers: Sequence[str], rows: Sequence[Sequence[object]],
          right: frozenset[int] | set[int] = frozenset()) -> str:
    """Columns padded to their widest cell; ``right`` holds the indexes of numeric columns."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        parts = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def number(value: float | None, digits: int = 1) -> str:
    """A figure for a table: fixed decimals, but small values keep three significant digits."""
    if value is None:
        return "?"
    if value != 0 and abs(value) < 10 ** -digits * 10:
        return f"{value:.3g}"
    return f"{value:,.{digits}f}"


def plan_table(plan: Plan, top: int = 10) -> str:
    job = plan.job
    work = f"{job.hours:g} h" if job.hours is not None else f"{job.flops:.3g} FLOPs"
    wanted = ", ".join(job.accelerator) or "any accelerator"
    head = (f"greenml plan: {job.count} x {wanted}, {work}; {len(plan)} feasible options, "
            f"ranked by kg CO2e ({plan.signal} grid intensity)")
    rows = []
    for o in plan.top(top):
        e = o.estimate
        rows.append([
            f"{o.rank}{'*' if o.pareto else ''}", o.provider, o.region.name,
            o.region.location[:28], f"{o.instances} x {o.offer.instance_type}",
            f"{e.accelerators} x {o.accelerator.name}", number(e.hours), number(e.energy_kwh, 0),
            number(e.co2e_kg), "?" if e.cost_usd is None else f"{e.cost_usd:,.0f}",
            f"{e.intensity_g_per_kwh:g}", f"{e.pue:g}",
        ])
        if o.schedule is not None:
            rows[-1] += [o.schedule.start.strftime("%Y-%m-%d %H:%MZ")
                         + ("+" if len(o.schedule.slots) > 1 else ""),
                         number(o.schedule.saving_co2e_kg)]
    headers = ["#", "provider", "region", "location", "instances", "accelerators", "hours",
               "kWh", "kg CO2e", "USD", "g/kWh", "PUE"]
    right = {6, 7, 8, 9, 10, 11}
    if plan.timeshift is not None:
        headers += ["start (UTC)", "kg saved vs now"]
        right.add(13)
    body = table(headers, rows, right=right)
    s, base = plan.savings, plan.baseline
    best = plan.best
    if plan.timeshift is not None:
        from .carbon import utc_text

        ts = plan.timeshift
        until = f" to {utc_text(ts.deadline)}" if ts.deadline else " (no deadline)"
        head += (f"\nwindow: from {utc_text(ts.start)}{until}"
                 + (", interruptible" if ts.interruptible else "")
                 + "; each option starts when its whole run emits the least")
    lines = [
        head, "", body, "",
        "* on the Pareto front (kg CO2e, USD, hours)"
        + ("; + runs in several slots" if plan.timeshift and plan.timeshift.interruptible
           else ""),
        f"best: {best.provider}/{best.region.name} {best.offer.instance_type}: "
        f"{best.estimate.co2e_kg:,.1f} kg CO2e, {s.factor:,.1f}x less than the baseline "
        f"({base.co2e_kg:,.1f} kg: same job in an average US datacenter, PUE {base.pue:g}, "
        f"{base.intensity_g_per_kwh:g} g/kWh; Patterson et al. 2021)",
        f"saving: {s.saved_co2e_kg:,.1f} kg CO2e ({s.percent:.0f}%)",
    ]
    if best.schedule is not None:
        lines.append(f"when: {best.schedule.describe()}")
    per_provider = best_per_provider(plan)
    if len(per_provider) > 1:
        lines.append("best per provider: " + "; ".join(
            f"{o.provider} #{o.rank} {o.region.name} {o.offer.instance_type} "
            f"{number(o.estimate.co2e_kg)} kg" for o in per_provider))
    if plan.excluded:
        lines.append(f"excluded: {len(plan.excluded)} group(s); see --json or plan.excluded")
    return "\n".join(lines)


def best_per_provider(plan: Plan) -> list[Option]:
    """The first-ranked option of each provider, in rank order."""
    offers, everyone = plan.catalog.offers, set(plan.catalog.provider_names())
    seen: dict[str, int] = {}
    for position, i in enumerate(plan.ranked):
        seen.setdefault(offers[int(i)].provider, position + 1)
        if len(seen) == len(everyone):
            break
    return [plan.option(rank) for rank in seen.values()]
