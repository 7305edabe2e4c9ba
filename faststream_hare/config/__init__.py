"""Configuration in one place: ``HareSettings``, the option objects users pass (``Unique``,
``AutoScaling``, ``Idempotency``, ``backoff``) and the validated options of one subscriber.

Every check runs when the value is built (at decoration time) and fails with one sentence that
names the option and the fix.
"""
