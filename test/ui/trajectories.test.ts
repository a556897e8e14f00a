/**
 * The console's Trajectories part in a real browser (server/ui/trajectories.js,
 * server/ui/replay.js): episodes run through the API are listed as GET /v1/trajectories lists
 * them; filters narrow the list as the API does; an episode opened for replay shows each step's
 * action, observation and timing and then the grade, as the API's trajectory has them; the
 * export downloads the API's SFT JSONL. With an API key. Writes docs/screenshots/trajectories.png.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import type { Trajectory } from '../../env/trajectory.js';
import type { FuncLocalizeInstance } from '../../schemas/tasks.js';
import type { TrajectoryList } from '../../schemas/trajectories.js';
import { applyFuncLocalizeGoldThroughSteps } from '../helpers/api-gold.js';
import { duplicateIds, enterKey, screenshot, startConsole } from '../helpers/browser.js';

const KEY = 'trajectories-console-key';

t.test('ended episodes are listed, filtered, replayed step by step and exported as the API answers them', async (t) => {
  const s = await startConsole(t, { apiKey: KEY, pool: { warm: 2, max: 4 } });
  const { client, page } = s;
  const api = async (path: string): Promise<Response> => {
    const res = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${KEY}` } });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res;
  };

  // Three episodes through the API: a gold func_localize (reward 1) with a plain message among
  // its steps, a dep_search finished at once (0), and one closed before its end (ungraded).
  const gold = s.instances.find((i): i is FuncLocalizeInstance => i.task === 'func_localize')!;
  const a = await client.reset({ instance_id: gold.instance_id });
  await client.step(a.episode_id, { tool: 'think', arguments: { thought: 'Find the function first.' } });
  await client.step(a.episode_id, { message: 'Looking around before I edit.' });
  await applyFuncLocalizeGoldThroughSteps(gold, a.info.workspace, async (action) => (await client.step(a.episode_id, action)).observation.text);
  t.equal((await client.step(a.episode_id, { tool: 'finish', arguments: { message: 'Documented.' } })).reward, 1, 'the gold episode scores 1');
  const b = await client.reset({ task: 'dep_search', seed: 2 });
  await client.step(b.episode_id, { tool: 'execute_bash', arguments: { command: 'ls' } });
  await client.step(b.episode_id, { tool: 'finish', arguments: {} });
  const c = await client.reset({ task: 'dep_search', seed: 3 });
  await client.close(c.episode_id);
  const listed = async (query = '') => ((await (await api(`/v1/trajectories${query}`)).json()) as TrajectoryList).trajectories.map((r) => r.episode_id);
  for (let i = 0; i < 100 && (await listed()).length < 3; i++) await new Promise((r) => setTimeout(r, 50));
  const all = await listed();
  t.same(all, [c.episode_id, b.episode_id, a.episode_id], 'the API lists the three, newest first');

  await page.goto(`${s.consoleUrl}#trajectories`);
  await enterKey(page, KEY);
  const panel = page.locator('#panel-trajectories');
  const rows = panel.locator('#traj-list tbody tr');
  await rows.nth(2).waitFor();
  const shownIds = () => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-episode-id')));
  t.same(await shownIds(), all, 'the page lists what the API lists, in its order');
  const rewards = await rows.locator('[data-field="reward"]').allTextContents();
  t.same(rewards, ['—', '0', '1'], 'rewards as the API has them; the ungraded one has none');
  t.same(await rows.locator('[data-field="steps"]').allTextContents(), ['0', '2', String((await client.trajectory(a.episode_id)).steps.length)]);

  // Filters: the page asks the API, and shows what it answers.
  await panel.locator('#traj-task').selectOption('dep_search');
  await panel.locator('#traj-apply').click();
  await rows.nth(2).waitFor({ state: 'detached' });
  t.same(await shownIds(), await listed('?task=dep_search'), 'by task');
  await panel.locator('#traj-task').selectOption('');
  await panel.locator('#traj-min-reward').fill('0.5');
  await panel.locator('#traj-apply').click();
  await rows.nth(1).waitFor({ state: 'detached' });
  t.same(await shownIds(), [a.episode_id], 'by reward');
  t.same(await listed('?min_reward=0.5'), [a.episode_id]);
  await panel.locator('#traj-min-reward').fill('2');
  await panel.locator('#traj-apply').click();
  t.same(await shownIds(), [a.episode_id], 'a reward the form refuses is not sent: the list stays');
  const future = new Date(Date.now() + 3_600_000);
  const local = (d: Date) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
  await panel.locator('#traj-min-reward').fill('');
  await panel.locator('#traj-from').fill(local(future));
  await panel.locator('#traj-apply').click();
  await panel.locator('#traj-empty').waitFor();
  t.equal(await rows.count(), 0, 'by time: nothing ended in the future');
  await panel.locator('#traj-from').fill('');

  // The export: the download is the API's SFT JSONL for the same filters.
  await panel.locator('#traj-min-reward').fill('0');
  await panel.locator('#traj-apply').click();
  await rows.nth(1).waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), panel.locator('#traj-export').click()]);
  t.equal(download.suggestedFilename(), 'hgym-sft.jsonl');
  const exported = readFileSync((await download.path())!, 'utf8');
  t.equal(exported, await (await api('/v1/trajectories/export?min_reward=0')).text(), 'the download is the API export, byte for byte');
  t.same(exported.trim().split('\n').map((l) => (JSON.parse(l) as { episode_id: string }).episode_id), [a.episode_id, b.episode_id], 'graded episodes only, in the order they ended');

  // The replay: every step's action, observation and timing, then the grade, as the API has them.
  await panel.locator(`#traj-list tr[data-episode-id="${a.episode_id}"]`).click();
  const replay = panel.locator(`#traj-replay[data-episode-id="${a.episode_id}"]`);
  await replay.waitFor();
  const trajectory = (await (await api(`/v1/trajectories/${a.episode_id}`)).json()) as Trajectory;
  t.same(trajectory, await client.trajectory(a.episode_id), "the log's record is the episode's trajectory");
  const steps = replay.locator('section.step');
  t.equal(await steps.count(), trajectory.steps.length, 'every step is shown');
  for (const step of trajectory.steps) {
    const shown = replay.locator(`section.step[data-step="${step.index}"]`);
    t.same(JSON.parse((await shown.getAttribute('data-action'))!), step.action, `step ${step.index}: the action`);
    t.equal(await shown.locator('.step-observation').textContent(), step.observation, `step ${step.index}: the observation`);
    const tool = (step.action as { tool?: string }).tool ?? 'message';
    t.equal(await shown.locator('.step-tool').textContent(), tool, `step ${step.index}: the tool`);
    t.match(await shown.locator('.step-duration').textContent(), /^\d+(\.\d+)? m?s$/, `step ${step.index}: its duration`);
  }
  const command = trajectory.steps.find((st) => (st.action as { tool?: string }).tool === 'execute_bash')!;
  t.equal(
    await replay.locator(`section.step[data-step="${command.index}"] .step-command`).textContent(),
    `$ ${(command.action as { arguments: { command: string } }).arguments.command}`,
    'a shell step shows its command',
  );
  t.equal(await replay.locator('.step-message').textContent(), 'Looking around before I edit.', 'a plain message is shown as sent');
  t.equal(await replay.locator('.timeline .segment').count(), trajectory.steps.length, 'one segment per step on the timeline');
  t.equal(await replay.locator('#traj-reward').textContent(), String(trajectory.reward));
  t.equal(await replay.locator('.grade [data-field="reward"]').textContent(), String(trajectory.reward), 'the grade');
  t.equal(await replay.locator('.grade [data-field="rule"]').textContent(), String(trajectory.grade?.rule));
  t.same(await duplicateIds(page), {}, 'no id appears twice in the document');

  // Stepping through: the buttons, the keys, the timeline.
  t.equal(await replay.locator('#traj-position').textContent(), `step 1 of ${trajectory.steps.length}`);
  await replay.locator('#traj-next').click();
  await page.keyboard.press('ArrowRight');
  t.equal(await replay.locator('#traj-position').textContent(), `step 3 of ${trajectory.steps.length}`);
  t.equal(await replay.locator('section.step.current').getAttribute('data-step'), '2');
  await page.keyboard.press('End');
  t.equal(await replay.locator('section.step.current').getAttribute('data-step'), String(trajectory.steps.length - 1), 'End: the last step, finish');
  await replay.locator('.timeline .segment').nth(1).click();
  t.equal(await replay.locator('section.step.current').getAttribute('data-step'), '1', 'a timeline segment opens its step');

  await screenshot(page, 'trajectories');
  // The page's first call, made before it has the key, is refused (that is how it learns to ask
  // for one), and the browser logs every refused fetch: that one error is expected.
  t.same(s.pageErrors.filter((e) => !/status of 401/.test(e)), [], 'no other error in the page (a blocked script or style is one)');
  t.same(s.offLoopback, [], 'nothing fetched from off the machine');
});
