/**
 * The console's Dashboard in a real browser (server/ui/dashboard.js): its counts (episodes
 * running per family, the pool by state, sandbox events, totals, rewards per family and bucket)
 * are the counts of a /metrics scrape taken right after the page's own sample; latency is
 * plotted once steps are timed; sampling is at most one request every 2 s and stops while the
 * tab is hidden. With an API key. Writes docs/screenshots/dashboard.png.
 */
import t from 'tap';
import type { Locator } from 'playwright-core';
import type { FuncLocalizeInstance } from '../../schemas/tasks.js';
import { applyFuncLocalizeGoldThroughSteps } from '../helpers/api-gold.js';
import { enterKey, screenshot, startConsole } from '../helpers/browser.js';
import { parsePrometheus, type Sample } from '../helpers/prometheus.js';

const KEY = 'dashboard-console-key';

/** A metric's samples summed by one label's value. */
function byLabel(samples: readonly Sample[], name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) if (s.name === name && s.labels[label] !== undefined) out.set(s.labels[label]!, (out.get(s.labels[label]!) ?? 0) + s.value);
  return out;
}

const sum = (samples: readonly Sample[], name: string) => samples.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);

/** A count table of the page: its rows' keys and values. */
async function table(section: Locator): Promise<Record<string, number>> {
  return section.locator('tr[data-key]').evaluateAll((rows) =>
    Object.fromEntries(rows.map((row) => [row.getAttribute('data-key'), Number(row.querySelector('.value')?.textContent)])),
  );
}

t.test('the dashboard shows what /metrics says, samples gently, and stops when hidden', async (t) => {
  const s = await startConsole(t, { apiKey: KEY, pool: { warm: 2, max: 6 } });
  const { client, page } = s;
  const metrics = async () => {
    const res = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } });
    t.equal(res.status, 200, '/metrics with the key');
    return parsePrometheus(await res.text());
  };

  // Graded episodes of two families (rewards 1, 0, 0), and one of each left running.
  const gold = s.instances.find((i): i is FuncLocalizeInstance => i.task === 'func_localize')!;
  const a = await client.reset({ instance_id: gold.instance_id });
  await applyFuncLocalizeGoldThroughSteps(gold, a.info.workspace, async (action) => (await client.step(a.episode_id, action)).observation.text);
  t.equal((await client.step(a.episode_id, { tool: 'finish', arguments: {} })).reward, 1);
  for (const seed of [1, 2]) {
    const { episode_id } = await client.reset({ task: 'dep_search', seed });
    t.equal((await client.step(episode_id, { tool: 'finish', arguments: {} })).reward, 0);
  }
  const running = [await client.reset({ task: 'dep_search', seed: 4 }), await client.reset({ task: 'func_localize', seed: 5 })];

  const requests: number[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/v1/metrics') requests.push(Date.now());
  });
  await page.goto(`${s.consoleUrl}#dashboard`);
  await enterKey(page, KEY);
  const panel = page.locator('#panel-dashboard');
  await panel.locator('#dash-active').waitFor();

  // The pool settles (refilled to its target, nothing starting); then one sample of the page is
  // compared with a scrape taken right after it.
  for (let i = 0; i < 240; i++) {
    const pool = byLabel(await metrics(), 'hgym_pool_sandboxes', 'state');
    if (pool.get('starting') === 0 && pool.get('warm') === 2) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const sampledAt = () => panel.locator('.dashboard').getAttribute('data-sampled-at');
  let compared = false;
  for (let attempt = 0; attempt < 5 && !compared; attempt++) {
    const before = await sampledAt();
    await panel.locator(`.dashboard:not([data-sampled-at="${before}"])`).waitFor({ timeout: 10_000 });
    const scrape = await metrics();
    const shown = {
      active: await table(panel.locator('#dash-active')),
      pool: await table(panel.locator('#dash-pool')),
      events: await table(panel.locator('#dash-pool-events')),
      totals: await table(panel.locator('#dash-totals')),
    };
    const families = Object.keys((await client.tasks()).families);
    const active = byLabel(scrape, 'hgym_episodes_active', 'task');
    const pool = byLabel(scrape, 'hgym_pool_sandboxes', 'state');
    const events = byLabel(scrape, 'hgym_pool_events', 'event');
    const expected = {
      active: Object.fromEntries(families.map((f) => [f, active.get(f) ?? 0])),
      pool: { warm: pool.get('warm'), starting: pool.get('starting'), leased: pool.get('leased') },
      events: { created: events.get('created'), lost: events.get('lost'), failed: events.get('failed') },
      totals: {
        episodes: sum(scrape, 'hgym_episodes_total'),
        resets: sum(scrape, 'hgym_reset_seconds_count'),
        steps: sum(scrape, 'hgym_step_seconds_count'),
        errors: sum(scrape, 'hgym_errors_total'),
      },
    };
    // A sandbox that finished starting between the page's sample and the scrape: sample again.
    if (JSON.stringify(shown) !== JSON.stringify(expected)) continue;
    compared = true;
    t.same(shown, expected, 'running episodes per family, the pool by state, its events and the totals: as /metrics has them');
    t.same(shown.active, Object.fromEntries(families.map((f) => [f, f === 'dep_search' || f === 'func_localize' ? 1 : 0])), 'one running episode of each family that has one');
    t.match(shown.pool, { leased: 2 }, 'the running episodes hold their sandboxes');

    const rewardBuckets = scrape.filter((x) => x.name === 'hgym_episode_reward_bucket');
    for (const family of ['dep_search', 'func_localize']) {
      const cumulative = rewardBuckets.filter((x) => x.labels.task === family && x.labels.le !== '+Inf').sort((p, q) => Number(p.labels.le) - Number(q.labels.le));
      const perBucket = Object.fromEntries(cumulative.map((x, i) => [x.labels.le, x.value - (i === 0 ? 0 : cumulative[i - 1]!.value)]));
      const bars = await panel.locator(`#dash-rewards figure[data-family="${family}"] .bar`).evaluateAll((els) =>
        Object.fromEntries(els.map((el) => [el.getAttribute('data-le'), Number(el.querySelector('.value')?.textContent)])),
      );
      t.same(bars, perBucket, `${family}: rewards per bucket as /metrics counts them`);
    }
    t.equal(await panel.locator('#dash-rewards figure[data-family="func_localize"] .bar[data-le="1"] .value').textContent(), '1', 'the gold episode scored 1');
    t.equal(await panel.locator('#dash-rewards figure[data-family="dep_search"] .bar[data-le="0"] .value').textContent(), '2', 'the two dep_search episodes scored 0');
  }
  t.ok(compared, 'the page and a scrape agreed within 5 samples');
  t.equal(await panel.locator('#dash-engines').count(), 0, 'one engine: no per-engine table');

  // Steps while the page watches: the step latency chart plots them.
  for (let i = 0; i < 20; i++) await client.step(running[0]!.episode_id, { tool: 'execute_bash', arguments: { command: 'echo plotted' } });
  await panel.locator('#dash-step-chart[data-points]:not([data-points="0"])').waitFor({ timeout: 15_000 });
  const p50 = Number(await panel.locator('#dash-step-chart').getAttribute('data-last-p50'));
  t.ok(p50 > 0 && p50 < 10_000, `the latest step p50 is plotted (${p50} ms)`);
  t.equal(await panel.locator('#dash-step-chart canvas').count(), 1, 'drawn by uPlot on a canvas');

  // At most one request every 2 s while shown; none while the tab is hidden; back when shown.
  const shownFrom = Date.now();
  await new Promise((r) => setTimeout(r, 7_000));
  const whileShown = requests.filter((at) => at >= shownFrom);
  t.ok(whileShown.length >= 2 && whileShown.length <= 4, `${whileShown.length} requests in 7 s`);
  const gaps = whileShown.slice(1).map((at, i) => at - whileShown[i]!);
  t.ok(gaps.every((gap) => gap >= 1_900), `at least 2 s apart (${gaps.join(', ')} ms)`);
  await screenshot(page, 'dashboard');
  const lastShown = await sampledAt();
  await page.locator('#tab-trajectories').click();
  const hiddenFrom = Date.now();
  await new Promise((r) => setTimeout(r, 5_000));
  t.same(requests.filter((at) => at >= hiddenFrom), [], 'no request while the tab is hidden');
  const back = Date.now();
  await page.locator('#tab-dashboard').click();
  await panel.locator(`.dashboard:not([data-sampled-at="${lastShown}"])`).waitFor({ timeout: 5_000 });
  t.ok(requests.some((at) => at >= back), 'sampling resumes when the tab is shown again');

  for (const r of running) await client.close(r.episode_id);
  // The page's first call, made before it has the key, is refused (that is how it learns to ask
  // for one), and the browser logs every refused fetch: that one error is expected.
  t.same(s.pageErrors.filter((e) => !/status of 401/.test(e)), [], 'no other error in the page (a blocked script or style is one)');
  t.same(s.offLoopback, [], 'nothing fetched from off the machine');
});
