"""Partners' proposals: a new service, or changes to one of their own, waiting for an editor.

A proposal is checked in full when it is submitted, against the same rules as the catalogue files
(cms/seed_schema.py), and nothing is written if it fails. Approving it writes the service, its
links and categories, a revision and an audit entry in one transaction; a service goes live only
if it is free. Who may call each action is declared on the GraphQL fields (schema/proposals.py);
the one rule that depends on the object, "only your own partner's services", is checked here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError
from slugify import slugify
from tortoise.transactions import in_transaction

from cms import audit
from cms.catalogue import check_publishable, sort_key
from cms.paging import page_size
from cms.revisions import save_revision
from cms.seed_schema import CATEGORY_SLUGS, SeedService
from models.accounts import User
from models.catalogue import Category, Service, ServiceCategory, ServiceLink
from models.enums import Platform, ProposalStatus, ServiceKind, ServiceStatus
from models.errors import BadUserInput, Forbidden, NotFound
from models.proposals import ServiceProposal
from search import sync as search_sync

OBJECT_TYPE = "service_proposal"
SERVICE_OBJECT_TYPE = "service"
MAX_REASON = 2000
MAX_URL = 2000  # the service_link.url column
MAX_SLUG = 80  # the service.slug column

# The fields a partner may propose, and their names in the GraphQL input (for error messages).
FIELD_NAMES: dict[str, str] = {
    "name": "name",
    "short_description": "shortDescription",
    "long_description": "longDescription",
    "kind": "kind",
    "categories": "categories",
    "tags": "tags",
    "links": "links",
    "free": "free",
}
# A new service needs all of them; `free` defaults to true.
REQUIRED_FOR_NEW = tuple(name for name in FIELD_NAMES if name != "free")

# Values that pass the catalogue's rules. Validating a proposal with these in place of the fields
# it does not carry makes SeedService judge exactly the proposed fields, and blame only them.
_STAND_INS: dict[str, Any] = {
    "slug": "proposition",
    "provider": "partenaire",
    "launched_on": dt.date(2000, 1, 1),
    "name": "Proposition",
    "short_description": "Une courte description qui a la longueur voulue.",
    "long_description": "Une description détaillée. " * 6,
    "kind": ServiceKind.WEBSITE.value,
    "categories": [CATEGORY_SLUGS[0]],
    "tags": ["emploi"],
    "links": [{"platform": Platform.WEB.value, "url": "https://example.org/"}],
    "free": True,
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _refusal(error: Any) -> BadUserInput:
    """A pydantic error, told in the GraphQL input's words."""
    location = error.get("loc") or ()
    # The catalogue's one cross-field rule, "one link per platform", has no location.
    name = location[0] if location and location[0] in FIELD_NAMES else "links"
    field = FIELD_NAMES[name]
    if error.get("type") == "literal_error" and name in ("categories", "kind"):
        what = "category" if name == "categories" else "kind"
        return BadUserInput(f"unknown {what}: {error.get('input')}", field=field)
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    return BadUserInput(f"{field}: {message}", field=field)


def _normalise(changes: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in FIELD_NAMES:
            raise BadUserInput(f"{name} cannot be proposed", field=name)
        if value is None:
            continue  # not part of the proposal
        if name in ("name", "short_description", "long_description"):
            value = str(value).strip()
        elif name == "kind":
            value = value.value if isinstance(value, ServiceKind) else str(value)
        elif name == "tags":
            value = list(dict.fromkeys(str(tag).strip().lower() for tag in value))
        elif name == "categories":
            value = [str(slug).strip() for slug in value]
        elif name == "links":
            value = [
                {
                    "platform": link["platform"].value
                    if isinstance(link["platform"], Platform)
                    else str(link["platform"]),
                    "url": str(link["url"]).strip(),
                }
                for link in value
            ]
        fields[name] = value
    return fields


async def validate(changes: dict[str, Any], *, new: bool) -> dict[str, Any]:
    """Checks the proposed fields; returns them normalised, as stored in the proposal's payload.

    `changes` maps the names in FIELD_NAMES to values; None means "not proposed". Raises
    BadUserInput naming the first field that fails.
    """
    fields = _normalise(changes)
    if new:
        missing = [FIELD_NAMES[name] for name in REQUIRED_FOR_NEW if name not in fields]
        if missing:
            raise BadUserInput(f"a new service needs {', '.join(missing)}", field=missing[0])
    elif not fields:
        raise BadUserInput("a change proposal carries at least one field to change", field="input")
    try:
        checked = SeedService.model_validate({**_STAND_INS, **fields})
    except ValidationError as exc:
        raise _refusal(exc.errors()[0]) from exc

    payload: dict[str, Any] = {}
    for name in fields:
        value = getattr(checked, name)
        if name == "links":
            value = [{"platform": link.platform, "url": str(link.url)} for link in value]
            if any(len(link["url"]) > MAX_URL for link in value):
                raise BadUserInput(f"links: a URL is limited to {MAX_URL} characters", field="links")
        elif name in ("categories", "tags"):
            value = list(value)
        payload[name] = value
    categories = payload.get("categories")
    if categories is not None:
        if len(set(categories)) != len(categories):
            raise BadUserInput("categories: name each category once", field="categories")
        known = set(await Category.filter(slug__in=categories).values_list("slug", flat=True))
        unknown = [slug for slug in categories if slug not in known]
        if unknown:
            raise BadUserInput(f"unknown category: {', '.join(unknown)}", field="categories")
    return payload


async def _own_service(actor: User, service_slug: str) -> Service:
    service = await Service.get_or_none(slug=service_slug)
    if service is None:
        raise NotFound(f"no service with slug {service_slug!r}", slug=service_slug)
    if service.provider_id != actor.partner_id:
        raise Forbidden("partners may propose changes to their own services only", slug=service_slug)
    return service


def _partner_id(actor: User) -> int:
    if actor.partner_id is None:
        raise Forbidden("this account speaks for no partner", reason="no_partner")
    return actor.partner_id


async def submit(actor: User, service_slug: str | None, changes: dict[str, Any]) -> ServiceProposal:
    """A partner proposes a new service (no slug) or changes to one of its own services."""
    partner_id = _partner_id(actor)
    service = await _own_service(actor, service_slug) if service_slug is not None else None
    payload = await validate(changes, new=service is None)
    async with in_transaction():
        proposal = await ServiceProposal.create(
            partner_id=partner_id,
            submitted_by=actor,
            service_id=service.id if service else None,
            payload=payload,
        )
        await audit.record(
            actor,
            "proposal.submit",
            OBJECT_TYPE,
            proposal.id,
            service=service.slug if service else None,
            fields=sorted(payload),
        )
    return proposal


async def proposals_of(actor: User, status: ProposalStatus | None, first: int) -> list[ServiceProposal]:
    """The proposals of the actor's partner, newest first."""
    page_size(first)
    query = ServiceProposal.filter(partner_id=_partner_id(actor))
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("-created_at", "-id").limit(first)


async def queue(status: ProposalStatus | None, first: int) -> list[ServiceProposal]:
    """Proposals for moderation, oldest first."""
    page_size(first)
    query = ServiceProposal.all()
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("created_at", "id").limit(first)


async def _pending(proposal_id: int, action: str) -> ServiceProposal:
    proposal = await ServiceProposal.filter(id=proposal_id).select_for_update().first()
    if proposal is None:
        raise NotFound(f"no service proposal {proposal_id}", id=proposal_id)
    if proposal.status is not ProposalStatus.PENDING:
        raise BadUserInput(
            f"cannot {action} a proposal that is {proposal.status.value}",
            action=action,
            status=proposal.status.value,
        )
    return proposal


async def unique_slug(name: str) -> str:
    base = slugify(name, max_length=MAX_SLUG, word_boundary=True) or "service"
    candidate, n = base, 1
    while await Service.filter(slug=candidate).exists():
        n += 1
        suffix = f"-{n}"
        candidate = base[: MAX_SLUG - len(suffix)].rstrip("-") + suffix
    return candidate


def _settle_status(service: Service, now: dt.datetime) -> None:
    """Free services go live; one that is not free is taken down and never published."""
    if not service.free:
        if service.status is ServiceStatus.PUBLISHED:
            service.status = ServiceStatus.DRAFT
        service.published_at = None
    elif service.status is ServiceStatus.DRAFT:
        check_publishable(service)
        service.status = ServiceStatus.PUBLISHED
        service.published_at = service.published_at or now
    # An archived service stays archived: that is the editors' call, not the partner's.


async def _write_relations(service: Service, payload: dict[str, Any]) -> None:
    if "categories" in payload:
        slugs = payload["categories"]
        ids = dict(await Category.filter(slug__in=slugs).values_list("slug", "id"))
        missing = [slug for slug in slugs if slug not in ids]
        if missing:
            raise BadUserInput(f"unknown category: {', '.join(missing)}", field="categories")
        await ServiceCategory.filter(service_id=service.id).delete()
        await ServiceCategory.bulk_create(
            [
                ServiceCategory(service_id=service.id, category_id=ids[slug], position=position)
                for position, slug in enumerate(slugs)
            ]
        )
    if "links" in payload:
        await ServiceLink.filter(service_id=service.id).delete()
        await ServiceLink.bulk_create(
            [
                ServiceLink(service_id=service.id, platform=Platform(link["platform"]), url=link["url"])
                for link in payload["links"]
            ]
        )


async def snapshot(service: Service) -> dict[str, Any]:
    """The service as a revision stores it: its columns, categories and links."""
    categories = (
        await ServiceCategory.filter(service_id=service.id)
        .order_by("position")
        .values_list("category__slug", flat=True)
    )
    links = await ServiceLink.filter(service_id=service.id).order_by("id").values_list("platform", "url")
    return {
        "slug": service.slug,
        "name": service.name,
        "short_description": service.short_description,
        "long_description": service.long_description,
        "kind": ServiceKind(service.kind).value,
        "provider_id": service.provider_id,
        "free": service.free,
        "tags": list(service.tags or []),
        "status": ServiceStatus(service.status).value,
        "launched_on": service.launched_on.isoformat() if service.launched_on else None,
        "published_at": service.published_at.isoformat() if service.published_at else None,
        "categories": list(categories),
        "links": [{"platform": Platform(platform).value, "url": url} for platform, url in links],
    }


async def _apply(proposal: ServiceProposal, now: dt.datetime) -> tuple[Service, bool]:
    payload = dict(proposal.payload)
    columns: dict[str, Any] = {
        name: payload[name]
        for name in ("name", "short_description", "long_description", "tags", "free")
        if name in payload
    }
    if "kind" in payload:
        columns["kind"] = ServiceKind(payload["kind"])
    if "name" in payload:
        columns["sort_name"] = sort_key(payload["name"])
    if proposal.service_id is None:
        service = Service(slug=await unique_slug(payload["name"]), provider_id=proposal.partner_id, **columns)
        created = True
    else:
        service_or_none = await Service.filter(id=proposal.service_id).select_for_update().first()
        if service_or_none is None:
            raise NotFound("the service this proposal changes no longer exists", id=proposal.service_id)
        service = service_or_none
        if service.provider_id != proposal.partner_id:
            raise BadUserInput("the service has changed hands since this proposal", slug=service.slug)
        service.update_from_dict(columns)
        created = False
    _settle_status(service, now)
    await service.save()
    await _write_relations(service, payload)
    return service, created


async def approve(actor: User, proposal_id: int) -> ServiceProposal:
    """Applies a pending proposal: the service, a revision of it and an audit entry, all or nothing."""
    now = _now()
    async with in_transaction():
        proposal = await _pending(proposal_id, "approve")
        service, created = await _apply(proposal, now)
        await search_sync.services_changed([service.id])
        await save_revision(
            SERVICE_OBJECT_TYPE,
            service.id,
            await snapshot(service),
            actor,
            f"proposal {proposal.id} approved",
        )
        proposal.status = ProposalStatus.APPROVED
        proposal.service_id = service.id  # a new service's proposal now points at what it created
        proposal.reviewed_by = actor
        proposal.reviewed_at = now
        await proposal.save()
        await audit.record(
            actor,
            "proposal.approve",
            OBJECT_TYPE,
            proposal.id,
            service=service.slug,
            created=created,
            status=ServiceStatus(service.status).value,
        )
    return proposal


async def reject(actor: User, proposal_id: int, reason: str) -> ServiceProposal:
    """Refuses a pending proposal with a reason its partner can read."""
    reason = (reason or "").strip()
    if not reason:
        raise BadUserInput("say why the proposal is rejected", field="reason")
    if len(reason) > MAX_REASON:
        raise BadUserInput(f"the reason is limited to {MAX_REASON} characters", field="reason")
    async with in_transaction():
        proposal = await _pending(proposal_id, "reject")
        proposal.status = ProposalStatus.REJECTED
        proposal.reason = reason
        proposal.reviewed_by = actor
        proposal.reviewed_at = _now()
        await proposal.save()
        await audit.record(actor, "proposal.reject", OBJECT_TYPE, proposal.id, reason=reason)
    return proposal
