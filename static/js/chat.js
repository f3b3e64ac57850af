// The chat page: the sidebar of sessions, the conversation, the composer and the live stream.

import { allPages, jsonHeaders, networkError, problemError, request } from "./api.js";
import {
  AssistantMessageView,
  Conversation,
  UserMessageView,
  streamErrorWords,
} from "./conversation.js";
import { setupMemoryPanel } from "./memory.js";
import { readEvents } from "./sse.js";

const UNTITLED = "New chat";
const STREAM_CUT = "The connection dropped before the answer was complete.";

const page = {
  sidebar: document.getElementById("sidebar"),
  sidebarToggle: document.getElementById("sidebar-toggle"),
  sessionList: document.getElementById("session-list"),
  newSession: document.getElementById("new-session"),
  title: document.getElementById("session-title"),
  messages: document.getElementById("messages"),
  status: document.getElementById("chat-status"),
  composer: document.getElementById("composer"),
  input: document.getElementById("message-input"),
  send: document.getElementById("send-button"),
  stop: document.getElementById("stop-button"),
  agentPicker: document.getElementById("agent-picker"),
  agentDescription: document.getElementById("agent-description"),
};

const state = {
  sessions: [],
  current: null,
  streaming: null,
  renaming: false,
  agents: [], // [{name, title, description}], `auto` first
  agent: "auto", // the picker's choice for a chat not created yet
};

function agentTitle(name) {
  return state.agents.find((agent) => agent.name === name)?.title ?? name;
}

const conversation = new Conversation(page.messages, agentTitle);

function say(text) {
  page.status.textContent = text;
}

function setUrl(sessionId) {
  const url = new URL(location.href);
  if (sessionId) url.searchParams.set("session", sessionId);
  else url.searchParams.delete("session");
  history.replaceState(null, "", url);
}

// --- sidebar -------------------------------------------------------------------------------

function titleOf(session) {
  return session.title || UNTITLED;
}

function sessionItem(session) {
  const item = document.createElement("li");
  item.className = "session-item";
  item.dataset.sessionId = session.id;

  const open = document.createElement("a");
  open.className = "session-link";
  open.href = `?session=${encodeURIComponent(session.id)}`;
  open.textContent = titleOf(session);
  if (state.current?.id === session.id) open.setAttribute("aria-current", "page");
  open.addEventListener("click", (event) => {
    event.preventDefault();
    openSession(session.id);
  });

  const rename = document.createElement("button");
  rename.type = "button";
  rename.className = "icon-button";
  rename.textContent = "✎";
  rename.setAttribute("aria-label", `Rename “${titleOf(session)}”`);
  rename.addEventListener("click", () => startRename(item, session));

  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "icon-button";
  remove.textContent = "✕";
  remove.setAttribute("aria-label", `Delete “${titleOf(session)}”`);
  remove.addEventListener("click", () => deleteSession(session));

  item.append(open, rename, remove);
  return item;
}

function renderSessions() {
  if (state.renaming) return; // never pull the field from under the person typing a name
  page.sessionList.replaceChildren(...state.sessions.map(sessionItem));
}

function replaceSession(updated) {
  state.sessions = state.sessions.map((session) => (session.id === updated.id ? updated : session));
  if (state.current?.id === updated.id) {
    state.current = updated;
    showTitle(updated);
  }
}

async function loadSessions() {
  state.sessions = await allPages("/api/v1/sessions?page_size=100");
  renderSessions();
}

function startRename(item, session) {
  const input = document.createElement("input");
  input.type = "text";
  input.className = "rename-input";
  input.value = session.title;
  input.maxLength = 200;
  input.setAttribute("aria-label", "New name for this chat");
  let finished = false;
  const finish = async (save) => {
    if (finished) return;
    finished = true;
    if (save && input.value.trim() !== session.title) {
      try {
        const title = input.value.trim();
        replaceSession(await request("PATCH", `/api/v1/sessions/${session.id}`, { title }));
        say("Chat renamed.");
      } catch (error) {
        say(error.message);
      }
    }
    state.renaming = false;
    renderSessions();
    page.sessionList.querySelector(`[data-session-id="${session.id}"] .session-link`)?.focus();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") finish(true);
    if (event.key === "Escape") finish(false);
  });
  input.addEventListener("blur", () => finish(true));
  state.renaming = true;
  item.replaceChildren(input);
  input.focus();
  input.select();
}

async function deleteSession(session) {
  if (!confirm(`Delete “${titleOf(session)}” and all its messages?`)) return;
  try {
    await request("DELETE", `/api/v1/sessions/${session.id}`);
  } catch (error) {
    say(error.message);
    return;
  }
  state.sessions = state.sessions.filter((other) => other.id !== session.id);
  if (state.current?.id === session.id) startNewChat();
  renderSessions();
  say("Chat deleted.");
}

// --- agent picker --------------------------------------------------------------------------

async function loadAgents() {
  state.agents = await request("GET", "/api/v1/agents");
  page.agentPicker.replaceChildren(
    ...state.agents.map((agent) => {
      const option = document.createElement("option");
      option.value = agent.name;
      option.textContent = agent.title;
      option.title = agent.description;
      return option;
    }),
  );
}

function showAgent(name) {
  page.agentPicker.value = name;
  const agent = state.agents.find((candidate) => candidate.name === name);
  page.agentDescription.textContent = agent?.description ?? "";
}

page.agentPicker.addEventListener("change", async () => {
  const agent = page.agentPicker.value;
  showAgent(agent);
  if (!state.current) {
    state.agent = agent; // used when the first message creates the chat
    return;
  }
  try {
    replaceSession(await request("PATCH", `/api/v1/sessions/${state.current.id}`, { agent }));
    say(`${agentTitle(agent)} answers from now on.`);
  } catch (error) {
    say(error.message);
    showAgent(state.current.agent);
  }
});

// --- conversation --------------------------------------------------------------------------

function showTitle(session) {
  page.title.textContent = session ? titleOf(session) : UNTITLED;
  document.title = `${page.title.textContent} · agentsite`;
}

function startNewChat() {
  stopStreaming();
  state.current = null;
  state.agent = "auto";
  showAgent("auto");
  setUrl(null);
  showTitle(null);
  conversation.clear();
  renderSessions();
  closeSidebarOnPhones();
  page.input.focus();
}

async function openSession(sessionId) {
  stopStreaming();
  const session = state.sessions.find((candidate) => candidate.id === sessionId);
  if (!session) {
    say("That chat no longer exists.");
    startNewChat();
    return;
  }
  state.current = session;
  setUrl(session.id);
  showTitle(session);
  showAgent(session.agent);
  renderSessions();
  closeSidebarOnPhones();
  conversation.clear();
  try {
    conversation.showHistory(await allPages(`/api/v1/sessions/${session.id}/messages?page_size=100`));
    say("");
  } catch (error) {
    say(error.message);
  }
  page.input.focus();
}

async function ensureSession() {
  if (state.current) return state.current;
  const session = await request("POST", "/api/v1/sessions", { agent: state.agent });
  state.sessions.unshift(session);
  state.current = session;
  setUrl(session.id);
  showTitle(session);
  renderSessions();
  return session;
}

function setBusy(busy) {
  const hadFocus = document.activeElement;
  page.send.hidden = busy;
  page.stop.hidden = !busy;
  page.messages.setAttribute("aria-busy", String(busy));
  // Keep the keyboard where the person was: Send hands focus to Stop and back to the input.
  if (busy && hadFocus === page.send) page.stop.focus();
  if (!busy && (hadFocus === page.stop || hadFocus === document.body)) page.input.focus();
}

function stopStreaming() {
  state.streaming?.abort();
}

/** Send one message and stream the answer into the conversation. */
async function sendMessage(content) {
  let session;
  try {
    session = await ensureSession();
  } catch (error) {
    say(error.message);
    return;
  }
  const asked = conversation.add(new UserMessageView(content));
  const answer = conversation.add(new AssistantMessageView(agentTitle));
  conversation.scrollToEnd();
  const retry = () => {
    if (!answer.started) {
      asked.remove(); // the server never saw it
      answer.remove();
    }
    sendMessage(content);
  };
  const controller = new AbortController();
  state.streaming = controller;
  setBusy(true);
  answer.setStreaming(true);
  say("The agent is answering…");
  try {
    let response;
    try {
      response = await fetch(`/api/v1/sessions/${session.id}/stream`, {
        method: "POST",
        headers: { ...jsonHeaders(), Accept: "text/event-stream" },
        body: JSON.stringify({ content }),
        credentials: "same-origin",
        signal: controller.signal,
      });
    } catch (error) {
      throw error.name === "AbortError" ? error : networkError();
    }
    if (!response.ok) throw await problemError(response);
    let ended = false;
    for await (const { name, data } of readEvents(response.body)) {
      if (name === "start") answer.started = true;
      else if (name === "token") answer.appendText(data.text);
      else if (name === "tool_call") answer.addStep(data);
      else if (name === "tool_result") answer.completeStep(data);
      else if (name === "fallback") answer.noteFallback(data);
      else if (name === "agent") answer.noteHandoff(data);
      else if (name === "citation") answer.addCitation(data);
      else if (name === "done") {
        answer.finish(data);
        ended = true;
      } else if (name === "error") {
        answer.fail(streamErrorWords(data), retry);
        ended = true;
      }
    }
    if (!ended) answer.fail(STREAM_CUT, retry);
    say(ended ? "" : STREAM_CUT);
  } catch (error) {
    if (error.name === "AbortError") {
      answer.interrupt();
      say("");
    } else {
      answer.fail(error.message ?? STREAM_CUT, retry);
      say("");
    }
  } finally {
    answer.setStreaming(false);
    if (state.streaming === controller) state.streaming = null;
    setBusy(false);
    refreshSessionsQuietly();
  }
}

async function refreshSessionsQuietly() {
  try {
    await loadSessions();
    const current = state.sessions.find((session) => session.id === state.current?.id);
    if (current) {
      state.current = current;
      showTitle(current);
    }
  } catch {
    // The list stays as it was; the next action reports any real problem.
  }
}

// --- composer, sidebar toggle, keyboard ----------------------------------------------------

page.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const content = page.input.value.trim();
  if (!content || state.streaming) return;
  page.input.value = "";
  sendMessage(content);
});

page.input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    page.composer.requestSubmit();
  }
});

page.stop.addEventListener("click", stopStreaming);
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  if (page.sidebar.classList.contains("open")) {
    closeSidebarOnPhones();
    page.sidebarToggle.focus();
  } else if (state.streaming) {
    stopStreaming();
  }
});
page.newSession.addEventListener("click", startNewChat);

function closeSidebarOnPhones() {
  if (page.sidebar.classList.contains("open")) {
    page.sidebar.classList.remove("open");
    page.sidebarToggle.setAttribute("aria-expanded", "false");
  }
}

page.sidebarToggle.addEventListener("click", () => {
  const open = page.sidebar.classList.toggle("open");
  page.sidebarToggle.setAttribute("aria-expanded", String(open));
  if (open) page.newSession.focus();
});

setupMemoryPanel({
  toggle: document.getElementById("memory-toggle"),
  panel: document.getElementById("memory-panel"),
});

async function start() {
  try {
    await Promise.all([loadAgents(), loadSessions()]);
  } catch (error) {
    say(error.message);
  }
  const wanted = new URL(location.href).searchParams.get("session");
  if (wanted) await openSession(wanted);
  else startNewChat();
  document.body.dataset.ready = "true"; // the page is interactive (browser tests wait for it)
}

start();
