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
  stemBuffers: new Map(),
  offset: 0,            // seconds, positive = stem starts this far into the mix
  playing: null,        // {sources, t0, from}
  ctx: null,
};
window.stemFinder = state;

// ---- small helpers ------------------------------------------------------------------------------------------
function fmtSigned(s, digits = 3) { return (s >= 0 ? "+" : "−") + Math.abs(s).toFixed(digits) + " s"; }
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
  setState("loading");
  $("#search-btn").disabled = true;
  const form = new FormData();
  form.append("file", state.queryFile, state.queryName);
  form.append("instrument", state.instrument);
  form.append("k", $("#k-input").value || "10");
  form.append("instrument_filter", $("#filter-input").checked ? "true" : "false");
  if ($("#start-input").value) form.append("start", $("#start-input").value);
  if ($("#duration-input").value) form.append("duration", $("#duration-input").value);
  form.append("curve", "true");
  try {
    const body = await api("/retrieve", { method: "POST", body: form });
    state.response = body; state.results = body.results;
    renderResults(body);
    setState(body.results.length ? "results" : "empty");
    if (!body.results.length) showError({ code: "no_results", message: "The catalogue has no stems of this instrument." });
  } catch (e) {
    setState("error"); $("#empty-state").classList.remove("hidden"); showError(e);
  }
  updateSearchButton();
}

// "· 120 BPM · A minor (8A)", with the suggested conforming when there is one.
function musical(r) {
  if (!r.bpm) return "";
  let text = ` · ${r.bpm.toFixed(0)} BPM · ${esc(r.key || "")}${r.camelot ? ` (${esc(r.camelot)})` : ""}`;
  if (r.transpose_semitones) text += ` · ${r.transpose_semitones > 0 ? "+" : ""}${r.transpose_semitones} st`;
  if (r.stretch_ratio !== 1) text += ` · ×${r.stretch_ratio.toFixed(3)} tempo`;
  return text;
}

function renderResults(body) {
  const t = body.timings;
  const q = body.query;
  const feel = q.bpm ? ` · mix ${q.bpm.toFixed(0)} BPM, ${q.key || "key unknown"}${q.camelot ? ` (${q.camelot})` : ""}` : "";
  $("#results-meta").textContent = `${body.results.length} of ${body.catalogue.searched} ${body.catalogue.instrument_filter ?
    body.query.instrument + " " : ""}stems · ${Math.round(t.total_ms)} ms${feel}`;
  const list = $("#results-list");
  list.innerHTML = "";
  body.results.forEach((r) => {
    const li = document.createElement("li");
    li.className = "result"; li.dataset.stemId = r.stem_id;
    const title = r.title || `song ${r.song_id}`;
    li.innerHTML = `
      <div class="rank">${r.rank}</div>
      <div><div class="r-title">${esc(title)}${r.artist ? ` <span class="muted">— ${esc(r.artist)}</span>` : ""}</div>
        <div class="r-sub"><span class="chip">${esc(r.instrument)}</span>${esc(r.name)}${r.duration_seconds ?
          " · " + fmtTime(r.duration_seconds) : ""}${musical(r)}</div>
        <div class="bar" title="model similarity"><i style="width:${Math.max(2, Math.min(100, r.score_parts.model * 100)).toFixed(1)}%"></i></div></div>
      <div class="stats">
        <span class="k">score</span><span class="k">top</span><span class="k">offset</span>
        <span class="v">${r.score.toFixed(3)}</span><span class="v">${(100 * r.normalised_rank).toFixed(1)}%</span>
        <span class="v" title="offset (its confidence)">${fmtSigned(r.offset_seconds, 2)}${r.offset_confidence == null ? "" :
          ` <span class="muted conf">${fmtConfidence(r.offset_confidence)}</span>`}</span></div>
      <button class="play-small" type="button" title="Play aligned with the mix">▶</button>`;
    li.addEventListener("click", () => openResult(r, false));
    li.querySelector(".play-small").addEventListener("click", (ev) => { ev.stopPropagation(); openResult(r, true); });
    list.appendChild(li);
  });
}

async function openResult(r, autoplay) {
  stopPlayback();
  state.selected = r; state.offset = r.offset_seconds;
  document.querySelectorAll(".result").forEach((el) => el.classList.toggle("selected", el.dataset.stemId === String(r.stem_id)));
  const player = $("#player");
  player.classList.remove("hidden");
  $("#player-what").textContent = `${r.title || "song " + r.song_id} · ${r.name} (${r.instrument}) · alignment ${r.alignment_score.toFixed(3)}`;
  player.dataset.ready = "false";
  try {
    if (!state.stemBuffers.has(r.stem_id)) {
      const res = await fetch(r.audio_url);
      if (!res.ok) throw new ApiError(res.status, "audio_unavailable", "The stem's audio could not be loaded.");
      state.stemBuffers.set(r.stem_id, await audioCtx().decodeAudioData(await res.arrayBuffer()));
    }
  } catch (e) { showError(e.code ? e : { code: "audio_unavailable", message: "The stem's audio could not be decoded." }); return; }
  if (state.selected !== r) return;
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
  player.dataset.ready = "true";
  setOffset(r.offset_seconds);
  if (autoplay) play(0);
}

// ---- aligned playback --------------------------------------------------------------------------------------
function setOffset(seconds) {
  state.offset = Math.round(seconds * 1000) / 1000;
  $("#offset-slider").value = state.offset;
  $("#offset-value").textContent = fmtSigned(state.offset);
  const moved = state.selected ? state.offset - state.selected.offset_seconds : 0;
  const sure = state.selected ? fmtConfidence(state.selected.offset_confidence) : "";
  $("#offset-note").textContent = Math.abs(moved) > 1e-6 ? `(${fmtSigned(moved)} from the suggestion)`
    : sure ? `(suggested, ${sure} confident)` : "(suggested)";
  $("#player").dataset.offset = String(state.offset);
  redraw();
  if (state.playing) { const pos = playPosition(); play(pos); }
}

function playPosition() {
  if (!state.playing) return 0;
  return state.playing.from + (state.ctx.currentTime - state.playing.t0);
}

function play(from) {
  const stem = state.selected && state.stemBuffers.get(state.selected.stem_id);
  if (!stem) return;
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
  const stem = state.selected && state.stemBuffers.get(state.selected.stem_id);
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
    if (playhead != null) { g.fillStyle = "#fbbf24"; g.fillRect(((playhead - t0) / (t1 - t0)) * w, 0, 2, h); }
  });
  drawCurve();
}

function drawCurve() {
  const { g, w, h } = fitCanvas($("#curve"));
  const c = state.selected && state.selected.curve;
  if (!c || !c.offsets_seconds.length) {
    g.fillStyle = "#8b93a3"; g.fillText("no curve for this result", 10, 20); return;
  }
  const xs = c.offsets_seconds, ys = c.similarity;
  const x0 = xs[0], x1 = xs[xs.length - 1] + 1e-9;
  let lo = Math.min(...ys), hi = Math.max(...ys); if (hi - lo < 1e-6) { hi += 0.01; lo -= 0.01; }
  const px = (x) => ((x - x0) / (x1 - x0)) * (w - 20) + 10, py = (y) => h - 16 - ((y - lo) / (hi - lo)) * (h - 30);
  g.strokeStyle = "#2a2f3a"; g.lineWidth = 1;
  g.beginPath(); g.moveTo(px(0), 4); g.lineTo(px(0), h - 14); g.stroke();
  g.strokeStyle = "#60a5fa"; g.lineWidth = 1.6; g.beginPath();
  xs.forEach((x, i) => (i ? g.lineTo(px(x), py(ys[i])) : g.moveTo(px(x), py(ys[i]))));
  g.stroke();
  g.fillStyle = "#34d399"; g.fillRect(px(state.selected.offset_seconds) - 1, 4, 2, h - 18);
  g.fillStyle = "#fbbf24"; g.fillRect(px(state.offset) - 1, 4, 2, h - 18);
  g.fillStyle = "#8b93a3"; g.font = "11px system-ui";
  g.fillText(fmtSigned(x0, 1), 4, h - 2); g.fillText(fmtSigned(x1, 1), w - 52, h - 2);
  g.fillText(`similarity ${lo.toFixed(2)}–${hi.toFixed(2)}`, 10, 12);
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
  $("#mix-gain").addEventListener("input", (e) => state.playing && (state.playing.gains.mixGain.gain.value = +e.target.value));
  $("#stem-gain").addEventListener("input", (e) => state.playing && (state.playing.gains.stemGain.gain.value = +e.target.value));
  $("#curve").addEventListener("click", (e) => {
    if (!state.curveMap) return;
    const rect = e.target.getBoundingClientRect(), { x0, x1, w } = state.curveMap;
    setOffset(x0 + ((e.clientX - rect.left - 10) / (w - 20)) * (x1 - x0));
  });
  document.addEventListener("keydown", (e) => {
    if (e.code === "Space" && state.selected && e.target.tagName !== "INPUT") { e.preventDefault(); $("#play-btn").click(); }
  });
  window.addEventListener("resize", () => redraw());
}

wire();
setState("empty");
waitForServer();
