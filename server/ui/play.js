// @ts-check
/**
 * Play: an episode driven by hand. Reset (a family, an instance id or a seed), read the
 * instruction, run shell commands whose output streams in as it is produced, use the editor's
 * commands, finish, and read the grade explained. Every operation goes over one WebSocket, as
 * an online trainer's would, so each action is a real step of the episode and costs one.
 */
import { html, nothing, render } from './vendor/lit-html/lit-html.js';
import { describeError } from './api-error.js';
import { EpisodeSocket } from './episode-socket.js';
import { gradeView } from './grade.js';

/** The editor's commands and the fields each one uses besides `path`. */
const EDITOR_FIELDS = {
  view: ['view_range'],
  create: ['file_text'],
  str_replace: ['old_str', 'new_str'],
  insert: ['insert_line', 'new_str'],
  undo_edit: [],
};

/**
 * @typedef {{ stream: string, data: string }} Chunk
 * @typedef {{ command: string, chunks: Chunk[], running: boolean, note?: string }} ShellRun
 * @typedef {{ reward: number | null, status: string, grade: Record<string, any> | null, error?: { code: string, message: string } }} Ended
 */

/** @type {any} */
let ctx;
/** @type {HTMLElement} */
let root;
/** @type {EpisodeSocket | null} */
let socket = null;

const state = {
  /** @type {Record<string, { instances: number }>} */
  families: {},
  /** @type {{ episode_id: string, instruction: string, task: string, instance_id: string, max_steps: number, workspace: string } | null} */
  episode: null,
  steps: 0,
  busy: false,
  /** @type {ShellRun[]} */
  shell: [],
  editorCommand: /** @type {keyof typeof EDITOR_FIELDS} */ ('view'),
  /** The last editor observation: what the file view shows. */
  fileView: '',
  /** @type {Ended | null} */
  ended: null,
  /** @type {string | null} */
  error: null,
};

function update() {
  render(view(), root);
}

/** @param {unknown} err */
function showError(err) {
  state.error = describeError(err);
  state.busy = false;
  update();
}

async function connection() {
  if (socket?.open) return socket;
  socket = await EpisodeSocket.open(ctx.wsUrl(), ctx.wsProtocols());
  return socket;
}

/** @param {SubmitEvent} event */
async function reset(event) {
  event.preventDefault();
  const form = new FormData(/** @type {HTMLFormElement} */ (event.target));
  /** @type {Record<string, unknown>} */
  const body = {};
  const task = String(form.get('task') ?? '');
  const instance = String(form.get('instance_id') ?? '').trim();
  const seed = String(form.get('seed') ?? '').trim();
  if (task) body.task = task;
  if (instance) body.instance_id = instance;
  if (seed) body.seed = Number(seed);
  state.busy = true;
  state.error = null;
  update();
  try {
    const ws = await connection();
    // One episode at a time on this page: the previous one is closed, not left to the reaper.
    if (state.episode && !state.ended) await ws.request({ type: 'close', episode_id: state.episode.episode_id });
    const answer = await ws.request({ type: 'reset', ...body });
    state.episode = { episode_id: answer.episode_id, instruction: answer.observation.text, ...answer.info };
    Object.assign(state, { steps: 0, shell: [], fileView: '', ended: null, busy: false });
  } catch (err) {
    return showError(err);
  }
  update();
}

/**
 * One step of the episode. `onOutput` gets the command's output as it streams in.
 * @param {{ tool: string, arguments: Record<string, unknown> }} action
 * @param {(chunk: Chunk) => void} [onOutput]
 */
async function step(action, onOutput) {
  const episode = state.episode;
  if (!episode) throw new Error('reset first');
  const ws = await connection();
  const answer = await ws.request({ type: 'step', episode_id: episode.episode_id, action }, onOutput);
  state.steps = answer.info.step;
  if (answer.terminated || answer.truncated) await showEnded(answer);
  return answer;
}

/**
 * The grade from the step answer, and the status (and any grading error) from the episode's
 * state, which is what the trajectory records too.
 * @param {{ reward: number, info: { grade?: Record<string, any> } }} answer
 */
async function showEnded(answer) {
  const episode = /** @type {NonNullable<typeof state.episode>} */ (state.episode);
  const record = await ctx.api(`/v1/episodes/${encodeURIComponent(episode.episode_id)}`);
  state.ended = { reward: answer.reward, status: record.status, grade: answer.info.grade ?? null, error: record.error };
}

/** @param {SubmitEvent} event */
async function runCommand(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.target);
  const command = String(new FormData(form).get('command') ?? '');
  if (!command.trim()) return;
  /** @type {ShellRun} */
  const run = { command, chunks: [], running: true };
  state.shell = [...state.shell, run];
  state.busy = true;
  state.error = null;
  update();
  try {
    const answer = await step({ tool: 'execute_bash', arguments: { command } }, (chunk) => {
      run.chunks.push(chunk);
      update();
    });
    const exec = answer.info.exec;
    run.note = exec ? `exit ${exec.exit_code ?? '(killed)'}${exec.timed_out ? ', timed out' : ''}${exec.cut_chars ? `, ${exec.cut_chars} characters cut` : ''} · ${Math.round(exec.duration_ms)} ms` : answer.observation.text;
    form.reset();
  } catch (err) {
    run.note = 'failed';
    showError(err);
  }
  run.running = false;
  state.busy = false;
  update();
}

/** @param {SubmitEvent} event */
async function runEditor(event) {
  event.preventDefault();
  const form = new FormData(/** @type {HTMLFormElement} */ (event.target));
  const command = state.editorCommand;
  /** @type {Record<string, unknown>} */
  const args = { command, path: String(form.get('path') ?? '') };
  for (const field of EDITOR_FIELDS[command]) {
    const value = String(form.get(field) ?? '');
    if (field === 'insert_line') args.insert_line = Number(value);
    else if (field === 'view_range') {
      const range = value.split(/[\s,]+/).filter(Boolean).map(Number);
      if (range.length === 2) args.view_range = range;
    } else args[field] = value;
  }
  state.busy = true;
  state.error = null;
  update();
  try {
    const answer = await step({ tool: 'str_replace_editor', arguments: args });
    state.fileView = answer.observation.text;
  } catch (err) {
    return showError(err);
  }
  state.busy = false;
  update();
}

/** @param {SubmitEvent} event */
async function finish(event) {
  event.preventDefault();
  const message = String(new FormData(/** @type {HTMLFormElement} */ (event.target)).get('message') ?? '');
  state.busy = true;
  state.error = null;
  update();
  try {
    await step({ tool: 'finish', arguments: message ? { message } : {} });
  } catch (err) {
    return showError(err);
  }
  state.busy = false;
  update();
}

function resetForm() {
  const families = Object.entries(state.families);
  return html`<form class="reset" id="play-reset-form" @submit=${reset}>
    <label>Family
      <select name="task" id="play-family">
        <option value="">any</option>
        ${families.map(([name, f]) => html`<option value=${name}>${name} (${f.instances})</option>`)}
      </select>
    </label>
    <label>Instance id <input name="instance_id" id="play-instance" placeholder="optional"></label>
    <label>Seed <input name="seed" id="play-seed" type="number" min="0" step="1" placeholder="optional"></label>
    <button type="submit" id="play-reset" ?disabled=${state.busy}>Reset</button>
  </form>`;
}

/** @param {ShellRun} run */
function shellRun(run) {
  return html`<div class="run" data-state=${run.running ? 'running' : 'done'}>
    <div class="prompt">$ ${run.command}</div>
    <pre class="output">${run.chunks.map((c) => html`<span class=${c.stream}>${c.data}</span>`)}</pre>
    <div class="note">${run.running ? 'running…' : run.note}</div>
  </div>`;
}

function shell() {
  const running = state.shell.some((r) => r.running);
  const off = state.busy || state.ended !== null;
  return html`<section class="shell">
    <h3>Shell</h3>
    <div id="shell-output" class="terminal" data-state=${running ? 'running' : 'idle'}>${state.shell.map(shellRun)}</div>
    <form id="shell-form" @submit=${runCommand}>
      <input name="command" id="shell-command" autocomplete="off" placeholder="a command, run in the episode's shell" ?disabled=${off}>
      <button type="submit" id="shell-run" ?disabled=${off}>Run</button>
    </form>
  </section>`;
}

function editor() {
  const fields = EDITOR_FIELDS[state.editorCommand];
  /** @param {string} name */
  const uses = (name) => fields.includes(name);
  const workspace = state.episode?.workspace ?? '';
  return html`<section class="editor">
    <h3>Editor</h3>
    <form id="editor-form" @submit=${runEditor}>
      <label>Command
        <select name="command" id="editor-command" @change=${(/** @type {Event} */ e) => { state.editorCommand = /** @type {any} */ (/** @type {HTMLSelectElement} */ (e.target).value); update(); }}>
          ${Object.keys(EDITOR_FIELDS).map((c) => html`<option value=${c} ?selected=${c === state.editorCommand}>${c}</option>`)}
        </select>
      </label>
      <label>Path <input name="path" id="editor-path" required .value=${workspace}></label>
      ${uses('view_range') ? html`<label>Lines <input name="view_range" id="editor-range" placeholder="start end (optional; end -1: to the end)"></label>` : nothing}
      ${uses('insert_line') ? html`<label>After line <input name="insert_line" id="editor-line" type="number" min="0" required></label>` : nothing}
      ${uses('old_str') ? html`<label>Old text <textarea name="old_str" id="editor-old" rows="4" required></textarea></label>` : nothing}
      ${uses('new_str') ? html`<label>New text <textarea name="new_str" id="editor-new" rows="4"></textarea></label>` : nothing}
      ${uses('file_text') ? html`<label>File text <textarea name="file_text" id="editor-text" rows="8"></textarea></label>` : nothing}
      <button type="submit" id="editor-run" ?disabled=${state.busy || state.ended !== null}>Run</button>
    </form>
    <pre id="file-view" class="file-view">${state.fileView || 'The file view shows what the editor answers (a view costs a step, like any tool call).'}</pre>
  </section>`;
}

function episodeView() {
  const episode = state.episode;
  if (!episode) return html`<p class="hint">Reset to start an episode.</p>`;
  return html`<section class="episode" id="play-episode" data-episode=${episode.episode_id}>
      <p class="facts">
        <span>episode <code id="play-episode-id">${episode.episode_id}</code></span>
        <span>${episode.task}</span> <span><code>${episode.instance_id}</code></span>
        <span>step <span id="play-steps">${state.steps}</span> of ${episode.max_steps}</span>
        <span>workspace <code>${episode.workspace}</code></span>
      </p>
      <details open><summary>Instruction</summary><pre id="play-instruction" class="instruction">${episode.instruction}</pre></details>
    </section>
    ${state.ended
      ? html`${gradeView(state.ended)}
          <button type="button" id="play-open-trajectory" @click=${() => ctx.openEpisode(episode.episode_id)}>Open in Trajectories</button>`
      : html`<form class="finish" id="finish-form" @submit=${finish}>
          <input name="message" id="finish-message" placeholder="a closing message (optional)">
          <button type="submit" id="finish" ?disabled=${state.busy}>Finish and grade</button>
        </form>`}
    <div class="tools">${shell()} ${editor()}</div>`;
}

function view() {
  return html`${resetForm()} ${state.error ? html`<p class="tab-error" id="play-error" role="alert">${state.error}</p>` : nothing} ${episodeView()}`;
}

/**
 * @param {HTMLElement} container
 * @param {any} context
 */
export async function mount(container, context) {
  ctx = context;
  root = container;
  update();
  const tasks = await ctx.api('/v1/tasks');
  state.families = tasks.families;
  update();
}

export function unmount() {
  socket?.close();
  socket = null;
}
