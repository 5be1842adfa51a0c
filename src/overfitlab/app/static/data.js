// overfitlab playground: your own training data (click, drag, shift-click, CSV, reset) and
// "copy as Python". Uses app.js's state, defaults, violations(), changed() and showError().
"use strict";

const PICK_PX = 10;  // a press this close to a training point grabs it
const DECIMALS = 4;  // points are kept (and put in the address bar) to 4 decimals

const round4 = (v) => Number(v.toFixed(DECIMALS));
let generatedPoints = null;  // the n_train slider's value before your own points replaced it
const clamp = (v, [lo, hi]) => Math.min(hi, Math.max(lo, v));

// The training points on screen: the user's, or the generated ones of the last answer.
function currentPoints() {
  if (state.x_train) return { xs: state.x_train.slice(), ys: state.y_train.slice() };
  const d = window.lastAnswer ? window.lastAnswer.data : { x_train: [], y_train: [] };
  return { xs: d.x_train.map(round4), ys: d.y_train.map(round4) };
}

// Why these points cannot be trained at the current settings ("" when they can).
function pointsRefused(xs) {
  const n = xs.length, lim = defaults.limits.n_train;
  if (n < lim.minimum) return "at least " + lim.minimum + " training points are needed";
  if (n > lim.maximum) return "at most " + lim.maximum + " training points";
  const v = violations({ ...state, x_train: xs });
  return v.length ? v[0].why + " (lower seeds, iterations or hidden units first)" : "";
}

function dataMessage(text) {
  const el = $("data-message");
  el.textContent = text;
  el.hidden = !text;
}

// Use these points (after the same checks as the server's); false, with the reason, if refused.
function setPoints(xs, ys) {
  const why = pointsRefused(xs);
  if (why) { dataMessage("Not changed: " + why + "."); return false; }
  dataMessage("");
  if (!state.x_train) generatedPoints = state.n_train;
  state.x_train = xs; state.y_train = ys; state.n_train = xs.length;
  changed();
  return true;
}

// Back to points drawn from the target function, as many as before your own.
function resetData() {
  if (generatedPoints !== null) state.n_train = generatedPoints;
  delete state.x_train; delete state.y_train;
  dataMessage("");
  changed();
}

// --- editing on the data plot --------------------------------------------------------------
// Plot-area pixel <-> data coordinates from plotly's own axes (linear axes: p2l / l2p).
function plotGeometry() {
  const gd = $("fit-plot"), fl = gd._fullLayout;
  const box = gd.getBoundingClientRect();
  return { gd, xa: fl.xaxis, ya: fl.yaxis, left: box.left + fl._size.l, top: box.top + fl._size.t,
           width: fl._size.w, height: fl._size.h };
}
function eventPoint(g, e) {
  const px = e.clientX - g.left, py = e.clientY - g.top;
  const inside = px >= 0 && py >= 0 && px <= g.width && py <= g.height;
  return { px, py, inside, x: g.xa.p2l(px), y: g.ya.p2l(py) };
}
function nearestPoint(g, p, pts) {
  let best = -1, bestD = PICK_PX;
  pts.xs.forEach((x, i) => {
    const d = Math.hypot(g.xa.l2p(x) - p.px, g.ya.l2p(pts.ys[i]) - p.py);
    if (d <= bestD) { best = i; bestD = d; }
  });
  return best;
}

// Redraw the training markers during a drag, without a request.
function drawPoints(pts) {
  const gd = $("fit-plot");
  const idx = gd.data.findIndex((t) => t.name === "train");
  if (idx >= 0) Plotly.restyle(gd, { x: [pts.xs], y: [pts.ys] }, [idx]);
}

function attachPlotEditing() {
  const gd = $("fit-plot");
  gd.addEventListener("mousedown", (e) => {
    if (e.button !== 0 || !window.lastAnswer) return;
    const g = plotGeometry(), p = eventPoint(g, e);
    if (!p.inside) return;
    e.preventDefault(); e.stopPropagation();
    const pts = currentPoints(), hit = nearestPoint(g, p, pts);
    if (hit >= 0 && e.shiftKey) {  // remove
      pts.xs.splice(hit, 1); pts.ys.splice(hit, 1);
      setPoints(pts.xs, pts.ys);
      return;
    }
    if (hit < 0) {  // add
      setPoints([...pts.xs, round4(clamp(p.x, defaults.x_range))],
                [...pts.ys, round4(clamp(p.y, defaults.y_range))]);
      return;
    }
    // drag: the y axis holds still while the point moves; one request when released
    Plotly.relayout(gd, { "yaxis.range": g.ya.range.slice(), "yaxis.autorange": false });
    let moved = false;
    const move = (ev) => {
      const q = eventPoint(g, ev);
      pts.xs[hit] = round4(clamp(q.x, defaults.x_range));
      pts.ys[hit] = round4(clamp(q.y, defaults.y_range));
      moved = true;
      drawPoints(pts);
    };
    const up = () => {
      window.removeEventListener("mousemove", move, true);
      window.removeEventListener("mouseup", up, true);
      if (moved) setPoints(pts.xs, pts.ys);
    };
    window.addEventListener("mousemove", move, true);
    window.addEventListener("mouseup", up, true);
  }, true);
}

// --- CSV upload ----------------------------------------------------------------------------
// Two numbers per line, "x,y" (comma, semicolon, tab or spaces); empty lines and lines starting
// with "#" are skipped, and so is a first line that is not numeric (a header). Errors name the
// line.
function parseCsv(text) {
  const xs = [], ys = [], [xr, yr] = [defaults.x_range, defaults.y_range];
  let seen = 0;
  text.split(/\r\n|\n|\r/).forEach((raw, i) => {
    const line = raw.trim(), where = "line " + (i + 1) + ": ";
    if (!line || line.startsWith("#")) return;
    seen += 1;
    const cells = line.split(/\s*[,;\t]\s*|\s+/);
    const nums = cells.map((c) => (c === "" ? NaN : Number(c)));
    if (cells.length !== 2 || !nums.every(Number.isFinite)) {
      if (seen === 1 && !nums.some(Number.isFinite)) return;  // a header such as "x,y"
      throw new Error(where + "expected two numbers x,y, got \u201c" + line + "\u201d");
    }
    const [x, y] = nums;
    if (x < xr[0] || x > xr[1]) throw new Error(where + "x = " + x + " lies outside [" + xr + "], the plotted interval");
    if (y < yr[0] || y > yr[1]) throw new Error(where + "y = " + y + " lies outside [" + yr + "]");
    xs.push(x); ys.push(y);
  });
  const lim = defaults.limits.n_train;
  if (xs.length < lim.minimum || xs.length > lim.maximum)
    throw new Error(xs.length + " points: give between " + lim.minimum + " and " + lim.maximum);
  return { xs, ys };
}

async function uploadCsv(file) {
  try {
    const { xs, ys } = parseCsv(await file.text());
    if (setPoints(xs, ys)) dataMessage("");
  } catch (e) {
    dataMessage(file.name + ", " + e.message + ". Nothing changed.");
  }
}

// --- copy as Python --------------------------------------------------------------------------
async function exportPython() {
  const r = await fetch("/api/export", { method: "POST", headers: { "Content-Type": "application/json" },
                                          body: JSON.stringify(state) });
  const answer = await r.json();
  if (!r.ok) { showError(answer); return; }
  $("export-code").textContent = answer.code;
  let copied = false;
  try { await navigator.clipboard.writeText(answer.code); copied = true; } catch (e) { copied = false; }
  $("export-status").textContent = copied ? "Copied to the clipboard." : "Select the code and copy it.";
  $("export-dialog").showModal();
}

function setupData() {
  attachPlotEditing();
  $("csv-file").addEventListener("change", (e) => { if (e.target.files[0]) uploadCsv(e.target.files[0]); e.target.value = ""; });
  $("reset-data").addEventListener("click", resetData);
  $("copy-python").addEventListener("click", () => exportPython().catch((e) => showError({ detail: String(e) })));
  $("export-close").addEventListener("click", () => $("export-dialog").close());
}
