/**
 * One episode path: an episode over WebSocket moves the same metrics (episodes, resets, steps by
 * tool, rewards, errors by code) and writes the same log lines as the same episode over REST,
 * read from GET /metrics and the server's log; GET /v1/metrics, the same registry as JSON. Real
 * sandboxes.
 */
import { Writable } from 'node:stream';
import t from 'tap';
import { DockerSandboxPool } from '../../docker/pool.js';
import { build } from '../../server/app.js';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';
import { frameClient } from './ws-frames.js';
import { parsePrometheus, seriesKey } from '../helpers/prometheus.js';
import type { MetricsAnswer } from '../../schemas/metrics.js';

const SERIES = /^(hgym_episodes_total|hgym_reset_seconds_count|hgym_step_seconds_count|hgym_episode_reward_count|hgym_episode_reward_sum|hgym_errors_total)(\{[^}]*\})? (\S+)$/;

/** The episode and error series of a /metrics text, by name and labels. */
function series(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = SERIES.exec(line);
    if (m) out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of after) if (value !== (before.get(key) ?? 0)) out[key] = Math.round((value - (before.get(key) ?? 0)) * 1e6) / 1e6;
  return out;
}

const { corpus, cacheDir } = await fixtureCorpus(t);
const pool = await DockerSandboxPool.start({ warm: 2, max: 4 });
const lines: Record<string, unknown>[] = [];
const stream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
const app = await build({ instanceId: 'metrics-test', corpus, pool, cacheDir, logger: { level: 'info', stream } });
await app.ready();
t.teardown(async () => {
  await app.close();
  await pool.close();
});

const scrape = async () => series((await app.inject('/metrics')).body);
const bash = { tool: 'execute_bash', arguments: { command: 'echo hi' } };
const think = { tool: 'think', arguments: { thought: 'and now finish' } };
const finish = { tool: 'finish', arguments: {} };
/** The log lines about one episode, by message. */
const logged = (episodeId: unknown) => lines.filter((l) => l.episode_id === episodeId).map((l) => l.msg);

async function restEpisode(): Promise<unknown> {
  const reset = await app.inject({ method: 'POST', url: '/v1/episodes', payload: { task: 'dep_search', seed: 5 } });
  const id = reset.json().episode_id;
  for (const action of [bash, think, finish]) await app.inject({ method: 'POST', url: `/v1/episodes/${id}/step`, payload: { action } });
  await app.inject({ method: 'POST', url: '/v1/episodes/no-such-episode/step', payload: { action: think } });
  await app.inject({ method: 'DELETE', url: `/v1/episodes/${id}` });
  return id;
}

async function wsEpisode(): Promise<unknown> {
  const c = await frameClient(app);
  c.send({ type: 'reset', id: 'r', task: 'dep_search', seed: 5 });
  const id = (await c.until((f) => f.id === 'r')).episode_id;
  for (const [n, action] of [bash, think, finish].entries()) {
    c.send({ type: 'step', id: n, episode_id: id, action });
    await c.until((f) => f.id === n && f.type !== 'output');
  }
  c.send({ type: 'step', id: 'x', episode_id: 'no-such-episode', action: think });
  await c.until((f) => f.id === 'x');
  c.send({ type: 'close', id: 'c', episode_id: id });
  await c.until((f) => f.id === 'c');
  c.ws.terminate();
  return id;
}

t.test('a WebSocket episode moves the same counters as the same episode over REST', async (t) => {
  const start = await scrape();
  const restId = await restEpisode();
  const afterRest = await scrape();
  const wsId = await wsEpisode();
  const afterWs = await scrape();
  const rest = delta(start, afterRest);
  const ws = delta(afterRest, afterWs);
  t.same(rest, {
    'hgym_episodes_total{task="dep_search"}': 1,
    'hgym_reset_seconds_count{task="dep_search"}': 1,
    'hgym_step_seconds_count{tool="execute_bash"}': 1,
    'hgym_step_seconds_count{tool="think"}': 1,
    'hgym_step_seconds_count{tool="finish"}': 1,
    'hgym_episode_reward_count{task="dep_search"}': 1,
    'hgym_errors_total{code="HGYM_ERR_NOT_FOUND"}': 1,
  }, 'REST: one episode, three steps, one graded reward (0), one error');
  t.same(ws, rest, 'WebSocket: the same');
  t.same(logged(wsId), logged(restId), 'and the same log lines about the episode');
  t.same(logged(restId), ['episode started', 'episode ended']);
});

t.test('GET /v1/metrics is the same registry as GET /metrics, as JSON', async (t) => {
  await restEpisode();
  const text = parsePrometheus((await app.inject('/metrics')).body);
  const json = (await app.inject('/v1/metrics')).json() as MetricsAnswer;
  // The process's own metrics (CPU, memory) move between the two scrapes; the server's do not.
  const steady = (name: string) => name.startsWith('hgym_') && !name.startsWith('hgym_process_');
  const fromText = new Map(text.filter((s) => steady(s.name)).map((s) => [seriesKey(s.name, s.labels), s.value]));
  const fromJson = new Map(json.metrics.flatMap((m) => m.samples).filter((s) => steady(s.name)).map((s) => [seriesKey(s.name, s.labels), s.value]));
  t.ok(fromText.size > 20, `${fromText.size} series`);
  t.same(fromJson, fromText, 'every series, with its value');
  t.ok(fromJson.get('hgym_step_seconds_count{tool="finish"}')! >= 1, 'steps are counted');
  t.same(json.metrics.filter((m) => m.samples.length > 0).map((m) => m.name).sort(), [...new Set(text.map((s) => s.name.replace(/_(bucket|sum|count)$/, '')))].sort(), 'the same metrics (those with samples: a gauge of no episode running has none)');
  t.match(json.metrics.find((m) => m.name === 'hgym_episode_reward'), { type: 'histogram', help: 'Rewards of graded episodes, by task' });
});
