"""The dead-letter console mounted next to an app's own web routes (docs: Operating hare).

Run the app with ``faststream run examples.ops_console:app`` and the web side with
``HARE_CONSOLE_TOKEN=<a long random value> uvicorn examples.ops_console:web``; open
http://127.0.0.1:8000/hare/?token=<the value> once. Without the variable, ``create_app``
refuses to build the console: it never serves dead letters to whoever asks.
"""

from __future__ import annotations

import os

from faststream import FastStream
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from faststream_hare import HareBroker
from faststream_hare.ops.console import create_app

broker = HareBroker()
app = FastStream(broker)


@broker.subscriber("hare_demo.shipments", retry_limit=1, delay_in_ms=200)
async def ship(order: dict) -> None:
    if "address" not in order:
        msg = f"order {order['id']} has no address"
        raise KeyError(msg)


async def health(request: object) -> PlainTextResponse:
    return PlainTextResponse("ok")


console = create_app(
    broker,
    token=os.environ.get("HARE_CONSOLE_TOKEN"),
    allowed_hosts=["ops.shop.example"],  # a name it is reached by, besides IP addresses
    sample=5_000,
)
web = Starlette(routes=[Route("/health", health), Mount("/hare", app=console)])
