/**
 * The console's Play part in a real browser (server/ui/play.js, server/ui/grade.js, served by
 * server/routes/ui.ts): a whole dep_search episode played through the page — reset, a command
 * whose output shows before the command ends, edits through the editor, finish — and the grade
 * the page explains is the grade the API answers. The page with no key configured and with one
 * (a wrong key refused, the right one working, over the WebSocket too, never in a URL); a
 * func_gen grade's tests and failures. Writes docs/screenshots/play.png.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import type { Page } from 'playwright-core';
import t from 'tap';
import { gradeRun } from '../../env/tasks/func-gen.js';
import { GradeLevel, type GradeLocation } from '../../schemas/api.js';
import type { DepSearchInstance } from '../../schemas/tasks.js';
import { duplicateIds, enterKey, screenshot, startConsole } from '../helpers/browser.js';
import { SHAPES } from '../helpers/fixture-corpus.js';

/** What the functions run in the page use of its globals (the tests compile without the DOM's types). */
type PageGlobals = { document: { querySelector(selector: string): { textContent: string | null; getAttribute(name: string): string | null } | null } };

const validLevel = new Ajv({ strict: false }).compile(GradeLevel);

/** A place as the page lists it: `file:line qualname (note)`. */
function where(loc: GradeLocation): string {
  const lines = loc.line === undefined ? '' : loc.end_line !== undefined && loc.end_line !== loc.line ? `:${loc.line}-${loc.end_line}` : `:${loc.line}`;
  return `${loc.file}${lines}${loc.qualname ? ` ${loc.qualname}` : ''}${loc.note ? ` (${loc.note})` : ''}`;
}

/** The 1-based line of `text` in a file of the fixture repository (the workspace's lines, for dep_search). */
function lineOf(file: string, text: string): number {
  const at = readFileSync(join(SHAPES, file), 'utf8').split('\n').findIndex((l) => l.startsWith(text));
  if (at < 0) throw new Error(`${text} is not in ${file}`);
  return at + 1;
}

/** Inserts `text` after line `after` of a workspace file through the page's editor. */
async function insertThroughEditor(page: Page, path: string, after: number, text: string): Promise<void> {
  await page.selectOption('#editor-command', 'insert');
  await page.fill('#editor-path', path);
  await page.fill('#editor-line', String(after));
  await page.fill('#editor-new', text);
  const steps = Number(await page.textContent('#play-steps'));
  await page.click('#editor-run');
  await page.locator('#play-steps', { hasText: String(steps + 1) }).waitFor();
}

t.test('a whole episode through the page: streamed output, edits, finish, and the grade the API answers', async (t) => {
  const s = await startConsole(t);
  const { page } = s;
  const instance = s.instances.find((i): i is DepSearchInstance => i.task === 'dep_search' && i.gold.target.qualname === 'make');
  if (!instance) throw new Error('the fixture corpus has no dep_search instance for make');

  await page.goto(s.consoleUrl);
  t.equal(await page.getAttribute('#tab-play', 'aria-selected'), 'true', 'Play is the first tab');
  t.ok(await page.isHidden('#key-form'), 'no key asked: the server has none');
  await page.locator('#play-family option[value="dep_search"]').waitFor({ state: 'attached' });
  await page.selectOption('#play-family', 'dep_search');
  await page.fill('#play-instance', instance.instance_id);
  await page.click('#play-reset');
  await page.locator('#play-instruction').waitFor();
  const episodeId = (await page.textContent('#play-episode-id'))!;
  t.equal(await page.textContent('#play-instruction'), instance.instruction, 'the instruction shown is the instance\'s');

  // A command that prints, waits, then prints again: the first line must show while the step
  // still runs (output frames streamed over the WebSocket), the second only after.
  const workspace = `/workspace/${instance.repo.name}`;
  await page.fill('#shell-command', `cd ${workspace} && echo first-line && sleep 3 && echo second-line`);
  const sent = Date.now();
  await page.click('#shell-run');
  await page.waitForFunction(() => {
    const { document } = globalThis as unknown as PageGlobals;
    const output = document.querySelector('#shell-output .run:last-child .output')?.textContent ?? '';
    return document.querySelector('#shell-output')?.getAttribute('data-state') === 'running' && output.includes('first-line') && !output.includes('second-line');
  });
  const firstSeenMs = Date.now() - sent;
  await page.locator('#shell-output[data-state="idle"]').waitFor();
  const endedMs = Date.now() - sent;
  t.ok(firstSeenMs < endedMs - 2_000, `the first line showed ${firstSeenMs} ms after sending, the command ended after ${endedMs} ms`);
  t.equal(await page.textContent('#shell-output .run:last-child .output'), 'first-line\nsecond-line\n', 'the whole output, in order');
  t.match(await page.textContent('#shell-output .run:last-child .note'), /exit 0/);

  // Edits through the editor: the comment above one dependency (a hit) and above a function
  // that is not one (a false positive); the two other dependencies are left (misses).
  const [hit] = instance.gold.dependencies;
  await insertThroughEditor(page, `${workspace}/${hit!.file}`, hit!.start - 1, instance.gold.comment);
  const dump = lineOf('shapes/registry.py', 'def dump(');
  await insertThroughEditor(page, `${workspace}/shapes/registry.py`, dump - 1, instance.gold.comment);
  await page.selectOption('#editor-command', 'view');
  await page.fill('#editor-path', `${workspace}/shapes/registry.py`);
  await page.click('#editor-run');
  await page.locator('#file-view', { hasText: 'cat -n' }).waitFor();
  t.match(await page.textContent('#file-view'), `${dump}\t${instance.gold.comment}`, 'the file view shows the edited file');

  await page.fill('#finish-message', 'Commented one dependency.');
  await page.click('#finish');
  const shownGrade = page.locator('#panel-play .grade');
  await shownGrade.waitFor();

  const trajectory = await s.client.trajectory(episodeId);
  const grade = trajectory.grade as { rule: string; levels: GradeLevel[] };
  t.equal(trajectory.status, 'terminated');
  t.equal(await shownGrade.locator('[data-field="reward"]').textContent(), String(trajectory.reward), 'the reward');
  t.equal(await shownGrade.locator('[data-field="rule"]').textContent(), grade.rule, 'the rule that decided');
  t.equal(grade.levels.length, 1);
  for (const level of grade.levels) {
    t.ok(validLevel(level), `the API's ${level.level} level matches its schema`);
    const row = shownGrade.locator(`table.levels tr[data-level="${level.level}"]`);
    const shown = await Promise.all(['precision', 'recall', 'f1'].map((m) => row.locator(`[data-metric="${m}"]`).textContent()));
    t.same(shown.map(Number), [level.precision, level.recall, level.f1], `${level.level}: precision, recall, F1`);
    const detail = shownGrade.locator(`.level-detail[data-level="${level.level}"]`);
    for (const [kind, list] of [['hit', level.hits], ['miss', level.misses], ['false-positive', level.false_positives]] as const) {
      t.same(await detail.locator(`li[data-kind="${kind}"]`).allTextContents(), list.map(where), `${level.level}: the ${kind} places`);
    }
  }
  const [level] = grade.levels;
  t.same([level!.hits.length, level!.misses.length, level!.false_positives.length], [1, instance.gold.dependencies.length - 1, 1]);
  t.same(level!.false_positives, [{ file: 'shapes/registry.py', line: dump, qualname: 'dump', note: 'not a dependency' }]);
  t.equal(trajectory.instruction, instance.instruction);
  await screenshot(page, 'play');

  await page.click('#play-open-trajectory');
  t.equal(await page.getAttribute('#tab-trajectories', 'aria-selected'), 'true', 'the Trajectories tab is shown');
  const replayGrade = page.locator(`#traj-replay[data-episode-id="${episodeId}"] .grade`);
  await replayGrade.waitFor();
  t.equal(await replayGrade.locator('[data-field="reward"]').textContent(), String(trajectory.reward), 'the replay shows the same reward');
  // Play keeps its grade while the replay shows the episode's: the one view, rendered twice.
  t.equal(await page.locator('.grade').count(), 2, 'both grades are in the page');
  t.same(await duplicateIds(page), {}, 'no id appears twice in the document');
  t.same(s.pageErrors, [], 'no console error (a CSP violation would be one)');
  t.same(s.offLoopback, [], 'the page fetched nothing off the machine');
});

t.test('with an API key: a wrong key is refused, the right one works, WebSocket included, and stays out of URLs', async (t) => {
  const key = 'play-console-key';
  const s = await startConsole(t, { apiKey: key });
  const { page } = s;
  const urls: string[] = [];
  page.on('request', (request) => urls.push(request.url()));

  await page.goto(s.consoleUrl);
  await page.locator('#key-form').waitFor();
  t.ok(await page.isHidden('#console'), 'nothing of the console shows without the key');
  await enterKey(page, 'not-the-key');
  await page.locator('#key-message', { hasText: 'refused' }).waitFor();
  t.ok(await page.isHidden('#console'), 'a wrong key is refused');
  t.equal(await page.locator('#play-family option').count(), 0, 'no data reached the page');

  await enterKey(page, key);
  await page.locator('#play-family option[value="func_localize"]').waitFor({ state: 'attached' });
  t.ok(await page.isHidden('#key-form'));
  await page.selectOption('#play-family', 'func_localize');
  await page.fill('#play-seed', '3');
  await page.click('#play-reset');
  await page.locator('#play-instruction').waitFor();
  await page.fill('#shell-command', 'echo streamed-with-a-key');
  await page.click('#shell-run');
  await page.locator('#shell-output[data-state="idle"]', { hasText: 'streamed-with-a-key' }).waitFor();
  t.notOk(await page.isVisible('#play-error'), 'the WebSocket opened with the key');

  // Another tab of the browser has no key: sessionStorage is per tab.
  const other = await page.context().newPage();
  await other.goto(s.consoleUrl);
  await other.locator('#key-form').waitFor();
  t.ok(await other.isHidden('#console'), 'a new tab asks again');
  await other.close();

  t.same(urls.filter((u) => u.includes(key) || u.includes(Buffer.from(key).toString('base64url'))), [], 'the key is in no URL');
  t.same(s.offLoopback, []);
});

t.test('a func_gen grade shows the tests and the first failures with their errors', async (t) => {
  const s = await startConsole(t, { pool: { warm: 1, max: 1 } });
  const { page } = s;
  const tests = ['tests/test_util.py::test_clamp', 'tests/test_util.py::test_square'];
  const graded = gradeRun(
    {
      kind: 'ended',
      exit: 1,
      ms: 12,
      violations: [],
      tests: [
        { id: tests[0]!, outcome: 'passed', ms: 1 },
        { id: tests[1]!, outcome: 'failed', ms: 1, error: { type: 'AssertionError', message: 'assert 4 == 5\n where 4 = square(2)', frames: [] } },
      ],
    },
    tests,
    60,
  );
  await page.goto(s.consoleUrl);
  await page.locator('#play-family option').nth(1).waitFor({ state: 'attached' });
  // The page's own grade view, given the grader's answer for a failed run.
  await page.evaluate(`(async () => {
    const { gradeView } = await import('/ui/grade.js');
    const { render } = await import('/ui/vendor/lit-html/lit-html.js');
    const host = document.createElement('div');
    host.id = 'func-gen-grade';
    document.body.append(host);
    render(gradeView({ reward: 0, status: 'terminated', grade: ${JSON.stringify(graded.info)} }), host);
  })()`);
  const view = page.locator('#func-gen-grade');
  t.equal(await view.locator('[data-field="rule"]').textContent(), 'tests_fail');
  t.same([await view.locator('[data-metric="passed"]').textContent(), await view.locator('[data-metric="tests"]').textContent()], ['1', '2']);
  t.same(await view.locator('section.tests details li').allTextContents(), tests, 'the tests run');
  const failure = view.locator(`li[data-test="${tests[1]}"]`);
  t.match(await failure.textContent(), 'failed');
  t.equal(await failure.locator('pre.error').textContent(), 'assert 4 == 5', "the failure's error, its first line");
  t.same(s.pageErrors, []);
});
