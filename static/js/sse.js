// Server-sent events from a fetch() body: EventSource cannot POST, so the chat reads the
// stream itself. Yields {name, data} per event; `: ping` comments are skipped.

export async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let name = "";
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split(/\r?\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (data.length) yield { name: name || "message", data: JSON.parse(data.join("\n")) };
          name = "";
          data = [];
        } else if (line.startsWith("event:")) {
          name = line.slice(6).trim();
        } else if (line.startsWith("data:")) {
          data.push(line.slice(5).replace(/^ /, ""));
        }
        // Comments (": ping") and "id:" lines need nothing.
      }
    }
  } finally {
    reader.releaseLock();
  }
}
