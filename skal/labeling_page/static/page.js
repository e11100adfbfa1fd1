// The labeling page: answers and reviews go to the server one at a time; the
// server saves each before it replies, so the page holds nothing to lose.
"use strict";

const config = JSON.parse(document.getElementById("config").textContent);
const classes = config.classes;          // null: any label (a text field)
const keys = config.keys;                // one key per class, or null
const $ = (id) => document.getElementById(id);

let view = "label";
let batch = null;        // last /api/batch answer
let undoDepth = -1;      // -1: labeling; k >= 0: changing the k-th latest answer
let review = null;       // last /api/review answer
let selected = 0;        // selected review card
let busy = false;        // one request at a time: no double answers

async function call(method, url, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function showError(err) {
  $("error").hidden = !err;
  $("error").textContent = err ? String(err.message || err) : "";
}

async function guarded(work) {
  if (busy) return;
  busy = true;
  try { showError(null); await work(); } catch (err) { showError(err); } finally { busy = false; }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

function thumb(item, caption, extraClass = "") {
  const body = item.image ? el("img", { src: item.image, alt: item.id })
                          : el("div", { class: "snippet", text: item.text || item.id });
  return el("div", { class: "thumb " + extraClass, title: "id " + item.id }, body,
            caption === undefined ? null : el("b", { text: String(caption) }));
}

function keyButtons(onPick, current) {
  const box = el("div", { class: "keys" });
  if (!classes) return box;
  classes.forEach((c, k) => {
    const cls = "key" + (current !== undefined && String(current) === String(c) ? " current" : "");
    box.append(el("button", { class: cls, "data-class": String(c), type: "button",
                              onclick: (e) => { e.stopPropagation(); onPick(c); } },
                  keys && keys[k] ? el("kbd", { text: keys[k] }) : null, String(c)));
  });
  return box;
}

function classOfKey(key) {
  if (!keys) return undefined;
  const k = keys.indexOf(key.toLowerCase());
  return k < 0 ? undefined : classes[k];
}

// ------------------------------------------------------------------ header
function showProgress(status, summary) {
  const done = status.round_open ? status.round_bought : 0;
  const share = status.round_budget ? done / status.round_budget : 0;
  $("bar-fill").style.width = Math.round(100 * share) + "%";
  $("progress-text").textContent =
    `round ${status.round + (status.round_open ? 1 : 0)} of ${status.n_rounds_planned}: ` +
    `${done} of ${status.round_budget} labels · ${status.n_labeled} of ${status.n_pool} labeled`;
  $("n-flagged").textContent = summary.n_flagged;
  const pct = (x) => (x === null ? "n/a" : (100 * x).toFixed(1) + "%");
  $("noise").textContent = `estimated noise rate: ${pct(summary.noise_rate_before_review)} ` +
    `before review, ${pct(summary.noise_rate_after_review)} after ` +
    `(${summary.n_reviewed} reviewed: ${summary.n_kept} kept, ${summary.n_changed} changed)`;
}

// ------------------------------------------------------------------ label view
function showItem(item) {
  $("item").hidden = !item;
  if (!item) return;
  $("item-image-box").hidden = !item.image;
  if (item.image) $("item-image").src = item.image;
  $("item-text").hidden = item.text === null;
  $("item-text").textContent = item.text || "";
  $("item-id").textContent = "id " + item.id;
}

function renderLabel() {
  if (!batch) return;
  showProgress(batch.status, batch.review);
  const target = undoDepth >= 0 ? batch.recent[undoDepth] : batch.items[0];
  $("undo-banner").hidden = undoDepth < 0;
  if (undoDepth >= 0) {
    $("undo-banner").textContent = `Changing your answer "${target.label}" for id ${target.id}: ` +
      "press the right key (Esc keeps it, Backspace goes further back).";
  }
  showItem(target);
  $("done").hidden = !!target;
  if (!target) {
    $("done").textContent = batch.pool_labeled ? "Every item of the pool is labeled. Thank you!"
                                               : "Choosing the next items…";
  }
  const keysBox = keyButtons(pick, target && undoDepth >= 0 ? target.label : undefined);
  keysBox.id = "keys";
  $("keys").replaceWith(keysBox);
  $("free-label").hidden = !!classes || !target;
  $("batch").replaceChildren(...batch.items.map((it, k) => thumb(it, undefined,
    k === 0 && undoDepth < 0 ? "current" : "")));
  $("recent").replaceChildren(...batch.recent.map((it, k) => thumb(it, it.label,
    k === undoDepth ? "current" : "")));
}

async function loadBatch() {
  batch = await call("GET", "api/batch");
  if (!batch.items.length && !batch.pool_labeled) {
    renderLabel();
    batch = await call("POST", "api/query", {});
  }
  renderLabel();
}

function pick(label) {
  guarded(async () => {
    if (undoDepth >= 0) {
      const target = batch.recent[undoDepth];
      batch = await call("POST", "api/undo", { id: target.id, label });
      undoDepth = -1;
      renderLabel();
      return;
    }
    const item = batch.items[0];
    if (!item) return;
    batch = await call("POST", "api/answer", { id: item.id, label });
    if (!batch.items.length && !batch.pool_labeled) {
      renderLabel();
      batch = await call("POST", "api/query", {});
    }
    renderLabel();
  });
}

// ------------------------------------------------------------------ review view
function renderReview() {
  showProgress(review.status, review.review);
  const list = $("review-list");
  list.replaceChildren();
  if (!review.items.length) list.append(el("p", { text: "Nothing to review: the filter doubts no unreviewed label." }));
  selected = Math.min(selected, Math.max(review.items.length - 1, 0));
  review.items.forEach((row, k) => {
    const main = el("div", { class: "main" },
      row.image ? el("img", { src: row.image, alt: row.id }) : el("pre", { class: "text", text: row.text || "" }),
      el("div", { class: "label", text: "labeled " + row.label }),
      el("div", { class: "score", text: "clean score " + row.clean_score.toFixed(2) }),
      el("div", { class: "item-id", text: "id " + row.id }));
    const near = el("div", { class: "strip" },
      ...row.neighbours.map((n) => thumb(n, n.label, n.clean ? "" : "doubted")));
    const right = el("div", { class: "right" }, el("div", { class: "hint", text: "nearest labeled items:" }),
      near, keyButtons((label) => relabel(k, label), row.label));
    list.append(el("div", { class: "card" + (k === selected ? " selected" : ""), "data-id": row.id,
                            onclick: () => { selected = k; renderReview(); } }, main, right));
  });
  $("reviewed").tBodies[0].replaceChildren(...review.reviewed.map((r) => el("tr", {},
    el("td", {}, r.image ? el("img", { src: r.image, alt: r.id }) : document.createTextNode(r.text || "")),
    el("td", { text: r.id }), el("td", { text: String(r.old) }), el("td", { text: String(r.new) }),
    el("td", { class: r.kept ? "kept" : "changed", text: r.kept ? "kept" : "changed" }))));
}

async function loadReview() {
  review = await call("GET", "api/review?limit=50&k=5");
  renderReview();
}

function relabel(k, label) {
  guarded(async () => {
    const row = review.items[k];
    if (!row) return;
    await call("POST", "api/relabel", { id: row.id, label });
    selected = k;
    await loadReview();
  });
}

// ------------------------------------------------------------------ navigation and keys
function show(name) {
  view = name;
  for (const v of ["label", "review"]) {
    $("view-" + v).hidden = v !== name;
    $("tab-" + v).classList.toggle("active", v === name);
  }
  guarded(name === "label" ? loadBatch : loadReview);
}

document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));

$("free-label").addEventListener("submit", (e) => {
  e.preventDefault();
  const value = $("free-input").value.trim();
  if (value) { $("free-input").value = ""; pick(value); }
});

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || e.target.tagName === "INPUT") return;
  if (view === "label" && batch) {
    if (e.key === "Backspace") {
      e.preventDefault();
      if (undoDepth + 1 < batch.recent.length) { undoDepth += 1; renderLabel(); }
      return;
    }
    if (e.key === "Escape") { undoDepth = -1; renderLabel(); return; }
    const label = classOfKey(e.key);
    if (label !== undefined) { e.preventDefault(); pick(label); }
  } else if (view === "review" && review && review.items.length) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      selected = Math.max(0, Math.min(review.items.length - 1, selected + (e.key === "ArrowDown" ? 1 : -1)));
      renderReview();
      return;
    }
    if (e.key === "Enter") { e.preventDefault(); relabel(selected, review.items[selected].label); return; }
    const label = classOfKey(e.key);
    if (label !== undefined) { e.preventDefault(); relabel(selected, label); }
  }
});

show("label");
