"""Partners propose services or changes to their own; editors and admins moderate the queue."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry

from models import proposals as m
from models.enums import ProposalStatus, Role
from resolvers import proposals as resolve
from schema.arguments import parse_id, signed_in_user
from schema.catalogue import PlatformType, Provider, Service, ServiceKindType
from schema.context import Info
from schema.permissions import EDITORIAL, HasRole, allow

ProposalStatusType = strawberry.enum(
    ProposalStatus, name="ProposalStatus", description="Where a partner's proposal stands."
)
PARTNERS = HasRole(Role.PARTNER)
MODERATORS = HasRole(*EDITORIAL)


@strawberry.input(description="A link to the proposed service on one platform (http or https).")
class ProposedLinkInput:
    platform: PlatformType  # type: ignore[valid-type]
    url: str


@strawberry.input(
    description="A service as a partner proposes it. A new service needs every field (`free` is true "
    "unless said otherwise); a change carries only the fields that change."
)
class ServiceProposalInput:
    name: str | None = None
    short_description: str | None = strawberry.field(default=None, description="At most 300 characters.")
    long_description: str | None = None
    kind: ServiceKindType | None = None  # type: ignore[valid-type]
    categories: list[str] | None = strawberry.field(default=None, description="1 to 3 category slugs.")
    tags: list[str] | None = strawberry.field(default=None, description="Lowercase-hyphenated words.")
    links: list[ProposedLinkInput] | None = strawberry.field(default=None, description="One per platform.")
    free: bool | None = None

    def changes(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "short_description": self.short_description,
            "long_description": self.long_description,
            "kind": self.kind,
            "categories": self.categories,
            "tags": self.tags,
            "links": None
            if self.links is None
            else [{"platform": link.platform, "url": link.url} for link in self.links],
            "free": self.free,
        }


@strawberry.type
class ProposedLink:
    platform: PlatformType  # type: ignore[valid-type]
    url: str


@strawberry.type(description="The fields a proposal sets; those it leaves alone are null.")
class ProposedService:
    name: str | None
    short_description: str | None
    long_description: str | None
    kind: ServiceKindType | None  # type: ignore[valid-type]
    categories: list[str] | None
    tags: list[str] | None
    links: list[ProposedLink] | None
    free: bool | None

    @classmethod
    def of(cls, payload: dict[str, Any]) -> ProposedService:
        links = payload.get("links")
        return cls(
            name=payload.get("name"),
            short_description=payload.get("short_description"),
            long_description=payload.get("long_description"),
            kind=payload.get("kind"),
            categories=payload.get("categories"),
            tags=payload.get("tags"),
            links=None
            if links is None
            else [ProposedLink(platform=link["platform"], url=link["url"]) for link in links],
            free=payload.get("free"),
        )


@strawberry.type(description="A partner's proposal of a new service, or of changes to one of its own.")
class ServiceProposal:
    status: ProposalStatusType  # type: ignore[valid-type]
    reason: str | None = strawberry.field(description="Why it was rejected, for the partner to read.")
    created_at: dt.datetime
    reviewed_at: dt.datetime | None

    @strawberry.field
    def id(self: m.ServiceProposal) -> strawberry.ID:  # type: ignore[misc]
        return strawberry.ID(str(self.id))

    @strawberry.field(description="What the partner proposes.")
    def changes(self: m.ServiceProposal) -> ProposedService:  # type: ignore[misc]
        return ProposedService.of(self.payload)

    @strawberry.field(description="The partner it speaks for.")
    async def partner(self: m.ServiceProposal, info: Info) -> Provider:  # type: ignore[misc]
        return await info.context.loaders.partner.load(self.partner_id)  # type: ignore[return-value]

    @strawberry.field(
        description="The service it changes. A proposed new service has none until it is approved, "
        "then it is the service created."
    )
    async def service(self: m.ServiceProposal, info: Info) -> Service | None:  # type: ignore[misc]
        if self.service_id is None:
            return None
        return await info.context.loaders.service_any_status.load(self.service_id)  # type: ignore[return-value]


@strawberry.type
class ProposalsQuery:
    @strawberry.field(
        description="Your partner's proposals, newest first, with their status and any rejection "
        "reason; `first` is capped at 100.",
        extensions=allow(PARTNERS),
    )
    async def my_service_proposals(
        self,
        info: Info,
        status: ProposalStatusType | None = None,  # type: ignore[valid-type]
        first: int = 50,
    ) -> list[ServiceProposal]:
        return await resolve.my_proposals(await signed_in_user(info), status, first)  # type: ignore[return-value]

    @strawberry.field(
        description="The moderation queue, oldest first: pending proposals unless another status is "
        "asked for (null: every status); `first` is capped at 100.",
        extensions=allow(MODERATORS),
    )
    async def service_proposals(
        self,
        status: ProposalStatusType | None = ProposalStatus.PENDING,  # type: ignore[valid-type]
        first: int = 50,
    ) -> list[ServiceProposal]:
        return await resolve.queue(status, first)  # type: ignore[return-value]


@strawberry.type
class ProposalsMutation:
    @strawberry.mutation(
        description="Propose a new service (no serviceSlug) or changes to one of your partner's services.",
        extensions=allow(PARTNERS),
    )
    async def submit_service_proposal(
        self, info: Info, input: ServiceProposalInput, service_slug: str | None = None
    ) -> ServiceProposal:
        return await resolve.submit(await signed_in_user(info), service_slug, input.changes())  # type: ignore[return-value]

    @strawberry.mutation(
        description="Apply a pending proposal; the service goes live only if it is free.",
        extensions=allow(MODERATORS),
    )
    async def approve_service_proposal(self, info: Info, id: strawberry.ID) -> ServiceProposal:
        return await resolve.approve(await signed_in_user(info), parse_id(id))  # type: ignore[return-value]

    @strawberry.mutation(
        description="Refuse a pending proposal, saying why; the partner reads the reason.",
        extensions=allow(MODERATORS),
    )
    async def reject_service_proposal(self, info: Info, id: strawberry.ID, reason: str) -> ServiceProposal:
        return await resolve.reject(await signed_in_user(info), parse_id(id), reason)  # type: ignore[return-value]
