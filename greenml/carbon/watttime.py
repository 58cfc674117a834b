"""WattTime API v3: marginal (MOER) intensity by default, in lb/MWh converted to g/kWh.

``/login`` with HTTP Basic gives a token (about 30 minutes), sent as ``Bearer``; on a 401 the
client logs in again, once. A region's WattTime region comes from package data
(``greenml/data/watttime_regions.csv``), else from ``/v3/region-from-loc`` with the region's
coordinates (cached). The token lives in memory only; the password and token are scrubbed
from every message.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from greenml.carbon import CarbonSource, Reading, settings, validate
from greenml.carbon.cache import DiskCache, cached_readings
from greenml.carbon.http import HttpClient, HttpError, basic_auth, debug, rejected
from greenml.errors import CarbonSourceError
from greenml.hookspecs import hookimpl
from greenml.model import Region
from greenml.scrub import holds_secret, register_basic, shown

DEFAULT_URL = "https://api.watttime.org"
#: 1 lb/MWh = 453.592 g / 1000 kWh.
G_PER_KWH_PER_LB_PER_MWH = 0.453592
UNITS = "lbs_co2_per_mwh"
SIGNAL_TYPES = {"co2_moer": "marginal", "co2_aoer": "average"}
MAX_HORIZON_HOURS = 72
REGION_LOOKUP_MAX_AGE_S = 30 * 86400.0
#: What a WattTime region code looks like (CAISO_NORTH, PJM_DC, DE): anything else in a
#: region-from-loc answer is refused, so an echoed secret can never become a zone or a cache entry.
REGION_CODE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
NOT_CONFIGURED = "not configured: set WATTTIME_USERNAME and WATTTIME_PASSWORD"


@functools.cache
def region_codes() -> dict[tuple[str, str], str]:
    """(provider, region) -> WattTime region, from ``greenml/data/watttime_regions.csv``."""
    from greenml.datafiles import rows

    return {(row["provider"], row["region"]): row["watttime_region"]
            for _, _, row in rows("greenml.data", "watttime_regions.csv")
            if row["watttime_region"]}


class WattTime(CarbonSource):
    """Forecast, history and latest readings per WattTime region.

    Arguments override the environment (``WATTTIME_USERNAME``, ``WATTTIME_PASSWORD``,
    ``WATTTIME_API_URL``, ``WATTTIME_SIGNAL_TYPE``); the signal type is fixed when the source
    is made, since a plan ranks one signal kind only.
    """

    name = "watttime"
    scope = "direct"

    def __init__(self, username: str | None = None, password: str | None = None,
                 url: str | None = None, signal_type: str | None = None) -> None:
        self._username = username
        self._password = password
        self._url = url
        self.signal_type = signal_type or settings.text("WATTTIME_SIGNAL_TYPE", "co2_moer")
        self.signal = SIGNAL_TYPES.get(self.signal_type, "marginal")
        self._token = ""
        self._token_owner: tuple[str, str] = ("", "")

    def _config(self) -> tuple[str, str, str]:
        return (self._username or settings.text("WATTTIME_USERNAME"),
                self._password or settings.text("WATTTIME_PASSWORD"),
                self._url or settings.text("WATTTIME_API_URL", DEFAULT_URL))

    def check_credentials(self) -> tuple[bool, str]:
        username, password, url = self._config()
        if self.signal_type not in SIGNAL_TYPES:
            return False, f"WATTTIME_SIGNAL_TYPE must be co2_moer or co2_aoer, got " \
                          f"{self.signal_type!r}"
        if not username or not password:
            return False, NOT_CONFIGURED
        return True, f"{self.signal_type} ({self.signal}) from {url}"

    def zone(self, region: Region) -> str:
        return region_codes().get((region.provider, region.name), "")

    def latest(self, region: Region) -> Reading | None:
        now = _now()
        found = self.history(region, now - timedelta(hours=1), now)
        if not found:
            return None
        return found[-1]

    def history(self, region: Region, start: datetime, end: datetime
                ) -> Sequence[Reading] | None:
        code = self._region_code(region)
        if not code:
            return None
        params = {"region": code, "signal_type": self.signal_type,
                  "start": _iso(start), "end": _iso(end)}
        bucket = f"{_minutes5(start)}/{_minutes5(end)}"
        return self._cached(code, "history", bucket, lambda: self._series(
            self._get("/v3/historical", params), code, "measured", "the history"))

    def forecast(self, region: Region, start: datetime, end: datetime | None = None
                 ) -> Sequence[Reading] | None:
        code = self._region_code(region)
        if not code:
            return None
        horizon = MAX_HORIZON_HOURS
        if end is not None:
            hours = math.ceil((end - _now()).total_seconds() / 3600)
            horizon = min(MAX_HORIZON_HOURS, max(1, hours))
        params = {"region": code, "signal_type": self.signal_type, "horizon_hours": horizon}
        return self._cached(code, "forecast", f"{_hour(_now())}/{horizon}", lambda: self._series(
            self._get("/v3/forecast", params), code, "forecast", "the forecast"))

    def _cached(self, code: str, kind: str, bucket: str, fetch: Any) -> list[Reading] | None:
        url = self._config()[2]
        return cached_readings((self.name, code, kind, bucket, self.signal_type, url), fetch)

    def _region_code(self, region: Region) -> str:
        code = self.zone(region)
        if code or region.latitude is None or region.longitude is None:
            return code
        url = self._config()[2]
        where = f"{region.latitude:.4f},{region.longitude:.4f}"
        key = (self.name, where, "region-from-loc", "", self.signal_type, url)
        cache = DiskCache()
        hit = cache.get(key, REGION_LOOKUP_MAX_AGE_S)
        if isinstance(hit, str):
            return hit
        try:
            data = self._get("/v3/region-from-loc", {
                "latitude": region.latitude, "longitude": region.longitude,
                "signal_type": self.signal_type})
        except HttpError as exc:
            if exc.status not in (400, 404):
                raise
            code = ""
        else:
            found = data.get("region") if isinstance(data, dict) else None
            if not isinstance(found, str) or not found:
                raise rejected(self.name, f"the region-from-loc answer for {where}",
                               "it names no region")
            if not re.fullmatch(REGION_CODE, found) or holds_secret(found):
                raise rejected(self.name, f"the region-from-loc answer for {where}",
                               f"{shown(found)} is not a WattTime region code")
            code = found
        cache.put(key, code)
        return code

    def _client(self) -> HttpClient:
        username, password, url = self._config()
        if not username or not password:
            raise CarbonSourceError(self.name, NOT_CONFIGURED)
        register_basic(username, password)
        return HttpClient(self.name, url,
                          secrets=(password, basic_auth(username, password), self._token))

    def _login(self, client: HttpClient) -> str:
        username, password, url = self._config()
        try:
            data = client.get_json("/login",
                                   headers={"Authorization": basic_auth(username, password)})
        except HttpError as exc:
            if exc.status in (401, 403):
                raise CarbonSourceError(
                    self.name, f"login refused (HTTP {exc.status}): check WATTTIME_USERNAME "
                    "and WATTTIME_PASSWORD") from None
            raise
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise rejected(self.name, "the /login answer", "it carries no token", scope="source")
        client.add_secret(token)
        if not token.isascii() or not token.isprintable():
            raise rejected(self.name, "the /login answer", "its token is not printable ASCII",
                           scope="source")
        self._token, self._token_owner = token, (username, url)
        debug("watttime: logged in")
        return token

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        client = self._client()
        username, _, url = self._config()
        token = self._token if self._token_owner == (username, url) else ""
        token = token or self._login(client)
        try:
            return client.get_json(path, params, headers={"Authorization": f"Bearer {token}"})
        except HttpError as exc:
            if exc.status != 401:
                raise
        debug("watttime: token refused (expired?); logging in again")
        self._token = ""
        token = self._login(client)
        try:
            return client.get_json(path, params, headers={"Authorization": f"Bearer {token}"})
        except HttpError as exc:
            if exc.status == 401:
                raise CarbonSourceError(self.name, f"a fresh token was refused on {path} "
                                        "(HTTP 401): check the account's access") from None
            raise

    def _series(self, data: Any, code: str, kind: str, what: str) -> list[Reading] | None:
        try:
            body = validate.mapping(data, "the response")
            meta = validate.mapping(body.get("meta"), "meta")
            points = validate.items(body.get("data"), "data")
            if meta.get("units") != UNITS:
                raise validate.Invalid(f"units are {shown(meta.get('units'))}, "
                                       f"expected {UNITS!r}")
            if meta.get("region") != code:
                raise validate.Invalid(f"it is for region {shown(meta.get('region'))}, "
                                       f"not {code!r}")
            if meta.get("signal_type") != self.signal_type:
                raise validate.Invalid(f"signal_type is {shown(meta.get('signal_type'))}, "
                                       f"asked for {self.signal_type!r}")
            period = meta.get("data_point_period_seconds")
            if isinstance(period, bool) or not isinstance(period, (int, float)) or period <= 0:
                raise validate.Invalid(f"data_point_period_seconds is {shown(period)}")
            readings = []
            for point in points:
                point = validate.mapping(point, "a data point")
                at = validate.when(point.get("point_time"), "point_time")
                value = point.get("value")
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    value = value * G_PER_KWH_PER_LB_PER_MWH
                g = validate.g_per_kwh(value, "value")
                readings.append(Reading(at, g, self.signal, kind, self.name, code,
                                        float(period)))
        except validate.Invalid as exc:
            raise rejected(self.name, f"{what} for {code}", str(exc)) from None
        readings.sort(key=lambda r: r.at)
        return readings or None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def _hour(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H")


def _minutes5(when: datetime) -> str:
    when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:") + f"{when.minute // 5 * 5:02d}"


@hookimpl
def greenml_carbon_sources() -> list[CarbonSource]:
    return [WattTime()]
