"""Accounts' tables: people, their API tokens and their notifications inbox."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class User(Model):
    id = fields.IntField(primary_key=True)
    # Stored lower-cased and stripped; unique so two registrations racing for one address
    # cannot both succeed.
    email = fields.CharField(max_length=254, unique=True)
    display_name = fields.CharField(max_length=40)
    password_hash = fields.CharField(max_length=200)
    is_admin = fields.BooleanField(default=False)
    # Written only by membership/ (grant, renewal, refund); accounts merely shows it.
    member_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "accounts_user"

    def __str__(self) -> str:
        return self.email


class Session(Model):
    """A browser's session (accounts.sessions): the cookie holds a random key, this row only
    its SHA-256. A visitor's session (no user) exists only to carry a flash message."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="sessions", on_delete=fields.CASCADE, null=True
    )
    key_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()
    user_agent = fields.CharField(max_length=200, default="")
    address = fields.CharField(max_length=64, default="")  # masked: 203.0.113.x
    privileges = fields.CharField(max_length=40, default="")  # the rights it began with
    data: dict[str, Any] = fields.JSONField(default=dict)  # flash messages

    class Meta:
        table = "accounts_session"
        indexes = (("user_id", "last_seen_at"),)


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="api_tokens", on_delete=fields.CASCADE
    )
    # sha256 of the bearer token; the token itself is shown once and never stored.
    token_hash = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=80, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "accounts_api_token"


class Notification(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="notifications", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=40)
    message = fields.CharField(max_length=500)
    link = fields.CharField(max_length=300, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "accounts_notification"
        indexes = (("user_id", "read_at"),)
