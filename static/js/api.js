// The JSON API as the browser uses it: session cookie + CSRF token, problem+json turned into
// sentences a person understands.

const GENERIC_FAILURE = "Something went wrong on our side. Please try again.";

export class ApiError extends Error {
  constructor(message, { status = 0, code = "network_error" } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

export function jsonHeaders() {
  return {
    "Content-Type": "application/json",
    Accept: "application/json",
    "X-CSRFToken": csrfToken(),
  };
}

function retryAfterWords(seconds) {
  const value = Number(seconds);
  if (!Number.isFinite(value) || value <= 0) return "a moment";
  if (value < 90) return `${Math.ceil(value)} seconds`;
  if (value < 5400) return `${Math.ceil(value / 60)} minutes`;
  return `${Math.ceil(value / 3600)} hours`;
}

function firstFieldError(problem) {
  const errors = problem.errors ?? {};
  for (const messages of Object.values(errors)) {
    if (Array.isArray(messages) && messages.length) return String(messages[0]);
  }
  return null;
}

/** The sentence to show for a refused request (never a stack trace or a raw status line). */
export function describeProblem(status, problem, retryAfter) {
  switch (status) {
    case 400:
      return firstFieldError(problem) ?? "The server could not accept that. Please rephrase.";
    case 401:
      return "You have been signed out. Please log in again.";
    case 403:
      return "This page has expired. Reload it and try again.";
    case 404:
      return "This no longer exists. It may have been deleted in another tab.";
    case 413:
      return "That message is too long.";
    case 429:
      if (problem.code === "token_quota_exceeded") {
        return `You have used today's allowance of the assistant. Try again in ${retryAfterWords(retryAfter)}.`;
      }
      return `You are sending too fast. Try again in ${retryAfterWords(retryAfter)}.`;
    case 503:
      return "The service is briefly unavailable. Please try again in a moment.";
    default:
      return GENERIC_FAILURE;
  }
}

export async function problemError(response) {
  let problem = {};
  try {
    problem = await response.json();
  } catch {
    // Not problem+json (a proxy's page): the status alone decides the words.
  }
  const message = describeProblem(response.status, problem, response.headers.get("Retry-After"));
  return new ApiError(message, { status: response.status, code: problem.code ?? "http_error" });
}

export function networkError() {
  return new ApiError("We could not reach the server. Check your connection and try again.");
}

/** One API call; resolves with the JSON body (null for 204), rejects with an ApiError. */
export async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: jsonHeaders(),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw networkError();
  }
  if (!response.ok) throw await problemError(response);
  return response.status === 204 ? null : response.json();
}

/** Every item of a paginated list, following `next` (same origin, whatever host DRF saw). */
export async function allPages(path) {
  const items = [];
  let next = path;
  while (next) {
    const page = await request("GET", next);
    items.push(...page.results);
    const url = page.next ? new URL(page.next, location.href) : null;
    next = url ? url.pathname + url.search : null;
  }
  return items;
}
