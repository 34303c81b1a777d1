"""Loading the demo catalogue: validated whole first, then written in one transaction, idempotently."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import random
from dataclasses import dataclass
from typing import Any

from slugify import slugify
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from cms import articles, workflow
from cms.catalogue import check_publishable, sort_key
from cms.ratings import rewrite_summary
from cms.seed_schema import DATA_DIR, PUBLIC_EMPLOYMENT_SERVICE, SeedCatalogue, SeedService, load_catalogue
from models.accounts import User
from models.catalogue import Category, Partner, Service, ServiceCategory, ServiceLink
from models.cms import Article
from models.enums import ArticleKind, PartnerKind, Platform, RedirectSource, Role, ServiceKind, ServiceStatus
from models.events import RedirectEvent
from models.ratings import Rating

CATEGORIES: tuple[tuple[str, str, str], ...] = (
    (
        "choisir-un-metier",
        "Choisir un métier",
        "Explorer les métiers, tester ses goûts et ses aptitudes, découvrir un secteur de l'intérieur "
        "et bâtir un projet professionnel réaliste.",
    ),
    (
        "trouver-une-formation",
        "Trouver une formation",
        "Trouver la formation qui mène au métier visé, la financer, se former en ligne à son rythme "
        "ou faire reconnaître son expérience.",
    ),
    (
        "preparer-sa-candidature",
        "Préparer sa candidature",
        "Rédiger un CV et une lettre qui donnent envie, soigner son image en ligne et s'entraîner aux "
        "entretiens d'embauche.",
    ),
    (
        "trouver-un-emploi",
        "Trouver un emploi",
        "Repérer les offres et les entreprises qui recrutent, activer son réseau, rencontrer des "
        "recruteurs et suivre ses candidatures.",
    ),
    (
        "creer-une-entreprise",
        "Créer une entreprise",
        "Passer de l'idée au projet : étude de marché, statut, financement, aides à la création et "
        "accompagnement des premiers mois.",
    ),
    (
        "travailler-a-l-etranger",
        "Travailler à l'étranger",
        "Préparer un départ, trouver un emploi ou un volontariat hors de France, faire reconnaître ses "
        "diplômes et organiser son retour.",
    ),
)

PUBLIC_EMPLOYMENT_SERVICE_NAME = "Pôle emploi"
SEED_VOTER_PREFIX = "seed:"
# Five services took 75 % of visits in the original store (Cour des comptes, 2020).
FLAGSHIPS = (
    "la-bonne-boite",
    "bob-coach-recherche-emploi",
    "metierscope",
    "ma-lettre-de-motivation",
    "seekube",
)
SEED_REDIRECTS = 8000


@dataclass(frozen=True)
class SeedReport:
    categories: int
    partners: int
    services: int
    created: int
    updated: int
    ratings: int
    redirects: int


async def seed_catalogue(
    directory: pathlib.Path = DATA_DIR, *, with_activity: bool = True, random_seed: int = 2017
) -> SeedReport:
    """Validate every file, then write categories, partners, services and links.

    Running it again updates what changed and adds nothing twice. With `with_activity`, services
    without seeded ratings get some, and the catalogue gets a first history of redirects.
    """
    catalogue = load_catalogue(directory)  # raises ValueError before anything is written
    async with in_transaction():
        categories = await _upsert_categories()
        partners = await _upsert_partners(catalogue)
        created = updated = 0
        services: dict[str, Service] = {}
        for item in catalogue.services:
            service, was_created = await _upsert_service(item, partners, categories)
            services[item.slug] = service
            created += was_created
            updated += not was_created
        ratings = redirects = 0
        if with_activity:
            ratings = await _seed_ratings(list(services.values()), random_seed)
            redirects = await _seed_redirects(list(services.values()), random.Random(random_seed))
    return SeedReport(
        categories=len(categories),
        partners=len(partners),
        services=len(services),
        created=created,
        updated=updated,
        ratings=ratings,
        redirects=redirects,
    )


async def _upsert_categories() -> dict[str, Category]:
    result = {}
    for position, (slug, name, description) in enumerate(CATEGORIES):
        category, _ = await Category.update_or_create(
            slug=slug, defaults={"name": name, "description": description, "position": position}
        )
        result[slug] = category
    return result


async def _upsert_partners(catalogue: SeedCatalogue) -> dict[str, Partner]:
    result = {}
    public, _ = await Partner.update_or_create(
        slug=PUBLIC_EMPLOYMENT_SERVICE,
        defaults={
            "name": PUBLIC_EMPLOYMENT_SERVICE_NAME,
            "kind": PartnerKind.PUBLIC_EMPLOYMENT_SERVICE,
            "website": "https://www.pole-emploi.fr",
        },
    )
    result[PUBLIC_EMPLOYMENT_SERVICE] = public
    for slug, item in catalogue.partners.items():
        partner, _ = await Partner.update_or_create(
            slug=slug,
            defaults={"name": item.name, "kind": PartnerKind(item.kind), "website": str(item.website)},
        )
        result[slug] = partner
    return result


def _published_at(launched_on: dt.date) -> dt.datetime:
    return dt.datetime.combine(launched_on, dt.time(9, 0), tzinfo=dt.UTC)


async def _upsert_service(
    item: SeedService, partners: dict[str, Partner], categories: dict[str, Category]
) -> tuple[Service, bool]:
    fields = {
        "name": item.name,
        "sort_name": sort_key(item.name),
        "short_description": item.short_description,
        "long_description": item.long_description,
        "kind": ServiceKind(item.kind),
        "provider_id": partners[item.provider].id,
        "free": item.free,
        "tags": list(item.tags),
        "launched_on": item.launched_on,
    }
    service = await Service.get_or_none(slug=item.slug)
    created = service is None
    if service is None:
        service = Service(slug=item.slug, **fields)
    else:
        service.update_from_dict(fields)
    if service.free:
        check_publishable(service)
        service.status = ServiceStatus.PUBLISHED
        service.published_at = service.published_at or _published_at(item.launched_on)
    else:
        service.status = ServiceStatus.DRAFT
        service.published_at = None
    await service.save()

    await ServiceCategory.filter(service_id=service.id).delete()
    await ServiceCategory.bulk_create(
        [
            ServiceCategory(service_id=service.id, category_id=categories[slug].id, position=position)
            for position, slug in enumerate(item.categories)
        ]
    )
    await ServiceLink.filter(service_id=service.id).delete()
    await ServiceLink.bulk_create(
        [
            ServiceLink(service_id=service.id, platform=Platform(link.platform), url=str(link.url))
            for link in item.links
        ]
    )
    return service, created


async def _seed_ratings(services: list[Service], random_seed: int) -> int:
    """A believable spread of ratings for the services the seed has not rated yet.

    Each service draws from its own generator, so a second run makes the same choices and adds nothing.
    """
    already = set(
        await Rating.filter(voter__startswith=SEED_VOTER_PREFIX)
        .distinct()
        .values_list("service_id", flat=True)
    )
    new: list[Rating] = []
    touched: list[Service] = []
    for service in services:
        rng = random.Random(f"{random_seed}:{service.slug}")
        if service.id in already or rng.random() < 0.15:
            continue
        quality = rng.uniform(2.6, 4.8)
        for voter in range(rng.randint(3, 40)):
            stars = max(1, min(5, round(rng.gauss(quality, 0.9))))
            new.append(Rating(service_id=service.id, voter=f"{SEED_VOTER_PREFIX}{voter}", stars=stars))
        touched.append(service)
    if new:
        await Rating.bulk_create(new, batch_size=1000)
    for service in touched:
        await rewrite_summary(service)
    return len(new)


async def _seed_redirects(services: list[Service], rng: random.Random) -> int:
    """A first history of visits with the original store's skew: five services take 75 %."""
    if await RedirectEvent.filter(visitor__startswith=SEED_VOTER_PREFIX).exists():
        return 0
    by_slug = {s.slug: s for s in services}
    flagships = [by_slug[slug] for slug in FLAGSHIPS if slug in by_slug]
    others = [s for s in services if s not in flagships]
    rng.shuffle(others)
    while len(flagships) < 5 and others:
        flagships.append(others.pop())
    # Zipf-like weights: flagships share 75 %, the long tail the rest.
    tail = [1 / (rank + 1) for rank in range(len(others))]
    tail_total = sum(tail) or 1
    weights = [0.75 / len(flagships)] * len(flagships) + [0.25 * w / tail_total for w in tail]
    chosen = rng.choices(flagships + others, weights=weights, k=SEED_REDIRECTS)
    now = dt.datetime.now(dt.UTC)
    events = []
    counts: dict[int, int] = {}
    links = {
        (service_id, platform)
        for service_id, platform in await ServiceLink.filter(
            service_id__in=[s.id for s in services]
        ).values_list("service_id", "platform")
    }
    platforms_of: dict[int, list[Platform]] = {}
    for service_id, platform in links:
        platforms_of.setdefault(service_id, []).append(Platform(platform))
    for n, service in enumerate(chosen):
        platform = rng.choice(sorted(platforms_of[service.id], key=lambda p: p.value))
        events.append(
            RedirectEvent(
                service_id=service.id,
                platform=platform,
                source=RedirectSource.CATALOGUE,
                visitor=f"{SEED_VOTER_PREFIX}{n % 2500}",
                created_at=now - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 90)),
            )
        )
        counts[service.id] = counts.get(service.id, 0) + 1
    await RedirectEvent.bulk_create(events, batch_size=1000)
    for service_id, count in counts.items():
        await Service.filter(id=service_id).update(redirect_count=F("redirect_count") + count)
    return len(events)


ARTICLES_DIR = pathlib.Path(__file__).parent / "data" / "articles"
EDITORIAL_TEAM_EMAIL = "redaction@emploi-store.invalid"


async def _editorial_team() -> User:
    """The author of the demo articles: an account that cannot sign in."""
    team = await User.get_or_none(email=EDITORIAL_TEAM_EMAIL)
    if team is None:
        team = await User.create(
            email=EDITORIAL_TEAM_EMAIL,
            display_name="La rédaction",
            password_hash="!",  # not an argon2 hash: no password ever matches
            role=Role.EDITOR,
            is_active=False,
        )
    return team


def load_article_files(directory: pathlib.Path = ARTICLES_DIR) -> list[dict[str, Any]]:
    return [
        item
        for path in sorted(directory.glob("*.json"))
        for item in json.loads(path.read_text(encoding="utf-8"))["articles"]
    ]


async def seed_articles(directory: pathlib.Path = ARTICLES_DIR) -> int:
    """Publishes the demo blog; an article whose slug exists already is left as it is."""
    items = []
    for item in load_article_files(directory):
        content = await articles.validate(
            kind=ArticleKind(item["kind"]),
            title=item["title"],
            summary=item["summary"],
            body=item["body"],
            tags=item.get("tags"),
            related_services=item.get("related_services"),
            seo_title=item.get("seo_title"),
            seo_description=item.get("seo_description"),
        )
        published = dt.datetime.combine(
            dt.date.fromisoformat(item["published_on"]), dt.time(8, 30), tzinfo=dt.UTC
        )
        items.append((content, published))
    created = 0
    async with in_transaction():
        team = await _editorial_team()
        for content, published in items:
            if await Article.filter(slug=slugify(content.title, max_length=100, word_boundary=True)).exists():
                continue
            article = await articles.create_article(team, content)
            await workflow.publish(team, article.id)
            await Article.filter(id=article.id).update(
                first_published_at=published, last_published_at=published
            )
            created += 1
    return created
