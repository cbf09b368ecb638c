"""Jiangsu's prefecture-level cities and their districts/counties, and the cells placed on them.

Coordinates are approximate county seats (WGS-84); populations are rounded census figures in
tens of thousands. They only need to be plausible: cells are placed in proportion to population.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROVINCE = "Jiangsu"

# city -> [(county, lat, lon, population in 10k)]
_COUNTIES: dict[str, list[tuple[str, float, float, int]]] = {
    "Nanjing": [
        ("Xuanwu", 32.05, 118.80, 54), ("Qinhuai", 32.03, 118.79, 74),
        ("Jianye", 32.00, 118.73, 53), ("Gulou", 32.07, 118.77, 94),
        ("Pukou", 32.06, 118.63, 117), ("Qixia", 32.10, 118.91, 99),
        ("Yuhuatai", 31.99, 118.78, 61), ("Jiangning", 31.95, 118.84, 193),
        ("Liuhe", 32.32, 118.83, 95), ("Lishui", 31.65, 119.03, 49),
        ("Gaochun", 31.33, 118.88, 43),
    ],
    "Wuxi": [
        ("Liangxi", 31.57, 120.30, 97), ("Xishan", 31.55, 120.36, 72),
        ("Huishan", 31.68, 120.30, 70), ("Binhu", 31.53, 120.28, 70),
        ("Xinwu", 31.49, 120.37, 80), ("Jiangyin", 31.92, 120.28, 178),
        ("Yixing", 31.36, 119.82, 129),
    ],
    "Xuzhou": [
        ("Gulou", 34.29, 117.19, 70), ("Yunlong", 34.25, 117.25, 50),
        ("Jiawang", 34.44, 117.45, 45), ("Quanshan", 34.24, 117.19, 60),
        ("Tongshan", 34.18, 117.17, 123), ("Feng", 34.70, 116.60, 92),
        ("Pei", 34.72, 116.94, 108), ("Suining", 33.91, 117.95, 110),
        ("Xinyi", 34.37, 118.35, 94), ("Pizhou", 34.31, 117.96, 146),
    ],
    "Changzhou": [
        ("Tianning", 31.78, 119.97, 62), ("Zhonglou", 31.80, 119.90, 60),
        ("Xinbei", 31.83, 119.97, 80), ("Wujin", 31.70, 119.94, 171),
        ("Jintan", 31.72, 119.57, 58), ("Liyang", 31.42, 119.48, 79),
    ],
    "Suzhou": [
        ("Gusu", 31.31, 120.62, 92), ("Huqiu", 31.30, 120.57, 83),
        ("Wuzhong", 31.26, 120.63, 139), ("Xiangcheng", 31.37, 120.64, 89),
        ("Wujiang", 31.16, 120.65, 154), ("Changshu", 31.65, 120.75, 168),
        ("Zhangjiagang", 31.88, 120.56, 143), ("Kunshan", 31.38, 120.98, 209),
        ("Taicang", 31.46, 121.13, 83),
    ],
    "Nantong": [
        ("Chongchuan", 32.00, 120.86, 105), ("Tongzhou", 32.07, 121.07, 114),
        ("Haimen", 31.87, 121.18, 89), ("Rudong", 32.33, 121.19, 87),
        ("Qidong", 31.81, 121.66, 92), ("Rugao", 32.37, 120.57, 124),
        ("Hai'an", 32.53, 120.47, 87),
    ],
    "Lianyungang": [
        ("Lianyun", 34.76, 119.34, 40), ("Haizhou", 34.57, 119.16, 112),
        ("Ganyu", 34.84, 119.15, 89), ("Donghai", 34.54, 118.77, 91),
        ("Guanyun", 34.28, 119.24, 77), ("Guannan", 34.09, 119.32, 60),
    ],
    "Huai'an": [
        ("Qingjiangpu", 33.55, 119.03, 77), ("Huai'an", 33.50, 119.15, 92),
        ("Huaiyin", 33.63, 119.03, 74), ("Hongze", 33.29, 118.87, 29),
        ("Lianshui", 33.78, 119.26, 82), ("Xuyi", 32.99, 118.55, 59),
        ("Jinhu", 33.02, 119.02, 27),
    ],
    "Yancheng": [
        ("Tinghu", 33.39, 120.14, 79), ("Yandu", 33.34, 120.15, 70),
        ("Dafeng", 33.20, 120.47, 62), ("Xiangshui", 34.20, 119.58, 50),
        ("Binhai", 33.99, 119.82, 80), ("Funing", 33.76, 119.80, 82),
        ("Sheyang", 33.77, 120.26, 73), ("Jianhu", 33.46, 119.80, 61),
        ("Dongtai", 32.85, 120.32, 91),
    ],
    "Yangzhou": [
        ("Guangling", 32.39, 119.43, 57), ("Hanjiang", 32.38, 119.40, 73),
        ("Jiangdu", 32.43, 119.57, 93), ("Baoying", 33.24, 119.31, 71),
        ("Yizheng", 32.27, 119.18, 53), ("Gaoyou", 32.78, 119.46, 69),
    ],
    "Zhenjiang": [
        ("Jingkou", 32.20, 119.47, 44), ("Runzhou", 32.20, 119.41, 32),
        ("Dantu", 32.13, 119.44, 35), ("Danyang", 32.00, 119.61, 98),
        ("Yangzhong", 32.24, 119.80, 34), ("Jurong", 31.94, 119.17, 65),
    ],
    "Taizhou": [
        ("Hailing", 32.49, 119.92, 67), ("Gaogang", 32.32, 119.88, 30),
        ("Jiangyan", 32.51, 120.13, 77), ("Xinghua", 32.91, 119.85, 112),
        ("Jingjiang", 32.02, 120.28, 67), ("Taixing", 32.17, 120.05, 98),
    ],
    "Suqian": [
        ("Sucheng", 33.96, 118.28, 76), ("Suyu", 33.94, 118.33, 62),
        ("Shuyang", 34.11, 118.77, 167), ("Siyang", 33.72, 118.70, 93),
        ("Sihong", 33.46, 118.22, 100),
    ],
}

# Two-letter city codes used in channel and staff identifiers (as BSS systems abbreviate them).
CITY_CODES: dict[str, str] = {
    "Nanjing": "NJ", "Wuxi": "WX", "Xuzhou": "XZ", "Changzhou": "CZ", "Suzhou": "SZ",
    "Nantong": "NT", "Lianyungang": "LY", "Huai'an": "HA", "Yancheng": "YC",
    "Yangzhou": "YZ", "Zhenjiang": "ZJ", "Taizhou": "TZ", "Suqian": "SQ",
}

# Landline area codes of the cities (spoofers present these as well as mobile numbers).
AREA_CODES: dict[str, str] = {
    "Nanjing": "25", "Wuxi": "510", "Xuzhou": "516", "Changzhou": "519", "Suzhou": "512",
    "Nantong": "513", "Lianyungang": "518", "Huai'an": "517", "Yancheng": "515",
    "Yangzhou": "514", "Zhenjiang": "511", "Taizhou": "523", "Suqian": "527",
}

CITIES: tuple[str, ...] = tuple(_COUNTIES)


@dataclass(frozen=True)
class Counties:
    """The county table as arrays (index = county number)."""

    name: np.ndarray  # object (str)
    city: np.ndarray  # int16 index into CITIES
    lat: np.ndarray
    lon: np.ndarray
    population: np.ndarray  # float64, 10k people

    def __len__(self) -> int:
        return len(self.name)


@dataclass(frozen=True)
class Cells:
    """The radio cells: ids, positions and the county each one serves."""

    cell_id: np.ndarray  # object (str)
    lat: np.ndarray
    lon: np.ndarray
    county: np.ndarray  # int32 index into Counties
    city: np.ndarray  # int16 index into CITIES

    def __len__(self) -> int:
        return len(self.cell_id)


def counties() -> Counties:
    """Jiangsu's district/county table."""
    rows = [(c, i, r) for i, c in enumerate(CITIES) for r in _COUNTIES[c]]
    return Counties(
        name=np.array([r[0] for _, _, r in rows], dtype=object),
        city=np.array([i for _, i, _ in rows], dtype=np.int16),
        lat=np.array([r[1] for _, _, r in rows]),
        lon=np.array([r[2] for _, _, r in rows]),
        population=np.array([r[3] for _, _, r in rows], dtype=np.float64),
    )


def place_cells(rng: np.random.Generator, table: Counties, n_cells: int) -> Cells:
    """Place ``n_cells`` cells over the counties in proportion to population (at least 3 each)."""
    share = table.population / table.population.sum()
    per = np.maximum(3, np.floor(share * n_cells).astype(np.int64))
    county = np.repeat(np.arange(len(table), dtype=np.int32), per)
    n = len(county)
    # Cells cluster around the county seat; spread grows a little with population.
    spread = 0.03 + 0.03 * np.sqrt(share[county] / share.max())
    lat = table.lat[county] + rng.normal(0.0, 1.0, n) * spread
    lon = table.lon[county] + rng.normal(0.0, 1.0, n) * spread
    enb = rng.choice(np.arange(100_000, 999_999), size=n, replace=False)
    sector = rng.integers(1, 4, n)
    ids = np.array([f"460-00-{e}-{s}" for e, s in zip(enb, sector, strict=True)], dtype=object)
    order = np.argsort(ids)  # ids carry no hint of county order
    return Cells(
        cell_id=ids[order],
        lat=np.round(lat[order], 5),
        lon=np.round(lon[order], 5),
        county=county[order],
        city=table.city[county[order]],
    )
