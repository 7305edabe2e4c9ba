"""The two transports a ``HareRuntime`` is bound to: the real broker, or memory under
``TestRabbitBroker``. Both keep one contract (a copy is sent, then its original settled), so
no capability asks which one it has; the broker binds one at ``connect()``."""
