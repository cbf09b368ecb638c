"""Detection on Spark equals detection on DuckDB: the whole run, on a small province.

One Spark session (local[2], two shuffle partitions, no UI) serves the module. The run is the
one ``telshield detect --engine spark`` makes: every feature table joined into one frame, the
rule hits and rule score, the model's score from a lake model, the combined score and the alerts
with their reasons and values. Results are sorted by number and compared exactly; no column
needs a tolerance (``docs/scale.md`` says which ones once differed, and why).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.services.sparklocal import local_settings
from tests.toy import START, make_toy

from telshield.domain.alerts import Alert
from telshield.domain.errors import InvalidInput
from telshield.services.alerts import InMemoryAlertSink
from telshield.services.detection import Detector, train_from_lake
from telshield.settings import Settings
from telshield.wiring.detection import detector
from telshield.wiring.engine import engine_name, spark_conf

RUN_AT = datetime(2026, 11, 4, 12)
NOW = datetime(2026, 12, 1)


def test_engine_comes_from_the_option_else_the_setting(tmp_path: Path) -> None:
    s = local_settings(tmp_path)
    assert engine_name(s) == "duckdb"
    assert engine_name(s, "spark") == "spark"
    on_spark = Settings(data_dir=tmp_path, engine={"name": "spark"})
    assert engine_name(on_spark) == "spark" and engine_name(on_spark, "duckdb") == "duckdb"
    with pytest.raises(InvalidInput, match=r"--engine .polars.: use one of duckdb, spark"):
        engine_name(s, "polars")


def test_spark_conf_keeps_feed_times_as_they_are(tmp_path: Path) -> None:
    s = local_settings(tmp_path)
    conf = spark_conf(s.engine)
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.shuffle.partitions"] == "2"
    shifted = Settings(data_dir=tmp_path,
                       engine={"spark_conf": {"spark.sql.session.timeZone": "Asia/Shanghai"}})
    with pytest.raises(InvalidInput, match=r"spark\.sql\.session\.timeZone"):
        spark_conf(shifted.engine)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path, Any]:
    """A tiny labelled province in the lake layout, and a lake model trained on it (DuckDB)."""
    root = tmp_path_factory.mktemp("engines")
    lake = root / "lake"
    make_toy(normal=60, couriers=4, fraud=6, days=4, quiet_days=1).write(lake)
    settings = local_settings(root / "data")
    duck = detector(settings, lake=lake, keep_state=False, use_model=False, engine="duckdb")
    art = train_from_lake(duck, START + timedelta(days=2), START + timedelta(days=3),
                          root / "models", step=timedelta(hours=12))
    return settings, lake, art


@pytest.fixture(scope="module")
def spark(province: tuple[Settings, Path, Any]) -> Any:
    """The module's one Spark session, built from the settings as the CLI builds it."""
    pytest.importorskip("pyspark.sql")
    from telshield.wiring.engine import spark_session

    session = spark_session(province[0].engine)
    yield session
    session.stop()


def _run(settings: Settings, lake: Path, art: Any, engine: str
         ) -> tuple[pd.DataFrame, list[Alert]]:
    sink = InMemoryAlertSink()
    det: Detector = detector(settings, lake=lake, sink=sink, keep_state=False, model=art,
                             engine=engine, clock=lambda: NOW)
    assert det.reader.con.name == ("pyspark" if engine == "spark" else "duckdb")
    # What ``Detector.run`` does, keeping the scored frame: one execution per engine (planning
    # the whole run is most of Spark's time on data this small).
    frame = det.score(det.features(RUN_AT))
    sink.upsert(det.alerts(frame, RUN_AT))
    frame = frame.sort_values("msisdn").reset_index(drop=True)
    return frame, sorted(sink.open_alerts(), key=lambda a: a.msisdn)


@pytest.mark.spark
def test_whole_detection_run_is_identical_on_spark(
    province: tuple[Settings, Path, Any], spark: Any,
) -> None:
    settings, lake, art = province
    duck_frame, duck_alerts = _run(settings, lake, art, "duckdb")
    spark_frame, spark_alerts = _run(settings, lake, art, "spark")
    # The comparison is worth something only if the run found something.
    assert len(duck_frame) > 60 and len(duck_alerts) > 0
    assert (duck_frame["model_score"] > 0).any() and duck_frame["rule_score"].max() > 0
    assert list(spark_frame.columns) == list(duck_frame.columns)
    differ = {}
    for c in duck_frame.columns:
        d, s = duck_frame[c], spark_frame[c]
        if d.dtype.kind in "iub" or s.dtype.kind in "iub":
            # integer counts may come back as int32 on one engine and int64 on the other:
            # the values, not the width, must agree
            d, s = d.astype("float64"), s.astype("float64")
        try:
            pd.testing.assert_series_equal(d, s, check_exact=True, check_dtype=False, obj=c)
        except AssertionError as e:
            differ[c] = str(e).splitlines()[0]
    assert not differ, f"columns that differ between DuckDB and Spark: {differ}"
    assert duck_alerts == spark_alerts
