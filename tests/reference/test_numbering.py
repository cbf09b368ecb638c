"""The compiled prefix table: its shape, its cache, and agreement with phonenumbers itself."""

from __future__ import annotations

import random
from pathlib import Path

import phonenumbers
import pyarrow as pa
import pytest
from phonenumbers import PhoneNumberType, carrier, geocoder

from telshield.domain.numbers import NumberingPlan, NumberKind, Operator, classify, normalise
from telshield.reference.numbering import (
    PLAN_SCHEMA,
    area_codes,
    build_plan_rows,
    load_plan_table,
    plan_from_table,
    plan_path,
    plan_summary,
    rows_to_table,
    split_place,
    valid_mobile_segments,
)

OPERATOR_NAMES = {
    "China Mobile": Operator.CHINA_MOBILE,
    "China Unicom": Operator.CHINA_UNICOM,
    "China Telecom": Operator.CHINA_TELECOM,
    "China Broadnet": Operator.CHINA_BROADNET,
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def table(data_dir: Path) -> pa.Table:
    return load_plan_table(data_dir)


@pytest.fixture(scope="module")
def plan(table: pa.Table) -> NumberingPlan:
    return plan_from_table(table)


def test_table_shape(table: pa.Table) -> None:
    assert table.schema == PLAN_SCHEMA
    assert table["row_id"].to_pylist() == list(range(table.num_rows))
    keys = list(zip(table["prefix"].to_pylist(), table["length"].to_pylist(), strict=True))
    assert len(set(keys)) == len(keys), "one row per (prefix, length)"
    assert all(p.isdigit() and len(p) <= n <= 15 for p, n in keys)
    assert set(table["kind"].to_pylist()) == {k.value for k in NumberKind} - {"invalid"}
    assert set(table["operator"].to_pylist()) == {o.value for o in Operator}
    assert sum(n for _, _, n in plan_summary(table)) == table.num_rows


@pytest.mark.parametrize(
    ("name", "place"),
    [
        ("Nanjing, Jiangsu", ("Jiangsu", "Nanjing")),
        ("Beijing", ("Beijing", "Beijing")),
        ("Shenyang/Tieling/Fushun/Benxi, Liaoning", ("Liaoning", "Shenyang/Tieling/Fushun/Benxi")),
        ("Hulunbuir, Inner Mongolia", ("Inner Mongolia", "Hulunbuir")),
        (None, (None, None)),
    ],
)
def test_split_place(name: str | None, place: tuple[str | None, str | None]) -> None:
    assert split_place(name) == place


def test_segments_come_from_the_mobile_pattern() -> None:
    segments = valid_mobile_segments()
    assert {"13", "18", "150", "192", "1610", "17400"} <= set(segments)
    assert not {"154", "140", "1611", "17406", "12"} & set(segments)


def test_area_codes() -> None:
    from phonenumbers.geodata import GEOCODE_DATA

    geo = {k[2:]: v["en"] for k, v in GEOCODE_DATA.items() if k.startswith("86")}
    areas = area_codes(geo)
    assert areas["25"] == "Nanjing, Jiangsu" and areas["10"] == "Beijing"
    assert areas["512"] == "Suzhou, Jiangsu" and areas["516"] == "Xuzhou, Jiangsu"
    assert "13" not in areas and "138" not in areas


@pytest.mark.parametrize(
    ("raw", "kind", "operator", "province", "city", "virtual"),
    [
        ("13812345678", NumberKind.MOBILE, Operator.CHINA_MOBILE, "Jiangsu", "Lianyungang", False),
        ("13012345678", NumberKind.MOBILE, Operator.CHINA_UNICOM, "Chongqing", "Chongqing", False),
        ("18012345678", NumberKind.MOBILE, Operator.CHINA_TELECOM, "Jiangsu", "Yangzhou", False),
        ("19212345678", NumberKind.MOBILE, Operator.CHINA_BROADNET, None, None, False),
        ("17051234567", NumberKind.MOBILE, Operator.CHINA_MOBILE, None, None, True),
        ("16512345678", NumberKind.MOBILE, Operator.CHINA_MOBILE, None, None, True),
        ("16212345678", NumberKind.MOBILE, Operator.CHINA_TELECOM, None, None, True),
        ("17112345678", NumberKind.MOBILE, Operator.CHINA_UNICOM, None, None, True),
        ("025-84001234", NumberKind.FIXED, Operator.UNKNOWN, "Jiangsu", "Nanjing", False),
        ("0516-83001234", NumberKind.FIXED, Operator.UNKNOWN, "Jiangsu", "Xuzhou", False),
        ("010-65123456", NumberKind.FIXED, Operator.UNKNOWN, "Beijing", "Beijing", False),
        ("0951-5012345", NumberKind.FIXED, Operator.UNKNOWN, "Ningxia", "Yinchuan", False),
        ("95588", NumberKind.SERVICE, Operator.UNKNOWN, None, None, False),
        ("95105888", NumberKind.SERVICE, Operator.UNKNOWN, None, None, False),
        ("10086", NumberKind.SERVICE, Operator.CHINA_MOBILE, None, None, False),
        ("10010", NumberKind.SERVICE, Operator.CHINA_UNICOM, None, None, False),
        ("10000", NumberKind.SERVICE, Operator.CHINA_TELECOM, None, None, False),
        ("10099", NumberKind.SERVICE, Operator.CHINA_BROADNET, None, None, False),
        ("110", NumberKind.SERVICE, Operator.UNKNOWN, None, None, False),
        ("12381", NumberKind.SERVICE, Operator.UNKNOWN, None, None, False),
        ("96110", NumberKind.SERVICE, Operator.UNKNOWN, None, None, False),
        ("4008001234", NumberKind.SERVICE, Operator.UNKNOWN, None, None, False),
        ("025-12345", NumberKind.SERVICE, Operator.UNKNOWN, "Jiangsu", "Nanjing", False),
        ("1069012345678", NumberKind.SERVICE, Operator.UNKNOWN, None, None, False),
        ("+852 9123 4567", NumberKind.INTERNATIONAL, Operator.UNKNOWN, None, None, False),
        ("+1 202 555 0123", NumberKind.INTERNATIONAL, Operator.UNKNOWN, None, None, False),
        ("15412345678", NumberKind.INVALID, Operator.UNKNOWN, None, None, False),  # unallocated
        ("1381234567", NumberKind.INVALID, Operator.UNKNOWN, None, None, False),  # 10 digits
        ("025-0123456", NumberKind.INVALID, Operator.UNKNOWN, None, None, False),  # local 0...
        ("+852 1", NumberKind.INVALID, Operator.UNKNOWN, None, None, False),
        ("+999 12345678", NumberKind.INVALID, Operator.UNKNOWN, None, None, False),
    ],
)
def test_every_operator_and_kind(
    plan: NumberingPlan, raw: str, kind: NumberKind, operator: Operator,
    province: str | None, city: str | None, virtual: bool,
) -> None:
    number = normalise(raw)
    assert number is not None
    info = classify(number, plan)
    assert (info.kind, info.operator, info.province, info.city, info.virtual) == (
        kind, operator, province, city, virtual
    )


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def test_mobiles_agree_with_phonenumbers(plan: NumberingPlan) -> None:
    rng = random.Random(7)
    for _ in range(4000):
        number = f"861{rng.randint(3, 9)}{_digits(rng, 9)}"
        parsed = phonenumbers.parse("+" + number)
        info = classify(number, plan)
        assert (info.kind is NumberKind.MOBILE) == phonenumbers.is_valid_number(parsed), number
        if info.kind is NumberKind.MOBILE:
            name = carrier.name_for_number(parsed, "en")
            if name:
                assert info.operator is OPERATOR_NAMES[name], number
            place = geocoder.description_for_number(parsed, "en")
            expected = split_place(place) if place and place != "China" else (None, None)
            assert (info.province, info.city) == expected, number


def test_fixed_lines_agree_with_phonenumbers(plan: NumberingPlan) -> None:
    rng = random.Random(11)
    areas = ["10", "20", "21", "25", "28", "311", "512", "516", "571", "755", "951", "991", "335"]
    for _ in range(4000):
        area = rng.choice(areas)
        number = "86" + area + _digits(rng, rng.choice([7, 8]))
        parsed = phonenumbers.parse("+" + number)
        fixed = phonenumbers.number_type(parsed) in (
            PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE
        )
        info = classify(number, plan)
        assert (info.kind is NumberKind.FIXED) == fixed, number
        if fixed:
            province, _ = split_place(geocoder.description_for_number(parsed, "en"))
            assert info.province == province, number


def test_plan_is_cached_in_the_data_dir(data_dir: Path, table: pa.Table) -> None:
    path = plan_path(data_dir)
    assert path.is_file() and path.is_relative_to(data_dir)
    stamp = path.stat().st_mtime_ns
    assert load_plan_table(data_dir).equals(table)
    assert path.stat().st_mtime_ns == stamp, "read from the cache, not rebuilt"
    assert not list(path.parent.glob(".*.tmp")), "no temporary file left behind"


def test_cached_table_equals_a_fresh_build(table: pa.Table) -> None:
    assert rows_to_table(build_plan_rows()).equals(table)
