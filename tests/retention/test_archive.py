"""`payrelay archive` (the service and its batches): old finished payments move into the archive
tables with every row that belongs to them; anything still in flight stays; an archived payment
is still found, and never changes again."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from payrelay.kit.db import Database
from payrelay.models import ARCHIVES
from payrelay.retention import tasks as retention_tasks
from payrelay.retention.repository import ArchiveRepository
from payrelay.statistics import tasks as statistics_tasks
from tests.callback.receiver import Receiver
from tests.factories import Factory, MerchantClient
from tests.payment.helpers import assert_error
from tests.retention.helpers import (
    execute,
    make_old,
    next_epoch,
    rows_of,
    table_sizes,
    wait_for_callbacks,
)
from tests.statistics.helpers import fold

ONE_DAY = timedelta(days=1)


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


async def _create(shop: MerchantClient, key: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await shop.http.post(
        "/api/v1/payments/create", json=body, headers={**shop.headers, "Idempotency-Key": key}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _archive(db: Database, before: datetime, batch_size: int = 2) -> dict[str, Any]:
    run = await retention_tasks.archive_payments(db, before=before, batch_size=batch_size)
    return run.as_dict()


async def test_finished_payments_move_with_every_row_and_the_rest_stays(
    factory: Factory, db: Database, receiver: Receiver
) -> None:
    epoch = next_epoch()
    before = epoch + ONE_DAY
    shop = await factory.merchant(callback_url=receiver.url)

    # Finished: refunded in part (operations, callbacks and their attempts, webhooks), voided,
    # declined.
    body = {"order_id": "kept-1", "amount": "40.00", "currency": "USD", "gateway": "sandbox"}
    refunded = await _create(shop, "archive-create-1", body)
    assert (await shop.checkout(refunded["id"], "succeed")).status_code == 200
    assert (await shop.command(refunded["id"], "refund", {"amount": "15.00"})).status_code == 200
    voided = await shop.authorized()
    assert (await shop.command(voided["id"], "void")).status_code == 200
    declined = await shop.created()
    assert (await shop.checkout(declined["id"], "decline")).status_code == 200
    finished = [refunded["id"], voided["id"], declined["id"]]

    # Still in flight, one reason each.
    authorized = await shop.authorized()
    pending = await shop.created()
    callback_due = await shop.captured()
    webhook_failed = await shop.captured()
    operation_unknown = await shop.captured()
    key_in_progress = await shop.captured()
    recent = await shop.captured()
    in_flight = (authorized, pending, callback_due, webhook_failed, operation_unknown)
    for payment in [*finished, *(p["id"] for p in (*in_flight, key_in_progress, recent))]:
        await wait_for_callbacks(db, payment)
    await execute(
        db,
        "INSERT INTO payment_callbacks (id, payment_request_id, merchant_id, event_type, sequence,"
        " callback_url, payload, status, next_retry_at) VALUES (:id, :p, :m, 'payment.captured',"
        " 99, 'http://127.0.0.1:9/', '{}', 'pending', now() + interval '1 day')",
        id=uuid.uuid4(),
        p=uuid.UUID(callback_due["id"]),
        m=shop.id,
    )
    await execute(
        db,
        "INSERT INTO payment_webhooks (payment_request_id, gateway_account_id, gateway_name,"
        " webhook_id, raw_body, headers, status, retry_count) VALUES (:p, :a, 'sandbox',"
        " 'stuck-event', 'x', '{}', 'failed', 10)",
        p=uuid.UUID(webhook_failed["id"]),
        a=shop.sandbox_account_id,
    )
    await execute(
        db,
        "INSERT INTO payment_operations (id, payment_transaction_id, merchant_id, kind, amount,"
        " status, gateway_idempotency_key, next_check_at) SELECT :id, t.id, t.merchant_id,"
        " 'refund', 1, 'unknown', 'lost', now() + interval '1 day'"
        " FROM payment_transactions t WHERE t.payment_request_id = :p",
        id=uuid.uuid4(),
        p=uuid.UUID(operation_unknown["id"]),
    )
    await execute(
        db,
        "INSERT INTO idempotency_keys (id, merchant_id, key, request_method, request_path,"
        " fingerprint, state, recovery_point, payment_request_id) VALUES (:id, :m, 'half-done',"
        " 'POST', 'payments.refund', repeat('0', 64), 'in_progress', 'operation_recorded', :p)",
        id=uuid.uuid4(),
        m=shop.id,
        p=uuid.UUID(key_in_progress["id"]),
    )
    staying = [
        authorized["id"],
        pending["id"],
        callback_due["id"],
        webhook_failed["id"],
        operation_unknown["id"],
        key_in_progress["id"],
    ]
    for payment in [*finished, *staying]:
        await make_old(db, payment, epoch)
    # An old silent pending payment is the janitor's: keep it from asking (and auditing) while
    # this and later tests count rows.
    await execute(
        db,
        "UPDATE payment_transactions SET next_status_check_at = now() + interval '1 day'"
        " WHERE payment_request_id = :p",
        p=uuid.UUID(pending["id"]),
    )
    staying.append(recent["id"])

    live_before = {payment: await rows_of(db, payment) for payment in [*finished, *staying]}
    bodies = {payment: await shop.get(payment) for payment in finished}
    events = {payment: await shop.events(payment) for payment in finished}
    assert live_before[refunded["id"]]["payment_operations"] == 2  # create, refund
    assert live_before[refunded["id"]]["callback_attempts"] >= 2
    assert live_before[refunded["id"]]["payment_webhooks"] >= 1

    planned = (await retention_tasks.count_archivable(db, before)).as_dict()
    expected = {table: sum(live_before[p][table] for p in finished) for table in ARCHIVES}
    assert planned["payments"] == 3
    assert planned["rows"] == expected

    report = await _archive(db, before, batch_size=2)
    assert report["payments"] == 3
    assert report["batches"] == 2
    # One `payment.archived` audit row per payment moves with it.
    assert report["rows"] == {**expected, "payment_logs": expected["payment_logs"] + 3}

    for payment in finished:
        assert set((await rows_of(db, payment)).values()) == {0}
        archived = await rows_of(db, payment, archived=True)
        assert archived == {
            **live_before[payment],
            "payment_logs": live_before[payment]["payment_logs"] + 1,
        }
        assert await shop.get(payment) == bodies[payment]
        trail = await shop.events(payment)
        assert trail[:-1] == events[payment]
        assert trail[-1]["event_type"] == "payment.archived"
        assert trail[-1]["actor"] == "operator"
    for payment in staying:
        assert await rows_of(db, payment) == live_before[payment], payment
        assert set((await rows_of(db, payment, archived=True)).values()) == {0}

    # Running again finds nothing more.
    assert (await _archive(db, before))["payments"] == 0


async def test_an_archived_payment_never_changes_but_its_answers_replay(
    factory: Factory, db: Database
) -> None:
    epoch = next_epoch()
    shop = await factory.merchant()
    body = {"order_id": "replay-1", "amount": "25.00", "currency": "USD", "gateway": "sandbox"}
    created = await _create(shop, "replay-create", body)
    assert (await shop.checkout(created["id"], "succeed")).status_code == 200
    refund_key = "replay-refund"
    refund = await shop.command(created["id"], "refund", {"amount": "5.00"}, key=refund_key)
    assert refund.status_code == 200, refund.text
    await make_old(db, created["id"], epoch)
    await _archive(db, epoch + ONE_DAY)
    sizes = await table_sizes(db)

    for action, payload in (("refund", {"amount": "5.00"}), ("capture", {}), ("void", {})):
        response = await shop.command(created["id"], action, payload, key=f"after-{action}")
        error = assert_error(response, 409, "payment_archived")
        assert error["details"] == {"payment_id": created["id"]}
        no_key = await shop.command(created["id"], action, payload)
        assert_error(no_key, 409, "payment_archived")

    # The same create and the same refund, with their keys, still replay what they answered.
    again = await shop.http.post(
        "/api/v1/payments/create",
        json=body,
        headers={**shop.headers, "Idempotency-Key": "replay-create"},
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == created
    replayed = await shop.command(created["id"], "refund", {"amount": "5.00"}, key=refund_key)
    assert replayed.status_code == 200
    assert replayed.json() == refund.json()
    # The key cannot be reused for another payment either.
    reused = await shop.http.post(
        "/api/v1/payments/create",
        json={**body, "order_id": "replay-2"},
        headers={**shop.headers, "Idempotency-Key": "replay-create"},
    )
    assert_error(reused, 422, "idempotency_key_reused")

    assert await table_sizes(db) == sizes
    # Another merchant cannot see it, archived or not; an unknown id is still a 404.
    stranger = await factory.merchant()
    for client, payment in ((stranger, created["id"]), (shop, str(uuid.uuid4()))):
        response = await shop.http.get(f"/api/v1/payments/{payment}", headers=client.headers)
        assert_error(response, 404, "payment_not_found")
        assert_error(await client.command(payment, "refund"), 404, "payment_not_found")


async def test_an_interrupted_archive_carries_on_without_duplicates(
    factory: Factory, db: Database
) -> None:
    epoch = next_epoch()
    before = epoch + ONE_DAY
    shop = await factory.merchant()
    payments = [(await shop.captured())["id"] for _ in range(3)]
    for payment in payments:
        await make_old(db, payment, epoch)
    live = {payment: await rows_of(db, payment) for payment in payments}

    class Stop(Exception):
        pass

    def stop_after_first(count: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        await retention_tasks.archive_payments(
            db, before=before, batch_size=1, on_batch=stop_after_first
        )
    moved = [p for p in payments if (await rows_of(db, p))["payment_requests"] == 0]
    assert moved == payments[:1]  # oldest first; the first batch was committed

    report = await _archive(db, before, batch_size=1)
    assert report["payments"] == 2
    assert report["batches"] == 2
    for payment in payments:
        assert set((await rows_of(db, payment)).values()) == {0}
        archived = await rows_of(db, payment, archived=True)
        assert archived == {**live[payment], "payment_logs": live[payment]["payment_logs"] + 1}


async def test_a_failure_inside_a_batch_moves_nothing_of_it(
    factory: Factory, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch = next_epoch()
    shop = await factory.merchant()
    payment = (await shop.captured())["id"]
    await make_old(db, payment, epoch)
    live = await rows_of(db, payment)
    sizes = await table_sizes(db)
    move = ArchiveRepository.move

    async def crash_on_transactions(self: ArchiveRepository, name: str, ids: list[Any]) -> int:
        if name == "payment_transactions":
            raise RuntimeError("the process died here")
        return await move(self, name, ids)

    monkeypatch.setattr(ArchiveRepository, "move", crash_on_transactions)
    with pytest.raises(RuntimeError, match="died here"):
        await _archive(db, epoch + ONE_DAY)
    monkeypatch.undo()

    assert await rows_of(db, payment) == live
    assert await table_sizes(db) == sizes
    report = await _archive(db, epoch + ONE_DAY)
    assert report["payments"] == 1
    assert set((await rows_of(db, payment)).values()) == {0}


async def test_held_escrow_is_never_archived(factory: Factory, db: Database) -> None:
    epoch = next_epoch()
    shop = await factory.merchant()
    sale = await shop.captured(seller_id="seller-1", listing_id="listing-1", user_id="buyer-1")
    assert sale["escrow"]["status"] == "held"
    await make_old(db, sale["id"], epoch)
    live = await rows_of(db, sale["id"])
    assert live["escrow_payments"] == 1

    assert (await _archive(db, epoch + ONE_DAY))["payments"] == 0
    assert await rows_of(db, sale["id"]) == live

    released = await shop.http.post(
        f"/api/v1/payments/{sale['id']}/escrow/release", json={}, headers=shop.headers
    )
    assert released.status_code == 200, released.text
    await make_old(db, sale["id"], epoch)
    body = await shop.get(sale["id"])
    assert body["escrow"]["status"] == "released"
    assert (await _archive(db, epoch + ONE_DAY))["payments"] == 1
    assert (await rows_of(db, sale["id"], archived=True))["escrow_payments"] == 1
    assert await shop.get(sale["id"]) == body


async def test_archived_audit_rows_stay_append_only(factory: Factory, db: Database) -> None:
    epoch = next_epoch()
    shop = await factory.merchant()
    payment = (await shop.captured())["id"]
    await make_old(db, payment, epoch)
    await _archive(db, epoch + ONE_DAY)
    for statement in (
        "UPDATE payment_logs_archive SET actor = 'nobody' WHERE payment_request_id = :p",
        "DELETE FROM payment_logs_archive WHERE payment_request_id = :p",
    ):
        with pytest.raises(Exception, match="payment_logs_archive is append-only"):
            await execute(db, statement, p=uuid.UUID(payment))
    with pytest.raises(Exception, match="payment_logs_archive is append-only"):
        await execute(db, "TRUNCATE payment_logs_archive")
    assert (await rows_of(db, payment, archived=True))["payment_logs"] > 0


async def _delete_while_archiving(db: Database, payment: str) -> None:
    async with db.transaction() as session:
        await session.execute(text("SELECT set_config('payrelay.archiving', 'on', true)"))
        await session.execute(
            text("DELETE FROM payment_logs WHERE payment_request_id = :p"),
            {"p": uuid.UUID(payment)},
        )


async def test_archiving_leaves_the_live_trail_alone_without_a_copy(
    factory: Factory, db: Database
) -> None:
    """The archiving switch alone deletes nothing: a row leaves only once it is archived."""
    shop = await factory.merchant()
    payment = (await shop.captured())["id"]
    before = await rows_of(db, payment)
    with pytest.raises(Exception, match="payment_logs is append-only: DELETE"):
        await _delete_while_archiving(db, payment)
    assert await rows_of(db, payment) == before


async def test_the_statistics_rebuild_still_counts_archived_payments(
    factory: Factory, db: Database
) -> None:
    epoch = next_epoch()
    shop = await factory.merchant()
    captured = await shop.captured()
    declined = await shop.created()
    assert (await shop.checkout(declined["id"], "decline")).status_code == 200
    for payment in (captured, declined):
        await make_old(db, payment["id"], epoch)

    async def rebuild(*, fix: bool) -> list[Any]:
        period = await statistics_tasks.plan_rebuild(db, shop.id, first=None, last=None)
        assert period is not None
        results = await statistics_tasks.rebuild(
            db, period, merchant_id=shop.id, fix=fix, clock=lambda: datetime.now(epoch.tzinfo)
        )
        return [difference for result in results for difference in result.differences]

    assert await rebuild(fix=True)  # the payments moved back in time: restated on their old day
    counted = await _statistics_of(db, shop.id)
    assert (await _archive(db, epoch + ONE_DAY))["payments"] == 2

    assert await rebuild(fix=False) == []  # archived, yet still the payments behind the rows
    assert await _statistics_of(db, shop.id) == counted


async def _statistics_of(db: Database, merchant_id: uuid.UUID) -> list[Any]:
    await fold(db)
    async with db.session() as session:
        result = await session.execute(
            text(
                "SELECT date, total_requests, successful_payments, failed_payments,"
                " successful_amount FROM payment_statistics WHERE merchant_id = :m ORDER BY date"
            ),
            {"m": merchant_id},
        )
        return [tuple(row) for row in result]
