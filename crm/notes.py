"""Staff's notes on a person and admins' tags.

Who may do what (accounts.roles): everyone who may read people (support, moderators, admins)
reads the notes meant for staff and writes notes, always for staff; only admins (and owners)
read and write notes meant for admins, change a note's readers, and add or remove tags.
Notes are never edited or deleted: they are what was known and said, when.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from tortoise.transactions import in_transaction

from accounts import audit
from accounts.models import User
from accounts.roles import Capability
from crm.errors import NoteNotFound, PersonNotFound
from crm.models import NoteVisibility, PersonNote, PersonTag, Tag
from errors import Forbidden, ValidationError

MAX_NOTE = 2000
MAX_TAG = 30
MAX_TAGS_PER_PERSON = 30


def may_read_admin_notes(reader: User) -> bool:
    return reader.may(Capability.OUTREACH)


async def _person(user_id: int) -> User:
    person = await User.get_or_none(id=user_id)
    if person is None:
        raise PersonNotFound()
    return person


async def notes_for(reader: User, user_id: int) -> list[PersonNote]:
    """The notes on a person that `reader` may read, newest first, with their authors."""
    query = PersonNote.filter(user_id=user_id)
    if not may_read_admin_notes(reader):
        query = query.filter(visibility=NoteVisibility.STAFF)
    return await query.select_related("author").order_by("-id").limit(200)


async def add_note(
    *, author: User, user_id: int, body: str, visibility: str = "staff", now: datetime
) -> PersonNote:
    """Write a note on a person. Raises PersonNotFound, ValidationError (empty, too long),
    Forbidden (an admins-only note by someone who is not an admin: a right, not a field)."""
    text = body.strip()
    if not 1 <= len(text) <= MAX_NOTE:
        raise ValidationError("body", f"must be 1 to {MAX_NOTE} characters")
    try:
        wanted = NoteVisibility(visibility)
    except ValueError:
        raise ValidationError("visibility", "must be staff or admins") from None
    if wanted == NoteVisibility.ADMINS and not may_read_admin_notes(author):
        raise Forbidden("Only admins write notes that only admins read.")
    async with in_transaction():
        await _person(user_id)
        note = await PersonNote.create(
            user_id=user_id, author=author, body=text, visibility=wanted, created_at=now
        )
        await audit.record(
            actor=author,
            action="note.create",
            object_type="user",
            object_id=user_id,
            after={"note": note.id, "visibility": wanted.value},
            now=now,
        )
    return note


async def set_visibility(
    *, actor: User, note_id: int, visibility: str, now: datetime
) -> PersonNote:
    """Change who may read a note (admins). Raises NoteNotFound, ValidationError."""
    try:
        wanted = NoteVisibility(visibility)
    except ValueError:
        raise ValidationError("visibility", "must be staff or admins") from None
    async with in_transaction():
        note = await PersonNote.filter(id=note_id).select_for_update().first()
        if note is None:
            raise NoteNotFound()
        before = note.visibility
        if before != wanted:
            note.visibility = wanted
            await note.save(update_fields=["visibility"])
            await audit.record(
                actor=actor,
                action="note.visibility",
                object_type="user",
                object_id=note.user_id,  # type: ignore[attr-defined]
                before={"note": note.id, "visibility": str(before)},
                after={"note": note.id, "visibility": wanted.value},
                now=now,
            )
    return note


def clean_tag(name: str) -> str:
    clean = " ".join(name.split())
    if not 1 <= len(clean) <= MAX_TAG:
        raise ValidationError("tag", f"must be 1 to {MAX_TAG} characters")
    return clean


async def tags_of(user_id: int) -> list[str]:
    return cast(
        list[str],
        await PersonTag.filter(user_id=user_id)
        .order_by("tag__name")
        .values_list("tag__name", flat=True),
    )


async def all_tags() -> list[str]:
    return cast(list[str], await Tag.all().order_by("name").values_list("name", flat=True))


async def add_tag(*, actor: User, user_id: int, name: str, now: datetime) -> list[str]:
    """Put a tag on a person (made when new); nothing when they carry it already. Raises
    PersonNotFound, ValidationError."""
    clean = clean_tag(name)
    async with in_transaction():
        await _person(user_id)
        if await PersonTag.filter(user_id=user_id).count() >= MAX_TAGS_PER_PERSON:
            raise ValidationError("tag", f"a person carries at most {MAX_TAGS_PER_PERSON} tags")
        tag, _made = await Tag.get_or_create(name=clean, defaults={"created_at": now})
        _tagged, added = await PersonTag.get_or_create(
            user_id=user_id, tag=tag, defaults={"added_by_id": actor.id, "created_at": now}
        )
        if added:
            await audit.record(
                actor=actor,
                action="tag.add",
                object_type="user",
                object_id=user_id,
                after={"tag": clean},
                now=now,
            )
    return await tags_of(user_id)


async def remove_tag(*, actor: User, user_id: int, name: str, now: datetime) -> list[str]:
    clean = clean_tag(name)
    async with in_transaction():
        tag = await Tag.get_or_none(name=clean)
        removed = await PersonTag.filter(user_id=user_id, tag_id=tag.id).delete() if tag else 0
        if removed:
            await audit.record(
                actor=actor,
                action="tag.remove",
                object_type="user",
                object_id=user_id,
                before={"tag": clean},
                now=now,
            )
    return await tags_of(user_id)
