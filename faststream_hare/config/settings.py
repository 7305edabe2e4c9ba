"""HareSettings: process-wide defaults, read from the environment (prefix ``HARE_MQ_``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from faststream_hare._internal.masking import mask_text
from faststream_hare.errors import HareConfigError

#: HareMq's *documented* intent for the dead queue TTL (~1 year, in ms). HareMq's code uses
#: 31_449_600 (~8.7 h); set that value to share ``Q.dead`` queues with an Elixir service.
DEFAULT_MESSAGE_TTL_MS = 31_449_600_000
DEFAULT_URL = "amqp://guest:guest@localhost:5672/"

ExchangeTypeName = Literal["topic", "direct", "fanout", "headers"]


class AutoScalerSettings(BaseModel):
    """Defaults for ``AutoScaling`` options a subscriber leaves out."""

    min_consumers: int = Field(default=1, ge=0)
    max_consumers: int = Field(default=20, ge=1)
    messages_per_consumer: int = Field(default=10, gt=0)
    check_interval_ms: int = Field(default=5_000, gt=0)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> AutoScalerSettings:
        if self.min_consumers > self.max_consumers:
            msg = (
                f"auto_scaler.min_consumers ({self.min_consumers}) is above max_consumers "
                f"({self.max_consumers}); make min_consumers <= max_consumers."
            )
            raise ValueError(msg)
        return self


class HareSettings(BaseSettings):
    """Settings shared by every hare subscriber and publisher of a broker."""

    model_config = SettingsConfigDict(
        env_prefix="HARE_MQ_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    url: str = Field(
        default=DEFAULT_URL,
        validation_alias=AliasChoices("HARE_MQ_URL", "RABBITMQ_URL", "url"),
    )
    stream_url: str | None = None
    #: Reach every stream connection through ``stream_url`` (a proxy or load balancer) instead
    #: of the address the node advertises; ``None``: on whenever ``stream_url`` is set.
    stream_load_balancer: bool | None = None
    #: Replicas of a stream subscriber's stream (``None``: RabbitMQ's default, every node; a
    #: different value on an existing stream is a 406).
    stream_initial_cluster_size: int | None = Field(default=None, ge=1)
    dedup_url: str | None = None
    delay_in_ms: int = Field(default=10_000, ge=0)
    retry_limit: int = Field(default=15, ge=0)
    message_ttl_ms: int = Field(default=DEFAULT_MESSAGE_TTL_MS, gt=0)
    reconnect_interval_ms: int = Field(default=10_000, gt=0)
    shutdown_drain_timeout_ms: int = Field(default=5_000, ge=0)
    confirm_timeout_ms: int = Field(default=10_000, gt=0)
    startup_timeout_ms: int = Field(default=30_000, ge=0)
    exchange_type: ExchangeTypeName = "topic"
    auto_scaler: AutoScalerSettings = Field(default_factory=AutoScalerSettings)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise HareConfigError(_one_sentence(exc)) from None


def _one_sentence(exc: ValidationError) -> str:
    """Turn pydantic's report into one sentence naming the setting and the fix."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "settings"
    reason = first["msg"].removeprefix("Value error, ")
    return mask_text(f"HareSettings.{where} is invalid: {reason} (got {first.get('input')!r}).")
