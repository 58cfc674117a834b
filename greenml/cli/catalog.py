"""The commands that show what greenml knows: regions, accelerators, plugins and live intensity."""

from __future__ import annotations

import argparse
from typing import Any

from greenml.errors import GreenmlError, InputError
from greenml.render import json_text


def cmd_regions(args: argparse.Namespace) -> int:
    from greenml.registry import default_catalog
    from greenml.render import table

    catalog = default_catalog().with_dataset(args.carbon_data)
    if args.provider and args.provider not in catalog.provider_names():
        raise InputError("provider", f"unknown provider {args.provider!r}; installed: "
                         f"{', '.join(catalog.provider_names())}")
    regions = [r for r in catalog.regions if not args.provider or r.provider == args.provider]
    if args.json:
        import attrs

        print(json_text([attrs.asdict(r) for r in regions]))
        return 0
    rows = [[r.provider, r.name, r.location[:32], r.country,
             f"{r.intensity.g_per_kwh:g}" if r.intensity else "-", f"{r.pue.value:g}",
             r.grid_zone] for r in regions]
    print(f"grid intensity: {catalog.carbon_data}")
    print(table(["provider", "region", "location", "country", "g/kWh", "PUE", "grid zone"],
                rows, right={4, 5}))
    return 0


def cmd_accelerators(args: argparse.Namespace) -> int:
    from greenml.registry import default_catalog
    from greenml.render import table

    accelerators = default_catalog().accelerators
    if args.json:
        import attrs

        print(json_text([attrs.asdict(a) for a in accelerators]))
        return 0
    rows = []
    for a in accelerators:
        power = a.power()
        rows.append([a.name, a.family, a.vendor, "" if a.memory_gb is None else f"{a.memory_gb:g}",
                     "" if power is None else f"{power.value:g}",
                     a.power_basis if power is not None else "none",
                     "" if a.dense_tflops is None else f"{a.dense_tflops:g}"])
    print(table(["name", "family", "vendor", "memory GB", "power W", "basis", "dense TFLOPS"],
                rows, right={3, 4, 6}))
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from greenml import registry
    from greenml.render import table

    infos = registry.infos()
    if args.json:
        print(json_text([i.to_dict() for i in infos]))
        return 0
    rows = [[i.name, i.distribution, i.version, ",".join(i.providers),
             "disabled" if i.disabled
             else i.error or ",".join(h.removeprefix("greenml_") for h in i.hooks)]
            for i in infos]
    print(table(["plugin", "distribution", "version", "providers", "hooks / error"], rows))
    sources = [s for i in infos for s in i.carbon_sources]
    if sources:
        print("\ncarbon sources (greenml plan --carbon-source NAME,...; "
              "greenml intensity REGION --source NAME):")
        for line in sources:
            print(f"  {line}")
    return 0


def cmd_intensity(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from greenml import registry
    from greenml.errors import CarbonSourceError
    from greenml.model import utc_text
    from greenml.plan.compute import pick_sources
    from greenml.registry import default_catalog
    from greenml.render import table
    from greenml.scrub import scrub

    region = default_catalog().find_region(args.region, args.provider or None, "REGION")
    catalog = registry.default().catalog
    asked = args.source.strip()
    try:
        sources = pick_sources(catalog, asked or [s.name for s in catalog.carbon_sources],
                               registry.default())
    except InputError as exc:
        raise InputError("source", str(exc).partition(": ")[2], exc.suggestions) from None
    now = datetime.now(timezone.utc)
    answers = []
    for source in sources:
        entry: dict[str, Any] = {"source": source.name, "signal": source.signal,
                                 "zone": source.zone(region), "readings": [], "error": ""}
        ok, reason = source.check_credentials()
        entry["configured"], entry["reason"] = ok, reason
        if ok:
            try:
                if args.forecast:
                    entry["readings"] = list(source.forecast(region, now, None) or ())
                else:
                    latest = source.latest(region)
                    entry["readings"] = [latest] if latest else []
                    if latest is None and (annual := source.intensity(region)) is not None:
                        entry["annual"] = annual
            except CarbonSourceError as exc:  # a plugin's source may quote its answer
                entry["error"] = scrub(str(exc).partition(": ")[2])
        answers.append(entry)
    answered = [e for e in answers if e["readings"] or e.get("annual")]
    if asked and not answered:
        why = "; ".join(f"{e['source']}: {_status(e)}" for e in answers)
        raise GreenmlError(f"no {'forecast' if args.forecast else 'reading'} for "
                           f"{region.provider}/{region.name}: {why}")
    if args.json:
        out = []
        for e in answers:
            item = {k: v for k, v in e.items() if k not in ("readings", "annual")}
            item["readings"] = [r.to_dict() for r in e["readings"]]
            if e.get("annual"):
                import attrs

                item["annual"] = attrs.asdict(e["annual"])
            out.append(item)
        print(json_text({"provider": region.provider, "region": region.name,
                         "grid_zone": region.grid_zone, "sources": out}))
        return 0
    print(f"{region.provider}/{region.name} ({region.location}), grid zone "
          f"{region.grid_zone or 'unknown'}")
    rows = []
    for e in answers:
        status = "" if e["readings"] or e.get("annual") else _status(e)
        for r in e["readings"]:
            rows.append([e["source"], e["zone"], utc_text(r.at), f"{r.g_per_kwh:g}", r.signal,
                         r.kind, ""])
        if e.get("annual"):
            a = e["annual"]
            rows.append([e["source"], a.zone or e["zone"], a.year, f"{a.g_per_kwh:g}", a.signal,
                         a.kind, a.source[:60]])
        if status:
            rows.append([e["source"], e["zone"], "", "", e["signal"], "", status])
    print(table(["source", "zone", "time (UTC)", "g/kWh", "signal", "kind", "note"], rows,
                right={3}))
    return 0


def _status(entry: dict[str, Any]) -> str:
    """Why a source gave no reading: not configured, failed, or no data here."""
    if not entry["configured"]:
        return str(entry["reason"])
    if entry["error"]:
        return f"failed: {entry['error']}"
    return "no data for this region"
