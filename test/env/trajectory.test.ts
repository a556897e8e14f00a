import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { exportSft, readTrajectories, toSft, type Trajectory } from '../../env/trajectory.js';
import { TrajectoryLog } from '../../env/trajectory-log.js';
import { TOOL_DEFINITIONS } from '../../env/tools/toolbox.js';
import type { DamagedLine } from '../../env/jsonl.js';
import { exportCommand, exportSftFile } from '../../bin/export.js';

function trajectory(id: string, task: string, reward: number | null): Trajectory {
  return {
    episode_id: id,
    task,
    instance_id: `${task}.x.${id}`,
    instruction: 'Do the thing.',
    status: reward === null ? 'closed' : 'terminated',
    steps: [
      { index: 0, action: { tool: 'execute_bash', arguments: { command: 'ls' }, content: 'Let me look first.' }, observation: 'a.py', invalid: false, started_at: '2026-01-01T00:00:00Z', duration_ms: 1 },
      { index: 1, action: { message: 'thinking out loud' }, observation: 'No tool was called.', invalid: true, started_at: '2026-01-01T00:00:01Z', duration_ms: 0 },
      { index: 2, action: { tool: 'finish', arguments: {} }, observation: 'The episode is finished.', invalid: false, started_at: '2026-01-01T00:00:02Z', duration_ms: 0 },
    ],
    reward,
    grade: reward === null ? null : { rule: 'graded' },
    created_at: '2026-01-01T00:00:00Z',
    ended_at: '2026-01-01T00:00:03Z',
  };
}

t.test('an episode becomes a conversation in the shape chat templates render', async (t) => {
  const sft = toSft(trajectory('1', 'dep_search', 1));
  t.same(sft.messages.map((m) => m.role), ['user', 'assistant', 'tool', 'assistant', 'user', 'assistant', 'tool']);
  t.same(sft.messages[1], {
    role: 'assistant',
    content: 'Let me look first.',
    tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'execute_bash', arguments: { command: 'ls' } } }],
  }, 'arguments an object, the text sent beside the call kept');
  t.same(sft.messages[2], { role: 'tool', tool_call_id: 'call_0', name: 'execute_bash', content: 'a.py' });
  t.same(sft.messages[3], { role: 'assistant', content: 'thinking out loud' });
  t.same(sft.messages[4], { role: 'user', content: 'No tool was called.' });
  t.same(sft.messages[5], {
    role: 'assistant',
    content: '',
    tool_calls: [{ id: 'call_2', type: 'function', function: { name: 'finish', arguments: {} } }],
  }, 'no text beside a call is an empty string, never null');
  t.same(sft.messages[6], { role: 'tool', tool_call_id: 'call_2', name: 'finish', content: 'The episode is finished.' });
  const { messages: _messages, tools, ...rest } = sft;
  t.equal(tools, TOOL_DEFINITIONS, 'the tools the model was given');
  t.same(rest, { reward: 1, grade: { rule: 'graded' }, task: 'dep_search', instance_id: 'dep_search.x.1', episode_id: '1' });
  t.same(Object.keys(sft), ['messages', 'tools', 'reward', 'grade', 'task', 'instance_id', 'episode_id']);
});

t.test('a tool call without arguments is called with an empty object', async (t) => {
  const bare = { ...trajectory('1', 'dep_search', 1), steps: [{ ...trajectory('1', 'dep_search', 1).steps[2]!, index: 0, action: { tool: 'finish' } }] };
  t.same(toSft(bare).messages[1], { role: 'assistant', content: '', tool_calls: [{ id: 'call_0', type: 'function', function: { name: 'finish', arguments: {} } }] });
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
  const log = TrajectoryLog.open(file);
  for (const tr of [trajectory('1', 'dep_search', 1), trajectory('2', 'dep_search', 0)]) await log.append(tr);
  await log.close();
  const read: Trajectory[] = [];
  for await (const tr of readTrajectories(file, () => t.fail('no damaged line'))) read.push(tr);
  t.same(read, [trajectory('1', 'dep_search', 1), trajectory('2', 'dep_search', 0)]);
  const out = join(dir, 'sft.jsonl');
  t.capture(process.stderr, 'write');
  t.equal(await exportCommand(['--min-reward', '1', '--out', out], file), 0);
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.same(lines.map((l) => l.instance_id), ['dep_search.x.1']);
  t.equal(await exportCommand(['--out', out], file), 2, 'min-reward is required');
});

t.test('export skips a damaged line, reports its number, and writes the rest', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'trajectories.jsonl');
  const whole = (id: string) => JSON.stringify(trajectory(id, 'dep_search', 1));
  // A torn record, a line of JSON that is no trajectory, and a blank line, between whole ones.
  const torn = whole('torn').slice(0, 200);
  writeFileSync(file, [whole('1'), torn, whole('3'), '{"episode_id":"4"}', '', whole('6')].join('\n') + '\n');
  const out = join(dir, 'sft.jsonl');
  const reported: DamagedLine[] = [];
  const result = await exportSftFile(file, out, { minReward: 0 }, (d) => reported.push(d));
  t.same([result.read, result.written], [3, 3]);
  t.same(result.damaged.map((d) => d.line), [2, 4]);
  t.same(reported, result.damaged, 'each damaged line is reported as it is met');
  t.same(readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).instance_id), ['dep_search.x.1', 'dep_search.x.3', 'dep_search.x.6']);

  const stderr = t.capture(process.stderr, 'write');
  t.equal(await exportCommand(['--min-reward', '0', '--out', out, '--from', file], file), 0, 'damaged lines do not fail the export');
  const report = stderr().map((c) => String(c.args[0]));
  t.equal(report.length, 3, 'one report per damaged line, then the summary');
  t.match(report[0], /\bline 2\b/);
  t.match(report[1], /\bline 4\b/);
});

t.test('a line of a log written before the wire went snake_case (startedAt, durationMs) is read as today', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'trajectories.jsonl');
  const today = trajectory('1', 'dep_search', 1);
  t.ok(today.steps.length > 0, 'the trajectory has steps to rename');
  const legacy = {
    ...today,
    steps: today.steps.map(({ started_at, duration_ms, ...rest }) => ({ ...rest, startedAt: started_at, durationMs: duration_ms })),
  };
  writeFileSync(file, `${JSON.stringify(legacy)}\n${JSON.stringify({ ...legacy, steps: [{ index: 0 }] })}\n`);
  const read: Trajectory[] = [];
  const damaged: DamagedLine[] = [];
  for await (const tr of readTrajectories(file, (d) => damaged.push(d))) read.push(tr);
  t.same(read, [today]);
  t.same(damaged.map((d) => d.line), [2], 'a step missing its fields is still damaged');
});
