"""faststream-hare: HareMq's semantics for FastStream RabbitMQ apps."""

from faststream_hare.broker import HareBroker, HareRouter
from faststream_hare.config.options import AutoScaling, Idempotency, Unique, backoff
from faststream_hare.config.settings import HareSettings
from faststream_hare.dedup import DedupStore, MemoryDedupStore, RedisDedupStore
from faststream_hare.errors import (
    ClaimsNotReleasedError,
    EncodingFailedError,
    HareConfigError,
    HareConnectionError,
    HareDedupError,
    HareError,
    HareMissingExtraError,
    HareTopologyError,
    ManagementUnavailableError,
    OpsConnectionError,
    QueueNotFoundError,
    ReplayError,
    StreamUnreachableError,
)
from faststream_hare.idempotency import (
    IdempotencyStore,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
)
from faststream_hare.publishing.publisher import HarePublisher
from faststream_hare.publishing.results import PublishResult
from faststream_hare.subscriber import HareSubscriber
from faststream_hare.telemetry import signals

#: The one place the version is written (pyproject.toml reads it from here).
__version__ = "0.1.0"

__all__ = (
    "AutoScaling",
    "ClaimsNotReleasedError",
    "DedupStore",
    "EncodingFailedError",
    "HareBroker",
    "HareConfigError",
    "HareConnectionError",
    "HareDedupError",
    "HareError",
    "HareMissingExtraError",
    "HarePublisher",
    "HareRouter",
    "HareSettings",
    "HareSubscriber",
    "HareTopologyError",
    "Idempotency",
    "IdempotencyStore",
    "ManagementUnavailableError",
    "MemoryDedupStore",
    "MemoryIdempotencyStore",
    "OpsConnectionError",
    "PublishResult",
    "QueueNotFoundError",
    "RedisDedupStore",
    "RedisIdempotencyStore",
    "ReplayError",
    "StreamUnreachableError",
    "Unique",
    "__version__",
    "backoff",
    "signals",
)
