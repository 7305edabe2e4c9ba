"""Pure parts of the outbox: names, the schema text, records, back-off, republish counting,
how a batch's rows are cut into runs and sorted by outcome, and who may import the package."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import Any

import pytest

from faststream_hare.errors import (
    EncodingFailedError,
    HareConfigError,
    NotConnectedError,
    ReturnedError,
)
from faststream_hare.outbox.claims import OutboxRow
from faststream_hare.outbox.record import build_record
from faststream_hare.outbox.sending import MAX_RUN, back_off_s, publish_rows, runs
from faststream_hare.outbox.tables import OutboxTables
from faststream_hare.outbox.writer import insert_sql

PACKAGE = Path(__file__).resolve().parents[3] / "faststream_hare"


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


def _row(n: int, *, key: str = "k", routing_key: str = "r", failures: int = 0) -> OutboxRow:
    return OutboxRow(n, key, "ex", routing_key, f"m{n}", None, None, b"", 1, 0, failures, 0.0)


def test_a_keys_rows_are_cut_into_runs_routed_alike_and_failed_rows_go_alone() -> None:
    rows = [
        _row(0),
        _row(1),
        _row(2, routing_key="other"),
        _row(3, routing_key="other"),
        _row(4, failures=1),
        _row(5),
        _row(6),
    ]
    shared = {"m6"}
    assert [[row.id for row in run] for run in runs(rows, shared)] == [
        [0, 1],
        [2, 3],
        [4],
        [5],
        [6],
    ]
    long = [_row(n) for n in range(MAX_RUN + 1)]
    assert [len(run) for run in runs(long, set())] == [MAX_RUN, 1]


class _FakePublisher:
    """Fails the publishes of chosen message ids with chosen errors; records the order."""

    def __init__(self, errors: dict[str, Exception]) -> None:
        self.errors = errors
        self.order: list[str] = []

    async def publish(self, message: Any, **_: Any) -> None:
        self.order.append(message.message_id)
        await asyncio.sleep(0)
        if message.message_id in self.errors:
            raise self.errors[message.message_id]


async def test_a_run_that_loses_its_link_keeps_the_rest_of_its_key_for_the_next_batch() -> None:
    lost = NotConnectedError("not connected")
    rows = [_row(0), _row(1), _row(2), _row(3), _row(4, routing_key="other")]
    publisher = _FakePublisher({"m1": lost, "m2": ReturnedError("returned"), "m3": lost})
    outcome = await publish_rows(rows, publisher, timeout_s=1)  # type: ignore[arg-type]
    assert publisher.order == ["m0", "m1", "m2", "m3"]  # written in order, the run at once
    assert [row.id for row in outcome.published] == [0]
    assert [failure.row.id for failure in outcome.failures] == [1]  # one failure a try
    # m2 was refused (certainly not stored): untried; m3 may be stored: its try stays counted;
    # the next run waits for the next batch
    assert sorted(row.id for row in outcome.untried) == [2, 4]
