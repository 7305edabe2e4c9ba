"""Testing hare subscribers in memory with FastStream's TestRabbitBroker."""

from __future__ import annotations

from faststream.rabbit import TestRabbitBroker

from faststream_hare import HareBroker
from faststream_hare.testing import dead_letters

broker = HareBroker()


@broker.subscriber("invoices", retry_limit=2, delay_in_ms=60_000)
async def send_invoice(invoice: dict) -> None:
    if invoice["email"] is None:
        msg = "invoice has no e-mail address"
        raise ValueError(msg)


async def test_invoice_without_email_is_dead_lettered() -> None:
    async with TestRabbitBroker(broker) as test_broker:
        await test_broker.publish({"id": 1, "email": None}, queue="invoices")
        # the original delivery plus two retries; the 60 s delays are not waited for
        assert send_invoice.mock.call_count == 3

    [dead] = dead_letters(broker, "invoices")
    assert dead.json() == {"id": 1, "email": None}
    assert dead.headers["retry_count"] == 3
    assert dead.headers["hare-exception"] == "ValueError"
