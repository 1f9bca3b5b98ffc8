"""Privacy's table: the copies of their data members asked for."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from accounts.models import User


class ExportState(StrEnum):
    PENDING = "pending"  # asked for: the export job writes it
    READY = "ready"  # its ZIP is written; its link works until expires_at
    FAILED = "failed"  # the job gave up: the member may ask again
    EXPIRED = "expired"  # its link has expired and its file is deleted


class DataExport(Model):
    """A member's request for a copy of their data, and the ZIP the job wrote for it. Only the
    digest of the download link's token is kept."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="data_exports", on_delete=fields.CASCADE
    )
    user_id: int  # the foreign key's column, as Tortoise sets it (typed for mypy)
    state = fields.CharEnumField(ExportState, max_length=10, default=ExportState.PENDING)
    requested_at = fields.DatetimeField()
    ready_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    token_hash = fields.CharField(max_length=64, null=True, unique=True)
    file_name = fields.CharField(max_length=100, null=True)  # under var/exports/
    size_bytes = fields.IntField(default=0)
    attempts = fields.IntField(default=0)
    # When a job took it to write (privacy.export.write_pending): no other job takes it until
    # this lease runs out, so two workers never write one export twice.
    claimed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "privacy_export"
        indexes = (("state", "id"), ("user_id", "id"))
