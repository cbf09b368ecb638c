"""Classify N generated numbers through the numbering-plan Ibis expression on DuckDB, against a
hand-written DuckDB SQL doing the same joins, in the same run; print rows/s, the ratio and an
extrapolation to 100 million rows.

    .venv/bin/python -m bench numbering --rows 10000000 --threads 2

For scale it also classifies ``--per-row`` of the numbers one at a time in Python, with
``telshield.domain.numbers.classify`` and with ``phonenumbers`` itself (parse, validate, carrier,
geocoder). Numbers are generated inside DuckDB (80% mobile, 10% fixed, 4% service, 3% international,
3% garbage). Each side is timed as a full pass that counts rows by kind and operator, so no
result is shipped to Python; both sides must give the same counts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
import ibis
import pyarrow as pa

from telshield.detect.numbering import PREFIX_WIDTHS, classify
from telshield.reference.numbering import load_plan_table

GENERATE = """
CREATE OR REPLACE TABLE numbers AS
SELECT CASE
  WHEN r < 0.80 THEN '86' || (['138', '139', '150', '186', '130', '133', '153', '180', '189', '177',
                             '192', '166', '1703', '165', '145', '198'])[1 + i % 16]
                     || lpad((hash(i) % 100000000)::VARCHAR, 8, '0')
  WHEN r < 0.90 THEN '86' || (['10', '25', '512', '516', '21', '951'])[1 + i % 6]
                     || (2 + i % 8)::VARCHAR || lpad((hash(i) % 10000000)::VARCHAR, 7, '0')
  WHEN r < 0.94 THEN '86' || (['95588', '110', '10086', '12381', '96110', '4008001234'])[1 + i % 6]
  WHEN r < 0.97 THEN (['852', '1', '44', '886'])[1 + i % 4]
                     || lpad((hash(i) % 100000000)::VARCHAR, 8, '0')
  ELSE (['8612', 'abc', '0123456', '86154123456789'])[1 + i % 4]
END AS number
FROM (SELECT i, (hash(i * 7 + 1) % 1000000) / 1000000.0 AS r FROM range({rows}) t(i))
"""


def hand_sql(widths: tuple[int, ...]) -> str:
    """The same classification written by hand: one left join per prefix width."""
    joins = "\n".join(
        f"LEFT JOIN (SELECT prefix, length, row_id FROM plan WHERE length(prefix) = {w}) p{w}"
        f" ON ok AND substr(number, 1, {w}) = p{w}.prefix AND n = p{w}.length"
        for w in widths
    )
    ids = ", ".join(f"p{w}.row_id" for w in widths)
    return f"""
    WITH c AS (
      SELECT number, length(number) AS n, regexp_matches(number, '^[1-9][0-9]{{2,14}}$') AS ok
      FROM numbers
    ), m AS (
      SELECT number, coalesce({ids}) AS row_id FROM c {joins}
    )
    SELECT coalesce(plan.kind, 'invalid') AS kind, coalesce(plan.operator, 'unknown') AS operator,
           count(*) AS rows
    FROM m LEFT JOIN plan ON m.row_id = plan.row_id
    GROUP BY ALL ORDER BY ALL
    """


def timed(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[float, list[tuple[object, ...]]]:
    """Seconds to run ``sql`` and its rows."""
    start = time.perf_counter()
    rows = con.execute(sql).fetchall()
    return time.perf_counter() - start, rows


def per_row_rates(con: duckdb.DuckDBPyConnection, plan: pa.Table, sample: int) -> None:
    """Row-by-row rates for scale: our single-number classify, and phonenumbers' own parsing."""
    import phonenumbers
    from phonenumbers import carrier, geocoder

    from telshield.domain.numbers import classify as classify_one
    from telshield.reference.numbering import plan_from_table

    numbers = [r[0] for r in con.execute(f"SELECT number FROM numbers LIMIT {sample}").fetchall()]
    single = plan_from_table(plan)
    start = time.perf_counter()
    for n in numbers:
        classify_one(n, single)
    ours = len(numbers) / (time.perf_counter() - start)
    start = time.perf_counter()
    for n in numbers:
        try:
            parsed = phonenumbers.parse("+" + n)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            carrier.name_for_number(parsed, "en")
            geocoder.description_for_number(parsed, "en")
    theirs = len(numbers) / (time.perf_counter() - start)
    for name, rate in (("per row, classify", ours), ("per row, phonenumbers", theirs)):
        print(f"{name:22} {rate / 1e3:8.1f} k rows/s  100 M rows ~ {1e8 / rate / 3600:5.1f} h")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(prog="python -m bench numbering", description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000, help="numbers to classify")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads (the machine is shared)")
    ap.add_argument("--repeat", type=int, default=2, help="best of this many runs per side")
    ap.add_argument("--per-row", type=int, default=100_000,
                    help="numbers classified row by row in Python, for scale (0: skip)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        plan = load_plan_table(Path(tmp))
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.register("plan_arrow", plan)
    con.execute("CREATE TABLE plan AS SELECT * FROM plan_arrow")
    t0 = time.perf_counter()
    con.execute(GENERATE.format(rows=args.rows))
    print(f"generated {args.rows:,} numbers in {time.perf_counter() - t0:.1f} s")

    backend = ibis.duckdb.from_connection(con)
    expr = classify(backend.table("numbers"), "number", backend.table("plan"), prefix="n")
    counts = expr.group_by(kind=expr.n_kind, operator=expr.n_operator).aggregate(
        rows=expr.count()
    ).order_by(["kind", "operator"])
    ibis_sql = str(ibis.to_sql(counts, dialect="duckdb"))
    hand = hand_sql(PREFIX_WIDTHS)

    best_ibis = best_hand = float("inf")
    for _ in range(args.repeat):
        s, ibis_rows = timed(con, ibis_sql)
        best_ibis = min(best_ibis, s)
        s, hand_rows = timed(con, hand)
        best_hand = min(best_hand, s)
    if [tuple(r) for r in ibis_rows] != [tuple(r) for r in hand_rows]:
        raise SystemExit(f"results differ:\nibis {ibis_rows}\nhand {hand_rows}")
    print(f"{args.rows:,} rows, DuckDB threads={args.threads}, best of {args.repeat}:")
    for kind, operator, n in ibis_rows:
        print(f"  {kind:14} {operator:15} {n:>12,}")
    for name, secs in (("ibis expression", best_ibis), ("hand-written SQL", best_hand)):
        rate = args.rows / secs
        print(
            f"{name:17} {secs:7.2f} s  {rate / 1e6:6.2f} M rows/s  "
            f"100 M rows ~ {1e8 / rate / 60:5.1f} min"
        )
    print(f"ratio ibis / hand-written: {best_ibis / best_hand:.2f} (threads={args.threads})")
    if args.per_row:
        per_row_rates(con, plan, args.per_row)


if __name__ == "__main__":
    main()
