/**
 * `hgym export` records rendered by every chat template TRL 1.13 ships, with transformers' own
 * renderer (test/clients/libraries/check_templates.py): each template TRL takes for tool calling
 * renders every record without an exception, with each argument encoded once, and with the
 * assistant's text, the tool results and the user messages in the output. The same check run
 * on records of the former shape (arguments a JSON string, content null) must fail.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { toSft, type SftRecord, type Trajectory } from '../../env/trajectory.js';
import { pythonVenv, TRAINER_LIBRARIES } from '../helpers/python-venv.js';
import { trlChatTemplates } from './libraries/trl-wheel.js';

const CHECK = join(import.meta.dirname, 'libraries', 'check_templates.py');

interface TemplateReport {
  template: string;
  form: 'text' | 'blocks' | 'string-arguments' | null;
  keeps_text_beside_calls?: { first_turn: boolean; later_turns: boolean; before_a_final_answer: boolean };
  problems?: Record<string, string[]>;
}

type Step = Trajectory['steps'][number];

function step(index: number, action: unknown, observation: string): Step {
  return { index, action, observation, invalid: false, started_at: '2026-01-01T00:00:00Z', duration_ms: 1 } as unknown as Step;
}

function trajectory(id: string, steps: Step[], reward: number): Trajectory {
  return {
    episode_id: id,
    task: 'func_localize',
    instance_id: `func_localize.shapes.${id}`,
    instruction: 'A function parses "ISO" dates into tuples.\nFind it and write its docstring.',
    status: 'terminated',
    steps,
    reward,
    grade: { reward, rule: 'graded' },
    created_at: '2026-01-01T00:00:00Z',
    ended_at: '2026-01-01T00:01:00Z',
  };
}

const heredoc = `python3 - <<'EOF'\nimport ast\nprint("body", 3, 4)\nEOF`;
const records: SftRecord[] = [
  // Text beside calls, a plain message answered by the nudge, quotes and newlines everywhere.
  toSft(
    trajectory('ep-text', [
      step(0, { tool: 'execute_bash', arguments: { command: 'grep -rn "def parse" /workspace/shapes' }, content: 'Let me search for the parser.' }, '/workspace/shapes/dates.py:12:def parse_iso(text):\n[exit code 0]'),
      step(1, { tool: 'execute_bash', arguments: { command: heredoc, timeout: 30 } }, 'body 12 4\n[exit code 0, cwd /workspace/shapes]'),
      step(2, { message: 'I think I found it.' }, 'No tool was called. Keep working on the task with the tools; when you are done, call finish.'),
      step(3, { tool: 'think', arguments: { thought: 'Insert after line 12, indented by 4.' } }, 'Your thought has been logged.'),
      step(4, { tool: 'str_replace_editor', arguments: { command: 'insert', path: '/workspace/shapes/dates.py', insert_line: 12, new_str: '    """Parse an ISO date."""' }, content: 'Writing the docstring now.' }, 'The file /workspace/shapes/dates.py has been edited.'),
      step(5, { tool: 'finish', arguments: { message: 'Documented parse_iso.' }, content: 'Done: the docstring is in place.' }, 'The episode is finished.'),
    ], 1),
  ),
  // Tool calls only, no text anywhere, an unknown tool, truncated without finish.
  toSft(
    trajectory('ep-bare', [
      step(0, { tool: 'str_replace_editor', arguments: { command: 'view', path: '/workspace/shapes', view_range: [1, 20] } }, 'Here are the files in /workspace/shapes:\nshapes/\nshapes/dates.py'),
      step(1, { tool: 'search_web', arguments: { query: 'iso dates' } }, 'there is no tool named "search_web". The tools are: execute_bash, str_replace_editor, think, finish.'),
      step(2, { tool: 'execute_bash', arguments: { command: 'ls' } }, 'dates.py\n[exit code 0]'),
    ], 0),
  ),
];

/** The former export shape: arguments a JSON string, no text beside a call (null), no tool name. */
function formerShape(record: SftRecord): unknown {
  return {
    ...record,
    messages: record.messages.map((m) => {
      if (m.role === 'tool') return { role: m.role, tool_call_id: m.tool_call_id, content: m.content };
      if (m.role !== 'assistant' || !m.tool_calls) return m;
      return { ...m, content: null, tool_calls: m.tool_calls.map((c) => ({ ...c, function: { ...c.function, arguments: JSON.stringify(c.function.arguments) } })) };
    }),
  };
}

const python = pythonVenv(TRAINER_LIBRARIES);
const templates = trlChatTemplates();
const shipped = readdirSync(templates).filter((f) => f.endsWith('.jinja')).map((f) => f.replace(/\.jinja$/, '')).sort();

function check(t: Test, rows: unknown[]): Map<string, TemplateReport> {
  const file = join(t.testdir({}), 'records.jsonl');
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const result = spawnSync(python, [CHECK, templates, file], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  t.equal(result.status, 0, 'check_templates.py ran', { stderr: (result.stderr ?? '').slice(-3000) });
  const report = JSON.parse(result.stdout) as { records: number; templates: TemplateReport[] };
  t.equal(report.records, rows.length, 'every record was read');
  return new Map(report.templates.map((r) => [r.template, r]));
}

t.test('every chat template TRL ships renders the export', async (t) => {
  t.ok(shipped.length >= 40, `the wheel's templates are found (${shipped.length})`);
  const report = check(t, records);
  t.same([...report.keys()].sort(), shipped, 'every template in the wheel is tried');

  for (const name of ['qwen2_5', 'qwen3', 'qwen3_5_think', 'qwen3_5_nothink', 'llama3_1', 'gptoss', 'glm4moe']) {
    t.equal(report.get(name)?.form, 'text', `${name} takes tool calls, as TRL tests it`);
  }
  const rendering = [...report.values()].filter((r) => r.form === 'text' || r.form === 'blocks');
  t.ok(rendering.length >= 30, `${rendering.length} templates render tool calls`);
  for (const r of rendering) t.same(r.problems, {}, `${r.template}: renders every record, arguments once, text and results shown`);

  // DeepSeek-V3's own template concatenates the arguments as a string (TRL tests it that way
  // as a fallback); the training template TRL ships for it takes them as an object.
  t.equal(report.get('deepseekv3')?.form, 'string-arguments');
  t.same(report.get('deepseekv3_training')?.problems, {});
  // Some templates drop the text beside a tool call in places, by their own design; say which.
  const dropping = rendering.filter((r) => Object.values(r.keeps_text_beside_calls ?? {}).includes(false));
  t.comment(`drop the text beside tool calls in places: ${dropping.map((r) => `${r.template} ${JSON.stringify(r.keeps_text_beside_calls)}`).join('; ')}`);
  t.comment(`no tool calling (TRL refuses them for tools): ${[...report.values()].filter((r) => r.form === null).map((r) => r.template).join(', ')}`);
});

t.test('records of the former shape fail the same check', async (t) => {
  const report = check(t, records.map(formerShape));
  t.match(report.get('qwen2_5')?.problems?.['ep-text'], [/double-encoded/], 'qwen2.5 double-encodes string arguments');
  for (const name of ['qwen3_5_think', 'gptoss', 'glm4moe']) {
    t.match(report.get(name)?.problems?.['ep-text'], [/Error/], `${name} raises on string arguments or null content`);
  }
});
