"""Scripting dead letters: look, group, dry-run, then replay one group (docs: Operating hare)."""

from __future__ import annotations

from faststream_hare import HareBroker
from faststream_hare.ops.dead_letters import group_dead, list_dead, replay_dead

broker = HareBroker()
gateway_up = False


@broker.subscriber("hare_demo.invoices", retry_limit=0)
async def send_invoice(invoice: dict) -> None:
    if not invoice.get("vat"):
        msg = f"invoice {invoice['id']} has no VAT number"
        raise ValueError(msg)
    if not gateway_up:
        msg = "mail gateway timed out"
        raise TimeoutError(msg)


async def replay_timeouts(url: str) -> int:
    """After the gateway outage: replay the timeouts, leave the bad invoices for a person."""
    letters = await list_dead(url, "hare_demo.invoices")  # nothing is removed
    for group in group_dead(letters, "exception"):
        print(f"{group.key}: {group.count} message(s), e.g. {group.sample_error}")

    timeouts = ["exception=TimeoutError"]
    preview = await replay_dead(url, "hare_demo.invoices", where=timeouts, dry_run=True)
    print(f"would move {preview.moved}, leave {preview.skipped}")

    report = await replay_dead(url, "hare_demo.invoices", where=timeouts, rate="50/s")
    return report.moved  # each copy was confirmed before its dead original was acked
