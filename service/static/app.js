// Stem Finder page: upload (or build) a mix, ask /retrieve, and play each result aligned with the mix.
// Plain JS, no build step. Playback uses the Web Audio API: both sources are scheduled with start(when, offset)
// on one AudioContext clock, so mix and stem line up to the sample at the chosen offset.
"use strict";

const $ = (sel) => document.querySelector(sel);
const FRAME_SECONDS = 0.16;

const state = {
  info: null,
  instrument: null,
  queryFile: null,      // Blob with a name, sent as `file`
  mixBuffer: null,      // decoded query for playback and drawing
  results: [],
  selected: null,       // the result in the player
  previous: null,       // the result heard before it, for A/B
  stemBuffers: new Map(),  // "id|transpose|stretch" -> decoded audio
  offsets: new Map(),   // stem id -> the offset last set for it, so A/B keeps each stem's place
  refining: new Set(),  // stem ids whose coarse offsets are being refined (POST /retrieve/{query_id}/refine)
  offset: 0,            // seconds, positive = stem starts this far into the mix
  conformed: true,      // play the stem transposed and stretched as suggested
  loop: null,           // {start, end} seconds of the mix, while looping
  playing: null,        // {sources, t0, from}
  ctx: null,
};
window.stemFinder = state;

// ---- small helpers ------------------------------------------------------------------------------------------
// Offsets of a minute or more read as m:ss.ss, so that long songs' offsets stay on one line.
function fmtSigned(s, digits = 3) {
  const a = Math.abs(s), sign = s >= 0 ? "+" : "−";
  if (a < 60) return sign + a.toFixed(digits) + " s";
  const m = Math.floor(a / 60);
  return `${sign}${m}:${(a - 60 * m).toFixed(digits).padStart(3 + digits, "0")}`;
}
// An offset's confidence (probability that it is the stem's own place), as a short label; "" when unknown.
function fmtConfidence(p) { return p == null ? "" : `${Math.round(100 * p)} %`; }
function fmtTime(s) { const m = Math.floor(s / 60); return `${m}:${(s - 60 * m).toFixed(1).padStart(4, "0")}`; }
function esc(text) { const d = document.createElement("div"); d.textContent = text == null ? "" : String(text); return d.innerHTML; }
function setState(name) { document.body.dataset.state = name;
  $("#empty-state").classList.toggle("hidden", name !== "empty");
  $("#loading-state").classList.toggle("hidden", name !== "loading"); }
function audioCtx() {
  if (!state.ctx) state.ctx = new (window.AudioContext || window.webkitAudioContext)();
  if (state.ctx.state === "suspended") state.ctx.resume();
  return state.ctx;
}

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}
async function api(path, options = {}) {
  let res;
  try { res = await fetch(path, options); } catch (e) { throw new ApiError(0, "network", "The server cannot be reached."); }
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") ? await res.json() : null;
  if (!res.ok) {
    const err = (body && body.error) || {};
    throw new ApiError(res.status, err.code || "http_" + res.status, err.message || res.statusText);
  }
  return body;
}
function showError(err) {
  const box = $("#error-box");
  if (!err) { box.classList.add("hidden"); box.innerHTML = ""; return; }
  box.innerHTML = `<span class="code">${esc(err.status ? err.status + " · " + err.code : err.code || "error")}</span>${esc(err.message)}`;
  box.classList.remove("hidden");
}

// ---- server status, instruments, songs ----------------------------------------------------------------------
async function waitForServer() {
  const pill = $("#server-status");
  for (;;) {
    try {
      const res = await fetch("/readyz");
      const body = await res.json();
      if (res.ok) break;
      pill.textContent = body.status === "failed" ? "not ready: " + (body.detail || "load failed") : "loading model and index…";
      pill.className = "pill " + (body.status === "failed" ? "pill-bad" : "pill-wait");
    } catch (e) { pill.textContent = "server unreachable"; pill.className = "pill pill-bad"; }
    await new Promise((r) => setTimeout(r, 1500));
  }
  state.info = await api("/info");
  pill.textContent = `${state.info.index_size} stems · ${state.info.model} · ${state.info.device}`;
  pill.className = "pill pill-ok";
  pill.title = `checkpoint ${state.info.checkpoint} (${state.info.checkpoint_hash.slice(0, 12)})`;
  $("#k-input").max = state.info.limits.max_k;
  renderInstruments(state.info.instruments);
  loadSongs();
  updateSearchButton();
}

function renderInstruments(names) {
  const box = $("#instrument-picker");
  box.innerHTML = "";
  names.forEach((name, i) => {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = name; b.dataset.instrument = name; b.setAttribute("role", "radio");
    b.setAttribute("aria-checked", i === 0 ? "true" : "false");
    b.addEventListener("click", () => selectInstrument(name));
    box.appendChild(b);
  });
  state.instrument = names[0] || null;
}
function selectInstrument(name) {
  state.instrument = name;
  document.querySelectorAll("#instrument-picker button").forEach((b) =>
    b.setAttribute("aria-checked", b.dataset.instrument === name ? "true" : "false"));
  $("#song-mix").textContent = `Use the mix without its ${name}`;
  updateSearchButton();
}

async function loadSongs() {
  const select = $("#song-select");
  try {
    const page = await api("/songs?limit=500");
    select.innerHTML = '<option value="">Choose a song…</option>' + page.items.map((s) =>
      `<option value="${s.id}">${esc(s.title || s.key)}${s.artist ? " — " + esc(s.artist) : ""}</option>`).join("");
  } catch (e) { select.innerHTML = '<option value="">Songs unavailable</option>'; }
}

// ---- the query ---------------------------------------------------------------------------------------------
async function setQuery(blob, name) {
  showError(null);
  state.queryFile = blob; state.queryName = name;
  $("#query-summary").classList.remove("hidden");
  $("#qs-name").textContent = name;
  $("#qs-meta").textContent = "decoding…";
  stopPlayback();
  try {
    const data = await blob.arrayBuffer();
    state.mixBuffer = await audioCtx().decodeAudioData(data.slice(0));
    $("#qs-meta").textContent = `${fmtTime(state.mixBuffer.duration)} · ${(blob.size / 1e6).toFixed(1)} MB`;
    drawWave($("#query-wave"), state.mixBuffer, 0, state.mixBuffer.duration, "#60a5fa");
  } catch (e) {
    state.mixBuffer = null;  // the server decodes more formats than some browsers; search still works
    $("#qs-meta").textContent = `${(blob.size / 1e6).toFixed(1)} MB · preview unavailable in this browser`;
  }
  updateSearchButton();
}
function updateSearchButton() {
  $("#search-btn").disabled = !(state.info && state.queryFile && state.instrument);
  $("#song-mix").disabled = !(state.info && $("#song-select").value && state.instrument);
}

async function mixFromCatalogue() {
  const songId = $("#song-select").value;
  if (!songId) return;
  const btn = $("#song-mix");
  btn.disabled = true; btn.textContent = "Mixing the other stems…";
  try {
    const page = await api(`/stems?song_id=${encodeURIComponent(songId)}&limit=50`);
    const others = page.items.filter((s) => s.instrument !== state.instrument);
    if (!others.length) throw new ApiError(0, "no_stems", "This song has no other stems to build a mix from.");
    const buffers = await Promise.all(others.map(async (s) =>
      audioCtx().decodeAudioData(await (await fetch(s.audio_url)).arrayBuffer())));
    const rate = 44100;
    const length = Math.ceil(Math.max(...buffers.map((b) => b.duration)) * rate);
    const off = new OfflineAudioContext(2, length, rate);
    buffers.forEach((b) => { const src = off.createBufferSource(); src.buffer = b; src.connect(off.destination); src.start(0); });
    const rendered = await off.startRendering();
    const song = page.items[0];
    const name = `${song.title || song.song_key || "song " + songId} without ${state.instrument}.wav`;
    await setQuery(new File([encodeWav(rendered)], name, { type: "audio/wav" }), name);
  } catch (e) { showError(e); }
  btn.textContent = `Use the mix without its ${state.instrument}`;
  updateSearchButton();
}

function encodeWav(buffer) {
  // 16-bit PCM WAV of an AudioBuffer, peak-normalised if the summed stems clip.
  const ch = buffer.numberOfChannels, n = buffer.length, rate = buffer.sampleRate;
  const chans = Array.from({ length: ch }, (_, c) => buffer.getChannelData(c));
  let peak = 1e-9; chans.forEach((d) => { for (let i = 0; i < n; i++) peak = Math.max(peak, Math.abs(d[i])); });
  const gain = peak > 0.99 ? 0.99 / peak : 1;
  const out = new DataView(new ArrayBuffer(44 + n * ch * 2));
  const str = (o, s) => { for (let i = 0; i < s.length; i++) out.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF"); out.setUint32(4, 36 + n * ch * 2, true); str(8, "WAVE"); str(12, "fmt ");
  out.setUint32(16, 16, true); out.setUint16(20, 1, true); out.setUint16(22, ch, true); out.setUint32(24, rate, true);
  out.setUint32(28, rate * ch * 2, true); out.setUint16(32, ch * 2, true); out.setUint16(34, 16, true);
  str(36, "data"); out.setUint32(40, n * ch * 2, true);
  let o = 44;
  for (let i = 0; i < n; i++) for (let c = 0; c < ch; c++) {
    const v = Math.max(-1, Math.min(1, chans[c][i] * gain)); out.setInt16(o, v * 32767, true); o += 2;
  }
  return out.buffer;
}

// ---- search and results ------------------------------------------------------------------------------------
async function search() {
  if (!state.queryFile || !state.instrument) return;
  showError(null); stopPlayback();
  $("#results-list").innerHTML = ""; $("#results-meta").textContent = ""; $("#player").classList.add("hidden");
  $("#results-tools").classList.add("hidden");
  state.selected = null; state.previous = null; state.offsets.clear(); state.loop = null;
  setState("loading");
  $("#search-btn").disabled = true;
  const form = new FormData();
  form.append("file", state.queryFile, state.queryName);
  form.append("instrument", state.instrument);
  form.append("k", $("#k-input").value || "10");
  form.append("instrument_filter", $("#filter-input").checked ? "true" : "false");
  if ($("#start-input").value) form.append("start", $("#start-input").value);
  if ($("#duration-input").value) form.append("duration", $("#duration-input").value);
  if ($("#transpose-input").value) form.append("max_transpose", $("#transpose-input").value);
  if ($("#stretch-input").value) form.append("max_stretch", String(+$("#stretch-input").value / 100));
  form.append("curve", "true");
  try {
    const body = await api("/retrieve", { method: "POST", body: form });
    state.response = body; state.results = body.results;
    state.refining = new Set(body.query.query_id ? body.results.filter((r) => !r.offset_refined).map((r) => r.stem_id) : []);
    renderResults(body);
    refinePending(body);
    setState(body.results.length ? "results" : "empty");
    if (!body.results.length) showError({ code: "no_results", message: "The catalogue has no stems of this instrument." });
  } catch (e) {
    setState("error"); $("#empty-state").classList.remove("hidden"); showError(e);
  }
  updateSearchButton();
}

// ---- musical labels ----------------------------------------------------------------------------------------
// Camelot codes are "8A" (minor) / "8B" (major): neighbours on the wheel mix harmonically.
function camelotCompatible(a, b) {
  if (!a || !b) return false;
  const na = parseInt(a, 10), nb = parseInt(b, 10), la = a.slice(-1), lb = b.slice(-1);
  if (na === nb) return true;
  const d = (na - nb + 12) % 12;
  return la === lb && (d === 1 || d === 11);
}
function camelotOrder(code) { return code ? parseInt(code, 10) * 2 + (code.slice(-1) === "B" ? 1 : 0) : 1e9; }
function signedInt(n) { return (n > 0 ? "+" : "−") + Math.abs(n); }

// "120 BPM · A minor (8A)", then what the suggested conforming makes of it.
function musical(r) {
  if (!r.bpm) return "not analysed yet";
  let text = `${r.bpm.toFixed(1)} BPM · ${r.key || "key unknown"}${r.camelot ? ` (${r.camelot})` : ""}`;
  const moves = [];
  if (r.transpose_semitones) moves.push(`${signedInt(r.transpose_semitones)} semitone${Math.abs(r.transpose_semitones) === 1 ? "" : "s"}`);
  if (r.stretch_ratio !== 1) moves.push(`tempo ×${r.stretch_ratio.toFixed(3)}`);
  if (moves.length) text += ` → ${moves.join(", ")} → ${r.conformed_bpm.toFixed(1)} BPM · ${r.conformed_key}` +
    `${r.conformed_camelot ? ` (${r.conformed_camelot})` : ""}`;
  return text;
}

// A short "why it fits" from the score parts and the conformed key and tempo, against the mix's.
function whyItFits(r, q, modelRank) {
  const bits = [];
  const key = r.conformed_camelot || r.camelot;
  if (key && q.camelot) {
    const shifted = r.transpose_semitones ? ` after ${signedInt(r.transpose_semitones)} st` : "";
    if (key === q.camelot) bits.push(`in the mix's key${shifted}`);
    else if (camelotCompatible(key, q.camelot)) bits.push(`${key} sits next to the mix's ${q.camelot}${shifted}`);
    else bits.push(`${key} is far from the mix's ${q.camelot} on the wheel`);
  }
  const bpm = r.conformed_bpm || r.bpm;
  if (bpm && q.bpm) {
    const ratio = bpm / q.bpm;
    const folds = [[1, ""], [2, " (double time)"], [0.5, " (half time)"]];
    const [fold, label] = folds.reduce((best, f) => Math.abs(Math.log(ratio / f[0])) < Math.abs(Math.log(ratio / best[0])) ? f : best);
    const off = 100 * Math.abs(ratio / fold - 1);
    const stretched = r.stretch_ratio !== 1 ? ` after stretching ×${r.stretch_ratio.toFixed(3)}` : "";
    bits.push(off < 1.5 ? `same tempo${label}${stretched}` : `tempo ${off.toFixed(0)} % off${label}`);
  }
  if (modelRank) bits.push(`#${modelRank} on sound alone`);
  return bits.join(" · ");
}

// The list's offset cells of one result: its offset (≈ while it is the coarse one being refined), confidence
// and place on the mix's bar grid.
function offsetCells(r, q) {
  const coarse = !r.offset_refined && state.refining.has(r.stem_id);
  return `<span class="v offset-v" title="${coarse ? "coarse offset, being refined" : "offset (its confidence)"}">` +
    `${coarse ? "≈" : ""}${fmtSigned(r.offset_seconds, 2)}${r.offset_confidence == null ? "" :
      ` <span class="muted conf">${fmtConfidence(r.offset_confidence)}</span>`}</span>` +
    `<span></span><span class="v bars-v">${esc(fmtBars(r.offset_seconds, q))}</span>`;
}

// Results past the server's refine_top come with the model curve's coarse offset: refine them in one request
// while the producer looks at the first ones, then update their rows (and the open player, unless its offset
// was moved by hand). Should the server no longer keep the query, the coarse offsets stay.
async function refinePending(body) {
  const pending = body.results.filter((r) => state.refining.has(r.stem_id));
  if (!pending.length) return;
  let answer = null;
  try {
    answer = await api(`/retrieve/${encodeURIComponent(body.query.query_id)}/refine`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ stem_ids: pending.map((r) => r.stem_id) }),
    });
  } catch (e) { /* keep the coarse offsets */ }
  if (state.response !== body) return;  // a newer search has replaced these results
  state.refining.clear();
  const fresh = new Map(((answer && answer.results) || []).map((r) => [r.stem_id, r]));
  pending.forEach((r) => {
    const coarse = r.offset_seconds;
    if (fresh.has(r.stem_id)) Object.assign(r, fresh.get(r.stem_id));
    const li = document.querySelector(`#results-list .result[data-stem-id="${r.stem_id}"]`);
    if (li) li.querySelector(".offset-cells").innerHTML = offsetCells(r, body.query);
    if (state.selected === r && state.offsets.get(r.stem_id) === coarse) {
      renderAlternatives(r); setOffset(r.offset_seconds);
    }
  });
  $("#results-list").dataset.refined = "true";
}

function renderResults(body) {
  const t = body.timings;
  const q = body.query;
  // A close call names the runner-up key too: on such mixes it is the song's key about half as often as the best.
  const alt = q.key_alternative ? ` or ${q.key_alternative}${q.key_alternative_camelot ? ` (${q.key_alternative_camelot})` : ""}` : "";
  const feel = q.bpm ? ` · your mix: ${q.bpm.toFixed(1)} BPM, ${q.key || "key unknown"}${q.camelot ? ` (${q.camelot})` : ""}${alt}` : "";
  $("#results-meta").textContent = `${body.results.length} of ${body.catalogue.searched} ${body.catalogue.instrument_filter ?
    body.query.instrument + " " : ""}stems · ${(t.total_ms / 1000).toFixed(1)} s${feel}`;
  const byModel = [...body.results].sort((a, b) => b.score_parts.model - a.score_parts.model);
  const list = $("#results-list");
  list.innerHTML = "";
  body.results.forEach((r) => {
    const li = document.createElement("li");
    li.className = "result"; li.dataset.stemId = r.stem_id; li.dataset.rank = r.rank;
    li.dataset.bpm = r.conformed_bpm || r.bpm || ""; li.dataset.camelot = r.conformed_camelot || r.camelot || "";
    const title = r.title || `song ${r.song_id}`;
    li.innerHTML = `
      <div class="rank" title="rank ${r.rank} of ${body.catalogue.searched} stems searched">${r.rank}</div>
      <div class="r-main"><div class="r-title">${esc(title)}${r.artist ? ` <span class="muted">— ${esc(r.artist)}</span>` : ""}</div>
        <div class="r-sub"><span class="chip">${esc(r.instrument)}</span>${esc(r.name)}${r.duration_seconds ?
          " · " + fmtTime(r.duration_seconds) : ""}</div>
        <div class="r-music">${esc(musical(r))}</div>
        <div class="r-why">${esc(whyItFits(r, q, byModel.indexOf(r) + 1))}</div></div>
      <div class="stats">
        <span class="k" title="the score the list is ranked by (see the API docs)">fit</span><span class="k">starts at</span>
        <span class="v">${r.score.toFixed(2)}</span>
        <span class="offset-cells">${offsetCells(r, body.query)}</span></div>
      <button class="play-small" type="button" title="Play aligned with the mix">▶</button>`;
    li.addEventListener("click", () => openResult(r, false));
    li.querySelector(".play-small").addEventListener("click", (ev) => { ev.stopPropagation(); openResult(r, true); });
    list.appendChild(li);
  });
  $("#results-tools").classList.toggle("hidden", !body.results.length);
  applyTools();
}

// Sorting and filtering the shown results by BPM and key, in the page (the conformed values: what you would play).
function applyTools() {
  const q = state.response && state.response.query;
  const sort = $("#sort-select").value, lo = parseFloat($("#bpm-min-filter").value), hi = parseFloat($("#bpm-max-filter").value);
  const keyMode = $("#key-filter").value;
  const rows = [...document.querySelectorAll("#results-list .result")];
  let shown = 0;
  rows.forEach((li) => {
    const bpm = parseFloat(li.dataset.bpm), code = li.dataset.camelot;
    let ok = true;
    if (!Number.isNaN(lo)) ok = ok && bpm >= lo;
    if (!Number.isNaN(hi)) ok = ok && bpm <= hi;
    if (keyMode === "same") ok = ok && !!q && code === q.camelot;
    if (keyMode === "compatible") ok = ok && !!q && camelotCompatible(code, q.camelot);
    li.classList.toggle("hidden", !ok);
    shown += ok ? 1 : 0;
  });
  const value = (li) => sort === "fit" ? +li.dataset.rank : sort === "key" ? camelotOrder(li.dataset.camelot)
    : (parseFloat(li.dataset.bpm) || 1e9) * (sort === "-bpm" ? -1 : 1);
  rows.sort((a, b) => value(a) - value(b) || +a.dataset.rank - +b.dataset.rank).forEach((li) => $("#results-list").appendChild(li));
  $("#tools-count").textContent = shown === rows.length ? "" : `${shown} of ${rows.length} shown`;
}

// "bar 3 · beat 2 +12 ms": a time of the mix on its beat grid (bar 1 starts at the first downbeat).
function fmtBars(seconds, q) {
  const g = beatGrid(q);
  if (!g) return "";
  const beats = (seconds - g.downbeat) / g.period, whole = Math.round(beats);
  const rest = Math.round((beats - whole) * g.period * 1000);
  const bar = Math.floor(whole / g.perBar) + 1, beat = ((whole % g.perBar) + g.perBar) % g.perBar + 1;
  return `bar ${bar} · beat ${beat}${rest ? ` ${rest > 0 ? "+" : "−"}${Math.abs(rest)} ms` : ""}`;
}
function beatGrid(q) {
  q = q || (state.response && state.response.query);
  if (!q || !q.beat_period_seconds) return null;
  return { period: q.beat_period_seconds, perBar: q.beats_per_bar || 4, downbeat: q.downbeat_seconds || 0 };
}

// The stem as it is, or conformed to the mix (transposed and stretched as suggested).
function conforming(r) {
  const on = state.conformed && (r.transpose_semitones !== 0 || r.stretch_ratio !== 1);
  return on ? { transpose: r.transpose_semitones, stretch: r.stretch_ratio } : { transpose: 0, stretch: 1 };
}
function stemUrl(r) {
  const c = conforming(r);
  return c.transpose || c.stretch !== 1 ? `${r.audio_url}?transpose=${c.transpose}&stretch=${c.stretch}` : r.audio_url;
}
function bufferKey(r) { const c = conforming(r); return `${r.stem_id}|${c.transpose}|${c.stretch}`; }
function currentStem() { return state.selected && state.stemBuffers.get(bufferKey(state.selected)); }

function updateExport() {
  const r = state.selected;
  if (!r) return;
  const c = conforming(r);
  const mixDur = state.mixBuffer ? state.mixBuffer.duration : state.response.query.duration_seconds;
  const url = (format) => `/stems/${r.stem_id}/export?transpose=${c.transpose}&stretch=${c.stretch}` +
    `&offset=${state.offset.toFixed(4)}&duration=${mixDur.toFixed(3)}&format=${format}`;
  $("#export-wav").href = url("wav"); $("#export-flac").href = url("flac");
}

async function openResult(r, autoplay, from = 0) {
  stopPlayback();
  if (state.selected && state.selected !== r) { state.offsets.set(state.selected.stem_id, state.offset); state.previous = state.selected; }
  state.selected = r; state.offset = state.offsets.has(r.stem_id) ? state.offsets.get(r.stem_id) : r.offset_seconds;
  $("#ab-btn").disabled = !state.previous;
  $("#ab-btn").textContent = state.previous ? `A/B: ${state.previous.rank}` : "A/B";
  const c = conforming(r);
  $("#conformed-toggle").disabled = r.transpose_semitones === 0 && r.stretch_ratio === 1;
  $("#conformed-what").textContent = $("#conformed-toggle").disabled ? "(nothing to change)"
    : `(${[r.transpose_semitones ? `${signedInt(r.transpose_semitones)} st` : "", r.stretch_ratio !== 1 ? `×${r.stretch_ratio.toFixed(3)}` : ""].filter(Boolean).join(", ")})`;
  document.querySelectorAll(".result").forEach((el) => el.classList.toggle("selected", el.dataset.stemId === String(r.stem_id)));
  const player = $("#player");
  player.classList.remove("hidden");
  $("#player-what").textContent = `#${r.rank} · ${r.title || "song " + r.song_id} · ${r.name} (${r.instrument})`;
  player.dataset.ready = "false";
  player.dataset.conformed = String(c.transpose !== 0 || c.stretch !== 1);
  player.dataset.stemUrl = stemUrl(r);
  if (!(await loadStem(r))) return;
  if (state.selected !== r) return;
  renderAlternatives(r);
  player.dataset.ready = "true";
  $("#beat-nudges").classList.toggle("hidden", !beatGrid());
  setOffset(state.offset);
  if (autoplay) play(from);
}

// The runner-up offsets as buttons, and the slider's range to cover them all.
function renderAlternatives(r) {
  const offsets = [r.offset_seconds, ...(r.offset_alternatives_seconds || [])];
  const range = Math.max(10, Math.ceil(Math.max(...offsets.map(Math.abs)) + 2));
  const alternatives = $("#offset-alternatives");
  alternatives.innerHTML = "";
  const runnersUp = r.offset_alternatives && r.offset_alternatives.length ? r.offset_alternatives
    : (r.offset_alternatives_seconds || []).map((seconds) => ({ offset_seconds: seconds, confidence: null }));
  runnersUp.forEach(({ offset_seconds: seconds, confidence }) => {
    const b = document.createElement("button");
    b.type = "button"; b.className = "alternative"; b.textContent = `also fits at ${fmtSigned(seconds, 2)}`;
    if (confidence != null) {
      const label = document.createElement("span");
      label.className = "conf"; label.textContent = ` · ${fmtConfidence(confidence)}`;
      label.title = "estimated probability that this is the stem's own place";
      b.appendChild(label);
    }
    b.addEventListener("click", () => setOffset(seconds));
    alternatives.appendChild(b);
  });
  const slider = $("#offset-slider"); slider.min = -range; slider.max = range;
}

async function loadStem(r) {
  const key = bufferKey(r);
  try {
    if (!state.stemBuffers.has(key)) {
      const res = await fetch(stemUrl(r));
      if (!res.ok) throw new ApiError(res.status, "audio_unavailable", "The stem's audio could not be loaded.");
      state.stemBuffers.set(key, await audioCtx().decodeAudioData(await res.arrayBuffer()));
    }
  } catch (e) { showError(e.code ? e : { code: "audio_unavailable", message: "The stem's audio could not be decoded." }); return false; }
  return true;
}

// Conformed / original: the same stem reloaded (cached per conforming), playback resumed where it was.
async function toggleConformed() {
  state.conformed = $("#conformed-toggle").checked;
  const r = state.selected;
  if (!r) return;
  const pos = state.playing ? playPosition() : null;
  stopPlayback();
  const c = conforming(r);
  $("#player").dataset.conformed = String(c.transpose !== 0 || c.stretch !== 1);
  $("#player").dataset.stemUrl = stemUrl(r);
  if (!(await loadStem(r)) || state.selected !== r) return;
  updateExport(); redraw();
  if (pos != null) play(pos);
}

// A/B: the stem heard before, at the same place of the mix, each with its own offset.
function switchAB() {
  if (!state.previous) return;
  const pos = state.playing ? playPosition() : null;
  openResult(state.previous, pos != null, pos || 0);
}

function setLoop(on) {
  $("#loop-toggle").checked = on;
  if (!on) { state.loop = null; return; }
  let start = parseFloat($("#loop-start").value), end = parseFloat($("#loop-end").value);
  if (Number.isNaN(start) || Number.isNaN(end) || end <= start) {
    // Default: the two bars of the mix from the downbeat before the playhead (8 s without a beat grid).
    const g = beatGrid(), at = state.playing ? playPosition() : Math.max(0, state.offset);
    if (g) { start = Math.max(0, g.downbeat + Math.floor((at - g.downbeat) / (g.period * g.perBar)) * g.period * g.perBar); end = start + 2 * g.perBar * g.period; }
    else { start = Math.max(0, at); end = start + 8; }
    $("#loop-start").value = start.toFixed(2); $("#loop-end").value = end.toFixed(2);
  }
  state.loop = { start, end };
  if (state.playing) { const pos = playPosition(); if (pos < start || pos >= end) play(start); }
}

// ---- aligned playback --------------------------------------------------------------------------------------
function setOffset(seconds) {
  state.offset = Math.round(seconds * 1000) / 1000;
  $("#offset-slider").value = state.offset;
  $("#offset-value").textContent = fmtSigned(state.offset);
  $("#offset-bars").textContent = fmtBars(state.offset);
  // Compared at the millisecond the display shows, so the suggestion itself never reads "+0.000 s from" it.
  const moved = state.selected ? Math.round((state.offset - state.selected.offset_seconds) * 1000) / 1000 : 0;
  const sure = state.selected ? fmtConfidence(state.selected.offset_confidence) : "";
  $("#offset-note").textContent = moved !== 0 ? `(${fmtSigned(moved)} from the suggestion)`
    : sure ? `(suggested, ${sure} confident)` : "(suggested)";
  $("#player").dataset.offset = String(state.offset);
  if (state.selected) state.offsets.set(state.selected.stem_id, state.offset);
  updateExport();
  redraw();
  if (state.playing) { const pos = playPosition(); play(pos); }
}

function playPosition() {
  if (!state.playing) return 0;
  return state.playing.from + (state.ctx.currentTime - state.playing.t0);
}

function play(from) {
  const stem = currentStem();
  if (!stem) return;
  if (state.loop && (from < state.loop.start || from >= state.loop.end)) from = state.loop.start;
  stopPlayback(true);
  const ctx = audioCtx();
  const t0 = ctx.currentTime + 0.06;  // a little lead so both starts are scheduled ahead of the clock
  const sources = [];
  const mixGain = ctx.createGain(); mixGain.gain.value = +$("#mix-gain").value; mixGain.connect(ctx.destination);
  const stemGain = ctx.createGain(); stemGain.gain.value = +$("#stem-gain").value; stemGain.connect(ctx.destination);
  let end = stem.duration + state.offset;
  if (state.mixBuffer) {
    const mix = ctx.createBufferSource(); mix.buffer = state.mixBuffer; mix.connect(mixGain);
    if (from < state.mixBuffer.duration) mix.start(t0, Math.max(0, from));
    sources.push(mix); end = Math.max(end, state.mixBuffer.duration);
  }
  // The stem's own time at mix time `from` is from - offset: before its start, delay it; after, seek into it.
  const stemPos = from - state.offset;
  const src = ctx.createBufferSource(); src.buffer = stem; src.connect(stemGain);
  if (stemPos >= 0) { if (stemPos < stem.duration) src.start(t0, stemPos); } else { src.start(t0 - stemPos, 0); }
  sources.push(src);
  state.playing = { sources, t0, from, end, gains: { mixGain, stemGain } };
  const player = $("#player");
  player.dataset.playing = "true";
  player.dataset.scheduled = JSON.stringify({ from, offset: state.offset, stemStartDelay: Math.max(0, -stemPos),
    stemSeek: Math.max(0, stemPos) });
  $("#play-btn").textContent = "■";
  requestAnimationFrame(tick);
}

function stopPlayback(restarting) {
  if (state.playing) {
    state.playing.sources.forEach((s) => { try { s.stop(); } catch (e) { /* never started */ } });
    state.playing = null;
  }
  if (!restarting) { $("#player").dataset.playing = "false"; $("#play-btn").textContent = "▶"; redraw(); }
}

function tick() {
  if (!state.playing) return;
  const pos = playPosition();
  if (state.loop && pos >= state.loop.end) { play(state.loop.start); return; }
  if (pos > state.playing.end + 0.1) { stopPlayback(); return; }
  redraw(pos);
  requestAnimationFrame(tick);
}

// ---- drawing -----------------------------------------------------------------------------------------------
function fitCanvas(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 600, h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext("2d"); g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, w, h);
  return { g, w, h };
}

function drawWave(canvas, buffer, t0, t1, color, shift = 0) {
  // Draws `buffer` placed at `shift` seconds on a time axis running t0..t1 (min/max per pixel column).
  const { g, w, h } = fitCanvas(canvas);
  if (!buffer) return { g, w, h };
  const data = buffer.getChannelData(0);
  const rate = buffer.sampleRate, span = t1 - t0;
  g.fillStyle = color;
  for (let x = 0; x < w; x++) {
    const a = Math.floor((t0 + (x / w) * span - shift) * rate), b = Math.floor((t0 + ((x + 1) / w) * span - shift) * rate);
    if (b <= 0 || a >= data.length) continue;
    let lo = 1, hi = -1;
    for (let i = Math.max(0, a); i < Math.min(data.length, b); i += Math.max(1, Math.floor((b - a) / 64))) {
      const v = data[i]; if (v < lo) lo = v; if (v > hi) hi = v;
    }
    if (hi < lo) continue;
    g.fillRect(x, h / 2 - hi * h / 2 * 0.95, 1, Math.max(1, (hi - lo) * h / 2 * 0.95));
  }
  return { g, w, h };
}

function timeline() {
  const stem = currentStem();
  const mixDur = state.mixBuffer ? state.mixBuffer.duration : (state.response ? state.response.query.duration_seconds : 10);
  const t0 = Math.min(0, state.offset), t1 = Math.max(mixDur, state.offset + (stem ? stem.duration : 0));
  return { t0, t1, stem };
}

function redraw(playhead) {
  if (!state.selected) return;
  const { t0, t1, stem } = timeline();
  const lanes = [drawWave($("#mix-wave"), state.mixBuffer, t0, t1, "#60a5fa"),
                 drawWave($("#stem-wave"), stem, t0, t1, "#34d399", state.offset)];
  lanes.forEach(({ g, w, h }) => {
    const x0 = ((0 - t0) / (t1 - t0)) * w;
    g.fillStyle = "#ffffff22"; g.fillRect(x0, 0, 1, h);
    if (state.loop) {
      g.fillStyle = "#60a5fa22";
      g.fillRect(((state.loop.start - t0) / (t1 - t0)) * w, 0, ((state.loop.end - state.loop.start) / (t1 - t0)) * w, h);
    }
    if (playhead != null) { g.fillStyle = "#fbbf24"; g.fillRect(((playhead - t0) / (t1 - t0)) * w, 0, 2, h); }
  });
  drawCurve();
}

// The fused curve (model + onsets + accents + harmony at 10 ms: the one that chose the offset) when the answer
// has it, with the model's frame curve as an optional layer; each scaled to its own range.
function drawCurve() {
  const { g, w, h } = fitCanvas($("#curve"));
  const c = state.selected && state.selected.curve;
  const layers = [];
  if (c && c.fused && c.fused.length) layers.push({ xs: c.fused_offsets_seconds, ys: c.fused, color: "#34d399", name: "fit" });
  if (c && c.offsets_seconds.length && (!layers.length || $("#model-curve-toggle").checked)) {
    layers.push({ xs: c.offsets_seconds, ys: c.similarity, color: "#60a5fa", name: "model" });
  }
  $("#curve").dataset.layers = layers.map((l) => l.name).join(",");
  if (!layers.length) { g.fillStyle = "#8b93a3"; g.fillText("no curve for this result", 10, 20); return; }
  const x0 = Math.min(...layers.map((l) => l.xs[0])), x1 = Math.max(...layers.map((l) => l.xs[l.xs.length - 1])) + 1e-9;
  const px = (x) => ((x - x0) / (x1 - x0)) * (w - 20) + 10;
  g.strokeStyle = "#2a2f3a"; g.lineWidth = 1;
  g.beginPath(); g.moveTo(px(0), 4); g.lineTo(px(0), h - 14); g.stroke();
  const grid = beatGrid();
  if (grid) {  // the mix's bar lines, where the stem's start would land on a downbeat
    g.fillStyle = "#ffffff14";
    const bar = grid.period * grid.perBar;
    for (let x = grid.downbeat + Math.ceil((x0 - grid.downbeat) / bar) * bar; x < x1; x += bar) g.fillRect(px(x), 4, 1, h - 18);
  }
  layers.forEach(({ xs, ys, color }) => {
    let lo = Math.min(...ys), hi = Math.max(...ys); if (hi - lo < 1e-6) { hi += 0.01; lo -= 0.01; }
    const py = (y) => h - 16 - ((y - lo) / (hi - lo)) * (h - 30);
    g.strokeStyle = color; g.lineWidth = 1.5; g.beginPath();
    xs.forEach((x, i) => (i ? g.lineTo(px(x), py(ys[i])) : g.moveTo(px(x), py(ys[i]))));
    g.stroke();
  });
  g.fillStyle = "#34d399"; g.fillRect(px(state.selected.offset_seconds) - 1, 4, 2, h - 18);
  g.fillStyle = "#fbbf24"; g.fillRect(px(state.offset) - 1, 4, 2, h - 18);
  g.fillStyle = "#8b93a3"; g.font = "11px system-ui";
  g.fillText(fmtSigned(x0, 1), 4, h - 2); g.fillText(fmtSigned(x1, 1), w - 60, h - 2);
  g.fillText(layers.map((l) => l.name === "fit" ? "green: fused fit" : "blue: model frames").join(" · "), 10, 12);
  state.curveMap = { x0, x1, w };
}

// ---- wiring ------------------------------------------------------------------------------------------------
function wire() {
  document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => {
    document.querySelectorAll(".tab").forEach((o) => { o.classList.toggle("active", o === t); o.setAttribute("aria-selected", o === t); });
    document.querySelectorAll(".tabpane").forEach((p) => p.classList.toggle("hidden", p.dataset.pane !== t.dataset.tab));
  }));
  $("#file-input").addEventListener("change", (e) => { const f = e.target.files[0]; if (f) setQuery(f, f.name); });
  const dz = $("#dropzone");
  ["dragenter", "dragover"].forEach((ev) => dz.addEventListener(ev, (e) => { e.preventDefault(); dz.classList.add("over"); }));
  ["dragleave", "drop"].forEach((ev) => dz.addEventListener(ev, (e) => { e.preventDefault(); dz.classList.remove("over"); }));
  dz.addEventListener("drop", (e) => { const f = e.dataTransfer.files[0]; if (f) setQuery(f, f.name); });
  $("#song-select").addEventListener("change", updateSearchButton);
  $("#song-mix").addEventListener("click", mixFromCatalogue);
  $("#search-btn").addEventListener("click", search);
  $("#play-btn").addEventListener("click", () => (state.playing ? stopPlayback() : play(0)));
  $("#offset-slider").addEventListener("input", (e) => setOffset(+e.target.value));
  document.querySelectorAll("[data-nudge]").forEach((b) => b.addEventListener("click", () => setOffset(state.offset + +b.dataset.nudge)));
  $("#offset-reset").addEventListener("click", () => state.selected && setOffset(state.selected.offset_seconds));
  document.querySelectorAll("[data-nudge-beats]").forEach((b) => b.addEventListener("click", () => {
    const g = beatGrid(); if (!g) return;
    const n = b.dataset.nudgeBeats, beats = n === "bar" ? g.perBar : n === "-bar" ? -g.perBar : +n;
    setOffset(state.offset + beats * g.period);
  }));
  $("#conformed-toggle").addEventListener("change", toggleConformed);
  $("#ab-btn").addEventListener("click", switchAB);
  $("#loop-toggle").addEventListener("change", (e) => setLoop(e.target.checked));
  ["#loop-start", "#loop-end"].forEach((s) => $(s).addEventListener("change", () => $("#loop-toggle").checked && setLoop(true)));
  ["#sort-select", "#key-filter"].forEach((s) => $(s).addEventListener("change", applyTools));
  ["#bpm-min-filter", "#bpm-max-filter"].forEach((s) => $(s).addEventListener("input", applyTools));
  $("#model-curve-toggle").addEventListener("change", () => drawCurve());
  $("#mix-gain").addEventListener("input", (e) => state.playing && (state.playing.gains.mixGain.gain.value = +e.target.value));
  $("#stem-gain").addEventListener("input", (e) => state.playing && (state.playing.gains.stemGain.gain.value = +e.target.value));
  $("#curve").addEventListener("click", (e) => {
    if (!state.curveMap) return;
    const rect = e.target.getBoundingClientRect(), { x0, x1, w } = state.curveMap;
    setOffset(x0 + ((e.clientX - rect.left - 10) / (w - 20)) * (x1 - x0));
  });
  document.addEventListener("keydown", (e) => {
    if (e.code === "Space" && state.selected && e.target.tagName !== "INPUT") { e.preventDefault(); $("#play-btn").click(); }
    if (e.code === "KeyB" && state.previous && e.target.tagName !== "INPUT") switchAB();
  });
  window.addEventListener("resize", () => redraw());
}

wire();
setState("empty");
waitForServer();
