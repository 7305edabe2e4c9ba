"""``_internal/faststream.py`` still matches the FastStream release installed.

Hare builds subscribers and publishers itself (to use its own classes) and reads a few private
attributes. Each test compares with FastStream's own factories and signatures, so a release
that renames or changes one of them fails here, loudly, instead of in a user's app.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from faststream import BaseMiddleware, FastStream
from faststream._internal.endpoint.publisher.usecase import PublisherUsecase
from faststream._internal.endpoint.subscriber import SubscriberUsecase
from faststream.middlewares import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitExchange, RabbitQueue, RabbitRouter
from faststream.rabbit.publisher.factory import create_publisher
from faststream.rabbit.publisher.options import PublishKwargs
from faststream.rabbit.publisher.usecase import RabbitPublisher
from faststream.rabbit.schemas import Channel
from faststream.rabbit.subscriber.factory import create_subscriber
from faststream.rabbit.subscriber.usecase import RabbitSubscriber
from faststream.rabbit.testing import TestRabbitBroker

from faststream_hare._internal import faststream as _faststream


def _queue() -> RabbitQueue:
    return RabbitQueue("parity", routing_key="parity.key")


def test_build_subscriber_matches_faststreams_factory() -> None:
    broker = RabbitBroker()
    kwargs: dict[str, Any] = {
        "queue": _queue(),
        "exchange": RabbitExchange("parity_ex"),
        "consume_args": {"x-priority": 1},
        "channel": Channel(prefetch_count=7),
        "no_reply": True,
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "include_in_schema": False,
    }
    theirs = create_subscriber(**kwargs, config=broker.config, title_="t", description_="d")
    ours = _faststream.build_subscriber(
        RabbitSubscriber, broker, **kwargs, title="t", description="d"
    )
    assert type(ours) is type(theirs)
    for name in ("queue", "exchange", "consume_args", "channel", "ack_policy", "_no_reply"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours._outer_config.__dict__ == theirs._outer_config.__dict__
    assert vars(ours.specification.config) == vars(theirs.specification.config)


def test_build_publisher_matches_faststreams_factory() -> None:
    broker = RabbitBroker()

    def kwargs() -> dict[str, Any]:  # FastStream pops from message_kwargs: one per call
        message_kwargs = PublishKwargs(
            mandatory=True, persist=True, priority=3, headers={"h": "1"}, reply_to="r"
        )
        return {
            "routing_key": "parity.key",
            "queue": _queue(),
            "exchange": RabbitExchange("parity_ex"),
            "message_kwargs": message_kwargs,
            "include_in_schema": True,
        }

    theirs = create_publisher(
        **kwargs(), config=broker.config, schema_=None, title_="t", description_="d"
    )
    ours = _faststream.build_publisher(
        RabbitPublisher, broker, **kwargs(), schema=None, title="t", description="d"
    )
    assert type(ours) is type(theirs)
    assert ours.routing() == theirs.routing()
    for name in ("queue", "exchange", "headers", "reply_to", "message_options", "publish_options"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert _spec(ours) == _spec(theirs)


def _spec(publisher: RabbitPublisher) -> dict[str, Any]:
    values = dict(vars(publisher.specification.config))
    values["routing_address"] = str(values["routing_address"].template)
    return values


def test_private_methods_hare_calls_keep_their_signatures() -> None:
    basic_publish = inspect.signature(PublisherUsecase._basic_publish)
    assert {"cmd", "producer", "_extra_middlewares"} <= set(basic_publish.parameters)
    assert "_post_start" in vars(SubscriberUsecase)
    assert isinstance(inspect.getattr_static(SubscriberUsecase, "_broker_middlewares"), property)
    assert inspect.iscoroutinefunction(SubscriberUsecase.process_message)


def test_the_subscriber_middleware_hook_is_what_faststream_reads() -> None:
    source = inspect.getsource(SubscriberUsecase)
    assert "*self._broker_middlewares" in source, "FastStream stopped reading _broker_middlewares"


async def test_broker_private_attributes_exist() -> None:
    broker = RabbitBroker("amqp://guest:guest@localhost:5672/")
    assert _faststream.connection_of(broker) is None
    assert "localhost" in _faststream.connection_url(broker)
    _faststream.set_reconnect_interval(broker, 1.5)
    assert broker._connection_kwargs["reconnect_interval"] == 1.5
    assert not _faststream.is_in_memory(broker)
    async with TestRabbitBroker(broker):
        assert _faststream.is_in_memory(broker)
        assert _faststream.test_session_of(broker) is broker.config.producer


def test_endpoint_attributes_hare_reads() -> None:
    broker = RabbitBroker()
    sub = broker.subscriber("parity")
    assert _faststream.broker_of(sub) is broker
    assert _faststream.router_prefix(sub) == ""
    assert _faststream.prefixed_queue_name(sub) == "parity"

    @sub
    async def handler(body: str) -> None: ...

    assert [f.__name__ for f in _faststream.handler_functions(sub)] == ["handler"]
    publisher = broker.publisher("parity")
    assert _faststream.producer_of(publisher) is broker.config.producer


@pytest.mark.parametrize("name", ["EMPTY", "ContextRepo", "CustomCallable", "CodecProto"])
def test_reexported_internal_names_exist(name: str) -> None:
    assert getattr(_faststream, name) is not None


def test_publish_command_keywords_hare_passes() -> None:
    parameters = inspect.signature(_faststream.RabbitPublishCommand.__init__).parameters
    assert {"routing_key", "exchange", "_publish_type"} <= set(parameters)
    command = _faststream.publish_command_of(
        b"x", routing_key="r", exchange=RabbitExchange("e"), message_id="m"
    )
    assert (command.body, command.destination, command.exchange.name) == (b"x", "r", "e")


# -- AsyncAPI and drop-in (faststream_hare.asyncapi, tests/features/drop_in/test_drop_in.py) ----


def test_an_app_hands_itself_to_each_broker_it_adds() -> None:
    joined: list[object] = []

    class Spy(_faststream.BrokerJoiningApps):
        def joined_app(self, app: object) -> None:
            joined.append(app)

    app = FastStream(Spy())
    assert joined == [app]


def test_the_virtual_host_hare_sets_is_what_the_bindings_show() -> None:
    broker = RabbitBroker("amqp://localhost/")
    _faststream.set_virtual_host(broker, "/shop")
    sub = broker.subscriber("parity")

    @sub
    async def handler(body: str) -> None: ...

    [spec] = sub.schema().values()
    assert spec.bindings is not None
    assert spec.bindings.amqp is not None
    assert spec.bindings.amqp.virtual_host == "/shop"


def test_middlewares_of_is_what_faststream_wraps_messages_in() -> None:
    class Outer(BaseMiddleware): ...

    class Inner(BaseMiddleware): ...

    broker = RabbitBroker(middlewares=[Outer])
    router = RabbitRouter()
    sub = router.subscriber("parity")
    pub = router.publisher("parity")
    broker.include_router(router, middlewares=[Inner])
    assert _faststream.middlewares_of(sub) == (Outer, Inner) == _faststream.middlewares_of(pub)
    assert tuple(sub._broker_middlewares) == (Outer, Inner)


def test_channel_keys_are_cleared_as_the_generator_clears_them() -> None:
    assert _faststream.clear_key("a/b:c") == "a.b:c"
