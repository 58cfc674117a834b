"""The UK carbon intensity API (National Grid ESO): average intensity for Great Britain.

No key. Half-hour periods; national figures have a measured ``actual`` for past periods,
regional ones only the forecast. A region with a DNO region id in
``greenml/data/uk_regions.csv`` gets the regional series, any other GB region the national one.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from greenml.carbon import CarbonSource, Reading, settings, validate
from greenml.carbon.cache import cached_readings
from greenml.carbon.http import HttpClient, rejected
from greenml.hookspecs import hookimpl
from greenml.model import Region
from greenml.scrub import shown

DEFAULT_URL = "https://api.carbonintensity.org.uk"
PERIOD_S = 1800.0
INDEXES = ("very low", "low", "moderate", "high", "very high")


@functools.cache
def region_ids() -> dict[tuple[str, str], int]:
    """(provider, region) -> DNO region id, from ``greenml/data/uk_regions.csv``."""
    from greenml.datafiles import rows

    return {(row["provider"], row["region"]): int(row["uk_regionid"])
            for _, _, row in rows("greenml.data", "uk_regions.csv") if row["uk_regionid"]}


class UKCarbonIntensity(CarbonSource):
    """Latest, history and 48-hour forecast for regions in Great Britain (country GB).

    ``national=True`` uses the national series for every region; ``url`` overrides
    ``GREENML_UK_CARBON_API_URL``.
    """

    name = "uk-carbon-intensity"
    signal = "average"
    scope = "direct"

    def __init__(self, url: str | None = None, national: bool = False) -> None:
        self._url = url
        self.national = national

    def _base(self) -> str:
        return self._url or settings.text("GREENML_UK_CARBON_API_URL", DEFAULT_URL)

    def check_credentials(self) -> tuple[bool, str]:
        return True, f"no key needed; regions in Great Britain only; {self._base()}"

    def _region_id(self, region: Region) -> int | None:
        return None if self.national else region_ids().get((region.provider, region.name))

    def zone(self, region: Region) -> str:
        if region.country != "GB":
            return ""
        rid = self._region_id(region)
        return f"GB regionid {rid}" if rid else "GB"

    def latest(self, region: Region) -> Reading | None:
        if region.country != "GB":
            return None
        rid = self._region_id(region)
        path = f"/regional/regionid/{rid}" if rid else "/intensity"
        found = self._cached(rid, "latest", _half_hour(_now()),
                             lambda: self._periods(path, rid, "the latest reading"))
        return found[-1] if found else None

    def history(self, region: Region, start: datetime, end: datetime
                ) -> Sequence[Reading] | None:
        if region.country != "GB":
            return None
        rid = self._region_id(region)
        span = f"{_half_hour(start)}/{_half_hour(end)}"
        path = f"/regional/intensity/{span}/regionid/{rid}" if rid else f"/intensity/{span}"
        found = self._cached(rid, "history", span,
                             lambda: self._periods(path, rid, "the history", past=True))
        return found

    def forecast(self, region: Region, start: datetime, end: datetime | None = None
                 ) -> Sequence[Reading] | None:
        if region.country != "GB":
            return None
        rid = self._region_id(region)
        begin = _half_hour(max(start, _now()))
        path = (f"/regional/intensity/{begin}/fw48h/regionid/{rid}" if rid
                else f"/intensity/{begin}/fw48h")
        return self._cached(rid, "forecast", begin,
                            lambda: self._periods(path, rid, "the forecast", future=True))

    def _cached(self, rid: int | None, kind: str, bucket: str, fetch: Any
                ) -> list[Reading] | None:
        zone = f"regionid-{rid}" if rid else "national"
        return cached_readings((self.name, zone, kind, bucket, self._base()), fetch)

    def _periods(self, path: str, rid: int | None, what: str, past: bool = False,
                 future: bool = False) -> list[Reading] | None:
        data = HttpClient(self.name, self._base()).get_json(path)
        zone = f"GB regionid {rid}" if rid else "GB"
        try:
            body = validate.mapping(data, "the response")
            periods = self._regional(body, rid) if rid else validate.items(body.get("data"),
                                                                           "data")
            readings = []
            for period in periods:
                reading = self._reading(validate.mapping(period, "a period"), zone,
                                        measured=not rid and not future, skip_null=past)
                if reading is not None:
                    readings.append(reading)
        except validate.Invalid as exc:
            raise rejected(self.name, f"{what} for {zone}", str(exc)) from None
        readings.sort(key=lambda r: r.at)
        return readings or None

    @staticmethod
    def _regional(body: dict[str, Any], rid: int) -> list[Any]:
        """The periods of one region: ``data`` is that region (or a list of one), nesting them."""
        data = body.get("data")
        if isinstance(data, list):
            if len(data) != 1:
                raise validate.Invalid(f"data holds {len(data)} regions, expected one")
            data = data[0]
        region = validate.mapping(data, "data")
        if region.get("regionid") != rid:
            raise validate.Invalid(f"it is for regionid {shown(region.get('regionid'))}, "
                                   f"not {rid}")
        return validate.items(region.get("data"), "the region's data")

    def _reading(self, period: dict[str, Any], zone: str, measured: bool, skip_null: bool
                 ) -> Reading | None:
        start = validate.when(period.get("from"), "from")
        end = validate.when(period.get("to"), "to")
        if (end - start).total_seconds() != PERIOD_S:
            raise validate.Invalid(f"a period runs {period.get('from')} to {period.get('to')}, "
                                   "not half an hour")
        intensity = validate.mapping(period.get("intensity"), "intensity")
        index = intensity.get("index")
        if index is not None and index not in INDEXES:
            raise validate.Invalid(f"index {shown(index)} is not one of {', '.join(INDEXES)}")
        actual = intensity.get("actual") if measured else None
        if actual is not None:
            return Reading(start, validate.g_per_kwh(actual, "actual"), "average", "measured",
                           self.name, zone, PERIOD_S)
        if intensity.get("forecast") is None and skip_null:
            return None
        value = validate.g_per_kwh(intensity.get("forecast"), "forecast")
        return Reading(start, value, "average", "forecast", self.name, zone, PERIOD_S)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _half_hour(when: datetime) -> str:
    """``YYYY-MM-DDThh:mmZ`` at the start of the half hour holding ``when``."""
    when = when.astimezone(timezone.utc)
    when -= timedelta(minutes=when.minute % 30, seconds=when.second,
                      microseconds=when.microsecond)
    return when.strftime("%Y-%m-%dT%H:%MZ")


@hookimpl
def greenml_carbon_sources() -> list[CarbonSource]:
    return [UKCarbonIntensity()]
