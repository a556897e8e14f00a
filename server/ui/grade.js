// @ts-check
/**
 * The grade of an ended episode, explained: the rule that decided it, precision, recall and F1
 * at each level with the hits, misses and false positives behind them (files and lines), and
 * for func_gen the tests and the first failures with their errors. Everything shown is the
 * grader's own breakdown (`grade` in the step answer and the trajectory); nothing is recomputed.
 *
 * No element here has an id: Play and the Trajectories replay both render this view, and both
 * stay in the page, so its parts are named by class and data attribute (`.grade`,
 * `[data-field="reward"]`, `table.levels`, ...) and found within the part that shows them.
 */
import { html, nothing } from './vendor/lit-html/lit-html.js';

/** What each rule means, in a sentence (docs/tasks.md has the full story). */
const RULES = {
  graded: 'Scored by the grader: the reward is the F1 (or their mean) below.',
  code_changed: 'Code changed where only comments or docstrings were asked for: the reward is 0.',
  no_target_documented: 'No target function gained a real docstring.',
  no_comment: 'No comment was added anywhere.',
  tests_pass: 'Every test that exercises the function passed.',
  tests_fail: 'Some tests failed: the reward is 0.',
  test_run_failed: 'The test run did not end normally.',
  interrupted: 'The test run was interrupted.',
  test_run_crashed: 'The test run crashed.',
  timeout: 'The tests did not finish in time.',
  report_forged: 'The test report did not verify.',
  harness_access: 'The code under test reached for the test harness.',
  target_missing: 'The function to write is missing.',
  does_not_parse: 'The file does not parse.',
  python_disagrees: 'Python does not read the file as its parse shows.',
  signature_changed: 'The decorators or signature changed; only the body was to be written.',
  no_tests: 'The instance has no tests.',
};

/**
 * @typedef {{ file: string, line?: number, end_line?: number, qualname?: string, note?: string }} Location
 * @typedef {{ level: string, precision: number, recall: number, f1: number, hits: Location[], misses: Location[], false_positives: Location[] }} Level
 */

/** @param {Location} loc */
function where(loc) {
  const lines = loc.line === undefined ? '' : loc.end_line !== undefined && loc.end_line !== loc.line ? `:${loc.line}-${loc.end_line}` : `:${loc.line}`;
  return `${loc.file}${lines}${loc.qualname ? ` ${loc.qualname}` : ''}${loc.note ? ` (${loc.note})` : ''}`;
}

/**
 * @param {string} title
 * @param {string} kind
 * @param {Location[]} locations
 */
function locationList(title, kind, locations) {
  return html`<div class="locations ${kind}">
    <h5>${title} <span class="count">${locations.length}</span></h5>
    ${locations.length === 0 ? html`<p class="none">none</p>` : html`<ul>${locations.map((loc) => html`<li data-kind=${kind}>${where(loc)}</li>`)}</ul>`}
  </div>`;
}

/** @param {Level[]} levels */
function levelsView(levels) {
  return html`<table class="levels">
      <thead><tr><th>level</th><th>precision</th><th>recall</th><th>F1</th></tr></thead>
      <tbody>
        ${levels.map(
          (l) => html`<tr data-level=${l.level}><th>${l.level}</th><td data-metric="precision">${l.precision}</td><td data-metric="recall">${l.recall}</td><td data-metric="f1">${l.f1}</td></tr>`,
        )}
      </tbody>
    </table>
    ${levels.map(
      (l) => html`<section class="level-detail" data-level=${l.level}>
        <h4>${l.level}</h4>
        <div class="location-lists">
          ${locationList('hits', 'hit', l.hits)} ${locationList('misses', 'miss', l.misses)} ${locationList('false positives', 'false-positive', l.false_positives)}
        </div>
      </section>`,
    )}`;
}

/** @param {Record<string, any>} grade */
function testsView(grade) {
  if (typeof grade.tests !== 'number') return nothing;
  /** @type {string[]} */
  const ids = Array.isArray(grade.test_ids) ? grade.test_ids : [];
  /** @type {{ id: string, outcome: string, error: string | null }[]} */
  const failing = Array.isArray(grade.failing) ? grade.failing : [];
  return html`<section class="tests">
    <h4>Tests: <span data-metric="passed">${grade.passed}</span> of <span data-metric="tests">${grade.tests}</span> passed</h4>
    ${ids.length > 0 ? html`<details><summary>the tests run</summary><ul>${ids.map((id) => html`<li><code>${id}</code></li>`)}</ul></details>` : nothing}
    ${failing.length > 0
      ? html`<h5>First failures</h5>
          <ul class="failures">
            ${failing.map((f) => html`<li data-test=${f.id}><code>${f.id}</code> <span class="outcome">${f.outcome}</span>${f.error ? html`<pre class="error">${f.error}</pre>` : nothing}</li>`)}
          </ul>`
      : nothing}
  </section>`;
}

/** @param {Record<string, any>} grade */
function extrasView(grade) {
  /** @type {{ file: string, reason: string }[]} */
  const changes = Array.isArray(grade.code_changes) ? grade.code_changes : [];
  /** @type {string[]} */
  const added = Array.isArray(grade.added_files) ? grade.added_files : [];
  return html`${changes.length > 0
      ? html`<section class="code-changes"><h4>Code changes</h4><ul>${changes.map((c) => html`<li><code>${c.file}</code>: ${c.reason}</li>`)}</ul></section>`
      : nothing}
    ${typeof grade.similarity === 'number' ? html`<p>Docstring similarity to the original: <span data-metric="similarity">${grade.similarity}</span></p>` : nothing}
    ${added.length > 0 ? html`<p>Files added (not graded): ${added.map((f) => html`<code>${f}</code> `)}</p>` : nothing}`;
}

/**
 * @param {{ reward: number | null, status: string, grade: Record<string, any> | null, error?: { code: string, message: string } }} ended
 */
export function gradeView(ended) {
  const { grade } = ended;
  if (!grade) {
    return html`<section class="grade" data-status=${ended.status}>
      <h3>Not graded (${ended.status})</h3>
      ${ended.error ? html`<p class="tab-error"><code>${ended.error.code}</code>: ${ended.error.message}</p>` : nothing}
    </section>`;
  }
  /** @type {Level[]} */
  const levels = Array.isArray(grade.levels) ? grade.levels : [];
  const rule = String(grade.rule ?? '');
  return html`<section class="grade" data-status=${ended.status}>
    <h3>Reward <span class="reward" data-field="reward">${ended.reward}</span> <span class="status">${ended.status}</span></h3>
    <p class="rule">Rule <code data-field="rule">${rule}</code>: ${RULES[/** @type {keyof typeof RULES} */ (rule)] ?? ''}</p>
    ${grade.combined ? html`<p>Reward: ${grade.combined}.</p>` : nothing}
    ${grade.detail ? html`<p class="detail">${Array.isArray(grade.detail) ? grade.detail.join('; ') : String(grade.detail)}</p>` : nothing}
    ${levels.length > 0 ? levelsView(levels) : nothing} ${testsView(grade)} ${extrasView(grade)}
    <details><summary>the grade as the API returns it</summary><pre class="raw">${JSON.stringify(grade, null, 2)}</pre></details>
  </section>`;
}
