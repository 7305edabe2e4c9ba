"""What a relay reports: logs, and the ``hare_mq.outbox.*`` signals metrics are built on."""

from __future__ import annotations

import logging

from faststream_hare._internal.log_throttle import LogThrottle
from faststream_hare.outbox.backlog import Backlog
from faststream_hare.outbox.claims import Failure, OutboxRow
from faststream_hare.telemetry import signals

logger = logging.getLogger("faststream_hare.outbox")
#: While RabbitMQ is down or an exchange is missing every try fails alike: one line per reason.
_throttled = LogThrottle(logger)


class RelayEvents:
    """Reports of one outbox table's relay; ``sender`` is the broker."""

    def __init__(self, sender: object, table: str) -> None:
        self.sender = sender
        self.table = table

    def batch(self, published: list[OutboxRow], taken_s: float, failed: int) -> None:
        """A batch ended: one signal for the batch, one per message if anyone listens."""
        republished = sum(1 for row in published if row.maybe_published_before)
        if republished:
            logger.warning(
                "Outbox '%s': %d message(s) published again after an earlier try whose "
                "outcome is unknown (a relay stopped between publish and delete); consumers "
                "see them twice with the same message_id",
                self.table,
                republished,
            )
        if not (published or failed):
            return
        lags = [row.age_s + taken_s for row in published]
        signals.emit(
            signals.outbox_batch_relayed,
            self.sender,
            {
                "system_time": signals.system_time(),
                "relayed": len(published),
                "republished": republished,
                "failed": failed,
                "max_lag_s": max(lags, default=0.0),
            },
            {"table": self.table},
        )
        if signals.has_receivers(signals.outbox_message_relayed):
            for row, lag in zip(published, lags, strict=True):
                signals.emit(
                    signals.outbox_message_relayed,
                    self.sender,
                    {"system_time": signals.system_time(), "lag_s": lag},
                    {
                        "table": self.table,
                        "exchange": row.exchange,
                        "routing_key": row.routing_key,
                        "message_id": row.message_id,
                        "key": row.key,
                        "republished": row.maybe_published_before,
                    },
                )

    def failed(self, failure: Failure) -> None:
        """A row was not confirmed; it stays and is tried again after its back-off."""
        row = failure.row
        _throttled.log(
            logging.WARNING,
            f"{self.table}:{row.exchange}:{failure.error[:60]}",
            "Outbox '%s': message %s to exchange '%s' (routing key '%s') not published, "
            "kept and tried again in %.2f s: %s",
            self.table,
            row.message_id,
            row.exchange,
            row.routing_key,
            failure.retry_in_s,
            failure.error,
        )
        signals.emit(
            signals.outbox_message_failed,
            self.sender,
            {"system_time": signals.system_time(), "retry_in_s": failure.retry_in_s},
            {
                "table": self.table,
                "exchange": row.exchange,
                "routing_key": row.routing_key,
                "message_id": row.message_id,
                "key": row.key,
                "reason": "refused" if failure.refused else "not_confirmed",
                "error": failure.error,
            },
        )

    def backlog(self, backlog: Backlog) -> None:
        """The relay read its table's backlog (idle, after failures, now and then while busy):
        what waits is known also when nothing is published."""
        signals.emit(
            signals.outbox_backlog_read,
            self.sender,
            {
                "system_time": signals.system_time(),
                "waiting": backlog.waiting,
                "failing": backlog.failing,
                "oldest_age_s": backlog.oldest_age_s,
                "relay_lag_s": backlog.relay_lag_s,
            },
            {"table": self.table},
        )
