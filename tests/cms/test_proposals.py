"""Partners propose services and changes to their own; editors and admins moderate the queue."""

from __future__ import annotations

import asyncio

import pytest

from cms import proposals
from models.catalogue import Service, ServiceCategory, ServiceLink
from models.cms import AuditLogEntry, Revision
from models.enums import Platform, ProposalStatus, ServiceStatus
from models.errors import BadUserInput
from models.proposals import ServiceProposal
from tests.factories import make_categories, make_partner, make_service

SUBMIT = """
mutation($slug: String, $input: ServiceProposalInput!) {
  submitServiceProposal(serviceSlug: $slug, input: $input) {
    id status reason
    changes { name shortDescription kind categories tags free links { platform url } }
    partner { slug }
    service { slug }
  }
}
"""
APPROVE = """
mutation($id: ID!) {
  approveServiceProposal(id: $id) {
    id status reviewedAt
    service { slug name shortDescription free publishedAt categories { slug } links { platform url } }
  }
}
"""
REJECT = """
mutation($id: ID!, $reason: String!) {
  rejectServiceProposal(id: $id, reason: $reason) { id status reason reviewedAt }
}
"""
MINE = """
query($status: ProposalStatus) {
  myServiceProposals(status: $status) { id status reason changes { name } service { slug } }
}
"""
QUEUE = """
query($status: ProposalStatus, $first: Int! = 50) {
  serviceProposals(status: $status, first: $first) { id status partner { slug } changes { name } }
}
"""
PUBLIC_SERVICES = "{ services(first: 100) { edges { node { slug } } } }"
PUBLIC_SERVICE = "query($slug: String!) { service(slug: $slug) { slug name kind provider { slug } } }"

LONG = (
    "Un coach numérique qui vous aide à bâtir votre projet professionnel, pas à pas, "
    "en partant de vos envies, de vos compétences et des métiers qui recrutent près de chez vous."
)


def new_service(**overrides):
    fields = {
        "name": "Coach Emploi Solidaire",
        "shortDescription": "Un accompagnement gratuit en ligne pour construire son projet professionnel.",
        "longDescription": LONG,
        "kind": "WEBSITE",
        "categories": ["choisir-un-metier", "trouver-un-emploi"],
        "tags": ["coaching", "projet-professionnel"],
        "links": [
            {"platform": "WEB", "url": "https://coach.example.org/"},
            {"platform": "GOOGLE_PLAY", "url": "https://play.google.com/store/apps/details?id=coach"},
        ],
        "free": True,
    }
    fields.update(overrides)
    return fields


def ok(response, field):
    assert response.status == 200, response.body
    assert not response.errors, response.errors
    return response.data[field]


async def partner_client(sign_in, slug="coach-partenaire"):
    await make_partner(slug)
    return await sign_in("partner", partner_slug=slug)


@pytest.fixture
async def categories(db):
    return await make_categories()


async def public_slugs(gql):
    response = await gql(PUBLIC_SERVICES)
    return [edge["node"]["slug"] for edge in ok(response, "services")["edges"]]


async def test_a_new_free_service_goes_live_once_an_editor_approves_it(gql, sign_in, categories):
    partner = await partner_client(sign_in)
    editor = await sign_in("editor")

    submitted = ok(await partner.gql(SUBMIT, {"input": new_service()}), "submitServiceProposal")
    assert submitted["status"] == "PENDING"
    assert submitted["partner"] == {"slug": "coach-partenaire"}
    assert submitted["service"] is None
    assert submitted["changes"]["links"][1] == {
        "platform": "GOOGLE_PLAY",
        "url": "https://play.google.com/store/apps/details?id=coach",
    }
    assert await Service.all().count() == 0
    assert await public_slugs(gql) == []

    approved = ok(await editor.gql(APPROVE, {"id": submitted["id"]}), "approveServiceProposal")

    assert approved["status"] == "APPROVED"
    assert approved["reviewedAt"]
    service = approved["service"]
    assert service["slug"] == "coach-emploi-solidaire"
    assert service["publishedAt"]
    assert [c["slug"] for c in service["categories"]] == ["choisir-un-metier", "trouver-un-emploi"]
    assert {link["platform"] for link in service["links"]} == {"WEB", "GOOGLE_PLAY"}
    assert await public_slugs(gql) == ["coach-emploi-solidaire"]
    public = ok(await gql(PUBLIC_SERVICE, {"slug": "coach-emploi-solidaire"}), "service")
    assert public == {
        "slug": "coach-emploi-solidaire",
        "name": "Coach Emploi Solidaire",
        "kind": "WEBSITE",
        "provider": {"slug": "coach-partenaire"},
    }
    stored = await Service.get(slug="coach-emploi-solidaire")
    assert stored.sort_name == "coach emploi solidaire"
    assert stored.status is ServiceStatus.PUBLISHED
    revision = await Revision.get(object_type="service", object_id=stored.id)
    assert revision.author_id == editor.user.id
    assert revision.snapshot["categories"] == ["choisir-un-metier", "trouver-un-emploi"]
    assert revision.snapshot["status"] == "published"
    actions = await AuditLogEntry.filter(object_type="service_proposal").values_list("action", flat=True)
    assert sorted(actions) == ["proposal.approve", "proposal.submit"]


async def test_a_service_that_is_not_free_stays_unpublished_after_approval(gql, sign_in, categories):
    partner = await partner_client(sign_in)
    admin = await sign_in("admin")
    submitted = ok(await partner.gql(SUBMIT, {"input": new_service(free=False)}), "submitServiceProposal")

    approved = ok(await admin.gql(APPROVE, {"id": submitted["id"]}), "approveServiceProposal")

    assert approved["service"]["free"] is False
    assert approved["service"]["publishedAt"] is None
    stored = await Service.get(slug="coach-emploi-solidaire")
    assert stored.status is ServiceStatus.DRAFT
    assert stored.published_at is None
    assert await public_slugs(gql) == []
    hidden = await gql(PUBLIC_SERVICE, {"slug": "coach-emploi-solidaire"})
    assert hidden.data == {"service": None}
    assert hidden.codes == ["NOT_FOUND"]


async def test_slugs_of_new_services_are_unique(sign_in, categories):
    await make_service("coach-emploi-solidaire")
    partner = await partner_client(sign_in)
    editor = await sign_in("editor")
    slugs = []
    for _ in range(2):
        submitted = ok(await partner.gql(SUBMIT, {"input": new_service()}), "submitServiceProposal")
        approved = ok(await editor.gql(APPROVE, {"id": submitted["id"]}), "approveServiceProposal")
        slugs.append(approved["service"]["slug"])
    assert slugs == ["coach-emploi-solidaire-2", "coach-emploi-solidaire-3"]


async def test_a_change_to_the_partners_own_service_applies_only_once_approved(gql, sign_in, categories):
    partner = await partner_client(sign_in)
    own = await make_service(
        "mon-service", name="Mon service", provider=await make_partner("coach-partenaire")
    )
    editor = await sign_in("editor")
    change = {
        "name": "Mon service renouvelé",
        "shortDescription": "Une nouvelle présentation, plus claire, de ce que propose le service.",
        "links": [{"platform": "APP_STORE", "url": "https://apps.apple.com/fr/app/mon-service/id1"}],
    }

    submitted = ok(
        await partner.gql(SUBMIT, {"slug": "mon-service", "input": change}), "submitServiceProposal"
    )

    assert submitted["service"] == {"slug": "mon-service"}
    assert submitted["changes"]["name"] == "Mon service renouvelé"
    assert submitted["changes"]["kind"] is None and submitted["changes"]["categories"] is None
    before = ok(await gql(PUBLIC_SERVICE, {"slug": "mon-service"}), "service")
    assert before["name"] == "Mon service"
    assert await ServiceLink.filter(service_id=own.id).values_list("platform", flat=True) == [Platform.WEB]

    approved = ok(await editor.gql(APPROVE, {"id": submitted["id"]}), "approveServiceProposal")

    service = approved["service"]
    assert service["slug"] == "mon-service"  # slugs stay put
    assert service["name"] == "Mon service renouvelé"
    assert service["shortDescription"] == change["shortDescription"]
    assert service["links"] == [
        {"platform": "APP_STORE", "url": "https://apps.apple.com/fr/app/mon-service/id1"}
    ]
    assert [c["slug"] for c in service["categories"]] == ["trouver-un-emploi"]  # untouched
    after = ok(await gql(PUBLIC_SERVICE, {"slug": "mon-service"}), "service")
    assert after["name"] == "Mon service renouvelé"
    stored = await Service.get(id=own.id)
    assert stored.sort_name == "mon service renouvele"
    assert stored.published_at == own.published_at
    assert await Revision.filter(object_type="service", object_id=own.id).count() == 1


async def test_a_change_that_makes_a_service_paying_takes_it_down(gql, sign_in, categories):
    partner = await partner_client(sign_in)
    await make_service("mon-service", provider=await make_partner("coach-partenaire"))
    editor = await sign_in("editor")
    submitted = ok(
        await partner.gql(SUBMIT, {"slug": "mon-service", "input": {"free": False}}),
        "submitServiceProposal",
    )

    ok(await editor.gql(APPROVE, {"id": submitted["id"]}), "approveServiceProposal")

    assert (await Service.get(slug="mon-service")).status is ServiceStatus.DRAFT
    assert await public_slugs(gql) == []


async def test_a_change_to_another_partners_service_is_forbidden(sign_in, categories):
    partner = await partner_client(sign_in)
    await make_service("le-leur", provider=await make_partner("autre-partenaire"))

    response = await partner.gql(SUBMIT, {"slug": "le-leur", "input": {"name": "Détourné"}})

    assert response.data is None
    assert response.codes == ["FORBIDDEN"]
    assert await ServiceProposal.all().count() == 0
    missing = await partner.gql(SUBMIT, {"slug": "inconnu", "input": {"name": "Fantôme"}})
    assert missing.codes == ["NOT_FOUND"]


async def test_a_rejection_and_its_reason_are_shown_to_the_partner(sign_in, categories):
    partner = await partner_client(sign_in)
    other = await partner_client(sign_in, "autre-partenaire")
    editor = await sign_in("editor")
    submitted = ok(await partner.gql(SUBMIT, {"input": new_service()}), "submitServiceProposal")
    await other.gql(SUBMIT, {"input": new_service(name="Autre service")})

    rejected = ok(
        await editor.gql(REJECT, {"id": submitted["id"], "reason": "  Le lien Google Play est cassé.  "}),
        "rejectServiceProposal",
    )

    assert rejected["status"] == "REJECTED"
    assert rejected["reason"] == "Le lien Google Play est cassé."
    mine = ok(await partner.gql(MINE), "myServiceProposals")
    assert mine == [
        {
            "id": submitted["id"],
            "status": "REJECTED",
            "reason": "Le lien Google Play est cassé.",
            "changes": {"name": "Coach Emploi Solidaire"},
            "service": None,
        }
    ]
    assert ok(await partner.gql(MINE, {"status": "PENDING"}), "myServiceProposals") == []
    theirs = ok(await other.gql(MINE), "myServiceProposals")
    assert [p["changes"]["name"] for p in theirs] == ["Autre service"]
    assert await Service.all().count() == 0


async def test_a_rejection_needs_a_reason(sign_in, categories):
    partner = await partner_client(sign_in)
    editor = await sign_in("editor")
    submitted = ok(await partner.gql(SUBMIT, {"input": new_service()}), "submitServiceProposal")

    response = await editor.gql(REJECT, {"id": submitted["id"], "reason": "   "})

    assert response.codes == ["BAD_USER_INPUT"]
    assert response.errors[0]["extensions"]["field"] == "reason"
    proposal = await ServiceProposal.get(id=int(submitted["id"]))
    assert proposal.status is ProposalStatus.PENDING
    assert proposal.reason is None
    omitted = await editor.gql("mutation($id: ID!) { rejectServiceProposal(id: $id) { id } }", {"id": "1"})
    assert omitted.status == 400


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"links": [{"platform": "WEB", "url": "ftp://coach.example.org/"}]}, "links"),
        ({"links": [{"platform": "WEB", "url": "javascript:alert(1)"}]}, "links"),
        ({"links": [{"platform": "WEB", "url": "https://coach.example.org/" + "a" * 2000}]}, "links"),
        (
            {
                "links": [
                    {"platform": "WEB", "url": "https://a.example.org/"},
                    {"platform": "WEB", "url": "https://b.example.org/"},
                ]
            },
            "links",
        ),
        ({"links": []}, "links"),
        ({"shortDescription": "x" * 301}, "shortDescription"),
        ({"categories": ["trouver-un-emploi", "astrologie"]}, "categories"),
        ({"categories": []}, "categories"),
        ({"categories": ["choisir-un-metier"] * 2}, "categories"),
        (
            {
                "categories": [
                    "choisir-un-metier",
                    "trouver-un-emploi",
                    "creer-une-entreprise",
                    "trouver-une-formation",
                ]
            },
            "categories",
        ),
        ({"name": "   "}, "name"),
        ({"tags": ["Pas Un Slug!"]}, "tags"),
        ({"longDescription": None}, "longDescription"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    sign_in, categories, overrides, field
):
    partner = await partner_client(sign_in)

    response = await partner.gql(SUBMIT, {"input": new_service(**overrides)})

    assert response.data is None
    assert response.codes == ["BAD_USER_INPUT"], response.errors
    assert response.errors[0]["extensions"]["field"] == field
    assert await ServiceProposal.all().count() == 0
    assert await AuditLogEntry.all().count() == 0


async def test_bad_changes_are_refused_too(sign_in, categories):
    partner = await partner_client(sign_in)
    await make_service("mon-service", provider=await make_partner("coach-partenaire"))

    too_long = await partner.gql(SUBMIT, {"slug": "mon-service", "input": {"shortDescription": "x" * 301}})
    nothing = await partner.gql(SUBMIT, {"slug": "mon-service", "input": {}})

    assert too_long.errors[0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "shortDescription"}
    assert nothing.codes == ["BAD_USER_INPUT"]
    assert await ServiceProposal.all().count() == 0


async def test_an_unknown_kind_is_refused(sign_in, categories):
    partner = await partner_client(sign_in)

    response = await partner.gql(SUBMIT, {"input": new_service(kind="SPACESHIP")})

    assert response.status == 400  # the GraphQL enum refuses it before anything runs
    assert "kind" in response.errors[0]["message"]
    assert await ServiceProposal.all().count() == 0
    with pytest.raises(BadUserInput) as refused:
        await proposals.validate({"kind": "spaceship"}, new=False)
    assert refused.value.extensions == {"code": "BAD_USER_INPUT", "field": "kind"}


async def test_only_editors_and_admins_moderate(gql, sign_in, categories):
    partner = await partner_client(sign_in)
    developer = await sign_in("developer")
    submitted = ok(await partner.gql(SUBMIT, {"input": new_service()}), "submitServiceProposal")
    variables = {"id": submitted["id"], "reason": "Non."}

    for client, code in ((partner.gql, "FORBIDDEN"), (developer.gql, "FORBIDDEN"), (gql, "UNAUTHENTICATED")):
        assert (await client(QUEUE)).codes == [code]
        assert (await client(APPROVE, {"id": submitted["id"]})).codes == [code]
        assert (await client(REJECT, variables)).codes == [code]

    assert (await ServiceProposal.get(id=int(submitted["id"]))).status is ProposalStatus.PENDING
    assert await Service.all().count() == 0
    editor = await sign_in("editor")
    assert (await editor.gql(SUBMIT, {"input": new_service()})).codes == ["FORBIDDEN"]
    assert (await editor.gql(MINE)).codes == ["FORBIDDEN"]
    assert (await gql(SUBMIT, {"input": new_service()})).codes == ["UNAUTHENTICATED"]


async def test_the_queue_lists_pending_proposals_oldest_first(sign_in, categories):
    first = await partner_client(sign_in)
    second = await partner_client(sign_in, "autre-partenaire")
    editor = await sign_in("editor")
    ids = []
    for client, name in ((first, "Premier service"), (second, "Deuxième service"), (first, "Troisième")):
        submitted = ok(await client.gql(SUBMIT, {"input": new_service(name=name)}), "submitServiceProposal")
        ids.append(submitted["id"])
    ok(await editor.gql(REJECT, {"id": ids[1], "reason": "Doublon."}), "rejectServiceProposal")

    pending = ok(await editor.gql(QUEUE), "serviceProposals")
    everything = ok(await editor.gql(QUEUE, {"status": None}), "serviceProposals")

    assert [p["id"] for p in pending] == [ids[0], ids[2]]
    assert pending[0]["partner"] == {"slug": "coach-partenaire"}
    assert [p["id"] for p in everything] == ids
    assert [p["id"] for p in ok(await editor.gql(QUEUE, {"first": 1}), "serviceProposals")] == [ids[0]]
    assert (await editor.gql(QUEUE, {"first": 101})).codes == ["BAD_USER_INPUT"]


async def test_only_pending_proposals_can_be_approved_or_rejected(sign_in, categories):
    partner = await partner_client(sign_in)
    editor = await sign_in("editor")
    approved = ok(await partner.gql(SUBMIT, {"input": new_service()}), "submitServiceProposal")
    rejected = ok(
        await partner.gql(SUBMIT, {"input": new_service(name="Autre service")}), "submitServiceProposal"
    )
    ok(await editor.gql(APPROVE, {"id": approved["id"]}), "approveServiceProposal")
    ok(await editor.gql(REJECT, {"id": rejected["id"], "reason": "Hors sujet."}), "rejectServiceProposal")

    again = await editor.gql(APPROVE, {"id": approved["id"]})
    approve_rejected = await editor.gql(APPROVE, {"id": rejected["id"]})
    reject_approved = await editor.gql(REJECT, {"id": approved["id"], "reason": "Finalement non."})

    assert again.codes == ["BAD_USER_INPUT"]
    assert "approved" in again.errors[0]["message"]
    assert approve_rejected.codes == ["BAD_USER_INPUT"]
    assert reject_approved.codes == ["BAD_USER_INPUT"]
    assert await Service.all().count() == 1
    assert await Revision.filter(object_type="service").count() == 1
    assert (await editor.gql(APPROVE, {"id": "999999"})).codes == ["NOT_FOUND"]
    assert (await editor.gql(APPROVE, {"id": "abc"})).codes == ["BAD_USER_INPUT"]


async def test_an_approved_change_replaces_categories_in_order(sign_in, categories):
    partner = await partner_client(sign_in)
    own = await make_service("mon-service", provider=await make_partner("coach-partenaire"))
    editor = await sign_in("editor")
    submitted = ok(
        await partner.gql(
            SUBMIT,
            {"slug": "mon-service", "input": {"categories": ["creer-une-entreprise", "choisir-un-metier"]}},
        ),
        "submitServiceProposal",
    )

    ok(await editor.gql(APPROVE, {"id": submitted["id"]}), "approveServiceProposal")

    rows = (
        await ServiceCategory.filter(service_id=own.id)
        .order_by("position")
        .values_list("category__slug", flat=True)
    )
    assert list(rows) == ["creer-une-entreprise", "choisir-un-metier"]


async def test_two_moderators_approving_at_once_apply_it_once(sign_in, categories):
    partner = await partner_client(sign_in)
    editor = await sign_in("editor")
    admin = await sign_in("admin")
    submitted = ok(await partner.gql(SUBMIT, {"input": new_service()}), "submitServiceProposal")

    results = await asyncio.gather(
        editor.gql(APPROVE, {"id": submitted["id"]}), admin.gql(APPROVE, {"id": submitted["id"]})
    )

    assert sorted(str(r.codes) for r in results) == ["['BAD_USER_INPUT']", "[]"]
    assert await Service.all().count() == 1
    assert await Revision.filter(object_type="service").count() == 1


async def test_the_queue_reads_a_fixed_number_of_statements(sign_in, categories, count_statements):
    partner = await partner_client(sign_in)
    editor = await sign_in("editor")
    query = "{ serviceProposals(first: 100) { id partner { name } service { slug categories { slug } } } }"

    async def statements_for(n: int) -> int:
        for i in range(n):
            await partner.gql(SUBMIT, {"input": new_service(name=f"Service numéro {i}")})
            own = await make_service(provider=await make_partner("coach-partenaire"))
            await partner.gql(SUBMIT, {"slug": own.slug, "input": {"name": f"Nouveau nom {i}"}})
        count_statements.statements.clear()
        ok(await editor.gql(query), "serviceProposals")
        return len(count_statements.statements)

    assert await statements_for(2) == await statements_for(5)
