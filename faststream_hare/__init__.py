"""faststream-hare: HareMq's semantics for FastStream RabbitMQ apps."""

from faststream_hare.broker import HareBroker, HareRouter
from faststream_hare.dedup import DedupStore, MemoryDedupStore, RedisDedupStore
from faststream_hare.errors import (
    HareConfigError,
    HareDedupError,
    HareError,
    HareTopologyError,
)
from faststream_hare.options import AutoScaling, Unique
from faststream_hare.publishing.publisher import HarePublisher
from faststream_hare.publishing.results import PublishResult
from faststream_hare.settings import HareSettings
from faststream_hare.subscriber import HareSubscriber
from faststream_hare.telemetry import signals

__all__ = (
    "AutoScaling",
    "DedupStore",
    "HareBroker",
    "HareConfigError",
    "HareDedupError",
    "HareError",
    "HarePublisher",
    "HareRouter",
    "HareSettings",
    "HareSubscriber",
    "HareTopologyError",
    "MemoryDedupStore",
    "PublishResult",
    "RedisDedupStore",
    "Unique",
    "signals",
)
