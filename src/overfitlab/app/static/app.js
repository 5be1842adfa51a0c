// overfitlab playground: controls -> POST /api/train -> three plotly views and a table of numbers.
// The page state is the request itself; it lives in the address bar's query string.
"use strict";

// kind: "select" | "linear" | "log" (slider on log10; with zero: the leftmost stop means 0)
//       | "stops" (slider over a list) | "checkbox" | "number".
const CONTROLS = [
  { name: "target", label: "target f(x)", kind: "select",
    tip: "The noise-free function behind the data. Look for: which targets a small or strongly regularized network can still follow (the step is hard)." },
  { name: "n_train", label: "training points", kind: "stops", stops: [5, 8, 10, 15, 20, 30, 50, 100, 200],
    tip: "Points on a grid of [-1, 1] to train on. Look for: more data narrows the band and pulls the test MSE towards the noise floor without any penalty." },
  { name: "noise", label: "noise (std)", kind: "linear", min: 0, max: 1, step: 0.01,
    tip: "Standard deviation of the label noise. Look for: the dotted noise floor (its square) moves; noisier data overfits sooner." },
  { name: "hidden_units", label: "hidden units", kind: "stops", stops: [1, 2, 3, 5, 10, 20, 50, 100, 200],
    tip: "Units per hidden layer. Look for: a small network cannot wiggle through every point (a capacity limit acts as regularization)." },
  { name: "depth", label: "hidden layers", kind: "linear", min: 1, max: 4, step: 1,
    tip: "Number of hidden layers. Look for: deeper networks fit faster and overfit more with few points." },
  { name: "activation", label: "activation", kind: "select",
    tip: "Hidden-unit nonlinearity. Look for: relu fits are piecewise linear, tanh fits are smooth, identity is a straight line." },
  { name: "learning_rate", label: "learning rate", kind: "log", min: -4, max: -1, step: 0.1,
    tip: "Adam step size. Look for: the curves shift left or right in iterations; too large makes them noisy." },
  { name: "iterations", label: "iterations", kind: "stops", stops: [100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000],
    tip: "Full-batch training iterations. Look for: stopping early (few iterations) regularizes like a weight penalty; the test curve's minimum is the best stopping time." },
  { name: "alpha", label: "L2 alpha", kind: "log", min: -6, max: 1, step: 0.1, zero: true,
    tip: "Weight-decay strength (scikit-learn's alpha), log scale; leftmost is 0. Look for: the fitted curve smooths, test MSE first falls then rises, weight magnitudes shrink." },
  { name: "l1", label: "L1 penalty", kind: "log", min: -5, max: 0, step: 0.1, zero: true,
    tip: "Absolute-value penalty applied by a proximal step, log scale; leftmost is 0. Look for: weights that become exactly zero and units switched off (the bars drop to zero)." },
  { name: "dropout", label: "dropout rate", kind: "linear", min: 0, max: 0.8, step: 0.05,
    tip: "Share of hidden units dropped at random in each training step. Look for: a smoother, flatter fit and noisier training curves." },
  { name: "ensemble", label: "ensemble size", kind: "stops", stops: [1, 2, 3, 5, 10, 20],
    tip: "Networks trained independently and averaged. Look for: the averaged fit wiggles less; the 'at end' test MSE drops below the average member's curve." },
  { name: "seeds", label: "seeds", kind: "stops", stops: [1, 2, 5, 10, 20, 50, 100],
    tip: "Independent repetitions drawn at once; the band spans their 10-90 %. Look for: how much a single run can mislead (data sets x seeds x ensemble is at most 100)." },
  { name: "datasets", label: "data sets", kind: "stops", stops: [1, 2, 3, 5, 10, 20],
    tip: "Independent noise draws of the training points, each trained from every seed. Above 1 the page splits the test error into noise, bias\u00b2 and variance from the data and from the initialisation. Look for: which term each regularizer lowers." },
  { name: "early_stopping", label: "early stopping", kind: "checkbox",
    tip: "Hold out part of the training points, stop when their error has not improved for 'patience' iterations and restore the best weights. Look for: fewer points left to fit, and where it stops against the test curve's minimum." },
  { name: "validation_fraction", label: "validation share", kind: "linear", min: 0.1, max: 0.5, step: 0.05,
    tip: "Share of training points held out for early stopping (open markers). Look for: with 10 points every held-out point is costly." },
  { name: "patience", label: "patience", kind: "stops", stops: [10, 20, 50, 100, 200, 500, 1000, 2000],
    tip: "Iterations without validation improvement before early stopping ends training. Look for: short patience stops on noise, long patience overfits." },
  { name: "seed", label: "seed", kind: "number", min: 0,
    tip: "Seed of the data noise and of the networks. Look for: another draw of the same experiment; the whole view is reproducible from it." },
];

let state = {};       // the current request
let defaults = null;  // GET /api/defaults
let version = 0;      // number of answers rendered
let inFlight = false, pending = false;

const $ = (id) => document.getElementById(id);
const fmt = (v) => (v === null || v === undefined ? "-"
  : Number.isInteger(v) && Math.abs(v) < 1e7 ? String(v)
  : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? Number(v).toExponential(2)
  : Number(v.toPrecision(3)).toString());
const round3 = (v) => Number(v.toPrecision(3));

// --- control <-> value mapping -------------------------------------------------------------
function toSlider(c, v) {
  if (c.kind === "log") return v <= 0 && c.zero ? c.min - c.step : Math.min(c.max, Math.max(c.min, Math.log10(v)));
  if (c.kind === "stops") {
    let best = 0;
    c.stops.forEach((s, i) => { if (Math.abs(s - v) < Math.abs(c.stops[best] - v)) best = i; });
    return best;
  }
  return v;
}
function fromSlider(c, pos) {
  pos = Number(pos);
  if (c.kind === "log") return c.zero && pos < c.min - c.step / 2 ? 0 : round3(Math.pow(10, pos));
  if (c.kind === "stops") return c.stops[pos];
  return round3(pos);
}
function parseValue(c, text) {
  if (c.kind === "checkbox") return text === "true" || text === "1";
  if (c.kind === "select") return text;
  return Number(text);
}

// --- the server's limits (GET /api/defaults), applied before a request is sent ---------------
// Same rules, numbers and order as TrainRequest._combined_limits in schemas.py.
const LIMITED = ["datasets", "seeds", "ensemble", "iterations", "n_train", "hidden_units", "depth",
                 "early_stopping", "validation_fraction"];
const nPoints = (s) => (s.x_train ? s.x_train.length : s.n_train);
function nParameters(s) {  // n_parameters((1, h, ..., h, 1)) = sum over layers of (fan_in + 1) x fan_out
  const h = s.hidden_units;
  return 2 * h + (s.depth - 1) * (h + 1) * h + (h + 1);
}
function violations(s) {
  const out = [], networks = s.datasets * s.seeds * s.ensemble;
  if (s.x_train && s.datasets > 1)
    out.push({ fields: ["datasets"], why: "your own points: one data set" });
  if (networks > defaults.max_networks)
    out.push({ fields: ["datasets", "seeds", "ensemble"], why: "data sets \u00d7 seeds \u00d7 ensemble \u2264 " + defaults.max_networks });
  const work = networks * s.iterations * nPoints(s) * nParameters(s);
  if (work > defaults.max_work)
    out.push({ fields: ["datasets", "seeds", "ensemble", "iterations", "n_train", "hidden_units", "depth"],
               why: "networks \u00d7 iterations \u00d7 points \u00d7 parameters \u2264 " + fmt(defaults.max_work) });
  if (s.early_stopping && Math.ceil(s.validation_fraction * nPoints(s)) < defaults.min_validation)
    out.push({ fields: ["early_stopping", "validation_fraction", "n_train"],
               why: "early stopping holds out ceil(share \u00d7 points) \u2265 " + defaults.min_validation + " points" });
  return out;
}
const blocking = (s, name) => violations(s).filter((v) => v.fields.includes(name));

// Every value a control can take, in slider order.
function positions(c) {
  if (c.kind === "checkbox") return [false, true];
  if (c.kind === "stops") return c.stops;
  if (c.kind === "linear" || c.kind === "log") {
    const lo = c.kind === "log" && c.zero ? c.min - c.step : c.min, n = Math.round((c.max - lo) / c.step);
    return Array.from({ length: n + 1 }, (_, i) => fromSlider(c, lo + i * c.step));
  }
  return null;
}

// The allowed value nearest to the requested one (in slider positions), or the current value.
function nearestAllowed(c, wanted) {
  const values = positions(c);
  if (!values || !blocking({ ...state, [c.name]: wanted }, c.name).length) return wanted;
  const at = values.findIndex((v) => v === wanted);
  let best = null;
  values.forEach((v, i) => {
    if (!blocking({ ...state, [c.name]: v }, c.name).length && (best === null || Math.abs(i - at) < Math.abs(best - at))) best = i;
  });
  return best === null ? state[c.name] : values[best];
}

// Early stopping switched on with too few validation points: raise the validation share to the
// smallest that holds out enough (at most 0.5 of at least 4 points always does).
function makeRoomForValidation() {
  const share = CONTROLS.find((x) => x.name === "validation_fraction");
  const on = { ...state, early_stopping: true };
  const ok = positions(share).find((v) => !blocking({ ...on, validation_fraction: v }, "early_stopping").length);
  if (ok !== undefined) Object.assign(state, { early_stopping: true, validation_fraction: ok });
}

// "max 5 here: seeds x ensemble <= 100" under a control some of whose values are refused.
function limitNote(c) {
  if (c.name === "n_train" && state.x_train) return "your " + state.x_train.length + " points set it (reset to use the slider)";
  const values = positions(c);
  if (!values || !LIMITED.includes(c.name) || c.kind === "checkbox") return "";
  const ok = values.filter((v) => !blocking({ ...state, [c.name]: v }, c.name).length);
  if (ok.length === values.length) return "";
  const refused = values.find((v) => blocking({ ...state, [c.name]: v }, c.name).length);
  const why = blocking({ ...state, [c.name]: refused }, c.name)[0].why;
  if (!ok.length) return "greyed: " + why;
  const lo = ok[0], hi = ok[ok.length - 1];
  const range = lo === values[0] ? "max " + fmt(hi) : hi === values[values.length - 1] ? "min " + fmt(lo) : fmt(lo) + " to " + fmt(hi);
  return range + " here: " + why;
}

// --- building the controls -----------------------------------------------------------------
// Slider ranges never exceed the server's own bounds of the field.
function clipToLimits(c) {
  const lim = defaults.limits[c.name];
  if (!lim) return;
  const inside = (v) => (lim.minimum === undefined || v >= lim.minimum) && (lim.maximum === undefined || v <= lim.maximum);
  if (c.kind === "stops") c.stops = c.stops.filter(inside);
  if (c.kind === "linear") { c.min = Math.max(c.min, lim.minimum ?? c.min); c.max = Math.min(c.max, lim.maximum ?? c.max); }
  if (c.kind === "log") {
    if (lim.minimum > 0) c.min = Math.max(c.min, Math.log10(lim.minimum));
    if (lim.maximum !== undefined) c.max = Math.min(c.max, Math.log10(lim.maximum));
  }
  if (c.kind === "number") { c.min = lim.minimum; c.max = lim.maximum; }
}

function buildControls() {
  const box = $("controls");
  for (const c of CONTROLS) {
    clipToLimits(c);
    const div = document.createElement("div");
    div.className = "control" + (c.kind === "checkbox" ? " checkbox" : "");
    const label = document.createElement("label");
    label.htmlFor = c.name;
    const title = document.createElement("span");
    title.textContent = c.label + " ";
    const tip = document.createElement("span");
    tip.className = "tip"; tip.textContent = "?"; tip.tabIndex = 0;
    tip.dataset.tip = c.tip; tip.title = c.tip; tip.setAttribute("aria-label", c.tip);
    title.appendChild(tip);
    let input;
    if (c.kind === "select") {
      input = document.createElement("select");
      const options = c.name === "target" ? defaults.targets : defaults.activations;
      for (const o of options) input.add(new Option(o, o));
    } else {
      input = document.createElement("input");
      if (c.kind === "checkbox") input.type = "checkbox";
      else if (c.kind === "number") { input.type = "number"; input.min = c.min; input.max = c.max; input.step = 1; }
      else {
        input.type = "range";
        if (c.kind === "stops") { input.min = 0; input.max = c.stops.length - 1; input.step = 1; }
        else { input.min = c.kind === "log" && c.zero ? c.min - c.step : c.min; input.max = c.max; input.step = c.step; }
      }
    }
    input.id = c.name; input.name = c.name; input.title = c.tip;
    const value = document.createElement("span");
    value.className = "value"; value.id = c.name + "-value";
    if (c.kind === "checkbox") { label.appendChild(input); label.appendChild(title); }
    else { label.appendChild(title); label.appendChild(value); }
    div.appendChild(label);
    if (c.kind !== "checkbox") div.appendChild(input);
    const note = document.createElement("div");
    note.className = "limit"; note.id = c.name + "-limit"; note.hidden = true;
    div.appendChild(note);
    box.appendChild(div);
    input.addEventListener(input.type === "range" ? "input" : "change", () => {
      const wanted = c.kind === "checkbox" ? input.checked
        : c.kind === "select" ? input.value
        : c.kind === "number" ? Math.min(c.max, Math.max(c.min, Math.floor(Number(input.value) || 0)))
        : fromSlider(c, input.value);
      state[c.name] = nearestAllowed(c, wanted);
      if (c.name === "early_stopping" && wanted && !state.early_stopping) makeRoomForValidation();
      changed();
    });
  }
}

function showValue(c) {
  const input = $(c.name), v = state[c.name];
  if (c.kind === "checkbox") input.checked = !!v;
  else if (c.kind === "select" || c.kind === "number") input.value = v;
  else input.value = toSlider(c, v);
  const out = $(c.name + "-value");
  if (out) out.textContent = c.kind === "log" && v === 0 ? "0 (off)" : c.kind === "select" ? "" : fmt(v);
  const note = limitNote(c), box = $(c.name + "-limit");
  box.textContent = note; box.hidden = !note;
  input.disabled = ((c.name === "validation_fraction" || c.name === "patience") && !state.early_stopping)
    || (c.name === "n_train" && !!state.x_train);
}

// --- state <-> address bar -----------------------------------------------------------------
// Your own points travel as comma-separated lists (x_train=...&y_train=...).
const POINTS = ["x_train", "y_train"];
function readQuery() {
  const q = new URLSearchParams(window.location.search);
  for (const c of CONTROLS) if (q.has(c.name)) state[c.name] = parseValue(c, q.get(c.name));
  for (const name of POINTS) if (q.has(name)) state[name] = q.get(name).split(",").map(Number);
}
function writeQuery() {
  const q = new URLSearchParams();
  for (const c of CONTROLS) q.set(c.name, String(state[c.name]));
  for (const name of POINTS) if (state[name]) q.set(name, state[name].join(","));
  history.replaceState(null, "", "?" + q.toString());
}

// --- requests: at most one in flight, the latest state wins ---------------------------------
function changed() {
  writeQuery();
  CONTROLS.forEach(showValue);
  pending = true;
  if (!inFlight) pump();
}

async function pump() {
  inFlight = true;
  while (pending) {
    pending = false;
    setStatus("busy", "training " + state.datasets * state.seeds * state.ensemble + " networks\u2026");
    try {
      const r = await fetch("/api/train", { method: "POST", headers: { "Content-Type": "application/json" },
                                             body: JSON.stringify(state) });
      const answer = await r.json();
      if (r.ok) { render(answer); $("error").hidden = true; }
      else if (r.status === 503) {  // the server is full: wait as long as it says, then ask again
        const wait = Number(r.headers.get("Retry-After")) || 1;
        setStatus("busy", "server busy: retrying in " + wait + " s\u2026");
        await new Promise((done) => setTimeout(done, 1000 * wait));
        pending = true;
      } else showError(answer);
    } catch (e) { showError({ detail: String(e) }); }
  }
  inFlight = false;
  if ($("status").dataset.state === "busy") setStatus("ready", $("status").textContent);
}

function setStatus(s, text) { const el = $("status"); el.dataset.state = s; el.textContent = text; }

function showError(answer) {
  const d = answer.detail;
  const lines = Array.isArray(d) ? d.map((e) => (e.fields || []).join(", ") + ": " + e.msg) : [String(d)];
  $("error").textContent = lines.join("\n");
  $("error").hidden = false;
  setStatus("error", "request rejected");
}

// --- rendering -----------------------------------------------------------------------------
const COLORS = { train: "#2b6cb0", test: "#d9480f", fit: "#2b6cb0", truth: "#2f9e44", floor: "#555", stop: "#7048e8" };
const LAYOUT = { margin: { l: 56, r: 10, t: 8, b: 80 }, legend: { orientation: "h", y: -0.3, font: { size: 11 } },
                 font: { family: "system-ui, sans-serif", size: 12 }, paper_bgcolor: "#fff", plot_bgcolor: "#fff" };
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["toImage"] };

function bandTraces(x, band, color, name) {
  const fill = color + "33";
  return [
    { x, y: band.high, mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false },
    { x, y: band.low, mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: fill, hoverinfo: "skip",
      name: name + " 10-90 %", showlegend: false },
    { x, y: band.median, mode: "lines", line: { color, width: 2 }, name },
  ];
}

function render(a) {
  const d = a.data, m = a.metrics;
  const pick = (xs, keep) => xs.filter((_, i) => keep(i));
  const fitTraces = [
    ...bandTraces(a.fit.x, a.fit.prediction, COLORS.fit, "fit (median)"),
    { x: a.fit.x, y: a.fit.truth, mode: "lines", line: { color: COLORS.truth, dash: "dash" }, name: "truth" },
    { x: d.x_test, y: d.y_test, mode: "markers", marker: { color: "#aaa", size: 4 }, name: "test" },
    { x: pick(d.x_train, (i) => !d.is_validation[i]), y: pick(d.y_train, (i) => !d.is_validation[i]),
      mode: "markers", marker: { color: "#111", size: 8 }, name: "train" },
  ];
  if (d.is_validation.some(Boolean))
    fitTraces.push({ x: pick(d.x_train, (i) => d.is_validation[i]), y: pick(d.y_train, (i) => d.is_validation[i]),
      mode: "markers", marker: { color: "#111", size: 9, symbol: "circle-open", line: { width: 2 } }, name: "validation" });
  // Fixed x range and no zoom: a click on the plot adds a point there (data.js).
  Plotly.react("fit-plot", fitTraces, { ...LAYOUT, dragmode: false, hovermode: "closest",
    xaxis: { title: { text: "x" }, range: [-1.08, 1.08], fixedrange: true },
    yaxis: { title: { text: "y" }, fixedrange: true } }, CONFIG);

  const it = a.curves.iterations;
  const shapes = [
    { type: "line", xref: "paper", x0: 0, x1: 1, y0: m.noise_variance, y1: m.noise_variance,
      line: { color: COLORS.floor, dash: "dot", width: 1.5 } },
    { type: "line", yref: "paper", y0: 0, y1: 1, x0: m.best_iteration, x1: m.best_iteration,
      line: { color: COLORS.test, dash: "dash", width: 1 } },
  ];
  const esLine = { color: COLORS.stop, dash: "dashdot", width: 1.5 };
  if (m.stopped_at) shapes.push({ type: "line", yref: "paper", y0: 0, y1: 1, x0: m.restored_from.median,
    x1: m.restored_from.median, line: esLine });
  const curveTraces = [
    ...bandTraces(it, a.curves.train_mse, COLORS.train, "train MSE"),
    ...bandTraces(it, a.curves.test_mse, COLORS.test, "test MSE"),
    { x: [m.stopped_at ? m.restored_from.median : it[it.length - 1]], y: [m.test_mse_end.median],
      mode: "markers", name: "final model (test)",
      marker: { color: COLORS.test, symbol: "diamond", size: 10 } },
  ];
  if (m.stopped_at)  // a legend entry for the dash-dot line (shapes have none)
    curveTraces.push({ x: [null], y: [null], mode: "lines", line: esLine, hoverinfo: "skip",
                       name: "early stopping: restored from (median)" });
  const annotations = [
    { xref: "paper", x: 0.01, y: Math.log10(m.noise_variance), yanchor: "bottom", xanchor: "left", showarrow: false,
      text: "noise variance", font: { size: 10, color: COLORS.floor } },
    { x: Math.log10(m.best_iteration), yref: "paper", y: 1, yanchor: "top", xanchor: "left", showarrow: false,
      text: " best " + m.best_iteration, font: { size: 10, color: COLORS.test } },
  ];
  Plotly.react("curves-plot", curveTraces, { ...LAYOUT, shapes, annotations,
    xaxis: { type: "log", title: { text: "iteration" }, exponentformat: "power" },
    yaxis: { type: "log", title: { text: "MSE" }, exponentformat: "power" } }, CONFIG);

  const u = a.units.magnitude, rank = u.median.map((_, i) => i + 1);
  Plotly.react("units-plot", [{ type: "bar", x: rank, y: u.median, marker: { color: COLORS.fit }, name: "median",
    error_y: { type: "data", symmetric: false, array: u.high.map((h, i) => h - u.median[i]),
               arrayminus: u.median.map((v, i) => v - u.low[i]), color: "#555", thickness: 1 } }],
    { ...LAYOUT, showlegend: false, xaxis: { title: { text: "unit (largest first)" } },
      yaxis: { title: { text: "sqrt(|w_in|^2 + |w_out|^2)" }, rangemode: "tozero" } }, CONFIG);

  const stat = (s) => (s ? fmt(s.median) + (s.low !== s.high ? "  [" + fmt(s.low) + ", " + fmt(s.high) + "]" : "") : "-");
  $("m-best-iteration").textContent = String(m.best_iteration);
  $("m-test-best").textContent = stat(m.test_mse_best);
  $("m-test-end").textContent = stat(m.test_mse_end);
  $("m-seed-label").textContent = "test MSE at end, seed " + a.config.seed + " alone";
  $("m-test-seed").textContent = fmt(m.test_mse_end_per_seed[0]);
  $("m-train-end").textContent = stat(m.train_mse_end);
  $("m-noise").textContent = fmt(m.noise_variance);
  $("m-parameters").textContent = m.parameters + " (" + m.total_parameters + ")";
  $("m-zeros").textContent = stat(m.zero_weights) + " of " + m.weights;
  $("m-dead").textContent = stat(m.dead_units) + " of " + a.config.hidden_units;
  $("m-early-stopping").textContent = m.stopped_at ? stat(m.stopped_at) + " / " + stat(m.restored_from) : "off";
  $("m-diverged-row").hidden = m.diverged === 0;
  const d = a.decomposition;
  $("decomposition").hidden = !d;
  if (d) {
    $("d-noise").textContent = fmt(d.noise);
    $("d-bias2").textContent = fmt(d.bias2);
    $("d-data").textContent = fmt(d.data_variance);
    $("d-init").textContent = d.init_variance === null ? "- (one seed: counted in the data variance)" : fmt(d.init_variance);
    $("d-total").textContent = fmt(d.expected_mse);
  }
  $("m-diverged").textContent = m.diverged + " of " + m.networks + " networks diverged: lower the learning rate";
  version += 1;
  window.lastAnswer = a;  // for tests and the curious console user
  $("status").dataset.version = String(version);
  setStatus(pending ? "busy" : "ready", Math.round(a.elapsed_ms) + " ms" + (a.compiled ? " (compiled a new shape)" : ""));
}

// --- start ---------------------------------------------------------------------------------
async function main() {
  defaults = await (await fetch("/api/defaults")).json();
  state = { ...defaults.config };
  readQuery();
  buildControls();
  setupData();
  changed();
}
main().catch((e) => showError({ detail: String(e) }));
