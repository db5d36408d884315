// The lyzr-stream playground page. Agent text is untrusted: it is only ever set as text
// (textContent, text nodes) or rendered by the markdown renderer below, which builds DOM nodes
// and never parses HTML. The API key never comes here: the server
// holds it and this page only talks to that server.
"use strict";

const $ = (id) => document.getElementById(id);
const page = {
  controller: null, // AbortController of the answer in flight
  turn: null,       // the answer in the thread being written (see startTurn)
  config: null,
  agent: null,      // the agent of the current session
};

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function setStatus(text) {
  $("status").textContent = text;
  document.body.dataset.status = text;
}

function formatMs(ms) {
  if (ms === null || ms === undefined) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

// -- configuration and sessions ------------------------------------------------------------
async function loadConfig() {
  const config = await (await fetch("/api/config")).json();
  page.config = config;
  $("agent-id").value = config.agent_id;
  page.agent = config.agent_id;
  const badges = $("badges");
  const labels = [config.framework === "llamaindex" ? "LyzrLLM" : "ChatLyzr", config.dialect];
  if (config.emulator) labels.push("emulator");
  for (const label of labels) badges.append(element("span", "badge", label));
  for (const agent of config.agents) {
    const option = document.createElement("option");
    option.value = agent;
    $("agent-list").append(option);
  }
  if (config.unsupported.includes("system_prompt_variables")) {
    $("variables-note").hidden = false;
    $("variables-note").textContent =
      `The ${config.dialect} dialect cannot send system prompt variables.`;
    $("add-variable").disabled = true;
  } else {
    addVariableRow("", "");
  }
}

async function postJson(path, body, signal) {
  return fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal,
  });
}

async function newSession() {
  const response = await postJson("/api/session", { agent_id: $("agent-id").value.trim() });
  const body = await response.json();
  if (!response.ok) return showSessionNote(body.error, true);
  $("session-id").value = body.session_id;
  clearThread();
  showSessionNote(`New session ${body.session_id}.`);
}

async function continueSession() {
  const wanted = $("session-id").value.trim();
  if (!wanted) return showSessionNote("Type the id of the session to continue.", true);
  const response = await postJson("/api/session", {
    agent_id: $("agent-id").value.trim(),
    session_id: wanted,
  });
  const body = await response.json();
  if (!response.ok) return showSessionNote(body.error, true);
  clearThread();
  showSessionNote(`Continuing session ${body.session_id}: the agent remembers its earlier turns.`);
}

// Sessions belong to an agent: another agent starts a new one at its first question.
function agentChanged() {
  const agent = $("agent-id").value.trim();
  if (agent === page.agent) return;
  page.agent = agent;
  $("session-id").value = "";
  clearThread();
  showSessionNote(`Agent ${agent}: a new session starts with the next question.`);
}

function showSessionNote(text, isError) {
  const note = $("session-status");
  note.textContent = text;
  note.classList.toggle("bad", Boolean(isError));
}

// -- system prompt variables -----------------------------------------------------------------
function addVariableRow(name, value) {
  const row = element("div", "variable");
  const nameInput = element("input", "variable-name");
  nameInput.placeholder = "name";
  nameInput.value = name;
  const valueInput = element("input", "variable-value");
  valueInput.placeholder = "value";
  valueInput.value = value;
  const remove = element("button", "remove", "×");
  remove.type = "button";
  remove.title = "Remove this variable";
  remove.addEventListener("click", () => row.remove());
  row.append(nameInput, valueInput, remove);
  $("variables").append(row);
}

function variables() {
  const out = {};
  for (const row of $("variables").querySelectorAll(".variable")) {
    const name = row.querySelector(".variable-name").value.trim();
    if (name) out[name] = row.querySelector(".variable-value").value;
  }
  return out;
}

// -- markdown ------------------------------------------------------------------------------
// A small renderer for the markdown agents write: fenced code blocks, headings, lists, quotes,
// rules, paragraphs; inline code, **bold**, *italic* and [links](url). It builds DOM nodes
// (createElement, text nodes) and never parses HTML: any tag in the text stays text. Links keep
// only http:, https: and mailto: addresses; any other link is shown as the text it was.
const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:"]);

function safeUrl(raw) {
  let url;
  try {
    url = new URL(raw); // absolute addresses only: a relative one throws
  } catch {
    return null;
  }
  return SAFE_SCHEMES.has(url.protocol) ? url.href : null;
}

// Inline spans, earliest first; the link's address may hold one level of parentheses.
const INLINE = /(`+)([\s\S]*?[^`])\1(?!`)|\[([^\]\n]+)\]\(([^()\s]*(?:\([^()\s]*\)[^()\s]*)*)\)|\*\*(?=\S)([\s\S]*?\S)\*\*|\*([^\s*](?:[^*]*[^\s*])?)\*/g;

function renderInline(text, parent, inLink) {
  let last = 0;
  INLINE.lastIndex = 0;
  for (let match; (match = INLINE.exec(text)); ) {
    const [whole, ticks, code, label, href, strong, em] = match;
    if (match.index > last) parent.append(document.createTextNode(text.slice(last, match.index)));
    last = match.index + whole.length;
    const at = INLINE.lastIndex;
    if (ticks) {
      parent.append(element("code", "", code.replace(/^ (.*) $/s, "$1")));
    } else if (label !== undefined) {
      const url = inLink ? null : safeUrl(href);
      if (url === null) {
        parent.append(document.createTextNode(whole)); // unsafe or nested: shown as typed
      } else {
        const link = element("a");
        link.href = url;
        link.rel = "noopener noreferrer nofollow";
        link.target = "_blank";
        renderInline(label, link, true);
        parent.append(link);
      }
    } else {
      const node = element(strong !== undefined ? "strong" : "em");
      renderInline(strong !== undefined ? strong : em, node, inLink);
      parent.append(node);
    }
    INLINE.lastIndex = at; // the recursion above used the same expression
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

// Lines joined by single newlines keep their breaks, as a chat answer means them.
function renderLines(lines, parent) {
  lines.forEach((line, index) => {
    if (index > 0) parent.append(element("br"));
    renderInline(line, parent, false);
  });
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const BULLET = /^ {0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^ {0,3}(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;

function renderMarkdown(source) {
  const out = document.createDocumentFragment();
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  const startsBlock = (line) =>
    FENCE.test(line) || HEADING.test(line) || RULE.test(line) || BULLET.test(line) ||
    NUMBERED.test(line) || QUOTE.test(line);
  while (i < lines.length) {
    const line = lines[i];
    let match;
    if (!line.trim()) {
      i += 1;
    } else if ((match = FENCE.exec(line))) {
      const fence = match[1];
      const body = [];
      for (i += 1; i < lines.length && !lines[i].trimStart().startsWith(fence); i += 1) {
        body.push(lines[i]);
      }
      i += 1; // the closing fence (or the end of an unclosed block while it streams)
      const pre = element("pre");
      const code = element("code", "", body.join("\n"));
      if (match[2]) code.dataset.language = match[2];
      pre.append(code);
      out.append(pre);
    } else if ((match = HEADING.exec(line))) {
      const heading = element(`h${Math.min(match[1].length + 2, 6)}`);
      renderInline(match[2], heading, false);
      out.append(heading);
      i += 1;
    } else if (RULE.test(line)) {
      out.append(element("hr"));
      i += 1;
    } else if (BULLET.test(line) || NUMBERED.test(line)) {
      const ordered = !BULLET.test(line);
      const pattern = ordered ? NUMBERED : BULLET;
      const list = element(ordered ? "ol" : "ul");
      if (ordered && Number(NUMBERED.exec(line)[1]) !== 1) list.start = Number(NUMBERED.exec(line)[1]);
      let item = null;
      for (; i < lines.length && lines[i].trim(); i += 1) {
        const entry = pattern.exec(lines[i]);
        if (entry) {
          item = element("li");
          renderInline(entry[ordered ? 2 : 1], item, false);
          list.append(item);
        } else if (startsBlock(lines[i])) {
          break;
        } else {
          item.append(element("br")); // a continuation line of the item
          renderInline(lines[i].trim(), item, false);
        }
      }
      out.append(list);
    } else if (QUOTE.test(line)) {
      const quoted = [];
      for (; i < lines.length && (match = QUOTE.exec(lines[i])); i += 1) quoted.push(match[1]);
      const quote = element("blockquote");
      quote.append(renderMarkdown(quoted.join("\n")));
      out.append(quote);
    } else {
      const paragraph = [];
      for (; i < lines.length && lines[i].trim() && !startsBlock(lines[i]); i += 1) {
        paragraph.push(lines[i]);
      }
      const node = element("p");
      renderLines(paragraph, node);
      out.append(node);
    }
  }
  return out;
}

// -- the thread ----------------------------------------------------------------------------
// Each question and its answer is one item of #thread. While an answer streams its text grows
// as plain text; when it ends (done, error or stopped) it is rendered as markdown.
function copyButton(turn) {
  const button = element("button", "copy", "Copy");
  button.type = "button";
  button.setAttribute("aria-label", "Copy the answer's markdown");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(turn.text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 1500);
  });
  return button;
}

function startTurn(question) {
  const item = element("li", "turn");
  item.setAttribute("aria-busy", "true");
  const asked = element("div", "bubble question");
  asked.append(element("span", "visually-hidden", "You: "), element("span", "text", question));
  const reply = element("div", "bubble reply");
  const reasoningBlock = element("details", "reasoning-block");
  reasoningBlock.open = true;
  reasoningBlock.hidden = true;
  const reasoningNode = document.createTextNode("");
  const reasoning = element("div", "reasoning");
  reasoning.append(reasoningNode);
  reasoningBlock.append(element("summary", "", "Reasoning"), reasoning);
  const answer = element("div", "answer streaming");
  const answerNode = document.createTextNode("");
  answer.append(answerNode);
  const error = element("div", "error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  const turn = {
    question, item, answer, answerNode, reasoningNode, reasoningBlock, error,
    text: "", started: performance.now(), chunks: 0,
  };
  const copy = copyButton(turn);
  copy.hidden = true;
  turn.copy = copy;
  reply.append(element("span", "visually-hidden", "Agent: "), reasoningBlock, answer, copy, error);
  item.append(asked, reply);
  $("thread").append(item);
  $("suggestions").hidden = true;
  $("timeline").replaceChildren();
  $("timeline-empty").hidden = false;
  $("first-token").textContent = "–";
  $("total-time").textContent = "–";
  $("chunks").textContent = "0";
  page.turn = turn;
  item.scrollIntoView({ block: "end" });
}

// The answer, final: its text as markdown, and the copy button.
function finishTurn() {
  const turn = page.turn;
  if (!turn || turn.finished) return;
  turn.finished = true;
  turn.answer.classList.remove("streaming");
  turn.answer.replaceChildren(renderMarkdown(turn.text));
  turn.copy.hidden = !turn.text;
  turn.item.setAttribute("aria-busy", "false");
}

function clearThread() {
  $("thread").replaceChildren();
  $("suggestions").hidden = false;
}

function onDelta(event) {
  const turn = page.turn;
  if (turn.firstToken === undefined) {
    turn.firstToken = performance.now() - turn.started;
    $("first-token").textContent = formatMs(turn.firstToken);
  }
  turn.chunks += 1;
  $("chunks").textContent = String(turn.chunks);
  $("total-time").textContent = formatMs(performance.now() - turn.started);
  if (event.type === "reasoning") {
    turn.reasoningBlock.hidden = false;
    turn.reasoningNode.appendData(event.text);
  } else {
    turn.text += event.text;
    turn.answerNode.appendData(event.text);
  }
}

function onTimeline(event) {
  $("timeline-empty").hidden = true;
  const item = element("li", "timeline-item");
  item.dataset.kind = event.kind;
  const logId = event.data && typeof event.data === "object" ? event.data.log_id : undefined;
  const head = element("div", "head");
  head.append(element("span", "time", `+${formatMs(event.t_ms)}`));
  head.append(element("span", `kind kind-${event.kind}`, event.kind.replace(/_/g, " ")));
  head.append(element("code", "name", event.name));
  item.append(head);
  if (event.data !== null && event.data !== undefined) {
    item.append(element("pre", "data", JSON.stringify(event.data, null, 2)));
  }
  // An agent event re-reported with changes (same log id) replaces the earlier entry.
  const earlier = logId
    ? [...$("timeline").children].find((node) => node.dataset.logId === String(logId))
    : undefined;
  if (logId) item.dataset.logId = String(logId);
  if (earlier) earlier.replaceWith(item);
  else $("timeline").append(item);
}

function onFinished(event) {
  $("first-token").textContent = formatMs(event.first_token_ms);
  $("total-time").textContent = formatMs(event.total_ms);
  $("chunks").textContent = String(event.chunks);
  if (event.session_id) $("session-id").value = event.session_id;
  finishTurn();
}

function onError(event) {
  // What arrived before the failure stays on the page (rendered when the turn finishes).
  if (event.partial_text) page.turn.text = event.partial_text;
  onFinished(event);
  showError(`${event.error}: ${event.message}`, event.partial_text);
  setStatus("error");
}

function showError(text, partial) {
  const box = page.turn.error;
  box.replaceChildren(element("strong", "", text));
  if (partial) {
    box.append(element("p", "note", `The ${partial.length} characters received before it are kept above.`));
  }
  box.hidden = false;
}

function handleEvent(event) {
  switch (event.type) {
    case "start":
      $("session-id").value = event.session_id;
      break;
    case "text":
    case "reasoning":
      onDelta(event);
      break;
    case "timeline":
      onTimeline(event);
      break;
    case "done":
      onFinished(event);
      setStatus("done");
      break;
    case "error":
      onError(event);
      break;
    default:
      break; // a newer server's event kind: ignored here
  }
}

// Reads "data: <json>" events, separated by blank lines, from the streamed body.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = frame
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (data) onEvent(JSON.parse(data));
    }
  }
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question || page.controller) return;
  agentChanged();
  startTurn(question);
  $("question").value = "";
  $("question").focus(); // the next question can be typed while this answer streams
  setStatus("streaming");
  const controller = new AbortController();
  page.controller = controller;
  $("ask").disabled = true;
  $("stop").disabled = false;
  const body = {
    agent_id: $("agent-id").value.trim(),
    message: question,
    session_id: $("session-id").value.trim(),
    variables: $("add-variable").disabled ? {} : variables(),
  };
  try {
    const response = await postJson("/api/stream", body, controller.signal);
    if (!response.ok) {
      const problem = await response.json().catch(() => ({ error: response.statusText }));
      showError(problem.error || `HTTP ${response.status}`);
      setStatus("error");
    } else {
      await readEvents(response, handleEvent);
      if (document.body.dataset.status === "streaming") {
        showError("The stream ended without its last event.", page.turn.text);
        setStatus("error");
      }
    }
  } catch (error) {
    if (error.name === "AbortError") {
      // Stopped: closing the request makes the server close the agent's stream.
      $("total-time").textContent = formatMs(performance.now() - page.turn.started);
      setStatus("stopped");
    } else {
      showError(`Connection to the playground failed: ${error.message}`, page.turn.text);
      setStatus("error");
    }
  } finally {
    finishTurn();
    page.controller = null;
    $("ask").disabled = false;
    $("stop").disabled = true;
  }
}

function stop() {
  if (page.controller) page.controller.abort();
}

document.addEventListener("DOMContentLoaded", () => {
  $("ask-form").addEventListener("submit", ask);
  $("stop").addEventListener("click", stop);
  $("agent-id").addEventListener("change", agentChanged);
  $("new-session").addEventListener("click", newSession);
  $("continue-session").addEventListener("click", continueSession);
  $("add-variable").addEventListener("click", () => addVariableRow("", ""));
  // Enter sends, Shift+Enter adds a line (not while an input method is composing).
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  for (const chip of document.querySelectorAll("#suggestions .chip")) {
    chip.addEventListener("click", () => {
      $("question").value = chip.textContent;
      $("ask-form").requestSubmit();
    });
  }
  loadConfig().then(() => setStatus("ready"));
});
