"""Where detection's lazy Ibis expressions run: the one place that picks DuckDB or Spark.

Detectors (``telshield.detect``) build expressions and services execute them on the backend of
the ``FeedReader`` they are given; this module makes that backend from the ``[engine]``
settings (or a command's ``--engine``) and says how it opens a list of Parquet files. A Spark
session is built from ``engine.spark_master`` and ``engine.spark_conf``: ``local[*]`` on one
machine, ``yarn`` or ``k8s://...`` on a cluster (``docs/scale.md``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from telshield.domain.errors import InvalidInput, Unavailable
from telshield.services.lakeread import Backend, FeedReader, Prepared
from telshield.settings import EngineSettings, Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = get_args(EngineName)

# Settings a Spark session always gets, whatever the configuration says: feed times are naive
# China Standard Time wall-clock values, read and compared as they are, never shifted by the
# session's time zone (DuckDB does the same).
SPARK_FIXED = {"spark.sql.session.timeZone": "UTC"}
# Defaults a configuration may override: no console progress bars over the CLI's own, and
# Parquet timestamps without a time zone read as such.
SPARK_DEFAULTS = {
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
}


@dataclass(frozen=True)
class Engine:
    """A named backend for feed readers (``duckdb`` or ``spark``)."""

    name: str
    backend: Backend

    @property
    def con(self) -> ibis.BaseBackend:
        return self.backend.con

    def memtable(self, table: pa.Table) -> ir.Table:
        """An in-memory Arrow table as a lazy table on this engine."""
        return self.backend.memtable(table)

    def reader(self, root: Path) -> FeedReader:
        """A feed reader over ``root`` that runs on this engine."""
        return FeedReader(root, self.backend)


def engine_name(settings: Settings, override: str | None = None) -> EngineName:
    """The engine a command runs on: ``override`` (``--engine``), else ``[engine] name``."""
    name = override if override is not None else settings.engine.name
    if name not in ENGINES:
        raise InvalidInput(f"--engine {name!r}: use one of {', '.join(ENGINES)}")
    return cast(EngineName, name)


def engine(settings: Settings, override: str | None = None) -> Engine:
    """The engine of ``settings`` (or ``override``): DuckDB in this process, or Spark."""
    name = engine_name(settings, override)
    if name == "spark":
        return spark_engine(spark_session(settings.engine))
    return Engine("duckdb", Backend())


def spark_conf(e: EngineSettings) -> dict[str, str]:
    """The configuration a Spark session is built with: defaults, then ``[engine.spark_conf]``,
    then the fixed keys (the session time zone)."""
    for key, value in e.spark_conf.items():
        if key in SPARK_FIXED and value != SPARK_FIXED[key]:
            raise InvalidInput(f"engine.spark_conf.{key} = {value!r}: telshield needs "
                               f"{SPARK_FIXED[key]!r} (feed times are naive wall-clock values)")
    return {**SPARK_DEFAULTS, **e.spark_conf, **SPARK_FIXED}


def spark_session(e: EngineSettings) -> SparkSession:
    """A Spark session for ``[engine]`` (the running one if this process has one: Spark keeps
    one per process, and ``getOrCreate`` then applies the configuration it can)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise Unavailable("the spark engine needs PySpark: install telshield[spark] "
                          "(and Java 17)") from None
    if e.spark_master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder: Any = SparkSession.builder.master(e.spark_master).appName(e.spark_app_name)
    for key, value in spark_conf(e).items():
        builder = builder.config(key, value)
    return cast("SparkSession", builder.getOrCreate())


class SparkBackend(Backend):
    """Feed readers' tables on a Spark session: files and Arrow tables become temporary views,
    a kept result is a cached frame (unsorted: Ibis's ``cache``), and expressions are bound
    anew each time rather than compiled once."""

    def __init__(self, session: SparkSession) -> None:
        for key, value in SPARK_FIXED.items():
            session.conf.set(key, value)
        super().__init__(ibis.pyspark.connect(session))
        self.session = session

    def open_parquet(self, files: list[str]) -> ir.Table:
        name = ibis.util.gen_name("feed")
        self.session.read.parquet(*files).createOrReplaceTempView(name)
        return self.con.table(name)

    def memtable(self, table: pa.Table) -> ir.Table:
        # As Arrow in one piece (Ibis's own memtable goes through pandas row by row, minutes
        # for the numbering plan's 130,000 prefixes).
        name = ibis.util.gen_name("mem")
        self.session.createDataFrame(table).createOrReplaceTempView(name)
        return self.con.table(name)

    def keep(self, name: str, t: ir.Table, order: Sequence[str] = ()) -> ir.Table:
        return t.cache()

    def drop(self, name: str, kept: ir.Table) -> None:
        kept.release()

    def prepare(self, name: str, schema: pa.Schema,
                build: Callable[[ir.Table], list[ir.Table]]) -> Prepared | None:
        return None


def spark_engine(session: SparkSession) -> Engine:
    """An engine over a running Spark session (tests make one per module and share it)."""
    return Engine("spark", SparkBackend(session))
