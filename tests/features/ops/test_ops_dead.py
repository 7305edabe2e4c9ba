"""``hare dead list|replay|purge|export`` on the real broker: exact ids, order kept."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from faststream_hare.ops import dead_letters
from faststream_hare.ops.cli import main
from tests.features.ops.test_ops_seed import MIXED, message_ids, seed_dead
from tests.support.amqp import drain_named
from tests.support.rabbit_admin import AMQP_URL, RabbitAdmin

pytestmark = pytest.mark.rabbit

ALL = [m[0] for m in MIXED]
VALUE_ERRORS = ["m0", "m2", "m5"]


async def hare(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``hare`` (its own event loop, so in a thread) and capture its output."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_list_shows_without_removing(prefix: str, capsys: pytest.CaptureFixture[str]) -> None:
    await seed_dead(prefix)
    code, out, _ = await hare(capsys, "dead", "list", prefix)
    assert code == 0
    assert f"{prefix}.dead (6 shown, head first)" in out
    assert out.index("bad order 0") < out.index("payment gateway") < out.index("bad order 5")
    code, out, _ = await hare(capsys, "dead", "list", prefix, "--json", "--limit", "4")
    records = json.loads(out)
    assert [r["message_id"] for r in records] == ALL[:4]
    assert records[0]["exception"] == "ValueError"
    assert records[0]["retries"] == 3  # retries performed
    assert records[0]["retry_count"] == 4  # the header, raw
    assert records[0]["headers"]["x-tenant"] == "acme"
    assert await message_ids(f"{prefix}.dead") == ALL


async def test_list_grouped(prefix: str, capsys: pytest.CaptureFixture[str]) -> None:
    await seed_dead(prefix)
    code, out, _ = await hare(capsys, "dead", "list", prefix, "--group-by", "exception", "--json")
    assert code == 0
    groups = {g["key"]: g for g in json.loads(out)}
    assert {k: g["count"] for k, g in groups.items()} == {
        "ValueError": 3,
        "TimeoutError": 2,
        "(none)": 1,
    }
    assert groups["ValueError"]["first_position"] == 0
    assert groups["ValueError"]["last_position"] == 5
    code, out, _ = await hare(capsys, "dead", "list", prefix, "--group-by", "error")
    assert "payment gateway timed out" in out
    assert await message_ids(f"{prefix}.dead") == ALL


async def test_replay_where_moves_exactly_the_matching(
    prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed_dead(prefix)
    code, out, _ = await hare(
        capsys, "dead", "replay", prefix, "--where", "exception=ValueError", "--json", "--yes"
    )
    assert code == 0
    report = json.loads(out)
    assert (report["moved"], report["skipped"], report["failed"]) == (3, 3, 0)
    assert report["ids"] == VALUE_ERRORS
    assert await message_ids(f"{prefix}.dead") == ["m1", "m3", "m4"]
    copies = await drain_named(prefix)
    assert [m.message_id for m in copies] == VALUE_ERRORS
    for copy in copies:  # retry state reset, other headers and properties kept
        assert "retry_count" not in copy.headers
        assert "hare-exception" not in copy.headers
        assert copy.headers["x-tenant"] == "acme"
        assert copy.content_type == "application/json"


async def test_replay_where_error_text_and_count(
    prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed_dead(prefix)
    code, out, _ = await hare(
        capsys, "dead", "replay", prefix, "--where", "error~GATEWAY", "--count", "1", "--yes"
    )
    assert code == 0
    assert out.splitlines() == [f"moved 1, skipped 1, failed 0 ({prefix}.dead to {prefix})", "  m1"]
    assert await message_ids(prefix) == ["m1"]
    assert await message_ids(f"{prefix}.dead") == ["m0", "m2", "m3", "m4", "m5"]


async def test_dry_run_moves_nothing(prefix: str, capsys: pytest.CaptureFixture[str]) -> None:
    await seed_dead(prefix)
    code, out, _ = await hare(capsys, "dead", "replay", prefix, "--dry-run")
    assert code == 0
    assert "would move 6" in out
    assert "nothing changed" in out
    assert await message_ids(prefix) == []
    assert await message_ids(f"{prefix}.dead") == ALL


async def test_rate_is_honoured(prefix: str) -> None:
    await seed_dead(prefix)
    started = time.monotonic()
    report = await dead_letters.replay_dead(AMQP_URL, prefix, rate="10/s")
    elapsed = time.monotonic() - started
    assert report.moved == 6
    # 6 copies at 10/s are spread over at least 0.5 s (the first goes at once); loosely:
    assert elapsed >= 0.45
    assert await message_ids(prefix) == ALL


async def test_unconfirmed_copy_stops_and_keeps_everything(
    prefix: str, capsys: pytest.CaptureFixture[str], admin: RabbitAdmin
) -> None:
    """No queue ``Q`` to route to: the copy is returned, nothing is lost, the order stays."""
    await seed_dead(prefix)
    admin._call("DELETE", f"queues/%2F/{prefix}")
    code, _, err = await hare(capsys, "dead", "replay", prefix, "--yes")
    assert code == 1
    assert "stopped after 0 message(s)" in err
    assert f"the rest stay in '{prefix}.dead'" in err
    assert await message_ids(f"{prefix}.dead") == ALL
    with pytest.raises(dead_letters.ReplayStoppedError) as stopped:
        await dead_letters.replay_dead(AMQP_URL, prefix)
    assert (stopped.value.report.moved, stopped.value.report.failed) == (0, 1)


async def test_replay_needs_yes(prefix: str, capsys: pytest.CaptureFixture[str]) -> None:
    """As purge: without --yes (or --dry-run) nothing moves, and the sentence says why."""
    await seed_dead(prefix)
    code, out, err = await hare(capsys, "dead", "replay", prefix, "--where", "exception=ValueError")
    assert (code, out) == (2, "")
    assert err.strip() == (
        "hare: hare dead replay sends messages back to Q to be handled again; "
        "add --yes (or try --dry-run first)."
    )
    assert await message_ids(f"{prefix}.dead") == ALL
    assert await message_ids(prefix) == []


async def test_purge_needs_yes_and_removes_exactly(
    prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed_dead(prefix)
    code, _, err = await hare(capsys, "dead", "purge", prefix, "--where", "exception=")
    assert code == 2
    assert "--yes" in err
    code, out, _ = await hare(capsys, "dead", "purge", prefix, "--where", "exception=", "--yes")
    assert code == 0
    assert out.splitlines() == [f"purged 1, skipped 5, failed 0 ({prefix}.dead)", "  m3"]
    assert await message_ids(f"{prefix}.dead") == ["m0", "m1", "m2", "m4", "m5"]
    assert await message_ids(prefix) == []


async def test_export_is_json_lines(
    prefix: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    await seed_dead(prefix, MIXED[:2])
    await seed_dead(prefix, [("bin", "UnicodeDecodeError", "not text")], body=b"\xff\x00")
    code, out, err = await hare(capsys, "dead", "export", prefix)
    assert code == 0
    assert "exported 3 message(s)" in err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [r["message_id"] for r in lines] == ["m0", "m1", "bin"]
    assert lines[0]["body"] == '{"id": "m0"}'
    assert lines[2]["body_base64"] == "/wA="
    target = tmp_path / "dead.jsonl"
    code, _, _ = await hare(capsys, "dead", "export", prefix, "-o", str(target))
    assert len(target.read_text().splitlines()) == 3
    assert await message_ids(f"{prefix}.dead") == ["m0", "m1", "bin"]


async def test_errors_are_one_sentence(prefix: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = await hare(
        capsys, "dead", "list", prefix, "--url", "amqp://guest:s3cret@127.0.0.1:1/"
    )
    assert code == 2
    assert err.strip().splitlines() == [
        "hare: Cannot connect to RabbitMQ at amqp://guest:***@127.0.0.1:1/ "
        "(AMQPConnectionError); check --url (or HARE_MQ_URL) and that the broker is running."
    ]
    code, _, err = await hare(capsys, "dead", "list", f"{prefix}.missing")
    assert code == 2
    assert f"Queue '{prefix}.missing.dead' does not exist" in err
    code, _, err = await hare(capsys, "dead", "replay", prefix, "--where", "colour=red")
    assert code == 2
    assert "--where 'colour=red' is not understood" in err
    code, _, err = await hare(capsys, "dead", "replay", prefix, "--rate", "fast")
    assert code == 2
    assert "--rate 'fast'" in err


async def test_library_functions(prefix: str) -> None:
    await seed_dead(prefix)
    letters = await dead_letters.list_dead(AMQP_URL, prefix)
    groups = dead_letters.group_dead(letters, "exception")
    assert [(g.key, g.count) for g in groups] == [
        ("ValueError", 3),
        ("TimeoutError", 2),
        ("(none)", 1),
    ]
    assert await dead_letters.dead_depth(AMQP_URL, prefix) == 6
    report = await dead_letters.purge_dead(AMQP_URL, prefix, where=groups[1].where)
    assert report.moved == 2
    assert await message_ids(f"{prefix}.dead") == ["m0", "m2", "m3", "m5"]
