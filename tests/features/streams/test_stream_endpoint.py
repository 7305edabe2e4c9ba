"""The stream endpoint comes from the AMQP URL unless ``stream_url`` says otherwise."""

from __future__ import annotations

import pytest

from faststream_hare import HareConfigError
from faststream_hare.streams.endpoint import StreamEndpoint, stream_endpoint


def test_derived_from_the_amqp_url() -> None:
    endpoint = stream_endpoint("amqp://app:p%40ss@rabbit.internal:5672/orders?name=billing")
    assert endpoint == StreamEndpoint(
        host="rabbit.internal",
        port=5552,
        vhost="orders",
        username="app",
        password="p@ss",
        tls=False,
        connection_name="billing",
    )


@pytest.mark.parametrize(
    ("url", "vhost"),
    [
        ("amqp://h", "/"),
        ("amqp://h/", "/"),
        ("amqp://h/%2F", "/"),
        ("amqp://h//", "/"),
        ("amqp://h/prod", "prod"),
    ],
)
def test_vhost_rules_follow_the_amqp_uri_spec(url: str, vhost: str) -> None:
    assert stream_endpoint(url).vhost == vhost


def test_defaults_and_tls() -> None:
    plain = stream_endpoint("amqp://localhost")
    assert (plain.username, plain.password, plain.port, plain.tls) == (
        "guest",
        "guest",
        5552,
        False,
    )
    assert plain.connection_name == "faststream-hare"
    secure = stream_endpoint("amqps://u:p@h:5671/")
    assert (secure.port, secure.tls) == (5551, True)


def test_stream_url_wins() -> None:
    endpoint = stream_endpoint(
        "amqp://u:p@amqp-host/?name=app",
        "rabbitmq-stream://su:sp@stream-host:7000/events",
    )
    assert (endpoint.host, endpoint.port, endpoint.vhost) == ("stream-host", 7000, "events")
    assert (endpoint.username, endpoint.password) == ("su", "sp")
    assert endpoint.connection_name == "app"
    tls = stream_endpoint("amqp://h", "rabbitmq-stream+tls://u:p@h")
    assert (tls.port, tls.tls) == (5551, True)


@pytest.mark.parametrize(
    ("url", "stream_url", "option"),
    [
        ("http://u:secret@h/", None, "url"),
        ("amqp://h", "amqp://u:secret@h:5552/", "stream_url"),
        ("amqp://h", "not a url", "stream_url"),
    ],
)
def test_wrong_schemes_fail_with_a_masked_sentence(
    url: str, stream_url: str | None, option: str
) -> None:
    with pytest.raises(HareConfigError, match=f"HareSettings.{option} must be") as caught:
        stream_endpoint(url, stream_url)
    assert "secret" not in str(caught.value)


def test_password_is_never_displayed() -> None:
    endpoint = stream_endpoint("amqp://app:secret@h/v")
    assert "secret" not in repr(endpoint)
    assert endpoint.display == "rabbitmq-stream://app:***@h:5552/v"
