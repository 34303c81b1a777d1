// The media library: uploading images (POST /media) and choosing a cover among them.

import { gql, uploadImage } from "./api.js";
import { field, h, replaceChildren } from "./dom.js";
import { busy, emptyState, pageHeader, report, showSuccess } from "./ui.js";

const PAGE_SIZE = 48;
const LIBRARY = `query MediaLibrary($first: Int!, $offset: Int!) {
  mediaLibrary(first: $first, offset: $offset) { id url altText }
}`;

export async function fetchMediaLibrary(first = PAGE_SIZE, offset = 0) {
  return (await gql(LIBRARY, { first, offset })).mediaLibrary;
}

/** The image with this id among the most recent uploads, or null. */
export async function findImage(id) {
  const images = await fetchMediaLibrary(100, 0);
  return images.find((image) => String(image.id) === String(id)) || null;
}

function thumbnail(image) {
  return h("img", { src: image.url, alt: image.altText, loading: "lazy", class: "thumb" });
}

/** Opens the library in a modal; resolves to the chosen image, or null. */
export async function chooseImage() {
  const images = await fetchMediaLibrary(100, 0);
  return new Promise((resolve) => {
    let chosen = null;
    const grid = images.length
      ? h(
          "div",
          { class: "gallery gallery-choice" },
          images.map((image) =>
            h(
              "button",
              {
                type: "button",
                class: "gallery-item",
                "data-media-id": image.id,
                onclick: () => {
                  chosen = image;
                  dialog.close("ok");
                },
              },
              thumbnail(image),
              h("span", { class: "gallery-caption" }, image.altText),
            ),
          ),
        )
      : emptyState("La médiathèque est vide : téléversez d'abord une image depuis l'onglet Médias.");
    const dialog = h(
      "dialog",
      { class: "dialog dialog-wide", "aria-label": "Choisir une image" },
      h("h2", {}, "Choisir une image de couverture"),
      grid,
      h("div", { class: "dialog-actions" }, h("button", { type: "button", class: "button button-quiet", onclick: () => dialog.close("cancel") }, "Annuler")),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(chosen);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export async function renderMedia(view) {
  const file = h("input", { type: "file", id: "media-file", name: "file", accept: "image/png,image/jpeg,image/webp,image/gif", required: true });
  const alt = h("input", { type: "text", id: "media-alt", name: "alt", required: true, maxlength: 300, autocomplete: "off" });
  const localPreview = h("div", { class: "upload-preview" });
  const submit = h("button", { type: "submit", class: "button button-primary" }, "Téléverser");
  const form = h(
    "form",
    { class: "panel upload-form", id: "upload-form" },
    h("h2", {}, "Ajouter une image"),
    h(
      "div",
      { class: "upload-grid" },
      h(
        "div",
        {},
        field("Fichier image", file, "PNG, JPEG, WebP ou GIF."),
        field("Texte alternatif", alt, "Obligatoire : décrivez ce que montre l'image."),
        h("div", { class: "button-row" }, submit),
      ),
      localPreview,
    ),
  );
  const gallery = h("div", { class: "gallery", id: "media-gallery" });
  const more = h("button", { type: "button", class: "button button-quiet", hidden: true }, "Afficher plus");
  replaceChildren(view, pageHeader("Médias"), form, h("section", { class: "panel" }, h("h2", {}, "Médiathèque"), gallery, more));

  let objectUrl = null;
  file.addEventListener("change", () => {
    if (objectUrl) URL.revokeObjectURL(objectUrl);
    objectUrl = file.files[0] ? URL.createObjectURL(file.files[0]) : null;
    replaceChildren(localPreview, objectUrl ? h("img", { src: objectUrl, alt: "", class: "thumb" }) : null);
  });

  let offset = 0;
  async function load(reset = false) {
    if (reset) {
      offset = 0;
      gallery.replaceChildren();
    }
    const images = await fetchMediaLibrary(PAGE_SIZE, offset);
    offset += images.length;
    gallery.append(
      ...images.map((image) =>
        h("figure", { class: "gallery-item", "data-media-id": image.id }, thumbnail(image), h("figcaption", { class: "gallery-caption" }, image.altText)),
      ),
    );
    more.hidden = images.length < PAGE_SIZE;
    if (offset === 0) replaceChildren(gallery, emptyState("Aucune image pour l'instant."));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    busy(submit, async () => {
      const image = await uploadImage(file.files[0], alt.value.trim());
      showSuccess(`Image téléversée (${image.width} × ${image.height}).`);
      form.reset();
      localPreview.replaceChildren();
      await load(true);
    }, "Téléversement");
  });
  more.addEventListener("click", () => busy(more, () => load(), "Médiathèque"));
  try {
    await load(true);
  } catch (error) {
    replaceChildren(gallery, emptyState("La médiathèque n'a pas pu être chargée."));
    report(error, "Médiathèque");
  }
}
