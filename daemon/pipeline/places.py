"""GPS -> place names (country, region, city) offline, from the GeoNames cities bundled with `reverse_geocode`.

Optional extra `places`; without it the engine says once what to install and photos simply have no place.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daemon.config import Config

log = logging.getLogger("image_engine.places")

INSTALL_HINT = "place names from GPS need the 'places' extra: pip install 'image-engine[places]'"
GAZETTEER = "GeoNames cities1000 (CC BY 4.0) via reverse_geocode"
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Place:
    country: str | None
    country_code: str | None
    region: str | None
    city: str | None
    distance_km: float  # from the photo to the gazetteer point named as its city

    def to_json(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "country_code": self.country_code,
            "region": self.region,
            "city": self.city,
            "distance_km": self.distance_km,
            "gazetteer": GAZETTEER,
        }


class Gazetteer:
    """Loads the bundled city list on first use (about 1.5 s, once per process) and answers nearest-city look-ups."""

    def __init__(self, max_km: float):
        self.max_km = max_km
        self._lock = threading.Lock()
        self._module: Any = None
        self._missing: str | None = None
        self._warned = False
        self._warm = False

    @property
    def warm(self) -> bool:
        """The city list and its k-d tree are in memory (or the extra is missing): a look-up costs ~0.3 ms."""
        return self._warm or self._missing is not None

    def warm_up(self) -> None:
        """Load the list and build the tree now (1.5-4 s), before a probe batch touches any file."""
        module = self._load()
        if module is not None and not self._warm:
            with self._lock:
                module.get((0.0, 0.0))
        self._warm = True

    def missing(self) -> str | None:
        """Why look-ups cannot work (the extra is not installed), or None."""
        self._load()
        return self._missing

    def _load(self) -> Any:
        with self._lock:
            if self._module is None and self._missing is None:
                try:
                    import reverse_geocode
                except ImportError:
                    self._missing = INSTALL_HINT
                else:
                    self._module = reverse_geocode
            return self._module

    def lookup(self, lat: float | None, lon: float | None) -> Place | None:
        """The nearest city within max_km; None without GPS, at 0,0 (no fix), far from any town, or without the extra."""
        if lat is None or lon is None or (lat == 0 and lon == 0):
            return None
        module = self._load()
        if module is None:
            if not self._warned:
                self._warned = True
                log.warning(INSTALL_HINT, extra={"event": "places_unavailable", "detail": INSTALL_HINT})
            return None
        with self._lock:  # the shared k-d tree is built on the first query
            found = module.get((lat, lon))
        distance = round(distance_km(lat, lon, found["latitude"], found["longitude"]), 1)
        if distance > self.max_km:
            return None
        return Place(
            country=found.get("country") or None,
            country_code=found.get("country_code") or None,
            region=found.get("state") or None,
            city=found.get("city") or None,
            distance_km=distance,
        )


def places_from(config: Config) -> Gazetteer | None:
    return Gazetteer(config.places.max_km) if config.places.enabled else None


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
