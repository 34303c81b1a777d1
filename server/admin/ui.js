// What every screen shares: the message area, the French labels, badges and small widgets.

import { ApiError } from "./api.js";
import { h } from "./dom.js";

export const STATUS_LABELS = {
  DRAFT: "Brouillon",
  IN_REVIEW: "En relecture",
  SCHEDULED: "Programmé",
  PUBLISHED: "Publié",
  ARCHIVED: "Archivé",
};

export const KIND_LABELS = { STORY: "Témoignage", ARTICLE: "Article", NEWS: "Actualité" };

export const ROLE_LABELS = {
  ADMIN: "Administrateur",
  EDITOR: "Éditeur",
  PARTNER: "Partenaire",
  DEVELOPER: "Développeur",
};

// Names of the fields a revision snapshot holds, as compareRevisions reports them.
export const FIELD_LABELS = {
  kind: "Type",
  title: "Titre",
  summary: "Résumé",
  body: "Contenu",
  tags: "Étiquettes",
  cover_image_id: "Image de couverture",
  cover_alt: "Texte alternatif de l'image",
  seo_title: "Titre SEO",
  seo_description: "Description SEO",
  related_services: "Services liés",
  go_live_at: "Mise en ligne",
  expire_at: "Retrait",
};

export function statusBadge(status) {
  return h("span", { class: `badge badge-${String(status).toLowerCase()}`, "data-status": status }, STATUS_LABELS[status] || status);
}

let unauthenticatedHandler = () => {};

/** admin.js sends people back to the sign-in screen when the session has gone. */
export function onUnauthenticated(handler) {
  unauthenticatedHandler = handler;
}

function area() {
  return document.getElementById("messages");
}

export function clearMessages() {
  area().replaceChildren();
}

/** Errors about an earlier attempt are stale once the person tries again. */
export function clearErrors() {
  for (const notice of area().querySelectorAll(".notice-error")) notice.remove();
}

export function showError(message) {
  const notice = h(
    "div",
    { class: "notice notice-error", role: "alert" },
    h("span", { class: "notice-text" }, message),
    h("button", { type: "button", class: "notice-close", "aria-label": "Fermer", onclick: () => notice.remove() }, "×"),
  );
  area().append(notice);
  notice.scrollIntoView({ block: "nearest" });
}

export function showSuccess(message) {
  const notice = h("div", { class: "notice notice-success", role: "status" }, h("span", { class: "notice-text" }, message));
  area().append(notice);
  setTimeout(() => notice.remove(), 6000);
}

/** Shows what went wrong, in words; a lost session leads back to the sign-in form. */
export function report(error, context = null) {
  console.error(error);
  if (error instanceof ApiError) {
    if (error.code === "UNAUTHENTICATED") {
      unauthenticatedHandler(error.message);
      return;
    }
    showError(context ? `${context} : ${error.message}` : error.message);
    return;
  }
  showError(`Erreur inattendue${context ? ` (${context})` : ""} : ${error && error.message ? error.message : error}`);
}

/** Runs an async action from a button: disabled meanwhile, errors reported, never thrown. */
export async function busy(button, action, context = null) {
  clearErrors();
  const buttons = button ? [button] : [];
  buttons.forEach((b) => { b.disabled = true; b.setAttribute("aria-busy", "true"); });
  try {
    return await action();
  } catch (error) {
    report(error, context);
    return undefined;
  } finally {
    buttons.forEach((b) => { b.disabled = false; b.removeAttribute("aria-busy"); });
  }
}

export function pageHeader(title, ...actions) {
  return h("div", { class: "page-header" }, h("h1", {}, title), h("div", { class: "page-actions" }, actions));
}

export function emptyState(text) {
  return h("p", { class: "empty" }, text);
}

/** Shows a JSON value from a snapshot or a proposal as readable text. */
export function displayValue(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.length ? value.map(displayValue).join(", ") : "—";
  if (typeof value === "object") return JSON.stringify(value, null, 2);
  return String(value);
}
