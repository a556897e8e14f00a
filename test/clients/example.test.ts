/**
 * examples/rejection_sampling.py run for real: a live hgym server with real sandboxes, and a
 * scripted chat-completions server on loopback standing in for the model (the script talks to
 * it through the openai SDK). On one func_localize instance the script solves it (finds each
 * target with execute_bash, writes the gold docstring with str_replace_editor, calls finish);
 * on another it finishes at once. The SFT file must hold exactly the solved episodes, in the
 * server's export shape (the shape chat templates render), with every tool call answered by a
 * tool message carrying its id, and the model's text beside its calls kept. Sampling
 * parameters reach the model only when given.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { TOOL_DEFINITIONS } from '../../env/tools/toolbox.js';
import type { FuncLocalizeInstance } from '../../schemas/tasks.js';
import { docstringLiteral } from '../helpers/gold.js';
import { pythonVenv, TRAINER_LIBRARIES } from '../helpers/python-venv.js';
import { goldFuncLocalize, liveServers, run } from './live-server.js';

const ROOT = join(import.meta.dirname, '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'rejection_sampling.py');

interface ToolCall<Arguments = string> {
  id: string;
  type: 'function';
  function: { name: string; arguments: Arguments };
}
interface Message<Arguments = string> {
  role: string;
  content?: string | null;
  tool_calls?: ToolCall<Arguments>[];
  tool_call_id?: string;
  name?: string;
}

const LOOK_FIRST = 'Let me find the function first.';

let callCounter = 0;
const call = (name: string, args: Record<string, unknown>): ToolCall => ({
  id: `call_scripted_${++callCounter}`,
  type: 'function',
  function: { name, arguments: JSON.stringify(args) },
});

/** The bash command that prints where a function's body starts: `<line before> <indent>`. */
function locate(path: string, defLine: number): string {
  const py = [
    'import ast',
    `src = open(${JSON.stringify(path)}).read()`,
    `n = [n for n in ast.walk(ast.parse(src)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.lineno == ${defLine}][0]`,
    'print(n.body[0].lineno - 1, n.body[0].col_offset)',
  ].join('\n');
  return `python3 - <<'EOF'\n${py}\nEOF`;
}

/**
 * The scripted model's next reply for a conversation. Turn k (k assistant messages so far):
 * the solver locates target k/2 (with a `think` beside the first call, so one reply carries
 * two tool calls), inserts its docstring at odd turns, finishes after the last target.
 */
function reply(messages: Message[], solvable: FuncLocalizeInstance, root: string): Message {
  const instruction = messages.find((m) => m.role === 'user')?.content;
  const finish = { role: 'assistant', content: 'Done.', tool_calls: [call('finish', { message: 'done' })] };
  if (instruction !== solvable.instruction) return finish;
  const targets = [...solvable.gold.targets].sort((a, b) => (a.file === b.file ? b.line - a.line : a.file < b.file ? -1 : 1));
  const turn = messages.filter((m) => m.role === 'assistant').length;
  const target = targets[Math.floor(turn / 2)];
  if (!target) return finish;
  const path = `${root}/${target.file}`;
  if (turn % 2 === 0) {
    const calls = [call('execute_bash', { command: locate(path, target.line) })];
    if (turn === 0) calls.unshift(call('think', { thought: 'find the function first' }));
    return { role: 'assistant', content: turn === 0 ? LOOK_FIRST : null, tool_calls: calls };
  }
  const where = /^(\d+) (\d+)$/m.exec(String(messages[messages.length - 1]?.content));
  if (!where) return { role: 'assistant', content: 'I could not find it.' };
  const newStr = docstringLiteral(target.docstring, ' '.repeat(Number(where[2])));
  return { role: 'assistant', content: null, tool_calls: [call('str_replace_editor', { command: 'insert', path, insert_line: Number(where[1]), new_str: newStr })] };
}

/** What a chat-completions API refuses: a tool call left unanswered, or an answer to no call. */
function bookkeepingProblem(messages: Message<unknown>[]): string | null {
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (m.role === 'tool') return `message ${i}: a tool message that answers no call`;
    for (const [k, c] of (m.tool_calls ?? []).entries()) {
      const answer = messages[i + 1 + k];
      if (answer?.role !== 'tool' || answer.tool_call_id !== c.id) return `message ${i}: tool call ${c.id} is not answered next`;
    }
    i += m.tool_calls?.length ?? 0;
  }
  return null;
}

// The openai SDK the example uses is in the trainer libraries' venv.
const python = pythonVenv(TRAINER_LIBRARIES);
const servers = await liveServers(t, { warm: 2, max: 8 });
const { instance: solvable } = goldFuncLocalize(servers.instances);
const failing = servers.instances.find((i): i is FuncLocalizeInstance => i.task === 'func_localize' && i.instruction !== solvable.instruction)!;
const root = `/workspace/${solvable.repo.name}`;

interface ModelRequest {
  messages: Message[];
  tools: { function: { name: string } }[];
  model: string;
  authorization?: string;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
}
const requests: ModelRequest[] = [];
const problems: string[] = [];
const model = createServer((req: IncomingMessage, res: ServerResponse) => {
  let raw = '';
  req.on('data', (d: Buffer) => (raw += String(d)));
  req.on('end', () => {
    const answer = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return answer(404, { error: { message: `no route ${req.method} ${req.url}` } });
    const body = JSON.parse(raw) as (typeof requests)[number];
    requests.push({ ...body, authorization: req.headers.authorization });
    const problem = bookkeepingProblem(body.messages);
    if (problem) {
      problems.push(problem);
      return answer(400, { error: { message: problem, type: 'invalid_request_error' } });
    }
    const message = reply(body.messages, solvable, root);
    return answer(200, {
      id: `chatcmpl-${requests.length}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [{ index: 0, message, finish_reason: message.tool_calls ? 'tool_calls' : 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    });
  });
});
await new Promise<void>((resolve) => model.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => model.close(() => resolve())));
const modelUrl = `http://127.0.0.1:${(model.address() as { port: number }).port}/v1`;

function runExample(out: string, extra: string[]) {
  const args = [
    EXAMPLE,
    ...['--base-url', modelUrl, '--model', 'scripted', '--api-key', 'model-key', '--server', servers.url],
    ...['--task', 'func_localize', '--max-steps', '12', '--threshold', '1', '--out', out],
    ...extra,
  ];
  const { HGYM_API_KEY: _unused, OPENAI_API_KEY: _unusedKey, ...inherited } = process.env;
  return run(python, args, { cwd: ROOT, timeoutMs: 120_000, env: { ...inherited, PYTHONDONTWRITEBYTECODE: '1' } });
}

t.test('the example keeps the solved episodes and drops the failed ones', async (t) => {
  const out = join(servers.corpusDir, '..', 'out', 'sft.jsonl');
  const episodes = 4;
  // Episodes take the instances in turn: solvable, failing, solvable, failing.
  const instances = ['--instance-id', solvable.instance_id, '--instance-id', failing.instance_id];
  const result = await runExample(out, [...instances, '--episodes', String(episodes), '--concurrency', '4']);
  if (result.code !== 0) t.comment(result.stderr.slice(-4000));
  t.notOk(result.timedOut, 'finished within its time limit');
  t.equal(result.code, 0, 'exit status 0');
  t.same(problems, [], 'every tool call was answered by its id, in order');

  const summary = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  t.match(summary, { episodes, graded: episodes, kept: 2, errors: 0, ungraded: 0, mean_reward: 0.5 });

  const records = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(records.length, 2, 'exactly the solved episodes');
  for (const record of records) {
    t.same(Object.keys(record), ['messages', 'tools', 'reward', 'grade', 'task', 'instance_id', 'episode_id'], 'the shape of the server export');
    t.same([record.instance_id, record.task, record.reward], [solvable.instance_id, 'func_localize', 1]);
    t.match(record.grade, { rule: String }, 'the grade the server gave');
    t.same(record.tools, TOOL_DEFINITIONS, 'the tools the model was given: GET /v1/tools');
    const messages = record.messages as Message<Record<string, unknown>>[];
    t.same(messages[0], { role: 'user', content: solvable.instruction });
    t.equal(bookkeepingProblem(messages), null);
    t.ok(messages.every((m) => typeof m.content === 'string'), 'every content is a string, never null');
    const calls = messages.flatMap((m) => m.tool_calls ?? []);
    t.ok(calls.every((c) => typeof c.function.arguments === 'object' && c.function.arguments !== null), 'arguments are objects');
    t.match(messages[1], { role: 'assistant', content: LOOK_FIRST, tool_calls: [{ function: { name: 'think', arguments: { thought: 'find the function first' } } }] }, 'the text beside the calls is kept');
    t.match(messages[2], { role: 'tool', name: 'think' }, 'a tool message names its tool');
    const names = calls.map((c) => c.function.name);
    t.same(names, ['think', 'execute_bash', ...Array(solvable.gold.targets.length * 2 - 1).fill(null).map((_, i) => (i % 2 === 0 ? 'str_replace_editor' : 'execute_bash')), 'finish']);
    t.equal(messages.length, 1 + names.length + (names.length - 1), 'one tool message per call, after each assistant turn');
    t.match(messages[messages.length - 1], { role: 'tool', name: 'finish' });

    // The text went over the wire with the first call of its reply: the server's trajectory has it.
    const trajectory = (await (await fetch(`${servers.url}/v1/episodes/${String(record.episode_id)}/trajectory`)).json()) as { steps: { action: Record<string, unknown> }[] };
    t.same(trajectory.steps[0]?.action, { tool: 'think', arguments: { thought: 'find the function first' }, content: LOOK_FIRST });
    t.notOk('content' in (trajectory.steps[1]?.action ?? {}), 'the second call of the reply carries no text');
  }

  t.ok(requests.every((r) => r.model === 'scripted' && r.authorization === 'Bearer model-key'), 'the model name and key are sent');
  t.ok(requests.every((r) => !('temperature' in r) && !('top_p' in r) && !('max_tokens' in r)), 'no sampling parameter is sent unless given');
  t.same(new Set(requests[0]!.tools.map((x) => x.function.name)), new Set(['execute_bash', 'str_replace_editor', 'think', 'finish']));
  const perSolved = 2 * solvable.gold.targets.length + 1;
  t.equal(requests.length, 2 * perSolved + 2, 'model turns: each solve takes its steps, each failure one');
});

t.test('sampling parameters are sent when given', async (t) => {
  const before = requests.length;
  const out = join(servers.corpusDir, '..', 'out', 'sampled.jsonl');
  const result = await runExample(out, ['--instance-id', failing.instance_id, '--episodes', '1', '--temperature', '0.3', '--top-p', '0.9', '--max-tokens', '256']);
  t.equal(result.code, 0, 'exit status 0', { stderr: result.stderr.slice(-2000) });
  const sent = requests.slice(before);
  t.equal(sent.length, 1, 'one model turn: the failing instance is finished at once');
  t.match(sent[0], { temperature: 0.3, top_p: 0.9, max_tokens: 256 });
});
