/**
 * A real listening server on loopback: a whole episode over WebSocket with the gold answer,
 * structured logs carrying the episode and container ids, and a graceful shutdown that
 * leaves no container behind.
 */
import { Writable } from 'node:stream';
import t from 'tap';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';
import { WebSocket } from 'ws';
import { DockerSandboxPool } from '../../docker/pool.js';
import { build } from '../../server/app.js';
import type { DepSearchInstance } from '../../schemas/tasks.js';
import { ownedBy } from '../helpers/docker.js';

const { corpus, instances, cacheDir } = await fixtureCorpus(t);
const instance = instances.find((i): i is DepSearchInstance => i.task === 'dep_search' && i.gold.dependencies.length >= 2) ?? instances.find((i): i is DepSearchInstance => i.task === 'dep_search')!;

const logLines: Record<string, unknown>[] = [];
const stream = new Writable({
  write(chunk, _enc, cb) {
    for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
    cb();
  },
});
const pool = await DockerSandboxPool.start({ warm: 1, max: 4 });
const app = await build({ instanceId: pool.owner.id, corpus, pool, cacheDir, logger: { level: 'info', stream } });
await app.listen({ host: '127.0.0.1', port: 0 });
const port = (app.server.address() as { port: number }).port;

t.test('a whole dep_search episode over a real WebSocket scores 1', async (t) => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  t.teardown(() => ws.close());
  const frames: Record<string, unknown>[] = [];
  let next = 0;
  const waiting = new Map<number, (f: Record<string, unknown>) => void>();
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Record<string, unknown>;
    frames.push(frame);
    if (frame.type !== 'output') waiting.get(frame.id as number)?.(frame);
  });
  const request = (frame: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(frame)}`)), 30_000);
      waiting.set(id, (f) => (clearTimeout(timer), resolve(f)));
      ws.send(JSON.stringify({ ...frame, id }));
    });
  const reset = await request({ type: 'reset', instance_id: instance.instance_id });
  const episode_id = reset.episode_id;
  t.equal(reset.type, 'reset_result');
  const stepFrame = await request({ type: 'step', episode_id, action: { tool: 'execute_bash', arguments: { command: 'pwd; sleep 0.2; ls' } } });
  t.ok(frames.some((f) => f.type === 'output' && f.id === stepFrame.id), 'output was streamed');
  const deps = [...instance.gold.dependencies].sort((a, b) => (a.file === b.file ? b.start - a.start : a.file < b.file ? -1 : 1));
  for (const d of deps) {
    const indentOut = await request({ type: 'step', episode_id, action: { tool: 'execute_bash', arguments: { command: `sed -n '${d.start}p' ${d.file} | sed -E 's/^( *).*/\\1|/'` } } });
    const indent = String((indentOut.observation as { text: string }).text).split('|')[0];
    await request({ type: 'step', episode_id, action: { tool: 'str_replace_editor', arguments: { command: 'insert', path: `/workspace/shapes/${d.file}`, insert_line: d.start - 1, new_str: `${indent}${instance.gold.comment}` } } });
  }
  const done = await request({ type: 'step', episode_id, action: { tool: 'finish', arguments: {} } });
  t.same([done.type, done.terminated, done.reward], ['step_result', true, 1], JSON.stringify(done.info));
  const lines = logLines.filter((l) => l.episode_id === episode_id);
  t.ok(lines.some((l) => l.msg === 'episode started' && typeof l.container_id === 'string'), 'logs carry the episode and container ids');
  t.ok(lines.some((l) => l.msg === 'episode ended' && l.reward === 1));
});

t.test('graceful shutdown closes open episodes and leaves no container', async (t) => {
  const res = await fetch(`http://127.0.0.1:${port}/v1/episodes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ task: 'dep_search' }) });
  t.equal(res.status, 201);
  await app.close();
  await pool.close();
  t.same(await ownedBy(pool.owner.id), []);
});
