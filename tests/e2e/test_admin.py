"""The editor UI at /admin, driven in a real headless Chromium: sign-in, writing with the live
preview, the review workflow, revisions, media uploads and the moderation queue.

Set E2E_SCREENSHOT_DIR to keep a screenshot of the editor with its live preview.
"""

from __future__ import annotations

import os
import pathlib
import re

import httpx
from PIL import Image
from playwright.async_api import expect

from cms import articles, workflow
from cms.articles import ArticleContent
from models.accounts import Session
from models.cms import Article, Media
from models.enums import ArticleStatus, ProposalStatus, Role
from models.proposals import ServiceProposal
from tests.factories import make_categories, make_partner

from .conftest import make_account

PUBLIC_ARTICLES = "{ articles { nodes { slug title summary bodyHtml tags author { displayName } } } }"
SUBMIT_PROPOSAL = """
mutation($input: ServiceProposalInput!) { submitServiceProposal(input: $input) { id status } }
"""
LONG_DESCRIPTION = (
    "Un coach numérique qui vous aide à bâtir votre projet professionnel, pas à pas, "
    "en partant de vos envies, de vos compétences et des métiers qui recrutent près de chez vous."
)


def proposal(name: str) -> dict[str, object]:
    return {
        "name": name,
        "shortDescription": "Un accompagnement gratuit en ligne pour construire son projet professionnel.",
        "longDescription": LONG_DESCRIPTION,
        "kind": "WEBSITE",
        "categories": ["choisir-un-metier"],
        "tags": ["coaching"],
        "links": [{"platform": "WEB", "url": "https://coach.example.org/"}],
    }


async def write_article(author, title: str, body: str = "Premier jet.") -> Article:
    content = ArticleContent(kind="story", title=title, summary=f"Résumé de {title}.", body=body)
    return await articles.create_article(author, content)


async def test_an_editor_writes_a_story_and_an_admin_approves_it(open_editor, server):
    editor_user = await make_account(Role.EDITOR, "Camille Martin")
    admin_user = await make_account(Role.ADMIN, "Alex Dupont")

    editor = await open_editor(editor_user)
    await editor.sign_in()
    page = editor.page
    await expect(page.get_by_role("heading", name="Articles")).to_be_visible()
    await page.get_by_role("navigation").get_by_role("link", name="Nouvel article").click()
    await expect(page.locator("#editor-title")).to_have_text("Nouvel article")

    await page.get_by_label("Type").select_option("STORY")
    await page.get_by_label("Titre", exact=True).fill("De la boulangerie au développement web")
    await page.get_by_label("Résumé").fill("Comment Samia s'est reconvertie grâce à une formation en ligne.")
    markdown = page.get_by_label("Contenu (Markdown)")
    preview = page.locator("#live-preview")

    # The preview follows the typing, rendered and sanitised by the server.
    await markdown.fill("## Le déclic\n\nAprès dix ans de **fournil**, j'ai voulu changer.")
    await expect(preview.locator("h2")).to_have_text("Le déclic")
    await expect(preview.locator("strong")).to_have_text("fournil")
    await markdown.press("End")
    await markdown.press_sequentially(
        "\n\n- un MOOC gratuit\n- une *alternance*\n\n<script>alert('x')</script>", delay=5
    )
    await expect(preview.locator("li")).to_have_count(2)
    await expect(preview.locator("em")).to_have_text("alternance")
    await expect(preview).to_contain_text("<script>alert('x')</script>")
    await expect(preview.locator("script")).to_have_count(0)
    await expect(page.locator("#preview-state")).to_have_text("À jour")
    await page.get_by_label("Étiquettes").fill("reconversion, formation")
    if os.environ.get("E2E_SCREENSHOT_DIR"):
        await page.evaluate("window.scrollTo(0, 0)")
        await page.screenshot(path=pathlib.Path(os.environ["E2E_SCREENSHOT_DIR"]) / "admin-editor.png")

    await page.locator("#save").click()
    await expect(page.get_by_role("status")).to_contain_text("Article créé")
    await expect(page).to_have_url(re.compile(r"#/articles/\d+$"))
    await expect(page.locator("#editor-badges")).to_contain_text("Brouillon")
    await expect(page.locator("[data-action=approve]")).to_have_count(0)  # editors do not review

    await page.get_by_role("button", name="Soumettre à relecture").click()
    await expect(page.locator("#editor-badges")).to_contain_text("En relecture")
    await expect(page.get_by_role("button", name="Soumettre à relecture")).to_have_count(0)
    await page.get_by_role("button", name="Déconnexion").click()
    await expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("heading", name="Connexion")).to_be_visible()

    admin = await open_editor(admin_user)
    await admin.sign_in()
    await admin.page.get_by_label("Statut").select_option("IN_REVIEW")
    await expect(admin.page).to_have_url(re.compile(r"status=IN_REVIEW"))
    row = admin.page.locator("#article-list tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Camille Martin")
    await expect(row).to_contain_text("En relecture")
    await admin.open_article("De la boulangerie au développement web")
    await admin.page.get_by_role("button", name="Approuver").click()
    await expect(admin.page.get_by_role("status")).to_contain_text("approuvé et publié")
    await expect(admin.page.locator("#editor-badges")).to_contain_text("Publié")
    await expect(admin.page.locator("#editor-badges")).to_contain_text("En ligne")

    async with httpx.AsyncClient(base_url=server) as public:
        response = await public.post("/graphql", json={"query": PUBLIC_ARTICLES})
    [story] = response.json()["data"]["articles"]["nodes"]
    assert story["title"] == "De la boulangerie au développement web"
    assert story["slug"] == "de-la-boulangerie-au-developpement-web"
    assert story["author"] == {"displayName": "Camille Martin"}
    assert story["tags"] == ["reconversion", "formation"]
    html = story["bodyHtml"]
    assert "<h2>Le déclic</h2>" in html
    assert "<strong>fournil</strong>" in html
    assert "<li>une <em>alternance</em></li>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html


async def test_a_wrong_password_shows_the_servers_message(open_editor):
    user = await make_account(Role.EDITOR, "Camille Martin")
    editor = await open_editor(user)
    page = editor.page
    await page.goto("/admin/")
    await page.get_by_label("Adresse e-mail").fill(user.email)
    await page.get_by_label("Mot de passe").fill("not the password at all")
    await page.get_by_role("button", name="Se connecter").click()

    await expect(page.get_by_role("alert")).to_contain_text("Connexion impossible : wrong email or password")
    await expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    await expect(page.locator("#nav")).to_be_hidden()


async def test_accounts_that_do_not_edit_are_turned_away(open_editor):
    await make_partner("coach-partenaire")
    partner = await make_account(Role.PARTNER, "Coach Partenaire", partner_slug="coach-partenaire")
    visitor = await open_editor(partner)
    await visitor.sign_in()
    await expect(visitor.page.get_by_role("heading", name="Accès réservé")).to_be_visible()
    await expect(visitor.page.locator("#nav")).to_be_hidden()


async def test_a_reviewer_rejects_with_a_comment_that_the_editor_then_reads(open_editor):
    editor_user = await make_account(Role.EDITOR, "Camille Martin")
    reviewer_user = await make_account(Role.EDITOR, "Rémi Relecteur", is_reviewer=True)
    article = await write_article(editor_user, "Cinq conseils pour un entretien vidéo")
    await workflow.submit(editor_user, article.id)

    reviewer = await open_editor(reviewer_user)
    await reviewer.sign_in()
    await expect(reviewer.page.locator("#account-name")).to_contain_text("relecteur")
    await reviewer.open_article("Cinq conseils pour un entretien vidéo")
    await reviewer.page.get_by_role("button", name="Refuser").click()
    dialog = reviewer.page.get_by_role("dialog")
    await dialog.get_by_label("Commentaire pour l'éditeur").fill(
        "Ajoute un exemple concret, et cite La Bonne Boîte."
    )
    await dialog.get_by_role("button", name="Refuser").click()
    await expect(reviewer.page.get_by_role("status")).to_contain_text("renvoyé à son éditeur")
    await expect(reviewer.page.locator("#editor-badges")).to_contain_text("Brouillon")

    editor = await open_editor(editor_user)
    await editor.sign_in()
    row = editor.page.locator("#article-list tbody tr", has_text="Cinq conseils")
    await expect(row).to_contain_text("Commentaire de relecture")
    await editor.open_article("Cinq conseils pour un entretien vidéo")
    await expect(editor.page.locator("#review-comment")).to_contain_text(
        "Commentaire de relecture : Ajoute un exemple concret, et cite La Bonne Boîte."
    )
    stored = await Article.get(id=article.id)
    assert stored.status is ArticleStatus.DRAFT
    assert stored.review_comment == "Ajoute un exemple concret, et cite La Bonne Boîte."


async def test_an_editor_compares_and_restores_an_old_revision(open_editor):
    user = await make_account(Role.EDITOR, "Camille Martin")
    article = await write_article(user, "Premier titre", body="Le **premier** jet.")
    first_revision = article.latest_revision_id
    await articles.save_draft(
        user,
        article.id,
        ArticleContent(kind="story", title="Second titre", summary="Résumé.", body="Réécrit."),
    )

    editor = await open_editor(user)
    await editor.sign_in()
    await editor.open_article("Second titre")
    page = editor.page
    revisions = page.locator("#revisions li")
    await expect(revisions).to_have_count(2)
    await expect(revisions.first).to_contain_text("Brouillon actuel")
    old = page.locator(f"#revisions li[data-revision-id='{first_revision}']")
    await expect(old).to_contain_text("Camille Martin")

    await old.get_by_role("button", name="Comparer").click()
    title_change = page.locator("#revision-diff tr[data-field=title]")
    await expect(title_change.locator(".diff-before")).to_have_text("Premier titre")
    await expect(title_change.locator(".diff-after")).to_have_text("Second titre")

    await old.get_by_role("button", name="Restaurer").click()
    await expect(page.get_by_role("status")).to_contain_text(f"Révision n° {first_revision} restaurée")
    await expect(page.get_by_label("Titre", exact=True)).to_have_value("Premier titre")
    await expect(page.locator("#live-preview strong")).to_have_text("premier")
    await expect(revisions).to_have_count(3)
    await expect(revisions.first).to_contain_text(f"restored from revision {first_revision}")
    stored = await Article.get(id=article.id)
    assert stored.title == "Premier titre"
    assert stored.live is False


async def test_schedule_dates_are_read_in_the_browsers_time_zone(open_editor):
    user = await make_account(Role.EDITOR, "Camille Martin")
    article = await write_article(user, "Le salon de l'alternance")

    editor = await open_editor(user)  # the context runs in Europe/Paris
    await editor.sign_in()
    await editor.open_article("Le salon de l'alternance")
    page = editor.page
    await expect(page.locator(".hint", has_text="Europe/Paris")).to_be_visible()
    await page.get_by_label("Mise en ligne le").fill("2031-06-01T09:30")
    await page.get_by_label("Retrait le").fill("2031-12-20T18:00")
    await page.locator("#save").click()
    await expect(page.get_by_role("status")).to_contain_text("Brouillon enregistré")

    content = await articles.latest_content(await Article.get(id=article.id))
    assert content.go_live_at == "2031-06-01T07:30:00+00:00"  # summer time, UTC+2
    assert content.expire_at == "2031-12-20T17:00:00+00:00"  # winter time, UTC+1
    await page.reload()
    await expect(page.get_by_label("Mise en ligne le")).to_have_value("2031-06-01T09:30")
    await expect(page.get_by_label("Retrait le")).to_have_value("2031-12-20T18:00")


async def test_errors_from_the_server_are_shown_and_a_lost_session_leads_to_sign_in(open_editor):
    user = await make_account(Role.EDITOR, "Camille Martin")
    await write_article(user, "Trouver un stage")

    editor = await open_editor(user)
    await editor.sign_in()
    await editor.open_article("Trouver un stage")
    page = editor.page
    await page.get_by_label("Services liés").fill("service-qui-n-existe-pas")
    await page.locator("#save").click()
    await expect(page.get_by_role("alert")).to_contain_text(
        "Enregistrement : unknown service: service-qui-n-existe-pas"
    )
    await expect(page.get_by_label("Titre", exact=True)).to_have_value("Trouver un stage")  # still editing

    await Session.all().delete()
    await page.get_by_label("Services liés").fill("")
    await page.locator("#save").click()
    await expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text("Reconnectez-vous")


async def test_an_editor_uploads_an_image_and_makes_it_a_cover(open_editor, tmp_path):
    user = await make_account(Role.EDITOR, "Camille Martin")
    picture = tmp_path / "atelier.png"
    Image.new("RGB", (640, 360), (29, 60, 120)).save(picture)

    editor = await open_editor(user)
    await editor.sign_in()
    page = editor.page
    await page.get_by_role("navigation").get_by_role("link", name="Médias").click()
    await expect(page.get_by_role("heading", name="Médias")).to_be_visible()
    await page.get_by_label("Fichier image").set_input_files(picture)
    await page.get_by_label("Texte alternatif").fill("Un atelier de recherche d'emploi")
    await page.get_by_role("button", name="Téléverser").click()
    await expect(page.get_by_role("status")).to_contain_text("Image téléversée (640 × 360)")
    thumbnail = page.locator("#media-gallery img[alt='Un atelier de recherche d\\'emploi']")
    await expect(thumbnail).to_have_count(1)
    await expect(thumbnail).to_have_js_property("complete", True)
    assert await thumbnail.evaluate("image => image.naturalWidth") > 0  # it loaded, under the page's CSP
    media = await Media.get(alt_text="Un atelier de recherche d'emploi")

    await page.get_by_role("navigation").get_by_role("link", name="Nouvel article").click()
    await page.get_by_label("Titre", exact=True).fill("Les ateliers du jeudi")
    await page.get_by_label("Résumé").fill("Chaque jeudi, un atelier pour relancer sa recherche.")
    await page.get_by_role("button", name="Choisir dans la médiathèque").click()
    await page.get_by_role("dialog").locator(f"[data-media-id='{media.id}']").click()
    await expect(page.locator("#cover-box img")).to_have_attribute("alt", "Un atelier de recherche d'emploi")
    await expect(page.get_by_label("Texte alternatif de l'image")).to_have_value(
        "Un atelier de recherche d'emploi"
    )
    await page.locator("#save").click()
    await expect(page.get_by_role("status")).to_contain_text("Article créé")
    stored = await Article.get(title="Les ateliers du jeudi")
    assert stored.cover_image_id == media.id
    assert stored.cover_alt == "Un atelier de recherche d'emploi"


async def test_a_refused_upload_shows_why(open_editor, tmp_path):
    user = await make_account(Role.EDITOR, "Camille Martin")
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_bytes(b"these are notes, not pixels")

    editor = await open_editor(user)
    await editor.sign_in()
    await editor.page.goto("/admin#/media")
    await editor.page.get_by_label("Fichier image").set_input_files(not_an_image)
    await editor.page.get_by_label("Texte alternatif").fill("Des notes")
    await editor.page.get_by_role("button", name="Téléverser").click()
    await expect(editor.page.get_by_role("alert")).to_contain_text("Téléversement : ")
    assert await Media.all().count() == 0


async def test_an_admin_moderates_partner_proposals(open_editor, sign_in):
    await make_categories()
    await make_partner("coach-partenaire")
    partner = await sign_in("partner", partner_slug="coach-partenaire")
    for name in ("Coach Emploi Solidaire", "Simulateur d'entretien"):
        response = await partner.gql(SUBMIT_PROPOSAL, {"input": proposal(name)})
        assert not response.errors, response.errors
    admin_user = await make_account(Role.ADMIN, "Alex Dupont")

    admin = await open_editor(admin_user)
    await admin.sign_in()
    page = admin.page
    await page.get_by_role("navigation").get_by_role("link", name="Modération").click()
    cards = page.locator("#proposals article")
    await expect(cards).to_have_count(2)
    first = cards.filter(has_text="Coach Emploi Solidaire")
    await expect(first).to_contain_text("Partenaire coach-partenaire")
    await expect(first).to_contain_text("https://coach.example.org/")
    await first.get_by_role("button", name="Approuver").click()
    await expect(first).to_contain_text("Acceptée")

    second = cards.filter(has_text="Simulateur d'entretien")
    await second.get_by_role("button", name="Refuser").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Motif du refus (le partenaire le lira)").fill(
        "Ce service existe déjà au catalogue."
    )
    await dialog.get_by_role("button", name="Refuser").click()
    await expect(second).to_contain_text("Motif du refus : Ce service existe déjà au catalogue.")

    statuses = {stored.payload["name"]: stored.status for stored in await ServiceProposal.all()}
    assert statuses == {
        "Coach Emploi Solidaire": ProposalStatus.APPROVED,
        "Simulateur d'entretien": ProposalStatus.REJECTED,
    }
    await page.reload()
    await expect(page.get_by_text("Aucune proposition en attente.")).to_be_visible()
