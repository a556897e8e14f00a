import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { exportSft, persistTrajectory, readTrajectories, toSft, type Trajectory } from '../../env/trajectory.js';
import { exportCommand } from '../../bin/export.js';

function trajectory(id: string, task: string, reward: number | null): Trajectory {
  return {
    episode_id: id,
    task,
    instance_id: `${task}.x.${id}`,
    instruction: 'Do the thing.',
    status: reward === null ? 'closed' : 'terminated',
    steps: [
      { index: 0, action: { tool: 'execute_bash', arguments: { command: 'ls' } }, observation: 'a.py', invalid: false, startedAt: '2026-01-01T00:00:00Z', durationMs: 1 },
      { index: 1, action: { message: 'thinking out loud' }, observation: 'No tool was called.', invalid: true, startedAt: '2026-01-01T00:00:01Z', durationMs: 0 },
      { index: 2, action: { tool: 'finish', arguments: {} }, observation: 'The episode is finished.', invalid: false, startedAt: '2026-01-01T00:00:02Z', durationMs: 0 },
    ],
    reward,
    grade: reward === null ? null : { rule: 'graded' },
    created_at: '2026-01-01T00:00:00Z',
    ended_at: '2026-01-01T00:00:03Z',
  };
}

t.test('an episode becomes a conversation with OpenAI-shaped tool calls', async (t) => {
  const sft = toSft(trajectory('1', 'dep_search', 1));
  t.same(sft.messages.map((m) => m.role), ['user', 'assistant', 'tool', 'assistant', 'user', 'assistant', 'tool']);
  const call = sft.messages[1] as { tool_calls: { id: string; type: string; function: { name: string; arguments: string } }[] };
  t.same(call.tool_calls[0], { id: 'call_0', type: 'function', function: { name: 'execute_bash', arguments: '{"command":"ls"}' } });
  t.same(sft.messages[2], { role: 'tool', tool_call_id: 'call_0', content: 'a.py' });
  t.same(sft.messages[3], { role: 'assistant', content: 'thinking out loud' });
  t.same([sft.reward, sft.task, sft.instance_id, sft.tools.length], [1, 'dep_search', 'dep_search.x.1', 4]);
});

t.test('export keeps graded episodes at or above the reward, of the task asked for', async (t) => {
  const all = [trajectory('1', 'dep_search', 1), trajectory('2', 'dep_search', 0.4), trajectory('3', 'func_localize', 1), trajectory('4', 'dep_search', null)];
  t.same(exportSft(all, { minReward: 0.5 }).map((r) => r.instance_id), ['dep_search.x.1', 'func_localize.x.3']);
  t.same(exportSft(all, { minReward: 0.5, task: 'dep_search' }).map((r) => r.instance_id), ['dep_search.x.1']);
  t.same(exportSft(all, { minReward: 0 }).length, 3, 'an ungraded (closed) episode is never exported');
});

t.test('persisted trajectories round-trip, and hgym export writes the filtered file', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'trajectories.jsonl');
  for (const tr of [trajectory('1', 'dep_search', 1), trajectory('2', 'dep_search', 0)]) await persistTrajectory(file, tr);
  t.equal((await readTrajectories(file)).length, 2);
  const out = join(dir, 'sft.jsonl');
  t.capture(process.stderr, 'write');
  t.equal(await exportCommand(['--min-reward', '1', '--out', out], file), 0);
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.same(lines.map((l) => l.instance_id), ['dep_search.x.1']);
  t.equal(await exportCommand(['--out', out], file), 2, 'min-reward is required');
});
