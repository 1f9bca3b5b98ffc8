"""Accounts' tables: people, their API tokens and their notifications inbox."""

from __future__ import annotations

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
    # Bumped on password change: a session cookie carries the version it was issued under, so
    # changing the password logs every other browser out.
    session_version = fields.IntField(default=1)
    # Written only by membership/ (grant, renewal, refund); accounts merely shows it.
    member_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "accounts_user"

    def __str__(self) -> str:
        return self.email


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
