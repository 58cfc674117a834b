"""The catalog's offers as columns, with an ``Offer`` object made only for a row that is read.

A plan ranks thousands of offers on numpy columns and shows ten, so building (and validating)
an attrs object per offer on every run is most of what a cold ``greenml plan`` used to do.
``OfferTable`` keeps the offers column by column (text as a table of distinct values and a
code per row, numbers as floats with None for unknown) and is a ``Sequence[Offer]``:
``table[i]`` builds row ``i``'s ``Offer`` on first read and keeps it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from greenml.errors import PluginError
from greenml.model import Offer

if TYPE_CHECKING:
    import numpy as np

#: Text columns besides (provider, region), each a table of distinct values and a code per row.
TEXT = ("instance_type", "accelerator", "price_basis", "price_source", "price_date")
#: Number columns, None where unknown (``accelerators_per_instance`` and ``max_instances``
#: are whole numbers, kept as floats like the rest and made ints when a row is built).
NUMBERS = ("accelerators_per_instance", "vcpus", "memory_gb", "ondemand_usd_per_hour",
           "spot_usd_per_hour", "max_instances")
WHOLE = ("accelerators_per_instance", "max_instances")

Coded = tuple[tuple[Any, ...], list[int]]


class OfferTable(Sequence[Offer]):
    """Offers by column; a row's ``Offer`` is built when it is read (and kept).

    ``places`` are the distinct (provider, region) pairs, ``place`` a code per row into them;
    ``text`` maps each of ``TEXT`` to (distinct values, code per row); ``numbers`` maps each
    of ``NUMBERS`` to a value per row.
    """

    __slots__ = ("_built", "numbers", "place", "places", "text")

    def __init__(self, places: Sequence[tuple[str, str]], place: list[int],
                 text: dict[str, Coded], numbers: dict[str, list[float | None]],
                 built: list[Offer | None] | None = None) -> None:
        self.places = tuple(places)
        self.place = place
        self.text = text
        self.numbers = numbers
        self._built: list[Offer | None] = built if built is not None else [None] * len(place)
        lengths = {len(place), len(self._built), *(len(c) for _, c in text.values()),
                   *(len(v) for v in numbers.values())}
        if len(lengths) != 1 or set(text) != set(TEXT) or set(numbers) != set(NUMBERS):
            raise ValueError("an offer table needs every column, each with one value per row")

    @classmethod
    def from_offers(cls, offers: Iterable[Offer]) -> OfferTable:
        """The table of ``offers``; reading a row gives back the very object passed in."""
        rows = list(offers)
        places: dict[tuple[str, str], int] = {}
        place = [places.setdefault((o.provider, o.region), len(places)) for o in rows]
        text: dict[str, Coded] = {}
        for name in TEXT:
            distinct: dict[str, int] = {}
            codes = [distinct.setdefault(getattr(o, name), len(distinct)) for o in rows]
            text[name] = (tuple(distinct), codes)
        numbers = {name: [_float(getattr(o, name)) for o in rows] for name in NUMBERS}
        built: list[Offer | None] = list(rows)
        return cls(tuple(places), place, text, numbers, built)

    @classmethod
    def concat(cls, tables: Sequence[OfferTable]) -> OfferTable:
        """One table of every row of ``tables``, in order (rows built already stay built)."""
        if len(tables) == 1:
            return tables[0]
        places, place = _merge([(t.places, t.place) for t in tables])
        text = {name: _merge([t.text[name] for t in tables]) for name in TEXT}
        numbers = {name: [v for t in tables for v in t.numbers[name]] for name in NUMBERS}
        built = [o for t in tables for o in t._built]
        return cls(places, place, text, numbers, built)

    def __len__(self) -> int:
        return len(self.place)

    @overload
    def __getitem__(self, index: int) -> Offer: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Offer, ...]: ...

    def __getitem__(self, index: int | slice) -> Offer | tuple[Offer, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        offer = self._built[index]
        if offer is None:
            offer = self._built[index] = self._build(index)
        return offer

    def __iter__(self) -> Iterator[Offer]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"<OfferTable: {len(self)} offers, {self.materialized} built>"

    @property
    def materialized(self) -> int:
        """How many rows have an ``Offer`` object so far."""
        return sum(o is not None for o in self._built)

    def _build(self, i: int) -> Offer:
        provider, region = self.places[self.place[i]]
        values: dict[str, Any] = {name: values[codes[i]]
                                  for name, (values, codes) in self.text.items()}
        values.update((name, column[i]) for name, column in self.numbers.items())
        for name in WHOLE:
            values[name] = None if values[name] is None else int(values[name])
        return Offer(provider=provider, region=region, **values)

    def column(self, name: str) -> list[Any]:
        """One column's value per row (``provider``, ``region``, a TEXT or a NUMBERS name)."""
        if name in ("provider", "region"):
            which = 0 if name == "provider" else 1
            return [self.places[p][which] for p in self.place]
        if name in self.text:
            values, codes = self.text[name]
            return [values[c] for c in codes]
        return list(self.numbers[name])

    def arrays(self, accelerator_pos: dict[str, int], region_pos: dict[tuple[str, str], int]
               ) -> dict[str, np.ndarray]:
        """The columns a plan ranks on, as numpy arrays (``catalog.Columns``), without building
        a row: accelerator and region as positions in the catalog, prices NaN where unknown,
        ``max_instances`` infinite where unlimited."""
        import numpy as np

        acc_names, acc_codes = self.text["accelerator"]
        acc = np.array([accelerator_pos[a] for a in acc_names], dtype=np.int32)
        region = np.array([region_pos[p] for p in self.places], dtype=np.int32)
        max_instances = np.array(self.numbers["max_instances"], dtype=np.float64)
        return {
            "offer_accelerator": acc[np.array(acc_codes, dtype=np.intp)],
            "offer_region": region[np.array(self.place, dtype=np.intp)],
            "per_instance": np.array(self.numbers["accelerators_per_instance"],
                                     dtype=np.float64),
            "max_instances": np.where(np.isnan(max_instances), np.inf, max_instances),
            "ondemand_usd": np.array(self.numbers["ondemand_usd_per_hour"], dtype=np.float64),
            "spot_usd": np.array(self.numbers["spot_usd_per_hour"], dtype=np.float64),
        }


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def _merge(parts: Sequence[Coded]) -> Coded:
    """Several (distinct values, codes) columns as one, each value once."""
    distinct: dict[Any, int] = {}
    codes: list[int] = []
    for values, part in parts:
        remap = [distinct.setdefault(v, len(distinct)) for v in values]
        codes.extend(remap[c] for c in part)
    return tuple(distinct), codes


def checked(provider: str, offers: Sequence[Offer], regions: set[str],
            accelerators: set[str]) -> OfferTable:
    """A provider's offers as a table, each in one of its ``regions`` and on a known accelerator.

    A table is checked by its distinct values, without building a row; anything else offer by
    offer, as before tables. A PluginError names the first offer that is wrong.
    """
    if not isinstance(offers, OfferTable):
        offers = tuple(offers)
        for offer in offers:
            if not isinstance(offer, Offer) or offer.provider != provider:
                raise PluginError(f"{offer!r} is not an Offer of provider {provider!r}")
            _check(offer.instance_type, offer.region, offer.accelerator, regions, accelerators)
        return OfferTable.from_offers(offers)
    types, type_codes = offers.text["instance_type"]
    acc_names, acc_codes = offers.text["accelerator"]
    bad_places = {i for i, (p, r) in enumerate(offers.places) if p != provider or r not in regions}
    bad_accs = {i for i, a in enumerate(acc_names) if a not in accelerators}
    if bad_places or bad_accs:
        for i in range(len(offers)):
            if offers.place[i] in bad_places or acc_codes[i] in bad_accs:
                p, r = offers.places[offers.place[i]]
                if p != provider:
                    raise PluginError(f"offer {types[type_codes[i]]} in {p}/{r} is not an Offer "
                                      f"of provider {provider!r}")
                _check(types[type_codes[i]], r, acc_names[acc_codes[i]], regions, accelerators)
    return offers


def _check(instance_type: str, region: str, accelerator: str, regions: set[str],
           accelerators: set[str]) -> None:
    if region not in regions:
        raise PluginError(f"offer {instance_type} is in unknown region {region!r}")
    if accelerator not in accelerators:
        raise PluginError(f"offer {instance_type} names unknown accelerator {accelerator!r}")
