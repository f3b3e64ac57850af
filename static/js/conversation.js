// The conversation pane: message views built from history or grown by a live stream.
// Every piece of text goes in as text (textContent or the safe Markdown renderer).

import { renderMarkdown } from "./markdown.js";

const ERROR_WORDS = {
  llm_unavailable: "The assistant is unavailable right now. Please try again in a moment.",
  llm_request_rejected: "This conversation has grown too long for the model. Start a new chat.",
  too_many_steps: "The assistant took too many steps on this one and gave up.",
  internal_error: "Something went wrong on our side. Please try again.",
};

/** The words to show for a stream's `error` event: the server's detail is safe to show. */
export function streamErrorWords(error) {
  return ERROR_WORDS[error.code] ?? error.detail ?? ERROR_WORDS.internal_error;
}

function make(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function formatArguments(args) {
  if (args && typeof args === "object") {
    const values = Object.values(args);
    if (values.length === 1 && typeof values[0] !== "object") return String(values[0]);
  }
  return JSON.stringify(args);
}

function words(reason) {
  return String(reason ?? "").replaceAll("_", " ");
}

class MessageView {
  constructor(role, label) {
    this.root = make("article", `message ${role}`);
    this.root.append(make("h3", "visually-hidden", label));
  }

  remove() {
    this.root.remove();
  }
}

export class UserMessageView extends MessageView {
  constructor(content) {
    super("user", "You said");
    this.root.append(make("div", "content plain", content));
  }
}

/** One tool call as a compact step: name and arguments; expands to show the full result. */
class ToolStep {
  constructor(call) {
    this.call = call;
    this.root = make("details", "tool-step running");
    const summary = make("summary");
    summary.append(
      make("span", "tool-name", call.name),
      make("code", "tool-arguments", formatArguments(call.arguments)),
      (this.state = make("span", "tool-state", "running…")),
    );
    this.body = make("div", "tool-body");
    this.body.append(make("h4", "", "Arguments"), make("pre", "", JSON.stringify(call.arguments, null, 2)));
    this.root.append(summary, this.body);
  }

  complete(content) {
    this.root.classList.remove("running");
    this.state.textContent = `→ ${content.length > 60 ? `${content.slice(0, 57)}…` : content}`;
    this.body.append(make("h4", "", "Result"), make("pre", "tool-result", content));
  }
}

/** One cited passage: its document's title; expands to the quoted text. */
function citationView(citation, number) {
  const root = make("details", "citation");
  root.dataset.chunkId = citation.chunk_id;
  root.append(
    make("summary", "", `[${number}] ${citation.title}`),
    make("blockquote", "", citation.text),
  );
  return root;
}

export class AssistantMessageView extends MessageView {
  /** `agentTitle(name)` gives an agent's title for its badge and handoff notes. */
  constructor(agentTitle = (name) => name) {
    super("assistant", "The agent answered");
    this.agentTitle = agentTitle;
    this.text = "";
    this.steps = [];
    this.started = false;
    this.badge = make("span", "agent-badge");
    this.stepList = make("div", "tool-steps");
    this.content = make("div", "content markdown");
    this.citations = make("div", "citations");
    this.citations.setAttribute("aria-label", "Sources from your documents");
    this.notes = make("div", "message-notes");
    this.meta = make("p", "message-meta");
    this.root.append(this.badge, this.stepList, this.content, this.citations, this.notes, this.meta);
    this.renderPending = false;
  }

  showAgent(name) {
    this.badge.textContent = name ? this.agentTitle(name) : "";
  }

  /** A handoff: the badge names the agent now writing; a note says who handed over and why. */
  noteHandoff(handoff) {
    this.showAgent(handoff.name);
    const to = this.agentTitle(handoff.name);
    const text = handoff.from ? `${this.agentTitle(handoff.from)} → ${to}` : to;
    this.stepList.append(make("p", "handoff-note", `${text}: ${handoff.reason}`));
  }

  addCitation(citation) {
    this.citations.append(citationView(citation, this.citations.children.length + 1));
  }

  setStreaming(streaming) {
    this.root.classList.toggle("streaming", streaming);
  }

  appendText(text) {
    this.text += text;
    if (this.renderPending) return;
    this.renderPending = true;
    requestAnimationFrame(() => {
      this.renderPending = false;
      this.render();
    });
  }

  render() {
    const afterRender = this.beforeRender?.();
    this.content.replaceChildren(renderMarkdown(this.text));
    afterRender?.();
  }

  addStep(call) {
    const step = new ToolStep(call);
    this.steps.push(step);
    this.stepList.append(step.root);
  }

  completeStep(result) {
    const step =
      this.steps.find((candidate) => candidate.call.id === result.id && !candidate.done) ??
      this.steps.find((candidate) => candidate.call.name === result.name && !candidate.done);
    if (!step) return;
    step.done = true;
    step.complete(result.content);
  }

  /** A model switch, once per answer: each model call of a turn (the supervisor's, then an
   *  agent's) may switch the same way, and one note says it. */
  noteFallback(change) {
    const text = `Switched from ${change.from_model} to ${change.to_model} (${words(change.reason)}).`;
    const told = [...this.notes.querySelectorAll(".fallback-note")].some((n) => n.textContent === text);
    if (!told) this.notes.append(make("p", "fallback-note", text));
  }

  showModel(model) {
    this.meta.textContent = model ? `Answered by ${model}` : "";
  }

  finish(done) {
    this.render();
    this.showModel(done.model);
  }

  interrupt() {
    this.render();
    this.root.classList.add("interrupted");
    this.notes.append(make("p", "status-note", "Stopped. The answer above is incomplete."));
  }

  /** Show a failure in words, with a Retry button when the caller can retry. */
  fail(message, retry) {
    this.render();
    this.root.classList.add("failed");
    const box = make("div", "error-box");
    box.setAttribute("role", "alert");
    box.append(make("p", "", message));
    if (retry) {
      const button = make("button", "button", "Retry");
      button.type = "button";
      button.addEventListener("click", () => {
        box.remove();
        retry();
      });
      box.append(button);
    }
    this.notes.append(box);
  }

  /** A stored answer from the history. */
  static fromHistory(message, agentTitle) {
    const view = new AssistantMessageView(agentTitle);
    view.text = message.content;
    view.showAgent(message.agent);
    for (const call of message.tool_calls ?? []) view.addStep(call);
    for (const citation of message.citations ?? []) view.addCitation(citation);
    view.render();
    view.showModel(message.model);
    if (message.status === "interrupted") {
      view.root.classList.add("interrupted");
      view.notes.append(make("p", "status-note", "This answer was cut short."));
    } else if (message.status === "failed") {
      view.root.classList.add("failed");
      view.notes.append(make("p", "status-note", "This answer failed."));
    }
    return view;
  }
}

export class Conversation {
  constructor(container, agentTitle) {
    this.container = container;
    this.agentTitle = agentTitle;
  }

  clear() {
    this.container.replaceChildren();
  }

  /** Render a session's stored messages; tool results fill the steps of the answer before. */
  showHistory(messages) {
    this.clear();
    let answer = null;
    for (const message of messages) {
      if (message.role === "user") {
        this.add(new UserMessageView(message.content));
      } else if (message.role === "assistant") {
        answer = this.add(AssistantMessageView.fromHistory(message, this.agentTitle));
      } else if (message.role === "tool" && answer) {
        answer.completeStep({ id: null, name: message.model, content: message.content });
      }
    }
    this.scrollToEnd();
  }

  add(view) {
    this.container.append(view.root);
    // Follow a growing answer only while the reader is at the end (never yank them back).
    view.beforeRender = () => {
      const stick = this.nearEnd();
      return () => stick && this.scrollToEnd();
    };
    return view;
  }

  nearEnd() {
    const { scrollTop, scrollHeight, clientHeight } = this.container;
    return scrollHeight - scrollTop - clientHeight < 80;
  }

  scrollToEnd() {
    this.container.scrollTop = this.container.scrollHeight;
  }
}
