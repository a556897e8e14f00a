/** The trajectory log's one writer: whole lines under concurrent large appends, flushed on close. */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { TrajectoryLog } from '../../env/trajectory-log.js';
import { readTrajectories, type Trajectory } from '../../env/trajectory.js';
import type { DamagedLine } from '../../env/jsonl.js';

/** A closed episode whose record is about `size` bytes long, as a long agent session makes. */
function trajectory(id: string, size = 100): Trajectory {
  return {
    episode_id: id,
    task: 'dep_search',
    instance_id: `dep_search.x.${id}`,
    instruction: 'Do the thing.',
    status: 'closed',
    steps: [{ index: 0, action: { tool: 'execute_bash', arguments: { command: 'cat big' } }, observation: id.slice(0, 1).repeat(size), invalid: false, started_at: '2026-01-01T00:00:00Z', duration_ms: 1 }],
    reward: null,
    grade: null,
    created_at: '2026-01-01T00:00:00Z',
    ended_at: '2026-01-01T00:00:01Z',
  };
}

/** Every line of the file, and the episode ids of those that parse. */
function lines(file: string): { count: number; ids: string[] } {
  const all = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const ids: string[] = [];
  for (const line of all) {
    try {
      ids.push((JSON.parse(line) as Trajectory).episode_id);
    } catch {
      // counted as unparseable below
    }
  }
  return { count: all.length, ids };
}

const MB = 1024 * 1024;
const ids = (n: number, prefix = '') => Array.from({ length: n }, (_, i) => `${prefix}${String.fromCharCode(97 + (i % 26))}${i}`);

t.test('16 concurrent appends of 1.5 MB records leave 16 whole lines', async (t) => {
  const file = join(t.testdir({}), 'trajectories', 'trajectories.jsonl');
  const log = TrajectoryLog.open(file);
  await Promise.all(ids(16).map((id) => log.append(trajectory(id, 1.5 * MB))));
  await log.close();
  const { count, ids: parsed } = lines(file);
  t.equal(count, 16);
  t.same(parsed.sort(), ids(16).sort(), 'every line parses, each record once');
});

t.test('two servers of one process on one file share its writer', async (t) => {
  const file = join(t.testdir({}), 'trajectories.jsonl');
  const a = TrajectoryLog.open(file);
  const b = TrajectoryLog.open(join(file, '..', '.', 'trajectories.jsonl'));
  await Promise.all([...ids(4, 'a').map((id) => a.append(trajectory(id, MB))), ...ids(4, 'b').map((id) => b.append(trajectory(id, MB)))]);
  await a.close();
  t.equal(lines(file).ids.length, 8);
  await b.append(trajectory('after-a-closed'));
  await b.close();
  t.same([lines(file).count, lines(file).ids.length], [9, 9], 'the other holder still writes after one closes');
});

t.test('close writes every queued record, then refuses appends', async (t) => {
  const file = join(t.testdir({}), 'trajectories.jsonl');
  const log = TrajectoryLog.open(file);
  t.notOk(existsSync(file), 'nothing is created before the first record');
  const pending = ids(8).map((id) => log.append(trajectory(id, 256 * 1024)));
  await log.close();
  t.equal(lines(file).ids.length, 8, 'close waited for the queue');
  await Promise.all(pending);
  await t.rejects(log.append(trajectory('late')), { code: 'ERR_TRAJECTORY_LOG_CLOSED' });
  await log.close();
  t.pass('close is idempotent');
});

t.test('a record torn by an earlier writer stays a line of its own', async (t) => {
  const file = join(t.testdir({}), 'trajectories.jsonl');
  appendFileSync(file, `${JSON.stringify(trajectory('whole'))}\n{"episode_id":"torn","st`);
  const log = TrajectoryLog.open(file);
  await log.append(trajectory('next'));
  await log.close();
  const damaged: DamagedLine[] = [];
  const read: string[] = [];
  for await (const tr of readTrajectories(file, (d) => damaged.push(d))) read.push(tr.episode_id);
  t.same(read, ['whole', 'next']);
  t.same(damaged.map((d) => d.line), [2]);
});
