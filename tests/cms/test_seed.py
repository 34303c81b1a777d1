"""`emploi-store seed` loads the shipped demo catalogue, idempotently, and refuses bad data whole."""

from __future__ import annotations

import json
import pathlib
from collections import Counter

import pytest

from cms.seed import load_article_files
from cms.seed_schema import DATA_DIR, load_catalogue
from models.catalogue import Category, Partner, Service, ServiceLink
from models.cms import Article, ArticleService
from models.enums import PartnerKind, ServiceKind, ServiceStatus
from models.events import RedirectEvent
from models.ratings import Rating
from tests.conftest import run_cli


@pytest.fixture
def seed(settings, db):
    def run(*args: str):
        return run_cli("seed", *args, database_url=settings.database_url, var_dir=settings.var_dir)

    return run


def test_shipped_blog_is_written_in_french_and_links_to_the_catalogue():
    articles = load_article_files()
    slugs = {s.slug for s in load_catalogue().services}
    assert len(articles) >= 12
    assert {a["kind"] for a in articles} == {"story", "article", "news"}
    assert sum(bool(a.get("related_services")) for a in articles) >= 10
    assert all(set(a.get("related_services", [])) <= slugs for a in articles)
    assert len({a["title"] for a in articles}) == len(articles)


def test_shipped_catalogue_is_the_size_and_shape_of_the_original():
    catalogue = load_catalogue()
    services = catalogue.services
    kinds = Counter(s.kind for s in services)
    assert len(services) >= 316
    assert 55 <= sum(s.provider == "pole-emploi" for s in services) <= 70
    assert kinds["mooc"] >= 62
    for kind in ("elearning_game", "interview_simulator", "quiz", "job_board", "mobile_app"):
        assert kinds[kind] >= 3, kind
    assert len({s.categories[0] for s in services}) == 6
    assert len({s.short_description for s in services}) == len(services)
    assert len({s.long_description for s in services}) == len(services)
    names = {s.name for s in services}
    for real in ("La Bonne Boîte", "Bob", "Métierscope", "MEMO", "Seekube", "Glassdoor"):
        assert any(name.startswith(real) for name in names), real


async def test_seed_loads_everything_and_is_idempotent(seed):
    first = seed()
    assert first.returncode == 0, first.stderr
    shipped = load_catalogue()
    counts = (
        await Service.filter(status=ServiceStatus.PUBLISHED).count(),
        await ServiceLink.all().count(),
        await Partner.all().count(),
        await Rating.all().count(),
        await RedirectEvent.all().count(),
    )
    assert counts[0] == len(shipped.services)
    assert counts[1] == sum(len(s.links) for s in shipped.services)
    assert await Category.all().count() == 6
    assert counts[3] > 0 and counts[4] > 0
    assert await Partner.filter(kind=PartnerKind.PUBLIC_EMPLOYMENT_SERVICE).count() == 1
    assert await Service.filter(kind=ServiceKind.MOOC).count() >= 62

    live = await Article.filter(live=True).values_list("kind", flat=True)
    assert len(live) >= 12 and {kind.value for kind in live} == {"story", "article", "news"}
    assert await ArticleService.all().count() >= 10

    again = seed()
    assert again.returncode == 0, again.stderr
    assert "(0 new" in again.stdout and "0 new articles" in again.stdout
    assert await Article.all().count() == len(live)
    assert counts == (
        await Service.filter(status=ServiceStatus.PUBLISHED).count(),
        await ServiceLink.all().count(),
        await Partner.all().count(),
        await Rating.all().count(),
        await RedirectEvent.all().count(),
    )
    # Five services take about three quarters of the visits, as in the original store.
    top = await Service.all().order_by("-redirect_count").limit(5).values_list("redirect_count", flat=True)
    assert 0.65 <= sum(top) / counts[4] <= 0.85


def _sample(tmp_path: pathlib.Path, change) -> pathlib.Path:
    data = json.loads(next(iter(sorted(DATA_DIR.glob("*.json")))).read_text(encoding="utf-8"))
    data["services"] = data["services"][:3]
    used = {s["provider"] for s in data["services"]}
    data["partners"] = [p for p in data["partners"] if p["slug"] in used]
    change(data)
    (tmp_path / "catalogue.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return tmp_path


async def test_a_non_http_link_refuses_the_whole_seed(seed, tmp_path):
    def poison(data):
        data["services"][2]["links"][0]["url"] = "javascript:alert(1)"

    result = seed("--directory", str(_sample(tmp_path, poison)))

    assert result.returncode == 2
    assert "nothing written" in result.stderr
    assert "url" in result.stderr.lower()
    assert await Service.all().count() == 0
    assert await Category.all().count() == 0


async def test_a_service_that_is_not_free_is_never_published(seed, tmp_path):
    def paying(data):
        data["services"][0]["free"] = False

    result = seed("--directory", str(_sample(tmp_path, paying)), "--no-activity")

    assert result.returncode == 0, result.stderr
    assert await Service.filter(status=ServiceStatus.PUBLISHED).count() == 2
    assert await Service.filter(free=False, status=ServiceStatus.PUBLISHED).count() == 0
