// pixgrade labelling page: one image (grades 0-5) or two (pairs) at a time, keyboard first.
// Every judgement is POSTed at once to /v1/label/judgements; nothing is kept only in the page.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = { item: null, busy: false };

function annotator() { return $("annotator").value.trim(); }
function mode() { return $("mode").value; }

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || response.statusText);
  return data;
}

function say(text) { $("message").textContent = text || ""; }

async function refreshStatus() {
  const who = annotator();
  const status = await api("/v1/label/status" + (who ? "?annotator=" + encodeURIComponent(who) : ""));
  const mine = status.mine || { grades: 0, pairs: 0, skips: 0, recent: [] };
  const progress = $("progress");
  progress.dataset.mine = String(mine.grades + mine.pairs);
  progress.dataset.graded = String(status.graded_images);
  progress.textContent = `you: ${mine.grades} grades, ${mine.pairs} pairs · all: ${status.graded_images} of ${status.images} graded, ` +
    `${status.to_grade} to go · ${status.strategy}` + (status.features.ready ? "" : ` (features ${status.features.done}/${status.features.total})`);
  const recent = $("recent");
  recent.innerHTML = "";
  for (const j of mine.recent) {
    const li = document.createElement("li");
    li.className = "judgement";
    li.dataset.kind = j.kind;
    li.dataset.sha256 = j.sha256;
    li.dataset.value = j.value === null ? "" : String(j.value);
    const what = j.kind === "grade" ? `grade ${j.value}` : j.kind === "pair" ? (j.value === 0.5 ? "about equal" : j.value === 1 ? "left better" : "right better") : "skipped";
    li.textContent = `${what} · ${j.sha256.slice(0, 10)}`;
    recent.appendChild(li);
  }
}

async function refreshAgreement() {
  const rows = await api("/v1/label/agreement");
  const shown = rows.filter((r) => r.grade_srcc !== null || r.pair_agreement !== null);
  if (!shown.length) { $("agreement").textContent = "no overlap between annotators yet"; return; }
  const fmt = (v) => (v === null ? "–" : v.toFixed(2));
  const ci = (c) => (c ? ` [${fmt(c[0])}, ${fmt(c[1])}]` : "");
  $("agreement").innerHTML = "<table><tr><th>annotator</th><th>grades vs others (SRCC, 95 % CI)</th><th>pairs agree</th><th>bias</th></tr>" +
    shown.map((r) => `<tr><td>${escapeHtml(r.annotator)}</td><td>${fmt(r.grade_srcc)}${ci(r.grade_srcc_ci)} (${r.grade_overlap})</td>` +
      `<td>${fmt(r.pair_agreement)}${ci(r.pair_agreement_ci)} (${r.pair_overlap})</td><td>${r.bias >= 0 ? "+" : ""}${r.bias.toFixed(2)}</td></tr>`).join("") + "</table>";
}

function show(item) {
  state.item = item;
  const single = item.kind === "grade";
  $("grade-view").hidden = !single || !item.images.length;
  $("pair-view").hidden = single || !item.images.length;
  document.body.dataset.itemKind = item.kind;
  document.body.dataset.itemSha = item.images.map((i) => i.sha256).join(",");
  if (!item.images.length) { say("Nothing left to judge in this mode. Thank you!"); return; }
  if (single) {
    $("single").src = item.images[0].url;
    $("single-name").textContent = item.images[0].name;
  } else {
    $("left").src = item.images[0].url;
    $("right").src = item.images[1].url;
    $("left-name").textContent = item.images[0].name;
    $("right-name").textContent = item.images[1].name;
  }
}

async function next() {
  if (!annotator()) { say("Type your name to start."); return; }
  const item = await api(`/v1/label/next?annotator=${encodeURIComponent(annotator())}&mode=${mode()}`);
  show(item);
  document.body.dataset.ready = "1";
}

async function judge(kind, value) {
  if (state.busy || !state.item || !state.item.images.length || !annotator()) return;
  state.busy = true;
  try {
    const [first, second] = state.item.images;
    await api("/v1/label/judgements", {
      annotator: annotator(), kind, sha256: first.sha256,
      other_sha256: second && kind !== "grade" ? second.sha256 : null, value,
    });
    say("");
    document.body.dataset.ready = "";
    await refreshStatus();
    await next();
    refreshAgreement().catch(() => {});
  } catch (error) { say("Not saved: " + error.message); } finally { state.busy = false; }
}

async function undo() {
  if (state.busy || !annotator()) return;
  state.busy = true;
  try {
    const result = await api("/v1/label/undo", { annotator: annotator() });
    say(result.undone ? "Undone." : "Nothing to undo.");
    await refreshStatus();
  } catch (error) { say("Undo failed: " + error.message); } finally { state.busy = false; }
}

function skip() { if (state.item && state.item.images.length) judge("skip", null); }
function zoom() { document.body.classList.toggle("zoom"); }

document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
  const kind = state.item ? state.item.kind : null;
  if (kind === "grade" && /^[0-5]$/.test(event.key)) { judge("grade", Number(event.key)); event.preventDefault(); return; }
  if (kind === "pair" && event.key === "ArrowLeft") { judge("pair", 1); event.preventDefault(); return; }
  if (kind === "pair" && event.key === "ArrowRight") { judge("pair", 0); event.preventDefault(); return; }
  if (kind === "pair" && (event.key === "ArrowDown" || event.key === "e")) { judge("pair", 0.5); event.preventDefault(); return; }
  if (event.key === "s") skip();
  else if (event.key === "u" || event.key === "Backspace") { undo(); event.preventDefault(); }
  else if (event.key === "z") zoom();
});

for (const button of document.querySelectorAll("[data-grade]")) button.addEventListener("click", () => judge("grade", Number(button.dataset.grade)));
$("pick-left").addEventListener("click", () => judge("pair", 1));
$("pick-right").addEventListener("click", () => judge("pair", 0));
$("pick-equal").addEventListener("click", () => judge("pair", 0.5));
$("skip").addEventListener("click", skip);
$("undo").addEventListener("click", undo);
$("zoom").addEventListener("click", zoom);

function start() {
  localStorage.setItem("pixgrade-annotator", annotator());
  localStorage.setItem("pixgrade-mode", mode());
  refreshStatus().then(next).catch((error) => say(error.message));
}
$("annotator").addEventListener("change", start);
$("mode").addEventListener("change", start);

(async function init() {
  const status = await api("/v1/label/status");
  $("annotator").value = params.get("annotator") || localStorage.getItem("pixgrade-annotator") || "";
  $("mode").value = params.get("mode") || localStorage.getItem("pixgrade-mode") || status.mode;
  api("/v1/label/standard").then((s) => { $("standard").innerHTML = s.html; }).catch(() => { $("standard").textContent = "standard unavailable"; });
  refreshAgreement().catch(() => {});
  start();
})();
