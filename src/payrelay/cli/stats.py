"""`payrelay stats`: the daily report and its rebuild from the source tables."""

from __future__ import annotations

import typer

stats_app = typer.Typer(help="Daily payment statistics.", no_args_is_help=True)
