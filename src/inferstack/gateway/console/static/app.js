// inferstack console: one ES module, no dependencies. The key is typed once into the sign-in form and sent in
// that request's body; afterwards the browser holds only the HttpOnly session cookie and, in memory, the CSRF
// token. Conversations (text only, never a key) are kept in localStorage.
const $ = (id) => document.getElementById(id);
const PAGES = ["playground", "ask", "knowledge", "keys", "usage", "health", "traces"];
const STORE = "inferstack.console.conversations";
let csrf = null;
let role = null;
let healthTimer = null;
let agentOn = false; // whether the gateway knows the agent's URL (console.agent_url)
let askSession = null; // the agent's session id, so follow-up questions keep their context
let conversation = { id: Date.now(), title: "", messages: [] };

function notify(text, error = false) {
  const box = $("notice");
  box.textContent = text;
  box.className = error ? "error" : "";
}

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  const response = await fetch("/ui/api/" + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin",
  });
  const data = response.headers.get("Content-Type")?.includes("json") ? await response.json() : null;
  if (response.status === 401 && path !== "session") showSignIn();
  if (!response.ok) throw new Error(data?.error?.message || `HTTP ${response.status}`);
  return data;
}

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function row(cells) {
  const tr = el("tr");
  for (const cell of cells) {
    const td = el("td");
    if (cell instanceof Node) td.append(cell); else td.textContent = cell ?? "";
    tr.append(td);
  }
  return tr;
}

function showSignIn() {
  csrf = null; role = null;
  for (const p of PAGES) $("page-" + p).hidden = true;
  $("nav").hidden = true; $("sign-out").hidden = true; $("who").textContent = "";
  $("page-signin").hidden = false;
}

async function signedIn(session) {
  csrf = session.csrf; role = session.role;
  try { agentOn = (await api("GET", "agent")).configured; } catch { agentOn = false; }
  for (const [id, name] of [["nav-ask", "Ask"], ["nav-knowledge", "Knowledge"]]) {
    $(id).replaceChildren(name, ...(agentOn ? [] : [" ", el("small", "(agent not configured)")]));
  }
  for (const node of document.querySelectorAll(".agent-on")) node.hidden = !agentOn;
  for (const node of document.querySelectorAll(".agent-off")) node.hidden = agentOn;
  $("nav-knowledge").hidden = role !== "admin";
  $("who").textContent = `${session.name} (${role === "admin" ? "admin" : "key holder"})`;
  $("nav").hidden = false; $("sign-out").hidden = false; $("page-signin").hidden = true;
  route();
}

function route() {
  if (!csrf) return;
  const [name, arg] = location.hash.slice(1).split("/");
  const page = PAGES.includes(name) ? name : "playground";
  for (const p of PAGES) $("page-" + p).hidden = p !== page;
  for (const a of $("nav").querySelectorAll("a")) {
    if (a.getAttribute("href") === "#" + page) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  clearInterval(healthTimer);
  notify("");
  ({ playground: loadPlayground, ask: loadAsk, knowledge: loadKnowledge, keys: loadKeys, usage: loadUsage,
    health: loadHealth, traces: loadTraces })[page](arg);
}

// ---- playground ----
let modelsLoaded = false;
let pendingReplay = null; // a traced model call to load into the playground (from the Traces page)
async function loadPlayground() {
  listSaved();
  if (!modelsLoaded) {
    try {
      const models = (await api("GET", "models")).data.map((m) => m.id);
      for (const id of ["pg-model", "pg-compare"]) {
        const select = $(id);
        for (const m of models) select.append(el("option", m, { value: m }));
      }
      modelsLoaded = true;
    } catch (e) { notify("Could not list models: " + e.message, true); }
  }
  if (pendingReplay) applyReplay();
}

// A conversation's requests carry its id as their session id (`metadata.session_id`), which the gateway records
// on their spans: the Traces page's session filter lists a conversation's traces.
const playgroundSession = () => `playground-${conversation.id}`;

function requestBody(model) {
  const messages = [];
  const system = $("pg-system").value.trim();
  if (system) messages.push({ role: "system", content: system });
  messages.push(...conversation.messages, { role: "user", content: $("pg-prompt").value });
  const body = {
    model, messages, stream: true, stream_options: { include_usage: true },
    temperature: Number($("pg-temperature").value), top_p: Number($("pg-top-p").value),
    max_tokens: Number($("pg-max-tokens").value),
  };
  if ($("pg-seed").value !== "") body.seed = Number($("pg-seed").value);
  const schema = $("pg-schema").value.trim();
  if (schema) body.response_format = { type: "json_schema", json_schema: { name: "reply", schema: JSON.parse(schema) } };
  const tools = parseTools();
  if (tools) body.tools = tools;
  if ($("pg-tool-choice").value) body.tool_choice = $("pg-tool-choice").value;
  return body;
}

// The tools editor: a JSON array of {"type": "function", "function": {"name", ...}}; a mistake is shown under it.
class ToolsError extends Error {}
function parseTools() {
  const text = $("pg-tools").value.trim();
  const box = $("pg-tools");
  box.removeAttribute("aria-invalid"); $("pg-tools-error").textContent = "";
  if (!text) return null;
  const fail = (message) => {
    $("pg-advanced").open = true;
    box.setAttribute("aria-invalid", "true"); $("pg-tools-error").textContent = "Tools: " + message;
    throw new ToolsError("Tools: " + message);
  };
  let tools;
  try { tools = JSON.parse(text); } catch (e) { fail("not valid JSON (" + e.message + ")"); }
  if (!Array.isArray(tools)) fail("expected a JSON array of tools");
  tools.forEach((t, i) => {
    if (t?.type !== "function" || typeof t.function?.name !== "string" || !t.function.name) {
      fail(`item ${i + 1} needs "type": "function" and a "function" with a "name"`);
    }
  });
  return tools;
}

function resultPanel(model) {
  const box = el("article", undefined, { class: "result", "aria-label": "Reply from " + model });
  box.append(el("h2", model));
  const reply = el("div", "", { class: "reply", "aria-live": "polite" });
  const calls = el("ul", undefined, { class: "tool-calls", "aria-label": "Tool calls from " + model, hidden: "" });
  const stats = el("ul", undefined, { class: "stats" });
  box.append(reply, calls, stats);
  $("pg-results").append(box);
  return { reply, calls, stats };
}

function showToolCalls(list, calls) {
  list.hidden = calls.length === 0;
  list.replaceChildren(...calls.map((c) => el("li", `Tool call: ${c.name}(${c.arguments})`, { "data-tool": c.name })));
}

function showStats(stats, values) {
  stats.replaceChildren(...Object.entries(values).map(([k, v]) => el("li", `${k}: ${v}`, { "data-stat": k })));
}

// Server-sent events of a fetch response, as [event name ("message" unless named), data] per event.
async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replaceAll("\r\n", "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      let name = "message"; const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trim());
      }
      if (data.length) yield [name, data.join("\n")];
    }
  }
}

async function runOne(model, body) {
  const { reply, calls, stats } = resultPanel(model);
  const started = performance.now();
  let first = null; let text = ""; let usage = null; let chunks = 0;
  const toolCalls = [];
  const response = await fetch("/ui/api/chat", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body),
  });
  if (!response.ok) {
    const err = await response.json().catch(() => ({}));
    reply.textContent = "Error: " + (err?.error?.message || response.status);
    return null;
  }
  for await (const [, data] of sseEvents(response)) {
    if (data === "[DONE]") continue;
    const event = JSON.parse(data);
    if (event.error) { reply.textContent += "\nError: " + event.error.message; continue; }
    if (event.usage) usage = event.usage;
    for (const call of event.choices?.[0]?.delta?.tool_calls ?? []) {
      const slot = toolCalls[call.index ?? 0] ??= { name: "", arguments: "" };
      slot.name += call.function?.name ?? ""; slot.arguments += call.function?.arguments ?? "";
      if (first === null) first = performance.now() - started;
      showToolCalls(calls, toolCalls.filter(Boolean));
    }
    const delta = event.choices?.[0]?.delta?.content;
    if (delta) {
      if (first === null) first = performance.now() - started;
      text += delta; chunks += 1; reply.textContent = text;
      const seconds = (performance.now() - started - first) / 1000;
      showStats(stats, { TTFT: `${first.toFixed(0)} ms`, "tokens/s": seconds > 0 ? (chunks / seconds).toFixed(1) : "…" });
    }
  }
  const total = performance.now() - started;
  const tokens = usage?.completion_tokens ?? chunks;
  const genSeconds = (total - (first ?? total)) / 1000;
  showStats(stats, {
    TTFT: first === null ? "n/a" : `${first.toFixed(0)} ms`,
    "tokens/s": genSeconds > 0 && tokens > 0 ? (tokens / genSeconds).toFixed(1) : "n/a",
    latency: `${total.toFixed(0)} ms`,
    tokens: usage ? `${usage.prompt_tokens} in / ${usage.completion_tokens} out` : chunks ? `${chunks} chunks` : "n/a",
    cost: usage?.cost !== undefined ? `$${Number(usage.cost).toFixed(6)}` : "see Usage",
  });
  reply.hidden = !text && toolCalls.length > 0;
  if (!text && toolCalls.length) return toolCalls.filter(Boolean).map((c) => `Tool call: ${c.name}(${c.arguments})`).join("\n");
  return text;
}

async function send(event) {
  event.preventDefault();
  const models = [$("pg-model").value, $("pg-compare").value].filter(Boolean);
  let bodies;
  try { bodies = models.map((m) => ({ ...requestBody(m), metadata: { session_id: playgroundSession() } })); } catch (e) {
    $("pg-advanced").open = true;
    if (e instanceof ToolsError) { notify(e.message, true); $("pg-tools").focus(); } else { notify("JSON schema: " + e.message, true); $("pg-schema").focus(); }
    return;
  }
  $("pg-send").disabled = true;
  showHistory();
  $("pg-results").replaceChildren();
  notify("");
  try {
    const replies = await Promise.all(models.map((m, i) => runOne(m, bodies[i])));
    const traces = el("p", `Session ${playgroundSession()} · `);
    traces.append(el("a", "Traces of this conversation", { href: `#traces/session=${encodeURIComponent(playgroundSession())}` }));
    $("pg-results").append(traces);
    if (replies[0] !== null) {
      conversation.messages.push({ role: "user", content: $("pg-prompt").value }, { role: "assistant", content: replies[0] });
      conversation.title ||= $("pg-prompt").value.slice(0, 60);
      saveConversation();
      listSaved();
      $("pg-prompt").value = "";
    }
  } catch (e) { notify("Request failed: " + e.message, true); }
  finally { $("pg-send").disabled = false; }
}

function showHistory() {
  $("pg-history").replaceChildren(...conversation.messages.map((m) => {
    const item = el("li", undefined, { class: m.role });
    const who = { user: "You", assistant: "Assistant", system: "System", tool: "Tool" }[m.role] ?? m.role;
    item.append(el("b", who), typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? m.tool_calls ?? ""));
    return item;
  }));
}

function listSaved() {
  const select = $("pg-saved");
  select.replaceChildren(el("option", "(choose one to continue it)", { value: "" }),
    ...conversations().slice().reverse().map((c) => el("option", c.title || "(untitled)", { value: String(c.id) })));
}

function openSaved() {
  const found = conversations().find((c) => String(c.id) === $("pg-saved").value);
  if (!found) return;
  conversation = { id: found.id, title: found.title, messages: found.messages };
  $("pg-results").replaceChildren();
  showHistory();
}

function conversations() {
  try { return JSON.parse(localStorage.getItem(STORE) || "[]"); } catch { return []; }
}
function saveConversation() {
  const all = conversations().filter((c) => c.id !== conversation.id);
  all.push({ id: conversation.id, title: conversation.title, model: $("pg-model").value, messages: conversation.messages });
  localStorage.setItem(STORE, JSON.stringify(all.slice(-50)));
}

function snippet(kind) {
  const body = requestBody($("pg-model").value);
  const origin = location.origin;
  let text;
  if (kind === "curl") {
    text = `curl -N ${origin}/v1/chat/completions \\\n  -H "Authorization: Bearer $INFERSTACK_API_KEY" \\\n  -H "Content-Type: application/json" \\\n  -d '${JSON.stringify(body).replaceAll("'", "'\\''")}'`;
  } else {
    const { model, messages, ...rest } = body;
    text = `import os\nfrom openai import OpenAI\n\nclient = OpenAI(base_url="${origin}/v1", api_key=os.environ["INFERSTACK_API_KEY"])\n` +
      `stream = client.chat.completions.create(\n    model=${JSON.stringify(model)},\n    messages=${JSON.stringify(messages)},\n` +
      Object.entries(rest).map(([k, v]) => `    ${k}=${JSON.stringify(v).replace(/\btrue\b/g, "True").replace(/\bfalse\b/g, "False")},\n`).join("") +
      `)\nfor chunk in stream:\n    if chunk.choices and chunk.choices[0].delta.content:\n        print(chunk.choices[0].delta.content, end="", flush=True)\n`;
  }
  $("pg-snippet").textContent = text;
  $("pg-snippet").hidden = false;
  navigator.clipboard?.writeText(text).then(() => notify("Copied (the key is read from $INFERSTACK_API_KEY)."), () => notify("Select the snippet below to copy it."));
}

function exportConversations() {
  const blob = new Blob([JSON.stringify(conversations(), null, 2)], { type: "application/json" });
  const a = el("a", undefined, { href: URL.createObjectURL(blob), download: "conversations.json" });
  a.click();
  URL.revokeObjectURL(a.href);
}

async function importConversations(event) {
  const file = event.target.files[0];
  if (!file) return;
  try {
    const items = JSON.parse(await file.text());
    if (!Array.isArray(items)) throw new Error("expected a list of conversations");
    const clean = items.filter((c) => Array.isArray(c.messages)).map((c) => ({
      id: Number(c.id) || Date.now(), title: String(c.title || ""), model: String(c.model || ""),
      messages: c.messages.filter((m) => typeof m.content === "string" && ["user", "assistant", "system"].includes(m.role))
        .map((m) => ({ role: m.role, content: m.content })),
    }));
    localStorage.setItem(STORE, JSON.stringify([...conversations(), ...clean].slice(-50)));
    listSaved();
    notify(`Imported ${clean.length} conversation(s).`);
  } catch (e) { notify("Import failed: " + e.message, true); }
  event.target.value = "";
}

// ---- ask ----
function loadAsk() {
  $("ask-session").replaceChildren(...(askSession ? [`Session ${askSession}`] : []));
  if (askSession && role === "admin") {
    $("ask-session").append(" · ", el("a", "Traces of this session", { href: `#traces/session=${encodeURIComponent(askSession)}` }));
  }
}

const ms = (v) => `${Number(v).toFixed(0)} ms`;
function askBody() {
  const body = { question: $("ask-question").value };
  if (askSession) body.session_id = askSession;
  if ($("ask-web").value) body.use_web_search = $("ask-web").value === "true";
  return body;
}

function showAskFacts(data) {
  const facts = { route: data.route };
  if (data.relevance !== null && data.relevance !== undefined) facts.relevance = Number(data.relevance).toFixed(2);
  if (data.grade) facts.grade = `${data.grade.answerable ? "answerable" : "not answerable"} (${Number(data.grade.score).toFixed(2)})`;
  for (const [stage, value] of Object.entries(data.timings || {})) facts[stage.replace(/_ms$/, "")] = ms(value);
  $("ask-facts").replaceChildren(...Object.entries(facts).map(([k, v]) => el("li", `${k}: ${v}`, { "data-fact": k })));
}

function showAskTrace(traceId) {
  const line = $("ask-trace-line");
  line.replaceChildren();
  if (traceId) line.append(role === "admin" ? el("a", "Open its trace", { href: `#traces/${traceId}` }) : `Trace id ${traceId}`);
  line.hidden = !traceId;
}

function showAskSources(sources) {
  $("ask-sources").querySelector("tbody").replaceChildren(...(sources || []).map((s) =>
    row([s.source, s.kind, Number(s.score).toFixed(2), s.snippet])));
}

function showAskEvidence(evidence) {
  $("ask-evidence-part").hidden = evidence === undefined; // unknown until the plan arrives
  $("ask-evidence").replaceChildren(...(evidence || []).map((u) => el("li", `${u.source}: “${u.text}”`)));
  if (!(evidence || []).length) $("ask-evidence").append(el("li", "none"));
}

async function ask(event) {
  event.preventDefault();
  const body = askBody();
  $("ask-send").disabled = true;
  notify("Asking the agent …");
  try {
    if ($("ask-stream").checked) await askStreaming(body); else await askWhole(body);
  } catch (e) { notify("The agent could not answer: " + e.message, true); }
  finally { $("ask-send").disabled = false; }
}

async function askWhole(body) {
  const data = await api("POST", "ask", body);
  notify("");
  askSession = data.session_id; loadAsk();
  $("ask-answer").textContent = data.answer;
  showAskFacts(data);
  showAskTrace(data.trace_id);
  showAskSources(data.sources);
  showAskEvidence(data.evidence || []);
  $("ask-result").hidden = false;
}

// The agent's SSE events: trace (the console's), route (route, relevance, sources), token (repeated), done, error.
async function askStreaming(body) {
  const response = await fetch("/ui/api/ask/stream", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body),
  });
  if (!response.ok) {
    const err = await response.json().catch(() => ({}));
    if (response.status === 401) showSignIn();
    throw new Error(err?.error?.message || `HTTP ${response.status}`);
  }
  $("ask-answer").textContent = "";
  $("ask-facts").replaceChildren(); showAskSources([]); showAskEvidence(undefined); showAskTrace(null);
  $("ask-result").hidden = false;
  const started = performance.now();
  let answer = ""; let plan = {}; let first = null;
  const handle = (name, data) => {
    if (name === "trace") showAskTrace(data.trace_id);
    else if (name === "route") {
      plan = data; showAskFacts(plan); showAskSources(data.sources); showAskEvidence(data.evidence); notify("Answering …");
    }
    else if (name === "token") {
      if (first === null) first = performance.now() - started;
      answer += data.delta; $("ask-answer").textContent = answer;
    } else if (name === "done") {
      askSession = data.session_id; loadAsk();
      $("ask-answer").textContent = data.answer;
      // The agent's own first-token time when it reports one, else the time this page waited for the first token.
      showAskFacts({ ...plan, route: data.route, timings: { ...data.timings, first_token_ms: data.timings?.first_token_ms ?? first ?? 0 } });
      notify("");
    } else if (name === "error") notify("The agent failed mid-answer: " + (data.error?.message || "unknown error"), true);
  };
  for await (const [name, data] of sseEvents(response)) handle(name, JSON.parse(data));
}

// ---- knowledge ----
async function loadKnowledge() {
  if (!agentOn) return;
  if (role !== "admin") { notify("The knowledge base is managed with the master key.", true); return; }
  let data;
  try { data = await api("GET", "knowledge"); } catch (e) { notify("Could not list the knowledge base: " + e.message, true); return; }
  $("kb-totals").textContent = `${data.document_count} documents, ${data.chunk_count} chunks`;
  $("kb-table").querySelector("tbody").replaceChildren(...data.documents.map((d) => {
    const remove = el("button", "Remove", { type: "button", "aria-label": "Remove " + d.source });
    remove.addEventListener("click", () => removeSource(d.source));
    return row([d.source, d.chunks, d.root + (d.root_exists ? "" : " (missing)"), d.ingested_at, remove]);
  }));
}

async function removeSource(source) {
  if (!confirm(`Remove ${source} from the knowledge base?`)) return;
  try { const r = await api("POST", "knowledge/remove", { source }); notify(`Removed ${r.files_removed} file(s), ${r.chunks_removed} chunks.`); loadKnowledge(); }
  catch (e) { notify("Remove failed: " + e.message, true); }
}

function showJob(job) {
  const p = job.progress || {};
  const total = p.files_total || 0;
  $("kb-progress").max = Math.max(total, 1);
  $("kb-progress").value = job.status === "succeeded" ? Math.max(total, 1) : p.files_done || 0;
  $("kb-job-text").textContent = `${job.status}: ${p.files_done ?? 0} of ${total} files, ${p.chunks_written ?? 0} chunks written`
    + (job.error ? ` — ${job.error.message ?? JSON.stringify(job.error)}` : "");
}

async function ingest(event) {
  event.preventDefault();
  let job;
  try { job = await api("POST", "knowledge/ingest", { path: $("kb-path").value.trim(), force: $("kb-force").checked }); }
  catch (e) { notify("Ingest refused: " + e.message, true); return; }
  $("kb-job").hidden = false;
  $("kb-ingest").disabled = true;
  try {
    for (;;) {
      job = await api("GET", `knowledge/jobs/${job.job_id}`);
      showJob(job);
      if (["succeeded", "failed", "cancelled"].includes(job.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } catch (e) { notify("Lost track of the ingest job: " + e.message, true); }
  finally { $("kb-ingest").disabled = false; }
  loadKnowledge();
}

// ---- keys ----
const money = (v) => (v === null || v === undefined ? "—" : `$${Number(v).toFixed(4)}`);
async function loadKeys() {
  $("key-form").hidden = role !== "admin";
  $("key-table").querySelector("caption").textContent = role === "admin" ? "Keys" : "Your key";
  $("key-table").querySelector("thead th:last-child").hidden = role !== "admin";
  let data;
  try { data = await api("GET", "keys"); } catch (e) { notify("Could not load keys: " + e.message, true); return; }
  const body = $("key-table").querySelector("tbody");
  body.replaceChildren(...data.keys.filter((k) => !k.revoked).map((k) => {
    const name = k.key_alias || k.key_name || k.token.slice(0, 12);
    const actions = el("span");
    if (role === "admin") {
      const revoke = el("button", "Revoke", { type: "button", "aria-label": "Revoke key " + name });
      revoke.addEventListener("click", () => revokeKey(k.token, name));
      const edit = el("button", "Edit limits", { type: "button", "aria-label": "Edit limits of key " + name });
      edit.addEventListener("click", () => editKey(k, name));
      actions.append(edit, " ", revoke);
    }
    const remaining = k.max_budget === null ? "—" : money(Math.max(0, k.max_budget - k.spend));
    return row([name, k.models.length ? k.models.join(", ") : "all", money(k.spend), money(k.max_budget), remaining,
      k.rpm_limit ?? "—", k.tpm_limit ?? "—", k.expires ? new Date(k.expires * 1000).toISOString().slice(0, 16) : "never",
      ...(role === "admin" ? [actions] : [])]);
  }));
}

function keyFields() {
  const fields = {};
  const alias = $("key-alias").value.trim(); if (alias) fields.key_alias = alias;
  const models = $("key-models").value.split(",").map((s) => s.trim()).filter(Boolean); if (models.length) fields.models = models;
  if ($("key-budget").value) fields.max_budget = Number($("key-budget").value);
  if ($("key-rpm").value) fields.rpm_limit = Number($("key-rpm").value);
  if ($("key-tpm").value) fields.tpm_limit = Number($("key-tpm").value);
  const duration = $("key-duration").value.trim(); if (duration) fields.duration = duration;
  return fields;
}

async function createKey(event) {
  event.preventDefault();
  try {
    const made = await api("POST", "keys", keyFields());
    $("key-secret-value").textContent = made.key;
    $("key-secret").hidden = false;
    $("key-secret-copy").focus();
    $("key-form").reset();
    loadKeys();
  } catch (e) { notify("Could not create the key: " + e.message, true); }
}

function hideSecret() { $("key-secret-value").textContent = ""; $("key-secret").hidden = true; }

let editing = null; // the token of the key the form edits, or null when it creates one
function editKey(k, name) {
  editing = k.token;
  $("key-alias").value = k.key_alias ?? "";
  $("key-models").value = k.models.join(", ");
  $("key-budget").value = k.max_budget ?? "";
  $("key-rpm").value = k.rpm_limit ?? "";
  $("key-tpm").value = k.tpm_limit ?? "";
  $("key-duration").value = "";
  $("key-submit").textContent = "Save changes";
  $("key-cancel").hidden = false;
  $("key-editing").textContent = `Editing ${name}`;
  $("key-alias").focus();
}

function stopEditing() {
  editing = null;
  $("key-form").reset();
  $("key-submit").textContent = "Create key";
  $("key-cancel").hidden = true;
  $("key-editing").textContent = "";
}

async function saveKey(event) {
  if (editing === null) return createKey(event);
  event.preventDefault();
  const changes = { key: editing, ...keyFields(), models: $("key-models").value.split(",").map((s) => s.trim()).filter(Boolean) };
  try { await api("POST", "keys/update", changes); notify(`Saved ${changes.key_alias || "the key"}.`); stopEditing(); loadKeys(); }
  catch (e) { notify("Update failed: " + e.message, true); }
}

async function revokeKey(token, name) {
  if (!confirm(`Revoke key ${name}? Clients using it stop working at once.`)) return;
  try { await api("POST", "keys/revoke", { keys: [token] }); notify(`Revoked ${name}.`); loadKeys(); }
  catch (e) { notify("Revoke failed: " + e.message, true); }
}

// ---- usage ----
async function loadUsage() {
  const days = $("usage-days").value;
  $("usage-csv").href = `/ui/api/usage.csv?days=${days}`;
  let data;
  try { data = await api("GET", `usage?days=${days}`); } catch (e) { notify("Could not load usage: " + e.message, true); return; }
  const t = data.totals;
  $("usage-totals").textContent = `${t.requests} requests, ${t.prompt_tokens} prompt + ${t.completion_tokens} completion tokens, $${t.spend.toFixed(6)} spend`;
  const stamp = Date.now();
  $("usage-charts").replaceChildren(...[["model", "requests"], ["key", "spend"], ["day", "tokens"]].map(([by, measure]) =>
    el("img", undefined, { src: `/ui/api/usage/chart.svg?by=${by}&measure=${measure}&days=${days}&t=${stamp}`, alt: `Chart: ${measure} by ${by}` })));
  const tables = ["model", "key", "day"].map((by) => {
    const wrap = el("div", undefined, { class: "table-wrap" });
    const table = el("table", undefined, { "data-by": by });
    table.append(el("caption", `By ${by}`));
    const head = el("tr");
    for (const h of [by, "requests", "tokens", "spend"]) head.append(el("th", h, { scope: "col" }));
    table.append(el("thead"), el("tbody"));
    table.tHead.append(head);
    table.tBodies[0].append(...data.by[by].map((r) => row([r.name, r.requests, r.tokens, `$${r.spend.toFixed(6)}`])));
    wrap.append(table);
    return wrap;
  });
  $("usage-tables").replaceChildren(...tables);
}

// ---- health ----
// A deployment's newest failure and how long ago it was (an old one, from before it recovered, reads as old).
function lastError(d) {
  if (!d.last_error) return "";
  if (!d.last_error_at) return d.last_error;
  const s = Math.max(0, Date.now() / 1000 - d.last_error_at);
  const ago = s < 60 ? `${Math.round(s)} s` : s < 3600 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
  return `${d.last_error} (${ago} ago)`;
}

async function loadHealth() {
  const refresh = async () => {
    if (document.hidden) return;
    let data;
    try { data = await api("GET", "health"); } catch (e) { notify("Could not load health: " + e.message, true); return; }
    $("health-services").querySelector("tbody").replaceChildren(...data.services.map((svc) => {
      const good = svc.state === "ok";
      return row([svc.name, el("span", svc.state, { class: good ? "state-healthy" : "state-bad" }), svc.detail ?? "",
        svc.url ?? (svc.via ? `reported by the ${svc.via}` : "")]);
    }));
    $("health-agent-note").hidden = data.agent_configured;
    const rows = [];
    for (const [model, group] of Object.entries(data.deployments)) {
      for (const d of group) {
        const state = !d.healthy ? "unhealthy" : d.cooling_down_s > 0 ? `cooling down (${d.cooling_down_s}s)` : "healthy";
        rows.push(row([d.mode && d.mode !== "chat" ? `${model} (${d.mode})` : model, d.id, d.api_base, el("span", state, { class: state === "healthy" ? "state-healthy" : "state-bad" }),
          d.in_flight, d.latency_ms === null || d.latency_ms === undefined ? "—" : Number(d.latency_ms).toFixed(1), lastError(d)]));
      }
    }
    $("health-deployments").querySelector("tbody").replaceChildren(...rows);
    $("health-servers").querySelector("tbody").replaceChildren(...data.servers.map((s) => {
      const m = s.metrics || {};
      const h = s.health || {};
      const detail = [h.status, h.model ? `model ${h.model}` : null, h.slots_idle !== undefined ? `idle slots ${h.slots_idle}` : null].filter(Boolean).join(", ");
      return row([s.url, s.reachable ? "yes" : "no", m["vllm:num_requests_running"] ?? "—", m["vllm:num_requests_waiting"] ?? "—",
        m["vllm:kv_cache_usage_perc"] !== undefined ? `${(m["vllm:kv_cache_usage_perc"] * 100).toFixed(1)}%` : "—", detail || (s.status ?? "")]);
    }));
    $("health-updated").textContent = "Updated " + new Date().toLocaleTimeString();
  };
  await refresh();
  healthTimer = setInterval(refresh, 5000);
}

// ---- traces ----
function linkOut(link) {
  return el("a", link.name, { href: link.url, target: "_blank", rel: "noopener noreferrer", "aria-label": `Open in ${link.name} (new tab)` });
}

async function loadTraces(openId) {
  if (openId?.startsWith("session=")) { $("traces-session").value = decodeURIComponent(openId.slice(8)); openId = null; }
  const session = $("traces-session").value.trim();
  let data;
  try { data = await api("GET", "traces" + (session ? `?session=${encodeURIComponent(session)}` : "")); }
  catch (e) { notify("Could not load traces: " + e.message, true); return; }
  $("traces-off").hidden = data.enabled;
  const linked = data.links.length > 0;
  for (const cell of document.querySelectorAll("#trace-table .links-col")) cell.hidden = !linked;
  const whose = role === "admin" ? "" : " of your key";
  $("trace-table").querySelector("caption").textContent = session ? `Traces${whose} in session ${session}` : `Newest traces${whose}`;
  $("trace-table").querySelector("tbody").replaceChildren(...data.traces.map((t) => {
    const open = el("button", "Show", { type: "button", "aria-label": `Show trace ${t.root_name} ${t.trace_id.slice(0, 8)}` });
    open.addEventListener("click", () => showTrace(t));
    let sessionCell = "";
    if (t.session_id) {
      sessionCell = el("button", t.session_id, { type: "button", class: "linkish", "aria-label": `Only traces of session ${t.session_id}` });
      sessionCell.addEventListener("click", () => { $("traces-session").value = t.session_id; loadTraces(); });
    }
    const links = el("span", undefined, { class: "links" });
    links.append(...t.links.map(linkOut));
    const cells = [new Date(t.start_s * 1000).toLocaleTimeString(), t.root_name, t.service, sessionCell,
      t.duration_ms.toFixed(1), t.span_count, open];
    const tr = row(linked ? [...cells, links] : cells);
    return tr;
  }));
  if (!data.traces.length) {
    const empty = el("td", session ? "No traces of this session." : "No traces yet.", { colspan: linked ? "8" : "7" });
    const tr = el("tr"); tr.append(empty);
    $("trace-table").querySelector("tbody").append(tr);
  }
  if (openId && /^[0-9a-f]{4,32}$/i.test(openId)) showTrace(data.traces.find((t) => t.trace_id === openId) ?? { trace_id: openId, root_name: "" });
}

async function showTrace(t) {
  let data;
  try { data = await api("GET", `traces/${t.trace_id}`); } catch (e) { notify("Could not load the trace: " + e.message, true); return; }
  $("trace-title").textContent = `Trace ${t.trace_id.slice(0, 16)}` + (t.root_name ? ` (${t.root_name})` : "");
  $("trace-waterfall").src = `/ui/api/traces/${t.trace_id}/waterfall.svg`;
  $("trace-links").replaceChildren(...data.links.map(linkOut));
  $("trace-links").hidden = data.links.length === 0;
  $("span-table").querySelector("tbody").replaceChildren(...data.spans.map((s) => {
    let action = "";
    if (s.replayable) {
      action = el("button", "Replay in playground", { type: "button", "aria-label": `Replay ${s.name} in the playground` });
      action.addEventListener("click", () => replaySpan(s));
    }
    return row([s.name, s.service, s.duration_ms.toFixed(1), s.status, el("div", JSON.stringify(s.attributes, null, 1), { class: "attrs" }), action]);
  }));
  $("trace-detail").hidden = false;
  $("trace-title").focus();
}

const text = (content) => (typeof content === "string" ? content : JSON.stringify(content ?? ""));

// Loads a model call's captured request into the playground: system messages into the system prompt, the last
// user message into the message box, everything between as the conversation so far (a new conversation).
async function replaySpan(span) {
  let data;
  try { data = await api("GET", `traces/${span.trace_id}/spans/${span.span_id}/replay`); }
  catch (e) { notify("Could not replay the span: " + e.message, true); return; }
  pendingReplay = { request: data.request, span };
  location.hash = "#playground"; // the route loads the playground, which applies the pending replay
}

function applyReplay() {
  const { request: r, span } = pendingReplay;
  pendingReplay = null;
  const messages = r.messages.slice();
  const last = messages.length && messages[messages.length - 1].role === "user" ? messages.pop() : null;
  const select = $("pg-model");
  if (![...select.options].some((o) => o.value === r.model)) select.append(el("option", r.model, { value: r.model }));
  select.value = r.model;
  $("pg-compare").value = "";
  $("pg-system").value = messages.filter((m) => m.role === "system").map((m) => text(m.content)).join("\n\n");
  $("pg-prompt").value = last ? text(last.content) : "";
  $("pg-temperature").value = r.temperature ?? 0.7;
  $("pg-top-p").value = r.top_p ?? 1;
  $("pg-max-tokens").value = r.max_tokens ?? 128;
  $("pg-seed").value = r.seed ?? "";
  const schema = r.response_format?.json_schema?.schema;
  $("pg-schema").value = schema ? JSON.stringify(schema, null, 2) : "";
  $("pg-tools").value = r.tools ? JSON.stringify(r.tools, null, 2) : "";
  $("pg-tool-choice").value = typeof r.tool_choice === "string" ? r.tool_choice : "";
  $("pg-advanced").open = Boolean(schema || r.tools);
  conversation = { id: Date.now(), title: "", messages: messages.filter((m) => m.role !== "system") };
  $("pg-results").replaceChildren();
  showHistory();
  notify(`Loaded the request of span ${span.name} (trace ${span.trace_id.slice(0, 8)}); edit it or press Send.`);
  $("pg-prompt").focus();
}

// ---- wiring ----
$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("signin-key");
  try {
    const session = await api("POST", "session", { key: input.value });
    input.value = "";
    signedIn(session);
  } catch (e) { input.value = ""; notify("Sign-in failed: " + e.message, true); input.focus(); }
});
$("sign-out").addEventListener("click", async () => {
  try { await api("DELETE", "session"); } catch { /* signed out either way */ }
  modelsLoaded = false;
  for (const id of ["pg-model", "pg-compare"]) $(id).replaceChildren(...(id === "pg-compare" ? [el("option", "(none)", { value: "" })] : []));
  showSignIn();
  notify("Signed out.");
});
$("pg-form").addEventListener("submit", send);
$("pg-new").addEventListener("click", () => { conversation = { id: Date.now(), title: "", messages: [] }; $("pg-results").replaceChildren(); showHistory(); notify("New conversation."); });
$("pg-saved").addEventListener("change", openSaved);
$("pg-curl").addEventListener("click", () => snippet("curl"));
$("pg-python").addEventListener("click", () => snippet("python"));
$("pg-export").addEventListener("click", exportConversations);
$("pg-import").addEventListener("change", importConversations);
$("ask-form").addEventListener("submit", ask);
$("ask-new").addEventListener("click", () => { askSession = null; loadAsk(); $("ask-result").hidden = true; notify("New session."); });
$("kb-form").addEventListener("submit", ingest);
$("key-form").addEventListener("submit", saveKey);
$("key-cancel").addEventListener("click", stopEditing);
$("key-secret-copy").addEventListener("click", () => navigator.clipboard?.writeText($("key-secret-value").textContent).then(() => notify("Key copied."), () => notify("Select the key to copy it.")));
$("key-secret-done").addEventListener("click", hideSecret);
$("usage-days").addEventListener("change", loadUsage);
$("traces-refresh").addEventListener("click", () => loadTraces());
$("traces-filter").addEventListener("submit", (event) => { event.preventDefault(); loadTraces(); });
$("traces-all").addEventListener("click", () => { $("traces-session").value = ""; loadTraces(); });
window.addEventListener("hashchange", () => { hideSecret(); route(); });

api("GET", "session").then(signedIn, showSignIn);
