"""``telshield registration``: the registration check (入网核验), the numbers under an ID, and
staff IDs suspended from registering."""

from __future__ import annotations

import json
import wave
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
from telshield.domain.errors import InvalidInput
from telshield.domain.registrations import CheckResult, Order, StaffSuspension
from telshield.services.registrations import RegistrationService

console = Console()
registration_app = command_group(help="The registration check (入网核验) before a SIM is issued.",
                               no_args_is_help=True)
staff_app = command_group(help="Staff IDs (工号) suspended from registering.",
                        no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")]


def _service(config: Path | None, data_dir: Path | None) -> RegistrationService:
    from telshield import wiring
    from telshield.wiring.registrations import registrations

    settings = existing_data(config, data_dir)
    return registrations(settings, wiring.open_store(settings))


def _result_json(r: CheckResult) -> str:
    s = r.statement
    return json.dumps({
        "id": r.id, "decision": r.decision.value, "at": r.at.isoformat(),
        "reasons": [{"code": x.code, "text": x.text, "decision": x.decision.value}
                    for x in r.reasons],
        "numbers_held": list(r.held), "appeal_channel": r.appeal_channel,
        "retake": r.retake.value,
        "statement": None if s is None else {"score": s.score, "passed": s.passed,
                                             "tail_heard": s.tail_heard,
                                             "mismatch": s.summary()},
    }, ensure_ascii=False)


def read_wav(path: Path) -> tuple[bytes, int]:
    """A WAV file's mono 16-bit PCM frames and sample rate; InvalidInput for other audio."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                raise InvalidInput(f"{path}: the statement's audio must be mono 16-bit PCM "
                                   "WAV; convert it, e.g. ffmpeg -i IN -ac 1 -ar 16000 "
                                   "-sample_fmt s16 OUT.wav")
            return w.readframes(w.getnframes()), w.getframerate()
    except (OSError, EOFError, wave.Error) as e:
        raise InvalidInput(f"{path} is not a readable WAV file: {e}") from None


@registration_app.command("check")
def check_cmd(
    id_hash: Annotated[str, typer.Option("--id-hash", help="HMAC of the applicant's ID "
                                         "(64 hex digits); never the ID number itself.")],
    channel: Annotated[str, typer.Option("--channel", help="Dealer channel ID.")],
    staff: Annotated[str, typer.Option("--staff", help="Staff ID (工号) registering.")],
    number: Annotated[str, typer.Option("--number", help="The number applied for.")],
    terminal: Annotated[str, typer.Option("--terminal", help="Registration terminal.")] = "",
    holder_kind: Annotated[str, typer.Option(
        "--holder-kind", help="individual, enterprise or iot.")] = "individual",
    order_id: Annotated[str, typer.Option("--order-id", help="E-channel order.")] = "",
    address_hash: Annotated[str, typer.Option("--address-hash", help="HMAC of the order's "
                                              "delivery address.")] = "",
    contact: Annotated[str, typer.Option("--contact", help="The order's contact number.")] = "",
    ip: Annotated[str, typer.Option("--ip", help="The order's IP address.")] = "",
    device: Annotated[str, typer.Option("--device", help="The order's device ID.")] = "",
    transcript: Annotated[str | None, typer.Option(
        "--transcript", help="The video statement as recognised (checked, never stored).")
    ] = None,
    audio: Annotated[Path | None, typer.Option(
        "--audio", help="The video statement's sound (mono 16-bit WAV), transcribed by the "
        "recogniser in registration.statement_model.")] = None,
    retake_transcript: Annotated[str | None, typer.Option(
        "--retake-transcript", help="The second recording of the video statement, after a "
        "check answered retake (judged strictly, once; never stored).")] = None,
    retake_audio: Annotated[Path | None, typer.Option(
        "--retake-audio", help="The second recording's sound (mono 16-bit WAV), transcribed "
        "as --audio is.")] = None,
    as_json: JsonOption = False,
    actor: ActorOption = "",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Check one SIM application: allow, retake (record the video statement once more and
    check again with --retake-transcript), verify (in person, face check) or refuse."""
    order = Order.new(order_id=order_id, address_hash=address_hash, contact=contact, ip=ip,
                      device_id=device)
    if audio is not None and transcript is not None:
        raise InvalidInput("give --transcript or --audio, not both")
    if retake_audio is not None and retake_transcript is not None:
        raise InvalidInput("give --retake-transcript or --retake-audio, not both")
    s = _service(config, data_dir)
    if audio is not None:
        transcript = s.transcribe(*read_wav(audio))
    if retake_audio is not None:
        retake_transcript = s.transcribe(*read_wav(retake_audio))
    r = s.check(
        id_hash=id_hash, holder_kind=holder_kind, channel_id=channel, staff_id=staff,
        terminal_id=terminal, msisdn=number, actor=actor or default_actor(), order=order,
        transcript=transcript, retake_transcript=retake_transcript)
    if as_json:
        typer.echo(_result_json(r))
        return
    console.print(f"[bold]{r.decision.value}[/] (check {r.id})")
    for x in r.reasons:
        console.print(f"  {x.decision.value}: {x.code}: {x.text}")
    console.print(f"numbers under the ID: {', '.join(r.held) if r.held else 'none'}")
    if r.statement is not None:
        st = r.statement
        what = "retaken video statement" if r.retake.value in ("passed", "failed") \
            else "video statement"
        console.print(f"{what}: {'passed' if st.passed else 'failed'}, score "
                      f"{st.score:.2f}: {st.summary()}", markup=False)
    if r.retake.value == "asked":
        console.print("retake: record the statement once more and check again with "
                      "--retake-transcript (or --retake-audio)")
    elif r.retake.value == "ignored":
        console.print("retake: ignored (none was asked for this ID and number)")
    if r.appeal_channel:
        console.print(f"appeal: {r.appeal_channel}")


@registration_app.command("numbers")
def numbers_cmd(
    id_hash: Annotated[str, typer.Argument(help="HMAC of the ID (64 hex digits).")],
    as_json: JsonOption = False, actor: ActorOption = "", data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """The numbers under an ID (名下号码), masked."""
    got = _service(config, data_dir).numbers(id_hash, actor=actor or default_actor())
    if as_json:
        typer.echo(json.dumps({"numbers": list(got)}))
        return
    console.print("\n".join(got) if got else "no numbers under this ID")


def _staff_table(items: list[StaffSuspension]) -> None:
    t = table(whole("staff ID"), "reason", "by", "at", "lifted")
    for s in items:
        lifted = f"{s.lifted_at:%Y-%m-%d %H:%M} by {s.lifted_by}" if s.lifted_at else ""
        t.add_row(s.staff_id, s.reason, s.actor, f"{s.at:%Y-%m-%d %H:%M}", lifted)
    console.print(t)


@staff_app.command("suspend")
def suspend_cmd(staff_id: str, reason: Annotated[str, typer.Option(help="Why (audited).")],
                actor: ActorOption = "", data_dir: DataDirOption = None,
                config: ConfigOption = None) -> None:
    """Suspend a staff ID from registering: its next checks are refused."""
    s = _service(config, data_dir).suspend_staff(staff_id, reason=reason,
                                                 actor=actor or default_actor())
    _staff_table([s])


@staff_app.command("lift")
def lift_cmd(staff_id: str, reason: Annotated[str, typer.Option(help="Why (audited).")],
             actor: ActorOption = "", data_dir: DataDirOption = None,
             config: ConfigOption = None) -> None:
    """Lift a staff ID's suspension."""
    s = _service(config, data_dir).lift_staff(staff_id, reason=reason,
                                              actor=actor or default_actor())
    _staff_table([s])


@staff_app.command("list")
def list_cmd(
    include_lifted: Annotated[bool, typer.Option("--all", help="Lifted ones too.")] = False,
    data_dir: DataDirOption = None, config: ConfigOption = None,
) -> None:
    """Staff IDs suspended from registering, newest first."""
    _staff_table(_service(config, data_dir).suspended_staff(include_lifted=include_lifted))


def register(app: typer.Typer) -> None:
    """Add ``telshield registration``."""
    registration_app.add_typer(staff_app, name="staff")
    from telshield.cli import regrisk

    regrisk.install(registration_app)
    app.add_typer(registration_app, name="registration")
