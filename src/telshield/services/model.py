"""Model use cases: train and score on any feature table, or on the lake; versioned artefacts.

An artefact is a folder ``<models_dir>/<version>/`` with ``model.txt`` (LightGBM) and
``meta.json`` (kind, feature list, training window, label source, metrics, created time).

Two kinds never mix: a **lake** model reads the features detection computes from the feeds and
may score in detection; a **table** model reads the columns of a bring-your-own feature table
and only scores such tables (``telshield model score``). A freshly trained model acts on no
number: detection uses the one lake model an operator has chosen after judging it
(``chosen.json`` beside the versions, written by ``choose``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import structlog

from telshield.detect import model as m
from telshield.detect import tuning
from telshield.domain.audit import AuditEvent
from telshield.domain.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import lightgbm

    from telshield.services.store import Clock, Store

log = structlog.get_logger(__name__)

LAKE, TABLE = "lake", "table"
KINDS = (LAKE, TABLE)
CHOSEN = "chosen.json"


@dataclass
class Artefact:
    """A trained model with what it needs to be used and judged."""

    version: str
    booster: lightgbm.Booster
    features: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``lake`` (scores in detection) or ``table`` (scores feature tables)."""
        return kind_of(self.meta)

    @property
    def uses_graph(self) -> bool:
        """Whether the model reads graph features (it then needs an edge list to score)."""
        return bool(self.meta.get("graph"))


def save(art_booster: lightgbm.Booster, features: list[str], meta: dict[str, Any],
         models_dir: Path) -> Artefact:
    """Write a new artefact version and return it."""
    text = art_booster.model_to_string()
    now = datetime.now(UTC)
    version = f"m{now:%Y%m%dT%H%M%S}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    d = models_dir / version
    d.mkdir(parents=True, exist_ok=False)
    (d / "model.txt").write_text(text)
    meta = {**meta, "version": version, "features": features, "created_at": now.isoformat()}
    (d / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    log.info("model.saved", version=version, path=str(d))
    return Artefact(version, art_booster, features, meta)


def kind_of(meta: dict[str, Any]) -> str:
    """The kind of an artefact from its metadata (older artefacts name it ``source``)."""
    return str(meta.get("kind") or meta.get("source") or TABLE)


def _versions(models_dir: Path) -> list[str]:
    if not models_dir.exists():
        return []
    return sorted(p.name for p in models_dir.glob("m*") if (p / "meta.json").exists())


def _meta(models_dir: Path, version: str) -> dict[str, Any]:
    d = models_dir / version
    if not (d / "model.txt").exists() or not (d / "meta.json").exists():
        known = ", ".join(_versions(models_dir)[-5:]) or "none"
        raise NotFound(f"model version {version!r} not found in {models_dir} "
                       f"(newest: {known}); see `telshield model list`")
    meta: dict[str, Any] = json.loads((d / "meta.json").read_text())
    return meta


def load(models_dir: Path, version: str | None = None, *, kind: str | None = None) -> Artefact:
    """The artefact ``version`` (default: the newest of ``kind``) from ``models_dir``.

    With ``kind``, a version of the other kind is refused: a table model cannot score the
    lake's features, nor a lake model a table's columns.
    """
    import lightgbm

    if version is None:
        found = [v for v in _versions(models_dir)
                 if kind is None or kind_of(_meta(models_dir, v)) == kind]
        if not found:
            what = f"{kind} model" if kind else "model"
            raise NotFound(f"no trained {what} in {models_dir}; run `telshield model train` first")
        version = found[-1]
    meta = _meta(models_dir, version)
    if kind is not None and kind_of(meta) != kind:
        how = "on the lake with --from/--to" if kind == LAKE else "on a feature table (--features)"
        raise InvalidInput(f"model {version} is a {kind_of(meta)} model; a {kind} model is "
                           f"needed here (train one {how}; see `telshield model list`)")
    booster = lightgbm.Booster(model_str=(models_dir / version / "model.txt").read_text())
    return Artefact(version, booster, list(meta["features"]), meta)


@dataclass(frozen=True)
class ModelInfo:
    """One trained version as ``telshield model list`` shows it."""

    version: str
    kind: str
    created_at: str
    rows: int | None
    positives: int | None
    features: int
    metrics: dict[str, float]
    chosen: bool


def chosen_version(models_dir: Path) -> str | None:
    """The lake model version detection uses, or None when none has been chosen."""
    path = models_dir / CHOSEN
    if not path.exists():
        return None
    return str(json.loads(path.read_text())["version"])


def catalogue(models_dir: Path) -> list[ModelInfo]:
    """Every trained version, oldest first, with its kind, metrics and whether it is chosen."""
    chosen = chosen_version(models_dir)
    out = []
    for v in _versions(models_dir):
        meta = _meta(models_dir, v)
        metrics = meta.get("metrics_time_split") or meta.get("metrics_cv") or {}
        out.append(ModelInfo(
            v, kind_of(meta), str(meta.get("created_at", "")), meta.get("rows"),
            meta.get("positives"), len(meta.get("features", [])),
            {k: float(metrics[k]) for k in ("f1_macro", "roc_auc") if k in metrics},
            v == chosen))
    return out


def choose(models_dir: Path, version: str, *, actor: str = "cli", store: Store | None = None,
           reason: str = "", clock: Clock | None = None) -> ModelInfo:
    """Make ``version`` (a lake model) the one detection scores with, from the next run on.

    With a ``store`` the choice is an audit event (``model.choose``: the version, the one it
    replaces, its cross-validated metrics, who and why) committed with the switch: the file is
    renamed into place inside the transaction, so a failed rename leaves no event and a failed
    commit no switch."""
    meta = _meta(models_dir, version)
    if kind_of(meta) != LAKE:
        raise InvalidInput(
            f"model {version} was trained on a feature table: it scores such tables "
            f"(`telshield model score --version {version}`) but cannot score the lake's features; "
            f"choose a lake model (`telshield model list`)")
    before = chosen_version(models_dir)
    now = datetime.now(UTC)
    tmp = models_dir / (CHOSEN + ".tmp")
    tmp.write_text(json.dumps({"version": version, "chosen_at": now.isoformat(), "by": actor,
                               "reason": reason}))
    info = next(i for i in catalogue(models_dir) if i.version == version)
    _audited(store, actor, "model.choose", version,
             {"version": version, "replaces": before, "kind": info.kind,
              "metrics": info.metrics, "reason": reason},
             lambda: tmp.replace(models_dir / CHOSEN), clock)
    log.info("model.chosen", version=version, by=actor, replaces=before)
    return replace(info, chosen=True)


def unchoose(models_dir: Path, *, actor: str = "cli", store: Store | None = None,
             reason: str = "", clock: Clock | None = None) -> None:
    """Detection goes back to rules only (an audit event ``model.unchoose`` with a store)."""
    before = chosen_version(models_dir)
    _audited(store, actor, "model.unchoose", before or "none",
             {"replaces": before, "reason": reason},
             lambda: (models_dir / CHOSEN).unlink(missing_ok=True), clock)
    log.info("model.unchosen", by=actor, replaces=before)


def _audited(store: Store | None, actor: str, action: str, version: str,
             detail: dict[str, Any], switch: Callable[[], object], clock: Clock | None) -> None:
    """Run ``switch`` inside a transaction that records its audit event (or alone)."""
    if store is None:
        switch()
        return
    from telshield.services.store import SystemClock

    at = (clock or SystemClock()).now()
    with store.transaction() as tx:
        tx.audit.append([AuditEvent(actor, action, f"model:{version}", at, detail)])
        switch()


def chosen(models_dir: Path) -> Artefact | None:
    """The chosen lake model, or None when none has been chosen (detection then runs rules
    only: a trained model acts only once chosen)."""
    version = chosen_version(models_dir)
    return None if version is None else load(models_dir, version, kind=LAKE)


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet table; numbers stay text."""
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return pd.read_csv(path, dtype={0: str}, keep_default_na=True)
    raise InvalidInput(f"{path}: use a .csv or .parquet file")


@dataclass(frozen=True)
class TableSpec:
    """How to read a bring-your-own feature table."""

    label: str = "label"
    id_column: str = "msisdn"


def _prepare(frame: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, list[str]]:
    if spec.id_column not in frame.columns:
        raise InvalidInput(f"feature table needs an id column {spec.id_column!r} "
                           f"(columns: {', '.join(map(str, frame.columns[:10]))}...)")
    frame = frame.rename(columns={spec.id_column: "msisdn"})
    frame["msisdn"] = frame["msisdn"].astype(str)
    features = [c for c in frame.columns if c not in ("msisdn", spec.label)
                and pd.api.types.is_numeric_dtype(frame[c])]
    if not features:
        raise InvalidInput("feature table has no numeric feature columns")
    return frame.reset_index(drop=True), features


def _labels(frame: pd.DataFrame, spec: TableSpec) -> np.ndarray:
    if spec.label not in frame.columns:
        raise InvalidInput(f"feature table has no label column {spec.label!r}; pass --label NAME")
    y = pd.to_numeric(frame[spec.label], errors="coerce")
    if y.isna().any() or not set(y.unique()) <= {0, 1}:
        raise InvalidInput(f"label column {spec.label!r} must hold only 0 and 1")
    return y.to_numpy(dtype=int)


def train_table(
    frame: pd.DataFrame, spec: TableSpec, models_dir: Path, *,
    edges: pd.DataFrame | None = None, folds: int = 5, inner: int = 3,
    progress: Callable[[str], None] | None = None,
) -> tuple[Artefact, dict[str, float]]:
    """Nested cross-validation (hyperparameters, calibration and threshold chosen inside each
    outer part), then train on the whole table and save the artefact with what it chose."""
    frame, features = _prepare(frame, spec)
    y = _labels(frame, spec)
    nested = tuning.nested_cv(frame, y, features, edges=edges, outer=folds, inner=inner,
                              progress=progress)
    choice = tuning.deployed(nested, y)
    names = list(features)
    if edges is not None:
        stage1 = m.oof_scores(frame, y, features, k=folds)
        frame = m.with_graph(frame, y, np.ones(len(y), bool), features, edges, stage1)
        names += list(m.GRAPH_FEATURES)
    booster = m.fit(frame, y, names, params=choice.params)
    meta = {"kind": TABLE, "source": "table", "label": spec.label, "rows": len(y),
            "positives": int(y.sum()),
            "metrics_cv": nested.metrics, "selection": "nested cross-validation",
            "folds": {"outer": folds, "inner": inner}, "params": choice.params,
            "threshold": choice.threshold, "calibration": choice.calibration.to_json(),
            "graph": edges is not None, "stage1_features": features}
    art = save(booster, names, meta, models_dir)
    if edges is not None:
        stage1_booster = m.fit(frame, y, features)
        (models_dir / art.version / "stage1.txt").write_text(stage1_booster.model_to_string())
    return art, nested.metrics


def score_table(
    frame: pd.DataFrame, art: Artefact, spec: TableSpec, *, edges: pd.DataFrame | None = None,
    models_dir: Path | None = None,
) -> tuple[pd.DataFrame, dict[str, float] | None]:
    """Scores (and top reasons) for each row; metrics too when the table has labels."""
    import lightgbm

    frame = frame.rename(columns={spec.id_column: "msisdn"}).reset_index(drop=True)
    frame["msisdn"] = frame["msisdn"].astype(str)
    if art.uses_graph:
        if edges is None or models_dir is None:
            raise InvalidInput(f"model {art.version} uses graph features: pass --edges")
        stage1 = lightgbm.Booster(model_file=str(models_dir / art.version / "stage1.txt"))
        s1 = m.predict(stage1, frame)
        # Labels of the scored table are never used to build its features.
        frame = m.with_graph(frame, None, np.zeros(len(frame), bool), art.features, edges, s1)
    # Models saved before calibration existed score raw, at 0.5.
    raw = m.predict(art.booster, frame)
    scores = tuning.Calibration.from_json(art.meta.get("calibration"))(raw)
    threshold = float(art.meta.get("threshold", 0.5))
    why = m.reasons(art.booster, frame)
    out = pd.DataFrame({"msisdn": frame["msisdn"], "score": scores,
                        "reasons": ["; ".join(f"{c.feature}={c.value:g}" for c in r)
                                    for r in why]})
    out["fraud"] = scores >= threshold
    metrics: dict[str, float] | None = None
    if spec.label in frame.columns:  # cut at the threshold on calibrated, ranked on raw scores
        metrics = m.metrics_of(_labels(frame, spec), out["fraud"].to_numpy(dtype=int), raw)
        metrics["threshold"] = threshold
    return out, metrics
