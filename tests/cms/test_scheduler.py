"""Scheduled publication and expiry: on time, once, by the server itself or by the CLI."""

from __future__ import annotations

import asyncio
import datetime as dt

from cms import scheduler, workflow
from models.cms import Article, AuditLogEntry
from tests.cms.test_workflow import CREATE, PUBLIC, act, story
from tests.conftest import run_cli


def iso(delta: dt.timedelta) -> str:
    return (dt.datetime.now(dt.UTC) + delta).isoformat()


async def scheduled_article(sign_in, **changes):
    editor = await sign_in("editor")
    reviewer = await sign_in("editor", is_reviewer=True)
    article = (await editor.gql(CREATE, {"i": story(**changes)})).data["createArticle"]
    approved = await act(reviewer, "publish", article["id"])
    return article, approved.data["publishArticle"]


async def test_approval_with_a_future_date_schedules_instead_of_publishing(sign_in, gql):
    article, result = await scheduled_article(sign_in, goLiveAt=iso(dt.timedelta(hours=2)))
    assert (result["status"], result["live"]) == ("SCHEDULED", False)
    assert (await gql(PUBLIC, {"s": article["slug"]})).codes == ["NOT_FOUND"]
    assert await workflow.publish_due() == []

    published = await workflow.publish_due(dt.datetime.now(dt.UTC) + dt.timedelta(hours=3))

    assert published == [int(article["id"])]
    assert (await gql(PUBLIC, {"s": article["slug"]})).data["article"]["title"] == story()["title"]


async def test_several_workers_publish_a_due_article_exactly_once(sign_in):
    article, result = await scheduled_article(sign_in, goLiveAt=iso(dt.timedelta(hours=1)))
    assert result["status"] == "SCHEDULED"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)

    results = await asyncio.gather(*(workflow.publish_due(later) for _ in range(6)))

    assert sorted(i for published in results for i in published) == [int(article["id"])]
    entries = await AuditLogEntry.filter(action="article.publish_scheduled").count()
    assert entries == 1


async def test_expiry_takes_an_article_down(sign_in, gql):
    article, result = await scheduled_article(sign_in, expireAt=iso(dt.timedelta(hours=1)))
    assert result["live"] is True

    expired = await workflow.expire_due(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))

    assert expired == [int(article["id"])]
    assert (await gql(PUBLIC, {"s": article["slug"]})).codes == ["NOT_FOUND"]
    assert (await Article.get(id=int(article["id"]))).status.value == "archived"


async def make_due(article: dict) -> None:
    await Article.filter(id=int(article["id"])).update(
        go_live_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )


async def test_the_in_process_scheduler_publishes_on_time(sign_in, gql):
    article, result = await scheduled_article(sign_in, goLiveAt=iso(dt.timedelta(hours=1)))
    assert result["status"] == "SCHEDULED"
    await make_due(article)
    async with scheduler.running(0.2):
        for _ in range(50):
            if (await Article.get(id=int(article["id"]))).live:
                break
            await asyncio.sleep(0.1)
    assert (await gql(PUBLIC, {"s": article["slug"]})).data["article"] is not None


async def test_the_cli_publishes_what_is_due(sign_in, settings):
    article, result = await scheduled_article(sign_in, goLiveAt=iso(dt.timedelta(hours=1)))
    assert result["status"] == "SCHEDULED"
    await make_due(article)

    result = run_cli("cms", "publish-due", database_url=settings.database_url, var_dir=settings.var_dir)

    assert result.returncode == 0, result.stderr
    assert "Published 1 article" in result.stdout
    assert (await Article.get(id=int(article["id"]))).live is True
