#include "admin/status_page.hpp"

namespace veer::admin {
namespace {

// The page. Rules that keep it safe and testable:
// - no URL of anything outside: no src or href but data:, fetches to /api/v1 only (the
//   one http:// below is the SVG namespace's name, which is never fetched);
// - every string the API sends is inserted as text (text nodes, setAttribute), never
//   parsed as markup;
// - every figure carries data-test (the API's section and field name), the keys that
//   say whose it is (data-pool, data-backend, data-split, data-target, data-rollout,
//   data-guard) and data-value (the API's value as it came), so a test can compare the
//   page with the API.
constexpr std::string_view kPage = R"veerpage(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>veer status</title>
<link rel="icon" href="data:,">
<style>
:root { --fg: #1d2330; --muted: #667085; --line: #dde2ea; --bg: #f5f6f8; --ok: #12805c;
  --warn: #b25e09; --bad: #c0262d; --stable: #2f5fd0; --canary: #d9730d; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1.2em; align-items: baseline; flex-wrap: wrap; padding: .6em 1.2em;
  background: #1d2330; color: #fff; }
header h1 { font-size: 1.15em; margin: 0; }
header .muted, #status { color: #aab3c5; }
#status.error { color: #ffb4b4; }
main { padding: .4em 1.2em 2em; max-width: 1280px; }
h2 { font-size: 1.05em; margin: 1.2em 0 .3em; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .6em .9em;
  margin: .5em 0; }
.card h3 { font-size: 1em; margin: 0 0 .4em; display: flex; gap: .6em; align-items: baseline;
  flex-wrap: wrap; }
.muted { color: var(--muted); font-weight: normal; }
table { border-collapse: collapse; width: 100%; margin: .3em 0; }
th, td { text-align: left; padding: .2em .7em .2em 0; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: .88em; }
.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font: .95em ui-monospace, monospace; }
.badge { display: inline-block; padding: 0 .55em; border-radius: 9px; font-size: .85em;
  font-weight: 600; color: #fff; background: var(--muted); }
.up, .running, .pass, .promoted { background: var(--ok); }
.draining, .paused, .pending, .inconclusive { background: var(--warn); }
.down, .ejected, .fail, .rolled_back, .aborted { background: var(--bad); }
.reasons { margin: .2em 0 0; padding-left: 1.2em; color: var(--muted); font-size: .88em; }
.bar { display: inline-block; height: .65em; background: var(--stable); border-radius: 2px;
  margin-right: .4em; }
.reason { margin: .3em 0; padding: .3em .6em; border-left: 4px solid var(--stable);
  background: #eef2fb; }
.reason.inconclusive, .reason.paused { border-color: var(--warn); background: #fdf1e2; }
.reason.rolled_back, .reason.aborted { border-color: var(--bad); background: #fdeaea; }
.reason.promoted { border-color: var(--ok); background: #e8f5ef; }
.grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1em; }
.steps span { padding: 0 .35em; }
.steps .now { font-weight: 700; border-bottom: 2px solid var(--canary); }
.legend { font-size: .88em; color: var(--muted); }
.legend span { margin-right: 1em; }
.swatch { display: inline-block; width: 1.4em; height: 0; border-top: 2px solid; margin-right: .3em;
  vertical-align: middle; }
.dashed { border-top-style: dashed; }
svg { max-width: 100%; height: auto; }
svg text { font-size: 11px; fill: var(--muted); }
form { display: flex; gap: .6em; align-items: center; flex-wrap: wrap; background: #fff3cd;
  border: 1px solid #e0c36c; padding: .6em .9em; border-radius: 6px; margin: .8em 1.2em; }
ol.history { margin: .3em 0; padding-left: 1.4em; font-size: .88em; }
.empty { color: var(--muted); font-style: italic; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
<h1>veer status</h1>
<span id="status" data-test="status">loading…</span>
<span class="muted">config version <span id="version" data-test="config-version">–</span></span>
<button id="forget" type="button" hidden>forget the token</button>
</header>
<form id="token-form" data-test="token-form" hidden>
<label>Admin token <input id="token" type="password" autocomplete="off" size="40"></label>
<button type="submit">Use it</button>
<span id="token-note" data-test="token-note"></span>
<span class="muted">(kept in this tab's session storage only)</span>
</form>
<main id="main">
<h2>Rollouts</h2><div id="rollouts"></div>
<h2>Splits</h2><div id="splits"></div>
<h2>Pools</h2><div id="pools"></div>
</main>
<script>
'use strict';
const TOKEN_KEY = 'veer-admin-token';
const REFRESH_MS = 1500;
const MAX_SAMPLES = 800;  // error-ratio samples kept per rollout: 20 minutes at 1.5 s
const SVG_NS = 'http://www.w3.org/2000/svg';  // a namespace name, never fetched
const samples = new Map();  // rollout name -> [{t, stable, canary}] seen by this page
let timer = 0;

const byId = (id) => document.getElementById(id);
const missing = (v) => v === null || v === undefined;

// An element with attributes (null ones left out) and children: nodes, or strings,
// which become text nodes (never markup).
function el(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}
function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}
function build(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {}))
    if (!missing(v)) node.setAttribute(k, String(v));
  for (const c of children)
    if (!missing(c)) node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return node;
}

// Display formats; data-value keeps the API's value.
const plain = (v) => (missing(v) ? '–' : String(v));
const ms = (v) => (typeof v !== 'number' ? '–'
                   : v < 1 ? (1000 * v).toFixed(0) + ' µs' : v.toFixed(v < 10 ? 2 : 1) + ' ms');
const ratio = (v) => (typeof v === 'number' ? (100 * v).toFixed(v < 0.01 ? 3 : 2) + ' %' : '–');
const percent = (v) => (typeof v === 'number' ? v + ' %' : '–');
const perSecond = (v) => (typeof v === 'number' ? v.toFixed(1) + '/s' : '–');
const seconds = (v) => (typeof v === 'number' ? v.toFixed(1) + ' s' : '–');
const figure = (v) => (typeof v === 'number' ? String(Number(v.toPrecision(4))) : plain(v));
const clock = (iso) => {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? String(iso) : new Date(t).toLocaleTimeString();
};

// A figure the test reads: data-test names it, `keys` say whose it is.
function fig(test, keys, value, show) {
  const attrs = Object.assign({'data-test': test}, keys);
  attrs['data-value'] = missing(value) ? 'null' : String(value);
  return el('span', attrs, (show || plain)(value));
}
// A state or verdict as a coloured badge.
function badge(test, keys, value) {
  const v = missing(value) ? 'unknown' : String(value);
  const attrs = Object.assign({'data-test': test}, keys);
  attrs['data-value'] = v;
  attrs['class'] = 'badge ' + v.replace(/[^a-z_]/g, '');
  return el('span', attrs, v.replace(/_/g, ' '));
}
const num = (...c) => el('td', {'class': 'n'}, ...c);
// Headings starting with '#' are numeric columns.
function table(heads, rows) {
  const th = heads.map((h) => el('th', {'class': h[0] === '#' ? 'n' : null}, h.replace(/^#/, '')));
  return el('table', {}, el('thead', {}, el('tr', {}, ...th)), el('tbody', {}, ...rows));
}
function fill(id, nodes, emptyText) {
  byId(id).replaceChildren(...(nodes.length ? nodes : [el('p', {'class': 'empty'}, emptyText)]));
}

// ---- pools
function renderPools(pools) {
  fill('pools', pools.map((pool) => el('div', {'class': 'card', 'data-test': 'pool', 'data-pool': pool.name},
    el('h3', {}, pool.name, el('span', {'class': 'muted'}, 'strategy ' + pool.strategy),
       pool.panic ? badge('pool-panic', {'data-pool': pool.name}, 'panic') : null),
    table(['backend', 'state', '#weight', '#in flight', '#connections', '#requests', '#rate',
           '#latency EWMA', '#head'], pool.backends.map((b) => backendRow(pool, b))))), 'no pools');
}
function backendRow(pool, b) {
  const k = {'data-pool': pool.name, 'data-backend': b.address};
  const reasons = (b.reasons || []).map((r) => el('li', Object.assign({'data-test': 'backend-reason'}, k),
    r.reason + ': ' + r.cause + ' (since ' + clock(r.since) + (r.until ? ', until ' + clock(r.until) : '') + ')'));
  return el('tr', {},
    el('td', {}, el('code', {}, b.address), b.backup ? el('span', {'class': 'muted'}, ' backup') : null),
    el('td', {}, badge('backend-state', k, b.state), reasons.length ? el('ul', {'class': 'reasons'}, ...reasons) : null),
    num(fig('backend-weight', k, b.weight)),
    num(fig('backend-in_flight', k, b.in_flight)),
    num(fig('backend-active_connections', k, b.active_connections)),
    num(fig('backend-requests_total', k, b.requests_total)),
    num(fig('backend-requests_per_second', k, b.requests_per_second, perSecond)),
    num(fig('backend-latency_ewma_ms', k, b.latency_ewma_ms, ms)),
    num(missing(b.head) ? '–' : fig('backend-head', k, b.head),
        missing(b.lag) ? null : el('span', {'class': 'muted'}, ' lag ', fig('backend-lag', k, b.lag))));
}

// ---- splits
function renderSplits(splits, rollouts) {
  fill('splits', splits.map((s) => {
    const targets = Object.entries(s.targets);
    const total = targets.reduce((sum, [, t]) => sum + t.weight, 0);
    const steering = rollouts.filter((r) => r.split === s.name);
    const rows = targets.map(([name, t]) => {
      const k = {'data-split': s.name, 'data-target': name};
      const share = total > 0 ? t.weight / total : 0;
      const bar = el('span', {'class': 'bar'});
      bar.style.width = (6 * share).toFixed(2) + 'em';
      return el('tr', {}, el('td', {}, el('code', {}, name)),
        num(fig('split-weight', k, t.weight)),
        el('td', {}, bar, (100 * share).toFixed(1) + ' %'),
        num(fig('split-in_flight', k, t.in_flight)),
        num(fig('split-active_connections', k, t.active_connections)),
        num(fig('split-requests_total', k, t.requests_total)),
        num(fig('split-assignments_total', k, t.assignments_total)));
    });
    return el('div', {'class': 'card', 'data-test': 'split', 'data-split': s.name},
      el('h3', {}, s.name, el('span', {'class': 'muted'}, 'sticky by ' + s.sticky +
         (s.override_header ? ' · override header ' + s.override_header : '') +
         (s.failover ? ' · failover' : '')),
         ...steering.map((r) => el('span', {'class': 'muted'}, 'rollout ' + r.name + ' (' + r.state.replace(/_/g, ' ') + ')'))),
      table(['target', '#weight', 'share', '#in flight', '#connections', '#requests', '#assigned'], rows));
  }), 'no splits');
}

// ---- rollouts
function record(rollouts) {
  const now = Date.now();
  for (const r of rollouts) {
    const ev = r.evidence || {};
    const list = samples.get(r.name) || [];
    list.push({t: now, stable: ev.stable ? ev.stable.error_ratio : null, canary: ev.canary ? ev.canary.error_ratio : null});
    if (list.length > MAX_SAMPLES) list.splice(0, list.length - MAX_SAMPLES);
    samples.set(r.name, list);
  }
  const names = new Set(rollouts.map((r) => r.name));
  for (const name of [...samples.keys()]) if (!names.has(name)) samples.delete(name);
}

function renderRollouts(rollouts) {
  if (rollouts === null) {
    fill('rollouts', [], 'this veer serves no /api/v1/rollouts');
    return;
  }
  record(rollouts);
  fill('rollouts', rollouts.map(rolloutCard), 'no rollouts ([rollouts.NAME] in the file, or POST /api/v1/rollouts)');
}

function rolloutCard(r) {
  const k = {'data-rollout': r.name};
  const state = String(r.state);
  const steps = (r.steps || []).map((p, i) => el('span', {'class': i + 1 === r.step ? 'now' : null}, p + ' %'));
  return el('div', {'class': 'card', 'data-test': 'rollout', 'data-rollout': r.name},
    el('h3', {}, r.name, badge('rollout-state', k, state),
       el('span', {'class': 'muted'}, 'split ' + r.split + ': ' + r.stable + ' (stable) → ' + r.canary +
          ' (canary) · from the ' + (r.source === 'api' ? 'API' : 'configuration file'))),
    el('div', {'class': 'reason ' + state.replace(/[^a-z_]/g, '')},
       el('strong', {}, state.replace(/_/g, ' ') + ': '), fig('rollout-reason', k, r.reason)),
    el('p', {}, 'step ', fig('rollout-step', k, r.step), ' of ' + steps.length + ', canary weight ',
       fig('rollout-weight', k, r.weight, percent), ', ', fig('rollout-step_seconds', k, r.step_seconds, seconds),
       ' judged in this step (min ' + r.min_step + ', max ' + r.max_step + ')'),
    el('div', {'class': 'steps'}, 'steps', ...steps),
    el('div', {'class': 'grid'},
       el('div', {}, evidenceTable(r, k), judgementTable(r, k)),
       el('div', {}, chart(r), legend())),
    historyList(r, k));
}

function evidenceTable(r, k) {
  const ev = r.evidence || {};
  const rows = ['stable', 'canary'].filter((t) => ev[t]).map((t) => {
    const e = ev[t];
    const kt = Object.assign({'data-target': t}, k);
    return el('tr', {}, el('td', {}, t + ' ', el('code', {}, t === 'stable' ? r.stable : r.canary)),
      num(fig('evidence-requests', kt, e.requests)), num(fig('evidence-errors', kt, e.errors)),
      num(fig('evidence-error_ratio', kt, e.error_ratio, ratio)),
      num(fig('evidence-latency_ms', kt, e.latency_ms, ms)));
  });
  return table(['evidence this step', '#requests', '#errors', '#error ratio', '#latency'], rows);
}

// Each guard: its verdict, the judge's bound [low, high] against the tolerance (error
// ratio: canary minus stable) or the limit (latency: share of canary answers slower
// than the threshold), and the figures it compared.
function judgementTable(r, k) {
  const j = r.judgement || {};
  const rows = [];
  for (const [guard, g] of Object.entries(j)) {
    if (!g || typeof g !== 'object') continue;
    const kg = Object.assign({'data-guard': guard}, k);
    const line = missing(g.tolerance) ? 'limit' : 'tolerance';
    const shown = new Set(['verdict', 'low', 'high', line]);
    const rest = [];
    for (const [key, v] of Object.entries(g)) {
      if (shown.has(key)) continue;
      const show = key.endsWith('_ms') ? ms : guard === 'error_ratio' ? ratio : figure;
      rest.push(el('span', {}, ' ' + key.replace(/_ms$/, '').replace(/_/g, ' ') + ' '), fig('guard-' + key, kg, v, show));
    }
    rows.push(el('tr', {}, el('td', {}, guard.replace(/_/g, ' ')), el('td', {}, badge('guard-verdict', kg, g.verdict)),
      num('[', fig('guard-low', kg, g.low, figure), ', ', fig('guard-high', kg, g.high, figure), ']'),
      num(fig('guard-' + line, kg, g[line], figure), el('span', {'class': 'muted'}, ' ' + line)),
      el('td', {}, ...rest), el('td', {}, boundSketch(g.low, g.high, g[line]))));
  }
  return el('div', {},
    table(['guard', 'verdict', '#bound', '#against', 'figures', ''], rows),
    el('p', {'class': 'legend'}, 'judgement ', badge('rollout-overall', k, j.overall),
       ' · a guard passes once its whole bound is at or below the line, and fails once it is wholly above it'));
}

// The bound as a bar on a small axis, the tolerance or limit as a red line.
function boundSketch(low, high, line) {
  if (![low, high, line].every((v) => typeof v === 'number' && Number.isFinite(v))) return null;
  const lo = Math.min(low, 0, line), hi = Math.max(high, line, lo + 1e-9);
  const x = (v) => 4 + 112 * (v - lo) / (hi - lo);
  return svg('svg', {viewBox: '0 0 120 14', width: 120, height: 14},
    svg('line', {x1: 4, x2: 116, y1: 7, y2: 7, stroke: '#dde2ea'}),
    svg('rect', {x: x(low), y: 3, width: Math.max(1, x(high) - x(low)), height: 8, fill: '#2f5fd0', opacity: 0.6}),
    svg('line', {x1: x(line), x2: x(line), y1: 0, y2: 14, stroke: '#c0262d', 'stroke-width': 2}));
}

// The canary's weight over time (a step line from the history and the weight now), and
// the error ratios of both targets as this page sampled them.
function chart(r) {
  const W = 560, H = 190, L = 40, R = 56, T = 8, B = 22;
  const now = Date.now();
  const steps = [];
  for (const h of r.history || []) {
    const t = typeof h.unix_ms === 'number' ? h.unix_ms : Date.parse(h.time);
    if (!Number.isNaN(t) && typeof h.weight === 'number') steps.push([t, h.weight]);
  }
  steps.push([now, r.weight]);
  const seen = samples.get(r.name) || [];
  const t0 = Math.min(steps[0][0], seen.length ? seen[0].t : now, now - 10000);
  let top = 0.01;
  for (const s of seen) top = Math.max(top, s.stable || 0, s.canary || 0);
  top *= 1.2;
  const x = (t) => L + (W - L - R) * Math.min(1, Math.max(0, (t - t0) / (now - t0)));
  const yw = (w) => T + (H - T - B) * (1 - w / 100);
  const yr = (v) => T + (H - T - B) * (1 - v / top);
  const text = (tx, ty, s, anchor) => svg('text', {x: tx, y: ty, 'text-anchor': anchor}, s);
  const out = svg('svg', {viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, 'data-test': 'rollout-chart',
                          'data-rollout': r.name, 'data-points': steps.length});
  for (const w of [0, 25, 50, 75, 100]) {
    out.append(svg('line', {x1: L, x2: W - R, y1: yw(w), y2: yw(w), stroke: '#e7eaf0'}),
               text(L - 4, yw(w) + 4, w + ' %', 'end'));
  }
  for (const v of [0, top / 2, top]) out.append(text(W - R + 4, yr(v) + 4, ratio(v), 'start'));
  const span = Math.round((now - t0) / 1000);
  out.append(text(L, H - 5, '−' + (span >= 120 ? Math.round(span / 60) + ' min' : span + ' s'), 'start'),
             text(W - R, H - 5, 'now', 'end'));
  let d = 'M' + x(steps[0][0]).toFixed(1) + ',' + yw(steps[0][1]).toFixed(1);
  for (const [t, w] of steps.slice(1)) d += 'H' + x(t).toFixed(1) + 'V' + yw(w).toFixed(1);
  out.append(svg('path', {d, fill: 'none', stroke: '#d9730d', 'stroke-width': 2.5}));
  for (const [key, colour] of [['stable', '#2f5fd0'], ['canary', '#d9730d']]) {
    const points = seen.filter((s) => typeof s[key] === 'number')
      .map((s) => x(s.t).toFixed(1) + ',' + yr(s[key]).toFixed(1));
    if (points.length)
      out.append(svg('polyline', {points: points.join(' '), fill: 'none', stroke: colour,
                                  'stroke-width': 1.5, 'stroke-dasharray': '5 3'}));
  }
  return out;
}
function legend() {
  const item = (colour, dashed, words) => {
    const sw = el('span', {'class': 'swatch' + (dashed ? ' dashed' : '')});
    sw.style.borderColor = colour;
    return el('span', {}, sw, words);
  };
  return el('div', {'class': 'legend'}, item('#d9730d', false, 'canary weight (left axis)'),
    item('#2f5fd0', true, 'stable error ratio'), item('#d9730d', true, 'canary error ratio'),
    el('span', {}, '(right axis; sampled while this page is open)'));
}

function historyList(r, k) {
  const history = r.history || [];
  const shown = history.map((h, i) => [h, i]).slice(-15).reverse();
  return el('div', {}, el('strong', {}, 'history '),
    el('span', {'class': 'muted'}, '(', fig('rollout-history', k, history.length), ' events, newest first)'),
    el('ol', {'class': 'history', reversed: ''}, ...shown.map(([h, i]) =>
      el('li', Object.assign({'data-test': 'history-event'}, k, {'data-index': i, 'data-value': h.event, value: i + 1}),
         clock(h.time) + ' ', el('strong', {}, String(h.event)),
         ' · step ' + h.step + ' · ' + h.weight + ' % · ' + (h.detail || '')))));
}

// ---- the API and the token
class Unauthorized extends Error {}
async function api(path, optional) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = 'Bearer ' + token;
  const r = await fetch(path, {headers, cache: 'no-store'});
  if (r.status === 401) throw new Unauthorized(path);
  if (optional && r.status === 404) return null;  // a veer without this endpoint
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

function say(text, bad) {
  byId('status').textContent = text;
  byId('status').className = bad ? 'error' : '';
}

function askToken(show) {
  const held = sessionStorage.getItem(TOKEN_KEY) !== null;
  byId('token-form').hidden = !show;
  byId('main').hidden = show;
  byId('forget').hidden = show || !held;
  if (!show) return;
  byId('token-note').textContent = held ? 'the admin API refused this token' : 'the admin API needs a token';
  say('token needed', true);
  byId('token').focus();
}

// A `#token=T` fragment (bookmarks, headless tests) is kept for the session and taken
// out of the address bar and the history.
function tokenFromFragment() {
  const m = /^#token=(.*)$/.exec(location.hash);
  if (!m) return;
  try {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
  } catch (e) {
    say('the #token fragment is not valid', true);
  }
  history.replaceState(null, '', location.pathname + location.search);
}

async function refresh() {
  clearTimeout(timer);
  try {
    const [pools, splits, rollouts] = await Promise.all(
      [api('/api/v1/pools'), api('/api/v1/splits'), api('/api/v1/rollouts', true)]);
    askToken(false);
    renderRollouts(rollouts ? rollouts.rollouts : null);
    renderSplits(splits.splits, rollouts ? rollouts.rollouts : []);
    renderPools(pools.pools);
    byId('version').textContent = String(pools.version);
    say('updated ' + new Date().toLocaleTimeString() + ', every ' + REFRESH_MS / 1000 + ' s', false);
  } catch (e) {
    if (e instanceof Unauthorized) {
      askToken(true);
      return;  // until a token is entered
    }
    say('cannot read the API (' + e.message + '); retrying', true);
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

byId('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = byId('token').value.trim();
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  byId('token').value = '';
  refresh();
});
byId('forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  refresh();
});
window.addEventListener('hashchange', () => {
  tokenFromFragment();
  refresh();
});
tokenFromFragment();
refresh();
</script>
</body>
</html>
)veerpage";

}  // namespace

std::string_view status_page_html() {
  return kPage;
}

std::string_view content_security_policy(std::string_view content_type) {
  return content_type.starts_with("text/html") ? kStatusPagePolicy : std::string_view{};
}

}  // namespace veer::admin
