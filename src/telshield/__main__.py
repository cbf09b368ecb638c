"""``python -m telshield`` runs the CLI."""

from telshield.cli import main

main()
