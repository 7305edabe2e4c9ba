"""The console's pages: overview, a queue's dead letters by group, one message, actions.

Server-rendered (Jinja2), no JavaScript. Every action is a GET that shows what it will touch
and a POST form (with the CSRF field) that does it and says how many messages it moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from faststream_hare._internal.masking import mask_text, mask_url
from faststream_hare.errors import HareError
from faststream_hare.ops import dead_letters
from faststream_hare.ops.console.auth import CSRF_FIELD, csrf_ok, csrf_value, visit_of
from faststream_hare.ops.records import pretty_body, preview
from faststream_hare.ops.selection import NO_EXCEPTION, DeadLetter, Where, group_dead
from faststream_hare.ops.status import gather_status
from faststream_hare.ops.target import Target

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters["preview"] = preview
TEMPLATES.env.filters["when"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S")
ACTIONS = {"replay": "Replay", "purge": "Purge"}


@dataclass(frozen=True)
class Console:
    """What the console serves: the broker's hare queues (or given ones) at ``target.url``."""

    target: Target
    queues: tuple[str, ...] = ()
    sample: int = 10_000
    mgmt_url: str | None = None

    def known_queues(self) -> list[str]:
        if self.target.broker is None:
            return list(self.queues)
        return sorted(
            s.queue_name
            for s in self.target.broker.hare_subscribers()
            if not s.hare.stream or s.hare.stream_dead_letter
        )

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
            "no_auth": visit_of(request).no_auth,
        }
        return TEMPLATES.TemplateResponse(request, name, context)

    def failure(self, request: Request, exc: HareError) -> Response:
        response = self.render(request, "error.html", message=mask_text(str(exc)))
        response.status_code = 503
        return response

    async def read(self, queue: str) -> tuple[list[DeadLetter], int]:
        """At most ``sample`` dead letters, and how many ``Q.dead`` holds in all."""
        letters = await dead_letters.list_dead(self.target.url, queue, limit=self.sample)
        return letters, await dead_letters.dead_depth(self.target.url, queue)


async def overview(request: Request) -> Response:
    console: Console = request.app.state.console
    try:
        statuses = await gather_status(
            console.target, queues=tuple(console.known_queues()), mgmt_url=console.mgmt_url
        )
    except HareError as exc:
        return console.failure(request, exc)
    return console.render(request, "overview.html", statuses=statuses)


async def queue_page(request: Request) -> Response:
    console: Console = request.app.state.console
    queue = console.check_queue(request.path_params["queue"])
    group = request.query_params.get("group")
    try:
        letters, depth = await console.read(queue)
    except HareError as exc:
        return console.failure(request, exc)
    groups = group_dead(letters, "exception")
    shown = [m for m in letters if group is None or (m.exception or NO_EXCEPTION) == group]
    return console.render(
        request,
        "queue.html",
        queue=queue,
        groups=groups,
        group=group,
        letters=shown[:200],
        more=max(len(shown) - 200, 0),
        read=len(letters),
        depth=depth,
    )


async def message_page(request: Request) -> Response:
    console: Console = request.app.state.console
    queue = console.check_queue(request.path_params["queue"])
    fingerprint = request.path_params["fingerprint"]
    try:
        letters, _ = await console.read(queue)
    except HareError as exc:
        return console.failure(request, exc)
    letter = next((m for m in letters if m.fingerprint == fingerprint), None)
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
    try:
        preview_report = await dead_letters.replay_dead(
            console.target.url,
            queue,
            where=where,
            count=1 if request.query_params.get("fingerprint") else None,
            dry_run=True,
            sample=console.sample,
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
        matching=preview_report.moved,
    )


async def do_action(request: Request) -> Response:
    console: Console = request.app.state.console
    queue = console.check_queue(request.path_params["queue"])
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        raise HTTPException(403, "The form's CSRF field is missing or wrong; reload the page.")
    action = _action(form.get("action"))
    label, where = _selection(form)
    run = dead_letters.replay_dead if action == "replay" else dead_letters.purge_dead
    count = 1 if form.get("fingerprint") else None  # one message, even if it has twins
    try:
        report = await run(
            console.target.url, queue, where=where, count=count, sample=console.sample
        )
    except dead_letters.ReplayStoppedError as stopped:
        report = stopped.report
    except HareError as exc:
        return console.failure(request, exc)
    return console.render(
        request, "done.html", queue=queue, action=action, label=label, report=report
    )
