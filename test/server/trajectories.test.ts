/**
 * Ended episodes from the trajectory log (server/routes/trajectories.ts): the listing and its
 * filters, pages and refusals; one record by id after the server forgot the episode; the SFT
 * export, byte for byte what `hgym export` writes; a large log read without stalling the server.
 * A log written by hand for most, real sandboxes for episodes that really ran.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import t, { type Test } from 'tap';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { exportSftFile } from '../../bin/export.js';
import { DockerSandboxPool } from '../../docker/pool.js';
import { loadCorpus } from '../../env/corpus/load.js';
import { TrajectoryLog } from '../../env/trajectory-log.js';
import type { Trajectory } from '../../env/trajectory.js';
import { build } from '../../server/app.js';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';

/** An ended episode `minute` minutes into 2026, of `steps` steps. */
function trajectory(id: string, task: string, reward: number | null, minute: number, steps = 2): Trajectory {
  const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, minute, second)).toISOString();
  return {
    episode_id: id,
    task,
    instance_id: `${task}.shapes.${id}`,
    instruction: `Do the thing ${id}.`,
    status: reward === null ? 'closed' : 'terminated',
    steps: Array.from({ length: steps }, (_, index) => ({
      index,
      action: index === steps - 1 ? { tool: 'finish', arguments: {} } : { tool: 'execute_bash', arguments: { command: `echo ${index}` }, content: 'Looking.' },
      observation: `${index}\n[exit code 0]`,
      invalid: false,
      started_at: at(index + 1),
      duration_ms: 3,
    })),
    reward,
    grade: reward === null ? null : { rule: 'graded', f1: reward },
    created_at: at(0),
    ended_at: at(30),
  };
}

/** Ten episodes, oldest first: rewards 0, 0.25, ... of two families, and two closed ungraded ones. */
const LOGGED: Trajectory[] = [
  trajectory('a0', 'dep_search', 0, 0),
  trajectory('a1', 'func_localize', 0.25, 1),
  trajectory('a2', 'dep_search', 0.5, 2),
  trajectory('a3', 'func_localize', null, 3),
  trajectory('a4', 'dep_search', 0.75, 4),
  trajectory('a5', 'func_localize', 1, 5),
  trajectory('a6', 'dep_search', 1, 6),
  trajectory('a7', 'dep_search', null, 7),
  trajectory('a8', 'func_localize', 0.5, 8),
  trajectory('a9', 'dep_search', 0.25, 9),
];

async function logOf(file: string, trajectories: readonly Trajectory[]): Promise<void> {
  const log = TrajectoryLog.open(file);
  for (const tr of trajectories) await log.append(tr);
  await log.close();
}

/** A server without a pool on a log of `trajectories`, behind a key. */
async function server(t: Test, trajectories: readonly Trajectory[] | null = LOGGED): Promise<{ app: FastifyInstance; file: string; get: (url: string) => Promise<LightMyRequestResponse> }> {
  const dir = t.testdir({});
  const file = join(dir, 'trajectories.jsonl');
  if (trajectories) await logOf(file, trajectories);
  const app = await build({ instanceId: 'trajectories-test', corpus: await loadCorpus(dir), trajectoryFile: file, apiKey: 's3cret' });
  t.teardown(() => app.close());
  return { app, file, get: (url) => app.inject({ url, headers: { authorization: 'Bearer s3cret' } }) };
}

const ids = (body: { trajectories: { episode_id: string }[] }) => body.trajectories.map((row) => row.episode_id);

t.test('the listing: every ended episode, newest first, with its row', async (t) => {
  const { app, get } = await server(t);
  t.equal((await app.inject('/v1/trajectories')).statusCode, 401, 'behind the key like every route');
  const res = await get('/v1/trajectories');
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.same(ids(body), ['a9', 'a8', 'a7', 'a6', 'a5', 'a4', 'a3', 'a2', 'a1', 'a0']);
  t.same([body.next_cursor, body.damaged], [null, 0]);
  t.same(body.trajectories[0], {
    episode_id: 'a9',
    task: 'dep_search',
    instance_id: 'dep_search.shapes.a9',
    status: 'terminated',
    reward: 0.25,
    steps: 2,
    duration_ms: 30_000,
    created_at: '2026-01-01T00:09:00.000Z',
    ended_at: '2026-01-01T00:09:30.000Z',
  });
  t.match(body.trajectories[2], { episode_id: 'a7', status: 'closed', reward: null }, 'an ungraded episode is listed');
});

t.test('filters: task, reward range, end time, and all of them at once', async (t) => {
  const { get } = await server(t);
  const list = async (query: string) => ids((await get(`/v1/trajectories?${query}`)).json());
  t.same(await list('task=func_localize'), ['a8', 'a5', 'a3', 'a1']);
  t.same(await list('min_reward=0.5'), ['a8', 'a6', 'a5', 'a4', 'a2'], 'an ungraded episode passes no reward bound');
  t.same(await list('max_reward=0.25'), ['a9', 'a1', 'a0']);
  t.same(await list('min_reward=0.5&max_reward=0.5'), ['a8', 'a2'], 'both ends included');
  t.same(await list('min_reward=0&max_reward=1'), ['a9', 'a8', 'a6', 'a5', 'a4', 'a2', 'a1', 'a0'], 'the whole range: the graded ones');
  t.same(await list('from=2026-01-01T00:06:30Z'), ['a9', 'a8', 'a7', 'a6'], 'ended at or after from');
  t.same(await list('to=2026-01-01T00:01:30.000Z'), ['a1', 'a0'], 'ended at or before to');
  t.same(await list('from=2026-01-01T01:02:00%2B01:00&to=2026-01-01T00:05:00Z'), ['a4', 'a3', 'a2'], 'a time zone offset is honoured');
  t.same(await list('task=dep_search&min_reward=0.25&from=2026-01-01T00:03:00Z&to=2026-01-01T00:09:00Z'), ['a6', 'a4']);
  t.same(await list('task=func_gen'), [], 'a family with no episode: none');
});

t.test('pages: limit rows at a time, the cursor going back through the log to its start', async (t) => {
  const { get } = await server(t);
  for (const [query, limit] of [
    ['', 3],
    ['&task=dep_search', 2],
    ['&min_reward=0.5', 1],
  ] as const) {
    const whole = ids((await get(`/v1/trajectories?limit=500${query}`)).json());
    const paged: string[] = [];
    let cursor: string | null = '';
    let pages = 0;
    while (cursor !== null && pages++ < 20) {
      const body: { trajectories: { episode_id: string }[]; next_cursor: string | null } = (await get(`/v1/trajectories?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`)).json();
      t.ok(body.trajectories.length <= limit, `at most ${limit} rows`);
      paged.push(...ids(body));
      cursor = body.next_cursor;
    }
    t.same(paged, whole, `pages of ${limit}${query}: the same rows as one page, in order, none twice`);
  }
  const first = (await get('/v1/trajectories?limit=9')).json();
  t.same(ids((await get(`/v1/trajectories?cursor=${first.next_cursor}`)).json()), ['a0'], 'the page after a cursor');
});

t.test('bad filters are refused with HGYM_ERR_BAD_REQUEST, on the listing and on the export', async (t) => {
  const { get, file } = await server(t);
  const offsetInsideARecord = readFileSync(file, 'utf8').indexOf('\n') - 10;
  for (const query of [
    'min_reward=high',
    'min_reward=',
    'min_reward=1.5',
    'max_reward=-0.1',
    'min_reward=0.8&max_reward=0.2',
    'from=yesterday',
    'to=2026-01-01',
    'from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z',
    'task=',
    'task=a&task=b',
    'min_rewards=0.5',
  ]) {
    for (const route of ['/v1/trajectories', '/v1/trajectories/export']) {
      const res = await get(`${route}?${query}`);
      t.same([res.statusCode, res.json().code], [400, 'HGYM_ERR_BAD_REQUEST'], `${route}?${query}`);
    }
  }
  for (const query of ['limit=0', 'limit=501', 'limit=2.5', 'limit=ten', 'cursor=-1', 'cursor=abc', `cursor=${offsetInsideARecord}`, 'cursor=999999999']) {
    const res = await get(`/v1/trajectories?${query}`);
    t.same([res.statusCode, res.json().code], [400, 'HGYM_ERR_BAD_REQUEST'], query);
  }
  t.equal((await get('/v1/trajectories?limit=1&min_reward=1&max_reward=1.0')).statusCode, 200, 'the same filters, well formed, pass');
});

t.test('one record by id, read from the log', async (t) => {
  const { get } = await server(t);
  const res = await get('/v1/trajectories/a4');
  t.equal(res.statusCode, 200);
  t.same(res.json(), JSON.parse(JSON.stringify(LOGGED[4])), 'the record as it was logged');
  const missing = await get('/v1/trajectories/a44');
  t.same([missing.statusCode, missing.json().code], [404, 'HGYM_ERR_NOT_FOUND'], 'an id that only starts like a logged one');
});

t.test('the export is what hgym export writes for the same records, and the other filters narrow it', async (t) => {
  const { get, file } = await server(t);
  const hgymExport = async (filter: { minReward: number; task?: string }) => {
    const out = join(dirname(file), 'sft.jsonl');
    await exportSftFile(file, out, filter, () => t.fail('no damaged line'));
    return readFileSync(out, 'utf8');
  };
  for (const [query, filter] of [
    ['', { minReward: 0 }],
    ['?min_reward=0.5', { minReward: 0.5 }],
    ['?min_reward=0.25&task=dep_search', { minReward: 0.25, task: 'dep_search' }],
  ] as const) {
    const res = await get(`/v1/trajectories/export${query}`);
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /^application\/jsonl/);
    t.match(res.headers['content-disposition'], /attachment; filename="hgym-sft\.jsonl"/);
    const expected = await hgymExport(filter);
    t.ok(expected.length > 0, 'hgym export wrote records');
    t.equal(res.body, expected, `export${query}: byte for byte`);
  }
  const narrowed = (await get('/v1/trajectories/export?max_reward=0.5&from=2026-01-01T00:02:00Z')).body.trim().split('\n').map((l) => JSON.parse(l) as { episode_id: string; messages: unknown[] });
  t.same(narrowed.map((r) => r.episode_id), ['a2', 'a8', 'a9'], 'in the order they ended; ungraded ones never');
  t.equal(narrowed[0]!.messages.length, 5, 'records in the SFT shape');
});

t.test('a damaged line is skipped and counted; a missing log is an empty one', async (t) => {
  const { get, file } = await server(t, LOGGED.slice(0, 3));
  const whole = readFileSync(file, 'utf8');
  writeFileSync(file, `${whole}{"episode_id":"torn","task":\n[1,2]\n${JSON.stringify(trajectory('b1', 'dep_search', 1, 20))}\n`);
  const body = (await get('/v1/trajectories')).json();
  t.same(ids(body), ['b1', 'a2', 'a1', 'a0']);
  t.equal(body.damaged, 2);
  t.equal((await get('/v1/trajectories/export')).body.trim().split('\n').length, 4, 'the export skips them too');

  const empty = await server(t, null);
  t.same((await empty.get('/v1/trajectories')).json(), { trajectories: [], next_cursor: null, damaged: 0 });
  t.same([(await empty.get('/v1/trajectories/export')).statusCode, (await empty.get('/v1/trajectories/export')).body], [200, '']);
  t.equal((await empty.get('/v1/trajectories/a1')).statusCode, 404);
});

t.test('a large log is read in pieces: the server keeps answering while a listing reads all of it', async (t) => {
  // 400 episodes of 100 KB: a filter that matches none reads every record.
  const big = Array.from({ length: 400 }, (_, i) => ({ ...trajectory(`big${i}`, 'dep_search', 1, i % 60), instruction: 'z'.repeat(100 * 1024) }));
  const { get } = await server(t, big);
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const started = performance.now();
  const [none, health] = await Promise.all([get('/v1/trajectories?task=func_gen'), (async () => {
    // Health checks interleaved with the scan are answered while it runs.
    let answered = 0;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 5));
      if ((await get('/healthz')).statusCode === 200) answered++;
    }
    return answered;
  })()]);
  const took = performance.now() - started;
  delay.disable();
  t.same(none.json().trajectories, []);
  t.equal(health, 20);
  const longest = delay.max / 1e6;
  t.ok(longest < Math.max(250, took / 4), `the longest stall (${longest.toFixed(1)} ms) is a small part of the scan (${took.toFixed(0)} ms)`);
  const newest = await get('/v1/trajectories?limit=1');
  t.same(ids(newest.json()), ['big399'], 'the newest page');
});

t.test('episodes that really ran: listed, and fetched by id after the server forgot them', async (t) => {
  const { corpus, dir, cacheDir } = await fixtureCorpus(t);
  const pool = await DockerSandboxPool.start({ warm: 1, max: 3 });
  const apps: FastifyInstance[] = [];
  t.teardown(async () => {
    for (const app of apps) await app.close();
    await pool.close();
  });
  const trajectoryFile = join(dir, 'trajectories.jsonl');
  const app = await build({ instanceId: 'trajectories-test', corpus, pool, cacheDir, trajectoryFile, maxEnded: 1 });
  apps.push(app);
  const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload });
  const episode = async (seed: number): Promise<Trajectory> => {
    const { episode_id } = (await post('/v1/episodes', { task: 'dep_search', seed })).json();
    await post(`/v1/episodes/${episode_id}/step`, { action: { tool: 'execute_bash', arguments: { command: 'echo listed' } } });
    t.equal((await post(`/v1/episodes/${episode_id}/step`, { action: { tool: 'finish', arguments: {} } })).json().terminated, true);
    return (await app.inject(`/v1/episodes/${episode_id}/trajectory`)).json();
  };
  const first = await episode(1);
  const second = await episode(2);
  t.equal((await app.inject(`/v1/episodes/${first.episode_id}`)).statusCode, 404, 'past maxEnded the server forgot the first');
  const logged = async () => ids((await app.inject('/v1/trajectories')).json());
  for (let i = 0; i < 100 && (await logged()).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  t.same(await logged(), [second.episode_id, first.episode_id]);
  const fetched = await app.inject(`/v1/trajectories/${first.episode_id}`);
  t.equal(fetched.statusCode, 200);
  t.same(fetched.json(), first, 'the forgotten episode, as the API answered it when it ended');
  t.same((await app.inject(`/v1/trajectories/${second.episode_id}`)).json(), second);

  // A log that cannot be written: an episode that just ended is still answered, from the server.
  writeFileSync(join(dir, 'not-a-dir'), '');
  const unlogged = await build({ instanceId: 'trajectories-test-2', corpus, pool, cacheDir, trajectoryFile: join(dir, 'not-a-dir', 'trajectories.jsonl') });
  apps.push(unlogged);
  const { episode_id } = (await unlogged.inject({ method: 'POST', url: '/v1/episodes', payload: { task: 'dep_search', seed: 3 } })).json();
  const running = await unlogged.inject(`/v1/trajectories/${episode_id}`);
  t.same([running.statusCode, running.json().code], [404, 'HGYM_ERR_NOT_FOUND'], 'a running episode is not an ended one');
  await unlogged.inject({ method: 'DELETE', url: `/v1/episodes/${episode_id}` });
  const closed = await unlogged.inject(`/v1/trajectories/${episode_id}`);
  t.same([closed.statusCode, closed.json().status], [200, 'closed']);
});
