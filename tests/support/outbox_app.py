"""An app with an outbox and no relay of its own, for ``hare outbox relay`` in a subprocess
(the tables, broker URL and batch size come from the environment the test sets)."""

from __future__ import annotations

import os

from faststream import FastStream

from faststream_hare import HareBroker, HareSettings
from faststream_hare.outbox import Outbox
from tests.support.postgres import PG_DSN

broker = HareBroker(
    os.environ.get("OUTBOX_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    settings=HareSettings(reconnect_interval_ms=200),
    logger=None,
)
outbox = Outbox(
    broker,
    dsn=PG_DSN,
    table=os.environ.get("OUTBOX_TABLE", "hare_outbox"),
    inbox_table=os.environ.get("OUTBOX_INBOX", "hare_inbox"),
    relay=False,
    batch_size=int(os.environ.get("OUTBOX_BATCH", "200")),
)
app = FastStream(broker)
