// The moderation queue: services that partners propose, or changes to their own, to approve or refuse.

import { gql } from "./api.js";
import { askText, formatDate, h, replaceChildren } from "./dom.js";
import { busy, displayValue, emptyState, pageHeader, report, showSuccess } from "./ui.js";

const PROPOSAL_FIELDS = `
  id status reason createdAt reviewedAt
  partner { name slug }
  service { slug name }
  changes {
    name shortDescription longDescription kind categories tags free
    links { platform url }
  }
`;
const QUEUE = `query Proposals($status: ProposalStatus) { serviceProposals(status: $status, first: 100) { ${PROPOSAL_FIELDS} } }`;
const APPROVE = `mutation Approve($id: ID!) { approveServiceProposal(id: $id) { ${PROPOSAL_FIELDS} } }`;
const REJECT = `mutation Reject($id: ID!, $reason: String!) { rejectServiceProposal(id: $id, reason: $reason) { ${PROPOSAL_FIELDS} } }`;

const PROPOSAL_STATUS = { PENDING: "En attente", APPROVED: "Acceptée", REJECTED: "Refusée" };
const CHANGE_LABELS = {
  name: "Nom",
  shortDescription: "Description courte",
  longDescription: "Description détaillée",
  kind: "Type de service",
  categories: "Catégories",
  tags: "Étiquettes",
  free: "Gratuit",
  links: "Liens",
};

const SERVICE_KINDS = {
  WEBSITE: "Site web",
  MOBILE_APP: "Application mobile",
  MOOC: "MOOC",
  ELEARNING_GAME: "Jeu e-learning",
  INTERVIEW_SIMULATOR: "Simulateur d'entretien",
  QUIZ: "Quiz",
  JOB_BOARD: "Site d'offres d'emploi",
  CV_BUILDER: "Création de CV",
  JOB_FAIR: "Salon de recrutement",
  COMPANY_SEARCH: "Recherche d'entreprises",
  TOOL: "Outil",
};
const PLATFORMS = {
  WEB: "Site web",
  APP_STORE: "App Store",
  GOOGLE_PLAY: "Google Play",
  MICROSOFT_STORE: "Microsoft Store",
  BLACKBERRY_WORLD: "BlackBerry World",
};

function changeValue(name, value) {
  if (name === "free") return value ? "Oui" : "Non";
  if (name === "kind") return SERVICE_KINDS[value] || value;
  if (name === "links") {
    return h(
      "ul",
      { class: "plain-list" },
      value.map((link) =>
        h(
          "li",
          {},
          `${PLATFORMS[link.platform] || link.platform} : `,
          /^https?:\/\//i.test(link.url) ? h("a", { href: link.url, target: "_blank", rel: "noopener noreferrer nofollow" }, link.url) : link.url,
        ),
      ),
    );
  }
  return displayValue(value);
}

export async function renderModeration(view, params) {
  const status = params.has("status") ? params.get("status") : "PENDING";
  const filter = h(
    "select",
    {
      id: "proposal-filter",
      onchange: () => {
        location.hash = `#/moderation?status=${filter.value}`;
      },
    },
    Object.entries(PROPOSAL_STATUS).map(([value, label]) => h("option", { value, selected: value === status }, label)),
    h("option", { value: "", selected: status === "" }, "Toutes"),
  );
  const list = h("div", { class: "proposals", id: "proposals" }, h("p", { class: "loading" }, "Chargement…"));
  replaceChildren(
    view,
    pageHeader("Modération"),
    h("p", { class: "lead" }, "Les services proposés par les partenaires, et les modifications qu'ils demandent sur les leurs."),
    h("div", { class: "toolbar" }, h("label", { for: "proposal-filter" }, "Propositions"), filter),
    list,
  );

  let proposals;
  try {
    proposals = (await gql(QUEUE, { status: status || null })).serviceProposals;
  } catch (error) {
    replaceChildren(list, emptyState("La file de modération n'a pas pu être chargée."));
    report(error, "Modération");
    return;
  }
  if (!proposals.length) {
    replaceChildren(list, emptyState(status === "PENDING" ? "Aucune proposition en attente." : "Aucune proposition."));
    return;
  }
  replaceChildren(list, proposals.map((proposal) => card(proposal)));
}

function card(proposal) {
  const element = h("article", { class: "panel proposal", "data-proposal-id": proposal.id });
  draw(element, proposal);
  return element;
}

function draw(element, proposal) {
  const title = proposal.service
    ? `Modification de « ${proposal.service.name} »`
    : `Nouveau service : ${proposal.changes.name || "sans nom"}`;
  const rows = Object.entries(CHANGE_LABELS)
    .filter(([name]) => proposal.changes[name] !== null && proposal.changes[name] !== undefined)
    .map(([name, label]) => [h("dt", {}, label), h("dd", {}, changeValue(name, proposal.changes[name]))]);
  const actions = [];
  if (proposal.status === "PENDING") {
    const approve = h("button", { type: "button", class: "button button-primary", "data-action": "approve" }, "Approuver");
    const reject = h("button", { type: "button", class: "button button-danger", "data-action": "reject" }, "Refuser");
    approve.addEventListener("click", () =>
      busy(approve, async () => {
        const updated = (await gql(APPROVE, { id: proposal.id })).approveServiceProposal;
        draw(element, updated);
        showSuccess(`Proposition de ${proposal.partner.name} acceptée.`);
      }, "Approbation"),
    );
    reject.addEventListener("click", async () => {
      const reason = await askText({
        title: "Refuser la proposition",
        label: "Motif du refus (le partenaire le lira)",
        confirmLabel: "Refuser",
        danger: true,
      });
      if (!reason) return;
      await busy(reject, async () => {
        const updated = (await gql(REJECT, { id: proposal.id, reason })).rejectServiceProposal;
        draw(element, updated);
        showSuccess(`Proposition de ${proposal.partner.name} refusée.`);
      }, "Refus");
    });
    actions.push(approve, reject);
  }
  replaceChildren(
    element,
    h(
      "header",
      { class: "proposal-head" },
      h("h2", {}, title),
      h("span", { class: `badge badge-proposal-${proposal.status.toLowerCase()}` }, PROPOSAL_STATUS[proposal.status] || proposal.status),
    ),
    h("p", { class: "hint" }, `Proposé par ${proposal.partner.name} le ${formatDate(proposal.createdAt)}`, proposal.reviewedAt ? ` · traité le ${formatDate(proposal.reviewedAt)}` : ""),
    h("dl", { class: "changes" }, rows),
    proposal.reason ? h("p", { class: "notice notice-warning" }, `Motif du refus : ${proposal.reason}`) : null,
    actions.length ? h("div", { class: "button-row" }, actions) : null,
  );
}
