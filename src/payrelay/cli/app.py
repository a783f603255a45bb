"""`payrelay serve | migrate | merchant ... | gateway ... | db check`."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer

from payrelay.callback import service as callback_service
from payrelay.cli import common
from payrelay.cli.archive import archive_command
from payrelay.cli.common import JsonFlag
from payrelay.cli.stats import stats_app
from payrelay.config import Settings, get_settings
from payrelay.database import open_database, resolve_database_url
from payrelay.exceptions import PayrelayError
from payrelay.gateway_account import service as gateway_account_service
from payrelay.kit import migrate
from payrelay.kit.db import AsyncSession
from payrelay.logging import configure_logging
from payrelay.merchant import service as merchant_service

T = TypeVar("T")

app = typer.Typer(
    help="payrelay: self-hosted payments.", no_args_is_help=True, add_completion=False
)
merchant_app = typer.Typer(help="Merchants and their API keys.", no_args_is_help=True)
gateway_app = typer.Typer(help="A merchant's gateway accounts.", no_args_is_help=True)
db_app = typer.Typer(help="Database chores.", no_args_is_help=True)
callbacks_app = typer.Typer(help="Callbacks to merchants.", no_args_is_help=True)
app.add_typer(merchant_app, name="merchant")
app.add_typer(gateway_app, name="gateway")
app.add_typer(db_app, name="db")
app.add_typer(callbacks_app, name="callbacks")
app.add_typer(stats_app, name="stats")
app.command("archive")(archive_command)

HoldDaysOption = Annotated[
    int, typer.Option(help="Days a seller's share is held after capture (0 to 365).")
]
TimezoneOption = Annotated[str, typer.Option(help="IANA time zone of the daily statistics.")]


class Role(StrEnum):
    ALL = "all"
    API = "api"
    WORKER = "worker"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.", min=1, max=65535)] = None,
    role: Annotated[Role, typer.Option(help="What this process runs.")] = Role.ALL,
    migrate_first: Annotated[
        bool | None,
        typer.Option(
            "--migrate/--no-migrate",
            help="Apply migrations before serving (default: only for the embedded database).",
        ),
    ] = None,
) -> None:
    """Run payrelay. Without PAYRELAY_DATABASE_URL it starts a private PostgreSQL first."""
    import uvicorn
    import uvloop

    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    settings = get_settings().model_copy(update=overrides)
    configure_logging(settings.log_level, json=settings.log_json)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal with the handler
    # it found: this one turns it into a normal exit, so the embedded server is stopped below.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _exit_cleanly)
    resolved = resolve_database_url(settings)
    try:
        if migrate_first or (migrate_first is None and resolved.embedded is not None):
            migrate.upgrade(resolved.url)
        where = f"embedded at {settings.home}" if resolved.embedded else "external"
        if role is Role.WORKER:
            typer.echo(f"payrelay (worker), database {where}", err=True)
            # The event loop uvicorn gives the API (uvloop), for the worker too.
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(_run_worker(settings, resolved.url))
            return
        from payrelay.app import create_app

        application = create_app(settings, resolved.url, with_worker=role is Role.ALL)
        typer.echo(
            f"payrelay ({role.value}) on http://{settings.host}:{settings.port}, database {where}",
            err=True,
        )
        uvicorn.run(
            application,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            proxy_headers=False,
            timeout_graceful_shutdown=10,
        )
    finally:
        resolved.close()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


async def _run_worker(settings: Settings, url: str) -> None:
    """A worker-only process: no HTTP server; SIGTERM and Ctrl-C finish what is claimed."""
    import httpx

    from payrelay.worker.runner import Worker

    db = open_database(url, settings)
    async with httpx.AsyncClient(timeout=settings.gateway_timeout_seconds) as http:
        worker = Worker(db, http, settings)
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop_signal, worker.stop)
        try:
            await worker.run()
        finally:
            await db.dispose()


@app.command()
def emulate(
    gateway: Annotated[str, typer.Argument(help="Gateway code: momo, sepay, ...")],
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="Emulator setting as KEY=VALUE (repeatable)."),
    ] = None,
) -> None:
    """Run a local emulator of a gateway's servers, for development and tests."""
    import uvicorn

    from payrelay import connectors

    options: dict[str, str] = {}
    for item in option or []:
        key, separator, value = item.partition("=")
        if not separator or not key:
            common.fail(f"--option must be KEY=VALUE, not {item!r}", as_json=False, exit_code=2)
        options[key] = value
    try:
        application = connectors.emulator_app(gateway, options)
    except connectors.UnknownConnector as exc:
        common.fail(f"no emulator for {exc}", as_json=False, exit_code=2)
    except ValueError as exc:
        common.fail(str(exc), as_json=False, exit_code=2)
    typer.echo(f"{gateway} emulator on http://{host}:{port}", err=True)
    uvicorn.run(application, host=host, port=port, log_config=None, access_log=False)


@app.command("migrate")
def migrate_command() -> None:
    """Apply database migrations."""
    settings = get_settings()
    resolved = resolve_database_url(settings)
    try:
        migrate.upgrade(resolved.url)
    finally:
        resolved.close()
    typer.echo("database is at the latest migration", err=True)


@db_app.command("check")
def db_check() -> None:
    """Fail if the models and the migrations disagree (`alembic check`)."""
    settings = get_settings()
    resolved = common.database(settings)
    try:
        migrate.upgrade(resolved.url)
        migrate.check(resolved.url)
    finally:
        resolved.close()
    typer.echo("models and migrations agree", err=True)


@merchant_app.command("create")
def merchant_create(
    name: Annotated[str, typer.Option(help="The merchant's name.")],
    callback_url: Annotated[str | None, typer.Option(help="Default callback URL.")] = None,
    commission_rate: Annotated[
        str, typer.Option(help="Marketplace commission as a fraction (0.05 is 5 %).")
    ] = "0.05",
    escrow_hold_days: HoldDaysOption = merchant_service.DEFAULT_ESCROW_HOLD_DAYS,
    timezone: TimezoneOption = merchant_service.DEFAULT_REPORTING_TIMEZONE,
    as_json: JsonFlag = False,
) -> None:
    """Create a merchant and print its id, API key and callback secret (shown only once)."""
    rate = _commission_rate(commission_rate, as_json)
    settings = get_settings()

    async def work(session: AsyncSession) -> merchant_service.CreatedMerchant:
        return await merchant_service.create_merchant(
            session,
            name=name,
            callback_url=callback_url,
            commission_rate=rate,
            escrow_hold_days=escrow_hold_days,
            reporting_timezone=timezone,
            allow_private_callbacks=settings.allow_private_callbacks,
        )

    try:
        created = common.in_transaction(settings, work)
    except PayrelayError as exc:
        common.fail(exc.message, as_json=as_json, code=exc.code)
    output = {
        "id": str(created.merchant.id),
        "api_key": created.api_key,
        "callback_secret": created.merchant.callback_secret,
    }
    if as_json:
        typer.echo(json.dumps(output))
    else:
        for key, value in output.items():
            typer.echo(f"{key}: {value}")


@merchant_app.command("set")
def merchant_set(
    merchant: Annotated[str, typer.Argument(help="Merchant id.")],
    commission_rate: Annotated[
        str | None, typer.Option(help="Commission for payments created from now on.")
    ] = None,
    escrow_hold_days: Annotated[
        int | None,
        typer.Option(help="Days a seller's share is held after capture (0 to 365)."),
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone of the daily statistics.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a merchant's commission, escrow hold or reporting time zone."""
    merchant_id = common.merchant_id(merchant, as_json=as_json)
    rate = None if commission_rate is None else _commission_rate(commission_rate, as_json)
    settings = get_settings()

    async def work(session: AsyncSession) -> dict[str, Any]:
        updated = await merchant_service.update_settings(
            session,
            merchant_id,
            commission_rate=rate,
            escrow_hold_days=escrow_hold_days,
            reporting_timezone=timezone,
        )
        return {
            "id": str(updated.id),
            "commission_rate": str(updated.commission_rate),
            "escrow_hold_days": updated.escrow_hold_days,
            "reporting_timezone": updated.reporting_timezone,
        }

    try:
        output = common.in_transaction(settings, work)
    except PayrelayError as exc:
        common.fail(exc.message, as_json=as_json, code=exc.code)
    _print(output, as_json)


def _commission_rate(value: str, as_json: bool) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        common.fail(
            "--commission-rate must be a decimal such as 0.05", as_json=as_json, exit_code=2
        )


@merchant_app.command("rotate-secret")
def merchant_rotate_secret(
    merchant: Annotated[str, typer.Argument(help="Merchant id.")],
    as_json: JsonFlag = False,
) -> None:
    """Issue a new callback secret; callbacks carry both signatures during the overlap."""
    merchant_id = common.merchant_id(merchant, as_json=as_json)
    settings = get_settings()
    now = datetime.now(UTC)

    async def work(session: AsyncSession) -> tuple[str, datetime | None]:
        rotated = await merchant_service.rotate_callback_secret(
            session, merchant_id, overlap=settings.callback_secret_overlap, now=now
        )
        return rotated.callback_secret, rotated.previous_callback_secret_expires_at

    try:
        secret, old_until = common.in_transaction(settings, work)
    except PayrelayError as exc:
        common.fail(exc.message, as_json=as_json, code=exc.code)
    output = {
        "id": str(merchant_id),
        "callback_secret": secret,
        "previous_secret_valid_until": old_until.isoformat() if old_until else None,
    }
    _print(output, as_json)


@merchant_app.command("enable-callbacks")
def merchant_enable_callbacks(
    merchant: Annotated[str, typer.Argument(help="Merchant id.")],
    as_json: JsonFlag = False,
) -> None:
    """Re-enable a callback URL that answered 410 Gone; held callbacks are sent again."""
    merchant_id = common.merchant_id(merchant, as_json=as_json)
    settings = get_settings()

    async def work(session: AsyncSession) -> int:
        return await merchant_service.enable_callbacks(session, merchant_id, datetime.now(UTC))

    try:
        resumed = common.in_transaction(settings, work)
    except PayrelayError as exc:
        common.fail(exc.message, as_json=as_json, code=exc.code)
    _print({"id": str(merchant_id), "resumed_callbacks": resumed}, as_json)


def _print(output: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(output))
    else:
        for key, value in output.items():
            typer.echo(f"{key}: {value}")


@callbacks_app.command("retry")
def callbacks_retry(
    dead: Annotated[bool, typer.Option("--dead", help="Replay every dead callback.")] = False,
    since: Annotated[
        datetime | None, typer.Option(help="Only callbacks created at or after this time (UTC).")
    ] = None,
    merchant: Annotated[str | None, typer.Option(help="Only this merchant's callbacks.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Put dead callbacks back in the queue, on a fresh retry schedule."""
    if not dead:
        common.fail("say which callbacks to replay: --dead", as_json=as_json, exit_code=2)
    merchant_id = common.merchant_id(merchant, as_json=as_json) if merchant else None
    since_utc = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
    settings = get_settings()
    resolved = common.database(settings)

    async def replay() -> int:
        db = open_database(resolved.url, settings)
        try:
            async with db.session() as session:
                ids = await callback_service.retry_dead(
                    session, since=since_utc, merchant_id=merchant_id
                )
            requeued = 0
            with typer.progressbar(length=len(ids), label="replaying", file=sys.stderr) as bar:
                for start in range(0, len(ids), 500):
                    batch = ids[start : start + 500]
                    async with db.transaction() as session:
                        requeued += await callback_service.requeue(
                            session, batch, datetime.now(UTC)
                        )
                    bar.update(len(batch))
            return requeued
        finally:
            await db.dispose()

    try:
        requeued = asyncio.run(replay())
    finally:
        resolved.close()
    _print({"requeued": requeued}, as_json)


@callbacks_app.command("listen")
def callbacks_listen(
    port: Annotated[int, typer.Option(help="Port to listen on (127.0.0.1).", min=1, max=65535)],
    secret: Annotated[
        str | None, typer.Option(help="The merchant's callback secret, to verify signatures.")
    ] = None,
) -> None:
    """A local callback receiver for development: prints each callback and checks its
    signatures. Answers 200 to every POST."""
    from payrelay.callback.receiver import serve_receiver

    typer.echo(f"listening on http://127.0.0.1:{port}/ (Ctrl-C to stop)", err=True)
    serve_receiver(port, secret, lambda line: typer.echo(line))


@gateway_app.command("set")
def gateway_set(
    merchant: Annotated[str, typer.Option(help="Merchant id.")],
    gateway: Annotated[str, typer.Option(help="Gateway code (sandbox, momo, ...).")],
    config: Annotated[str, typer.Option(help="Account configuration as a JSON object.")] = "{}",
    as_json: JsonFlag = False,
) -> None:
    """Create or update the merchant's account at a gateway; print its id and webhook URL."""
    try:
        merchant_id = uuid.UUID(merchant)
    except ValueError:
        common.fail("--merchant must be a merchant id (a UUID)", as_json=as_json, exit_code=2)
    try:
        parsed = json.loads(config)
    except ValueError:
        common.fail("--config must be valid JSON", as_json=as_json, exit_code=2)
    if not isinstance(parsed, dict):
        common.fail("--config must be a JSON object", as_json=as_json, exit_code=2)
    settings = get_settings()

    async def work(session: AsyncSession) -> tuple[int, str]:
        if await merchant_service.get_merchant(session, merchant_id) is None:
            raise merchant_service.MerchantNotFound(f"no merchant {merchant_id}")
        account = await gateway_account_service.set_account(
            session, merchant_id=merchant_id, code=gateway, config=parsed
        )
        return account.id, account.code

    try:
        account_id, code = common.in_transaction(settings, work)
    except PayrelayError as exc:
        common.fail(exc.message, as_json=as_json, code=exc.code)
    output = {
        "id": account_id,
        "merchant_id": str(merchant_id),
        "gateway": code,
        "webhook_url": gateway_account_service.webhook_url(
            settings.resolved_public_url(), code, account_id
        ),
    }
    if as_json:
        typer.echo(json.dumps(output))
    else:
        for key, value in output.items():
            typer.echo(f"{key}: {value}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
