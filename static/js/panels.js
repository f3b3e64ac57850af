// What the side panels (memories, documents) share: building nodes, and a list item's Delete.

import { request } from "./api.js";

export function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * A Delete button for `item`: DELETE `path`, then the item goes, `after()` runs and focus
 * moves to a neighbour's button (or `fallback`). A 404 means it was already gone: it goes too,
 * after `say(gone)`.
 */
export function deleteButton({ item, label, path, gone, say, after, fallback }) {
  const remove = make("button", "button small", "Delete");
  remove.type = "button";
  remove.setAttribute("aria-label", label);
  remove.addEventListener("click", async () => {
    try {
      await request("DELETE", path);
    } catch (error) {
      say(error.status === 404 ? gone : error.message);
      if (error.status !== 404) return;
    }
    const next = item.nextElementSibling ?? item.previousElementSibling;
    item.remove();
    after();
    (next?.querySelector("button") ?? fallback).focus();
  });
  return remove;
}

/** A side panel opened and closed by its toggle, its close button and Escape. */
export function openable({ toggle, panel, close, onOpen, onClose = () => {} }) {
  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) {
      onOpen();
    } else {
      onClose();
      toggle.focus();
    }
  }

  toggle.addEventListener("click", () => setOpen(panel.hidden));
  close.addEventListener("click", () => setOpen(false));
  panel.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    event.stopPropagation(); // Escape here closes the panel, it does not stop an answer
    setOpen(false);
  });
}
