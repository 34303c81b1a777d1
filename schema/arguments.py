"""Reading what every domain's fields take: ids, and the user the permission classes let in."""

from __future__ import annotations

from models.accounts import User
from models.errors import BadUserInput
from schema.context import Info

MAX_ID = 2**63 - 1


def parse_id(value: str, name: str = "id") -> int:
    """A database id from a GraphQL ID; anything else is BAD_USER_INPUT naming the argument."""
    try:
        number = int(value)
    except ValueError as exc:
        raise BadUserInput(f"{name} is not a valid id", field=name) from exc
    if not 0 < number <= MAX_ID:
        raise BadUserInput(f"{name} is not a valid id", field=name)
    return number


async def signed_in_user(info: Info) -> User:
    user = await info.context.auth.user()
    assert user is not None  # only called behind a permission class that required one
    return user
