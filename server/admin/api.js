// The only two ways the UI talks to the server: GraphQL at /graphql, and image uploads to /media.
// The session is the httpOnly es_session cookie; every call carries the session's CSRF token.

let csrfToken = null;

export function setCsrfToken(token) {
  csrfToken = token || null;
}

/** An error a person should read: the server's own message, and its extensions.code if any. */
export class ApiError extends Error {
  constructor(message, code = null) {
    super(message);
    this.name = "ApiError";
    this.code = code;
  }
}

function headers(extra = {}) {
  const result = { ...extra };
  if (csrfToken) result["X-CSRF-Token"] = csrfToken;
  return result;
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    throw new ApiError(`Réponse illisible du serveur (HTTP ${response.status}).`, "BAD_RESPONSE");
  }
}

function firstError(body, status) {
  const error = (body && body.errors && body.errors[0]) || null;
  if (!error) return new ApiError(`Le serveur a répondu HTTP ${status}.`, "HTTP_ERROR");
  return new ApiError(error.message || "Erreur inconnue.", (error.extensions && error.extensions.code) || null);
}

async function send(url, init) {
  try {
    return await fetch(url, { credentials: "same-origin", cache: "no-store", ...init });
  } catch {
    throw new ApiError("Le serveur ne répond pas. Vérifiez votre connexion et réessayez.", "NETWORK");
  }
}

/** Runs a GraphQL document; resolves to `data`, or throws the first error as an ApiError. */
export async function gql(query, variables = {}) {
  const response = await send("/graphql", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "application/graphql-response+json" }),
    body: JSON.stringify({ query, variables }),
  });
  const body = await readJson(response);
  if ((body && body.errors && body.errors.length) || !response.ok || !body || !body.data) {
    throw firstError(body, response.status);
  }
  return body.data;
}

/** POST /media with the file and its alt text; resolves to the stored image. */
export async function uploadImage(file, altText) {
  const form = new FormData();
  form.append("file", file);
  form.append("alt", altText);
  const response = await send("/media", { method: "POST", headers: headers({ Accept: "application/json" }), body: form });
  const body = await readJson(response);
  if (!response.ok || (body && body.errors)) throw firstError(body, response.status);
  return body;
}
