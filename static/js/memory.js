// The memory panel: what the agent remembers about this person, one by one deletable.

import { allPages, request } from "./api.js";
import { deleteButton, make, openable } from "./panels.js";

const UNAVAILABLE = "Memories are not available right now.";

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
    const remove = deleteButton({
      item,
      label: `Delete memory: ${memory.text}`,
      path: `/api/v1/memories/${memory.id}`,
      gone: "That memory was already gone.",
      say,
      after: () => {
        showEmptiness();
        say("Memory deleted.");
      },
      fallback: search,
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

  openable({
    toggle,
    panel,
    close,
    onOpen: () => {
      load();
      search.focus();
    },
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
