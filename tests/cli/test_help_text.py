"""Every command's ``--help`` prints its help texts as written.

Help texts name settings sections (``[engine] name``) and environment variables
(``[env: TELSHIELD_CONFIG]``); printed through Rich markup those brackets were taken for style
tags and vanished ("default: the  name setting").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import typer.main
from typer.testing import CliRunner

from telshield.cli import _register, app

BRACKETED = re.compile(r"\[[^\]\n]+\]")


def _commands(group: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command under a group (Typer's own Click: typed loosely, walked by its API)."""
    ctx = group.make_context("telshield", [], resilient_parsing=True)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        yield (*path, name), command
        if hasattr(command, "list_commands"):
            yield from _commands(command, (*path, name))


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_bracketed_help_text_reaches_every_commands_help() -> None:
    if not any(g.name == "audit" for g in app.registered_groups):
        _register()  # the CLI's sub-commands, once per process
    root = typer.main.get_command(app)
    runner = CliRunner()
    checked = 0
    for path, command in _commands(root, ()):
        wanted = [m.group(0) for p in command.params if p.param_type_name == "option" and p.help
                  for m in BRACKETED.finditer(p.help)]
        if not wanted:
            continue
        result = runner.invoke(app, [*path, "--help"], terminal_width=100)
        assert result.exit_code == 0, (path, result.output)
        shown = _squash(result.output)
        for text in wanted:
            assert _squash(text) in shown, f"telshield {' '.join(path)} --help lost {text!r}"
        checked += 1
    assert checked >= 5  # the shared options name [engine] and [env: ...] in many commands
