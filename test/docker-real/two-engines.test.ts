/**
 * One server over two Docker engines on this machine: the local engine and a second dockerd of
 * its own (test/helpers/second-engine.ts). Sandboxes spread over both; when the second is killed
 * mid-run its episodes end with HGYM_ERR_SANDBOX_LOST while the first engine's carry on, the pool
 * refills on the survivor, the killed engine rejoins after a restart, and nothing is left on
 * either engine at the end.
 */
import t from 'tap';
import { DockerEngine } from '../../docker/engine.js';
import { DockerSandboxPool } from '../../docker/pool.js';
import type { EngineStats } from '../../env/sandbox.js';
import { build } from '../../server/app.js';
import { docker, eventually } from '../helpers/docker.js';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';
import { startSecondEngine } from '../helpers/second-engine.js';
import { LABEL_OWNER } from '../../docker/owner.js';

const second = await startSecondEngine();
t.teardown(() => second.stop());
const first = new DockerEngine('local', docker);
const other = new DockerEngine(second.host);

const { corpus, instances, cacheDir } = await fixtureCorpus(t);
const pool = await DockerSandboxPool.start({ engines: [first, other], warm: 2, max: 6, probeMs: 250, probeTimeoutMs: 1_000 });
const app = await build({ instanceId: pool.owner.id, corpus, pool, maxEpisodes: 12, cacheDir });
t.teardown(async () => {
  await app.close();
  await pool.close();
});

const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object });
const engineOf = (name: string): EngineStats => pool.stats().engines![name]!;

async function ownedOn(engine: DockerEngine): Promise<string[]> {
  return (await engine.list(LABEL_OWNER)).filter((c) => c.labels[LABEL_OWNER] === pool.owner.id).map((c) => c.id);
}

/** Resets an episode and says which engine its sandbox is on: the one whose leased count rose. */
async function reset(): Promise<{ id: string; engine: 'local' | 'second' }> {
  const before = engineOf('local').leased;
  const answer = await post('/v1/episodes', { instance_id: instances[0]!.instance_id });
  if (answer.statusCode !== 201) throw new Error(answer.body);
  return { id: answer.json().episode_id as string, engine: engineOf('local').leased > before ? 'local' : 'second' };
}

async function resets(n: number): Promise<{ id: string; engine: 'local' | 'second' }[]> {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await reset());
  return out;
}

const close = (id: string) => app.inject({ method: 'DELETE', url: `/v1/episodes/${id}` });

function step(id: string) {
  return post(`/v1/episodes/${id}/step`, { action: { tool: 'execute_bash', arguments: { command: 'echo alive' } } });
}

t.test('warm sandboxes are kept on each engine, and episodes spread over both', async (t) => {
  await pool.waitWarm(4, 120_000);
  t.same([engineOf('local').warm, engineOf(second.host).warm], [2, 2], 'each engine keeps its own warm sandboxes');
  const episodes = await resets(4);
  const on = (engine: string) => episodes.filter((e) => e.engine === engine).length;
  t.ok(on('local') >= 1 && on('second') >= 1, `both engines run episodes (${on('local')} local, ${on('second')} second)`);
  for (const e of episodes) t.equal((await step(e.id)).statusCode, 200);
  for (const e of episodes) await close(e.id);
});

t.test('a killed engine: its episodes end with SANDBOX_LOST, the others carry on, the survivor refills, and it rejoins after a restart', async (t) => {
  await pool.waitWarm(4, 120_000);
  const episodes = await resets(4);
  const lost = episodes.filter((e) => e.engine === 'second');
  const kept = episodes.filter((e) => e.engine === 'local');
  t.ok(lost.length >= 1 && kept.length >= 1, `episodes on both engines (${kept.length} local, ${lost.length} second)`);

  await second.kill();
  for (const e of lost) {
    const answer = await step(e.id);
    t.equal(answer.statusCode, 502, 'a step on the killed engine is an error, not a reward');
    t.equal(answer.json().code, 'HGYM_ERR_SANDBOX_LOST');
  }
  for (const e of kept) {
    const answer = await step(e.id);
    t.equal(answer.statusCode, 200, "the other engine's episodes are unaffected");
    t.match(answer.json().observation.text, /alive/);
  }
  t.ok(await eventually(() => !engineOf(second.host).up, 10_000), 'the killed engine is marked down');

  const after = await resets(2);
  t.same(after.map((e) => e.engine), ['local', 'local'], 'new resets go to the engine that answers');
  t.ok(await eventually(() => engineOf('local').warm === 2, 60_000), 'the survivor refills its warm sandboxes');
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 200, 'one engine down does not make the server unready');
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, new RegExp(`hgym_pool_engine_up\\{engine="${second.host.replace(/[/.]/g, '\\$&')}"\\} 0`));

  await second.restart();
  t.ok(await eventually(() => engineOf(second.host).up, 30_000), 'the restarted engine rejoins');
  t.ok(await eventually(() => engineOf(second.host).warm === 2, 60_000), 'and gets its warm sandboxes again');
  for (const e of [...episodes, ...after]) await close(e.id);
});

t.test('nothing is left on either engine once the pool closes', async (t) => {
  await app.close();
  await pool.close();
  t.same(await ownedOn(first), [], 'the local engine');
  t.ok(await eventually(async () => (await ownedOn(other)).length === 0, 30_000), 'the second engine');
});
