"""The ZIP of a member's copy of their data: README.txt and one JSON file per part
(privacy.contents), read in batches so a person with many rows costs bounded memory."""

from __future__ import annotations

import json
import zipfile
from collections.abc import AsyncIterator
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import IO, Any, cast

from tortoise import Tortoise
from tortoise.expressions import Q
from tortoise.models import Model

from accounts import notices
from accounts.models import User
from privacy.contents import PARTS, SECRETS, Child, Source
from translation import supported
from web.rendering import shanghai_time

BATCH = 500  # rows read at once


def model_named(label: str) -> type[Model]:
    app, name = label.split(".")
    return cast(type[Model], Tortoise.apps[app][name])


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return str(value)


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, default=_plain).encode()


def _columns(model: type[Model], drop: frozenset[str]) -> list[str]:
    return [name for name in model._meta.fields_db_projection if name not in SECRETS | drop]


async def _rows(
    model: type[Model], column: str, value: object, drop: frozenset[str]
) -> AsyncIterator[list[dict[str, Any]]]:
    """The rows of `model` whose `column` is `value`, BATCH at a time, in key order."""
    key = model._meta.pk_attr
    columns = _columns(model, drop)
    after: object = None
    while True:
        query = model.filter(**{column: value})
        if after is not None:
            query = query.filter(**{f"{key}__gt": after})
        batch = await query.order_by(key).limit(BATCH).values(*columns, **{"_key": key})
        if not batch:
            return
        after = batch[-1].pop("_key")
        for row in batch[:-1]:
            row.pop("_key")
        yield batch
        if len(batch) < BATCH:
            return


async def _children_of(child: Child, ids: list[Any]) -> AsyncIterator[dict[str, Any]]:
    """The `child` rows of the parents `ids`, in parent then key order, BATCH read at once (a
    conversation of ten thousand messages is never held whole)."""
    model = model_named(child.model)
    key = model._meta.pk_attr
    parent = child.parent_column
    columns = _columns(model, child.drop)
    last: tuple[Any, Any] | None = None
    while True:
        query = model.filter(**{f"{parent}__in": ids})
        if last is not None:
            query = query.filter(
                Q(**{f"{parent}__gt": last[0]}) | Q(**{parent: last[0], f"{key}__gt": last[1]})
            )
        page = await query.order_by(parent, key).limit(BATCH).values(*columns, _key=key)
        for row in page:
            last = (row[parent], row.pop("_key"))
            yield row
        if len(page) < BATCH:
            return


async def _write_nested(
    out: IO[bytes], batch: list[dict[str, Any]], children: tuple[Child, ...], *, first: bool
) -> None:
    """Write the rows of `batch` (in key order), each with its children under their keys,
    the children streamed beside them (both ordered by the parent's id)."""
    ids = [row["id"] for row in batch]
    cursors = [_children_of(child, ids) for child in children]
    upcoming = [await anext(cursor, None) for cursor in cursors]
    for row in batch:
        out.write((b"\n" if first else b",\n") + _json(row)[:-1])
        first = False
        for index, child in enumerate(children):
            out.write(b", " + _json(child.key) + b": [")
            written = 0
            while (found := upcoming[index]) is not None and found[child.parent_column] == row[
                "id"
            ]:
                out.write((b", " if written else b"") + _json(found))
                written += 1
                upcoming[index] = await anext(cursors[index], None)
            out.write(b"]")
        out.write(b"}")


def _readable(source: Source, row: dict[str, Any], locale: str) -> None:
    """What a row means in words where its columns alone do not say (a notice's sentence)."""
    if source.model == "accounts.Notification":
        row["text"] = notices.render(row["kind"], row.get("params"), locale, row["message"])


async def _write_source(out: IO[bytes], source: Source, user: User, locale: str) -> None:
    out.write(_json(source.key) + b": [")
    first = True
    model = model_named(source.model)
    async for batch in _rows(model, source.column, user.id, source.drop):
        if source.children:
            await _write_nested(out, batch, source.children, first=first)
            first = False
            continue
        for row in batch:
            _readable(source, row, locale)
            out.write((b"\n" if first else b",\n") + _json(row))
            first = False
    out.write(b"]")


def account_of(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "email_verified_at": user.email_verified_at,
        "has_password": user.has_password,
        "created_at": user.created_at,
        "locale": user.locale,
        "member_until": user.member_until,
        "staff_role": user.staff_role,
        "agreed_terms_version": user.agreed_terms,
        "agreed_privacy_version": user.agreed_privacy,
        "erase_after": user.erase_after,
    }


def profile_of(user: User) -> dict[str, Any]:
    return {
        "display_name": user.display_name,
        "bio": user.bio,
        "avatar_version": user.avatar_version,
        "avatar_state": user.avatar_state,
        "ip_region": user.ip_region,
    }


def readme(now: datetime) -> str:
    made = shanghai_time(now)
    zh = [
        "书院：你的数据副本",
        f"生成于 {made}（北京时间）。每个文件是一份 JSON，时间为 UTC。",
        "我们从不保存你的银行卡信息：卡号等由支付机构处理，这里只有支付记录。",
        "不含任何密码、令牌或其摘要。",
        "",
        *(f"{part.file}：{part.zh}" for part in PARTS),
    ]
    en = [
        "Shuyuan: a copy of your data",
        f"Made on {made} (Beijing time). Each file is JSON; times in it are UTC.",
        "We never hold your card details: the payment provider handles them; here are the "
        "payments only.",
        "No password, token or digest of one is included.",
        "",
        *(f"{part.file}: {part.en}" for part in PARTS),
    ]
    return "\n".join([*zh, "", "----", "", *en, ""])


async def write_zip(user: User, path: Path, *, now: datetime) -> int:
    """Write `user`'s copy to `path` (a new file); returns its size in bytes."""
    locale = supported(user.locale)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", readme(now))
        fixed = {"account.json": account_of(user), "profile.json": profile_of(user)}
        for part in PARTS:
            with archive.open(part.file, "w") as out:
                out.write(b'{"made_at": ' + _json(now))
                if part.file in fixed:
                    out.write(b', "' + part.file.removesuffix(".json").encode() + b'": ')
                    out.write(_json(fixed[part.file]))
                for source in part.sources:
                    out.write(b",\n")
                    await _write_source(out, source, user, locale)
                out.write(b"}\n")
    return _size(path)


def _size(path: Path) -> int:
    return path.stat().st_size
