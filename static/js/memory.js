// The memory panel: what the agent remembers about this person, one by one deletable.

import { allPages, request } from "./api.js";

const UNAVAILABLE = "Memories are not available right now.";

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function setupMemoryPanel({ toggle, panel }) {
  const list = panel.querySelector("#memory-list");
  const status = panel.querySelector("#memory-status");
  const search = panel.querySelector("#memory-search");
  const forgetAll = panel.querySelector("#forget-all");
  const close = panel.querySelector("#memory-close");

  const say = (text) => {
    status.textContent = text;
  };

  function memoryItem(memory) {
    const item = make("li", "memory-item");
    item.dataset.memoryId = memory.id;
    const text = make("p", "memory-text", memory.text);
    const remove = make("button", "button small", "Delete");
    remove.type = "button";
    remove.setAttribute("aria-label", `Delete memory: ${memory.text}`);
    remove.addEventListener("click", async () => {
      try {
        await request("DELETE", `/api/v1/memories/${memory.id}`);
      } catch (error) {
        say(error.status === 404 ? "That memory was already gone." : error.message);
        if (error.status !== 404) return;
      }
      const next = item.nextElementSibling ?? item.previousElementSibling;
      item.remove();
      showEmptiness();
      say("Memory deleted.");
      (next?.querySelector("button") ?? search).focus();
    });
    item.append(text, remove);
    return item;
  }

  function showEmptiness() {
    const empty = list.children.length === 0;
    forgetAll.hidden = empty;
    if (empty) say(search.value ? "No memory matches." : "The agent remembers nothing about you yet.");
  }

  async function load() {
    const query = search.value.trim();
    say("Loading…");
    try {
      const params = new URLSearchParams({ page_size: "100" });
      if (query) params.set("q", query);
      const memories = await allPages(`/api/v1/memories?${params}`);
      list.replaceChildren(...memories.map(memoryItem));
      say(memories.length ? `${memories.length} remembered.` : "");
      showEmptiness();
    } catch (error) {
      list.replaceChildren();
      forgetAll.hidden = true;
      say(error.status === 404 ? UNAVAILABLE : error.message);
    }
  }

  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) {
      load();
      search.focus();
    } else {
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
  panel.querySelector("#memory-search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  forgetAll.addEventListener("click", async () => {
    if (!confirm("Forget everything the agent remembers about you?")) return;
    try {
      await request("DELETE", "/api/v1/memories");
    } catch (error) {
      say(error.message);
      return;
    }
    list.replaceChildren();
    showEmptiness();
    say("Everything forgotten.");
    search.focus();
  });
}
