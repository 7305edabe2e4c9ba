"""The HareMq wire contract: what an Elixir HareMq service and hare agree on, byte for byte.

Queue names (``names``), header names and how they are read (``headers``), ``retry_count`` as an
AMQP long (``amqp_long``), a message body's encoding (``encoding``) and the copy hare publishes
again (``copies``). Everything above builds on these; they import nothing of hare's above them.
"""
