// @ts-check
/**
 * An ended episode replayed: its instruction, a timeline of its steps on the episode's own clock
 * (where each step started and how long it ran, the gaps being the agent's time), every step's
 * action and observation in order with one of them current, and then the grade, explained by
 * the same view Play uses (./grade.js). Everything shown is the trajectory record as the API
 * answers it; nothing is recomputed.
 */
import { html, nothing, svg } from './vendor/lit-html/lit-html.js';
import { gradeView } from './grade.js';

/** Observations longer than this are shown cut, with a button for the rest. */
const LONG = 20_000;

/** Keys that move the current step, by how far. @type {Record<string, number>} */
export const stepKeys = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };

/**
 * @typedef {{ index: number, action: any, observation: string, invalid: boolean, started_at: string, duration_ms: number }} Step
 * @typedef {{ episode_id: string, task: string, instance_id: string, instruction: string, status: string, reward: number | null, grade: any, error?: { code: string, message: string }, steps: Step[], created_at: string, ended_at: string | null }} Trajectory
 * @typedef {{ goTo: (index: number) => void, close: () => void }} Controls
 */

/** @param {number} ms */
function seconds(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** @param {any} action */
function toolOf(action) {
  return typeof action?.tool === 'string' ? action.tool : 'message';
}

/**
 * The steps on the episode's clock, from reset to end: each a segment where it started, as wide
 * as it ran (at least a sliver, so an instant step can still be clicked).
 * @param {Trajectory} trajectory
 * @param {number} current
 * @param {Controls} controls
 */
function timeline(trajectory, current, controls) {
  const start = Date.parse(trajectory.created_at);
  const lastStep = trajectory.steps.at(-1);
  const end = Math.max(
    trajectory.ended_at ? Date.parse(trajectory.ended_at) : start,
    lastStep ? Date.parse(lastStep.started_at) + lastStep.duration_ms : start,
    start + 1,
  );
  const span = end - start;
  // SVG geometry rather than inline styles, which the page's Content-Security-Policy refuses.
  return html`<svg class="timeline" role="group" aria-label="Steps on the episode's clock" width="100%" height="18">
    ${trajectory.steps.map((step) => {
      const left = Math.min(((Date.parse(step.started_at) - start) / span) * 100, 99.6);
      const width = Math.min(Math.max((step.duration_ms / span) * 100, 0.4), 100 - left);
      return svg`<rect class=${`segment ${toolOf(step.action)}${step.index === current ? ' current' : ''}${step.invalid ? ' invalid' : ''}`}
        x=${`${left}%`} y="2" width=${`${width}%`} height="14" rx="2" tabindex="0" role="button" aria-label=${`step ${step.index + 1}`}
        @click=${() => controls.goTo(step.index)}><title>${`#${step.index + 1} ${toolOf(step.action)}: ${seconds(step.duration_ms)}`}</title></rect>`;
    })}
  </svg>
  <p class="timeline-scale"><span>reset</span><span>${seconds(span)}</span></p>`;
}

/** @param {any} action */
function actionView(action) {
  if (typeof action?.tool !== 'string') {
    return html`<pre class="step-message">${typeof action?.message === 'string' ? action.message : JSON.stringify(action)}</pre>`;
  }
  const args = action.arguments ?? {};
  return html`${typeof action.content === 'string' && action.content !== '' ? html`<p class="step-content">${action.content}</p>` : nothing}
    ${action.tool === 'execute_bash' && typeof args.command === 'string'
      ? html`<pre class="step-command"><span class="prompt">$ </span>${args.command}</pre>`
      : html`<pre class="step-arguments">${JSON.stringify(args, null, 2)}</pre>`}`;
}

/** @param {string} text */
function observationView(text) {
  if (text.length <= LONG) return html`<pre class="step-observation">${text}</pre>`;
  return html`<pre class="step-observation cut">${text.slice(0, LONG)}</pre>
    <button type="button" class="quiet" @click=${(/** @type {Event} */ e) => {
      const button = /** @type {HTMLElement} */ (e.currentTarget);
      /** @type {HTMLElement} */ (button.previousElementSibling).textContent = text;
      button.remove();
    }}>Show all ${text.length.toLocaleString()} characters</button>`;
}

/**
 * @param {Step} step
 * @param {number} start the episode's reset, in ms
 * @param {boolean} isCurrent
 * @param {Controls} controls
 */
function stepView(step, start, isCurrent, controls) {
  return html`<section class=${`step${isCurrent ? ' current' : ''}${step.invalid ? ' invalid' : ''}`} data-step=${step.index}
      data-action=${JSON.stringify(step.action)} @click=${() => !isCurrent && controls.goTo(step.index)}>
    <h5>
      <span class="step-index">#${step.index + 1}</span>
      <span class="step-tool">${toolOf(step.action)}</span>
      ${step.invalid ? html`<span class="badge bad">invalid</span>` : nothing}
      <span class="step-timing">at +${seconds(Date.parse(step.started_at) - start)}, ran <span class="step-duration">${seconds(step.duration_ms)}</span></span>
    </h5>
    ${actionView(step.action)}
    ${observationView(step.observation)}
  </section>`;
}

/**
 * @param {Trajectory} trajectory
 * @param {number} current the step in view
 * @param {Controls} controls
 */
export function replayView(trajectory, current, controls) {
  const start = Date.parse(trajectory.created_at);
  const last = trajectory.steps.length - 1;
  return html`<article id="traj-replay" class="replay" data-episode-id=${trajectory.episode_id}>
    <header>
      <h3>${trajectory.task} <span class="mono">${trajectory.instance_id}</span></h3>
      <button type="button" class="quiet" id="traj-close" @click=${controls.close}>Close</button>
    </header>
    <p class="facts">
      <span>episode <code>${trajectory.episode_id}</code></span>
      <span>${trajectory.status}</span>
      <span>reward <strong id="traj-reward">${trajectory.reward ?? '—'}</strong></span>
      <span>${trajectory.steps.length} steps</span>
    </p>
    <details class="instruction-box"><summary>Instruction</summary><pre class="instruction">${trajectory.instruction}</pre></details>
    ${trajectory.steps.length > 0
      ? html`${timeline(trajectory, current, controls)}
          <div class="stepper">
            <button type="button" id="traj-prev" ?disabled=${current <= 0} @click=${() => controls.goTo(current - 1)}>◀</button>
            <input type="range" id="traj-step" min="0" max=${last} .value=${String(current)} aria-label="Step"
              @input=${(/** @type {Event} */ e) => controls.goTo(Number(/** @type {HTMLInputElement} */ (e.currentTarget).value))}>
            <button type="button" id="traj-next" ?disabled=${current >= last} @click=${() => controls.goTo(current + 1)}>▶</button>
            <span id="traj-position">step ${current + 1} of ${trajectory.steps.length}</span>
          </div>
          <div class="steps">${trajectory.steps.map((step) => stepView(step, start, step.index === current, controls))}</div>`
      : html`<p class="hint">No step was taken.</p>`}
    ${gradeView(trajectory)}
  </article>`;
}
