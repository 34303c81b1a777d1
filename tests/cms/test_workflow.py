"""The editorial workflow over GraphQL: who may do what, in which state, and what the public sees."""

from __future__ import annotations

import datetime as dt

import pytest

from models.cms import Article, AuditLogEntry, Revision
from models.enums import ServiceStatus
from tests.factories import make_service

FIELDS = "id slug status live hasUnpublishedChanges reviewComment draft { title body tags relatedServices }"
CREATE = f"mutation($i: ArticleInput!) {{ createArticle(input: $i) {{ {FIELDS} }} }}"
UPDATE = f"mutation($id: ID!, $i: ArticleInput!) {{ updateArticle(id: $id, input: $i) {{ {FIELDS} }} }}"
PUBLIC = "query($s: String!) { article(slug: $s) { title bodyHtml tags relatedServices { slug } } }"


def story(**changes):
    base = {
        "kind": "STORY",
        "title": "De caissière à développeuse web",
        "summary": "Comment Nadia s'est reconvertie en dix-huit mois.",
        "body": "## Le déclic\n\nTout a commencé par un **MOOC** gratuit.",
        "tags": ["reconversion", "numerique"],
    }
    return {**base, **changes}


async def act(client, action: str, article_id: str, **extra):
    args = "".join(f", {k}: {v!r}".replace("'", '"') for k, v in extra.items())
    return await client.gql(f'mutation {{ {action}Article(id: "{article_id}"{args}) {{ {FIELDS} }} }}')


@pytest.fixture
async def team(sign_in):
    editor = await sign_in("editor")
    reviewer = await sign_in("editor", is_reviewer=True)
    admin = await sign_in("admin")
    return editor, reviewer, admin


async def test_draft_review_publish_and_read(team, gql):
    editor, reviewer, _ = team
    await make_service("memo")
    created = (await editor.gql(CREATE, {"i": story(relatedServices=["memo"])})).data["createArticle"]
    assert created["status"] == "DRAFT" and created["live"] is False
    assert created["slug"] == "de-caissiere-a-developpeuse-web"
    assert (await gql(PUBLIC, {"s": created["slug"]})).codes == ["NOT_FOUND"]

    submitted = (await act(editor, "submit", created["id"])).data["submitArticle"]
    assert submitted["status"] == "IN_REVIEW"
    published = (await act(reviewer, "approve", created["id"])).data["approveArticle"]
    assert (published["status"], published["live"], published["hasUnpublishedChanges"]) == (
        "PUBLISHED",
        True,
        False,
    )

    public = (await gql(PUBLIC, {"s": created["slug"]})).data["article"]
    assert public["title"] == "De caissière à développeuse web"
    assert "<h2>Le déclic</h2>" in public["bodyHtml"] and "<strong>MOOC</strong>" in public["bodyHtml"]
    assert public["relatedServices"] == [{"slug": "memo"}]
    listed = await gql('{ articles(kind: STORY, tag: "reconversion") { totalCount nodes { slug } } }')
    assert listed.data["articles"]["nodes"] == [{"slug": created["slug"]}]

    actions = (
        await AuditLogEntry.filter(object_id=int(created["id"]))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["article.create", "article.submit", "article.approve"]


async def test_editing_a_live_article_keeps_the_published_version_until_republished(team, gql):
    editor, reviewer, _ = team
    article_id = (await editor.gql(CREATE, {"i": story()})).data["createArticle"]["id"]
    await act(reviewer, "publish", article_id)

    edited = await editor.gql(UPDATE, {"id": article_id, "i": story(title="Un tout autre titre")})
    assert edited.data["updateArticle"]["hasUnpublishedChanges"] is True
    assert edited.data["updateArticle"]["slug"] == "de-caissiere-a-developpeuse-web"  # stable once published
    public = await gql(PUBLIC, {"s": "de-caissiere-a-developpeuse-web"})
    assert public.data["article"]["title"] == "De caissière à développeuse web"

    await act(editor, "submit", article_id)
    still_live = await gql(PUBLIC, {"s": "de-caissiere-a-developpeuse-web"})
    assert still_live.data["article"]["title"] == "De caissière à développeuse web"
    await act(reviewer, "approve", article_id)
    republished = await gql(PUBLIC, {"s": "de-caissiere-a-developpeuse-web"})
    assert republished.data["article"]["title"] == "Un tout autre titre"


async def test_slug_follows_the_title_until_first_publication_and_stays_unique(team):
    editor, _, _ = team
    first = (await editor.gql(CREATE, {"i": story()})).data["createArticle"]
    second = (await editor.gql(CREATE, {"i": story()})).data["createArticle"]
    assert second["slug"] == "de-caissiere-a-developpeuse-web-2"
    renamed = await editor.gql(UPDATE, {"id": first["id"], "i": story(title="Nadia, développeuse")})
    assert renamed.data["updateArticle"]["slug"] == "nadia-developpeuse"


async def test_reject_needs_a_comment_that_the_editor_reads(team):
    editor, reviewer, _ = team
    article_id = (await editor.gql(CREATE, {"i": story()})).data["createArticle"]["id"]
    await act(editor, "submit", article_id)

    assert (await act(reviewer, "reject", article_id, comment="  ")).codes == ["BAD_USER_INPUT"]
    rejected = await act(reviewer, "reject", article_id, comment="Ajoutez une source pour les chiffres.")
    assert rejected.data["rejectArticle"]["status"] == "DRAFT"
    seen = await editor.gql(f'{{ editorialArticle(id: "{article_id}") {{ reviewComment status }} }}')
    assert seen.data["editorialArticle"] == {
        "reviewComment": "Ajoutez une source pour les chiffres.",
        "status": "DRAFT",
    }


async def test_illegal_transitions_are_refused_with_a_clear_error(team):
    editor, reviewer, _ = team
    article_id = (await editor.gql(CREATE, {"i": story()})).data["createArticle"]["id"]
    cases = [
        ("approve", "cannot approve an article that is draft"),
        ("reject", "cannot reject an article that is draft"),
        ("unpublish", "cannot unpublish an article that is draft"),
        ("unarchive", "cannot unarchive an article that is draft"),
    ]
    for action, message in cases:
        extra = {"comment": "non"} if action == "reject" else {}
        response = await act(reviewer, action, article_id, **extra)
        assert response.codes == ["BAD_USER_INPUT"], action
        assert response.errors[0]["message"] == message
    await act(reviewer, "archive", article_id)
    assert (await act(editor, "submit", article_id)).codes == ["BAD_USER_INPUT"]
    assert (await editor.gql(UPDATE, {"id": article_id, "i": story()})).codes == ["BAD_USER_INPUT"]
    assert (await Article.get(id=int(article_id))).status.value == "archived"


async def test_only_admins_and_reviewers_approve_publish_and_unpublish(team):
    editor, _, admin = team
    article_id = (await editor.gql(CREATE, {"i": story()})).data["createArticle"]["id"]
    await act(editor, "submit", article_id)
    for action in ("approve", "publish", "unpublish", "archive"):
        assert (await act(editor, action, article_id)).codes == ["FORBIDDEN"], action
    assert (await act(admin, "approve", article_id)).data["approveArticle"]["live"] is True
    assert (await act(admin, "unpublish", article_id)).data["unpublishArticle"]["live"] is False


async def test_unpublished_article_disappears_from_public_queries(team, gql):
    editor, reviewer, _ = team
    article = (await editor.gql(CREATE, {"i": story()})).data["createArticle"]
    await act(reviewer, "publish", article["id"])
    await act(reviewer, "unpublish", article["id"])
    assert (await gql(PUBLIC, {"s": article["slug"]})).codes == ["NOT_FOUND"]
    assert (await gql("{ articles { totalCount } }")).data["articles"]["totalCount"] == 0


async def test_a_published_article_never_exposes_an_unpublished_service(team, gql):
    editor, reviewer, _ = team
    await make_service("visible")
    await make_service("brouillon", status=ServiceStatus.DRAFT)
    await make_service("payant", free=False)
    article = (
        await editor.gql(CREATE, {"i": story(relatedServices=["visible", "brouillon", "payant"])})
    ).data
    await act(reviewer, "publish", article["createArticle"]["id"])
    public = await gql(PUBLIC, {"s": article["createArticle"]["slug"]})
    assert public.data["article"]["relatedServices"] == [{"slug": "visible"}]


async def test_revisions_list_compare_and_restore_without_publishing(team, gql):
    editor, reviewer, _ = team
    article_id = (await editor.gql(CREATE, {"i": story()})).data["createArticle"]["id"]
    await act(reviewer, "publish", article_id)
    await editor.gql(UPDATE, {"id": article_id, "i": story(body="Version deux.", tags=["reconversion"])})

    revisions = await editor.gql(
        f'{{ editorialArticle(id: "{article_id}") {{ revisions {{ id message author {{ email }} }} }} }}'
    )
    listed = revisions.data["editorialArticle"]["revisions"]
    assert len(listed) == 2 and listed[0]["author"]["email"] == editor.user.email
    newest, oldest = listed[0]["id"], listed[1]["id"]

    diff = await editor.gql(
        f'{{ compareRevisions(articleId: "{article_id}", before: "{oldest}", after: "{newest}") {{ field before after }} }}'
    )
    assert {c["field"]: c["after"] for c in diff.data["compareRevisions"]} == {
        "body": "Version deux.",
        "tags": ["reconversion"],
    }

    restored = await editor.gql(
        f'mutation {{ restoreArticleRevision(id: "{article_id}", revisionId: "{oldest}") {{ {FIELDS} }} }}'
    )
    payload = restored.data["restoreArticleRevision"]
    assert payload["draft"]["body"] == story()["body"]
    assert payload["status"] == "PUBLISHED" and payload["hasUnpublishedChanges"] is True
    assert await Revision.filter(object_id=int(article_id)).count() == 3
    # Restoring made a draft: the public still reads what was published.
    public = await gql(PUBLIC, {"s": "de-caissiere-a-developpeuse-web"})
    assert "Tout a commencé" in public.data["article"]["bodyHtml"]


async def test_bad_article_input_is_refused_and_writes_nothing(team):
    editor, _, _ = team
    now = dt.datetime.now(dt.UTC)
    cases = [
        story(title="  "),
        story(summary=""),
        story(tags=["Pas Un Tag"]),
        story(tags=[f"t{i}" for i in range(11)]),
        story(relatedServices=["service-inconnu"]),
        story(body="x" * 100_001),
        story(
            goLiveAt=(now + dt.timedelta(days=2)).isoformat(),
            expireAt=(now + dt.timedelta(days=1)).isoformat(),
        ),
        story(goLiveAt="2030-01-01T10:00:00"),
        story(coverImageId="999"),
    ]
    for case in cases:
        response = await editor.gql(CREATE, {"i": case})
        assert response.codes == ["BAD_USER_INPUT"], case
    assert await Article.all().count() == 0
    assert await Revision.all().count() == 0


async def test_unknown_article_ids_are_not_found(team):
    editor, _, _ = team
    for bad in ("424242", "abc", "-1"):
        response = await act(editor, "submit", bad)
        assert response.codes in (["NOT_FOUND"], ["BAD_USER_INPUT"]), bad
