"""``telshield police``: the operator's side of police coordination (警企协同) — the queue of
unit requests, maker-checker (prepare, then approve by someone else), rejection, SLA escalation
and breaches, sealed response packages and clue feedback. Units and officers are made with
``telshield users unit-add`` and ``telshield users add --role police --unit CODE``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from telshield.cli.common import (
    ConfigOption,
    DataDirOption,
    command_group,
    existing_data,
    table,
    whole,
)
from telshield.cli.users import ActorOption, default_actor
from telshield.domain.police import PoliceRequest, TargetKind, mask_id_hash
from telshield.services.police import PoliceService

console = Console()
police_app = command_group(help="Police coordination: requests from units, maker-checker, SLA, "
                         "response packages, clue feedback.", no_args_is_help=True)
IdArg = Annotated[int, typer.Argument(help="The request id.")]
NoteOption = Annotated[str, typer.Option(help="A note kept with the step.")]


def _service(data_dir: Path | None, config: Path | None) -> PoliceService:
    from telshield import wiring
    from telshield.wiring.police import police

    settings = existing_data(config, data_dir)
    return police(settings, wiring.open_store(settings))


def _print(qs: list[PoliceRequest]) -> None:
    t = table(whole("id"), "unit", "kind", "target", "status", "deadline (UTC)", "escalated",
              "maker", "checker", "case")
    for q in qs:
        target = mask_id_hash(q.target) if q.target_kind is TargetKind.ID else q.target
        kind = q.kind.value + (f"/{q.action.value}" if q.action else "")
        t.add_row(str(q.id), q.unit, kind, target, q.status.value, f"{q.deadline:%Y-%m-%d %H:%M}",
                  "yes" if q.escalated_at else "", q.prepared_by, q.decided_by, q.case_ref)
    console.print(t)


@police_app.command("queue")
def queue_cmd(status: Annotated[str, typer.Option(help="submitted, prepared, answered or "
                                                  "rejected.")] = "",
              unit: Annotated[str, typer.Option(help="Only this unit's.")] = "",
              data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """List the units' requests, newest first."""
    _print(_service(data_dir, config).queue(status=status, unit=unit))


@police_app.command("prepare")
def prepare_cmd(request_id: IdArg, note: NoteOption = "", actor: ActorOption = "",
                data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """The maker's step: propose a request for approval."""
    q = _service(data_dir, config).prepare(request_id, actor=actor or default_actor(),
                                           note=note)
    console.print(f"request {q.id} prepared by {q.prepared_by}; another person approves it")


@police_app.command("approve")
def approve_cmd(request_id: IdArg, note: NoteOption = "", actor: ActorOption = "",
                data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """The checker's step (not the maker): execute the request and seal its response."""
    q, r = _service(data_dir, config).approve(request_id, actor=actor or default_actor(),
                                              note=note)
    console.print(f"request {q.id} answered by {q.decided_by}; response SHA-256:")
    print(r.sha256)


@police_app.command("reject")
def reject_cmd(request_id: IdArg, reason: Annotated[str, typer.Option(help="Why (the unit "
                                                                       "sees it).")],
               actor: ActorOption = "", data_dir: DataDirOption = None,
               config: ConfigOption = None) -> None:
    """Refuse a request, saying why."""
    q = _service(data_dir, config).reject(request_id, actor=actor or default_actor(),
                                          reason=reason)
    console.print(f"request {q.id} rejected")


@police_app.command("escalate")
def escalate_cmd(actor: ActorOption = "", data_dir: DataDirOption = None,
                 config: ConfigOption = None) -> None:
    """Escalate every open request past its SLA deadline (each `telshield run` tick does too)."""
    late = _service(data_dir, config).escalate(actor=actor or default_actor())
    console.print(f"{len(late)} request(s) escalated")
    if late:
        _print(late)


@police_app.command("breaches")
def breaches_cmd(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Requests that missed their SLA: answered late, or open past the deadline."""
    _print(_service(data_dir, config).breaches())


@police_app.command("package")
def package_cmd(request_id: IdArg,
                out: Annotated[Path, typer.Option(help="Folder for request-N.json and "
                                                  "request-N.html.")] = Path("."),
                actor: ActorOption = "", data_dir: DataDirOption = None,
                config: ConfigOption = None) -> None:
    """Write a request's sealed response (JSON + HTML) and print its SHA-256; audited."""
    _, r = _service(data_dir, config).package(request_id, actor=actor or default_actor())
    out.mkdir(parents=True, exist_ok=True)
    (out / f"request-{request_id}.json").write_text(r.package, encoding="utf-8")
    (out / f"request-{request_id}.html").write_text(r.html, encoding="utf-8")
    console.print(f"wrote {out / f'request-{request_id}.json'} and .html; SHA-256 of the JSON "
                  f"(html: {r.html_sha256}):")
    print(r.sha256)


@police_app.command("verify")
def verify_cmd(request_id: IdArg, data_dir: DataDirOption = None,
               config: ConfigOption = None) -> None:
    """Check a stored response against its recorded SHA-256 (exit 1 if it was altered)."""
    ok, digest = _service(data_dir, config).verify(request_id)
    console.print(f"request {request_id}: {'intact' if ok else 'ALTERED'} ({digest})")
    if not ok:
        raise typer.Exit(1)


@police_app.command("feedback")
def feedback_cmd(clue_id: str,
                 outcome: Annotated[str, typer.Option(help="blocked, suspended, traced, "
                                                      "no_subscriber, not_actioned or other.")],
                 note: NoteOption = "", actor: ActorOption = "",
                 data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Tell a clue's unit what was done with it."""
    fb = _service(data_dir, config).feedback(clue_id, outcome=outcome, note=note,
                                             actor=actor or default_actor())
    console.print(f"clue {fb.clue_id} ({fb.unit}): {fb.outcome}")


@police_app.command("report")
def report_cmd(month: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
               out: Annotated[Path | None, typer.Option(help="Write the JSON here.")] = None,
               out_dir: Annotated[Path | None, typer.Option(
                   help="Write the report's files (JSON, route figures CSV) and a SHA256SUMS "
                   "manifest into this folder; each file's hash is audited.",
                   file_okay=False)] = None,
               actor: ActorOption = "", data_dir: DataDirOption = None,
               config: ConfigOption = None) -> None:
    """The month's police coordination statistics and period figures (the overview's and the
    replay's query) as canonical JSON; prints its SHA-256."""
    svc = _service(data_dir, config)
    if out_dir is not None:
        r, sums = svc.export_monthly(month, out_dir, actor=actor or default_actor())
        for name, digest in sorted(sums.items()):
            console.print(f"{digest}  {out_dir / name}")
        console.print(f"check with: telshield police report-verify {out_dir}")
        return
    r = svc.monthly(month, actor=actor or default_actor())
    if out is None:
        typer.echo(r.package)
    else:
        out.write_text(r.package, encoding="utf-8")
        console.print(f"wrote {out}; SHA-256:")
    print(r.sha256)


@police_app.command("report-verify")
def report_verify_cmd(folder: Annotated[Path, typer.Argument(
                          help="The folder `police report --out-dir` wrote.", exists=True,
                          file_okay=False)],
                      data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Check a report folder's files against its SHA256SUMS and the hashes audited at export
    (exit 1 if any file is missing or altered)."""
    check = _service(data_dir, config).verify_monthly(folder)
    for name, state in check.files.items():
        console.print(f"{name}: {state}")
    console.print(f"report {check.month}: {'intact' if check.ok else 'NOT INTACT'}")
    if not check.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``telshield police``."""
    app.add_typer(police_app, name="police")
