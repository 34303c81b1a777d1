// Building the page: elements are made with h() and text always goes in as text nodes.
// The one exception is HTML the server sanitised (rendered Markdown), set through setServerHtml().

const htmlPolicy = window.trustedTypes
  ? window.trustedTypes.createPolicy("admin-html", { createHTML: (html) => html })
  : null;

/** Inserts HTML that came sanitised from the server (renderMarkdown, bodyHtml); nothing else. */
export function setServerHtml(element, html) {
  element.innerHTML = htmlPolicy ? htmlPolicy.createHTML(html) : html;
}

/**
 * h("button", { class: "button", onclick: save, type: "button" }, "Enregistrer")
 * Attributes whose value is null, undefined or false are left out; `true` sets an empty attribute.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "value" || name === "checked" || name === "selected") {
      element[name] = value;
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replaceChildren(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** A labelled form field: the label wraps nothing, it points at the control by id. */
export function field(label, control, hint = null) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const parts = [h("label", { for: id }, label), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("p", { class: "hint", id: hintId }, hint));
  }
  return h("div", { class: "field" }, parts);
}

export function debounce(fn, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

const dateFormat = new Intl.DateTimeFormat("fr-FR", { dateStyle: "medium", timeStyle: "short" });

export function formatDate(iso) {
  return iso ? dateFormat.format(new Date(iso)) : "—";
}

/** "2024-05-01T10:00" as the browser's wall clock → ISO 8601 in UTC, or null when empty. */
export function localInputToIso(value) {
  if (!value) return null;
  const moment = new Date(value); // a date-time without offset is read as local time
  if (Number.isNaN(moment.getTime())) throw new Error(`Date invalide : ${value}`);
  return moment.toISOString();
}

/** ISO 8601 → the value a datetime-local input shows, in the browser's time zone. */
export function isoToLocalInput(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return (
    `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}` +
    `T${pad(moment.getHours())}:${pad(moment.getMinutes())}`
  );
}

export const browserTimeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "heure locale";

/**
 * A modal asking for a piece of text (a reject comment, a reason). Resolves to the trimmed text,
 * or null when cancelled.
 */
export function askText({ title, label, confirmLabel, danger = false }) {
  return new Promise((resolve) => {
    const input = h("textarea", { rows: 4, required: true, maxlength: 2000 });
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-label": title },
      h(
        "form",
        { method: "dialog" },
        h("h2", {}, title),
        field(label, input),
        h(
          "div",
          { class: "dialog-actions" },
          h("button", { type: "button", class: "button button-quiet", value: "cancel", onclick: () => dialog.close("cancel") }, "Annuler"),
          h("button", { type: "submit", class: danger ? "button button-danger" : "button button-primary", value: "ok" }, confirmLabel),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      const text = input.value.trim();
      dialog.remove();
      resolve(dialog.returnValue === "ok" && text ? text : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

/** A modal asking for a yes or no. Resolves to true when confirmed. */
export function confirmDialog({ title, text, confirmLabel }) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-label": title },
      h(
        "form",
        { method: "dialog" },
        h("h2", {}, title),
        h("p", {}, text),
        h(
          "div",
          { class: "dialog-actions" },
          h("button", { type: "button", class: "button button-quiet", onclick: () => dialog.close("cancel") }, "Annuler"),
          h("button", { type: "submit", class: "button button-primary", value: "ok" }, confirmLabel),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "ok");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
