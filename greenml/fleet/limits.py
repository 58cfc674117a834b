"""What a fleet must stay within: quotas on concurrent accelerators, and jobs kept apart.

A cloud states a GPU quota per (provider, region, accelerator family), sometimes also per
provider in total; it holds at every moment, so two jobs may use the same quota one after
the other. ``Limits`` holds them as a quota would state them, checked against the catalog
(an unknown region or family is a typo that would silently limit nothing). The budget is a
separate number (``budget_usd``) because it holds over the whole fleet, not per hour.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from greenml.errors import InputError, closest

if TYPE_CHECKING:
    from greenml.accelerator import Accelerator
    from greenml.catalog import Catalog

#: The keys of a ``[limits]`` table.
KEYS = ("accelerators", "provider_accelerators", "apart")
Key = tuple[str, str, str]


@attrs.frozen(eq=False)
class Limits:
    """Concurrent-accelerator limits and apart-groups.

    ``accelerators`` maps (provider, region, family) to the most accelerators of that
    family the fleet may hold there at once (a family such as ``A100`` covers its variants;
    an accelerator's own name limits that variant only, as Compute Engine's separate A100
    80 GB quota does). ``provider_accelerators`` maps a provider to the most accelerators
    of any kind at once over all its regions. ``apart`` lists groups of job names no two of
    which may run in the same region (redundant runs, blast radius).
    """

    accelerators: Mapping[Key, int] = attrs.field(factory=dict)
    provider_accelerators: Mapping[str, int] = attrs.field(factory=dict)
    apart: tuple[tuple[str, ...], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.accelerators or self.provider_accelerators or self.apart)

    @classmethod
    def parse(cls, data: Limits | Mapping[str, Any] | None, where: str = "limits") -> Limits:
        """Limits from a mapping shaped like the ``[limits]`` table of a job file:
        ``{"accelerators": {"gcp/europe-north1/A100": 16}, "provider_accelerators":
        {"gcp": 64}, "apart": [["a", "b"]]}``; ``where`` names the source in errors."""
        if data is None:
            return cls()
        if isinstance(data, Limits):
            return data
        if not isinstance(data, Mapping):
            raise InputError(where, f"must be a table of {', '.join(KEYS)}, got {data!r}")
        for key in data:
            if key not in KEYS:
                raise InputError(where, f"unknown key {key!r}; accepted: {', '.join(KEYS)}",
                                 closest(str(key), KEYS))
        accelerators: dict[Key, int] = {}
        for key, value in _table(data.get("accelerators"), f"{where}.accelerators").items():
            accelerators[_key(key, f"{where}.accelerators")] = _count(
                value, f"{where}.accelerators[{_text(key)!r}]")
        providers = {str(k): _count(v, f"{where}.provider_accelerators[{k!r}]") for k, v in
                     _table(data.get("provider_accelerators"),
                            f"{where}.provider_accelerators").items()}
        return cls(accelerators, providers, _groups(data.get("apart"), f"{where}.apart"))

    def checked(self, catalog: Catalog, jobs: Iterable[str], where: str = "limits") -> Limits:
        """These limits with names spelled as the catalog spells them; an unknown provider,
        region, accelerator family or job is an InputError suggesting the closest name."""
        providers = catalog.provider_names()
        accelerators: dict[Key, int] = {}
        for (provider, region, family), value in self.accelerators.items():
            field = f"{where}.accelerators[{provider}/{region}/{family!r}]"
            provider = _provider(provider, providers, field)
            regions = [r.name for r in catalog.regions if r.provider == provider]
            if region not in regions:
                raise InputError(field, f"unknown {provider} region {region!r}",
                                 closest(region, regions))
            accelerators[(provider, region, _family(catalog, family, field))] = value
        totals = {_provider(p, providers, f"{where}.provider_accelerators[{p!r}]"): v
                  for p, v in self.provider_accelerators.items()}
        names = list(jobs)
        for group in self.apart:
            for name in group:
                if name not in names:
                    raise InputError(f"{where}.apart", f"no job is named {name!r}; jobs: "
                                     f"{', '.join(names[:8])}", closest(name, names))
        return Limits(accelerators, totals, self.apart)

    def to_dict(self) -> dict[str, Any]:
        return {"accelerators": {"/".join(k): v for k, v in self.accelerators.items()},
                "provider_accelerators": dict(self.provider_accelerators),
                "apart": [list(g) for g in self.apart]}


def covers(name: str, accelerator: Accelerator) -> bool:
    """Whether a limit on ``name`` (a family, or one accelerator) counts ``accelerator``."""
    lower = name.lower()
    return lower in (accelerator.family.lower(), accelerator.name.lower(),
                     *(a.lower() for a in accelerator.aliases))


def _table(value: Any, where: str) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(where, f"must be a table of names to numbers, got {value!r}")
    return value


def _text(key: Any) -> str:
    return "/".join(key) if isinstance(key, tuple) else str(key)


def _key(key: Any, where: str) -> Key:
    """``"provider/region/family"`` (or a 3-tuple) as a tuple; the region may hold a slash."""
    if isinstance(key, tuple) and len(key) == 3 and all(isinstance(k, str) for k in key):
        parts = [k.strip() for k in key]
    else:
        text = str(key)
        provider, _, rest = text.partition("/")
        region, _, family = rest.rpartition("/")
        parts = [provider.strip(), region.strip(), family.strip()]
    if not all(parts):
        raise InputError(where, f"a limit is named provider/region/family (e.g. "
                         f"\"gcp/europe-north1/A100\"), got {_text(key)!r}")
    return parts[0], parts[1], parts[2]


def _count(value: Any, where: str) -> int:
    """A whole number of accelerators, 0 or more (0: none may run there)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and isinstance(value, float):
        ok = math.isfinite(value) and value.is_integer()
    if not ok or value < 0:
        raise InputError(where, f"must be a whole number of accelerators, 0 or more, got "
                         f"{value!r}")
    return int(value)


def _groups(value: Any, where: str) -> tuple[tuple[str, ...], ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InputError(where, f"must be a list of lists of job names, got {value!r}")
    groups = []
    for group in value:
        if (isinstance(group, (str, bytes)) or not isinstance(group, Iterable)
                or not all(isinstance(n, str) for n in group)):
            raise InputError(where, f"each group is a list of job names, got {group!r}")
        names = tuple(group)
        if len(set(names)) < 2 or len(set(names)) != len(names):
            raise InputError(where, f"a group names two or more different jobs, got {names!r}")
        groups.append(names)
    return tuple(groups)


def _provider(name: str, providers: list[str], field: str) -> str:
    if name in providers:
        return name
    raise InputError(field, f"unknown provider {name!r}; installed: {', '.join(providers)}",
                     closest(name, providers))


def _family(catalog: Catalog, name: str, field: str) -> str:
    """The catalog's spelling of a family or accelerator name."""
    families = sorted({a.family for a in catalog.accelerators})
    for family in families:
        if family.lower() == name.lower():
            return family
    i = catalog.accelerator_index.get(name.lower())
    if i is not None:
        return catalog.accelerators[i].name
    raise InputError(field, f"unknown accelerator family {name!r}; families: "
                     f"{', '.join(families)}", closest(name, families))
