/** Episodes over one WebSocket (injectWS), with real sandboxes. */
import t from 'tap';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';
import { DockerSandboxPool } from '../../docker/pool.js';
import { build } from '../../server/app.js';
import type { FuncLocalizeInstance } from '../../schemas/tasks.js';
import { applyFuncLocalizeGoldThroughSteps } from '../helpers/api-gold.js';
import { frameClient } from './ws-frames.js';

const { corpus, instances, cacheDir } = await fixtureCorpus(t);
const pool = await DockerSandboxPool.start({ warm: 2, max: 6 });
const app = await build({ instanceId: 'ws-test', corpus, pool, cacheDir, wsGraceMs: 200 });
await app.ready();
t.teardown(async () => {
  await app.close();
  await pool.close();
});

const client = () => frameClient(app);

t.test('two episodes on one socket; output streams before the step result', async (t) => {
  const c = await client();
  c.send({ type: 'reset', id: 'r1', task: 'dep_search', seed: 1 });
  c.send({ type: 'reset', id: 'r2', task: 'func_localize', seed: 2 });
  const r1 = await c.until((f) => f.id === 'r1');
  const r2 = await c.until((f) => f.id === 'r2');
  t.same([r1.type, r2.type], ['reset_result', 'reset_result']);
  t.not(r1.episode_id, r2.episode_id);
  c.send({ type: 'step', id: 's1', episode_id: r1.episode_id, action: { tool: 'execute_bash', arguments: { command: 'echo first; sleep 0.5; echo second' } } });
  c.send({ type: 'step', id: 's2', episode_id: r2.episode_id, action: { tool: 'think', arguments: { thought: 'meanwhile' } } });
  const result = await c.until((f) => f.type === 'step_result' && f.id === 's1');
  const s1 = c.frames.filter((f) => f.id === 's1');
  const outputs = s1.filter((f) => f.type === 'output');
  t.ok(outputs.length >= 2, 'the output came in chunks');
  t.equal(outputs[0]!.data, 'first\n');
  t.ok(s1.indexOf(outputs[0]!) < s1.indexOf(result), 'output before the result');
  t.match((result.observation as { text: string }).text, /first\nsecond/);
  t.equal((await c.until((f) => f.id === 's2')).type, 'step_result');
  c.send({ type: 'step', id: 'f1', episode_id: r1.episode_id, action: { tool: 'finish', arguments: {} } });
  const finished = await c.until((f) => f.id === 'f1');
  t.same([finished.terminated, finished.reward], [true, 0]);
  c.send({ type: 'step', id: 'late', episode_id: r1.episode_id, action: { message: 'x' } });
  t.same((await c.until((f) => f.id === 'late')).code, 'HGYM_ERR_EPISODE_ENDED');
  c.send({ type: 'close', id: 'c2', episode_id: r2.episode_id });
  t.same((await c.until((f) => f.id === 'c2')).closed, true);
  c.ws.terminate();
});

t.test('ping, and coded errors for bad frames', async (t) => {
  const c = await client();
  c.send({ type: 'ping', id: 1 });
  t.equal((await c.until((f) => f.id === 1)).type, 'pong');
  c.send('{nope');
  t.equal((await c.until((f) => f.type === 'error' && f.id === null)).code, 'HGYM_ERR_BAD_REQUEST');
  c.send({ type: 'step', id: 'bad', episode_id: 'x' });
  t.equal((await c.until((f) => f.id === 'bad')).code, 'HGYM_ERR_BAD_REQUEST');
  c.send({ type: 'launch', id: 'what' });
  t.equal((await c.until((f) => f.id === 'what')).code, 'HGYM_ERR_BAD_REQUEST');
  c.send({ type: 'step', id: 'gone', episode_id: 'no-such-episode', action: { message: 'hi' } });
  t.equal((await c.until((f) => f.id === 'gone')).code, 'HGYM_ERR_NOT_FOUND');
  c.ws.terminate();
});

t.test('a dropped socket closes its episodes after the grace period', async (t) => {
  const c = await client();
  c.send({ type: 'reset', id: 'r', task: 'dep_search' });
  const reset = await c.until((f) => f.id === 'r');
  c.ws.terminate();
  const id = String(reset.episode_id);
  let status = '';
  for (let i = 0; i < 100 && status !== 'closed'; i++) {
    status = (await app.inject(`/v1/episodes/${id}`)).json().status;
    if (status !== 'closed') await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(status, 'closed');
});

t.test('func_localize over WebSocket: gold through steps scores 1', async (t) => {
  const instance = instances.find((i): i is FuncLocalizeInstance => i.task === 'func_localize')!;
  const c = await client();
  c.send({ type: 'reset', id: 'r', instance_id: instance.instance_id });
  const episode_id = (await c.until((f) => f.id === 'r')).episode_id;
  let n = 0;
  const step = async (action: unknown): Promise<string> => {
    const id = `s${n++}`;
    c.send({ type: 'step', id, episode_id, action });
    const frame = await c.until((f) => f.id === id && f.type !== 'output');
    if (frame.type !== 'step_result') throw new Error(JSON.stringify(frame));
    return (frame.observation as { text: string }).text;
  };
  await applyFuncLocalizeGoldThroughSteps(instance, '/workspace/shapes', step);
  c.send({ type: 'step', id: 'fin', episode_id, action: { tool: 'finish', arguments: {} } });
  const done = await c.until((f) => f.id === 'fin');
  t.same([done.reward, done.terminated], [1, true], JSON.stringify(done.info));
  c.ws.terminate();
});
