"""A real headless Chromium (Debian's, never a downloaded one) driving the editor UI at /admin."""

from __future__ import annotations

import os
import pathlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

from cms.accounts import create_user
from models.accounts import User
from models.enums import Role
from tests.conftest import PASSWORD

CHROMIUM = pathlib.Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
TIMEOUT_MS = 15_000
# Messages Chromium logs when the page's Content-Security-Policy or Trusted Types refuse something.
POLICY_VIOLATIONS = ("Content Security Policy", "Content-Security-Policy", "Trusted Type", "TrustedHTML")


@pytest.fixture(scope="session")
def chromium() -> pathlib.Path:
    """Debian's Chromium; on CI (CI=true) its absence fails the tests rather than skipping them."""
    if not CHROMIUM.exists():
        message = (
            f"{CHROMIUM} is missing: the end-to-end tests drive Debian's Chromium "
            "(apt-get install -y --no-install-recommends chromium; .ci/run does it)."
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: pathlib.Path) -> AsyncIterator[Browser]:
    expect.set_options(timeout=TIMEOUT_MS)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=LAUNCH_ARGS)
        yield browser
        await browser.close()


@dataclass
class Editor:
    """One person at the editor UI, in a browser context of their own (own cookies, own session)."""

    user: User
    page: Page
    problems: list[str] = field(default_factory=list)

    async def sign_in(self) -> None:
        page = self.page
        await page.goto("/admin")
        await page.get_by_label("Adresse e-mail").fill(self.user.email)
        await page.get_by_label("Mot de passe").fill(PASSWORD)
        await page.get_by_role("button", name="Se connecter").click()
        await expect(page.locator("#account-name")).to_contain_text(self.user.display_name)

    async def open_article(self, title: str) -> None:
        await self.page.get_by_role("navigation").get_by_role("link", name="Articles").click()
        await self.page.get_by_role("link", name=title, exact=True).click()
        await expect(self.page.locator("#editor-title")).to_have_text(title)


async def make_account(role: Role, display_name: str, **options: object) -> User:
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@emploi-store.test"
    return await create_user(email, PASSWORD, role, display_name=display_name, **options)  # type: ignore[arg-type]


@pytest.fixture
async def open_editor(
    browser: Browser, server: str, db: None
) -> AsyncIterator[Callable[[User], Awaitable[Editor]]]:
    """`await open_editor(user)` → a fresh browser context at the server, not yet signed in."""
    editors: list[Editor] = []
    contexts = []

    async def make(user: User) -> Editor:
        context = await browser.new_context(
            base_url=server,
            locale="fr-FR",
            timezone_id="Europe/Paris",
            viewport={"width": 1440, "height": 1000},
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        editor = Editor(user=user, page=page)

        def watch(message: ConsoleMessage) -> None:
            if any(marker in message.text for marker in POLICY_VIOLATIONS):
                editor.problems.append(message.text)

        page.on("console", watch)
        page.on("pageerror", lambda error: editor.problems.append(f"uncaught: {error}"))
        editors.append(editor)
        return editor

    yield make
    for context in contexts:
        await context.close()
    problems = [problem for editor in editors for problem in editor.problems]
    assert not problems, f"the page hit its security policy or threw: {problems}"
