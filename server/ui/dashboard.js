// @ts-check
/**
 * Dashboard: the server's metrics as a person reads them, from GET /v1/metrics (the registry
 * GET /metrics exposes, as JSON): episodes running per family; the pool by state, and by engine
 * once there are several; step and reset latency over the last minutes; rewards per family.
 *
 * Latency over time needs a series the registry does not keep, so the page samples the
 * histograms every 2 s, keeps the last ten minutes, and plots, at each sample, the p50 and p99
 * of what was observed in the 30 s before it (as Prometheus's histogram_quantile over a 30 s
 * rate). Sampling runs only while the tab is shown and the page visible: one request at a
 * time, at most one every 2 s.
 */
import { html, nothing, render, svg } from './vendor/lit-html/lit-html.js';
import uPlot from './vendor/uplot/dist/uPlot.esm.js';
import { describeError } from './api-error.js';
import { byLabel, difference, histogram, perBucket, quantile, total } from './metrics.js';

const PERIOD_MS = 2_000;
const WINDOW_MS = 10 * 60_000;
const RATE_MS = 30_000;

/**
 * @typedef {import('./metrics.js').MetricsAnswer} MetricsAnswer
 * @typedef {import('./metrics.js').Histogram} Histogram
 * @typedef {{ at: number, step: Histogram, reset: Histogram }} Point
 */

/** @type {any} */
let ctx;
/** @type {HTMLElement} */
let root;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;
/** @type {MutationObserver | undefined} */
let observer;
let inFlight = false;
let lastFetch = 0;
/** @type {{ step?: uPlot, reset?: uPlot }} */
const charts = {};

const state = {
  /** @type {string[]} */
  families: [],
  /** @type {MetricsAnswer | null} */
  latest: null,
  /** @type {Point[]} */
  history: [],
  /** @type {string | null} */
  error: null,
};

function shown() {
  return Boolean(root?.isConnected) && !root.hidden && document.visibilityState === 'visible';
}

/** Schedules the next sample: now if the last is 2 s old, else when it will be; none while hidden. */
function schedule() {
  clearTimeout(timer);
  timer = undefined;
  if (!shown() || inFlight) return;
  timer = setTimeout(sample, Math.max(0, lastFetch + PERIOD_MS - Date.now()));
}

async function sample() {
  if (!shown() || inFlight) return;
  inFlight = true;
  lastFetch = Date.now();
  try {
    /** @type {MetricsAnswer} */
    const answer = await ctx.api('/v1/metrics');
    const at = Date.now();
    state.latest = answer;
    state.error = null;
    state.history.push({ at, step: histogram(answer, 'hgym_step_seconds'), reset: histogram(answer, 'hgym_reset_seconds') });
    while (state.history.length > 0 && state.history[0].at < at - WINDOW_MS) state.history.shift();
    update();
  } catch (err) {
    state.error = describeError(err);
    update();
  } finally {
    inFlight = false;
    schedule();
  }
}

/**
 * At each sample, the p50 and p99 (in ms) of what was observed in the RATE_MS before it.
 * @param {'step' | 'reset'} which
 * @returns {[number[], (number | null)[], (number | null)[]]}
 */
function latencySeries(which) {
  const { history } = state;
  /** @type {[number[], (number | null)[], (number | null)[]]} */
  const data = [[], [], []];
  let from = 0;
  for (let i = 1; i < history.length; i++) {
    const now = /** @type {Point} */ (history[i]);
    while (from < i - 1 && /** @type {Point} */ (history[from + 1]).at <= now.at - RATE_MS) from++;
    const observed = difference(now[which], /** @type {Point} */ (history[from])[which]);
    const ms = (/** @type {number} */ q) => {
      const v = quantile(q, observed);
      return v === null ? null : v * 1000;
    };
    data[0].push(now.at / 1000);
    data[1].push(ms(0.5));
    data[2].push(ms(0.99));
  }
  return data;
}

/** @param {HTMLElement} host */
function makeChart(host) {
  const width = Math.max(320, host.clientWidth || 560);
  return new uPlot(
    {
      width,
      height: 180,
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, (max ?? 1) * 1.1)] } },
      axes: [{}, { label: 'ms', size: 50 }],
      series: [{}, { label: 'p50', stroke: '#2456c7', width: 2, spanGaps: false }, { label: 'p99', stroke: '#b3261e', width: 1.5, dash: [6, 4], spanGaps: false }],
      legend: { live: true },
    },
    [[], [], []],
    host,
  );
}

function drawCharts() {
  for (const which of /** @type {const} */ (['step', 'reset'])) {
    const host = /** @type {HTMLElement | null} */ (root.querySelector(`#dash-${which}-chart`));
    if (!host) continue;
    // A chart lives in its host element; a host rendered anew gets a chart of its own.
    if (!charts[which]?.root.isConnected) {
      charts[which]?.destroy();
      charts[which] = makeChart(host);
    }
    const data = latencySeries(which);
    charts[which].setData(data);
    // What is plotted, for a reader of the page that cannot read a canvas (and the tests).
    const plotted = data[1].filter((v) => v !== null);
    host.dataset.points = String(plotted.length);
    host.dataset.lastP50 = String(plotted.at(-1) ?? '');
    host.dataset.lastP99 = String(data[2].filter((v) => v !== null).at(-1) ?? '');
  }
}

function update() {
  render(view(), root);
  if (state.latest) drawCharts();
}

/**
 * @param {string} id
 * @param {string} title
 * @param {[string, string, number][]} rows [key, label, value]
 * @param {string} keyName the data attribute naming each row's key
 */
function countTable(id, title, rows, keyName) {
  return html`<section class="card" id=${id}>
    <h4>${title}</h4>
    <table class="counts">
      ${rows.map(([key, label, value]) => html`<tr data-key=${key} data-kind=${keyName}><th>${label}</th><td class="value num">${value}</td></tr>`)}
    </table>
  </section>`;
}

/** @param {MetricsAnswer} m */
function activeView(m) {
  const active = byLabel(m, 'hgym_episodes_active', 'task');
  const families = [...new Set([...state.families, ...active.keys()])].sort();
  return countTable('dash-active', 'Episodes running, by family', families.map((f) => [f, f, active.get(f) ?? 0]), 'family');
}

/** @param {MetricsAnswer} m */
function poolView(m) {
  const states = byLabel(m, 'hgym_pool_sandboxes', 'state');
  const events = byLabel(m, 'hgym_pool_events', 'event');
  const up = byLabel(m, 'hgym_pool_engine_up', 'engine');
  const engines = [...up.keys()].sort();
  /** @param {string} engine @param {string} s */
  const onEngine = (engine, s) => byLabel(m, 'hgym_pool_engine_sandboxes', 'state', (l) => l.engine === engine).get(s) ?? 0;
  return html`${countTable('dash-pool', 'Sandboxes, by state', ['warm', 'starting', 'leased'].map((s) => [s, s, states.get(s) ?? 0]), 'state')}
    ${engines.length > 1
      ? html`<section class="card" id="dash-engines">
          <h4>By engine</h4>
          <table class="counts">
            <tr><th>engine</th><th>up</th><th>warm</th><th>starting</th><th>leased</th></tr>
            ${engines.map((e) => html`<tr data-engine=${e}><th class="mono">${e}</th><td>${up.get(e) ? 'yes' : html`<span class="bad">down</span>`}</td>
              ${['warm', 'starting', 'leased'].map((s) => html`<td class="num" data-state=${s}>${onEngine(e, s)}</td>`)}</tr>`)}
          </table>
        </section>`
      : nothing}
    ${countTable('dash-pool-events', 'Sandboxes since start', ['created', 'lost', 'failed'].map((e) => [e, e, events.get(e) ?? 0]), 'event')}`;
}

/** @param {number} le */
function rangeLabel(/** @type {number | null} */ from, le) {
  if (le === Infinity) return `> ${from}`;
  return from === null ? `${le}` : `${from}–${le}`;
}

/** @param {MetricsAnswer} m */
function rewardsView(m) {
  const families = [...byLabel(m, 'hgym_episode_reward_count', 'task').keys()].sort();
  return html`<section class="card wide" id="dash-rewards">
    <h4>Rewards of graded episodes, by family</h4>
    ${families.length === 0 ? html`<p class="hint">No episode graded yet.</p>` : nothing}
    <div class="histograms">
      ${families.map((family) => {
        const buckets = perBucket(histogram(m, 'hgym_episode_reward', (l) => l.task === family));
        const most = Math.max(1, ...buckets.map((b) => b.count));
        return html`<figure class="histogram" data-family=${family}>
          <div class="bars">
            ${buckets.map(
              (b) => html`<div class="bar" data-le=${b.le === Infinity ? '+Inf' : b.le}>
                <span class="value">${b.count}</span>
                <svg class="fill" viewBox="0 0 1 100" preserveAspectRatio="none">${svg`<rect width="1" y=${100 - (b.count / most) * 100} height=${(b.count / most) * 100}></rect>`}</svg>
                <span class="range">${rangeLabel(b.from, b.le)}</span>
              </div>`,
            )}
          </div>
          <figcaption>${family}</figcaption>
        </figure>`;
      })}
    </div>
  </section>`;
}

/** @param {MetricsAnswer} m */
function totalsView(m) {
  return countTable('dash-totals', 'Since the server started', [
    ['episodes', 'episodes started', total(m, 'hgym_episodes_total')],
    ['resets', 'resets timed', histogram(m, 'hgym_reset_seconds').count],
    ['steps', 'steps timed', histogram(m, 'hgym_step_seconds').count],
    ['errors', 'error answers', total(m, 'hgym_errors_total')],
  ], 'total');
}

function view() {
  const m = state.latest;
  const sampled = state.history.at(-1)?.at;
  return html`<div class="dashboard" data-sampled-at=${sampled ?? ''}>
    <p class="hint">From <code>/v1/metrics</code> (the registry <code>/metrics</code> exposes), sampled every ${PERIOD_MS / 1000} s while this tab is shown${sampled ? html`; last at <time id="dash-sampled">${new Date(sampled).toLocaleTimeString()}</time>` : nothing}.</p>
    ${state.error ? html`<p class="tab-error" id="dash-error" role="alert">${state.error}</p>` : nothing}
    ${m
      ? html`<div class="cards">${activeView(m)} ${poolView(m)} ${totalsView(m)}</div>
          <div class="cards">
            <section class="card chart"><h4>Step latency, last minutes</h4><div id="dash-step-chart"></div></section>
            <section class="card chart"><h4>Reset latency, last minutes</h4><div id="dash-reset-chart"></div></section>
          </div>
          <p class="hint">Each point: p50 and p99 of the steps (resets) in the 30 s before it, read from the latency histograms.</p>
          ${rewardsView(m)}`
      : html`<p class="hint">Loading…</p>`}
  </div>`;
}

/**
 * @param {HTMLElement} container
 * @param {any} context
 */
export async function mount(container, context) {
  ctx = context;
  root = container;
  if (!document.querySelector('link[data-uplot]')) {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = new URL('./vendor/uplot/dist/uPlot.min.css', import.meta.url).pathname;
    link.dataset.uplot = '';
    document.head.append(link);
  }
  // The shell hides a tab's panel rather than unmounting it: sampling follows the panel.
  observer = new MutationObserver(schedule);
  observer.observe(container, { attributes: true, attributeFilter: ['hidden'] });
  document.addEventListener('visibilitychange', schedule);
  update();
  state.families = Object.keys((await ctx.api('/v1/tasks')).families);
  await sample();
}

export function unmount() {
  clearTimeout(timer);
  timer = undefined;
  observer?.disconnect();
  document.removeEventListener('visibilitychange', schedule);
  for (const which of /** @type {const} */ (['step', 'reset'])) {
    charts[which]?.destroy();
    delete charts[which];
  }
  state.history = [];
}
