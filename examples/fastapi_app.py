"""A FastAPI service with hare: retries and dead letters behind an HTTP endpoint (docs: FastAPI).

Run it with ``uvicorn examples.fastapi_app:app``; the broker starts and stops with the app.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from faststream_hare.fastapi import HareRouter

router = HareRouter()  # the URL from HARE_MQ_URL / RABBITMQ_URL, as HareBroker()
shipped: list[dict] = []


def carrier() -> str:
    """A FastAPI dependency, resolved for every message as for every request."""
    return "hare-express"


@router.subscriber(
    "hare_demo.shipments",
    exchange="hare_demo.shipping_ex",
    routing_key="shipment.requested",
    retry_limit=2,  # a shipment without an address is tried 3 times, then dead-lettered
    delay_in_ms=100,
)
async def ship(shipment: dict, carrier_name: str = Depends(carrier)) -> None:
    if not shipment.get("address"):
        msg = "shipment has no address"
        raise ValueError(msg)
    shipped.append({**shipment, "carrier": carrier_name})


shipments = router.publisher(
    exchange="hare_demo.shipping_ex", routing_key="shipment.requested", hare=True
)

app = FastAPI()
app.include_router(router)


@app.post("/shipments")
async def request_shipment(shipment: dict) -> dict:
    result = await shipments.publish_message(shipment)  # confirmed by RabbitMQ when "ok"
    return {"result": result.value}
