"""Developers' API keys: created (and shown) once, listed without the key, sent as X-Api-Key, revoked."""

from __future__ import annotations

import hashlib
import secrets

from models.cms import AuditLogEntry
from models.developers import ApiKey
from tests.conftest import PASSWORD
from tests.factories import make_partner

CREATE = """mutation($name: String!) {
  createApiKey(name: $name) { key apiKey { id name prefix createdAt lastUsedAt revokedAt } }
}"""
REVOKE = "mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }"
LIST = "{ apiKeys { id name prefix createdAt lastUsedAt revokedAt } }"
CATEGORIES = "{ categories { slug } }"


async def create_key(developer, name: str = "Mon appli") -> dict:
    response = await developer.gql(CREATE, {"name": name})
    assert response.errors == [], response.errors
    return response.data["createApiKey"]


async def test_a_key_is_shown_once_and_only_its_hash_is_stored(sign_in):
    developer = await sign_in("developer")
    created = await create_key(developer, "  Tableau de bord  ")
    key = created["key"]
    assert key.startswith("es_") and len(key) == 46
    assert created["apiKey"]["name"] == "Tableau de bord"
    assert created["apiKey"]["prefix"] == key[3:11]
    assert created["apiKey"]["lastUsedAt"] is None and created["apiKey"]["revokedAt"] is None

    listed = await developer.gql(LIST)
    assert listed.data["apiKeys"] == [created["apiKey"]]
    assert key not in str(listed.body) and key[3:] not in str(listed.body)
    # The type has no field that could show the key again.
    assert (await developer.gql("{ apiKeys { key } }")).status == 400

    row = await ApiKey.get(id=int(created["apiKey"]["id"]))
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest() != key
    assert key not in (row.name, row.prefix, row.key_hash)
    assert await AuditLogEntry.filter(action="api_key.create", object_id=row.id).exists()


async def test_requests_with_the_key_are_answered_and_note_its_use(sign_in, gql):
    developer = await sign_in("developer")
    created = await create_key(developer)

    first = await gql(CATEGORIES, **{"X-Api-Key": created["key"]})
    assert first.status == 200 and first.data == {"categories": []}
    assert first.body["extensions"]["cost"]["limit"] == 10**9  # the keyed budget (tests/conftest.py)
    used = (await developer.gql(LIST)).data["apiKeys"][0]["lastUsedAt"]
    assert used is not None

    # Written at most once a minute, not on every request.
    assert (await gql(CATEGORIES, **{"X-Api-Key": created["key"]})).status == 200
    assert (await developer.gql(LIST)).data["apiKeys"][0]["lastUsedAt"] == used


async def test_a_revoked_key_is_refused_with_401(sign_in, gql):
    developer = await sign_in("developer")
    created = await create_key(developer)
    key_id = created["apiKey"]["id"]
    assert (await gql(CATEGORIES, **{"X-Api-Key": created["key"]})).status == 200

    revoked = await developer.gql(REVOKE, {"id": key_id})
    assert revoked.data["revokeApiKey"]["revokedAt"] is not None
    again = await developer.gql(REVOKE, {"id": key_id})
    assert again.errors == [] and again.data == revoked.data  # idempotent

    refused = await gql(CATEGORIES, **{"X-Api-Key": created["key"]})
    assert refused.status == 401
    assert refused.headers["www-authenticate"] == "ApiKey"
    assert refused.codes == ["UNAUTHENTICATED"]
    assert "revoked" in refused.errors[0]["message"]
    assert "data" not in refused.body
    assert (await developer.gql(LIST)).data["apiKeys"][0]["revokedAt"] == revoked.data["revokeApiKey"][
        "revokedAt"
    ]


async def test_malformed_and_unknown_keys_are_refused_with_401(gql):
    answers = {}
    for name, key in (
        ("malformed", "es_short"),
        ("not ours", "sk_" + secrets.token_urlsafe(32)),
        ("empty", ""),
        ("unknown", "es_" + secrets.token_urlsafe(32)),
    ):
        response = await gql(CATEGORIES, **{"X-Api-Key": key})
        assert response.status == 401, name
        assert response.headers["www-authenticate"] == "ApiKey"
        assert response.codes == ["UNAUTHENTICATED"]
        answers[name] = response.errors[0]["message"]
    assert answers["malformed"] == answers["not ours"] == answers["empty"]
    assert "malformed" in answers["malformed"]
    assert answers["unknown"] == "unknown API key"


async def test_only_developers_and_admins_manage_keys(sign_in, gql):
    for role in ("editor", "partner"):
        options = {"partner_slug": (await make_partner()).slug} if role == "partner" else {}
        someone = await sign_in(role, **options)
        for query, variables in ((CREATE, {"name": "x"}), (LIST, None), (REVOKE, {"id": "1"})):
            response = await someone.gql(query, variables)
            assert response.codes == ["FORBIDDEN"], (role, query)
    for query, variables in ((CREATE, {"name": "x"}), (LIST, None), (REVOKE, {"id": "1"})):
        assert (await gql(query, variables)).codes == ["UNAUTHENTICATED"]
    assert await ApiKey.all().count() == 0

    admin = await sign_in("admin")
    created = await create_key(admin, "Supervision")
    assert (await gql(CATEGORIES, **{"X-Api-Key": created["key"]})).status == 200


async def test_a_developer_cannot_see_or_revoke_another_developers_key(sign_in, gql):
    alice = await sign_in("developer")
    bob = await sign_in("developer")
    alices = await create_key(alice, "Alice")
    await create_key(bob, "Bob")

    refused = await bob.gql(REVOKE, {"id": alices["apiKey"]["id"]})
    assert refused.codes == ["NOT_FOUND"]
    assert [k["name"] for k in (await bob.gql(LIST)).data["apiKeys"]] == ["Bob"]
    assert (await gql(CATEGORIES, **{"X-Api-Key": alices["key"]})).status == 200
    assert (await bob.gql(REVOKE, {"id": "not-an-id"})).codes == ["BAD_USER_INPUT"]


async def test_keys_are_listed_newest_first(sign_in):
    developer = await sign_in("developer")
    for name in ("un", "deux", "trois"):
        await create_key(developer, name)
    assert [k["name"] for k in (await developer.gql(LIST)).data["apiKeys"]] == ["trois", "deux", "un"]


async def test_twenty_active_keys_at_most(sign_in):
    developer = await sign_in("developer")
    ids = [(await create_key(developer, f"clé {n}"))["apiKey"]["id"] for n in range(20)]
    refused = await developer.gql(CREATE, {"name": "une de trop"})
    assert refused.codes == ["BAD_USER_INPUT"]
    assert await ApiKey.filter(user_id=developer.user.id).count() == 20

    await developer.gql(REVOKE, {"id": ids[0]})
    assert (await developer.gql(CREATE, {"name": "remplaçante"})).errors == []


async def test_a_key_needs_a_name_of_80_characters_at_most(sign_in):
    developer = await sign_in("developer")
    for name in ("", "   ", "x" * 81):
        assert (await developer.gql(CREATE, {"name": name})).codes == ["BAD_USER_INPUT"], name
    assert (await developer.gql(CREATE, {"name": "x" * 80})).errors == []


async def test_cookie_sessions_need_the_csrf_header_to_create_a_key(sign_in, client):
    developer = await sign_in("developer")
    signed = await client.post(
        "/graphql",
        json={
            "query": "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { csrfToken } }",
            "variables": {"e": developer.user.email, "p": PASSWORD},
        },
    )
    cookie = next(c for c in signed.headers.get_list("set-cookie") if c.startswith("es_session="))
    cookie = cookie.split(";")[0]
    csrf = signed.json()["data"]["signIn"]["csrfToken"]
    body = {"query": CREATE, "variables": {"name": "Depuis le navigateur"}}

    without = await client.post("/graphql", json=body, headers={"cookie": cookie})
    assert without.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await ApiKey.all().count() == 0
    with_header = await client.post("/graphql", json=body, headers={"cookie": cookie, "x-csrf-token": csrf})
    assert with_header.json()["data"]["createApiKey"]["key"].startswith("es_")
