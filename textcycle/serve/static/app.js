// The textcycle page: one POST /v1/rewrite per click; every text goes into the page as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let models = [];
let limits = null;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function lines() {
  return $("texts").value.split("\n").map((s) => s.trim()).filter((s) => s.length > 0);
}

function updateCount() {
  const n = lines().length;
  const cap = limits ? ` (at most ${limits.max_texts} lines, ${limits.max_chars} characters each)` : "";
  $("count").textContent = n ? `${n} sentence${n === 1 ? "" : "s"}${cap}` : "";
}

function fillStyles() {
  const model = models.find((m) => m.name === $("model").value);
  const to = $("to");
  to.replaceChildren(el("option", null, "auto (the other style)"));
  to.firstChild.value = "";
  for (const name of model ? model.style_names : []) {
    const opt = el("option", null, name);
    opt.value = name;
    to.appendChild(opt);
  }
}

async function loadModels(attempt = 0) {
  try {
    const response = await fetch("/v1/models");
    const data = await response.json();
    if (response.status === 503 && attempt < 120) {  // still loading: ask again
      $("status").textContent = data.error || "the server is loading its models…";
      setTimeout(() => loadModels(attempt + 1), 1000);
      return;
    }
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    models = data.models;
    limits = data.limits;
    const select = $("model");
    select.replaceChildren();
    for (const m of models) {
      const opt = el("option", null, `${m.name} (${m.style_names.join(" / ")})`);
      opt.value = m.name;
      opt.selected = m.default;
      select.appendChild(opt);
    }
    fillStyles();
    updateCount();
    $("status").textContent = "";
    $("go").disabled = false;
  } catch (err) {
    showError(`Cannot reach the API: ${err.message}`);
  }
}

function probabilityBar(p) {
  const bar = el("span", "bar");
  const fill = el("span");
  fill.style.width = `${Math.round(p * 100)}%`;
  bar.appendChild(fill);
  if (p < 0.5) bar.classList.add("low");
  bar.setAttribute("role", "img");
  bar.setAttribute("aria-label", `style probability ${Math.round(p * 100)}%`);
  return bar;
}

function renderResult(r) {
  const li = el("li", "result");
  li.dataset.detected = r.detected_style || "";
  li.dataset.target = r.target_style || "";
  const src = el("div", "source");
  src.append(el("div", "label", "source"), el("div", "text", r.source));
  const out = el("div", "rewrite");
  out.append(el("div", "label", "rewrite"), el("div", "text", r.rewrite));
  const meta = el("div", "meta");
  if (r.detected_style) {
    meta.append(el("span", null, "detected "), el("span", "style detected", r.detected_style),
                el("span", null, "→"), el("span", "style target", r.target_style));
  }
  if (typeof r.style_probability === "number") {
    meta.append(probabilityBar(r.style_probability),
                el("span", "probability", `${(r.style_probability * 100).toFixed(1)}% ${r.target_style}`));
  }
  li.append(src, out, meta);
  if (r.unchanged) li.appendChild(el("div", "note", `unchanged: ${r.reason}`));
  if (r.candidates && r.candidates.length) {
    const details = el("details");
    details.appendChild(el("summary", null, `${r.candidates.length} alternative${r.candidates.length === 1 ? "" : "s"} with scores`));
    const list = el("ol", "candidates");
    for (const c of r.candidates) {
      const item = el("li", null, c.text);
      item.appendChild(el("span", "score", c.score.toFixed(3)));
      list.appendChild(item);
    }
    details.appendChild(list);
    li.appendChild(details);
  }
  return li;
}

async function rewrite(event) {
  event.preventDefault();
  showError("");
  const texts = lines();
  if (!texts.length) {
    showError("Type or paste a sentence first (one per line).");
    return;
  }
  const body = {texts, model: $("model").value || null, to: $("to").value || null,
                rerank: Number($("rerank").value)};
  const button = $("go");
  button.disabled = true;
  $("status").textContent = "rewriting…";
  const t0 = performance.now();
  try {
    const response = await fetch("/v1/rewrite", {
      method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    let data;
    try {
      data = await response.json();
    } catch {
      data = {error: `HTTP ${response.status} (no JSON answer)`};
    }
    if (!response.ok) {
      showError(data.error || `HTTP ${response.status}`);
      $("status").textContent = "";
      return;
    }
    $("results").replaceChildren(...data.results.map(renderResult));
    const ms = Math.round(performance.now() - t0);
    $("status").textContent = `${data.results.length} rewritten by ${data.model} in ${ms} ms`;
  } catch (err) {
    showError(`The request failed: ${err.message}`);
    $("status").textContent = "";
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("go").disabled = true;
  $("form").addEventListener("submit", rewrite);
  $("model").addEventListener("change", fillStyles);
  $("texts").addEventListener("input", updateCount);
  loadModels();
});
