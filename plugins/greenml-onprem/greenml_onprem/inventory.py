"""The on-prem inventory: a TOML file describing each site (a SLURM cluster) greenml may use.

It says what the cluster cannot: where the site is, its grid and PUE with their sources, an
internal price, how to reach the controller, and which greenml accelerator each GRES type
is. Partitions, nodes and GPU counts are read from the cluster itself (``cluster.py``).

Where it is: ``$GREENML_ONPREM_INVENTORY``, else ``onprem.toml`` in the user's config
directory (platformdirs). No file: no sites, and plans go on without on-prem options. A
malformed file is a ``greenml.errors.ConfigError`` (a ``CatalogError``) naming the file, the
line and the field, e.g. ``/etc/greenml/onprem.toml:7: sites[0].pue: must be a number >= 1
and <= 3 (max_pue in greenml/data/defaults.csv), got 0.9``; greenml lets that error through
to the user (exit 2) wherever the inventory is read, instead of dropping the site.
Figures are checked against ranges: PUE 1.0 to ``max_pue``, a price up to
``max_usd_per_accelerator_hour`` (both in ``greenml/data/defaults.csv``, each with its
rationale), the country against ``greenml/data/countries.csv``, and the grid zone against
greenml's grid-intensity datasets (``greenml.datasets``).
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from greenml.provider import ConfigError, closest
from greenml_onprem.location import ENV_PATH, default_path

SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@attrs.frozen
class Site:
    """One cluster: where it is, its grid and PUE, its price, and how to reach its controller."""

    index: int
    name: str
    location: str
    country: str
    pue: float
    pue_source: str
    pue_year: str = ""
    grid_zone: str = ""
    latitude: float | None = None
    longitude: float | None = None
    usd_per_accelerator_hour: float | None = None
    price_source: str = ""
    price_year: str = ""
    slurm_conf: str = ""
    cluster: str = ""
    partitions: tuple[str, ...] = ()
    gres_types: tuple[tuple[str, str], ...] = ()
    gpu_without_type: str = ""

    @property
    def field_prefix(self) -> str:
        return f"sites[{self.index}]"


@attrs.frozen
class Inventory:
    """The sites of one inventory file, and the file's text for pointing at a line."""

    path: Path | None
    text: str = ""
    sites: tuple[Site, ...] = ()

    def site(self, name: str) -> Site | None:
        return next((s for s in self.sites if s.name == name), None)

    def error(self, field: str, message: str) -> ConfigError:
        """A ConfigError saying ``file:line: field: message``."""
        return ConfigError(f"{self.path}:{line_of(self.text, field)}: {field}: {message}")


def load(path: Path | None = None) -> Inventory:
    """The inventory at ``path`` (default: ``default_path()``); an empty one if there is none.

    A path named by the environment variable must exist: a typo there is an error, not an
    absent inventory.
    """
    explicit = path is not None or bool(os.environ.get(ENV_PATH))
    path = path or default_path()
    if not path.is_file():
        if explicit:
            raise ConfigError(f"{path}: no such inventory file (named by {ENV_PATH})")
        return Inventory(None)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the inventory: {exc}") from None
    return parse(text, path)


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def parse(text: str, path: Path) -> Inventory:
    """Parse and check an inventory's text; every error names ``path``, a line and a field."""
    toml = _toml()
    try:
        data = toml.loads(text)
    except toml.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line = f"{where.group(1)}:{where.group(2)}" if where else "1"
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        raise ConfigError(f"{path}:{line}: invalid TOML: {message}") from None
    inventory = Inventory(path, text)
    for key in data:
        if key != "sites":
            raise inventory.error(key, _unknown(key, ["sites"]))
    sites = data.get("sites", [])
    if not isinstance(sites, list) or not all(isinstance(s, dict) for s in sites):
        raise inventory.error("sites", "must be an array of tables: [[sites]]")
    checked = tuple(_site(inventory, i, raw) for i, raw in enumerate(sites))
    seen: dict[str, int] = {}
    for site in checked:
        if site.name in seen:
            raise inventory.error(f"{site.field_prefix}.name",
                                  f"site {site.name!r} is already sites[{seen[site.name]}]")
        seen[site.name] = site.index
    return attrs.evolve(inventory, sites=checked)


def _unknown(key: str, known: list[str]) -> str:
    hints = closest(key, known, n=1)
    return "unknown field" + (f" (did you mean {hints[0]!r}?)" if hints else "")


# Field checkers: each returns the clean value or raises ValueError with the reason. A new
# check is one function here and one line in FIELDS.


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return value.strip()


def _bound(name: str) -> float:
    """An upper bound from ``greenml/data/defaults.csv`` (read when first checked)."""
    from greenml.datafiles import defaults

    return defaults()[name].value


def _number(low: float | None = None, high: float | str | None = None,
            above: float | None = None) -> Callable[[Any], float]:
    """A finite number within the bounds; ``high`` may name a bound in defaults.csv."""

    def check(value: Any) -> float:
        most = _bound(high) if isinstance(high, str) else high
        bounds = [f">= {low:g}" if low is not None else "",
                  f"> {above:g}" if above is not None else "",
                  f"<= {most:g}" if most is not None else ""]
        wanted = "a number" + "".join(f" {b}" for b in bounds if b).replace(" <=", " and <=")
        if isinstance(high, str):
            wanted += f" ({high} in greenml/data/defaults.csv)"
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value)
              and (low is None or value >= low) and (most is None or value <= most)
              and (above is None or value > above))
        if not ok:
            raise ValueError(f"must be {wanted}, got {value!r}")
        return float(value)

    return check


def _year(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise ValueError(f"must be a year such as \"2024\", got {value!r}")
    return str(value).strip()


def _country(value: Any) -> str:
    """An ISO 3166-1 alpha-2 code that exists (``greenml/data/countries.csv``)."""
    from greenml.datafiles import countries

    known = countries()
    code = value.strip().upper() if isinstance(value, str) else ""
    if code in known:
        return code
    wanted = "must be an ISO 3166-1 alpha-2 code such as \"FI\""
    if not isinstance(value, str):
        raise ValueError(f"{wanted}, got {value!r}")
    hints = [c for c, name in known.items() if name.lower() == value.strip().lower()]
    hints = hints or (closest(code, known, n=3) if len(code) == 2 else [])
    hint = f" (did you mean {', '.join(repr(h) for h in hints)}?)" if hints else ""
    raise ValueError(f"{wanted}, got {value!r}{hint}")


def _grid_zone(value: Any) -> str:
    """A zone of greenml's grid-intensity datasets, so the site is measured like every cloud
    region (``greenml.datasets``); the closest zone ids are suggested."""
    from greenml import datasets

    zones = datasets.zone_names()
    by_case = {z.lower(): z for z in zones}
    if isinstance(value, str) and value.strip().lower() in by_case:
        return by_case[value.strip().lower()]
    hints = closest(value.strip().upper(), zones, n=3) if isinstance(value, str) else []
    hint = f" (did you mean {', '.join(repr(h) for h in hints)}?)" if hints else ""
    raise ValueError(f"must be an Electricity Maps zone id of {datasets.default_name()}, "
                     f"such as \"FI\" or \"SE-SE3\", got {value!r}{hint}")


def _retired(value: Any) -> Any:
    raise ValueError("no longer read: every site's grid intensity comes from its grid_zone in "
                     "the plan's dataset (one methodology for every region; --carbon-data, "
                     "--carbon-source choose it); remove this field")


def _site_name(value: Any) -> str:
    if not isinstance(value, str) or not SITE_NAME.match(value):
        raise ValueError("must be 1-63 letters, digits, '.', '_' or '-', starting with a "
                         f"letter or digit, got {value!r}")
    return value


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"must be a list of names, got {value!r}")
    return tuple(v.strip() for v in value)


@attrs.frozen
class Field:
    """One inventory field: its checker, whether a site must give it, and what it is."""

    check: Callable[[Any], Any]
    required: bool = False
    help: str = ""


#: Every field a site may give, each checked where it is read.
FIELDS: dict[str, Field] = {
    "name": Field(_site_name, True, "the site's name, shown as its region"),
    "location": Field(_text, True, "where the site is, e.g. \"Espoo, Finland\""),
    "country": Field(_country, True, "ISO 3166-1 alpha-2 code"),
    "latitude": Field(_number(-90, 90)),
    "longitude": Field(_number(-180, 180)),
    "grid_zone": Field(_grid_zone, True, "the site's Electricity Maps zone id, e.g. \"FI\"; "
                       "its intensity comes from the plan's dataset"),
    "pue": Field(_number(1.0, "max_pue"), True, "the datacenter's PUE (1.0 to max_pue)"),
    "pue_source": Field(_text, True, "where the PUE figure comes from"),
    "pue_year": Field(_year),
    "intensity_g_per_kwh": Field(_retired),
    "intensity_source": Field(_retired),
    "intensity_year": Field(_retired),
    "carbon_source": Field(_retired),
    "usd_per_accelerator_hour": Field(_number(above=0, high="max_usd_per_accelerator_hour")),
    "price_source": Field(_text),
    "price_year": Field(_year),
    "slurm_conf": Field(_text),
    "cluster": Field(_text),
    "partitions": Field(_names),
    "gres_types": Field(lambda v: v),
    "gpu_without_type": Field(_text),
}


def _site(inventory: Inventory, index: int, raw: Mapping[str, Any]) -> Site:
    prefix = f"sites[{index}]"
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in FIELDS:
            raise inventory.error(f"{prefix}.{key}", _unknown(key, list(FIELDS)))
        try:
            values[key] = FIELDS[key].check(value)
        except ValueError as exc:
            raise inventory.error(f"{prefix}.{key}", str(exc)) from None
    for key, spec in FIELDS.items():
        if spec.required and key not in values:
            raise inventory.error(f"{prefix}.{key}", f"missing: {spec.help}")
    if "slurm_conf" in values:
        conf = Path(values["slurm_conf"]).expanduser()
        if not conf.is_absolute() and inventory.path is not None:
            conf = inventory.path.parent / conf
        if not conf.is_file():
            raise inventory.error(f"{prefix}.slurm_conf", f"no such file: {conf}")
        values["slurm_conf"] = str(conf)
    values["gres_types"] = _gres_types(inventory, prefix, values.get("gres_types", {}))
    return Site(index=index, **values)


def _gres_types(inventory: Inventory, prefix: str, table: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(table, dict):
        raise inventory.error(f"{prefix}.gres_types", "must be a table of GRES type = "
                              f"\"greenml accelerator name\", got {table!r}")
    out = []
    for gres_type, accelerator in table.items():
        if not isinstance(accelerator, str) or not accelerator.strip():
            raise inventory.error(f"{prefix}.gres_types.{gres_type}", "must be a greenml "
                                  f"accelerator name such as \"A100\", got {accelerator!r}")
        out.append((gres_type, accelerator.strip()))
    return tuple(out)


# Finding the line a field is on: tomllib keeps no positions, so read the text again.

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")
_FIELD = re.compile(r"^sites\[(\d+)\](?:\.([^.]+)(?:\.(.+))?)?$")


def line_of(text: str, field: str) -> int:
    """The line of ``field`` (``sites[1].pue``, ``sites[0].gres_types.a100``, a top-level key)
    in ``text``: the key's own line, else its table's header, else the site's, else 1."""
    wanted = _FIELD.match(field)
    site_index, key, sub_key = ((int(wanted.group(1)), wanted.group(2), wanted.group(3))
                                if wanted else (None, field, None))
    site, table = -1, ""
    site_line: int | None = None
    fallback: int | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        header = _HEADER.match(raw)
        if header and not _KEY.match(raw):
            table = header.group(2).replace(" ", "").replace('"', "").replace("'", "")
            if header.group(1) == "[[" and table == "sites":
                site += 1
                if site == site_index:
                    site_line = number
            elif site == site_index and table == f"sites.{key}":
                fallback = number
            continue
        found = _KEY.match(raw)
        if not found:
            continue
        name = found.group(1).strip("\"'")
        if site_index is None:
            if table == "" and name == key:
                return number
            continue
        if site != site_index:
            continue
        if table == "sites" and name == key:
            if sub_key is None:
                return number
            fallback = number
        elif table == f"sites.{key}" and name == sub_key:
            return number
    return fallback or site_line or 1
