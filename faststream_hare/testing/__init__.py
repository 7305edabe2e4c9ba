"""Support for ``TestRabbitBroker(HareBroker(...))``: dead letters kept in memory for tests."""

from faststream_hare.testing.memory import DeadLetter, dead_letters

__all__ = ("DeadLetter", "dead_letters")
