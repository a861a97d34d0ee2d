// tinygan live: the page of `tinygan serve`.
//
// The server owns the session; this page only shows it and asks for changes.
// Data flows one way: WebSocket messages (scene, frame) -> state -> one draw
// per animation frame. Controls POST to the server and show its reply; on any
// failure they re-read the server's settings, so the page never shows
// settings the session does not have.
"use strict";

const COLORS = {
  discriminator: "#1f77b4", // D(x) and loss_d
  real: "#2ca02c",          // real density (1-D)
  generated: "#d62728",     // generated density (1-D) and loss_g
  realPoint: "#00441b",
  generatedPoint: "#40004b",
  arrow: "rgba(25, 25, 25, 0.5)",  // G's arrows: light, so that the points under them stay readable
  manifold: "rgba(64, 0, 75, 0.4)", // G's manifold: the generated points' colour, faint under them
  contour: "rgba(20, 20, 20, 0.85)", // where D = ½
  metric: "#3b4a5e",
  mark: "#b35806",          // a setting change on the charts' time axis
  grid: "#eceef1",
  axis: "#c5cad1",
  text: "#5b6472",
};
const ARROW_CELL = 20;    // CSS pixels: at most one of G's arrows starts in each cell of this side
const ARROW_LONGEST = 32; // CSS pixels: the longest arrow drawn
const HEATMAP_PIXELS = 512; // the heat map's image is at most this wide (~10 ms a frame); wider screens scale it up
// The picture's layers, each with a box in its legend (2-D only: arrows and manifold; "discriminator": D's curve
// or heat map).
const LAYERS = ["real", "generated", "discriminator", "arrows", "manifold"];
const LAYERS_KEY = "tinygan.layers"; // localStorage: the layers switched off, kept across visits
const FONT = "11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const SETTING_NAMES = [
  "preset", "target", "objective", "minibatch", "label_smoothing", "gradient_penalty", "r1", "n_critic",
  "unroll_steps", "generator_ema", "optimizer", "generator_learning_rate", "discriminator_learning_rate",
  "batch_size", "seed", "noise_dim", "generator_width", "generator_layers", "discriminator_width",
  "discriminator_layers",
];
// Friendlier names of the history's metric columns (the raw name stays in the tooltip: it is the CSV's).
const METRIC_LABELS = {
  mean: "mean", std: "std", w1: "Wasserstein-1", ks: "Kolmogorov-Smirnov", sliced_w1: "sliced Wasserstein-1",
  energy: "energy distance", modes_captured: "modes captured", high_quality: "high-quality samples",
  reverse_kl: "reverse KL (modes)", kl: "KL (grid)", js: "JS (grid)", loss_d: "D loss", loss_g: "G loss",
};
const HIGHER_IS_BETTER = new Set(["modes_captured", "high_quality"]);
const NO_DIRECTION = new Set(["mean", "std", "loss_d", "loss_g"]); // neither higher nor lower is "better"

// What tests read: plain objects, kept up to date (`layout`: the picture's plot box, the boxes of its words, in
// 2-D the number of arrows and in draw mode the points drawn, as last drawn; `points`: the loss chart's live points;
// `charts`: what the charts last drew: their scale, y-range, ticks and marks; `drawing`: draw mode and its points),
// and the pure helpers of the picture and the charts.
const live = (window.tinygan = {
  scene: null, lastFrame: null, framesReceived: 0, framesDrawn: 0, chartsDrawn: 0, history: [], layout: null, picture: null,
  points: [], charts: { losses: null, metrics: [], marks: [] },
});

// The page's own state.
const page = {
  options: null,
  status: null,
  rate: null,             // iterations per second, from the latest frame
  requestError: null,     // the last failed request's line; a success clears it
  requestErrorIsNetwork: false,
  // Controls that status updates leave alone: number inputs being typed into, and controls whose change is
  // on its way to the server (frames still carry the old value until it answers, which can take seconds).
  editing: new Set(),
  retryMs: 500,           // WebSocket reconnection backoff
  layers: loadLayers(),   // the picture's layers to draw: { real, generated, discriminator, arrows } (the legend's boxes)
  connected: false,       // the WebSocket is open: until then the page cannot know whether the session plays
  drawScheduled: false,
  viewDirty: false,
  chartsDirty: false,
  // The latest heat map: its values, and its image at the screen's resolution (drawn again on a new frame,
  // size or colour scale only).
  heatmap: { source: null, field: null, drawn: null, pixels: 0, end: 0, canvas: document.createElement("canvas") },
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- connection

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/live`);
  live.socket = socket; // for tests: closing it is what a lost connection does
  socket.onopen = () => {
    page.retryMs = 500;
    if (page.requestErrorIsNetwork) reportError(null); // the server is back: that line is stale
    if (!page.options) loadOptions();
    setConnected(true);
  };
  socket.onmessage = (event) => receive(event.data);
  // An error is always followed by close: reconnecting there covers both (server restarts included).
  socket.onclose = () => {
    setConnected(false);
    setTimeout(connect, page.retryMs);
    page.retryMs = Math.min(page.retryMs * 2, 8000);
  };
}

// Disconnected, the page no longer knows whether the session plays or how fast: it shows neither ("Play", greyed,
// and a dash for the rate) until the server's first message after reconnecting says again.
function setConnected(connected) {
  page.connected = connected;
  document.body.dataset.connected = String(connected);
  setText($("connection-text"), connected ? "live" : "disconnected");
  if (page.status) {
    showHeader(page.status);
    showToolbar(page.status);
    setPhase(trainedPhase(page.status));
  }
}

function receive(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch (error) {
    console.warn("tinygan: a message that is not JSON", error);
    return;
  }
  if (message.type === "scene") receiveScene(message);
  else if (message.type === "frame") receiveFrame(message);
}

async function getJson(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// A POST whose reply is the session's status. Never throws: failures go to the error banner.
// `sender` is the element that sent it: it keeps the user's value, and looks busy, until the reply.
async function post(path, body, { contentType = "application/json", sender = null } = {}) {
  setPending(sender, true);
  try {
    const isFile = body instanceof Blob;
    const response = await fetch(path, {
      method: "POST", headers: { "Content-Type": contentType }, body: isFile ? body : JSON.stringify(body),
    });
    const reply = await response.json().catch(() => null);
    if (!response.ok) throw new Error((reply && reply.error) || `${path}: HTTP ${response.status}`);
    setPending(sender, false);
    reportError(null);
    if (reply) applyStatus(reply);
    return reply;
  } catch (error) {
    const network = error instanceof TypeError; // what fetch throws when there is no server
    reportError(network ? `Cannot reach the server (${error.message})` : error.message, network);
    await resync();
    return null;
  }
}

// A request's failure for the banner (null: the last request succeeded).
function reportError(text, network = false) {
  page.requestError = text;
  page.requestErrorIsNetwork = network;
  showErrors();
}

function setPending(sender, pending) {
  if (!sender) return;
  sender.classList.toggle("pending", pending);
  if (pending) page.editing.add(sender);
  else page.editing.delete(sender);
}

// Put every control back to the server's settings (after a failure, what the page shows may be wrong).
async function resync() {
  for (const element of page.editing) element.classList.remove("pending");
  page.editing.clear();
  try {
    applyStatus(await getJson("/api/session"));
  } catch (error) {
    console.warn("tinygan: cannot read the session", error);
  }
}

// ---------------------------------------------------------------- state

function receiveScene(scene) {
  if (!live.scene || scene.version !== live.scene.version) live.points = []; // a new scene (a reconnection: the same)
  live.scene = scene;
  live.history = scene.history.slice();
  live.lastFrame = null;
  page.rate = null;
  document.body.dataset.dim = String(scene.dim);
  $("view").dataset.version = String(scene.version);
  $("warning").hidden = !scene.warning; // e.g. 1-D noise cannot fill a 2-D target
  setText($("warning"), scene.warning || "");
  $("metrics").style.height = `${Math.max(1, scene.metrics.length) * 70 + 22}px`;
  showViewLegend(scene.dim);
  if (drawing.on && drawing.dim !== scene.dim) setDrawing(true); // the drawing's points no longer fit: start again
  buildValueTable(scene);
  applyStatus(scene.status);
  invalidate(true, true);
}

function receiveFrame(frame) {
  if (!live.scene || frame.version !== live.scene.version) return; // from before a reset
  live.framesReceived += 1;
  for (const row of frame.rows) live.history.push(row);
  live.lastFrame = frame; // only the latest is ever drawn
  if (frame.iterations_per_second !== undefined) page.rate = frame.iterations_per_second;
  applyStatus(frame.status);
  invalidate(true, frame.rows.length > 0);
}

// Runs up to 20 times a second: every write below is skipped when nothing changed.
function applyStatus(status) {
  const marksChanged = marksKey(status) !== (page.status ? marksKey(page.status) : "");
  page.status = status;
  if ((live.scene && addLivePoint(status)) || marksChanged) invalidate(false, true);
  showHeader(status);
  showToolbar(status);
  setPhase(trainedPhase(status));
  showSettings(status.settings);
  setText($("message"), status.message || "");
  showErrors();
}

// ---------------------------------------------------------------- controls

function bindControls() {
  $("play").addEventListener("click", togglePlay);
  const buttons = { step: "step", "step-d": "step_d", "step-g": "step_g", reset: "reset", save: "save" };
  for (const [id, action] of Object.entries(buttons)) {
    $(id).addEventListener("click", (event) => control({ action }, event.currentTarget));
  }
  $("slow-motion").addEventListener("change", (event) => {
    control({ action: "slow_motion", value: event.target.checked }, event.target);
  });
  $("speed").addEventListener("change", (event) => {
    const value = event.target.value;
    control({ action: "speed", value: value === "max" ? null : Number(value) }, event.target);
  });
  for (const name of SETTING_NAMES) bindSetting($(name));
  $("upload").addEventListener("change", (event) => upload(event.target));
  $("view-legend").addEventListener("change", (event) => {
    if (event.target.dataset.layer) setLayer(event.target.dataset.layer, event.target.checked);
  });
  $("settings").addEventListener("submit", (event) => event.preventDefault()); // Enter fires change instead
  for (const id of ["losses-log", "metrics-log"]) $(id).addEventListener("change", () => invalidate(false, true));
  $("losses").addEventListener("mousemove", (event) => markAt($("losses"), event, live.charts.marks));
  $("metrics").addEventListener("mousemove", (event) => markAt($("metrics"), event, live.charts.marks));
  document.addEventListener("keydown", onKey);
  bindDrawing();
}

function bindSetting(input) {
  if (input.type === "number") {
    input.addEventListener("input", () => page.editing.add(input));
    // Leaving the input without a change ends the edit; a change on its way keeps it until the reply.
    input.addEventListener("blur", () => {
      if (!input.classList.contains("pending")) page.editing.delete(input);
    });
  }
  input.addEventListener("change", () => {
    page.editing.delete(input);
    sendSetting(input);
  });
}

function sendSetting(input) {
  const value = readInput(input);
  if (value === undefined) {
    reportError(`${labelOf(input)}: not a number`);
    resync();
    return;
  }
  post("/api/settings", { [input.id]: value }, { sender: input });
}

function readInput(input) {
  if (input.type === "checkbox") return input.checked;
  if (input.type !== "number") return input.value;
  const value = input.value.trim() === "" ? NaN : Number(input.value);
  return Number.isFinite(value) ? value : undefined;
}

function control(body, sender = null) {
  return post("/api/control", body, { sender });
}

function togglePlay() {
  if (!page.connected) return; // Space while disconnected: the page does not know what it would toggle
  return control({ action: page.status && page.status.playing ? "pause" : "play" }, $("play"));
}

// Space plays or pauses, unless the key belongs to the control that has focus; Escape leaves draw mode.
function onKey(event) {
  if (event.key === "Escape" && drawing.on) {
    setDrawing(false);
    return;
  }
  if (event.code !== "Space" || event.repeat || event.ctrlKey || event.altKey || event.metaKey) return;
  if (event.target.closest && event.target.closest("input, select, textarea, button, a, [contenteditable]")) return;
  event.preventDefault();
  togglePlay();
}

async function upload(input) {
  const file = input.files[0];
  input.value = ""; // so that choosing the same file again sends it again
  if (!file) return;
  await sendCsv(file, file.name);
}

// The one road of a CSV to the session (a chosen file, or drawn points): checked against the server's size
// limit, then posted to /api/upload. Returns the session's status, or null (refused: the banner says why).
async function sendCsv(blob, name) {
  const limit = page.options && page.options.max_upload_bytes;
  if (limit && blob.size > limit) {
    reportError(`${name} is ${formatBytes(blob.size)}: files up to ${formatBytes(limit)} can be uploaded`);
    return null;
  }
  return post("/api/upload", blob, { contentType: "text/csv", sender: $("target") });
}

// Fill the selects and tooltips from GET /api/options.
function showOptions(options) {
  page.options = options;
  fillSelect($("preset"), options.presets.map((name) => [name, name]));
  fillSelect($("target"), options.targets.map((name) => [name, name.replace("_", " ")]));
  fillSelect($("objective"), options.objectives.map((name) => [name, name.replace("_", " ")]));
  fillSelect($("optimizer"), options.optimizers.map((name) => [name, name]));
  fillSelect($("speed"), options.speeds.map(speedOption));
  for (const [name, limit] of Object.entries(options.limits || {})) if ($(name)) $(name).max = String(limit);
  for (const [name, help] of Object.entries(options.settings_help || {})) {
    const input = $(name);
    if (!input) continue;
    input.title = help;
    const label = document.querySelector(`label[for="${name}"]`);
    if (label) label.title = help;
  }
}

function speedOption(speed) {
  return speed === null ? ["max", "max"] : [String(speed), `${formatCount(speed)} it/s`];
}

function fillSelect(select, choices) {
  select.replaceChildren(...choices.map(([value, text]) => new Option(text, value)));
}

// ---------------------------------------------------------------- drawing your own data

// In draw mode, pressing on the picture adds a point under the pointer and dragging sprays a few more at each move
// (a drag leaves a cloud); "Train on drawn points" sends them as a CSV by the upload's road. The points are in data
// units: [x] on a 1-D picture, [x, y] on a 2-D one. Leaving draw mode (its button, Escape) keeps nothing.
const DRAW_MIN_POINTS = 10;     // fewer: nothing is sent (the server takes 2, but a GAN learns little from so few)
const DRAW_MAX_POINTS = 20000;  // a CSV of some 400 KB, within the upload's limit
const SPRAY_POINTS = 3;         // points added at each move of a pressed pointer
const SPRAY_RADIUS = 10;        // CSS pixels: each lands uniformly within this distance of the pointer
const DRAWN_COLOR = "#f07f00";  // orange: apart from the real (green), generated (red, purple) and D (blue)
const DRAWN_VEIL = "rgba(255, 255, 255, 0.6)"; // over the plot in draw mode: the session's picture recedes
const DRAWN_BINS = 300;         // the 1-D drawing's density is a kernel density over this many bins of the view

// What tests read too: whether draw mode is on, its points, their dimension (the picture's when it began); and
// the page's own: a count of its changes, the pressed pointer, the 1-D density as last computed, its banner line.
const drawing = (live.drawing = {
  on: false, points: [], dim: 1, revision: 0, pointer: null, density: null, error: null,
});

function bindDrawing() {
  const canvas = $("view");
  $("draw").addEventListener("click", () => setDrawing(!drawing.on));
  $("draw-clear").addEventListener("click", () => {
    drawing.points = [];
    drawingChanged();
  });
  $("draw-train").addEventListener("click", trainOnDrawing);
  canvas.addEventListener("pointerdown", (event) => {
    if (!drawing.on || event.button !== 0) return; // button 0: the mouse's main button, a finger, a pen's tip
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId); // a drag that leaves the canvas still ends here
    drawing.pointer = event.pointerId;
    addDrawn(event, 1, 0); // a click: one point, where it is
  });
  canvas.addEventListener("pointermove", (event) => {
    if (drawing.on && drawing.pointer === event.pointerId) addDrawn(event, SPRAY_POINTS, SPRAY_RADIUS);
  });
  const release = (event) => {
    if (drawing.pointer === event.pointerId) drawing.pointer = null;
  };
  canvas.addEventListener("pointerup", release);
  canvas.addEventListener("pointercancel", release);
}

// Enter (true) or leave draw mode; either way the drawing starts empty, on the picture's current dimension (and
// the banner's "too few points" goes: it was about the drawing that ends).
function setDrawing(on) {
  if (page.requestError && page.requestError === drawing.error) reportError(null);
  Object.assign(drawing, { on, points: [], pointer: null, dim: live.scene ? live.scene.dim : 1, error: null });
  document.body.dataset.drawing = String(on);
  drawingChanged();
}

// The draw bar shows the drawing, and the picture draws it again.
function drawingChanged() {
  const { on, points, dim } = drawing;
  drawing.revision += 1;
  $("draw").setAttribute("aria-pressed", String(on));
  setText($("draw"), on ? "Stop drawing" : "Draw data");
  $("draw-text").hidden = $("draw-tools").hidden = !on;
  setText($("draw-text"), dim === 1 ? "1-D: click or drag along x · one column · Esc leaves"
    : "2-D: click or drag · (x, y), two columns · Esc leaves");
  const n = points.length;
  const most = n >= DRAW_MAX_POINTS ? " (the most)" : "";
  setText($("draw-count"), `${formatCount(n)} point${n === 1 ? "" : "s"} drawn${most}`);
  $("draw-clear").disabled = n === 0;
  invalidate(true, false);
}

// `count` points around the pointer, each uniformly within `radius` CSS pixels of it; none off the plot.
function addDrawn(event, count, radius) {
  const rect = $("view").getBoundingClientRect();
  for (let i = 0; i < count && drawing.points.length < DRAW_MAX_POINTS; i++) {
    const r = radius * Math.sqrt(Math.random()); // sqrt: uniform over the disc, not crowded at its centre
    const angle = 2 * Math.PI * Math.random();
    const px = event.clientX - rect.left + r * Math.cos(angle);
    const point = toData(px, event.clientY - rect.top + r * Math.sin(angle));
    if (point && point.length === drawing.dim) drawing.points.push(point);
  }
  drawingChanged();
}

// Where data `point` lies on the picture, in CSS pixels from the canvas's top left corner (1-D: on the plot's
// middle line), by the scales it was last drawn with; null before it was drawn.
function toPixel(point) {
  const scales = page.viewScales;
  if (!scales) return null;
  const { dim, box, x, y } = scales;
  return { x: x(point[0]), y: dim === 1 ? (box.top + box.bottom) / 2 : y(point[1]) };
}

// The data point under (px, py), CSS pixels from the canvas's top left corner: [x] or [x, y]; null off the plot
// (in 1-D only x counts: any height over the plot's width).
function toData(px, py) {
  const scales = page.viewScales;
  if (!scales) return null;
  const { dim, box, x, y } = scales;
  if (px < box.left || px > box.right || (dim === 2 && (py < box.top || py > box.bottom))) return null;
  const xv = linear(x.range, x.domain)(px);
  return dim === 1 ? [xv] : [xv, linear(y.range, y.domain)(py)];
}

async function trainOnDrawing() {
  const { points, dim } = drawing;
  if (points.length < DRAW_MIN_POINTS) {
    drawing.error = `Draw at least ${DRAW_MIN_POINTS} points to train on them (${points.length} drawn)`;
    reportError(drawing.error);
    return;
  }
  const button = $("draw-train");
  button.disabled = true;
  const reply = await sendCsv(new Blob([drawnCsv(points, dim)], { type: "text/csv" }), "The drawing");
  button.disabled = false;
  if (reply) setDrawing(false); // the session trains on them now; a refusal keeps them, with the banner's reason
}

// The points as a CSV file: a header (x, or x,y: as `tinygan sample` names its columns) and a row per point.
function drawnCsv(points, dim) {
  const rows = points.map((point) => point.map((v) => String(Number(v.toPrecision(7)))).join(","));
  return `${dim === 1 ? "x" : "x,y"}\n${rows.join("\n")}\n`;
}

// The 1-D drawing's density over `[low, high]`: a Gaussian kernel density (Silverman's bandwidth, at least two
// bins wide) of the points binned on DRAWN_BINS bins, so that thousands of points cost no more than a few.
// Kept until the drawing or the view changes. Returns { x, density } (the bins' centres and the density there).
function drawnDensity([low, high]) {
  const cached = drawing.density;
  if (cached && cached.revision === drawing.revision && cached.low === low && cached.high === high) return cached;
  const width = (high - low) / DRAWN_BINS;
  const counts = new Float64Array(DRAWN_BINS);
  const values = drawing.points.map((point) => point[0]);
  for (const v of values) counts[Math.min(DRAWN_BINS - 1, Math.max(0, Math.floor((v - low) / width)))] += 1;
  const n = values.length;
  const mean = values.reduce((sum, v) => sum + v, 0) / Math.max(n, 1);
  const std = Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / Math.max(n, 1));
  const bandwidth = Math.max(2 * width, 1.06 * std * n ** -0.2);
  const reach = Math.ceil((4 * bandwidth) / width); // bins farther than 4 bandwidths add nothing visible
  const centres = Array.from({ length: DRAWN_BINS }, (_, i) => low + (i + 0.5) * width);
  const density = centres.map((_, i) => {
    let sum = 0;
    for (let j = Math.max(0, i - reach); j <= Math.min(DRAWN_BINS - 1, i + reach); j++) {
      if (counts[j]) sum += counts[j] * Math.exp(-0.5 * (((i - j) * width) / bandwidth) ** 2);
    }
    return n ? sum / (n * bandwidth * Math.sqrt(2 * Math.PI)) : 0;
  });
  drawing.density = { revision: drawing.revision, low, high, x: centres, density };
  return drawing.density;
}

// Over the 1-D picture, faded: the drawn points as a rug of short marks along the x axis, and their density.
function drawDrawn1d(ctx, box, x, y, drawn) {
  ctx.fillStyle = DRAWN_VEIL;
  ctx.fillRect(box.left, box.top, box.right - box.left, box.bottom - box.top);
  if (drawing.points.length) drawCurve(ctx, drawn.x, drawn.density, x, y, DRAWN_COLOR, 2, y(0));
  ctx.beginPath();
  for (const [v] of drawing.points) {
    const px = Math.round(x(v)) + 0.5;
    ctx.moveTo(px, box.bottom);
    ctx.lineTo(px, box.bottom - 12);
  }
  ctx.save();
  Object.assign(ctx, { strokeStyle: DRAWN_COLOR, lineWidth: 1, globalAlpha: 0.6 });
  ctx.stroke();
  ctx.restore();
}

// Over the 2-D picture, faded: the drawn points, larger than the samples.
function drawDrawn2d(ctx, box, x, y) {
  ctx.fillStyle = DRAWN_VEIL;
  ctx.fillRect(box.left, box.top, box.right - box.left, box.bottom - box.top);
  drawPoints(ctx, drawing.points, x, y, DRAWN_COLOR, 0.85, 2.6);
}

// ---------------------------------------------------------------- status display

function showHeader(status) {
  const settings = status.settings || {};
  const target = settings.target === "upload" ? "uploaded file" : settings.target;
  setText($("what"), `${settings.preset || "custom"} · ${target}`);
  setText($("step-count"), `step ${formatCount(status.step)} / ${formatCount(status.num_steps)}`);
  const manual = status.manual_steps || 0;
  $("manual-steps").hidden = manual === 0;
  setText($("manual-steps"), `${formatCount(manual)} single step${manual === 1 ? "" : "s"}`);
  let rate = "paused";
  if (!page.connected) rate = "—";
  else if (status.compiling) rate = "compiling…";
  else if (status.playing && status.slow_motion) rate = "slow motion";
  else if (status.playing) {
    // The rate is in the frame (the protocol) or in the status (what the server also sends).
    const perSecond = status.iterations_per_second ?? page.rate;
    rate = Number.isFinite(perSecond) ? `${formatCount(Math.round(perSecond))} it/s` : "running";
  }
  setText($("rate"), rate);
  const run = $("run-name");
  run.hidden = !status.run;
  setText(run, status.run ? `run: ${status.run}` : "");
  run.title = status.attached ? "Save to run writes into this run folder"
    : "Not attached: the session no longer continues this run";
}

function showToolbar(status) {
  setText($("play"), status.playing && page.connected ? "Pause" : "Play");
  $("play").disabled = !page.connected;
  $("play").title = page.connected ? "" : "Disconnected from the server: waiting to reconnect";
  $("save").hidden = !status.run;
  $("save").disabled = !status.attached;
  const speed = status.speed === null || status.speed === undefined ? "max" : String(status.speed);
  if (!page.editing.has($("speed"))) setSelect($("speed"), speed, `${speed} it/s`);
  $("slow-motion").checked = Boolean(status.slow_motion);
  $("speed").disabled = Boolean(status.slow_motion); // slow motion keeps its own pace
}

// ---------------------------------------------------------------- the model graph

const PHASE_TEXT = {
  both: "training D and G in turn", d: "D learns, G waits", g: "G learns, D waits", none: "",
};

// What the last training moved, as the server says (status.phase): "both" while playing at speed (D and G
// alternate faster than the eye), "d" or "g" after a single step or in slow motion's phases, "none" otherwise
// (and while disconnected: the page does not know).
function trainedPhase(status) {
  return page.connected && status.phase in PHASE_TEXT ? status.phase : "none";
}

// Light the graph's side being trained ("both", "d", "g" or "none").
function setPhase(phase) {
  if (!(phase in PHASE_TEXT)) throw new Error(`tinygan: no phase ${phase}`);
  $("graph").dataset.phase = phase;
  setText($("graph-phase"), PHASE_TEXT[phase]);
}

function showSettings(settings) {
  if (!settings) return;
  for (const name of SETTING_NAMES) {
    const input = $(name);
    const value = settings[name];
    if (page.editing.has(input) || value === undefined) continue;
    if (input.type === "checkbox") {
      if (input.checked !== Boolean(value)) input.checked = Boolean(value);
    } else if (input.tagName === "SELECT") {
      setSelect(input, value === null ? "" : String(value), extraLabel(name, value));
    } else if (input.value !== String(value)) {
      input.value = value === null ? "" : String(value);
    }
  }
}

// A value the options do not list (an uploaded target, a custom preset) gets an option of its own.
function extraLabel(name, value) {
  if (name === "target" && value === "upload") return "uploaded file";
  if (name === "preset" && (value === null || value === "")) return "custom";
  return String(value);
}

function setSelect(select, value, label) {
  for (const extra of select.querySelectorAll("option[data-extra]")) if (extra.value !== value) extra.remove();
  if (select.value === value) return;
  if (![...select.options].some((option) => option.value === value)) {
    const option = new Option(label, value);
    option.dataset.extra = "true";
    select.append(option);
  }
  select.value = value;
}

function showErrors() {
  const lines = [page.requestError, page.status && page.status.error].filter(Boolean);
  const banner = $("error");
  banner.hidden = lines.length === 0;
  setText(banner, lines.join("\n"));
}

// One row per loss and metric, built once per scene; frames then only change the numbers.
function buildValueTable(scene) {
  const rows = ["loss_d", "loss_g", ...scene.metrics].map((name) => {
    const row = document.createElement("tr");
    const label = document.createElement("th");
    label.title = name; // the column's name in the history and the CSV
    label.textContent = METRIC_LABELS[name] || name;
    if (!NO_DIRECTION.has(name)) {
      const direction = document.createElement("span");
      direction.className = "better";
      direction.textContent = HIGHER_IS_BETTER.has(name) ? "↑ better" : "↓ better";
      label.append(direction);
    }
    const value = document.createElement("td");
    value.dataset.column = String(scene.columns.indexOf(name));
    row.append(label, value);
    return row;
  });
  $("metric-values").tBodies[0].replaceChildren(...rows);
}

function showLatestValues() {
  for (const cell of $("metric-values").querySelectorAll("td[data-column]")) {
    setText(cell, formatValue(latestValue(Number(cell.dataset.column))));
  }
}

function latestValue(column) {
  const history = live.history;
  for (let i = history.length - 1; i >= 0 && i >= history.length - 1000; i--) {
    if (history[i][column] !== null) return history[i][column];
  }
  return null;
}

// ---------------------------------------------------------------- the picture's layers


function loadLayers() {
  const layers = Object.fromEntries(LAYERS.map((name) => [name, true]));
  try {
    for (const name of JSON.parse(localStorage.getItem(LAYERS_KEY) || "[]")) if (name in layers) layers[name] = false;
  } catch (error) {
    console.warn("tinygan: cannot read the saved layers", error); // storage off, or not our JSON: all shown
  }
  return layers;
}

function setLayer(name, shown) {
  page.layers[name] = shown;
  try {
    localStorage.setItem(LAYERS_KEY, JSON.stringify(LAYERS.filter((layer) => !page.layers[layer])));
  } catch (error) {
    console.warn("tinygan: cannot save the layers", error);
  }
  invalidate(true, false);
}

// The legend: an item per layer of the picture, each with a box that shows or hides it.
function showViewLegend(dim) {
  const item = (swatch, text, layer) => layer
    ? `<label title="Show or hide this layer"><input type="checkbox" data-layer="${layer}"` +
      `${page.layers[layer] ? " checked" : ""}>${swatch}${text}</label>`
    : `<span>${swatch}${text}</span>`;
  const line = (color) => `<i class="swatch line" style="--c:${color}"></i>`;
  const dot = (color) => `<i class="swatch dot" style="--c:${color}"></i>`;
  $("view-title").textContent = dim === 1 ? "Densities and the discriminator" : "Samples and the discriminator";
  $("view-legend").innerHTML = dim === 1
    ? item(line(COLORS.discriminator), "D(x): the discriminator's belief that x is real", "discriminator") +
      item(line(COLORS.real), "real density", "real") + item(line(COLORS.generated), "generated density", "generated")
    : item(dot(COLORS.realPoint), "real samples", "real") +
      item(dot(COLORS.generatedPoint), "generated samples", "generated") +
      item('<i class="swatch heat"></i>', "D's heat map, and D = ½ (the line) where it cannot tell them apart",
        "discriminator") +
      item('<i class="swatch arrow"></i>', "where G's gradient moves its samples (one per spot, averaged)", "arrows") +
      item(line(COLORS.manifold), "G's manifold: where G sends a grid of noise", "manifold");
}

// ---------------------------------------------------------------- drawing

// Ask for a redraw; however many messages arrive, the page draws at most once per animation frame.
function invalidate(view, charts) {
  page.viewDirty ||= view;
  page.chartsDirty ||= charts;
  if (page.drawScheduled) return;
  page.drawScheduled = true;
  requestAnimationFrame(draw);
}

function draw() {
  page.drawScheduled = false;
  if (!live.scene) return;
  if (page.viewDirty) drawView();
  if (page.chartsDirty) {
    drawLosses();
    drawMetrics();
    showLatestValues();
    live.chartsDrawn += 1;
  }
  page.viewDirty = page.chartsDirty = false;
}

// Size the canvas's pixels to its CSS box times the device pixel ratio (crisp on HiDPI); draw in CSS pixels.
function prepareCanvas(canvas) {
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  const ratio = window.devicePixelRatio || 1;
  const pixelWidth = Math.max(1, Math.round(width * ratio));
  const pixelHeight = Math.max(1, Math.round(height * ratio));
  if (canvas.width !== pixelWidth || canvas.height !== pixelHeight) {
    canvas.width = pixelWidth;
    canvas.height = pixelHeight;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = FONT;
  return { ctx, width, height };
}

function drawView() {
  const canvas = $("view");
  const { ctx, width, height } = prepareCanvas(canvas);
  const frame = live.lastFrame;
  if (live.scene.dim === 1) drawView1d(ctx, width, height, frame);
  else drawView2d(ctx, width, height, frame);
  canvas.dataset.step = String(frame ? frame.step : live.scene.status.step);
  if (frame) live.framesDrawn += 1;
}

// The seed's picture: D(x), the real density and the generated density over the view. Words stay off the
// data: the "outside" note in a strip above the plot, "D = ½" in the margin to its right.
function drawView1d(ctx, width, height, frame) {
  const { view, real } = live.scene;
  const box = { left: 46, right: width - 44, top: 26, bottom: height - 34 };
  const drawn = drawing.on ? drawnDensity(view[0]) : null;
  const densityMax = Math.max(1, maxOf(real.density), frame ? maxOf(frame.generated.density) : 0,
    drawn ? maxOf(drawn.density) : 0);
  const x = linear(view[0], [box.left, box.right]);
  const y = linear([0, densityMax * 1.05], [box.bottom, box.top]);
  page.viewScales = { dim: 1, box, x, y };
  const labels = [];
  drawAxes(ctx, box, x, y, { xLabel: "x", yLabel: "density · D(x)" });
  dashedLine(ctx, box, y(0.5), COLORS.axis);
  labels.push(label(ctx, "D = ½", box.right + 4, y(0.5), "left", "middle"));
  const layers = [];
  if (page.layers.real) {
    drawCurve(ctx, real.x, real.density, x, y, COLORS.real, 2, y(0));
    layers.push("real");
  }
  if (frame) {
    if (page.layers.generated) {
      drawCurve(ctx, frame.generated.x, frame.generated.density, x, y, COLORS.generated, 2, y(0));
      layers.push("generated");
    }
    if (page.layers.discriminator) {
      drawCurve(ctx, frame.decision.x, frame.decision.y, x, y, COLORS.discriminator, 2.5);
      layers.push("discriminator");
    }
    const outside = frame.generated.outside || 0;
    const [low, high] = view[0];
    const note = `${formatPercent(outside)} of generated samples outside [${low}, ${high}]`;
    labels.push(label(ctx, note, box.right, box.top - 8, "right", "bottom",
      outside > 0.01 ? COLORS.generated : COLORS.text));
  }
  if (drawn) drawDrawn1d(ctx, box, x, y, drawn);
  live.layout = { box, labels, layers, drawn: drawing.on ? drawing.points.length : 0 };
}

// GAN Lab's picture: D's heat map with its D = ½ line, real and generated points, and G's arrows. Above the
// plot, the heat map's colour bar; below it, the share of generated samples the plot cannot show.
function drawView2d(ctx, width, height, frame) {
  const { view, real } = live.scene;
  const strip = 38; // above the plot: the colour bar; below: the ticks and the note
  const size = Math.max(10, Math.min(width - 50, height - 2 * strip));
  const left = Math.round((width - size) / 2) + 10;
  const box = { left, right: left + size, top: strip, bottom: strip + size };
  const x = linear(view[0], [box.left, box.right]);
  const y = linear(view[1], [box.bottom, box.top]);
  page.viewScales = { dim: 2, box, x, y };
  const labels = [];
  const arrows = frame && page.layers.arrows ? thinnedArrows(frame.arrows || [], x, y) : [];
  const field = frame && frame.heatmap && page.layers.discriminator ? decodedHeatmap(frame.heatmap) : null;
  const layers = field ? ["discriminator"] : [];
  if (field) {
    const end = colourScaleEnd(field);
    const pixels = Math.min(HEATMAP_PIXELS, Math.round(size * (window.devicePixelRatio || 1)));
    ctx.drawImage(heatmapImage(field, end, pixels), box.left, box.top, size, size);
    drawContour(ctx, contourSegments(field.logits, field.side, 0), box, field.side); // logit 0: D = ½
    labels.push(...drawColourBar(ctx, box.left, 8, end));
  }
  drawAxes(ctx, box, x, y, { xTickCount: 8, yTickCount: 8, grid: !field });
  ctx.save(); // points and arrows beyond the view stop at its edge (the note below counts them)
  ctx.beginPath();
  ctx.rect(box.left, box.top, size, size);
  ctx.clip();
  if (frame && frame.manifold && page.layers.manifold) {
    drawManifold(ctx, frame.manifold, x, y);
    layers.push("manifold");
  }
  if (page.layers.real) {
    drawPoints(ctx, real.points, x, y, COLORS.realPoint, 0.7);
    layers.push("real");
  }
  if (frame && page.layers.generated) {
    drawPoints(ctx, frame.generated.points, x, y, COLORS.generatedPoint, 0.8);
    layers.push("generated");
  }
  if (frame && page.layers.arrows) {
    drawArrows(ctx, arrows);
    layers.push("arrows");
  }
  if (drawing.on) drawDrawn2d(ctx, box, x, y);
  ctx.restore();
  if (frame && frame.generated.outside > 0) {
    const note = `${formatPercent(frame.generated.outside)} of generated samples outside the view`;
    labels.push(label(ctx, note, (box.left + box.right) / 2, box.bottom + 22, "center", "top"));
  }
  live.layout = { box, labels, arrows: arrows.length, layers, drawn: drawing.on ? drawing.points.length : 0 };
}

// Text at (px, py), and the box it covers (what tests check stays off the plot).
function label(ctx, text, px, py, align, baseline, color = COLORS.text) {
  ctx.fillStyle = color;
  ctx.textAlign = align;
  ctx.textBaseline = baseline;
  ctx.fillText(text, px, py);
  const width = ctx.measureText(text).width;
  const left = align === "left" ? px : align === "right" ? px - width : px - width / 2;
  const top = baseline === "top" ? py : baseline === "bottom" ? py - 12 : py - 6;
  return { text, left, right: left + width, top, bottom: top + 12 };
}

// D's heat map as numbers: side x side logits of D, row 0 the lowest y, and D's lowest and highest value.
// The bytes span the logits of these two (payload.frame), so that D's small differences are not rounded away.
function decodedHeatmap(heatmap) {
  const cache = page.heatmap;
  if (cache.source !== heatmap) {
    const { side, low, high } = heatmap;
    const step = (logit(high) - logit(low)) / 255;
    const logits = Float64Array.from(decodeBase64(heatmap.values), (b) => logit(low) + b * step);
    cache.source = heatmap;
    cache.field = { side, logits, low, high };
  }
  return cache.field;
}

function logit(p) {
  const clamped = Math.min(Math.max(p, 1e-9), 1 - 1e-9);
  return Math.log(clamped / (1 - clamped));
}

// The D at which the colour scale turns full green (1 - it: full purple): just past the frame's D farthest
// from ½, ½ plus a round number (at the start D is within 1/1000 of ½ everywhere, which a fixed 0..1 scale
// would show all white), or 0.99 or 0.999 (D beyond it is full colour).
function colourScaleEnd({ low, high }) {
  const farthest = Math.max(Math.abs(low - 0.5), Math.abs(high - 0.5), 1e-6);
  if (farthest > 0.4) return farthest > 0.49 ? 0.999 : 0.99;
  const magnitude = 10 ** Math.floor(Math.log10(farthest));
  const nice = [1, 1.5, 2, 3, 4, 5, 6, 8, 10].map((m) => m * magnitude).find((s) => s >= farthest * (1 - 1e-9));
  return 0.5 + nice;
}

// Where a logit of D lies on the colour scale, from -1 (full purple) through 0 (white: D = ½) to 1: by the
// logit, so that D's structure shows near 0 and 1 as well as near ½ (a D under 0.05 is not one flat purple).
function colourPosition(z, end) {
  return Math.max(-1, Math.min(1, z / logit(end)));
}

// The heat map drawn at `pixels` x `pixels` (about the screen's resolution): D's logit interpolated bilinearly
// between the grid's points, then coloured, so that it is smooth and passes through white only where D is ½.
function heatmapImage(field, end, pixels) {
  const cache = page.heatmap;
  if (cache.drawn === field && cache.pixels === pixels && cache.end === end) return cache.canvas;
  cache.canvas.width = cache.canvas.height = pixels;
  const ctx = cache.canvas.getContext("2d");
  const image = ctx.createImageData(pixels, pixels);
  const { side, logits } = field;
  const scale = (side - 1) / pixels; // the grid's points lie on the picture's edges
  for (let row = 0; row < pixels; row++) {
    const gy = (pixels - row - 0.5) * scale; // canvas rows go down, the grid's up
    for (let column = 0; column < pixels; column++) {
      const z = bilinear(logits, side, (column + 0.5) * scale, gy);
      image.data.set(divergingColour(colourPosition(z, end)), (row * pixels + column) * 4);
    }
  }
  ctx.putImageData(image, 0, 0);
  Object.assign(cache, { drawn: field, pixels, end });
  return cache.canvas;
}

// The value at grid coordinates (gx, gy) between the four grid points around it.
function bilinear(values, side, gx, gy) {
  const c = Math.min(Math.floor(gx), side - 2);
  const r = Math.min(Math.floor(gy), side - 2);
  const tx = gx - c;
  const ty = gy - r;
  const i = r * side + c;
  const bottom = values[i] + (values[i + 1] - values[i]) * tx;
  const top = values[i + side] + (values[i + side + 1] - values[i + side]) * tx;
  return bottom + (top - bottom) * ty;
}

// Where the field crosses `level`: segments [x0, y0, x1, y1] in grid units (column, row), by marching squares,
// each crossing placed by linear interpolation along its cell's edge. Neighbouring cells compute a shared
// edge's crossing alike, so the segments join into lines.
function contourSegments(values, side, level) {
  const segments = [];
  for (let r = 0; r < side - 1; r++) {
    for (let c = 0; c < side - 1; c++) {
      const corners = [[c, r], [c + 1, r], [c + 1, r + 1], [c, r + 1]]; // counter-clockwise
      const v = corners.map(([cc, rr]) => values[rr * side + cc]);
      const crossings = []; // crossings[k] on the edge from corner k to corner k + 1
      for (let k = 0; k < 4; k++) {
        const a = v[k];
        const b = v[(k + 1) % 4];
        if (a < level === b < level) continue;
        const t = (level - a) / (b - a);
        const [xa, ya] = corners[k];
        const [xb, yb] = corners[(k + 1) % 4];
        crossings.push([xa + (xb - xa) * t, ya + (yb - ya) * t]);
      }
      if (crossings.length === 2) segments.push([...crossings[0], ...crossings[1]]);
      else if (crossings.length === 4) segments.push(...saddle(crossings, v, level));
    }
  }
  return segments;
}

// A cell whose opposite corners lie on the same side of the level: the cell's mean says which pair of
// corners the region joins; the two lines then cut off the other two corners.
function saddle(crossings, corners, level) {
  const [e0, e1, e2, e3] = crossings;
  const mean = (corners[0] + corners[1] + corners[2] + corners[3]) / 4;
  const joined = mean < level === corners[0] < level; // corners 0 and 2 join through the middle
  return joined ? [[...e0, ...e1], [...e2, ...e3]] : [[...e3, ...e0], [...e1, ...e2]];
}

// The D = ½ line, from grid units to the plot `box`: one path, so that it has no darker spots where segments meet.
function drawContour(ctx, segments, box, side) {
  const k = (box.right - box.left) / (side - 1);
  ctx.beginPath();
  for (const [x0, y0, x1, y1] of segments) {
    ctx.moveTo(box.left + x0 * k, box.bottom - y0 * k);
    ctx.lineTo(box.left + x1 * k, box.bottom - y1 * k);
  }
  ctx.save();
  Object.assign(ctx, { strokeStyle: COLORS.contour, lineWidth: 1.75, lineCap: "round", lineJoin: "round" });
  ctx.stroke();
  ctx.restore();
}

// The heat map's colour bar, in the strip above the plot: 1 - end to end, with the D = ½ line's mark at its
// middle (and 0.1 and 0.9 marked where the scale reaches past them: it is not linear). Returns its words' boxes.
function drawColourBar(ctx, left, top, end) {
  const width = 160;
  const height = 10;
  const labels = [label(ctx, "D(x): fake", left, top + height / 2, "left", "middle")];
  const start = labels[0].right + 6;
  for (let i = 0; i < width; i++) {
    const [r, g, b] = divergingColour((2 * (i + 0.5)) / width - 1);
    ctx.fillStyle = `rgb(${r}, ${g}, ${b})`;
    ctx.fillRect(start + i, top, 1, height);
  }
  ctx.strokeStyle = COLORS.axis;
  ctx.lineWidth = 1;
  ctx.strokeRect(start - 0.5, top - 0.5, width + 1, height + 1);
  const at = (d) => start + ((colourPosition(logit(d), end) + 1) / 2) * width;
  ctx.save();
  Object.assign(ctx, { strokeStyle: COLORS.contour, lineWidth: 1.75 });
  line(ctx, at(0.5), top - 3, at(0.5), top + height + 3);
  ctx.restore();
  const digits = 1 - Math.floor(Math.log10(Math.min(end - 0.5, 1 - end))); // 0.5015 and 0.999: 4
  const text = (d) => String(Number(d.toFixed(digits)));
  const ticks = [[1 - end, "left"], [0.5, "center"], [end, "right"]];
  if (end >= 0.99) ticks.push([0.1, "center"], [0.9, "center"]);
  for (const [d, align] of ticks) {
    if (d !== 0.5 && align === "center") line(ctx, at(d), top + height, at(d), top + height + 2);
    labels.push(label(ctx, d === 0.5 ? "½" : text(d), at(d), top + height + 3, align, "top"));
  }
  labels.push(label(ctx, "real", start + width + 6, top + height / 2, "left", "middle"));
  return labels;
}

// ColorBrewer's PRGn, t from -1 (purple: fake) through 0 (white: D = ½) to 1 (green: real), its darkest ends
// left out so that the dark points drawn over it stay readable.
const PRGN = [[153, 112, 171], [194, 165, 207], [231, 212, 232], [247, 247, 247], [217, 240, 211],
  [166, 219, 160], [90, 174, 97]];
const DIVERGING = Array.from({ length: 511 }, (_, i) => {
  const position = (i / 510) * (PRGN.length - 1);
  const k = Math.min(Math.floor(position), PRGN.length - 2);
  const t = position - k;
  return Uint8ClampedArray.from([...PRGN[k].map((c, j) => c + (PRGN[k + 1][j] - c) * t), 255]);
});

function divergingColour(t) {
  return DIVERGING[Math.round((Math.max(-1, Math.min(1, t)) + 1) * 255)];
}

function decodeBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// One path per colour: a few thousand points stay one fill call.
function drawPoints(ctx, points, x, y, color, alpha, radius = 1.8) {
  ctx.beginPath();
  for (const [px, py] of points) {
    const cx = x(px);
    const cy = y(py);
    ctx.moveTo(cx + radius, cy);
    ctx.arc(cx, cy, radius, 0, 2 * Math.PI);
  }
  ctx.globalAlpha = alpha;
  ctx.fillStyle = color;
  ctx.fill();
  ctx.globalAlpha = 1;
}

// G's arrows on the screen, [x0, y0, x1, y1], at most one per `cell` x `cell` pixels: the arrows that start in
// one cell become their average (a collapsed generator's 256 arrows on one spot become one), and none is
// longer than `longest` pixels. Arrows with a null (a NaN gradient) are left out.
function thinnedArrows(arrows, x, y, cell = ARROW_CELL, longest = ARROW_LONGEST) {
  const cells = new Map();
  for (const [ax, ay, dx, dy] of arrows) {
    if (![ax, ay, dx, dy].every(Number.isFinite)) continue;
    const x0 = x(ax);
    const y0 = y(ay);
    const key = `${Math.floor(x0 / cell)},${Math.floor(y0 / cell)}`;
    const sum = cells.get(key) || { x: 0, y: 0, dx: 0, dy: 0, n: 0 };
    sum.x += x0;
    sum.y += y0;
    sum.dx += x(ax + dx) - x0;
    sum.dy += y(ay + dy) - y0;
    sum.n += 1;
    cells.set(key, sum);
  }
  return [...cells.values()].map(({ x: sx, y: sy, dx, dy, n }) => {
    const shrink = Math.min(1, longest / (Math.hypot(dx, dy) / n || 1));
    return [sx / n, sy / n, (sx + dx * shrink) / n, (sy + dy * shrink) / n];
  });
}

// G's manifold: `lines` is G's image of a lattice of noise levels, rows of (x, y) points (one row: the curve
// of 1-D noise). Each row is drawn through its points, and so is each column: the lattice G has bent.
function drawManifold(ctx, lines, x, y) {
  ctx.save();
  ctx.strokeStyle = COLORS.manifold;
  ctx.lineWidth = 1;
  ctx.beginPath();
  const trace = (points) => {
    let down = false; // a non-finite point (null) lifts the pen
    for (const [px, py] of points) {
      if (px === null || py === null) {
        down = false;
      } else {
        if (down) ctx.lineTo(x(px), y(py));
        else ctx.moveTo(x(px), y(py));
        down = true;
      }
    }
  };
  for (const row of lines) trace(row);
  if (lines.length > 1) for (let j = 0; j < lines[0].length; j++) trace(lines.map((row) => row[j]));
  ctx.stroke();
  ctx.restore();
}

function drawArrows(ctx, arrows) {
  ctx.beginPath();
  for (const [x0, y0, x1, y1] of arrows) {
    const length = Math.hypot(x1 - x0, y1 - y0);
    if (length < 1) continue;
    const head = Math.min(4, length * 0.4);
    const angle = Math.atan2(y1 - y0, x1 - x0);
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.lineTo(x1 - head * Math.cos(angle - 0.5), y1 - head * Math.sin(angle - 0.5));
    ctx.moveTo(x1, y1);
    ctx.lineTo(x1 - head * Math.cos(angle + 0.5), y1 - head * Math.sin(angle + 0.5));
  }
  ctx.strokeStyle = COLORS.arrow;
  ctx.lineWidth = 1;
  ctx.stroke();
}

// loss_d and loss_g over steps: the history's rows and the page's live points (one per frame and per single
// step, `live.points`) together, with dashed lines where D is indifferent (the game's equilibrium) and the single
// steps' points as rings.
function drawLosses() {
  const canvas = $("losses");
  const { ctx, width, height } = prepareCanvas(canvas);
  const { columns, equilibrium } = live.scene;
  const box = { left: 46, right: width - 10, top: 12, bottom: height - 24 };
  const points = lossPoints(columns.indexOf("loss_d"), columns.indexOf("loss_g"));
  const levels = equilibrium ? equilibrium.map((value, i) => ({ value, color: LOSS_COLORS[i] })) : [];
  const series = LOSS_COLORS.map((color, i) => ({ ys: points.ys[i], color }));
  const drawn = drawSeries(ctx, box, points.xs, series, levels, {
    xTicks: true, log: $("losses-log").checked, manual: points.manual,
  });
  canvas.dataset.scale = drawn.scale;
  canvas.dataset.marks = String(drawn.marks.length);
  setText($("losses-scale-note"), drawn.fellBack ? "linear: a loss is ≤ 0" : "");
  live.charts.losses = { ...drawn, points: points.xs.length, manualPoints: points.manual.length };
  live.charts.marks = drawn.marks;
}
const LOSS_COLORS = [COLORS.discriminator, COLORS.generated];

// The history's (step, loss_d, loss_g) merged with the live points by x: { xs, ys: [loss_d, loss_g], manual:
// the indices of single steps' points }.
function lossPoints(columnD, columnG) {
  const rows = live.history;
  const points = live.points;
  const xs = [];
  const ys = [[], []];
  const manual = [];
  let i = 0;
  let j = 0;
  while (i < rows.length || j < points.length) {
    if (j >= points.length || (i < rows.length && rows[i][0] <= points[j].x)) {
      xs.push(rows[i][0]);
      ys[0].push(rows[i][columnD]);
      ys[1].push(rows[i][columnG]);
      i++;
    } else {
      if (points[j].manual) manual.push(xs.length);
      xs.push(points[j].x);
      ys[0].push(points[j].losses[0]);
      ys[1].push(points[j].losses[1]);
      j++;
    }
  }
  return { xs, ys, manual };
}

// Each metric on its own small chart: their scales differ by orders of magnitude.
function drawMetrics() {
  const canvas = $("metrics");
  const { ctx, width, height } = prepareCanvas(canvas);
  const { columns, metrics } = live.scene;
  const panelHeight = (height - 22) / Math.max(1, metrics.length);
  const xs = live.history.map((row) => row[0]);
  const log = $("metrics-log").checked;
  live.charts.metrics = metrics.map((name, i) => {
    const top = i * panelHeight;
    const box = { left: 46, right: width - 10, top: top + 16, bottom: top + panelHeight - 6 };
    const series = [{ ys: live.history.map((row) => row[columns.indexOf(name)]), color: COLORS.metric }];
    const drawn = drawSeries(ctx, box, xs, series, [], { xTicks: i === metrics.length - 1, yTicks: 3, zero: true, log });
    ctx.fillStyle = COLORS.text;
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    const title = METRIC_LABELS[name] || name;
    ctx.fillText(title, box.left, top + 11);
    if (drawn.fellBack) {
      ctx.fillStyle = COLORS.mark;
      ctx.fillText("linear: a value is ≤ 0", box.left + ctx.measureText(title).width + 10, top + 11);
    }
    return { name, ...drawn };
  });
  canvas.dataset.scale = live.charts.metrics.map((chart) => chart.scale).join(" ");
  canvas.dataset.marks = String(live.charts.metrics.length ? live.charts.metrics[0].marks.length : 0);
}

// Lines of `series` ({ys, color}) against `xs` (ascending steps), at most about one point per pixel, on a robust
// y-range (linear, or log where every value is positive), with the session's setting changes marked. `manual`:
// indices of points also drawn as rings (single steps). Returns what it drew, for the tests and the hover.
function drawSeries(ctx, box, xs, series, levels, { xTicks = false, yTicks = 4, zero = false, log = false, manual = [] }) {
  const indices = thinnedIndices(xs.length, box.right - box.left);
  const x = linear([0, timeEnd()], [box.left, box.right]);
  const values = [];
  for (const { ys } of series) for (const i of indices) values.push(ys[i]);
  const range = robustRange(values, { zero, log, extra: levels.map(({ value }) => value) });
  const y = range.log ? logScale([range.low, range.high], [box.bottom, box.top])
    : linear([range.low, range.high], [box.bottom, box.top]);
  const clamped = (v) => Math.max(box.top, Math.min(box.bottom, y(v))); // beyond the range: at the edge
  drawAxes(ctx, box, x, y, { xTickCount: xTicks ? 5 : 0, yTickCount: yTicks, compact: true });
  const marks = drawMarks(ctx, box, x, (page.status && page.status.marks) || []);
  for (const { value, color } of levels) if (!range.log || value > 0) dashedLine(ctx, box, clamped(value), color);
  for (const { ys, color } of series) {
    drawCurve(ctx, indices.map((i) => xs[i]), indices.map((i) => ys[i]), x, clamped, color, 1.5);
    const rings = manual.slice(-200).filter((i) => ys[i] !== null && Number.isFinite(ys[i]));
    drawRings(ctx, rings.map((i) => [x(xs[i]), clamped(ys[i])]), color);
  }
  return { scale: range.log ? "log" : "linear", fellBack: range.fellBack, low: range.low, high: range.high,
    ticks: y.ticks(yTicks), marks };
}

// Where the charts' time axis ends (the same on both, so that their steps line up): the latest step drawn or run.
function timeEnd() {
  const rows = live.history;
  const points = live.points;
  return Math.max(10, rows.length ? rows[rows.length - 1][0] : 0, points.length ? points[points.length - 1].x : 0,
    (page.status && page.status.step) || 0);
}

// The setting changes that kept the weights, [[step, what changed], ...]: a thin line at each step in the plot and
// a small triangle above it (its words show on hover: `markAt`). Returns the ones drawn, with their x in pixels.
function drawMarks(ctx, box, x, marks) {
  const drawn = [];
  ctx.save();
  Object.assign(ctx, { strokeStyle: COLORS.mark, fillStyle: COLORS.mark, lineWidth: 1, globalAlpha: 0.75 });
  ctx.setLineDash([2, 3]);
  for (const [step, text] of marks) {
    if (step < x.domain[0] || step > x.domain[1]) continue;
    const px = Math.round(x(step)) + 0.5;
    line(ctx, px, box.top, px, box.bottom);
    ctx.beginPath();
    ctx.moveTo(px - 3.5, box.top - 5);
    ctx.lineTo(px + 3.5, box.top - 5);
    ctx.lineTo(px, box.top);
    ctx.fill();
    drawn.push({ step, text, x: px });
  }
  ctx.restore();
  return drawn;
}

// The marks' words as the canvas's tooltip, for the mark within 5 pixels of the pointer.
function markAt(canvas, event, marks) {
  const px = event.clientX - canvas.getBoundingClientRect().left;
  const near = marks.filter((mark) => Math.abs(mark.x - px) <= 5).map((mark) => `step ${formatCount(mark.step)}: ${mark.text}`);
  canvas.title = near.join("\n");
}

function drawRings(ctx, points, color) {
  ctx.beginPath();
  for (const [px, py] of points) {
    ctx.moveTo(px + 3, py);
    ctx.arc(px, py, 3, 0, 2 * Math.PI);
  }
  Object.assign(ctx, { strokeStyle: color, lineWidth: 1.25 });
  ctx.stroke();
}

// The y-range that early spikes do not flatten: the 2nd to 98th percentile of the values, narrowed to within
// 3 interquartile ranges of the middle half (a spike in a few rows of twenty), widened to `extra` (levels worth
// seeing), padded by 8%; with `zero`, from 0 when every value is at least 0. With `log` and every value
// positive, the same on log10 of the values (else linear, and `fellBack`). Returns { low, high, log, fellBack }.
function robustRange(values, { zero = false, log = false, extra = [] } = {}) {
  const finite = values.filter((v) => v !== null && Number.isFinite(v));
  const useLog = log && finite.length > 0 && finite.every((v) => v > 0);
  const toScale = useLog ? Math.log10 : (v) => v;
  const sorted = finite.map(toScale).sort((a, b) => a - b);
  const fellBack = log && !useLog;
  if (!sorted.length) return { low: 0, high: 1, log: false, fellBack };
  const q = (p) => quantile(sorted, p);
  let low = q(0.02);
  let high = q(0.98);
  const spread = 3 * (q(0.75) - q(0.25));
  if (spread > 0) {
    low = Math.max(low, q(0.25) - spread);
    high = Math.min(high, q(0.75) + spread);
  }
  for (const v of extra) {
    if (v === null || !Number.isFinite(v) || (useLog && v <= 0)) continue;
    low = Math.min(low, toScale(v));
    high = Math.max(high, toScale(v));
  }
  const fromZero = zero && !useLog && sorted[0] >= 0;
  if (fromZero) low = 0;
  const pad = (high - low) * 0.08 || Math.abs(high) * 0.1 || 1;
  low = fromZero ? 0 : low - pad;
  high += pad;
  return useLog ? { low: 10 ** low, high: 10 ** high, log: true, fellBack } : { low, high, log: false, fellBack };
}

// The p-quantile of ascending `sorted`, interpolated linearly between its neighbours.
function quantile(sorted, p) {
  const at = p * (sorted.length - 1);
  const below = Math.floor(at);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (at - below);
}

// ---------------------------------------------------------------- live points

// A loss point per frame and per single step, from the status's latest losses: a repeat (the same step, losses
// and count of single steps) adds none. A single step's point sits just after its step (step + ½, + ¾, ...: a
// D step does not advance the step count). Returns whether a point was added.
function addLivePoint(status) {
  const losses = status.losses;
  if (!losses || !losses.some((v) => v !== null && Number.isFinite(v))) return false;
  const manualSteps = status.manual_steps || 0;
  const last = live.points[live.points.length - 1];
  if (last && last.step === status.step && last.manualSteps === manualSteps &&
      last.losses[0] === losses[0] && last.losses[1] === losses[1]) return false;
  const manual = Boolean(last) && manualSteps > last.manualSteps;
  if (!manual && last && last.manual && last.step === status.step && last.manualSteps === manualSteps) {
    last.losses = losses.slice(); // the single step's loss, in a later message than its count
    return true;
  }
  let nth = 1; // single steps at this step so far, this one included
  for (let i = live.points.length - 1; manual && i >= 0 && live.points[i].step === status.step; i--) {
    if (live.points[i].manual) nth += 1;
  }
  const x = manual ? status.step + 1 - 0.5 ** nth : status.step;
  live.points.push({ x, step: status.step, losses: losses.slice(), manual, nth, manualSteps });
  if (live.points.length > LIVE_POINTS) live.points = live.points.filter((point, i) => point.manual || i % 2 === 0);
  return true;
}
const LIVE_POINTS = 20000; // past this, every other point is dropped (the single steps' points kept)

// A key that changes when the marks do.
function marksKey(status) {
  const marks = status.marks || [];
  return marks.length ? `${marks.length}:${marks[marks.length - 1].join(":")}` : "";
}

// Indices 0, k, 2k, ... and the last, with k a power of two: the points drawn stay the same as the history
// grows (no shimmer), and there are at most about `pixels` of them.
function thinnedIndices(length, pixels) {
  let stride = 1;
  while (length / stride > pixels) stride *= 2;
  const indices = [];
  for (let i = 0; i < length; i += stride) indices.push(i);
  if (length && indices[indices.length - 1] !== length - 1) indices.push(length - 1);
  return indices;
}

// ---------------------------------------------------------------- chart primitives

function linear([d0, d1], [r0, r1]) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  const scale = (v) => r0 + (v - d0) * k;
  scale.domain = [d0, d1];
  scale.range = [r0, r1];
  scale.ticks = (count) => niceTicks(scale.domain, count);
  return scale;
}

// A log10 scale over positive [d0, d1]; its ticks are powers of ten (with 2 and 5 times them over few decades),
// or nice linear ticks within a decade.
function logScale([d0, d1], [r0, r1]) {
  const inner = linear([Math.log10(d0), Math.log10(d1)], [r0, r1]);
  const scale = (v) => inner(Math.log10(v));
  scale.domain = [d0, d1];
  scale.ticks = (count) => {
    const [a, b] = inner.domain;
    if (b - a < 1) return niceTicks(scale.domain, count);
    const every = Math.ceil((Math.floor(b) - Math.ceil(a) + 1) / Math.max(count, 1));
    const ticks = [];
    for (let k = Math.ceil(a); k <= b; k += every) ticks.push(10 ** k);
    if (b - a < 2.5) for (let k = Math.floor(a); k <= b; k++) ticks.push(2 * 10 ** k, 5 * 10 ** k);
    return ticks.filter((v) => v >= d0 && v <= d1).sort((u, v) => u - v);
  };
  return scale;
}

function drawAxes(ctx, box, x, y, { xTickCount = 6, yTickCount = 5, xLabel, yLabel, grid = true, compact = false }) {
  ctx.lineWidth = 1;
  ctx.fillStyle = COLORS.text;
  ctx.strokeStyle = COLORS.grid;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const value of y.ticks(yTickCount)) {
    const py = Math.round(y(value)) + 0.5;
    if (grid) line(ctx, box.left, py, box.right, py);
    ctx.fillText(formatTick(value, compact), box.left - 6, py);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const canvasWidth = ctx.canvas.clientWidth;
  for (const value of x.ticks(xTickCount)) {
    const px = Math.round(x(value)) + 0.5;
    if (grid) line(ctx, px, box.top, px, box.bottom);
    const text = formatTick(value, compact);
    const half = ctx.measureText(text).width / 2;
    ctx.fillText(text, Math.min(px, canvasWidth - half - 1), box.bottom + 5); // the last label stays whole
  }
  ctx.strokeStyle = COLORS.axis;
  line(ctx, box.left + 0.5, box.top, box.left + 0.5, box.bottom);
  line(ctx, box.left, box.bottom + 0.5, box.right, box.bottom + 0.5);
  if (xLabel) ctx.fillText(xLabel, (box.left + box.right) / 2, box.bottom + 19);
  if (yLabel) {
    ctx.save();
    ctx.translate(12, (box.top + box.bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(yLabel, 0, -6);
    ctx.restore();
  }
}

function line(ctx, x0, y0, x1, y1) {
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  ctx.lineTo(x1, y1);
  ctx.stroke();
}

function dashedLine(ctx, box, py, color) {
  ctx.save();
  ctx.setLineDash([5, 4]);
  ctx.strokeStyle = color;
  ctx.globalAlpha = 0.7;
  line(ctx, box.left, py, box.right, py);
  ctx.restore();
}

// A polyline that breaks at nulls (NaN in the history); `baseline` fills the area under it, lightly.
function drawCurve(ctx, xs, ys, x, y, color, width, baseline) {
  ctx.beginPath();
  const lone = []; // points with no drawn neighbour: a dot each (a line of one point draws nothing)
  let run = 0;
  for (let i = 0; i <= xs.length; i++) {
    if (i === xs.length || ys[i] === null || !Number.isFinite(ys[i])) {
      if (run === 1) lone.push(i - 1);
      run = 0;
      continue;
    }
    const px = x(xs[i]);
    const py = y(ys[i]);
    if (run) ctx.lineTo(px, py);
    else ctx.moveTo(px, py);
    run += 1;
  }
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.lineJoin = "round";
  ctx.stroke();
  if (lone.length && baseline === undefined) {
    ctx.save();
    ctx.beginPath();
    for (const i of lone) {
      ctx.moveTo(x(xs[i]) + width + 1, y(ys[i]));
      ctx.arc(x(xs[i]), y(ys[i]), width + 1, 0, 2 * Math.PI);
    }
    ctx.fillStyle = color;
    ctx.fill();
    ctx.restore();
  }
  if (baseline !== undefined && xs.length) {
    ctx.lineTo(x(xs[xs.length - 1]), baseline);
    ctx.lineTo(x(xs[0]), baseline);
    ctx.globalAlpha = 0.12;
    ctx.fillStyle = color;
    ctx.fill();
    ctx.globalAlpha = 1;
  }
}

function niceTicks([low, high], count) {
  if (!count || !(high > low)) return [];
  const raw = (high - low) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const ticks = [];
  // Whole multiples of the step, counted (not summed) so that errors do not add up; formatTick rounds the rest.
  for (let k = Math.ceil(low / step); k * step <= high + step * 1e-9; k++) ticks.push(k * step);
  return ticks;
}

function maxOf(values) {
  let max = -Infinity;
  for (const v of values) if (v !== null && v > max) max = v;
  return max;
}

// ---------------------------------------------------------------- text

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function labelOf(input) {
  const label = document.querySelector(`label[for="${input.id}"]`);
  return label ? label.textContent.trim() : input.id;
}

function formatCount(n) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US");
}

function formatValue(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
  return String(Number(v.toPrecision(4)));
}

function formatTick(v, compact) {
  if (compact && Math.abs(v) >= 10000) return `${Number((v / 1000).toPrecision(3))}k`;
  return String(Number(v.toPrecision(6)));
}

function formatPercent(fraction) {
  const percent = fraction * 100;
  return `${percent === 0 || percent >= 10 ? percent.toFixed(0) : percent.toFixed(1)}%`;
}

function formatBytes(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(0)} KiB`;
  return `${n} bytes`;
}

// ---------------------------------------------------------------- start

async function loadOptions() {
  try {
    showOptions(await getJson("/api/options"));
    if (page.status) applyStatus(page.status); // the selects only now hold the values to select
  } catch (error) {
    reportError(`Cannot read the options (${error.message})`, true);
  }
}

live.picture = {
  thinnedArrows, contourSegments, colourScaleEnd, colourPosition, decodedHeatmap, heatmapImage, drawContour,
};
live.robustRange = robustRange;
live.toPixel = toPixel; // for tests: where a data point lies on the picture (CSS pixels in the canvas)
live.setPhase = setPhase; // for tests: light a side of the model graph (the next status sets it again)
live.redrawCharts = () => invalidate(false, true); // for tests: the charts drawn again, from `history` and `points`
live.redraw = () => invalidate(true, false); // for tests: the picture drawn again, from the latest frame

async function start() {
  bindControls();
  const resized = new ResizeObserver(() => invalidate(true, true));
  for (const id of ["view", "losses", "metrics"]) resized.observe($(id));
  await loadOptions();
  await resync();
  connect();
}

start();
