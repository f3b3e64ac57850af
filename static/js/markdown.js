// A small, safe Markdown renderer: it builds DOM nodes and only ever sets text, so no HTML
// from the model or a person is ever parsed or run. Supported: paragraphs (single newlines
// kept), headings, **bold**, *italic*, `code`, fenced code blocks, - and 1. lists, and links
// whose address is http(s) (others stay plain text). An unclosed fence (mid-stream) renders
// as code so far.

const FENCE = /^\s*```\s*([\w+#.-]*)\s*$/;
const HEADING = /^(#{1,6})\s+(.*)$/;
const LIST_ITEM = /^\s*(?:([-*+])|(\d{1,9})[.)])\s+(.*)$/;
const INLINE = new RegExp(
  [
    /(`+)([^`][\s\S]*?)\1/.source, // 1, 2: code
    /\*\*(?=\S)([\s\S]*?\S)\*\*/.source, // 3: bold
    /(?<!\w)__(?=\S)([\s\S]*?\S)__(?!\w)/.source, // 4: bold
    /(?<![\w*])\*(?=[^\s*])([^*]*?[^\s*])\*(?![\w*])/.source, // 5: italic
    /(?<!\w)_(?=[^\s_])([^_]*?[^\s_])_(?!\w)/.source, // 6: italic
    /\[([^\]\n]+)\]\(([^()\s]+)\)/.source, // 7, 8: link
    /(https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"])/.source, // 9: bare address
  ].join("|"),
  "g",
);

function safeAddress(address) {
  try {
    const url = new URL(address);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function link(doc, text, href) {
  const anchor = doc.createElement("a");
  anchor.href = href;
  anchor.rel = "noopener noreferrer nofollow";
  anchor.target = "_blank";
  anchor.textContent = text;
  return anchor;
}

function element(doc, tag, children) {
  const node = doc.createElement(tag);
  node.append(...children);
  return node;
}

/** Inline formatting of one run of text, as an array of nodes. */
export function renderInline(text, doc = document) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) nodes.push(doc.createTextNode(text.slice(last, match.index)));
    last = match.index + match[0].length;
    const [whole, , code, bold, boldUnderscore, italic, italicUnderscore, label, address, bare] =
      match;
    if (code !== undefined) {
      nodes.push(element(doc, "code", [doc.createTextNode(code)]));
    } else if (bold !== undefined || boldUnderscore !== undefined) {
      nodes.push(element(doc, "strong", renderInline(bold ?? boldUnderscore, doc)));
    } else if (italic !== undefined || italicUnderscore !== undefined) {
      nodes.push(element(doc, "em", renderInline(italic ?? italicUnderscore, doc)));
    } else if (label !== undefined) {
      const href = safeAddress(address);
      nodes.push(href ? link(doc, label, href) : doc.createTextNode(whole));
    } else {
      const href = safeAddress(bare);
      nodes.push(href ? link(doc, bare, href) : doc.createTextNode(whole));
    }
  }
  if (last < text.length) nodes.push(doc.createTextNode(text.slice(last)));
  return nodes;
}

function paragraph(doc, lines) {
  const node = doc.createElement("p");
  lines.forEach((line, index) => {
    if (index) node.append(doc.createElement("br"));
    node.append(...renderInline(line, doc));
  });
  return node;
}

/** The whole text as a DocumentFragment of block elements. */
export function renderMarkdown(text, doc = document) {
  const fragment = doc.createDocumentFragment();
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let paragraphLines = [];
  let list = null;

  const closeParagraph = () => {
    if (paragraphLines.length) fragment.append(paragraph(doc, paragraphLines));
    paragraphLines = [];
  };
  const closeList = () => {
    list = null;
  };

  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    const fence = FENCE.exec(line);
    if (fence) {
      closeParagraph();
      closeList();
      const body = [];
      for (index++; index < lines.length && !FENCE.test(lines[index]); index++) {
        body.push(lines[index]);
      }
      const code = element(doc, "code", [doc.createTextNode(body.join("\n"))]);
      if (fence[1]) code.dataset.language = fence[1];
      fragment.append(element(doc, "pre", [code]));
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      closeParagraph();
      closeList();
      const level = Math.min(heading[1].length + 2, 6); // the page already has h1 and h2
      fragment.append(element(doc, `h${level}`, renderInline(heading[2], doc)));
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item) {
      closeParagraph();
      const tag = item[1] ? "ul" : "ol";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = doc.createElement(tag);
        if (tag === "ol" && item[2] !== "1") list.start = Number(item[2]);
        fragment.append(list);
      }
      list.append(element(doc, "li", renderInline(item[3], doc)));
      continue;
    }
    if (line.trim() === "") {
      closeParagraph();
      closeList();
      continue;
    }
    closeList();
    paragraphLines.push(line);
  }
  closeParagraph();
  return fragment;
}
