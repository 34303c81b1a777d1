"""Every need can be served: the shipped catalogue's content covers the whole vocabulary."""

from __future__ import annotations

from cms.seed_schema import load_catalogue
from recommender.needs import Need, service_needs


def test_every_need_is_served_by_several_shipped_services():
    served: dict[Need, int] = dict.fromkeys(Need, 0)
    for s in load_catalogue().services:
        for need, weight in service_needs(
            s.categories, s.kind, s.tags, [link.platform for link in s.links]
        ).items():
            if weight >= 0.6:
                served[need] += 1
    assert min(served.values()) >= 5, served


def test_signals_combine_by_strongest():
    needs = service_needs(
        ["preparer-sa-candidature"], "interview_simulator", ["entretien", "mobile"], ["web"]
    )
    assert needs[Need.PREPARING_INTERVIEW] == 1.0
    assert needs[Need.MOBILE_ONLY] == 0.8
    assert Need.WANTS_ABROAD not in needs
    secondary = service_needs(["trouver-un-emploi", "travailler-a-l-etranger"], "website", [])
    assert secondary[Need.WANTS_ABROAD] == 0.7
