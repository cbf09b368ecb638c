"""The numbering plan as one prefix table, compiled from the ``phonenumbers`` metadata.

Sources, all for +86 unless said otherwise:

- ``phonenumbers.carrierdata``: mobile segment -> operator (86+2..4 digits, e.g. 86138);
- ``phonenumbers.geodata``: mobile H-codes -> city (86+4..7 digits, e.g. 861380000) and fixed-line
  area codes -> city (8610, 8625, 86512, ...), "Nanjing, Jiangsu" read as city, province;
- ``telshield.domain.numbers``: virtual-operator segments, national and local service numbers;
- ``phonenumbers`` region metadata: every other country code with its possible number lengths.

Each row admits numbers of exactly ``length`` digits starting with ``prefix``; a number's row is
the longest prefix that admits its length (``telshield.domain.numbers.NumberingPlan``). The table
is built once per ``phonenumbers`` version and cached as Parquet under the data directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import structlog

from telshield.domain.errors import Unavailable
from telshield.domain.numbers import (
    CHINA,
    LOCAL_SERVICE_RANGES,
    MAX_DIGITS,
    OPERATOR_SERVICE,
    SERVICE_NUMBERS,
    SERVICE_RANGES,
    VIRTUAL_SEGMENTS,
    NumberingPlan,
    NumberKind,
    Operator,
    PlanRow,
)

log = structlog.get_logger(__name__)

PLAN_FORMAT = 1  # bump when the rules below change, so cached tables are rebuilt
MOBILE_LENGTH = 13  # 86 + 11 digits
PLAN_SCHEMA = pa.schema(
    [
        pa.field("row_id", pa.int32(), nullable=False),
        pa.field("prefix", pa.string(), nullable=False),
        pa.field("length", pa.int8(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("operator", pa.string(), nullable=False),
        pa.field("province", pa.string()),
        pa.field("city", pa.string()),
        pa.field("country", pa.string()),
        pa.field("virtual", pa.bool_(), nullable=False),
        pa.field("label", pa.string()),
    ]
)
_OPERATORS = {
    "China Mobile": Operator.CHINA_MOBILE,
    "China Unicom": Operator.CHINA_UNICOM,
    "China Telecom": Operator.CHINA_TELECOM,
    "China Broadnet": Operator.CHINA_BROADNET,
}


class _Prefixes:
    """Longest-prefix lookups in a prefix -> value mapping, trying only the widths it has."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.widths = sorted({len(k) for k in self.values}, reverse=True)

    def longest(self, key: str) -> str | None:
        """The value of the longest prefix of ``key`` in the mapping, if any."""
        for width in self.widths:
            if width <= len(key):
                value = self.values.get(key[:width])
                if value is not None:
                    return value
        return None


def split_place(name: str | None) -> tuple[str | None, str | None]:
    """(province, city) from a geocoder name: 'Nanjing, Jiangsu' -> ('Jiangsu', 'Nanjing').

    A name without a comma is a municipality (Beijing, Shanghai, ...): it is both.
    """
    if not name:
        return None, None
    city, sep, province = name.rpartition(", ")
    if not sep:
        return name, name
    return province, city


def _china_metadata() -> tuple[dict[str, str], dict[str, str]]:
    """(carrier, geo): national prefix -> English name, from the phonenumbers metadata."""
    from phonenumbers.carrierdata import CARRIER_DATA
    from phonenumbers.geodata import GEOCODE_DATA

    def national(data: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
        return {k[2:]: v["en"] for k, v in data.items() if k.startswith(CHINA) and "en" in v}

    return national(CARRIER_DATA), national(GEOCODE_DATA)


def _cn_pattern(kind: str) -> re.Pattern[str]:
    """The CN national-number pattern of ``kind`` (mobile, fixed_line) in phonenumbers."""
    from phonenumbers import PhoneMetadata

    md = PhoneMetadata.metadata_for_region("CN")
    desc = getattr(md, kind, None) if md is not None else None
    text = getattr(desc, "national_number_pattern", None)
    if not isinstance(text, str):
        raise Unavailable(
            f"phonenumbers has no CN {kind} pattern: reinstall the pinned phonenumbers version"
        )
    return re.compile(text)


def valid_mobile_segments() -> list[str]:
    """The shortest national prefixes that the CN mobile pattern of ``phonenumbers`` admits.

    The carrier data is coarser than the allocation (it names 86154 China Mobile through 8615),
    so segments come from the pattern: every 6-digit start is tried, then full tens collapsed.
    """
    pattern = _cn_pattern("mobile")
    valid = {
        f"1{i:05d}" for i in range(100_000) if pattern.fullmatch(f"1{i:05d}00000") is not None
    }
    return sorted(_collapse(valid, 4))


def _mobile_rows(carrier: Mapping[str, str], geo: Mapping[str, str]) -> Iterator[PlanRow]:
    operators = _Prefixes(
        {p: _OPERATORS.get(name, Operator.UNKNOWN).value for p, name in carrier.items()}
    )
    unknown = {name for name in carrier.values() if name not in _OPERATORS}
    if unknown:
        log.warning("numbering.unknown_carrier", names=sorted(unknown))
    mobile_geo = _Prefixes({p: n for p, n in geo.items() if p[:1] == "1" and p[:2] != "10"})
    virtual = _Prefixes({p: op.value for p, op in VIRTUAL_SEGMENTS.items()})
    segments = valid_mobile_segments()
    allocated = tuple(segments)
    # Rows: the valid segments, and every finer prefix inside them that carries information.
    prefixes = set(segments) | {
        p
        for p in (*operators.values, *mobile_geo.values, *virtual.values)
        if p.startswith(allocated)
    }
    for p in sorted(prefixes):
        op = operators.longest(p) or virtual.longest(p) or Operator.UNKNOWN.value
        province, city = split_place(mobile_geo.longest(p))
        yield PlanRow(
            prefix=CHINA + p,
            length=MOBILE_LENGTH,
            kind=NumberKind.MOBILE,
            operator=Operator(op),
            province=province,
            city=city,
            country="CN",
            virtual=virtual.longest(p) is not None,
        )


def _collapse(valid: set[str], depth: int) -> set[str]:
    """Replace every complete set of ten siblings by their parent, ``depth`` times."""
    for _ in range(depth):
        parents: dict[str, list[str]] = {}
        for p in valid:
            parents.setdefault(p[:-1], []).append(p)
        valid = {
            parent if len(children) == 10 else child
            for parent, children in parents.items()
            for child in children
        }
    return valid


def area_codes(geo: Mapping[str, str]) -> dict[str, str]:
    """Fixed-line area codes (10, 2x, 3xx-9xx) -> the geocoder name of the longest prefix."""
    fixed_geo = _Prefixes({p: n for p, n in geo.items() if p[:1] != "1" or p[:2] == "10"})
    candidates = ["10", *(f"2{d}" for d in range(10)), *(str(a) for a in range(300, 1000))]
    out = {}
    for area in candidates:
        name = fixed_geo.longest(area)
        if name is not None:
            out[area] = name
    return out


def _fixed_rows(areas: Mapping[str, str]) -> Iterator[PlanRow]:
    """Fixed lines: area code + 7 or 8 digit local number, as the CN fixed-line pattern admits.

    The pattern is tried on every area code, local length and first three local digits (the
    rest does not change the verdict in the metadata); full tens are collapsed.
    """
    pattern = _cn_pattern("fixed_line")
    for area, name in sorted(areas.items()):
        province, city = split_place(name)
        for local_len in (7, 8):
            fill = "5" * (local_len - 3)
            valid = {
                f"{area}{i:03d}"
                for i in range(1000)
                if pattern.fullmatch(f"{area}{i:03d}{fill}") is not None
            }
            for p in sorted(_collapse(valid, 3)):
                yield PlanRow(CHINA + p, 2 + len(area) + local_len, NumberKind.FIXED,
                              province=province, city=city, country="CN")


def _local_service_rows(areas: Mapping[str, str]) -> Iterator[PlanRow]:
    """Service numbers dialled after an area code: 025-12345, 025-96xxx."""
    for area, name in sorted(areas.items()):
        province, city = split_place(name)
        for lp, lens in LOCAL_SERVICE_RANGES:
            for n in lens:
                yield PlanRow(CHINA + area + lp, 2 + len(area) + n, NumberKind.SERVICE,
                              province=province, city=city, country="CN",
                              label="local service number")


def _service_rows() -> Iterator[PlanRow]:
    for p, lens, label in SERVICE_RANGES:
        for n in lens:
            yield PlanRow(CHINA + p, 2 + n, NumberKind.SERVICE, country="CN", label=label)
    for digits, label in SERVICE_NUMBERS.items():
        yield PlanRow(CHINA + digits, 2 + len(digits), NumberKind.SERVICE,
                      operator=OPERATOR_SERVICE.get(digits, Operator.UNKNOWN), country="CN",
                      label=label)


def _international_rows() -> Iterator[PlanRow]:
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

    for cc, regions in sorted(COUNTRY_CODE_TO_REGION_CODE.items()):
        if str(cc) == CHINA:
            continue
        lengths: set[int] = set()
        for region in regions:
            md = PhoneMetadata.metadata_for_region_or_calling_code(cc, region)
            if md is not None and md.general_desc is not None:
                lengths.update(md.general_desc.possible_length or ())
        prefix = str(cc)
        for n in sorted(lengths):
            if len(prefix) + n <= MAX_DIGITS:
                yield PlanRow(prefix, len(prefix) + n, NumberKind.INTERNATIONAL,
                              country=regions[0])


def build_plan_rows() -> list[PlanRow]:
    """Every row of the plan; where two rows share (prefix, length) the more specific kind wins.

    Order of precedence, lowest first: international, fixed, mobile, local service, service
    ranges, named service numbers.
    """
    carrier, geo = _china_metadata()
    areas = area_codes(geo)
    rows: dict[tuple[str, int], PlanRow] = {}
    parts: Iterable[Iterator[PlanRow]] = (
        _international_rows(),
        _fixed_rows(areas),
        _mobile_rows(carrier, geo),
        _local_service_rows(areas),
        _service_rows(),
    )
    for part in parts:
        for row in part:
            rows[(row.prefix, row.length)] = row
    return [rows[k] for k in sorted(rows)]


def rows_to_table(rows: Iterable[PlanRow]) -> pa.Table:
    """The plan's rows as an Arrow table (PLAN_SCHEMA), ``row_id`` numbering them from 0."""
    rows = list(rows)
    columns = {
        "row_id": list(range(len(rows))),
        "prefix": [r.prefix for r in rows],
        "length": [r.length for r in rows],
        "kind": [r.kind.value for r in rows],
        "operator": [r.operator.value for r in rows],
        "province": [r.province for r in rows],
        "city": [r.city for r in rows],
        "country": [r.country for r in rows],
        "virtual": [r.virtual for r in rows],
        "label": [r.label for r in rows],
    }
    return pa.table(columns, schema=PLAN_SCHEMA)


def plan_from_table(table: pa.Table) -> NumberingPlan:
    """The pure-Python plan (for single numbers) from the prefix table."""
    cols = [table[name].to_pylist() for name in PLAN_SCHEMA.names[1:]]
    kinds = {k.value: k for k in NumberKind}
    operators = {o.value: o for o in Operator}
    return NumberingPlan(
        PlanRow(p, n, kinds[k], operators[o], pv, c, cc, v, lb)
        for p, n, k, o, pv, c, cc, v, lb in zip(*cols, strict=True)
    )


def plan_path(data_dir: Path) -> Path:
    """Where the cached prefix table lives for this phonenumbers version."""
    import phonenumbers

    return data_dir / "numbering" / f"plan-{phonenumbers.__version__}-v{PLAN_FORMAT}.parquet"


def load_plan_table(data_dir: Path, *, rebuild: bool = False) -> pa.Table:
    """The prefix table, read from the cache in ``data_dir`` or built and cached there."""
    path = plan_path(data_dir)
    if path.exists() and not rebuild:
        return pq.read_table(path, schema=PLAN_SCHEMA)
    table = rows_to_table(build_plan_rows())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)  # atomic: a reader never sees half a file
    log.info("numbering.plan_built", path=str(path), rows=table.num_rows)
    return table


def load_plan(data_dir: Path) -> NumberingPlan:
    """The pure-Python plan, from the cached prefix table in ``data_dir``."""
    return plan_from_table(load_plan_table(data_dir))


def plan_summary(table: pa.Table) -> list[tuple[str, str, int]]:
    """(kind, operator, rows) for the prefix table, largest first."""
    counts = table.group_by(["kind", "operator"]).aggregate([("prefix", "count")])
    out = [
        (k, o, n)
        for k, o, n in zip(
            counts["kind"].to_pylist(),
            counts["operator"].to_pylist(),
            counts["prefix_count"].to_pylist(),
            strict=True,
        )
    ]
    return sorted(out, key=lambda t: (-t[2], t[0], t[1]))
