"""Resolvers of the partner-proposal fields: read the arguments, call one domain function."""

from __future__ import annotations

from typing import Any

from cms import proposals
from models.accounts import User
from models.enums import ProposalStatus
from models.proposals import ServiceProposal


async def submit(actor: User, service_slug: str | None, changes: dict[str, Any]) -> ServiceProposal:
    return await proposals.submit(actor, service_slug, changes)


async def my_proposals(actor: User, status: ProposalStatus | None, first: int) -> list[ServiceProposal]:
    return await proposals.proposals_of(actor, status, first)


async def queue(status: ProposalStatus | None, first: int) -> list[ServiceProposal]:
    return await proposals.queue(status, first)


async def approve(actor: User, proposal_id: int) -> ServiceProposal:
    return await proposals.approve(actor, proposal_id)


async def reject(actor: User, proposal_id: int, reason: str) -> ServiceProposal:
    return await proposals.reject(actor, proposal_id, reason)
