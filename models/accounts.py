"""People who sign in (editors, admins, partners, developers) and their sessions."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.catalogue import Partner
from models.enums import Role, SessionKind


class User(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    display_name = fields.CharField(max_length=120)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharEnumField(Role, max_length=16)
    # Editors marked as reviewers may approve, reject, publish and unpublish like admins.
    is_reviewer = fields.BooleanField(default=False)
    # The organisation a partner account speaks for.
    partner: fields.ForeignKeyNullableRelation[Partner] = fields.ForeignKeyField(
        "store.Partner", related_name="users", null=True, on_delete=fields.SET_NULL
    )
    partner_id: int | None
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_sign_in_at = fields.DatetimeField(null=True)

    class Meta:
        table = "user_account"


class Session(Model):
    """A signed-in session. Only a hash of its token is stored."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    csrf_token = fields.CharField(max_length=64)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "store.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: int
    kind = fields.CharEnumField(SessionKind, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "user_session"


class SignInFailure(Model):
    """Recent failed sign-ins per email, to slow down password guessing."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=300, unique=True)
    failures = fields.IntField(default=0)
    first_failure_at = fields.DatetimeField()
    blocked_until = fields.DatetimeField(null=True)

    class Meta:
        table = "sign_in_failure"
