"""Signing in and out, sessions, roles and CSRF, as an API client and as the web UI."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from cms.accounts import create_user
from models.accounts import Session, SignInFailure, User
from models.enums import Role
from models.errors import BadUserInput
from tests.conftest import PASSWORD, run_cli

SIGN_IN = """
mutation($e: String!, $p: String!, $k: SessionKind!) {
  signIn(email: $e, password: $p, kind: $k) { token csrfToken expiresAt user { email role } }
}
"""
ME = "{ me { email role displayName } }"


async def post(http: httpx.AsyncClient, query: str, variables: dict | None = None, **headers: str) -> dict:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    return response.json()


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_passwords_are_stored_as_argon2_hashes(db):
    user = await create_user("Claire@Exemple.fr ", PASSWORD, Role.EDITOR)
    assert user.email == "claire@exemple.fr"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


async def test_bearer_sign_in_me_and_sign_out(client):
    await create_user("claire@exemple.fr", PASSWORD, Role.EDITOR, display_name="Claire")

    body = await post(client, SIGN_IN, {"e": "CLAIRE@exemple.fr", "p": PASSWORD, "k": "BEARER"})
    token = body["data"]["signIn"]["token"]
    auth = {"authorization": f"Bearer {token}"}

    assert (await post(client, ME, **auth))["data"]["me"] == {
        "email": "claire@exemple.fr",
        "role": "EDITOR",
        "displayName": "Claire",
    }
    assert (await post(client, "mutation { signOut }", **auth))["data"] == {"signOut": True}
    assert (await post(client, ME, **auth))["data"]["me"] is None
    assert await Session.filter(revoked_at__isnull=False).count() == 1
    stored = await Session.get()
    assert stored.token_hash != token and len(stored.token_hash) == 64


async def test_cookie_sign_in_sets_an_httponly_samesite_cookie(server, db):
    await create_user("claire@exemple.fr", PASSWORD, Role.EDITOR)
    async with httpx.AsyncClient(base_url=server) as browser:
        response = await browser.post(
            "/graphql",
            json={"query": SIGN_IN, "variables": {"e": "claire@exemple.fr", "p": PASSWORD, "k": "COOKIE"}},
        )
        cookie = response.headers["set-cookie"]
        assert "es_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert response.json()["data"]["signIn"]["token"] is None  # the token only travels in the cookie
        assert (await post(browser, ME))["data"]["me"]["email"] == "claire@exemple.fr"


async def test_cookie_mutations_need_the_csrf_token(server, db):
    await create_user("admin@exemple.fr", PASSWORD, Role.ADMIN)
    new_user = 'mutation { createUser(email: "e@exemple.fr", password: "un mot de passe long", role: EDITOR) { email } }'
    async with httpx.AsyncClient(base_url=server) as browser:
        signed = await post(browser, SIGN_IN, {"e": "admin@exemple.fr", "p": PASSWORD, "k": "COOKIE"})
        csrf = signed["data"]["signIn"]["csrfToken"]

        refused = await post(browser, new_user)
        wrong = await post(browser, new_user, **{"x-csrf-token": "pas-le-bon"})
        assert codes(refused) == ["FORBIDDEN"] and codes(wrong) == ["FORBIDDEN"]
        assert not await User.filter(email="e@exemple.fr").exists()

        accepted = await post(browser, new_user, **{"x-csrf-token": csrf})
        assert accepted["data"]["createUser"] == {"email": "e@exemple.fr"}
        # Queries need no token.
        assert (await post(browser, "{ currentSession { csrfToken } }"))["data"]["currentSession"][
            "csrfToken"
        ] == csrf


async def test_wrong_password_and_unknown_email_get_the_same_answer(client):
    await create_user("claire@exemple.fr", PASSWORD, Role.EDITOR)
    wrong_password = await post(
        client, SIGN_IN, {"e": "claire@exemple.fr", "p": "mauvais mot de passe", "k": "BEARER"}
    )
    unknown_email = await post(client, SIGN_IN, {"e": "personne@exemple.fr", "p": PASSWORD, "k": "BEARER"})
    assert codes(wrong_password) == codes(unknown_email) == ["UNAUTHENTICATED"]
    assert wrong_password["errors"][0]["message"] == unknown_email["errors"][0]["message"]
    assert await Session.all().count() == 0


async def test_repeated_failures_are_slowed_down(client):
    await create_user("claire@exemple.fr", PASSWORD, Role.EDITOR)
    for _ in range(5):
        body = await post(client, SIGN_IN, {"e": "claire@exemple.fr", "p": "devinette-123", "k": "BEARER"})
        assert codes(body) == ["UNAUTHENTICATED"]

    blocked = await post(client, SIGN_IN, {"e": "claire@exemple.fr", "p": PASSWORD, "k": "BEARER"})

    assert codes(blocked) == ["RATE_LIMITED"]
    assert blocked["errors"][0]["extensions"]["retry_after"] >= 1
    assert await Session.all().count() == 0
    # Once the wait is over, the right password works and the slate is wiped.
    await SignInFailure.all().update(blocked_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert (await post(client, SIGN_IN, {"e": "claire@exemple.fr", "p": PASSWORD, "k": "BEARER"}))["data"]
    assert await SignInFailure.all().count() == 0


async def test_expired_and_deactivated_sessions_do_not_authenticate(sign_in):
    editor = await sign_in("editor")
    assert (await editor.gql(ME)).data["me"] is not None

    await Session.all().update(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert (await editor.gql(ME)).data["me"] is None

    other = await sign_in("editor")
    await User.filter(id=other.user.id).update(is_active=False)
    assert (await other.gql(ME)).data["me"] is None


async def test_roles_are_enforced_per_field(sign_in, gql):
    anonymous = await gql("{ editorialArticles { id } }")
    assert anonymous.codes == ["UNAUTHENTICATED"]
    from tests.factories import make_partner

    await make_partner("bob-emploi")
    for role, options in (("partner", {"partner_slug": "bob-emploi"}), ("developer", {})):
        signed = await sign_in(role, **options)
        response = await signed.gql("{ editorialArticles { id } }")
        assert response.codes == ["FORBIDDEN"], role
    editor = await sign_in("editor")
    assert (await editor.gql("{ editorialArticles { id } }")).data == {"editorialArticles": []}
    assert (await editor.gql("{ auditLog { id } }")).codes == ["FORBIDDEN"]


@pytest.fixture
async def partner_org(db):
    from tests.factories import make_partner

    return await make_partner("bob-emploi")


async def test_partner_accounts_name_their_partner(partner_org):
    with pytest.raises(BadUserInput):
        await create_user("p@exemple.fr", PASSWORD, Role.PARTNER)
    user = await create_user("p@exemple.fr", PASSWORD, Role.PARTNER, partner_slug="bob-emploi")
    assert user.partner_id == partner_org.id


async def test_bad_account_input_is_refused(sign_in):
    admin = await sign_in("admin")
    template = 'mutation { createUser(email: "%s", password: "%s", role: EDITOR) { email } }'
    for email, password in (
        ("pas-un-email", "un mot de passe long"),
        ("court@exemple.fr", "court"),
        (admin.user.email, "un mot de passe long"),
    ):
        response = await admin.gql(template % (email, password))
        assert response.codes == ["BAD_USER_INPUT"], email
    assert await User.all().count() == 1


async def test_cli_creates_an_admin(settings, db):
    result = run_cli(
        "users", "create", "--email", "chef@exemple.fr", "--role", "admin",
        database_url=settings.database_url, var_dir=settings.var_dir, extra_env={"EMPLOI_STORE_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    user = await User.get(email="chef@exemple.fr")
    assert user.role is Role.ADMIN

    bad = run_cli(
        "users", "create", "--email", "x@exemple.fr", "--role", "chef",
        database_url=settings.database_url, var_dir=settings.var_dir, extra_env={"EMPLOI_STORE_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert bad.returncode == 2 and "Unknown role" in bad.stderr
