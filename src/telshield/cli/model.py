"""``telshield model``: train and score the fraud model, on the lake or any feature table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from telshield.cli.common import (
    ConfigOption,
    DataDirOption,
    EngineOption,
    command_group,
    existing_data,
    settings_from,
    table,
    whole,
)
from telshield.cli.detect import FeedsOption, parse_span, parse_time
from telshield.cli.users import ActorOption, default_actor
from telshield.domain.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

console = Console()
err = Console(stderr=True)
model_app = command_group(help="The fraud model: train, list, choose, score.", no_args_is_help=True)

TableOption = Annotated[Path | None, typer.Option(
    "--features", help="A per-number feature table (CSV or Parquet) instead of the lake.",
    exists=True, dir_okay=False)]
EdgesOption = Annotated[Path | None, typer.Option(
    help="Number-to-number edge list (CSV/Parquet, first two columns) for graph features.",
    exists=True, dir_okay=False)]
LabelOption = Annotated[str, typer.Option(help="Label column (1 = fraud, 0 = not).")]
IdOption = Annotated[str, typer.Option("--id", help="Number (id) column of the feature table.")]


def _metrics(metrics: dict[str, float], title: str) -> None:
    t = Table("class", "precision", "recall", "F1", "support", title=title)
    for cls in ("negative", "positive"):
        t.add_row(cls, f"{metrics[f'precision_{cls}']:.3f}", f"{metrics[f'recall_{cls}']:.3f}",
                  f"{metrics[f'f1_{cls}']:.3f}", f"{metrics[f'support_{cls}']:,.0f}")
    t.add_row("macro", f"{metrics['precision_macro']:.3f}", f"{metrics['recall_macro']:.3f}",
              f"{metrics['f1_macro']:.3f}", "")
    console.print(t)
    ap = metrics.get("average_precision", float("nan"))
    console.print(f"ROC-AUC {metrics['roc_auc']:.3f}, average precision {ap:.3f} (raw scores; "
                  f"threshold {metrics['threshold']:.3f})")


def _read_edges(edges: Path | None) -> pd.DataFrame | None:
    from telshield.services.model import read_table

    return read_table(edges).astype(str) if edges is not None else None


@model_app.command("train")
def train_cmd(
    features: TableOption = None,
    label: LabelOption = "label",
    id_column: IdOption = "msisdn",
    edges: EdgesOption = None,
    folds: Annotated[int, typer.Option(help="Cross-validation folds (outer, for a table).")] = 5,
    inner: Annotated[int, typer.Option(
        help="Table: inner folds that choose hyperparameters, calibration and threshold.")] = 3,
    start: Annotated[str | None, typer.Option("--from", help="Lake training start (CST).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Lake training end (CST).")] = None,
    step: Annotated[str, typer.Option(help="Lake: one feature snapshot per step.")] = "1d",
    confirmed: Annotated[Path | None, typer.Option(
        help="Lake: more numbers whose fraud was confirmed (CSV/Parquet, msisdn column), "
        "besides the store's confirmed cases.",
        exists=True, dir_okay=False)] = None,
    feeds: FeedsOption = None,
    engine: EngineOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Train a model: on a feature table (prints cross-validated metrics) or on the lake.

    A new model acts on no number: judge it, then `telshield model choose VERSION` (lake
    models only) for detection to use it.
    """
    from telshield.cli.progress import steps
    from telshield.wiring.detection import models_dir

    settings = settings_from(config, data_dir)
    out = models_dir(settings)
    if features is not None:
        from telshield.services.model import TableSpec, read_table, train_table

        art, metrics = train_table(read_table(features), TableSpec(label, id_column), out,
                                   edges=_read_edges(edges), folds=folds, inner=inner,
                                   progress=lambda line: err.print(f"  {line}"))
        _metrics(metrics, f"nested cross-validation ({folds} outer x {inner} inner folds), "
                          "each outer part at the threshold it chose")
        console.print(f"worst outer fold macro-F1 {metrics['f1_macro_fold_min']:.3f}; "
                      f"Brier score {metrics['brier']:.4f} (calibrated scores)")
        console.print(f"the saved model: threshold {art.meta['threshold']:.3f} on calibrated "
                      f"scores; {', '.join(f'{k} {v}' for k, v in art.meta['params'].items())}")
    else:
        if start is None or end is None:
            raise InvalidInput("give --features TABLE, or --from and --to to train on the lake")
        from telshield.services.detection import train_from_lake
        from telshield.services.model import read_table
        from telshield.wiring.detection import detector, disposal_labels

        det = detector(settings, lake=feeds, keep_state=False, use_model=False,
                       engine=engine)
        known, released = disposal_labels(settings)
        if confirmed:
            known |= set(read_table(confirmed)["msisdn"].astype(str))
        with steps("model train") as progress:
            art = train_from_lake(det, parse_time(start), parse_time(end), out,
                                  step=parse_span(step), confirmed=known, released=released,
                                  progress=progress)
        console.print(f"labels: police clues, {len(known):,} confirmed by disposal, "
                      f"{len(released):,} released (labelled honest)")
        split = art.meta.get("metrics_time_split")
        if split:
            _metrics(split, f"time split at {art.meta['split_at']}")
            method = (art.meta.get("calibration") or {}).get("method", "isotonic")
            console.print(f"Brier score on the time split: raw {split['brier_raw']:.4f}, "
                          f"calibrated ({method}, fitted there) {split['brier_calibrated']:.4f}")
    console.print(f"saved {art.kind} model [bold]{art.version}[/] ({len(art.features)} features) "
                  f"in {out}")
    if art.kind == "lake":
        console.print(f"not used by detection until chosen: telshield model choose {art.version}")


@model_app.command("score")
def score_cmd(
    features: Annotated[Path, typer.Option("--features", help="Feature table (CSV/Parquet).",
                                           exists=True, dir_okay=False)],
    out: Annotated[Path | None, typer.Option(help="Write scores here (.csv or .parquet).")] = None,
    label: LabelOption = "label",
    id_column: IdOption = "msisdn",
    edges: EdgesOption = None,
    version: Annotated[str | None, typer.Option(
        help="Table model version (default: the newest table model).")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Score a feature table; prints metrics when it has a label column."""
    from telshield.services.model import TABLE, TableSpec, load, read_table, score_table
    from telshield.wiring.detection import models_dir

    settings = settings_from(config, data_dir)
    art = load(models_dir(settings), version, kind=TABLE)
    scores, metrics = score_table(read_table(features), art, TableSpec(label, id_column),
                                  edges=_read_edges(edges), models_dir=models_dir(settings))
    if out is not None:
        if out.suffix == ".parquet":
            scores.to_parquet(out, index=False)
        else:
            scores.to_csv(out, index=False)
        console.print(f"wrote {len(scores):,} scores to {out}")
    if metrics is not None:
        _metrics(metrics, f"model {art.version} on {features.name}")
    else:
        console.print(scores.sort_values("score", ascending=False).head(10).to_string(index=False))


@model_app.command("list")
def list_cmd(
    data_dir: DataDirOption = None, config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object a version, for scripts.")] = False,
) -> None:
    """List trained versions, oldest first: kind, size, metrics, and which one detection uses."""
    import dataclasses
    import json

    from telshield.services.model import catalogue
    from telshield.wiring.detection import models_dir

    d = models_dir(settings_from(config, data_dir))
    if as_json:
        for info in catalogue(d):
            typer.echo(json.dumps(dataclasses.asdict(info), ensure_ascii=False))
        return
    t = table(whole("version"), "kind", "created", "rows", "positives", "features",
              "macro F1", "ROC-AUC", "chosen")
    for i in catalogue(d):
        t.add_row(i.version, i.kind, i.created_at[:19], _n(i.rows), _n(i.positives),
                  str(i.features), _m(i.metrics, "f1_macro"), _m(i.metrics, "roc_auc"),
                  "yes" if i.chosen else "")
    console.print(t)


def _n(v: int | None) -> str:
    return "" if v is None else f"{v:,}"


def _m(metrics: dict[str, float], key: str) -> str:
    return f"{metrics[key]:.3f}" if key in metrics else ""


@model_app.command("choose")
def choose_cmd(
    version: Annotated[str | None, typer.Argument(
        help="The lake model version detection scores with from its next run.")] = None,
    none: Annotated[bool, typer.Option("--none", help="Choose no model: rules only.")] = False,
    reason: Annotated[str, typer.Option(
        help="Why (for the audit log): the evaluation that justified it.")] = "",
    actor: ActorOption = "",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Choose the lake model detection uses (after judging it), or --none for rules only.
    The choice is an audit event (``model.choose`` / ``model.unchoose``) in the store."""
    from telshield.services.model import choose, unchoose
    from telshield.wiring import open_store
    from telshield.wiring.detection import models_dir

    if none == (version is not None):
        raise InvalidInput("give a VERSION (see `telshield model list`) or --none")
    settings = existing_data(config, data_dir)
    d = models_dir(settings)
    store = open_store(settings)
    who = actor or default_actor()
    if version is None:
        unchoose(d, actor=who, store=store, reason=reason)
        console.print("no model chosen: detection runs the rules only")
        return
    info = choose(d, version, actor=who, store=store, reason=reason)
    console.print(f"detection scores with [bold]{info.version}[/] from its next run")


def register(app: typer.Typer) -> None:
    """Add ``model`` to the CLI."""
    app.add_typer(model_app, name="model")
