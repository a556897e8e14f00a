/**
 * Episodes over REST through app.inject, with real sandboxes: a whole episode per family,
 * the Gymnasium verbs, determinism, refusals with their codes, malformed bodies.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { DockerSandboxPool } from '../../docker/pool.js';
import { build } from '../../server/app.js';
import type { DepSearchInstance, FuncLocalizeInstance } from '../../schemas/tasks.js';
import { applyFuncLocalizeGoldThroughSteps } from '../helpers/api-gold.js';
import { docker } from '../helpers/docker.js';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';

const { corpus, instances, dir, cacheDir } = await fixtureCorpus(t);
const pool = await DockerSandboxPool.start({ warm: 2, max: 6 });
const app = await build({ instanceId: 'episodes-test', corpus, pool, maxEpisodes: 3, cacheDir });
t.teardown(async () => {
  await app.close();
  await pool.close();
});

const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object });

t.test('dep_search over REST: gold comments through steps, finish scores 1, then 409', async (t) => {
  const instance = instances.find((i): i is DepSearchInstance => i.task === 'dep_search')!;
  const reset = await post('/v1/episodes', { instance_id: instance.instance_id });
  t.equal(reset.statusCode, 201, reset.body);
  const { episode_id, observation, info } = reset.json();
  t.equal(observation.text, instance.instruction);
  t.same([info.task, info.instance_id, info.workspace], ['dep_search', instance.instance_id, '/workspace/shapes']);
  const deps = [...instance.gold.dependencies].sort((a, b) => (a.file === b.file ? b.start - a.start : a.file < b.file ? -1 : 1));
  for (const d of deps) {
    const view = await post(`/v1/episodes/${episode_id}/step`, { action: { tool: 'str_replace_editor', arguments: { command: 'view', path: `/workspace/shapes/${d.file}`, view_range: [d.start, d.start] } } });
    const indent = /\t(\s*)/.exec(view.json().observation.text.split('\n')[1])![1];
    const step = await post(`/v1/episodes/${episode_id}/step`, {
      action: { tool: 'str_replace_editor', arguments: { command: 'insert', path: `/workspace/shapes/${d.file}`, insert_line: d.start - 1, new_str: `${indent}${instance.gold.comment}` } },
    });
    t.equal(step.statusCode, 200);
    t.same([step.json().reward, step.json().terminated], [0, false]);
  }
  const done = await post(`/v1/episodes/${episode_id}/step`, { action: { tool: 'finish', arguments: {} } });
  t.same([done.json().reward, done.json().terminated, done.json().truncated], [1, true, false], done.body);
  const late = await post(`/v1/episodes/${episode_id}/step`, { action: { tool: 'think', arguments: { thought: 'x' } } });
  t.equal(late.statusCode, 409);
  t.equal(late.json().code, 'HGYM_ERR_EPISODE_ENDED');
  const state = await app.inject(`/v1/episodes/${episode_id}`);
  t.same([state.json().status, state.json().reward], ['terminated', 1]);
  const trajectory = (await app.inject(`/v1/episodes/${episode_id}/trajectory`)).json();
  t.equal(trajectory.steps.length, deps.length * 2 + 1);
  t.same([trajectory.reward, trajectory.grade.rule, trajectory.steps.at(-1).action.tool], [1, 'graded', 'finish']);
  const file = join(dir, 'trajectories', 'trajectories.jsonl');
  const persisted = async () => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  for (let i = 0; i < 100 && !(await persisted()).includes(episode_id); i++) await new Promise((r) => setTimeout(r, 20));
  t.match(await persisted(), episode_id, 'the ended episode is recorded on disk');
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/episodes/${episode_id}` })).statusCode, 200);
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/episodes/${episode_id}` })).statusCode, 200, 'close is idempotent');
});

t.test('Gymnasium verbs: reset, step, close; a seed picks the same instance every time', async (t) => {
  const a = await post('/v1/reset', { task: 'func_localize', seed: 42, options: { max_steps: 1 } });
  const b = await post('/v1/reset', { task: 'func_localize', seed: 42 });
  t.equal(a.statusCode, 201);
  t.equal(a.json().info.instance_id, b.json().info.instance_id);
  t.equal(a.json().info.max_steps, 1);
  const step = await post('/v1/step', { episode_id: a.json().episode_id, action: { message: 'hello' } });
  t.same([step.json().truncated, step.json().reward], [true, 0], 'max_steps 1: truncated at the first step, and graded');
  for (const r of [a, b]) t.equal((await post('/v1/close', { episode_id: r.json().episode_id })).statusCode, 200);
});

t.test('refusals carry their codes', async (t) => {
  const cases: [string, unknown, number, string][] = [
    ['/v1/episodes', { instance_id: 'nope' }, 404, 'HGYM_ERR_NOT_FOUND'],
    ['/v1/episodes', { task: 'nope' }, 404, 'HGYM_ERR_NOT_FOUND'],
    ['/v1/episodes/unknown/step', { action: { tool: 'think', arguments: { thought: 'x' } } }, 404, 'HGYM_ERR_NOT_FOUND'],
    ['/v1/step', { episode_id: 'unknown', action: { message: 'x' } }, 404, 'HGYM_ERR_NOT_FOUND'],
  ];
  for (const [url, body, status, code] of cases) {
    const res = await post(url, body);
    t.equal(res.statusCode, status, `${url} ${JSON.stringify(body)}`);
    t.equal(res.json().code, code);
  }
});

t.test('malformed bodies of many kinds get a coded 400, never a 5xx', async (t) => {
  const deep = `{"task":${'['.repeat(5000)}${']'.repeat(5000)}}`;
  const bodies: [string, string | object][] = [
    ['/v1/episodes', '{not json'],
    ['/v1/episodes', '[]'],
    ['/v1/episodes', { seed: 'one' }],
    ['/v1/episodes', { seed: -1 }],
    ['/v1/episodes', { task: 5 }],
    ['/v1/episodes', { unknown: true }],
    ['/v1/episodes', { options: { max_steps: 0 } }],
    ['/v1/episodes', { instance_id: 'x'.repeat(10_000) }],
    ['/v1/episodes', deep],
    ['/v1/step', {}],
    ['/v1/step', { episode_id: 'x' }],
    ['/v1/step', { episode_id: 'x', action: 'ls' }],
    ['/v1/step', { episode_id: 'x', action: { tool: 'think', extra: 1 } }],
    ['/v1/close', { episode_id: 7 }],
    ['/v1/episodes/x/step', { action: null }],
  ];
  for (const [url, body] of bodies) {
    const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: typeof body === 'string' ? body : JSON.stringify(body) });
    t.equal(res.statusCode, 400, `${url} ${String(typeof body === 'string' ? body : JSON.stringify(body)).slice(0, 60)}`);
    t.equal(res.json().code, 'HGYM_ERR_BAD_REQUEST');
  }
  const huge = await app.inject({ method: 'POST', url: '/v1/episodes', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ task: 'x'.repeat(2 * 1024 * 1024) }) });
  t.equal(huge.statusCode, 400, 'a body over the limit');
  t.equal(huge.json().code, 'HGYM_ERR_BAD_REQUEST');
});

t.test('beyond the episode limit reset answers 503 with Retry-After', async (t) => {
  const open = [];
  for (let i = 0; i < 3; i++) open.push((await post('/v1/episodes', { task: 'dep_search' })).json().episode_id);
  const refused = await post('/v1/episodes', { task: 'dep_search' });
  t.equal(refused.statusCode, 503);
  t.equal(refused.json().code, 'HGYM_ERR_CAPACITY');
  t.ok(refused.headers['retry-after']);
  for (const id of open) await app.inject({ method: 'DELETE', url: `/v1/episodes/${id}` });
  t.equal((await post('/v1/episodes', { task: 'dep_search' })).statusCode, 201, 'room again once closed');
});

t.test('/metrics counts episodes, latencies, rewards, pool sandboxes and errors by code', async (t) => {
  const text = (await app.inject('/metrics')).body;
  t.match(text, /hgym_episodes_total\{task="dep_search"\} [1-9]/);
  t.match(text, /hgym_step_seconds_count\{tool="str_replace_editor"\} [1-9]/);
  t.match(text, /hgym_reset_seconds_count\{task="dep_search"\} [1-9]/);
  // This pool's sandboxes hold no repository base: every workspace was sent whole.
  t.match(text, /hgym_workspaces_total\{from="archive"\} [1-9]/);
  t.notMatch(text, /hgym_workspaces_total\{from="base"\}/);
  t.match(text, /hgym_episode_reward_count\{task="dep_search"\} [1-9]/);
  t.match(text, /hgym_pool_sandboxes\{state="warm"\} \d/);
  t.match(text, /hgym_errors_total\{code="HGYM_ERR_BAD_REQUEST"\} [1-9]/);
  t.match(text, /hgym_errors_total\{code="HGYM_ERR_EPISODE_ENDED"\} [1-9]/);
});

t.test('func_localize over REST: every generated variant, gold through steps, scores 1', async (t) => {
  const byVariant = new Map<string, FuncLocalizeInstance>();
  for (const i of instances) if (i.task === 'func_localize' && !byVariant.has(i.variant)) byVariant.set(i.variant, i);
  t.ok(byVariant.size >= 2, `variants: ${[...byVariant.keys()].join(', ')}`);
  for (const instance of byVariant.values()) {
    const { episode_id } = (await post('/v1/episodes', { instance_id: instance.instance_id })).json();
    const step = async (action: unknown): Promise<string> => {
      const res = await post(`/v1/episodes/${episode_id}/step`, { action });
      if (res.statusCode !== 200) throw new Error(res.body);
      return res.json().observation.text;
    };
    await applyFuncLocalizeGoldThroughSteps(instance, '/workspace/shapes', step);
    const done = (await post(`/v1/episodes/${episode_id}/step`, { action: { tool: 'finish', arguments: {} } })).json();
    t.same([done.reward, done.terminated], [1, true], `${instance.variant}: ${JSON.stringify(done.info)}`);
  }
});

t.test('a sandbox killed mid-episode is a coded 502, never a reward', async (t) => {
  const reset = (await post('/v1/episodes', { task: 'dep_search' })).json();
  const before = new Set((await docker.listContainers({ filters: { label: ['hgym.owner'] } })).map((c) => c.Id));
  const ran = await post(`/v1/episodes/${reset.episode_id}/step`, { action: { tool: 'execute_bash', arguments: { command: 'hostname' } } });
  // A container's host name is its short id.
  const hostname = ran.json().observation.text.split('\n')[0];
  const mine = [...before].find((id) => id.startsWith(hostname));
  t.ok(mine, 'found the episode\'s container');
  await docker.getContainer(mine!).kill();
  const step = await post(`/v1/episodes/${reset.episode_id}/step`, { action: { tool: 'finish', arguments: {} } });
  t.equal(step.statusCode, 502);
  t.equal(step.json().code, 'HGYM_ERR_SANDBOX_LOST');
  t.notOk('reward' in step.json());
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/episodes/${reset.episode_id}` })).statusCode, 200);
});
