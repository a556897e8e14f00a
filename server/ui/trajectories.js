// @ts-check
/**
 * Trajectories: the ended episodes of the trajectory log (GET /v1/trajectories), newest first,
 * filtered by task, reward range and end time, a page at a time; one opened for replay
 * (./replay.js); and the filtered set exported as SFT JSONL (GET /v1/trajectories/export, the
 * lines `hgym export` writes). The server reads the log; the page holds only the rows it shows.
 */
import { html, nothing, render } from './vendor/lit-html/lit-html.js';
import { describeError } from './api-error.js';
import { replayView, stepKeys } from './replay.js';

const PAGE = 50;

/**
 * @typedef {{ episode_id: string, task: string, instance_id: string, status: string, reward: number | null, steps: number, duration_ms: number | null, created_at: string, ended_at: string | null }} Row
 * @typedef {{ task: string, min_reward: string, max_reward: string, from: string, to: string }} Filters
 */

/** @type {any} */
let ctx;
/** @type {HTMLElement} */
let root;

const state = {
  /** @type {string[]} */
  families: [],
  /** @type {Filters} */
  filters: { task: '', min_reward: '', max_reward: '', from: '', to: '' },
  /** @type {Row[]} */
  rows: [],
  /** @type {string | null} */
  cursor: null,
  damaged: 0,
  loading: false,
  exporting: false,
  /** @type {string | null} */
  error: null,
  /** The episode being replayed, and the step in view. @type {any} */
  opened: null,
  current: 0,
};

function update() {
  render(view(), root);
}

/** @param {unknown} err */
function fail(err) {
  state.error = describeError(err);
  state.loading = false;
  state.exporting = false;
  update();
}

/**
 * The filters as the API's query: times typed in local time are sent as UTC instants.
 * @param {Filters} filters
 */
function query(filters) {
  const params = new URLSearchParams();
  if (filters.task) params.set('task', filters.task);
  if (filters.min_reward !== '') params.set('min_reward', filters.min_reward);
  if (filters.max_reward !== '') params.set('max_reward', filters.max_reward);
  for (const key of /** @type {const} */ (['from', 'to'])) {
    if (filters[key]) params.set(key, new Date(filters[key]).toISOString());
  }
  return params;
}

/** Loads the first page (`more` false) or the next, older one. @param {boolean} more */
async function load(more) {
  state.loading = true;
  state.error = null;
  update();
  try {
    const params = query(state.filters);
    params.set('limit', String(PAGE));
    if (more && state.cursor) params.set('cursor', state.cursor);
    const page = await ctx.api(`/v1/trajectories?${params}`);
    state.rows = more ? [...state.rows, ...page.trajectories] : page.trajectories;
    state.cursor = page.next_cursor;
    state.damaged = (more ? state.damaged : 0) + page.damaged;
    state.loading = false;
    update();
  } catch (err) {
    fail(err);
  }
}

/** Downloads the filtered set as SFT JSONL, the file `hgym export` would write. */
async function exportSft() {
  state.exporting = true;
  state.error = null;
  update();
  try {
    const text = await ctx.apiText(`/v1/trajectories/export?${query(state.filters)}`);
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([text], { type: 'application/jsonl' }));
    link.download = 'hgym-sft.jsonl';
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    state.exporting = false;
    update();
  } catch (err) {
    fail(err);
  }
}

/** @param {SubmitEvent} event */
function applyFilters(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  if (!form.reportValidity()) return;
  const data = new FormData(form);
  state.filters = /** @type {Filters} */ (Object.fromEntries(['task', 'min_reward', 'max_reward', 'from', 'to'].map((key) => [key, String(data.get(key) ?? '')])));
  void load(false);
}

/**
 * Opens an ended episode's replay: its record as the log keeps it (GET /v1/trajectories/{id}).
 * @param {string} id
 */
export async function open(id) {
  state.error = null;
  try {
    state.opened = await ctx.api(`/v1/trajectories/${encodeURIComponent(id)}`);
    state.current = 0;
    update();
    root.querySelector('#traj-replay')?.scrollIntoView({ block: 'start' });
  } catch (err) {
    fail(err);
  }
}

function close() {
  state.opened = null;
  update();
}

/** @param {number} index */
function goTo(index) {
  if (!state.opened) return;
  state.current = Math.max(0, Math.min(index, state.opened.steps.length - 1));
  update();
  root.querySelector(`[data-step="${state.current}"]`)?.scrollIntoView({ block: 'nearest' });
}

/** @param {number} ms */
export function duration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** @param {string | null} iso */
function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function filtersView() {
  const f = state.filters;
  return html`<form id="traj-filters" class="filters" @submit=${applyFilters}>
    <label>Task
      <select name="task" id="traj-task">
        <option value="" ?selected=${f.task === ''}>all</option>
        ${state.families.map((family) => html`<option value=${family} ?selected=${f.task === family}>${family}</option>`)}
      </select>
    </label>
    <label>Reward from <input name="min_reward" id="traj-min-reward" type="number" min="0" max="1" step="any" .value=${f.min_reward}></label>
    <label>to <input name="max_reward" id="traj-max-reward" type="number" min="0" max="1" step="any" .value=${f.max_reward}></label>
    <label>Ended after <input name="from" id="traj-from" type="datetime-local" step="1" .value=${f.from}></label>
    <label>Ended before <input name="to" id="traj-to" type="datetime-local" step="1" .value=${f.to}></label>
    <button type="submit" id="traj-apply" ?disabled=${state.loading}>Filter</button>
    <button type="button" id="traj-export" class="quiet" ?disabled=${state.exporting} @click=${exportSft} title="The graded episodes that pass the filters, as hgym export writes them">Export SFT JSONL</button>
  </form>`;
}

/** @param {Row} row */
function rowView(row) {
  const opened = state.opened?.episode_id === row.episode_id;
  return html`<tr data-episode-id=${row.episode_id} class=${opened ? 'opened' : ''} tabindex="0"
      @click=${() => open(row.episode_id)} @keydown=${(/** @type {KeyboardEvent} */ e) => e.key === 'Enter' && open(row.episode_id)}>
    <td>${when(row.ended_at)}</td>
    <td>${row.task}</td>
    <td class="mono">${row.instance_id}</td>
    <td class="wide-only">${row.status}</td>
    <td class="num" data-field="reward">${row.reward ?? '—'}</td>
    <td class="num" data-field="steps">${row.steps}</td>
    <td class="num wide-only">${row.duration_ms === null ? '' : duration(row.duration_ms)}</td>
  </tr>`;
}

function listView() {
  return html`<table id="traj-list" class="rows">
      <thead><tr><th>Ended</th><th>Task</th><th>Instance</th><th class="wide-only">Status</th><th>Reward</th><th>Steps</th><th class="wide-only">Duration</th></tr></thead>
      <tbody>${state.rows.map(rowView)}</tbody>
    </table>
    ${state.rows.length === 0 && !state.loading ? html`<p class="hint" id="traj-empty">No ended episode passes these filters.</p>` : nothing}
    ${state.damaged > 0 ? html`<p class="hint">${state.damaged} damaged lines of the log were skipped.</p>` : nothing}
    ${state.cursor ? html`<button type="button" id="traj-more" class="quiet" ?disabled=${state.loading} @click=${() => load(true)}>Older episodes</button>` : nothing}`;
}

function view() {
  return html`${filtersView()}
    ${state.error ? html`<p class="tab-error" id="traj-error" role="alert">${state.error}</p>` : nothing}
    <div class=${state.opened ? 'trajectories split' : 'trajectories'}>
      <div class="list">${listView()}</div>
      ${state.opened ? replayView(state.opened, state.current, { goTo, close }) : nothing}
    </div>`;
}

/** Arrow keys step through an opened replay (when focus is not in a form field). @param {KeyboardEvent} event */
function onKey(event) {
  if (!state.opened || root.hidden || (event.target instanceof HTMLElement && event.target.closest('input, select, textarea'))) return;
  const move = stepKeys[event.key];
  if (move !== undefined) {
    event.preventDefault();
    goTo(state.current + move);
  }
}

/**
 * @param {HTMLElement} container
 * @param {any} context
 */
export async function mount(container, context) {
  ctx = context;
  root = container;
  document.addEventListener('keydown', onKey);
  update();
  const [tasks] = await Promise.all([ctx.api('/v1/tasks'), load(false)]);
  state.families = Object.keys(tasks.families).sort();
  update();
}

export function unmount() {
  document.removeEventListener('keydown', onKey);
}
