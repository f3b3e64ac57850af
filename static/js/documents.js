// The documents panel: upload a PDF, Markdown or text file (with its progress), watch each
// document while it is parsed, delete one. The agent looks things up in the ready ones.

import { ApiError, allPages, csrfToken, describeProblem, networkError } from "./api.js";
import { deleteButton, make, openable } from "./panels.js";

const POLL_MS = 1500; // while a document is processing and the panel is open
// Refusals whose detail names what to change ("The PDF is encrypted; ...").
const SAY_THE_DETAIL = new Set([
  "file_too_large", "payload_too_large", "unsupported_file", "unreadable_file", "too_many_documents",
]);

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function statusLine(doc) {
  if (doc.status === "ready") {
    const passages = doc.chunk_count === 1 ? "1 passage" : `${doc.chunk_count} passages`;
    return `Ready · ${passages} · ${size(doc.size_bytes)}`;
  }
  if (doc.status === "failed") return `Failed: ${doc.error}`;
  return `Processing… · ${size(doc.size_bytes)}`;
}

/** POST the file as multipart with XMLHttpRequest, whose upload reports its progress. */
function uploadFile(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/documents");
    xhr.responseType = "json";
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 201) {
        resolve(xhr.response);
        return;
      }
      const problem = xhr.response ?? {};
      const message = SAY_THE_DETAIL.has(problem.code) && problem.detail
        ? problem.detail
        : describeProblem(xhr.status, problem, xhr.getResponseHeader("Retry-After"));
      reject(new ApiError(message, { status: xhr.status, code: problem.code ?? "http_error" }));
    });
    xhr.addEventListener("error", () => reject(networkError()));
    const form = new FormData();
    form.append("file", file);
    xhr.send(form);
  });
}

function setupDocumentsPanel({ toggle, panel }) {
  const list = panel.querySelector("#document-list");
  const status = panel.querySelector("#documents-status");
  const form = panel.querySelector("#document-upload");
  const input = panel.querySelector("#document-file");
  const progress = panel.querySelector("#document-progress");
  const maxBytes = Number(panel.dataset.maxBytes);
  let pollTimer = null;

  const say = (text) => {
    status.textContent = text;
  };

  function documentItem(doc) {
    const item = make("li", `document-item ${doc.status}`);
    item.dataset.documentId = doc.id;
    item.dataset.status = doc.status;
    const text = make("div", "document-text");
    text.append(make("p", "document-title", doc.title));
    text.append(make("p", "document-status", statusLine(doc)));
    const remove = deleteButton({
      item,
      label: `Delete document: ${doc.title}`,
      path: `/api/v1/documents/${doc.id}`,
      gone: "That document was already gone.",
      say,
      after: () =>
        say(list.children.length ? "Document deleted." : "Document deleted. You have no documents."),
      fallback: input,
    });
    item.append(text, remove);
    return item;
  }

  function schedulePoll(docs) {
    clearTimeout(pollTimer);
    pollTimer = null;
    if (!panel.hidden && docs.some((doc) => doc.status === "processing")) {
      pollTimer = setTimeout(() => load({ quiet: true }), POLL_MS);
    }
  }

  async function load({ quiet = false } = {}) {
    if (!quiet) say("Loading…");
    try {
      const docs = await allPages("/api/v1/documents?page_size=100");
      list.replaceChildren(...docs.map(documentItem));
      if (!quiet) say(docs.length ? "" : "You have no documents yet.");
      schedulePoll(docs);
    } catch (error) {
      say(error.message);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = input.files[0];
    if (!file) return;
    if (file.size > maxBytes) {
      say(`${file.name} is larger than ${size(maxBytes)}.`);
      return;
    }
    progress.value = 0;
    progress.hidden = false;
    say(`Uploading ${file.name}…`);
    let uploaded;
    try {
      uploaded = await uploadFile(file, (done) => {
        progress.value = Math.round(done * 100);
      });
    } catch (error) {
      say(error.message);
      return;
    } finally {
      progress.hidden = true;
    }
    form.reset();
    say(`${uploaded.title} uploaded; it is being read.`);
    await load({ quiet: true });
  });

  openable({
    toggle,
    panel,
    close: panel.querySelector("#documents-close"),
    onOpen: () => {
      load();
      input.focus();
    },
    onClose: () => clearTimeout(pollTimer),
  });
}

setupDocumentsPanel({
  toggle: document.getElementById("documents-toggle"),
  panel: document.getElementById("documents-panel"),
});
