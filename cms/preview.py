"""Signed, expiring links that let someone without an account read a draft."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from cms.articles import ArticleContent
from models.cms import Article, Revision
from models.errors import NotFound

_SALT = "emploi-store.article-preview"


@dataclass(frozen=True)
class Preview:
    article: Article
    revision: Revision
    content: ArticleContent


def make_preview_token(secret: str, article: Article) -> str:
    """Names the article's latest revision: the link shows that version, even after later edits."""
    serializer = URLSafeTimedSerializer(secret, salt=_SALT)
    return serializer.dumps({"a": article.id, "r": article.latest_revision_id})


async def open_preview(secret: str, token: str, max_age: dt.timedelta) -> Preview:
    serializer = URLSafeTimedSerializer(secret, salt=_SALT)
    try:
        data = serializer.loads(token, max_age=int(max_age.total_seconds()))
        article_id, revision_id = int(data["a"]), int(data["r"])
    except SignatureExpired as exc:
        raise NotFound("this preview link has expired", reason="expired") from exc
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise NotFound("this preview link is not valid", reason="invalid") from exc
    article = await Article.get_or_none(id=article_id)
    revision = await Revision.get_or_none(id=revision_id, object_type="article", object_id=article_id)
    if article is None or revision is None:
        raise NotFound("this preview link is not valid", reason="gone")
    return Preview(
        article=article, revision=revision, content=ArticleContent.from_snapshot(revision.snapshot)
    )
