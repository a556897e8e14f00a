/**
 * A real listening server on loopback: a whole episode over WebSocket with the gold answer,
 * structured logs carrying the episode and container ids, and a graceful shutdown that
 * leaves no container behind.
 */
import { Writable } from 'node:stream';
import t from 'tap';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';
import { HgymClient, HgymSocket, toolCall, type OutputChunk } from '../../clients/ts/index.js';
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
const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

t.test('a whole dep_search episode over a real WebSocket scores 1', async (t) => {
  await using socket = await HgymSocket.connect({ url });
  const reset = await socket.reset({ instance_id: instance.instance_id });
  const episode_id = reset.episode_id;
  const streamed: OutputChunk[] = [];
  await socket.step(episode_id, toolCall('execute_bash', { command: 'pwd; sleep 0.2; ls' }), { onOutput: (chunk) => streamed.push(chunk) });
  t.ok(streamed.length > 0, 'output was streamed');
  const deps = [...instance.gold.dependencies].sort((a, b) => (a.file === b.file ? b.start - a.start : a.file < b.file ? -1 : 1));
  for (const d of deps) {
    const indentOut = await socket.step(episode_id, toolCall('execute_bash', { command: `sed -n '${d.start}p' ${d.file} | sed -E 's/^( *).*/\\1|/'` }));
    const indent = indentOut.observation.text.split('|')[0];
    await socket.step(episode_id, toolCall('str_replace_editor', { command: 'insert', path: `/workspace/shapes/${d.file}`, insert_line: d.start - 1, new_str: `${indent}${instance.gold.comment}` }));
  }
  const done = await socket.step(episode_id, toolCall('finish', {}));
  t.same([done.terminated, done.reward], [true, 1], JSON.stringify(done.info));
  const lines = logLines.filter((l) => l.episode_id === episode_id);
  t.ok(lines.some((l) => l.msg === 'episode started' && typeof l.container_id === 'string'), 'logs carry the episode and container ids');
  t.ok(lines.some((l) => l.msg === 'episode ended' && l.reward === 1));
});

t.test('graceful shutdown closes open episodes and leaves no container', async (t) => {
  const { episode_id } = await new HgymClient({ url }).reset({ task: 'dep_search' });
  t.ok(episode_id, 'an episode is open');
  await app.close();
  await pool.close();
  t.same(await ownedBy(pool.owner.id), []);
});
