"""Receiving hare's telemetry signals (blinker) — here, counting retries and dead letters."""

from __future__ import annotations

from collections import Counter
from typing import Any

from faststream_hare import HareBroker, signals

broker = HareBroker()
counts: Counter[str] = Counter()


@signals.retry_publisher_message_retried.connect_via(broker)
def on_retried(sender: HareBroker, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
    counts[f"retried:{metadata['queue']}"] += 1


@signals.retry_publisher_message_dead_lettered.connect_via(broker)
def on_dead(sender: HareBroker, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
    counts[f"dead:{metadata['queue']}"] += 1


@broker.subscriber("hare_demo.emails", retry_limit=1, delay_in_ms=100)
async def send_email(email: dict) -> None:
    msg = "SMTP server refused the connection"
    raise ConnectionRefusedError(msg)
