// The article editor: the draft form with a live preview rendered by the server, the workflow
// buttons this person may use in this state, revisions, and preview links.

import { gql } from "./api.js";
import {
  askText,
  browserTimeZone,
  confirmDialog,
  debounce,
  field,
  formatDate,
  h,
  isoToLocalInput,
  localInputToIso,
  replaceChildren,
  setServerHtml,
} from "./dom.js";
import { chooseImage, findImage } from "./media.js";
import { FIELD_LABELS, KIND_LABELS, busy, displayValue, report, showError, showSuccess, statusBadge } from "./ui.js";

const PREVIEW_DELAY_MS = 300;

const ARTICLE_FIELDS = `
  id slug status live hasUnpublishedChanges reviewComment
  firstPublishedAt lastPublishedAt updatedAt liveRevisionId latestRevisionId
  draft {
    kind title summary body bodyHtml tags coverImageId coverAlt
    seoTitle seoDescription relatedServices goLiveAt expireAt
  }
  revisions { id createdAt message author { displayName } }
`;

const GET = `query EditorialArticle($id: ID!) { editorialArticle(id: $id) { ${ARTICLE_FIELDS} } }`;
const CREATE = `mutation CreateArticle($input: ArticleInput!) { createArticle(input: $input) { ${ARTICLE_FIELDS} } }`;
const UPDATE = `mutation UpdateArticle($id: ID!, $input: ArticleInput!) { updateArticle(id: $id, input: $input) { ${ARTICLE_FIELDS} } }`;
const RENDER = `query RenderMarkdown($markdown: String!) { renderMarkdown(markdown: $markdown) }`;
const RESTORE = `mutation Restore($id: ID!, $revisionId: ID!) { restoreArticleRevision(id: $id, revisionId: $revisionId) { ${ARTICLE_FIELDS} } }`;
const COMPARE = `query Compare($articleId: ID!, $before: ID!, $after: ID!) {
  compareRevisions(articleId: $articleId, before: $before, after: $after) { field before after }
}`;
const PREVIEW_LINK = `mutation PreviewLink($id: ID!) { createPreviewLink(id: $id) { url expiresAt } }`;

function transition(mutation, withComment = false) {
  return withComment
    ? `mutation Transition($id: ID!, $comment: String!) { ${mutation}(id: $id, comment: $comment) { ${ARTICLE_FIELDS} } }`
    : `mutation Transition($id: ID!) { ${mutation}(id: $id) { ${ARTICLE_FIELDS} } }`;
}

const LIVE_STATES = ["PUBLISHED", "IN_REVIEW", "SCHEDULED"];

// Which workflow buttons show, from cms/workflow.py's TRANSITIONS and the schema's permissions.
const ACTIONS = [
  {
    name: "submit",
    label: "Soumettre à relecture",
    mutation: "submitArticle",
    reviewerOnly: false,
    saveFirst: true,
    when: (a) => a.status === "DRAFT" || (a.status === "PUBLISHED" && a.hasUnpublishedChanges),
    done: () => "Article soumis à relecture.",
  },
  {
    name: "approve",
    label: "Approuver",
    mutation: "approveArticle",
    reviewerOnly: true,
    primary: true,
    when: (a) => a.status === "IN_REVIEW",
    done: (a) => (a.status === "SCHEDULED" ? `Article approuvé : mise en ligne programmée le ${formatDate(a.draft.goLiveAt)}.` : "Article approuvé et publié."),
  },
  {
    name: "reject",
    label: "Refuser",
    mutation: "rejectArticle",
    reviewerOnly: true,
    danger: true,
    comment: true,
    when: (a) => a.status === "IN_REVIEW",
    done: () => "Article renvoyé à son éditeur avec votre commentaire.",
  },
  {
    name: "publish",
    label: "Publier",
    mutation: "publishArticle",
    reviewerOnly: true,
    saveFirst: true,
    when: (a) => a.status === "DRAFT" || a.status === "SCHEDULED" || (a.status === "PUBLISHED" && a.hasUnpublishedChanges),
    done: (a) => (a.status === "SCHEDULED" ? `Mise en ligne programmée le ${formatDate(a.draft.goLiveAt)}.` : "Article publié."),
  },
  {
    name: "unpublish",
    label: "Dépublier",
    mutation: "unpublishArticle",
    reviewerOnly: true,
    when: (a) => a.live && LIVE_STATES.includes(a.status),
    done: () => "Article retiré du site.",
  },
  {
    name: "archive",
    label: "Archiver",
    mutation: "archiveArticle",
    reviewerOnly: true,
    when: (a) => a.status !== "ARCHIVED",
    done: () => "Article archivé.",
  },
  {
    name: "unarchive",
    label: "Désarchiver",
    mutation: "unarchiveArticle",
    reviewerOnly: true,
    when: (a) => a.status === "ARCHIVED",
    done: () => "Article désarchivé : il redevient un brouillon.",
  },
];

function splitList(text) {
  return text
    .split(/[,\n]/)
    .map((part) => part.trim())
    .filter(Boolean);
}

function orNull(text) {
  const trimmed = text.trim();
  return trimmed ? trimmed : null;
}

export async function renderEditor(view, id, session, shell) {
  let article = null;
  const navigation = shell.navigation;
  if (id) {
    try {
      article = (await gql(GET, { id })).editorialArticle;
      if (navigation !== shell.navigation) return; // the person went elsewhere meanwhile
    } catch (error) {
      if (navigation !== shell.navigation) return;
      replaceChildren(view, h("h1", {}, "Article"), h("p", { class: "empty" }, "Cet article n'a pas pu être chargé."), h("a", { href: "#/articles" }, "Retour aux articles"));
      report(error, "Chargement de l'article");
      return;
    }
  }

  let dirty = false;
  let coverImageId = null;
  let previewRequest = 0;
  let previewFailed = false;
  shell.isDirty = () => dirty;

  // The form.
  const controls = {
    kind: h("select", { id: "kind", required: true }, Object.entries(KIND_LABELS).map(([value, label]) => h("option", { value }, label))),
    title: h("input", { id: "title", type: "text", required: true, maxlength: 200, autocomplete: "off" }),
    summary: h("textarea", { id: "summary", rows: 2, required: true, maxlength: 500 }),
    body: h("textarea", { id: "body", rows: 18, class: "markdown", spellcheck: "true" }),
    tags: h("input", { id: "tags", type: "text", autocomplete: "off" }),
    relatedServices: h("input", { id: "related-services", type: "text", autocomplete: "off" }),
    coverAlt: h("input", { id: "cover-alt", type: "text", maxlength: 300 }),
    seoTitle: h("input", { id: "seo-title", type: "text", maxlength: 200 }),
    seoDescription: h("textarea", { id: "seo-description", rows: 2, maxlength: 300 }),
    goLiveAt: h("input", { id: "go-live-at", type: "datetime-local" }),
    expireAt: h("input", { id: "expire-at", type: "datetime-local" }),
  };
  const coverBox = h("div", { class: "cover-box", id: "cover-box" });
  const coverRemove = h("button", { type: "button", class: "button button-quiet", onclick: () => setCover(null) }, "Retirer l'image");
  const coverChoose = h(
    "button",
    {
      type: "button",
      class: "button",
      onclick: async () => {
        const image = await busy(coverChoose, chooseImage, "Médiathèque");
        if (!image) return;
        setCover(image);
        if (!controls.coverAlt.value.trim()) controls.coverAlt.value = image.altText;
      },
    },
    "Choisir dans la médiathèque",
  );
  const saveButton = h("button", { type: "submit", class: "button button-primary", id: "save" }, "Enregistrer");
  const form = h(
    "form",
    { id: "article-form", class: "article-form", novalidate: false },
    field("Type", controls.kind),
    field("Titre", controls.title),
    field("Résumé", controls.summary, "Une ou deux phrases, reprises dans les listes (500 caractères au plus)."),
    field("Contenu (Markdown)", controls.body, "## Intertitre, **gras**, *italique*, [lien](https://…), listes avec « - ». L'aperçu se met à jour pendant la frappe."),
    field("Étiquettes", controls.tags, "Séparées par des virgules, en minuscules avec des tirets : reconversion, entretien-d-embauche."),
    field("Services liés", controls.relatedServices, "Identifiants des services du catalogue, séparés par des virgules : la-bonne-boite, memo."),
    h(
      "fieldset",
      { class: "fieldset" },
      h("legend", {}, "Image de couverture"),
      coverBox,
      h("div", { class: "button-row" }, coverChoose, coverRemove),
      field("Texte alternatif de l'image", controls.coverAlt, "Obligatoire avec une image : ce qu'elle montre, pour qui ne la voit pas."),
    ),
    h(
      "fieldset",
      { class: "fieldset" },
      h("legend", {}, "Référencement (SEO)"),
      field("Titre SEO", controls.seoTitle),
      field("Description SEO", controls.seoDescription),
    ),
    h(
      "fieldset",
      { class: "fieldset" },
      h("legend", {}, "Programmation"),
      h("div", { class: "field-pair" }, field("Mise en ligne le", controls.goLiveAt), field("Retrait le", controls.expireAt)),
      h("p", { class: "hint" }, `Heures de votre navigateur (${browserTimeZone}). Laissez vide pour publier dès l'approbation.`),
    ),
    h("div", { class: "button-row" }, saveButton),
  );

  // The live preview.
  const preview = h("article", { id: "live-preview", class: "prose", "aria-live": "polite" });
  const previewState = h("span", { class: "preview-state", id: "preview-state" });
  const previewTitle = h("h1", { class: "preview-title" });
  const previewSummary = h("p", { class: "preview-summary" });
  const previewPane = h(
    "section",
    { class: "preview-pane", "aria-label": "Aperçu en direct" },
    h("div", { class: "preview-head" }, h("h2", {}, "Aperçu en direct"), previewState),
    h("div", { class: "preview-page" }, previewTitle, previewSummary, preview),
  );

  // Everything that depends on the saved article.
  const heading = h("h1", { id: "editor-title" });
  const badges = h("div", { class: "badges", id: "editor-badges" });
  const dirtyNote = h("span", { class: "dirty-note", id: "dirty-note", hidden: true }, "Modifications non enregistrées");
  const commentBox = h("div", { id: "review-comment" });
  const actions = h("div", { class: "workflow", id: "workflow", role: "group", "aria-label": "Publication" });
  const linkBox = h("div", { id: "preview-link" });
  const revisionList = h("ol", { class: "revisions", id: "revisions" });
  const diffBox = h("div", { id: "revision-diff" });
  const revisionsPanel = h("section", { class: "panel", id: "revisions-panel" }, h("h2", {}, "Révisions"), revisionList, diffBox);

  replaceChildren(
    view,
    h("div", { class: "page-header" }, h("div", {}, heading, h("div", { class: "header-meta" }, badges, dirtyNote)), h("a", { href: "#/articles", class: "back-link" }, "← Articles")),
    commentBox,
    actions,
    linkBox,
    h("div", { class: "editor-grid" }, h("section", { class: "panel form-panel", "aria-label": "Brouillon" }, form), previewPane),
    revisionsPanel,
  );

  function markDirty() {
    dirty = true;
    dirtyNote.hidden = false;
  }

  function setCover(image, changed = true) {
    coverImageId = image ? image.id : null;
    coverRemove.hidden = !image;
    if (!image) {
      replaceChildren(coverBox, h("p", { class: "hint" }, "Aucune image."));
    } else if (image.url) {
      replaceChildren(coverBox, h("img", { src: image.url, alt: image.altText || "", class: "cover-thumb" }));
    } else {
      replaceChildren(coverBox, h("p", { class: "hint" }, `Image n° ${image.id}`));
    }
    if (changed) markDirty();
  }

  function fill(draft) {
    controls.kind.value = draft ? draft.kind : "STORY";
    controls.title.value = draft ? draft.title : "";
    controls.summary.value = draft ? draft.summary : "";
    controls.body.value = draft ? draft.body : "";
    controls.tags.value = draft ? draft.tags.join(", ") : "";
    controls.relatedServices.value = draft ? draft.relatedServices.join(", ") : "";
    controls.coverAlt.value = (draft && draft.coverAlt) || "";
    controls.seoTitle.value = (draft && draft.seoTitle) || "";
    controls.seoDescription.value = (draft && draft.seoDescription) || "";
    controls.goLiveAt.value = isoToLocalInput(draft && draft.goLiveAt);
    controls.expireAt.value = isoToLocalInput(draft && draft.expireAt);
    const cover = draft && draft.coverImageId;
    setCover(cover ? { id: cover, url: null, altText: draft.coverAlt } : null, false);
    if (cover) {
      findImage(cover)
        .then((image) => image && coverImageId === cover && setCover(image, false))
        .catch((error) => report(error, "Médiathèque"));
    }
    previewTitle.textContent = controls.title.value;
    previewSummary.textContent = controls.summary.value;
    if (draft) {
      setServerHtml(preview, draft.bodyHtml);
    } else {
      replaceChildren(preview, h("p", { class: "hint" }, "L'aperçu du contenu s'affiche ici pendant que vous écrivez."));
    }
    previewState.textContent = "";
    dirty = false;
    dirtyNote.hidden = true;
  }

  function input() {
    return {
      kind: controls.kind.value,
      title: controls.title.value,
      summary: controls.summary.value,
      body: controls.body.value,
      tags: splitList(controls.tags.value.toLowerCase()),
      relatedServices: splitList(controls.relatedServices.value),
      coverImageId,
      coverAlt: orNull(controls.coverAlt.value),
      seoTitle: orNull(controls.seoTitle.value),
      seoDescription: orNull(controls.seoDescription.value),
      goLiveAt: localInputToIso(controls.goLiveAt.value),
      expireAt: localInputToIso(controls.expireAt.value),
    };
  }

  const renderPreview = debounce(async () => {
    const request = ++previewRequest;
    try {
      const html = (await gql(RENDER, { markdown: controls.body.value })).renderMarkdown;
      if (request !== previewRequest) return; // a newer keystroke has its own request
      setServerHtml(preview, html);
      previewState.textContent = "À jour";
      previewFailed = false;
    } catch (error) {
      if (request !== previewRequest) return;
      previewState.textContent = "Aperçu indisponible";
      if (!previewFailed) report(error, "Aperçu"); // once, not at every keystroke
      previewFailed = true;
    }
  }, PREVIEW_DELAY_MS);

  form.addEventListener("input", (event) => {
    markDirty();
    if (event.target === controls.body) {
      previewState.textContent = "Mise à jour…";
      renderPreview();
    } else if (event.target === controls.title) {
      previewTitle.textContent = controls.title.value;
    } else if (event.target === controls.summary) {
      previewSummary.textContent = controls.summary.value;
    }
  });
  form.addEventListener("change", markDirty);

  /** Saves the form as a new revision; resolves to true when saved. */
  async function save() {
    if (!form.reportValidity()) return false;
    const values = input();
    if (!article) {
      const created = (await gql(CREATE, { input: values })).createArticle;
      dirty = false;
      showSuccess("Article créé.");
      history.replaceState(null, "", `#/articles/${created.id}`);
      shell.highlight("articles");
      show(created);
      return true;
    }
    show((await gql(UPDATE, { id: article.id, input: values })).updateArticle);
    showSuccess("Brouillon enregistré.");
    return true;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(saveButton, save, "Enregistrement");
  });

  async function act(action, button) {
    if (dirty && !action.saveFirst) {
      showError("Vous avez des modifications non enregistrées : enregistrez-les d'abord (un nouvel enregistrement relance la relecture).");
      return;
    }
    let comment = null;
    if (action.comment) {
      comment = await askText({
        title: "Refuser l'article",
        label: "Commentaire pour l'éditeur",
        confirmLabel: "Refuser",
        danger: true,
      });
      if (!comment) return;
    }
    await busy(button, async () => {
      if (dirty && !(await save())) return;
      const variables = comment ? { id: article.id, comment } : { id: article.id };
      const result = (await gql(transition(action.mutation, action.comment), variables))[action.mutation];
      show(result);
      showSuccess(action.done(result));
    }, action.label);
  }

  function drawActions() {
    const buttons = [];
    if (article) {
      for (const action of ACTIONS) {
        if (action.reviewerOnly && !session.reviewer) continue;
        if (!action.when(article)) continue;
        const cls = action.danger ? "button button-danger" : action.primary ? "button button-primary" : "button";
        const button = h("button", { type: "button", class: cls, "data-action": action.name }, action.label);
        button.addEventListener("click", () => act(action, button));
        buttons.push(button);
      }
      const previewButton = h("button", { type: "button", class: "button button-quiet", id: "preview-button" }, "Aperçu");
      previewButton.addEventListener("click", () => busy(previewButton, makePreviewLink, "Lien d'aperçu"));
      buttons.push(previewButton);
    }
    const saveTop = h("button", { type: "submit", form: "article-form", class: "button button-primary", hidden: article && article.status === "ARCHIVED" }, "Enregistrer");
    const hint = article ? null : h("span", { class: "hint workflow-hint" }, "Enregistrez l'article : vous pourrez ensuite le soumettre à relecture.");
    replaceChildren(actions, saveTop, hint, buttons);
  }

  async function makePreviewLink() {
    if (dirty && !(await save())) return;
    const link = (await gql(PREVIEW_LINK, { id: article.id })).createPreviewLink;
    const url = h("input", { type: "text", readonly: true, value: link.url, class: "link-field", id: "preview-url", "aria-label": "Lien d'aperçu" });
    url.addEventListener("focus", () => url.select());
    replaceChildren(
      linkBox,
      h(
        "div",
        { class: "notice notice-info" },
        h("p", {}, `Lien d'aperçu du dernier brouillon, valable jusqu'au ${formatDate(link.expiresAt)} :`),
        h("div", { class: "button-row" }, url, h("a", { href: link.url, target: "_blank", rel: "noopener", class: "button" }, "Ouvrir")),
      ),
    );
  }

  function drawRevisions() {
    if (!article) {
      replaceChildren(revisionList, h("li", { class: "hint" }, "Les révisions apparaîtront après le premier enregistrement."));
      return;
    }
    replaceChildren(
      revisionList,
      article.revisions.map((revision) => {
        const latest = revision.id === article.latestRevisionId;
        const tags = [];
        if (latest) tags.push(h("span", { class: "badge badge-draft" }, "Brouillon actuel"));
        if (article.live && revision.id === article.liveRevisionId) tags.push(h("span", { class: "badge badge-live" }, "En ligne"));
        const buttons = [];
        if (!latest) {
          const compare = h("button", { type: "button", class: "button button-small" }, "Comparer");
          compare.addEventListener("click", () => busy(compare, () => showDiff(revision), "Comparaison"));
          buttons.push(compare);
          if (article.status !== "ARCHIVED") {
            const restore = h("button", { type: "button", class: "button button-small" }, "Restaurer");
            restore.addEventListener("click", () => restoreRevision(revision, restore));
            buttons.push(restore);
          }
        }
        return h(
          "li",
          { class: "revision", "data-revision-id": revision.id },
          h(
            "div",
            { class: "revision-meta" },
            h("strong", {}, `Révision n° ${revision.id}`),
            " · ",
            formatDate(revision.createdAt),
            " · ",
            revision.author ? revision.author.displayName : "auteur inconnu",
            revision.message ? h("span", { class: "revision-message" }, ` — ${revision.message}`) : null,
            tags,
          ),
          h("div", { class: "revision-actions" }, buttons),
        );
      }),
    );
  }

  async function showDiff(revision) {
    const changes = (
      await gql(COMPARE, { articleId: article.id, before: revision.id, after: article.latestRevisionId })
    ).compareRevisions;
    const title = h("h3", {}, `Révision n° ${revision.id} → brouillon actuel (n° ${article.latestRevisionId})`);
    const close = h("button", { type: "button", class: "button button-small button-quiet", onclick: () => diffBox.replaceChildren() }, "Fermer");
    if (!changes.length) {
      replaceChildren(diffBox, h("div", { class: "diff" }, title, h("p", {}, "Aucune différence."), close));
      return;
    }
    replaceChildren(
      diffBox,
      h(
        "div",
        { class: "diff" },
        title,
        h(
          "table",
          { class: "table diff-table" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Champ"), h("th", { scope: "col" }, "Avant"), h("th", { scope: "col" }, "Après"))),
          h(
            "tbody",
            {},
            changes.map((change) =>
              h(
                "tr",
                { "data-field": change.field },
                h("th", { scope: "row" }, FIELD_LABELS[change.field] || change.field),
                h("td", { class: "diff-before" }, h("pre", {}, displayValue(change.before))),
                h("td", { class: "diff-after" }, h("pre", {}, displayValue(change.after))),
              ),
            ),
          ),
        ),
        close,
      ),
    );
  }

  async function restoreRevision(revision, button) {
    if (dirty) {
      const ok = await confirmDialog({
        title: "Restaurer cette révision ?",
        text: "Vos modifications non enregistrées seront perdues.",
        confirmLabel: "Restaurer",
      });
      if (!ok) return;
    }
    await busy(button, async () => {
      const restored = (await gql(RESTORE, { id: article.id, revisionId: revision.id })).restoreArticleRevision;
      show(restored);
      diffBox.replaceChildren();
      showSuccess(`Révision n° ${revision.id} restaurée : elle devient le brouillon (rien n'est publié).`);
    }, "Restauration");
  }

  function show(next) {
    article = next;
    heading.textContent = article ? article.draft.title : "Nouvel article";
    document.title = `${heading.textContent} · Rédaction · Emploi Store`;
    const list = [];
    if (article) {
      list.push(statusBadge(article.status));
      if (article.live) list.push(h("span", { class: "badge badge-live" }, "En ligne"));
      if (article.live && article.hasUnpublishedChanges) list.push(h("span", { class: "badge badge-changes" }, "Modifications non publiées"));
      if (article.status === "SCHEDULED" && article.draft.goLiveAt) list.push(h("span", { class: "hint" }, `Mise en ligne le ${formatDate(article.draft.goLiveAt)}`));
    }
    replaceChildren(badges, list);
    replaceChildren(
      commentBox,
      article && article.reviewComment
        ? h("div", { class: "notice notice-warning review-comment" }, h("strong", {}, "Commentaire de relecture : "), h("span", { class: "review-comment-text" }, article.reviewComment))
        : null,
    );
    const archived = article && article.status === "ARCHIVED";
    for (const control of form.elements) control.disabled = archived;
    if (archived) {
      replaceChildren(commentBox, h("div", { class: "notice notice-info" }, "Article archivé : il faut le désarchiver pour le modifier."));
    }
    fill(article && article.draft);
    drawActions();
    drawRevisions();
  }

  show(article);
  controls.title.focus();
}
