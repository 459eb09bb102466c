/* pixgrade web page: upload photos, show score, grade, factor bars, reasons, rule verdicts and heatmaps.
   Plain JavaScript, no dependencies; talks only to this server's /v1 API. */
"use strict";

(function () {
  const FACTOR_LABELS = {
    sharpness: "Sharpness",
    noise: "Noise",
    exposure: "Exposure",
    contrast: "Contrast",
    colourfulness: "Colour",
    blockiness: "Compression",
    resolution: "Resolution",
    aspect_ratio: "Aspect ratio",
    background: "Background",
    fill: "Product fill",
    centring: "Centring",
  };
  const GRADE_WORDS = ["Unusable", "Poor", "Weak", "Acceptable", "Good", "Excellent"];
  const CONCURRENCY = 3;

  const $ = (sel, root) => (root || document).querySelector(sel);
  const state = { health: null, factorInfo: {}, items: [], queue: [], active: 0, seq: 0 };

  const els = {
    status: $("#service-status"),
    drop: $("#dropzone"),
    input: $("#file-input"),
    heat: $("#opt-heatmap"),
    sort: $("#opt-sort"),
    keyField: $("#key-field"),
    key: $("#opt-key"),
    csv: $("#btn-csv"),
    clear: $("#btn-clear"),
    summary: $("#summary"),
    results: $("#results"),
    template: $("#card-template"),
  };

  function label(name) {
    return FACTOR_LABELS[name] || name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
  }

  function gradeClass(grade) {
    if (grade === null || grade === undefined) return "";
    if (grade >= 4) return "g-good";
    if (grade === 3) return "g-ok";
    if (grade === 2) return "g-poor";
    return "g-bad";
  }

  function formatBytes(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + " MB";
    return Math.max(1, Math.round(n / 1024)) + " KB";
  }

  // ---- service status -------------------------------------------------------------------------------------------
  async function loadHealth() {
    try {
      const res = await fetch("/v1/health", { headers: { Accept: "application/json" } });
      const h = await res.json();
      state.health = h;
      const up = h.status === "ok";
      const model = h.model === "none" ? "factor measures only" : "model: " + h.model;
      const policy = h.policy ? " · policy: " + h.policy : "";
      els.status.innerHTML = "";
      const dot = document.createElement("span");
      dot.className = "dot " + (up ? "up" : "down");
      els.status.append(dot, document.createTextNode((up ? "ready · " : "unavailable · ") + model + policy));
      els.keyField.hidden = !h.auth_required;
      if (!h.heatmaps) {
        els.heat.checked = false;
        els.heat.disabled = true;
        els.heat.parentElement.title = "this server has no model that can draw heatmaps";
      }
    } catch (err) {
      els.status.textContent = "cannot reach the service";
    }
    try {
      const res = await fetch("/v1/factors");
      if (res.ok) for (const f of await res.json()) state.factorInfo[f.name] = f;
    } catch (err) {
      /* tooltips are optional */
    }
  }

  // ---- uploads --------------------------------------------------------------------------------------------------
  function addFiles(fileList) {
    const files = Array.from(fileList || []);
    for (const file of files) {
      const item = { id: ++state.seq, file, url: URL.createObjectURL(file), data: null, error: null, done: false };
      item.card = renderPending(item);
      state.items.push(item);
      const limit = state.health && state.health.max_upload_bytes;
      if (limit && file.size > limit) {
        finish(item, null, { status: 413, message: file.name + ": " + formatBytes(file.size) +
          " is over this server's limit of " + formatBytes(limit) });
        continue;
      }
      state.queue.push(item);
    }
    pump();
    updateButtons();
  }

  function pump() {
    while (state.active < CONCURRENCY && state.queue.length) {
      const item = state.queue.shift();
      state.active++;
      send(item, 0).finally(() => {
        state.active--;
        pump();
      });
    }
  }

  async function send(item, attempt) {
    const form = new FormData();
    form.append("files", item.file, item.file.name);
    const headers = { Accept: "application/json" };
    if (els.key.value) headers["X-API-Key"] = els.key.value;
    const url = "/v1/score" + (els.heat.checked ? "?heatmap=true" : "");
    let res;
    try {
      res = await fetch(url, { method: "POST", body: form, headers });
    } catch (err) {
      finish(item, null, { status: 0, message: "network error: " + err.message });
      return;
    }
    if (res.status === 503 && attempt < 5) {
      const wait = Math.min(30, parseInt(res.headers.get("Retry-After") || "1", 10) || 1);
      setPending(item, "server busy, retrying in " + wait + " s…");
      await new Promise((r) => setTimeout(r, wait * 1000));
      return send(item, attempt + 1);
    }
    let body = null;
    try {
      body = await res.json();
    } catch (err) {
      body = null;
    }
    if (res.ok && body && body.results && body.results.length) {
      const r = body.results[0];
      finish(item, r, r.ok ? null : r.error);
      return;
    }
    const detail = body && body.results && body.results[0] && body.results[0].error;
    if (res.status === 401) {
      els.keyField.hidden = false;
      els.key.focus();
    }
    finish(item, body && body.results ? body.results[0] : null,
      detail || { status: res.status, message: (body && body.detail) || res.statusText });
  }

  // ---- rendering ------------------------------------------------------------------------------------------------
  function renderPending(item) {
    const card = els.template.content.firstElementChild.cloneNode(true);
    card.classList.add("pending");
    card.dataset.filename = item.file.name;
    $(".photo", card).src = item.url;
    $(".photo", card).alt = item.file.name;
    $(".name", card).textContent = item.file.name;
    $(".name", card).title = item.file.name;
    $(".meta", card).textContent = formatBytes(item.file.size);
    const scoreEl = $(".score-value", card);
    scoreEl.textContent = "";
    const spin = document.createElement("div");
    spin.className = "spinner";
    spin.setAttribute("aria-label", "scoring");
    scoreEl.append(spin);
    $(".of", card).hidden = true;
    $(".grade", card).textContent = "scoring…";
    els.results.append(card);
    return card;
  }

  function setPending(item, text) {
    $(".grade", item.card).textContent = text;
  }

  function finish(item, data, error) {
    item.done = true;
    item.data = data;
    item.error = error;
    const card = item.card;
    card.classList.remove("pending");
    const scoreEl = $(".score-value", card);
    scoreEl.textContent = "";
    const gradeEl = $(".grade", card);
    if (error || !data || data.score === null || data.score === undefined) {
      card.classList.add("failed");
      card.dataset.state = "error";
      scoreEl.textContent = "—";
      $(".of", card).hidden = true;
      gradeEl.textContent = "not scored";
      gradeEl.className = "grade g-bad";
      const errEl = $(".error", card);
      errEl.hidden = false;
      errEl.textContent = (error && error.message) || "could not be scored";
      if (data && data.factors) renderFactors(card, data);
      refreshSummary();
      return;
    }
    card.dataset.state = "scored";
    scoreEl.textContent = data.score.toFixed(1);
    scoreEl.dataset.score = String(data.score);
    $(".of", card).hidden = false;
    gradeEl.textContent = "Grade " + data.grade + " · " + (GRADE_WORDS[data.grade] || "");
    gradeEl.className = "grade " + gradeClass(data.grade);
    const meta = [];
    if (data.width && data.height) meta.push(data.width + "×" + data.height);
    if (data.format) meta.push(data.format);
    meta.push(formatBytes(item.file.size));
    $(".meta", card).textContent = meta.join(" · ");

    if (data.reasons && data.reasons.length) {
      const box = $(".reasons", card);
      box.hidden = false;
      const ul = $("ul", box);
      for (const reason of data.reasons) {
        const li = document.createElement("li");
        li.textContent = reason;
        ul.append(li);
      }
    }
    renderPresentation(card, data);
    renderPolicy(card, data.policy);
    renderFactors(card, data);
    renderHeatmap(card, data.heatmap);
    refreshSummary();
    applySort();
  }

  // Presentation (catalogue shot 1 … casual photo 0) and the main-image score that combines it with the grade.
  function renderPresentation(card, data) {
    if (data.presentation === null || data.presentation === undefined) return;
    const box = $(".presentation", card);
    box.hidden = false;
    $(".p-value", box).textContent = data.presentation.toFixed(2);
    $(".m-value", box).textContent = data.main_score === null || data.main_score === undefined ? "—" : data.main_score.toFixed(2);
    const ul = $("ul", box);
    for (const reason of data.presentation_reasons || []) {
      const li = document.createElement("li");
      li.textContent = reason;
      ul.append(li);
    }
  }

  function renderPolicy(card, policy) {
    if (!policy) return;
    const decision = $(".decision", card);
    if (policy.decision !== null && policy.decision !== undefined) {
      const text = String(policy.decision);
      decision.hidden = false;
      decision.textContent = policy.name + ": " + text + (policy.warnings && policy.warnings.length ? " · " + policy.warnings.length + " warning" + (policy.warnings.length > 1 ? "s" : "") : "");
      const low = text.toLowerCase();
      decision.classList.add(/^(pass|accept|ok|approved?)/.test(low) ? "pass" : /^(fail|reject|block)/.test(low) ? "fail" : "review");
    }
    if (policy.rules && policy.rules.length) {
      const box = $(".rules", card);
      box.hidden = false;
      const ul = $("ul", box);
      // Failed rules first (hard, then soft), then the ones that passed or could not be measured.
      const rank = (r) => (r.passed === false ? (r.action === "warn" ? 1 : 0) : r.passed === null ? 3 : 2);
      for (const rule of policy.rules.slice().sort((a, b) => rank(a) - rank(b))) {
        const li = document.createElement("li");
        li.className = rule.passed === true ? "pass" : rule.passed === null ? "na" : rule.action === "warn" ? "warn" : "fail";
        li.textContent = rule.message || rule.rule;
        li.title = rule.rule + (rule.threshold ? " · needs " + rule.threshold : "");
        ul.append(li);
      }
    }
  }

  function renderFactors(card, data) {
    const names = Object.keys(data.factors || {});
    if (!names.length) return;
    const box = $(".factors", card);
    box.hidden = false;
    const bars = $(".bars", box);
    bars.textContent = "";
    for (const name of names) {
      const f = data.factors[name];
      const pct = f.score === null ? 0 : Math.round(f.score * 100);
      const row = document.createElement("div");
      row.className = "bar" + (f.flag ? " flagged" : "");
      row.dataset.factor = name;
      const info = state.factorInfo[name];
      row.title = (info ? info.description + "\n" : "") + (f.reason || "") +
        (f.value !== null ? (f.reason ? "\n" : "") + "measured: " + f.value + (info ? " " + info.unit : "") : "");
      const lab = document.createElement("span");
      lab.className = "label";
      lab.textContent = label(name);
      const track = document.createElement("span");
      track.className = "track";
      track.setAttribute("role", "meter");
      track.setAttribute("aria-valuemin", "0");
      track.setAttribute("aria-valuemax", "100");
      track.setAttribute("aria-valuenow", String(pct));
      track.setAttribute("aria-label", label(name));
      const fill = document.createElement("span");
      fill.className = "fill" + (!f.flag && pct < 60 ? " mid" : "");
      fill.style.width = Math.max(2, pct) + "%";
      fill.style.display = "block";
      track.append(fill);
      const num = document.createElement("span");
      num.className = "num";
      num.textContent = f.score === null ? "–" : String(pct);
      row.append(lab, track, num);
      bars.append(row);
    }
  }

  function renderHeatmap(card, heatmap) {
    if (!heatmap || !heatmap.png_base64) return;
    const heat = $(".heat", card);
    const photo = $(".photo", card);
    heat.src = "data:image/png;base64," + heatmap.png_base64;
    const toggle = $(".media-toggle", card);
    toggle.hidden = false;
    const bPhoto = $(".t-photo", card);
    const bHeat = $(".t-heat", card);
    const show = (which) => {
      heat.hidden = which !== "heat";
      photo.style.visibility = which === "heat" ? "hidden" : "visible";
      bPhoto.setAttribute("aria-pressed", String(which !== "heat"));
      bHeat.setAttribute("aria-pressed", String(which === "heat"));
    };
    bPhoto.addEventListener("click", () => show("photo"));
    bHeat.addEventListener("click", () => show("heat"));
    // Problem photos open on the heatmap, good ones on the photo.
    const data = state.items.find((it) => it.card === card);
    show(data && data.data && data.data.grade !== null && data.data.grade <= 3 ? "heat" : "photo");
  }

  function refreshSummary() {
    const done = state.items.filter((it) => it.done);
    const scored = done.filter((it) => !it.error && it.data && it.data.score !== null && it.data.score !== undefined);
    const failed = done.length - scored.length;
    const waiting = state.items.length - done.length;
    els.summary.hidden = state.items.length === 0;
    els.summary.textContent = "";
    const pill = (html) => {
      const p = document.createElement("div");
      p.className = "pill";
      p.innerHTML = html;
      els.summary.append(p);
    };
    pill("<b>" + scored.length + "</b> scored");
    if (scored.length) {
      const avg = scored.reduce((s, it) => s + it.data.score, 0) / scored.length;
      pill("average <b>" + avg.toFixed(1) + "</b> / 5");
      const weak = scored.filter((it) => it.data.grade <= 2).length;
      pill("<b>" + weak + "</b> worth replacing (grade 0–2)");
    }
    if (failed) pill("<b>" + failed + "</b> could not be read");
    if (waiting) pill("<b>" + waiting + "</b> in progress");
    updateButtons();
  }

  function applySort() {
    const mode = els.sort.value;
    const items = state.items.slice();
    if (mode !== "upload") {
      const key = (it) => (it.data && it.data.score !== null && it.data.score !== undefined ? it.data.score : -1);
      items.sort((a, b) => (mode === "worst" ? key(a) - key(b) : key(b) - key(a)));
    }
    for (const it of items) els.results.append(it.card);
  }

  function updateButtons() {
    els.csv.disabled = !state.items.some((it) => it.done);
    els.clear.disabled = state.items.length === 0 || state.items.some((it) => !it.done);
  }

  function csvCell(v) {
    if (v === null || v === undefined) return "";
    const s = String(v);
    return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  function downloadCsv() {
    const factorNames = [];
    for (const it of state.items) for (const n of Object.keys((it.data && it.data.factors) || {})) {
      if (!factorNames.includes(n)) factorNames.push(n);
    }
    const header = ["file", "score", "grade", "presentation", "main_score", "decision", ...factorNames.map((n) => n + "_score"), "reasons", "presentation_reasons", "error"];
    const lines = [header.join(",")];
    for (const it of state.items.filter((x) => x.done)) {
      const d = it.data || {};
      const row = [it.file.name, d.score, d.grade, d.presentation, d.main_score, d.policy ? d.policy.decision : ""];
      for (const n of factorNames) row.push(d.factors && d.factors[n] ? d.factors[n].score : "");
      row.push((d.reasons || []).join("; "), (d.presentation_reasons || []).join("; "), it.error ? it.error.message : "");
      lines.push(row.map(csvCell).join(","));
    }
    const blob = new Blob([lines.join("\n") + "\n"], { type: "text/csv" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "pixgrade-results.csv";
    document.body.append(a);
    a.click();
    a.remove();
  }

  function clearAll() {
    for (const it of state.items) URL.revokeObjectURL(it.url);
    state.items = [];
    els.results.textContent = "";
    refreshSummary();
  }

  // ---- events ---------------------------------------------------------------------------------------------------
  els.input.addEventListener("change", () => {
    addFiles(els.input.files);
    els.input.value = "";
  });
  ["dragenter", "dragover"].forEach((ev) =>
    els.drop.addEventListener(ev, (e) => {
      e.preventDefault();
      els.drop.classList.add("over");
    })
  );
  ["dragleave", "drop"].forEach((ev) =>
    els.drop.addEventListener(ev, (e) => {
      e.preventDefault();
      els.drop.classList.remove("over");
    })
  );
  els.drop.addEventListener("drop", (e) => addFiles(e.dataTransfer && e.dataTransfer.files));
  els.drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      els.input.click();
    }
  });
  // Dropping outside the zone must not navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
  els.sort.addEventListener("change", applySort);
  els.csv.addEventListener("click", downloadCsv);
  els.clear.addEventListener("click", clearAll);

  loadHealth();
})();
