"""Composition of early warning: the detector, its rules, its model and where it reads, from one
``Settings``. Everything a detector needs is passed when it is made; nothing is set afterwards."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from telshield.domain.clock import store_now
from telshield.domain.errors import InvalidInput
from telshield.services.alerts import AlertSink, InMemoryAlertSink
from telshield.services.detection import DetectConfig, Detector, Whitelist
from telshield.services.model import LAKE, Artefact, chosen, load
from telshield.services.rules import load_rules
from telshield.settings import DetectSettings, Settings


def detect_config(d: DetectSettings) -> DetectConfig:
    """The detector's plain configuration from the ``[detect]`` settings."""
    return DetectConfig(windows=tuple(d.windows), lookback_days=d.lookback_days, watch=d.watch,
                        verify=d.verify, suspend=d.suspend, province=d.province,
                        model_alone=d.model_alone)


def models_dir(settings: Settings) -> Path:
    """Where model artefacts are kept."""
    return settings.detect.models_dir or settings.data_dir / "models"


def detection_model(settings: Settings, *, use_model: bool = True,
                    model_version: str | None = None) -> Artefact | None:
    """The model detection scores with: the version asked for, else the chosen lake model, else
    none. Only lake models qualify; a model nobody chose does not act."""
    if not use_model:
        return None
    if model_version is not None:
        return load(models_dir(settings), model_version, kind=LAKE)
    return chosen(models_dir(settings))


def state_path(settings: Settings, root: Path) -> Path:
    """Where a detector reading ``root`` keeps the time of its last run."""
    slug = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:10]
    return settings.data_dir / "detect" / f"state-{slug}.json"


def detector(
    settings: Settings, *, sink: AlertSink | None = None, lake: Path | None = None,
    clock: Callable[[], datetime] = store_now, keep_state: bool = True,
    use_model: bool = True, model_version: str | None = None, model: Artefact | None = None,
    rules_file: Path | None = None, whitelist: Whitelist | None = None,
    engine: str | None = None,
) -> Detector:
    """A detector over ``lake`` (default: the lake in settings; or a folder of per-feed Parquet
    folders), writing to ``sink`` (default: in memory), with the rules in ``rules_file`` (default:
    settings, else the shipped rules) and the chosen lake model (or ``model_version``, or
    ``model`` itself; none with ``use_model=False``). ``keep_state`` keeps the time of the last
    run in the data directory, so the next run scores only numbers active since. With
    ``whitelist`` (the store's lists), enterprise whitelist entries cap alerts at watch. It runs
    on ``engine`` (``--engine``: duckdb or spark; default ``[engine] name``)."""
    from telshield.detect.features import Window
    from telshield.detect.inbound import detection_feature_names
    from telshield.reference.numbering import load_plan_table
    from telshield.wiring.engine import engine as make_engine

    d = settings.detect
    if model is not None and model.kind != LAKE:
        raise InvalidInput(f"model {model.version} is a {model.kind} model: detection needs a "
                           f"lake model")
    windows = [Window.parse(w) for w in d.windows]
    rules = load_rules(rules_file or d.rules_file, detection_feature_names(windows))
    root = lake if lake is not None else settings.lake_dir
    eng = make_engine(settings, engine)
    return Detector(
        eng.reader(root),
        sink if sink is not None else InMemoryAlertSink(), detect_config(d), rules,
        model if model is not None else detection_model(
            settings, use_model=use_model, model_version=model_version),
        state_path=state_path(settings, root) if keep_state else None,
        plan=eng.memtable(load_plan_table(settings.data_dir)), clock=clock, whitelist=whitelist,
    )


def disposal_labels(settings: Settings) -> tuple[set[str], set[str]]:
    """What disposal has learnt of numbers, as a lake model's labels: those confirmed as fraud,
    and those released (an appeal or a re-verification cleared them). Both empty where the data
    directory holds no store."""
    from telshield.domain.cases import CaseStatus
    from telshield.domain.errors import NotFound
    from telshield.wiring.datadir import require_data_dir
    from telshield.wiring.disposal import disposal

    try:
        require_data_dir(settings)
    except NotFound:
        return set(), set()
    cases = disposal(settings).cases
    return cases.numbers(CaseStatus.CONFIRMED), cases.numbers(CaseStatus.RELEASED)
