"""Rich text stays inert: a corpus of XSS payloads goes through Markdown and nh3 and comes out harmless."""

from __future__ import annotations

import pathlib
from html.parser import HTMLParser

import pytest

from cms.markdown import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render_markdown
from tests.cms.test_workflow import CREATE, PUBLIC, act, story

CORPUS = [
    block
    for block in (pathlib.Path(__file__).parent / "data" / "xss_corpus.txt")
    .read_text(encoding="utf-8")
    .split("\n")
    if block.strip()
]
SAFE_SCHEMES = ("http://", "https://", "mailto:")


class Inspector(HTMLParser):
    """Collects every tag and attribute that survived, to check them against what is allowed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name not in ALLOWED_ATTRIBUTES.get(tag, set()) and not (tag == "a" and name == "rel"):
                self.problems.append(f"attribute {name} on <{tag}>")
            if name in ("href", "src") and value and not value.strip().lower().startswith(SAFE_SCHEMES):
                if ":" in value.split("/")[0]:
                    self.problems.append(f"{name}={value!r}")


def problems_in(html: str) -> list[str]:
    inspector = Inspector()
    inspector.feed(html)
    return inspector.problems


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 60


@pytest.mark.parametrize("payload", CORPUS)
def test_each_payload_comes_out_inert(payload):
    html = render_markdown(payload)
    assert problems_in(html) == [], html
    lowered = html.lower()
    assert "<script" not in lowered and "<svg" not in lowered and "<iframe" not in lowered


def test_ordinary_markdown_still_renders():
    html = render_markdown(
        "## Titre\n\n*italique*, **gras**, [lien](https://www.pole-emploi.fr) et `code`.\n\n- un\n- deux\n\n"
        "![Affiche](https://exemple.fr/a.png)"
    )
    assert "<h2>Titre</h2>" in html
    assert '<a href="https://www.pole-emploi.fr" rel="nofollow noopener noreferrer">lien</a>' in html
    assert '<img src="https://exemple.fr/a.png" alt="Affiche">' in html
    assert "<li>deux</li>" in html


async def test_the_whole_corpus_published_is_inert_for_readers(sign_in, gql):
    editor = await sign_in("editor")
    reviewer = await sign_in("admin")
    body = "\n\n".join(CORPUS)
    article = (await editor.gql(CREATE, {"i": story(body=body)})).data["createArticle"]
    await act(reviewer, "publish", article["id"])

    public = await gql(PUBLIC, {"s": article["slug"]})
    preview = await editor.gql("query($m: String!) { renderMarkdown(markdown: $m) }", {"m": body})

    assert problems_in(public.data["article"]["bodyHtml"]) == []
    assert problems_in(preview.data["renderMarkdown"]) == []
