// The lyzr-stream playground page. Agent text is untrusted: it is only ever set as text
// (textContent, text nodes), never parsed as HTML. The API key never comes here: the server
// holds it and this page only talks to that server.
"use strict";

const $ = (id) => document.getElementById(id);
const page = {
  controller: null, // AbortController of the answer in flight
  turn: null,       // {question, answerNode, reasoningNode, started, firstToken, chunks}
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
  $("history").replaceChildren();
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
  $("history").replaceChildren();
  showSessionNote(`Continuing session ${body.session_id}: the agent remembers its earlier turns.`);
}

// Sessions belong to an agent: another agent starts a new one at its first question.
function agentChanged() {
  const agent = $("agent-id").value.trim();
  if (agent === page.agent) return;
  page.agent = agent;
  $("session-id").value = "";
  $("history").replaceChildren();
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

// -- one answer ----------------------------------------------------------------------------
function archiveTurn() {
  const turn = page.turn;
  if (!turn) return;
  const item = element("li");
  item.append(element("p", "question", turn.question));
  item.append(element("p", "answer", turn.answerNode.data));
  $("history").append(item);
}

function startTurn(question) {
  archiveTurn();
  const answerNode = document.createTextNode("");
  const reasoningNode = document.createTextNode("");
  $("answer").replaceChildren(answerNode);
  $("reasoning").replaceChildren(reasoningNode);
  $("reasoning-block").hidden = true;
  $("turn-question").textContent = question;
  $("error").hidden = true;
  $("error").replaceChildren();
  $("timeline").replaceChildren();
  $("timeline-empty").hidden = false;
  $("first-token").textContent = "–";
  $("total-time").textContent = "–";
  $("chunks").textContent = "0";
  page.turn = { question, answerNode, reasoningNode, started: performance.now(), chunks: 0 };
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
    $("reasoning-block").hidden = false;
    turn.reasoningNode.appendData(event.text);
  } else {
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
}

function onError(event) {
  onFinished(event);
  // What arrived before the failure stays on the page.
  if (event.partial_text && page.turn.answerNode.data !== event.partial_text) {
    page.turn.answerNode.data = event.partial_text;
  }
  showError(`${event.error}: ${event.message}`, event.partial_text);
  setStatus("error");
}

function showError(text, partial) {
  const box = $("error");
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
        showError("The stream ended without its last event.", page.turn.answerNode.data);
        setStatus("error");
      }
    }
  } catch (error) {
    if (error.name === "AbortError") {
      // Stopped: closing the request makes the server close the agent's stream.
      $("total-time").textContent = formatMs(performance.now() - page.turn.started);
      setStatus("stopped");
    } else {
      showError(`Connection to the playground failed: ${error.message}`, page.turn.answerNode.data);
      setStatus("error");
    }
  } finally {
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
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("ask-form").requestSubmit();
  });
  loadConfig().then(() => setStatus("ready"));
});
