"""Feed profiles: a foreign export that today is refused or quarantined whole is ingested whole
through its profile, on both paths; bad profiles are named by file, line and key; feeds check."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from telshield.domain.errors import InvalidInput
from telshield.feeds.lake import Lake
from telshield.feeds.profiles import Profile, load_profile, parse_profile
from telshield.reference.schemas import FEEDS
from telshield.services.inbox import Inbox
from telshield.services.ingest import IngestOptions, ingest
from telshield.settings import Settings

NOW = datetime(2026, 11, 20, 12, 0, 0)
FOREIGN = Path(__file__).resolve().parents[1] / "data" / "foreign"
ROOT = Path(__file__).resolve().parents[2]
SOURCES = {"subscribers": "operator", "orders": "operator", "sanctions": "operator",
           "clues": "police"}
ROWS = {"subscribers": 5, "orders": 4, "sanctions": 3, "clues": 5}


def profile(name: str) -> Profile:
    return load_profile(FOREIGN / f"{name}.toml")


def renames_only(p: Profile) -> Profile:
    """The profile with its column renames only: no value, hash or time mapping."""
    return replace(p, feeds={f: replace(fp.__class__(fp.feed, fp.origin, fp.namespace),
                                        renames=fp.renames, defaults=fp.defaults)
                             for f, fp in p.feeds.items()})


@pytest.fixture(params=["auto", "chunked"])
def reader(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def options(tmp: Path, reader: str, profiles: dict[str, Profile]) -> IngestOptions:
    return IngestOptions(tmp / "lake", tmp / "quarantine", chunk_rows=2, reader=reader,
                         profiles=profiles)


def lake(opts: IngestOptions, feed: str) -> list[dict[str, object]]:
    files = [str(f) for f in Lake(opts.lake_dir).files(FEEDS[feed])]
    if not files:
        return []
    cur = duckdb.sql(f"SELECT * FROM read_parquet({files}, hive_partitioning=false)")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


@pytest.mark.parametrize("feed", list(SOURCES))
def test_foreign_export_is_refused_then_quarantined_then_ingested_whole(
        tmp_path: Path, reader: str, feed: str) -> None:
    path = FOREIGN / f"{feed}.csv"
    with pytest.raises(InvalidInput, match="header lacks column"):
        ingest(feed, [path], options(tmp_path / "a", reader, {}), now=NOW)
    full = profile(SOURCES[feed])
    bare = ingest(feed, [path], options(tmp_path / "b", reader, {feed: renames_only(full)}),
                  now=NOW)
    assert (bare.added, sum(bare.quarantined.values())) == (0, ROWS[feed])
    opts = options(tmp_path / "c", reader, {feed: full})
    report = ingest(feed, [path], opts, now=NOW)
    assert (report.rows_read, report.added, sum(report.quarantined.values())) == \
        (ROWS[feed], ROWS[feed], 0)
    # The fast path, but for a file of dates alone (sanctions), which the direct path's reader
    # takes no more than without a profile.
    direct = reader == "auto" and feed != "sanctions"
    assert report.path == ("direct" if direct else "exact")
    assert report.profile == str(FOREIGN / f"{SOURCES[feed]}.toml")
    assert len(lake(opts, feed)) == ROWS[feed]
    again = ingest(feed, [path], opts, now=NOW)
    assert (again.added, again.already_present) == (0, ROWS[feed])


def digest(namespace: str, theirs: str) -> str:
    return hashlib.sha256(f"{namespace}:{theirs.lower()}".encode()).hexdigest()


def test_values_times_and_hashes_are_mapped_as_declared(tmp_path: Path, reader: str) -> None:
    op, police = profile("operator"), profile("police")
    opts = options(tmp_path, reader, {"subscribers": op, "orders": op, "sanctions": op,
                                      "clues": police})
    for feed in SOURCES:
        ingest(feed, [FOREIGN / f"{feed}.csv"], opts, now=NOW)
    subs = {r["msisdn"]: r for r in lake(opts, "subscribers")}
    first = subs["8613800000001"]
    # UTC '2026/03/14 02:22:05' is 10:22:05 China Standard Time.
    assert first["registered_at"] == datetime(2026, 3, 14, 10, 22, 5)
    assert (first["holder_kind"], first["status"]) == ("individual", "active")
    assert subs["8613800000004"]["registered_at"] == datetime(2026, 7, 1, 7, 59, 59)
    assert [subs[f"861380000000{i}"]["holder_kind"] for i in (3, 4)] == ["enterprise", "iot"]
    # The 32-hex digest is re-hashed into the profile's namespace, whatever its case.
    assert first["id_hash"] == digest("wx-bss", "0F1E2D3C4B5A69788796A5B4C3D2E1F0")
    assert subs["8613800000002"]["id_hash"] == first["id_hash"]
    sanctioned = {r["id_hash"] for r in lake(opts, "sanctions")}
    assert first["id_hash"] in sanctioned  # same person, same namespace, across the exports
    orders = {r["order_id"]: r for r in lake(opts, "orders")}
    assert orders["WX-O-0002"]["created_at"] == datetime(2026, 3, 15, 0, 58, 41)
    assert orders["WX-O-0005"]["channel"] == "mini_program"
    assert orders["WX-O-0002"]["device_id"] is None  # a default: not exported
    clues = {r["clue_id"]: r for r in lake(opts, "clues")}
    assert clues["AH-2026-000101"]["fraud_type"] == "impersonation_police"
    assert clues["AH-2026-000104"]["fraud_type"] == "other"  # FT99: the open vocabulary
    assert clues["AH-2026-000105"]["fraud_type"] == "brushing"
    assert clues["AH-2026-000101"]["reported_at"] == datetime(2026, 11, 2, 16, 40)
    assert clues["AH-2026-000101"]["msisdn"] == "8613800000005"


def test_a_row_the_profile_cannot_map_is_quarantined_with_its_line(
        tmp_path: Path, reader: str) -> None:
    src = tmp_path / "subscribers.csv"
    lines = (FOREIGN / "subscribers.csv").read_text("utf-8").splitlines()
    lines[3] = lines[3].replace(",单位,", ",社团,")  # a holder kind the profile does not map
    lines[4] = lines[4].replace("2026/06/30", "2026-06-30")  # not the declared time format
    src.write_text("\n".join(lines) + "\n", "utf-8")
    opts = options(tmp_path, reader, {"subscribers": profile("operator")})
    report = ingest("subscribers", [src], opts, now=NOW)
    assert (report.added, dict(report.quarantined)) == (3, {"bad_enum": 1, "bad_type": 1})
    from telshield.feeds import quarantine

    q = quarantine.read(opts.quarantine_dir, "subscribers").to_pylist()
    assert sorted((r["line"], r["field"]) for r in q) == [(4, "holder_kind"),
                                                         (5, "registered_at")]


def test_a_hash_not_in_the_declared_format_never_passes_for_a_digest(tmp_path: Path) -> None:
    src = tmp_path / "sanctions.csv"
    lines = (FOREIGN / "sanctions.csv").read_text("utf-8").splitlines()
    lines[1] = lines[1].replace("0F1E2D3C4B5A69788796A5B4C3D2E1F0", "ab" * 32)  # 64 hex
    src.write_text("\n".join(lines) + "\n", "utf-8")
    opts = options(tmp_path, "auto", {"sanctions": profile("operator")})
    report = ingest("sanctions", [src], opts, now=NOW)
    assert (report.added, dict(report.quarantined)) == (2, {"bad_hash": 1})


def test_parquet_export_reads_through_the_profile(tmp_path: Path, reader: str) -> None:
    src = tmp_path / "clues.parquet"
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{FOREIGN / 'clues.csv'}', all_varchar=true)) "
               f"TO '{src}' (FORMAT parquet)")
    opts = options(tmp_path, reader, {"clues": profile("police")})
    report = ingest("clues", [src], opts, now=NOW)
    assert (report.added, sum(report.quarantined.values())) == (5, 0)


BAD_PROFILES = [
    ('[subscribers.columns]\nmsisdn = "a"\nphone = "b"\n', 3, "subscribers.columns.phone",
     "no such column"),
    ('name = "x"\n\n[subscribers.values.holder_kind]\n"个人" = "person"\n', 4,
     "subscribers.values.holder_kind.个人", "not one of individual"),
    ('[orders]\ntimezone = "Mars/Olympus"\n', 2, "orders.timezone", "unknown time zone"),
    ('[orders.hashes]\nid_hash = "md5"\n', 2, "orders.hashes.id_hash", "unknown hash format"),
    ('[clues.fallback]\nunit = "other"\n', 2, "clues.fallback.unit", "enum column"),
    ('[clues]\ncolumns = 3\n', 2, "clues.columns", "must be a table"),
    ('colour = "red"\n', 1, "colour", "unknown key"),
    ('[orders.defaults]\ncontact_msisdn = ""\n', 2, "orders.defaults.contact_msisdn",
     "required column"),
]


@pytest.mark.parametrize(("text", "line", "key", "why"), BAD_PROFILES)
def test_a_bad_profile_is_named_by_file_line_and_key(
        tmp_path: Path, text: str, line: int, key: str, why: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(InvalidInput) as e:
        load_profile(path)
    assert f"{path}, line {line}: `{key}`" in str(e.value)
    assert why in str(e.value)


def test_profile_that_is_not_toml_names_the_file() -> None:
    with pytest.raises(InvalidInput, match=r"^p\.toml: not valid TOML"):
        parse_profile("[subscribers\n", "p.toml")


def test_shipped_example_profiles_parse() -> None:
    for p in sorted((ROOT / "deploy" / "profiles").glob("*.toml")):
        assert load_profile(p).feeds


def cli(*args: str) -> tuple[int, str]:
    from telshield.cli import _register, app

    _register()
    r = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    if isinstance(r.exception, InvalidInput):  # main() prints it and exits 2
        return 2, str(r.exception)
    return r.exit_code, r.output


def test_feeds_check_says_what_the_profile_still_needs(tmp_path: Path) -> None:
    bare = tmp_path / "bare.toml"
    text = (FOREIGN / "operator.toml").read_text("utf-8")
    bare.write_text(text.split("[subscribers.values.holder_kind]")[0], "utf-8")
    code, out = cli("feeds", "check", str(FOREIGN / "subscribers.csv"), "--feed",
                    "subscribers", "--profile", str(bare), "--data-dir", str(tmp_path / "d"))
    assert code == 1, out
    assert "unknown columns (ignored" in out and "备注" in out
    assert "rows: 5; would be quarantined: 5" in out
    assert "holder_kind (export column '客户类型'): unmapped values: 5 row(s)" in out
    assert "'个人': 3" in out and "'单位': 1" in out
    assert "status (export column '状态'): unmapped values: 5 row(s)" in out
    assert "id_hash (export column '证件号摘要'): values not in the declared hash format" in out
    assert "0F1E2D3C" not in out  # identity digests are counted, never shown
    # The time zone and format are in [subscribers] itself, so the times parse already.
    assert "registered_at" not in out
    code, out = cli("feeds", "check", str(FOREIGN / "subscribers.csv"), "--feed",
                    "subscribers", "--profile", str(FOREIGN / "operator.toml"),
                    "--data-dir", str(tmp_path / "d"))
    assert code == 0, out
    assert "ready: every row would be ingested" in out


def test_feeds_check_without_profile_lists_missing_columns(tmp_path: Path) -> None:
    code, out = cli("feeds", "check", str(FOREIGN / "clues.csv"), "--feed", "clues",
                    "--data-dir", str(tmp_path / "d"))
    assert code == 1
    assert "missing columns" in out and "clue_id" in out and "fraud_type" in out


def test_feeds_check_reports_unparseable_times_and_repeats(tmp_path: Path) -> None:
    src = tmp_path / "clues.csv"
    lines = (FOREIGN / "clues.csv").read_text("utf-8").splitlines()
    lines[2] = lines[2].replace("20261103091500", "2026-11-03 09:15")
    lines.append(lines[1])
    src.write_text("\n".join(lines) + "\n", "utf-8")
    code, out = cli("feeds", "check", str(src), "--feed", "clues", "--profile",
                    str(FOREIGN / "police.toml"), "--data-dir", str(tmp_path / "d"))
    assert code == 1
    assert "reported_at (export column '推送时间'): unparseable values: 1 row(s)" in out
    assert "'2026-11-03 09:15': 1" in out
    assert "repeated keys (clue_id): 1 row(s)" in out


def test_ingest_cli_takes_a_profile_by_name(tmp_path: Path) -> None:
    data = tmp_path / "d"
    (data / "profiles").mkdir(parents=True)
    shutil.copy(FOREIGN / "police.toml", data / "profiles" / "ah-police.toml")
    code, out = cli("ingest", "clues", str(FOREIGN / "clues.csv"), "--profile", "ah-police",
                    "--data-dir", str(data), "--init")
    assert code == 0, out
    assert "│ clues │     1 │         5 │     5 │" in out
    code, out = cli("ingest", "clues", str(FOREIGN / "clues.csv"), "--profile", "nope",
                    "--data-dir", str(data))
    assert code != 0
    assert "no feed profile 'nope'" in out and "ah-police" in out


def test_the_cycle_reads_each_drop_folder_through_its_profile(tmp_path: Path) -> None:
    from telshield.wiring.ingest import watch_options

    settings = Settings(data_dir=tmp_path / "d",
                        cycle={"watch_profiles": {"clues": str(FOREIGN / "police.toml")}})
    opts = replace(watch_options(settings), lake_dir=tmp_path / "lake")
    assert set(opts.profiles) == {"clues"}
    drop = tmp_path / "drop"
    (drop / "clues").mkdir(parents=True)
    shutil.copy(FOREIGN / "clues.csv", drop / "clues" / "ah.csv")
    result = Inbox(drop, opts, settle_s=0, now=lambda: NOW).collect()
    assert (result.added, result.quarantined, result.failed) == (5, 0, 0)
    bad = Settings(data_dir=tmp_path / "d", cycle={"watch_profiles": {"police": "x.toml"}})
    with pytest.raises(InvalidInput, match="'police' is not a feed folder"):
        watch_options(bad)


@pytest.mark.parametrize("typed", [False, True])
def test_times_in_a_zone_with_daylight_saving_convert_by_the_date(typed: bool) -> None:
    fp = parse_profile('[clues]\ntimezone = "Europe/Berlin"\n', "p.toml").feeds["clues"]
    header = FEEDS["clues"].column_names
    con = duckdb.connect()
    kind = "TIMESTAMP" if typed else "VARCHAR"
    con.execute(f"CREATE TABLE raw AS SELECT CAST(t AS {kind}) AS reported_at, "
                "'x' AS clue_id, 'x' AS msisdn, 'x' AS case_ref, 'x' AS fraud_type, 'x' AS unit "
                "FROM (VALUES ('2026-07-01 10:00:00'), ('2026-01-15 10:00:00')) v(t)")
    got = con.execute(f"SELECT CAST(reported_at AS VARCHAR) FROM "
                      f"{fp.project('raw', header, typed=typed, lines=False)}").fetchall()
    # Summer (UTC+2) is six hours behind China, winter (UTC+1) seven.
    assert [g[0][:19] for g in got] == ["2026-07-01 16:00:00", "2026-01-15 17:00:00"]


def test_a_fixed_zone_shifts_without_the_calendar() -> None:
    from telshield.feeds.profiles import _fixed_shift

    assert (_fixed_shift("UTC"), _fixed_shift("Asia/Tokyo"), _fixed_shift("Etc/GMT+3")) == \
        (8 * 3600, -3600, 11 * 3600)
    assert _fixed_shift("Europe/Berlin") is None


def test_a_switch_export_maps_its_trunk_groups_to_carriers(tmp_path: Path, reader: str) -> None:
    """The switch writes the incoming trunk group; the profile renames it to
    ``ingress_carrier`` and maps each group to its partner carrier (docs/feeds.md)."""
    text = ('[calls.columns]\ningress_carrier = "in_trunk_group"\n'
            '[calls.values.ingress_carrier]\n"CU-NJ-01" = "china_unicom"\n'
            '"CT-NJ-02" = "china_telecom"\n')
    p = parse_profile(text, "switch.toml")
    head = "call_id,started_at,duration_s,caller,callee,ingress,caller_cell,caller_imei," \
        "callee_cell,in_trunk_group\n"
    rows = ["C1,2026-11-01 09:00:00,30,8618612345678,8613912345678,interconnect,,,,CU-NJ-01",
            "C2,2026-11-01 09:01:00,0,8615312345678,8613912345678,interconnect,,,,CT-NJ-02",
            "C3,2026-11-01 09:02:00,12,8613812345678,8613912345678,radio,c1,,c2,",
            "C4,2026-11-01 09:03:00,12,8618612345679,8613912345678,interconnect,,,,XX-9"]
    src = tmp_path / "calls.csv"
    src.write_text(head + "\n".join(rows) + "\n", encoding="utf-8")
    opts = options(tmp_path, reader, {"calls": p})
    report = ingest("calls", [src], opts, now=NOW)
    assert (report.added, sum(report.quarantined.values())) == (3, 1)  # XX-9: no mapping
    got = {r["call_id"]: r["ingress_carrier"] for r in lake(opts, "calls")}
    assert got == {"C1": "china_unicom", "C2": "china_telecom", "C3": None}
