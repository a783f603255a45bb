"""Alembic, driven from code. Migrations ship inside the package, so an installed payrelay
can migrate its database without the source tree."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache

from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = "payrelay:migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    _in_thread(lambda: command.upgrade(alembic_config(url), revision))


def downgrade(url: str, revision: str) -> None:
    _in_thread(lambda: command.downgrade(alembic_config(url), revision))


def check(url: str) -> None:
    """Raise if the models and the migrations disagree (`alembic check`)."""
    _in_thread(lambda: command.check(alembic_config(url)))


@lru_cache(maxsize=1)
def current_heads() -> frozenset[str]:
    """The revisions a fully migrated database is at."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _in_thread(work: Callable[[], None]) -> None:
    """env.py runs its own event loop; a thread keeps it away from any loop the caller runs."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="alembic")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
