// The editor web UI: who is signed in, the sign-in form, and a hash router over the screens.

import { gql, setCsrfToken } from "./api.js";
import { field, h, replaceChildren } from "./dom.js";
import { renderArticleList } from "./articles.js";
import { renderEditor } from "./editor.js";
import { renderMedia } from "./media.js";
import { renderModeration } from "./moderation.js";
import { ROLE_LABELS, clearMessages, onUnauthenticated, report, showError } from "./ui.js";

const EDITORIAL_ROLES = ["ADMIN", "EDITOR"];
const USER_FIELDS = "id email displayName role isReviewer";

const session = { user: null, reviewer: false };
// What screens may tell the shell: the editor's unsaved work (leaving the page then asks first),
// and which menu entry is current once a new article has its own address.
// `navigation` counts route changes, so a screen still loading can tell it has been left.
const shell = { isDirty: () => false, highlight: (section) => highlightNav(section), navigation: 0 };

const view = () => document.getElementById("view");

function setUser(user, csrfToken) {
  session.user = user;
  session.reviewer = Boolean(user && (user.role === "ADMIN" || (user.role === "EDITOR" && user.isReviewer)));
  setCsrfToken(user ? csrfToken : null);
  const signedIn = Boolean(user);
  document.getElementById("nav").hidden = !signedIn || !EDITORIAL_ROLES.includes(user.role);
  document.getElementById("nav-moderation").hidden = !signedIn || !EDITORIAL_ROLES.includes(user.role);
  document.getElementById("account").hidden = !signedIn;
  const role = user ? `${ROLE_LABELS[user.role] || user.role}${user.role === "EDITOR" && user.isReviewer ? " · relecteur" : ""}` : "";
  replaceChildren(
    document.getElementById("account-name"),
    user ? [h("strong", {}, user.displayName), h("span", { class: "account-role" }, role)] : [],
  );
}

function renderSignIn(message = null) {
  setUser(null, null);
  clearMessages();
  shell.isDirty = () => false;
  const email = h("input", { type: "email", id: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", id: "password", name: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "button button-primary button-wide" }, "Se connecter");
  const form = h(
    "form",
    { class: "panel sign-in", id: "sign-in-form" },
    h("h1", {}, "Connexion"),
    h("p", { class: "hint" }, "Espace réservé aux éditeurs et administrateurs du blog."),
    field("Adresse e-mail", email),
    field("Mot de passe", password),
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearMessages();
    signIn(submit, email.value, password.value);
  });
  replaceChildren(view(), h("div", { class: "sign-in-holder" }, form));
  if (message) showError(message);
  email.focus();
}

async function signIn(button, email, password) {
  button.disabled = true;
  let data;
  try {
    data = await gql(
      `mutation SignIn($email: String!, $password: String!) {
        signIn(email: $email, password: $password, kind: COOKIE) { csrfToken user { ${USER_FIELDS} } }
      }`,
      { email, password },
    );
  } catch (error) {
    // A refusal is UNAUTHENTICATED too: say it here rather than as a lost session.
    showError(`Connexion impossible : ${error.message}`);
    button.disabled = false;
    return;
  }
  setUser(data.signIn.user, data.signIn.csrfToken);
  await route();
}

async function signOut() {
  try {
    await gql("mutation { signOut }");
  } catch (error) {
    // A session that has already gone is as good as signed out; anything else is said.
    if (error.code !== "UNAUTHENTICATED") {
      report(error, "Déconnexion");
      return;
    }
  }
  renderSignIn();
}

function highlightNav(section) {
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function route() {
  if (!session.user) {
    renderSignIn();
    return;
  }
  if (!EDITORIAL_ROLES.includes(session.user.role)) {
    replaceChildren(
      view(),
      h("div", { class: "panel" }, h("h1", {}, "Accès réservé"), h("p", {}, "Cet espace est réservé aux éditeurs et aux administrateurs. Votre compte n'y a pas accès.")),
    );
    return;
  }
  shell.isDirty = () => false;
  shell.navigation += 1;
  const [path, query = ""] = (location.hash.replace(/^#/, "") || "/articles").split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean);
  const target = view();
  target.replaceChildren(h("p", { class: "loading" }, "Chargement…"));
  try {
    if (parts[0] === "articles" && parts[1] === "new") {
      highlightNav("new");
      await renderEditor(target, null, session, shell);
    } else if (parts[0] === "articles" && parts[1]) {
      highlightNav("articles");
      await renderEditor(target, parts[1], session, shell);
    } else if (parts[0] === "media") {
      highlightNav("media");
      await renderMedia(target);
    } else if (parts[0] === "moderation") {
      highlightNav("moderation");
      await renderModeration(target, params);
    } else {
      highlightNav("articles");
      document.title = "Articles · Rédaction · Emploi Store";
      await renderArticleList(target, params);
    }
  } catch (error) {
    replaceChildren(target, h("p", { class: "empty" }, "Cet écran n'a pas pu s'afficher."), h("a", { href: "#/articles" }, "Retour aux articles"));
    report(error);
  }
}

async function start() {
  onUnauthenticated((message) => renderSignIn(`Votre session a expiré ou n'est plus valable (${message}). Reconnectez-vous.`));
  window.addEventListener("error", (event) => showError(`Erreur inattendue : ${event.message}`));
  window.addEventListener("unhandledrejection", (event) => report(event.reason));
  window.addEventListener("beforeunload", (event) => {
    if (shell.isDirty()) event.preventDefault();
  });
  window.addEventListener("hashchange", () => {
    clearMessages();
    route();
  });
  document.getElementById("sign-out").addEventListener("click", signOut);

  try {
    const { me } = await gql(`query Me { me { ${USER_FIELDS} } }`);
    if (me) {
      const { currentSession } = await gql("query Session { currentSession { csrfToken } }");
      setUser(me, currentSession.csrfToken);
    }
  } catch (error) {
    replaceChildren(view(), h("p", { class: "empty" }, "Le serveur n'a pas pu être joint."));
    report(error, "Démarrage");
    return;
  }
  await route();
}

start();
