"""Pure parts of the outbox: names, the schema text, records, back-off, republish counting,
and who may import the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from faststream_hare.errors import EncodingFailedError, HareConfigError
from faststream_hare.outbox.claims import OutboxRow
from faststream_hare.outbox.record import build_record
from faststream_hare.outbox.sending import back_off_s
from faststream_hare.outbox.tables import OutboxTables
from faststream_hare.outbox.writer import insert_sql

PACKAGE = Path(__file__).resolve().parents[2] / "faststream_hare"


def test_only_the_hare_command_imports_the_outbox_package() -> None:
    importers = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).parts
        if relative[0] == "outbox":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            module = getattr(node, "module", None) or ""
            names = [a.name for a in node.names]
            if "faststream_hare.outbox" in [module, *names] or module.startswith(
                "faststream_hare.outbox."
            ):
                importers.add(relative[0])
    assert importers <= {"ops"}


def test_table_names_fill_the_schema_and_bad_names_are_refused() -> None:
    tables = OutboxTables("app.orders_outbox", "app.orders_inbox")
    sql = tables.schema_sql()
    assert "CREATE TABLE IF NOT EXISTS app.orders_outbox (" in sql
    assert "CREATE TABLE IF NOT EXISTS app.orders_inbox (" in sql
    assert "pg_notify('app_orders_outbox', '')" in sql
    assert "{" not in sql
    assert tables.writer_lock != tables.relay_lock != tables.row_lock
    with pytest.raises(HareConfigError, match="inbox_table must be a lower-case table name"):
        OutboxTables("ok", "Bad-Name")
    with pytest.raises(HareConfigError, match="table must be"):
        OutboxTables("x; drop table y")


def test_a_keyed_insert_locks_the_key_before_it_takes_its_id() -> None:
    keyed = insert_sql(OutboxTables(), keyed=True)
    assert keyed.index("pg_advisory_xact_lock") < keyed.index("INSERT INTO")
    assert "FROM locked" in keyed
    assert "pg_advisory_xact_lock" not in insert_sql(OutboxTables(), keyed=False)


def test_records_are_encoded_as_publish_message_would_and_bad_input_raises() -> None:
    record = build_record(
        {"a": 1}, exchange="e", routing_key="r", message_id=None, key="k", headers={"h": 1}
    )
    assert record.body == b'{"a":1}'
    assert record.content_type == "application/json"
    assert record.headers == '{"h":1}'
    assert len(record.message_id) == 32
    with pytest.raises(EncodingFailedError):
        build_record({1.5}, exchange="", routing_key="r", message_id=None, key=None, headers=None)
    with pytest.raises(HareConfigError, match="key must be a non-empty str"):
        build_record({}, exchange="", routing_key="r", message_id=None, key="", headers=None)
    with pytest.raises(HareConfigError, match="routing_key must be a str"):
        build_record({}, exchange="", routing_key=5, message_id=None, key=None, headers=None)  # type: ignore[arg-type]


def test_back_off_doubles_up_to_its_ceiling() -> None:
    assert [back_off_s(n) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]
    assert back_off_s(50) == 30.0
    assert back_off_s(50, refused=False) == 2.0


@pytest.mark.parametrize(
    ("tries", "refused", "again"), [(1, 0, False), (2, 0, True), (2, 1, False), (3, 1, True)]
)
def test_a_try_after_an_unknown_outcome_counts_as_a_possible_republish(
    tries: int, refused: int, again: bool
) -> None:
    row = OutboxRow(1, None, "", "r", "m", None, None, b"", tries, refused, 0, 0.0)
    assert row.maybe_published_before is again
