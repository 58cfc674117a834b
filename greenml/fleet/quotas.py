"""GPU quotas as the clouds state them, converted to accelerators, and written as ``[limits]``.

A fleet is only as right as its limits, and the limits that matter are the account's real
quotas. Each provider that declares ``Capability.QUOTAS`` reads them through its own SDK
(``Provider.quotas``) and converts them to accelerators of a family or an accelerator name,
as ``greenml.fleet.limits`` names them (AWS and Azure state vCPUs per instance family; the
plugin converts through its offers' vCPU and accelerator counts). ``read_quotas`` asks every
such provider; one that fails is one line, the others still answer. ``Quota``, the value a
provider returns, lives in ``greenml.provider.quota`` with the provider interface.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from greenml.errors import InputError, QuotaWarning, closest
from greenml.provider.quota import Quota

if TYPE_CHECKING:
    from greenml.provider.base import Provider


@attrs.frozen
class QuotaReading:
    """What ``read_each`` found: every quota read, and one line per provider that failed."""

    quotas: tuple[Quota, ...]
    problems: dict[str, str]
    providers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"quotas": [q.to_dict() for q in self.quotas],
                "problems": [{"provider": p, "error": e} for p, e in self.problems.items()],
                "providers": list(self.providers)}


def read_quotas(providers: Iterable[str] | None = None,
                regions: Sequence[str] | None = None) -> list[Quota]:
    """The GPU quotas of every provider that can read them (or of ``providers``), in
    ``regions`` (None: every region the provider has offers in).

    A provider that fails is a ``QuotaWarning`` of one line; the others still answer. An
    unknown provider or region, or a provider that cannot read quotas, is an InputError.
    """
    reading = read_each(providers, regions)
    for provider, problem in reading.problems.items():
        warnings.warn(f"{provider}: {problem}", QuotaWarning, stacklevel=2)
    return list(reading.quotas)


def read_each(providers: Iterable[str] | None = None,
              regions: Sequence[str] | None = None) -> QuotaReading:
    """``read_quotas`` with the failures returned (provider -> one line) instead of warned."""
    from greenml import registry

    chosen = _chosen(registry.default().providers(), providers)
    wanted = _regions(chosen, regions)
    quotas: list[Quota] = []
    problems: dict[str, str] = {}
    asked = []
    for provider in chosen:
        mine = wanted.get(provider.name) if wanted is not None else None
        if wanted is not None and not mine:
            continue  # none of the regions asked for is this provider's
        asked.append(provider.name)
        try:
            quotas.extend(provider.quotas(mine))
        except Exception as exc:  # one line per provider; the others still answer
            problems[provider.name] = one_line(exc)
    quotas.sort(key=lambda q: (q.provider, q.region, q.accelerator, q.spot))
    return QuotaReading(tuple(quotas), problems, tuple(asked))


def family(accelerator: str) -> str:
    """The family of an accelerator name as the catalog spells it (``A100-80GB`` ->
    ``A100``), for a quota that holds every variant alike; the name itself where unknown."""
    from greenml import registry

    catalog = registry.default_catalog()
    i = catalog.accelerator_index.get(accelerator.lower())
    return catalog.accelerators[i].family if i is not None else accelerator


def one_line(error: BaseException) -> str:
    """An SDK error as one line, secrets masked."""
    from greenml.scrub import scrub

    text = " ".join(str(error).split()) or type(error).__name__
    if not isinstance(error, Exception) or type(error).__module__.startswith("greenml"):
        return scrub(text)
    return scrub(f"{type(error).__name__}: {text}")


def limits_table(quotas: Iterable[Quota]) -> dict[str, Any]:
    """The ``[limits]`` table the on-demand quotas make (``greenml.fleet.limits`` reads it).

    Spot quotas are left out: a fleet's limits do not tell spot from on-demand capacity.
    Two quotas on one key are separate pools (Compute Engine's H100 and H100 Mega quotas;
    Azure's NDASv4 and NCADS A100 families), so the key holds their sum.
    """
    accelerators: dict[str, int] = {}
    totals: dict[str, int] = {}
    for q in quotas:
        if q.spot:
            continue
        table = totals if q.key == q.provider else accelerators
        table[q.key] = table.get(q.key, 0) + q.limit
    out: dict[str, Any] = {}
    if accelerators:
        out["accelerators"] = dict(sorted(accelerators.items()))
    if totals:
        out["provider_accelerators"] = dict(sorted(totals.items()))
    return out


def limits_toml(quotas: Sequence[Quota], note: str = "") -> str:
    """``limits_table`` as a TOML ``[limits]`` table with each quota's source as a comment;
    paste it into a job file (``greenml plan --jobs``)."""
    table = limits_table(quotas)
    sources: dict[str, list[str]] = {}
    for q in quotas:
        if not q.spot:
            sources.setdefault(q.key, []).append(f"{q.limit}: {q.source}" if any(
                o.key == q.key and o is not q and not o.spot for o in quotas) else q.source)
    lines = [f"# {note}" if note else "# GPU quotas read by `greenml quotas`",
             "# On-demand quotas in accelerators; spot quotas are listed below as comments.",
             "[limits.accelerators]"]
    for key, value in table.get("accelerators", {}).items():
        lines.append(f"{_quoted(key)} = {value}{_comment('; '.join(sources[key]))}")
    lines += ["", "[limits.provider_accelerators]"]
    for key, value in table.get("provider_accelerators", {}).items():
        lines.append(f"{_quoted(key)} = {value}{_comment('; '.join(sources[key]))}")
    spot = [q for q in quotas if q.spot]
    if spot:
        lines += ["", "# Spot / preemptible quotas (not limits of a fleet):"]
        lines += [f"#   {q.key} = {q.limit}{_comment(q.source)}" for q in spot]
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    import json

    return json.dumps(text)  # a TOML basic string for these names (ASCII, no control chars)


def _comment(source: str | None) -> str:
    return f"  # {' '.join(source.split())}" if source else ""


def _chosen(installed: dict[str, Provider], names: Iterable[str] | None) -> list[Provider]:
    able = [p for p in installed.values() if "quotas" in p.capabilities]
    if names is None:
        return able
    out = []
    for name in names:
        name = name.strip().lower()
        if name not in installed:
            raise InputError("provider", f"unknown provider {name!r}; installed: "
                             f"{', '.join(sorted(installed))}", closest(name, sorted(installed)))
        if installed[name] not in able:
            raise InputError("provider", f"provider {name!r} cannot read quotas; providers "
                             f"that can: {', '.join(p.name for p in able) or 'none'}")
        if installed[name] not in out:
            out.append(installed[name])
    return out


def _regions(providers: Sequence[Provider],
             regions: Sequence[str] | None) -> dict[str, list[str]] | None:
    """Each provider's share of ``regions``; a region no provider has is an InputError."""
    if regions is None:
        return None
    known = {p.name: [r.name for r in p.regions()] for p in providers}
    everywhere = sorted({r for names in known.values() for r in names})
    for region in regions:
        if region not in everywhere:
            raise InputError("region", f"unknown region {region!r} for "
                             f"{', '.join(known) or 'these providers'}",
                             closest(region, everywhere))
    return {name: [r for r in regions if r in names] for name, names in known.items()}
