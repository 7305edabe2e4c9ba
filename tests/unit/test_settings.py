"""HareSettings defaults, environment variables and errors."""

from __future__ import annotations

import pytest

from faststream_hare import HareBroker, HareConfigError, HareSettings


def test_defaults_match_the_design() -> None:
    settings = HareSettings()
    assert settings.url == "amqp://guest:guest@localhost:5672/"
    assert settings.retry_limit == 15
    assert settings.delay_in_ms == 10_000
    assert settings.message_ttl_ms == 31_449_600_000
    assert settings.reconnect_interval_ms == 10_000
    assert settings.shutdown_drain_timeout_ms == 5_000
    assert settings.exchange_type == "topic"
    assert settings.auto_scaler.max_consumers == 20
    assert settings.auto_scaler.messages_per_consumer == 10


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RABBITMQ_URL", "amqp://u:p@fallback/")
    assert HareSettings().url == "amqp://u:p@fallback/"
    monkeypatch.setenv("HARE_MQ_URL", "amqp://u:p@primary/")
    monkeypatch.setenv("HARE_MQ_RETRY_LIMIT", "3")
    monkeypatch.setenv("HARE_MQ_AUTO_SCALER__MAX_CONSUMERS", "7")
    settings = HareSettings()
    assert settings.url == "amqp://u:p@primary/"
    assert settings.retry_limit == 3
    assert settings.auto_scaler.max_consumers == 7


def test_broker_reads_settings_when_it_resolves_them(monkeypatch: pytest.MonkeyPatch) -> None:
    broker = HareBroker()
    monkeypatch.setenv("HARE_MQ_DELAY_IN_MS", "250")
    assert broker.active_settings.delay_in_ms == 250
    broker.settings = HareSettings(delay_in_ms=5)
    assert broker.settings.delay_in_ms == 5
    assert broker.active_settings.delay_in_ms == 5


def test_bad_values_give_one_clear_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(HareConfigError, match="delay_in_ms"):
        HareSettings(delay_in_ms=-1)
    monkeypatch.setenv("HARE_MQ_AUTO_SCALER__MIN_CONSUMERS", "9")
    monkeypatch.setenv("HARE_MQ_AUTO_SCALER__MAX_CONSUMERS", "2")
    with pytest.raises(HareConfigError, match="min_consumers"):
        HareSettings()


def test_settings_type_is_checked() -> None:
    with pytest.raises(HareConfigError, match="HareSettings"):
        HareBroker(settings={"retry_limit": 1})  # type: ignore[arg-type]
