"""The rows of a plugin's ``offers.csv``: naming, filtering, ordering and checking offers.

How a provider's offers are made (which catalogue rows, how a price is composed) is the
plugin's own business; what every offer must be is common: its accelerator is one of
greenml's canonical names, (instance_type, accelerator, accelerators_per_instance, region)
is unique, its region is one the plugin ships, it has a positive on-demand price and a
price source and date, and it offers whole accelerators (a training gang needs them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from catalog_build.common import BuildLog, Sources, fmt_num, warn

COLUMNS = (
    "instance_type", "accelerator", "accelerators_per_instance", "vcpus", "memory_gb",
    "region", "ondemand_usd_per_hour", "spot_usd_per_hour", "price_basis", "price_source",
    "price_date",
)

#: (instance-type regex, accelerator string in the source, canonical name)
Rule = tuple[str, str, str]


def accelerator_lookup(rows: list[dict[str, str]]) -> dict[str, str]:
    """Lower-cased name/alias -> canonical name; asserts case-insensitive uniqueness."""
    lookup: dict[str, str] = {}
    for row in rows:
        for label in [row["name"], *filter(None, row["aliases"].split(";"))]:
            key = label.lower()
            assert key not in lookup, f"name/alias {label!r} used twice"
            lookup[key] = row["name"]
    return lookup


@dataclass(frozen=True)
class AcceleratorNames:
    """Canonical accelerator names of one provider's catalogue strings.

    A few strings name a family, not a variant; the plugin's rules, keyed on the instance
    type, pick the variant, and a string in ``rule_required`` that no rule covers is an error
    rather than a guess. Every other string goes through greenml's names and aliases.
    """

    provider: str
    lookup: dict[str, str]
    rules: tuple[Rule, ...] = ()
    rule_required: frozenset[str] = frozenset()

    def __call__(self, instance_type: str, accelerator: str) -> str:
        """The canonical name of a catalogue row's accelerator (rules first, then aliases)."""
        for pattern, source_name, canonical in self.rules:
            if source_name == accelerator and re.search(pattern, instance_type):
                return canonical
        if accelerator in self.rule_required:
            raise SystemExit(f"no variant rule for {self.provider} {instance_type} "
                             f"({accelerator})")
        return self.alias(accelerator)

    def alias(self, accelerator: str) -> str:
        """The canonical name of a name or alias, whatever the instance type."""
        return self.lookup[accelerator.lower()]


def offer(row: dict[str, str], accelerator: str, **overrides: str) -> dict[str, str]:
    """An offers.csv row from an instance_types.csv row (overrides win)."""
    base = {
        "instance_type": row["instance_type"], "accelerator": accelerator,
        "accelerators_per_instance": fmt_num(row["accelerator_count"]),
        "vcpus": fmt_num(row["vcpus"]), "memory_gb": fmt_num(row["memory_gb"]),
        "region": row["region"], "ondemand_usd_per_hour": fmt_num(row["price_usd_per_hour"]),
        "spot_usd_per_hour": fmt_num(row["spot_price_usd_per_hour"]),
        "price_basis": row["price_basis"], "price_source": row["source"],
        "price_date": row["snapshot_date"],
    }
    base.update(overrides)
    return base


def provider_rows(src: Sources, provider: str, basis_prefix: str) -> list[dict[str, str]]:
    """instance_types.csv rows of a provider whose price_basis starts with a prefix."""
    return [
        r for r in src.instances
        if r["provider"] == provider and r["price_basis"].startswith(basis_prefix)
    ]


def sort_key(row: dict[str, str]) -> tuple[str, str, float, str]:
    return (row["instance_type"], row["accelerator"], float(row["accelerators_per_instance"]),
            row["region"])


def keep_known_regions(
    provider: str, offers: list[dict[str, str]], regions: set[str], log: BuildLog
) -> list[dict[str, str]]:
    """Drop (and report) offers in regions missing from the provider's regions.csv."""
    kept = []
    for row in offers:
        if row["region"] in regions:
            kept.append(row)
        else:
            warn(f"{provider} offer {row['instance_type']} in unknown region {row['region']!r}")
            log.skipped.append(f"{provider} {row['instance_type']}: unknown region "
                               f"{row['region']!r}")
    return kept


def keep_whole_accelerators(
    provider: str, offers: list[dict[str, str]], log: BuildLog
) -> list[dict[str, str]]:
    """Drop (and report) fractional-GPU sizes: a training gang needs whole accelerators."""
    kept = [r for r in offers if float(r["accelerators_per_instance"]).is_integer()]
    fractional = sorted({r["instance_type"] for r in offers} - {r["instance_type"] for r in kept})
    if fractional:
        log.skipped.append(f"{provider} fractional-GPU sizes ({len(offers) - len(kept)} offers): "
                           f"{', '.join(fractional)}")
    return kept


def shippable(
    provider: str, offers: list[dict[str, str]], regions: set[str], log: BuildLog
) -> list[dict[str, str]]:
    """The whole-accelerator offers in known regions, sorted."""
    whole = keep_whole_accelerators(provider, offers, log)
    return sorted(keep_known_regions(provider, whole, regions, log), key=sort_key)


def check_offers(
    provider: str, offers: list[dict[str, str]], names: set[str], regions: set[str]
) -> None:
    """Known accelerator and region, no duplicate offer key, positive prices."""
    keys = set()
    for row in offers:
        assert row["accelerator"] in names, (provider, row)
        assert row["region"] in regions, (provider, row)
        key = (row["instance_type"], row["accelerator"], row["accelerators_per_instance"],
               row["region"])
        assert key not in keys, (provider, key)
        keys.add(key)
        assert float(row["ondemand_usd_per_hour"]) > 0, (provider, row)
        assert not row["spot_usd_per_hour"] or float(row["spot_usd_per_hour"]) > 0, row
        assert row["price_source"] and row["price_date"], row
