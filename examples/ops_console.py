"""The dead-letter console mounted next to an app's own web routes (docs: Operating hare).

Run the app with ``faststream run examples.ops_console:app`` and the web side with
``uvicorn examples.ops_console:web``; the console is then at http://127.0.0.1:8000/hare/.
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


console = create_app(broker, token=os.environ.get("HARE_CONSOLE_TOKEN"), sample=5_000)
web = Starlette(routes=[Route("/health", health), Mount("/hare", app=console)])
