"""Jiangsu's districts and counties as drawn on the map page: the vendored GeoJSON
(``static/vendor/jiangsu-counties``, one file per prefecture-level city) merged into one
collection with names unique across the province (鼓楼区 is both Nanjing's and Xuzhou's), its
coordinates rounded to about 100 m for the browser, and the county a point lies in.

The store and the lake name counties as the operator's cells feed does (the simulator writes
pinyin, "Jiangning"), the GeoJSON in Chinese (江宁区): the names cannot be joined, so a cell is
placed in a county by its coordinates (ray casting against the county's rings, numpy)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FILES = Path(__file__).parent / "static" / "vendor" / "jiangsu-counties"
CHUNK = 512  # points tested against a ring at once (memory: CHUNK x its edges)
DIGITS = 3  # decimals kept for the browser: ~100 m, plenty for a province-wide map

# The first four digits of an administrative division code name the prefecture-level city.
CITIES = {
    "3201": "南京市",
    "3202": "无锡市",
    "3203": "徐州市",
    "3204": "常州市",
    "3205": "苏州市",
    "3206": "南通市",
    "3207": "连云港市",
    "3208": "淮安市",
    "3209": "盐城市",
    "3210": "扬州市",
    "3211": "镇江市",
    "3212": "泰州市",
    "3213": "宿迁市",
}


@dataclass(frozen=True)
class County:
    """One district or county: its code, its unique name, its rings (lon, lat arrays) and
    bounding box."""

    code: str
    name: str
    rings: tuple[tuple[np.ndarray, np.ndarray], ...]
    box: tuple[float, float, float, float]  # lon min, lat min, lon max, lat max

    def contains(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Which of the points lie inside (even-odd rule over all rings: holes stay out)."""
        inside = np.zeros(len(lon), dtype=bool)
        for xs, ys in self.rings:
            x0, y0, x1, y1 = xs[:-1], ys[:-1], xs[1:], ys[1:]
            keep = y0 != y1
            x0, y0, x1, y1 = x0[keep], y0[keep], x1[keep], y1[keep]
            slope = (x1 - x0) / (y1 - y0)
            for i in range(0, len(lon), CHUNK):  # points x edges, a chunk of points at a time
                px, py = lon[i : i + CHUNK, None], lat[i : i + CHUNK, None]
                crosses = (y0 > py) != (y1 > py)
                hits = crosses & (px < x0 + (py - y0) * slope)
                inside[i : i + CHUNK] ^= (hits.sum(axis=1) % 2).astype(bool)
        return inside


def _rounded(ring: Sequence[Sequence[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for lon, lat in ring:
        p = [round(lon, DIGITS), round(lat, DIGITS)]
        if not out or out[-1] != p:
            out.append(p)
    if out and out[0] != out[-1]:
        out.append(out[0])
    return out


def _polygons(geometry: dict[str, Any]) -> list[list[list[list[float]]]]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    return list(geometry["coordinates"])


class Counties:
    """The province's counties, loaded once from the vendored files."""

    def __init__(self, folder: Path = FILES) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._loaded: tuple[list[County], dict[str, Any]] | None = None

    def _load(self) -> tuple[list[County], dict[str, Any]]:
        with self._lock:
            if self._loaded is None:
                counties: list[County] = []
                features: list[dict[str, Any]] = []
                for f in sorted(self.folder.glob("*.geojson")):
                    for feat in json.loads(f.read_text(encoding="utf-8"))["features"]:
                        code = str(feat.get("id", ""))
                        name = CITIES.get(code[:4], "") + feat["properties"]["name"]
                        polys = [[_rounded(r) for r in p] for p in _polygons(feat["geometry"])]
                        polys = [[r for r in p if len(r) >= 4] for p in polys]
                        polys = [p for p in polys if p]
                        rings = tuple(
                            (np.array([c[0] for c in r]), np.array([c[1] for c in r]))
                            for p in polys
                            for r in p
                        )
                        lons = np.concatenate([r[0] for r in rings])
                        lats = np.concatenate([r[1] for r in rings])
                        counties.append(
                            County(
                                code,
                                name,
                                rings,
                                (
                                    float(lons.min()),
                                    float(lats.min()),
                                    float(lons.max()),
                                    float(lats.max()),
                                ),
                            )
                        )
                        features.append(
                            {
                                "type": "Feature",
                                "id": code,
                                "properties": {"name": name, "code": code},
                                "geometry": {"type": "MultiPolygon", "coordinates": polys},
                            }
                        )
                self._loaded = (counties, {"type": "FeatureCollection", "features": features})
            return self._loaded

    @property
    def all(self) -> list[County]:
        """Every county, in file order."""
        return self._load()[0]

    def geojson(self) -> dict[str, Any]:
        """The merged collection for the browser (names unique, coordinates rounded)."""
        return self._load()[1]

    def locate(self, points: Iterable[tuple[float, float]]) -> list[str]:
        """The name of the county each (lon, lat) point lies in ('' for none: off the coast,
        outside the province, or in a gap between rounded borders)."""
        pts = list(points)
        if not pts:
            return []
        lon = np.array([p[0] for p in pts], dtype=float)
        lat = np.array([p[1] for p in pts], dtype=float)
        out = np.full(len(pts), "", dtype=object)
        for c in self.all:
            x0, y0, x1, y1 = c.box
            near = np.flatnonzero(
                (out == "") & (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
            )
            if len(near):
                hit = c.contains(lon[near], lat[near])
                out[near[hit]] = c.name
        return [str(x) for x in out]
