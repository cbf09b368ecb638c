"""``telshield users``: make API keys for people and systems, rotate and disable them."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from telshield.cli.common import (
    ConfigOption,
    DataDirOption,
    InitOption,
    command_group,
    existing_data,
    table,
    whole,
)
from telshield.domain.users import User

console = Console()
users_app = command_group(help="Users and their API keys (roles: admin, analyst, disposer, "
                        "police, auditor, sales).", no_args_is_help=True)

ActorOption = Annotated[str, typer.Option("--actor", help="Who is doing this (for the audit).")]


def default_actor() -> str:
    """The audit name of whoever runs the CLI."""
    return "cli:" + getpass.getuser()


@users_app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(help="A unique user name.")],
    role: Annotated[str, typer.Option(help="admin, analyst, disposer, police, auditor or sales.")],
    unit: Annotated[str, typer.Option(help="The police unit (police users only).")] = "",
    actor: ActorOption = "",
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    init: InitOption = False,
) -> None:
    """Make a user and print their API key (shown once; only its hash is kept)."""
    from telshield import wiring

    d = wiring.disposal(existing_data(config, data_dir, init=init))
    user, key = d.users.add(name, role, unit=unit, actor=actor or default_actor())
    console.print(f"user [bold]{user.name}[/] ({user.role.value}) — API key, keep it safe:")
    print(key)
    if user.role.value == "police":
        from telshield.wiring.police import police

        settings = existing_data(config, data_dir)
        if user.unit not in {u.code for u in police(settings, d.store).units()}:
            console.print(f"[yellow]police unit {user.unit!r} is not registered: this officer "
                          f"files nothing until `telshield users unit-add {user.unit} --name "
                          "...`[/]")


@users_app.command("list")
def list_cmd(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """List users (never their keys)."""
    from telshield import wiring

    d = wiring.disposal(existing_data(config, data_dir))
    console.print(_table(d.users.all()))


def _table(users: list[User]) -> Table:
    t = table(whole("name"), "role", "unit", "active", "created (UTC)")
    for u in users:
        t.add_row(u.name, u.role.value, u.unit, "yes" if u.active else "no",
                  f"{u.created_at:%Y-%m-%d %H:%M}")
    return t


@users_app.command("rotate")
def rotate_cmd(name: str, actor: ActorOption = "", data_dir: DataDirOption = None,
               config: ConfigOption = None) -> None:
    """Give a user a new API key; the old one stops working."""
    from telshield import wiring

    d = wiring.disposal(existing_data(config, data_dir))
    print(d.users.rotate(name, actor=actor or default_actor()))


@users_app.command("disable")
def disable_cmd(name: str, actor: ActorOption = "", data_dir: DataDirOption = None,
                config: ConfigOption = None) -> None:
    """Stop a user's API key from working."""
    from telshield import wiring

    wiring.disposal(existing_data(config, data_dir)).users.disable(
        name, actor=actor or default_actor())
    console.print(f"user {name} disabled")


@users_app.command("unit-add")
def unit_add_cmd(
    code: Annotated[str, typer.Argument(help="The unit's code, e.g. NJ-PSB-FZ.")],
    name: Annotated[str, typer.Option(help="The unit's full name.")],
    actor: ActorOption = "", data_dir: DataDirOption = None, config: ConfigOption = None,
) -> None:
    """Register a police unit; its officers are added with --role police --unit CODE."""
    from telshield import wiring
    from telshield.wiring.police import police

    settings = existing_data(config, data_dir)
    u = police(settings, wiring.open_store(settings)).add_unit(code, name,
                                                               actor=actor or default_actor())
    console.print(f"police unit {u.code} ({u.name}) registered")


@users_app.command("units")
def units_cmd(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """List the registered police units."""
    from telshield import wiring
    from telshield.wiring.police import police

    settings = existing_data(config, data_dir)
    t = table(whole("code"), "name", "registered (UTC)")
    for u in police(settings, wiring.open_store(settings)).units():
        t.add_row(u.code, u.name, f"{u.created_at:%Y-%m-%d %H:%M}")
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add ``telshield users``."""
    app.add_typer(users_app, name="users")
