"""The outreach JSON API (admins: Capability.OUTREACH): segments, and broadcasts with their
progress. The console's pages (crm.admin) are its twin over the same services."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from accounts.roles import Capability
from crm import broadcasts, schemas, segments
from crm.broadcasts import Audience
from crm.models import AudienceKind, Broadcast, Segment
from web.api import iso, json_response, operation, read_json
from web.auth import staff_member, staff_only


def segment_json(segment: Segment, count: int) -> dict[str, Any]:
    return {
        "id": segment.id,
        "name": segment.name,
        "filter": segment.rules,
        "count": count,
        "created_at": iso(segment.created_at),
    }


def broadcast_json(broadcast: Broadcast) -> dict[str, Any]:
    return {
        "id": broadcast.id,
        "status": broadcast.status.value,
        "recipients": broadcast.recipients,
        "delivered": broadcast.delivered,
        "failed": broadcast.failed,
        "skipped": broadcast.skipped,
        "clicks": broadcast.clicks,
        "title": broadcast.title,
        "mailed": broadcast.mailed,
        "audience": {"kind": broadcast.audience_kind.value, "id": broadcast.audience_id},
        "send_at": iso(broadcast.send_at),
        "started_at": iso(broadcast.started_at),
        "finished_at": iso(broadcast.finished_at),
    }


@operation(
    "Every segment, newest first, each with the number of people it selects now (admins)",
    answer=schemas.Segments,
    tag="outreach",
)
@staff_only(Capability.OUTREACH)
async def list_segments(request: Request) -> Response:
    counted = await segments.all_counted(now=datetime.now(UTC))
    return json_response({"items": [segment_json(s, n) for s, n in counted]})


@operation(
    "Save a segment: a named filter over people, counted live (admins)",
    body=schemas.NewSegment,
    answer=schemas.SegmentCreated,
    status=201,
    tag="outreach",
    errors={409: "name_taken"},
)
@staff_only(Capability.OUTREACH)
async def create_segment(request: Request) -> Response:
    data = await read_json(request, schemas.NewSegment)
    segment, count = await segments.create(
        actor=staff_member(request),
        name=data.name,
        rules=segments.read_filter(msgspec.to_builtins(data.filter)),
        now=datetime.now(UTC),
    )
    return json_response({"id": segment.id, "count": count}, 201)


@operation(
    "Delete a segment; refused while a broadcast that is not yet sent goes to it (admins)",
    status=204,
    tag="outreach",
    errors={404: "not_found", 409: "segment_in_use"},
)
@staff_only(Capability.OUTREACH)
async def delete_segment(request: Request) -> Response:
    await segments.delete(
        actor=staff_member(request), segment_id=request.path_params["id"], now=datetime.now(UTC)
    )
    return Response(status_code=204)


@operation(
    "Write a broadcast to an audience, sent now or at `send_at`: at most one a Shanghai day "
    "reaches anyone (admins); the answer lists the watched words in it, as a warning",
    body=schemas.NewBroadcast,
    answer=schemas.BroadcastCreated,
    status=201,
    tag="outreach",
    errors={404: "not_found", 409: "daily_limit", 422: "empty_audience"},
)
@staff_only(Capability.OUTREACH)
async def create_broadcast(request: Request) -> Response:
    data = await read_json(request, schemas.NewBroadcast)
    broadcast = await broadcasts.create(
        actor=staff_member(request),
        title=data.title,
        body=data.body,
        audience=Audience(AudienceKind(data.audience.kind), data.audience.id),
        send_at=data.send_at,
        now=datetime.now(UTC),
    )
    found = await broadcasts.watched_words(broadcast.title, broadcast.body)
    return json_response(
        {
            "id": broadcast.id,
            "recipients": broadcast.recipients,
            "status": broadcast.status.value,
            "watched_words": [{"word": w.word, "action": w.action.value} for w in found],
        },
        201,
    )


@operation(
    "The latest broadcasts, newest first, with their progress (admins)",
    answer=schemas.Broadcasts,
    tag="outreach",
)
@staff_only(Capability.OUTREACH)
async def list_broadcasts(request: Request) -> Response:
    return json_response({"items": [broadcast_json(b) for b in await broadcasts.recent()]})


@operation(
    "A broadcast and its progress: delivered, skipped, failed, mailed, clicks (admins)",
    answer=schemas.BroadcastProgress,
    tag="outreach",
)
@staff_only(Capability.OUTREACH)
async def get_broadcast(request: Request) -> Response:
    return json_response(broadcast_json(await broadcasts.get(request.path_params["id"])))


@operation(
    "Withdraw a broadcast that has not started (admins)",
    answer=schemas.BroadcastProgress,
    tag="outreach",
    errors={409: "not_scheduled"},
)
@staff_only(Capability.OUTREACH)
async def cancel_broadcast(request: Request) -> Response:
    broadcast = await broadcasts.cancel(
        actor=staff_member(request),
        broadcast_id=request.path_params["id"],
        now=datetime.now(UTC),
    )
    return json_response(broadcast_json(broadcast))


def routes() -> list[BaseRoute]:
    """This module's routes, built when the app factory asks (after `{id:id}` is known)."""
    return [
        Route("/admin/segments", list_segments, methods=["GET"], name="crm.list_segments"),
        Route("/admin/segments", create_segment, methods=["POST"], name="crm.create_segment"),
        Route(
            "/admin/segments/{id:id}", delete_segment, methods=["DELETE"], name="crm.delete_segment"
        ),
        Route("/admin/broadcasts", list_broadcasts, methods=["GET"], name="crm.list_broadcasts"),
        Route("/admin/broadcasts", create_broadcast, methods=["POST"], name="crm.create_broadcast"),
        Route("/admin/broadcasts/{id:id}", get_broadcast, methods=["GET"], name="crm.broadcast"),
        Route(
            "/admin/broadcasts/{id:id}/cancel",
            cancel_broadcast,
            methods=["POST"],
            name="crm.cancel_broadcast",
        ),
    ]
