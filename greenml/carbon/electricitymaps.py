"""Electricity Maps API v3: average (location-based) intensity, lifecycle or direct factors.

The zone of a region is its catalog ``grid_zone`` (an Electricity Maps zone id). The token
travels only in the ``auth-token`` header and is scrubbed from every message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from greenml.carbon import CarbonSource, Reading, settings, validate
from greenml.carbon.cache import cached_readings
from greenml.carbon.http import HttpClient, rejected
from greenml.errors import CarbonSourceError
from greenml.hookspecs import hookimpl
from greenml.model import Region
from greenml.scrub import shown

DEFAULT_URL = "https://api.electricitymap.org/v3"
FACTOR_TYPES = ("lifecycle", "direct")
PERIOD_S = 3600.0
NOT_CONFIGURED = "not configured: set ELECTRICITYMAPS_API_TOKEN"


class ElectricityMaps(CarbonSource):
    """Latest, history (24 h, or a past range) and forecast per Electricity Maps zone.

    Arguments override the environment (``ELECTRICITYMAPS_API_TOKEN``,
    ``ELECTRICITYMAPS_API_URL``, ``ELECTRICITYMAPS_EMISSION_FACTOR_TYPE``).
    """

    name = "electricitymaps"
    signal = "average"
    scope = "lifecycle"

    def __init__(self, token: str | None = None, url: str | None = None,
                 emission_factor_type: str | None = None) -> None:
        self._token = token
        self._url = url
        self._factor = emission_factor_type

    def _config(self) -> tuple[str, str, str]:
        token = self._token or settings.text("ELECTRICITYMAPS_API_TOKEN")
        url = self._url or settings.text("ELECTRICITYMAPS_API_URL", DEFAULT_URL)
        factor = self._factor or settings.text("ELECTRICITYMAPS_EMISSION_FACTOR_TYPE",
                                               "lifecycle")
        return token, url, factor

    def figure_scope(self) -> str:
        return self._config()[2]

    def check_credentials(self) -> tuple[bool, str]:
        token, url, factor = self._config()
        if not token:
            return False, NOT_CONFIGURED
        if factor not in FACTOR_TYPES:
            return False, (f"ELECTRICITYMAPS_EMISSION_FACTOR_TYPE must be lifecycle or direct, "
                           f"got {factor!r}")
        return True, f"{factor} emission factors from {url}"

    def latest(self, region: Region) -> Reading | None:
        zone = region.grid_zone
        if not zone:
            return None
        found = self._cached(zone, "latest", _hour(_now()), lambda: [self._latest(zone)])
        return found[-1] if found else None

    def history(self, region: Region, start: datetime, end: datetime
                ) -> Sequence[Reading] | None:
        zone = region.grid_zone
        if not zone:
            return None
        recent = start >= _now() - timedelta(hours=24, minutes=5)
        bucket = f"{_hour(_now())}" if recent else f"{_hour(start)}/{_hour(end)}"
        first = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
        found = self._cached(zone, "history", bucket,
                             lambda: self._history(zone, None if recent else (first, end)))
        if found is None:
            return None
        # every hour that overlaps start to end, the one that holds start included
        return [r for r in found if r.at < end and r.at_s + r.period_s > start.timestamp()
                ] or None

    def forecast(self, region: Region, start: datetime, end: datetime | None = None
                 ) -> Sequence[Reading] | None:
        zone = region.grid_zone
        if not zone:
            return None
        return self._cached(zone, "forecast", _hour(_now()), lambda: self._forecast(zone))

    def _cached(self, zone: str, kind: str, bucket: str, fetch: Any) -> list[Reading] | None:
        _, url, factor = self._config()
        return cached_readings((self.name, zone, kind, bucket, factor, url), fetch)

    def _get(self, path: str, zone: str, extra: dict[str, str] | None = None) -> Any:
        token, url, factor = self._config()
        if not token:
            raise CarbonSourceError(self.name, NOT_CONFIGURED)
        client = HttpClient(self.name, url, secrets=(token,))
        params = {"zone": zone, "emissionFactorType": factor, **(extra or {})}
        return client.get_json(path, params, headers={"auth-token": token})

    def _latest(self, zone: str) -> Reading | None:
        data = self._get("/carbon-intensity/latest", zone)
        try:
            return self._reading(validate.mapping(data, "the response"), zone, "measured")
        except validate.Invalid as exc:
            raise rejected(self.name, f"the latest reading for {zone}", str(exc)) from None

    def _history(self, zone: str, span: tuple[datetime, datetime] | None) -> list[Reading] | None:
        if span is None:
            data, field = self._get("/carbon-intensity/history", zone), "history"
        else:
            data, field = self._get("/carbon-intensity/past-range", zone, {
                "start": span[0].isoformat(), "end": span[1].isoformat()}), "data"
        try:
            body = validate.mapping(data, "the response")
            self._check_zone(body, zone)
            found = [self._reading(validate.mapping(item, f"{field} item"), zone, "measured",
                                   allow_null=True)
                     for item in validate.items(body.get(field), field)]
        except validate.Invalid as exc:
            raise rejected(self.name, f"the history for {zone}", str(exc)) from None
        readings = sorted((r for r in found if r is not None), key=lambda r: r.at)
        return readings or None

    def _forecast(self, zone: str) -> list[Reading] | None:
        data = self._get("/carbon-intensity/forecast", zone)
        try:
            body = validate.mapping(data, "the response")
            self._check_zone(body, zone)
            found = [self._reading(validate.mapping(item, "forecast item"), zone, "forecast")
                     for item in validate.items(body.get("forecast"), "forecast")]
        except validate.Invalid as exc:
            raise rejected(self.name, f"the forecast for {zone}", str(exc)) from None
        readings = sorted((r for r in found if r is not None), key=lambda r: r.at)
        return readings or None

    @staticmethod
    def _check_zone(body: dict[str, Any], zone: str) -> None:
        if body.get("zone") != zone:
            raise validate.Invalid(f"it is for zone {shown(body.get('zone'))}, not {zone!r}")

    def _reading(self, item: dict[str, Any], zone: str, kind: str, allow_null: bool = False
                 ) -> Reading | None:
        if "zone" in item and item["zone"] != zone:
            raise validate.Invalid(f"an item is for zone {shown(item['zone'])}, not {zone!r}")
        factor = self._config()[2]
        got = item.get("emissionFactorType")
        if got is not None and got != factor:
            raise validate.Invalid(f"emissionFactorType is {shown(got)}, asked for {factor!r}")
        if "carbonIntensity" not in item:
            raise validate.Invalid("an item has no carbonIntensity")
        if item["carbonIntensity"] is None and allow_null:
            return None
        value = validate.g_per_kwh(item["carbonIntensity"], "carbonIntensity")
        at = validate.when(item.get("datetime"), "datetime")
        return Reading(at, value, "average", kind, self.name, zone, PERIOD_S)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _hour(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H")


@hookimpl
def greenml_carbon_sources() -> list[CarbonSource]:
    return [ElectricityMaps()]
