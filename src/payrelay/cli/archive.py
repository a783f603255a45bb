"""`payrelay archive`: moving old terminal payments into the archive tables."""

from __future__ import annotations

import typer


def archive_command() -> None:
    """Move terminal payments older than a date into the archive tables."""
    typer.echo("not built yet", err=True)
    raise typer.Exit(1)
