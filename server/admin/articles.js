// The list of articles, every state, with a status filter.

import { gql } from "./api.js";
import { formatDate, h, replaceChildren } from "./dom.js";
import { STATUS_LABELS, emptyState, pageHeader, report, statusBadge } from "./ui.js";

const PAGE_SIZE = 50;

// No `draft { … }` here: it reads one revision per row, and a list must not cost a query per row.
const LIST = `query EditorialArticles($status: ArticleStatus, $first: Int!, $offset: Int!) {
  editorialArticles(status: $status, first: $first, offset: $offset) {
    id title status live hasUnpublishedChanges reviewComment updatedAt
    author { displayName }
  }
}`;

export async function renderArticleList(view, params) {
  const status = STATUS_LABELS[params.get("status")] ? params.get("status") : "";
  const filter = h(
    "select",
    {
      id: "status-filter",
      onchange: () => {
        location.hash = filter.value ? `#/articles?status=${filter.value}` : "#/articles";
      },
    },
    h("option", { value: "" }, "Tous les statuts"),
    Object.entries(STATUS_LABELS).map(([value, label]) => h("option", { value, selected: value === status }, label)),
  );
  const body = h("tbody");
  const table = h(
    "table",
    { class: "table", id: "article-list" },
    h("thead", {}, h("tr", {}, ["Titre", "Statut", "Auteur", "Modifié le"].map((t) => h("th", { scope: "col" }, t)))),
    body,
  );
  const more = h("button", { type: "button", class: "button button-quiet", hidden: true }, "Afficher plus");
  const holder = h("div", { class: "table-holder" }, h("p", { class: "loading" }, "Chargement…"));
  replaceChildren(
    view,
    pageHeader("Articles", h("a", { class: "button button-primary", href: "#/articles/new" }, "Nouvel article")),
    h("div", { class: "toolbar" }, h("label", { for: "status-filter" }, "Statut"), filter),
    holder,
    more,
  );

  let offset = 0;
  async function load() {
    const data = await gql(LIST, { status: status || null, first: PAGE_SIZE, offset });
    const articles = data.editorialArticles;
    offset += articles.length;
    body.append(...articles.map(row));
    more.hidden = articles.length < PAGE_SIZE;
    if (offset === 0) {
      replaceChildren(holder, emptyState(status ? `Aucun article « ${STATUS_LABELS[status]} ».` : "Aucun article pour l'instant."));
    } else {
      replaceChildren(holder, table);
    }
  }
  more.addEventListener("click", () => load().catch((error) => report(error, "Chargement des articles")));
  try {
    await load();
  } catch (error) {
    replaceChildren(holder, emptyState("La liste n'a pas pu être chargée."));
    report(error, "Chargement des articles");
  }
}

function row(article) {
  const notes = [];
  if (article.live) notes.push(h("span", { class: "badge badge-live" }, "En ligne"));
  if (article.live && article.hasUnpublishedChanges) notes.push(h("span", { class: "badge badge-changes" }, "Modifications non publiées"));
  if (article.reviewComment) notes.push(h("span", { class: "badge badge-comment", title: article.reviewComment }, "Commentaire de relecture"));
  return h(
    "tr",
    { "data-article-id": article.id },
    h("td", {}, h("a", { href: `#/articles/${article.id}`, class: "article-link" }, article.title), notes.length ? h("div", { class: "row-notes" }, notes) : null),
    h("td", {}, statusBadge(article.status)),
    h("td", {}, article.author ? article.author.displayName : "—"),
    h("td", {}, formatDate(article.updatedAt)),
  );
}
