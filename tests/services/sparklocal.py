"""The Spark settings the engine tests share: one small local session per test module."""

from __future__ import annotations

from pathlib import Path

from telshield.settings import Settings

# Tiny data: few partitions, no UI, and no adaptive re-planning or whole-stage code generation
# (both cost far more than they save on a few thousand rows; neither changes a result).
CONF = {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2",
        "spark.ui.enabled": "false", "spark.sql.adaptive.enabled": "false",
        "spark.sql.codegen.wholeStage": "false"}


def local_settings(data_dir: Path) -> Settings:
    """Settings whose Spark engine is ``local[2]`` with ``CONF``."""
    return Settings(data_dir=data_dir, engine={"spark_master": "local[2]", "spark_conf": CONF})
