"""The console's pages: overview, a queue's dead letters by group, one message, actions.

Server-rendered (Jinja2), no JavaScript. Every action is a GET that shows what it will touch
and a POST form (with the CSRF field) that does it and says how many messages it moved.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from faststream_hare._internal.compat import UTC
from faststream_hare._internal.masking import mask_text, mask_url
from faststream_hare.errors import HareError, ReplayError
from faststream_hare.ops import dead_letters
from faststream_hare.ops.console.auth import CSRF_FIELD, csrf_ok, csrf_value, visit_of
from faststream_hare.ops.dead_pages import find_letter, read_page, select_letters
from faststream_hare.ops.doctor import delivery_limit_fix
from faststream_hare.ops.records import pretty_body, preview
from faststream_hare.ops.selection import NO_EXCEPTION, Where
from faststream_hare.ops.status import gather_status
from faststream_hare.ops.target import Target
from faststream_hare.outbox.found import gather_backlogs
from faststream_hare.telemetry import signals

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters["preview"] = preview
ACTIONS = {"replay": "Replay", "purge": "Purge"}
#: A confirmation page lists the messages one by one up to this many, else counts them.
LIST_UP_TO = 100


def when(moment: datetime | None, zone: tzinfo = UTC) -> str:
    """A time as the operator reads it: in ``zone`` (UTC unless given), with its name."""
    if moment is None:
        return "unknown"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


TEMPLATES.env.filters["when"] = when


@dataclass(frozen=True)
class ActionResult:
    """What one replay or purge did, for its result page."""

    queue: str
    action: str
    label: str
    report: Any


class ActionResults:
    """The newest results by an unguessable id: a refresh shows the result again, and never
    repeats the action (POST, then redirect, then GET)."""

    KEEP = 200

    def __init__(self) -> None:
        self._results: OrderedDict[str, ActionResult] = OrderedDict()

    def add(self, result: ActionResult) -> str:
        key = secrets.token_urlsafe(12)
        self._results[key] = result
        while len(self._results) > self.KEEP:
            self._results.popitem(last=False)
        return key

    def get(self, key: str) -> ActionResult | None:
        return self._results.get(key)


@dataclass(frozen=True)
class Console:
    """What the console serves: the broker's hare queues (or given ones) at ``target.url``."""

    target: Target
    queues: tuple[str, ...] = ()
    sample: int = 1_000
    mgmt_url: str | None = None
    #: The operator's time zone for times on the pages (UTC unless given).
    zone: tzinfo = UTC

    #: Results of replays and purges, shown by the GET their POST redirects to (the newest).
    results: ActionResults = field(default_factory=lambda: ActionResults())

    def overview_queues(self) -> list[str]:
        """Every hare queue, streams without a dead queue too (they have no queue page)."""
        if self.target.broker is None:
            return list(self.queues)
        return sorted(s.queue_name for s in self.target.broker.hare_subscribers())

    def known_queues(self) -> list[str]:
        if self.target.broker is None:
            return list(self.queues)
        return sorted(
            s.queue_name
            for s in self.target.broker.hare_subscribers()
            if not s.hare.stream or s.hare.stream_dead_letter
        )

    def replayed(self, queue: str, moved: int) -> None:
        """A replay run by the app's own console counts as the app's replays do
        (``hare_dead_letters_replayed_total``); a console with only a URL has no app."""
        if self.target.broker is not None:
            signals.emit_replayed(self.target.broker.hare_runtime.sender, queue, moved)

    def check_queue(self, queue: str) -> str:
        if queue not in self.known_queues():
            raise HTTPException(404, f"'{queue}' is not a hare queue of this console")
        return queue

    def render(self, request: Request, name: str, **context: Any) -> Response:
        context |= {
            "csrf_field": CSRF_FIELD,
            "csrf": csrf_value(request),
            "server": mask_url(self.target.url),
            "sample": self.sample,
            "zone": self.zone,
            "no_auth": visit_of(request).no_auth,
        }
        return TEMPLATES.TemplateResponse(request, name, context)

    def failure(self, request: Request, exc: HareError) -> Response:
        response = self.render(request, "error.html", message=mask_text(str(exc)))
        response.status_code = 503
        return response


async def overview(request: Request) -> Response:
    console: Console = request.app.state.console
    try:
        statuses = await gather_status(
            console.target, queues=tuple(console.overview_queues()), mgmt_url=console.mgmt_url
        )
        outboxes = await gather_backlogs(console.target.broker)
    except HareError as exc:
        return console.failure(request, exc)
    return console.render(request, "overview.html", statuses=statuses, outboxes=outboxes)


async def queue_page(request: Request) -> Response:
    console: Console = request.app.state.console
    queue = console.check_queue(request.path_params["queue"])
    group = request.query_params.get("group")
    page_number = _page_number(request.query_params.get("page"))
    try:
        page = await read_page(
            console.target.url,
            queue,
            window=console.sample,
            page=page_number,
            group=group,
            mgmt_url=console.mgmt_url,
        )
    except HareError as exc:
        return console.failure(request, exc)
    return console.render(
        request,
        "queue.html",
        queue=queue,
        groups=page.groups,
        group=group,
        letters=page.letters,
        page=page.page,
        has_next=page.has_next,
        read=page.read,
        depth=page.depth,
        delivery_limit=page.delivery_limit,
        limit_fix=None if page.delivery_limit is None else delivery_limit_fix(queue),
    )


def _page_number(value: str | None) -> int:
    if value is None or value == "":
        return 0
    if not value.isdigit():
        raise HTTPException(400, "page must be a whole number >= 0.")
    return int(value)


async def message_page(request: Request) -> Response:
    console: Console = request.app.state.console
    queue = console.check_queue(request.path_params["queue"])
    fingerprint = request.path_params["fingerprint"]
    try:
        letter = await find_letter(
            console.target.url, queue, fingerprint, window=console.sample, mgmt_url=console.mgmt_url
        )
    except HareError as exc:
        return console.failure(request, exc)
    if letter is None:
        raise HTTPException(404, "That message is no longer in the dead queue (or not sampled).")
    return console.render(
        request, "message.html", queue=queue, letter=letter, body=pretty_body(letter)
    )


def _selection(params: Any) -> tuple[str, tuple[Where, ...]]:
    """(description, filter) from ``group=...`` or ``fingerprint=...``; 400 without either."""
    if params.get("fingerprint"):
        value = str(params["fingerprint"])
        return f"message {value}", (Where("fingerprint", "=", value),)
    if params.get("group") is not None and params.get("group") != "":
        group = str(params["group"])
        exc = "" if group == NO_EXCEPTION else group
        return f"group {group}", (Where("exception", "=", exc),)
    raise HTTPException(400, "Say which messages: a group=... or a fingerprint=... is needed.")


def _action(value: object) -> str:
    if value not in ACTIONS:
        raise HTTPException(400, "The action must be replay or purge.")
    return str(value)


async def confirm_page(request: Request) -> Response:
    console: Console = request.app.state.console
    queue = console.check_queue(request.path_params["queue"])
    action = _action(request.query_params.get("action"))
    label, where = _selection(request.query_params)
    one = bool(request.query_params.get("fingerprint"))
    try:
        selected = await select_letters(
            console.target.url,
            queue,
            where,
            window=console.sample,
            limit=1 if one else None,
            mgmt_url=console.mgmt_url,
        )
    except HareError as exc:
        return console.failure(request, exc)
    return console.render(
        request,
        "confirm.html",
        queue=queue,
        action=action,
        verb=ACTIONS[action],
        label=label,
        params=dict(request.query_params),
        selected=selected,
        listed=selected if len(selected) <= LIST_UP_TO else [],
        matching=len(selected),
    )


async def do_action(request: Request) -> Response:
    console: Console = request.app.state.console
    queue = console.check_queue(request.path_params["queue"])
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        raise HTTPException(403, "The form's CSRF field is missing or wrong; reload the page.")
    action = _action(form.get("action"))
    label, where = _selection(form)
    # Exactly the messages the confirmation page showed: what arrived since stays.
    only = [str(value) for value in form.getlist("only")]
    if not only:
        raise HTTPException(400, "The form names no messages; open the confirmation page again.")
    run = dead_letters.replay_dead if action == "replay" else dead_letters.purge_dead
    try:
        report = await run(
            console.target.url,
            queue,
            where=where,
            only=only,
            count=len(only),
            sample=console.sample,
            mgmt_url=console.mgmt_url,
        )
    except dead_letters.ReplayStoppedError as stopped:
        report = stopped.report
    except HareError as exc:
        if isinstance(exc, ReplayError) and action == "replay":
            console.replayed(queue, exc.moved)  # what went before the failure still counts
        return console.failure(request, exc)
    if action == "replay":
        console.replayed(queue, report.moved)
    key = console.results.add(ActionResult(queue, action, label, report))
    done = request.url_for("done", queue=queue, result=key)
    return RedirectResponse(done.path, status_code=303)  # a refresh never posts again


async def done_page(request: Request) -> Response:
    console: Console = request.app.state.console
    queue = console.check_queue(request.path_params["queue"])
    result = console.results.get(request.path_params["result"])
    if result is None or result.queue != queue:
        raise HTTPException(404, "That result is no longer kept; the queue page shows the state.")
    return console.render(
        request,
        "done.html",
        queue=queue,
        action=result.action,
        label=result.label,
        report=result.report,
    )
