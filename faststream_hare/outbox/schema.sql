-- faststream-hare transactional outbox and inbox (PostgreSQL 12 or later).
-- Apply with `hare outbox init APP`, or run this file yourself with the names filled in:
-- {outbox} and {inbox} the two tables, {outbox_name} and {inbox_name} the same with "." as "_"
-- (prefixes of the other objects), {channel} the LISTEN/NOTIFY channel.
-- Every statement may run again: applying the file twice changes nothing.

-- One row per message written by outbox.add() in the app's transaction; the relay publishes
-- committed rows and deletes them once RabbitMQ confirmed them.
CREATE TABLE IF NOT EXISTS {outbox} (
    id           bigserial PRIMARY KEY,          -- per ordering key: the commit order
    key          text,                           -- ordering key (NULL: no order kept)
    exchange     text NOT NULL,
    routing_key  text NOT NULL,
    message_id   text NOT NULL,
    content_type text,
    headers      jsonb,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    due_at       timestamptz NOT NULL DEFAULT '-infinity',  -- later after a failure (back-off)
    tries        integer NOT NULL DEFAULT 0,     -- publishes started (kept across relays)
    refused      integer NOT NULL DEFAULT 0,     -- tries RabbitMQ returned or nacked
    failures     integer NOT NULL DEFAULT 0,     -- tries that failed in any way
    last_error   text
);

CREATE INDEX IF NOT EXISTS {outbox_name}_key_id ON {outbox} (key, id) WHERE key IS NOT NULL;

-- Wakes relays at commit (one notification per transaction and channel).
CREATE OR REPLACE FUNCTION {outbox_name}_notify() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    PERFORM pg_notify('{channel}', '');
    RETURN NULL;
END
$body$;

CREATE OR REPLACE TRIGGER {outbox_name}_notify AFTER INSERT ON {outbox}
    FOR EACH STATEMENT EXECUTE FUNCTION {outbox_name}_notify();

-- Inbox: one row per message a handler handled, written in the handler's own transaction.
CREATE TABLE IF NOT EXISTS {inbox} (
    key        text PRIMARY KEY,
    done_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS {inbox_name}_expires ON {inbox} (expires_at);
