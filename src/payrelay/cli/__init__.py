"""The `payrelay` command line."""

from __future__ import annotations

from payrelay.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
